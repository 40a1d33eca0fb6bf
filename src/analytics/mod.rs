//! Performance analytics per agent, computed incrementally in O(1) memory.
//!
//! Equity is sampled at a fixed interval of market time (the engine samples every minute), so
//! per-sample returns are comparable and annualise with √(samples per year); crypto trades
//! 365 days a year. Ratios use a zero risk-free rate and need [`MIN_RATIO_SAMPLES`] returns. Undefined figures (a Sharpe ratio from one
//! sample, a profit factor without losing trades) are `None`, never a made-up number.
//! `f64` is fine here: these are statistics, not balances.

use serde::Serialize;

use crate::domain::ClosedTrade;

const MS_PER_YEAR: f64 = 365.0 * 86_400_000.0;
/// Returns needed before Sharpe and Sortino are reported: annualising a handful of samples
/// gives absurd figures (a −186 Sharpe after fifteen minutes), not information.
pub const MIN_RATIO_SAMPLES: u64 = 30;
const MS_PER_DAY: f64 = 86_400_000.0;

/// Streaming performance statistics of one account.
#[derive(Debug, Clone, PartialEq)]
pub struct PerformanceTracker {
    sample_period_ms: i64,
    start_equity: f64,
    first_ms: Option<i64>,
    last_ms: i64,
    last_equity: f64,
    /// Welford accumulators over per-sample simple returns.
    n: u64,
    mean: f64,
    m2: f64,
    downside_sq: f64,
    peak: f64,
    max_drawdown: f64,
    exposure_ms: i64,
    in_market: bool,
    trades: u64,
    wins: u64,
    gross_profit: f64,
    gross_loss: f64,
    gross_pnl: f64,
    fees: f64,
}

/// The figures shown on the leaderboard and in backtest reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub start_equity: f64,
    pub equity: f64,
    /// Total return in percent.
    pub total_return_pct: f64,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    /// Largest peak-to-trough fall of sampled equity, in percent (≥ 0).
    pub max_drawdown_pct: f64,
    /// Share of closed trades with positive net P&L, in percent.
    pub win_rate_pct: Option<f64>,
    /// Σ winning net P&L / |Σ losing net P&L|.
    pub profit_factor: Option<f64>,
    pub trades: u64,
    pub trades_per_day: Option<f64>,
    pub fees: f64,
    /// Fees as a percentage of |gross realised P&L| (before fees).
    pub fees_pct_of_gross: Option<f64>,
    /// Share of time with an open position, in percent.
    pub exposure_pct: Option<f64>,
    /// Days of market time covered.
    pub days: f64,
}

impl PerformanceTracker {
    /// `sample_period_ms` is the interval at which [`Self::on_equity`] is called.
    pub fn new(start_equity: f64, sample_period_ms: i64) -> Self {
        Self {
            sample_period_ms: sample_period_ms.max(1),
            start_equity,
            first_ms: None,
            last_ms: 0,
            last_equity: start_equity,
            n: 0,
            mean: 0.0,
            m2: 0.0,
            downside_sq: 0.0,
            peak: start_equity,
            max_drawdown: 0.0,
            exposure_ms: 0,
            in_market: false,
            trades: 0,
            wins: 0,
            gross_profit: 0.0,
            gross_loss: 0.0,
            gross_pnl: 0.0,
            fees: 0.0,
        }
    }

    /// Records an equity sample at `ts_ms`; `in_market` says whether a position is open now.
    /// Non-finite equity is ignored (it would poison every statistic).
    pub fn on_equity(&mut self, ts_ms: i64, equity: f64, in_market: bool) {
        if !equity.is_finite() {
            return;
        }
        match self.first_ms {
            None => self.first_ms = Some(ts_ms),
            Some(_) => {
                if self.in_market {
                    self.exposure_ms += (ts_ms - self.last_ms).max(0);
                }
                if self.last_equity > 0.0 {
                    let r = equity / self.last_equity - 1.0;
                    self.n += 1;
                    let delta = r - self.mean;
                    self.mean += delta / self.n as f64;
                    self.m2 += delta * (r - self.mean);
                    if r < 0.0 {
                        self.downside_sq += r * r;
                    }
                }
            }
        }
        self.last_ms = ts_ms;
        self.last_equity = equity;
        self.in_market = in_market;
        if equity > self.peak {
            self.peak = equity;
        } else if self.peak > 0.0 {
            self.max_drawdown = self.max_drawdown.max(1.0 - equity / self.peak);
        }
    }

