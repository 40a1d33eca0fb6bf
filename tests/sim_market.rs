//! Behaviour of the built-in synthetic market, seen only through its public API.
//!
//! The statistical tests share one 90-day bars run of the default markets (seed 7) and use
//! tolerances wide enough for sampling noise over 90 days (the slow volatility factor alone
//! moves a 90-day realised vol by about ±10 %), yet narrow enough to catch a broken model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use alphatx::domain::{Bar, MarketData, MarketEvent, Symbol};
use alphatx::market::sim::{Regime, SimConfig, SimError, SimMarket, SimMode};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// 2024-01-01T00:00:00Z.
const START: i64 = 1_704_067_200_000;
const MINUTE: i64 = 60_000;
const MINUTES_PER_YEAR: f64 = 525_960.0;

fn market(seed: u64, mode: SimMode) -> SimMarket {
    SimMarket::new(SimConfig::default_markets(seed, START, mode)).unwrap()
}

fn run(sim: &mut SimMarket, steps: usize) -> Vec<MarketEvent> {
    let mut out = Vec::new();
    for _ in 0..steps {
        sim.step(&mut out);
    }
    out
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap()
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn var(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / x.len() as f64
}

fn acf(x: &[f64], lag: usize) -> f64 {
    let m = mean(x);
    let v: f64 = x.iter().map(|a| (a - m).powi(2)).sum();
    let c: f64 = (0..x.len() - lag).map(|i| (x[i] - m) * (x[i + lag] - m)).sum();
    c / v
}

fn excess_kurtosis(x: &[f64]) -> f64 {
    let m = mean(x);
    let v = var(x);
    x.iter().map(|a| (a - m).powi(4)).sum::<f64>() / x.len() as f64 / (v * v) - 3.0
}

fn corr(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let mut sab = 0.0;
    let mut saa = 0.0;
    let mut sbb = 0.0;
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    sab / (saa * sbb).sqrt()
}

/// 1m closes, volumes and funding rates per symbol, and the regime of every minute.
struct Run90 {
    closes: Vec<Vec<f64>>,
    returns: Vec<Vec<f64>>,
    volumes: Vec<Vec<f64>>,
    funding: Vec<Vec<f64>>,
    regimes: Vec<Regime>,
    annual_vols: Vec<f64>,
    volume_per_min: Vec<f64>,
}

fn run90() -> &'static Run90 {
    static RUN: OnceLock<Run90> = OnceLock::new();
    RUN.get_or_init(|| {
        let cfg = SimConfig::default_markets(7, START, SimMode::Bars);
        let n_sym = cfg.symbols.len();
        let annual_vols = cfg.symbols.iter().map(|s| s.annual_vol).collect();
        let volume_per_min = cfg.symbols.iter().map(|s| s.volume_per_min).collect();
        let mut sim = SimMarket::new(cfg).unwrap();
        let minutes = 90 * 1_440;
        let mut closes = vec![Vec::with_capacity(minutes); n_sym];
        let mut volumes = vec![Vec::with_capacity(minutes); n_sym];
        let mut funding = vec![Vec::with_capacity(minutes); n_sym];
        let mut regimes = Vec::with_capacity(minutes);
        let mut out = Vec::new();
        for _ in 0..minutes {
            out.clear();
            sim.step(&mut out);
            regimes.push(sim.regime());
            for (k, e) in out.iter().enumerate() {
                match &e.data {
                    MarketData::Bar(b) => {
                        closes[k / 2].push(f(b.close));
                        volumes[k / 2].push(f(b.volume));
                    }
                    MarketData::Mark { funding_rate, .. } => {
                        funding[k / 2].push(f(funding_rate.unwrap()));
                    }
                    other => panic!("unexpected event in bars mode: {other:?}"),
                }
            }
        }
        let returns = closes.iter().map(|c| c.windows(2).map(|w| (w[1] / w[0]).ln()).collect()).collect();
        Run90 { closes, returns, volumes, funding, regimes, annual_vols, volume_per_min }
    })
}

// --- determinism ---------------------------------------------------------------------------

