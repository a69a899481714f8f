//! # sync-protocol — the wire contract between a Fieldpost device and the intake
//!
//! Everything that crosses the network between an enumerator's tablet and the centre is
//! defined here, and only here, so that the device (`field-client`) and the server
//! (`intake`) cannot drift apart. The normative description is `docs/sync-protocol.md`;
//! the test vectors in `tests/vectors.json` pin the bytes.
//!
//! The pieces, in the order a record travels:
//!
//! * [`event`] — one thing that happened to a household or a parcel (a form handed out,
//!   collected, transcribed …). Events are the unit of record.
//! * [`batch`] — events packed by the device into a numbered, hash-chained batch, encoded
//!   as RFC 8785 canonical JSON, signed with the device's Ed25519 key and framed with zstd.
//! * [`signed`] — documents the intake signs: receipts (proof of delivery, see [`receipt`])
//!   and assignments (see [`assignment`]).
//! * [`seal`] — the respondent's answers, sealed on the device to the ministry's X25519 key
//!   so that nobody between the household and the ministry can read them.
//! * [`lifecycle`] — the household state machine both ends enforce.
//! * [`api`] — the HTTP endpoints, request/response bodies and the stable error codes.
//!
//! Nothing here does I/O: it is pure data, encoding and cryptography.

pub mod api;
pub mod assignment;
pub mod batch;
pub mod canonical;
pub mod error;
pub mod event;
pub mod keys;
pub mod lifecycle;
pub mod receipt;
pub mod seal;
pub mod signed;
pub mod time;

pub use batch::{Batch, BatchHash, SignedBatch, VerifiedBatch};
pub use error::ProtocolError;
pub use event::{Event, EventBody, EventId};
pub use keys::{DeviceKey, KeyId};
pub use receipt::{EventOutcome, OutcomeStatus, Receipt};
pub use time::DeviceTime;

/// The protocol version this crate speaks. A batch carrying another version is refused whole.
pub const PROTOCOL_VERSION: u32 = 1;

/// Hard limits. They are part of the contract: the device packs within them and the intake
/// refuses whatever exceeds them before doing any other work.
pub mod limits {
    /// Most events one batch may carry.
    pub const MAX_EVENTS_PER_BATCH: usize = 500;
    /// Most bytes of the canonical (uncompressed) batch encoding.
    pub const MAX_BATCH_BYTES: usize = 2 * 1024 * 1024;
    /// Most bytes of a batch frame on the wire (signature + compressed batch).
    pub const MAX_FRAME_BYTES: usize = 1024 * 1024;
    /// Most bytes of one sealed answer sheet (ciphertext).
    pub const MAX_SEALED_BYTES: usize = 32 * 1024;
    /// Most characters of a free-text field (notes, reasons).
    pub const MAX_TEXT_CHARS: usize = 2000;
    /// Most serials one parcel may list.
    pub const MAX_PARCEL_SERIALS: usize = 2000;
}
