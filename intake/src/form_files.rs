//! Form definitions as the centre keeps and serves them: read from a JSON definition or an
//! XLSForm workbook (through `forms`), checked completely, and stored as canonical JSON with
//! its SHA-256 — the hash a signed assignment names, so a device can tell the bytes it fetched
//! are the ones the centre meant.

use sha2::Digest;

/// A form definition ready to store and serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredForm {
    /// `id@version`, as events and sealed answers name it.
    pub reference: String,
    /// SHA-256 (hex) of `definition`.
    pub sha256: String,
    /// The definition as canonical JSON (RFC 8785).
    pub definition: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum FormFileError {
    #[error("the form definition has problems:\n{0}")]
    Invalid(String),
    #[error("the XLSForm workbook cannot be read: {0}")]
    Workbook(String),
}

impl StoredForm {
    /// A checked form, canonicalised and hashed.
    pub fn from_form(form: &forms::Form) -> Result<StoredForm, FormFileError> {
        let value = serde_json::to_value(&form.definition)
            .map_err(|e| FormFileError::Invalid(e.to_string()))?;
        let definition = sync_protocol::canonical::to_canonical_bytes(&value)
            .map_err(|e| FormFileError::Invalid(e.to_string()))?;
        Ok(StoredForm {
            reference: form.reference(),
            sha256: hex::encode(sha2::Sha256::digest(&definition)),
            definition,
        })
    }

    /// A form file: an XLSForm workbook (`.xlsx`, by its ZIP signature) or a JSON definition.
    pub fn read(bytes: &[u8]) -> Result<StoredForm, FormFileError> {
        let form = if bytes.starts_with(b"PK") {
            forms::xlsform::import(bytes)
                .map_err(|e| FormFileError::Workbook(e.to_string()))?
                .form
        } else {
            let text =
                std::str::from_utf8(bytes).map_err(|e| FormFileError::Invalid(e.to_string()))?;
            forms::Form::from_json(text).map_err(|e| FormFileError::Invalid(e.to_string()))?
        };
        StoredForm::from_form(&form)
    }

    /// The stored definition, compiled again (it was checked when stored).
    pub fn compile(&self) -> Result<forms::Form, FormFileError> {
        let text = std::str::from_utf8(&self.definition)
            .map_err(|e| FormFileError::Invalid(e.to_string()))?;
        forms::Form::from_json(text).map_err(|e| FormFileError::Invalid(e.to_string()))
    }
}
