//! Ledger throughput with full durability (WAL, `synchronous=FULL`, on the target directory's
//! real disk, never a RAM disk), through the public API: `append` + waiting for the commit acks.
//!
//! - `batched/fills`: batches of 100 fills (each fill also writes its order event, position and
//!   account), 20 batches per iteration; throughput is fills per second.
//! - `batched/order_lifecycle`: the same with each fill's order accepted first (orders row +
//!   two order events per fill), the paper venue's pattern for market orders.
//! - `durable_commit/one_fill`: one fill per batch, waiting for its ack before the next: the
//!   fsync-bound rate of durable commits.
//! - `append latency` (printed after criterion's report): the caller-side duration of each
//!   `append` call while the writer is saturated, p50/p99/p99.9/max. `append` never waits on
//!   disk, so this is the engine's worst stall caused by the store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use alphatx::domain::{
    AgentId, Fill, Liquidity, Order, OrderId, OrderKind, OrderPurpose, OrderRequest, OrderStatus, Side, Symbol,
};
use alphatx::execution::ExecEvent;
use alphatx::store::{Ledger, LedgerAck, LedgerBatch, NewAgent, NewRun};
use criterion::{Criterion, Throughput, criterion_group};
use rust_decimal::Decimal;
use rust_decimal::dec;
use tokio::sync::mpsc::UnboundedReceiver;

const FILLS_PER_BATCH: u64 = 100;
const BATCHES_PER_ITER: u64 = 20;

fn bench_dir() -> tempfile::TempDir {
    // The target directory is on the machine's disk; /tmp may be a RAM disk elsewhere.
    tempfile::tempdir_in(PathBuf::from(env!("CARGO_TARGET_TMPDIR"))).unwrap()
}

struct Rig {
    ledger: Ledger,
    acks: UnboundedReceiver<LedgerAck>,
    run: i64,
    agents: [AgentId; 2],
    symbols: [Symbol; 4],
    next_trade: Cell<u64>,
    next_seq: Cell<u64>,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn new() -> Self {
        let dir = bench_dir();
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        let acks = ledger.acks().unwrap();
        let agents = [AgentId::new("alice").unwrap(), AgentId::new("bob").unwrap()];
        let symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"].map(|s| Symbol::new(s).unwrap());
        let run = ledger
            .begin_run(NewRun {
                profile: "bench".into(),
                source: "sim".into(),
                seed: Some(1),
                config_toml: String::new(),
                started_ms: 0,
                sim_start_ms: None,
                agents: agents
                    .iter()
                    .map(|id| NewAgent {
                        id: *id,
                        kind: "bench".into(),
                        benchmark: false,
                        symbols: symbols.to_vec(),
                        balance: dec!(1000000),
                    })
                    .collect(),
            })
            .unwrap();
        Self { ledger, acks, run, agents, symbols, next_trade: Cell::new(1), next_seq: Cell::new(1), _dir: dir }
    }

    /// The next fill (alternating sides, so positions go up and down through flips).
    fn fill(&self) -> Fill {
        let t = self.next_trade.get();
        self.next_trade.set(t + 1);
        let side = if (t / 3).is_multiple_of(2) { Side::Buy } else { Side::Sell };
        Fill {
            venue: "paper".into(),
            trade_id: t,
            order_id: OrderId(t),
            agent: self.agents[(t % 2) as usize],
            symbol: self.symbols[((t / 2) % 4) as usize],
            side,
            qty: dec!(0.013),
            price: dec!(100) + Decimal::new((t % 1000) as i64, 2),
            fee: dec!(0.00065),
            liquidity: Liquidity::Taker,
            purpose: OrderPurpose::Entry,
            liquidation: false,
            ts_ms: t as i64,
        }
    }

