//! PostgreSQL: the stores for a centre with several intake processes (on one machine or
//! several) sharing one database. The same SQL as SQLite ([`super::sql`]); each campaign has a
//! schema of its own (`c_<id>`) and the centre's registry, accounts and audit log are in schema
//! `centre`, so isolation between campaigns stays structural as it is with one file each.
//!
//! Every write is one `READ COMMITTED` transaction that locks what it judges before it reads
//! it: the enumerator's row before its chain head (two processes can never both accept seq N
//! for one enumerator: the second waits, then sees the first's batch and answers with its
//! receipt or a conflict), the batch's households in id order, an enrollment code, a refused
//! event being decided. A transaction that deadlocks or loses a race to insert the same key is
//! run again, a few times, after a short wait. A commit with PostgreSQL's default
//! `synchronous_commit = on` has reached the disk before the receipt leaves. Reads are
//! `REPEATABLE READ`, read-only: one consistent view per read. (`SERIALIZABLE` was tried first:
//! nine devices sending at once failed to serialize past any number of retries, on predicate
//! locks of small tables, not on real conflicts.)
//!
//! Concurrent writes to one schema share transactions, and so their commits ([`group_commit`]):
//! while four of a process's transactions write to a schema, the writes that arrive wait and go
//! together in the next.
//!
//! Connections come from an r2d2 pool (bounded; a request waits at most
//! [`CONNECTION_WAIT`] for one); each keeps its prepared statements, keyed by schema and SQL.

use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
    sync::Arc,
    time::Duration,
};

use postgres::{
    error::SqlState,
    types::{IsNull, ToSql, Type},
    NoTls,
};

use super::sql::{Backend, Dialect, RawTx, Row, Tx, Val, WriteFn};
use super::StoreError;

mod group_commit;
use group_commit::{GroupCommit, GroupFailed, Writer, Written};

/// What a transaction is for.
#[derive(Clone, Copy)]
enum Kind {
    /// A consistent view, read-only.
    Read,
    /// One write.
    Write,
    /// Several writes of a group ([`group_commit`]).
    Group,
}

mod campaign_migrations {
    refinery::embed_migrations!("migrations/postgres/campaign");
}
mod centre_migrations {
    refinery::embed_migrations!("migrations/postgres/centre");
}

/// The centre's own schema.
pub const CENTRE_SCHEMA: &str = "centre";
/// Connections one process keeps open at most.
const POOL_SIZE: u32 = 16;
/// How long a request waits for a free connection before it is refused (and retried by the
/// device, which keeps its batch).
pub const CONNECTION_WAIT: Duration = Duration::from_secs(10);
/// Times a write is tried when concurrent writes keep deadlocking it or racing it to a key.
const WRITE_ATTEMPTS: u32 = 12;
/// Prepared statements a connection keeps before it forgets them all (bounded memory).
const STATEMENTS_KEPT: usize = 4096;

/// The schema of a campaign: `c_` and its id with `_` for `-` (ids are `a-z`, `0-9` and `-`, so
/// no two meet); an id too long for PostgreSQL's 63-byte names is cut and given a hash.
pub fn campaign_schema(campaign: &str) -> String {
    let name = format!("c_{}", campaign.replace('-', "_"));
    if name.len() <= 63 {
        return name;
    }
    use sha2::Digest;
    let digest = hex::encode(&sha2::Sha256::digest(campaign.as_bytes())[..8]);
    format!("{}_{digest}", &name[..46])
}

/// A schema name quoted for SQL. Only names this module made reach it; anything else is refused.
fn quoted(schema: &str) -> Result<String, StoreError> {
    let plain = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain {
        Ok(format!("\"{schema}\""))
    } else {
        Err(StoreError::Corrupt(format!(
            "{schema:?} is not a schema name of Fieldpost"
        )))
    }
}

/// A pooled connection and the statements it has prepared.
pub struct Connection {
    client: postgres::Client,
    statements: HashMap<(String, String), postgres::Statement>,
}

