//! Events: one per thing that happened to a household or a parcel.
//!
//! An event is immutable once made. State (a household's status) is derived from the events
//! that the intake accepted, in order; nothing else changes it.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

use crate::{canonical::nfc, error::ProtocolError, keys::Base64Bytes, limits, time::DeviceTime};

/// A UUID v7 made on the device: unique without coordination, roughly time-ordered.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(transparent)]
pub struct EventId(pub Uuid);

impl EventId {
    pub fn new_v7() -> Self {
        EventId(Uuid::now_v7())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub id: EventId,
    /// The household it happened to; absent only for parcel events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub household: Option<String>,
    /// The paper form's serial; absent only for parcel events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Who recorded it (the enumerator id the device is enrolled for).
    pub enumerator: String,
    /// When it happened, on the device's clock, with its offset.
    pub at: DeviceTime,
    pub body: EventBody,
}

/// Who received the paper form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// The household's representative, who answers the form.
    Representative,
    /// Another member of the household, who passes it on.
    FamilyMember,
}

/// Why a visit did not end in a hand-out or a collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitOutcome {
    /// Nobody at home; the enumerator comes back.
    Absent,
    Refused,
    Moved,
    /// The house cannot be found or reached (flooded road, wrong address).
    Unreachable,
    /// The household lost the paper form it was given.
    FormLost,
}

impl VisitOutcome {
    pub fn may_retry(self) -> bool {
        matches!(self, VisitOutcome::Absent)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            VisitOutcome::Absent => "absent",
            VisitOutcome::Refused => "refused",
            VisitOutcome::Moved => "moved",
            VisitOutcome::Unreachable => "unreachable",
            VisitOutcome::FormLost => "form_lost",
        }
    }
}

/// What happened. `type` names the variant on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventBody {
    /// The paper form was handed to the household.
    FormDistributed {
        recipient: Recipient,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The filled paper form was taken back.
    FormCollected {},
    /// A visit that ended otherwise.
    VisitOutcome {
        outcome: VisitOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The paper form was keyed on the device. Where the campaign verifies transcriptions the
    /// answers travel once, sealed in `transcription_verified`, and this event carries none;
    /// otherwise they are sealed here.
    FormTranscribed {
        /// Form definition reference, e.g. `sipas-2024@1`.
        form: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sealed_answers: Option<Base64Bytes>,
        /// Seconds spent keying (paradata for the ministry's anomaly checks).
        keying_seconds: u32,
    },
    /// A second, blind keying of the same paper form, with the mismatches resolved.
    TranscriptionVerified {
        form: String,
        /// The answers after resolution against the paper.
        sealed_answers: Base64Bytes,
        keying_seconds: u32,
        mismatches: u32,
        keyer_errors: u32,
        verifier_errors: u32,
    },
    /// Answers keyed again from paper to correct an earlier transcription.
    Correction {
        form: String,
        sealed_answers: Base64Bytes,
        keying_seconds: u32,
        reason: String,
    },
    /// A refused or moved household replaced by the next reserve household of its village.
    HouseholdReplaced { replacement: String },
    /// Paper forms grouped into a parcel and handed to the post office.
    ParcelHandedOver {
        parcel: String,
        serials: Vec<String>,
    },
}

impl EventBody {
    /// The stable wire name of the variant (`type`).
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::FormDistributed { .. } => "form_distributed",
            EventBody::FormCollected {} => "form_collected",
            EventBody::VisitOutcome { .. } => "visit_outcome",
            EventBody::FormTranscribed { .. } => "form_transcribed",
            EventBody::TranscriptionVerified { .. } => "transcription_verified",
            EventBody::Correction { .. } => "correction",
            EventBody::HouseholdReplaced { .. } => "household_replaced",
            EventBody::ParcelHandedOver { .. } => "parcel_handed_over",
        }
    }

    pub fn is_parcel(&self) -> bool {
        matches!(self, EventBody::ParcelHandedOver { .. })
    }

    /// The one word a history line adds to the kind: the visit's outcome, who received the
    /// form, or the household brought in as a replacement (wire names).
    pub fn detail(&self) -> Option<String> {
        let wire = |v: serde_json::Result<serde_json::Value>| {
            v.ok().and_then(|v| v.as_str().map(String::from))
        };
        match self {
            EventBody::VisitOutcome { outcome, .. } => wire(serde_json::to_value(outcome)),
            EventBody::FormDistributed { recipient, .. } => wire(serde_json::to_value(recipient)),
            EventBody::HouseholdReplaced { replacement } => Some(replacement.clone()),
            _ => None,
        }
    }

    /// What the enumerator wrote down with it.
    pub fn note(&self) -> Option<&str> {
        match self {
            EventBody::FormDistributed { note, .. } | EventBody::VisitOutcome { note, .. } => {
                note.as_deref()
            }
            _ => None,
        }
    }

    /// The sealed answers this event carries, if any.
    pub fn sealed_answers(&self) -> Option<&[u8]> {
        match self {
            EventBody::FormTranscribed { sealed_answers, .. } => {
                sealed_answers.as_ref().map(|s| s.0.as_slice())
            }
            EventBody::TranscriptionVerified { sealed_answers, .. }
            | EventBody::Correction { sealed_answers, .. } => Some(&sealed_answers.0),
            _ => None,
        }
    }
}

