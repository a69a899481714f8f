//! The demo campaign served on an ephemeral port of 127.0.0.1 over a fresh SQLite centre: what
//! tests, benchmarks and the other parts' end-to-end checks stand on. Real parts, nothing mocked.

use std::sync::Arc;

use crate::{
    demo,
    service::{Centre, Intake},
};

pub struct LocalIntake {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    /// The whole centre (accounts, every campaign).
    pub centre: Arc<Centre>,
    /// The Quảng Trị demo campaign's intake.
    pub intake: Arc<Intake>,
    /// The data directory; removed when this is dropped.
    pub dir: tempfile::TempDir,
    pub runtime: tokio::runtime::Runtime,
}

/// The Quảng Trị 2024 demo, sealed to [`demo::fixed_ministry_key`], serving.
pub fn demo_on_loopback() -> LocalIntake {
    serving(demo::quang_tri_2024(&demo::fixed_ministry_key().public()))
}

/// A fresh SQLite centre holding `campaign` (with the SIPAS form), serving on loopback.
fn serving(campaign: crate::campaign::Campaign) -> LocalIntake {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let centre = Arc::new(crate::open(dir.path()).expect("a fresh centre opens"));
    centre
        .import(&campaign, "{}", &[demo::sipas_form()], chrono::Utc::now())
        .expect("the campaign imports");
    let intake = centre
        .campaign(&campaign.id)
        .expect("the registry reads")
        .expect("the campaign is there");
    let (url, runtime) = serve_at(centre.clone(), "127.0.0.1:0");
    LocalIntake {
        url,
        centre,
        intake,
        dir,
        runtime,
    }
}

/// The enumerator of [`with_backlog`].
pub const BACKLOG_ENUMERATOR: &str = "enum-backlog";

/// A centre whose one enumerator, [`BACKLOG_ENUMERATOR`], holds at least `households` sampled
/// households — whole villages of a campaign shaped like two Quảng Trị provinces — for a device
/// with a national-size backlog; serving like [`demo_on_loopback`].
pub fn with_backlog(households: usize) -> LocalIntake {
    let mut campaign = demo::shaped_like_quang_tri(2, &demo::fixed_ministry_key().public());
    let mut taken = Vec::new();
    for (.., village) in campaign.villages() {
        if taken.len() * demo::HOUSEHOLDS_PER_VILLAGE >= households {
            break;
        }
        taken.push(village.id.clone());
    }
    for e in &mut campaign.enumerators {
        e.villages.retain(|v| !taken.contains(v));
    }
    campaign.enumerators.retain(|e| !e.villages.is_empty());
    campaign.enumerators.push(crate::campaign::Enumerator {
        id: BACKLOG_ENUMERATOR.into(),
        name: "Nguyễn Văn Tồn (Bưu điện)".into(),
        villages: taken,
    });
    serving(campaign)
}

/// Serves `centre` on `address` (`127.0.0.1:0` for any free port) until the runtime is
/// dropped; its URL.
pub fn serve_at(centre: Arc<Centre>, address: &str) -> (String, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(address))
        .expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    let app = crate::http::router(centre);
    runtime.spawn(crate::serve::serve(
        listener,
        app,
        crate::serve::Limits::default(),
        None,
        std::future::pending(),
    ));
    (url, runtime)
}

impl LocalIntake {
    /// Adds the Bình Dương 2024 demo (its form from the XLSForm workbook), sealed to
    /// [`demo::fixed_owner_key`]; returns its intake.
    pub fn add_binh_duong(&self) -> Arc<Intake> {
        let campaign = demo::binh_duong_2024(&demo::fixed_owner_key().public());
        self.centre
            .import(
                &campaign,
                "{}",
                &[demo::binh_duong_form()],
                chrono::Utc::now(),
            )
            .expect("the Bình Dương demo imports");
        self.centre
            .campaign(demo::BINH_DUONG_CAMPAIGN_ID)
            .expect("the registry reads")
            .expect("the Bình Dương demo is there")
    }
}

/// A real `intake serve` process (the binary at `binary`, with `args` naming the place and any
/// other flags, listening where `listen` says) — what tests and benchmarks kill, restart and
/// send to. Its standard error goes to ours when `show_errors`, else nowhere.
pub struct ServeProcess {
    pub child: std::process::Child,
    /// `http://127.0.0.1:<port>`, as the server printed it once listening.
    pub url: String,
}

impl ServeProcess {
    pub fn start(
        binary: &std::path::Path,
        args: &[String],
        listen: &str,
        show_errors: bool,
    ) -> std::io::Result<ServeProcess> {
        use std::io::BufRead;
        let mut child = std::process::Command::new(binary)
            .arg("serve")
            .args(args)
            .args(["--listen", listen])
            .env("RUST_LOG", if show_errors { "warn" } else { "error" })
            .stdout(std::process::Stdio::piped())
            .stderr(if show_errors {
                std::process::Stdio::inherit()
            } else {
                std::process::Stdio::null()
            })
            .spawn()?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        let Some(url) = line
            .split_whitespace()
            .last()
            .filter(|u| u.starts_with("http"))
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other(format!(
                "the intake did not start on {listen}"
            )));
        };
        Ok(ServeProcess {
            url: url.to_string(),
            child,
        })
    }

    /// SIGKILL, and wait for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
