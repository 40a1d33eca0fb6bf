//! Bollinger bands: SMA(n) ± k · population standard deviation over the same `n` inputs, as
//! TA-Lib's `TA_BBANDS` (SMA type) computes them.
//!
//! * Middle band: the running-sum SMA, `(sum - oldest) + newest` divided by `n`, which is what
//!   `ta`'s `SimpleMovingAverage` and TA-Lib's `TA_SMA` both do (bit for bit).
//! * Width: the population (ddof 0) deviation, as TA-Lib. pandas' default `std()` is the sample
//!   deviation and differs.
//! * The deviation is TA-Lib's shifted-data variance, not `ta`'s `StandardDeviation`: `ta`
//!   slides a Welford update that is never re-anchored, so its rounding error random-walks with
//!   the number of bars (3e-11 relative on the bands after a month of 1m BTC bars, and a
//!   `sqrt(residue)` ~1e-6 wide band where the true deviation is 0 in a flat market). TA-Lib keeps
//!   `Σ(x - shift)` and `Σ(x - shift)²` over the window and re-anchors (recomputes both over
//!   the window with `shift` = window mean) every `32n` bars, or as soon as the variance falls
//!   below 1e-6 of the largest sum of squares since the last re-anchor; a variance below 1e-12
//!   of the mean square after a re-anchor is exactly 0. That costs O(n) once in a while
//!   (amortised O(1)) and gives TA-Lib's values bit for bit.
//! * Bands: `upper = middle + sd·k`, `lower = middle - sd·k`, TA-Lib's order of operations.
//! * Warm-up: the first value comes with the `n`-th input (TA-Lib lookback `n - 1`).
//! * Period `2..=MAX_PERIOD` (TA-Lib's range); `k` finite in `0..=100`.
//! * Rejected inputs (non-finite, absurd) never reach the window; the previous value stays.

use super::{IndicatorError, check_period};

/// Largest accepted band multiplier.
pub const MAX_K: f64 = 100.0;

/// One Bollinger output.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct BollingerValue {
    pub upper: f64,
    pub middle: f64,
    pub lower: f64,
}

/// Streaming Bollinger(n, k).
#[derive(Debug, Clone)]
pub struct Bollinger {
    period: usize,
    k: f64,
    inv_period: f64,
    /// The last `period` accepted inputs; `pos` is where the next one goes, which once the
    /// window is full is also the oldest one.
    window: Box<[f64]>,
    pos: usize,
    /// Accepted inputs, saturating at `period`.
    count: usize,
    sum: f64,
    /// Anchor of the variance sums (first input, then the window mean at each re-anchor).
    shift: f64,
    /// `Σ(x - shift)` and `Σ(x - shift)²` over the window.
    dev_sum: f64,
    dev_sq_sum: f64,
    /// Largest `dev_sq_sum` since the last re-anchor.
    peak_sq_sum: f64,
    bars_to_reanchor: usize,
    out: BollingerValue,
    rejected: u64,
}

impl Bollinger {
    /// Bands over `period` inputs, `k` deviations wide on each side (the usual is `(20, 2.0)`).
    pub fn new(period: usize, k: f64) -> Result<Self, IndicatorError> {
        check_period("Bollinger", "period", period, 2)?;
        if !(0.0..=MAX_K).contains(&k) {
            return Err(IndicatorError::Factor { indicator: "Bollinger", param: "k", value: k, min: 0.0, max: MAX_K });
        }
        Ok(Self::build(period, k))
    }

    /// Builds without checking; the parameters must already be valid.
    pub(crate) fn build(period: usize, k: f64) -> Self {
        let period = period.max(1);
        Self {
            period,
            k,
            inv_period: 1.0 / period as f64,
            window: vec![0.0; period].into_boxed_slice(),
            pos: 0,
            count: 0,
            sum: 0.0,
            shift: 0.0,
            dev_sum: 0.0,
            dev_sq_sum: 0.0,
            peak_sq_sum: 0.0,
            bars_to_reanchor: Self::reanchor_every(period),
            out: BollingerValue::default(),
            rejected: 0,
        }
    }

