//! Progress against the timeline, from household statuses only: what a supervisor watches.
//! Counts are cumulative ("handed out" includes every form that went further), and what the
//! timeline expects by a given day grows linearly through each window.

use chrono::NaiveDate;
use serde::Serialize;
use sync_protocol::assignment::{Timeline, Window};

use crate::store::VillageProgress;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Households in the sample (activated reserve households included, unused reserve not).
    pub sampled: u32,
    pub handed_out: u32,
    pub collected: u32,
    pub transcribed: u32,
    pub verified: u32,
    pub in_parcel: u32,
    pub absent: u32,
    pub refused: u32,
    pub moved: u32,
    pub unreachable: u32,
    pub form_lost: u32,
    pub replaced: u32,
    /// Households the intake has heard anything of (every status but assigned).
    pub synced: u32,
}

impl Counts {
    pub fn from_statuses(statuses: &std::collections::BTreeMap<String, u32>) -> Counts {
        let n = |names: &[&str]| {
            names
                .iter()
                .map(|s| statuses.get(*s).copied().unwrap_or(0))
                .sum::<u32>()
        };
        Counts {
            sampled: statuses
                .iter()
                .filter(|(s, _)| s.as_str() != "reserve")
                .map(|(_, n)| n)
                .sum(),
            handed_out: n(&[
                "distributed",
                "collected",
                "transcribed",
                "verified",
                "in_parcel",
                "form_lost",
            ]),
            collected: n(&["collected", "transcribed", "verified", "in_parcel"]),
            transcribed: n(&["transcribed", "verified", "in_parcel"]),
            verified: n(&["verified", "in_parcel"]),
            in_parcel: n(&["in_parcel"]),
            absent: n(&["absent"]),
            refused: n(&["refused"]),
            moved: n(&["moved"]),
            unreachable: n(&["unreachable"]),
            form_lost: n(&["form_lost"]),
            replaced: n(&["replaced"]),
            synced: statuses
                .iter()
                .filter(|(s, _)| !matches!(s.as_str(), "reserve" | "assigned"))
                .map(|(_, n)| n)
                .sum(),
        }
    }

    fn add(&mut self, o: &Counts) {
        self.sampled += o.sampled;
        self.handed_out += o.handed_out;
        self.collected += o.collected;
        self.transcribed += o.transcribed;
        self.verified += o.verified;
        self.in_parcel += o.in_parcel;
        self.absent += o.absent;
        self.refused += o.refused;
        self.moved += o.moved;
        self.unreachable += o.unreachable;
        self.form_lost += o.form_lost;
        self.replaced += o.replaced;
        self.synced += o.synced;
    }

    /// Households that can still give a form: not refused, moved, unreachable or replaced.
    fn workable(&self) -> u32 {
        self.sampled
            .saturating_sub(self.refused + self.moved + self.unreachable + self.replaced)
    }
}

/// What the timeline expects to be done by a day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Expected {
    pub handed_out: u32,
    pub collected: u32,
    pub in_parcel: u32,
}

fn share_by(day: NaiveDate, w: &Window) -> f64 {
    if day < w.start {
        0.0
    } else if day >= w.end {
        1.0
    } else {
        let total = (w.end - w.start).num_days() + 1;
        ((day - w.start).num_days() + 1) as f64 / total as f64
    }
}

