//! Complete, valid answers for any form — for demos, tests and benchmarks that need a filled
//! form and do not care what it says. `variant` varies the codes chosen.

use serde_json::{json, Value};
use std::collections::BTreeMap;

use crate::{
    load::Accepts,
    validate::{validate, AnswerError},
    Form,
};

/// Answers every question that applies: fill everything, then drop what the relevance rules
/// exclude, until the form is complete. A coded question that decides whether others apply (a
/// "did you deal with …?" gate) gets the code under which the most of them apply, so that the
/// answers exercise as much of the form as they can.
pub fn complete_answers(form: &Form, variant: i64) -> BTreeMap<String, Value> {
    let mut a = BTreeMap::new();
    for q in &form.questions {
        let v = match &q.accepts {
            Accepts::Code(codes) => json!(codes[((variant as usize) + q.id.len()) % codes.len()]),
            Accepts::Codes(codes) => json!([codes[0], codes[codes.len() - 1]]),
            Accepts::Integer { min, .. } => json!(min),
            Accepts::Text { .. } => json!("Ý kiến"),
        };
        a.insert(q.id.clone(), v);
    }
    let excluded = |a: &BTreeMap<String, Value>| validate(form, a).not_relevant.len();
    for q in &form.questions {
        let Accepts::Code(codes) = &q.accepts else {
            continue;
        };
        let mut best = (excluded(&a), a[&q.id].clone());
        for code in codes {
            let mut tried = a.clone();
            tried.insert(q.id.clone(), json!(code));
            let n = excluded(&tried);
            if n < best.0 {
                best = (n, json!(code));
            }
        }
        a.insert(q.id.clone(), best.1);
    }
    loop {
        let v = validate(form, &a);
        let not_applicable: Vec<String> = v
            .errors
            .iter()
            .filter(|e| e.error == AnswerError::NotApplicable)
            .map(|e| e.question.clone())
            .collect();
        if not_applicable.is_empty() {
            assert!(
                v.complete,
                "the sample answers do not complete form {}: {v:?}",
                form.reference()
            );
            return a;
        }
        for q in not_applicable {
            a.remove(&q);
        }
    }
}
