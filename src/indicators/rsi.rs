//! Wilder's relative strength index, as TA-Lib computes it.
//!
//! * Seed: the mean gain and mean loss of the first `n` changes (each summed from 0.0, then
//!   multiplied by `1/n`, as TA-Lib does).
//! * Warm-up: a change needs two inputs, so the first value comes with input `n + 1` (TA-Lib
//!   lookback `n`).
//! * Smoothing: Wilder's, alpha `1/n`: `avg = (avg * (n-1) + x) * (1/n)` in that order. `ta` 0.5
//!   uses alpha `2/(n+1)` instead, which is roughly a Wilder RSI of period `(n+1)/2` and never
//!   converges to TA-Lib's.
//! * Output: `100 * gain / (gain + loss)`; when both averages are exactly zero (a flat series)
//!   it is the neutral 50, as in the TA-Lib Rust port used as the oracle.
//! * Rejected inputs (non-finite, absurd) are not a change: the next accepted input is compared
//!   with the last accepted one, and the value stays.
//! * Period `2..=MAX_PERIOD` (TA-Lib refuses 1).

use super::{IndicatorError, check_period};

/// Streaming Wilder RSI(n).
#[derive(Debug, Clone)]
pub struct Rsi {
    period: usize,
    inv_period: f64,
    /// `n - 1` as a float, the Wilder decay multiplier.
    keep: f64,
    prev: f64,
    has_prev: bool,
    /// Changes seen, saturating at `period`.
    changes: usize,
    gain: f64,
    loss: f64,
    rsi: f64,
    rejected: u64,
}

impl Rsi {
    /// RSI over `period` changes, `2..=MAX_PERIOD`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("RSI", "period", period, 2).map(Self::build)
    }

    /// Builds without checking; `period` must already be valid.
    pub(crate) fn build(period: usize) -> Self {
        Self {
            period,
            inv_period: 1.0 / period as f64,
            keep: period as f64 - 1.0,
            prev: 0.0,
            has_prev: false,
            changes: 0,
            gain: 0.0,
            loss: 0.0,
            rsi: 0.0,
            rejected: 0,
        }
    }

    /// Inputs consumed before the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        self.period
    }

    pub fn is_warm(&self) -> bool {
        self.changes >= self.period
    }

    /// RSI in `0..=100` after the last accepted input, `None` during warm-up.
    pub fn value(&self) -> Option<f64> {
        self.is_warm().then_some(self.rsi)
    }

    /// Inputs dropped because they were non-finite or absurd.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    #[inline(always)]
    fn ratio(&self) -> f64 {
        let total = self.gain + self.loss;
        if total > 0.0 { 100.0 * (self.gain / total) } else { 50.0 }
    }

    /// One accepted input: the caller has already checked it with `accepts`.
    #[inline(always)]
    pub(crate) fn step(&mut self, x: f64) -> Option<f64> {
        if !self.has_prev {
            self.prev = x;
            self.has_prev = true;
            return None;
        }
        let change = x - self.prev;
        self.prev = x;
        // TA-Lib adds `gain - change` to the loss: the exact loss for every finite change, with
        // no branch on the sign.
        let gain = if change > 0.0 { change } else { 0.0 };
        if self.changes >= self.period {
            self.loss *= self.keep;
            self.gain *= self.keep;
            self.gain += gain;
            self.loss += gain - change;
            self.loss *= self.inv_period;
            self.gain *= self.inv_period;
            self.rsi = self.ratio();
        } else {
            self.gain += gain;
            self.loss += gain - change;
            self.changes += 1;
            if self.changes == self.period {
                self.loss *= self.inv_period;
                self.gain *= self.inv_period;
                self.rsi = self.ratio();
            }
        }
        self.value()
    }
}

next_filtered!(Rsi, f64, f64);
one_period!(Rsi);

#[cfg(test)]
mod tests {
    use super::*;
    use ta::{Next, Reset};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn rejects_bad_periods() {
        assert!(Rsi::new(0).is_err());
        assert!(Rsi::new(1).is_err());
        assert!(Rsi::new(2).is_ok());
        assert!(Rsi::new(100_001).is_err());
    }

    #[test]
    fn wilder_rsi3_by_hand() {
        // Inputs 10, 11, 10, 12, 13, 11.
        // Changes: +1, -1, +2 -> seed gain = 3/3 = 1, loss = 1/3; RSI = 100 * 1 / (4/3) = 75.
        // +1: gain = (1*2 + 1)/3 = 1, loss = (1/3*2 + 0)/3 = 2/9; RSI = 100 / (11/9) = 81.8181..
        // -2: gain = (1*2)/3 = 2/3, loss = (2/9*2 + 2)/3 = 22/27; RSI = 100 * (18/27)/(40/27) = 45.
        let mut r = Rsi::new(3).unwrap();
        assert_eq!(r.lookback(), 3);
        assert_eq!(r.next(10.0), None);
        assert_eq!(r.next(11.0), None);
        assert_eq!(r.next(10.0), None);
        assert!(!r.is_warm());
        assert!(close(r.next(12.0).unwrap(), 75.0));
        assert!(close(r.next(13.0).unwrap(), 900.0 / 11.0));
        assert!(close(r.next(11.0).unwrap(), 45.0));
    }

    #[test]
    fn one_sided_and_flat_series() {
        let mut up = Rsi::new(2).unwrap();
        for x in [1.0, 2.0, 3.0, 4.0] {
            up.next(x);
        }
        assert_eq!(up.value(), Some(100.0));
        let mut down = Rsi::new(2).unwrap();
        for x in [4.0, 3.0, 2.0] {
            down.next(x);
        }
        assert_eq!(down.value(), Some(0.0));
        let mut flat = Rsi::new(2).unwrap();
        for x in [5.0, 5.0, 5.0, 5.0] {
            flat.next(x);
        }
        assert_eq!(flat.value(), Some(50.0));
    }

    #[test]
    fn rejected_inputs_are_not_changes() {
        let mut a = Rsi::new(3).unwrap();
        let mut b = Rsi::new(3).unwrap();
        let clean = [10.0, 11.0, 10.0, 12.0, 13.0, 11.0];
        for x in clean {
            a.next(x);
        }
        for x in [10.0, f64::NAN, 11.0, 10.0, f64::INFINITY, 12.0, 13.0, f64::NEG_INFINITY, 11.0] {
            b.next(x);
        }
        assert_eq!(a.value(), b.value());
        assert_eq!(b.rejected(), 3);
        // Once warm, a rejection returns the held value.
        assert_eq!(b.next(f64::NAN), a.value());
    }

    #[test]
    fn reset_forgets_the_previous_input() {
        let mut r = Rsi::new(2).unwrap();
        for x in [1.0, 5.0, 2.0] {
            r.next(x);
        }
        assert!(r.is_warm());
        r.reset();
        assert_eq!(r.value(), None);
        assert_eq!(r.next(100.0), None);
        assert_eq!(r.next(101.0), None);
        assert_eq!(r.next(102.0), Some(100.0));
    }
}
