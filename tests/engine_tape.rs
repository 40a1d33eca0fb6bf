//! The engine, driven by scripted event tapes with a fixed clock: decisions become orders,
//! orders become fills, exit plans are enforced and retired, refusals never reach the venue,
//! operator commands work, slow agents answer through events, and runs are deterministic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use alphatx::agents::scripted::Scripted;
use alphatx::agents::{Decision, Proposal, Signal};
use alphatx::clock::ManualClock;
use alphatx::domain::{
    Account, AgentId, Bar, ClosedTrade, Instrument, MarketData, MarketEvent, OrderKind, OrderPurpose, Side, Symbol,
    Timeframe,
};
use alphatx::engine::journal::{JournalRecord, ProposalOutcome};
use alphatx::engine::state::AgentDriver;
use alphatx::engine::{
    AgentReply, AgentSpec, Command, Driver, Durability, Engine, EngineConfig, ReplyMeta, RestoreData,
};
use alphatx::execution::ExecutionClient;
use alphatx::execution::paper::{PaperConfig, PaperExchange};
use alphatx::market::candles::CandleInput;
use alphatx::risk::{RefusalCode, RiskGate};
use rust_decimal::Decimal;
use rust_decimal::dec;

const MIN: i64 = 60_000;

fn btc() -> Symbol {
    Symbol::new("BTCUSDT").unwrap()
}

fn alice() -> AgentId {
    AgentId::new("alice").unwrap()
}

fn driver_with(agents: Vec<AgentSpec>) -> Driver {
    let inst = Instrument::perp(btc(), "BTC", dec!(0.1), dec!(0.001), 50);
    let clock = ManualClock::new(0);
    let mut paper = PaperExchange::new(
        PaperConfig { synthetic_spread_bps: 0.0, impact_bps: 0.0, max_impact_bps: 0.0 },
        vec![inst.clone()],
        1,
    );
    for a in &agents {
        paper.open_account(a.id, a.balance);
    }
    let config = EngineConfig { candle_input: CandleInput::Bars, ..EngineConfig::default() };
    let engine = Engine::new(config, vec![inst], agents, RiskGate::default(), Arc::new(clock.clone()));
    Driver::new(engine, Box::new(paper), Some(clock), Durability::Direct)
}

fn scripted(script: Vec<(i64, Decision)>) -> Driver {
    driver_with(vec![AgentSpec {
        id: alice(),
        driver: AgentDriver::Rule(Box::new(Scripted::new(Timeframe::M1, script))),
        benchmark: false,
        symbols: vec![btc()],
        balance: dec!(10000),
        limits: None,
    }])
}

/// A closed 1m bar for `minute`, delivered at the minute's end.
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

fn flat_bar(minute: i64, p: Decimal) -> MarketEvent {
    bar(minute, p, p, p, p)
}

fn entry(signal: Signal, qty: Decimal, stop: Option<Decimal>, target: Option<Decimal>, leverage: Decimal) -> Decision {
    Decision {
        reasoning: "scripted entry".into(),
        proposals: vec![Proposal {
            signal,
            symbol: btc(),
            quantity: qty,
            leverage,
            profit_target: target,
            stop_loss: stop,
            invalidation_condition: Some("price closes below 59000".into()),
            confidence: 0.7,
            risk_usd: None,
            justification: "test thesis".into(),
        }],
    }
}

fn engine_matches_venue(d: &Driver) {
    let engine = d.engine.account(alice()).unwrap();
    let venue = d.exec().venue_account(alice()).unwrap();
    assert_eq!(engine, &venue, "the engine's ledger must equal the venue's");
}

