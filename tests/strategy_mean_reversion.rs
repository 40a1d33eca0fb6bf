//! The mean-reversion strategy on scripted bars through the real arena: a calm range, a flush
//! below the lower Bollinger band with RSI oversold (long at the close, target the middle band),
//! the rebound filling the target, a spike above the upper band (short) that does not revert and
//! is closed by the time stop, and a flush inside a strong trend that is not faded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod strategy_support;

use alphatx::domain::{OrderPurpose, Side};
use strategy_support::{B, body, calm, config, run, wick};

const PARAMS: &str = "timeframe = \"1m\"\nrsi_oversold = 30.0\nrsi_overbought = 70.0\nmax_adx = 25.0\nstop_atr = 1.5\nmin_reward_risk = 1.0\nmax_hold_bars = 5\nleverage = \"1\"";

fn tape() -> Vec<B> {
    // 0..=39: calm around 100 (closes 100.05 ×3, 99.85), RSI ≈ 50, ADX low.
    let mut bars = calm(40, 100.0, 0.1);
    // 40: flush to 97.4: RSI14 ≈ 17, far under the lower band (≈ 98.7): long.
    bars.push(body(99.85, 97.4));
    // 41: the rebound passes the middle band (≈ 99.87): the target fills.
    bars.push(body(97.4, 100.0));
    // 42..=81: calm again.
    bars.extend(calm(40, 100.0, 0.1));
    // 82: spike to 102.5: RSI14 ≈ 83, over the upper band: short.
    bars.push(body(99.85, 102.5));
    // 83..=87: it stays up, between the target and the stop: the time stop closes it at 87.
    bars.extend(calm(5, 102.5, 0.1));
    bars
}

#[test]
fn fades_the_flush_and_the_spike_exactly_as_scripted() {
    let out = run(&config("mean_reversion", PARAMS, ""), &tape());
    assert_eq!(
        out.summary(),
        vec![
            (40, Side::Buy, OrderPurpose::Entry),
            (41, Side::Sell, OrderPurpose::TakeProfit),
            (82, Side::Sell, OrderPurpose::Entry),
            (87, Side::Buy, OrderPurpose::Exit),
        ],
        "decisions: {:#?}\nrefusals: {:?}",
        out.decisions.iter().map(|(m, d)| (m, &d.decision.reasoning)).collect::<Vec<_>>(),
        out.refusals
    );
    assert!(out.refusals.is_empty(), "{:?}", out.refusals);
    let f = &out.fills;
    assert_eq!((f[0].price, f[2].price), (97.4, 102.5));
    // The target is the middle band at entry: the mean of the last 20 closes.
    let closes: Vec<f64> = tape()[21..=40].iter().map(|b| b.c).collect();
    let mean = closes.iter().sum::<f64>() / 20.0;
    let (_, stop, target) = out.plans[0];
    assert!((target.unwrap() - mean).abs() <= 0.006, "target {target:?} vs mean {mean}");
    assert_eq!(f[1].price, target.unwrap(), "the take-profit filled at the target");
    assert!(stop.unwrap() < 97.4 && stop.unwrap() > 96.0, "{stop:?}");
    let entry = &out.entries()[0].1.decision.reasoning;
    assert!(entry.contains("below the lower band") && entry.contains("RSI14") && entry.contains("ADX14"), "{entry}");
    let time_stop = &out.entries()[2].1.decision.reasoning;
    assert!(time_stop.contains("no reversion to the mean within 5 candles"), "{time_stop}");
}

#[test]
fn a_flush_inside_a_strong_trend_is_not_faded() {
    // A steady decline: lower highs and lower lows every minute (ADX → 100), then a flush.
    let mut bars: Vec<B> = (0..40).map(|i| wick(100.0 - 0.2 * i as f64, 99.8 - 0.2 * i as f64, 0.05)).collect();
    bars.push(body(92.2, 89.0));
    let out = run(&config("mean_reversion", PARAMS, ""), &bars);
    assert!(out.fills.is_empty(), "{:?}", out.fills);
    let (m, d) = out.decisions.last().expect("an explained hold");
    assert_eq!(*m, 40);
    assert!(d.decision.reasoning.contains("trending") && d.decision.proposals.is_empty(), "{}", d.decision.reasoning);
}
