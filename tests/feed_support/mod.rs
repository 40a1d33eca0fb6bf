//! Loopback fakes of Binance and Hyperliquid for the live-feed tests, and a harness that pumps
//! the feed's output through a real engine [`Driver`].
//!
//! The fake exchange keeps a deterministic 1m bar for every minute and a "closed until" time
//! that the test moves forward as it streams closed klines, so REST only ever serves what the
//! exchange has closed — exactly what a reconnecting feed must fetch. WebSocket fakes hand each
//! accepted connection to the test, which then plays the exchange's side frame by frame (or
//! drops it, or goes silent). Everything binds 127.0.0.1:0 and HTTP clients bypass proxies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err, dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rust_decimal::Decimal;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response as WsResponse};

use alphatx::app::build_driver;
use alphatx::clock::ManualClock;
use alphatx::config::Config;
use alphatx::domain::{Bar, Instrument, MarketData, MarketEvent, Symbol};
use alphatx::engine::runner::SourceEvent;
use alphatx::engine::{Driver, Durability, EngineEvent, FeedState, FeedStatus};
use alphatx::market::candles::CandleInput;
use alphatx::market::live::LiveSettings;

pub const MIN: i64 = 60_000;

/// A minute well in the past, so every fake minute the tests stream is already over.
pub fn base_minute() -> i64 {
    let now = jiff::Timestamp::now().as_millisecond();
    (now - now.rem_euclid(MIN)) - 2_000 * MIN
}

pub fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

/// The fake exchange's deterministic 1m bar of `symbol` at `open_ms`.
pub fn bar_at(symbol: &str, open_ms: i64) -> Bar {
    let base: i64 = if symbol.starts_with("ETH") { 3_000 } else { 60_000 };
    let m = open_ms / MIN;
    // A slow wave plus a minute-to-minute wiggle: indicators get real movement.
    let wave = ((m % 240) - 120).abs();
    let close = Decimal::from(base + wave * 10 + (m * 7919) % 13);
    let open = close - Decimal::from((m * 31) % 5) + Decimal::TWO;
    let high = open.max(close) + Decimal::from(3);
    let low = open.min(close) - Decimal::from(4);
    Bar { open_ms, interval_ms: MIN, open, high, low, close, volume: Decimal::new(12345 + (m % 100), 3) }
}

// ------------------------------------------------------------------ fake exchange state

/// What the fake exchange knows and what it was asked.
#[derive(Default)]
pub struct Exchange {
    /// Bars with `open_ms < closed_until` are closed and served over REST.
    pub closed_until: AtomicI64,
    /// Request paths (with query), in order.
    pub requests: Mutex<Vec<String>>,
    /// Answer the next klines/candles request with HTTP 429 and `Retry-After: 1`.
    pub throttle_next: AtomicBool,
    /// Answer every REST request with HTTP 503.
    pub down: AtomicBool,
    pub throttled: AtomicU32,
}

impl Exchange {
    pub fn close_until(&self, ms: i64) {
        self.closed_until.fetch_max(ms, Ordering::SeqCst);
    }

    pub fn count(&self, needle: &str) -> usize {
        self.requests.lock().unwrap().iter().filter(|r| r.contains(needle)).count()
    }

    fn log(&self, r: String) {
        self.requests.lock().unwrap().push(r);
    }

    /// Closed bars of `symbol` in `[start, end]`, at most `limit`.
    fn bars(&self, symbol: &str, start: i64, end: i64, limit: i64) -> Vec<Bar> {
        let closed = self.closed_until.load(Ordering::SeqCst);
        let first = start + (MIN - start.rem_euclid(MIN)) % MIN;
        (0..limit)
            .map(|k| first + k * MIN)
            .take_while(|t| *t <= end && *t < closed)
            .map(|t| bar_at(symbol, t))
            .collect()
    }

