use thiserror::Error;

/// Everything that can be wrong with protocol data. Each variant says what a caller can do:
/// the intake maps them to stable error codes (see [`crate::api::ErrorCode`]); the device
/// treats any of them on its own data as a bug to report, never as a reason to drop a record.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("not a Fieldpost batch frame: {0}")]
    BadFrame(String),
    #[error("{what} is {size} bytes, over the limit of {limit}")]
    TooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },
    #[error("the batch carries {count} events; at most {limit} are allowed")]
    TooManyEvents { count: usize, limit: usize },
    #[error("the batch carries no events")]
    EmptyBatch,
    #[error("protocol version {got} is not supported (this side speaks {supported})")]
    /// `got`: the batch's `protocol` as it was written (any JSON: another version may not
    /// write a small number).
    UnsupportedVersion { got: String, supported: u32 },
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("the {what} is valid JSON but not in canonical form (RFC 8785, NFC text, no nulls)")]
    NonCanonical { what: &'static str },
    #[error("the signature does not verify with the expected key")]
    BadSignature,
    #[error("invalid key: {0}")]
    BadKey(String),
    #[error("sealing the answers failed")]
    SealFailed,
    #[error("the sealed answers cannot be opened with this key, or were altered")]
    OpenFailed,
    #[error("invalid field {field}: {detail}")]
    InvalidField { field: &'static str, detail: String },
}

impl ProtocolError {
    pub(crate) fn malformed(what: &'static str, e: impl std::fmt::Display) -> Self {
        ProtocolError::Malformed {
            what,
            detail: e.to_string(),
        }
    }
}
