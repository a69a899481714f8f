//! Test vectors: fixed keys and inputs → canonical bytes, hash, signatures, a sealed payload.
//!
//! Checked both ways: every output is recomputed from the inputs and compared with
//! `vectors.json`, and every output in the file is verified or opened on its own.
//! `FIELDPOST_WRITE_VECTORS=1 cargo test -p sync-protocol --test vectors` rewrites the file
//! (only ever on purpose: a change here is a change of the wire format).

use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use sync_protocol::{
    batch::{Batch, BatchHash, SignedBatch},
    event::{Event, EventBody, EventId, Recipient},
    keys::{b64, from_b64, Base64Bytes, DeviceKey, MinistrySecretKey},
    receipt::{OutcomeStatus, Receipt, RejectedEvent},
    seal::{self, AnswerSheet},
    DeviceTime, PROTOCOL_VERSION,
};
use uuid::Uuid;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors.json");

fn device_key() -> DeviceKey {
    DeviceKey::from_seed([0x11; 32])
}
fn intake_key() -> DeviceKey {
    DeviceKey::from_seed([0x22; 32])
}
fn ministry_key() -> MinistrySecretKey {
    MinistrySecretKey::from_bytes([0x33; 32])
}
fn t(s: &str) -> DeviceTime {
    DeviceTime::parse(s).unwrap()
}

fn answer_sheet() -> AnswerSheet {
    let mut answers = BTreeMap::new();
    answers.insert("a2_sex".to_string(), json!(2));
    answers.insert("q2_channels".to_string(), json!([1, 5, 6]));
    answers.insert("q9_2_1".to_string(), json!(4));
    answers.insert("q11_comment".to_string(), json!("Cán bộ nhiệt tình"));
    AnswerSheet {
        form: "sipas-2024@1".into(),
        household: "QT-GL-GA-AN-07".into(),
        serial: "QT24-0331".into(),
        answers,
        keyings_apart: vec![],
    }
}

/// The form's question order for the vector (a real form has many more).
const QUESTIONS: [&str; 6] = [
    "a2_sex",
    "a3_age",
    "q2_channels",
    "q9_2_1",
    "q9_2_2",
    "q11_comment",
];

fn questions_of(form: &str) -> Option<Vec<String>> {
    (form == "sipas-2024@1").then(|| QUESTIONS.iter().map(|q| q.to_string()).collect())
}

/// What is sealed (before zstd): the answers by position in `QUESTIONS`, null where unanswered.
fn positional_plaintext() -> String {
    let sheet = json!({
        "form": "sipas-2024@1", "household": "QT-GL-GA-AN-07", "serial": "QT24-0331",
        "values": [2, null, [1, 5, 6], 4, null, "Cán bộ nhiệt tình"],
    });
    String::from_utf8(sync_protocol::canonical::to_canonical_bytes(&sheet).unwrap()).unwrap()
}

fn sealed_answers() -> Vec<u8> {
    // A seeded RNG makes the ephemeral key, and so the sealed box, reproducible.
    let mut rng = ChaCha20Rng::from_seed([0x44; 32]);
    seal::seal(
        &ministry_key().public(),
        &answer_sheet(),
        &QUESTIONS,
        &mut rng,
    )
    .unwrap()
}

fn batch() -> Batch {
    let enumerator = "enum-gl-01";
    let at = t("2024-11-21T09:15:00+07:00");
    let household = |id: &str, body| Event {
        id: EventId(Uuid::parse_str(id).unwrap()),
        household: Some("QT-GL-GA-AN-07".into()),
        serial: Some("QT24-0331".into()),
        enumerator: enumerator.into(),
        at,
        body,
    };
    Batch {
        protocol: PROTOCOL_VERSION,
        campaign: "qt-sipas-2024".into(),
        device: Uuid::parse_str("01932c5e-8a00-7000-8000-00000000d001").unwrap(),
        enumerator: enumerator.into(),
        seq: 1,
        prev: BatchHash::GENESIS,
        created_at: t("2024-11-25T18:02:11+07:00"),
        events: vec![
            household(
                "01932c5e-8a00-7000-8000-000000000001",
                EventBody::FormDistributed {
                    recipient: Recipient::FamilyMember,
                    note: Some("Con gái nhận hộ".into()),
                },
            ),
            household(
                "01932c5e-8a00-7000-8000-000000000002",
                EventBody::FormCollected {},
            ),
            household(
                "01932c5e-8a00-7000-8000-000000000003",
                EventBody::FormTranscribed {
                    form: "sipas-2024@1".into(),
                    sealed_answers: Some(Base64Bytes(sealed_answers())),
                    keying_seconds: 212,
                },
            ),
        ],
    }
}