struct Manager {
    config: postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Connection, postgres::Error> {
        Ok(Connection {
            client: self.config.connect(NoTls)?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.client.is_closed()
    }
}

/// One PostgreSQL database: the pool every schema's store of this process shares.
pub struct Database {
    /// Always `Some` until dropped.
    pool: Option<r2d2::Pool<Manager>>,
}

impl Drop for Database {
    fn drop(&mut self) {
        // Closing a connection blocks on the client's own runtime: never on a tokio worker.
        if let Some(pool) = self.pool.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                std::thread::spawn(move || drop(pool));
            }
        }
    }
}

impl Database {
    /// Connects to `url` (`postgres://user@host:port/database`, or key=value pairs).
    pub fn connect(url: &str) -> Result<Arc<Database>, StoreError> {
        let config: postgres::Config = url.parse().map_err(|e| {
            StoreError::Postgres(format!("the database address cannot be read: {e}"))
        })?;
        // One connection first, so that what PostgreSQL says (no such database, authentication
        // failed, …) reaches the operator; the pool would only report a timeout. (The blocking
        // client runs its own runtime: never on the caller's.)
        off_the_runtime(|| config.connect(NoTls).map(drop)).map_err(|e| {
            StoreError::Postgres(format!(
                "cannot connect to the database: {}",
                e.clone_message()
            ))
        })?;
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(CONNECTION_WAIT)
            .build(Manager { config })
            .map_err(|e| StoreError::Postgres(format!("cannot connect to the database: {e}")))?;
        Ok(Arc::new(Database { pool: Some(pool) }))
    }

    fn connection(&self) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        let pool = self
            .pool
            .as_ref()
            .expect("a database's pool lives as long as it does");
        pool.get().map_err(|e| {
            StoreError::Postgres(format!(
                "no database connection within {CONNECTION_WAIT:?}: {e}"
            ))
        })
    }

    /// Whether the schema exists (a campaign's store was made there).
    pub fn has_schema(&self, schema: &str) -> Result<bool, StoreError> {
        off_the_runtime(|| {
            let mut conn = self.connection()?;
            let row = conn
                .client
                .query_one(
                    "SELECT EXISTS(SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                    &[&schema],
                )
                .map_err(from_pg)?;
            Ok(row.get(0))
        })
    }

    /// Drops a schema and everything in it: what an import that failed left behind.
    pub fn drop_schema(&self, schema: &str) -> Result<(), StoreError> {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", quoted(schema)?);
        off_the_runtime(|| {
            self.connection()?
                .client
                .batch_execute(&sql)
                .map_err(from_pg)
        })
    }

    /// Creates `schema` if need be and brings it to the newest migration, one process at a
    /// time; a schema written by a newer Fieldpost is refused, never touched.
    fn migrate(&self, schema: &str, runner: refinery::Runner) -> Result<(), StoreError> {
        off_the_runtime(|| self.migrate_here(schema, runner))
    }

    fn migrate_here(&self, schema: &str, runner: refinery::Runner) -> Result<(), StoreError> {
        let name = quoted(schema)?;
        let mut conn = self.connection()?;
        let client = &mut conn.client;
        let lock = format!("SELECT pg_advisory_lock(hashtext('fieldpost migrations {schema}'))");
        let unlock =
            format!("SELECT pg_advisory_unlock(hashtext('fieldpost migrations {schema}'))");
        client.batch_execute(&lock).map_err(from_pg)?;
        let outcome = (|| {
            client
                .batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {name}; SET search_path TO {name}"
                ))
                .map_err(from_pg)?;
            let known = runner
                .get_migrations()
                .iter()
                .map(|m| m.version() as i64)
                .max()
                .unwrap_or(0);
            let history = format!("{schema}.refinery_schema_history");
            let found: Option<i64> = client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&history])
                .map_err(from_pg)?
                .get::<_, bool>(0)
                .then(|| {
                    client
                        .query_one(
                            "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM refinery_schema_history",
                            &[],
                        )
                        .map(|r| r.get(0))
                })
                .transpose()
                .map_err(from_pg)?;
            if let Some(found) = found {
                if found > known {
                    return Err(StoreError::NewerSchema { found, known });
                }
            }
            runner
                .run(client)
                .map(|_| ())
                .map_err(|e| StoreError::Migration(e.to_string()))
        })();
        // The connection goes back to the pool as it came: every transaction sets its own path.
        let reset = client.batch_execute("RESET search_path");
        let unlocked = client.batch_execute(&unlock);
        outcome?;
        reset.map_err(from_pg)?;
        unlocked.map_err(from_pg)
    }
}

