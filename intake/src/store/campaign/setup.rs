//! The campaign set up: its import, its form versions, the cached campaign row; enrollment
//! codes, enrollment and the devices it made (revoked, listed).

use super::*;

pub(super) fn import_campaign(
    store: &SqlStore,
    c: &Campaign,
    source: &str,
    forms: &[crate::form_files::StoredForm],
    now: DateTime<Utc>,
) -> Result<ImportSummary, StoreError> {
    let now_s = rfc3339(now);
    let (c, source, forms) = (c.clone(), source.to_string(), forms.to_vec());
    store.write(move |tx| {
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

pub(super) fn add_form(
    store: &SqlStore,
    form: &crate::form_files::StoredForm,
    current: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let form = form.clone();
    store.write(move |tx| {
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
    *store.campaign.lock().unwrap_or_else(|p| p.into_inner()) = None;
    Ok(())
}

pub(super) fn forms(store: &SqlStore) -> Result<Vec<crate::form_files::StoredForm>, StoreError> {
    store.read(|c| {
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

pub(super) fn campaign(store: &SqlStore) -> Result<CampaignRecord, StoreError> {
    if let Some((c, at)) = store
        .campaign
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
    {
        if at.elapsed() < CAMPAIGN_FRESH {
            return Ok(c);
        }
    }
    let c = store.read(load_campaign)?;
    *store.campaign.lock().unwrap_or_else(|p| p.into_inner()) =
        Some((c.clone(), std::time::Instant::now()));
    Ok(c)
}

pub(super) fn issue_enrollment_code(
    store: &SqlStore,
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
    store.write(move |tx| {
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

pub(super) fn enroll(
    store: &SqlStore,
    code_hash: &str,
    public_key: &PublicKey,
    label: &str,
    now: DateTime<Utc>,
) -> Result<(DeviceRecord, ChainHead), StoreError> {
    let (code_hash, public_key, label) = (code_hash.to_string(), *public_key, label.to_string());
    store.write(move |tx| {
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

pub(super) fn device(store: &SqlStore, id: Uuid) -> Result<Option<DeviceRecord>, StoreError> {
    store.read(|c| {
        c.prepare_cached(
            "SELECT id, enumerator_id, public_key, label, revoked_at FROM devices WHERE id = ?1",
        )?
        .query_row([id.to_string()], device_from_row)
        .optional()?
        .map(device_record)
        .transpose()
    })
}

/// The [`EnrolledKey`]s of the devices this process has read. Bounded: past
/// [`KnownDevices::MAX`] (far more devices than a national campaign enrolls) it starts again.
#[derive(Default)]
pub(super) struct KnownDevices(Mutex<HashMap<Uuid, EnrolledKey>>);

impl KnownDevices {
    const MAX: usize = 100_000;

    pub(super) fn forget(&self, id: Uuid) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }
}

pub(super) fn enrolled_key(
    store: &SqlStore,
    known: &KnownDevices,
    id: Uuid,
) -> Result<Option<EnrolledKey>, StoreError> {
    if let Some(key) = known.0.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
        return Ok(Some(key.clone()));
    }
    let Some(device) = device(store, id)? else {
        return Ok(None);
    };
    let key = EnrolledKey {
        public_key: device.public_key,
        enumerator: device.enumerator,
    };
    let mut known = known.0.lock().unwrap_or_else(|p| p.into_inner());
    if known.len() >= KnownDevices::MAX {
        known.clear();
    }
    known.insert(id, key.clone());
    Ok(Some(key))
}

pub(super) fn revoke_device(
    store: &SqlStore,
    id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let reason = reason.to_string();
    store.write(move |tx| {
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

pub(super) fn enumerators(store: &SqlStore) -> Result<Vec<(String, String)>, StoreError> {
    store.read(|c| {
        let mut stmt = c.prepare("SELECT id, name FROM enumerators ORDER BY id")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

pub(super) fn devices(
    store: &SqlStore,
) -> Result<Vec<(Uuid, String, String, String, bool, Option<String>)>, StoreError> {
    store.read(|c| {
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

pub(super) fn load_campaign(conn: Tx) -> Result<CampaignRecord, StoreError> {
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

pub(super) fn device_from_row(
    r: &Row,
) -> Result<(String, String, String, String, Option<String>), StoreError> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

pub(super) fn device_record(
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

/// Stores a form version once; the same reference with other content is refused (a changed
/// form needs a new version, or sheets sealed under it could not be read back).
/// A campaign keeps versions of one form: `id@version` references share their id.
pub(super) fn same_questionnaire(reference: &str, campaign_form: &str) -> Result<(), StoreError> {
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

pub(super) fn insert_form(
    tx: Tx,
    form: &crate::form_files::StoredForm,
    now: &str,
) -> Result<(), StoreError> {
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