#[test]
fn same_config_gives_byte_identical_events_and_seeds_differ() {
    for (mode, steps) in [(SimMode::Bars, 2 * 1_440), (SimMode::Ticks, 600)] {
        let a = serde_json::to_string(&run(&mut market(42, mode), steps)).unwrap();
        let b = serde_json::to_string(&run(&mut market(42, mode), steps)).unwrap();
        let c = serde_json::to_string(&run(&mut market(43, mode), steps)).unwrap();
        assert_eq!(a, b, "{mode:?}: same seed must replay byte for byte");
        assert_ne!(a, c, "{mode:?}: different seeds must differ");
    }
}

#[test]
fn a_cloned_market_continues_identically() {
    let mut a = market(5, SimMode::Ticks);
    run(&mut a, 100);
    let mut b = a.clone();
    assert_eq!(run(&mut a, 200), run(&mut b, 200));
}

/// Per (symbol, ts) the mark price of every minute mark in `events`.
fn marks(events: &[MarketEvent]) -> BTreeMap<(Symbol, i64), (Decimal, Option<Decimal>)> {
    let mut m = BTreeMap::new();
    for e in events {
        if let MarketData::Mark { mark, funding_rate, .. } = e.data {
            assert!(
                m.insert((e.symbol, e.ts_ms), (mark, funding_rate)).is_none(),
                "two marks for {} at {}",
                e.symbol,
                e.ts_ms
            );
        }
    }
    m
}

#[test]
fn one_minute_closes_are_identical_across_modes() {
    let minutes = 180;
    let bars = run(&mut market(11, SimMode::Bars), minutes);
    let bar_closes: BTreeMap<(Symbol, i64), Decimal> = bars
        .iter()
        .filter_map(|e| match e.data {
            MarketData::Bar(b) => Some(((e.symbol, e.ts_ms), b.close)),
            _ => None,
        })
        .collect();
    let bar_marks = marks(&bars);
    assert_eq!(bar_closes.len(), 3 * minutes);
    for (key, (mark, _)) in &bar_marks {
        assert_eq!(bar_closes[key], *mark, "bars mode: mark is the close");
    }
    // Steps that divide the minute, one that does not (so steps straddle minute ends) and the
    // largest allowed step.
    for step_ms in [1_000, 7_000, 60_000] {
        let mut cfg = SimConfig::default_markets(11, START, SimMode::Ticks);
        cfg.step_ms = step_ms;
        let mut sim = SimMarket::new(cfg).unwrap();
        let steps = ((minutes as i64 * MINUTE + step_ms - 1) / step_ms) as usize;
        let mut tick_marks = marks(&run(&mut sim, steps));
        let end = START + minutes as i64 * MINUTE;
        assert!(sim.now_ms() >= end && sim.now_ms() < end + step_ms);
        tick_marks.retain(|&(_, ts), _| ts <= end);
        assert_eq!(
            tick_marks, bar_marks,
            "step {step_ms} ms: ticks-mode minute closes and funding must equal bars mode"
        );
    }
}

// --- invariants ----------------------------------------------------------------------------

#[test]
fn bars_respect_grid_ohlc_clock_and_funding_over_30_days() {
    let cfg = SimConfig::default_markets(3, START + 12_345, SimMode::Bars);
    let instruments: BTreeMap<Symbol, _> =
        cfg.symbols.iter().map(|s| (s.instrument.symbol, s.instrument.clone())).collect();
    let mut opens: BTreeMap<Symbol, Decimal> =
        cfg.symbols.iter().map(|s| (s.instrument.symbol, s.start_price)).collect();
    let mut sim = SimMarket::new(cfg).unwrap();
    assert_eq!(sim.now_ms(), START + 12_345, "now_ms is start_ms before the first step");
    let first_open = START + MINUTE; // start rounded up to the next whole minute
    let mut out = Vec::new();
    for minute in 0..30 * 1_440_i64 {
        out.clear();
        sim.step(&mut out);
        let open_ms = first_open + minute * MINUTE;
        let ts = open_ms + MINUTE;
        assert_eq!(sim.now_ms(), ts);
        assert_eq!(out.len(), 2 * instruments.len());
        for pair in out.chunks(2) {
            let (MarketData::Bar(bar), MarketData::Mark { mark, funding_rate, next_funding_ms }) =
                (&pair[0].data, &pair[1].data)
            else {
                panic!("expected bar then mark, got {pair:?}");
            };
            let sym = pair[0].symbol;
            assert_eq!(pair[1].symbol, sym);
            assert!(pair.iter().all(|e| e.ts_ms == ts));
            let inst = &instruments[&sym];
            let Bar { open_ms: bar_open, interval_ms, open, high, low, close, volume } = *bar;
            assert_eq!((bar_open, interval_ms), (open_ms, MINUTE));
            assert_eq!(open, opens[&sym], "open is the previous close");
            for p in [open, high, low, close, *mark] {
                assert!(p > Decimal::ZERO && inst.on_tick(p), "{sym} price {p} off tick");
            }
            assert!(low <= open.min(close) && high >= open.max(close), "{bar:?}");
            assert!(volume > Decimal::ZERO && inst.on_lot(volume), "{sym} volume {volume}");
            assert_eq!(*mark, close);
            let rate = funding_rate.unwrap();
            assert!(rate.abs() <= Decimal::new(75, 4), "funding {rate}");
            let next = next_funding_ms.unwrap();
            assert!(next > ts && next - ts <= 8 * 3_600_000 && next % (8 * 3_600_000) == 0);
            opens.insert(sym, close);
        }
    }
}

