//! The gate's checks. Each refusal has its own [`RefusalCode`]; the approved order carries the
//! quantity floored to the lot grid and prices rounded to the tick grid, so rounding can never
//! increase size past what was checked.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{RefusalCode, RiskApproved, RiskRefused, TradingState};
use crate::domain::{Account, Instrument, Marks, OrderKind, OrderPurpose, OrderRequest, Price, Side};

/// Limits enforced by the gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskLimits {
    /// Highest leverage any order may use (the venue's own maximum also applies).
    pub max_leverage: Decimal,
}

impl Default for RiskLimits {
    fn default() -> Self {
        Self { max_leverage: Decimal::from(10) }
    }
}

/// What the gate needs to know about the world to judge one order.
pub struct RiskView<'a, M: Marks> {
    pub instrument: Option<&'a Instrument>,
    pub account: Option<&'a Account>,
    /// Mark/last price of the order's symbol.
    pub price: Option<Price>,
    pub marks: &'a M,
    /// The stricter of the agent's and the arena's trading state.
    pub state: TradingState,
}

/// The single pre-trade gate.
#[derive(Debug, Clone, Default)]
pub struct RiskGate {
    limits: RiskLimits,
}

impl RiskGate {
    pub fn new(limits: RiskLimits) -> Self {
        Self { limits }
    }

    pub fn limits(&self) -> &RiskLimits {
        &self.limits
    }

    /// Judges `request`. On approval the returned order is normalised to the venue grid.
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
        if let Some(p) = request.kind.price() {
            if p <= Decimal::ZERO {
                let msg = format!("{} price {p} is not positive", request.kind.name());
                return Err(refuse(RefusalCode::InvalidPrice, msg, request));
            }
            let rounded = inst.round_price(p);
            if rounded <= Decimal::ZERO {
                let msg = format!("{} price {p} rounds to zero on tick {}", request.kind.name(), inst.tick_size);
                return Err(refuse(RefusalCode::InvalidPrice, msg, request));
            }
            request.kind = match request.kind {
                OrderKind::Market => OrderKind::Market,
                OrderKind::Limit { .. } => OrderKind::Limit { price: rounded },
                OrderKind::StopMarket { .. } => OrderKind::StopMarket { trigger: rounded },
                OrderKind::TakeProfitMarket { .. } => OrderKind::TakeProfitMarket { trigger: rounded },
            };
        }
        let Some(ref_price) = request.kind.price().or(view.price) else {
            let msg = format!("no market price for {} yet", request.symbol);
            return Err(refuse(RefusalCode::NoMarketPrice, msg, request));
        };

        let held = account.qty(request.symbol);
        let delta = request.side.sign() * request.qty;
        // An order reduces exposure when it is opposite to the position and not larger than it.
        let reduces =
            !held.is_zero() && held.is_sign_positive() != delta.is_sign_positive() && request.qty <= held.abs();

