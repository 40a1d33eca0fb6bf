//! The paper exchange, order type by order type: fills, fees, slippage, triggers, reduce-only,
//! margin, liquidation and funding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use alphatx::domain::{
    AgentId, Bar, Fill, Instrument, InstrumentKind, Liquidity, MarketData, MarketEvent, OrderId, OrderKind,
    OrderPurpose, OrderRequest, OrderStatus, Side, Symbol,
};
use alphatx::execution::paper::{PaperConfig, PaperExchange};
use alphatx::execution::{ExecEvent, ExecutionClient};
use alphatx::risk::{RiskContext, RiskGate, RiskLimits, RiskView, TradingState};
use rust_decimal::Decimal;
use rust_decimal::dec;

/// Limits wide enough that these venue tests exercise the venue, not the gate.
fn permissive() -> RiskLimits {
    RiskLimits {
        max_leverage: dec!(50),
        require_stop_loss: false,
        max_risk_per_trade_pct: 100.0,
        max_position_notional: dec!(1000000000),
        max_symbol_allocation_pct: 12500.0,
        max_gross_exposure_x: 125.0,
        max_net_exposure_x: 125.0,
        price_band_pct: 100.0,
        ..RiskLimits::default()
    }
}

/// A known, low volatility so the leverage cap is the venue's.
fn context() -> RiskContext {
    RiskContext { realized_vol_pct: Some(1.0), ..RiskContext::default() }
}

fn btc() -> Symbol {
    Symbol::new("BTCUSDT").unwrap()
}

fn agent() -> AgentId {
    AgentId::new("alice").unwrap()
}

fn instrument() -> Instrument {
    Instrument::perp(btc(), "BTC", dec!(0.1), dec!(0.001), 50)
}

struct Venue {
    paper: PaperExchange,
    next_id: u64,
    events: Vec<ExecEvent>,
}

impl Venue {
    fn new(config: PaperConfig, balance: Decimal) -> Self {
        Self::with_instrument(config, balance, instrument())
    }

    fn with_instrument(config: PaperConfig, balance: Decimal, inst: Instrument) -> Self {
        let mut paper = PaperExchange::new(config, vec![inst], 1);
        paper.open_account(agent(), balance);
        Self { paper, next_id: 1, events: Vec::new() }
    }

    fn market(&mut self, ts_ms: i64, data: MarketData) -> Vec<ExecEvent> {
        let mut out = Vec::new();
        self.paper.on_market(&MarketEvent { ts_ms, symbol: btc(), data }, &mut out);
        self.events.extend(out.iter().cloned());
        out
    }

    fn quote(&mut self, ts_ms: i64, bid: Decimal, ask: Decimal) -> Vec<ExecEvent> {
        self.market(ts_ms, MarketData::Quote { bid, ask, bid_qty: dec!(10), ask_qty: dec!(10) })
    }

    fn trade(&mut self, ts_ms: i64, price: Decimal) -> Vec<ExecEvent> {
        self.market(ts_ms, MarketData::Trade { price, qty: dec!(0.01), aggressor: Side::Buy, trade_id: ts_ms as u64 })
    }

    /// Sends an order through a permissive risk gate, then to the venue.
    fn submit(
        &mut self,
        side: Side,
        qty: Decimal,
        kind: OrderKind,
        reduce_only: bool,
        leverage: Decimal,
    ) -> Vec<ExecEvent> {
        let purpose = if reduce_only { OrderPurpose::Exit } else { OrderPurpose::Entry };
        let req = OrderRequest {
            id: OrderId(self.next_id),
            agent: agent(),
            symbol: btc(),
            side,
            qty,
            kind,
            reduce_only,
            leverage,
            purpose,
            stop_loss: None,
            take_profit: None,
        };
        self.next_id += 1;
        let inst = instrument();
        let account = self.paper.account(agent()).unwrap().clone();
        let marks = |_s: Symbol| Some(dec!(60000));
        let view = RiskView {
            instrument: Some(&inst),
            account: Some(&account),
            price: Some(dec!(60000)),
            marks: &marks,
            state: TradingState::Active,
            limits: None,
            counts_for_arena: false,
            context: context(),
        };
        let gate = RiskGate::new(permissive());
        let approved = gate.check(&view, req).expect("test orders are valid");
        let mut out = Vec::new();
        self.paper.submit(approved, 0, &mut out);
        self.events.extend(out.iter().cloned());
        out
    }

