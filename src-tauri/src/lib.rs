//! # fieldpost-app — the enumerator's app
//!
//! A thin Tauri v2 shell over `field-client`: each command (on Tauri's thread pool, never on
//! the window's thread: a save's fsync must not hold up the keys still coming from the
//! keyboard) locks the device, calls one
//! function of the core for the campaign it names (a tablet may carry several, see
//! [`field_client::Campaigns`]), and returns what the screen shows. What screens show is built in
//! [`view`] (testable without Tauri); syncing runs off the UI thread in [`sync`]. The front end
//! is `ui/`, built into `ui/dist` and embedded at compile time.

pub mod camera;
pub mod error;
pub mod sync;
pub mod ui_state;
pub mod view;
pub mod webview;

use error::CommandError;
use field_client::{Campaigns, Client, HistoryEntry, Household, Mismatch, Parcel, RejectedEvent};
use serde_json::Value as Json;
use std::{collections::BTreeMap, path::PathBuf, sync::Mutex};
use sync_protocol::event::{Recipient, VisitOutcome};
use tauri::{Manager, State};

/// When the process started, and when the page first called in: for the start-up measure.
pub static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
static PAGE_UP: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();

pub struct AppState {
    campaigns: Mutex<Campaigns>,
    dir: PathBuf,
    sync: sync::SyncLock,
    keying: sync::Keying,
}

impl AppState {
    pub fn open(dir: PathBuf) -> Result<AppState, CommandError> {
        Ok(AppState {
            campaigns: Mutex::new(Campaigns::open(&dir)?),
            dir,
            sync: Default::default(),
            keying: Default::default(),
        })
    }

    fn all<T>(
        &self,
        f: impl FnOnce(&mut Campaigns) -> Result<T, field_client::ClientError>,
    ) -> Result<T, CommandError> {
        let mut campaigns = self
            .campaigns
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(f(&mut campaigns)?)
    }

    /// Runs `f` on the campaign's client.
    fn with<T>(
        &self,
        campaign: &str,
        f: impl FnOnce(&mut Client) -> Result<T, field_client::ClientError>,
    ) -> Result<T, CommandError> {
        self.all(|all| f(all.get_mut(campaign)?))
    }
}

type Answer<T> = Result<T, CommandError>;

#[derive(serde::Serialize)]
pub struct Keyed {
    pub validation: forms::validate::Validation,
    /// Answers cleared because the new one made their questions not apply.
    pub cleared: Vec<String>,
}

#[tauri::command(async)]
fn overview(state: State<AppState>) -> Answer<view::Tablet> {
    state.all(|all| {
        for c in all.clients_mut() {
            c.reload(); // the background sync may have refreshed the assignment
        }
        view::tablet(all)
    })
}

/// How the centre names this tablet on its devices page: the machine's own name where it has
/// one (two tablets of one enumerator are told apart before one is revoked).
fn device_label() -> String {
    let name = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|n| n.trim().chars().take(60).collect::<String>())
        .filter(|n| !n.is_empty());
    match name {
        Some(n) => format!("Máy tính bảng «{n}»"),
        None => "Máy tính bảng".to_string(),
    }
}

// Enrolling waits on the intake (a blocking HTTP client, up to its timeout) on a thread of its
// own: not the window's, which keeps drawing «Đang đăng ký…» and taking taps, and not the async
// runtime's, where a blocking client must not be made or dropped.
#[tauri::command]
async fn enroll<R: tauri::Runtime>(
    app: tauri::AppHandle<R>,
    url: String,
    code: String,
) -> Answer<view::Tablet> {
    tauri::async_runtime::spawn_blocking(move || {
        app.state::<AppState>().all(|all| {
            all.enroll(&url, &code, &device_label())?;
            view::tablet(all)
        })
    })
    .await
    .map_err(|e| CommandError::new("internal", e.to_string()))?
}

