//! Adaptation inside the engine: adaptive entry sizing of rule agents from their own closed
//! trades, and arena capital re-weighting between agents ([`crate::agents::adaptive`] documents
//! both rules). An `impl Engine` block plus the state it keeps.
//!
//! Hooks in `core.rs` (the only places this module is called from):
//! * `run_rule_agents`: [`Engine::adapt_decision`] runs on a rule agent's decision before it is
//!   handled, and the adjustment it used is taken into the decision's [`DecisionRecord`]
//!   (`handle_decision_inner`, `adjustment: self.adaptation.pending.take()`);
//! * `sample_all`: [`Engine::after_sample`] runs after every equity sample.
//!
//! Invariants of a capital transfer: the amount is a positive decimal in cents; the giver keeps
//! at least the margin of its open positions (it gives only free cash); the engine's two
//! accounts change by exactly −amount and +amount; breaker references and performance trackers
//! are rebased so a transfer is neither a loss nor a gain; the transfer is journaled, logged, and
//! handed to the venue by the driver ([`Engine::take_transfers`]). If the venue refuses it, the
//! engine reverses it ([`Engine::transfer_failed`]), journaled and logged as well.

use std::collections::VecDeque;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::core::Engine;
use super::event::Outputs;
use super::journal::{JournalRecord, TransferRecord};
use super::snapshot::{LogEntry, LogKind};
use crate::agents::adaptive::{AdaptationConfig, SizeAdjustment};
use crate::agents::{Decision, MarketView, Signal};
use crate::analytics::decimal_to_f64;
use crate::domain::{AgentId, Symbol, Timeframe};
use crate::risk::TradingState;

const HOUR_MS: i64 = 3_600_000;
/// Candles of ATR history needed before the usual volatility level is trusted.
const MIN_VOL_HISTORY: usize = 50;
/// Hourly returns an agent needs before it takes part in a re-weighting.
const MIN_RETURNS: usize = 24;

/// Money moved from one agent's account to another's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapitalTransfer {
    pub ts_ms: i64,
    pub from: AgentId,
    pub to: AgentId,
    pub amount: Decimal,
}

/// Per-agent memory of the adaptation.
#[derive(Debug, Clone, Default)]
struct AgentMemory {
    /// Returns of its closed trades on their entry notional, oldest first.
    trades: VecDeque<f64>,
    /// (closed_ms, symbol) of the newest trade already taken from the engine's ring.
    last_trade: Option<(i64, Symbol)>,
    /// Hourly equity returns, oldest first.
    returns: VecDeque<f64>,
    /// Equity at the last hourly sample, rebased by transfers since.
    last_equity: Option<f64>,
}

/// What the engine keeps for adaptation.
#[derive(Debug, Clone, Default)]
pub struct Adaptation {
    config: AdaptationConfig,
    memory: Vec<AgentMemory>,
    /// The adjustment of the decision being handled, for its ledger record.
    pub(super) pending: Option<SizeAdjustment>,
    last_hour: Option<i64>,
    next_rebalance_ms: Option<i64>,
    /// Transfers the venue has not been told about yet.
    outbox: Vec<CapitalTransfer>,
}

impl Adaptation {
    fn memory(&mut self, a: usize) -> &mut AgentMemory {
        if self.memory.len() <= a {
            self.memory.resize_with(a + 1, AgentMemory::default);
        }
        &mut self.memory[a]
    }
}

/// Cents, rounded down (an amount never grows by rounding).
fn cents(x: Decimal) -> Decimal {
    x.round_dp_with_strategy(2, RoundingStrategy::ToZero)
}

impl Engine {
    /// Turns adaptation on or off (see [`AdaptationConfig`]); off by default.
    pub fn set_adaptation(&mut self, config: AdaptationConfig) {
        self.adaptation.config = config;
    }

    pub fn adaptation_config(&self) -> &AdaptationConfig {
        &self.adaptation.config
    }

