//! The read-only picture of the engine that UIs and status lines render.
//!
//! The engine builds a [`Snapshot`] on request and the runner publishes it as `Arc<Snapshot>`
//! on a `watch` channel: readers always get the latest complete picture and never block the
//! engine. Things that must not be missed between frames (reasoning log, refusals) are bounded
//! rings inside it.

use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

use std::sync::Arc;

use super::event::{FeedState, FeedStats};
use super::journal::DecisionRecord;
use super::state::AgentStats;
use super::state::ExitPlan;
use crate::analytics::Metrics;
use crate::domain::{AgentId, ClosedTrade, Order, Price, Qty, Side, Symbol};
use crate::risk::{RefusalCode, TradingState};

/// Everything a screen needs, at one instant.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Snapshot {
    /// Increases with every snapshot built.
    pub version: u64,
    /// Engine (market) time.
    pub now_ms: i64,
    /// `PAPER` or `LIVE`.
    pub mode: String,
    pub source: SourceSnapshot,
    /// Arena-wide trading state.
    pub global_state: TradingState,
    pub global_reason: Option<String>,
    /// Operator's arena-wide reduce-only switch.
    pub global_reduce_only: bool,
    /// When the kill switch was engaged (it stays latched until released).
    pub kill_switch_ms: Option<i64>,
    pub agents: Vec<AgentSnapshot>,
    pub markets: Vec<MarketSnapshot>,
    /// Limits, gauges and circuit breakers.
    pub risk: RiskSnapshot,
    /// Newest last.
    pub log: Vec<LogEntry>,
    pub counters: Counters,
    /// True when this run resumed from the ledger.
    pub resumed: bool,
    pub run_id: Option<i64>,
    /// The ledger's health, when the run has one.
    pub store: Option<StoreSnapshot>,
}

/// The ledger writer's health.
#[derive(Debug, Clone, Serialize, Default)]
pub struct StoreSnapshot {
    /// Batches appended and not committed yet.
    pub pending_batches: usize,
    pub commits: u64,
    pub records_committed: u64,
    /// Duration of the last and the longest commit, fsync included.
    pub last_commit_us: u64,
    pub max_commit_us: u64,
    pub failures: u64,
    /// The last commit failed and batches wait for a retry.
    pub failing: bool,
    pub last_error: Option<String>,
}

impl Snapshot {
    pub fn agent(&self, id: AgentId) -> Option<&AgentSnapshot> {
        self.agents.iter().find(|a| a.id == id)
    }

