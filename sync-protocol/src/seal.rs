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
    /// Where a blind second keying differed from the first (a `transcription_verified` sheet),
    /// what each keying said; `answers` holds what the paper was found to say. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keyings_apart: Vec<KeyingsApart>,
}

/// One question the two keyings of a sheet answered differently (`None`: left blank).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyingsApart {
    pub question: String,
    pub first: Option<serde_json::Value>,
    pub second: Option<serde_json::Value>,
}

/// What is sealed: the sheet with its answers by position.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PositionalSheet {
    form: String,
    household: String,
    serial: String,
    values: Vec<serde_json::Value>,
    /// `[position, first, second]` for each question the keyings answered differently, in
    /// question order; absent when none (so a sheet without is byte-identical to one from
    /// before the field existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    apart: Vec<(usize, serde_json::Value, serde_json::Value)>,
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
        .chain(sheet.keyings_apart.iter().map(|a| &a.question))
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
    // Every question named is the form's (checked above): its position is found.
    let position = |id: &str| {
        questions
            .iter()
            .position(|q| *q == id)
            .unwrap_or(usize::MAX)
    };
    let or_null = |v: &Option<serde_json::Value>| v.clone().unwrap_or(serde_json::Value::Null);
    let mut apart: Vec<_> = sheet
        .keyings_apart
        .iter()
        .map(|a| (position(&a.question), or_null(&a.first), or_null(&a.second)))
        .collect();
    apart.sort_by_key(|(at, ..)| *at);
    // Nothing is sealed that `open` would refuse: a question twice, or keyings that agree.
    if apart.windows(2).any(|w| w[0].0 == w[1].0) || apart.iter().any(|(_, a, b)| a == b) {
        return Err(ProtocolError::InvalidField {
            field: "keyings_apart",
            detail: "a question is named twice, or its two keyings agree".into(),
        });
    }
    let positional = PositionalSheet {
        form: sheet.form.clone(),
        household: sheet.household.clone(),
        serial: sheet.serial.clone(),
        values,
        apart,
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
    let mut keyings_apart = Vec::with_capacity(positional.apart.len());
    let mut after = None;
    for (at, first, second) in positional.apart {
        let in_order = after.is_none_or(|before| at > before);
        after = Some(at);
        let (Some(question), true, true) = (questions.get(at), first != second, in_order) else {
            return Err(ProtocolError::InvalidField {
                field: "apart",
                detail: format!(
                    "position {at} is no question of {}, out of order, or its keyings agree",
                    positional.form
                ),
            });
        };
        let given = |v: serde_json::Value| (!v.is_null()).then_some(v);
        keyings_apart.push(KeyingsApart {
            question: question.clone(),
            first: given(first),
            second: given(second),
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
        keyings_apart,
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;
    use serde_json::json;

    const QUESTIONS: [&str; 4] = ["a2_sex", "a3_age", "q2_channels", "q9_2_1"];

    fn questions_of(form: &str) -> Option<Vec<String>> {
        (form == "f@1").then(|| QUESTIONS.iter().map(|q| q.to_string()).collect())
    }

    fn sheet(keyings_apart: Vec<KeyingsApart>) -> AnswerSheet {
        AnswerSheet {
            form: "f@1".into(),
            household: "h1".into(),
            serial: "S-1".into(),
            answers: [
                ("a2_sex".to_string(), json!(2)),
                ("q9_2_1".into(), json!(4)),
            ]
            .into(),
            keyings_apart,
        }
    }

    fn apart(
        question: &str,
        first: Option<serde_json::Value>,
        second: Option<serde_json::Value>,
    ) -> KeyingsApart {
        KeyingsApart {
            question: question.into(),
            first,
            second,
        }
    }

    /// Seals a positional sheet as written, however wrong: what a hostile device could send.
    fn seal_raw(key: &MinistrySecretKey, positional: serde_json::Value) -> Vec<u8> {
        let json = to_canonical_bytes(&positional).unwrap();
        let plaintext = zstd::bulk::compress(&json, 3).unwrap();
        key.public().0.seal(&mut OsRng, &plaintext).unwrap()
    }

    #[test]
    fn what_each_keying_said_travels_sealed_in_question_order() {
        let key = MinistrySecretKey::generate(&mut OsRng);
        // Given out of order, it comes back in the form's order.
        let given = vec![
            apart("q9_2_1", Some(json!(3)), Some(json!(4))),
            apart("a2_sex", None, Some(json!(2))),
        ];
        let sealed = seal(&key.public(), &sheet(given.clone()), &QUESTIONS, &mut OsRng).unwrap();
        let opened = open(&key, &sealed, &questions_of).unwrap();
        assert_eq!(opened.keyings_apart, [given[1].clone(), given[0].clone()]);
        assert_eq!(opened.answers, sheet(vec![]).answers);
        // What opening would refuse is refused before sealing: the same question twice, two
        // keyings that agree, a question the form does not have.
        for bad in [
            vec![
                apart("a2_sex", None, Some(json!(2))),
                apart("a2_sex", Some(json!(1)), Some(json!(2))),
            ],
            vec![apart("q9_2_1", Some(json!(4)), Some(json!(4)))],
            vec![apart("a3_age", None, None)],
        ] {
            assert!(
                seal(&key.public(), &sheet(bad.clone()), &QUESTIONS, &mut OsRng).is_err(),
                "{bad:?}"
            );
        }
        assert!(seal(
            &key.public(),
            &sheet(vec![apart("zz", None, Some(json!(1)))]),
            &QUESTIONS,
            &mut OsRng
        )
        .is_err());
    }

    #[test]
    fn a_sheet_without_keyings_apart_is_sealed_as_before_the_field_existed() {
        let key = MinistrySecretKey::generate(&mut OsRng);
        let sealed = seal(&key.public(), &sheet(vec![]), &QUESTIONS, &mut OsRng).unwrap();
        let plaintext = key.0.unseal(&sealed).unwrap();
        let json = zstd::bulk::decompress(&plaintext, 1 << 20).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"form":"f@1","household":"h1","serial":"S-1","values":[2,null,null,4]}"#
        );
        assert!(!serde_json::to_string(&sheet(vec![]))
            .unwrap()
            .contains("keyings_apart"));
    }

    #[test]
    fn keyings_apart_that_cannot_be_are_refused_on_opening() {
        let key = MinistrySecretKey::generate(&mut OsRng);
        let with = |apart: serde_json::Value| {
            seal_raw(
                &key,
                json!({"form": "f@1", "household": "h1", "serial": "S-1",
                       "values": [2, null, null, 4], "apart": apart}),
            )
        };
        assert!(open(&key, &with(json!([[0, null, 2]])), &questions_of).is_ok());
        for bad in [
            json!([[4, 1, 2]]),               // no such question
            json!([[3, 4, 4]]),               // the keyings agree
            json!([[3, 1, 4], [0, null, 2]]), // out of order
            json!([[3, 1, 4], [3, 2, 4]]),    // twice
            json!([]),                        // written though empty: not canonical
        ] {
            assert!(
                open(&key, &with(bad.clone()), &questions_of).is_err(),
                "{bad}"
            );
        }
    }
}
