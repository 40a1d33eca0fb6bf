//! Adaptation ("continuous learning") of rule agents to their own results, and of the arena's
//! capital to the agents' results. Both are off by default (`[adaptation]`).
//!
//! **Adaptive sizing** (`sizing = true`): before an entry of a (non-benchmark) rule agent goes to
//! the risk gate, its quantity is multiplied by
//!
//! `scale = clamp(P × V, min_scale, max_scale)` (defaults ×0.25 … ×1.5), where
//!
//! * **P, performance**, from the agent's own last `window_trades` closed trades: each trade's
//!   return on its entry notional `r = net P&L / (entry price × size)`, and the t-statistic of
//!   their mean, `t = mean(r) / sd(r) × √n`. `P = clamp(1 + t/4, 0.5, 1.25)`: a significantly
//!   losing streak (t = −2) halves the size, a significantly winning one (t ≥ +1) adds a quarter.
//!   With fewer than `min_trades` trades, or no dispersion, `P = 1` (no evidence yet);
//! * **V, volatility**, on the decision's symbol and timeframe: the current ATR(14) as a share of
//!   the close, against its median over the candles the engine keeps (at least 50 needed, else
//!   `V = 1`). `V = clamp(median / current, 0.5, 1.25)`: size shrinks when the market is wilder
//!   than usual and grows a little when it is calmer. (The strategies already size by their
//!   ATR stop distance, which keeps the money at risk constant; `V` adds regime caution.)
//!
//! The quantity is floored to the lot; an entry that rounds to zero is dropped and the decision
//! says so. Every adjusted decision records the [`SizeAdjustment`] it used (in its ledger record)
//! and says it in words. The engine applies it (`engine/allocation.rs`), because the engine
//! holds each agent's closed trades: the agents' own performance is the feedback.
//!
//! **Capital re-weighting** (`reallocate = true`): every `reallocate_every_hours` of market time
//! the engine ranks the active, non-benchmark agents with at least a day of hourly equity
//! returns by the Sharpe ratio of those returns over `lookback_days`, gives the best a target
//! weight of `max_weight` and the worst `min_weight` (linear in between), and moves free cash
//! toward the targets: an agent gives at most `max_shift_pct` of its equity per rebalance and
//! never more than its free cash (`min(cash − margin in use, equity − margin in use)`), so margin
//! backing open positions is never touched. Amounts are exact decimals in cents, the sum given
//! equals the sum received, each transfer is journaled and logged, and breakers and performance
//! figures treat it as a flow, not as profit or loss.

use serde::{Deserialize, Serialize};

/// `[adaptation]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdaptationConfig {
    /// Scale rule agents' entry sizes by their own recent performance and the volatility.
    pub sizing: bool,
    /// Closed trades the performance factor looks back on.
    pub window_trades: usize,
    /// Closed trades needed before performance changes any size.
    pub min_trades: usize,
    /// Bounds of the size factor.
    pub min_scale: f64,
    pub max_scale: f64,
    /// Re-weight capital between agents by recent risk-adjusted return.
    pub reallocate: bool,
    /// Market hours between re-weightings.
    pub reallocate_every_hours: u32,
    /// Days of hourly equity returns the ranking looks at.
    pub lookback_days: u32,
    /// Most of an agent's equity moved away in one re-weighting, in percent.
    pub max_shift_pct: f64,
    /// Target weight of the worst and of the best agent, relative to an equal share.
    pub min_weight: f64,
    pub max_weight: f64,
}

impl Default for AdaptationConfig {
    fn default() -> Self {
        Self {
            sizing: false,
            window_trades: 20,
            min_trades: 5,
            min_scale: 0.25,
            max_scale: 1.5,
            reallocate: false,
            reallocate_every_hours: 24,
            lookback_days: 7,
            max_shift_pct: 10.0,
            min_weight: 0.5,
            max_weight: 1.5,
        }
    }
}

