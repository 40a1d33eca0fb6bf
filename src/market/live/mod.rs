//! Live market data from exchanges: the venue-neutral parts shared by every WebSocket venue.
//!
//! A venue ([`crate::market::binance`], [`crate::market::hyperliquid`]) supplies pure decoders,
//! its stream URL and subscriptions, and a REST client (instruments, 1m klines, market context).
//! This module supplies everything else, once:
//!
//! * [`supervisor::run_feed`]: connect with a timeout, subscribe, keep reading (so protocol
//!   pongs flow) and send the venue's application ping, a read-idle watchdog per connection and
//!   a staleness watchdog per symbol, reconnect with exponential backoff and jitter, a planned
//!   reconnect before a venue's connection age limit (Binance: 24 h), REST backfill of missed
//!   1m bars after every (re)connect and on any gap, message counters, and a [`FeedStatus`]
//!   on every state change and about once a second.
//! * [`rest`]: one HTTP client with connect and request timeouts, and a weight-based rate
//!   limiter that honours `Retry-After`.
//! * [`backoff`]: the reconnect delay policy.
//!
//! Invariants the supervisor keeps for the engine:
//! * Closed 1m bars of a symbol reach the engine in strictly increasing `open_ms` order, never
//!   twice, and without holes that REST could have filled: a bar that would leave a hole is held
//!   until the hole is backfilled.
//! * A symbol is reported stale while its trades/book are silent for longer than the
//!   threshold, while the connection is down, and from every (re)connect until its backfill has
//!   completed, so agents never decide on candles with a hole in them.
//! * A bad frame is counted and logged (rate-limited) and never ends the feed.
//!
//! [`FeedStatus`]: crate::engine::FeedStatus

pub mod backoff;
pub mod rest;
pub mod supervisor;

use std::future::Future;
use std::time::Duration;

use crate::domain::{Bar, Instrument, MarketEvent, Symbol};

pub use rest::{HttpSettings, RateLimiter, RestError};
pub use supervisor::{FeedStart, run_feed};

const MINUTE_MS: i64 = 60_000;

/// Timing of a live feed (from the `[live]` config section; tests shorten it).
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// A symbol whose trades and book have been silent this long is stale.
    pub stale_after: Duration,
    /// A connection that delivered no frame at all for this long is dropped and reopened.
    pub idle_reconnect: Duration,
    /// Limit on opening a WebSocket connection (TCP + TLS + upgrade).
    pub connect_timeout: Duration,
    /// First reconnect delay; it doubles per failed attempt.
    pub backoff_min: Duration,
    /// Largest reconnect delay.
    pub backoff_max: Duration,
    /// A connection that stayed up this long resets the backoff to `backoff_min`.
    pub healthy_after: Duration,
    /// Planned reconnect after this connection age (`None`: the venue's own limit, if any).
    pub max_connection_age: Option<Duration>,
    /// Interval of the REST market-context poll (funding, open interest, long/short ratio).
    pub context_poll: Duration,
    /// For venues whose candles carry no "closed" flag (Hyperliquid): a candle is taken as
    /// closed this long after its minute ended if no later candle arrived first.
    pub candle_close_grace: Duration,
    /// Interval of periodic [`crate::engine::FeedStatus`] reports.
    pub status_every: Duration,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            stale_after: Duration::from_secs(5),
            idle_reconnect: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            healthy_after: Duration::from_secs(60),
            max_connection_age: None,
            context_poll: Duration::from_secs(60),
            candle_close_grace: Duration::from_secs(3),
            status_every: Duration::from_secs(1),
        }
    }
}

/// What one WebSocket text frame decodes to.
#[derive(Debug, Clone, PartialEq)]
pub enum WsItem {
    /// A trade, quote, mark/funding or open-interest event.
    ///
    /// `seq` is the venue's per-symbol sequence for this kind of event when it has one
    /// (Binance aggregate trade id, book ticker update id); events at or below the last
    /// sequence seen are duplicates or out of order and are dropped.
    Market { event: MarketEvent, seq: Option<u64> },
    /// A 1m candle update. `closed` is the venue's "final" flag where it has one; `event_ms`
    /// is the venue's event time, if the message has one.
    Candle { symbol: Symbol, bar: Bar, closed: bool, event_ms: Option<i64> },
    /// A control frame (subscription ack, pong, result): proof of life, nothing else.
    Control,
    /// The venue announced it will close the connection soon: reconnect now, in a planned way.
    ServerShutdown,
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("malformed JSON: {0}")]
    Json(String),
    #[error("unexpected message: {0}")]
    Unexpected(String),
    #[error("the venue reported an error: {0}")]
    Venue(String),
    #[error("bad value: {0}")]
    Value(String),
}

