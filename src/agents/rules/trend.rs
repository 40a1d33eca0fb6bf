//! Trend following: EMA(12)/EMA(26) crossover on the decision timeframe, confirmed by the MACD
//! histogram and filtered by the higher timeframe's trend (EMA(20) vs EMA(50)).
//!
//! Entry long when EMA12 crosses above EMA26 on a closed candle, the MACD histogram is positive
//! and the filter timeframe is in an uptrend; short is the mirror image (if allowed). The stop is
//! `stop_atr` × ATR(14) from the entry, the target `reward_risk` times that distance on the other
//! side, and the size loses `risk_per_trade_pct` of equity at the stop (capped by leverage and
//! allocation). An opposite crossover closes the position. Nothing is done on warm-up values.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{check_multiple, fmt_num, price_from_f64, risk_sized_qty};
use crate::agents::{AgentContext, Decision, Proposal, RuleAgent, Signal};
use crate::domain::{Side, Timeframe};
use crate::indicators::IndicatorValues;

/// Parameters of the trend agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrendParams {
    /// Timeframe whose candle closes trigger decisions.
    pub timeframe: Timeframe,
    /// Higher timeframe used as trend filter (EMA20 vs EMA50).
    pub filter_timeframe: Timeframe,
    /// Equity lost if the stop is hit, in percent.
    pub risk_per_trade_pct: Decimal,
    /// Stop distance in ATR(14) multiples.
    pub stop_atr: f64,
    /// Target distance as a multiple of the stop distance.
    pub reward_risk: f64,
    pub leverage: Decimal,
    /// Largest notional per symbol as a percentage of equity × leverage.
    pub max_allocation_pct: Decimal,
    pub allow_short: bool,
}

impl Default for TrendParams {
    fn default() -> Self {
        Self {
            timeframe: Timeframe::H1,
            filter_timeframe: Timeframe::H4,
            risk_per_trade_pct: Decimal::ONE,
            stop_atr: 2.0,
            reward_risk: 2.0,
            leverage: Decimal::from(2),
            max_allocation_pct: Decimal::from(50),
            allow_short: true,
        }
    }
}

impl TrendParams {
    /// Checks ranges; the message names the parameter.
    pub fn validate(&self) -> Result<(), String> {
        if self.filter_timeframe < self.timeframe {
            return Err("filter_timeframe must not be shorter than timeframe".into());
        }
        if self.risk_per_trade_pct <= Decimal::ZERO || self.risk_per_trade_pct > Decimal::from(10) {
            return Err("risk_per_trade_pct must be in (0, 10]".into());
        }
        check_multiple("stop_atr", self.stop_atr)?;
        check_multiple("reward_risk", self.reward_risk)?;
        if self.leverage < Decimal::ONE || self.leverage > Decimal::from(125) {
            return Err("leverage must be in [1, 125]".into());
        }
        if self.max_allocation_pct <= Decimal::ZERO || self.max_allocation_pct > Decimal::from(100) {
            return Err("max_allocation_pct must be in (0, 100]".into());
        }
        Ok(())
    }
}

/// The trend-following agent.
pub struct Trend {
    params: TrendParams,
}

impl Trend {
    pub fn new(params: TrendParams) -> Self {
        Self { params }
    }
}

/// The last two closed-candle values, both warm for what the strategy reads.
fn last_two(ctx: &AgentContext<'_>, tf: Timeframe) -> Option<(IndicatorValues, IndicatorValues)> {
    let m = ctx.market(ctx.symbol)?;
    let mut it = m.series.value_history(tf).rev();
    let cur = *it.next()?;
    let prev = *it.next()?;
    Some((prev, cur))
}

