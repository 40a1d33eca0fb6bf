//! Exponential moving average, TA-Lib's "classic" form.
//!
//! * Seed: the simple mean of the first `n` inputs (summed from 0.0 in input order, divided by
//!   `n`). `ta` 0.5 seeds with the first input instead and only converges to this after ~8n bars.
//! * Warm-up: the first value comes with the `n`-th input (TA-Lib lookback `n - 1`).
//! * Smoothing: `k = 2/(n+1)`, `ema = beta.mul_add(prev, k * x)` with `beta = 1 - k` computed the
//!   way TA-Lib does (see `EmaCoef`), so the values are TA-Lib's bit for bit.
//! * Rejected inputs (non-finite, absurd) leave the state and the value untouched.

use super::{EmaCoef, IndicatorError, check_period};

/// Streaming EMA(n) with an SMA seed.
#[derive(Debug, Clone)]
pub struct Ema {
    period: usize,
    coef: EmaCoef,
    /// Accepted inputs, saturating at `period` (nothing after the seed depends on the count).
    count: usize,
    /// Running sum of the seed window; unused once warm.
    sum: f64,
    /// The current EMA; meaningful once `count == period`.
    ema: f64,
    rejected: u64,
}

impl Ema {
    /// EMA over `period` inputs, `1..=MAX_PERIOD`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("EMA", "period", period, 1).map(Self::build)
    }

    /// Builds without checking; `period` must already be valid.
    pub(crate) fn build(period: usize) -> Self {
        Self { period, coef: EmaCoef::new(period), count: 0, sum: 0.0, ema: 0.0, rejected: 0 }
    }

    /// Inputs consumed before the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        self.period - 1
    }

    pub fn is_warm(&self) -> bool {
        self.count >= self.period
    }

    /// The EMA after the last accepted input, `None` during warm-up.
    pub fn value(&self) -> Option<f64> {
        self.is_warm().then_some(self.ema)
    }

    /// Inputs dropped because they were non-finite or absurd.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// One accepted input: the caller has already checked it with `accepts`.
    #[inline(always)]
    pub(crate) fn step(&mut self, x: f64) -> Option<f64> {
        if self.count >= self.period {
            self.ema = self.coef.step(self.ema, x);
        } else {
            self.sum += x;
            self.count += 1;
            if self.count == self.period {
                self.ema = self.sum / self.period as f64;
            }
        }
        self.value()
    }
}

next_filtered!(Ema, f64, f64);
one_period!(Ema);

#[cfg(test)]
mod tests {
    use super::*;
    use ta::{Next, Period, Reset};

    #[test]
    fn rejects_bad_periods() {
        assert!(Ema::new(0).is_err());
        assert!(Ema::new(super::super::MAX_PERIOD + 1).is_err());
        assert_eq!(Ema::new(12).map(|e| e.period()).ok(), Some(12));
    }

    #[test]
    fn seeds_with_the_sma_then_smooths_with_two_over_n_plus_one() {
        // EMA(3): k = 0.5. Seed = (1+2+3)/3 = 2; then 0.5*2 + 0.5*6 = 4; 0.5*4 + 0.5*0 = 2.
        let mut e = Ema::new(3).unwrap();
        assert_eq!(e.lookback(), 2);
        assert_eq!(e.next(1.0), None);
        assert_eq!(e.next(2.0), None);
        assert!(!e.is_warm());
        assert_eq!(e.next(3.0), Some(2.0));
        assert!(e.is_warm());
        assert_eq!(e.next(6.0), Some(4.0));
        assert_eq!(e.next(0.0), Some(2.0));
        assert_eq!(e.value(), Some(2.0));
    }

    #[test]
    fn period_one_is_the_input() {
        let mut e = Ema::new(1).unwrap();
        assert_eq!(e.next(5.0), Some(5.0));
        assert_eq!(e.next(7.5), Some(7.5));
    }

    #[test]
    fn ema4_by_hand() {
        // k = 0.4, beta = 0.6. Seed (2+4+6+8)/4 = 5; then 0.6*5 + 0.4*10 = 7; 0.6*7 + 0.4*2 = 5.
        let mut e = Ema::new(4).unwrap();
        for x in [2.0, 4.0, 6.0] {
            assert_eq!(e.next(x), None);
        }
        assert_eq!(e.next(8.0), Some(5.0));
        let v = e.next(10.0).unwrap();
        assert!((v - 7.0).abs() < 1e-12, "{v}");
        let v = e.next(2.0).unwrap();
        assert!((v - 5.0).abs() < 1e-12, "{v}");
    }

    #[test]
    fn non_finite_inputs_are_ignored_and_counted() {
        let mut e = Ema::new(2).unwrap();
        assert_eq!(e.next(f64::NAN), None);
        assert_eq!(e.next(1.0), None);
        assert_eq!(e.next(f64::INFINITY), None);
        assert_eq!(e.next(3.0), Some(2.0));
        assert_eq!(e.next(f64::NEG_INFINITY), Some(2.0));
        assert_eq!(e.next(f64::NAN), Some(2.0));
        assert_eq!(e.next(1e300), Some(2.0));
        assert_eq!(e.rejected(), 5);
        // k = 2/3: 1/3 * 2 + 2/3 * 5 = 4.
        let v = e.next(5.0).unwrap();
        assert!((v - 4.0).abs() < 1e-12);
    }

    #[test]
    fn reset_restarts_the_warm_up() {
        let mut e = Ema::new(2).unwrap();
        e.next(f64::NAN);
        e.next(1.0);
        e.next(3.0);
        e.reset();
        assert_eq!(e.value(), None);
        assert_eq!(e.rejected(), 0);
        assert_eq!(e.next(10.0), None);
        assert_eq!(e.next(20.0), Some(15.0));
    }
}
