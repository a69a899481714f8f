//! National-size ingest benchmark (not a timed test: it prints figures, it asserts nothing
//! about speed). `cargo bench -p intake --bench ingest`
//!
//! 63 provinces shaped like the Quảng Trị demo: 30,618 forms, each a distribution, a
//! collection and a transcription with a ~100-answer sealed payload, in batches of 27 forms,
//! sent over loopback HTTP to the real `intake` binary (durable commits: WAL, synced before a receipt).
//! Three runs at 8 concurrent senders, each beside a raw SQLite insert of its own event rows
//! in one transaction, into the events table as the intake's migrations leave it, once the
//! machine is quiet (medians and ranges printed), the intake's CPU seconds per 1,000 forms
//! and bytes written to storage per form, the senders' own CPU and the machine's idle and
//! stolen time over each run, peak RSS at 1, 8 and 32 senders, and the cost of
//! Ed25519 verification of the same batches. With `FIELDPOST_TEST_POSTGRES` (a
//! PostgreSQL server; `scripts/bench` starts a private one) the same ingest again on
//! PostgreSQL with one and with two intake processes (each request to one at random), beside
//! PostgreSQL's own `COPY` of the same rows; peak RSS of the intakes and of the database. With
//! `FIELDPOST_BENCH_CENTRAL` (an ODK Central running on this machine, see `support/central.rs`)
//! each SQLite run is followed by a leg of the same answers submitted to Central as ODK Collect
//! would, and both stores are printed as multiples of Central's forms/s.

use chrono::Utc;
use intake::{campaign::Campaign, demo, local::ServeProcess};
use rusqlite::params;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use sync_protocol::{
    api,
    batch::{Batch, BatchHash, SignedBatch},
    event::{Event, EventBody, Recipient},
    keys::{Base64Bytes, DeviceKey},
    seal::{self, AnswerSheet},
    DeviceTime, PROTOCOL_VERSION,
};

const FORMS_PER_BATCH: usize = 27;
/// Concurrent senders of the headline runs (issue 21 measures at 8); RSS is also read at 1
/// and 32.
const CONCURRENCY: usize = 8;
/// Runs of each store, alternated with its baseline: a target is met only when all are.
const RUNS: usize = 3;
/// Forms each ODK Central leg submits: about 100 s of Central, so that the seconds its worker
/// runs behind its answers weigh little in a leg.
const CENTRAL_FORMS: usize = 10_000;

#[path = "support/central.rs"]
mod central;

struct Prepared {
    /// Shared with the senders as they are.
    frames: Arc<Vec<Vec<u8>>>,
    signed: Vec<(SignedBatch, sync_protocol::keys::PublicKey)>,
    forms: usize,
}

fn answers(i: usize) -> std::collections::BTreeMap<String, serde_json::Value> {
    // ~100 answers: mostly small codes, as on the SIPAS form, one multi-select and a comment.
    let mut a = std::collections::BTreeMap::new();
    for q in 0..97 {
        a.insert(
            format!("q{:03}", q),
            serde_json::json!(((i * 31 + q * 7) % 5) + 1),
        );
    }
    a.insert("q2_channels".into(), serde_json::json!([1, 3, 6]));
    a.insert("a_age".into(), serde_json::json!(2 + i % 4));
    a.insert(
        "q11_comment".into(),
        serde_json::json!(if i % 5 == 0 {
            "Thủ tục còn rườm rà"
        } else {
            ""
        }),
    );
    a
}

/// Where a run's centre is stored.
enum Place {
    Sqlite(tempfile::TempDir),
    /// A database of its own on the bench's PostgreSQL server.
    Postgres(String),
}

impl Place {
    fn args(&self) -> Vec<String> {
        match self {
            Place::Sqlite(dir) => vec!["--data-dir".into(), dir.path().to_string_lossy().into()],
            Place::Postgres(url) => vec!["--database".into(), url.clone()],
        }
    }

    fn open(&self) -> intake::service::Centre {
        match self {
            Place::Sqlite(dir) => intake::open(dir.path()).unwrap(),
            Place::Postgres(url) => intake::service::open_postgres(url).unwrap(),
        }
    }

    /// Bytes the campaign's data takes in the database after the run.
    fn stored_bytes(&self) -> u64 {
        match self {
            Place::Sqlite(dir) => walk_size(dir.path()),
            Place::Postgres(url) => {
                let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
                let size: i64 = c
                    .query_one("SELECT pg_database_size(current_database())", &[])
                    .unwrap()
                    .get(0);
                size as u64
            }
        }
    }
}