#[test]
fn ticks_respect_grid_spreads_ids_and_time_order() {
    let mut cfg = SimConfig::default_markets(9, START, SimMode::Ticks);
    cfg.step_ms = 500;
    let instruments: BTreeMap<Symbol, _> =
        cfg.symbols.iter().map(|s| (s.instrument.symbol, s.instrument.clone())).collect();
    let mut sim = SimMarket::new(cfg).unwrap();
    let mut last_id: BTreeMap<Symbol, u64> = BTreeMap::new();
    let mut minute_prints: BTreeMap<Symbol, (Decimal, Decimal, Decimal, Decimal, Decimal)> = BTreeMap::new();
    let mut last_mid: BTreeMap<Symbol, f64> = BTreeMap::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut prev_now = sim.now_ms();
    let mut out = Vec::new();
    for _ in 0..2 * 60 * 120 {
        out.clear();
        sim.step(&mut out);
        let now = sim.now_ms();
        assert_eq!(now, prev_now + 500);
        assert!(out.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms), "batch out of order");
        let new_mid: BTreeMap<Symbol, f64> = out
            .iter()
            .filter_map(|e| match e.data {
                MarketData::Quote { bid, ask, .. } => Some((e.symbol, f(bid + ask) / 2.0)),
                _ => None,
            })
            .collect();
        for e in &out {
            assert!(e.ts_ms > prev_now && e.ts_ms <= now, "event outside its step");
            let inst = &instruments[&e.symbol];
            *counts.entry(e.data.kind()).or_default() += 1;
            match e.data {
                MarketData::Quote { bid, ask, bid_qty, ask_qty } => {
                    assert_eq!(e.ts_ms, now, "quotes are stamped at the step's end");
                    assert!(Decimal::ZERO < bid && bid < ask, "{bid} / {ask}");
                    assert!(inst.on_tick(bid) && inst.on_tick(ask));
                    assert!(bid_qty > Decimal::ZERO && inst.on_lot(bid_qty));
                    assert!(ask_qty > Decimal::ZERO && inst.on_lot(ask_qty));
                    // Spreads are a few basis points at most in a normal market.
                    let mid = f(bid + ask) / 2.0;
                    assert!(f(ask - bid) / mid < 20e-4, "spread {bid} / {ask}");
                    last_mid.insert(e.symbol, mid);
                }
                MarketData::Trade { price, qty, trade_id, .. } => {
                    let m = minute_prints.entry(e.symbol).or_insert((price, price, price, price, Decimal::ZERO));
                    *m = (m.0, m.1.max(price), m.2.min(price), price, m.4 + qty);
                    assert!(price > Decimal::ZERO && inst.on_tick(price));
                    assert!(qty > Decimal::ZERO && inst.on_lot(qty));
                    let prev = last_id.insert(e.symbol, trade_id).unwrap_or(0);
                    assert!(trade_id > prev, "trade ids must increase");
                    if let Some(&before) = last_mid.get(&e.symbol) {
                        // Prints happen near the book of the moment: between the mids at the
                        // step's start and end (a jump may gap in between), give or take
                        // half a percent of diffusion and spread.
                        let after = new_mid[&e.symbol];
                        let p = f(price);
                        assert!(
                            p > before.min(after) * 0.995 && p < before.max(after) * 1.005,
                            "{price} vs mids {before} → {after}"
                        );
                    }
                }
                MarketData::Mark { mark, .. } => {
                    assert_eq!(e.ts_ms % MINUTE, 0, "marks fall on minute ends");
                    assert!(mark > Decimal::ZERO && inst.on_tick(mark));
                }
                MarketData::Bar(b) => {
                    // The closed candle of exactly this minute's prints.
                    assert_eq!(e.ts_ms % MINUTE, 0, "bars close on minute ends");
                    assert_eq!(b.open_ms + MINUTE, e.ts_ms);
                    match minute_prints.remove(&e.symbol) {
                        Some((o, h, l, c, v)) => {
                            assert_eq!((b.open, b.high, b.low, b.close, b.volume), (o, h, l, c, v))
                        }
                        None => assert!(b.volume.is_zero() && b.open == b.close && b.high == b.low),
                    }
                }
                ref other => panic!("unexpected event {other:?}"),
            }
        }
        prev_now = now;
    }
    let minutes = 120;
    assert_eq!(counts["quote"], 3 * 2 * 60 * minutes);
    assert_eq!(counts["mark"], 3 * minutes);
    assert_eq!(counts["bar"], 3 * minutes);
    // 60 prints a minute per symbol at average volume; the calendar, volatility and big
    // moves make any two hours busier or quieter, but not by an order of magnitude.
    let trades = counts["trade"] as f64 / (3.0 * minutes as f64);
    assert!((15.0..240.0).contains(&trades), "{trades} prints per minute");
}

