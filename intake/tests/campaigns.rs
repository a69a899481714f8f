//! Several campaigns on one centre, over real HTTP and real SQLite files: the Quảng Trị SIPAS
//! campaign and Bình Dương's own survey side by side. One tablet (one key) enrolled in both;
//! each campaign's work, key, people and pages kept apart; and two years of one form family
//! compared per area against targets.

mod support;

use chrono::Utc;
use intake::{
    accounts::{hash_password, Account, Role},
    demo,
};
use reqwest::{header, StatusCode};
use support::pages::*;
use support::*;
use sync_protocol::{
    api::EnrollResponse,
    event::{EventBody, Recipient},
    keys::{Base64Bytes, DeviceKey},
    seal::{self, AnswerSheet},
};

const BD: &str = demo::BINH_DUONG_CAMPAIGN_ID;
const OWNER_PASSWORD: &str = "sở nội vụ bình dương mật khẩu";
const OWNER_PASSPHRASE: &str = "cụm mật khẩu của Sở Nội vụ Bình Dương";

fn account(login: &str, role: Role, campaigns: &[(&str, &[&str])], password: &str) -> Account {
    Account {
        login: login.into(),
        name: format!("Tài khoản {login}"),
        role,
        campaigns: campaigns
            .iter()
            .map(|(c, ds)| (c.to_string(), ds.iter().map(|d| d.to_string()).collect()))
            .collect(),
        districts: vec![],
        password_hash: Some(hash_password(password).unwrap()),
        disabled: false,
    }
}

