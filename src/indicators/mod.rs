//! Streaming indicators with TA-Lib's conventions, behind the `ta` crate's traits.
//!
//! Every indicator consumes one value (or one candle) at a time through [`ta::Next`], can be
//! cleared with [`ta::Reset`] and reports its period through [`ta::Period`]. On top of what `ta`
//! offers, each one:
//!
//! * is built with a checked `new(..) -> Result<_, IndicatorError>`: a period of 0 or above
//!   [`MAX_PERIOD`] (TA-Lib's own limit) is refused;
//! * has a warm-up equal to TA-Lib's lookback: `value()` is `None` (and `next` returns `None`)
//!   exactly on the bars where TA-Lib's batch function has no output, and `lookback()` says how
//!   many inputs are consumed before the first value;
//! * reproduces TA-Lib's arithmetic, operation for operation (SMA seeds, the fused
//!   multiply-add in the EMA and Wilder recursions, `x * (1/n)` where TA-Lib multiplies, the
//!   re-anchored variance of `TA_BBANDS`), so the values are TA-Lib's bit for bit; the parity
//!   tests in `tests/indicators_talib.rs` hold every output to 1e-9 relative (and find 0). The
//!   fused multiply-add matters: the MACD line and histogram are differences of nearly equal
//!   EMAs, and one unfused rounding per step already puts them 3e-9 apart near a crossing;
//! * never lets a bad input reach its state: a non-finite value (NaN, ±inf) or one whose
//!   magnitude exceeds [`MAX_ABS_INPUT`] is dropped, counted in `rejected()`, and the previous
//!   value stays. (A single NaN fed to a `ta` indicator poisons it for ever; a huge finite value
//!   would overflow the running sums to infinity, which is the same failure one step later.)
//!
//! Where `ta` 0.5 is exact it is used as is: [`ta::indicators::SimpleMovingAverage`] (the same
//! running sum as TA-Lib's SMA) for [`Sma`]. Where it is not, the indicator is written here: its
//! EMA seeds with the first input, its RSI and ATR smooth with `2/(n+1)` instead of Wilder's
//! `1/n`, and its `StandardDeviation` slides a Welford update that is never re-anchored, so its
//! rounding error grows with the bar count (see [`bollinger`]).
//!
//! Warm-up (inputs until the first value): EMA(n) n, SMA(n) n, RSI(n) n+1, ATR(n) n+1,
//! MACD(f, s, g) s+g-1 (34 for 12/26/9), Bollinger(n) n, Donchian(n) n, ROC(n) n+1, ADX(n) 2n.
//!
//! Beyond the standard set the strategies use [`Donchian`] (TA-Lib `MAX`/`MIN`/`MIDPRICE`),
//! [`Adx`] (TA-Lib `ADX`) and [`Roc`] (TA-Lib `ROC`), with the same conventions and their own
//! TA-Lib parity tests (`tests/indicators_strategy_talib.rs`, on the real BTC month, a synthetic
//! series and the simulated market).
//!
//! [`IndicatorSet`] is the fixed bundle the engine keeps per (symbol, timeframe).

/// `ta::Next` for an indicator with `step`, `value` and a `rejected` counter: an input that
/// fails [`accepts`] is dropped and counted, and the previous value stays.
/// `f64` for indicators of one series, `candle(fields…)` for those of candle fields.
macro_rules! next_filtered {
    ($ty:ty, $out:ty, f64) => {
        impl ta::Next<f64> for $ty {
            type Output = Option<$out>;

            #[inline]
            fn next(&mut self, x: f64) -> Option<$out> {
                if !$crate::indicators::accepts(x) {
                    self.rejected += 1;
                    return self.value();
                }
                self.step(x)
            }
        }
    };
    ($ty:ty, $out:ty, candle($($field:ident),+)) => {
        impl ta::Next<&$crate::domain::Candle> for $ty {
            type Output = Option<$out>;

            #[inline]
            fn next(&mut self, c: &$crate::domain::Candle) -> Option<$out> {
                if !($($crate::indicators::accepts(c.$field))&&+) {
                    self.rejected += 1;
                    return self.value();
                }
                self.step($(c.$field),+)
            }
        }
    };
}

/// `ta::Reset` (rebuild from the period) and `ta::Period` for an indicator with one `period`.
macro_rules! one_period {
    ($ty:ty) => {
        impl ta::Reset for $ty {
            fn reset(&mut self) {
                *self = Self::build(self.period);
            }
        }

        impl ta::Period for $ty {
            fn period(&self) -> usize {
                self.period
            }
        }
    };
}

