//! Parity of the streaming indicators with TA-Lib (the pure-Rust `ta-lib` port as the oracle).
//!
//! Every output is compared from TA-Lib's first valid index on, to 1e-9 relative (scale
//! `max(|a|, |b|, 1e-12)`), and the warm-up must be `None` exactly where TA-Lib has no value.
//! Two data sets: a seeded synthetic series generated here (the suite stands on its own), and the
//! real BTC perpetual 1m file from the shared market data (`ALPHATX_MARKET_DATA`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/market_data.rs"]
mod market_data;

use alphatx::domain::Candle;
use alphatx::indicators::{Atr, Bollinger, Ema, IndicatorSet, IndicatorValues, Macd, Rsi, Sma};
use market_data::read_shared;
use ta::Next;
use ta_lib::{Core, MAType};

const TOL: f64 = 1e-9;
const BTC_FILE: &str = "nautilus/btc-perp-20211231-20220201_1m.csv";

// ---------------------------------------------------------------- data

/// The real BTC file. A missing file fails the test, naming the path and the fix: parity on
/// real data is part of the contract, not an optional extra.
fn btc_candles() -> Vec<Candle> {
    let text = read_shared(BTC_FILE);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("timestamp,open,high,low,close,volume"));
    let candles: Vec<Candle> = lines
        .filter(|l| !l.is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 6, "bad line {line}");
            let dt: jiff::civil::DateTime = f[0].parse().expect("timestamp");
            let open_ms = dt.to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp().as_millisecond();
            let num = |s: &str| s.parse::<f64>().expect("number");
            Candle {
                open_ms,
                open: num(f[1]),
                high: num(f[2]),
                low: num(f[3]),
                close: num(f[4]),
                volume: num(f[5]),
                closed: true,
            }
        })
        .collect();
    assert_eq!(candles.len(), 45_031);
    candles
}

/// splitmix64: a tiny deterministic generator, so the synthetic series needs no dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// A seeded random walk around 100 with OHLC wicks, a flat stretch (zero changes, zero
/// deviation) and a one-way run (no losses), 3,000 bars.
fn synthetic_candles() -> Vec<Candle> {
    let mut rng = Rng(0x0A1F_A7A5_2026);
    let mut price: f64 = 100.0;
    (0..3_000)
        .map(|i| {
            let open = price;
            let close = if (1_000..1_060).contains(&i) {
                price // flat
            } else if (2_000..2_040).contains(&i) {
                price + 0.25 + rng.unit() // straight up
            } else {
                (price + rng.normal() * 0.8).max(1.0)
            };
            let high = open.max(close) + rng.unit() * 0.6;
            let low = (open.min(close) - rng.unit() * 0.6).max(0.5);
            let (high, low) = if (1_000..1_060).contains(&i) { (close, close) } else { (high, low) };
            price = close;
            Candle { open_ms: i * 60_000, open, high, low, close, volume: 1_000.0 + rng.unit() * 500.0, closed: true }
        })
        .collect()
}

// ---------------------------------------------------------------- comparison

/// TA-Lib output: values from `beg` on (input coordinates).
struct Lib {
    beg: usize,
    values: Vec<f64>,
}

fn lib(range: ta_lib::OutRange, mut out: Vec<f64>) -> Lib {
    out.truncate(range.count);
    Lib { beg: range.beg_idx, values: out }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-12)
}

/// Compares a streamed series with TA-Lib's; returns the largest relative error.
fn compare(name: &str, ours: &[Option<f64>], lib: &Lib) -> f64 {
    assert!(!lib.values.is_empty(), "{name}: TA-Lib produced nothing");
    assert_eq!(lib.beg + lib.values.len(), ours.len(), "{name}: TA-Lib covers a different range");
    let mut worst = 0.0f64;
    for (i, v) in ours.iter().enumerate() {
        if i < lib.beg {
            assert!(v.is_none(), "{name}: value at {i}, TA-Lib starts at {}", lib.beg);
            continue;
        }
        let b = lib.values[i - lib.beg];
        let a = v.unwrap_or_else(|| panic!("{name}: None at {i}, TA-Lib has {b}"));
        let e = rel(a, b);
        assert!(e <= TOL, "{name}: bar {i}: ours {a} vs TA-Lib {b} (rel {e:e})");
        worst = worst.max(e);
    }
    worst
}

fn col(candles: &[Candle], f: impl Fn(&Candle) -> f64) -> Vec<f64> {
    candles.iter().map(f).collect()
}

fn ta_ema(x: &[f64], n: i32) -> Lib {
    let mut out = vec![0.0; x.len()];
    let r = Core::new().ema(0, x.len() - 1, x, n, &mut out).unwrap();
    lib(r, out)
}

