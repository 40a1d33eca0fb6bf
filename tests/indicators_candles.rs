//! `CandleSeries`: multi-timeframe candles from trades and from 1m bars, their closing rules,
//! rejections, history bounds and the indicators kept per timeframe.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/market_data.rs"]
mod market_data;

use alphatx::domain::{Candle, Timeframe};
use alphatx::indicators::IndicatorSet;
use alphatx::market::candles::{CandleError, CandleInput, CandleSeries, Closed};
use proptest::prelude::*;

use Timeframe::{D1, H1, H4, M1, M5, M15};
use market_data::read_shared;

/// 2022-01-01T00:00:00Z: a UTC midnight, so every timeframe's bucket starts here.
const T0: i64 = 1_640_995_200_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

fn bar(open_ms: i64, open: f64, high: f64, low: f64, close: f64, volume: f64) -> Candle {
    Candle { open_ms, open, high, low, close, volume, closed: true }
}

/// A well-formed bar whose prices follow `i`.
fn bar_at(open_ms: i64, i: i64) -> Candle {
    let p = 100.0 + (i % 37) as f64 + (i as f64 * 0.3).sin();
    bar(open_ms, p, p + 1.5, p - 1.0, p + 0.5, 10.0 + (i % 5) as f64)
}

/// What a refused event's error must look like.
type Expect = fn(&CandleError) -> bool;

fn closed_list(c: Closed) -> Vec<Timeframe> {
    c.iter().collect()
}

/// Everything observable about a series except its rejection counter, to check that a refused
/// event changed nothing.
fn snapshot(s: &CandleSeries) -> String {
    let mut out = format!("{:?} {:?} |", s.input(), s.last_price());
    for tf in Timeframe::ALL {
        out += &format!(
            "{tf}: {:?} {:?} {} {:?} {} |",
            s.forming(tf),
            s.last_closed(tf),
            s.history(tf).len(),
            s.values(tf),
            s.value_history(tf).len()
        );
    }
    out
}

/// Plain batch aggregation: group by bucket, first open, max high, min low, last close, summed
/// volume (summed in input order, as the series does).
fn naive(candles: &[Candle], tf: Timeframe) -> Vec<Candle> {
    let mut out: Vec<Candle> = Vec::new();
    for c in candles {
        let b = tf.bucket_start(c.open_ms);
        match out.last_mut() {
            Some(last) if last.open_ms == b => {
                last.high = last.high.max(c.high);
                last.low = last.low.min(c.low);
                last.close = c.close;
                last.volume += c.volume;
            }
            _ => out.push(Candle { open_ms: b, closed: true, ..*c }),
        }
    }
    out
}

/// Closed history plus the forming candle (marked closed for comparison).
fn built(s: &CandleSeries, tf: Timeframe) -> Vec<Candle> {
    let mut v: Vec<Candle> = s.history(tf).copied().collect();
    if let Some(f) = s.forming(tf) {
        assert!(!f.closed);
        v.push(Candle { closed: true, ..*f });
    }
    v
}

// ---------------------------------------------------------------- trades

#[test]
fn trades_build_the_1m_candle_and_a_later_minute_closes_it() {
    let mut s = CandleSeries::new(100);
    assert_eq!(s.input(), None);
    assert!(s.on_trade(T0 + 10_000, 100.0, 1.0).unwrap().is_empty());
    assert!(s.on_trade(T0 + 20_000, 103.0, 2.0).unwrap().is_empty());
    assert!(s.on_trade(T0 + 59_999, 99.0, 0.5).unwrap().is_empty());
    assert_eq!(s.input(), Some(CandleInput::Trades));
    let forming = bar(T0, 100.0, 103.0, 99.0, 99.0, 3.5);
    for tf in Timeframe::ALL {
        let f = s.forming(tf).unwrap();
        assert_eq!(*f, Candle { closed: false, ..forming }, "{tf}");
        assert_eq!(s.last_closed(tf), None);
        assert_eq!(s.values(tf).bars, 0);
    }

    let closed = s.on_trade(T0 + MIN, 101.0, 1.0).unwrap();
    assert_eq!(closed_list(closed), vec![M1]);
    assert_eq!(s.last_closed(M1), Some(&forming));
    assert_eq!(s.history(M1).len(), 1);
    assert_eq!(s.forming(M1).unwrap().open_ms, T0 + MIN);
    assert_eq!(s.forming(M1).unwrap().open, 101.0);
    let m5 = s.forming(M5).unwrap();
    assert_eq!((m5.open_ms, m5.open, m5.high, m5.low, m5.close), (T0, 100.0, 103.0, 99.0, 101.0));
    assert_eq!(m5.volume, 4.5);
    let v = s.values(M1);
    assert_eq!((v.bars, v.open_ms, v.close, v.volume), (1, T0, 99.0, 3.5));
    assert_eq!(s.values(M5).bars, 0);
    assert_eq!(s.last_price(), Some(101.0));
}

