//! The engine with the real ledger, through the async runner: fills reach the engine (and the
//! screen) only after they are committed, and a failed commit stops new entries, says why, and
//! trading resumes only after the operator releases the breaker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use alphatx::agents::scripted::Scripted;
use alphatx::agents::{Decision, Proposal, Signal};
use alphatx::clock::ManualClock;
use alphatx::domain::{AgentId, Bar, Instrument, MarketData, MarketEvent, Symbol, Timeframe};
use alphatx::engine::runner::{self, LedgerLink, RunnerConfig, RunnerIo, SourceEvent};
use alphatx::engine::state::AgentDriver;
use alphatx::engine::{AgentSpec, Command, Driver, Durability, Engine, EngineConfig, Snapshot};
use alphatx::execution::ExecutionClient;
use alphatx::execution::paper::{PaperConfig, PaperExchange};
use alphatx::risk::{RiskGate, RiskLimits, TradingState};
use alphatx::store::{Fault, Ledger, NewAgent, NewRun};
use rust_decimal::Decimal;
use rust_decimal::dec;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

const MIN: i64 = 60_000;

fn btc() -> Symbol {
    Symbol::new("BTCUSDT").unwrap()
}

fn alice() -> AgentId {
    AgentId::new("alice").unwrap()
}

fn bob() -> AgentId {
    AgentId::new("bob").unwrap()
}

fn bar(minute: i64, p: Decimal) -> SourceEvent {
    SourceEvent::Market(MarketEvent {
        ts_ms: (minute + 1) * MIN,
        symbol: btc(),
        data: MarketData::Bar(Bar {
            open_ms: minute * MIN,
            interval_ms: MIN,
            open: p,
            high: p,
            low: p,
            close: p,
            volume: dec!(10),
        }),
    })
}

fn long(stop: Decimal) -> Decision {
    Decision {
        reasoning: "test entry".into(),
        proposals: vec![Proposal {
            signal: Signal::BuyToEnter,
            symbol: btc(),
            quantity: dec!(0.01),
            leverage: dec!(1),
            profit_target: None,
            stop_loss: Some(stop),
            invalidation_condition: None,
            confidence: 0.5,
            risk_usd: None,
            justification: "test".into(),
        }],
    }
}

