//! The engine's half of risk management: the facts the gate needs, circuit breakers, and
//! always-on position protection (engine-side stops and targets when the venue's are not live,
//! and closing positions left without a stop). See [`super::guard`] for the state and rules.

use rust_decimal::Decimal;

use super::core::Engine;
use super::event::Outputs;
use super::guard::{BreakerAction, BreakerKind, Trip};
use super::journal::{BreakerRecord, JournalRecord};
use super::snapshot::{BreakerEvent, BreakerView, LogEntry, LogKind};
use crate::agents::MarketView;
use crate::analytics::decimal_to_f64;
use crate::domain::{OrderKind, OrderPurpose, Side, Symbol, Timeframe};
use crate::risk::RiskContext;

impl Engine {
    /// What the gate needs to know about agent `a` for an order in `symbol`.
    pub(super) fn risk_context(&mut self, a: usize, symbol: Symbol, now: i64) -> RiskContext {
        let markets = &self.markets;
        let marks = |s: Symbol| markets.iter().find(|m| m.symbol() == s).and_then(MarketView::mark_or_last);
        let market = markets.iter().find(|m| m.symbol() == symbol);
        let mut arena_gross = Decimal::ZERO;
        let mut arena_equity = Decimal::ZERO;
        let mut arena_symbol_notional = Decimal::ZERO;
        for s in self.agents.iter() {
            if let Some(p) = s.account.position(symbol) {
                arena_symbol_notional += p.notional(marks(symbol).unwrap_or_else(|| p.entry_price()));
            }
            if !s.benchmark {
                arena_gross += s.account.gross_exposure(&marks);
                arena_equity += s.account.equity(&marks);
            }
        }
        let slot = &mut self.agents[a];
        RiskContext {
            now_ms: now,
            realized_vol_pct: market.and_then(|m| m.vol.annualized_pct()),
            atr: market.and_then(|m| m.series.values(Timeframe::M15).atr14),
            orders_last_minute: slot.risk.orders_last_minute(now),
            last_stop_out_ms: slot.risk.stop_out(symbol),
            last_close: slot.risk.last_close(symbol),
            arena_gross,
            arena_equity,
            arena_symbol_notional,
        }
    }

    /// Re-derives the agent's and the arena's trading state from their trips.
    pub(super) fn refresh_states(&mut self) {
        for slot in &mut self.agents {
            slot.state = slot.risk.guard.state();
        }
        self.global_state = self.arena_guard.state();
        self.global_reason = if self.arena_guard.trips.is_empty() {
            None
        } else {
            Some(self.arena_guard.trips.iter().map(|t| t.detail.clone()).collect::<Vec<_>>().join("; "))
        };
    }

    /// Trips a breaker of agent `a` (or the arena when `None`); a breaker already tripped stays as
    /// it is. Fail closed: the state changes before anything else happens.
    pub(super) fn trip(&mut self, a: Option<usize>, kind: BreakerKind, detail: String, now: i64, out: &mut Outputs) {
        let guard = match a {
            Some(a) => &mut self.agents[a].risk.guard,
            None => &mut self.arena_guard,
        };
        if guard.tripped(kind) {
            return;
        }
        guard.trips.push(Trip { kind, since_ms: now, detail: detail.clone() });
        if let Some(a) = a {
            *self.agents[a].risk.trip_counts.entry(kind).or_insert(0) += 1;
        }
        self.refresh_states();
        let agent = a.map(|a| self.agents[a].id);
        let action = kind.action();
        let scope = agent.map_or_else(|| "arena".to_owned(), |id| id.to_string());
        self.log.push(LogEntry {
            ts_ms: now,
            agent,
            kind: LogKind::System,
            action: format!("BREAKER {} ({})", kind.as_str(), action.as_str()),
            text: format!("{scope}: {detail}"),
            outcome: Some(format!("{} until released by the operator", action.state().as_str())),
            decision_id: None,
        });
        self.breaker_history.push(BreakerEvent {
            ts_ms: now,
            name: kind.as_str().to_owned(),
            agent,
            tripped: true,
            detail: detail.clone(),
        });
        out.journal.push(JournalRecord::Breaker(BreakerRecord {
            ts_ms: now,
            agent,
            breaker: kind,
            tripped: true,
            action,
            detail,
        }));
        self.journal_state(a, &format!("breaker {} tripped", kind.as_str()), now, out);
        if action == BreakerAction::HaltAndFlatten {
            match a {
                Some(a) => {
                    self.flatten(a, None, now, out);
                }
                None => {
                    for k in 0..self.agents.len() {
                        self.flatten(k, None, now, out);
                    }
                }
            }
        }
    }

