//! The SQL the stores speak, once for both databases. The stores ([`super::campaign`],
//! [`super::centre`]) are written against [`Tx`] — a transaction with rusqlite's shape (`execute`,
//! `query_row`, `prepare_cached`, `query_map`, `params!`), carrying plain values — and a
//! [`Backend`] runs it on SQLite ([`super::sqlite`]) or PostgreSQL ([`super::postgres`]).
//!
//! The SQL is the common part of the two dialects: numbered parameters `?1` (rewritten to `$1`
//! for PostgreSQL), `INSERT … ON CONFLICT`, `RETURNING`, integers as 64-bit, booleans as 0/1,
//! times as RFC 3339 text. Where the two differ, [`Tx::dialect`] says which is spoken (string
//! aggregation, row locks).

use super::StoreError;

/// A value crossing into or out of the database.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    /// Text several rows share (a batch's device, its time of receipt) or that is already
    /// held elsewhere (an event's body): bound without a copy of its own.
    Shared(std::sync::Arc<str>),
    Blob(Vec<u8>),
    /// A PostgreSQL array of plain values, bound where the statement casts it (`?9::text[]`):
    /// a batch's rows as one column each, so that one statement text serves every batch.
    /// SQLite has no arrays and refuses it.
    List(Vec<Val>),
}

/// Which database is spoken, for the few places where SQL differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `string_agg(DISTINCT expr, ',')` as the dialect writes it.
    pub fn distinct_list(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("group_concat(DISTINCT {expr})"),
            Dialect::Postgres => format!("string_agg(DISTINCT {expr}, ',')"),
        }
    }

    /// A number inside a JSON text column (`path` of plain keys), as an integer or NULL.
    pub fn json_integer(self, column: &str, path: &[&str]) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{}')", path.join(".")),
            Dialect::Postgres => {
                format!(
                    "CAST({column}::jsonb #>> '{{{}}}' AS BIGINT)",
                    path.join(",")
                )
            }
        }
    }

    /// A string inside a JSON text column, or NULL.
    pub fn json_text(self, column: &str, path: &[&str]) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{}')", path.join(".")),
            Dialect::Postgres => format!("({column}::jsonb #>> '{{{}}}')", path.join(",")),
        }
    }

    /// Which index a query must read by, where the planner would choose worse (SQLite's
    /// `INDEXED BY`; PostgreSQL's planner is left to itself).
    pub fn index_hint(self, index: &str) -> String {
        match self {
            Dialect::Sqlite => format!("INDEXED BY {index}"),
            Dialect::Postgres => String::new(),
        }
    }

    /// What locks the rows a `SELECT` reads until the transaction ends: with several intake
    /// processes on one PostgreSQL database, a chain's next batch is judged by one of them at a
    /// time. SQLite has one writer already.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
}

pub trait ToVal {
    fn to_val(&self) -> Val;
}

impl<T: ToVal + ?Sized> ToVal for &T {
    fn to_val(&self) -> Val {
        (**self).to_val()
    }
}
impl ToVal for str {
    fn to_val(&self) -> Val {
        Val::Text(self.to_string())
    }
}
impl ToVal for String {
    fn to_val(&self) -> Val {
        Val::Text(self.clone())
    }
}
impl ToVal for [u8] {
    fn to_val(&self) -> Val {
        Val::Blob(self.to_vec())
    }
}
impl ToVal for Vec<u8> {
    fn to_val(&self) -> Val {
        Val::Blob(self.clone())
    }
}
impl ToVal for bool {
    fn to_val(&self) -> Val {
        Val::Int(i64::from(*self))
    }
}
impl ToVal for f64 {
    fn to_val(&self) -> Val {
        Val::Real(*self)
    }
}
macro_rules! int_to_val {
    ($($t:ty),*) => { $(impl ToVal for $t { fn to_val(&self) -> Val { Val::Int(*self as i64) } })* };
}
int_to_val!(i32, i64, u32, u64, usize);
impl<T: ToVal> ToVal for Option<T> {
    fn to_val(&self) -> Val {
        match self {
            Some(v) => v.to_val(),
            None => Val::Null,
        }
    }
}

pub trait FromVal: Sized {
    fn from_val(v: &Val) -> Result<Self, String>;
}