#[test]
fn a_trade_closes_every_timeframe_whose_bucket_changed() {
    let mut s = CandleSeries::new(10);
    s.on_trade(T0 + 4 * MIN + 1, 10.0, 1.0).unwrap();
    let steps = [
        (T0 + 5 * MIN, vec![M1, M5]),
        (T0 + 5 * MIN + 59_000, vec![]),
        (T0 + 15 * MIN, vec![M1, M5, M15]),
        (T0 + HOUR, vec![M1, M5, M15, H1]),
        (T0 + 4 * HOUR + 30_000, vec![M1, M5, M15, H1, H4]),
        (T0 + DAY, vec![M1, M5, M15, H1, H4, D1]),
    ];
    for (ts, expect) in steps {
        let closed = s.on_trade(ts, 10.0, 1.0).unwrap();
        assert_eq!(closed_list(closed), expect, "trade at {}", ts - T0);
        assert_eq!(closed.len(), expect.len());
    }
    let d = s.last_closed(D1).unwrap();
    assert_eq!((d.open_ms, d.volume), (T0, 6.0));
}

#[test]
fn quiet_minutes_get_no_synthetic_candles() {
    let mut s = CandleSeries::new(10);
    s.on_trade(T0 + 10_000, 50.0, 1.0).unwrap();
    let closed = s.on_trade(T0 + 7 * MIN + 5_000, 52.0, 2.0).unwrap();
    assert_eq!(closed_list(closed), vec![M1, M5]);
    assert_eq!(s.history(M1).len(), 1);
    assert_eq!(s.history(M1).next().unwrap().open_ms, T0);
    assert_eq!(s.history(M5).len(), 1);
    let f = s.forming(M5).unwrap();
    assert_eq!((f.open_ms, f.open, f.volume), (T0 + 5 * MIN, 52.0, 2.0));
    assert_eq!(s.forming(M1).unwrap().open_ms, T0 + 7 * MIN);
}

#[test]
fn late_trades_are_refused_and_change_nothing() {
    let mut s = CandleSeries::new(10);
    s.on_trade(T0 + 10_000, 100.0, 1.0).unwrap();
    s.on_trade(T0 + 70_000, 101.0, 1.0).unwrap();
    // Within the current minute, an earlier timestamp is fine (exchange clocks jitter).
    s.on_trade(T0 + 65_000, 102.0, 1.0).unwrap();
    let before = snapshot(&s);
    let err = s.on_trade(T0 + 59_000, 99.0, 1.0).unwrap_err();
    assert_eq!(err, CandleError::Late { ts_ms: T0 + 59_000, bucket_ms: T0, open_from_ms: T0 + MIN });
    assert_eq!(
        err.to_string(),
        "late trade at 2022-01-01T00:00:59Z: its 1m bucket 2022-01-01T00:00:00Z is already \
         closed (open buckets start at 2022-01-01T00:01:00Z)"
    );
    assert_eq!(s.rejected(), 1);
    assert_eq!(snapshot(&s), before);

    // A minute that was skipped over is behind as well.
    s.on_trade(T0 + 5 * MIN, 103.0, 1.0).unwrap();
    assert!(matches!(
        s.on_trade(T0 + 3 * MIN, 1.0, 1.0),
        Err(CandleError::Late { bucket_ms, .. }) if bucket_ms == T0 + 3 * MIN
    ));
    assert_eq!(s.rejected(), 2);
}

