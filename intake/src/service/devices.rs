//! Devices: enrollment codes, enrollment, request authentication, assignments, and the
//! **integrity** layer of ingest (frame, encoding, limits, signature, device, campaign), before
//! the store applies chain checks and the domain layer in one transaction.
//!
//! The device protocol names no campaign in its paths: the centre finds it — by the code at
//! enrollment (each campaign keeps the hashes of its own codes), by the device id afterwards,
//! by the batch's `campaign` field at ingest — and hands the request to that campaign's intake.

#[allow(unused_imports)]
use super::*;

impl Centre {
    /// Enrolls a device with a one-time code of whichever campaign issued it.
    pub fn enroll(
        &self,
        request: &EnrollRequest,
        client: IpAddr,
    ) -> Result<EnrollResponse, IntakeError> {
        let refused = |e: IntakeError| -> Result<EnrollResponse, IntakeError> {
            let said = format!(
                "đăng ký máy bị từ chối: {}",
                crate::words::refusal_code(e.code().as_str())
            );
            self.audit_repeated("", None, "enrollment_refused", &said, &client.to_string())?;
            Err(e)
        };
        // The budgets are kept in the store: across restarts and processes, bounded on disk.
        // Past its own budget an address is refused even a good code (it guesses from one
        // place); the budgets per code and in all only answer wrong codes without recording
        // them (they bound a flood's work) and never stand in the way of a valid code, so no
        // outsider can stop others from enrolling.
        let window = ENROLL_WINDOW.as_secs() as i64;
        let now = Utc::now().timestamp();
        let (address, hash) = (client.to_string(), code_hash(&request.code));
        let counts = self
            .accounts()
            .enrollment_failures(&address, &hash, now - window)?;
        let wait = |oldest: i64| (oldest + window - now).max(1) as u64;
        if counts.by_address >= ENROLL_MAX_FAILURES {
            return refused(IntakeError::RateLimited {
                retry_after_secs: wait(counts.oldest_by_address),
            });
        }
        let flooded =
            counts.by_code >= ENROLL_CODE_MAX_FAILURES || counts.all >= ENROLL_ALL_MAX_FAILURES;
        let fail = |refusal: crate::store::EnrollmentRefusal| {
            if flooded {
                return refused(IntakeError::RateLimited {
                    retry_after_secs: wait(counts.oldest_all),
                });
            }
            self.accounts()
                .record_enrollment_failure(&address, &hash, now, now - window)?;
            refused(IntakeError::Enrollment(refusal))
        };
        for intake in self.intakes()? {
            match intake.enroll_with(&hash, request) {
                Err(IntakeError::Enrollment(crate::store::EnrollmentRefusal::Invalid)) => continue,
                Err(IntakeError::Enrollment(refusal)) => {
                    tracing::warn!(%client, %refusal, campaign = %intake.id, "enrollment refused");
                    return fail(refusal);
                }
                other => return other,
            }
        }
        tracing::warn!(%client, "enrollment refused: no such code");
        fail(crate::store::EnrollmentRefusal::Invalid)
    }

    /// Audits a device's refused request (a flood is one row, counted); a clock that strays
    /// or a gap in the chain (a receipt lost on the way) is an honest device's, not a refusal.
    pub fn audit_device_refusal(&self, action: &str, error: &IntakeError, client: IpAddr) {
        use sync_protocol::api::ErrorCode as C;
        let code = error.code();
        if matches!(
            code,
            C::ClockSkew | C::SeqGap | C::RateLimited | C::BodyTooSlow | C::Internal
        ) {
            return;
        }
        let said = format!(
            "yêu cầu của máy bị từ chối: {}",
            crate::words::refusal_code(code.as_str())
        );
        if let Err(e) = self.audit_repeated("", None, action, &said, &client.to_string()) {
            tracing::warn!(error = %e, "a device's refusal could not be audited");
        }
    }

