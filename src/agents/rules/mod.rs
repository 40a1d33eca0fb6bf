//! The strategy library: rule agents, one file each, plus the sizing arithmetic they share.
//!
//! Every strategy enters with a stop-loss and a take-profit, sizes by risk (the loss at the stop
//! is a fixed share of equity, capped by an allocation and by the margin available), explains
//! each decision with the indicator values it used, and does nothing on warm-up values.
//! [`ema_cross`] is the textbook reference crossover (fixed size and no stop allowed, for
//! comparisons with other engines); the buy-and-hold baseline lives in [`crate::agents::baseline`].

pub mod breakout;
pub mod ema_cross;
pub mod feed;
pub mod mean_reversion;
pub mod momentum;
pub mod random;
pub mod trend;

use rust_decimal::Decimal;

use crate::agents::baseline::BuyAndHold;
use crate::agents::{AgentContext, Decision, Proposal, RuleAgent, Signal};
use crate::config::StrategyParams;
use crate::domain::{Instrument, Price, Qty, Side, Timeframe};

/// Builds the rule agent for strategy parameters, and says whether it is a benchmark (the
/// buy-and-hold baseline).
pub fn build_rule(params: &StrategyParams) -> Option<(Box<dyn RuleAgent>, bool)> {
    Some(match params.clone() {
        StrategyParams::BuyAndHold(p) => (Box::new(BuyAndHold::new(p)), true),
        StrategyParams::Trend(p) => (Box::new(trend::Trend::new(p)), false),
        StrategyParams::MeanReversion(p) => (Box::new(mean_reversion::MeanReversion::new(p)), false),
        StrategyParams::Breakout(p) => (Box::new(breakout::Breakout::new(p)), false),
        StrategyParams::Momentum(p) => (Box::new(momentum::Momentum::new(p)), false),
        StrategyParams::EmaCross(p) => (Box::new(ema_cross::EmaCross::new(p)), false),
        StrategyParams::Random(p) => (Box::new(random::RandomTrader::new(p)), false),
        // LLM agents are not rules: they answer through the engine's request/reply channel.
        StrategyParams::Llm(_) => return None,
    })
}

/// Closed candles of one timeframe a strategy needs before it can act, and what for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WarmupNeed {
    pub timeframe: Timeframe,
    pub candles: usize,
    pub what: String,
}

impl WarmupNeed {
    fn new(timeframe: Timeframe, candles: usize, what: impl Into<String>) -> Self {
        Self { timeframe, candles, what: what.into() }
    }

    /// Market time the warm-up takes, in milliseconds.
    pub fn span_ms(&self) -> i64 {
        self.timeframe.ms().saturating_mul(self.candles as i64)
    }
}

/// What each strategy must see before its first decision (TA-Lib warm-ups; a cross needs two
/// warm values in a row). Reports use it to warn when data are too short.
pub fn warmup_needs(params: &StrategyParams) -> Vec<WarmupNeed> {
    match params {
        StrategyParams::BuyAndHold(_) => Vec::new(),
        StrategyParams::Trend(p) => vec![
            WarmupNeed::new(p.timeframe, 35, "MACD(12,26,9) on two candles"),
            WarmupNeed::new(p.filter_timeframe, 50, "the EMA50 trend filter"),
        ],
        StrategyParams::MeanReversion(p) => vec![WarmupNeed::new(p.timeframe, 28, "ADX(14) and Bollinger(20)")],
        StrategyParams::Breakout(p) => vec![WarmupNeed::new(
            p.timeframe,
            (p.entry_period + 1).max(20).max(p.exit_period + 1),
            format!("the {}-candle channel before the breakout candle", p.entry_period),
        )],
        StrategyParams::Momentum(p) => {
            let mut v = vec![WarmupNeed::new(
                p.timeframe,
                (p.roc_period + 1).max(15),
                format!("ROC{} and RSI14", p.roc_period),
            )];
            for tf in &p.confirm_timeframes {
                v.push(WarmupNeed::new(*tf, p.roc_period + 1, format!("ROC{} confirmation", p.roc_period)));
            }
            v
        }
        StrategyParams::EmaCross(p) => vec![WarmupNeed::new(
            p.timeframe,
            (p.slow + 1).max(if p.stop_atr > 0.0 { 15 } else { 0 }),
            format!("EMA{} on two candles", p.slow),
        )],
        StrategyParams::Random(p) => vec![WarmupNeed::new(p.timeframe, 15, "ATR(14) for its stops")],
        // The prompt carries whatever is warm; the engine asks once the 5m EMA50 is warm.
        StrategyParams::Llm(_) => vec![WarmupNeed::new(Timeframe::M5, 50, "the 5m EMA50 before the first request")],
    }
}

