//! Storage behind two traits, so that handlers never know which database they talk to:
//! [`Store`] is one campaign's (each campaign has a store of its own: its places, households,
//! devices, chains, events and sealed answers), [`CentreStore`] the centre's (the campaigns it
//! holds, accounts and what they may see, sessions, wrong passwords, the audit log). SQLite
//! ([`sqlite`]) is the embedded default; a PostgreSQL store implements the same traits
//! (keeping raw signed bytes in `bytea`, never re-encoding from `jsonb`).
//!
//! The traits are synchronous: SQLite is, and handlers call them from `spawn_blocking`.
//! Every method that writes is one transaction: all of it or none of it.

pub mod campaign;
pub mod centre;
pub mod postgres;
pub mod sql;
pub mod sqlite;

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use sync_protocol::{
    api::ChainHead,
    assignment::{AssignedHousehold, AssignedVillage, CampaignInfo, Place},
    batch::{BatchHash, VerifiedBatch},
    keys::{DeviceKey, MinistryPublicKey, PublicKey},
    lifecycle::HouseholdStatus,
    signed::SignedDocument,
};
use thiserror::Error;
use uuid::Uuid;

use crate::campaign::Campaign;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("campaign {0:?} is already imported into this database; use a new data directory for another campaign")]
    CampaignAlreadyImported(String),
    #[error("no campaign is imported yet: run `intake import` first")]
    NoCampaign,
    #[error("unknown enumerator {0:?}")]
    UnknownEnumerator(String),
    #[error("unknown account {0:?}")]
    UnknownAccount(String),
    #[error("the account {login:?} already exists as a {role}; a campaign's supervisor needs a login of their own")]
    AccountClash { login: String, role: &'static str },
    #[error("no campaign {0:?} on this centre")]
    UnknownCampaign(String),
    #[error("campaign {0:?} is already on this centre")]
    CampaignExists(String),
    #[error("unknown district {0:?}")]
    UnknownDistrict(String),
    #[error("unknown household {0:?}")]
    UnknownHousehold(String),
    #[error("unknown village {0:?}")]
    UnknownVillage(String),
    #[error("no recording of paper {0:?}: it may have been taken back already")]
    UnknownPaperBatch(String),
    #[error("the households changed hands after the move was asked about; nothing was moved")]
    AssignmentChanged,
    #[error("unknown device {0}")]
    UnknownDevice(Uuid),
    #[error("the campaign names form {0:?}, but no definition of it was given; pass its file with --form")]
    FormMissing(String),
    #[error(
        "form {reference} is already stored with other content; a changed form needs a new version"
    )]
    FormChanged { reference: String },
    #[error(
        "form {reference} is not a version of this campaign's form {current}; a different questionnaire needs a campaign of its own"
    )]
    FormOfAnotherCampaign { reference: String, current: String },
    #[error("unknown event {0:?}")]
    UnknownEvent(String),
    #[error("event {0} was already resolved")]
    AlreadyResolved(String),
    #[error("the event cannot join the household's record: {reason}")]
    CannotCarryOver { code: &'static str, reason: String },
    #[error("this public key is already enrolled")]
    KeyAlreadyEnrolled,
    #[error("enrollment code refused: {0}")]
    Enrollment(EnrollmentRefusal),
    #[error("the database was written by a newer Fieldpost (schema {found}, this one knows {known}); upgrade the intake")]
    NewerSchema { found: i64, known: i64 },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {0}")]
    Postgres(String),
    #[error("no such row")]
    NoRows,
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("signing failed: {0}")]
    Signing(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentRefusal {
    /// No such code (or mistyped).
    Invalid,
    Expired,
    AlreadyUsed,
}

impl std::fmt::Display for EnrollmentRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EnrollmentRefusal::Invalid => "no such code; check it with the person who issued it",
            EnrollmentRefusal::Expired => "the code has expired; ask for a new one",
            EnrollmentRefusal::AlreadyUsed => {
                "the code was already used; each code enrolls one device once"
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub villages: usize,
    pub households: usize,
    pub reserve: usize,
    pub enumerators: usize,
    pub supervisors: usize,
}

#[derive(Debug, Clone)]
pub struct CampaignRecord {
    pub info: CampaignInfo,
    pub ministry_public_key: MinistryPublicKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub id: Uuid,
    pub enumerator: String,
    pub public_key: PublicKey,
    pub label: String,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct AssignmentData {
    pub enumerator: Place,
    pub villages: Vec<AssignedVillage>,
    pub households: Vec<AssignedHousehold>,
    pub moved_away: Vec<sync_protocol::assignment::MovedAway>,
    pub resolved: Vec<sync_protocol::assignment::ResolvedRejection>,
}

/// Recent wrong passwords, each counted with the time of the last: for this login from this
/// address, for this login from anywhere, from this address for any login, through this
/// known-browser cookie, and for names that are no account, in all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginFailures {
    pub pair: Tally,
    pub login: Tally,
    pub address: Tally,
    pub browser: Tally,
    pub unknown_names: Tally,
}

/// Refused enrollment codes within a window: from one address, presenting one code, in all,
/// and when the oldest of the address's and of all were (Unix seconds; `since` when none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnrollmentFailures {
    pub by_address: u32,
    pub by_code: u32,
    pub all: u32,
    pub oldest_by_address: i64,
    pub oldest_all: i64,
}