fn walk_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                walk_size(&e.path())
            } else {
                m.len()
            }
        })
        .sum()
}

/// What one ingest run measured.
struct Run {
    forms: usize,
    batches: usize,
    rate: f64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
    /// Peak RSS of each intake process, KiB.
    intake_rss: Vec<u64>,
    /// Peak of the database server's summed PSS over the run, KiB (PostgreSQL only).
    database_rss: Option<u64>,
    stored_bytes: u64,
    wire_bytes: usize,
    /// The intake processes' CPU (user + system) over the sending, seconds.
    cpu_secs: f64,
    /// Bytes the intake processes wrote to storage over the sending (`/proc/<pid>/io`).
    written_bytes: u64,
    /// The whole machine's CPU over the sending, seconds summed over its cores.
    machine: MachineCpu,
    prepared: Prepared,
}

/// Where the machine's CPU went over a run (`/proc/stat`): the senders are this bench's own
/// process, so on 2 cores they and the intake share one budget; time stolen by the host says
/// how far a slow run was the machine's doing.
#[derive(Clone, Copy)]
struct MachineCpu {
    senders: f64,
    busy: f64,
    idle: f64,
    stolen: f64,
}

impl MachineCpu {
    /// Ticks so far: (this process's user + system, all cores' busy, idle + iowait, steal).
    fn now() -> [u64; 4] {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let all: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        let at = |i: usize| all.get(i).copied().unwrap_or(0);
        // user nice system idle iowait irq softirq steal
        let busy = at(0) + at(1) + at(2) + at(5) + at(6);
        [cpu_ticks(&[std::process::id()]), busy, at(3) + at(4), at(7)]
    }

    fn between(before: [u64; 4], after: [u64; 4]) -> MachineCpu {
        let secs = |i: usize| after[i].saturating_sub(before[i]) as f64 / clock_ticks_per_sec();
        MachineCpu {
            senders: secs(0),
            busy: secs(1),
            idle: secs(2),
            stolen: secs(3),
        }
    }
}

impl Run {
    fn cpu_per_1000(&self) -> f64 {
        self.cpu_secs * 1000.0 / self.forms as f64
    }
    fn written_per_form(&self) -> f64 {
        self.written_bytes as f64 / self.forms as f64
    }
    fn senders_per_1000(&self) -> f64 {
        self.machine.senders * 1000.0 / self.forms as f64
    }
    /// Share of the machine's time over the run that was idle, or stolen by its host.
    fn share(&self, part: f64) -> f64 {
        let m = self.machine;
        100.0 * part / (m.busy + m.idle + m.stolen).max(f64::MIN_POSITIVE)
    }
}

/// The median and range of some figures.
fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn said((median, low, high): (f64, f64, f64), decimals: usize) -> String {
    format!("{median:>10.decimals$}   (range {low:.decimals$}–{high:.decimals$})")
}

