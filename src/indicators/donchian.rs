//! Donchian channel: the highest high and lowest low of the last `n` candles.
//!
//! * `upper` = TA-Lib `MAX(high, n)`, `lower` = `MIN(low, n)`, `middle` = `MIDPRICE(high, low,
//!   n)` = (upper + lower) / 2. The current candle is inside its own window, as in TA-Lib; a
//!   breakout rule compares a close with the channel *before* that candle (see
//!   [`Donchian::value`] taken before [`ta::Next::next`]).
//! * Warm-up: the first value comes with the `n`-th candle (TA-Lib lookback `n - 1`).
//! * O(1) amortised per candle with two monotonic queues allocated once (no rescans); maxima
//!   and minima are exact, so the values equal TA-Lib's bit for bit.
//! * A candle with a non-finite or absurd high or low is dropped whole and counted.

use std::collections::VecDeque;

use super::{IndicatorError, check_period};

/// The channel after one candle.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DonchianValue {
    pub upper: f64,
    pub middle: f64,
    pub lower: f64,
}

/// Streaming Donchian channel over `n` candles.
#[derive(Debug, Clone)]
pub struct Donchian {
    period: usize,
    /// Candles accepted so far.
    seen: u64,
    /// (index, high), highs decreasing from the front: the front is the window maximum.
    highs: VecDeque<(u64, f64)>,
    /// (index, low), lows increasing from the front: the front is the window minimum.
    lows: VecDeque<(u64, f64)>,
    rejected: u64,
}

impl Donchian {
    /// Channel over `period` candles, `1..=MAX_PERIOD`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("Donchian", "period", period, 1).map(Self::build)
    }

    pub(crate) fn build(period: usize) -> Self {
        let period = period.max(1);
        Self {
            period,
            seen: 0,
            highs: VecDeque::with_capacity(period + 1),
            lows: VecDeque::with_capacity(period + 1),
            rejected: 0,
        }
    }

    /// Candles consumed before the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        self.period - 1
    }

    pub fn is_warm(&self) -> bool {
        self.seen >= self.period as u64
    }

    /// The channel of the last `period` accepted candles, `None` during warm-up.
    pub fn value(&self) -> Option<DonchianValue> {
        if !self.is_warm() {
            return None;
        }
        let (&(_, upper), &(_, lower)) = (self.highs.front()?, self.lows.front()?);
        Some(DonchianValue { upper, middle: (upper + lower) / 2.0, lower })
    }

    /// Candles dropped because a price was non-finite or absurd.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// One accepted candle's high and low.
    pub(crate) fn step(&mut self, high: f64, low: f64) -> Option<DonchianValue> {
        let i = self.seen;
        self.seen += 1;
        while self.highs.back().is_some_and(|&(_, h)| h <= high) {
            self.highs.pop_back();
        }
        self.highs.push_back((i, high));
        while self.lows.back().is_some_and(|&(_, l)| l >= low) {
            self.lows.pop_back();
        }
        self.lows.push_back((i, low));
        // Indices at or before `i - period` have left the window.
        let first = (i + 1).saturating_sub(self.period as u64);
        while self.highs.front().is_some_and(|&(k, _)| k < first) {
            self.highs.pop_front();
        }
        while self.lows.front().is_some_and(|&(k, _)| k < first) {
            self.lows.pop_front();
        }
        self.value()
    }
}

next_filtered!(Donchian, DonchianValue, candle(high, low));
one_period!(Donchian);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Candle;
    use ta::{Next, Reset};

    fn bar(high: f64, low: f64) -> Candle {
        Candle { open_ms: 0, open: low, high, low, close: high, volume: 1.0, closed: true }
    }

    #[test]
    fn channel_by_hand() {
        let mut d = Donchian::new(3).unwrap();
        assert_eq!(d.lookback(), 2);
        assert_eq!(d.next(&bar(10.0, 8.0)), None);
        assert_eq!(d.next(&bar(12.0, 9.0)), None);
        assert_eq!(d.next(&bar(11.0, 7.0)), Some(DonchianValue { upper: 12.0, middle: 9.5, lower: 7.0 }));
        assert_eq!(d.next(&bar(9.0, 8.5)), Some(DonchianValue { upper: 12.0, middle: 9.5, lower: 7.0 }));
        // 12 leaves the window.
        assert_eq!(d.next(&bar(9.5, 8.0)), Some(DonchianValue { upper: 11.0, middle: 9.0, lower: 7.0 }));
        // 7 leaves the window.
        assert_eq!(d.next(&bar(9.0, 8.2)), Some(DonchianValue { upper: 9.5, middle: 8.75, lower: 8.0 }));
    }

    #[test]
    fn bad_candles_are_dropped_and_reset_forgets() {
        let mut d = Donchian::new(1).unwrap();
        assert!(Donchian::new(0).is_err());
        assert_eq!(d.next(&bar(10.0, 9.0)).map(|v| v.upper), Some(10.0));
        assert_eq!(d.next(&bar(f64::NAN, 9.0)).map(|v| v.upper), Some(10.0));
        assert_eq!(d.next(&bar(11.0, f64::INFINITY)).map(|v| v.upper), Some(10.0));
        assert_eq!(d.rejected(), 2);
        d.reset();
        assert_eq!(d.value(), None);
    }
}
