//! The ministry's secret key as the intake keeps it: encrypted under a passphrase that is never
//! stored. Key derivation argon2id (salt and parameters kept beside the ciphertext), cipher
//! XChaCha20-Poly1305. A ministry user types the passphrase to compute results or export
//! answers; the key lives for that request only. Without the passphrase the intake cannot read
//! a single answer.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::{engine::general_purpose::STANDARD, Engine};
use chacha20poly1305::{aead::Aead, KeyInit, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sync_protocol::keys::{MinistryPublicKey, MinistrySecretKey};
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error(
        "Cụm mật khẩu không mở được khoá mở phiếu của đợt khảo sát này. / The passphrase does not open this campaign's answer key."
    )]
    WrongPassphrase,
    #[error("Cụm mật khẩu cần ít nhất {0} ký tự. / A passphrase needs at least {0} characters.")]
    PassphraseTooShort(usize),
    #[error("Máy chủ chưa giữ khoá mở phiếu của đợt khảo sát này: chạy `intake store-ministry-key`. / No answer key of this campaign is stored on this intake: run `intake store-ministry-key`.")]
    NotStored,
    #[error("Khoá mở phiếu lưu trên máy chủ bị hỏng. / The stored answer key is damaged: {0}")]
    Damaged(String),
    #[error("Đây không phải khoá mở phiếu của đợt khảo sát này. / This key is not the campaign's answer key (its public key differs).")]
    NotTheCampaignsKey,
}

pub const MIN_PASSPHRASE_CHARS: usize = 16;

/// What is stored: everything but the passphrase.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sealed {
    kdf: String,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
    nonce: String,
    ciphertext: String,
}

fn derive(
    passphrase: &str,
    salt: &[u8],
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let params = Params::new(memory_kib, iterations, parallelism, Some(32))
        .map_err(|e| KeyError::Damaged(e.to_string()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(|e| KeyError::Damaged(e.to_string()))?;
    Ok(key)
}

/// Encrypts the ministry's secret key under `passphrase`; returns what the intake stores.
pub fn encrypt(secret: &MinistrySecretKey, passphrase: &str) -> Result<String, KeyError> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(KeyError::PassphraseTooShort(MIN_PASSPHRASE_CHARS));
    }
    let (memory_kib, iterations, parallelism) = (64 * 1024, 3, 1);
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let key = derive(passphrase, &salt, memory_kib, iterations, parallelism)?;
    let plaintext = Zeroizing::new(secret.to_bytes());
    let ciphertext = XChaCha20Poly1305::new(key.as_ref().into())
        .encrypt(XNonce::from_slice(&nonce), plaintext.as_ref())
        .map_err(|_| KeyError::Damaged("encryption failed".into()))?;
    let sealed = Sealed {
        kdf: "argon2id".into(),
        memory_kib,
        iterations,
        parallelism,
        salt: STANDARD.encode(salt),
        nonce: STANDARD.encode(nonce),
        ciphertext: STANDARD.encode(ciphertext),
    };
    Ok(serde_json::to_string(&sealed).expect("serializes"))
}

/// Opens the stored key with `passphrase` and checks it is the campaign's.
pub fn decrypt(
    stored: &str,
    passphrase: &str,
    expected: &MinistryPublicKey,
) -> Result<MinistrySecretKey, KeyError> {
    let sealed: Sealed =
        serde_json::from_str(stored).map_err(|e| KeyError::Damaged(e.to_string()))?;
    if sealed.kdf != "argon2id" {
        return Err(KeyError::Damaged(format!(
            "unknown key derivation {}",
            sealed.kdf
        )));
    }
    let field = |name: &str, v: &str| {
        STANDARD
            .decode(v)
            .map_err(|e| KeyError::Damaged(format!("{name}: {e}")))
    };
    let (salt, nonce, ciphertext) = (
        field("salt", &sealed.salt)?,
        field("nonce", &sealed.nonce)?,
        field("ciphertext", &sealed.ciphertext)?,
    );
    if nonce.len() != 24 {
        return Err(KeyError::Damaged("nonce length".into()));
    }
    let key = derive(
        passphrase,
        &salt,
        sealed.memory_kib,
        sealed.iterations,
        sealed.parallelism,
    )?;
    let plaintext = Zeroizing::new(
        XChaCha20Poly1305::new(key.as_ref().into())
            .decrypt(XNonce::from_slice(&nonce), ciphertext.as_ref())
            .map_err(|_| KeyError::WrongPassphrase)?,
    );
    let bytes: [u8; 32] = plaintext
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::Damaged("key length".into()))?;
    let secret = MinistrySecretKey::from_bytes(bytes);
    if &secret.public() != expected {
        return Err(KeyError::NotTheCampaignsKey);
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_passphrase_opens_the_key_and_nothing_of_it_is_stored_in_clear() {
        let secret = MinistrySecretKey::from_bytes([0x4d; 32]);
        let stored = encrypt(&secret, "cụm mật khẩu của Bộ Nội vụ").unwrap();
        assert!(!stored.contains(&STANDARD.encode(secret.to_bytes())));
        assert!(!stored.contains("Bộ Nội vụ"));
        let opened = decrypt(&stored, "cụm mật khẩu của Bộ Nội vụ", &secret.public()).unwrap();
        assert_eq!(opened.to_bytes(), secret.to_bytes());
        assert_eq!(
            decrypt(&stored, "cụm mật khẩu của Bộ Nội vu", &secret.public()).unwrap_err(),
            KeyError::WrongPassphrase
        );
        let other = MinistrySecretKey::from_bytes([1; 32]).public();
        assert_eq!(
            decrypt(&stored, "cụm mật khẩu của Bộ Nội vụ", &other).unwrap_err(),
            KeyError::NotTheCampaignsKey
        );
        assert_eq!(
            encrypt(&secret, "ngắn").unwrap_err(),
            KeyError::PassphraseTooShort(MIN_PASSPHRASE_CHARS)
        );
        assert!(matches!(
            decrypt("{}", "x", &secret.public()),
            Err(KeyError::Damaged(_))
        ));
    }
}
