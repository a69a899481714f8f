//! Validating a full SIPAS form — the work done on every keystroke while keying
//! (not a timed test: it prints figures). `cargo bench -p forms --bench validate`
//!
//! Baseline in the same run: parsing the same answers from their JSON text, a cost every
//! keystroke also pays when the UI hands answers over as JSON.

use std::{collections::BTreeMap, hint::black_box, time::Instant};

#[path = "../tests/support/mod.rs"]
mod support;

fn median_micros(mut f: impl FnMut(), rounds: usize, per_round: usize) -> (f64, f64) {
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_round {
                f();
            }
            t.elapsed().as_secs_f64() * 1e6 / per_round as f64
        })
        .collect();
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (samples[rounds / 2], samples[rounds * 99 / 100])
}

fn main() {
    let form = support::sipas_2024();
    let answers = support::full_sipas_answers();
    let text = serde_json::to_string(&answers).unwrap();
    assert!(forms::validate::validate(&form, &answers).complete);

    let (validate_p50, validate_p99) = median_micros(
        || {
            black_box(forms::validate::validate(
                black_box(&form),
                black_box(&answers),
            ));
        },
        200,
        50,
    );
    let (parse_p50, _) = median_micros(
        || {
            black_box(
                serde_json::from_str::<BTreeMap<String, serde_json::Value>>(black_box(&text))
                    .unwrap(),
            );
        },
        200,
        50,
    );
    println!(
        "validate a full SIPAS form ({} questions, {} answers)",
        form.questions.len(),
        answers.len()
    );
    println!("  median        {validate_p50:>8.1} µs   (target < 200 µs)");
    println!("  p99 of rounds {validate_p99:>8.1} µs");
    println!(
        "baseline: parse the same answers from JSON ({} bytes)",
        text.len()
    );
    println!("  median        {parse_p50:>8.1} µs");
    println!("  validate / parse {:>5.2}×", validate_p50 / parse_p50);
}
