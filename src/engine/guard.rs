//! Risk state the engine keeps beside the gate: circuit breakers, the facts the gate needs
//! (order rate, stop-outs, last closes), and always-on position protection.
//!
//! Breakers fail closed: a trip moves the agent (or the arena) to `Reducing` or `Halted` at
//! once, the daily-loss and drawdown breakers also flatten, an error while evaluating one halts,
//! and only the operator releases a breaker (`Command::ReleaseBreakers`, audited), which re-arms
//! it from the current equity. They are evaluated on every market event for the accounts it
//! moves, with an `f64` screen and an exact decimal confirmation, so a crash is caught on the
//! first print past the limit rather than at the next equity sample.

use std::collections::VecDeque;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{Account, Side, Symbol};
use crate::risk::TradingState;

/// What a breaker does when it trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerAction {
    /// Exits only.
    Reduce,
    /// Cancels only (protective orders stay).
    Halt,
    /// Halt, and close every position at market.
    HaltAndFlatten,
}

impl BreakerAction {
    pub fn state(self) -> TradingState {
        match self {
            BreakerAction::Reduce => TradingState::Reducing,
            BreakerAction::Halt | BreakerAction::HaltAndFlatten => TradingState::Halted,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BreakerAction::Reduce => "reduce-only",
            BreakerAction::Halt => "halt",
            BreakerAction::HaltAndFlatten => "halt + flatten",
        }
    }
}

/// The breakers the engine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerKind {
    DailyLoss,
    Drawdown,
    ConsecutiveLosses,
    RefusalRate,
    StaleData,
    Persistence,
    InternalError,
}

impl BreakerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerKind::DailyLoss => "daily_loss",
            BreakerKind::Drawdown => "drawdown",
            BreakerKind::ConsecutiveLosses => "consecutive_losses",
            BreakerKind::RefusalRate => "refusal_rate",
            BreakerKind::StaleData => "stale_data",
            BreakerKind::Persistence => "persistence",
            BreakerKind::InternalError => "internal_error",
        }
    }

    pub fn action(self) -> BreakerAction {
        match self {
            BreakerKind::DailyLoss | BreakerKind::Drawdown => BreakerAction::HaltAndFlatten,
            BreakerKind::ConsecutiveLosses | BreakerKind::RefusalRate => BreakerAction::Reduce,
            // Without a ledger we must not open risk, but exits (and their stops) still run.
            BreakerKind::StaleData | BreakerKind::Persistence => BreakerAction::Reduce,
            BreakerKind::InternalError => BreakerAction::Halt,
        }
    }
}

/// A tripped breaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trip {
    pub kind: BreakerKind,
    pub since_ms: i64,
    pub detail: String,
}

/// Equity references and counters shared by agent and arena breakers.
#[derive(Debug, Clone, Default)]
pub struct EquityGuard {
    /// Highest sampled equity (the high-water mark) since start or the last release.
    pub high_water: f64,
    /// UTC day (days since epoch) of `day_start`.
    pub day: i64,
    /// Equity when the UTC day started (or at the last release).
    pub day_start: f64,
    /// Latest evaluated equity.
    pub equity: f64,
    pub trips: Vec<Trip>,
}

impl EquityGuard {
    pub fn new(equity: f64) -> Self {
        Self { high_water: equity, day: i64::MIN, day_start: equity, equity, trips: Vec::new() }
    }

    pub fn tripped(&self, kind: BreakerKind) -> bool {
        self.trips.iter().any(|t| t.kind == kind)
    }

    /// The strictest state its trips impose.
    pub fn state(&self) -> TradingState {
        self.trips.iter().fold(TradingState::Active, |s, t| s.max(t.kind.action().state()))
    }

    /// Rolls the day reference at UTC midnight and raises the high-water mark (called with
    /// sampled equity).
    pub fn on_sample(&mut self, ts_ms: i64, equity: f64) {
        if !equity.is_finite() {
            return;
        }
        let day = ts_ms.div_euclid(86_400_000);
        if day != self.day {
            self.day = day;
            self.day_start = equity;
        }
        if equity > self.high_water {
            self.high_water = equity;
        }
    }

    /// Loss since the day started, percent of the day's starting equity (≥ 0 when losing).
    pub fn daily_loss_pct(&self) -> f64 {
        if self.day_start > 0.0 { (1.0 - self.equity / self.day_start) * 100.0 } else { 0.0 }
    }

    /// Fall from the high-water mark, percent.
    pub fn drawdown_pct(&self) -> f64 {
        if self.high_water > 0.0 { (1.0 - self.equity / self.high_water).max(0.0) * 100.0 } else { 0.0 }
    }

    /// Re-arms from the current equity (operator release).
    pub fn rearm(&mut self) {
        self.high_water = self.equity;
        self.day_start = self.equity;
        self.trips.clear();
    }
}

/// An `f64` shadow of an account for the per-event breaker screen (the confirmation is exact).
#[derive(Debug, Clone, Default)]
pub struct AccountShadow {
    pub cash: f64,
    /// (market index, qty, cost) per open position.
    pub positions: Vec<(usize, f64, f64)>,
}

impl AccountShadow {
    pub fn refresh(&mut self, account: &Account, market_index: impl Fn(Symbol) -> Option<usize>) {
        use crate::analytics::decimal_to_f64;
        self.cash = decimal_to_f64(account.cash);
        self.positions = account
            .positions
            .iter()
            .filter_map(|p| Some((market_index(p.symbol)?, decimal_to_f64(p.qty), decimal_to_f64(p.cost))))
            .collect();
    }

