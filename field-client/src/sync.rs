//! Exactly-once delivery.
//!
//! 1. **Pack**: unsent events go into the next batch (within the protocol's limits), which is
//!    signed, chained and stored — frame, seq and the new chain head in one transaction —
//!    before anything is sent. A packed batch is never re-packed.
//! 2. **Send** every unacknowledged batch in `seq` order, the stored bytes every time. A
//!    receipt is verified (intake key, seq, hash) and stored with every event's outcome.
//!    Network errors and 5xx are retried with exponential backoff and jitter; a `seq_gap`
//!    resends from the seq the intake names; a retry after a lost answer gets the same receipt.
//! 3. **Refresh** the assignment.
//!
//! A crash at any point leaves either unpacked events (packed next time) or stored batches
//! (resent next time): nothing is lost, and the intake's idempotence means nothing is doubled.

use rusqlite::{params, OptionalExtension};
use std::time::Duration;
use sync_protocol::{
    api::{self, ErrorBody, ErrorCode},
    batch::{Batch, BatchHash, SignedBatch},
    canonical::from_canonical_bytes,
    event::Event,
    limits,
    receipt::Receipt,
    signed::SignedDocument,
    PROTOCOL_VERSION,
};

use crate::{Client, ClientError};

/// What sending one stored batch came to.
enum Sent {
    Receipt(SignedDocument),
    /// The intake is missing earlier batches; they were marked unacknowledged to go again.
    EarlierBatchesAgain,
}

/// Events per batch: well inside the protocol's limit, small enough for 2G.
pub const EVENTS_PER_BATCH: usize = 100;

/// The largest batch frame the device packs: what about 4 s of a 40 kbit/s link carries. A
/// batch goes whole or not at all, so on a 2G link that drops every 10 s a larger one might
/// never get through; this leaves room for loss, round trips and the receipt.
pub const MAX_BATCH_FRAME_BYTES: usize = 20 * 1024;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    pub events_sent: u64,
    pub events_total: u64,
    pub bytes_sent: u64,
    pub bytes_total: u64,
}

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Tries per batch within one sync before giving up until the next sync.
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// How long one request may take before it counts as lost, plus one second per KiB sent
    /// (a link that died silently must not hang the sync; a slow 2G upload must not time out).
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    fn timeout_for(&self, bytes: usize) -> Duration {
        self.request_timeout + Duration::from_secs(bytes as u64 / 1024)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    pub batches_acknowledged: u64,
    pub events_acknowledged: u64,
    pub events_rejected: u64,
}

