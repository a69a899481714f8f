//! The household lifecycle, shared by the device (which refuses illegal steps as they are
//! keyed) and the intake (which rejects them per event). One table, two enforcers.
//!
//! ```text
//! reserve ──(replaces a refused/moved household)──▶ assigned
//! assigned ─▶ distributed ─▶ collected ─▶ transcribed ─▶ verified ─▶ in_parcel
//!    │  ▲          │                          └───────────────────────▲ (when verification is not required)
//!    ▼  │(retry)   ├─ absent at collection: stays distributed
//!  absent          └─ refused / moved / unreachable / form_lost
//! assigned, absent ─▶ refused / moved / unreachable
//! refused, moved ─▶ replaced
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

use crate::event::{EventBody, VisitOutcome};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum HouseholdStatus {
    /// On the reserve list, not (yet) in the sample.
    Reserve,
    Assigned,
    /// Nobody was home before the hand-out; the enumerator comes back.
    Absent,
    Distributed,
    Collected,
    Refused,
    Moved,
    Unreachable,
    FormLost,
    Transcribed,
    Verified,
    InParcel,
    /// Refused or moved, and replaced by a reserve household.
    Replaced,
}

impl HouseholdStatus {
    pub const ALL: [HouseholdStatus; 13] = [
        HouseholdStatus::Reserve,
        HouseholdStatus::Assigned,
        HouseholdStatus::Absent,
        HouseholdStatus::Distributed,
        HouseholdStatus::Collected,
        HouseholdStatus::Refused,
        HouseholdStatus::Moved,
        HouseholdStatus::Unreachable,
        HouseholdStatus::FormLost,
        HouseholdStatus::Transcribed,
        HouseholdStatus::Verified,
        HouseholdStatus::InParcel,
        HouseholdStatus::Replaced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HouseholdStatus::Reserve => "reserve",
            HouseholdStatus::Assigned => "assigned",
            HouseholdStatus::Absent => "absent",
            HouseholdStatus::Distributed => "distributed",
            HouseholdStatus::Collected => "collected",
            HouseholdStatus::Refused => "refused",
            HouseholdStatus::Moved => "moved",
            HouseholdStatus::Unreachable => "unreachable",
            HouseholdStatus::FormLost => "form_lost",
            HouseholdStatus::Transcribed => "transcribed",
            HouseholdStatus::Verified => "verified",
            HouseholdStatus::InParcel => "in_parcel",
            HouseholdStatus::Replaced => "replaced",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the household is part of the working sample (not reserve, not replaced).
    pub fn in_sample(self) -> bool {
        !matches!(self, HouseholdStatus::Reserve | HouseholdStatus::Replaced)
    }
}

impl fmt::Display for HouseholdStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("a household that is {from} cannot take a {event} event{hint}")]
pub struct IllegalTransition {
    pub from: HouseholdStatus,
    pub event: &'static str,
    pub hint: &'static str,
}

/// Campaign rules that change which steps are legal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    pub replacement_allowed: bool,
    pub verification_required: bool,
}