    /// Scales the entries of rule agent `a`'s decision on `market`/`tf` by its adaptive size
    /// factor, says so in the reasoning, and keeps the adjustment for the decision's record.
    pub(super) fn adapt_decision(&mut self, a: usize, market: usize, tf: Timeframe, decision: &mut Decision) {
        self.adaptation.pending = None;
        if !self.adaptation.config.sizing || self.agents[a].benchmark {
            return;
        }
        let has_entry = decision.proposals.iter().any(|p| matches!(p.signal, Signal::BuyToEnter | Signal::SellToEnter));
        if !has_entry {
            return;
        }
        self.sync_trades(a);
        let (atr_pct, usual) = volatility(&self.markets[market], tf);
        let returns: Vec<f64> = self.adaptation.memory(a).trades.iter().copied().collect();
        let adj = self.adaptation.config.size_adjustment(&returns, atr_pct, usual);
        let factor = Decimal::from_f64_retain(adj.scale).unwrap_or(Decimal::ONE);
        let mut dropped = Vec::new();
        for p in &mut decision.proposals {
            if !matches!(p.signal, Signal::BuyToEnter | Signal::SellToEnter) {
                continue;
            }
            let Some(m) = self.markets.iter().find(|m| m.symbol() == p.symbol) else { continue };
            let qty = m.instrument.floor_qty(p.quantity * factor);
            if qty.is_zero() {
                dropped.push(p.symbol);
            }
            if let Some(r) = p.risk_usd
                && !p.quantity.is_zero()
            {
                p.risk_usd = Some((r * qty / p.quantity).round_dp(2));
            }
            p.quantity = qty;
        }
        decision
            .proposals
            .retain(|p| !dropped.contains(&p.symbol) || !matches!(p.signal, Signal::BuyToEnter | Signal::SellToEnter));
        let mut note = adj.describe();
        if !dropped.is_empty() {
            let names: Vec<String> = dropped.iter().map(|s| s.to_string()).collect();
            note.push_str(&format!(": {} rounds to zero lots, no entry", names.join(", ")));
        }
        // First line, so the log shows it.
        decision.reasoning = match decision.reasoning.split_once('\n') {
            Some((first, rest)) => format!("{first} [{note}]\n{rest}"),
            None => format!("{} [{note}]", decision.reasoning),
        };
        self.adaptation.pending = Some(adj);
    }

    /// Copies agent `a`'s newly closed trades from the engine's ring into its own window.
    fn sync_trades(&mut self, a: usize) {
        let window = self.adaptation.config.window_trades;
        let last = self.adaptation.memory(a).last_trade;
        let fresh: Vec<(f64, (i64, Symbol))> = self.agents[a]
            .recent_trades
            .iter()
            .filter(|t| last.is_none_or(|(ms, s)| (t.closed_ms, t.symbol) > (ms, s)))
            .map(|t| {
                let notional = decimal_to_f64(t.entry_price * t.max_qty);
                let r = if notional > 0.0 { decimal_to_f64(t.net_pnl) / notional } else { 0.0 };
                (r, (t.closed_ms, t.symbol))
            })
            .collect();
        let mem = self.adaptation.memory(a);
        for (r, key) in fresh {
            if r.is_finite() {
                mem.trades.push_back(r);
            }
            mem.last_trade = Some(key);
            while mem.trades.len() > window {
                mem.trades.pop_front();
            }
        }
    }

    /// After an equity sample at `ts`: hourly returns for the ranking, and a re-weighting when due.
    pub(super) fn after_sample(&mut self, ts: i64, out: &mut Outputs) {
        if !self.adaptation.config.reallocate {
            return;
        }
        let hour = ts.div_euclid(HOUR_MS);
        if self.adaptation.last_hour == Some(hour) {
            return;
        }
        self.adaptation.last_hour = Some(hour);
        let keep = self.adaptation.config.lookback_days as usize * 24;
        for a in 0..self.agents.len() {
            let eq = self.agents[a].risk.guard.equity;
            let mem = self.adaptation.memory(a);
            if let Some(prev) = mem.last_equity
                && prev > 0.0
                && eq.is_finite()
            {
                mem.returns.push_back(eq / prev - 1.0);
                while mem.returns.len() > keep {
                    mem.returns.pop_front();
                }
            }
            mem.last_equity = Some(eq);
        }
        let every = i64::from(self.adaptation.config.reallocate_every_hours) * HOUR_MS;
        match self.adaptation.next_rebalance_ms {
            None => self.adaptation.next_rebalance_ms = Some(ts.div_euclid(HOUR_MS) * HOUR_MS + every),
            Some(due) if ts >= due => {
                self.adaptation.next_rebalance_ms = Some(due + every * ((ts - due) / every + 1));
                self.reallocate(ts, out);
            }
            Some(_) => {}
        }
    }

