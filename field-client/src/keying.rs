//! Keying paper forms: answer by answer, autosaved, validated, resumable; double keying blind
//! to the first pass (as CSPro's verify mode); sealing to the ministry and deleting the
//! plaintext once done.

use rusqlite::{params, OptionalExtension};
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};
use sync_protocol::{
    event::EventBody,
    keys::Base64Bytes,
    lifecycle::HouseholdStatus,
    seal::{self, AnswerSheet, KeyingsApart},
};

use crate::{household_event, record, set_status, Client, ClientError};
use forms::{validate::Validation, Form};

/// A question keyed differently in the two passes.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Mismatch {
    pub question: String,
    pub first: Option<Json>,
    pub second: Option<Json>,
}

/// Gaps longer than this between two answers are breaks, not keying time.
const MAX_GAP_SECS: i64 = 300;

impl Client {
    /// Every form version the centre sent, by reference (checked against the signed
    /// assignment's hashes when they arrived).
    fn stored_forms(&self) -> Result<&std::collections::HashMap<String, Form>, ClientError> {
        if let Some(all) = self.form_cache.get() {
            return Ok(all);
        }
        let rows: Vec<(String, Vec<u8>)> = self
            .conn
            .prepare("SELECT reference, definition FROM forms")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut all = std::collections::HashMap::new();
        for (reference, definition) in rows {
            let text = String::from_utf8(definition)
                .map_err(|e| ClientError::CorruptDatabase(e.to_string()))?;
            let form = Form::from_json(&text).map_err(|e| {
                ClientError::CorruptDatabase(format!("stored form {reference}: {e}"))
            })?;
            all.insert(reference, form);
        }
        Ok(self.form_cache.get_or_init(|| all))
    }

    /// The form new sheets are keyed with: the version the campaign names now.
    pub fn form(&self) -> Result<&Form, ClientError> {
        let reference = &self.assignment_ref()?.campaign.form;
        self.stored_forms()?
            .get(reference)
            .ok_or_else(|| ClientError::UnknownForm(reference.clone()))
    }

    /// The form a household's sheet is keyed with: the version its first keying started
    /// with (a revision never changes a form already begun), else the current one.
    pub fn form_of(&self, household: &str) -> Result<&Form, ClientError> {
        let started: Option<String> = self
            .conn
            .prepare_cached("SELECT form FROM keying_sessions WHERE household = ?1 AND pass = 1")?
            .query_row([household], |r| r.get(0))
            .optional()?
            .flatten();
        match started {
            Some(reference) => self
                .stored_forms()?
                .get(&reference)
                .ok_or(ClientError::UnknownForm(reference)),
            None => self.form(),
        }
    }

    fn check_pass(&self, household: &str, pass: u8) -> Result<(), ClientError> {
        let h = self.household(household)?;
        let open = match pass {
            // A form keyed on another tablet and carried over here is keyed again as the
            // first keying, so that the verification has a real comparison behind it.
            1 => {
                h.status == HouseholdStatus::Collected
                    || (h.status == HouseholdStatus::Transcribed
                        && !h.first_keyed_here
                        && self.rules()?.verification_required)
            }
            2 => {
                if h.status == HouseholdStatus::Transcribed && !h.first_keyed_here {
                    return Err(ClientError::NotAllowed(format!(
                        "the first keying of household {household} was done on another tablet: key it again here as the first keying before verifying"
                    )));
                }
                h.status == HouseholdStatus::Transcribed
            }
            _ => {
                return Err(ClientError::NotAllowed(
                    "keying passes are 1 (first) and 2 (verification)".into(),
                ))
            }
        };
        if !open {
            return Err(ClientError::NotAllowed(format!(
                "household {household} is {}, so keying pass {pass} is not open",
                h.status
            )));
        }
        Ok(())
    }

    /// Saves one answer durably (`None` clears it) and returns the validation of the pass.
    pub fn set_answer(
        &mut self,
        household: &str,
        pass: u8,
        question: &str,
        value: Option<Json>,
    ) -> Result<Validation, ClientError> {
        self.check_pass(household, pass)?;
        let now = chrono::Utc::now().timestamp();
        let version = self.form_of(household)?.reference();
        let tx = self.conn.transaction()?;
        // Cached statements: these run on every key, on a tablet's slow CPU.
        match &value {
            Some(v) => tx.prepare_cached(
                "INSERT INTO keyed_answers VALUES (?1, ?2, ?3, ?4) ON CONFLICT(household, pass, question) DO UPDATE SET value = excluded.value",
            )?.execute(params![household, pass, question, v.to_string()])?,
            None => tx.prepare_cached("DELETE FROM keyed_answers WHERE household = ?1 AND pass = ?2 AND question = ?3")?
                .execute(params![household, pass, question])?,
        };
        tx.prepare_cached(
            "INSERT INTO keying_sessions (household, pass, seconds, resumed_at, form) VALUES (?1, ?2, 0, ?3, ?5)
             ON CONFLICT(household, pass) DO UPDATE SET
               seconds = seconds + CASE WHEN ?3 - resumed_at BETWEEN 0 AND ?4 THEN ?3 - resumed_at ELSE 0 END,
               resumed_at = ?3",
        )?
        .execute(params![household, pass, now, MAX_GAP_SECS, version])?;
        tx.commit()?;
        Ok(forms::validate::validate(
            self.form_of(household)?,
            &self.answers(household, pass)?,
        ))
    }

