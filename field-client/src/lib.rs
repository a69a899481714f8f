//! # field-client — the enumerator's device core
//!
//! Everything the tablet knows and does, with no UI and no Tauri: the app (`src-tauri/`) and
//! the tests drive this library. It speaks `sync-protocol` to the intake and validates with
//! `forms`. The tablet may lose power at any moment, so every change of state is written in the
//! same SQLite transaction as the event that records it, and every batch is stored before it is
//! first sent.
//!
//! * [`store`] — the local database and its migrations.
//! * [`Campaigns`] — every campaign the tablet carries, one [`Client`] each (`campaigns.rs`).
//! * [`Client::enroll`], [`Client::refresh_assignment`] — identity and assignment (`enroll.rs`).
//! * [`Client::distribute`] … [`Client::replace`] — the household lifecycle (`lifecycle.rs`).
//! * [`Client::set_answer`] … [`Client::finish_verification`] — keying from paper, double keying,
//!   sealing (`keying.rs`).
//! * [`Client::hand_over_parcel`] — parcels (`parcels.rs`).
//! * [`Client::sync`] — exactly-once delivery (`sync.rs`); [`Client::sync_if_back`] — by itself
//!   when the network returns (`autosync.rs`).
//! * [`Client::today`] — what is due and late (`timeline.rs`).

mod autosync;
mod campaigns;
mod enroll;
pub mod error;
mod keying;
mod lifecycle;
mod parcels;
pub mod store;
mod sync;
mod timeline;

pub use autosync::AutoSync;
pub use campaigns::Campaigns;
pub use enroll::NOT_AN_INTAKE;
pub use error::ClientError;
pub use keying::Mismatch;
pub use parcels::Parcel;
pub use sync::{Progress, RetryPolicy, SyncReport, MAX_BATCH_FRAME_BYTES};
pub use timeline::{Phase, Today, VillageToday};

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::path::{Path, PathBuf};
use sync_protocol::{
    assignment::Assignment,
    batch::BatchHash,
    canonical::to_canonical_bytes,
    event::{Event, EventBody},
    keys::{DeviceKey, PublicKey},
    lifecycle::{HouseholdStatus, Rules},
    signed::SignedDocument,
    DeviceTime,
};

/// The device: its database, its key, and an HTTP client for the intake.
pub struct Client {
    conn: Connection,
    key: DeviceKey,
    http: reqwest::blocking::Client,
    dir: PathBuf,
    /// The verified assignment and the compiled form, kept between keystrokes; cleared when
    /// the assignment is refreshed.
    assignment_cache: std::cell::OnceCell<Assignment>,
    form_cache: std::cell::OnceCell<std::collections::HashMap<String, forms::Form>>,
}

/// What the device stored at enrollment.
#[derive(Clone, Debug)]
pub struct Enrollment {
    pub device: uuid::Uuid,
    pub enumerator: String,
    pub campaign: String,
    pub intake_url: String,
    pub intake_key: PublicKey,
    pub clock_offset: i64,
    pub next_seq: u64,
    pub last_hash: BatchHash,
}

/// A household as the app shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Household {
    pub id: String,
    pub village: String,
    pub serial: String,
    pub name: String,
    pub address: String,
    pub reserve_rank: Option<u32>,
    pub status: HouseholdStatus,
    /// False once the household was reassigned to someone else.
    pub assigned: bool,
    /// Who holds it now, once reassigned away.
    pub moved_to: Option<String>,
    /// Whose work, accepted by a supervisor, this household's record carries.
    pub carried_from: Option<String>,
    /// The household this reserve household replaces, once brought in.
    pub replaces: Option<String>,
    /// This tablet holds a finished first keying of the household's form. A form keyed on
    /// another tablet and carried over into this record (a household moved after keying) has
    /// none here: its first keying is done again on this tablet, so that the verification
    /// compares two real keyings.
    pub first_keyed_here: bool,
}

/// An event the intake rejected, for the enumerator to see.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RejectedEvent {
    pub event: String,
    pub household: Option<String>,
    pub kind: String,
    pub code: String,
    pub reason: String,
    /// `accepted` or `dismissed` once a supervisor decided; `None` while it waits.
    pub resolution: Option<String>,
    pub resolution_note: Option<String>,
}

