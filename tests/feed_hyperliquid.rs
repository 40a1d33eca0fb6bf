//! The Hyperliquid feed against loopback fakes speaking Hyperliquid's formats (subscriptions,
//! `{"method":"ping"}` keep-alives, candles without a close flag, `POST /info`), and its
//! decoders on the real recorded responses in the shared market-data folder.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod feed_support;
#[path = "support/market_data.rs"]
mod market_data;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use rust_decimal::Decimal;
use rust_decimal::dec;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use alphatx::domain::{Bar, MarketData, Timeframe};
use alphatx::engine::FeedState;
use alphatx::market::hyperliquid::Hyperliquid;
use alphatx::market::hyperliquid::decode::{self, CoinMap, Parsed};
use alphatx::market::live::{FeedStart, HttpSettings, Venue, WsItem, run_feed};
use feed_support::*;
use market_data::read_shared;

const WAIT: Duration = Duration::from_secs(15);

fn http() -> HttpSettings {
    HttpSettings { no_proxy: true, ..HttpSettings::default() }
}

fn trades(coin: &str, tid: u64, px: Decimal, time: i64) -> String {
    format!(
        r#"{{"channel":"trades","data":[{{"coin":"{coin}","side":"A","px":"{px}","sz":"0.01","hash":"0x01","time":{time},"tid":{tid},"users":["0xa","0xb"]}}]}}"#
    )
}

fn book(coin: &str, bid: Decimal, ask: Decimal, time: i64) -> String {
    format!(
        r#"{{"channel":"l2Book","data":{{"coin":"{coin}","levels":[[{{"px":"{bid}","sz":"1.5","n":2}}],[{{"px":"{ask}","sz":"0.5","n":1}}]],"time":{time}}}}}"#
    )
}

