//! One campaign's store — its places, households, devices, chains and events, sealed answers
//! and everything the centre's pages keep about it — written once in the SQL both databases
//! speak ([`super::sql`]) and run on SQLite (one file per campaign) or PostgreSQL (one schema
//! per campaign) by its [`Backend`].
//!
//! This file holds the store itself and routes the [`Store`] trait to a file per concern:
//! `setup` (import, forms, enrollment, devices), `device_reads` (assignment, chain head,
//! earlier steps), `ingest` (a batch, and a supervisor carrying a refused event over),
//! `supervision` (progress, daily counts, refused events, reassignment), `alerts`,
//! `reconciliation`, `backcheck` and `index` (the ministry's work). Each is SQL over a [`Tx`]
//! and knows nothing of HTTP or of which database runs it.

use chrono::{DateTime, NaiveDate, Utc};
use std::{collections::BTreeMap, sync::Mutex};
use sync_protocol::{
    api::ChainHead,
    assignment::{
        AssignedHousehold, AssignedVillage, CampaignInfo, CarriedOver, MovedAway, Place,
        Resolution, ResolvedRejection, Timeline, RESOLVED_MAX,
    },
    batch::{BatchHash, VerifiedBatch},
    keys::{MinistryPublicKey, PublicKey},
    lifecycle::{HouseholdStatus, Rules},
    receipt::{OutcomeStatus, Receipt},
    DeviceTime, EventBody, PROTOCOL_VERSION,
};
use uuid::Uuid;

use super::sql::{
    params, params_from_iter, Backend, BackendExt, Dialect, OptionalExtension, Row, ToVal, Tx, Val,
};
use crate::domain::{self, CampaignRules, HouseholdFacts, HouseholdView};
use crate::progress::{Dated, DayRule};
use crate::store::*;

mod alerts;
mod backcheck;
mod device_reads;
mod index;
mod ingest;
mod reconciliation;
mod setup;
mod supervision;

use device_reads::chain_head_in;
use setup::load_campaign;
use supervision::{count_days_again, DAY_RULE};

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// How long the campaign's row is trusted once read: another intake process may add a form
/// version (which changes the one new sheets are keyed with); everything else in it is fixed
/// at import.
const CAMPAIGN_FRESH: std::time::Duration = std::time::Duration::from_secs(2);

pub struct SqlStore {
    backend: Box<dyn Backend>,
    /// The campaign's row, and when it was read.
    campaign: Mutex<Option<(CampaignRecord, std::time::Instant)>>,
    /// The references of the campaign's form versions this process has read (see
    /// [`ingest::KnownForms`]).
    forms: std::sync::Arc<ingest::KnownForms>,
    /// The keys of the devices this process has seen (see [`Store::enrolled_key`]).
    devices: setup::KnownDevices,
}

impl SqlStore {
    pub fn new(backend: Box<dyn Backend>) -> SqlStore {
        SqlStore {
            backend,
            campaign: Mutex::new(None),
            forms: Default::default(),
            devices: Default::default(),
        }
    }

    /// The store over `backend` (migrated), its daily counts brought to this release's
    /// [`DAY_RULE`](supervision::DAY_RULE) first: what the stores' constructors return.
    pub fn open(backend: Box<dyn Backend>) -> Result<SqlStore, StoreError> {
        let store = SqlStore::new(backend);
        let rule: Option<i64> = store.read(|c| {
            c.query_row("SELECT rule FROM daily_counts_rule", [], |r| r.get(0))
                .optional()
        })?;
        if rule != Some(DAY_RULE) {
            store.write(count_days_again)?;
        }
        Ok(store)
    }

    fn read<T: Send>(
        &self,
        f: impl FnOnce(Tx) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        self.backend.read(f)
    }

    fn write<T: Send + 'static>(
        &self,
        f: impl Fn(Tx) -> Result<T, StoreError> + Send + Sync + 'static,
    ) -> Result<T, StoreError> {
        self.backend.write(f)
    }
}

/// A time the centre wrote (`received_at`).
fn parse_received(t: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("received at {t:?}: {e}")))
}

impl Store for SqlStore {
    fn import_campaign(
        &self,
        c: &Campaign,
        source: &str,
        forms: &[crate::form_files::StoredForm],
        now: DateTime<Utc>,
    ) -> Result<ImportSummary, StoreError> {
        setup::import_campaign(self, c, source, forms, now)
    }

    fn add_form(
        &self,
        form: &crate::form_files::StoredForm,
        current: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        setup::add_form(self, form, current, now)
    }

    fn publish(&self, figures: &str, by: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        index::publish(self, figures, by, now)
    }

    fn withdraw_publication(&self, by: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        index::withdraw_publication(self, by, now)
    }

    fn publication(&self) -> Result<Option<(String, String)>, StoreError> {
        index::publication(self)
    }