    /// Operator release of every tripped breaker of agent `a` (or the arena); re-arms them from
    /// the current equity. Returns what was released.
    pub(super) fn release_breakers(&mut self, a: Option<usize>, now: i64, out: &mut Outputs) -> String {
        let guard = match a {
            Some(a) => &mut self.agents[a].risk.guard,
            None => &mut self.arena_guard,
        };
        if guard.trips.is_empty() {
            return "no breaker is tripped".to_owned();
        }
        let released: Vec<_> = guard.trips.iter().map(|t| t.kind).collect();
        guard.rearm();
        if let Some(a) = a {
            let risk = &mut self.agents[a].risk;
            risk.consecutive_losses = 0;
            risk.outcomes.clear();
        }
        self.refresh_states();
        let agent = a.map(|a| self.agents[a].id);
        for kind in &released {
            self.breaker_history.push(BreakerEvent {
                ts_ms: now,
                name: kind.as_str().to_owned(),
                agent,
                tripped: false,
                detail: "released by the operator".into(),
            });
            out.journal.push(JournalRecord::Breaker(BreakerRecord {
                ts_ms: now,
                agent,
                breaker: *kind,
                tripped: false,
                action: kind.action(),
                detail: "released by the operator".into(),
            }));
        }
        self.journal_state(a, "breakers released", now, out);
        let names: Vec<&str> = released.iter().map(|k| k.as_str()).collect();
        format!("released {}", names.join(", "))
    }

    /// Per-event risk work for market `i`: breaker screens for the accounts it moves and the
    /// protection of their positions.
    pub(super) fn after_market_risk(&mut self, i: usize, now: i64, out: &mut Outputs) {
        if let Some(p) = self.markets[i].mark_or_last() {
            self.marks_f[i] = decimal_to_f64(p);
        }
        let mut arena_moved = false;
        for a in 0..self.agents.len() {
            if !self.agents[a].risk.shadow.holds(i) {
                continue;
            }
            let equity = self.agents[a].risk.shadow.equity(&self.marks_f);
            self.agents[a].risk.guard.equity = equity;
            // Benchmarks measure the market: no breakers, but their positions are protected.
            if !self.agents[a].benchmark {
                arena_moved = true;
                self.check_equity_breakers(Some(a), now, out);
            }
            self.protect(a, i, now, out);
        }
        if arena_moved {
            self.arena_guard.equity = self.agents.iter().filter(|s| !s.benchmark).map(|s| s.risk.guard.equity).sum();
            self.check_equity_breakers(None, now, out);
        }
    }

    /// Daily-loss and drawdown screens on the cached `f64` equity, confirmed exactly.
    fn check_equity_breakers(&mut self, a: Option<usize>, now: i64, out: &mut Outputs) {
        let (guard, daily_limit, dd_limit) = match a {
            Some(a) => {
                let s = &self.agents[a];
                (&s.risk.guard, s.limits.daily_loss_limit_pct, s.limits.max_drawdown_pct)
            }
            None => {
                let arena = self.gate.arena();
                (&self.arena_guard, arena.daily_loss_limit_pct, arena.max_drawdown_pct)
            }
        };
        if !guard.equity.is_finite() {
            let detail = "equity could not be computed (non-finite): halting until checked".to_owned();
            return self.trip(a, BreakerKind::InternalError, detail, now, out);
        }
        let daily_screen = !guard.tripped(BreakerKind::DailyLoss) && guard.daily_loss_pct() >= daily_limit;
        let dd_screen = !guard.tripped(BreakerKind::Drawdown) && guard.drawdown_pct() >= dd_limit;
        if !daily_screen && !dd_screen {
            return;
        }
        // Exact confirmation at decimal marks.
        let Some(exact) = self.exact_equity(a) else {
            let detail = "equity overflowed while checking breakers: halting until checked".to_owned();
            return self.trip(a, BreakerKind::InternalError, detail, now, out);
        };
        let guard = match a {
            Some(a) => &mut self.agents[a].risk.guard,
            None => &mut self.arena_guard,
        };
        guard.equity = exact;
        let daily = guard.daily_loss_pct();
        let dd = guard.drawdown_pct();
        let (day_start, hwm) = (guard.day_start, guard.high_water);
        if daily_screen && daily >= daily_limit {
            let detail = format!(
                "daily loss {daily:.2}% ≥ {daily_limit}% limit (equity {exact:.2} vs {day_start:.2} at the day's start)"
            );
            self.trip(a, BreakerKind::DailyLoss, detail, now, out);
        }
        if dd_screen && dd >= dd_limit {
            let detail = format!("drawdown {dd:.2}% ≥ {dd_limit}% from the high-water mark {hwm:.2}");
            self.trip(a, BreakerKind::Drawdown, detail, now, out);
        }
    }

