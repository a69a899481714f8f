//! Pages for the people at the centre, and the same data as JSON. Server-rendered HTML (maud
//! escapes everything it is given), no script.
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
mod layout;
mod login;
mod ministry;
mod public;
mod reassign;
mod supervisor;

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

    pub(super) use super::{door::*, layout::*, ministry::*, reassign::*, supervisor::*};
    pub(super) use crate::{
        accounts::{self, Account},
        error::IntakeError,
        progress::Report,
        service::Intake,
    };
}

use axum::response::Redirect;
use axum::{routing::get, Router};
use std::sync::Arc;

use crate::service::Intake;

/// The pages, behind [`door::identify`].
pub fn routes(intake: Arc<Intake>) -> Router<Arc<Intake>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/progress") }))
        .route("/login", get(login::login_page).post(login::login))
        .route("/public", get(public::public_page))
        .route("/ministry/publish", axum::routing::post(ministry::publish))
        .route(
            "/ministry/withdraw",
            axum::routing::post(ministry::withdraw),
        )
        .route("/logout", axum::routing::post(login::logout))
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
        .route("/api/ministry/index", axum::routing::post(api::index_json))
        .route(
            "/reassign",
            get(reassign::reassign_page).post(reassign::reassign),
        )
        .route(
            "/reassign/households",
            axum::routing::post(reassign::reassign_households),
        )
        .route("/reassign/rejected", axum::routing::post(reassign::resolve))
        .route(
            "/ministry/reconciliation",
            get(ministry::reconciliation_page),
        )
        .route(
            "/ministry/paper",
            axum::routing::post(ministry::record_paper),
        )
        .route(
            "/ministry/backcheck",
            get(ministry::backcheck_page).post(ministry::draw_backcheck),
        )
        .route(
            "/ministry/backcheck/outcome",
            axum::routing::post(ministry::backcheck_outcome),
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
        .route(
            "/ministry/correct/{household}",
            get(ministry::correction_page).post(ministry::correction),
        )
        .route("/admin", get(admin::admin_page))
        .route("/admin/audit", get(audit::audit_page))
        .route("/codes", get(codes::codes_page).post(codes::issue_code))
        .route(
            "/admin/account/action",
            axum::routing::post(admin::account_action),
        )
        .route("/admin/account", axum::routing::post(admin::admin_account))
        .route("/admin/code", axum::routing::post(admin::admin_code))
        .route("/admin/revoke", axum::routing::post(admin::admin_revoke))
        .route(
            "/ministry/index.csv",
            axum::routing::post(ministry::index_csv),
        )
        .route(
            "/ministry/index.xlsx",
            axum::routing::post(ministry::index_xlsx),
        )
        .route(
            "/ministry/answers.csv",
            axum::routing::post(ministry::answers_csv),
        )
        .route(
            "/ministry/answers.xlsx",
            axum::routing::post(ministry::answers_xlsx),
        )
        .layer(axum::middleware::from_fn_with_state(intake, door::identify))
}