/// A campaign's store in its schema of `db`, created and migrated if need be.
pub fn campaign_store(
    db: &Arc<Database>,
    schema: &str,
) -> Result<super::campaign::SqlStore, StoreError> {
    db.migrate(schema, campaign_migrations::migrations::runner())?;
    super::campaign::SqlStore::open(Box::new(Schema::new(db, schema)?))
}

/// The centre's own store (schema [`CENTRE_SCHEMA`]).
pub fn centre_store(db: &Arc<Database>) -> Result<super::centre::SqlCentre, StoreError> {
    db.migrate(CENTRE_SCHEMA, centre_migrations::migrations::runner())?;
    Ok(super::centre::SqlCentre::new(Box::new(Schema::new(
        db,
        CENTRE_SCHEMA,
    )?)))
}

/// The intake's signing key, kept in the centre's schema (see its migration); the first process
/// to open the database makes it, every other one reads it.
pub fn intake_key(db: &Arc<Database>) -> Result<sync_protocol::keys::DeviceKey, StoreError> {
    use super::sql::{params, BackendExt};
    let candidate = sync_protocol::keys::DeviceKey::generate(&mut rand::rngs::OsRng);
    let seed = sync_protocol::keys::b64(&candidate.seed());
    let now = super::campaign::rfc3339(chrono::Utc::now());
    let stored: String = Schema::new(db, CENTRE_SCHEMA)?.write(move |tx| {
        tx.execute(
            "INSERT INTO intake_key VALUES (1, ?1, ?2) ON CONFLICT (id) DO NOTHING",
            params![seed, now],
        )?;
        tx.query_row("SELECT seed FROM intake_key", [], |r| r.get(0))
    })?;
    sync_protocol::keys::DeviceKey::from_b64(&stored)
        .map_err(|e| StoreError::Corrupt(format!("the stored intake key: {e}")))
}

/// One schema of the database: the backend a store runs on.
pub struct Schema {
    db: Arc<Database>,
    schema: String,
    set_path: String,
    groups: GroupCommit<WriteFn>,
}

impl Schema {
    fn new(db: &Arc<Database>, schema: &str) -> Result<Schema, StoreError> {
        Ok(Schema {
            db: db.clone(),
            schema: schema.to_string(),
            set_path: format!("SET LOCAL search_path TO {}", quoted(schema)?),
            groups: GroupCommit::default(),
        })
    }