    /// What a keying screen calls on every answer: saves it durably, then clears the answers
    /// it made not applicable (skipped questions skip themselves, as on the paper's arrows).
    /// Returns the validation after, and what was cleared.
    pub fn key_answer(
        &mut self,
        household: &str,
        pass: u8,
        question: &str,
        value: Option<Json>,
    ) -> Result<(Validation, Vec<String>), ClientError> {
        let mut validation = self.set_answer(household, pass, question, value)?;
        let mut cleared = Vec::new();
        loop {
            let skipped: Vec<String> = validation
                .errors
                .iter()
                .filter(|e| {
                    e.error == forms::validate::AnswerError::NotApplicable && e.question != question
                })
                .map(|e| e.question.clone())
                .collect();
            if skipped.is_empty() {
                return Ok((validation, cleared));
            }
            let tx = self.conn.transaction()?;
            for q in &skipped {
                tx.execute("DELETE FROM keyed_answers WHERE household = ?1 AND pass = ?2 AND question = ?3", params![household, pass, q])?;
            }
            tx.commit()?;
            cleared.extend(skipped);
            validation = forms::validate::validate(
                self.form_of(household)?,
                &self.answers(household, pass)?,
            );
        }
    }

    /// The answers keyed so far in one pass (pass 2 never shows pass 1: blind verification).
    pub fn answers(
        &self,
        household: &str,
        pass: u8,
    ) -> Result<BTreeMap<String, Json>, ClientError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT question, value FROM keyed_answers WHERE household = ?1 AND pass = ?2",
        )?;
        let rows = stmt
            .query_map(params![household, pass], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .map(|r| r.map(|(q, v)| (q, serde_json::from_str(&v).unwrap_or(Json::Null))))
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        Ok(rows)
    }

    fn keying_seconds(&self, household: &str, pass: u8) -> Result<u32, ClientError> {
        let s: Option<i64> = self
            .conn
            .query_row(
                "SELECT seconds FROM keying_sessions WHERE household = ?1 AND pass = ?2",
                params![household, pass],
                |r| r.get(0),
            )
            .optional()?;
        Ok(s.unwrap_or(0).max(0) as u32)
    }

    fn seal_answers(
        &self,
        household: &str,
        answers: BTreeMap<String, Json>,
        keyings_apart: Vec<KeyingsApart>,
    ) -> Result<Base64Bytes, ClientError> {
        let h = self.household(household)?;
        let assignment = self.assignment_ref()?;
        let form = self.form_of(household)?;
        let sheet = AnswerSheet {
            form: form.reference(),
            household: h.id,
            serial: h.serial,
            answers,
            keyings_apart,
        };
        let order = form.question_order();
        Ok(Base64Bytes(seal::seal(
            &assignment.ministry_public_key,
            &sheet,
            &order,
            &mut rand::rngs::OsRng,
        )?))
    }

    fn require_complete(
        &self,
        household: &str,
        answers: &BTreeMap<String, Json>,
    ) -> Result<(), ClientError> {
        let v = forms::validate::validate(self.form_of(household)?, answers);
        if v.complete {
            return Ok(());
        }
        let form = self.form_of(household)?;
        let first = v
            .errors
            .iter()
            .map(|e| e.question.clone())
            .chain(v.required_remaining.iter().cloned())
            .min_by_key(|q| form.slot(q).unwrap_or(usize::MAX));
        let mut what: Vec<String> = v
            .errors
            .iter()
            .map(|e| format!("{}: {:?}", e.question, e.error))
            .collect();
        if !v.required_remaining.is_empty() {
            what.push(format!(
                "still to answer: {}",
                v.required_remaining.join(", ")
            ));
        }
        Err(ClientError::Incomplete {
            question: first,
            detail: what.join("; "),
        })
    }

    /// Ends the first keying: the answers are sealed to the ministry in a `form_transcribed`
    /// event. Where verification is not required the plaintext is deleted at once; otherwise
    /// it is kept until the second keying is resolved.
    pub fn finish_first_keying(&mut self, household: &str) -> Result<(), ClientError> {
        self.check_pass(household, 1)?;
        let answers = self.answers(household, 1)?;
        self.require_complete(household, &answers)?;
        let form = self.form_of(household)?.reference();
        let verification = self.rules()?.verification_required;
        let keying_seconds = self.keying_seconds(household, 1)?;
        // Verified campaigns send the answers once, sealed after verification: on 2G every
        // byte counts, and the keyer's errors travel as counts.
        let sealed_answers = if verification {
            None
        } else {
            Some(self.seal_answers(household, answers, vec![])?)
        };
        let h = self.household(household)?;
        if h.status == HouseholdStatus::Transcribed {
            // Carried over: the centre already has this household's keying (from the other
            // tablet); this one only gives the verification its first pass.
            self.conn.execute(
                "UPDATE keying_sessions SET finished = 1 WHERE household = ?1 AND pass = 1",
                [household],
            )?;
            return Ok(());
        }
        let event = household_event(
            self,
            &h,
            EventBody::FormTranscribed {
                form,
                sealed_answers,
                keying_seconds,
            },
        )?;
        let tx = self.conn.transaction()?;
        set_status(&tx, household, HouseholdStatus::Transcribed)?;
        record(&tx, &event)?;
        tx.execute(
            "UPDATE keying_sessions SET finished = 1 WHERE household = ?1 AND pass = 1",
            [household],
        )?;
        if !verification {
            tx.execute(
                "DELETE FROM keyed_answers WHERE household = ?1",
                [household],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Questions keyed differently in the two passes (both passes must be complete).
    pub fn mismatches(&self, household: &str) -> Result<Vec<Mismatch>, ClientError> {
        let (first, second) = (self.answers(household, 1)?, self.answers(household, 2)?);
        self.require_complete(household, &second)?;
        // In the paper's order, as the enumerator reads the form beside the screen.
        let position: HashMap<&str, usize> = self
            .form_of(household)?
            .questions
            .iter()
            .enumerate()
            .map(|(i, q)| (q.id.as_str(), i))
            .collect();
        let mut ids: Vec<&String> = first.keys().chain(second.keys()).collect();
        ids.sort_by_key(|q| {
            (
                position.get(q.as_str()).copied().unwrap_or(usize::MAX),
                q.as_str(),
            )
        });
        ids.dedup();
        Ok(ids
            .into_iter()
            .filter(|q| first.get(*q) != second.get(*q))
            .map(|q| Mismatch {
                question: q.clone(),
                first: first.get(q).cloned(),
                second: second.get(q).cloned(),
            })
            .collect())
    }

    /// Ends the verification: every mismatch resolved against the paper (`None` = the paper
    /// leaves it blank), error counts kept, the resolved answers sealed in a
    /// `transcription_verified` event, and all plaintext deleted.
    pub fn finish_verification(
        &mut self,
        household: &str,
        resolutions: &BTreeMap<String, Option<Json>>,
    ) -> Result<(), ClientError> {
        self.check_pass(household, 2)?;
        let mismatches = self.mismatches(household)?;
        let mut answers = self.answers(household, 1)?;
        let (mut keyer_errors, mut verifier_errors) = (0u32, 0u32);
        for m in &mismatches {
            let Some(paper) = resolutions.get(&m.question) else {
                return Err(ClientError::Incomplete {
                    question: Some(m.question.clone()),
                    detail: format!(
                        "mismatch on {} is not resolved against the paper",
                        m.question
                    ),
                });
            };
            keyer_errors += u32::from(paper != &m.first);
            verifier_errors += u32::from(paper != &m.second);
            match paper {
                Some(v) => answers.insert(m.question.clone(), v.clone()),
                None => answers.remove(&m.question),
            };
        }
        self.require_complete(household, &answers)?;
        let form = self.form_of(household)?.reference();
        let keying_seconds = self.keying_seconds(household, 2)?;
        // What each keying said goes sealed with the answers, so that the ministry reviewing
        // the form can see where the keyers read the paper differently.
        let keyings_apart = mismatches
            .iter()
            .map(|m| KeyingsApart {
                question: m.question.clone(),
                first: m.first.clone(),
                second: m.second.clone(),
            })
            .collect();
        let sealed_answers = self.seal_answers(household, answers, keyings_apart)?;
        let h = self.household(household)?;
        let body = EventBody::TranscriptionVerified {
            form,
            sealed_answers,
            keying_seconds,
            mismatches: mismatches.len() as u32,
            keyer_errors,
            verifier_errors,
        };
        let event = household_event(self, &h, body)?;
        let tx = self.conn.transaction()?;
        set_status(&tx, household, HouseholdStatus::Verified)?;
        record(&tx, &event)?;
        tx.execute(
            "UPDATE keying_sessions SET finished = 1 WHERE household = ?1 AND pass = 2",
            [household],
        )?;
        tx.execute(
            "DELETE FROM keyed_answers WHERE household = ?1",
            [household],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A correction keyed again in full from the paper, sealed as a `correction` event.
    pub fn correct(
        &mut self,
        household: &str,
        answers: BTreeMap<String, Json>,
        reason: &str,
        keying_seconds: u32,
    ) -> Result<(), ClientError> {
        self.require_complete(household, &answers)?;
        let h = self.household(household)?;
        let form = self.form_of(household)?.reference();
        let sealed_answers = self.seal_answers(household, answers, vec![])?;
        let body = EventBody::Correction {
            form,
            sealed_answers,
            keying_seconds,
            reason: reason.into(),
        };
        let next = sync_protocol::lifecycle::next_status(h.status, &body, self.rules()?)?;
        let event = household_event(self, &h, body)?;
        let tx = self.conn.transaction()?;
        set_status(&tx, household, next)?;
        record(&tx, &event)?;
        tx.commit()?;
        Ok(())
    }
}