#[test]
fn entry_installs_stop_and_target_and_the_target_retires_the_plan() {
    let mut d =
        scripted(vec![(2 * MIN, entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), Some(dec!(61000)), dec!(1)))]);
    d.on_market(flat_bar(0, dec!(60000)));
    d.on_market(flat_bar(1, dec!(60000)));
    let acc = d.engine.account(alice()).unwrap();
    assert_eq!(acc.qty(btc()), dec!(0.1));
    assert_eq!(acc.positions[0].leverage, dec!(1));
    let resting = d.exec().venue_open_orders();
    assert_eq!(resting.len(), 2);
    assert!(
        resting
            .iter()
            .any(|o| o.request.kind == OrderKind::StopMarket { trigger: dec!(59000) } && o.request.reduce_only)
    );
    assert!(resting.iter().any(|o| o.request.kind == OrderKind::TakeProfitMarket { trigger: dec!(61000) }));
    let snap = d.engine.snapshot();
    let pos = &snap.agents[0].positions[0];
    let plan = pos.plan.as_ref().unwrap();
    assert_eq!(plan.stop_loss, Some(dec!(59000)));
    assert_eq!(plan.rationale, "test thesis");
    assert!(plan.stop_order.is_some() && plan.target_order.is_some());
    engine_matches_venue(&d);

    // An up bar: the path visits the low (stop untouched) and then the high (target).
    d.on_market(bar(2, dec!(60000), dec!(61200), dec!(59900), dec!(60100)));
    let acc = d.engine.account(alice()).unwrap().clone();
    assert!(acc.is_flat());
    assert!(d.exec().venue_open_orders().is_empty(), "the stop must be cancelled once the target filled");
    let snap = d.engine.snapshot();
    assert!(snap.agents[0].positions.is_empty());
    assert!(snap.agents[0].open_orders.is_empty());
    assert_eq!(snap.agents[0].metrics.trades, 1);
    // +1000 × 0.1, fees: entry 60,000 × 0.1 × 5 bp + exit 61,000 × 0.1 × 5 bp.
    assert_eq!(acc.realized_pnl, dec!(100));
    assert_eq!(acc.fees_paid, dec!(6.05));
    assert_eq!(acc.cash, dec!(10000) + dec!(100) - dec!(6.05));
    engine_matches_venue(&d);
}

#[test]
fn refused_orders_never_reach_the_venue() {
    let mut d = scripted(vec![(2 * MIN, entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), None, dec!(100)))]);
    d.on_market(flat_bar(0, dec!(60000)));
    d.on_market(flat_bar(1, dec!(60000)));
    let journal = d.take_journal();
    let venue_log = d.take_venue_log();
    assert!(venue_log.is_empty(), "nothing may reach the venue: {venue_log:?}");
    let refusal = journal.iter().find_map(|r| match r {
        JournalRecord::Refusal(r) => Some(r.clone()),
        _ => None,
    });
    assert_eq!(refusal.unwrap().code, RefusalCode::LeverageAboveMax);
    let decision = journal.iter().find_map(|r| match r {
        JournalRecord::Decision(d) => Some(d.clone()),
        _ => None,
    });
    assert!(matches!(
        decision.unwrap().outcomes[0],
        ProposalOutcome::Refused { code: RefusalCode::LeverageAboveMax, .. }
    ));
    let snap = d.engine.snapshot();
    assert_eq!(snap.agents[0].refusals.get(&RefusalCode::LeverageAboveMax), Some(&1));
    assert!(snap.log.iter().any(|l| l.outcome.as_deref().is_some_and(|o| o.contains("leverage_above_max"))));
}

