#![no_main]
//! The campaign file (`intake/src/campaign.rs`): `Campaign::from_json`, which `intake check`
//! and `intake import` run on a file the ministry supplies — JSON parse, NFC normalization,
//! and `validate`, which lists every problem with its place.
//!
//! Properties: a refused file gets at least one problem; an accepted campaign validates again,
//! writes back to JSON that is accepted and writes the same, and its derived parts (the
//! ministry key, the info sent to devices, the village → enumerator map) are all there.

use intake::campaign::Campaign;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // `intake` reads the file with `read_to_string`: anything else is refused before parsing.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let campaign = match Campaign::from_json(text) {
        Ok(c) => c,
        Err(problems) => {
            assert!(!problems.is_empty(), "a refusal says why");
            return;
        }
    };
    assert_eq!(campaign.validate(), Ok(()));
    let written = serde_json::to_string(&campaign).expect("a campaign writes as JSON");
    let again = Campaign::from_json(&written).unwrap_or_else(|p| panic!("an accepted campaign written back is refused: {p:?}"));
    assert_eq!(serde_json::to_string(&again).expect("writes"), written);

    assert!(campaign.ministry_key().is_ok());
    assert_eq!(campaign.info().id, campaign.id);
    let covered = campaign.village_enumerators();
    for (_, _, _, village) in campaign.villages() {
        assert!(covered.contains_key(village.id.as_str()), "every village has an enumerator");
    }
});
