//! Shared by the intake's integration tests: a real server on 127.0.0.1 over a real SQLite
//! file, and a test device that enrolls, signs and sends like the field client will.
#![allow(dead_code)]

pub mod language;
pub mod pages;
pub mod place;

use chrono::Utc;
use intake::{
    campaign::Campaign,
    demo,
    service::{Centre, Intake},
};
use std::sync::Arc;
use sync_protocol::{
    api::{self, ChainHead, EnrollRequest, EnrollResponse, ErrorBody},
    batch::{Batch, BatchHash, SignedBatch},
    event::{Event, EventBody, Recipient, VisitOutcome},
    keys::{Base64Bytes, DeviceKey, MinistrySecretKey, PublicKey},
    receipt::Receipt,
    seal::{self, AnswerSheet},
    signed::SignedDocument,
    DeviceTime, PROTOCOL_VERSION,
};
use uuid::Uuid;

pub struct TestServer {
    pub base: String,
    /// The whole centre: accounts, the audit log, every campaign.
    pub centre: Arc<Centre>,
    /// The demo campaign's intake.
    pub intake: Arc<Intake>,
    pub campaign: Campaign,
    pub ministry: MinistrySecretKey,
    /// Where the centre is stored (SQLite files, or a PostgreSQL database of this test's own).
    pub place: place::Place,
    pub http: reqwest::Client,
}

impl TestServer {
    /// The demo campaign, imported into a fresh data directory, served on an ephemeral port.
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// The demo campaign changed by `adjust` before import.
    pub async fn start_with(adjust: impl FnOnce(&mut Campaign)) -> TestServer {
        Self::start_configured(adjust, |_| {}).await
    }

    /// The demo campaign changed by `adjust`, served by an intake set up by `configure`.
    pub async fn start_configured(
        adjust: impl FnOnce(&mut Campaign),
        configure: impl FnOnce(&mut Centre),
    ) -> TestServer {
        Self::start_limited(adjust, configure, intake::serve::Limits::default()).await
    }

    /// As [`TestServer::start_configured`], served within `limits`.
    pub async fn start_limited(
        adjust: impl FnOnce(&mut Campaign),
        configure: impl FnOnce(&mut Centre),
        limits: intake::serve::Limits,
    ) -> TestServer {
        let ministry = demo::fixed_ministry_key();
        let mut campaign = demo::quang_tri_2024(&ministry.public());
        adjust(&mut campaign);
        let place = place::Place::new();
        let mut centre = place.open();
        configure(&mut centre);
        let centre = Arc::new(centre);
        centre
            .import(&campaign, "{}", &[intake::demo::sipas_form()], Utc::now())
            .unwrap();
        let intake = centre.campaign(&campaign.id).unwrap().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = intake::http::router(centre.clone());
        tokio::spawn(intake::serve::serve(
            listener,
            app,
            limits,
            None,
            std::future::pending(),
        ));
        TestServer {
            base: format!("http://{addr}"),
            centre,
            intake,
            campaign,
            ministry,
            place,
            http: reqwest::Client::new(),
        }
    }

    /// A second view of the campaign's store, as another process would see it.
    pub fn reopen_store(&self) -> intake::store::campaign::SqlStore {
        self.place.campaign_store(&self.campaign.id)
    }

    /// A page of the demo campaign: `/c/<campaign><path>`.
    pub fn page(&self, path: &str) -> String {
        format!("{}/c/{}{path}", self.base, self.campaign.id)
    }

    pub fn code(&self, enumerator: &str) -> String {
        self.intake
            .issue_enrollment_code(enumerator, chrono::Duration::hours(1), "test")
            .unwrap()
    }

