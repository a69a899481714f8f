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

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, ToPrimitive, Zero};

use crate::{answer::Reading, definition::IndexRule, load::Form};

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
    /// The value rounded from its exact fraction, at every precision a page or file shows.
    #[serde(skip)]
    pub rounded: Option<Rounded>,
}

/// A share rounded half away from zero from its exact value (a fraction of integer counts) to
/// 0…[`Rounded::MAX_DECIMALS`] decimal places, each as a whole number of units of 10^-d: a
/// figure exactly on a boundary (27/80 = 0.3375) rounds up, whatever a float sum would say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rounded([i64; Rounded::MAX_DECIMALS + 1]);

impl Rounded {
    pub const MAX_DECIMALS: usize = 8;

    fn of(exact: &BigRational) -> Rounded {
        let mut out = [0i64; Rounded::MAX_DECIMALS + 1];
        for (d, slot) in out.iter_mut().enumerate() {
            *slot = round_half_away(exact, d).to_i64().unwrap_or(i64::MAX);
        }
        Rounded(out)
    }
}

/// `x` rounded half away from zero to `decimals` places, in units of 10^-decimals.
fn round_half_away(x: &BigRational, decimals: usize) -> BigInt {
    let scaled = x * BigRational::from_integer(BigInt::from(10u32).pow(decimals as u32));
    let (num, den) = (scaled.numer().abs(), scaled.denom().clone());
    // floor(|x|·10^d + 1/2) = floor((2·num + den) / (2·den)), then the sign back.
    let magnitude: BigInt = (num * 2 + &den) / (den * 2);
    if scaled.is_negative() {
        -magnitude
    } else {
        magnitude
    }
}

/// `units` of 10^-decimals written with a point: (3375, 4) → "0.3375".
pub fn decimal_text(units: i64, decimals: usize) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let digits = units.unsigned_abs().to_string();
    if decimals == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = decimals + 1);
    let (whole, fraction) = padded.split_at(padded.len() - decimals);
    format!("{sign}{whole}.{fraction}")
}

impl Share {
    /// The value rounded half away from zero to `decimals` places, in units of 10^-decimals:
    /// from the exact fraction where the index computed it, else from the float.
    pub fn rounded(&self, decimals: usize) -> Option<i64> {
        let value = self.value?;
        match self.rounded {
            Some(r) if decimals <= Rounded::MAX_DECIMALS => Some(r.0[decimals]),
            _ => {
                let scaled = value * 10f64.powi(decimals as i32);
                Some((scaled.abs() + 0.5).floor().copysign(scaled) as i64)
            }
        }
    }

    /// As a percentage with `decimals` places ("33.8"), or `None`.
    pub fn percent_text(&self, decimals: usize) -> Option<String> {
        self.rounded(decimals + 2)
            .map(|units| decimal_text(units, decimals))
    }

