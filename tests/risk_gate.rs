//! The risk gate, reason by reason, and a million random and adversarial requests.
//!
//! Every refusal code has its own test; a refused order is an `Err`, so no `RiskApproved` exists
//! and nothing can reach execution (the type system guarantees it; `tests/risk_engine.rs` also
//! checks the venue never sees them). The fuzz test throws requests at the gate in `Active`,
//! `Reducing` and `Halted` and re-checks every approval against the limits independently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use alphatx::domain::{
    Account, AgentId, Fill, Instrument, InstrumentKind, Liquidity, OrderId, OrderKind, OrderPurpose, OrderRequest,
    Side, Symbol,
};
use alphatx::risk::{ArenaLimits, RefusalCode, RiskContext, RiskGate, RiskLimits, RiskView, TradingState};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use rust_decimal::dec;

fn btc() -> Symbol {
    Symbol::new("BTCUSDT").unwrap()
}

fn eth() -> Symbol {
    Symbol::new("ETHUSDT").unwrap()
}

fn agent() -> AgentId {
    AgentId::new("a").unwrap()
}

fn inst() -> Instrument {
    Instrument::perp(btc(), "BTC", dec!(0.1), dec!(0.001), 20)
}

fn fill(account: &mut Account, symbol: Symbol, side: Side, qty: Decimal, price: Decimal) {
    let f = Fill {
        venue: "paper".into(),
        trade_id: 1,
        order_id: OrderId(0),
        agent: agent(),
        symbol,
        side,
        qty,
        price,
        fee: Decimal::ZERO,
        liquidity: Liquidity::Taker,
        purpose: OrderPurpose::Entry,
        liquidation: false,
        ts_ms: 0,
    };
    account.apply_fill(&f, dec!(2));
}

/// A long entry of 0.01 BTC at 60,000 with a stop at 59,000 and a target at 62,000: valid.
fn entry() -> OrderRequest {
    OrderRequest {
        id: OrderId(1),
        agent: agent(),
        symbol: btc(),
        side: Side::Buy,
        qty: dec!(0.01),
        kind: OrderKind::Market,
        reduce_only: false,
        leverage: dec!(2),
        purpose: OrderPurpose::Entry,
        stop_loss: Some(dec!(59000)),
        take_profit: Some(dec!(62000)),
    }
}

fn ctx() -> RiskContext {
    RiskContext {
        now_ms: 10_000_000,
        realized_vol_pct: Some(50.0),
        atr: Some(150.0),
        arena_equity: dec!(100000),
        ..RiskContext::default()
    }
}

struct Case {
    account: Account,
    state: TradingState,
    limits: RiskLimits,
    context: RiskContext,
    instrument: Option<Instrument>,
    price: Option<Decimal>,
}

impl Case {
    fn new() -> Self {
        Self {
            account: Account::new(agent(), dec!(10000)),
            state: TradingState::Active,
            limits: RiskLimits::default(),
            context: ctx(),
            instrument: Some(inst()),
            price: Some(dec!(60000)),
        }
    }

    fn check(&self, req: OrderRequest) -> Result<OrderRequest, RefusalCode> {
        let marks = |_s: Symbol| Some(dec!(60000));
        let view = RiskView {
            instrument: self.instrument.as_ref(),
            account: Some(&self.account),
            price: self.price,
            marks: &marks,
            state: self.state,
            limits: Some(&self.limits),
            counts_for_arena: true,
            context: self.context.clone(),
        };
        RiskGate::with_arena(RiskLimits::default(), ArenaLimits::default())
            .check(&view, req)
            .map(|a| a.into_inner())
            .map_err(|r| r.code)
    }
}

#[test]
fn a_valid_entry_passes_and_is_normalised() {
    let mut r = entry();
    r.qty = dec!(0.0109);
    let ok = Case::new().check(r).unwrap();
    assert_eq!(ok.qty, dec!(0.010));
}

macro_rules! refusal {
    ($name:ident, $code:expr, $setup:expr) => {
        #[test]
        fn $name() {
            let (case, req): (Case, OrderRequest) = $setup;
            assert_eq!(case.check(req), Err($code));
        }
    };
}

