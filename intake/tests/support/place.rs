//! Where a test's centre is stored: SQLite files in a temporary directory, or — when
//! `FIELDPOST_TEST_POSTGRES` names a PostgreSQL server (`scripts/test` starts a private one) — a
//! fresh database of its own on that server. Every intake test runs on both: `scripts/test`
//! runs the suite once without the variable and once with it.

use intake::{local::ServeProcess, service::Centre, store::campaign::SqlStore};
use tempfile::TempDir;

/// A real `intake serve` process (this crate's binary) with `args`, on a free loopback port.
pub fn serve(args: &[String]) -> ServeProcess {
    ServeProcess::start(
        env!("CARGO_BIN_EXE_intake").as_ref(),
        args,
        "127.0.0.1:0",
        false,
    )
    .unwrap()
}

/// The server tests create their databases on, if any.
pub fn postgres_server() -> Option<String> {
    std::env::var("FIELDPOST_TEST_POSTGRES")
        .ok()
        .filter(|v| !v.is_empty())
}

pub struct Place {
    /// The data directory (SQLite's files; with PostgreSQL, empty but for what a test puts there).
    pub dir: TempDir,
    /// With PostgreSQL: this test's database.
    pub database: Option<String>,
}

impl Default for Place {
    fn default() -> Self {
        Self::new()
    }
}

impl Place {
    pub fn new() -> Place {
        let dir = tempfile::tempdir().unwrap();
        let database =
            postgres_server().map(|server| own_thread(|| create_database(&server, None)));
        Place { dir, database }
    }