        match view.state {
            // The kill switch and operator flattens must still be able to close positions.
            TradingState::Halted if !(reduces && request.purpose == OrderPurpose::Flatten) => {
                let msg = "trading is halted: only cancels and operator flattens are accepted".to_owned();
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
            // Exits are always allowed once they are well-formed: refusing them would trap risk.
            return Ok(RiskApproved::approve(request));
        }

        if !inst.is_perp() && request.side == Side::Sell {
            let msg = format!("{} is spot: selling more than held ({held}) would be a short", request.symbol);
            return Err(refuse(RefusalCode::ShortNotAllowed, msg, request));
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
        let cap = venue_max.min(self.limits.max_leverage.max(Decimal::ONE));
        if request.leverage <= Decimal::ZERO || request.leverage > cap {
            let msg = format!("leverage {} is outside 1..={cap}", request.leverage);
            return Err(refuse(RefusalCode::LeverageAboveMax, msg, request));
        }
        let required = notional / request.leverage + notional * inst.taker_fee;
        let available = account.available(view.marks);
        if required > available {
            let msg = format!("needs {} margin+fee, {} available", required.round_dp(2), available.round_dp(2));
            return Err(refuse(RefusalCode::InsufficientMargin, msg, request));
        }
        Ok(RiskApproved::approve(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AgentId, Fill, Liquidity, OrderId, OrderPurpose, Symbol};
    use rust_decimal::dec;

    fn btc() -> Instrument {
        Instrument::perp(Symbol::new("BTCUSDT").unwrap(), "BTC", dec!(0.1), dec!(0.001), 20)
    }

    fn req(side: Side, qty: Decimal) -> OrderRequest {
        OrderRequest {
            id: OrderId(1),
            agent: AgentId::new("a").unwrap(),
            symbol: Symbol::new("BTCUSDT").unwrap(),
            side,
            qty,
            kind: OrderKind::Market,
            reduce_only: false,
            leverage: dec!(2),
            purpose: OrderPurpose::Entry,
        }
    }

    fn check(account: &Account, state: TradingState, r: OrderRequest) -> Result<OrderRequest, RefusalCode> {
        let inst = btc();
        let marks = |_s: Symbol| Some(dec!(100));
        let view =
            RiskView { instrument: Some(&inst), account: Some(account), price: Some(dec!(100)), marks: &marks, state };
        RiskGate::default().check(&view, r).map(RiskApproved::into_inner).map_err(|e| e.code)
    }

    fn account_long(qty: Decimal) -> Account {
        let mut a = Account::new(AgentId::new("a").unwrap(), dec!(1000));
        if !qty.is_zero() {
            let fill = Fill {
                venue: "paper".into(),
                trade_id: 1,
                order_id: OrderId(0),
                agent: a.agent,
                symbol: Symbol::new("BTCUSDT").unwrap(),
                side: Side::Buy,
                qty,
                price: dec!(100),
                fee: Decimal::ZERO,
                liquidity: Liquidity::Taker,
                purpose: OrderPurpose::Entry,
                liquidation: false,
                ts_ms: 0,
            };
            a.apply_fill(&fill, dec!(2));
        }
        a
    }

    #[test]
    fn approves_and_normalises_to_the_grid() {
        let a = account_long(Decimal::ZERO);
        let mut r = req(Side::Buy, dec!(1.23456));
        r.kind = OrderKind::Limit { price: dec!(99.04) };
        let ok = check(&a, TradingState::Active, r).unwrap();
        assert_eq!(ok.qty, dec!(1.234));
        assert_eq!(ok.kind, OrderKind::Limit { price: dec!(99.0) });
    }

    #[test]
    fn each_basic_refusal_has_its_code() {
        let flat = account_long(Decimal::ZERO);
        assert_eq!(check(&flat, TradingState::Active, req(Side::Buy, dec!(0))), Err(RefusalCode::InvalidQuantity));
        assert_eq!(check(&flat, TradingState::Active, req(Side::Buy, dec!(-1))), Err(RefusalCode::InvalidQuantity));
        assert_eq!(check(&flat, TradingState::Active, req(Side::Buy, dec!(0.0004))), Err(RefusalCode::InvalidQuantity));
        assert_eq!(check(&flat, TradingState::Active, req(Side::Buy, dec!(0.01))), Err(RefusalCode::BelowMinNotional));
        let mut r = req(Side::Buy, dec!(1));
        r.leverage = dec!(50);
        assert_eq!(check(&flat, TradingState::Active, r), Err(RefusalCode::LeverageAboveMax));
        assert_eq!(check(&flat, TradingState::Active, req(Side::Buy, dec!(100))), Err(RefusalCode::InsufficientMargin));
        let mut r = req(Side::Buy, dec!(1));
        r.kind = OrderKind::Limit { price: dec!(-5) };
        assert_eq!(check(&flat, TradingState::Active, r), Err(RefusalCode::InvalidPrice));
        let mut r = req(Side::Sell, dec!(1));
        r.reduce_only = true;
        assert_eq!(check(&flat, TradingState::Active, r), Err(RefusalCode::ReduceOnlyWouldIncrease));
        assert_eq!(check(&flat, TradingState::Halted, req(Side::Buy, dec!(1))), Err(RefusalCode::TradingState));
        assert_eq!(check(&flat, TradingState::Reducing, req(Side::Buy, dec!(1))), Err(RefusalCode::TradingState));
        let mut r = req(Side::Buy, dec!(1));
        r.symbol = Symbol::new("DOGEUSDT").unwrap();
        let marks = |_s: Symbol| Some(dec!(100));
        let view = RiskView {
            instrument: None,
            account: Some(&flat),
            price: None,
            marks: &marks,
            state: TradingState::Active,
        };
        assert_eq!(RiskGate::default().check(&view, r).map_err(|e| e.code).err(), Some(RefusalCode::UnknownSymbol));
    }

    #[test]
    fn exits_pass_in_reducing_but_not_halted() {
        let long = account_long(dec!(2));
        let mut r = req(Side::Sell, dec!(2));
        r.reduce_only = true;
        assert!(check(&long, TradingState::Reducing, r.clone()).is_ok());
        assert_eq!(check(&long, TradingState::Halted, r), Err(RefusalCode::TradingState));
        let mut r = req(Side::Sell, dec!(3));
        r.reduce_only = true;
        assert_eq!(check(&long, TradingState::Active, r), Err(RefusalCode::ReduceOnlyWouldIncrease));
    }
}
