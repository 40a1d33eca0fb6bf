//! The gate's checks, in order. Each refusal has its own [`RefusalCode`].
//!
//! The approved order carries the quantity floored to the lot grid and prices rounded to the
//! tick grid, and every limit is checked on those final numbers, so rounding can never push an
//! order past a cap. Orders that reduce exposure (exits, stops, targets, flattens) only need to
//! be well-formed and allowed by the trading state: refusing them would trap risk.

use rust_decimal::Decimal;

use super::limits::{ArenaLimits, RiskLimits};
use super::{RefusalCode, RiskApproved, RiskRefused, TradingState};
use crate::analytics::decimal_to_f64;
use crate::domain::{Account, Instrument, Marks, OrderKind, OrderPurpose, OrderRequest, Price, Side};

/// What the gate knows about the world around one order, beyond the account.
#[derive(Debug, Clone, Default)]
pub struct RiskContext {
    pub now_ms: i64,
    /// Realised annualised volatility of the order's symbol, in percent (None: not enough data).
    pub realized_vol_pct: Option<f64>,
    /// ATR(14) on 15-minute candles of the symbol, for default stops.
    pub atr: Option<f64>,
    /// Orders this agent sent in the last 60 s (agent-originated ones only).
    pub orders_last_minute: u32,
    /// When a stop-loss last closed this agent's position in the symbol.
    pub last_stop_out_ms: Option<i64>,
    /// Direction and time of this agent's last closed position in the symbol.
    pub last_close: Option<(Side, i64)>,
    /// Gross exposure and equity of all (non-benchmark) agents, and every agent's notional in
    /// this symbol.
    pub arena_gross: Decimal,
    pub arena_equity: Decimal,
    pub arena_symbol_notional: Decimal,
}

/// What the gate needs to judge one order.
pub struct RiskView<'a, M: Marks> {
    pub instrument: Option<&'a Instrument>,
    pub account: Option<&'a Account>,
    /// Mark/last price of the order's symbol.
    pub price: Option<Price>,
    pub marks: &'a M,
    /// The strictest of the agent's and the arena's trading state.
    pub state: TradingState,
    /// The agent's own limits when they differ from the gate's defaults.
    pub limits: Option<&'a RiskLimits>,
    /// Whether arena-wide limits apply to this account (benchmarks are excluded from them).
    pub counts_for_arena: bool,
    pub context: RiskContext,
}

/// The single pre-trade gate.
#[derive(Debug, Clone, Default)]
pub struct RiskGate {
    limits: RiskLimits,
    arena: ArenaLimits,
}

impl RiskGate {
    pub fn new(limits: RiskLimits) -> Self {
        Self { limits, arena: ArenaLimits::default() }
    }

    pub fn with_arena(limits: RiskLimits, arena: ArenaLimits) -> Self {
        Self { limits, arena }
    }

    /// The default limits of every agent.
    pub fn limits(&self) -> &RiskLimits {
        &self.limits
    }

    pub fn arena(&self) -> &ArenaLimits {
        &self.arena
    }