    fn throttle(&self) -> Option<Response> {
        if self.down.load(Ordering::SeqCst) {
            return Some((StatusCode::SERVICE_UNAVAILABLE, "maintenance").into_response());
        }
        if self.throttle_next.swap(false, Ordering::SeqCst) {
            self.throttled.fetch_add(1, Ordering::SeqCst);
            return Some(
                (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], r#"{"code":-1003,"msg":"Too many requests"}"#)
                    .into_response(),
            );
        }
        None
    }
}

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

// ------------------------------------------------------------------ Binance REST

pub const OPEN_INTEREST: &str = "10659.509";
pub const LONG_SHORT: &str = "1.8105";
pub const FUNDING: &str = "0.00038246";

/// Starts a fake Binance USDⓈ-M REST API; returns its base URL.
pub async fn binance_rest(ex: Arc<Exchange>) -> String {
    let router = Router::new()
        .route("/fapi/v1/exchangeInfo", get(binance_info))
        .route("/fapi/v1/klines", get(binance_klines))
        .route("/fapi/v1/premiumIndex", get(binance_premium))
        .route("/fapi/v1/openInterest", get(binance_oi))
        .route("/futures/data/globalLongShortAccountRatio", get(binance_lsr))
        .with_state(ex);
    format!("http://{}", serve(router).await)
}

fn info_symbol(symbol: &str, base: &str, tick: &str, step: &str) -> String {
    format!(
        r#"{{"symbol":"{symbol}","pair":"{symbol}","contractType":"PERPETUAL","status":"TRADING","maintMarginPercent":"2.5000","requiredMarginPercent":"5.0000","baseAsset":"{base}","quoteAsset":"USDT","marginAsset":"USDT","pricePrecision":2,"quantityPrecision":3,"filters":[{{"filterType":"PRICE_FILTER","minPrice":"0.10","maxPrice":"4529764","tickSize":"{tick}"}},{{"filterType":"LOT_SIZE","stepSize":"{step}","maxQty":"1000","minQty":"{step}"}},{{"filterType":"MIN_NOTIONAL","notional":"100"}}]}}"#
    )
}

async fn binance_info(State(ex): State<Arc<Exchange>>) -> Response {
    ex.log("/fapi/v1/exchangeInfo".into());
    if let Some(r) = ex.throttle() {
        return r;
    }
    let body = format!(
        r#"{{"timezone":"UTC","serverTime":1,"rateLimits":[],"symbols":[{},{}]}}"#,
        info_symbol("BTCUSDT", "BTC", "0.10", "0.001"),
        info_symbol("ETHUSDT", "ETH", "0.01", "0.001")
    );
    ([("content-type", "application/json")], body).into_response()
}