// Login failures are counted in the accounts' terms: the store depends on `accounts`, never
// the other way.
pub use crate::accounts::Tally;

/// One wrong password as the throttles count it.
#[derive(Debug, Clone, Copy)]
pub struct LoginFailure<'a> {
    pub login: &'a str,
    pub address: &'a str,
    /// The login names an account.
    pub known: bool,
    /// The SHA-256 of the known-browser cookie it came with.
    pub browser: Option<&'a str>,
}

/// Which audit rows an admin asks for; empty fields match everything. Times are RFC 3339.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    pub login: String,
    /// A campaign id; empty for all.
    #[serde(default)]
    pub campaign: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

/// The longest login name and detail an audit row keeps: whatever arrives from outside (a
/// 1 MB "login name") is cut there, so failed attempts cannot fill the disk.
pub const AUDIT_LOGIN_MAX: usize = 128;
/// Browsers remembered per account (a person's phone, office computer, home computer …).
pub const KNOWN_BROWSERS_PER_ACCOUNT: i64 = 20;
pub const AUDIT_DETAIL_MAX: usize = 1000;

/// `text` cut to at most `max` characters, marked with "…" when cut.
pub fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub at: String,
    pub login: String,
    /// The campaign it concerns; `None` for the centre's own pages (logins, accounts).
    pub campaign: Option<String>,
    pub action: String,
    pub detail: String,
    pub address: String,
}

/// One enumerator's households in one village, counted by status: what a supervisor's
/// progress page is made of. Never an answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VillageProgress {
    pub district_id: String,
    pub district: String,
    pub commune_id: String,
    pub commune: String,
    pub village_id: String,
    pub village: String,
    pub enumerator_id: String,
    pub enumerator: String,
    /// Household status → how many (reserve households not yet activated count as `reserve`).
    pub statuses: BTreeMap<String, u32>,
    /// When the enumerator's device last delivered a batch.
    pub last_sync: Option<String>,
    /// Whether the enumerator has an enrolled device that is not revoked.
    pub has_device: bool,
    /// The last campaign day on which this enumerator's work in this village was done in the
    /// field (by the day rule of [`crate::progress::DayRule`]), however late it arrived. Keying
    /// a form and handing a parcel to the post office are not work in the village.
    pub last_field_day: Option<chrono::NaiveDate>,
}

/// Accepted household events of one day, enumerator and kind (a visit outcome by its
/// outcome), and the forms of the parcels handed over that day (kind `parcel_handed_over`, one
/// a form). The day is the event's in the campaign's time zone, by [`crate::progress::DayRule`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DailyCount {
    pub day: chrono::NaiveDate,
    pub enumerator: String,
    pub kind: String,
    pub n: u32,
    /// Of `n`, those dated by the day the centre received them: the tablet's time could not
    /// be right.
    pub by_receipt: u32,
}

