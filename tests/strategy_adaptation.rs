//! Adaptation through the real engine: a rule agent's entries shrink after its own losing trades
//! (the decision records the factor used), benchmarks and disabled adaptation change nothing, and
//! the arena moves free cash from the worse agent to the better one — exactly, journaled, logged,
//! mirrored at the venue, never from margin in use, and without tripping breakers or counting as
//! profit or loss. A venue that refuses a transfer gets it reversed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use alphatx::agents::adaptive::AdaptationConfig;
use alphatx::agents::scripted::Scripted;
use alphatx::agents::{Decision, Proposal, Signal};
use alphatx::clock::ManualClock;
use alphatx::domain::{
    Account, AgentId, Bar, Instrument, MarketData, MarketEvent, Order, OrderId, Side, Symbol, Timeframe,
};
use alphatx::engine::journal::{DecisionRecord, JournalRecord, TransferRecord};
use alphatx::engine::state::AgentDriver;
use alphatx::engine::{AgentSpec, Driver, Durability, Engine, EngineConfig};
use alphatx::execution::paper::{PaperConfig, PaperExchange};
use alphatx::execution::{ExecEvent, ExecutionClient};
use alphatx::market::candles::CandleInput;
use alphatx::risk::{RiskApproved, RiskGate};
use rust_decimal::Decimal;
use rust_decimal::dec;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

const MIN: i64 = 60_000;
const T0: i64 = 1_704_067_200_000;

fn sym() -> Symbol {
    Symbol::new("TESTUSDT").unwrap()
}

fn id(s: &str) -> AgentId {
    AgentId::new(s).unwrap()
}

fn inst() -> Instrument {
    Instrument::perp(sym(), "TEST", dec!(0.01), dec!(0.001), 20)
}

fn bar(i: i64, price: f64) -> MarketEvent {
    let p = Decimal::from_f64(price).unwrap().round_dp(2);
    MarketEvent {
        ts_ms: T0 + (i + 1) * MIN,
        symbol: sym(),
        data: MarketData::Bar(Bar {
            open_ms: T0 + i * MIN,
            interval_ms: MIN,
            open: p,
            high: p,
            low: p,
            close: p,
            volume: dec!(1000),
        }),
    }
}

fn entry(side: Signal, qty: Decimal, stop: Decimal) -> Decision {
    Decision {
        reasoning: "scripted entry".into(),
        proposals: vec![Proposal {
            signal: side,
            symbol: sym(),
            quantity: qty,
            leverage: Decimal::ONE,
            profit_target: None,
            stop_loss: Some(stop),
            invalidation_condition: None,
            confidence: 0.5,
            risk_usd: Some(dec!(10)),
            justification: "test".into(),
        }],
    }
}

fn close() -> Decision {
    Decision { reasoning: "scripted exit".into(), proposals: vec![Proposal::close(sym(), "exit".into())] }
}

fn spec(name: &str, script: Vec<(i64, Decision)>, benchmark: bool) -> AgentSpec {
    AgentSpec {
        id: id(name),
        driver: AgentDriver::Rule(Box::new(Scripted::new(Timeframe::M1, script))),
        benchmark,
        symbols: vec![sym()],
        balance: dec!(10000),
        limits: None,
    }
}

fn driver(agents: Vec<AgentSpec>, adaptation: AdaptationConfig, exec: Box<dyn ExecutionClient>) -> Driver {
    let clock = ManualClock::new(T0);
    let config = EngineConfig { candle_input: CandleInput::Bars, ..EngineConfig::default() };
    let mut engine = Engine::new(config, vec![inst()], agents, RiskGate::default(), Arc::new(clock.clone()));
    engine.set_adaptation(adaptation);
    Driver::new(engine, exec, Some(clock), Durability::Direct)
}

fn paper(names: &[&str]) -> Box<dyn ExecutionClient> {
    let mut p = PaperExchange::new(
        PaperConfig { synthetic_spread_bps: 0.0, impact_bps: 0.0, max_impact_bps: 0.0 },
        vec![inst()],
        1,
    );
    for n in names {
        p.open_account(id(n), dec!(10000));
    }
    Box::new(p)
}

/// Five losing round trips (buy at 100, sell 2 minutes later lower), then a sixth entry.
fn losing_script() -> Vec<(i64, Decision)> {
    let mut s = Vec::new();
    for k in 0..5 {
        let start = (2 + 10 * k) * MIN;
        s.push((T0 + start, entry(Signal::BuyToEnter, dec!(10), dec!(95))));
        s.push((T0 + start + 3 * MIN, close()));
    }
    s.push((T0 + 60 * MIN, entry(Signal::BuyToEnter, dec!(10), dec!(95))));
    s
}

/// 100 at every buy; the exits come 1.0, 1.5, 0.8, 1.2, 1.1 lower (sawtooth).
fn losing_prices() -> Vec<f64> {
    let drops = [1.0, 1.5, 0.8, 1.2, 1.1];
    (0..70)
        .map(|i| {
            let k = (i / 10) as usize;
            if (3..=9).contains(&(i % 10)) && k < 5 { 100.0 - drops[k] } else { 100.0 }
        })
        .collect()
}

