//! The one door to the centre's pages. Every request to a page passes [`identify`] once: it
//! resolves where the request comes from and whose session it carries, and afterwards writes
//! the audit rows no handler has to remember — every refusal of a signed-in user (a page of
//! another district, a role's page, a stale form) and every page read. A campaign's pages
//! (under `/c/<campaign>/`) pass [`enter_campaign`] too: the account must be granted the
//! campaign (else 404, as if it did not exist), and it is seen there with its districts in that
//! campaign. Handlers then name who may come in with an extractor: [`Signed<A>`] for a page,
//! [`Posted<A, F>`] for a form, which also checks the session's CSRF token, and
//! [`InCampaign`] for the campaign's intake. A page never repeats these checks itself.

use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::{request::Parts, Method},
    middleware::Next,
};
use serde::de::DeserializeOwned;
use std::{marker::PhantomData, net::IpAddr};

use super::prelude::*;
use crate::accounts::Role;

pub(super) const SESSION_COOKIE: &str = "fp_session";

pub(super) const LOGIN_CSRF_COOKIE: &str = "fp_login_csrf";

pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

pub(super) fn set_cookie(centre: &Centre, name: &str, value: &str, max_age: i64) -> String {
    let secure = if centre.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// Who is asking: the account behind a live session cookie, with the session's CSRF token,
/// and the campaign whose pages they are on.
#[derive(Clone)]
pub(super) struct Visitor {
    pub(super) account: Account,
    pub(super) csrf: String,
    pub(super) here: Option<Here>,
}

/// The campaign a page belongs to.
#[derive(Clone)]
pub(super) struct Here {
    pub(super) id: String,
    pub(super) name: String,
    /// Its family, whose years the comparison page sets side by side.
    pub(super) family: String,
}

impl Visitor {
    /// A path of the campaign being looked at (`/c/<campaign>/…`); the path itself outside one.
    pub(super) fn at(&self, path: &str) -> String {
        match &self.here {
            Some(h) => campaign_path(&h.id, path),
            None => path.to_string(),
        }
    }
}

impl Visitor {
    /// The id of the campaign being looked at ("" outside one).
    pub(super) fn campaign_id(&self) -> &str {
        self.here.as_ref().map(|h| h.id.as_str()).unwrap_or("")
    }
}

/// Where a campaign's page is.
pub(super) fn campaign_path(campaign: &str, path: &str) -> String {
    format!("/c/{campaign}{path}")
}

/// The campaign's intake, for a handler of its pages (set by [`enter_campaign`]).
pub(super) struct InCampaign(pub(super) Arc<Intake>);

impl<S: Send + Sync> FromRequestParts<S> for InCampaign {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts
            .extensions
            .get::<Arc<Intake>>()
            .cloned()
            .map(InCampaign)
            .ok_or_else(|| IntakeError::NotFound.into_response())
    }
}

/// Whether a path is for programs — the pages' JSON API, or the devices' protocol — whose
/// refusals stay JSON.
fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
        || sync_protocol::api::is_protocol_path(path)
        || path
            .strip_prefix("/c/")
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(_, rest)| rest.starts_with("api/"))
}