    /// Books money moved into (positive) or out of the account since the last sample (capital
    /// re-weighting between agents): a flow, not a return. The start equity, the peak and the
    /// last sample are rescaled by the same factor, so per-sample returns, the drawdown and the
    /// total (time-weighted) return are unchanged by it.
    pub fn on_flow(&mut self, amount: f64) {
        let after = self.last_equity + amount;
        if !amount.is_finite() || self.last_equity <= 0.0 || after <= 0.0 {
            return;
        }
        let f = after / self.last_equity;
        self.start_equity *= f;
        self.peak *= f;
        self.last_equity = after;
    }

    /// Records a closed round trip.
    pub fn on_trade(&mut self, trade: &ClosedTrade) {
        let net = decimal_to_f64(trade.net_pnl);
        self.trades += 1;
        if net > 0.0 {
            self.wins += 1;
            self.gross_profit += net;
        } else {
            self.gross_loss += -net;
        }
        self.gross_pnl += decimal_to_f64(trade.gross_pnl);
    }

    /// Records a fee (every fill's fee, including those of trades still open).
    pub fn on_fee(&mut self, fee: f64) {
        if fee.is_finite() {
            self.fees += fee;
        }
    }

    pub fn equity(&self) -> f64 {
        self.last_equity
    }

    /// Current drawdown from the peak, as a fraction (0 at a new high).
    pub fn drawdown(&self) -> f64 {
        if self.peak > 0.0 { (1.0 - self.last_equity / self.peak).max(0.0) } else { 0.0 }
    }

    pub fn metrics(&self) -> Metrics {
        let periods_per_year = MS_PER_YEAR / self.sample_period_ms as f64;
        let std = if self.n > 1 { (self.m2 / (self.n - 1) as f64).sqrt() } else { 0.0 };
        let enough = self.n >= MIN_RATIO_SAMPLES;
        let sharpe = (enough && std > 0.0).then(|| self.mean / std * periods_per_year.sqrt());
        let downside = if self.n > 0 { (self.downside_sq / self.n as f64).sqrt() } else { 0.0 };
        let sortino = (self.n > 1 && downside > 0.0).then(|| self.mean / downside * periods_per_year.sqrt());
        let span_ms = self.first_ms.map_or(0, |f| (self.last_ms - f).max(0));
        let days = span_ms as f64 / MS_PER_DAY;
        Metrics {
            start_equity: self.start_equity,
            equity: self.last_equity,
            total_return_pct: if self.start_equity > 0.0 {
                (self.last_equity / self.start_equity - 1.0) * 100.0
            } else {
                0.0
            },
            sharpe,
            sortino,
            max_drawdown_pct: self.max_drawdown * 100.0,
            win_rate_pct: (self.trades > 0).then(|| self.wins as f64 / self.trades as f64 * 100.0),
            profit_factor: (self.gross_loss > 0.0).then(|| self.gross_profit / self.gross_loss),
            trades: self.trades,
            trades_per_day: (days > 0.0).then(|| self.trades as f64 / days),
            fees: self.fees,
            fees_pct_of_gross: (self.gross_pnl != 0.0).then(|| self.fees / self.gross_pnl.abs() * 100.0),
            exposure_pct: (span_ms > 0).then(|| self.exposure_ms as f64 / span_ms as f64 * 100.0),
            days,
        }
    }
}

/// Realised volatility over a sliding window of 1-minute log returns, annualised (365 days), in
/// percent. O(1) per update: running sums, recomputed from the window every `window` updates so
/// rounding errors cannot accumulate.
#[derive(Debug, Clone)]
pub struct RollingVol {
    returns: std::collections::VecDeque<f64>,
    window: usize,
    sum: f64,
    sum_sq: f64,
    last_close: Option<f64>,
    updates: usize,
}