    /// Equity of agent `a` (or the non-benchmark arena) at exact decimal marks.
    fn exact_equity(&self, a: Option<usize>) -> Option<f64> {
        let markets = &self.markets;
        let marks = |s: Symbol| markets.iter().find(|m| m.symbol() == s).and_then(MarketView::mark_or_last);
        let mut total = Decimal::ZERO;
        for (k, s) in self.agents.iter().enumerate() {
            let included = match a {
                Some(a) => k == a,
                None => !s.benchmark,
            };
            if included {
                let mut e = s.account.cash;
                for p in &s.account.positions {
                    let m = marks(p.symbol).unwrap_or_else(|| p.entry_price());
                    e = e.checked_add(p.qty.checked_mul(m)?.checked_sub(p.cost)?)?;
                }
                total = total.checked_add(e)?;
            }
        }
        let f = decimal_to_f64(total);
        f.is_finite().then_some(f)
    }

    /// Engine-side protection of agent `a`'s position in market `i`: acts when the venue's stop
    /// or target is not live, and closes a position left without a stop past the grace period.
    fn protect(&mut self, a: usize, i: usize, now: i64, out: &mut Outputs) {
        /// What `protect` needs of an exit plan.
        struct PlanLevels {
            stop_loss: Option<Decimal>,
            profit_target: Option<Decimal>,
            stop_order: Option<crate::domain::OrderId>,
            target_order: Option<crate::domain::OrderId>,
        }

        let symbol = self.markets[i].symbol();
        let Some(price) = self.markets[i].mark_or_last() else { return };
        let slot = &self.agents[a];
        let held = slot.account.qty(symbol);
        if held.is_zero() {
            return;
        }
        let live = |id: Option<crate::domain::OrderId>| {
            id.is_some_and(|id| slot.open_orders.iter().any(|o| o.request.id == id))
        };
        let exit_in_flight = slot.open_orders.iter().any(|o| {
            o.request.symbol == symbol
                && o.request.kind == OrderKind::Market
                && matches!(
                    o.request.purpose,
                    OrderPurpose::Exit | OrderPurpose::StopLoss | OrderPurpose::TakeProfit | OrderPurpose::Flatten
                )
        });
        let long = held > Decimal::ZERO;
        // The plan's levels and order ids (all `Copy`): this runs on every market event for
        // every open position, so nothing is cloned or allocated unless an exit is due.
        let plan = slot.plan(symbol).map(|p| PlanLevels {
            stop_loss: p.stop_loss,
            profit_target: p.profit_target,
            stop_order: p.stop_order,
            target_order: p.target_order,
        });
        let stop_live = plan.as_ref().is_some_and(|p| live(p.stop_order));
        if let Some(plan) = &plan
            && !exit_in_flight
        {
            let stop_hit = plan.stop_loss.is_some_and(|s| if long { price <= s } else { price >= s }) && !stop_live;
            let target_hit = plan.profit_target.is_some_and(|t| if long { price >= t } else { price <= t })
                && !live(plan.target_order);
            if stop_hit || target_hit {
                let (purpose, why) = if stop_hit {
                    (
                        OrderPurpose::StopLoss,
                        format!(
                            "price {price} reached the stop {} and no venue stop is live",
                            plan.stop_loss.unwrap_or_default()
                        ),
                    )
                } else {
                    (
                        OrderPurpose::TakeProfit,
                        format!(
                            "price {price} reached the target {} and no venue target is live",
                            plan.profit_target.unwrap_or_default()
                        ),
                    )
                };
                self.protective_close(a, symbol, held, purpose, &why, now, out);
                return;
            }
        }
        // A position without a live stop, past the grace period, is closed.
        let limits = &self.agents[a].limits;
        if !limits.require_stop_loss {
            return;
        }
        let grace = i64::from(limits.unprotected_grace_secs) * 1000;
        let risk = &mut self.agents[a].risk;
        if stop_live {
            risk.unprotected_since.retain(|(s, _)| *s != symbol);
            return;
        }
        let since = match risk.unprotected_since.iter().find(|(s, _)| *s == symbol) {
            Some((_, t)) => *t,
            None => {
                risk.unprotected_since.push((symbol, now));
                now
            }
        };
        if now - since >= grace && !exit_in_flight {
            let why = format!("no live stop-loss for {} s (grace {} s)", (now - since) / 1000, grace / 1000);
            self.protective_close(a, symbol, held, OrderPurpose::Flatten, &why, now, out);
            self.agents[a].risk.unprotected_since.retain(|(s, _)| *s != symbol);
        }
    }