/// The middleware in front of a campaign's pages (see the module's docs). Nobody signed in is
/// sent to log in, whatever the campaign: whether one exists is no stranger's to learn.
pub(super) async fn enter_campaign(
    State(centre): State<Arc<Centre>>,
    Path(params): Path<std::collections::HashMap<String, String>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(mut visitor) = request.extensions().get::<Visitor>().cloned() else {
        return if is_api(request.uri().path()) {
            IntakeError::Unauthenticated("log in first: POST /login".into()).into_response()
        } else {
            to_login(request.method(), request.extensions(), request.uri())
        };
    };
    let id = params.get("campaign").cloned().unwrap_or_default();
    let c = centre.clone();
    let lookup = id.clone();
    let found = match blocking(move || c.campaign(&lookup)).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let exists = found.is_some();
    let Some(intake) = found.filter(|_| visitor.account.may_enter(&id)) else {
        let mut response = refused("refused_campaign", IntakeError::NotFound.into_response());
        // Filed under the campaign it tried, so its owner's view of the log shows the attempt
        // (an id no campaign has stays under the centre).
        if exists {
            response.extensions_mut().insert(Here {
                id,
                name: String::new(),
                family: String::new(),
            });
        }
        return response;
    };
    let (i, c, lookup) = (intake.clone(), centre.clone(), id.clone());
    let (name, family) = match blocking(move || {
        let family = c
            .entries()?
            .into_iter()
            .find(|e| e.id == lookup)
            .map(|e| e.family)
            .unwrap_or_default();
        Ok((i.store.campaign()?.info.name, family))
    })
    .await
    {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let here = Here {
        id: id.clone(),
        name,
        family,
    };
    visitor.account = visitor.account.in_campaign(&id);
    visitor.here = Some(here.clone());
    request.extensions_mut().insert(visitor);
    request.extensions_mut().insert(intake);
    let mut response = next.run(request).await;
    response.extensions_mut().insert(here);
    response
}

/// Where a request comes from (see [`Intake::client_address`]).
#[derive(Clone, Copy)]
pub(super) struct ClientAddress(pub(super) IpAddr);

/// Why a response refused a signed-in visitor, for the audit log.
#[derive(Clone, Copy)]
struct Refusal(&'static str);

/// A refusal in the error's JSON, which [`as_page`] shows to the person as a page.
fn told(status: StatusCode, message: String) -> Response {
    let body =
        sync_protocol::api::ErrorBody::new(sync_protocol::api::ErrorCode::BadRequest, message);
    (status, axum::Json(body)).into_response()
}

fn refused(reason: &'static str, mut response: Response) -> Response {
    response.extensions_mut().insert(Refusal(reason));
    response
}

/// The middleware in front of every page (see the module's docs).
pub(super) async fn identify(
    State(centre): State<Arc<Centre>>,
    mut request: Request,
    next: Next,
) -> Response {
    let socket = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip());
    let address = centre.client_address(socket, request.headers());
    let token = cookie(request.headers(), SESSION_COOKIE).map(String::from);
    let visitor = match token {
        None => None,
        Some(token) => {
            let c = centre.clone();
            match blocking(move || {
                Ok(c.accounts()
                    .session(&accounts::token_hash(&token), Utc::now())?)
            })
            .await
            {
                Ok(found) => found.map(|(account, csrf)| Visitor {
                    account,
                    csrf,
                    here: None,
                }),
                Err(e) => return e.into_response(),
            }
        }
    };
    request.extensions_mut().insert(ClientAddress(address));
    if let Some(v) = &visitor {
        request.extensions_mut().insert(v.clone());
    }
    let what = format!("{} {}", request.method(), request.uri().path());
    let read = request.method() == Method::GET;
    let wants_page = !is_api(request.uri().path());
    let back = way_back(&request);
    let mut response = next.run(request).await;
    if wants_page {
        response = as_page(response, visitor.as_ref(), &back).await;
    } else {
        response = as_error_json(response).await;
    }
    if let Some(v) = visitor {
        let status = response.status();
        let action = match response.extensions().get::<Refusal>() {
            Some(Refusal(reason)) => Some(*reason),
            None if status == StatusCode::NOT_FOUND => Some("refused_not_found"),
            None if status == StatusCode::FORBIDDEN => Some("refused_forbidden"),
            None if read && status.is_success() => Some("page_read"),
            None => None,
        };
        if let Some(action) = action {
            let campaign = response.extensions().get::<Here>().map(|h| h.id.clone());
            let (c, login) = (centre.clone(), v.account.login);
            let written = blocking(move || {
                let address = address.to_string();
                if action == "page_read" {
                    Ok(c.accounts().audit(
                        &login,
                        campaign.as_deref(),
                        action,
                        &what,
                        &address,
                        Utc::now(),
                    )?)
                } else {
                    // Refusals a flood would repeat are one row, counted.
                    c.audit_repeated(&login, campaign.as_deref(), action, &what, &address)
                }
            })
            .await;
            if let Err(e) = written {
                // A read that cannot be audited is not served.
                return e.into_response();
            }
        }
    }
    response
}

/// To the login page, which returns to the page asked for (a page read or its head, not a form
/// sent).
/// `uri` is the request's as the router saw it; inside a nested campaign router the path the
/// person asked for is the original one, kept in the extensions.
fn to_login(
    method: &Method,
    extensions: &axum::http::Extensions,
    uri: &axum::http::Uri,
) -> Response {
    let uri = extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(uri, |o| &o.0);
    let asked = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let reading = *method == Method::GET || *method == Method::HEAD;
    if !reading || asked == "/" {
        return Redirect::to("/login").into_response();
    }
    let query = serde_urlencoded::to_string([("next", asked)]).unwrap_or_default();
    Redirect::to(&format!("/login?{query}")).into_response()
}

/// Where an error page sends the person back to: the page they came from on this centre
/// (their form, as they filled it, is one step back in the browser), else the page asked for
/// without its query, else the first page.
fn way_back(request: &Request) -> String {
    let from_here = request
        .headers()
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| {
            let host = request.headers().get(header::HOST)?.to_str().ok()?;
            let path = r.split_once(host)?.1;
            path.starts_with('/').then(|| path.to_string())
        });
    from_here.unwrap_or_else(|| {
        let uri = request.uri();
        if request.method() == Method::GET && uri.query().is_some() {
            uri.path().to_string()
        } else {
            "/".to_string()
        }
    })
}

