//! Shared by the field-client tests: a real intake on 127.0.0.1 and answer fixtures.
#![allow(dead_code)]

pub mod proxy;

use serde_json::{json, Value};
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

/// Answers every relevant question of the form: fill all, then drop what does not apply.
pub fn answers_for(form: &forms::Form, variant: i64) -> BTreeMap<String, Value> {
    let mut a = BTreeMap::new();
    for q in &form.questions {
        let v = match &q.accepts {
            forms::load::Accepts::Code(codes) => json!(codes[((variant as usize) + q.id.len()) % codes.len()]),
            forms::load::Accepts::Codes(codes) => json!([codes[0], codes[codes.len() - 1]]),
            forms::load::Accepts::Integer { min, .. } => json!(min),
            forms::load::Accepts::Text { .. } => json!("Ý kiến"),
        };
        a.insert(q.id.clone(), v);
    }
    // Experience questions: "yes", so the satisfaction items apply.
    for i in 1..=7 {
        a.insert(format!("q8_{i}"), json!(1));
    }
    loop {
        let v = forms::validate::validate(form, &a);
        let not_applicable: Vec<String> =
            v.errors.iter().filter(|e| e.error == forms::validate::AnswerError::NotApplicable).map(|e| e.question.clone()).collect();
        if not_applicable.is_empty() {
            assert!(v.complete, "{v:?}");
            return a;
        }
        for q in not_applicable {
            a.remove(&q);
        }
    }
}