#[test]
fn stops_on_the_wrong_side_are_invalid() {
    let mut d = scripted(vec![(2 * MIN, entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(61000)), None, dec!(1)))]);
    d.on_market(flat_bar(0, dec!(60000)));
    d.on_market(flat_bar(1, dec!(60000)));
    assert!(d.take_venue_log().is_empty());
    let journal = d.take_journal();
    let outcome = journal.iter().find_map(|r| match r {
        JournalRecord::Decision(d) => d.outcomes.first().cloned(),
        _ => None,
    });
    match outcome.unwrap() {
        ProposalOutcome::Invalid { reason } => assert!(reason.contains("must be below"), "{reason}"),
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[test]
fn close_position_and_one_position_per_symbol() {
    let mut d = scripted(vec![
        (2 * MIN, entry(Signal::SellToEnter, dec!(0.1), Some(dec!(60800)), Some(dec!(58000)), dec!(1))),
        (3 * MIN, entry(Signal::SellToEnter, dec!(0.1), Some(dec!(60800)), None, dec!(1))),
        (4 * MIN, Decision { reasoning: "done".into(), proposals: vec![Proposal::close(btc(), "done".into())] }),
    ]);
    for m in 0..4 {
        d.on_market(flat_bar(m, dec!(60000) - Decimal::from(m * 100)));
    }
    let journal = d.take_journal();
    let outcomes: Vec<ProposalOutcome> = journal
        .iter()
        .filter_map(|r| match r {
            JournalRecord::Decision(d) => d.outcomes.first().cloned(),
            _ => None,
        })
        .collect();
    assert!(matches!(outcomes[0], ProposalOutcome::Submitted { .. }), "{outcomes:?}");
    assert!(matches!(&outcomes[1], ProposalOutcome::Invalid { reason } if reason.contains("already short")));
    assert!(matches!(outcomes[2], ProposalOutcome::Submitted { .. }));
    let acc = d.engine.account(alice()).unwrap();
    assert!(acc.is_flat());
    // Short 0.1 from 59,900 closed at 59,700.
    assert_eq!(acc.realized_pnl, dec!(20));
    assert!(d.exec().venue_open_orders().is_empty());
    engine_matches_venue(&d);
}

#[test]
fn operator_pause_and_flatten() {
    let mut d = scripted(vec![
        (2 * MIN, entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), Some(dec!(61000)), dec!(1))),
        (4 * MIN, entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), None, dec!(1))),
    ]);
    d.on_market(flat_bar(0, dec!(60000)));
    d.on_market(flat_bar(1, dec!(60000)));
    assert_eq!(d.engine.account(alice()).unwrap().qty(btc()), dec!(0.1));
    d.command(Command::Pause { agent: alice() });
    d.command(Command::FlattenAgent { agent: alice() });
    assert!(d.engine.account(alice()).unwrap().is_flat());
    assert!(d.exec().venue_open_orders().is_empty(), "flatten cancels the stop and target");
    // Paused: the scripted second entry is never asked for.
    for m in 2..6 {
        d.on_market(flat_bar(m, dec!(60000)));
    }
    assert!(d.engine.account(alice()).unwrap().is_flat());
    let snap = d.engine.snapshot();
    assert!(snap.agents[0].paused);
    let fills: Vec<_> = d
        .take_venue_log()
        .into_iter()
        .filter_map(|e| match e {
            alphatx::execution::ExecEvent::Filled { fill, .. } => Some(fill),
            _ => None,
        })
        .collect();
    assert_eq!(fills.last().unwrap().purpose, OrderPurpose::Flatten);
    let commands: Vec<_> = d
        .take_journal()
        .into_iter()
        .filter_map(|r| match r {
            JournalRecord::Command(c) => Some(c.command),
            _ => None,
        })
        .collect();
    assert_eq!(commands, vec!["pause alice".to_owned(), "flatten alice".to_owned()]);
    d.command(Command::Resume { agent: alice() });
    d.on_market(flat_bar(6, dec!(60000)));
    assert_eq!(d.engine.account(alice()).unwrap().qty(btc()), dec!(0.1), "resumed: the pending scripted entry runs");
}

