//! Risk in the running engine: refusals never reach the venue, circuit breakers trip, fail closed
//! and only the operator releases them, the trading-state machine, the kill switch across
//! accounts, always-on protection, and the crash tape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use alphatx::agents::scripted::Scripted;
use alphatx::agents::{AgentContext, Decision, Proposal, RuleAgent, Signal};
use alphatx::clock::ManualClock;
use alphatx::domain::{AgentId, Bar, Instrument, MarketData, MarketEvent, OrderPurpose, Side, Symbol, Timeframe};
use alphatx::engine::guard::BreakerKind;
use alphatx::engine::journal::JournalRecord;
use alphatx::engine::state::AgentDriver;
use alphatx::engine::{
    AgentSpec, Command, Driver, Durability, Engine, EngineConfig, EngineEvent, FeedState, FeedStatus,
};
use alphatx::execution::paper::{PaperConfig, PaperExchange};
use alphatx::execution::{ExecEvent, ExecutionClient};
use alphatx::market::candles::CandleInput;
use alphatx::risk::{ArenaLimits, RefusalCode, RiskGate, RiskLimits, TradingState};
use rust_decimal::Decimal;
use rust_decimal::dec;

const MIN: i64 = 60_000;

fn btc() -> Symbol {
    Symbol::new("BTCUSDT").unwrap()
}

fn id(name: &str) -> AgentId {
    AgentId::new(name).unwrap()
}

fn instrument() -> Instrument {
    Instrument::perp(btc(), "BTC", dec!(0.1), dec!(0.001), 50)
}

/// Limits for tape tests: volatility is unknown on synthetic flat tapes, so the cap is taken
/// from the hard limit by a very high target; cooldowns off unless a test wants them.
fn limits() -> RiskLimits {
    RiskLimits { target_volatility_pct: 1e4, stop_out_cooldown_min: 0, min_reversal_min: 0, ..RiskLimits::default() }
}

fn spec(name: &str, driver: AgentDriver, limits: RiskLimits) -> AgentSpec {
    AgentSpec {
        id: id(name),
        driver,
        benchmark: false,
        symbols: vec![btc()],
        balance: dec!(10000),
        limits: Some(limits),
    }
}

fn driver(agents: Vec<AgentSpec>, input: CandleInput, arena: ArenaLimits, durability: Durability) -> Driver {
    let clock = ManualClock::new(0);
    let mut paper = PaperExchange::new(PaperConfig::default(), vec![instrument()], 1);
    for a in &agents {
        paper.open_account(a.id, a.balance);
    }
    let config = EngineConfig { candle_input: input, ..EngineConfig::default() };
    let gate = RiskGate::with_arena(limits(), arena);
    let engine = Engine::new(config, vec![instrument()], agents, gate, Arc::new(clock.clone()));
    Driver::new(engine, Box::new(paper), Some(clock), durability)
}

/// Arena breakers out of the way, for tests of one agent's breakers.
fn quiet_arena() -> ArenaLimits {
    ArenaLimits { daily_loss_limit_pct: 100.0, max_drawdown_pct: 100.0, ..ArenaLimits::default() }
}

fn scripted(script: Vec<(i64, Decision)>, limits: RiskLimits) -> Driver {
    let d = AgentDriver::Rule(Box::new(Scripted::new(Timeframe::M1, script)));
    driver(vec![spec("alice", d, limits)], CandleInput::Bars, quiet_arena(), Durability::Direct)
}

fn bar(minute: i64, o: Decimal, h: Decimal, l: Decimal, c: Decimal) -> MarketEvent {
    MarketEvent {
        ts_ms: (minute + 1) * MIN,
        symbol: btc(),
        data: MarketData::Bar(Bar {
            open_ms: minute * MIN,
            interval_ms: MIN,
            open: o,
            high: h,
            low: l,
            close: c,
            volume: dec!(50),
        }),
    }
}

fn flat(minute: i64, p: Decimal) -> MarketEvent {
    bar(minute, p, p, p, p)
}

/// `minutes` of bars wiggling around 60,000 (so realised volatility is known), with the engine
/// warming (no decisions).
fn noisy_warmup(d: &mut Driver, minutes: i64) {
    d.engine.set_warming(true);
    for m in 0..minutes {
        let p = if m % 2 == 0 { dec!(60000) } else { dec!(60030) };
        d.on_market(flat(m, p));
    }
    d.engine.set_warming(false);
}

