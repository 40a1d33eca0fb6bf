//! Simple moving average over the last `n` inputs.
//!
//! * The arithmetic is `ta`'s [`SimpleMovingAverage`]: a running sum updated as
//!   `(sum - oldest) + newest`, divided by `n`. That is the same order of operations as TA-Lib's
//!   `TA_SMA`, so the values agree bit for bit. `ta` also emits partial-window means before the
//!   window is full; those are hidden here.
//! * Warm-up: the first value comes with the `n`-th input (TA-Lib lookback `n - 1`).
//! * Rejected inputs (non-finite, absurd) never reach the window; the previous value stays.

use ta::indicators::SimpleMovingAverage;
use ta::{Next, Reset};

use super::{IndicatorError, accepts, check_period};

/// Streaming SMA(n).
#[derive(Debug, Clone)]
pub struct Sma {
    inner: SimpleMovingAverage,
    period: usize,
    /// Accepted inputs, saturating at `period`.
    count: usize,
    last: f64,
    rejected: u64,
}

impl Sma {
    /// SMA over `period` inputs, `1..=MAX_PERIOD`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("SMA", "period", period, 1).map(Self::build)
    }

    /// Builds without checking; `period` must already be valid.
    pub(crate) fn build(period: usize) -> Self {
        let period = period.max(1);
        Self {
            // `ta` refuses only a period of 0, which `max(1)` rules out, so the default (never
            // taken) only exists to avoid a panic path.
            inner: SimpleMovingAverage::new(period).unwrap_or_default(),
            period,
            count: 0,
            last: 0.0,
            rejected: 0,
        }
    }

    /// Inputs consumed before the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        self.period - 1
    }

    pub fn is_warm(&self) -> bool {
        self.count >= self.period
    }

    /// The mean of the last `period` accepted inputs, `None` during warm-up.
    pub fn value(&self) -> Option<f64> {
        self.is_warm().then_some(self.last)
    }

    /// Inputs dropped because they were non-finite or absurd.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// One accepted input: the caller has already checked it with `accepts`.
    #[inline(always)]
    pub(crate) fn step(&mut self, x: f64) -> Option<f64> {
        self.last = self.inner.next(x);
        if self.count < self.period {
            self.count += 1;
        }
        self.value()
    }
}

impl Next<f64> for Sma {
    type Output = Option<f64>;

    #[inline]
    fn next(&mut self, x: f64) -> Option<f64> {
        if !accepts(x) {
            self.rejected += 1;
            return self.value();
        }
        self.step(x)
    }
}

impl Reset for Sma {
    fn reset(&mut self) {
        self.inner.reset();
        self.count = 0;
        self.last = 0.0;
        self.rejected = 0;
    }
}

impl ta::Period for Sma {
    fn period(&self) -> usize {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ta::Period;

    #[test]
    fn rejects_bad_periods() {
        assert!(Sma::new(0).is_err());
        assert!(Sma::new(100_001).is_err());
        assert_eq!(Sma::new(20).unwrap().period(), 20);
    }

    #[test]
    fn hides_partial_windows_then_slides() {
        let mut s = Sma::new(3).unwrap();
        assert_eq!(s.lookback(), 2);
        assert_eq!(s.next(1.0), None);
        assert_eq!(s.next(2.0), None);
        assert_eq!(s.next(6.0), Some(3.0));
        assert_eq!(s.next(4.0), Some(4.0));
        assert_eq!(s.next(8.0), Some(6.0));
        assert_eq!(s.next(0.0), Some(4.0));
    }

    #[test]
    fn non_finite_inputs_do_not_enter_the_window() {
        let mut s = Sma::new(2).unwrap();
        assert_eq!(s.next(2.0), None);
        assert_eq!(s.next(f64::NAN), None);
        assert_eq!(s.next(4.0), Some(3.0));
        assert_eq!(s.next(f64::INFINITY), Some(3.0));
        assert_eq!(s.next(-1e200), Some(3.0));
        assert_eq!(s.rejected(), 3);
        assert_eq!(s.next(6.0), Some(5.0));
    }

    #[test]
    fn reset_empties_the_window() {
        let mut s = Sma::new(2).unwrap();
        s.next(100.0);
        s.next(200.0);
        s.reset();
        assert!(!s.is_warm());
        assert_eq!(s.next(1.0), None);
        assert_eq!(s.next(3.0), Some(2.0));
    }
}
