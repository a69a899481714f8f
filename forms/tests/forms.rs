//! The forms crate against its shipped SIPAS form and small hand-made forms.

use forms::{
    index::{self, Level, OpenedForm, Origin},
    validate::{validate, AnswerError},
    Form, FormError,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

mod support;
use support::{full_sipas_answers, sipas_2024, SIPAS_2024_JSON};

fn answers(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn the_shipped_sipas_form_loads_and_says_where_it_comes_from() {
    let form = sipas_2024();
    assert_eq!(form.reference(), "sipas-2024@1");
    assert_eq!(form.questions.len(), 81);
    assert!(form
        .definition
        .provenance
        .as_deref()
        .unwrap()
        .starts_with("RECONSTRUCTED"));
    let rule = form.definition.index.as_ref().unwrap();
    assert_eq!(
        rule.criteria.iter().map(|c| c.items.len()).sum::<usize>(),
        17 + 16
    );
    assert_eq!(form.question("q9_c3").unwrap().number, "9.I.C.3");
    assert_eq!(
        form.question("q1_5").unwrap().label.en,
        "Domestic electricity"
    );
}

#[test]
fn a_full_sipas_form_is_complete() {
    let v = validate(&sipas_2024(), &full_sipas_answers());
    assert_eq!(v.errors, vec![]);
    assert_eq!(v.required_remaining, Vec::<String>::new());
    assert!(v.complete);
}

#[test]
fn sipas_skip_logic_errors_and_special_codes() {
    let form = sipas_2024();
    let mut a = full_sipas_answers();
    // Missing required answers are listed in form order, and the form is not complete.
    a.remove("a_sex");
    a.remove("q9_d2");
    let v = validate(&form, &a);
    assert_eq!(v.required_remaining, ["a_sex", "q9_d2"]);
    assert!(!v.complete);

    // Choosing "other ethnicity" makes its specification required.
    let mut a = full_sipas_answers();
    a.insert("a_ethnicity".into(), json!(2));
    assert_eq!(
        validate(&form, &a).required_remaining,
        ["a_ethnicity_other"]
    );

    // A channel not used: its suitability is answered although it does not apply.
    let mut a = full_sipas_answers();
    a.insert("q3_2".into(), json!(3));
    assert_eq!(
        validate(&form, &a).errors[0].error,
        AnswerError::NotApplicable
    );
    assert_eq!(validate(&form, &a).errors[0].question, "q3_2");

    // No administrative procedure: the whole service block skips itself.
    let mut a = full_sipas_answers();
    a.insert("q8_4".into(), json!(2));
    let v = validate(&form, &a);
    assert!(v
        .errors
        .iter()
        .all(|e| e.question.starts_with("q9_") && e.error == AnswerError::NotApplicable));
    assert_eq!(
        v.errors.len(),
        13,
        "the 13 service items that were answered"
    );
    assert!(
        v.not_relevant.iter().any(|q| q == "q9_e1")
            && v.not_relevant.iter().all(|q| q.starts_with("q9_")
                || q == "a_ethnicity_other"
                || q == "q2_other"
                || q.starts_with("q3_")),
        "{:?}",
        v.not_relevant
    );
    assert!(!validate(&form, &full_sipas_answers())
        .not_relevant
        .contains(&"q9_e1".to_string()));
    a.retain(|k, _| {
        !(k.starts_with("q9_e")
            || k.starts_with("q9_f")
            || k.starts_with("q9_g")
            || k.starts_with("q9_h"))
    });
    assert!(validate(&form, &a).complete);

    // Not a code, a wrong type, a constraint, special codes.
    let mut a = full_sipas_answers();
    a.insert("q1_1".into(), json!(7));
    a.insert("q4".into(), json!("ba"));
    a.insert("q2".into(), json!([]));
    a.insert("q9_a1".into(), json!(8)); // not applicable: allowed on q9
    a.insert("q5".into(), json!(8)); // but not on q5
    a.insert("not_a_question".into(), json!(1));
    let errors: Vec<(String, AnswerError)> = validate(&form, &a)
        .errors
        .into_iter()
        .map(|e| (e.question, e.error))
        .collect();
    assert!(errors.contains(&("q1_1".into(), AnswerError::NotACode { code: 7 })));
    assert!(errors.contains(&(
        "q4".into(),
        AnswerError::WrongType {
            expected: "one code (a number)"
        }
    )));
    assert!(errors.contains(&(
        "q2".into(),
        AnswerError::ConstraintFailed {
            message: "Chọn ít nhất một kênh".into()
        }
    )));
    assert!(errors.contains(&("q5".into(), AnswerError::SpecialNotAllowed { code: 8 })));
    assert!(errors.contains(&("not_a_question".into(), AnswerError::UnknownQuestion)));
    assert!(!errors.iter().any(|(q, _)| q == "q9_a1"));
}

const MINI: &str = r#"{
  "format": "fieldpost-form/1", "id": "mini", "version": 3,
  "title": {"vi": "Thử", "en": "Test"},
  "special_codes": {"not_applicable": 8, "no_answer": 9},
  "choice_lists": {
    "sat5": [{"code":1,"label":{"vi":"1","en":"1"}},{"code":2,"label":{"vi":"2","en":"2"}},{"code":3,"label":{"vi":"3","en":"3"}},
             {"code":4,"label":{"vi":"4","en":"4"}},{"code":5,"label":{"vi":"5","en":"5"}}]
  },
  "sections": [{"id": "s", "title": {"vi": "S", "en": "S"}, "items": [
    {"id": "people", "kind": "integer", "label": {"vi": "Số người", "en": "People"}, "required": true, "min": 1, "max": 30,
     "constraint": ". != 13", "constraint_message": {"vi": "Không được 13", "en": "Not 13"}},
    {"id": "name", "kind": "text", "label": {"vi": "Tên", "en": "Name"}, "max_length": 5},
    {"id": "x", "kind": "grid", "label": {"vi": "Hài lòng", "en": "Satisfaction"}, "choices": "sat5", "scale": 5,
     "allow_not_applicable": true, "allow_no_answer": true,
     "rows": [{"id": "x1", "label": {"vi": "1", "en": "1"}}, {"id": "x2", "label": {"vi": "2", "en": "2"}},
              {"id": "x3", "label": {"vi": "3", "en": "3"}}]}
  ]}],
  "index": {"satisfied_codes": [4, 5],
    "criteria": [{"id": "C1", "label": {"vi": "C1", "en": "C1"}, "items": ["x1", "x2"]},
                 {"id": "C2", "label": {"vi": "C2", "en": "C2"}, "items": ["x3"]}],
    "parts": [{"id": "P1", "label": {"vi": "P1", "en": "P1"}, "criteria": ["C1"]},
              {"id": "P2", "label": {"vi": "P2", "en": "P2"}, "criteria": ["C2"]}],
    "overall": ["P1", "P2"]}
}"#;

#[test]
fn integers_and_text_are_checked() {
    let form = Form::from_json(MINI).unwrap();
    assert_eq!(form.reference(), "mini@3");
    let check = |people: Value, name: Value| {
        validate(&form, &answers(&[("people", people), ("name", name)])).errors
    };
    assert_eq!(check(json!(4), json!("Lan")), vec![]);
    assert_eq!(
        check(json!(31), json!("Lan"))[0].error,
        AnswerError::OutOfRange {
            value: 31,
            min: 1,
            max: 30
        }
    );
    assert_eq!(
        check(json!(13), json!("Lan"))[0].error,
        AnswerError::ConstraintFailed {
            message: "Không được 13".into()
        }
    );
    assert_eq!(
        check(json!(2), json!("Nguyễn"))[0].error,
        AnswerError::TooLong { length: 6, max: 5 }
    );
    assert_eq!(
        check(json!(2.5), json!("Lan"))[0].error,
        AnswerError::WrongType {
            expected: "a whole number"
        }
    );
}

#[test]
fn loading_reports_every_problem_with_its_place() {
    let mut def: Value = serde_json::from_str(MINI).unwrap();
    let items = &mut def["sections"][0]["items"];
    items[0]["relevant"] = json!("${name} = 'a' and ${nowhere} = 1"); // unknown reference
    items[1]["relevant"] = json!("${people} > 2"); // people → name → people: a cycle
    items[1]["kind"] = json!("single");
    items[1]["choices"] = json!("missing_list"); // unknown choice list
    items[2]["scale"] = json!(4); // a 5-code list called a 4-level scale
    items[2]["rows"][2]["id"] = json!("x1"); // duplicate id
    def["choice_lists"]["empty"] = json!([]);
    def["choice_lists"]["dup"] = json!([{"code": 1, "label": {"vi": "a", "en": "a"}}, {"code": 1, "label": {"vi": "b", "en": "b"}}]);
    def["index"]["criteria"][1]["items"] = json!(["x9"]);
    def["index"]["overall"] = json!(["P1", "P3"]);
    let err = Form::from_json(&def.to_string()).unwrap_err();
    let FormError::Invalid(problems) = &err else {
        panic!("{err}")
    };
    let text = err.to_string();
    let expect = [
        "choice_lists.dup[1]: code 1 appears twice",
        "choice_lists.empty: a choice list needs at least one choice",
        "sections[0].items[0] (people).relevant: refers to unknown question ${nowhere}",
        "sections[0].items[1] (name): choice list \"missing_list\" does not exist",
        "sections[0].items[2] (x): a 4-level scale needs choices coded 1 to 4 in order",
        "sections[0].items[2] (x).rows[2] (x1): id \"x1\" is already used",
        "index.criteria[1] (C2): item \"x9\" is not a question of this form",
        "index.overall: part \"P3\" is not defined",
    ];
    for e in expect {
        assert!(text.contains(e), "missing {e:?} in\n{text}");
    }
    assert_eq!(problems.len(), expect.len(), "{text}");

    let cyclic = {
        let mut d: Value = serde_json::from_str(MINI).unwrap();
        d["sections"][0]["items"][0]["relevant"] = json!("answered(${name})");
        d["sections"][0]["items"][1]["relevant"] = json!("${people} > 2");
        d
    };
    let text = Form::from_json(&cyclic.to_string())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("relevance conditions form a cycle: people → name → people"),
        "{text}"
    );

    let Err(FormError::Json { line, .. }) = Form::from_json("{\n\"format\": }") else {
        panic!()
    };
    assert_eq!(line, 2);
}

