//! What the intake does, independent of HTTP: enrollment, device authentication, assignment,
//! and the **integrity** layer of ingest (frame, encoding, limits, signature, device, campaign),
//! before the store applies chain checks and the domain layer in one transaction.

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

/// Wrong enrollment codes allowed from one address within [`ENROLL_WINDOW`].
pub const ENROLL_MAX_FAILURES: usize = 5;
pub const ENROLL_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Crockford base32, without the letters people confuse (I, L, O, U).
const CODE_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh one-time enrollment code, `XXXX-XXXX-XXXX` (60 random bits).
pub fn new_enrollment_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let chars: Vec<char> = (0..12).map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char).collect();
    format!("{}-{}-{}", chars[..4].iter().collect::<String>(), chars[4..8].iter().collect::<String>(), chars[8..].iter().collect::<String>())
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
        FailureLimiter { failures: Mutex::new(HashMap::new()), max, window }
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
                return Err(IntakeError::RateLimited { retry_after_secs: window.as_secs().max(1) });
            }
        }
        let Some(list) = map.get_mut(key) else { return Ok(()) };
        list.retain(|t| t.elapsed() < self.window);
        if list.len() >= self.max {
            let retry_after_secs = self.window.saturating_sub(list[0].elapsed()).as_secs().max(1);
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

/// The index with what the page shows beside it.
pub struct ComputedIndex {
    pub report: forms::index::IndexReport,
    /// Households whose satisfaction items all carry one code (to look at again).
    pub straight_lined: Vec<String>,
    pub unopenable: Vec<Unopenable>,
}

/// The intake: its store, its signing key and its rate limiters.
pub struct Intake {
    pub store: Arc<dyn Store>,
    pub key: DeviceKey,
    pub limiter: FailureLimiter<IpAddr>,
    /// Wrong passphrases of the ministry key, per account.
    pub passphrase_limiter: FailureLimiter<String>,
    /// One passphrase check at a time: each costs 64 MiB of argon2 memory.
    passphrase_gate: Mutex<()>,
    /// Refused logins already written to the audit log this window (bounded): a flood of
    /// refused attempts writes one row per login and address, not one per attempt.
    refusals_audited: Mutex<HashMap<(String, String), Instant>>,
    /// Mark session cookies `Secure` (set when the intake is served behind TLS).
    pub secure_cookies: bool,
    /// Reverse proxies the operator named (`--trusted-proxy`): only from them is a client's
    /// address taken from `X-Forwarded-For`.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Intake {
    pub fn new(store: Arc<dyn Store>, key: DeviceKey) -> Self {
        Intake {
            store,
            key,
            limiter: FailureLimiter::new(ENROLL_MAX_FAILURES, ENROLL_WINDOW),
            passphrase_limiter: FailureLimiter::new(crate::accounts::PASSPHRASE_MAX_FAILURES, crate::accounts::LOGIN_WINDOW),
            passphrase_gate: Mutex::new(()),
            refusals_audited: Mutex::new(HashMap::new()),
            secure_cookies: false,
            trusted_proxies: Vec::new(),
        }
    }

    /// Where a request comes from: the socket's address; or, when that is a trusted proxy, the
    /// nearest address in `X-Forwarded-For` that is not one (read from the right: entries to
    /// the left of a client's own are whatever the client chose to send).
    pub fn client_address(&self, socket: Option<IpAddr>, headers: &axum::http::HeaderMap) -> IpAddr {
        let unknown = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
        let Some(socket) = socket else { return unknown };
        if !self.trusted_proxies.contains(&socket) {
            return socket;
        }
        let forwarded: Vec<Option<IpAddr>> =
            headers.get_all("x-forwarded-for").iter().flat_map(|v| v.to_str().unwrap_or("?").split(',')).map(|a| a.trim().parse().ok()).collect();
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

    /// Checks a login and opens a fresh session; returns the cookie value. Every attempt is in
    /// the audit log. Wrong passwords are limited per login and address, per login, per address
    /// and in all (see [`crate::accounts::LOGIN_LIMITS`]); the counts are kept in the store, so
    /// they hold across restarts. Past a limit even the right password is refused for a while.
    pub fn log_in(&self, login: &str, password: &str, address: &str) -> Result<String, IntakeError> {
        let now = Utc::now();
        let wrong = || IntakeError::Unauthenticated("wrong login or password".into());
        let login = login.trim();
        let window = crate::accounts::LOGIN_WINDOW.as_secs() as i64;
        let since = now.timestamp() - window;
        let failures = self.store.login_failures(login, address, since)?;
        let limits = crate::accounts::LOGIN_LIMITS;
        if failures.pair >= limits.pair || failures.login >= limits.login || failures.address >= limits.address || failures.total >= limits.total {
            self.audit_refusal(login, address, &format!("too many wrong passwords: {failures:?}"))?;
            return Err(IntakeError::RateLimited { retry_after_secs: window as u64 });
        }
        let account = if login.chars().count() > crate::accounts::LOGIN_MAX_CHARS { None } else { self.store.account(login)? };
        if !crate::accounts::verify_password(account.as_ref().and_then(|a| a.password_hash.as_deref()), password) {
            self.store.record_login_failure(login, address, now.timestamp(), since)?;
            self.store.audit(login, "login_failed", "wrong login or password", address, now)?;
            return Err(wrong());
        }
        if account.as_ref().is_some_and(|a| a.disabled) {
            self.store.audit(login, "login_refused", "account disabled", address, now)?;
            return Err(wrong());
        }
        let token = crate::accounts::new_token();
        let csrf = crate::accounts::new_token();
        self.store.create_session(&crate::accounts::token_hash(&token), login, &csrf, now + Duration::hours(crate::accounts::SESSION_HOURS), now)?;
        self.store.audit(login, "login", "", address, now)?;
        Ok(token)
    }

    /// Audits a refused login once per login and address and window.
    fn audit_refusal(&self, login: &str, address: &str, detail: &str) -> Result<(), IntakeError> {
        const REMEMBERED: usize = 10_000;
        let mut seen = self.refusals_audited.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, at| at.elapsed() < crate::accounts::LOGIN_WINDOW);
        let key = (crate::store::bounded(login, crate::store::AUDIT_LOGIN_MAX), address.to_string());
        if seen.contains_key(&key) {
            return Ok(());
        }
        if seen.len() >= REMEMBERED {
            // Under a flood of distinct names: one row says so, the rest are counted as failures.
            if seen.len() == REMEMBERED {
                seen.insert((String::new(), String::new()), Instant::now());
                drop(seen);
                self.store.audit("", "login_refusals_suppressed", "more than 10,000 refused logins in the window", address, Utc::now())?;
            }
            return Ok(());
        }
        seen.insert(key, Instant::now());
        drop(seen);
        Ok(self.store.audit(login, "login_refused", detail, address, Utc::now())?)
    }

    /// Disables or enables an account (never one's own); its sessions end. Audited.
    pub fn set_account_disabled(&self, login: &str, disabled: bool, by: &str, address: &str) -> Result<(), IntakeError> {
        if login == by {
            return Err(IntakeError::BadRequest("không thể tự khoá tài khoản của mình — you cannot disable your own account".into()));
        }
        self.store.set_account_disabled(login, disabled, Utc::now())?;
        Ok(self.store.audit(by, if disabled { "account_disabled" } else { "account_enabled" }, login, address, Utc::now())?)
    }

    /// Deletes an account (never one's own); the audit log keeps who it was.
    pub fn delete_account(&self, login: &str, by: &str, address: &str) -> Result<(), IntakeError> {
        if login == by {
            return Err(IntakeError::BadRequest("không thể tự xoá tài khoản của mình — you cannot delete your own account".into()));
        }
        let account = self.store.account(login)?.ok_or_else(|| IntakeError::from(crate::store::StoreError::UnknownAccount(login.into())))?;
        self.store.delete_account(login)?;
        let who = format!("{login} — {} ({}; {})", account.name, account.role.as_str(), account.districts.join(", "));
        Ok(self.store.audit(by, "account_deleted", &who, address, Utc::now())?)
    }

    /// Keeps the ministry's secret key, encrypted under `passphrase` (never stored).
    pub fn store_ministry_key(&self, secret: &sync_protocol::keys::MinistrySecretKey, passphrase: &str) -> Result<(), IntakeError> {
        if secret.public() != self.store.campaign()?.ministry_public_key {
            return Err(crate::ministry_key::KeyError::NotTheCampaignsKey.into());
        }
        let sealed = crate::ministry_key::encrypt(secret, passphrase)?;
        Ok(self.store.store_ministry_key(&sealed, Utc::now())?)
    }

    /// Every household's latest answers, opened with the ministry key that `passphrase`
    /// unlocks for this call only. A sheet that cannot be opened — a damaged or hostile box, or
    /// one naming another household than the event that carried it — is set aside with its
    /// reason (and raises an alert, once): one device's bad sheet never stops the others'.
    pub fn open_answers(&self, passphrase: &str, by: &str) -> Result<OpenedAnswers, IntakeError> {
        let key = self.ministry_secret(passphrase, by)?;
        let form = self.form()?;
        let order = |reference: &str| (reference == form.reference()).then(|| form.question_order().into_iter().map(String::from).collect());
        let mut opened = OpenedAnswers::default();
        for f in self.store.sealed_forms()? {
            match sync_protocol::seal::open(&key, &f.sealed, &order) {
                Ok(sheet) if sheet.household == f.household && sheet.serial == f.serial => opened.sheets.push((f, sheet)),
                Ok(sheet) => {
                    let reason = format!("phiếu niêm phong ghi hộ {} ({}), không phải hộ đã gửi nó", sheet.household, sheet.serial);
                    opened.unopenable.push(Unopenable { form: f, reason });
                }
                Err(e) => opened.unopenable.push(Unopenable { form: f, reason: format!("không mở được bằng khoá của Bộ ({e})") }),
            }
        }
        self.alert_unopenable(&opened.unopenable)?;
        Ok(opened)
    }

    /// The ministry's secret key, unlocked by `passphrase` for one call. Wrong passphrases are
    /// limited per account, and only one is checked at a time (each check costs 64 MiB).
    fn ministry_secret(&self, passphrase: &str, by: &str) -> Result<sync_protocol::keys::MinistrySecretKey, IntakeError> {
        let campaign = self.store.campaign()?;
        let stored = self.store.ministry_key()?.ok_or(crate::ministry_key::KeyError::NotStored)?;
        let _one_at_a_time = self.passphrase_gate.lock().unwrap_or_else(|p| p.into_inner());
        // Checked behind the gate: attempts that queued together cannot all pass the count.
        self.passphrase_limiter.check(&by.to_string())?;
        let key = crate::ministry_key::decrypt(&stored, passphrase, &campaign.ministry_public_key);
        if let Err(crate::ministry_key::KeyError::WrongPassphrase) = &key {
            self.passphrase_limiter.fail(by.to_string());
        }
        Ok(key?)
    }

    /// One alert per household whose sheet cannot be opened, the first time it is found.
    fn alert_unopenable(&self, unopenable: &[Unopenable]) -> Result<(), IntakeError> {
        if unopenable.is_empty() {
            return Ok(());
        }
        let known: std::collections::HashSet<String> =
            self.store.alerts()?.into_iter().filter(|a| a.kind == UNOPENABLE_ALERT).map(|a| a.detail).collect();
        for u in unopenable {
            let detail = format!("{} ({}, lô {}): {}", u.form.household, u.form.serial, u.form.seq, u.reason);
            if !known.contains(&detail) {
                let alert = crate::store::Alert {
                    kind: UNOPENABLE_ALERT.into(),
                    enumerator: Some(u.form.enumerator.clone()),
                    device: u.form.device.parse().ok(),
                    seq: Some(u.form.seq),
                    detail,
                };
                self.store.record_alert(&alert, Utc::now())?;
            }
        }
        Ok(())
    }

    /// The campaign's form definition (the shipped SIPAS form is the one known here).
    pub fn form(&self) -> Result<forms::Form, IntakeError> {
        let campaign = self.store.campaign()?;
        let form = forms::sipas_2024();
        if form.reference() != campaign.info.form {
            return Err(IntakeError::BadRequest(format!("form {} is not known to this intake", campaign.info.form)));
        }
        Ok(form)
    }

    /// Every opened form as a table for export: a header row (place columns, then each
    /// question's printed number) and one row per household, coded answers with their
    /// Vietnamese labels ("2 — Nữ"). Audited.
    pub fn answers_table(&self, passphrase: &str, by: &str, address: &str) -> Result<Vec<Vec<String>>, IntakeError> {
        let opened = match self.open_answers(passphrase, by) {
            Ok(o) => o,
            Err(e) => {
                self.store.audit(by, "answers_export_refused", &e.to_string(), address, Utc::now())?;
                return Err(e);
            }
        };
        let form = self.form()?;
        let enumerators = self.enumerator_names()?;
        // A code's Vietnamese label, or none (numbers, text).
        let label = |q: &forms::load::Question, code: &serde_json::Value| -> Option<String> {
            q.choices
                .as_ref()
                .and_then(|list| form.definition.choice_lists.get(list))
                .and_then(|choices| choices.iter().find(|c| Some(c.code) == code.as_i64()))
                .map(|c| c.label.vi.clone())
                .or_else(|| {
                    let special = &form.definition.special_codes;
                    match code.as_i64() {
                        c if c.is_some() && c == special.not_applicable => Some("Không áp dụng".into()),
                        c if c.is_some() && c == special.no_answer => Some("Không trả lời".into()),
                        _ => None,
                    }
                })
        };
        let plain = |v: &serde_json::Value| v.as_str().map(String::from).unwrap_or_else(|| v.to_string());
        // Coded questions get two columns: the code, and its label.
        let coded = |q: &forms::load::Question| q.choices.is_some();
        let places = self.store.place_names()?;
        let place_name = |id: &str| places.get(id).cloned().unwrap_or_else(|| id.to_string());
        let mut header: Vec<String> = ["hộ", "số phiếu", "điều tra viên", "thôn", "xã", "huyện", "tỉnh", "phiên bản phiếu", "tình trạng"].iter().map(|s| s.to_string()).collect();
        for q in &form.questions {
            header.push(q.number.clone());
            if coded(q) {
                header.push(format!("{} (nhãn)", q.number));
            }
        }
        let mut rows = vec![header];
        let place = |f: &crate::store::SealedForm, version: &str, status: &str| {
            let enumerator = enumerators.get(&f.enumerator).cloned().unwrap_or_else(|| f.enumerator.clone());
            vec![f.household.clone(), f.serial.clone(), enumerator, place_name(&f.village), place_name(&f.commune), place_name(&f.district), place_name(&f.province), version.to_string(), status.to_string()]
        };
        for u in &opened.unopenable {
            let mut row = place(&u.form, "", &format!("KHÔNG MỞ ĐƯỢC — nhập lại từ phiếu giấy: {}", u.reason));
            row.resize(rows[0].len(), String::new());
            rows.push(row);
        }
        for (f, sheet) in &opened.sheets {
            let mut row = place(f, &sheet.form, "đã mở");
            for q in &form.questions {
                let answer = sheet.answers.get(&q.id);
                let values: Vec<&serde_json::Value> = match answer {
                    None => vec![],
                    Some(serde_json::Value::Array(codes)) => codes.iter().collect(),
                    Some(v) => vec![v],
                };
                row.push(values.iter().map(|v| plain(v)).collect::<Vec<_>>().join("; "));
                if coded(q) {
                    row.push(values.iter().filter_map(|v| label(q, v)).collect::<Vec<_>>().join("; "));
                }
            }
            rows.push(row);
        }
        self.store.audit(by, "answers_exported", &format!("{} forms, {} cannot be opened", opened.sheets.len(), opened.unopenable.len()), address, Utc::now())?;
        Ok(rows)
    }

    /// The SIPAS index by village, commune, district and province, from answers opened with
    /// the passphrase; sheets that cannot be opened are left out and listed. Audited.
    pub fn index(&self, passphrase: &str, by: &str, address: &str) -> Result<ComputedIndex, IntakeError> {
        let opened = self.open_answers(passphrase, by);
        let now = Utc::now();
        let opened = match opened {
            Ok(o) => o,
            Err(e) => {
                self.store.audit(by, "index_refused", &e.to_string(), address, now)?;
                return Err(e);
            }
        };
        let households: Vec<String> = opened.sheets.iter().map(|(f, _)| f.household.clone()).collect();
        let forms_opened: Vec<forms::index::OpenedForm> = opened
            .sheets
            .into_iter()
            .map(|(f, sheet)| forms::index::OpenedForm {
                origin: forms::index::Origin { village: f.village, commune: f.commune, district: f.district, province: f.province },
                answers: sheet.answers,
            })
            .collect();
        let detail = format!("{} forms, {} cannot be opened", forms_opened.len(), opened.unopenable.len());
        self.store.audit(by, "index_computed", &detail, address, now)?;
        let form = self.form()?;
        // Straight-lining: every satisfaction item of the index answered with one code.
        let items: Vec<String> = form.definition.index.iter().flat_map(|rule| rule.criteria.iter().flat_map(|c| c.items.iter().cloned())).collect();
        let straight_lined = crate::anomalies::straight_lined(forms_opened.iter().zip(&households).map(|(f, h)| (h.as_str(), &f.answers)), &items, 10);
        Ok(ComputedIndex { report: forms::index::compute(&form, &forms_opened), straight_lined, unopenable: opened.unopenable })
    }

    /// The campaign's time zone: every time a person reads is in it.
    pub fn time_zone(&self) -> Result<chrono_tz::Tz, IntakeError> {
        Ok(self.store.campaign()?.info.timezone.parse().unwrap_or(chrono_tz::Asia::Ho_Chi_Minh))
    }

    /// Enumerator id → name, for pages and exports that speak of people.
    pub fn enumerator_names(&self) -> Result<std::collections::HashMap<String, String>, IntakeError> {
        Ok(self.store.enumerators()?.into_iter().collect())
    }

    /// A supervisor moves a village, or single households, of their districts to an enumerator
    /// who works in them (illness, a flooded road). Anything outside their districts is
    /// `NotFound`, as if it did not exist. Devices learn it on their next sync; audited.
    pub fn reassign(&self, account: &crate::accounts::Account, target: &crate::store::ReassignTarget, to: &str, reason: &str, address: &str) -> Result<usize, IntakeError> {
        let villages = self.store.villages_with_enumerators()?;
        let visible = |district: &str| account.may_see_district(district);
        let what = match target {
            crate::store::ReassignTarget::Village(village) => {
                if !villages.iter().any(|(id, _, d, _)| id == village && visible(d)) {
                    return Err(IntakeError::NotFound);
                }
                format!("village {village}")
            }
            crate::store::ReassignTarget::Households(households) => {
                if households.is_empty() || households.len() > 1000 {
                    return Err(IntakeError::BadRequest("name 1 to 1,000 households".into()));
                }
                for h in households {
                    if !self.store.household_place(h)?.is_some_and(|(_, _, district, _)| visible(&district)) {
                        return Err(IntakeError::NotFound);
                    }
                }
                households.join(", ")
            }
        };
        if !villages.iter().any(|(_, _, d, list)| visible(d) && list.iter().any(|e| e == to)) {
            return Err(IntakeError::BadRequest(format!("{to} does not work in {}'s districts", account.login)));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(IntakeError::BadRequest("say why, in at most 500 characters".into()));
        }
        let moved = self.store.reassign(target, to, &account.login, reason, Utc::now())?;
        self.store.audit(&account.login, "reassigned", &format!("{what} to {to}: {reason}"), address, Utc::now())?;
        Ok(moved)
    }


    /// Records a back-check visit's outcome; audited.
    pub fn record_backcheck_outcome(&self, household: &str, outcome: &str, note: &str, by: &str, address: &str) -> Result<(), IntakeError> {
        if !matches!(outcome, "confirmed" | "not_visited" | "answers_differ") {
            return Err(IntakeError::BadRequest(format!("{outcome:?} is not a back-check outcome (confirmed, not_visited, answers_differ)")));
        }
        if note.chars().count() > 2000 {
            return Err(IntakeError::BadRequest("the note is over 2,000 characters".into()));
        }
        let now = Utc::now();
        self.store.record_backcheck_outcome(household, outcome, note, by, now)?;
        self.store.audit(by, "backcheck_recorded", &format!("{household}: {outcome}"), address, now)?;
        Ok(())
    }

    /// Back-check results per enumerator: outcome → count.
    pub fn backcheck_results(&self) -> Result<std::collections::BTreeMap<String, std::collections::BTreeMap<String, u32>>, IntakeError> {
        let mut out: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u32>> = Default::default();
        for (enumerator, _, outcome) in self.store.backcheck_outcomes()? {
            *out.entry(enumerator).or_default().entry(outcome).or_default() += 1;
        }
        Ok(out)
    }

    /// The ministry keys a flagged form again from its paper original: answers checked with the
    /// form, sealed to the ministry key (no passphrase needed to seal), kept beside the device's
    /// events, which stay as they were. Audited.
    pub fn ministry_correction(&self, household: &str, answers: std::collections::BTreeMap<String, serde_json::Value>, reason: &str, by: &str, address: &str) -> Result<(), IntakeError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 2000 {
            return Err(IntakeError::BadRequest("say why the form is corrected (at most 2,000 characters)".into()));
        }
        let form = self.form()?;
        let validation = forms::validate::validate(&form, &answers);
        if !validation.complete {
            let mut problems: Vec<String> = validation.errors.iter().map(|e| format!("{}: {:?}", e.question, e.error)).collect();
            problems.extend(validation.required_remaining.iter().map(|q| format!("{q}: required")));
            return Err(IntakeError::BadRequest(format!("the form is not complete: {}", problems.join("; "))));
        }
        let (serial, ..) = self.store.household_place(household)?.filter(|(.., has_answers)| *has_answers).ok_or(IntakeError::NotFound)?;
        let campaign = self.store.campaign()?;
        let sheet = sync_protocol::seal::AnswerSheet { form: form.reference(), household: household.into(), serial, answers };
        let sealed = sync_protocol::seal::seal(&campaign.ministry_public_key, &sheet, &form.question_order(), &mut rand::rngs::OsRng)?;
        self.store.record_ministry_correction(household, &sealed, reason, by, Utc::now())?;
        self.store.audit(by, "form_corrected", &format!("{household}: {reason}"), address, Utc::now())?;
        Ok(())
    }

    /// The ministry approves a form, or flags it with a reason (to check against its paper).
    pub fn review(&self, household: &str, decision: &str, reason: &str, by: &str, address: &str) -> Result<(), IntakeError> {
        let reason = reason.trim();
        match decision {
            "approved" => {}
            "flagged" if !reason.is_empty() => {}
            "flagged" => return Err(IntakeError::BadRequest("say why the form is flagged".into())),
            other => return Err(IntakeError::BadRequest(format!("{other:?} is not a review decision (approved, flagged)"))),
        }
        if reason.chars().count() > 2000 {
            return Err(IntakeError::BadRequest("the reason is over 2,000 characters".into()));
        }
        self.store.record_review(household, decision, reason, by, Utc::now()).map_err(|e| match e {
            crate::store::StoreError::Corrupt(m) => IntakeError::BadRequest(m),
            other => other.into(),
        })?;
        self.store.audit(by, "form_reviewed", &format!("{household}: {decision} {reason}"), address, Utc::now())?;
        Ok(())
    }

    /// Creates or changes an account from the admin page; audited.
    #[allow(clippy::too_many_arguments)]
    pub fn save_account(&self, login: &str, name: &str, role: &str, districts: &str, password: &str, by: &str, address: &str) -> Result<(), IntakeError> {
        let login = login.trim();
        if login.is_empty() || login.len() > 64 || !login.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c)) {
            return Err(IntakeError::BadRequest("a login is 1 to 64 of a-z, 0-9, '.', '_' and '-'".into()));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(IntakeError::BadRequest("a name is 1 to 200 characters".into()));
        }
        let role = crate::accounts::Role::parse(role).ok_or_else(|| IntakeError::BadRequest(format!("unknown role {role:?}")))?;
        let districts: Vec<String> = districts.split(',').map(str::trim).filter(|d| !d.is_empty()).map(String::from).collect();
        if role == crate::accounts::Role::Supervisor && districts.is_empty() {
            return Err(IntakeError::BadRequest("a supervisor needs at least one district".into()));
        }
        let hash = crate::accounts::hash_password(password).map_err(|e| IntakeError::BadRequest(e.to_string()))?;
        let account = crate::accounts::Account { login: login.into(), name: name.into(), role, districts, password_hash: Some(hash), disabled: false };
        self.store.upsert_account(&account, Utc::now())?;
        self.store.audit(by, "account_saved", &format!("{login} ({})", role.as_str()), address, Utc::now())?;
        Ok(())
    }

    /// Paradata anomalies (no answer is read).
    pub fn anomalies(&self) -> Result<crate::anomalies::Anomalies, IntakeError> {
        let campaign = self.store.campaign()?;
        Ok(crate::anomalies::check(&self.store.event_facts()?, &campaign.info.timeline))
    }

    pub fn reconciliation(&self) -> Result<crate::reconcile::Reconciliation, IntakeError> {
        Ok(crate::reconcile::reconcile(&self.store.expected_forms()?, &self.store.paper_serials()?))
    }

    /// Records paper forms arriving: serials one per line (a barcode scanner types them).
    pub fn record_paper(&self, serials_text: &str, by: &str, address: &str) -> Result<usize, IntakeError> {
        let serials: Vec<String> = serials_text.lines().map(crate::reconcile::normalize_serial).filter(|s| !s.is_empty()).collect();
        if serials.is_empty() {
            return Err(IntakeError::BadRequest("no serial was given".into()));
        }
        if let Some(bad) = serials.iter().find(|s| s.len() > 40 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')) {
            return Err(IntakeError::BadRequest(format!("{bad:?} is not a form serial")));
        }
        let now = Utc::now();
        let batch = format!("{by}-{}", now.format("%Y%m%dT%H%M%S%.3f"));
        self.store.record_paper(&batch, &serials, by, now)?;
        self.store.audit(by, "paper_recorded", &format!("{} serials", serials.len()), address, now)?;
        Ok(serials.len())
    }

    /// Draws the back-check sample (reproducible from its seed) and records the draw.
    pub fn draw_backcheck(&self, seed: &str, share_percent: u32, min_per_enumerator: u32, by: &str, address: &str) -> Result<i64, IntakeError> {
        if seed.trim().is_empty() || seed.len() > 100 || !(1..=100).contains(&share_percent) {
            return Err(IntakeError::BadRequest("give a seed (up to 100 characters) and a share from 1 to 100 %".into()));
        }
        let sample = crate::reconcile::backcheck_sample(&self.store.expected_forms()?, seed.trim(), share_percent, min_per_enumerator);
        let households: Vec<String> = sample.iter().flat_map(|(_, l)| l.iter().map(|f| f.household.clone())).collect();
        let now = Utc::now();
        let id = self.store.record_backcheck_draw(seed.trim(), share_percent, min_per_enumerator, &households, by, now)?;
        self.store.audit(by, "backcheck_drawn", &format!("draw {id}, seed {:?}, {share_percent} %, min {min_per_enumerator}: {} households", seed.trim(), households.len()), address, now)?;
        Ok(id)
    }

    /// A kept draw with what a visitor needs of each household and the outcomes so far.
    pub fn backcheck_draw(&self, id: i64) -> Result<(crate::store::BackcheckDraw, Vec<crate::store::HouseholdToVisit>, HashMap<String, String>), IntakeError> {
        let draw = self.store.backcheck_draws()?.into_iter().find(|d| d.id == id).ok_or(IntakeError::NotFound)?;
        let households = self.store.households_to_visit(&draw.households)?;
        let outcomes = self.store.backcheck_outcomes()?.into_iter().map(|(_, h, o)| (h, o)).collect();
        Ok((draw, households, outcomes))
    }

    /// Daily counts of what this account may see (their districts for a supervisor).
    pub fn daily_counts(&self, account: &crate::accounts::Account) -> Result<Vec<(String, String, String, u32)>, IntakeError> {
        let scope = (account.role == crate::accounts::Role::Supervisor).then(|| account.districts.clone());
        Ok(self.store.daily_counts(scope.as_deref())?)
    }

    /// Progress as this account may see it: a supervisor their districts (another district is
    /// `NotFound`, as if it did not exist), the ministry and admins everything.
    pub fn progress_report(&self, account: &crate::accounts::Account, district: Option<&str>) -> Result<crate::progress::Report, IntakeError> {
        if district.is_some_and(|d| !account.may_see_district(d)) {
            return Err(IntakeError::NotFound);
        }
        let campaign = self.store.campaign()?;
        let scope: Option<Vec<String>> = match (district, account.role) {
            (Some(d), _) => Some(vec![d.to_string()]),
            (None, crate::accounts::Role::Supervisor) => Some(account.districts.clone()),
            (None, _) => None,
        };
        let rows = self.store.progress(scope.as_deref())?;
        if district.is_some() && rows.is_empty() {
            return Err(IntakeError::NotFound);
        }
        let tz: chrono_tz::Tz = campaign.info.timezone.parse().unwrap_or(chrono_tz::Asia::Ho_Chi_Minh);
        let day = Utc::now().with_timezone(&tz).date_naive();
        Ok(crate::progress::report(rows, &campaign.info.timeline, day))
    }

    pub fn issue_enrollment_code(&self, enumerator: &str, valid_for: Duration, issued_by: &str) -> Result<String, IntakeError> {
        let code = new_enrollment_code();
        let now = Utc::now();
        self.store.issue_enrollment_code(enumerator, &code_hash(&code), now + valid_for, issued_by, now)?;
        tracing::info!(enumerator, issued_by, "enrollment code issued");
        Ok(code)
    }

    pub fn enroll(&self, request: &EnrollRequest, client: IpAddr) -> Result<EnrollResponse, IntakeError> {
        self.limiter.check(&client)?;
        let campaign = self.store.campaign()?;
        match self.store.enroll(&code_hash(&request.code), &request.public_key, &request.label, Utc::now()) {
            Ok((device, chain)) => {
                tracing::info!(device = %device.id, enumerator = %device.enumerator, "device enrolled");
                Ok(EnrollResponse {
                    device: device.id,
                    enumerator: device.enumerator,
                    campaign: campaign.info.id,
                    intake_public_key: self.key.public(),
                    intake_key_id: self.key.key_id(),
                    chain,
                })
            }
            Err(StoreError::Enrollment(refusal)) => {
                self.limiter.fail(client);
                tracing::warn!(%client, %refusal, "enrollment refused");
                Err(IntakeError::Enrollment(refusal))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Checks a device-signed request (see [`api::sign_request`]).
    pub fn authenticate(
        &self,
        device: Option<&str>,
        time: Option<&str>,
        signature: Option<&str>,
        method: &str,
        path: &str,
    ) -> Result<DeviceRecord, IntakeError> {
        let (Some(device), Some(time), Some(signature)) = (device, time, signature) else {
            return Err(IntakeError::Unauthenticated(format!(
                "send the {}, {} and {} headers",
                api::HEADER_DEVICE,
                api::HEADER_TIME,
                api::HEADER_SIGNATURE
            )));
        };
        let id = Uuid::parse_str(device).map_err(|_| IntakeError::Unauthenticated("the device id is not a UUID".into()))?;
        let unix: i64 = time.parse().map_err(|_| IntakeError::Unauthenticated("the time is not Unix seconds".into()))?;
        let record = self.store.device(id)?.ok_or(IntakeError::UnknownDevice(id))?;
        let sig = sync_protocol::keys::from_b64("signature", signature).map_err(|e| IntakeError::Unauthenticated(e.to_string()))?;
        record
            .public_key
            .verify(api::REQUEST_DOMAIN, &api::request_message(method, path, unix), &sig)
            .map_err(|_| IntakeError::Unauthenticated("the request signature does not verify".into()))?;
        let now = Utc::now().timestamp();
        if (now - unix).abs() > api::REQUEST_MAX_SKEW_SECS {
            return Err(IntakeError::ClockSkew { skew_secs: unix - now, server_time: now });
        }
        if record.revoked {
            return Err(IntakeError::DeviceRevoked(id));
        }
        Ok(record)
    }

    /// The device's assignment and its tag; `None` for the document when the device already
    /// holds the assignment with tag `held`.
    pub fn assignment_unless(&self, device: &DeviceRecord, held: Option<&str>) -> Result<(Option<SignedDocument>, String), IntakeError> {
        let (assignment, tag) = self.assignment_now(device)?;
        if held == Some(tag.as_str()) {
            return Ok((None, tag));
        }
        Ok((Some(assignment.sign(&self.key)?), tag))
    }

    fn assignment_now(&self, device: &DeviceRecord) -> Result<(Assignment, String), IntakeError> {
        let campaign = self.store.campaign()?;
        let data = self.store.assignment(&device.enumerator)?;
        let assignment = Assignment {
            protocol: PROTOCOL_VERSION,
            campaign: campaign.info,
            device: device.id,
            enumerator: data.enumerator,
            villages: data.villages,
            households: data.households,
            intake_public_key: self.key.public(),
            ministry_public_key: campaign.ministry_public_key,
            issued_at: DeviceTime::new(Utc::now().fixed_offset()),
        };
        let tag = assignment.tag()?;
        Ok((assignment, tag))
    }

    pub fn chain_head(&self, device: &DeviceRecord) -> Result<ChainHead, IntakeError> {
        Ok(self.store.chain_head(&device.enumerator)?)
    }

    /// Ingests a batch frame. `Ok` carries the signed receipt (new or replayed).
    pub fn ingest(&self, frame: &[u8], now: DateTime<Utc>) -> Result<(SignedDocument, bool), IntakeError> {
        let signed = SignedBatch::from_frame(frame)?;
        let batch = signed.decode()?;
        let campaign = self.store.campaign()?;
        if batch.campaign != campaign.info.id {
            return Err(IntakeError::CampaignMismatch { got: batch.campaign, expected: campaign.info.id });
        }
        let device = self.store.device(batch.device)?.ok_or(IntakeError::UnknownDevice(batch.device))?;
        // Authenticity first: nothing unsigned may raise an alert or touch the chain.
        signed.verify(&device.public_key)?;
        let (enumerator, batch_seq) = (batch.enumerator.clone(), batch.seq);
        let alert = |kind: &str, detail: String| Alert {
            kind: kind.into(),
            enumerator: Some(enumerator.clone()),
            device: Some(device.id),
            seq: Some(batch_seq),
            detail,
        };
        if device.revoked {
            // A retry of work accepted before the revocation gets its receipt again (the
            // device may have lost the answer): that is not a new attempt to send.
            if device.enumerator == batch.enumerator {
                if let Some(receipt) = self.store.stored_receipt(&batch.enumerator, batch.seq, &signed.hash())? {
                    return Ok((receipt, false));
                }
            }
            self.store.record_alert(&alert("revoked_device_sent", format!("revoked device sent batch {}", batch.seq)), now)?;
            return Err(IntakeError::DeviceRevoked(device.id));
        }
        if device.enumerator != batch.enumerator {
            return Err(IntakeError::EnumeratorMismatch { device: device.id, enrolled: device.enumerator, claimed: batch.enumerator });
        }
        let verified = sync_protocol::VerifiedBatch { hash: signed.hash(), batch, signed };
        let seq = verified.batch.seq;
        match self.store.ingest(&verified, frame, now, &self.key)? {
            IngestResult::Accepted { receipt, rejected_events } => {
                tracing::info!(enumerator = %verified.batch.enumerator, seq, events = verified.batch.events.len(), rejected_events, "batch accepted");
                Ok((receipt, true))
            }
            IngestResult::Replayed { receipt } => {
                tracing::info!(enumerator = %verified.batch.enumerator, seq, "batch replayed; same receipt");
                Ok((receipt, false))
            }
            IngestResult::Gap { expected_seq, last_hash } => Err(IntakeError::SeqGap { got: seq, expected_seq, last_hash }),
            IngestResult::ChainBroken { expected_seq, last_hash } => {
                self.store.record_alert(&alert("chain_broken", format!("batch {seq} prev {} != accepted {last_hash}", verified.batch.prev)), now)?;
                Err(IntakeError::ChainBroken { seq: expected_seq, last_hash })
            }
            IngestResult::Equivocation { seq, accepted_hash } => {
                tracing::warn!(enumerator = %verified.batch.enumerator, seq, "equivocation");
                self.store.record_alert(&alert("equivocation", format!("batch {seq}: accepted {accepted_hash}, now offered {}", verified.hash)), now)?;
                Err(IntakeError::Equivocation { seq, accepted_hash })
            }
        }
    }
}
