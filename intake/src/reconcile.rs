//! Paper against digital: what the sample expects, what arrived sealed over the network, and
//! which paper forms arrived in parcels (serials keyed or scanned at the ministry). A household
//! is done only when both sides agree. Pure: the store supplies the lists.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use sync_protocol::lifecycle::HouseholdStatus;

use crate::store::ExpectedForm;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VillageReconciliation {
    pub village: String,
    pub village_name: String,
    /// Households that should give a form (refused, moved, unreachable and replaced ones do not).
    pub expected: u32,
    pub digital: u32,
    pub paper: u32,
    /// Both sides present.
    pub done: u32,
    /// Digital without paper, and paper without digital (serials).
    pub paper_missing: Vec<String>,
    pub digital_missing: Vec<String>,
    /// Keyed once on the tablet and waiting for the second keying (a double-keying campaign's
    /// answers arrive with the verification): half done, not missing. With or without paper.
    pub keyed_once: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    pub villages: Vec<VillageReconciliation>,
    pub expected: u32,
    pub digital: u32,
    pub paper: u32,
    pub done: u32,
    /// Households keyed once, waiting for their second keying.
    pub keyed_once: u32,
    /// Serials that arrived more than once, with how many times.
    pub duplicates: BTreeMap<String, u32>,
    /// Serials that arrived but belong to no household of the sample.
    pub unexpected: Vec<String>,
}

fn gives_no_form(status: HouseholdStatus) -> bool {
    matches!(
        status,
        HouseholdStatus::Refused
            | HouseholdStatus::Moved
            | HouseholdStatus::Unreachable
            | HouseholdStatus::Replaced
    )
}

/// Dashes a phone's keyboard or a word processor puts where the printed serial has a hyphen
/// (typing `--` on many keyboards gives `–`).
const DASHES: [char; 6] = [
    '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2212}',
];

/// Normalizes a serial as keyed or scanned: case, blanks around it or around its dash and the
/// kind of dash do not matter (`qt24 – 00005` is `QT24-00005`). Other blanks stay, so two
/// serials on one line are not taken for one.
pub fn normalize_serial(s: &str) -> String {
    let mut serial = String::with_capacity(s.len());
    for c in s.trim().chars() {
        // ASCII case only: Unicode folding would turn a hostile `ſ` into `S` or `ﬀ` into `FF`
        // and let it pass as a printed serial.
        let c = if DASHES.contains(&c) {
            '-'
        } else {
            c.to_ascii_uppercase()
        };
        if c == '-' {
            serial.truncate(serial.trim_end().len());
        } else if c.is_whitespace() && serial.ends_with('-') {
            continue;
        }
        serial.push(c);
    }
    serial
}

/// The serials of a list typed by hand: separated by commas, semicolons, new lines or blanks,
/// where blanks around a dash belong to the serial (`QT24 - 00005, qt24-00006` is two serials,
/// not four). Each comes back as typed but for those blanks; [`normalize_serial`] makes it
/// comparable.
pub fn serials_in(text: &str) -> Vec<String> {
    let mut serials = Vec::new();
    for piece in text.split([',', ';', '\n']) {
        let mut serial = String::new();
        for word in piece.split_whitespace() {
            let joins = |c: Option<char>| c.is_some_and(|c| c == '-' || DASHES.contains(&c));
            if !serial.is_empty() && !joins(serial.chars().last()) && !joins(word.chars().next()) {
                serials.push(std::mem::take(&mut serial));
            }
            serial.push_str(word);
        }
        if !serial.is_empty() {
            serials.push(serial);
        }
    }
    serials
}

