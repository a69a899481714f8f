//! A week of the demo's fieldwork, so that a new user's centre has something to show: the
//! tablets of some of the demo's enumerators enroll and send what a real week sends — hand-outs
//! (some after a household was out, some refused), collections, first keyings, second keyings
//! with their differences, parcels to the post office, and most of their paper arriving at the
//! ministry.
//!
//! Nothing here takes a short cut: each tablet enrolls with a one-time code and sends signed,
//! hash-chained batches through the same ingest as the network does, its answers sealed to the
//! campaign's key (they are opened only with the passphrase, as in the field). Work is dated in
//! the campaign's own days, so the progress chart and the period report show it where it was
//! done. The draw is fixed (the same seed always gives the same week), except the keys, codes
//! and sealing, which are fresh randomness as they must be.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone};
use rand::{seq::SliceRandom, Rng, SeedableRng};
use serde_json::Value as Json;
use sync_protocol::{
    api::EnrollRequest,
    batch::{Batch, BatchHash, SignedBatch},
    event::{Event, EventBody, Recipient, VisitOutcome},
    keys::{Base64Bytes, DeviceKey},
    seal::{self, AnswerSheet},
    time::DeviceTime,
    PROTOCOL_VERSION,
};

use crate::{error::IntakeError, service::Intake};

/// What the week sent, for the operator.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Week {
    pub enumerators: usize,
    pub handed_out: usize,
    pub collected: usize,
    pub keyed: usize,
    pub verified: usize,
    pub refused: usize,
    pub in_parcels: usize,
    pub paper: usize,
}

/// One household's week: which steps it reached, and on which day of the campaign.
struct Steps {
    absent_first: bool,
    refused: bool,
    collected: bool,
    keyed: bool,
    verified: bool,
    paper: bool,
    /// Differences between the two keyings, as the tablet reports them: (keyer's, verifier's).
    differences: (u32, u32),
    /// Exceptions the anomalies page is for: a form keyed in under a minute and a half, a
    /// form collected the day after the collection window, a second keying that agreed with
    /// the first on almost nothing.
    hurried: bool,
    collected_late: bool,
    compared_nothing: bool,
}

fn draw(rng: &mut impl Rng) -> Steps {
    let refused = rng.gen_bool(0.06);
    let collected = !refused && rng.gen_bool(0.93);
    let keyed = collected && rng.gen_bool(0.9);
    let verified = keyed && rng.gen_bool(0.85);
    let differences = if !verified || rng.gen_bool(0.7) {
        (0, 0)
    } else {
        (rng.gen_range(0..3), rng.gen_range(0..2))
    };
    Steps {
        absent_first: !refused && rng.gen_bool(0.05),
        refused,
        collected,
        keyed,
        verified,
        paper: rng.gen_bool(0.95),
        differences,
        hurried: rng.gen_bool(0.02),
        collected_late: rng.gen_bool(0.015),
        compared_nothing: rng.gen_bool(0.006),
    }
}

/// Sends the week of the enumerators of `districts` (district ids of the campaign) into
/// `intake`; the other districts' enumerators have not started. Dated in the campaign's
/// timeline: hand-out on its hand-out days, collection on its collection days, keying until
/// its parcel days.
/// Who the demo week's own records (paper arrived, codes issued) say made them.
const DEMO_RECORDER: &str = "Dữ liệu mẫu (demo-fieldwork)";

