//! Sync through a fault-injecting proxy: refused connections, delays, requests cut mid-body and
//! responses cut after the intake committed. The device retries the same bytes and the intake
//! ends with every event exactly once.

mod support;

use field_client::{Client, RetryPolicy};
use std::time::Duration;
use support::proxy::{self, Fault};
use sync_protocol::event::Recipient;

#[test]
fn every_kind_of_cut_ends_in_exactly_once_delivery() {
    let centre = support::start_centre();
    let proxy = proxy::start(&centre.runtime, &centre.url);
    let dir = tempfile::tempdir().unwrap();
    let mut client = Client::open(dir.path()).unwrap();
    let code = centre
        .intake
        .issue_enrollment_code("enum-gl-tg", chrono::Duration::hours(1), "test")
        .unwrap();
    client
        .enroll(&proxy.url, &code, "through the proxy")
        .unwrap();
    let households: Vec<String> = client
        .households()
        .unwrap()
        .into_iter()
        .filter(|h| h.reserve_rank.is_none())
        .map(|h| h.id)
        .collect();
    let form = client.form().unwrap().clone();
    let policy = RetryPolicy {
        attempts: 8,
        first_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        request_timeout: Duration::from_secs(5),
    };

    // Several rounds of work, each synced through a different mix of faults.
    let rounds: [&[Fault]; 4] = [
        &[Fault::CutRequestAfter(150), Fault::Refuse],
        &[Fault::CutResponseAfter(60)], // the intake has committed; the answer is lost
        &[
            Fault::Delay(Duration::from_millis(300)),
            Fault::CutRequestAfter(2000),
            Fault::CutResponseAfter(5),
        ],
        &[Fault::Refuse, Fault::Refuse, Fault::CutResponseAfter(200)],
    ];
    for (round, faults) in rounds.iter().enumerate() {
        for h in &households[round * 5..round * 5 + 5] {
            client
                .distribute(h, Recipient::Representative, None)
                .unwrap();
            client.collect(h).unwrap();
            for (q, v) in support::answers_for(&form, round as i64) {
                client.set_answer(h, 1, &q, Some(v)).unwrap();
            }
            client.finish_first_keying(h).unwrap();
        }
        proxy.faults.lock().unwrap().extend(faults.iter().copied());
        // As the app would: sync again until it goes through (a fault may also hit the
        // assignment refresh at the end, which is not retried within one sync).
        let mut synced = false;
        for _ in 0..5 {
            if client.sync(policy, &mut |_| {}).is_ok() {
                synced = true;
                break;
            }
        }
        assert!(synced, "round {round}: sync never went through");
    }
    assert!(
        proxy.faults.lock().unwrap().is_empty(),
        "every fault was used"
    );
    assert_eq!(proxy.faulted.lock().unwrap().len(), 9);

    // Exactly once: the intake's events are the device's, each once.
    assert_eq!(support::stored_exactly_once(&centre, dir.path()), 20 * 3);
    let statuses = centre.intake.store.household_statuses().unwrap();
    for h in client.households().unwrap() {
        assert_eq!(statuses[&h.id], h.status, "{}", h.id);
    }
    assert_eq!(client.pending().unwrap().events_total, 0);
}

#[test]
fn a_slow_link_that_also_goes_silent_still_delivers_exactly_once() {
    let centre = support::start_centre();
    // 40 kbit/s each way, 300 ms round trips, like 2G at the edge of a village.
    let link = proxy::Link {
        one_way_latency: Duration::from_millis(150),
        bytes_per_sec: Some(5_000),
        ..Default::default()
    };
    let proxy = proxy::start_with_link(&centre.runtime, &centre.url, link);
    let dir = tempfile::tempdir().unwrap();
    let mut client = Client::open(dir.path()).unwrap();
    let code = centre
        .intake
        .issue_enrollment_code("enum-qt-p2", chrono::Duration::hours(1), "test")
        .unwrap();
    client.enroll(&proxy.url, &code, "slow link").unwrap();
    let form = client.form().unwrap().clone();
    let households: Vec<String> = client
        .households()
        .unwrap()
        .into_iter()
        .filter(|h| h.reserve_rank.is_none())
        .take(6)
        .map(|h| h.id)
        .collect();
    for (i, h) in households.iter().enumerate() {
        client
            .distribute(h, Recipient::Representative, None)
            .unwrap();
        client.collect(h).unwrap();
        for (q, v) in support::answers_for(&form, i as i64) {
            client.set_answer(h, 1, &q, Some(v)).unwrap();
        }
        client.finish_first_keying(h).unwrap();
    }
    // The first try is swallowed without an answer; the second is cut after the intake
    // committed; the third goes through at 2G speed.
    proxy
        .faults
        .lock()
        .unwrap()
        .extend([Fault::Blackhole, Fault::CutResponseAfter(100)]);
    let policy = RetryPolicy {
        attempts: 5,
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
        request_timeout: Duration::from_secs(2),
    };
    let (before_up, _) = proxy.bytes();
    let started = std::time::Instant::now();
    client.sync(policy, &mut |_| {}).unwrap();
    let elapsed = started.elapsed();
    let (up, down) = proxy.bytes();
    assert_eq!(proxy.faulted.lock().unwrap().len(), 2);
    // The throttle held: what crossed could not have crossed faster than 5 kB/s each way.
    let slowest_direction = (up - before_up).max(down) as f64 / 5_000.0;
    assert!(
        elapsed.as_secs_f64() >= slowest_direction,
        "{elapsed:?} for {up} bytes up, {down} down"
    );
    assert!(
        elapsed >= Duration::from_secs(2),
        "the silent try waited for its timeout: {elapsed:?}"
    );

    assert_eq!(support::stored_exactly_once(&centre, dir.path()), 18);
    assert_eq!(client.pending().unwrap().events_total, 0);
}

