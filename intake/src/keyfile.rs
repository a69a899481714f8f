//! The intake's own Ed25519 key (it signs receipts and assignments), kept in the data
//! directory with owner-only permissions and made on first start.

use std::{fs, io::Write, path::Path};
use sync_protocol::keys::DeviceKey;

pub fn load_or_create(path: &Path) -> Result<DeviceKey, String> {
    if path.exists() {
        let text =
            fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        return DeviceKey::from_b64(text.trim())
            .map_err(|e| format!("{} is not an intake key: {e}", path.display()));
    }
    let key = DeviceKey::generate(&mut rand::rngs::OsRng);
    write_secret(path, &sync_protocol::keys::b64(&key.seed()))?;
    Ok(key)
}

/// Writes a secret to a new file readable by its owner only.
pub fn write_secret(path: &Path, text: &str) -> Result<(), String> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(format!("{text}\n").as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
