//! The ministry's reconciliation: the sealed forms and the ones expected, a household's
//! review, the paper forms received, reviews and the ministry's corrections, and every event's
//! facts for the anomaly checks.

use super::*;
use crate::store::sql::Params;

pub(super) fn event_facts(store: &SqlStore) -> Result<Vec<EventFacts>, StoreError> {
    store.read(|c| {
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

pub(super) fn sealed_forms(
    store: &SqlStore,
    household: Option<&str>,
) -> Result<Vec<SealedForm>, StoreError> {
    store.read(|c| {
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

pub(super) fn expected_forms(store: &SqlStore) -> Result<Vec<ExpectedForm>, StoreError> {
    // Village names as people tell them apart (with the district where a name repeats).
    let names = store.place_names()?;
    store.read(|c| {
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

pub(super) fn household_review(
    store: &SqlStore,
    household: &str,
) -> Result<Option<HouseholdReview>, StoreError> {
    store.read(|c| {
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
        let paper_arrived = arrived(c, &crate::reconcile::normalize_serial(&serial))?;
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
        let corrected = c
            .query_row(
                "SELECT by_whom, at, reason FROM ministry_corrections WHERE household_id = ?1
                 ORDER BY id DESC LIMIT 1",
                [household],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(Some(HouseholdReview {
            serial,
            village,
            enumerator,
            paper_arrived,
            double_keying,
            decision,
            corrected,
        }))
    })
}

pub(super) fn record_paper(
    store: &SqlStore,
    batch: &str,
    serials: &[String],
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (batch, serials, by) = (batch.to_string(), serials.to_vec(), by.to_string());
    store.write(move |tx| {
        let mut insert = tx.prepare_cached(
            "INSERT INTO paper_arrivals (batch, serial, by_whom, at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for s in &serials {
            insert.execute(params![batch, s, by, rfc3339(now)])?;
        }
        Ok(())
    })
}

pub(super) fn paper_has_arrived(store: &SqlStore, serial: &str) -> Result<bool, StoreError> {
    let serial = serial.to_string();
    store.read(move |c| arrived(c, &serial))
}

/// Whether `serial`, normalized, is recorded as arrived on paper (serials are kept normalized
/// when recorded).
fn arrived(c: Tx, serial: &str) -> Result<bool, StoreError> {
    c.query_row(
        "SELECT EXISTS(SELECT 1 FROM paper_arrivals WHERE serial = ?1)",
        [serial],
        |r| r.get(0),
    )
}

pub(super) fn paper_serials(store: &SqlStore) -> Result<Vec<String>, StoreError> {
    store.read(|c| {
        let mut stmt = c.prepare("SELECT serial FROM paper_arrivals ORDER BY id")?;
        let rows = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(rows)
    })
}

pub(super) fn paper_batches(store: &SqlStore, limit: usize) -> Result<Vec<PaperBatch>, StoreError> {
    store.read(move |c| {
        paper_batches_where(
            c,
            "batch IN (SELECT batch FROM paper_arrivals GROUP BY batch ORDER BY MAX(id) DESC LIMIT ?1)",
            [limit as i64],
        )
    })
}

pub(super) fn paper_batch(store: &SqlStore, batch: &str) -> Result<Option<PaperBatch>, StoreError> {
    let batch = batch.to_string();
    store.read(move |c| Ok(paper_batches_where(c, "batch = ?1", [batch.as_str()])?.pop()))
}

/// The recordings of paper whose rows match `filter`, newest first, each recording's serials in
/// the order they were typed.
fn paper_batches_where(
    c: Tx,
    filter: &str,
    params: impl Params,
) -> Result<Vec<PaperBatch>, StoreError> {
    let mut stmt = c.prepare(&format!(
        "SELECT batch, serial, by_whom, at FROM paper_arrivals WHERE {filter} ORDER BY id DESC"
    ))?;
    let mut batches: Vec<PaperBatch> = Vec::new();
    for row in stmt.query_map(params, |r| {
        Ok((
            r.get::<String>(0)?,
            r.get::<String>(1)?,
            r.get::<String>(2)?,
            r.get::<String>(3)?,
        ))
    })? {
        let (batch, serial, by, at) = row?;
        match batches.iter_mut().find(|b| b.batch == batch) {
            Some(b) => b.serials.push(serial),
            None => batches.push(PaperBatch {
                batch,
                by,
                at,
                serials: vec![serial],
            }),
        }
    }
    // Read newest first; each recording's serials in the order they were typed.
    for b in &mut batches {
        b.serials.reverse();
    }
    Ok(batches)
}

pub(super) fn withdraw_paper(store: &SqlStore, batch: &str) -> Result<Vec<String>, StoreError> {
    let batch = batch.to_string();
    store.write(move |tx| {
        let serials = tx
            .prepare("SELECT serial FROM paper_arrivals WHERE batch = ?1 ORDER BY id")?
            .query_map([&batch], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        if serials.is_empty() {
            return Err(StoreError::UnknownPaperBatch(batch.clone()));
        }
        tx.execute("DELETE FROM paper_arrivals WHERE batch = ?1", [&batch])?;
        Ok(serials)
    })
}

pub(super) fn corrected_households(
    store: &SqlStore,
) -> Result<HashMap<String, String>, StoreError> {
    store.read(|c| {
        let rows = c
            .prepare_cached(
                "SELECT household_id, MAX(at) FROM ministry_corrections GROUP BY household_id",
            )?
            .query_map([], |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))?
            .collect::<Result<HashMap<_, _>, _>>()?;
        Ok(rows)
    })
}

pub(super) fn record_ministry_correction(
    store: &SqlStore,
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
    store.write(move |tx| {
        let known: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM households WHERE id = ?1 AND has_answers = 1)", [&h], |r| r.get(0))?;
        if !known {
            return Err(StoreError::UnknownHousehold(h.clone()));
        }
        tx.execute("INSERT INTO ministry_corrections (household_id, sealed, reason, by_whom, at) VALUES (?1, ?2, ?3, ?4, ?5)", params![h, s, r, b, rfc3339(now)])?;
        Ok(())
    })
}

pub(super) fn record_review(
    store: &SqlStore,
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
    store.write(move |tx| {
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

pub(super) fn reviews(
    store: &SqlStore,
) -> Result<BTreeMap<String, (String, String, String, String)>, StoreError> {
    store.read(|c| {
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

pub(super) fn events(store: &SqlStore) -> Result<Vec<EventRecord>, StoreError> {
    store.read(|c| {
        let mut stmt = c.prepare("SELECT id, enumerator_id, seq, household_id, kind, status, code FROM events ORDER BY enumerator_id, seq, idx")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(EventRecord { id: r.get(0)?, enumerator: r.get(1)?, seq: r.get(2)?, household: r.get(3)?, kind: r.get(4)?, status: r.get(5)?, code: r.get(6)? })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}