fn main() {
    let ministry = demo::fixed_ministry_key();
    // The first keying carries the answers (a campaign without double keying).
    let mut campaign: Campaign = demo::shaped_like_quang_tri(63, &ministry.public());
    campaign.verification_required = false;
    let forms: usize = campaign.villages().map(|(.., v)| v.households.len()).sum();
    println!(
        "campaign: {} provinces, {} enumerators, {forms} forms",
        campaign.provinces.len(),
        campaign.enumerators.len()
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let central = rt
        .block_on(central::Central::from_env(&answers(0)))
        .map(|c| c.unwrap_or_else(|e| panic!("ODK Central beside the bench: {e}")));
    match &central {
        None => {
            println!("ODK Central: not run (no FIELDPOST_BENCH_CENTRAL: see docs/benchmarks.md)")
        }
        // Warmed up, so that no leg includes its start (Node compiles its code as it runs).
        Some(c) => {
            let warm = rt
                .block_on(c.submit(600, CONCURRENCY, answers))
                .unwrap_or_else(|e| panic!("ODK Central: {e}"));
            println!(
                "ODK Central warmed up: {:.0} forms/s over {} forms, not counted",
                warm.rate, warm.forms
            );
        }
    }

    // Where PostgreSQL's time goes, statement by statement: one run, nothing else
    // (FIELDPOST_BENCH_STATEMENTS=1, with pg_stat_statements loaded: docs/benchmarks.md).
    if std::env::var_os("FIELDPOST_BENCH_STATEMENTS").is_some() {
        statement_times(&rt, &campaign, &ministry);
        return;
    }

    // 1. SQLite, one process (the embedded default), alternated with the raw insert of the same
    //    event rows (durable, one transaction), three times.
    let mut sqlite_runs = Vec::new();
    let mut raw_rates = Vec::new();
    let mut central_rates = Vec::new();
    for _ in 0..RUNS {
        let run = ingest(
            &rt,
            Place::Sqlite(tempfile::tempdir().unwrap()),
            1,
            CONCURRENCY,
            &campaign,
            &ministry,
        );
        let rows = event_rows(&run.prepared.frames);
        raw_rates.push(run.forms as f64 / raw_insert(&rows).as_secs_f64());
        report(
            &format!("SQLite, 1 intake process, run {}", sqlite_runs.len() + 1),
            &run,
        );
        if let Some(central) = &central {
            let leg = central_leg(&rt, central);
            println!(
                "  intake / Central  {:>10.1} ×   (target ≥ 150×)",
                run.rate / leg.rate
            );
            central_rates.push(leg.rate);
        }
        sqlite_runs.push(run);
    }
    let first = &sqlite_runs[0];

    // 2. Ed25519 verification of the same batches.
    let t = Instant::now();
    for (signed, key) in &first.prepared.signed {
        signed.verify(key).unwrap();
    }
    let verify = t.elapsed();

    println!();
    println!("SQLite, {RUNS} runs at {CONCURRENCY} senders, each beside a raw insert of its own event rows (median and range):");
    summary(&sqlite_runs, &raw_rates, "raw insert");
    if !central_rates.is_empty() {
        beside_central(&sqlite_runs, &central_rates, true, 150.0);
    }
    println!(
        "  bytes on the wire {:>10.0} per form",
        first.wire_bytes as f64 / first.forms as f64
    );
    println!(
        "Ed25519 verification (verify_strict) of the same {} batches",
        first.batches
    );
    println!(
        "  per batch         {:>10.1} µs",
        verify.as_secs_f64() * 1e6 / first.batches as f64
    );

    // 3. Memory at 1 and 32 concurrent senders.
    for senders in [1, 32] {
        let run = ingest(
            &rt,
            Place::Sqlite(tempfile::tempdir().unwrap()),
            1,
            senders,
            &campaign,
            &ministry,
        );
        println!(
            "SQLite at {senders:>2} senders: {:.0} forms/s, intake peak RSS {:.1} MB (target < 50 MB at 32)",
            run.rate,
            run.intake_rss[0] as f64 / 1024.0
        );
    }

    // 4. PostgreSQL, one process, alternated with PostgreSQL's own COPY of the same rows three
    //    times; then two processes once, then memory at 1 and 32 senders — when a server is
    //    given (scripts/bench starts one).
    let Some(server) = std::env::var("FIELDPOST_TEST_POSTGRES")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        println!("\nPostgreSQL: skipped (no FIELDPOST_TEST_POSTGRES; scripts/bench starts one)");
        return;
    };
    let mut postgres_runs = Vec::new();
    let mut copy_rates = Vec::new();
    for _ in 0..RUNS {
        let database = new_database(&server);
        let run = ingest(
            &rt,
            Place::Postgres(database.clone()),
            1,
            CONCURRENCY,
            &campaign,
            &ministry,
        );
        let rows = event_rows(&run.prepared.frames);
        copy_rates.push(run.forms as f64 / copy_insert(&server, &rows).as_secs_f64());
        report(
            &format!(
                "PostgreSQL, 1 intake process, run {}",
                postgres_runs.len() + 1
            ),
            &run,
        );
        println!(
            "  group commit       {:>10.2} batches a transaction",
            run.batches as f64 / transactions_of_batches(&database, &campaign.id) as f64
        );
        postgres_runs.push(run);
    }
    println!();
    println!("PostgreSQL, {RUNS} runs at {CONCURRENCY} senders, each beside a COPY of its own event rows (median and range):");
    summary(&postgres_runs, &copy_rates, "COPY");
    if !central_rates.is_empty() {
        beside_central(&postgres_runs, &central_rates, false, 50.0);
    }
    let two = ingest(
        &rt,
        Place::Postgres(new_database(&server)),
        2,
        CONCURRENCY,
        &campaign,
        &ministry,
    );
    report("PostgreSQL, 2 intake processes", &two);
    for senders in [1, 32] {
        let run = ingest(
            &rt,
            Place::Postgres(new_database(&server)),
            1,
            senders,
            &campaign,
            &ministry,
        );
        println!(
            "PostgreSQL at {senders:>2} senders: {:.0} forms/s, intake peak RSS {:.1} MB (target < 50 MB at 32)",
            run.rate,
            run.intake_rss[0] as f64 / 1024.0
        );
    }
    let rates = |runs: &[Run]| spread(runs.iter().map(|r| r.rate).collect()).0;
    println!(
        "  PostgreSQL / SQLite ingest {:.2} (1 process, medians), {:.2} (2 processes)",
        rates(&postgres_runs) / rates(&sqlite_runs),
        two.rate / rates(&sqlite_runs)
    );
}

