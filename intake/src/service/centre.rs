//! The campaigns a centre holds. Each campaign has a store of its own — a SQLite file in the data
//! directory, or a schema of the PostgreSQL database — so every query stays a one-campaign query
//! and a campaign's key, sheets and people cannot meet another's by a missed filter: isolation
//! is structural. The centre's own store lists the campaigns and keeps the accounts, sessions
//! and audit log they share (see `docs/ARCHITECTURE.md`, "Several campaigns").
//!
//! Campaigns are found by id and kept open; one imported by another process (the command line,
//! a second `intake serve`) is found the first time something names it.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::RwLock,
};

use super::*;
use crate::{
    campaign::Campaign,
    store::{CampaignEntry, CentreStore, ImportSummary},
};

/// What every campaign's intake shares with the centre.
pub struct Shared {
    pub accounts: Arc<dyn CentreStore>,
    pub key: DeviceKey,
    /// Wrong passphrases of a campaign key, per account (across campaigns).
    pub passphrase_limiter: FailureLimiter<String>,
    /// One passphrase check at a time: each costs 64 MiB of argon2 memory.
    pub(super) passphrase_gate: Mutex<()>,
}

/// Where campaigns' stores live, and how a new one is made.
pub trait Stores: Send + Sync {
    fn open(&self, storage: &str) -> Result<Arc<dyn Store>, StoreError>;
    /// A fresh store for a new campaign, and where it is. What a failed import left there
    /// before (never registered, so never used) is cleared first.
    fn create(&self, campaign: &str) -> Result<(String, Arc<dyn Store>), StoreError>;
}

/// Campaign stores as SQLite files under the data directory (`campaigns/<id>.db`).
pub struct SqliteStores {
    pub dir: PathBuf,
}

/// Whether a registry entry names a file inside the data directory: `campaigns/<name>.db`, or
/// the one-campaign days' `intake.db`. A registry is data (a backup may have been altered), so
/// a path out of the directory is never opened.
pub fn is_campaign_file(storage: &str) -> bool {
    let plain = |name: &str| {
        name.strip_suffix(".db").is_some_and(|stem| {
            !stem.is_empty()
                && stem
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
                && !stem.starts_with('.')
        })
    };
    match storage.split_once('/') {
        Some(("campaigns", name)) => plain(name),
        None => storage == "intake.db",
        _ => false,
    }
}

impl Stores for SqliteStores {
    fn open(&self, storage: &str) -> Result<Arc<dyn Store>, StoreError> {
        if !is_campaign_file(storage) {
            return Err(StoreError::Corrupt(format!(
                "the campaign registry names {storage:?}, which is not a campaign file of this data directory"
            )));
        }
        Ok(Arc::new(crate::store::sqlite::campaign_store(
            &self.dir.join(storage),
        )?))
    }

    fn create(&self, campaign: &str) -> Result<(String, Arc<dyn Store>), StoreError> {
        let storage = format!("campaigns/{campaign}.db");
        let path = self.dir.join(&storage);
        std::fs::create_dir_all(path.parent().expect("under the data directory"))
            .map_err(|e| StoreError::Corrupt(format!("cannot create {}: {e}", path.display())))?;
        for leftover in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{leftover}", path.display()));
            if file.exists() {
                std::fs::remove_file(&file).map_err(|e| {
                    StoreError::Corrupt(format!("cannot clear {}: {e}", file.display()))
                })?;
            }
        }
        let store = self.open(&storage)?;
        Ok((storage, store))
    }
}

/// Campaign stores as schemas of one PostgreSQL database (`c_<id>`).
pub struct PostgresStores {
    pub db: Arc<crate::store::postgres::Database>,
}

impl Stores for PostgresStores {
    fn open(&self, storage: &str) -> Result<Arc<dyn Store>, StoreError> {
        Ok(Arc::new(crate::store::postgres::campaign_store(
            &self.db, storage,
        )?))
    }