impl From<serde_json::Error> for DecodeError {
    fn from(e: serde_json::Error) -> Self {
        DecodeError::Json(e.to_string())
    }
}

/// One exchange as the supervisor sees it.
///
/// Decoding is a pure function of the frame text and the receive time; everything with I/O is
/// async and bounded by timeouts inside the implementation.
pub trait Venue: Send + Sync + 'static {
    /// Short name shown in the header and logs, e.g. `binance-usdm`.
    fn name(&self) -> &str;
    /// The WebSocket URL to open (with any stream list in it).
    fn ws_url(&self) -> String;
    /// Text frames to send right after connecting (subscriptions).
    fn subscriptions(&self) -> Vec<String>;
    /// The venue's application-level keep-alive: (interval, text frame).
    fn app_ping(&self) -> Option<(Duration, String)>;
    /// The venue's limit on one connection's age; the supervisor reconnects a little earlier.
    fn max_connection_age(&self) -> Option<Duration>;
    /// True when candle updates say when they are final (Binance `x`); otherwise a candle is
    /// final when the next one starts or its minute is over by the grace period.
    fn candles_flag_close(&self) -> bool;
    /// Decodes one text frame received at `recv_ms` (used when a message has no time of its own).
    fn decode(&self, text: &str, recv_ms: i64, out: &mut Vec<WsItem>) -> Result<(), DecodeError>;
    /// The instruments for `symbols`; an unknown symbol is an error naming it.
    fn instruments(&self) -> impl Future<Output = Result<Vec<Instrument>, RestError>> + Send;
    /// Closed 1m bars of `symbol` with `from_ms <= open_ms` and `open_ms + 1m <= until_ms`,
    /// oldest first, fetched in pages within the venue's rate limits.
    fn closed_bars(
        &self,
        symbol: Symbol,
        from_ms: i64,
        until_ms: i64,
    ) -> impl Future<Output = Result<Vec<Bar>, RestError>> + Send;
    /// Market context (funding, open interest, long/short ratio) for every symbol, now.
    fn context(&self, now_ms: i64) -> impl Future<Output = Result<Vec<MarketEvent>, RestError>> + Send;
    /// The configured symbols this venue streams.
    fn symbols(&self) -> &[Symbol];
}

/// Keeps only bars that are closed by `until_ms` and start at or after `from_ms`, sorted and
/// without duplicate minutes (the last copy of a minute wins, as REST pages may overlap).
pub fn closed_in_range(mut bars: Vec<Bar>, from_ms: i64, until_ms: i64) -> Vec<Bar> {
    bars.retain(|b| b.open_ms >= from_ms && b.open_ms.saturating_add(MINUTE_MS) <= until_ms);
    bars.sort_by_key(|b| b.open_ms);
    let mut out: Vec<Bar> = Vec::with_capacity(bars.len());
    for b in bars {
        match out.last_mut() {
            Some(last) if last.open_ms == b.open_ms => *last = b,
            _ => out.push(b),
        }
    }
    out
}

/// Wall clock in epoch milliseconds.
pub fn wall_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn bar(open_ms: i64, close: i64) -> Bar {
        let p = Decimal::from(close);
        Bar { open_ms, interval_ms: MINUTE_MS, open: p, high: p, low: p, close: p, volume: Decimal::ONE }
    }

    #[test]
    fn closed_in_range_sorts_dedups_and_drops_the_forming_bar() {
        let bars = vec![bar(180_000, 4), bar(60_000, 2), bar(120_000, 3), bar(60_000, 5), bar(0, 1)];
        let got = closed_in_range(bars, 60_000, 180_000 + 59_999);
        let opens: Vec<i64> = got.iter().map(|b| b.open_ms).collect();
        assert_eq!(opens, vec![60_000, 120_000]);
        assert_eq!(got[0].close, Decimal::from(5));
    }
}
