//! Wilder's average true range, as TA-Lib computes it.
//!
//! * True range: `high - low`, replaced by `|prev_close - high|` and then `|prev_close - low|`
//!   when larger. The first candle has no previous close, so (as in TA-Lib) it yields no true
//!   range; it only provides the previous close. (`ta` 0.5 uses `high - low` for it.)
//! * Seed: the mean of the first `n` true ranges (summed from 0.0, divided by `n`).
//! * Warm-up: the first value comes with candle `n + 1` (TA-Lib lookback `n`).
//! * Smoothing: Wilder's, alpha `1/n`: `atr = beta.mul_add(atr, alpha * tr)` with
//!   `beta = (n-1)/n` and `alpha = 1 - beta`, TA-Lib's exact form. `ta` 0.5 uses `2/(n+1)`.
//! * A candle whose high, low or close is non-finite or absurd is dropped whole, counted, and
//!   does not move the previous close. The candle's shape (high >= low) is the candle builder's
//!   business; this only guarantees that no bad number enters the state.

use super::{IndicatorError, check_period};

/// Streaming Wilder ATR(n) over candles.
#[derive(Debug, Clone)]
pub struct Atr {
    period: usize,
    beta: f64,
    alpha: f64,
    prev_close: f64,
    has_prev: bool,
    /// True ranges seen, saturating at `period`.
    ranges: usize,
    sum: f64,
    atr: f64,
    rejected: u64,
}

impl Atr {
    /// ATR over `period` true ranges, `1..=MAX_PERIOD`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("ATR", "period", period, 1).map(Self::build)
    }

    /// Builds without checking; `period` must already be valid.
    pub(crate) fn build(period: usize) -> Self {
        // beta first, alpha from it: only that order makes alpha + beta exactly 1 (TA-Lib's).
        let beta = (period as f64 - 1.0) / period as f64;
        Self {
            period,
            beta,
            alpha: 1.0 - beta,
            prev_close: 0.0,
            has_prev: false,
            ranges: 0,
            sum: 0.0,
            atr: 0.0,
            rejected: 0,
        }
    }

    /// Candles consumed before the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        self.period
    }

    pub fn is_warm(&self) -> bool {
        self.ranges >= self.period
    }

    /// The ATR after the last accepted candle, `None` during warm-up.
    pub fn value(&self) -> Option<f64> {
        self.is_warm().then_some(self.atr)
    }

    /// Candles dropped because a price was non-finite or absurd.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// One accepted candle's prices: the caller has already checked them with `accepts`.
    #[inline(always)]
    pub(crate) fn step(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        if !self.has_prev {
            self.prev_close = close;
            self.has_prev = true;
            return None;
        }
        let mut tr = high - low;
        let to_high = (self.prev_close - high).abs();
        if to_high > tr {
            tr = to_high;
        }
        let to_low = (self.prev_close - low).abs();
        if to_low > tr {
            tr = to_low;
        }
        self.prev_close = close;
        if self.ranges >= self.period {
            self.atr = self.beta.mul_add(self.atr, self.alpha * tr);
        } else {
            self.sum += tr;
            self.ranges += 1;
            if self.ranges == self.period {
                self.atr = self.sum / self.period as f64;
            }
        }
        self.value()
    }
}

next_filtered!(Atr, f64, candle(high, low, close));
one_period!(Atr);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Candle;
    use ta::{Next, Reset};

    fn bar(high: f64, low: f64, close: f64) -> Candle {
        Candle { open_ms: 0, open: close, high, low, close, volume: 1.0, closed: true }
    }

    #[test]
    fn rejects_bad_periods() {
        assert!(Atr::new(0).is_err());
        assert!(Atr::new(1).is_ok());
        assert!(Atr::new(100_001).is_err());
    }

    #[test]
    fn wilder_atr2_by_hand() {
        // Candle 1 only gives the previous close (10).
        // Candle 2: h 12 l 9  -> TR max(3, |10-12|=2, |10-9|=1) = 3
        // Candle 3: h 11 l 10 -> TR max(1, |11-11|=0, |11-10|=1) = 1   -> seed (3+1)/2 = 2
        // Candle 4: h 16 l 14 -> TR max(2, |10.5-16|=5.5, ..)   = 5.5 -> 0.5*2 + 0.5*5.5 = 3.75
        // Candle 5: h 14 l 13 -> TR max(1, |15-14|=1, |15-13|=2) = 2   -> 0.5*3.75 + 0.5*2 = 2.875
        let mut a = Atr::new(2).unwrap();
        assert_eq!(a.lookback(), 2);
        assert_eq!(a.next(&bar(11.0, 9.0, 10.0)), None);
        assert_eq!(a.next(&bar(12.0, 9.0, 11.0)), None);
        assert!(!a.is_warm());
        assert_eq!(a.next(&bar(11.0, 10.0, 10.5)), Some(2.0));
        assert_eq!(a.next(&bar(16.0, 14.0, 15.0)), Some(3.75));
        assert_eq!(a.next(&bar(14.0, 13.0, 13.5)), Some(2.875));
    }

    #[test]
    fn period_one_is_the_true_range() {
        let mut a = Atr::new(1).unwrap();
        assert_eq!(a.next(&bar(11.0, 9.0, 10.0)), None);
        assert_eq!(a.next(&bar(10.5, 10.0, 10.25)), Some(0.5));
        assert_eq!(a.next(&bar(13.0, 12.0, 12.5)), Some(2.75));
    }

    #[test]
    fn bad_candles_are_dropped_whole() {
        let mut a = Atr::new(1).unwrap();
        assert_eq!(a.next(&bar(11.0, 9.0, 10.0)), None);
        assert_eq!(a.next(&bar(f64::NAN, 9.0, 50.0)), None);
        assert_eq!(a.next(&bar(11.0, f64::NEG_INFINITY, 50.0)), None);
        assert_eq!(a.next(&bar(11.0, 9.0, f64::INFINITY)), None);
        assert_eq!(a.rejected(), 3);
        // Previous close is still 10: TR = max(1, 2, 1) = 2.
        assert_eq!(a.next(&bar(12.0, 11.0, 11.5)), Some(2.0));
        assert_eq!(a.next(&bar(f64::NAN, 1.0, 1.0)), Some(2.0));
    }

    #[test]
    fn reset_forgets_the_previous_close() {
        let mut a = Atr::new(1).unwrap();
        a.next(&bar(11.0, 9.0, 10.0));
        a.next(&bar(12.0, 11.0, 11.5));
        a.reset();
        assert_eq!(a.value(), None);
        assert_eq!(a.next(&bar(101.0, 99.0, 100.0)), None);
        assert_eq!(a.next(&bar(101.0, 100.0, 100.5)), Some(1.0));
    }
}
