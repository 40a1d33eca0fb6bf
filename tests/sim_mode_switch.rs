//! `alphatx run` generates history in bars mode and then goes live in ticks mode on the same
//! path: the switch must not move the market.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use alphatx::domain::{MarketData, MarketEvent};
use alphatx::market::sim::{SimConfig, SimMarket, SimMode};
use rust_decimal::Decimal;

const START: i64 = 1_735_689_600_000;

fn bar_closes(events: &[MarketEvent]) -> Vec<(i64, String, Decimal)> {
    events
        .iter()
        .filter_map(|e| match &e.data {
            MarketData::Bar(b) => Some((b.open_ms, e.symbol.to_string(), b.close)),
            _ => None,
        })
        .collect()
}

#[test]
fn bars_then_ticks_continues_the_same_path() {
    let mut reference = SimMarket::new(SimConfig::default_markets(9, START, SimMode::Bars)).unwrap();
    let mut ref_events = Vec::new();
    for _ in 0..125 {
        reference.step(&mut ref_events);
    }
    let ref_closes = bar_closes(&ref_events);

    let mut sim = SimMarket::new(SimConfig::default_markets(9, START, SimMode::Bars)).unwrap();
    let mut events = Vec::new();
    for _ in 0..120 {
        sim.step(&mut events);
    }
    assert!(sim.set_mode(SimMode::Ticks));
    let mut ticks = Vec::new();
    while sim.now_ms() < START + 125 * 60_000 {
        sim.step(&mut ticks);
    }
    assert!(ticks.iter().any(|e| matches!(e.data, MarketData::Trade { .. })));
    // In ticks mode every minute ends with a mark at the bar's close: compare those.
    let marks: Vec<(i64, String, Decimal)> = ticks
        .iter()
        .filter_map(|e| match &e.data {
            MarketData::Mark { mark, .. } if e.ts_ms % 60_000 == 0 => {
                Some((e.ts_ms - 60_000, e.symbol.to_string(), *mark))
            }
            _ => None,
        })
        .collect();
    assert_eq!(marks.len(), 15);
    for m in &marks {
        assert!(ref_closes.contains(m), "minute {m:?} differs from the bars-only run");
    }
    assert_eq!(bar_closes(&events), ref_closes[..360].to_vec());
}

#[test]
fn mode_cannot_change_inside_a_ticks_minute() {
    let mut cfg = SimConfig::default_markets(1, START, SimMode::Ticks);
    cfg.step_ms = 1000;
    let mut sim = SimMarket::new(cfg).unwrap();
    let mut out = Vec::new();
    sim.step(&mut out);
    assert!(!sim.set_mode(SimMode::Bars));
}
