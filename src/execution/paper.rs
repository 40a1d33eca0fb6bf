//! The paper exchange: a deterministic venue simulator.
//!
//! Model (all documented choices, so results can be reasoned about):
//! - **Reference prices.** Quotes set bid/ask; trades set the last price; 1-minute bars (when the
//!   data has no trades or quotes — backtests on klines) walk an intra-bar path `open → low → high → close` for up bars and `open → high → low → close` for
//!   down bars (the adverse extreme first, the usual conservative convention). Without quotes
//!   (bar-only data) bid/ask are synthesised as last ∓ half of `synthetic_spread_bps`.
//! - **Taker fills** (market orders, triggered stops/take-profits, marketable limits) pay the
//!   spread plus a size impact `impact_bps × √(qty / V)` capped at `max_impact_bps`, where `V` is
//!   an exponential average of one-minute traded volume; prices are rounded to the tick against
//!   the taker. The whole quantity fills (the book is assumed deep enough once impact is paid).
//! - **Limit orders** rest and fill at their price (maker fee) only when the market trades
//!   *through* them; touching is not enough because queue position is unknown. A gap through
//!   the limit fills at the better gap price.
//! - **Stops and take-profits** trigger on the last price (trade, quote mid or bar path) and then
//!   fill as taker orders from the trigger price, or from the gap price if the market jumped past.
//! - **Reduce-only** orders are capped to the position they reduce and cancelled if there is
//!   nothing left to reduce when they trigger.
//! - **Margin** is cross per account; entries need initial margin (notional / leverage) plus the
//!   taker fee. **Liquidation** happens when equity at mark prices (last price without a mark feed)
//!   falls to the maintenance margin: every position of the account is closed at market and its
//!   resting orders are cancelled.
//! - **Funding** is paid at every UTC-aligned funding boundary of the instrument (8 h by default)
//!   on open perpetual positions: `−qty × mark × rate` (longs pay a positive rate).

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::{ExecEvent, ExecutionClient};
use crate::analytics::decimal_to_f64;
use crate::domain::{
    Account, AgentId, Fill, Instrument, Liquidity, MarketData, MarketEvent, Order, OrderId, OrderKind, OrderPurpose,
    OrderRequest, OrderStatus, Price, Qty, Side, Symbol, round_to_step,
};
use crate::risk::RiskApproved;

/// Paper venue settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaperConfig {
    /// Spread assumed when the data has no quotes (bars only), in basis points.
    pub synthetic_spread_bps: f64,
    /// Size impact in basis points for an order as large as one minute of volume (√ law).
    pub impact_bps: f64,
    /// Upper bound of the size impact, in basis points.
    pub max_impact_bps: f64,
}

impl Default for PaperConfig {
    fn default() -> Self {
        Self { synthetic_spread_bps: 2.0, impact_bps: 10.0, max_impact_bps: 100.0 }
    }
}

/// Per-instrument market state as the venue sees it.
#[derive(Debug, Clone, Default)]
struct Book {
    bid: Option<Price>,
    ask: Option<Price>,
    last: Option<Price>,
    mark: Option<Price>,
    funding_rate: Decimal,
    /// Index of the funding interval seen last (ts / interval).
    funding_period: Option<i64>,
    /// Exponential average of one-minute volume, in base units.
    minute_volume: f64,
    /// Mark (or last) price as `f64`, for the liquidation screen.
    mark_f: f64,
    /// Trades or quotes have been seen: closed bars then only carry volume (their path is the
    /// past minute, already traded through tick by tick).
    ticks: bool,
    /// Volume accumulated from trades in the current minute.
    trade_minute: i64,
    trade_minute_volume: f64,
}

/// Venue-side account: the ledger the venue itself keeps, plus an `f64` shadow of it for the
/// cheap liquidation screen run on every price event (the exact check is decimal).
#[derive(Debug, Clone)]
struct VenueAccount {
    account: Account,
    cash_f: f64,
    /// (instrument index, qty, cost, maintenance margin rate) per open position.
    positions_f: Vec<(usize, f64, f64, f64)>,
}