    /// Runs `f` in one transaction; `Err((_, true))` when it failed for a concurrent
    /// transaction (worth running again).
    fn transaction(
        &self,
        kind: Kind,
        f: &mut (dyn FnMut(Tx) -> Result<Box<dyn std::any::Any + Send>, StoreError> + Send),
    ) -> Result<Box<dyn std::any::Any + Send>, (StoreError, bool)> {
        let mut conn = self.db.connection().map_err(|e| (e, false))?;
        let Connection { client, statements } = &mut *conn;
        if statements.len() > STATEMENTS_KEPT {
            statements.clear();
        }
        // One round trip opens the transaction and names its schema.
        let begin = match kind {
            Kind::Read => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            Kind::Write => "BEGIN ISOLATION LEVEL READ COMMITTED",
            // Two groups can take the rows their writes lock in opposite orders, which
            // PostgreSQL would find only after `deadlock_timeout` (1 s): a group that waits
            // this long for a lock gives up, and its writes run alone.
            Kind::Group => "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = '200ms'",
        };
        let begin = format!("{begin}; {}", self.set_path);
        client.batch_execute(&begin).map_err(|e| classify(&e))?;
        let open = Open {
            client: RefCell::new(client),
            finished: Cell::new(false),
        };
        let raw = PgTx {
            open: &open,
            statements: RefCell::new(statements),
            schema: &self.schema,
            conflict: Cell::new(false),
        };
        let outcome = f(Tx::new(&raw));
        let conflict = raw.conflict.get();
        match outcome {
            Ok(value) => {
                open.finished.set(true);
                match open.client.borrow_mut().batch_execute("COMMIT") {
                    Ok(()) => Ok(value),
                    Err(e) => Err(classify(&e)),
                }
            }
            // `Open` rolls it back.
            Err(e) => Err((e, conflict)),
        }
    }
}

/// A transaction begun on a connection: rolled back unless committed, so that a connection
/// never goes back to the pool inside one (not even after a panic).
struct Open<'c> {
    client: RefCell<&'c mut postgres::Client>,
    finished: Cell<bool>,
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.finished.get() {
            let _ = self.client.get_mut().batch_execute("ROLLBACK");
        }
    }
}

/// Runs `f` where the synchronous client may block: the `postgres` crate drives its connection
/// on a runtime of its own, which cannot start on a thread that is driving tokio tasks (a
/// store called from an async handler or test).
///
/// The server calls the store from tokio's blocking pool, where `block_in_place` simply runs
/// `f` (and on a worker of the multi-threaded runtime it hands the worker's tasks on first):
/// no thread is made per call. Only on a single-threaded runtime (some tests) does `f` get a
/// thread of its own.
fn off_the_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Err(_) => f(),
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|scope| {
            scope
                .spawn(f)
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }),
    }
}

/// A PostgreSQL error as a store error, and whether running the transaction again may succeed.
fn classify(e: &postgres::Error) -> (StoreError, bool) {
    let retry = e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            // Two transactions inserting the same key at once: the loser sees the winner's row
            // when it runs again.
            || *c == SqlState::UNIQUE_VIOLATION
    });
    (StoreError::Postgres(e.clone_message()), retry)
}

trait CloneMessage {
    fn clone_message(&self) -> String;
}

impl CloneMessage for postgres::Error {
    /// What PostgreSQL said (its code and message), or the error with its causes — the bare
    /// `Display` of a client error is often just "db error".
    fn clone_message(&self) -> String {
        match self.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => {
                let mut message = self.to_string();
                let mut cause = std::error::Error::source(self);
                while let Some(c) = cause {
                    message.push_str(&format!(": {c}"));
                    cause = c.source();
                }
                message
            }
        }
    }
}

fn from_pg(e: postgres::Error) -> StoreError {
    StoreError::Postgres(e.clone_message())
}

impl Backend for Schema {
    fn read_dyn(
        &self,
        f: &mut (dyn FnMut(Tx) -> Result<(), StoreError> + Send),
    ) -> Result<(), StoreError> {
        off_the_runtime(|| {
            self.transaction(Kind::Read, &mut |tx| {
                f(tx)?;
                Ok(Box::new(()))
            })
            .map(|_| ())
            .map_err(|(e, _)| e)
        })
    }

    fn write_dyn(&self, f: WriteFn) -> Written {
        off_the_runtime(|| self.groups.write(self, f))
    }
}

