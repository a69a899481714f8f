//! What the intake does, independent of HTTP. A [`Centre`] holds several campaigns, each an
//! [`Intake`] over a store of its own (so one campaign's key, sheets and people never meet
//! another's), and what they share: the accounts, the signing key and the limiters. The work is
//! split by who it serves, one file each:
//!
//! * [`centre`] — the campaigns a centre holds: opening, importing, finding one;
//! * [`devices`] — enrollment (finding the campaign by its code), request authentication
//!   (by the device), assignments, and the **integrity** layer of ingest (by the batch's
//!   campaign), before the store applies chain checks and the domain layer in one transaction;
//! * [`people`] — logging in and the accounts admins keep (the centre's);
//! * [`supervision`] — reassignment and progress;
//! * [`ministry`] — the key, answers, the index, exports, reconciliation, back-checks, reviews;
//! * [`years`] — targets per area and the comparison of a form family's years.

mod centre;
mod devices;
mod ministry;
pub use ministry::{backcheck_record_seen, ReviewRow, ReviewSheet, PAPER_LINES_MAX};
mod people;
pub use people::LoggedIn;
mod supervision;
pub use supervision::ReassignPlan;
mod years;

pub use centre::{
    is_campaign_file, open_postgres, open_sqlite, Centre, PostgresStores, Shared, SqliteStores,
    Stores,
};
pub use years::{KeptIndex, KeptRow, YearCell, YearComparison, YearRow};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Instant,
};
use sync_protocol::{
    api::{self, ChainHead, EnrollRequest, EnrollResponse},
    assignment::Assignment,
    batch::SignedBatch,
    keys::DeviceKey,
    signed::SignedDocument,
    DeviceTime, PROTOCOL_VERSION,
};
use uuid::Uuid;

use crate::{
    error::IntakeError,
    store::{Alert, DeviceRecord, IngestResult, Store, StoreError},
};

/// Refused enrollment codes allowed within [`ENROLL_WINDOW`] from one address, for one code
/// presented (an expired or used one retried from many addresses), and in all (guessing from
/// many addresses). Past any of them even a good code waits: enrollments are rare and can wait
/// a quarter of an hour. Honest mistakes are a few typos an hour even when a whole country
/// enrolls; 100 guesses a quarter of an hour against 60 random bits is nothing.
pub const ENROLL_MAX_FAILURES: u32 = 5;
pub const ENROLL_CODE_MAX_FAILURES: u32 = 5;
pub const ENROLL_ALL_MAX_FAILURES: u32 = 100;
pub const ENROLL_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Crockford base32, without the letters people confuse (I, L, O, U).
const CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh one-time enrollment code, `XXXX-XXXX-XXXX` (60 random bits).
pub fn new_enrollment_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let chars: Vec<char> = (0..12)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect();
    format!(
        "{}-{}-{}",
        chars[..4].iter().collect::<String>(),
        chars[4..8].iter().collect::<String>(),
        chars[8..].iter().collect::<String>()
    )
}

/// The stored form of a code: SHA-256 of its normalized spelling (case, dashes and look-alike
/// letters do not matter, so a code read over the phone still works).
pub fn code_hash(code: &str) -> String {
    let normalized: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    hex::encode(Sha256::digest(normalized.as_bytes()))
}

/// Counts failures (wrong enrollment codes per address, wrong passwords per login and
/// address) within a window, and refuses once there were too many.
pub struct FailureLimiter<K> {
    failures: Mutex<HashMap<K, Vec<Instant>>>,
    max: usize,
    window: std::time::Duration,
}

impl<K: std::hash::Hash + Eq + Clone> FailureLimiter<K> {
    pub fn new(max: usize, window: std::time::Duration) -> Self {
        FailureLimiter {
            failures: Mutex::new(HashMap::new()),
            max,
            window,
        }
    }

    /// Keys remembered at most; past that, the expired ones are forgotten, and if all are
    /// recent every new key is refused until some expire (memory stays bounded under a flood).
    const MAX_KEYS: usize = 10_000;

    fn check(&self, key: &K) -> Result<(), IntakeError> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::MAX_KEYS && !map.contains_key(key) {
            let window = self.window;
            map.retain(|_, list| list.last().is_some_and(|t| t.elapsed() < window));
            if map.len() >= Self::MAX_KEYS {
                return Err(IntakeError::RateLimited {
                    retry_after_secs: window.as_secs().max(1),
                });
            }
        }
        let Some(list) = map.get_mut(key) else {
            return Ok(());
        };
        list.retain(|t| t.elapsed() < self.window);
        if list.len() >= self.max {
            let retry_after_secs = self
                .window
                .saturating_sub(list[0].elapsed())
                .as_secs()
                .max(1);
            return Err(IntakeError::RateLimited { retry_after_secs });
        }
        Ok(())
    }

    fn fail(&self, key: K) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() < Self::MAX_KEYS || map.contains_key(&key) {
            let list = map.entry(key).or_default();
            list.retain(|t| t.elapsed() < self.window);
            list.push(Instant::now());
        }
    }
}

