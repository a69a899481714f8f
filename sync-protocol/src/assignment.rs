//! The assignment: what an enrolled device downloads (signed by the intake) — its households,
//! the form, the timeline and the keys it needs.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    error::ProtocolError,
    keys::{DeviceKey, MinistryPublicKey, PublicKey},
    lifecycle::HouseholdStatus,
    signed::{SignedDocument, ASSIGNMENT_DOMAIN},
    time::DeviceTime,
};

/// Inclusive dates in the campaign's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Window {
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.end
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeline {
    pub distribute: Window,
    pub collect: Window,
    pub submit: Window,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignInfo {
    pub id: String,
    pub name: String,
    /// IANA zone, e.g. `Asia/Ho_Chi_Minh`.
    pub timezone: String,
    pub timeline: Timeline,
    /// Form definition reference, e.g. `sipas-2024@1`.
    pub form: String,
    /// Whether refused or moved households may be replaced from the reserve list.
    pub replacement_allowed: bool,
    /// Whether a transcription must be double-keyed before its parcel goes.
    pub verification_required: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignedVillage {
    pub id: String,
    pub name: String,
    pub commune: Place,
    pub district: Place,
    pub province: Place,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignedHousehold {
    pub id: String,
    pub village: String,
    pub serial: String,
    pub name: String,
    pub address: String,
    /// Order on the village's reserve list (1, 2, 3); absent for sampled households.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_rank: Option<u32>,
    pub status: HouseholdStatus,
    /// Work another enumerator did for this household before it was moved here, which a
    /// supervisor accepted into this household's record (the paper may be theirs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried_over: Option<CarriedOver>,
}

/// Another enumerator's accepted work on a household now assigned here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarriedOver {
    /// The enumerator whose events were accepted.
    pub from: Place,
    /// How many of their events were accepted so far.
    pub events: u32,
}

/// A household this enumerator had, now another's: the device keeps showing it, with whom it
/// went to, so that its paper reaches the right hands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MovedAway {
    pub household: String,
    pub to: Place,
}

/// A supervisor's decision on one of this enumerator's rejected events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolvedRejection {
    pub event: Uuid,
    pub decision: Resolution,
    /// The supervisor's words (for a dismissal) or whose record it joined (for an acceptance).
    pub note: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Taken into the household's record as it stands now (the new enumerator's).
    Accepted,
    /// Set aside, with a reason.
    Dismissed,
}

/// A form version the campaign uses, named by reference and content: the device fetches the
/// definition from `GET /v1/forms/<sha256>` and keeps it only if its SHA-256 matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormRef {
    /// `id@version`.
    pub reference: String,
    /// SHA-256 (hex) of the definition's canonical JSON bytes.
    pub sha256: String,
}

/// At most this many resolutions travel in an assignment (the newest).
pub const RESOLVED_MAX: usize = 1000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub protocol: u32,
    pub campaign: CampaignInfo,
    pub device: Uuid,
    pub enumerator: Place,
    pub villages: Vec<AssignedVillage>,
    pub households: Vec<AssignedHousehold>,
    /// Every form version of the campaign; `campaign.form` names the one new sheets are keyed
    /// with (absent only from assignments before forms travelled over the air).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forms: Vec<FormRef>,
    /// Households reassigned away from this enumerator (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved_away: Vec<MovedAway>,
    /// Supervisors' decisions on this enumerator's rejected events (absent when none): a
    /// rejected event not listed here is still waiting for one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<ResolvedRejection>,
    pub intake_public_key: PublicKey,
    pub ministry_public_key: MinistryPublicKey,
    pub issued_at: DeviceTime,
}

impl Assignment {
    pub fn sign(&self, intake_key: &DeviceKey) -> Result<SignedDocument, ProtocolError> {
        SignedDocument::sign(ASSIGNMENT_DOMAIN, self, intake_key)
    }
    pub fn verify(
        signed: &SignedDocument,
        intake_key: &PublicKey,
    ) -> Result<Assignment, ProtocolError> {
        signed.verify(ASSIGNMENT_DOMAIN, intake_key, "assignment")
    }

    /// What a device needs to download again only if it changed: SHA-256 (hex) of the canonical
    /// assignment without `issued_at` and without household statuses. Statuses are left out
    /// because the device's own are newer (they come from its own events); a household new to
    /// the device changes the list, and so the tag.
    pub fn tag(&self) -> Result<String, ProtocolError> {
        use sha2::Digest;
        let mut value = serde_json::to_value(self).map_err(|e| ProtocolError::InvalidField {
            field: "assignment",
            detail: e.to_string(),
        })?;
        if let Some(object) = value.as_object_mut() {
            object.remove("issued_at");
            if let Some(serde_json::Value::Array(households)) = object.get_mut("households") {
                for h in households.iter_mut().filter_map(|h| h.as_object_mut()) {
                    h.remove("status");
                }
            }
        }
        Ok(hex::encode(sha2::Sha256::digest(
            crate::canonical::to_canonical_bytes(&value)?,
        )))
    }
}