fn origin(village: &str, province: &str) -> Origin {
    Origin {
        village: village.into(),
        commune: format!("c-{village}"),
        district: format!("d-{province}"),
        province: province.into(),
    }
}

fn mini_forms() -> Vec<OpenedForm> {
    let f = |o: Origin, x1: i64, x2: Option<i64>, x3: i64| OpenedForm {
        origin: o,
        answers: match x2 {
            Some(x2) => answers(&[("x1", json!(x1)), ("x2", json!(x2)), ("x3", json!(x3))]),
            None => answers(&[("x1", json!(x1)), ("x3", json!(x3))]),
        },
    };
    vec![
        f(origin("v1", "p1"), 5, Some(4), 2),
        f(origin("v1", "p1"), 4, Some(8), 5), // x2 not applicable
        f(origin("v1", "p1"), 3, Some(2), 4),
        f(origin("v1", "p1"), 4, None, 8), // x2 skipped, x3 not applicable
        f(origin("v2", "p2"), 1, Some(1), 1),
    ]
}

#[test]
fn the_index_matches_the_hand_computation() {
    let form = Form::from_json(MINI).unwrap();
    let report = index::compute(&form, &mini_forms());
    let p1 = &report.areas[&Level::Province]["p1"];
    let close = |a: f64, b: f64| assert!((a - b).abs() < 5e-7, "{a} ≠ {b}");
    // x1: satisfied (4, 5) in forms 1, 2, 4 of 4 valid answers → 3/4 = 0.75.
    //   Wilson, z = 1.959964, n = 4: centre (0.75 + z²/8)/(1 + z²/4) = 0.627520,
    //   half z·√(0.75·0.25/4 + z²/64)/(1 + z²/4) = 0.326886 → [0.300642, 0.954413].
    let x1 = p1.items["x1"];
    assert_eq!((x1.value, x1.n), (Some(0.75), 4));
    close(x1.low.unwrap(), 0.300642);
    close(x1.high.unwrap(), 0.954413);
    // x2: 4 (satisfied) and 2 (not); 8 = not applicable and the skip do not count → 1/2.
    assert_eq!((p1.items["x2"].value, p1.items["x2"].n), (Some(0.5), 2));
    // x3: 2 (no), 5 (yes), 4 (yes); 8 does not count → 2/3.
    assert_eq!(
        (p1.items["x3"].value, p1.items["x3"].n),
        (Some(2.0 / 3.0), 3)
    );
    // C1 = mean(0.75, 0.5) = 0.625 on 6 answers; interval with n = 6/2 = 3 → [0.185317, 0.924309].
    let c1 = p1.criteria["C1"];
    assert_eq!((c1.value, c1.n), (Some(0.625), 6));
    close(c1.low.unwrap(), 0.185317);
    close(c1.high.unwrap(), 0.924309);
    // P1 = C1, P2 = C2 = x3; overall = mean(0.625, 0.666667) = 0.645833, n = 9, interval n = 3.
    close(p1.overall.value.unwrap(), (0.625 + 2.0 / 3.0) / 2.0);
    assert_eq!(p1.overall.n, 9);
    close(p1.overall.low.unwrap(), 0.196337);
    close(p1.overall.high.unwrap(), 0.931559);
    // Province p2: one form, nothing satisfied → 0.
    assert_eq!(
        report.areas[&Level::Province]["p2"].overall.value,
        Some(0.0)
    );
    // National = mean of provinces = (0.645833 + 0) / 2; n = 9 + 3.
    close(report.national.overall.value.unwrap(), 0.645833333 / 2.0);
    assert_eq!(report.national.overall.n, 12);
    assert_eq!(report.national.forms, 5);
    // Every level is there: villages v1, v2; communes; districts.
    assert_eq!(report.areas[&Level::Village].len(), 2);
    assert_eq!(report.areas[&Level::District]["d-p1"].overall, p1.overall);
}

