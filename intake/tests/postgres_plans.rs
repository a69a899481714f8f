//! How PostgreSQL reads and writes a campaign as it grows. PostgreSQL only
//! (`FIELDPOST_TEST_POSTGRES`).
//!
//! PostgreSQL keeps a prepared statement on one plan for any values once it has run five times.
//! (The check now runs only for a batch that sends an event again: the events' primary key
//! refuses a stored id and the batch is judged again, asking. Every batch here does.)
//! Planned while a campaign's `events` table was nearly empty, the check of a batch's event ids
//! against the stored ones kept a plan that read the whole table, for every batch after: ingest
//! slowed as the campaign grew (one sender: 470 forms/s where 3,563 were possible,
//! `docs/benchmarks.md`). Here a campaign grows from empty through one device's batches, and
//! the batches sent once the table is large must find their ids through the index, not by
//! reading the table. (SQLite plans each statement when it is prepared, for the table as it is.)
//!
//! A household's status changes with nearly every batch that names it. Written into every index
//! of `households`, those changes took a third of a national ingest's statement time in the
//! database; written beside the old row on its page (a heap-only update), under a fifth of
//! that (`docs/benchmarks.md`, session 21).

mod support;

use std::time::{Duration, Instant};

use sync_protocol::event::VisitOutcome;

const EVENTS_PER_BATCH: usize = 20;

async fn send_batches(
    server: &support::TestServer,
    device: &mut support::TestDevice,
    households: &[(String, String)],
    batches: usize,
) {
    let mut sent_before = None;
    for b in 0..batches {
        let mut events: Vec<_> = (0..EVENTS_PER_BATCH)
            .map(|i| {
                device.outcome(
                    &households[(b + i) % households.len()],
                    VisitOutcome::Absent,
                )
            })
            .collect();
        // One event sent again in a new batch (the field client never does; another client
        // may): only then is the check run (a batch's first attempt leaves it to the events'
        // primary key).
        let resent = events[0].clone();
        events.extend(sent_before.replace(resent));
        let batch = device.next_batch(events);
        let (status, body) = server.post_frame(batch.to_frame()).await;
        assert_eq!(status, 201, "{body}");
        if b > 0 {
            let outcomes = device.outcomes(&body, &batch, device.seq);
            assert_eq!(
                outcomes[EVENTS_PER_BATCH].code.as_deref(),
                Some("duplicate_event"),
                "the event sent again in batch {}",
                device.seq
            );
        }
    }
}

/// Two of a table's statistics once the server has been told of at least `at_least` of
/// what `count` adds up from them (a busy connection tells at most once a second).
async fn once_counted(
    at_least: i64,
    read: impl Fn() -> (i64, i64),
    count: impl Fn((i64, i64)) -> i64,
) -> (i64, i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let counted = read();
        if count(counted) >= at_least || Instant::now() > deadline {
            return counted;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The events table's sequential and index scans, once at least `at_least` are counted.
async fn scans_once_counted(server: &support::TestServer, at_least: i64) -> (i64, i64) {
    let read = || server.place.scans(&server.campaign.id, "events").unwrap();
    once_counted(at_least, read, |(seq, idx)| seq + idx).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_finds_its_event_ids_by_the_index_however_the_table_grew() {
    let server = support::TestServer::start().await;
    if !server.place.is_postgres() {
        eprintln!("PostgreSQL only: set FIELDPOST_TEST_POSTGRES (scripts/test does)");
        return;
    }
    let mut device = server.enroll("enum-dh-p2").await;
    let households = server.households("enum-dh-p2");
    // From empty to 8,000 events, the statement's first runs on a nearly empty table.
    send_batches(&server, &mut device, &households, 400).await;
    let before = scans_once_counted(&server, 400).await;
    send_batches(&server, &mut device, &households, 100).await;
    let after = scans_once_counted(&server, before.0 + before.1 + 100).await;
    let (seq, idx) = (after.0 - before.0, after.1 - before.1);
    eprintln!("the last 100 batches: {seq} sequential and {idx} index scans of events");
    assert!(
        seq + idx >= 100,
        "the statistics counted {seq} + {idx} scans of events for 100 batches"
    );
    assert!(
        seq <= 5,
        "{seq} of the last 100 batches read the whole events table ({idx} used an index)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_households_new_status_is_written_beside_it_without_new_index_entries() {
    let server = support::TestServer::start().await;
    if !server.place.is_postgres() {
        eprintln!("PostgreSQL only: set FIELDPOST_TEST_POSTGRES (scripts/test does)");
        return;
    }
    // As in the field: each step of every household in batches of its own, so that each
    // household's row is updated again and again.
    let mut changes = 0;
    for enumerator in ["enum-dh-p2", "enum-dh-p4"] {
        let mut device = server.enroll(enumerator).await;
        let households = server.households(enumerator);
        // Handed out, collected, keyed.
        for step in 0..3 {
            for chunk in households.chunks(EVENTS_PER_BATCH) {
                let events = chunk
                    .iter()
                    .map(|h| match step {
                        0 => device.distributed(h),
                        1 => device.collected(h),
                        _ => device.transcribed(h),
                    })
                    .collect();
                let batch = device.next_batch(events);
                let (status, body) = server.post_frame(batch.to_frame()).await;
                assert_eq!(status, 201, "{body}");
            }
        }
        changes += 3 * households.len() as i64;
    }
    let read = || {
        server
            .place
            .updates(&server.campaign.id, "households")
            .unwrap()
    };
    let (updated, heap_only) = once_counted(changes, read, |(updated, _)| updated).await;
    eprintln!("{updated} updates of households, {heap_only} of them heap-only");
    assert!(
        updated >= changes,
        "{updated} updates counted of {changes} status changes"
    );
    assert!(
        heap_only * 10 >= updated * 9,
        "only {heap_only} of {updated} updates of households were written without new index entries"
    );
}