    /// Sum of all agents' equity except benchmarks.
    pub fn total_equity(&self) -> Decimal {
        self.agents.iter().filter(|a| !a.benchmark).map(|a| a.equity).sum()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceSnapshot {
    pub name: String,
    pub state: FeedState,
    pub detail: String,
    pub stats: FeedStats,
}

impl Default for SourceSnapshot {
    fn default() -> Self {
        Self { name: String::new(), state: FeedState::Connecting, detail: String::new(), stats: FeedStats::default() }
    }
}

/// One agent on the leaderboard.
#[derive(Debug, Clone, Serialize)]
pub struct AgentSnapshot {
    pub id: AgentId,
    /// Strategy or model (`trend`, `buy_and_hold`, `gpt-4o`...).
    pub kind: String,
    /// The buy-and-hold baseline and other benchmarks.
    pub benchmark: bool,
    pub paused: bool,
    /// Why it is paused, if it is.
    pub pause_reason: Option<String>,
    /// Effective trading state (the strictest of agent, arena, kill switch and reduce-only).
    pub state: TradingState,
    /// Operator's reduce-only switch for this agent.
    pub reduce_only: bool,
    /// Set when the agent cannot run (e.g. an LLM without an API key).
    pub unavailable: Option<String>,
    pub equity: Decimal,
    pub cash: Decimal,
    pub unrealized_pnl: Decimal,
    pub realized_pnl: Decimal,
    pub fees: Decimal,
    pub gross_exposure: Decimal,
    pub metrics: Metrics,
    /// Sampled equity (ts, value), oldest → newest, bounded.
    pub equity_curve: Vec<(i64, f64)>,
    pub positions: Vec<PositionSnapshot>,
    pub open_orders: Vec<Order>,
    pub decisions: u64,
    pub last_decision_ms: Option<i64>,
    pub refusals: BTreeMap<RefusalCode, u64>,
    /// This agent's risk gauges (usage vs limit).
    pub gauges: Vec<Gauge>,
    /// Slow-agent (LLM) call statistics.
    pub stats: AgentStats,
    /// Full records of the latest decisions (oldest → newest), shared, not copied.
    pub history: Vec<Arc<DecisionRecord>>,
    /// The latest closed round trips (oldest → newest), for the Orders & trades screen.
    pub recent_trades: Vec<ClosedTrade>,
}

/// The risk picture: limits, usage gauges, breakers and their history.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RiskSnapshot {
    /// Every configured limit, for the Risk screen.
    pub limits: Vec<LimitView>,
    /// Arena-wide usage vs limits.
    pub gauges: Vec<Gauge>,
    /// Circuit breakers, arena-wide and per agent.
    pub breakers: Vec<BreakerView>,
    /// Breaker trips and releases, newest last.
    pub history: Vec<BreakerEvent>,
}

/// One configured limit.
#[derive(Debug, Clone, Serialize)]
pub struct LimitView {
    pub name: String,
    pub value: String,
    pub description: String,
}

/// Usage of one limit: `value` out of `limit`, in `unit`.
#[derive(Debug, Clone, Serialize)]
pub struct Gauge {
    pub name: String,
    pub value: f64,
    pub limit: f64,
    pub unit: String,
}

impl Gauge {
    /// Share of the limit used, 0..=1 (and above when breached).
    pub fn ratio(&self) -> f64 {
        if self.limit > 0.0 { (self.value / self.limit).max(0.0) } else { 0.0 }
    }
}

/// A circuit breaker's current state.
#[derive(Debug, Clone, Serialize)]
pub struct BreakerView {
    pub name: String,
    /// `None` for arena-wide breakers.
    pub agent: Option<AgentId>,
    pub tripped: bool,
    /// What a trip does.
    pub action: TradingState,
    pub value: f64,
    pub threshold: f64,
    pub unit: String,
    pub since_ms: Option<i64>,
    pub detail: String,
}

/// A breaker trip or release.
#[derive(Debug, Clone, Serialize)]
pub struct BreakerEvent {
    pub ts_ms: i64,
    pub name: String,
    pub agent: Option<AgentId>,
    pub tripped: bool,
    pub detail: String,
}

/// One open position with its exit plan.
#[derive(Debug, Clone, Serialize)]
pub struct PositionSnapshot {
    pub agent: AgentId,
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Qty,
    pub entry_price: Price,
    pub mark: Option<Price>,
    pub unrealized_pnl: Decimal,
    pub leverage: Decimal,
    pub liquidation_price: Option<Price>,
    pub plan: Option<ExitPlan>,
    pub opened_ms: i64,
}

/// One row of the market watch.
#[derive(Debug, Clone, Serialize)]
pub struct MarketSnapshot {
    pub symbol: Symbol,
    pub base: String,
    pub last: Option<Price>,
    pub bid: Option<Price>,
    pub ask: Option<Price>,
    pub mark: Option<Price>,
    pub funding_rate: Option<Decimal>,
    pub open_interest: Option<Decimal>,
    /// Change over the last 24 h of market time (or since start), in percent.
    pub change_pct: Option<f64>,
    pub rsi14: Option<f64>,
    /// `up`, `down` or `flat` from the 1h EMA20/EMA50 (None while warming).
    pub trend: Option<&'static str>,
    /// Recent closes (oldest → newest) for a sparkline.
    pub sparkline: Vec<f64>,
    pub last_event_ms: Option<i64>,
    pub rejected_events: u64,
    /// Binance long/short account ratio, when the source has it.
    pub long_short_ratio: Option<Decimal>,
    /// Set while the feed says this symbol's data is stale; the last price is kept.
    pub stale_since_ms: Option<i64>,
}

/// What kind of line the reasoning log shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    Decision,
    Order,
    Fill,
    Refusal,
    Trade,
    Funding,
    Operator,
    System,
}

/// One line of the agents' reasoning log.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub ts_ms: i64,
    pub agent: Option<AgentId>,
    pub kind: LogKind,
    /// Short action (`long BTC 0.05`, `refused`, `hold`...).
    pub action: String,
    pub text: String,
    /// `approved`, `refused: reason`, ...
    pub outcome: Option<String>,
    /// Ledger id of the decision, when this line is one.
    pub decision_id: Option<u64>,
}

/// Engine counters for the health screen and reports.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Counters {
    pub market_events: u64,
    pub rejected_events: u64,
    pub decisions: u64,
    pub orders: u64,
    pub fills: u64,
    pub refusals: u64,
    pub venue_rejections: u64,
    pub liquidations: u64,
    pub funding_payments: u64,
}
