//! The multi-timeframe momentum strategy on scripted bars through the real arena. A flat market
//! (every rate of change exactly 0) turns into a grinding advance at 01:00 (+0.3, −0.2, …). The
//! 1m and 5m rates of change turn positive first; the 15m one only when the first 15m candle of
//! the advance closes, at 01:14 — the entry, with RSI14 ≈ 63.5 inside [50, 70]. Then either the
//! advance accelerates into the 2R target, or the next pull-back turns the 1m rate of change
//! negative and momentum is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod strategy_support;

use alphatx::domain::{OrderPurpose, Side};
use strategy_support::{B, body, config, run};

const PARAMS: &str = "timeframe = \"1m\"\nconfirm_timeframes = [\"5m\", \"15m\"]\nroc_period = 3\nmin_roc_pct = 0.0\nrsi_min = 50.0\nrsi_max = 70.0\nstop_atr = 2.0\nreward_risk = 2.0\nleverage = \"1\"";

/// 0..=59 flat at 100; 60..=74 alternating +0.3 / −0.2.
fn advance() -> Vec<B> {
    let mut bars: Vec<B> = (0..60).map(|_| body(100.0, 100.0)).collect();
    let mut x = 100.0;
    for i in 60..75 {
        let next = if i % 2 == 0 { x + 0.3 } else { x - 0.2 };
        bars.push(body(x, next));
        x = next;
    }
    bars
}

fn last_close(bars: &[B]) -> f64 {
    bars.last().unwrap().c
}

#[test]
fn enters_when_every_timeframe_agrees_and_takes_profit() {
    let mut bars = advance();
    let mut x = last_close(&bars);
    for _ in 0..5 {
        bars.push(body(x, x + 0.2));
        x += 0.2;
    }
    let out = run(&config("momentum", PARAMS, ""), &bars);
    assert_eq!(
        out.summary(),
        vec![(74, Side::Buy, OrderPurpose::Entry), (78, Side::Sell, OrderPurpose::TakeProfit)],
        "decisions: {:#?}\nrefusals: {:?}",
        out.decisions.iter().map(|(m, d)| (m, &d.decision.reasoning)).collect::<Vec<_>>(),
        out.refusals
    );
    assert!((out.fills[0].price - 101.0).abs() < 1e-9);
    let (_, stop, target) = out.plans[0];
    let (stop, target) = (stop.unwrap(), target.unwrap());
    assert!(((target - 101.0) - 2.0 * (101.0 - stop)).abs() < 0.011, "2R target: stop {stop}, target {target}");
    assert_eq!(out.fills[1].price, target);
    let why = &out.entries()[0].1.decision.reasoning;
    assert!(
        why.contains("1m +") && why.contains("5m +") && why.contains("15m +") && why.contains("RSI14 63."),
        "{why}"
    );
    // After the target the advance is too strong (RSI 74, above 70): an explained hold, no entry.
    assert!(out.decisions.iter().any(|(m, d)| *m == 78 && d.decision.reasoning.contains("outside [50, 70]")));
}

#[test]
fn exits_when_momentum_is_lost() {
    let mut bars = advance();
    let x = last_close(&bars);
    // 75: the next pull-back, 101.0 → 100.8, is under the close three bars back (100.9): the 1m
    // ROC(3) turns negative. It stays above the stop (101 − 2 × ATR14 0.170 ≈ 100.66).
    bars.push(body(x, 100.8));
    let out = run(&config("momentum", PARAMS, ""), &bars);
    assert_eq!(
        out.summary(),
        vec![(74, Side::Buy, OrderPurpose::Entry), (75, Side::Sell, OrderPurpose::Exit)],
        "decisions: {:#?}",
        out.decisions.iter().map(|(m, d)| (m, &d.decision.reasoning)).collect::<Vec<_>>()
    );
    let why = &out.entries()[1].1.decision.reasoning;
    assert!(why.contains("momentum lost"), "{why}");
}

#[test]
fn no_entry_before_the_slowest_timeframe_confirms() {
    let mut bars = advance();
    bars.truncate(74); // up to 01:13: the 15m candle of the advance has not closed yet
    let out = run(&config("momentum", PARAMS, ""), &bars);
    assert!(out.fills.is_empty() && out.entries().is_empty(), "{:?}", out.fills);
}