/// The latest sealed answers of a household (a correction wins over a verification, which
/// wins over a first keying), with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedForm {
    pub household: String,
    pub serial: String,
    pub enumerator: String,
    /// The device that sent it, and the batch it came in.
    pub device: String,
    pub seq: u64,
    pub village: String,
    pub commune: String,
    pub district: String,
    pub province: String,
    pub sealed: Vec<u8>,
}

/// An accepted event's paradata (never its answers), for the anomaly checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFacts {
    pub enumerator: String,
    pub household: Option<String>,
    pub kind: String,
    /// The device's clock, Unix seconds, and the intake's when it arrived (RFC 3339).
    pub occurred_unix: i64,
    pub occurred_at: String,
    pub received_at: String,
    pub keying_seconds: Option<u32>,
    /// For a visit outcome: absent, refused, moved, …
    pub outcome: Option<String>,
    /// For a verified transcription: the questions keyed differently in the two passes, and
    /// how many of them each pass had wrong against the paper.
    pub double_keying: Option<DoubleKeyingCounts>,
}

/// What a tablet reports of one double keying (the answers never travel in clear).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DoubleKeyingCounts {
    pub mismatches: u32,
    pub keyer_errors: u32,
    pub verifier_errors: u32,
}

/// What a reassignment did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reassigned {
    /// Households now the new enumerator's.
    pub moved: usize,
    /// Serials of households named that were already finished (their form in a parcel) and
    /// stay with the enumerator who finished them.
    pub finished: Vec<String>,
}

/// What the ministry's review of one form shows beside its answers, read for that household
/// alone (a national campaign's lists are not read to show one form).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HouseholdReview {
    pub serial: String,
    pub village: String,
    /// Who keyed the sheet (the household's holder when nothing is keyed yet).
    pub enumerator: String,
    /// Its paper serial was recorded at the ministry.
    pub paper_arrived: bool,
    /// What the tablet reported of its latest double keying.
    pub double_keying: Option<DoubleKeyingCounts>,
    /// The latest decision: (`approved` or `flagged`, reason, by whom, when).
    pub decision: Option<(String, String, String, String)>,
    /// The ministry's latest correction keyed from the paper: (by whom, when, why).
    pub corrected: Option<(String, String, String)>,
}

/// An event the domain layer rejected, for a supervisor to resolve, and what was decided.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RejectedRecord {
    pub event: String,
    pub enumerator: String,
    pub enumerator_name: String,
    pub household: Option<String>,
    pub household_name: Option<String>,
    pub serial: Option<String>,
    pub village_name: Option<String>,
    pub commune_name: Option<String>,
    pub district_id: Option<String>,
    /// The enumerator who holds the household now, when that is another one.
    pub holder: Option<sync_protocol::assignment::Place>,
    pub kind: String,
    pub code: String,
    pub reason: String,
    pub received_at: String,
    /// `accepted` (taken into the household's record) or `dismissed`; `None` while open.
    pub resolution: Option<String>,
    pub resolution_note: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
}

/// A household as reconciliation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedForm {
    pub household: String,
    pub serial: String,
    pub enumerator: String,
    pub village: String,
    pub village_name: String,
    pub status: HouseholdStatus,
    /// The intake holds accepted sealed answers for it.
    pub digital: bool,
}

/// A kept back-check draw: who drew it, when, with what seed, and the households drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackcheckDraw {
    pub id: i64,
    pub seed: String,
    pub share_percent: u32,
    pub min_per_enumerator: u32,
    pub households: Vec<String>,
    pub by: String,
    pub at: String,
}

/// One recording of paper forms arriving: what one officer typed or scanned at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperBatch {
    pub batch: String,
    /// The login that recorded it, and when.
    pub by: String,
    pub at: String,
    /// As recorded, duplicates kept.
    pub serials: Vec<String>,
}

