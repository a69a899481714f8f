//! The embedded default: SQLite in WAL mode, where a commit has reached the disk (fsync)
//! before any receipt leaves. Reads go through a small pool of connections.
//!
//! Writes go through one writer thread that owns the only writing connection (SQLite has one
//! writer anyway) and does **group commit**: it takes every write queued at that moment, runs
//! each in its own `SAVEPOINT` (so each is still all-or-nothing on its own) and commits them
//! together. Under load many batches share one commit; alone, a batch waits for nobody.
//!
//! The fsync is not the writer's: its connection commits with `synchronous=NORMAL` (the log is
//! written, not yet synced), and a **syncer** thread syncs the log and only then hands each
//! caller of the groups committed before it its result. The writer meanwhile runs the next
//! group's statements, so the disk's latency and the writer's work overlap instead of adding
//! up. The log's frames are checksummed in order, so what a power cut leaves of it is whole
//! commits up to some point, and every commit a caller heard of is before it. A read hands
//! back nothing a power cut could still take away: it returns once every commit it could have
//! seen is synced ([`Durability`]).
//!
//! A centre keeps one file per campaign ([`campaign_store`], `migrations/sqlite/campaign/`) and
//! its own ([`centre_store`], `migrations/sqlite/centre/`); both run the stores' SQL
//! ([`super::sql`]) through [`Db`].

use rusqlite::{params, Connection, OptionalExtension};
use std::{
    path::{Path, PathBuf},
    sync::Mutex,
};

use super::sql::{Backend, Dialect, RawTx, Row, Tx, Val, WriteFn};
use super::{CampaignEntry, StoreError};

mod campaign_migrations {
    refinery::embed_migrations!("migrations/sqlite/campaign");
}
mod centre_migrations {
    refinery::embed_migrations!("migrations/sqlite/centre");
}

/// A campaign's store in the SQLite file at `path`, created and migrated if need be. A
/// database written by a newer version is refused, never touched.
pub fn campaign_store(path: &Path) -> Result<super::campaign::SqlStore, StoreError> {
    super::campaign::SqlStore::open(Box::new(Db::open(
        path,
        campaign_migrations::migrations::runner(),
    )?))
}

/// The centre's own store in the SQLite file at `path` (`centre.db`).
pub fn centre_store(path: &Path) -> Result<super::centre::SqlCentre, StoreError> {
    Ok(super::centre::SqlCentre::new(Box::new(Db::open(
        path,
        centre_migrations::migrations::runner(),
    )?)))
}

/// One database object as `sqlite_master` lists it: (type, name, table, SQL).
pub(crate) type SchemaObject = (String, String, String, Option<String>);

/// The objects of a database the intake did not make itself are out of place in it (SQLite's
/// own `sqlite_*` aside), in a stable order.
pub(crate) fn schema_of(conn: &Connection) -> Result<Vec<SchemaObject>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The schema the intake's own migrations make: a campaign's, or the centre's.
pub(crate) fn own_schema(campaign: bool) -> Result<Vec<SchemaObject>, StoreError> {
    let mut conn = Connection::open_in_memory()?;
    let runner = if campaign {
        campaign_migrations::migrations::runner()
    } else {
        centre_migrations::migrations::runner()
    };
    migrate(&mut conn, runner)?;
    schema_of(&conn)
}

/// Every (type, name) any version of the intake's own migrations has made, a campaign's or
/// the centre's: a backup written by an earlier release may hold an object a later migration
/// drops (an index replaced by a narrower one), which the restore's migration then drops.
pub(crate) fn own_names_ever(
    campaign: bool,
) -> Result<std::collections::BTreeSet<(String, String)>, StoreError> {
    let runner = || {
        if campaign {
            campaign_migrations::migrations::runner()
        } else {
            centre_migrations::migrations::runner()
        }
    };
    let mut versions: Vec<i32> = runner()
        .get_migrations()
        .iter()
        .map(|m| m.version())
        .collect();
    versions.sort_unstable();
    let mut conn = Connection::open_in_memory()?;
    let mut names = std::collections::BTreeSet::new();
    for version in versions {
        runner()
            .set_target(refinery::Target::Version(version))
            .run(&mut conn)
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        names.extend(schema_of(&conn)?.into_iter().map(|o| (o.0, o.1)));
    }
    Ok(names)
}

