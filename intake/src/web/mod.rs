//! Pages for the people at the centre, and the same data as JSON. Server-rendered HTML (maud
//! escapes everything it is given), no script. A centre holds several campaigns: its own pages
//! list them, and each campaign's pages live under `/c/<campaign>/`.
//!
//! Access: a session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind TLS) made fresh at
//! every login, so a cookie planted before login is worthless (no session fixation); every
//! form carries the session's CSRF token (the login form a pre-session one, double-submitted);
//! wrong passwords are limited per login and address; every login is in the audit log. A
//! supervisor sees the progress of their districts only — counts, never an answer; another
//! district's page answers 404, as if it did not exist.

mod admin;
mod api;
mod audit;
mod codes;
mod door;
mod home;
mod layout;
mod login;
mod ministry;
mod public;
mod reassign;
mod said;
mod supervisor;
mod years;

pub use layout::inert_in_a_spreadsheet;

/// What every page module uses.
mod prelude {
    pub(super) use axum::{
        extract::{ConnectInfo, Form, Path, State},
        http::{header, HeaderMap, StatusCode},
        response::{Html, IntoResponse, Redirect, Response},
        Json,
    };
    pub(super) use chrono::{Datelike, Utc};
    pub(super) use maud::{html, Markup, DOCTYPE};
    pub(super) use std::{net::SocketAddr, sync::Arc};

    pub(super) use super::{
        door::*,
        layout::*,
        ministry::*,
        reassign::*,
        said::{CodeSlip, Messages, Said},
        supervisor::*,
    };
    pub(super) use crate::{
        accounts::{self, Account},
        error::IntakeError,
        progress::Report,
        service::{Centre, Intake},
    };
    pub(super) use axum::Extension;
}

use axum::{
    routing::{get, post},
    Router,
};
use std::sync::Arc;

use crate::{error::IntakeError, service::Centre};

/// The pages, behind [`door::identify`]: the centre's own (logging in, the campaigns one may
/// see, accounts, the audit log, the comparison of years, what is public) and, under
/// `/c/<campaign>/`, each campaign's, behind [`door::enter_campaign`] as well.
pub fn routes(centre: Arc<Centre>) -> Router<Arc<Centre>> {
    Router::new()
        .route("/", get(home::home_page))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/public", get(public::public_list))
        .route("/public/{campaign}", get(public::public_page))
        .route("/compare/{family}", get(years::compare_page))
        .route("/compare/{family}/table.csv", get(years::compare_csv))
        .route("/compare/{family}/table.xlsx", get(years::compare_xlsx))
        .route("/admin", get(admin::admin_page))
        .route("/admin/audit", get(audit::audit_page))
        .route("/admin/account/action", post(admin::account_action))
        .route("/admin/account", post(admin::admin_account))
        .route("/c/{campaign}/", get(home::campaign_with_slash))
        .nest("/c/{campaign}", campaign_routes(centre.clone()))
        .fallback(without_trailing_slash)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::Extension(Arc::new(said::Messages::default())))
        .layer(axum::middleware::from_fn_with_state(centre, door::identify))
}

/// An address that is no page, unless it is one with a slash added (`progress/`, as people
/// type and shorten addresses): that is sent to the page, whoever asks (so it tells nothing the
/// page's own answer does not), for reading only. Never to another site (`//host/`).
async fn without_trailing_slash(
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let reading = method == axum::http::Method::GET || method == axum::http::Method::HEAD;
    match uri.path().strip_suffix('/') {
        Some(page)
            if reading
                && page.len() > 1
                && !page.ends_with('/')
                && !page.starts_with("//")
                && !page.contains('\\') =>
        {
            let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            axum::response::Redirect::permanent(&format!("{page}{query}")).into_response()
        }
        _ => IntakeError::NotFound.into_response(),
    }
}