    fn create(&self, campaign: &str) -> Result<(String, Arc<dyn Store>), StoreError> {
        let schema = crate::store::postgres::campaign_schema(campaign);
        // What a failed import left (never registered, so never used) is dropped; a schema a
        // registered campaign uses never is, whatever another process did meanwhile.
        let registered = crate::store::postgres::centre_store(&self.db)?
            .campaigns()?
            .iter()
            .any(|e| e.storage == schema);
        if registered {
            return Err(StoreError::CampaignExists(campaign.to_string()));
        }
        self.db.drop_schema(&schema)?;
        let store = self.open(&schema)?;
        Ok((schema, store))
    }
}

/// The centre: its campaigns, its own store, and the state of its doors.
pub struct Centre {
    pub shared: Arc<Shared>,
    stores: Box<dyn Stores>,
    campaigns: RwLock<BTreeMap<String, Arc<Intake>>>,
    /// Which campaign a device belongs to, once found (a device id never moves).
    device_campaigns: Mutex<HashMap<Uuid, String>>,
    /// Refused logins already written to the audit log this window (bounded): a flood of
    /// refused attempts writes one row per login and address, not one per attempt.
    /// How long a password check took lately (microseconds): what a name that is no account
    /// waits when its check is skipped.
    password_check_micros: std::sync::atomic::AtomicU64,
    /// Repeated refusals not yet added to their audit row (see [`Centre::audit_repeated`]).
    repeated: Arc<Mutex<HashMap<RepeatedKey, Repeated>>>,
    /// Whether the thread that writes held-back counts runs.
    repeated_flusher: std::sync::Once,
    /// Mark session cookies `Secure` (set when the intake is served behind TLS).
    pub secure_cookies: bool,
    /// Reverse proxies the operator named (`--trusted-proxy`): only from them is a client's
    /// address taken from `X-Forwarded-For`.
    pub trusted_proxies: Vec<IpAddr>,
}

/// The campaign file's family and year, as the registry keeps them: the family defaults to the
/// campaign's id, the year to the year its hand-out starts.
fn family_and_year(c: &Campaign) -> (String, i32) {
    use chrono::Datelike;
    (
        c.family.clone().unwrap_or_else(|| c.id.clone()),
        c.year.unwrap_or_else(|| c.timeline.distribute.start.year()),
    )
}

impl Centre {
    /// A centre over its own store and campaign stores; every registered campaign is opened.
    pub fn new(
        accounts: Arc<dyn CentreStore>,
        stores: Box<dyn Stores>,
        key: DeviceKey,
    ) -> Result<Centre, IntakeError> {
        let centre = Centre {
            shared: Arc::new(Shared {
                accounts,
                key,
                passphrase_limiter: FailureLimiter::new(
                    crate::accounts::PASSPHRASE_MAX_FAILURES,
                    crate::accounts::LOGIN_WINDOW,
                ),
                passphrase_gate: Mutex::new(()),
            }),
            stores,
            campaigns: RwLock::new(BTreeMap::new()),
            device_campaigns: Mutex::new(HashMap::new()),
            password_check_micros: std::sync::atomic::AtomicU64::new(50_000),
            repeated: Default::default(),
            repeated_flusher: std::sync::Once::new(),
            secure_cookies: false,
            trusted_proxies: Vec::new(),
        };
        centre.reload()?;
        Ok(centre)
    }

    /// The centre's own store.
    pub fn accounts(&self) -> &dyn CentreStore {
        self.shared.accounts.as_ref()
    }

    /// Opens the campaigns registered since the last look (by another process, say).
    fn reload(&self) -> Result<(), IntakeError> {
        let entries = self.shared.accounts.campaigns()?;
        let missing: Vec<CampaignEntry> = {
            let open = self.campaigns.read().unwrap_or_else(|p| p.into_inner());
            entries
                .into_iter()
                .filter(|e| !open.contains_key(&e.id))
                .collect()
        };
        for entry in missing {
            let store = self.stores.open(&entry.storage)?;
            let intake = Arc::new(Intake::new(&entry.id, store, self.shared.clone()));
            self.campaigns
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(entry.id, intake);
        }
        Ok(())
    }

