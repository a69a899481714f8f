//! The screen the enumerator was on (and the language), kept in a small file so that it
//! survives an app restart. Written to a temporary file and renamed: never half a file.

use std::path::Path;

const FILE: &str = "ui-state.json";

pub fn load(dir: &Path) -> serde_json::Value {
    std::fs::read(dir.join(FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null)
}

pub fn save(dir: &Path, state: &serde_json::Value) -> std::io::Result<()> {
    let tmp = dir.join(format!("{FILE}.tmp"));
    std::fs::write(
        &tmp,
        serde_json::to_vec(state).expect("a JSON value serializes"),
    )?;
    std::fs::rename(tmp, dir.join(FILE))
}

#[cfg(test)]
mod tests {
    #[test]
    fn what_is_saved_is_loaded_and_garbage_reads_as_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(super::load(dir.path()).is_null());
        let state = serde_json::json!({"route": "#/village/dh-p2-kp1", "lang": "vi"});
        super::save(dir.path(), &state).unwrap();
        assert_eq!(super::load(dir.path()), state);
        std::fs::write(dir.path().join(super::FILE), b"{half").unwrap();
        assert!(super::load(dir.path()).is_null());
    }
}
