//! The Binance feed against loopback fakes that speak Binance's formats: normal flow into a
//! real engine's candles and indicators, stale data on silence and recovery, reconnect with
//! backoff and REST backfill without duplicated or missing candles, holes in the stream,
//! malformed and out-of-order frames, server pings, planned reconnects and REST rate limits.
//!
//! Timing is generous (seconds where the feed needs milliseconds) and no test asserts how fast
//! anything happened: each waits, with a deadline, for the behaviour it checks.
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

use alphatx::domain::{MarketData, Symbol, Timeframe};
use alphatx::engine::FeedState;
use alphatx::market::binance::{Binance, BinanceMarket};
use alphatx::market::live::{FeedStart, HttpSettings, LiveSettings, Venue, WsItem, run_feed};
use feed_support::*;
use market_data::read_shared;

const WAIT: Duration = Duration::from_secs(15);

fn http() -> HttpSettings {
    HttpSettings { no_proxy: true, ..HttpSettings::default() }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A fake exchange with `BTCUSDT` closed up to `t0`, the venue, and a warm engine.
struct Setup {
    ex: Arc<Exchange>,
    ws: WsFake,
    venue: Option<Binance>,
    h: Harness,
    tx: Option<mpsc::Sender<alphatx::engine::runner::SourceEvent>>,
    t0: i64,
    btc: Symbol,
    warm_bars: u64,
}

async fn setup(history: i64) -> Setup {
    let ex = Arc::new(Exchange::default());
    let t0 = base_minute();
    ex.close_until(t0);
    let rest = binance_rest(ex.clone()).await;
    let ws = WsFake::start().await;
    let btc = sym("BTCUSDT");
    let venue = Binance::new(BinanceMarket::Usdm, &rest, &ws.url, vec![btc], &http()).unwrap();
    let instruments = venue.instruments().await.unwrap();
    let bars = venue.closed_bars(btc, t0 - history * MIN, now()).await.unwrap();
    assert_eq!(bars.len() as i64, history, "warm-up history");
    let (tx, rx) = mpsc::channel(4096);
    let mut h = Harness::new(driver_for(instruments), rx);
    h.warm_up(btc, &bars);
    let warm_bars = h.market(btc).series.values(Timeframe::M1).bars;
    Setup { ex, ws, venue: Some(venue), h, tx: Some(tx), t0, btc, warm_bars }
}

impl Setup {
    fn start(&mut self, settings: LiveSettings) -> (CancellationToken, tokio::task::JoinHandle<()>) {
        let shutdown = CancellationToken::new();
        let start = FeedStart { last_bar_open: vec![(self.btc, Some(self.t0 - MIN))], seed: 7 };
        let venue = Arc::new(self.venue.take().unwrap());
        let feed = tokio::spawn(run_feed(venue, settings, start, self.tx.take().unwrap(), shutdown.clone()));
        (shutdown, feed)
    }

    /// Starts the feed, accepts its connection (and the path it asked for) and waits until the
    /// connect-time backfill is done: streaming starts then, because the fake serves closed
    /// minutes at once, while a real exchange's REST lags its stream.
    async fn start_live(
        &mut self,
        settings: LiveSettings,
    ) -> (CancellationToken, tokio::task::JoinHandle<()>, ServerWs, String) {
        let (shutdown, feed) = self.start(settings);
        let (conn, path) = self.ws.next_conn(WAIT).await;
        self.h.pump_until(WAIT, "the first backfill done", |h| h.is_live()).await;
        (shutdown, feed, conn, path)
    }

    /// [`Self::start_live`], streams minutes 0–4, then resets the TCP connection without a
    /// close frame (a zero linger sends RST and never blocks).
    async fn five_minutes_then_reset(&mut self) -> (CancellationToken, tokio::task::JoinHandle<()>) {
        let (shutdown, feed, mut conn, _) = self.start_live(fast_settings()).await;
        for k in 0..5 {
            self.minute(&mut conn, k).await;
        }
        let btc = self.btc;
        self.h.pump_until(WAIT, "five bars", |h| h.bar_opens(btc).len() >= 5).await;
        #[allow(deprecated)]
        conn.get_ref().set_linger(Some(Duration::ZERO)).unwrap();
        drop(conn);
        (shutdown, feed)
    }

    /// Streams minute `k` (after `t0`): a trade, a quote, a mark, a forming kline, then the
    /// exchange closes the minute and the closed kline follows.
    async fn minute(&self, conn: &mut ServerWs, k: i64) {
        let open = self.t0 + k * MIN;
        let b = bar_at("BTCUSDT", open);
        let id = 1000 + k as u64;
        send(conn, agg_trade("BTCUSDT", id, b.close, open + 30_000)).await;
        send(conn, book_ticker("BTCUSDT", id, b.close - dec!(0.1), b.close + dec!(0.1), open + 30_001)).await;
        send(conn, mark_price("BTCUSDT", b.close, open + 30_002)).await;
        send(conn, kline("BTCUSDT", &b, false)).await;
        self.ex.close_until(open + MIN);
        send(conn, kline("BTCUSDT", &b, true)).await;
    }

    fn expected(&self, ks: std::ops::Range<i64>) -> Vec<i64> {
        ks.map(|k| self.t0 + k * MIN).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_flow_updates_candles_indicators_quotes_and_context() {
    let mut s = setup(400).await;
    let mut settings = fast_settings();
    settings.context_poll = Duration::from_millis(300);
    let (shutdown, feed, mut conn, path) = s.start_live(settings).await;
    assert_eq!(path, "/stream?streams=btcusdt@aggTrade/btcusdt@kline_1m/btcusdt@bookTicker/btcusdt@markPrice@1s");
    for k in 0..10 {
        s.minute(&mut conn, k).await;
    }
    let btc = s.btc;
    s.h.pump_until(WAIT, "ten bars and the market context", |h| {
        h.bar_opens(btc).len() >= 10
            && h.market(btc).long_short_ratio.is_some()
            && h.market(btc).open_interest.is_some()
    })
    .await;
    assert_eq!(s.h.bar_opens(btc), s.expected(0..10), "forming klines are not bars; closed ones are, once");

    let m = s.h.market(btc);
    let last = bar_at("BTCUSDT", s.t0 + 9 * MIN);
    let v = m.series.values(Timeframe::M1);
    assert_eq!(v.bars, s.warm_bars + 10);
    assert_eq!(m.series.last_closed(Timeframe::M1).unwrap().open_ms, s.t0 + 9 * MIN);
    assert_eq!(v.close, last.close.to_string().parse::<f64>().unwrap());
    assert!(v.ema20.is_some() && v.ema50.is_some() && v.rsi14.is_some() && v.atr14.is_some() && v.macd.is_some());
    assert!(m.series.values(Timeframe::M5).ema20.is_some(), "higher timeframes are aggregated from the bars");
    assert_eq!(m.last, Some(last.close), "the last trade sets the last price");
    assert_eq!((m.bid, m.ask), (Some(last.close - dec!(0.1)), Some(last.close + dec!(0.1))));
    assert!(m.mark.is_some() && m.funding_rate.is_some() && m.next_funding_ms.is_some());
    assert_eq!(m.open_interest, Some(OPEN_INTEREST.parse::<Decimal>().unwrap()));
    assert_eq!(m.long_short_ratio, Some(LONG_SHORT.parse::<Decimal>().unwrap()));
    assert_eq!(s.h.driver.engine.counters().rejected_events, 0, "the engine refused nothing the feed sent");

    // 10 minutes × 5 frames.
    s.h.pump_until(WAIT, "a LIVE status counting every frame", |h| h.is_live() && h.last_status().stats.messages >= 50)
        .await;
    let st = s.h.last_status();
    assert_eq!(st.source, "binance-usdm");
    assert_eq!((st.stats.bad_messages, st.stats.reconnects), (0, 0));
    assert!(st.stats.latency_ms.is_some() && st.stats.last_message_ms.is_some());
    let snap = s.h.driver.engine.snapshot();
    assert_eq!(snap.source.state, FeedState::Live);
    assert!(snap.markets[0].stale_since_ms.is_none());
    assert!(s.ex.count("/fapi/v1/openInterest") >= 1 && s.ex.count("globalLongShortAccountRatio") >= 1);
    shutdown.cancel();
    feed.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_without_close_frame_is_stale_then_recovers() {
    let mut s = setup(100).await;
    let (shutdown, feed, mut conn, _) = s.start_live(fast_settings()).await;
    s.minute(&mut conn, 0).await;
    let btc = s.btc;
    s.h.pump_until(WAIT, "LIVE", |h| h.is_live()).await;
    // The exchange keeps the socket open and sends nothing.
    s.h.pump_until(WAIT, "BTCUSDT stale", |h| h.last_status().stale.contains(&btc)).await;
    let st = s.h.last_status();
    assert_eq!(st.state, FeedState::Stale);
    assert!(st.detail.contains("BTCUSDT silent"), "{}", st.detail);
    assert!(s.h.market(btc).stale_since_ms.is_some(), "the engine marks the symbol stale");
    let snap = s.h.driver.engine.snapshot();
    assert!(snap.log.iter().any(|l| l.action == "BTCUSDT STALE"), "the engine says so in its log");

    s.minute(&mut conn, 1).await;
    s.h.pump_until(WAIT, "LIVE again", |h| h.is_live()).await;
    assert!(s.h.market(btc).stale_since_ms.is_none());
    assert_eq!(s.h.last_status().stats.reconnects, 0, "a short silence is not a reconnect");
    assert_eq!(s.h.bar_opens(btc), s.expected(0..2));
    shutdown.cancel();
    feed.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_past_the_idle_limit_reconnects() {
    let mut s = setup(100).await;
    let mut settings = fast_settings();
    settings.idle_reconnect = Duration::from_secs(2);
    let (shutdown, feed, mut conn, _) = s.start_live(settings).await;
    s.minute(&mut conn, 0).await;
    // Silent but open: the feed must give up on this connection by itself.
    let (mut conn2, _) = s.ws.next_conn(WAIT).await;
    s.minute(&mut conn2, 1).await;
    let btc = s.btc;
    s.h.pump_until(WAIT, "the bar after the reconnect", |h| h.bar_opens(btc).len() >= 2).await;
    s.h.pump_until(WAIT, "LIVE", |h| h.is_live()).await;
    assert_eq!(s.h.last_status().stats.reconnects, 1);
    assert!(s.h.statuses.iter().any(|st| st.state == FeedState::Disconnected && st.detail.contains("no data")));
    assert_eq!(s.h.bar_opens(btc), s.expected(0..2));
    drop(conn);
    shutdown.cancel();
    feed.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abrupt_disconnect_reconnects_and_backfills_without_duplicates_or_gaps() {
    let mut s = setup(100).await;
    let (shutdown, feed) = s.five_minutes_then_reset().await;
    let btc = s.btc;
    let klines_before = s.ex.count("/fapi/v1/klines");
    // While the feed is away the exchange closes five more minutes, and REST is down at first.
    s.ex.down.store(true, Ordering::SeqCst);
    s.ex.close_until(s.t0 + 10 * MIN);
    s.h.pump_until(WAIT, "DISCONNECTED with a retry time", |h| {
        h.statuses.iter().any(|st| st.state == FeedState::Disconnected && st.stats.next_retry_ms.is_some())
    })
    .await;
    let disc = s.h.statuses.iter().find(|st| st.state == FeedState::Disconnected).unwrap().clone();
    assert!(disc.detail.contains("reconnecting in"), "{}", disc.detail);
    assert_eq!(disc.stale, vec![btc], "no data is flowing: the symbol is stale at once");

    let (mut conn2, _) = s.ws.next_conn(WAIT).await;
    // The stream resumes with the current minutes; REST cannot fill the hole yet.
    s.minute(&mut conn2, 10).await;
    s.minute(&mut conn2, 11).await;
    s.h.pump_until(WAIT, "connected but stale while the backfill fails", |h| {
        let st = h.last_status();
        st.state == FeedState::Stale && st.detail.contains("backfilling")
    })
    .await;
    assert_eq!(s.h.bar_opens(btc), s.expected(0..5), "nothing past the hole reaches the engine");
    s.ex.down.store(false, Ordering::SeqCst);
    s.h.pump_until(WAIT, "the hole filled and the held bars released", |h| h.bar_opens(btc).len() >= 12).await;
    s.minute(&mut conn2, 12).await;
    s.h.pump_until(WAIT, "LIVE", |h| h.is_live() && h.bar_opens(btc).len() >= 13).await;

    assert_eq!(s.h.bar_opens(btc), s.expected(0..13), "every minute exactly once, in order");
    assert!(s.ex.count("/fapi/v1/klines") > klines_before, "the hole came from REST");
    let m = s.h.market(btc);
    assert_eq!(m.series.values(Timeframe::M1).bars, s.warm_bars + 13);
    assert_eq!(s.h.driver.engine.counters().rejected_events, 0);
    let st = s.h.last_status();
    // At least the one reconnect the test forced (a loaded machine may add an idle reconnect).
    assert!(st.stats.reconnects >= 1 && st.stats.bad_messages == 0, "{:?}", st.stats);
    shutdown.cancel();
    feed.await.unwrap();
}

/// After a reconnect the backfill fetches up to now and can run ahead of the stream: klines the
/// stream delivers afterwards for minutes REST already settled are overlaps, not bad messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_ahead_of_the_stream_is_not_counted_as_bad() {
    let mut s = setup(100).await;
    let (shutdown, feed) = s.five_minutes_then_reset().await;
    let btc = s.btc;
    // While the feed is away the venue closes seven more minutes; REST serves them at once.
    s.ex.close_until(s.t0 + 12 * MIN);
    let (mut conn2, _) = s.ws.next_conn(WAIT).await;
    s.h.pump_until(WAIT, "the reconnect backfill through minute 11", |h| h.bar_opens(btc).len() >= 12).await;
    // Only now does the stream deliver the closes of minutes 10 and 11, then a new minute.
    s.minute(&mut conn2, 10).await;
    s.minute(&mut conn2, 11).await;
    s.minute(&mut conn2, 12).await;
    s.h.pump_until(WAIT, "LIVE with minute 12", |h| h.is_live() && h.bar_opens(btc).len() >= 13).await;
    assert_eq!(s.h.bar_opens(btc), s.expected(0..13), "every minute exactly once, in order");
    s.h.pump_until(WAIT, "a status after minute 12", |h| h.last_status().stats.messages >= 40).await;
    assert_eq!(s.h.last_status().stats.bad_messages, 0, "{:?}", s.h.last_status().stats);
    shutdown.cancel();
    feed.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hole_in_a_live_stream_is_fetched_before_later_bars() {
    let mut s = setup(100).await;
    let (shutdown, feed, mut conn, _) = s.start_live(fast_settings()).await;
    s.minute(&mut conn, 0).await;
    s.minute(&mut conn, 1).await;
    // Minutes 2 and 3 close at the exchange but their klines never reach us.
    s.ex.close_until(s.t0 + 4 * MIN);
    s.minute(&mut conn, 4).await;
    let btc = s.btc;
    s.h.pump_until(WAIT, "bars up to minute 4", |h| h.bar_opens(btc).len() >= 5).await;
    assert_eq!(s.h.bar_opens(btc), s.expected(0..5));
    assert_eq!(s.h.last_status().stats.reconnects, 0);
    shutdown.cancel();
    feed.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_out_of_order_messages_are_counted_and_skipped() {
    let mut s = setup(100).await;
    let (shutdown, feed, mut conn, _) = s.start_live(fast_settings()).await;
    s.minute(&mut conn, 0).await;
    s.minute(&mut conn, 1).await;
    let old = bar_at("BTCUSDT", s.t0 - 30 * MIN);
    let bad = [
        "not json".to_owned(),
        r#"{"stream":"btcusdt@aggTrade","data":{"s":"BTCUSDT"}}"#.to_owned(),
        r#"{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","s":"BTCUSDT","a":5,"p":"NaN","q":"1","T":1,"m":true}}"#
            .to_owned(),
        agg_trade("BTCUSDT", 999, dec!(60000), s.t0 + MIN + 31_000), // older aggregate id than 1001
        book_ticker("BTCUSDT", 1000, dec!(1), dec!(2), s.t0 + MIN + 31_000), // older update id
        book_ticker("BTCUSDT", 5000, dec!(10), dec!(9), s.t0 + MIN + 31_000), // crossed
        kline("BTCUSDT", &old, true),                                // long settled minute
        agg_trade("XRPUSDT", 1, dec!(1), s.t0 + MIN + 31_000),       // not subscribed
        r#"{"stream":"btcusdt@depth","data":{"e":"depthUpdate"}}"#.to_owned(),
    ];
    for text in &bad {
        send(&mut conn, text.clone()).await;
    }
    {
        use futures_util::SinkExt;
        conn.send(Message::Binary(vec![1u8, 2, 3].into())).await.unwrap();
    }
    s.minute(&mut conn, 2).await;
    let btc = s.btc;
    s.h.pump_until(WAIT, "the good bar after the garbage", |h| h.bar_opens(btc).len() >= 3).await;
    s.h.pump_until(WAIT, "a status counting the garbage", |h| h.last_status().stats.bad_messages >= 10).await;
    let st = s.h.last_status();
    assert_eq!(st.stats.bad_messages, 10, "every bad frame counted once");
    assert_eq!(st.stats.reconnects, 0, "garbage never drops the connection");
    assert_eq!(s.h.bar_opens(btc), s.expected(0..3));
    let trade_ids: Vec<u64> =
        s.h.events
            .iter()
            .filter_map(|e| match e.data {
                MarketData::Trade { trade_id, .. } => Some(trade_id),
                _ => None,
            })
            .collect();
    assert_eq!(trade_ids, vec![1000, 1001, 1002], "the out-of-order trade was dropped");
    assert_eq!(s.h.driver.engine.counters().rejected_events, 0, "nothing bad reached the engine");
    shutdown.cancel();
    feed.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_pings_are_answered_with_their_payload() {
    let mut s = setup(100).await;
    let (shutdown, feed, mut conn, _) = s.start_live(fast_settings()).await;
    s.minute(&mut conn, 0).await;
    for payload in ["1672515782136", "keepalive-2"] {
        use futures_util::SinkExt;
        conn.send(Message::Ping(payload.as_bytes().to_vec().into())).await.unwrap();
        let pong = tokio::time::timeout(WAIT, async {
            loop {
                match conn.next().await {
                    Some(Ok(Message::Pong(p))) => return p,
                    Some(Ok(_)) => continue,
                    other => panic!("connection ended before the pong: {other:?}"),
                }
            }
        })
        .await
        .expect("no pong");
        assert_eq!(pong.as_ref(), payload.as_bytes());
    }
    // The connection stays healthy after the exchange of pings.
    s.minute(&mut conn, 1).await;
    let btc = s.btc;
    s.h.pump_until(WAIT, "bars", |h| h.bar_opens(btc).len() >= 2).await;
    assert_eq!(s.h.last_status().stats.reconnects, 0);
    shutdown.cancel();
    feed.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planned_reconnects_at_the_age_limit_and_on_server_shutdown_keep_every_bar() {
    let mut s = setup(100).await;
    let mut settings = fast_settings();
    settings.max_connection_age = Some(Duration::from_secs(2));
    let (shutdown, feed, mut conn, _) = s.start_live(settings).await;
    s.minute(&mut conn, 0).await;
    // A minute closes while the feed switches connections: REST must bring it.
    s.ex.close_until(s.t0 + 2 * MIN);
    let (mut conn2, _) = s.ws.next_conn(WAIT).await;
    let closed_by_client = tokio::time::timeout(WAIT, async {
        loop {
            match conn.next().await {
                Some(Ok(Message::Close(_))) | None => return true,
                Some(Ok(_)) => continue,
                Some(Err(_)) => return false,
            }
        }
    })
    .await
    .unwrap();
    assert!(closed_by_client, "a planned reconnect closes the old connection properly");
    s.minute(&mut conn2, 2).await;
    send(&mut conn2, r#"{"e":"serverShutdown","E":1}"#.to_owned()).await;
    let (mut conn3, _) = s.ws.next_conn(WAIT).await;
    s.minute(&mut conn3, 3).await;
    let btc = s.btc;
    s.h.pump_until(WAIT, "bars through minute 3", |h| h.bar_opens(btc).len() >= 4).await;
    assert_eq!(s.h.bar_opens(btc), s.expected(0..4));
    assert!(s.h.statuses.iter().any(|st| st.detail.contains("planned reconnect")));
    assert!(
        s.h.statuses.iter().all(|st| st.state != FeedState::Disconnected),
        "planned reconnects do not wait for a backoff"
    );
    assert!(s.h.last_status().stats.reconnects >= 2);
    shutdown.cancel();
    feed.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_stream_retries_with_growing_jittered_backoff() {
    let ex = Arc::new(Exchange::default());
    ex.close_until(base_minute());
    let rest = binance_rest(ex.clone()).await;
    // A port nobody listens on: every connect is refused.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", dead.local_addr().unwrap());
    drop(dead);
    let btc = sym("BTCUSDT");
    let venue = Arc::new(Binance::new(BinanceMarket::Usdm, &rest, &url, vec![btc], &http()).unwrap());
    let (tx, mut rx) = mpsc::channel(256);
    let mut settings = fast_settings();
    settings.backoff_min = Duration::from_millis(100);
    settings.backoff_max = Duration::from_millis(800);
    let shutdown = CancellationToken::new();
    let feed = tokio::spawn(run_feed(venue, settings, FeedStart::default(), tx, shutdown.clone()));
    // Attempt number → announced delay, from "…; reconnecting in 0.4 s (attempt 3)".
    let mut delays = std::collections::BTreeMap::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while delays.len() < 6 {
        let ev = tokio::time::timeout_at(deadline, rx.recv()).await.expect("statuses").expect("feed alive");
        let alphatx::engine::runner::SourceEvent::Feed(st) = ev else { continue };
        if st.state != FeedState::Disconnected {
            continue;
        }
        assert!(st.detail.contains("cannot connect") && st.stats.next_retry_ms.is_some(), "{}", st.detail);
        let after = st.detail.split("reconnecting in ").nth(1).unwrap();
        let secs: f64 = after.split(' ').next().unwrap().parse().unwrap();
        let attempt: u32 = after.split("(attempt ").nth(1).unwrap().trim_end_matches(')').parse().unwrap();
        delays.entry(attempt).or_insert((secs * 1000.0).round() as i64);
    }
    for (attempt, d) in &delays {
        let ceiling = (100i64 << (attempt - 1)).min(800);
        // The detail rounds to 0.1 s.
        assert!(
            *d >= ceiling / 2 - 50 && *d <= ceiling + 50,
            "attempt {attempt}: {d} ms outside [{}, {ceiling}]",
            ceiling / 2
        );
    }
    assert_eq!(delays.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
    shutdown.cancel();
    feed.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_rate_limits_are_honoured_and_instruments_come_from_exchange_info() {
    let ex = Arc::new(Exchange::default());
    let t0 = base_minute();
    ex.close_until(t0);
    let rest = binance_rest(ex.clone()).await;
    let syms = vec![sym("BTCUSDT"), sym("ETHUSDT")];
    let venue = Binance::new(BinanceMarket::Usdm, &rest, "ws://127.0.0.1:9", syms.clone(), &http()).unwrap();
    let inst = venue.instruments().await.unwrap();
    assert_eq!((inst[0].tick_size, inst[0].lot_size, inst[0].min_notional), (dec!(0.1), dec!(0.001), dec!(100)));
    assert_eq!((inst[1].symbol, inst[1].tick_size), (syms[1], dec!(0.01)));
    // 3000 bars take two 1500-bar pages; the first answer is a 429 with Retry-After: 1.
    ex.throttle_next.store(true, Ordering::SeqCst);
    let bars = venue.closed_bars(syms[0], t0 - 3000 * MIN, now()).await.unwrap();
    assert_eq!(bars.len(), 3000);
    assert!(bars.windows(2).all(|w| w[1].open_ms == w[0].open_ms + MIN));
    assert_eq!(ex.throttled.load(Ordering::SeqCst), 1);
    assert_eq!(
        ex.count("/fapi/v1/klines"),
        4,
        "one refused request, two full pages, an empty one that ends the paging"
    );
    let unknown = Binance::new(BinanceMarket::Usdm, &rest, "ws://x", vec![sym("DOGEUSDT")], &http()).unwrap();
    let e = unknown.instruments().await.unwrap_err().to_string();
    assert!(e.contains("DOGEUSDT") && e.contains("no market"), "{e}");
}

#[test]
fn real_trades_quotes_and_klines_round_trip_through_the_decoders() {
    use alphatx::market::binance::decode::decode_frame;
    use alphatx::market::binance::rest::{KlineRow, bars_from_rows};
    let mut out = Vec::new();
    // Real Binance BTCUSDT trades, re-encoded as aggTrade frames.
    let trades = read_shared("nautilus/binance_btcusdt-trades.csv");
    let mut n = 0;
    for line in trades.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let frame = format!(
            r#"{{"stream":"btcusdt@aggTrade","data":{{"e":"aggTrade","E":{0},"s":"BTCUSDT","a":{1},"p":"{2}","q":"{3}","f":{1},"l":{1},"T":{0},"m":{4}}}}}"#,
            f[0],
            f[1],
            f[2],
            f[3],
            f[4].to_lowercase()
        );
        out.clear();
        decode_frame(&frame, 0, &mut out).unwrap();
        let [WsItem::Market { event, seq }] = out.as_slice() else { panic!("{out:?}") };
        let MarketData::Trade { price, qty, aggressor, trade_id } = event.data else { panic!() };
        assert_eq!((price, qty), (f[2].parse().unwrap(), f[3].parse().unwrap()), "{line}");
        assert_eq!((trade_id, *seq, event.ts_ms), (f[1].parse().unwrap(), Some(trade_id), f[0].parse().unwrap()));
        assert_eq!(aggressor == alphatx::domain::Side::Sell, f[4] == "True", "buyer maker ⇒ seller aggressed");
        n += 1;
    }
    assert_eq!(n, 2001);
    // Real best bid/offer updates, re-encoded as futures bookTicker frames.
    let quotes = read_shared("nautilus/binance_btcusdt-quotes.csv");
    for (u, line) in quotes.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        let frame = format!(
            r#"{{"stream":"btcusdt@bookTicker","data":{{"e":"bookTicker","u":{u},"E":{0},"T":{0},"s":"BTCUSDT","b":"{4}","B":"{3}","a":"{2}","A":"{1}"}}}}"#,
            f[0], f[2], f[3], f[4], f[5]
        );
        out.clear();
        decode_frame(&frame, 0, &mut out).unwrap();
        let [WsItem::Market { event, .. }] = out.as_slice() else { panic!("{out:?}") };
        let want = MarketData::Quote {
            bid: f[5].parse().unwrap(),
            ask: f[3].parse().unwrap(),
            bid_qty: f[4].parse().unwrap(),
            ask_qty: f[2].parse().unwrap(),
        };
        assert_eq!(event.data, want, "{line}");
    }
    // Two real days of USDⓈ-M 1m klines: as stream frames and as REST rows, identical bars.
    for file in ["binance-klines/um-BTCUSDT-1m-2022-09-05.csv", "binance-klines/um-BTCUSDT-1m-2022-09-06.csv"] {
        let text = read_shared(file);
        let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 1440);
        let json = format!(
            "[{}]",
            rows.iter()
                .map(|f| format!(
                    r#"[{},"{}","{}","{}","{}","{}",{},"{}",{},"{}","{}","{}"]"#,
                    f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11]
                ))
                .collect::<Vec<_>>()
                .join(",")
        );
        let rest_rows: Vec<KlineRow> = serde_json::from_str(&json).unwrap();
        let rest_bars = bars_from_rows(&rest_rows).unwrap();
        for (f, rest_bar) in rows.iter().zip(&rest_bars) {
            let frame = format!(
                r#"{{"stream":"btcusdt@kline_1m","data":{{"e":"kline","E":{6},"s":"BTCUSDT","k":{{"t":{0},"T":{6},"s":"BTCUSDT","i":"1m","f":1,"L":2,"o":"{1}","c":"{4}","h":"{2}","l":"{3}","v":"{5}","n":{7},"x":true,"q":"0","V":"0","Q":"0","B":"0"}}}}}}"#,
                f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[8]
            );
            out.clear();
            decode_frame(&frame, 0, &mut out).unwrap();
            let [WsItem::Candle { bar, closed: true, .. }] = out.as_slice() else { panic!("{out:?}") };
            assert_eq!(bar, rest_bar);
            assert_eq!(
                (bar.open, bar.close, bar.volume),
                (f[1].parse().unwrap(), f[4].parse().unwrap(), f[5].parse().unwrap())
            );
        }
    }
}
