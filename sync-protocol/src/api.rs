//! The HTTP surface of the intake as the device sees it: paths, bodies, authentication and
//! the stable error codes. Every error response is an [`ErrorBody`] in JSON.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    batch::BatchHash,
    keys::{DeviceKey, KeyId, PublicKey},
};

/// Whether a request path is the device protocol's: every path above starts so.
pub fn is_protocol_path(path: &str) -> bool {
    path.starts_with("/v1/")
}

pub const PATH_ENROLL: &str = "/v1/enroll";
pub const PATH_ASSIGNMENT: &str = "/v1/assignment";
pub const PATH_CHAIN: &str = "/v1/chain";
pub const PATH_BATCHES: &str = "/v1/batches";
pub const PATH_HEALTH: &str = "/v1/health";
/// `GET /v1/forms/<sha256>`: a form definition, by the hash an assignment names.
pub const PATH_FORMS: &str = "/v1/forms";
/// `GET /v1/earlier`: the counted steps other devices recorded on this enumerator's households
/// ([`EarlierWork`]) — a replacement tablet's, or another enumerator's before a household
/// became this one's.
pub const PATH_EARLIER: &str = "/v1/earlier";

/// What other devices did on this enumerator's households, as the intake counted it (accepted,
/// or accepted by a supervisor's decision): what a household's history shows on a tablet that
/// did not record it. Households with no such step are left out; at most
/// [`EARLIER_STEPS_MAX`] steps in all, oldest first within a household.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlierWork {
    pub households: Vec<EarlierSteps>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlierSteps {
    pub household: String,
    pub steps: Vec<EarlierStep>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlierStep {
    /// The event's kind (`form_distributed`, …).
    pub kind: String,
    /// The outcome, recipient or replacement, as [`crate::event::EventBody::detail`] gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// When, on the recording device's clock (RFC 3339 with its offset).
    pub at: String,
    /// The enumerator whose device recorded it.
    pub by: crate::assignment::Place,
}

pub const EARLIER_STEPS_MAX: usize = 5_000;

/// Headers of a device-authenticated request (GETs; batches carry their own signature).
pub const HEADER_DEVICE: &str = "fieldpost-device";
pub const HEADER_TIME: &str = "fieldpost-time";
pub const HEADER_SIGNATURE: &str = "fieldpost-signature";
pub const REQUEST_DOMAIN: &[u8] = b"fieldpost/request/v1\n";
/// Which request signature a device uses: absent or `1` for [`sign_request`], `2` for
/// [`sign_request_v2`]. An intake speaks both, so version-1 tablets keep working.
pub const HEADER_REQUEST_VERSION: &str = "fieldpost-request-version";
/// Version 2's domain: the signature also binds the device id and its campaign, so a request
/// signed for one enrollment of a tablet's key is no good for its other enrollment.
pub const REQUEST_DOMAIN_V2: &[u8] = b"fieldpost/request/v2\n";
/// How far a device's clock may stray from the intake's for an authenticated request.
/// A device that is further off gets `clock_skew` with the intake's time and corrects for it.
pub const REQUEST_MAX_SKEW_SECS: i64 = 300;

/// The message a device signs to authenticate a request: `METHOD\nPATH\nUNIX_SECONDS`.
pub fn request_message(method: &str, path: &str, unix_time: i64) -> Vec<u8> {
    format!("{method}\n{path}\n{unix_time}").into_bytes()
}

/// Version 2's message: `METHOD\nPATH\nUNIX_SECONDS\nDEVICE_ID\nCAMPAIGN_ID`.
pub fn request_message_v2(
    method: &str,
    path: &str,
    unix_time: i64,
    device: Uuid,
    campaign: &str,
) -> Vec<u8> {
    format!("{method}\n{path}\n{unix_time}\n{device}\n{campaign}").into_bytes()
}

/// The four authentication headers of a version-2 request signature, as (name, value) pairs.
pub fn sign_request_v2(
    key: &DeviceKey,
    device: Uuid,
    campaign: &str,
    method: &str,
    path: &str,
    unix_time: i64,
) -> [(&'static str, String); 4] {
    let message = request_message_v2(method, path, unix_time, device, campaign);
    let sig = key.sign(REQUEST_DOMAIN_V2, &message);
    [
        (HEADER_DEVICE, device.to_string()),
        (HEADER_TIME, unix_time.to_string()),
        (HEADER_SIGNATURE, crate::keys::b64(&sig)),
        (HEADER_REQUEST_VERSION, "2".into()),
    ]
}

/// The three authentication headers for a request, as (name, value) pairs.
pub fn sign_request(
    key: &DeviceKey,
    device: Uuid,
    method: &str,
    path: &str,
    unix_time: i64,
) -> [(&'static str, String); 3] {
    let sig = key.sign(REQUEST_DOMAIN, &request_message(method, path, unix_time));
    [
        (HEADER_DEVICE, device.to_string()),
        (HEADER_TIME, unix_time.to_string()),
        (HEADER_SIGNATURE, crate::keys::b64(&sig)),
    ]
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The one-time code the supervisor or ministry issued.
    pub code: String,
    /// The device's Ed25519 public key.
    pub public_key: PublicKey,
    /// A label for people ("Tablet 3, Gio Linh post office").
    #[serde(default)]
    pub label: String,
}

/// Where an enumerator's chain stands at the intake: the last accepted batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainHead {
    pub enumerator: String,
    /// 0 when nothing was accepted yet.
    pub seq: u64,
    /// [`BatchHash::GENESIS`] when nothing was accepted yet.
    pub hash: BatchHash,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollResponse {
    pub device: Uuid,
    pub enumerator: String,
    pub campaign: String,
    pub intake_public_key: PublicKey,
    pub intake_key_id: KeyId,
    /// Where the enumerator's chain stands, so a replacement device continues it.
    pub chain: ChainHead,
}

/// Stable machine-readable error codes. The strings never change meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    BadFrame,
    TooLarge,
    UnsupportedVersion,
    NonCanonical,
    BadSignature,
    UnknownDevice,
    DeviceRevoked,
    CampaignMismatch,
    EnumeratorMismatch,
    /// `seq` is beyond the next expected one; `expected_seq` says which to send.
    SeqGap,
    /// `seq` is the next one but `prev` is not the last accepted hash.
    ChainBroken,
    /// A different batch under an already accepted `seq`.
    Equivocation,
    EnrollmentCodeInvalid,
    EnrollmentCodeExpired,
    EnrollmentCodeUsed,
    /// The public key is enrolled already (a tablet carrying the code's campaign); the code
    /// is not spent.
    KeyAlreadyEnrolled,
    RateLimited,
    Unauthenticated,
    ClockSkew,
    NotFound,
    MethodNotAllowed,
    Internal,
    /// The request's body came in slower than the intake's minimum rate and was cut: nothing
    /// was stored; send the same bytes again after `retry_after_secs` (503).
    BodyTooSlow,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::NonCanonical => "non_canonical",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::UnknownDevice => "unknown_device",
            ErrorCode::DeviceRevoked => "device_revoked",
            ErrorCode::CampaignMismatch => "campaign_mismatch",
            ErrorCode::EnumeratorMismatch => "enumerator_mismatch",
            ErrorCode::SeqGap => "seq_gap",
            ErrorCode::ChainBroken => "chain_broken",
            ErrorCode::Equivocation => "equivocation",
            ErrorCode::EnrollmentCodeInvalid => "enrollment_code_invalid",
            ErrorCode::EnrollmentCodeExpired => "enrollment_code_expired",
            ErrorCode::EnrollmentCodeUsed => "enrollment_code_used",
            ErrorCode::KeyAlreadyEnrolled => "key_already_enrolled",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::ClockSkew => "clock_skew",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Internal => "internal",
            ErrorCode::BodyTooSlow => "body_too_slow",
        }
    }

    /// Whether sending the same request again later can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::RateLimited
                | ErrorCode::Internal
                | ErrorCode::ClockSkew
                | ErrorCode::BodyTooSlow
        )
    }
}

