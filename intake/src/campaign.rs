//! The campaign file: everything the intake must know before the first form is handed out.
//!
//! Format `fieldpost-campaign/1`, JSON, documented in `docs/campaign-format.md`. One intake
//! database holds one campaign (a SIPAS year); next year gets a fresh database.
//!
//! [`Campaign::validate`] reports every problem with its location (`provinces[0].districts[2]…`),
//! not only the first, so a ministry clerk can fix a file in one pass.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use sync_protocol::{assignment::Timeline, canonical::nfc, keys::MinistryPublicKey};

pub const FORMAT: &str = "fieldpost-campaign/1";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub format: String,
    pub id: String,
    pub name: String,
    pub timezone: String,
    /// Form definition reference, e.g. `sipas-2024@1`.
    pub form: String,
    pub replacement_allowed: bool,
    pub verification_required: bool,
    pub timeline: Timeline,
    /// X25519 public key (base64) to which devices seal answers.
    pub ministry_public_key: String,
    pub provinces: Vec<Province>,
    pub enumerators: Vec<Enumerator>,
    #[serde(default)]
    pub supervisors: Vec<Supervisor>,
    /// Campaigns of one family (SIPAS 2024, 2025 …) are compared year by year; the campaign's
    /// id when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// The survey's year; the year its hand-out starts when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Province {
    pub id: String,
    pub name: String,
    pub districts: Vec<District>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct District {
    pub id: String,
    pub name: String,
    pub communes: Vec<Commune>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commune {
    pub id: String,
    pub name: String,
    pub villages: Vec<Village>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Village {
    pub id: String,
    pub name: String,
    /// The sampled households, each with the serial of the paper form it gets.
    pub households: Vec<Household>,
    /// Reserve households in the order they replace refusals and moves.
    #[serde(default)]
    pub reserve: Vec<Household>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Household {
    pub id: String,
    pub serial: String,
    pub name: String,
    pub address: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enumerator {
    pub id: String,
    pub name: String,
    /// Village ids this enumerator covers. Every village has exactly one enumerator.
    pub villages: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supervisor {
    pub login: String,
    pub name: String,
    /// District ids this supervisor watches.
    pub districts: Vec<String>,
}

/// One problem in a campaign file, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub at: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

impl Campaign {
    /// Parses a campaign file; JSON errors come back as one problem with line and column.
    pub fn from_json(text: &str) -> Result<Campaign, Vec<Problem>> {
        let mut c: Campaign = serde_json::from_str(text).map_err(|e| {
            vec![Problem {
                at: format!("line {}, column {}", e.line(), e.column()),
                message: e.to_string(),
            }]
        })?;
        c.normalize();
        c.validate()?;
        Ok(c)
    }

    /// Vietnamese text arrives composed or decomposed; store one form.
    fn normalize(&mut self) {
        let n = |s: &mut String| *s = nfc(s);
        n(&mut self.name);
        for p in &mut self.provinces {
            n(&mut p.name);
            for d in &mut p.districts {
                n(&mut d.name);
                for c in &mut d.communes {
                    n(&mut c.name);
                    for v in &mut c.villages {
                        n(&mut v.name);
                        for h in v.households.iter_mut().chain(v.reserve.iter_mut()) {
                            n(&mut h.name);
                            n(&mut h.address);
                        }
                    }
                }
            }
        }
        for e in &mut self.enumerators {
            n(&mut e.name);
        }
        for s in &mut self.supervisors {
            n(&mut s.name);
        }
    }

    pub fn ministry_key(&self) -> Result<MinistryPublicKey, String> {
        MinistryPublicKey::from_b64(&self.ministry_public_key).map_err(|e| e.to_string())
    }

    pub fn villages(&self) -> impl Iterator<Item = (&Province, &District, &Commune, &Village)> {
        self.provinces.iter().flat_map(|p| {
            p.districts.iter().flat_map(move |d| {
                d.communes
                    .iter()
                    .flat_map(move |c| c.villages.iter().map(move |v| (p, d, c, v)))
            })
        })
    }

    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut problems = Vec::new();
        let mut problem = |at: String, message: String| problems.push(Problem { at, message });
        if self.format != FORMAT {
            problem(
                "format".into(),
                format!("expected {FORMAT:?}, found {:?}", self.format),
            );
        }
        for (field, value) in [("id", &self.id), ("name", &self.name), ("form", &self.form)] {
            if value.trim().is_empty() {
                problem(field.into(), "must not be empty".into());
            }
        }
        // The id names the campaign's pages and its database file.
        let slug = |v: &str| {
            (1..=64).contains(&v.len())
                && v.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !v.starts_with('-')
        };
        if !self.id.is_empty() && !slug(&self.id) {
            problem(
                "id".into(),
                format!(
                    "{:?}: 1–64 characters of a-z, 0-9 and '-', not starting with '-'",
                    self.id
                ),
            );
        }
        if let Some(family) = &self.family {
            if !slug(family) {
                problem(
                    "family".into(),
                    format!(
                        "{family:?}: 1–64 characters of a-z, 0-9 and '-', not starting with '-'"
                    ),
                );
            }
        }
        if let Some(year) = self.year {
            if !(2000..=2100).contains(&year) {
                problem("year".into(), format!("{year} is not a survey year"));
            }
        }
        if self.timezone.parse::<Tz>().is_err() {
            problem(
                "timezone".into(),
                format!(
                    "{:?} is not an IANA time zone (e.g. Asia/Ho_Chi_Minh)",
                    self.timezone
                ),
            );
        }
        let t = &self.timeline;
        for (name, w) in [
            ("distribute", t.distribute),
            ("collect", t.collect),
            ("submit", t.submit),
        ] {
            if w.start > w.end {
                problem(
                    format!("timeline.{name}"),
                    format!("starts {} after it ends {}", w.start, w.end),
                );
            }
        }
        if t.distribute.start > t.collect.start || t.collect.start > t.submit.start {
            problem(
                "timeline".into(),
                "windows must come in the order distribute, collect, submit".into(),
            );
        }
        if let Err(e) = self.ministry_key() {
            problem("ministry_public_key".into(), e);
        }
        if self.provinces.is_empty() {
            problem(
                "provinces".into(),
                "a campaign needs at least one province".into(),
            );
        }

        let mut ids: HashMap<String, String> = HashMap::new();
        let mut serials: HashMap<&str, String> = HashMap::new();
        let mut village_ids = HashSet::new();
        let mut district_ids = HashSet::new();
        let mut unique = |kind: &str, id: &str, at: &str, problems: &mut Vec<Problem>| {
            if id.trim().is_empty()
                || id.len() > 64
                || id.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                problems.push(Problem {
                    at: at.into(),
                    message: format!("{kind} id {id:?} must be 1–64 characters without spaces"),
                });
            }
            if let Some(first) = ids.insert(id.to_string(), at.to_string()) {
                problems.push(Problem {
                    at: at.into(),
                    message: format!("{kind} id {id:?} is already used at {first}"),
                });
            }
        };
        for (pi, p) in self.provinces.iter().enumerate() {
            let at = format!("provinces[{pi}]");
            unique("province", &p.id, &at, &mut problems);
            for (di, d) in p.districts.iter().enumerate() {
                let at = format!("{at}.districts[{di}]");
                unique("district", &d.id, &at, &mut problems);
                district_ids.insert(d.id.as_str());
                for (ci, c) in d.communes.iter().enumerate() {
                    let at = format!("{at}.communes[{ci}]");
                    unique("commune", &c.id, &at, &mut problems);
                    for (vi, v) in c.villages.iter().enumerate() {
                        let at = format!("{at}.villages[{vi}]");
                        unique("village", &v.id, &at, &mut problems);
                        village_ids.insert(v.id.as_str());
                        if v.households.is_empty() {
                            problems.push(Problem {
                                at: at.clone(),
                                message: "a village needs sampled households".into(),
                            });
                        }
                        let all = v
                            .households
                            .iter()
                            .map(|h| ("households", h))
                            .chain(v.reserve.iter().map(|h| ("reserve", h)));
                        let mut counters: HashMap<&str, usize> = HashMap::new();
                        for (list, h) in all {
                            let i = counters.entry(list).or_default();
                            let at = format!("{at}.{list}[{i}]");
                            *i += 1;
                            unique("household", &h.id, &at, &mut problems);
                            if h.serial.trim().is_empty() {
                                problems.push(Problem {
                                    at: at.clone(),
                                    message: "serial must not be empty".into(),
                                });
                            } else if let Some(first) =
                                serials.insert(h.serial.as_str(), at.clone())
                            {
                                problems.push(Problem {
                                    at: at.clone(),
                                    message: format!(
                                        "serial {:?} is already used at {first}",
                                        h.serial
                                    ),
                                });
                            }
                        }
                    }
                }
            }
        }
        let mut covered: HashMap<&str, &str> = HashMap::new();
        for (ei, e) in self.enumerators.iter().enumerate() {
            let at = format!("enumerators[{ei}]");
            unique("enumerator", &e.id, &at, &mut problems);
            for v in &e.villages {
                if !village_ids.contains(v.as_str()) {
                    problems.push(Problem {
                        at: at.clone(),
                        message: format!("village {v:?} is not in the campaign"),
                    });
                } else if let Some(other) = covered.insert(v.as_str(), e.id.as_str()) {
                    problems.push(Problem {
                        at: at.clone(),
                        message: format!("village {v:?} is already covered by {other:?}"),
                    });
                }
            }
        }
        for v in &village_ids {
            if !covered.contains_key(v) {
                problems.push(Problem {
                    at: "enumerators".into(),
                    message: format!("village {v:?} has no enumerator"),
                });
            }
        }
        let mut logins = HashSet::new();
        for (si, s) in self.supervisors.iter().enumerate() {
            let at = format!("supervisors[{si}]");
            if !logins.insert(s.login.as_str()) {
                problems.push(Problem {
                    at: at.clone(),
                    message: format!("login {:?} is used twice", s.login),
                });
            }
            for d in &s.districts {
                if !district_ids.contains(d.as_str()) {
                    problems.push(Problem {
                        at: at.clone(),
                        message: format!("district {d:?} is not in the campaign"),
                    });
                }
            }
        }
        problems.sort_by(|a, b| a.at.cmp(&b.at));
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The enumerator covering each village.
    pub fn village_enumerators(&self) -> HashMap<&str, &str> {
        self.enumerators
            .iter()
            .flat_map(|e| e.villages.iter().map(move |v| (v.as_str(), e.id.as_str())))
            .collect()
    }

    pub fn info(&self) -> sync_protocol::assignment::CampaignInfo {
        sync_protocol::assignment::CampaignInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            timezone: self.timezone.clone(),
            timeline: self.timeline,
            form: self.form.clone(),
            replacement_allowed: self.replacement_allowed,
            verification_required: self.verification_required,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let mut c = crate::demo::quang_tri_2024(&crate::demo::fixed_ministry_key().public());
        c.provinces[0].districts[0].communes[0].villages[1].households[0].serial =
            c.provinces[0].districts[0].communes[0].villages[0].households[0]
                .serial
                .clone();
        c.enumerators[0].villages.push("no-such-village".into());
        c.timezone = "Mars/Olympus".into();
        c.supervisors[0].districts.push("nowhere".into());
        let problems = c.validate().unwrap_err();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 4, "{text:#?}");
        assert!(text.iter().any(|p| p.starts_with(
            "provinces[0].districts[0].communes[0].villages[1].households[0]: serial"
        )));
        assert!(text
            .iter()
            .any(|p| p.starts_with("enumerators[0]: village \"no-such-village\"")));
        assert!(text.iter().any(|p| p.starts_with("timezone:")));
        assert!(text
            .iter()
            .any(|p| p.starts_with("supervisors[0]: district \"nowhere\"")));
    }

    #[test]
    fn bad_json_names_line_and_column() {
        let err = Campaign::from_json("{\n  \"format\": 3\n}").unwrap_err();
        assert!(err[0].at.starts_with("line 2"), "{:?}", err);
    }
}
