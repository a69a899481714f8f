//! The centre's pages in a real browser: a real intake with the demo campaign, real work synced
//! from a real device core (four households handed out, collected, keyed twice, in a parcel),
//! accounts and the ministry key as an operator sets them up; then Playwright drives Debian's
//! Chromium through `tests/web/centre.test.mjs`.

use field_client::{Client, RetryPolicy};
use fieldpost_e2e::{start_centre, workspace};
use intake::accounts::{hash_password, Account, Role};
use std::{collections::BTreeMap, process::Command};
use sync_protocol::event::Recipient;

#[test]
fn supervisors_and_the_ministry_use_the_pages_in_chromium() {
    let web = workspace().join("tests/web");
    assert!(web.join("node_modules/playwright-core").exists(), "install the browser test's packages first: (cd tests/web && npm install) — scripts/test does");
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is needed (apt package chromium) — scripts/test installs it"
    );

    let centre = start_centre();
    let device_dir = tempfile::tempdir().unwrap();
    let mut device = Client::open(device_dir.path()).unwrap();
    let code = centre
        .intake
        .issue_enrollment_code("enum-dh-p2", chrono::Duration::hours(1), "test")
        .unwrap();
    device.enroll(&centre.url, &code, "tablet").unwrap();
    let form = device.form().unwrap().clone();
    let households: Vec<_> = device
        .households()
        .unwrap()
        .into_iter()
        .filter(|h| h.reserve_rank.is_none())
        .take(4)
        .collect();
    for (i, h) in households.iter().enumerate() {
        device
            .distribute(&h.id, Recipient::Representative, None)
            .unwrap();
        device.collect(&h.id).unwrap();
        let answers = forms::sample::complete_answers(&form, i as i64);
        for pass in [1, 2] {
            for (q, v) in &answers {
                device.set_answer(&h.id, pass, q, Some(v.clone())).unwrap();
            }
            if pass == 1 {
                device.finish_first_keying(&h.id).unwrap();
            }
        }
        device.finish_verification(&h.id, &BTreeMap::new()).unwrap();
    }
    device
        .hand_over_parcel(&households.iter().map(|h| h.id.clone()).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(
        device
            .sync(RetryPolicy::default(), &mut |_| {})
            .unwrap()
            .events_rejected,
        0
    );

    // Work refused after a reassignment, for the supervisor to decide on the page.
    centre
        .intake
        .store
        .reassign(
            &intake::store::ReassignTarget::Village("dh-p2-kp2".into()),
            "enum-dh-p4",
            "gs-dh",
            "Điều tra viên ốm",
            None,
            chrono::Utc::now(),
        )
        .unwrap();
    let moved: Vec<String> = device
        .households()
        .unwrap()
        .into_iter()
        .filter(|h| h.village == "dh-p2-kp2" && h.reserve_rank.is_none())
        .take(2)
        .map(|h| h.id)
        .collect();
    for h in &moved {
        device
            .distribute(h, Recipient::Representative, None)
            .unwrap();
    }
    assert_eq!(
        device
            .sync(RetryPolicy::default(), &mut |_| {})
            .unwrap()
            .events_rejected,
        2
    );

    let store = centre.centre.accounts();
    store
        .set_password("gs-dh", &hash_password("giám sát Đông Hà 2024").unwrap())
        .unwrap();
    let ministry = Account {
        login: "bonv".into(),
        name: "Vụ Cải cách hành chính".into(),
        role: Role::Ministry,
        campaigns: [(intake::demo::DEMO_CAMPAIGN_ID.to_string(), vec![])].into(),
        districts: vec![],
        password_hash: Some(hash_password("bộ nội vụ mật khẩu").unwrap()),
        disabled: false,
    };
    store.upsert_account(&ministry, chrono::Utc::now()).unwrap();
    let admin = Account {
        login: "quantri".into(),
        name: "Quản trị hệ thống".into(),
        role: Role::Admin,
        campaigns: Default::default(),
        districts: vec![],
        password_hash: Some(hash_password("quản trị viên mật khẩu").unwrap()),
        disabled: false,
    };
    store.upsert_account(&admin, chrono::Utc::now()).unwrap();
    let passphrase = "cụm mật khẩu của Bộ Nội vụ 2024";
    centre
        .intake
        .store_ministry_key(&intake::demo::fixed_ministry_key(), passphrase)
        .unwrap();

    // Another year of the same survey, and the province's own: the ministry compares the years
    // (a target met in 2024, missed in 2025); Sở Nội vụ Bình Dương sees its campaign only.
    let mut next_year = intake::demo::quang_tri_2024(&intake::demo::fixed_ministry_key().public());
    next_year.id = "qt-sipas-2025".into();
    next_year.name = "SIPAS 2025 — Quảng Trị (demo)".into();
    next_year.year = Some(2025);
    centre
        .centre
        .import(
            &next_year,
            "{}",
            &[intake::demo::sipas_form()],
            chrono::Utc::now(),
        )
        .unwrap();
    let y2025 = centre.centre.campaign("qt-sipas-2025").unwrap().unwrap();
    let later = tempfile::tempdir().unwrap();
    let mut device_2025 = Client::open(later.path()).unwrap();
    let code = y2025
        .issue_enrollment_code("enum-dh-p2", chrono::Duration::hours(1), "test")
        .unwrap();
    device_2025.enroll(&centre.url, &code, "tablet").unwrap();
    let next: Vec<_> = device_2025
        .households()
        .unwrap()
        .into_iter()
        .filter(|h| h.reserve_rank.is_none())
        .take(6)
        .collect();
    for (i, h) in next.iter().enumerate() {
        device_2025
            .distribute(&h.id, Recipient::Representative, None)
            .unwrap();
        device_2025.collect(&h.id).unwrap();
        let answers = forms::sample::complete_answers(&form, 10 + i as i64);
        for pass in [1, 2] {
            for (q, v) in &answers {
                device_2025
                    .set_answer(&h.id, pass, q, Some(v.clone()))
                    .unwrap();
            }
            if pass == 1 {
                device_2025.finish_first_keying(&h.id).unwrap();
            }
        }
        device_2025
            .finish_verification(&h.id, &BTreeMap::new())
            .unwrap();
    }
    assert_eq!(
        device_2025
            .sync(RetryPolicy::default(), &mut |_| {})
            .unwrap()
            .events_rejected,
        0
    );
    y2025
        .store_ministry_key(&intake::demo::fixed_ministry_key(), passphrase)
        .unwrap();
    let mut bonv = store.account("bonv").unwrap().unwrap();
    bonv.campaigns.insert("qt-sipas-2025".into(), vec![]);
    bonv.password_hash = None;
    store.upsert_account(&bonv, chrono::Utc::now()).unwrap();
    for (intake, target) in [(&centre.intake, 1.0), (&y2025, 99.9)] {
        intake
            .set_target(
                forms::index::Level::Province,
                "qtri",
                Some(target),
                "bonv",
                "127.0.0.1",
            )
            .unwrap();
        intake.index(passphrase, "bonv", "127.0.0.1").unwrap();
    }
    let bd = centre.add_binh_duong();
    store
        .upsert_account(
            &Account {
                login: "snv-bd".into(),
                name: "Sở Nội vụ Bình Dương".into(),
                role: Role::Ministry,
                campaigns: [(bd.id.clone(), vec![])].into(),
                districts: vec![],
                password_hash: Some(hash_password("sở nội vụ bình dương mật khẩu").unwrap()),
                disabled: false,
            },
            chrono::Utc::now(),
        )
        .unwrap();

    let serials: Vec<String> = households.iter().map(|h| h.serial.clone()).collect();
    let shots = workspace().join("docs/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let status = Command::new("node")
        .args(["--test", "--test-reporter=spec", "centre.test.mjs"])
        .current_dir(&web)
        .env("BASE_URL", &centre.url)
        .env("SUPERVISOR", "gs-dh:giám sát Đông Hà 2024")
        .env("MINISTRY", "bonv:bộ nội vụ mật khẩu")
        .env("ADMIN", "quantri:quản trị viên mật khẩu")
        .env("PROVINCE", "snv-bd:sở nội vụ bình dương mật khẩu")
        .env("PASSPHRASE", passphrase)
        .env("SERIALS", serials.join(","))
        .env("SCREENSHOTS", &shots)
        .env("UI_DIST", workspace().join("ui/dist"))
        .status()
        .expect("node is installed");
    assert!(
        status.success(),
        "the browser test failed (its output is above)"
    );
    // What the browser did is on the intake: the paper, the draws, the index, the logins.
    let log = store.audit_log(200).unwrap();
    for action in [
        "login",
        "paper_recorded",
        "backcheck_drawn",
        "index_refused",
        "index_computed",
    ] {
        assert!(
            log.iter().any(|e| e.action == action),
            "{action} missing from the audit log"
        );
    }
}