#[test]
fn the_sipas_index_counts_only_valid_answers() {
    let form = sipas_2024();
    let a = full_sipas_answers();
    let report = index::compute(
        &form,
        &[OpenedForm {
            origin: origin("v", "p"),
            answers: a,
        }],
    );
    // Every answered satisfaction item is 4 (satisfied); complaint items were skipped.
    assert_eq!(report.national.overall.value, Some(1.0));
    assert_eq!(report.national.criteria["II.5"].value, None);
    assert_eq!(report.national.criteria["II.5"].n, 0);
    assert_eq!(report.national.items["q9_a1"].n, 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn permuting_the_forms_changes_nothing(seed in any::<u64>(), extra in prop::collection::vec((1i64..=9, 1i64..=9, 1i64..=9, 0usize..4), 0..30)) {
        use rand::{seq::SliceRandom, SeedableRng};
        let form = Form::from_json(MINI).unwrap();
        let mut all = mini_forms();
        for (x1, x2, x3, place) in extra {
            all.push(OpenedForm { origin: origin(["v1", "v2", "v3", "v4"][place], ["p1", "p2"][place % 2]), answers: answers(&[("x1", json!(x1)), ("x2", json!(x2)), ("x3", json!(x3))]) });
        }
        let before = index::compute(&form, &all);
        all.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        prop_assert_eq!(index::compute(&form, &all), before);
    }

    /// The loader's fuzz property: any byte-level damage to a real definition gives a result or a
    /// typed error, never a panic.
    #[test]
    fn damaged_definitions_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = SIPAS_2024_JSON.as_bytes().to_vec();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = Form::from_json(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_expressions_never_panic(src in "[ -~]{0,60}") {
        let _ = forms::expr::parse(&src);
    }
}

/// `docs/form-definition.schema.json` is generated from the types; this keeps it current.
/// `FIELDPOST_WRITE_SCHEMA=1 cargo test -p forms` rewrites it.
#[test]
fn the_published_json_schema_is_current() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/form-definition.schema.json"
    );
    let schema =
        serde_json::to_string_pretty(&schemars::schema_for!(forms::definition::FormDefinition))
            .unwrap()
            + "\n";
    if std::env::var_os("FIELDPOST_WRITE_SCHEMA").is_some() {
        std::fs::write(path, &schema).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(path).expect("docs/form-definition.schema.json"),
        schema,
        "regenerate the schema"
    );
    // And the shipped form is valid against its shape (every required field present).
    let v: Value = serde_json::from_str(&schema).unwrap();
    assert!(v["required"]
        .as_array()
        .unwrap()
        .contains(&json!("sections")));
}

#[test]
fn a_malformed_answers_file_gets_a_typed_error() {
    use forms::validate::parse_answers;
    assert!(matches!(
        parse_answers("{\"q1_1\": 3,"),
        Err(FormError::Answers { line: 1, .. })
    ));
    assert!(matches!(
        parse_answers("[1, 2]"),
        Err(FormError::Answers { .. })
    ));
    assert!(matches!(
        parse_answers("{\"q1_1\": {\"x\": 1}}"),
        Err(FormError::Answers { .. })
    ));
    let ok = parse_answers("{\"q1_1\": 3, \"q2\": [1, 6], \"q11\": \"tốt\"}").unwrap();
    assert_eq!(validate(&sipas_2024(), &ok).errors, vec![]);
}