impl Writer<WriteFn> for Schema {
    /// `f` in a transaction of its own, run again while it loses to concurrent transactions.
    fn alone(&self, f: &WriteFn) -> Written {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.transaction(Kind::Write, &mut |tx| f(tx)) {
                Ok(value) => return Ok(value),
                Err((_, true)) if attempt < WRITE_ATTEMPTS => {
                    // Let the transaction that won finish; spread the losers out.
                    let jitter = u64::from(rand::random::<u8>() % 8);
                    std::thread::sleep(Duration::from_millis(u64::from(attempt) * 3 + jitter));
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// `writes` one after the other in one transaction, run once.
    fn together(
        &self,
        writes: &[&WriteFn],
    ) -> Result<Vec<Box<dyn std::any::Any + Send>>, GroupFailed> {
        let all_written = std::sync::atomic::AtomicBool::new(false);
        let values = self
            .transaction(Kind::Group, &mut |tx| {
                let values = writes
                    .iter()
                    .map(|f| f(tx))
                    .collect::<Result<Vec<_>, _>>()?;
                all_written.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok(Box::new(values))
            })
            .map_err(|(e, _)| {
                match (all_written.load(std::sync::atomic::Ordering::Relaxed), e) {
                    // What PostgreSQL said, which each caller's error names once more.
                    (true, StoreError::Postgres(message)) => GroupFailed::AtCommit(message),
                    (true, other) => GroupFailed::AtCommit(other.to_string()),
                    (false, _) => GroupFailed::BeforeCommit,
                }
            })?;
        Ok(*values
            .downcast()
            .expect("a group's transaction returns its writes' values"))
    }
}

/// The stores' SQL inside one PostgreSQL transaction.
struct PgTx<'a, 'c> {
    open: &'a Open<'c>,
    statements: RefCell<&'a mut HashMap<(String, String), postgres::Statement>>,
    schema: &'a str,
    /// Set when a statement failed for a concurrent transaction.
    conflict: Cell<bool>,
}

impl PgTx<'_, '_> {
    fn statement(&self, sql: &str) -> Result<postgres::Statement, StoreError> {
        let key = (self.schema.to_string(), sql.to_string());
        if let Some(s) = self.statements.borrow().get(&key) {
            return Ok(s.clone());
        }
        let prepared = self
            .open
            .client
            .borrow_mut()
            .prepare(&numbered(sql))
            .map_err(|e| self.failed(&e, sql))?;
        self.statements.borrow_mut().insert(key, prepared.clone());
        Ok(prepared)
    }

    /// The error, naming the statement (for the log: internal errors never reach a client).
    fn failed(&self, e: &postgres::Error, sql: &str) -> StoreError {
        let (error, retry) = classify(e);
        if retry {
            self.conflict.set(true);
        }
        let statement: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        let statement: String = statement.chars().take(300).collect();
        StoreError::Postgres(format!("{error} (in: {statement})"))
    }
}

impl RawTx for PgTx<'_, '_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn exec(&self, sql: &str, params: &[Val]) -> Result<usize, StoreError> {
        let statement = self.statement(sql)?;
        let params: Vec<Param> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let changed = self
            .open
            .client
            .borrow_mut()
            .execute(&statement, &refs)
            .map_err(|e| self.failed(&e, sql))?;
        Ok(changed as usize)
    }

    fn rows(&self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        let statement = self.statement(sql)?;
        let params: Vec<Param> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let rows = self
            .open
            .client
            .borrow_mut()
            .query(&statement, &refs)
            .map_err(|e| self.failed(&e, sql))?;
        rows.iter().map(read_row).collect()
    }

    fn rows_planned_for(&self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        // An unnamed statement whose parameters' types are given: PostgreSQL parses, plans it
        // with the values bound and runs it in one round trip (not two, as when it is asked
        // for the types first), instead of keeping a plan made for a smaller table.
        let params: Vec<Param> = params.iter().map(Param).collect();
        let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
            .iter()
            .map(|p| (p as &(dyn ToSql + Sync), p.declared_type()))
            .collect();
        let rows = self
            .open
            .client
            .borrow_mut()
            .query_typed(numbered(sql).as_str(), &typed)
            .map_err(|e| self.failed(&e, sql))?;
        rows.iter().map(read_row).collect()
    }
}

/// `?1` → `$1`, outside quoted strings.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

/// A row as plain values, by the columns' types.
fn read_row(row: &postgres::Row) -> Result<Row, StoreError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let corrupt =
            |e: postgres::Error| StoreError::Corrupt(format!("column {}: {e}", column.name()));
        let ty = column.type_();
        let v = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)
                .map_err(corrupt)?
                .map(Val::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)
                .map_err(corrupt)?
                .map(|v| Val::Int(v.into()))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)
                .map_err(corrupt)?
                .map(|v| Val::Int(v.into()))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)
                .map_err(corrupt)?
                .map(|v| Val::Int(v.into()))
        } else if *ty == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(i)
                .map_err(corrupt)?
                .map(Val::Real)
        } else if *ty == Type::FLOAT4 {
            row.try_get::<_, Option<f32>>(i)
                .map_err(corrupt)?
                .map(|v| Val::Real(v.into()))
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(i)
                .map_err(corrupt)?
                .map(Val::Blob)
        } else if [
            Type::TEXT,
            Type::VARCHAR,
            Type::BPCHAR,
            Type::NAME,
            Type::UNKNOWN,
        ]
        .contains(ty)
        {
            row.try_get::<_, Option<String>>(i)
                .map_err(corrupt)?
                .map(Val::Text)
        } else {
            return Err(StoreError::Corrupt(format!(
                "column {} is {ty}, which the stores do not read (cast it in the query)",
                column.name()
            )));
        };
        values.push(v.unwrap_or(Val::Null));
    }
    Ok(Row(values))
}