fn trade(ts_ms: i64, price: Decimal) -> MarketEvent {
    MarketEvent {
        ts_ms,
        symbol: btc(),
        data: MarketData::Trade { price, qty: dec!(0.5), aggressor: Side::Sell, trade_id: ts_ms as u64 },
    }
}

fn entry(signal: Signal, qty: Decimal, stop: Option<Decimal>, target: Option<Decimal>, leverage: Decimal) -> Decision {
    Decision {
        reasoning: "test".into(),
        proposals: vec![Proposal {
            signal,
            symbol: btc(),
            quantity: qty,
            leverage,
            profit_target: target,
            stop_loss: stop,
            invalidation_condition: None,
            confidence: 0.5,
            risk_usd: None,
            justification: "test".into(),
        }],
    }
}

fn refusals(journal: &[JournalRecord]) -> Vec<RefusalCode> {
    journal
        .iter()
        .filter_map(|r| match r {
            JournalRecord::Refusal(r) => Some(r.code),
            _ => None,
        })
        .collect()
}

/// Agent breaker trips/releases (arena ones are in `arena_trips`).
fn trips(journal: &[JournalRecord]) -> Vec<(BreakerKind, bool)> {
    journal
        .iter()
        .filter_map(|r| match r {
            JournalRecord::Breaker(b) if b.agent.is_some() => Some((b.breaker, b.tripped)),
            _ => None,
        })
        .collect()
}

fn arena_trips(journal: &[JournalRecord]) -> Vec<(BreakerKind, bool)> {
    journal
        .iter()
        .filter_map(|r| match r {
            JournalRecord::Breaker(b) if b.agent.is_none() => Some((b.breaker, b.tripped)),
            _ => None,
        })
        .collect()
}

/// Runs one decision at minute 2 and returns (refusals, venue reports).
fn one_decision(decision: Decision, limits: RiskLimits) -> (Vec<RefusalCode>, Vec<ExecEvent>) {
    let mut d = scripted(vec![(2 * MIN, decision)], limits);
    d.on_market(flat(0, dec!(60000)));
    d.on_market(flat(1, dec!(60000)));
    (refusals(&d.take_journal()), d.take_venue_log())
}

#[test]
fn refused_entries_never_reach_the_venue() {
    let cases: Vec<(Decision, RiskLimits, RefusalCode)> = vec![
        (entry(Signal::BuyToEnter, dec!(0.1), None, None, dec!(1)), limits(), RefusalCode::MissingStopLoss),
        (entry(Signal::BuyToEnter, dec!(0.3), Some(dec!(59000)), None, dec!(1)), limits(), RefusalCode::RiskPerTrade),
        (entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(50000)), None, dec!(1)), limits(), RefusalCode::PriceBand),
        (
            entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), None, dec!(20)),
            limits(),
            RefusalCode::LeverageAboveMax,
        ),
        (
            entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), Some(dec!(60500)), dec!(1)),
            RiskLimits { min_reward_risk: Some(1.0), ..limits() },
            RefusalCode::RewardRisk,
        ),
        (
            entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), None, dec!(1)),
            RiskLimits { max_position_notional: dec!(1000), ..limits() },
            RefusalCode::PositionLimit,
        ),
        (
            entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), None, dec!(1)),
            RiskLimits { max_gross_exposure_x: 0.1, ..limits() },
            RefusalCode::GrossExposure,
        ),
        (
            entry(Signal::BuyToEnter, dec!(0.0001), Some(dec!(59000)), None, dec!(1)),
            limits(),
            RefusalCode::InvalidQuantity,
        ),
    ];
    for (decision, l, code) in cases {
        let (codes, venue) = one_decision(decision, l);
        assert_eq!(codes, vec![code]);
        assert!(venue.is_empty(), "{code}: the venue saw {venue:?}");
    }
}