refusal!(unknown_symbol, RefusalCode::UnknownSymbol, {
    let mut c = Case::new();
    c.instrument = None;
    (c, entry())
});
#[test]
fn unknown_account() {
    let marks = |_s: Symbol| Some(dec!(60000));
    let instrument = inst();
    let view = RiskView {
        instrument: Some(&instrument),
        account: None,
        price: Some(dec!(60000)),
        marks: &marks,
        state: TradingState::Active,
        limits: None,
        counts_for_arena: true,
        context: ctx(),
    };
    let refused = RiskGate::default().check(&view, entry()).map(|_| ()).unwrap_err();
    assert_eq!(refused.code, RefusalCode::UnknownAccount);
    assert!(refused.message.contains("no account"), "{}", refused.message);
}

refusal!(zero_quantity, RefusalCode::InvalidQuantity, {
    let mut r = entry();
    r.qty = Decimal::ZERO;
    (Case::new(), r)
});
refusal!(quantity_below_one_lot, RefusalCode::InvalidQuantity, {
    let mut r = entry();
    r.qty = dec!(0.0004);
    (Case::new(), r)
});
refusal!(negative_price, RefusalCode::InvalidPrice, {
    let mut r = entry();
    r.kind = OrderKind::Limit { price: dec!(-1) };
    (Case::new(), r)
});
refusal!(stop_on_the_wrong_side, RefusalCode::InvalidPrice, {
    let mut r = entry();
    r.stop_loss = Some(dec!(60500));
    (Case::new(), r)
});
refusal!(no_market_price, RefusalCode::NoMarketPrice, {
    let mut c = Case::new();
    c.price = None;
    (c, entry())
});
refusal!(below_min_notional, RefusalCode::BelowMinNotional, {
    let mut r = entry();
    r.qty = dec!(0.001);
    r.stop_loss = Some(dec!(59990));
    let mut c = Case::new();
    c.instrument.as_mut().unwrap().min_notional = dec!(100);
    (c, r)
});
refusal!(leverage_above_the_hard_cap, RefusalCode::LeverageAboveMax, {
    let mut r = entry();
    r.leverage = dec!(11);
    (Case::new(), r)
});
refusal!(leverage_above_the_volatility_cap, RefusalCode::LeverageAboveMax, {
    // 250 % target / 125 % realised volatility = 2×; 3× is refused.
    let mut c = Case::new();
    c.context.realized_vol_pct = Some(125.0);
    let mut r = entry();
    r.leverage = dec!(3);
    (c, r)
});
refusal!(leverage_with_unknown_volatility, RefusalCode::LeverageAboveMax, {
    let mut c = Case::new();
    c.context.realized_vol_pct = None;
    (c, entry())
});
refusal!(insufficient_margin, RefusalCode::InsufficientMargin, {
    let mut r = entry();
    r.qty = dec!(0.5);
    r.leverage = dec!(1);
    r.stop_loss = Some(dec!(59700));
    let mut c = Case::new();
    c.limits.max_risk_per_trade_pct = 100.0;
    (c, r)
});
refusal!(reduce_only_that_would_increase, RefusalCode::ReduceOnlyWouldIncrease, {
    let mut c = Case::new();
    fill(&mut c.account, btc(), Side::Buy, dec!(0.01), dec!(60000));
    let mut r = entry();
    r.reduce_only = true; // a buy reducing a long: impossible
    (c, r)
});
refusal!(spot_short, RefusalCode::ShortNotAllowed, {
    let mut c = Case::new();
    c.instrument.as_mut().unwrap().kind = InstrumentKind::Spot;
    let mut r = entry();
    r.side = Side::Sell;
    r.leverage = dec!(1);
    r.stop_loss = Some(dec!(61000));
    r.take_profit = None;
    (c, r)
});
refusal!(entry_in_reducing, RefusalCode::TradingState, {
    let mut c = Case::new();
    c.state = TradingState::Reducing;
    (c, entry())
});
refusal!(exit_in_halted, RefusalCode::TradingState, {
    let mut c = Case::new();
    fill(&mut c.account, btc(), Side::Buy, dec!(0.01), dec!(60000));
    c.state = TradingState::Halted;
    let mut r = entry();
    r.side = Side::Sell;
    r.reduce_only = true;
    r.purpose = OrderPurpose::Exit;
    (c, r)
});
refusal!(entry_while_a_position_is_open, RefusalCode::PositionExists, {
    let mut c = Case::new();
    fill(&mut c.account, btc(), Side::Buy, dec!(0.01), dec!(60000));
    (c, entry())
});
refusal!(entry_without_stop, RefusalCode::MissingStopLoss, {
    let mut r = entry();
    r.stop_loss = None;
    (Case::new(), r)
});
refusal!(loss_at_the_stop_too_large, RefusalCode::RiskPerTrade, {
    // 0.3 BTC × 1,000 = 300 > 2 % of 10,000.
    let mut r = entry();
    r.qty = dec!(0.3);
    (Case::new(), r)
});
refusal!(reward_risk_too_small, RefusalCode::RewardRisk, {
    let mut c = Case::new();
    c.limits.min_reward_risk = Some(3.0);
    (c, entry())
});
refusal!(price_outside_the_band, RefusalCode::PriceBand, {
    let mut r = entry();
    r.take_profit = Some(dec!(70000));
    (Case::new(), r)
});
refusal!(position_notional_limit, RefusalCode::PositionLimit, {
    let mut c = Case::new();
    c.limits.max_position_notional = dec!(500);
    (c, entry())
});
refusal!(allocation_limit, RefusalCode::AllocationLimit, {
    let mut c = Case::new();
    c.limits.max_symbol_allocation_pct = 5.0;
    (c, entry())
});
refusal!(too_many_positions, RefusalCode::MaxOpenPositions, {
    let mut c = Case::new();
    c.limits.max_open_positions = 1;
    fill(&mut c.account, eth(), Side::Buy, dec!(0.01), dec!(60000));
    (c, entry())
});
refusal!(gross_exposure, RefusalCode::GrossExposure, {
    // 0.05 BTC = 3,000 notional > 0.1 × 10,000.
    let mut c = Case::new();
    c.limits.max_gross_exposure_x = 0.1;
    let mut r = entry();
    r.qty = dec!(0.05);
    (c, r)
});
refusal!(net_exposure, RefusalCode::NetExposure, {
    let mut c = Case::new();
    c.limits.max_net_exposure_x = 0.1;
    let mut r = entry();
    r.qty = dec!(0.05);
    (c, r)
});
refusal!(arena_exposure, RefusalCode::ArenaExposure, {
    let mut c = Case::new();
    c.context.arena_symbol_notional = dec!(249900);
    (c, entry())
});
refusal!(order_rate, RefusalCode::RateLimited, {
    let mut c = Case::new();
    c.context.orders_last_minute = 20;
    (c, entry())
});
refusal!(cooldown_after_stop_out, RefusalCode::Cooldown, {
    let mut c = Case::new();
    c.context.last_stop_out_ms = Some(c.context.now_ms - 5 * 60_000);
    (c, entry())
});
refusal!(reversal_too_soon, RefusalCode::Reversal, {
    let mut c = Case::new();
    c.context.last_close = Some((Side::Sell, c.context.now_ms - 10 * 60_000));
    (c, entry())
});

