//! Fixtures shared by the forms tests and benchmarks.

use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A fully and consistently answered SIPAS form: no experience of complaints (q8_5 = 2), so
/// the complaint items are skipped; everything else answered.
pub fn full_sipas_answers() -> BTreeMap<String, Value> {
    let form = forms::sipas_2024();
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