/// A Bình Dương sheet keyed once (the campaign does not verify), sealed to the province's key.
fn bd_transcribed(device: &TestDevice, h: &(String, String), variant: i64) -> sync_protocol::Event {
    let form = demo::binh_duong_form().compile().unwrap();
    let sheet = AnswerSheet {
        form: form.reference(),
        household: h.0.clone(),
        serial: h.1.clone(),
        answers: forms::sample::complete_answers(&form, variant),
        keyings_apart: vec![],
    };
    let sealed = seal::seal(
        &demo::fixed_owner_key().public(),
        &sheet,
        &form.question_order(),
        &mut rand::rngs::OsRng,
    )
    .unwrap();
    device.event(
        h,
        EventBody::FormTranscribed {
            form: form.reference(),
            sealed_answers: Some(Base64Bytes(sealed)),
            keying_seconds: 120,
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn two_campaigns_share_a_centre_and_never_meet() {
    let server = setup().await;
    let bd_campaign = demo::binh_duong_2024(&demo::fixed_owner_key().public());
    server
        .centre
        .import(&bd_campaign, "{}", &[demo::binh_duong_form()], Utc::now())
        .unwrap();
    let bd = server.centre.campaign(BD).unwrap().unwrap();
    // A store of its own: a file beside the first, or a schema of the same database.
    assert!(!server.place.stored_bytes(Some(BD)).is_empty());
    if !server.place.is_postgres() {
        assert!(server
            .place
            .dir
            .path()
            .join("campaigns/bd-hailong-2024.db")
            .exists());
    }

    // One tablet, one key, a code from each campaign: enrolled in both.
    let key = DeviceKey::generate(&mut rand::rngs::OsRng);
    let qt_enrolled: EnrollResponse = {
        let r = server.enroll_raw(&server.code("enum-dh-p2"), &key).await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    };
    let bd_code = bd
        .issue_enrollment_code("enum-bd-tdm", chrono::Duration::hours(1), "test")
        .unwrap();
    let bd_enrolled: EnrollResponse = {
        let r = server.enroll_raw(&bd_code, &key).await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    };
    assert_eq!(qt_enrolled.campaign, demo::DEMO_CAMPAIGN_ID);
    assert_eq!(
        (
            bd_enrolled.campaign.as_str(),
            bd_enrolled.enumerator.as_str()
        ),
        (BD, "enum-bd-tdm")
    );
    // Issue 20 item 11: a request signed with protocol version 2 binds the device id and its
    // campaign: replayed as the tablet's other enrollment (same key), it is refused. Version 1
    // (old tablets) still works, with its documented limit.
    let assignment = |headers: Vec<(&'static str, String)>| {
        let url = format!("{}{}", server.base, sync_protocol::api::PATH_ASSIGNMENT);
        async move {
            let mut request = reqwest::Client::new().get(url);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let code = response
                .json::<serde_json::Value>()
                .await
                .ok()
                .map(|b| b["code"].clone());
            (status, code)
        }
    };
    let now = Utc::now().timestamp();
    let path = sync_protocol::api::PATH_ASSIGNMENT;
    let v2_for_qt = sync_protocol::api::sign_request_v2(
        &key,
        qt_enrolled.device,
        demo::DEMO_CAMPAIGN_ID,
        "GET",
        path,
        now,
    );
    assert_eq!(assignment(v2_for_qt.to_vec()).await.0, 200);
    let mut replayed = v2_for_qt.to_vec();
    replayed[0].1 = bd_enrolled.device.to_string();
    assert_eq!(
        assignment(replayed).await.0,
        401,
        "a version-2 signature replayed as the other enrollment"
    );
    let v2_for_bd =
        sync_protocol::api::sign_request_v2(&key, bd_enrolled.device, BD, "GET", path, now);
    assert_eq!(assignment(v2_for_bd.to_vec()).await.0, 200);
    let mut unversioned = v2_for_bd.to_vec();
    unversioned.pop();
    assert_eq!(
        assignment(unversioned).await.0,
        401,
        "a version-2 signature read as version 1"
    );
    let mut unknown_version = v2_for_bd.to_vec();
    unknown_version[3].1 = "3".into();
    let unauthenticated = (401, Some(serde_json::json!("unauthenticated")));
    assert_eq!(assignment(unknown_version.clone()).await, unauthenticated);
    // Another version is refused as that whether or not the device is known here (the spec's
    // word), not as an unknown device.
    let mut stranger = unknown_version;
    stranger[0].1 = uuid::Uuid::now_v7().to_string();
    assert_eq!(assignment(stranger).await, unauthenticated);
    let v1 = sync_protocol::api::sign_request(&key, bd_enrolled.device, "GET", path, now);
    assert_eq!(
        assignment(v1.to_vec()).await.0,
        200,
        "a version-1 tablet keeps working"
    );
    // A second code of a campaign the tablet already holds is refused, and spends nothing: the
    // tablet's enrollment there stands, the code still works for another tablet.
    let second = bd
        .issue_enrollment_code("enum-bd-tdm", chrono::Duration::hours(1), "test")
        .unwrap();
    assert_eq!(server.enroll_raw(&second, &key).await.status(), 400);
    assert!(
        !bd.store
            .device(bd_enrolled.device)
            .unwrap()
            .unwrap()
            .revoked
    );
    let other_tablet = DeviceKey::generate(&mut rand::rngs::OsRng);
    assert_eq!(
        server.enroll_raw(&second, &other_tablet).await.status(),
        201
    );
    // …which revoked the first tablet's Bình Dương enrollment (one tablet per enumerator),
    // and nothing of its Quảng Trị one.
    assert!(
        bd.store
            .device(bd_enrolled.device)
            .unwrap()
            .unwrap()
            .revoked
    );
    assert!(
        !server
            .intake
            .store
            .device(qt_enrolled.device)
            .unwrap()
            .unwrap()
            .revoked
    );
    let bd_code = bd
        .issue_enrollment_code("enum-bd-tdm", chrono::Duration::hours(1), "test")
        .unwrap();
    let third = DeviceKey::generate(&mut rand::rngs::OsRng);
    let bd_enrolled: EnrollResponse = {
        let r = server.enroll_raw(&bd_code, &third).await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    };

    let mut qt_device = TestDevice::new(key, qt_enrolled, &server);
    let mut bd_device = TestDevice::new(third, bd_enrolled, &server);
    bd_device.ministry = demo::fixed_owner_key().public();

    // Work in each campaign reaches that campaign's store only.
    let qt_h = server.households("enum-dh-p2")[0].clone();
    let qt_events = vec![
        qt_device.distributed(&qt_h),
        qt_device.collected(&qt_h),
        qt_device.transcribed(&qt_h),
        verified_form(&server, &qt_device, &qt_h, 1),
    ];
    let batch = qt_device.next_batch(qt_events);
    assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);
    let bd_households: Vec<(String, String)> = bd_campaign
        .villages()
        .find(|(.., v)| v.id == "bd-tdm-pc-kp1")
        .unwrap()
        .3
        .households
        .iter()
        .map(|h| (h.id.clone(), h.serial.clone()))
        .collect();
    let mut bd_events = Vec::new();
    for (i, h) in bd_households.iter().take(5).enumerate() {
        bd_events.push(bd_device.event(
            h,
            EventBody::FormDistributed {
                recipient: Recipient::Representative,
                note: None,
            },
        ));
        bd_events.push(bd_device.collected(h));
        bd_events.push(bd_transcribed(&bd_device, h, i as i64));
    }
    let batch = bd_device.next_batch(bd_events);
    let (status, receipt) = server.post_frame(batch.to_frame()).await;
    assert_eq!(status, 201, "{receipt}");
    assert_eq!(
        bd.store.household_statuses().unwrap()[&bd_households[0].0].to_string(),
        "transcribed"
    );
    assert_eq!(server.status(&qt_h.0), "verified");
    assert!(!server
        .intake
        .store
        .household_statuses()
        .unwrap()
        .contains_key(&bd_households[0].0));
    assert!(!bd.store.household_statuses().unwrap().contains_key(&qt_h.0));
    // Each device's assignment is its own campaign's.
    let r = bd_device
        .get(&server.http, sync_protocol::api::PATH_ASSIGNMENT, 0)
        .await;
    assert_eq!(r.status(), 200);
    let assignment = sync_protocol::assignment::Assignment::verify(
        &r.json().await.unwrap(),
        &bd_device.intake_key,
    )
    .unwrap();
    assert_eq!(assignment.campaign.id, BD);
    assert!(assignment
        .households
        .iter()
        .all(|h| h.id.starts_with("bd-tdm")));
    assert_eq!(assignment.forms[0].reference, "bd-hailong-2024@1");

    // A device of one campaign cannot write into another: a batch that names Quảng Trị from
    // the Bình Dương device is refused whole.
    let mut batch = bd_device
        .batch_at(2, bd_device.prev, vec![bd_device.collected(&qt_h)])
        .decode()
        .unwrap();
    batch.campaign = demo::DEMO_CAMPAIGN_ID.into();
    let forged = sync_protocol::batch::SignedBatch::sign(&batch, &bd_device.key).unwrap();
    let (status, body) = server.post_frame(forged.to_frame()).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (401, "unknown_device"),
        "{body}"
    );

    // Each campaign's key opens its own sheets only.
    bd.store_ministry_key(&demo::fixed_owner_key(), OWNER_PASSPHRASE)
        .unwrap();
    server
        .intake
        .store_ministry_key(&demo::fixed_ministry_key(), PASSPHRASE)
        .unwrap();
    assert_eq!(
        bd.open_answers(OWNER_PASSPHRASE, "snv-bd")
            .unwrap()
            .sheets
            .len(),
        5
    );
    assert!(server
        .intake
        .open_answers(OWNER_PASSPHRASE, "bonv")
        .is_err());
    let index = bd.index(OWNER_PASSPHRASE, "snv-bd", "127.0.0.1").unwrap();
    assert_eq!(index.report.national.forms, 5);
    assert!(
        index.report.national.parts["nhu_cau"].value.is_some(),
        "the three groups of the province's form"
    );
    assert_eq!(
        index.labels["nhu_cau"], "Nhóm chỉ số nhu cầu, mong đợi",
        "parts are named by the workbook's labels, not their ids"
    );
    // The province's questions have no printed numbers: their labels head the columns, as
    // people read them (never a variable name such as `a_gioi_tinh`).
    let table = bd
        .answers_table(OWNER_PASSPHRASE, "snv-bd", "127.0.0.1")
        .unwrap();
    assert!(
        table[0]
            .iter()
            .all(|h| !h.trim().is_empty() && !h.starts_with(' ') && !h.contains('_')),
        "{:?}",
        table[0]
    );
    assert!(
        table[0].iter().any(|h| h == "A1. Giới tính"),
        "{:?}",
        table[0]
    );

    // People: a campaign's supervisor and owner see that campaign only; admins see both.
    let accounts = server.centre.accounts();
    accounts
        .upsert_account(
            &account("snv-bd", Role::Ministry, &[(BD, &[])], OWNER_PASSWORD),
            Utc::now(),
        )
        .unwrap();
    accounts
        .upsert_account(
            &account("quantri", Role::Admin, &[], OWNER_PASSWORD),
            Utc::now(),
        )
        .unwrap();
    accounts
        .set_password("gs-bd-tdm", &hash_password(OWNER_PASSWORD).unwrap())
        .unwrap();
    let supervisor = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    let owner = log_in(&server, "snv-bd", OWNER_PASSWORD).await.unwrap();
    let bd_supervisor = log_in(&server, "gs-bd-tdm", OWNER_PASSWORD).await.unwrap();
    let admin = log_in(&server, "quantri", OWNER_PASSWORD).await.unwrap();
    for (who, session, path, want) in [
        (
            "gs-dh",
            &supervisor,
            "/c/bd-hailong-2024/progress",
            StatusCode::NOT_FOUND,
        ),
        (
            "gs-dh",
            &supervisor,
            "/c/bd-hailong-2024/api/progress",
            StatusCode::NOT_FOUND,
        ),
        (
            "gs-dh",
            &supervisor,
            "/c/qt-sipas-2024/progress",
            StatusCode::OK,
        ),
        (
            "snv-bd",
            &owner,
            "/c/bd-hailong-2024/ministry/reconciliation",
            StatusCode::OK,
        ),
        (
            "snv-bd",
            &owner,
            "/c/qt-sipas-2024/progress",
            StatusCode::NOT_FOUND,
        ),
        (
            "snv-bd",
            &owner,
            "/c/qt-sipas-2024/api/ministry/reconciliation",
            StatusCode::NOT_FOUND,
        ),
        ("snv-bd", &owner, "/compare/sipas", StatusCode::NOT_FOUND),
        (
            "gs-bd-tdm",
            &bd_supervisor,
            "/c/bd-hailong-2024/progress/district/bd-dt",
            StatusCode::NOT_FOUND,
        ),
        (
            "gs-bd-tdm",
            &bd_supervisor,
            "/c/no-such-campaign/progress",
            StatusCode::NOT_FOUND,
        ),
        (
            "quantri",
            &admin,
            "/c/bd-hailong-2024/devices",
            StatusCode::OK,
        ),
        (
            "quantri",
            &admin,
            "/c/qt-sipas-2024/devices",
            StatusCode::OK,
        ),
    ] {
        assert_eq!(
            get(&server, path, session).await.status(),
            want,
            "{who} {path}"
        );
    }
    // A supervisor with one campaign goes straight to it; an admin chooses.
    let home = get(&server, "/", &supervisor).await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        home.headers()[header::LOCATION],
        "/c/qt-sipas-2024/progress"
    );
    let home = get(&server, "/", &admin).await.text().await.unwrap();
    assert!(
        home.contains("SIPAS 2024 — Quảng Trị (demo)")
            && home.contains("Khảo sát sự hài lòng — tỉnh Bình Dương 2024 (demo)"),
        "{home}"
    );
    // The Bình Dương supervisor's page: names of its own places, nothing of Quảng Trị.
    let page = get(&server, "/c/bd-hailong-2024/progress", &bd_supervisor)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Phường Phú Cường")
            && !page.contains("Huyện Dầu Tiếng")
            && !page.contains("Đông Hà")
    );
    assert!(page.contains("<base href=\"/c/bd-hailong-2024/\">"));
    // The audit log says which campaign each page read was in.
    let log = accounts.audit_log(100).unwrap();
    assert!(log.iter().any(|e| e.login == "gs-bd-tdm"
        && e.action == "page_read"
        && e.campaign.as_deref() == Some(BD)));
    // A refused entry is filed under the campaign it tried (its owner's filter shows it); an
    // id no campaign has stays under the centre.
    assert!(log.iter().any(|e| e.login == "snv-bd"
        && e.action == "refused_campaign"
        && e.campaign.as_deref() == Some(demo::DEMO_CAMPAIGN_ID)));
    assert!(log
        .iter()
        .any(|e| e.login == "gs-bd-tdm" && e.action == "refused_campaign" && e.campaign.is_none()));
}