fn ta_sma(x: &[f64], n: i32) -> Lib {
    let mut out = vec![0.0; x.len()];
    let r = Core::new().sma(0, x.len() - 1, x, n, &mut out).unwrap();
    lib(r, out)
}

fn ta_rsi(x: &[f64], n: i32) -> Lib {
    let mut out = vec![0.0; x.len()];
    let r = Core::new().rsi(0, x.len() - 1, x, n, &mut out).unwrap();
    lib(r, out)
}

fn ta_atr(c: &[Candle], n: i32) -> Lib {
    let (h, l, cl) = (col(c, |c| c.high), col(c, |c| c.low), col(c, |c| c.close));
    let mut out = vec![0.0; c.len()];
    let r = Core::new().atr(0, c.len() - 1, &h, &l, &cl, n, &mut out).unwrap();
    lib(r, out)
}

fn ta_macd(x: &[f64], fast: i32, slow: i32, signal: i32) -> [Lib; 3] {
    let (mut m, mut s, mut h) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; x.len()]);
    let r = Core::new().macd(0, x.len() - 1, x, fast, slow, signal, &mut m, &mut s, &mut h).unwrap();
    [lib(r, m), lib(r, s), lib(r, h)]
}

fn ta_bbands(x: &[f64], n: i32, k: f64) -> [Lib; 3] {
    let (mut u, mut m, mut l) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; x.len()]);
    let r = Core::new().bbands(0, x.len() - 1, x, n, k, k, MAType::SMA, &mut u, &mut m, &mut l).unwrap();
    [lib(r, u), lib(r, m), lib(r, l)]
}

/// Runs the whole [`IndicatorSet`] over `candles` and checks every field against TA-Lib.
/// Returns `(name, max relative error)` per output.
fn check_set(candles: &[Candle]) -> Vec<(&'static str, f64)> {
    let mut set = IndicatorSet::new();
    let vals: Vec<IndicatorValues> = candles
        .iter()
        .map(|c| {
            set.update(c);
            set.values()
        })
        .collect();
    assert_eq!(set.rejected(), 0);
    assert_eq!(vals.last().unwrap().bars, candles.len() as u64);
    let close = col(candles, |c| c.close);
    let volume = col(candles, |c| c.volume);
    let f = |g: fn(&IndicatorValues) -> Option<f64>| vals.iter().map(g).collect::<Vec<_>>();
    let [m_line, m_signal, m_hist] = ta_macd(&close, 12, 26, 9);
    let [bb_up, bb_mid, bb_low] = ta_bbands(&close, 20, 2.0);
    vec![
        ("ema12", compare("ema12", &f(|v| v.ema12), &ta_ema(&close, 12))),
        ("ema20", compare("ema20", &f(|v| v.ema20), &ta_ema(&close, 20))),
        ("ema26", compare("ema26", &f(|v| v.ema26), &ta_ema(&close, 26))),
        ("ema50", compare("ema50", &f(|v| v.ema50), &ta_ema(&close, 50))),
        ("macd.line", compare("macd.line", &f(|v| v.macd.map(|m| m.line)), &m_line)),
        ("macd.signal", compare("macd.signal", &f(|v| v.macd.map(|m| m.signal)), &m_signal)),
        ("macd.hist", compare("macd.hist", &f(|v| v.macd.map(|m| m.hist)), &m_hist)),
        ("rsi7", compare("rsi7", &f(|v| v.rsi7), &ta_rsi(&close, 7))),
        ("rsi14", compare("rsi14", &f(|v| v.rsi14), &ta_rsi(&close, 14))),
        ("bb.upper", compare("bb.upper", &f(|v| v.bb.map(|b| b.upper)), &bb_up)),
        ("bb.middle", compare("bb.middle", &f(|v| v.bb.map(|b| b.middle)), &bb_mid)),
        ("bb.lower", compare("bb.lower", &f(|v| v.bb.map(|b| b.lower)), &bb_low)),
        ("atr3", compare("atr3", &f(|v| v.atr3), &ta_atr(candles, 3))),
        ("atr14", compare("atr14", &f(|v| v.atr14), &ta_atr(candles, 14))),
        ("volume_sma20", compare("volume_sma20", &f(|v| v.volume_sma20), &ta_sma(&volume, 20))),
    ]
}

