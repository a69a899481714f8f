//! The centre's pages at national scale (not a timed test: it prints figures). 63 provinces
//! shaped like the Quảng Trị demo — 30,618 households with full histories (handed out,
//! collected, keyed, verified, in a parcel) and 95 % of the paper arrived — then the pages are
//! requested through the real router, as the server runs them, and their server time measured.
//!
//! `cargo bench -p intake --bench pages`
//!
//! Baseline in the same run: `/v1/health` through the same router — the floor of any request.

use axum::{body::Body, http::Request};
use chrono::Utc;
use intake::{
    accounts::{hash_password, Account, Role},
    demo,
};
use std::time::{Duration, Instant};
use sync_protocol::{
    api,
    batch::{Batch, BatchHash, SignedBatch},
    event::{Event, EventBody, Recipient},
    keys::{Base64Bytes, DeviceKey},
    DeviceTime, PROTOCOL_VERSION,
};
use tower::ServiceExt;

const FORMS_PER_BATCH: usize = 27;

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let centre = std::sync::Arc::new(intake::open(dir.path()).unwrap());
    let campaign = demo::shaped_like_quang_tri(63, &demo::fixed_ministry_key().public());
    centre
        .import(&campaign, "{}", &[intake::demo::sipas_form()], Utc::now())
        .unwrap();
    let intake = centre.campaign(&campaign.id).unwrap().unwrap();

    let started = Instant::now();
    let at = DeviceTime::parse("2024-11-24T10:00:00+07:00").unwrap();
    let mut rng = rand::rngs::OsRng;
    let mut households_total = 0;
    let mut serials = Vec::new();
    for enumerator in &campaign.enumerators {
        let key = DeviceKey::generate(&mut rng);
        let code = intake
            .issue_enrollment_code(&enumerator.id, chrono::Duration::hours(1), "bench")
            .unwrap();
        let enrolled = centre
            .enroll(
                &api::EnrollRequest {
                    code,
                    public_key: key.public(),
                    label: "bench".into(),
                },
                std::net::Ipv4Addr::LOCALHOST.into(),
            )
            .unwrap();
        let mut prev = BatchHash::GENESIS;
        let mut seq = 0;
        for (.., village) in campaign
            .villages()
            .filter(|(.., v)| enumerator.villages.contains(&v.id))
        {
            for chunk in village.households.chunks(FORMS_PER_BATCH) {
                let mut events = Vec::new();
                for h in chunk {
                    let ev =
                        |body| Event::for_household(&h.id, &h.serial, &enumerator.id, at, body);
                    let mut sealed = vec![7u8; 160];
                    rand::RngCore::fill_bytes(&mut rng, &mut sealed);
                    events.push(ev(EventBody::FormDistributed {
                        recipient: Recipient::Representative,
                        note: None,
                    }));
                    events.push(ev(EventBody::FormCollected {}));
                    events.push(ev(EventBody::FormTranscribed {
                        form: campaign.form.clone(),
                        sealed_answers: None,
                        keying_seconds: 240,
                    }));
                    events.push(ev(EventBody::TranscriptionVerified {
                        form: campaign.form.clone(),
                        sealed_answers: Base64Bytes(sealed),
                        keying_seconds: 200,
                        mismatches: 0,
                        keyer_errors: 0,
                        verifier_errors: 0,
                    }));
                    serials.push(h.serial.clone());
                    households_total += 1;
                }
                events.push(Event::parcel(
                    &enumerator.id,
                    at,
                    &format!("P-{}-{seq}", enumerator.id),
                    chunk.iter().map(|h| h.serial.clone()).collect(),
                ));
                seq += 1;
                let batch = Batch {
                    protocol: PROTOCOL_VERSION,
                    campaign: campaign.id.clone(),
                    device: enrolled.device,
                    enumerator: enumerator.id.clone(),
                    seq,
                    prev,
                    created_at: at,
                    events,
                };
                let signed = SignedBatch::sign(&batch, &key).unwrap();
                prev = signed.hash();
                centre.ingest(&signed.to_frame(), Utc::now()).unwrap();
            }
        }
    }
    // 95 % of the paper has arrived, a few serials twice.
    let arrived: Vec<String> = serials
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 20 != 0)
        .map(|(_, s)| s.clone())
        .chain(serials.iter().take(50).cloned())
        .collect();
    intake
        .store
        .record_paper("bench", &arrived, "bench", Utc::now())
        .unwrap();
    let supervisor = campaign.supervisors[0].login.clone();
    centre
        .accounts()
        .set_password(
            &supervisor,
            &hash_password("giám sát mật khẩu dài").unwrap(),
        )
        .unwrap();
    let ministry = Account {
        login: "bonv".into(),
        name: "Bộ Nội vụ".into(),
        role: Role::Ministry,
        campaigns: [(campaign.id.clone(), vec![])].into(),
        districts: vec![],
        password_hash: Some(hash_password("bộ nội vụ mật khẩu").unwrap()),
        disabled: false,
    };
    centre
        .accounts()
        .upsert_account(&ministry, Utc::now())
        .unwrap();
    let sup_token = centre
        .log_in(&supervisor, "giám sát mật khẩu dài", "127.0.0.1", None)
        .unwrap()
        .session;
    let min_token = centre
        .log_in("bonv", "bộ nội vụ mật khẩu", "127.0.0.1", None)
        .unwrap()
        .session;
    println!(
        "prepared {households_total} households with full histories in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Where reconciliation's time goes.
    for _ in 0..3 {
        let t = Instant::now();
        let expected = intake.store.expected_forms().unwrap();
        let t_expected = t.elapsed();
        let paper = intake.store.paper_serials().unwrap();
        let t_paper = t.elapsed() - t_expected;
        let r = intake::reconcile::reconcile(&expected, &paper);
        println!("  reconciliation parts: expected forms {:.1} ms, paper serials {:.1} ms, matching {:.1} ms ({} villages)", t_expected.as_secs_f64() * 1e3, t_paper.as_secs_f64() * 1e3, (t.elapsed() - t_expected - t_paper).as_secs_f64() * 1e3, r.villages.len());
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let router = intake::http::router(centre.clone());
    let measure = |path: &str, token: Option<&str>, rounds: usize| -> (Vec<Duration>, usize) {
        let path = if path.starts_with("/v1/") {
            path.to_string()
        } else {
            format!("/c/{}{path}", campaign.id)
        };
        let path = path.as_str();
        let mut times = Vec::with_capacity(rounds);
        let mut size = 0;
        for _ in 0..rounds {
            let mut request = Request::get(path);
            if let Some(t) = token {
                request = request.header("cookie", format!("fp_session={t}"));
            }
            let request = request.body(Body::empty()).unwrap();
            let t = Instant::now();
            let response = runtime.block_on(router.clone().oneshot(request)).unwrap();
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            let body = runtime
                .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
                .unwrap();
            times.push(t.elapsed());
            size = body.len();
        }
        (times, size)
    };
    let (health, _) = measure("/v1/health", None, 200);
    let floor = percentile(health, 0.95);
    println!("server time over the real router, {households_total} households (p50 / p95 of 50 requests; target p95 < 100 ms)");
    println!(
        "  /v1/health (baseline)                 p95 {:>8.3} ms",
        floor.as_secs_f64() * 1e3
    );
    for (label, path, token, rounds) in [
        (
            "supervisor /progress (one district)",
            "/progress",
            sup_token.as_str(),
            50,
        ),
        (
            "supervisor /api/progress",
            "/api/progress",
            sup_token.as_str(),
            50,
        ),
        (
            "ministry /progress (national)",
            "/progress",
            min_token.as_str(),
            50,
        ),
        (
            "ministry /ministry/reconciliation",
            "/ministry/reconciliation",
            min_token.as_str(),
            50,
        ),
        // Not a target page: it reads every event's paradata.
        (
            "ministry /ministry/anomalies (10 requests)",
            "/ministry/anomalies",
            min_token.as_str(),
            10,
        ),
    ] {
        let (times, size) = measure(path, Some(token), rounds);
        let (p50, p95) = (percentile(times.clone(), 0.5), percentile(times, 0.95));
        println!(
            "  {label:<38} p50 {:>8.2} ms, p95 {:>8.2} ms ({:.0}x the floor; {} KB)",
            p50.as_secs_f64() * 1e3,
            p95.as_secs_f64() * 1e3,
            p95.as_secs_f64() / floor.as_secs_f64(),
            size / 1024
        );
    }
}
