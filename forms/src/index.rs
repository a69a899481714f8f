//! The index: from opened answer sheets to shares of satisfied answers, by area.
//!
//! Item value = satisfied valid answers / valid answers (valid = a scale code; "not
//! applicable", "no answer", skipped and invalid answers do not count). Criteria, parts and the
//! overall index are the mean of the level below, per the form's [`IndexRule`]. Every area is
//! computed from its own forms; the national figure is the mean of the provinces'.
//!
//! Each share carries `n` and a 95 % Wilson interval. For an item, `n` is its valid answers and
//! the interval is the exact Wilson score interval. For a mean of shares, `n` is the valid
//! answers summed over the items beneath it, and the interval is Wilson's around the mean with
//! the average number of valid answers per item as its sample size — an approximation (items
//! answered by the same respondents are not independent), stated here so that nobody reads it
//! as more.
//!
//! Everything is computed from integer counts in definition order, so the result does not depend
//! on the order of the forms.

use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;

use crate::{definition::IndexRule, load::Form};

/// Where an opened form came from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    pub village: String,
    pub commune: String,
    pub district: String,
    pub province: String,
}

#[derive(Clone, Debug)]
pub struct OpenedForm {
    pub origin: Origin,
    pub answers: BTreeMap<String, Json>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Share {
    /// `None` when nothing valid was answered.
    pub value: Option<f64>,
    pub n: u64,
    /// The sample size the interval uses (see the module documentation).
    pub effective_n: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AreaIndex {
    pub forms: u64,
    pub overall: Share,
    pub parts: BTreeMap<String, Share>,
    pub criteria: BTreeMap<String, Share>,
    pub items: BTreeMap<String, Share>,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Village,
    Commune,
    District,
    Province,
}

impl Level {
    pub const ALL: [Level; 4] = [
        Level::Province,
        Level::District,
        Level::Commune,
        Level::Village,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Village => "village",
            Level::Commune => "commune",
            Level::District => "district",
            Level::Province => "province",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IndexReport {
    pub areas: BTreeMap<Level, BTreeMap<String, AreaIndex>>,
    /// Mean of the provinces.
    pub national: AreaIndex,
}

const Z: f64 = 1.959_963_984_540_054;

/// The 95 % Wilson score interval for a share `p` observed on `n` answers.
pub fn wilson(p: f64, n: f64) -> (f64, f64) {
    if n <= 0.0 {
        return (0.0, 1.0);
    }
    let z2 = Z * Z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

fn share(value: Option<f64>, n: u64, n_for_interval: f64) -> Share {
    match value {
        None => Share {
            value: None,
            n,
            effective_n: n_for_interval,
            low: None,
            high: None,
        },
        Some(v) => {
            let (low, high) = wilson(v, n_for_interval);
            Share {
                value: Some(v),
                n,
                effective_n: n_for_interval,
                low: Some(low),
                high: Some(high),
            }
        }
    }
}

/// (satisfied, valid) per index item, in the rule's item order.
#[derive(Clone, Debug, Default)]
struct Counts {
    forms: u64,
    items: Vec<(u64, u64)>,
}

struct Plan<'a> {
    rule: &'a IndexRule,
    /// Every item of the rule once, in order: (question id, its valid scale codes).
    items: Vec<(String, Vec<i64>)>,
    position: BTreeMap<String, usize>,
}

fn plan(form: &Form) -> Option<Plan<'_>> {
    let rule = form.definition.index.as_ref()?;
    let mut items = Vec::new();
    let mut position = BTreeMap::new();
    for c in &rule.criteria {
        for id in &c.items {
            if !position.contains_key(id) {
                position.insert(id.clone(), items.len());
                let codes = match form.question(id).map(|q| &q.accepts) {
                    Some(crate::load::Accepts::Code(codes)) => codes.clone(),
                    _ => Vec::new(),
                };
                items.push((id.clone(), codes));
            }
        }
    }
    Some(Plan {
        rule,
        items,
        position,
    })
}

/// One form's verdict per item: (satisfied, valid) as 0 or 1.
fn judge(plan: &Plan, answers: &BTreeMap<String, Json>) -> Vec<(u64, u64)> {
    judge_as(plan, Some(plan), answers)
}

fn add(verdict: &[(u64, u64)], into: &mut Counts) {
    into.forms += 1;
    if into.items.is_empty() {
        into.items = vec![(0, 0); verdict.len()];
    }
    for (total, (satisfied, valid)) in into.items.iter_mut().zip(verdict) {
        total.0 += satisfied;
        total.1 += valid;
    }
}

fn mean(values: impl Iterator<Item = (Option<f64>, u64, f64)>) -> (Option<f64>, u64, f64) {
    let (mut sum, mut count, mut n, mut n_eff) = (0.0, 0u32, 0u64, 0.0);
    for (v, vn, veff) in values {
        n += vn;
        if let Some(v) = v {
            sum += v;
            n_eff += veff;
            count += 1;
        }
    }
    if count == 0 {
        (None, n, 0.0)
    } else {
        (Some(sum / count as f64), n, n_eff / count as f64)
    }
}

fn area_index(plan: &Plan, counts: &Counts) -> AreaIndex {
    let item_value = |k: usize| -> (Option<f64>, u64, f64) {
        let (s, v) = counts.items.get(k).copied().unwrap_or((0, 0));
        ((v > 0).then(|| s as f64 / v as f64), v, v as f64)
    };
    let items: BTreeMap<String, Share> = plan
        .items
        .iter()
        .enumerate()
        .map(|(k, (id, ..))| {
            let (v, n, eff) = item_value(k);
            (id.clone(), share(v, n, eff))
        })
        .collect();
    let criterion_values: BTreeMap<&str, (Option<f64>, u64, f64)> = plan
        .rule
        .criteria
        .iter()
        .map(|c| {
            (
                c.id.as_str(),
                mean(c.items.iter().map(|i| item_value(plan.position[i]))),
            )
        })
        .collect();
    let part_values: BTreeMap<&str, (Option<f64>, u64, f64)> = plan
        .rule
        .parts
        .iter()
        .map(|p| {
            (
                p.id.as_str(),
                mean(p.criteria.iter().map(|c| criterion_values[c.as_str()])),
            )
        })
        .collect();
    let overall = mean(plan.rule.overall.iter().map(|p| part_values[p.as_str()]));
    AreaIndex {
        forms: counts.forms,
        overall: share(overall.0, overall.1, overall.2),
        parts: part_values
            .iter()
            .map(|(k, v)| (k.to_string(), share(v.0, v.1, v.2)))
            .collect(),
        criteria: criterion_values
            .iter()
            .map(|(k, v)| (k.to_string(), share(v.0, v.1, v.2)))
            .collect(),
        items,
    }
}

/// Computes the index by village, commune, district and province, and nationally.
/// A form without an index rule gives empty results.
pub fn compute(form: &Form, forms: &[OpenedForm]) -> IndexReport {
    let versioned: Vec<(&OpenedForm, &Form)> = forms.iter().map(|f| (f, form)).collect();
    compute_versioned(form, &versioned)
}

/// As [`compute`], with each sheet judged by the form version it was sealed under: that
/// version's valid and satisfied codes for each item of `current`'s rule (an item its version
/// lacks counts as not answered). The figures keep `current`'s items, criteria and parts, so a
/// revision mid-campaign that changes a code list neither drops nor mis-scores older sheets.
pub fn compute_versioned(current: &Form, forms: &[(&OpenedForm, &Form)]) -> IndexReport {
    let Some(plan) = plan(current) else {
        let empty = AreaIndex {
            forms: forms.len() as u64,
            overall: share(None, 0, 0.0),
            parts: BTreeMap::new(),
            criteria: BTreeMap::new(),
            items: BTreeMap::new(),
        };
        return IndexReport {
            areas: BTreeMap::new(),
            national: empty,
        };
    };
    // One plan per version, found by identity (a campaign has a handful of versions).
    let mut plans: Vec<(*const Form, Option<Plan>)> = Vec::new();
    let mut counts: BTreeMap<(Level, String), Counts> = BTreeMap::new();
    for (f, version) in forms {
        let key: *const Form = *version;
        let verdict = if std::ptr::eq(key, current) {
            judge(&plan, &f.answers)
        } else {
            let at = match plans.iter().position(|(k, _)| *k == key) {
                Some(at) => at,
                None => {
                    plans.push((key, self::plan(version)));
                    plans.len() - 1
                }
            };
            judge_as(&plan, plans[at].1.as_ref(), &f.answers)
        };
        for (level, area) in [
            (Level::Village, &f.origin.village),
            (Level::Commune, &f.origin.commune),
            (Level::District, &f.origin.district),
            (Level::Province, &f.origin.province),
        ] {
            add(&verdict, counts.entry((level, area.clone())).or_default());
        }
    }
    let mut areas: BTreeMap<Level, BTreeMap<String, AreaIndex>> = BTreeMap::new();
    for ((level, area), c) in &counts {
        areas
            .entry(*level)
            .or_default()
            .insert(area.clone(), area_index(&plan, c));
    }
    let provinces: Vec<&AreaIndex> = areas
        .get(&Level::Province)
        .map(|m| m.values().collect())
        .unwrap_or_default();
    let national = mean_of_areas(&provinces);
    IndexReport { areas, national }
}

/// A sheet judged on `current`'s items with its own version's valid and satisfied codes (an
/// item its version lacks, or a version without an index rule, counts as not answered).
fn judge_as(
    current: &Plan,
    version: Option<&Plan>,
    answers: &BTreeMap<String, Json>,
) -> Vec<(u64, u64)> {
    current
        .items
        .iter()
        .map(|(id, _)| {
            let Some(version) = version else {
                return (0, 0);
            };
            let Some(at) = version.position.get(id) else {
                return (0, 0);
            };
            let codes = &version.items[*at].1;
            match answers.get(id).and_then(Json::as_i64) {
                Some(code) if codes.contains(&code) => {
                    (u64::from(version.rule.satisfied_codes.contains(&code)), 1)
                }
                _ => (0, 0),
            }
        })
        .collect()
}

/// The national figure: each share the mean of the provinces' (SIPAS publishes no weights);
/// its interval uses the provinces' effective sizes summed.
fn mean_of_areas(areas: &[&AreaIndex]) -> AreaIndex {
    let combine = |get: &dyn Fn(&AreaIndex) -> Option<Share>| -> Share {
        let (mut sum, mut count, mut n) = (0.0, 0u32, 0u64);
        let mut n_eff = 0.0;
        for a in areas {
            if let Some(s) = get(a) {
                n += s.n;
                if let Some(v) = s.value {
                    sum += v;
                    count += 1;
                    n_eff += s.effective_n;
                }
            }
        }
        if count == 0 {
            share(None, n, 0.0)
        } else {
            share(Some(sum / count as f64), n, n_eff)
        }
    };
    let keys = |get: &dyn Fn(&AreaIndex) -> Vec<String>| -> Vec<String> {
        let mut k: Vec<String> = areas.iter().flat_map(|a| get(a)).collect();
        k.sort();
        k.dedup();
        k
    };
    let map = |names: Vec<String>,
               get: &dyn Fn(&AreaIndex, &str) -> Option<Share>|
     -> BTreeMap<String, Share> {
        names
            .into_iter()
            .map(|k| {
                let s = combine(&|a| get(a, &k));
                (k, s)
            })
            .collect()
    };
    AreaIndex {
        forms: areas.iter().map(|a| a.forms).sum(),
        overall: combine(&|a| Some(a.overall)),
        parts: map(keys(&|a| a.parts.keys().cloned().collect()), &|a, k| {
            a.parts.get(k).copied()
        }),
        criteria: map(keys(&|a| a.criteria.keys().cloned().collect()), &|a, k| {
            a.criteria.get(k).copied()
        }),
        items: map(keys(&|a| a.items.keys().cloned().collect()), &|a, k| {
            a.items.get(k).copied()
        }),
    }
}