    fn batch(&self, fills: u64, with_orders: bool) -> LedgerBatch {
        let mut exec = Vec::with_capacity(fills as usize * 2);
        for _ in 0..fills {
            let fill = self.fill();
            if with_orders {
                let request = OrderRequest {
                    id: fill.order_id,
                    agent: fill.agent,
                    symbol: fill.symbol,
                    side: fill.side,
                    qty: fill.qty,
                    kind: OrderKind::Market,
                    reduce_only: false,
                    leverage: dec!(2),
                    purpose: OrderPurpose::Entry,
                    stop_loss: None,
                    take_profit: None,
                };
                exec.push(ExecEvent::Accepted {
                    order: Order {
                        request,
                        status: OrderStatus::Open,
                        filled_qty: Decimal::ZERO,
                        created_ms: fill.ts_ms,
                        updated_ms: fill.ts_ms,
                    },
                });
            }
            exec.push(ExecEvent::Filled { fill, leverage: dec!(2), status: OrderStatus::Filled });
        }
        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        LedgerBatch { seq, run_id: self.run, exec, journal: Vec::new() }
    }

    fn wait(&mut self, n: u64) {
        for _ in 0..n {
            let ack = self.acks.blocking_recv().unwrap();
            assert!(ack.result.is_ok(), "{ack:?}");
        }
    }
}

fn batched(c: &mut Criterion) {
    let mut group = c.benchmark_group("batched");
    group.sample_size(20).measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(FILLS_PER_BATCH * BATCHES_PER_ITER));
    for (name, with_orders) in [("fills", false), ("order_lifecycle", true)] {
        let mut rig = Rig::new();
        group.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..BATCHES_PER_ITER {
                    rig.ledger.append(rig.batch(FILLS_PER_BATCH, with_orders)).unwrap();
                }
                rig.wait(BATCHES_PER_ITER);
            })
        });
        rig.ledger.close().unwrap();
    }
    group.finish();
}

fn durable_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("durable_commit");
    group.sample_size(20).measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(1));
    let mut rig = Rig::new();
    group.bench_function("one_fill", |b| {
        b.iter(|| {
            rig.ledger.append(rig.batch(1, false)).unwrap();
            rig.wait(1);
        })
    });
    rig.ledger.close().unwrap();
    group.finish();
}

/// Caller-side `append` latency while the writer is saturated.
fn append_latency() {
    let mut rig = Rig::new();
    let batches = 100_000u64;
    let fills_per_batch = 10;
    // Pre-built so the measurement is the call alone.
    let prepared: Vec<LedgerBatch> = (0..batches).map(|_| rig.batch(fills_per_batch, true)).collect();
    let mut lat = Vec::with_capacity(batches as usize);
    let started = Instant::now();
    for b in prepared {
        // Producer paced only by the queue depth, far above what a market produces: the writer
        // is busy for the whole measurement.
        while rig.ledger.stats().pending_records > 200_000 {
            std::thread::sleep(Duration::from_micros(200));
        }
        let t = Instant::now();
        rig.ledger.append(b).unwrap();
        lat.push(t.elapsed());
    }
    rig.wait(batches);
    let elapsed = started.elapsed();
    let stats = rig.ledger.stats();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize];
    println!(
        "append latency under load ({batches} batches of {fills_per_batch} orders+fills, writer saturated): \
         p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
        pct(0.50),
        pct(0.99),
        pct(0.999),
        lat[lat.len() - 1]
    );
    println!(
        "  sustained {:.0} fills/s ({} commits, {:.1} batches/commit, max commit {} us)",
        (batches * fills_per_batch) as f64 / elapsed.as_secs_f64(),
        stats.commits,
        stats.batches_committed as f64 / stats.commits.max(1) as f64,
        stats.max_commit_us
    );
    rig.ledger.close().unwrap();
}

criterion_group!(benches, batched, durable_commit);

fn main() {
    benches();
    // Skipped when criterion only lists or filters benchmarks (`cargo bench -- NAME`).
    let filtered = std::env::args().skip(1).any(|a| !a.starts_with('-'));
    if !filtered {
        append_latency();
    }
    Criterion::default().configure_from_args().final_summary();
}