    /// TA-Lib re-anchors at least every `32n` bars.
    fn reanchor_every(period: usize) -> usize {
        32 * period
    }

    pub fn k(&self) -> f64 {
        self.k
    }

    /// Inputs consumed before the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        self.period - 1
    }

    pub fn is_warm(&self) -> bool {
        self.count >= self.period
    }

    /// The bands after the last accepted input, `None` during warm-up.
    pub fn value(&self) -> Option<BollingerValue> {
        self.is_warm().then_some(self.out)
    }

    /// Inputs dropped because they were non-finite or absurd.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    #[inline(always)]
    fn add_dev(&mut self, x: f64) {
        let d = x - self.shift;
        self.dev_sum += d;
        self.dev_sq_sum += d * d;
    }

    #[inline(always)]
    fn remove_dev(&mut self, x: f64) {
        let d = x - self.shift;
        self.dev_sum -= d;
        self.dev_sq_sum -= d * d;
    }

    #[inline(always)]
    fn variance_of_sums(&self) -> f64 {
        let mean = self.dev_sum * self.inv_period;
        self.dev_sq_sum * self.inv_period - mean * mean
    }

    /// Recomputes the deviation sums over the full window (oldest to newest) around `shift`.
    fn resum(&mut self, shift: f64) {
        self.shift = shift;
        self.dev_sum = 0.0;
        self.dev_sq_sum = 0.0;
        let (newer, older) = self.window.split_at(self.pos);
        for &x in older.iter().chain(newer) {
            let d = x - shift;
            self.dev_sum += d;
            self.dev_sq_sum += d * d;
        }
    }

    /// TA-Lib's re-anchor: shift to the window mean (or, if that still cancels, to the newest
    /// input), returning the recomputed variance.
    #[cold]
    fn reanchor(&mut self, newest: f64) -> f64 {
        self.bars_to_reanchor = Self::reanchor_every(self.period);
        let (newer, older) = self.window.split_at(self.pos);
        let mut total = 0.0;
        for &x in older.iter().chain(newer) {
            total += x;
        }
        self.resum(total * self.inv_period);
        let mut variance = self.variance_of_sums();
        if variance < 0.000001 * (self.dev_sq_sum * self.inv_period) {
            self.resum(newest);
            variance = self.variance_of_sums();
        }
        self.peak_sq_sum = self.dev_sq_sum;
        if variance < 0.000000000001 * (self.dev_sq_sum * self.inv_period) {
            variance = 0.0;
        }
        variance
    }

    /// One accepted input: the caller has already checked it with `accepts`.
    #[inline(always)]
    pub(crate) fn step(&mut self, x: f64) -> Option<BollingerValue> {
        if self.count == 0 {
            self.shift = x;
        }
        self.window[self.pos] = x;
        self.pos = if self.pos + 1 == self.period { 0 } else { self.pos + 1 };
        self.sum += x;
        self.add_dev(x);
        if self.dev_sq_sum > self.peak_sq_sum {
            self.peak_sq_sum = self.dev_sq_sum;
        }
        if self.count < self.period {
            self.count += 1;
            if self.count < self.period {
                return None;
            }
        }
        // The window is full: `window[pos]` is its oldest input, which leaves the sums now
        // (after the outputs below are taken from them), as TA-Lib orders it.
        let mut variance = self.variance_of_sums();
        let middle = self.sum / self.period as f64;
        let oldest = self.window[self.pos];
        self.sum -= oldest;
        self.remove_dev(oldest);
        self.bars_to_reanchor = self.bars_to_reanchor.saturating_sub(1);
        if variance < 0.000001 * (self.peak_sq_sum * self.inv_period) || self.bars_to_reanchor == 0 {
            variance = self.reanchor(x);
            // The re-anchor summed the whole window; the oldest input leaves it again.
            self.remove_dev(oldest);
        }
        let sd = if variance != 0.0 { variance.sqrt() } else { 0.0 };
        let width = sd * self.k;
        let out = BollingerValue { upper: middle + width, middle, lower: middle - width };
        self.out = out;
        Some(out)
    }
}

next_filtered!(Bollinger, BollingerValue, f64);

