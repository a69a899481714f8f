//! Durable save of one keyed answer — what happens on every keystroke that picks a code
//! (not a timed test: it prints figures). `cargo bench -p field-client --bench answer_save`
//!
//! Baseline in the same run: one bare row committed durably (WAL, synchronous=FULL) to a
//! fresh SQLite file on the same disk: the floor any durable save pays.

use field_client::{Client, RetryPolicy};
use std::time::Instant;
use sync_protocol::event::Recipient;

#[path = "../tests/support/mod.rs"]
mod support;

fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[v.len() / 2], v[(v.len() * 99) / 100])
}

fn main() {
    let centre = support::start_centre();
    let dir = tempfile::tempdir().unwrap();
    let mut client = Client::open(&dir.path().join("device")).unwrap();
    let code = centre
        .intake
        .issue_enrollment_code("enum-dh-p2", chrono::Duration::hours(1), "bench")
        .unwrap();
    client.enroll(&centre.url, &code, "bench").unwrap();
    let h = client.households().unwrap()[0].id.clone();
    client
        .distribute(&h, Recipient::Representative, None)
        .unwrap();
    client.collect(&h).unwrap();
    client.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    let questions: Vec<String> = client
        .form()
        .unwrap()
        .questions
        .iter()
        .filter(|q| matches!(q.accepts, forms::load::Accepts::Code(_)))
        .map(|q| q.id.clone())
        .collect();

    let rounds = 2000;
    let mut save = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let q = &questions[i % questions.len()];
        let t = Instant::now();
        let v = client
            .set_answer(&h, 1, q, Some(serde_json::json!(1 + (i % 2))))
            .unwrap();
        save.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(v);
    }

    let raw = rusqlite::Connection::open(dir.path().join("raw.db")).unwrap();
    raw.pragma_update(None, "journal_mode", "WAL").unwrap();
    raw.pragma_update(None, "synchronous", "FULL").unwrap();
    raw.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
        .unwrap();
    let mut bare = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let t = Instant::now();
        raw.execute(
            "INSERT INTO t VALUES (?1, '1') ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            [format!("q{}", i % 80)],
        )
        .unwrap();
        bare.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p99) = percentiles(save);
    let (b50, b99) = percentiles(bare);
    println!("durable save of one keyed answer (answer + keying time in one transaction, then validation), {rounds} saves");
    println!("  p50 {p50:>7.3} ms   p99 {p99:>7.3} ms   (target p99 < 5 ms)");
    println!("baseline: one bare durable row commit");
    println!("  p50 {b50:>7.3} ms   p99 {b99:>7.3} ms");
    println!("  save / bare at p50: {:.2}×", p50 / b50);
}