impl RuleAgent for Trend {
    fn kind(&self) -> &'static str {
        "trend"
    }

    fn timeframe(&self) -> Timeframe {
        self.params.timeframe
    }

    fn decide(&mut self, ctx: &AgentContext<'_>) -> Option<Decision> {
        if ctx.timeframe != self.params.timeframe || !ctx.symbols.contains(&ctx.symbol) {
            return None;
        }
        let p = &self.params;
        let tf = p.timeframe;
        let (prev, cur) = last_two(ctx, tf)?;
        let (pf, ps, cf, cs) = (prev.ema12?, prev.ema26?, cur.ema12?, cur.ema26?);
        let macd = cur.macd?;
        let atr = cur.atr14?;
        let market = ctx.market(ctx.symbol)?;
        let inst = &market.instrument;
        let cross_up = pf <= ps && cf > cs;
        let cross_down = pf >= ps && cf < cs;
        if !cross_up && !cross_down {
            return None;
        }
        let sym = ctx.symbol;
        let cross_text = format!(
            "{sym} {tf}: EMA12 {} crossed {} EMA26 {}, MACD hist {}",
            fmt_num(cf),
            if cross_up { "above" } else { "below" },
            fmt_num(cs),
            fmt_num(macd.hist)
        );

        if let Some(pos) = ctx.account.position(sym) {
            let long = pos.qty > Decimal::ZERO;
            if (long && cross_down) || (!long && cross_up) {
                let reasoning = format!(
                    "{cross_text}: the {} trend this position followed has turned; close {} {}",
                    if long { "up" } else { "down" },
                    pos.qty.abs(),
                    inst.base
                );
                return Some(Decision {
                    reasoning: reasoning.clone(),
                    proposals: vec![Proposal::close(sym, reasoning)],
                });
            }
            return None;
        }

        let filter = market.series.values(p.filter_timeframe);
        let (Some(f20), Some(f50)) = (filter.ema20, filter.ema50) else {
            return Some(Decision {
                reasoning: format!("{cross_text}; {} trend filter still warming up: no entry", p.filter_timeframe),
                proposals: Vec::new(),
            });
        };
        let filter_text = format!(
            "{} trend {} (EMA20 {} vs EMA50 {})",
            p.filter_timeframe,
            if f20 > f50 { "up" } else { "down" },
            fmt_num(f20),
            fmt_num(f50)
        );
        let side = if cross_up { Side::Buy } else { Side::Sell };
        let confirmed = match side {
            Side::Buy => macd.hist > 0.0 && f20 > f50,
            Side::Sell => macd.hist < 0.0 && f20 < f50 && p.allow_short && inst.is_perp(),
        };
        if !confirmed {
            let why = if side == Side::Sell && !p.allow_short {
                "shorts are disabled".to_owned()
            } else if side == Side::Sell && !inst.is_perp() {
                format!("{sym} is spot and cannot be shorted")
            } else if (side == Side::Buy && macd.hist <= 0.0) || (side == Side::Sell && macd.hist >= 0.0) {
                "MACD does not confirm".to_owned()
            } else {
                format!("{filter_text} disagrees")
            };
            return Some(Decision { reasoning: format!("{cross_text}; {why}: no entry"), proposals: Vec::new() });
        }

        let entry = market.last?;
        let entry_f = crate::analytics::decimal_to_f64(entry);
        let dist = p.stop_atr * atr;
        let dir = if side == Side::Buy { 1.0 } else { -1.0 };
        let stop = price_from_f64(entry_f - dir * dist, inst)?;
        let target = price_from_f64(entry_f + dir * dist * p.reward_risk, inst)?;
        let equity = ctx.equity();
        let risk = equity * p.risk_per_trade_pct / Decimal::ONE_HUNDRED;
        // Within the allocation, and within the margin actually available (keeping 5 % spare
        // for fees and adverse moves).
        let by_allocation = equity * p.leverage * p.max_allocation_pct / Decimal::ONE_HUNDRED;
        let by_margin = ctx.available().max(Decimal::ZERO) * p.leverage * Decimal::new(95, 2);
        let max_notional = by_allocation.min(by_margin);
        let qty = risk_sized_qty(risk, entry, stop, max_notional, inst);
        if qty.is_zero() {
            return Some(Decision {
                reasoning: format!("{cross_text}; {filter_text}; size rounds to zero lots: no entry"),
                proposals: Vec::new(),
            });
        }
        let risk_at_stop = (entry - stop).abs() * qty;
        let reasoning = format!(
            "{cross_text}; {filter_text}: {} {qty} {} at ~{entry}, stop {stop} ({}×ATR14 {}), target {target} ({}R), risking {} ({}% of equity)",
            if side == Side::Buy { "long" } else { "short" },
            inst.base,
            p.stop_atr,
            fmt_num(atr),
            p.reward_risk,
            risk_at_stop.round_dp(2),
            p.risk_per_trade_pct,
        );
        Some(Decision {
            reasoning: reasoning.clone(),
            proposals: vec![Proposal {
                signal: if side == Side::Buy { Signal::BuyToEnter } else { Signal::SellToEnter },
                symbol: sym,
                quantity: qty,
                leverage: p.leverage,
                profit_target: Some(target),
                stop_loss: Some(stop),
                invalidation_condition: Some(format!(
                    "{tf} EMA12 crosses back {} EMA26",
                    if side == Side::Buy { "below" } else { "above" }
                )),
                confidence: 0.6,
                risk_usd: Some(risk_at_stop.round_dp(2)),
                justification: reasoning,
            }],
        })
    }
}
