//! What supervisors see and do (never answers): the places' names, reassignment, progress by
//! village, the daily counts (and counting them again under a new [`DAY_RULE`]), refused
//! events and their decisions, household statuses.

use super::*;

pub(super) fn place_names(store: &SqlStore) -> Result<HashMap<String, String>, StoreError> {
    // A commune or village is named with its parent ("Khu phố 2, Phường 2"); where that
    // still repeats (a Phường 2 in two districts), with the level above too.
    store.read(|c| {
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

/// The households `target` names, each once (a serial typed twice is one household), in the
/// order named.
pub(super) fn move_candidates(
    tx: Tx,
    target: &ReassignTarget,
) -> Result<Vec<MoveCandidate>, StoreError> {
    let row = |r: &Row| -> Result<MoveCandidate, StoreError> {
        Ok(MoveCandidate {
            household: r.get(0)?,
            enumerator: r.get(1)?,
            serial: r.get(2)?,
            status: r.get(3)?,
            village: r.get(4)?,
        })
    };
    match target {
        ReassignTarget::Village(village) => {
            let mut stmt = tx.prepare("SELECT id, enumerator_id, serial, status, village_id FROM households WHERE village_id = ?1 ORDER BY id")?;
            let rows = stmt
                .query_map([village], row)?
                .collect::<Result<Vec<_>, _>>()?;
            if rows.is_empty() {
                return Err(StoreError::UnknownVillage(village.clone()));
            }
            Ok(rows)
        }
        ReassignTarget::Households(ids) => {
            let mut seen = std::collections::HashSet::new();
            ids.iter()
                .filter(|id| seen.insert(id.as_str()))
                .map(|id| {
                    tx.query_row(
                        "SELECT id, enumerator_id, serial, status, village_id FROM households WHERE id = ?1",
                        [id],
                        row,
                    )
                    .optional()?
                    .ok_or_else(|| StoreError::UnknownHousehold(id.clone()))
                })
                .collect()
        }
    }
}

pub(super) fn recent_moves(store: &SqlStore, limit: usize) -> Result<Vec<MoveRecord>, StoreError> {
    store.read(move |c| {
        // One confirmation writes one row per household, all with its time (to the second) and
        // mover; the moves of the latest such pairs are read.
        let mut stmt = c.prepare(
            "SELECT r.at, r.by_whom, r.reason, r.to_enumerator, r.from_enumerator, h.serial, h.village_id, cm.district_id
             FROM reassignments r JOIN households h ON h.id = r.household_id
             JOIN villages v ON v.id = h.village_id JOIN communes cm ON cm.id = v.commune_id
             WHERE (r.at, r.by_whom) IN
               (SELECT at, by_whom FROM reassignments GROUP BY at, by_whom ORDER BY MAX(id) DESC LIMIT ?1)
             ORDER BY r.id",
        )?;
        let mut moves: Vec<MoveRecord> = Vec::new();
        for row in stmt.query_map([limit as i64], |r| {
            Ok((
                r.get::<String>(0)?,
                r.get::<String>(1)?,
                r.get::<String>(2)?,
                r.get::<String>(3)?,
                r.get::<String>(4)?,
                (r.get::<String>(5)?, r.get::<String>(6)?, r.get::<String>(7)?),
            ))
        })? {
            let (at, by, reason, to, from, (serial, village, district)) = row?;
            let household = (serial, village, district, from);
            // A confirmation's rows are written together, in one transaction: consecutive.
            let same = |m: &&mut MoveRecord| {
                m.at == at && m.by == by && m.to == to && m.reason == reason
            };
            match moves.last_mut().filter(same) {
                Some(m) => m.households.push(household),
                None => moves.push(MoveRecord {
                    at,
                    by,
                    reason,
                    to,
                    households: vec![household],
                }),
            }
        }
        moves.reverse();
        Ok(moves)
    })
}

pub(super) fn reassign(
    store: &SqlStore,
    target: &ReassignTarget,
    to: &str,
    by: &str,
    reason: &str,
    seen: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Reassigned, StoreError> {
    let (target, to, by, reason, seen) = (
        target.clone(),
        to.to_string(),
        by.to_string(),
        reason.to_string(),
        seen.map(str::to_string),
    );
    store.write(move |tx| {
        let known: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM enumerators WHERE id = ?1)", [&to], |r| r.get(0))?;
        if !known {
            return Err(StoreError::UnknownEnumerator(to.clone()));
        }
        let households = move_candidates(tx, &target)?;
        if seen.as_deref().is_some_and(|seen| seen != holdings_seen(&households, &to, &reason)) {
            return Err(StoreError::AssignmentChanged);
        }
        let finished_status = HouseholdStatus::InParcel.as_str();
        let mut done = Reassigned::default();
        for h in households.iter().filter(|h| h.enumerator != to) {
            if h.status == finished_status {
                done.finished.push(h.serial.clone());
                continue;
            }
            tx.execute("UPDATE households SET enumerator_id = ?1, updated_at = ?2 WHERE id = ?3", params![to, rfc3339(now), h.household])?;
            tx.execute(
                "INSERT INTO reassignments (household_id, from_enumerator, to_enumerator, by_whom, reason, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![h.household, h.enumerator, to, by, reason, rfc3339(now)],
            )?;
            done.moved += 1;
        }
        Ok(done)
    })
}

pub(super) fn progress(
    store: &SqlStore,
    districts: Option<&[String]>,
) -> Result<Vec<VillageProgress>, StoreError> {
    let districts = districts.map(|d| d.to_vec());
    store.read(move |c| {
        // Counted first (on SQLite straight from the (village, enumerator, status) index; on
        // PostgreSQL from the rows, whose status is kept out of its indexes), named afterwards; a
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
                    (SELECT MAX(dc.day) FROM daily_counts dc WHERE dc.village_id = v.id AND dc.enumerator_id = e.id AND dc.kind NOT IN ('form_transcribed', 'transcription_verified', 'correction', 'parcel_handed_over'))
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

pub(super) fn daily_counts(
    store: &SqlStore,
    districts: Option<&[String]>,
) -> Result<Vec<DailyCount>, StoreError> {
    let districts = districts.map(|d| d.to_vec());
    store.read(move |c| {
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

pub(super) fn rejected_events(
    store: &SqlStore,
    districts: Option<&[String]>,
) -> Result<Vec<RejectedRecord>, StoreError> {
    let districts = districts.map(|d| d.to_vec());
    store.read(move |c| {
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

pub(super) fn resolve_rejected(
    store: &SqlStore,
    event: &str,
    decision: Resolution,
    note: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<RejectedRecord, StoreError> {
    store.carry_over(event, decision, note, by, now)
}

pub(super) fn household_by_serial(
    store: &SqlStore,
    serial: &str,
) -> Result<Option<String>, StoreError> {
    let serial = serial.to_string();
    store.read(move |c| {
        Ok(
            c.prepare_cached("SELECT id FROM households WHERE serial = ?1")?
                .query_row([serial], |r| r.get(0))
                .optional()?,
        )
    })
}

pub(super) fn household_place(
    store: &SqlStore,
    id: &str,
) -> Result<Option<(String, String, String, bool)>, StoreError> {
    store.read(|c| {
        Ok(c.prepare_cached(
            "SELECT h.serial, h.village_id, cm.district_id, h.has_answers
             FROM households h JOIN villages v ON v.id = h.village_id JOIN communes cm ON cm.id = v.commune_id WHERE h.id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?)
    })
}

pub(super) fn villages_with_enumerators(
    store: &SqlStore,
) -> Result<Vec<(String, String, String, Vec<String>)>, StoreError> {
    store.read(|c| {
        let mut stmt = c.prepare(&format!(
            "SELECT v.id, v.name || ', ' || cm.name, cm.district_id, {}
             FROM villages v JOIN communes cm ON cm.id = v.commune_id JOIN households h ON h.village_id = v.id
             GROUP BY v.id, v.name, cm.name, cm.district_id ORDER BY v.id",
            c.dialect().distinct_list("h.enumerator_id")
        ))?;
        // "village, commune" as the query writes it: the reader adds the district, which
        // `place_names` would add only where the name repeats.
        let rows = stmt
            .query_map([], |r| {
                let list: String = r.get(3)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    list.split(',').map(String::from).collect(),
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

pub(super) fn household_statuses(
    store: &SqlStore,
) -> Result<BTreeMap<String, HouseholdStatus>, StoreError> {
    store.read(|c| {
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

/// The rule the kept daily counts are made by (`daily_counts_rule`): counts kept under
/// another — before there was one, the date the tablet wrote — are counted again from the
/// events when the store is opened. 1: [`DayRule`], household events only. 2: the same, and
/// each form of a handed-over parcel in its household's village.
pub(super) const DAY_RULE: i64 = 2;

/// Every accepted household event counted again on its day by [`DayRule`] (one transaction;
/// on PostgreSQL the table is locked first, so that no other process's ingest adds to the
/// counts between the reading of the events and the writing of the counts).
pub(super) fn count_days_again(tx: Tx) -> Result<(), StoreError> {
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
        // Household events, and a parcel's forms each in its household's village (the serials
        // were checked when the parcel was accepted; a serial is one household's).
        let rows = tx
            .prepare(&format!(
                "SELECT e.enumerator_id, h.village_id, CASE WHEN e.kind = 'visit_outcome' THEN {outcome} ELSE e.kind END,
                        e.occurred_at, e.received_at
                 FROM events e JOIN households h ON h.id = e.household_id WHERE e.status = 'accepted'
                 UNION ALL
                 SELECT e.enumerator_id, h.village_id, e.kind, e.occurred_at, e.received_at
                 FROM parcel_serials ps JOIN events e ON e.id = ps.event_id JOIN households h ON h.serial = ps.serial
                 WHERE e.status = 'accepted'"
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