#[test]
fn sync_starts_by_itself_when_the_network_comes_back() {
    let centre = support::start_centre();
    let proxy = proxy::start(&centre.runtime, &centre.url);
    let dir = tempfile::tempdir().unwrap();
    let mut client = Client::open(dir.path()).unwrap();
    let code = centre
        .intake
        .issue_enrollment_code("enum-qt-ad", chrono::Duration::hours(1), "test")
        .unwrap();
    client
        .enroll(&proxy.url, &code, "village without signal")
        .unwrap();
    let mut auto =
        field_client::AutoSync::new(Duration::from_millis(40), Duration::from_millis(320));
    let policy = RetryPolicy {
        attempts: 2,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        request_timeout: Duration::from_secs(2),
    };
    // The app's timer ticks every 10 ms: with nothing to send it never touches the network.
    let connections = |p: &proxy::Proxy| {
        p.counters
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let before = connections(&proxy);
    for _ in 0..10 {
        assert!(client
            .sync_if_back(&mut auto, policy, &mut |_| {})
            .unwrap()
            .is_none());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(connections(&proxy), before);

    // No signal while the enumerator works; the ticks back off instead of hammering the radio.
    proxy.down.store(true, std::sync::atomic::Ordering::Relaxed);
    let h = client.households().unwrap()[0].id.clone();
    client
        .distribute(&h, Recipient::Representative, None)
        .unwrap();
    let down_since = connections(&proxy);
    for _ in 0..100 {
        assert!(client
            .sync_if_back(&mut auto, policy, &mut |_| {})
            .unwrap()
            .is_none());
        std::thread::sleep(Duration::from_millis(10));
    }
    let probes = connections(&proxy) - down_since;
    assert!(
        (2..=8).contains(&probes),
        "{probes} probes in one second without signal"
    );
    assert_eq!(client.pending().unwrap().events_total, 1);

    // Signal again: within the back-off ceiling, the next tick syncs.
    proxy
        .down
        .store(false, std::sync::atomic::Ordering::Relaxed);
    let back = std::time::Instant::now();
    let report = loop {
        if let Some(report) = client.sync_if_back(&mut auto, policy, &mut |_| {}).unwrap() {
            break report;
        }
        assert!(
            back.elapsed() < Duration::from_secs(2),
            "no sync after the network came back"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(report.events_acknowledged, 1);
    assert_eq!(
        centre.intake.store.household_statuses().unwrap()[&h].as_str(),
        "distributed"
    );
}

#[test]
fn a_request_clock_far_off_either_way_is_corrected_by_the_intakes_answer() {
    let centre = support::start_centre();
    let dir = tempfile::tempdir().unwrap();
    let mut client = Client::open(dir.path()).unwrap();
    let code = centre
        .intake
        .issue_enrollment_code("enum-qt-ad", chrono::Duration::hours(1), "test")
        .unwrap();
    client.enroll(&centre.url, &code, "skewed").unwrap();
    let h = client.households().unwrap()[0].id.clone();
    for (round, skew) in [7200i64, -7200, 86_400 * 3].into_iter().enumerate() {
        // The device's request clock runs `skew` seconds off the intake's.
        rusqlite::Connection::open(dir.path().join("device.db"))
            .unwrap()
            .execute("UPDATE device SET clock_offset = ?1", [skew])
            .unwrap();
        if round == 0 {
            client
                .distribute(&h, Recipient::Representative, None)
                .unwrap();
        }
        client.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
        let learnt: i64 = rusqlite::Connection::open(dir.path().join("device.db"))
            .unwrap()
            .query_row("SELECT clock_offset FROM device", [], |r| r.get(0))
            .unwrap();
        assert!(
            learnt.abs() <= 5,
            "skew {skew}: the device learnt offset {learnt}"
        );
    }
    assert_eq!(
        centre.intake.store.household_statuses().unwrap()[&h].as_str(),
        "distributed"
    );
}

/// Every sampled household keyed in two sittings — every first keying, then every verification —
/// so the backlog ends in a run of events that each carry a sealed sheet: the largest batches a
/// device packs. With `comments`, every respondent wrote a long one under «Ý kiến khác» (q11).
/// Returns how many forms.
fn key_in_two_sittings(client: &mut Client, comments: bool) -> usize {
    let form = client.form().unwrap().clone();
    let households: Vec<String> = client
        .households()
        .unwrap()
        .into_iter()
        .filter(|h| h.reserve_rank.is_none())
        .map(|h| h.id)
        .collect();
    for (pass, h) in [1, 2]
        .into_iter()
        .flat_map(|pass| households.iter().map(move |h| (pass, h)))
    {
        let i = households.iter().position(|x| x == h).unwrap();
        if pass == 1 {
            client
                .distribute(h, Recipient::Representative, None)
                .unwrap();
            client.collect(h).unwrap();
        }
        let mut answers = support::answers_for(&form, i as i64);
        if comments {
            answers.insert("q11".into(), long_comment(i as u64).into());
        }
        for (q, v) in answers {
            client.set_answer(h, pass, &q, Some(v)).unwrap();
        }
        if pass == 1 {
            client.finish_first_keying(h).unwrap();
        } else {
            client
                .finish_verification(h, &std::collections::BTreeMap::new())
                .unwrap();
        }
    }
    households.len()
}

/// What a respondent with much to say writes under «Ý kiến khác»: about 900 characters of
/// words in an order of their own (text that repeats would compress inside the seal).
fn long_comment(respondent: u64) -> String {
    const WORDS: &[&str] = &[
        "thủ",
        "tục",
        "cấp",
        "sổ",
        "đỏ",
        "còn",
        "chậm",
        "cán",
        "bộ",
        "một",
        "cửa",
        "cần",
        "hướng",
        "dẫn",
        "rõ",
        "hơn",
        "phí",
        "lệ",
        "đất",
        "đai",
        "hộ",
        "khẩu",
        "xã",
        "phường",
        "giấy",
        "tờ",
        "nộp",
        "lại",
        "nhiều",
        "lần",
        "trả",
        "kết",
        "quả",
        "đúng",
        "hẹn",
    ];
    let mut state = respondent
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut text = String::new();
    while text.chars().count() < 900 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        text.push_str(WORDS[(state >> 33) as usize % WORDS.len()]);
        text.push(' ');
    }
    text
}

#[test]
fn no_batch_is_larger_than_a_2g_link_carries_between_drops() {
    let centre = support::start_centre();
    let dir = tempfile::tempdir().unwrap();
    let mut client = support::enrolled(&centre, "enum-dh-p4", dir.path());
    // A run of sealed sheets with long comments: the batches that would take longest.
    assert_eq!(key_in_two_sittings(&mut client, true), 54);
    client.pack().unwrap();
    let frames = support::frame_sizes(dir.path());
    assert!(
        frames
            .iter()
            .all(|&n| n <= field_client::MAX_BATCH_FRAME_BYTES),
        "frames of {frames:?} bytes"
    );
    // 40 kbit/s carries 50,000 bytes in 10 s: each batch in well under half of that.
    assert!(field_client::MAX_BATCH_FRAME_BYTES * 2 < 50_000);
}

#[test]
fn a_2g_link_cut_every_ten_seconds_still_delivers_everything_exactly_once() {
    let centre = support::start_centre();
    let link = proxy::Link {
        one_way_latency: Duration::from_millis(150),
        bytes_per_sec: Some(5_000),
        cut_every: Some(Duration::from_secs(10)),
    };
    let proxy = proxy::start_with_link(&centre.runtime, &centre.url, link);
    let dir = tempfile::tempdir().unwrap();
    let mut client = Client::open(dir.path()).unwrap();
    let code = centre
        .intake
        .issue_enrollment_code("enum-dh-dl", chrono::Duration::hours(1), "test")
        .unwrap();
    client.enroll(&proxy.url, &code, "moving tablet").unwrap();
    assert_eq!(key_in_two_sittings(&mut client, true), 54);
    let policy = RetryPolicy {
        attempts: 20,
        first_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(1),
        request_timeout: Duration::from_secs(12),
    };
    // As the app does: sync again until everything is through.
    let mut syncs = 1;
    while let Err(e) = client.sync(policy, &mut |_| {}) {
        syncs += 1;
        assert!(syncs < 10, "sync keeps failing: {e}");
    }
    assert!(
        proxy
            .counters
            .cuts
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0,
        "the link was cut at least once"
    );
    support::stored_exactly_once(&centre, dir.path());
    assert_eq!(client.pending().unwrap().events_total, 0);
}