pub fn reconcile(expected: &[ExpectedForm], paper: &[String]) -> Reconciliation {
    let mut counts: HashMap<String, u32> = HashMap::with_capacity(paper.len());
    for s in paper {
        *counts.entry(normalize_serial(s)).or_default() += 1;
    }
    let known: HashSet<&str> = expected.iter().map(|e| e.serial.as_str()).collect();
    let mut unexpected: Vec<String> = counts
        .keys()
        .filter(|s| !known.contains(s.as_str()))
        .cloned()
        .collect();
    unexpected.sort();
    let mut out = Reconciliation {
        duplicates: counts
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(s, n)| (s.clone(), *n))
            .collect(),
        unexpected,
        ..Default::default()
    };
    for village in expected.chunk_by(|a, b| a.village == b.village) {
        let mut v = VillageReconciliation {
            village: village[0].village.clone(),
            village_name: village[0].village_name.clone(),
            ..Default::default()
        };
        for e in village {
            let on_paper = counts.contains_key(&e.serial);
            if !gives_no_form(e.status) {
                v.expected += 1;
            }
            v.digital += e.digital as u32;
            v.paper += on_paper as u32;
            let keyed_once = !e.digital && e.status == HouseholdStatus::Transcribed;
            match (e.digital, on_paper) {
                (true, true) => v.done += 1,
                (true, false) => v.paper_missing.push(e.serial.clone()),
                _ if keyed_once => v.keyed_once.push(e.serial.clone()),
                (false, true) => v.digital_missing.push(e.serial.clone()),
                (false, false) => {}
            }
        }
        out.expected += v.expected;
        out.digital += v.digital;
        out.paper += v.paper;
        out.done += v.done;
        out.keyed_once += v.keyed_once.len() as u32;
        out.villages.push(v);
    }
    out
}

/// The back-check (phúc tra) sample: for each enumerator, `share_percent` of their households
/// with a form (rounded up), at least `min_per_enumerator` (or all they have). The draw is an
/// order anyone can recompute (docs/statistics.md, "The back-check draw"): each household's
/// key is SHA-256 of `fieldpost/backcheck/v2␊{seed}␊{enumerator}␊{household}`; an enumerator's
/// households are taken in ascending order of their keys (as bytes). The same seed always gives
/// the same list, and adding or removing a household changes no other household's key.
pub fn backcheck_sample(
    forms: &[ExpectedForm],
    seed: &str,
    share_percent: u32,
    min_per_enumerator: u32,
) -> Vec<(String, Vec<ExpectedForm>)> {
    let mut by_enumerator: BTreeMap<&str, Vec<&ExpectedForm>> = BTreeMap::new();
    for f in forms.iter().filter(|f| f.digital) {
        by_enumerator
            .entry(f.enumerator.as_str())
            .or_default()
            .push(f);
    }
    by_enumerator
        .into_iter()
        .map(|(enumerator, mut list)| {
            list.sort_by_cached_key(|f| backcheck_key(seed, enumerator, &f.household));
            let want = ((list.len() as u64 * share_percent as u64).div_ceil(100) as usize)
                .max(min_per_enumerator as usize)
                .min(list.len());
            let mut chosen: Vec<ExpectedForm> = list[..want].iter().map(|f| (*f).clone()).collect();
            chosen.sort_by(|a, b| a.serial.cmp(&b.serial));
            (enumerator.to_string(), chosen)
        })
        .collect()
}