    fn forms(&self) -> Result<Vec<crate::form_files::StoredForm>, StoreError> {
        setup::forms(self)
    }

    fn campaign(&self) -> Result<CampaignRecord, StoreError> {
        setup::campaign(self)
    }

    fn issue_enrollment_code(
        &self,
        enumerator: &str,
        code_hash: &str,
        expires_at: DateTime<Utc>,
        issued_by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        setup::issue_enrollment_code(self, enumerator, code_hash, expires_at, issued_by, now)
    }

    fn enroll(
        &self,
        code_hash: &str,
        public_key: &PublicKey,
        label: &str,
        now: DateTime<Utc>,
    ) -> Result<(DeviceRecord, ChainHead), StoreError> {
        setup::enroll(self, code_hash, public_key, label, now)
    }

    fn device(&self, id: Uuid) -> Result<Option<DeviceRecord>, StoreError> {
        setup::device(self, id)
    }

    fn revoke_device(&self, id: Uuid, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        setup::revoke_device(self, id, reason, now)
    }

    fn enumerators(&self) -> Result<Vec<(String, String)>, StoreError> {
        setup::enumerators(self)
    }

    fn place_names(&self) -> Result<HashMap<String, String>, StoreError> {
        supervision::place_names(self)
    }

    fn stored_receipt(
        &self,
        enumerator: &str,
        seq: u64,
        hash: &BatchHash,
    ) -> Result<Option<SignedDocument>, StoreError> {
        device_reads::stored_receipt(self, enumerator, seq, hash)
    }

    fn assignment(&self, enumerator: &str) -> Result<AssignmentData, StoreError> {
        device_reads::assignment(self, enumerator)
    }

    fn chain_head(&self, enumerator: &str) -> Result<ChainHead, StoreError> {
        device_reads::chain_head(self, enumerator)
    }

    fn earlier_steps(
        &self,
        enumerator: &str,
        device: &str,
        limit: usize,
    ) -> Result<Vec<(String, String, String, String)>, StoreError> {
        device_reads::earlier_steps(self, enumerator, device, limit)
    }

