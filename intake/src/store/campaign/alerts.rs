//! Alerts the centre raised (equivocation, a revoked device sending, ...), kept one per device
//! and cause with a count and the last time.

use super::*;

pub(super) fn record_alert(
    store: &SqlStore,
    a: &Alert,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let a = a.clone();
    store.write(move |tx| {
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

pub(super) fn kept_alerts(store: &SqlStore) -> Result<Vec<crate::store::KeptAlert>, StoreError> {
    store.read(|c| {
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

pub(super) fn alerts(store: &SqlStore) -> Result<Vec<Alert>, StoreError> {
    store.read(|c| {
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
