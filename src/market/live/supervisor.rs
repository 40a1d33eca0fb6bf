//! The live feed task: one WebSocket connection per venue, supervised.
//!
//! Life of a feed ([`run_feed`]): connect (bounded by `connect_timeout`), send the venue's
//! subscriptions, then read frames until the connection ends, goes idle for `idle_reconnect`,
//! reaches its planned age, or the venue announces a shutdown; wait a jittered exponential
//! backoff (none after a planned reconnect) and start over. Meanwhile it:
//!
//! * decodes every text frame with the venue's pure decoder and forwards trades, quotes, marks
//!   and open interest, dropping duplicates and out-of-order events by per-symbol sequence or
//!   time;
//! * forwards each closed 1m bar exactly once and in order. `covered_ms` per symbol says up to
//!   where every minute is settled; a bar beyond it (a hole) is held, the hole is fetched over
//!   REST in a background task, and the held bars follow once it is filled. After every
//!   (re)connect each symbol is backfilled from its `covered_ms` to now the same way;
//! * watches staleness per symbol (trades and book silent for `stale_after`, connection down,
//!   or a backfill outstanding) and reports a [`FeedStatus`] on every change and every
//!   `status_every`;
//! * polls the venue's REST market context (funding, open interest, long/short ratio) every
//!   `context_poll` in a side task.
//!
//! Protocol pings are answered by tungstenite while frames are being read; the read loop never
//! blocks on anything slower than a bounded channel send (REST work runs in spawned tasks).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::{LiveSettings, MINUTE_MS, RestError, Venue, WsItem, wall_ms};
use crate::domain::{Bar, MarketData, MarketEvent, Symbol, Timeframe};
use crate::engine::runner::SourceEvent;
use crate::engine::{FeedState, FeedStatus, event::FeedStats};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Most 1m bars fetched to fill one hole (about 3.5 days); an older hole stays a hole.
const MAX_BACKFILL_BARS: i64 = 5_000;
/// Closed bars held per symbol while a backfill runs.
const MAX_PENDING_BARS: usize = 2_000;
/// REST bars are only taken as closed this long after their minute ended, so a local clock a
/// little ahead of the venue's cannot take a forming kline for a closed one.
const CLOSE_MARGIN_MS: i64 = 2_000;
/// Recent trade ids remembered per symbol for venues without trade sequences.
const RECENT_TRADES: usize = 64;
/// Limit on sending one frame (subscriptions, application pings, close).
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the engine's candles stand when the feed starts.
#[derive(Debug, Clone, Default)]
pub struct FeedStart {
    /// Per symbol, the open time of the last closed 1m bar the engine already has (from the
    /// warm-up history); the first connection backfills from the minute after it.
    pub last_bar_open: Vec<(Symbol, Option<i64>)>,
    /// Seed of the reconnect jitter.
    pub seed: u64,
}

/// Opens a WebSocket connection to `url` within `timeout` and closes it again: a reachability
/// probe for `source = "auto"`.
pub async fn probe(url: &str, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, tokio_tungstenite::connect_async(url)).await {
        Err(_) => Err(format!("no WebSocket connection to {url} within {:.0} s", timeout.as_secs_f64())),
        Ok(Err(e)) => Err(format!("cannot open {url}: {}", super::rest::error_chain(&e))),
        Ok(Ok((mut ws, _))) => {
            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
            Ok(())
        }
    }
}

/// Runs the feed of `venue` until `shutdown`, sending market data and status to `tx`.
pub async fn run_feed<V: Venue>(
    venue: Arc<V>,
    settings: LiveSettings,
    start: FeedStart,
    tx: mpsc::Sender<SourceEvent>,
    shutdown: CancellationToken,
) {
    let context = tokio::spawn(poll_context(venue.clone(), settings.context_poll, tx.clone(), shutdown.clone()));
    let mut feed = Feed::new(venue, settings, start, tx);
    feed.run(&shutdown).await;
    shutdown.cancel();
    let _ = context.await;
}