#[test]
fn order_rate_cooldown_and_flip_flop_guards() {
    // Rate: entry, exit, entry within one minute with a limit of 2 (a slow agent's replies).
    let l = RiskLimits { max_orders_per_minute: 2, ..limits() };
    let close = Decision { reasoning: "x".into(), proposals: vec![Proposal::close(btc(), "x".into())] };
    let long = entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), None, dec!(1));
    let remote = AgentDriver::Remote { kind: "llm".into(), cadence_ms: MIN, next_due_ms: None, in_flight: None };
    let mut d = driver(vec![spec("alice", remote, l)], CandleInput::Bars, ArenaLimits::default(), Durability::Direct);
    d.on_market(flat(0, dec!(60000)));
    for (k, decision) in [long.clone(), close.clone(), long.clone()].into_iter().enumerate() {
        d.agent_reply(alphatx::engine::AgentReply {
            agent: id("alice"),
            request_id: k as u64,
            decision: Ok(decision),
            meta: Default::default(),
        });
    }
    assert_eq!(refusals(&d.take_journal()), vec![RefusalCode::RateLimited]);
    // Cooldown: a stop-out blocks re-entry.
    let l = RiskLimits { stop_out_cooldown_min: 15, ..limits() };
    let again = entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(58000)), None, dec!(1));
    let mut d = scripted(vec![(2 * MIN, long.clone()), (4 * MIN, again)], l);
    d.on_market(flat(0, dec!(60000)));
    d.on_market(flat(1, dec!(60000)));
    d.on_market(bar(2, dec!(60000), dec!(60000), dec!(58800), dec!(58900))); // stop at 59,000 fills
    assert!(d.engine.account(id("alice")).unwrap().is_flat());
    d.on_market(flat(3, dec!(58900)));
    assert_eq!(refusals(&d.take_journal()), vec![RefusalCode::Cooldown]);
    // Flip-flop: a short right after closing a long.
    let l = RiskLimits { min_reversal_min: 30, ..limits() };
    let short = entry(Signal::SellToEnter, dec!(0.1), Some(dec!(61000)), None, dec!(1));
    let mut d = scripted(vec![(2 * MIN, long), (3 * MIN, close), (4 * MIN, short)], l);
    for m in 0..5 {
        d.on_market(flat(m, dec!(60000)));
    }
    assert_eq!(refusals(&d.take_journal()), vec![RefusalCode::Reversal]);
}

/// An agent that buys on every 1m close while flat, with a tight stop: it keeps buying into a
/// falling market.
struct KeepsBuying;

impl RuleAgent for KeepsBuying {
    fn kind(&self) -> &'static str {
        "keeps_buying"
    }
    fn timeframe(&self) -> Timeframe {
        Timeframe::M1
    }
    fn decide(&mut self, ctx: &AgentContext<'_>) -> Option<Decision> {
        if ctx.account.position(ctx.symbol).is_some() {
            return None;
        }
        let price = ctx.market(ctx.symbol)?.last?;
        let stop = (price * dec!(0.994)).round_dp(1);
        Some(entry(Signal::BuyToEnter, dec!(0.5), Some(stop), None, dec!(5)))
    }
}