    /// Numeric invalidation levels that refer to market `i`: on every price update, or on the
    /// close of the named timeframe. A breached level closes the position it belongs to.
    pub(super) fn check_invalidations(
        &mut self,
        i: usize,
        closed: crate::market::candles::Closed,
        now: i64,
        out: &mut Outputs,
    ) {
        let market = &self.markets[i];
        let symbol = market.symbol();
        let mut to_close = Vec::new();
        for (a, slot) in self.agents.iter().enumerate() {
            for plan in &slot.plans {
                let Some(level) = plan.invalidation_level else { continue };
                if level.symbol.unwrap_or(plan.symbol) != symbol {
                    continue;
                }
                let price = match level.on_close_of {
                    None => market.mark_or_last(),
                    Some(tf) if closed.contains(tf) => market
                        .series
                        .last_closed(tf)
                        .and_then(|c| Decimal::from_f64_retain(c.close))
                        .map(|p| market.instrument.round_price(p)),
                    Some(_) => None,
                };
                let Some(price) = price else { continue };
                let breached = if level.below { price < level.price } else { price > level.price };
                let held = slot.account.qty(plan.symbol);
                let exiting = slot.open_orders.iter().any(|o| {
                    o.request.symbol == plan.symbol
                        && o.request.kind == OrderKind::Market
                        && matches!(
                            o.request.purpose,
                            OrderPurpose::Exit
                                | OrderPurpose::StopLoss
                                | OrderPurpose::TakeProfit
                                | OrderPurpose::Flatten
                        )
                });
                if breached && !held.is_zero() && !exiting {
                    let when = level.on_close_of.map_or_else(|| "price".to_owned(), |tf| format!("{tf} close"));
                    let why = format!(
                        "invalidation breached: {symbol} {when} {price} is {} {} ({})",
                        if level.below { "below" } else { "above" },
                        level.price,
                        plan.invalidation.clone().unwrap_or_default()
                    );
                    to_close.push((a, plan.symbol, held, why));
                }
            }
        }
        for (a, sym, held, why) in to_close {
            self.protective_close(a, sym, held, OrderPurpose::Exit, &why, now, out);
        }
    }

    /// Closes a position at market for protection, logging why.
    #[allow(clippy::too_many_arguments)]
    fn protective_close(
        &mut self,
        a: usize,
        symbol: Symbol,
        held: Decimal,
        purpose: OrderPurpose,
        why: &str,
        now: i64,
        out: &mut Outputs,
    ) {
        let side = if held > Decimal::ZERO { Side::Sell } else { Side::Buy };
        let req = self.new_request(a, symbol, side, held.abs(), OrderKind::Market, true, Decimal::ONE, purpose);
        let (outcome, _) = self.submit(a, req, None, now, out);
        self.log.push(LogEntry {
            ts_ms: now,
            agent: Some(self.agents[a].id),
            kind: LogKind::System,
            action: format!("protection: close {symbol}"),
            text: why.to_owned(),
            outcome: Some(outcome.label()),
            decision_id: None,
        });
    }

    /// Time-driven breakers (stale data) and protection of quiet markets; called on ticks.
    pub(super) fn risk_tick(&mut self, now: i64, out: &mut Outputs) {
        let limit_ms = i64::from(self.gate.arena().stale_data_secs) * 1000;
        let stale: Vec<(Symbol, i64)> = self
            .markets
            .iter()
            .filter_map(|m| m.stale_since_ms.map(|t| (m.symbol(), now - t)))
            .filter(|(_, age)| *age >= limit_ms)
            .collect();
        if let Some((symbol, age)) = stale.first() {
            let detail = format!("{symbol} data stale for {} s (limit {} s)", age / 1000, limit_ms / 1000);
            self.trip(None, BreakerKind::StaleData, detail, now, out);
        }
        for i in 0..self.markets.len() {
            for a in 0..self.agents.len() {
                if self.agents[a].risk.shadow.holds(i) {
                    self.protect(a, i, now, out);
                }
            }
        }
    }

