//! Binance market data: USDⓈ-M perpetual futures (default) or spot.
//!
//! One combined-stream connection (`<ws_url>/stream?streams=…`) carries, per symbol,
//! `aggTrade` (last price, paper matching), `kline_1m` (closed klines build the candles),
//! `bookTicker` (best bid/ask) and, for futures, `markPrice` (mark and funding). Subscriptions
//! are in the URL, so nothing is sent after connecting and the 5 messages/s inbound limit is
//! never approached. Binance pings every few minutes and drops a connection that does not
//! answer; tungstenite echoes the ping payload in a pong as long as the feed keeps reading,
//! which it always does. Connections live at most 24 h: the supervisor reconnects 10 minutes
//! before, or at once on a `serverShutdown` event.
//!
//! Symbols are Binance's own (`BTCUSDT`). REST history and context go through [`rest`] with
//! the documented request weights (klines: 10 per 1500-bar page on futures, 2 per 1000-bar page
//! on spot) under a limiter that spends at most half of the per-IP budget.

pub mod decode;
pub mod rest;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::{Bar, Instrument, MarketEvent, Symbol};
use crate::market::live::rest::RestClient;
use crate::market::live::{DecodeError, HttpSettings, RateLimiter, RestError, Venue, WsItem, closed_in_range};

const MINUTE_MS: i64 = 60_000;

/// Which Binance market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BinanceMarket {
    /// USDⓈ-M perpetual futures (`fapi`/`fstream`).
    #[default]
    Usdm,
    Spot,
}

impl BinanceMarket {
    pub fn venue_name(self) -> &'static str {
        match self {
            BinanceMarket::Usdm => "binance-usdm",
            BinanceMarket::Spot => "binance-spot",
        }
    }

    /// Mainnet REST base URL.
    pub fn default_rest_url(self) -> &'static str {
        match self {
            BinanceMarket::Usdm => "https://fapi.binance.com",
            BinanceMarket::Spot => "https://api.binance.com",
        }
    }

    /// Mainnet WebSocket base URL.
    pub fn default_ws_url(self) -> &'static str {
        match self {
            BinanceMarket::Usdm => "wss://fstream.binance.com",
            BinanceMarket::Spot => "wss://stream.binance.com:9443",
        }
    }

    fn klines_path(self) -> &'static str {
        match self {
            BinanceMarket::Usdm => "/fapi/v1/klines",
            BinanceMarket::Spot => "/api/v3/klines",
        }
    }

    /// Largest page and its request weight.
    fn klines_page(self) -> (i64, u32) {
        match self {
            BinanceMarket::Usdm => (1500, 10),
            BinanceMarket::Spot => (1000, 2),
        }
    }

    fn exchange_info(self) -> (&'static str, u32) {
        match self {
            BinanceMarket::Usdm => ("/fapi/v1/exchangeInfo", 1),
            BinanceMarket::Spot => ("/api/v3/exchangeInfo", 20),
        }
    }

    /// Documented `REQUEST_WEIGHT` per minute and IP.
    pub fn weight_limit(self) -> u32 {
        match self {
            BinanceMarket::Usdm => 2400,
            BinanceMarket::Spot => 6000,
        }
    }
}

/// The Binance venue for the supervisor.
#[derive(Debug)]
pub struct Binance {
    market: BinanceMarket,
    rest: RestClient,
    ws_url: String,
    symbols: Vec<Symbol>,
}

impl Binance {
    /// `rest_url`/`ws_url` are base URLs without a path (mainnet, testnet or a local fake).
    pub fn new(
        market: BinanceMarket,
        rest_url: &str,
        ws_url: &str,
        symbols: Vec<Symbol>,
        http: &HttpSettings,
    ) -> Result<Self, RestError> {
        let limit = market.weight_limit();
        let limiter = Arc::new(RateLimiter::new(limit / 2));
        let rest = RestClient::new(rest_url, http, limiter, limit)?;
        Ok(Self { market, rest, ws_url: ws_url.trim_end_matches('/').to_owned(), symbols })
    }

    pub fn market(&self) -> BinanceMarket {
        self.market
    }

    /// The streams of one symbol.
    pub fn streams(&self, symbol: Symbol) -> Vec<String> {
        let s = symbol.as_str().to_ascii_lowercase();
        let mut v = vec![format!("{s}@aggTrade"), format!("{s}@kline_1m"), format!("{s}@bookTicker")];
        if self.market == BinanceMarket::Usdm {
            v.push(format!("{s}@markPrice@1s"));
        }
        v
    }
}