/// The status a household moves to when `body` happens to it. Parcel events are judged per
/// serial with [`parcel_accepts`]; the reserve side of a replacement with [`activate_reserve`].
pub fn next_status(
    from: HouseholdStatus,
    body: &EventBody,
    rules: Rules,
) -> Result<HouseholdStatus, IllegalTransition> {
    use HouseholdStatus as S;
    let illegal = |hint: &'static str| IllegalTransition {
        from,
        event: body.kind(),
        hint,
    };
    match body {
        EventBody::FormDistributed { .. } => match from {
            S::Assigned | S::Absent => Ok(S::Distributed),
            _ => Err(illegal(
                " (only an assigned or absent household can receive a form)",
            )),
        },
        EventBody::FormCollected {} => match from {
            S::Distributed => Ok(S::Collected),
            _ => Err(illegal(" (the form must have been handed out first)")),
        },
        EventBody::VisitOutcome { outcome, .. } => match (from, outcome) {
            (S::Assigned | S::Absent, VisitOutcome::Absent) => Ok(S::Absent),
            (S::Distributed, VisitOutcome::Absent) => Ok(S::Distributed),
            (S::Assigned | S::Absent | S::Distributed, VisitOutcome::Refused) => Ok(S::Refused),
            (S::Assigned | S::Absent | S::Distributed, VisitOutcome::Moved) => Ok(S::Moved),
            (S::Assigned | S::Absent | S::Distributed, VisitOutcome::Unreachable) => {
                Ok(S::Unreachable)
            }
            (S::Distributed, VisitOutcome::FormLost) => Ok(S::FormLost),
            _ => Err(illegal(
                " (a visit outcome needs a household still being worked)",
            )),
        },
        EventBody::FormTranscribed { .. } => match from {
            S::Collected => Ok(S::Transcribed),
            _ => Err(illegal(" (only a collected form can be transcribed)")),
        },
        EventBody::TranscriptionVerified { .. } => match from {
            S::Transcribed => Ok(S::Verified),
            _ => Err(illegal(" (only a transcribed form can be verified)")),
        },
        EventBody::Correction { .. } => match from {
            S::Transcribed | S::Verified | S::InParcel => Ok(from),
            _ => Err(illegal(" (only a transcribed form can be corrected)")),
        },
        EventBody::HouseholdReplaced { .. } => match from {
            _ if !rules.replacement_allowed => {
                Err(illegal(" (this campaign does not allow replacement)"))
            }
            S::Refused | S::Moved => Ok(S::Replaced),
            _ => Err(illegal(
                " (only a refused or moved household can be replaced)",
            )),
        },
        EventBody::ParcelHandedOver { .. } => {
            Err(illegal(" (a parcel event names no single household)"))
        }
    }
}

/// Whether a household's paper form may go into a parcel.
pub fn parcel_accepts(status: HouseholdStatus, rules: Rules) -> bool {
    match status {
        HouseholdStatus::Verified => true,
        HouseholdStatus::Transcribed => !rules.verification_required,
        _ => false,
    }
}

/// The status a reserve household takes when it replaces another.
pub fn activate_reserve(status: HouseholdStatus) -> Result<HouseholdStatus, IllegalTransition> {
    match status {
        HouseholdStatus::Reserve => Ok(HouseholdStatus::Assigned),
        from => Err(IllegalTransition {
            from,
            event: "household_replaced",
            hint: " (the replacement must be an unused reserve household)",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Base64Bytes;

    const RULES: Rules = Rules {
        replacement_allowed: true,
        verification_required: true,
    };

    fn walk(events: &[EventBody]) -> Result<HouseholdStatus, IllegalTransition> {
        events
            .iter()
            .try_fold(HouseholdStatus::Assigned, |s, e| next_status(s, e, RULES))
    }

    fn transcribed() -> EventBody {
        EventBody::FormTranscribed {
            form: "f@1".into(),
            sealed_answers: Some(Base64Bytes(vec![0; 64])),
            keying_seconds: 60,
        }
    }

    #[test]
    fn the_usual_path_and_a_retry_after_absence() {
        let distributed = EventBody::FormDistributed {
            recipient: crate::event::Recipient::Representative,
            note: None,
        };
        let absent = EventBody::VisitOutcome {
            outcome: VisitOutcome::Absent,
            note: None,
        };
        let path = [
            absent.clone(),
            distributed,
            absent,
            EventBody::FormCollected {},
            transcribed(),
        ];
        assert_eq!(walk(&path), Ok(HouseholdStatus::Transcribed));
        assert!(parcel_accepts(HouseholdStatus::Verified, RULES));
        assert!(!parcel_accepts(HouseholdStatus::Transcribed, RULES));
    }

    #[test]
    fn illegal_steps_are_refused() {
        assert!(walk(&[EventBody::FormCollected {}]).is_err());
        assert!(walk(&[transcribed()]).is_err());
        let refused = EventBody::VisitOutcome {
            outcome: VisitOutcome::Refused,
            note: None,
        };
        let replaced = EventBody::HouseholdReplaced {
            replacement: "x".into(),
        };
        assert_eq!(
            walk(&[refused.clone(), replaced.clone()]),
            Ok(HouseholdStatus::Replaced)
        );
        let no_replacement = Rules {
            replacement_allowed: false,
            ..RULES
        };
        assert!(next_status(HouseholdStatus::Refused, &replaced, no_replacement).is_err());
        assert!(activate_reserve(HouseholdStatus::Assigned).is_err());
    }
}
