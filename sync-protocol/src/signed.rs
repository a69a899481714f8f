//! Documents the intake signs: receipts and assignments.
//!
//! On the wire: `{"body": base64(B), "key": key id, "sig": base64(Ed25519(intake key, domain || B))}`
//! where `B` is the canonical encoding of the document. The body travels as the exact signed
//! bytes, so the receiver verifies without re-encoding and can keep the document as proof.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::{
    canonical::{from_canonical_bytes, to_canonical_bytes},
    error::ProtocolError,
    keys::{Base64Bytes, DeviceKey, KeyId, PublicKey},
};

pub const RECEIPT_DOMAIN: &[u8] = b"fieldpost/receipt/v1\n";
pub const ASSIGNMENT_DOMAIN: &[u8] = b"fieldpost/assignment/v1\n";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedDocument {
    pub body: Base64Bytes,
    pub key: KeyId,
    pub sig: Base64Bytes,
}

impl SignedDocument {
    pub fn sign<T: Serialize>(
        domain: &[u8],
        document: &T,
        key: &DeviceKey,
    ) -> Result<Self, ProtocolError> {
        let body = to_canonical_bytes(document)?;
        let sig = key.sign(domain, &body);
        Ok(SignedDocument {
            body: Base64Bytes(body),
            key: key.key_id(),
            sig: Base64Bytes(sig.to_vec()),
        })
    }

    /// Verifies with the expected key and returns the document.
    pub fn verify<T: Serialize + DeserializeOwned>(
        &self,
        domain: &[u8],
        key: &PublicKey,
        what: &'static str,
    ) -> Result<T, ProtocolError> {
        if self.key != key.key_id() {
            return Err(ProtocolError::BadSignature);
        }
        key.verify(domain, &self.body.0, &self.sig.0)?;
        from_canonical_bytes(&self.body.0, what)
    }
}
