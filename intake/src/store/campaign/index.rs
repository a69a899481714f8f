//! The index and its publication: the ministry's key, targets by area, the areas and their
//! parents, the kept index, and publishing or withdrawing its figures.

use super::*;

pub(super) fn publish(
    store: &SqlStore,
    figures: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (figures, by, now) = (figures.to_string(), by.to_string(), rfc3339(now));
    store.write(move |tx| {
        tx.execute("UPDATE publications SET withdrawn_by = ?1, withdrawn_at = ?2 WHERE withdrawn_at IS NULL", params![by, now])?;
        tx.execute("INSERT INTO publications (figures, published_by, published_at) VALUES (?1, ?2, ?3)", params![figures, by, now])?;
        Ok(())
    })
}

pub(super) fn withdraw_publication(
    store: &SqlStore,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let (by, now) = (by.to_string(), rfc3339(now));
    store.write(move |tx| Ok(tx.execute("UPDATE publications SET withdrawn_by = ?1, withdrawn_at = ?2 WHERE withdrawn_at IS NULL", params![by, now])? > 0))
}

pub(super) fn publication(store: &SqlStore) -> Result<Option<(String, String)>, StoreError> {
    store.read(|c| {
        Ok(c.prepare_cached("SELECT figures, published_at FROM publications WHERE withdrawn_at IS NULL ORDER BY id DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    })
}

pub(super) fn store_ministry_key(
    store: &SqlStore,
    sealed: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let sealed = sealed.to_string();
    store.write(move |tx| {
        tx.execute(
            "INSERT INTO ministry_key VALUES (1, ?1, ?2) ON CONFLICT(id) DO UPDATE SET sealed = excluded.sealed, stored_at = excluded.stored_at",
            params![sealed, rfc3339(now)],
        )?;
        Ok(())
    })
}

pub(super) fn ministry_key(store: &SqlStore) -> Result<Option<String>, StoreError> {
    store.read(|c| {
        Ok(
            c.query_row("SELECT sealed FROM ministry_key WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?,
        )
    })
}

pub(super) fn set_target(
    store: &SqlStore,
    level: forms::index::Level,
    area: &str,
    percent: Option<f64>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (area, by) = (area.to_string(), by.to_string());
    store.write(move |tx| {
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

pub(super) fn areas(store: &SqlStore) -> Result<Vec<(forms::index::Level, String)>, StoreError> {
    use forms::index::Level;
    store.read(|c| {
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

pub(super) fn area_parents(
    store: &SqlStore,
) -> Result<Vec<(forms::index::Level, String, Option<String>)>, StoreError> {
    use forms::index::Level;
    store.read(|c| {
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

pub(super) fn targets(
    store: &SqlStore,
) -> Result<Vec<(forms::index::Level, String, f64)>, StoreError> {
    store.read(|c| {
        let rows = c
            .prepare_cached("SELECT level, area_id, percent FROM targets ORDER BY level, area_id")?
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

pub(super) fn keep_index(
    store: &SqlStore,
    figures: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (figures, by) = (figures.to_string(), by.to_string());
    store.write(move |tx| {
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

pub(super) fn kept_index(store: &SqlStore) -> Result<Option<(String, String)>, StoreError> {
    store.read(|c| {
        Ok(c.prepare_cached(
            "SELECT figures, computed_at FROM kept_index ORDER BY id DESC LIMIT 1",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
    })
}