impl VenueAccount {
    fn new(account: Account, instruments: &[Instrument]) -> Self {
        let mut va = Self { account, cash_f: 0.0, positions_f: Vec::new() };
        va.refresh(instruments);
        va
    }

    /// Recomputes the `f64` shadow after the account changed (fills, funding).
    fn refresh(&mut self, instruments: &[Instrument]) {
        self.cash_f = decimal_to_f64(self.account.cash);
        self.positions_f = self
            .account
            .positions
            .iter()
            .filter_map(|p| {
                let k = instruments.iter().position(|i| i.symbol == p.symbol)?;
                Some((
                    k,
                    decimal_to_f64(p.qty),
                    decimal_to_f64(p.cost),
                    decimal_to_f64(instruments[k].maintenance_margin_rate),
                ))
            })
            .collect();
    }
}

/// The simulated venue.
pub struct PaperExchange {
    venue: String,
    config: PaperConfig,
    instruments: Vec<Instrument>,
    books: Vec<Book>,
    /// Resting orders per instrument, in arrival order (time priority).
    resting: Vec<Vec<Order>>,
    accounts: Vec<VenueAccount>,
    next_trade_id: u64,
}

impl PaperExchange {
    /// `first_trade_id` lets a resumed run continue the venue's trade-id sequence.
    pub fn new(config: PaperConfig, instruments: Vec<Instrument>, first_trade_id: u64) -> Self {
        let n = instruments.len();
        Self {
            venue: "paper".to_owned(),
            config,
            instruments,
            books: vec![Book::default(); n],
            resting: vec![Vec::new(); n],
            accounts: Vec::new(),
            next_trade_id: first_trade_id.max(1),
        }
    }

    /// Next trade id the venue will assign.
    pub fn next_trade_id(&self) -> u64 {
        self.next_trade_id
    }

    /// The venue's own view of an account (for reconciliation and "confirmed flat" checks).
    pub fn account(&self, agent: AgentId) -> Option<&Account> {
        self.accounts.iter().find(|a| a.account.agent == agent).map(|a| &a.account)
    }

    /// Replaces an account's state, e.g. when a run resumes from the ledger.
    pub fn restore_account(&mut self, account: Account) {
        match self.accounts.iter_mut().find(|a| a.account.agent == account.agent) {
            Some(a) => {
                a.account = account;
                a.refresh(&self.instruments);
            }
            None => self.accounts.push(VenueAccount::new(account, &self.instruments)),
        }
    }

    /// Puts back a resting order, e.g. when a run resumes from the ledger.
    pub fn restore_order(&mut self, order: Order) {
        if let Some(i) = self.index(order.request.symbol) {
            self.resting[i].push(order);
        }
    }

    /// Resting orders of every account, in time priority per symbol.
    pub fn resting_orders(&self) -> impl Iterator<Item = &Order> {
        self.resting.iter().flatten()
    }

    fn index(&self, symbol: Symbol) -> Option<usize> {
        self.instruments.iter().position(|i| i.symbol == symbol)
    }

