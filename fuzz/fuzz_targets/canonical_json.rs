#![no_main]
//! Canonical JSON (`sync-protocol/src/canonical.rs`): RFC 8785 over NFC text, the one byte
//! form that is hashed and signed. `from_canonical_bytes` is the decoder under every signed
//! thing (batches, events the device re-reads from its database, receipts, assignments,
//! sealed sheets); here it is driven with a schema-less `serde_json::Value` and with the event
//! type, and `to_canonical_bytes` with whatever JSON arrives.
//!
//! Properties: bytes that decode as canonical are exactly the canonical encoding of what they
//! decode to; canonicalizing any JSON value gives bytes that decode as canonical and
//! canonicalize to themselves (idempotence: one value, one spelling); `nfc` is idempotent.

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sync_protocol::{
    canonical::{from_canonical_bytes, nfc, to_canonical_bytes},
    Event,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = from_canonical_bytes::<Value>(data, "value") {
        assert_eq!(to_canonical_bytes(&value).expect("a decoded value encodes"), data);
    }
    if let Ok(event) = from_canonical_bytes::<Event>(data, "event") {
        assert_eq!(to_canonical_bytes(&event).expect("a decoded event encodes"), data);
    }

    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        if let Ok(canonical) = to_canonical_bytes(&value) {
            let again: Value = from_canonical_bytes(&canonical, "value").unwrap_or_else(|e| {
                panic!("canonical output {:?} does not decode as canonical: {e}", String::from_utf8_lossy(&canonical))
            });
            assert_eq!(to_canonical_bytes(&again).expect("encodes"), canonical, "canonicalizing is idempotent");
        }
    }

    if let Ok(text) = std::str::from_utf8(data) {
        let once = nfc(text);
        assert_eq!(nfc(&once), once, "NFC is idempotent");
    }
});
