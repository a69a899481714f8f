#![no_main]
//! The XLSForm import (`forms/src/xlsform.rs`): `xlsform::import` of the bytes of an `.xlsx`
//! (zip → sheets via calamine → survey/choices/settings rows → a form definition → `Form::load`).
//!
//! An input that starts like a zip file (`PK\x03\x04`) goes in as it is: that covers the
//! workbook reader. Any other input is read as a workbook written as text
//! (see `fieldpost_fuzz::workbook_from_text`: `=sheet` lines, tab-separated cells), turned into
//! a real `.xlsx` here, and imported: that lets the fuzzer shape the rows the converter reads.
//!
//! Properties: an import that succeeds gives a form that loads again from its own JSON, and
//! every row it could not convert names a sheet the converter reads, with a row number past
//! the header.

use forms::{xlsform, Form};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.starts_with(b"PK\x03\x04") {
        check(data);
    } else if let Ok(text) = std::str::from_utf8(data) {
        if let Some(xlsx) = fieldpost_fuzz::workbook_from_text(text) {
            check(&xlsx);
        }
    }
});

fn check(xlsx: &[u8]) {
    let Ok(import) = xlsform::import(xlsx) else { return };
    let written = serde_json::to_string(&import.form.definition).expect("a definition writes as JSON");
    let again = Form::from_json(&written).unwrap_or_else(|e| panic!("an imported form written back does not load: {e}"));
    assert_eq!(again.question_order(), import.form.question_order());
    for u in &import.unsupported {
        assert!(["survey", "choices", "settings"].contains(&u.sheet), "{u}");
        assert!(u.row >= 2, "row numbers are Excel's, after the header: {u}");
    }
}
