//! Rate of change: `(x / x[n bars ago] - 1) × 100`, TA-Lib's `ROC`.
//!
//! * Warm-up: the first value comes with input `n + 1` (TA-Lib lookback `n`).
//! * As in TA-Lib, a zero reference value gives 0 rather than a division by zero.
//! * A ring of the last `n + 1` inputs allocated once; O(1) per input. Rejected inputs
//!   (non-finite, absurd) leave the state untouched.

use super::{IndicatorError, check_period};

/// Streaming ROC(n), in percent.
#[derive(Debug, Clone)]
pub struct Roc {
    period: usize,
    ring: Vec<f64>,
    /// Inputs accepted so far.
    seen: usize,
    last: f64,
    rejected: u64,
}

impl Roc {
    /// ROC over `period` inputs back, `1..=MAX_PERIOD`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("ROC", "period", period, 1).map(Self::build)
    }

    pub(crate) fn build(period: usize) -> Self {
        let period = period.max(1);
        Self { period, ring: vec![0.0; period + 1], seen: 0, last: 0.0, rejected: 0 }
    }

    /// Inputs consumed before the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        self.period
    }

    pub fn is_warm(&self) -> bool {
        self.seen > self.period
    }

    /// The ROC after the last accepted input, `None` during warm-up.
    pub fn value(&self) -> Option<f64> {
        self.is_warm().then_some(self.last)
    }

    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    pub(crate) fn step(&mut self, x: f64) -> Option<f64> {
        let n = self.ring.len();
        self.ring[self.seen % n] = x;
        self.seen += 1;
        if self.seen > self.period {
            // The oldest kept input is `period` inputs before `x`.
            let reference = self.ring[self.seen % n];
            self.last = if reference != 0.0 { (x / reference - 1.0) * 100.0 } else { 0.0 };
        }
        self.value()
    }
}

next_filtered!(Roc, f64, f64);
one_period!(Roc);

#[cfg(test)]
mod tests {
    use super::*;
    use ta::Next;

    #[test]
    fn roc_by_hand() {
        let mut r = Roc::new(2).unwrap();
        assert_eq!(r.next(100.0), None);
        assert_eq!(r.next(105.0), None);
        assert_eq!(r.next(110.0), Some((110.0 / 100.0 - 1.0) * 100.0));
        assert_eq!(r.next(f64::NAN), Some((110.0 / 100.0 - 1.0) * 100.0));
        assert_eq!(r.next(84.0), Some((84.0 / 105.0 - 1.0) * 100.0));
        assert_eq!(r.rejected(), 1);
        let mut z = Roc::new(1).unwrap();
        z.next(0.0);
        assert_eq!(z.next(5.0), Some(0.0), "zero reference gives 0, as in TA-Lib");
        assert!(Roc::new(0).is_err());
    }
}
