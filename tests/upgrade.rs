//! An upgrade: the centre and a tablet the previous release left behind
//! (`intake/tests/fixtures/previous-release/`, one campaign with its accounts in one file) are
//! opened by this release and served. The campaign is taken over where it lies, the accounts,
//! sessions and audit log move into the centre's store, the old passwords and passphrase still
//! work, and the old tablet goes on syncing its chain into the upgraded centre.

use field_client::{Client, RetryPolicy};
use fieldpost_e2e::workspace;
use std::{collections::BTreeMap, path::Path, sync::Arc};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Serves the centre in `data` on a loopback port; returns its address and the runtime.
fn serve(
    data: &Path,
) -> (
    Arc<intake::service::Centre>,
    String,
    tokio::runtime::Runtime,
) {
    let centre = Arc::new(intake::open(data).expect("the upgraded centre opens"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(intake::serve::serve(
        listener,
        intake::http::router(centre.clone()),
        intake::serve::Limits::default(),
        None,
        std::future::pending(),
    ));
    (centre, url, runtime)
}

#[test]
fn a_centre_and_a_tablet_of_the_previous_release_carry_on() {
    let fixture = workspace().join("intake/tests/fixtures/previous-release");
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture, dir.path());
    let data = dir.path().join("data");

    let (centre, url, runtime) = serve(&data);
    let entries = centre.entries().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (
            entries[0].id.as_str(),
            entries[0].storage.as_str(),
            entries[0].year
        ),
        ("qt-sipas-2024", "intake.db", 2024),
        "the campaign is taken over where it lies"
    );
    let accounts = centre.accounts();
    let gs = accounts.account("gs-dh").unwrap().unwrap();
    assert_eq!(
        gs.campaigns,
        [("qt-sipas-2024".to_string(), vec!["dh".to_string()])].into()
    );
    assert!(intake::accounts::verify_password(
        gs.password_hash.as_deref(),
        "giám sát Đông Hà 2024"
    ));
    assert!(
        accounts
            .account("quantri")
            .unwrap()
            .unwrap()
            .campaigns
            .is_empty(),
        "an admin sees every campaign"
    );
    let log = accounts.audit_log(100).unwrap();
    assert!(log.iter().any(
        |e| e.action == "ministry_key_stored" && e.campaign.as_deref() == Some("qt-sipas-2024")
    ));
    // The old tables are gone from the campaign's file once their rows moved.
    let old = rusqlite::Connection::open(data.join("intake.db")).unwrap();
    let left: i64 = old
        .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('accounts', 'sessions', 'audit_log')", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);

    // The old passwords log in; the pages are the campaign's.
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(format!("{url}/login")).send().unwrap();
    let pre = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| {
            v.to_str()
                .ok()?
                .strip_prefix("fp_login_csrf=")
                .map(|v| v.split(';').next().unwrap().to_string())
        })
        .unwrap();
    let body = page.text().unwrap();
    let csrf = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let login = http
        .post(format!("{url}/login"))
        .header("cookie", format!("fp_login_csrf={pre}"))
        .form(&[
            ("login", "bonv"),
            ("password", "bộ nội vụ mật khẩu"),
            ("csrf", csrf),
        ])
        .send()
        .unwrap();
    assert_eq!(login.status(), 303);
    let session = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| {
            v.to_str()
                .ok()?
                .strip_prefix("fp_session=")
                .map(|v| v.split(';').next().unwrap().to_string())
        })
        .unwrap();
    let reconciliation = http
        .get(format!("{url}/c/qt-sipas-2024/ministry/reconciliation"))
        .header("cookie", format!("fp_session={session}"))
        .send()
        .unwrap();
    assert_eq!(reconciliation.status(), 200);

    // The old tablet syncs more work into the upgraded centre, continuing its chain.
    let device_dir = dir.path().join("device");
    rusqlite::Connection::open(device_dir.join("device.db"))
        .unwrap()
        .execute("UPDATE device SET intake_url = ?1", [&url])
        .unwrap();
    let mut tablet = Client::open(&device_dir).expect("the old tablet's database opens");
    let form = tablet.form().unwrap().clone();
    let third = tablet
        .households()
        .unwrap()
        .into_iter()
        .find(|h| h.status == sync_protocol::lifecycle::HouseholdStatus::Collected)
        .expect("the household collected but not keyed");
    let answers = forms::sample::complete_answers(&form, 2);
    for pass in [1, 2] {
        for (q, v) in &answers {
            tablet
                .set_answer(&third.id, pass, q, Some(v.clone()))
                .unwrap();
        }
        if pass == 1 {
            tablet.finish_first_keying(&third.id).unwrap();
        }
    }
    tablet
        .finish_verification(&third.id, &BTreeMap::new())
        .unwrap();
    let report = tablet.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    assert_eq!(
        (report.batches_acknowledged, report.events_rejected),
        (1, 0)
    );
    let campaign = centre.campaign("qt-sipas-2024").unwrap().unwrap();
    assert_eq!(campaign.store.chain_head("enum-dh-p2").unwrap().seq, 2);
    // The ministry key of the old release opens every sheet, old and new.
    let opened = campaign
        .open_answers("cụm mật khẩu của bản phát hành trước", "bonv")
        .unwrap();
    assert_eq!(opened.sheets.len(), 3);
    drop(runtime);
    drop(centre);

    // Opened again (a restart), nothing is taken over twice.
    let centre = intake::open(&data).unwrap();
    assert_eq!(centre.entries().unwrap().len(), 1);
    assert_eq!(
        centre.accounts().accounts().unwrap().len(),
        3,
        "gs-dh, bonv and quantri, once each"
    );
}
