//! Owned requests for slow agents (LLMs): everything they need to decide, copied out of the
//! engine so the engine never waits for them.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::{Account, Candle, ClosedTrade, Instrument, Price, Timeframe};
use crate::engine::state::ExitPlan;
use crate::indicators::IndicatorValues;

/// A request for one decision cycle.
#[derive(Debug, Clone, Serialize)]
pub struct AgentRequest {
    pub agent: crate::domain::AgentId,
    pub request_id: u64,
    pub now_ms: i64,
    /// Market time the agent started trading (for "minutes since start").
    pub started_ms: i64,
    /// How many times this agent has been asked so far, this one included.
    pub invocation: u64,
    pub markets: Vec<MarketBrief>,
    pub account: AccountBrief,
    /// Open positions' exit plans (with the rationale they were opened with).
    pub plans: Vec<ExitPlan>,
    /// The agent's last decisions, oldest → newest.
    pub recent_decisions: Vec<DecisionBrief>,
    /// The agent's most recent closed trades, oldest → newest.
    pub recent_trades: Vec<ClosedTrade>,
}

/// One symbol as a slow agent sees it.
#[derive(Debug, Clone, Serialize)]
pub struct MarketBrief {
    pub instrument: Instrument,
    pub last: Option<Price>,
    pub mark: Option<Price>,
    pub funding_rate: Option<Decimal>,
    pub open_interest: Option<Decimal>,
    pub long_short_ratio: Option<Decimal>,
    /// Latest closed-candle indicator values per timeframe (in `Timeframe::ALL` order).
    pub values: Vec<(Timeframe, IndicatorValues)>,
    /// Short intraday series (oldest → newest) on `intraday_timeframe`.
    pub intraday_timeframe: Timeframe,
    pub intraday: Vec<IndicatorValues>,
    /// Longer-term series (oldest → newest) on `long_timeframe`.
    pub long_timeframe: Timeframe,
    pub long_term: Vec<IndicatorValues>,
    /// Recent closed candles on the intraday timeframe (oldest → newest).
    pub candles: Vec<Candle>,
}

/// The agent's account in figures.
#[derive(Debug, Clone, Serialize)]
pub struct AccountBrief {
    pub account: Account,
    pub equity: Decimal,
    pub available: Decimal,
    pub unrealized_pnl: Decimal,
    pub return_pct: f64,
    pub sharpe: Option<f64>,
}

/// A past decision in one line, for performance feedback.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionBrief {
    pub ts_ms: i64,
    pub summary: String,
}