#[test]
fn crash_tape_daily_loss_breaker_halts_with_at_most_one_orders_slippage() {
    let agent = spec("buyer", AgentDriver::Rule(Box::new(KeepsBuying)), limits());
    let mut d = driver(
        vec![agent],
        CandleInput::Trades,
        ArenaLimits { daily_loss_limit_pct: 100.0, ..ArenaLimits::default() },
        Durability::Direct,
    );
    // Five quiet hours (prices wiggle a little, so realised volatility is known), then −20 % in
    // ten minutes, one print a second, then a floor.
    let mut t = 0;
    d.engine.set_warming(true);
    for k in 0..5 * 3600 {
        t += 1000;
        d.on_market(trade(t, if k % 120 < 60 { dec!(60000) } else { dec!(60010) }));
    }
    d.engine.set_warming(false);
    let crash_start = t;
    for s in 1..=600 {
        t += 1000;
        d.on_market(trade(t, dec!(60000) - Decimal::from(s * 20)));
    }
    for _ in 0..600 {
        t += 1000;
        d.on_market(trade(t, dec!(48000)));
    }
    let journal = d.take_journal();
    let venue = d.take_venue_log();
    let snap = d.engine.snapshot();
    let buyer = snap.agent(id("buyer")).unwrap();
    assert_eq!(trips(&journal), vec![(BreakerKind::DailyLoss, true)], "exactly one trip");
    assert_eq!(buyer.state, TradingState::Halted);
    assert!(buyer.positions.is_empty(), "flattened");
    assert!(refusals(&journal).contains(&RefusalCode::TradingState), "the agent kept trying after the halt");
    let fills: Vec<_> = venue
        .iter()
        .filter_map(|e| match e {
            ExecEvent::Filled { fill, .. } => Some(fill.clone()),
            _ => None,
        })
        .collect();
    assert!(
        fills.iter().filter(|f| f.purpose == OrderPurpose::Entry).count() >= 2,
        "it bought more than once into the crash"
    );
    let flatten = fills.iter().find(|f| f.purpose == OrderPurpose::Flatten).expect("the breaker flattened");
    assert!(flatten.ts_ms > crash_start);
    // The loss beyond the limit: the trip fires on the first print where equity is at or past
    // the limit, and the flatten sells at that print less the spread and impact. So the
    // overshoot is at most one print's move on the position plus that one order's slippage and fee.
    let limit_equity = dec!(10000) * dec!(0.95);
    let final_equity = snap.agent(id("buyer")).unwrap().equity;
    let overshoot = (limit_equity - final_equity).max(Decimal::ZERO);
    let print = flatten_print(&venue, flatten.ts_ms);
    let slippage_and_fee = (print - flatten.price) * flatten.qty + flatten.fee;
    let one_print_move = dec!(20) * flatten.qty;
    assert!(
        overshoot <= slippage_and_fee + one_print_move,
        "overshoot {overshoot} > slippage+fee {slippage_and_fee} + one print {one_print_move}"
    );
    assert!(final_equity < limit_equity, "the limit was really reached ({final_equity})");
    eprintln!(
        "crash tape: limit equity {limit_equity}, final {final_equity}, overshoot {overshoot} \
         (flatten slippage+fee {slippage_and_fee}, one print {one_print_move}); entries {}",
        fills.iter().filter(|f| f.purpose == OrderPurpose::Entry).count()
    );
}

/// The trade price at the moment of the flatten (the paper venue's last print).
fn flatten_print(_venue: &[ExecEvent], ts_ms: i64) -> Decimal {
    // Prints are every second on a straight line during the crash.
    let s = (ts_ms - 5 * 3_600_000) / 1000;
    if s <= 0 { dec!(60000) } else { dec!(60000) - Decimal::from(s.min(600) * 20) }
}

#[test]
fn drawdown_and_consecutive_losses_breakers() {
    // Drawdown: 10 % from the high-water mark (daily loss off).
    let l =
        RiskLimits { max_drawdown_pct: 10.0, daily_loss_limit_pct: 100.0, max_risk_per_trade_pct: 50.0, ..limits() };
    let mut d = scripted(vec![(252 * MIN, entry(Signal::BuyToEnter, dec!(0.5), Some(dec!(54100)), None, dec!(5)))], l);
    noisy_warmup(&mut d, 250);
    d.on_market(flat(250, dec!(60000)));
    d.on_market(flat(251, dec!(60000)));
    let mut p = dec!(60000);
    for m in 252..290 {
        p -= dec!(100);
        d.on_market(flat(m, p));
    }
    let journal = d.take_journal();
    assert_eq!(trips(&journal), vec![(BreakerKind::Drawdown, true)]);
    assert!(d.engine.account(id("alice")).unwrap().is_flat());
    assert_eq!(d.engine.snapshot().agents[0].state, TradingState::Halted);

    // Consecutive losses: three stop-outs in a row with a limit of 3 ⇒ reduce-only.
    let l = RiskLimits { max_consecutive_losses: 3, ..limits() };
    let long = entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59500)), None, dec!(1));
    let script = (0..5).map(|k| ((2 + 2 * k) * MIN, long.clone())).collect();
    let mut d = scripted(script, l);
    d.on_market(flat(0, dec!(60000)));
    for m in 1..12 {
        if m % 2 == 0 {
            d.on_market(bar(m, dec!(60000), dec!(60000), dec!(59000), dec!(60000))); // stopped out
        } else {
            d.on_market(flat(m, dec!(60000)));
        }
    }
    let journal = d.take_journal();
    assert_eq!(trips(&journal), vec![(BreakerKind::ConsecutiveLosses, true)]);
    assert!(refusals(&journal).contains(&RefusalCode::TradingState));
    let snap = d.engine.snapshot();
    assert_eq!(snap.agents[0].state, TradingState::Reducing);
    // Only the operator releases it.
    d.command(Command::ReleaseBreakers { agent: Some(id("alice")) });
    let snap = d.engine.snapshot();
    assert_eq!(snap.agents[0].state, TradingState::Active);
    assert_eq!(trips(&d.take_journal()), vec![(BreakerKind::ConsecutiveLosses, false)]);
}

