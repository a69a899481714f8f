//! Sealed answers: a respondent's answers, encrypted on the device to the ministry's X25519
//! key with a libsodium-compatible sealed box (`crypto_box_seal`: ephemeral X25519 +
//! XSalsa20-Poly1305). The intake stores the ciphertext and cannot read it; only the holder
//! of the ministry's secret key can open it.
//!
//! Plaintext: `zstd(canonical JSON of the AnswerSheet)`. The sheet names its household and
//! serial, so an opened sheet cannot be passed off as another household's.

use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::{
    canonical::{from_canonical_bytes, to_canonical_bytes},
    error::ProtocolError,
    keys::{MinistryPublicKey, MinistrySecretKey},
    limits,
};

/// Ephemeral public key (32) + Poly1305 tag (16): the least a sealed box can be.
pub const SEAL_OVERHEAD: usize = 48;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerSheet {
    /// Form definition reference, e.g. `sipas-2024@1`.
    pub form: String,
    pub household: String,
    pub serial: String,
    /// Question id → answer (a code, a list of codes, a number or text).
    pub answers: BTreeMap<String, serde_json::Value>,
}

pub fn seal<R: RngCore + CryptoRng>(
    ministry: &MinistryPublicKey,
    sheet: &AnswerSheet,
    rng: &mut R,
) -> Result<Vec<u8>, ProtocolError> {
    let json = to_canonical_bytes(sheet)?;
    let plaintext = zstd::bulk::compress(&json, 19).map_err(|_| ProtocolError::SealFailed)?;
    let sealed = ministry.0.seal(rng, &plaintext).map_err(|_| ProtocolError::SealFailed)?;
    if sealed.len() > limits::MAX_SEALED_BYTES {
        return Err(ProtocolError::TooLarge { what: "sealed answers", size: sealed.len(), limit: limits::MAX_SEALED_BYTES });
    }
    Ok(sealed)
}

pub fn open(ministry: &MinistrySecretKey, sealed: &[u8]) -> Result<AnswerSheet, ProtocolError> {
    let plaintext = ministry.0.unseal(sealed).map_err(|_| ProtocolError::OpenFailed)?;
    let json = zstd::bulk::decompress(&plaintext, limits::MAX_BATCH_BYTES).map_err(|_| ProtocolError::OpenFailed)?;
    from_canonical_bytes(&json, "answer sheet")
}

/// What the intake can check without the key: the ciphertext has a sealed box's shape.
pub fn check_sealed_shape(sealed: &[u8]) -> Result<(), ProtocolError> {
    if sealed.len() <= SEAL_OVERHEAD {
        return Err(ProtocolError::InvalidField {
            field: "sealed_answers",
            detail: format!("{} bytes is too short for a sealed box (over {SEAL_OVERHEAD})", sealed.len()),
        });
    }
    if sealed.len() > limits::MAX_SEALED_BYTES {
        return Err(ProtocolError::TooLarge { what: "sealed answers", size: sealed.len(), limit: limits::MAX_SEALED_BYTES });
    }
    if sealed[..32].iter().all(|b| *b == 0) {
        return Err(ProtocolError::InvalidField { field: "sealed_answers", detail: "the ephemeral key is all zeros".into() });
    }
    Ok(())
}
