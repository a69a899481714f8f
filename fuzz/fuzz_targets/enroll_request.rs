#![no_main]
//! The enrollment request as the intake reads it (`intake/src/http.rs`, `enroll`): a body of at
//! most 16 KiB → `serde_json::from_slice::<api::EnrollRequest>` (which checks the Ed25519 public
//! key through `PublicKey`'s base64 and point decoding) → `service::code_hash` of the code, the
//! only thing done with it before the store.
//!
//! Properties: a request that parses writes back to JSON that parses to the same request, its
//! key has a key id, and checking any signature with it is an error, never a panic.

use intake::service::code_hash;
use libfuzzer_sys::fuzz_target;
use sync_protocol::api::{EnrollRequest, REQUEST_DOMAIN};

/// The intake's body limit for `/v1/enroll`.
const BODY_LIMIT: usize = 16 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() > BODY_LIMIT {
        return;
    }
    let Ok(request) = serde_json::from_slice::<EnrollRequest>(data) else { return };
    let hash = code_hash(&request.code);
    assert_eq!(hash.len(), 64);

    let written = serde_json::to_vec(&request).expect("a request writes as JSON");
    let back: EnrollRequest = serde_json::from_slice(&written).expect("a written request reads back");
    assert_eq!((&back.code, &back.label, back.public_key), (&request.code, &request.label, request.public_key));
    assert_eq!(code_hash(&back.code), hash);

    assert_eq!(request.public_key.key_id().0.len(), 16);
    assert!(request.public_key.verify(REQUEST_DOMAIN, data, &[0u8; 64]).is_err());
    let _ = request.public_key.verify(REQUEST_DOMAIN, data, data);
});