impl FromVal for String {
    fn from_val(v: &Val) -> Result<Self, String> {
        match v {
            Val::Text(s) => Ok(s.clone()),
            Val::Shared(s) => Ok(s.to_string()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}
impl FromVal for Vec<u8> {
    fn from_val(v: &Val) -> Result<Self, String> {
        match v {
            Val::Blob(b) => Ok(b.clone()),
            Val::Text(s) => Ok(s.clone().into_bytes()),
            other => Err(format!("expected bytes, found {other:?}")),
        }
    }
}
impl FromVal for i64 {
    fn from_val(v: &Val) -> Result<Self, String> {
        match v {
            Val::Int(i) => Ok(*i),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}
impl FromVal for f64 {
    fn from_val(v: &Val) -> Result<Self, String> {
        match v {
            Val::Real(f) => Ok(*f),
            Val::Int(i) => Ok(*i as f64),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}
impl FromVal for bool {
    fn from_val(v: &Val) -> Result<Self, String> {
        Ok(i64::from_val(v)? != 0)
    }
}
macro_rules! int_from_val {
    ($($t:ty),*) => { $(impl FromVal for $t {
        fn from_val(v: &Val) -> Result<Self, String> {
            let i = i64::from_val(v)?;
            <$t>::try_from(i).map_err(|_| format!("{i} is out of range"))
        }
    })* };
}
int_from_val!(i32, u32, u64, usize);
impl<T: FromVal> FromVal for Option<T> {
    fn from_val(v: &Val) -> Result<Self, String> {
        match v {
            Val::Null => Ok(None),
            other => T::from_val(other).map(Some),
        }
    }
}

/// One row read back.
#[derive(Clone, Debug)]
pub struct Row(pub Vec<Val>);

impl Row {
    pub fn get<T: FromVal>(&self, index: usize) -> Result<T, StoreError> {
        let v = self
            .0
            .get(index)
            .ok_or_else(|| StoreError::Corrupt(format!("no column {index}")))?;
        T::from_val(v).map_err(|e| StoreError::Corrupt(format!("column {index}: {e}")))
    }
}

/// Parameters of a statement: `params![a, b]`, `[x]`, `[]`, or [`params_from_iter`].
pub trait Params {
    fn values(self) -> Vec<Val>;
}

impl Params for &[&dyn ToVal] {
    fn values(self) -> Vec<Val> {
        self.iter().map(|v| v.to_val()).collect()
    }
}
impl Params for [&dyn ToVal; 0] {
    fn values(self) -> Vec<Val> {
        Vec::new()
    }
}
macro_rules! array_params {
    ($($n:literal),*) => { $(impl<T: ToVal> Params for [T; $n] {
        fn values(self) -> Vec<Val> { self.iter().map(|v| v.to_val()).collect() }
    })* };
}
array_params!(1, 2, 3, 4, 5, 6, 7, 8);

/// Values already made (a multi-row statement's).
impl Params for Vec<Val> {
    fn values(self) -> Vec<Val> {
        self
    }
}

/// Parameters from an iterator (an `IN (…)` list).
pub struct ParamsFromIter<I>(I);

pub fn params_from_iter<I>(iter: I) -> ParamsFromIter<I>
where
    I: IntoIterator,
    I::Item: ToVal,
{
    ParamsFromIter(iter)
}

impl<I> Params for ParamsFromIter<I>
where
    I: IntoIterator,
    I::Item: ToVal,
{
    fn values(self) -> Vec<Val> {
        self.0.into_iter().map(|v| v.to_val()).collect()
    }
}

/// `params![a, b, c]`: statement parameters of any [`ToVal`] types.
macro_rules! params {
    () => { &[] as &[&dyn $crate::store::sql::ToVal] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::store::sql::ToVal),+] as &[&dyn $crate::store::sql::ToVal] };
}
pub(crate) use params;

/// What a backend's transaction (or read) does with SQL. Object-safe: [`Tx`] wraps it.
pub trait RawTx {
    fn dialect(&self) -> Dialect;
    /// Runs a statement; how many rows it changed.
    fn exec(&self, sql: &str, params: &[Val]) -> Result<usize, StoreError>;
    /// Runs a query; every row.
    fn rows(&self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError>;
    /// [`RawTx::rows`], planned for these values each time rather than once for any (see
    /// [`Tx::rows_planned_for`]).
    fn rows_planned_for(&self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        self.rows(sql, params)
    }
}

/// A transaction, as the stores use it.
#[derive(Clone, Copy)]
pub struct Tx<'a> {
    raw: &'a dyn RawTx,
}

impl<'a> Tx<'a> {
    pub fn new(raw: &'a dyn RawTx) -> Tx<'a> {
        Tx { raw }
    }

    pub fn dialect(&self) -> Dialect {
        self.raw.dialect()
    }

    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize, StoreError> {
        self.raw.exec(sql, &params.values())
    }

    /// The first row through `f`; [`StoreError::NoRows`] when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self.raw.rows(sql, &params.values())?.first() {
            Some(row) => f(row),
            None => Err(StoreError::NoRows),
        }
    }

    /// Every row of a query over a table that grows from empty during a campaign, planned for
    /// these values each time. PostgreSQL settles a prepared statement on one plan for any
    /// values after five runs; planned while `events` was small, that plan scanned the whole
    /// table for every batch ever after (one sender: 470 forms/s, 3,563 planned each time).
    pub fn rows_planned_for(&self, sql: &str, params: impl Params) -> Result<Vec<Row>, StoreError> {
        self.raw.rows_planned_for(sql, &params.values())
    }

    /// A statement to run once or many times (the backend caches what it prepares).
    pub fn prepare_cached(&self, sql: &str) -> Result<Stmt<'a>, StoreError> {
        Ok(Stmt {
            raw: self.raw,
            sql: sql.to_string(),
        })
    }

    pub fn prepare(&self, sql: &str) -> Result<Stmt<'a>, StoreError> {
        self.prepare_cached(sql)
    }
}

/// A statement of a [`Tx`].
pub struct Stmt<'a> {
    raw: &'a dyn RawTx,
    sql: String,
}

impl Stmt<'_> {
    pub fn execute(&mut self, params: impl Params) -> Result<usize, StoreError> {
        self.raw.exec(&self.sql, &params.values())
    }

    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        f: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self.raw.rows(&self.sql, &params.values())?.first() {
            Some(row) => f(row),
            None => Err(StoreError::NoRows),
        }
    }

    /// Every row through `f`.
    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        f: impl FnMut(&Row) -> Result<T, StoreError>,
    ) -> Result<std::vec::IntoIter<Result<T, StoreError>>, StoreError> {
        let rows = self.raw.rows(&self.sql, &params.values())?;
        Ok(rows.iter().map(f).collect::<Vec<_>>().into_iter())
    }

    /// Every row, to walk through.
    pub fn query(&mut self, params: impl Params) -> Result<Rows, StoreError> {
        Ok(Rows(
            self.raw.rows(&self.sql, &params.values())?.into_iter(),
        ))
    }

    pub fn exists(&mut self, params: impl Params) -> Result<bool, StoreError> {
        Ok(!self.raw.rows(&self.sql, &params.values())?.is_empty())
    }
}

