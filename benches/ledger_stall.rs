//! Worst engine stall while the ledger is under load (issue: "the engine must never block on
//! disk"). A busy arena (a random trader entering on most 1m closes, plus buy-and-hold) runs on
//! the simulated market through the real driver in after-commit mode; after every market event
//! its output is appended to a real SQLite ledger (WAL, synchronous=FULL) and acknowledged
//! batches are fed back, exactly as the runner does. Meanwhile a second thread floods the same
//! ledger with fill batches. The time of each engine step (process the event + hand the batch to
//! the ledger + deliver acks already received) is recorded; the report gives p50, p99, p99.9 and
//! the maximum, and the ledger's own commit latency for comparison. The market is paced at about
//! a thousand simulated minutes per second (an accelerated live run), so commits keep up.
//!
//! Run: `cargo bench --bench ledger_stall`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use alphatx::app::{BACKTEST_EPOCH_MS, build_driver, sim_config};
use alphatx::clock::ManualClock;
use alphatx::config::Config;
use alphatx::domain::{AgentId, Fill, Liquidity, OrderId, OrderPurpose, Side, Symbol};
use alphatx::engine::Durability;
use alphatx::execution::ExecEvent;
use alphatx::market::candles::CandleInput;
use alphatx::market::sim::{SimMarket, SimMode};
use alphatx::store::{Ledger, LedgerBatch, NewAgent, NewRun};
use rust_decimal::Decimal;

const CONFIG: &str = r#"
[[agents]]
name = "buy-and-hold"
kind = "buy_and_hold"
risk = { require_stop_loss = false }
[[agents]]
name = "random"
kind = "random"
params = { timeframe = "1m", entry_probability = 0.7, max_hold_bars = 2 }
risk = { stop_out_cooldown_min = 0, min_reversal_min = 0, max_refusal_rate_pct = 100.0, max_consecutive_losses = 0, daily_loss_limit_pct = 100.0, max_drawdown_pct = 100.0 }
[arena]
daily_loss_limit_pct = 100.0
max_drawdown_pct = 100.0
"#;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    println!("-- ledger with the arena only");
    measure(false);
    println!("-- ledger also flooded by a second writer (200-fill batches, as fast as it takes them)");
    measure(true);
}