    fn qty(&self) -> Decimal {
        self.paper.account(agent()).unwrap().qty(btc())
    }
}

fn fills(events: &[ExecEvent]) -> Vec<Fill> {
    events
        .iter()
        .filter_map(|e| match e {
            ExecEvent::Filled { fill, .. } => Some(fill.clone()),
            _ => None,
        })
        .collect()
}

fn no_impact() -> PaperConfig {
    PaperConfig { synthetic_spread_bps: 2.0, impact_bps: 0.0, max_impact_bps: 0.0 }
}

#[test]
fn market_order_takes_the_ask_and_pays_the_taker_fee() {
    let mut v = Venue::new(no_impact(), dec!(10000));
    v.quote(1, dec!(60000.0), dec!(60000.5));
    let ev = v.submit(Side::Buy, dec!(0.1), OrderKind::Market, false, dec!(5));
    assert!(matches!(ev[0], ExecEvent::Accepted { .. }));
    let f = fills(&ev);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].price, dec!(60000.5));
    assert_eq!(f[0].liquidity, Liquidity::Taker);
    assert_eq!(f[0].fee, dec!(3.000025)); // 0.1 × 60000.5 × 0.0005
    assert_eq!(f[0].trade_id, 1);
    assert_eq!(v.qty(), dec!(0.1));
    let sell = v.submit(Side::Sell, dec!(0.1), OrderKind::Market, true, dec!(1));
    let f = fills(&sell);
    assert_eq!(f[0].price, dec!(60000.0));
    assert_eq!(f[0].trade_id, 2);
    assert_eq!(v.qty(), Decimal::ZERO);
    let acc = v.paper.account(agent()).unwrap();
    // Lost the spread (0.05) and two taker fees.
    assert_eq!(acc.cash, dec!(10000) - dec!(0.05) - dec!(3.000025) - dec!(3.0));
}

#[test]
fn size_impact_follows_the_square_root_law_and_is_capped() {
    let config = PaperConfig { synthetic_spread_bps: 2.0, impact_bps: 10.0, max_impact_bps: 25.0 };
    let mut v = Venue::new(config, dec!(10_000_000));
    // One minute of volume: 4 BTC (bars set the volume average).
    v.market(
        60_000,
        MarketData::Bar(Bar {
            open_ms: 0,
            interval_ms: 60_000,
            open: dec!(60000),
            high: dec!(60000),
            low: dec!(60000),
            close: dec!(60000),
            volume: dec!(4),
        }),
    );
    // 1 BTC = 1/4 of a minute's volume ⇒ 10 × √0.25 = 5 bp on top of the synthetic ask (+1 bp).
    let f = fills(&v.submit(Side::Buy, dec!(1), OrderKind::Market, false, dec!(1)));
    let ask = dec!(60000) * (Decimal::ONE + dec!(0.0001));
    let expected = (ask * (Decimal::ONE + dec!(0.0005)) / dec!(0.1)).ceil() * dec!(0.1);
    assert_eq!(f[0].price, expected);
    v.submit(Side::Sell, dec!(1), OrderKind::Market, true, dec!(1));
    // 100 BTC would be 50 bp: capped at 25 bp.
    let f = fills(&v.submit(Side::Buy, dec!(100), OrderKind::Market, false, dec!(1)));
    let expected = (ask * (Decimal::ONE + dec!(0.0025)) / dec!(0.1)).ceil() * dec!(0.1);
    assert_eq!(f[0].price, expected);
}

