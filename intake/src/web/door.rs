//! The one door to the centre's pages: who is asking (the session), from where, and whether
//! they may — the role a page group admits and the CSRF token of every form.

use super::prelude::*;

pub(super) const SESSION_COOKIE: &str = "fp_session";

pub(super) const LOGIN_CSRF_COOKIE: &str = "fp_login_csrf";

pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

pub(super) fn set_cookie(intake: &Intake, name: &str, value: &str, max_age: i64) -> String {
    let secure = if intake.secure_cookies { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// Who is asking: the account behind a live session cookie, with the session's CSRF token.
pub(super) struct Visitor {
    pub(super) account: Account,
    pub(super) csrf: String,
}

pub(super) async fn visitor(intake: &Arc<Intake>, headers: &HeaderMap) -> Result<Option<Visitor>, IntakeError> {
    let Some(token) = cookie(headers, SESSION_COOKIE).map(String::from) else { return Ok(None) };
    let intake = intake.clone();
    let found = tokio::task::spawn_blocking(move || intake.store.session(&accounts::token_hash(&token), Utc::now()))
        .await
        .map_err(|e| IntakeError::BadRequest(e.to_string()))??;
    Ok(found.map(|(account, csrf)| Visitor { account, csrf }))
}

/// The ministry's pages: the ministry and admins only; to anyone else they do not exist.
pub(super) async fn ministry(intake: &Arc<Intake>, headers: &HeaderMap) -> Result<Result<Visitor, Response>, IntakeError> {
    match visitor(intake, headers).await? {
        None => Ok(Err(Redirect::to("/login").into_response())),
        Some(v) if v.account.role == accounts::Role::Supervisor => Err(IntakeError::NotFound),
        Some(v) => Ok(Ok(v)),
    }
}

pub(super) fn csrf_ok(v: &Visitor, given: &str) -> Result<(), Response> {
    if accounts::same_secret(&v.csrf, given) {
        Ok(())
    } else {
        Err((StatusCode::FORBIDDEN, "the form is stale or forged (CSRF check failed); reload the page").into_response())
    }
}

pub(super) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, IntakeError> + Send + 'static) -> Result<T, IntakeError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| IntakeError::BadRequest(e.to_string()))?
}

/// The admin pages: admins only; to anyone else they do not exist.
pub(super) async fn admin(intake: &Arc<Intake>, headers: &HeaderMap) -> Result<Result<Visitor, Response>, IntakeError> {
    match visitor(intake, headers).await? {
        None => Ok(Err(Redirect::to("/login").into_response())),
        Some(v) if v.account.role != accounts::Role::Admin => Err(IntakeError::NotFound),
        Some(v) => Ok(Ok(v)),
    }
}

pub(super) async fn api_visitor(intake: &Arc<Intake>, headers: &HeaderMap) -> Result<Visitor, IntakeError> {
    visitor(intake, headers).await?.ok_or_else(|| IntakeError::Unauthenticated("log in first: POST /login".into()))
}

pub(super) async fn api_ministry(intake: &Arc<Intake>, headers: &HeaderMap) -> Result<Visitor, IntakeError> {
    let v = api_visitor(intake, headers).await?;
    if v.account.role == accounts::Role::Supervisor {
        return Err(IntakeError::NotFound);
    }
    Ok(v)
}
