//! Enrollment and the assignment.

use rusqlite::{params, OptionalExtension};
use sync_protocol::{
    api::{self, EnrollRequest, EnrollResponse, ErrorBody, ErrorCode},
    assignment::Assignment,
    signed::SignedDocument,
};

use crate::{Client, ClientError};

/// The code of a refusal whose answer was not an intake's (no error body of the protocol).
pub const NOT_AN_INTAKE: &str = "not_intake";

pub(crate) fn refused(response: reqwest::blocking::Response) -> ClientError {
    let status = response.status();
    match response.json::<ErrorBody>() {
        Ok(body) => ClientError::Refused {
            code: body.code.as_str().into(),
            message: body.message,
        },
        // Something answered that is not an intake (a captive portal, a proxy, a mistyped
        // address): the enumerator is told to check the address, not shown a bare status.
        Err(_) => ClientError::Refused {
            code: NOT_AN_INTAKE.into(),
            message: status.to_string(),
        },
    }
}

impl Client {
    /// Enrolls with the intake at `intake_url` using a one-time code, then downloads the
    /// assignment. A replacement device continues the enumerator's chain where the intake says
    /// it stands.
    pub fn enroll(
        &mut self,
        intake_url: &str,
        code: &str,
        label: &str,
    ) -> Result<EnrollResponse, ClientError> {
        if let Ok(e) = self.enrollment() {
            return Err(ClientError::AlreadyEnrolled(e.enumerator));
        }
        let url = intake_url.trim_end_matches('/');
        let request = EnrollRequest {
            code: code.trim().into(),
            public_key: self.key.public(),
            label: label.into(),
        };
        let response = self
            .http
            .post(format!("{url}{}", api::PATH_ENROLL))
            .json(&request)
            .send()
            .map_err(|e| ClientError::Network(e.to_string()))?;
        if !response.status().is_success() {
            return Err(refused(response));
        }
        let enrolled: EnrollResponse = response
            .json()
            .map_err(|e| ClientError::BadAnswer(e.to_string()))?;
        self.conn.execute(
            "INSERT INTO device (id, device_id, enumerator, campaign, intake_url, intake_public_key, next_seq, last_hash) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                enrolled.device.to_string(),
                enrolled.enumerator,
                enrolled.campaign,
                url,
                enrolled.intake_public_key.to_b64(),
                (enrolled.chain.seq + 1) as i64,
                enrolled.chain.hash.to_hex()
            ],
        )?;
        self.refresh_assignment()?;
        Ok(enrolled)
    }

    /// A device-authenticated GET. A `clock_skew` answer teaches the device the intake's time.
    pub(crate) fn get_signed(
        &self,
        path: &str,
        if_none_match: Option<&str>,
    ) -> Result<reqwest::blocking::Response, ClientError> {
        for _ in 0..2 {
            let e = self.enrollment()?;
            let time = chrono::Utc::now().timestamp() + e.clock_offset;
            let mut request = self.http.get(format!("{}{path}", e.intake_url));
            for (name, value) in
                api::sign_request_v2(&self.key, e.device, &e.campaign, "GET", path, time)
            {
                request = request.header(name, value);
            }
            if let Some(tag) = if_none_match {
                request = request.header("if-none-match", format!("\"{tag}\""));
            }
            let response = request
                .send()
                .map_err(|e| ClientError::Network(e.to_string()))?;
            if response.status().is_success()
                || response.status() == reqwest::StatusCode::NOT_MODIFIED
            {
                return Ok(response);
            }
            let body: ErrorBody = response
                .json()
                .map_err(|e| ClientError::BadAnswer(e.to_string()))?;
            match (body.code, body.server_time) {
                (ErrorCode::ClockSkew, Some(server_time)) => {
                    let offset = server_time - chrono::Utc::now().timestamp();
                    self.conn
                        .execute("UPDATE device SET clock_offset = ?1", [offset])?;
                }
                _ => {
                    return Err(ClientError::Refused {
                        code: body.code.as_str().into(),
                        message: body.message,
                    })
                }
            }
        }
        Err(ClientError::BadAnswer(
            "the intake kept refusing the device's clock".into(),
        ))
    }

    /// Downloads and verifies the assignment. Households new to this enumerator appear; those
    /// reassigned away are marked so (what was recorded for them still goes out).
    pub fn refresh_assignment(&mut self) -> Result<Assignment, ClientError> {
        let enrollment = self.enrollment()?;
        let held: Option<String> = self
            .conn
            .query_row("SELECT etag FROM assignment", [], |r| r.get(0))
            .optional()?
            .flatten();
        let response = self.get_signed(api::PATH_ASSIGNMENT, held.as_deref())?;
        if response.status() == reqwest::StatusCode::NOT_MODIFIED {
            self.conn.execute(
                "UPDATE assignment SET fetched_at = ?1",
                [chrono::Utc::now().to_rfc3339()],
            )?;
            return self.assignment();
        }
        let doc: SignedDocument = response.json().map_err(|e| {
            ClientError::Network(format!("the assignment did not arrive whole: {e}"))
        })?;
        let assignment = Assignment::verify(&doc, &enrollment.intake_key)?;
        let tag = assignment.tag()?;
        if assignment.device != enrollment.device
            || assignment.enumerator.id != enrollment.enumerator
        {
            return Err(ClientError::BadAnswer(
                "the assignment is for another device".into(),
            ));
        }
        let new_forms = self.fetch_forms(&assignment)?;
        let earlier = self.fetch_earlier_work()?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO assignment (id, signed, fetched_at, etag) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET signed = excluded.signed, fetched_at = excluded.fetched_at, etag = excluded.etag",
            params![serde_json::to_string(&doc).expect("serializes"), chrono::Utc::now().to_rfc3339(), tag],
        )?;
        for v in &assignment.villages {
            tx.execute(
                "INSERT INTO villages VALUES (?1, ?2, ?3, ?4) ON CONFLICT(id) DO UPDATE SET name = excluded.name",
                params![v.id, v.name, v.commune.name, v.district.name],
            )?;
        }
        for (reference, sha256, definition) in &new_forms {
            tx.execute(
                "INSERT OR IGNORE INTO forms VALUES (?1, ?2, ?3)",
                params![reference, sha256, definition],
            )?;
        }
        tx.execute("UPDATE households SET assigned = 0", [])?;
        // With every event of ours answered, the centre's statuses are the truth: they hold our
        // accepted work, not the refused, plus what a supervisor decided. While anything is
        // unanswered, ours are newer.
        let all_answered: bool = tx.query_row(
            "SELECT NOT EXISTS(SELECT 1 FROM events WHERE outcome IS NULL)",
            [],
            |r| r.get(0),
        )?;
        for h in &assignment.households {
            tx.execute(
                "INSERT INTO households (id, village, serial, name, address, reserve_rank, status, assigned, carried_from) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)
                 ON CONFLICT(id) DO UPDATE SET assigned = 1, moved_to = NULL, name = excluded.name, address = excluded.address,
                   carried_from = excluded.carried_from, status = CASE WHEN ?9 THEN excluded.status ELSE households.status END",
                params![h.id, h.village, h.serial, h.name, h.address, h.reserve_rank, h.status.as_str(), h.carried_over.as_ref().map(|c| &c.from.name), all_answered],
            )?;
        }
        tx.execute("DELETE FROM earlier_steps", [])?;
        for steps in &earlier.households {
            for (n, step) in steps.steps.iter().enumerate() {
                tx.execute(
                    "INSERT INTO earlier_steps VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        steps.household,
                        n as i64,
                        step.kind,
                        step.detail,
                        step.at,
                        step.by.name
                    ],
                )?;
            }
        }
        for m in &assignment.moved_away {
            tx.execute(
                "UPDATE households SET moved_to = ?1 WHERE id = ?2 AND assigned = 0",
                params![m.to.name, m.household],
            )?;
        }
        tx.execute("UPDATE events SET resolution = NULL, resolution_note = NULL WHERE outcome = 'rejected'", [])?;
        for r in &assignment.resolved {
            let decision = match r.decision {
                sync_protocol::assignment::Resolution::Accepted => "accepted",
                sync_protocol::assignment::Resolution::Dismissed => "dismissed",
            };
            tx.execute(
                "UPDATE events SET resolution = ?1, resolution_note = ?2 WHERE id = ?3",
                params![decision, r.note, r.event.to_string()],
            )?;
        }
        tx.commit()?;
        self.assignment_cache = Default::default();
        self.form_cache = Default::default();
        Ok(assignment)
    }
}

