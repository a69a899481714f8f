//! Refused work of one household is decided together, in the order it was done: a tablet that
//! handed out, collected and keyed a form for a household moved away meanwhile leaves three
//! refused events; accepting the keying first would fail, and the advice was to dismiss it.

mod support;

use reqwest::{header, StatusCode};
use support::pages::*;
use sync_protocol::lifecycle::HouseholdStatus;

#[tokio::test(flavor = "multi_thread")]
async fn a_households_refused_work_is_taken_in_its_order_with_one_decision() {
    let server = setup().await;
    let mut old = server.enroll("enum-dh-p2").await;
    let h = server
        .households("enum-dh-p2")
        .into_iter()
        .find(|h| h.0.starts_with("dh-p2-kp1-"))
        .unwrap();
    // The village moves to another enumerator while the old tablet is offline.
    server
        .intake
        .store
        .reassign(
            &intake::store::ReassignTarget::Village("dh-p2-kp1".into()),
            "enum-dh-p4",
            "gs-dh",
            "ốm",
            None,
            chrono::Utc::now(),
        )
        .unwrap();
    let events = vec![old.distributed(&h), old.collected(&h), old.transcribed(&h)];
    let batch = old.next_batch(events);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);
    assert_eq!(
        server
            .intake
            .store
            .rejected_events(None)
            .unwrap()
            .iter()
            .filter(|r| r.household.as_deref() == Some(h.0.as_str()))
            .count(),
        3
    );

    let session = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    let page = get(&server, "/c/qt-sipas-2024/reassign", &session)
        .await
        .text()
        .await
        .unwrap();
    // One card for the household, its work in order, one button for all of it.
    assert_eq!(
        page.matches(&format!("data-household=\"{}\"", h.0)).count(),
        1,
        "{page}"
    );
    let (handed, collected, keyed) = (
        page.find("Phát phiếu ·").unwrap(),
        page.find("Thu phiếu ·").unwrap(),
        page.find("Nhập phiếu ·").unwrap(),
    );
    assert!(handed < collected && collected < keyed, "in the order done");
    assert!(
        page.contains("Nhận cả 3 việc, theo thứ tự, vào hồ sơ của"),
        "{page}"
    );
    assert!(
        !page.contains("hãy bỏ qua kèm lý do"),
        "never advised to dismiss keyed answers"
    );
    assert!(page.contains("Việc này có phiếu đã nhập"));

    let csrf = hidden_csrf(&page);
    let post = |confirmed: bool| {
        let mut form = vec![
            ("csrf", csrf.clone()),
            ("household", h.0.clone()),
            ("decision", "accepted".to_string()),
        ];
        if confirmed {
            form.push(("confirmed", "yes".into()));
        }
        let (url, session) = (
            format!("{}/c/qt-sipas-2024/reassign/rejected", server.base),
            session.clone(),
        );
        async move {
            browser()
                .post(url)
                .header(header::COOKIE, format!("fp_session={session}"))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let asked = post(false).await.text().await.unwrap();
    assert!(
        asked.contains("Phát phiếu, Thu phiếu, Nhập phiếu") && asked.contains("theo đúng thứ tự"),
        "{asked}"
    );
    let done = post(true).await;
    assert_eq!(done.status(), StatusCode::OK);
    let done = done.text().await.unwrap();
    assert!(done.contains("3 việc"), "{done}");
    assert_eq!(
        server.intake.store.household_statuses().unwrap()[&h.0],
        HouseholdStatus::Transcribed,
        "handed out, collected and keyed, in that order"
    );
    assert!(server
        .intake
        .store
        .rejected_events(None)
        .unwrap()
        .iter()
        .filter(|r| r.household.as_deref() == Some(h.0.as_str()))
        .all(|r| r.resolution.as_deref() == Some("accepted")),);
    // Decided once.
    assert_eq!(post(true).await.status(), StatusCode::BAD_REQUEST);
}

/// A household whose form is finished (checked and in a parcel) is not moved with its village:
/// its work stays credited to whoever did it, and the ministry's review names that keyer even
/// for a moved household keyed before the move (outside walk-through, session 10).
#[tokio::test(flavor = "multi_thread")]
async fn finished_work_stays_with_its_enumerator_when_a_village_moves() {
    let server = setup().await;
    let mut old = server.enroll("enum-dh-p2").await;
    let in_kp1: Vec<(String, String)> = server
        .households("enum-dh-p2")
        .into_iter()
        .filter(|h| h.0.starts_with("dh-p2-kp1-"))
        .take(2)
        .collect();
    let (parcelled, checked) = (&in_kp1[0], &in_kp1[1]);
    let mut events = Vec::new();
    for h in [parcelled, checked] {
        events.extend(through_verification(
            &old,
            h,
            verified_answers(
                &server,
                &old,
                h,
                forms::sample::complete_answers(&intake::demo::sipas_2024(), 0),
            ),
        ));
    }
    events.push(sync_protocol::Event::parcel(
        "enum-dh-p2",
        support::now(),
        "P-enum-dh-p2-20241128-abcd-01",
        vec![parcelled.1.clone()],
    ));
    let batch = old.next_batch(events);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);

    let done = server
        .intake
        .store
        .reassign(
            &intake::store::ReassignTarget::Village("dh-p2-kp1".into()),
            "enum-dh-p4",
            "gs-dh",
            "ốm",
            None,
            chrono::Utc::now(),
        )
        .unwrap();
    assert_eq!(done.finished, [parcelled.1.clone()]);
    // Asked to move the finished household alone, the supervisor is told it stays, before any
    // confirmation and at it: nothing moves, nothing is audited.
    let gs_dh = server
        .centre
        .accounts()
        .account("gs-dh")
        .unwrap()
        .unwrap()
        .in_campaign("qt-sipas-2024");
    let only_finished = intake::store::ReassignTarget::Households(vec![parcelled.0.clone()]);
    let audited = || server.centre.accounts().audit_log(10_000).unwrap().len();
    let before = audited();
    for refused in [
        server
            .intake
            .check_reassign(&gs_dh, &only_finished, "enum-dh-p4", "ốm")
            .err(),
        server
            .intake
            .reassign(
                &gs_dh,
                &only_finished,
                "enum-dh-p4",
                "ốm",
                None,
                "127.0.0.1",
            )
            .err(),
    ] {
        match refused {
            Some(intake::error::IntakeError::Declined(said)) => assert!(
                said.contains("không có hộ nào để chuyển — 1 hộ đã xong")
                    && said.contains(&parcelled.1),
                "{said}"
            ),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(audited(), before);
    assert_eq!(
        done.moved, 29,
        "the village's other households move, its reserve ones too"
    );
    let holder = |h: &str| {
        server
            .intake
            .store
            .expected_forms()
            .unwrap()
            .into_iter()
            .find(|f| f.household == h)
            .unwrap()
            .enumerator
    };
    assert_eq!(holder(&parcelled.0), "enum-dh-p2");
    assert_eq!(holder(&checked.0), "enum-dh-p4");
    // A back-check visit checks who met the household: the checked household, moved after its
    // collection, is drawn and counted under its collector, not its new holder.
    let draw = server
        .intake
        .draw_backcheck("phuc-tra", 100, 1, "bonv", "127.0.0.1")
        .unwrap();
    let (_, to_visit, _) = server.intake.backcheck_draw(draw).unwrap();
    let visited = to_visit.iter().find(|h| h.id == checked.0).unwrap();
    assert_eq!(visited.enumerator, "enum-dh-p2");
    let visit = intake::service::BackcheckVisit {
        draw: Some(draw),
        outcome: "answers_differ",
        note: "",
        replacing: None,
    };
    server
        .intake
        .record_backcheck_outcome(&checked.0, visit, "bonv", "127.0.0.1")
        .unwrap();
    let results = server.intake.backcheck_results().unwrap();
    assert_eq!(results["enum-dh-p2"]["answers_differ"], 1);
    assert!(!results.contains_key("enum-dh-p4"), "{results:?}");

    // The review names who keyed the checked form, not its new holder.
    let names = server.intake.enumerator_names().unwrap();
    let session = log_in(&server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    let page = get(
        &server,
        &format!("/c/qt-sipas-2024/ministry/review/{}", checked.0),
        &session,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        page.contains(&names["enum-dh-p2"]) && !page.contains(&names["enum-dh-p4"]),
        "{page}"
    );
    let list = get(&server, "/c/qt-sipas-2024/ministry/review", &session)
        .await
        .text()
        .await
        .unwrap();
    let row = list
        .split(&format!("<tr data-household=\"{}\"", checked.0))
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .unwrap();
    assert!(row.contains(&names["enum-dh-p2"]), "{row}");
}