/// (side, quantity, price, fee) of a fill.
type FillRow = (Side, f64, f64, f64);

fn run_losing(adaptation: AdaptationConfig, benchmark: bool) -> (Vec<DecisionRecord>, Vec<FillRow>) {
    let mut d = driver(vec![spec("alice", losing_script(), benchmark)], adaptation, paper(&["alice"]));
    let mut decisions = Vec::new();
    let mut fills = Vec::new();
    for (i, p) in losing_prices().iter().enumerate() {
        d.on_market(bar(i as i64, *p));
        for r in d.take_journal() {
            if let JournalRecord::Decision(x) = r {
                decisions.push(x);
            }
        }
        for e in d.take_venue_log() {
            if let ExecEvent::Filled { fill, .. } = e {
                fills.push((
                    fill.side,
                    fill.qty.to_f64().unwrap(),
                    fill.price.to_f64().unwrap(),
                    fill.fee.to_f64().unwrap(),
                ));
            }
        }
    }
    (decisions, fills)
}

fn sizing() -> AdaptationConfig {
    AdaptationConfig { sizing: true, ..AdaptationConfig::default() }
}

#[test]
fn losing_trades_shrink_the_next_entry_and_the_decision_records_it() {
    let (decisions, fills) = run_losing(sizing(), false);
    assert_eq!(fills.len(), 11, "{fills:?}");
    // The agent's own trade returns, from the fills: net P&L on the entry notional.
    let returns: Vec<f64> = fills[..10]
        .chunks(2)
        .map(|c| {
            let (b, s) = (c[0], c[1]);
            ((s.2 - b.2) * b.1 - b.3 - s.3) / (b.2 * b.1)
        })
        .collect();
    assert!(returns.iter().all(|r| *r < 0.0));
    let expected = sizing().size_adjustment(&returns, None, None);
    assert!(expected.performance < 1.0 && expected.t_stat.unwrap() < -2.0, "{expected:?}");
    let last = decisions.last().unwrap();
    let adj = last.adjustment.expect("the sixth entry is adjusted");
    assert_eq!(adj.trades, 5);
    assert!((adj.scale - expected.scale).abs() < 1e-9, "{adj:?} vs {expected:?}");
    assert_eq!(adj.scale, 0.5, "a steady losing streak halves the size");
    assert_eq!(last.decision.proposals[0].quantity, dec!(5));
    assert_eq!(last.decision.proposals[0].risk_usd, Some(dec!(5)));
    assert!(
        last.decision.reasoning.contains("adaptive size ×0.50") && last.decision.reasoning.contains("over 5 trades")
    );
    assert_eq!(fills[10].1, 5.0, "the venue filled the adjusted size");
    // The first entries had no evidence yet: recorded at ×1.
    let first = decisions.iter().find(|d| !d.decision.proposals.is_empty()).unwrap();
    assert_eq!(first.adjustment.map(|a| a.scale), Some(1.0));
    // Exits are never adjusted.
    assert!(decisions.iter().filter(|d| d.decision.reasoning == "scripted exit").all(|d| d.adjustment.is_none()));
}

#[test]
fn without_adaptation_or_for_a_benchmark_nothing_changes() {
    for (cfg, benchmark) in [(AdaptationConfig::default(), false), (sizing(), true)] {
        let (decisions, fills) = run_losing(cfg, benchmark);
        assert!(decisions.iter().all(|d| d.adjustment.is_none()));
        assert_eq!(fills.last().unwrap().1, 10.0);
    }
}

/// A paper venue that cannot move capital (the trait's default).
struct NoTransfers(PaperExchange);

impl ExecutionClient for NoTransfers {
    fn venue(&self) -> &str {
        "no-transfers"
    }
    fn open_account(&mut self, agent: AgentId, balance: Decimal) {
        self.0.open_account(agent, balance)
    }
    fn submit(&mut self, order: RiskApproved<alphatx::domain::OrderRequest>, now_ms: i64, out: &mut Vec<ExecEvent>) {
        self.0.submit(order, now_ms, out)
    }
    fn cancel(&mut self, agent: AgentId, order_id: OrderId, reason: &str, now_ms: i64, out: &mut Vec<ExecEvent>) {
        self.0.cancel(agent, order_id, reason, now_ms, out)
    }
    fn on_market(&mut self, event: &MarketEvent, out: &mut Vec<ExecEvent>) {
        self.0.on_market(event, out)
    }
    fn venue_account(&self, agent: AgentId) -> Option<Account> {
        self.0.venue_account(agent)
    }
    fn venue_open_orders(&self) -> Vec<Order> {
        self.0.venue_open_orders()
    }
    fn restore_state(&mut self, accounts: &[Account], open_orders: &[Order], next_trade_id: u64) {
        self.0.restore_state(accounts, open_orders, next_trade_id)
    }
}

fn realloc() -> AdaptationConfig {
    AdaptationConfig { reallocate: true, ..AdaptationConfig::default() }
}