#[tauri::command(async)]
fn households(state: State<AppState>, campaign: String) -> Answer<Vec<Household>> {
    state.with(&campaign, |c| c.households())
}

#[tauri::command(async)]
fn history(
    state: State<AppState>,
    campaign: String,
    household: String,
) -> Answer<Vec<HistoryEntry>> {
    state.with(&campaign, |c| c.history(&household))
}

#[tauri::command(async)]
fn distribute(
    state: State<AppState>,
    campaign: String,
    household: String,
    recipient: Recipient,
    note: Option<String>,
) -> Answer<Household> {
    state.with(&campaign, |c| {
        c.distribute(&household, recipient, note)
            .and_then(|_| c.household(&household))
    })
}

#[tauri::command(async)]
fn collect(state: State<AppState>, campaign: String, household: String) -> Answer<Household> {
    state.with(&campaign, |c| {
        c.collect(&household).and_then(|_| c.household(&household))
    })
}

#[tauri::command(async)]
fn record_outcome(
    state: State<AppState>,
    campaign: String,
    household: String,
    outcome: VisitOutcome,
    note: Option<String>,
) -> Answer<Household> {
    state.with(&campaign, |c| {
        c.record_outcome(&household, outcome, note)
            .and_then(|_| c.household(&household))
    })
}

#[tauri::command(async)]
fn replace(state: State<AppState>, campaign: String, household: String) -> Answer<String> {
    state.with(&campaign, |c| c.replace(&household))
}

#[tauri::command(async)]
/// The sheet of the form version this household is keyed with.
fn keying_sheet(
    state: State<AppState>,
    campaign: String,
    household: String,
) -> Answer<view::KeyingSheet> {
    state.with(&campaign, |c| c.form_of(&household).map(view::keying_sheet))
}

#[tauri::command(async)]
fn key_answer(
    state: State<AppState>,
    campaign: String,
    household: String,
    pass: u8,
    question: String,
    value: Option<Json>,
) -> Answer<Keyed> {
    state.keying.keyed();
    state.with(&campaign, |c| {
        c.key_answer(&household, pass, &question, value)
            .map(|(validation, cleared)| Keyed {
                validation,
                cleared,
            })
    })
}

#[derive(serde::Serialize)]
pub struct KeyingState {
    pub answers: BTreeMap<String, Json>,
    pub validation: forms::validate::Validation,
}

/// What one keying pass holds so far (pass 2 never shows pass 1), and its validation.
#[tauri::command(async)]
fn keying_state(
    state: State<AppState>,
    campaign: String,
    household: String,
    pass: u8,
) -> Answer<KeyingState> {
    state.with(&campaign, |c| {
        let answers = c.answers(&household, pass)?;
        Ok(KeyingState {
            validation: forms::validate::validate(c.form_of(&household)?, &answers),
            answers,
        })
    })
}

#[tauri::command(async)]
fn finish_first_keying(
    state: State<AppState>,
    campaign: String,
    household: String,
) -> Answer<Household> {
    state.with(&campaign, |c| {
        c.finish_first_keying(&household)
            .and_then(|_| c.household(&household))
    })
}

#[tauri::command(async)]
fn mismatches(
    state: State<AppState>,
    campaign: String,
    household: String,
) -> Answer<Vec<Mismatch>> {
    state.with(&campaign, |c| c.mismatches(&household))
}

#[tauri::command(async)]
fn finish_verification(
    state: State<AppState>,
    campaign: String,
    household: String,
    resolutions: BTreeMap<String, Option<Json>>,
) -> Answer<Household> {
    state.with(&campaign, |c| {
        c.finish_verification(&household, &resolutions)
            .and_then(|_| c.household(&household))
    })
}

#[tauri::command(async)]
fn hand_over_parcel(
    state: State<AppState>,
    campaign: String,
    households: Vec<String>,
) -> Answer<String> {
    state.with(&campaign, |c| c.hand_over_parcel(&households))
}

