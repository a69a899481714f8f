//! The domain layer of ingest: each event of an authentic batch judged on its own.
//!
//! Pure logic over a [`HouseholdView`], so it tests without a database. An event that fails
//! here is *rejected with a reason* and never touches household state; the batch itself is
//! still accepted into the chain, so a device's queue never blocks on a rejection (think of
//! a household reassigned to another enumerator while this one was offline).

use std::collections::HashMap;
use sync_protocol::{
    api::rejection,
    batch::Batch,
    event::{Event, EventBody},
    lifecycle::{self, HouseholdStatus, Rules},
    receipt::{EventOutcome, OutcomeStatus},
    seal,
};

/// What the judge needs to know of a household.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HouseholdFacts {
    pub id: String,
    pub village: String,
    pub serial: String,
    pub enumerator: String,
    pub reserve_rank: Option<u32>,
    pub status: HouseholdStatus,
}

/// Read access to the campaign's current state (inside the ingest transaction).
pub trait HouseholdView {
    fn household(&mut self, id: &str) -> Option<HouseholdFacts>;
    fn household_by_serial(&mut self, serial: &str) -> Option<HouseholdFacts>;
    /// The unused reserve households of a village as stored, by rank.
    fn reserves(&mut self, village: &str) -> Vec<HouseholdFacts>;
    fn event_seen(&mut self, id: &str) -> bool;
}

/// The verdict on a batch: an outcome per event, and the status changes to apply.
#[derive(Clone, Debug, Default)]
pub struct Judgement {
    pub outcomes: Vec<EventOutcome>,
    /// (household id, new status), in application order.
    pub changes: Vec<(String, HouseholdStatus)>,
}

pub struct CampaignRules<'a> {
    pub rules: Rules,
    /// Every form version of the campaign: a sheet keyed under an earlier one still counts.
    pub forms: &'a [String],
}

struct Rejection {
    code: &'static str,
    reason: String,
}

fn reject(code: &'static str, reason: impl Into<String>) -> Rejection {
    Rejection {
        code,
        reason: reason.into(),
    }
}

/// Judges every event of `batch` in order; later events see the effect of earlier ones.
pub fn judge(batch: &Batch, campaign: &CampaignRules, view: &mut dyn HouseholdView) -> Judgement {
    let mut overlay: HashMap<String, HouseholdStatus> = HashMap::new();
    let mut judgement = Judgement::default();
    for event in &batch.events {
        let outcome = match judge_event(event, campaign, view, &overlay) {
            Ok(changes) => {
                for (id, status) in changes {
                    overlay.insert(id.clone(), status);
                    judgement.changes.push((id, status));
                }
                EventOutcome {
                    event: event.id,
                    status: OutcomeStatus::Accepted,
                    code: None,
                    reason: None,
                }
            }
            Err(r) => EventOutcome {
                event: event.id,
                status: OutcomeStatus::Rejected,
                code: Some(r.code.into()),
                reason: Some(r.reason),
            },
        };
        judgement.outcomes.push(outcome);
    }
    judgement
}

/// Judges one event a supervisor wants taken into a household's record after it was refused
/// because the household had moved to another enumerator: judged as if the household's current
/// enumerator had made it, against the household as it stands now. `Err` carries the rejection
/// code and reason, as at ingest.
pub fn judge_carry_over(
    event: &Event,
    campaign: &CampaignRules,
    view: &mut dyn HouseholdView,
) -> Result<Vec<(String, HouseholdStatus)>, (&'static str, String)> {
    let household = event.household.as_deref().unwrap_or_default();
    let holder = view
        .household(household)
        .ok_or((
            rejection::HOUSEHOLD_UNKNOWN,
            format!("household {household} is not in this campaign"),
        ))?
        .enumerator;
    let mut as_holder = event.clone();
    as_holder.enumerator = holder;
    // The event itself is stored already: that is not a duplicate.
    struct StoredOnce<'a>(&'a mut dyn HouseholdView);
    impl HouseholdView for StoredOnce<'_> {
        fn household(&mut self, id: &str) -> Option<HouseholdFacts> {
            self.0.household(id)
        }
        fn household_by_serial(&mut self, serial: &str) -> Option<HouseholdFacts> {
            self.0.household_by_serial(serial)
        }
        fn reserves(&mut self, village: &str) -> Vec<HouseholdFacts> {
            self.0.reserves(village)
        }
        fn event_seen(&mut self, _: &str) -> bool {
            false
        }
    }
    judge_event(&as_holder, campaign, &mut StoredOnce(view), &HashMap::new())
        .map_err(|r| (r.code, r.reason))
}

fn current(
    mut facts: HouseholdFacts,
    overlay: &HashMap<String, HouseholdStatus>,
) -> HouseholdFacts {
    if let Some(s) = overlay.get(&facts.id) {
        facts.status = *s;
    }
    facts
}

