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
//! A backup holds the intake's signing key and people's names: it and its staging copies are
//! readable by their owner only. A backup file may come back from less trusted storage, so a
//! restore takes nothing from it on trust: only a backup's own regular files, of bounded size
//! where that is known, every campaign file the registry names and nothing else.
//!
//! On PostgreSQL the database's own tools do this (`pg_dump -Fc`, `pg_restore`): the intake's
//! key is in the database, so a dump is a whole centre.

use std::{
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

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
    #[error("{0} is not a centre's data directory (no centre.db in it)")]
    NotACentre(PathBuf),
    #[error("{0} already exists: a backup never overwrites anything; choose a new file name")]
    TargetExists(PathBuf),
    #[error("{0} is inside the data directory {1}: keep backups elsewhere")]
    TargetInside(PathBuf, PathBuf),
    #[error("{0} is not a Fieldpost backup: {1}")]
    NotABackup(PathBuf, String),
    #[error("{0} is incomplete or damaged: {1}")]
    Damaged(PathBuf, String),
    #[error("{0} is not empty; restore into a new, empty directory")]
    NotEmpty(PathBuf),
    #[error("the restored centre does not open: {0}")]
    DoesNotOpen(String),
}

fn io(what: impl std::fmt::Display, e: std::io::Error) -> BackupError {
    BackupError::Io(format!("{what}: {e}"))
}

/// The staging directories of backups are named after the process making them, so that one
/// left by a backup that was killed can be told from one still in use, and removed.
const STAGING_PREFIX: &str = ".fieldpost-backup-";

/// The intake's key is 32 bytes in base64 and a newline; anything much larger is not a key.
const MAX_KEY_BYTES: u64 = 4096;

/// Copies the centre in `data_dir` into the tar file `to`, which must not exist yet (written
/// whole under a temporary name, then renamed into place: a backup cut short leaves no file
/// that looks complete).
pub fn backup(data_dir: &Path, to: &Path) -> Result<BackupSummary, BackupError> {
    let centre = data_dir.join("centre.db");
    if !centre.is_file() {
        return Err(BackupError::NotACentre(data_dir.to_owned()));
    }
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(BackupError::TargetExists(to.to_owned()));
    }
    let parent = to
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (real_parent, real_data) = (
        std::fs::canonicalize(parent).map_err(|e| io(parent.display(), e))?,
        std::fs::canonicalize(data_dir).map_err(|e| io(data_dir.display(), e))?,
    );
    if real_parent.starts_with(&real_data) {
        return Err(BackupError::TargetInside(
            to.to_owned(),
            data_dir.to_owned(),
        ));
    }
    remove_abandoned_staging(parent);
    let staging = tempfile::Builder::new()
        .prefix(&format!("{STAGING_PREFIX}{}-", std::process::id()))
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(parent)
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
    // The registry as copied says which campaigns the backup holds.
    let centre_copy = snapshot(&centre, "centre.db")?;
    let entries = {
        use crate::store::CentreStore;
        crate::store::sqlite::centre_store(&centre_copy)?.campaigns()?
    };
    let mut campaigns = Vec::new();
    for entry in &entries {
        if !crate::service::is_campaign_file(&entry.storage) {
            return Err(BackupError::Io(format!(
                "the registry names {:?}, which is not a campaign file; nothing was written",
                entry.storage
            )));
        }
        snapshot(&data_dir.join(&entry.storage), &entry.storage)?;
        campaigns.push(entry.id.clone());
    }
    let partial = staging.path().join("backup.partial");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .map_err(|e| io(partial.display(), e))?;
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
    // Linked in place only if nothing appeared there meanwhile (a rename would replace it).
    std::fs::hard_link(&partial, to).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => BackupError::TargetExists(to.to_owned()),
        _ => io(to.display(), e),
    })?;
    Ok(BackupSummary { campaigns, bytes })
}