/// SIPAS 2024 and 2025 in Quảng Trị, one form family: targets per area and year, the index
/// each year's owner computed, compared per area — met and missed — as a page and a file.
#[tokio::test(flavor = "multi_thread")]
async fn years_side_by_side_say_which_areas_met_their_targets() {
    let server = setup().await;
    let mut next_year = demo::quang_tri_2024(&demo::fixed_ministry_key().public());
    next_year.id = "qt-sipas-2025".into();
    next_year.name = "SIPAS 2025 — Quảng Trị (demo)".into();
    next_year.year = Some(2025);
    // Its supervisors are the same people: their accounts are granted the new year too.
    server
        .centre
        .import(&next_year, "{}", &[demo::sipas_form()], Utc::now())
        .unwrap();
    let y2025 = server.centre.campaign("qt-sipas-2025").unwrap().unwrap();
    assert_eq!(
        server
            .centre
            .accounts()
            .account("gs-dh")
            .unwrap()
            .unwrap()
            .campaigns
            .len(),
        2
    );
    let mut ministry = server.centre.accounts().account("bonv").unwrap().unwrap();
    ministry.campaigns.insert("qt-sipas-2025".into(), vec![]);
    ministry.password_hash = None;
    server
        .centre
        .accounts()
        .upsert_account(&ministry, Utc::now())
        .unwrap();

    // Six verified forms a year in one village; different answers each year.
    let households = server.households("enum-dh-p2");
    for (intake, variant) in [(server.intake.clone(), 1), (y2025.clone(), 4)] {
        let key = DeviceKey::generate(&mut rand::rngs::OsRng);
        let code = intake
            .issue_enrollment_code("enum-dh-p2", chrono::Duration::hours(1), "test")
            .unwrap();
        let enrolled: EnrollResponse = server.enroll_raw(&code, &key).await.json().await.unwrap();
        let mut device = TestDevice::new(key, enrolled, &server);
        let mut events = Vec::new();
        for (i, h) in households.iter().take(6).enumerate() {
            events.extend([
                device.distributed(h),
                device.collected(h),
                device.transcribed(h),
            ]);
            events.push(verified_form(&server, &device, h, variant + i as i64));
        }
        let batch = device.next_batch(events);
        assert_eq!(server.post_frame(batch.to_frame()).await.0, 201);
        intake
            .store_ministry_key(&demo::fixed_ministry_key(), PASSPHRASE)
            .unwrap();
    }

    let session = log_in(&server, "bonv", MINISTRY_PASSWORD).await.unwrap();
    // Before either index is computed the comparison says so.
    let page = get(&server, "/compare/sipas", &session)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(page.matches("chưa tính chỉ số").count(), 2, "{page}");
    // Targets: the province must reach 1 % in 2024 (it will) and 99.9 % in 2025 (it won't).
    for (campaign, target) in [("qt-sipas-2024", "1"), ("qt-sipas-2025", "99.9")] {
        let page = get(
            &server,
            &format!("/c/{campaign}/ministry/targets"),
            &session,
        )
        .await
        .text()
        .await
        .unwrap();
        assert!(
            page.contains("Tỉnh Quảng Trị") && page.contains("Thành phố Đông Hà"),
            "{page}"
        );
        let saved = browser()
            .post(format!("{}/c/{campaign}/ministry/targets", server.base))
            .header(header::COOKIE, format!("fp_session={session}"))
            .form(&[
                ("csrf", hidden_csrf(&page).as_str()),
                ("t:province:qtri", target),
                ("t:district:dh", ""),
            ])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(saved.contains("Đã lưu 1 chỉ tiêu"), "{saved}");
        // Nonsense is refused and changes nothing.
        let refused = client()
            .post(format!("{}/c/{campaign}/ministry/targets", server.base))
            .header(header::COOKIE, format!("fp_session={session}"))
            .form(&[
                ("csrf", hidden_csrf(&page).as_str()),
                ("t:province:qtri", "150"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        // The owner computes the year's index with the passphrase: it is kept for comparison.
        let r = client()
            .post(format!("{}/c/{campaign}/ministry/index", server.base))
            .header(header::COOKIE, format!("fp_session={session}"))
            .form(&[
                ("csrf", hidden_csrf(&page).as_str()),
                ("passphrase", PASSPHRASE),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let compared = server.centre.compare_years("sipas", |_| true).unwrap();
    assert_eq!(
        compared.years.iter().map(|y| y.0).collect::<Vec<_>>(),
        [2024, 2025]
    );
    let province = compared.rows.iter().find(|r| r.area == "qtri").unwrap();
    let verdicts: Vec<Option<bool>> = province
        .cells
        .iter()
        .map(|c| c.as_ref().unwrap().met)
        .collect();
    assert_eq!(verdicts, [Some(true), Some(false)]);
    let a = province.cells[0].as_ref().unwrap().percent.unwrap();
    let b = province.cells[1].as_ref().unwrap().percent.unwrap();
    assert!(
        a > 1.0 && b < 99.9 && (a - b).abs() > 1e-9,
        "two years, two figures: {a} {b}"
    );

    let page = get(&server, "/compare/sipas", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"comparison-chart\"")
            && page.contains("Đạt")
            && page.contains("Chưa đạt"),
        "{page}"
    );
    assert!(page.contains("Tỉnh Quảng Trị") && page.contains("2024") && page.contains("2025"));
    let csv = get(&server, "/compare/sipas/table.csv", &session)
        .await
        .text()
        .await
        .unwrap();
    let province_rows: Vec<&str> = csv
        .lines()
        .filter(|l| l.starts_with("Tỉnh,qtri,Tỉnh Quảng Trị"))
        .collect();
    assert_eq!(province_rows.len(), 2, "{csv}");
    assert!(province_rows[0].contains(",2024,") && province_rows[0].ends_with(",Đạt"));
    assert!(province_rows[1].contains(",2025,") && province_rows[1].ends_with(",Chưa đạt"));
    let xlsx = get(&server, "/compare/sipas/table.xlsx", &session).await;
    assert_eq!(xlsx.status(), StatusCode::OK);
    // A supervisor sees no figure of either year; nor does an admin, whose work is accounts
    // and devices (the comparison shows the kept figures of villages, without the passphrase),
    // and no link leads an admin there.
    let supervisor = log_in(&server, "gs-dh", PASSWORD).await.unwrap();
    server
        .centre
        .accounts()
        .upsert_account(
            &account("quantri", Role::Admin, &[], OWNER_PASSWORD),
            Utc::now(),
        )
        .unwrap();
    let admin = log_in(&server, "quantri", OWNER_PASSWORD).await.unwrap();
    for (who, path) in [
        (&supervisor, "/compare/sipas"),
        (&admin, "/compare/sipas"),
        (&admin, "/compare/sipas/table.csv"),
        (&admin, "/compare/sipas/table.xlsx"),
    ] {
        assert_eq!(
            get(&server, path, who).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    for path in ["/", "/c/qt-sipas-2025/ministry/targets"] {
        let page = get(&server, path, &admin).await.text().await.unwrap();
        assert!(!page.contains("/compare/"), "{path}: {page}");
    }
    assert_eq!(
        get(&server, "/c/qt-sipas-2025/ministry/targets", &supervisor)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}