#[test]
fn refusal_rate_stale_data_and_ledger_failure_breakers() {
    let l = RiskLimits { refusal_window: 4, max_refusal_rate_pct: 50.0, ..limits() };
    let bad = entry(Signal::BuyToEnter, dec!(0.1), None, None, dec!(1));
    let script = (0..4).map(|k| ((2 + k) * MIN, bad.clone())).collect();
    let mut d = scripted(script, l);
    for m in 0..7 {
        d.on_market(flat(m, dec!(60000)));
    }
    let journal = d.take_journal();
    assert_eq!(trips(&journal), vec![(BreakerKind::RefusalRate, true)]);
    assert_eq!(d.engine.snapshot().agents[0].state, TradingState::Reducing);

    // Stale data past the arena threshold ⇒ arena reduce-only, after a tick.
    let mut d = scripted(Vec::new(), limits());
    d.on_market(flat(0, dec!(60000)));
    let mut status = FeedStatus::new("test", FeedState::Stale, "no data");
    status.stale = vec![btc()];
    d.event(EngineEvent::Feed(status));
    d.tick();
    assert_eq!(d.engine.snapshot().global_state, TradingState::Active, "not yet past the threshold");
    d.on_market(MarketEvent {
        ts_ms: 2 * MIN,
        symbol: btc(),
        data: MarketData::Mark { mark: dec!(60000), funding_rate: None, next_funding_ms: None },
    });
    d.tick();
    let snap = d.engine.snapshot();
    assert_eq!(snap.global_state, TradingState::Reducing);
    assert!(snap.global_reason.unwrap().contains("stale"));
    assert_eq!(arena_trips(&d.take_journal()), vec![(BreakerKind::StaleData, true)]);

    // Ledger failure ⇒ arena reduce-only until released.
    let long = entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), None, dec!(1));
    let mut d = scripted(vec![(2 * MIN, long.clone()), (4 * MIN, long)], limits());
    d.on_market(flat(0, dec!(60000)));
    d.event(EngineEvent::LedgerFailed("disk I/O error".into()));
    d.on_market(flat(1, dec!(60000)));
    assert!(d.engine.account(id("alice")).unwrap().is_flat());
    let journal = d.take_journal();
    assert_eq!(refusals(&journal), vec![RefusalCode::TradingState]);
    assert_eq!(arena_trips(&journal), vec![(BreakerKind::Persistence, true)]);
    d.command(Command::ReleaseBreakers { agent: None });
    d.on_market(flat(2, dec!(60000)));
    d.on_market(flat(3, dec!(60000)));
    assert_eq!(d.engine.account(id("alice")).unwrap().qty(btc()), dec!(0.1), "released: entries allowed again");
}

#[test]
fn trading_state_machine() {
    let mut d = scripted(Vec::new(), limits());
    d.on_market(flat(0, dec!(60000)));
    let state = |d: &mut Driver| (d.engine.snapshot().global_state, d.engine.snapshot().agents[0].state);
    assert_eq!(state(&mut d), (TradingState::Active, TradingState::Active));
    d.command(Command::SetReduceOnly { agent: None, on: true });
    assert_eq!(state(&mut d), (TradingState::Reducing, TradingState::Reducing));
    d.command(Command::KillSwitch);
    assert_eq!(state(&mut d), (TradingState::Halted, TradingState::Halted));
    d.command(Command::ReleaseKillSwitch);
    assert_eq!(state(&mut d), (TradingState::Reducing, TradingState::Reducing), "reduce-only is still on");
    d.command(Command::SetReduceOnly { agent: None, on: false });
    assert_eq!(state(&mut d), (TradingState::Active, TradingState::Active));
    d.command(Command::SetReduceOnly { agent: Some(id("alice")), on: true });
    assert_eq!(state(&mut d), (TradingState::Active, TradingState::Reducing));
    let states: Vec<_> = d
        .take_journal()
        .into_iter()
        .filter_map(|r| match r {
            JournalRecord::StateChange(s) => Some((s.agent.is_some(), s.state)),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (false, TradingState::Reducing),
            (false, TradingState::Halted),
            (false, TradingState::Reducing),
            (false, TradingState::Active),
            (true, TradingState::Reducing),
        ]
    );
}