impl ta::Reset for Bollinger {
    fn reset(&mut self) {
        *self = Self::build(self.period, self.k);
    }
}

impl ta::Period for Bollinger {
    fn period(&self) -> usize {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ta::{Next, Reset};

    #[test]
    fn rejects_bad_parameters() {
        assert!(Bollinger::new(20, 2.0).is_ok());
        assert!(Bollinger::new(0, 2.0).is_err());
        assert!(Bollinger::new(1, 2.0).is_err());
        assert!(Bollinger::new(20, f64::NAN).is_err());
        assert!(Bollinger::new(20, -1.0).is_err());
        assert!(Bollinger::new(20, f64::INFINITY).is_err());
        assert!(Bollinger::new(20, 101.0).is_err());
    }

    #[test]
    fn population_deviation_by_hand() {
        // Window 2, 4, 4, 4, 5, 5, 7, 9: mean 5, population sd exactly 2 (sample sd ~2.14).
        let mut b = Bollinger::new(8, 2.0).unwrap();
        assert_eq!(b.lookback(), 7);
        for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0] {
            assert_eq!(b.next(x), None);
        }
        let v = b.next(9.0).unwrap();
        assert!((v.middle - 5.0).abs() < 1e-12, "{v:?}");
        assert!((v.upper - 9.0).abs() < 1e-12, "{v:?}");
        assert!((v.lower - 1.0).abs() < 1e-12, "{v:?}");
    }

    #[test]
    fn window_slides() {
        // Window 3: [1, 2, 3] -> mean 2, sd sqrt(2/3); then [2, 3, 10] -> mean 5, sd sqrt(38/3).
        let mut b = Bollinger::new(3, 1.0).unwrap();
        b.next(1.0);
        b.next(2.0);
        let v = b.next(3.0).unwrap();
        assert!((v.upper - (2.0 + (2.0f64 / 3.0).sqrt())).abs() < 1e-12);
        let v = b.next(10.0).unwrap();
        assert!((v.middle - 5.0).abs() < 1e-12);
        assert!((v.lower - (5.0 - (38.0f64 / 3.0).sqrt())).abs() < 1e-12, "{v:?}");
    }

    #[test]
    fn flat_series_has_zero_width() {
        let mut b = Bollinger::new(4, 2.0).unwrap();
        for _ in 0..10 {
            b.next(46_000.0);
        }
        assert_eq!(b.value(), Some(BollingerValue { upper: 46_000.0, middle: 46_000.0, lower: 46_000.0 }));
    }

    #[test]
    fn flat_after_movement_is_exactly_zero_width() {
        // A deviation that slides without re-anchoring leaves a rounding residue here, and its
        // square root is a visibly non-zero band. The re-anchor makes it exactly 0.
        let mut b = Bollinger::new(3, 2.0).unwrap();
        let mut x = 46_000.0_f64;
        for i in 0..500 {
            x += ((i * 7919) % 13) as f64 * 0.37 - 2.2;
            b.next(x);
        }
        for _ in 0..3 {
            b.next(45_123.25);
        }
        let v = b.value().unwrap();
        assert_eq!(v.upper, v.middle);
        assert_eq!(v.lower, v.middle);
        // The middle band is a running sum, like TA-Lib's: equal to rounding, not exactly.
        assert!((v.middle - 45_123.25).abs() < 1e-9 * 45_123.25, "{v:?}");
    }

    #[test]
    fn rejected_inputs_and_reset() {
        let mut b = Bollinger::new(2, 2.0).unwrap();
        b.next(1.0);
        assert_eq!(b.next(f64::NAN), None);
        let v = b.next(3.0).unwrap();
        // mean 2, population sd 1
        assert_eq!((v.lower, v.middle, v.upper), (0.0, 2.0, 4.0));
        assert_eq!(b.next(f64::NEG_INFINITY), Some(v));
        assert_eq!(b.rejected(), 2);
        b.reset();
        assert_eq!(b.value(), None);
        assert_eq!(b.next(5.0), None);
        assert_eq!(b.next(5.0).map(|v| v.upper), Some(5.0));
    }
}
