//! # forms — form definitions as data
//!
//! The questionnaire changes every year and belongs to the ministry, so a form is a file,
//! never code. This crate is used by both ends: the device validates while an enumerator keys
//! a paper form, the centre computes the index.
//!
//! * [`definition`] — the file format `fieldpost-form/1` (JSON; JSON Schema in `docs/`).
//! * [`load`] — checks a definition completely (every problem, with its place) and compiles it.
//! * [`expr`] — the small language of relevance conditions and constraints.
//! * [`answer`] — what an answer can be (a value, a special code, a mark for blank or
//!   unreadable paper) and how the centre reads an opened sheet.
//! * [`validate`] — per-question errors, what is still required, whether a form is complete.
//! * [`index`] — the SIPAS-style index with counts and Wilson intervals, by area.
//!
//! No form is compiled in: the SIPAS 2024 form is data, `forms/sipas-2024.json`, which the
//! centre's demo imports and sends to devices like any other.

pub mod answer;
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
