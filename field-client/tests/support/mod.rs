//! Shared by the field-client tests: a real intake on 127.0.0.1 and answer fixtures.
#![allow(dead_code)]

pub mod proxy;

use serde_json::Value;
use std::{collections::BTreeMap, net::SocketAddr, sync::Arc};
use intake::demo;

pub struct Centre {
    pub url: String,
    pub intake: Arc<intake::service::Intake>,
    pub dir: tempfile::TempDir,
    pub runtime: tokio::runtime::Runtime,
}

pub fn start_centre() -> Centre {
    let dir = tempfile::tempdir().unwrap();
    let intake = Arc::new(intake::open(dir.path()).unwrap());
    let campaign = demo::quang_tri_2024(&demo::fixed_ministry_key().public());
    intake.store.import_campaign(&campaign, "{}", chrono::Utc::now()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = intake::http::router(intake.clone()).into_make_service_with_connect_info::<SocketAddr>();
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    Centre { url, intake, dir, runtime }
}

/// Answers every relevant question of the form (see `forms::sample`).
pub fn answers_for(form: &forms::Form, variant: i64) -> BTreeMap<String, Value> {
    forms::sample::complete_answers(form, variant)
}