#[test]
fn limit_order_rests_and_fills_only_when_traded_through() {
    let mut v = Venue::new(no_impact(), dec!(10000));
    v.quote(1, dec!(60000), dec!(60001));
    let ev = v.submit(Side::Buy, dec!(0.1), OrderKind::Limit { price: dec!(59900) }, false, dec!(5));
    assert!(fills(&ev).is_empty());
    assert_eq!(v.paper.resting_orders().count(), 1);
    assert!(fills(&v.trade(2, dec!(59900))).is_empty(), "touching is not enough");
    let f = fills(&v.trade(3, dec!(59899.9)));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].price, dec!(59900));
    assert_eq!(f[0].liquidity, Liquidity::Maker);
    assert_eq!(f[0].fee, dec!(1.198)); // 0.1 × 59900 × 0.0002
    assert_eq!(v.paper.resting_orders().count(), 0);
}

#[test]
fn marketable_limit_fills_at_once_never_worse_than_its_price() {
    let mut v = Venue::new(no_impact(), dec!(10000));
    v.quote(1, dec!(60000), dec!(60001));
    let f = fills(&v.submit(Side::Buy, dec!(0.1), OrderKind::Limit { price: dec!(60010) }, false, dec!(5)));
    assert_eq!(f[0].price, dec!(60001));
    assert_eq!(f[0].liquidity, Liquidity::Taker);
}

#[test]
fn stop_market_triggers_on_the_last_price_and_fills_at_the_touch() {
    let mut v = Venue::new(no_impact(), dec!(10000));
    v.quote(1, dec!(60000), dec!(60001));
    v.submit(Side::Buy, dec!(0.1), OrderKind::Market, false, dec!(5));
    let ev = v.submit(Side::Sell, dec!(0.1), OrderKind::StopMarket { trigger: dec!(59000) }, true, dec!(1));
    assert!(fills(&ev).is_empty());
    assert!(fills(&v.trade(2, dec!(59500))).is_empty());
    v.quote(3, dec!(58900), dec!(58901));
    // The quote mid crossed the trigger: the stop fires and sells at the bid.
    let ev: Vec<ExecEvent> =
        v.events.iter().skip_while(|e| !matches!(e, ExecEvent::Triggered { .. })).cloned().collect();
    assert!(matches!(ev[0], ExecEvent::Triggered { .. }));
    let f = fills(&ev);
    assert_eq!(f[0].price, dec!(58900));
    assert_eq!(f[0].side, Side::Sell);
    assert_eq!(v.qty(), Decimal::ZERO);
}

#[test]
fn take_profit_triggers_in_favour() {
    let mut v = Venue::new(no_impact(), dec!(10000));
    v.quote(1, dec!(60000), dec!(60001));
    v.submit(Side::Sell, dec!(0.1), OrderKind::Market, false, dec!(5));
    v.submit(Side::Buy, dec!(0.1), OrderKind::TakeProfitMarket { trigger: dec!(58000) }, true, dec!(1));
    assert!(fills(&v.trade(2, dec!(58500))).is_empty());
    let f = fills(&v.trade(3, dec!(57990)));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].side, Side::Buy);
    assert_eq!(v.qty(), Decimal::ZERO);
}

/// A stop or target submitted when the price is already past its level acts at once; one on the
/// right side of the price rests. All four side × kind combinations, around a last price of
/// 60,000.
#[test]
fn stops_and_targets_already_through_act_at_submission() {
    let stop = |t: Decimal| OrderKind::StopMarket { trigger: t };
    let target = |t: Decimal| OrderKind::TakeProfitMarket { trigger: t };
    // (position side, closing side, kind, acts at once)
    let cases = [
        (Side::Buy, Side::Sell, stop(dec!(60500)), true), // long's stop above the price
        (Side::Buy, Side::Sell, stop(dec!(59500)), false),
        (Side::Sell, Side::Buy, stop(dec!(59500)), true), // short's stop below the price
        (Side::Sell, Side::Buy, stop(dec!(60500)), false),
        (Side::Buy, Side::Sell, target(dec!(59500)), true), // long's target below the price
        (Side::Buy, Side::Sell, target(dec!(60500)), false),
        (Side::Sell, Side::Buy, target(dec!(60500)), true), // short's target above the price
        (Side::Sell, Side::Buy, target(dec!(59500)), false),
    ];
    for (open, close, kind, at_once) in cases {
        let mut v = Venue::new(no_impact(), dec!(10000));
        v.quote(1, dec!(60000), dec!(60000));
        v.trade(2, dec!(60000));
        v.submit(open, dec!(0.1), OrderKind::Market, false, dec!(5));
        let ev = v.submit(close, dec!(0.1), kind, true, dec!(1));
        let triggered = ev.iter().any(|e| matches!(e, ExecEvent::Triggered { .. }));
        assert_eq!(triggered, at_once, "{open:?} position, {kind:?}");
        assert_eq!(fills(&ev).len(), usize::from(at_once), "{open:?} position, {kind:?}");
        assert_eq!(v.qty().is_zero(), at_once, "{open:?} position, {kind:?}");
        assert_eq!(v.paper.resting_orders().count(), usize::from(!at_once), "{open:?} position, {kind:?}");
    }
}

