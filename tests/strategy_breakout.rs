//! The breakout strategy on scripted bars through the real arena: a range, a breakout above it
//! (long at the close), an exit when price falls back under the exit channel, a breakdown (short)
//! stopped out by the venue stop, a target hit, and the volume filter refusing a weak breakout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod strategy_support;

use alphatx::domain::{OrderPurpose, Side};
use strategy_support::{B, body, config, run, wick, zigzag};

const PARAMS: &str = "timeframe = \"1m\"\nentry_period = 5\nexit_period = 3\nmin_volume_ratio = 0.0\nstop_atr = 2.0\nreward_risk = 3.0\nleverage = \"1\"";

/// ATR(14) of the tape after each bar.
fn atr14(bars: &[B]) -> Vec<f64> {
    use ta::Next;
    let mut atr = alphatx::indicators::Atr::new(14).unwrap();
    bars.iter()
        .map(|b| {
            let c = alphatx::domain::Candle {
                open_ms: 0,
                open: b.o,
                high: b.h,
                low: b.l,
                close: b.c,
                volume: b.v,
                closed: true,
            };
            atr.next(&c).unwrap_or(f64::NAN)
        })
        .collect()
}

fn tape() -> Vec<B> {
    // 0..=29: a range, closes 99.5/100.5, highs 100.75, lows 99.25 (ATR14 = 1.5).
    let mut bars = zigzag(30, 100.0, 0.5);
    // 30: close 102 above the 5-candle high 100.75: long.
    bars.push(wick(100.5, 102.0, 0.1));
    // 31..=34: drifting up, never under the 3-candle low.
    bars.extend([wick(102.0, 102.5, 0.1), wick(102.5, 103.0, 0.1), wick(103.0, 103.5, 0.1), wick(103.5, 103.2, 0.1)]);
    // 35: close 101.5 under the 3-candle low 102.4: the breakout failed, close.
    bars.push(body(103.2, 101.5));
    // 36..=65: a new range around 101.5 (closes 101/102, lows 100.75).
    bars.extend(zigzag(30, 101.5, 0.5));
    // 66: close 99 under the 5-candle low 100.75: short.
    bars.push(wick(101.0, 99.0, 0.1));
    // 67: a spike through the short's stop that closes back inside the range.
    bars.push(B { o: 99.0, h: 102.6, l: 98.9, c: 101.0, v: 100.0 });
    bars.extend(zigzag(5, 101.0, 0.3));
    bars
}

#[test]
fn breakout_enters_exits_and_is_stopped_out_exactly_as_scripted() {
    let out = run(&config("breakout", PARAMS, ""), &tape());
    assert_eq!(
        out.summary(),
        vec![
            (30, Side::Buy, OrderPurpose::Entry),
            (35, Side::Sell, OrderPurpose::Exit),
            (66, Side::Sell, OrderPurpose::Entry),
            (67, Side::Buy, OrderPurpose::StopLoss),
        ],
        "decisions: {:#?}\nrefusals: {:?}",
        out.decisions.iter().map(|(m, d)| (m, &d.decision.reasoning)).collect::<Vec<_>>(),
        out.refusals
    );
    assert!(out.refusals.is_empty(), "{:?}", out.refusals);
    let f = &out.fills;
    assert_eq!((f[0].price, f[1].price, f[2].price), (102.0, 101.5, 99.0));
    // Stops and targets: 2×ATR14 away, target 3× that, with the (TA-Lib-verified) ATR14 of the
    // tape at the breakout bars.
    let atr = atr14(&tape());
    let (atr_long, atr_short) = (atr[30], atr[66]);
    assert!((atr_long - (13.0 * 1.5 + 2.6) / 14.0).abs() < 1e-9, "the range's ATR is 1.5, bar 30's TR 2.6");
    let (m, stop, target) = out.plans[0];
    assert_eq!(m, 30);
    assert!((stop.unwrap() - (102.0 - 2.0 * atr_long)).abs() < 0.011, "{stop:?}");
    assert!((target.unwrap() - (102.0 + 6.0 * atr_long)).abs() < 0.011, "{target:?}");
    let (m, stop, _) = out.plans[1];
    assert_eq!(m, 66);
    assert!((stop.unwrap() - (99.0 + 2.0 * atr_short)).abs() < 0.011, "{stop:?}");
    // The stop filled at its trigger (the spike went through it without a gap).
    assert_eq!(f[3].price, stop.unwrap());
    // Size: 1 % of 10,000 at risk over the stop distance.
    let risk = (f[0].price - out.plans[0].1.unwrap()) * f[0].qty;
    assert!((risk - 100.0).abs() < 0.1, "risked {risk}");
    // Every decision explains itself with the numbers it used.
    let entry = &out.entries()[0].1.decision.reasoning;
    assert!(entry.contains("broke above the 5-candle high 100.75") && entry.contains("ATR14"), "{entry}");
    let exit = &out.entries()[1].1.decision.reasoning;
    assert!(exit.contains("under") || exit.contains("below"), "{exit}");
}

#[test]
fn a_breakout_that_runs_reaches_its_target() {
    let mut bars = zigzag(30, 100.0, 0.5);
    bars.push(wick(100.5, 102.0, 0.1));
    // A spike through the 3R target (about 111.5) that closes back inside the old channel, so
    // no new breakout follows.
    bars.push(B { o: 102.0, h: 113.0, l: 101.95, c: 102.05, v: 100.0 });
    bars.extend(zigzag(3, 102.0, 0.3));
    let out = run(&config("breakout", PARAMS, ""), &bars);
    assert_eq!(out.summary(), vec![(30, Side::Buy, OrderPurpose::Entry), (31, Side::Sell, OrderPurpose::TakeProfit)]);
    assert_eq!(out.fills[1].price, out.plans[0].2.unwrap(), "filled at the target");
}

#[test]
fn a_breakout_on_thin_volume_is_not_taken() {
    let params = PARAMS.replace("min_volume_ratio = 0.0", "min_volume_ratio = 1.5");
    let mut bars = tape();
    bars.truncate(31);
    bars[30].v = 120.0; // average 100: 1.2× < 1.5×
    let out = run(&config("breakout", &params, ""), &bars);
    assert!(out.fills.is_empty(), "{:?}", out.fills);
    let (m, d) = out.decisions.last().unwrap();
    assert_eq!(*m, 30);
    assert!(d.decision.reasoning.contains("under 1.5× its 20-candle average"), "{}", d.decision.reasoning);
}