/// A value sent as whatever type PostgreSQL expects at its place (an integer as `int4` where a
/// count is compared, as `int8` in a `BIGINT` column).
#[derive(Debug)]
struct Param<'a>(&'a Val);

impl Param<'_> {
    /// The type a value is declared as when PostgreSQL is not asked what it expects (a
    /// `NULL` as text: the one statement sent this way compares text).
    fn declared_type(&self) -> Type {
        match self.0 {
            Val::Null | Val::Text(_) | Val::Shared(_) => Type::TEXT,
            Val::Int(_) => Type::INT8,
            Val::Real(_) => Type::FLOAT8,
            Val::Blob(_) => Type::BYTEA,
            Val::List(_) => Type::TEXT_ARRAY,
        }
    }
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::UNKNOWN => i.to_string().to_sql(ty, out),
                _ => Err(format!("an integer cannot be sent as {ty}").into()),
            },
            Val::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => f.to_sql(ty, out),
            },
            Val::Text(s) => s.as_str().to_sql(ty, out),
            Val::Shared(s) => (&**s).to_sql(ty, out),
            Val::Blob(b) => b.as_slice().to_sql(ty, out),
            Val::List(items) => list_to_sql(items, ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A [`Val::List`] as the array type its statement casts it to (`text[]` or `bigint[]`).
fn list_to_sql(
    items: &[Val],
    ty: &Type,
    out: &mut bytes::BytesMut,
) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
    // Names the kind of value only: a value may be an event's body, which no log should hold.
    let wrong = |v: &Val| {
        let kind = match v {
            Val::Null => "NULL",
            Val::Int(_) => "an integer",
            Val::Real(_) => "a real number",
            Val::Text(_) | Val::Shared(_) => "a text",
            Val::Blob(_) => "a blob",
            Val::List(_) => "a list",
        };
        format!("{kind} cannot be an element of {ty}")
    };
    match *ty {
        Type::TEXT_ARRAY => items
            .iter()
            .map(|v| match v {
                Val::Null => Ok(None),
                Val::Text(s) => Ok(Some(s.as_str())),
                Val::Shared(s) => Ok(Some(&**s)),
                other => Err(wrong(other)),
            })
            .collect::<Result<Vec<Option<&str>>, _>>()?
            .to_sql(ty, out),
        Type::INT8_ARRAY => items
            .iter()
            .map(|v| match v {
                Val::Null => Ok(None),
                Val::Int(i) => Ok(Some(*i)),
                other => Err(wrong(other)),
            })
            .collect::<Result<Vec<Option<i64>>, _>>()?
            .to_sql(ty, out),
        _ => Err(format!("a list cannot be sent as {ty}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_outside_strings() {
        assert_eq!(
            numbered("SELECT ?1 WHERE a = '?' AND b = ?2"),
            "SELECT $1 WHERE a = '?' AND b = $2"
        );
    }

    #[test]
    fn schema_names_are_plain_and_never_meet() {
        assert_eq!(campaign_schema("qt-sipas-2024"), "c_qt_sipas_2024");
        let long_a = format!("{}a", "x".repeat(63));
        let long_b = format!("{}b", "x".repeat(63));
        let (a, b) = (campaign_schema(&long_a), campaign_schema(&long_b));
        assert!(a.len() <= 63 && b.len() <= 63 && a != b);
        assert!(quoted(&a).is_ok());
        assert!(quoted("x\"; DROP SCHEMA centre; --").is_err());
    }

    /// A fresh database on the test server (`FIELDPOST_TEST_POSTGRES`), with one schema holding
    /// one table, as a [`Schema`], and a way to drop the database; `None` outside the
    /// PostgreSQL suite.
    fn test_schema() -> Option<(Schema, impl FnOnce())> {
        let server = std::env::var("FIELDPOST_TEST_POSTGRES")
            .ok()
            .filter(|v| !v.is_empty())?;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = postgres::Client::connect(&server, NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
        let url = format!("{base}/{name}");
        postgres::Client::connect(&url, NoTls)
            .unwrap()
            .batch_execute(
                "CREATE SCHEMA grouped; CREATE TABLE grouped.rows (id BIGINT PRIMARY KEY)",
            )
            .unwrap();
        let schema = Schema::new(&Database::connect(&url).unwrap(), "grouped").unwrap();
        let drop_database = move || {
            admin
                .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .unwrap()
        };
        Some((schema, drop_database))
    }

    /// Writes of `ids`, each inserting its id, started so that the first
    /// [`group_commit::GROUPS_AT_ONCE`] run alone and are held until every other one waits for a
    /// place: those then go as one group. `failing` fails on the database's own error. Each
    /// write's outcome, in the order of `ids`.
    fn overlapping_writes(
        schema: &Schema,
        ids: std::ops::Range<i64>,
        failing: Option<i64>,
    ) -> Vec<Result<i64, StoreError>> {
        use super::super::sql::{params, BackendExt};
        use std::sync::{
            atomic::{AtomicBool, AtomicUsize, Ordering},
            Arc,
        };
        let (holding, released) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let ids: Vec<i64> = ids.collect();
        let (first, rest) = ids.split_at(group_commit::GROUPS_AT_ONCE);
        std::thread::scope(|scope| {
            let start = |id: i64, held: bool| {
                let (holding, released) = (holding.clone(), released.clone());
                scope.spawn(move || {
                    schema.write(move |tx| {
                        if held && !released.load(Ordering::SeqCst) {
                            holding.fetch_add(1, Ordering::SeqCst);
                            while !released.load(Ordering::SeqCst) {
                                std::thread::sleep(Duration::from_millis(5));
                            }
                        }
                        if Some(id) == failing {
                            tx.query_row("SELECT 1 / 0", [], |r| r.get::<i64>(0))?;
                        }
                        tx.execute("INSERT INTO rows VALUES (?1)", params![id])?;
                        Ok(id)
                    })
                })
            };
            let mut threads: Vec<_> = first.iter().map(|id| start(*id, true)).collect();
            let waited = std::time::Instant::now();
            let until = |done: &dyn Fn() -> bool| {
                while !done() {
                    assert!(
                        waited.elapsed() < Duration::from_secs(60),
                        "writes never overlapped"
                    );
                    std::thread::sleep(Duration::from_millis(5));
                }
            };
            until(&|| holding.load(Ordering::SeqCst) == first.len());
            threads.extend(rest.iter().map(|id| start(*id, false)));
            until(&|| schema.groups.waiting() == rest.len());
            released.store(true, Ordering::SeqCst);
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        })
    }

    /// The ids stored from `ids`, and how many transactions stored them.
    fn stored(schema: &Schema, ids: &[i64]) -> (Vec<i64>, i64) {
        use super::super::sql::BackendExt;
        let ids: Vec<Val> = ids.iter().map(|id| Val::Int(*id)).collect();
        schema
            .read(|tx| {
                let list = || vec![Val::List(ids.clone())];
                let stored = tx
                    .prepare("SELECT id FROM rows WHERE id = ANY(?1::bigint[]) ORDER BY id")?
                    .query_map(list(), |r| r.get(0))?
                    .collect::<Result<Vec<i64>, _>>()?;
                let transactions = tx.query_row(
                    "SELECT CAST(count(DISTINCT xmin::text) AS BIGINT) FROM rows WHERE id = ANY(?1::bigint[])",
                    list(),
                    |r| r.get(0),
                )?;
                Ok((stored, transactions))
            })
            .unwrap()
    }

    #[test]
    fn writes_that_wait_for_a_place_share_one_commit_and_a_failing_one_fails_alone() {
        let Some((schema, drop_database)) = test_schema() else {
            eprintln!("PostgreSQL only: set FIELDPOST_TEST_POSTGRES (scripts/test does)");
            return;
        };
        let n = group_commit::GROUPS_AT_ONCE as i64;
        // The writes that waited are stored by one transaction.
        let outcomes = overlapping_writes(&schema, 0..n + 8, None);
        assert!(outcomes
            .iter()
            .zip(0..)
            .all(|(o, id)| o.as_ref().ok() == Some(&id)));
        let waited: Vec<i64> = (n..n + 8).collect();
        assert_eq!(stored(&schema, &waited), (waited.clone(), 1));
        // One of a group failing: it gets its own error; every other write of its group is run
        // again alone, and stored once (the group left nothing: the key would refuse a copy).
        let failing = 100 + n + 3;
        let outcomes = overlapping_writes(&schema, 100..100 + n + 8, Some(failing));
        for (outcome, id) in outcomes.iter().zip(100..) {
            match outcome {
                Ok(v) => assert_eq!(*v, id),
                Err(e) => assert!(
                    id == failing && e.to_string().contains("division by zero"),
                    "{e}"
                ),
            }
        }
        assert!(outcomes[(failing - 100) as usize].is_err());
        let others: Vec<i64> = (100 + n..100 + n + 8).filter(|id| *id != failing).collect();
        assert_eq!(stored(&schema, &others), (others.clone(), 7));
        drop(schema);
        drop_database();
    }

    #[test]
    fn a_list_is_sent_as_the_array_its_statement_casts_it_to_and_nothing_else() {
        let send = |v: Val, ty: Type| {
            let mut out = bytes::BytesMut::new();
            Param(&v).to_sql(&ty, &mut out).map(|_| out.len())
        };
        let texts = Val::List(vec![
            Val::Text("a".into()),
            Val::Null,
            Val::Shared("b".into()),
        ]);
        let ints = Val::List(vec![Val::Int(1), Val::Null]);
        assert!(send(texts.clone(), Type::TEXT_ARRAY).unwrap() > 0);
        assert!(send(ints.clone(), Type::INT8_ARRAY).unwrap() > 0);
        // A list of the wrong elements, or where the statement wants one value, is refused
        // before anything is sent.
        assert!(send(texts.clone(), Type::INT8_ARRAY).is_err());
        assert!(send(ints, Type::TEXT_ARRAY).is_err());
        assert!(send(texts, Type::TEXT).is_err());
    }
}