fn receipt(batch_hash: BatchHash) -> Receipt {
    let b = batch();
    Receipt {
        protocol: PROTOCOL_VERSION,
        campaign: b.campaign.clone(),
        device: b.device,
        enumerator: b.enumerator.clone(),
        seq: 1,
        batch_hash,
        accepted_at: t("2024-11-25T11:02:12+00:00"),
        intake_key: intake_key().key_id(),
        events: b.events.len() as u32,
        rejected: vec![RejectedEvent {
            event: b.events[2].id,
            code: "household_not_assigned".into(),
            reason: "household QT-GL-GA-AN-07 is assigned to another enumerator now; tell your supervisor".into(),
        }],
    }
}

/// A tiny form definition as the intake serves it (`GET /v1/forms/<sha256>`): canonical JSON.
fn form_definition() -> Vec<u8> {
    let definition = json!({
        "format": "fieldpost-form/1", "id": "vd-2024", "version": 1,
        "title": {"vi": "Phiếu ví dụ", "en": "Example form"},
        "choice_lists": {"yn": [{"code": 1, "label": {"vi": "Có", "en": "Yes"}}, {"code": 2, "label": {"vi": "Không", "en": "No"}}]},
        "sections": [{"id": "a", "title": {"vi": "Phần A", "en": "Part A"}, "items": [
            {"id": "q1", "kind": "single", "number": "1", "label": {"vi": "Hài lòng?", "en": "Satisfied?"}, "choices": "yn", "required": true}
        ]}],
    });
    sync_protocol::canonical::to_canonical_bytes(&definition).unwrap()
}

/// A small assignment, as `GET /v1/assignment` answers it (signed by the intake).
fn assignment() -> sync_protocol::assignment::Assignment {
    use sync_protocol::assignment::*;
    let place = |id: &str, name: &str| Place {
        id: id.into(),
        name: name.into(),
    };
    let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
    let window = |a: &str, b: &str| Window {
        start: day(a),
        end: day(b),
    };
    let household = |n: u32, reserve: Option<u32>| AssignedHousehold {
        id: format!("gl-ga-an-{n:02}"),
        village: "gl-ga-an".into(),
        serial: format!("QT24-{n:05}"),
        name: "Nguyễn Thị Hoa".into(),
        address: "Số 12, thôn An Nha".into(),
        reserve_rank: reserve,
        status: sync_protocol::lifecycle::HouseholdStatus::Assigned,
        carried_over: None,
    };
    Assignment {
        protocol: PROTOCOL_VERSION,
        campaign: CampaignInfo {
            id: "qt-sipas-2024".into(),
            name: "SIPAS 2024 — Quảng Trị".into(),
            timezone: "Asia/Ho_Chi_Minh".into(),
            timeline: Timeline {
                distribute: window("2024-11-21", "2024-11-22"),
                collect: window("2024-11-23", "2024-11-24"),
                submit: window("2024-11-27", "2024-11-28"),
            },
            form: "vd-2024@1".into(),
            replacement_allowed: true,
            verification_required: true,
        },
        device: Uuid::parse_str("01932c5e-8a00-7000-8000-00000000d001").unwrap(),
        enumerator: place("enum-gl-01", "Lê Văn Nam"),
        villages: vec![AssignedVillage {
            id: "gl-ga-an".into(),
            name: "Thôn An Nha".into(),
            commune: place("gl-ga", "Xã Gio An"),
            district: place("gl", "Huyện Gio Linh"),
            province: place("qtri", "Tỉnh Quảng Trị"),
        }],
        households: vec![household(1, None), household(2, Some(1))],
        forms: vec![FormRef {
            reference: "vd-2024@1".into(),
            sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(form_definition())),
        }],
        moved_away: vec![],
        resolved: vec![],
        intake_public_key: intake_key().public(),
        ministry_public_key: ministry_key().public(),
        issued_at: t("2024-11-20T08:00:00+07:00"),
    }
}

