//! A manual check, ignored by default: serves a fake Binance USDⓈ-M venue (REST warm-up and
//! exchange info, combined-stream WebSocket with aggTrade, bookTicker, markPrice and 1m klines)
//! on loopback and writes a config that points `alphatx` at it, so the cockpit can be watched on
//! a live feed without internet access:
//!
//! ```text
//! cargo test --test feed_manual -- --ignored --nocapture     # prints the config path; serves 120 s
//! alphatx --config /tmp/alphatx-fake-binance.toml run
//! ```
//!
//! `ALPHATX_FAKE_FEED_SECS` changes the duration, `ALPHATX_FAKE_FEED_CONFIG` the config path.
//! Live prices follow the fake's deterministic 1m bars (the ones its REST API serves), so a
//! reconnect's backfill agrees with what was streamed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod feed_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use rust_decimal::Decimal;
use tokio_tungstenite::tungstenite::Message;

use feed_support::*;

const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];

/// The price a quarter-second `step` (0..240) into the minute of `bar`: open → extremes → close.
fn path_price(bar: &alphatx::domain::Bar, step: i64) -> Decimal {
    let (first, second) = if bar.close >= bar.open { (bar.low, bar.high) } else { (bar.high, bar.low) };
    let legs = [bar.open, first, second, bar.close];
    let leg = usize::try_from((step / 60).min(2)).unwrap();
    let t = Decimal::from(step % 60) / Decimal::from(60);
    (legs[leg] + (legs[leg + 1] - legs[leg]) * t).round_dp(1)
}

async fn stream(mut conn: ServerWs, ex: Arc<Exchange>, until: Instant) {
    let mut id = 1u64;
    while Instant::now() < until {
        let now = jiff::Timestamp::now().as_millisecond();
        let minute = now - now.rem_euclid(MIN);
        let step = (now - minute) / 250;
        let mut frames = Vec::new();
        for s in SYMBOLS {
            let bar = bar_at(s, minute);
            let price = path_price(&bar, step);
            frames.push(agg_trade(s, id, price, now));
            frames.push(book_ticker(s, id, price - Decimal::new(1, 1), price + Decimal::new(1, 1), now));
            if step % 4 == 0 {
                frames.push(mark_price(s, price, now));
            }
            // The previous minute's bar closes during the first quarter-second of a minute.
            if step == 0 {
                frames.push(kline(s, &bar_at(s, minute - MIN), true));
            }
        }
        if step == 0 {
            ex.close_until(minute);
        }
        id += 1;
        for f in frames {
            if conn.send(Message::Text(f.into())).await.is_err() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "manual: serves a fake Binance feed for a cockpit run"]
async fn serve_fake_binance_for_a_manual_cockpit_run() {
    let secs: u64 = std::env::var("ALPHATX_FAKE_FEED_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(120);
    let path = std::env::var_os("ALPHATX_FAKE_FEED_CONFIG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("alphatx-fake-binance.toml"));
    let ex = Arc::new(Exchange::default());
    let now = jiff::Timestamp::now().as_millisecond();
    ex.close_until(now - now.rem_euclid(MIN));
    let rest = binance_rest(ex.clone()).await;
    let mut ws = WsFake::start().await;
    std::fs::write(
        &path,
        format!(
            "[market]\nsource = \"binance\"\nsymbols = [\"BTCUSDT\", \"ETHUSDT\"]\n\
             [venues.binance]\nrest_url = \"{rest}\"\nws_url = \"{}\"\n\
             [live]\nwarmup_bars = 12000\ncontext_poll_secs = 10\n",
            ws.url
        ),
    )
    .unwrap();
    println!("fake Binance: REST {rest}, WebSocket {}; config written to {}", ws.url, path.display());
    println!("run: alphatx --config {} run", path.display());
    let until = Instant::now() + Duration::from_secs(secs);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        let Ok(Some((conn, streams))) = tokio::time::timeout(left, ws.next_conn_opt()).await else { break };
        println!("client connected: {streams}");
        tokio::spawn(stream(conn, ex.clone(), until));
    }
    println!("served {secs} s; REST requests: {}", ex.requests.lock().unwrap().len());
}
