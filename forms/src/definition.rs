//! The form definition file format, `fieldpost-form/1` (JSON).
//!
//! JSON rather than TOML: forms are deeply nested (sections → items → rows) and long, JSON
//! Schema gives form authors completion and checking in common editors
//! (`docs/form-definition.schema.json`), and the same file can be embedded in an assignment.
//! Items are flat records, like XLSForm rows: `kind` says which of the optional fields apply,
//! and the loader reports any that are missing or do not belong.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const FORMAT: &str = "fieldpost-form/1";

/// Text in Vietnamese (first) and English.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub vi: String,
    pub en: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormDefinition {
    /// Path or URL of this schema, for editor help; ignored by the loader.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Always `fieldpost-form/1`.
    pub format: String,
    /// e.g. `sipas-2024`. With `version` it makes the reference `sipas-2024@1`.
    pub id: String,
    pub version: u32,
    pub title: Text,
    /// Where the wording comes from (and how far it can be trusted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<String>,
    /// Codes printed on the paper for "not applicable" and "no answer".
    #[serde(default)]
    pub special_codes: SpecialCodes,
    /// Named lists of coded answers, shared by questions and grids.
    pub choice_lists: BTreeMap<String, Vec<Choice>>,
    pub sections: Vec<Section>,
    /// How satisfaction items roll up into the index. Absent for forms without an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexRule>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpecialCodes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_answer: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// The number printed beside the answer on paper.
    pub code: i64,
    pub label: Text,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub id: String,
    pub title: Text,
    pub items: Vec<Item>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Text shown, nothing answered.
    Note,
    /// One code from `choices`.
    Single,
    /// Several codes from `choices`.
    Multiple,
    /// One level of a `scale`-level scale (4 or 5) from `choices`.
    Likert,
    /// A whole number from `min` to `max`.
    Integer,
    /// Short text, at most `max_length` characters.
    Text,
    /// One scale (`choices`, optionally `scale` levels), many `rows`; each row is a question.
    Grid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Unique in the form; how answers and expressions name it.
    pub id: String,
    pub kind: Kind,
    /// The number printed on paper ("A2", "9.II.3").
    #[serde(default)]
    pub number: String,
    pub label: Text,
    #[serde(default)]
    pub required: bool,
    /// The item applies only when this expression is true (see `docs/forms.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevant: Option<String>,
    /// The answer (`.`) must make this expression true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint_message: Option<Text>,
    /// Name of a list in `choice_lists` (single, multiple, likert, grid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<String>,
    /// Levels of a likert scale or grid: 4 or 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(default)]
    pub allow_not_applicable: bool,
    #[serde(default)]
    pub allow_no_answer: bool,
    /// Rows of a grid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<GridRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GridRow {
    pub id: String,
    #[serde(default)]
    pub number: String,
    pub label: Text,
    /// Combined with the grid's own `relevant` (both must hold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevant: Option<String>,
}

/// The aggregation rule: item → criterion → part → overall index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexRule {
    /// Answer codes that count as satisfied (SIPAS: 4 and 5 of 5).
    pub satisfied_codes: Vec<i64>,
    pub criteria: Vec<Criterion>,
    pub parts: Vec<Part>,
    /// Part ids whose mean is the overall index.
    pub overall: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    pub id: String,
    pub label: Text,
    /// Satisfaction item (question) ids; the criterion is their mean.
    pub items: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Part {
    pub id: String,
    pub label: Text,
    /// Criterion ids; the part is their mean.
    pub criteria: Vec<String>,
}
