#![no_main]
//! The form definition (`forms`): `Form::from_json` → `Form::load`, which checks every rule
//! and compiles the relevance and constraint expressions; the device then validates keyed
//! answers against it on every keystroke. Also the two other text decoders of the crate: an
//! answers file (`validate::parse_answers`, validated against the SIPAS form) and a bare
//! expression (`expr::parse`). (Formerly `forms/fuzz`, target `load_definition`.)
//!
//! Properties: every question of a loaded form is found at its slot; the definition written
//! back loads again with the same questions; validating it with no answers, and with every
//! question answered, is a result and never a panic.

use forms::{expr, validate, Form};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use std::{collections::BTreeMap, sync::OnceLock};

fn sipas() -> &'static Form {
    static FORM: OnceLock<Form> = OnceLock::new();
    FORM.get_or_init(intake::demo::sipas_2024)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };

    if let Ok(form) = Form::from_json(text) {
        for (i, q) in form.questions.iter().enumerate() {
            assert_eq!(form.slot(&q.id), Some(i), "question {} is at its slot", q.id);
        }
        let written = serde_json::to_string(&form.definition).expect("a definition writes as JSON");
        let again = Form::from_json(&written).unwrap_or_else(|e| panic!("a loaded form written back does not load: {e}"));
        assert_eq!(again.question_order(), form.question_order());

        let none = validate::validate(&form, &BTreeMap::new());
        assert!(none.errors.is_empty(), "no answers, no errors: {:?}", none.errors);
        let all: BTreeMap<String, Value> = form.questions.iter().map(|q| (q.id.clone(), json!(1))).collect();
        let _ = validate::validate(&form, &all);
    }

    if let Ok(answers) = validate::parse_answers(text) {
        let _ = validate::validate(sipas(), &answers);
    }
    let _ = expr::parse(text);
});
