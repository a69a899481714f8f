//! Durability: a receipt means the batch is on disk. The real `intake` binary is killed with
//! SIGKILL while devices are sending; after a restart every batch that got a receipt is there,
//! whole (all its events), nothing half-written is, and the devices finish from where the
//! intake says their chains stand.

mod support;

use chrono::Utc;
use intake::{demo, store::Store};
use rand::{Rng, SeedableRng};
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use support::place::Place;
use sync_protocol::{
    api,
    batch::{Batch, BatchHash, SignedBatch},
    event::{Event, EventBody, Recipient},
    keys::{Base64Bytes, DeviceKey},
    DeviceTime, PROTOCOL_VERSION,
};

const FORMS_PER_BATCH: usize = 6;

struct Chain {
    enumerator: String,
    frames: Vec<Vec<u8>>,
    events_per_batch: Vec<usize>,
}

fn prepare(place: &Place) -> Vec<Chain> {
    let ministry = demo::fixed_ministry_key();
    // The first keying carries the answers (a campaign without double keying).
    let mut campaign = demo::quang_tri_2024(&ministry.public());
    campaign.verification_required = false;
    let centre = place.open();
    centre
        .import(&campaign, "{}", &[intake::demo::sipas_form()], Utc::now())
        .unwrap();
    let intake = centre.campaign(&campaign.id).unwrap().unwrap();
    let at = DeviceTime::parse("2024-11-25T10:00:00+07:00").unwrap();
    campaign
        .enumerators
        .iter()
        .map(|e| {
            let key = DeviceKey::generate(&mut rand::rngs::OsRng);
            let code = intake
                .issue_enrollment_code(&e.id, chrono::Duration::hours(1), "test")
                .unwrap();
            let request = api::EnrollRequest {
                code,
                public_key: key.public(),
                label: String::new(),
            };
            let device = centre
                .enroll(&request, "127.0.0.1".parse().unwrap())
                .unwrap()
                .device;
            let households: Vec<_> = campaign
                .villages()
                .filter(|(.., v)| e.villages.contains(&v.id))
                .flat_map(|(.., v)| v.households.iter())
                .collect();
            let mut prev = BatchHash::GENESIS;
            let mut frames = Vec::new();
            let mut events_per_batch = Vec::new();
            for (i, chunk) in households.chunks(FORMS_PER_BATCH).enumerate() {
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
                        sealed_answers: Some(Base64Bytes(vec![3; 400])),
                        keying_seconds: 100,
                    }));
                }
                events_per_batch.push(events.len());
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
                frames.push(signed.to_frame());
            }
            Chain {
                enumerator: e.id.clone(),
                frames,
                events_per_batch,
            }
        })
        .collect()
}

/// Sends each chain's frames in order from `from[enumerator]`, recording receipted seqs.
async fn send(
    base: &str,
    chains: &[Chain],
    from: &BTreeMap<String, u64>,
    receipted: Arc<Mutex<Vec<(String, u64)>>>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut tasks = Vec::new();
    for chain in chains {
        let start = from.get(&chain.enumerator).copied().unwrap_or(0) as usize;
        let frames: Vec<Vec<u8>> = chain.frames[start..].to_vec();
        let (http, url, receipted, enumerator) = (
            http.clone(),
            format!("{base}{}", api::PATH_BATCHES),
            receipted.clone(),
            chain.enumerator.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for (i, frame) in frames.into_iter().enumerate() {
                match http.post(&url).body(frame).send().await {
                    Ok(r) if r.status().is_success() => receipted
                        .lock()
                        .unwrap()
                        .push((enumerator.clone(), (start + i + 1) as u64)),
                    _ => return, // the server died: this device stops, as a real one would retry later
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

#[test]
fn sigkill_mid_ingest_loses_no_receipted_batch() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut killed_mid_ingest = 0;
    for seed in 0..3u64 {
        let place = Place::new();
        let chains = prepare(&place);
        let mut server = place.serve();
        let receipted = Arc::new(Mutex::new(Vec::new()));
        let kill_after =
            Duration::from_millis(rand_chacha::ChaCha8Rng::seed_from_u64(seed).gen_range(30..300));
        let from_start = BTreeMap::new();
        let url = server.url.clone();
        rt.block_on(async {
            let sending = send(&url, &chains, &from_start, receipted.clone());
            tokio::pin!(sending);
            tokio::select! {
                _ = &mut sending => {},
                _ = tokio::time::sleep(kill_after) => {},
            }
            server.kill(); // SIGKILL
        });
        place.settle_after_kill();

        // After the crash: every receipted batch is there, whole; nothing beyond the chain head.
        let store = place.campaign_store(demo::DEMO_CAMPAIGN_ID);
        let events = store.events().unwrap();
        let mut heads = BTreeMap::new();
        for chain in &chains {
            let head = store.chain_head(&chain.enumerator).unwrap();
            let stored = events
                .iter()
                .filter(|e| e.enumerator == chain.enumerator)
                .count();
            let expected: usize = chain.events_per_batch[..head.seq as usize].iter().sum();
            assert_eq!(
                stored, expected,
                "seed {seed}: {} has exactly the events of batches 1..={}",
                chain.enumerator, head.seq
            );
            heads.insert(chain.enumerator.clone(), head.seq);
        }
        let total: usize = chains.iter().map(|c| c.frames.len()).sum();
        let done: u64 = heads.values().sum();
        eprintln!("seed {seed}: killed after {kill_after:?} with {done} of {total} batches in, {} receipted", receipted.lock().unwrap().len());
        if done > 0 && (done as usize) < total {
            killed_mid_ingest += 1;
        }
        for (enumerator, seq) in receipted.lock().unwrap().iter() {
            assert!(
                heads[enumerator] >= *seq,
                "seed {seed}: receipted batch {enumerator}/{seq} was lost"
            );
        }
        drop(store);

        // The devices resume from the intake's chain heads and finish.
        let server = place.serve();
        rt.block_on(send(
            &server.url,
            &chains,
            &heads,
            Arc::new(Mutex::new(Vec::new())),
        ));
        drop(server);
        let store = place.campaign_store(demo::DEMO_CAMPAIGN_ID);
        let statuses = store.household_statuses().unwrap();
        assert_eq!(
            statuses
                .values()
                .filter(|s| s.as_str() == "transcribed")
                .count(),
            486,
            "seed {seed}"
        );
        assert!(store
            .events()
            .unwrap()
            .iter()
            .all(|e| e.status == "accepted"));
    }
    assert!(
        killed_mid_ingest > 0,
        "no kill landed while batches were still arriving: the test proved nothing"
    );
}
