//! The one error the front end sees: a stable code it translates, and the core's words as
//! detail.

use field_client::ClientError;
use serde::Serialize;

#[derive(Clone, Debug, thiserror::Error, Serialize)]
#[error("{code}: {message}")]
pub struct CommandError {
    /// e.g. `not_enrolled`, `illegal_step`, `network`, or the intake's own code when it refused
    /// (`enrollment_code_invalid`, `device_revoked`, …).
    pub code: String,
    pub message: String,
    /// The question the refusal is about, where there is one (an unfinished form): the screen
    /// names it and puts the cursor there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
}

impl CommandError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CommandError {
            code: code.into(),
            message: message.into(),
            question: None,
        }
    }
}

impl From<ClientError> for CommandError {
    fn from(e: ClientError) -> Self {
        let code = match &e {
            ClientError::NotEnrolled => "not_enrolled",
            ClientError::AlreadyEnrolled(_) => "already_enrolled",
            ClientError::UnknownHousehold(_) => "unknown_household",
            ClientError::UnknownCampaign(_) => "unknown_campaign",
            // The app's words name the campaign: the message is its name alone.
            ClientError::CampaignOnTablet(name) => {
                return CommandError {
                    code: "campaign_on_tablet".into(),
                    message: name.clone(),
                    question: None,
                }
            }
            ClientError::IllegalStep(_) => "illegal_step",
            ClientError::NotAllowed(_) => "not_allowed",
            ClientError::Incomplete { question, .. } => {
                return CommandError {
                    code: "incomplete".into(),
                    message: e.to_string(),
                    question: question.clone(),
                }
            }
            ClientError::NewerDatabase { .. } => "newer_database",
            ClientError::CorruptDatabase(_) => "corrupt_database",
            ClientError::Network(_) => "network",
            ClientError::Refused { code, message } => {
                return CommandError {
                    code: code.clone(),
                    // What answered instead of an intake, said inside the screen's own sentence.
                    message: if code == field_client::NOT_AN_INTAKE {
                        message.clone()
                    } else {
                        e.to_string()
                    },
                    question: None,
                };
            }
            ClientError::BadAnswer(_) => "bad_answer",
            ClientError::UnknownForm(_) => "unknown_form",
            ClientError::Storage(_) | ClientError::Io(_) | ClientError::Protocol(_) => "storage",
        };
        CommandError {
            code: code.into(),
            message: e.to_string(),
            question: None,
        }
    }
}