// --- statistics (shared 90-day run) --------------------------------------------------------

#[test]
fn realised_volatility_matches_the_configured_level() {
    let r = run90();
    for (i, ret) in r.returns.iter().enumerate() {
        let realised = (var(ret) * MINUTES_PER_YEAR).sqrt();
        let target = r.annual_vols[i];
        eprintln!("symbol {i}: realised vol {realised:.3} vs configured {target}");
        assert!((realised / target - 1.0).abs() < 0.25, "symbol {i}: realised {realised:.3} vs {target}");
    }
}

#[test]
fn volatility_clusters_but_returns_are_not_autocorrelated() {
    let r = run90();
    for (i, ret) in r.returns.iter().enumerate() {
        let abs: Vec<f64> = ret.iter().map(|x| x.abs()).collect();
        let acf_abs: Vec<f64> = (1..=10).map(|l| acf(&abs, l)).collect();
        let acf1 = acf(ret, 1);
        eprintln!("symbol {i}: ACF(|r|) lags 1..10 {acf_abs:.3?}; ACF(r, 1) {acf1:.4}");
        // With ~130k minutes the standard error of an autocorrelation is ~0.003.
        assert!(acf_abs.iter().all(|&a| a > 0.1), "{acf_abs:?}");
        assert!(acf1.abs() < 0.03, "lag-1 autocorrelation {acf1}");
    }
}

#[test]
fn returns_have_fat_tails() {
    let r = run90();
    for (i, ret) in r.returns.iter().enumerate() {
        let k = excess_kurtosis(ret);
        eprintln!("symbol {i}: excess kurtosis {k:.2}");
        assert!(k > 1.0, "symbol {i}: excess kurtosis {k}");
    }
}

#[test]
fn symbols_move_together_sol_a_bit_less() {
    let r = run90();
    let btc_eth = corr(&r.returns[0], &r.returns[1]);
    let btc_sol = corr(&r.returns[0], &r.returns[2]);
    let eth_sol = corr(&r.returns[1], &r.returns[2]);
    eprintln!("corr BTC–ETH {btc_eth:.3}, BTC–SOL {btc_sol:.3}, ETH–SOL {eth_sol:.3}");
    assert!((0.6..=0.95).contains(&btc_eth), "{btc_eth}");
    assert!((0.5..btc_eth).contains(&btc_sol), "{btc_sol}");
    assert!((0.5..btc_eth).contains(&eth_sol), "{eth_sol}");
}