/// How many transactions stored a campaign's batches: a batch's row carries the id of the
/// transaction that wrote it (`xmin`), which the batches of one group share.
fn transactions_of_batches(url: &str, campaign: &str) -> i64 {
    let schema = intake::store::postgres::campaign_schema(campaign);
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.query_one(
        &format!("SELECT CAST(count(DISTINCT xmin::text) AS BIGINT) FROM {schema}.batches"),
        &[],
    )
    .unwrap()
    .get(0)
}

/// One PostgreSQL run at the headline concurrency, then what PostgreSQL's own statistics say
/// of it: each statement's calls, execution and planning time, rows (the import's statements
/// among them), and how many updates of each table were heap-only.
fn statement_times(
    rt: &tokio::runtime::Runtime,
    campaign: &Campaign,
    ministry: &sync_protocol::keys::MinistrySecretKey,
) {
    let server = std::env::var("FIELDPOST_TEST_POSTGRES")
        .expect("FIELDPOST_TEST_POSTGRES: a server with pg_stat_statements loaded");
    let url = new_database(&server);
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute("CREATE EXTENSION pg_stat_statements; SELECT pg_stat_statements_reset()")
        .unwrap_or_else(|e| panic!("pg_stat_statements (shared_preload_libraries): {e}"));
    let run = ingest(rt, Place::Postgres(url), 1, CONCURRENCY, campaign, ministry);
    report("PostgreSQL, 1 intake process, its statements counted", &run);
    println!(
        "  {:>7} {:>9} {:>9} {:>8}  statement",
        "calls", "exec ms", "plan ms", "rows"
    );
    let statements = c
        .query(
            "SELECT calls, total_exec_time, total_plan_time, rows,
                    left(regexp_replace(query, '\\s+', ' ', 'g'), 110)
             FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15",
            &[],
        )
        .unwrap();
    for r in statements {
        let (calls, exec, plan, rows, query): (i64, f64, f64, i64, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        println!("  {calls:>7} {exec:>9.0} {plan:>9.0} {rows:>8}  {query}");
    }
    let updates = c
        .query(
            "SELECT relname::text, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
             WHERE n_tup_upd > 0 ORDER BY relname",
            &[],
        )
        .unwrap();
    for r in updates {
        let (table, updated, heap_only): (String, i64, i64) = (r.get(0), r.get(1), r.get(2));
        println!("  updates of {table}: {updated}, heap-only {heap_only}");
    }
    // Group commit: the batches whose commits one flush of the log carried to disk together
    // (the log's statistics start with the timed run: `checkpoint`).
    let wal = c
        .query_one("SELECT wal_sync, wal_write FROM pg_stat_wal", &[])
        .unwrap();
    let (syncs, writes): (i64, i64) = (wal.get(0), wal.get(1));
    println!(
        "  {} batches committed, log flushed to disk {syncs} times ({:.2} batches a flush), written {writes} times",
        run.batches,
        run.batches as f64 / syncs.max(1) as f64
    );
}

/// One ODK Central leg at the headline concurrency, with the machine's CPU over it.
fn central_leg(rt: &tokio::runtime::Runtime, central: &central::Central) -> central::Leg {
    // Central's worker processes each submission after answering it, for seconds after a leg:
    // neither leg starts while the machine is still busy with the last.
    wait_for_quiet();
    let before = MachineCpu::now();
    let leg = rt
        .block_on(central.submit(CENTRAL_FORMS, CONCURRENCY, answers))
        .unwrap_or_else(|e| panic!("ODK Central: {e}"));
    let machine = MachineCpu::between(before, MachineCpu::now());
    println!(
        "ODK Central beside it: {:.0} forms/s ({} forms in {:.1} s, every one counted back); machine CPU {:.3} s per 1,000 forms besides the senders' {:.3} s",
        leg.rate,
        leg.forms,
        leg.elapsed.as_secs_f64(),
        (machine.busy - machine.senders) * 1000.0 / leg.forms as f64,
        machine.senders * 1000.0 / leg.forms as f64
    );
    leg
}

/// Waits (at most three minutes) until the machine's cores were busy less than a tenth of one
/// second: what ran before a measure (Central's worker, the last run's writeback) does not run
/// in it.
fn wait_for_quiet() {
    let started = Instant::now();
    loop {
        let before = MachineCpu::now();
        std::thread::sleep(Duration::from_secs(1));
        let m = MachineCpu::between(before, MachineCpu::now());
        let busy = m.busy / (m.busy + m.idle + m.stolen).max(f64::MIN_POSITIVE);
        if busy < 0.10 || started.elapsed() > Duration::from_secs(180) {
            if started.elapsed() > Duration::from_secs(5) {
                println!(
                    "  (waited {:.0} s for the machine to be quiet)",
                    started.elapsed().as_secs_f64()
                );
            }
            return;
        }
    }
}

/// The store's runs against ODK Central's legs of the same bench: `paired`, each run against
/// the leg that followed it (SQLite); otherwise each against Central's fastest leg (PostgreSQL,
/// whose runs come later in the bench).
fn beside_central(runs: &[Run], central: &[f64], paired: bool, target: f64) {
    let fastest = central.iter().copied().fold(0.0, f64::max);
    let ratios: Vec<f64> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| r.rate / if paired { central[i] } else { fastest })
        .collect();
    println!(
        "  ODK Central       {} forms/s",
        said(spread(central.to_vec()), 0)
    );
    println!(
        "  × Central         {}   (target ≥ {target:.0}×: {})",
        said(spread(ratios.clone()), 1),
        if ratios.iter().all(|r| *r >= target) {
            "met in every run"
        } else {
            "missed"
        }
    );
}