#[test]
fn kill_switch_leaves_every_account_flat_with_no_resting_orders() {
    let long = entry(Signal::BuyToEnter, dec!(0.05), Some(dec!(59000)), Some(dec!(61000)), dec!(1));
    let short = entry(Signal::SellToEnter, dec!(0.05), Some(dec!(61000)), Some(dec!(59000)), dec!(1));
    let agents = vec![
        spec("a", AgentDriver::Rule(Box::new(Scripted::new(Timeframe::M1, vec![(2 * MIN, long.clone())]))), limits()),
        spec("b", AgentDriver::Rule(Box::new(Scripted::new(Timeframe::M1, vec![(2 * MIN, short)]))), limits()),
        spec("c", AgentDriver::Rule(Box::new(Scripted::new(Timeframe::M1, vec![(2 * MIN, long)]))), limits()),
    ];
    // Venue reports wait for the "ledger": the engine must not release before it sees flat.
    let mut d = driver(agents, CandleInput::Bars, ArenaLimits::default(), Durability::AfterCommit);
    d.on_market(flat(0, dec!(60000)));
    d.on_market(flat(1, dec!(60000)));
    loop {
        let pending = d.take_uncommitted();
        if pending.is_empty() {
            break;
        }
        d.committed(pending);
    }
    assert_eq!(d.exec().venue_open_orders().len(), 6, "three stops and three targets resting");
    d.command(Command::KillSwitch);
    // Not confirmed yet: the release is refused.
    d.command(Command::ReleaseKillSwitch);
    assert!(d.engine.snapshot().kill_switch_ms.is_some());
    loop {
        let pending = d.take_uncommitted();
        if pending.is_empty() {
            break;
        }
        d.committed(pending);
    }
    for name in ["a", "b", "c"] {
        assert!(d.exec().venue_account(id(name)).unwrap().is_flat(), "{name} flat at the venue");
        assert!(d.engine.account(id(name)).unwrap().is_flat(), "{name} flat in the ledger");
    }
    assert!(d.exec().venue_open_orders().is_empty());
    let snap = d.engine.snapshot();
    assert!(snap.agents.iter().all(|a| a.open_orders.is_empty() && a.positions.is_empty()));
    assert!(snap.kill_switch_ms.is_some(), "still latched until the operator releases it");
    let results: Vec<String> = d
        .take_journal()
        .into_iter()
        .filter_map(|r| match r {
            JournalRecord::Command(c) => Some(c.result),
            _ => None,
        })
        .collect();
    assert!(results[1].starts_with("refused"), "{results:?}");
    d.command(Command::ReleaseKillSwitch);
    assert!(d.engine.snapshot().kill_switch_ms.is_none());
}

#[test]
fn positions_without_a_live_stop_are_protected_by_the_engine() {
    // The venue stop is cancelled; the price then crosses the stop: the engine closes at once.
    let mut d =
        scripted(vec![(2 * MIN, entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), None, dec!(1)))], limits());
    d.on_market(flat(0, dec!(60000)));
    d.on_market(flat(1, dec!(60000)));
    let stop = d.exec().venue_open_orders()[0].request.id;
    d.command(Command::CancelOrder { agent: id("alice"), order: stop });
    assert!(d.exec().venue_open_orders().is_empty());
    d.on_market(flat(2, dec!(58900)));
    assert!(d.engine.account(id("alice")).unwrap().is_flat(), "engine-side stop");
    let venue = d.take_venue_log();
    assert!(
        venue.iter().any(|e| matches!(e, ExecEvent::Filled { fill, .. } if fill.purpose == OrderPurpose::StopLoss))
    );

    // Left without a stop and the price never reaches it: closed after the grace period.
    let l = RiskLimits { unprotected_grace_secs: 30, ..limits() };
    let mut d = scripted(vec![(2 * MIN, entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), None, dec!(1)))], l);
    d.on_market(flat(0, dec!(60000)));
    d.on_market(flat(1, dec!(60000)));
    let stop = d.exec().venue_open_orders()[0].request.id;
    d.command(Command::CancelOrder { agent: id("alice"), order: stop });
    d.on_market(flat(2, dec!(60000)));
    assert_eq!(d.engine.account(id("alice")).unwrap().qty(btc()), dec!(0.1), "within the grace period");
    d.on_market(flat(3, dec!(60000)));
    assert!(d.engine.account(id("alice")).unwrap().is_flat(), "closed once the grace period passed");
    let snap = d.engine.snapshot();
    assert!(snap.log.iter().any(|l| l.text.contains("no live stop-loss")));
    let flatten = d
        .take_venue_log()
        .into_iter()
        .any(|e| matches!(e, ExecEvent::Filled { fill, .. } if fill.purpose == OrderPurpose::Flatten));
    assert!(flatten);
}