/// What a device sends to enroll, and what the intake answers.
fn enrollment() -> (
    sync_protocol::api::EnrollRequest,
    sync_protocol::api::EnrollResponse,
) {
    (
        sync_protocol::api::EnrollRequest {
            code: "K7QM-2WXR-9H4T".into(),
            public_key: device_key().public(),
            label: "Máy tính bảng 3, Bưu điện Gio Linh".into(),
        },
        sync_protocol::api::EnrollResponse {
            device: Uuid::parse_str("01932c5e-8a00-7000-8000-00000000d001").unwrap(),
            enumerator: "enum-gl-01".into(),
            campaign: "qt-sipas-2024".into(),
            intake_public_key: intake_key().public(),
            intake_key_id: intake_key().key_id(),
            chain: sync_protocol::api::ChainHead {
                enumerator: "enum-gl-01".into(),
                seq: 0,
                hash: BatchHash::GENESIS,
            },
        },
    )
}

/// The request a device signs to fetch its assignment at a fixed time.
const REQUEST: (&str, &str, i64) = ("GET", "/v1/assignment", 1_732_528_931);

fn compute() -> Value {
    let signed = SignedBatch::sign(&batch(), &device_key()).unwrap();
    let receipt_doc = receipt(signed.hash()).sign(&intake_key()).unwrap();
    json!({
        "about": "Fieldpost sync protocol v1 test vectors. See docs/sync-protocol.md.",
        "keys": {
            "device_ed25519_seed": b64(&device_key().seed()),
            "device_ed25519_public": device_key().public().to_b64(),
            "device_key_id": device_key().key_id().0,
            "intake_ed25519_seed": b64(&intake_key().seed()),
            "intake_ed25519_public": intake_key().public().to_b64(),
            "intake_key_id": intake_key().key_id().0,
            "ministry_x25519_secret": b64(&ministry_key().to_bytes()),
            "ministry_x25519_public": ministry_key().public().to_b64(),
        },
        "sealed_answers": {
            "questions": QUESTIONS,
            "answer_sheet": serde_json::to_value(answer_sheet()).unwrap(),
            "plaintext_canonical_before_zstd": positional_plaintext(),
            "rng": "ChaCha20 seeded with 32 bytes of 0x44 (ephemeral key = first 32 bytes it yields)",
            "sealed": b64(&sealed_answers()),
        },
        "batch": {
            "canonical": String::from_utf8(signed.canonical_bytes().to_vec()).unwrap(),
            "sha256": signed.hash().to_hex(),
            "signature": b64(signed.signature()),
        },
        "receipt": serde_json::to_value(&receipt_doc).unwrap(),
        "request": {
            "method": REQUEST.0,
            "path": REQUEST.1,
            "time": REQUEST.2,
            "signed_message": String::from_utf8(
                [sync_protocol::api::REQUEST_DOMAIN, &sync_protocol::api::request_message(REQUEST.0, REQUEST.1, REQUEST.2)].concat()
            ).unwrap(),
            "headers": sync_protocol::api::sign_request(&device_key(), assignment().device, REQUEST.0, REQUEST.1, REQUEST.2)
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect::<serde_json::Map<_, _>>(),
        },
        "request_v2": {
            "method": REQUEST.0,
            "path": REQUEST.1,
            "time": REQUEST.2,
            "campaign": assignment().campaign.id,
            "signed_message": String::from_utf8(
                [sync_protocol::api::REQUEST_DOMAIN_V2, &sync_protocol::api::request_message_v2(REQUEST.0, REQUEST.1, REQUEST.2, assignment().device, &assignment().campaign.id)].concat()
            ).unwrap(),
            "headers": sync_protocol::api::sign_request_v2(&device_key(), assignment().device, &assignment().campaign.id, REQUEST.0, REQUEST.1, REQUEST.2)
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect::<serde_json::Map<_, _>>(),
        },
        "assignment": {
            "signed": serde_json::to_value(assignment().sign(&intake_key()).unwrap()).unwrap(),
            "etag": assignment().tag().unwrap(),
        },
        "enrollment": {
            "request": serde_json::to_value(enrollment().0).unwrap(),
            "response": serde_json::to_value(enrollment().1).unwrap(),
        },
        "form": {
            "canonical": String::from_utf8(form_definition()).unwrap(),
            "sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(form_definition())),
        },
    })
}