#[test]
fn bad_trades_are_refused() {
    let mut s = CandleSeries::new(10);
    let cases: Vec<(i64, f64, f64, Expect)> = vec![
        (T0, f64::NAN, 1.0, |e| matches!(e, CandleError::NonFinite { what: "trade price", .. })),
        (T0, f64::INFINITY, 1.0, |e| matches!(e, CandleError::NonFinite { .. })),
        (T0, 1.0, f64::NEG_INFINITY, |e| matches!(e, CandleError::NonFinite { what: "trade quantity", .. })),
        (T0, 0.0, 1.0, |e| matches!(e, CandleError::NonPositivePrice { .. })),
        (T0, -5.0, 1.0, |e| matches!(e, CandleError::NonPositivePrice { .. })),
        (T0, 5.0, -1.0, |e| matches!(e, CandleError::NegativeVolume { .. })),
        (T0, 1e90, 1.0, |e| matches!(e, CandleError::OutOfRange { .. })),
        (-1, 5.0, 1.0, |e| matches!(e, CandleError::Timestamp { ts_ms: -1 })),
        (i64::MAX, 5.0, 1.0, |e| matches!(e, CandleError::Timestamp { .. })),
        (i64::MIN, 5.0, 1.0, |e| matches!(e, CandleError::Timestamp { .. })),
    ];
    let n = cases.len() as u64;
    for (ts, price, qty, is) in cases {
        let e = s.on_trade(ts, price, qty).unwrap_err();
        assert!(is(&e), "{ts} {price} {qty}: {e:?}");
    }
    assert_eq!(s.rejected(), n);
    assert_eq!(s.input(), None);
    assert!(Timeframe::ALL.iter().all(|tf| s.forming(*tf).is_none()));
    assert_eq!(s.last_price(), None);
    let e = s.on_trade(T0 + 1_500, f64::NAN, 1.0).unwrap_err();
    assert_eq!(e.to_string(), "trade price at 2022-01-01T00:00:01.5Z is not a finite number (NaN)");
}

// ---------------------------------------------------------------- the clock

#[test]
fn on_time_closes_quiet_buckets_and_they_stay_closed() {
    let mut s = CandleSeries::new(10);
    assert!(s.on_time(T0).is_empty(), "nothing before any event");
    s.on_trade(T0 + 10_000, 100.0, 1.0).unwrap();
    assert!(s.on_time(T0 + MIN - 1).is_empty());
    assert_eq!(closed_list(s.on_time(T0 + MIN)), vec![M1]);
    assert_eq!(s.forming(M1), None);
    assert_eq!(s.last_closed(M1).unwrap().close, 100.0);
    assert_eq!(s.values(M1).bars, 1);
    assert!(s.forming(M5).is_some());
    assert!(s.on_time(T0 + MIN).is_empty(), "a closed bucket stays closed");
    assert!(s.on_time(T0 + 30_000).is_empty(), "the clock going back changes nothing");

    assert!(matches!(s.on_trade(T0 + 30_000, 1.0, 1.0), Err(CandleError::Late { .. })));
    // The next minute opens without closing anything (1m is already closed).
    assert!(s.on_trade(T0 + MIN + 30_000, 104.0, 2.0).unwrap().is_empty());
    assert_eq!(s.forming(M1).unwrap().open_ms, T0 + MIN);

    assert_eq!(closed_list(s.on_time(T0 + 5 * MIN)), vec![M1, M5]);
    let m5 = s.last_closed(M5).unwrap();
    assert_eq!((m5.open, m5.high, m5.close, m5.volume), (100.0, 104.0, 104.0, 3.0));
    assert_eq!(closed_list(s.on_time(T0 + DAY)), vec![M15, H1, H4, D1]);
    assert!(Timeframe::ALL.iter().all(|tf| s.forming(*tf).is_none()));
    assert!(s.on_time(i64::MAX).is_empty());
    assert!(s.on_time(-5).is_empty());
}

#[test]
fn on_time_closes_minutes_that_never_had_a_trade() {
    let mut s = CandleSeries::new(10);
    s.on_trade(T0 + 10_000, 100.0, 1.0).unwrap();
    s.on_time(T0 + 3 * MIN + 1);
    // Minute 2 ended before the clock's `now`: too late to open it now.
    assert!(matches!(s.on_trade(T0 + 2 * MIN + 5_000, 1.0, 1.0), Err(CandleError::Late { .. })));
    // Minute 3 is still open.
    assert!(s.on_trade(T0 + 3 * MIN + 5_000, 101.0, 1.0).is_ok());
}

