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
        let t = DateTime::parse_from_str(s, FORMAT).map_err(|e| format!("{s:?}: {e}"))?;
        let canonical = DeviceTime(t);
        if canonical.to_string() != s {
            return Err(format!(
                "{s:?} is not in the form YYYY-MM-DDTHH:MM:SS+HH:MM"
            ));
        }
        Ok(canonical)
    }
    pub fn as_datetime(&self) -> DateTime<FixedOffset> {
        self.0
    }
    pub fn unix(&self) -> i64 {
        self.0.timestamp()
    }
}

impl fmt::Display for DeviceTime {
    /// `FORMAT`, written field by field: every event's time is written at least three times on
    /// its way in (the canonical check when parsed and when the batch is re-encoded, and its
    /// row), and chrono's `format` reads its pattern anew each time. Years outside 0–9999 and
    /// offsets with seconds, which no device sends, go through chrono as before.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::{Datelike, Timelike};
        let (t, offset) = (self.0.naive_local(), self.0.offset().local_minus_utc());
        if !(0..=9999).contains(&t.year()) || offset % 60 != 0 {
            return write!(f, "{}", self.0.format(FORMAT));
        }
        let (sign, offset) = if offset < 0 {
            ('-', -offset)
        } else {
            ('+', offset)
        };
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            offset / 3600,
            offset % 3600 / 60
        )
    }
}

impl Serialize for DeviceTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DeviceTime::parse(&s).map_err(serde::de::Error::custom)
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