    /// Valuation prices: mark if the venue has one, else the last price.
    fn marks(&self) -> impl Fn(Symbol) -> Option<Price> + '_ {
        move |s: Symbol| {
            let i = self.index(s)?;
            let b = &self.books[i];
            b.mark.or(b.last)
        }
    }

    /// Best bid and ask, synthesised around the last price when there are no quotes.
    fn touch(&self, i: usize) -> Option<(Price, Price)> {
        let b = &self.books[i];
        match (b.bid, b.ask) {
            (Some(bid), Some(ask)) => Some((bid, ask)),
            _ => {
                let last = b.last.or(b.mark)?;
                let half = f64_to_decimal(self.config.synthetic_spread_bps / 20_000.0);
                Some((last * (Decimal::ONE - half), last * (Decimal::ONE + half)))
            }
        }
    }

    /// Price a taker gets for `qty` on `side`, starting from `base` (the touch or a trigger).
    fn taker_price(&self, i: usize, side: Side, qty: Qty, base: Price) -> Price {
        let b = &self.books[i];
        let impact_bps = if b.minute_volume > 0.0 {
            let q = decimal_to_f64(qty);
            (self.config.impact_bps * (q / b.minute_volume).sqrt()).min(self.config.max_impact_bps)
        } else {
            0.0
        };
        let factor = f64_to_decimal(impact_bps / 10_000.0);
        let tick = self.instruments[i].tick_size;
        match side {
            Side::Buy => round_to_step(base * (Decimal::ONE + factor), tick, RoundingStrategy::AwayFromZero),
            Side::Sell => round_to_step(base * (Decimal::ONE - factor), tick, RoundingStrategy::ToZero),
        }
    }

    /// Base price for a taker order now: the ask for buys, the bid for sells.
    fn touch_for(&self, i: usize, side: Side) -> Option<Price> {
        let (bid, ask) = self.touch(i)?;
        Some(match side {
            Side::Buy => ask,
            Side::Sell => bid,
        })
    }

    fn reject(order: &mut Order, reason: String, out: &mut Vec<ExecEvent>) {
        order.status = OrderStatus::Rejected;
        out.push(ExecEvent::Rejected { order: order.clone(), reason });
    }

    /// Caps a reduce-only quantity to the position it reduces; `None` when nothing to reduce.
    fn reducible(&self, req: &OrderRequest, qty: Qty) -> Option<Qty> {
        let held = self.account(req.agent)?.qty(req.symbol);
        let opposite = !held.is_zero() && held.is_sign_positive() != req.side.sign().is_sign_positive();
        opposite.then(|| qty.min(held.abs()))
    }

    /// Executes `qty` of `order` at `price`, books it on the venue account and reports it.
    fn execute(
        &mut self,
        order: &mut Order,
        qty: Qty,
        price: Price,
        liquidity: Liquidity,
        ts_ms: i64,
        out: &mut Vec<ExecEvent>,
    ) {
        let Some(i) = self.index(order.request.symbol) else { return };
        let inst = &self.instruments[i];
        let rate = match liquidity {
            Liquidity::Maker => inst.maker_fee,
            Liquidity::Taker => inst.taker_fee,
        };
        let fee = (qty * price * rate).round_dp(8);
        let fill = Fill {
            venue: self.venue.clone(),
            trade_id: self.next_trade_id,
            order_id: order.request.id,
            agent: order.request.agent,
            symbol: order.request.symbol,
            side: order.request.side,
            qty,
            price,
            fee,
            liquidity,
            purpose: order.request.purpose,
            liquidation: false,
            ts_ms,
        };
        self.next_trade_id += 1;
        order.filled_qty += qty;
        order.updated_ms = ts_ms;
        order.status =
            if order.filled_qty >= order.request.qty { OrderStatus::Filled } else { OrderStatus::PartiallyFilled };
        let leverage = order.request.leverage;
        if let Some(va) = self.accounts.iter_mut().find(|a| a.account.agent == order.request.agent) {
            va.account.apply_fill(&fill, leverage);
            va.refresh(&self.instruments);
        }
        out.push(ExecEvent::Filled { fill, leverage, status: order.status });
    }

    /// What `order` may fill now: its remaining quantity, capped for a reduce-only order to the
    /// position it reduces. `None` when a reduce-only order has nothing left to reduce: it is
    /// then cancelled and the cancellation reported.
    fn fillable(&self, order: &mut Order, ts_ms: i64, out: &mut Vec<ExecEvent>) -> Option<Qty> {
        let qty = order.remaining();
        if !order.request.reduce_only {
            return Some(qty);
        }
        let q = self.reducible(&order.request, qty);
        if q.is_none() {
            order.status = OrderStatus::Cancelled;
            out.push(ExecEvent::Cancelled {
                order_id: order.request.id,
                agent: order.request.agent,
                symbol: order.request.symbol,
                reason: "reduce-only order has no position left to reduce".into(),
                ts_ms,
            });
        }
        q
    }

    /// Fills a taker order now from `base` (the touch), never worse than a limit price if the
    /// order has one; reduce-only orders are capped to the position they reduce.
    fn take(&mut self, order: &mut Order, base: Price, ts_ms: i64, out: &mut Vec<ExecEvent>) {
        let Some(i) = self.index(order.request.symbol) else { return };
        let Some(qty) = self.fillable(order, ts_ms, out) else { return };
        let mut price = self.taker_price(i, order.request.side, qty, base);
        if let OrderKind::Limit { price: limit } = order.request.kind {
            price = match order.request.side {
                Side::Buy => price.min(limit),
                Side::Sell => price.max(limit),
            };
        }
        self.execute(order, qty, price, Liquidity::Taker, ts_ms, out);
        if order.status == OrderStatus::PartiallyFilled && order.request.reduce_only {
            // The rest of a capped reduce-only order has nothing to reduce.
            order.status = OrderStatus::Cancelled;
            out.push(ExecEvent::Cancelled {
                order_id: order.request.id,
                agent: order.request.agent,
                symbol: order.request.symbol,
                reason: "reduce-only remainder exceeds the position".into(),
                ts_ms,
            });
        }
    }

    /// Venue-side margin check for orders that add exposure.
    fn margin_ok(&self, req: &OrderRequest, price: Price) -> Result<(), String> {
        let Some(i) = self.index(req.symbol) else { return Err("unknown symbol".into()) };
        let inst = &self.instruments[i];
        let Some(acc) = self.account(req.agent) else { return Err("no such account".into()) };
        let held = acc.qty(req.symbol);
        let reduces =
            !held.is_zero() && held.is_sign_positive() != req.side.sign().is_sign_positive() && req.qty <= held.abs();
        if reduces {
            return Ok(());
        }
        if !inst.is_perp() && req.side == Side::Sell {
            return Err("spot: cannot sell more than held".into());
        }
        let notional = req.qty * price;
        let lev = if inst.is_perp() { req.leverage.max(Decimal::ONE) } else { Decimal::ONE };
        let required = notional / lev + notional * inst.taker_fee;
        let available = acc.available(&self.marks());
        if required > available {
            return Err(format!(
                "insufficient margin: needs {}, {} available",
                required.round_dp(2),
                available.round_dp(2)
            ));
        }
        Ok(())
    }

    /// Walks the resting orders of instrument `i` along a price move `from → to`.
    ///
    /// `continuous` says the market traded through every price in between (a bar's path), so a
    /// triggered stop executes from its trigger price; otherwise (a new print or quote, a bar's
    /// opening gap) it executes at the touch as it is now.
    fn sweep(&mut self, i: usize, from: Price, to: Price, continuous: bool, ts_ms: i64, out: &mut Vec<ExecEvent>) {
        if self.resting[i].is_empty() {
            return;
        }
        let lo = from.min(to);
        let hi = from.max(to);
        // Orders reached on this segment, with their limit/trigger price.
        let mut hits: Vec<(usize, Price, bool)> = Vec::new();
        for (k, o) in self.resting[i].iter().enumerate() {
            let side = o.request.side;
            let (level, is_limit, reached) = match o.request.kind {
                // Limits need the market to trade through them (queue position is unknown).
                OrderKind::Limit { price } => (
                    price,
                    true,
                    match side {
                        Side::Buy => lo < price,
                        Side::Sell => hi > price,
                    },
                ),
                // Sell stops protect longs (reached on the way down); buy stops protect shorts.
                OrderKind::StopMarket { trigger } => (
                    trigger,
                    false,
                    match side {
                        Side::Sell => lo <= trigger,
                        Side::Buy => hi >= trigger,
                    },
                ),
                OrderKind::TakeProfitMarket { trigger } => (
                    trigger,
                    false,
                    match side {
                        Side::Sell => hi >= trigger,
                        Side::Buy => lo <= trigger,
                    },
                ),
                OrderKind::Market => (from, false, true),
            };
            if reached {
                hits.push((k, level, is_limit));
            }
        }
        if hits.is_empty() {
            return;
        }
        // Execute in the order the path reaches them; ties keep time priority.
        hits.sort_by(|a, b| (a.1 - from).abs().cmp(&(b.1 - from).abs()).then(a.0.cmp(&b.0)));
        let half_spread = f64_to_decimal(self.config.synthetic_spread_bps / 20_000.0);
        let mut done: Vec<usize> = Vec::with_capacity(hits.len());
        for (k, level, is_limit) in hits {
            let mut order = self.resting[i][k].clone();
            if is_limit {
                let Some(qty) = self.fillable(&mut order, ts_ms, out) else {
                    done.push(k);
                    continue;
                };
                self.execute(&mut order, qty, level, Liquidity::Maker, ts_ms, out);
                if order.status == OrderStatus::PartiallyFilled && order.request.reduce_only {
                    order.status = OrderStatus::Cancelled;
                }
            } else {
                let side = order.request.side;
                let base = if continuous {
                    match side {
                        Side::Buy => level * (Decimal::ONE + half_spread),
                        Side::Sell => level * (Decimal::ONE - half_spread),
                    }
                } else {
                    self.touch_for(i, side).unwrap_or(to)
                };
                out.push(ExecEvent::Triggered {
                    order_id: order.request.id,
                    agent: order.request.agent,
                    symbol: order.request.symbol,
                    price: if continuous { level } else { to },
                    ts_ms,
                });
                self.take(&mut order, base, ts_ms, out);
            }
            if order.status.is_terminal() {
                done.push(k);
            }
            self.resting[i][k] = order;
        }
        done.sort_unstable();
        done.dedup();
        for k in done.into_iter().rev() {
            self.resting[i].remove(k);
        }
    }

    /// Pays funding when `ts_ms` enters a new funding interval of instrument `i`.
    fn settle_funding(&mut self, i: usize, ts_ms: i64, out: &mut Vec<ExecEvent>) {
        let inst = &self.instruments[i];
        if !inst.is_perp() || inst.funding_interval_ms <= 0 {
            return;
        }
        let period = ts_ms.div_euclid(inst.funding_interval_ms);
        let book = &mut self.books[i];
        // The period only moves forward: an older event (a REST poll stamped earlier, bars
        // backfilled after a reconnect) must not rewind it, or the next live event would pay
        // the same funding again.
        let previous = book.funding_period;
        if previous.is_some_and(|p| period <= p) {
            return;
        }
        book.funding_period = Some(period);
        if previous.is_none() {
            return;
        }
        let Some(mark) = book.mark.or(book.last) else { return };
        let rate = book.funding_rate;
        let symbol = inst.symbol;
        let settle_ms = period * inst.funding_interval_ms;
        for va in &mut self.accounts {
            let qty = va.account.qty(symbol);
            if qty.is_zero() || rate.is_zero() {
                continue;
            }
            let amount = (-(qty * mark * rate)).round_dp(8);
            va.account.apply_funding(symbol, amount);
            va.refresh(&self.instruments);
            out.push(ExecEvent::Funding { agent: va.account.agent, symbol, rate, mark, amount, ts_ms: settle_ms });
        }
    }

    /// Liquidates every account holding instrument `i` whose equity fell to maintenance margin.
    fn check_liquidations(&mut self, i: usize, ts_ms: i64, out: &mut Vec<ExecEvent>) {
        let mut to_liquidate = Vec::new();
        for (a, va) in self.accounts.iter().enumerate() {
            if !va.positions_f.iter().any(|p| p.0 == i) {
                continue;
            }
            // A cheap f64 screen on the shadow first; the exact decimal check only near the edge.
            let mut equity = va.cash_f;
            let mut maint = 0.0;
            for &(k, qty, cost, mmr) in &va.positions_f {
                let mark = self.books[k].mark_f;
                let mark = if mark > 0.0 {
                    mark
                } else if qty != 0.0 {
                    cost / qty
                } else {
                    0.0
                };
                equity += qty * mark - cost;
                maint += (qty * mark).abs() * mmr;
            }
            if equity > maint * 1.02 + 1e-9 {
                continue;
            }
            let marks = self.marks();
            let mmr = |s: Symbol| self.index(s).map_or(Decimal::ZERO, |k| self.instruments[k].maintenance_margin_rate);
            if va.account.equity(&marks) <= va.account.maintenance_margin(&marks, mmr) {
                to_liquidate.push(a);
            }
        }
        for a in to_liquidate {
            self.liquidate(a, ts_ms, out);
        }
    }

    fn liquidate(&mut self, a: usize, ts_ms: i64, out: &mut Vec<ExecEvent>) {
        let agent = self.accounts[a].account.agent;
        for i in 0..self.instruments.len() {
            let symbol = self.instruments[i].symbol;
            let mut kept = Vec::new();
            for o in std::mem::take(&mut self.resting[i]) {
                if o.request.agent == agent {
                    out.push(ExecEvent::Cancelled {
                        order_id: o.request.id,
                        agent,
                        symbol,
                        reason: "account liquidated".into(),
                        ts_ms,
                    });
                } else {
                    kept.push(o);
                }
            }
            self.resting[i] = kept;
        }
        let positions: Vec<(Symbol, Qty)> =
            self.accounts[a].account.positions.iter().map(|p| (p.symbol, p.qty)).collect();
        for (symbol, qty) in positions {
            let Some(i) = self.index(symbol) else { continue };
            let side = if qty.is_sign_positive() { Side::Sell } else { Side::Buy };
            let Some(base) = self.touch_for(i, side) else { continue };
            let price = self.taker_price(i, side, qty.abs(), base);
            let inst = &self.instruments[i];
            let fill = Fill {
                venue: self.venue.clone(),
                trade_id: self.next_trade_id,
                order_id: OrderId(0),
                agent,
                symbol,
                side,
                qty: qty.abs(),
                price,
                fee: (qty.abs() * price * inst.taker_fee).round_dp(8),
                liquidity: Liquidity::Taker,
                purpose: OrderPurpose::Flatten,
                liquidation: true,
                ts_ms,
            };
            self.next_trade_id += 1;
            self.accounts[a].account.apply_fill(&fill, Decimal::ONE);
            self.accounts[a].refresh(&self.instruments);
            out.push(ExecEvent::Filled { fill, leverage: Decimal::ONE, status: OrderStatus::Filled });
        }
    }

    fn update_volume_from_trade(book: &mut Book, ts_ms: i64, qty: f64) {
        let minute = ts_ms.div_euclid(60_000);
        if minute != book.trade_minute {
            if book.trade_minute_volume > 0.0 {
                Self::blend_volume(book, book.trade_minute_volume);
            }
            book.trade_minute = minute;
            book.trade_minute_volume = 0.0;
        }
        book.trade_minute_volume += qty;
    }

    fn blend_volume(book: &mut Book, v: f64) {
        if !v.is_finite() || v <= 0.0 {
            return;
        }
        book.minute_volume = if book.minute_volume > 0.0 { 0.9 * book.minute_volume + 0.1 * v } else { v };
    }
}

