//! The standard indicator bundle the engine keeps for each (symbol, timeframe).
//!
//! [`IndicatorSet::update`] takes one closed candle and advances every indicator in O(1) with no
//! allocation; [`IndicatorSet::values`] is a plain copy of the values after the last accepted
//! candle, so readers never recompute anything.
//!
//! Invariants:
//! * every indicator sees exactly the same candles: a candle that is not `closed`, or has any
//!   non-finite or absurd OHLCV field, is refused as a whole (counted in
//!   [`IndicatorSet::rejected`]) rather than feeding some indicators and not others;
//! * each value is `None` until its indicator is warm (TA-Lib's lookback, see each module);
//! * `bars` counts accepted candles, so `bars > lookback` says which values exist.

use ta::Reset;

use crate::domain::Candle;

use super::{Atr, Bollinger, Ema, Macd, Rsi, Sma, accepts};

pub use super::bollinger::BollingerValue;
pub use super::macd::MacdValue;

/// The indicator values for one closed candle.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct IndicatorValues {
    /// Open time of the candle these values are for.
    pub open_ms: i64,
    pub close: f64,
    pub volume: f64,
    pub ema12: Option<f64>,
    pub ema20: Option<f64>,
    pub ema26: Option<f64>,
    pub ema50: Option<f64>,
    /// MACD 12, 26, 9.
    pub macd: Option<MacdValue>,
    pub rsi7: Option<f64>,
    pub rsi14: Option<f64>,
    /// Bollinger 20, 2.0.
    pub bb: Option<BollingerValue>,
    pub atr3: Option<f64>,
    pub atr14: Option<f64>,
    pub volume_sma20: Option<f64>,
    /// Closed candles seen (accepted ones).
    pub bars: u64,
}

/// EMA 12/20/26/50, MACD 12/26/9, RSI 7/14, Bollinger 20/2, ATR 3/14 and SMA 20 of volume.
#[derive(Debug, Clone)]
pub struct IndicatorSet {
    ema12: Ema,
    ema20: Ema,
    ema26: Ema,
    ema50: Ema,
    macd: Macd,
    rsi7: Rsi,
    rsi14: Rsi,
    bb: Bollinger,
    atr3: Atr,
    atr14: Atr,
    volume_sma20: Sma,
    values: IndicatorValues,
    rejected: u64,
}

impl IndicatorSet {
    pub fn new() -> Self {
        // The parameters are constants inside every indicator's valid range (checked by the
        // `standard_parameters_are_valid` test), so the unchecked builders are right here.
        Self {
            ema12: Ema::build(12),
            ema20: Ema::build(20),
            ema26: Ema::build(26),
            ema50: Ema::build(50),
            macd: Macd::build(12, 26, 9),
            rsi7: Rsi::build(7),
            rsi14: Rsi::build(14),
            bb: Bollinger::build(20, 2.0),
            atr3: Atr::build(3),
            atr14: Atr::build(14),
            volume_sma20: Sma::build(20),
            values: IndicatorValues::default(),
            rejected: 0,
        }
    }

    /// Advances every indicator by one closed candle. Refuses (and counts) a candle that is not
    /// closed or carries a non-finite or absurd field; the values then stay as they were.
    #[inline]
    pub fn update(&mut self, candle: &Candle) {
        let Candle { open_ms, open, high, low, close, volume, closed } = *candle;
        if !(closed && accepts(open) && accepts(high) && accepts(low) && accepts(close) && accepts(volume)) {
            self.rejected += 1;
            return;
        }
        let v = &mut self.values;
        v.open_ms = open_ms;
        v.close = close;
        v.volume = volume;
        v.ema12 = self.ema12.step(close);
        v.ema20 = self.ema20.step(close);
        v.ema26 = self.ema26.step(close);
        v.ema50 = self.ema50.step(close);
        v.macd = self.macd.step(close);
        v.rsi7 = self.rsi7.step(close);
        v.rsi14 = self.rsi14.step(close);
        v.bb = self.bb.step(close);
        v.atr3 = self.atr3.step(high, low, close);
        v.atr14 = self.atr14.step(high, low, close);
        v.volume_sma20 = self.volume_sma20.step(volume);
        v.bars += 1;
    }

    /// The values after the last accepted candle (all `None`, `bars == 0` before the first).
    #[inline]
    pub fn values(&self) -> IndicatorValues {
        self.values
    }

    /// Candles refused by [`Self::update`] since creation or the last reset.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }
}

impl Default for IndicatorSet {
    fn default() -> Self {
        Self::new()
    }
}

