//! The market scanner on the simulated market and on a real Binance day: every symbol and
//! timeframe gets a row, values are those of the indicators at that point in history (`--at`),
//! warm-up values are absent rather than made up, and strategies that would enter now are listed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/market_data.rs"]
mod market_data;

use alphatx::app::{parse_at, scan};
use alphatx::cli::{DataArgs, ScanArgs};
use alphatx::config::Config;
use alphatx::domain::{MarketData, Timeframe};
use alphatx::indicators::{Ema, Rsi};
use alphatx::scan::EmaTrend;
use market_data::shared;
use rust_decimal::prelude::ToPrimitive;
use ta::Next;

const DAY: &str = "binance-klines/um-BTCUSDT-1m-2022-09-05.csv";

fn replay_args(at: Option<&str>) -> ScanArgs {
    ScanArgs { at: at.map(str::to_owned), json: true, data: DataArgs { files: vec![shared(DAY)], symbol: None } }
}

/// Closes of the file's bars that closed by `until_ms` (a bar closes one minute after it opens).
fn closes_until(until_ms: i64) -> Vec<f64> {
    let data = alphatx::market::replay::load(&Default::default(), &[shared(DAY)]).unwrap();
    data.iter()
        .filter(|e| e.ts_ms <= until_ms)
        .map(|e| match &e.data {
            MarketData::Bar(b) => b.close.to_f64().unwrap(),
            _ => unreachable!(),
        })
        .collect()
}

#[test]
fn replay_scan_at_a_point_in_history_shows_that_moments_values() {
    let at = parse_at("2022-09-05T12:00:00Z").unwrap();
    let report = scan(&Config::default(), &replay_args(Some("2022-09-05T12:00:00Z"))).unwrap();
    assert_eq!(report.at_ms, at);
    assert_eq!(report.rows.len(), 6, "one symbol × six timeframes");
    let m1 = report.rows.iter().find(|r| r.timeframe == Timeframe::M1).unwrap();
    let closes = closes_until(at);
    assert_eq!(closes.len(), 720, "bars of 00:00..11:59 have closed by 12:00");
    assert_eq!(m1.close, Some(closes[719]));
    assert_eq!(m1.candle_open_ms, Some(at - 60_000));
    let change = (closes[719] / closes[718] - 1.0) * 100.0;
    assert!((m1.change_pct.unwrap() - change).abs() < 1e-12);
    let mut rsi = Rsi::new(14).unwrap();
    let expected_rsi = closes.iter().map(|c| rsi.next(*c)).last().flatten();
    assert_eq!(m1.rsi14, expected_rsi);
    let (mut e20, mut e50) = (Ema::new(20).unwrap(), Ema::new(50).unwrap());
    let (a, b) = closes.iter().fold((None, None), |_, c| (e20.next(*c), e50.next(*c)));
    let trend = if a.unwrap() > b.unwrap() * 1.0005 {
        EmaTrend::Up
    } else if a.unwrap() < b.unwrap() * 0.9995 {
        EmaTrend::Down
    } else {
        EmaTrend::Flat
    };
    assert_eq!(m1.trend, Some(trend));
    let bb = m1.bb.unwrap();
    assert!((m1.bb_position.unwrap() - (closes[719] - bb.lower) / (bb.upper - bb.lower)).abs() < 1e-12);
    assert!((m1.atr_pct.unwrap() - m1.atr14.unwrap() / closes[719] * 100.0).abs() < 1e-12);
    // Twelve hours hold only three 4h candles and no 1d candle: those values are warming up.
    let h4 = report.rows.iter().find(|r| r.timeframe == Timeframe::H4).unwrap();
    assert_eq!((h4.candles, h4.ema20, h4.rsi14, h4.macd), (3, None, None, None));
    let d1 = report.rows.iter().find(|r| r.timeframe == Timeframe::D1).unwrap();
    assert_eq!((d1.candles, d1.close), (0, None));
    assert!(report.notes.iter().any(|n| n.contains("warming up")), "{:?}", report.notes);
    // Without --at: the end of the data.
    let end = scan(&Config::default(), &replay_args(None)).unwrap();
    assert_eq!(
        end.rows.iter().find(|r| r.timeframe == Timeframe::M1).unwrap().close,
        Some(*closes_until(i64::MAX).last().unwrap())
    );
    // JSON for scripts.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["rows"][0]["timeframe"], "1m");
    assert!(report.render().contains("BTCUSDT"));
    // Before the data: a clear error.
    let e = scan(&Config::default(), &replay_args(Some("2022-09-04"))).unwrap_err().to_string();
    assert!(e.contains("before the data begin"), "{e}");
}