impl RollingVol {
    pub fn new(window: usize) -> Self {
        let window = window.max(2);
        Self {
            returns: std::collections::VecDeque::with_capacity(window),
            window,
            sum: 0.0,
            sum_sq: 0.0,
            last_close: None,
            updates: 0,
        }
    }

    /// Adds the close of a new 1-minute candle; non-positive or non-finite closes are ignored.
    pub fn update(&mut self, close: f64) {
        if !(close.is_finite() && close > 0.0) {
            return;
        }
        if let Some(prev) = self.last_close.replace(close) {
            let r = (close / prev).ln();
            if self.returns.len() == self.window
                && let Some(old) = self.returns.pop_front()
            {
                self.sum -= old;
                self.sum_sq -= old * old;
            }
            self.returns.push_back(r);
            self.sum += r;
            self.sum_sq += r * r;
            self.updates += 1;
            if self.updates.is_multiple_of(self.window) {
                self.sum = self.returns.iter().sum();
                self.sum_sq = self.returns.iter().map(|x| x * x).sum();
            }
        }
    }

    /// Annualised volatility in percent once the window is full, else `None`.
    pub fn annualized_pct(&self) -> Option<f64> {
        let n = self.returns.len();
        if n < self.window {
            return None;
        }
        let mean = self.sum / n as f64;
        let var = ((self.sum_sq - n as f64 * mean * mean) / (n - 1) as f64).max(0.0);
        let v = (var * 525_600.0).sqrt() * 100.0;
        v.is_finite().then_some(v)
    }
}

