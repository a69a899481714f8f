//! People at the centre: logging in (with the limits of `accounts::LOGIN_LIMITS`), and the
//! accounts admins keep — saved, disabled, deleted, every change audited.

#[allow(unused_imports)]
use super::*;

impl Intake {
    /// Checks a login and opens a fresh session; returns the cookie value. Every attempt is in
    /// the audit log. Wrong passwords are limited per login and address, per login, per address
    /// and in all (see [`crate::accounts::LOGIN_LIMITS`]); the counts are kept in the store, so
    /// they hold across restarts. Past a limit even the right password is refused for a while.
    pub fn log_in(
        &self,
        login: &str,
        password: &str,
        address: &str,
    ) -> Result<String, IntakeError> {
        let now = Utc::now();
        let wrong = || IntakeError::Unauthenticated("wrong login or password".into());
        let login = login.trim();
        let window = crate::accounts::LOGIN_WINDOW.as_secs() as i64;
        let since = now.timestamp() - window;
        let failures = self.store.login_failures(login, address, since)?;
        let limits = crate::accounts::LOGIN_LIMITS;
        if failures.pair >= limits.pair
            || failures.login >= limits.login
            || failures.address >= limits.address
            || failures.total >= limits.total
        {
            self.audit_refusal(
                login,
                address,
                &format!("too many wrong passwords: {failures:?}"),
            )?;
            return Err(IntakeError::RateLimited {
                retry_after_secs: window as u64,
            });
        }
        let account = if login.chars().count() > crate::accounts::LOGIN_MAX_CHARS {
            None
        } else {
            self.store.account(login)?
        };
        if !crate::accounts::verify_password(
            account.as_ref().and_then(|a| a.password_hash.as_deref()),
            password,
        ) {
            self.store
                .record_login_failure(login, address, now.timestamp(), since)?;
            self.store.audit(
                login,
                "login_failed",
                "wrong login or password",
                address,
                now,
            )?;
            return Err(wrong());
        }
        if account.as_ref().is_some_and(|a| a.disabled) {
            self.store
                .audit(login, "login_refused", "account disabled", address, now)?;
            return Err(wrong());
        }
        let token = crate::accounts::new_token();
        let csrf = crate::accounts::new_token();
        self.store.create_session(
            &crate::accounts::token_hash(&token),
            login,
            &csrf,
            now + Duration::hours(crate::accounts::SESSION_HOURS),
            now,
        )?;
        self.store.audit(login, "login", "", address, now)?;
        Ok(token)
    }

    /// Audits a refused login once per login and address and window.
    fn audit_refusal(&self, login: &str, address: &str, detail: &str) -> Result<(), IntakeError> {
        const REMEMBERED: usize = 10_000;
        let mut seen = self
            .refusals_audited
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, at| at.elapsed() < crate::accounts::LOGIN_WINDOW);
        let key = (
            crate::store::bounded(login, crate::store::AUDIT_LOGIN_MAX),
            address.to_string(),
        );
        if seen.contains_key(&key) {
            return Ok(());
        }
        if seen.len() >= REMEMBERED {
            // Under a flood of distinct names: one row says so, the rest are counted as failures.
            if seen.len() == REMEMBERED {
                seen.insert((String::new(), String::new()), Instant::now());
                drop(seen);
                self.store.audit(
                    "",
                    "login_refusals_suppressed",
                    "more than 10,000 refused logins in the window",
                    address,
                    Utc::now(),
                )?;
            }
            return Ok(());
        }
        seen.insert(key, Instant::now());
        drop(seen);
        Ok(self
            .store
            .audit(login, "login_refused", detail, address, Utc::now())?)
    }

    /// Disables or enables an account (never one's own); its sessions end. Audited.
    pub fn set_account_disabled(
        &self,
        login: &str,
        disabled: bool,
        by: &str,
        address: &str,
    ) -> Result<(), IntakeError> {
        if login == by {
            return Err(IntakeError::Declined(
                "Không thể tự khoá tài khoản của mình. / You cannot disable your own account."
                    .into(),
            ));
        }
        self.store
            .set_account_disabled(login, disabled, Utc::now())?;
        Ok(self.store.audit(
            by,
            if disabled {
                "account_disabled"
            } else {
                "account_enabled"
            },
            login,
            address,
            Utc::now(),
        )?)
    }

    /// Deletes an account (never one's own); the audit log keeps who it was.
    pub fn delete_account(&self, login: &str, by: &str, address: &str) -> Result<(), IntakeError> {
        if login == by {
            return Err(IntakeError::Declined(
                "Không thể tự xoá tài khoản của mình. / You cannot delete your own account.".into(),
            ));
        }
        let account = self.store.account(login)?.ok_or_else(|| {
            IntakeError::from(crate::store::StoreError::UnknownAccount(login.into()))
        })?;
        self.store.delete_account(login)?;
        let who = format!(
            "{login} — {} ({}; {})",
            account.name,
            account.role.as_str(),
            account.districts.join(", ")
        );
        Ok(self
            .store
            .audit(by, "account_deleted", &who, address, Utc::now())?)
    }

    /// Creates or changes an account from the admin page; audited.
    #[allow(clippy::too_many_arguments)]
    pub fn save_account(
        &self,
        login: &str,
        name: &str,
        role: &str,
        districts: &str,
        password: &str,
        by: &str,
        address: &str,
    ) -> Result<(), IntakeError> {
        let login = login.trim();
        if login.is_empty()
            || login.len() > 64
            || !login
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        {
            return Err(IntakeError::Declined("Tên đăng nhập gồm 1 đến 64 ký tự a-z, 0-9, '.', '_' và '-'. / A login is 1 to 64 of a-z, 0-9, '.', '_' and '-'.".into()));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(IntakeError::Declined(
                "Họ tên dài từ 1 đến 200 ký tự. / A name is 1 to 200 characters.".into(),
            ));
        }
        let role = crate::accounts::Role::parse(role)
            .ok_or_else(|| IntakeError::BadRequest(format!("unknown role {role:?}")))?;
        let districts: Vec<String> = districts
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(String::from)
            .collect();
        if role == crate::accounts::Role::Supervisor && districts.is_empty() {
            return Err(IntakeError::Declined(
                "Giám sát viên cần ít nhất một huyện. / A supervisor needs at least one district."
                    .into(),
            ));
        }
        let hash = crate::accounts::hash_password(password)
            .map_err(|e| IntakeError::BadRequest(e.to_string()))?;
        let account = crate::accounts::Account {
            login: login.into(),
            name: name.into(),
            role,
            districts,
            password_hash: Some(hash),
            disabled: false,
        };
        self.store.upsert_account(&account, Utc::now())?;
        self.store.audit(
            by,
            "account_saved",
            &format!("{login} ({})", role.as_str()),
            address,
            Utc::now(),
        )?;
        Ok(())
    }
}