/// Medians and ranges of runs beside their baselines.
fn summary(runs: &[Run], baseline: &[f64], name: &str) {
    let of = |f: &dyn Fn(&Run) -> f64| spread(runs.iter().map(f).collect());
    println!("  forms/s           {}", said(of(&|r| r.rate), 0));
    println!(
        "  {name:<17} {} forms/s",
        said(spread(baseline.to_vec()), 0)
    );
    let shares: Vec<f64> = runs
        .iter()
        .zip(baseline)
        .map(|(r, b)| 100.0 * r.rate / b)
        .collect();
    println!(
        "  ingest / {name:<8} {} %   (target ≥ 30 %, met only if every run is)",
        said(spread(shares), 1)
    );
    println!(
        "  request p99       {} ms",
        said(of(&|r| r.p99.as_secs_f64() * 1e3), 1)
    );
    println!(
        "  CPU per 1,000     {} s   (the intake processes, user + system)",
        said(of(&Run::cpu_per_1000), 3)
    );
    println!(
        "  written per form  {} bytes   (the intake processes, to storage)",
        said(of(&Run::written_per_form), 0)
    );
    println!(
        "  senders' CPU      {} s per 1,000 forms   (this bench's own process, on the same cores)",
        said(of(&Run::senders_per_1000), 3)
    );
    println!(
        "  machine idle      {} %; stolen by the host {} %",
        said(of(&|r| r.share(r.machine.idle)), 1),
        said(of(&|r| r.share(r.machine.stolen)), 1)
    );
    println!(
        "  intake peak RSS   {} MB",
        said(of(&|r| r.intake_rss.iter().sum::<u64>() as f64 / 1024.0), 1)
    );
}

fn report(title: &str, run: &Run) {
    println!("{title}: ingest over loopback HTTP (durable commits)");
    println!("  forms/s           {:>10.0}   (target ≥ 7,000)", run.rate);
    println!(
        "  total             {:>10.2} s for {} forms in {} batches",
        run.elapsed.as_secs_f64(),
        run.forms,
        run.batches
    );
    println!(
        "  request p50       {:>10.2} ms",
        run.p50.as_secs_f64() * 1e3
    );
    println!(
        "  request p99       {:>10.2} ms",
        run.p99.as_secs_f64() * 1e3
    );
    let rss: Vec<String> = run
        .intake_rss
        .iter()
        .map(|k| format!("{:.1}", *k as f64 / 1024.0))
        .collect();
    println!(
        "  intake peak RSS   {:>10} MB (per process; target < 100 MB)",
        rss.join(" + ")
    );
    if let Some(db) = run.database_rss {
        println!(
            "  database peak     {:>10.1} MB (summed PSS of all its processes)",
            db as f64 / 1024.0
        );
    }
    println!(
        "  stored            {:>10.1} MB per 10,000 forms",
        run.stored_bytes as f64 * 10_000.0 / run.forms as f64 / 1e6
    );
    println!(
        "  CPU per 1,000     {:>10.3} s; written per form {:.0} bytes",
        run.cpu_per_1000(),
        run.written_per_form()
    );
    println!(
        "  machine's CPU     {:>10.2} s busy ({:.2} s the senders), {:.1} % idle, {:.1} % stolen by the host",
        run.machine.busy,
        run.machine.senders,
        run.share(run.machine.idle),
        run.share(run.machine.stolen)
    );
}