/// What a back-check visit found at one household (the latest recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackcheckOutcome {
    /// The household's enumerator now.
    pub enumerator: String,
    pub household: String,
    /// `confirmed`, `not_visited` or `answers_differ`.
    pub outcome: String,
    pub note: String,
    /// The login that recorded it, and when.
    pub by: String,
    pub at: String,
}

/// A household as a back-check visitor finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdToVisit {
    pub id: String,
    pub serial: String,
    pub name: String,
    pub address: String,
    pub village: String,
    pub commune: String,
    pub enumerator: String,
}

/// Which households a reassignment moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReassignTarget {
    /// Every household of the village, reserve households included.
    Village(String),
    Households(Vec<String>),
}

/// One move of work as it was made (one confirmation): who moved which households from whom to
/// whom, when and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveRecord {
    pub at: String,
    /// The login that moved it.
    pub by: String,
    pub reason: String,
    pub to: String,
    /// (serial, village id, district id, whom it was taken from) of each household moved.
    pub households: Vec<(String, String, String, String)>,
}

/// A household a move names, as it stands before the move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveCandidate {
    pub household: String,
    pub enumerator: String,
    pub serial: String,
    pub status: String,
    pub village: String,
}

/// A move as it was asked about — who held each household then, to whom it goes and why — in
/// a few bytes the confirmation carries back: a move confirmed from a page that has gone stale
/// (someone moved the work meanwhile), or with its recipient or reason changed after the
/// question, is refused rather than taking the work from whoever holds it now.
pub fn holdings_seen(households: &[MoveCandidate], to: &str, reason: &str) -> String {
    use sha2::Digest;
    let mut pairs: Vec<String> = households
        .iter()
        .map(|h| format!("{}={}", h.household, h.enumerator))
        .collect();
    pairs.sort();
    pairs.push(format!("to={to}"));
    pairs.push(format!("reason={reason}"));
    hex::encode(&sha2::Sha256::digest(pairs.join("\n").as_bytes())[..16])
}

/// What of a device never changes once it is enrolled: the key its batches are signed with and
/// the enumerator it works for. (Whether it is revoked does change, and is read with each batch.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolledKey {
    pub public_key: PublicKey,
    pub enumerator: String,
}

/// What became of a batch that passed the signature checks.
#[derive(Debug, Clone)]
pub enum IngestResult {
    /// Stored and committed; the receipt lists every event's outcome.
    Accepted {
        receipt: SignedDocument,
        rejected_events: usize,
    },
    /// The same batch again: the receipt it got the first time.
    Replayed { receipt: SignedDocument },
    /// `seq` is beyond the next expected one.
    Gap {
        expected_seq: u64,
        last_hash: BatchHash,
    },
    /// `seq` is the next one but `prev` does not match the last accepted batch.
    ChainBroken {
        expected_seq: u64,
        last_hash: BatchHash,
    },
    /// Another batch was already accepted under this `seq`.
    Equivocation { seq: u64, accepted_hash: BatchHash },
    /// The device that signed it is revoked (read in the same transaction that would have
    /// accepted the batch: a revocation committed before it is never missed).
    DeviceRevoked,
    /// The campaign holds no device of that id enrolled with that key for that enumerator.
    UnknownDevice,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub kind: String,
    pub enumerator: Option<String>,
    pub device: Option<Uuid>,
    pub seq: Option<u64>,
    pub detail: String,
}

/// An alert as kept: how many times its device gave that cause, when first and last, and the
/// latest detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptAlert {
    pub alert: Alert,
    pub count: u64,
    pub first_at: String,
    pub last_at: String,
}

/// Alerts of these kinds are kept one per sheet (each names its own sheet), not per device.
pub const ALERTS_PER_SHEET: &[&str] = &["sealed_answers_unopenable"];

/// One stored event, as the tests and the centre's pages read it back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventRecord {
    pub id: String,
    pub enumerator: String,
    pub seq: u64,
    pub household: Option<String>,
    pub kind: String,
    pub status: String,
    pub code: Option<String>,
}

