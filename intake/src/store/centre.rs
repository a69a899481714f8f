//! The centre's own store — the campaigns it holds, accounts and what each may see, sessions,
//! wrong passwords, the audit log — in the SQL both databases speak ([`super::sql`]), on
//! SQLite (`centre.db`) or PostgreSQL (the `centre` schema).

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use super::campaign::rfc3339;
use super::sql::{params, Backend, BackendExt, OptionalExtension, Row, ToVal, Tx};
use crate::accounts::{Account, Role};
use crate::store::*;

pub struct SqlCentre {
    backend: Box<dyn Backend>,
}

fn account_in(c: Tx, login: &str) -> Result<Option<Account>, StoreError> {
    let row: Option<(String, String, String, Option<String>, bool)> = c
        .prepare_cached("SELECT login, name, role, password_hash, disabled_at IS NOT NULL FROM accounts WHERE login = ?1")?
        .query_row([login], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .optional()?;
    let Some((login, name, role, password_hash, disabled)) = row else {
        return Ok(None);
    };
    let role = Role::parse(&role)
        .ok_or_else(|| StoreError::Corrupt(format!("account {login} has role {role:?}")))?;
    let mut campaigns: BTreeMap<String, Vec<String>> = c
        .prepare_cached("SELECT campaign FROM account_campaigns WHERE login = ?1")?
        .query_map([&login], |r| r.get::<String>(0))?
        .map(|c| c.map(|c| (c, Vec::new())))
        .collect::<Result<_, _>>()?;
    let mut districts = c.prepare_cached(
        "SELECT campaign, district_id FROM account_districts WHERE login = ?1 ORDER BY campaign, district_id",
    )?;
    for row in districts.query_map([&login], |r| Ok((r.get::<String>(0)?, r.get(1)?)))? {
        let (campaign, district) = row?;
        campaigns.entry(campaign).or_default().push(district);
    }
    Ok(Some(Account {
        login,
        name,
        role,
        campaigns,
        districts: Vec::new(),
        password_hash,
        disabled,
    }))
}

/// Writes the campaigns an account may see (and a supervisor's districts in each), replacing
/// what it had.
fn write_scopes(tx: Tx, a: &Account) -> Result<(), StoreError> {
    tx.execute("DELETE FROM account_districts WHERE login = ?1", [&a.login])?;
    tx.execute("DELETE FROM account_campaigns WHERE login = ?1", [&a.login])?;
    for (campaign, districts) in &a.campaigns {
        let known: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM campaigns WHERE id = ?1)",
            [campaign],
            |r| r.get(0),
        )?;
        if !known {
            return Err(StoreError::UnknownCampaign(campaign.clone()));
        }
        tx.execute(
            "INSERT INTO account_campaigns VALUES (?1, ?2)",
            params![a.login, campaign],
        )?;
        for d in districts {
            tx.execute(
                "INSERT INTO account_districts VALUES (?1, ?2, ?3)",
                params![a.login, campaign, d],
            )?;
        }
    }
    Ok(())
}

fn audit_entry(r: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        at: r.get(0)?,
        login: r.get(1)?,
        campaign: r.get(2)?,
        action: r.get(3)?,
        detail: r.get(4)?,
        address: r.get(5)?,
    })
}

impl SqlCentre {
    pub fn new(backend: Box<dyn Backend>) -> SqlCentre {
        SqlCentre { backend }
    }

    fn read<T: Send>(
        &self,
        f: impl FnOnce(Tx) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        self.backend.read(f)
    }

    fn write<T: Send + 'static>(
        &self,
        f: impl Fn(Tx) -> Result<T, StoreError> + Send + Sync + 'static,
    ) -> Result<T, StoreError> {
        self.backend.write(f)
    }
}