/// A write: runs inside the group's transaction and returns how to report its result.
type Job = Box<dyn FnOnce(&Connection) -> Report + Send>;

/// Tells a write's caller its result once its group's commit is known and synced (`None` =
/// committed and on disk; else what went wrong).
type Report = Box<dyn FnOnce(Option<String>) + Send>;

/// Most writes that share one commit.
const MAX_GROUP: usize = 64;

/// How far the commits are on disk: counted by the writer before each commit, and by the
/// syncer once the log holding them is synced.
#[derive(Default)]
struct Durability {
    committed: std::sync::atomic::AtomicU64,
    synced: Mutex<u64>,
    on_disk: std::sync::Condvar,
}

impl Durability {
    /// Returns once every commit begun so far is on disk (at once when nothing waits).
    fn wait_for_commits_so_far(&self) {
        let wanted = self.committed.load(std::sync::atomic::Ordering::SeqCst);
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        while *synced < wanted {
            synced = self.on_disk.wait(synced).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn synced_up_to(&self, generation: u64) {
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        *synced = (*synced).max(generation);
        self.on_disk.notify_all();
    }
}

/// A group the writer has committed (or failed to), waiting for the log to be synced before
/// its callers hear.
struct Committed {
    generation: u64,
    reports: Vec<Report>,
    error: Option<String>,
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

/// Takes over a data directory made before a centre held several campaigns: registers the
/// campaign in `old` (a campaign database that still holds the accounts, sessions, wrong
/// passwords and audit log of that time) under `entry`, and copies those rows here, in one
/// transaction. Must run before `old` is opened as a campaign store (whose next migration
/// drops them). Returns false when `old` holds no accounts table any more (done before).
pub fn adopt_legacy(centre: &Path, old: &Path, entry: &CampaignEntry) -> Result<bool, StoreError> {
    let mut conn = open_connection(centre)?;
    conn.execute("ATTACH DATABASE ?1 AS old", [old.to_string_lossy()])?;
    let has_accounts: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM old.sqlite_master WHERE type = 'table' AND name = 'accounts')",
        [],
        |r| r.get(0),
    )?;
    if has_accounts {
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO campaigns VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                entry.id,
                entry.name,
                entry.storage,
                entry.family,
                entry.year,
                entry.added_at
            ],
        )?;
        tx.execute(
            "INSERT INTO accounts (login, name, role, password_hash, created_at, disabled_at)
             SELECT login, name, role, password_hash, created_at, disabled_at FROM old.accounts",
            [],
        )?;
        for statement in [
            "INSERT INTO account_campaigns SELECT login, ?1 FROM old.accounts WHERE role <> 'admin'",
            "INSERT INTO account_districts SELECT login, ?1, district_id FROM old.account_districts",
            "INSERT INTO audit_log (at, login, campaign, action, detail, address)
             SELECT at, login, ?1, action, detail, address FROM old.audit_log ORDER BY id",
        ] {
            tx.execute(statement, [&entry.id])?;
        }
        tx.execute("INSERT INTO sessions SELECT * FROM old.sessions", [])?;
        tx.execute(
            "INSERT INTO login_failures (at, login, address) SELECT at, login, address FROM old.login_failures",
            [],
        )?;
        tx.commit()?;
    }
    conn.execute("DETACH DATABASE old", [])?;
    Ok(has_accounts)
}

