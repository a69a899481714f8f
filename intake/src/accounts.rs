//! People at the centre and what they may see: accounts with roles (a supervisor is scoped to
//! districts), argon2id password hashes, session and CSRF tokens. Pure functions and small
//! types; the store keeps them and `web` uses them. This module depends on no other part of
//! the intake (the store depends on it).

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long a session lasts without a new login.
pub const SESSION_HOURS: i64 = 12;
/// How many wrong passwords, and when the last was (Unix seconds; 0 for none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub n: u32,
    pub last: i64,
}

/// A throttle on wrong passwords: the first `free` within [`LOGIN_WINDOW`] cost nothing; after
/// that each attempt waits `first_wait_secs`, doubled with every further failure, at most
/// `max_wait_secs`, after the last failure. A delay that grows, never a lock: the right password
/// gets in as soon as the delay is over (OWASP's authentication guidance).
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    pub free: u32,
    pub first_wait_secs: u64,
    pub max_wait_secs: u64,
}

impl Throttle {
    /// Seconds still to wait at `now` after `tally`'s failures.
    pub fn wait(&self, tally: Tally, now: i64) -> u64 {
        if tally.n < self.free {
            return 0;
        }
        let doublings = (tally.n - self.free).min(20);
        let delay = (self.first_wait_secs << doublings).min(self.max_wait_secs) as i64;
        (tally.last + delay - now).max(0) as u64
    }
}

/// The login throttles. A browser that logged in to the account before (its known-browser
/// cookie) passes the account's, the address's and the pair's throttles — an attacker elsewhere
/// cannot keep its owner out — and is held by its own instead.
pub struct LoginThrottles {
    /// One login from one address.
    pub pair: Throttle,
    /// One login from anywhere: higher, so that guesses from elsewhere slow its owner late.
    pub login: Throttle,
    /// One address, whatever the login (spraying from one place).
    pub address: Throttle,
    /// Through one known-browser cookie (a stolen cookie is no free pass).
    pub browser: Throttle,
    /// Wrong passwords for names that are no account, from everywhere together: past this,
    /// such names are refused without a password check (spraying from many places costs no
    /// CPU). A real account is never held by it.
    pub unknown_names: u32,
}

pub const LOGIN_THROTTLES: LoginThrottles = LoginThrottles {
    pair: Throttle {
        free: 5,
        first_wait_secs: 2,
        max_wait_secs: 15 * 60,
    },
    login: Throttle {
        free: 10,
        first_wait_secs: 2,
        max_wait_secs: 15 * 60,
    },
    address: Throttle {
        free: 30,
        first_wait_secs: 2,
        max_wait_secs: 15 * 60,
    },
    browser: Throttle {
        free: 10,
        first_wait_secs: 2,
        max_wait_secs: 15 * 60,
    },
    unknown_names: 300,
};
/// The cookie that marks a browser an account logged in from; a year.
pub const KNOWN_BROWSER_COOKIE: &str = "fp_browser";
pub const KNOWN_BROWSER_DAYS: i64 = 365;
pub const LOGIN_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Longer login names are refused at once (and never stored whole).
pub const LOGIN_MAX_CHARS: usize = 64;
/// Wrong passphrases of the ministry key one account may type within [`LOGIN_WINDOW`].
pub const PASSPHRASE_MAX_FAILURES: usize = 5;
/// Shorter than this is refused when a password is set.
pub const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees progress in their districts; never an answer.
    Supervisor,
    /// Reconciles, back-checks, reviews, opens answers with the passphrase.
    Ministry,
    /// Creates accounts, issues enrollment codes, revokes devices.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Supervisor => "supervisor",
            Role::Ministry => "ministry",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "supervisor" => Some(Role::Supervisor),
            "ministry" => Some(Role::Ministry),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub login: String,
    pub name: String,
    pub role: Role,
    /// The campaigns this account may see, each with the district ids a supervisor sees in it
    /// (empty for other roles, who see the whole campaign). Admins see every campaign.
    pub campaigns: std::collections::BTreeMap<String, Vec<String>>,
    /// A supervisor's districts in the campaign being looked at (see [`Account::in_campaign`]);
    /// empty outside one.
    pub districts: Vec<String>,
    pub password_hash: Option<String>,
    /// Kept, but cannot log in.
    pub disabled: bool,
}