impl Venue for Binance {
    fn name(&self) -> &str {
        self.market.venue_name()
    }

    fn ws_url(&self) -> String {
        let streams: Vec<String> = self.symbols.iter().flat_map(|s| self.streams(*s)).collect();
        format!("{}/stream?streams={}", self.ws_url, streams.join("/"))
    }

    fn subscriptions(&self) -> Vec<String> {
        Vec::new()
    }

    fn app_ping(&self) -> Option<(Duration, String)> {
        None
    }

    fn max_connection_age(&self) -> Option<Duration> {
        Some(Duration::from_secs(24 * 3600))
    }

    fn candles_flag_close(&self) -> bool {
        true
    }

    fn decode(&self, text: &str, recv_ms: i64, out: &mut Vec<WsItem>) -> Result<(), DecodeError> {
        decode::decode_frame(text, recv_ms, out)
    }

    async fn instruments(&self) -> Result<Vec<Instrument>, RestError> {
        let (path, weight) = self.market.exchange_info();
        let info: rest::ExchangeInfo = self.rest.get(path, weight).await?;
        self.symbols.iter().map(|s| rest::instrument(&info, *s, self.market)).collect()
    }

    async fn closed_bars(&self, symbol: Symbol, from_ms: i64, until_ms: i64) -> Result<Vec<Bar>, RestError> {
        let (limit, weight) = self.market.klines_page();
        let mut bars = Vec::new();
        let mut start = from_ms;
        while start + MINUTE_MS <= until_ms {
            let query = format!(
                "{}?symbol={}&interval=1m&startTime={start}&endTime={}&limit={limit}",
                self.market.klines_path(),
                symbol,
                until_ms - 1
            );
            let rows: Vec<rest::KlineRow> = self.rest.get(&query, weight).await?;
            let page = rest::bars_from_rows(&rows)?;
            let Some(last) = page.last().map(|b| b.open_ms) else { break };
            let full = i64::try_from(page.len()).unwrap_or(i64::MAX) >= limit;
            bars.extend(page);
            if !full || last < start {
                break;
            }
            start = last + MINUTE_MS;
        }
        Ok(closed_in_range(bars, from_ms, until_ms))
    }

    async fn context(&self, _now_ms: i64) -> Result<Vec<MarketEvent>, RestError> {
        if self.market == BinanceMarket::Spot {
            return Ok(Vec::new());
        }
        let mut events = Vec::new();
        let mut first_error = None;
        for &symbol in &self.symbols {
            let path = format!("/fapi/v1/premiumIndex?symbol={symbol}");
            match self.rest.get::<rest::PremiumIndex>(&path, 1).await {
                Ok(p) => events.extend(rest::mark_event(symbol, &p)),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
            let path = format!("/fapi/v1/openInterest?symbol={symbol}");
            match self.rest.get::<rest::OpenInterest>(&path, 1).await {
                Ok(o) => events.extend(rest::open_interest_event(symbol, &o)),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
            let path = format!("/futures/data/globalLongShortAccountRatio?symbol={symbol}&period=5m&limit=1");
            match self.rest.get::<Vec<rest::LongShortRatio>>(&path, 1).await {
                Ok(rows) => events.extend(rows.last().and_then(|r| rest::long_short_event(symbol, r))),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if events.is_empty() => Err(e),
            Some(e) => {
                tracing::debug!("part of the binance market context is unavailable: {e}");
                Ok(events)
            }
            None => Ok(events),
        }
    }

    fn symbols(&self) -> &[Symbol] {
        &self.symbols
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_stream_url_lists_every_stream_in_lower_case() {
        let syms = vec![Symbol::new("BTCUSDT").unwrap(), Symbol::new("ETHUSDT").unwrap()];
        let b = Binance::new(
            BinanceMarket::Usdm,
            "http://127.0.0.1:1",
            "ws://127.0.0.1:2/",
            syms.clone(),
            &HttpSettings::default(),
        )
        .unwrap();
        assert_eq!(
            b.ws_url(),
            "ws://127.0.0.1:2/stream?streams=btcusdt@aggTrade/btcusdt@kline_1m/btcusdt@bookTicker/btcusdt@markPrice@1s/\
             ethusdt@aggTrade/ethusdt@kline_1m/ethusdt@bookTicker/ethusdt@markPrice@1s"
        );
        let s =
            Binance::new(BinanceMarket::Spot, "http://127.0.0.1:1", "ws://h", syms, &HttpSettings::default()).unwrap();
        assert!(!s.ws_url().contains("markPrice"), "spot has no mark price stream");
    }
}