/// Imports the campaign at `place`, serves it with `processes` intake processes, and sends
/// every batch through them (each request to one chosen at random).
fn ingest(
    rt: &tokio::runtime::Runtime,
    place: Place,
    processes: usize,
    senders: usize,
    campaign: &Campaign,
    ministry: &sync_protocol::keys::MinistrySecretKey,
) -> Run {
    // Import and issue codes with the library, then hand the store to the real binary.
    let codes: Vec<(String, String)> = {
        let centre = place.open();
        centre
            .import(campaign, "{}", &[intake::demo::sipas_form()], Utc::now())
            .unwrap();
        let intake = centre.campaign(&campaign.id).unwrap().unwrap();
        campaign
            .enumerators
            .iter()
            .map(|e| {
                (
                    e.id.clone(),
                    intake
                        .issue_enrollment_code(&e.id, chrono::Duration::hours(1), "bench")
                        .unwrap(),
                )
            })
            .collect()
    };
    let servers: Vec<ServeProcess> = (0..processes)
        .map(|_| {
            ServeProcess::start(
                env!("CARGO_BIN_EXE_intake").as_ref(),
                &place.args(),
                "127.0.0.1:0",
                true,
            )
            .unwrap()
        })
        .collect();
    let bases: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();

    let http = reqwest::Client::new();
    let t = Instant::now();
    let prepared = rt.block_on(prepare(
        &http,
        &bases[0],
        campaign,
        codes.as_slice(),
        &ministry.public(),
    ));
    println!(
        "prepared {} batches ({} forms) in {:.1} s (enrollment, sealing, signing: not measured)",
        prepared.frames.len(),
        prepared.forms,
        t.elapsed().as_secs_f64()
    );
    let wire_bytes: usize = prepared.frames.iter().map(|f| f.len()).sum();

    if let Place::Postgres(url) = &place {
        checkpoint(url);
    }
    wait_for_quiet();
    let database = matches!(place, Place::Postgres(_)).then(DatabaseRss::start);
    let frames = prepared.frames.clone();
    let pids: Vec<u32> = servers.iter().map(|s| s.child.id()).collect();
    let (cpu_before, written_before, machine_before) =
        (cpu_ticks(&pids), written(&pids), MachineCpu::now());
    let (elapsed, mut latencies) = rt.block_on(send_all(&http, &bases, frames.clone(), senders));
    let (cpu_after, written_after, machine_after) =
        (cpu_ticks(&pids), written(&pids), MachineCpu::now());
    let database_rss = database.map(DatabaseRss::stop);
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    let intake_rss = servers.iter().map(|s| peak_rss_kib(s.child.id())).collect();
    drop(servers);
    Run {
        forms: prepared.forms,
        batches: frames.len(),
        rate: prepared.forms as f64 / elapsed.as_secs_f64(),
        elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
        intake_rss,
        database_rss,
        stored_bytes: place.stored_bytes(),
        wire_bytes,
        cpu_secs: (cpu_after - cpu_before) as f64 / clock_ticks_per_sec(),
        written_bytes: written_after - written_before,
        machine: MachineCpu::between(machine_before, machine_after),
        prepared,
    }
}

/// User + system CPU of the processes so far, in clock ticks (`/proc/<pid>/stat`).
fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The fields after the command's closing parenthesis; utime and stime are 14 and 15.
            let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
            let fields: Vec<&str> = after.split_whitespace().collect();
            let field = |i: usize| {
                fields
                    .get(i - 3)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            field(14) + field(15)
        })
        .sum()
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: a plain query of a system constant.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).max(1) as f64
}

/// Bytes the processes wrote to storage so far (`write_bytes` of `/proc/<pid>/io`).
fn written(pids: &[u32]) -> u64 {
    pids.iter()
        .map(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/io"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| {
                    l.strip_prefix("write_bytes:")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                })
                .unwrap_or(0)
        })
        .sum()
}

/// A fresh database on the bench's PostgreSQL server; its URL.
fn new_database(server: &str) -> String {
    let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut c = postgres::Client::connect(server, postgres::NoTls).unwrap();
    c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap();
    format!("{base}/{name}")
}

