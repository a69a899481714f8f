//! What a campaign publishes: its index for the public, at the levels its owner chose, with no
//! area below a minimum number of forms (a small area's figure says too much about too few
//! households, and too little about the area). Pure: the figures are cut from a computed index;
//! the store keeps them, so the public page needs no key and no account.

use forms::index::{IndexReport, Level};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The least forms an area may have to be published, whatever its owner sets.
pub const MIN_FORMS_FLOOR: u64 = 5;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublishedArea {
    /// `province`, `district` or `commune`.
    pub level: String,
    pub name: String,
    pub forms: u64,
    /// The index in per cent, with its 95 % interval.
    pub value: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Published {
    pub campaign: String,
    /// The finest level published.
    pub level: String,
    pub min_forms: u64,
    pub areas: Vec<PublishedArea>,
    /// Areas left out for having fewer forms than `min_forms`.
    pub suppressed: usize,
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Province => "province",
        Level::District => "district",
        Level::Commune => "commune",
        Level::Village => "village",
    }
}

/// Parses a level as a form posts it. Villages are never published: a village's sample is a
/// handful of known households, whose answers its figure would all but name.
pub fn parse_level(s: &str) -> Option<Level> {
    [Level::Province, Level::District, Level::Commune]
        .into_iter()
        .find(|l| level_name(*l) == s)
}

/// The figures to publish: every level from the province down to `finest`, each area with at
/// least `min_forms` forms (never fewer than [`MIN_FORMS_FLOOR`]), named as people know it.
pub fn figures(
    campaign: &str,
    report: &IndexReport,
    finest: Level,
    min_forms: u64,
    names: &HashMap<String, String>,
) -> Published {
    let min_forms = min_forms.max(MIN_FORMS_FLOOR);
    let mut areas = Vec::new();
    let mut suppressed = 0;
    for level in [Level::Province, Level::District, Level::Commune]
        .into_iter()
        .filter(|l| *l >= finest)
    {
        for (id, a) in report.areas.get(&level).into_iter().flatten() {
            if a.forms < min_forms {
                suppressed += 1;
                continue;
            }
            let pct = |x: Option<f64>| x.map(|v| (v * 1000.0).round() / 10.0);
            areas.push(PublishedArea {
                level: level_name(level).into(),
                name: names.get(id).cloned().unwrap_or_else(|| id.clone()),
                forms: a.forms,
                // Rounded once from the exact fraction: 27/80 is 33.8, not a float's 33.7.
                value: a.overall.rounded(3).map(|units| units as f64 / 10.0),
                low: pct(a.overall.low),
                high: pct(a.overall.high),
            });
        }
    }
    Published {
        campaign: campaign.into(),
        level: level_name(finest).into(),
        min_forms,
        areas,
        suppressed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use forms::index::{AreaIndex, Share};
    use std::collections::BTreeMap;

    fn area(forms: u64, value: f64) -> AreaIndex {
        let s = Share {
            value: Some(value),
            n: forms,
            effective_n: forms as f64,
            low: Some(value - 0.1),
            high: Some(value + 0.1),
            rounded: None,
        };
        AreaIndex {
            forms,
            overall: s,
            parts: BTreeMap::new(),
            criteria: BTreeMap::new(),
            items: BTreeMap::new(),
        }
    }

    #[test]
    fn small_areas_and_finer_levels_stay_out() {
        let mut areas = BTreeMap::new();
        areas.insert(
            Level::Province,
            BTreeMap::from([("qt".to_string(), area(120, 0.81234))]),
        );
        areas.insert(
            Level::District,
            BTreeMap::from([
                ("dh".to_string(), area(90, 0.8)),
                ("gl".to_string(), area(12, 0.7)),
            ]),
        );
        areas.insert(
            Level::Commune,
            BTreeMap::from([("dh-p2".to_string(), area(60, 0.79))]),
        );
        let report = IndexReport {
            areas,
            national: area(120, 0.81),
        };
        let names = HashMap::from([
            ("qt".to_string(), "Tỉnh Quảng Trị".to_string()),
            ("dh".to_string(), "Thành phố Đông Hà".to_string()),
        ]);
        let p = figures("qt-2024", &report, Level::District, 30, &names);
        let shown: Vec<(&str, &str, Option<f64>)> = p
            .areas
            .iter()
            .map(|a| (a.level.as_str(), a.name.as_str(), a.value))
            .collect();
        assert_eq!(
            shown,
            [
                ("province", "Tỉnh Quảng Trị", Some(81.2)),
                ("district", "Thành phố Đông Hà", Some(80.0))
            ]
        );
        assert_eq!(p.suppressed, 1, "Gio Linh has 12 forms, under 30");
        assert_eq!(
            figures("x", &report, Level::District, 1, &names).min_forms,
            MIN_FORMS_FLOOR,
            "never below the floor"
        );
        assert_eq!(parse_level("district"), Some(Level::District));
        assert_eq!(parse_level("nowhere"), None);
        assert_eq!(parse_level("village"), None, "villages are not published");
    }
}