impl Event {
    /// A household event, with its text fields in NFC.
    pub fn for_household(
        household: &str,
        serial: &str,
        enumerator: &str,
        at: DeviceTime,
        body: EventBody,
    ) -> Self {
        Event {
            id: EventId::new_v7(),
            household: Some(nfc(household)),
            serial: Some(nfc(serial)),
            enumerator: nfc(enumerator),
            at,
            body,
        }
    }

    /// A parcel event, which belongs to no single household.
    pub fn parcel(enumerator: &str, at: DeviceTime, parcel: &str, serials: Vec<String>) -> Self {
        Event {
            id: EventId::new_v7(),
            household: None,
            serial: None,
            enumerator: nfc(enumerator),
            at,
            body: EventBody::ParcelHandedOver {
                parcel: nfc(parcel),
                serials: serials.iter().map(|s| nfc(s)).collect(),
            },
        }
    }

    /// Shape checks that need no campaign knowledge: the event is internally consistent.
    /// The intake applies these as part of integrity (a device never produces such events).
    pub fn check_shape(&self) -> Result<(), ProtocolError> {
        let household_event = !self.body.is_parcel();
        if household_event && (self.household.is_none() || self.serial.is_none()) {
            return Err(ProtocolError::InvalidField {
                field: "household",
                detail: format!(
                    "event {} of type {} must name a household and a serial",
                    self.id,
                    self.body.kind()
                ),
            });
        }
        if !household_event && (self.household.is_some() || self.serial.is_some()) {
            return Err(ProtocolError::InvalidField {
                field: "household",
                detail: format!("parcel event {} names no single household", self.id),
            });
        }
        if self.id.0.get_version_num() != 7 {
            return Err(ProtocolError::InvalidField {
                field: "id",
                detail: format!("{} is not a UUID v7", self.id),
            });
        }
        if let EventBody::ParcelHandedOver { parcel, .. } = &self.body {
            if parcel.trim().is_empty() || parcel.chars().count() > 64 {
                return Err(ProtocolError::InvalidField {
                    field: "parcel",
                    detail: format!(
                        "parcel event {} needs a parcel id of 1 to 64 characters",
                        self.id
                    ),
                });
            }
        }
        let texts: Vec<&str> = match &self.body {
            EventBody::FormDistributed { note, .. } | EventBody::VisitOutcome { note, .. } => {
                note.iter().map(|s| s.as_str()).collect()
            }
            EventBody::Correction { reason, .. } => vec![reason.as_str()],
            _ => vec![],
        };
        for t in texts {
            if t.chars().count() > limits::MAX_TEXT_CHARS {
                return Err(ProtocolError::TooLarge {
                    what: "free text",
                    size: t.len(),
                    limit: limits::MAX_TEXT_CHARS,
                });
            }
        }
        if let Some(sealed) = self.body.sealed_answers() {
            if sealed.len() > limits::MAX_SEALED_BYTES {
                return Err(ProtocolError::TooLarge {
                    what: "sealed answers",
                    size: sealed.len(),
                    limit: limits::MAX_SEALED_BYTES,
                });
            }
        }
        if let EventBody::ParcelHandedOver { serials, .. } = &self.body {
            if serials.is_empty() || serials.len() > limits::MAX_PARCEL_SERIALS {
                return Err(ProtocolError::InvalidField {
                    field: "serials",
                    detail: format!(
                        "a parcel lists 1 to {} serials, not {}",
                        limits::MAX_PARCEL_SERIALS,
                        serials.len()
                    ),
                });
            }
        }
        Ok(())
    }
}