impl Client {
    /// Packs unsent events into stored, signed batches. Returns how many batches were made.
    pub fn pack(&mut self) -> Result<usize, ClientError> {
        let mut made = 0;
        loop {
            let e = self.enrollment()?;
            let rows: Vec<(i64, String)> = {
                let mut stmt = self.conn.prepare(
                    "SELECT n, body FROM events WHERE batch_seq IS NULL ORDER BY n LIMIT ?1",
                )?;
                let rows = stmt
                    .query_map([EVENTS_PER_BATCH as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()?;
                rows
            };
            if rows.is_empty() {
                return Ok(made);
            }
            let mut events: Vec<Event> = rows
                .iter()
                .map(|(_, b)| from_canonical_bytes(b.as_bytes(), "stored event"))
                .collect::<Result<_, _>>()?;
            // Stay within the frame limits: halve until the batch fits.
            let (signed, frame) = loop {
                let batch = Batch {
                    protocol: PROTOCOL_VERSION,
                    campaign: e.campaign.clone(),
                    device: e.device,
                    enumerator: e.enumerator.clone(),
                    seq: e.next_seq,
                    prev: e.last_hash,
                    created_at: self.now(),
                    events: events.clone(),
                };
                match SignedBatch::sign(&batch, &self.key) {
                    Ok(signed) => {
                        let frame = signed.to_frame();
                        if frame.len() <= MAX_BATCH_FRAME_BYTES || events.len() == 1 {
                            break (signed, frame);
                        }
                    }
                    Err(sync_protocol::ProtocolError::TooLarge { .. }) if events.len() > 1 => {}
                    Err(other) => return Err(other.into()),
                }
                events.truncate(events.len() / 2);
            };
            let last_n = rows[events.len() - 1].0;
            debug_assert!(frame.len() <= limits::MAX_FRAME_BYTES);
            let tx = self.conn.transaction()?;
            tx.execute(
                "INSERT INTO batches (seq, hash, frame, event_count) VALUES (?1, ?2, ?3, ?4)",
                params![
                    e.next_seq as i64,
                    signed.hash().to_hex(),
                    frame,
                    events.len() as i64
                ],
            )?;
            tx.execute(
                "UPDATE events SET batch_seq = ?1 WHERE batch_seq IS NULL AND n <= ?2",
                params![e.next_seq as i64, last_n],
            )?;
            tx.execute(
                "UPDATE device SET next_seq = next_seq + 1, last_hash = ?1",
                [signed.hash().to_hex()],
            )?;
            tx.commit()?;
            made += 1;
        }
    }

    /// What is waiting to go: (unsent events including packed ones, bytes of unacknowledged batches).
    pub fn pending(&self) -> Result<Progress, ClientError> {
        let events: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM events WHERE outcome IS NULL",
            [],
            |r| r.get(0),
        )?;
        let bytes: i64 = self.conn.query_row(
            "SELECT COALESCE(SUM(LENGTH(frame)), 0) FROM batches WHERE acked_at IS NULL",
            [],
            |r| r.get(0),
        )?;
        Ok(Progress {
            events_sent: 0,
            events_total: events as u64,
            bytes_sent: 0,
            bytes_total: bytes as u64,
        })
    }

    /// Packs, sends everything pending, and refreshes the assignment.
    pub fn sync(
        &mut self,
        policy: RetryPolicy,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<SyncReport, ClientError> {
        self.pack()?;
        let mut report = SyncReport::default();
        let (events_total, bytes_total): (i64, i64) = self.conn.query_row(
            "SELECT COALESCE(SUM(event_count), 0), COALESCE(SUM(LENGTH(frame)), 0) FROM batches WHERE acked_at IS NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut p = Progress {
            events_sent: 0,
            events_total: events_total as u64,
            bytes_sent: 0,
            bytes_total: bytes_total as u64,
        };
        progress(p);
        if self.next_unacked()?.is_none() {
            self.send_again_what_the_centre_lost()?;
        }
        while let Some((seq, hash, frame, count)) = self.next_unacked()? {
            let doc = match self.send_with_retry(seq, &frame, policy)? {
                Sent::Receipt(doc) => doc,
                Sent::EarlierBatchesAgain => continue,
            };
            let receipt = Receipt::verify(
                &doc,
                &self.enrollment()?.intake_key,
                seq,
                &BatchHash::from_hex(&hash)?,
            )
            .map_err(|e| ClientError::BadAnswer(e.to_string()))?;
            let tx = self.conn.transaction()?;
            tx.execute(
                "UPDATE batches SET acked_at = ?1, receipt = ?2 WHERE seq = ?3",
                params![
                    receipt.accepted_at.to_string(),
                    serde_json::to_string(&doc).expect("serializes"),
                    seq as i64
                ],
            )?;
            if receipt.events as u64 != count {
                return Err(ClientError::BadAnswer(format!(
                    "the receipt counts {} events; batch {seq} has {count}",
                    receipt.events
                )));
            }
            tx.execute(
                "UPDATE events SET outcome = 'accepted' WHERE batch_seq = ?1",
                [seq as i64],
            )?;
            for r in &receipt.rejected {
                tx.execute(
                    "UPDATE events SET outcome = 'rejected', reject_code = ?1, reject_reason = ?2 WHERE id = ?3 AND batch_seq = ?4",
                    params![r.code, r.reason, r.event.to_string(), seq as i64],
                )?;
            }
            if !receipt.rejected.is_empty() {
                // The centre's statuses now differ from ours: fetch the whole assignment anew.
                tx.execute("UPDATE assignment SET etag = NULL", [])?;
            }
            tx.commit()?;
            report.batches_acknowledged += 1;
            report.events_acknowledged += count;
            report.events_rejected += receipt.rejected.len() as u64;
            p.events_sent += count;
            p.bytes_sent += frame.len() as u64;
            progress(p);
        }
        self.refresh_assignment()?;
        Ok(report)
    }

    /// With nothing new to send, asks where the centre's chain stands: a centre restored from
    /// a backup is behind what it acknowledged, and the batches it lost go again (the tablet
    /// keeps every frame). A centre with more than this tablet knows is left alone: another
    /// tablet of the same enumerator sent it.
    fn send_again_what_the_centre_lost(&mut self) -> Result<(), ClientError> {
        let acked: Option<i64> = self.conn.query_row(
            "SELECT MAX(seq) FROM batches WHERE acked_at IS NOT NULL",
            [],
            |r| r.get(0),
        )?;
        let Some(acked) = acked else { return Ok(()) };
        let response = self.get_signed(api::PATH_CHAIN, None)?;
        if !response.status().is_success() {
            return Ok(()); // the batches' own path says what is wrong, at the next send
        }
        let head: api::ChainHead = response.json().map_err(|e| {
            ClientError::Network(format!("the chain head did not arrive whole: {e}"))
        })?;
        if (head.seq as i64) < acked {
            self.conn.execute(
                "UPDATE batches SET acked_at = NULL WHERE seq > ?1",
                [head.seq as i64],
            )?;
        }
        Ok(())
    }

    fn next_unacked(&self) -> Result<Option<(u64, String, Vec<u8>, u64)>, ClientError> {
        Ok(self
            .conn
            .query_row("SELECT seq, hash, frame, event_count FROM batches WHERE acked_at IS NULL ORDER BY seq LIMIT 1", [], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? as u64))
            })
            .optional()?)
    }

    fn send_with_retry(
        &self,
        seq: u64,
        frame: &[u8],
        policy: RetryPolicy,
    ) -> Result<Sent, ClientError> {
        let url = format!("{}{}", self.enrollment()?.intake_url, api::PATH_BATCHES);
        let mut delay = policy.first_delay;
        let mut last_error = ClientError::Network("not tried".into());
        for attempt in 0..policy.attempts.max(1) {
            if attempt > 0 {
                // Full jitter: many tablets coming back at once do not retry in step.
                let jitter = rand::random::<f64>();
                std::thread::sleep(delay.mul_f64(0.5 + jitter / 2.0));
                delay = (delay * 2).min(policy.max_delay);
            }
            let request = self
                .http
                .post(&url)
                .timeout(policy.timeout_for(frame.len()));
            let response = match request
                .header("content-type", sync_protocol::batch::FRAME_CONTENT_TYPE)
                .body(frame.to_vec())
                .send()
            {
                Ok(r) => r,
                Err(e) => {
                    last_error = ClientError::Network(e.to_string());
                    continue;
                }
            };
            let status = response.status();
            if status.is_success() {
                match response.json::<SignedDocument>() {
                    Ok(doc) => return Ok(Sent::Receipt(doc)),
                    Err(e) => {
                        // A body cut mid-way: the batch may be in; the retry gets its receipt.
                        last_error = ClientError::Network(e.to_string());
                        continue;
                    }
                }
            }
            if status.is_server_error() {
                last_error = ClientError::Network(format!("the intake answered {status}"));
                continue;
            }
            let body: ErrorBody = match response.json() {
                Ok(b) => b,
                Err(e) => {
                    last_error = ClientError::Network(e.to_string());
                    continue;
                }
            };
            match (body.code, body.expected_seq) {
                (ErrorCode::SeqGap, Some(expected)) if expected < seq => {
                    // The intake is missing earlier batches (restored from a backup?): they
                    // go again, from the stored frames.
                    self.conn.execute(
                        "UPDATE batches SET acked_at = NULL WHERE seq >= ?1",
                        [expected as i64],
                    )?;
                    return Ok(Sent::EarlierBatchesAgain);
                }
                (ErrorCode::RateLimited, _) => {
                    last_error = ClientError::Refused {
                        code: body.code.as_str().into(),
                        message: body.message,
                    };
                    continue;
                }
                _ => {
                    return Err(ClientError::Refused {
                        code: body.code.as_str().into(),
                        message: body.message,
                    })
                }
            }
        }
        Err(last_error)
    }
}
