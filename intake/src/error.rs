//! The intake's one error type at its boundary. Each variant maps to a stable error code and
//! an HTTP status; the message says what the caller can do about it.

use axum::{http::StatusCode, response::IntoResponse, Json};
use sync_protocol::{
    api::{ErrorBody, ErrorCode},
    batch::BatchHash,
    ProtocolError,
};
use thiserror::Error;
use uuid::Uuid;

use crate::store::{EnrollmentRefusal, StoreError};

#[derive(Debug, Error)]
pub enum IntakeError {
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    #[error("this intake serves campaign {expected:?}, not {got:?}")]
    CampaignMismatch { got: String, expected: String },
    #[error("this intake has no campaign {0:?}; the device was enrolled with another intake")]
    UnknownCampaign(String),
    #[error("device {0} is not enrolled here; enroll it with a one-time code")]
    UnknownDevice(Uuid),
    #[error("device {0} has been revoked; ask your supervisor for a new enrollment code")]
    DeviceRevoked(Uuid),
    #[error("device {device} is enrolled for {enrolled:?}, but the batch is for {claimed:?}")]
    EnumeratorMismatch {
        device: Uuid,
        enrolled: String,
        claimed: String,
    },
    #[error("batch {got} skips ahead; send batch {expected_seq} first")]
    SeqGap {
        got: u64,
        expected_seq: u64,
        last_hash: BatchHash,
    },
    #[error("batch {seq} does not follow the last accepted batch {last_hash}; resynchronize from batch {seq}")]
    ChainBroken { seq: u64, last_hash: BatchHash },
    #[error("a different batch {seq} was already accepted ({accepted_hash}); this has been reported to the ministry")]
    Equivocation { seq: u64, accepted_hash: BatchHash },
    #[error("{0}")]
    Enrollment(EnrollmentRefusal),
    #[error("Thử sai quá nhiều lần; hãy chờ {retry_after_secs} giây. / Too many wrong attempts; wait {retry_after_secs} seconds.")]
    RateLimited { retry_after_secs: u64 },
    #[error("Chưa đăng nhập, hoặc phiên làm việc đã hết. / Request not authenticated: {0}")]
    Unauthenticated(String),
    #[error("the device clock is {skew_secs} seconds off the intake's; the device corrects for it and retries")]
    ClockSkew { skew_secs: i64, server_time: i64 },
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A person's request the centre will not carry out, said in their words (Vietnamese
    /// first): a page shows it as it is.
    #[error("{0}")]
    Declined(String),
    #[error("Dữ liệu gửi lên vượt quá {limit} byte. / Request body over {limit} bytes.")]
    BodyTooLarge { limit: usize },
    /// Cut for arriving slower than the minimum rate: retryable, unlike a malformed request.
    #[error("the request body arrived too slowly; send the same bytes again in {retry_after_secs} seconds, when the signal is better")]
    BodyTooSlow { retry_after_secs: u64 },
    #[error("Không tìm thấy. / Not found.")]
    NotFound,
    #[error("Địa chỉ này không nhận cách gửi này. / This path does not take that method.")]
    MethodNotAllowed,
    #[error("{0}")]
    MinistryKey(#[from] crate::ministry_key::KeyError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl IntakeError {
    pub fn code(&self) -> ErrorCode {
        use IntakeError::*;
        match self {
            Protocol(p) => match p {
                ProtocolError::BadFrame(_) => ErrorCode::BadFrame,
                ProtocolError::TooLarge { .. } | ProtocolError::TooManyEvents { .. } => {
                    ErrorCode::TooLarge
                }
                ProtocolError::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
                ProtocolError::NonCanonical { .. } => ErrorCode::NonCanonical,
                ProtocolError::BadSignature => ErrorCode::BadSignature,
                _ => ErrorCode::BadRequest,
            },
            CampaignMismatch { .. } | UnknownCampaign(_) => ErrorCode::CampaignMismatch,
            UnknownDevice(_) => ErrorCode::UnknownDevice,
            DeviceRevoked(_) => ErrorCode::DeviceRevoked,
            EnumeratorMismatch { .. } => ErrorCode::EnumeratorMismatch,
            SeqGap { .. } => ErrorCode::SeqGap,
            ChainBroken { .. } => ErrorCode::ChainBroken,
            Equivocation { .. } => ErrorCode::Equivocation,
            Enrollment(EnrollmentRefusal::Invalid) => ErrorCode::EnrollmentCodeInvalid,
            Enrollment(EnrollmentRefusal::Expired) => ErrorCode::EnrollmentCodeExpired,
            Enrollment(EnrollmentRefusal::AlreadyUsed) => ErrorCode::EnrollmentCodeUsed,
            RateLimited { .. } => ErrorCode::RateLimited,
            Unauthenticated(_) => ErrorCode::Unauthenticated,
            ClockSkew { .. } => ErrorCode::ClockSkew,
            BadRequest(_) | Declined(_) => ErrorCode::BadRequest,
            BodyTooLarge { .. } => ErrorCode::TooLarge,
            BodyTooSlow { .. } => ErrorCode::BodyTooSlow,
            NotFound => ErrorCode::NotFound,
            MethodNotAllowed => ErrorCode::MethodNotAllowed,
            MinistryKey(crate::ministry_key::KeyError::WrongPassphrase) => {
                ErrorCode::Unauthenticated
            }
            MinistryKey(_) => ErrorCode::BadRequest,
            Store(StoreError::Enrollment(r)) => IntakeError::Enrollment(*r).code(),
            Store(StoreError::KeyAlreadyEnrolled) => ErrorCode::KeyAlreadyEnrolled,
            Store(StoreError::UnknownDevice(_)) => ErrorCode::UnknownDevice,
            Store(
                StoreError::UnknownHousehold(_)
                | StoreError::UnknownVillage(_)
                | StoreError::UnknownPaperBatch(_)
                | StoreError::UnknownEnumerator(_)
                | StoreError::UnknownAccount(_)
                | StoreError::UnknownDistrict(_),
            ) => ErrorCode::NotFound,
            Store(_) => ErrorCode::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self.code() {
            ErrorCode::BadRequest
            | ErrorCode::KeyAlreadyEnrolled
            | ErrorCode::BadFrame
            | ErrorCode::NonCanonical
            | ErrorCode::UnsupportedVersion => StatusCode::BAD_REQUEST,
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BadSignature
            | ErrorCode::UnknownDevice
            | ErrorCode::Unauthenticated
            | ErrorCode::ClockSkew => StatusCode::UNAUTHORIZED,
            ErrorCode::DeviceRevoked
            | ErrorCode::EnumeratorMismatch
            | ErrorCode::CampaignMismatch
            | ErrorCode::EnrollmentCodeInvalid => StatusCode::FORBIDDEN,
            ErrorCode::EnrollmentCodeExpired => StatusCode::GONE,
            ErrorCode::SeqGap
            | ErrorCode::ChainBroken
            | ErrorCode::Equivocation
            | ErrorCode::EnrollmentCodeUsed => StatusCode::CONFLICT,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::BodyTooSlow => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn body(&self) -> ErrorBody {
        let message = match self {
            // Internal details go to the log, not to the device.
            IntakeError::Store(e) if self.code() == ErrorCode::Internal => {
                tracing::error!(error = %e, "storage error");
                "the intake could not complete the request; nothing was stored, try again later"
                    .to_string()
            }
            other => other.to_string(),
        };
        let mut body = ErrorBody::new(self.code(), message);
        match self {
            IntakeError::SeqGap {
                expected_seq,
                last_hash,
                ..
            } => {
                body.expected_seq = Some(*expected_seq);
                body.last_hash = Some(*last_hash);
            }
            IntakeError::ChainBroken { seq, last_hash } => {
                body.expected_seq = Some(*seq);
                body.last_hash = Some(*last_hash);
            }
            IntakeError::ClockSkew { server_time, .. } => body.server_time = Some(*server_time),
            IntakeError::RateLimited { retry_after_secs }
            | IntakeError::BodyTooSlow { retry_after_secs } => {
                body.retry_after_secs = Some(*retry_after_secs)
            }
            _ => {}
        }
        body
    }
}

impl IntoResponse for IntakeError {
    fn into_response(self) -> axum::response::Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        // HTTP's own word for "when to come back", beside the body's `retry_after_secs`.
        if let IntakeError::RateLimited { retry_after_secs }
        | IntakeError::BodyTooSlow { retry_after_secs } = self
        {
            with_retry_after(&mut response, retry_after_secs);
        }
        response
    }
}

/// Sets HTTP's own word for "when to come back" on a refusal that says it in its words too: a
/// script or a proxy reads the header, a person the page.
pub(crate) fn with_retry_after(response: &mut axum::response::Response, secs: u64) {
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(secs),
    );
}
