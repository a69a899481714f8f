//! A tablet carrying two campaigns (the ministry's SIPAS and a province's own survey) against a
//! real centre on 127.0.0.1 holding both: each in a directory of its own, under the tablet's
//! one key; a code of a campaign already carried is refused and spends nothing; a failed
//! enrollment leaves nothing behind; a tablet set up before it carried several keeps its
//! first campaign where it was.

use field_client::{Campaigns, Client, ClientError};

/// A web server on 127.0.0.1 that is not an intake: it forbids whatever it is asked, once.
fn answers_403_forbidden() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        // The whole request is read before answering (closing on unread bytes resets).
        stream
            .set_read_timeout(Some(std::time::Duration::from_millis(300)))
            .unwrap();
        let mut request = [0u8; 4096];
        while matches!(stream.read(&mut request), Ok(n) if n > 0) {}
        let _ = stream.write_all(
            b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nContent-Length: 9\r\nConnection: close\r\n\r\nForbidden",
        );
    });
    url
}

fn slots(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("campaigns"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn a_tablet_carries_two_campaigns_apart_under_one_key() {
    let centre = intake::local::demo_on_loopback();
    let bd = centre.add_binh_duong();
    let dir = tempfile::tempdir().unwrap();
    let mut tablet = Campaigns::open(dir.path()).unwrap();
    assert!(tablet.is_empty());

    let wrong = tablet.enroll(&centre.url, "0000-0000-0000", "tablet");
    assert!(
        matches!(wrong, Err(ClientError::Refused { ref code, .. }) if code == "enrollment_code_invalid"),
        "{wrong:?}"
    );
    assert_eq!(
        slots(dir.path()),
        0,
        "a failed enrollment leaves nothing behind"
    );
    let down = tablet.enroll("http://127.0.0.1:9", "0000-0000-0000", "tablet");
    assert!(matches!(down, Err(ClientError::Network(_))), "{down:?}");
    assert_eq!(slots(dir.path()), 0);
    // A mistyped address that reaches something else (a proxy, a captive portal) is told
    // apart from the intake refusing the code.
    let not_intake = tablet.enroll(&answers_403_forbidden(), "0000-0000-0000", "tablet");
    assert!(
        matches!(not_intake, Err(ClientError::Refused { ref code, ref message }) if code == field_client::NOT_AN_INTAKE && message.contains("403")),
        "{not_intake:?}"
    );
    assert_eq!(slots(dir.path()), 0);

    let qt_code = centre
        .intake
        .issue_enrollment_code("enum-dh-p2", chrono::Duration::hours(1), "t")
        .unwrap();
    let bd_code = bd
        .issue_enrollment_code("enum-bd-dt", chrono::Duration::hours(1), "t")
        .unwrap();
    assert_eq!(
        tablet.enroll(&centre.url, &qt_code, "tablet").unwrap(),
        "qt-sipas-2024"
    );
    assert_eq!(
        tablet.enroll(&centre.url, &bd_code, "tablet").unwrap(),
        "bd-hailong-2024"
    );
    assert_eq!(tablet.ids(), ["qt-sipas-2024", "bd-hailong-2024"]);
    let qt = tablet.get("qt-sipas-2024").unwrap();
    let bdc = tablet.get("bd-hailong-2024").unwrap();
    assert_eq!(qt.public_key(), bdc.public_key(), "one key for the tablet");
    assert!(qt
        .households()
        .unwrap()
        .iter()
        .all(|h| h.id.starts_with("dh-p2")));
    assert!(bdc
        .households()
        .unwrap()
        .iter()
        .all(|h| h.id.starts_with("bd-dt")));
    assert_eq!(
        bdc.form().unwrap().reference(),
        "bd-hailong-2024@1",
        "the province's form, over the air"
    );

    // A second code of a campaign the tablet carries: refused, nothing replaced, code unspent.
    let again = bd
        .issue_enrollment_code("enum-bd-dt", chrono::Duration::hours(1), "t")
        .unwrap();
    let refused = tablet.enroll(&centre.url, &again, "tablet");
    assert!(
        matches!(&refused, Err(ClientError::CampaignOnTablet(names))
            if names.contains("SIPAS 2024 — Quảng Trị (demo)")
                && names.contains("Khảo sát sự hài lòng — tỉnh Bình Dương 2024 (demo)")),
        "named by the campaigns the tablet carries: {refused:?}"
    );
    assert_eq!(slots(dir.path()), 2);
    let device = tablet
        .get("bd-hailong-2024")
        .unwrap()
        .enrollment()
        .unwrap()
        .device;
    assert!(!bd.store.device(device).unwrap().unwrap().revoked);

    // Work in one campaign is that campaign's.
    let h = tablet.get("bd-hailong-2024").unwrap().households().unwrap()[0]
        .id
        .clone();
    tablet
        .get_mut("bd-hailong-2024")
        .unwrap()
        .distribute(&h, sync_protocol::event::Recipient::Representative, None)
        .unwrap();
    assert!(matches!(
        tablet.get_mut("qt-sipas-2024").unwrap().collect(&h),
        Err(ClientError::UnknownHousehold(_))
    ));
    // Keyed once, a form of a campaign without second keying is done: Today no longer counts
    // it as to key (outside pass: it stayed «Cần nhập»).
    let bdc = tablet.get_mut("bd-hailong-2024").unwrap();
    bdc.collect(&h).unwrap();
    let answers = forms::sample::complete_answers(bdc.form().unwrap(), 1);
    for (q, v) in &answers {
        bdc.set_answer(&h, 1, q, Some(v.clone())).unwrap();
    }
    let village = bdc.household(&h).unwrap().village;
    let in_collection = bdc.assignment().unwrap().campaign.timeline.collect.start;
    assert_eq!(
        bdc.today(in_collection).unwrap().villages[&village].to_transcribe,
        1
    );
    bdc.finish_first_keying(&h).unwrap();
    assert_eq!(
        bdc.today(in_collection).unwrap().villages[&village].to_transcribe,
        0
    );
    assert!(matches!(
        tablet.get("nowhere"),
        Err(ClientError::UnknownCampaign(_))
    ));
    drop(tablet);
    let tablet = Campaigns::open(dir.path()).unwrap();
    assert_eq!(
        tablet.ids(),
        ["qt-sipas-2024", "bd-hailong-2024"],
        "kept across a restart"
    );
    assert_eq!(Campaigns::dirs(dir.path()).unwrap().len(), 2);
}

#[test]
fn a_tablet_set_up_before_keeps_its_first_campaign_where_it_was() {
    let centre = intake::local::demo_on_loopback();
    let bd = centre.add_binh_duong();
    let dir = tempfile::tempdir().unwrap();
    // The layout of before: one campaign in the app's data directory itself.
    {
        let mut old = Client::open(dir.path()).unwrap();
        let code = centre
            .intake
            .issue_enrollment_code("enum-gl-tt", chrono::Duration::hours(1), "t")
            .unwrap();
        old.enroll(&centre.url, &code, "tablet").unwrap();
    }
    let mut tablet = Campaigns::open(dir.path()).unwrap();
    assert_eq!(tablet.ids(), ["qt-sipas-2024"]);
    assert_eq!(tablet.get("qt-sipas-2024").unwrap().data_dir(), dir.path());
    let code = bd
        .issue_enrollment_code("enum-bd-tdm", chrono::Duration::hours(1), "t")
        .unwrap();
    tablet.enroll(&centre.url, &code, "tablet").unwrap();
    assert_eq!(tablet.ids(), ["qt-sipas-2024", "bd-hailong-2024"]);
    assert_eq!(
        tablet.get("qt-sipas-2024").unwrap().public_key(),
        tablet.get("bd-hailong-2024").unwrap().public_key()
    );
}
