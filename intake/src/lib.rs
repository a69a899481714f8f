//! # intake — Fieldpost's central server
//!
//! The centre that enforces the sync protocol. A reader's map, from the outside in:
//!
//! * [`http`] — axum routes; each handler parses, calls the service, maps the result.
//! * [`service`] — enrollment (one-time codes, rate limiting), device authentication,
//!   assignments, and the **integrity** layer of ingest: frame, encoding, limits, signature,
//!   device and campaign. A batch failing any of these is refused whole.
//! * [`store`] — the storage trait and its SQLite implementation. Chain checks (retry,
//!   gap, fork) and the **domain** layer run inside one durable transaction.
//! * [`domain`] — pure judgement of each event (assigned household, legal transition, sealed
//!   payload shape, new event id). A rejected event is kept with its reason; the batch is
//!   still accepted so the device's queue never blocks.
//! * [`campaign`] and [`demo`] — the campaign file format and the Quảng Trị 2024 demo.
//! * [`error`] — the one error type at the boundary, with stable codes.
//! * [`serve`] — the accept loop: timeouts, a minimum body rate, a connection cap, TLS and the
//!   security headers — what lets the centre face the open internet.
//! * [`web`] — the centre's pages, one file per group of users, behind one door.

pub mod accounts;
pub mod anomalies;
pub mod backup;
pub mod campaign;
pub mod demo;
pub mod demo_fieldwork;
pub mod domain;
pub mod error;
pub mod form_files;
pub mod http;
pub mod keyfile;
pub mod local;
pub mod ministry_key;
pub mod progress;
pub mod publication;
pub mod reconcile;
pub mod serve;
pub mod service;
pub mod store;
pub mod web;
pub mod wipe;
pub mod words;

use std::path::Path;

/// Opens the centre stored in `data_dir` (`centre.db`, `campaigns/`, `intake.key`), creating it
/// if new (see [`service::open_sqlite`]).
pub fn open(data_dir: &Path) -> Result<service::Centre, String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    // The databases hold names and addresses of households: owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700));
    }
    let key = keyfile::load_or_create(&data_dir.join("intake.key"))?;
    service::open_sqlite(data_dir, key).map_err(|e| e.to_string())
}
