//! Keys and their text forms. Keys travel as standard base64 (RFC 4648 §4, padded); a key is
//! named by its [`KeyId`], the first 16 hex digits of the SHA-256 of its public bytes.

use base64::{engine::general_purpose::STANDARD, Engine};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;

use crate::error::ProtocolError;

/// Bytes that travel as base64 text inside JSON.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Base64Bytes(pub Vec<u8>);

impl fmt::Debug for Base64Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Base64Bytes({} bytes)", self.0.len())
    }
}

impl Serialize for Base64Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD
            .decode(s.as_bytes())
            .map(Base64Bytes)
            .map_err(serde::de::Error::custom)
    }
}

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn from_b64(what: &'static str, s: &str) -> Result<Vec<u8>, ProtocolError> {
    STANDARD
        .decode(s.trim())
        .map_err(|e| ProtocolError::InvalidField {
            field: what,
            detail: e.to_string(),
        })
}

/// The short name of a public key.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(transparent)]
pub struct KeyId(pub String);

impl KeyId {
    pub fn of(public_key: &[u8]) -> Self {
        KeyId(hex::encode(&Sha256::digest(public_key)[..8]))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An Ed25519 signing key: a device's, or the intake's (receipts and assignments).
#[derive(Clone)]
pub struct DeviceKey(SigningKey);

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceKey({})", self.key_id())
    }
}

impl DeviceKey {
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        DeviceKey(SigningKey::generate(rng))
    }
    pub fn from_seed(seed: [u8; 32]) -> Self {
        DeviceKey(SigningKey::from_bytes(&seed))
    }
    pub fn from_b64(s: &str) -> Result<Self, ProtocolError> {
        let bytes = from_b64("secret key", s)?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| ProtocolError::BadKey("an Ed25519 secret key is 32 bytes".into()))?;
        Ok(Self::from_seed(seed))
    }
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }
    pub fn key_id(&self) -> KeyId {
        self.public().key_id()
    }
    /// Signs `domain || message`. The domain string keeps a signature made for one purpose
    /// (a batch) from being replayed as another (a receipt).
    pub fn sign(&self, domain: &[u8], message: &[u8]) -> [u8; 64] {
        let mut m = Vec::with_capacity(domain.len() + message.len());
        m.extend_from_slice(domain);
        m.extend_from_slice(message);
        self.0.sign(&m).to_bytes()
    }
}

/// An Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| ProtocolError::BadKey("an Ed25519 public key is 32 bytes".into()))?;
        let key =
            VerifyingKey::from_bytes(&arr).map_err(|e| ProtocolError::BadKey(e.to_string()))?;
        // A key of small order (the identity point among them) proves nothing: every signature
        // check against it is meaningless, so it is refused wherever a key is read.
        if key.is_weak() {
            return Err(ProtocolError::BadKey(
                "an Ed25519 public key of small order is not a usable key".into(),
            ));
        }
        Ok(PublicKey(key))
    }
    pub fn from_b64(s: &str) -> Result<Self, ProtocolError> {
        Self::from_bytes(&from_b64("public key", s)?)
    }
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
    pub fn to_b64(&self) -> String {
        b64(&self.to_bytes())
    }
    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.to_bytes())
    }
    pub fn verify(
        &self,
        domain: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), ProtocolError> {
        let sig = ed25519_dalek::Signature::from_slice(signature)
            .map_err(|_| ProtocolError::BadSignature)?;
        let mut m = Vec::with_capacity(domain.len() + message.len());
        m.extend_from_slice(domain);
        m.extend_from_slice(message);
        // verify_strict refuses the malleable and small-order forms that plain verify lets by.
        self.0
            .verify_strict(&m, &sig)
            .map_err(|_| ProtocolError::BadSignature)?;
        Ok(())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_b64())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PublicKey::from_b64(&s).map_err(serde::de::Error::custom)
    }
}

/// The ministry's X25519 public key, to which answers are sealed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MinistryPublicKey(pub crypto_box::PublicKey);

impl MinistryPublicKey {
    pub fn from_b64(s: &str) -> Result<Self, ProtocolError> {
        let bytes = from_b64("ministry public key", s)?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| ProtocolError::BadKey("an X25519 public key is 32 bytes".into()))?;
        Ok(MinistryPublicKey(crypto_box::PublicKey::from(arr)))
    }
    pub fn to_b64(&self) -> String {
        b64(self.0.as_bytes())
    }
    pub fn key_id(&self) -> KeyId {
        KeyId::of(self.0.as_bytes())
    }
}

impl Serialize for MinistryPublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_b64())
    }
}

impl<'de> Deserialize<'de> for MinistryPublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        MinistryPublicKey::from_b64(&s).map_err(serde::de::Error::custom)
    }
}

/// The ministry's X25519 secret key. Only the ministry holds it.
#[derive(Clone)]
pub struct MinistrySecretKey(pub crypto_box::SecretKey);

impl fmt::Debug for MinistrySecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MinistrySecretKey({})", self.public().key_id())
    }
}

impl MinistrySecretKey {
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        MinistrySecretKey(crypto_box::SecretKey::generate(rng))
    }
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MinistrySecretKey(crypto_box::SecretKey::from(bytes))
    }
    pub fn from_b64(s: &str) -> Result<Self, ProtocolError> {
        let bytes = from_b64("ministry secret key", s)?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| ProtocolError::BadKey("an X25519 secret key is 32 bytes".into()))?;
        Ok(Self::from_bytes(arr))
    }
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }
    pub fn public(&self) -> MinistryPublicKey {
        MinistryPublicKey(self.0.public_key())
    }
}