pub mod adx;
pub mod atr;
pub mod bollinger;
pub mod donchian;
pub mod ema;
pub mod macd;
pub mod roc;
pub mod rsi;
pub mod set;
pub mod sma;

pub use adx::Adx;
pub use atr::Atr;
pub use bollinger::{Bollinger, BollingerValue};
pub use donchian::{Donchian, DonchianValue};
pub use ema::Ema;
pub use macd::{Macd, MacdValue};
pub use roc::Roc;
pub use rsi::Rsi;
pub use set::{IndicatorSet, IndicatorValues};
pub use sma::Sma;

/// Largest accepted period (TA-Lib's limit for every function used here).
pub const MAX_PERIOD: usize = 100_000;

/// Largest accepted input magnitude. Far above any price or volume, far below the point where a
/// window sum or a squared deviation over [`MAX_PERIOD`] inputs could overflow.
pub const MAX_ABS_INPUT: f64 = 1e100;

/// Why an indicator could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IndicatorError {
    #[error("{indicator}: {param} must be in {min}..={max}, got {value}")]
    Period { indicator: &'static str, param: &'static str, value: usize, min: usize, max: usize },
    #[error("{indicator}: {param} must be a finite number in {min}..={max}, got {value}")]
    Factor { indicator: &'static str, param: &'static str, value: f64, min: f64, max: f64 },
    #[error("MACD: the fast period ({fast}) must be shorter than the slow period ({slow})")]
    MacdPeriods { fast: usize, slow: usize },
}

/// Whether `x` may enter an indicator's state. One comparison covers NaN (it compares false),
/// both infinities and absurd magnitudes.
#[inline(always)]
pub(crate) fn accepts(x: f64) -> bool {
    x.abs() <= MAX_ABS_INPUT
}

/// Checks a period against `min..=MAX_PERIOD`.
pub(crate) fn check_period(
    indicator: &'static str,
    param: &'static str,
    value: usize,
    min: usize,
) -> Result<usize, IndicatorError> {
    if (min..=MAX_PERIOD).contains(&value) {
        Ok(value)
    } else {
        Err(IndicatorError::Period { indicator, param, value, min, max: MAX_PERIOD })
    }
}

/// TA-Lib's EMA coefficients for a period `n`: `beta = (n-1)/(n+1)`, `k = 1 - beta`, and below
/// `beta = 0.5` the pair is rebuilt from `k` so that `k + beta == 1.0` exactly (otherwise a flat
/// input drifts). The step is `beta.mul_add(prev, k * x)`, TA-Lib's fused form.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct EmaCoef {
    beta: f64,
    k: f64,
}

impl EmaCoef {
    pub(crate) fn new(period: usize) -> Self {
        // Periods are at most MAX_PERIOD, so both conversions are exact.
        let mut beta = (period as f64 - 1.0) / (period as f64 + 1.0);
        let k = 1.0 - beta;
        if beta < 0.5 {
            beta = 1.0 - k;
        }
        Self { beta, k }
    }

    #[inline(always)]
    pub(crate) fn step(self, prev: f64, x: f64) -> f64 {
        self.beta.mul_add(prev, self.k * x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_finite_and_refuses_the_rest() {
        assert!(accepts(0.0));
        assert!(accepts(-46_000.5));
        assert!(accepts(MAX_ABS_INPUT));
        assert!(!accepts(f64::NAN));
        assert!(!accepts(f64::INFINITY));
        assert!(!accepts(f64::NEG_INFINITY));
        assert!(!accepts(1e101));
    }

    #[test]
    fn ema_coefficients_sum_to_one() {
        for n in [1, 2, 3, 9, 12, 26, 50, 1000] {
            let c = EmaCoef::new(n);
            assert_eq!(c.beta + c.k, 1.0, "period {n}");
        }
        let c = EmaCoef::new(1);
        assert_eq!((c.beta, c.k), (0.0, 1.0));
        let c = EmaCoef::new(3);
        assert_eq!(c.k, 0.5);
    }

    #[test]
    fn period_bounds() {
        assert_eq!(check_period("X", "period", 1, 1), Ok(1));
        assert_eq!(check_period("X", "period", MAX_PERIOD, 1), Ok(MAX_PERIOD));
        let err = check_period("EMA", "period", 0, 1).unwrap_err();
        assert_eq!(err.to_string(), "EMA: period must be in 1..=100000, got 0");
        assert!(check_period("X", "period", MAX_PERIOD + 1, 1).is_err());
        assert!(check_period("X", "period", 1, 2).is_err());
    }
}