pub fn send_week(intake: &Intake, districts: &[&str], seed: u64) -> Result<Week, IntakeError> {
    let campaign = intake.store.campaign()?;
    let form = intake.form()?;
    let zone = intake.time_zone()?;
    let timeline = &campaign.info.timeline;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let expected = intake.store.expected_forms()?;
    // The enumerators of those districts (a village's id begins with its district's).
    let mut by_enumerator: BTreeMap<&str, Vec<&crate::store::ExpectedForm>> = BTreeMap::new();
    for h in &expected {
        if districts
            .iter()
            .any(|d| h.village.starts_with(&format!("{d}-")))
        {
            by_enumerator
                .entry(h.enumerator.as_str())
                .or_default()
                .push(h);
        }
    }
    let double_keyed = campaign.info.verification_required;
    let form_ref = form.reference();
    // What the keyers misread is drawn apart from the rest, so that the week's answers and
    // steps stay those of every earlier demo.
    let mut misreading = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x6d_6973_7265_6164);
    // A sheet, with the questions a double keying read differently: `differences` (first
    // keying wrong, second wrong) or, where `blank_first`, every answer missing from the first.
    let mut seal_answers = |h: &crate::store::ExpectedForm,
                            rng: &mut rand_chacha::ChaCha8Rng,
                            (keyer, verifier): (u32, u32),
                            blank_first: bool| {
        let answers = answers(&form, rng);
        let misread = self::answers(&form, &mut misreading);
        let mut questions: Vec<&String> = answers.keys().collect();
        questions.shuffle(&mut misreading);
        let wanted = if blank_first {
            questions.len()
        } else {
            (keyer + verifier) as usize
        };
        let keyings_apart: Vec<_> = questions
            .into_iter()
            .take(wanted)
            .enumerate()
            .map(|(n, q)| {
                let right = answers.get(q).cloned();
                let wrong = misread
                    .get(q)
                    .filter(|v| !blank_first && Some(*v) != right.as_ref())
                    .cloned();
                let (first, second) = if blank_first || n < keyer as usize {
                    (wrong, right)
                } else {
                    (right, wrong)
                };
                sync_protocol::seal::KeyingsApart {
                    question: q.clone(),
                    first,
                    second,
                }
            })
            .collect();
        let first_wrong = if blank_first {
            keyings_apart.len()
        } else {
            keyings_apart.len().min(keyer as usize)
        };
        let counts = (
            first_wrong as u32,
            (keyings_apart.len() - first_wrong) as u32,
        );
        let sheet = AnswerSheet {
            form: form_ref.clone(),
            household: h.household.clone(),
            serial: h.serial.clone(),
            answers,
            keyings_apart,
        };
        seal::seal(
            &campaign.ministry_public_key,
            &sheet,
            &form.question_order(),
            &mut rand::rngs::OsRng,
        )
        .map(|sealed| (Base64Bytes(sealed), counts))
    };
    // A time within `window`'s days, in working hours of the campaign's zone.
    let at = |window: &sync_protocol::assignment::Window, rng: &mut rand_chacha::ChaCha8Rng| {
        let span = (window.end - window.start).num_days();
        let day = window.start + chrono::Duration::days(rng.gen_range(0..=span));
        let local = day
            .and_hms_opt(rng.gen_range(7..18), rng.gen_range(0..60), 0)
            .expect("a time of day");
        let time = zone
            .from_local_datetime(&local)
            .earliest()
            .expect("a local time")
            .fixed_offset();
        (day, DeviceTime::new(time))
    };
    let mut week = Week::default();
    let mut paper = String::new();
    for (enumerator, households) in by_enumerator {
        let mut tablet = Tablet::enroll(intake, enumerator)?;
        week.enumerators += 1;
        // Each day's work goes in one batch, as a tablet that syncs each evening sends it.
        let mut days: BTreeMap<NaiveDate, Vec<Event>> = BTreeMap::new();
        // Serials of the forms ready for a parcel, and whether their paper will arrive.
        let mut ready: Vec<(String, bool)> = Vec::new();
        for h in households {
            let steps = draw(&mut rng);
            let event = |time: DeviceTime, body: EventBody| {
                Event::for_household(&h.household, &h.serial, enumerator, time, body)
            };
            let (day, time) = at(&timeline.distribute, &mut rng);
            let mut push = |day: NaiveDate, e: Event| days.entry(day).or_default().push(e);
            if steps.absent_first {
                let first = DeviceTime::new(time.as_datetime() - chrono::Duration::hours(3));
                push(day, event(first, outcome(VisitOutcome::Absent)));
            }
            if steps.refused {
                push(day, event(time, outcome(VisitOutcome::Refused)));
                week.refused += 1;
                continue;
            }
            push(
                day,
                event(
                    time,
                    EventBody::FormDistributed {
                        recipient: Recipient::Representative,
                        note: None,
                    },
                ),
            );
            week.handed_out += 1;
            if !steps.collected {
                continue;
            }
            let (day, time) = at(&timeline.collect, &mut rng);
            let (day, time) = if steps.collected_late {
                let late = chrono::Duration::days((timeline.collect.end - day).num_days() + 1);
                (day + late, DeviceTime::new(time.as_datetime() + late))
            } else {
                (day, time)
            };
            push(day, event(time, EventBody::FormCollected {}));
            week.collected += 1;
            if !steps.keyed {
                continue;
            }
            // Keyed the evening of the collection, checked the next day.
            let keyed_at = DeviceTime::new(time.as_datetime() + chrono::Duration::hours(2));
            // Keyed once where the campaign double-keys: the answers come with the check.
            let once = if double_keyed {
                None
            } else {
                Some(seal_answers(h, &mut rng, (0, 0), false)?.0)
            };
            push(
                day,
                event(
                    keyed_at,
                    EventBody::FormTranscribed {
                        form: form_ref.clone(),
                        sealed_answers: once,
                        keying_seconds: if steps.hurried {
                            rng.gen_range(30..80)
                        } else {
                            rng.gen_range(150..420)
                        },
                    },
                ),
            );
            week.keyed += 1;
            if !double_keyed {
                ready.push((h.serial.clone(), steps.paper));
                continue;
            }
            if !steps.verified {
                continue;
            }
            // A tablet that compared nothing had the first keying blank: every answer differs.
            let (sealed, (keyer, verifier)) =
                seal_answers(h, &mut rng, steps.differences, steps.compared_nothing)?;
            let checked = DeviceTime::new(keyed_at.as_datetime() + chrono::Duration::days(1));
            push(
                day + chrono::Duration::days(1),
                event(
                    checked,
                    EventBody::TranscriptionVerified {
                        form: form_ref.clone(),
                        sealed_answers: sealed,
                        keying_seconds: rng.gen_range(120..360),
                        mismatches: keyer + verifier,
                        keyer_errors: keyer,
                        verifier_errors: verifier,
                    },
                ),
            );
            week.verified += 1;
            ready.push((h.serial.clone(), steps.paper));
        }
        // Most finished forms go to the post office in one parcel on a parcel day; most of
        // their paper reaches the ministry (a few sheets go astray).
        let sent: Vec<_> = ready.into_iter().filter(|_| rng.gen_bool(0.8)).collect();
        if !sent.is_empty() {
            let (day, time) = at(&timeline.submit, &mut rng);
            let parcel = format!("P-{enumerator}-{}-demo-01", day.format("%Y%m%d"));
            let serials = sent.iter().map(|(s, _)| s.clone()).collect();
            days.entry(day)
                .or_default()
                .push(Event::parcel(enumerator, time, &parcel, serials));
            week.in_parcels += sent.len();
            for (serial, arrived) in sent {
                if arrived {
                    paper.push_str(&serial);
                    paper.push('\n');
                    week.paper += 1;
                }
            }
        }
        for (_, mut events) in days {
            // A day's events in the order they happened: a household's steps stay in order.
            events.sort_by_key(|e| e.at);
            tablet.send(intake, events)?;
        }
    }
    if !paper.is_empty() {
        // Recorded by no account: named as what it is where an officer reads who recorded it.
        intake.record_paper(&paper, DEMO_RECORDER, "127.0.0.1")?;
    }
    Ok(week)
}