/// Samples the memory of every `postgres` process on the machine while a run goes on, as the
/// sum of their proportional set sizes (PSS: shared buffers counted once, split among the
/// processes that map them — summed RSS would count them once per process).
struct DatabaseRss {
    stop: Arc<std::sync::atomic::AtomicBool>,
    sampler: std::thread::JoinHandle<u64>,
}

impl DatabaseRss {
    fn start() -> DatabaseRss {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let sampler = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let total: u64 = std::fs::read_dir("/proc")
                    .unwrap()
                    .flatten()
                    .filter(|e| {
                        std::fs::read_to_string(e.path().join("comm"))
                            .is_ok_and(|c| c.trim() == "postgres")
                    })
                    .map(|e| status_kib(&e.path().join("smaps_rollup"), "Pss:"))
                    .sum();
                peak = peak.max(total);
                std::thread::sleep(Duration::from_millis(100));
            }
            peak
        });
        DatabaseRss { stop, sampler }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.sampler.join().unwrap()
    }
}

async fn prepare(
    http: &reqwest::Client,
    base: &str,
    campaign: &Campaign,
    codes: &[(String, String)],
    ministry: &sync_protocol::keys::MinistryPublicKey,
) -> Prepared {
    let mut frames = Vec::new();
    let mut signed_all = Vec::new();
    let mut forms = 0;
    let at = DeviceTime::parse("2024-11-25T10:00:00+07:00").unwrap();
    let mut rng = rand::rngs::OsRng;
    for (enumerator, code) in codes {
        let key = DeviceKey::generate(&mut rng);
        let request = api::EnrollRequest {
            code: code.clone(),
            public_key: key.public(),
            label: "bench".into(),
        };
        let enrolled: api::EnrollResponse = http
            .post(format!("{base}{}", api::PATH_ENROLL))
            .json(&request)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let villages = &campaign
            .enumerators
            .iter()
            .find(|e| &e.id == enumerator)
            .unwrap()
            .villages;
        let households: Vec<_> = campaign
            .villages()
            .filter(|(.., v)| villages.contains(&v.id))
            .flat_map(|(.., v)| v.households.iter())
            .collect();
        let mut prev = BatchHash::GENESIS;
        for (seq, chunk) in households.chunks(FORMS_PER_BATCH).enumerate() {
            let mut events = Vec::with_capacity(chunk.len() * 3);
            for h in chunk {
                let sheet = AnswerSheet {
                    form: campaign.form.clone(),
                    household: h.id.clone(),
                    serial: h.serial.clone(),
                    answers: answers(forms),
                    keyings_apart: vec![],
                };
                let order: Vec<&str> = sheet.answers.keys().map(String::as_str).collect();
                let sealed = seal::seal(ministry, &sheet, &order, &mut rng).unwrap();
                let ev = |body| Event::for_household(&h.id, &h.serial, enumerator, at, body);
                events.push(ev(EventBody::FormDistributed {
                    recipient: Recipient::Representative,
                    note: None,
                }));
                events.push(ev(EventBody::FormCollected {}));
                events.push(ev(EventBody::FormTranscribed {
                    form: campaign.form.clone(),
                    sealed_answers: Some(Base64Bytes(sealed)),
                    keying_seconds: 240,
                }));
                forms += 1;
            }
            let batch = Batch {
                protocol: PROTOCOL_VERSION,
                campaign: campaign.id.clone(),
                device: enrolled.device,
                enumerator: enumerator.clone(),
                seq: seq as u64 + 1,
                prev,
                created_at: at,
                events,
            };
            let signed = SignedBatch::sign(&batch, &key).unwrap();
            prev = signed.hash();
            frames.push(signed.to_frame());
            signed_all.push((signed, key.public()));
        }
    }
    Prepared {
        frames: Arc::new(frames),
        signed: signed_all,
        forms,
    }
}

