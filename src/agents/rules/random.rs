//! The random trader: a seeded noise trader, the null hypothesis every strategy should beat.
//!
//! On each candle close of its timeframe, when flat in the symbol, it enters with probability
//! `entry_probability`, long or short on a fair coin, with a stop `stop_atr` × ATR(14) away and a
//! target `reward_risk` times further, sized to lose `risk_per_trade_pct` of equity at the stop.
//! A position still open after `max_hold_bars` candles is closed. Its random draws come from its
//! own seed, so runs are reproducible. It also makes a busy, realistic load for tests of the
//! ledger and the risk system.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{check_multiple, fmt_num, price_from_f64, risk_sized_qty};
use crate::agents::{AgentContext, Decision, Proposal, RuleAgent, Signal};
use crate::analytics::decimal_to_f64;
use crate::domain::{Symbol, Timeframe};

/// Parameters of the random trader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomParams {
    pub timeframe: Timeframe,
    /// Chance of entering on a candle close while flat, 0..=1.
    pub entry_probability: f64,
    pub stop_atr: f64,
    pub reward_risk: f64,
    pub risk_per_trade_pct: Decimal,
    pub leverage: Decimal,
    /// Candles after which an open position is closed.
    pub max_hold_bars: u32,
    pub seed: u64,
}

impl Default for RandomParams {
    fn default() -> Self {
        Self {
            timeframe: Timeframe::M5,
            entry_probability: 0.2,
            stop_atr: 1.5,
            reward_risk: 1.5,
            risk_per_trade_pct: Decimal::new(5, 1),
            leverage: Decimal::ONE,
            max_hold_bars: 24,
            seed: 7,
        }
    }
}

impl RandomParams {
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.entry_probability) {
            return Err("entry_probability must be in [0, 1]".into());
        }
        check_multiple("stop_atr", self.stop_atr)?;
        check_multiple("reward_risk", self.reward_risk)?;
        if self.risk_per_trade_pct <= Decimal::ZERO || self.risk_per_trade_pct > Decimal::from(10) {
            return Err("risk_per_trade_pct must be in (0, 10]".into());
        }
        if self.leverage < Decimal::ONE || self.leverage > Decimal::from(125) {
            return Err("leverage must be in [1, 125]".into());
        }
        if self.max_hold_bars == 0 {
            return Err("max_hold_bars must be at least 1".into());
        }
        Ok(())
    }
}

/// The random trader.
pub struct RandomTrader {
    params: RandomParams,
    rng: ChaCha8Rng,
    /// Candles each open position has been held.
    held: Vec<(Symbol, u32)>,
}

impl RandomTrader {
    pub fn new(params: RandomParams) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(params.seed);
        Self { params, rng, held: Vec::new() }
    }
}

impl RuleAgent for RandomTrader {
    fn kind(&self) -> &'static str {
        "random"
    }

    fn timeframe(&self) -> Timeframe {
        self.params.timeframe
    }

    fn decide(&mut self, ctx: &AgentContext<'_>) -> Option<Decision> {
        let sym = ctx.symbol;
        if ctx.timeframe != self.params.timeframe || !ctx.symbols.contains(&sym) {
            return None;
        }
        // Draw every time, whatever happens next, so the sequence does not depend on fills.
        let enter: f64 = self.rng.random();
        let long = self.rng.random_bool(0.5);
        if let Some(pos) = ctx.account.position(sym) {
            let bars = match self.held.iter_mut().find(|(s, _)| *s == sym) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    self.held.push((sym, 1));
                    1
                }
            };
            if bars >= self.params.max_hold_bars {
                self.held.retain(|(s, _)| *s != sym);
                let reasoning = format!(
                    "random trader: held {} {} for {bars} {} candles (limit {}): close",
                    pos.qty, sym, self.params.timeframe, self.params.max_hold_bars
                );
                return Some(Decision {
                    reasoning: reasoning.clone(),
                    proposals: vec![Proposal::close(sym, reasoning)],
                });
            }
            return None;
        }
        self.held.retain(|(s, _)| *s != sym);
        if enter >= self.params.entry_probability {
            return None;
        }
        let market = ctx.market(sym)?;
        let atr = market.series.values(self.params.timeframe).atr14?;
        let entry = market.last?;
        let inst = &market.instrument;
        let p = &self.params;
        let e = decimal_to_f64(entry);
        let dir = if long { 1.0 } else { -1.0 };
        let stop = price_from_f64(e - dir * p.stop_atr * atr, inst)?;
        let target = price_from_f64(e + dir * p.stop_atr * atr * p.reward_risk, inst)?;
        let equity = ctx.equity();
        let risk = equity * p.risk_per_trade_pct / Decimal::ONE_HUNDRED;
        let max_notional = ctx.available().max(Decimal::ZERO) * p.leverage * Decimal::new(9, 1);
        let qty = risk_sized_qty(risk, entry, stop, max_notional, inst);
        if qty.is_zero() {
            return None;
        }
        let reasoning = format!(
            "random trader: coin says {} {qty} {} at ~{entry}, stop {stop} ({}×ATR14 {}), target {target}",
            if long { "long" } else { "short" },
            inst.base,
            p.stop_atr,
            fmt_num(atr)
        );
        Some(Decision {
            reasoning: reasoning.clone(),
            proposals: vec![Proposal {
                signal: if long { Signal::BuyToEnter } else { Signal::SellToEnter },
                symbol: sym,
                quantity: qty,
                leverage: p.leverage,
                profit_target: Some(target),
                stop_loss: Some(stop),
                invalidation_condition: None,
                confidence: 0.5,
                risk_usd: None,
                justification: reasoning,
            }],
        })
    }
}
