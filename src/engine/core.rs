//! The synchronous engine core: `process(event) -> outputs`.
//!
//! The engine is the only writer of trading state. It never performs I/O and never reads the
//! system clock: time comes from the injected [`Clock`], venue reports arrive as events, and
//! everything it wants done (orders, cancels, ledger records, agent requests) is returned in
//! [`Outputs`]. Iteration orders are fixed (vectors, `BTreeMap`), so the same events in the same
//! order produce byte-identical results.

use std::sync::Arc;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::event::{AgentReply, Command, EngineEvent, FeedState, FeedStatus, Outputs, ReplyMeta};
use super::guard::{BreakerKind, EquityGuard};
use super::journal::{
    CommandRecord, DecisionRecord, EquityRecord, JournalRecord, PlanRecord, ProposalOutcome, RefusalRecord,
    StateChangeRecord,
};
use super::request::{AccountBrief, AgentRequest, DecisionBrief, MarketBrief};
use super::snapshot::BreakerEvent;
use super::snapshot::{
    AgentSnapshot, Counters, Gauge, LimitView, LogEntry, LogKind, MarketSnapshot, PositionSnapshot, RiskSnapshot,
    Snapshot, SourceSnapshot,
};
use super::state::{AgentDriver, AgentSlot, ExitPlan, PendingEntry, Ring};
use crate::agents::{AgentContext, Decision, MarketView, Proposal, Signal};
use crate::analytics::{Metrics, decimal_to_f64};
use crate::clock::Clock;
use crate::domain::{
    AgentId, Candle, Fill, Instrument, MarketData, MarketEvent, OrderId, OrderKind, OrderPurpose, OrderRequest,
    OrderStatus, Side, Symbol, Timeframe,
};
use crate::execution::ExecEvent;
use crate::market::candles::{CandleInput, Closed};
use crate::risk::{RefusalCode, RiskGate, RiskLimits, RiskRefused, RiskView, TradingState};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Equity sampling interval (market time).
    pub equity_sample_ms: i64,
    /// Closed candles kept per symbol and timeframe.
    pub candle_history: usize,
    /// Lines kept in the reasoning log ring.
    pub log_capacity: usize,
    /// How candles are built from the source's events.
    pub candle_input: CandleInput,
    /// Consecutive failed replies after which a slow agent is paused (0 = never).
    pub pause_after_failures: u32,
    /// `PAPER` or `LIVE`, for display.
    pub mode: String,
    /// Source name for display.
    pub source: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            equity_sample_ms: 60_000,
            candle_history: 500,
            log_capacity: 500,
            candle_input: CandleInput::Bars,
            pause_after_failures: 5,
            mode: "PAPER".into(),
            source: "sim".into(),
        }
    }
}

/// One agent to put in the arena.
pub struct AgentSpec {
    pub id: AgentId,
    pub driver: AgentDriver,
    /// Benchmarks (buy-and-hold) are shown apart and excluded from arena totals.
    pub benchmark: bool,
    pub symbols: Vec<Symbol>,
    pub balance: Decimal,
    /// The agent's own risk limits (`None`: the gate's defaults).
    pub limits: Option<RiskLimits>,
}

/// Per-agent results for reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AgentReport {
    pub agent: AgentId,
    pub kind: String,
    pub benchmark: bool,
    pub metrics: Metrics,
    pub refusals: std::collections::BTreeMap<RefusalCode, u64>,
    /// Circuit-breaker trips by breaker.
    pub breaker_trips: std::collections::BTreeMap<BreakerKind, u64>,
    pub decisions: u64,
}

/// The engine.
pub struct Engine {
    pub(super) config: EngineConfig,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) markets: Vec<MarketView>,
    pub(super) agents: Vec<AgentSlot>,
    pub(super) gate: RiskGate,
    /// Arena-wide state set by circuit breakers.
    pub(super) global_state: TradingState,
    pub(super) global_reason: Option<String>,
    /// Operator's arena-wide reduce-only switch.
    pub(super) global_reduce_only: bool,
    /// When the kill switch was engaged; it stays latched until released by the operator.
    pub(super) kill_switch_ms: Option<i64>,
    pub(super) source: SourceSnapshot,
    /// While warming up, candles and indicators update but agents are not asked.
    pub(super) warming: bool,
    pub(super) next_order_id: u64,
    pub(super) next_decision_id: u64,
    pub(super) next_request_id: u64,
    pub(super) next_sample_ms: Option<i64>,
    pub(super) log: Ring<LogEntry>,
    pub(super) counters: Counters,
    pub(super) snapshot_version: u64,
    pub(super) resumed: bool,
    pub(super) run_id: Option<i64>,
    /// Arena-wide breakers (equity of non-benchmark agents).
    pub(super) arena_guard: EquityGuard,
    /// Mark (or last) price of each market as `f64`, for the per-event breaker screen.
    pub(super) marks_f: Vec<f64>,
    pub(super) breaker_history: Ring<BreakerEvent>,
    /// Adaptive sizing and capital re-weighting (`allocation.rs`); off unless configured.
    pub(super) adaptation: super::allocation::Adaptation,
}

impl Engine {
    pub fn new(
        config: EngineConfig,
        instruments: Vec<Instrument>,
        agents: Vec<AgentSpec>,
        gate: RiskGate,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let markets: Vec<MarketView> =
            instruments.into_iter().map(|i| MarketView::new(i, config.candle_history)).collect();
        let sample = config.equity_sample_ms;
        let arena_start: Decimal = agents.iter().filter(|s| !s.benchmark).map(|s| s.balance).sum();
        let agents = agents
            .into_iter()
            .map(|s| {
                let limits = s.limits.unwrap_or_else(|| gate.limits().clone());
                AgentSlot::new(s.id, s.driver, s.benchmark, s.symbols, s.balance, sample, limits)
            })
            .collect();
        let source =
            SourceSnapshot { name: config.source.clone(), state: FeedState::Connecting, ..SourceSnapshot::default() };
        Self {
            log: Ring::new(config.log_capacity),
            config,
            clock,
            agents,
            gate,
            global_state: TradingState::Active,
            global_reason: None,
            global_reduce_only: false,
            kill_switch_ms: None,
            source,
            warming: false,
            next_order_id: 1,
            next_decision_id: 1,
            next_request_id: 1,
            next_sample_ms: None,
            counters: Counters::default(),
            snapshot_version: 0,
            resumed: false,
            run_id: None,
            arena_guard: EquityGuard::new(decimal_to_f64(arena_start)),
            marks_f: vec![0.0; markets.len()],
            breaker_history: Ring::new(200),
            adaptation: Default::default(),
            markets,
        }
    }

    /// While `true`, market data builds candles and indicators but no agent is asked to decide
    /// and no equity is sampled (history before the run starts).
    pub fn set_warming(&mut self, warming: bool) {
        self.warming = warming;
    }

    /// Switches how candles are built (e.g. from warm-up bars to live trades).
    pub fn set_candle_input(&mut self, input: CandleInput) {
        self.config.candle_input = input;
    }

