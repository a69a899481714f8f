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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format(FORMAT))
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