#[test]
fn on_time_does_nothing_to_bar_built_candles() {
    let mut s = CandleSeries::new(10);
    s.on_bar(&bar_at(T0, 0)).unwrap();
    let before = snapshot(&s);
    assert!(s.on_time(T0 + DAY).is_empty());
    assert_eq!(snapshot(&s), before);
    // The delayed bar that ends the 5m bucket still closes it.
    for i in 1..5 {
        s.on_bar(&bar_at(T0 + i * MIN, i)).unwrap();
    }
    assert_eq!(s.last_closed(M5).unwrap().open_ms, T0);
}

// ---------------------------------------------------------------- bars

#[test]
fn bars_close_each_timeframe_exactly_at_its_bucket_end() {
    let mut s = CandleSeries::new(2_000);
    let bars: Vec<Candle> = (0..DAY / MIN).map(|i| bar_at(T0 + i * MIN, i)).collect();
    for (i, b) in bars.iter().enumerate() {
        let closed = s.on_bar(b).unwrap();
        let n = i as i64 + 1;
        assert!(closed.contains(M1));
        assert_eq!(closed.contains(M5), n % 5 == 0, "bar {i}");
        assert_eq!(closed.contains(M15), n % 15 == 0, "bar {i}");
        assert_eq!(closed.contains(H1), n % 60 == 0, "bar {i}");
        assert_eq!(closed.contains(H4), n % 240 == 0, "bar {i}");
        assert_eq!(closed.contains(D1), n == 1_440, "bar {i}");
        assert_eq!(s.values(M5).bars, (n / 5) as u64);
        assert_eq!(s.forming(M1), None, "bars never leave a forming 1m candle");
    }
    let expect = [(M1, 1_440), (M5, 288), (M15, 96), (H1, 24), (H4, 6), (D1, 1)];
    for (tf, n) in expect {
        assert_eq!(s.history(tf).len(), n, "{tf}");
        assert_eq!(s.forming(tf), None, "{tf}");
        assert_eq!(s.values(tf).bars, n as u64);
        assert_eq!(built(&s, tf), naive(&bars, tf), "{tf}");
    }
    let h = s.history(H1).next().unwrap();
    let first_hour = &bars[..60];
    assert_eq!(h.open, first_hour[0].open);
    assert_eq!(h.close, first_hour[59].close);
    assert_eq!(h.high, first_hour.iter().map(|b| b.high).fold(f64::MIN, f64::max));
    assert_eq!(s.last_price(), Some(bars[1_439].close));
}

#[test]
fn bar_gaps_close_the_bucket_that_was_left_without_inventing_candles() {
    let mut s = CandleSeries::new(100);
    let b = |m: i64| bar_at(T0 + m * MIN, m);
    assert_eq!(closed_list(s.on_bar(&b(0)).unwrap()), vec![M1]);
    assert_eq!(closed_list(s.on_bar(&b(1)).unwrap()), vec![M1]);
    // 00:02..00:06 are missing: 00:07 shows the 00:00 5m bucket was left.
    assert_eq!(closed_list(s.on_bar(&b(7)).unwrap()), vec![M1, M5]);
    let m5 = *s.last_closed(M5).unwrap();
    assert_eq!(m5, naive(&[b(0), b(1)], M5)[0]);
    let f = s.forming(M5).unwrap();
    assert_eq!((f.open_ms, f.open, f.volume), (T0 + 5 * MIN, b(7).open, b(7).volume));
    s.on_bar(&b(8)).unwrap();
    // 00:09 ends the 00:05 bucket.
    assert_eq!(closed_list(s.on_bar(&b(9)).unwrap()), vec![M1, M5]);
    assert_eq!(*s.last_closed(M5).unwrap(), naive(&[b(7), b(8), b(9)], M5)[0]);
    assert_eq!(s.history(M1).len(), 5);
    assert_eq!(s.history(M5).len(), 2);

    // A gap across hours: 00:58 then 02:03. The 01:00 hour gets no candle.
    s.on_bar(&b(58)).unwrap();
    let closed = s.on_bar(&b(123)).unwrap();
    assert_eq!(closed_list(closed), vec![M1, M5, M15, H1]);
    assert_eq!(s.last_closed(H1).unwrap().open_ms, T0);
    assert_eq!(s.forming(H1).unwrap().open_ms, T0 + 2 * HOUR);
    assert_eq!(s.history(H1).len(), 1);
}

