//! Agents: decision makers that propose trades for their own account.
//!
//! A decision is reasoning text plus zero or more [`Proposal`]s, in the per-coin schema Alpha
//! Arena popularised (`signal`, `quantity`, `leverage`, `profit_target`, `stop_loss`,
//! `invalidation_condition`, `confidence`, `risk_usd`, `justification`). Proposals never trade
//! by themselves: the engine turns them into orders and every order passes the risk gate.
//!
//! Rule agents ([`RuleAgent`]) are fast and deterministic and answer inline when a candle of
//! their timeframe closes. Slow agents (LLMs) receive an owned request and answer later; their
//! decision reaches the engine as an event. Both kinds end up in the same decision handler.

pub mod adaptive;
pub mod baseline;
pub mod context;
pub mod invalidation;
pub mod llm;
pub mod rules;
pub mod scripted;

pub use context::{AgentContext, MarketView};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{Price, Qty, Symbol, Timeframe};

/// What a proposal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    BuyToEnter,
    SellToEnter,
    Hold,
    ClosePosition,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::BuyToEnter => "buy_to_enter",
            Signal::SellToEnter => "sell_to_enter",
            Signal::Hold => "hold",
            Signal::ClosePosition => "close_position",
        }
    }
}

/// One per-coin proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub signal: Signal,
    pub symbol: Symbol,
    /// Base-asset quantity for entries (ignored for holds and closes, which close everything).
    pub quantity: Qty,
    pub leverage: Decimal,
    pub profit_target: Option<Price>,
    pub stop_loss: Option<Price>,
    /// A human or numeric condition that voids the thesis (shown to the agent each cycle).
    pub invalidation_condition: Option<String>,
    /// 0..=1.
    pub confidence: f64,
    /// Loss at the stop the agent expects to risk, in the quote asset.
    pub risk_usd: Option<Decimal>,
    pub justification: String,
}

impl Proposal {
    /// A proposal that closes the whole position in `symbol`.
    pub fn close(symbol: Symbol, justification: String) -> Self {
        Self {
            signal: Signal::ClosePosition,
            symbol,
            quantity: Decimal::ZERO,
            leverage: Decimal::ONE,
            profit_target: None,
            stop_loss: None,
            invalidation_condition: None,
            confidence: 1.0,
            risk_usd: None,
            justification,
        }
    }
}

/// An agent's answer for one decision cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Decision {
    /// Why, in words, built from the numbers the agent used.
    pub reasoning: String,
    pub proposals: Vec<Proposal>,
}

/// A fast, deterministic strategy run inline by the engine.
pub trait RuleAgent: Send {
    /// Strategy name for display and the ledger (`trend`, `buy_and_hold`, ...).
    fn kind(&self) -> &'static str;
    /// The agent is asked to decide when a candle of this timeframe closes on one of its symbols.
    fn timeframe(&self) -> Timeframe;
    /// Returns `None` when it has nothing to do or say this time (not logged), otherwise a
    /// decision (logged and stored, including explained holds).
    fn decide(&mut self, ctx: &AgentContext<'_>) -> Option<Decision>;
}