impl ExecutionClient for PaperExchange {
    fn venue(&self) -> &str {
        &self.venue
    }

    fn open_account(&mut self, agent: AgentId, balance: Decimal) {
        if self.account(agent).is_none() {
            self.accounts.push(VenueAccount::new(Account::new(agent, balance), &self.instruments));
        }
    }

    fn submit(&mut self, approved: RiskApproved<OrderRequest>, now_ms: i64, out: &mut Vec<ExecEvent>) {
        let request = approved.into_inner();
        let mut order = Order {
            request,
            status: OrderStatus::Open,
            filled_qty: Decimal::ZERO,
            created_ms: now_ms,
            updated_ms: now_ms,
        };
        let Some(i) = self.index(order.request.symbol) else {
            let reason = format!("{} is not listed on the paper venue", order.request.symbol);
            return Self::reject(&mut order, reason, out);
        };
        if self.account(order.request.agent).is_none() {
            let reason = format!("no paper account for {}", order.request.agent);
            return Self::reject(&mut order, reason, out);
        }
        let Some(touch) = self.touch_for(i, order.request.side) else {
            return Self::reject(&mut order, "no market price yet".into(), out);
        };
        let check_price = order.request.kind.price().unwrap_or(touch);
        if !order.request.reduce_only
            && let Err(reason) = self.margin_ok(&order.request, check_price)
        {
            return Self::reject(&mut order, reason, out);
        }
        out.push(ExecEvent::Accepted { order: order.clone() });
        let last = self.books[i].last.unwrap_or(touch);
        match order.request.kind {
            OrderKind::Market => self.take(&mut order, touch, now_ms, out),
            OrderKind::Limit { price } => {
                let marketable = match order.request.side {
                    Side::Buy => price >= touch,
                    Side::Sell => price <= touch,
                };
                if marketable {
                    self.take(&mut order, touch, now_ms, out);
                } else {
                    self.resting[i].push(order);
                }
            }
            OrderKind::StopMarket { trigger } | OrderKind::TakeProfitMarket { trigger } => {
                // A stop or target that is already through acts at once rather than waiting. A
                // sell stop and a buy target trigger at or below their level, the others above.
                let stop = matches!(order.request.kind, OrderKind::StopMarket { .. });
                let below = (order.request.side == Side::Sell) == stop;
                let through = if below { last <= trigger } else { last >= trigger };
                if through {
                    out.push(ExecEvent::Triggered {
                        order_id: order.request.id,
                        agent: order.request.agent,
                        symbol: order.request.symbol,
                        price: last,
                        ts_ms: now_ms,
                    });
                    self.take(&mut order, touch, now_ms, out);
                } else {
                    self.resting[i].push(order);
                }
            }
        }
    }