#[test]
fn slow_agents_answer_through_events() {
    let bob = AgentId::new("bob").unwrap();
    let mut d = driver_with(vec![AgentSpec {
        id: bob,
        driver: AgentDriver::Remote { kind: "llm".into(), cadence_ms: 3 * MIN, next_due_ms: None, in_flight: None },
        benchmark: false,
        symbols: vec![btc()],
        balance: dec!(10000),
        limits: None,
    }]);
    // Not warm yet: no request.
    d.on_market(flat_bar(0, dec!(60000)));
    d.tick();
    assert!(d.take_requests().is_empty());
    for m in 1..300 {
        d.on_market(flat_bar(m, dec!(60000) + Decimal::from(m % 7)));
    }
    d.tick();
    let requests = d.take_requests();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(req.agent, bob);
    assert_eq!(req.markets.len(), 1);
    assert_eq!(req.markets[0].intraday.len(), 10);
    // In flight: no second request even when due.
    d.on_market(flat_bar(300, dec!(60000)));
    d.tick();
    assert!(d.take_requests().is_empty());
    d.agent_reply(AgentReply {
        agent: bob,
        request_id: req.request_id,
        decision: Ok(entry(Signal::BuyToEnter, dec!(0.05), Some(dec!(59000)), Some(dec!(62000)), dec!(1))),
        meta: ReplyMeta { latency_ms: 1200, raw_response: Some("{..}".into()), ..ReplyMeta::default() },
    });
    assert_eq!(d.engine.account(bob).unwrap().qty(btc()), dec!(0.05));
    let decision = d.take_journal().into_iter().find_map(|r| match r {
        JournalRecord::Decision(d) => Some(d),
        _ => None,
    });
    let decision = decision.unwrap();
    assert_eq!(decision.source, "llm");
    assert_eq!(decision.latency_ms, 1200);
    // A failed reply is a hold, recorded with its reason.
    for m in 301..305 {
        d.on_market(flat_bar(m, dec!(60000)));
    }
    d.tick();
    let req = d.take_requests().pop().unwrap();
    d.agent_reply(AgentReply {
        agent: bob,
        request_id: req.request_id,
        decision: Err("timeout after 60 s".into()),
        meta: ReplyMeta::default(),
    });
    let rec = d.take_journal().into_iter().find_map(|r| match r {
        JournalRecord::Decision(d) => Some(d),
        _ => None,
    });
    assert_eq!(rec.unwrap().error.as_deref(), Some("timeout after 60 s"));
    assert_eq!(d.engine.account(bob).unwrap().qty(btc()), dec!(0.05));
}

#[test]
fn equity_is_sampled_every_minute_of_market_time() {
    let mut d = scripted(vec![(2 * MIN, entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), None, dec!(1)))]);
    for m in 0..6 {
        d.on_market(flat_bar(m, dec!(60000) + Decimal::from(m * 10)));
    }
    let samples: Vec<(i64, Decimal)> = d
        .take_journal()
        .into_iter()
        .filter_map(|r| match r {
            JournalRecord::Equity(e) => Some((e.ts_ms, e.equity)),
            _ => None,
        })
        .collect();
    let times: Vec<i64> = samples.iter().map(|s| s.0).collect();
    assert_eq!(times, vec![MIN, 2 * MIN, 3 * MIN, 4 * MIN, 5 * MIN]);
    // Bought 0.1 BTC at 60,010 (taker fee 3.0005) on the bar closing at 2:00; the 3:00 sample
    // marks it at that bar's close of 60,020.
    assert_eq!(samples[1].1, dec!(10000) - dec!(3.0005));
    assert_eq!(samples[2].1, dec!(10000) - dec!(3.0005) + dec!(1));
}

fn long_tape() -> Vec<MarketEvent> {
    // A deterministic zig-zag market with trends both ways.
    let mut p = dec!(60000);
    let mut out = Vec::new();
    for m in 0..900 {
        let step = Decimal::from((m * 37) % 23 - 11) * dec!(7.5) + if (m / 100) % 2 == 0 { dec!(4) } else { dec!(-4) };
        let o = p;
        p += step;
        let (h, l) = if p > o { (p + dec!(15), o - dec!(10)) } else { (o + dec!(10), p - dec!(15)) };
        out.push(bar(m, o, h, l, p));
    }
    out
}