async fn binance_klines(State(ex): State<Arc<Exchange>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    ex.log(format!(
        "/fapi/v1/klines?symbol={}&startTime={}&endTime={}",
        get("symbol"),
        get("startTime"),
        get("endTime")
    ));
    if let Some(r) = ex.throttle() {
        return r;
    }
    if get("interval") != "1m" {
        return (StatusCode::BAD_REQUEST, r#"{"code":-1120,"msg":"Invalid interval."}"#).into_response();
    }
    let start: i64 = get("startTime").parse().unwrap_or(0);
    let end: i64 = get("endTime").parse().unwrap_or(i64::MAX);
    let limit: i64 = get("limit").parse().unwrap_or(500).min(1500);
    let rows: Vec<String> = ex
        .bars(&get("symbol"), start, end, limit)
        .iter()
        .map(|b| {
            format!(
                r#"[{},"{}","{}","{}","{}","{}",{},"0",10,"0","0","0"]"#,
                b.open_ms,
                b.open,
                b.high,
                b.low,
                b.close,
                b.volume,
                b.open_ms + MIN - 1
            )
        })
        .collect();
    ([("content-type", "application/json"), ("x-mbx-used-weight-1m", "10")], format!("[{}]", rows.join(",")))
        .into_response()
}

async fn binance_premium(State(ex): State<Arc<Exchange>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let s = q.get("symbol").cloned().unwrap_or_default();
    ex.log(format!("/fapi/v1/premiumIndex?symbol={s}"));
    if let Some(r) = ex.throttle() {
        return r;
    }
    let mark = bar_at(&s, 0).close;
    let body = format!(
        r#"{{"symbol":"{s}","markPrice":"{mark}","indexPrice":"{mark}","estimatedSettlePrice":"{mark}","lastFundingRate":"{FUNDING}","interestRate":"0.0001","nextFundingTime":1597392000000,"time":1597370495002}}"#
    );
    ([("content-type", "application/json")], body).into_response()
}

async fn binance_oi(State(ex): State<Arc<Exchange>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let s = q.get("symbol").cloned().unwrap_or_default();
    ex.log(format!("/fapi/v1/openInterest?symbol={s}"));
    if let Some(r) = ex.throttle() {
        return r;
    }
    (
        [("content-type", "application/json")],
        format!(r#"{{"openInterest":"{OPEN_INTEREST}","symbol":"{s}","time":1589437530011}}"#),
    )
        .into_response()
}

async fn binance_lsr(State(ex): State<Arc<Exchange>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let s = q.get("symbol").cloned().unwrap_or_default();
    ex.log(format!("/futures/data/globalLongShortAccountRatio?symbol={s}"));
    if let Some(r) = ex.throttle() {
        return r;
    }
    let body = format!(
        r#"[{{"symbol":"{s}","longShortRatio":"{LONG_SHORT}","longAccount":"0.6442","shortAccount":"0.3558","timestamp":1583139600000}}]"#
    );
    ([("content-type", "application/json")], body).into_response()
}

// ------------------------------------------------------------------ Hyperliquid REST

pub const HL_FUNDING: &str = "0.0000125";
pub const HL_OPEN_INTEREST: &str = "688.11";

/// Starts a fake Hyperliquid `POST /info`; returns its base URL.
pub async fn hyperliquid_rest(ex: Arc<Exchange>) -> String {
    let router = Router::new().route("/info", post(hyperliquid_info)).with_state(ex);
    format!("http://{}", serve(router).await)
}

async fn hyperliquid_info(State(ex): State<Arc<Exchange>>, body: String) -> Response {
    let req: serde_json::Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(_) => return (StatusCode::UNPROCESSABLE_ENTITY, "Failed to deserialize the JSON body").into_response(),
    };
    let kind = req["type"].as_str().unwrap_or("").to_owned();
    ex.log(format!("/info {kind} {}", req["req"]));
    if let Some(r) = ex.throttle() {
        return r;
    }
    let body = match kind.as_str() {
        "metaAndAssetCtxs" => {
            let ctx = |px: Decimal| {
                format!(
                    r#"{{"dayNtlVlm":"1169046.29","funding":"{HL_FUNDING}","impactPxs":["{px}","{px}"],"markPx":"{px}","midPx":"{px}","openInterest":"{HL_OPEN_INTEREST}","oraclePx":"{px}","premium":"0.0003","prevDayPx":"{px}"}}"#
                )
            };
            format!(
                r#"[{{"universe":[{{"name":"BTC","szDecimals":5,"maxLeverage":40}},{{"name":"ETH","szDecimals":4,"maxLeverage":25}},{{"name":"SOL","szDecimals":2,"maxLeverage":20}}]}},[{},{},{}]]"#,
                ctx(bar_at("BTC", 0).close),
                ctx(bar_at("ETH", 0).close),
                ctx(Decimal::from(150))
            )
        }
        "candleSnapshot" => {
            let r = &req["req"];
            let coin = r["coin"].as_str().unwrap_or("");
            if r["interval"].as_str() != Some("1m") {
                return (StatusCode::BAD_REQUEST, "bad interval").into_response();
            }
            let symbol = format!("{coin}USDT");
            let bars = ex.bars(&symbol, r["startTime"].as_i64().unwrap_or(0), r["endTime"].as_i64().unwrap_or(0), 5000);
            let rows: Vec<String> = bars.iter().map(|b| hl_candle_json(coin, b)).collect();
            format!("[{}]", rows.join(","))
        }
        _ => return (StatusCode::UNPROCESSABLE_ENTITY, "unknown request type").into_response(),
    };
    ([("content-type", "application/json")], body).into_response()
}

pub fn hl_candle_json(coin: &str, b: &Bar) -> String {
    format!(
        r#"{{"t":{},"T":{},"s":"{coin}","i":"1m","o":"{}","c":"{}","h":"{}","l":"{}","v":"{}","n":17}}"#,
        b.open_ms,
        b.open_ms + MIN - 1,
        b.open,
        b.close,
        b.high,
        b.low,
        b.volume
    )
}

// ------------------------------------------------------------------ WebSocket fake

pub type ServerWs = WebSocketStream<TcpStream>;

/// A WebSocket server on 127.0.0.1:0 handing every accepted connection (and its request
/// path) to the test.
pub struct WsFake {
    pub url: String,
    conns: mpsc::Receiver<(ServerWs, String)>,
}

impl WsFake {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let (tx, conns) = mpsc::channel(16);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let path = Arc::new(Mutex::new(String::new()));
                let p = path.clone();
                let cb = move |req: &Request, resp: WsResponse| {
                    *p.lock().unwrap() = req.uri().to_string();
                    Ok(resp)
                };
                if let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, cb).await {
                    let path = path.lock().unwrap().clone();
                    if tx.send((ws, path)).await.is_err() {
                        return;
                    }
                }
            }
        });
        Self { url, conns }
    }

    /// The next client connection, or `None` once the server stopped.
    pub async fn next_conn_opt(&mut self) -> Option<(ServerWs, String)> {
        self.conns.recv().await
    }

    /// The next client connection (panics after `within`).
    pub async fn next_conn(&mut self, within: Duration) -> (ServerWs, String) {
        tokio::time::timeout(within, self.conns.recv())
            .await
            .expect("the feed did not (re)connect in time")
            .expect("the WS fake stopped")
    }
}

