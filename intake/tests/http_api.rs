//! The intake over real HTTP on 127.0.0.1 with a real SQLite file. Every test checks both the
//! answer and what did, or did not, change in the store.

mod support;

use support::{error_code, frame_of, TestDevice, TestServer};
use sync_protocol::{
    api::{self, EnrollResponse},
    assignment::Assignment,
    batch::BatchHash,
    event::{EventBody, VisitOutcome},
    keys::DeviceKey,
    receipt::OutcomeStatus,
    signed::SignedDocument,
};

#[tokio::test(flavor = "multi_thread")]
async fn enrollment_good_reused_expired_and_wrong_codes() {
    let server = TestServer::start().await;
    let code = server.code("enum-dh-p2");

    // Good: bound to the enumerator, intake key returned, empty chain.
    let key = DeviceKey::generate(&mut rand::rngs::OsRng);
    let r = server.enroll_raw(&code, &key).await;
    assert_eq!(r.status(), 201);
    let enrolled: EnrollResponse = r.json().await.unwrap();
    assert_eq!(enrolled.enumerator, "enum-dh-p2");
    assert_eq!(enrolled.chain.seq, 0);
    assert_eq!(enrolled.intake_public_key, server.intake.key.public());
    let device = server
        .intake
        .store
        .device(enrolled.device)
        .unwrap()
        .unwrap();
    assert_eq!(device.public_key, key.public());

    // The same device asking again with the same code (its answer was lost): the same enrollment.
    let r = server.enroll_raw(&code, &key).await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.json::<EnrollResponse>().await.unwrap().device,
        enrolled.device
    );

    // Reused by another key: refused, and no second device appears.
    let other = DeviceKey::generate(&mut rand::rngs::OsRng);
    let r = server.enroll_raw(&code, &other).await;
    assert_eq!(r.status(), 409);
    assert_eq!(error_code(&r.json().await.unwrap()), "enrollment_code_used");

    // Expired.
    let expired = server
        .intake
        .issue_enrollment_code("enum-dh-p4", chrono::Duration::seconds(-1), "test")
        .unwrap();
    let r = server.enroll_raw(&expired, &other).await;
    assert_eq!(r.status(), 410);
    assert_eq!(
        error_code(&r.json().await.unwrap()),
        "enrollment_code_expired"
    );

    // A code typed in lower case without dashes still works (read over the phone).
    let spoken = server.code("enum-dh-p4").replace('-', "").to_lowercase();
    assert_eq!(server.enroll_raw(&spoken, &other).await.status(), 201);

    // Wrong codes: refused, then rate-limited — even a good code is refused while limited.
    let good = server.code("enum-dh-dl");
    let fresh = DeviceKey::generate(&mut rand::rngs::OsRng);
    // Every refusal counts: the reused and the expired attempts above make two.
    for _ in 2..intake::service::ENROLL_MAX_FAILURES {
        let r = server.enroll_raw("ZZZZ-ZZZZ-ZZZZ", &fresh).await;
        assert_eq!(r.status(), 403);
        assert_eq!(
            error_code(&r.json().await.unwrap()),
            "enrollment_code_invalid"
        );
    }
    let r = server.enroll_raw(&good, &fresh).await;
    assert_eq!(r.status(), 429);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "rate_limited");
    assert!(body["retry_after_secs"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn assignment_is_signed_and_only_for_authenticated_devices() {
    let server = TestServer::start().await;
    let device = server.enroll("enum-gl-ga").await;

    let r = device.get(&server.http, api::PATH_ASSIGNMENT, 0).await;
    assert_eq!(r.status(), 200);
    let doc: SignedDocument = r.json().await.unwrap();
    let assignment = Assignment::verify(&doc, &device.intake_key).unwrap();
    assert_eq!(assignment.enumerator.id, "enum-gl-ga");
    assert_eq!(assignment.villages.len(), 2);
    assert_eq!(assignment.villages[0].commune.name, "Xã Gio An");
    assert_eq!(
        assignment
            .households
            .iter()
            .filter(|h| h.reserve_rank.is_none())
            .count(),
        54
    );
    assert_eq!(
        assignment
            .households
            .iter()
            .filter(|h| h.reserve_rank.is_some())
            .count(),
        6
    );
    assert_eq!(assignment.ministry_public_key, server.ministry.public());
    assert_eq!(
        assignment.campaign.timeline.collect.start.to_string(),
        "2024-11-23"
    );
    // Signed by the intake, not by anyone else.
    assert!(Assignment::verify(&doc, &device.key.public()).is_err());

    // What other devices did on this enumerator's households: nothing yet; only for a
    // signed request.
    let r = device.get(&server.http, api::PATH_EARLIER, 0).await;
    assert_eq!(r.status(), 200);
    let earlier: api::EarlierWork = r.json().await.unwrap();
    assert!(earlier.households.is_empty());
    let unsigned = server
        .http
        .get(format!("{}{}", server.base, api::PATH_EARLIER))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);

    // Unchanged, it is not sent again (statuses alone do not count: the device's are newer);
    // a village moved to this enumerator changes it.
    let url = format!("{}{}", server.base, api::PATH_ASSIGNMENT);
    let tag = assignment.tag().unwrap();
    let held = |tag: &str| {
        server
            .http
            .get(&url)
            .header("if-none-match", format!("\"{tag}\""))
    };
    let r = device.get_with(held(&tag), api::PATH_ASSIGNMENT, 0).await;
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"].to_str().unwrap(), format!("\"{tag}\""));
    assert!(r.bytes().await.unwrap().is_empty());
    let r = device
        .get_with(held("a-tag-from-elsewhere"), api::PATH_ASSIGNMENT, 0)
        .await;
    assert_eq!(r.status(), 200);
    server
        .intake
        .store
        .reassign(
            &intake::store::ReassignTarget::Village("gl-tg-cg".into()),
            "enum-gl-ga",
            "gs-gl",
            "road flooded",
            None,
            chrono::Utc::now(),
        )
        .unwrap();
    let r = device.get_with(held(&tag), api::PATH_ASSIGNMENT, 0).await;
    assert_eq!(r.status(), 200);
    let moved = Assignment::verify(&r.json().await.unwrap(), &device.intake_key).unwrap();
    assert_eq!(moved.villages.len(), 3);
    assert_ne!(moved.tag().unwrap(), tag);

    // No headers, a forged signature, and a clock far off.
    let r = server
        .http
        .get(format!("{}{}", server.base, api::PATH_ASSIGNMENT))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let impostor = support::TestDevice {
        key: DeviceKey::generate(&mut rand::rngs::OsRng),
        ..device
    };
    let r = impostor.get(&server.http, api::PATH_ASSIGNMENT, 0).await;
    assert_eq!(
        (
            r.status().as_u16(),
            error_code(&r.json().await.unwrap()).as_str()
        ),
        (401, "unauthenticated")
    );
    let device = support::TestDevice {
        key: impostor.key.clone(),
        ..impostor
    };
    let _ = device; // the impostor is done

    let honest = server.enroll("enum-gl-tg").await;
    let r = honest.get(&server.http, api::PATH_CHAIN, 3600).await;
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "clock_skew");
    let server_time = body["server_time"].as_i64().unwrap();
    assert!((server_time - chrono::Utc::now().timestamp()).abs() < 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn ingest_then_idempotent_retry() {
    let server = TestServer::start().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let hs = server.households("enum-dh-p2");
    let events = vec![
        device.distributed(&hs[0]),
        device.collected(&hs[0]),
        device.transcribed(&hs[0]),
        device.distributed(&hs[1]),
    ];
    let batch = device.next_batch(events);

    let (status, body) = server.post_frame(batch.to_frame()).await;
    assert_eq!(status, 201, "{body}");
    let outcomes = device.outcomes(&body, &batch, 1);
    assert!(outcomes.len() == 4 && outcomes.iter().all(|o| o.status == OutcomeStatus::Accepted));
    assert_eq!(server.status(&hs[0].0), "transcribed");
    assert_eq!(server.status(&hs[1].0), "distributed");
    let events_before = server.intake.store.events().unwrap();
    assert_eq!(events_before.len(), 4);

    // The same bytes again (a retry after a lost response): the same receipt, nothing new.
    let (status, again) = server.post_frame(batch.to_frame()).await;
    assert_eq!(status, 200);
    assert_eq!(again, body, "a retry gets the very same signed receipt");
    assert_eq!(server.intake.store.events().unwrap(), events_before);
    assert_eq!(device.chain(&server.http).await.seq, 1);

    // The sealed answers are stored sealed: the intake holds no plaintext.
    let stored = server.place.stored_bytes(Some(&server.campaign.id));
    assert!(
        !stored.windows(5).any(|w| w == b"q001\""),
        "answer ids must not appear in clear"
    );
}

/// Copies of one batch and a fork of it sent at the same moment, for an enumerator's first
/// batch and for a later one: each seq is accepted once, every copy hears that batch's own
/// receipt or that the seq is taken, and the events are stored once. On PostgreSQL the two
/// rounds take the two ways a chain is locked (the enumerator's row before the first batch,
/// the chain's row after it).
#[tokio::test(flavor = "multi_thread")]
async fn one_seq_sent_many_times_at_once_is_accepted_once() {
    let server = TestServer::start().await;
    let mut device = server.enroll("enum-dh-p4").await;
    let hs = server.households("enum-dh-p4");
    for round in 0..2 {
        let (seq, prev) = (device.seq + 1, device.prev);
        let batch = device.batch_at(seq, prev, vec![device.distributed(&hs[2 * round])]);
        let fork = device.batch_at(seq, prev, vec![device.distributed(&hs[2 * round + 1])]);
        let (a, b, c, d, e) = tokio::join!(
            server.post_frame(batch.to_frame()),
            server.post_frame(fork.to_frame()),
            server.post_frame(batch.to_frame()),
            server.post_frame(fork.to_frame()),
            server.post_frame(batch.to_frame()),
        );
        let answers = [a, b, c, d, e];
        let winners: Vec<&serde_json::Value> = answers
            .iter()
            .filter(|(status, _)| *status == 201)
            .map(|(_, body)| body)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {answers:?}");
        let winner = winners[0];
        for (status, body) in &answers {
            match status {
                201 => {}
                200 => assert_eq!(body, winner, "a copy hears the accepted batch's receipt"),
                409 => assert_eq!(error_code(body), "equivocation", "round {round}: {body}"),
                other => panic!("round {round}: {other} {body}"),
            }
        }
        // Whichever came first won; its household alone is handed out.
        let statuses = [&hs[2 * round].0, &hs[2 * round + 1].0].map(|h| server.status(h));
        let accepted = match statuses.each_ref().map(String::as_str) {
            ["distributed", "assigned"] => &batch,
            ["assigned", "distributed"] => &fork,
            other => panic!("round {round}: households {other:?}"),
        };
        (device.seq, device.prev) = (seq, accepted.hash());
        assert_eq!(server.intake.store.events().unwrap().len(), round + 1);
        assert_eq!(device.chain(&server.http).await.seq, seq);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn equivocation_gap_and_broken_chain_are_conflicts() {
    let server = TestServer::start().await;
    let mut device = server.enroll("enum-dh-p4").await;
    let hs = server.households("enum-dh-p4");
    let first = device.next_batch(vec![device.distributed(&hs[0])]);
    assert_eq!(server.post_frame(first.to_frame()).await.0, 201);
    let before = (
        server.intake.store.events().unwrap(),
        server.intake.store.household_statuses().unwrap(),
    );

    // Same seq, different content.
    let fork = device.batch_at(1, BatchHash::GENESIS, vec![device.distributed(&hs[1])]);
    let (status, body) = server.post_frame(fork.to_frame()).await;
    assert_eq!((status, error_code(&body).as_str()), (409, "equivocation"));
    let alerts = server.intake.store.alerts().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, "equivocation");
    assert_eq!(alerts[0].seq, Some(1));

    // A gap: batch 3 while 2 is expected.
    let skip = device.batch_at(3, first.hash(), vec![device.distributed(&hs[2])]);
    let (status, body) = server.post_frame(skip.to_frame()).await;
    assert_eq!((status, error_code(&body).as_str()), (409, "seq_gap"));
    assert_eq!(body["expected_seq"], 2);
    assert_eq!(body["last_hash"], first.hash().to_hex());

    // The next seq with a wrong prev.
    let broken = device.batch_at(2, BatchHash([9; 32]), vec![device.distributed(&hs[3])]);
    let (status, body) = server.post_frame(broken.to_frame()).await;
    assert_eq!((status, error_code(&body).as_str()), (409, "chain_broken"));

    let after = (
        server.intake.store.events().unwrap(),
        server.intake.store.household_statuses().unwrap(),
    );
    assert_eq!(before, after, "refused batches change nothing");
    assert_eq!(device.chain(&server.http).await.seq, 1);

    // The honest next batch still goes in.
    let second = device.next_batch(vec![device.distributed(&hs[2])]);
    assert_eq!(server.post_frame(second.to_frame()).await.0, 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_foreign_revoked_oversized_malformed_and_unknown_version_are_refused_whole() {
    let server = TestServer::start().await;
    let mut device = server.enroll("enum-qt-p2").await;
    let hs = server.households("enum-qt-p2");
    let snapshot = || {
        (
            server.intake.store.events().unwrap(),
            server.intake.store.household_statuses().unwrap(),
        )
    };
    let before = snapshot();
    let batch = device.batch_at(1, BatchHash::GENESIS, vec![device.distributed(&hs[0])]);

    // A flipped byte, in the signature and in the body.
    for at in [10usize, batch.to_frame().len() - 3] {
        let mut frame = batch.to_frame();
        frame[at] ^= 0x40;
        let (status, body) = server.post_frame(frame).await;
        assert!(status == 400 || status == 401, "{status} {body}");
    }

    // Signed with another device's key.
    let intruder = DeviceKey::generate(&mut rand::rngs::OsRng);
    let forged = frame_of(batch.canonical_bytes(), &intruder);
    let (status, body) = server.post_frame(forged).await;
    assert_eq!((status, error_code(&body).as_str()), (401, "bad_signature"));

    // Too large on the wire.
    let (status, body) = server
        .post_frame(vec![b'F'; sync_protocol::limits::MAX_FRAME_BYTES + 10])
        .await;
    assert_eq!((status, error_code(&body).as_str()), (413, "too_large"));
    // Too large once inflated (a compression bomb).
    let (status, body) = server
        .post_frame(frame_of(
            &vec![b' '; sync_protocol::limits::MAX_BATCH_BYTES + 1],
            &device.key,
        ))
        .await;
    assert_eq!((status, error_code(&body).as_str()), (400, "bad_frame"));

    // Malformed: empty, garbage, JSON that is not a batch, a batch not in canonical form.
    for (frame, code) in [
        (vec![], "bad_frame"),
        (b"hello world".to_vec(), "bad_frame"),
        (frame_of(b"{\"protocol\":1}", &device.key), "bad_request"),
        (frame_of(&[0xff, 0xfe, 0x00], &device.key), "bad_request"),
    ] {
        let (status, body) = server.post_frame(frame).await;
        assert_eq!((status, error_code(&body).as_str()), (400, code));
    }
    let pretty = serde_json::to_vec_pretty(
        &serde_json::from_slice::<serde_json::Value>(batch.canonical_bytes()).unwrap(),
    )
    .unwrap();
    let (status, body) = server.post_frame(frame_of(&pretty, &device.key)).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "non_canonical"));

    // An unknown protocol version, properly signed.
    let mut v2: serde_json::Value = serde_json::from_slice(batch.canonical_bytes()).unwrap();
    v2["protocol"] = 2.into();
    let (status, body) = server
        .post_frame(frame_of(
            &sync_protocol::canonical::to_canonical_bytes(&v2).unwrap(),
            &device.key,
        ))
        .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (400, "unsupported_version")
    );

    assert_eq!(snapshot(), before, "nothing of a refused batch is stored");
    assert!(
        server.intake.store.alerts().unwrap().is_empty(),
        "unauthenticated junk raises no alert"
    );

    // A revoked device: refused whole, and an alert for the ministry.
    server
        .intake
        .store
        .revoke_device(device.id, "tablet stolen", chrono::Utc::now())
        .unwrap();
    let batch = device.next_batch(vec![device.distributed(&hs[0])]);
    let (status, body) = server.post_frame(batch.to_frame()).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (403, "device_revoked")
    );
    assert_eq!(snapshot(), before);
    assert_eq!(
        server.intake.store.alerts().unwrap()[0].kind,
        "revoked_device_sent"
    );
    let r = device.get(&server.http, api::PATH_ASSIGNMENT, 0).await;
    assert_eq!(r.status(), 403);
}