fn run_tape() -> (String, String) {
    let script: Vec<(i64, Decision)> = (0..20)
        .map(|k| {
            let t = (10 + k * 40) * MIN;
            let d = if k % 2 == 0 {
                if k % 4 == 0 {
                    entry(Signal::BuyToEnter, dec!(0.05), Some(dec!(57000)), None, dec!(1))
                } else {
                    entry(Signal::SellToEnter, dec!(0.05), Some(dec!(63000)), None, dec!(1))
                }
            } else {
                Decision { reasoning: "exit".into(), proposals: vec![Proposal::close(btc(), "exit".into())] }
            };
            (t, d)
        })
        .collect();
    let mut d = scripted(script);
    for ev in long_tape() {
        d.on_market(ev);
    }
    d.finish();
    let journal = serde_json::to_string(&d.take_journal()).unwrap();
    let snap = serde_json::to_string(&d.engine.snapshot()).unwrap();
    (journal, snap)
}

#[test]
fn same_tape_same_bytes() {
    let (j1, s1) = run_tape();
    let (j2, s2) = run_tape();
    assert!(j1.contains("\"record\":\"decision\""));
    assert!(!j1.contains("\"record\":\"refusal\""), "the tape's orders are all within limits");
    assert_eq!(j1, j2);
    assert_eq!(s1, s2);
}

#[test]
fn venue_reports_wait_for_the_ledger_in_after_commit_mode() {
    let inst = Instrument::perp(btc(), "BTC", dec!(0.1), dec!(0.001), 50);
    let clock = ManualClock::new(0);
    let mut paper = PaperExchange::new(PaperConfig::default(), vec![inst.clone()], 1);
    paper.open_account(alice(), dec!(10000));
    let agents = vec![AgentSpec {
        id: alice(),
        driver: AgentDriver::Rule(Box::new(Scripted::new(
            Timeframe::M1,
            vec![(2 * MIN, entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), None, dec!(1)))],
        ))),
        benchmark: false,
        symbols: vec![btc()],
        balance: dec!(10000),
        limits: None,
    }];
    let engine = Engine::new(EngineConfig::default(), vec![inst], agents, RiskGate::default(), Arc::new(clock.clone()));
    let mut d = Driver::new(engine, Box::new(paper), Some(clock), Durability::AfterCommit);
    d.on_market(flat_bar(0, dec!(60000)));
    d.on_market(flat_bar(1, dec!(60000)));
    // The venue filled, but the engine has not seen it: not durable yet.
    assert_eq!(d.exec().venue_account(alice()).unwrap().qty(btc()), dec!(0.1));
    assert!(d.engine.account(alice()).unwrap().is_flat());
    assert_eq!(d.engine.snapshot().agents[0].positions.len(), 0);
    let pending = d.take_uncommitted();
    assert!(pending.iter().any(|e| matches!(e, alphatx::execution::ExecEvent::Filled { .. })));
    // "Committed": now the engine books it and places the stop.
    d.committed(pending);
    assert_eq!(d.engine.account(alice()).unwrap().qty(btc()), dec!(0.1));
    let stop = d.take_uncommitted();
    assert!(stop.iter().any(|e| matches!(e, alphatx::execution::ExecEvent::Accepted { order } if order.request.purpose == OrderPurpose::StopLoss)));
    d.committed(stop);
    let snap = d.engine.snapshot();
    assert_eq!(snap.agents[0].positions[0].side, Side::Buy);
    assert_eq!(snap.agents[0].open_orders.len(), 1);
}

#[test]
fn kill_switch_flattens_everything_and_stays_latched_until_released() {
    let mut d = scripted(vec![
        (2 * MIN, entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), Some(dec!(61000)), dec!(1))),
        (4 * MIN, entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), None, dec!(1))),
    ]);
    d.on_market(flat_bar(0, dec!(60000)));
    d.on_market(flat_bar(1, dec!(60000)));
    assert_eq!(d.exec().venue_open_orders().len(), 2);
    d.command(Command::KillSwitch);
    assert!(d.engine.account(alice()).unwrap().is_flat());
    assert!(d.exec().venue_account(alice()).unwrap().is_flat(), "the venue confirms flat");
    assert!(d.exec().venue_open_orders().is_empty(), "no resting order survives");
    let snap = d.engine.snapshot();
    assert!(snap.kill_switch_ms.is_some());
    assert_eq!(snap.global_state, alphatx::risk::TradingState::Halted);
    // Latched: the agent's next entry is refused.
    for m in 2..5 {
        d.on_market(flat_bar(m, dec!(60000)));
    }
    assert!(d.engine.account(alice()).unwrap().is_flat());
    assert_eq!(d.engine.snapshot().agents[0].refusals.get(&RefusalCode::TradingState), Some(&1));
    d.command(Command::ReleaseKillSwitch);
    let snap = d.engine.snapshot();
    assert!(snap.kill_switch_ms.is_none());
    assert_eq!(snap.global_state, alphatx::risk::TradingState::Active);
}