/// Polls the REST market context until shutdown (first poll at once).
async fn poll_context<V: Venue>(
    venue: Arc<V>,
    every: Duration,
    tx: mpsc::Sender<SourceEvent>,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(every.max(Duration::from_secs(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures: u32 = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let result = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = venue.context(wall_ms()) => r,
        };
        match result {
            Ok(events) => {
                failures = 0;
                for ev in events {
                    if tx.send(SourceEvent::Market(ev)).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                failures += 1;
                // The first failure and then every tenth: a long outage must not flood the log.
                if failures == 1 || failures.is_multiple_of(10) {
                    tracing::warn!(venue = venue.name(), failures, "market context poll failed: {e}");
                }
            }
        }
    }
}

/// Why a connection ended.
#[derive(Debug)]
enum End {
    Shutdown,
    /// Planned: connection age limit or a venue shutdown notice. Reconnect at once.
    Planned(String),
    Lost(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Connected,
    Waiting { next_retry_ms: i64 },
}

/// Ordering state of one kind of event of one symbol.
#[derive(Debug, Clone, Copy, Default)]
struct Order {
    ts_ms: i64,
    seq: Option<u64>,
}

impl Order {
    /// True if (ts, seq) comes after what was seen; then it becomes the latest.
    fn advance(&mut self, ts_ms: i64, seq: Option<u64>) -> bool {
        let fresh = match (seq, self.seq) {
            (Some(s), Some(last)) => s > last,
            _ => ts_ms >= self.ts_ms,
        };
        if fresh {
            self.ts_ms = self.ts_ms.max(ts_ms);
            if seq.is_some() {
                self.seq = seq;
            }
        }
        fresh
    }
}

/// A finished backfill: symbol index, range, whether `until` came from a later stream bar
/// (then every minute before it is settled, bar or not), and the bars.
type Backfill = (usize, i64, i64, bool, Result<Vec<Bar>, RestError>);

/// Per-symbol state.
#[derive(Debug)]
struct Sym {
    symbol: Symbol,
    /// Every minute opening before this is settled: forwarded, or known to have no bar.
    covered_ms: Option<i64>,
    /// Candles are not trusted until a backfill has run since the last (re)connect or hole.
    needs_fill: bool,
    /// A backfill task for this symbol is running.
    filling: bool,
    /// Failed backfills in a row, and when to try again.
    fill_failures: u32,
    retry_at: Option<Instant>,
    /// Closed bars from the stream waiting for a backfill to complete.
    pending: Vec<Bar>,
    /// Open time of the newest closed bar the stream delivered (REST bars excluded).
    stream_bar_ms: Option<i64>,
    /// The newest not-yet-final candle (venues without a close flag).
    forming: Option<Bar>,
    /// Last trade or book update.
    last_activity: Instant,
    trade: Order,
    quote: Order,
    mark: Order,
    recent_trades: [u64; RECENT_TRADES],
    recent_next: usize,
}

impl Sym {
    fn new(symbol: Symbol, last_bar_open: Option<i64>) -> Self {
        Self {
            symbol,
            covered_ms: last_bar_open.map(|t| t + MINUTE_MS),
            needs_fill: true,
            filling: false,
            fill_failures: 0,
            retry_at: None,
            pending: Vec::new(),
            stream_bar_ms: None,
            forming: None,
            last_activity: Instant::now(),
            trade: Order::default(),
            quote: Order::default(),
            mark: Order::default(),
            recent_trades: [u64::MAX; RECENT_TRADES],
            recent_next: 0,
        }
    }

    fn trusted(&self) -> bool {
        !self.needs_fill && !self.filling && self.retry_at.is_none() && self.pending.is_empty()
    }
}

/// Counters behind [`FeedStats`].
#[derive(Debug, Default)]
struct Counters {
    messages: u64,
    bad: u64,
    reconnects: u64,
    latency_ms: Option<i64>,
    last_message_ms: Option<i64>,
    conflated: u64,
}

struct Feed<V: Venue> {
    venue: Arc<V>,
    settings: LiveSettings,
    tx: mpsc::Sender<SourceEvent>,
    syms: Vec<Sym>,
    counters: Counters,
    phase: Phase,
    detail: String,
    backfills: JoinSet<Backfill>,
    /// What was last reported, to report changes at once.
    reported: Option<(FeedState, Vec<Symbol>, String)>,
    last_report: Instant,
    messages_at_report: u64,
    last_bad_log: Option<Instant>,
    bad_unlogged: u64,
    items: Vec<WsItem>,
    backoff: Backoff,
    closed: bool,
}

impl<V: Venue> Feed<V> {
    fn new(venue: Arc<V>, settings: LiveSettings, start: FeedStart, tx: mpsc::Sender<SourceEvent>) -> Self {
        let syms = venue
            .symbols()
            .iter()
            .map(|s| {
                let last = start.last_bar_open.iter().find(|(x, _)| x == s).and_then(|(_, t)| *t);
                Sym::new(*s, last)
            })
            .collect();
        let backoff = Backoff::new(settings.backoff_min, settings.backoff_max, start.seed);
        Self {
            venue,
            settings,
            tx,
            syms,
            counters: Counters::default(),
            phase: Phase::Connecting,
            detail: String::new(),
            backfills: JoinSet::new(),
            reported: None,
            last_report: Instant::now(),
            messages_at_report: 0,
            last_bad_log: None,
            bad_unlogged: 0,
            items: Vec::with_capacity(16),
            backoff,
            closed: false,
        }
    }

    async fn run(&mut self, shutdown: &CancellationToken) {
        let url = self.venue.ws_url();
        let mut connections: u64 = 0;
        let mut planned: Option<String> = None;
        loop {
            self.phase = Phase::Connecting;
            self.detail = match planned.take() {
                Some(why) => format!("planned reconnect ({why}); connecting to {}", redact(&url)),
                None => format!("connecting to {}", redact(&url)),
            };
            self.report(true).await;
            let connected = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = tokio::time::timeout(self.settings.connect_timeout, tokio_tungstenite::connect_async(url.as_str())) => r,
            };
            let failure = match connected {
                Err(_) => Some(format!(
                    "no connection to {} within {:.0} s",
                    redact(&url),
                    self.settings.connect_timeout.as_secs_f64()
                )),
                Ok(Err(e)) => Some(format!("cannot connect to {}: {}", redact(&url), super::rest::error_chain(&e))),
                Ok(Ok((mut ws, _))) => {
                    connections += 1;
                    if connections > 1 {
                        self.counters.reconnects += 1;
                    }
                    let opened = Instant::now();
                    let end = match self.subscribe(&mut ws).await {
                        Err(e) => End::Lost(e),
                        Ok(()) => {
                            tracing::info!(venue = self.venue.name(), url = %redact(&url), "connected");
                            self.on_connected();
                            self.session(&mut ws, shutdown, opened).await
                        }
                    };
                    self.on_disconnected();
                    if opened.elapsed() >= self.settings.healthy_after {
                        self.backoff.reset();
                    }
                    match end {
                        End::Shutdown => {
                            let _ = tokio::time::timeout(SEND_TIMEOUT, ws.close(None)).await;
                            break;
                        }
                        End::Planned(why) => {
                            tracing::info!(venue = self.venue.name(), "planned reconnect: {why}");
                            let _ = tokio::time::timeout(SEND_TIMEOUT, ws.close(None)).await;
                            planned = Some(why);
                            None
                        }
                        End::Lost(why) => Some(why),
                    }
                }
            };
            let Some(why) = failure else { continue };
            let delay = self.backoff.next_delay();
            let next_retry_ms = wall_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            tracing::warn!(
                venue = self.venue.name(),
                attempt = self.backoff.attempts(),
                "{why}; reconnecting in {:.1} s",
                delay.as_secs_f64()
            );
            self.phase = Phase::Waiting { next_retry_ms };
            self.detail =
                format!("{why}; reconnecting in {:.1} s (attempt {})", delay.as_secs_f64(), self.backoff.attempts());
            self.report(true).await;
            let wake = Instant::now() + delay;
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => {
                        self.finish().await;
                        return;
                    }
                    _ = tokio::time::sleep_until(wake) => break,
                    Some(done) = self.backfills.join_next(), if !self.backfills.is_empty() => {
                        self.on_backfill(done).await;
                    }
                    _ = tick.tick() => self.report(false).await,
                }
                if self.closed {
                    return;
                }
            }
        }
        self.finish().await;
    }

    async fn finish(&mut self) {
        self.backfills.abort_all();
        let status = FeedStatus {
            source: self.venue.name().to_owned(),
            state: FeedState::Finished,
            detail: "feed stopped".into(),
            stale: Vec::new(),
            stats: self.stats(0.0),
        };
        let _ = self.tx.try_send(SourceEvent::Feed(status));
    }

    async fn subscribe(&mut self, ws: &mut Ws) -> Result<(), String> {
        for text in self.venue.subscriptions() {
            match tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::Text(text.into()))).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(format!("cannot subscribe: {e}")),
                Err(_) => return Err("cannot subscribe: the send timed out".into()),
            }
        }
        Ok(())
    }

    fn on_connected(&mut self) {
        self.phase = Phase::Connected;
        self.detail = format!("streaming {} symbols", self.syms.len());
        let now = Instant::now();
        for i in 0..self.syms.len() {
            let s = &mut self.syms[i];
            s.last_activity = now;
            s.needs_fill = true;
            s.fill_failures = 0;
            s.retry_at = None;
            if !s.filling {
                self.start_backfill(i, None);
            }
        }
    }

    fn on_disconnected(&mut self) {
        self.phase = Phase::Connecting;
        for s in &mut self.syms {
            // A forming candle may have missed its last trades: REST will give the final one.
            s.forming = None;
            s.needs_fill = true;
        }
    }

    /// Reads frames until the connection ends.
    async fn session(&mut self, ws: &mut Ws, shutdown: &CancellationToken, opened: Instant) -> End {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let app_ping = self.venue.app_ping();
        let ping_every = app_ping.as_ref().map_or(Duration::from_secs(3600), |(d, _)| *d);
        let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        let max_age = self
            .settings
            .max_connection_age
            .or_else(|| self.venue.max_connection_age().map(|d| d.saturating_sub(Duration::from_secs(600))));
        let mut last_frame = Instant::now();
        self.report(true).await;
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return End::Shutdown,
                _ = ping.tick(), if app_ping.is_some() => {
                    if let Some((_, text)) = &app_ping {
                        match tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::Text(text.clone().into()))).await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => return End::Lost(format!("cannot send a ping: {e}")),
                            Err(_) => return End::Lost("cannot send a ping: the send timed out".into()),
                        }
                    }
                }
                _ = tick.tick() => {
                    if last_frame.elapsed() >= self.settings.idle_reconnect {
                        return End::Lost(format!(
                            "no data for {:.0} s without a close frame",
                            last_frame.elapsed().as_secs_f64()
                        ));
                    }
                    if let Some(age) = max_age && opened.elapsed() >= age {
                        return End::Planned(format!(
                            "the connection is {:.0} min old, near the venue's limit",
                            opened.elapsed().as_secs_f64() / 60.0
                        ));
                    }
                    self.close_overdue_candles().await;
                    self.retry_backfills();
                    self.report(false).await;
                }
                Some(done) = self.backfills.join_next(), if !self.backfills.is_empty() => {
                    self.on_backfill(done).await;
                }
                msg = ws.next() => {
                    last_frame = Instant::now();
                    match msg {
                        Some(Ok(Message::Text(text))) => {
                            if let Some(end) = self.on_text(text.as_str()).await {
                                return end;
                            }
                        }
                        Some(Ok(Message::Binary(bytes))) => {
                            self.counters.messages += 1;
                            self.bad(&format!("unexpected binary frame of {} bytes", bytes.len()), "");
                        }
                        // Pings are answered by tungstenite on the next read; both are proof of life.
                        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                        Some(Ok(Message::Close(frame))) => {
                            let why = frame.map_or_else(
                                || "the venue closed the connection".to_owned(),
                                |f| format!("the venue closed the connection ({} {})", u16::from(f.code), f.reason),
                            );
                            return End::Lost(why);
                        }
                        Some(Err(e)) => return End::Lost(format!("connection error: {}", super::rest::error_chain(&e))),
                        None => return End::Lost("the connection ended".into()),
                    }
                }
            }
            if self.closed {
                return End::Shutdown;
            }
        }
    }

    /// Handles one text frame; `Some` ends the connection.
    async fn on_text(&mut self, text: &str) -> Option<End> {
        let recv_ms = wall_ms();
        self.counters.messages += 1;
        self.counters.last_message_ms = Some(recv_ms);
        let mut items = std::mem::take(&mut self.items);
        items.clear();
        let mut end = None;
        match self.venue.decode(text, recv_ms, &mut items) {
            Err(e) => self.bad(&e.to_string(), text),
            Ok(()) => {
                for item in items.drain(..) {
                    match item {
                        WsItem::Market { event, seq } => self.on_market(event, seq, recv_ms).await,
                        WsItem::Candle { symbol, bar, closed, event_ms } => {
                            if let Some(t) = event_ms {
                                self.counters.latency_ms = Some(recv_ms - t);
                            }
                            self.on_candle(symbol, bar, closed).await;
                        }
                        WsItem::Control => {}
                        WsItem::ServerShutdown => {
                            end = Some(End::Planned("the venue announced a server shutdown".into()));
                        }
                    }
                }
            }
        }
        self.items = items;
        end
    }

    async fn on_market(&mut self, event: MarketEvent, seq: Option<u64>, recv_ms: i64) {
        let Some(i) = self.index(event.symbol) else {
            self.bad("event for a symbol we did not subscribe to", event.symbol.as_str());
            return;
        };
        let s = &mut self.syms[i];
        let fresh = match &event.data {
            MarketData::Trade { trade_id, .. } => {
                let id = *trade_id;
                let dup = seq.is_none() && s.recent_trades.contains(&id);
                let fresh = !dup && s.trade.advance(event.ts_ms, seq);
                if fresh && seq.is_none() {
                    s.recent_trades[s.recent_next] = id;
                    s.recent_next = (s.recent_next + 1) % RECENT_TRADES;
                }
                fresh
            }
            MarketData::Quote { .. } => s.quote.advance(event.ts_ms, seq),
            MarketData::Mark { .. } => s.mark.advance(event.ts_ms, seq),
            _ => true,
        };
        if !fresh {
            self.bad(
                "duplicate or out-of-order event",
                &format!("{} {} at {}", event.symbol, event.data.kind(), event.ts_ms),
            );
            return;
        }
        if matches!(event.data, MarketData::Trade { .. } | MarketData::Quote { .. }) {
            s.last_activity = Instant::now();
        }
        self.counters.latency_ms = Some(recv_ms - event.ts_ms);
        if matches!(event.data, MarketData::Quote { .. } | MarketData::Mark { .. }) {
            // Quotes and marks are superseded by the next one: conflate rather than queue.
            if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(SourceEvent::Market(event)) {
                self.counters.conflated += 1;
            }
        } else {
            self.send(SourceEvent::Market(event)).await;
        }
    }

    async fn on_candle(&mut self, symbol: Symbol, bar: Bar, closed: bool) {
        let Some(i) = self.index(symbol) else {
            self.bad("candle for a symbol we did not subscribe to", symbol.as_str());
            return;
        };
        if self.venue.candles_flag_close() {
            if closed {
                self.accept_bar(i, bar).await;
            }
            return;
        }
        match self.syms[i].forming {
            Some(f) if bar.open_ms < f.open_ms => {
                self.bad("out-of-order candle", &format!("{symbol} candle at {}", bar.open_ms));
            }
            Some(f) if bar.open_ms > f.open_ms => {
                // A newer candle started: the previous one is final.
                self.syms[i].forming = Some(bar);
                self.accept_bar(i, f).await;
            }
            _ => self.syms[i].forming = Some(bar),
        }
    }

    /// Closes forming candles whose minute ended more than the grace period ago.
    async fn close_overdue_candles(&mut self) {
        if self.venue.candles_flag_close() {
            return;
        }
        let grace = i64::try_from(self.settings.candle_close_grace.as_millis()).unwrap_or(i64::MAX);
        let now = wall_ms();
        for i in 0..self.syms.len() {
            if let Some(f) = self.syms[i].forming
                && f.open_ms + MINUTE_MS + grace <= now
            {
                self.syms[i].forming = None;
                self.accept_bar(i, f).await;
            }
        }
    }

    /// A closed bar from the stream: forward it, hold it behind a hole, or drop a duplicate.
    async fn accept_bar(&mut self, i: usize, bar: Bar) {
        let s = &mut self.syms[i];
        let previous = s.stream_bar_ms.replace(s.stream_bar_ms.map_or(bar.open_ms, |l| l.max(bar.open_ms)));
        if let Some(c) = s.covered_ms
            && bar.open_ms < c
        {
            // Already settled. A backfill can run ahead of the stream (after a reconnect it
            // fetches up to now), so a settled bar is an overlap, not an error — unless the
            // stream itself goes backwards or repeats a minute far older than anything settled.
            let stream_backwards = previous.is_some_and(|l| bar.open_ms < l);
            let long_settled = previous.is_none() && bar.open_ms + MINUTE_MS < c;
            if stream_backwards || long_settled {
                let what = format!("{} bar at {} (settled up to {c})", s.symbol, bar.open_ms);
                self.bad("out-of-order candle", &what);
            }
            return;
        }
        if s.filling || s.retry_at.is_some() {
            if s.pending.len() < MAX_PENDING_BARS {
                s.pending.push(bar);
            }
            return;
        }
        if let Some(c) = s.covered_ms
            && bar.open_ms > c
        {
            tracing::info!(symbol = %s.symbol, missing = (bar.open_ms - c) / MINUTE_MS, "hole in the 1m bars; backfilling");
            s.pending.push(bar);
            s.needs_fill = true;
            self.start_backfill(i, Some(bar.open_ms));
            return;
        }
        s.covered_ms = Some(bar.open_ms + MINUTE_MS);
        self.emit_bar(i, bar).await;
    }

    async fn emit_bar(&mut self, i: usize, bar: Bar) {
        let symbol = self.syms[i].symbol;
        self.send(SourceEvent::Market(MarketEvent {
            ts_ms: bar.open_ms + MINUTE_MS,
            symbol,
            data: MarketData::Bar(bar),
        }))
        .await;
    }

    /// Starts fetching the bars from `covered_ms` up to `until` (default: now) for symbol `i`.
    fn start_backfill(&mut self, i: usize, until: Option<i64>) {
        let s = &mut self.syms[i];
        let Some(from) = s.covered_ms else {
            // No history to continue: nothing can be missing.
            s.needs_fill = false;
            return;
        };
        let explicit = until.is_some();
        let until = until.unwrap_or_else(|| wall_ms() - CLOSE_MARGIN_MS);
        let from = from.max(Timeframe::M1.bucket_start(until) - MAX_BACKFILL_BARS * MINUTE_MS);
        if until < from + MINUTE_MS {
            s.needs_fill = false;
            return;
        }
        s.filling = true;
        s.retry_at = None;
        let symbol = s.symbol;
        let venue = self.venue.clone();
        self.backfills.spawn(async move {
            let r = venue.closed_bars(symbol, from, until).await;
            (i, from, until, explicit, r)
        });
    }

    /// Restarts failed backfills whose retry time has come.
    fn retry_backfills(&mut self) {
        let now = Instant::now();
        for i in 0..self.syms.len() {
            let s = &self.syms[i];
            if !s.filling && s.retry_at.is_some_and(|t| t <= now) {
                let until = s.pending.iter().map(|b| b.open_ms).min();
                self.start_backfill(i, until);
            }
        }
    }

    async fn on_backfill(&mut self, done: Result<Backfill, tokio::task::JoinError>) {
        let Ok((i, from, until, explicit, result)) = done else {
            tracing::error!(venue = self.venue.name(), "a backfill task failed to complete");
            return;
        };
        let Some(s) = self.syms.get_mut(i) else { return };
        s.filling = false;
        let bars = match result {
            Ok(bars) => bars,
            Err(e) => {
                s.fill_failures += 1;
                let secs = 1u64 << s.fill_failures.min(5);
                s.retry_at = Some(Instant::now() + Duration::from_secs(secs));
                tracing::warn!(symbol = %s.symbol, "backfill of missed 1m bars failed, retrying in {secs} s: {e}");
                self.detail = format!("backfill for {} failed ({e}); retrying in {secs} s", s.symbol);
                return;
            }
        };
        s.fill_failures = 0;
        let n = bars.len();
        for bar in super::closed_in_range(bars, from, until) {
            let s = &mut self.syms[i];
            if s.covered_ms.is_none_or(|c| bar.open_ms >= c) {
                s.covered_ms = Some(bar.open_ms + MINUTE_MS);
                self.emit_bar(i, bar).await;
            }
        }
        let s = &mut self.syms[i];
        if explicit {
            // A later bar already streamed, so the venue has closed every minute before it:
            // the ones REST did not return had no trades.
            let settled = Timeframe::M1.bucket_start(until);
            s.covered_ms = Some(s.covered_ms.map_or(settled, |c| c.max(settled)));
        }
        tracing::debug!(symbol = %s.symbol, bars = n, from, until, "backfill done");
        let mut pending = std::mem::take(&mut s.pending);
        pending.sort_by_key(|b| b.open_ms);
        pending.dedup_by_key(|b| b.open_ms);
        let mut rest = pending.into_iter();
        while let Some(bar) = rest.next() {
            let c = self.syms[i].covered_ms.unwrap_or(bar.open_ms);
            if bar.open_ms < c {
                continue;
            }
            if bar.open_ms > c {
                let s = &mut self.syms[i];
                s.pending.push(bar);
                s.pending.extend(rest);
                let until = Some(bar.open_ms);
                self.start_backfill(i, until);
                return;
            }
            self.syms[i].covered_ms = Some(bar.open_ms + MINUTE_MS);
            self.emit_bar(i, bar).await;
        }
        let s = &mut self.syms[i];
        s.needs_fill = false;
        if self.phase == Phase::Connected && self.syms.iter().all(Sym::trusted) {
            self.detail = format!("streaming {} symbols", self.syms.len());
        }
    }

    fn index(&self, symbol: Symbol) -> Option<usize> {
        self.syms.iter().position(|s| s.symbol == symbol)
    }

    async fn send(&mut self, event: SourceEvent) {
        if self.tx.send(event).await.is_err() {
            // The engine is gone: nothing left to feed.
            self.closed = true;
        }
    }

    fn bad(&mut self, what: &str, sample: &str) {
        self.counters.bad += 1;
        let now = Instant::now();
        if self.last_bad_log.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(10)) {
            let sample: String = sample.chars().take(200).collect();
            tracing::warn!(
                venue = self.venue.name(),
                total_bad = self.counters.bad,
                suppressed = self.bad_unlogged,
                "bad message: {what}: {sample}"
            );
            self.last_bad_log = Some(now);
            self.bad_unlogged = 0;
        } else {
            self.bad_unlogged += 1;
        }
    }

    fn stale_symbols(&self) -> Vec<Symbol> {
        let connected = self.phase == Phase::Connected;
        self.syms
            .iter()
            .filter(|s| !connected || !s.trusted() || s.last_activity.elapsed() >= self.settings.stale_after)
            .map(|s| s.symbol)
            .collect()
    }

    fn stats(&self, messages_per_sec: f64) -> FeedStats {
        FeedStats {
            messages: self.counters.messages,
            messages_per_sec,
            bad_messages: self.counters.bad,
            reconnects: self.counters.reconnects,
            latency_ms: self.counters.latency_ms,
            last_message_ms: self.counters.last_message_ms,
            next_retry_ms: match self.phase {
                Phase::Waiting { next_retry_ms } => Some(next_retry_ms),
                _ => None,
            },
        }
    }

    /// Sends a status if anything changed, or if `force`, or when the periodic report is due.
    async fn report(&mut self, force: bool) {
        let stale = self.stale_symbols();
        let state = match self.phase {
            Phase::Connecting => FeedState::Connecting,
            Phase::Waiting { .. } => FeedState::Disconnected,
            Phase::Connected if stale.is_empty() => FeedState::Live,
            Phase::Connected => FeedState::Stale,
        };
        let detail = self.describe(state, &stale);
        let changed = self.reported.as_ref().is_none_or(|(s, st, d)| *s != state || *st != stale || *d != detail);
        let elapsed = self.last_report.elapsed();
        if !(force || changed || elapsed >= self.settings.status_every) {
            return;
        }
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 { (self.counters.messages - self.messages_at_report) as f64 / secs } else { 0.0 };
        self.messages_at_report = self.counters.messages;
        self.last_report = Instant::now();
        let status = FeedStatus {
            source: self.venue.name().to_owned(),
            state,
            detail: detail.clone(),
            stale: stale.clone(),
            stats: self.stats(rate),
        };
        if changed {
            tracing::info!(venue = self.venue.name(), state = state.as_str(), stale = ?stale, "{detail}");
        }
        self.reported = Some((state, stale, detail));
        self.send(SourceEvent::Feed(status)).await;
    }

    fn describe(&self, state: FeedState, stale: &[Symbol]) -> String {
        if state != FeedState::Stale {
            return self.detail.clone();
        }
        let parts: Vec<String> = stale
            .iter()
            .filter_map(|sym| self.syms.iter().find(|s| s.symbol == *sym))
            .map(|s| {
                if !s.trusted() {
                    format!("{} backfilling missed candles", s.symbol)
                } else {
                    format!("{} silent for {:.0} s", s.symbol, s.last_activity.elapsed().as_secs_f64())
                }
            })
            .collect();
        format!("stale: {}", parts.join(", "))
    }
}

/// The URL without its query (Binance stream lists are long and say nothing to a reader).
fn redact(url: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    if base.len() < url.len() { format!("{base}?…") } else { base.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_drops_duplicates_by_sequence_and_old_events_by_time() {
        let mut o = Order::default();
        assert!(o.advance(100, Some(5)));
        assert!(!o.advance(101, Some(5)), "same sequence is a duplicate");
        assert!(!o.advance(102, Some(4)), "lower sequence is out of order");
        assert!(o.advance(99, Some(6)), "sequence wins over time when both have one");
        let mut t = Order::default();
        assert!(t.advance(100, None));
        assert!(t.advance(100, None), "same time is fine without sequences");
        assert!(!t.advance(99, None));
    }

    #[test]
    fn redact_hides_stream_lists() {
        assert_eq!(redact("wss://x/stream?streams=a/b"), "wss://x/stream?…");
        assert_eq!(redact("wss://x/ws"), "wss://x/ws");
    }
}