fn measure(with_flood: bool) {
    let dir = std::env::temp_dir().join(format!("alphatx-stall-{}-{with_flood}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = Config::from_toml(CONFIG, std::path::Path::new("bench.toml")).unwrap();
    let ledger = Arc::new(Ledger::open(&dir.join("ledger.sqlite")).unwrap());
    let mut acks = ledger.acks().unwrap();
    let specs = alphatx::app::build_agents(&config).unwrap();
    let agents: Vec<NewAgent> = specs
        .iter()
        .map(|s| NewAgent {
            id: s.id,
            kind: s.driver.kind(),
            benchmark: s.benchmark,
            symbols: s.symbols.clone(),
            balance: s.balance,
        })
        .chain(std::iter::once(NewAgent {
            id: AgentId::new("flood").unwrap(),
            kind: "flood".into(),
            benchmark: false,
            symbols: vec![Symbol::new("BTCUSDT").unwrap()],
            balance: Decimal::from(1_000_000_000),
        }))
        .collect();
    let run = NewRun {
        profile: "bench".into(),
        source: "sim".into(),
        seed: Some(1),
        config_toml: String::new(),
        started_ms: BACKTEST_EPOCH_MS,
        sim_start_ms: Some(BACKTEST_EPOCH_MS),
        agents,
    };
    let run_id = ledger.begin_run(run).unwrap();

    // The flood: batches of 200 fills as fast as the ledger takes them.
    let stop = Arc::new(AtomicBool::new(false));
    let flood = {
        let ledger = Arc::clone(&ledger);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let agent = AgentId::new("flood").unwrap();
            let symbol = Symbol::new("BTCUSDT").unwrap();
            let mut trade_id = 1_000_000_000u64;
            let mut seq = 1u64 << 40;
            let mut flooded = 0u64;
            while with_flood && !stop.load(Ordering::Relaxed) {
                let exec = (0..200)
                    .map(|k| {
                        trade_id += 1;
                        let side = if k % 2 == 0 { Side::Buy } else { Side::Sell };
                        ExecEvent::Filled {
                            fill: Fill {
                                venue: "flood".into(),
                                trade_id,
                                order_id: OrderId(trade_id),
                                agent,
                                symbol,
                                side,
                                qty: Decimal::new(1, 3),
                                price: Decimal::from(60_000),
                                fee: Decimal::ZERO,
                                liquidity: Liquidity::Taker,
                                purpose: OrderPurpose::Entry,
                                liquidation: false,
                                ts_ms: BACKTEST_EPOCH_MS,
                            },
                            leverage: Decimal::ONE,
                            status: alphatx::domain::OrderStatus::Filled,
                        }
                    })
                    .collect();
                seq += 1;
                if ledger.append(LedgerBatch { seq, run_id, exec, journal: Vec::new() }).is_ok() {
                    flooded += 200;
                }
                if ledger.stats().pending_records > 50_000 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            flooded
        })
    };

    let mut sim = SimMarket::new(sim_config(&config, BACKTEST_EPOCH_MS, SimMode::Bars, 60_000)).unwrap();
    let clock = ManualClock::new(BACKTEST_EPOCH_MS);
    let mut driver =
        build_driver(&config, sim.instruments(), clock, CandleInput::Bars, Durability::AfterCommit).unwrap();
    // Warm the indicators (not timed), then trade.
    driver.engine.set_warming(true);
    let mut buf = Vec::new();
    for _ in 0..600 {
        buf.clear();
        sim.step(&mut buf);
        for ev in buf.drain(..) {
            driver.on_market_history(ev);
        }
        driver.discard_records();
    }
    driver.engine.set_warming(false);
    let mut pending: VecDeque<(u64, Vec<ExecEvent>)> = VecDeque::new();
    let mut seq = 0u64;
    let mut steps = Vec::with_capacity(200_000);
    let mut fills = 0usize;
    let started = Instant::now();
    for _ in 0..(3 * 1440) {
        // Pace the market at ~1,000 simulated minutes per second so commits keep up and fills
        // flow back to the agents, as in an accelerated live run.
        std::thread::sleep(Duration::from_millis(1));
        buf.clear();
        sim.step(&mut buf);
        for ev in buf.drain(..) {
            let t = Instant::now();
            driver.on_market(ev);
            while let Ok(ack) = acks.try_recv() {
                if ack.result.is_ok() {
                    while pending.front().is_some_and(|(s, _)| *s <= ack.seq) {
                        let (_, exec) = pending.pop_front().unwrap();
                        fills += exec.iter().filter(|e| matches!(e, ExecEvent::Filled { .. })).count();
                        driver.committed(exec);
                    }
                }
            }
            let exec = driver.take_uncommitted();
            let journal = driver.take_journal();
            if !exec.is_empty() || !journal.is_empty() {
                seq += 1;
                ledger.append(LedgerBatch { seq, run_id, exec: exec.clone(), journal }).unwrap();
                pending.push_back((seq, exec));
            }
            steps.push(t.elapsed());
        }
    }
    let wall = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let flooded = flood.join().unwrap();
    let stats = ledger.stats();
    steps.sort_unstable();
    println!(
        "engine steps: {} in {:.2} s with {fills} arena fills committed; {flooded} flood fills appended",
        steps.len(),
        wall.as_secs_f64()
    );
    println!(
        "engine step p50 {:?}  p99 {:?}  p99.9 {:?}  max {:?}",
        percentile(&steps, 0.5),
        percentile(&steps, 0.99),
        percentile(&steps, 0.999),
        steps.last().unwrap()
    );
    println!(
        "ledger: {} commits, {} records, last commit {} µs, longest commit {} µs, pending at the end {}",
        stats.commits, stats.records_committed, stats.last_commit_us, stats.max_commit_us, stats.pending_batches
    );
    drop(driver);
    match Arc::try_unwrap(ledger) {
        Ok(l) => l.close().unwrap(),
        Err(_) => panic!("ledger still shared"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
