//! Syncing off the UI thread. A sync (asked for, or started by itself when the network comes
//! back) runs on its own thread with its own connections to the campaigns' databases, so
//! keying never waits for a 2G upload; one at a time, every campaign in turn. What it does is
//! told to the screens as one Tauri event, `sync`, carrying a [`SyncEvent`]: one event, so the
//! page listens once (each listener costs a start-up a round trip through the webview).

use field_client::{AutoSync, Campaigns, Client, RetryPolicy, SyncReport};
use serde::Serialize;
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use tauri::{AppHandle, Emitter, Runtime};

use crate::error::CommandError;

#[derive(Clone, Debug, Serialize)]
pub struct SyncDone {
    pub report: Option<SyncReport>,
    pub error: Option<CommandError>,
    /// Whether the user asked for it (else the network came back).
    pub asked: bool,
    /// The campaigns that synced, by name; and the one whose sync failed.
    pub campaigns: Vec<String>,
    pub failed: Option<String>,
}

/// The `sync` event's payload: `{"kind": "progress" | "unreachable" | "done", "of": …}`.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", content = "of", rename_all = "snake_case")]
pub enum SyncEvent {
    Progress(field_client::Progress),
    Unreachable(Unreachable),
    Done(SyncDone),
}

fn tell<R: Runtime>(app: &AppHandle<R>, event: SyncEvent) {
    let _ = app.emit("sync", event);
}

/// The intake could not be reached by the automatic sync: when it tries again, for the banner.
#[derive(Clone, Debug, Serialize)]
pub struct Unreachable {
    pub retry_in_secs: u64,
    pub tries: u32,
}

/// Set while a sync runs.
#[derive(Clone, Default)]
pub struct SyncLock(Arc<AtomicBool>);

/// When the enumerator last saved an answer: the automatic sync waits for a pause in the keys
/// (see [`AutoSync`]).
#[derive(Clone, Default)]
pub struct Keying(Arc<std::sync::Mutex<Option<Instant>>>);

impl Keying {
    pub fn keyed(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    fn last(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Clears the lock when the sync's thread ends, however it ends.
struct Running(Arc<AtomicBool>);

impl SyncLock {
    fn try_start(&self) -> Option<Running> {
        self.0
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .ok()
            .map(|_| Running(self.0.clone()))
    }

    pub fn running(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Syncs every campaign the tablet carries, one after another (each its own intake, key and
/// chain), and tells the screens once, with what all of them did.
fn run_once<R: Runtime>(
    app: &AppHandle<R>,
    dir: &Path,
    asked: bool,
    mut auto: Option<(&mut HashMap<PathBuf, AutoSync>, Option<Instant>)>,
) {
    let mut progress = |p| tell(app, SyncEvent::Progress(p));
    let slots = match Campaigns::dirs(dir).and_then(|d| Ok((d, Campaigns::key_of(dir)?))) {
        Ok(found) => found,
        Err(e) => return done(app, SyncDone::failed(e.into(), asked)),
    };
    let (mut total, mut error, mut any) = (SyncReport::default(), None, false);
    let (mut synced, mut failed) = (Vec::new(), None);
    for slot in slots.0 {
        let mut client = match Client::open_with_key(&slot, slots.1.clone()) {
            Ok(c) => c,
            Err(e) => {
                error.get_or_insert(CommandError::from(e));
                continue;
            }
        };
        let result = match auto.as_mut() {
            Some((auto, last_key)) => {
                let auto = auto.entry(slot.clone()).or_default();
                if let Some(at) = *last_key {
                    auto.keyed(at);
                }
                let tries = auto.failed_tries;
                let outcome = client.sync_if_back(auto, RetryPolicy::default(), &mut progress);
                if auto.failed_tries > tries {
                    // A try that found no intake: the banner says so, and when the next is.
                    let retry_in_secs = auto
                        .retry_in(std::time::Instant::now())
                        .map_or(0, |d| d.as_secs());
                    tell(
                        app,
                        SyncEvent::Unreachable(Unreachable {
                            retry_in_secs,
                            tries: auto.failed_tries,
                        }),
                    );
                }
                match outcome {
                    Ok(None) => continue, // nothing due, nothing to send, or still no network
                    other => other.map(|r| r.unwrap_or_default()),
                }
            }
            None => client.sync(RetryPolicy::default(), &mut progress),
        };
        any = true;
        let name = client
            .assignment()
            .map(|a| a.campaign.name)
            .or_else(|_| client.enrollment().map(|e| e.campaign))
            .unwrap_or_default();
        match result {
            Ok(r) => {
                total.batches_acknowledged += r.batches_acknowledged;
                total.events_acknowledged += r.events_acknowledged;
                total.events_rejected += r.events_rejected;
                synced.push(name);
            }
            Err(e) => {
                if error.is_none() {
                    error = Some(e.into());
                    failed = Some(name);
                }
            }
        }
    }
    if any || asked {
        let report = error.is_none().then_some(total);
        done(
            app,
            SyncDone {
                report,
                error,
                asked,
                campaigns: synced,
                failed,
            },
        );
    }
}

impl SyncDone {
    /// Before any campaign: the tablet's own storage failed.
    fn failed(error: CommandError, asked: bool) -> SyncDone {
        SyncDone {
            report: None,
            error: Some(error),
            asked,
            campaigns: Vec::new(),
            failed: None,
        }
    }
}

fn done<R: Runtime>(app: &AppHandle<R>, outcome: SyncDone) {
    tell(app, SyncEvent::Done(outcome));
}

/// A sync the enumerator asked for; `false` if one is already running.
pub fn start<R: Runtime>(app: AppHandle<R>, dir: PathBuf, lock: SyncLock) -> bool {
    let Some(guard) = lock.try_start() else {
        return false;
    };
    std::thread::spawn(move || {
        let _guard = guard;
        run_once(&app, &dir, true, None);
    });
    true
}

/// Checks every few seconds whether there is something to send and the network is back.
pub fn start_auto<R: Runtime>(app: AppHandle<R>, dir: PathBuf, lock: SyncLock, keying: Keying) {
    std::thread::spawn(move || {
        let mut auto = HashMap::new();
        loop {
            std::thread::sleep(Duration::from_secs(5));
            let Some(guard) = lock.try_start() else {
                continue;
            };
            run_once(&app, &dir, false, Some((&mut auto, keying.last())));
            drop(guard);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `sync` event as the page reads it: `ui/tests/fixtures/sync-events.json` is what the
    /// page's own tests hand its listener (`ui/tests/banner.test.ts`).
    #[test]
    fn the_sync_event_is_what_the_page_reads() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../ui/tests/fixtures/sync-events.json")).unwrap();
        let events = [
            SyncEvent::Progress(field_client::Progress {
                events_sent: 3,
                events_total: 54,
                bytes_sent: 1200,
                bytes_total: 20480,
            }),
            SyncEvent::Unreachable(Unreachable {
                retry_in_secs: 40,
                tries: 2,
            }),
            SyncEvent::Done(SyncDone {
                report: Some(SyncReport {
                    batches_acknowledged: 2,
                    events_acknowledged: 54,
                    events_rejected: 1,
                }),
                error: None,
                asked: true,
                campaigns: vec!["SIPAS 2024 — Quảng Trị".into()],
                failed: None,
            }),
        ];
        assert_eq!(serde_json::to_value(events).unwrap(), fixture);
    }
}