impl Client {
    /// What other devices did on this enumerator's households, for their history here: an
    /// earlier tablet's steps, or another enumerator's before a household became ours.
    fn fetch_earlier_work(&self) -> Result<api::EarlierWork, ClientError> {
        let response = self.get_signed(api::PATH_EARLIER, None)?;
        if response
            .content_length()
            .is_some_and(|n| n > EARLIER_MAX_BYTES)
        {
            return Err(ClientError::BadAnswer("earlier steps too large".into()));
        }
        let work: api::EarlierWork = response
            .json()
            .map_err(|e| ClientError::BadAnswer(format!("earlier steps: {e}")))?;
        if work.households.iter().map(|h| h.steps.len()).sum::<usize>() > api::EARLIER_STEPS_MAX {
            return Err(ClientError::BadAnswer("too many earlier steps".into()));
        }
        Ok(work)
    }
}

/// Earlier steps larger than this are not a household list's.
const EARLIER_MAX_BYTES: u64 = 4 * 1024 * 1024;

/// A form definition larger than this is not a form.
const FORM_MAX_BYTES: u64 = 4 * 1024 * 1024;

impl Client {
    /// Fetches the form versions the assignment names and this device lacks, each checked
    /// against the hash in the signed assignment and compiled before anything is stored: an
    /// assignment is kept only with every form it names. Returns (reference, sha256, bytes).
    fn fetch_forms(
        &self,
        assignment: &Assignment,
    ) -> Result<Vec<(String, String, Vec<u8>)>, ClientError> {
        use sha2::Digest;
        let held: std::collections::HashSet<String> = self
            .conn
            .prepare("SELECT sha256 FROM forms")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut fetched = Vec::new();
        for f in assignment
            .forms
            .iter()
            .filter(|f| !held.contains(&f.sha256))
        {
            if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ClientError::BadAnswer(format!(
                    "form {} has no valid hash",
                    f.reference
                )));
            }
            let response = self.get_signed(&format!("{}/{}", api::PATH_FORMS, f.sha256), None)?;
            if response
                .content_length()
                .is_some_and(|n| n > FORM_MAX_BYTES)
            {
                return Err(ClientError::BadAnswer(format!(
                    "form {} is too large",
                    f.reference
                )));
            }
            let bytes = response.bytes().map_err(|e| {
                ClientError::Network(format!("form {} did not arrive whole: {e}", f.reference))
            })?;
            if bytes.len() as u64 > FORM_MAX_BYTES
                || hex::encode(sha2::Sha256::digest(&bytes)) != f.sha256
            {
                return Err(ClientError::BadAnswer(format!(
                    "form {} does not match the hash the assignment names",
                    f.reference
                )));
            }
            let text = std::str::from_utf8(&bytes)
                .map_err(|e| ClientError::BadAnswer(format!("form {}: {e}", f.reference)))?;
            let form = forms::Form::from_json(text)
                .map_err(|e| ClientError::BadAnswer(format!("form {}: {e}", f.reference)))?;
            if form.reference() != f.reference {
                return Err(ClientError::BadAnswer(format!(
                    "form {} arrived as {}",
                    f.reference,
                    form.reference()
                )));
            }
            fetched.push((f.reference.clone(), f.sha256.clone(), bytes.to_vec()));
        }
        if !assignment
            .forms
            .iter()
            .any(|f| f.reference == assignment.campaign.form)
        {
            return Err(ClientError::BadAnswer(format!(
                "the assignment names form {} but not its definition",
                assignment.campaign.form
            )));
        }
        Ok(fetched)
    }
}
