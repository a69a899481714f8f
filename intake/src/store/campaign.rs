//! One campaign's store — its places, households, devices, chains and events, sealed answers
//! and everything the centre's pages keep about it — written once in the SQL both databases
//! speak ([`super::sql`]) and run on SQLite (one file per campaign) or PostgreSQL (one schema
//! per campaign) by its [`Backend`].

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

mod ingest;

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
}

impl SqlStore {
    pub fn new(backend: Box<dyn Backend>) -> SqlStore {
        SqlStore {
            backend,
            campaign: Mutex::new(None),
        }
    }

    /// The store over `backend` (migrated), its daily counts brought to this release's
    /// [`DAY_RULE`] first: what the stores' constructors return.
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

/// The rule the kept daily counts are dated by (`daily_counts_rule`): counts kept under
/// another — before there was one, the date the tablet wrote — are counted again from the
/// events when the store is opened. 1: [`DayRule`].
const DAY_RULE: i64 = 1;

/// A time the centre wrote (`received_at`).
fn parse_received(t: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(t)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("received at {t:?}: {e}")))
}

/// Every accepted household event counted again on its day by [`DayRule`] (one transaction;
/// on PostgreSQL the table is locked first, so that no other process's ingest adds to the
/// counts between the reading of the events and the writing of the counts).
fn count_days_again(tx: Tx) -> Result<(), StoreError> {
    if tx.dialect() == Dialect::Postgres {
        tx.execute("LOCK TABLE daily_counts IN EXCLUSIVE MODE", [])?;
    }
    // Another process may have counted them while this one waited.
    let rule: Option<i64> = tx
        .query_row("SELECT rule FROM daily_counts_rule", [], |r| r.get(0))
        .optional()?;
    if rule == Some(DAY_RULE) {
        return Ok(());
    }
    tx.execute("DELETE FROM daily_counts", [])?;
    // A store not imported yet has no events to count.
    if let Some(campaign) = load_campaign(tx).map(Some).or_else(|e| match e {
        StoreError::NoCampaign => Ok(None),
        e => Err(e),
    })? {
        let days = DayRule::of(&campaign.info);
        let outcome = tx.dialect().json_text("e.body", &["body", "outcome"]);
        let rows = tx
            .prepare(&format!(
                "SELECT e.enumerator_id, h.village_id, CASE WHEN e.kind = 'visit_outcome' THEN {outcome} ELSE e.kind END,
                        e.occurred_at, e.received_at
                 FROM events e JOIN households h ON h.id = e.household_id WHERE e.status = 'accepted'"
            ))?
            .query_map([], |r| {
                Ok((r.get::<String>(0)?, r.get::<String>(1)?, r.get::<Option<String>>(2)?, r.get::<String>(3)?, r.get::<String>(4)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut counts: BTreeMap<(NaiveDate, String, String, String), (i64, i64)> = BTreeMap::new();
        for (enumerator, village, kind, occurred_at, received_at) in rows {
            let device = DateTime::parse_from_rfc3339(&occurred_at)
                .map_err(|e| StoreError::Corrupt(format!("occurred at {occurred_at:?}: {e}")))?;
            let dated = days.date(device, parse_received(&received_at)?);
            let n = counts
                .entry((dated.day, enumerator, village, kind.unwrap_or_default()))
                .or_default();
            n.0 += 1;
            n.1 += i64::from(dated.by_receipt);
        }
        let mut insert = tx.prepare_cached(
            "INSERT INTO daily_counts (day, enumerator_id, village_id, kind, n, by_receipt) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for ((day, enumerator, village, kind), (n, by_receipt)) in counts {
            insert.execute(params![
                day.to_string(),
                enumerator,
                village,
                kind,
                n,
                by_receipt
            ])?;
        }
    }
    tx.execute("DELETE FROM daily_counts_rule", [])?;
    tx.execute(
        "INSERT INTO daily_counts_rule (rule) VALUES (?1)",
        [DAY_RULE],
    )?;
    Ok(())
}

fn load_campaign(conn: Tx) -> Result<CampaignRecord, StoreError> {
    let row = conn
        .query_row(
            "SELECT id, name, timezone, form, replacement_allowed, verification_required, timeline, ministry_public_key FROM campaign",
            [],
            |r| {
                Ok((
                    r.get::<String>(0)?,
                    r.get::<String>(1)?,
                    r.get::<String>(2)?,
                    r.get::<String>(3)?,
                    r.get::<bool>(4)?,
                    r.get::<bool>(5)?,
                    r.get::<String>(6)?,
                    r.get::<String>(7)?,
                ))
            },
        )
        .optional()?
        .ok_or(StoreError::NoCampaign)?;
    let timeline: Timeline =
        serde_json::from_str(&row.6).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let ministry_public_key =
        MinistryPublicKey::from_b64(&row.7).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(CampaignRecord {
        info: CampaignInfo {
            id: row.0,
            name: row.1,
            timezone: row.2,
            timeline,
            form: row.3,
            replacement_allowed: row.4,
            verification_required: row.5,
        },
        ministry_public_key,
    })
}

fn chain_head_in(conn: Tx, enumerator: &str) -> Result<ChainHead, StoreError> {
    let row: Option<(u64, String)> = conn
        .query_row(
            "SELECT last_seq, last_hash FROM chains WHERE enumerator_id = ?1",
            [enumerator],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match row {
        None => ChainHead {
            enumerator: enumerator.into(),
            seq: 0,
            hash: BatchHash::GENESIS,
        },
        Some((seq, hash)) => ChainHead {
            enumerator: enumerator.into(),
            seq,
            hash: BatchHash::from_hex(&hash).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        },
    })
}

fn device_from_row(
    r: &Row,
) -> Result<(String, String, String, String, Option<String>), StoreError> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn device_record(
    row: (String, String, String, String, Option<String>),
) -> Result<DeviceRecord, StoreError> {
    Ok(DeviceRecord {
        id: Uuid::parse_str(&row.0).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        enumerator: row.1,
        public_key: PublicKey::from_b64(&row.2).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        label: row.3,
        revoked: row.4.is_some(),
    })
}

/// The references of every form version the campaign has.
fn form_references(tx: Tx) -> Result<Vec<String>, StoreError> {
    Ok(tx
        .prepare_cached("SELECT reference FROM forms")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?)
}

/// Stores a form version once; the same reference with other content is refused (a changed
/// form needs a new version, or sheets sealed under it could not be read back).
/// A campaign keeps versions of one form: `id@version` references share their id.
fn same_questionnaire(reference: &str, campaign_form: &str) -> Result<(), StoreError> {
    let id_of = |r: &str| r.split('@').next().unwrap_or("").to_string();
    if id_of(reference) == id_of(campaign_form) {
        Ok(())
    } else {
        Err(StoreError::FormOfAnotherCampaign {
            reference: reference.to_string(),
            current: campaign_form.to_string(),
        })
    }
}

fn insert_form(tx: Tx, form: &crate::form_files::StoredForm, now: &str) -> Result<(), StoreError> {
    let stored: Option<String> = tx
        .query_row(
            "SELECT sha256 FROM forms WHERE reference = ?1",
            [&form.reference],
            |r| r.get(0),
        )
        .optional()?;
    match stored {
        Some(sha) if sha == form.sha256 => Ok(()),
        Some(_) => Err(StoreError::FormChanged {
            reference: form.reference.clone(),
        }),
        None => {
            tx.execute(
                "INSERT INTO forms VALUES (?1, ?2, ?3, ?4)",
                params![form.reference, form.sha256, form.definition, now],
            )?;
            Ok(())
        }
    }
}

impl Store for SqlStore {
    fn import_campaign(
        &self,
        c: &Campaign,
        source: &str,
        forms: &[crate::form_files::StoredForm],
        now: DateTime<Utc>,
    ) -> Result<ImportSummary, StoreError> {
        let now_s = rfc3339(now);
        let (c, source, forms) = (c.clone(), source.to_string(), forms.to_vec());
        self.write(move |tx| {
            if let Some(existing) = tx.query_row("SELECT id FROM campaign", [], |r| r.get::<String>(0)).optional()? {
                return Err(StoreError::CampaignAlreadyImported(existing));
            }
            if !forms.iter().any(|f| f.reference == c.form) {
                return Err(StoreError::FormMissing(c.form.clone()));
            }
            for f in &forms {
                same_questionnaire(&f.reference, &c.form)?;
                insert_form(tx, f, &now_s)?;
            }
            tx.execute(
                "INSERT INTO campaign VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    c.id,
                    c.name,
                    c.timezone,
                    c.form,
                    c.replacement_allowed,
                    c.verification_required,
                    serde_json::to_string(&c.timeline).expect("timeline serializes"),
                    c.ministry_public_key,
                    source,
                    now_s
                ],
            )?;
            for e in &c.enumerators {
                tx.execute("INSERT INTO enumerators VALUES (?1, ?2)", params![e.id, e.name])?;
            }
            let covering = c.village_enumerators();
            let mut summary = ImportSummary { villages: 0, households: 0, reserve: 0, enumerators: c.enumerators.len(), supervisors: c.supervisors.len() };
            let mut insert_household = tx.prepare(
                "INSERT INTO households (id, village_id, serial, name, address, reserve_rank, enumerator_id, status, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for p in &c.provinces {
                tx.execute("INSERT INTO provinces VALUES (?1, ?2)", params![p.id, p.name])?;
                for d in &p.districts {
                    tx.execute("INSERT INTO districts VALUES (?1, ?2, ?3)", params![d.id, p.id, d.name])?;
                    for cm in &d.communes {
                        tx.execute("INSERT INTO communes VALUES (?1, ?2, ?3)", params![cm.id, d.id, cm.name])?;
                        for v in &cm.villages {
                            tx.execute("INSERT INTO villages VALUES (?1, ?2, ?3)", params![v.id, cm.id, v.name])?;
                            summary.villages += 1;
                            let enumerator = covering.get(v.id.as_str()).ok_or_else(|| StoreError::Corrupt(format!("village {} has no enumerator", v.id)))?;
                            for h in &v.households {
                                insert_household.execute(params![h.id, v.id, h.serial, h.name, h.address, None::<u32>, enumerator, "assigned", now_s])?;
                                summary.households += 1;
                            }
                            for (rank, h) in v.reserve.iter().enumerate() {
                                insert_household.execute(params![h.id, v.id, h.serial, h.name, h.address, rank as u32 + 1, enumerator, "reserve", now_s])?;
                                summary.reserve += 1;
                            }
                        }
                    }
                }
            }
            for s in &c.supervisors {
                tx.execute("INSERT INTO supervisors VALUES (?1, ?2)", params![s.login, s.name])?;
                for d in &s.districts {
                    tx.execute("INSERT INTO supervisor_districts VALUES (?1, ?2)", params![s.login, d])?;
                }
            }
            Ok(summary)
        })
    }

    fn add_form(
        &self,
        form: &crate::form_files::StoredForm,
        current: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let form = form.clone();
        self.write(move |tx| {
            let campaign_form: String = tx
                .query_row("SELECT form FROM campaign", [], |r| r.get(0))
                .optional()?
                .ok_or(StoreError::NoCampaign)?;
            same_questionnaire(&form.reference, &campaign_form)?;
            insert_form(tx, &form, &rfc3339(now))?;
            if current && tx.execute("UPDATE campaign SET form = ?1", [&form.reference])? == 0 {
                return Err(StoreError::NoCampaign);
            }
            Ok(())
        })?;
        // The campaign row changed: read it again next time.
        *self.campaign.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    fn publish(&self, figures: &str, by: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let (figures, by, now) = (figures.to_string(), by.to_string(), rfc3339(now));
        self.write(move |tx| {
            tx.execute("UPDATE publications SET withdrawn_by = ?1, withdrawn_at = ?2 WHERE withdrawn_at IS NULL", params![by, now])?;
            tx.execute("INSERT INTO publications (figures, published_by, published_at) VALUES (?1, ?2, ?3)", params![figures, by, now])?;
            Ok(())
        })
    }

    fn withdraw_publication(&self, by: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let (by, now) = (by.to_string(), rfc3339(now));
        self.write(move |tx| Ok(tx.execute("UPDATE publications SET withdrawn_by = ?1, withdrawn_at = ?2 WHERE withdrawn_at IS NULL", params![by, now])? > 0))
    }

    fn publication(&self) -> Result<Option<(String, String)>, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT figures, published_at FROM publications WHERE withdrawn_at IS NULL ORDER BY id DESC LIMIT 1")?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
    }

    fn forms(&self) -> Result<Vec<crate::form_files::StoredForm>, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT reference, sha256, definition FROM forms ORDER BY added_at, reference",
            )?
            .query_map([], |r| {
                Ok(crate::form_files::StoredForm {
                    reference: r.get(0)?,
                    sha256: r.get(1)?,
                    definition: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn campaign(&self) -> Result<CampaignRecord, StoreError> {
        if let Some((c, at)) = self
            .campaign
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            if at.elapsed() < CAMPAIGN_FRESH {
                return Ok(c);
            }
        }
        let c = self.read(load_campaign)?;
        *self.campaign.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((c.clone(), std::time::Instant::now()));
        Ok(c)
    }

    fn issue_enrollment_code(
        &self,
        enumerator: &str,
        code_hash: &str,
        expires_at: DateTime<Utc>,
        issued_by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (enumerator, code_hash, issued_by) = (
            enumerator.to_string(),
            code_hash.to_string(),
            issued_by.to_string(),
        );
        self.write(move |tx| {
            let known = tx.prepare("SELECT 1 FROM enumerators WHERE id = ?1")?.exists([&enumerator])?;
            if !known {
                return Err(StoreError::UnknownEnumerator(enumerator.clone()));
            }
            // A new code ends the enumerator's earlier unused ones: a reissued (or reloaded and
            // resent) code leaves one that works, not several.
            tx.execute(
                "UPDATE enrollment_codes SET expires_at = ?1 WHERE enumerator_id = ?2 AND used_at IS NULL AND expires_at > ?1",
                params![now.timestamp(), enumerator],
            )?;
            tx.execute(
                "INSERT INTO enrollment_codes (code_hash, enumerator_id, issued_by, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![code_hash, enumerator, issued_by, rfc3339(now), expires_at.timestamp()],
            )?;
            Ok(())
        })
    }

    fn enroll(
        &self,
        code_hash: &str,
        public_key: &PublicKey,
        label: &str,
        now: DateTime<Utc>,
    ) -> Result<(DeviceRecord, ChainHead), StoreError> {
        let (code_hash, public_key, label) =
            (code_hash.to_string(), *public_key, label.to_string());
        self.write(move |tx| {
            let row: Option<(String, i64, Option<String>)> = tx
                .query_row(&format!("SELECT enumerator_id, expires_at, used_at FROM enrollment_codes WHERE code_hash = ?1{}", tx.dialect().for_update()), [&code_hash], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            let Some((enumerator, expires_at, used_at)) = row else {
                return Err(StoreError::Enrollment(EnrollmentRefusal::Invalid));
            };
            if used_at.is_some() {
                // The same device asking again (its answer was lost): the same enrollment.
                let same: Option<(String, String, String, String, Option<String>)> = tx
                    .query_row(
                        "SELECT d.id, d.enumerator_id, d.public_key, d.label, d.revoked_at FROM enrollment_codes c JOIN devices d ON d.id = c.device_id
                         WHERE c.code_hash = ?1 AND d.public_key = ?2 AND d.revoked_at IS NULL",
                        params![&code_hash, public_key.to_b64()],
                        device_from_row,
                    )
                    .optional()?;
                return match same {
                    Some(row) => {
                        let device = device_record(row)?;
                        let head = chain_head_in(tx, &device.enumerator)?;
                        Ok((device, head))
                    }
                    None => Err(StoreError::Enrollment(EnrollmentRefusal::AlreadyUsed)),
                };
            }
            if now.timestamp() >= expires_at {
                return Err(StoreError::Enrollment(EnrollmentRefusal::Expired));
            }
            if tx.prepare("SELECT 1 FROM devices WHERE public_key = ?1")?.exists([public_key.to_b64()])? {
                return Err(StoreError::KeyAlreadyEnrolled);
            }
            let id = Uuid::now_v7();
            let now_s = rfc3339(now);
            tx.execute(
                "UPDATE devices SET revoked_at = ?1, revoked_reason = ?2 WHERE enumerator_id = ?3 AND revoked_at IS NULL",
                params![now_s, format!("replaced by device {id}"), enumerator],
            )?;
            tx.execute(
                "INSERT INTO devices (id, enumerator_id, public_key, label, enrolled_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id.to_string(), enumerator, public_key.to_b64(), label, now_s],
            )?;
            tx.execute("UPDATE enrollment_codes SET used_at = ?1, device_id = ?2 WHERE code_hash = ?3", params![now_s, id.to_string(), code_hash])?;
            let head = chain_head_in(tx, &enumerator)?;
            Ok((DeviceRecord { id, enumerator, public_key, label: label.clone(), revoked: false }, head))
        })
    }

    fn device(&self, id: Uuid) -> Result<Option<DeviceRecord>, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT id, enumerator_id, public_key, label, revoked_at FROM devices WHERE id = ?1")?
                .query_row([id.to_string()], device_from_row)
                .optional()?
                .map(device_record)
                .transpose()
        })
    }

    fn revoke_device(&self, id: Uuid, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let reason = reason.to_string();
        self.write(move |tx| {
            let n = tx.execute(
                "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?1), revoked_reason = COALESCE(revoked_reason, ?2) WHERE id = ?3",
                params![rfc3339(now), reason, id.to_string()],
            )?;
            if n == 0 {
                return Err(StoreError::UnknownDevice(id));
            }
            Ok(())
        })
    }

    fn enumerators(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT id, name FROM enumerators ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn place_names(&self) -> Result<HashMap<String, String>, StoreError> {
        // A commune or village is named with its parent ("Khu phố 2, Phường 2"); where that
        // still repeats (a Phường 2 in two districts), with the level above too.
        self.read(|c| {
            let mut names = HashMap::new();
            for sql in [
                "SELECT id, name, '', '' FROM provinces",
                "SELECT id, name, '', '' FROM districts",
                "SELECT cm.id, cm.name, d.name, p.name FROM communes cm JOIN districts d ON d.id = cm.district_id JOIN provinces p ON p.id = d.province_id",
                "SELECT v.id, v.name, cm.name, d.name FROM villages v JOIN communes cm ON cm.id = v.commune_id JOIN districts d ON d.id = cm.district_id",
            ] {
                let rows = c
                    .prepare(sql)?
                    .query_map([], |r| {
                        Ok((
                            r.get::<String>(0)?,
                            r.get::<String>(1)?,
                            r.get::<String>(2)?,
                            r.get::<String>(3)?,
                        ))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                let short = |name: &str, parent: &str| {
                    if parent.is_empty() {
                        name.to_string()
                    } else {
                        format!("{name}, {parent}")
                    }
                };
                let mut seen: HashMap<String, u32> = HashMap::new();
                for (_, name, parent, _) in &rows {
                    *seen.entry(short(name, parent)).or_default() += 1;
                }
                for (id, name, parent, grandparent) in rows {
                    let named = short(&name, &parent);
                    let named = if seen[&named] > 1 && !grandparent.is_empty() {
                        format!("{named}, {grandparent}")
                    } else {
                        named
                    };
                    names.insert(id, named);
                }
            }
            Ok(names)
        })
    }

    fn stored_receipt(
        &self,
        enumerator: &str,
        seq: u64,
        hash: &BatchHash,
    ) -> Result<Option<SignedDocument>, StoreError> {
        self.read(|c| {
            let receipt: Option<String> = c
                .prepare_cached("SELECT receipt FROM batches WHERE enumerator_id = ?1 AND seq = ?2 AND hash = ?3")?
                .query_row(params![enumerator, seq as i64, hash.to_hex()], |r| r.get(0))
                .optional()?;
            receipt.map(|r| serde_json::from_str(&r).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
        })
    }

    fn assignment(&self, enumerator: &str) -> Result<AssignmentData, StoreError> {
        self.read(|c| {
            let name: String = c
                .query_row("SELECT name FROM enumerators WHERE id = ?1", [enumerator], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::UnknownEnumerator(enumerator.into()))?;
            let mut stmt = c.prepare(
                "SELECT h.id, h.village_id, h.serial, h.name, h.address, h.reserve_rank, h.status, h.carried_from, e.name, h.carried_events
                 FROM households h LEFT JOIN enumerators e ON e.id = h.carried_from
                 WHERE h.enumerator_id = ?1 ORDER BY h.village_id, h.reserve_rank IS NOT NULL, h.reserve_rank, h.id",
            )?;
            let households = stmt
                .query_map([enumerator], |r| {
                    let status: String = r.get(6)?;
                    let carried_from: Option<String> = r.get(7)?;
                    Ok(AssignedHousehold {
                        id: r.get(0)?,
                        village: r.get(1)?,
                        serial: r.get(2)?,
                        name: r.get(3)?,
                        address: r.get(4)?,
                        reserve_rank: r.get(5)?,
                        status: HouseholdStatus::parse(&status).unwrap_or(HouseholdStatus::Reserve),
                        carried_over: match carried_from {
                            Some(id) => Some(CarriedOver { from: Place { id, name: r.get::<Option<String>>(8)?.unwrap_or_default() }, events: r.get(9)? }),
                            None => None,
                        },
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut stmt = c.prepare(
                "SELECT v.id, v.name, c.id, c.name, d.id, d.name, p.id, p.name
                 FROM villages v JOIN communes c ON c.id = v.commune_id JOIN districts d ON d.id = c.district_id JOIN provinces p ON p.id = d.province_id
                 WHERE v.id IN (SELECT DISTINCT village_id FROM households WHERE enumerator_id = ?1) ORDER BY v.id",
            )?;
            let villages = stmt
                .query_map([enumerator], |r| {
                    Ok(AssignedVillage {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        commune: Place { id: r.get(2)?, name: r.get(3)? },
                        district: Place { id: r.get(4)?, name: r.get(5)? },
                        province: Place { id: r.get(6)?, name: r.get(7)? },
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let moved_away = c
                .prepare(
                    "SELECT DISTINCT r.household_id, h.enumerator_id, e.name FROM reassignments r
                     JOIN households h ON h.id = r.household_id JOIN enumerators e ON e.id = h.enumerator_id
                     WHERE r.from_enumerator = ?1 AND h.enumerator_id <> ?1 ORDER BY r.household_id",
                )?
                .query_map([enumerator], |r| Ok(MovedAway { household: r.get(0)?, to: Place { id: r.get(1)?, name: r.get(2)? } }))?
                .collect::<Result<Vec<_>, _>>()?;
            let resolved = c
                .prepare(
                    "SELECT id, resolution, resolution_note FROM events
                     WHERE enumerator_id = ?1 AND code IS NOT NULL AND resolution IS NOT NULL ORDER BY resolved_at DESC, id LIMIT ?2",
                )?
                .query_map(params![enumerator, RESOLVED_MAX as i64], |r| {
                    let (id, decision): (String, String) = (r.get(0)?, r.get(1)?);
                    Ok((id, decision, r.get::<Option<String>>(2)?.unwrap_or_default()))
                })?
                .map(|row| {
                    let (id, decision, note) = row?;
                    Ok(ResolvedRejection {
                        event: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        decision: if decision == "accepted" { Resolution::Accepted } else { Resolution::Dismissed },
                        note,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(AssignmentData { enumerator: Place { id: enumerator.into(), name }, villages, households, moved_away, resolved })
        })
    }

    fn chain_head(&self, enumerator: &str) -> Result<ChainHead, StoreError> {
        self.read(|c| chain_head_in(c, enumerator))
    }

    fn earlier_steps(
        &self,
        enumerator: &str,
        device: &str,
        limit: usize,
    ) -> Result<Vec<(String, String, String, String)>, StoreError> {
        self.read(|c| {
            // Counted: accepted at arrival, or accepted later by a supervisor's decision.
            let mut stmt = c.prepare(
                "SELECT ev.household_id, ev.body, ev.enumerator_id, en.name
                 FROM households h JOIN events ev ON ev.household_id = h.id JOIN enumerators en ON en.id = ev.enumerator_id
                 WHERE h.enumerator_id = ?1 AND ev.device_id <> ?2 AND (ev.status = 'accepted' OR ev.resolution = 'accepted')
                 ORDER BY h.id, ev.occurred_unix, ev.seq, ev.idx LIMIT ?3",
            )?;
            let steps = stmt
                .query_map(params![enumerator, device, limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(steps)
        })
    }

    fn reassign(
        &self,
        target: &ReassignTarget,
        to: &str,
        by: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Reassigned, StoreError> {
        let (target, to, by, reason) = (
            target.clone(),
            to.to_string(),
            by.to_string(),
            reason.to_string(),
        );
        self.write(move |tx| {
            let known: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM enumerators WHERE id = ?1)", [&to], |r| r.get(0))?;
            if !known {
                return Err(StoreError::UnknownEnumerator(to.clone()));
            }
            // (id, enumerator, serial, status)
            let households: Vec<(String, String, String, String)> = match &target {
                ReassignTarget::Village(village) => {
                    let mut stmt = tx.prepare("SELECT id, enumerator_id, serial, status FROM households WHERE village_id = ?1 ORDER BY id")?;
                    let rows = stmt.query_map([village], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<Result<Vec<_>, _>>()?;
                    if rows.is_empty() {
                        return Err(StoreError::UnknownVillage(village.clone()));
                    }
                    rows
                }
                ReassignTarget::Households(ids) => ids
                    .iter()
                    .map(|id| {
                        tx.query_row("SELECT id, enumerator_id, serial, status FROM households WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                            .optional()?
                            .ok_or_else(|| StoreError::UnknownHousehold(id.clone()))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            };
            let finished_status = HouseholdStatus::InParcel.as_str();
            let mut done = Reassigned::default();
            for (household, from, serial, status) in households.iter().filter(|(_, from, ..)| *from != to) {
                if status == finished_status {
                    done.finished.push(serial.clone());
                    continue;
                }
                tx.execute("UPDATE households SET enumerator_id = ?1, updated_at = ?2 WHERE id = ?3", params![to, rfc3339(now), household])?;
                tx.execute(
                    "INSERT INTO reassignments (household_id, from_enumerator, to_enumerator, by_whom, reason, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![household, from, to, by, reason, rfc3339(now)],
                )?;
                done.moved += 1;
            }
            Ok(done)
        })
    }

    fn ingest(
        &self,
        verified: &VerifiedBatch,
        frame: &[u8],
        now: DateTime<Utc>,
        intake_key: &DeviceKey,
    ) -> Result<IngestResult, StoreError> {
        self.ingest_batch(verified, frame, now, intake_key)
    }

    fn devices(
        &self,
    ) -> Result<Vec<(Uuid, String, String, String, bool, Option<String>)>, StoreError> {
        self.read(|c| {
            // The last batch of each device: two tablets of one enumerator are told apart by
            // when each last sent work.
            let mut stmt = c.prepare(
                "SELECT d.id, d.enumerator_id, d.label, d.enrolled_at, d.revoked_at IS NOT NULL,
                        (SELECT MAX(b.received_at) FROM batches b WHERE b.enumerator_id = d.enumerator_id AND b.device_id = d.id)
                 FROM devices d ORDER BY d.enumerator_id, d.enrolled_at",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
                .collect::<Result<Vec<(String, String, String, String, bool, Option<String>)>, _>>()?;
            rows.into_iter()
                .map(|(id, e, l, at, revoked, last)| Ok((Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?, e, l, at, revoked, last)))
                .collect()
        })
    }

    fn progress(&self, districts: Option<&[String]>) -> Result<Vec<VillageProgress>, StoreError> {
        let districts = districts.map(|d| d.to_vec());
        self.read(move |c| {
            // Counted from the (village, enumerator, status) index first, named afterwards; a
            // supervisor's districts narrow the villages before anything is counted.
            let scope = match &districts {
                Some(list) => format!(
                    "WHERE village_id IN (SELECT v.id FROM villages v JOIN communes cm ON cm.id = v.commune_id WHERE cm.district_id IN ({}))",
                    if list.is_empty() {
                        "NULL".to_string()
                    } else {
                        (1..=list.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(",")
                    }
                ),
                None => String::new(),
            };
            let mut stmt = c.prepare(&format!(
                "WITH counts AS (SELECT village_id, enumerator_id, status, COUNT(*) AS n FROM households {scope} GROUP BY village_id, enumerator_id, status)
                 SELECT d.id, d.name, cm.id, cm.name, v.id, v.name, e.id, e.name, counts.status, counts.n, ch.last_received_at,
                        EXISTS(SELECT 1 FROM devices dv WHERE dv.enumerator_id = e.id AND dv.revoked_at IS NULL),
                        (SELECT MAX(dc.day) FROM daily_counts dc WHERE dc.village_id = v.id AND dc.enumerator_id = e.id)
                 FROM counts JOIN villages v ON v.id = counts.village_id JOIN communes cm ON cm.id = v.commune_id JOIN districts d ON d.id = cm.district_id
                 JOIN enumerators e ON e.id = counts.enumerator_id LEFT JOIN chains ch ON ch.enumerator_id = e.id
                 ORDER BY d.id, cm.id, v.id, e.id"
            ))?;
            let mut out: Vec<VillageProgress> = Vec::new();
            let params: Vec<&str> = match &districts {
                Some(list) if list.is_empty() => vec![""],
                Some(list) => list.iter().map(String::as_str).collect(),
                None => vec![],
            };
            let mut rows = stmt.query(params_from_iter(params))?;
            while let Some(r) = rows.next()? {
                let district_id: String = r.get(0)?;
                let (village_id, enumerator_id): (String, String) = (r.get(4)?, r.get(6)?);
                let (status, count): (String, u32) = (r.get(8)?, r.get(9)?);
                if !out.last().is_some_and(|p| p.village_id == village_id && p.enumerator_id == enumerator_id) {
                    out.push(VillageProgress {
                        district_id,
                        district: r.get(1)?,
                        commune_id: r.get(2)?,
                        commune: r.get(3)?,
                        village_id,
                        village: r.get(5)?,
                        enumerator_id,
                        enumerator: r.get(7)?,
                        statuses: BTreeMap::new(),
                        last_sync: r.get(10)?,
                        has_device: r.get(11)?,
                        last_field_day: r
                            .get::<Option<String>>(12)?
                            .and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
                    });
                }
                out.last_mut().expect("pushed above").statuses.insert(status, count);
            }
            Ok(out)
        })
    }

    fn daily_counts(&self, districts: Option<&[String]>) -> Result<Vec<DailyCount>, StoreError> {
        let districts = districts.map(|d| d.to_vec());
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT d.day, d.enumerator_id, cm.district_id, d.kind, CAST(SUM(d.n) AS BIGINT), CAST(SUM(d.by_receipt) AS BIGINT)
                 FROM daily_counts d JOIN villages v ON v.id = d.village_id JOIN communes cm ON cm.id = v.commune_id
                 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?, r.get::<String>(2)?, r.get::<String>(3)?, r.get::<u32>(4)?, r.get::<u32>(5)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .filter(|(_, _, d, ..)| districts.as_ref().is_none_or(|list| list.contains(d)))
                .map(|(day, enumerator, _, kind, n, by_receipt)| {
                    Ok(DailyCount {
                        day: day.parse().map_err(|e| StoreError::Corrupt(format!("daily count of {day:?}: {e}")))?,
                        enumerator,
                        kind,
                        n,
                        by_receipt,
                    })
                })
                .collect()
        })
    }

    fn rejected_events(
        &self,
        districts: Option<&[String]>,
    ) -> Result<Vec<RejectedRecord>, StoreError> {
        let districts = districts.map(|d| d.to_vec());
        self.read(move |c| {
            // Every event ever refused (code kept after a resolution): the open ones first.
            let mut stmt = c.prepare(
                "SELECT e.id, e.enumerator_id, en.name, e.household_id, h.name, h.serial, v.name, cm.name, cm.district_id,
                        h.enumerator_id, holder.name, e.kind, e.code, e.reason, e.received_at,
                        e.resolution, e.resolution_note, e.resolved_by, e.resolved_at
                 FROM events e LEFT JOIN enumerators en ON en.id = e.enumerator_id
                 LEFT JOIN households h ON h.id = e.household_id LEFT JOIN villages v ON v.id = h.village_id
                 LEFT JOIN communes cm ON cm.id = v.commune_id LEFT JOIN enumerators holder ON holder.id = h.enumerator_id
                 WHERE e.code IS NOT NULL
                 ORDER BY e.resolution IS NOT NULL, e.received_at DESC, e.enumerator_id, e.seq DESC, e.idx LIMIT 2000",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    let enumerator: String = r.get(1)?;
                    let holder: Option<String> = r.get(9)?;
                    Ok(RejectedRecord {
                        event: r.get(0)?,
                        enumerator_name: r.get::<Option<String>>(2)?.unwrap_or_else(|| enumerator.clone()),
                        household: r.get(3)?,
                        household_name: r.get(4)?,
                        serial: r.get(5)?,
                        village_name: r.get(6)?,
                        commune_name: r.get(7)?,
                        district_id: r.get(8)?,
                        holder: match holder {
                            Some(id) if id != enumerator => Some(Place { id, name: r.get::<Option<String>>(10)?.unwrap_or_default() }),
                            _ => None,
                        },
                        enumerator,
                        kind: r.get(11)?,
                        code: r.get::<Option<String>>(12)?.unwrap_or_default(),
                        reason: r.get::<Option<String>>(13)?.unwrap_or_default(),
                        received_at: r.get(14)?,
                        resolution: r.get(15)?,
                        resolution_note: r.get(16)?,
                        resolved_by: r.get(17)?,
                        resolved_at: r.get(18)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows.into_iter().filter(|r| districts.as_ref().is_none_or(|d| r.district_id.as_ref().is_some_and(|id| d.contains(id)))).collect())
        })
    }

    fn resolve_rejected(
        &self,
        event: &str,
        decision: Resolution,
        note: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<RejectedRecord, StoreError> {
        self.carry_over(event, decision, note, by, now)
    }

    fn household_by_serial(&self, serial: &str) -> Result<Option<String>, StoreError> {
        let serial = serial.to_string();
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT id FROM households WHERE serial = ?1")?
                    .query_row([serial], |r| r.get(0))
                    .optional()?,
            )
        })
    }

    fn household_place(
        &self,
        id: &str,
    ) -> Result<Option<(String, String, String, bool)>, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT h.serial, h.village_id, cm.district_id, h.has_answers
                 FROM households h JOIN villages v ON v.id = h.village_id JOIN communes cm ON cm.id = v.commune_id WHERE h.id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?)
        })
    }

    fn villages_with_enumerators(
        &self,
    ) -> Result<Vec<(String, String, String, Vec<String>)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT v.id, v.name || ', ' || cm.name, cm.district_id, {}
                 FROM villages v JOIN communes cm ON cm.id = v.commune_id JOIN households h ON h.village_id = v.id
                 GROUP BY v.id, v.name, cm.name, cm.district_id ORDER BY v.id",
                c.dialect().distinct_list("h.enumerator_id")
            ))?;
            let names = self.place_names()?;
            let rows = stmt
                .query_map([], |r| {
                    let list: String = r.get(3)?;
                    let id: String = r.get(0)?;
                    let name = names.get(&id).cloned().map_or_else(|| r.get(1), Ok)?;
                    Ok((id, name, r.get(2)?, list.split(',').map(String::from).collect()))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn event_facts(&self) -> Result<Vec<EventFacts>, StoreError> {
        self.read(|c| {
            let d = c.dialect();
            let mut stmt = c.prepare(&format!(
                "SELECT enumerator_id, household_id, kind, occurred_unix, occurred_at, received_at, {}, {}, {}, {}, {}
                 FROM events WHERE status = 'accepted' ORDER BY enumerator_id, seq, idx",
                d.json_integer("body", &["body", "keying_seconds"]),
                d.json_text("body", &["body", "outcome"]),
                d.json_integer("body", &["body", "mismatches"]),
                d.json_integer("body", &["body", "keyer_errors"]),
                d.json_integer("body", &["body", "verifier_errors"]),
            ))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(EventFacts {
                        enumerator: r.get(0)?,
                        household: r.get(1)?,
                        kind: r.get(2)?,
                        occurred_unix: r.get(3)?,
                        occurred_at: r.get(4)?,
                        received_at: r.get(5)?,
                        keying_seconds: r.get(6)?,
                        outcome: r.get(7)?,
                        double_keying: match (r.get::<Option<u32>>(8)?, r.get::<Option<u32>>(9)?, r.get::<Option<u32>>(10)?) {
                            (Some(mismatches), keyer, verifier) => Some(crate::store::DoubleKeyingCounts {
                                mismatches,
                                keyer_errors: keyer.unwrap_or(0),
                                verifier_errors: verifier.unwrap_or(0),
                            }),
                            _ => None,
                        },
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn store_ministry_key(&self, sealed: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let sealed = sealed.to_string();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO ministry_key VALUES (1, ?1, ?2) ON CONFLICT(id) DO UPDATE SET sealed = excluded.sealed, stored_at = excluded.stored_at",
                params![sealed, rfc3339(now)],
            )?;
            Ok(())
        })
    }

    fn ministry_key(&self) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT sealed FROM ministry_key WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
    }

    fn sealed_forms(&self, household: Option<&str>) -> Result<Vec<SealedForm>, StoreError> {
        self.read(|c| {
            // One household's through its index, or every household's.
            let mut stmt = c.prepare(&format!(
                "SELECT h.id, h.serial, e.enumerator_id, v.id, cm.id, d.id, d.province_id, e.body, e.device_id, e.seq
                 FROM events e JOIN households h ON h.id = e.household_id
                 JOIN villages v ON v.id = h.village_id JOIN communes cm ON cm.id = v.commune_id JOIN districts d ON d.id = cm.district_id
                 WHERE e.status = 'accepted' AND e.kind IN ('form_transcribed', 'transcription_verified', 'correction') {}
                 ORDER BY h.id, e.received_at, e.enumerator_id, e.seq, e.idx",
                if household.is_some() { "AND e.household_id = ?1" } else { "" }
            ))?;
            let mut out: Vec<SealedForm> = Vec::new();
            let mut rows = match household {
                Some(h) => stmt.query(params![h])?,
                None => stmt.query([])?,
            };
            while let Some(r) = rows.next()? {
                let body: String = r.get(7)?;
                let event: sync_protocol::Event = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let Some(sealed) = event.body.sealed_answers() else { continue };
                let household: String = r.get(0)?;
                let form = SealedForm {
                    household: household.clone(),
                    serial: r.get(1)?,
                    enumerator: r.get(2)?,
                    village: r.get(3)?,
                    commune: r.get(4)?,
                    district: r.get(5)?,
                    province: r.get(6)?,
                    device: r.get(8)?,
                    seq: r.get::<i64>(9)? as u64,
                    sealed: sealed.to_vec(),
                };
                match out.last_mut() {
                    Some(last) if last.household == household => *last = form,
                    _ => out.push(form),
                }
            }
            // The ministry's own corrections, keyed from the paper, win over the device's.
            let mut latest = c.prepare("SELECT household_id, sealed FROM ministry_corrections ORDER BY id")?;
            let corrections: std::collections::HashMap<String, Vec<u8>> = latest.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            for form in &mut out {
                if let Some(sealed) = corrections.get(&form.household) {
                    form.sealed = sealed.clone();
                }
            }
            Ok(out)
        })
    }

    fn expected_forms(&self) -> Result<Vec<ExpectedForm>, StoreError> {
        // Village names as people tell them apart (with the district where a name repeats).
        let names = self.place_names()?;
        self.read(|c| {
            // In the (village, serial) index's order; village names from the small table apart.
            let mut stmt = c.prepare_cached(&format!(
                "SELECT id, serial, enumerator_id, village_id, status, has_answers FROM households {}
                 WHERE status != 'reserve' ORDER BY village_id, serial",
                c.dialect().index_hint("households_reconciliation")
            ))?;
            let rows = stmt
                .query_map([], |r| {
                    let status: String = r.get(4)?;
                    let village: String = r.get(3)?;
                    Ok(ExpectedForm {
                        household: r.get(0)?,
                        serial: r.get(1)?,
                        enumerator: r.get(2)?,
                        village_name: names.get(&village).cloned().unwrap_or_default(),
                        village,
                        status: HouseholdStatus::parse(&status).unwrap_or(HouseholdStatus::Assigned),
                        digital: r.get(5)?,
                    })
                })?
                .collect::<Result<Vec<ExpectedForm>, _>>()?;
            Ok(rows)
        })
    }

    fn household_review(&self, household: &str) -> Result<Option<HouseholdReview>, StoreError> {
        self.read(|c| {
            let Some((serial, village, enumerator)) = c
                .query_row(
                    "SELECT serial, village_id, enumerator_id FROM households WHERE id = ?1",
                    [household],
                    |r| Ok((r.get::<String>(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?
            else {
                return Ok(None);
            };
            // Paper serials are kept as normalized when recorded.
            let paper_arrived: bool = c.query_row(
                "SELECT EXISTS(SELECT 1 FROM paper_arrivals WHERE serial = ?1)",
                [crate::reconcile::normalize_serial(&serial)],
                |r| r.get(0),
            )?;
            // Who keyed it: the latest keying's enumerator (a household moved afterwards keeps
            // its keyer), by the device's time, as the review list and the double keying
            // below reckon "latest".
            let keyed_by: Option<String> = c
                .query_row(
                    "SELECT enumerator_id FROM events
                     WHERE household_id = ?1 AND status = 'accepted' AND kind IN ('form_transcribed', 'transcription_verified')
                     ORDER BY occurred_unix DESC LIMIT 1",
                    [household],
                    |r| r.get(0),
                )
                .optional()?;
            let enumerator = keyed_by.unwrap_or(enumerator);
            let d = c.dialect();
            let double_keying = c
                .query_row(
                    &format!(
                        "SELECT {}, {}, {} FROM events
                         WHERE household_id = ?1 AND status = 'accepted' AND kind = 'transcription_verified'
                         ORDER BY occurred_unix DESC LIMIT 1",
                        d.json_integer("body", &["body", "mismatches"]),
                        d.json_integer("body", &["body", "keyer_errors"]),
                        d.json_integer("body", &["body", "verifier_errors"]),
                    ),
                    [household],
                    |r| {
                        Ok(r.get::<Option<u32>>(0)?.map(|mismatches| DoubleKeyingCounts {
                            mismatches,
                            keyer_errors: r.get::<Option<u32>>(1).ok().flatten().unwrap_or(0),
                            verifier_errors: r.get::<Option<u32>>(2).ok().flatten().unwrap_or(0),
                        }))
                    },
                )
                .optional()?
                .flatten();
            let decision = c
                .query_row(
                    "SELECT decision, reason, by_whom, at FROM reviews WHERE household_id = ?1
                     ORDER BY id DESC LIMIT 1",
                    [household],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let corrected_at = c.query_row(
                "SELECT MAX(at) FROM ministry_corrections WHERE household_id = ?1",
                [household],
                |r| r.get::<Option<String>>(0),
            )?;
            Ok(Some(HouseholdReview {
                serial,
                village,
                enumerator,
                paper_arrived,
                double_keying,
                decision,
                corrected_at,
            }))
        })
    }

    fn record_paper(
        &self,
        batch: &str,
        serials: &[String],
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (batch, serials, by) = (batch.to_string(), serials.to_vec(), by.to_string());
        self.write(move |tx| {
            let mut insert = tx.prepare_cached(
                "INSERT INTO paper_arrivals (batch, serial, by_whom, at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for s in &serials {
                insert.execute(params![batch, s, by, rfc3339(now)])?;
            }
            Ok(())
        })
    }

    fn paper_serials(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT serial FROM paper_arrivals ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(rows)
        })
    }

    fn record_backcheck_outcome(
        &self,
        household: &str,
        outcome: &str,
        note: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (h, o, n, b) = (
            household.to_string(),
            outcome.to_string(),
            note.to_string(),
            by.to_string(),
        );
        self.write(move |tx| {
            let known: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM households WHERE id = ?1)", [&h], |r| r.get(0))?;
            if !known {
                return Err(StoreError::UnknownHousehold(h.clone()));
            }
            tx.execute(
                "INSERT INTO backcheck_outcomes VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(household_id) DO UPDATE SET outcome = excluded.outcome, note = excluded.note, by_whom = excluded.by_whom, at = excluded.at",
                params![h, o, n, b, rfc3339(now)],
            )?;
            Ok(())
        })
    }

    fn backcheck_outcomes(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT h.enumerator_id, b.household_id, b.outcome FROM backcheck_outcomes b JOIN households h ON h.id = b.household_id ORDER BY 1, 2")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn corrected_households(&self) -> Result<HashMap<String, String>, StoreError> {
        self.read(|c| {
            let rows = c
                .prepare_cached(
                    "SELECT household_id, MAX(at) FROM ministry_corrections GROUP BY household_id",
                )?
                .query_map([], |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))?
                .collect::<Result<HashMap<_, _>, _>>()?;
            Ok(rows)
        })
    }

    fn record_ministry_correction(
        &self,
        household: &str,
        sealed: &[u8],
        reason: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (h, s, r, b) = (
            household.to_string(),
            sealed.to_vec(),
            reason.to_string(),
            by.to_string(),
        );
        self.write(move |tx| {
            let known: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM households WHERE id = ?1 AND has_answers = 1)", [&h], |r| r.get(0))?;
            if !known {
                return Err(StoreError::UnknownHousehold(h.clone()));
            }
            tx.execute("INSERT INTO ministry_corrections (household_id, sealed, reason, by_whom, at) VALUES (?1, ?2, ?3, ?4, ?5)", params![h, s, r, b, rfc3339(now)])?;
            Ok(())
        })
    }

    fn record_review(
        &self,
        household: &str,
        decision: &str,
        reason: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (h, d, r, b) = (
            household.to_string(),
            decision.to_string(),
            reason.to_string(),
            by.to_string(),
        );
        self.write(move |tx| {
            let has_answers: Option<bool> = tx.query_row("SELECT has_answers FROM households WHERE id = ?1", [&h], |r| r.get(0)).optional()?;
            match has_answers {
                None => return Err(StoreError::UnknownHousehold(h.clone())),
                Some(false) => return Err(StoreError::Corrupt(format!("household {h} has no form to review yet"))),
                Some(true) => {}
            }
            tx.execute("INSERT INTO reviews (household_id, decision, reason, by_whom, at) VALUES (?1, ?2, ?3, ?4, ?5)", params![h, d, r, b, rfc3339(now)])?;
            Ok(())
        })
    }

    fn reviews(&self) -> Result<BTreeMap<String, (String, String, String, String)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT household_id, decision, reason, by_whom, at FROM reviews ORDER BY id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<String>(0)?,
                        (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
                    ))
                })?
                .collect::<Result<BTreeMap<_, _>, _>>()?;
            Ok(rows)
        })
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
        let (seed, list, by) = (
            seed.to_string(),
            serde_json::to_string(households).expect("serializes"),
            by.to_string(),
        );
        self.write(move |tx| {
            tx.query_row(
                "INSERT INTO backcheck_draws (seed, share_percent, min_per_enumerator, households, by_whom, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                params![seed, share_percent, min_per_enumerator, list, by, rfc3339(now)],
                |r| r.get(0),
            )
        })
    }

    fn backcheck_draws(&self) -> Result<Vec<BackcheckDraw>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT id, seed, share_percent, min_per_enumerator, households, by_whom, at FROM backcheck_draws ORDER BY id DESC")?;
            let rows = stmt.query_map([], |r| {
                let list: String = r.get(4)?;
                Ok(BackcheckDraw {
                    id: r.get(0)?,
                    seed: r.get(1)?,
                    share_percent: r.get(2)?,
                    min_per_enumerator: r.get(3)?,
                    households: serde_json::from_str(&list).unwrap_or_default(),
                    by: r.get(5)?,
                    at: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn households_to_visit(&self, ids: &[String]) -> Result<Vec<HouseholdToVisit>, StoreError> {
        let ids = ids.to_vec();
        let names = self.place_names()?;
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT h.id, h.serial, h.name, h.address, v.id, cm.name, e.name
                 FROM households h JOIN villages v ON v.id = h.village_id JOIN communes cm ON cm.id = v.commune_id
                 JOIN enumerators e ON e.id = h.enumerator_id WHERE h.id = ?1",
            )?;
            let mut out = Vec::with_capacity(ids.len());
            for id in &ids {
                if let Some(h) = stmt
                    // The village as people tell it apart: its name with its commune (and its
                    // district where that repeats).
                    .query_row([id], |r| {
                        let village: String = r.get(4)?;
                        Ok(HouseholdToVisit { id: r.get(0)?, serial: r.get(1)?, name: r.get(2)?, address: r.get(3)?, village: names.get(&village).cloned().unwrap_or(village), commune: r.get(5)?, enumerator: r.get(6)? })
                    })
                    .optional()?
                {
                    out.push(h);
                }
            }
            Ok(out)
        })
    }

    fn record_alert(&self, a: &Alert, now: DateTime<Utc>) -> Result<(), StoreError> {
        let a = a.clone();
        self.write(move |tx| {
            let device = a.device.map(|d| d.to_string());
            // One row per device and cause: the same cause again counts, with its latest
            // detail and time (a flood is one row). Per-sheet alerts stay one per sheet.
            let counted = !crate::store::ALERTS_PER_SHEET.contains(&a.kind.as_str())
                && tx.execute(
                    "UPDATE alerts SET count = count + 1, last_at = ?1, detail = ?2, seq = ?3
                     WHERE kind = ?4 AND COALESCE(enumerator_id, '') = COALESCE(?5, '') AND COALESCE(device_id, '') = COALESCE(?6, '')",
                    params![rfc3339(now), a.detail, a.seq, a.kind, a.enumerator, device],
                )? > 0;
            if !counted {
                tx.execute(
                    "INSERT INTO alerts (kind, enumerator_id, device_id, seq, detail, at, last_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                    params![a.kind, a.enumerator, device, a.seq, a.detail, rfc3339(now)],
                )?;
            }
            Ok(())
        })
    }

    fn kept_alerts(&self) -> Result<Vec<crate::store::KeptAlert>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT kind, enumerator_id, device_id, seq, detail, count, at, COALESCE(last_at, at) FROM alerts ORDER BY id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    let device: Option<String> = r.get(2)?;
                    Ok(crate::store::KeptAlert {
                        alert: Alert {
                            kind: r.get(0)?,
                            enumerator: r.get(1)?,
                            device: device.and_then(|d| Uuid::parse_str(&d).ok()),
                            seq: r.get(3)?,
                            detail: r.get(4)?,
                        },
                        count: r.get::<i64>(5)?.max(0) as u64,
                        first_at: r.get(6)?,
                        last_at: r.get(7)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn alerts(&self) -> Result<Vec<Alert>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT kind, enumerator_id, device_id, seq, detail FROM alerts ORDER BY id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    let device: Option<String> = r.get(2)?;
                    Ok(Alert {
                        kind: r.get(0)?,
                        enumerator: r.get(1)?,
                        device: device.and_then(|d| Uuid::parse_str(&d).ok()),
                        seq: r.get(3)?,
                        detail: r.get(4)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn household_statuses(&self) -> Result<BTreeMap<String, HouseholdStatus>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT id, status FROM households")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))?
                .map(|r| {
                    r.map(|(id, s)| {
                        (
                            id,
                            HouseholdStatus::parse(&s).unwrap_or(HouseholdStatus::Reserve),
                        )
                    })
                })
                .collect::<Result<BTreeMap<_, _>, _>>()?;
            Ok(rows)
        })
    }

    fn events(&self) -> Result<Vec<EventRecord>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT id, enumerator_id, seq, household_id, kind, status, code FROM events ORDER BY enumerator_id, seq, idx")?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(EventRecord { id: r.get(0)?, enumerator: r.get(1)?, seq: r.get(2)?, household: r.get(3)?, kind: r.get(4)?, status: r.get(5)?, code: r.get(6)? })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn set_target(
        &self,
        level: forms::index::Level,
        area: &str,
        percent: Option<f64>,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (area, by) = (area.to_string(), by.to_string());
        self.write(move |tx| {
            match percent {
                Some(p) => tx.execute(
                    "INSERT INTO targets VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(level, area_id) DO UPDATE SET percent = excluded.percent, set_by = excluded.set_by, set_at = excluded.set_at",
                    params![level.as_str(), area, p, by, rfc3339(now)],
                )?,
                None => tx.execute("DELETE FROM targets WHERE level = ?1 AND area_id = ?2", params![level.as_str(), area])?,
            };
            Ok(())
        })
    }

    fn areas(&self) -> Result<Vec<(forms::index::Level, String)>, StoreError> {
        use forms::index::Level;
        self.read(|c| {
            let mut areas = Vec::new();
            for (level, table) in [
                (Level::Province, "provinces"),
                (Level::District, "districts"),
                (Level::Commune, "communes"),
                (Level::Village, "villages"),
            ] {
                let ids = c
                    .prepare_cached(&format!("SELECT id FROM {table} ORDER BY id"))?
                    .query_map([], |r| r.get::<String>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                areas.extend(ids.into_iter().map(|id| (level, id)));
            }
            Ok(areas)
        })
    }

    fn area_parents(
        &self,
    ) -> Result<Vec<(forms::index::Level, String, Option<String>)>, StoreError> {
        use forms::index::Level;
        self.read(|c| {
            let mut areas = Vec::new();
            for (level, sql) in [
                (
                    Level::Province,
                    "SELECT id, NULL FROM provinces ORDER BY id",
                ),
                (
                    Level::District,
                    "SELECT id, province_id FROM districts ORDER BY id",
                ),
                (
                    Level::Commune,
                    "SELECT id, district_id FROM communes ORDER BY id",
                ),
                (
                    Level::Village,
                    "SELECT id, commune_id FROM villages ORDER BY id",
                ),
            ] {
                let rows = c
                    .prepare_cached(sql)?
                    .query_map([], |r| {
                        Ok((r.get::<String>(0)?, r.get::<Option<String>>(1)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                areas.extend(rows.into_iter().map(|(id, parent)| (level, id, parent)));
            }
            Ok(areas)
        })
    }

    fn targets(&self) -> Result<Vec<(forms::index::Level, String, f64)>, StoreError> {
        self.read(|c| {
            let rows = c
                .prepare_cached(
                    "SELECT level, area_id, percent FROM targets ORDER BY level, area_id",
                )?
                .query_map([], |r| Ok((r.get::<String>(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<(String, String, f64)>, _>>()?;
            rows.into_iter()
                .map(|(l, a, p)| {
                    let level = forms::index::Level::parse(&l)
                        .ok_or_else(|| StoreError::Corrupt(format!("target level {l:?}")))?;
                    Ok((level, a, p))
                })
                .collect()
        })
    }

    fn keep_index(&self, figures: &str, by: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let (figures, by) = (figures.to_string(), by.to_string());
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO kept_index (figures, computed_by, computed_at) VALUES (?1, ?2, ?3)",
                params![figures, by, rfc3339(now)],
            )?;
            // Only the newest is read; older ones stay a few for the audit of what was shown.
            tx.execute(
                "DELETE FROM kept_index WHERE id <= (SELECT MAX(id) FROM kept_index) - 20",
                [],
            )?;
            Ok(())
        })
    }

    fn kept_index(&self) -> Result<Option<(String, String)>, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT figures, computed_at FROM kept_index ORDER BY id DESC LIMIT 1",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
        })
    }
}