/// Rows of [`Stmt::query`].
pub struct Rows(std::vec::IntoIter<Row>);

impl Rows {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Row>, StoreError> {
        Ok(self.0.next())
    }
}

/// `.optional()` on a result that may be "no rows", as with rusqlite.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>, StoreError>;
}

impl<T> OptionalExtension<T> for Result<T, StoreError> {
    fn optional(self) -> Result<Option<T>, StoreError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(StoreError::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A write as a backend runs it: all of it or none, perhaps more than once (PostgreSQL runs a
/// transaction again when a concurrent one made it fail to serialize), so it may not consume
/// what it captured.
pub type WriteFn =
    std::sync::Arc<dyn Fn(Tx) -> Result<Box<dyn std::any::Any + Send>, StoreError> + Send + Sync>;

/// A database the stores run on: reads, and all-or-nothing writes that are durably committed
/// when they return.
pub trait Backend: Send + Sync + 'static {
    /// Runs `f` on a consistent view.
    fn read_dyn(
        &self,
        f: &mut (dyn FnMut(Tx) -> Result<(), StoreError> + Send),
    ) -> Result<(), StoreError>;
    /// Runs `f` as one transaction and commits it.
    fn write_dyn(&self, f: WriteFn) -> Result<Box<dyn std::any::Any + Send>, StoreError>;
}

/// Typed reads and writes over any [`Backend`].
pub trait BackendExt {
    fn read<T: Send>(
        &self,
        f: impl FnOnce(Tx) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError>;
    fn write<T: Send + 'static>(
        &self,
        f: impl Fn(Tx) -> Result<T, StoreError> + Send + Sync + 'static,
    ) -> Result<T, StoreError>;
}

impl<B: Backend + ?Sized> BackendExt for B {
    fn read<T: Send>(
        &self,
        f: impl FnOnce(Tx) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        let mut f = Some(f);
        let mut out = None;
        self.read_dyn(&mut |tx| {
            let f = f.take().expect("a read runs once");
            out = Some(f(tx)?);
            Ok(())
        })?;
        out.ok_or_else(|| StoreError::Corrupt("the read did not run".into()))
    }

    fn write<T: Send + 'static>(
        &self,
        f: impl Fn(Tx) -> Result<T, StoreError> + Send + Sync + 'static,
    ) -> Result<T, StoreError> {
        let any = self.write_dyn(std::sync::Arc::new(move |tx| {
            f(tx).map(|v| Box::new(v) as Box<dyn std::any::Any + Send>)
        }))?;
        any.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| StoreError::Corrupt("a write answered with another type".into()))
    }
}