impl Reset for IndicatorSet {
    fn reset(&mut self) {
        *self = Self::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ta::Next;

    fn candle(i: i64, close: f64) -> Candle {
        Candle {
            open_ms: i * 60_000,
            open: close - 0.5,
            high: close + 1.0,
            low: close - 1.5,
            close,
            volume: 10.0 + (i % 7) as f64,
            closed: true,
        }
    }

    fn series(n: i64) -> Vec<Candle> {
        (0..n).map(|i| candle(i, 100.0 + (i as f64 * 0.7).sin() * 5.0 + i as f64 * 0.1)).collect()
    }

    #[test]
    fn standard_parameters_are_valid() {
        assert!(Ema::new(12).is_ok() && Ema::new(20).is_ok());
        assert!(Ema::new(26).is_ok() && Ema::new(50).is_ok());
        assert!(Macd::new(12, 26, 9).is_ok());
        assert!(Rsi::new(7).is_ok() && Rsi::new(14).is_ok());
        assert!(Bollinger::new(20, 2.0).is_ok());
        assert!(Atr::new(3).is_ok() && Atr::new(14).is_ok());
        assert!(Sma::new(20).is_ok());
    }

    #[test]
    fn each_value_appears_at_its_lookback() {
        let mut set = IndicatorSet::new();
        assert_eq!(set.values(), IndicatorValues::default());
        for (i, c) in series(60).iter().enumerate() {
            set.update(c);
            let v = set.values();
            let n = i + 1; // candles seen
            assert_eq!(v.bars, n as u64);
            assert_eq!(v.open_ms, c.open_ms);
            assert_eq!(v.close, c.close);
            assert_eq!(v.volume, c.volume);
            assert_eq!(v.ema12.is_some(), n >= 12, "ema12 at {n}");
            assert_eq!(v.ema20.is_some(), n >= 20, "ema20 at {n}");
            assert_eq!(v.ema26.is_some(), n >= 26, "ema26 at {n}");
            assert_eq!(v.ema50.is_some(), n >= 50, "ema50 at {n}");
            assert_eq!(v.macd.is_some(), n >= 34, "macd at {n}");
            assert_eq!(v.rsi7.is_some(), n >= 8, "rsi7 at {n}");
            assert_eq!(v.rsi14.is_some(), n >= 15, "rsi14 at {n}");
            assert_eq!(v.bb.is_some(), n >= 20, "bb at {n}");
            assert_eq!(v.atr3.is_some(), n >= 4, "atr3 at {n}");
            assert_eq!(v.atr14.is_some(), n >= 15, "atr14 at {n}");
            assert_eq!(v.volume_sma20.is_some(), n >= 20, "vol sma at {n}");
        }
    }

    #[test]
    fn matches_the_individual_indicators() {
        let data = series(80);
        let mut set = IndicatorSet::new();
        let mut ema50 = Ema::new(50).unwrap();
        let mut rsi7 = Rsi::new(7).unwrap();
        let mut atr3 = Atr::new(3).unwrap();
        let mut vol = Sma::new(20).unwrap();
        for c in &data {
            set.update(c);
            let v = set.values();
            assert_eq!(v.ema50, ema50.next(c.close));
            assert_eq!(v.rsi7, rsi7.next(c.close));
            assert_eq!(v.atr3, atr3.next(c));
            assert_eq!(v.volume_sma20, vol.next(c.volume));
        }
    }

    #[test]
    fn bad_candles_are_refused_whole() {
        let data = series(40);
        let mut clean = IndicatorSet::new();
        let mut dirty = IndicatorSet::new();
        for c in &data {
            clean.update(c);
            dirty.update(c);
            let mut bad = *c;
            bad.volume = f64::NAN;
            dirty.update(&bad);
            let mut bad = *c;
            bad.high = f64::INFINITY;
            dirty.update(&bad);
            let mut forming = *c;
            forming.closed = false;
            dirty.update(&forming);
            assert_eq!(clean.values(), dirty.values());
        }
        assert_eq!(dirty.rejected(), 120);
        assert_eq!(clean.rejected(), 0);
    }

    #[test]
    fn reset_returns_to_new() {
        let mut set = IndicatorSet::default();
        let mut bad = candle(0, 1.0);
        bad.close = f64::NAN;
        set.update(&bad);
        for c in &series(40) {
            set.update(c);
        }
        set.reset();
        assert_eq!(set.values(), IndicatorValues::default());
        assert_eq!(set.rejected(), 0);
        let mut fresh = IndicatorSet::new();
        for c in &series(40) {
            set.update(c);
            fresh.update(c);
        }
        assert_eq!(set.values(), fresh.values());
    }
}