#[test]
fn duplicate_and_out_of_order_bars_are_refused() {
    let mut s = CandleSeries::new(10);
    s.on_bar(&bar_at(T0 + 4 * MIN, 4)).unwrap();
    s.on_bar(&bar_at(T0 + 5 * MIN, 5)).unwrap();
    let before = snapshot(&s);
    assert_eq!(s.on_bar(&bar_at(T0 + 5 * MIN, 5)), Err(CandleError::Duplicate { open_ms: T0 + 5 * MIN }));
    let e = s.on_bar(&bar_at(T0 + 3 * MIN, 3)).unwrap_err();
    assert_eq!(e, CandleError::OutOfOrder { open_ms: T0 + 3 * MIN, last_ms: T0 + 5 * MIN });
    assert_eq!(
        e.to_string(),
        "1m bar at 2022-01-01T00:03:00Z is older than the last accepted bar, at \
         2022-01-01T00:05:00Z"
    );
    assert_eq!(s.rejected(), 2);
    assert_eq!(snapshot(&s), before, "refused bars change nothing");
}

#[test]
fn malformed_bars_are_refused() {
    let mut s = CandleSeries::new(10);
    let ok = bar(T0, 10.0, 12.0, 9.0, 11.0, 5.0);
    let cases: Vec<(Candle, Expect)> = vec![
        (Candle { open_ms: T0 + 30_000, ..ok }, |e| matches!(e, CandleError::Misaligned { .. })),
        (Candle { open_ms: -MIN, ..ok }, |e| matches!(e, CandleError::Timestamp { .. })),
        (Candle { high: 8.0, ..ok }, |e| matches!(e, CandleError::Inconsistent { reason: "high below low", .. })),
        (Candle { open: 12.5, ..ok }, |e| {
            matches!(e, CandleError::Inconsistent { reason: "open outside low..=high", .. })
        }),
        (Candle { close: 8.5, ..ok }, |e| {
            matches!(e, CandleError::Inconsistent { reason: "close outside low..=high", .. })
        }),
        (Candle { close: f64::NAN, ..ok }, |e| matches!(e, CandleError::NonFinite { what: "bar close", .. })),
        (Candle { volume: f64::INFINITY, ..ok }, |e| matches!(e, CandleError::NonFinite { what: "bar volume", .. })),
        (Candle { volume: -1.0, ..ok }, |e| matches!(e, CandleError::NegativeVolume { .. })),
        (Candle { low: 0.0, open: 0.0, ..ok }, |e| matches!(e, CandleError::NonPositivePrice { .. })),
        (Candle { high: 1e81, ..ok }, |e| matches!(e, CandleError::OutOfRange { .. })),
    ];
    let n = cases.len() as u64;
    for (b, is) in cases {
        let e = s.on_bar(&b).unwrap_err();
        assert!(is(&e), "{b:?}: {e:?}");
    }
    assert_eq!(s.rejected(), n);
    assert_eq!(s.input(), None);
    assert_eq!(s.history(M1).len(), 0);
    let e = s.on_bar(&Candle { high: 8.0, ..ok }).unwrap_err();
    assert_eq!(
        e.to_string(),
        "inconsistent 1m bar at 2022-01-01T00:00:00Z: high below low (open 10, high 8, low 9, \
         close 11)"
    );
    // The good bar is still accepted afterwards.
    assert_eq!(closed_list(s.on_bar(&ok).unwrap()), vec![M1]);
}

