//! Cost of one `IndicatorSet::update` (the per-closed-candle work for one symbol and timeframe).
//!
//! The set is warmed up first, so every indicator runs its steady-state step; the candles are a
//! seeded random walk cycled from a buffer, so the branch predictor sees realistic data.

use std::hint::black_box;

use alphatx::domain::Candle;
use alphatx::indicators::IndicatorSet;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn candles(n: usize) -> Vec<Candle> {
    let mut state: u64 = 0x5EED;
    let mut unit = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut price = 46_000.0;
    (0..n)
        .map(|i| {
            let open = price;
            let close = price + (unit() - 0.5) * 40.0;
            price = close;
            Candle {
                open_ms: i as i64 * 60_000,
                open,
                high: open.max(close) + unit() * 10.0,
                low: open.min(close) - unit() * 10.0,
                close,
                volume: 1e6 + unit() * 1e6,
                closed: true,
            }
        })
        .collect()
}

fn bench_update(c: &mut Criterion) {
    let data = candles(4_096);
    let mut set = IndicatorSet::new();
    for candle in &data {
        set.update(candle);
    }
    let mut group = c.benchmark_group("indicator_set");
    group.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    group.bench_function("update", |b| {
        b.iter(|| {
            set.update(black_box(&data[i & 4_095]));
            i = i.wrapping_add(1);
        })
    });
    group.bench_function("update+values", |b| {
        b.iter(|| {
            set.update(black_box(&data[i & 4_095]));
            i = i.wrapping_add(1);
            black_box(set.values())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_update);
criterion_main!(benches);
