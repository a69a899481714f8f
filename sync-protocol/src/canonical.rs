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

/// Canonical bytes of a value: JSON → NFC strings → RFC 8785.
pub fn to_canonical_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, ProtocolError> {
    let mut json = serde_json::to_value(value).map_err(|e| ProtocolError::malformed("value", e))?;
    normalize_strings(&mut json);
    serde_json_canonicalizer::to_vec(&json).map_err(|e| ProtocolError::malformed("value", e))
}

/// Parses bytes that must be the canonical encoding of a `T`: anything else — unknown fields,
/// another key order, `null` for an absent field, decomposed text — is refused, so that the
/// bytes that were signed are exactly the bytes that anyone will re-derive from the data.
pub fn from_canonical_bytes<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, ProtocolError> {
    let value: T = serde_json::from_slice(bytes).map_err(|e| ProtocolError::malformed(what, e))?;
    if to_canonical_bytes(&value)? != bytes {
        return Err(ProtocolError::NonCanonical { what });
    }
    Ok(value)
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