fn bar(open_ms: i64, o: Decimal, h: Decimal, l: Decimal, c: Decimal) -> MarketData {
    MarketData::Bar(Bar { open_ms, interval_ms: 60_000, open: o, high: h, low: l, close: c, volume: dec!(100) })
}

/// Long with a stop at 59,000 and a target at 61,000 on the same bar.
fn bracketed_long(v: &mut Venue) {
    v.market(60_000, bar(0, dec!(60000), dec!(60000), dec!(60000), dec!(60000)));
    v.submit(Side::Buy, dec!(0.1), OrderKind::Market, false, dec!(5));
    v.submit(Side::Sell, dec!(0.1), OrderKind::StopMarket { trigger: dec!(59000) }, true, dec!(1));
    v.submit(Side::Sell, dec!(0.1), OrderKind::TakeProfitMarket { trigger: dec!(61000) }, true, dec!(1));
}

#[test]
fn up_bar_visits_the_low_first_so_the_stop_wins() {
    let mut v = Venue::new(no_impact(), dec!(10000));
    bracketed_long(&mut v);
    let ev = v.market(120_000, bar(60_000, dec!(60000), dec!(61500), dec!(58500), dec!(61200)));
    let f = fills(&ev);
    assert_eq!(f.len(), 1, "{ev:?}");
    // Stop at 59,000 minus half the 2 bp synthetic spread, rounded down to the tick.
    assert_eq!(f[0].price, dec!(58994.1));
    let cancelled = ev.iter().any(|e| matches!(e, ExecEvent::Cancelled { .. }));
    assert!(cancelled, "the target has nothing left to reduce once the stop filled: {ev:?}");
}

#[test]
fn down_bar_visits_the_high_first_so_the_target_wins() {
    let mut v = Venue::new(no_impact(), dec!(10000));
    bracketed_long(&mut v);
    let ev = v.market(120_000, bar(60_000, dec!(60000), dec!(61500), dec!(58500), dec!(58800)));
    let f = fills(&ev);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].price, dec!(60993.9));
    assert_eq!(f[0].purpose, OrderPurpose::Exit);
}

#[test]
fn a_gap_through_the_stop_fills_at_the_open() {
    let mut v = Venue::new(no_impact(), dec!(10000));
    bracketed_long(&mut v);
    let f = fills(&v.market(120_000, bar(60_000, dec!(57000), dec!(57500), dec!(56800), dec!(57200))));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].price, dec!(56994.3), "57,000 open minus half the spread, not the 59,000 trigger");
}

#[test]
fn reduce_only_is_capped_to_the_position() {
    let mut v = Venue::new(no_impact(), dec!(10000));
    v.quote(1, dec!(60000), dec!(60001));
    v.submit(Side::Buy, dec!(0.1), OrderKind::Market, false, dec!(5));
    v.submit(Side::Sell, dec!(0.1), OrderKind::StopMarket { trigger: dec!(59000) }, true, dec!(1));
    // The position shrinks after the stop was placed.
    v.submit(Side::Sell, dec!(0.06), OrderKind::Market, true, dec!(1));
    assert_eq!(v.qty(), dec!(0.04));
    let ev = v.trade(2, dec!(58000));
    let f = fills(&ev);
    assert_eq!(f[0].qty, dec!(0.04), "capped to what is left");
    assert_eq!(v.qty(), Decimal::ZERO, "never flips into a short");
    assert!(ev.iter().any(|e| matches!(e, ExecEvent::Cancelled { .. })));
}