impl CentreStore for SqlCentre {
    fn campaigns(&self) -> Result<Vec<CampaignEntry>, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT id, name, storage, family, year, added_at FROM campaigns ORDER BY added_at, id")?
                .query_map([], |r| {
                    Ok(CampaignEntry {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        storage: r.get(2)?,
                        family: r.get(3)?,
                        year: r.get(4)?,
                        added_at: r.get(5)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn register_campaign(
        &self,
        entry: &CampaignEntry,
        supervisors: &[NamedSupervisor],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (entry, supervisors) = (entry.clone(), supervisors.to_vec());
        self.write(move |tx| {
            let exists: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM campaigns WHERE id = ?1)", [&entry.id], |r| r.get(0))?;
            if exists {
                return Err(StoreError::CampaignExists(entry.id.clone()));
            }
            tx.execute(
                "INSERT INTO campaigns VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![entry.id, entry.name, entry.storage, entry.family, entry.year, entry.added_at],
            )?;
            for (login, name, districts) in &supervisors {
                let mut account = match account_in(tx, login)? {
                    Some(a) if a.role != Role::Supervisor => {
                        return Err(StoreError::AccountClash { login: login.clone(), role: a.role.as_str() })
                    }
                    Some(a) => a,
                    None => {
                        tx.execute(
                            "INSERT INTO accounts (login, name, role, password_hash, created_at) VALUES (?1, ?2, 'supervisor', NULL, ?3)",
                            params![login, name, rfc3339(now)],
                        )?;
                        account_in(tx, login)?.expect("just inserted")
                    }
                };
                account.campaigns.insert(entry.id.clone(), districts.clone());
                write_scopes(tx, &account)?;
            }
            Ok(())
        })
    }

    fn upsert_account(&self, a: &Account, now: DateTime<Utc>) -> Result<(), StoreError> {
        let a = a.clone();
        self.write(move |tx| {
            let before = account_in(tx, &a.login)?;
            tx.execute(
                "INSERT INTO accounts (login, name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(login) DO UPDATE SET name = excluded.name, role = excluded.role,
                   password_hash = COALESCE(excluded.password_hash, accounts.password_hash)",
                params![a.login, a.name, a.role.as_str(), a.password_hash, rfc3339(now)],
            )?;
            write_scopes(tx, &a)?;
            // A new password, role or scope ends every session the account had: what a
            // session may see was decided at login.
            let changed = before.is_some_and(|b| a.password_hash.is_some() || b.role != a.role || b.campaigns != a.campaigns);
            if changed {
                tx.execute("DELETE FROM sessions WHERE login = ?1", [&a.login])?;
            }
            Ok(())
        })
    }

    fn set_password(&self, login: &str, password_hash: &str) -> Result<(), StoreError> {
        let (login, hash) = (login.to_string(), password_hash.to_string());
        self.write(move |tx| {
            if tx.execute(
                "UPDATE accounts SET password_hash = ?1 WHERE login = ?2",
                params![hash, login],
            )? == 0
            {
                return Err(StoreError::UnknownAccount(login.clone()));
            }
            // A new password ends every session of the account.
            tx.execute("DELETE FROM sessions WHERE login = ?1", [&login])?;
            Ok(())
        })
    }

    fn record_login_failure(
        &self,
        failure: LoginFailure<'_>,
        at: i64,
        forget_before: i64,
    ) -> Result<(), StoreError> {
        let (login, address) = (
            bounded(failure.login, AUDIT_LOGIN_MAX),
            failure.address.to_string(),
        );
        let (known, browser) = (failure.known as i64, failure.browser.map(String::from));
        self.write(move |tx| {
            tx.execute("DELETE FROM login_failures WHERE at < ?1", [forget_before])?;
            tx.execute(
                "INSERT INTO login_failures (at, login, address, known, browser) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![at, login, address, known, browser],
            )?;
            Ok(())
        })
    }

    fn login_failures(
        &self,
        failure: LoginFailure<'_>,
        since: i64,
    ) -> Result<LoginFailures, StoreError> {
        let (login, address) = (
            bounded(failure.login, AUDIT_LOGIN_MAX),
            failure.address.to_string(),
        );
        let browser = failure.browser.unwrap_or("").to_string();
        self.read(|c| {
            let tally = |sql: &str, p: &[&dyn ToVal]| -> Result<Tally, StoreError> {
                Ok(c.prepare_cached(&format!(
                    "SELECT COUNT(*), COALESCE(MAX(at), 0) FROM login_failures WHERE {sql}"
                ))?
                .query_row(p, |r| {
                    Ok(Tally {
                        n: r.get(0)?,
                        last: r.get(1)?,
                    })
                })?)
            };
            Ok(LoginFailures {
                pair: tally(
                    "login = ?1 AND address = ?2 AND at >= ?3",
                    &[&login, &address, &since],
                )?,
                login: tally("login = ?1 AND at >= ?2", &[&login, &since])?,
                address: tally("address = ?1 AND at >= ?2", &[&address, &since])?,
                browser: tally("browser = ?1 AND at >= ?2", &[&browser, &since])?,
                unknown_names: tally("known = 0 AND at >= ?1", &[&since])?,
            })
        })
    }

    fn enrollment_failures(
        &self,
        address: &str,
        code_hash: &str,
        since: i64,
    ) -> Result<EnrollmentFailures, StoreError> {
        let (address, code_hash) = (bounded(address, 64), code_hash.to_string());
        self.read(|c| {
            let count = |sql: &str, p: &[&dyn ToVal]| -> Result<(u32, i64), StoreError> {
                Ok(c.prepare_cached(&format!(
                    "SELECT COUNT(*), COALESCE(MIN(at), 0) FROM enrollment_failures WHERE {sql}"
                ))?
                .query_row(p, |r| Ok((r.get(0)?, r.get(1)?)))?)
            };
            let (by_address, oldest_by_address) =
                count("address = ?1 AND at >= ?2", &[&address, &since])?;
            let (by_code, _) = count("code_hash = ?1 AND at >= ?2", &[&code_hash, &since])?;
            let (all, oldest_all) = count("at >= ?1", &[&since])?;
            Ok(EnrollmentFailures {
                by_address,
                by_code,
                all,
                oldest_by_address,
                oldest_all,
            })
        })
    }

    fn record_enrollment_failure(
        &self,
        address: &str,
        code_hash: &str,
        at: i64,
        forget_before: i64,
    ) -> Result<(), StoreError> {
        let (address, code_hash) = (bounded(address, 64), code_hash.to_string());
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM enrollment_failures WHERE at < ?1",
                [forget_before],
            )?;
            tx.execute(
                "INSERT INTO enrollment_failures (at, address, code_hash) VALUES (?1, ?2, ?3)",
                params![at, address, code_hash],
            )?;
            Ok(())
        })
    }