/// The JSON body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// With `seq_gap` and `chain_broken`: the seq the intake expects next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_seq: Option<u64>,
    /// With `seq_gap` and `chain_broken`: the last accepted batch hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_hash: Option<BatchHash>,
    /// With `clock_skew`: the intake's clock, in Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<i64>,
    /// With `rate_limited`: seconds to wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            expected_seq: None,
            last_hash: None,
            server_time: None,
            retry_after_secs: None,
        }
    }
}

/// Stable codes of per-event domain rejections, as they appear in receipts.
pub mod rejection {
    pub const HOUSEHOLD_UNKNOWN: &str = "household_unknown";
    pub const HOUSEHOLD_NOT_ASSIGNED: &str = "household_not_assigned";
    pub const ILLEGAL_TRANSITION: &str = "illegal_transition";
    pub const SERIAL_MISMATCH: &str = "serial_mismatch";
    pub const SEALED_ANSWERS_MALFORMED: &str = "sealed_answers_malformed";
    pub const FORM_MISMATCH: &str = "form_mismatch";
    pub const ANSWERS_MISSING: &str = "answers_missing";
    /// Sealed answers on a first keying in a campaign that verifies transcriptions.
    pub const ANSWERS_UNEXPECTED: &str = "answers_unexpected";
    pub const DUPLICATE_EVENT: &str = "duplicate_event";
    pub const REPLACEMENT_INVALID: &str = "replacement_invalid";
    pub const PARCEL_SERIAL_INVALID: &str = "parcel_serial_invalid";
}
