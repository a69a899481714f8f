//! Device-clock timestamps. The device's clock can be wrong or jump; the protocol carries the
//! device's own reading with its UTC offset, and the intake records its own time beside it.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A timestamp with whole seconds and an explicit offset, always written
/// `YYYY-MM-DDTHH:MM:SS±HH:MM` (never `Z`, never fractions): one instant, one spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceTime(DateTime<FixedOffset>);

const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%:z";
/// `FORMAT`'s length for years 0–9999.
const SPELLED_LEN: usize = 25;

impl DeviceTime {
    pub fn new(t: DateTime<FixedOffset>) -> Self {
        // Truncate to whole seconds: the canonical form has none.
        let secs = t.timestamp();
        DeviceTime(
            t.offset()
                .timestamp_opt(secs, 0)
                .single()
                .expect("valid timestamp"),
        )
    }
    /// Now on this machine's clock, in the given offset (seconds east of UTC).
    pub fn now_with_offset(offset_secs: i32) -> Self {
        let off = FixedOffset::east_opt(offset_secs).unwrap_or(FixedOffset::east_opt(0).unwrap());
        Self::new(Utc::now().with_timezone(&off))
    }
    pub fn parse(s: &str) -> Result<Self, String> {
        // Every event's times are parsed on the way in: the fields are read by position, and
        // anything that is not already the one spelling goes through chrono for its error.
        if let Some(t) = Self::read_spelled(s.as_bytes()) {
            return Ok(t);
        }
        let t = DateTime::parse_from_str(s, FORMAT).map_err(|e| format!("{s:?}: {e}"))?;
        let canonical = DeviceTime(t);
        if canonical.to_string() != s {
            return Err(format!(
                "{s:?} is not in the form YYYY-MM-DDTHH:MM:SS+HH:MM"
            ));
        }
        Ok(canonical)
    }
    /// The time `s` spells, when it is `SPELLED_LEN` bytes in the one spelling; `None` for
    /// anything else, valid or not.
    fn read_spelled(s: &[u8]) -> Option<Self> {
        if s.len() != SPELLED_LEN {
            return None;
        }
        let number = |from: usize, to: usize| -> Option<u32> {
            s[from..to].iter().try_fold(0u32, |n, &b| {
                b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
            })
        };
        let separators = [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (22, b':'),
        ];
        if separators.iter().any(|&(at, b)| s[at] != b) {
            return None;
        }
        let sign = match s[19] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let date = chrono::NaiveDate::from_ymd_opt(
            i32::try_from(number(0, 4)?).ok()?,
            number(5, 7)?,
            number(8, 10)?,
        )?;
        let local = date.and_hms_opt(number(11, 13)?, number(14, 16)?, number(17, 19)?)?;
        let offset = i32::try_from(number(20, 22)? * 3600 + number(23, 25)? * 60).ok()?;
        let zone = FixedOffset::east_opt(sign * offset)?;
        let t = DeviceTime(zone.from_local_datetime(&local).single()?);
        // "-00:00" and the like read as a time but are not its spelling.
        (t.spelled()? == s).then_some(t)
    }
    /// The one spelling's bytes, for years 0–9999 and offsets in whole minutes; `None` for
    /// the rest, which no device sends and chrono writes.
    fn spelled(&self) -> Option<[u8; SPELLED_LEN]> {
        use chrono::{Datelike, Timelike};
        let (t, offset) = (self.0.naive_local(), self.0.offset().local_minus_utc());
        if !(0..=9999).contains(&t.year()) || offset % 60 != 0 {
            return None;
        }
        let (sign, offset) = if offset < 0 {
            (b'-', -offset)
        } else {
            (b'+', offset)
        };
        let mut out = *b"0000-00-00T00:00:00+00:00";
        let mut put = |at: usize, width: usize, mut n: u32| {
            for i in (at..at + width).rev() {
                out[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, t.year() as u32);
        put(5, 2, t.month());
        put(8, 2, t.day());
        put(11, 2, t.hour());
        put(14, 2, t.minute());
        put(17, 2, t.second());
        put(20, 2, offset as u32 / 3600);
        put(23, 2, offset as u32 % 3600 / 60);
        out[19] = sign;
        Some(out)
    }
    pub fn as_datetime(&self) -> DateTime<FixedOffset> {
        self.0
    }
    pub fn unix(&self) -> i64 {
        self.0.timestamp()
    }
}

impl fmt::Display for DeviceTime {
    /// `FORMAT`, written byte by byte: every event's time is written at least three times on
    /// its way in (the canonical check when parsed and when the batch is re-encoded, and its
    /// row), and chrono's `format` reads its pattern anew each time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.spelled() {
            Some(bytes) => f.write_str(std::str::from_utf8(&bytes).map_err(|_| fmt::Error)?),
            None => write!(f, "{}", self.0.format(FORMAT)),
        }
    }
}

