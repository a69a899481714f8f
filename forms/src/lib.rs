//! # forms — form definitions as data
//!
//! The questionnaire changes every year and belongs to the ministry, so a form is a file,
//! never code. This crate is used by both ends: the device validates while an enumerator keys
//! a paper form, the centre computes the index.
//!
//! * [`definition`] — the file format `fieldpost-form/1` (JSON; JSON Schema in `docs/`).
//! * [`load`] — checks a definition completely (every problem, with its place) and compiles it.
//! * [`expr`] — the small language of relevance conditions and constraints.
//! * [`validate`] — per-question errors, what is still required, whether a form is complete.
//! * [`index`] — the SIPAS-style index with counts and Wilson intervals, by area.
//!
//! The SIPAS 2024 form ships as `forms/sipas-2024.json` ([`sipas_2024`]).

pub mod definition;
pub mod error;
pub mod expr;
pub mod index;
pub mod load;
pub mod sample;
pub mod validate;
pub mod xlsform;

pub use error::{FormError, Problem};
pub use load::Form;

/// The SIPAS form of the 2023–2026 method, reconstructed from public sources.
pub const SIPAS_2024_JSON: &str = include_str!("../sipas-2024.json");

pub fn sipas_2024() -> Form {
    Form::from_json(SIPAS_2024_JSON).expect("the shipped SIPAS form is valid (checked by tests)")
}
