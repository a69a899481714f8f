//! Back-checks: the draws of households to visit again, who to visit, and what was found.

use super::*;

pub(super) fn record_backcheck_outcome(
    store: &SqlStore,
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
    store.write(move |tx| {
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

pub(super) fn backcheck_outcomes(store: &SqlStore) -> Result<Vec<BackcheckOutcome>, StoreError> {
    store.read(|c| {
        let mut stmt = c.prepare("SELECT h.enumerator_id, b.household_id, b.outcome, b.note, b.by_whom, b.at FROM backcheck_outcomes b JOIN households h ON h.id = b.household_id ORDER BY 1, 2")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(BackcheckOutcome {
                    enumerator: r.get(0)?,
                    household: r.get(1)?,
                    outcome: r.get(2)?,
                    note: r.get(3)?,
                    by: r.get(4)?,
                    at: r.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
}

pub(super) fn record_backcheck_draw(
    store: &SqlStore,
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
    store.write(move |tx| {
        tx.query_row(
            "INSERT INTO backcheck_draws (seed, share_percent, min_per_enumerator, households, by_whom, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            params![seed, share_percent, min_per_enumerator, list, by, rfc3339(now)],
            |r| r.get(0),
        )
    })
}

pub(super) fn backcheck_draws(store: &SqlStore) -> Result<Vec<BackcheckDraw>, StoreError> {
    store.read(|c| {
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

pub(super) fn households_to_visit(
    store: &SqlStore,
    ids: &[String],
) -> Result<Vec<HouseholdToVisit>, StoreError> {
    let ids = ids.to_vec();
    let names = store.place_names()?;
    store.read(move |c| {
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
