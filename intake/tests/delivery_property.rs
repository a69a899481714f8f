//! Property: any interleaving of retries, duplicates, reorders and corrupted copies of the same
//! batches, followed by the device's ordinary in-order retry, ends in exactly the state that
//! clean in-order delivery gives — households, stored events, chain head and receipts' outcomes.

mod support;

use chrono::Utc;
use intake::demo;
use proptest::prelude::*;
use std::sync::OnceLock;
use support::place::Place;
use sync_protocol::{
    batch::{Batch, BatchHash, SignedBatch},
    event::{Event, EventBody, Recipient, VisitOutcome},
    keys::{Base64Bytes, DeviceKey},
    receipt::{EventOutcome, Receipt},
    signed::SignedDocument,
    DeviceTime, PROTOCOL_VERSION,
};

struct Fixture {
    template: Place,
    frames: Vec<Vec<u8>>,
    clean: Snapshot,
}

type Snapshot = (
    std::collections::BTreeMap<String, sync_protocol::lifecycle::HouseholdStatus>,
    Vec<intake::store::EventRecord>,
    (u64, BatchHash),
    Vec<Vec<EventOutcome>>,
);

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let template = Place::new();
        // The first keying carries the answers (a campaign without double keying).
        let mut campaign = demo::quang_tri_2024(&demo::fixed_ministry_key().public());
        campaign.verification_required = false;
        let key = DeviceKey::from_seed([7; 32]);
        let (device, enumerator) = {
            let centre = template.open();
            centre
                .import(&campaign, "{}", &[intake::demo::sipas_form()], Utc::now())
                .unwrap();
            let intake = centre.campaign(&campaign.id).unwrap().unwrap();
            let code = intake
                .issue_enrollment_code("enum-dh-p2", chrono::Duration::hours(1), "test")
                .unwrap();
            let request = sync_protocol::api::EnrollRequest {
                code,
                public_key: key.public(),
                label: String::new(),
            };
            let enrolled = centre
                .enroll(&request, "127.0.0.1".parse().unwrap())
                .unwrap();
            (enrolled.device, enrolled.enumerator)
        }; // the store is dropped here: its files (or database) are complete and can be copied

        let village = &campaign
            .villages()
            .find(|(.., v)| v.id == "dh-p2-kp1")
            .unwrap()
            .3;
        let h = |i: usize| {
            (
                village.households[i].id.clone(),
                village.households[i].serial.clone(),
            )
        };
        let at = DeviceTime::parse("2024-11-21T09:00:00+07:00").unwrap();
        let ev =
            |hh: (String, String), body| Event::for_household(&hh.0, &hh.1, &enumerator, at, body);
        let dist = |i| {
            ev(
                h(i),
                EventBody::FormDistributed {
                    recipient: Recipient::Representative,
                    note: None,
                },
            )
        };
        let sealed = Base64Bytes(vec![5; 120]);
        let reserve = (
            village.reserve[0].id.clone(),
            village.reserve[0].serial.clone(),
        );
        let plan: Vec<Vec<Event>> = vec![
            vec![
                dist(0),
                dist(1),
                dist(2),
                ev(
                    h(3),
                    EventBody::VisitOutcome {
                        outcome: VisitOutcome::Absent,
                        note: None,
                    },
                ),
            ],
            vec![
                ev(h(0), EventBody::FormCollected {}),
                ev(h(1), EventBody::FormCollected {}),
                dist(3),
            ],
            vec![
                ev(
                    h(0),
                    EventBody::FormTranscribed {
                        form: "sipas-2024@1".into(),
                        sealed_answers: Some(sealed.clone()),
                        keying_seconds: 200,
                    },
                ),
                ev(h(4), EventBody::FormCollected {}), // illegal: rejected, must stay rejected
                ev(
                    h(2),
                    EventBody::VisitOutcome {
                        outcome: VisitOutcome::Refused,
                        note: None,
                    },
                ),
            ],
            vec![
                ev(
                    h(2),
                    EventBody::HouseholdReplaced {
                        replacement: reserve.0.clone(),
                    },
                ),
                ev(
                    reserve.clone(),
                    EventBody::FormDistributed {
                        recipient: Recipient::FamilyMember,
                        note: None,
                    },
                ),
            ],
            vec![
                ev(h(3), EventBody::FormCollected {}),
                ev(reserve, EventBody::FormCollected {}),
            ],
        ];
        let mut prev = BatchHash::GENESIS;
        let frames = plan
            .into_iter()
            .enumerate()
            .map(|(i, events)| {
                let batch = Batch {
                    protocol: PROTOCOL_VERSION,
                    campaign: campaign.id.clone(),
                    device,
                    enumerator: enumerator.clone(),
                    seq: i as u64 + 1,
                    prev,
                    created_at: at,
                    events,
                };
                let signed = SignedBatch::sign(&batch, &key).unwrap();
                prev = signed.hash();
                signed.to_frame()
            })
            .collect::<Vec<_>>();
        let clean = deliver(&template, &frames, &[]);
        Fixture {
            template,
            frames,
            clean,
        }
    })
}

