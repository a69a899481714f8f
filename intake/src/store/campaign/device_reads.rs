//! What a device is sent besides its receipts: its assignment, its chain's head, a stored
//! receipt sent again, and the earlier steps of households carried over from another tablet.

use super::*;

pub(super) fn stored_receipt(
    store: &SqlStore,
    enumerator: &str,
    seq: u64,
    hash: &BatchHash,
) -> Result<Option<SignedDocument>, StoreError> {
    store.read(|c| {
        let receipt: Option<String> = c
            .prepare_cached(
                "SELECT receipt FROM batches WHERE enumerator_id = ?1 AND seq = ?2 AND hash = ?3",
            )?
            .query_row(params![enumerator, seq as i64, hash.to_hex()], |r| r.get(0))
            .optional()?;
        receipt
            .map(|r| serde_json::from_str(&r).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    })
}

pub(super) fn assignment(store: &SqlStore, enumerator: &str) -> Result<AssignmentData, StoreError> {
    store.read(|c| {
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

pub(super) fn chain_head(store: &SqlStore, enumerator: &str) -> Result<ChainHead, StoreError> {
    store.read(|c| chain_head_in(c, enumerator))
}

pub(super) fn earlier_steps(
    store: &SqlStore,
    enumerator: &str,
    device: &str,
    limit: usize,
) -> Result<Vec<(String, String, String, String)>, StoreError> {
    store.read(|c| {
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

/// The enumerator's chain head as this transaction sees it, unlocked: the genesis hash at seq 0
/// before their first batch.
pub(super) fn chain_head_in(conn: Tx, enumerator: &str) -> Result<ChainHead, StoreError> {
    let row: Option<(u64, String)> = conn
        .query_row(
            "SELECT last_seq, last_hash FROM chains WHERE enumerator_id = ?1",
            [enumerator],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(ChainHead {
        enumerator: enumerator.into(),
        seq: row.as_ref().map_or(0, |(seq, _)| *seq),
        hash: match row {
            Some((_, hash)) => {
                BatchHash::from_hex(&hash).map_err(|e| StoreError::Corrupt(e.to_string()))?
            }
            None => BatchHash::GENESIS,
        },
    })
}
