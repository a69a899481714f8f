//! Shared by the field-client tests: a real intake on 127.0.0.1 and answer fixtures.
#![allow(dead_code)]

pub mod proxy;

use serde_json::Value;
use std::collections::BTreeMap;

pub use intake::local::LocalIntake as Centre;

/// The demo campaign in a real intake on 127.0.0.1.
pub fn start_centre() -> Centre {
    intake::local::demo_on_loopback()
}

/// Answers every relevant question of the form (see `forms::sample`).
pub fn answers_for(form: &forms::Form, variant: i64) -> BTreeMap<String, Value> {
    forms::sample::complete_answers(form, variant)
}

/// A device in `dir`, enrolled as `enumerator` with a fresh code from `centre`.
pub fn enrolled(centre: &Centre, enumerator: &str, dir: &std::path::Path) -> field_client::Client {
    let mut client = field_client::Client::open(dir).unwrap();
    let code = centre
        .intake
        .issue_enrollment_code(enumerator, chrono::Duration::hours(1), "test")
        .unwrap();
    client.enroll(&centre.url, &code, "tablet").unwrap();
    client
}

/// The size of every batch frame packed in the device at `dir`, in bytes.
pub fn frame_sizes(dir: &std::path::Path) -> Vec<usize> {
    let db = rusqlite::Connection::open(dir.join("device.db")).unwrap();
    let mut stmt = db.prepare("SELECT LENGTH(frame) FROM batches").unwrap();
    let sizes = stmt
        .query_map([], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|n| n.unwrap() as usize)
        .collect();
    sizes
}

/// Every event the device in `dir` made is stored at the centre, once; how many.
pub fn stored_exactly_once(centre: &Centre, dir: &std::path::Path) -> usize {
    let mut centre_events: Vec<String> = centre
        .intake
        .store
        .events()
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    centre_events.sort();
    let db = rusqlite::Connection::open(dir.join("device.db")).unwrap();
    let mut device_events: Vec<String> = db
        .prepare("SELECT id FROM events")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    device_events.sort();
    assert_eq!(centre_events, device_events);
    device_events.len()
}