/// One SQLite file: its writer thread (group commit), its syncer and a pool of readers.
pub(crate) struct Db {
    path: PathBuf,
    writer: std::sync::mpsc::Sender<Job>,
    readers: Mutex<Vec<Connection>>,
    durability: std::sync::Arc<Durability>,
}

impl Db {
    /// Opens (creating and migrating if need be) the database at `path`.
    pub(crate) fn open(path: &Path, runner: refinery::Runner) -> Result<Db, StoreError> {
        let mut writer = open_connection(path)?;
        migrate(&mut writer, runner)?;
        // The syncer syncs the log before any caller hears of a commit (see the module's doc).
        writer.pragma_update(None, "synchronous", "NORMAL")?;
        // Each write's savepoint keeps the pages it changes until it is released; kept in
        // memory (one write's pages at most: the journal is emptied at each release) instead of
        // spilling past 64 KiB to a temporary file opened, written and deleted per write.
        writer.pragma_update(None, "temp_store", "MEMORY")?;
        let durability = std::sync::Arc::new(Durability::default());
        let mut log = path.as_os_str().to_owned();
        log.push("-wal");
        let (committed, to_sync) = std::sync::mpsc::channel::<Committed>();
        let on_disk = durability.clone();
        std::thread::Builder::new()
            .name("sqlite-syncer".into())
            .spawn(move || syncer_loop(PathBuf::from(log), to_sync, &on_disk))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the syncer thread: {e}")))?;
        let (sender, jobs) = std::sync::mpsc::channel::<Job>();
        let counted = durability.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(writer, jobs, &counted, committed))
            .map_err(|e| StoreError::Corrupt(format!("cannot start the writer thread: {e}")))?;
        Ok(Db {
            path: path.to_owned(),
            writer: sender,
            readers: Mutex::new(Vec::new()),
            durability,
        })
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
        self.durability.wait_for_commits_so_far();
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
                    Some(e) => Err(StoreError::Corrupt(e)),
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

fn writer_loop(
    conn: Connection,
    jobs: std::sync::mpsc::Receiver<Job>,
    durability: &Durability,
    syncer: std::sync::mpsc::Sender<Committed>,
) {
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
        // Counted before the commit: a read that sees this group waits for its sync.
        let generation = durability
            .committed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        // A job that panicked may have left half its work: the whole group is rolled back.
        let commit_error = if panicked {
            let _ = conn.execute_batch("ROLLBACK");
            Some("the commit failed, nothing was stored: a write in the same group failed".into())
        } else {
            match conn.execute_batch("COMMIT") {
                Ok(()) => None,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Some(format!("the commit failed, nothing was stored: {e}"))
                }
            }
        };
        let committed = Committed {
            generation,
            reports,
            error: commit_error,
        };
        if let Err(std::sync::mpsc::SendError(lost)) = syncer.send(committed) {
            // No syncer (it cannot stop before the writer): nobody hears of an unsynced commit.
            for report in lost.reports {
                report(Some("the syncer thread has stopped".into()));
            }
            durability.synced_up_to(lost.generation);
        }
    }
}

/// Syncs the log once for every group committed while it last synced, then tells their
/// callers, in the order of their commits.
fn syncer_loop(
    log: PathBuf,
    committed: std::sync::mpsc::Receiver<Committed>,
    durability: &Durability,
) {
    while let Ok(first) = committed.recv() {
        let mut groups = vec![first];
        groups.extend(committed.try_iter());
        let synced = std::fs::File::open(&log).and_then(|f| f.sync_data());
        if let Err(e) = &synced {
            tracing::error!(error = %e, log = %log.display(), "cannot sync the write-ahead log");
        }
        durability.synced_up_to(groups.last().map_or(0, |g| g.generation));
        for group in groups {
            let error = group.error.or_else(|| {
                synced.as_ref().err().map(|e| {
                    format!("the commit may not be on disk (the log could not be synced: {e})")
                })
            });
            for report in group.reports {
                report(error.clone());
            }
        }
    }
}

