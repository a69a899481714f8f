//! Batches: the unit of transmission, signature and chaining.
//!
//! A device numbers its batches 1, 2, 3 … (`seq`) and puts the hash of the previous batch in
//! each (`prev`, 32 zero bytes for the first), so the intake can tell a retry (same seq, same
//! hash), a fork (same seq, other hash: equivocation) and a gap (seq too high).
//!
//! Bytes: the batch is encoded canonically (see [`crate::canonical`]); that byte string `B`
//! is what is hashed (`SHA-256(B)`) and signed (`Ed25519(device key, "fieldpost/batch/v1\n" || B)`).
//! On the wire it travels in a frame: `"FPB1" || signature (64 bytes) || zstd(B)`.
//! Compression is outside the hash, so any zstd encoder gives an equivalent frame.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use uuid::Uuid;

use crate::{
    canonical::{check_canonical_encoding, to_canonical_bytes},
    error::ProtocolError,
    event::Event,
    keys::{DeviceKey, PublicKey},
    limits,
    time::DeviceTime,
    PROTOCOL_VERSION,
};

/// Domain-separation prefix of batch signatures.
pub const BATCH_SIGNATURE_DOMAIN: &[u8] = b"fieldpost/batch/v1\n";
/// The first four bytes of every batch frame.
pub const FRAME_MAGIC: &[u8; 4] = b"FPB1";
/// The largest integer any field may carry: 2^53 − 1, exact as an IEEE double.
pub const MAX_EXACT_INTEGER: u64 = (1 << 53) - 1;
/// The MIME type of a batch frame.
pub const FRAME_CONTENT_TYPE: &str = "application/vnd.fieldpost.batch";
/// zstd level the reference device uses; any level decodes the same. Batches are small (at
/// most 20 KiB of frame on the device) and cross a link paid by the byte: level 15 makes a
/// batch of lifecycle events 9 % smaller than level 9 for about 2 ms of CPU per 20 KB here;
/// levels 16–19 win 2 % more for 3 to 12 times the CPU, which a cheap tablet pays per batch.
pub const FRAME_ZSTD_LEVEL: i32 = 15;

/// SHA-256 of a batch's canonical bytes; written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchHash(pub [u8; 32]);

impl BatchHash {
    /// The `prev` of a device's first batch.
    pub const GENESIS: BatchHash = BatchHash([0; 32]);

    pub fn of(canonical_bytes: &[u8]) -> Self {
        BatchHash(Sha256::digest(canonical_bytes).into())
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    pub fn from_hex(s: &str) -> Result<Self, ProtocolError> {
        let bytes = hex::decode(s).map_err(|e| ProtocolError::InvalidField {
            field: "hash",
            detail: e.to_string(),
        })?;
        if s.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ProtocolError::InvalidField {
                field: "hash",
                detail: "hex digits must be lowercase".into(),
            });
        }
        let arr: [u8; 32] = bytes.try_into().map_err(|_| ProtocolError::InvalidField {
            field: "hash",
            detail: "a batch hash is 32 bytes".into(),
        })?;
        Ok(BatchHash(arr))
    }
}

impl fmt::Debug for BatchHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchHash({})", self.to_hex())
    }
}
impl fmt::Display for BatchHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl Serialize for BatchHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}
impl<'de> Deserialize<'de> for BatchHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        BatchHash::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// A batch of events from one device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub protocol: u32,
    pub campaign: String,
    /// The device id the intake gave at enrollment.
    pub device: Uuid,
    /// The enumerator whose chain this batch continues (one chain per enumerator, so a
    /// replacement device continues where the old one stopped).
    pub enumerator: String,
    pub seq: u64,
    pub prev: BatchHash,
    pub created_at: DeviceTime,
    pub events: Vec<Event>,
}

/// A batch in its signed, canonical form: exactly the bytes that were signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedBatch {
    canonical: Vec<u8>,
    signature: [u8; 64],
}

impl SignedBatch {
    /// Encodes and signs a batch, refusing one that breaks the limits.
    pub fn sign(batch: &Batch, key: &DeviceKey) -> Result<Self, ProtocolError> {
        check_batch_rules(batch)?;
        let canonical = to_canonical_bytes(batch)?;
        check_len("batch", canonical.len(), limits::MAX_BATCH_BYTES)?;
        let signature = key.sign(BATCH_SIGNATURE_DOMAIN, &canonical);
        let signed = SignedBatch {
            canonical,
            signature,
        };
        // A frame can exceed its limit only if its compressed body might: below that bound
        // there is no need to compress here as well as when the frame is sent.
        let largest_frame =
            FRAME_MAGIC.len() + 64 + zstd::zstd_safe::compress_bound(signed.canonical.len());
        if largest_frame > limits::MAX_FRAME_BYTES {
            check_len(
                "batch frame",
                signed.to_frame().len(),
                limits::MAX_FRAME_BYTES,
            )?;
        }
        Ok(signed)
    }