impl Account {
    /// Whether this account may see the district's progress (in the campaign being looked at).
    pub fn may_see_district(&self, district: &str) -> bool {
        self.role != Role::Supervisor || self.districts.iter().any(|d| d == district)
    }

    /// Whether this account may enter the campaign at all.
    pub fn may_enter(&self, campaign: &str) -> bool {
        self.role == Role::Admin || self.campaigns.contains_key(campaign)
    }

    /// The account as it stands in one campaign: its districts there.
    pub fn in_campaign(mut self, campaign: &str) -> Account {
        self.districts = self.campaigns.get(campaign).cloned().unwrap_or_default();
        self
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("Mật khẩu cần ít nhất {MIN_PASSWORD_CHARS} ký tự. / A password needs at least {MIN_PASSWORD_CHARS} characters.")]
    TooShort,
    #[error("Mật khẩu này quá phổ biến, hãy chọn mật khẩu khác. / This password is too common; choose another.")]
    Common,
    #[error("the password could not be hashed: {0}")]
    Hashing(String),
}

/// An argon2id hash (PHC string, with its own random salt and parameters).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let password = nfc(password);
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if is_common(&password) {
        return Err(PasswordError::Common);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// The same Vietnamese password typed composed or decomposed (keyboards differ) is one password.
fn nfc(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfc().collect()
}

const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// On the shipped list of common passwords, or one character repeated.
pub fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    let mut chars = lower.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return true;
    }
    COMMON_PASSWORDS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .any(|l| l.trim() == lower)
}

/// Checks a password against a stored hash; a missing or damaged hash never matches.
pub fn verify_password(hash: Option<&str>, password: &str) -> bool {
    let Some(parsed) = hash.and_then(|h| PasswordHash::new(h).ok()) else {
        // Spend the same effort as a real check, so timing does not tell which logins exist.
        let _ =
            Argon2::default().hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng));
        return false;
    };
    let argon = Argon2::default();
    let normalized = nfc(password);
    // Passwords set before normalisation were hashed as typed.
    argon
        .verify_password(normalized.as_bytes(), &parsed)
        .is_ok()
        || (normalized != password && argon.verify_password(password.as_bytes(), &parsed).is_ok())
}

/// 256 random bits, URL-safe: a session cookie or a CSRF token.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps of a session token: its SHA-256, so a stolen database opens no session.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify_only_themselves() {
        let hash = hash_password("mật khẩu đủ dài 2024").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(Some(&hash), "mật khẩu đủ dài 2024"));
        assert!(!verify_password(Some(&hash), "mật khẩu đủ dài 2025"));
        assert!(!verify_password(None, "anything at all"));
        assert!(!verify_password(Some("not a hash"), "anything at all"));
        assert_eq!(hash_password("short"), Err(PasswordError::TooShort));
        assert_ne!(
            hash_password("mật khẩu đủ dài 2024").unwrap(),
            hash,
            "a fresh salt each time"
        );
    }

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &b));
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn a_supervisor_sees_only_their_districts_of_the_campaigns_they_are_given() {
        let s = Account {
            login: "gs-dh".into(),
            name: "x".into(),
            role: Role::Supervisor,
            campaigns: [("qt-2024".to_string(), vec!["dh".to_string()])].into(),
            districts: vec![],
            password_hash: None,
            disabled: false,
        };
        assert!(s.may_enter("qt-2024") && !s.may_enter("bd-2024"));
        let in_qt = s.clone().in_campaign("qt-2024");
        assert!(in_qt.may_see_district("dh") && !in_qt.may_see_district("qt"));
        assert!(!s.clone().in_campaign("bd-2024").may_see_district("dh"));
        let m = Account {
            role: Role::Ministry,
            ..s.clone()
        };
        assert!(m.in_campaign("qt-2024").may_see_district("qt"));
        let admin = Account {
            role: Role::Admin,
            campaigns: Default::default(),
            ..s
        };
        assert!(admin.may_enter("bd-2024"));
    }
}