    /// One re-weighting: rank, target, move free cash.
    fn reallocate(&mut self, now: i64, out: &mut Outputs) {
        let cfg = self.adaptation.config.clone();
        let arena_active =
            self.global_state == TradingState::Active && self.kill_switch_ms.is_none() && !self.global_reduce_only;
        if !arena_active {
            return;
        }
        // (agent, Sharpe of hourly returns, equity, free cash)
        let mut ranked: Vec<(usize, f64, Decimal, Decimal)> = Vec::new();
        for a in 0..self.agents.len() {
            let slot = &self.agents[a];
            if slot.benchmark || slot.paused || slot.reduce_only || slot.state != TradingState::Active {
                continue;
            }
            let returns = &self.adaptation.memory.get(a).map(|m| m.returns.clone()).unwrap_or_default();
            if returns.len() < MIN_RETURNS {
                continue;
            }
            let n = returns.len() as f64;
            let mean = returns.iter().sum::<f64>() / n;
            let sd = (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            let sharpe = if sd > 0.0 { mean / sd * (24.0 * 365.0f64).sqrt() } else { 0.0 };
            let markets = &self.markets;
            let marks = |s: Symbol| markets.iter().find(|m| m.symbol() == s).and_then(MarketView::mark_or_last);
            let equity = slot.account.equity(&marks);
            let margin = slot.account.used_margin();
            let free = (slot.account.cash - margin).min(equity - margin).max(Decimal::ZERO);
            ranked.push((a, if sharpe.is_finite() { sharpe } else { 0.0 }, equity, free));
        }
        if ranked.len() < 2 {
            return;
        }
        // Best first; ties keep configuration order.
        ranked.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        let n = ranked.len();
        let weight = |k: usize| cfg.max_weight - (cfg.max_weight - cfg.min_weight) * k as f64 / (n - 1) as f64;
        let total_w: f64 = (0..n).map(weight).sum();
        let total_eq: Decimal = ranked.iter().map(|r| r.2).sum();
        let shift = Decimal::from_f64_retain(cfg.max_shift_pct / 100.0).unwrap_or(Decimal::ZERO);
        let mut gives: Vec<(usize, Decimal)> = Vec::new();
        let mut needs: Vec<(usize, Decimal)> = Vec::new();
        for (k, &(a, _, equity, free)) in ranked.iter().enumerate() {
            let share = Decimal::from_f64_retain(weight(k) / total_w).unwrap_or(Decimal::ZERO);
            let delta = total_eq * share - equity;
            if delta < Decimal::ZERO {
                let give = cents((-delta).min(free).min(equity * shift));
                if give > Decimal::ZERO {
                    gives.push((a, give));
                }
            } else if delta > Decimal::ZERO {
                needs.push((a, delta));
            }
        }
        let total: Decimal = gives.iter().map(|g| g.1).sum();
        let need_total: Decimal = needs.iter().map(|n| n.1).sum();
        if total < Decimal::ONE || need_total <= Decimal::ZERO {
            return;
        }
        // Receivers' shares in cents, the rounding remainder to the neediest, so Σ in = Σ out.
        let mut receives: Vec<(usize, Decimal)> =
            needs.iter().map(|&(a, need)| (a, cents(total * need / need_total))).collect();
        let remainder = total - receives.iter().map(|r| r.1).sum::<Decimal>();
        if let Some(k) = (0..needs.len()).max_by(|&x, &y| needs[x].1.cmp(&needs[y].1).then(y.cmp(&x))) {
            receives[k].1 += remainder;
        }
        // Pair givers with receivers in order.
        let (mut gi, mut ri) = (0, 0);
        let mut left_give = gives.first().map_or(Decimal::ZERO, |g| g.1);
        let mut left_recv = receives.first().map_or(Decimal::ZERO, |r| r.1);
        let ranking: Vec<String> = ranked
            .iter()
            .enumerate()
            .map(|(k, r)| format!("{} Sharpe {:.2} → weight {:.2}", self.agents[r.0].id, r.1, weight(k)))
            .collect();
        let reason = format!("re-weighting by {}-day Sharpe: {}", cfg.lookback_days, ranking.join(", "));
        while gi < gives.len() && ri < receives.len() {
            let amount = left_give.min(left_recv);
            if amount > Decimal::ZERO {
                self.apply_transfer(gives[gi].0, receives[ri].0, amount, now, &reason, false, out);
            }
            left_give -= amount;
            left_recv -= amount;
            if left_give.is_zero() {
                gi += 1;
                left_give = gives.get(gi).map_or(Decimal::ZERO, |g| g.1);
            }
            if left_recv.is_zero() {
                ri += 1;
                left_recv = receives.get(ri).map_or(Decimal::ZERO, |r| r.1);
            }
        }
    }

    /// Moves `amount` of cash from agent `from` to agent `to` in the engine's ledger.
    #[allow(clippy::too_many_arguments)]
    fn apply_transfer(
        &mut self,
        from: usize,
        to: usize,
        amount: Decimal,
        now: i64,
        reason: &str,
        reversal: bool,
        out: &mut Outputs,
    ) {
        for (a, delta) in [(from, -amount), (to, amount)] {
            let markets = &self.markets;
            let slot = &mut self.agents[a];
            let before = slot.risk.guard.equity;
            slot.account.cash += delta;
            let d = decimal_to_f64(delta);
            if before > 0.0 && before + d > 0.0 {
                let f = (before + d) / before;
                slot.risk.guard.high_water *= f;
                slot.risk.guard.day_start *= f;
            }
            slot.risk.guard.equity = before + d;
            slot.tracker.on_flow(d);
            slot.risk.shadow.refresh(&slot.account, |s| markets.iter().position(|m| m.symbol() == s));
            if let Some(m) = self.adaptation.memory.get_mut(a)
                && let Some(prev) = &mut m.last_equity
            {
                *prev += d;
            }
        }
        let (from_id, to_id) = (self.agents[from].id, self.agents[to].id);
        let record = TransferRecord {
            ts_ms: now,
            from: from_id,
            to: to_id,
            amount,
            from_cash: self.agents[from].account.cash,
            to_cash: self.agents[to].account.cash,
            reason: reason.to_owned(),
            reversal,
        };
        let verb = if reversal { "reversed: moved back" } else { "moved" };
        self.log.push(LogEntry {
            ts_ms: now,
            agent: None,
            kind: LogKind::System,
            action: format!("capital {from_id} → {to_id} {amount}"),
            text: format!("{verb} {amount} of free cash from {from_id} to {to_id}: {reason}"),
            outcome: None,
            decision_id: None,
        });
        out.journal.push(JournalRecord::Transfer(record));
        if !reversal {
            self.adaptation.outbox.push(CapitalTransfer { ts_ms: now, from: from_id, to: to_id, amount });
        }
    }

    /// Transfers the venue must now perform (the driver takes them after each event).
    pub fn take_transfers(&mut self) -> Vec<CapitalTransfer> {
        std::mem::take(&mut self.adaptation.outbox)
    }

    /// The venue refused `t`: reverses it in the engine's ledger, journaled and logged.
    pub fn transfer_failed(&mut self, t: &CapitalTransfer, reason: &str, out: &mut Outputs) {
        let (Some(from), Some(to)) =
            (self.agents.iter().position(|s| s.id == t.from), self.agents.iter().position(|s| s.id == t.to))
        else {
            return;
        };
        let now = self.clock.now_ms();
        self.apply_transfer(to, from, t.amount, now, &format!("the venue refused the transfer: {reason}"), true, out);
    }
}

/// ATR(14) / close now and its median over the kept history of `tf`, in percent.
fn volatility(m: &MarketView, tf: Timeframe) -> (Option<f64>, Option<f64>) {
    let now = m.series.values(tf);
    let current = match (now.atr14, now.close) {
        (Some(a), c) if c > 0.0 => Some(a / c * 100.0),
        _ => None,
    };
    let mut hist: Vec<f64> = m
        .series
        .value_history(tf)
        .filter_map(|v| v.atr14.filter(|_| v.close > 0.0).map(|a| a / v.close * 100.0))
        .filter(|x| x.is_finite())
        .collect();
    if hist.len() < MIN_VOL_HISTORY {
        return (current, None);
    }
    hist.sort_by(f64::total_cmp);
    let usual = hist[hist.len() / 2];
    (current, Some(usual))
}
