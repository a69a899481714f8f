//! Progress against the timeline, from household statuses only: what a supervisor watches.
//! Counts are cumulative ("handed out" includes every form that went further), and what the
//! timeline expects by a given day grows linearly through each window.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use sync_protocol::assignment::{CampaignInfo, Timeline, Window};

use crate::store::{DailyCount, VillageProgress};

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
    /// Each stage's households, counted with those past it. `verifies`: whether the campaign
    /// verifies transcriptions; where it does not, a form in a parcel was never verified.
    pub fn from_statuses(
        statuses: &std::collections::BTreeMap<String, u32>,
        verifies: bool,
    ) -> Counts {
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
            verified: if verifies {
                n(&["verified", "in_parcel"])
            } else {
                n(&["verified"])
            },
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
    /// Each stage this row is short of the timeline at, with its numbers (the page colours the
    /// row; a program reading the JSON gets the stage's code, not a sentence to parse).
    pub behind: Vec<Behind>,
    /// How many forms short of the timeline, all stages together: what the page sorts by.
    pub shortfall: u32,
    pub last_sync: Option<String>,
    /// Whether the enumerator has an enrolled, unrevoked device (never enrolled and not synced
    /// are different problems with different fixes).
    pub has_device: bool,
    /// The last day work here was done in the field: a late sync is not late work.
    pub last_field_day: Option<NaiveDate>,
}

/// A stage of the paper's journey where a row is short of what the timeline expects by now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Behind {
    /// `handed_out`, `collected` or `in_parcel`: [`Counts`]' and [`Expected`]'s own names.
    pub stage: &'static str,
    pub done: u32,
    pub expected: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub day: NaiveDate,
    pub rows: Vec<Row>,
    pub total: Counts,
    pub expected: Expected,
    pub behind: usize,
}