impl Serialize for DeviceTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Read from the input's own text, not from a String made for it.
        struct Spelling;
        impl serde::de::Visitor<'_> for Spelling {
            type Value = DeviceTime;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a time written YYYY-MM-DDTHH:MM:SS+HH:MM")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<DeviceTime, E> {
                DeviceTime::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_str(Spelling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_as_chrono_writes_it() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let edges = [
            (0, 0),
            (-62_167_219_200, 0),      // 0000-01-01T00:00:00
            (253_402_300_799, 0),      // 9999-12-31T23:59:59
            (253_402_300_800, 0),      // 10000-01-01: chrono's own spelling
            (1_732_155_300, 7 * 3600), // 2024-11-21T09:15:00+07:00
            (1_732_155_300, -(9 * 3600 + 30 * 60)),
            (1_732_155_300, 45), // an offset with seconds
            (-1, -14 * 3600),
        ];
        let random = (0..20_000).map(|_| {
            (
                rng.gen_range(-70_000_000_000i64..260_000_000_000),
                rng.gen_range(-86_399i32..86_400) / 60 * 60,
            )
        });
        for (secs, offset) in edges.into_iter().chain(random) {
            let zone = FixedOffset::east_opt(offset).unwrap();
            let t = zone.timestamp_opt(secs, 0).unwrap();
            assert_eq!(
                DeviceTime::new(t).to_string(),
                t.format(FORMAT).to_string(),
                "{secs} {offset}"
            );
        }
    }
    /// What `parse` did before it read fields by position: chrono's parser, then the spelling
    /// compared. A leap second ("23:59:60") was refused then too: chrono reads it, but a
    /// `DeviceTime` is written with whole seconds, so as ":59".
    fn parsed_through_chrono(s: &str) -> Option<DeviceTime> {
        use chrono::Timelike;
        let t = DeviceTime(DateTime::parse_from_str(s, FORMAT).ok()?);
        let whole_second = t.0.nanosecond() < 1_000_000_000;
        (whole_second && t.0.format(FORMAT).to_string() == s).then_some(t)
    }

    #[test]
    fn read_as_chrono_reads_it() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut spellings: Vec<String> = [
            "2024-11-21T09:15:00+07:00",
            "2024-11-21T09:15:00-00:00",
            "2024-11-21T09:15:00+00:00",
            "2024-02-30T09:15:00+07:00",
            "2023-02-29T09:15:00+07:00",
            "2024-02-29T23:59:59-23:59",
            "2024-11-21T24:00:00+07:00",
            "2024-11-21T23:59:60+07:00",
            "2024-11-21T09:15:00+24:00",
            "2024-11-21T09:15:00+07:60",
            "2024-11-21t09:15:00+07:00",
            "0000-01-01T00:00:00+00:00",
            "9999-12-31T23:59:59+14:00",
            "+024-11-21T09:15:00+07:00",
            "2024-11-21T09:15:00+0700",
            "2024-11-21T09:15:00+07:00 ",
        ]
        .map(String::from)
        .to_vec();
        for _ in 0..20_000 {
            let zone = FixedOffset::east_opt(rng.gen_range(-86_399i32..86_400) / 60 * 60).unwrap();
            let t = zone
                .timestamp_opt(rng.gen_range(-62_167_219_200i64..253_402_300_800), 0)
                .unwrap();
            let mut spelled = t.format(FORMAT).to_string().into_bytes();
            // Half of them with one byte changed: a digit, a separator, a sign.
            if rng.gen_bool(0.5) {
                let at = rng.gen_range(0..spelled.len());
                spelled[at] = *b"0123456789+-:T ".get(rng.gen_range(0..15)).unwrap();
            }
            spellings.push(String::from_utf8(spelled).unwrap());
        }
        for s in &spellings {
            assert_eq!(DeviceTime::parse(s).ok(), parsed_through_chrono(s), "{s}");
        }
    }

    #[test]
    fn read_from_json_text() {
        let t: DeviceTime = serde_json::from_str("\"2024-11-21T09:15:00+07:00\"").unwrap();
        assert_eq!(t.to_string(), "2024-11-21T09:15:00+07:00");
        for bad in ["\"2024-11-21T02:15:00Z\"", "17", "null"] {
            assert!(serde_json::from_str::<DeviceTime>(bad).is_err(), "{bad}");
        }
    }
    #[test]
    fn one_spelling_per_instant() {
        let t = DeviceTime::parse("2024-11-21T09:15:00+07:00").unwrap();
        assert_eq!(t.to_string(), "2024-11-21T09:15:00+07:00");
        for bad in [
            "2024-11-21T02:15:00Z",
            "2024-11-21T09:15:00.5+07:00",
            "2024-11-21 09:15:00+07:00",
        ] {
            assert!(DeviceTime::parse(bad).is_err(), "{bad}");
        }
    }
}