    pub fn holds(&self, market: usize) -> bool {
        self.positions.iter().any(|p| p.0 == market)
    }

    /// Equity at the given `f64` marks; a missing mark values the position at cost.
    pub fn equity(&self, marks: &[f64]) -> f64 {
        self.positions.iter().fold(self.cash, |e, &(k, qty, cost)| {
            let m = marks.get(k).copied().unwrap_or(0.0);
            if m > 0.0 { e + qty * m - cost } else { e }
        })
    }
}

/// Per-agent facts for the gate and the breakers.
#[derive(Debug, Clone)]
pub struct AgentRisk {
    pub guard: EquityGuard,
    pub shadow: AccountShadow,
    /// Times of agent-originated orders in the last minute.
    pub order_times: VecDeque<i64>,
    /// Last stop-out per symbol.
    pub stop_outs: Vec<(Symbol, i64)>,
    /// Direction and time of the last closed position per symbol.
    pub last_close: Vec<(Symbol, Side, i64)>,
    /// Last orders' outcomes: `true` = refused or rejected.
    pub outcomes: VecDeque<bool>,
    pub consecutive_losses: u32,
    /// Since when each open position lacks a live stop.
    pub unprotected_since: Vec<(Symbol, i64)>,
    /// Trips per breaker since start, for reports.
    pub trip_counts: std::collections::BTreeMap<BreakerKind, u64>,
}

impl AgentRisk {
    pub fn new(balance: Decimal) -> Self {
        Self {
            guard: EquityGuard::new(crate::analytics::decimal_to_f64(balance)),
            shadow: AccountShadow::default(),
            order_times: VecDeque::new(),
            stop_outs: Vec::new(),
            last_close: Vec::new(),
            outcomes: VecDeque::new(),
            consecutive_losses: 0,
            unprotected_since: Vec::new(),
            trip_counts: std::collections::BTreeMap::new(),
        }
    }

    pub fn orders_last_minute(&mut self, now: i64) -> u32 {
        while self.order_times.front().is_some_and(|t| *t <= now - 60_000) {
            self.order_times.pop_front();
        }
        u32::try_from(self.order_times.len()).unwrap_or(u32::MAX)
    }

    pub fn record_outcome(&mut self, refused: bool, window: u32) {
        self.outcomes.push_back(refused);
        while self.outcomes.len() > window as usize {
            self.outcomes.pop_front();
        }
    }

    /// Refused share of the last `window` orders, percent; `None` until the window is full.
    pub fn refusal_rate_pct(&self, window: u32) -> Option<f64> {
        (self.outcomes.len() >= window as usize && window > 0)
            .then(|| self.outcomes.iter().filter(|r| **r).count() as f64 / self.outcomes.len() as f64 * 100.0)
    }

    pub fn stop_out(&self, symbol: Symbol) -> Option<i64> {
        self.stop_outs.iter().find(|(s, _)| *s == symbol).map(|(_, t)| *t)
    }

    pub fn last_close(&self, symbol: Symbol) -> Option<(Side, i64)> {
        self.last_close.iter().find(|(s, ..)| *s == symbol).map(|(_, side, t)| (*side, *t))
    }

    pub fn set_stop_out(&mut self, symbol: Symbol, ts: i64) {
        self.stop_outs.retain(|(s, _)| *s != symbol);
        self.stop_outs.push((symbol, ts));
    }

    pub fn set_last_close(&mut self, symbol: Symbol, side: Side, ts: i64) {
        self.last_close.retain(|(s, ..)| *s != symbol);
        self.last_close.push((symbol, side, ts));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_rolls_at_utc_midnight_and_high_water_only_rises() {
        let mut g = EquityGuard::new(1000.0);
        g.on_sample(1_000, 1000.0);
        g.on_sample(2_000, 1100.0);
        g.equity = 1045.0;
        assert!((g.drawdown_pct() - 5.0).abs() < 1e-9);
        assert!((g.daily_loss_pct() + 4.5).abs() < 1e-9, "up 4.5% on the day");
        g.on_sample(86_400_000, 990.0);
        assert_eq!(g.day_start, 990.0);
        assert_eq!(g.high_water, 1100.0);
    }

    #[test]
    fn trips_decide_the_state() {
        let mut g = EquityGuard::new(1.0);
        assert_eq!(g.state(), TradingState::Active);
        g.trips.push(Trip { kind: BreakerKind::ConsecutiveLosses, since_ms: 0, detail: String::new() });
        assert_eq!(g.state(), TradingState::Reducing);
        g.trips.push(Trip { kind: BreakerKind::DailyLoss, since_ms: 0, detail: String::new() });
        assert_eq!(g.state(), TradingState::Halted);
        g.equity = 0.5;
        g.rearm();
        assert_eq!(g.state(), TradingState::Active);
        assert_eq!(g.high_water, 0.5);
    }

    #[test]
    fn order_rate_window_slides() {
        let mut r = AgentRisk::new(Decimal::ONE);
        for t in [0, 10_000, 50_000, 65_000] {
            r.order_times.push_back(t);
        }
        assert_eq!(r.orders_last_minute(70_000), 2);
    }
}