/// Waits until a published snapshot satisfies `ok`.
async fn until(rx: &mut watch::Receiver<Arc<Snapshot>>, what: &str, ok: impl Fn(&Snapshot) -> bool) -> Arc<Snapshot> {
    let wait = async {
        loop {
            {
                let snap = rx.borrow_and_update().clone();
                if ok(&snap) {
                    return snap;
                }
            }
            if rx.changed().await.is_err() {
                panic!("the runner stopped while waiting for: {what}");
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for: {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_gate_what_is_shown_and_a_failing_ledger_halts_entries() {
    let dir = std::env::temp_dir().join(format!("alphatx-ledger-runner-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let ledger = Arc::new(Ledger::open(&dir.join("ledger.sqlite")).unwrap());
    let acks = ledger.acks().unwrap();
    let inst = Instrument::perp(btc(), "BTC", dec!(0.1), dec!(0.001), 50);
    let run_id = ledger
        .begin_run(NewRun {
            profile: "test".into(),
            source: "tape".into(),
            seed: None,
            config_toml: String::new(),
            started_ms: 0,
            sim_start_ms: None,
            agents: vec![
                NewAgent {
                    id: alice(),
                    kind: "scripted".into(),
                    benchmark: false,
                    symbols: vec![btc()],
                    balance: dec!(10000),
                },
                NewAgent {
                    id: bob(),
                    kind: "scripted".into(),
                    benchmark: false,
                    symbols: vec![btc()],
                    balance: dec!(10000),
                },
            ],
        })
        .unwrap();
    let limits = RiskLimits { max_drawdown_pct: 100.0, daily_loss_limit_pct: 100.0, ..RiskLimits::default() };
    let agents = vec![
        AgentSpec {
            id: alice(),
            driver: AgentDriver::Rule(Box::new(Scripted::new(Timeframe::M1, vec![(2 * MIN, long(dec!(59000)))]))),
            benchmark: false,
            symbols: vec![btc()],
            balance: dec!(10000),
            limits: Some(limits.clone()),
        },
        AgentSpec {
            id: bob(),
            driver: AgentDriver::Rule(Box::new(Scripted::new(
                Timeframe::M1,
                vec![(5 * MIN, long(dec!(59000))), (9 * MIN, long(dec!(59000)))],
            ))),
            benchmark: false,
            symbols: vec![btc()],
            balance: dec!(10000),
            limits: Some(limits),
        },
    ];
    let clock = ManualClock::new(0);
    let mut paper = PaperExchange::new(PaperConfig::default(), vec![inst.clone()], 1);
    paper.open_account(alice(), dec!(10000));
    paper.open_account(bob(), dec!(10000));
    let engine = Engine::new(EngineConfig::default(), vec![inst], agents, RiskGate::default(), Arc::new(clock.clone()));
    let driver = Driver::new(engine, Box::new(paper), Some(clock), Durability::AfterCommit);

    let (market_tx, market_rx) = mpsc::channel(64);
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    let (_venue_tx, venue_rx) = mpsc::channel(8);
    let (_reply_tx, reply_rx) = mpsc::channel(8);
    let (req_tx, _req_rx) = mpsc::channel(8);
    let (snap_tx, mut snaps) = watch::channel(Arc::new(Snapshot::default()));
    let io = RunnerIo {
        market: market_rx,
        commands: cmd_rx,
        venue: venue_rx,
        replies: reply_rx,
        requests: req_tx,
        snapshots: snap_tx,
        ledger: Some(LedgerLink::new(Arc::clone(&ledger), acks, run_id)),
        on_commit: None,
    };
    let shutdown = CancellationToken::new();
    let cfg = RunnerConfig { tick: Duration::from_millis(10), snapshot_hz: 50 };
    let task = tokio::spawn(runner::run(driver, io, cfg, shutdown.clone()));

    // An entry is shown only once its fill is committed; then it is in the ledger.
    for m in 0..2 {
        market_tx.send(bar(m, dec!(60000))).await.unwrap();
    }
    let snap =
        until(&mut snaps, "the first position", |s| s.agents.first().is_some_and(|a| !a.positions.is_empty())).await;
    assert_eq!(snap.agents[0].positions[0].qty, dec!(0.01));
    let conn = rusqlite::Connection::open(dir.join("ledger.sqlite")).unwrap();
    let fills: i64 = conn.query_row("SELECT count(*) FROM fills", [], |r| r.get(0)).unwrap();
    assert_eq!(fills, 1, "what the screen shows is already durable");

    // The disk turns read-only: the next commit fails, new entries stop, the screen says why.
    ledger.inject_fault(Some(Fault::ReadOnly)).unwrap();
    cmd_tx.send(Command::FlattenAgent { agent: alice() }).await.unwrap();
    for m in 2..6 {
        market_tx.send(bar(m, dec!(60000))).await.unwrap();
    }
    let snap = until(&mut snaps, "the persistence breaker", |s| s.global_state == TradingState::Reducing).await;
    assert!(snap.global_reason.as_deref().unwrap_or("").contains("ledger write failed"), "{:?}", snap.global_reason);
    assert!(snap.store.as_ref().is_some_and(|s| s.failing));

    // The disk recovers: the queued batches commit (nothing was lost), but trading stays
    // reduce-only until the operator releases the breaker.
    ledger.inject_fault(None).unwrap();
    let snap = until(&mut snaps, "the retried commit", |s| {
        s.store.as_ref().is_some_and(|st| !st.failing) && s.agents[0].positions.is_empty()
    })
    .await;
    assert_eq!(snap.global_state, TradingState::Reducing, "still reduce-only until released");
    assert_eq!(
        snap.agents[1].refusals.get(&alphatx::risk::RefusalCode::TradingState),
        Some(&1),
        "bob's entry at 5:00 was refused"
    );
    assert!(snap.agents[1].positions.is_empty());
    cmd_tx.send(Command::ReleaseBreakers { agent: None }).await.unwrap();
    for m in 6..10 {
        market_tx.send(bar(m, dec!(60000))).await.unwrap();
    }
    let snap = until(&mut snaps, "trading again", |s| {
        s.global_state == TradingState::Active && !s.agents[1].positions.is_empty()
    })
    .await;
    assert_eq!(snap.agents[1].positions[0].qty, dec!(0.01));

    shutdown.cancel();
    let (_driver, link, _) = task.await.unwrap();
    drop(link);
    let fills: i64 = conn.query_row("SELECT count(*) FROM fills", [], |r| r.get(0)).unwrap();
    assert_eq!(fills, 3, "alice's entry and flatten and bob's later entry are all stored");
    drop(conn);
    match Arc::try_unwrap(ledger) {
        Ok(l) => l.close().unwrap(),
        Err(_) => panic!("the ledger is still shared"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