    pub fn canonical_bytes(&self) -> &[u8] {
        &self.canonical
    }
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }
    pub fn hash(&self) -> BatchHash {
        BatchHash::of(&self.canonical)
    }

    /// The bytes sent over HTTP.
    pub fn to_frame(&self) -> Vec<u8> {
        let compressed = zstd::bulk::compress(&self.canonical, FRAME_ZSTD_LEVEL)
            .expect("zstd compresses in memory");
        let mut frame = Vec::with_capacity(4 + 64 + compressed.len());
        frame.extend_from_slice(FRAME_MAGIC);
        frame.extend_from_slice(&self.signature);
        frame.extend_from_slice(&compressed);
        frame
    }

    /// Reads a frame: magic, signature, bounded decompression. Nothing is trusted yet.
    pub fn from_frame(frame: &[u8]) -> Result<Self, ProtocolError> {
        check_len("batch frame", frame.len(), limits::MAX_FRAME_BYTES)?;
        if frame.len() < 4 + 64 + 1 || &frame[..4] != FRAME_MAGIC {
            return Err(ProtocolError::BadFrame(
                "it must start with \"FPB1\" and a 64-byte signature".into(),
            ));
        }
        let signature: [u8; 64] = frame[4..68].try_into().expect("64 bytes");
        // Refuse decompression bombs: never inflate past the batch limit.
        let canonical = inflate(&frame[68..]).map_err(|e| {
            ProtocolError::BadFrame(format!(
                "the body is not zstd data within {} bytes: {e}",
                limits::MAX_BATCH_BYTES
            ))
        })?;
        Ok(SignedBatch {
            canonical,
            signature,
        })
    }

    /// Parses the batch without checking the signature, so the receiver can find the key.
    /// Version, canonical form and limits are checked here.
    /// A batch of another protocol version is refused as that, not as malformed: its version
    /// is read on its own only when the batch does not parse as this version's (a whole pass
    /// over the bytes, spared for every batch that does).
    pub fn decode(&self) -> Result<Batch, ProtocolError> {
        let batch: Batch = match serde_json::from_slice(&self.canonical) {
            Ok(batch) => batch,
            Err(unparsed) => {
                // Whatever another version's `protocol` holds: a number this one's `u32` does
                // not (2^32), or not a number at all.
                #[derive(Deserialize)]
                struct VersionProbe {
                    protocol: serde_json::Value,
                }
                let probe: VersionProbe = serde_json::from_slice(&self.canonical)
                    .map_err(|e| ProtocolError::malformed("batch", e))?;
                let this_version = probe
                    .protocol
                    .as_f64()
                    .is_some_and(|v| v == f64::from(PROTOCOL_VERSION));
                if !this_version {
                    let mut got = probe.protocol.to_string();
                    if got.len() > 40 {
                        got = format!("{}…", got.chars().take(40).collect::<String>());
                    }
                    return Err(ProtocolError::UnsupportedVersion {
                        got,
                        supported: PROTOCOL_VERSION,
                    });
                }
                return Err(ProtocolError::malformed("batch", unparsed));
            }
        };
        check_version(batch.protocol)?;
        check_canonical_encoding(&batch, &self.canonical, "batch")?;
        check_batch_rules(&batch)?;
        Ok(batch)
    }

    /// Checks the signature against the device's public key.
    pub fn verify(&self, key: &PublicKey) -> Result<(), ProtocolError> {
        key.verify(BATCH_SIGNATURE_DOMAIN, &self.canonical, &self.signature)
    }

    /// Frame → checked, verified batch, given a way to find the device's key.
    pub fn open(frame: &[u8], key: &PublicKey) -> Result<VerifiedBatch, ProtocolError> {
        let signed = Self::from_frame(frame)?;
        let batch = signed.decode()?;
        signed.verify(key)?;
        Ok(VerifiedBatch {
            hash: signed.hash(),
            batch,
            signed,
        })
    }
}

/// A batch whose frame, encoding, limits and signature all checked out.
#[derive(Clone, Debug)]
pub struct VerifiedBatch {
    pub batch: Batch,
    pub hash: BatchHash,
    pub signed: SignedBatch,
}

