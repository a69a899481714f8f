//! What an answer can be, and how the centre reads one.
//!
//! One cell of a keyed sheet holds exactly one of:
//!
//! * **nothing** — not keyed: the question does not apply and the keying screen skipped it;
//! * **a value** of the question's kind — one code, a list of codes, a whole number, text —
//!   the respondent's answer;
//! * **a special code** printed on the paper, where the question allows it ("không áp dụng",
//!   "không trả lời": SIPAS's 8 and 9) — the respondent's own answer that they have none;
//! * **a mark** ([`Mark`]) — the keyer's account of paper that holds no usable answer: the box
//!   was left blank, cannot be read, or more than one box was ticked on a one-answer question.
//!   A mark is not a code of the question and never collides with one: it travels as a JSON
//!   object, `{"mark": "blank"}`. It settles a required question (the paper was transcribed as
//!   it is), and it is never a valid answer.
//!
//! The centre reads every opened sheet with the version it was sealed under ([`read`]): each
//! answered cell is [`Reading::Valid`], a special code, a mark, an answer to a question the
//! sheet's own answers rule out ([`Reading::NotApplying`]) or a value no conforming device
//! sends ([`Reading::Invalid`]). Only valid answers count in the index; the answers export
//! shows the others as what they are; the last two are anomalies for the ministry.

use serde::Serialize;
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};

use crate::{
    validate::{validate, AnswerError},
    Form,
};

/// What the keyer found where an answer should be, when it is not one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    /// Nothing ticked or written.
    Blank,
    /// Something is there but cannot be read with certainty.
    Unreadable,
    /// More than one box ticked where the question takes one.
    Several,
}

impl Mark {
    pub const ALL: [Mark; 3] = [Mark::Blank, Mark::Unreadable, Mark::Several];

    /// The word it travels as inside `{"mark": …}`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mark::Blank => "blank",
            Mark::Unreadable => "unreadable",
            Mark::Several => "several",
        }
    }

    /// The mark an answer value is, if it is one.
    pub fn of(value: &Json) -> Option<Mark> {
        let object = value.as_object()?;
        if object.len() != 1 {
            return None;
        }
        let word = object.get("mark")?.as_str()?;
        Mark::ALL.into_iter().find(|m| m.as_str() == word)
    }

    pub fn to_json(self) -> Json {
        serde_json::json!({ "mark": self.as_str() })
    }

    /// As a reader of the export sees it.
    pub fn label_vi(self) -> &'static str {
        match self {
            Mark::Blank => "để trống",
            Mark::Unreadable => "không đọc được",
            Mark::Several => "chọn nhiều ô",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Mark::Blank => "left blank",
            Mark::Unreadable => "unreadable",
            Mark::Several => "several boxes ticked",
        }
    }
}

/// How the centre reads one answered cell of a sheet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reading", rename_all = "snake_case")]
pub enum Reading {
    /// A value of the question's kind on a question that applies: it counts.
    Valid,
    /// A special code printed on the paper (not applicable, no answer).
    Special {
        code: i64,
    },
    Marked {
        mark: Mark,
    },
    /// Answered, although the sheet's own answers rule the question out (e.g. rated a service
    /// the respondent says they did not use).
    NotApplying,
    /// A value no conforming device sends: text or a list where one code belongs, a code the
    /// question does not have, a number out of range, a question the version does not have.
    Invalid {
        error: AnswerError,
    },
}

impl Reading {
    /// Whether the cell is something the ministry should look at.
    pub fn is_anomaly(&self) -> bool {
        matches!(self, Reading::NotApplying | Reading::Invalid { .. })
    }

    /// How the export labels a cell that is not a valid answer.
    pub fn marker_vi(&self) -> Option<String> {
        match self {
            Reading::Valid | Reading::Special { .. } => None,
            Reading::Marked { mark } => Some(mark.label_vi().to_string()),
            Reading::NotApplying => Some("câu không áp dụng — không tính".into()),
            Reading::Invalid { .. } => Some("giá trị không hợp lệ — không tính".into()),
        }
    }
}

/// Every answered cell of one sheet read against `form` (the version it was sealed under), by
/// question id. Cells that hold nothing (absent or JSON null, empty text) are not listed.
pub fn read(form: &Form, answers: &BTreeMap<String, Json>) -> BTreeMap<String, Reading> {
    let validation = validate(form, answers);
    let mut errors: HashMap<&str, &AnswerError> = HashMap::new();
    for e in &validation.errors {
        errors.entry(e.question.as_str()).or_insert(&e.error);
    }
    let mut out = BTreeMap::new();
    for (id, value) in answers {
        if is_empty(value) {
            // Empty text where a code or a number belongs is a value no device sends (a
            // device sends nothing for an unanswered question), not an unanswered one.
            let expected = match form.question(id).map(|q| &q.accepts) {
                Some(crate::load::Accepts::Code(_)) if value.is_string() => {
                    Some("one code (a number)")
                }
                Some(crate::load::Accepts::Codes(_)) if value.is_string() => {
                    Some("a list of codes")
                }
                Some(crate::load::Accepts::Integer { .. }) if value.is_string() => {
                    Some("a whole number")
                }
                _ => None,
            };
            if let Some(expected) = expected {
                let reading = if validation.not_relevant.contains(id) {
                    Reading::NotApplying
                } else {
                    Reading::Invalid {
                        error: AnswerError::WrongType { expected },
                    }
                };
                out.insert(id.clone(), reading);
            }
            continue;
        }
        let reading = if let Some(mark) = Mark::of(value) {
            match errors.get(id.as_str()) {
                Some(error) => Reading::Invalid {
                    error: (*error).clone(),
                },
                None => Reading::Marked { mark },
            }
        } else {
            match errors.get(id.as_str()) {
                Some(AnswerError::NotApplicable) => Reading::NotApplying,
                Some(error) => Reading::Invalid {
                    error: (*error).clone(),
                },
                None => match (form.question(id), value.as_i64()) {
                    (Some(q), Some(code))
                        if Some(code) == q.not_applicable || Some(code) == q.no_answer =>
                    {
                        Reading::Special { code }
                    }
                    // A special "not applicable" on a question that does not apply.
                    (Some(_), Some(code))
                        if validation.not_relevant.contains(id)
                            && Some(code) == form.definition.special_codes.not_applicable =>
                    {
                        Reading::Special { code }
                    }
                    _ => Reading::Valid,
                },
            }
        };
        out.insert(id.clone(), reading);
    }
    out
}

/// Nothing keyed: absent, null or empty text.
pub fn is_empty(value: &Json) -> bool {
    match value {
        Json::Null => true,
        Json::String(s) => s.is_empty(),
        _ => false,
    }
}

/// The cells of a sheet that are anomalies, in the form's question order (unknown ids last).
pub fn anomalies(form: &Form, readings: &BTreeMap<String, Reading>) -> Vec<(String, Reading)> {
    let mut found: Vec<(String, Reading)> = readings
        .iter()
        .filter(|(_, r)| r.is_anomaly())
        .map(|(id, r)| (id.clone(), r.clone()))
        .collect();
    found.sort_by_key(|(id, _)| form.slot(id).unwrap_or(usize::MAX));
    found
}