// ------------------------------------------------------------------ Binance frames

pub fn agg_trade(symbol: &str, id: u64, price: Decimal, ts: i64) -> String {
    format!(
        r#"{{"stream":"{}@aggTrade","data":{{"e":"aggTrade","E":{ts},"s":"{symbol}","a":{id},"p":"{price}","q":"0.250","f":{id},"l":{id},"T":{ts},"m":false}}}}"#,
        symbol.to_lowercase()
    )
}

pub fn book_ticker(symbol: &str, u: u64, bid: Decimal, ask: Decimal, ts: i64) -> String {
    format!(
        r#"{{"stream":"{}@bookTicker","data":{{"e":"bookTicker","u":{u},"E":{ts},"T":{ts},"s":"{symbol}","b":"{bid}","B":"3.5","a":"{ask}","A":"1.25"}}}}"#,
        symbol.to_lowercase()
    )
}

pub fn mark_price(symbol: &str, mark: Decimal, ts: i64) -> String {
    format!(
        r#"{{"stream":"{}@markPrice@1s","data":{{"e":"markPriceUpdate","E":{ts},"s":"{symbol}","p":"{mark}","i":"{mark}","P":"{mark}","r":"0.00010000","T":{}}}}}"#,
        symbol.to_lowercase(),
        ts + 3_600_000
    )
}

pub fn kline(symbol: &str, b: &Bar, closed: bool) -> String {
    format!(
        r#"{{"stream":"{}@kline_1m","data":{{"e":"kline","E":{},"s":"{symbol}","k":{{"t":{},"T":{},"s":"{symbol}","i":"1m","f":1,"L":2,"o":"{}","c":"{}","h":"{}","l":"{}","v":"{}","n":2,"x":{closed},"q":"1","V":"0","Q":"0","B":"0"}}}}}}"#,
        symbol.to_lowercase(),
        b.open_ms + MIN,
        b.open_ms,
        b.open_ms + MIN - 1,
        b.open,
        b.close,
        b.high,
        b.low,
        b.volume
    )
}