    /// The leverage cap for a symbol: target volatility / realised volatility, clamped to
    /// [1, min(limit, venue maximum)]; 1 when the volatility is unknown (fail closed).
    pub fn leverage_cap(limits: &RiskLimits, venue_max: Decimal, realized_vol_pct: Option<f64>) -> Decimal {
        let hard = venue_max.min(limits.max_leverage).max(Decimal::ONE);
        let Some(vol) = realized_vol_pct.filter(|v| v.is_finite() && *v > 0.0) else {
            return Decimal::ONE;
        };
        let scaled = limits.target_volatility_pct / vol;
        if !scaled.is_finite() {
            return Decimal::ONE;
        }
        // Two decimals are plenty for a cap; flooring keeps it conservative.
        let scaled = Decimal::from_f64_retain(scaled)
            .map_or(Decimal::ONE, |d| d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero));
        scaled.clamp(Decimal::ONE, hard)
    }

    /// Judges `request`. On approval the returned order is normalised to the venue grid, and
    /// an entry without a stop may have received the configured default stop.
    pub fn check<M: Marks>(
        &self,
        view: &RiskView<'_, M>,
        mut request: OrderRequest,
    ) -> Result<RiskApproved<OrderRequest>, RiskRefused> {
        let refuse = |code: RefusalCode, message: String, request: OrderRequest| RiskRefused {
            code,
            message,
            request: Box::new(request),
        };
        let limits = view.limits.unwrap_or(&self.limits);
        let Some(inst) = view.instrument else {
            let msg = format!("{} is not a configured instrument", request.symbol);
            return Err(refuse(RefusalCode::UnknownSymbol, msg, request));
        };
        let Some(account) = view.account else {
            let msg = format!("agent {} has no account", request.agent);
            return Err(refuse(RefusalCode::UnknownAccount, msg, request));
        };
        if request.qty <= Decimal::ZERO {
            let msg = format!("quantity {} is not positive", request.qty);
            return Err(refuse(RefusalCode::InvalidQuantity, msg, request));
        }
        let qty = inst.floor_qty(request.qty);
        if qty <= Decimal::ZERO {
            let msg = format!("quantity {} is below the lot size {}", request.qty, inst.lot_size);
            return Err(refuse(RefusalCode::InvalidQuantity, msg, request));
        }
        request.qty = qty;
        for (name, p) in [("stop_loss", request.stop_loss), ("take_profit", request.take_profit)] {
            if p.is_some_and(|p| p <= Decimal::ZERO) {
                let msg = format!("{name} {} is not positive", p.unwrap_or_default());
                return Err(refuse(RefusalCode::InvalidPrice, msg, request));
            }
        }
        request.stop_loss = request.stop_loss.map(|p| inst.round_price(p));
        request.take_profit = request.take_profit.map(|p| inst.round_price(p));
        if let Some(p) = request.kind.price() {
            let rounded = inst.round_price(p);
            if p <= Decimal::ZERO || rounded <= Decimal::ZERO {
                let msg =
                    format!("{} price {p} is not a positive price on tick {}", request.kind.name(), inst.tick_size);
                return Err(refuse(RefusalCode::InvalidPrice, msg, request));
            }
            request.kind = match request.kind {
                OrderKind::Market => OrderKind::Market,
                OrderKind::Limit { .. } => OrderKind::Limit { price: rounded },
                OrderKind::StopMarket { .. } => OrderKind::StopMarket { trigger: rounded },
                OrderKind::TakeProfitMarket { .. } => OrderKind::TakeProfitMarket { trigger: rounded },
            };
        }
        let Some(mark) = view.price.filter(|p| *p > Decimal::ZERO) else {
            let msg = format!("no market price for {} yet", request.symbol);
            return Err(refuse(RefusalCode::NoMarketPrice, msg, request));
        };
        let ref_price = request.kind.price().unwrap_or(mark);

        let held = account.qty(request.symbol);
        let delta = request.side.sign() * request.qty;
        // An order reduces exposure when it is opposite to the position and not larger than it.
        let reduces =
            !held.is_zero() && held.is_sign_positive() != delta.is_sign_positive() && request.qty <= held.abs();

        match view.state {
            // The kill switch, operator flattens and protective exits (stops, targets) must
            // still be able to close positions: halting never traps risk.
            TradingState::Halted
                if !(reduces
                    && matches!(
                        request.purpose,
                        OrderPurpose::Flatten | OrderPurpose::StopLoss | OrderPurpose::TakeProfit
                    )) =>
            {
                let msg = "trading is halted: only cancels, flattens and protective exits are accepted".to_owned();
                return Err(refuse(RefusalCode::TradingState, msg, request));
            }
            TradingState::Reducing if !reduces => {
                let msg = "trading is reduce-only: this order would add exposure".to_owned();
                return Err(refuse(RefusalCode::TradingState, msg, request));
            }
            _ => {}
        }
        if request.reduce_only && !reduces {
            let msg = if held.is_zero() {
                format!("reduce-only {} but there is no {} position", request.side.as_str(), request.symbol)
            } else {
                format!(
                    "reduce-only {} {} would exceed or add to the {held} position",
                    request.side.as_str(),
                    request.qty
                )
            };
            return Err(refuse(RefusalCode::ReduceOnlyWouldIncrease, msg, request));
        }
        if reduces {
            return Ok(RiskApproved::approve(request));
        }
        if !held.is_zero() {
            // Adding to or flipping a position through the gate is not supported: one entry per
            // position, so its stop and size are judged as a whole.
            let msg = format!("{} already has a {held} position: close it before a new entry", request.symbol);
            return Err(refuse(RefusalCode::PositionExists, msg, request));
        }

        if !inst.is_perp() && request.side == Side::Sell {
            let msg = format!("{} is spot: selling more than held ({held}) would be a short", request.symbol);
            return Err(refuse(RefusalCode::ShortNotAllowed, msg, request));
        }
        let band = Decimal::from_f64_retain(limits.price_band_pct / 100.0).unwrap_or(Decimal::ZERO);
        let (lo, hi) = (mark * (Decimal::ONE - band), mark * (Decimal::ONE + band));
        for (name, p) in
            [("order", request.kind.price()), ("stop_loss", request.stop_loss), ("take_profit", request.take_profit)]
        {
            if let Some(p) = p
                && (p < lo || p > hi)
            {
                let msg = format!("{name} price {p} is more than {}% from the mark {mark}", limits.price_band_pct);
                return Err(refuse(RefusalCode::PriceBand, msg, request));
            }
        }
        let Some(notional) = request.qty.checked_mul(ref_price) else {
            let msg = format!("quantity {} × price {ref_price} is out of range", request.qty);
            return Err(refuse(RefusalCode::InvalidQuantity, msg, request));
        };
        if notional < inst.min_notional {
            let msg = format!("notional {} is below the minimum {}", notional.round_dp(2), inst.min_notional);
            return Err(refuse(RefusalCode::BelowMinNotional, msg, request));
        }
        let venue_max = if inst.is_perp() { inst.max_leverage } else { Decimal::ONE };
        let cap = Self::leverage_cap(limits, venue_max, view.context.realized_vol_pct);
        if request.leverage < Decimal::ONE || request.leverage > cap {
            let vol = view.context.realized_vol_pct.map_or_else(|| "unknown".to_owned(), |v| format!("{v:.0}%"));
            let msg = format!(
                "leverage {} is outside 1..={cap} (cap = target vol {}% / realised vol {vol}, venue max {venue_max}, limit {})",
                request.leverage, limits.target_volatility_pct, limits.max_leverage
            );
            return Err(refuse(RefusalCode::LeverageAboveMax, msg, request));
        }
        if request.purpose == OrderPurpose::Entry && view.context.orders_last_minute >= limits.max_orders_per_minute {
            let msg = format!(
                "{} orders in the last minute (limit {})",
                view.context.orders_last_minute, limits.max_orders_per_minute
            );
            return Err(refuse(RefusalCode::RateLimited, msg, request));
        }
        let now = view.context.now_ms;
        if let Some(t) = view.context.last_stop_out_ms {
            let until = t + i64::from(limits.stop_out_cooldown_min) * 60_000;
            if now < until {
                let msg = format!(
                    "stopped out of {} {} min ago: cooling down for {} min",
                    request.symbol,
                    (now - t) / 60_000,
                    limits.stop_out_cooldown_min
                );
                return Err(refuse(RefusalCode::Cooldown, msg, request));
            }
        }
        if let Some((closed_side, t)) = view.context.last_close {
            let until = t + i64::from(limits.min_reversal_min) * 60_000;
            if closed_side != request.side && now < until {
                let msg = format!(
                    "reversal of {} within {} min of closing the previous position (flip-flop guard)",
                    request.symbol, limits.min_reversal_min
                );
                return Err(refuse(RefusalCode::Reversal, msg, request));
            }
        }

        // The stop: mandatory, on the right side, and the loss at it bounded.
        let long = request.side == Side::Buy;
        if request.stop_loss.is_none()
            && limits.require_stop_loss
            && let Some(k) = limits.default_stop_atr
            && let Some(atr) = view.context.atr.filter(|a| a.is_finite() && *a > 0.0)
        {
            let dist = k * atr;
            let stop = decimal_to_f64(ref_price) + if long { -dist } else { dist };
            request.stop_loss =
                Decimal::from_f64_retain(stop).map(|p| inst.round_price(p)).filter(|p| *p > Decimal::ZERO);
        }
        match request.stop_loss {
            None if limits.require_stop_loss => {
                let msg = "every entry needs a stop-loss".to_owned();
                return Err(refuse(RefusalCode::MissingStopLoss, msg, request));
            }
            Some(stop) if (long && stop >= ref_price) || (!long && stop <= ref_price) => {
                let msg = format!(
                    "stop_loss {stop} is on the wrong side of {ref_price} for a {}",
                    if long { "long" } else { "short" }
                );
                return Err(refuse(RefusalCode::InvalidPrice, msg, request));
            }
            _ => {}
        }
        if let Some(target) = request.take_profit
            && ((long && target <= ref_price) || (!long && target >= ref_price))
        {
            let msg = format!("take_profit {target} is on the wrong side of {ref_price}");
            return Err(refuse(RefusalCode::InvalidPrice, msg, request));
        }
        let marks = view.marks;
        let equity = account.equity(marks);
        if equity <= Decimal::ZERO {
            let msg = format!("equity is {}: no new risk", equity.round_dp(2));
            return Err(refuse(RefusalCode::InsufficientMargin, msg, request));
        }
        let pct_of_equity = |pct: f64| Decimal::from_f64_retain(pct / 100.0).map(|p| p * equity);
        if let Some(stop) = request.stop_loss {
            let risk = (ref_price - stop).abs() * request.qty;
            let max = pct_of_equity(limits.max_risk_per_trade_pct).unwrap_or(Decimal::ZERO);
            if risk > max {
                let msg = format!(
                    "loss at the stop {} exceeds {}% of equity ({})",
                    risk.round_dp(2),
                    limits.max_risk_per_trade_pct,
                    max.round_dp(2)
                );
                return Err(refuse(RefusalCode::RiskPerTrade, msg, request));
            }
            if let Some(min_rr) = limits.min_reward_risk {
                let rr = request
                    .take_profit
                    .map(|t| decimal_to_f64((t - ref_price).abs()) / decimal_to_f64((ref_price - stop).abs()));
                if rr.is_none_or(|rr| rr.is_nan() || rr < min_rr) {
                    let msg = match rr {
                        Some(rr) => format!("reward/risk {rr:.2} is below the minimum {min_rr}"),
                        None => format!("a take-profit is needed to judge the minimum reward/risk {min_rr}"),
                    };
                    return Err(refuse(RefusalCode::RewardRisk, msg, request));
                }
            }
        }
        if notional > limits.max_position_notional {
            let msg = format!(
                "notional {} exceeds the per-symbol limit {}",
                notional.round_dp(2),
                limits.max_position_notional
            );
            return Err(refuse(RefusalCode::PositionLimit, msg, request));
        }
        let alloc = pct_of_equity(limits.max_symbol_allocation_pct).unwrap_or(Decimal::ZERO);
        if notional > alloc {
            let msg = format!(
                "notional {} exceeds {}% of equity ({})",
                notional.round_dp(2),
                limits.max_symbol_allocation_pct,
                alloc.round_dp(2)
            );
            return Err(refuse(RefusalCode::AllocationLimit, msg, request));
        }
        if account.positions.len() >= limits.max_open_positions as usize {
            let msg = format!("{} positions open (limit {})", account.positions.len(), limits.max_open_positions);
            return Err(refuse(RefusalCode::MaxOpenPositions, msg, request));
        }
        let gross_after = account.gross_exposure(marks) + notional;
        let gross_max = Decimal::from_f64_retain(limits.max_gross_exposure_x).unwrap_or(Decimal::ZERO) * equity;
        if gross_after > gross_max {
            let msg = format!(
                "gross exposure would be {} (limit {}× equity = {})",
                gross_after.round_dp(2),
                limits.max_gross_exposure_x,
                gross_max.round_dp(2)
            );
            return Err(refuse(RefusalCode::GrossExposure, msg, request));
        }
        let net_after = (account.net_exposure(marks) + request.side.sign() * notional).abs();
        let net_max = Decimal::from_f64_retain(limits.max_net_exposure_x).unwrap_or(Decimal::ZERO) * equity;
        if net_after > net_max {
            let msg = format!(
                "net exposure would be {} (limit {}× equity = {})",
                net_after.round_dp(2),
                limits.max_net_exposure_x,
                net_max.round_dp(2)
            );
            return Err(refuse(RefusalCode::NetExposure, msg, request));
        }
        if view.counts_for_arena {
            let c = &view.context;
            let arena_max =
                Decimal::from_f64_retain(self.arena.max_gross_exposure_x).unwrap_or(Decimal::ZERO) * c.arena_equity;
            if c.arena_gross + notional > arena_max {
                let msg = format!(
                    "arena gross exposure would be {} (limit {}× arena equity = {})",
                    (c.arena_gross + notional).round_dp(2),
                    self.arena.max_gross_exposure_x,
                    arena_max.round_dp(2)
                );
                return Err(refuse(RefusalCode::ArenaExposure, msg, request));
            }
            if c.arena_symbol_notional + notional > self.arena.max_symbol_notional {
                let msg = format!(
                    "arena notional in {} would be {} (limit {})",
                    request.symbol,
                    (c.arena_symbol_notional + notional).round_dp(2),
                    self.arena.max_symbol_notional
                );
                return Err(refuse(RefusalCode::ArenaExposure, msg, request));
            }
        }
        let required = notional / request.leverage + notional * inst.taker_fee;
        let available = account.available(marks);
        if required > available {
            let msg = format!("needs {} margin+fee, {} available", required.round_dp(2), available.round_dp(2));
            return Err(refuse(RefusalCode::InsufficientMargin, msg, request));
        }
        Ok(RiskApproved::approve(request))
    }
}
