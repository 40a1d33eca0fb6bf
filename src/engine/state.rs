//! The engine's private state: agent slots, exit plans and bounded rings.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::agents::RuleAgent;
use crate::analytics::PerformanceTracker;
use crate::domain::{Account, AgentId, ClosedTrade, Order, OrderId, Price, Symbol};
use crate::engine::guard::AgentRisk;
use crate::engine::journal::DecisionRecord;
use crate::risk::{RefusalCode, RiskLimits, TradingState};

/// A bounded FIFO: pushing past the capacity drops the oldest item.
#[derive(Debug, Clone)]
pub struct Ring<T> {
    items: VecDeque<T>,
    cap: usize,
}

impl<T> Ring<T> {
    pub fn new(cap: usize) -> Self {
        Self { items: VecDeque::with_capacity(cap.min(4096)), cap: cap.max(1) }
    }

    pub fn push(&mut self, item: T) {
        if self.items.len() == self.cap {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    /// Oldest → newest.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// An equity curve over the whole run in bounded memory: when full, every other point is
/// dropped and the sampling stride doubles, so the shape of the entire history is kept.
#[derive(Debug, Clone)]
pub struct EquityCurve {
    points: Vec<(i64, f64)>,
    cap: usize,
    stride: u64,
    seen: u64,
}

impl EquityCurve {
    pub fn new(cap: usize) -> Self {
        Self { points: Vec::with_capacity(cap.max(4)), cap: cap.max(4), stride: 1, seen: 0 }
    }

    pub fn push(&mut self, ts_ms: i64, equity: f64) {
        let keep = self.seen.is_multiple_of(self.stride);
        self.seen += 1;
        if !keep {
            return;
        }
        if self.points.len() == self.cap {
            let mut i = 0;
            self.points.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.stride *= 2;
            if !(self.seen - 1).is_multiple_of(self.stride) {
                return;
            }
        }
        self.points.push((ts_ms, equity));
    }

    pub fn points(&self) -> &[(i64, f64)] {
        &self.points
    }
}

/// The exit plan of an open position: what the engine enforces and shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExitPlan {
    pub symbol: Symbol,
    pub stop_loss: Option<Price>,
    pub profit_target: Option<Price>,
    pub invalidation: Option<String>,
    /// The invalidation condition read as a price level, when it could be (enforced by the
    /// engine; otherwise the text is only shown to the agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalidation_level: Option<crate::agents::invalidation::InvalidationLevel>,
    /// The reasoning the position was opened with.
    pub rationale: String,
    pub confidence: f64,
    pub stop_order: Option<OrderId>,
    pub target_order: Option<OrderId>,
    pub decision_id: Option<u64>,
    pub opened_ms: i64,
}

/// An entry order waiting for its fill, with the plan to attach.
#[derive(Debug, Clone)]
pub struct PendingEntry {
    pub order: OrderId,
    pub plan: ExitPlan,
}

/// How an agent is driven.
pub enum AgentDriver {
    /// Inline, deterministic strategy.
    Rule(Box<dyn RuleAgent>),
    /// Slow agent behind a request/reply channel, asked every `cadence_ms` of engine time.
    Remote { kind: String, cadence_ms: i64, next_due_ms: Option<i64>, in_flight: Option<u64> },
    /// Configured but cannot run; shown with the reason.
    Unavailable { kind: String, reason: String },
}

impl AgentDriver {
    pub fn kind(&self) -> String {
        match self {
            AgentDriver::Rule(r) => r.kind().to_owned(),
            AgentDriver::Remote { kind, .. } | AgentDriver::Unavailable { kind, .. } => kind.clone(),
        }
    }
}

/// Call statistics of a slow agent (LLM): what it costs and how reliable it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AgentStats {
    /// Replies received.
    pub calls: u64,
    /// Replies that carried no valid decision (timeouts, HTTP errors, invalid output).
    pub failures: u64,
    pub last_latency_ms: u64,
    pub total_latency_ms: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    pub last_error: Option<String>,
}

impl AgentStats {
    pub fn avg_latency_ms(&self) -> Option<u64> {
        (self.calls > 0).then(|| self.total_latency_ms / self.calls)
    }
}

/// Everything the engine keeps about one agent.
pub struct AgentSlot {
    pub id: AgentId,
    pub driver: AgentDriver,
    pub benchmark: bool,
    pub symbols: Vec<Symbol>,
    /// The engine's ledger of the agent's account (fills applied once durable).
    pub account: Account,
    pub tracker: PerformanceTracker,
    pub curve: EquityCurve,
    pub paused: bool,
    /// Why the agent is paused (operator, repeated failures...).
    pub pause_reason: Option<String>,
    /// Failed replies in a row (slow agents); reset by a good reply or a resume.
    pub consecutive_failures: u32,
    pub stats: AgentStats,
    /// Full records of the latest decisions, shared with snapshots without copying.
    pub history: Ring<Arc<DecisionRecord>>,
    /// Operator's reduce-only switch for this agent.
    pub reduce_only: bool,
    /// State set by this agent's circuit breakers.
    pub state: TradingState,
    /// This agent's effective risk limits.
    pub limits: RiskLimits,
    /// Breakers and the facts the gate needs.
    pub risk: AgentRisk,
    /// Orders the venue accepted and that are not terminal yet.
    pub open_orders: Vec<Order>,
    pub plans: Vec<ExitPlan>,
    pub pending_entries: Vec<PendingEntry>,
    pub refusals: BTreeMap<RefusalCode, u64>,
    pub decisions: u64,
    pub invocations: u64,
    pub started_ms: Option<i64>,
    pub last_decision_ms: Option<i64>,
    pub recent_decisions: Ring<(i64, String)>,
    pub recent_trades: Ring<ClosedTrade>,
}

impl AgentSlot {
    pub fn new(
        id: AgentId,
        driver: AgentDriver,
        benchmark: bool,
        symbols: Vec<Symbol>,
        balance: Decimal,
        sample_ms: i64,
        limits: RiskLimits,
    ) -> Self {
        let start = crate::analytics::decimal_to_f64(balance);
        Self {
            id,
            driver,
            benchmark,
            symbols,
            account: Account::new(id, balance),
            tracker: PerformanceTracker::new(start, sample_ms),
            curve: EquityCurve::new(1024),
            paused: false,
            pause_reason: None,
            consecutive_failures: 0,
            stats: AgentStats::default(),
            history: Ring::new(50),
            reduce_only: false,
            state: TradingState::Active,
            limits,
            risk: AgentRisk::new(balance),
            open_orders: Vec::new(),
            plans: Vec::new(),
            pending_entries: Vec::new(),
            refusals: BTreeMap::new(),
            decisions: 0,
            invocations: 0,
            started_ms: None,
            last_decision_ms: None,
            recent_decisions: Ring::new(10),
            recent_trades: Ring::new(10),
        }
    }

    pub fn plan(&self, symbol: Symbol) -> Option<&ExitPlan> {
        self.plans.iter().find(|p| p.symbol == symbol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest() {
        let mut r = Ring::new(3);
        for i in 0..5 {
            r.push(i);
        }
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), vec![2, 3, 4]);
    }

    #[test]
    fn equity_curve_is_bounded_and_spans_history() {
        let mut c = EquityCurve::new(8);
        for i in 0..1000 {
            c.push(i, i as f64);
        }
        let p = c.points();
        assert!(p.len() <= 8);
        assert_eq!(p[0].0, 0);
        assert!(p[p.len() - 1].0 >= 1000 - 256, "last point {:?}", p[p.len() - 1]);
        assert!(p.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