impl VerifiedBatch {
    /// Each event's canonical encoding, sliced from the signed bytes. JCS is compositional:
    /// an element of the canonical `events` array is the canonical encoding of that event,
    /// so a receiver can store an event's signed bytes without encoding it again.
    pub fn event_bytes(&self) -> Result<Vec<&str>, ProtocolError> {
        #[derive(Deserialize)]
        struct Events<'a> {
            #[serde(borrow)]
            events: Vec<&'a serde_json::value::RawValue>,
        }
        let parsed: Events = serde_json::from_slice(self.signed.canonical_bytes())
            .map_err(|e| ProtocolError::malformed("batch", e))?;
        Ok(parsed.events.into_iter().map(|raw| raw.get()).collect())
    }
}

fn check_len(what: &'static str, size: usize, limit: usize) -> Result<(), ProtocolError> {
    if size > limit {
        return Err(ProtocolError::TooLarge { what, size, limit });
    }
    Ok(())
}

fn check_version(protocol: u32) -> Result<(), ProtocolError> {
    if protocol != PROTOCOL_VERSION {
        return Err(ProtocolError::UnsupportedVersion {
            got: protocol.to_string(),
            supported: PROTOCOL_VERSION,
        });
    }
    Ok(())
}

fn check_batch_rules(batch: &Batch) -> Result<(), ProtocolError> {
    check_version(batch.protocol)?;
    if batch.seq == 0 {
        return Err(ProtocolError::InvalidField {
            field: "seq",
            detail: "seq starts at 1".into(),
        });
    }
    // Integers stay exact in every language's JSON (IEEE doubles): below 2^53.
    if batch.seq > MAX_EXACT_INTEGER {
        return Err(ProtocolError::InvalidField {
            field: "seq",
            detail: format!("seq must be below 2^53 (at most {MAX_EXACT_INTEGER})"),
        });
    }
    if batch.seq == 1 && batch.prev != BatchHash::GENESIS {
        return Err(ProtocolError::InvalidField {
            field: "prev",
            detail: "the first batch's prev is 64 zeros".into(),
        });
    }
    if batch.events.is_empty() {
        return Err(ProtocolError::EmptyBatch);
    }
    if batch.events.len() > limits::MAX_EVENTS_PER_BATCH {
        return Err(ProtocolError::TooManyEvents {
            count: batch.events.len(),
            limit: limits::MAX_EVENTS_PER_BATCH,
        });
    }
    let mut seen = std::collections::HashSet::with_capacity(batch.events.len());
    for event in &batch.events {
        event.check_shape()?;
        if event.enumerator != batch.enumerator {
            return Err(ProtocolError::InvalidField {
                field: "enumerator",
                detail: format!(
                    "event {} is by {}, the batch by {}",
                    event.id, event.enumerator, batch.enumerator
                ),
            });
        }
        if !seen.insert(event.id) {
            return Err(ProtocolError::InvalidField {
                field: "id",
                detail: format!("event {} appears twice", event.id),
            });
        }
    }
    Ok(())
}