fn report(data: &str, errs: &[(&str, f64)]) {
    for (name, e) in errs {
        eprintln!("{data}: {name:<13} max rel err {e:.3e}");
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn indicator_set_matches_talib_on_synthetic_data() {
    let candles = synthetic_candles();
    let errs = check_set(&candles);
    report("synthetic", &errs);
}

#[test]
fn indicator_set_matches_talib_on_real_btc_data() {
    let candles = btc_candles();
    let errs = check_set(&candles);
    report("btc-1m", &errs);
}

/// Other periods than the standard set's, so the conventions are not tuned to 12/26/9 etc.
#[test]
fn other_periods_match_talib_on_synthetic_data() {
    let candles = synthetic_candles();
    let close = col(&candles, |c| c.close);
    let stream =
        |mut step: Box<dyn FnMut(f64) -> Option<f64>>| -> Vec<Option<f64>> { close.iter().map(|&x| step(x)).collect() };
    for n in [1usize, 2, 3, 9, 100] {
        let mut e = Ema::new(n).unwrap();
        compare("ema", &stream(Box::new(move |x| e.next(x))), &ta_ema(&close, n as i32));
        let mut s = Sma::new(n).unwrap();
        compare("sma", &stream(Box::new(move |x| s.next(x))), &ta_sma(&close, n as i32));
        let mut a = Atr::new(n).unwrap();
        let ours: Vec<_> = candles.iter().map(|c| a.next(c)).collect();
        compare("atr", &ours, &ta_atr(&candles, n as i32));
    }
    for n in [2usize, 3, 21, 100] {
        let mut r = Rsi::new(n).unwrap();
        compare("rsi", &stream(Box::new(move |x| r.next(x))), &ta_rsi(&close, n as i32));
        for k in [1.0, 2.5] {
            let mut b = Bollinger::new(n, k).unwrap();
            let ours: Vec<_> = close.iter().map(|&x| b.next(x)).collect();
            let [u, m, l] = ta_bbands(&close, n as i32, k);
            compare("bb.upper", &ours.iter().map(|v| v.map(|b| b.upper)).collect::<Vec<_>>(), &u);
            compare("bb.middle", &ours.iter().map(|v| v.map(|b| b.middle)).collect::<Vec<_>>(), &m);
            compare("bb.lower", &ours.iter().map(|v| v.map(|b| b.lower)).collect::<Vec<_>>(), &l);
        }
    }
    for (fast, slow, signal) in [(2usize, 3usize, 1usize), (5, 35, 5), (12, 26, 9), (3, 10, 16)] {
        let mut m = Macd::new(fast, slow, signal).unwrap();
        let ours: Vec<_> = close.iter().map(|&x| m.next(x)).collect();
        let [line, sig, hist] = ta_macd(&close, fast as i32, slow as i32, signal as i32);
        compare("macd.line", &ours.iter().map(|v| v.map(|m| m.line)).collect::<Vec<_>>(), &line);
        compare("macd.signal", &ours.iter().map(|v| v.map(|m| m.signal)).collect::<Vec<_>>(), &sig);
        compare("macd.hist", &ours.iter().map(|v| v.map(|m| m.hist)).collect::<Vec<_>>(), &hist);
    }
}

/// Bad inputs interleaved with the real series change nothing: the streamed values with NaN and
/// infinities sprinkled in are exactly the clean ones.
#[test]
fn non_finite_inputs_do_not_disturb_parity() {
    let candles = synthetic_candles();
    let mut clean = IndicatorSet::new();
    let mut dirty = IndicatorSet::new();
    let mut ema = Ema::new(12).unwrap();
    let mut ema_clean = Ema::new(12).unwrap();
    for (i, c) in candles.iter().enumerate() {
        if i % 7 == 3 {
            let mut bad = *c;
            bad.close = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][i % 3];
            dirty.update(&bad);
            ema.next(bad.close);
        }
        clean.update(c);
        dirty.update(c);
        assert_eq!(ema.next(c.close), ema_clean.next(c.close));
        assert_eq!(clean.values(), dirty.values(), "bar {i}");
    }
    assert_eq!(dirty.rejected(), (candles.len() as u64).div_ceil(7));
    assert_eq!(ema.rejected(), dirty.rejected());
}

/// Known invariant of the real file: EMA(12) crosses above EMA(26) 833 times.
#[test]
fn ema_12_26_up_crosses_on_real_btc_data() {
    let candles = btc_candles();
    let mut fast = Ema::new(12).unwrap();
    let mut slow = Ema::new(26).unwrap();
    let mut prev: Option<(f64, f64)> = None;
    let (mut up, mut down) = (0, 0);
    for c in &candles {
        let (f, s) = (fast.next(c.close), slow.next(c.close));
        if let (Some(f), Some(s)) = (f, s) {
            if let Some((pf, ps)) = prev {
                if pf <= ps && f > s {
                    up += 1;
                }
                if pf >= ps && f < s {
                    down += 1;
                }
            }
            prev = Some((f, s));
        }
    }
    assert_eq!(up, 833, "up-crosses");
    assert!((down as i64 - up as i64).abs() <= 1, "down-crosses {down} vs up {up}");
}