/// A household's place in the back-check order.
pub fn backcheck_key(seed: &str, enumerator: &str, household: &str) -> [u8; 32] {
    Sha256::digest(format!("fieldpost/backcheck/v2\n{seed}\n{enumerator}\n{household}").as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(
        i: u32,
        enumerator: &str,
        village: &str,
        status: HouseholdStatus,
        digital: bool,
    ) -> ExpectedForm {
        ExpectedForm {
            household: format!("{village}-{i:02}"),
            serial: format!("QT24-{i:05}"),
            enumerator: enumerator.into(),
            village: village.into(),
            village_name: village.into(),
            status,
            digital,
        }
    }

    #[test]
    fn paper_and_digital_are_matched_and_every_discrepancy_is_listed() {
        use HouseholdStatus::*;
        let expected = vec![
            form(1, "e1", "v1", InParcel, true),
            form(2, "e1", "v1", InParcel, true),
            form(3, "e1", "v1", Refused, false),
            form(4, "e1", "v2", Collected, false),
            form(5, "e1", "v2", Transcribed, false),
            form(6, "e1", "v2", Transcribed, false),
        ];
        let paper = [
            "qt24-00001 ",
            "QT24-00001",
            "QT24-00004",
            "QT24-00005",
            "QT24-99999",
        ]
        .map(String::from);
        let r = reconcile(&expected, &paper);
        assert_eq!((r.expected, r.digital, r.paper, r.done), (5, 2, 3, 1));
        // Keyed once (the answers come with the second keying): half done, with or without
        // its paper, and not among the forms whose digital copy is missing.
        assert_eq!(r.villages[1].keyed_once, ["QT24-00005", "QT24-00006"]);
        assert_eq!(r.keyed_once, 2);
        assert_eq!(
            r.duplicates,
            BTreeMap::from([("QT24-00001".to_string(), 2)])
        );
        assert_eq!(r.unexpected, ["QT24-99999"]);
        assert_eq!(r.villages[0].paper_missing, ["QT24-00002"]);
        assert_eq!(r.villages[1].digital_missing, ["QT24-00004"]);
    }

    /// The vector of docs/statistics.md ("The back-check draw"), computed apart from this code
    /// (SHA-256 and a sort, in another language).
    #[test]
    fn the_documented_vector_draws_the_documented_households() {
        use HouseholdStatus::*;
        let forms: Vec<ExpectedForm> = (1..=12)
            .map(|i| form(i, "enum-dh-p2", "dh-p2-kp1", Verified, true))
            .collect();
        let drawn = backcheck_sample(&forms, "phuc-tra-2024", 20, 2);
        let households: Vec<&str> = drawn[0].1.iter().map(|f| f.household.as_str()).collect();
        assert_eq!(households, ["dh-p2-kp1-04", "dh-p2-kp1-09", "dh-p2-kp1-10"]);
        assert_eq!(
            &backcheck_key("phuc-tra-2024", "enum-dh-p2", "dh-p2-kp1-09")[..8],
            [0x02, 0x14, 0x42, 0xbc, 0x61, 0xda, 0xec, 0xce]
        );
    }

    #[test]
    fn the_same_seed_draws_the_same_sample_stratified_by_enumerator() {
        use HouseholdStatus::*;
        let forms: Vec<ExpectedForm> = (1..=40)
            .map(|i| form(i, if i <= 30 { "e1" } else { "e2" }, "v", Verified, i != 7))
            .collect();
        let a = backcheck_sample(&forms, "phuc-tra-2024", 10, 2);
        let b = backcheck_sample(&forms, "phuc-tra-2024", 10, 2);
        assert_eq!(a, b);
        assert_eq!(
            a.iter()
                .map(|(e, l)| (e.as_str(), l.len()))
                .collect::<Vec<_>>(),
            [("e1", 3), ("e2", 2)],
            "10 % of 29 rounds up to 3; the minimum 2 for e2's 10"
        );
        assert!(a.iter().flat_map(|(_, l)| l).all(|f| f.digital));
        let c = backcheck_sample(&forms, "another seed", 10, 2);
        assert_ne!(a, c);
    }

    #[test]
    fn only_ascii_letters_are_folded_in_serials() {
        assert_eq!(normalize_serial(" qt24-00001 "), "QT24-00001");
        assert_eq!(
            normalize_serial("qt24-0000ſ"),
            "QT24-0000ſ",
            "stays non-ASCII, so record_paper refuses it"
        );
        assert_eq!(normalize_serial("qt24 – 00005"), "QT24-00005");
        assert_eq!(normalize_serial("QT24\u{2212}00005"), "QT24-00005");
        assert_eq!(
            normalize_serial("QT24-00005 QT24-00006"),
            "QT24-00005 QT24-00006",
            "two serials on a line stay apart, so record_paper refuses the line"
        );
    }

    #[test]
    fn blanks_around_a_dash_in_a_typed_list_belong_to_its_serial() {
        assert_eq!(
            serials_in("QT24 - 00005, qt24-00006;QT24 -00007\nQT24– 00008  QT24-00009 ,,"),
            [
                "QT24-00005",
                "qt24-00006",
                "QT24-00007",
                "QT24–00008",
                "QT24-00009"
            ]
        );
        assert_eq!(
            serials_in("QT24-00001 QT24-00002\tQT24-00003"),
            ["QT24-00001", "QT24-00002", "QT24-00003"]
        );
        assert!(serials_in(" , ;\n ").is_empty());
    }
}