    fn reassign(
        &self,
        target: &ReassignTarget,
        to: &str,
        by: &str,
        reason: &str,
        seen: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Reassigned, StoreError> {
        supervision::reassign(self, target, to, by, reason, seen, now)
    }

    fn recent_moves(&self, limit: usize) -> Result<Vec<MoveRecord>, StoreError> {
        supervision::recent_moves(self, limit)
    }

    fn move_candidates(&self, target: &ReassignTarget) -> Result<Vec<MoveCandidate>, StoreError> {
        let target = target.clone();
        self.read(move |tx| supervision::move_candidates(tx, &target))
    }

    fn enrolled_key(&self, id: Uuid) -> Result<Option<EnrolledKey>, StoreError> {
        setup::enrolled_key(self, &self.devices, id)
    }

    fn ingest(
        &self,
        verified: &VerifiedBatch,
        signer: &EnrolledKey,
        frame: &[u8],
        now: DateTime<Utc>,
        intake_key: &DeviceKey,
    ) -> Result<IngestResult, StoreError> {
        let result = self.ingest_batch(verified, signer, frame, now, intake_key)?;
        if let IngestResult::UnknownDevice = result {
            // Not what this process had read (a store restored from an older copy).
            self.devices.forget(verified.batch.device);
        }
        Ok(result)
    }

    fn devices(
        &self,
    ) -> Result<Vec<(Uuid, String, String, String, bool, Option<String>)>, StoreError> {
        setup::devices(self)
    }

    fn progress(&self, districts: Option<&[String]>) -> Result<Vec<VillageProgress>, StoreError> {
        supervision::progress(self, districts)
    }

    fn daily_counts(&self, districts: Option<&[String]>) -> Result<Vec<DailyCount>, StoreError> {
        supervision::daily_counts(self, districts)
    }

    fn rejected_events(
        &self,
        districts: Option<&[String]>,
    ) -> Result<Vec<RejectedRecord>, StoreError> {
        supervision::rejected_events(self, districts)
    }

    fn resolve_rejected(
        &self,
        event: &str,
        decision: Resolution,
        note: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<RejectedRecord, StoreError> {
        supervision::resolve_rejected(self, event, decision, note, by, now)
    }

    fn household_by_serial(&self, serial: &str) -> Result<Option<String>, StoreError> {
        supervision::household_by_serial(self, serial)
    }

    fn household_place(
        &self,
        id: &str,
    ) -> Result<Option<(String, String, String, bool)>, StoreError> {
        supervision::household_place(self, id)
    }

    fn villages_with_enumerators(
        &self,
    ) -> Result<Vec<(String, String, String, Vec<String>)>, StoreError> {
        supervision::villages_with_enumerators(self)
    }

    fn event_facts(&self) -> Result<Vec<EventFacts>, StoreError> {
        reconciliation::event_facts(self)
    }

    fn store_ministry_key(&self, sealed: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        index::store_ministry_key(self, sealed, now)
    }

    fn ministry_key(&self) -> Result<Option<String>, StoreError> {
        index::ministry_key(self)
    }

    fn sealed_forms(&self, household: Option<&str>) -> Result<Vec<SealedForm>, StoreError> {
        reconciliation::sealed_forms(self, household)
    }

    fn expected_forms(&self) -> Result<Vec<ExpectedForm>, StoreError> {
        reconciliation::expected_forms(self)
    }

    fn household_review(&self, household: &str) -> Result<Option<HouseholdReview>, StoreError> {
        reconciliation::household_review(self, household)
    }

    fn record_paper(
        &self,
        batch: &str,
        serials: &[String],
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        reconciliation::record_paper(self, batch, serials, by, now)
    }

    fn paper_serials(&self) -> Result<Vec<String>, StoreError> {
        reconciliation::paper_serials(self)
    }

    fn paper_has_arrived(&self, serial: &str) -> Result<bool, StoreError> {
        reconciliation::paper_has_arrived(self, serial)
    }

    fn paper_batches(&self, limit: usize) -> Result<Vec<PaperBatch>, StoreError> {
        reconciliation::paper_batches(self, limit)
    }

    fn paper_batch(&self, batch: &str) -> Result<Option<PaperBatch>, StoreError> {
        reconciliation::paper_batch(self, batch)
    }

    fn withdraw_paper(&self, batch: &str) -> Result<Vec<String>, StoreError> {
        reconciliation::withdraw_paper(self, batch)
    }

    fn record_backcheck_outcome(
        &self,
        household: &str,
        outcome: &str,
        note: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        backcheck::record_backcheck_outcome(self, household, outcome, note, by, now)
    }

    fn backcheck_outcomes(&self) -> Result<Vec<BackcheckOutcome>, StoreError> {
        backcheck::backcheck_outcomes(self)
    }

    fn corrected_households(&self) -> Result<HashMap<String, String>, StoreError> {
        reconciliation::corrected_households(self)
    }

    fn record_ministry_correction(
        &self,
        household: &str,
        sealed: &[u8],
        reason: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        reconciliation::record_ministry_correction(self, household, sealed, reason, by, now)
    }

    fn record_review(
        &self,
        household: &str,
        decision: &str,
        reason: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        reconciliation::record_review(self, household, decision, reason, by, now)
    }

    fn reviews(&self) -> Result<BTreeMap<String, (String, String, String, String)>, StoreError> {
        reconciliation::reviews(self)
    }

    fn record_backcheck_draw(
        &self,
        seed: &str,
        share_percent: u32,
        min_per_enumerator: u32,
        households: &[String],
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        backcheck::record_backcheck_draw(
            self,
            seed,
            share_percent,
            min_per_enumerator,
            households,
            by,
            now,
        )
    }

    fn backcheck_draws(&self) -> Result<Vec<BackcheckDraw>, StoreError> {
        backcheck::backcheck_draws(self)
    }

    fn households_to_visit(&self, ids: &[String]) -> Result<Vec<HouseholdToVisit>, StoreError> {
        backcheck::households_to_visit(self, ids)
    }

    fn record_alert(&self, a: &Alert, now: DateTime<Utc>) -> Result<(), StoreError> {
        alerts::record_alert(self, a, now)
    }

    fn kept_alerts(&self) -> Result<Vec<crate::store::KeptAlert>, StoreError> {
        alerts::kept_alerts(self)
    }

    fn alerts(&self) -> Result<Vec<Alert>, StoreError> {
        alerts::alerts(self)
    }

    fn household_statuses(&self) -> Result<BTreeMap<String, HouseholdStatus>, StoreError> {
        supervision::household_statuses(self)
    }

    fn events(&self) -> Result<Vec<EventRecord>, StoreError> {
        reconciliation::events(self)
    }

    fn set_target(
        &self,
        level: forms::index::Level,
        area: &str,
        percent: Option<f64>,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        index::set_target(self, level, area, percent, by, now)
    }

    fn areas(&self) -> Result<Vec<(forms::index::Level, String)>, StoreError> {
        index::areas(self)
    }

    fn area_parents(
        &self,
    ) -> Result<Vec<(forms::index::Level, String, Option<String>)>, StoreError> {
        index::area_parents(self)
    }

    fn targets(&self) -> Result<Vec<(forms::index::Level, String, f64)>, StoreError> {
        index::targets(self)
    }

    fn keep_index(&self, figures: &str, by: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        index::keep_index(self, figures, by, now)
    }

    fn kept_index(&self) -> Result<Option<(String, String)>, StoreError> {
        index::kept_index(self)
    }
}