#[test]
fn bars_then_trades_continue_the_forming_candles() {
    let mut s = CandleSeries::new(10);
    for m in 0..7 {
        s.on_bar(&bar_at(T0 + m * MIN, m)).unwrap();
    }
    assert_eq!(s.input(), Some(CandleInput::Bars));
    let (b5, b6) = (bar_at(T0 + 5 * MIN, 5), bar_at(T0 + 6 * MIN, 6));
    // Minute 6 is covered by its bar.
    assert!(matches!(s.on_trade(T0 + 6 * MIN + 30_000, 100.0, 1.0), Err(CandleError::Late { .. })));
    assert!(s.on_trade(T0 + 7 * MIN + 10_000, 200.0, 3.0).unwrap().is_empty());
    assert_eq!(s.input(), Some(CandleInput::Trades));
    let closed = s.on_trade(T0 + 10 * MIN, 150.0, 1.0).unwrap();
    assert_eq!(closed_list(closed), vec![M1, M5]);
    let m5 = *s.last_closed(M5).unwrap();
    assert_eq!(m5.open_ms, T0 + 5 * MIN);
    assert_eq!(m5.open, b5.open);
    assert_eq!(m5.high, 200.0);
    assert_eq!(m5.low, b5.low.min(b6.low));
    assert_eq!(m5.close, 200.0);
    assert_eq!(m5.volume, b5.volume + b6.volume + 3.0);
    // The clock now applies (trades), and bars are refused.
    assert_eq!(closed_list(s.on_time(T0 + 11 * MIN)), vec![M1]);
    let before = snapshot(&s);
    assert_eq!(
        s.on_bar(&bar_at(T0 + 20 * MIN, 20)),
        Err(CandleError::InputMismatch { built_from: CandleInput::Trades, got: CandleInput::Bars })
    );
    assert_eq!(snapshot(&s), before);
    assert_eq!(s.rejected(), 2);
}

// ---------------------------------------------------------------- history and indicators

#[test]
fn history_is_a_bounded_ring_aligned_with_value_history() {
    let mut s = CandleSeries::new(3);
    for m in 0..10 {
        s.on_bar(&bar_at(T0 + m * MIN, m)).unwrap();
    }
    let opens: Vec<i64> = s.history(M1).map(|c| (c.open_ms - T0) / MIN).collect();
    assert_eq!(opens, vec![7, 8, 9]);
    let rev: Vec<i64> = s.history(M1).rev().map(|c| (c.open_ms - T0) / MIN).collect();
    assert_eq!(rev, vec![9, 8, 7]);
    let v_opens: Vec<i64> = s.value_history(M1).map(|v| (v.open_ms - T0) / MIN).collect();
    assert_eq!(v_opens, opens);
    assert_eq!(s.value_history(M1).next_back().copied(), Some(s.values(M1)));
    assert_eq!(s.values(M1).bars, 10, "indicators saw every bar, not just the kept ones");
    assert_eq!(s.history(M5).len(), 2);
    assert!(s.history(M1).all(|c| c.closed));
}

#[test]
fn each_timeframe_has_its_own_indicators_fed_with_its_closed_candles() {
    let n = 3_000;
    let mut s = CandleSeries::new(n as usize);
    for m in 0..n {
        s.on_bar(&bar_at(T0 + 7 * MIN + m * MIN, m)).unwrap();
    }
    for tf in Timeframe::ALL {
        let mut set = IndicatorSet::new();
        assert_eq!(s.history(tf).len(), s.value_history(tf).len());
        for (c, v) in s.history(tf).zip(s.value_history(tf)) {
            set.update(c);
            assert_eq!(set.values(), *v, "{tf} at {}", c.open_ms);
        }
        assert_eq!(set.values(), s.values(tf), "{tf}");
    }
    // 3,000 minutes from 00:07: 200 closed 15m candles, 50 hours, 12 four-hour candles.
    assert_eq!(s.history(H1).len(), 50);
    assert!(s.values(M15).ema50.is_some());
    assert!(s.values(H1).ema50.is_some());
    assert!(s.values(H4).ema50.is_none());
    assert!(s.values(H4).rsi7.is_some());
}

// ---------------------------------------------------------------- real data

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s}"))
}