impl Client {
    /// Opens (or creates) the device's data directory: `device.db` and `device.key`.
    /// A device enrolled but without its assignment (power lost right after enrolling)
    /// downloads it with [`Client::refresh_assignment`] when it next has signal.
    pub fn open(dir: &Path) -> Result<Client, ClientError> {
        let key = {
            create_private_dir(dir)?;
            load_or_create_key(&dir.join("device.key"))?
        };
        Client::open_with_key(dir, key)
    }

    /// Opens a campaign's data directory (`device.db`) with the tablet's key, which every
    /// campaign on the tablet shares (see [`Campaigns`]).
    pub fn open_with_key(dir: &Path, key: DeviceKey) -> Result<Client, ClientError> {
        create_private_dir(dir)?;
        let conn = store::open(&dir.join("device.db"))?;
        // No pooled keep-alive connections: on a tablet that moves between 2G cells and no
        // signal, a pooled connection is often already dead; a fresh one per request is surer.
        let http = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| ClientError::Network(e.to_string()))?;
        Ok(Client {
            conn,
            key,
            http,
            dir: dir.to_owned(),
            assignment_cache: Default::default(),
            form_cache: Default::default(),
        })
    }

    /// A village this device has held, as the assignments named it: (name, commune,
    /// district). Kept after the village is reassigned away, so its households keep a name.
    pub fn village(&self, id: &str) -> Result<Option<(String, String, String)>, ClientError> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, commune, district FROM villages WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public()
    }

    pub fn enrollment(&self) -> Result<Enrollment, ClientError> {
        self.conn
            .query_row(
                "SELECT device_id, enumerator, campaign, intake_url, intake_public_key, clock_offset, next_seq, last_hash FROM device",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, String>(7)?,
                    ))
                },
            )
            .optional()?
            .map(|(d, e, c, u, k, o, s, h)| -> Result<Enrollment, ClientError> {
                Ok(Enrollment {
                    device: uuid::Uuid::parse_str(&d).map_err(|e| ClientError::CorruptDatabase(e.to_string()))?,
                    enumerator: e,
                    campaign: c,
                    intake_url: u,
                    intake_key: PublicKey::from_b64(&k)?,
                    clock_offset: o,
                    next_seq: s as u64,
                    last_hash: BatchHash::from_hex(&h)?,
                })
            })
            .transpose()?
            .ok_or(ClientError::NotEnrolled)
    }

    /// The assignment last downloaded, verified with the intake key when first read.
    pub fn assignment(&self) -> Result<Assignment, ClientError> {
        self.assignment_ref().cloned()
    }

    pub(crate) fn assignment_ref(&self) -> Result<&Assignment, ClientError> {
        if let Some(a) = self.assignment_cache.get() {
            return Ok(a);
        }
        let a = self.load_assignment()?;
        Ok(self.assignment_cache.get_or_init(|| a))
    }

    fn load_assignment(&self) -> Result<Assignment, ClientError> {
        let enrollment = self.enrollment()?;
        let signed: String = self
            .conn
            .query_row("SELECT signed FROM assignment", [], |r| r.get(0))
            .optional()?
            .ok_or(ClientError::NotEnrolled)?;
        let doc: SignedDocument = serde_json::from_str(&signed)
            .map_err(|e| ClientError::CorruptDatabase(e.to_string()))?;
        Ok(Assignment::verify(&doc, &enrollment.intake_key)?)
    }

    fn rules(&self) -> Result<Rules, ClientError> {
        let a = self.assignment_ref()?;
        Ok(Rules {
            replacement_allowed: a.campaign.replacement_allowed,
            verification_required: a.campaign.verification_required,
        })
    }

    /// Now on this device's clock, in the campaign's time zone.
    pub fn now(&self) -> DeviceTime {
        let tz: chrono_tz::Tz = self
            .assignment_ref()
            .ok()
            .and_then(|a| a.campaign.timezone.parse().ok())
            .unwrap_or(chrono_tz::Asia::Ho_Chi_Minh);
        DeviceTime::new(chrono::Utc::now().with_timezone(&tz).fixed_offset())
    }

    pub fn households(&self) -> Result<Vec<Household>, ClientError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {HOUSEHOLD_COLUMNS} FROM households ORDER BY village, reserve_rank IS NOT NULL, reserve_rank, id"
        ))?;
        let rows = stmt
            .query_map([], household_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub fn household(&self, id: &str) -> Result<Household, ClientError> {
        household_in(&self.conn, id)
    }

    /// When the intake last answered this device with its assignment (RFC 3339), if ever.
    pub fn last_contact(&self) -> Result<Option<String>, ClientError> {
        Ok(self
            .conn
            .query_row("SELECT fetched_at FROM assignment", [], |r| r.get(0))
            .optional()?)
    }

    /// Forgets what is cached between keystrokes (assignment, form): another connection to the
    /// same database — the app's background sync — may have refreshed them.
    pub fn reload(&mut self) {
        self.assignment_cache = Default::default();
        self.form_cache = Default::default();
    }

    /// What was recorded for a household, oldest first, with what the intake made of it: first
    /// what other enumerators did before it became ours (as the centre counted it), then ours.
    pub fn history(&self, household: &str) -> Result<Vec<HistoryEntry>, ClientError> {
        let mut earlier = self.conn.prepare(
            "SELECT kind, detail, at, by_name FROM earlier_steps WHERE household = ?1 ORDER BY n",
        )?;
        let mut entries = earlier
            .query_map([household], |r| {
                Ok(HistoryEntry {
                    kind: r.get(0)?,
                    detail: r.get(1)?,
                    note: None,
                    at: r.get(2)?,
                    outcome: Some("accepted".into()),
                    reason: None,
                    code: None,
                    resolution: None,
                    resolution_note: None,
                    by: Some(r.get(3)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut stmt = self.conn.prepare("SELECT kind, body, outcome, reject_reason, reject_code, resolution, resolution_note FROM events WHERE household = ?1 ORDER BY n")?;
        let rows = stmt
            .query_map([household], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get(3)?,
                    (r.get(4)?, r.get(5)?, r.get(6)?),
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(
                |(kind, body, outcome, reason, (code, resolution, resolution_note))| {
                    let event: Event = sync_protocol::canonical::from_canonical_bytes(
                        body.as_bytes(),
                        "stored event",
                    )?;
                    let (detail, note) = (event.body.detail(), event.body.note().map(String::from));
                    Ok(HistoryEntry {
                        kind,
                        detail,
                        note,
                        at: event.at.to_string(),
                        outcome,
                        reason,
                        code,
                        resolution,
                        resolution_note,
                        by: None,
                    })
                },
            )
            .collect::<Result<Vec<_>, ClientError>>()
            .map(|own| {
                entries.extend(own);
                entries
            })
    }

    /// Events the intake rejected, with its reasons and what a supervisor decided; the ones
    /// still waiting for a decision first.
    pub fn rejected_events(&self) -> Result<Vec<RejectedEvent>, ClientError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, household, kind, reject_code, reject_reason, resolution, resolution_note FROM events WHERE outcome = 'rejected' ORDER BY resolution IS NOT NULL, n",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(RejectedEvent {
                    event: r.get(0)?,
                    household: r.get(1)?,
                    kind: r.get(2)?,
                    code: r.get(3)?,
                    reason: r.get(4)?,
                    resolution: r.get(5)?,
                    resolution_note: r.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Refused events no supervisor has decided on yet: while there are any, nothing is "all
    /// synced".
    pub fn unresolved_rejections(&self) -> Result<usize, ClientError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM events WHERE outcome = 'rejected' AND resolution IS NULL",
            [],
            |r| r.get::<_, i64>(0),
        )? as usize)
    }
}

/// One line of a household's history.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    /// The event kind, e.g. `form_distributed`.
    pub kind: String,
    /// The visit outcome, the recipient or the replacement, where there is one.
    pub detail: Option<String>,
    /// What the enumerator wrote down with it.
    pub note: Option<String>,
    /// When, on the device's clock.
    pub at: String,
    /// `accepted` or `rejected` once the intake answered; `None` while unsent.
    pub outcome: Option<String>,
    pub reason: Option<String>,
    /// The rejection code, when rejected.
    pub code: Option<String>,
    /// A supervisor's decision on it, when rejected and decided.
    pub resolution: Option<String>,
    pub resolution_note: Option<String>,
    /// Another enumerator's name, for a step done on their tablet before the household became
    /// ours; `None` for this device's own events.
    pub by: Option<String>,
}

/// A household's columns, with the household it replaces (a reserve brought in by a replacement
/// the intake did not refuse).
const HOUSEHOLD_COLUMNS: &str = "id, village, serial, name, address, reserve_rank, status, assigned, moved_to, carried_from,
    (SELECT e.household FROM events e WHERE e.kind = 'household_replaced' AND json_extract(e.body, '$.body.replacement') = households.id
       AND (e.outcome IS NULL OR e.outcome = 'accepted') ORDER BY e.n DESC LIMIT 1),
    EXISTS (SELECT 1 FROM keying_sessions k WHERE k.household = households.id AND k.pass = 1 AND k.finished = 1)";

fn household_from_row(r: &rusqlite::Row) -> rusqlite::Result<Household> {
    let status: String = r.get(6)?;
    Ok(Household {
        id: r.get(0)?,
        village: r.get(1)?,
        serial: r.get(2)?,
        name: r.get(3)?,
        address: r.get(4)?,
        reserve_rank: r.get(5)?,
        status: HouseholdStatus::parse(&status).unwrap_or(HouseholdStatus::Assigned),
        assigned: r.get(7)?,
        moved_to: r.get(8)?,
        carried_from: r.get(9)?,
        replaces: r.get(10)?,
        first_keyed_here: r.get(11)?,
    })
}

fn household_in(conn: &Connection, id: &str) -> Result<Household, ClientError> {
    conn.prepare_cached(&format!(
        "SELECT {HOUSEHOLD_COLUMNS} FROM households WHERE id = ?1"
    ))?
    .query_row([id], household_from_row)
    .optional()?
    .ok_or_else(|| ClientError::UnknownHousehold(id.into()))
}

/// Records an event in the caller's transaction (the state change goes in the same one).
fn record(tx: &Transaction, event: &Event) -> Result<(), ClientError> {
    let body = String::from_utf8(to_canonical_bytes(event)?).expect("canonical JSON is UTF-8");
    tx.execute(
        "INSERT INTO events (id, household, kind, body) VALUES (?1, ?2, ?3, ?4)",
        params![
            event.id.to_string(),
            event.household,
            event.body.kind(),
            body
        ],
    )?;
    Ok(())
}

fn set_status(
    tx: &Transaction,
    household: &str,
    status: HouseholdStatus,
) -> Result<(), ClientError> {
    tx.execute(
        "UPDATE households SET status = ?1 WHERE id = ?2",
        params![status.as_str(), household],
    )?;
    Ok(())
}

fn household_event(client: &Client, h: &Household, body: EventBody) -> Result<Event, ClientError> {
    let enrollment = client.enrollment()?;
    Ok(Event::for_household(
        &h.id,
        &h.serial,
        &enrollment.enumerator,
        client.now(),
        body,
    ))
}

/// A directory only this app's user may read: the databases hold names and addresses.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), ClientError> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

pub(crate) fn load_or_create_key(path: &Path) -> Result<DeviceKey, ClientError> {
    // The OS keyring (Secret Service) is not available on a headless tablet build or in CI;
    // the key lives in an owner-only file in the app's private data directory.
    if path.exists() {
        let text = std::fs::read_to_string(path)?;
        return Ok(DeviceKey::from_b64(text.trim())?);
    }
    let key = DeviceKey::generate(&mut rand::rngs::OsRng);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    let mut file = options.open(path)?;
    file.write_all(sync_protocol::keys::b64(&key.seed()).as_bytes())?;
    file.sync_all()?;
    Ok(key)
}