#[test]
fn every_refusal_code_is_exercised_above() {
    // Keep this list in step with the tests above: a new code needs its own test.
    assert_eq!(RefusalCode::ALL.len(), 25);
}

#[test]
fn default_atr_stop_is_added_when_configured() {
    let mut c = Case::new();
    c.limits.default_stop_atr = Some(2.0);
    let mut r = entry();
    r.stop_loss = None;
    r.take_profit = None;
    let ok = c.check(r).unwrap();
    assert_eq!(ok.stop_loss, Some(dec!(59700)));
}

#[test]
fn exits_pass_in_reducing_and_protective_exits_in_halted() {
    let mut c = Case::new();
    fill(&mut c.account, btc(), Side::Buy, dec!(0.01), dec!(60000));
    let mut exit = entry();
    exit.side = Side::Sell;
    exit.reduce_only = true;
    exit.purpose = OrderPurpose::Exit;
    exit.stop_loss = None;
    exit.take_profit = None;
    c.state = TradingState::Reducing;
    assert!(c.check(exit.clone()).is_ok());
    c.state = TradingState::Halted;
    assert_eq!(c.check(exit.clone()), Err(RefusalCode::TradingState));
    for purpose in [OrderPurpose::Flatten, OrderPurpose::StopLoss, OrderPurpose::TakeProfit] {
        exit.purpose = purpose;
        assert!(c.check(exit.clone()).is_ok(), "{purpose:?} must pass in Halted");
    }
}