fn candle(coin: &str, b: &Bar) -> String {
    format!(r#"{{"channel":"candle","data":{}}}"#, hl_candle_json(coin, b))
}

/// Reads client frames until `n` subscriptions arrived; acknowledges each like Hyperliquid.
async fn expect_subscriptions(conn: &mut ServerWs, n: usize) -> Vec<serde_json::Value> {
    let mut subs = Vec::new();
    while subs.len() < n {
        let msg = tokio::time::timeout(WAIT, conn.next()).await.expect("subscriptions").unwrap().unwrap();
        let Message::Text(t) = msg else { continue };
        let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
        if v["method"] == "subscribe" {
            let ack = format!(r#"{{"channel":"subscriptionResponse","data":{t}}}"#);
            send(conn, ack).await;
            subs.push(v["subscription"].clone());
        }
    }
    subs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candles_close_on_the_next_candle_or_after_the_grace_and_reconnects_backfill() {
    let ex = Arc::new(Exchange::default());
    let t0 = base_minute();
    ex.close_until(t0);
    let rest = hyperliquid_rest(ex.clone()).await;
    let mut ws = WsFake::start().await;
    let btc = sym("BTCUSDT");
    let mut venue = Hyperliquid::new(&rest, &format!("{}/ws", ws.url), vec![btc], &http())
        .unwrap()
        .with_ping_interval(Duration::from_millis(300));
    let instruments = venue.load_instruments().await.unwrap();
    assert_eq!((instruments[0].base.as_str(), instruments[0].quote.as_str()), ("BTC", "USDC"));
    assert_eq!((instruments[0].max_leverage, instruments[0].lot_size), (dec!(40), dec!(0.00001)));
    let history = venue.closed_bars(btc, t0 - 300 * MIN, jiff::Timestamp::now().as_millisecond()).await.unwrap();
    assert_eq!(history.len(), 300);

    let (tx, rx) = mpsc::channel(4096);
    let mut h = Harness::new(driver_for(instruments), rx);
    h.warm_up(btc, &history);
    let warm = h.market(btc).series.values(Timeframe::M1).bars;
    let mut settings = fast_settings();
    settings.context_poll = Duration::from_millis(300);
    let shutdown = CancellationToken::new();
    let start = FeedStart { last_bar_open: vec![(btc, Some(t0 - MIN))], seed: 3 };
    let feed = tokio::spawn(run_feed(Arc::new(venue), settings, start, tx, shutdown.clone()));

    let (mut conn, path) = ws.next_conn(WAIT).await;
    assert_eq!(path, "/ws");
    let subs = expect_subscriptions(&mut conn, 4).await;
    let kinds: Vec<&str> = subs.iter().map(|s| s["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["trades", "l2Book", "candle", "activeAssetCtx"]);
    assert!(subs.iter().all(|s| s["coin"] == "BTC"), "BTCUSDT is the BTC coin");
    assert_eq!(subs[2]["interval"], "1m");
    h.pump_until(WAIT, "the first backfill done", |h| h.is_live()).await;

    // Minute 0: two updates of the forming candle; minute 1 starts, so minute 0 is final.
    let b0 = bar_at("BTCUSDT", t0);
    let mut early = b0;
    early.close = b0.open;
    early.high = b0.open.max(b0.low);
    send(&mut conn, trades("BTC", 77, b0.close, t0 + 1_000)).await;
    send(&mut conn, book("BTC", b0.close - dec!(1), b0.close + dec!(1), t0 + 1_001)).await;
    send(&mut conn, candle("BTC", &early)).await;
    send(&mut conn, candle("BTC", &b0)).await;
    ex.close_until(t0 + MIN);
    let b1 = bar_at("BTCUSDT", t0 + MIN);
    send(&mut conn, candle("BTC", &b1)).await;
    // Minute 1 gets no successor: it is closed by the grace timer (its minute is long over).
    h.pump_until(WAIT, "minutes 0 and 1", |h| h.bar_opens(btc).len() >= 2).await;
    assert_eq!(h.bar_opens(btc), vec![t0, t0 + MIN]);
    let closes: Vec<Decimal> = h
        .events
        .iter()
        .filter_map(|e| match e.data {
            MarketData::Bar(b) => Some(b.close),
            _ => None,
        })
        .collect();
    assert_eq!(closes, vec![b0.close, b1.close], "the last update of a candle is the one kept");
    let m = h.market(btc);
    assert_eq!(m.series.values(Timeframe::M1).bars, warm + 2);
    assert_eq!(m.last, Some(b1.close), "trades and then the newest bar set the last price");
    assert_eq!((m.bid, m.ask), (Some(b0.close - dec!(1)), Some(b0.close + dec!(1))));
    h.pump_until(WAIT, "context from REST", |h| h.market(btc).open_interest.is_some()).await;
    let m = h.market(btc);
    assert_eq!(m.open_interest, Some(HL_OPEN_INTEREST.parse().unwrap()));
    assert_eq!(m.funding_rate, Some(HL_FUNDING.parse().unwrap()));

    // The keep-alive: Hyperliquid's application ping, answered by {"channel":"pong"}.
    let ping = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(Ok(Message::Text(t))) = conn.next().await
                && t.as_str() == r#"{"method":"ping"}"#
            {
                return true;
            }
        }
    })
    .await
    .unwrap();
    assert!(ping);
    send(&mut conn, r#"{"channel":"pong"}"#.to_owned()).await;

    // Abrupt loss; three minutes close meanwhile and come back over candleSnapshot.
    drop(conn);
    ex.close_until(t0 + 5 * MIN);
    let (mut conn2, _) = ws.next_conn(WAIT).await;
    expect_subscriptions(&mut conn2, 4).await;
    h.pump_until(WAIT, "the backfill after the reconnect", |h| h.bar_opens(btc).len() >= 5).await;
    let b5 = bar_at("BTCUSDT", t0 + 5 * MIN);
    send(&mut conn2, candle("BTC", &b5)).await;
    ex.close_until(t0 + 6 * MIN);
    send(&mut conn2, candle("BTC", &bar_at("BTCUSDT", t0 + 6 * MIN))).await;
    h.pump_until(WAIT, "minute 5 after the reconnect", |h| h.bar_opens(btc).len() >= 6).await;
    assert_eq!(h.bar_opens(btc), (0..6).map(|k| t0 + k * MIN).collect::<Vec<_>>(), "no duplicate, no hole");
    assert!(ex.count("candleSnapshot") >= 2);
    assert_eq!(h.driver.engine.counters().rejected_events, 0);
    h.pump_until(WAIT, "LIVE after the reconnect", |h| h.is_live()).await;
    assert_eq!(h.last_status().stats.reconnects, 1);
    assert_eq!(h.last_status().source, "hyperliquid");
    shutdown.cancel();
    feed.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_is_stale_and_bad_frames_are_counted() {
    let ex = Arc::new(Exchange::default());
    ex.close_until(base_minute());
    let rest = hyperliquid_rest(ex.clone()).await;
    let mut ws = WsFake::start().await;
    let btc = sym("BTCUSDT");
    let mut venue = Hyperliquid::new(&rest, &ws.url, vec![btc], &http()).unwrap();
    let instruments = venue.load_instruments().await.unwrap();
    let (tx, rx) = mpsc::channel(1024);
    let mut h = Harness::new(driver_for(instruments), rx);
    let shutdown = CancellationToken::new();
    let feed = tokio::spawn(run_feed(Arc::new(venue), fast_settings(), FeedStart::default(), tx, shutdown.clone()));
    let (mut conn, _) = ws.next_conn(WAIT).await;
    expect_subscriptions(&mut conn, 4).await;
    for bad in [
        "garbage",
        r#"{"channel":"trades","data":[{"coin":"DOGE","side":"B","px":"1","sz":"1","time":1,"tid":1}]}"#,
        r#"{"channel":"l2Book","data":{"coin":"BTC","levels":[[{"px":"2","sz":"1"}],[{"px":"1","sz":"1"}]],"time":1}}"#,
        r#"{"channel":"error","data":"Invalid subscription"}"#,
    ] {
        send(&mut conn, bad.to_owned()).await;
    }
    send(&mut conn, trades("BTC", 5, dec!(60000), 1_700_000_000_000)).await;
    send(&mut conn, trades("BTC", 5, dec!(60000), 1_700_000_000_000)).await; // duplicate tid
    send(&mut conn, trades("BTC", 6, dec!(60001), 1_699_999_999_000)).await; // older
    h.pump_until(WAIT, "garbage counted", |h| h.statuses.last().is_some_and(|s| s.stats.bad_messages >= 6)).await;
    assert_eq!(h.last_status().stats.bad_messages, 6);
    h.pump_until(WAIT, "stale after silence", |h| h.last_status().stale.contains(&btc)).await;
    assert!(h.market(btc).stale_since_ms.is_some());
    send(&mut conn, trades("BTC", 7, dec!(60002), 1_700_000_001_000)).await;
    h.pump_until(WAIT, "fresh again", |h| h.is_live()).await;
    assert!(h.market(btc).stale_since_ms.is_none());
    assert_eq!(h.market(btc).last, Some(dec!(60002)));
    assert_eq!(h.last_status().stats.reconnects, 0);
    assert_eq!(h.last_status().state, FeedState::Live);
    assert!(ex.count("metaAndAssetCtxs") >= 1);
    assert!(!ex.down.load(Ordering::SeqCst));
    shutdown.cancel();
    feed.await.unwrap();
}

#[test]
fn recorded_candle_snapshot_decodes_to_the_recorded_values() {
    let text = read_shared("hyperliquid/info_candleSnapshot_kPEPE_1h.json");
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    let response = file["response"].to_string();
    let candles: Vec<decode::Candle> = serde_json::from_str(&response).unwrap();
    assert_eq!(candles.len(), 24);
    let first = &candles[0];
    assert_eq!(
        (first.coin, first.interval, first.open_ms, first.close_ms),
        ("kPEPE", "1h", 1684699200000, Some(1684702799999))
    );
    assert_eq!(
        (first.open, first.high, first.low, first.close, first.volume),
        (dec!(0.001601), dec!(0.001616), dec!(0.001601), dec!(0.001604), dec!(520665683.0))
    );
    // Re-encoded as the 1m candle stream frames Hyperliquid sends, every real candle decodes to
    // exactly its recorded values.
    let coins = CoinMap::new(vec![("kPEPE".into(), sym("kPEPE"))]);
    for c in &candles {
        let raw = &file["response"].as_array().unwrap().iter().find(|r| r["t"] == c.open_ms).unwrap().clone();
        let mut one = raw.clone();
        one["i"] = "1m".into();
        let frame = format!(r#"{{"channel":"candle","data":{one}}}"#);
        let mut out = Vec::new();
        decode::decode_frame(&frame, &coins, 0, &mut out).unwrap();
        let [WsItem::Candle { bar, .. }] = out.as_slice() else { panic!("{out:?}") };
        assert_eq!(
            (bar.open_ms, bar.open, bar.high, bar.low, bar.close, bar.volume),
            (c.open_ms, c.open, c.high, c.low, c.close, c.volume)
        );
    }
}

#[test]
fn recorded_books_give_their_best_levels() {
    for (file, coin, bid, ask, bid_sz, ask_sz, time) in [
        ("hyperliquid/info_l2Book_DYDX.json", "DYDX", dec!(2.111), None, dec!(134.4), None, Some(1689630203930)),
        (
            "hyperliquid/nautilus_http_l2_book_btc.json",
            "BTC",
            dec!(110427.0),
            Some(dec!(110428.0)),
            dec!(4.11882),
            Some(dec!(3.72573)),
            Some(1761786491067),
        ),
    ] {
        let text = read_shared(file);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let data = if v.get("response").is_some() { v["response"].clone() } else { v };
        let frame = format!(r#"{{"channel":"l2Book","data":{data}}}"#);
        let Parsed::Book(parsed) = decode::parse_frame(&frame).unwrap() else { panic!() };
        assert_eq!(parsed.coin, coin);
        let coins = CoinMap::new(vec![(coin.to_owned(), sym(coin))]);
        let mut out = Vec::new();
        decode::decode_frame(&frame, &coins, 5, &mut out).unwrap();
        let [WsItem::Market { event, .. }] = out.as_slice() else { panic!("{out:?}") };
        assert_eq!(Some(event.ts_ms), time);
        let MarketData::Quote { bid: b, ask: a, bid_qty, ask_qty } = event.data else { panic!() };
        assert_eq!((b, bid_qty), (bid, bid_sz));
        let best_ask: Decimal = data["levels"][1][0]["px"].as_str().unwrap().parse().unwrap();
        assert_eq!(a, ask.unwrap_or(best_ask));
        if let Some(s) = ask_sz {
            assert_eq!(ask_qty, s);
        }
        assert!(a > b, "the recorded book is not crossed");
    }
}