#[test]
fn regimes_persist_for_hours_and_trends_drift() {
    let r = run90();
    let runs = 1 + r.regimes.windows(2).filter(|w| w[0] != w[1]).count();
    let mean_run = r.regimes.len() as f64 / runs as f64;
    let mut by_regime: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    // regimes[t] governed the minute whose return is returns[.][t - 1].
    for (t, regime) in r.regimes.iter().enumerate().skip(1) {
        let name = match regime {
            Regime::TrendUp => "up",
            Regime::TrendDown => "down",
            Regime::Range => "range",
        };
        by_regime.entry(name).or_default().push(r.returns[0][t - 1]);
    }
    eprintln!("{runs} regime spells, mean {mean_run:.0} min");
    assert!(mean_run > 120.0, "regimes should last hours, mean {mean_run} min");
    for name in ["up", "down", "range"] {
        let x = &by_regime[name];
        let t_stat = mean(x) / (var(x) / x.len() as f64).sqrt();
        eprintln!(
            "{name}: {} min ({:.0} %), mean BTC 1m return {:.2e} (t = {t_stat:.1})",
            x.len(),
            100.0 * x.len() as f64 / r.regimes.len() as f64,
            mean(x)
        );
        assert!(x.len() > 5 * 1_440, "{name} occupies too little of 90 days");
        match name {
            "up" => assert!(t_stat > 3.0, "uptrends must drift up (t = {t_stat})"),
            "down" => assert!(t_stat < -3.0, "downtrends must drift down (t = {t_stat})"),
            _ => assert!(t_stat.abs() < 3.0, "ranges must not drift (t = {t_stat})"),
        }
    }
}

#[test]
fn market_wide_jumps_occur() {
    let r = run90();
    let sds: Vec<f64> = r.returns.iter().map(|x| var(x).sqrt()).collect();
    let n = r.returns[0].len();
    // A market-wide jump moves every symbol many sigmas the same way in one minute.
    let co_jumps = (0..n)
        .filter(|&t| {
            let s0 = r.returns[0][t].signum();
            (0..3).all(|i| r.returns[i][t].abs() > 6.0 * sds[i] && r.returns[i][t].signum() == s0)
        })
        .count();
    let biggest = (0..n).map(|t| r.returns[0][t].abs() / sds[0]).fold(0.0, f64::max);
    eprintln!("{co_jumps} joint ≥6σ minutes; largest BTC move {biggest:.1}σ");
    // 3 market jumps a week for 13 weeks, plus GARCH tails.
    assert!(co_jumps >= 10, "{co_jumps}");
    assert!(biggest > 10.0, "{biggest}");
}

#[test]
fn funding_stays_bounded_moves_and_leans_with_the_trend() {
    let r = run90();
    for (i, fr) in r.funding.iter().enumerate() {
        let (lo, hi) = fr.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        let m = mean(fr);
        let changes = fr.windows(2).filter(|w| w[0] != w[1]).count();
        eprintln!("symbol {i}: funding in [{lo:.6}, {hi:.6}], mean {m:.6}, {changes} changes");
        assert!(lo >= -0.0075 && hi <= 0.0075);
        assert!(hi - lo > 2e-4, "funding should move");
        assert!(changes > fr.len() / 2);
        assert!((0.0..3e-4).contains(&m), "long-run funding near +0.0001, got {m}");
        let mut up = Vec::new();
        let mut down = Vec::new();
        for (t, regime) in r.regimes.iter().enumerate() {
            match regime {
                Regime::TrendUp => up.push(fr[t]),
                Regime::TrendDown => down.push(fr[t]),
                Regime::Range => {}
            }
        }
        assert!(mean(&up) > mean(&down) + 1e-4, "funding should lean with the trend");
    }
}

#[test]
fn volume_is_positive_near_its_mean_and_spikes_on_big_moves() {
    let r = run90();
    for (i, vol) in r.volumes.iter().enumerate() {
        let sd = var(&r.returns[i]).sqrt();
        let (mut big, mut small) = (Vec::new(), Vec::new());
        for (t, ret) in r.returns[i].iter().enumerate() {
            if ret.abs() > 3.0 * sd {
                big.push(vol[t + 1]);
            } else if ret.abs() < sd {
                small.push(vol[t + 1]);
            }
        }
        let ratio = mean(&big) / mean(&small);
        let avg = mean(vol) / r.volume_per_min[i];
        eprintln!("symbol {i}: mean volume {avg:.2}× configured; big-move/quiet volume {ratio:.1}");
        assert!(vol.iter().all(|&v| v > 0.0));
        assert!((0.7..1.5).contains(&avg), "{avg}");
        assert!(ratio > 2.0, "{ratio}");
    }
}