#[tauri::command(async)]
fn parcels(state: State<AppState>, campaign: String) -> Answer<Vec<Parcel>> {
    state.with(&campaign, |c| c.parcels())
}

#[tauri::command(async)]
fn rejected_events(state: State<AppState>, campaign: String) -> Answer<Vec<RejectedEvent>> {
    state.with(&campaign, |c| c.rejected_events())
}

/// Starts a sync in the background; `false` if one is already running.
#[tauri::command(async)]
fn sync_now<R: tauri::Runtime>(app: tauri::AppHandle<R>, state: State<AppState>) -> bool {
    sync::start(app, state.dir.clone(), state.sync.clone())
}

#[tauri::command(async)]
fn ui_state_get(state: State<AppState>) -> Json {
    // The page's first call: the webview is up and its script runs.
    PAGE_UP.get_or_init(|| STARTED.get().map(|s| s.elapsed()).unwrap_or_default());
    ui_state::load(&state.dir)
}

/// The first screen is drawn and takes input. With `FIELDPOST_REPORT_STARTUP` set, prints the
/// start-up times (for `scripts/bench`), and exits too when it is `exit`.
#[tauri::command(async)]
fn ui_ready(app: tauri::AppHandle<impl tauri::Runtime>, screen: String) -> u128 {
    let ready = STARTED.get().map(|s| s.elapsed()).unwrap_or_default();
    if let Ok(mode) = std::env::var("FIELDPOST_REPORT_STARTUP") {
        let page = PAGE_UP.get().copied().unwrap_or_default();
        println!(
            "startup screen={screen} interactive_ms={} page_up_ms={}",
            ready.as_millis(),
            page.as_millis()
        );
        if mode == "exit" {
            app.exit(0);
        }
    }
    ready.as_millis()
}

#[tauri::command(async)]
fn ui_state_set(state: State<AppState>, value: Json) -> Answer<()> {
    ui_state::save(&state.dir, &value).map_err(|e| CommandError::new("storage", e.to_string()))
}

/// Where the device keeps its data: `FIELDPOST_DATA_DIR`, else the platform's app data folder.
fn data_dir(app: &tauri::App) -> PathBuf {
    std::env::var_os("FIELDPOST_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            app.path()
                .app_data_dir()
                .expect("the platform has an app data folder")
        })
}

/// Every command on `builder`: the app's own, and the mock runtime's in the command tests.
pub fn with_commands<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        overview,
        enroll,
        households,
        history,
        distribute,
        collect,
        record_outcome,
        replace,
        keying_sheet,
        key_answer,
        keying_state,
        finish_first_keying,
        mismatches,
        finish_verification,
        hand_over_parcel,
        parcels,
        rejected_events,
        sync_now,
        ui_state_get,
        ui_state_set,
        ui_ready
    ])
}

pub fn run() {
    with_commands(tauri::Builder::default())
        .setup(|app| {
            let dir = data_dir(app);
            let state = AppState::open(dir.clone()).map_err(|e| e.to_string())?;
            let enrolled = state.all(|c| Ok(!c.is_empty())).unwrap_or(false);
            // Before any thread of the app's own starts: it sets an environment variable.
            if enrolled {
                webview::paint_without_compositing();
            }
            webview::slow_caret_blink();
            sync::start_auto(
                app.handle().clone(),
                dir,
                state.sync.clone(),
                state.keying.clone(),
            );
            app.manage(state);
            // The window is made here, not from the configuration before this runs: how it
            // paints is decided when WebKit starts, and that depends on the enrollment.
            let config = app
                .config()
                .app
                .windows
                .first()
                .cloned()
                .ok_or("tauri.conf.json names the app's window")?;
            let window =
                tauri::WebviewWindowBuilder::from_config(app.handle(), &config)?.build()?;
            camera::allow_camera(&window);
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("the app starts");
}
