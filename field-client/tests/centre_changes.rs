//! What the centre changes under a device: a village reassigned while the device was offline,
//! and a lost tablet replaced by a new one that continues the enumerator's chain.

mod support;

use field_client::{Client, ClientError, RetryPolicy};
use intake::store::ReassignTarget;
use sync_protocol::{api::rejection, event::Recipient, lifecycle::HouseholdStatus};

fn sampled(client: &Client, village: &str) -> Vec<String> {
    client
        .households()
        .unwrap()
        .into_iter()
        .filter(|h| h.village == village && h.reserve_rank.is_none())
        .map(|h| h.id)
        .collect()
}

#[test]
fn a_village_reassigned_while_the_device_was_offline_is_rejected_per_event_and_moves_to_the_new_enumerator(
) {
    let centre = support::start_centre();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = support::enrolled(&centre, "enum-dh-p2", dir_a.path());
    let mut b = support::enrolled(&centre, "enum-dh-p4", dir_b.path());
    let moved_village = sampled(&a, "dh-p2-kp1");
    let kept_village = sampled(&a, "dh-p2-kp2");
    assert!(sampled(&b, "dh-p2-kp1").is_empty());

    a.distribute(&moved_village[0], Recipient::Representative, None)
        .unwrap();
    a.sync(RetryPolicy::default(), &mut |_| {}).unwrap();

    // Offline: A keeps working in both villages ...
    a.collect(&moved_village[0]).unwrap();
    a.distribute(&moved_village[1], Recipient::FamilyMember, None)
        .unwrap();
    a.distribute(&kept_village[0], Recipient::Representative, None)
        .unwrap();
    // ... while the supervisor moves the first village to B (A is ill, say).
    let moved = centre
        .intake
        .store
        .reassign(
            &ReassignTarget::Village("dh-p2-kp1".into()),
            "enum-dh-p4",
            "gs-dh",
            "ốm",
            None,
            chrono::Utc::now(),
        )
        .unwrap();
    assert_eq!(moved.moved, 30, "27 sampled + 3 reserve households");

    // A's sync goes through: the moved village's events are rejected one by one with the
    // reason, the other village's event is accepted, and nothing is left blocking the queue.
    let report = a.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    assert_eq!((report.events_acknowledged, report.events_rejected), (3, 2));
    let rejected = a.rejected_events().unwrap();
    assert_eq!(rejected.len(), 2);
    for r in &rejected {
        assert_eq!(r.code, rejection::HOUSEHOLD_NOT_ASSIGNED);
        assert!(r.reason.contains("tell your supervisor"), "{}", r.reason);
        assert!(moved_village.contains(r.household.as_ref().unwrap()));
    }
    assert_eq!(a.pending().unwrap().events_total, 0);
    // The refreshed assignment took the village away: A can no longer record there.
    assert!(a
        .households()
        .unwrap()
        .iter()
        .filter(|h| h.village == "dh-p2-kp1")
        .all(|h| !h.assigned));
    assert!(matches!(
        a.collect(&moved_village[2]),
        Err(ClientError::NotAllowed(_))
    ));
    assert_eq!(
        centre.intake.store.household_statuses().unwrap()[&kept_village[0]],
        HouseholdStatus::Distributed
    );

    // B learns the village on its next sync, with what the intake knows of it, and goes on.
    b.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    let b_view = b.household(&moved_village[0]).unwrap();
    assert!(b_view.assigned);
    assert_eq!(
        b_view.status,
        HouseholdStatus::Distributed,
        "the hand-out A synced before the move"
    );
    assert_eq!(
        b.household(&moved_village[1]).unwrap().status,
        HouseholdStatus::Assigned,
        "A's rejected hand-out did not count"
    );
    b.collect(&moved_village[0]).unwrap();
    let report = b.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    assert_eq!(report.events_rejected, 0);
    assert_eq!(
        centre.intake.store.household_statuses().unwrap()[&moved_village[0]],
        HouseholdStatus::Collected
    );
}

