//! Pages for the people at the centre, and the same data as JSON. Server-rendered HTML (maud
//! escapes everything it is given), no script.
//!
//! Access: a session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind TLS) made fresh at
//! every login, so a cookie planted before login is worthless (no session fixation); every
//! form carries the session's CSRF token (the login form a pre-session one, double-submitted);
//! wrong passwords are limited per login and address; every login is in the audit log. A
//! supervisor sees the progress of their districts only — counts, never an answer; another
//! district's page answers 404, as if it did not exist.

use axum::{
    extract::{ConnectInfo, Form, Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
    Json, Router,
};
use chrono::Utc;
use maud::{html, Markup, DOCTYPE};
use std::{net::SocketAddr, sync::Arc};

use crate::{
    accounts::{self, Account},
    error::IntakeError,
    progress::Report,
    service::Intake,
};

const SESSION_COOKIE: &str = "fp_session";
const LOGIN_CSRF_COOKIE: &str = "fp_login_csrf";

pub fn routes() -> Router<Arc<Intake>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/progress") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/progress", get(progress_page))
        .route("/progress/district/{id}", get(district_page))
        .route("/api/progress", get(progress_json))
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

fn set_cookie(intake: &Intake, name: &str, value: &str, max_age: i64) -> String {
    let secure = if intake.secure_cookies { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// Who is asking: the account behind a live session cookie, with the session's CSRF token.
struct Visitor {
    account: Account,
    csrf: String,
}

async fn visitor(intake: &Arc<Intake>, headers: &HeaderMap) -> Result<Option<Visitor>, IntakeError> {
    let Some(token) = cookie(headers, SESSION_COOKIE).map(String::from) else { return Ok(None) };
    let intake = intake.clone();
    let found = tokio::task::spawn_blocking(move || intake.store.session(&accounts::token_hash(&token), Utc::now()))
        .await
        .map_err(|e| IntakeError::BadRequest(e.to_string()))??;
    Ok(found.map(|(account, csrf)| Visitor { account, csrf }))
}

fn page(title: &str, who: Option<&Visitor>, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="vi" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " — Fieldpost" }
                    style { (maud::PreEscaped(STYLE)) }
                }
                body {
                    header {
                        strong { "Fieldpost" }
                        @if let Some(v) = who {
                            span { (v.account.name) " (" (v.account.login) ")" }
                            form method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(v.csrf);
                                button { "Đăng xuất" }
                            }
                        }
                    }
                    main { h1 { (title) } (body) }
                }
            }
        }
        .into_string(),
    )
}

const STYLE: &str = "body{font-family:'Noto Sans','DejaVu Sans',sans-serif;margin:0;color:#1c2430;background:#f6f7f9}\
header{display:flex;gap:1rem;align-items:center;background:#1f3a5f;color:#fff;padding:.6rem 1rem}header form{margin-left:auto}\
main{padding:1rem 1.5rem;max-width:1400px}table{border-collapse:collapse;width:100%;background:#fff}\
th,td{border:1px solid #d6dbe2;padding:.35rem .5rem;text-align:right}th:first-child,td:first-child,td.l{text-align:left}\
tr.behind td{background:#fde8e6}.flag{color:#b3261e;font-weight:700}label{display:block;margin:.6rem 0}\
input{font:inherit;padding:.4rem}button{font:inherit;padding:.4rem .9rem}.error{color:#b3261e;font-weight:700}";

#[derive(serde::Deserialize)]
struct LoginForm {
    login: String,
    password: String,
    csrf: String,
}

fn login_form(intake: &Intake, message: Option<&str>, status: StatusCode) -> Response {
    let csrf = accounts::new_token();
    let body = html! {
        @if let Some(m) = message { p.error role="alert" { (m) } }
        form method="post" action="/login" {
            input type="hidden" name="csrf" value=(csrf);
            label { "Tên đăng nhập " input name="login" autocomplete="username" required; }
            label { "Mật khẩu " input name="password" type="password" autocomplete="current-password" required; }
            button { "Đăng nhập" }
        }
    };
    (status, [(header::SET_COOKIE, set_cookie(intake, LOGIN_CSRF_COOKIE, &csrf, 3600))], page("Đăng nhập", None, body)).into_response()
}

async fn login_page(State(intake): State<Arc<Intake>>) -> Response {
    login_form(&intake, None, StatusCode::OK)
}

