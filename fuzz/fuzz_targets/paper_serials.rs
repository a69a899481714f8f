#![no_main]
//! The paper serial list the ministry keys or scans (`/ministry/paper`). `Intake::record_paper`
//! (`intake/src/service/ministry.rs`) parses it inline — lines → `reconcile::normalize_serial`
//! → drop empty lines → refuse the list if any serial is over 40 bytes or not `[A-Za-z0-9-]` —
//! and stores the serials; `reconcile::reconcile` later matches them against the sample. The
//! inline part cannot be called on its own, so `accept` below restates it (keep the two in
//! step); the pure functions it uses are the real ones.
//!
//! Properties: `normalize_serial` is idempotent; an accepted serial is its own normal form; the
//! reconciliation of any list counts what it was given (paper ≤ expected forms, every serial
//! that matches no form listed as unexpected, duplicates counted).

use intake::{
    reconcile::{normalize_serial, reconcile},
    store::ExpectedForm,
};
use libfuzzer_sys::fuzz_target;
use std::{collections::HashSet, sync::OnceLock};
use sync_protocol::lifecycle::HouseholdStatus;

/// `Intake::record_paper`'s parsing, as of this writing.
fn accept(serials_text: &str) -> Result<Vec<String>, String> {
    let serials: Vec<String> = serials_text.lines().map(normalize_serial).filter(|s| !s.is_empty()).collect();
    if serials.is_empty() {
        return Err("no serial was given".into());
    }
    if let Some(bad) = serials.iter().find(|s| s.len() > 40 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')) {
        return Err(format!("{bad:?} is not a form serial"));
    }
    Ok(serials)
}

/// A small sample: two villages, a few statuses, some forms already delivered digitally.
fn expected() -> &'static [ExpectedForm] {
    static FORMS: OnceLock<Vec<ExpectedForm>> = OnceLock::new();
    FORMS.get_or_init(|| {
        use HouseholdStatus::*;
        let statuses = [Verified, InParcel, Refused, Collected, Transcribed, Replaced, Moved, Distributed];
        (1..=12u32)
            .map(|i| ExpectedForm {
                household: format!("QT-GL-{i:02}"),
                serial: format!("QT24-{i:05}"),
                enumerator: if i <= 6 { "enum-gl-01" } else { "enum-gl-02" }.into(),
                village: if i <= 6 { "gl-a" } else { "gl-b" }.into(),
                village_name: "Thôn".into(),
                status: statuses[i as usize % statuses.len()],
                digital: i % 3 != 0,
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    // The form posts text: anything that is not UTF-8 is refused before the service.
    let Ok(text) = std::str::from_utf8(data) else { return };
    for line in text.lines() {
        let once = normalize_serial(line);
        assert_eq!(normalize_serial(&once), once, "normalizing {line:?} twice changes it");
    }

    let Ok(serials) = accept(text) else { return };
    for s in &serials {
        assert_eq!(&normalize_serial(s), s);
    }
    let forms = expected();
    let r = reconcile(forms, &serials);
    let known: HashSet<&str> = forms.iter().map(|f| f.serial.as_str()).collect();
    let distinct: HashSet<&str> = serials.iter().map(String::as_str).collect();
    assert!(r.paper as usize <= forms.len());
    assert_eq!(r.paper as usize, distinct.iter().filter(|s| known.contains(*s)).count());
    assert_eq!(r.unexpected.len(), distinct.iter().filter(|s| !known.contains(*s)).count());
    assert_eq!(r.duplicates.values().map(|n| *n as usize).sum::<usize>() + (distinct.len() - r.duplicates.len()), serials.len());
    assert!(r.done <= r.paper && r.done <= r.digital);
});