/// Freqtrade's Binance XRP/ETH trades and the exchange's own 1m candles for the same window:
/// aggregating the trades must give the exchange's candles exactly, and the higher timeframes
/// built from trades must equal those built from the 1m bars.
#[test]
fn real_trades_aggregate_to_the_exchange_candles() {
    let trades: Vec<(i64, f64, f64)> = read_shared("freqtrade/XRP_ETH-trades.csv")
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), num(f[4]), num(f[5]))
        })
        .collect();
    let bars: Vec<Candle> = read_shared("freqtrade/XRP_ETH-1m.csv")
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            bar(f[0].parse().unwrap(), num(f[1]), num(f[2]), num(f[3]), num(f[4]), num(f[5]))
        })
        .collect();
    assert_eq!((trades.len(), bars.len()), (12_477, 2_469));

    let mut from_trades = CandleSeries::new(5_000);
    for &(ts, price, qty) in &trades {
        from_trades.on_trade(ts, price, qty).unwrap();
    }
    let last = bars.last().unwrap().open_ms;
    from_trades.on_time(Timeframe::D1.bucket_start(last) + DAY);
    assert_eq!(from_trades.rejected(), 0);
    let built_1m: Vec<Candle> = from_trades.history(M1).copied().collect();
    assert_eq!(built_1m, bars);

    let mut from_bars = CandleSeries::new(5_000);
    for b in &bars {
        from_bars.on_bar(b).unwrap();
    }
    for tf in [M5, M15, H1, H4, D1] {
        assert_eq!(built(&from_trades, tf), built(&from_bars, tf), "{tf}");
        assert_eq!(built(&from_bars, tf), naive(&bars, tf), "{tf}");
    }
    // Same closed candles, same indicator values (the trade-built series also closed its last
    // buckets through the clock, so it may have more).
    for tf in Timeframe::ALL {
        assert!(from_bars.value_history(tf).len() <= from_trades.value_history(tf).len());
        for (a, b) in from_bars.value_history(tf).zip(from_trades.value_history(tf)) {
            assert_eq!(a, b, "{tf}");
        }
    }
    assert_eq!(from_trades.values(M1), from_bars.values(M1));
}

/// The whole BTC month through `on_bar`: every timeframe equals a batch aggregation.
#[test]
fn real_btc_bars_aggregate_like_a_batch() {
    let text = read_shared("nautilus/btc-perp-20211231-20220201_1m.csv");
    let bars: Vec<Candle> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let dt: jiff::civil::DateTime = f[0].parse().unwrap();
            let ms = dt.to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp().as_millisecond();
            bar(ms, num(f[1]), num(f[2]), num(f[3]), num(f[4]), num(f[5]))
        })
        .collect();
    assert_eq!(bars.len(), 45_031);
    let mut s = CandleSeries::new(50_000);
    let mut closes = [0usize; 6];
    for b in &bars {
        for tf in s.on_bar(b).unwrap().iter() {
            closes[tf.index()] += 1;
        }
    }
    assert_eq!(s.rejected(), 0);
    for tf in Timeframe::ALL {
        let expect = naive(&bars, tf);
        assert_eq!(built(&s, tf), expect, "{tf}");
        assert_eq!(closes[tf.index()], s.history(tf).len());
    }
    // 2021-12-31 23:01 .. 2022-02-01 05:31: Dec 31 plus the 31 days of January are closed,
    // Feb 1 is still forming.
    assert_eq!(s.history(D1).len(), 32);
    assert_eq!(s.forming(D1).unwrap().open_ms, 1_643_673_600_000);
}

// ---------------------------------------------------------------- properties

/// Random 1m bars with random gaps, from a random start minute.
fn arb_bars() -> impl Strategy<Value = Vec<Candle>> {
    let step = (
        1i64..=3,
        prop_oneof![6 => Just(1i64), 2 => Just(17i64), 1 => Just(131i64)],
        0u32..2_000,
        0u32..300,
        0u32..300,
        0u32..=100,
        0u32..=100,
        0u32..100_000,
    );
    (0i64..2 * DAY / MIN, prop::collection::vec(step, 1..400)).prop_map(|(start, steps)| {
        let mut t = T0 + start * MIN;
        let mut out = Vec::with_capacity(steps.len());
        for (i, (gap, mult, base, up, down, fo, fc, vol)) in steps.into_iter().enumerate() {
            if i > 0 {
                t += gap * mult * MIN;
            }
            let p = 50.0 + base as f64 / 7.0;
            let (high, low) = (p + up as f64 / 100.0, p - down as f64 / 100.0);
            let at = |f: u32| (low + (high - low) * f as f64 / 100.0).clamp(low, high);
            out.push(bar(t, at(fo), high, low, at(fc), vol as f64 / 1_000.0));
        }
        out
    })
}

