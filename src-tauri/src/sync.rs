//! Syncing off the UI thread. A sync (asked for, or started by itself when the network comes
//! back) runs on its own thread with its own connection to the device database, so keying
//! never waits for a 2G upload; one at a time. Progress and the end are Tauri events:
//! `sync://progress` (`Progress`) and `sync://done` (`SyncDone`).

use field_client::{AutoSync, Client, RetryPolicy, SyncReport};
use serde::Serialize;
use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};
use tauri::{AppHandle, Emitter, Runtime};

use crate::error::CommandError;

#[derive(Clone, Debug, Serialize)]
pub struct SyncDone {
    pub report: Option<SyncReport>,
    pub error: Option<CommandError>,
    /// Whether the user asked for it (else the network came back).
    pub asked: bool,
}

/// Set while a sync runs.
#[derive(Clone, Default)]
pub struct SyncLock(Arc<AtomicBool>);

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

fn run_once<R: Runtime>(
    app: &AppHandle<R>,
    client: &mut Client,
    asked: bool,
    auto: Option<&mut AutoSync>,
) {
    let mut progress = |p| {
        let _ = app.emit("sync://progress", p);
    };
    let result = match auto {
        Some(auto) => match client.sync_if_back(auto, RetryPolicy::default(), &mut progress) {
            Ok(None) => return, // nothing due, nothing to send, or still no network
            Ok(Some(report)) => Ok(report),
            Err(e) => Err(e),
        },
        None => client.sync(RetryPolicy::default(), &mut progress),
    };
    let done = match result {
        Ok(report) => SyncDone {
            report: Some(report),
            error: None,
            asked,
        },
        Err(e) => SyncDone {
            report: None,
            error: Some(e.into()),
            asked,
        },
    };
    let _ = app.emit("sync://done", done);
}

/// A sync the enumerator asked for; `false` if one is already running.
pub fn start<R: Runtime>(app: AppHandle<R>, dir: PathBuf, lock: SyncLock) -> bool {
    let Some(guard) = lock.try_start() else {
        return false;
    };
    std::thread::spawn(move || {
        let _guard = guard;
        match Client::open(&dir) {
            Ok(mut client) => run_once(&app, &mut client, true, None),
            Err(e) => {
                let _ = app.emit(
                    "sync://done",
                    SyncDone {
                        report: None,
                        error: Some(e.into()),
                        asked: true,
                    },
                );
            }
        }
    });
    true
}

/// Checks every few seconds whether there is something to send and the network is back.
pub fn start_auto<R: Runtime>(app: AppHandle<R>, dir: PathBuf, lock: SyncLock) {
    std::thread::spawn(move || {
        let mut auto = AutoSync::default();
        loop {
            std::thread::sleep(Duration::from_secs(5));
            let Some(guard) = lock.try_start() else {
                continue;
            };
            if let Ok(mut client) = Client::open(&dir) {
                if client.enrollment().is_ok() {
                    run_once(&app, &mut client, false, Some(&mut auto));
                }
            }
            drop(guard);
        }
    });
}