/// Removes staging directories that backups killed before they finished left in `dir` (their
/// process is gone); those of a backup still running stay.
fn remove_abandoned_staging(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(STAGING_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Unpacks a backup into `data_dir`, which must be new or empty, and checks that the centre
/// opens there (its stores migrate to this version if the backup is older). A restore that
/// fails leaves nothing: the directory as it was, or none if it made it.
pub fn restore(from: &Path, data_dir: &Path) -> Result<BackupSummary, BackupError> {
    let existed = data_dir.exists();
    if existed {
        let entries = std::fs::read_dir(data_dir).map_err(|e| io(data_dir.display(), e))?;
        // A fresh file system's lost+found is no content.
        if entries
            .flatten()
            .any(|e| e.file_name() != std::ffi::OsStr::new("lost+found"))
        {
            return Err(BackupError::NotEmpty(data_dir.to_owned()));
        }
    }
    std::fs::create_dir_all(data_dir).map_err(|e| io(data_dir.display(), e))?;
    let _ = std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700));
    let restored = unpack(from, data_dir);
    if restored.is_err() {
        if existed {
            for entry in std::fs::read_dir(data_dir).into_iter().flatten().flatten() {
                if entry.file_name() == std::ffi::OsStr::new("lost+found") {
                    continue;
                }
                let path = entry.path();
                let _ = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        } else {
            let _ = std::fs::remove_dir_all(data_dir);
        }
    }
    restored
}

fn unpack(from: &Path, data_dir: &Path) -> Result<BackupSummary, BackupError> {
    let file = std::fs::File::open(from).map_err(|e| io(from.display(), e))?;
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut archive = tar::Archive::new(file);
    let not_a_backup = |why: String| BackupError::NotABackup(from.to_owned(), why);
    let damaged = |why: String| BackupError::Damaged(from.to_owned(), why);
    let mut databases = Vec::new();
    for entry in archive.entries().map_err(|e| not_a_backup(e.to_string()))? {
        let mut entry = entry.map_err(|e| damaged(e.to_string()))?;
        let name = entry
            .path()
            .map_err(|e| not_a_backup(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        // Only the names a backup holds: nothing lands outside the data directory.
        let known =
            name == "intake.key" || name == "centre.db" || crate::service::is_campaign_file(&name);
        if !known || entry.header().entry_type() != tar::EntryType::Regular {
            return Err(not_a_backup(format!("unexpected entry {name}")));
        }
        if name == "intake.key" && entry.size() > MAX_KEY_BYTES {
            return Err(not_a_backup(format!(
                "intake.key is {} bytes, not a key",
                entry.size()
            )));
        }
        let target = data_dir.join(&name);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io(dir.display(), e))?;
        }
        entry
            .unpack(&target)
            .map_err(|e| damaged(format!("{name}: {e}")))?;
        if name != "intake.key" && name != "centre.db" {
            databases.push(name);
        }
    }
    if !data_dir.join("centre.db").exists() || !data_dir.join("intake.key").exists() {
        return Err(not_a_backup("no centre.db or intake.key in it".into()));
    }
    let _ = std::fs::set_permissions(
        data_dir.join("intake.key"),
        std::fs::Permissions::from_mode(0o600),
    );
    // Only what the intake itself makes: a backup's database with a trigger, a view or a table
    // of its own would act inside the restored centre (a trigger making every account an
    // admin). Before anything opens it for writing; again, whole, once it is migrated below.
    let own = |campaign: bool| {
        crate::store::sqlite::own_schema(campaign).map_err(|e| damaged(e.to_string()))
    };
    let (own_centre, own_campaign) = (own(false)?, own(true)?);
    // Before migrating, what any release made is in place (a backup of an earlier release);
    // after, exactly what this one makes.
    let ever = |campaign: bool| {
        crate::store::sqlite::own_names_ever(campaign).map_err(|e| damaged(e.to_string()))
    };
    let (ever_centre, ever_campaign) = (ever(false)?, ever(true)?);
    let foreign = |name: &str, exact: bool| -> Result<(), BackupError> {
        let found = rusqlite::Connection::open_with_flags(
            data_dir.join(name),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .map_err(|e| damaged(format!("{name}: {e}")))
        .and_then(|c| {
            crate::store::sqlite::schema_of(&c).map_err(|e| damaged(format!("{name}: {e}")))
        })?;
        let own = if name == "centre.db" {
            &own_centre
        } else {
            &own_campaign
        };
        let ever = if name == "centre.db" {
            &ever_centre
        } else {
            &ever_campaign
        };
        let stray = found.iter().find(|o| {
            if exact {
                !own.iter().any(|m| m == *o)
            } else {
                !ever.contains(&(o.0.clone(), o.1.clone()))
            }
        });
        match stray {
            Some((kind, object, ..)) => Err(not_a_backup(format!(
                "{name} holds {kind} {object:?}, which the intake does not make"
            ))),
            None if exact && found.len() != own.len() => Err(not_a_backup(format!(
                "{name} lacks part of the intake's schema"
            ))),
            None => Ok(()),
        }
    };
    for name in std::iter::once("centre.db").chain(databases.iter().map(String::as_str)) {
        foreign(name, false)?;
    }
    // Every database whole, named when it is not.
    for name in std::iter::once("centre.db").chain(databases.iter().map(String::as_str)) {
        let check = rusqlite::Connection::open_with_flags(
            data_dir.join(name),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .and_then(|c| c.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)));
        match check {
            Ok(ok) if ok == "ok" => {}
            Ok(problem) => return Err(damaged(format!("{name}: {problem}"))),
            Err(e) => return Err(damaged(format!("{name}: {e}"))),
        }
    }
    // Exactly the campaign files the registry names: no more, no less.
    let named: Vec<String> = {
        use crate::store::CentreStore;
        crate::store::sqlite::centre_store(&data_dir.join("centre.db"))
            .map_err(|e| damaged(format!("centre.db: {e}")))?
            .campaigns()
            .map_err(|e| damaged(format!("centre.db: {e}")))?
            .into_iter()
            .map(|e| e.storage)
            .collect()
    };
    if let Some(outside) = named.iter().find(|s| !crate::service::is_campaign_file(s)) {
        return Err(not_a_backup(format!(
            "its registry names {outside:?}, which is not a campaign file"
        )));
    }
    if let Some(missing) = named.iter().find(|s| !databases.contains(s)) {
        return Err(damaged(format!("{missing} is missing")));
    }
    if let Some(extra) = databases.iter().find(|d| !named.contains(d)) {
        return Err(not_a_backup(format!(
            "{extra} is in no campaign of its registry"
        )));
    }
    let centre = crate::open(data_dir).map_err(BackupError::DoesNotOpen)?;
    // Migrated to this release (a backup of an older one included), each must now be exactly
    // the schema this release makes.
    for name in &databases {
        drop(
            crate::store::sqlite::campaign_store(&data_dir.join(name))
                .map_err(|e| BackupError::DoesNotOpen(e.to_string()))?,
        );
    }
    for name in std::iter::once("centre.db").chain(databases.iter().map(String::as_str)) {
        foreign(name, true)?;
    }
    let campaigns = centre
        .entries()
        .map_err(|e| BackupError::DoesNotOpen(e.to_string()))?
        .into_iter()
        .map(|e| e.id)
        .collect();
    Ok(BackupSummary { campaigns, bytes })
}
