//! The index vector of docs/sync-protocol.md §11 and docs/statistics.md
//! (`forms/tests/index-vector.json`): a small form, answer sheets in, every level out. Checked
//! both ways: the crate's index must give the vector's figures, and a second computation
//! written here from the documents alone (exact fractions, no code of the crate's index) must
//! give them too. `FIELDPOST_WRITE_VECTORS=1` writes the file from the second computation.

use forms::{
    index::{self, Level, OpenedForm, Origin},
    Form,
};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{ToPrimitive, Zero};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/index-vector.json");

/// The form: a gate question, a grid x (x1, x2), y1 that applies only when gate = 1, and z1
/// in a part outside the overall index. 8 = not applicable, 9 = no answer.
fn form_json() -> Value {
    let scale = (1..=5)
        .map(|c| json!({"code": c, "label": {"vi": c.to_string(), "en": c.to_string()}}))
        .collect::<Vec<_>>();
    json!({
        "format": "fieldpost-form/1", "id": "vector", "version": 1,
        "title": {"vi": "Vectơ", "en": "Vector"},
        "special_codes": {"not_applicable": 8, "no_answer": 9},
        "choice_lists": {"s5": scale, "yn": [{"code": 1, "label": {"vi": "Có", "en": "Yes"}}, {"code": 2, "label": {"vi": "Không", "en": "No"}}]},
        "sections": [{"id": "s", "title": {"vi": "S", "en": "S"}, "items": [
            {"id": "gate", "kind": "single", "label": {"vi": "Đã dùng dịch vụ", "en": "Used the service"}, "choices": "yn", "required": true},
            {"id": "x", "kind": "grid", "label": {"vi": "X", "en": "X"}, "choices": "s5", "scale": 5, "required": true,
             "allow_not_applicable": true, "allow_no_answer": true,
             "rows": [{"id": "x1", "label": {"vi": "x1", "en": "x1"}}, {"id": "x2", "label": {"vi": "x2", "en": "x2"}}]},
            {"id": "y1", "kind": "likert", "label": {"vi": "y1", "en": "y1"}, "choices": "s5", "scale": 5, "relevant": "${gate} = 1"},
            {"id": "z1", "kind": "likert", "label": {"vi": "z1", "en": "z1"}, "choices": "s5", "scale": 5}
        ]}],
        "index": {"satisfied_codes": [4, 5],
            "criteria": [
                {"id": "C1", "label": {"vi": "C1", "en": "C1"}, "items": ["x1", "x2"]},
                {"id": "C2", "label": {"vi": "C2", "en": "C2"}, "items": ["y1"]},
                {"id": "C3", "label": {"vi": "C3", "en": "C3"}, "items": ["z1"]}],
            "parts": [
                {"id": "P1", "label": {"vi": "P1", "en": "P1"}, "criteria": ["C1", "C2"]},
                {"id": "P2", "label": {"vi": "P2", "en": "P2"}, "criteria": ["C3"]}],
            "overall": ["P1"]}
    })
}

/// Sheets: (village, commune, district, province, answers). Edge cases on purpose: a special
/// code, a mark, an answer to y1 where gate = 2 (does not apply), text where a code belongs.
fn sheets() -> Vec<Value> {
    let s = |v: &str, c: &str, d: &str, p: &str, a: Value| json!({"village": v, "commune": c, "district": d, "province": p, "answers": a});
    vec![
        s(
            "v1",
            "c1",
            "d1",
            "p1",
            json!({"gate": 1, "x1": 5, "x2": 4, "y1": 4, "z1": 2}),
        ),
        s(
            "v1",
            "c1",
            "d1",
            "p1",
            json!({"gate": 1, "x1": 3, "x2": 8, "y1": 2, "z1": 5}),
        ),
        s(
            "v1",
            "c1",
            "d1",
            "p1",
            json!({"gate": 2, "x1": 4, "x2": 2, "y1": 5, "z1": 4}),
        ),
        s(
            "v2",
            "c1",
            "d1",
            "p1",
            json!({"gate": 1, "x1": {"mark": "blank"}, "x2": 5, "y1": 9, "z1": 1}),
        ),
        s(
            "v2",
            "c1",
            "d1",
            "p1",
            json!({"gate": 1, "x1": "4", "x2": 1, "y1": 5, "z1": 3}),
        ),
        s(
            "v3",
            "c2",
            "d2",
            "p2",
            json!({"gate": 1, "x1": 4, "x2": 4, "y1": 1, "z1": 5}),
        ),
        s(
            "v3",
            "c2",
            "d2",
            "p2",
            json!({"gate": 2, "x1": 2, "x2": 5, "z1": 4}),
        ),
    ]
}

