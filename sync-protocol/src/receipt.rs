//! Receipts: the intake's signed word that a batch is durably stored, with every event's fate.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    batch::BatchHash,
    error::ProtocolError,
    event::EventId,
    keys::{DeviceKey, KeyId, PublicKey},
    signed::{SignedDocument, RECEIPT_DOMAIN},
    time::DeviceTime,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// Applied to the household's state.
    Accepted,
    /// Kept as a record but not applied; `code` and `reason` say why.
    Rejected,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventOutcome {
    pub event: EventId,
    pub status: OutcomeStatus,
    /// Stable machine-readable reason for a rejection (see `docs/sync-protocol.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The same reason in words, for the enumerator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub protocol: u32,
    pub campaign: String,
    pub device: Uuid,
    pub enumerator: String,
    pub seq: u64,
    pub batch_hash: BatchHash,
    /// The intake's clock when the batch was committed.
    pub accepted_at: DeviceTime,
    pub intake_key: KeyId,
    /// One per event of the batch, in batch order.
    pub outcomes: Vec<EventOutcome>,
}

impl Receipt {
    pub fn sign(&self, intake_key: &DeviceKey) -> Result<SignedDocument, ProtocolError> {
        SignedDocument::sign(RECEIPT_DOMAIN, self, intake_key)
    }

    /// What a device does with a receipt: check the intake's signature and that it speaks of
    /// the batch that was sent.
    pub fn verify(
        signed: &SignedDocument,
        intake_key: &PublicKey,
        expected_seq: u64,
        expected_hash: &BatchHash,
    ) -> Result<Receipt, ProtocolError> {
        let receipt: Receipt = signed.verify(RECEIPT_DOMAIN, intake_key, "receipt")?;
        if receipt.seq != expected_seq || &receipt.batch_hash != expected_hash {
            return Err(ProtocolError::InvalidField {
                field: "receipt",
                detail: format!(
                    "the receipt is for batch {} ({}), not for batch {} ({})",
                    receipt.seq, receipt.batch_hash, expected_seq, expected_hash
                ),
            });
        }
        Ok(receipt)
    }

    pub fn rejected(&self) -> impl Iterator<Item = &EventOutcome> {
        self.outcomes.iter().filter(|o| o.status == OutcomeStatus::Rejected)
    }
}