/// Sends every frame; each worker is a device sending its own batches in order.
async fn send_all(
    http: &reqwest::Client,
    bases: &[String],
    frames: Arc<Vec<Vec<u8>>>,
    senders: usize,
) -> (Duration, Vec<Duration>) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..senders {
        let (http, urls, frames, next) = (
            http.clone(),
            bases
                .iter()
                .map(|b| format!("{b}{}", api::PATH_BATCHES))
                .collect::<Vec<_>>(),
            frames.clone(),
            next.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            // Batches of one enumerator are adjacent (seq 1, 2): take them as a pair, in order.
            loop {
                let i = next.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
                if i >= frames.len() {
                    break;
                }
                for frame in &frames[i..(i + 2).min(frames.len())] {
                    let url = &urls[rand::random::<usize>() % urls.len()];
                    let t = Instant::now();
                    let r = http.post(url).body(frame.clone()).send().await.unwrap();
                    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
                    latencies.push(t.elapsed());
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    (start.elapsed(), all)
}

type Row = (
    String,
    String,
    u64,
    usize,
    Option<String>,
    Option<String>,
    &'static str,
    String,
    i64,
    String,
);

/// The event rows of the frames, as the intake stores them (decoded before any clock starts:
/// the baselines measure the database work alone).
fn event_rows(frames: &[Vec<u8>]) -> Vec<Row> {
    let mut rows = Vec::new();
    for frame in frames {
        let batch = SignedBatch::from_frame(frame).unwrap().decode().unwrap();
        for (idx, e) in batch.events.iter().enumerate() {
            let body = String::from_utf8(sync_protocol::canonical::to_canonical_bytes(e).unwrap())
                .unwrap();
            rows.push((
                e.id.to_string(),
                batch.enumerator.clone(),
                batch.seq,
                idx,
                e.household.clone(),
                e.serial.clone(),
                e.body.kind(),
                e.at.to_string(),
                e.at.unix(),
                body,
            ));
        }
    }
    rows
}

/// The events table's columns in the order both baselines fill them.
const EVENT_COLUMNS: &str = "id, enumerator_id, seq, idx, device_id, household_id, serial, kind, occurred_at, occurred_unix, received_at, body, status, code, reason";

fn raw_insert(rows: &[Row]) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw.db");
    // The events table as the intake's migrations leave it (its indexes, not the first
    // migration's): the baseline writes what the intake writes for each event, no more.
    drop(intake::store::sqlite::campaign_store(&path).unwrap());
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    // Not while the run before it is still being written back.
    wait_for_quiet();
    let start = Instant::now();
    let tx = conn.transaction().unwrap();
    {
        let mut stmt = tx.prepare(&format!("INSERT INTO events ({EVENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, 'dev', ?5, ?6, ?7, ?8, ?9, 'now', ?10, 'accepted', NULL, NULL)")).unwrap();
        for r in rows {
            stmt.execute(params![
                r.0, r.1, r.2, r.3 as i64, r.4, r.5, r.6, r.7, r.8, r.9
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
    start.elapsed()
}

/// PostgreSQL's own bulk load of the same rows into the same table, one durable transaction.
fn copy_insert(server: &str, rows: &[Row]) -> Duration {
    let url = new_database(server);
    // The events table as the intake's migrations leave it, as for the SQLite baseline.
    let schema = intake::store::postgres::campaign_schema("copy-baseline");
    let db = intake::store::postgres::Database::connect(&url).unwrap();
    drop(intake::store::postgres::campaign_store(&db, &schema).unwrap());
    drop(db);
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(&format!("SET search_path TO {schema}"))
        .unwrap();
    let mut csv_rows = csv::Writer::from_writer(Vec::new());
    for r in rows {
        csv_rows
            .write_record([
                r.0.as_str(),
                &r.1,
                &r.2.to_string(),
                &r.3.to_string(),
                "dev",
                r.4.as_deref().unwrap_or(""),
                r.5.as_deref().unwrap_or(""),
                r.6,
                &r.7,
                &r.8.to_string(),
                "now",
                &r.9,
                "accepted",
                "",
                "",
            ])
            .unwrap();
    }
    let data = csv_rows.into_inner().unwrap();
    // Not while the run before it is still checkpointed or vacuumed (its database is the one
    // beside it): the same start as each run gets.
    checkpoint(&url);
    wait_for_quiet();
    let start = Instant::now();
    let mut tx = c.transaction().unwrap();
    let mut writer = tx
        .copy_in(&format!(
            "COPY events ({EVENT_COLUMNS}) FROM STDIN (FORMAT csv)"
        ))
        .unwrap();
    std::io::Write::write_all(&mut writer, &data).unwrap();
    writer.finish().unwrap();
    tx.commit().unwrap();
    start.elapsed()
}

/// Writes out every page the server holds changed, so that what a run left behind is not
/// written during the next measure, then starts the log's statistics again: [`statement_times`]
/// counts the log's flushes of the timed run alone.
fn checkpoint(url: &str) {
    postgres::Client::connect(url, postgres::NoTls)
        .unwrap()
        .batch_execute("CHECKPOINT; SELECT pg_stat_reset_shared('wal')")
        .unwrap();
}

fn status_kib(path: &std::path::Path, field: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)
                .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(
        std::path::Path::new(&format!("/proc/{pid}/status")),
        "VmHWM:",
    )
}
