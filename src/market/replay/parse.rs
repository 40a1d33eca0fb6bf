//! Field parsers shared by every file format: timestamps (epoch in any unit, or ISO-8601),
//! exact decimals and booleans.
//!
//! Epoch integers carry no unit, so the unit is read from the magnitude, **per value** (Binance
//! switched its spot archive from milliseconds to microseconds on 2025-01-01, so one replay can
//! hold both): below 10^11 seconds, below 10^14 milliseconds, below 10^17 microseconds, else
//! nanoseconds. Every instant from 1973-03-03 to 5138 is read correctly in each unit (earlier
//! millisecond values would read as seconds; no crypto data is that old). Sub-millisecond
//! precision is truncated: events carry milliseconds.
//!
//! ISO-8601 accepts `2021-12-31T23:01:00Z`, offsets (`+02:00`), a space instead of `T`, any
//! fraction (`2021-12-31 23:01:00.000000`) and a bare date; a time without an offset is UTC.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;

/// Latest accepted instant (9999-12-31T23:59:59.999Z), as the candle builder's limit.
const MAX_MS: i64 = crate::market::candles::MAX_TS_MS;

/// How a timestamp was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    Seconds,
    Millis,
    Micros,
    Nanos,
    Iso8601,
}

impl TimeUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Seconds => "s",
            TimeUnit::Millis => "ms",
            TimeUnit::Micros => "µs",
            TimeUnit::Nanos => "ns",
            TimeUnit::Iso8601 => "ISO-8601",
        }
    }
}

/// An epoch integer in an unknown unit, as milliseconds.
pub fn epoch_to_ms(v: i64) -> Option<(i64, TimeUnit)> {
    let (ms, unit) = if v < 0 {
        return None;
    } else if v < 100_000_000_000 {
        (v.checked_mul(1_000)?, TimeUnit::Seconds)
    } else if v < 100_000_000_000_000 {
        (v, TimeUnit::Millis)
    } else if v < 100_000_000_000_000_000 {
        (v / 1_000, TimeUnit::Micros)
    } else {
        (v / 1_000_000, TimeUnit::Nanos)
    };
    (ms <= MAX_MS).then_some((ms, unit))
}

/// Parses a timestamp field: an epoch integer (unit by magnitude), fractional epoch seconds, or
/// ISO-8601. The error says what was expected.
pub fn parse_time(field: &str) -> Result<(i64, TimeUnit), String> {
    let s = field.trim();
    if s.is_empty() {
        return Err("empty timestamp".into());
    }
    let bytes = s.as_bytes();
    if bytes.iter().all(u8::is_ascii_digit) {
        let v: i64 = s.parse().map_err(|_| format!("timestamp `{s}` is out of range"))?;
        return epoch_to_ms(v).ok_or_else(|| format!("timestamp `{s}` is outside 1970..9999"));
    }
    // Fractional epoch seconds, as some tools write them (`1662336000.5`).
    if let Some((int, frac)) = s.split_once('.')
        && !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && int.len() <= 11
    {
        let secs: i64 = int.parse().map_err(|_| format!("timestamp `{s}` is out of range"))?;
        let frac_ms: i64 =
            frac.get(..3).map_or_else(|| format!("{frac:0<3}").parse().unwrap_or(0), |f| f.parse().unwrap_or(0));
        let ms = secs.checked_mul(1_000).and_then(|m| m.checked_add(frac_ms));
        return match ms {
            Some(ms) if ms <= MAX_MS => Ok((ms, TimeUnit::Seconds)),
            _ => Err(format!("timestamp `{s}` is outside 1970..9999")),
        };
    }
    parse_iso(s).map(|ms| (ms, TimeUnit::Iso8601)).ok_or_else(|| {
        format!("`{s}` is not a timestamp (expected epoch s/ms/µs/ns or ISO-8601 such as 2022-09-05T12:00:00Z)")
    })
}

/// ISO-8601 with or without an offset (none = UTC), or a bare date (midnight UTC).
fn parse_iso(s: &str) -> Option<i64> {
    let ms = if let Ok(t) = jiff::Timestamp::from_str(s) {
        t.as_millisecond()
    } else if let Ok(dt) = jiff::civil::DateTime::from_str(s) {
        dt.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_millisecond()
    } else if let Ok(d) = jiff::civil::Date::from_str(s) {
        d.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_millisecond()
    } else {
        return None;
    };
    (0..=MAX_MS).contains(&ms).then_some(ms)
}