#[test]
fn prices_stay_in_a_plausible_band_over_90_days() {
    let r = run90();
    let start = [60_000.0, 3_000.0, 150.0];
    for (i, c) in r.closes.iter().enumerate() {
        let (lo, hi) = c.iter().fold((f64::MAX, 0.0_f64), |(a, b), &x| (a.min(x), b.max(x)));
        eprintln!("symbol {i}: 90-day range [{lo}, {hi}]");
        assert!(lo > start[i] / 3.0 && hi < start[i] * 3.0);
    }
}

// --- configuration -------------------------------------------------------------------------

fn field_of(err: SimError) -> String {
    match err {
        SimError::InvalidConfig { field, .. } => field,
        SimError::DuplicateSymbol { index, .. } => format!("symbols[{index}].instrument.symbol"),
    }
}

#[test]
fn bad_configs_are_errors_naming_the_field() {
    type Edit = fn(&mut SimConfig);
    let cases: Vec<(&str, Edit)> = vec![
        ("symbols", |c| c.symbols.clear()),
        ("symbols[1].instrument.symbol", |c| {
            c.symbols[1].instrument.symbol = c.symbols[0].instrument.symbol;
        }),
        ("symbols[0].start_price", |c| c.symbols[0].start_price = Decimal::ZERO),
        ("symbols[0].start_price", |c| {
            c.symbols[0].start_price = Decimal::new(-5, 0);
        }),
        ("symbols[2].start_price", |c| {
            // Fewer than 100 ticks: the path would be mostly rounding.
            c.symbols[2].start_price = Decimal::new(5, 1);
        }),
        ("symbols[1].annual_vol", |c| c.symbols[1].annual_vol = 0.0),
        ("symbols[1].annual_vol", |c| c.symbols[1].annual_vol = -0.3),
        ("symbols[1].annual_vol", |c| c.symbols[1].annual_vol = f64::NAN),
        ("symbols[1].annual_vol", |c| c.symbols[1].annual_vol = f64::INFINITY),
        ("symbols[0].beta", |c| c.symbols[0].beta = 3.5),
        ("symbols[0].beta", |c| c.symbols[0].beta = f64::NAN),
        ("symbols[2].spread_bps", |c| c.symbols[2].spread_bps = -1.0),
        ("symbols[2].spread_bps", |c| c.symbols[2].spread_bps = f64::NAN),
        ("symbols[2].volume_per_min", |c| c.symbols[2].volume_per_min = 0.0),
        ("symbols[2].volume_per_min", |c| c.symbols[2].volume_per_min = f64::NAN),
        ("symbols[2].volume_per_min", |c| {
            // Less than one lot a minute.
            c.symbols[2].volume_per_min = 0.01;
        }),
        ("symbols[0].instrument.tick_size", |c| {
            c.symbols[0].instrument.tick_size = Decimal::ZERO;
        }),
        ("symbols[0].instrument.lot_size", |c| {
            c.symbols[0].instrument.lot_size = Decimal::new(-1, 3);
        }),
        ("symbols[0].instrument.funding_interval_ms", |c| {
            c.symbols[0].instrument.funding_interval_ms = 7 * 3_600_000;
        }),
        ("step_ms", |c| c.step_ms = 9),
        ("step_ms", |c| c.step_ms = 60_001),
        ("start_ms", |c| c.start_ms = -1),
    ];
    for (field, edit) in cases {
        for mode in [SimMode::Bars, SimMode::Ticks] {
            let mut cfg = SimConfig::default_markets(1, START, mode);
            edit(&mut cfg);
            let err = SimMarket::new(cfg.clone()).err().unwrap_or_else(|| panic!("{field}: accepted {cfg:?}"));
            let msg = err.to_string();
            assert!(msg.contains(field), "message `{msg}` should name `{field}`");
            assert_eq!(field_of(err), field);
        }
    }
}

#[test]
fn the_default_markets_are_three_perpetuals() {
    let sim = market(1, SimMode::Bars);
    let names: Vec<String> = sim
        .instruments()
        .iter()
        .map(|i| {
            assert!(i.is_perp());
            i.symbol.to_string()
        })
        .collect();
    assert_eq!(names, ["BTCUSDT", "ETHUSDT", "SOLUSDT"]);
    let cfg = SimConfig::default_markets(1, START, SimMode::Ticks);
    assert_eq!(cfg.step_ms, 1_000);
    let json = serde_json::to_string(&cfg).unwrap();
    assert_eq!(serde_json::from_str::<SimConfig>(&json).unwrap(), cfg);
    assert!(json.contains("\"mode\":\"ticks\""));
}