    pub fn set_run_id(&mut self, run_id: i64) {
        self.run_id = Some(run_id);
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn markets(&self) -> &[MarketView] {
        &self.markets
    }

    /// The engine's ledger of an agent's account.
    pub fn account(&self, agent: AgentId) -> Option<&crate::domain::Account> {
        self.agents.iter().find(|a| a.id == agent).map(|a| &a.account)
    }

    pub fn agent_ids(&self) -> Vec<AgentId> {
        self.agents.iter().map(|a| a.id).collect()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Order ids continue from here (used when a run resumes).
    pub fn set_next_order_id(&mut self, next: u64) {
        self.next_order_id = self.next_order_id.max(next);
    }

    /// Handles one event. Outputs are appended to `out`.
    pub fn process(&mut self, event: EngineEvent, out: &mut Outputs) {
        let now = self.clock.now_ms();
        self.sample_if_due(now, out);
        match event {
            EngineEvent::Market(ev) => self.on_market(ev, now, out),
            EngineEvent::Exec(ev) => self.on_exec(ev, now, out),
            EngineEvent::Command(cmd) => self.on_command(cmd, now, out),
            EngineEvent::AgentReply(reply) => self.on_reply(reply, now, out),
            EngineEvent::Feed(status) => self.on_feed(status, now),
            EngineEvent::Tick => self.on_tick(now, out),
            EngineEvent::LedgerFailed(detail) => self.persistence_failed(&detail, now, out),
        }
    }

    /// Takes a final equity sample (end of a backtest).
    pub fn finish(&mut self, out: &mut Outputs) {
        let now = self.clock.now_ms();
        self.sample_all(now, out);
        self.next_sample_ms = Some(now + self.config.equity_sample_ms);
    }

    // ---------------------------------------------------------------- time

    fn sample_if_due(&mut self, now: i64, out: &mut Outputs) {
        if self.warming {
            return;
        }
        let period = self.config.equity_sample_ms;
        match self.next_sample_ms {
            None => {
                // The first sample is the starting point of every curve.
                self.sample_all(now, out);
                self.next_sample_ms = Some(Timeframe::M1.bucket_start(now).saturating_add(period));
            }
            Some(next) if now > next => {
                self.sample_all(next, out);
                let after = next + period;
                let latest = now - now.rem_euclid(period);
                self.next_sample_ms = Some(if after < latest { latest } else { after });
            }
            Some(_) => {}
        }
    }

    fn sample_all(&mut self, ts: i64, out: &mut Outputs) {
        let markets = &self.markets;
        let marks = |s: Symbol| markets.iter().find(|m| m.symbol() == s).and_then(MarketView::mark_or_last);
        for slot in &mut self.agents {
            // Equity is cash plus unrealised P&L: one pass over the positions, not two.
            let upnl = slot.account.unrealized_pnl(&marks);
            let equity = slot.account.cash + upnl;
            let eq = decimal_to_f64(equity);
            slot.risk.guard.equity = eq;
            slot.risk.guard.on_sample(ts, eq);
            slot.tracker.on_equity(ts, eq, !slot.account.is_flat());
            slot.curve.push(ts, eq);
            out.journal.push(JournalRecord::Equity(EquityRecord {
                agent: slot.id,
                ts_ms: ts,
                equity,
                cash: slot.account.cash,
                unrealized_pnl: upnl,
            }));
        }
        let arena: f64 = self.agents.iter().filter(|s| !s.benchmark).map(|s| s.risk.guard.equity).sum();
        self.arena_guard.equity = arena;
        self.arena_guard.on_sample(ts, arena);
        self.after_sample(ts, out);
    }

    fn on_tick(&mut self, now: i64, out: &mut Outputs) {
        if self.config.candle_input == CandleInput::Trades {
            for i in 0..self.markets.len() {
                let closed = self.markets[i].series.on_time(now);
                if !closed.is_empty() {
                    self.run_rule_agents(i, closed, now, out);
                }
            }
        }
        if self.warming {
            return;
        }
        self.risk_tick(now, out);
        for a in 0..self.agents.len() {
            let due = match &self.agents[a].driver {
                AgentDriver::Remote { next_due_ms, in_flight, .. } => {
                    in_flight.is_none() && next_due_ms.is_none_or(|d| now >= d)
                }
                _ => false,
            };
            if due && !self.agents[a].paused && self.agent_markets_warm(a) && !self.agent_sees_stale_data(a) {
                self.request_decision(a, now, out);
            }
        }
    }

    fn agent_markets_warm(&self, a: usize) -> bool {
        self.agents[a].symbols.iter().all(|s| {
            self.markets
                .iter()
                .find(|m| m.symbol() == *s)
                .is_some_and(|m| m.last.is_some() && m.series.values(Timeframe::M5).ema50.is_some())
        })
    }

    // ---------------------------------------------------------------- market data

    fn on_market(&mut self, ev: MarketEvent, now: i64, out: &mut Outputs) {
        let Some(i) = self.markets.iter().position(|m| m.symbol() == ev.symbol) else {
            self.counters.rejected_events += 1;
            return;
        };
        let input = self.config.candle_input;
        let m = &mut self.markets[i];
        let ts = ev.ts_ms;
        let mut closed = Closed::default();
        let ok = match ev.data {
            MarketData::Trade { price, qty, .. } => {
                if price <= Decimal::ZERO || qty < Decimal::ZERO {
                    false
                } else if input == CandleInput::Trades {
                    match m.series.on_trade(ts, decimal_to_f64(price), decimal_to_f64(qty)) {
                        Ok(c) => {
                            closed = c;
                            m.last = Some(price);
                            true
                        }
                        Err(_) => false,
                    }
                } else {
                    m.last = Some(price);
                    true
                }
            }
            MarketData::Quote { bid, ask, .. } => {
                if bid <= Decimal::ZERO || ask < bid {
                    false
                } else {
                    m.bid = Some(bid);
                    m.ask = Some(ask);
                    true
                }
            }
            MarketData::Bar(bar) => {
                let valid = bar.low > Decimal::ZERO
                    && bar.low <= bar.high
                    && (bar.low..=bar.high).contains(&bar.open)
                    && (bar.low..=bar.high).contains(&bar.close)
                    && bar.volume >= Decimal::ZERO;
                if !valid {
                    false
                } else if input == CandleInput::Bars {
                    let candle = Candle {
                        open_ms: bar.open_ms,
                        open: decimal_to_f64(bar.open),
                        high: decimal_to_f64(bar.high),
                        low: decimal_to_f64(bar.low),
                        close: decimal_to_f64(bar.close),
                        volume: decimal_to_f64(bar.volume),
                        closed: true,
                    };
                    match m.series.on_bar(&candle) {
                        Ok(c) => {
                            closed = c;
                            m.last = Some(bar.close);
                            true
                        }
                        Err(_) => false,
                    }
                } else {
                    m.last = Some(bar.close);
                    true
                }
            }
            MarketData::Mark { mark, funding_rate, next_funding_ms } => {
                if mark <= Decimal::ZERO {
                    false
                } else {
                    m.mark = Some(mark);
                    if funding_rate.is_some() {
                        m.funding_rate = funding_rate;
                    }
                    if next_funding_ms.is_some() {
                        m.next_funding_ms = next_funding_ms;
                    }
                    true
                }
            }
            MarketData::OpenInterest { qty } => {
                if qty < Decimal::ZERO {
                    false
                } else {
                    m.open_interest = Some(qty);
                    true
                }
            }
            MarketData::LongShortRatio { ratio } => {
                if ratio <= Decimal::ZERO {
                    false
                } else {
                    m.long_short_ratio = Some(ratio);
                    true
                }
            }
        };
        if !ok {
            self.counters.rejected_events += 1;
            return;
        }
        m.last_event_ms = Some(m.last_event_ms.map_or(ts, |t| t.max(ts)));
        if closed.contains(Timeframe::M1)
            && let Some(c) = m.series.last_closed(Timeframe::M1)
        {
            m.vol.update(c.close);
        }
        self.counters.market_events += 1;
        if !self.warming {
            // Breakers and protection first: a trip on this event blocks decisions made on it.
            self.after_market_risk(i, now, out);
            self.check_invalidations(i, closed, now, out);
        }
        if !closed.is_empty() {
            self.run_rule_agents(i, closed, now, out);
        }
    }

    fn run_rule_agents(&mut self, market: usize, closed: Closed, now: i64, out: &mut Outputs) {
        if self.warming {
            return;
        }
        let symbol = self.markets[market].symbol();
        if self.markets[market].stale_since_ms.is_some() {
            return;
        }
        for a in 0..self.agents.len() {
            let slot = &mut self.agents[a];
            if slot.paused || !slot.symbols.contains(&symbol) {
                continue;
            }
            let AgentDriver::Rule(rule) = &mut slot.driver else { continue };
            let tf = rule.timeframe();
            if !closed.contains(tf) {
                continue;
            }
            slot.started_ms.get_or_insert(now);
            let ctx = AgentContext {
                now_ms: now,
                symbol,
                timeframe: tf,
                markets: &self.markets,
                account: &slot.account,
                symbols: &slot.symbols,
            };
            slot.invocations += 1;
            if let Some(mut decision) = rule.decide(&ctx) {
                self.adapt_decision(a, market, tf, &mut decision);
                self.handle_decision(a, decision, "rule", ReplyMeta::default(), None, now, out);
            }
        }
    }

    fn on_feed(&mut self, status: FeedStatus, now: i64) {
        let changed = self.source.state != status.state;
        for m in &mut self.markets {
            let stale = status.stale.contains(&m.symbol());
            match (stale, m.stale_since_ms) {
                (true, None) => {
                    m.stale_since_ms = Some(now);
                    self.log.push(LogEntry {
                        ts_ms: now,
                        agent: None,
                        kind: LogKind::System,
                        action: format!("{} STALE", m.symbol()),
                        text: format!(
                            "{} data is stale: agents trading it get no new decisions (exits stay managed)",
                            m.symbol()
                        ),
                        outcome: None,
                        decision_id: None,
                    });
                }
                (false, Some(_)) => {
                    m.stale_since_ms = None;
                    self.log.push(LogEntry {
                        ts_ms: now,
                        agent: None,
                        kind: LogKind::System,
                        action: format!("{} fresh", m.symbol()),
                        text: format!("{} data is flowing again", m.symbol()),
                        outcome: None,
                        decision_id: None,
                    });
                }
                _ => {}
            }
        }
        self.source = SourceSnapshot {
            name: status.source.clone(),
            state: status.state,
            detail: status.detail.clone(),
            stats: status.stats,
        };
        if changed {
            self.log.push(LogEntry {
                ts_ms: now,
                agent: None,
                kind: LogKind::System,
                action: format!("feed {}", status.state.as_str()),
                text: if status.detail.is_empty() {
                    status.source
                } else {
                    format!("{}: {}", status.source, status.detail)
                },
                outcome: None,
                decision_id: None,
            });
        }
    }

    /// True when any market the agent trades is stale.
    fn agent_sees_stale_data(&self, a: usize) -> bool {
        self.agents[a]
            .symbols
            .iter()
            .any(|s| self.markets.iter().any(|m| m.symbol() == *s && m.stale_since_ms.is_some()))
    }

    // ---------------------------------------------------------------- decisions

    fn request_decision(&mut self, a: usize, now: i64, out: &mut Outputs) {
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        let request = self.build_request(a, request_id, now);
        let slot = &mut self.agents[a];
        slot.invocations += 1;
        slot.started_ms.get_or_insert(now);
        if let AgentDriver::Remote { cadence_ms, next_due_ms, in_flight, .. } = &mut slot.driver {
            *in_flight = Some(request_id);
            *next_due_ms = Some(now + *cadence_ms);
        }
        out.agent_requests.push(request);
    }

    /// Copies out what a slow agent needs to decide.
    pub fn build_request(&self, a: usize, request_id: u64, now: i64) -> AgentRequest {
        let slot = &self.agents[a];
        let marks = |s: Symbol| self.markets.iter().find(|m| m.symbol() == s).and_then(MarketView::mark_or_last);
        let markets = self
            .markets
            .iter()
            .filter(|m| slot.symbols.contains(&m.symbol()))
            .map(|m| {
                let intraday_tf = Timeframe::M5;
                let long_tf = Timeframe::H4;
                let tail = |tf: Timeframe, n: usize| {
                    let h = m.series.value_history(tf);
                    let skip = h.len().saturating_sub(n);
                    m.series.value_history(tf).skip(skip).copied().collect::<Vec<_>>()
                };
                let candles = {
                    let h = m.series.history(intraday_tf);
                    let skip = h.len().saturating_sub(10);
                    m.series.history(intraday_tf).skip(skip).copied().collect()
                };
                MarketBrief {
                    instrument: m.instrument.clone(),
                    last: m.last,
                    mark: m.mark,
                    funding_rate: m.funding_rate,
                    open_interest: m.open_interest,
                    long_short_ratio: m.long_short_ratio,
                    values: Timeframe::ALL.iter().map(|tf| (*tf, m.series.values(*tf))).collect(),
                    intraday_timeframe: intraday_tf,
                    intraday: tail(intraday_tf, 10),
                    long_timeframe: long_tf,
                    long_term: tail(long_tf, 10),
                    candles,
                }
            })
            .collect();
        let equity = slot.account.equity(&marks);
        let metrics = slot.tracker.metrics();
        let start = slot.account.starting_balance;
        AgentRequest {
            agent: slot.id,
            request_id,
            now_ms: now,
            started_ms: slot.started_ms.unwrap_or(now),
            invocation: slot.invocations + 1,
            markets,
            account: AccountBrief {
                account: slot.account.clone(),
                equity,
                available: slot.account.available(&marks),
                unrealized_pnl: slot.account.unrealized_pnl(&marks),
                return_pct: if start > Decimal::ZERO {
                    decimal_to_f64((equity / start - Decimal::ONE) * Decimal::ONE_HUNDRED)
                } else {
                    0.0
                },
                sharpe: metrics.sharpe,
            },
            plans: slot.plans.clone(),
            recent_decisions: slot
                .recent_decisions
                .iter()
                .map(|(ts, s)| DecisionBrief { ts_ms: *ts, summary: s.clone() })
                .collect(),
            recent_trades: slot.recent_trades.iter().cloned().collect(),
        }
    }

    fn on_reply(&mut self, reply: AgentReply, now: i64, out: &mut Outputs) {
        let Some(a) = self.agent_index(reply.agent) else { return };
        if let AgentDriver::Remote { in_flight, .. } = &mut self.agents[a].driver
            && *in_flight == Some(reply.request_id)
        {
            *in_flight = None;
        }
        let slot = &mut self.agents[a];
        let stats = &mut slot.stats;
        stats.calls += 1;
        stats.last_latency_ms = reply.meta.latency_ms;
        stats.total_latency_ms += reply.meta.latency_ms;
        stats.input_tokens += reply.meta.input_tokens;
        stats.output_tokens += reply.meta.output_tokens;
        stats.cost_usd += reply.meta.cost_usd;
        match &reply.decision {
            Ok(_) => slot.consecutive_failures = 0,
            Err(e) => {
                stats.failures += 1;
                stats.last_error = Some(e.clone());
                slot.consecutive_failures += 1;
            }
        }
        let limit = self.config.pause_after_failures;
        if limit > 0 && self.agents[a].consecutive_failures >= limit && !self.agents[a].paused {
            let why = format!(
                "paused after {limit} failed replies in a row (last: {})",
                self.agents[a].stats.last_error.as_deref().unwrap_or("unknown")
            );
            self.set_paused(a, true, &why, now, out);
            self.log.push(LogEntry {
                ts_ms: now,
                agent: Some(self.agents[a].id),
                kind: LogKind::System,
                action: "agent paused".into(),
                text: why,
                outcome: None,
                decision_id: None,
            });
        }
        if self.agents[a].paused {
            let decision = reply.decision.clone().unwrap_or_default();
            let error = match reply.decision {
                Err(e) => Some(e),
                Ok(_) => Some("reply arrived while the agent was paused: not acted on".to_owned()),
            };
            self.handle_decision_inner(
                a,
                Decision { proposals: Vec::new(), ..decision },
                "llm",
                reply.meta,
                error,
                now,
                out,
                false,
            );
            return;
        }
        match reply.decision {
            Ok(d) => self.handle_decision(a, d, "llm", reply.meta, None, now, out),
            Err(e) => self.handle_decision(a, Decision::default(), "llm", reply.meta, Some(e), now, out),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_decision(
        &mut self,
        a: usize,
        decision: Decision,
        source: &str,
        meta: ReplyMeta,
        error: Option<String>,
        now: i64,
        out: &mut Outputs,
    ) {
        self.handle_decision_inner(a, decision, source, meta, error, now, out, true);
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_decision_inner(
        &mut self,
        a: usize,
        decision: Decision,
        source: &str,
        meta: ReplyMeta,
        error: Option<String>,
        now: i64,
        out: &mut Outputs,
        act: bool,
    ) {
        let id = self.next_decision_id;
        self.next_decision_id += 1;
        self.counters.decisions += 1;
        let mut outcomes = Vec::with_capacity(decision.proposals.len());
        if act {
            for p in &decision.proposals {
                let outcome = self.apply_proposal(a, id, p, now, out);
                outcomes.push(outcome);
            }
        }
        let agent = self.agents[a].id;
        let action = summarize(&decision, error.as_deref());
        let outcome_text = if let Some(e) = &error {
            Some(e.clone())
        } else if outcomes.is_empty() {
            None
        } else {
            Some(outcomes.iter().map(ProposalOutcome::label).collect::<Vec<_>>().join("; "))
        };
        let slot = &mut self.agents[a];
        slot.decisions += 1;
        slot.last_decision_ms = Some(now);
        slot.recent_decisions.push((now, format!("{action}: {}", first_line(&decision.reasoning))));
        self.log.push(LogEntry {
            ts_ms: now,
            agent: Some(agent),
            kind: LogKind::Decision,
            action,
            text: first_line(&decision.reasoning).to_owned(),
            outcome: outcome_text,
            decision_id: Some(id),
        });
        let record = DecisionRecord {
            id,
            agent,
            ts_ms: now,
            source: source.to_owned(),
            decision,
            outcomes,
            error,
            latency_ms: meta.latency_ms,
            prompt: meta.prompt,
            raw_response: meta.raw_response,
            input_tokens: meta.input_tokens,
            output_tokens: meta.output_tokens,
            cost_usd: meta.cost_usd,
            adjustment: self.adaptation.pending.take(),
        };
        self.agents[a].history.push(Arc::new(record.clone()));
        out.journal.push(JournalRecord::Decision(record));
    }

    fn apply_proposal(
        &mut self,
        a: usize,
        decision_id: u64,
        p: &Proposal,
        now: i64,
        out: &mut Outputs,
    ) -> ProposalOutcome {
        let invalid = |reason: String| ProposalOutcome::Invalid { reason };
        let slot = &self.agents[a];
        if p.signal == Signal::Hold {
            return ProposalOutcome::Hold;
        }
        if !slot.symbols.contains(&p.symbol) {
            return invalid(format!("{} is not one of this agent's symbols", p.symbol));
        }
        let Some(mi) = self.markets.iter().position(|m| m.symbol() == p.symbol) else {
            return invalid(format!("{} is not a configured market", p.symbol));
        };
        let held = slot.account.qty(p.symbol);
        match p.signal {
            Signal::Hold => ProposalOutcome::Hold,
            Signal::ClosePosition => {
                if held.is_zero() {
                    return invalid(format!("no open {} position to close", p.symbol));
                }
                if slot
                    .open_orders
                    .iter()
                    .any(|o| o.request.symbol == p.symbol && o.request.purpose == OrderPurpose::Exit)
                {
                    return invalid(format!("an exit for {} is already in flight", p.symbol));
                }
                let side = if held > Decimal::ZERO { Side::Sell } else { Side::Buy };
                let request = self.new_request(
                    a,
                    p.symbol,
                    side,
                    held.abs(),
                    OrderKind::Market,
                    true,
                    Decimal::ONE,
                    OrderPurpose::Exit,
                );
                self.submit(a, request, Some(decision_id), now, out).0
            }
            Signal::BuyToEnter | Signal::SellToEnter => {
                let side = if p.signal == Signal::BuyToEnter { Side::Buy } else { Side::Sell };
                if !held.is_zero() {
                    let dir = if held > Decimal::ZERO { "long" } else { "short" };
                    return invalid(format!("already {dir} {}: one position per symbol, close it first", p.symbol));
                }
                if slot
                    .pending_entries
                    .iter()
                    .any(|e| slot.open_orders.iter().any(|o| o.request.id == e.order && o.request.symbol == p.symbol))
                {
                    return invalid(format!("an entry for {} is already in flight", p.symbol));
                }
                let market = &self.markets[mi];
                if let Some(price) = market.mark_or_last() {
                    let long = side == Side::Buy;
                    if let Some(stop) = p.stop_loss
                        && ((long && stop >= price) || (!long && stop <= price))
                    {
                        let where_ = if long { "below" } else { "above" };
                        return invalid(format!(
                            "stop_loss {stop} must be {where_} the price {price} for a {}",
                            if long { "long" } else { "short" }
                        ));
                    }
                    if let Some(target) = p.profit_target
                        && ((long && target <= price) || (!long && target >= price))
                    {
                        let where_ = if long { "above" } else { "below" };
                        return invalid(format!(
                            "profit_target {target} must be {where_} the price {price} for a {}",
                            if long { "long" } else { "short" }
                        ));
                    }
                }
                let mut request = self.new_request(
                    a,
                    p.symbol,
                    side,
                    p.quantity,
                    OrderKind::Market,
                    false,
                    p.leverage,
                    OrderPurpose::Entry,
                );
                request.stop_loss = p.stop_loss;
                request.take_profit = p.profit_target;
                let (outcome, approved) = self.submit(a, request, Some(decision_id), now, out);
                if let (ProposalOutcome::Submitted { order }, Some(approved)) = (&outcome, approved) {
                    let order = *order;
                    let instruments: Vec<_> = self.markets.iter().map(|m| m.instrument.clone()).collect();
                    let plan = ExitPlan {
                        symbol: p.symbol,
                        stop_loss: approved.stop_loss,
                        profit_target: approved.take_profit,
                        invalidation: p.invalidation_condition.clone(),
                        invalidation_level: p
                            .invalidation_condition
                            .as_deref()
                            .and_then(|text| crate::agents::invalidation::parse_invalidation(text, &instruments)),
                        rationale: p.justification.clone(),
                        confidence: p.confidence,
                        stop_order: None,
                        target_order: None,
                        decision_id: Some(decision_id),
                        opened_ms: now,
                    };
                    self.agents[a].pending_entries.push(PendingEntry { order, plan });
                }
                outcome
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn new_request(
        &mut self,
        a: usize,
        symbol: Symbol,
        side: Side,
        qty: Decimal,
        kind: OrderKind,
        reduce_only: bool,
        leverage: Decimal,
        purpose: OrderPurpose,
    ) -> OrderRequest {
        let id = OrderId(self.next_order_id);
        self.next_order_id += 1;
        OrderRequest {
            id,
            agent: self.agents[a].id,
            symbol,
            side,
            qty,
            kind,
            reduce_only,
            leverage,
            purpose,
            stop_loss: None,
            take_profit: None,
        }
    }

    /// The arena-wide state: breakers, the kill switch and the operator's reduce-only switch.
    fn arena_state(&self) -> TradingState {
        let mut s = self.global_state;
        if self.kill_switch_ms.is_some() {
            s = TradingState::Halted;
        }
        if self.global_reduce_only {
            s = s.max(TradingState::Reducing);
        }
        s
    }

    /// The state that applies to agent `a`: the strictest of its own and the arena's.
    fn effective_state(&self, a: usize) -> TradingState {
        let slot = &self.agents[a];
        let mut s = self.arena_state().max(slot.state);
        if slot.reduce_only {
            s = s.max(TradingState::Reducing);
        }
        s
    }

    /// Sends a request through the risk gate. Returns the outcome and, when approved, the order
    /// as approved (normalised, possibly with a default stop).
    pub(super) fn submit(
        &mut self,
        a: usize,
        request: OrderRequest,
        decision_id: Option<u64>,
        now: i64,
        out: &mut Outputs,
    ) -> (ProposalOutcome, Option<OrderRequest>) {
        let context = self.risk_context(a, request.symbol, now);
        let agent_originated = matches!(request.purpose, OrderPurpose::Entry | OrderPurpose::Exit);
        let markets = &self.markets;
        let marks = |s: Symbol| markets.iter().find(|m| m.symbol() == s).and_then(MarketView::mark_or_last);
        let market = markets.iter().find(|m| m.symbol() == request.symbol);
        let slot = &self.agents[a];
        let view = RiskView {
            instrument: market.map(|m| &m.instrument),
            account: Some(&slot.account),
            price: market.and_then(MarketView::mark_or_last),
            marks: &marks,
            state: self.effective_state(a),
            limits: Some(&slot.limits),
            counts_for_arena: !slot.benchmark,
            context,
        };
        let result = self.gate.check(&view, request);
        match result {
            Ok(approved) => {
                let order = approved.inner().clone();
                self.counters.orders += 1;
                out.orders.push(approved);
                if agent_originated {
                    self.agents[a].risk.order_times.push_back(now);
                    self.record_order_outcome(a, false, now, out);
                }
                (ProposalOutcome::Submitted { order: order.id }, Some(order))
            }
            Err(refused) => {
                let outcome = ProposalOutcome::Refused { code: refused.code, message: refused.message.clone() };
                // Refusals caused by the trading state (a halt, reduce-only) say nothing about the
                // agent's own order quality: they do not feed its refusal-rate breaker.
                let counts = agent_originated && refused.code != RefusalCode::TradingState;
                self.record_refusal(a, decision_id, refused, now, out);
                if counts {
                    self.record_order_outcome(a, true, now, out);
                }
                (outcome, None)
            }
        }
    }

    fn record_refusal(
        &mut self,
        a: usize,
        decision_id: Option<u64>,
        refused: RiskRefused,
        now: i64,
        out: &mut Outputs,
    ) {
        self.counters.refusals += 1;
        let slot = &mut self.agents[a];
        *slot.refusals.entry(refused.code).or_insert(0) += 1;
        let req = *refused.request;
        self.log.push(LogEntry {
            ts_ms: now,
            agent: Some(slot.id),
            kind: LogKind::Refusal,
            action: format!("refused {} {}", req.purpose.as_str(), req.symbol),
            text: refused.message.clone(),
            outcome: Some(format!("refused: {}", refused.code)),
            decision_id,
        });
        out.journal.push(JournalRecord::Refusal(RefusalRecord {
            agent: slot.id,
            ts_ms: now,
            decision_id,
            code: refused.code,
            message: refused.message,
            request: req,
        }));
    }

    // ---------------------------------------------------------------- venue reports

    fn on_exec(&mut self, ev: ExecEvent, now: i64, out: &mut Outputs) {
        let Some(a) = self.agent_index(ev.agent()) else { return };
        match ev {
            ExecEvent::Accepted { order } => {
                if !order.status.is_terminal() {
                    self.agents[a].open_orders.push(order);
                }
            }
            ExecEvent::Rejected { order, reason } => {
                self.counters.venue_rejections += 1;
                if matches!(order.request.purpose, OrderPurpose::Entry | OrderPurpose::Exit) {
                    self.record_order_outcome(a, true, now, out);
                }
                let slot = &mut self.agents[a];
                slot.pending_entries.retain(|e| e.order != order.request.id);
                slot.open_orders.retain(|o| o.request.id != order.request.id);
                self.log.push(LogEntry {
                    ts_ms: now,
                    agent: Some(slot.id),
                    kind: LogKind::Order,
                    action: format!("venue rejected {} {}", order.request.purpose.as_str(), order.request.symbol),
                    text: reason.clone(),
                    outcome: Some(format!("rejected: {reason}")),
                    decision_id: None,
                });
            }
            ExecEvent::Filled { fill, leverage, status } => self.on_fill(a, fill, leverage, status, now, out),
            ExecEvent::Cancelled { order_id, reason, .. } => {
                let slot = &mut self.agents[a];
                let was_bracket =
                    slot.plans.iter().any(|p| p.stop_order == Some(order_id) || p.target_order == Some(order_id));
                slot.open_orders.retain(|o| o.request.id != order_id);
                slot.pending_entries.retain(|e| e.order != order_id);
                for p in &mut slot.plans {
                    if p.stop_order == Some(order_id) {
                        p.stop_order = None;
                    }
                    if p.target_order == Some(order_id) {
                        p.target_order = None;
                    }
                }
                if was_bracket && !reason.is_empty() {
                    self.log.push(LogEntry {
                        ts_ms: now,
                        agent: Some(slot.id),
                        kind: LogKind::Order,
                        action: format!("cancelled #{order_id}"),
                        text: reason,
                        outcome: None,
                        decision_id: None,
                    });
                }
            }
            ExecEvent::Triggered { order_id, symbol, price, .. } => {
                let slot = &self.agents[a];
                let what = slot.open_orders.iter().find(|o| o.request.id == order_id).map_or("order", |o| {
                    match o.request.purpose {
                        OrderPurpose::StopLoss => "stop-loss",
                        OrderPurpose::TakeProfit => "take-profit",
                        _ => "order",
                    }
                });
                self.log.push(LogEntry {
                    ts_ms: now,
                    agent: Some(slot.id),
                    kind: LogKind::Order,
                    action: format!("{what} {symbol} triggered"),
                    text: format!("{what} #{order_id} triggered at {price}"),
                    outcome: None,
                    decision_id: None,
                });
            }
            ExecEvent::Funding { symbol, amount, rate, .. } => {
                self.counters.funding_payments += 1;
                let markets = &self.markets;
                let slot = &mut self.agents[a];
                slot.account.apply_funding(symbol, amount);
                slot.risk.shadow.refresh(&slot.account, |s| markets.iter().position(|m| m.symbol() == s));
                self.log.push(LogEntry {
                    ts_ms: now,
                    agent: Some(slot.id),
                    kind: LogKind::Funding,
                    action: format!("funding {symbol}"),
                    text: format!(
                        "{} {} at rate {rate}",
                        if amount >= Decimal::ZERO { "received" } else { "paid" },
                        amount.abs().round_dp(4)
                    ),
                    outcome: None,
                    decision_id: None,
                });
            }
        }
    }

    fn on_fill(&mut self, a: usize, fill: Fill, leverage: Decimal, status: OrderStatus, now: i64, out: &mut Outputs) {
        self.counters.fills += 1;
        if fill.liquidation {
            self.counters.liquidations += 1;
        }
        let symbol = fill.symbol;
        let markets = &self.markets;
        let slot = &mut self.agents[a];
        let effect = slot.account.apply_fill(&fill, leverage);
        slot.risk.shadow.refresh(&slot.account, |s| markets.iter().position(|m| m.symbol() == s));
        slot.tracker.on_fee(decimal_to_f64(fill.fee));
        if let Some(o) = slot.open_orders.iter_mut().find(|o| o.request.id == fill.order_id) {
            o.filled_qty += fill.qty;
            o.status = status;
            o.updated_ms = fill.ts_ms;
        }
        slot.open_orders.retain(|o| !o.status.is_terminal());
        let verb = if fill.side == Side::Buy { "bought" } else { "sold" };
        let tag = if fill.liquidation { "LIQUIDATION".to_owned() } else { fill.purpose.as_str().to_owned() };
        self.log.push(LogEntry {
            ts_ms: now,
            agent: Some(slot.id),
            kind: LogKind::Fill,
            action: format!("{verb} {} {}", fill.qty, symbol),
            text: format!("{verb} {} {} @ {} fee {} [{tag}]", fill.qty, symbol, fill.price, fill.fee.round_dp(4)),
            outcome: None,
            decision_id: None,
        });
        let mut closed_net = None;
        if let Some(trade) = effect.closed {
            slot.tracker.on_trade(&trade);
            closed_net = Some(trade.net_pnl);
            slot.risk.set_last_close(symbol, trade.side, now);
            if fill.purpose == OrderPurpose::StopLoss {
                slot.risk.set_stop_out(symbol, now);
            }
            let pct = if trade.entry_price > Decimal::ZERO && trade.max_qty > Decimal::ZERO {
                decimal_to_f64(trade.net_pnl / (trade.entry_price * trade.max_qty) * Decimal::ONE_HUNDRED)
            } else {
                0.0
            };
            let dir = if trade.side == Side::Buy { "long" } else { "short" };
            self.log.push(LogEntry {
                ts_ms: now,
                agent: Some(slot.id),
                kind: LogKind::Trade,
                action: format!("closed {dir} {symbol}"),
                text: format!(
                    "{dir} {symbol} {} → {}: net {:+} ({pct:+.2}%), fees {}",
                    trade.entry_price.round_dp(4),
                    trade.exit_price.round_dp(4),
                    trade.net_pnl.round_dp(2),
                    trade.fees.round_dp(2)
                ),
                outcome: None,
                decision_id: None,
            });
            slot.recent_trades.push(trade);
        }
        // Exit plans: attach on entry, retire when flat.
        let held = slot.account.qty(symbol);
        if fill.purpose == OrderPurpose::Entry
            && let Some(k) = slot.pending_entries.iter().position(|e| e.order == fill.order_id)
        {
            let entry = slot.pending_entries.remove(k);
            if !held.is_zero() && slot.plan(symbol).is_none() {
                self.install_plan(a, entry.plan, now, out);
            }
        }
        if self.agents[a].account.qty(symbol).is_zero() {
            self.retire_plan(a, symbol, "position closed", out);
            self.agents[a].risk.unprotected_since.retain(|(s, _)| *s != symbol);
        }
        if let Some(net) = closed_net {
            self.record_trade_result(a, net, now, out);
        }
    }

    /// Places the stop-loss and take-profit of a new position.
    fn install_plan(&mut self, a: usize, mut plan: ExitPlan, now: i64, out: &mut Outputs) {
        let held = self.agents[a].account.qty(plan.symbol);
        let side = if held > Decimal::ZERO { Side::Sell } else { Side::Buy };
        let qty = held.abs();
        // A protective order for each level the plan has; its id goes back into the plan.
        let mut protect = |engine: &mut Self, kind: OrderKind, purpose: OrderPurpose| {
            let req = engine.new_request(a, plan.symbol, side, qty, kind, true, Decimal::ONE, purpose);
            match engine.submit(a, req, plan.decision_id, now, out) {
                (ProposalOutcome::Submitted { order }, _) => Some(order),
                _ => None,
            }
        };
        if let Some(stop) = plan.stop_loss
            && let Some(order) = protect(self, OrderKind::StopMarket { trigger: stop }, OrderPurpose::StopLoss)
        {
            plan.stop_order = Some(order);
        }
        if let Some(target) = plan.profit_target
            && let Some(order) =
                protect(self, OrderKind::TakeProfitMarket { trigger: target }, OrderPurpose::TakeProfit)
        {
            plan.target_order = Some(order);
        }
        plan.opened_ms = now;
        out.journal.push(JournalRecord::Plan(PlanRecord {
            ts_ms: now,
            agent: self.agents[a].id,
            symbol: plan.symbol,
            plan: Some(plan.clone()),
        }));
        self.agents[a].plans.push(plan);
    }

    /// Drops the plan of a closed position and cancels its remaining protective orders.
    fn retire_plan(&mut self, a: usize, symbol: Symbol, reason: &str, out: &mut Outputs) {
        let slot = &mut self.agents[a];
        let Some(k) = slot.plans.iter().position(|p| p.symbol == symbol) else { return };
        let plan = slot.plans.remove(k);
        for id in [plan.stop_order, plan.target_order].into_iter().flatten() {
            if slot.open_orders.iter().any(|o| o.request.id == id) {
                out.cancels.push((slot.id, id, reason.to_owned()));
            }
        }
        let ts_ms = self.clock.now_ms();
        out.journal.push(JournalRecord::Plan(PlanRecord { ts_ms, agent: slot.id, symbol, plan: None }));
    }

    // ---------------------------------------------------------------- operator

    fn on_command(&mut self, cmd: Command, now: i64, out: &mut Outputs) {
        let description = cmd.describe();
        let result = match &cmd {
            Command::Pause { agent } | Command::Resume { agent } => match self.agent_index(*agent) {
                Some(a) => {
                    let paused = matches!(cmd, Command::Pause { .. });
                    self.set_paused(a, paused, "operator", now, out);
                    "ok".to_owned()
                }
                None => format!("no agent named {agent}"),
            },
            Command::PauseAll | Command::ResumeAll => {
                let paused = matches!(cmd, Command::PauseAll);
                for a in 0..self.agents.len() {
                    self.set_paused(a, paused, "operator (all)", now, out);
                }
                "ok".to_owned()
            }
            Command::FlattenAgent { agent } => match self.agent_index(*agent) {
                Some(a) => self.flatten(a, None, now, out),
                None => format!("no agent named {agent}"),
            },
            Command::FlattenPosition { agent, symbol } => match self.agent_index(*agent) {
                Some(_) if !self.markets.iter().any(|m| m.symbol() == *symbol) => format!("no market named {symbol}"),
                Some(a) => self.flatten(a, Some(*symbol), now, out),
                None => format!("no agent named {agent}"),
            },
            Command::FlattenSymbol { symbol } => {
                if self.markets.iter().any(|m| m.symbol() == *symbol) {
                    let mut sent = Vec::new();
                    for a in 0..self.agents.len() {
                        sent.push(self.flatten(a, Some(*symbol), now, out));
                    }
                    sent.join("; ")
                } else {
                    format!("no market named {symbol}")
                }
            }
            Command::FlattenAll => {
                let mut sent = Vec::new();
                for a in 0..self.agents.len() {
                    sent.push(self.flatten(a, None, now, out));
                }
                sent.join("; ")
            }
            Command::SetReduceOnly { agent: Some(agent), on } => match self.agent_index(*agent) {
                Some(a) => {
                    self.agents[a].reduce_only = *on;
                    self.journal_state(Some(a), "operator reduce-only", now, out);
                    "ok".to_owned()
                }
                None => format!("no agent named {agent}"),
            },
            Command::SetReduceOnly { agent: None, on } => {
                self.global_reduce_only = *on;
                self.journal_state(None, "operator reduce-only (all)", now, out);
                "ok".to_owned()
            }
            Command::CancelOrder { agent, order } => match self.agent_index(*agent) {
                Some(a) if self.agents[a].open_orders.iter().any(|o| o.request.id == *order) => {
                    out.cancels.push((*agent, *order, "cancelled by operator".to_owned()));
                    "ok".to_owned()
                }
                Some(_) => format!("{agent} has no open order #{order}"),
                None => format!("no agent named {agent}"),
            },
            Command::KillSwitch => {
                self.kill_switch_ms.get_or_insert(now);
                self.journal_state(None, "kill switch", now, out);
                let mut sent = Vec::new();
                for a in 0..self.agents.len() {
                    sent.push(self.flatten(a, None, now, out));
                }
                format!("latched; {}", sent.join("; "))
            }
            Command::ReleaseBreakers { agent } => match agent {
                Some(id) => match self.agent_index(*id) {
                    Some(a) => self.release_breakers(Some(a), now, out),
                    None => format!("no agent named {id}"),
                },
                None => self.release_breakers(None, now, out),
            },
            Command::ReleaseKillSwitch => {
                if self.kill_switch_ms.is_none() {
                    "the kill switch is not engaged".to_owned()
                } else if let Some(why) = self.not_flat_reason() {
                    format!("refused: {why}")
                } else {
                    self.kill_switch_ms = None;
                    self.journal_state(None, "kill switch released", now, out);
                    "released".to_owned()
                }
            }
        };
        self.log.push(LogEntry {
            ts_ms: now,
            agent: None,
            kind: LogKind::Operator,
            action: description.clone(),
            text: format!("operator: {description}"),
            outcome: Some(result.clone()),
            decision_id: None,
        });
        out.journal.push(JournalRecord::Command(CommandRecord { ts_ms: now, command: description, result }));
    }

    /// Why the arena is not flat yet (positions or resting orders anywhere), if it is not.
    fn not_flat_reason(&self) -> Option<String> {
        let positions: usize = self.agents.iter().map(|a| a.account.positions.len()).sum();
        let orders: usize = self.agents.iter().map(|a| a.open_orders.len()).sum();
        (positions + orders > 0).then(|| format!("{positions} positions and {orders} orders still open"))
    }

    /// True once the kill switch is latched.
    pub fn kill_switch_engaged(&self) -> bool {
        self.kill_switch_ms.is_some()
    }

    /// Records the current state flags of one agent (or the arena) in the ledger.
    pub(super) fn journal_state(&mut self, a: Option<usize>, reason: &str, now: i64, out: &mut Outputs) {
        let record = match a {
            Some(a) => {
                let slot = &self.agents[a];
                StateChangeRecord {
                    ts_ms: now,
                    agent: Some(slot.id),
                    paused: slot.paused,
                    pause_reason: slot.pause_reason.clone(),
                    reduce_only: slot.reduce_only,
                    breaker_state: slot.state,
                    kill_switch_ms: None,
                    state: self.effective_state(a),
                    reason: reason.to_owned(),
                }
            }
            None => StateChangeRecord {
                ts_ms: now,
                agent: None,
                paused: false,
                pause_reason: None,
                reduce_only: self.global_reduce_only,
                breaker_state: self.global_state,
                kill_switch_ms: self.kill_switch_ms,
                state: self.arena_state(),
                reason: reason.to_owned(),
            },
        };
        out.journal.push(JournalRecord::StateChange(record));
    }

    fn set_paused(&mut self, a: usize, paused: bool, reason: &str, now: i64, out: &mut Outputs) {
        let slot = &mut self.agents[a];
        if slot.paused == paused {
            return;
        }
        slot.paused = paused;
        slot.pause_reason = paused.then(|| reason.to_owned());
        if !paused {
            slot.consecutive_failures = 0;
        }
        self.journal_state(Some(a), reason, now, out);
    }

    /// Cancels an agent's orders and closes its positions (optionally one symbol only).
    pub(super) fn flatten(&mut self, a: usize, only: Option<Symbol>, now: i64, out: &mut Outputs) -> String {
        let id = self.agents[a].id;
        let mut cancels = 0;
        for o in &self.agents[a].open_orders {
            if only.is_none_or(|s| s == o.request.symbol) {
                out.cancels.push((id, o.request.id, "flatten".to_owned()));
                cancels += 1;
            }
        }
        self.agents[a].pending_entries.retain(|e| only.is_some_and(|s| s != e.plan.symbol));
        let positions: Vec<(Symbol, Decimal)> = self.agents[a]
            .account
            .positions
            .iter()
            .filter(|p| only.is_none_or(|s| s == p.symbol))
            .map(|p| (p.symbol, p.qty))
            .collect();
        let mut closes = 0;
        for (symbol, qty) in positions {
            let side = if qty > Decimal::ZERO { Side::Sell } else { Side::Buy };
            let req = self.new_request(
                a,
                symbol,
                side,
                qty.abs(),
                OrderKind::Market,
                true,
                Decimal::ONE,
                OrderPurpose::Flatten,
            );
            if let (ProposalOutcome::Submitted { .. }, _) = self.submit(a, req, None, now, out) {
                closes += 1;
            }
        }
        format!("{id}: {cancels} cancels, {closes} closes")
    }

    fn agent_index(&self, id: AgentId) -> Option<usize> {
        self.agents.iter().position(|a| a.id == id)
    }

    // ---------------------------------------------------------------- reading

    /// Per-agent metrics and refusal counts, in configuration order.
    pub fn reports(&self) -> Vec<AgentReport> {
        self.agents
            .iter()
            .map(|s| AgentReport {
                agent: s.id,
                kind: s.driver.kind(),
                benchmark: s.benchmark,
                metrics: s.tracker.metrics(),
                refusals: s.refusals.clone(),
                breaker_trips: s.risk.trip_counts.clone(),
                decisions: s.decisions,
            })
            .collect()
    }

    /// Builds the read-only picture for UIs.
    pub fn snapshot(&mut self) -> Snapshot {
        self.snapshot_version += 1;
        let now = self.clock.now_ms();
        let markets = &self.markets;
        let marks = |s: Symbol| markets.iter().find(|m| m.symbol() == s).and_then(MarketView::mark_or_last);
        let mmr = |s: Symbol| {
            markets.iter().find(|m| m.symbol() == s).map_or(Decimal::ZERO, |m| m.instrument.maintenance_margin_rate)
        };
        let effective: Vec<TradingState> = (0..self.agents.len()).map(|a| self.effective_state(a)).collect();
        let max_lev = decimal_to_f64(self.gate.limits().max_leverage);
        let agents: Vec<AgentSnapshot> = self
            .agents
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let equity = s.account.equity(&marks);
                let mut metrics = s.tracker.metrics();
                metrics.equity = decimal_to_f64(equity);
                if metrics.start_equity > 0.0 {
                    metrics.total_return_pct = (metrics.equity / metrics.start_equity - 1.0) * 100.0;
                }
                let positions = s
                    .account
                    .positions
                    .iter()
                    .map(|p| {
                        let mark = marks(p.symbol);
                        let perp =
                            markets.iter().find(|m| m.symbol() == p.symbol).is_some_and(|m| m.instrument.is_perp());
                        PositionSnapshot {
                            agent: s.id,
                            symbol: p.symbol,
                            side: if p.qty > Decimal::ZERO { Side::Buy } else { Side::Sell },
                            qty: p.qty.abs(),
                            entry_price: p.entry_price(),
                            mark,
                            unrealized_pnl: mark.map_or(Decimal::ZERO, |m| p.unrealized_pnl(m)),
                            leverage: p.leverage,
                            liquidation_price: if perp {
                                s.account.liquidation_price(p.symbol, &marks, mmr)
                            } else {
                                None
                            },
                            plan: s.plan(p.symbol).cloned(),
                            opened_ms: p.opened_ms,
                        }
                    })
                    .collect();
                let (unavailable, kind) = match &s.driver {
                    AgentDriver::Unavailable { kind, reason } => (Some(reason.clone()), kind.clone()),
                    d => (None, d.kind()),
                };
                AgentSnapshot {
                    id: s.id,
                    kind,
                    benchmark: s.benchmark,
                    paused: s.paused,
                    state: effective[k],
                    reduce_only: s.reduce_only,
                    unavailable,
                    equity,
                    cash: s.account.cash,
                    unrealized_pnl: s.account.unrealized_pnl(&marks),
                    realized_pnl: s.account.realized_pnl,
                    fees: s.account.fees_paid,
                    gross_exposure: s.account.gross_exposure(&marks),
                    metrics,
                    equity_curve: s.curve.points().to_vec(),
                    positions,
                    open_orders: s.open_orders.clone(),
                    decisions: s.decisions,
                    last_decision_ms: s.last_decision_ms,
                    refusals: s.refusals.clone(),
                    pause_reason: s.pause_reason.clone(),
                    stats: s.stats.clone(),
                    history: s.history.iter().cloned().collect(),
                    recent_trades: s.recent_trades.iter().cloned().collect(),
                    gauges: {
                        let mut g = agent_gauges(&s.account, equity, &marks, max_lev);
                        let guard = &s.risk.guard;
                        g.push(Gauge {
                            name: "daily loss".into(),
                            value: guard.daily_loss_pct().max(0.0),
                            limit: s.limits.daily_loss_limit_pct,
                            unit: "%".into(),
                        });
                        g.push(Gauge {
                            name: "drawdown".into(),
                            value: guard.drawdown_pct(),
                            limit: s.limits.max_drawdown_pct,
                            unit: "%".into(),
                        });
                        g
                    },
                }
            })
            .collect();
        let markets_snap = self.markets.iter().map(market_snapshot).collect();
        let risk = self.risk_snapshot(&agents, max_lev);
        Snapshot {
            version: self.snapshot_version,
            now_ms: now,
            mode: self.config.mode.clone(),
            source: self.source.clone(),
            global_state: self.arena_state(),
            global_reason: self.global_reason.clone(),
            global_reduce_only: self.global_reduce_only,
            kill_switch_ms: self.kill_switch_ms,
            agents,
            markets: markets_snap,
            risk,
            log: self.log.iter().cloned().collect(),
            counters: self.counters.clone(),
            resumed: self.resumed,
            run_id: self.run_id,
            store: None,
        }
    }
}

impl Engine {
    fn risk_snapshot(&self, agents: &[AgentSnapshot], max_lev: f64) -> RiskSnapshot {
        let l = self.gate.limits();
        let arena = self.gate.arena();
        let opt = |v: Option<f64>| v.map_or_else(|| "off".to_owned(), |v| v.to_string());
        let lim = |name: &str, value: String, description: &str| LimitView {
            name: name.to_owned(),
            value,
            description: description.to_owned(),
        };
        let limits = vec![
            lim(
                "max_leverage",
                l.max_leverage.to_string(),
                "highest leverage (venue maximum and volatility cap also apply)",
            ),
            lim(
                "target_volatility_pct",
                l.target_volatility_pct.to_string(),
                "leverage cap = target / realised volatility",
            ),
            lim("require_stop_loss", l.require_stop_loss.to_string(), "every entry needs a stop-loss"),
            lim("default_stop_atr", opt(l.default_stop_atr), "default stop in ATR(14, 15m) multiples"),
            lim("max_risk_per_trade_pct", l.max_risk_per_trade_pct.to_string(), "loss at the stop, % of equity"),
            lim("min_reward_risk", opt(l.min_reward_risk), "minimum target/stop distance ratio"),
            lim("price_band_pct", l.price_band_pct.to_string(), "order prices within this % of the mark"),
            lim("max_position_notional", l.max_position_notional.to_string(), "per symbol, USDT"),
            lim("max_symbol_allocation_pct", l.max_symbol_allocation_pct.to_string(), "per symbol, % of equity"),
            lim("max_gross_exposure_x", l.max_gross_exposure_x.to_string(), "Σ|notional| / equity"),
            lim("max_net_exposure_x", l.max_net_exposure_x.to_string(), "|Σ notional| / equity"),
            lim("max_open_positions", l.max_open_positions.to_string(), "per agent"),
            lim("max_orders_per_minute", l.max_orders_per_minute.to_string(), "agent orders per rolling minute"),
            lim("stop_out_cooldown_min", l.stop_out_cooldown_min.to_string(), "no re-entry after a stop-out"),
            lim("min_reversal_min", l.min_reversal_min.to_string(), "no reversal after a close (flip-flop)"),
            lim("daily_loss_limit_pct", l.daily_loss_limit_pct.to_string(), "breaker: halt + flatten agent"),
            lim("max_drawdown_pct", l.max_drawdown_pct.to_string(), "breaker: halt + flatten agent"),
            lim("max_consecutive_losses", l.max_consecutive_losses.to_string(), "breaker: reduce-only"),
            lim(
                "max_refusal_rate_pct",
                format!("{} over {}", l.max_refusal_rate_pct, l.refusal_window),
                "breaker: reduce-only",
            ),
            lim("unprotected_grace_secs", l.unprotected_grace_secs.to_string(), "close positions without a live stop"),
            lim(
                "arena.max_gross_exposure_x",
                arena.max_gross_exposure_x.to_string(),
                "all agents: Σ|notional| / equity",
            ),
            lim("arena.max_symbol_notional", arena.max_symbol_notional.to_string(), "all agents, one symbol, USDT"),
            lim("arena.daily_loss_limit_pct", arena.daily_loss_limit_pct.to_string(), "breaker: halt + flatten all"),
            lim("arena.max_drawdown_pct", arena.max_drawdown_pct.to_string(), "breaker: halt + flatten all"),
            lim("arena.stale_data_secs", arena.stale_data_secs.to_string(), "breaker: arena reduce-only"),
        ];
        let (gross, equity) = agents
            .iter()
            .filter(|a| !a.benchmark)
            .fold((0.0, 0.0), |(g, e), a| (g + decimal_to_f64(a.gross_exposure), e + decimal_to_f64(a.equity)));
        let g = &self.arena_guard;
        let gauges = vec![
            Gauge {
                name: "leverage".into(),
                value: if equity > 0.0 { gross / equity } else { 0.0 },
                limit: max_lev,
                unit: "x".into(),
            },
            Gauge {
                name: "gross exposure".into(),
                value: if equity > 0.0 { gross / equity } else { 0.0 },
                limit: arena.max_gross_exposure_x,
                unit: "x".into(),
            },
            Gauge {
                name: "daily loss".into(),
                value: g.daily_loss_pct().max(0.0),
                limit: arena.daily_loss_limit_pct,
                unit: "%".into(),
            },
            Gauge { name: "drawdown".into(), value: g.drawdown_pct(), limit: arena.max_drawdown_pct, unit: "%".into() },
        ];
        RiskSnapshot {
            limits,
            gauges,
            breakers: self.breaker_views(),
            history: self.breaker_history.iter().cloned().collect(),
        }
    }
}

/// Usage gauges of one account.
fn agent_gauges(
    account: &crate::domain::Account,
    equity: Decimal,
    marks: &impl crate::domain::Marks,
    max_lev: f64,
) -> Vec<Gauge> {
    let eq = decimal_to_f64(equity);
    let gross = decimal_to_f64(account.gross_exposure(marks));
    let margin = decimal_to_f64(account.used_margin());
    vec![
        Gauge {
            name: "leverage".into(),
            value: if eq > 0.0 { gross / eq } else { 0.0 },
            limit: max_lev,
            unit: "x".into(),
        },
        Gauge {
            name: "margin used".into(),
            value: if eq > 0.0 { margin / eq * 100.0 } else { 0.0 },
            limit: 100.0,
            unit: "%".into(),
        },
    ]
}

fn market_snapshot(m: &MarketView) -> MarketSnapshot {
    let h1 = m.series.values(Timeframe::H1);
    let trend = match (h1.ema20, h1.ema50) {
        (Some(a), Some(b)) if a > b * 1.0005 => Some("up"),
        (Some(a), Some(b)) if a < b * 0.9995 => Some("down"),
        (Some(_), Some(_)) => Some("flat"),
        _ => None,
    };
    let spark_src = m.series.history(Timeframe::M5);
    let skip = spark_src.len().saturating_sub(48);
    let sparkline: Vec<f64> = m.series.history(Timeframe::M5).skip(skip).map(|c| c.close).collect();
    // Change over 24 h of 1h candles (or since the oldest kept).
    let h = m.series.history(Timeframe::H1);
    let back = h.len().saturating_sub(24);
    let reference = m.series.history(Timeframe::H1).nth(back).map(|c| c.open);
    let last = m.last.and_then(|p| p.to_f64());
    let change_pct = match (reference, last) {
        (Some(r), Some(l)) if r > 0.0 => Some((l / r - 1.0) * 100.0),
        _ => None,
    };
    MarketSnapshot {
        symbol: m.symbol(),
        base: m.instrument.base.clone(),
        last: m.last,
        bid: m.bid,
        ask: m.ask,
        mark: m.mark,
        funding_rate: m.funding_rate,
        open_interest: m.open_interest,
        change_pct,
        rsi14: m.series.values(Timeframe::M15).rsi14,
        trend,
        sparkline,
        last_event_ms: m.last_event_ms,
        rejected_events: m.series.rejected(),
        long_short_ratio: m.long_short_ratio,
        stale_since_ms: m.stale_since_ms,
    }
}

/// A short action label for a decision: `long BTCUSDT 0.05`, `close ETHUSDT`, `hold`.
fn summarize(decision: &Decision, error: Option<&str>) -> String {
    if error.is_some() {
        return "hold (error)".into();
    }
    let parts: Vec<String> = decision
        .proposals
        .iter()
        .filter(|p| p.signal != Signal::Hold)
        .map(|p| match p.signal {
            Signal::BuyToEnter => format!("long {} {}", p.symbol, p.quantity),
            Signal::SellToEnter => format!("short {} {}", p.symbol, p.quantity),
            Signal::ClosePosition => format!("close {}", p.symbol),
            Signal::Hold => String::new(),
        })
        .collect();
    if parts.is_empty() { "hold".into() } else { parts.join(", ") }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