/// An exact decimal: plain (`46319.0`) or scientific (`1.5e-05`, as pandas writes small numbers).
pub fn parse_decimal(field: &str) -> Option<Decimal> {
    let s = field.trim();
    if s.is_empty() {
        return None;
    }
    Decimal::from_str(s)
        .ok()
        .or_else(|| if s.bytes().any(|b| b == b'e' || b == b'E') { Decimal::from_scientific(s).ok() } else { None })
}

/// `true`/`false` in any case, or `1`/`0`.
pub fn parse_bool(field: &str) -> Option<bool> {
    let s = field.trim();
    if s.eq_ignore_ascii_case("true") || s == "1" {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") || s == "0" {
        Some(false)
    } else {
        None
    }
}

/// Splits one CSV line. Fields may be wrapped in double quotes (no embedded commas or quotes:
/// market data files have neither).
pub fn split_fields<'a>(line: &'a str, out: &mut Vec<&'a str>) {
    out.clear();
    for f in line.split(',') {
        let f = f.trim();
        let f = f.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(f);
        out.push(f);
    }
}

/// Decimal places of `d` once trailing zeros are removed (`63201.05000000` → 2).
pub fn decimals(d: Decimal) -> u32 {
    d.normalize().scale()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn epoch_units_by_magnitude() {
        assert_eq!(epoch_to_ms(1_662_336_000), Some((1_662_336_000_000, TimeUnit::Seconds)));
        assert_eq!(epoch_to_ms(1_662_336_000_000), Some((1_662_336_000_000, TimeUnit::Millis)));
        assert_eq!(epoch_to_ms(1_735_689_600_000_000), Some((1_735_689_600_000, TimeUnit::Micros)));
        assert_eq!(epoch_to_ms(1_735_689_600_123_456_789), Some((1_735_689_600_123, TimeUnit::Nanos)));
        assert_eq!(epoch_to_ms(-1), None);
        assert_eq!(epoch_to_ms(99_999_999_999).map(|x| x.1), Some(TimeUnit::Seconds));
        assert_eq!(epoch_to_ms(99_999_999_999_999), Some((99_999_999_999_999, TimeUnit::Millis)));
        assert_eq!(epoch_to_ms(i64::MAX).map(|x| x.1), Some(TimeUnit::Nanos));
    }

    #[test]
    fn timestamps_in_every_accepted_form() {
        let t = 1_640_991_660_000; // 2021-12-31T23:01:00Z
        for s in [
            "1640991660",
            "1640991660000",
            "1640991660000000",
            "2021-12-31 23:01:00.000000",
            "2021-12-31T23:01:00",
            "2021-12-31T23:01:00Z",
            "2022-01-01T00:01:00+01:00",
            " 1640991660000 ",
        ] {
            assert_eq!(parse_time(s).map(|x| x.0), Ok(t), "{s}");
        }
        assert_eq!(parse_time("1640991660.25"), Ok((t + 250, TimeUnit::Seconds)));
        assert_eq!(parse_time("1640991660.5"), Ok((t + 500, TimeUnit::Seconds)));
        assert_eq!(parse_time("2022-01-01").map(|x| x.0), Ok(1_640_995_200_000));
        for bad in ["", "abc", "2021-13-40", "99999999999999999999", "-5", "12:00"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decimals_plain_and_scientific() {
        assert_eq!(parse_decimal("46319.0"), Some(dec!(46319.0)));
        assert_eq!(parse_decimal(" 0.00141342 "), Some(dec!(0.00141342)));
        assert_eq!(parse_decimal("1.5e-05"), Some(dec!(0.000015)));
        assert_eq!(parse_decimal("-3"), Some(dec!(-3)));
        for bad in ["", "NaN", "inf", "1,5", "abc", "1e999"] {
            assert_eq!(parse_decimal(bad), None, "{bad}");
        }
        assert_eq!(decimals(dec!(63201.05000000)), 2);
        assert_eq!(decimals(dec!(100)), 0);
    }

    #[test]
    fn booleans_and_fields() {
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("false"), Some(false));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("yes"), None);
        let mut v = Vec::new();
        split_fields("\"2021-12-31 23:01:00\", 1.5 ,x", &mut v);
        assert_eq!(v, vec!["2021-12-31 23:01:00", "1.5", "x"]);
    }
}
