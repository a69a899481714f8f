//! Public pages: logging in and out.

use super::prelude::*;

csrf_forms!(CsrfForm);

/// The login form; a field missing (a form of another page, a program) reads as empty, and
/// is then refused like a wrong password or a stale form, on the login page itself.
#[derive(serde::Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    pub(super) login: String,
    #[serde(default)]
    pub(super) password: zeroize::Zeroizing<String>,
    #[serde(default)]
    pub(super) csrf: String,
    /// The page asked for before logging in, where the person returns.
    #[serde(default)]
    pub(super) next: String,
}

/// A page of this centre to return to after logging in: a path of its own, never another
/// site (`//host`, `/\\host`) nor a header's worth of text.
pub(super) fn return_to(next: &str) -> Option<&str> {
    let fine = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2000
        && !next.chars().any(|c| c.is_control())
        && !next.starts_with("/login")
        && !next.starts_with("/logout");
    fine.then_some(next)
}

#[derive(serde::Deserialize, Default)]
pub(super) struct LoginQuery {
    #[serde(default)]
    next: String,
}

pub(super) fn login_form(
    centre: &Centre,
    message: Option<&str>,
    status: StatusCode,
    next: &str,
) -> Response {
    let csrf = accounts::new_token();
    let next = return_to(next).unwrap_or("");
    let body = html! {
        @if let Some(m) = message { p.error role="alert" { (m) } }
        form method="post" action="/login" {
            input type="hidden" name="csrf" value=(csrf);
            @if !next.is_empty() { input type="hidden" name="next" value=(next); }
            label { "Tên đăng nhập " input name="login" autocomplete="username" required; }
            label { "Mật khẩu " input name="password" type="password" autocomplete="current-password" required; }
            button { "Đăng nhập" }
        }
    };
    (
        status,
        [(
            header::SET_COOKIE,
            set_cookie(centre, LOGIN_CSRF_COOKIE, &csrf, 3600),
        )],
        page("Đăng nhập", None, body),
    )
        .into_response()
}

pub(super) async fn login_page(
    State(centre): State<Arc<Centre>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    // A query that does not read is no page to return to, not an error.
    let next = query
        .and_then(|q| serde_urlencoded::from_str::<LoginQuery>(&q).ok())
        .map(|q| q.next)
        .unwrap_or_default();
    login_form(&centre, None, StatusCode::OK, &next)
}

pub(super) async fn login(
    State(centre): State<Arc<Centre>>,
    axum::Extension(ClientAddress(from)): axum::Extension<ClientAddress>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, IntakeError> {
    if !cookie(&headers, LOGIN_CSRF_COOKIE).is_some_and(|c| accounts::same_secret(c, &form.csrf)) {
        // The page was open too long (its token lasts an hour) or the form did not come from it.
        return Ok(login_form(&centre, Some("Trang đăng nhập đã mở quá lâu hoặc không còn hợp lệ. Hãy đăng nhập lại trên trang này."), StatusCode::FORBIDDEN, &form.next));
    }
    let address = from.to_string();
    let next = form.next.clone();
    let c = centre.clone();
    let browser = cookie(&headers, accounts::KNOWN_BROWSER_COOKIE)
        .filter(|b| b.len() <= 128)
        .map(String::from);
    let outcome = tokio::task::spawn_blocking(move || {
        c.log_in(&form.login, &form.password, &address, browser.as_deref())
    })
    .await
    .map_err(|e| IntakeError::BadRequest(e.to_string()))?;
    match outcome {
        Ok(done) => {
            let mut response = (
                StatusCode::SEE_OTHER,
                [
                    (
                        header::SET_COOKIE,
                        set_cookie(
                            &centre,
                            SESSION_COOKIE,
                            &done.session,
                            accounts::SESSION_HOURS * 3600,
                        ),
                    ),
                    (
                        header::LOCATION,
                        // A path typed with Vietnamese letters goes back percent-encoded: a
                        // header is ASCII.
                        percent_encoding::utf8_percent_encode(
                            return_to(&next).unwrap_or("/"),
                            percent_encoding::CONTROLS,
                        )
                        .to_string(),
                    ),
                ],
            )
                .into_response();
            if let Some(browser) = done.new_browser {
                let known = set_cookie(
                    &centre,
                    accounts::KNOWN_BROWSER_COOKIE,
                    &browser,
                    accounts::KNOWN_BROWSER_DAYS * 86_400,
                );
                if let Ok(value) = header::HeaderValue::from_str(&known) {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
            }
            Ok(response)
        }
        Err(IntakeError::RateLimited { retry_after_secs }) => {
            let wait = if retry_after_secs < 60 {
                format!("{retry_after_secs} giây")
            } else {
                format!("{} phút", retry_after_secs.div_ceil(60))
            };
            let m = format!(
                "Đăng nhập sai quá nhiều lần; thử lại sau {wait}. Trình duyệt đã từng đăng nhập tài khoản này thì không phải chờ."
            );
            let mut slowed = login_form(&centre, Some(&m), StatusCode::TOO_MANY_REQUESTS, &next);
            crate::error::with_retry_after(&mut slowed, retry_after_secs);
            Ok(slowed)
        }
        Err(IntakeError::Unauthenticated(why)) if why == "account_disabled" => Ok(login_form(
            &centre,
            Some("Tài khoản này đã bị khoá. Hãy liên hệ quản trị viên để mở lại."),
            StatusCode::FORBIDDEN,
            &next,
        )),
        Err(IntakeError::Unauthenticated(_)) => Ok(login_form(
            &centre,
            Some("Tên đăng nhập hoặc mật khẩu không đúng."),
            StatusCode::UNAUTHORIZED,
            &next,
        )),
        Err(e) => Err(e),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct CsrfForm {
    pub(super) csrf: String,
}

pub(super) async fn logout(
    State(centre): State<Arc<Centre>>,
    headers: HeaderMap,
    Posted { v, from, .. }: Posted<Staff, CsrfForm>,
) -> Result<Response, IntakeError> {
    let token = cookie(&headers, SESSION_COOKIE)
        .unwrap_or_default()
        .to_string();
    let c = centre.clone();
    blocking(move || {
        c.accounts().end_session(&accounts::token_hash(&token))?;
        Ok(c.accounts().audit(
            &v.account.login,
            None,
            "logout",
            "",
            &from.to_string(),
            Utc::now(),
        )?)
    })
    .await?;
    Ok((
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                set_cookie(&centre, SESSION_COOKIE, "", 0),
            ),
            (header::LOCATION, "/login".to_string()),
        ],
    )
        .into_response())
}
