//! Timeframes and OHLCV candles as indicators see them (`f64`: never used for money).

use serde::{Deserialize, Serialize};

/// The candle timeframes the engine aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Timeframe {
    #[serde(rename = "1m")]
    M1,
    #[serde(rename = "5m")]
    M5,
    #[serde(rename = "15m")]
    M15,
    #[serde(rename = "1h")]
    H1,
    #[serde(rename = "4h")]
    H4,
    #[serde(rename = "1d")]
    D1,
}

impl Timeframe {
    pub const ALL: [Timeframe; 6] =
        [Timeframe::M1, Timeframe::M5, Timeframe::M15, Timeframe::H1, Timeframe::H4, Timeframe::D1];

    pub const fn ms(self) -> i64 {
        match self {
            Timeframe::M1 => 60_000,
            Timeframe::M5 => 5 * 60_000,
            Timeframe::M15 => 15 * 60_000,
            Timeframe::H1 => 3_600_000,
            Timeframe::H4 => 4 * 3_600_000,
            Timeframe::D1 => 24 * 3_600_000,
        }
    }

    /// Position in [`Timeframe::ALL`].
    pub const fn index(self) -> usize {
        match self {
            Timeframe::M1 => 0,
            Timeframe::M5 => 1,
            Timeframe::M15 => 2,
            Timeframe::H1 => 3,
            Timeframe::H4 => 4,
            Timeframe::D1 => 5,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Timeframe::M1 => "1m",
            Timeframe::M5 => "5m",
            Timeframe::M15 => "15m",
            Timeframe::H1 => "1h",
            Timeframe::H4 => "4h",
            Timeframe::D1 => "1d",
        }
    }

    /// Start of the bucket containing `ts_ms` (UTC-aligned, as exchanges align candles).
    pub const fn bucket_start(self, ts_ms: i64) -> i64 {
        ts_ms - ts_ms.rem_euclid(self.ms())
    }
}

impl std::fmt::Display for Timeframe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Timeframe {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timeframe::ALL
            .into_iter()
            .find(|tf| tf.as_str() == s)
            .ok_or_else(|| format!("unknown timeframe `{s}` (expected one of 1m, 5m, 15m, 1h, 4h, 1d)"))
    }
}

/// One OHLCV candle. `open_ms` is the bucket start; a candle is final once `closed` is true.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candle {
    pub open_ms: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    pub closed: bool,
}

impl Candle {
    /// A fresh candle whose first price is `price`.
    pub fn start(open_ms: i64, price: f64, volume: f64) -> Self {
        Self { open_ms, open: price, high: price, low: price, close: price, volume, closed: false }
    }
}
