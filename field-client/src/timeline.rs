//! The campaign's timeline on a given day: which phase, what is due, what is late.

use chrono::NaiveDate;
use std::collections::BTreeMap;
use sync_protocol::lifecycle::HouseholdStatus;

use crate::{Client, ClientError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    BeforeDistribution,
    Distribute,
    /// Between distribution and collection: households fill in their forms.
    Filling,
    Collect,
    /// Between collection and submission: transcribe, verify, pack parcels.
    Transcribe,
    Submit,
    Over,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct VillageToday {
    pub to_distribute: u32,
    pub to_collect: u32,
    pub to_transcribe: u32,
    /// Forms still undistributed after the distribution window, uncollected after the
    /// collection window, or not yet in a parcel after the submission window.
    pub late: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Today {
    pub phase: Phase,
    pub villages: BTreeMap<String, VillageToday>,
}

impl Client {
    pub fn today(&self, day: NaiveDate) -> Result<Today, ClientError> {
        let campaign = self.assignment()?.campaign;
        let t = campaign.timeline;
        // Keying is done when the form is transcribed, or verified where a second keying is due.
        let keyed = |s: HouseholdStatus| {
            s == HouseholdStatus::Verified
                || (s == HouseholdStatus::Transcribed && !campaign.verification_required)
        };
        let phase = if day < t.distribute.start {
            Phase::BeforeDistribution
        } else if t.distribute.contains(day) {
            Phase::Distribute
        } else if day < t.collect.start {
            Phase::Filling
        } else if t.collect.contains(day) {
            Phase::Collect
        } else if day < t.submit.start {
            Phase::Transcribe
        } else if t.submit.contains(day) {
            Phase::Submit
        } else {
            Phase::Over
        };
        let mut villages: BTreeMap<String, VillageToday> = BTreeMap::new();
        for h in self.households()?.into_iter().filter(|h| h.assigned) {
            let v = villages.entry(h.village.clone()).or_default();
            use HouseholdStatus as S;
            match h.status {
                S::Assigned | S::Absent => {
                    v.to_distribute += 1;
                    v.late += u32::from(day > t.distribute.end);
                }
                S::Distributed => {
                    v.to_collect += 1;
                    v.late += u32::from(day > t.collect.end);
                }
                S::Collected | S::Transcribed | S::Verified => {
                    v.to_transcribe += u32::from(!keyed(h.status));
                    v.late += u32::from(day > t.submit.end);
                }
                _ => {}
            }
        }
        Ok(Today { phase, villages })
    }
}