#[test]
fn the_leverage_cap_follows_volatility() {
    let l = RiskLimits::default();
    assert_eq!(RiskGate::leverage_cap(&l, dec!(125), Some(25.0)), dec!(10));
    assert_eq!(RiskGate::leverage_cap(&l, dec!(125), Some(100.0)), dec!(2.5));
    assert_eq!(RiskGate::leverage_cap(&l, dec!(125), Some(1000.0)), dec!(1));
    assert_eq!(RiskGate::leverage_cap(&l, dec!(3), Some(10.0)), dec!(3));
    assert_eq!(RiskGate::leverage_cap(&l, dec!(125), None), dec!(1));
    assert_eq!(RiskGate::leverage_cap(&l, dec!(125), Some(f64::NAN)), dec!(1));
}

// ---------------------------------------------------------------------------------- fuzzing

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn adversarial_decimal(rng: &mut ChaCha8Rng) -> Decimal {
    match rng.random_range(0..10) {
        0 => Decimal::ZERO,
        1 => -Decimal::new(rng.random_range(1..1_000_000), rng.random_range(0..6)),
        2 => Decimal::MAX / Decimal::from(rng.random_range(1..1000)),
        3 => Decimal::new(1, 20),
        4 => Decimal::new(rng.random_range(1..100_000), rng.random_range(0..9)),
        _ => Decimal::new(rng.random_range(1..5_000_000), 4),
    }
}

fn adversarial_price(rng: &mut ChaCha8Rng) -> Option<Decimal> {
    match rng.random_range(0..8) {
        0 => None,
        1 => Some(-Decimal::from(rng.random_range(1..100_000))),
        2 => Some(Decimal::from(rng.random_range(0..10_000_000))),
        3 => Some(Decimal::MAX),
        _ => Some(Decimal::new(rng.random_range(5_000_000..7_000_000), 2)),
    }
}

/// Independent re-check of an approval against every limit.
fn assert_within_limits(case: &Case, req: &OrderRequest, ok: &OrderRequest) {
    let inst = inst();
    let mark = dec!(60000);
    assert!(ok.qty > Decimal::ZERO && ok.qty <= req.qty && inst.on_lot(ok.qty), "{ok:?}");
    let held = case.account.qty(ok.symbol);
    let reduces =
        !held.is_zero() && held.is_sign_positive() != ok.side.sign().is_sign_positive() && ok.qty <= held.abs();
    match case.state {
        TradingState::Halted => assert!(
            reduces && matches!(ok.purpose, OrderPurpose::Flatten | OrderPurpose::StopLoss | OrderPurpose::TakeProfit),
            "halted approved {ok:?}"
        ),
        TradingState::Reducing => assert!(reduces, "reducing approved {ok:?}"),
        TradingState::Active => {}
    }
    if ok.reduce_only {
        assert!(reduces, "reduce-only that increases: {ok:?}");
    }
    if reduces {
        return;
    }
    let l = &case.limits;
    let price = ok.kind.price().unwrap_or(mark);
    assert!(price > Decimal::ZERO);
    let notional = ok.qty * price;
    assert!(held.is_zero());
    assert!(notional >= inst.min_notional);
    let cap = RiskGate::leverage_cap(l, inst.max_leverage, case.context.realized_vol_pct);
    assert!(ok.leverage > Decimal::ZERO && ok.leverage <= cap, "leverage {} cap {cap}", ok.leverage);
    let stop = ok.stop_loss.expect("stops are mandatory");
    let long = ok.side == Side::Buy;
    assert!(if long { stop < price } else { stop > price });
    let equity = dec!(10000);
    assert!((price - stop).abs() * ok.qty <= equity * Decimal::try_from(l.max_risk_per_trade_pct / 100.0).unwrap());
    let band = Decimal::try_from(l.price_band_pct / 100.0).unwrap();
    for p in [Some(price), ok.stop_loss, ok.take_profit].into_iter().flatten() {
        assert!(p >= mark * (Decimal::ONE - band) && p <= mark * (Decimal::ONE + band), "{p} outside the band");
    }
    assert!(notional <= l.max_position_notional);
    assert!(notional <= equity * Decimal::try_from(l.max_symbol_allocation_pct / 100.0).unwrap());
    assert!(notional <= equity * Decimal::try_from(l.max_gross_exposure_x).unwrap());
    assert!(notional / ok.leverage + notional * inst.taker_fee <= equity);
}

