//! Scripted bar tapes through the real arena (config → agents → engine → risk gate → paper
//! exchange), for the strategy tests: what was filled, when, why, and what each agent decided.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::Path;

use alphatx::app::build_driver;
use alphatx::clock::ManualClock;
use alphatx::config::Config;
use alphatx::domain::{Bar, Instrument, MarketData, MarketEvent, OrderPurpose, Side, Symbol};
use alphatx::engine::Durability;
use alphatx::engine::journal::{DecisionRecord, JournalRecord};
use alphatx::execution::ExecEvent;
use alphatx::market::candles::CandleInput;
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

pub const MIN: i64 = 60_000;
/// 2024-01-01 00:00 UTC: every timeframe's buckets start here.
pub const T0: i64 = 1_704_067_200_000;

pub fn sym() -> Symbol {
    Symbol::new("TESTUSDT").unwrap()
}

/// A perpetual with a 0.01 tick, 0.001 lot and the usual fees.
pub fn instrument() -> Instrument {
    Instrument::perp(sym(), "TEST", Decimal::new(1, 2), Decimal::new(1, 3), 20)
}

/// One scripted 1-minute bar.
#[derive(Debug, Clone, Copy)]
pub struct B {
    pub o: f64,
    pub h: f64,
    pub l: f64,
    pub c: f64,
    pub v: f64,
}

/// A bar without wicks from `o` to `c`.
pub fn body(o: f64, c: f64) -> B {
    B { o, h: o.max(c), l: o.min(c), c, v: 100.0 }
}

/// A bar with wicks `w` on both sides.
pub fn wick(o: f64, c: f64, w: f64) -> B {
    B { o, h: o.max(c) + w, l: o.min(c) - w, c, v: 100.0 }
}

fn dec(x: f64) -> Decimal {
    Decimal::from_f64(x).unwrap().round_dp(6)
}

/// The bar of minute `i` (from [`T0`]) as the venue publishes it, at the minute's end.
pub fn event(i: usize, b: &B) -> MarketEvent {
    let open_ms = T0 + i as i64 * MIN;
    MarketEvent {
        ts_ms: open_ms + MIN,
        symbol: sym(),
        data: MarketData::Bar(Bar {
            open_ms,
            interval_ms: MIN,
            open: dec(b.o),
            high: dec(b.h),
            low: dec(b.l),
            close: dec(b.c),
            volume: dec(b.v),
        }),
    }
}

/// A fill, by the minute whose bar caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct F {
    pub minute: usize,
    pub side: Side,
    pub purpose: OrderPurpose,
    pub price: f64,
    pub qty: f64,
}

/// What happened during a tape.
#[derive(Debug, Default)]
pub struct Outcome {
    pub fills: Vec<F>,
    /// (minute, decision), for the agent under test.
    pub decisions: Vec<(usize, DecisionRecord)>,
    pub refusals: Vec<String>,
    /// (minute, stop, target) of each exit plan installed.
    pub plans: Vec<(usize, Option<f64>, Option<f64>)>,
}

impl Outcome {
    pub fn summary(&self) -> Vec<(usize, Side, OrderPurpose)> {
        self.fills.iter().map(|f| (f.minute, f.side, f.purpose)).collect()
    }

    pub fn entries(&self) -> Vec<&(usize, DecisionRecord)> {
        self.decisions.iter().filter(|(_, d)| !d.decision.proposals.is_empty()).collect()
    }
}

/// Config text for one agent of `kind` with `params` (TOML lines), on TESTUSDT, no spread, no
/// impact, and `risk` overrides (TOML lines).
pub fn config(kind: &str, params: &str, risk: &str) -> Config {
    let text = format!(
        "[market]\nsource = \"replay\"\nsymbols = [\"TESTUSDT\"]\n\
         [paper]\nsynthetic_spread_bps = 0.0\nimpact_bps = 0.0\nmax_impact_bps = 0.0\n\
         [[agents]]\nname = \"under-test\"\nkind = \"{kind}\"\n[agents.params]\n{params}\n[agents.risk]\n{risk}\n"
    );
    Config::from_toml(&text, Path::new("strategy-test.toml")).unwrap()
}

/// Replays `bars` (minute 0 = [`T0`]) through the arena built from `config`.
pub fn run(config: &Config, bars: &[B]) -> Outcome {
    let clock = ManualClock::new(T0);
    let mut driver = build_driver(config, vec![instrument()], clock, CandleInput::Bars, Durability::Direct).unwrap();
    let mut out = Outcome::default();
    for (i, b) in bars.iter().enumerate() {
        driver.on_market(event(i, b));
        for ev in driver.take_venue_log() {
            if let ExecEvent::Filled { fill, .. } = ev {
                out.fills.push(F {
                    minute: i,
                    side: fill.side,
                    purpose: fill.purpose,
                    price: fill.price.to_f64().unwrap(),
                    qty: fill.qty.to_f64().unwrap(),
                });
            }
        }
        for rec in driver.take_journal() {
            match rec {
                JournalRecord::Decision(d) => out.decisions.push((i, d)),
                JournalRecord::Refusal(r) => out.refusals.push(format!("{i}: {} {}", r.code, r.message)),
                JournalRecord::Plan(p) => {
                    if let Some(plan) = p.plan {
                        out.plans.push((
                            i,
                            plan.stop_loss.and_then(|x| x.to_f64()),
                            plan.profit_target.and_then(|x| x.to_f64()),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// A calm, range-bound market around `mid`: a zigzag of ±`amp` with small wicks.
pub fn zigzag(n: usize, mid: f64, amp: f64) -> Vec<B> {
    (0..n)
        .map(|i| {
            let (o, c) = if i % 2 == 0 { (mid - amp, mid + amp) } else { (mid + amp, mid - amp) };
            wick(o, c, amp / 2.0)
        })
        .collect()
}

/// A calm market around `mid` whose highs and lows wander up and down by `amp` in a four-bar
/// wave, so up and down directional movement balance (a low ADX) and closes average `mid`.
pub fn calm(n: usize, mid: f64, amp: f64) -> Vec<B> {
    (0..n)
        .map(|i| {
            let m = mid + amp * [0.0, 1.0, 0.0, -1.0][i % 4];
            let s = if i % 2 == 0 { 1.0 } else { -1.0 };
            wick(m - s * amp / 2.0, m + s * amp / 2.0, amp / 2.0)
        })
        .collect()
}
