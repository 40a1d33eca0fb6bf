//! MACD (fast EMA − slow EMA, its signal EMA and the histogram), as TA-Lib's `TA_MACD` does it.
//!
//! TA-Lib does not run two independent EMAs from the first bar. It aligns the fast EMA's seeding
//! window with the end of the slow one:
//!
//! * the slow EMA is seeded with the mean of inputs `0..slow`;
//! * the fast EMA is seeded with the mean of inputs `slow-fast..slow` (the last `fast` inputs of
//!   the slow window), so both EMAs get their first value on the same input, number `slow`;
//! * from then on both advance with TA-Lib's EMA step (`beta.mul_add(prev, k * x)`,
//!   `k = 2/(n+1)`); the MACD line is `fast - slow` from input `slow` on;
//! * the signal EMA is seeded with the mean of the first `signal` line values and then smoothed
//!   the same way (`signal == 1` makes the signal the line itself);
//! * the histogram is `line - signal`.
//!
//! Warm-up: the first value comes with input `slow + signal - 1` (TA-Lib lookback
//! `(slow-1) + (signal-1)`, 33 for 12/26/9). Before that `value()` is `None`, although the line
//! already exists internally.
//!
//! Periods: fast and slow in `2..=MAX_PERIOD` and signal in `1..=MAX_PERIOD` (TA-Lib's ranges).
//! TA-Lib silently swaps fast and slow when given in the wrong order and accepts them equal;
//! here `fast >= slow` is refused as a configuration mistake.
//! Rejected inputs (non-finite, absurd) leave everything untouched.

use super::{EmaCoef, IndicatorError, check_period};

/// One MACD output.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct MacdValue {
    pub line: f64,
    pub signal: f64,
    pub hist: f64,
}

/// Streaming MACD(fast, slow, signal).
#[derive(Debug, Clone)]
pub struct Macd {
    fast: usize,
    slow: usize,
    signal: usize,
    fast_coef: EmaCoef,
    slow_coef: EmaCoef,
    signal_coef: EmaCoef,
    /// Accepted inputs, saturating at `slow` (both EMAs are seeded by then).
    count: usize,
    fast_sum: f64,
    slow_sum: f64,
    fast_ema: f64,
    slow_ema: f64,
    /// Line values seen, saturating at `signal`.
    lines: usize,
    signal_sum: f64,
    /// The last line value and the signal EMA; meaningful once `lines == signal`.
    line: f64,
    signal_ema: f64,
    rejected: u64,
}

impl Macd {
    /// MACD with the usual 12, 26, 9 being `Macd::new(12, 26, 9)`.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self, IndicatorError> {
        check_period("MACD", "fast period", fast, 2)?;
        check_period("MACD", "slow period", slow, 2)?;
        check_period("MACD", "signal period", signal, 1)?;
        if fast >= slow {
            return Err(IndicatorError::MacdPeriods { fast, slow });
        }
        Ok(Self::build(fast, slow, signal))
    }

    /// Builds without checking; the periods must already be valid.
    pub(crate) fn build(fast: usize, slow: usize, signal: usize) -> Self {
        Self {
            fast,
            slow,
            signal,
            fast_coef: EmaCoef::new(fast),
            slow_coef: EmaCoef::new(slow),
            signal_coef: EmaCoef::new(signal),
            count: 0,
            fast_sum: 0.0,
            slow_sum: 0.0,
            fast_ema: 0.0,
            slow_ema: 0.0,
            lines: 0,
            signal_sum: 0.0,
            line: 0.0,
            signal_ema: 0.0,
            rejected: 0,
        }
    }

    pub fn fast_period(&self) -> usize {
        self.fast
    }

    pub fn slow_period(&self) -> usize {
        self.slow
    }

    pub fn signal_period(&self) -> usize {
        self.signal
    }

    /// Inputs consumed before the first value (TA-Lib's lookback).
    pub fn lookback(&self) -> usize {
        (self.slow - 1) + (self.signal - 1)
    }

    pub fn is_warm(&self) -> bool {
        self.lines >= self.signal
    }

    /// Line, signal and histogram after the last accepted input, `None` during warm-up.
    pub fn value(&self) -> Option<MacdValue> {
        self.is_warm().then_some(MacdValue {
            line: self.line,
            signal: self.signal_ema,
            hist: self.line - self.signal_ema,
        })
    }

    /// Inputs dropped because they were non-finite or absurd.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Feeds one of the first `signal` line values into the signal seed.
    fn seed_signal(&mut self, line: f64) {
        self.signal_sum += line;
        self.lines += 1;
        if self.lines == self.signal {
            self.signal_ema = self.signal_sum / self.signal as f64;
        }
        self.line = line;
    }

    /// One accepted input: the caller has already checked it with `accepts`.
    #[inline(always)]
    pub(crate) fn step(&mut self, x: f64) -> Option<MacdValue> {
        if self.count >= self.slow {
            self.fast_ema = self.fast_coef.step(self.fast_ema, x);
            self.slow_ema = self.slow_coef.step(self.slow_ema, x);
            let line = self.fast_ema - self.slow_ema;
            if self.lines >= self.signal {
                // Steady state: build the output from registers (reading back a struct just
                // written field by field stalls store-to-load forwarding).
                let signal = if self.signal == 1 { line } else { self.signal_coef.step(self.signal_ema, line) };
                self.line = line;
                self.signal_ema = signal;
                return Some(MacdValue { line, signal, hist: line - signal });
            }
            self.seed_signal(line);
        } else {
            self.slow_sum += x;
            if self.count >= self.slow - self.fast {
                self.fast_sum += x;
            }
            self.count += 1;
            if self.count == self.slow {
                self.slow_ema = self.slow_sum / self.slow as f64;
                self.fast_ema = self.fast_sum / self.fast as f64;
                self.seed_signal(self.fast_ema - self.slow_ema);
            }
        }
        self.value()
    }
}