#[test]
fn the_arena_daily_loss_breaker_halts_and_flattens_everyone() {
    let long = |stop| entry(Signal::BuyToEnter, dec!(0.15), Some(stop), None, dec!(3));
    let l =
        RiskLimits { daily_loss_limit_pct: 100.0, max_drawdown_pct: 100.0, max_risk_per_trade_pct: 50.0, ..limits() };
    let agents = vec![
        spec(
            "a",
            AgentDriver::Rule(Box::new(Scripted::new(Timeframe::M1, vec![(252 * MIN, long(dec!(55000)))]))),
            l.clone(),
        ),
        spec("b", AgentDriver::Rule(Box::new(Scripted::new(Timeframe::M1, vec![(252 * MIN, long(dec!(55000)))]))), l),
    ];
    let arena = ArenaLimits { daily_loss_limit_pct: 3.0, ..ArenaLimits::default() };
    let mut d = driver(agents, CandleInput::Bars, arena, Durability::Direct);
    noisy_warmup(&mut d, 250);
    d.on_market(flat(250, dec!(60000)));
    d.on_market(flat(251, dec!(60000)));
    let mut p = dec!(60000);
    for m in 252..280 {
        p -= dec!(100);
        d.on_market(flat(m, p));
    }
    let journal = d.take_journal();
    assert_eq!(arena_trips(&journal), vec![(BreakerKind::DailyLoss, true)]);
    assert!(trips(&journal).is_empty(), "no agent breaker tripped: {:?}", trips(&journal));
    let snap = d.engine.snapshot();
    assert_eq!(snap.global_state, TradingState::Halted);
    assert!(snap.agents.iter().all(|a| a.positions.is_empty() && a.state == TradingState::Halted));
    // Two 0.15 BTC longs (18,000 notional on 20,000): 3 % of 20,000 = 600 ⇒ about 2,000 down.
    let arena_equity: Decimal = snap.agents.iter().map(|a| a.equity).sum();
    assert!(arena_equity < dec!(19420) && arena_equity > dec!(19300), "{arena_equity}");
    d.command(Command::ReleaseBreakers { agent: None });
    assert_eq!(d.engine.snapshot().global_state, TradingState::Active);
}

#[test]
fn numeric_invalidation_levels_close_the_position() {
    // "closes below 59,500 on the 1m close" is read as a level and enforced by the engine.
    let mut d = entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(58000)), None, dec!(1));
    d.proposals[0].invalidation_condition = Some("BTC closes below 59500 on the 1m close".into());
    let mut driver = scripted(vec![(2 * MIN, d)], limits());
    driver.on_market(flat(0, dec!(60000)));
    driver.on_market(flat(1, dec!(60000)));
    let snap = driver.engine.snapshot();
    let level = snap.agents[0].positions[0].plan.as_ref().unwrap().invalidation_level.expect("parsed");
    assert!(level.below && level.price == dec!(59500));
    // An intra-minute dip below the level does not count: only the 1m close does.
    driver.on_market(bar(2, dec!(60000), dec!(60000), dec!(59400), dec!(59800)));
    assert_eq!(driver.engine.account(id("alice")).unwrap().qty(btc()), dec!(0.1));
    driver.on_market(flat(3, dec!(59450)));
    assert!(driver.engine.account(id("alice")).unwrap().is_flat());
    assert!(driver.engine.snapshot().log.iter().any(|l| l.text.starts_with("invalidation breached")));
}