impl AdaptationConfig {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let err = |k: &str, m: &str| Err((format!("adaptation.{k}"), m.to_owned()));
        if !(2..=1_000).contains(&self.window_trades) {
            return err("window_trades", "must be between 2 and 1000");
        }
        if self.min_trades < 2 || self.min_trades > self.window_trades {
            return err("min_trades", "must be at least 2 and at most window_trades");
        }
        let ok = |x: f64, lo: f64, hi: f64| x.is_finite() && x >= lo && x <= hi;
        if !(ok(self.min_scale, 0.01, 1.0) && ok(self.max_scale, 1.0, 10.0)) {
            return err("min_scale", "min_scale must be in [0.01, 1] and max_scale in [1, 10]");
        }
        if !(1..=24 * 365).contains(&self.reallocate_every_hours) {
            return err("reallocate_every_hours", "must be between 1 and 8760");
        }
        if !(1..=365).contains(&self.lookback_days) {
            return err("lookback_days", "must be between 1 and 365");
        }
        if !ok(self.max_shift_pct, 0.0, 100.0) || self.max_shift_pct == 0.0 {
            return err("max_shift_pct", "must be a percentage in (0, 100]");
        }
        if !(ok(self.min_weight, 0.0, 1.0) && ok(self.max_weight, 1.0, 10.0)) {
            return err("min_weight", "min_weight must be in [0, 1] and max_weight in [1, 10]");
        }
        Ok(())
    }

    /// The size factor for an agent whose recent trade returns are `returns` (oldest first) and
    /// whose market shows `atr_pct` now against `usual_atr_pct` (both ATR / close, percent).
    pub fn size_adjustment(&self, returns: &[f64], atr_pct: Option<f64>, usual_atr_pct: Option<f64>) -> SizeAdjustment {
        let recent = &returns[returns.len().saturating_sub(self.window_trades)..];
        let n = recent.len();
        let t_stat = if n >= self.min_trades {
            let mean = recent.iter().sum::<f64>() / n as f64;
            let var = recent.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let sd = var.sqrt();
            // Rounding noise of identical returns is not dispersion.
            (sd > 1e-12 && sd.is_finite()).then(|| mean / sd * (n as f64).sqrt())
        } else {
            None
        };
        let performance = t_stat.map_or(1.0, |t| (1.0 + t / 4.0).clamp(0.5, 1.25));
        let volatility = match (atr_pct, usual_atr_pct) {
            (Some(now), Some(usual)) if now > 0.0 && usual > 0.0 => (usual / now).clamp(0.5, 1.25),
            _ => 1.0,
        };
        let scale = (performance * volatility).clamp(self.min_scale, self.max_scale);
        SizeAdjustment { scale, performance, volatility, trades: n, t_stat, atr_pct, usual_atr_pct }
    }
}

/// The size factor applied to one decision, and how it was found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SizeAdjustment {
    /// The factor applied to every entry quantity of the decision.
    pub scale: f64,
    /// The performance factor P.
    pub performance: f64,
    /// The volatility factor V.
    pub volatility: f64,
    /// Closed trades the performance factor used.
    pub trades: usize,
    /// t-statistic of their mean return (absent below `min_trades` or without dispersion).
    pub t_stat: Option<f64>,
    /// ATR(14) / close now and its usual (median) level, percent.
    pub atr_pct: Option<f64>,
    pub usual_atr_pct: Option<f64>,
}