/// The alert raised for a sealed sheet that cannot be opened.
pub const UNOPENABLE_ALERT: &str = "sealed_answers_unopenable";

/// Answers opened with the ministry's key, and the sheets that could not be.
#[derive(Default)]
pub struct OpenedAnswers {
    pub sheets: Vec<(crate::store::SealedForm, sync_protocol::seal::AnswerSheet)>,
    pub unopenable: Vec<Unopenable>,
}

/// A sealed sheet left out of every figure: it must be keyed again from its paper.
#[derive(Debug, Clone)]
pub struct Unopenable {
    pub form: crate::store::SealedForm,
    /// Why, in Vietnamese.
    pub reason: String,
}

/// What recording a batch of paper serials did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaperRecorded {
    /// Serials recorded.
    pub recorded: usize,
    /// Of them, different serials (a form scanned twice is one).
    pub distinct: usize,
    /// Lines that are no serial, not recorded, as typed.
    pub left_out: Vec<String>,
    /// Recorded serials that belong to no household of the sample.
    pub not_in_sample: Vec<String>,
    /// Recorded serials an earlier recording holds already (each once, sorted).
    pub recorded_before: Vec<String>,
}

/// What one back-check visit found, as the officer records it.
pub struct BackcheckVisit<'a> {
    /// The draw the visit was on, when recorded from its list.
    pub draw: Option<i64>,
    /// `confirmed`, `not_visited` or `answers_differ`.
    pub outcome: &'a str,
    pub note: &'a str,
    /// The earlier record of the household's visit that may be replaced
    /// ([`backcheck_record_seen`], as the question to replace it carried).
    pub replacing: Option<&'a str>,
}

/// A back-check visit recorded, or an earlier one to be replaced only once the officer says so.
pub enum BackcheckRecorded {
    Recorded,
    AsksToReplace(crate::store::BackcheckOutcome),
}

/// The index with what the page shows beside it.
pub struct ComputedIndex {
    pub report: forms::index::IndexReport,
    /// The Vietnamese labels of the index's parts and criteria, by id (the form's index rule).
    pub labels: HashMap<String, String>,
    /// The parts, then the criteria, in the form's report order (the rule's order).
    pub part_order: Vec<String>,
    pub criterion_order: Vec<String>,
    /// Households whose satisfaction items all carry one code (to look at again).
    pub straight_lined: Vec<String>,
    /// Households whose sheet has no answer the index counts (all blank, unreadable, or only
    /// "no answer" codes): a form in their areas' counts, nothing in their figures.
    pub nothing_counted: Vec<String>,
    /// Sheets with answers the index leaves out for what they are (see `forms::answer`).
    pub answer_anomalies: Vec<AnswerAnomaly>,
    pub unopenable: Vec<Unopenable>,
}

/// One opened sheet's answers that the index cannot count: answers to questions its own
/// answers rule out, and values no conforming device sends. Question numbers as printed (or
/// the question's name where the form prints none), in the form's order.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AnswerAnomaly {
    pub household: String,
    pub not_applying: Vec<String>,
    pub invalid: Vec<String>,
}

impl AnswerAnomaly {
    /// The anomalies of one sheet read with the version it was sealed under, if any.
    pub fn of(
        household: &str,
        version: &forms::Form,
        answers: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Option<AnswerAnomaly> {
        let readings = forms::answer::read(version, answers);
        let (mut not_applying, mut invalid) = (Vec::new(), Vec::new());
        for (id, reading) in forms::answer::anomalies(version, &readings) {
            let number = version
                .question(&id)
                .map(|q| q.number.trim())
                .filter(|n| !n.is_empty())
                .map(String::from)
                .unwrap_or(id);
            match reading {
                forms::answer::Reading::NotApplying => not_applying.push(number),
                _ => invalid.push(number),
            }
        }
        (!not_applying.is_empty() || !invalid.is_empty()).then(|| AnswerAnomaly {
            household: household.to_string(),
            not_applying,
            invalid,
        })
    }
}

/// A campaign's form versions by reference, and the reference of the current one.
pub struct FormVersions {
    pub current: String,
    pub all: HashMap<String, forms::Form>,
}

impl FormVersions {
    /// The version new sheets are keyed with.
    pub fn current(&self) -> &forms::Form {
        &self.all[&self.current]
    }