pub fn expected(counts: &Counts, timeline: &Timeline, day: NaiveDate) -> Expected {
    let of = |w: &Window| (counts.workable() as f64 * share_by(day, w)).floor() as u32;
    Expected {
        handed_out: of(&timeline.distribute),
        collected: of(&timeline.collect),
        in_parcel: of(&timeline.submit),
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub district_id: String,
    pub district: String,
    pub commune: String,
    pub village_id: String,
    pub village: String,
    pub enumerator_id: String,
    pub enumerator: String,
    pub counts: Counts,
    pub expected: Expected,
    /// Short reasons, e.g. `handed_out 10 of 27 expected`.
    pub behind: Vec<String>,
    /// How many forms short of the timeline, all stages together: what the page sorts by.
    pub shortfall: u32,
    pub last_sync: Option<String>,
    /// Whether the enumerator has an enrolled, unrevoked device (never enrolled and not synced
    /// are different problems with different fixes).
    pub has_device: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub day: NaiveDate,
    pub rows: Vec<Row>,
    pub total: Counts,
    pub expected: Expected,
    pub behind: usize,
}

pub fn report(progress: Vec<VillageProgress>, timeline: &Timeline, day: NaiveDate) -> Report {
    let mut total = Counts::default();
    let rows: Vec<Row> = progress
        .into_iter()
        .map(|p| {
            let counts = Counts::from_statuses(&p.statuses);
            total.add(&counts);
            let expected = expected(&counts, timeline, day);
            let mut behind = Vec::new();
            let mut shortfall = 0;
            for (what, done, want) in [
                ("handed_out", counts.handed_out, expected.handed_out),
                ("collected", counts.collected, expected.collected),
                ("in_parcel", counts.in_parcel, expected.in_parcel),
            ] {
                if done < want {
                    behind.push(format!("{what} {done} of {want} expected"));
                    shortfall += want - done;
                }
            }
            Row {
                district_id: p.district_id,
                district: p.district,
                commune: p.commune,
                village_id: p.village_id,
                village: p.village,
                enumerator_id: p.enumerator_id,
                enumerator: p.enumerator,
                counts,
                expected,
                behind,
                shortfall,
                last_sync: p.last_sync,
                has_device: p.has_device,
            }
        })
        .collect();
    let expected = expected(&total, timeline, day);
    let behind = rows.iter().filter(|r| !r.behind.is_empty()).count();
    Report {
        day,
        rows,
        total,
        expected,
        behind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn window(a: &str, b: &str) -> Window {
        Window {
            start: a.parse().unwrap(),
            end: b.parse().unwrap(),
        }
    }

    #[test]
    fn expectations_grow_through_each_window_and_lateness_is_named() {
        let timeline = Timeline {
            distribute: window("2024-11-21", "2024-11-22"),
            collect: window("2024-11-23", "2024-11-24"),
            submit: window("2024-11-27", "2024-11-28"),
        };
        let statuses: BTreeMap<String, u32> = [
            ("assigned", 10),
            ("distributed", 12),
            ("collected", 2),
            ("refused", 1),
            ("replaced", 1),
            ("reserve", 2),
        ]
        .into_iter()
        .map(|(s, n)| (s.to_string(), n))
        .collect();
        let counts = Counts::from_statuses(&statuses);
        assert_eq!(
            (
                counts.sampled,
                counts.handed_out,
                counts.collected,
                counts.workable()
            ),
            (26, 14, 2, 24)
        );
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        assert_eq!(
            expected(&counts, &timeline, day("2024-11-20")),
            Expected::default()
        );
        assert_eq!(
            expected(&counts, &timeline, day("2024-11-21")).handed_out,
            12,
            "half-way through a two-day window"
        );
        assert_eq!(
            expected(&counts, &timeline, day("2024-11-23")),
            Expected {
                handed_out: 24,
                collected: 12,
                in_parcel: 0
            }
        );
        let p = VillageProgress {
            district_id: "dh".into(),
            district: "Đông Hà".into(),
            commune_id: "dh-p2".into(),
            commune: "Phường 2".into(),
            village_id: "dh-p2-kp1".into(),
            village: "Khu phố 1".into(),
            enumerator_id: "enum-dh-p2".into(),
            enumerator: "An".into(),
            statuses,
            last_sync: None,
            has_device: true,
        };
        let r = report(vec![p], &timeline, day("2024-11-23"));
        assert_eq!(
            r.rows[0].behind,
            ["handed_out 14 of 24 expected", "collected 2 of 12 expected"]
        );
        assert_eq!(r.rows[0].shortfall, 10 + 10);
        assert_eq!(r.behind, 1);
    }
}

/// Work per enumerator between two days (inclusive), from daily event counts: the period
/// report a supervisor sends (monthly, or for any stretch of the campaign).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PeriodRow {
    pub enumerator: String,
    pub handed_out: u32,
    pub collected: u32,
    pub keyed: u32,
    pub verified: u32,
    pub absent: u32,
    pub refused: u32,
    pub moved: u32,
    pub in_parcels: u32,
}

pub fn period(
    daily: &[(String, String, String, u32)],
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<PeriodRow> {
    let mut rows: std::collections::BTreeMap<&str, PeriodRow> = std::collections::BTreeMap::new();
    for (day, enumerator, kind, n) in daily {
        let Ok(d) = day.parse::<NaiveDate>() else {
            continue;
        };
        if d < from || d > to {
            continue;
        }
        let row = rows.entry(enumerator).or_insert_with(|| PeriodRow {
            enumerator: enumerator.clone(),
            ..Default::default()
        });
        match kind.as_str() {
            "form_distributed" => row.handed_out += n,
            "form_collected" => row.collected += n,
            "form_transcribed" => row.keyed += n,
            "transcription_verified" => row.verified += n,
            "absent" => row.absent += n,
            "refused" => row.refused += n,
            "moved" => row.moved += n,
            _ => {}
        }
    }
    rows.into_values().collect()
}

/// Cumulative handed out / collected / keyed per day, for the progress chart.
pub fn cumulative(daily: &[(String, String, String, u32)]) -> Vec<(NaiveDate, u32, u32, u32)> {
    let mut per_day: std::collections::BTreeMap<NaiveDate, (u32, u32, u32)> =
        std::collections::BTreeMap::new();
    for (day, _, kind, n) in daily {
        let Ok(d) = day.parse::<NaiveDate>() else {
            continue;
        };
        let e = per_day.entry(d).or_default();
        match kind.as_str() {
            "form_distributed" => e.0 += n,
            "form_collected" => e.1 += n,
            "form_transcribed" => e.2 += n,
            _ => {}
        }
    }
    let (mut a, mut b, mut c) = (0, 0, 0);
    per_day
        .into_iter()
        .map(|(d, (x, y, z))| {
            a += x;
            b += y;
            c += z;
            (d, a, b, c)
        })
        .collect()
}

#[cfg(test)]
mod period_tests {
    use super::*;

    #[test]
    fn a_period_counts_only_its_days_and_the_chart_accumulates() {
        let daily: Vec<(String, String, String, u32)> = [
            ("2024-11-21", "a", "form_distributed", 10),
            ("2024-11-22", "a", "form_distributed", 17),
            ("2024-11-22", "a", "refused", 1),
            ("2024-11-23", "a", "form_collected", 20),
            ("2024-11-23", "b", "form_distributed", 5),
            ("2024-12-02", "a", "form_transcribed", 20),
        ]
        .into_iter()
        .map(|(d, e, k, n)| (d.to_string(), e.to_string(), k.to_string(), n))
        .collect();
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let november = period(&daily, day("2024-11-01"), day("2024-11-30"));
        assert_eq!(november.len(), 2);
        assert_eq!(
            (
                november[0].handed_out,
                november[0].refused,
                november[0].collected,
                november[0].keyed
            ),
            (27, 1, 20, 0)
        );
        let chart = cumulative(&daily);
        assert_eq!(chart.last().unwrap(), &(day("2024-12-02"), 32, 20, 20));
        assert_eq!(chart[1], (day("2024-11-22"), 27, 0, 0));
    }
}
