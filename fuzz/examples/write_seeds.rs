//! Writes the checked-in seed corpora, `fuzz/seeds/<target>/`, from the repository's test
//! vectors and fixtures. Deterministic: run it again and nothing changes unless a fixture did.
//!
//!     cd fuzz && cargo run --example write_seeds
//!
//! Seeds stay small (the largest sets libFuzzer's default input size): the demo campaign is
//! cut down to a few households per district rather than copied whole.

use base64::{engine::general_purpose::STANDARD, Engine};
use fieldpost_fuzz::{device_key, intake_key, ministry_key, VECTOR_QUESTIONS};
use serde_json::{json, Value};
use std::{collections::BTreeMap, fs, path::{Path, PathBuf}};
use sync_protocol::{
    assignment::{AssignedHousehold, AssignedVillage, Assignment, Place},
    batch::{Batch, BatchHash, SignedBatch},
    canonical::to_canonical_bytes,
    event::{Event, EventBody, EventId, Recipient, VisitOutcome},
    keys::Base64Bytes,
    lifecycle::HouseholdStatus,
    seal::{self, AnswerSheet},
    DeviceTime, PROTOCOL_VERSION,
};
use uuid::Uuid;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = root.join("seeds");
    let vectors: Value = serde_json::from_str(&fs::read_to_string(root.join("../sync-protocol/tests/vectors.json")).unwrap()).unwrap();
    let s = |p: &str| vectors.pointer(p).and_then(Value::as_str).unwrap_or_else(|| panic!("vectors.json has no {p}")).to_string();
    let b64 = |p: &str| STANDARD.decode(s(p)).unwrap();

    let mut w = Writer { dir: seeds.clone(), written: 0 };
    if seeds.exists() {
        fs::remove_dir_all(&seeds).unwrap();
    }

    // batch_frame: the vectors' frame, and canonical batches (the target also frames them).
    let wide = wide_batch();
    w.file("batch_frame", "vector-frame.bin", b64("/batch/frame"));
    w.file("batch_frame", "vector-canonical.json", s("/batch/canonical"));
    w.file("batch_frame", "every-event-type.json", to_canonical_bytes(&wide).unwrap());
    w.file("batch_frame", "every-event-type-frame.bin", SignedBatch::sign(&wide, &device_key()).unwrap().to_frame());
    w.file("batch_frame", "parcel.json", to_canonical_bytes(&parcel_batch()).unwrap());

    // canonical_json: canonical documents of each kind, and JSON that is not canonical yet.
    w.file("canonical_json", "batch.json", s("/batch/canonical"));
    w.file("canonical_json", "receipt.json", b64("/receipt/body"));
    w.file("canonical_json", "sheet.json", s("/sealed_answers/plaintext_canonical_before_zstd"));
    w.file("canonical_json", "event.json", to_canonical_bytes(&wide.events[0]).unwrap());
    w.file(
        "canonical_json",
        "not-canonical.json",
        "{ \"b\": [1.0, 2e3, -0.0, 1E-7, 9007199254740993, \"Qua\u{301}ng Tri\u{323}\"],\n  \"a\": {\"\u{1f600}\": null, \"\\u00e9\": true}, \"\\ud83d\\ude00\": \"\\/\\b\\f\" }",
    );

    // enroll_request: what a device sends to /v1/enroll.
    let public = s("/keys/device_ed25519_public");
    w.file("enroll_request", "request.json", json!({"code": "K7QM-4XPA-9WRT", "public_key": public, "label": "Máy tính bảng 3, bưu cục Gio Linh"}).to_string());
    w.file("enroll_request", "no-label.json", json!({"code": "k7qm 4xpa 9wrt", "public_key": public}).to_string());

    // campaign_file: the demo campaign, cut down.
    w.file("campaign_file", "demo-small.json", serde_json::to_string_pretty(&small_campaign()).unwrap());

    // form_definition: the shipped form, a small one, an answers file, expressions.
    w.file("form_definition", "sipas-2024.json", intake::demo::SIPAS_FORM_JSON);
    let small = forms::xlsform::import(&small_xlsform()).unwrap().form;
    w.file("form_definition", "small.json", serde_json::to_string_pretty(&small.definition).unwrap());
    // The input that overflowed the stack before `expr` bounded its operators (see
    // forms/tests/fuzz_regressions.rs): a relevance `1+1+…+1 = 1` of 10 000 terms.
    let mut deep = small.definition.clone();
    deep.sections[0].items[3].relevant = Some(format!("1{} = 1", "+1".repeat(10_000)));
    w.file("form_definition", "deep-chain.json", serde_json::to_string(&deep).unwrap());
    let answers = forms::sample::complete_answers(&intake::demo::sipas_2024(), 1);
    w.file("form_definition", "sipas-answers.json", serde_json::to_string(&answers).unwrap());
    w.file("form_definition", "expr.txt", "not(${a} = 1) or count_selected(${q2}) > 2 and selected(${b}, '7') and . >= -5 and answered(${c}) and (. - 1 <= ${a} + 1)");

    // xlsform_import: a real workbook, and the same written as text (see workbook_from_text).
    w.file("xlsform_import", "small.xlsx", small_xlsform());
    w.file("xlsform_import", "small.txt", small_xlsform_text());
    let lean = fieldpost_fuzz::workbook_from_text(&small_xlsform_text()).unwrap();
    let (a, b) = (forms::xlsform::import(&small_xlsform()).unwrap(), forms::xlsform::import(&lean).unwrap());
    assert_eq!(a.form.definition, b.form.definition, "the text form of a workbook imports like the workbook");
    assert_eq!(a.unsupported, b.unsupported);

    // paper_serials: what a scanner or a clerk types.
    w.file("paper_serials", "scanned.txt", "QT24-00001\nqt24-00002\r\n  QT24-00003  \n\nQT24-00001\nQT24-99999\n");

    // sealed_answers: the vectors' sealed box, and its plaintext (the target seals it).
    w.file("sealed_answers", "vector-sealed.bin", b64("/sealed_answers/sealed"));
    w.file("sealed_answers", "vector-plaintext.json", s("/sealed_answers/plaintext_canonical_before_zstd"));
    w.file("sealed_answers", "vector-plaintext.zst", zstd::bulk::compress(s("/sealed_answers/plaintext_canonical_before_zstd").as_bytes(), 19).unwrap());
    // A verified sheet whose keyings differed at one question (docs/sync-protocol.md, section 6).
    w.file("sealed_answers", "keyings-apart.json", r#"{"apart":[[3,null,4]],"form":"sipas-2024@1","household":"QT-GL-GA-AN-07","serial":"QT24-0331","values":[2,null,[1,5,6],4,null,"Cán bộ nhiệt tình"]}"#);

    // signed_document: the vectors' receipt as sent, its body, and an assignment's body.
    w.file("signed_document", "vector-receipt.json", vectors["receipt"].to_string());
    w.file("signed_document", "receipt-body.json", b64("/receipt/body"));
    let assignment = assignment();
    w.file("signed_document", "assignment.json", serde_json::to_string(&assignment.sign(&intake_key()).unwrap()).unwrap());
    w.file("signed_document", "assignment-body.json", to_canonical_bytes(&assignment).unwrap());

    println!("wrote {} bytes of seeds under {}", w.written, seeds.display());
}