    /// The campaign with this id, or `None` when the centre holds none such.
    pub fn campaign(&self, id: &str) -> Result<Option<Arc<Intake>>, IntakeError> {
        let found = self
            .campaigns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned();
        if found.is_some() {
            return Ok(found);
        }
        self.reload()?;
        Ok(self
            .campaigns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned())
    }

    /// Every campaign's intake, oldest first.
    pub fn intakes(&self) -> Result<Vec<Arc<Intake>>, IntakeError> {
        self.reload()?;
        let open = self.campaigns.read().unwrap_or_else(|p| p.into_inner());
        Ok(self
            .shared
            .accounts
            .campaigns()?
            .iter()
            .filter_map(|e| open.get(&e.id).cloned())
            .collect())
    }

    /// The registry's entries (name, family, year), oldest first.
    pub fn entries(&self) -> Result<Vec<CampaignEntry>, IntakeError> {
        Ok(self.shared.accounts.campaigns()?)
    }

    /// The only campaign, for the command line when it names none; an error naming them all
    /// when there are several (or none).
    pub fn sole_campaign(&self, named: Option<&str>) -> Result<Arc<Intake>, IntakeError> {
        if let Some(id) = named {
            return self
                .campaign(id)?
                .ok_or_else(|| IntakeError::Store(StoreError::UnknownCampaign(id.to_string())));
        }
        let all = self.intakes()?;
        match all.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(IntakeError::Store(StoreError::NoCampaign)),
            many => Err(IntakeError::Declined(format!(
                "this centre holds {} campaigns ({}); name one with --campaign",
                many.len(),
                many.iter()
                    .map(|i| i.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Imports a campaign file with its form versions into a store of its own, and registers
    /// it with the supervisors the file names (their accounts are granted its districts).
    pub fn import(
        &self,
        campaign: &Campaign,
        source: &str,
        forms: &[crate::form_files::StoredForm],
        now: DateTime<Utc>,
    ) -> Result<ImportSummary, IntakeError> {
        if self.campaign(&campaign.id)?.is_some() {
            return Err(StoreError::CampaignExists(campaign.id.clone()).into());
        }
        let (storage, store) = self.stores.create(&campaign.id)?;
        let summary = store.import_campaign(campaign, source, forms, now)?;
        let (family, year) = family_and_year(campaign);
        let entry = CampaignEntry {
            id: campaign.id.clone(),
            name: campaign.name.clone(),
            storage,
            family,
            year,
            added_at: crate::store::campaign::rfc3339(now),
        };
        let supervisors: Vec<crate::store::NamedSupervisor> = campaign
            .supervisors
            .iter()
            .map(|s| (s.login.clone(), s.name.clone(), s.districts.clone()))
            .collect();
        self.shared
            .accounts
            .register_campaign(&entry, &supervisors, now)?;
        let intake = Arc::new(Intake::new(&entry.id, store, self.shared.clone()));
        self.campaigns
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(entry.id, intake);
        Ok(summary)
    }

    /// The campaign a device is enrolled in (every campaign is asked once; the answer is kept).
    pub fn campaign_of_device(&self, device: Uuid) -> Result<Arc<Intake>, IntakeError> {
        let known = self
            .device_campaigns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&device)
            .cloned();
        if let Some(id) = known {
            if let Some(intake) = self.campaign(&id)? {
                return Ok(intake);
            }
        }
        for intake in self.intakes()? {
            if intake.store.device(device)?.is_some() {
                self.device_campaigns
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(device, intake.id.clone());
                return Ok(intake);
            }
        }
        Err(IntakeError::UnknownDevice(device))
    }

    /// The centre's time zone, for its own pages (the audit log, the list of campaigns): its
    /// first campaign's; Vietnam's before there is one.
    pub fn time_zone(&self) -> Result<chrono_tz::Tz, IntakeError> {
        match self.intakes()?.first() {
            Some(first) => first.time_zone(),
            None => Ok(chrono_tz::Asia::Ho_Chi_Minh),
        }
    }

    /// Where a request comes from: the socket's address; or, when that is a trusted proxy, the
    /// nearest address in `X-Forwarded-For` that is not one (read from the right: entries to
    /// the left of a client's own are whatever the client chose to send).
    pub fn client_address(
        &self,
        socket: Option<IpAddr>,
        headers: &axum::http::HeaderMap,
    ) -> IpAddr {
        let unknown = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
        let Some(socket) = socket else { return unknown };
        if !self.trusted_proxies.contains(&socket) {
            return socket;
        }
        let forwarded: Vec<Option<IpAddr>> = headers
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|v| v.to_str().unwrap_or("?").split(','))
            .map(|a| a.trim().parse().ok())
            .collect();
        for address in forwarded.into_iter().rev() {
            match address {
                Some(a) if self.trusted_proxies.contains(&a) => continue,
                Some(a) => return a,
                // Garbage where an address should be: nothing further left can be trusted.
                None => break,
            }
        }
        socket
    }
}

/// Opens the centre kept in `data_dir`, creating it if new: `centre.db` (the centre's own
/// store), `campaigns/<id>.db` (one per campaign), `intake.key`. A data directory made before
/// centres held several campaigns (one `intake.db`) is taken over as it is: its campaign is
/// registered where it lies, and its accounts, sessions and audit log move into `centre.db`.
pub fn open_sqlite(data_dir: &Path, key: DeviceKey) -> Result<Centre, IntakeError> {
    let centre_db = data_dir.join("centre.db");
    let accounts = Arc::new(crate::store::sqlite::centre_store(&centre_db)?);
    let legacy = data_dir.join("intake.db");
    if legacy.exists()
        && !accounts
            .campaigns()?
            .iter()
            .any(|e| e.storage == "intake.db")
    {
        if let Some(entry) = legacy_entry(&legacy)? {
            crate::store::sqlite::adopt_legacy(&centre_db, &legacy, &entry)?;
        }
    }
    Centre::new(
        accounts,
        Box::new(SqliteStores {
            dir: data_dir.to_owned(),
        }),
        key,
    )
}

/// A centre on PostgreSQL at `url`: its registry, accounts and audit log in schema `centre`, a
/// schema per campaign, and the intake's key in the database (every process serving it signs
/// with the same key).
pub fn open_postgres(url: &str) -> Result<Centre, IntakeError> {
    let db = crate::store::postgres::Database::connect(url)?;
    let accounts = Arc::new(crate::store::postgres::centre_store(&db)?);
    let key = crate::store::postgres::intake_key(&db)?;
    Centre::new(accounts, Box::new(PostgresStores { db }), key)
}

/// The registry entry of a single-campaign database of old, read before it is migrated.
fn legacy_entry(path: &Path) -> Result<Option<CampaignEntry>, IntakeError> {
    use rusqlite::OptionalExtension;
    let conn = rusqlite::Connection::open(path).map_err(StoreError::from)?;
    let row: Option<(String, String, String, String)> = conn
        .query_row(
            "SELECT id, name, timeline, imported_at FROM campaign",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(StoreError::from)?;
    let Some((id, name, timeline, added_at)) = row else {
        return Ok(None);
    };
    let timeline: sync_protocol::assignment::Timeline =
        serde_json::from_str(&timeline).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    use chrono::Datelike;
    Ok(Some(CampaignEntry {
        family: id.clone(),
        id,
        name,
        storage: "intake.db".into(),
        year: timeline.distribute.start.year(),
        added_at,
    }))
}

/// One counted audit row's identity: action, address, login and what was refused.
type RepeatedKey = (String, String, String, String);

/// Occurrences of one counted row not yet in the store.
struct Repeated {
    held: u64,
    written_at: Instant,
    campaign: Option<String>,
}

impl Centre {
    /// Audits a refusal that a flood would repeat — a device's bad signature, an unknown
    /// device, a wrong enrollment code, a name that is no account, a form that cannot be read
    /// — as one row per action, address, login and cause in [`crate::accounts::LOGIN_WINDOW`],
    /// counting how many times. The first occurrence is written at once; the count reaches the
    /// store at most once a second per row — a flood costs a write a second, not one per
    /// request — and a background thread writes what is held back within two seconds even when
    /// nothing more comes (a crash loses at most that).
    pub fn audit_repeated(
        &self,
        login: &str,
        campaign: Option<&str>,
        action: &str,
        detail: &str,
        address: &str,
    ) -> Result<(), IntakeError> {
        const KEYS: usize = 10_000;
        self.start_repeated_flusher();
        let mut pending = self.repeated.lock().unwrap_or_else(|p| p.into_inner());
        let mut key = (
            action.to_string(),
            address.to_string(),
            crate::store::bounded(login, crate::store::AUDIT_LOGIN_MAX),
            crate::store::bounded(detail, 300),
        );
        if !pending.contains_key(&key) && pending.len() >= KEYS {
            pending.retain(|_, r| r.held > 0 || r.written_at.elapsed() < LOGIN_WINDOW_STD);
            if pending.len() >= KEYS {
                // Past the bound, new rows share one per action.
                key = (
                    action.to_string(),
                    "nhiều địa chỉ".into(),
                    String::new(),
                    "nhiều lý do".into(),
                );
            }
        }
        let first = !pending.contains_key(&key);
        let entry = pending.entry(key.clone()).or_insert(Repeated {
            held: 0,
            written_at: Instant::now(),
            campaign: campaign.map(String::from),
        });
        entry.held += 1;
        if !first && entry.written_at.elapsed() < std::time::Duration::from_secs(1) {
            return Ok(());
        }
        let times = std::mem::take(&mut entry.held);
        entry.written_at = Instant::now();
        drop(pending);
        write_repeated(self.accounts(), &key, campaign, times)
    }

    fn start_repeated_flusher(&self) {
        self.repeated_flusher.call_once(|| {
            let (pending, accounts) =
                (Arc::downgrade(&self.repeated), self.shared.accounts.clone());
            std::thread::spawn(move || loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
                let Some(pending) = pending.upgrade() else {
                    return;
                };
                let due: Vec<(RepeatedKey, Option<String>, u64)> = {
                    let mut map = pending.lock().unwrap_or_else(|p| p.into_inner());
                    map.iter_mut()
                        .filter(|(_, r)| {
                            r.held > 0
                                && r.written_at.elapsed() >= std::time::Duration::from_secs(1)
                        })
                        .map(|(k, r)| {
                            r.written_at = Instant::now();
                            (k.clone(), r.campaign.clone(), std::mem::take(&mut r.held))
                        })
                        .collect()
                };
                for (key, campaign, times) in due {
                    if let Err(e) =
                        write_repeated(accounts.as_ref(), &key, campaign.as_deref(), times)
                    {
                        tracing::warn!(error = %e, "a held-back audit count could not be written");
                    }
                }
            });
        });
    }
}

const LOGIN_WINDOW_STD: std::time::Duration = crate::accounts::LOGIN_WINDOW;

fn write_repeated(
    accounts: &dyn CentreStore,
    (action, address, login, detail): &RepeatedKey,
    campaign: Option<&str>,
    times: u64,
) -> Result<(), IntakeError> {
    let now = Utc::now();
    let since = now - Duration::from_std(crate::accounts::LOGIN_WINDOW).expect("fits");
    Ok(accounts.audit_repeated(login, campaign, action, detail, address, times, since, now)?)
}

impl Centre {
    /// How long a password check takes here, lately.
    pub(super) fn password_check_time(&self) -> std::time::Duration {
        std::time::Duration::from_micros(
            self.password_check_micros
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Keeps a moving average of the time password checks take.
    pub(super) fn note_password_check_time(&self, took: std::time::Duration) {
        use std::sync::atomic::Ordering;
        let before = self.password_check_micros.load(Ordering::Relaxed);
        let now = (before * 7 + took.as_micros() as u64) / 8;
        self.password_check_micros.store(now, Ordering::Relaxed);
    }
}
