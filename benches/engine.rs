//! Engine throughput: 1-minute candles of three symbols replayed through the whole pipeline —
//! candles and indicators on six timeframes, two agents (buy-and-hold and trend), the risk gate
//! and the paper exchange — in the backtest configuration (direct venue reports, no ledger).
//! `candles_3_symbols_5_agents` runs the whole default arena (plus mean reversion, breakout and
//! momentum) for comparison.
//!
//! Throughput is reported per candle event (one symbol's 1m bar; the sim also sends a mark price
//! event per bar, which is processed too but not counted). The engine is warmed up on ten days
//! first (outside the timing) so both sizes measure steady state. Two sizes check the scaling:
//! ten times the events must take at most eleven times the time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use alphatx::app::{BACKTEST_EPOCH_MS, build_driver, sim_config};
use alphatx::clock::ManualClock;
use alphatx::config::Config;
use alphatx::domain::{MarketData, MarketEvent};
use alphatx::engine::Driver;
use alphatx::engine::Durability;
use alphatx::market::candles::CandleInput;
use alphatx::market::sim::{SimMarket, SimMode};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Pre-generated sim events for `days` (so the benchmark measures the engine, not the generator).
fn tape(days: i64) -> Vec<MarketEvent> {
    let config = Config::default();
    let mut sim = SimMarket::new(sim_config(&config, BACKTEST_EPOCH_MS, SimMode::Bars, 60_000)).unwrap();
    let end = BACKTEST_EPOCH_MS + days * 86_400_000;
    let mut out = Vec::new();
    while sim.now_ms() < end {
        sim.step(&mut out);
    }
    out
}

/// The measured arena: buy-and-hold and trend, or (`all`) the whole default arena of five.
fn arena(all: bool) -> Config {
    let mut config = Config::default();
    if !all {
        config.agents.retain(|a| a.name.as_str() == "buy-and-hold" || a.name.as_str() == "trend");
        assert_eq!(config.agents.len(), 2, "the default config has buy-and-hold and trend");
    }
    config
}

/// A driver for `config`'s agents, its indicators warmed on `warmup` (agents not asked).
fn warmed_driver(config: &Config, warmup: &[MarketEvent]) -> Driver {
    let instruments = alphatx::market::builtin_instruments();
    let clock = ManualClock::new(BACKTEST_EPOCH_MS);
    let mut driver = build_driver(config, instruments, clock, CandleInput::Bars, Durability::Direct).unwrap();
    driver.engine.set_warming(true);
    for ev in warmup {
        driver.on_market(ev.clone());
    }
    driver.discard_records();
    driver.engine.set_warming(false);
    driver
}

fn replay(mut driver: Driver, events: &[MarketEvent]) -> u64 {
    for (n, ev) in events.iter().enumerate() {
        driver.on_market(ev.clone());
        if n % 4096 == 0 {
            driver.discard_records();
        }
    }
    driver.finish();
    driver.discard_records();
    driver.engine.counters().fills
}

fn engine_throughput(c: &mut Criterion) {
    // Ten days of warm-up (excluded from the timing), then 3 or 30 days of trading.
    let all = tape(40);
    let warm_end = BACKTEST_EPOCH_MS + 10 * 86_400_000;
    let split = all.partition_point(|e| e.ts_ms <= warm_end);
    let (warmup, trading) = all.split_at(split);
    let mut group = c.benchmark_group("engine_replay");
    group.sample_size(10);
    let two = arena(false);
    let five = arena(true);
    for (name, config, days) in
        [("candles_3_symbols", &two, 3i64), ("candles_3_symbols", &two, 30), ("candles_3_symbols_5_agents", &five, 30)]
    {
        let end = warm_end + days * 86_400_000;
        let events: Vec<MarketEvent> = trading.iter().filter(|e| e.ts_ms <= end).cloned().collect();
        let bars = events.iter().filter(|e| matches!(e.data, MarketData::Bar(_))).count() as u64;
        group.throughput(Throughput::Elements(bars));
        group.bench_with_input(BenchmarkId::new(name, format!("{days}d")), &events, |b, ev| {
            b.iter_batched(|| warmed_driver(config, warmup), |d| black_box(replay(d, ev)), BatchSize::PerIteration)
        });
    }
    group.finish();
}

criterion_group!(benches, engine_throughput);
criterion_main!(benches);
