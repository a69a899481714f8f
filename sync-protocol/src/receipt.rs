//! Receipts: the intake's signed word that a batch is durably stored, with every event's fate:
//! every event is accepted but those listed as rejected (listing the accepted ones would cost
//! 2G bytes on every sync to say what is almost always true).

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
    /// How many events the batch had.
    pub events: u32,
    /// The events kept as records but not applied, in batch order, each with its code and
    /// reason. Every other event of the batch is accepted.
    pub rejected: Vec<RejectedEvent>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectedEvent {
    pub event: EventId,
    /// Stable machine-readable reason (see `docs/sync-protocol.md`).
    pub code: String,
    /// The same reason in words, for the enumerator.
    pub reason: String,
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
        if receipt.seq != expected_seq
            || &receipt.batch_hash != expected_hash
            || receipt.rejected.len() > receipt.events as usize
        {
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

    /// A receipt for `outcomes`, one per event of the batch in batch order.
    pub fn listing(outcomes: &[EventOutcome]) -> (u32, Vec<RejectedEvent>) {
        let rejected = outcomes
            .iter()
            .filter(|o| o.status == OutcomeStatus::Rejected)
            .map(|o| RejectedEvent {
                event: o.event,
                code: o.code.clone().unwrap_or_default(),
                reason: o.reason.clone().unwrap_or_default(),
            })
            .collect();
        (outcomes.len() as u32, rejected)
    }

    /// Every event's outcome, in batch order, given the batch's event ids.
    pub fn outcomes(&self, events: &[EventId]) -> Vec<EventOutcome> {
        events
            .iter()
            .map(|id| match self.rejected.iter().find(|r| &r.event == id) {
                Some(r) => EventOutcome {
                    event: *id,
                    status: OutcomeStatus::Rejected,
                    code: Some(r.code.clone()),
                    reason: Some(r.reason.clone()),
                },
                None => EventOutcome {
                    event: *id,
                    status: OutcomeStatus::Accepted,
                    code: None,
                    reason: None,
                },
            })
            .collect()
    }
}
