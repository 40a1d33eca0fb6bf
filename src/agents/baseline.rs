//! The buy-and-hold baseline: splits its balance equally across its symbols at the first
//! price it sees, at 1× leverage, and never trades again. Every other agent is measured
//! against it. It is a benchmark, so it carries no stop-loss.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{AgentContext, Decision, Proposal, RuleAgent, Signal};
use crate::domain::{Symbol, Timeframe};

/// Parameters of the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuyAndHoldParams {
    /// Share of equity invested (the rest pays fees and absorbs rounding), 0 < x ≤ 1.
    pub invest_fraction: Decimal,
}

impl Default for BuyAndHoldParams {
    fn default() -> Self {
        Self { invest_fraction: Decimal::new(98, 2) }
    }
}

/// Buy-and-hold benchmark agent.
pub struct BuyAndHold {
    params: BuyAndHoldParams,
    bought: Vec<Symbol>,
}

impl BuyAndHold {
    pub fn new(params: BuyAndHoldParams) -> Self {
        Self { params, bought: Vec::new() }
    }
}

impl RuleAgent for BuyAndHold {
    fn kind(&self) -> &'static str {
        "buy_and_hold"
    }

    fn timeframe(&self) -> Timeframe {
        Timeframe::M1
    }

    fn decide(&mut self, ctx: &AgentContext<'_>) -> Option<Decision> {
        if self.bought.contains(&ctx.symbol) || !ctx.symbols.contains(&ctx.symbol) {
            return None;
        }
        if ctx.account.position(ctx.symbol).is_some() {
            // Resumed with the position already held.
            self.bought.push(ctx.symbol);
            return None;
        }
        let market = ctx.market(ctx.symbol)?;
        let price = market.last?;
        if price <= Decimal::ZERO {
            return None;
        }
        let n = Decimal::from(ctx.symbols.len().max(1));
        let budget = ctx.account.starting_balance * self.params.invest_fraction / n;
        let qty = market.instrument.floor_qty(budget / price);
        self.bought.push(ctx.symbol);
        if qty.is_zero() {
            return Some(Decision {
                reasoning: format!(
                    "buy-and-hold: {} budget {} buys less than one lot at {price}; holding cash",
                    ctx.symbol,
                    budget.round_dp(2)
                ),
                proposals: Vec::new(),
            });
        }
        let reasoning = format!(
            "buy-and-hold baseline: buy {qty} {} at ~{price} ({} of {} {} starting balance, 1× leverage) and hold to the end",
            market.instrument.base,
            budget.round_dp(2),
            ctx.account.starting_balance.round_dp(2),
            market.instrument.quote,
        );
        Some(Decision {
            reasoning: reasoning.clone(),
            proposals: vec![Proposal {
                signal: Signal::BuyToEnter,
                symbol: ctx.symbol,
                quantity: qty,
                leverage: Decimal::ONE,
                profit_target: None,
                stop_loss: None,
                invalidation_condition: None,
                confidence: 1.0,
                risk_usd: None,
                justification: reasoning,
            }],
        })
    }
}
