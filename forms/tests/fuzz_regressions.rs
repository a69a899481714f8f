//! Inputs the fuzz targets (`fuzz/`, target `form_definition`) crashed on, kept as tests.

use forms::{expr, Form};
use serde_json::Value;

#[allow(dead_code)]
mod support;
use support::SIPAS_2024_JSON;

/// `1 + 1 + …` and `a and b and …` parse without recursion, but build a tree as deep as the
/// chain is long, which resolving, evaluating and dropping the expression then walk
/// recursively: a 22 KB form definition overflowed the fuzzer's stack (and a longer one any
/// thread's). Such a chain is now refused when it is parsed, with its place.
#[test]
fn a_long_operator_chain_is_refused_not_a_stack_overflow() {
    let long_sum = format!("1{} = 1", "+1".repeat(100_000));
    let long_and = format!("${{q1}} = 1{}", " and ${q1} = 1".repeat(100_000));
    for chain in [&long_sum, &long_and] {
        let err = expr::parse(chain).expect_err("a 100 000-operator chain is refused");
        assert!(err.message.contains("operators"), "{err}");
    }

    // The same in a form definition: a typed error with the item's place, not a crash.
    let mut definition: Value = serde_json::from_str(SIPAS_2024_JSON).unwrap();
    definition["sections"][0]["items"][0]["relevant"] = Value::String(long_sum);
    let err = Form::from_json(&definition.to_string()).expect_err("the definition is refused");
    assert!(err.to_string().contains("operators"), "{err}");
}

/// The bound leaves room for long but real rules: a choice among 200 codes.
#[test]
fn a_long_but_real_rule_still_parses() {
    for term in ["${q2} = ", "selected(${q2}, "] {
        let close = if term.ends_with(", ") { ")" } else { "" };
        let rule = (1..=200)
            .map(|i| format!("{term}{i}{close}"))
            .collect::<Vec<_>>()
            .join(" or ");
        expr::parse(&rule).unwrap_or_else(|e| panic!("200 alternatives parse: {e}"));
    }
}
