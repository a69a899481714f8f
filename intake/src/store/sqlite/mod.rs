//! The embedded default: SQLite in WAL mode with `synchronous=FULL`, so a commit has reached
//! the disk (fsync) before any receipt leaves. Reads go through a small pool of connections.
//!
//! Writes go through one writer thread that owns the only writing connection (SQLite has one
//! writer anyway) and does **group commit**: it takes every write queued at that moment, runs
//! each in its own `SAVEPOINT` (so each is still all-or-nothing on its own), commits them with
//! one fsync, and only then hands each caller its result. Under load many batches share one
//! fsync; alone, a batch waits for nobody.
//!
//! A centre keeps two kinds of database, each with its own migrations: one per campaign
//! ([`campaign::SqliteStore`], `migrations/campaign/`) and the centre's own
//! ([`centre::SqliteCentre`], `migrations/centre/`). Both stand on [`Db`].

pub mod campaign;
pub mod centre;

pub use campaign::SqliteStore;
pub use centre::SqliteCentre;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use std::{
    path::{Path, PathBuf},
    sync::Mutex,
};

use super::StoreError;

/// A write: runs inside the group's transaction and returns how to report its result once
/// the group's commit is known (`None` = committed).
type Job = Box<dyn FnOnce(&Connection) -> Box<dyn FnOnce(Option<String>) + Send> + Send>;

/// Most writes that share one commit.
const MAX_GROUP: usize = 64;

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(crate) fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Migrates a database, refusing one written by a newer Fieldpost (never touching it).
pub(crate) fn migrate(conn: &mut Connection, runner: refinery::Runner) -> Result<(), StoreError> {
    let known = runner
        .get_migrations()
        .iter()
        .map(|m| m.version() as i64)
        .max()
        .unwrap_or(0);
    let applied: Option<i64> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='refinery_schema_history'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .map(|_| {
            conn.query_row(
                "SELECT COALESCE(MAX(version), 0) FROM refinery_schema_history",
                [],
                |r| r.get(0),
            )
        })
        .transpose()?;
    if let Some(found) = applied {
        if found > known {
            return Err(StoreError::NewerSchema { found, known });
        }
    }
    runner
        .run(conn)
        .map_err(|e| StoreError::Migration(e.to_string()))?;
    Ok(())
}

/// One SQLite file: its writer thread (group commit) and a pool of readers.
pub(crate) struct Db {
    path: PathBuf,
    writer: std::sync::mpsc::Sender<Job>,
    readers: Mutex<Vec<Connection>>,
}

impl Db {
    /// Opens (creating and migrating if need be) the database at `path`.
    pub(crate) fn open(path: &Path, runner: refinery::Runner) -> Result<Db, StoreError> {
        let mut writer = open_connection(path)?;
        migrate(&mut writer, runner)?;
        let (sender, jobs) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(writer, jobs))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the writer thread: {e}")))?;
        Ok(Db {
            path: path.to_owned(),
            writer: sender,
            readers: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.readers.lock().unwrap().pop();
        let conn = match conn {
            Some(c) => c,
            None => open_connection(&self.path)?,
        };
        let result = f(&conn);
        self.readers.lock().unwrap().push(conn);
        result
    }

    /// Runs `f` as one all-or-nothing write and returns once it is durably committed.
    pub(crate) fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (done, result) = std::sync::mpsc::sync_channel::<Result<T, StoreError>>(1);
        let job: Job = Box::new(move |conn| {
            let outcome = conn
                .execute_batch("SAVEPOINT write")
                .map_err(StoreError::from)
                .and_then(|_| f(conn));
            let undo = if outcome.is_ok() {
                "RELEASE write"
            } else {
                "ROLLBACK TO write; RELEASE write"
            };
            let outcome = match conn.execute_batch(undo) {
                Ok(()) => outcome,
                Err(e) => Err(e.into()),
            };
            Box::new(move |commit_error: Option<String>| {
                let _ = done.send(match commit_error {
                    None => outcome,
                    Some(e) => Err(StoreError::Corrupt(format!(
                        "the commit failed, nothing was stored: {e}"
                    ))),
                });
            })
        });
        self.writer
            .send(job)
            .map_err(|_| StoreError::Corrupt("the writer thread has stopped".into()))?;
        result.recv().map_err(|_| {
            StoreError::Corrupt("the write was abandoned (writer thread failed)".into())
        })?
    }
}

fn writer_loop(conn: Connection, jobs: std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            // Each job's report closure is never built; dropping the jobs tells the callers.
            tracing::error!(error = %e, "cannot begin a write transaction");
            continue;
        }
        let mut reports = Vec::with_capacity(group.len());
        let mut panicked = false;
        for job in group {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&conn))) {
                Ok(report) => reports.push(report),
                Err(_) => panicked = true,
            }
        }
        // A job that panicked may have left half its work: the whole group is rolled back.
        let commit_error = if panicked {
            let _ = conn.execute_batch("ROLLBACK");
            Some("a write in the same group failed".to_string())
        } else {
            match conn.execute_batch("COMMIT") {
                Ok(()) => None,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Some(e.to_string())
                }
            }
        };
        for report in reports {
            report(commit_error.clone());
        }
    }
}