/// A decision (kept short: most strategy code builds one).
/// Checks a strategy's ATR multiple or reward/risk multiple: finite, in (0, 20].
pub fn check_multiple(name: &str, x: f64) -> Result<(), String> {
    if x.is_finite() && x > 0.0 && x <= 20.0 { Ok(()) } else { Err(format!("{name} must be in (0, 20]")) }
}

pub fn decision(reasoning: String, proposals: Vec<Proposal>) -> Decision {
    Decision { reasoning, proposals }
}

/// A decision that closes the position in the context's symbol, explained.
pub fn close(ctx: &AgentContext<'_>, reasoning: String) -> Decision {
    decision(reasoning.clone(), vec![Proposal::close(ctx.symbol, reasoning)])
}

/// What a strategy wants to enter: direction, protective prices (as `f64` from indicators) and
/// the words that justify it.
#[derive(Debug, Clone)]
pub struct EntryIdea {
    pub side: Side,
    pub stop: f64,
    pub target: f64,
    /// Why, built from the indicator values used (the sizing text is appended).
    pub why: String,
    pub invalidation: String,
    pub confidence: f64,
}

/// Turns an idea into an entry decision at the last price: stop and target on the tick grid and
/// on the right sides of the entry, risk-based size. When it cannot (stop or target on the wrong
/// side, size below one lot) the decision is an explained hold.
pub fn enter(ctx: &AgentContext<'_>, idea: EntryIdea, sizing: &Sizing) -> Option<Decision> {
    let market = ctx.market(ctx.symbol)?;
    let inst = &market.instrument;
    let entry = market.last?;
    let long = idea.side == Side::Buy;
    let hold = |why: &str| Some(decision(format!("{}; {why}: no entry", idea.why), Vec::new()));
    if !long && !inst.is_perp() {
        return hold(&format!("{} is spot and cannot be shorted", ctx.symbol));
    }
    let (Some(stop), Some(target)) = (price_from_f64(idea.stop, inst), price_from_f64(idea.target, inst)) else {
        return hold("stop or target is not a valid price");
    };
    if (long && (stop >= entry || target <= entry)) || (!long && (stop <= entry || target >= entry)) {
        return hold(&format!("stop {stop} / target {target} do not bracket the price {entry}"));
    }
    // The gate refuses protective prices outside its band around the mark (default limits):
    // say so here rather than collect a refusal.
    let band = crate::risk::RiskLimits::default().price_band_pct;
    let mark = market.mark_or_last().filter(|m| *m > Decimal::ZERO).unwrap_or(entry);
    if mark <= Decimal::ZERO {
        return None;
    }
    for (what, p) in [("stop", stop), ("target", target)] {
        let off = crate::analytics::decimal_to_f64((p - mark).abs() / mark) * 100.0;
        if off > band {
            return hold(&format!("the {what} {p} is {off:.1}% from the price, beyond the risk gate's {band}% band"));
        }
    }
    let sizing = Sizing { leverage: capped_leverage(sizing.leverage, market), ..*sizing };
    let qty = sizing.qty(ctx, inst, entry, stop);
    if qty.is_zero() {
        return hold("size rounds to zero lots");
    }
    let risk = ((entry - stop).abs() * qty).round_dp(2);
    let rr = crate::analytics::decimal_to_f64((target - entry).abs())
        / crate::analytics::decimal_to_f64((entry - stop).abs());
    let reasoning = format!(
        "{}: {} {qty} {} at ~{entry}, stop {stop}, target {target} ({rr:.1}R), risking {risk} ({}% of equity)",
        idea.why,
        if long { "long" } else { "short" },
        inst.base,
        sizing.risk_per_trade_pct,
    );
    Some(decision(
        reasoning.clone(),
        vec![Proposal {
            signal: if long { Signal::BuyToEnter } else { Signal::SellToEnter },
            symbol: ctx.symbol,
            quantity: qty,
            leverage: sizing.leverage,
            profit_target: Some(target),
            stop_loss: Some(stop),
            invalidation_condition: Some(idea.invalidation),
            confidence: idea.confidence,
            risk_usd: Some(risk),
            justification: reasoning,
        }],
    ))
}

/// `leverage`, lowered to the risk gate's volatility-scaled cap for this market (with the default
/// target volatility), so an entry is not refused for its leverage: 1× until the market's
/// volatility is known, never above the venue's maximum.
pub fn capped_leverage(leverage: Decimal, market: &crate::agents::MarketView) -> Decimal {
    let inst = &market.instrument;
    let venue_max = if inst.is_perp() { inst.max_leverage } else { Decimal::ONE };
    let cap = crate::risk::RiskGate::leverage_cap(
        &crate::risk::RiskLimits::default(),
        venue_max,
        market.vol.annualized_pct(),
    );
    leverage.min(cap).max(Decimal::ONE)
}