/// A refusal answered to a program: the plain text of a request the framework could not read
/// (a malformed query, in English) becomes the error JSON every other refusal is, with the
/// same status, said in Vietnamese first.
async fn as_error_json(response: Response) -> Response {
    let status = response.status();
    let is_plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|t| t.as_bytes().starts_with(b"text/plain"));
    // What the framework's extractors refuse with: a query, a body or its type not readable.
    let unreadable = matches!(
        status,
        StatusCode::BAD_REQUEST
            | StatusCode::UNSUPPORTED_MEDIA_TYPE
            | StatusCode::UNPROCESSABLE_ENTITY
    );
    if !unreadable || !is_plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let detail = axum::body::to_bytes(body, 4 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let body = sync_protocol::api::ErrorBody::new(
        sync_protocol::api::ErrorCode::BadRequest,
        format!("Một giá trị trong địa chỉ hoặc trong yêu cầu không đọc được; không có gì bị thay đổi. / A value in the address or the request could not be read ({detail}); nothing was changed."),
    );
    let mut json = (parts.status, axum::Json(body)).into_response();
    *json.extensions_mut() = parts.extensions;
    json
}

/// A refusal answered to a person, not to a program: the error's JSON — or the plain text of a
/// request the framework could not read (a malformed query) — becomes a page that says in
/// Vietnamese what happened and leads back, with the same status.
async fn as_page(response: Response, visitor: Option<&Visitor>, back: &str) -> Response {
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let is_json = content_type
        .as_ref()
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    let is_plain = content_type
        .as_ref()
        .is_none_or(|t| t.as_bytes().starts_with(b"text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !(is_json || is_plain) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Error bodies are a few hundred bytes; anything larger is not ours to show.
    let detail = axum::body::to_bytes(body, 64 * 1024)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<sync_protocol::api::ErrorBody>(&b).ok())
        .map(|b| crate::words::in_vietnamese(&b.message).to_string())
        .unwrap_or_default();
    let title = match status {
        StatusCode::NOT_FOUND => "Không tìm thấy",
        StatusCode::UNAUTHORIZED => "Cần đăng nhập",
        StatusCode::FORBIDDEN => "Không được phép",
        StatusCode::TOO_MANY_REQUESTS => "Quá nhiều lần thử",
        StatusCode::PAYLOAD_TOO_LARGE => "Dữ liệu gửi lên quá lớn",
        s if s.is_server_error() => "Máy chủ gặp lỗi",
        _ => "Không thực hiện được",
    };
    let explanation = match status {
        // The framework's own refusal of what it could not read: its words are English.
        StatusCode::BAD_REQUEST if !is_json => {
            "Một giá trị trong địa chỉ hoặc trong biểu mẫu không đọc được (ví dụ một ngày không có thật). Không có gì bị thay đổi."
        }
        StatusCode::NOT_FOUND => {
            "Trang hoặc mục này không có, hoặc nằm ngoài phạm vi tài khoản của bạn."
        }
        StatusCode::UNAUTHORIZED => "Phiên làm việc đã hết hoặc chưa đăng nhập.",
        StatusCode::METHOD_NOT_ALLOWED => {
            "Địa chỉ này không mở trực tiếp được; hãy dùng nút hoặc đường dẫn trên trang."
        }
        s if s.is_server_error() => "Không có gì bị thay đổi. Hãy thử lại sau ít phút.",
        _ => "Không có gì bị thay đổi. Hãy sửa lại rồi gửi lần nữa.",
    };
    let body = html! {
        p.error #problem { (explanation) }
        // A server error's detail is the device protocol's English; the page says it in Vietnamese.
        @if is_json && !detail.is_empty() && !status.is_server_error() && !matches!(status, StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED) { p #detail { (detail) } }
        p { @if visitor.is_some() {
            @if back != "/" { a #back href=(back) { "← Quay lại trang trước" } " · " }
            a href="/" { "Về trang đầu" }
        } @else { a href="/login" { "Đăng nhập" } } }
    };
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut page = page(title, visitor, body).into_response();
    *page.status_mut() = status;
    for (name, value) in parts.headers.iter() {
        page.headers_mut().insert(name.clone(), value.clone());
    }
    *page.extensions_mut() = parts.extensions;
    page
}

/// Who a page group admits.
pub(super) trait Audience: Send + Sync + 'static {
    fn admits(role: Role) -> bool;
}

/// Every signed-in account; supervisors see only their districts (the pages scope them).
pub(super) struct Staff;
/// The ministry's officers and admins.
pub(super) struct Ministry;
/// Admins only.
pub(super) struct Admins;
/// The ministry's officers only: the index's figures kept from its last computation (villages
/// included, never published) are read without the passphrase, so not by an admin, whose work
/// is accounts and devices.
pub(super) struct Officers;

impl Audience for Staff {
    fn admits(_: Role) -> bool {
        true
    }
}
impl Audience for Ministry {
    fn admits(role: Role) -> bool {
        role != Role::Supervisor
    }
}
impl Audience for Officers {
    fn admits(role: Role) -> bool {
        role == Role::Ministry
    }
}
impl Audience for Admins {
    fn admits(role: Role) -> bool {
        role == Role::Admin
    }
}

/// A signed-in visitor whom the audience `A` admits, and where they are. Nobody signed in: the
/// login page (401 for `/api/`). The wrong role: 404, as if the page did not exist.
pub(super) struct Signed<A> {
    pub(super) v: Visitor,
    pub(super) from: IpAddr,
    audience: PhantomData<A>,
}

impl<A: Audience, S: Send + Sync> FromRequestParts<S> for Signed<A> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let from = parts
            .extensions
            .get::<ClientAddress>()
            .map(|a| a.0)
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let Some(v) = parts.extensions.get::<Visitor>().cloned() else {
            return Err(if is_api(parts.uri.path()) {
                IntakeError::Unauthenticated("log in first: POST /login".into()).into_response()
            } else {
                to_login(&parts.method, &parts.extensions, &parts.uri)
            });
        };
        if !A::admits(v.account.role) {
            return Err(refused(
                "refused_role",
                IntakeError::NotFound.into_response(),
            ));
        }
        Ok(Signed {
            v,
            from,
            audience: PhantomData,
        })
    }
}

