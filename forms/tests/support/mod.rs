//! Fixtures shared by the forms tests and benchmarks.

use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The SIPAS 2024 form, as the repository keeps it (data, not compiled into any part).
#[allow(dead_code)]
pub const SIPAS_2024_JSON: &str = include_str!("../../sipas-2024.json");

pub fn sipas_2024() -> forms::Form {
    forms::Form::from_json(SIPAS_2024_JSON).expect("forms/sipas-2024.json is valid")
}

/// A fully and consistently answered SIPAS form: no experience of complaints (q8_5 = 2), so
/// the complaint items are skipped; everything else answered.
pub fn full_sipas_answers() -> BTreeMap<String, Value> {
    let form = sipas_2024();
    let mut a = BTreeMap::new();
    a.insert("a_ethnicity".to_string(), json!(1));
    a.insert("q2".to_string(), json!([1, 5, 6]));
    for q in &form.questions {
        if a.contains_key(&q.id) || q.id == "a_ethnicity_other" || q.id == "q2_other" {
            continue;
        }
        let v = match q.id.as_str() {
            "q11" => json!("Thủ tục còn rườm rà"),
            "q8_5" => json!(2),
            id if id.starts_with("q8_") => json!(1),
            id if id.starts_with("q3_") && !["q3_1", "q3_5", "q3_6"].contains(&id) => continue,
            id if id.starts_with("q9_k") => continue,
            id if id.starts_with("q9_") => json!(4),
            _ => json!(2),
        };
        a.insert(q.id.clone(), v);
    }
    a
}