/// Powers of ten exactly representable as `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// Decimal → `f64` for indicators, statistics and plots (never for money).
///
/// Fast path: when the mantissa fits in 53 bits and the scale is at most 22, both `mantissa`
/// and `10^scale` are exact doubles, so one IEEE division gives the correctly rounded result at a
/// fraction of the general conversion's cost (it is on the engine's
/// hot path for every price; `rust_decimal`'s own conversion can be one ulp off). Other values
/// take the general conversion.
pub fn decimal_to_f64(d: rust_decimal::Decimal) -> f64 {
    const EXACT: i128 = 1 << 53;
    let m = d.mantissa();
    let scale = d.scale() as usize;
    if m.abs() < EXACT && scale < POW10.len() {
        return m as i64 as f64 / POW10[scale];
    }
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Side, Symbol};
    use rust_decimal::Decimal;

    fn trade(net: i64, gross: i64) -> ClosedTrade {
        ClosedTrade {
            symbol: Symbol::new("BTCUSDT").unwrap(),
            side: Side::Buy,
            max_qty: Decimal::ONE,
            entry_price: Decimal::ONE,
            exit_price: Decimal::ONE,
            gross_pnl: Decimal::from(gross),
            fees: Decimal::from(gross - net),
            funding: Decimal::ZERO,
            net_pnl: Decimal::from(net),
            opened_ms: 0,
            closed_ms: 0,
        }
    }

    #[test]
    fn return_drawdown_and_exposure() {
        let mut t = PerformanceTracker::new(100.0, 60_000);
        t.on_equity(0, 100.0, false);
        t.on_equity(60_000, 110.0, true);
        t.on_equity(120_000, 99.0, true);
        t.on_equity(180_000, 121.0, false);
        let m = t.metrics();
        assert!((m.total_return_pct - 21.0).abs() < 1e-9);
        assert!((m.max_drawdown_pct - 10.0).abs() < 1e-9);
        // In market during [60s, 180s) out of [0, 180s].
        assert!((m.exposure_pct.unwrap() - 200.0 / 3.0).abs() < 1e-9);
        assert_eq!(m.sharpe, None, "three returns are not enough for a ratio");
    }

    #[test]
    fn sharpe_matches_the_textbook_formula() {
        let eq: Vec<f64> = (0..40).map(|i| 100.0 + (i as f64) * 0.1 + [0.0, 1.0, -0.5, 0.7][i % 4]).collect();
        let mut t = PerformanceTracker::new(100.0, 86_400_000);
        for (i, e) in eq.iter().enumerate() {
            t.on_equity(i as i64 * 86_400_000, *e, true);
            if i < MIN_RATIO_SAMPLES as usize {
                assert_eq!(t.metrics().sharpe, None, "too few returns for a ratio");
            }
        }
        let r: Vec<f64> = eq.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        let mean = r.iter().sum::<f64>() / r.len() as f64;
        let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (r.len() - 1) as f64;
        let expected = mean / var.sqrt() * 365f64.sqrt();
        assert!((t.metrics().sharpe.unwrap() - expected).abs() < 1e-9);
        let down = (r.iter().filter(|x| **x < 0.0).map(|x| x * x).sum::<f64>() / r.len() as f64).sqrt();
        assert!((t.metrics().sortino.unwrap() - mean / down * 365f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn trade_statistics() {
        let mut t = PerformanceTracker::new(1000.0, 60_000);
        t.on_equity(0, 1000.0, false);
        t.on_trade(&trade(30, 32));
        t.on_trade(&trade(-10, -8));
        t.on_trade(&trade(20, 22));
        t.on_fee(6.0);
        t.on_equity(86_400_000, 1040.0, false);
        let m = t.metrics();
        assert_eq!(m.trades, 3);
        assert!((m.win_rate_pct.unwrap() - 200.0 / 3.0).abs() < 1e-9);
        assert!((m.profit_factor.unwrap() - 5.0).abs() < 1e-9);
        assert!((m.trades_per_day.unwrap() - 3.0).abs() < 1e-9);
        assert!((m.fees_pct_of_gross.unwrap() - 6.0 / 46.0 * 100.0).abs() < 1e-9);
    }

    #[test]
    fn fast_decimal_conversion_matches_the_general_one() {
        use rust_decimal::prelude::ToPrimitive;
        for text in
            ["0", "1", "-1", "63201.05", "0.000123", "-98765.4321", "123456789.123456789", "1e-20", "0.1", "2.675"]
        {
            let d: Decimal = text.parse().unwrap_or_else(|_| Decimal::from_scientific(text).unwrap());
            assert_eq!(decimal_to_f64(d), d.to_f64().unwrap(), "{text}");
        }
        assert_eq!(decimal_to_f64(Decimal::MAX), Decimal::MAX.to_f64().unwrap());
    }

    proptest::proptest! {
        #[test]
        fn fast_conversion_is_correctly_rounded(m in -(1i64 << 53) + 1..(1i64 << 53), scale in 0u32..=22) {
            // The standard library's float parser is correctly rounded: the reference.
            let d = Decimal::new(m, scale);
            let exact: f64 = d.to_string().parse().unwrap();
            proptest::prop_assert_eq!(decimal_to_f64(d), exact);
        }
    }

    #[test]
    fn rolling_volatility_matches_the_batch_formula() {
        let closes: Vec<f64> = (0..500).map(|i| 100.0 * (1.0 + 0.001 * ((i * 7919) % 13) as f64 - 0.006)).collect();
        let mut v = RollingVol::new(240);
        for (i, c) in closes.iter().enumerate() {
            v.update(*c);
            if i < 240 {
                assert_eq!(v.annualized_pct(), None);
            }
        }
        let r: Vec<f64> = closes.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
        let tail = &r[r.len() - 240..];
        let mean = tail.iter().sum::<f64>() / 240.0;
        let var = tail.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 239.0;
        let expected = (var * 525_600.0).sqrt() * 100.0;
        assert!((v.annualized_pct().unwrap() - expected).abs() < 1e-9 * expected);
        v.update(f64::NAN);
        v.update(-1.0);
        assert!((v.annualized_pct().unwrap() - expected).abs() < 1e-9 * expected);
    }

    #[test]
    fn undefined_figures_are_none() {
        let t = PerformanceTracker::new(1000.0, 60_000);
        let m = t.metrics();
        assert_eq!(m.sharpe, None);
        assert_eq!(m.win_rate_pct, None);
        assert_eq!(m.profit_factor, None);
        assert_eq!(m.exposure_pct, None);
        let mut t = PerformanceTracker::new(1000.0, 60_000);
        t.on_equity(0, f64::NAN, false);
        assert_eq!(t.metrics().equity, 1000.0);
    }
}
