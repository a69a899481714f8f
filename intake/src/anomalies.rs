//! Signs that a form or an enumerator needs a closer look, from paradata only (no answer is
//! read): keying far faster than the median, collection outside the collection window, many
//! refusals or absences, and a device clock that jumped. Identical answer patterns
//! (straight-lining) need the answers, so they are checked where the ministry opens them
//! ([`straight_lined`]). Pure: the store supplies the facts.

use chrono::{DateTime, NaiveDate};
use serde::Serialize;
use std::collections::BTreeMap;
use sync_protocol::assignment::Timeline;

use crate::store::EventFacts;

/// A form keyed in less than this share of the median keying time is flagged.
pub const FAST_SHARE: f64 = 1.0 / 3.0;
/// An enumerator whose refusals and absences reach this share of visits (and at least
/// [`MANY_MIN`]) is flagged.
pub const MANY_SHARE: f64 = 0.2;
pub const MANY_MIN: u32 = 3;
/// A device clock that goes back this far between two events of a chain, or runs ahead of the
/// intake's by this much, is a jump.
pub const CLOCK_JUMP_SECS: i64 = 3600;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Flag {
    pub enumerator: String,
    pub household: Option<String>,
    /// `fast_keying`, `collected_outside_window`, `many_refusals_or_absences`, `clock_jump`.
    pub kind: &'static str,
    pub detail: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Anomalies {
    pub median_keying_seconds: Option<u32>,
    pub flags: Vec<Flag>,
    /// Flags per enumerator, for the summary table.
    pub by_enumerator: BTreeMap<String, BTreeMap<&'static str, u32>>,
    /// The double keying each enumerator's tablets reported, summed.
    pub double_keying: BTreeMap<String, DoubleKeyingSummary>,
}

/// One enumerator's verified forms and what their two keyings disagreed on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DoubleKeyingSummary {
    pub forms: u32,
    pub mismatches: u32,
    pub keyer_errors: u32,
    pub verifier_errors: u32,
}

/// A verification is taken as having no real comparison behind it when its two keyings
/// disagree on at least this share of the form's questions: the first keying was not on the
/// verifying tablet, or one pass was keyed blank.
pub const EMPTY_COMPARISON_SHARE: f64 = 0.5;

/// Whether a verification whose keyings differ on `mismatches` of the form's `questions` had
/// no real comparison behind it ([`EMPTY_COMPARISON_SHARE`]).
pub fn compared_nothing(mismatches: u32, questions: usize) -> bool {
    questions > 0 && mismatches as f64 >= questions as f64 * EMPTY_COMPARISON_SHARE
}

/// A time as people read it, in the campaign's zone.
fn shown(at: &str, zone: chrono_tz::Tz) -> String {
    DateTime::parse_from_rfc3339(at)
        .map(|t| t.with_timezone(&zone).format("%H:%M %d/%m/%Y").to_string())
        .unwrap_or_else(|_| at.to_string())
}

/// The day an event happened in the campaign's zone, from its absolute time (whatever offset
/// the tablet wrote).
fn local_day(occurred_at: &str, zone: chrono_tz::Tz) -> Option<NaiveDate> {
    DateTime::parse_from_rfc3339(occurred_at)
        .ok()
        .map(|t| t.with_timezone(&zone).date_naive())
}