/// A frame's body inflated, at most [`limits::MAX_BATCH_BYTES`]. The buffer is the size the
/// frame declares (a batch is usually a few kilobytes), not the limit: a server reading many
/// batches at once does not map and unmap 2 MiB for each. Each thread keeps one decompression
/// context rather than making one per batch. A frame that declares less than it holds fails.
fn inflate(body: &[u8]) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static CONTEXT: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    let declared = zstd::zstd_safe::get_frame_content_size(body)
        .ok()
        .flatten()
        .and_then(|n| usize::try_from(n).ok());
    let capacity = declared.map_or(limits::MAX_BATCH_BYTES, |n| n.min(limits::MAX_BATCH_BYTES));
    CONTEXT.with(|context| {
        let mut context = context.borrow_mut();
        let decompressor = match context.as_mut() {
            Some(d) => d,
            None => context.insert(zstd::bulk::Decompressor::new()?),
        };
        let mut buffer = Vec::with_capacity(capacity);
        decompressor.decompress_to_buffer(body, &mut buffer)?;
        Ok(buffer)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn frame(body: Vec<u8>) -> Vec<u8> {
        [FRAME_MAGIC.as_slice(), &[0u8; 64], &body].concat()
    }

    /// zstd data inflating to `n` zero bytes, with or without its size in the header.
    fn zeros(n: usize, declare_size: bool) -> Vec<u8> {
        let mut encoder = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        encoder.include_contentsize(declare_size).unwrap();
        if declare_size {
            encoder.set_pledged_src_size(Some(n as u64)).unwrap();
        }
        encoder.write_all(&vec![0u8; n]).unwrap();
        encoder.finish().unwrap()
    }

    /// A batch's bytes as `change` leaves its JSON, in canonical form unless `pretty`.
    fn signed_as(change: impl Fn(&mut serde_json::Value), pretty: bool) -> SignedBatch {
        let at = DeviceTime::parse("2026-12-07T10:00:00+07:00").unwrap();
        let batch = Batch {
            protocol: PROTOCOL_VERSION,
            campaign: "qt-sipas-2024".into(),
            device: Uuid::nil(),
            enumerator: "enum-1".into(),
            seq: 1,
            prev: BatchHash::GENESIS,
            created_at: at,
            events: vec![crate::Event::for_household(
                "h-1",
                "S1",
                "enum-1",
                at,
                crate::EventBody::FormCollected {},
            )],
        };
        let mut json = serde_json::to_value(&batch).unwrap();
        change(&mut json);
        let canonical = if pretty {
            serde_json::to_vec_pretty(&json).unwrap()
        } else {
            to_canonical_bytes(&json).unwrap()
        };
        SignedBatch {
            canonical,
            signature: [0; 64],
        }
    }

    #[test]
    fn another_versions_batch_is_refused_as_that_whatever_its_shape() {
        let unchanged = |_: &mut serde_json::Value| {};
        assert!(signed_as(unchanged, false).decode().is_ok());
        let version_2 = |json: &mut serde_json::Value| json["protocol"] = 2.into();
        let version_2_reshaped = |json: &mut serde_json::Value| {
            json["protocol"] = 2.into();
            json["sent_at"] = json["created_at"].take();
        };
        for (change, pretty) in [
            (&version_2 as &dyn Fn(&mut serde_json::Value), false),
            (&version_2, true),
            (&version_2_reshaped, false),
        ] {
            assert!(
                matches!(
                    signed_as(change, pretty).decode(),
                    Err(ProtocolError::UnsupportedVersion { ref got, .. }) if got == "2"
                ),
                "pretty: {pretty}"
            );
        }
        // Another version's `protocol` may be what this version's `u32` cannot hold.
        for other in [
            serde_json::json!(4_294_967_296u64),
            serde_json::json!(9_007_199_254_740_991u64),
            serde_json::json!(-1),
            serde_json::json!("2"),
            serde_json::json!(null),
            serde_json::json!([1]),
        ] {
            let version = |json: &mut serde_json::Value| json["protocol"] = other.clone();
            assert!(
                matches!(
                    signed_as(version, false).decode(),
                    Err(ProtocolError::UnsupportedVersion { .. })
                ),
                "protocol {other}"
            );
        }
        // This version written otherwise is not another version.
        let one_point_oh = |json: &mut serde_json::Value| json["protocol"] = 1.0.into();
        assert!(matches!(
            signed_as(one_point_oh, true).decode(),
            Err(ProtocolError::Malformed { .. })
        ));
        let unknown_field = |json: &mut serde_json::Value| json["sent_at"] = "now".into();
        let no_version = |json: &mut serde_json::Value| {
            json.as_object_mut().unwrap().remove("protocol");
        };
        for change in [
            &unknown_field as &dyn Fn(&mut serde_json::Value),
            &no_version,
        ] {
            assert!(matches!(
                signed_as(change, false).decode(),
                Err(ProtocolError::Malformed { what: "batch", .. })
            ));
        }
        assert!(matches!(
            signed_as(unchanged, true).decode(),
            Err(ProtocolError::NonCanonical { what: "batch" })
        ));
    }

    #[test]
    fn a_body_inflates_up_to_the_batch_limit_and_no_further() {
        for declare_size in [true, false] {
            let at_limit =
                SignedBatch::from_frame(&frame(zeros(limits::MAX_BATCH_BYTES, declare_size)))
                    .expect("a body of exactly the limit");
            assert_eq!(at_limit.canonical.len(), limits::MAX_BATCH_BYTES);
            let over =
                SignedBatch::from_frame(&frame(zeros(limits::MAX_BATCH_BYTES + 1, declare_size)));
            assert!(
                matches!(over, Err(ProtocolError::BadFrame(_))),
                "a bomb one byte over the limit (size declared: {declare_size})"
            );
        }
        // A small batch gets a buffer of its own size, not the limit's.
        let small = SignedBatch::from_frame(&frame(zeros(3000, true))).unwrap();
        assert!(small.canonical.capacity() < 64 * 1024);
    }
}