/// A form that carries the session's CSRF token in its `csrf` field.
pub(super) trait CsrfField {
    fn csrf(&self) -> &str;
}

impl CsrfField for std::collections::HashMap<String, String> {
    fn csrf(&self) -> &str {
        self.get("csrf").map(String::as_str).unwrap_or("")
    }
}

/// The largest form a page posts (a paper serial list of a whole province fits many times).
const FORM_MAX_BYTES: usize = 2 * 1024 * 1024;

/// A form posted by a visitor whom `A` admits, parsed, its CSRF token checked (403 otherwise).
pub(super) struct Posted<A, F> {
    pub(super) v: Visitor,
    pub(super) from: IpAddr,
    pub(super) form: F,
    audience: PhantomData<A>,
}

impl<A: Audience, F: DeserializeOwned + CsrfField + Send, S: Send + Sync> FromRequest<S>
    for Posted<A, F>
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let Signed { v, from, .. } = Signed::<A>::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, FORM_MAX_BYTES)
            .await
            .map_err(|_| {
                IntakeError::BodyTooLarge {
                    limit: FORM_MAX_BYTES,
                }
                .into_response()
            })?;
        let parsed = serde_urlencoded::from_bytes::<F>(&bytes);
        // The body may hold a passphrase: wipe it where this is the only copy of the buffer.
        if let Ok(mut only) = bytes.try_into_mut() {
            zeroize::Zeroize::zeroize(only.as_mut());
        }
        let form = parsed.map_err(|e| {
            refused(
                "refused_form_unreadable",
                told(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("Biểu mẫu thiếu hoặc sai một ô; hãy tải lại trang rồi điền lại. / The form cannot be read: {e}"),
                ),
            )
        })?;
        if !accounts::same_secret(&v.csrf, form.csrf()) {
            let message = "Biểu mẫu đã cũ hoặc bị giả mạo (kiểm tra CSRF không đạt); hãy tải lại trang. / The form is stale or forged; reload the page.";
            return Err(refused(
                "refused_csrf",
                told(StatusCode::FORBIDDEN, message.into()),
            ));
        }
        Ok(Posted {
            v,
            from,
            form,
            audience: PhantomData,
        })
    }
}

/// Implements [`CsrfField`] for forms with a `csrf` field.
macro_rules! csrf_forms {
    ($($form:ty),* $(,)?) => { $(impl $crate::web::door::CsrfField for $form { fn csrf(&self) -> &str { &self.csrf } })* };
}
pub(super) use csrf_forms;

/// Runs blocking store work off the async executor.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IntakeError> + Send + 'static,
) -> Result<T, IntakeError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| IntakeError::BadRequest(e.to_string()))?
}
