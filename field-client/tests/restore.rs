//! A centre restored from a backup made while it served (issue 12): the tablets send again
//! what reached the centre after the backup, from the batches they keep, and go on — nothing
//! lost, nothing twice.

mod support;

use field_client::{Client, RetryPolicy};
use std::{collections::HashMap, sync::Arc};
use sync_protocol::event::Recipient;

#[test]
fn a_centre_restored_from_a_backup_gets_back_what_came_after_it_from_the_tablets() {
    let centre = support::start_centre();
    let keep = tempfile::tempdir().unwrap();
    let backup_file = keep.path().join("centre.backup");
    let device_dir = tempfile::tempdir().unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let mut tablet = support::enrolled(&centre, "enum-dh-p2", device_dir.path());
    let mut other = support::enrolled(&centre, "enum-gl-tt", other_dir.path());
    let sampled = |c: &Client| -> Vec<String> {
        c.households()
            .unwrap()
            .into_iter()
            .filter(|h| h.reserve_rank.is_none())
            .map(|h| h.id)
            .collect()
    };
    let (mine, theirs) = (sampled(&tablet), sampled(&other));
    for h in &mine[..10] {
        tablet
            .distribute(h, Recipient::Representative, None)
            .unwrap();
    }
    tablet.sync(RetryPolicy::default(), &mut |_| {}).unwrap();

    // The backup, while another tablet keeps sending.
    let sending = std::thread::spawn(move || {
        for h in &theirs[..20] {
            other
                .distribute(h, Recipient::Representative, None)
                .unwrap();
            other.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
        }
        other
    });
    let summary = intake::backup::backup(centre.dir.path(), &backup_file).unwrap();
    assert_eq!(summary.campaigns, ["qt-sipas-2024"]);
    let mut other = sending.join().unwrap();

    // After the backup: more work reaches the centre, then the centre is lost.
    for h in &mine[10..20] {
        tablet
            .distribute(h, Recipient::Representative, None)
            .unwrap();
    }
    for h in &mine[..5] {
        tablet.collect(h).unwrap();
    }
    tablet.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    let address = centre.url.trim_start_matches("http://").to_string();
    let before = centre.intake.store.household_statuses().unwrap();
    drop(centre);

    // Restored into a new directory (a used one is refused), served where the old one was.
    let restored_dir = tempfile::tempdir().unwrap();
    let not_empty = intake::backup::restore(&backup_file, keep.path());
    assert!(matches!(
        not_empty,
        Err(intake::backup::BackupError::NotEmpty(_))
    ));
    let data = restored_dir.path().join("data");
    intake::backup::restore(&backup_file, &data).unwrap();
    let restored = Arc::new(intake::open(&data).unwrap());
    let (_url, _runtime) = intake::local::serve_at(restored.clone(), &address);
    let intake = restored.campaign("qt-sipas-2024").unwrap().unwrap();
    let at_restore = intake.store.household_statuses().unwrap();
    assert_ne!(
        at_restore, before,
        "the backup is older than what the centre had"
    );

    // The tablets go on; what the backup missed comes back from them.
    for h in &mine[5..8] {
        tablet.collect(h).unwrap();
    }
    tablet.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    other.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    let statuses = intake.store.household_statuses().unwrap();
    for h in &mine[..8] {
        assert_eq!(statuses[h].as_str(), "collected", "{h}");
    }
    for h in &mine[8..20] {
        assert_eq!(statuses[h].as_str(), "distributed", "{h}");
    }
    let events = intake.store.events().unwrap();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for e in &events {
        *seen.entry(e.id.as_str()).or_default() += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "nothing twice");
    // 20 hand-outs and 8 collections from this tablet, 20 hand-outs from the other.
    assert_eq!(events.len(), 48);
    assert!(events.iter().all(|e| e.status == "accepted"));
    assert_eq!(tablet.pending().unwrap().events_total, 0);
}
