//! A village's whole lifecycle on a real device store against a real intake on 127.0.0.1:
//! enrollment, absence and retry, refusal with replacement, hand-outs and collections, keying
//! every form from the keyboard API, double keying with a mismatch resolved, a parcel, sync —
//! and the centre ends in exactly the device's state, with answers only the ministry can open.

use field_client::{Client, ClientError, RetryPolicy};
use intake::demo;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use sync_protocol::{
    event::{Recipient, VisitOutcome},
    lifecycle::HouseholdStatus,
};

mod support;
use support::{answers_for, start_centre};

const PASSPHRASE: &str = "cụm mật khẩu của Bộ Nội vụ 2024";

fn key(client: &mut Client, household: &str, pass: u8, answers: &BTreeMap<String, Value>) {
    for (q, v) in answers {
        client
            .set_answer(household, pass, q, Some(v.clone()))
            .unwrap();
    }
}

#[test]
fn a_village_from_hand_out_to_parcel_arrives_exactly_as_recorded() {
    let centre = start_centre();
    let device_dir = tempfile::tempdir().unwrap();
    let mut client = Client::open(device_dir.path()).unwrap();
    assert!(matches!(client.households(), Ok(h) if h.is_empty()));
    let code = centre
        .intake
        .issue_enrollment_code("enum-dh-p2", chrono::Duration::hours(1), "test")
        .unwrap();
    let enrolled = client.enroll(&centre.url, &code, "tablet 1").unwrap();
    assert_eq!(enrolled.enumerator, "enum-dh-p2");
    let village: Vec<String> = client
        .households()
        .unwrap()
        .into_iter()
        .filter(|h| h.village == "dh-p2-kp1" && h.reserve_rank.is_none())
        .map(|h| h.id)
        .collect();
    assert_eq!(village.len(), 27);
    let form = client.form().unwrap().clone();

    // Hand-out: one household absent first, one refusing (replaced from the reserve list).
    client
        .record_outcome(&village[0], VisitOutcome::Absent, None)
        .unwrap();
    client
        .record_outcome(
            &village[1],
            VisitOutcome::Refused,
            Some("Không muốn tham gia".into()),
        )
        .unwrap();
    let replacement = client.replace(&village[1]).unwrap();
    assert_eq!(replacement, "dh-p2-kp1-r01");
    assert_eq!(
        client.household(&replacement).unwrap().replaces.as_deref(),
        Some(village[1].as_str()),
        "the reserve knows whom it replaces"
    );
    assert_eq!(client.household(&village[2]).unwrap().replaces, None);
    // Illegal steps are refused on the device, with nothing recorded.
    assert!(matches!(
        client.collect(&village[2]),
        Err(ClientError::IllegalStep(_))
    ));
    let mut working: Vec<String> = village
        .iter()
        .filter(|h| *h != &village[1])
        .cloned()
        .collect();
    working.push(replacement.clone());
    for h in &working {
        client
            .distribute(h, Recipient::Representative, None)
            .unwrap();
    }
    // Sync in the middle of the campaign, as a tablet with a bar of signal would.
    let first = client.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    assert_eq!(first.events_rejected, 0);
    for h in &working {
        client.collect(h).unwrap();
    }

    // Keying, and a blind second keying with one mismatch resolved against the paper.
    let mut expected_answers = BTreeMap::new();
    for (i, h) in working.iter().enumerate() {
        let answers = answers_for(&form, i as i64);
        key(&mut client, h, 1, &answers);
        client.finish_first_keying(h).unwrap();
        let mut second = answers.clone();
        if i == 0 {
            second.insert("q4".into(), json!(1)); // the verifier misread the paper
                                                  // And a row of question 10, after question 4 on the paper (though "q10_1" sorts
                                                  // before "q4"): mismatches come in the paper's order.
            let q10_1 = answers["q10_1"].as_i64().unwrap();
            second.insert("q10_1".into(), json!(if q10_1 == 1 { 2 } else { 1 }));
        }
        key(&mut client, h, 2, &second);
        assert_eq!(
            client.answers(h, 2).unwrap(),
            second,
            "pass 2 never sees pass 1"
        );
        let mismatches = client.mismatches(h).unwrap();
        let mut resolutions = BTreeMap::new();
        if i == 0 {
            let order: Vec<&str> = mismatches.iter().map(|m| m.question.as_str()).collect();
            assert_eq!(order, ["q4", "q10_1"]);
            resolutions.insert("q4".to_string(), answers.get("q4").cloned()); // the paper agrees with pass 1
            resolutions.insert("q10_1".to_string(), answers.get("q10_1").cloned());
        } else {
            assert!(mismatches.is_empty());
        }
        client.finish_verification(h, &resolutions).unwrap();
        assert!(
            client.answers(h, 1).unwrap().is_empty(),
            "plaintext is deleted once sealed"
        );
        expected_answers.insert(h.clone(), answers);
    }
    // Two parcels within the same second (the bench found they once collided).
    let (first_part, second_part) = working.split_at(20);
    let parcel = client.hand_over_parcel(first_part).unwrap();
    let second_parcel = client.hand_over_parcel(second_part).unwrap();
    assert_ne!(parcel, second_parcel);
    assert!(
        parcel.starts_with("P-enum-dh-p2-")
            && parcel.ends_with("-01")
            && second_parcel.ends_with("-02"),
        "{parcel} {second_parcel}"
    );

    let mut last = None;
    let report = client
        .sync(RetryPolicy::default(), &mut |p| last = Some(p))
        .unwrap();
    assert_eq!(
        report.events_rejected,
        0,
        "{:?}",
        client.rejected_events().unwrap()
    );
    let last = last.unwrap();
    assert_eq!(
        (last.events_sent, last.bytes_sent),
        (last.events_total, last.bytes_total)
    );
    assert_eq!(client.pending().unwrap().events_total, 0);

    // The centre's state equals the device's, household by household.
    let centre_status = centre.intake.store.household_statuses().unwrap();
    for h in client.households().unwrap() {
        assert_eq!(centre_status[&h.id], h.status, "{}", h.id);
    }
    assert_eq!(
        client.household(&village[1]).unwrap().status,
        HouseholdStatus::Replaced
    );
    assert_eq!(
        client.household(&working[0]).unwrap().status,
        HouseholdStatus::InParcel
    );
    let head = centre.intake.store.chain_head("enum-dh-p2").unwrap();
    assert_eq!(
        (head.seq + 1, head.hash),
        (
            client.enrollment().unwrap().next_seq,
            client.enrollment().unwrap().last_hash
        )
    );

    // The answers arrived sealed: only the ministry's key opens them, and they are the resolved ones.
    let db =
        rusqlite::Connection::open(centre.dir.path().join("campaigns/qt-sipas-2024.db")).unwrap();
    let bodies: Vec<String> = db
        .prepare("SELECT body FROM events WHERE kind = 'transcription_verified'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(bodies.len(), working.len());
    for body in bodies {
        let event: sync_protocol::Event = serde_json::from_str(&body).unwrap();
        let sealed = event.body.sealed_answers().unwrap();
        let order = |reference: &str| {
            (reference == form.reference()).then(|| {
                form.question_order()
                    .into_iter()
                    .map(String::from)
                    .collect()
            })
        };
        assert!(sync_protocol::seal::open(
            &sync_protocol::keys::MinistrySecretKey::from_bytes([1; 32]),
            sealed,
            &order
        )
        .is_err());
        let sheet = sync_protocol::seal::open(&demo::fixed_ministry_key(), sealed, &order).unwrap();
        assert_eq!(
            &sheet.answers,
            &expected_answers[event.household.as_ref().unwrap()]
        );
        // The keyer was right and the verifier misread the paper twice, on the first form.
        let sync_protocol::EventBody::TranscriptionVerified {
            mismatches,
            keyer_errors,
            verifier_errors,
            ..
        } = event.body
        else {
            unreachable!()
        };
        let first = event.household.as_deref() == Some(working[0].as_str());
        assert_eq!(
            (mismatches, keyer_errors, verifier_errors),
            if first { (2, 0, 2) } else { (0, 0, 0) }
        );
        // What each keying said where they differed travels sealed with the answers.
        let apart: Vec<_> = sheet
            .keyings_apart
            .iter()
            .map(|a| (a.question.as_str(), a.first.clone(), a.second.clone()))
            .collect();
        if first {
            let answers = &expected_answers[&working[0]];
            assert_eq!(apart.len(), 2);
            assert_eq!(apart[0], ("q4", answers.get("q4").cloned(), Some(json!(1))));
            assert_eq!(
                (apart[1].0, &apart[1].1),
                ("q10_1", &answers.get("q10_1").cloned())
            );
        } else {
            assert!(apart.is_empty(), "{apart:?}");
        }
    }

    // A later correction, keyed again from the paper, goes out sealed as a correction event and
    // is what the ministry opens for that household from then on.
    let mut corrected = expected_answers[&working[3]].clone();
    corrected.insert("q4".into(), json!(2));
    assert!(matches!(
        client.correct(
            &working[3],
            BTreeMap::from([("q4".to_string(), json!(99))]),
            "sai mã",
            30
        ),
        Err(ClientError::Incomplete { .. })
    ));
    client
        .correct(&working[3], corrected.clone(), "Câu 4 nhập nhầm", 95)
        .unwrap();
    assert_eq!(
        client
            .sync(RetryPolicy::default(), &mut |_| {})
            .unwrap()
            .events_rejected,
        0
    );
    let body: String = db
        .query_row(
            "SELECT body FROM events WHERE kind = 'correction'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let event: sync_protocol::Event = serde_json::from_str(&body).unwrap();
    assert_eq!(event.household.as_deref(), Some(working[3].as_str()));
    let order = |reference: &str| {
        (reference == form.reference()).then(|| {
            form.question_order()
                .into_iter()
                .map(String::from)
                .collect()
        })
    };
    assert_eq!(
        sync_protocol::seal::open(
            &demo::fixed_ministry_key(),
            event.body.sealed_answers().unwrap(),
            &order
        )
        .unwrap()
        .answers,
        corrected
    );
    let latest = centre
        .intake
        .store
        .sealed_forms(None)
        .unwrap()
        .into_iter()
        .find(|f| f.household == working[3])
        .unwrap();
    assert_eq!(
        latest.sealed,
        event.body.sealed_answers().unwrap(),
        "the correction wins over the verification"
    );
    for (p, n) in [(&parcel, 20), (&second_parcel, 7)] {
        let serials: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM parcel_serials WHERE parcel = ?1",
                [p],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(serials, n);
    }

    // The ministry reviewing the first form sees, beside each answer the keyings read
    // differently, what each of them said; the answer shown is the one resolved on paper.
    centre
        .intake
        .store_ministry_key(&demo::fixed_ministry_key(), PASSPHRASE)
        .unwrap();
    let review = |h: &str| {
        centre
            .intake
            .sheet_for_review(PASSPHRASE, "test", "127.0.0.1", h)
            .unwrap()
            .unwrap()
    };
    let first = review(&working[0]);
    let apart: Vec<_> = first.rows.iter().filter(|r| r.keyings.is_some()).collect();
    let number = |id: &str| form.question(id).unwrap().number.clone();
    assert_eq!(
        apart.iter().map(|r| r.number.clone()).collect::<Vec<_>>(),
        [number("q4"), number("q10_1")]
    );
    let q4 = expected_answers[&working[0]]["q4"].to_string();
    let (said_first, said_second) = apart[0].keyings.clone().unwrap();
    assert!(
        said_first.starts_with(&q4) && said_second.starts_with('1') && apart[0].raw == q4,
        "{said_first} / {said_second} / {}",
        apart[0].raw
    );
    assert!(review(&working[1]).rows.iter().all(|r| r.keyings.is_none()));

    // Nothing left to send; a further sync sends nothing and changes nothing.
    let again = client.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    assert_eq!(again.batches_acknowledged, 0);
}

#[test]
fn keying_resumes_after_the_app_is_closed_mid_form() {
    let centre = start_centre();
    let dir = tempfile::tempdir().unwrap();
    let h;
    let answers;
    {
        let mut client = Client::open(dir.path()).unwrap();
        let code = centre
            .intake
            .issue_enrollment_code("enum-gl-tt", chrono::Duration::hours(1), "test")
            .unwrap();
        client.enroll(&centre.url, &code, "t").unwrap();
        h = client.households().unwrap()[0].id.clone();
        client
            .distribute(&h, Recipient::FamilyMember, None)
            .unwrap();
        client.collect(&h).unwrap();
        answers = answers_for(client.form().unwrap(), 3);
        let half: BTreeMap<String, Value> = answers
            .iter()
            .take(answers.len() / 2)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        key(&mut client, &h, 1, &half);
        assert!(matches!(
            client.finish_first_keying(&h),
            Err(ClientError::Incomplete { .. })
        ));
    } // the app is closed (the process could as well have died: every answer was committed)
    let mut client = Client::open(dir.path()).unwrap();
    assert_eq!(client.answers(&h, 1).unwrap().len(), answers.len() / 2);
    let rest: BTreeMap<String, Value> = answers
        .iter()
        .skip(answers.len() / 2)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    key(&mut client, &h, 1, &rest);
    client.finish_first_keying(&h).unwrap();
    assert_eq!(
        client.household(&h).unwrap().status,
        HouseholdStatus::Transcribed
    );
}

#[test]
fn an_answer_that_makes_questions_not_apply_clears_them() {
    let centre = start_centre();
    let dir = tempfile::tempdir().unwrap();
    let mut client = Client::open(dir.path()).unwrap();
    let code = centre
        .intake
        .issue_enrollment_code("enum-dh-dl", chrono::Duration::hours(1), "test")
        .unwrap();
    client.enroll(&centre.url, &code, "t").unwrap();
    let h = client.households().unwrap()[0].id.clone();
    client
        .distribute(&h, Recipient::Representative, None)
        .unwrap();
    client.collect(&h).unwrap();
    let answers = answers_for(client.form().unwrap(), 0);
    key(&mut client, &h, 1, &answers);
    // "No administrative procedure in the last year": the whole service block no longer applies.
    let (validation, cleared) = client.key_answer(&h, 1, "q8_4", Some(json!(2))).unwrap();
    assert!(
        !cleared.is_empty() && cleared.iter().all(|q| q.starts_with("q9_")),
        "{cleared:?}"
    );
    assert!(validation.errors.is_empty(), "{:?}", validation.errors);
    assert!(cleared.iter().all(|q| validation.not_relevant.contains(q)));
    let kept = client.answers(&h, 1).unwrap();
    assert!(cleared.iter().all(|q| !kept.contains_key(q)));
    client.finish_first_keying(&h).unwrap();
}

#[test]
fn a_clock_that_jumps_during_keying_adds_no_keying_time() {
    let centre = start_centre();
    let dir = tempfile::tempdir().unwrap();
    let mut client = Client::open(dir.path()).unwrap();
    let code = centre
        .intake
        .issue_enrollment_code("enum-qt-hl", chrono::Duration::hours(1), "test")
        .unwrap();
    client.enroll(&centre.url, &code, "t").unwrap();
    let h = client.households().unwrap()[0].id.clone();
    client
        .distribute(&h, Recipient::Representative, None)
        .unwrap();
    client.collect(&h).unwrap();
    let db = rusqlite::Connection::open(dir.path().join("device.db")).unwrap();
    let seconds = || -> i64 {
        db.query_row(
            "SELECT seconds FROM keying_sessions WHERE household = ?1 AND pass = 1",
            [&h],
            |r| r.get(0),
        )
        .unwrap()
    };
    // The stretch so far began `shift` seconds before the device's clock now says.
    let began = |shift: i64| {
        db.execute(
            "UPDATE keying_sessions SET resumed_at = ?1 WHERE household = ?2",
            rusqlite::params![chrono::Utc::now().timestamp() - shift, h],
        )
        .unwrap();
    };
    let questions: Vec<String> = client
        .form()
        .unwrap()
        .questions
        .iter()
        .filter(|q| q.relevant.is_none())
        .map(|q| q.id.clone())
        .take(4)
        .collect();
    client
        .set_answer(&h, 1, &questions[0], Some(json!(1)))
        .unwrap();
    began(40); // forty honest seconds on the next question
    client
        .set_answer(&h, 1, &questions[1], Some(json!(1)))
        .unwrap();
    assert!((40..=41).contains(&seconds()), "{}", seconds());
    began(-3600); // the clock was set back an hour between two keystrokes
    client
        .set_answer(&h, 1, &questions[2], Some(json!(1)))
        .unwrap();
    began(3 * 86_400); // and then forward three days
    client
        .set_answer(&h, 1, &questions[3], Some(json!(1)))
        .unwrap();
    assert!(
        (40..=41).contains(&seconds()),
        "a jump either way adds nothing: {}",
        seconds()
    );
}

#[test]
fn the_timeline_says_what_is_due_and_late() {
    use chrono::NaiveDate;
    use field_client::Phase;
    let centre = start_centre();
    let dir = tempfile::tempdir().unwrap();
    let mut client = Client::open(dir.path()).unwrap();
    let code = centre
        .intake
        .issue_enrollment_code("enum-qt-hl", chrono::Duration::hours(1), "test")
        .unwrap();
    client.enroll(&centre.url, &code, "t").unwrap();
    let day = |d| NaiveDate::from_ymd_opt(2024, 11, d).unwrap();
    let village = "qt-hl-nl";
    let households: Vec<String> = client
        .households()
        .unwrap()
        .into_iter()
        .filter(|h| h.village == village && h.reserve_rank.is_none())
        .map(|h| h.id)
        .collect();
    for h in &households[..20] {
        client
            .distribute(h, Recipient::Representative, None)
            .unwrap();
    }
    client.collect(&households[0]).unwrap();

    let t = client.today(day(21)).unwrap();
    assert_eq!(t.phase, Phase::Distribute);
    let v = &t.villages[village];
    assert_eq!(
        (v.to_distribute, v.to_collect, v.to_transcribe, v.late),
        (7, 19, 1, 0)
    );
    // After the distribution window, the 7 undistributed forms are late.
    let t = client.today(day(23)).unwrap();
    assert_eq!((t.phase, t.villages[village].late), (Phase::Collect, 7));
    // After the collection window, uncollected ones are late too.
    let t = client.today(day(25)).unwrap();
    assert_eq!(
        (t.phase, t.villages[village].late),
        (Phase::Transcribe, 7 + 19)
    );
    assert_eq!(
        client.today(day(20)).unwrap().phase,
        Phase::BeforeDistribution
    );
    assert_eq!(client.today(day(28)).unwrap().phase, Phase::Submit);
    assert_eq!(client.today(day(30)).unwrap().phase, Phase::Over);
}