    /// Checks a device-signed request (see [`api::sign_request`]) with the campaign the device
    /// is enrolled in.
    pub fn authenticate(
        &self,
        device: Option<&str>,
        time: Option<&str>,
        signature: Option<&str>,
        version: Option<&str>,
        method: &str,
        path: &str,
    ) -> Result<(Arc<Intake>, DeviceRecord), IntakeError> {
        let Some(id) = device else {
            return Err(IntakeError::Unauthenticated(format!(
                "send the {}, {} and {} headers",
                api::HEADER_DEVICE,
                api::HEADER_TIME,
                api::HEADER_SIGNATURE
            )));
        };
        let id = Uuid::parse_str(id)
            .map_err(|_| IntakeError::Unauthenticated("the device id is not a UUID".into()))?;
        // A version not spoken here is refused as such, whether or not the device is known.
        request_version(version)?;
        let intake = self.campaign_of_device(id)?;
        let record = intake.authenticate(
            Some(&id.to_string()),
            time,
            signature,
            version,
            method,
            path,
        )?;
        Ok((intake, record))
    }

    /// Ingests a batch frame into the campaign it names. `Ok` carries the signed receipt (new
    /// or replayed).
    pub fn ingest(
        &self,
        frame: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(SignedDocument, bool), IntakeError> {
        let signed = SignedBatch::from_frame(frame)?;
        let batch = signed.decode()?;
        let intake = self
            .campaign(&batch.campaign)?
            .ok_or_else(|| IntakeError::UnknownCampaign(batch.campaign.clone()))?;
        intake.ingest_decoded(signed, batch, frame, now)
    }
}

impl Intake {
    pub fn issue_enrollment_code(
        &self,
        enumerator: &str,
        valid_for: Duration,
        issued_by: &str,
    ) -> Result<String, IntakeError> {
        let code = new_enrollment_code();
        let now = Utc::now();
        self.store.issue_enrollment_code(
            enumerator,
            &code_hash(&code),
            now + valid_for,
            issued_by,
            now,
        )?;
        tracing::info!(enumerator, issued_by, "enrollment code issued");
        Ok(code)
    }