/// Delivers `schedule` (indices into `frames`; `None` = a corrupted copy of the previous
/// frame), then every batch in order as a retrying device would, and snapshots the result.
fn deliver(template: &Place, frames: &[Vec<u8>], schedule: &[(usize, bool)]) -> Snapshot {
    let place = Place::copy_of(template);
    let intake = place
        .open()
        .campaign(demo::DEMO_CAMPAIGN_ID)
        .unwrap()
        .unwrap();
    for &(i, corrupt) in schedule {
        let mut frame = frames[i].clone();
        if corrupt {
            let at = frame.len() / 2;
            frame[at] ^= 0xA5;
        }
        let _ = intake.ingest(&frame, Utc::now());
    }
    let mut outcomes = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let (doc, _new): (SignedDocument, bool) = intake
            .ingest(frame, Utc::now())
            .expect("in-order delivery succeeds");
        let receipt: Receipt = doc
            .verify(
                sync_protocol::signed::RECEIPT_DOMAIN,
                &intake.key.public(),
                "receipt",
            )
            .unwrap();
        assert_eq!(receipt.seq, i as u64 + 1);
        let ids: Vec<_> = SignedBatch::from_frame(frame)
            .unwrap()
            .decode()
            .unwrap()
            .events
            .iter()
            .map(|e| e.id)
            .collect();
        outcomes.push(receipt.outcomes(&ids));
    }
    let head = intake.store.chain_head("enum-dh-p2").unwrap();
    (
        intake.store.household_statuses().unwrap(),
        intake.store.events().unwrap(),
        (head.seq, head.hash),
        outcomes,
    )
}

#[test]
fn clean_delivery_is_what_the_plan_says() {
    let f = fixture();
    let (statuses, events, head, outcomes) = &f.clean;
    assert_eq!(head.0, 5);
    assert_eq!(statuses["dh-p2-kp1-01"].as_str(), "transcribed");
    assert_eq!(statuses["dh-p2-kp1-03"].as_str(), "replaced");
    assert_eq!(statuses["dh-p2-kp1-r01"].as_str(), "collected");
    assert_eq!(statuses["dh-p2-kp1-05"].as_str(), "assigned");
    assert_eq!(events.iter().filter(|e| e.status == "rejected").count(), 1);
    assert_eq!(outcomes[2][1].code.as_deref(), Some("illegal_transition"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn any_interleaving_ends_as_clean_delivery(schedule in prop::collection::vec((0usize..5, prop::bool::weighted(0.15)), 0..25)) {
        let f = fixture();
        let result = deliver(&f.template, &f.frames, &schedule);
        prop_assert_eq!(&result, &f.clean);
    }
}
