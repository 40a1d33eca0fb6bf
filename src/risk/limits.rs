//! Risk limits and circuit-breaker thresholds, all configurable with sane defaults.
//!
//! `[risk]` sets the limits every agent gets; `[agents.risk]` overrides any of them for one
//! agent (the buy-and-hold benchmark, for instance, carries no stop). `[arena]` holds the
//! arena-wide limits and breakers.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Per-agent order limits and breaker thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskLimits {
    /// Highest leverage any order may use; the venue's maximum and the volatility cap also apply.
    pub max_leverage: Decimal,
    /// Annualised volatility the leverage cap aims at: cap = target / realised volatility of the
    /// symbol (1-minute returns), clamped to [1, min(max_leverage, venue maximum)]. Unknown
    /// volatility (not enough data yet) caps leverage at 1.
    pub target_volatility_pct: f64,
    /// Every entry must carry a stop-loss.
    pub require_stop_loss: bool,
    /// If set, an entry without a stop gets one this many ATR(14, 15m) away instead of being
    /// refused.
    pub default_stop_atr: Option<f64>,
    /// Largest loss at the stop, in percent of equity.
    pub max_risk_per_trade_pct: f64,
    /// Smallest reward/risk ratio (target distance / stop distance), if set.
    pub min_reward_risk: Option<f64>,
    /// Limit, trigger, stop and target prices must lie within this percentage of the mark.
    pub price_band_pct: f64,
    /// Largest position notional per symbol, in the quote asset.
    pub max_position_notional: Decimal,
    /// Largest position notional per symbol, in percent of equity.
    pub max_symbol_allocation_pct: f64,
    /// Largest gross exposure (Σ |notional|), as a multiple of equity.
    pub max_gross_exposure_x: f64,
    /// Largest net exposure (|Σ signed notional|), as a multiple of equity.
    pub max_net_exposure_x: f64,
    pub max_open_positions: u32,
    /// Agent-originated orders per rolling minute (protective and operator orders excluded).
    pub max_orders_per_minute: u32,
    /// No new entry in a symbol for this many minutes after a stop-loss closed a position in it.
    pub stop_out_cooldown_min: u32,
    /// No entry in the opposite direction within this many minutes of closing a position.
    pub min_reversal_min: u32,
    /// Breaker: loss since the UTC day started, in percent of the day's starting equity
    /// (trips: halt and flatten the agent).
    pub daily_loss_limit_pct: f64,
    /// Breaker: fall from the high-water mark of equity, in percent (trips: halt and flatten).
    pub max_drawdown_pct: f64,
    /// Breaker: losing trades in a row (trips: reduce-only). 0 disables it.
    pub max_consecutive_losses: u32,
    /// Breaker: share of refused or rejected orders among the last `refusal_window` orders, in
    /// percent (trips: reduce-only).
    pub max_refusal_rate_pct: f64,
    pub refusal_window: u32,
    /// Seconds an open position may lack a live stop-loss before the engine closes it.
    pub unprotected_grace_secs: u32,
}

impl Default for RiskLimits {
    fn default() -> Self {
        Self {
            max_leverage: Decimal::from(10),
            target_volatility_pct: 250.0,
            require_stop_loss: true,
            default_stop_atr: None,
            max_risk_per_trade_pct: 2.0,
            min_reward_risk: None,
            price_band_pct: 10.0,
            max_position_notional: Decimal::from(50_000),
            max_symbol_allocation_pct: 300.0,
            max_gross_exposure_x: 5.0,
            max_net_exposure_x: 3.0,
            max_open_positions: 5,
            max_orders_per_minute: 20,
            stop_out_cooldown_min: 15,
            min_reversal_min: 30,
            daily_loss_limit_pct: 5.0,
            max_drawdown_pct: 20.0,
            max_consecutive_losses: 10,
            max_refusal_rate_pct: 50.0,
            refusal_window: 20,
            unprotected_grace_secs: 30,
        }
    }
}

/// Arena-wide limits and breakers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArenaLimits {
    /// Largest gross exposure of all agents together, as a multiple of their total equity.
    pub max_gross_exposure_x: f64,
    /// Largest notional of all agents together in one symbol, in the quote asset.
    pub max_symbol_notional: Decimal,
    /// Breaker: arena loss since the UTC day started, percent (trips: halt and flatten all).
    pub daily_loss_limit_pct: f64,
    /// Breaker: arena fall from its high-water mark, percent (trips: halt and flatten all).
    pub max_drawdown_pct: f64,
    /// Breaker: seconds a symbol's data may stay stale (trips: arena reduce-only).
    pub stale_data_secs: u32,
}

