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
use chrono::{Datelike, Utc};
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
        .route("/progress/report", get(period_report))
        .route("/api/progress", get(progress_json))
        .route("/api/rejected", get(rejected_json))
        .route("/api/report", get(report_json))
        .route("/api/ministry/reconciliation", get(reconciliation_json))
        .route("/api/ministry/anomalies", get(anomalies_json))
        .route("/api/ministry/backcheck", get(backcheck_json))
        .route("/api/ministry/reviews", get(reviews_json))
        .route("/api/ministry/index", axum::routing::post(index_json))
        .route("/reassign", get(reassign_page).post(reassign))
        .route("/reassign/households", axum::routing::post(reassign_households))
        .route("/ministry/reconciliation", get(reconciliation_page))
        .route("/ministry/paper", axum::routing::post(record_paper))
        .route("/ministry/backcheck", get(backcheck_page).post(draw_backcheck))
        .route("/ministry/backcheck/outcome", axum::routing::post(backcheck_outcome))
        .route("/ministry/index", get(index_page).post(index_results))
        .route("/ministry/anomalies", get(anomalies_page))
        .route("/ministry/review", get(review_page).post(review))
        .route("/ministry/correct/{household}", get(correction_page).post(correction))
        .route("/admin", get(admin_page))
        .route("/admin/account", axum::routing::post(admin_account))
        .route("/admin/code", axum::routing::post(admin_code))
        .route("/admin/revoke", axum::routing::post(admin_revoke))
        .route("/ministry/index.csv", axum::routing::post(index_csv))
        .route("/ministry/index.xlsx", axum::routing::post(index_xlsx))
        .route("/ministry/answers.csv", axum::routing::post(answers_csv))
        .route("/ministry/answers.xlsx", axum::routing::post(answers_xlsx))
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
                            a href="/progress" { "Tiến độ" }
                            a href="/reassign" { "Chuyển giao & sự kiện bị từ chối" }
                            @if v.account.role != accounts::Role::Supervisor {
                                a href="/ministry/reconciliation" { "Đối chiếu" }
                                a href="/ministry/backcheck" { "Phúc tra" }
                                a href="/ministry/index" { "Chỉ số SIPAS" }
                                a href="/ministry/anomalies" { "Bất thường" }
                                a href="/ministry/review" { "Duyệt phiếu" }
                            }
                            @if v.account.role == accounts::Role::Admin { a href="/admin" { "Quản trị" } }
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
header{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center;background:#1f3a5f;color:#fff;padding:.6rem 1rem}header form{margin-left:auto}header a,header span{color:#fff;white-space:nowrap}\
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
                th { "Chuyển đi" } th { "Thay thế" } th { "Đã đồng bộ" } th { "Đã nhập" } th { "Đã kiểm tra" } th { "Trong bưu gói" } th { "Cần đạt (phát/thu/gói)" } th { "Đồng bộ gần nhất" }
            } }
            tbody {
                @for r in &report.rows {
                    tr class=(if r.behind.is_empty() { "" } else { "behind" }) title=(r.behind.join("; ")) {
                        td.l { a href={ "/progress/district/" (r.district_id) } { (r.district) } " / " (r.commune) " / " (r.village) " — " (r.enumerator) }
                        td { (r.counts.sampled) } td { (r.counts.handed_out) } td { (r.counts.collected) } td { (r.counts.absent) } td { (r.counts.refused) }
                        td { (r.counts.moved) } td { (r.counts.replaced) } td { (r.counts.synced) } td { (r.counts.transcribed) } td { (r.counts.verified) } td { (r.counts.in_parcel) }
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
    let (i, a) = (intake.clone(), v.account.clone());
    let daily = blocking(move || i.daily_counts(&a)).await?;
    let body = html! {
        (chart(&crate::progress::cumulative(&daily), report.total.sampled))
        p { a href="/progress/report" { "Báo cáo theo kỳ (tháng)" } }
        (table(&report))
    };
    Ok(page("Tiến độ thu thập", Some(&v), body).into_response())
}

/// Cumulative work per campaign day as an SVG line chart (no script).
fn chart(points: &[(chrono::NaiveDate, u32, u32, u32)], sampled: u32) -> Markup {
    let (w, h, pad) = (720.0, 220.0, 36.0);
    let top = sampled.max(points.iter().map(|p| p.1.max(p.2).max(p.3)).max().unwrap_or(0)).max(1) as f64;
    let x = |i: usize| pad + (w - 2.0 * pad) * if points.len() > 1 { i as f64 / (points.len() - 1) as f64 } else { 0.5 };
    let y = |n: u32| h - pad - (h - 2.0 * pad) * n as f64 / top;
    let line = |pick: fn(&(chrono::NaiveDate, u32, u32, u32)) -> u32| points.iter().enumerate().map(|(i, p)| format!("{:.1},{:.1}", x(i), y(pick(p)))).collect::<Vec<_>>().join(" ");
    html! {
        svg #progress-chart width=(w) height=(h) viewBox={ "0 0 " (w) " " (h) } role="img" aria-label="Tiến độ theo ngày" style="background:#fff;border:1px solid #d6dbe2" {
            line x1=(pad) y1=(y(sampled)) x2=(w - pad) y2=(y(sampled)) stroke="#b3261e" stroke-dasharray="4 4" {}
            text x=(pad) y=(y(sampled) - 4.0) font-size="12" fill="#b3261e" { "Mẫu: " (sampled) }
            polyline points=(line(|p| p.1)) fill="none" stroke="#1d4ea3" stroke-width="2" {}
            polyline points=(line(|p| p.2)) fill="none" stroke="#4b2ca3" stroke-width="2" {}
            polyline points=(line(|p| p.3)) fill="none" stroke="#1d7a46" stroke-width="2" {}
            @for (i, p) in points.iter().enumerate() { text x=(x(i)) y=(h - 12.0) font-size="11" text-anchor="middle" { (p.0.format("%d/%m")) } }
            text x=(w - pad) y="16" font-size="12" text-anchor="end" { tspan fill="#1d4ea3" { "— đã phát " } tspan fill="#4b2ca3" { "— đã thu " } tspan fill="#1d7a46" { "— đã nhập" } }
        }
    }
}

#[derive(serde::Deserialize)]
struct PeriodQuery {
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    format: Option<String>,
}

async fn period_report(State(intake): State<Arc<Intake>>, headers: HeaderMap, axum::extract::Query(q): axum::extract::Query<PeriodQuery>) -> Result<Response, IntakeError> {
    let Some(v) = visitor(&intake, &headers).await? else { return Ok(Redirect::to("/login").into_response()) };
    let today = Utc::now().date_naive();
    let from = q.from.unwrap_or_else(|| today.with_day(1).unwrap_or(today));
    let to = q.to.unwrap_or(today);
    let (i, a) = (intake.clone(), v.account.clone());
    let rows = crate::progress::period(&blocking(move || i.daily_counts(&a)).await?, from, to);
    let header_row = ["điều tra viên", "đã phát", "đã thu", "đã nhập", "đã kiểm tra", "vắng", "từ chối", "chuyển đi"].map(String::from).to_vec();
    let as_rows = || {
        std::iter::once(header_row.clone())
            .chain(rows.iter().map(|r| vec![r.enumerator.clone(), r.handed_out.to_string(), r.collected.to_string(), r.keyed.to_string(), r.verified.to_string(), r.absent.to_string(), r.refused.to_string(), r.moved.to_string()]))
            .collect::<Vec<_>>()
    };
    let name = format!("bao-cao-{from}-{to}");
    match q.format.as_deref() {
        Some("csv") => download(&as_rows(), &name, false),
        Some("xlsx") => download(&as_rows(), &name, true),
        _ => {
            let body = html! {
                form method="get" action="/progress/report" {
                    label { "Từ ngày " input type="date" name="from" value=(from); }
                    label { "Đến ngày " input type="date" name="to" value=(to); }
                    button { "Xem" }
                }
                p { a href={ "/progress/report?from=" (from) "&to=" (to) "&format=csv" } { "Tải CSV" } " · " a href={ "/progress/report?from=" (from) "&to=" (to) "&format=xlsx" } { "Tải XLSX" } }
                table #period { thead { tr { @for hcell in &header_row { th { (hcell) } } } } tbody { @for r in as_rows().iter().skip(1) { tr { @for c in r { td { (c) } } } } } }
            };
            Ok(page(&format!("Báo cáo từ {from} đến {to}"), Some(&v), body).into_response())
        }
    }
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


/// The ministry's pages: the ministry and admins only; to anyone else they do not exist.
async fn ministry(intake: &Arc<Intake>, headers: &HeaderMap) -> Result<Result<Visitor, Response>, IntakeError> {
    match visitor(intake, headers).await? {
        None => Ok(Err(Redirect::to("/login").into_response())),
        Some(v) if v.account.role == accounts::Role::Supervisor => Err(IntakeError::NotFound),
        Some(v) => Ok(Ok(v)),
    }
}

fn csrf_ok(v: &Visitor, given: &str) -> Result<(), Response> {
    if accounts::same_secret(&v.csrf, given) {
        Ok(())
    } else {
        Err((StatusCode::FORBIDDEN, "the form is stale or forged (CSRF check failed); reload the page").into_response())
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, IntakeError> + Send + 'static) -> Result<T, IntakeError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| IntakeError::BadRequest(e.to_string()))?
}

fn reconciliation_view(v: &Visitor, r: &crate::reconcile::Reconciliation, message: Option<String>) -> Html<String> {
    let body = html! {
        @if let Some(m) = message { p role="status" { (m) } }
        p { "Mẫu cần thu: " b { (r.expected) } " · Nhận bản số: " b { (r.digital) } " · Nhận bản giấy: " b { (r.paper) } " · Khớp cả hai: " b { (r.done) } }
        form method="post" action="/ministry/paper" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Số phiếu giấy nhận được (mỗi dòng một số; máy quét mã vạch gõ như bàn phím)" br; textarea name="serials" rows="6" cols="40" autofocus {} }
            button { "Ghi nhận phiếu giấy" }
        }
        h2 { "Số phiếu bị trùng" }
        @if r.duplicates.is_empty() { p { "Không có." } } @else {
            ul #duplicates { @for (s, n) in &r.duplicates { li { (s) " × " (n) } } }
        }
        h2 { "Số phiếu không có trong mẫu" }
        @if r.unexpected.is_empty() { p { "Không có." } } @else {
            ul #unexpected { @for s in &r.unexpected { li { (s) } } }
        }
        h2 { "Theo thôn" }
        table {
            thead { tr { th { "Thôn" } th { "Cần thu" } th { "Bản số" } th { "Bản giấy" } th { "Khớp" } th { "Thiếu bản giấy" } th { "Thiếu bản số" } } }
            tbody { @for vr in &r.villages {
                tr data-village=(vr.village) {
                    td { (vr.village_name) " (" (vr.village) ")" } td { (vr.expected) } td { (vr.digital) } td { (vr.paper) } td { (vr.done) }
                    td.l.missing-paper { (vr.paper_missing.join(", ")) } td.l { (vr.digital_missing.join(", ")) }
                }
            } }
        }
    };
    page("Đối chiếu phiếu giấy và bản số", Some(v), body)
}

async fn reconciliation_page(State(intake): State<Arc<Intake>>, headers: HeaderMap) -> Result<Response, IntakeError> {
    let v = match ministry(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    let i = intake.clone();
    let r = blocking(move || i.reconciliation()).await?;
    Ok(reconciliation_view(&v, &r, None).into_response())
}

#[derive(serde::Deserialize)]
struct PaperForm {
    csrf: String,
    serials: String,
}

async fn record_paper(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<PaperForm>) -> Result<Response, IntakeError> {
    let v = match ministry(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    if let Err(r) = csrf_ok(&v, &form.csrf) {
        return Ok(r);
    }
    let (i, by) = (intake.clone(), v.account.login.clone());
    let recorded = blocking(move || i.record_paper(&form.serials, &by, &addr.ip().to_string())).await;
    let i = intake.clone();
    let r = blocking(move || i.reconciliation()).await?;
    let message = match recorded {
        Ok(n) => format!("Đã ghi nhận {n} số phiếu."),
        Err(e) => format!("Không ghi nhận: {e}"),
    };
    Ok(reconciliation_view(&v, &r, Some(message)).into_response())
}

fn backcheck_form(v: &Visitor, seed: &str) -> Markup {
    html! {
        form method="post" action="/ministry/backcheck" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Hạt giống ngẫu nhiên (ghi lại để kiểm tra) " input name="seed" value=(seed) required; }
            label { "Tỷ lệ (%) " input name="share" type="number" min="1" max="100" value="10" required; }
            label { "Tối thiểu mỗi điều tra viên " input name="min" type="number" min="0" max="100" value="2" required; }
            button { "Rút mẫu phúc tra" }
        }
    }
}

async fn backcheck_page(State(intake): State<Arc<Intake>>, headers: HeaderMap) -> Result<Response, IntakeError> {
    let v = match ministry(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    let seed = accounts::new_token()[..12].to_string();
    let i = intake.clone();
    let results = blocking(move || i.backcheck_results()).await?;
    let body = html! {
        (backcheck_form(&v, &seed))
        h2 { "Kết quả phúc tra theo điều tra viên" }
        table #backcheck-results {
            thead { tr { th { "Điều tra viên" } th { "Đã xác nhận" } th { "Không gặp" } th { "Trả lời khác" } } }
            tbody { @for (enumerator, counts) in &results {
                tr { td { (enumerator) }
                    @for k in ["confirmed", "not_visited", "answers_differ"] { td { (counts.get(k).copied().unwrap_or(0)) } } }
            } }
        }
    };
    Ok(page("Phúc tra", Some(&v), body).into_response())
}

#[derive(serde::Deserialize)]
struct OutcomeForm {
    csrf: String,
    household: String,
    outcome: String,
    #[serde(default)]
    note: String,
}

async fn backcheck_outcome(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<OutcomeForm>) -> Result<Response, IntakeError> {
    let v = match ministry(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    if let Err(r) = csrf_ok(&v, &form.csrf) {
        return Ok(r);
    }
    let (i, by) = (intake.clone(), v.account.login.clone());
    blocking(move || i.record_backcheck_outcome(&form.household, &form.outcome, &form.note, &by, &addr.ip().to_string())).await?;
    Ok(Redirect::to("/ministry/backcheck").into_response())
}

#[derive(serde::Deserialize)]
struct BackcheckForm {
    csrf: String,
    seed: String,
    share: u32,
    min: u32,
}

async fn draw_backcheck(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<BackcheckForm>) -> Result<Response, IntakeError> {
    let v = match ministry(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    if let Err(r) = csrf_ok(&v, &form.csrf) {
        return Ok(r);
    }
    let (i, by, seed) = (intake.clone(), v.account.login.clone(), form.seed.clone());
    let sample = blocking(move || i.draw_backcheck(&seed, form.share, form.min, &by, &addr.ip().to_string())).await?;
    let body = html! {
        p { "Hạt giống: " b #seed { (form.seed) } " · tỷ lệ " (form.share) " % · tối thiểu " (form.min) " mỗi điều tra viên" }
        table #sample {
            thead { tr { th { "Điều tra viên" } th { "Số phiếu" } th { "Hộ" } th { "Thôn" } th { "Kết quả phúc tra" } } }
            tbody { @for (enumerator, list) in &sample { @for f in list {
                tr { td { (enumerator) } td.serial { (f.serial) } td { (f.household) } td { (f.village_name) } td {
                    form method="post" action="/ministry/backcheck/outcome" {
                        input type="hidden" name="csrf" value=(v.csrf);
                        input type="hidden" name="household" value=(f.household);
                        select name="outcome" { option value="confirmed" { "Đã xác nhận" } option value="not_visited" { "Không gặp" } option value="answers_differ" { "Trả lời khác" } }
                        input name="note" placeholder="Ghi chú" maxlength="2000";
                        button { "Ghi" }
                    }
                } }
            } } }
        }
        (backcheck_form(&v, &form.seed))
    };
    Ok(page("Danh sách phúc tra", Some(&v), body).into_response())
}

async fn index_page(State(intake): State<Arc<Intake>>, headers: HeaderMap) -> Result<Response, IntakeError> {
    let v = match ministry(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    Ok(page("Chỉ số SIPAS", Some(&v), passphrase_form(&v, None)).into_response())
}

fn passphrase_form(v: &Visitor, message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message { p.error role="alert" { (m) } }
        p { "Câu trả lời được niêm phong bằng khoá của Bộ. Nhập cụm mật khẩu để mở khoá cho lần tính này; máy chủ không lưu cụm mật khẩu." }
        form method="post" action="/ministry/index" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Cụm mật khẩu " input name="passphrase" type="password" autocomplete="off" required; }
            button { "Tính chỉ số" }
        }
        h2 { "Tải về" }
        @for (action, what) in [("/ministry/index.csv", "Chỉ số (CSV)"), ("/ministry/index.xlsx", "Chỉ số (XLSX)"), ("/ministry/answers.csv", "Câu trả lời (CSV)"), ("/ministry/answers.xlsx", "Câu trả lời (XLSX)")] {
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(v.csrf);
                label { "Cụm mật khẩu " input name="passphrase" type="password" autocomplete="off" required; }
                button { (what) }
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct PassphraseForm {
    csrf: String,
    passphrase: String,
}

fn percent(s: &forms::index::Share) -> String {
    s.value.map(|x| format!("{:.1}", 100.0 * x)).unwrap_or_else(|| "—".into())
}

fn interval(s: &forms::index::Share) -> String {
    match (s.low, s.high) {
        (Some(l), Some(h)) => format!("{:.1}–{:.1}", 100.0 * l, 100.0 * h),
        _ => "—".into(),
    }
}

async fn computed_index(intake: &Arc<Intake>, v: &Visitor, form: PassphraseForm, address: SocketAddr) -> Result<Result<crate::service::ComputedIndex, Response>, IntakeError> {
    if let Err(r) = csrf_ok(v, &form.csrf) {
        return Ok(Err(r));
    }
    let (i, by) = (intake.clone(), v.account.login.clone());
    match blocking(move || i.index(&form.passphrase, &by, &address.ip().to_string())).await {
        Ok(report) => Ok(Ok(report)),
        Err(IntakeError::MinistryKey(e)) => {
            Ok(Err((StatusCode::UNAUTHORIZED, page("Chỉ số SIPAS", Some(v), passphrase_form(v, Some(&e.to_string())))).into_response()))
        }
        Err(e) => Err(e),
    }
}

async fn index_results(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<PassphraseForm>) -> Result<Response, IntakeError> {
    let v = match ministry(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    let computed = match computed_index(&intake, &v, form, addr).await? { Ok(r) => r, Err(r) => return Ok(r) };
    let (report, straight) = (&computed.report, &computed.straight_lined);
    // Place names for the ids the index is keyed by.
    let i = intake.clone();
    let (rows, enumerators) = blocking(move || Ok((i.store.progress(None)?, i.enumerator_names()?))).await?;
    let mut names: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for r in rows {
        names.insert(r.village_id, r.village);
        names.insert(r.commune_id, r.commune);
        names.insert(r.district_id, r.district);
    }
    let name = |id: &str| names.get(id).map(|n| format!("{n} ({id})")).unwrap_or_else(|| id.to_string());
    let level_name = |level: &forms::index::Level| match level {
        forms::index::Level::Village => "Theo thôn",
        forms::index::Level::Commune => "Theo xã",
        forms::index::Level::District => "Theo huyện",
        forms::index::Level::Province => "Theo tỉnh",
    };
    let body = html! {
        (unopenable_list(&computed.unopenable, &enumerators))
        p { "Phiếu trả lời cùng một mã cho mọi câu hỏi hài lòng (cần xem lại): " b #straight-lined { (straight.len()) } " " (straight.join(", ")) }
        p { "Toàn quốc (trung bình các tỉnh): " b #national { (percent(&report.national.overall)) } " (khoảng tin cậy 95 %: " (interval(&report.national.overall)) ", " (report.national.forms) " phiếu)" }
        @if let Some(districts) = report.areas.get(&forms::index::Level::District) { (index_bars(districts)) }
        @for (level, areas) in &report.areas {
            h2 { (level_name(level)) }
            table.index data-level=(format!("{level:?}").to_lowercase()) {
                thead { tr { th { "Địa bàn" } th { "Số phiếu" } th { "Chỉ số (%)" } th { "Khoảng tin cậy 95 %" }
                    @for part in areas.values().next().map(|a| a.parts.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() { th { (part) } } } }
                tbody { @for (id, a) in areas {
                    tr { td { (name(id)) } td { (a.forms) } td { (percent(&a.overall)) } td { (interval(&a.overall)) }
                        @for s in a.parts.values() { td { (percent(s)) } } }
                } }
            }
        }
    };
    Ok(page("Chỉ số SIPAS", Some(&v), body).into_response())
}

/// Sheets left out of the figures because they cannot be opened: each to be keyed again from
/// its paper, named by household, enumerator and the device that sent it.
fn unopenable_list(unopenable: &[crate::service::Unopenable], enumerators: &std::collections::HashMap<String, String>) -> Markup {
    html! {
        @if !unopenable.is_empty() {
            section #unopenable {
                h2.error { (unopenable.len()) " phiếu không mở được — đã loại khỏi số liệu; nhập lại từ phiếu giấy" }
                table { thead { tr { th { "Hộ" } th { "Số phiếu" } th { "Điều tra viên" } th { "Máy gửi" } th { "Lô" } th { "Lý do" } } }
                    tbody { @for u in unopenable { tr {
                        td { (u.form.household) } td { (u.form.serial) }
                        td { (enumerators.get(&u.form.enumerator).map(String::as_str).unwrap_or(&u.form.enumerator)) }
                        td.l { (u.form.device) } td { (u.form.seq) } td.l { (u.reason) }
                    } } }
                }
            }
        }
    }
}

/// The index as rows: national first, then every area of every level.
fn index_rows(report: &forms::index::IndexReport) -> Vec<Vec<String>> {
    let f = |x: Option<f64>| x.map(|x| format!("{x:.4}")).unwrap_or_default();
    let row = |level: &str, id: &str, a: &forms::index::AreaIndex| vec![level.to_string(), id.to_string(), a.forms.to_string(), f(a.overall.value), f(a.overall.low), f(a.overall.high)];
    let mut rows = vec![["level", "area", "forms", "index", "low", "high"].map(String::from).to_vec(), row("national", "all", &report.national)];
    for (level, areas) in &report.areas {
        for (id, a) in areas {
            rows.push(row(&format!("{level:?}").to_lowercase(), id, a));
        }
    }
    rows
}

/// A cell as a spreadsheet will not run it: text that a spreadsheet would read as a formula
/// (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading apostrophe,
/// as OWASP advises for CSV. Numbers stay numbers. (XLSX cells are written as strings, never
/// formulas, so they need no such mark.)
pub fn inert_in_a_spreadsheet(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && cell.parse::<f64>().is_err() {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// A table as a download: CSV (UTF-8) or an XLSX workbook of one sheet.
fn download(rows: &[Vec<String>], name: &str, xlsx: bool) -> Result<Response, IntakeError> {
    let failed = |e: String| IntakeError::BadRequest(format!("the file could not be written: {e}"));
    if xlsx {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                sheet.write_string(r as u32, c as u16, cell).map_err(|e| failed(e.to_string()))?;
            }
        }
        let bytes = book.save_to_buffer().map_err(|e| failed(e.to_string()))?;
        let disposition = format!("attachment; filename=\"{name}.xlsx\"");
        return Ok(([(header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response());
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.write_record(row.iter().map(|cell| inert_in_a_spreadsheet(cell).into_owned())).map_err(|e| failed(e.to_string()))?;
    }
    let bytes = writer.into_inner().map_err(|e| failed(e.to_string()))?;
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response())
}

async fn index_download(intake: Arc<Intake>, addr: SocketAddr, headers: HeaderMap, form: PassphraseForm, xlsx: bool) -> Result<Response, IntakeError> {
    let v = match ministry(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    let computed = match computed_index(&intake, &v, form, addr).await? { Ok(r) => r, Err(r) => return Ok(r) };
    download(&index_rows(&computed.report), "sipas-index", xlsx)
}

async fn index_csv(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<PassphraseForm>) -> Result<Response, IntakeError> {
    index_download(intake, addr, headers, form, false).await
}

async fn index_xlsx(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<PassphraseForm>) -> Result<Response, IntakeError> {
    index_download(intake, addr, headers, form, true).await
}

async fn answers_download(intake: Arc<Intake>, addr: SocketAddr, headers: HeaderMap, form: PassphraseForm, xlsx: bool) -> Result<Response, IntakeError> {
    let v = match ministry(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    if let Err(r) = csrf_ok(&v, &form.csrf) {
        return Ok(r);
    }
    let (i, by) = (intake.clone(), v.account.login.clone());
    match blocking(move || i.answers_table(&form.passphrase, &by, &addr.ip().to_string())).await {
        Ok(rows) => download(&rows, "sipas-answers", xlsx),
        Err(IntakeError::MinistryKey(e)) => Ok((StatusCode::UNAUTHORIZED, page("Chỉ số SIPAS", Some(&v), passphrase_form(&v, Some(&e.to_string())))).into_response()),
        Err(e) => Err(e),
    }
}

async fn answers_csv(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<PassphraseForm>) -> Result<Response, IntakeError> {
    answers_download(intake, addr, headers, form, false).await
}

async fn answers_xlsx(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<PassphraseForm>) -> Result<Response, IntakeError> {
    answers_download(intake, addr, headers, form, true).await
}

async fn anomalies_page(State(intake): State<Arc<Intake>>, headers: HeaderMap) -> Result<Response, IntakeError> {
    let v = match ministry(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    let i = intake.clone();
    let a = blocking(move || i.anomalies()).await?;
    fn label(kind: &str) -> &str {
        match kind {
        "fast_keying" => "Nhập nhanh bất thường",
        "collected_outside_window" => "Thu phiếu ngoài thời gian thu",
        "many_refusals_or_absences" => "Nhiều hộ từ chối hoặc vắng",
        "clock_jump" => "Đồng hồ máy nhảy",
        other => other,
        }
    }
    let body = html! {
        p { "Thời gian nhập trung vị: " (a.median_keying_seconds.map(|s| format!("{s} giây")).unwrap_or_else(|| "—".into())) " · " (a.flags.len()) " dấu hiệu" }
        table #by-enumerator {
            thead { tr { th { "Điều tra viên" } th { "Dấu hiệu" } } }
            tbody { @for (enumerator, kinds) in &a.by_enumerator {
                tr { td { (enumerator) } td.l { @for (k, n) in kinds { (label(k)) ": " (n) "; " } } }
            } }
        }
        h2 { "Chi tiết" }
        ul #flags { @for f in &a.flags { li data-kind=(f.kind) { b { (label(f.kind)) } " — " (f.enumerator) " " (f.household.as_deref().unwrap_or("")) ": " (f.detail) } } }
    };
    Ok(page("Dấu hiệu bất thường", Some(&v), body).into_response())
}

fn reassign_view(v: &Visitor, villages: &[(String, String, String, Vec<String>)], rejected: &[crate::store::RejectedRecord], message: Option<String>) -> Html<String> {
    let mine: Vec<&(String, String, String, Vec<String>)> = villages.iter().filter(|(_, _, d, _)| v.account.may_see_district(d)).collect();
    let mut enumerators: Vec<&String> = mine.iter().flat_map(|(.., list)| list.iter()).collect();
    enumerators.sort();
    enumerators.dedup();
    let body = html! {
        @if let Some(m) = message { p role="status" #message { (m) } }
        h2 { "Chuyển một thôn cho điều tra viên khác" }
        form method="post" action="/reassign" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Thôn " select name="village" { @for (id, name, _, list) in &mine { option value=(id) { (name) " (" (id) ") — " (list.join(", ")) } } } }
            label { "Giao cho " select name="to" { @for e in &enumerators { option value=(e) { (e) } } } }
            label { "Lý do " input name="reason" required maxlength="500"; }
            button { "Chuyển giao" }
        }
        h2 { "Chuyển từng hộ" }
        form method="post" action="/reassign/households" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Mã hộ (cách nhau bằng dấu phẩy hoặc dấu cách) " input name="households" required; }
            label { "Giao cho " select name="to" { @for e in &enumerators { option value=(e) { (e) } } } }
            label { "Lý do " input name="reason" required maxlength="500"; }
            button { "Chuyển các hộ" }
        }
        h2 { "Sự kiện bị từ chối (cần giải quyết)" }
        @if rejected.is_empty() { p { "Không có." } } @else {
            table #rejected {
                thead { tr { th { "Nhận lúc" } th { "Điều tra viên" } th { "Hộ" } th { "Loại" } th { "Lý do" } } }
                tbody { @for r in rejected { tr { td.l { (r.received_at) } td.l { (r.enumerator) } td.l { (r.household.as_deref().unwrap_or("")) } td.l { (r.kind) } td.l { (r.code) ": " (r.reason) } } } }
            }
        }
    };
    page("Chuyển giao và sự kiện bị từ chối", Some(v), body)
}

async fn reassign_data(intake: &Arc<Intake>, account: &Account) -> Result<(Vec<(String, String, String, Vec<String>)>, Vec<crate::store::RejectedRecord>), IntakeError> {
    let (i, a) = (intake.clone(), account.clone());
    blocking(move || {
        let scope = (a.role == accounts::Role::Supervisor).then(|| a.districts.clone());
        Ok((i.store.villages_with_enumerators()?, i.store.rejected_events(scope.as_deref())?))
    })
    .await
}

async fn reassign_page(State(intake): State<Arc<Intake>>, headers: HeaderMap) -> Result<Response, IntakeError> {
    let Some(v) = visitor(&intake, &headers).await? else { return Ok(Redirect::to("/login").into_response()) };
    let (villages, rejected) = reassign_data(&intake, &v.account).await?;
    Ok(reassign_view(&v, &villages, &rejected, None).into_response())
}

#[derive(serde::Deserialize)]
struct ReassignForm {
    csrf: String,
    village: String,
    to: String,
    reason: String,
}

async fn reassign(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<ReassignForm>) -> Result<Response, IntakeError> {
    let Some(v) = visitor(&intake, &headers).await? else { return Ok(Redirect::to("/login").into_response()) };
    if let Err(r) = csrf_ok(&v, &form.csrf) {
        return Ok(r);
    }
    let (i, a) = (intake.clone(), v.account.clone());
    let (village, to) = (form.village.clone(), form.to.clone());
    let target = crate::store::ReassignTarget::Village(form.village);
    let moved = blocking(move || i.reassign(&a, &target, &form.to, &form.reason, &addr.ip().to_string())).await?;
    let (villages, rejected) = reassign_data(&intake, &v.account).await?;
    Ok(reassign_view(&v, &villages, &rejected, Some(format!("Đã chuyển {moved} hộ của {village} cho {to}."))).into_response())
}

async fn review_page(State(intake): State<Arc<Intake>>, headers: HeaderMap) -> Result<Response, IntakeError> {
    let v = match ministry(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    let i = intake.clone();
    let (forms, reviews, paper) = blocking(move || Ok((i.store.expected_forms()?, i.store.reviews()?, i.store.paper_serials()?))).await?;
    let paper: std::collections::HashSet<String> = paper.iter().map(|s| crate::reconcile::normalize_serial(s)).collect();
    let body = html! {
        p { "Phiếu bị gắn cờ cần đối chiếu với bản giấy trong bưu gói; bản giấy đã đến hay chưa được ghi bên cạnh." }
        table #reviews {
            thead { tr { th { "Số phiếu" } th { "Hộ" } th { "Thôn" } th { "Điều tra viên" } th { "Bản giấy" } th { "Quyết định" } th { "Duyệt" } } }
            tbody { @for f in forms.iter().filter(|f| f.digital) {
                tr data-household=(f.household) {
                    td { (f.serial) } td.l { (f.household) } td.l { (f.village_name) } td.l { (f.enumerator) }
                    td { (if paper.contains(&f.serial) { "đã đến" } else { "chưa đến" }) }
                    td.l.decision { @if let Some((d, reason, by, at)) = reviews.get(&f.household) {
                        (if d == "approved" { "Đã duyệt" } else { "Gắn cờ" }) " — " (reason) " (" (by) ", " (at) ")"
                        @if d == "flagged" { " " a href={ "/ministry/correct/" (f.household) } { "Nhập sửa theo bản giấy" } }
                    } }
                    td { form method="post" action="/ministry/review" {
                        input type="hidden" name="csrf" value=(v.csrf);
                        input type="hidden" name="household" value=(f.household);
                        input name="reason" placeholder="Lý do (khi gắn cờ)" maxlength="2000";
                        button name="decision" value="approved" { "Duyệt" } " "
                        button name="decision" value="flagged" { "Gắn cờ" }
                    } }
                }
            } }
        }
    };
    Ok(page("Duyệt phiếu", Some(&v), body).into_response())
}

#[derive(serde::Deserialize)]
struct ReviewForm {
    csrf: String,
    household: String,
    decision: String,
    #[serde(default)]
    reason: String,
}

async fn review(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<ReviewForm>) -> Result<Response, IntakeError> {
    let v = match ministry(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    if let Err(r) = csrf_ok(&v, &form.csrf) {
        return Ok(r);
    }
    let (i, by) = (intake.clone(), v.account.login.clone());
    blocking(move || i.review(&form.household, &form.decision, &form.reason, &by, &addr.ip().to_string())).await?;
    Ok(Redirect::to("/ministry/review").into_response())
}

/// The admin pages: admins only; to anyone else they do not exist.
async fn admin(intake: &Arc<Intake>, headers: &HeaderMap) -> Result<Result<Visitor, Response>, IntakeError> {
    match visitor(intake, headers).await? {
        None => Ok(Err(Redirect::to("/login").into_response())),
        Some(v) if v.account.role != accounts::Role::Admin => Err(IntakeError::NotFound),
        Some(v) => Ok(Ok(v)),
    }
}

async fn admin_view(intake: &Arc<Intake>, v: &Visitor, message: Option<String>) -> Result<Response, IntakeError> {
    let i = intake.clone();
    let (list, devices, enumerators) = blocking(move || Ok((i.store.accounts()?, i.store.devices()?, i.store.enumerators()?))).await?;
    let body = html! {
        @if let Some(m) = message { p role="status" #message { (m) } }
        h2 { "Tạo hoặc sửa tài khoản" }
        form method="post" action="/admin/account" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Tên đăng nhập " input name="login" required maxlength="64" pattern="[a-z0-9._-]+"; }
            label { "Họ tên " input name="name" required maxlength="200"; }
            label { "Vai trò " select name="role" { option value="supervisor" { "Giám sát" } option value="ministry" { "Bộ" } option value="admin" { "Quản trị" } } }
            label { "Huyện (giám sát; cách nhau bằng dấu phẩy) " input name="districts"; }
            label { "Mật khẩu (ít nhất 12 ký tự) " input name="password" type="password" required autocomplete="new-password"; }
            button { "Lưu tài khoản" }
        }
        h2 { "Cấp mã đăng ký máy" }
        form method="post" action="/admin/code" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Điều tra viên " select name="enumerator" { @for (id, name) in &enumerators { option value=(id) { (id) " — " (name) } } } }
            label { "Hiệu lực (giờ) " input name="hours" type="number" min="1" max="720" value="72"; }
            button { "Cấp mã" }
        }
        h2 { "Thu hồi máy" }
        table #devices {
            thead { tr { th { "Máy" } th { "Điều tra viên" } th { "Nhãn" } th { "Đăng ký lúc" } th { "" } } }
            tbody { @for (id, enumerator, label, at, revoked) in &devices { tr {
                td.l { (id) } td.l { (enumerator) } td.l { (label) } td.l { (at) }
                td { @if *revoked { "đã thu hồi" } @else {
                    form method="post" action="/admin/revoke" {
                        input type="hidden" name="csrf" value=(v.csrf); input type="hidden" name="device" value=(id.to_string());
                        input name="reason" placeholder="Lý do" required maxlength="500"; button { "Thu hồi" }
                    }
                } }
            } } }
        }
        h2 { "Tài khoản" }
        table #accounts { thead { tr { th { "Tên đăng nhập" } th { "Họ tên" } th { "Vai trò" } th { "Huyện" } th { "Mật khẩu" } } }
            tbody { @for a in &list { tr { td.l { (a.login) } td.l { (a.name) } td.l { (a.role.as_str()) } td.l { (a.districts.join(", ")) } td { (if a.password_hash.is_some() { "đã đặt" } else { "chưa đặt" }) } } } } }
    };
    Ok(page("Quản trị", Some(v), body).into_response())
}

async fn admin_page(State(intake): State<Arc<Intake>>, headers: HeaderMap) -> Result<Response, IntakeError> {
    let v = match admin(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    admin_view(&intake, &v, None).await
}

#[derive(serde::Deserialize)]
struct AccountForm {
    csrf: String,
    login: String,
    name: String,
    role: String,
    #[serde(default)]
    districts: String,
    password: String,
}

async fn admin_account(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<AccountForm>) -> Result<Response, IntakeError> {
    let v = match admin(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    if let Err(r) = csrf_ok(&v, &form.csrf) {
        return Ok(r);
    }
    let (i, by) = (intake.clone(), v.account.login.clone());
    let login = form.login.clone();
    let result = blocking(move || i.save_account(&form.login, &form.name, &form.role, &form.districts, &form.password, &by, &addr.ip().to_string())).await;
    let message = match result {
        Ok(()) => format!("Đã lưu tài khoản {login}."),
        Err(e) => format!("Không lưu: {e}"),
    };
    admin_view(&intake, &v, Some(message)).await
}

#[derive(serde::Deserialize)]
struct CodeForm {
    csrf: String,
    enumerator: String,
    hours: i64,
}

async fn admin_code(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<CodeForm>) -> Result<Response, IntakeError> {
    let v = match admin(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    if let Err(r) = csrf_ok(&v, &form.csrf) {
        return Ok(r);
    }
    if !(1..=720).contains(&form.hours) {
        return Err(IntakeError::BadRequest("a code is valid 1 to 720 hours".into()));
    }
    let (i, by, enumerator) = (intake.clone(), v.account.login.clone(), form.enumerator.clone());
    let code = blocking(move || {
        let code = i.issue_enrollment_code(&form.enumerator, chrono::Duration::hours(form.hours), &by)?;
        i.store.audit(&by, "code_issued", &form.enumerator, &addr.ip().to_string(), Utc::now())?;
        Ok(code)
    })
    .await?;
    admin_view(&intake, &v, Some(format!("Mã đăng ký cho {enumerator}: {code} (chỉ hiện một lần)"))).await
}

#[derive(serde::Deserialize)]
struct RevokeForm {
    csrf: String,
    device: uuid::Uuid,
    reason: String,
}

async fn admin_revoke(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<RevokeForm>) -> Result<Response, IntakeError> {
    let v = match admin(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    if let Err(r) = csrf_ok(&v, &form.csrf) {
        return Ok(r);
    }
    let (i, by, device) = (intake.clone(), v.account.login.clone(), form.device);
    blocking(move || {
        i.store.revoke_device(form.device, &form.reason, Utc::now())?;
        Ok(i.store.audit(&by, "device_revoked", &format!("{}: {}", form.device, form.reason), &addr.ip().to_string(), Utc::now())?)
    })
    .await?;
    admin_view(&intake, &v, Some(format!("Đã thu hồi máy {device}."))).await
}

/// The index of each area as horizontal bars with their 95 % interval (SVG, no script).
fn index_bars(areas: &std::collections::BTreeMap<String, forms::index::AreaIndex>) -> Markup {
    let (label_w, bar_w, row_h) = (160.0, 480.0, 22.0);
    let height = row_h * areas.len() as f64 + 30.0;
    let at = |x: f64| label_w + bar_w * x.clamp(0.0, 1.0);
    html! {
        svg #index-chart width=(label_w + bar_w + 60.0) height=(height) role="img" aria-label="Chỉ số theo huyện" style="background:#fff;border:1px solid #d6dbe2" {
            @for (i, (id, a)) in areas.iter().enumerate() {
                @let y = 10.0 + row_h * i as f64;
                text x="6" y=(y + 14.0) font-size="12" { (id) }
                @if let Some(v) = a.overall.value {
                    rect x=(label_w) y=(y + 3.0) width=(at(v) - label_w) height=(row_h - 8.0) fill="#1f3a5f" {}
                    @if let (Some(l), Some(h)) = (a.overall.low, a.overall.high) {
                        line x1=(at(l)) x2=(at(h)) y1=(y + row_h / 2.0) y2=(y + row_h / 2.0) stroke="#f5b800" stroke-width="3" {}
                    }
                    text x=(at(v) + 6.0) y=(y + 14.0) font-size="12" { (format!("{:.1}", 100.0 * v)) }
                }
            }
        }
    }
}

/// Keying a flagged form again from its paper original, at the centre.
fn correction_view(v: &Visitor, household: &str, form: &forms::Form, typed: &std::collections::HashMap<String, String>, message: Option<String>) -> Html<String> {
    let choices = |q: &forms::load::Question| -> String {
        q.choices
            .as_ref()
            .and_then(|l| form.definition.choice_lists.get(l))
            .map(|list| list.iter().map(|c| format!("{} {}", c.code, c.label.vi)).collect::<Vec<_>>().join(" · "))
            .unwrap_or_default()
    };
    let body = html! {
        @if let Some(m) = message { p.error role="alert" #message { (m) } }
        p { "Nhập lại toàn bộ phiếu theo bản giấy. Nhiều mã: cách nhau bằng dấu cách. Câu không áp dụng: để trống." }
        form method="post" action={ "/ministry/correct/" (household) } {
            input type="hidden" name="csrf" value=(v.csrf);
            table {
                @for q in &form.questions {
                    tr { td.l { b { (q.number) } } td.l { (q.label.vi) br; small { (choices(q)) } }
                        td { input name={ "q_" (q.id) } value=(typed.get(&format!("q_{}", q.id)).map(String::as_str).unwrap_or("")) size="12" autocomplete="off"; } }
                }
            }
            label { "Lý do sửa " input name="reason" required maxlength="2000" value=(typed.get("reason").map(String::as_str).unwrap_or("")); }
            button { "Niêm phong bản sửa" }
        }
    };
    page(&format!("Sửa phiếu {household} theo bản giấy"), Some(v), body)
}

async fn correction_page(State(intake): State<Arc<Intake>>, headers: HeaderMap, Path(household): Path<String>) -> Result<Response, IntakeError> {
    let v = match ministry(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    let form = intake.form()?;
    Ok(correction_view(&v, &household, &form, &Default::default(), None).into_response())
}

/// An answer as typed in the correction form, read by the question's kind.
fn typed_answer(accepts: &forms::load::Accepts, text: &str) -> Option<serde_json::Value> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let number = |t: &str| t.parse::<i64>().ok().map(serde_json::Value::from);
    Some(match accepts {
        forms::load::Accepts::Code(_) | forms::load::Accepts::Integer { .. } => number(text).unwrap_or_else(|| text.into()),
        forms::load::Accepts::Codes(_) => serde_json::Value::Array(text.split([' ', ',', ';']).filter(|p| !p.is_empty()).map(|p| number(p).unwrap_or_else(|| p.into())).collect()),
        forms::load::Accepts::Text { .. } => text.into(),
    })
}

async fn correction(
    State(intake): State<Arc<Intake>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(household): Path<String>,
    Form(fields): Form<std::collections::HashMap<String, String>>,
) -> Result<Response, IntakeError> {
    let v = match ministry(&intake, &headers).await? { Ok(v) => v, Err(r) => return Ok(r) };
    if let Err(r) = csrf_ok(&v, fields.get("csrf").map(String::as_str).unwrap_or("")) {
        return Ok(r);
    }
    let form = intake.form()?;
    let answers: std::collections::BTreeMap<String, serde_json::Value> =
        form.questions.iter().filter_map(|q| fields.get(&format!("q_{}", q.id)).and_then(|t| typed_answer(&q.accepts, t)).map(|a| (q.id.clone(), a))).collect();
    let (i, by, h) = (intake.clone(), v.account.login.clone(), household.clone());
    let reason = fields.get("reason").cloned().unwrap_or_default();
    match blocking(move || i.ministry_correction(&h, answers, &reason, &by, &addr.ip().to_string())).await {
        Ok(()) => Ok(Redirect::to("/ministry/review").into_response()),
        Err(IntakeError::BadRequest(m)) => Ok((StatusCode::BAD_REQUEST, correction_view(&v, &household, &form, &fields, Some(m))).into_response()),
        Err(e) => Err(e),
    }
}

#[derive(serde::Deserialize)]
struct HouseholdsForm {
    csrf: String,
    households: String,
    to: String,
    reason: String,
}

async fn reassign_households(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<HouseholdsForm>) -> Result<Response, IntakeError> {
    let Some(v) = visitor(&intake, &headers).await? else { return Ok(Redirect::to("/login").into_response()) };
    if let Err(r) = csrf_ok(&v, &form.csrf) {
        return Ok(r);
    }
    let households: Vec<String> = form.households.split([',', ' ', '\n', ';']).map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
    let (i, a, to) = (intake.clone(), v.account.clone(), form.to.clone());
    let target = crate::store::ReassignTarget::Households(households);
    let moved = blocking(move || i.reassign(&a, &target, &form.to, &form.reason, &addr.ip().to_string())).await?;
    let (villages, rejected) = reassign_data(&intake, &v.account).await?;
    Ok(reassign_view(&v, &villages, &rejected, Some(format!("Đã chuyển {moved} hộ cho {to}."))).into_response())
}

// ---- The same data as JSON ---------------------------------------------------------------

async fn api_visitor(intake: &Arc<Intake>, headers: &HeaderMap) -> Result<Visitor, IntakeError> {
    visitor(intake, headers).await?.ok_or_else(|| IntakeError::Unauthenticated("log in first: POST /login".into()))
}

async fn api_ministry(intake: &Arc<Intake>, headers: &HeaderMap) -> Result<Visitor, IntakeError> {
    let v = api_visitor(intake, headers).await?;
    if v.account.role == accounts::Role::Supervisor {
        return Err(IntakeError::NotFound);
    }
    Ok(v)
}

async fn rejected_json(State(intake): State<Arc<Intake>>, headers: HeaderMap) -> Result<Response, IntakeError> {
    let v = api_visitor(&intake, &headers).await?;
    Ok(Json(reassign_data(&intake, &v.account).await?.1).into_response())
}

async fn report_json(State(intake): State<Arc<Intake>>, headers: HeaderMap, axum::extract::Query(q): axum::extract::Query<PeriodQuery>) -> Result<Response, IntakeError> {
    let v = api_visitor(&intake, &headers).await?;
    let today = Utc::now().date_naive();
    let (from, to) = (q.from.unwrap_or_else(|| today.with_day(1).unwrap_or(today)), q.to.unwrap_or(today));
    let (i, a) = (intake.clone(), v.account.clone());
    let daily = blocking(move || i.daily_counts(&a)).await?;
    Ok(Json(serde_json::json!({ "from": from, "to": to, "rows": crate::progress::period(&daily, from, to), "chart": crate::progress::cumulative(&daily) })).into_response())
}

async fn reconciliation_json(State(intake): State<Arc<Intake>>, headers: HeaderMap) -> Result<Response, IntakeError> {
    api_ministry(&intake, &headers).await?;
    let i = intake.clone();
    Ok(Json(blocking(move || i.reconciliation()).await?).into_response())
}

async fn anomalies_json(State(intake): State<Arc<Intake>>, headers: HeaderMap) -> Result<Response, IntakeError> {
    api_ministry(&intake, &headers).await?;
    let i = intake.clone();
    Ok(Json(blocking(move || i.anomalies()).await?).into_response())
}

async fn backcheck_json(State(intake): State<Arc<Intake>>, headers: HeaderMap) -> Result<Response, IntakeError> {
    api_ministry(&intake, &headers).await?;
    let i = intake.clone();
    Ok(Json(blocking(move || i.backcheck_results()).await?).into_response())
}

async fn reviews_json(State(intake): State<Arc<Intake>>, headers: HeaderMap) -> Result<Response, IntakeError> {
    api_ministry(&intake, &headers).await?;
    let i = intake.clone();
    let reviews = blocking(move || Ok(i.store.reviews()?)).await?;
    let list: Vec<serde_json::Value> = reviews
        .into_iter()
        .map(|(household, (decision, reason, by, at))| serde_json::json!({ "household": household, "decision": decision, "reason": reason, "by": by, "at": at }))
        .collect();
    Ok(Json(list).into_response())
}

/// The index as JSON: a form post with the session's CSRF token and the passphrase.
async fn index_json(State(intake): State<Arc<Intake>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(form): Form<PassphraseForm>) -> Result<Response, IntakeError> {
    let v = api_ministry(&intake, &headers).await?;
    if !accounts::same_secret(&v.csrf, &form.csrf) {
        return Ok((StatusCode::FORBIDDEN, "CSRF check failed").into_response());
    }
    let (i, by) = (intake.clone(), v.account.login.clone());
    let c = blocking(move || i.index(&form.passphrase, &by, &addr.ip().to_string())).await?;
    let unopenable: Vec<_> = c
        .unopenable
        .iter()
        .map(|u| serde_json::json!({ "household": u.form.household, "serial": u.form.serial, "enumerator": u.form.enumerator, "device": u.form.device, "seq": u.form.seq, "reason": u.reason }))
        .collect();
    Ok(Json(serde_json::json!({ "index": c.report, "straight_lined": c.straight_lined, "unopenable": unopenable })).into_response())
}
