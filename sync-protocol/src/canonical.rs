//! The one byte encoding that is hashed and signed: RFC 8785 (JSON Canonicalization Scheme)
//! over JSON whose every string is in Unicode NFC.
//!
//! Why JCS: a client in any language can produce it with an off-the-shelf library, the bytes
//! stay readable in logs and audits, and it is fully deterministic (sorted keys, fixed number
//! and string forms). Why NFC: Vietnamese text arrives composed or decomposed depending on the
//! keyboard; two spellings of one name must not give two hashes.
//! Optional fields are omitted, never `null`, so a value has exactly one encoding.

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use unicode_normalization::{is_nfc, UnicodeNormalization};

use crate::error::ProtocolError;

mod sorted_writer;

/// Canonical bytes of a value: JSON → NFC strings → RFC 8785.
///
/// Written by [`sorted_writer`] when it can and every string is NFC already (the text of the
/// output is NFC exactly then: see [`is_canonical_encoding_of`]); otherwise, and in debug
/// builds as a check, by normalizing a copy and the reference encoder.
pub fn to_canonical_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, ProtocolError> {
    let reference = || {
        let mut json =
            serde_json::to_value(value).map_err(|e| ProtocolError::malformed("value", e))?;
        normalize_strings(&mut json);
        serde_json_canonicalizer::to_vec(&json).map_err(|e| ProtocolError::malformed("value", e))
    };
    match sorted_writer::to_vec(value, 256) {
        Ok(fast) if text_is_nfc(&fast) => {
            if cfg!(debug_assertions) {
                same_as_reference(&fast, &reference()?);
            }
            Ok(fast)
        }
        _ => reference(),
    }
}

/// Parses bytes that must be the canonical encoding of a `T`: anything else — unknown fields,
/// another key order, `null` for an absent field, decomposed text — is refused, so that the
/// bytes that were signed are exactly the bytes that anyone will re-derive from the data.
pub fn from_canonical_bytes<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, ProtocolError> {
    let value: T = serde_json::from_slice(bytes).map_err(|e| ProtocolError::malformed(what, e))?;
    check_canonical_encoding(&value, bytes, what)?;
    Ok(value)
}

/// Refuses `bytes` unless they are [`to_canonical_bytes`] of `value`, which was parsed from
/// them: the check of [`from_canonical_bytes`], for a caller that parses the bytes itself.
pub fn check_canonical_encoding<T: Serialize>(
    value: &T,
    bytes: &[u8],
    what: &'static str,
) -> Result<(), ProtocolError> {
    if !is_canonical_encoding_of(value, bytes)? {
        return Err(ProtocolError::NonCanonical { what });
    }
    Ok(())
}

/// Whether `bytes` are UTF-8 text in NFC. ASCII text always is, and is told in a fraction of
/// the time `is_nfc` takes to walk it (a batch of sealed answers is ASCII; measured on a
/// 23 KB batch: 0.3 µs against 17 µs).
fn text_is_nfc(bytes: &[u8]) -> bool {
    bytes.is_ascii() || std::str::from_utf8(bytes).is_ok_and(is_nfc)
}

/// Whether `bytes` are [`to_canonical_bytes`] of `value`, which was parsed from them, without
/// building the value again as a `serde_json::Value` and normalizing it (a copy of every
/// batch: most of ingest's work). The same verdict: RFC 8785 writes every string verbatim
/// (escaping only ASCII control characters), so when the value's canonical form equals the
/// bytes, the bytes' text is NFC exactly when every string and key in it is — and the
/// characters around them (quotes, colons, commas, brackets) combine with nothing.
///
/// The value is written by [`sorted_writer`], about three times faster than the reference
/// encoder; only what it cannot write, or writes otherwise than the bytes (refusals, rare),
/// is written again by the reference encoder, so that a flaw in the fast writer could refuse
/// nothing canonical. Debug builds (every test, the fuzz targets) also check each of its
/// outputs against the reference.
fn is_canonical_encoding_of<T: Serialize>(value: &T, bytes: &[u8]) -> Result<bool, ProtocolError> {
    if !text_is_nfc(bytes) {
        return Ok(false);
    }
    let reference = || {
        serde_json_canonicalizer::to_vec(value).map_err(|e| ProtocolError::malformed("value", e))
    };
    if let Ok(fast) = sorted_writer::to_vec(value, bytes.len()) {
        if cfg!(debug_assertions) {
            if let Ok(reference) = reference() {
                same_as_reference(&fast, &reference);
            }
        }
        if fast == bytes {
            return Ok(true);
        }
    }
    Ok(reference()? == bytes)
}

