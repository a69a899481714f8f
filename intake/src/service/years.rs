//! Targets and years side by side. A campaign's owner sets, per area, the least index the area
//! should reach that year (Hà Nội's plan: above 85 % in 2023, 90–95 % by 2025); the campaigns of
//! one form family (SIPAS 2024, 2025 …) are compared per area from the index each kept when its
//! owner last computed it (figures only: opening every year's sheets again would need every
//! year's passphrase), with whether each area met its target.

use super::*;
use forms::index::{IndexReport, Level};
use std::collections::BTreeMap;

/// The index as kept for the comparison: every area's overall figure, by id and name.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeptIndex {
    pub rows: Vec<KeptRow>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeptRow {
    pub level: Level,
    pub area: String,
    pub name: String,
    pub forms: u64,
    /// Percent, with the 95 % interval.
    pub percent: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

impl KeptIndex {
    pub fn of(report: &IndexReport, names: &HashMap<String, String>) -> KeptIndex {
        let pct = |x: Option<f64>| x.map(|v| v * 100.0);
        let rows = report
            .areas
            .iter()
            .flat_map(|(level, areas)| {
                areas.iter().map(move |(id, a)| KeptRow {
                    level: *level,
                    area: id.clone(),
                    name: names.get(id).cloned().unwrap_or_else(|| id.clone()),
                    forms: a.forms,
                    percent: pct(a.overall.value),
                    low: pct(a.overall.low),
                    high: pct(a.overall.high),
                })
            })
            .collect();
        KeptIndex { rows }
    }
}

/// One area across the years: its index each year, the target, whether it was met.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct YearRow {
    pub level: Level,
    pub area: String,
    pub name: String,
    /// Per year, in the order of [`YearComparison::years`].
    pub cells: Vec<Option<YearCell>>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct YearCell {
    /// Index in percent, with its 95 % interval and forms counted.
    pub percent: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub forms: u64,
    pub target: Option<f64>,
    /// `Some(true)` met, `Some(false)` missed, `None` without a target or a figure.
    pub met: Option<bool>,
}

/// A family's years, compared.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct YearComparison {
    pub family: String,
    /// (year, campaign id, campaign name, when its index was kept), oldest first.
    pub years: Vec<(i32, String, String, Option<String>)>,
    pub rows: Vec<YearRow>,
}

impl Intake {
    /// Sets or clears an area's target (percent, 0 < p ≤ 100); audited.
    pub fn set_target(
        &self,
        level: Level,
        area: &str,
        percent: Option<f64>,
        by: &str,
        address: &str,
    ) -> Result<(), IntakeError> {
        if let Some(p) = percent {
            if !(p > 0.0 && p <= 100.0) {
                return Err(IntakeError::Declined(
                    "Chỉ tiêu là một phần trăm lớn hơn 0, tối đa 100 (để trống để bỏ chỉ tiêu). / A target is a percentage above 0, at most 100 (leave it empty to clear it)."
                        .into(),
                ));
            }
        }
        if !self.store.place_names()?.contains_key(area) {
            return Err(IntakeError::NotFound);
        }
        self.store
            .set_target(level, area, percent, by, Utc::now())?;
        self.audit(
            by,
            "target_set",
            &format!(
                "chỉ tiêu {} {area}: {}",
                level.as_str(),
                percent
                    .map(|p| format!("{p} %"))
                    .unwrap_or_else(|| "—".into())
            ),
            address,
            Utc::now(),
        )?;
        Ok(())
    }

    /// The index as its owner last computed it, if ever.
    pub fn kept_index(&self) -> Result<Option<(KeptIndex, String)>, IntakeError> {
        match self.store.kept_index()? {
            None => Ok(None),
            Some((figures, at)) => Ok(Some((
                serde_json::from_str(&figures).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                at,
            ))),
        }
    }
}

impl Centre {
    /// The campaigns of `family` that `visible` admits, compared per area (oldest year first).
    pub fn compare_years(
        &self,
        family: &str,
        visible: impl Fn(&str) -> bool,
    ) -> Result<YearComparison, IntakeError> {
        let mut years = Vec::new();
        let mut kept: Vec<(Option<KeptIndex>, BTreeMap<(Level, String), f64>)> = Vec::new();
        let mut names: BTreeMap<(Level, String), String> = BTreeMap::new();
        let mut entries: Vec<_> = self
            .entries()?
            .into_iter()
            .filter(|e| e.family == family && visible(&e.id))
            .collect();
        entries.sort_by_key(|e| (e.year, e.added_at.clone()));
        for e in &entries {
            let Some(intake) = self.campaign(&e.id)? else {
                continue;
            };
            let figures = intake.kept_index()?;
            let targets: BTreeMap<(Level, String), f64> = intake
                .store
                .targets()?
                .into_iter()
                .map(|(l, a, p)| ((l, a), p))
                .collect();
            let places = intake.store.place_names()?;
            for (level, area) in targets.keys() {
                names
                    .entry((*level, area.clone()))
                    .or_insert_with(|| places.get(area).cloned().unwrap_or_else(|| area.clone()));
            }
            if let Some((f, _)) = &figures {
                for row in &f.rows {
                    names
                        .entry((row.level, row.area.clone()))
                        .or_insert_with(|| row.name.clone());
                }
            }
            years.push((
                e.year,
                e.id.clone(),
                e.name.clone(),
                figures.as_ref().map(|(_, at)| at.clone()),
            ));
            kept.push((figures.map(|(f, _)| f), targets));
        }
        let rows = names
            .into_iter()
            .map(|((level, area), name)| {
                let cells = kept
                    .iter()
                    .map(|(figures, targets)| {
                        let row = figures.as_ref().and_then(|f| {
                            f.rows.iter().find(|r| r.level == level && r.area == area)
                        });
                        let target = targets.get(&(level, area.clone())).copied();
                        if row.is_none() && target.is_none() {
                            return None;
                        }
                        let percent = row.and_then(|r| r.percent);
                        Some(YearCell {
                            percent,
                            low: row.and_then(|r| r.low),
                            high: row.and_then(|r| r.high),
                            forms: row.map(|r| r.forms).unwrap_or(0),
                            target,
                            met: match (percent, target) {
                                (Some(p), Some(t)) => Some(p >= t),
                                _ => None,
                            },
                        })
                    })
                    .collect();
                YearRow {
                    level,
                    area,
                    name,
                    cells,
                }
            })
            .collect();
        Ok(YearComparison {
            family: family.to_string(),
            years,
            rows,
        })
    }
}
