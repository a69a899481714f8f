#![no_main]
//! The batch frame, decoded the way `Intake::ingest` does it: `SignedBatch::from_frame`
//! (magic, signature, bounded zstd) → `decode` (version, canonical JSON, limits, event shapes)
//! → `verify` (Ed25519); then `VerifiedBatch::event_bytes`, the slices the intake stores.
//!
//! Every input is tried twice: as a frame off the wire, and as the canonical batch inside a
//! frame made here (compressed, and — once it decodes — signed with the test-vector device
//! key). The second way gives the JSON decoder and everything past the signature check the
//! fuzzer's bytes, instead of only what survives zstd's checks.
//!
//! Properties, wherever a step succeeds: a frame written back reads back the same; a decoded
//! batch re-encodes to exactly the signed bytes and keeps the limits; `open` agrees with
//! decode + verify; each event slice is that event's own canonical encoding and parses back.

use fieldpost_fuzz::device_key;
use libfuzzer_sys::fuzz_target;
use sync_protocol::{
    batch::{BatchHash, SignedBatch, BATCH_SIGNATURE_DOMAIN, FRAME_MAGIC},
    canonical::{from_canonical_bytes, to_canonical_bytes},
    keys::DeviceKey,
    limits, Event,
};

fuzz_target!(|data: &[u8]| {
    let key = device_key();
    check_frame(data, &key, false);

    let compressed = zstd::bulk::compress(data, 1).expect("zstd compresses in memory");
    let frame = |signature: &[u8; 64]| [&FRAME_MAGIC[..], signature, &compressed].concat();
    // Signing costs more than a failed decode: sign only what decodes.
    let unsigned = frame(&[0; 64]);
    if SignedBatch::from_frame(&unsigned).and_then(|s| s.decode()).is_ok() {
        check_frame(&frame(&key.sign(BATCH_SIGNATURE_DOMAIN, data)), &key, true);
    }
});

/// Runs the decoder on one frame; `signed_here`: the frame was signed with `key` above.
fn check_frame(frame: &[u8], key: &DeviceKey, signed_here: bool) {
    let Ok(signed) = SignedBatch::from_frame(frame) else { return };
    assert!(frame.len() <= limits::MAX_FRAME_BYTES);
    assert!(signed.canonical_bytes().len() <= limits::MAX_BATCH_BYTES);
    assert_eq!(signed.hash(), BatchHash::of(signed.canonical_bytes()));
    let Ok(batch) = signed.decode() else { return };

    let rewritten = signed.to_frame();
    if rewritten.len() <= limits::MAX_FRAME_BYTES {
        assert_eq!(SignedBatch::from_frame(&rewritten).as_ref(), Ok(&signed), "a frame written back reads back the same");
    }
    assert_eq!(to_canonical_bytes(&batch).expect("a decoded batch encodes"), signed.canonical_bytes(), "only canonical bytes decode");
    assert!(!batch.events.is_empty() && batch.events.len() <= limits::MAX_EVENTS_PER_BATCH);
    for event in &batch.events {
        assert_eq!(event.check_shape(), Ok(()));
        assert_eq!(event.enumerator, batch.enumerator);
    }

    let public = key.public();
    let verified = signed.verify(&public);
    if signed_here {
        assert_eq!(verified, Ok(()), "a signature made with the key verifies");
    }
    let opened = SignedBatch::open(frame, &public);
    assert_eq!(opened.is_ok(), verified.is_ok(), "open = from_frame + decode + verify");
    let Ok(opened) = opened else { return };
    assert_eq!(opened.batch, batch);
    assert_eq!(opened.hash, signed.hash());
    let slices = opened.event_bytes().expect("the events of a verified batch slice");
    assert_eq!(slices.len(), batch.events.len());
    for (slice, event) in slices.iter().zip(&batch.events) {
        assert_eq!(slice.as_bytes(), to_canonical_bytes(event).expect("an event encodes"), "JCS is compositional");
        let back: Event = from_canonical_bytes(slice.as_bytes(), "stored event").expect("a stored event reads back");
        assert_eq!(&back, event);
    }
}
