//! People at the centre: logging in (slowed by `accounts::LOGIN_THROTTLES`), and the
//! accounts admins keep — saved, disabled, deleted, every change audited.

#[allow(unused_imports)]
use super::*;

/// A login let in: the session cookie's value, and a known-browser cookie to set when the
/// browser had none for this account.
pub struct LoggedIn {
    pub session: String,
    pub new_browser: Option<String>,
}

impl Centre {
    /// Checks a login and opens a fresh session; returns the session cookie's value, and a new
    /// known-browser cookie when this browser had none for the account. Every attempt is in the
    /// audit log. Wrong passwords slow further attempts (see [`crate::accounts::LOGIN_THROTTLES`]);
    /// the counts are kept in the store, so they hold across restarts and processes.
    pub fn log_in(
        &self,
        login: &str,
        password: &str,
        address: &str,
        browser_cookie: Option<&str>,
    ) -> Result<LoggedIn, IntakeError> {
        // Argon2's working memory and every string the password passed through: wiped when
        // freed (see `crate::wipe`).
        let _wipe = crate::wipe::secret();
        let now = Utc::now();
        let wrong = || IntakeError::Unauthenticated("wrong login or password".into());
        let login = login.trim();
        let window = crate::accounts::LOGIN_WINDOW.as_secs() as i64;
        let since = now.timestamp() - window;
        let account = if login.chars().count() > crate::accounts::LOGIN_MAX_CHARS {
            None
        } else {
            self.accounts().account(login)?
        };
        let browser = browser_cookie.map(crate::accounts::token_hash);
        let failure = crate::store::LoginFailure {
            login,
            address,
            known: account.is_some(),
            browser: browser.as_deref(),
        };
        let failures = self.accounts().login_failures(failure, since)?;
        let throttles = &crate::accounts::LOGIN_THROTTLES;
        let t = now.timestamp();
        // A browser this account logged in from before, not itself under a flood of guesses.
        let trusted = match &browser {
            Some(hash) if account.is_some() => {
                self.accounts().known_browser(hash, login)?
                    && throttles.browser.wait(failures.browser, t) == 0
            }
            _ => false,
        };
        let wait = if trusted {
            0
        } else {
            [
                throttles.pair.wait(failures.pair, t),
                throttles.login.wait(failures.login, t),
                throttles.address.wait(failures.address, t),
            ]
            .into_iter()
            .max()
            .unwrap_or(0)
        };
        // Names that are no account are one row per address (a spray of made-up names would
        // otherwise write a row each); a real account's failures stay one row each.
        let audited_login = if account.is_some() { login } else { "" };
        if wait > 0 {
            let said = format!(
                "quá nhiều lần sai mật khẩu (từ địa chỉ này {} lần, với tên này {} lần); phải chờ {wait} giây",
                failures.address.n, failures.login.n
            );
            self.audit_repeated(audited_login, None, "login_refused", &said, address)?;
            return Err(IntakeError::RateLimited {
                retry_after_secs: wait,
            });
        }
        // Past the budget of names that are no account, such a name is not worth a password
        // check: it gets the same answer as any wrong password, after as long as a check takes
        // (neither the status nor the time tells it from a real name).
        let skip_check = account.is_none() && failures.unknown_names.n >= throttles.unknown_names;
        let right = if skip_check {
            std::thread::sleep(self.password_check_time());
            false
        } else {
            let started = std::time::Instant::now();
            let right = crate::accounts::verify_password(
                account.as_ref().and_then(|a| a.password_hash.as_deref()),
                password,
            );
            self.note_password_check_time(started.elapsed());
            right
        };
        if !right {
            self.accounts().record_login_failure(failure, t, since)?;
            if account.is_some() {
                self.accounts().audit(
                    login,
                    None,
                    "login_failed",
                    "sai tên đăng nhập hoặc mật khẩu",
                    address,
                    now,
                )?;
            } else {
                self.audit_repeated(
                    "",
                    None,
                    "login_failed",
                    "đăng nhập với tên không có tài khoản",
                    address,
                )?;
            }
            return Err(wrong());
        }
        if account.as_ref().is_some_and(|a| a.disabled) {
            self.accounts().audit(
                login,
                None,
                "login_refused",
                "tài khoản đã bị khoá",
                address,
                now,
            )?;
            // The right password of a locked account: say it is locked, not that it is wrong.
            return Err(IntakeError::Unauthenticated("account_disabled".into()));
        }
        // The browser is remembered for this account: by the cookie it has, or a new one.
        let (hash, new_browser) = match browser {
            Some(hash) => (hash, None),
            None => {
                let cookie = crate::accounts::new_token();
                (crate::accounts::token_hash(&cookie), Some(cookie))
            }
        };
        self.accounts().remember_browser(&hash, login, t)?;
        let token = crate::accounts::new_token();
        let csrf = crate::accounts::new_token();
        self.accounts().create_session(
            &crate::accounts::token_hash(&token),
            login,
            &csrf,
            now + Duration::hours(crate::accounts::SESSION_HOURS),
            now,
        )?;
        self.accounts()
            .audit(login, None, "login", "", address, now)?;
        Ok(LoggedIn {
            session: token,
            new_browser,
        })
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
        self.accounts()
            .set_account_disabled(login, disabled, Utc::now())?;
        Ok(self.accounts().audit(
            by,
            None,
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
        let account = self.accounts().account(login)?.ok_or_else(|| {
            IntakeError::from(crate::store::StoreError::UnknownAccount(login.into()))
        })?;
        self.accounts().delete_account(login)?;
        let scopes: Vec<String> = account
            .campaigns
            .iter()
            .map(|(c, d)| {
                if d.is_empty() {
                    c.clone()
                } else {
                    format!("{c}: {}", d.join(", "))
                }
            })
            .collect();
        let who = format!(
            "{login} — {} ({}; {})",
            account.name,
            account.role.as_str(),
            scopes.join("; ")
        );
        Ok(self
            .accounts()
            .audit(by, None, "account_deleted", &who, address, Utc::now())?)
    }

    /// Creates or changes an account from the admin page: the campaigns it may see and, for a
    /// supervisor, its districts in each (checked against each campaign's places). Audited.
    #[allow(clippy::too_many_arguments)]
    pub fn save_account(
        &self,
        login: &str,
        name: &str,
        role: &str,
        campaigns: &std::collections::BTreeMap<String, Vec<String>>,
        password: &str,
        by: &str,
        address: &str,
    ) -> Result<(), IntakeError> {
        let _wipe = crate::wipe::secret();
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
            .ok_or_else(|| IntakeError::Declined("Vai trò không hợp lệ. / Unknown role.".into()))?;
        if role != crate::accounts::Role::Admin && campaigns.is_empty() {
            return Err(IntakeError::Declined(
                "Hãy chọn ít nhất một đợt khảo sát cho tài khoản này (chỉ quản trị viên không cần). / Choose at least one campaign for this account (only admins need none)."
                    .into(),
            ));
        }
        let mut scopes = campaigns.clone();
        for (campaign, districts) in scopes.iter_mut() {
            let intake = self.campaign(campaign)?.ok_or_else(|| {
                IntakeError::Declined(
                    "Không có đợt khảo sát này trên trung tâm. / No such campaign on this centre."
                        .into(),
                )
            })?;
            if role != crate::accounts::Role::Supervisor {
                // Only a supervisor's work is bounded by districts: a ministry officer ticked
                // with a district would see the whole campaign, which the admin did not mean.
                if !districts.is_empty() {
                    return Err(IntakeError::Declined(
                        "Chỉ giám sát viên được giao theo huyện; vai trò này xem cả đợt khảo sát. Hãy bỏ chọn huyện, hoặc chọn vai trò giám sát viên. / Only supervisors are bounded by districts."
                            .into(),
                    ));
                }
                continue;
            }
            if districts.is_empty() {
                return Err(IntakeError::Declined(
                    "Giám sát viên cần ít nhất một huyện trong mỗi đợt khảo sát được giao. / A supervisor needs at least one district in each campaign."
                        .into(),
                ));
            }
            let known: std::collections::HashSet<String> = intake
                .store
                .villages_with_enumerators()?
                .into_iter()
                .map(|(_, _, district, _)| district)
                .collect();
            if districts.iter().any(|d| !known.contains(d)) {
                return Err(IntakeError::Declined(
                    "Có huyện không thuộc đợt khảo sát này. / A district is not of this campaign."
                        .into(),
                ));
            }
        }
        if role == crate::accounts::Role::Supervisor && scopes.is_empty() {
            return Err(IntakeError::Declined(
                "Giám sát viên cần được giao ít nhất một đợt khảo sát. / A supervisor needs a campaign."
                    .into(),
            ));
        }
        if role == crate::accounts::Role::Admin {
            // Admins see every campaign; a list would only go stale.
            scopes.clear();
        }
        let hash = crate::accounts::hash_password(password)
            .map_err(|e| IntakeError::Declined(e.to_string()))?;
        let account = crate::accounts::Account {
            login: login.into(),
            name: name.into(),
            role,
            campaigns: scopes,
            districts: vec![],
            password_hash: Some(hash),
            disabled: false,
        };
        let existed = self.accounts().account(login)?.is_some();
        self.accounts().upsert_account(&account, Utc::now())?;
        self.accounts().audit(
            by,
            None,
            if existed {
                "account_saved"
            } else {
                "account_created"
            },
            &format!("{login} ({})", crate::words::role(role.as_str())),
            address,
            Utc::now(),
        )?;
        Ok(())
    }
}
