//! Resuming a run: the engine takes back the state the ledger rebuilt (accounts from fills,
//! open orders, exit plans, pause/reduce-only/breaker states, the kill switch, equity history,
//! recent decisions, id sequences) and says so in the log.

use std::sync::Arc;

use super::core::Engine;
use super::guard::{BreakerKind, Trip};
use super::journal::{DecisionRecord, StateChangeRecord};
use super::snapshot::{LogEntry, LogKind};
use super::state::ExitPlan;
use rust_decimal::Decimal;

use crate::domain::{Account, AgentId, ClosedTrade, Order, Symbol};

/// Everything a resumed engine takes back.
#[derive(Debug, Clone, Default)]
pub struct RestoreData {
    pub run_id: i64,
    pub accounts: Vec<Account>,
    /// Closed round trips and total fees per agent (the performance statistics continue).
    pub history: Vec<(AgentId, Vec<ClosedTrade>, Decimal)>,
    pub open_orders: Vec<Order>,
    pub plans: Vec<(AgentId, ExitPlan)>,
    /// Latest state record per agent, and the arena's.
    pub agent_states: Vec<StateChangeRecord>,
    pub arena_state: Option<StateChangeRecord>,
    /// Breakers still tripped: (agent or arena, breaker, since, detail).
    pub trips: Vec<(Option<AgentId>, BreakerKind, i64, String)>,
    /// Equity samples per agent, oldest first.
    pub equity: Vec<(AgentId, Vec<(i64, f64)>)>,
    /// Recent decisions, oldest first.
    pub decisions: Vec<DecisionRecord>,
    pub next_order_id: u64,
    pub next_decision_id: u64,
    /// Market time the run had reached.
    pub last_ts_ms: i64,
}

/// What [`Engine::restore`] could not take back (agents no longer configured, …).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestoreReport {
    pub agents_restored: usize,
    pub positions: usize,
    pub open_orders: usize,
    pub ignored: Vec<String>,
}

impl Engine {
    /// Takes back a resumed run's state. Call before any event is processed.
    pub fn restore(&mut self, data: &RestoreData) -> RestoreReport {
        let mut report = RestoreReport::default();
        self.run_id = Some(data.run_id);
        self.resumed = true;
        self.next_order_id = self.next_order_id.max(data.next_order_id);
        self.next_decision_id = self.next_decision_id.max(data.next_decision_id);
        let markets = &self.markets;
        let index = |s: Symbol| markets.iter().position(|m| m.symbol() == s);
        for account in &data.accounts {
            match self.agents.iter_mut().find(|a| a.id == account.agent) {
                Some(slot) => {
                    slot.account = account.clone();
                    slot.risk.shadow.refresh(&slot.account, index);
                    report.agents_restored += 1;
                    report.positions += account.positions.len();
                }
                None => report.ignored.push(format!("account of {} (no longer configured)", account.agent)),
            }
        }
        for order in &data.open_orders {
            match self.agents.iter_mut().find(|a| a.id == order.request.agent) {
                Some(slot) => {
                    slot.open_orders.push(order.clone());
                    report.open_orders += 1;
                }
                None => report.ignored.push(format!("order #{} of {}", order.request.id, order.request.agent)),
            }
        }
        for (agent, plan) in &data.plans {
            if let Some(slot) = self.agents.iter_mut().find(|a| a.id == *agent)
                && !slot.account.qty(plan.symbol).is_zero()
            {
                slot.plans.retain(|p| p.symbol != plan.symbol);
                slot.plans.push(plan.clone());
            }
        }
        for st in &data.agent_states {
            if let Some(slot) = self.agents.iter_mut().find(|a| Some(a.id) == st.agent) {
                slot.paused = st.paused;
                slot.pause_reason = st.pause_reason.clone();
                slot.reduce_only = st.reduce_only;
            }
        }
        if let Some(st) = &data.arena_state {
            self.global_reduce_only = st.reduce_only;
            self.kill_switch_ms = st.kill_switch_ms;
        }
        for (agent, kind, since, detail) in &data.trips {
            let trip = Trip { kind: *kind, since_ms: *since, detail: format!("{detail} (before the restart)") };
            match agent {
                Some(id) => {
                    if let Some(slot) = self.agents.iter_mut().find(|a| a.id == *id)
                        && !slot.risk.guard.tripped(*kind)
                    {
                        slot.risk.guard.trips.push(trip);
                    }
                }
                None => {
                    if !self.arena_guard.tripped(*kind) {
                        self.arena_guard.trips.push(trip);
                    }
                }
            }
        }
        for (agent, trades, fees) in &data.history {
            let Some(slot) = self.agents.iter_mut().find(|a| a.id == *agent) else { continue };
            for trade in trades {
                slot.tracker.on_trade(trade);
            }
            slot.tracker.on_fee(crate::analytics::decimal_to_f64(*fees));
        }
        for (agent, points) in &data.equity {
            let Some(slot) = self.agents.iter_mut().find(|a| a.id == *agent) else { continue };
            for &(ts, eq) in points {
                slot.tracker.on_equity(ts, eq, !slot.account.is_flat());
                slot.curve.push(ts, eq);
                slot.risk.guard.equity = eq;
                slot.risk.guard.on_sample(ts, eq);
            }
        }
        let arena: f64 = self.agents.iter().filter(|s| !s.benchmark).map(|s| s.risk.guard.equity).sum();
        self.arena_guard.equity = arena;
        self.arena_guard.on_sample(data.last_ts_ms, arena);
        for d in &data.decisions {
            if let Some(slot) = self.agents.iter_mut().find(|a| a.id == d.agent) {
                slot.decisions += 1;
                slot.last_decision_ms = Some(d.ts_ms);
                slot.history.push(Arc::new(d.clone()));
                slot.recent_decisions.push((d.ts_ms, d.decision.reasoning.lines().next().unwrap_or("").to_owned()));
            }
        }
        self.refresh_states();
        let text = format!(
            "resumed run {}: {} accounts, {} open positions, {} resting orders{}",
            data.run_id,
            report.agents_restored,
            report.positions,
            report.open_orders,
            if report.ignored.is_empty() { String::new() } else { format!("; ignored {}", report.ignored.join(", ")) }
        );
        tracing::info!("{text}");
        self.log.push(LogEntry {
            ts_ms: data.last_ts_ms,
            agent: None,
            kind: LogKind::System,
            action: "resumed".into(),
            text,
            outcome: None,
            decision_id: None,
        });
        report
    }
}