// ------------------------------------------------------------------ harness

/// Short timings so every failure mode shows up in seconds; generous where a slow CI machine
/// could otherwise trip a watchdog by accident.
pub fn fast_settings() -> LiveSettings {
    LiveSettings {
        stale_after: Duration::from_millis(1500),
        idle_reconnect: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(5),
        backoff_min: Duration::from_millis(200),
        backoff_max: Duration::from_secs(2),
        healthy_after: Duration::from_secs(60),
        max_connection_age: None,
        context_poll: Duration::from_secs(3600),
        candle_close_grace: Duration::from_millis(500),
        status_every: Duration::from_millis(250),
    }
}

/// An engine + paper venue for `instruments` with the default agents, candles from bars.
pub fn driver_for(instruments: Vec<Instrument>) -> Driver {
    let mut config = Config::default();
    config.market.symbols = instruments.iter().map(|i| i.symbol).collect();
    let start = instruments.first().map_or(0, |_| 0);
    build_driver(&config, instruments, ManualClock::new(start), CandleInput::Bars, Durability::Direct).unwrap()
}

/// The feed's output applied to a real driver, with everything recorded for assertions.
pub struct Harness {
    pub driver: Driver,
    pub rx: mpsc::Receiver<SourceEvent>,
    pub statuses: Vec<FeedStatus>,
    pub events: Vec<MarketEvent>,
}

impl Harness {
    pub fn new(driver: Driver, rx: mpsc::Receiver<SourceEvent>) -> Self {
        Self { driver, rx, statuses: Vec::new(), events: Vec::new() }
    }

    /// Warm-up: history straight into the engine, as `run` does.
    pub fn warm_up(&mut self, symbol: Symbol, bars: &[Bar]) {
        self.driver.engine.set_warming(true);
        for b in bars {
            self.driver.on_market(MarketEvent { ts_ms: b.open_ms + MIN, symbol, data: MarketData::Bar(*b) });
        }
        self.driver.engine.set_warming(false);
    }

    /// Applies feed output until `done` holds; panics with the last status after `within`.
    pub async fn pump_until(&mut self, within: Duration, what: &str, mut done: impl FnMut(&Harness) -> bool) {
        let deadline = tokio::time::Instant::now() + within;
        while !done(self) {
            let ev = match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(ev)) => ev,
                Ok(None) => panic!("the feed ended while waiting for: {what}"),
                Err(_) => panic!("timed out waiting for: {what}; last status: {:?}", self.statuses.last()),
            };
            match ev {
                SourceEvent::Market(m) => {
                    self.events.push(m.clone());
                    self.driver.on_market(m);
                }
                SourceEvent::Feed(s) => {
                    self.statuses.push(s.clone());
                    self.driver.event(EngineEvent::Feed(s));
                }
            }
            self.driver.discard_records();
        }
    }

    pub fn last_status(&self) -> &FeedStatus {
        self.statuses.last().expect("no status yet")
    }

    pub fn is_live(&self) -> bool {
        self.statuses.last().is_some_and(|s| s.state == FeedState::Live && s.stale.is_empty())
    }

    /// Open times of the bars of `symbol` the feed forwarded, in order.
    pub fn bar_opens(&self, symbol: Symbol) -> Vec<i64> {
        self.events
            .iter()
            .filter(|e| e.symbol == symbol)
            .filter_map(|e| match e.data {
                MarketData::Bar(b) => Some(b.open_ms),
                _ => None,
            })
            .collect()
    }

    pub fn market(&self, symbol: Symbol) -> &alphatx::agents::context::MarketView {
        self.driver.engine.markets().iter().find(|m| m.symbol() == symbol).expect("no such market")
    }
}

/// Sends a text frame from the fake exchange.
pub async fn send(ws: &mut ServerWs, text: String) {
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::Text(text.into())).await.unwrap();
}