next_filtered!(Macd, MacdValue, f64);

impl ta::Reset for Macd {
    fn reset(&mut self) {
        *self = Self::build(self.fast, self.slow, self.signal);
    }
}

/// The slow period: the longest window the MACD depends on.
impl ta::Period for Macd {
    fn period(&self) -> usize {
        self.slow
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ta::{Next, Period, Reset};

    #[test]
    fn rejects_bad_periods() {
        assert!(Macd::new(12, 26, 9).is_ok());
        assert!(Macd::new(1, 26, 9).is_err());
        assert!(Macd::new(12, 26, 0).is_err());
        assert!(Macd::new(12, 100_001, 9).is_err());
        assert_eq!(Macd::new(26, 12, 9).unwrap_err(), IndicatorError::MacdPeriods { fast: 26, slow: 12 });
        assert!(Macd::new(12, 12, 9).is_err());
        let m = Macd::new(12, 26, 9).unwrap();
        assert_eq!((m.fast_period(), m.period(), m.signal_period(), m.lookback()), (12, 26, 9, 33));
    }

    #[test]
    fn macd_2_3_2_by_hand() {
        // fast 2 (k 2/3), slow 3 (k 1/2), signal 2 (k 2/3). Inputs 1, 2, 3, 7, 4.
        // Input 3: slow seed (1+2+3)/3 = 2, fast seed = mean of inputs 2..3 = 2.5, line 0.5.
        // Input 7: fast = 1/3*2.5 + 2/3*7 = 5.5, slow = 0.5*2 + 0.5*7 = 4.5, line 1.0;
        //          signal seed = (0.5 + 1.0)/2 = 0.75, hist 0.25.  (lookback (3-1)+(2-1) = 3)
        // Input 4: fast = 1/3*5.5 + 2/3*4 = 4.5, slow = 0.5*4.5 + 0.5*4 = 4.25, line 0.25;
        //          signal = 1/3*0.75 + 2/3*0.25 = 5/12, hist = 0.25 - 5/12 = -1/6.
        let mut m = Macd::new(2, 3, 2).unwrap();
        assert_eq!(m.lookback(), 3);
        for x in [1.0, 2.0, 3.0] {
            assert_eq!(m.next(x), None);
        }
        assert!(!m.is_warm());
        let v = m.next(7.0).unwrap();
        assert!((v.line - 1.0).abs() < 1e-12, "{v:?}");
        assert!((v.signal - 0.75).abs() < 1e-12, "{v:?}");
        assert!((v.hist - 0.25).abs() < 1e-12, "{v:?}");
        let v = m.next(4.0).unwrap();
        assert!((v.line - 0.25).abs() < 1e-12, "{v:?}");
        assert!((v.signal - 5.0 / 12.0).abs() < 1e-12, "{v:?}");
        assert!((v.hist + 1.0 / 6.0).abs() < 1e-12, "{v:?}");
    }

    #[test]
    fn signal_one_is_the_line() {
        let mut m = Macd::new(2, 3, 1).unwrap();
        assert_eq!(m.next(1.0), None);
        assert_eq!(m.next(2.0), None);
        let v = m.next(3.0).unwrap();
        assert_eq!((v.line, v.signal, v.hist), (0.5, 0.5, 0.0));
        let v = m.next(7.0).unwrap();
        assert_eq!(v.signal, v.line);
        assert_eq!(v.hist, 0.0);
    }

    #[test]
    fn warm_up_is_slow_plus_signal_minus_one() {
        let mut m = Macd::new(12, 26, 9).unwrap();
        for i in 0..33 {
            assert_eq!(m.next(100.0 + i as f64), None, "input {i}");
        }
        assert!(m.next(133.0).is_some());
    }

    #[test]
    fn rejected_inputs_leave_the_value() {
        let mut m = Macd::new(2, 3, 1).unwrap();
        for x in [1.0, f64::NAN, 2.0, 3.0] {
            m.next(x);
        }
        let held = m.value();
        assert!(held.is_some());
        assert_eq!(m.next(f64::INFINITY), held);
        assert_eq!(m.next(f64::NAN), held);
        assert_eq!(m.rejected(), 3);
    }

    #[test]
    fn reset_restarts() {
        let mut m = Macd::new(2, 3, 1).unwrap();
        for x in [1.0, 2.0, 3.0, 4.0] {
            m.next(x);
        }
        m.reset();
        assert_eq!(m.value(), None);
        assert_eq!(m.next(1.0), None);
        assert_eq!(m.next(2.0), None);
        assert_eq!(m.next(3.0).map(|v| v.line), Some(0.5));
    }
}
