//! The local SQLite file: WAL, `synchronous=FULL` (a saved answer survives power loss), and
//! versioned migrations (schema version in `user_version`). A database from a newer version,
//! or one that is not a database, is refused and never written.

use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};
use std::path::Path;

use crate::error::ClientError;

/// Schema version N is reached by the first N migrations; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/001_initial.sql"),
    include_str!("../migrations/002_assignment_etag.sql"),
    include_str!("../migrations/003_rejection_round_trip.sql"),
    include_str!("../migrations/004_forms_over_the_air.sql"),
    include_str!("../migrations/005_earlier_steps.sql"),
];

fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
}

pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

pub fn open(path: &Path) -> Result<Connection, ClientError> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let found: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(|e| ClientError::CorruptDatabase(e.to_string()))? as usize;
    if found > SCHEMA_VERSION {
        return Err(ClientError::NewerDatabase {
            found,
            known: SCHEMA_VERSION,
        });
    }
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| ClientError::CorruptDatabase(e.to_string()))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrations()
        .to_latest(&mut conn)
        .map_err(|e| ClientError::CorruptDatabase(e.to_string()))?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    #[test]
    fn a_database_of_an_older_version_is_migrated_with_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut old = Connection::open(&path).unwrap();
        Migrations::new(vec![M::up(MIGRATIONS[0])])
            .to_latest(&mut old)
            .unwrap();
        old.execute(
            "INSERT INTO assignment (id, signed, fetched_at) VALUES (1, '{}', 'then')",
            [],
        )
        .unwrap();
        drop(old);
        let conn = open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version as usize, SCHEMA_VERSION);
        let (signed, etag): (String, Option<String>) = conn
            .query_row("SELECT signed, etag FROM assignment", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((signed.as_str(), etag), ("{}", None));
    }

    #[test]
    fn newer_and_corrupt_databases_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let newer = dir.path().join("newer.db");
        Connection::open(&newer)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let before = std::fs::read(&newer).unwrap();
        assert!(matches!(
            open(&newer),
            Err(ClientError::NewerDatabase { found: 99, .. })
        ));
        assert_eq!(std::fs::read(&newer).unwrap(), before);

        let corrupt = dir.path().join("corrupt.db");
        std::fs::write(&corrupt, b"this is not a database, it is a shopping list").unwrap();
        assert!(matches!(
            open(&corrupt),
            Err(ClientError::CorruptDatabase(_))
        ));
        assert_eq!(
            std::fs::read(&corrupt).unwrap(),
            b"this is not a database, it is a shopping list"
        );
    }
}