    fn known_browser(&self, token_hash: &str, login: &str) -> Result<bool, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT EXISTS(SELECT 1 FROM known_browsers WHERE token_hash = ?1 AND login = ?2)",
                params![token_hash, login],
                |r| r.get(0),
            )?)
        })
    }

    fn remember_browser(&self, token_hash: &str, login: &str, at: i64) -> Result<(), StoreError> {
        let (t, l) = (token_hash.to_string(), login.to_string());
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO known_browsers (token_hash, login, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (token_hash, login) DO NOTHING",
                params![t, l, at],
            )?;
            tx.execute(
                "DELETE FROM known_browsers WHERE login = ?1 AND token_hash NOT IN
                   (SELECT token_hash FROM known_browsers WHERE login = ?1 ORDER BY created_at DESC, token_hash LIMIT ?2)",
                params![l, KNOWN_BROWSERS_PER_ACCOUNT],
            )?;
            Ok(())
        })
    }

    fn set_account_disabled(
        &self,
        login: &str,
        disabled: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let login = login.to_string();
        self.write(move |tx| {
            let at = disabled.then(|| rfc3339(now));
            if tx.execute(
                "UPDATE accounts SET disabled_at = ?1 WHERE login = ?2",
                params![at, login],
            )? == 0
            {
                return Err(StoreError::UnknownAccount(login.clone()));
            }
            tx.execute("DELETE FROM sessions WHERE login = ?1", [&login])?;
            Ok(())
        })
    }

    fn delete_account(&self, login: &str) -> Result<(), StoreError> {
        let login = login.to_string();
        self.write(move |tx| {
            // Sessions and scopes go with it (ON DELETE CASCADE); the audit log keeps its rows.
            if tx.execute("DELETE FROM accounts WHERE login = ?1", [&login])? == 0 {
                return Err(StoreError::UnknownAccount(login.clone()));
            }
            Ok(())
        })
    }

    fn account(&self, login: &str) -> Result<Option<Account>, StoreError> {
        self.read(|c| account_in(c, login))
    }

    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.read(|c| {
            let logins: Vec<String> = c
                .prepare("SELECT login FROM accounts ORDER BY role, login")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            logins
                .iter()
                .filter_map(|l| account_in(c, l).transpose())
                .collect()
        })
    }

    fn create_session(
        &self,
        token_hash: &str,
        login: &str,
        csrf: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (t, l, c) = (token_hash.to_string(), login.to_string(), csrf.to_string());
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM sessions WHERE expires_at < ?1",
                [now.timestamp()],
            )?;
            tx.execute(
                "INSERT INTO sessions VALUES (?1, ?2, ?3, ?4, ?5)",
                params![t, l, c, rfc3339(now), expires_at.timestamp()],
            )?;
            Ok(())
        })
    }

    fn session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Account, String)>, StoreError> {
        self.read(|c| {
            let row: Option<(String, String)> = c
                .prepare_cached(
                    "SELECT login, csrf FROM sessions WHERE token_hash = ?1 AND expires_at > ?2",
                )?
                .query_row(params![token_hash, now.timestamp()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let Some((login, csrf)) = row else {
                return Ok(None);
            };
            Ok(account_in(c, &login)?
                .filter(|a| !a.disabled)
                .map(|a| (a, csrf)))
        })
    }

    fn end_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let t = token_hash.to_string();
        self.write(move |tx| {
            tx.execute("DELETE FROM sessions WHERE token_hash = ?1", [t.clone()])?;
            Ok(())
        })
    }

    fn audit(
        &self,
        login: &str,
        campaign: Option<&str>,
        action: &str,
        detail: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (l, c, a, d, addr) = (
            bounded(login, AUDIT_LOGIN_MAX),
            campaign.map(String::from),
            bounded(action, 64),
            bounded(detail, AUDIT_DETAIL_MAX),
            bounded(address, 64),
        );
        self.write(move |tx| {
            tx.execute("INSERT INTO audit_log (at, login, campaign, action, detail, address) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", params![rfc3339(now), l, c, a, d, addr])?;
            Ok(())
        })
    }

    fn audit_repeated(
        &self,
        login: &str,
        campaign: Option<&str>,
        action: &str,
        detail: &str,
        address: &str,
        times: u64,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (l, c, a, addr) = (
            bounded(login, AUDIT_LOGIN_MAX),
            campaign.map(String::from),
            bounded(action, 64),
            bounded(address, 64),
        );
        let base = bounded(detail, AUDIT_DETAIL_MAX - 40);
        self.write(move |tx| {
            let found: Option<(i64, i64)> = tx
                .query_row(
                    "SELECT id, repeated FROM audit_log WHERE action = ?1 AND address = ?2 AND login = ?3 AND at >= ?4
                       AND (detail = ?5 OR substr(detail, 1, length(?5) + 3) = ?5 || ' — ') ORDER BY id DESC LIMIT 1",
                    params![a, addr, l, rfc3339(since), base],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            match found {
                Some((id, before)) => {
                    let repeated = before + times as i64;
                    tx.execute(
                        "UPDATE audit_log SET repeated = ?1, detail = ?2 WHERE id = ?3",
                        params![repeated, format!("{base} — {repeated} lần"), id],
                    )?;
                }
                None => {
                    let said = if times > 1 { format!("{base} — {times} lần") } else { base.clone() };
                    tx.execute(
                        "INSERT INTO audit_log (at, login, campaign, action, detail, address, repeated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![rfc3339(now), l, c, a, said, addr, times as i64],
                    )?;
                }
            }
            Ok(())
        })
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT at, login, campaign, action, detail, address FROM audit_log ORDER BY id DESC LIMIT ?1")?;
            let rows = stmt
                .query_map([limit as i64], audit_entry)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn audit_search(
        &self,
        f: &AuditFilter,
        limit: usize,
        skip: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let f = f.clone();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT at, login, campaign, action, detail, address FROM audit_log
                 WHERE (?1 = '' OR login = ?1) AND (?2 = '' OR action = ?2) AND (?3 = '' OR at >= ?3) AND (?4 = '' OR at < ?4)
                   AND (?5 = '' OR campaign = ?5)
                 ORDER BY id DESC LIMIT ?6 OFFSET ?7",
            )?;
            let rows = stmt
                .query_map(params![f.login, f.action, f.from, f.to, f.campaign, limit as i64, skip as i64], audit_entry)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn audit_count(&self, f: &AuditFilter) -> Result<u64, StoreError> {
        let f = f.clone();
        self.read(move |c| {
            let n: i64 = c
                .prepare_cached(
                    "SELECT COUNT(*) FROM audit_log
                     WHERE (?1 = '' OR login = ?1) AND (?2 = '' OR action = ?2) AND (?3 = '' OR at >= ?3) AND (?4 = '' OR at < ?4)
                       AND (?5 = '' OR campaign = ?5)",
                )?
                .query_row(params![f.login, f.action, f.from, f.to, f.campaign], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
    }
}