    /// A copy of `template` as it is now (nothing may have it open).
    pub fn copy_of(template: &Place) -> Place {
        let dir = tempfile::tempdir().unwrap();
        match &template.database {
            None => {
                // The template's last connections close on their own threads; SQLite removes
                // the write-ahead log when the last one does: copy after that. Connections that
                // close at the same instant on two threads may each see the other and leave the
                // log behind with nothing holding it; one connection opened and closed alone
                // then removes it.
                wait_for_logs_to_go(template.dir.path(), std::time::Duration::from_secs(1));
                if has_open_log(template.dir.path()) {
                    close_left_logs(template.dir.path());
                    wait_for_logs_to_go(template.dir.path(), std::time::Duration::from_secs(10));
                }
                copy_dir(template.dir.path(), dir.path());
                Place {
                    dir,
                    database: None,
                }
            }
            Some(url) => {
                let server = postgres_server().expect("a PostgreSQL place needs its server");
                let template = database_name(url);
                let database = Some(own_thread(|| create_database(&server, Some(&template))));
                Place { dir, database }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.database.is_some()
    }

    /// The centre stored here, opened as a new process would.
    pub fn open(&self) -> Centre {
        match &self.database {
            None => intake::open(self.dir.path()).unwrap(),
            Some(url) => intake::service::open_postgres(url).unwrap(),
        }
    }

    /// A real `intake serve` process over this place, on a free loopback port.
    pub fn serve(&self) -> ServeProcess {
        serve(&self.args())
    }

    /// `intake` command-line arguments that name this place.
    pub fn args(&self) -> Vec<String> {
        match &self.database {
            None => vec![
                "--data-dir".into(),
                self.dir.path().to_string_lossy().into_owned(),
            ],
            Some(url) => vec!["--database".into(), url.clone()],
        }
    }

    /// A second view of a campaign's store, as another process would open it.
    pub fn campaign_store(&self, campaign: &str) -> SqlStore {
        match &self.database {
            None => intake::store::sqlite::campaign_store(
                &self.dir.path().join(format!("campaigns/{campaign}.db")),
            )
            .unwrap(),
            Some(url) => intake::store::postgres::campaign_store(
                &intake::store::postgres::Database::connect(url).unwrap(),
                &intake::store::postgres::campaign_schema(campaign),
            )
            .unwrap(),
        }
    }

    /// Every byte a store keeps on disk as the database holds it (`None`: the centre's own):
    /// SQLite's file and its write-ahead log, or every value of every table of the schema —
    /// text as its UTF-8, bytes as they are. For "nothing in clear" checks.
    pub fn stored_bytes(&self, campaign: Option<&str>) -> Vec<u8> {
        match &self.database {
            None => {
                let file = match campaign {
                    Some(c) => self.dir.path().join(format!("campaigns/{c}.db")),
                    None => self.dir.path().join("centre.db"),
                };
                let mut bytes = std::fs::read(&file).unwrap();
                bytes.extend(std::fs::read(format!("{}-wal", file.display())).unwrap_or_default());
                bytes
            }
            Some(url) => own_thread(|| {
                let schema = schema_of(campaign);
                let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
                let tables: Vec<String> = client
                    .query(
                        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
                        &[&schema],
                    )
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                let mut bytes = Vec::new();
                for table in tables {
                    for row in client
                        .query(&format!("SELECT * FROM \"{schema}\".\"{table}\""), &[])
                        .unwrap()
                    {
                        for (i, column) in row.columns().iter().enumerate() {
                            use postgres::types::Type;
                            let ty = column.type_();
                            if *ty == Type::BYTEA {
                                bytes.extend(row.get::<_, Option<Vec<u8>>>(i).unwrap_or_default());
                            } else if *ty == Type::TEXT {
                                bytes.extend(
                                    row.get::<_, Option<String>>(i)
                                        .unwrap_or_default()
                                        .into_bytes(),
                                );
                            } else if *ty == Type::INT8 {
                                let v: Option<i64> = row.get(i);
                                bytes.extend(v.map(|v| v.to_string()).unwrap_or_default().bytes());
                            }
                        }
                    }
                }
                bytes
            }),
        }
    }

    /// How much disk a store takes (`None`: the centre's own).
    pub fn stored_size(&self, campaign: Option<&str>) -> u64 {
        match &self.database {
            None => {
                let file = match campaign {
                    Some(c) => self.dir.path().join(format!("campaigns/{c}.db")),
                    None => self.dir.path().join("centre.db"),
                };
                std::fs::metadata(&file).unwrap().len()
                    + std::fs::metadata(format!("{}-wal", file.display()))
                        .map(|m| m.len())
                        .unwrap_or(0)
            }
            Some(url) => own_thread(|| {
                let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
                let size: i64 = client
                    .query_one(
                        "SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT)
                         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = $1 AND c.relkind = 'r'",
                        &[&schema_of(campaign)],
                    )
                    .unwrap()
                    .get(0);
                size as u64
            }),
        }
    }
}

impl Place {
    /// After a server process was killed: waits until the database has finished with it. A
    /// killed process's files are released with it, but PostgreSQL may still be running a
    /// `COMMIT` the process sent just before it died, and would make that batch appear between
    /// two of a test's reads. Waits (at most 30 s) until no other connection to this test's
    /// database is left.
    pub fn settle_after_kill(&self) {
        let Some(url) = &self.database else { return };
        own_thread(|| {
            let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let started = std::time::Instant::now();
            loop {
                let others: i64 = client
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity
                         WHERE datname = current_database() AND pid <> pg_backend_pid()",
                        &[],
                    )
                    .unwrap()
                    .get(0);
                if others == 0 {
                    return;
                }
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(30),
                    "{others} connections of a killed server are still open after 30 s"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    }
}

impl Place {
    /// With PostgreSQL: how many sequential and index scans a table of the campaign has had, as
    /// far as its server's statistics have been told (a busy connection reports at most once a
    /// second, an idle one within ten).
    pub fn scans(&self, campaign: &str, table: &str) -> Option<(i64, i64)> {
        self.table_counters(campaign, table, "seq_scan", "idx_scan")
    }

    /// With PostgreSQL: how many rows of a table of the campaign have been updated, and how many
    /// of those updates were heap-only (no new index entry), as told like [`Place::scans`].
    pub fn updates(&self, campaign: &str, table: &str) -> Option<(i64, i64)> {
        self.table_counters(campaign, table, "n_tup_upd", "n_tup_hot_upd")
    }

    /// Two of `pg_stat_user_tables`' counters for one table of the campaign.
    fn table_counters(
        &self,
        campaign: &str,
        table: &str,
        first: &str,
        second: &str,
    ) -> Option<(i64, i64)> {
        let url = self.database.as_ref()?;
        Some(own_thread(|| {
            let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let row = client
                .query_one(
                    &format!(
                        "SELECT COALESCE({first}, 0), COALESCE({second}, 0) FROM pg_stat_user_tables
                         WHERE schemaname = $1 AND relname = $2"
                    ),
                    &[&schema_of(Some(campaign)), &table],
                )
                .unwrap();
            (row.get(0), row.get(1))
        }))
    }
}

/// The `postgres` client blocks on a runtime of its own, which cannot start on a thread that
/// drives an async test: its work runs on a thread of its own.
fn own_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

fn schema_of(campaign: Option<&str>) -> String {
    match campaign {
        Some(c) => intake::store::postgres::campaign_schema(c),
        None => intake::store::postgres::CENTRE_SCHEMA.to_string(),
    }
}

fn database_name(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

/// A new database on `server` (a copy of `template` if given); its URL.
fn create_database(server: &str, template: Option<&str>) -> String {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut client = postgres::Client::connect(server, postgres::NoTls).unwrap();
    let sql = match template {
        None => format!("CREATE DATABASE {name}"),
        Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
    };
    // A template's last connections may still be closing.
    let mut attempts = 0;
    while let Err(e) = client.batch_execute(&sql) {
        attempts += 1;
        assert!(attempts < 50, "cannot create a test database: {e}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(server);
    format!("{base}/{name}")
}

fn wait_for_logs_to_go(dir: &std::path::Path, at_most: std::time::Duration) {
    let started = std::time::Instant::now();
    while has_open_log(dir) && started.elapsed() < at_most {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Opens, alone, every database of `dir` whose write-ahead log is still there, and closes it:
/// the last connection to close checkpoints the log and removes it.
fn close_left_logs(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            close_left_logs(&path);
        } else if let Some(database) = path.to_str().and_then(|p| p.strip_suffix("-wal")) {
            let connection = rusqlite::Connection::open(database).unwrap();
            connection
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .unwrap();
            connection.close().unwrap();
        }
    }
}

fn has_open_log(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        name.ends_with("-wal")
            || name.ends_with("-shm")
            || (e.path().is_dir() && has_open_log(&e.path()))
    })
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