    fn cancel(&mut self, agent: AgentId, order_id: OrderId, reason: &str, now_ms: i64, out: &mut Vec<ExecEvent>) {
        for book in &mut self.resting {
            if let Some(k) = book.iter().position(|o| o.request.id == order_id && o.request.agent == agent) {
                let o = book.remove(k);
                out.push(ExecEvent::Cancelled {
                    order_id,
                    agent,
                    symbol: o.request.symbol,
                    reason: reason.to_owned(),
                    ts_ms: now_ms,
                });
                return;
            }
        }
    }

    fn venue_account(&self, agent: AgentId) -> Option<Account> {
        self.account(agent).cloned()
    }

    fn venue_open_orders(&self) -> Vec<Order> {
        self.resting_orders().cloned().collect()
    }

    fn restore_state(&mut self, accounts: &[Account], open_orders: &[Order], next_trade_id: u64) {
        self.next_trade_id = self.next_trade_id.max(next_trade_id);
        for a in accounts {
            self.restore_account(a.clone());
        }
        for o in open_orders {
            // Market orders never rest; anything else that was open rests again.
            if o.request.kind != OrderKind::Market {
                self.restore_order(o.clone());
            }
        }
    }

    fn transfer(&mut self, from: AgentId, to: AgentId, amount: Decimal, _now_ms: i64) -> Result<(), String> {
        if amount <= Decimal::ZERO {
            return Err(format!("transfer amount {amount} is not positive"));
        }
        let find = |id: AgentId| self.accounts.iter().position(|a| a.account.agent == id);
        let (Some(f), Some(t)) = (find(from), find(to)) else {
            return Err(format!("no paper account for {from} or {to}"));
        };
        let free = {
            let marks = self.marks();
            let acc = &self.accounts[f].account;
            let margin = acc.used_margin();
            // Only cash that backs no position may leave: margin in use is never touched.
            (acc.cash - margin).min(acc.equity(&marks) - margin)
        };
        if amount > free {
            return Err(format!("{from} has {} of free cash, {amount} asked", free.round_dp(2)));
        }
        self.accounts[f].account.cash -= amount;
        self.accounts[t].account.cash += amount;
        let instruments = self.instruments.clone();
        self.accounts[f].refresh(&instruments);
        self.accounts[t].refresh(&instruments);
        Ok(())
    }