pub trait Store: Send + Sync + 'static {
    /// Imports the campaign with its form definitions; the form the campaign names must be
    /// among them.
    fn import_campaign(
        &self,
        campaign: &Campaign,
        source: &str,
        forms: &[crate::form_files::StoredForm],
        now: DateTime<Utc>,
    ) -> Result<ImportSummary, StoreError>;
    /// Adds a form version (a revision mid-campaign); `current` makes it the one devices key
    /// new forms with from their next assignment.
    fn add_form(
        &self,
        form: &crate::form_files::StoredForm,
        current: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Every form version of the campaign, oldest first.
    fn forms(&self) -> Result<Vec<crate::form_files::StoredForm>, StoreError>;
    /// Publishes figures (JSON of [`crate::publication::Published`]), replacing what was public.
    fn publish(&self, figures: &str, by: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Withdraws what is public; false when nothing was.
    fn withdraw_publication(&self, by: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;
    /// What is public now: (figures JSON, published at).
    fn publication(&self) -> Result<Option<(String, String)>, StoreError>;
    fn campaign(&self) -> Result<CampaignRecord, StoreError>;

    /// Keeps a new one-time code for an enumerator; their earlier unused codes expire.
    fn issue_enrollment_code(
        &self,
        enumerator: &str,
        code_hash: &str,
        expires_at: DateTime<Utc>,
        issued_by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Binds a public key to the code's enumerator. The enumerator's earlier devices are
    /// revoked: one tablet per enumerator, and a replacement continues the same chain.
    fn enroll(
        &self,
        code_hash: &str,
        public_key: &PublicKey,
        label: &str,
        now: DateTime<Utc>,
    ) -> Result<(DeviceRecord, ChainHead), StoreError>;
    fn device(&self, id: Uuid) -> Result<Option<DeviceRecord>, StoreError>;
    fn revoke_device(&self, id: Uuid, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Every enumerator of the campaign: (id, name).
    fn enumerators(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// Every place's id → a name people tell apart: "Khu phố 2, Phường 4" for a village,
    /// "Phường 4, Thành phố Đông Hà" for a commune, the name alone for districts and provinces.
    fn place_names(&self) -> Result<HashMap<String, String>, StoreError>;
    fn assignment(&self, enumerator: &str) -> Result<AssignmentData, StoreError>;
    fn chain_head(&self, enumerator: &str) -> Result<ChainHead, StoreError>;
    /// Counted events on `enumerator`'s households that `device` did not record, by household
    /// and in the order they happened, at most `limit`: (household, canonical event, recording
    /// enumerator's id and name).
    #[allow(clippy::type_complexity)]
    fn earlier_steps(
        &self,
        enumerator: &str,
        device: &str,
        limit: usize,
    ) -> Result<Vec<(String, String, String, String)>, StoreError>;
    /// The receipt given for batch `seq` of `enumerator` when it had this hash, if it was accepted.
    fn stored_receipt(
        &self,
        enumerator: &str,
        seq: u64,
        hash: &BatchHash,
    ) -> Result<Option<SignedDocument>, StoreError>;
    /// Moves households to another enumerator (illness, a flooded road) and records who did
    /// it and why. Devices learn it from their next assignment; what the old device sends
    /// later for these households is rejected per event. A household whose form is already
    /// in a parcel is finished: it stays with whoever finished it (its work is theirs).
    ///
    /// With `seen` (a confirmation's [`holdings_seen`]), nothing moves unless the households
    /// are held as they were when the move was asked about: [`StoreError::AssignmentChanged`].
    fn reassign(
        &self,
        target: &ReassignTarget,
        to: &str,
        by: &str,
        reason: &str,
        seen: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Reassigned, StoreError>;
    /// The latest `limit` moves of work, newest first.
    fn recent_moves(&self, limit: usize) -> Result<Vec<MoveRecord>, StoreError>;
    /// The households a move names, each once, as they stand: unknown ones are an error.
    fn move_candidates(&self, target: &ReassignTarget) -> Result<Vec<MoveCandidate>, StoreError>;

    /// A device's [`EnrolledKey`], which never changes: kept by the process once read, so that
    /// a batch's signature is checked without a read of the database of its own.
    fn enrolled_key(&self, id: Uuid) -> Result<Option<EnrolledKey>, StoreError>;

    /// Chain checks and domain judgement of a batch whose signature `signer` verified, in one
    /// transaction that is durably committed before this returns `Accepted`; the device is
    /// checked to be enrolled with that key and not revoked in the same transaction.
    fn ingest(
        &self,
        batch: &VerifiedBatch,
        signer: &EnrolledKey,
        frame: &[u8],
        now: DateTime<Utc>,
        intake_key: &DeviceKey,
    ) -> Result<IngestResult, StoreError>;

    /// Every enrolled device: (device, enumerator, label, enrolled at, revoked).
    /// Every device: (id, enumerator, label, enrolled at, revoked, the last batch it sent).
    #[allow(clippy::type_complexity)]
    fn devices(
        &self,
    ) -> Result<Vec<(Uuid, String, String, String, bool, Option<String>)>, StoreError>;
    /// Progress per village and enumerator; only the given districts when `Some`.
    fn progress(&self, districts: Option<&[String]>) -> Result<Vec<VillageProgress>, StoreError>;

    /// Accepted household events counted per day (in the campaign's zone, by
    /// [`crate::progress::DayRule`]), enumerator and kind (visit outcomes by outcome); only the
    /// given districts when `Some`.
    fn daily_counts(&self, districts: Option<&[String]>) -> Result<Vec<DailyCount>, StoreError>;
    /// Rejected events, newest first; only those of households in the given districts when `Some`.
    fn rejected_events(
        &self,
        districts: Option<&[String]>,
    ) -> Result<Vec<RejectedRecord>, StoreError>;
    /// A supervisor's decision on a refused event: `Accepted` judges it again as if the
    /// household's current enumerator had made it and, if it holds, applies it; `Dismissed`
    /// keeps it aside with `note`. Returns the event as it stands after.
    fn resolve_rejected(
        &self,
        event: &str,
        decision: sync_protocol::assignment::Resolution,
        note: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<RejectedRecord, StoreError>;
    /// Where a household is and whether its answers arrived: (serial, village, district,
    /// has answers); `None` for an unknown id.
    fn household_place(
        &self,
        id: &str,
    ) -> Result<Option<(String, String, String, bool)>, StoreError>;
    /// The household whose paper form carries `serial` (as normalised by `reconcile`).
    fn household_by_serial(&self, serial: &str) -> Result<Option<String>, StoreError>;
    /// Villages with their district and the enumerators working there: (village id,
    /// "village, commune", district id, enumerator ids working in it).
    fn villages_with_enumerators(
        &self,
    ) -> Result<Vec<(String, String, String, Vec<String>)>, StoreError>;
    /// Accepted events in chain order (enumerator, seq, index), as paradata.
    fn event_facts(&self) -> Result<Vec<EventFacts>, StoreError>;
    fn store_ministry_key(&self, sealed: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    fn ministry_key(&self) -> Result<Option<String>, StoreError>;
    /// The latest sealed sheet of every household (or of `household` only).
    fn sealed_forms(&self, household: Option<&str>) -> Result<Vec<SealedForm>, StoreError>;
    fn expected_forms(&self) -> Result<Vec<ExpectedForm>, StoreError>;
    /// One household's review facts, or `None` when the campaign has no such household.
    fn household_review(&self, household: &str) -> Result<Option<HouseholdReview>, StoreError>;
    /// Records paper forms arriving (serials as keyed or scanned, duplicates kept).
    fn record_paper(
        &self,
        batch: &str,
        serials: &[String],
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Every serial that arrived on paper, in arrival order.
    fn paper_serials(&self) -> Result<Vec<String>, StoreError>;
    /// Whether `serial` (as normalised by `reconcile`) arrived on paper: one form's question,
    /// answered without reading every recording.
    fn paper_has_arrived(&self, serial: &str) -> Result<bool, StoreError>;
    /// The latest `limit` recordings of paper, newest first.
    fn paper_batches(&self, limit: usize) -> Result<Vec<PaperBatch>, StoreError>;
    /// One recording of paper, if it is still there.
    fn paper_batch(&self, batch: &str) -> Result<Option<PaperBatch>, StoreError>;
    /// Takes a recording of paper back (a wrong scan, the wrong bundle): its serials, in the
    /// order recorded.
    fn withdraw_paper(&self, batch: &str) -> Result<Vec<String>, StoreError>;
    /// Records what a back-check visit found (`confirmed`, `not_visited`, `answers_differ`).
    fn record_backcheck_outcome(
        &self,
        household: &str,
        outcome: &str,
        note: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Every recorded back-check, the latest of each household, by enumerator and household.
    fn backcheck_outcomes(&self) -> Result<Vec<BackcheckOutcome>, StoreError>;
    /// A correction the ministry keyed from the paper, sealed; it wins over the device's answers.
    /// The households the ministry keyed a correction for, with when it last did.
    fn corrected_households(&self) -> Result<HashMap<String, String>, StoreError>;
    fn record_ministry_correction(
        &self,
        household: &str,
        sealed: &[u8],
        reason: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// A review decision (`approved` or `flagged`, with a reason); earlier ones are kept.
    fn record_review(
        &self,
        household: &str,
        decision: &str,
        reason: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The latest decision per reviewed household: (household, decision, reason, by, at).
    fn reviews(&self) -> Result<BTreeMap<String, (String, String, String, String)>, StoreError>;
    /// Keeps a back-check draw; returns its number.
    fn record_backcheck_draw(
        &self,
        seed: &str,
        share_percent: u32,
        min_per_enumerator: u32,
        households: &[String],
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    /// Every draw kept, newest first.
    fn backcheck_draws(&self) -> Result<Vec<BackcheckDraw>, StoreError>;
    /// What a back-check visitor needs of each household, in the order given.
    fn households_to_visit(&self, ids: &[String]) -> Result<Vec<HouseholdToVisit>, StoreError>;

    fn record_alert(&self, alert: &Alert, now: DateTime<Utc>) -> Result<(), StoreError>;
    fn alerts(&self) -> Result<Vec<Alert>, StoreError>;
    /// Every alert with its count and times, newest last.
    fn kept_alerts(&self) -> Result<Vec<KeptAlert>, StoreError>;

    fn household_statuses(&self) -> Result<BTreeMap<String, HouseholdStatus>, StoreError>;
    fn events(&self) -> Result<Vec<EventRecord>, StoreError>;

    /// Sets (or, with `None`, removes) the least index in percent an area should reach.
    fn set_target(
        &self,
        level: forms::index::Level,
        area: &str,
        percent: Option<f64>,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Every area of the campaign: (level, id), provinces first.
    fn areas(&self) -> Result<Vec<(forms::index::Level, String)>, StoreError>;
    /// Every sampled area with its parent's id (none for a province): the hierarchy the
    /// published figures add up along.
    fn area_parents(
        &self,
    ) -> Result<Vec<(forms::index::Level, String, Option<String>)>, StoreError>;
    /// Every target: (level, area id, percent).
    fn targets(&self) -> Result<Vec<(forms::index::Level, String, f64)>, StoreError>;
    /// Keeps the index as just computed (JSON of [`crate::service::KeptIndex`]: figures by
    /// area, never an answer), for the comparison of years.
    fn keep_index(&self, figures: &str, by: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// The index as last kept: (figures JSON, computed at).
    fn kept_index(&self) -> Result<Option<(String, String)>, StoreError>;
}

/// A campaign the centre holds, as its registry lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignEntry {
    pub id: String,
    pub name: String,
    /// Where its store is: a file name in the data directory (SQLite) or a schema (PostgreSQL).
    pub storage: String,
    /// Campaigns of one family (SIPAS 2024, 2025 …) are compared year by year.
    pub family: String,
    pub year: i32,
    pub added_at: String,
}

/// A supervisor a campaign file names: (login, name, district ids).
pub type NamedSupervisor = (String, String, Vec<String>);

/// The centre's own store: the campaigns it holds and the people who use its pages.
pub trait CentreStore: Send + Sync + 'static {
    /// Every campaign, oldest first.
    fn campaigns(&self) -> Result<Vec<CampaignEntry>, StoreError>;
    /// Adds a campaign and grants the supervisors its file names their districts in it (an
    /// account that exists keeps its other campaigns), in one transaction.
    fn register_campaign(
        &self,
        entry: &CampaignEntry,
        supervisors: &[NamedSupervisor],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Creates or replaces an account with the campaigns it may see (and a supervisor's
    /// districts in each); the password hash is kept if `None`.
    fn upsert_account(
        &self,
        account: &crate::accounts::Account,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    fn set_password(&self, login: &str, password_hash: &str) -> Result<(), StoreError>;
    fn account(&self, login: &str) -> Result<Option<crate::accounts::Account>, StoreError>;
    /// Records a wrong password, and forgets those before `forget_before` (Unix seconds).
    fn record_login_failure(
        &self,
        failure: LoginFailure<'_>,
        at: i64,
        forget_before: i64,
    ) -> Result<(), StoreError>;
    /// Wrong passwords since `since` (Unix seconds), counted five ways (`failure.known` is
    /// not read).
    fn login_failures(
        &self,
        failure: LoginFailure<'_>,
        since: i64,
    ) -> Result<LoginFailures, StoreError>;
    /// Refused enrollment codes since `since` (Unix seconds).
    fn enrollment_failures(
        &self,
        address: &str,
        code_hash: &str,
        since: i64,
    ) -> Result<EnrollmentFailures, StoreError>;
    /// Records a refused enrollment code, and forgets those before `forget_before`.
    fn record_enrollment_failure(
        &self,
        address: &str,
        code_hash: &str,
        at: i64,
        forget_before: i64,
    ) -> Result<(), StoreError>;
    /// Whether the browser whose cookie hashes to `token_hash` logged in to `login` before.
    fn known_browser(&self, token_hash: &str, login: &str) -> Result<bool, StoreError>;
    /// Remembers a browser an account logged in from; an account keeps its newest
    /// [`KNOWN_BROWSERS_PER_ACCOUNT`].
    fn remember_browser(&self, token_hash: &str, login: &str, at: i64) -> Result<(), StoreError>;
    /// Disables (or enables again) an account; either way its sessions end.
    fn set_account_disabled(
        &self,
        login: &str,
        disabled: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Deletes an account and its sessions (the audit log keeps its rows).
    fn delete_account(&self, login: &str) -> Result<(), StoreError>;
    fn accounts(&self) -> Result<Vec<crate::accounts::Account>, StoreError>;
    fn create_session(
        &self,
        token_hash: &str,
        login: &str,
        csrf: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The account and CSRF token of a live session.
    fn session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(crate::accounts::Account, String)>, StoreError>;
    fn end_session(&self, token_hash: &str) -> Result<(), StoreError>;
    fn audit(
        &self,
        login: &str,
        campaign: Option<&str>,
        action: &str,
        detail: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The newest `limit` lines, newest first.
    /// Adds `times` to the row of `action` from `address` by `login` written since `since`, or
    /// writes one; its detail then says how many times in all.
    #[allow(clippy::too_many_arguments)]
    fn audit_repeated(
        &self,
        login: &str,
        campaign: Option<&str>,
        action: &str,
        detail: &str,
        address: &str,
        times: u64,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;
    /// Audit rows matching `filter`, newest first: at most `limit`, after skipping `skip`.
    fn audit_search(
        &self,
        filter: &AuditFilter,
        limit: usize,
        skip: usize,
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// How many audit rows match `filter`.
    fn audit_count(&self, filter: &AuditFilter) -> Result<u64, StoreError>;
}