/// 30 hours of a slow rise with a wiggle; "long" holds 20 units from minute 1, "short" is short
/// 20 units: the long's hourly returns beat the short's.
fn run_two(adaptation: AdaptationConfig, exec: Box<dyn ExecutionClient>) -> (Driver, Vec<TransferRecord>) {
    let agents = vec![
        spec("long", vec![(T0 + 2 * MIN, entry(Signal::BuyToEnter, dec!(20), dec!(95)))], false),
        spec("short", vec![(T0 + 2 * MIN, entry(Signal::SellToEnter, dec!(20), dec!(105)))], false),
    ];
    let mut d = driver(agents, adaptation, exec);
    let mut transfers = Vec::new();
    for i in 0..30 * 60 {
        let p = 100.0 + 0.002 * i as f64 + 0.3 * (i as f64 / 7.0).sin();
        d.on_market(bar(i, p));
        for r in d.take_journal() {
            if let JournalRecord::Transfer(t) = r {
                transfers.push(t);
            }
        }
    }
    (d, transfers)
}

#[test]
fn the_arena_moves_free_cash_to_the_better_agent_exactly() {
    let (plain, none) = run_two(AdaptationConfig::default(), paper(&["long", "short"]));
    assert!(none.is_empty());
    let (d, transfers) = run_two(realloc(), paper(&["long", "short"]));
    assert_eq!(transfers.len(), 1, "one re-weighting after 24 h: {transfers:?}");
    let t = &transfers[0];
    assert_eq!((t.from, t.to, t.reversal), (id("short"), id("long"), false));
    assert!(t.amount > Decimal::ZERO && t.amount.scale() <= 2, "{}", t.amount);
    // At most 10 % of the giver's (≈ 10,000) equity.
    assert!(t.amount > dec!(900) && t.amount <= dec!(1010), "{}", t.amount);
    assert!(t.reason.contains("long Sharpe") && t.reason.contains("weight 1.50"), "{}", t.reason);
    // Exact: the same fills as without re-weighting, and the cash moved by exactly the amount.
    let cash = |d: &Driver, n: &str| d.engine.account(id(n)).unwrap().cash;
    assert_eq!(cash(&d, "long") - cash(&plain, "long"), t.amount);
    assert_eq!(cash(&plain, "short") - cash(&d, "short"), t.amount);
    assert_eq!(cash(&d, "long") + cash(&d, "short"), cash(&plain, "long") + cash(&plain, "short"));
    // The venue moved it too: its ledger equals the engine's.
    for n in ["long", "short"] {
        assert_eq!(d.exec().venue_account(id(n)).unwrap(), d.engine.account(id(n)).unwrap().clone(), "{n}");
    }
    // The positions (and their margin) are untouched.
    let short = d.engine.account(id("short")).unwrap();
    assert_eq!(short.qty(sym()), dec!(-20));
    assert!(short.cash - short.used_margin() > Decimal::ZERO);
    // Not a loss for the giver: no breaker tripped (10 % out would pass the 5 % daily-loss limit).
    for r in d.engine.reports() {
        assert!(r.breaker_trips.is_empty(), "{}: {:?}", r.agent, r.breaker_trips);
    }
    // …and not a return either: the metrics match the plain run to rounding.
    let ret = |d: &Driver, n: &str| {
        d.engine.reports().into_iter().find(|r| r.agent == id(n)).unwrap().metrics.total_return_pct
    };
    let (with, without) = (ret(&d, "short"), ret(&plain, "short"));
    assert!((with - without).abs() < 0.05, "short: {with} vs {without}");
    // Shown in the log.
    let mut d = d;
    let snap = d.engine.snapshot();
    assert!(
        snap.log.iter().any(|l| l.action.starts_with("capital short → long")),
        "{:?}",
        snap.log.iter().map(|l| &l.action).collect::<Vec<_>>()
    );
}

#[test]
fn a_venue_that_cannot_transfer_gets_it_reversed() {
    let mut inner = PaperExchange::new(
        PaperConfig { synthetic_spread_bps: 0.0, impact_bps: 0.0, max_impact_bps: 0.0 },
        vec![inst()],
        1,
    );
    inner.open_account(id("long"), dec!(10000));
    inner.open_account(id("short"), dec!(10000));
    let (plain, _) = run_two(AdaptationConfig::default(), paper(&["long", "short"]));
    let (d, transfers) = run_two(realloc(), Box::new(NoTransfers(inner)));
    assert_eq!(transfers.len(), 2, "{transfers:?}");
    assert!(!transfers[0].reversal && transfers[1].reversal);
    assert_eq!(
        (transfers[1].from, transfers[1].to, transfers[1].amount),
        (id("long"), id("short"), transfers[0].amount)
    );
    assert!(transfers[1].reason.contains("cannot move capital"), "{}", transfers[1].reason);
    for n in ["long", "short"] {
        assert_eq!(d.engine.account(id(n)).unwrap().cash, plain.engine.account(id(n)).unwrap().cash, "{n}");
        assert_eq!(d.exec().venue_account(id(n)).unwrap(), d.engine.account(id(n)).unwrap().clone());
    }
}