fn judge_event(
    event: &Event,
    campaign: &CampaignRules,
    view: &mut dyn HouseholdView,
    overlay: &HashMap<String, HouseholdStatus>,
) -> Result<Vec<(String, HouseholdStatus)>, Rejection> {
    if view.event_seen(&event.id.to_string()) {
        return Err(reject(
            rejection::DUPLICATE_EVENT,
            format!(
                "event {} was already received in an earlier batch",
                event.id
            ),
        ));
    }
    if let Some(sealed) = event.body.sealed_answers() {
        seal::check_sealed_shape(sealed)
            .map_err(|e| reject(rejection::SEALED_ANSWERS_MALFORMED, e.to_string()))?;
    }
    if let EventBody::FormTranscribed { form, .. }
    | EventBody::TranscriptionVerified { form, .. }
    | EventBody::Correction { form, .. } = &event.body
    {
        if !campaign.forms.contains(form) {
            return Err(reject(
                rejection::FORM_MISMATCH,
                format!(
                    "form {form} is not a form of this campaign ({})",
                    campaign.forms.join(", ")
                ),
            ));
        }
    }
    if let EventBody::FormTranscribed { sealed_answers, .. } = &event.body {
        match (sealed_answers, campaign.rules.verification_required) {
            (None, false) => {
                return Err(reject(
                    rejection::ANSWERS_MISSING,
                    "this campaign does not verify transcriptions, so the first keying must carry the sealed answers",
                ))
            }
            // Answers that skipped the second keying would count as verified ones.
            (Some(_), true) => {
                return Err(reject(
                    rejection::ANSWERS_UNEXPECTED,
                    "this campaign verifies transcriptions: the answers travel with the verified keying, not the first",
                ))
            }
            _ => {}
        }
    }
    if let EventBody::ParcelHandedOver { serials, .. } = &event.body {
        return judge_parcel(event, serials, campaign, view, overlay);
    }

    let household_id = event.household.as_deref().unwrap_or_default();
    let facts = view
        .household(household_id)
        .map(|f| current(f, overlay))
        .ok_or_else(|| {
            reject(
                rejection::HOUSEHOLD_UNKNOWN,
                format!("household {household_id} is not in this campaign"),
            )
        })?;
    if facts.enumerator != event.enumerator {
        return Err(reject(
            rejection::HOUSEHOLD_NOT_ASSIGNED,
            format!(
                "household {} is assigned to another enumerator now; tell your supervisor",
                facts.id
            ),
        ));
    }
    if event.serial.as_deref() != Some(facts.serial.as_str()) {
        return Err(reject(
            rejection::SERIAL_MISMATCH,
            format!(
                "household {} has form serial {}, not {}",
                facts.id,
                facts.serial,
                event.serial.as_deref().unwrap_or("")
            ),
        ));
    }
    let next = lifecycle::next_status(facts.status, &event.body, campaign.rules)
        .map_err(|e| reject(rejection::ILLEGAL_TRANSITION, e.to_string()))?;
    let mut changes = vec![(facts.id.clone(), next)];

    if let EventBody::HouseholdReplaced { replacement } = &event.body {
        // The reserves as the batch has left them so far: a second replacement in one batch
        // takes the reserve after the one the first took.
        let expected = view
            .reserves(&facts.village)
            .into_iter()
            .map(|f| current(f, overlay))
            .find(|f| f.status == HouseholdStatus::Reserve);
        let Some(expected) = expected else {
            return Err(reject(
                rejection::REPLACEMENT_INVALID,
                format!("village {} has no reserve household left", facts.village),
            ));
        };
        if &expected.id != replacement {
            return Err(reject(
                rejection::REPLACEMENT_INVALID,
                format!(
                    "the next reserve household of village {} is {}, not {replacement}",
                    facts.village, expected.id
                ),
            ));
        }
        let activated = lifecycle::activate_reserve(expected.status)
            .map_err(|e| reject(rejection::REPLACEMENT_INVALID, e.to_string()))?;
        changes.push((expected.id, activated));
    }
    Ok(changes)
}

fn judge_parcel(
    event: &Event,
    serials: &[String],
    campaign: &CampaignRules,
    view: &mut dyn HouseholdView,
    overlay: &HashMap<String, HouseholdStatus>,
) -> Result<Vec<(String, HouseholdStatus)>, Rejection> {
    let mut changes = Vec::with_capacity(serials.len());
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for serial in serials {
        if !seen.insert(serial) {
            problems.push(format!("{serial} (listed twice)"));
            continue;
        }
        match view
            .household_by_serial(serial)
            .map(|f| current(f, overlay))
        {
            None => problems.push(format!("{serial} (unknown)")),
            Some(f) if f.enumerator != event.enumerator => {
                problems.push(format!("{serial} (another enumerator's)"))
            }
            Some(f) if !lifecycle::parcel_accepts(f.status, campaign.rules) => {
                problems.push(format!("{serial} ({})", f.status))
            }
            Some(f) => changes.push((f.id, HouseholdStatus::InParcel)),
        }
    }
    if problems.is_empty() {
        Ok(changes)
    } else {
        let need = if campaign.rules.verification_required {
            "verified"
        } else {
            "transcribed"
        };
        Err(reject(
            rejection::PARCEL_SERIAL_INVALID,
            format!(
                "a parcel may only hold this enumerator's {need} forms; not: {}",
                problems.join(", ")
            ),
        ))
    }
}