/// True when `ctx` is a candle close this strategy decides on: its timeframe, its symbol.
pub fn is_my_close(ctx: &AgentContext<'_>, tf: Timeframe) -> bool {
    ctx.timeframe == tf && ctx.symbols.contains(&ctx.symbol)
}

/// Risk-based sizing parameters shared by the strategies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sizing {
    /// Equity lost if the stop is hit, in percent.
    pub risk_per_trade_pct: Decimal,
    pub leverage: Decimal,
    /// Largest notional per symbol as a percentage of equity × leverage.
    pub max_allocation_pct: Decimal,
}

impl Sizing {
    /// Checks ranges; the message names the parameter.
    pub fn validate(&self) -> Result<(), String> {
        if self.risk_per_trade_pct <= Decimal::ZERO || self.risk_per_trade_pct > Decimal::from(10) {
            return Err("risk_per_trade_pct must be in (0, 10]".into());
        }
        if self.leverage < Decimal::ONE || self.leverage > Decimal::from(125) {
            return Err("leverage must be in [1, 125]".into());
        }
        if self.max_allocation_pct <= Decimal::ZERO || self.max_allocation_pct > Decimal::from(100) {
            return Err("max_allocation_pct must be in (0, 100]".into());
        }
        Ok(())
    }

    /// The quantity that loses `risk_per_trade_pct` of equity between `entry` and `stop`, within
    /// the allocation and within the margin available (keeping 5 % spare for fees and adverse
    /// moves), on the lot grid. Zero when nothing fits.
    pub fn qty(&self, ctx: &AgentContext<'_>, instrument: &Instrument, entry: Price, stop: Price) -> Qty {
        let equity = ctx.equity();
        let risk = equity * self.risk_per_trade_pct / Decimal::ONE_HUNDRED;
        let by_allocation = equity * self.leverage * self.max_allocation_pct / Decimal::ONE_HUNDRED;
        let by_margin = ctx.available().max(Decimal::ZERO) * self.leverage * Decimal::new(95, 2);
        risk_sized_qty(risk, entry, stop, by_allocation.min(by_margin), instrument)
    }
}

/// Quantity that loses `risk` (quote asset) if the price moves from `entry` to `stop`, capped so
/// the notional stays within `max_notional`, floored to the lot grid. Zero when nothing fits.
pub fn risk_sized_qty(risk: Decimal, entry: Price, stop: Price, max_notional: Decimal, instrument: &Instrument) -> Qty {
    let distance = (entry - stop).abs();
    if distance.is_zero() || entry <= Decimal::ZERO || risk <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    let by_risk = risk / distance;
    let by_notional = (max_notional / entry).max(Decimal::ZERO);
    instrument.floor_qty(by_risk.min(by_notional))
}

/// Formats an indicator value for explanations with a precision suited to its magnitude.
pub fn fmt_num(x: f64) -> String {
    let a = x.abs();
    if a >= 1000.0 {
        format!("{x:.1}")
    } else if a >= 10.0 {
        format!("{x:.2}")
    } else if a >= 0.1 {
        format!("{x:.3}")
    } else {
        format!("{x:.5}")
    }
}

/// Converts an `f64` price (from indicators) to a decimal on the instrument's tick grid.
pub fn price_from_f64(x: f64, instrument: &Instrument) -> Option<Price> {
    if !x.is_finite() || x <= 0.0 {
        return None;
    }
    let d = Decimal::from_f64_retain(x)?;
    let p = instrument.round_price(d);
    (p > Decimal::ZERO).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Symbol;
    use rust_decimal::dec;

    #[test]
    fn sizing_by_risk_and_by_notional_cap() {
        let inst = Instrument::perp(Symbol::new("BTCUSDT").unwrap(), "BTC", dec!(0.1), dec!(0.001), 50);
        // $100 risk over a $500 stop distance = 0.2 BTC.
        assert_eq!(risk_sized_qty(dec!(100), dec!(60000), dec!(59500), dec!(1000000), &inst), dec!(0.2));
        // Capped by notional: 6000 / 60000 = 0.1.
        assert_eq!(risk_sized_qty(dec!(100), dec!(60000), dec!(59500), dec!(6000), &inst), dec!(0.1));
        assert_eq!(risk_sized_qty(dec!(100), dec!(60000), dec!(60000), dec!(6000), &inst), dec!(0));
    }
}