/// `verifies`: whether the campaign verifies transcriptions ([`Counts::from_statuses`]).
pub fn report(
    progress: Vec<VillageProgress>,
    timeline: &Timeline,
    verifies: bool,
    day: NaiveDate,
) -> Report {
    let mut total = Counts::default();
    let rows: Vec<Row> = progress
        .into_iter()
        .map(|p| {
            let counts = Counts::from_statuses(&p.statuses, verifies);
            total.add(&counts);
            let expected = expected(&counts, timeline, day);
            let mut behind = Vec::new();
            let mut shortfall = 0;
            for (stage, done, want) in [
                ("handed_out", counts.handed_out, expected.handed_out),
                ("collected", counts.collected, expected.collected),
                ("in_parcel", counts.in_parcel, expected.in_parcel),
            ] {
                if done < want {
                    behind.push(Behind {
                        stage,
                        done,
                        expected: want,
                    });
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
                last_field_day: p.last_field_day,
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
    fn a_campaign_without_verification_counts_no_form_verified() {
        let statuses: BTreeMap<String, u32> = [("transcribed", 3), ("in_parcel", 5)]
            .into_iter()
            .map(|(s, n)| (s.to_string(), n))
            .collect();
        let stages = |c: Counts| (c.transcribed, c.verified, c.in_parcel);
        assert_eq!(stages(Counts::from_statuses(&statuses, true)), (8, 5, 5));
        assert_eq!(stages(Counts::from_statuses(&statuses, false)), (8, 0, 5));
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
        let counts = Counts::from_statuses(&statuses, true);
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
            last_field_day: None,
        };
        let r = report(vec![p], &timeline, true, day("2024-11-23"));
        assert_eq!(
            r.rows[0].behind,
            [
                Behind {
                    stage: "handed_out",
                    done: 14,
                    expected: 24
                },
                Behind {
                    stage: "collected",
                    done: 2,
                    expected: 12
                }
            ]
        );
        assert_eq!(
            serde_json::to_value(&r.rows[0].behind[1]).unwrap(),
            serde_json::json!({"stage": "collected", "done": 2, "expected": 12})
        );
        assert_eq!(r.rows[0].shortfall, 10 + 10);
        assert_eq!(r.behind, 1);
    }
}

/// How far past the centre's receipt a device's time may run and still be believed: the 300 s
/// the protocol allows a request's clock (docs/sync-protocol.md §8, device headers).
pub const DEVICE_AHEAD_TOLERANCE_SECS: i64 = 300;
/// How many days before the first day of the campaign's timeline work may still be dated by
/// the device: a clock further back has been reset, not worked early.
pub const DAYS_BEFORE_START: u64 = 7;

/// The day an event belongs to in every count by day (the progress chart, period and monthly
/// reports): its day in the campaign's time zone, from its absolute time (the device's reading
/// with its offset) — unless the device's clock cannot have been right, when it is the day the
/// centre received it, in the same zone. `docs/statistics.md`, "The day an event belongs to".
#[derive(Clone, Copy, Debug)]
pub struct DayRule {
    zone: chrono_tz::Tz,
    /// Device times before this are a clock that was reset or never set.
    earliest: DateTime<Utc>,
}

/// An event's day, and whether it is the day the centre received it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dated {
    pub day: NaiveDate,
    pub by_receipt: bool,
}

impl DayRule {
    pub fn new(zone: chrono_tz::Tz, timeline: &Timeline) -> DayRule {
        let first = [
            timeline.distribute.start,
            timeline.collect.start,
            timeline.submit.start,
        ]
        .into_iter()
        .min()
        .unwrap_or(timeline.distribute.start);
        let day = first
            .checked_sub_days(chrono::Days::new(DAYS_BEFORE_START))
            .unwrap_or(first);
        let midnight = day.and_time(chrono::NaiveTime::MIN);
        let earliest = zone
            .from_local_datetime(&midnight)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| midnight.and_utc());
        DayRule { zone, earliest }
    }

    pub fn of(campaign: &CampaignInfo) -> DayRule {
        DayRule::new(crate::service::time_zone_of(campaign), &campaign.timeline)
    }

    /// The day of an event the device dated `device` and the centre received at `received`.
    pub fn date(&self, device: DateTime<FixedOffset>, received: DateTime<Utc>) -> Dated {
        let device = device.with_timezone(&Utc);
        let ahead = device - received > chrono::Duration::seconds(DEVICE_AHEAD_TOLERANCE_SECS);
        let by_receipt = ahead || device < self.earliest;
        let when = if by_receipt { received } else { device };
        Dated {
            day: when.with_timezone(&self.zone).date_naive(),
            by_receipt,
        }
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
    /// Forms put into parcels handed to the post office (a parcel counts each of its forms).
    pub in_parcels: u32,
    /// Of what is counted above, what was dated by the day the centre received it because the
    /// tablet's time could not be right ([`DayRule`]): events, and a parcel's forms.
    pub by_receipt: u32,
}

/// `everyone`: the enumerators the reader oversees, each given a row even with no work in the
/// period (an idle enumerator is what a supervisor most needs to see).
pub fn period(
    daily: &[DailyCount],
    from: NaiveDate,
    to: NaiveDate,
    everyone: &[String],
) -> Vec<PeriodRow> {
    let mut rows: std::collections::BTreeMap<&str, PeriodRow> = everyone
        .iter()
        .map(|e| {
            let row = PeriodRow {
                enumerator: e.clone(),
                ..Default::default()
            };
            (e.as_str(), row)
        })
        .collect();
    for c in daily {
        if c.day < from || c.day > to {
            continue;
        }
        let row = rows.entry(&c.enumerator).or_insert_with(|| PeriodRow {
            enumerator: c.enumerator.clone(),
            ..Default::default()
        });
        let Some(column) = row.column(&c.kind) else {
            continue;
        };
        *column += c.n;
        row.by_receipt += c.by_receipt;
    }
    rows.into_values().collect()
}

impl PeriodRow {
    /// The column that counts a kind of daily count, if the report has one.
    fn column(&mut self, kind: &str) -> Option<&mut u32> {
        Some(match kind {
            "form_distributed" => &mut self.handed_out,
            "form_collected" => &mut self.collected,
            "form_transcribed" => &mut self.keyed,
            "transcription_verified" => &mut self.verified,
            "absent" => &mut self.absent,
            "refused" => &mut self.refused,
            "moved" => &mut self.moved,
            "parcel_handed_over" => &mut self.in_parcels,
            _ => return None,
        })
    }
}

/// The months with work the period report counts, earliest first, each as its first and last
/// day: the report's monthly links.
pub fn worked_months(daily: &[DailyCount]) -> Vec<(NaiveDate, NaiveDate)> {
    let months: std::collections::BTreeSet<NaiveDate> = daily
        .iter()
        .filter(|c| c.n > 0 && PeriodRow::default().column(&c.kind).is_some())
        .filter_map(|c| c.day.with_day(1))
        .collect();
    months
        .into_iter()
        .filter_map(|first| {
            let next = first.checked_add_months(chrono::Months::new(1))?;
            Some((first, next.pred_opt()?))
        })
        .collect()
}

/// Cumulative handed out / collected / keyed on every day from the first day with work to the
/// last, for the progress chart: a day without work carries the day before's counts, so a line
/// drawn through the days stays flat where nothing was done instead of rising across the gap.
pub fn cumulative(daily: &[DailyCount]) -> Vec<(NaiveDate, u32, u32, u32)> {
    let mut per_day: std::collections::BTreeMap<NaiveDate, (u32, u32, u32)> =
        std::collections::BTreeMap::new();
    for c in daily {
        let e = per_day.entry(c.day).or_default();
        match c.kind.as_str() {
            "form_distributed" => e.0 += c.n,
            "form_collected" => e.1 += c.n,
            "form_transcribed" => e.2 += c.n,
            _ => {}
        }
    }
    let (Some(&first), Some(&last)) = (per_day.keys().next(), per_day.keys().next_back()) else {
        return Vec::new();
    };
    let (mut a, mut b, mut c) = (0, 0, 0);
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| {
            let (x, y, z) = per_day.get(&d).copied().unwrap_or_default();
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

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// A time as a tablet writes it, with its offset.
    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        at(s).with_timezone(&Utc)
    }

    fn count(d: &str, enumerator: &str, kind: &str, n: u32) -> DailyCount {
        DailyCount {
            day: day(d),
            enumerator: enumerator.into(),
            kind: kind.into(),
            n,
            by_receipt: 0,
        }
    }

    /// Quảng Trị's 2024 campaign: Vietnam's zone, the first day 21 November 2024.
    fn vietnam() -> DayRule {
        DayRule::new(chrono_tz::Asia::Ho_Chi_Minh, &crate::demo::timeline_2024())
    }

    fn dated(d: &str, by_receipt: bool) -> Dated {
        Dated {
            day: day(d),
            by_receipt,
        }
    }

    #[test]
    fn the_monthly_links_are_the_months_with_reported_work() {
        let daily = [
            count("2024-11-21", "a", "form_distributed", 10),
            count("2024-11-30", "a", "parcel_handed_over", 25),
            // No column of the report counts a lost form: its month has nothing to show.
            count("2025-01-03", "a", "form_lost", 1),
            count("2025-03-01", "b", "absent", 2),
            count("2025-04-01", "b", "absent", 0),
        ];
        assert_eq!(
            worked_months(&daily),
            [
                (day("2024-11-01"), day("2024-11-30")),
                (day("2025-03-01"), day("2025-03-31"))
            ]
        );
        assert!(worked_months(&[]).is_empty());
    }

    #[test]
    fn a_period_counts_only_its_days_and_the_chart_accumulates() {
        let daily = [
            count("2024-11-21", "a", "form_distributed", 10),
            count("2024-11-22", "a", "form_distributed", 17),
            count("2024-11-22", "a", "refused", 1),
            count("2024-11-23", "a", "form_collected", 20),
            count("2024-11-23", "b", "form_distributed", 5),
            count("2024-12-02", "a", "form_transcribed", 20),
        ];
        let november = period(&daily, day("2024-11-01"), day("2024-11-30"), &[]);
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
        // Every day from the first with work to the last, the days between carrying the counts.
        assert_eq!(chart.len(), 12);
        assert!(chart
            .windows(2)
            .all(|w| w[1].0 == w[0].0.succ_opt().unwrap()));
        assert_eq!(chart[3], (day("2024-11-24"), 32, 20, 0));
        assert_eq!(chart[10], (day("2024-12-01"), 32, 20, 0));
        assert!(cumulative(&[]).is_empty());
    }

    #[test]
    fn an_event_counts_on_its_day_in_the_campaigns_zone_whatever_offset_the_tablet_wrote() {
        let rule = vietnam();
        let received = utc("2024-12-02T09:00:00+07:00");
        // 00:30 on 1 December in Vietnam, written in UTC: a December event.
        assert_eq!(
            rule.date(at("2024-11-30T17:30:00+00:00"), received),
            dated("2024-12-01", false)
        );
        // 23:00 on 30 November in Vietnam, written by a tablet set to UTC+9: November.
        assert_eq!(
            rule.date(at("2024-12-01T01:00:00+09:00"), received),
            dated("2024-11-30", false)
        );
        // Written in the campaign's own offset, the written date is the day.
        assert_eq!(
            rule.date(at("2024-11-30T23:59:59+07:00"), received),
            dated("2024-11-30", false)
        );
        assert_eq!(
            rule.date(at("2024-12-01T00:00:00+07:00"), received),
            dated("2024-12-01", false)
        );
    }

    #[test]
    fn a_tablet_time_that_cannot_be_right_counts_on_the_day_the_centre_received_it() {
        let rule = vietnam();
        // The centre received the batch at 00:10 on 1 December, Vietnam's time.
        let received = utc("2024-11-30T17:10:00+00:00");
        // Five minutes ahead of the centre is a clock's drift: the tablet's time stands.
        assert_eq!(
            rule.date(at("2024-12-01T00:15:00+07:00"), received),
            dated("2024-12-01", false)
        );
        // Later than that, the event would have happened after the centre had it.
        assert_eq!(
            rule.date(at("2024-12-01T00:15:01+07:00"), received),
            dated("2024-12-01", true)
        );
        assert_eq!(
            rule.date(at("2025-03-09T08:00:00+07:00"), received),
            dated("2024-12-01", true)
        );
        // A week before the campaign's first day (21 November) is still work done early…
        assert_eq!(
            rule.date(at("2024-11-14T00:00:00+07:00"), received),
            dated("2024-11-14", false)
        );
        // …a second before it, or a clock reset to 1970, is not.
        assert_eq!(
            rule.date(at("2024-11-13T23:59:59+07:00"), received),
            dated("2024-12-01", true)
        );
        assert_eq!(
            rule.date(at("1970-01-01T00:00:00+00:00"), received),
            dated("2024-12-01", true)
        );
        // The day of receipt is in the campaign's zone too: 23:59 on 30 November in Vietnam.
        assert_eq!(
            rule.date(
                at("2000-01-01T08:00:00+07:00"),
                utc("2024-11-30T16:59:00+00:00")
            ),
            dated("2024-11-30", true)
        );
    }

    #[test]
    fn a_month_holds_its_last_second_and_not_the_next_months_first() {
        // A campaign that hands out from 21 October, so that October's work is work.
        let mut timeline = crate::demo::timeline_2024();
        timeline.distribute.start = day("2024-10-21");
        let rule = DayRule::new(chrono_tz::Asia::Ho_Chi_Minh, &timeline);
        // (enumerator, kind, the tablet's time, when the centre received it)
        let events = [
            (
                "a",
                "form_distributed",
                "2024-10-31T16:59:59+00:00",
                "2024-11-02T08:00:00+07:00",
            ),
            (
                "a",
                "form_collected",
                "2024-10-31T17:00:00+00:00",
                "2024-11-02T08:00:00+07:00",
            ),
            (
                "a",
                "form_distributed",
                "2024-11-30T23:59:59+07:00",
                "2024-12-02T08:00:00+07:00",
            ),
            (
                "a",
                "form_collected",
                "2024-12-01T00:00:00+07:00",
                "2024-12-02T08:00:00+07:00",
            ),
            (
                "a",
                "form_collected",
                "2024-12-01T01:00:00+09:00",
                "2024-12-02T08:00:00+07:00",
            ),
            (
                "a",
                "form_collected",
                "2024-11-30T17:30:00+00:00",
                "2024-12-02T08:00:00+07:00",
            ),
            // A tablet whose clock ran a year ahead, received on 30 November.
            (
                "b",
                "refused",
                "2025-11-30T10:00:00+07:00",
                "2024-11-30T10:00:00+07:00",
            ),
            // Not a column of the report: not among the events it says were dated by receipt.
            (
                "b",
                "form_lost",
                "2030-01-01T10:00:00+07:00",
                "2024-11-30T10:00:00+07:00",
            ),
        ];
        // Kept as the store keeps them: one count per event and day.
        let daily: Vec<DailyCount> = events
            .iter()
            .map(|(enumerator, kind, device, received)| {
                let d = rule.date(at(device), utc(received));
                DailyCount {
                    day: d.day,
                    enumerator: enumerator.to_string(),
                    kind: kind.to_string(),
                    n: 1,
                    by_receipt: u32::from(d.by_receipt),
                }
            })
            .collect();
        let month = |first: &str, last: &str| {
            period(&daily, day(first), day(last), &[])
                .into_iter()
                .map(|r| {
                    (
                        r.enumerator,
                        r.handed_out,
                        r.collected,
                        r.refused,
                        r.by_receipt,
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            month("2024-10-01", "2024-10-31"),
            [("a".to_string(), 1, 0, 0, 0)],
            "23:59:59 on 31 October in Vietnam, written in UTC, is October's"
        );
        assert_eq!(
            month("2024-11-01", "2024-11-30"),
            [("a".to_string(), 1, 2, 0, 0), ("b".to_string(), 0, 0, 1, 1)],
            "00:00:00 on 1 November and 23:59:59 on 30 November (and 23:00 written in UTC+9) are November's"
        );
        assert_eq!(
            month("2024-12-01", "2024-12-31"),
            [("a".to_string(), 0, 2, 0, 0)],
            "00:00:00 on 1 December and 00:30 written in UTC are December's"
        );
        assert!(month("2025-11-01", "2025-11-30").is_empty());
    }
}