#[test]
fn reduce_only_blocks_entries_but_not_exits() {
    let mut d = scripted(vec![
        (2 * MIN, entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), None, dec!(1))),
        (3 * MIN, Decision { reasoning: "exit".into(), proposals: vec![Proposal::close(btc(), "exit".into())] }),
        (4 * MIN, entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), None, dec!(1))),
    ]);
    d.on_market(flat_bar(0, dec!(60000)));
    d.on_market(flat_bar(1, dec!(60000)));
    d.command(Command::SetReduceOnly { agent: Some(alice()), on: true });
    d.on_market(flat_bar(2, dec!(60100)));
    assert!(d.engine.account(alice()).unwrap().is_flat(), "the exit passes in reduce-only");
    d.on_market(flat_bar(3, dec!(60100)));
    assert!(d.engine.account(alice()).unwrap().is_flat(), "the new entry is refused");
    let snap = d.engine.snapshot();
    assert!(snap.agents[0].reduce_only);
    assert_eq!(snap.agents[0].state, alphatx::risk::TradingState::Reducing);
    assert_eq!(snap.agents[0].refusals.get(&RefusalCode::TradingState), Some(&1));
}

#[test]
fn stale_data_pauses_decisions_and_repeated_failures_pause_slow_agents() {
    use alphatx::engine::{EngineEvent, FeedState, FeedStatus};
    let mut d = scripted(vec![(2 * MIN, entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), None, dec!(1)))]);
    d.on_market(flat_bar(0, dec!(60000)));
    let mut status = FeedStatus::new("test", FeedState::Stale, "no trades for 6 s");
    status.stale = vec![btc()];
    d.event(EngineEvent::Feed(status));
    d.on_market(flat_bar(1, dec!(60000)));
    assert!(d.engine.account(alice()).unwrap().is_flat(), "no new decision on stale data");
    let snap = d.engine.snapshot();
    assert!(snap.markets[0].stale_since_ms.is_some());
    assert_eq!(snap.markets[0].last, Some(dec!(60000)), "the last price is kept");
    d.event(EngineEvent::Feed(FeedStatus::new("test", FeedState::Live, "")));
    d.on_market(flat_bar(2, dec!(60000)));
    assert_eq!(d.engine.account(alice()).unwrap().qty(btc()), dec!(0.1), "fresh again: the decision runs");

    let bob = AgentId::new("bob").unwrap();
    let mut d = driver_with(vec![AgentSpec {
        id: bob,
        driver: AgentDriver::Remote { kind: "llm".into(), cadence_ms: MIN, next_due_ms: None, in_flight: None },
        benchmark: false,
        symbols: vec![btc()],
        balance: dec!(10000),
        limits: None,
    }]);
    for m in 0..300 {
        d.on_market(flat_bar(m, dec!(60000)));
    }
    for k in 0..5 {
        d.on_market(flat_bar(300 + k, dec!(60000)));
        d.tick();
        let req = d.take_requests().pop().expect("asked every minute while healthy");
        d.agent_reply(AgentReply {
            agent: bob,
            request_id: req.request_id,
            decision: Err("HTTP 500".into()),
            meta: ReplyMeta::default(),
        });
    }
    let snap = d.engine.snapshot();
    assert!(snap.agents[0].paused);
    assert!(
        snap.agents[0].pause_reason.as_deref().unwrap().contains("5 failed replies"),
        "{:?}",
        snap.agents[0].pause_reason
    );
    assert_eq!(snap.agents[0].stats.failures, 5);
    d.on_market(flat_bar(310, dec!(60000)));
    d.tick();
    assert!(d.take_requests().is_empty(), "paused: not asked again");
}