#[test]
fn strategies_that_would_enter_now_are_listed() {
    // An EMA(3)/EMA(8) cross on 1m: find the first minute after which an up-cross happened on the
    // last closed bar, independently, and check the scan lists the agent there and not a minute
    // before.
    let toml = "[[agents]]\nname = \"fast-cross\"\nkind = \"ema_cross\"\n[agents.params]\ntimeframe = \"1m\"\nfast = 3\nslow = 8\nstop_atr = 2.0\nreward_risk = 2.0\n";
    let config = Config::from_toml(toml, std::path::Path::new("scan.toml")).unwrap();
    let closes = closes_until(i64::MAX);
    let (mut f, mut s) = (Ema::new(3).unwrap(), Ema::new(8).unwrap());
    let mut prev: Option<(f64, f64)> = None;
    let mut cross_at = None;
    for (i, c) in closes.iter().enumerate() {
        let cur = f.next(*c).zip(s.next(*c));
        if let (Some((pf, ps)), Some((cf, cs))) = (prev, cur)
            && pf < ps
            && cf > cs
            && i > 30
        {
            cross_at = Some(i);
            break;
        }
        prev = cur;
    }
    let i = cross_at.expect("the day has an up-cross") as i64;
    let t0 = 1_662_336_000_000;
    let when = |bar: i64| (t0 + (bar + 1) * 60_000).to_string();
    let args =
        |t: String| ScanArgs { at: Some(t), json: false, data: DataArgs { files: vec![shared(DAY)], symbol: None } };
    let now = scan(&config, &args(when(i))).unwrap();
    assert_eq!(now.signals.len(), 1, "{:?}", now.signals);
    let sig = &now.signals[0];
    assert_eq!((sig.agent.as_str(), sig.direction.as_str(), sig.timeframe), ("fast-cross", "long", Timeframe::M1));
    assert!(sig.reasoning.contains("EMA3") && sig.reasoning.contains("crossed above"), "{}", sig.reasoning);
    let row = now.rows.iter().find(|r| r.timeframe == Timeframe::M1).unwrap();
    assert_eq!(row.signals, vec!["fast-cross long".to_owned()]);
    let before = scan(&config, &args(when(i - 1))).unwrap();
    assert!(before.signals.is_empty(), "{:?}", before.signals);
}

#[test]
fn sim_scan_after_the_warm_up_covers_every_symbol_and_timeframe() {
    let mut config = Config::default();
    config.sim.warmup_days = 3;
    let args = ScanArgs { at: None, json: false, data: DataArgs::default() };
    let report = scan(&config, &args).unwrap();
    assert_eq!(report.rows.len(), 3 * 6);
    for r in report.rows.iter().filter(|r| r.timeframe <= Timeframe::H1) {
        assert!(r.close.is_some() && r.rsi14.is_some() && r.macd.is_some() && r.atr_pct.is_some(), "{r:?}");
        assert!(r.trend.is_some() && r.bb_position.is_some(), "{r:?}");
    }
    assert!(report.source.starts_with("sim seed 42"), "{}", report.source);
    // The same scan at an earlier moment shows other values.
    let earlier = ScanArgs { at: Some("2025-01-02T12:00:00Z".into()), json: false, data: DataArgs::default() };
    let mid = scan(&config, &earlier).unwrap();
    assert_eq!(mid.at_ms, parse_at("2025-01-02T12:00:00Z").unwrap());
    assert_ne!(mid.rows[0].close, report.rows[0].close);
    let e = scan(&config, &ScanArgs { at: Some("2024-12-31".into()), ..args }).unwrap_err().to_string();
    assert!(e.contains("before the simulated market starts"), "{e}");
}