    /// Enrolls a device with a code of this campaign (`Invalid` when the code is not one).
    pub(crate) fn enroll_with(
        &self,
        code_hash: &str,
        request: &EnrollRequest,
    ) -> Result<EnrollResponse, IntakeError> {
        let campaign = self.store.campaign()?;
        match self
            .store
            .enroll(code_hash, &request.public_key, &request.label, Utc::now())
        {
            Ok((device, chain)) => {
                tracing::info!(device = %device.id, enumerator = %device.enumerator, campaign = %campaign.info.id, "device enrolled");
                Ok(EnrollResponse {
                    device: device.id,
                    enumerator: device.enumerator,
                    campaign: campaign.info.id,
                    intake_public_key: self.key.public(),
                    intake_key_id: self.key.key_id(),
                    chain,
                })
            }
            Err(StoreError::Enrollment(refusal)) => Err(IntakeError::Enrollment(refusal)),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks a device-signed request (see [`api::sign_request`]).
    pub fn authenticate(
        &self,
        device: Option<&str>,
        time: Option<&str>,
        signature: Option<&str>,
        version: Option<&str>,
        method: &str,
        path: &str,
    ) -> Result<DeviceRecord, IntakeError> {
        let (Some(device), Some(time), Some(signature)) = (device, time, signature) else {
            return Err(IntakeError::Unauthenticated(format!(
                "send the {}, {} and {} headers",
                api::HEADER_DEVICE,
                api::HEADER_TIME,
                api::HEADER_SIGNATURE
            )));
        };
        let id = Uuid::parse_str(device)
            .map_err(|_| IntakeError::Unauthenticated("the device id is not a UUID".into()))?;
        let unix: i64 = time
            .parse()
            .map_err(|_| IntakeError::Unauthenticated("the time is not Unix seconds".into()))?;
        let record = self
            .store
            .device(id)?
            .ok_or(IntakeError::UnknownDevice(id))?;
        let sig = sync_protocol::keys::from_b64("signature", signature)
            .map_err(|e| IntakeError::Unauthenticated(e.to_string()))?;
        // Version 2 binds the device and its campaign (a tablet's key may hold enrollments in
        // several campaigns); version 1, which old tablets send, does not.
        let (domain, message) = match request_version(version)? {
            RequestVersion::V1 => (
                api::REQUEST_DOMAIN,
                api::request_message(method, path, unix),
            ),
            RequestVersion::V2 => (
                api::REQUEST_DOMAIN_V2,
                api::request_message_v2(method, path, unix, id, &self.id),
            ),
        };
        record
            .public_key
            .verify(domain, &message, &sig)
            .map_err(|_| {
                IntakeError::Unauthenticated("the request signature does not verify".into())
            })?;
        let now = Utc::now().timestamp();
        if (now - unix).abs() > api::REQUEST_MAX_SKEW_SECS {
            return Err(IntakeError::ClockSkew {
                skew_secs: unix - now,
                server_time: now,
            });
        }
        if record.revoked {
            return Err(IntakeError::DeviceRevoked(id));
        }
        Ok(record)
    }

    /// The device's assignment and its tag; `None` for the document when the device already
    /// holds the assignment with tag `held`.
    pub fn assignment_unless(
        &self,
        device: &DeviceRecord,
        held: Option<&str>,
    ) -> Result<(Option<SignedDocument>, String), IntakeError> {
        let (assignment, tag) = self.assignment_now(device)?;
        if held == Some(tag.as_str()) {
            return Ok((None, tag));
        }
        Ok((Some(assignment.sign(&self.key)?), tag))
    }

    fn assignment_now(&self, device: &DeviceRecord) -> Result<(Assignment, String), IntakeError> {
        let campaign = self.store.campaign()?;
        let data = self.store.assignment(&device.enumerator)?;
        let assignment = Assignment {
            protocol: PROTOCOL_VERSION,
            campaign: campaign.info,
            device: device.id,
            enumerator: data.enumerator,
            villages: data.villages,
            households: data.households,
            forms: self
                .store
                .forms()?
                .into_iter()
                .map(|f| sync_protocol::assignment::FormRef {
                    reference: f.reference,
                    sha256: f.sha256,
                })
                .collect(),
            moved_away: data.moved_away,
            resolved: data.resolved,
            intake_public_key: self.key.public(),
            ministry_public_key: campaign.ministry_public_key,
            issued_at: DeviceTime::new(Utc::now().fixed_offset()),
        };
        let tag = assignment.tag()?;
        Ok((assignment, tag))
    }

    /// A form definition of the campaign by its SHA-256, as stored (canonical JSON).
    pub fn form_definition(&self, sha256: &str) -> Result<Vec<u8>, IntakeError> {
        self.store
            .forms()?
            .into_iter()
            .find(|f| f.sha256 == sha256)
            .map(|f| f.definition)
            .ok_or(IntakeError::NotFound)
    }

    /// What other devices did on this device's enumerator's households, for their history on
    /// this tablet.
    pub fn earlier_work(
        &self,
        device: &DeviceRecord,
    ) -> Result<sync_protocol::api::EarlierWork, IntakeError> {
        use sync_protocol::api::{EarlierStep, EarlierSteps, EarlierWork, EARLIER_STEPS_MAX};
        let rows = self.store.earlier_steps(
            &device.enumerator,
            &device.id.to_string(),
            EARLIER_STEPS_MAX,
        )?;
        let mut households: Vec<EarlierSteps> = Vec::new();
        for (household, body, id, name) in rows {
            let event: sync_protocol::event::Event = serde_json::from_str(&body)
                .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
            let step = EarlierStep {
                kind: event.body.kind().into(),
                detail: event.body.detail(),
                at: event.at.to_string(),
                by: sync_protocol::assignment::Place { id, name },
            };
            match households.last_mut() {
                Some(h) if h.household == household => h.steps.push(step),
                _ => households.push(EarlierSteps {
                    household,
                    steps: vec![step],
                }),
            }
        }
        Ok(EarlierWork { households })
    }

    pub fn chain_head(&self, device: &DeviceRecord) -> Result<ChainHead, IntakeError> {
        Ok(self.store.chain_head(&device.enumerator)?)
    }

    /// Ingests a batch frame into this campaign. `Ok` carries the signed receipt (new or
    /// replayed).
    pub fn ingest(
        &self,
        frame: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(SignedDocument, bool), IntakeError> {
        let signed = SignedBatch::from_frame(frame)?;
        let batch = signed.decode()?;
        self.ingest_decoded(signed, batch, frame, now)
    }

    /// The integrity layer after decoding, then the store's chain checks and domain layer.
    fn ingest_decoded(
        &self,
        signed: SignedBatch,
        batch: sync_protocol::Batch,
        frame: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(SignedDocument, bool), IntakeError> {
        let campaign = self.store.campaign()?;
        if batch.campaign != campaign.info.id {
            return Err(IntakeError::CampaignMismatch {
                got: batch.campaign,
                expected: campaign.info.id,
            });
        }
        let signer = self
            .store
            .enrolled_key(batch.device)?
            .ok_or(IntakeError::UnknownDevice(batch.device))?;
        // Authenticity first: nothing unsigned may raise an alert or touch the chain.
        signed.verify(&signer.public_key)?;
        let (device, enumerator, batch_seq) = (batch.device, batch.enumerator.clone(), batch.seq);
        let alert = |kind: &str, detail: String| Alert {
            kind: kind.into(),
            enumerator: Some(enumerator.clone()),
            device: Some(device),
            seq: Some(batch_seq),
            detail,
        };
        // A revoked device is refused as revoked, whatever it claims.
        let refuse_revoked = |own_chain: bool, hash: &sync_protocol::batch::BatchHash| {
            // A retry of work accepted before the revocation gets its receipt again (the
            // device may have lost the answer): that is not a new attempt to send.
            if own_chain {
                if let Some(receipt) = self.store.stored_receipt(&enumerator, batch_seq, hash)? {
                    return Ok((receipt, false));
                }
            }
            self.store.record_alert(
                &alert(
                    "revoked_device_sent",
                    format!("revoked device sent batch {batch_seq}"),
                ),
                now,
            )?;
            Err(IntakeError::DeviceRevoked(device))
        };
        if signer.enumerator != batch.enumerator {
            if self.store.device(device)?.is_some_and(|d| d.revoked) {
                return refuse_revoked(false, &signed.hash());
            }
            return Err(IntakeError::EnumeratorMismatch {
                device,
                enrolled: signer.enumerator,
                claimed: batch.enumerator,
            });
        }
        let verified = sync_protocol::VerifiedBatch {
            hash: signed.hash(),
            batch,
            signed,
        };
        let seq = verified.batch.seq;
        match self
            .store
            .ingest(&verified, &signer, frame, now, &self.key)?
        {
            IngestResult::Accepted {
                receipt,
                rejected_events,
            } => {
                tracing::info!(enumerator = %verified.batch.enumerator, seq, events = verified.batch.events.len(), rejected_events, "batch accepted");
                Ok((receipt, true))
            }
            IngestResult::Replayed { receipt } => {
                tracing::info!(enumerator = %verified.batch.enumerator, seq, "batch replayed; same receipt");
                Ok((receipt, false))
            }
            IngestResult::Gap {
                expected_seq,
                last_hash,
            } => Err(IntakeError::SeqGap {
                got: seq,
                expected_seq,
                last_hash,
            }),
            IngestResult::ChainBroken {
                expected_seq,
                last_hash,
            } => {
                self.store.record_alert(
                    &alert(
                        "chain_broken",
                        format!(
                            "batch {seq} prev {} != accepted {last_hash}",
                            verified.batch.prev
                        ),
                    ),
                    now,
                )?;
                Err(IntakeError::ChainBroken {
                    seq: expected_seq,
                    last_hash,
                })
            }
            IngestResult::Equivocation { seq, accepted_hash } => {
                tracing::warn!(enumerator = %verified.batch.enumerator, seq, "equivocation");
                self.store.record_alert(
                    &alert(
                        "equivocation",
                        format!(
                            "batch {seq}: accepted {accepted_hash}, now offered {}",
                            verified.hash
                        ),
                    ),
                    now,
                )?;
                Err(IntakeError::Equivocation { seq, accepted_hash })
            }
            IngestResult::DeviceRevoked => refuse_revoked(true, &verified.hash),
            IngestResult::UnknownDevice => Err(IntakeError::UnknownDevice(device)),
        }
    }
}

/// The versions of a device's request signature spoken here (docs/sync-protocol.md §8).
enum RequestVersion {
    V1,
    V2,
}

/// The version `fieldpost-request-version` names: absent is version 1, which old tablets send.
fn request_version(version: Option<&str>) -> Result<RequestVersion, IntakeError> {
    match version {
        None | Some("1") => Ok(RequestVersion::V1),
        Some("2") => Ok(RequestVersion::V2),
        Some(other) => {
            let other: String = other.chars().take(20).collect();
            Err(IntakeError::Unauthenticated(format!(
                "request signature version {other:?} is not spoken here (1 or 2)"
            )))
        }
    }
}