impl Default for ArenaLimits {
    fn default() -> Self {
        Self {
            max_gross_exposure_x: 5.0,
            max_symbol_notional: Decimal::from(250_000),
            daily_loss_limit_pct: 8.0,
            max_drawdown_pct: 25.0,
            stale_data_secs: 60,
        }
    }
}

impl RiskLimits {
    /// Checks ranges; the message names the key under `prefix` (e.g. `risk` or `agents.x.risk`).
    pub fn validate(&self, prefix: &str) -> Result<(), (String, String)> {
        let err = |k: &str, m: &str| Err((format!("{prefix}.{k}"), m.to_owned()));
        let pct = |v: f64| v.is_finite() && v > 0.0 && v <= 100.0;
        if self.max_leverage < Decimal::ONE || self.max_leverage > Decimal::from(125) {
            return err("max_leverage", "must be between 1 and 125");
        }
        if !(self.target_volatility_pct.is_finite()
            && self.target_volatility_pct > 0.0
            && self.target_volatility_pct <= 10_000.0)
        {
            return err("target_volatility_pct", "must be a percentage in (0, 10000]");
        }
        if let Some(k) = self.default_stop_atr
            && !(k.is_finite() && k > 0.0 && k <= 50.0)
        {
            return err("default_stop_atr", "must be in (0, 50] ATR multiples");
        }
        if !pct(self.max_risk_per_trade_pct) {
            return err("max_risk_per_trade_pct", "must be a percentage in (0, 100]");
        }
        if let Some(r) = self.min_reward_risk
            && !(r.is_finite() && r > 0.0 && r <= 100.0)
        {
            return err("min_reward_risk", "must be in (0, 100]");
        }
        if !pct(self.price_band_pct) {
            return err("price_band_pct", "must be a percentage in (0, 100]");
        }
        if self.max_position_notional <= Decimal::ZERO {
            return err("max_position_notional", "must be positive");
        }
        if !(self.max_symbol_allocation_pct.is_finite()
            && self.max_symbol_allocation_pct > 0.0
            && self.max_symbol_allocation_pct <= 12_500.0)
        {
            return err("max_symbol_allocation_pct", "must be a percentage in (0, 12500]");
        }
        for (k, v) in
            [("max_gross_exposure_x", self.max_gross_exposure_x), ("max_net_exposure_x", self.max_net_exposure_x)]
        {
            if !(v.is_finite() && v > 0.0 && v <= 125.0) {
                return err(k, "must be a multiple of equity in (0, 125]");
            }
        }
        if self.max_open_positions == 0 {
            return err("max_open_positions", "must be at least 1");
        }
        if self.max_orders_per_minute == 0 {
            return err("max_orders_per_minute", "must be at least 1");
        }
        if !pct(self.daily_loss_limit_pct) {
            return err("daily_loss_limit_pct", "must be a percentage in (0, 100]");
        }
        if !pct(self.max_drawdown_pct) {
            return err("max_drawdown_pct", "must be a percentage in (0, 100]");
        }
        if !pct(self.max_refusal_rate_pct) {
            return err("max_refusal_rate_pct", "must be a percentage in (0, 100]");
        }
        if self.refusal_window < 2 || self.refusal_window > 10_000 {
            return err("refusal_window", "must be between 2 and 10000 orders");
        }
        Ok(())
    }
}

impl ArenaLimits {
    pub fn validate(&self) -> Result<(), (String, String)> {
        let err = |k: &str, m: &str| Err((format!("arena.{k}"), m.to_owned()));
        if !(self.max_gross_exposure_x.is_finite()
            && self.max_gross_exposure_x > 0.0
            && self.max_gross_exposure_x <= 125.0)
        {
            return err("max_gross_exposure_x", "must be a multiple of equity in (0, 125]");
        }
        if self.max_symbol_notional <= Decimal::ZERO {
            return err("max_symbol_notional", "must be positive");
        }
        for (k, v) in [("daily_loss_limit_pct", self.daily_loss_limit_pct), ("max_drawdown_pct", self.max_drawdown_pct)]
        {
            if !(v.is_finite() && v > 0.0 && v <= 100.0) {
                return err(k, "must be a percentage in (0, 100]");
            }
        }
        if self.stale_data_secs == 0 {
            return err("stale_data_secs", "must be at least 1");
        }
        Ok(())
    }
}