#[test]
fn a_replacement_tablet_continues_the_chain_and_the_lost_one_is_refused() {
    let centre = support::start_centre();
    let (lost_dir, new_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut lost = support::enrolled(&centre, "enum-qt-hl", lost_dir.path());
    let village = sampled(&lost, "qt-hl-nl");
    for h in &village[..5] {
        lost.distribute(h, Recipient::Representative, None).unwrap();
        lost.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    }
    let before = lost.enrollment().unwrap();
    assert_eq!(before.next_seq, 6);

    // The tablet falls in the river; the enumerator enrolls a new one with a new code.
    let mut replacement = support::enrolled(&centre, "enum-qt-hl", new_dir.path());
    let after = replacement.enrollment().unwrap();
    assert_eq!(
        (after.next_seq, after.last_hash),
        (before.next_seq, before.last_hash),
        "the chain continues where the intake stands"
    );
    for h in &village[..5] {
        assert_eq!(
            replacement.household(h).unwrap().status,
            HouseholdStatus::Distributed,
            "restored from the intake"
        );
        // Its history shows what the lost tablet recorded (issue 19 item 2).
        assert_eq!(
            replacement
                .history(h)
                .unwrap()
                .iter()
                .map(|e| (e.kind.as_str(), e.outcome.as_deref(), e.by.is_some()))
                .collect::<Vec<_>>(),
            [("form_distributed", Some("accepted"), true)]
        );
    }
    for h in &village[..5] {
        replacement.collect(h).unwrap();
    }
    replacement
        .distribute(&village[5], Recipient::Representative, None)
        .unwrap();
    let report = replacement
        .sync(RetryPolicy::default(), &mut |_| {})
        .unwrap();
    assert_eq!((report.events_acknowledged, report.events_rejected), (6, 0));
    assert!(
        centre.intake.store.alerts().unwrap().is_empty(),
        "{:?}",
        centre.intake.store.alerts().unwrap()
    );

    // The old tablet, found again, is refused: its enrollment was revoked by the new one.
    lost.distribute(&village[6], Recipient::Representative, None)
        .unwrap();
    match lost.sync(RetryPolicy::default(), &mut |_| {}) {
        Err(ClientError::Refused { code, .. }) => assert_eq!(code, "device_revoked"),
        other => panic!("the lost tablet was not refused: {other:?}"),
    }
    assert_eq!(
        centre.intake.store.household_statuses().unwrap()[&village[6]],
        HouseholdStatus::Assigned
    );
}

#[test]
fn refused_work_travels_back_a_supervisor_decides_it_and_both_devices_learn_the_decision() {
    let centre = support::start_centre();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = support::enrolled(&centre, "enum-dh-p2", dir_a.path());
    let mut b = support::enrolled(&centre, "enum-dh-p4", dir_b.path());
    let village = sampled(&a, "dh-p2-kp1");
    let names = centre.intake.enumerator_names().unwrap();
    let (name_a, name_b) = (&names["enum-dh-p2"], &names["enum-dh-p4"]);

    // Offline, A hands out two forms in a village the supervisor moves to B meanwhile.
    a.distribute(&village[0], Recipient::Representative, None)
        .unwrap();
    a.distribute(&village[1], Recipient::Representative, None)
        .unwrap();
    centre
        .intake
        .store
        .reassign(
            &ReassignTarget::Village("dh-p2-kp1".into()),
            "enum-dh-p4",
            "gs-dh",
            "ốm",
            None,
            chrono::Utc::now(),
        )
        .unwrap();
    a.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    assert_eq!(
        a.unresolved_rejections().unwrap(),
        2,
        "nothing is 'all synced' while refused work waits"
    );
    let gone = a.household(&village[0]).unwrap();
    assert!(!gone.assigned);
    assert_eq!(
        gone.moved_to.as_deref(),
        Some(name_b.as_str()),
        "A still sees the household, and who has it now"
    );
    assert_eq!(
        gone.status,
        HouseholdStatus::Distributed,
        "and that its paper is at the household"
    );
    b.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    assert_eq!(
        b.household(&village[0]).unwrap().status,
        HouseholdStatus::Assigned
    );

    // The supervisor takes the first hand-out into B's record and sets the second aside.
    let refused = centre.intake.store.rejected_events(None).unwrap();
    let event_of = |h: &str| {
        refused
            .iter()
            .find(|r| r.household.as_deref() == Some(h))
            .unwrap()
            .event
            .clone()
    };
    use sync_protocol::assignment::Resolution;
    centre
        .intake
        .store
        .resolve_rejected(
            &event_of(&village[0]),
            Resolution::Accepted,
            "",
            "gs-dh",
            chrono::Utc::now(),
        )
        .unwrap();
    centre
        .intake
        .store
        .resolve_rejected(
            &event_of(&village[1]),
            Resolution::Dismissed,
            "Hộ chưa nhận phiếu",
            "gs-dh",
            chrono::Utc::now(),
        )
        .unwrap();

    // B's next sync shows the household handed out — by A — so no second paper goes out.
    b.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    let taken = b.household(&village[0]).unwrap();
    assert_eq!(taken.status, HouseholdStatus::Distributed);
    assert_eq!(taken.carried_from.as_deref(), Some(name_a.as_str()));
    // Its history on B starts with A's counted steps, by name (issue 19 item 2).
    let history = b.history(&village[0]).unwrap();
    assert_eq!(
        history
            .iter()
            .map(|e| (e.kind.as_str(), e.detail.as_deref(), e.by.as_deref()))
            .collect::<Vec<_>>(),
        [(
            "form_distributed",
            Some("representative"),
            Some(name_a.as_str())
        )]
    );
    assert!(
        b.history(&village[1]).unwrap().is_empty(),
        "a dismissed hand-out is not an earlier step"
    );
    assert!(
        b.distribute(&village[0], Recipient::Representative, None)
            .is_err(),
        "no second hand-out"
    );
    b.collect(&village[0]).unwrap();
    assert_eq!(
        b.sync(RetryPolicy::default(), &mut |_| {})
            .unwrap()
            .events_rejected,
        0
    );
    assert_eq!(
        b.household(&village[1]).unwrap().status,
        HouseholdStatus::Assigned,
        "the dismissed one is still to hand out"
    );
    let history = b.history(&village[0]).unwrap();
    assert_eq!(
        history
            .iter()
            .map(|e| (e.kind.as_str(), e.by.is_some()))
            .collect::<Vec<_>>(),
        [("form_distributed", true), ("form_collected", false)],
        "A's step, then B's own"
    );

    // A's next sync brings both decisions: nothing waits any more.
    a.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    assert_eq!(a.unresolved_rejections().unwrap(), 0);
    let decided = a.rejected_events().unwrap();
    let of = |h: &str| {
        decided
            .iter()
            .find(|r| r.household.as_deref() == Some(h))
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            of(&village[0]).resolution.as_deref(),
            of(&village[0]).resolution_note.as_deref()
        ),
        (Some("accepted"), Some(name_b.as_str()))
    );
    assert_eq!(
        (
            of(&village[1]).resolution.as_deref(),
            of(&village[1]).resolution_note.as_deref()
        ),
        (Some("dismissed"), Some("Hộ chưa nhận phiếu"))
    );
    let history = a.history(&village[1]).unwrap();
    assert_eq!(history[0].resolution.as_deref(), Some("dismissed"));
}