// ---- The second computation, from docs/statistics.md alone --------------------------------

type Q = BigRational;

fn q(n: u64, d: u64) -> Q {
    Q::new(BigInt::from(n), BigInt::from(d))
}

/// Per the docs: an item counts a sheet only if the question applies (y1 only when gate = 1,
/// gate itself being a valid code) and the answer is a number on the 1–5 scale.
fn counts(answers: &Value, item: &str) -> Option<bool> {
    let code = |id: &str| answers.get(id).and_then(Value::as_i64);
    if item == "y1" && code("gate") != Some(1) {
        return None;
    }
    match code(item) {
        Some(c) if (1..=5).contains(&c) => Some(c >= 4),
        _ => None,
    }
}

const Z: f64 = 1.959_963_984_540_054;

fn wilson(p: f64, n: f64) -> (f64, f64) {
    let denom = 1.0 + Z * Z / n;
    let centre = (p + Z * Z / (2.0 * n)) / denom;
    let half = Z * (p * (1.0 - p) / n + Z * Z / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[derive(Clone)]
struct Fig {
    value: Option<Q>,
    n: u64,
    size: f64,
}

fn mean(figs: &[Fig]) -> Fig {
    let with: Vec<&Fig> = figs.iter().filter(|f| f.value.is_some()).collect();
    let n = figs.iter().map(|f| f.n).sum();
    if with.is_empty() {
        return Fig {
            value: None,
            n,
            size: 0.0,
        };
    }
    let k = with.len() as u64;
    let sum = with
        .iter()
        .fold(Q::zero(), |a, f| a + f.value.clone().unwrap());
    Fig {
        value: Some(sum / q(k, 1)),
        n,
        size: with.iter().map(|f| f.size).sum::<f64>() / k as f64,
    }
}

fn area(sheets: &[&Value]) -> BTreeMap<String, Fig> {
    let item = |id: &str| {
        let judged: Vec<bool> = sheets
            .iter()
            .filter_map(|s| counts(&s["answers"], id))
            .collect();
        let n = judged.len() as u64;
        let yes = judged.iter().filter(|b| **b).count() as u64;
        Fig {
            value: (n > 0).then(|| q(yes, n)),
            n,
            size: n as f64,
        }
    };
    let mut out = BTreeMap::new();
    for id in ["x1", "x2", "y1", "z1"] {
        out.insert(format!("item:{id}"), item(id));
    }
    let c1 = mean(&[item("x1"), item("x2")]);
    let c2 = mean(&[item("y1")]);
    let c3 = mean(&[item("z1")]);
    let p1 = mean(&[c1.clone(), c2.clone()]);
    let p2 = mean(&[c3.clone()]);
    out.insert("overall".into(), mean(&[p1.clone()]));
    out.insert("criterion:C1".into(), c1);
    out.insert("criterion:C2".into(), c2);
    out.insert("criterion:C3".into(), c3);
    out.insert("part:P1".into(), p1);
    out.insert("part:P2".into(), p2);
    out
}

fn written(f: &Fig, national: Option<&[Fig]>) -> Value {
    let Some(v) = &f.value else {
        return json!({"value": null, "n": f.n});
    };
    let p = v.to_f64().unwrap();
    let (low, high) = match national {
        // The mean of k provinces: variance = sum of their Wilson-implied variances / k².
        Some(provinces) if provinces.iter().filter(|x| x.value.is_some()).count() > 1 => {
            let with: Vec<&Fig> = provinces.iter().filter(|x| x.value.is_some()).collect();
            let k = with.len() as f64;
            let var: f64 = with
                .iter()
                .map(|x| {
                    let (l, h) = wilson(x.value.as_ref().unwrap().to_f64().unwrap(), x.size);
                    ((h - l) / (2.0 * Z)).powi(2)
                })
                .sum::<f64>()
                / (k * k);
            ((p - Z * var.sqrt()).max(0.0), (p + Z * var.sqrt()).min(1.0))
        }
        _ => wilson(p, f.size),
    };
    // Half away from zero at one decimal of per cent, from the exact fraction.
    let tenths = (v * q(1000, 1) * q(2, 1) + q(1, 1)).to_integer() / BigInt::from(2);
    json!({
        "value": format!("{}/{}", v.numer(), v.denom()),
        "percent": format!("{}.{}", &tenths / BigInt::from(10), &tenths % BigInt::from(10)),
        "n": f.n,
        "low": (low * 1e12).round() / 1e12,
        "high": (high * 1e12).round() / 1e12,
    })
}

fn expected() -> Value {
    let all = sheets();
    let mut levels = serde_json::Map::new();
    let mut province_figs: BTreeMap<String, BTreeMap<String, Fig>> = BTreeMap::new();
    for level in ["village", "commune", "district", "province"] {
        let mut areas: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for s in &all {
            areas
                .entry(s[level].as_str().unwrap().to_string())
                .or_default()
                .push(s);
        }
        let mut out = serde_json::Map::new();
        for (id, sheets) in areas {
            let figs = area(&sheets);
            let mut m = serde_json::Map::new();
            m.insert("forms".into(), json!(sheets.len()));
            for (k, f) in &figs {
                m.insert(k.clone(), written(f, None));
            }
            if level == "province" {
                province_figs.insert(id.clone(), figs);
            }
            out.insert(id, Value::Object(m));
        }
        levels.insert(level.into(), Value::Object(out));
    }
    let mut national = serde_json::Map::new();
    national.insert("forms".into(), json!(all.len()));
    let keys: Vec<String> = province_figs
        .values()
        .next()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for k in keys {
        let per: Vec<Fig> = province_figs.values().map(|m| m[&k].clone()).collect();
        national.insert(k.clone(), written(&mean(&per), Some(&per)));
    }
    json!({
        "about": "A full index computation: a form, sheets in, every level out (docs/statistics.md). value is the exact share as a fraction, percent is it rounded half away from zero to one decimal, low/high the 95 % interval to 12 decimals.",
        "form": form_json(),
        "sheets": all,
        "levels": Value::Object(levels),
        "national": Value::Object(national),
    })
}

// ---- The checks -----------------------------------------------------------------------------

#[test]
fn the_vector_is_what_the_documents_say() {
    let computed = expected();
    if std::env::var_os("FIELDPOST_WRITE_VECTORS").is_some() {
        std::fs::write(
            PATH,
            serde_json::to_string_pretty(&computed).unwrap() + "\n",
        )
        .unwrap();
    }
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    assert_eq!(
        kept, computed,
        "the vector file and the documents' rules agree"
    );
}

#[test]
fn the_crates_index_gives_the_vectors_figures() {
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    let form = Form::from_json(&kept["form"].to_string()).unwrap();
    let opened: Vec<OpenedForm> = kept["sheets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| OpenedForm {
            origin: Origin {
                village: s["village"].as_str().unwrap().into(),
                commune: s["commune"].as_str().unwrap().into(),
                district: s["district"].as_str().unwrap().into(),
                province: s["province"].as_str().unwrap().into(),
            },
            answers: serde_json::from_value(s["answers"].clone()).unwrap(),
        })
        .collect();
    let report = index::compute(&form, &opened);
    let check = |want: &Value, got: &index::AreaIndex, place: &str| {
        assert_eq!(want["forms"], json!(got.forms), "{place}");
        let mut shares: Vec<(String, index::Share)> = vec![("overall".into(), got.overall)];
        shares.extend(got.parts.iter().map(|(k, s)| (format!("part:{k}"), *s)));
        shares.extend(
            got.criteria
                .iter()
                .map(|(k, s)| (format!("criterion:{k}"), *s)),
        );
        shares.extend(got.items.iter().map(|(k, s)| (format!("item:{k}"), *s)));
        for (key, s) in shares {
            let w = &want[&key];
            assert_eq!(w["n"], json!(s.n), "{place} {key}");
            match w["value"].as_str() {
                None => assert_eq!(s.value, None, "{place} {key}"),
                Some(fraction) => {
                    let (a, b) = fraction.split_once('/').unwrap();
                    let exact = a.parse::<f64>().unwrap() / b.parse::<f64>().unwrap();
                    assert!((s.value.unwrap() - exact).abs() < 1e-12, "{place} {key}");
                    assert_eq!(
                        s.percent_text(1).as_deref(),
                        w["percent"].as_str(),
                        "{place} {key}"
                    );
                    assert!(
                        (s.low.unwrap() - w["low"].as_f64().unwrap()).abs() < 1e-9,
                        "{place} {key} low"
                    );
                    assert!(
                        (s.high.unwrap() - w["high"].as_f64().unwrap()).abs() < 1e-9,
                        "{place} {key} high"
                    );
                }
            }
        }
    };
    for (level, name) in [
        (Level::Village, "village"),
        (Level::Commune, "commune"),
        (Level::District, "district"),
        (Level::Province, "province"),
    ] {
        let want = kept["levels"][name].as_object().unwrap();
        assert_eq!(want.len(), report.areas[&level].len(), "{name}");
        for (id, w) in want {
            check(w, &report.areas[&level][id], &format!("{name} {id}"));
        }
    }
    check(&kept["national"], &report.national, "national");
}