struct Writer {
    dir: PathBuf,
    written: usize,
}

impl Writer {
    fn file(&mut self, target: &str, name: &str, bytes: impl AsRef<[u8]>) {
        let dir = self.dir.join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), bytes.as_ref()).unwrap();
        self.written += bytes.as_ref().len();
    }
}

fn t(s: &str) -> DeviceTime {
    DeviceTime::parse(s).unwrap()
}

fn id(n: u32) -> EventId {
    EventId(Uuid::parse_str(&format!("01932c5e-8a00-7000-8000-{n:012x}")).unwrap())
}

/// One event of every type a household can have, in a second batch (so `prev` is not zeros).
fn wide_batch() -> Batch {
    let sealed = |n: u8| Some(Base64Bytes(sealed_sheet(n)));
    let at = t("2024-11-22T16:40:05+07:00");
    let ev = |n, body| Event { id: id(n), household: Some("QT-GL-GA-AN-07".into()), serial: Some("QT24-0331".into()), enumerator: "enum-gl-01".into(), at, body };
    Batch {
        protocol: PROTOCOL_VERSION,
        campaign: "qt-sipas-2024".into(),
        device: Uuid::parse_str("01932c5e-8a00-7000-8000-00000000d001").unwrap(),
        enumerator: "enum-gl-01".into(),
        seq: 2,
        prev: BatchHash::of(b"batch 1"),
        created_at: t("2024-11-25T18:02:11+07:00"),
        events: vec![
            ev(11, EventBody::FormDistributed { recipient: Recipient::Representative, note: None }),
            ev(12, EventBody::VisitOutcome { outcome: VisitOutcome::Absent, note: Some("Cả nhà đi làm rẫy".into()) }),
            ev(13, EventBody::FormCollected {}),
            ev(14, EventBody::FormTranscribed { form: "sipas-2024@1".into(), sealed_answers: None, keying_seconds: 190 }),
            ev(
                15,
                EventBody::TranscriptionVerified {
                    form: "sipas-2024@1".into(),
                    sealed_answers: Base64Bytes(sealed_sheet(1).clone()),
                    keying_seconds: 171,
                    mismatches: 2,
                    keyer_errors: 1,
                    verifier_errors: 1,
                },
            ),
            ev(16, EventBody::Correction { form: "sipas-2024@1".into(), sealed_answers: sealed(2).unwrap(), keying_seconds: 40, reason: "Sai câu 9".into() }),
            ev(17, EventBody::VisitOutcome { outcome: VisitOutcome::Refused, note: None }),
            ev(18, EventBody::HouseholdReplaced { replacement: "QT-GL-GA-AN-R1".into() }),
        ],
    }
}