#[test]
fn a_million_random_requests_never_approve_anything_outside_the_limits() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xA1FA);
    let iterations: u32 =
        std::env::var("ALPHATX_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let (mut approved, mut refused) = (0u64, 0u64);
    let mut cases = [Case::new(), Case::new(), Case::new(), Case::new()];
    cases[1].state = TradingState::Reducing;
    cases[2].state = TradingState::Halted;
    for c in &mut cases[1..3] {
        fill(&mut c.account, btc(), Side::Buy, dec!(0.02), dec!(60000));
    }
    fill(&mut cases[3].account, btc(), Side::Sell, dec!(0.03), dec!(60000));
    for i in 0..iterations {
        let case = &cases[(i % 4) as usize];
        let mut req = entry();
        req.qty = adversarial_decimal(&mut rng);
        req.side = pick(&mut rng, &[Side::Buy, Side::Sell]);
        req.symbol = pick(&mut rng, &[btc(), btc(), btc(), eth()]);
        req.reduce_only = rng.random_bool(0.3);
        req.purpose = pick(
            &mut rng,
            &[
                OrderPurpose::Entry,
                OrderPurpose::Exit,
                OrderPurpose::StopLoss,
                OrderPurpose::TakeProfit,
                OrderPurpose::Flatten,
            ],
        );
        req.leverage = match rng.random_range(0..4) {
            0 => Decimal::from(rng.random_range(0..1000)),
            1 => -Decimal::ONE,
            _ => Decimal::new(rng.random_range(10..60), 1),
        };
        req.kind = match rng.random_range(0..4) {
            0 => OrderKind::Limit { price: adversarial_price(&mut rng).unwrap_or(Decimal::ZERO) },
            1 => OrderKind::StopMarket { trigger: adversarial_price(&mut rng).unwrap_or(Decimal::ZERO) },
            _ => OrderKind::Market,
        };
        req.stop_loss = adversarial_price(&mut rng);
        req.take_profit = adversarial_price(&mut rng);
        let mut case_ctx = case.context.clone();
        case_ctx.realized_vol_pct = pick(&mut rng, &[None, Some(25.0), Some(80.0), Some(400.0), Some(f64::INFINITY)]);
        let checked = {
            let marks = |_s: Symbol| Some(dec!(60000));
            let instrument = if req.symbol == btc() { Some(inst()) } else { None };
            let view = RiskView {
                instrument: instrument.as_ref(),
                account: Some(&case.account),
                price: Some(dec!(60000)),
                marks: &marks,
                state: case.state,
                limits: Some(&case.limits),
                counts_for_arena: true,
                context: case_ctx.clone(),
            };
            RiskGate::default().check(&view, req.clone())
        };
        match checked {
            Ok(ok) => {
                approved += 1;
                let c = Case { context: case_ctx, ..Case::new_like(case) };
                assert_within_limits(&c, &req, ok.inner());
            }
            Err(_) => refused += 1,
        }
    }
    assert_eq!(approved + refused, u64::from(iterations));
    assert!(approved > 1_000, "the fuzzer must also reach approvals ({approved})");
    eprintln!("gate fuzz: {iterations} requests, {approved} approved (every one within limits), {refused} refused");
}

impl Case {
    fn new_like(other: &Case) -> Case {
        Case {
            account: other.account.clone(),
            state: other.state,
            limits: other.limits.clone(),
            context: other.context.clone(),
            instrument: other.instrument.clone(),
            price: other.price,
        }
    }
}