/// The stores' SQL on a SQLite connection.
struct SqliteTx<'a>(&'a Connection);

/// A parameter is bound borrowed: SQLite takes its own copy of a text or blob as it binds it,
/// so a copy made here first would be a second one, on the writer thread every write waits for.
impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::ValueRef;
        Ok(rusqlite::types::ToSqlOutput::Borrowed(match self {
            Val::Null => ValueRef::Null,
            Val::Int(i) => ValueRef::Integer(*i),
            Val::Real(f) => ValueRef::Real(*f),
            Val::Text(s) => ValueRef::Text(s.as_bytes()),
            Val::Shared(s) => ValueRef::Text(s.as_bytes()),
            Val::Blob(b) => ValueRef::Blob(b),
            Val::List(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "SQLite has no arrays: a list is bound on PostgreSQL only".into(),
                ))
            }
        }))
    }
}

impl RawTx for SqliteTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn exec(&self, sql: &str, params: &[Val]) -> Result<usize, StoreError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(params))?)
    }

    fn rows(&self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.0.prepare_cached(sql)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut vals = Vec::with_capacity(columns);
            for i in 0..columns {
                vals.push(match r.get_ref(i)? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(n) => Val::Int(n),
                    ValueRef::Real(f) => Val::Real(f),
                    ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Val::Blob(b.to_vec()),
                });
            }
            out.push(Row(vals));
        }
        Ok(out)
    }
}

impl Backend for Db {
    fn read_dyn(
        &self,
        f: &mut (dyn FnMut(Tx) -> Result<(), StoreError> + Send),
    ) -> Result<(), StoreError> {
        self.read(|conn| f(Tx::new(&SqliteTx(conn))))
    }

    fn write_dyn(&self, f: WriteFn) -> Result<Box<dyn std::any::Any + Send>, StoreError> {
        // One writer: a write never fails to serialize, so it runs once.
        self.write(move |conn| f(Tx::new(&SqliteTx(conn))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{atomic::Ordering, Arc};

    /// A caller hears of its write only once the log holding it is synced, and a read never
    /// hands back a write that is not yet synced, with writers and readers all at once.
    #[test]
    fn nothing_is_told_or_read_before_it_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(
            Db::open(
                &dir.path().join("synced.db"),
                centre_migrations::migrations::runner(),
            )
            .unwrap(),
        );
        db.write(|c| Ok(c.execute_batch("CREATE TABLE writes (generation INTEGER NOT NULL)")?))
            .unwrap();
        let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let synced = |db: &Db| *db.durability.synced.lock().unwrap();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (db, writing) = (db.clone(), writing.clone());
                std::thread::spawn(move || {
                    let mut reads = 0;
                    while writing.load(Ordering::SeqCst) {
                        let seen: i64 = db
                            .read(|c| {
                                Ok(c.query_row(
                                    "SELECT coalesce(max(generation), 0) FROM writes",
                                    [],
                                    |r| r.get(0),
                                )?)
                            })
                            .unwrap();
                        assert!(
                            seen as u64 <= synced(&db),
                            "a read returned generation {seen} before its sync"
                        );
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || {
                    for _ in 0..40 {
                        let durability = db.durability.clone();
                        // The writer counts a group after running its writes: this one's is next.
                        let generation = db
                            .write(move |c| {
                                let generation = durability.committed.load(Ordering::SeqCst) + 1;
                                c.execute("INSERT INTO writes VALUES (?1)", [generation])?;
                                Ok(generation)
                            })
                            .unwrap();
                        assert!(
                            generation <= synced(&db),
                            "write of generation {generation} told before its sync"
                        );
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        writing.store(false, Ordering::SeqCst);
        let reads: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
        assert!(reads > 0);
        let stored: i64 = db
            .read(|c| Ok(c.query_row("SELECT count(*) FROM writes", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(stored, 160);
    }
}
