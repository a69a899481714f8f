//! Backups of a centre on SQLite (`intake backup`, `intake restore`). A backup is one tar file
//! holding a consistent copy of every store — the centre's own first, then each campaign its
//! registry (as copied) lists — and the intake's key, made while the intake serves: SQLite's
//! `VACUUM INTO` writes a snapshot of one database without stopping its writer. Each campaign's
//! copy is consistent in itself; campaigns are independent of each other, and a campaign
//! imported after the centre's copy is simply not in this backup.
//!
//! Devices keep every batch they sent until it is in a receipt of the centre they talk to, and
//! send again from where the centre's chain stands: work that reached the centre after the
//! backup comes back from the tablets once a restored centre serves (see `docs/deployment.md`).
//!
//! On PostgreSQL the database's own tools do this (`pg_dump -Fc`, `pg_restore`): the intake's
//! key is in the database, so a dump is a whole centre.

use std::path::{Path, PathBuf};

/// What a backup holds.
#[derive(Debug, PartialEq, Eq)]
pub struct BackupSummary {
    pub campaigns: Vec<String>,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Io(String),
    #[error("the database could not be copied: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0} is not a Fieldpost backup: {1}")]
    NotABackup(PathBuf, String),
    #[error("{0} already holds a centre; restore into a new, empty directory")]
    NotEmpty(PathBuf),
}

fn io(what: impl std::fmt::Display, e: std::io::Error) -> BackupError {
    BackupError::Io(format!("{what}: {e}"))
}

/// Copies the centre in `data_dir` into the tar file `to` (written whole, then renamed into
/// place: a backup cut short leaves no file that looks complete).
pub fn backup(data_dir: &Path, to: &Path) -> Result<BackupSummary, BackupError> {
    let staging = tempfile::Builder::new()
        .prefix(".fieldpost-backup")
        .tempdir_in(
            to.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )
        .map_err(|e| io("cannot make a staging directory beside the backup", e))?;
    let snapshot = |from: &Path, name: &str| -> Result<PathBuf, BackupError> {
        let target = staging.path().join(name);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io(dir.display(), e))?;
        }
        let conn = rusqlite::Connection::open_with_flags(
            from,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute("VACUUM INTO ?1", [target.to_string_lossy()])?;
        Ok(target)
    };
    let centre = data_dir.join("centre.db");
    if !centre.exists() {
        return Err(BackupError::NotABackup(
            data_dir.to_owned(),
            "no centre.db in it".into(),
        ));
    }
    // The registry as copied says which campaigns the backup holds.
    let centre_copy = snapshot(&centre, "centre.db")?;
    let entries = {
        use crate::store::CentreStore;
        crate::store::sqlite::centre_store(&centre_copy)?.campaigns()?
    };
    let mut campaigns = Vec::new();
    for entry in &entries {
        snapshot(&data_dir.join(&entry.storage), &entry.storage)?;
        campaigns.push(entry.id.clone());
    }
    let partial = to.with_extension("partial");
    // The backup holds the intake's signing key: readable by its owner only.
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)
            .map_err(|e| io(partial.display(), e))?
    };
    let mut tar = tar::Builder::new(file);
    let mut add = |path: &Path, name: &str| -> Result<(), BackupError> {
        tar.append_path_with_name(path, name)
            .map_err(|e| io(format!("cannot add {name}"), e))
    };
    add(&data_dir.join("intake.key"), "intake.key")?;
    add(&centre_copy, "centre.db")?;
    for entry in &entries {
        add(&staging.path().join(&entry.storage), &entry.storage)?;
    }
    let file = tar
        .into_inner()
        .map_err(|e| io("cannot finish the backup", e))?;
    file.sync_all().map_err(|e| io(partial.display(), e))?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    std::fs::rename(&partial, to).map_err(|e| io(to.display(), e))?;
    Ok(BackupSummary { campaigns, bytes })
}

/// Unpacks a backup into `data_dir`, which must be new or empty, and checks that the centre
/// opens there (its stores migrate to this version if the backup is older). A restore that
/// fails leaves the directory empty.
pub fn restore(from: &Path, data_dir: &Path) -> Result<BackupSummary, BackupError> {
    if data_dir.exists()
        && std::fs::read_dir(data_dir)
            .map_err(|e| io(data_dir.display(), e))?
            .next()
            .is_some()
    {
        return Err(BackupError::NotEmpty(data_dir.to_owned()));
    }
    std::fs::create_dir_all(data_dir).map_err(|e| io(data_dir.display(), e))?;
    let restored = unpack(from, data_dir);
    if restored.is_err() {
        for entry in std::fs::read_dir(data_dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
    restored
}

fn unpack(from: &Path, data_dir: &Path) -> Result<BackupSummary, BackupError> {
    let file = std::fs::File::open(from).map_err(|e| io(from.display(), e))?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut archive = tar::Archive::new(file);
    let not_a_backup = |why: String| BackupError::NotABackup(from.to_owned(), why);
    for entry in archive.entries().map_err(|e| not_a_backup(e.to_string()))? {
        let mut entry = entry.map_err(|e| not_a_backup(e.to_string()))?;
        let name = entry
            .path()
            .map_err(|e| not_a_backup(e.to_string()))?
            .into_owned();
        // Only the names a backup holds: nothing lands outside the data directory.
        let plain = name == Path::new("intake.key")
            || name == Path::new("centre.db")
            || (name.starts_with("campaigns")
                && name.components().count() == 2
                && name.extension().is_some_and(|e| e == "db"))
            || (name.components().count() == 1 && name.extension().is_some_and(|e| e == "db"));
        if !plain || entry.header().entry_type() != tar::EntryType::Regular {
            return Err(not_a_backup(format!("unexpected entry {}", name.display())));
        }
        let target = data_dir.join(&name);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io(dir.display(), e))?;
        }
        entry.unpack(&target).map_err(|e| io(target.display(), e))?;
    }
    if !data_dir.join("centre.db").exists() || !data_dir.join("intake.key").exists() {
        return Err(not_a_backup("no centre.db or intake.key in it".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(
            data_dir.join("intake.key"),
            std::fs::Permissions::from_mode(0o600),
        );
    }
    let centre = crate::open(data_dir).map_err(BackupError::Io)?;
    let campaigns = centre
        .entries()
        .map_err(|e| BackupError::Io(e.to_string()))?
        .into_iter()
        .map(|e| e.id)
        .collect();
    Ok(BackupSummary { campaigns, bytes })
}
