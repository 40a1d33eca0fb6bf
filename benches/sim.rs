//! Throughput of the synthetic market. Bars mode is the backtest hot path (target: ≥ 2 M
//! symbol-bars/s on one core); ticks mode is reported for reference.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use alphatx::market::sim::{SimConfig, SimMarket, SimMode};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const START: i64 = 1_704_067_200_000;

fn bars(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim");
    let steps = 10_000_u64;
    // One element = one symbol-bar (the default markets have three symbols).
    group.throughput(Throughput::Elements(3 * steps));
    group.bench_function("bars_3_symbols_x_10k_minutes", |b| {
        let mut sim = SimMarket::new(SimConfig::default_markets(1, START, SimMode::Bars)).unwrap();
        let mut out = Vec::with_capacity(6);
        b.iter(|| {
            for _ in 0..steps {
                out.clear();
                sim.step(&mut out);
            }
            black_box(&out);
        });
    });
    // One element = one simulated second of three symbols (quotes, prints and marks).
    let steps = 3_600_u64;
    group.throughput(Throughput::Elements(steps));
    group.bench_function("ticks_1s_3_symbols_x_1h", |b| {
        let mut sim = SimMarket::new(SimConfig::default_markets(1, START, SimMode::Ticks)).unwrap();
        let mut out = Vec::with_capacity(64);
        b.iter(|| {
            for _ in 0..steps {
                out.clear();
                sim.step(&mut out);
            }
            black_box(&out);
        });
    });
    group.finish();
}

criterion_group!(benches, bars);
criterion_main!(benches);
