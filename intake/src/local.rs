//! The demo campaign served on an ephemeral port of 127.0.0.1 over a fresh SQLite file: what
//! tests, benchmarks and the other parts' end-to-end checks stand on. Real parts, nothing mocked.

use std::sync::Arc;

use crate::{demo, service::Intake};

pub struct LocalIntake {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    pub intake: Arc<Intake>,
    /// The data directory (`intake.db`, `intake.key`); removed when this is dropped.
    pub dir: tempfile::TempDir,
    pub runtime: tokio::runtime::Runtime,
}

/// The Quảng Trị 2024 demo, sealed to [`demo::fixed_ministry_key`], serving.
pub fn demo_on_loopback() -> LocalIntake {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let intake = Arc::new(crate::open(dir.path()).expect("a fresh intake opens"));
    let campaign = demo::quang_tri_2024(&demo::fixed_ministry_key().public());
    intake
        .store
        .import_campaign(&campaign, "{}", &[demo::sipas_form()], chrono::Utc::now())
        .expect("the demo imports");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    let app = crate::http::router(intake.clone());
    runtime.spawn(crate::serve::serve(
        listener,
        app,
        crate::serve::Limits::default(),
        None,
        std::future::pending(),
    ));
    LocalIntake {
        url,
        intake,
        dir,
        runtime,
    }
}