    /// The version a sheet names, or the current one for a reference the campaign lacks.
    pub fn of(&self, reference: &str) -> &forms::Form {
        self.all.get(reference).unwrap_or_else(|| self.current())
    }
}

/// One campaign's intake: its store, with what every campaign of the centre shares.
pub struct Intake {
    /// The campaign's id (its store's campaign row holds the rest).
    pub id: String,
    pub store: Arc<dyn Store>,
    pub key: DeviceKey,
    pub shared: Arc<Shared>,
}

impl Intake {
    pub fn new(id: &str, store: Arc<dyn Store>, shared: Arc<Shared>) -> Self {
        Intake {
            id: id.to_string(),
            store,
            key: shared.key.clone(),
            shared,
        }
    }

    /// An audit row about this campaign.
    pub fn audit(
        &self,
        login: &str,
        action: &str,
        detail: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<(), crate::store::StoreError> {
        self.shared
            .accounts
            .audit(login, Some(&self.id), action, detail, address, now)
    }

    /// The form new sheets are keyed with: the version the campaign names now.
    pub fn form(&self) -> Result<forms::Form, IntakeError> {
        let mut versions = self.form_versions()?;
        Ok(versions
            .all
            .remove(&versions.current)
            .expect("form_versions holds the current version"))
    }

    /// Every form version, read and compiled once, with the one new sheets are keyed with.
    pub fn form_versions(&self) -> Result<FormVersions, IntakeError> {
        let current = self.store.campaign()?.info.form;
        let all = self.forms()?;
        if !all.contains_key(&current) {
            return Err(IntakeError::Store(crate::store::StoreError::FormMissing(
                current,
            )));
        }
        Ok(FormVersions { current, all })
    }

    /// Every form version of the campaign, by reference: each sheet is opened, checked and
    /// exported with the version it was sealed under.
    pub fn forms(&self) -> Result<std::collections::HashMap<String, forms::Form>, IntakeError> {
        self.store
            .forms()?
            .into_iter()
            .map(|f| {
                let form = f.compile().map_err(|e| {
                    IntakeError::Store(crate::store::StoreError::Corrupt(e.to_string()))
                })?;
                Ok((f.reference, form))
            })
            .collect()
    }

    /// The household a serial typed by hand names, among those `visible` admits: as printed
    /// (case, blanks and dashes as [`crate::reconcile::normalize_serial`] reads them), or typed
    /// without its hyphen («QT2400012») when putting one hyphen back names exactly one
    /// household. Returns its id and its serial as printed. Households `visible` refuses are
    /// never looked at further, so which exist elsewhere is not learned from the answer.
    pub fn household_by_typed_serial(
        &self,
        typed: &str,
        visible: impl Fn(&str) -> bool,
    ) -> Result<Option<(String, String)>, IntakeError> {
        let serial = crate::reconcile::normalize_serial(typed);
        if let Some(id) = self
            .store
            .household_by_serial(&serial)?
            .filter(|id| visible(id))
        {
            return Ok(Some((id, serial)));
        }
        // A serial with no hyphen, and short: one lookup by index for each place a hyphen can go.
        if serial.len() > 40 || !serial.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let mut found: Vec<(String, String)> = Vec::new();
        for at in 1..serial.len() {
            let printed = format!("{}-{}", &serial[..at], &serial[at..]);
            if let Some(id) = self
                .store
                .household_by_serial(&printed)?
                .filter(|id| visible(id))
            {
                found.push((id, printed));
            }
        }
        Ok(if found.len() == 1 { found.pop() } else { None })
    }

    /// The campaign's time zone: every time a person reads is in it.
    pub fn time_zone(&self) -> Result<chrono_tz::Tz, IntakeError> {
        Ok(time_zone_of(&self.store.campaign()?.info))
    }

    /// An account's name, for pages that say who decided (its login where it is gone).
    pub fn person_name(&self, login: &str) -> Result<String, IntakeError> {
        Ok(self
            .shared
            .accounts
            .account(login)?
            .map(|a| a.name)
            .unwrap_or_else(|| login.to_string()))
    }

    /// Login → the name people read, for every login given, each account read once (a login
    /// with no account is named by itself).
    pub fn person_names<'a>(
        &self,
        logins: impl IntoIterator<Item = &'a str>,
    ) -> Result<std::collections::HashMap<String, String>, IntakeError> {
        let mut names = std::collections::HashMap::new();
        for login in logins {
            if !names.contains_key(login) {
                names.insert(login.to_string(), self.person_name(login)?);
            }
        }
        Ok(names)
    }

    /// Enumerator id → name, for pages and exports that speak of people.
    pub fn enumerator_names(
        &self,
    ) -> Result<std::collections::HashMap<String, String>, IntakeError> {
        Ok(self.store.enumerators()?.into_iter().collect())
    }
}

/// A campaign's time zone (checked at import; Vietnam's should it ever fail to parse).
pub fn time_zone_of(campaign: &sync_protocol::assignment::CampaignInfo) -> chrono_tz::Tz {
    campaign
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Asia::Ho_Chi_Minh)
}