/// Debug builds' check of [`sorted_writer`] against the reference encoder, on every value
/// either writes (every test, every fuzz input).
fn same_as_reference(fast: &[u8], reference: &[u8]) {
    assert!(
        fast == reference,
        "the fast RFC 8785 writer wrote {:?} where the reference wrote {:?}",
        String::from_utf8_lossy(fast),
        String::from_utf8_lossy(reference)
    );
}

/// Returns the NFC form of `s`, borrowing nothing new when it already is.
pub fn nfc(s: &str) -> String {
    if is_nfc(s) {
        s.to_owned()
    } else {
        s.nfc().collect()
    }
}

fn normalize_strings(value: &mut Value) {
    match value {
        Value::String(s) if !is_nfc(s) => *s = s.nfc().collect(),
        Value::Array(items) => items.iter_mut().for_each(normalize_strings),
        Value::Object(map) => {
            // Keys are ours (ASCII field names) or answer ids; normalize them too.
            let entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            for (k, mut v) in entries {
                normalize_strings(&mut v);
                map.insert(nfc(&k), v);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Named {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        note: Option<String>,
    }

    #[test]
    fn composed_and_decomposed_vietnamese_encode_the_same() {
        let composed = Named {
            name: "Quảng Trị".into(),
            note: None,
        };
        let decomposed = Named {
            name: "Quảng Trị".nfd().collect(),
            note: None,
        };
        assert_ne!(composed.name, decomposed.name);
        assert_eq!(
            to_canonical_bytes(&composed).unwrap(),
            to_canonical_bytes(&decomposed).unwrap()
        );
    }

    /// The check without a re-encoding through `serde_json::Value` gives the verdict of the
    /// re-encoding it replaced, on canonical bytes and on every kind of near miss.
    #[test]
    fn the_direct_check_agrees_with_re_encoding() {
        use proptest::prelude::*;
        let by_re_encoding = |bytes: &[u8]| -> bool {
            serde_json::from_slice::<Value>(bytes)
                .ok()
                .and_then(|v| to_canonical_bytes(&v).ok())
                .is_some_and(|again| again == bytes)
        };
        let text = prop_oneof![
            Just("Quảng Trị".to_string()),
            Just("Quảng Trị".nfd().collect::<String>()),
            Just("a\u{301}".to_string()),
            Just("\u{301}".to_string()),
            Just("e\u{301}\u{323}".to_string()),
            Just("tab\there".to_string()),
            "[a-zA-Z0-9 ]{0,6}",
        ];
        let leaf = prop_oneof![
            text.clone().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
            Just(serde_json::json!(1.5)),
        ];
        let value = leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(text.clone(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        runner
            .run(&(value, 0u8..4), |(v, spelling)| {
                // The value written four ways: canonically, with its raw (maybe decomposed)
                // strings in canonical order, pretty, and as serde_json writes it.
                let raw_canonical = serde_json_canonicalizer::to_vec(&v).unwrap();
                let bytes = match spelling {
                    0 => to_canonical_bytes(&v).unwrap(),
                    1 => raw_canonical,
                    2 => serde_json::to_vec_pretty(&v).unwrap(),
                    _ => serde_json::to_vec(&v).unwrap(),
                };
                let direct = from_canonical_bytes::<Value>(&bytes, "value").is_ok();
                prop_assert_eq!(
                    direct,
                    by_re_encoding(&bytes),
                    "{}",
                    String::from_utf8_lossy(&bytes)
                );
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn non_canonical_bytes_are_refused() {
        let ok = br#"{"name":"a"}"#;
        assert!(from_canonical_bytes::<Named>(ok, "x").is_ok());
        for bad in [
            &br#"{ "name":"a"}"#[..],
            br#"{"name":"a","note":null}"#,
            br#"{"name":"a","zzz":1}"#,
        ] {
            assert!(
                from_canonical_bytes::<Named>(bad, "x").is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let decomposed: String = "Trị".nfd().collect();
        let bytes = format!(r#"{{"name":"{decomposed}"}}"#);
        assert_eq!(
            from_canonical_bytes::<Named>(bytes.as_bytes(), "x"),
            Err(ProtocolError::NonCanonical { what: "x" })
        );
    }
}
