//! What the intake does to every batch before it touches a store, step by step, on a batch like
//! the ingest bench's (27 households: each handed out, collected and keyed, answers sealed):
//! reading the frame, decoding (version, canonical form, limits), the signature, the events'
//! own bytes. The baseline, in the same run, is serde's bare parse of the same bytes into a
//! `Batch`: what decoding costs beyond reading the JSON at all.
//!
//! `cargo bench --locked -p sync-protocol --bench decode`

use rand::SeedableRng;
use std::{collections::BTreeMap, hint::black_box, time::Instant};
use sync_protocol::{
    event::Recipient,
    keys::{Base64Bytes, DeviceKey, MinistrySecretKey},
    seal::{seal, AnswerSheet},
    Batch, BatchHash, DeviceTime, Event, EventBody, SignedBatch, VerifiedBatch, PROTOCOL_VERSION,
};

const HOUSEHOLDS: usize = 27;
const ROUNDS: usize = 3;
const REPEATS: usize = 2_000;

fn main() {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(21);
    let ministry = MinistrySecretKey::generate(&mut rng).public();
    let key = DeviceKey::generate(&mut rng);
    let at = DeviceTime::parse("2026-12-07T10:00:00+07:00").unwrap();
    let mut events = Vec::new();
    for i in 0..HOUSEHOLDS {
        let (household, serial) = (format!("qt-dh-p2-kp1-{i:03}"), format!("QT-{i:06}"));
        let answers: BTreeMap<String, serde_json::Value> = (0..76)
            .map(|q| (format!("q{q:02}"), serde_json::json!(q % 5 + 1)))
            .collect();
        let sheet = AnswerSheet {
            form: "sipas-2024@1".into(),
            household: household.clone(),
            serial: serial.clone(),
            answers,
            keyings_apart: vec![],
        };
        let order: Vec<&str> = sheet.answers.keys().map(String::as_str).collect();
        let sealed = seal(&ministry, &sheet, &order, &mut rng).unwrap();
        let event = |body| Event::for_household(&household, &serial, "enum-1", at, body);
        events.push(event(EventBody::FormDistributed {
            recipient: Recipient::Representative,
            note: None,
        }));
        events.push(event(EventBody::FormCollected {}));
        events.push(event(EventBody::FormTranscribed {
            form: "sipas-2024@1".into(),
            sealed_answers: Some(Base64Bytes(sealed)),
            keying_seconds: 240,
        }));
    }
    let batch = Batch {
        protocol: PROTOCOL_VERSION,
        campaign: "qt-sipas-2024".into(),
        device: uuid::Uuid::nil(),
        enumerator: "enum-1".into(),
        seq: 1,
        prev: BatchHash::GENESIS,
        created_at: at,
        events,
    };
    let signed = SignedBatch::sign(&batch, &key).unwrap();
    let (frame, public) = (signed.to_frame(), key.public());
    let verified = SignedBatch::open(&frame, &public).unwrap();
    println!(
        "a batch of {HOUSEHOLDS} households ({} events): {} bytes, {} in its frame; µs per batch, median of {ROUNDS} rounds of {REPEATS}",
        batch.events.len(),
        signed.canonical_bytes().len(),
        frame.len()
    );

    let time = |step: &mut dyn FnMut()| {
        let mut rounds: Vec<f64> = (0..ROUNDS)
            .map(|_| {
                let started = Instant::now();
                for _ in 0..REPEATS {
                    step();
                }
                started.elapsed().as_secs_f64() * 1e6 / REPEATS as f64
            })
            .collect();
        rounds.sort_by(f64::total_cmp);
        rounds[ROUNDS / 2]
    };
    let bare_parse = time(&mut || {
        black_box(serde_json::from_slice::<Batch>(signed.canonical_bytes()).unwrap());
    });
    let steps: [(&str, &mut dyn FnMut()); 5] = [
        ("frame read (zstd inflated)", &mut || {
            black_box(SignedBatch::from_frame(&frame).unwrap());
        }),
        ("decoded (version, canonical form, limits)", &mut || {
            black_box(signed.decode().unwrap());
        }),
        ("signature verified", &mut || {
            signed.verify(&public).unwrap()
        }),
        ("events' own bytes sliced", &mut || {
            black_box(VerifiedBatch::event_bytes(&verified).unwrap());
        }),
        ("all of it (SignedBatch::open, event_bytes)", &mut || {
            let opened = SignedBatch::open(&frame, &public).unwrap();
            black_box(opened.event_bytes().unwrap().len());
        }),
    ];
    println!(
        "  {:<44} {bare_parse:>8.1}   (baseline)",
        "serde's bare parse into a Batch"
    );
    for (name, step) in steps {
        let took = time(step);
        println!(
            "  {name:<44} {took:>8.1}   {:.2}x the bare parse",
            took / bare_parse
        );
    }
}