async fn login(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Result<Response, IntakeError> {
    if !cookie(&headers, LOGIN_CSRF_COOKIE).is_some_and(|c| accounts::same_secret(c, &form.csrf)) {
        return Ok((StatusCode::FORBIDDEN, "the form is stale or forged (CSRF check failed); reload the login page").into_response());
    }
    let address = addr.ip().to_string();
    let i = intake.clone();
    let outcome = tokio::task::spawn_blocking(move || i.log_in(&form.login, &form.password, &address))
        .await
        .map_err(|e| IntakeError::BadRequest(e.to_string()))?;
    match outcome {
        Ok(token) => Ok((
            StatusCode::SEE_OTHER,
            [
                (header::SET_COOKIE, set_cookie(&intake, SESSION_COOKIE, &token, accounts::SESSION_HOURS * 3600)),
                (header::LOCATION, "/progress".to_string()),
            ],
        )
            .into_response()),
        Err(IntakeError::RateLimited { retry_after_secs }) => {
            let m = format!("Đăng nhập sai quá nhiều lần; thử lại sau {} phút.", retry_after_secs.div_ceil(60));
            Ok(login_form(&intake, Some(&m), StatusCode::TOO_MANY_REQUESTS))
        }
        Err(IntakeError::Unauthenticated(_)) => Ok(login_form(&intake, Some("Tên đăng nhập hoặc mật khẩu không đúng."), StatusCode::UNAUTHORIZED)),
        Err(e) => Err(e),
    }
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(State(intake): State<Arc<Intake>>, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Result<Response, IntakeError> {
    let Some(v) = visitor(&intake, &headers).await? else { return Ok(Redirect::to("/login").into_response()) };
    if !accounts::same_secret(&v.csrf, &form.csrf) {
        return Ok((StatusCode::FORBIDDEN, "CSRF check failed").into_response());
    }
    let token = cookie(&headers, SESSION_COOKIE).unwrap_or_default().to_string();
    let i = intake.clone();
    tokio::task::spawn_blocking(move || i.store.end_session(&accounts::token_hash(&token))).await.map_err(|e| IntakeError::BadRequest(e.to_string()))??;
    Ok((StatusCode::SEE_OTHER, [(header::SET_COOKIE, set_cookie(&intake, SESSION_COOKIE, "", 0)), (header::LOCATION, "/login".to_string())]).into_response())
}

/// The report this visitor may see: their districts for a supervisor, everything otherwise.
async fn report_for(intake: &Arc<Intake>, account: &Account, district: Option<String>) -> Result<Report, IntakeError> {
    let (i, a) = (intake.clone(), account.clone());
    tokio::task::spawn_blocking(move || i.progress_report(&a, district.as_deref())).await.map_err(|e| IntakeError::BadRequest(e.to_string()))?
}

fn table(report: &Report) -> Markup {
    html! {
        p { "Ngày " (report.day) " · " (report.rows.len()) " dòng · " span.flag { (report.behind) " chậm tiến độ" } }
        table {
            thead { tr {
                th { "Huyện / Xã / Thôn — Điều tra viên" } th { "Mẫu" } th { "Đã phát" } th { "Đã thu" } th { "Vắng" } th { "Từ chối" }
                th { "Chuyển đi" } th { "Thay thế" } th { "Đã nhập" } th { "Đã kiểm tra" } th { "Trong bưu gói" } th { "Cần đạt (phát/thu/gói)" } th { "Đồng bộ gần nhất" }
            } }
            tbody {
                @for r in &report.rows {
                    tr class=(if r.behind.is_empty() { "" } else { "behind" }) title=(r.behind.join("; ")) {
                        td.l { a href={ "/progress/district/" (r.district_id) } { (r.district) } " / " (r.commune) " / " (r.village) " — " (r.enumerator) }
                        td { (r.counts.sampled) } td { (r.counts.handed_out) } td { (r.counts.collected) } td { (r.counts.absent) } td { (r.counts.refused) }
                        td { (r.counts.moved) } td { (r.counts.replaced) } td { (r.counts.transcribed) } td { (r.counts.verified) } td { (r.counts.in_parcel) }
                        td { (r.expected.handed_out) " / " (r.expected.collected) " / " (r.expected.in_parcel) }
                        td.l { (r.last_sync.as_deref().unwrap_or("—")) }
                    }
                }
            }
        }
    }
}

async fn progress_page(State(intake): State<Arc<Intake>>, headers: HeaderMap) -> Result<Response, IntakeError> {
    let Some(v) = visitor(&intake, &headers).await? else { return Ok(Redirect::to("/login").into_response()) };
    let report = report_for(&intake, &v.account, None).await?;
    Ok(page("Tiến độ thu thập", Some(&v), table(&report)).into_response())
}

async fn district_page(State(intake): State<Arc<Intake>>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, IntakeError> {
    let Some(v) = visitor(&intake, &headers).await? else { return Ok(Redirect::to("/login").into_response()) };
    let report = report_for(&intake, &v.account, Some(id)).await?;
    Ok(page("Tiến độ theo huyện", Some(&v), table(&report)).into_response())
}

async fn progress_json(State(intake): State<Arc<Intake>>, headers: HeaderMap) -> Result<Response, IntakeError> {
    let Some(v) = visitor(&intake, &headers).await? else {
        return Err(IntakeError::Unauthenticated("log in first: POST /login".into()));
    };
    Ok(Json(report_for(&intake, &v.account, None).await?).into_response())
}

