//! Several intake processes over one PostgreSQL database (issue 12): a fleet of 54 devices,
//! two villages each, sends its work through three `intake serve` processes — each request to
//! one chosen at random — while one process after another is killed with SIGKILL and started
//! again. Afterwards every event the devices hold is at the centre exactly once, every receipt
//! they hold verifies and is the centre's for that batch, no alert was raised, and the pages
//! say the same from every process, with a session opened at another.
//!
//! PostgreSQL only (several processes on one SQLite file is not a supported deployment): it
//! runs in `scripts/test`'s PostgreSQL suite; without `FIELDPOST_TEST_POSTGRES` it says so and
//! stops.

mod support;

use chrono::Utc;
use intake::{accounts::hash_password, demo, local::ServeProcess, store::Store};
use rand::{seq::SliceRandom, Rng, SeedableRng};
use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex, RwLock,
    },
    time::{Duration, Instant},
};
use support::{pages, place::Place};
use sync_protocol::{
    api,
    batch::{Batch, BatchHash, SignedBatch},
    event::{Event, EventBody, Recipient},
    keys::{Base64Bytes, DeviceKey, PublicKey},
    receipt::Receipt,
    signed::{SignedDocument, RECEIPT_DOMAIN},
    DeviceTime, PROTOCOL_VERSION,
};

const PROVINCES: usize = 6;
const FORMS_PER_BATCH: usize = 4;
const PROCESSES: usize = 3;
const OWNER_PASSWORD: &str = "mật khẩu của Bộ cho đội máy";

/// A device's work: its frames in chain order, and the receipts it was given.
struct Device {
    enumerator: String,
    frames: Vec<(Vec<u8>, BatchHash, Vec<String>)>,
}

fn prepare(place: &Place) -> (Vec<Device>, PublicKey, String, u64) {
    let mut campaign = demo::shaped_like_quang_tri(PROVINCES, &demo::fixed_ministry_key().public());
    // The first keying carries the answers (a campaign without double keying).
    campaign.verification_required = false;
    let centre = place.open();
    centre
        .import(&campaign, "{}", &[demo::sipas_form()], Utc::now())
        .unwrap();
    let intake = centre.campaign(&campaign.id).unwrap().unwrap();
    let owner = intake::accounts::Account {
        login: "bonv".into(),
        name: "Bộ Nội vụ".into(),
        role: intake::accounts::Role::Ministry,
        campaigns: [(campaign.id.clone(), vec![])].into(),
        districts: vec![],
        password_hash: Some(hash_password(OWNER_PASSWORD).unwrap()),
        disabled: false,
    };
    centre
        .accounts()
        .upsert_account(&owner, Utc::now())
        .unwrap();
    let at = DeviceTime::parse("2024-11-25T10:00:00+07:00").unwrap();
    let devices = campaign
        .enumerators
        .iter()
        .map(|e| {
            let key = DeviceKey::generate(&mut rand::rngs::OsRng);
            let code = intake
                .issue_enrollment_code(&e.id, chrono::Duration::hours(1), "fleet")
                .unwrap();
            let device = centre
                .enroll(
                    &api::EnrollRequest {
                        code,
                        public_key: key.public(),
                        label: String::new(),
                    },
                    "127.0.0.1".parse().unwrap(),
                )
                .unwrap()
                .device;
            let households: Vec<_> = campaign
                .villages()
                .filter(|(.., v)| e.villages.contains(&v.id))
                .flat_map(|(.., v)| v.households.iter())
                .collect();
            let mut prev = BatchHash::GENESIS;
            let frames = households
                .chunks(FORMS_PER_BATCH)
                .enumerate()
                .map(|(i, chunk)| {
                    let mut events = Vec::new();
                    for h in chunk {
                        let ev = |body| Event::for_household(&h.id, &h.serial, &e.id, at, body);
                        events.push(ev(EventBody::FormDistributed {
                            recipient: Recipient::Representative,
                            note: None,
                        }));
                        events.push(ev(EventBody::FormCollected {}));
                        events.push(ev(EventBody::FormTranscribed {
                            form: campaign.form.clone(),
                            sealed_answers: Some(Base64Bytes(vec![9; 300])),
                            keying_seconds: 150,
                        }));
                    }
                    let ids = events.iter().map(|e| e.id.to_string()).collect();
                    let batch = Batch {
                        protocol: PROTOCOL_VERSION,
                        campaign: campaign.id.clone(),
                        device,
                        enumerator: e.id.clone(),
                        seq: i as u64 + 1,
                        prev,
                        created_at: at,
                        events,
                    };
                    let signed = SignedBatch::sign(&batch, &key).unwrap();
                    prev = signed.hash();
                    (signed.to_frame(), prev, ids)
                })
                .collect();
            Device {
                enumerator: e.id.clone(),
                frames,
            }
        })
        .collect();
    let households = campaign
        .villages()
        .map(|(.., v)| v.households.len() as u64)
        .sum();
    (
        devices,
        centre.shared.key.public(),
        campaign.id.clone(),
        households,
    )
}