fn parcel_batch() -> Batch {
    Batch {
        protocol: PROTOCOL_VERSION,
        campaign: "qt-sipas-2024".into(),
        device: Uuid::parse_str("01932c5e-8a00-7000-8000-00000000d001").unwrap(),
        enumerator: "enum-gl-01".into(),
        seq: 1,
        prev: BatchHash::GENESIS,
        created_at: t("2024-11-28T08:00:00+07:00"),
        events: vec![Event {
            id: id(21),
            household: None,
            serial: None,
            enumerator: "enum-gl-01".into(),
            at: t("2024-11-28T07:55:30+07:00"),
            body: EventBody::ParcelHandedOver { parcel: "BĐ-GL-0001".into(), serials: vec!["QT24-0331".into(), "QT24-0332".into()] },
        }],
    }
}

fn sealed_sheet(variant: u8) -> Vec<u8> {
    use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
    let mut answers = BTreeMap::new();
    answers.insert("a2_sex".to_string(), json!(variant));
    answers.insert("q2_channels".to_string(), json!([1, 6]));
    let sheet = AnswerSheet { form: "sipas-2024@1".into(), household: "QT-GL-GA-AN-07".into(), serial: "QT24-0331".into(), answers, keyings_apart: vec![] };
    seal::seal(&ministry_key().public(), &sheet, &VECTOR_QUESTIONS, &mut ChaCha20Rng::from_seed([variant; 32])).unwrap()
}

/// The demo campaign with each district cut to its first village, three sampled households
/// and one reserve; enumerators and supervisors cut to match.
fn small_campaign() -> intake::campaign::Campaign {
    let mut c = intake::demo::quang_tri_2024(&intake::demo::fixed_ministry_key().public());
    for p in &mut c.provinces {
        for d in &mut p.districts {
            d.communes.truncate(1);
            for commune in &mut d.communes {
                commune.villages.truncate(1);
                for v in &mut commune.villages {
                    v.households.truncate(3);
                    v.reserve.truncate(1);
                }
            }
        }
    }
    let kept: Vec<String> = c.villages().map(|(_, _, _, v)| v.id.clone()).collect();
    for e in &mut c.enumerators {
        e.villages.retain(|v| kept.contains(v));
    }
    c.enumerators.retain(|e| !e.villages.is_empty());
    c.validate().expect("the cut-down demo campaign is valid");
    c
}