    /// Breaker inputs after a refusal, rejection or approval of an agent-originated order.
    pub(super) fn record_order_outcome(&mut self, a: usize, refused: bool, now: i64, out: &mut Outputs) {
        if self.agents[a].benchmark {
            return;
        }
        let window = self.agents[a].limits.refusal_window;
        let limit = self.agents[a].limits.max_refusal_rate_pct;
        let risk = &mut self.agents[a].risk;
        risk.record_outcome(refused, window);
        if let Some(rate) = risk.refusal_rate_pct(window)
            && rate >= limit
        {
            let detail = format!("{rate:.0}% of the last {window} orders refused or rejected (limit {limit}%)");
            self.trip(Some(a), BreakerKind::RefusalRate, detail, now, out);
        }
    }

    /// Breaker inputs after a closed trade.
    pub(super) fn record_trade_result(&mut self, a: usize, net_pnl: Decimal, now: i64, out: &mut Outputs) {
        if self.agents[a].benchmark {
            return;
        }
        let max = self.agents[a].limits.max_consecutive_losses;
        let risk = &mut self.agents[a].risk;
        if net_pnl < Decimal::ZERO {
            risk.consecutive_losses += 1;
        } else {
            risk.consecutive_losses = 0;
        }
        let n = risk.consecutive_losses;
        if max > 0 && n >= max {
            self.trip(
                Some(a),
                BreakerKind::ConsecutiveLosses,
                format!("{n} losing trades in a row (limit {max})"),
                now,
                out,
            );
        }
    }

    /// The ledger could not commit: no new risk until the operator releases it.
    pub(super) fn persistence_failed(&mut self, detail: &str, now: i64, out: &mut Outputs) {
        self.trip(None, BreakerKind::Persistence, format!("ledger write failed: {detail}"), now, out);
    }

    /// Breakers for the snapshot: every configured breaker with its value and threshold.
    pub(super) fn breaker_views(&self) -> Vec<BreakerView> {
        fn view(
            kind: BreakerKind,
            agent: Option<crate::domain::AgentId>,
            guard: &super::guard::EquityGuard,
            value: f64,
            threshold: f64,
            unit: &str,
        ) -> BreakerView {
            let trip = guard.trips.iter().find(|t| t.kind == kind);
            BreakerView {
                name: kind.as_str().to_owned(),
                agent,
                tripped: trip.is_some(),
                action: kind.action().state(),
                value,
                threshold,
                unit: unit.to_owned(),
                since_ms: trip.map(|t| t.since_ms),
                detail: trip.map(|t| t.detail.clone()).unwrap_or_default(),
            }
        }
        let arena = self.gate.arena();
        let g = &self.arena_guard;
        let now = self.now_ms();
        let stale =
            self.markets.iter().filter_map(|m| m.stale_since_ms).map(|t| (now - t) as f64 / 1000.0).fold(0.0, f64::max);
        let mut views = vec![
            view(BreakerKind::DailyLoss, None, g, g.daily_loss_pct().max(0.0), arena.daily_loss_limit_pct, "%"),
            view(BreakerKind::Drawdown, None, g, g.drawdown_pct(), arena.max_drawdown_pct, "%"),
            view(BreakerKind::StaleData, None, g, stale, f64::from(arena.stale_data_secs), "s"),
            view(
                BreakerKind::Persistence,
                None,
                g,
                f64::from(u8::from(g.tripped(BreakerKind::Persistence))),
                1.0,
                "failures",
            ),
        ];
        if g.tripped(BreakerKind::InternalError) {
            views.push(view(BreakerKind::InternalError, None, g, 1.0, 1.0, "errors"));
        }
        for s in self.agents.iter().filter(|s| !s.benchmark) {
            let g = &s.risk.guard;
            let l = &s.limits;
            views.push(view(
                BreakerKind::DailyLoss,
                Some(s.id),
                g,
                g.daily_loss_pct().max(0.0),
                l.daily_loss_limit_pct,
                "%",
            ));
            views.push(view(BreakerKind::Drawdown, Some(s.id), g, g.drawdown_pct(), l.max_drawdown_pct, "%"));
            views.push(view(
                BreakerKind::ConsecutiveLosses,
                Some(s.id),
                g,
                f64::from(s.risk.consecutive_losses),
                f64::from(l.max_consecutive_losses),
                "trades",
            ));
            let rate = s.risk.refusal_rate_pct(l.refusal_window).unwrap_or(0.0);
            views.push(view(BreakerKind::RefusalRate, Some(s.id), g, rate, l.max_refusal_rate_pct, "%"));
            if g.tripped(BreakerKind::InternalError) {
                views.push(view(BreakerKind::InternalError, Some(s.id), g, 1.0, 1.0, "errors"));
            }
        }
        views
    }
}