    pub async fn enroll_raw(&self, code: &str, key: &DeviceKey) -> reqwest::Response {
        let body = EnrollRequest {
            code: code.into(),
            public_key: key.public(),
            label: "test tablet".into(),
        };
        self.http
            .post(format!("{}{}", self.base, api::PATH_ENROLL))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn enroll(&self, enumerator: &str) -> TestDevice {
        let key = DeviceKey::generate(&mut rand::rngs::OsRng);
        let response = self.enroll_raw(&self.code(enumerator), &key).await;
        assert_eq!(response.status(), 201);
        let enrolled: EnrollResponse = response.json().await.unwrap();
        TestDevice::new(key, enrolled, self)
    }

    pub async fn post_frame(&self, frame: Vec<u8>) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(format!("{}{}", self.base, api::PATH_BATCHES))
            .header("content-type", sync_protocol::batch::FRAME_CONTENT_TYPE)
            .body(frame)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// Households of an enumerator's villages: (id, serial), sampled first.
    pub fn households(&self, enumerator: &str) -> Vec<(String, String)> {
        let villages: Vec<&String> = self
            .campaign
            .enumerators
            .iter()
            .find(|e| e.id == enumerator)
            .unwrap()
            .villages
            .iter()
            .collect();
        self.campaign
            .villages()
            .filter(|(.., v)| villages.contains(&&v.id))
            .flat_map(|(.., v)| {
                v.households
                    .iter()
                    .map(|h| (h.id.clone(), h.serial.clone()))
            })
            .collect()
    }

    pub fn reserve(&self, village: &str) -> Vec<(String, String)> {
        let (.., v) = self
            .campaign
            .villages()
            .find(|(.., v)| v.id == village)
            .unwrap();
        v.reserve
            .iter()
            .map(|h| (h.id.clone(), h.serial.clone()))
            .collect()
    }

    pub fn status(&self, household: &str) -> String {
        self.intake.store.household_statuses().unwrap()[household].to_string()
    }
}

#[derive(Clone)]
pub struct TestDevice {
    pub key: DeviceKey,
    pub id: Uuid,
    pub enumerator: String,
    pub campaign: String,
    pub intake_key: PublicKey,
    pub seq: u64,
    pub prev: BatchHash,
    pub base: String,
    pub ministry: sync_protocol::keys::MinistryPublicKey,
}

pub fn now() -> DeviceTime {
    DeviceTime::now_with_offset(7 * 3600)
}

impl TestDevice {
    pub fn new(key: DeviceKey, enrolled: EnrollResponse, server: &TestServer) -> Self {
        TestDevice {
            key,
            id: enrolled.device,
            enumerator: enrolled.enumerator,
            campaign: enrolled.campaign,
            intake_key: enrolled.intake_public_key,
            seq: enrolled.chain.seq,
            prev: enrolled.chain.hash,
            base: server.base.clone(),
            ministry: server.ministry.public(),
        }
    }

    pub fn event(&self, household: &(String, String), body: EventBody) -> Event {
        Event::for_household(&household.0, &household.1, &self.enumerator, now(), body)
    }
    pub fn distributed(&self, h: &(String, String)) -> Event {
        self.event(
            h,
            EventBody::FormDistributed {
                recipient: Recipient::Representative,
                note: None,
            },
        )
    }
    pub fn collected(&self, h: &(String, String)) -> Event {
        self.event(h, EventBody::FormCollected {})
    }
    pub fn outcome(&self, h: &(String, String), outcome: VisitOutcome) -> Event {
        self.event(
            h,
            EventBody::VisitOutcome {
                outcome,
                note: None,
            },
        )
    }
    pub fn sealed(&self, h: &(String, String)) -> Base64Bytes {
        let mut answers = std::collections::BTreeMap::new();
        for i in 1..=100 {
            answers.insert(format!("q{:03}", i), serde_json::json!((i % 5) + 1));
        }
        let sheet = AnswerSheet {
            form: "sipas-2024@1".into(),
            household: h.0.clone(),
            serial: h.1.clone(),
            answers,
            keyings_apart: vec![],
        };
        let order: Vec<&str> = sheet.answers.keys().map(String::as_str).collect();
        Base64Bytes(seal::seal(&self.ministry, &sheet, &order, &mut rand::rngs::OsRng).unwrap())
    }
    /// The first keying in the demo campaign, which verifies transcriptions: no answers yet.
    pub fn transcribed(&self, h: &(String, String)) -> Event {
        self.event(
            h,
            EventBody::FormTranscribed {
                form: "sipas-2024@1".into(),
                sealed_answers: None,
                keying_seconds: 180,
            },
        )
    }
    /// The second, verified keying, carrying `sealed`.
    pub fn verified_with(&self, h: &(String, String), sealed: Base64Bytes) -> Event {
        self.event(
            h,
            EventBody::TranscriptionVerified {
                form: "sipas-2024@1".into(),
                sealed_answers: sealed,
                keying_seconds: 150,
                mismatches: 0,
                keyer_errors: 0,
                verifier_errors: 0,
            },
        )
    }

