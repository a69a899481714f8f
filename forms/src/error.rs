use thiserror::Error;

/// One problem in a form definition, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// A path such as `sections[3].items[2] (q9_c3).relevant`.
    pub at: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// Everything that can be wrong with what the forms crate is given.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum FormError {
    #[error("the form definition is not valid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the form definition has {} problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
    #[error("the answers file is not valid at line {line}, column {column}: {message} (expected an object of question id → code, list of codes, number or text)")]
    Answers {
        line: usize,
        column: usize,
        message: String,
    },
}