/// A wrong method on a page: 405 only to whom the page is for; to anyone else 404, as for a
/// path that does not exist (the answer does not tell that the page is there).
async fn wrong_method(request: axum::extract::Request) -> IntakeError {
    use door::Audience;
    let path = request.uri().path();
    let role = request
        .extensions()
        .get::<door::Visitor>()
        .map(|v| v.account.role);
    let admitted = role.is_some_and(|role| {
        if path.starts_with("/admin") || path.contains("/devices") {
            door::Admins::admits(role)
        } else if path.starts_with("/compare") {
            door::Officers::admits(role)
        } else if path.contains("/ministry/") {
            door::Ministry::admits(role)
        } else {
            door::Staff::admits(role)
        }
    });
    if admitted {
        IntakeError::MethodNotAllowed
    } else {
        IntakeError::NotFound
    }
}

/// One campaign's pages; every path here is under `/c/<campaign>`.
fn campaign_routes(centre: Arc<Centre>) -> Router<Arc<Centre>> {
    Router::new()
        .route("/", get(supervisor::campaign_home))
        .route("/ministry/publish", post(ministry::publish))
        .route("/ministry/withdraw", post(ministry::withdraw))
        .route(
            "/ministry/targets",
            get(years::targets_page).post(years::set_target),
        )
        .route("/progress", get(supervisor::progress_page))
        .route("/progress/district/{id}", get(supervisor::district_page))
        .route("/progress/report", get(supervisor::period_report))
        .route("/api/progress", get(api::progress_json))
        .route("/api/rejected", get(api::rejected_json))
        .route("/api/report", get(api::report_json))
        .route(
            "/api/ministry/reconciliation",
            get(api::reconciliation_json),
        )
        .route("/api/ministry/anomalies", get(api::anomalies_json))
        .route("/api/ministry/backcheck", get(api::backcheck_json))
        .route("/api/ministry/reviews", get(api::reviews_json))
        .route("/api/ministry/index", post(api::index_json))
        .route(
            "/reassign",
            get(reassign::reassign_page).post(reassign::reassign),
        )
        .route("/reassign/households", post(reassign::reassign_households))
        .route("/reassign/rejected", post(reassign::resolve))
        .route(
            "/ministry/reconciliation",
            get(ministry::reconciliation_page),
        )
        .route("/ministry/paper", post(ministry::record_paper))
        .route("/ministry/paper/withdraw", post(ministry::withdraw_paper))
        .route(
            "/ministry/backcheck",
            get(ministry::backcheck_page).post(ministry::draw_backcheck),
        )
        .route(
            "/ministry/backcheck/outcome",
            post(ministry::backcheck_outcome),
        )
        .route("/ministry/backcheck/draw/{id}", get(ministry::draw_page))
        .route(
            "/ministry/index",
            get(ministry::index_page).post(ministry::index_results),
        )
        .route("/ministry/anomalies", get(ministry::anomalies_page))
        .route(
            "/ministry/review",
            get(ministry::review_page).post(ministry::review),
        )
        .route("/ministry/review/approve", post(ministry::approve_checked))
        .route(
            "/ministry/review/{household}",
            get(ministry::sheet_review_page).post(ministry::sheet_review_open),
        )
        .route(
            "/ministry/correct/{household}",
            get(ministry::correction_page).post(ministry::correction),
        )
        .route("/codes", get(codes::codes_page).post(codes::issue_code))
        .route("/codes/issued", get(codes::issued_page))
        .route("/devices", get(admin::devices_page))
        .route("/devices/code", post(codes::issue_code))
        .route("/devices/revoke", post(admin::admin_revoke))
        .route("/ministry/index.csv", post(ministry::index_csv))
        .route("/ministry/index.xlsx", post(ministry::index_xlsx))
        .route("/ministry/answers.csv", post(ministry::answers_csv))
        .route("/ministry/answers.xlsx", post(ministry::answers_xlsx))
        .layer(axum::middleware::from_fn_with_state(
            centre,
            door::enter_campaign,
        ))
}
