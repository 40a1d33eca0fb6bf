//! Wilder's average directional index, as TA-Lib's `ADX` computes it.
//!
//! * Directional movement per candle: `up = high - prev_high`, `down = prev_low - low`;
//!   +DM = `up` when `up > down` and `up > 0`, else 0; −DM the mirror image. True range as in
//!   [`super::Atr`].
//! * The first candle only provides the previous high, low and close. The next `n - 1` candles
//!   are summed (no decay); from candle `n + 1` on the sums are Wilder-smoothed
//!   (`s = s - s/n + x`, TA-Lib's exact order), giving +DI = 100 × +DM/TR, −DI likewise and
//!   DX = 100 × |+DI − −DI| / (+DI + −DI) (skipped when TR is 0 or the DI sum is below 1e-14,
//!   as TA-Lib does).
//! * ADX seed: the mean of the first `n` DX values (the divisor is `n` even if some were
//!   skipped, as in TA-Lib); then `adx = adx - (adx - dx) / n`.
//! * Warm-up: the first value comes with candle `2n` (TA-Lib lookback `2n - 1`, with TA-Lib's
//!   default unstable period of 0). `n` must be at least 2, TA-Lib's limit.
//! * Only the ADX is exposed: TA-Lib's stand-alone `PLUS_DI`/`MINUS_DI` select directional
//!   movement slightly differently from the DIs inside its `ADX`, so publishing these as "DI"
//!   would disagree with TA-Lib.
//! * A candle with a non-finite or absurd high, low or close is dropped whole and counted.

use super::{IndicatorError, check_period};

/// Streaming ADX(n).
#[derive(Debug, Clone)]
pub struct Adx {
    period: usize,
    inv: f64,
    /// Candles accepted so far.
    seen: u64,
    prev_high: f64,
    prev_low: f64,
    prev_close: f64,
    plus_dm: f64,
    minus_dm: f64,
    tr: f64,
    sum_dx: f64,
    adx: f64,
    rejected: u64,
}

impl Adx {
    /// ADX over `period` candles, `2..=MAX_PERIOD`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("ADX", "period", period, 2).map(Self::build)
    }

    pub(crate) fn build(period: usize) -> Self {
        let period = period.max(2);
        Self {
            period,
            inv: 1.0 / period as f64,
            seen: 0,
            prev_high: 0.0,
            prev_low: 0.0,
            prev_close: 0.0,
            plus_dm: 0.0,
            minus_dm: 0.0,
            tr: 0.0,
            sum_dx: 0.0,
            adx: 0.0,
            rejected: 0,
        }
    }

    /// Candles consumed before the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        2 * self.period - 1
    }

    pub fn is_warm(&self) -> bool {
        self.seen >= 2 * self.period as u64
    }

    /// The ADX after the last accepted candle (0..=100), `None` during warm-up.
    pub fn value(&self) -> Option<f64> {
        self.is_warm().then_some(self.adx)
    }

    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    pub(crate) fn step(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let idx = self.seen;
        self.seen += 1;
        if idx == 0 {
            self.prev_high = high;
            self.prev_low = low;
            self.prev_close = close;
            return None;
        }
        let n = self.period as u64;
        let diff_p = high - self.prev_high;
        self.prev_high = high;
        let diff_m = self.prev_low - low;
        self.prev_low = low;
        let smoothing = idx >= n;
        if smoothing {
            self.minus_dm -= self.minus_dm * self.inv;
            self.plus_dm -= self.plus_dm * self.inv;
        }
        let minus_sel = if diff_m - diff_p > 0.0 { diff_m } else { 0.0 };
        let plus_sel = if diff_p - diff_m > 0.0 { diff_p } else { 0.0 };
        self.minus_dm += if diff_m > 0.0 { minus_sel } else { 0.0 };
        self.plus_dm += if diff_p > 0.0 { plus_sel } else { 0.0 };
        let mut range = self.prev_high - self.prev_low;
        let to_high = (self.prev_high - self.prev_close).abs();
        if to_high > range {
            range = to_high;
        }
        let to_low = (self.prev_low - self.prev_close).abs();
        if to_low > range {
            range = to_low;
        }
        self.tr = if smoothing { self.tr - self.tr * self.inv + range } else { self.tr + range };
        self.prev_close = close;
        if !smoothing {
            return None;
        }
        let mut dx = None;
        if self.tr > 0.0 {
            let minus_di = 100.0 * (self.minus_dm / self.tr);
            let plus_di = 100.0 * (self.plus_dm / self.tr);
            let sum = minus_di + plus_di;
            if sum.abs() >= 1e-14 {
                dx = Some(100.0 * ((minus_di - plus_di).abs() / sum));
            }
        }
        let last_seed = 2 * n - 1;
        if idx <= last_seed {
            if let Some(dx) = dx {
                self.sum_dx += dx;
            }
            if idx == last_seed {
                self.adx = self.sum_dx / self.period as f64;
            }
        } else if let Some(dx) = dx {
            self.adx -= (self.adx - dx) * self.inv;
        }
        self.value()
    }
}

next_filtered!(Adx, f64, candle(high, low, close));
one_period!(Adx);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Candle;
    use ta::Next;

    fn bar(high: f64, low: f64, close: f64) -> Candle {
        Candle { open_ms: 0, open: close, high, low, close, volume: 1.0, closed: true }
    }

    #[test]
    fn a_steady_uptrend_has_full_directional_strength() {
        let mut a = Adx::new(2).unwrap();
        assert!(Adx::new(1).is_err());
        assert_eq!(a.lookback(), 3);
        let mut out = Vec::new();
        for i in 0..8 {
            let base = 100.0 + i as f64;
            out.push(a.next(&bar(base + 1.0, base, base + 0.5)));
        }
        assert_eq!(&out[..3], &[None, None, None]);
        // Only +DM ever: −DI = 0, so every DX is 100 and so is the ADX.
        for v in &out[3..] {
            assert_eq!(*v, Some(100.0));
        }
        assert_eq!(a.next(&bar(f64::NAN, 1.0, 1.0)), Some(100.0));
        assert_eq!(a.rejected(), 1);
    }
}