/// A restarted run keeps its trade statistics: the closed round trips and fees the ledger
/// rebuilt go back into the leaderboard's metrics (trades, win rate, profit factor, fee share).
#[test]
fn a_resumed_engine_keeps_its_trade_statistics() {
    let trade = |net: Decimal, gross: Decimal| ClosedTrade {
        symbol: btc(),
        side: Side::Buy,
        max_qty: dec!(0.1),
        entry_price: dec!(60000),
        exit_price: dec!(60000) + gross * dec!(10),
        gross_pnl: gross,
        fees: gross - net,
        funding: Decimal::ZERO,
        net_pnl: net,
        opened_ms: 0,
        closed_ms: MIN,
    };
    let mut d = scripted(Vec::new());
    let mut account = Account::new(alice(), dec!(10000));
    account.cash = dec!(10000) + dec!(94) - dec!(56);
    let data = RestoreData {
        run_id: 7,
        accounts: vec![account],
        history: vec![(alice(), vec![trade(dec!(94), dec!(100)), trade(dec!(-56), dec!(-50))], dec!(12))],
        ..RestoreData::default()
    };
    let report = d.engine.restore(&data);
    assert_eq!(report.agents_restored, 1);
    let m = d.engine.snapshot().agents[0].metrics.clone();
    assert_eq!(m.trades, 2);
    assert_eq!(m.win_rate_pct, Some(50.0));
    assert_eq!(m.profit_factor, Some(94.0 / 56.0));
    assert_eq!(m.fees, 12.0);
    assert_eq!(m.fees_pct_of_gross, Some(12.0 / 50.0 * 100.0));
}

/// Flattening one position closes that agent's position and cancels its stop and target in
/// that symbol; another agent in the same symbol keeps its position and its protection.
#[test]
fn flatten_position_touches_one_agent_only() {
    let bob = AgentId::new("bob").unwrap();
    let script =
        || vec![(2 * MIN, entry(Signal::BuyToEnter, dec!(0.1), Some(dec!(59000)), Some(dec!(61000)), dec!(1)))];
    let spec = |id: AgentId| AgentSpec {
        id,
        driver: AgentDriver::Rule(Box::new(Scripted::new(Timeframe::M1, script()))),
        benchmark: false,
        symbols: vec![btc()],
        balance: dec!(10000),
        limits: None,
    };
    let mut d = driver_with(vec![spec(alice()), spec(bob)]);
    d.on_market(flat_bar(0, dec!(60000)));
    d.on_market(flat_bar(1, dec!(60000)));
    assert_eq!(d.engine.account(alice()).unwrap().qty(btc()), dec!(0.1));
    assert_eq!(d.engine.account(bob).unwrap().qty(btc()), dec!(0.1));
    assert_eq!(d.exec().venue_open_orders().len(), 4, "a stop and a target each");

    d.command(Command::FlattenPosition { agent: alice(), symbol: btc() });
    assert!(d.engine.account(alice()).unwrap().is_flat());
    assert!(d.exec().venue_account(alice()).unwrap().is_flat(), "the venue confirms alice flat");
    assert_eq!(d.engine.account(bob).unwrap().qty(btc()), dec!(0.1), "bob keeps his position");
    let resting = d.exec().venue_open_orders();
    assert_eq!(resting.len(), 2, "{resting:?}");
    assert!(resting.iter().all(|o| o.request.agent == bob), "only bob's stop and target remain");
    let snap = d.engine.snapshot();
    assert_eq!(snap.agents.iter().find(|a| a.id == bob).unwrap().open_orders.len(), 2);
}
