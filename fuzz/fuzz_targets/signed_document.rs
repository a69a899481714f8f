#![no_main]
//! Documents the intake signs, as the device reads them (`field-client`): a response body
//! → `SignedDocument` (JSON with base64 body and signature) → `Receipt::verify` /
//! `Assignment::verify` (key id, Ed25519, canonical JSON of the document, the receipt's checks).
//!
//! Every input is tried twice: as the JSON of a signed document, and as the document body,
//! signed here with the test-vector intake key (when it decodes as a receipt or an
//! assignment: signatures cost more than the decoding), so the canonical decoding of receipts
//! and assignments gets the fuzzer's bytes.
//!
//! Properties: a document that verifies signs again to the very same signed document (one
//! value, one spelling, one signature), and an assignment has its tag.

use fieldpost_fuzz::intake_key;
use libfuzzer_sys::fuzz_target;
use sync_protocol::{
    assignment::Assignment,
    canonical::from_canonical_bytes,
    keys::{Base64Bytes, PublicKey},
    receipt::Receipt,
    signed::{SignedDocument, ASSIGNMENT_DOMAIN, RECEIPT_DOMAIN},
};

fuzz_target!(|data: &[u8]| {
    let public = intake_key().public();
    if let Ok(doc) = serde_json::from_slice::<SignedDocument>(data) {
        check(&doc, &public);
    }
    let receipt = from_canonical_bytes::<Receipt>(data, "receipt").is_ok();
    let assignment = from_canonical_bytes::<Assignment>(data, "assignment").is_ok();
    for (domain, decodes) in [(RECEIPT_DOMAIN, receipt), (ASSIGNMENT_DOMAIN, assignment)] {
        if !decodes {
            continue;
        }
        let key = intake_key();
        let doc = SignedDocument { body: Base64Bytes(data.to_vec()), key: key.key_id(), sig: Base64Bytes(key.sign(domain, data).to_vec()) };
        check(&doc, &public);
    }
});

fn check(doc: &SignedDocument, public: &PublicKey) {
    if let Ok(receipt) = doc.verify::<Receipt>(RECEIPT_DOMAIN, public, "receipt") {
        assert_eq!(&receipt.sign(&intake_key()).expect("a receipt signs"), doc, "a verified receipt signs to itself");
        let checked = Receipt::verify(doc, public, receipt.seq, &receipt.batch_hash);
        assert_eq!(checked.is_ok(), receipt.rejected.len() <= receipt.events as usize);
        let ids: Vec<_> = receipt.rejected.iter().map(|r| r.event).collect();
        let outcomes = receipt.outcomes(&ids);
        assert_eq!(outcomes.len(), ids.len());
    }
    if let Ok(assignment) = Assignment::verify(doc, public) {
        assert_eq!(&assignment.sign(&intake_key()).expect("an assignment signs"), doc, "a verified assignment signs to itself");
        assignment.tag().expect("a verified assignment has a tag");
    }
}
