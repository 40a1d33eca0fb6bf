//! Replay throughput on real data, through the real engine.
//!
//! * `replay_parse`: reading and checking `nautilus/btc-perp-20211231-20220201_1m.csv` (45,031
//!   bars, ISO timestamps) into validated events.
//! * `replay_engine/reference_ema_cross`: the reference backtest (EMA 12/26 crossover, long-only,
//!   one agent; `tests/data/reference-ema-cross.toml`) over the month, parsing excluded: bars →
//!   candles and indicators on six timeframes → strategy → risk gate → paper exchange → metrics.
//! * `replay_engine/one_year_1m`: the same month tiled twelve times, shifted in time (540,372
//!   one-minute bars, about 375 days, one symbol), once with the reference agent and once with
//!   the whole default arena (buy-and-hold, trend, mean reversion, breakout, momentum).
//!
//! Throughput is bars per second. Measured on the 2-core machine (release, criterion medians,
//! nothing else running): parse 1.68 M rows/s (26.8 ms for the month); reference replay
//! 1.58 M bars/s (28.5 ms); one year, reference agent 1.55 M bars/s (0.35 s); one year, default
//! arena of five agents 1.04 M bars/s (0.52 s).
//!
//! The market data directory is `$ALPHATX_MARKET_DATA`, else
//! `<manifest>/../shared/market-data`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/market_data.rs"]
mod market_data;

use std::hint::black_box;
use std::path::{Path, PathBuf};

use alphatx::app::replay_backtest;
use alphatx::config::Config;
use alphatx::domain::{MarketData, MarketEvent};
use alphatx::market::replay::{self, ReplayData};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn btc_file() -> PathBuf {
    market_data::shared("nautilus/btc-perp-20211231-20220201_1m.csv")
}

fn reference_config() -> Config {
    Config::load(Some(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference-ema-cross.toml")))).unwrap()
}

/// The month repeated `n` times, each copy shifted to start where the previous one ended.
fn tiled(data: &ReplayData, n: usize) -> ReplayData {
    let month = &data.streams()[0];
    let first = month.first().unwrap().ts_ms;
    let span = month.last().unwrap().ts_ms - first + 60_000;
    let mut out = Vec::with_capacity(month.len() * n);
    for k in 0..n as i64 {
        for e in month {
            let mut e: MarketEvent = e.clone();
            e.ts_ms += k * span;
            if let MarketData::Bar(b) = &mut e.data {
                b.open_ms += k * span;
            }
            out.push(e);
        }
    }
    ReplayData::from_streams(data.instruments(), vec![out], data.input)
}

fn run(config: &Config, data: ReplayData) -> u64 {
    let (report, _) = replay_backtest(config, data).unwrap();
    report.fills
}

fn benches(c: &mut Criterion) {
    let file = btc_file();
    let config = reference_config();
    let month = replay::load(&config.replay, std::slice::from_ref(&file)).unwrap();
    let bars = month.len() as u64;

    let mut g = c.benchmark_group("replay_parse");
    g.sample_size(10);
    g.throughput(Throughput::Elements(bars));
    g.bench_function("btc_month_csv", |b| {
        b.iter(|| black_box(replay::load(&config.replay, std::slice::from_ref(&file)).unwrap().len()))
    });
    g.finish();

    let mut g = c.benchmark_group("replay_engine");
    g.sample_size(10);
    g.throughput(Throughput::Elements(bars));
    g.bench_function("reference_ema_cross", |b| {
        b.iter_batched(|| month.clone(), |d| black_box(run(&config, d)), BatchSize::LargeInput)
    });
    let year = tiled(&month, 12);
    g.throughput(Throughput::Elements(year.len() as u64));
    g.bench_with_input(BenchmarkId::new("one_year_1m", "reference_ema_cross"), &year, |b, y| {
        b.iter_batched(|| y.clone(), |d| black_box(run(&config, d)), BatchSize::LargeInput)
    });
    let mut arena = Config::default();
    arena.replay.symbol = config.replay.symbol;
    g.bench_with_input(BenchmarkId::new("one_year_1m", "default_arena"), &year, |b, y| {
        b.iter_batched(|| y.clone(), |d| black_box(run(&arena, d)), BatchSize::LargeInput)
    });
    g.finish();
}

criterion_group!(replay_benches, benches);
criterion_main!(replay_benches);