/// The paradata checks. `zone` is the campaign's (the day a collection counts on), `questions`
/// the number of questions of the campaign's form (for the double-keying check).
pub fn check(
    facts: &[EventFacts],
    timeline: &Timeline,
    zone: chrono_tz::Tz,
    questions: usize,
) -> Anomalies {
    let mut flags = Vec::new();
    let mut double_keying: BTreeMap<String, DoubleKeyingSummary> = BTreeMap::new();
    for f in facts {
        let Some(d) = f.double_keying else { continue };
        let sum = double_keying.entry(f.enumerator.clone()).or_default();
        sum.forms += 1;
        sum.mismatches += d.mismatches;
        sum.keyer_errors += d.keyer_errors;
        sum.verifier_errors += d.verifier_errors;
        if compared_nothing(d.mismatches, questions) {
            flags.push(Flag {
                enumerator: f.enumerator.clone(),
                household: f.household.clone(),
                kind: "empty_comparison",
                detail: format!(
                    "hai lần nhập lệch nhau {} trên {questions} câu: lần nhập 1 có thể không có trên máy kiểm tra, nên lần kiểm tra này không so sánh được gì; phiếu vẫn được tính như đã kiểm tra — đối chiếu với bản giấy ở trang duyệt phiếu, gắn cờ và nhập sửa nếu sai",
                    d.mismatches
                ),
            });
        }
    }

    let mut keying: Vec<u32> = facts
        .iter()
        .filter(|f| f.kind == "form_transcribed")
        .filter_map(|f| f.keying_seconds)
        .collect();
    keying.sort_unstable();
    let median = (!keying.is_empty()).then(|| keying[keying.len() / 2]);
    if let Some(m) = median {
        for f in facts.iter().filter(|f| f.kind == "form_transcribed") {
            if let Some(s) = f
                .keying_seconds
                .filter(|s| (*s as f64) < m as f64 * FAST_SHARE)
            {
                flags.push(Flag {
                    enumerator: f.enumerator.clone(),
                    household: f.household.clone(),
                    kind: "fast_keying",
                    detail: format!("nhập trong {s} giây; trung vị là {m} giây"),
                });
            }
        }
    }

    for f in facts.iter().filter(|f| f.kind == "form_collected") {
        if let Some(day) = local_day(&f.occurred_at, zone)
            .filter(|d| *d < timeline.collect.start || *d > timeline.collect.end)
        {
            flags.push(Flag {
                enumerator: f.enumerator.clone(),
                household: f.household.clone(),
                kind: "collected_outside_window",
                detail: format!(
                    "thu phiếu ngày {}; thời gian thu từ {} đến {}",
                    day.format("%d/%m/%Y"),
                    timeline.collect.start.format("%d/%m/%Y"),
                    timeline.collect.end.format("%d/%m/%Y")
                ),
            });
        }
    }

    let mut visits: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for f in facts {
        let entry = visits.entry(f.enumerator.as_str()).or_default();
        match (f.kind.as_str(), f.outcome.as_deref()) {
            ("visit_outcome", Some("refused" | "absent")) => {
                entry.0 += 1;
                entry.1 += 1;
            }
            ("visit_outcome", _) | ("form_distributed", _) => entry.1 += 1,
            _ => {}
        }
    }
    for (enumerator, (bad, all)) in visits {
        if bad >= MANY_MIN && bad as f64 >= all as f64 * MANY_SHARE {
            flags.push(Flag {
                enumerator: enumerator.into(),
                household: None,
                kind: "many_refusals_or_absences",
                detail: format!("{bad} hộ từ chối hoặc vắng trong {all} lần đến hộ"),
            });
        }
    }

    for chain in facts.chunk_by(|a, b| a.enumerator == b.enumerator) {
        for pair in chain.windows(2) {
            if pair[0].occurred_unix - pair[1].occurred_unix > CLOCK_JUMP_SECS {
                flags.push(Flag {
                    enumerator: pair[1].enumerator.clone(),
                    household: pair[1].household.clone(),
                    kind: "clock_jump",
                    detail: format!(
                        "đồng hồ máy lùi từ {} về {}",
                        shown(&pair[0].occurred_at, zone),
                        shown(&pair[1].occurred_at, zone)
                    ),
                });
            }
        }
        for f in chain {
            let received = DateTime::parse_from_rfc3339(&f.received_at)
                .map(|t| t.timestamp())
                .unwrap_or(i64::MAX);
            if f.occurred_unix - received > CLOCK_JUMP_SECS {
                flags.push(Flag {
                    enumerator: f.enumerator.clone(),
                    household: f.household.clone(),
                    kind: "clock_jump",
                    detail: format!(
                        "máy ghi lúc {}, máy chủ nhận lúc {}",
                        shown(&f.occurred_at, zone),
                        shown(&f.received_at, zone)
                    ),
                });
            }
        }
    }

    let mut by_enumerator: BTreeMap<String, BTreeMap<&'static str, u32>> = BTreeMap::new();
    for f in &flags {
        *by_enumerator
            .entry(f.enumerator.clone())
            .or_default()
            .entry(f.kind)
            .or_default() += 1;
    }
    Anomalies {
        median_keying_seconds: median,
        flags,
        by_enumerator,
        double_keying,
    }
}