impl SizeAdjustment {
    /// One line for the reasoning: `size ×0.62 (performance ×0.80 over 8 trades, t −0.80;
    /// volatility ×0.78: ATR 1.90% vs usual 1.48%)`.
    pub fn describe(&self) -> String {
        let perf = match self.t_stat {
            Some(t) => format!("performance ×{:.2} over {} trades, t {t:+.2}", self.performance, self.trades),
            None => format!("performance ×1.00 ({} closed trades: not enough yet)", self.trades),
        };
        let vol = match (self.atr_pct, self.usual_atr_pct) {
            (Some(a), Some(u)) => format!("volatility ×{:.2}: ATR {a:.3}% vs usual {u:.3}%", self.volatility),
            _ => "volatility ×1.00 (usual level not known yet)".to_owned(),
        };
        format!("adaptive size ×{:.2} ({perf}; {vol})", self.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AdaptationConfig {
        AdaptationConfig { sizing: true, ..AdaptationConfig::default() }
    }

    #[test]
    fn no_evidence_no_change() {
        let a = cfg().size_adjustment(&[0.01, -0.02], None, None);
        assert_eq!((a.scale, a.performance, a.volatility, a.t_stat), (1.0, 1.0, 1.0, None));
        let a = cfg().size_adjustment(&[0.01; 10], None, None);
        assert_eq!(a.t_stat, None, "no dispersion, no t-statistic");
        assert_eq!(a.scale, 1.0);
    }

    #[test]
    fn losing_streaks_shrink_and_winning_streaks_grow_within_bounds() {
        let losing: Vec<f64> = (0..10).map(|i| -0.01 - 0.001 * (i % 3) as f64).collect();
        let a = cfg().size_adjustment(&losing, None, None);
        assert_eq!(a.performance, 0.5, "strongly negative t clamps at 0.5");
        let winning: Vec<f64> = (0..10).map(|i| 0.01 + 0.002 * (i % 2) as f64).collect();
        let a = cfg().size_adjustment(&winning, None, None);
        assert_eq!(a.performance, 1.25);
        // t = mean/sd·√n exactly: returns 1, 3 → mean 2, sd √2, n 2 → t = 2.
        let c = AdaptationConfig { min_trades: 2, ..cfg() };
        let a = c.size_adjustment(&[1.0, 3.0], None, None);
        assert!((a.t_stat.unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(a.performance, 1.25);
        let a = c.size_adjustment(&[-1.0, -3.0], None, None);
        assert!((a.performance - 0.5).abs() < 1e-12);
        let a = c.size_adjustment(&[-0.5, 0.3], None, None);
        let t = -0.1 / (0.32f64).sqrt() * 2f64.sqrt();
        assert!((a.performance - (1.0 + t / 4.0)).abs() < 1e-12);
    }

    #[test]
    fn volatility_factor_and_overall_bounds() {
        let a = cfg().size_adjustment(&[], Some(2.0), Some(1.0));
        assert_eq!(a.volatility, 0.5);
        let a = cfg().size_adjustment(&[], Some(1.0), Some(1.1));
        assert!((a.volatility - 1.1).abs() < 1e-12);
        let tight = AdaptationConfig { min_scale: 0.8, max_scale: 1.1, ..cfg() };
        assert_eq!(tight.size_adjustment(&[], Some(4.0), Some(1.0)).scale, 0.8);
        assert_eq!(tight.size_adjustment(&[], Some(1.0), Some(4.0)).scale, 1.1);
        assert!(tight.size_adjustment(&[], Some(1.0), Some(4.0)).describe().starts_with("adaptive size ×1.10"));
    }

    #[test]
    fn the_window_only_looks_at_the_latest_trades() {
        let c = AdaptationConfig { window_trades: 5, min_trades: 5, ..cfg() };
        let mut r = vec![-0.05; 20];
        r.extend([0.01, 0.012, 0.011, 0.013, 0.01]);
        let a = c.size_adjustment(&r, None, None);
        assert_eq!((a.trades, a.performance), (5, 1.25));
    }

    #[test]
    fn validation_names_the_key() {
        let bad = AdaptationConfig { min_trades: 1, ..AdaptationConfig::default() };
        assert_eq!(bad.validate().unwrap_err().0, "adaptation.min_trades");
        let bad = AdaptationConfig { max_shift_pct: 0.0, ..AdaptationConfig::default() };
        assert_eq!(bad.validate().unwrap_err().0, "adaptation.max_shift_pct");
        assert!(AdaptationConfig::default().validate().is_ok());
    }
}
