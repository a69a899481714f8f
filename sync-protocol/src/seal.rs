//! Sealed answers: a respondent's answers, encrypted on the device to the ministry's X25519
//! key with a libsodium-compatible sealed box (`crypto_box_seal`: ephemeral X25519 +
//! XSalsa20-Poly1305). The intake stores the ciphertext and cannot read it; only the holder
//! of the ministry's secret key can open it.
//!
//! Plaintext: `zstd(canonical JSON of the sheet)`, with the answers written **by position** in
//! the form's question order (`null` where unanswered), not by question id: ids would be most
//! of the bytes, and on 2G every byte counts. The order is the form definition's, fixed by
//! its reference (`sipas-2024@1`): whoever seals or opens a sheet holds that definition. The
//! sheet names its household and serial, so an opened sheet cannot be passed off as another
//! household's.

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

/// What is sealed: the sheet with its answers by position.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PositionalSheet {
    form: String,
    household: String,
    serial: String,
    values: Vec<serde_json::Value>,
}

/// Seals `sheet` to the ministry; `questions` is the form's question ids in definition order.
pub fn seal<R: RngCore + CryptoRng>(
    ministry: &MinistryPublicKey,
    sheet: &AnswerSheet,
    questions: &[&str],
    rng: &mut R,
) -> Result<Vec<u8>, ProtocolError> {
    if let Some(stray) = sheet
        .answers
        .keys()
        .find(|id| !questions.contains(&id.as_str()))
    {
        return Err(ProtocolError::InvalidField {
            field: "answers",
            detail: format!("question {stray} is not in form {}", sheet.form),
        });
    }
    let values = questions
        .iter()
        .map(|q| {
            sheet
                .answers
                .get(*q)
                .cloned()
                .unwrap_or(serde_json::Value::Null)
        })
        .collect();
    let positional = PositionalSheet {
        form: sheet.form.clone(),
        household: sheet.household.clone(),
        serial: sheet.serial.clone(),
        values,
    };
    let json = to_canonical_bytes(&positional)?;
    let plaintext = zstd::bulk::compress(&json, 19).map_err(|_| ProtocolError::SealFailed)?;
    let sealed = ministry
        .0
        .seal(rng, &plaintext)
        .map_err(|_| ProtocolError::SealFailed)?;
    if sealed.len() > limits::MAX_SEALED_BYTES {
        return Err(ProtocolError::TooLarge {
            what: "sealed answers",
            size: sealed.len(),
            limit: limits::MAX_SEALED_BYTES,
        });
    }
    Ok(sealed)
}

/// Opens a sealed sheet. `questions_of` gives a form reference's question ids in definition
/// order (`None` for a form the opener does not know).
pub fn open(
    ministry: &MinistrySecretKey,
    sealed: &[u8],
    questions_of: &dyn Fn(&str) -> Option<Vec<String>>,
) -> Result<AnswerSheet, ProtocolError> {
    let plaintext = ministry
        .0
        .unseal(sealed)
        .map_err(|_| ProtocolError::OpenFailed)?;
    let json = zstd::bulk::decompress(&plaintext, limits::MAX_BATCH_BYTES)
        .map_err(|_| ProtocolError::OpenFailed)?;
    let positional: PositionalSheet = from_canonical_bytes(&json, "answer sheet")?;
    let questions = questions_of(&positional.form).ok_or_else(|| ProtocolError::InvalidField {
        field: "form",
        detail: format!("form {} is not known here", positional.form),
    })?;
    if questions.len() != positional.values.len() {
        return Err(ProtocolError::InvalidField {
            field: "values",
            detail: format!(
                "{} answers for the {} questions of {}",
                positional.values.len(),
                questions.len(),
                positional.form
            ),
        });
    }
    let answers = questions
        .into_iter()
        .zip(positional.values)
        .filter(|(_, v)| !v.is_null())
        .collect();
    Ok(AnswerSheet {
        form: positional.form,
        household: positional.household,
        serial: positional.serial,
        answers,
    })
}

/// What the intake can check without the key: the ciphertext has a sealed box's shape.
pub fn check_sealed_shape(sealed: &[u8]) -> Result<(), ProtocolError> {
    if sealed.len() <= SEAL_OVERHEAD {
        return Err(ProtocolError::InvalidField {
            field: "sealed_answers",
            detail: format!(
                "{} bytes is too short for a sealed box (over {SEAL_OVERHEAD})",
                sealed.len()
            ),
        });
    }
    if sealed.len() > limits::MAX_SEALED_BYTES {
        return Err(ProtocolError::TooLarge {
            what: "sealed answers",
            size: sealed.len(),
            limit: limits::MAX_SEALED_BYTES,
        });
    }
    if sealed[..32].iter().all(|b| *b == 0) {
        return Err(ProtocolError::InvalidField {
            field: "sealed_answers",
            detail: "the ephemeral key is all zeros".into(),
        });
    }
    Ok(())
}