    /// Signs the next batch of the chain and advances the chain.
    pub fn next_batch(&mut self, events: Vec<Event>) -> SignedBatch {
        let signed = self.batch_at(self.seq + 1, self.prev, events);
        self.seq += 1;
        self.prev = signed.hash();
        signed
    }

    /// Signs a batch at any position, without advancing.
    pub fn batch_at(&self, seq: u64, prev: BatchHash, events: Vec<Event>) -> SignedBatch {
        let batch = Batch {
            protocol: PROTOCOL_VERSION,
            campaign: self.campaign.clone(),
            device: self.id,
            enumerator: self.enumerator.clone(),
            seq,
            prev,
            created_at: now(),
            events,
        };
        SignedBatch::sign(&batch, &self.key).unwrap()
    }

    pub fn receipt(&self, body: &serde_json::Value, signed: &SignedBatch, seq: u64) -> Receipt {
        let doc: SignedDocument = serde_json::from_value(body.clone()).expect("a receipt");
        Receipt::verify(&doc, &self.intake_key, seq, &signed.hash()).expect("receipt verifies")
    }

    /// Every event's outcome from the receipt, in batch order.
    pub fn outcomes(
        &self,
        body: &serde_json::Value,
        signed: &SignedBatch,
        seq: u64,
    ) -> Vec<sync_protocol::receipt::EventOutcome> {
        let ids: Vec<_> = signed
            .decode()
            .unwrap()
            .events
            .iter()
            .map(|e| e.id)
            .collect();
        self.receipt(body, signed, seq).outcomes(&ids)
    }

    pub async fn get(
        &self,
        http: &reqwest::Client,
        path: &str,
        clock_offset: i64,
    ) -> reqwest::Response {
        self.get_with(
            http.get(format!("{}{}", self.base, path)),
            path,
            clock_offset,
        )
        .await
    }

    /// A signed GET built on `request` (for extra headers).
    pub async fn get_with(
        &self,
        mut request: reqwest::RequestBuilder,
        path: &str,
        clock_offset: i64,
    ) -> reqwest::Response {
        let t = Utc::now().timestamp() + clock_offset;
        for (name, value) in api::sign_request(&self.key, self.id, "GET", path, t) {
            request = request.header(name, value);
        }
        request.send().await.unwrap()
    }

    pub async fn chain(&self, http: &reqwest::Client) -> ChainHead {
        let r = self.get(http, api::PATH_CHAIN, 0).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
}

pub fn error_code(body: &serde_json::Value) -> String {
    serde_json::from_value::<ErrorBody>(body.clone())
        .map(|e| e.code.as_str().to_string())
        .unwrap_or_else(|_| format!("not an error body: {body}"))
}

/// Builds a frame from raw canonical bytes, signing them as given (for malformed-batch tests).
pub fn frame_of(canonical: &[u8], key: &DeviceKey) -> Vec<u8> {
    let sig = key.sign(sync_protocol::batch::BATCH_SIGNATURE_DOMAIN, canonical);
    let mut frame = b"FPB1".to_vec();
    frame.extend_from_slice(&sig);
    frame.extend_from_slice(&zstd::bulk::compress(canonical, 3).unwrap());
    frame
}