    fn on_market(&mut self, event: &MarketEvent, out: &mut Vec<ExecEvent>) {
        let Some(i) = self.index(event.symbol) else { return };
        let ts = event.ts_ms;
        match &event.data {
            MarketData::Trade { price, qty, .. } => {
                let from = self.books[i].last.unwrap_or(*price);
                let book = &mut self.books[i];
                book.ticks = true;
                book.last = Some(*price);
                // A print outside the quoted touch means the quote is stale: synthesise the
                // touch around the print until the next quote arrives.
                if book.bid.is_some_and(|b| *price < b) || book.ask.is_some_and(|a| *price > a) {
                    book.bid = None;
                    book.ask = None;
                }
                Self::update_volume_from_trade(book, ts, decimal_to_f64(*qty));
                self.sweep(i, from, *price, false, ts, out);
            }
            MarketData::Quote { bid, ask, .. } => {
                let mid = (*bid + *ask) / Decimal::TWO;
                let from = self.books[i].last.unwrap_or(mid);
                let book = &mut self.books[i];
                book.ticks = true;
                book.bid = Some(*bid);
                book.ask = Some(*ask);
                book.last = Some(mid);
                self.sweep(i, from, mid, false, ts, out);
            }
            MarketData::Bar(bar) if self.books[i].ticks => {
                // Live ticks already walked this minute: the closed bar only updates the volume
                // average (replaying its range would fill orders at past prices).
                if self.books[i].trade_minute_volume <= 0.0 {
                    Self::blend_volume(&mut self.books[i], decimal_to_f64(bar.volume));
                }
            }
            MarketData::Bar(bar) => {
                // Bars replace quotes: synthesise the touch around the bar's prices.
                {
                    let book = &mut self.books[i];
                    book.bid = None;
                    book.ask = None;
                }
                let (first, second) = if bar.close >= bar.open { (bar.low, bar.high) } else { (bar.high, bar.low) };
                // The open is a jump from the previous price (nothing traded in between), then
                // the path is continuous through the extremes to the close.
                let previous = self.books[i].last.unwrap_or(bar.open);
                self.books[i].last = Some(bar.open);
                self.sweep(i, previous, bar.open, false, ts, out);
                let mut from = bar.open;
                for to in [first, second, bar.close] {
                    self.books[i].last = Some(to);
                    self.sweep(i, from, to, true, ts, out);
                    from = to;
                }
                self.books[i].last = Some(bar.close);
                Self::blend_volume(&mut self.books[i], decimal_to_f64(bar.volume));
            }
            MarketData::Mark { mark, funding_rate, .. } => {
                let book = &mut self.books[i];
                book.mark = Some(*mark);
                if let Some(r) = funding_rate {
                    book.funding_rate = *r;
                }
            }
            MarketData::OpenInterest { .. } | MarketData::LongShortRatio { .. } => return,
        }
        self.settle_funding(i, ts, out);
        // Liquidation is judged at the mark price, as venues do; without a mark feed, at the
        // last price. Only a price that can move the mark triggers a check.
        let book = &mut self.books[i];
        let is_mark = matches!(event.data, MarketData::Mark { .. });
        if is_mark || book.mark.is_none() {
            if let Some(p) = book.mark.or(book.last) {
                book.mark_f = decimal_to_f64(p);
            }
            self.check_liquidations(i, ts, out);
        }
    }
}

fn f64_to_decimal(x: f64) -> Decimal {
    Decimal::from_f64_retain(x).unwrap_or(Decimal::ZERO).round_dp(12)
}
