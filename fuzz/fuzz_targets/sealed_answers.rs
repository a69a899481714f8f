#![no_main]
//! Sealed answer sheets as the ministry opens them (`Intake::open_answers` →
//! `sync_protocol::seal::open`): a device's sealed box → X25519/XSalsa20-Poly1305 → bounded
//! zstd → canonical JSON of the positional sheet → answers by the form's question order.
//!
//! Every input is tried twice. As a sealed box, if it has the shape the intake checks at ingest
//! (`seal::check_sealed_shape`; nothing else is stored): the fuzzer cannot forge a box, so this
//! covers the refusal. And sealed here to the test-vector ministry key, so that the steps after
//! decryption get the fuzzer's bytes: an input starting with `{` is the sheet's JSON and is
//! compressed first, any other input is the compressed plaintext itself.
//!
//! Properties: an opened sheet has only the form's questions and no unanswered (null) ones,
//! where its keyings differed only the form's questions and two different readings, and
//! sealing it again opens to the same sheet.

use fieldpost_fuzz::{ministry_key, VECTOR_QUESTIONS};
use libfuzzer_sys::fuzz_target;
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
use sync_protocol::{limits, seal};

fn questions_of(form: &str) -> Option<Vec<String>> {
    (form == "sipas-2024@1").then(|| VECTOR_QUESTIONS.iter().map(|q| q.to_string()).collect())
}

fuzz_target!(|data: &[u8]| {
    let secret = ministry_key();
    if seal::check_sealed_shape(data).is_ok() {
        check(&secret, data);
    }

    let plaintext = if data.starts_with(b"{") { zstd::bulk::compress(data, 1).expect("zstd compresses in memory") } else { data.to_vec() };
    let mut rng = ChaCha20Rng::from_seed([0x44; 32]);
    let sealed = secret.public().0.seal(&mut rng, &plaintext).expect("sealing in memory");
    // (An empty plaintext makes a bare 48-byte box, which a device never sends: zstd output
    // is never empty.)
    if !plaintext.is_empty() && sealed.len() <= limits::MAX_SEALED_BYTES {
        assert_eq!(seal::check_sealed_shape(&sealed), Ok(()), "a real sealed box has the shape");
    }
    check(&secret, &sealed);
});

fn check(secret: &sync_protocol::keys::MinistrySecretKey, sealed: &[u8]) {
    let Ok(sheet) = seal::open(secret, sealed, &questions_of) else { return };
    assert!(sheet.answers.iter().all(|(q, v)| VECTOR_QUESTIONS.contains(&q.as_str()) && !v.is_null()));
    assert!(sheet.keyings_apart.iter().all(|a| VECTOR_QUESTIONS.contains(&a.question.as_str()) && a.first != a.second));
    let mut rng = ChaCha20Rng::from_seed([0x55; 32]);
    let Ok(resealed) = seal::seal(&secret.public(), &sheet, &VECTOR_QUESTIONS, &mut rng) else { return };
    assert_eq!(seal::open(secret, &resealed, &questions_of).as_ref(), Ok(&sheet), "sealed again, the sheet opens the same");
}
