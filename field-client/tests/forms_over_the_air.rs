//! Forms travel with the work: the device keys only forms the centre sent (checked against the
//! signed assignment's hash), a revision mid-campaign reaches it at its next sync, a form
//! already begun stays on its version, and the centre opens each sheet with its own version.

mod support;

use field_client::{Client, ClientError, RetryPolicy};
use std::collections::BTreeMap;
use sync_protocol::event::Recipient;

const PASSPHRASE: &str = "cụm mật khẩu của Bộ Nội vụ 2024";

fn key_all(
    client: &mut Client,
    household: &str,
    pass: u8,
    answers: &BTreeMap<String, serde_json::Value>,
) {
    for (q, v) in answers {
        client
            .set_answer(household, pass, q, Some(v.clone()))
            .unwrap();
    }
}

/// Keys both passes of a household's sheet with the version its keying started with: a man,
/// "satisfied" (4 of 5) with how the government explains its policies.
fn finish(client: &mut Client, household: &str, variant: i64) {
    let form = client.form_of(household).unwrap().clone();
    let mut answers = support::answers_for(&form, variant);
    answers.insert("a_sex".into(), serde_json::json!(1));
    answers.insert("q9_a1".into(), serde_json::json!(4));
    key_all(client, household, 1, &answers);
    client.finish_first_keying(household).unwrap();
    key_all(client, household, 2, &answers);
    client
        .finish_verification(household, &BTreeMap::new())
        .unwrap();
}

/// The demo's form as a new version: the same questions, the title reworded, a code relabelled
/// ("Nam" → "Nam giới") and only "very satisfied" counting as satisfied in the index.
fn revision() -> intake::form_files::StoredForm {
    let mut definition: serde_json::Value =
        serde_json::from_str(intake::demo::SIPAS_FORM_JSON).unwrap();
    definition["version"] = 2.into();
    let title = definition["title"]["vi"].as_str().unwrap().to_string();
    definition["title"]["vi"] = format!("{title} — bản sửa đổi").into();
    definition["choice_lists"]["sex"][0]["label"]["vi"] = "Nam giới".into();
    definition["index"]["satisfied_codes"] = serde_json::json!([5]);
    intake::form_files::StoredForm::read(definition.to_string().as_bytes()).unwrap()
}

#[test]
fn a_revision_reaches_the_device_mid_campaign_and_every_sheet_keeps_its_version() {
    let centre = support::start_centre();
    centre
        .intake
        .store_ministry_key(&intake::demo::fixed_ministry_key(), PASSPHRASE)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut client = Client::open(dir.path()).unwrap();
    let code = centre
        .intake
        .issue_enrollment_code("enum-dh-p2", chrono::Duration::hours(1), "test")
        .unwrap();
    client.enroll(&centre.url, &code, "tablet").unwrap();
    assert_eq!(
        client.form().unwrap().reference(),
        "sipas-2024@1",
        "the form came with the assignment"
    );

    let households: Vec<String> = client
        .households()
        .unwrap()
        .into_iter()
        .filter(|h| h.reserve_rank.is_none())
        .take(2)
        .map(|h| h.id)
        .collect();
    let (begun, later) = (&households[0], &households[1]);
    for h in &households {
        client
            .distribute(h, Recipient::Representative, None)
            .unwrap();
        client.collect(h).unwrap();
    }
    // The first sheet is begun under version 1 ...
    client
        .set_answer(begun, 1, "a_sex", Some(serde_json::json!(1)))
        .unwrap();

    // ... when the centre revises the form.
    centre
        .intake
        .store
        .add_form(&revision(), true, chrono::Utc::now())
        .unwrap();
    client.sync(RetryPolicy::default(), &mut |_| {}).unwrap();
    assert_eq!(
        client.form().unwrap().reference(),
        "sipas-2024@2",
        "new sheets are keyed with the revision"
    );
    assert_eq!(
        client.form_of(begun).unwrap().reference(),
        "sipas-2024@1",
        "a sheet already begun stays on its version"
    );
    assert_eq!(client.form_of(later).unwrap().reference(), "sipas-2024@2");

    finish(&mut client, begun, 1);
    finish(&mut client, later, 2);
    assert_eq!(
        client
            .sync(RetryPolicy::default(), &mut |_| {})
            .unwrap()
            .events_rejected,
        0,
        "both versions count"
    );

    // The centre opens each sheet with the version it was sealed under.
    let opened = centre.intake.open_answers(PASSPHRASE, "test").unwrap();
    assert!(opened.unopenable.is_empty());
    let version_of = |h: &str| {
        opened
            .sheets
            .iter()
            .find(|(f, _)| f.household == h)
            .map(|(_, s)| s.form.clone())
            .unwrap()
    };
    assert_eq!(
        (version_of(begun), version_of(later)),
        ("sipas-2024@1".to_string(), "sipas-2024@2".to_string())
    );

    // Exported with each version's labels, and a version column.
    let table = centre
        .intake
        .answers_table(PASSPHRASE, "test", "127.0.0.1")
        .unwrap();
    let column = |name: &str| table[0].iter().position(|c| c == name).unwrap();
    let row = |h: &str| table.iter().find(|r| r[0] == h).unwrap();
    let (sex, version) = (column("Câu A1 (nhãn)"), column("phiên bản phiếu"));
    assert_eq!(
        (row(begun)[sex].as_str(), row(begun)[version].as_str()),
        ("Nam", "sipas-2024@1")
    );
    assert_eq!(
        (row(later)[sex].as_str(), row(later)[version].as_str()),
        ("Nam giới", "sipas-2024@2")
    );

    // Indexed with each version's rule: the same answer 4 is satisfied under version 1 only.
    let index = centre
        .intake
        .index(PASSPHRASE, "test", "127.0.0.1")
        .unwrap();
    let item = index.report.national.items["q9_a1"];
    assert_eq!((item.n, item.value), (2, Some(0.5)), "{item:?}");
}

#[test]
fn a_form_that_does_not_match_its_hash_is_refused_and_the_old_assignment_kept() {
    let centre = support::start_centre();
    let dir = tempfile::tempdir().unwrap();
    let mut client = Client::open(dir.path()).unwrap();
    let code = centre
        .intake
        .issue_enrollment_code("enum-dh-p2", chrono::Duration::hours(1), "test")
        .unwrap();
    client.enroll(&centre.url, &code, "tablet").unwrap();

    // The centre's copy of a revision is altered after it was stored: its hash no longer holds.
    let revised = revision();
    centre
        .intake
        .store
        .add_form(&revised, true, chrono::Utc::now())
        .unwrap();
    let db =
        rusqlite::Connection::open(centre.dir.path().join("campaigns/qt-sipas-2024.db")).unwrap();
    let altered = String::from_utf8(revised.definition.clone())
        .unwrap()
        .replace("bản sửa đổi", "bản bị sửa");
    db.execute(
        "UPDATE forms SET definition = ?1 WHERE reference = 'sipas-2024@2'",
        [altered.as_bytes()],
    )
    .unwrap();

    let refused = client.refresh_assignment();
    assert!(
        matches!(&refused, Err(ClientError::BadAnswer(m)) if m.contains("does not match the hash")),
        "{refused:?}"
    );
    assert_eq!(
        client.form().unwrap().reference(),
        "sipas-2024@1",
        "the device keeps keying with what it had"
    );
    assert_eq!(client.assignment().unwrap().campaign.form, "sipas-2024@1");
}