#[test]
fn vectors_match_the_file_both_ways() {
    let computed = compute();
    if std::env::var_os("FIELDPOST_WRITE_VECTORS").is_some() {
        // The frame's zstd bytes depend on the encoder, not on the protocol: it is written
        // once and only checked by decoding it.
        let mut with_frame = computed.clone();
        let signed = SignedBatch::sign(&batch(), &device_key()).unwrap();
        with_frame["batch"]["frame"] = json!(b64(&signed.to_frame()));
        std::fs::write(
            PATH,
            serde_json::to_string_pretty(&with_frame).unwrap() + "\n",
        )
        .unwrap();
    }
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(PATH).expect("tests/vectors.json")).unwrap();

    // Way 1: the implementation reproduces every byte from the fixed inputs.
    let mut file_without_frame = file.clone();
    file_without_frame["batch"]
        .as_object_mut()
        .unwrap()
        .remove("frame");
    assert_eq!(
        computed, file_without_frame,
        "the encoding changed; if on purpose, rewrite the vectors and the spec"
    );

    // Way 2: the file's outputs verify and open on their own.
    let s = |p: &str| {
        file.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{p}"))
            .to_string()
    };
    let canonical = s("/batch/canonical").into_bytes();
    assert_eq!(BatchHash::of(&canonical).to_hex(), s("/batch/sha256"));
    let device_pub =
        sync_protocol::keys::PublicKey::from_b64(&s("/keys/device_ed25519_public")).unwrap();
    device_pub
        .verify(
            sync_protocol::batch::BATCH_SIGNATURE_DOMAIN,
            &canonical,
            &from_b64("sig", &s("/batch/signature")).unwrap(),
        )
        .expect("batch signature verifies");
    let opened =
        SignedBatch::open(&from_b64("frame", &s("/batch/frame")).unwrap(), &device_pub).unwrap();
    assert_eq!(opened.batch, batch());
    // Each event's slice of the signed bytes is that event's own canonical encoding.
    for (slice, event) in opened.event_bytes().unwrap().iter().zip(&batch().events) {
        assert_eq!(
            slice.as_bytes(),
            sync_protocol::canonical::to_canonical_bytes(event).unwrap()
        );
    }

    let ministry = MinistrySecretKey::from_b64(&s("/keys/ministry_x25519_secret")).unwrap();
    let sheet = seal::open(
        &ministry,
        &from_b64("sealed", &s("/sealed_answers/sealed")).unwrap(),
        &questions_of,
    )
    .unwrap();
    assert_eq!(sheet, answer_sheet());
    assert_eq!(
        s("/sealed_answers/plaintext_canonical_before_zstd"),
        positional_plaintext()
    );

    let intake_pub =
        sync_protocol::keys::PublicKey::from_b64(&s("/keys/intake_ed25519_public")).unwrap();
    let doc: sync_protocol::signed::SignedDocument =
        serde_json::from_value(file["receipt"].clone()).unwrap();
    let r = Receipt::verify(&doc, &intake_pub, 1, &BatchHash::of(&canonical)).unwrap();
    let ids: Vec<EventId> = batch().events.iter().map(|e| e.id).collect();
    let outcomes = r.outcomes(&ids);
    assert_eq!(
        outcomes.iter().map(|o| o.status).collect::<Vec<_>>(),
        [
            OutcomeStatus::Accepted,
            OutcomeStatus::Accepted,
            OutcomeStatus::Rejected
        ]
    );
}

