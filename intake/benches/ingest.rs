//! National-size ingest benchmark (not a timed test: it prints figures, it asserts nothing
//! about speed). `cargo bench -p intake --bench ingest`
//!
//! 63 provinces shaped like the Quảng Trị demo: 30,618 forms, each a distribution, a
//! collection and a transcription with a ~100-answer sealed payload, in batches of 27 forms,
//! sent over loopback HTTP to the real `intake` binary (durable commits: WAL, synchronous=FULL).
//! In the same run: a raw SQLite insert of the same event rows in one transaction, and the
//! cost of Ed25519 verification of the same batches.

use chrono::Utc;
use intake::{campaign::Campaign, demo};
use rusqlite::params;
use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
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
const CONCURRENCY: usize = 16;

struct Prepared {
    frames: Vec<Vec<u8>>,
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

fn main() {
    let dir = tempfile::tempdir().unwrap();
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

    // Import and issue codes with the library, then hand the directory to the real binary.
    let codes: Vec<(String, String)> = {
        let centre = intake::open(dir.path()).unwrap();
        centre
            .import(&campaign, "{}", &[intake::demo::sipas_form()], Utc::now())
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_intake"))
        .args([
            "serve",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().rsplit(' ').next().unwrap().to_string();
    let rss_at_start = peak_rss_kib(pid);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = reqwest::Client::new();
    let t = Instant::now();
    let prepared = rt.block_on(prepare(&http, &base, &campaign, &codes, &ministry.public()));
    println!(
        "prepared {} batches ({} forms) in {:.1} s (enrollment, sealing, signing: not measured)",
        prepared.frames.len(),
        prepared.forms,
        t.elapsed().as_secs_f64()
    );
    let wire: usize = prepared.frames.iter().map(|f| f.len()).sum();

    // 1. HTTP ingest.
    let frames = Arc::new(prepared.frames);
    let (elapsed, mut latencies) = rt.block_on(send_all(&http, &base, frames.clone()));
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    let rate = prepared.forms as f64 / elapsed.as_secs_f64();
    let peak_rss = peak_rss_kib(pid);
    let _ = child.kill();
    let _ = child.wait();

    // 2. Raw SQLite insert of the same event rows, durable, one transaction. One big commit's
    //    fsync varies a lot from run to run here, so take the median of three.
    let mut raw_runs: Vec<(Duration, usize)> = (0..3).map(|_| raw_insert(&frames)).collect();
    raw_runs.sort();
    let (raw_elapsed, rows) = raw_runs[1];
    let raw_rate = prepared.forms as f64 / raw_elapsed.as_secs_f64();
    let raw_range = (
        prepared.forms as f64 / raw_runs[2].0.as_secs_f64(),
        prepared.forms as f64 / raw_runs[0].0.as_secs_f64(),
    );

    // 3. Ed25519 verification of the same batches.
    let t = Instant::now();
    for (signed, key) in &prepared.signed {
        signed.verify(key).unwrap();
    }
    let verify = t.elapsed();

    println!();
    println!("ingest over loopback HTTP ({CONCURRENCY} concurrent devices, durable commits)");
    println!("  forms/s           {rate:>10.0}   (target ≥ 7,000)");
    println!(
        "  total             {:>10.2} s for {} forms in {} batches",
        elapsed.as_secs_f64(),
        prepared.forms,
        frames.len()
    );
    println!(
        "  request p50       {:>10.2} ms",
        pct(0.50).as_secs_f64() * 1e3
    );
    println!(
        "  request p99       {:>10.2} ms",
        pct(0.99).as_secs_f64() * 1e3
    );
    println!(
        "  server peak RSS   {:>10.1} MB (at start {:.1} MB; target < 100 MB)",
        peak_rss as f64 / 1024.0,
        rss_at_start as f64 / 1024.0
    );
    println!(
        "  bytes on the wire {:>10.0} per form",
        wire as f64 / prepared.forms as f64
    );
    println!("raw SQLite insert of the same {rows} event rows, one transaction (median of 3)");
    println!(
        "  forms/s           {raw_rate:>10.0}   (runs ranged {:.0}–{:.0})",
        raw_range.0, raw_range.1
    );
    println!(
        "  ingest / raw      {:>10.1} %   (target ≥ 30 %)",
        100.0 * rate / raw_rate
    );
    println!(
        "Ed25519 verification (verify_strict) of the same {} batches",
        frames.len()
    );
    println!(
        "  per batch         {:>10.1} µs",
        verify.as_secs_f64() * 1e6 / frames.len() as f64
    );
    println!(
        "  share of ingest   {:>10.1} %",
        100.0 * verify.as_secs_f64() / elapsed.as_secs_f64()
    );
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
        frames,
        signed: signed_all,
        forms,
    }
}

/// Sends every frame; each worker is a device sending its own batches in order.
async fn send_all(
    http: &reqwest::Client,
    base: &str,
    frames: Arc<Vec<Vec<u8>>>,
) -> (Duration, Vec<Duration>) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (http, url, frames, next) = (
            http.clone(),
            format!("{base}{}", api::PATH_BATCHES),
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
                    let t = Instant::now();
                    let r = http.post(&url).body(frame.clone()).send().await.unwrap();
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

fn raw_insert(frames: &[Vec<u8>]) -> (Duration, usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = rusqlite::Connection::open(dir.path().join("raw.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch(include_str!(
        "../migrations/sqlite/campaign/V1__initial.sql"
    ))
    .unwrap();
    // The rows, decoded before the clock starts: the baseline is the database work alone.
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
    let start = Instant::now();
    let tx = conn.transaction().unwrap();
    {
        let mut stmt = tx.prepare("INSERT INTO events VALUES (?1, ?2, ?3, ?4, 'dev', ?5, ?6, ?7, ?8, ?9, 'now', ?10, 'accepted', NULL, NULL)").unwrap();
        for r in &rows {
            stmt.execute(params![
                r.0, r.1, r.2, r.3 as i64, r.4, r.5, r.6, r.7, r.8, r.9
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
    (start.elapsed(), rows.len())
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmHWM:")
                .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}
