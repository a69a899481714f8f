//! What an answer can be (values, special codes, marks for blank or unreadable paper) and what
//! the index counts: only valid answers to questions that apply. Also the national interval and
//! rounding from exact fractions (docs/statistics.md).

use forms::{
    answer::{self, Mark, Reading},
    index::{self, Level, OpenedForm, Origin},
    validate::{parse_answers, validate, AnswerError},
    Form,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;

mod support;
use support::{full_sipas_answers, sipas_2024};

fn origin(village: &str, province: &str) -> Origin {
    Origin {
        village: village.into(),
        commune: format!("c-{village}"),
        district: format!("d-{province}"),
        province: province.into(),
    }
}

fn sheet(province: &str, answers: BTreeMap<String, Value>) -> OpenedForm {
    OpenedForm {
        origin: origin(&format!("v-{province}"), province),
        answers,
    }
}

#[test]
fn a_blank_required_answer_is_keyed_as_a_mark_and_the_form_completes() {
    let form = sipas_2024();
    let mut a = full_sipas_answers();
    // Sex has codes 1 and 2 only, and no "no answer" code: the paper is blank.
    a.insert("a_sex".into(), Mark::Blank.to_json());
    a.insert("a_age".into(), Mark::Unreadable.to_json());
    a.insert("q9_a1".into(), Mark::Several.to_json());
    let v = validate(&form, &a);
    assert!(v.complete, "{v:?}");
    // "Several boxes ticked" fits a one-answer question only.
    a.insert("q2".into(), Mark::Several.to_json());
    let v = validate(&form, &a);
    assert!(!v.complete);
    assert!(v.errors.iter().any(|e| e.question == "q2"
        && e.error
            == AnswerError::MarkNotAllowed {
                mark: Mark::Several
            }));
    // A mark is readable from an answers file; another object is not.
    assert!(parse_answers(r#"{"a_sex": {"mark": "blank"}}"#).is_ok());
    assert!(parse_answers(r#"{"a_sex": {"mark": "smudged"}}"#).is_err());
}

#[test]
fn marks_read_as_marks_and_never_count() {
    let form = sipas_2024();
    let mut a = full_sipas_answers();
    a.insert("q9_a1".into(), Mark::Unreadable.to_json());
    let readings = answer::read(&form, &a);
    assert_eq!(
        readings["q9_a1"],
        Reading::Marked {
            mark: Mark::Unreadable
        }
    );
    assert_eq!(readings["q9_a2"], Reading::Valid);
    let report = index::compute(&form, &[sheet("p", a)]);
    assert_eq!(report.national.items["q9_a1"].n, 0);
    assert_eq!(report.national.items["q9_a2"].n, 1);
}

/// The outside pass's case: a sheet that says it did not use the service (q8_4 = 2) but rates
/// it 5 moved a province's index from 41.2 % to 70.6 %.
#[test]
fn an_answer_to_a_question_that_does_not_apply_is_left_out_and_flagged() {
    let form = sipas_2024();
    let mut honest = full_sipas_answers();
    for q in &form.questions {
        if q.id.starts_with("q9_") && honest.contains_key(&q.id) {
            honest.insert(q.id.clone(), json!(2));
        }
    }
    let mut rogue = full_sipas_answers();
    rogue.insert("q8_4".into(), json!(2));
    for q in &form.questions {
        if q.id.starts_with("q9_") && rogue.contains_key(&q.id) {
            rogue.insert(q.id.clone(), json!(5));
        }
    }
    let only_honest = index::compute(&form, &[sheet("p", honest.clone())]);
    let both = index::compute(&form, &[sheet("p", honest), sheet("p", rogue.clone())]);
    // The service part (q9_e…, q9_f…) of the rogue sheet does not apply: the service
    // criteria are the honest sheet's alone.
    for id in ["q9_e1", "q9_e2", "q9_f1"] {
        assert_eq!(both.national.items[id].n, 1, "{id}");
        assert_eq!(
            both.national.items[id], only_honest.national.items[id],
            "{id}"
        );
    }
    // The policy items apply to both sheets and count both.
    assert_eq!(both.national.items["q9_a1"].n, 2);
    let readings = answer::read(&form, &rogue);
    assert_eq!(readings["q9_e1"], Reading::NotApplying);
    let flagged: Vec<String> = answer::anomalies(&form, &readings)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert!(flagged.starts_with(&["q9_e1".to_string(), "q9_e2".into(), "q9_e3".into()]));
    assert!(
        flagged.iter().all(|id| id.starts_with("q9_")),
        "{flagged:?}"
    );
}

#[test]
fn values_no_device_sends_are_invalid_and_decide_nothing() {
    let form = sipas_2024();
    for bad in [json!("5"), json!([4]), json!(99), json!(4.5), json!(true)] {
        let mut a = full_sipas_answers();
        a.insert("q9_a1".into(), bad.clone());
        let readings = answer::read(&form, &a);
        assert!(
            matches!(readings["q9_a1"], Reading::Invalid { .. }),
            "{bad}: {:?}",
            readings["q9_a1"]
        );
        let report = index::compute(&form, &[sheet("p", a)]);
        assert_eq!(report.national.items["q9_a1"].n, 0, "{bad}");
    }
    // Text "1" where q8_4 takes a code does not make the service questions apply.
    let mut a = full_sipas_answers();
    a.insert("q8_4".into(), json!("1"));
    let v = validate(&form, &a);
    assert!(v.not_relevant.contains(&"q9_e1".to_string()), "{v:?}");
}

const TWO_ITEMS: &str = r#"{
  "format": "fieldpost-form/1", "id": "two", "version": 1,
  "title": {"vi": "Thử", "en": "Test"},
  "special_codes": {},
  "choice_lists": {"yn": [{"code":1,"label":{"vi":"Có","en":"Yes"}},{"code":2,"label":{"vi":"Không","en":"No"}}]},
  "sections": [{"id": "s", "title": {"vi": "S", "en": "S"}, "items": [
    {"id": "x", "kind": "grid", "label": {"vi": "X", "en": "X"}, "choices": "yn",
     "rows": [{"id": "x1", "label": {"vi": "1", "en": "1"}}, {"id": "x2", "label": {"vi": "2", "en": "2"}}]}
  ]}],
  "index": {"satisfied_codes": [1],
    "criteria": [{"id": "C", "label": {"vi": "C", "en": "C"}, "items": ["x1", "x2"]}],
    "parts": [{"id": "P", "label": {"vi": "P", "en": "P"}, "criteria": ["C"]}],
    "overall": ["P"]}
}"#;

/// `satisfied` of `total` sheets answer x1 = 1 (the rest 2), and likewise for x2.
fn sheets(province: &str, x1: (u32, u32), x2: (u32, u32)) -> Vec<OpenedForm> {
    let total = x1.1.max(x2.1);
    (0..total)
        .map(|k| {
            let mut a = BTreeMap::new();
            if k < x1.1 {
                a.insert("x1".to_string(), json!(if k < x1.0 { 1 } else { 2 }));
            }
            if k < x2.1 {
                a.insert("x2".to_string(), json!(if k < x2.0 { 1 } else { 2 }));
            }
            sheet(province, a)
        })
        .collect()
}

#[test]
fn a_figure_on_a_rounding_boundary_rounds_half_away_from_zero() {
    let form = Form::from_json(TWO_ITEMS).unwrap();
    // x1 = 10/40, x2 = 17/40: the criterion is their mean, 27/80 = 0.3375 exactly, which a
    // float sum puts just under the tie.
    let report = index::compute(&form, &sheets("p", (10, 40), (17, 40)));
    let c = report.national.criteria["C"];
    assert_eq!(c.percent_text(1).as_deref(), Some("33.8"));
    assert_eq!(c.fraction_text(4).as_deref(), Some("0.3375"));
    assert_eq!(c.fraction_text(3).as_deref(), Some("0.338"));
    // 107/160 = 0.66875: four places round up to 0.6688.
    let report = index::compute(&form, &sheets("p", (107, 160), (0, 0)));
    let x1 = report.national.items["x1"];
    assert_eq!(x1.fraction_text(4).as_deref(), Some("0.6688"));
    assert_eq!(x1.percent_text(2).as_deref(), Some("66.88"));
    assert_eq!(x1.percent_text(1).as_deref(), Some("66.9"));
    assert_eq!(index::decimal_text(5, 4), "0.0005");
}

/// The national figure is the unweighted mean of the provinces; its interval must fit that
/// estimator (independent provinces: the variance of the mean is the sum of their variances
/// over k²), not Wilson's at the summed sample size.
#[test]
fn the_national_interval_fits_a_mean_of_provinces() {
    let form = Form::from_json(TWO_ITEMS).unwrap();
    let mut all = sheets("big", (175, 425), (0, 0));
    all.extend(sheets("small", (6, 14), (0, 0)));
    let report = index::compute(&form, &all);
    let national = report.national.items["x1"];
    // Independent computation: each province's variance from its own Wilson interval.
    let z = 1.959_963_984_540_054_f64;
    let wilson = |p: f64, n: f64| {
        let denom = 1.0 + z * z / n;
        let centre = (p + z * z / (2.0 * n)) / denom;
        let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
        (centre - half, centre + half)
    };
    let (p1, p2) = (175.0 / 425.0, 6.0 / 14.0);
    let var = |(l, h): (f64, f64)| ((h - l) / (2.0 * z)).powi(2);
    let mean = (p1 + p2) / 2.0;
    let half = z * (var(wilson(p1, 425.0)) + var(wilson(p2, 14.0))).sqrt() / 2.0;
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-9, "{a} ≠ {b}");
    close(national.value.unwrap(), mean);
    close(national.low.unwrap(), mean - half);
    close(national.high.unwrap(), mean + half);
    // Far wider than Wilson's at 439 answers, which the old code used.
    let (naive_low, naive_high) = wilson(mean, 439.0);
    assert!(national.high.unwrap() - national.low.unwrap() > 2.0 * (naive_high - naive_low));
    // One province: its own Wilson interval.
    let one = index::compute(&form, &sheets("big", (175, 425), (0, 0)));
    assert_eq!(
        one.national.items["x1"],
        one.areas[&Level::Province]["big"].items["x1"]
    );
}