#[test]
fn a_fleet_through_several_processes_survives_sigkills_and_arrives_exactly_once() {
    if support::place::postgres_server().is_none() {
        eprintln!("runs in the PostgreSQL suite: set FIELDPOST_TEST_POSTGRES (scripts/test does)");
        return;
    }
    let place = Place::new();
    let (devices, intake_key, campaign, households) = prepare(&place);
    assert!(devices.len() >= 50, "{} devices", devices.len());
    let processes: Arc<Mutex<Vec<ServeProcess>>> =
        Arc::new(Mutex::new((0..PROCESSES).map(|_| place.serve()).collect()));
    let live: Arc<RwLock<Vec<String>>> = Arc::new(RwLock::new(
        processes
            .lock()
            .unwrap()
            .iter()
            .map(|p| p.url.clone())
            .collect(),
    ));

    // The chaos: one process at a time killed at a random moment, and started again.
    let done = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let chaos = {
        let (processes, live, done, kills, place_args) = (
            processes.clone(),
            live.clone(),
            done.clone(),
            kills.clone(),
            place.args(),
        );
        std::thread::spawn(move || {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(rng.gen_range(150..700)));
                if done.load(Ordering::SeqCst) {
                    break;
                }
                let victim = rng.gen_range(0..PROCESSES);
                let mut all = processes.lock().unwrap();
                let base = all[victim].url.clone();
                live.write().unwrap().retain(|b| *b != base);
                all[victim].kill(); // SIGKILL
                kills.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(rng.gen_range(20..300)));
                let started = support::place::serve(&place_args);
                let base = started.url.clone();
                live.write().unwrap().push(base.clone());
                all[victim] = started;
            }
        })
    };

    // The fleet: each device sends its batches in order, each request to a live process at
    // random; an error or a cut connection is retried (the same bytes) after a short wait.
    let receipts: Arc<Mutex<HashMap<(String, u64), SignedDocument>>> = Default::default();
    let retries = Arc::new(AtomicUsize::new(0));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut tasks = Vec::new();
        for (n, device) in devices.iter().enumerate() {
            let frames: Vec<(Vec<u8>, BatchHash)> = device
                .frames
                .iter()
                .map(|(f, h, _)| (f.clone(), *h))
                .collect();
            let (http, live, receipts, retries, enumerator, intake_key) = (
                http.clone(),
                live.clone(),
                receipts.clone(),
                retries.clone(),
                device.enumerator.clone(),
                intake_key,
            );
            tasks.push(tokio::spawn(async move {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(n as u64);
                for (i, (frame, hash)) in frames.into_iter().enumerate() {
                    let seq = i as u64 + 1;
                    loop {
                        let base = live.read().unwrap().choose(&mut rng).cloned();
                        let answer = match base {
                            Some(base) => http
                                .post(format!("{base}{}", api::PATH_BATCHES))
                                .header("content-type", sync_protocol::batch::FRAME_CONTENT_TYPE)
                                .body(frame.clone())
                                .send()
                                .await
                                .ok(),
                            None => None,
                        };
                        let receipt = match answer {
                            Some(r) if r.status().is_success() => {
                                r.json::<SignedDocument>().await.ok()
                            }
                            Some(r) => {
                                let status = r.status();
                                assert!(
                                    status.is_server_error(),
                                    "{enumerator}/{seq}: refused {status}: {}",
                                    r.text().await.unwrap_or_default()
                                );
                                None
                            }
                            None => None,
                        };
                        match receipt {
                            Some(doc) => {
                                let r: Receipt = doc
                                    .verify(RECEIPT_DOMAIN, &intake_key, "receipt")
                                    .expect("a receipt the intake's key signed");
                                assert_eq!((r.seq, r.batch_hash), (seq, hash), "{enumerator}");
                                receipts
                                    .lock()
                                    .unwrap()
                                    .insert((enumerator.clone(), seq), doc);
                                break;
                            }
                            None => {
                                retries.fetch_add(1, Ordering::Relaxed);
                                tokio::time::sleep(Duration::from_millis(rng.gen_range(20..120)))
                                    .await;
                            }
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    done.store(true, Ordering::SeqCst);
    chaos.join().unwrap();
    let batches: usize = devices.iter().map(|d| d.frames.len()).sum();
    let kills = kills.load(Ordering::SeqCst);
    eprintln!(
        "{} devices, {batches} batches through {PROCESSES} processes in {:.1} s: {kills} SIGKILLs, {} retries",
        devices.len(),
        started.elapsed().as_secs_f64(),
        retries.load(Ordering::Relaxed)
    );
    assert!(
        kills >= 2,
        "the processes were killed while the fleet sent ({kills})"
    );

    // Every event exactly once; every receipt is the centre's for its batch; no alert.
    let store = place.campaign_store(&campaign);
    let stored = store.events().unwrap();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for e in &stored {
        *count.entry(e.id.as_str()).or_default() += 1;
    }
    let held: Vec<&String> = devices
        .iter()
        .flat_map(|d| d.frames.iter().flat_map(|(.., ids)| ids))
        .collect();
    assert_eq!(stored.len(), held.len(), "nothing more, nothing less");
    for id in &held {
        assert_eq!(count.get(id.as_str()), Some(&1), "event {id} is there once");
    }
    assert!(stored.iter().all(|e| e.status == "accepted"));
    let receipts = receipts.lock().unwrap();
    assert_eq!(receipts.len(), batches);
    for device in &devices {
        assert_eq!(
            store.chain_head(&device.enumerator).unwrap().seq,
            device.frames.len() as u64
        );
        for (i, (_, hash, _)) in device.frames.iter().enumerate() {
            let seq = i as u64 + 1;
            let centre = store
                .stored_receipt(&device.enumerator, seq, hash)
                .unwrap()
                .expect("the centre's chain holds the batch the device holds");
            assert_eq!(
                serde_json::to_value(&centre).unwrap(),
                serde_json::to_value(&receipts[&(device.enumerator.clone(), seq)]).unwrap()
            );
        }
    }
    let alerts = store.alerts().unwrap();
    assert!(alerts.is_empty(), "no alert was raised: {alerts:?}");

    // The pages: a session opened at one process works at every other, and all say the same.
    let bases: Vec<String> = live.read().unwrap().clone();
    runtime.block_on(async {
        let session = pages::log_in_at(&bases[0], "bonv", OWNER_PASSWORD)
            .await
            .unwrap();
        let mut seen = BTreeMap::new();
        for base in &bases {
            let r = pages::client()
                .get(format!("{base}/c/{campaign}/api/progress"))
                .header("cookie", format!("fp_session={session}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{base}");
            let body: serde_json::Value = r.json().await.unwrap();
            seen.insert(base.clone(), body["total"].clone());
        }
        let first = seen.values().next().unwrap().clone();
        assert!(seen.values().all(|v| *v == first), "{seen:?}");
        assert_eq!(first["transcribed"], households, "{first}");
    });
    drop(processes);
}
