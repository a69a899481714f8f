#![no_main]
//! Any bytes given to the loader give a form or a typed error, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = forms::Form::from_json(text);
        let _ = forms::validate::parse_answers(text);
        let _ = forms::expr::parse(text);
    }
    let _ = forms::xlsform::import(data);
});