/// The newer vectors (request signature, assignment, ETag, enrollment, form hash), checked
/// from the file alone as a second client would.
#[test]
fn request_assignment_enrollment_and_form_vectors_verify_on_their_own() {
    let file: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    let s = |p: &str| {
        file.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{p}"))
            .to_string()
    };
    let device_pub =
        sync_protocol::keys::PublicKey::from_b64(&s("/keys/device_ed25519_public")).unwrap();
    let intake_pub =
        sync_protocol::keys::PublicKey::from_b64(&s("/keys/intake_ed25519_public")).unwrap();
    // The request: the signature is over the domain and METHOD, PATH, TIME on three lines.
    let signed = s("/request/signed_message");
    assert_eq!(
        signed,
        "fieldpost/request/v1\nGET\n/v1/assignment\n1732528931"
    );
    let message = signed.strip_prefix("fieldpost/request/v1\n").unwrap();
    device_pub
        .verify(
            sync_protocol::api::REQUEST_DOMAIN,
            message.as_bytes(),
            &from_b64("sig", &s("/request/headers/fieldpost-signature")).unwrap(),
        )
        .expect("the request signature verifies");
    assert_eq!(s("/request/headers/fieldpost-time"), "1732528931");
    // Version 2: the same three lines, then the device id and the campaign id.
    let signed = s("/request_v2/signed_message");
    let message = signed.strip_prefix("fieldpost/request/v2\n").unwrap();
    assert_eq!(
        message,
        format!(
            "GET\n/v1/assignment\n1732528931\n{}\n{}",
            s("/request_v2/headers/fieldpost-device"),
            s("/request_v2/campaign")
        )
    );
    assert_eq!(s("/request_v2/headers/fieldpost-request-version"), "2");
    device_pub
        .verify(
            sync_protocol::api::REQUEST_DOMAIN_V2,
            message.as_bytes(),
            &from_b64("sig", &s("/request_v2/headers/fieldpost-signature")).unwrap(),
        )
        .expect("the version-2 request signature verifies");
    // The assignment verifies with the intake key; its tag is what the file says.
    let doc: sync_protocol::signed::SignedDocument =
        serde_json::from_value(file["assignment"]["signed"].clone()).unwrap();
    let a = sync_protocol::assignment::Assignment::verify(&doc, &intake_pub).unwrap();
    assert_eq!(a.tag().unwrap(), s("/assignment/etag"));
    // The tag leaves out issued_at and the households' statuses.
    let mut later = a.clone();
    later.issued_at = t("2024-11-22T10:00:00+07:00");
    later.households[0].status = sync_protocol::lifecycle::HouseholdStatus::Distributed;
    assert_eq!(later.tag().unwrap(), s("/assignment/etag"));
    later.households.pop();
    assert_ne!(later.tag().unwrap(), s("/assignment/etag"));
    // The form named in the assignment: its bytes hash to the reference's sha256.
    let form = s("/form/canonical");
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(form.as_bytes()));
    assert_eq!(sha, s("/form/sha256"));
    assert_eq!(a.forms[0].sha256, sha);
    // Enrollment: the request and the answer parse as the intake and the device read them.
    let _: sync_protocol::api::EnrollRequest =
        serde_json::from_value(file["enrollment"]["request"].clone()).unwrap();
    let answer: sync_protocol::api::EnrollResponse =
        serde_json::from_value(file["enrollment"]["response"].clone()).unwrap();
    assert_eq!(answer.intake_public_key, intake_pub);
}

#[test]
fn tampering_is_detected() {
    let signed = SignedBatch::sign(&batch(), &device_key()).unwrap();
    let frame = signed.to_frame();
    // A flipped byte anywhere in the signature, or in the compressed body, must not pass.
    for i in [4, 40, 67, frame.len() / 2, frame.len() - 1] {
        let mut bad = frame.clone();
        bad[i] ^= 0x01;
        assert!(
            SignedBatch::open(&bad, &device_key().public()).is_err(),
            "flip at {i}"
        );
    }
    // Another device's key.
    let other = DeviceKey::from_seed([0x55; 32]);
    assert_eq!(
        SignedBatch::open(&frame, &other.public()).unwrap_err(),
        sync_protocol::ProtocolError::BadSignature
    );
    // A sealed box opened with the wrong key, or altered.
    let mut sealed = sealed_answers();
    assert!(seal::open(
        &MinistrySecretKey::from_bytes([0x66; 32]),
        &sealed,
        &questions_of
    )
    .is_err());
    // A form the opener does not know, or knows with another number of questions.
    assert!(seal::open(&ministry_key(), &sealed, &|_| None).is_err());
    assert!(seal::open(&ministry_key(), &sealed, &|_| Some(vec!["a2_sex".into()])).is_err());
    let last = sealed.len() - 1;
    sealed[last] ^= 1;
    assert!(seal::open(&ministry_key(), &sealed, &questions_of).is_err());
}

#[test]
fn receipts_bind_seq_and_hash() {
    let signed = SignedBatch::sign(&batch(), &device_key()).unwrap();
    let doc = receipt(signed.hash()).sign(&intake_key()).unwrap();
    assert!(Receipt::verify(&doc, &intake_key().public(), 2, &signed.hash()).is_err());
    assert!(Receipt::verify(&doc, &intake_key().public(), 1, &BatchHash([7; 32])).is_err());
    assert!(Receipt::verify(&doc, &device_key().public(), 1, &signed.hash()).is_err());
}