/// A household keyed (first pass) on tablet A, then moved to B, whose supervisor takes A's work
/// into B's record: B has no first keying of it. Verifying against nothing made every answer
/// a "mismatch" that the verifier waved through; now B keys the paper again as the first
/// keying, then verifies, and the comparison is a real one.
#[test]
fn a_keyed_form_moved_to_another_tablet_is_keyed_again_there_before_it_is_verified() {
    let centre = support::start_centre();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = support::enrolled(&centre, "enum-dh-p2", dir_a.path());
    let mut b = support::enrolled(&centre, "enum-dh-p4", dir_b.path());
    let h = sampled(&a, "dh-p2-kp1")[0].clone();
    let form = a.form().unwrap().clone();
    let answers = support::answers_for(&form, 3);

    // Offline, A hands out, collects and keys the first pass; the village moves to B.
    a.distribute(&h, Recipient::Representative, None).unwrap();
    a.collect(&h).unwrap();
    for (q, v) in &answers {
        a.set_answer(&h, 1, q, Some(v.clone())).unwrap();
    }
    a.finish_first_keying(&h).unwrap();
    centre
        .intake
        .store
        .reassign(
            &ReassignTarget::Village("dh-p2-kp1".into()),
            "enum-dh-p4",
            "gs-dh",
            "ốm",
            None,
            chrono::Utc::now(),
        )
        .unwrap();
    a.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    use sync_protocol::assignment::Resolution;
    let mut refused: Vec<_> = centre
        .intake
        .store
        .rejected_events(None)
        .unwrap()
        .into_iter()
        .filter(|r| r.household.as_deref() == Some(h.as_str()))
        .collect();
    refused.sort_by_key(|r| match r.kind.as_str() {
        "form_distributed" => 0,
        "form_collected" => 1,
        _ => 2,
    });
    assert_eq!(refused.len(), 3);
    for r in &refused {
        centre
            .intake
            .store
            .resolve_rejected(
                &r.event,
                Resolution::Accepted,
                "",
                "gs-dh",
                chrono::Utc::now(),
            )
            .unwrap();
    }

    b.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    let carried = b.household(&h).unwrap();
    assert_eq!(carried.status, HouseholdStatus::Transcribed);
    assert!(!carried.first_keyed_here);
    // No verification against an empty first pass.
    assert!(matches!(
        b.set_answer(&h, 2, "q4", Some(answers["q4"].clone())),
        Err(ClientError::NotAllowed(_))
    ));
    // The first keying again, on B, from the paper: no new event for the centre.
    let pending_before = b.pending().unwrap().events_total;
    for (q, v) in &answers {
        b.set_answer(&h, 1, q, Some(v.clone())).unwrap();
    }
    b.finish_first_keying(&h).unwrap();
    assert_eq!(b.pending().unwrap().events_total, pending_before);
    assert!(b.household(&h).unwrap().first_keyed_here);
    // The verification: one real difference, not every answer.
    let mut second = answers.clone();
    let q4 = answers["q4"].as_i64().unwrap();
    second.insert("q4".into(), serde_json::json!(if q4 == 1 { 2 } else { 1 }));
    for (q, v) in &second {
        b.set_answer(&h, 2, q, Some(v.clone())).unwrap();
    }
    let mismatches = b.mismatches(&h).unwrap();
    assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    let resolutions =
        std::collections::BTreeMap::from([("q4".to_string(), answers.get("q4").cloned())]);
    b.finish_verification(&h, &resolutions).unwrap();
    assert_eq!(b.household(&h).unwrap().status, HouseholdStatus::Verified);
    b.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    assert_eq!(
        centre.intake.store.household_statuses().unwrap()[&h],
        HouseholdStatus::Verified
    );
}