/// A device's batches are its own enumerator's: a batch it signs for another is refused and
/// stores nothing. Once revoked, it is refused as revoked, whatever it claims — the key and
/// enumerator the intake keeps of each device after its first batch never stand in for a
/// revocation made after it.
#[tokio::test(flavor = "multi_thread")]
async fn a_device_speaks_for_its_own_enumerator_only_and_not_once_revoked() {
    let server = TestServer::start().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let h = server.households("enum-dh-p2")[0].clone();
    let first = device.next_batch(vec![device.distributed(&h)]);
    let (status, receipt) = server.post_frame(first.to_frame()).await;
    assert_eq!(status, 201, "{receipt}");
    let theirs = server.households("enum-gl-tg")[0].clone();
    let mut posing = TestDevice {
        enumerator: "enum-gl-tg".into(),
        seq: 0,
        prev: BatchHash::GENESIS,
        ..device.clone()
    };
    let posed = posing.next_batch(vec![posing.distributed(&theirs)]);
    let (status, body) = server.post_frame(posed.to_frame()).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (403, "enumerator_mismatch")
    );
    assert_eq!(server.status(&theirs.0), "assigned");

    server
        .intake
        .store
        .revoke_device(device.id, "tablet stolen", chrono::Utc::now())
        .unwrap();
    for batch in [posed, device.next_batch(vec![device.collected(&h)])] {
        let (status, body) = server.post_frame(batch.to_frame()).await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (403, "device_revoked")
        );
    }
    assert_eq!(server.status(&h.0), "distributed");
    let (status, again) = server.post_frame(first.to_frame()).await;
    assert_eq!(
        (status, &again),
        (200, &receipt),
        "work accepted before keeps its receipt"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn domain_rejections_keep_the_batch_and_the_queue_moving() {
    let server = TestServer::start().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let mine = server.households("enum-dh-p2");
    let theirs = server.households("enum-gl-tg");

    let unassigned = device.distributed(&theirs[0]);
    let illegal = device.collected(&mine[1]); // never handed out
    let good = device.distributed(&mine[0]);
    let unknown = device.distributed(&("no-such-household".to_string(), "X".to_string()));
    let wrong_serial = device.distributed(&(mine[2].0.clone(), "QT24-99999".to_string()));
    let batch = device.next_batch(vec![
        unassigned.clone(),
        illegal.clone(),
        good.clone(),
        unknown,
        wrong_serial,
    ]);
    let (status, body) = server.post_frame(batch.to_frame()).await;
    assert_eq!(status, 201, "an authentic batch is accepted into the chain");
    let outcomes = device.outcomes(&body, &batch, 1);
    let codes: Vec<Option<&str>> = outcomes.iter().map(|o| o.code.as_deref()).collect();
    assert_eq!(
        codes,
        [
            Some("household_not_assigned"),
            Some("illegal_transition"),
            None,
            Some("household_unknown"),
            Some("serial_mismatch")
        ]
    );
    assert!(outcomes[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("another enumerator"));
    // Rejected events never touch household state, but are kept as records.
    assert_eq!(server.status(&theirs[0].0), "assigned");
    assert_eq!(server.status(&mine[1].0), "assigned");
    assert_eq!(server.status(&mine[0].0), "distributed");
    let stored = server.intake.store.events().unwrap();
    assert_eq!(stored.iter().filter(|e| e.status == "rejected").count(), 4);

    // The next batch is accepted; an event id seen before is a duplicate, not a second record.
    let next = device.next_batch(vec![device.collected(&mine[0]), good.clone()]);
    let (status, body) = server.post_frame(next.to_frame()).await;
    assert_eq!(status, 201);
    let outcomes = device.outcomes(&body, &next, 2);
    assert_eq!(outcomes[0].status, OutcomeStatus::Accepted);
    assert_eq!(outcomes[1].code.as_deref(), Some("duplicate_event"));
    assert_eq!(server.status(&mine[0].0), "collected");
    assert_eq!(
        server.intake.store.events().unwrap().len(),
        stored.len() + 1
    );

    // A malformed sealed payload is a domain rejection too.
    let bad_seal = device.event(
        &mine[0],
        EventBody::FormTranscribed {
            form: "sipas-2024@1".into(),
            sealed_answers: Some(sync_protocol::keys::Base64Bytes(vec![1; 20])),
            keying_seconds: 5,
        },
    );
    let third = device.next_batch(vec![bad_seal]);
    let (_, body) = server.post_frame(third.to_frame()).await;
    assert_eq!(
        device.outcomes(&body, &third, 3)[0].code.as_deref(),
        Some("sealed_answers_malformed")
    );
    assert_eq!(server.status(&mine[0].0), "collected");
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_travel_once_where_transcriptions_are_verified_and_must_travel_where_they_are_not()
{
    for verified in [true, false] {
        let server = TestServer::start_with(|c| c.verification_required = verified).await;
        let mut device = server.enroll("enum-dh-p4").await;
        let h = server.households("enum-dh-p4")[0].clone();
        let without_answers = device.event(
            &h,
            EventBody::FormTranscribed {
                form: "sipas-2024@1".into(),
                sealed_answers: None,
                keying_seconds: 200,
            },
        );
        let batch = device.next_batch(vec![
            device.distributed(&h),
            device.collected(&h),
            without_answers,
        ]);
        let (status, body) = server.post_frame(batch.to_frame()).await;
        assert_eq!(status, 201);
        let outcome = &device.outcomes(&body, &batch, 1)[2];
        if verified {
            assert_eq!(outcome.status, OutcomeStatus::Accepted);
            assert_eq!(server.status(&h.0), "transcribed");
        } else {
            assert_eq!(outcome.code.as_deref(), Some("answers_missing"));
            assert_eq!(server.status(&h.0), "collected");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refusal_replaced_by_the_next_reserve_household() {
    let server = TestServer::start().await;
    let mut device = server.enroll("enum-gl-ga").await;
    let hs = server.households("enum-gl-ga");
    let reserve = server.reserve("gl-ga-an");
    let refused = device.outcome(&hs[0], VisitOutcome::Refused);
    let skip_rank = device.event(
        &hs[0],
        EventBody::HouseholdReplaced {
            replacement: reserve[1].0.clone(),
        },
    );
    let replace = device.event(
        &hs[0],
        EventBody::HouseholdReplaced {
            replacement: reserve[0].0.clone(),
        },
    );
    let hand_out = device.distributed(&reserve[0]);
    let batch = device.next_batch(vec![refused, skip_rank, replace, hand_out]);
    let (status, body) = server.post_frame(batch.to_frame()).await;
    assert_eq!(status, 201);
    let codes: Vec<Option<String>> = device
        .outcomes(&body, &batch, 1)
        .into_iter()
        .map(|o| o.code)
        .collect();
    assert_eq!(
        codes,
        [None, Some("replacement_invalid".into()), None, None]
    );
    assert_eq!(server.status(&hs[0].0), "replaced");
    assert_eq!(server.status(&reserve[0].0), "distributed");
    assert_eq!(server.status(&reserve[1].0), "reserve");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replacement_device_continues_the_chain() {
    let server = TestServer::start().await;
    let mut old = server.enroll("enum-qt-hl").await;
    let hs = server.households("enum-qt-hl");
    for h in &hs[..3] {
        let b = old.next_batch(vec![old.distributed(h)]);
        assert_eq!(server.post_frame(b.to_frame()).await.0, 201);
    }
    let head = old.chain(&server.http).await;
    assert_eq!((head.seq, head.hash), (3, old.prev));

    // The tablet is lost; a new one is enrolled and learns where the chain stands.
    let mut new = server.enroll("enum-qt-hl").await;
    assert_eq!((new.seq, new.prev), (3, old.prev));
    assert!(
        server.intake.store.device(old.id).unwrap().unwrap().revoked,
        "one tablet per enumerator"
    );
    let b = new.next_batch(vec![new.collected(&hs[0])]);
    assert_eq!(server.post_frame(b.to_frame()).await.0, 201);
    assert_eq!(server.status(&hs[0].0), "collected");

    // The old tablet, found again, cannot write to the chain.
    let stale = old.next_batch(vec![old.collected(&hs[1])]);
    assert_eq!(server.post_frame(stale.to_frame()).await.0, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_is_json_with_a_stable_code() {
    let server = TestServer::start().await;
    for (method, path, body) in [
        ("GET", "/v1/nope", ""),
        ("GET", api::PATH_BATCHES, ""),
        ("DELETE", api::PATH_ENROLL, ""),
        ("POST", api::PATH_ENROLL, "not json"),
        ("POST", api::PATH_ENROLL, "{\"code\":1}"),
    ] {
        let r = server
            .http
            .request(method.parse().unwrap(), format!("{}{}", server.base, path))
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error());
        let json: serde_json::Value = r.json().await.unwrap();
        assert!(
            json["code"].is_string() && json["message"].is_string(),
            "{json}"
        );
    }
    // Outside the protocol's paths an unknown address is one of the centre's pages: a person
    // mistyped it, and reads a page.
    let page = server
        .http
        .get(format!("{}/nope", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("Không tìm thấy"));
}

/// A revision added by another process (`intake add-form` beside a running `serve`) reaches
/// devices at their next sync, without a restart, and forms keyed on it are accepted by the
/// running intake, which had judged forms of the first version before; a different
/// questionnaire is refused and changes nothing (outside pass: Bình Dương's workbook had
/// become SIPAS's current form).
#[tokio::test(flavor = "multi_thread")]
async fn a_revision_from_another_process_reaches_devices_and_another_questionnaire_is_refused() {
    let server = TestServer::start().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let hs = server.households("enum-dh-p2");
    let keyed_on = |device: &support::TestDevice, h: &(String, String), form: &str| {
        vec![
            device.distributed(h),
            device.collected(h),
            device.event(
                h,
                EventBody::FormTranscribed {
                    form: form.into(),
                    sealed_answers: None,
                    keying_seconds: 180,
                },
            ),
        ]
    };
    let all_accepted =
        |device: &support::TestDevice, (status, body): (u16, serde_json::Value), batch, seq| {
            assert_eq!(status, 201, "{body}");
            let outcomes = device.outcomes(&body, batch, seq);
            assert!(
                outcomes.iter().all(|o| o.status == OutcomeStatus::Accepted),
                "{outcomes:?}"
            );
        };
    let first = device.next_batch(keyed_on(&device, &hs[0], "sipas-2024@1"));
    all_accepted(
        &device,
        server.post_frame(first.to_frame()).await,
        &first,
        1,
    );
    let form_of = |device_view: SignedDocument| {
        Assignment::verify(&device_view, &device.intake_key)
            .unwrap()
            .campaign
            .form
    };
    let r = device.get(&server.http, api::PATH_ASSIGNMENT, 0).await;
    assert_eq!(form_of(r.json().await.unwrap()), "sipas-2024@1");

    let other_process = server.reopen_store();
    use intake::store::Store;
    let refused = other_process
        .add_form(&intake::demo::binh_duong_form(), true, chrono::Utc::now())
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("not a version of this campaign's form sipas-2024@1"),
        "{refused}"
    );
    assert_eq!(other_process.forms().unwrap().len(), 1);

    let revision = intake::form_files::StoredForm::read(
        intake::demo::SIPAS_FORM_JSON
            .replacen("\"version\": 1", "\"version\": 2", 1)
            .as_bytes(),
    )
    .unwrap();
    other_process
        .add_form(&revision, true, chrono::Utc::now())
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let r = device.get(&server.http, api::PATH_ASSIGNMENT, 0).await;
        if form_of(r.json().await.unwrap()) == "sipas-2024@2" {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the running intake still serves the old form"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let second = device.next_batch(keyed_on(&device, &hs[1], "sipas-2024@2"));
    all_accepted(
        &device,
        server.post_frame(second.to_frame()).await,
        &second,
        2,
    );
}

/// On 2G every byte of a sync is paid for: a device protocol answer that is compressed goes out
/// whole, with its length, not in chunks (`Transfer-Encoding: chunked` and the chunk framing
/// cost more), and without `Vary`, which only caches read and nothing caches a `no-store`
/// answer. Pages keep `Vary`: a browser's cache does read it. Read off the wire, as sent.
#[tokio::test(flavor = "multi_thread")]
async fn device_answers_go_out_whole_with_their_length_and_without_vary() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start().await;
    let raw = |request: String| {
        let address = server.base.trim_start_matches("http://").to_string();
        async move {
            let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
            socket.write_all(request.as_bytes()).await.unwrap();
            let mut answer = Vec::new();
            socket.read_to_end(&mut answer).await.unwrap();
            let end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            let head = String::from_utf8(answer[..end].to_vec())
                .unwrap()
                .to_lowercase();
            (head, answer[end + 4..].to_vec())
        }
    };
    let key = DeviceKey::generate(&mut rand::rngs::OsRng);
    let body = serde_json::to_string(&api::EnrollRequest {
        code: server.code("enum-dh-p2"),
        public_key: key.public(),
        label: "test tablet".into(),
    })
    .unwrap();
    let (head, body) = raw(format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: zstd,gzip\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        api::PATH_ENROLL,
        body.len()
    ))
    .await;
    assert!(head.starts_with("http/1.1 201"), "{head}");
    assert!(
        head.contains("\r\ncontent-encoding: zstd"),
        "compressed: {head}"
    );
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert!(!head.contains("\r\nvary:"), "{head}");
    assert!(
        head.contains(&format!("\r\ncontent-length: {}", body.len())),
        "{head}"
    );
    let enrolled: EnrollResponse =
        serde_json::from_slice(&zstd::decode_all(&body[..]).unwrap()).unwrap();
    assert_eq!(enrolled.enumerator, "enum-dh-p2");

    // The encoding follows what the device weighs highest, whole and without `Vary` whichever
    // it is: a small answer (the chain head, compressed through the thread's context) and a
    // large one (the assignment, left to the streaming encoder, whose larger tables compress
    // it better).
    for (path, small) in [(api::PATH_CHAIN, true), (api::PATH_ASSIGNMENT, false)] {
        let signed: String = api::sign_request(
            &key,
            enrolled.device,
            "GET",
            path,
            chrono::Utc::now().timestamp(),
        )
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
        for (accepted, expected) in [
            ("zstd", Some("zstd")),
            ("gzip, zstd", Some("zstd")),
            ("gzip", Some("gzip")),
            ("zstd;q=0.5, gzip", Some("gzip")),
            ("zstd;q=0", None),
            ("identity", None),
        ] {
            let (head, body) = raw(format!(
                "GET {path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: {accepted}\r\n{signed}Connection: close\r\n\r\n",
            ))
            .await;
            let case = format!("{path}, {accepted}: {head}");
            assert!(head.starts_with("http/1.1 200"), "{case}");
            let encoding = head
                .lines()
                .find_map(|l| l.strip_prefix("content-encoding: "));
            assert_eq!(encoding, expected, "{case}");
            assert!(!head.contains("transfer-encoding"), "{case}");
            assert!(!head.contains("\r\nvary:"), "{case}");
            let json = match encoding {
                Some("zstd") => {
                    let json = zstd::decode_all(&body[..]).unwrap();
                    // Compressed whole through the thread's context, the frame says its
                    // length; the streaming encoder's does not.
                    let declared = zstd::zstd_safe::get_frame_content_size(&body).ok();
                    let whole = Some(Some(json.len() as u64));
                    assert_eq!(declared == whole, small, "{case}: {declared:?}");
                    json
                }
                Some(_) => {
                    let mut json = Vec::new();
                    let mut gzip = flate2::read::GzDecoder::new(&body[..]);
                    std::io::Read::read_to_end(&mut gzip, &mut json).unwrap();
                    json
                }
                None => body,
            };
            let answer: serde_json::Value = serde_json::from_slice(&json).unwrap();
            assert!(answer.is_object(), "{case}");
            assert_eq!(json.len() < 2048, small, "{case}: {} bytes", json.len());
        }
    }

    let (head, _) = raw(
        "GET /login HTTP/1.1\r\nHost: x\r\nAccept-Encoding: zstd\r\nConnection: close\r\n\r\n"
            .into(),
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("\r\nvary: accept-encoding"),
        "pages keep Vary: {head}"
    );
}
