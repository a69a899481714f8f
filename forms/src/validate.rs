//! Validating a partially or fully keyed form: cheap enough to run on every keystroke.

use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;

use crate::{
    answer::Mark,
    expr::{Answers, Value},
    load::{Accepts, Form, Question},
};

/// What is wrong with one answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum AnswerError {
    /// No question of this form has this id.
    UnknownQuestion,
    /// Not a number, list or text of the kind this question takes.
    WrongType {
        expected: &'static str,
    },
    /// Not one of the question's codes.
    NotACode {
        code: i64,
    },
    OutOfRange {
        value: i64,
        min: i64,
        max: i64,
    },
    TooLong {
        length: usize,
        max: usize,
    },
    /// A code listed twice in a multiple choice.
    RepeatedCode {
        code: i64,
    },
    /// The special code is not allowed for this question.
    SpecialNotAllowed {
        code: i64,
    },
    /// The form's constraint does not hold.
    ConstraintFailed {
        message: String,
    },
    /// Answered although the relevance condition says the question does not apply.
    NotApplicable,
    /// "More than one box ticked" on a question that takes more than one code, a number or
    /// text: only a one-answer question can be ticked twice by mistake.
    MarkNotAllowed {
        mark: Mark,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuestionError {
    pub question: String,
    #[serde(flatten)]
    pub error: AnswerError,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Validation {
    pub errors: Vec<QuestionError>,
    /// Relevant, required questions without an answer, in form order.
    pub required_remaining: Vec<String>,
    /// Questions that do not apply given the other answers, in form order: a keying screen
    /// skips them.
    pub not_relevant: Vec<String>,
    /// No errors and nothing required remains.
    pub complete: bool,
}

/// An answer as the evaluator sees it.
#[derive(Clone, Debug, PartialEq)]
enum Slot {
    Missing,
    Int(i64),
    Codes(Vec<i64>),
    Text(String),
    /// A mark for paper with no usable answer: answered, but no value to compare.
    Mark(Mark),
    /// Present but of no usable shape (reported as an error).
    Bad,
}

struct Slots(Vec<Slot>);

impl Answers for Slots {
    fn value(&self, slot: usize) -> Value<'_> {
        match &self.0[slot] {
            Slot::Missing | Slot::Bad | Slot::Mark(_) => Value::Missing,
            Slot::Int(n) => Value::Int(*n),
            Slot::Codes(c) => Value::Codes(c),
            Slot::Text(t) if t.is_empty() => Value::Missing,
            Slot::Text(t) => Value::Text(t),
        }
    }
}

fn to_slot(v: &Json) -> Slot {
    match v {
        Json::Null => Slot::Missing,
        Json::Number(n) => n.as_i64().map(Slot::Int).unwrap_or(Slot::Bad),
        Json::String(s) => Slot::Text(s.clone()),
        Json::Array(items) => items
            .iter()
            .map(|i| i.as_i64())
            .collect::<Option<Vec<_>>>()
            .map(Slot::Codes)
            .unwrap_or(Slot::Bad),
        Json::Object(_) => Mark::of(v).map(Slot::Mark).unwrap_or(Slot::Bad),
        Json::Bool(_) => Slot::Bad,
    }
}

/// Reads an answers file: a JSON object of question id → answer.
pub fn parse_answers(text: &str) -> Result<BTreeMap<String, Json>, crate::FormError> {
    let answers: BTreeMap<String, Json> =
        serde_json::from_str(text).map_err(|e| crate::FormError::Answers {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
    if let Some((id, _)) = answers
        .iter()
        .find(|(_, v)| matches!(v, Json::Bool(_)) || (v.is_object() && Mark::of(v).is_none()))
    {
        return Err(crate::FormError::Answers {
            line: 1,
            column: 1,
            message: format!(
                "the answer to {id:?} is neither a code, a list, a number, text nor a mark \
                 ({{\"mark\": \"blank\"}}, \"unreadable\" or \"several\")"
            ),
        });
    }
    Ok(answers)
}

/// Validates answers (question id → JSON value: a code, a list of codes, a number, text or a
/// mark — see [`crate::answer`]).
///
/// An answer of the wrong shape (a code the question does not have, text where a code
/// belongs) is reported, and counts as unanswered in every relevance condition and
/// constraint: a value no conforming device sends never decides which questions apply.
pub fn validate(form: &Form, answers: &BTreeMap<String, Json>) -> Validation {
    let mut errors = Vec::new();
    let mut slots = Slots(vec![Slot::Missing; form.questions.len()]);
    for (id, value) in answers {
        match form.slot(id) {
            Some(i) => slots.0[i] = to_slot(value),
            None => errors.push(QuestionError {
                question: id.clone(),
                error: AnswerError::UnknownQuestion,
            }),
        }
    }
    // Shapes first, so that a badly shaped answer is unanswered for every expression.
    let shapes: Vec<Vec<AnswerError>> = form
        .questions
        .iter()
        .zip(&slots.0)
        .map(|(q, slot)| shape_errors(form, q, slot))
        .collect();
    let for_expressions = Slots(
        slots
            .0
            .iter()
            .zip(&shapes)
            .map(|(slot, shape)| {
                if shape.is_empty() {
                    slot.clone()
                } else {
                    Slot::Bad
                }
            })
            .collect(),
    );
    let mut required_remaining = Vec::new();
    let mut not_relevant = Vec::new();
    for (i, (q, shape)) in form.questions.iter().zip(shapes).enumerate() {
        let relevant = q
            .relevant
            .as_ref()
            .is_none_or(|e| e.test(&for_expressions, Value::Missing));
        let slot = &slots.0[i];
        let mut push = |error| {
            errors.push(QuestionError {
                question: q.id.clone(),
                error,
            })
        };
        if !relevant {
            not_relevant.push(q.id.clone());
            // "Not applicable" marked on a question that does not apply is consistent, and so
            // is any mark: paper left blank where a question does not apply is as it should be.
            let consistent = match slot {
                Slot::Missing | Slot::Mark(_) => true,
                Slot::Text(t) => t.is_empty(),
                Slot::Int(n) => Some(*n) == form.definition.special_codes.not_applicable,
                _ => false,
            };
            if !consistent {
                push(AnswerError::NotApplicable);
            }
            continue;
        }
        if !answered(slot) {
            if q.required {
                required_remaining.push(q.id.clone());
            }
            continue;
        }
        let shape_ok = shape.is_empty();
        for error in shape {
            push(error);
        }
        if shape_ok && !matches!(slot, Slot::Mark(_)) && !is_special(q, slot) {
            if let Some(c) = &q.constraint {
                if !c.test(&for_expressions, for_expressions.value(i)) {
                    let message = q
                        .constraint_message
                        .as_ref()
                        .map(|t| t.vi.clone())
                        .unwrap_or_else(|| "the answer does not satisfy the form's rule".into());
                    push(AnswerError::ConstraintFailed { message });
                }
            }
        }
    }
    let complete = errors.is_empty() && required_remaining.is_empty();
    Validation {
        errors,
        required_remaining,
        not_relevant,
        complete,
    }
}

fn answered(slot: &Slot) -> bool {
    !matches!(slot, Slot::Missing) && !matches!(slot, Slot::Text(t) if t.is_empty())
}

fn is_special(q: &Question, slot: &Slot) -> bool {
    matches!(slot, Slot::Int(n) if Some(*n) == q.not_applicable || Some(*n) == q.no_answer)
}

/// What is wrong with an answer's shape for its question (nothing for an unanswered one, a
/// special code the question takes, or a mark it allows).
fn shape_errors(form: &Form, q: &Question, slot: &Slot) -> Vec<AnswerError> {
    if !answered(slot) || is_special(q, slot) {
        return Vec::new();
    }
    let mut errors = Vec::new();
    match (&q.accepts, slot) {
        (Accepts::Code(_), Slot::Mark(_)) => {}
        (_, Slot::Mark(Mark::Several)) => errors.push(AnswerError::MarkNotAllowed {
            mark: Mark::Several,
        }),
        (_, Slot::Mark(_)) => {}
        (Accepts::Code(codes), Slot::Int(c)) => {
            if !codes.contains(c) {
                errors.push(special_or_not_a_code(form, *c));
            }
        }
        (Accepts::Codes(codes), Slot::Codes(given)) => {
            for (k, c) in given.iter().enumerate() {
                if !codes.contains(c) {
                    errors.push(AnswerError::NotACode { code: *c });
                } else if given[..k].contains(c) {
                    errors.push(AnswerError::RepeatedCode { code: *c });
                }
            }
        }
        (Accepts::Integer { min, max }, Slot::Int(v)) => {
            if v < min || v > max {
                errors.push(AnswerError::OutOfRange {
                    value: *v,
                    min: *min,
                    max: *max,
                });
            }
        }
        (Accepts::Text { max_length }, Slot::Text(t)) => {
            let length = t.chars().count();
            if length > *max_length {
                errors.push(AnswerError::TooLong {
                    length,
                    max: *max_length,
                });
            }
        }
        (accepts, _) => errors.push(AnswerError::WrongType {
            expected: match accepts {
                Accepts::Code(_) => "one code (a number)",
                Accepts::Codes(_) => "a list of codes",
                Accepts::Integer { .. } => "a whole number",
                Accepts::Text { .. } => "text",
            },
        }),
    }
    errors
}

fn special_or_not_a_code(form: &Form, code: i64) -> AnswerError {
    let s = &form.definition.special_codes;
    if Some(code) == s.not_applicable || Some(code) == s.no_answer {
        AnswerError::SpecialNotAllowed { code }
    } else {
        AnswerError::NotACode { code }
    }
}