#[test]
fn insufficient_margin_is_rejected_by_the_venue() {
    let mut v = Venue::new(no_impact(), dec!(1000));
    v.quote(1, dec!(60000), dec!(60001));
    // The gate in this helper values the account at 60,000 marks; ask for 5 BTC at 5×: 60k margin.
    let inst = instrument();
    let req = OrderRequest {
        id: OrderId(99),
        agent: agent(),
        symbol: btc(),
        side: Side::Buy,
        qty: dec!(0.05),
        kind: OrderKind::Market,
        reduce_only: false,
        leverage: dec!(1),
        purpose: OrderPurpose::Entry,
        stop_loss: None,
        take_profit: None,
    };
    let account = alphatx::domain::Account::new(agent(), dec!(1_000_000));
    let limits = permissive();
    let marks = |_s: Symbol| Some(dec!(60000));
    let view = RiskView {
        instrument: Some(&inst),
        account: Some(&account),
        price: Some(dec!(60000)),
        marks: &marks,
        state: TradingState::Active,
        limits: Some(&limits),
        counts_for_arena: false,
        context: context(),
    };
    let approved = RiskGate::new(permissive()).check(&view, req).unwrap();
    let mut out = Vec::new();
    v.paper.submit(approved, 0, &mut out);
    match &out[0] {
        ExecEvent::Rejected { reason, order } => {
            assert!(reason.contains("insufficient margin"), "{reason}");
            assert_eq!(order.status, OrderStatus::Rejected);
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn liquidation_closes_everything_at_market_and_cancels_resting_orders() {
    let mut v = Venue::new(no_impact(), dec!(1000));
    v.quote(1, dec!(60000), dec!(60000));
    // 0.5 BTC = 30,000 notional on 1,000: 30× leverage, liquidation ~3 % below.
    v.submit(Side::Buy, dec!(0.01), OrderKind::Limit { price: dec!(50000) }, false, dec!(40));
    v.submit(Side::Buy, dec!(0.5), OrderKind::Market, false, dec!(40));
    let liq = v
        .paper
        .account(agent())
        .unwrap()
        .liquidation_price(btc(), &|_s: Symbol| Some(dec!(60000)), |_s: Symbol| dec!(0.005))
        .unwrap();
    assert!(liq > dec!(58000) && liq < dec!(58500), "liq {liq}");
    assert!(fills(&v.trade(2, dec!(58600))).is_empty());
    let ev = v.trade(3, dec!(58200));
    let f = fills(&ev);
    assert_eq!(f.len(), 1, "{ev:?}");
    assert!(f[0].liquidation);
    assert_eq!(f[0].side, Side::Sell);
    assert!(ev.iter().any(|e| matches!(e, ExecEvent::Cancelled { reason, .. } if reason.contains("liquidated"))));
    assert_eq!(v.qty(), Decimal::ZERO);
    assert_eq!(v.paper.resting_orders().count(), 0);
}

#[test]
fn funding_is_paid_at_each_boundary_on_open_positions() {
    let mut v = Venue::new(no_impact(), dec!(10000));
    let h8 = 8 * 3_600_000;
    v.quote(h8 - 10_000, dec!(60000), dec!(60000));
    v.market(
        h8 - 5_000,
        MarketData::Mark { mark: dec!(60000), funding_rate: Some(dec!(0.0001)), next_funding_ms: Some(h8) },
    );
    v.submit(Side::Buy, dec!(0.2), OrderKind::Market, false, dec!(5));
    let ev = v.market(
        h8 + 1,
        MarketData::Mark { mark: dec!(60100), funding_rate: Some(dec!(0.0001)), next_funding_ms: Some(2 * h8) },
    );
    let payments: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            ExecEvent::Funding { amount, ts_ms, .. } => Some((*amount, *ts_ms)),
            _ => None,
        })
        .collect();
    // The long pays 0.2 × 60,100 × 0.0001 = 1.202, stamped at the boundary.
    assert_eq!(payments, vec![(dec!(-1.202), h8)]);
    assert_eq!(v.paper.account(agent()).unwrap().funding, dec!(-1.202));
    // No second payment inside the same interval.
    let ev = v.market(
        h8 + 60_000,
        MarketData::Mark { mark: dec!(60100), funding_rate: Some(dec!(0.0001)), next_funding_ms: Some(2 * h8) },
    );
    assert!(ev.iter().all(|e| !matches!(e, ExecEvent::Funding { .. })));
}

/// An event stamped in an earlier funding interval (a REST poll, bars backfilled after a
/// reconnect) arriving after the boundary must not make the next live event pay again.
#[test]
fn an_older_event_does_not_pay_funding_twice() {
    let mut v = Venue::new(no_impact(), dec!(10000));
    let h8 = 8 * 3_600_000;
    let mark = |next: i64| MarketData::Mark {
        mark: dec!(60000),
        funding_rate: Some(dec!(0.0001)),
        next_funding_ms: Some(next),
    };
    let funding = |ev: &[ExecEvent]| ev.iter().filter(|e| matches!(e, ExecEvent::Funding { .. })).count();
    v.quote(h8 - 10_000, dec!(60000), dec!(60000));
    v.market(h8 - 5_000, mark(h8));
    v.submit(Side::Buy, dec!(0.2), OrderKind::Market, false, dec!(5));
    assert_eq!(funding(&v.market(h8 + 1_000, mark(2 * h8))), 1, "the boundary pays once");
    // A late event from before the boundary, then live events again: nothing more to pay.
    assert_eq!(funding(&v.market(h8 - 60_000, mark(h8))), 0);
    assert_eq!(funding(&v.market(h8 + 2_000, mark(2 * h8))), 0, "no second payment for the same interval");
    assert_eq!(funding(&v.market(h8 + 3_000, mark(2 * h8))), 0);
    assert_eq!(v.paper.account(agent()).unwrap().funding, dec!(-1.2));
    // The next boundary pays once more.
    assert_eq!(funding(&v.market(2 * h8 + 1, mark(3 * h8))), 1);
}

#[test]
fn spot_cannot_be_shorted() {
    let mut spot = instrument();
    spot.kind = InstrumentKind::Spot;
    let mut v = Venue::with_instrument(no_impact(), dec!(10000), spot.clone());
    v.quote(1, dec!(60000), dec!(60001));
    let req = OrderRequest {
        id: OrderId(1),
        agent: agent(),
        symbol: btc(),
        side: Side::Sell,
        qty: dec!(0.01),
        kind: OrderKind::Market,
        reduce_only: false,
        leverage: dec!(1),
        purpose: OrderPurpose::Entry,
        stop_loss: None,
        take_profit: None,
    };
    let account = v.paper.account(agent()).unwrap().clone();
    let limits = permissive();
    let marks = |_s: Symbol| Some(dec!(60000));
    let view = RiskView {
        instrument: Some(&spot),
        account: Some(&account),
        price: Some(dec!(60000)),
        marks: &marks,
        state: TradingState::Active,
        limits: Some(&limits),
        counts_for_arena: false,
        context: context(),
    };
    let refused = RiskGate::default().check(&view, req).unwrap_err();
    assert_eq!(refused.code, alphatx::risk::RefusalCode::ShortNotAllowed);
}

#[test]
fn liquidation_is_judged_at_the_mark_price_when_there_is_one() {
    let mut v = Venue::new(no_impact(), dec!(1000));
    v.quote(1, dec!(60000), dec!(60000));
    v.market(2, MarketData::Mark { mark: dec!(60000), funding_rate: None, next_funding_ms: None });
    v.submit(Side::Buy, dec!(0.5), OrderKind::Market, false, dec!(40));
    // A print below the liquidation price while the mark holds: no liquidation.
    assert!(fills(&v.trade(3, dec!(58000))).is_empty());
    assert_eq!(v.qty(), dec!(0.5));
    // The mark follows: liquidated.
    let ev = v.market(4, MarketData::Mark { mark: dec!(58100), funding_rate: None, next_funding_ms: None });
    let f = fills(&ev);
    assert_eq!(f.len(), 1);
    assert!(f[0].liquidation);
    assert_eq!(v.qty(), Decimal::ZERO);
}