fn outcome(outcome: VisitOutcome) -> EventBody {
    EventBody::VisitOutcome {
        outcome,
        note: None,
    }
}

/// A respondent's answers: every question that applies answered, each coded question with a
/// code drawn at random where the draw changes no other question's relevance (a gate keeps the
/// code under which most of the form applies), and now and then a blank or unreadable mark,
/// as paper brings.
fn answers(form: &forms::Form, rng: &mut impl Rng) -> BTreeMap<String, Json> {
    use forms::load::Accepts;
    let mut a = forms::sample::complete_answers(form, rng.gen_range(0..5));
    let skipped = forms::validate::validate(form, &a).not_relevant;
    for q in &form.questions {
        let Accepts::Code(codes) = &q.accepts else {
            continue;
        };
        if !a.contains_key(&q.id) || skipped.contains(&q.id) {
            continue;
        }
        // Most people lean one way: codes near the satisfied end more often.
        let pick = codes[codes.len()
            - 1
            - rng
                .gen_range(0..codes.len())
                .min(rng.gen_range(0..codes.len()))];
        let mut tried = a.clone();
        tried.insert(q.id.clone(), serde_json::json!(pick));
        if forms::validate::validate(form, &tried).not_relevant == skipped {
            a = tried;
        }
    }
    for q in &form.questions {
        if a.contains_key(&q.id) && !skipped.contains(&q.id) && rng.gen_bool(0.01) {
            let mark = if rng.gen_bool(0.7) {
                forms::answer::Mark::Blank
            } else {
                forms::answer::Mark::Unreadable
            };
            // Not on a gate: its questions would no longer apply, though answered.
            let mut tried = a.clone();
            tried.insert(q.id.clone(), mark.to_json());
            if forms::validate::validate(form, &tried).not_relevant == skipped {
                a = tried;
            }
        }
    }
    a
}

/// One demo tablet: its key and where its chain stands.
struct Tablet {
    key: DeviceKey,
    device: uuid::Uuid,
    campaign: String,
    enumerator: String,
    seq: u64,
    prev: BatchHash,
}

impl Tablet {
    fn enroll(intake: &Intake, enumerator: &str) -> Result<Tablet, IntakeError> {
        let code =
            intake.issue_enrollment_code(enumerator, chrono::Duration::hours(1), DEMO_RECORDER)?;
        let key = DeviceKey::generate(&mut rand::rngs::OsRng);
        let enrolled = intake.enroll_with(
            &crate::service::code_hash(&code),
            &EnrollRequest {
                code,
                public_key: key.public(),
                label: "Máy tính bảng (dữ liệu mẫu)".into(),
            },
        )?;
        Ok(Tablet {
            key,
            device: enrolled.device,
            campaign: enrolled.campaign,
            enumerator: enrolled.enumerator,
            seq: enrolled.chain.seq,
            prev: enrolled.chain.hash,
        })
    }

    fn send(&mut self, intake: &Intake, events: Vec<Event>) -> Result<(), IntakeError> {
        for chunk in events.chunks(200) {
            let created_at = chunk.last().map(|e| e.at).expect("a chunk has events");
            let batch = Batch {
                protocol: PROTOCOL_VERSION,
                campaign: self.campaign.clone(),
                device: self.device,
                enumerator: self.enumerator.clone(),
                seq: self.seq + 1,
                prev: self.prev,
                created_at,
                events: chunk.to_vec(),
            };
            let signed = SignedBatch::sign(&batch, &self.key)?;
            intake.ingest(&signed.to_frame(), chrono::Utc::now())?;
            self.seq += 1;
            self.prev = signed.hash();
        }
        Ok(())
    }
}