/// The small form of `forms/tests/xlsform.rs`, as text for `workbook_from_text`.
fn small_xlsform_text() -> String {
    [
        "=survey",
        "type\tname\tlabel::Vietnamese\tlabel::English\trequired\trelevant\tconstraint\tconstraint_message::Vietnamese\tappearance",
        "begin group\ts1\tPhần 1\tPart 1",
        "select_one yesno\tq1\tCó con đi học?\tChild in school?\tyes",
        "integer\tage\tTuổi\tAge\tyes\t\t. >= 18 and . <= 120\tTừ 18 đến 120",
        "integer\tpeople\tSố người\tPeople",
        "text\tschool\tTên trường\tSchool\tyes\t${q1} = '1'",
        "select_multiple yesno\tm\tNhiều\tMany",
        "calculate\tc",
        "geopoint\twhere\tVị trí\tLocation",
        "end group",
        "begin group\tsat\tHài lòng\tSatisfaction\t\t\t\t\ttable-list",
        "note\thdr\tMức độ\tLevel\t\t\t\t\tlabel",
        "select_one sat5\ts_1\tThái độ\tAttitude\tyes",
        "select_one sat5\ts_2\tThời gian\tTime\tyes\t${q1} = 1",
        "end group",
        "start\tstart",
        "=choices",
        "list_name\tname\tlabel::Vietnamese\tlabel::English",
        "yesno\t#1\tCó\tYes",
        "yesno\t#2\tKhông\tNo",
        "sat5\t#1\tMức 1\tLevel 1",
        "sat5\t#2\tMức 2\tLevel 2",
        "sat5\t#3\tMức 3\tLevel 3",
        "sat5\t#4\tMức 4\tLevel 4",
        "sat5\t#5\tMức 5\tLevel 5",
        "yesno\tdk\tKhông biết\tDon't know",
        "=settings",
        "form_id\tversion\tform_title",
        "hh-2024\t#2024112301\tHộ gia đình",
    ]
    .join("\n")
}

/// The small form as a workbook from rust_xlsxwriter (a full writer: styles, shared parts,
/// deflate), with a fixed creation time so the bytes do not change from run to run.
fn small_xlsform() -> Vec<u8> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook};
    let mut wb = Workbook::new();
    wb.set_properties(&DocProperties::new().set_creation_datetime(&ExcelDateTime::from_ymd(2024, 11, 1).unwrap()));
    let text = small_xlsform_text();
    for block in text.split("\n=").map(|b| b.trim_start_matches('=')) {
        let mut lines = block.lines();
        let ws = wb.add_worksheet();
        ws.set_name(lines.next().unwrap()).unwrap();
        for (r, line) in lines.enumerate() {
            for (c, value) in line.split('\t').enumerate() {
                let (r, c) = (r as u32, c as u16);
                match value.strip_prefix('#') {
                    Some(n) => ws.write_number(r, c, n.parse::<f64>().unwrap()).map(|_| ()),
                    None if value.is_empty() => Ok(()),
                    None => ws.write_string(r, c, value).map(|_| ()),
                }
                .unwrap();
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

fn assignment() -> Assignment {
    let place = |id: &str, name: &str| Place { id: id.into(), name: name.into() };
    let household = |id: &str, serial: &str, reserve_rank, status| AssignedHousehold {
        id: id.into(),
        village: "gl-ga-an".into(),
        serial: serial.into(),
        name: "Nguyễn Văn An".into(),
        address: "Thôn An Mỹ, xã Gio An".into(),
        reserve_rank,
        status,
        carried_over: None,
    };
    Assignment {
        protocol: PROTOCOL_VERSION,
        campaign: intake::demo::quang_tri_2024(&intake::demo::fixed_ministry_key().public()).info(),
        device: Uuid::parse_str("01932c5e-8a00-7000-8000-00000000d001").unwrap(),
        enumerator: place("enum-gl-01", "Lê Thị Hoa"),
        villages: vec![AssignedVillage {
            id: "gl-ga-an".into(),
            name: "Thôn An Mỹ".into(),
            commune: place("gl-ga", "Xã Gio An"),
            district: place("gl", "Huyện Gio Linh"),
            province: place("qt", "Tỉnh Quảng Trị"),
        }],
        households: vec![
            household("QT-GL-GA-AN-07", "QT24-0331", None, HouseholdStatus::Distributed),
            household("QT-GL-GA-AN-R1", "QT24-R001", Some(1), HouseholdStatus::Reserve),
        ],
        forms: vec![sync_protocol::assignment::FormRef { reference: "sipas-2024@1".into(), sha256: "0".repeat(64) }],
        moved_away: vec![sync_protocol::assignment::MovedAway { household: "QT-GL-GA-AN-03".into(), to: place("enum-gl-02", "Trần Văn Bình") }],
        resolved: vec![sync_protocol::assignment::ResolvedRejection {
            event: Uuid::parse_str("01932c5e-8a00-7000-8000-00000000e001").unwrap(),
            decision: sync_protocol::assignment::Resolution::Dismissed,
            note: "Phiếu trùng với hộ bên cạnh".into(),
        }],
        intake_public_key: intake_key().public(),
        ministry_public_key: ministry_key().public(),
        issued_at: t("2024-11-20T08:00:00+07:00"),
    }
}