    /// As a fraction of one with `decimals` places ("0.6688"), or `None`.
    pub fn fraction_text(&self, decimals: usize) -> Option<String> {
        self.rounded(decimals)
            .map(|units| decimal_text(units, decimals))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AreaIndex {
    pub forms: u64,
    /// Of those, the sheets with at least one answer that counts in the overall index: the
    /// respondents the area's figure rests on (a sheet of "no answer" codes adds a form and
    /// nothing else).
    pub counted_forms: u64,
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

/// A figure before it is published: its exact value, its answers and its interval's size.
#[derive(Clone, Debug)]
struct Exact {
    value: Option<BigRational>,
    n: u64,
    n_eff: f64,
}

impl Exact {
    /// An item's share: satisfied / valid, with Wilson's interval at `valid`.
    fn item(satisfied: u64, valid: u64) -> Exact {
        Exact {
            value: (valid > 0)
                .then(|| BigRational::new(BigInt::from(satisfied), BigInt::from(valid))),
            n: valid,
            n_eff: valid as f64,
        }
    }

    /// The mean of the figures beneath that have a value; `n` sums all of them, and the
    /// interval's size is the mean of theirs.
    fn mean<'a>(below: impl Iterator<Item = &'a Exact>) -> Exact {
        let (mut sum, mut count, mut n, mut n_eff) = (BigRational::zero(), 0u32, 0u64, 0.0);
        for e in below {
            n += e.n;
            if let Some(v) = &e.value {
                sum += v;
                n_eff += e.n_eff;
                count += 1;
            }
        }
        if count == 0 {
            Exact {
                value: None,
                n,
                n_eff: 0.0,
            }
        } else {
            Exact {
                value: Some(sum / BigInt::from(count)),
                n,
                n_eff: n_eff / f64::from(count),
            }
        }
    }

    /// Published with Wilson's interval at its size.
    fn share(&self) -> Share {
        let value = self.value.as_ref().map(|v| v.to_f64().unwrap_or(f64::NAN));
        let (low, high) = match value {
            Some(v) => {
                let (l, h) = wilson(v, self.n_eff);
                (Some(l), Some(h))
            }
            None => (None, None),
        };
        Share {
            value,
            n: self.n,
            effective_n: self.n_eff,
            low,
            high,
            rounded: self.value.as_ref().map(Rounded::of),
        }
    }
}

/// (satisfied, valid) per index item, in the rule's item order.
#[derive(Clone, Debug, Default)]
struct Counts {
    forms: u64,
    counted_forms: u64,
    items: Vec<(u64, u64)>,
}

struct Plan<'a> {
    form: &'a Form,
    rule: &'a IndexRule,
    /// Every item of the rule once, in order: (question id, its valid scale codes).
    items: Vec<(String, Vec<i64>)>,
    position: BTreeMap<String, usize>,
    /// Per item: whether it is beneath a part of the overall index.
    in_overall: Vec<bool>,
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
    let mut in_overall = vec![false; items.len()];
    for part in rule.parts.iter().filter(|p| rule.overall.contains(&p.id)) {
        for c in rule
            .criteria
            .iter()
            .filter(|c| part.criteria.contains(&c.id))
        {
            for id in &c.items {
                if let Some(k) = position.get(id) {
                    in_overall[*k] = true;
                }
            }
        }
    }
    Some(Plan {
        form,
        rule,
        items,
        position,
        in_overall,
    })
}

fn add(verdict: &[(u64, u64)], counted: bool, into: &mut Counts) {
    into.forms += 1;
    into.counted_forms += u64::from(counted);
    if into.items.is_empty() {
        into.items = vec![(0, 0); verdict.len()];
    }
    for (total, (satisfied, valid)) in into.items.iter_mut().zip(verdict) {
        total.0 += satisfied;
        total.1 += valid;
    }
}

/// An area's figures, exact, at every level of the rule.
struct ExactArea {
    forms: u64,
    counted_forms: u64,
    overall: Exact,
    parts: BTreeMap<String, Exact>,
    criteria: BTreeMap<String, Exact>,
    items: BTreeMap<String, Exact>,
}

impl ExactArea {
    fn published(&self) -> AreaIndex {
        let all =
            |m: &BTreeMap<String, Exact>| m.iter().map(|(k, e)| (k.clone(), e.share())).collect();
        AreaIndex {
            forms: self.forms,
            counted_forms: self.counted_forms,
            overall: self.overall.share(),
            parts: all(&self.parts),
            criteria: all(&self.criteria),
            items: all(&self.items),
        }
    }
}

fn area_index(plan: &Plan, counts: &Counts) -> ExactArea {
    let item = |k: usize| {
        let (s, v) = counts.items.get(k).copied().unwrap_or((0, 0));
        Exact::item(s, v)
    };
    let items: BTreeMap<String, Exact> = plan
        .items
        .iter()
        .enumerate()
        .map(|(k, (id, ..))| (id.clone(), item(k)))
        .collect();
    let criteria: BTreeMap<String, Exact> = plan
        .rule
        .criteria
        .iter()
        .map(|c| {
            let below: Vec<Exact> = c.items.iter().map(|i| item(plan.position[i])).collect();
            (c.id.clone(), Exact::mean(below.iter()))
        })
        .collect();
    let parts: BTreeMap<String, Exact> = plan
        .rule
        .parts
        .iter()
        .map(|p| {
            (
                p.id.clone(),
                Exact::mean(p.criteria.iter().map(|c| &criteria[c.as_str()])),
            )
        })
        .collect();
    let overall = Exact::mean(plan.rule.overall.iter().map(|p| &parts[p.as_str()]));
    ExactArea {
        forms: counts.forms,
        counted_forms: counts.counted_forms,
        overall,
        parts,
        criteria,
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
/// version's relevance, valid and satisfied codes for each item of `current`'s rule (an item
/// its version lacks counts as not answered). The figures keep `current`'s items, criteria
/// and parts, so a revision mid-campaign that changes a code list neither drops nor mis-scores
/// older sheets.
pub fn compute_versioned(current: &Form, forms: &[(&OpenedForm, &Form)]) -> IndexReport {
    compute_with_sheets(current, forms).0
}

/// As [`compute_versioned`], with whether each sheet (in `forms`' order) has at least one
/// answer that counts in the overall index: a sheet left all blank, unreadable or answered
/// only with "no answer" codes adds a form to its areas' `forms` and nothing to their figures
/// or `counted_forms`, and is worth a look at its paper.
pub fn compute_with_sheets(
    current: &Form,
    forms: &[(&OpenedForm, &Form)],
) -> (IndexReport, Vec<bool>) {
    let Some(plan) = plan(current) else {
        let empty = AreaIndex {
            forms: forms.len() as u64,
            counted_forms: 0,
            overall: Exact::mean(std::iter::empty()).share(),
            parts: BTreeMap::new(),
            criteria: BTreeMap::new(),
            items: BTreeMap::new(),
        };
        let report = IndexReport {
            areas: BTreeMap::new(),
            national: empty,
        };
        return (report, vec![false; forms.len()]);
    };
    let mut sheets = Vec::with_capacity(forms.len());
    // One plan per version, found by identity (a campaign has a handful of versions).
    let mut plans: Vec<(*const Form, Option<Plan>)> = Vec::new();
    let mut counts: BTreeMap<(Level, String), Counts> = BTreeMap::new();
    for (f, version) in forms {
        let key: *const Form = *version;
        let verdict = if std::ptr::eq(key, current) {
            judge_as(&plan, Some(&plan), &f.answers)
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
        let counted = verdict
            .iter()
            .zip(&plan.in_overall)
            .any(|((_, valid), inside)| *inside && *valid > 0);
        sheets.push(counted);
        for (level, area) in [
            (Level::Village, &f.origin.village),
            (Level::Commune, &f.origin.commune),
            (Level::District, &f.origin.district),
            (Level::Province, &f.origin.province),
        ] {
            add(
                &verdict,
                counted,
                counts.entry((level, area.clone())).or_default(),
            );
        }
    }
    let mut exact: BTreeMap<Level, BTreeMap<String, ExactArea>> = BTreeMap::new();
    for ((level, area), c) in &counts {
        exact
            .entry(*level)
            .or_default()
            .insert(area.clone(), area_index(&plan, c));
    }
    let provinces: Vec<&ExactArea> = exact
        .get(&Level::Province)
        .map(|m| m.values().collect())
        .unwrap_or_default();
    let national = mean_of_areas(&provinces);
    let areas = exact
        .iter()
        .map(|(level, m)| {
            (
                *level,
                m.iter().map(|(k, a)| (k.clone(), a.published())).collect(),
            )
        })
        .collect();
    (IndexReport { areas, national }, sheets)
}

/// A sheet judged on `current`'s items by its own version: an item counts only where that
/// version's relevance says it applies and the answer is one of its scale codes (see
/// [`crate::answer`]: special codes, marks, answers to questions that do not apply and values
/// no device sends all count as not answered). An item its version lacks, or a version
/// without an index rule, counts as not answered.
fn judge_as(
    current: &Plan,
    version: Option<&Plan>,
    answers: &BTreeMap<String, Json>,
) -> Vec<(u64, u64)> {
    let Some(version) = version else {
        return vec![(0, 0); current.items.len()];
    };
    let readings = crate::answer::read(version.form, answers);
    current
        .items
        .iter()
        .map(|(id, _)| {
            let Some(at) = version.position.get(id) else {
                return (0, 0);
            };
            if readings.get(id) != Some(&Reading::Valid) {
                return (0, 0);
            }
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

/// The national figure: each share the mean of the provinces' (SIPAS publishes no weights).
/// Its interval fits that estimator: the provinces are independent samples, so the variance of
/// their mean is the sum of their variances over k²; each province's variance is read from its
/// own 95 % Wilson interval, ((high − low) / (2·1.96))², which is never zero. With one
/// province the figure is that province's, with its Wilson interval.
fn mean_of_areas(areas: &[&ExactArea]) -> AreaIndex {
    let combine = |get: &dyn Fn(&ExactArea) -> Option<&Exact>| -> Share {
        let below: Vec<&Exact> = areas.iter().filter_map(|a| get(a)).collect();
        let exact = Exact::mean(below.iter().copied());
        let with_value: Vec<Share> = below
            .iter()
            .filter(|e| e.value.is_some())
            .map(|e| e.share())
            .collect();
        let mut published = exact.share();
        published.effective_n = with_value.iter().map(|s| s.effective_n).sum();
        if with_value.len() > 1 {
            let k = with_value.len() as f64;
            let variance: f64 = with_value
                .iter()
                .map(|s| {
                    let half = (s.high.unwrap_or(1.0) - s.low.unwrap_or(0.0)) / (2.0 * Z);
                    half * half
                })
                .sum::<f64>()
                / (k * k);
            let mean = published.value.unwrap_or(0.0);
            let half = Z * variance.sqrt();
            published.low = Some((mean - half).max(0.0));
            published.high = Some((mean + half).min(1.0));
        }
        published
    };
    let keys = |get: &dyn Fn(&ExactArea) -> Vec<String>| -> Vec<String> {
        let mut k: Vec<String> = areas.iter().flat_map(|a| get(a)).collect();
        k.sort();
        k.dedup();
        k
    };
    let map = |names: Vec<String>,
               get: &dyn for<'x> Fn(&'x ExactArea, &str) -> Option<&'x Exact>|
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
        counted_forms: areas.iter().map(|a| a.counted_forms).sum(),
        overall: combine(&|a| Some(&a.overall)),
        parts: map(keys(&|a| a.parts.keys().cloned().collect()), &|a, k| {
            a.parts.get(k)
        }),
        criteria: map(keys(&|a| a.criteria.keys().cloned().collect()), &|a, k| {
            a.criteria.get(k)
        }),
        items: map(keys(&|a| a.items.keys().cloned().collect()), &|a, k| {
            a.items.get(k)
        }),
    }
}