/// Random trades: increasing minute buckets with random gaps, several trades per minute.
fn arb_trades() -> impl Strategy<Value = Vec<(i64, f64, f64)>> {
    let step = (prop_oneof![3 => Just(0i64), 4 => 1i64..=3, 1 => 10i64..=400], 0i64..60_000, 1u32..5_000, 0u32..10_000);
    prop::collection::vec(step, 1..600).prop_map(|steps| {
        let mut minute = T0;
        let mut out = Vec::with_capacity(steps.len());
        for (advance, offset, price, qty) in steps {
            minute += advance * MIN;
            out.push((minute + offset, price as f64 / 10.0, qty as f64 / 100.0));
        }
        out
    })
}

proptest! {
    #[test]
    fn bars_aggregate_like_a_naive_batch(bars in arb_bars()) {
        let mut s = CandleSeries::new(1_000);
        for b in &bars {
            let closed = s.on_bar(b).unwrap();
            prop_assert!(closed.contains(M1));
        }
        let last = bars[bars.len() - 1];
        for tf in Timeframe::ALL {
            let expect = naive(&bars, tf);
            prop_assert_eq!(built(&s, tf), expect.clone(), "{}", tf);
            // The last bucket is still forming unless its last minute arrived.
            let tail = expect[expect.len() - 1];
            let ended = last.open_ms + MIN == tail.open_ms + tf.ms();
            prop_assert_eq!(s.forming(tf).is_none(), ended, "{}", tf);
            prop_assert_eq!(s.values(tf).bars as usize, s.history(tf).len());
        }
    }

    #[test]
    fn trades_aggregate_like_a_naive_batch(trades in arb_trades()) {
        let mut s = CandleSeries::new(1_000);
        for &(ts, price, qty) in &trades {
            s.on_trade(ts, price, qty).unwrap();
        }
        let last = trades[trades.len() - 1].0;
        s.on_time(D1.bucket_start(last) + DAY);
        let as_candles: Vec<Candle> = trades
            .iter()
            .map(|&(ts, price, qty)| bar(ts, price, price, price, price, qty))
            .collect();
        for tf in Timeframe::ALL {
            prop_assert!(s.forming(tf).is_none());
            let got: Vec<Candle> = s.history(tf).copied().collect();
            prop_assert_eq!(got, naive(&as_candles, tf), "{}", tf);
        }
        prop_assert_eq!(s.rejected(), 0);
    }

    /// Whatever arrives, in whatever order, nothing panics, refused events change nothing,
    /// and the candles stay well formed.
    #[test]
    fn arbitrary_events_never_break_the_invariants(
        events in prop::collection::vec(
            (0u8..3, -2i64..4_000, prop_oneof![Just(f64::NAN), Just(-1.0), 0.5f64..200.0], 0.0f64..10.0),
            1..300,
        )
    ) {
        let mut s = CandleSeries::new(50);
        for (kind, minute_ish, price, qty) in events {
            let ts = T0 + minute_ish * 15_000;
            let before = snapshot(&s);
            let rejected = s.rejected();
            let result = match kind {
                0 => s.on_trade(ts, price, qty).map(|_| ()),
                1 => {
                    let open_ms = M1.bucket_start(ts);
                    s.on_bar(&bar(open_ms, price, price + qty, price, price, qty)).map(|_| ())
                }
                _ => {
                    s.on_time(ts);
                    Ok(())
                }
            };
            if result.is_err() {
                prop_assert_eq!(s.rejected(), rejected + 1);
                prop_assert_eq!(snapshot(&s), before);
            } else {
                prop_assert_eq!(s.rejected(), rejected);
            }
            for tf in Timeframe::ALL {
                for c in s.history(tf).chain(s.forming(tf)) {
                    prop_assert!(c.low <= c.open && c.open <= c.high);
                    prop_assert!(c.low <= c.close && c.close <= c.high);
                    prop_assert!(c.volume >= 0.0 && c.low > 0.0);
                    prop_assert_eq!(c.open_ms, tf.bucket_start(c.open_ms));
                }
                let opens: Vec<i64> = s.history(tf).map(|c| c.open_ms).collect();
                prop_assert!(opens.windows(2).all(|w| w[0] < w[1]));
                if let (Some(last), Some(f)) = (s.last_closed(tf), s.forming(tf)) {
                    prop_assert!(last.open_ms < f.open_ms);
                }
            }
        }
    }
}