/// Households whose answers to the index items are all the same code (at least `min_items`
/// answered): straight-lining.
pub fn straight_lined<'a>(
    forms: impl Iterator<Item = (&'a str, &'a BTreeMap<String, serde_json::Value>)>,
    items: &[String],
    min_items: usize,
) -> Vec<String> {
    forms
        .filter(|(_, answers)| {
            // Codes only: a sheet left blank throughout is not one code ticked throughout
            // (it is listed as a sheet with nothing counted).
            let codes: Vec<&serde_json::Value> = items
                .iter()
                .filter_map(|i| answers.get(i))
                .filter(|v| forms::answer::Mark::of(v).is_none())
                .collect();
            codes.len() >= min_items && codes.windows(2).all(|w| w[0] == w[1])
        })
        .map(|(h, _)| h.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_protocol::assignment::Window;

    fn fact(
        enumerator: &str,
        kind: &str,
        at: &str,
        keying: Option<u32>,
        outcome: Option<&str>,
    ) -> EventFacts {
        EventFacts {
            enumerator: enumerator.into(),
            household: Some(format!("{enumerator}-h")),
            kind: kind.into(),
            occurred_unix: DateTime::parse_from_rfc3339(at).unwrap().timestamp(),
            occurred_at: at.into(),
            received_at: "2024-12-01T00:00:00+00:00".into(),
            keying_seconds: keying,
            outcome: outcome.map(String::from),
            double_keying: None,
        }
    }

    #[test]
    fn each_kind_of_anomaly_is_found_and_counted_per_enumerator() {
        let window = |a: &str, b: &str| Window {
            start: a.parse().unwrap(),
            end: b.parse().unwrap(),
        };
        let timeline = Timeline {
            distribute: window("2024-11-21", "2024-11-22"),
            collect: window("2024-11-23", "2024-11-24"),
            submit: window("2024-11-27", "2024-11-28"),
        };
        let mut facts = vec![
            fact(
                "a",
                "form_collected",
                "2024-11-23T09:00:00+07:00",
                None,
                None,
            ),
            fact(
                "a",
                "form_transcribed",
                "2024-11-23T10:00:00+07:00",
                Some(300),
                None,
            ),
            fact(
                "a",
                "form_transcribed",
                "2024-11-23T11:00:00+07:00",
                Some(280),
                None,
            ),
            fact(
                "b",
                "form_collected",
                "2024-11-26T09:00:00+07:00",
                None,
                None,
            ),
            fact(
                "b",
                "form_transcribed",
                "2024-11-26T10:00:00+07:00",
                Some(40),
                None,
            ),
            fact(
                "b",
                "form_transcribed",
                "2024-11-26T07:00:00+07:00",
                Some(310),
                None,
            ),
        ];
        for outcome in ["refused", "absent", "refused"] {
            facts.push(fact(
                "c",
                "visit_outcome",
                "2024-11-21T09:00:00+07:00",
                None,
                Some(outcome),
            ));
        }
        facts.push(fact(
            "c",
            "form_distributed",
            "2024-12-05T09:00:00+07:00",
            None,
            None,
        ));
        // A collection written at 23:30 UTC on the 22nd is 06:30 on the 23rd in Vietnam: in the
        // window, whatever offset the tablet wrote.
        facts.push(fact(
            "a",
            "form_collected",
            "2024-11-22T23:30:00+00:00",
            None,
            None,
        ));
        // Double keying: one real comparison, and one with no first keying behind it.
        let verified = |enumerator: &str, mismatches: u32| EventFacts {
            kind: "transcription_verified".into(),
            double_keying: Some(crate::store::DoubleKeyingCounts {
                mismatches,
                keyer_errors: mismatches,
                verifier_errors: 0,
            }),
            ..fact(
                enumerator,
                "transcription_verified",
                "2024-11-23T12:00:00+07:00",
                None,
                None,
            )
        };
        facts.push(verified("a", 2));
        facts.push(verified("a", 71));
        let found = check(&facts, &timeline, chrono_tz::Asia::Ho_Chi_Minh, 100);
        assert_eq!(found.median_keying_seconds, Some(300));
        assert_eq!(
            found.double_keying["a"],
            DoubleKeyingSummary {
                forms: 2,
                mismatches: 73,
                keyer_errors: 73,
                verifier_errors: 0
            }
        );
        assert_eq!(
            found
                .flags
                .iter()
                .filter(|f| f.kind == "empty_comparison")
                .count(),
            1
        );
        let found = {
            let mut f = found;
            f.by_enumerator
                .get_mut("a")
                .map(|k| k.remove("empty_comparison"));
            f
        };
        let kinds = |e: &str| found.by_enumerator.get(e).cloned().unwrap_or_default();
        assert!(kinds("a").is_empty(), "{:?}", kinds("a"));
        assert_eq!(kinds("b").get("fast_keying"), Some(&1));
        assert_eq!(kinds("b").get("collected_outside_window"), Some(&1));
        assert_eq!(kinds("b").get("clock_jump"), Some(&1), "10:00 then 07:00");
        assert_eq!(kinds("c").get("many_refusals_or_absences"), Some(&1));
        assert_eq!(
            kinds("c").get("clock_jump"),
            Some(&1),
            "recorded days after it was received"
        );
    }

    #[test]
    fn the_same_code_everywhere_is_straight_lining() {
        let items: Vec<String> = (1..=5).map(|i| format!("i{i}")).collect();
        let same: BTreeMap<String, serde_json::Value> = items
            .iter()
            .map(|i| (i.clone(), serde_json::json!(3)))
            .collect();
        let mut varied = same.clone();
        varied.insert("i2".into(), serde_json::json!(4));
        let forms = [("h1", &same), ("h2", &varied)];
        assert_eq!(straight_lined(forms.into_iter(), &items, 5), ["h1"]);
        assert!(straight_lined([("h1", &same)].into_iter(), &items, 6).is_empty());
        // All blank is no code at all.
        let blank: BTreeMap<String, serde_json::Value> = items
            .iter()
            .map(|i| (i.clone(), forms::answer::Mark::Blank.to_json()))
            .collect();
        assert!(straight_lined([("h3", &blank)].into_iter(), &items, 5).is_empty());
    }
}
