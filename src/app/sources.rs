//! Market source selection for `run`: the simulated market, a live venue, or `auto`.
//!
//! [`prepare`] decides and loads everything a run needs before the engine starts: the
//! instruments (from the venue's exchange info for live sources), and the warm-up history
//! (generated for the sim; fetched over REST as 1m klines for live venues, `live.warmup_bars`
//! per symbol). [`PreparedSource::warmup_batch`] hands that history out in time order for the
//! caller to feed with the engine in warming mode, so indicators are warm before any agent may
//! act, and [`PreparedSource::spawn`] starts the feed task.
//!
//! `auto` tries `market.venue` (exchange info over REST and a WebSocket connect) for at most
//! `live.auto_timeout_secs`; if that fails it runs on the sim and says why in the feed status
//! (the header), on stderr and in the log. Symbols the sim does not have are dropped then, and
//! agents left without symbols are disabled. An explicit `binance`/`hyperliquid` source never
//! falls back: it fails with an error that says what to check.
//!
//! Recording (`run --record FILE`): a [`Recorder`] thread writes the header, every warm-up
//! event, then every live event exactly as the engine receives it (a tap between the feed and
//! the engine), in the JSONL recording format. Events with `ts_ms <= started_ms` (header) are
//! the warm-up history.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{DAY_MS, sim_config};
use crate::config::{Config, LiveVenue, SourceKind};
use crate::domain::{Bar, Instrument, MarketData, MarketEvent, Symbol, Timeframe};
use crate::engine::FeedStatus;
use crate::engine::runner::SourceEvent;
use crate::market::binance::Binance;
use crate::market::hyperliquid::{self, Hyperliquid};
use crate::market::live::supervisor::probe;
use crate::market::live::{FeedStart, HttpSettings, LiveSettings, RestError, Venue, run_feed};
use crate::market::recording::{RecordingHeader, RecordingWriter};
use crate::market::sim::{SimMarket, SimMode};

const MINUTE_MS: i64 = 60_000;
/// Channel between a feed and the recording tap.
const TAP_CAPACITY: usize = 4096;

/// The feed behind a prepared source.
enum Feed {
    Sim(Box<SimMarket>),
    Binance(Arc<Binance>, Vec<(Symbol, Vec<Bar>)>),
    Hyperliquid(Arc<Hyperliquid>, Vec<(Symbol, Vec<Bar>)>),
}

/// Why `source = "auto"` runs the sim instead of the live venue.
#[derive(Debug, Clone)]
pub struct Fallback {
    /// Short, for the header (which also shows the screen tabs at 160 columns): `fallback`.
    pub label: String,
    /// The whole reason, for the log and the feed detail.
    pub note: String,
}

/// A source ready to warm the engine up and stream.
pub struct PreparedSource {
    /// The configuration to run with (after an `auto` fallback: sim symbols only).
    pub config: Config,
    pub instruments: Vec<Instrument>,
    /// Time of the first warm-up event: where the engine's clock starts.
    pub start_ms: i64,
    /// Why the source is not what was asked for (an `auto` fallback), shown in the header.
    pub fallback: Option<Fallback>,
    feed: Feed,
    /// A live venue's history was handed out.
    warmed: bool,
}

/// Feed timing from the `[live]` section.
pub fn live_settings(config: &Config) -> LiveSettings {
    let l = &config.live;
    LiveSettings {
        stale_after: Duration::from_secs_f64(l.stale_after_secs),
        idle_reconnect: Duration::from_secs(u64::from(l.idle_reconnect_secs)),
        connect_timeout: Duration::from_secs(u64::from(l.connect_timeout_secs)),
        backoff_min: Duration::from_millis(l.backoff_min_ms),
        backoff_max: Duration::from_secs(u64::from(l.backoff_max_secs)),
        context_poll: Duration::from_secs(u64::from(l.context_poll_secs)),
        ..LiveSettings::default()
    }
}

fn http_settings(config: &Config) -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(u64::from(config.live.connect_timeout_secs)),
        timeout: Duration::from_secs(20),
        no_proxy: false,
    }
}

/// Picks and loads the source `config.market.source` names; `now_ms` is the wall clock.
/// `sim_start_ms` anchors the simulated market where a resumed run started it.
pub async fn prepare(config: &Config, now_ms: i64, sim_start_ms: Option<i64>) -> anyhow::Result<PreparedSource> {
    match config.market.source {
        SourceKind::Sim => prepare_sim(config, now_ms, sim_start_ms, None),
        SourceKind::Replay => anyhow::bail!(
            "market.source = \"replay\" is for `alphatx backtest` and `alphatx scan`; the cockpit runs on \"sim\", \
             \"binance\", \"hyperliquid\" or \"auto\" (pass --source sim)"
        ),
        SourceKind::Binance => prepare_live(config, LiveVenue::Binance, now_ms, None)
            .await
            .with_context(|| unreachable_hint(config, LiveVenue::Binance)),
        SourceKind::Hyperliquid => prepare_live(config, LiveVenue::Hyperliquid, now_ms, None)
            .await
            .with_context(|| unreachable_hint(config, LiveVenue::Hyperliquid)),
        SourceKind::Auto => {
            let venue = config.market.venue;
            let timeout = Duration::from_secs_f64(config.live.auto_timeout_secs);
            let why = match prepare_live(config, venue, now_ms, Some(timeout)).await {
                Ok(source) => return Ok(source),
                Err(e) => format!("{e:#}"),
            };
            let note = format!("{} unreachable ({why}); using the simulated market", venue.as_str());
            tracing::warn!("source auto: {note}");
            let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("alphatx: {note}\n").as_bytes());
            let fallback = Fallback { label: "fallback".to_owned(), note };
            prepare_sim(&sim_fallback_config(config)?, now_ms, sim_start_ms, Some(fallback))
        }
    }
}

fn unreachable_hint(config: &Config, venue: LiveVenue) -> String {
    let url = match venue {
        LiveVenue::Binance => config.venues.binance.rest_url().to_owned(),
        LiveVenue::Hyperliquid => config.venues.hyperliquid.rest_url.clone(),
    };
    format!(
        "cannot start the {} feed ({url}); check the network and [venues.{}], or run offline with --source sim \
         (--source auto falls back to the sim by itself)",
        venue.as_str(),
        venue.as_str()
    )
}

/// The configuration an `auto` fallback runs with: the sim, and only the symbols it has.
fn sim_fallback_config(config: &Config) -> anyhow::Result<Config> {
    let mut c = config.clone();
    c.market.source = SourceKind::Sim;
    let known: Vec<Symbol> = crate::market::builtin_instruments().iter().map(|i| i.symbol).collect();
    let dropped: Vec<Symbol> = c.market.symbols.iter().copied().filter(|s| !known.contains(s)).collect();
    if !dropped.is_empty() {
        c.market.symbols.retain(|s| known.contains(s));
        if c.market.symbols.is_empty() {
            let names: Vec<&str> = known.iter().map(Symbol::as_str).collect();
            bail!(
                "the live venue is unreachable and the sim market has none of market.symbols (it has {})",
                names.join(", ")
            );
        }
        tracing::warn!(?dropped, "the sim market does not have these symbols; they are not traded");
        for a in &mut c.agents {
            if let Some(s) = &mut a.symbols {
                s.retain(|x| c.market.symbols.contains(x));
                if s.is_empty() {
                    // Disabled; its (now empty) list would not pass validation.
                    a.enabled = false;
                    a.symbols = None;
                }
            }
        }
        if !c.agents.iter().any(|a| a.enabled) {
            bail!("the live venue is unreachable and no agent trades a symbol the sim market has");
        }
    }
    c.validate().context("the simulated market cannot stand in for the live venue")?;
    Ok(c)
}

fn prepare_sim(
    config: &Config,
    now_ms: i64,
    sim_start_ms: Option<i64>,
    fallback: Option<Fallback>,
) -> anyhow::Result<PreparedSource> {
    let warmup_ms = i64::from(config.sim.warmup_days) * DAY_MS;
    let start_ms = sim_start_ms.unwrap_or_else(|| Timeframe::M1.bucket_start(now_ms - warmup_ms));
    let sim = SimMarket::new(sim_config(config, start_ms, SimMode::Bars, config.sim.step_ms))
        .context("cannot build the simulated market")?;
    Ok(PreparedSource {
        config: config.clone(),
        instruments: sim.instruments(),
        start_ms,
        fallback,
        feed: Feed::Sim(Box::new(sim)),
        warmed: false,
    })
}

/// Loads instruments and warm-up history from a live venue. With `probe_within`, the venue
/// must answer (exchange info and a WebSocket connect) within that time.
async fn prepare_live(
    config: &Config,
    venue: LiveVenue,
    now_ms: i64,
    probe_within: Option<Duration>,
) -> anyhow::Result<PreparedSource> {
    let http = http_settings(config);
    let symbols = config.market.symbols.clone();
    let bars = i64::from(config.live.warmup_bars);
    match venue {
        LiveVenue::Binance => {
            let b = &config.venues.binance;
            let v = Binance::new(b.market, b.rest_url(), b.ws_url(), symbols, &http)?;
            let instruments = within(probe_within, async {
                let instruments = v.instruments().await?;
                probe_ws(&v, probe_within).await?;
                Ok(instruments)
            })
            .await?;
            let v = Arc::new(v);
            let history = fetch_history(v.as_ref(), now_ms, bars).await?;
            Ok(live_source(config, instruments, history, |h| Feed::Binance(v, h)))
        }
        LiveVenue::Hyperliquid => {
            let h = &config.venues.hyperliquid;
            let mut v = Hyperliquid::new(&h.rest_url, &h.ws_url, symbols, &http)?;
            let instruments = within(probe_within, async {
                let instruments = v.load_instruments().await?;
                probe_ws(&v, probe_within).await?;
                Ok(instruments)
            })
            .await?;
            let v = Arc::new(v);
            let history = fetch_history(v.as_ref(), now_ms, bars.min(hyperliquid::MAX_CANDLES)).await?;
            Ok(live_source(config, instruments, history, |h| Feed::Hyperliquid(v, h)))
        }
    }
}

async fn within<T>(
    limit: Option<Duration>,
    fut: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    match limit {
        None => fut.await,
        Some(d) => tokio::time::timeout(d, fut)
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {:.1} s", d.as_secs_f64()))?,
    }
}

async fn probe_ws<V: Venue>(venue: &V, limit: Option<Duration>) -> anyhow::Result<()> {
    if let Some(limit) = limit {
        probe(&venue.ws_url(), limit).await.map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

/// The last `bars` closed 1m bars of every symbol, fetched concurrently within rate limits.
async fn fetch_history<V: Venue>(venue: &V, now_ms: i64, bars: i64) -> Result<Vec<(Symbol, Vec<Bar>)>, RestError> {
    let until = now_ms - 2_000;
    let from = Timeframe::M1.bucket_start(until) - bars * MINUTE_MS;
    tracing::info!(venue = venue.name(), bars, symbols = venue.symbols().len(), "fetching warm-up history");
    let fetches =
        venue.symbols().iter().map(|&s| async move { venue.closed_bars(s, from, until).await.map(|b| (s, b)) });
    let history = futures_util::future::try_join_all(fetches).await?;
    for (s, b) in &history {
        tracing::info!(symbol = %s, bars = b.len(), "warm-up history loaded");
    }
    Ok(history)
}

fn live_source(
    config: &Config,
    instruments: Vec<Instrument>,
    history: Vec<(Symbol, Vec<Bar>)>,
    feed: impl FnOnce(Vec<(Symbol, Vec<Bar>)>) -> Feed,
) -> PreparedSource {
    let start_ms = history.iter().filter_map(|(_, b)| b.first()).map(|b| b.open_ms + MINUTE_MS).min().unwrap_or(0);
    PreparedSource { config: config.clone(), instruments, start_ms, fallback: None, feed: feed(history), warmed: false }
}

impl PreparedSource {
    /// Name of the source for headers and recordings.
    pub fn name(&self) -> &str {
        match &self.feed {
            Feed::Sim(_) => "sim",
            Feed::Binance(v, _) => v.name(),
            Feed::Hyperliquid(v, _) => v.name(),
        }
    }

    /// True for the simulated market.
    pub fn is_sim(&self) -> bool {
        matches!(self.feed, Feed::Sim(_))
    }

    /// Appends the next batch of warm-up history (one simulated minute, or a live venue's whole
    /// REST history in time order) to `out`; `false` once the history up to `live_from` is out.
    pub fn warmup_batch(&mut self, live_from: i64, out: &mut Vec<MarketEvent>) -> bool {
        match &mut self.feed {
            Feed::Sim(sim) => {
                if sim.now_ms() >= live_from {
                    return false;
                }
                sim.step(out);
                true
            }
            Feed::Binance(_, history) | Feed::Hyperliquid(_, history) => {
                if self.warmed {
                    return false;
                }
                self.warmed = true;
                let start = out.len();
                out.extend(history.iter().flat_map(|(symbol, bars)| {
                    bars.iter().map(|b| MarketEvent {
                        ts_ms: b.open_ms + MINUTE_MS,
                        symbol: *symbol,
                        data: MarketData::Bar(*b),
                    })
                }));
                out[start..].sort_by_key(|e| e.ts_ms);
                true
            }
        }
    }

    /// After the warm-up: the sim switches to live ticks (which close each minute with its bar).
    pub fn go_live(&mut self) {
        if let Feed::Sim(sim) = &mut self.feed {
            sim.set_mode(SimMode::Ticks);
        }
    }

    /// Starts the feed. Market data and feed status go to `tx`, through the recorder if any.
    pub fn spawn(
        self,
        tx: mpsc::Sender<SourceEvent>,
        recorder: Option<Recorder>,
        shutdown: CancellationToken,
        sim_feed: impl FnOnce(SimMarket, mpsc::Sender<SourceEvent>, CancellationToken) -> JoinHandle<()>,
    ) -> JoinHandle<()> {
        let fallback = self.fallback.clone();
        let settings = live_settings(&self.config);
        let seed = self.config.sim.seed;
        let (feed_tx, feed_rx) = if recorder.is_some() || fallback.is_some() {
            let (a, b) = mpsc::channel(TAP_CAPACITY);
            (a, Some(b))
        } else {
            (tx.clone(), None)
        };
        let start = |history: &[(Symbol, Vec<Bar>)]| FeedStart {
            last_bar_open: history.iter().map(|(s, b)| (*s, b.last().map(|b| b.open_ms))).collect(),
            seed,
        };
        let feed = match self.feed {
            Feed::Sim(sim) => sim_feed(*sim, feed_tx, shutdown),
            Feed::Binance(v, history) => tokio::spawn(run_feed(v, settings, start(&history), feed_tx, shutdown)),
            Feed::Hyperliquid(v, history) => tokio::spawn(run_feed(v, settings, start(&history), feed_tx, shutdown)),
        };
        let Some(rx) = feed_rx else { return feed };
        tokio::spawn(async move {
            tap(rx, tx, recorder.as_ref(), fallback.as_ref()).await;
            let _ = feed.await;
            if let Some(r) = recorder {
                r.finish().await;
            }
        })
    }
}

/// Forwards feed output to the engine, recording market events and marking feed statuses with
/// the `auto` fallback: the source is named `sim (fallback)` in the header and the status line,
/// and the detail (Risk & health screen) starts with the full reason, which the log has too.
async fn tap(
    mut rx: mpsc::Receiver<SourceEvent>,
    tx: mpsc::Sender<SourceEvent>,
    recorder: Option<&Recorder>,
    fallback: Option<&Fallback>,
) {
    while let Some(mut ev) = rx.recv().await {
        match &mut ev {
            SourceEvent::Market(m) => {
                if let Some(r) = recorder {
                    r.record(m).await;
                }
            }
            SourceEvent::Feed(FeedStatus { source, detail, .. }) => {
                if let Some(Fallback { label, note }) = fallback {
                    *source = format!("{source} ({label})");
                    *detail = if detail.is_empty() { note.clone() } else { format!("{note} · {detail}") };
                }
            }
        }
        if tx.send(ev).await.is_err() {
            break;
        }
    }
}

/// Writes a recording on its own thread (file I/O never blocks the async runtime).
pub struct Recorder {
    tx: mpsc::Sender<MarketEvent>,
    done: oneshot::Receiver<Result<u64, String>>,
    path: std::path::PathBuf,
    /// Set once the writer is gone, so the failure is logged once, not per event.
    failed: std::sync::atomic::AtomicBool,
}

impl Recorder {
    /// Creates `path` with `header`; fails at once if the file cannot be created.
    pub async fn start(path: &Path, header: RecordingHeader) -> anyhow::Result<Self> {
        let (tx, mut rx) = mpsc::channel::<MarketEvent>(TAP_CAPACITY);
        let (ready_tx, ready_rx) = oneshot::channel::<Result<(), String>>();
        let (done_tx, done) = oneshot::channel();
        let owned = path.to_owned();
        std::thread::Builder::new()
            .name("alphatx-recorder".into())
            .spawn(move || {
                let mut writer = match RecordingWriter::create(&owned, &header) {
                    Ok(w) => {
                        let _ = ready_tx.send(Ok(()));
                        w
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let mut count: u64 = 0;
                let result = loop {
                    let Some(ev) = rx.blocking_recv() else { break writer.flush().map(|()| count) };
                    if let Err(e) = writer.write(&ev) {
                        break Err(e);
                    }
                    count += 1;
                    // Flush whenever the queue runs dry, so a crash loses at most a burst.
                    if rx.is_empty()
                        && let Err(e) = writer.flush()
                    {
                        break Err(e);
                    }
                };
                let _ = done_tx.send(result.map_err(|e| e.to_string()));
            })
            .context("cannot start the recorder thread")?;
        match ready_rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => bail!("cannot record: {e}"),
            Err(_) => bail!("cannot record to {}: the recorder thread stopped", path.display()),
        }
        tracing::info!(path = %path.display(), "recording market data");
        Ok(Self { tx, done, path: path.to_owned(), failed: std::sync::atomic::AtomicBool::new(false) })
    }

    /// Queues one event (waits if the writer is behind: a recording must be complete).
    pub async fn record(&self, event: &MarketEvent) {
        if self.tx.send(event.clone()).await.is_err() && !self.failed.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::error!(path = %self.path.display(), "the recorder stopped; events are no longer recorded");
        }
    }

    /// Closes the recording and waits until it is flushed.
    pub async fn finish(self) {
        drop(self.tx);
        match self.done.await {
            Ok(Ok(n)) => tracing::info!(path = %self.path.display(), events = n, "recording closed"),
            Ok(Err(e)) => tracing::error!(path = %self.path.display(), "recording failed: {e}"),
            Err(_) => tracing::error!(path = %self.path.display(), "the recorder thread ended without closing"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AgentId;

    #[test]
    fn auto_fallback_keeps_only_sim_symbols_and_disables_orphaned_agents() {
        let mut c = Config::default();
        c.market.source = SourceKind::Auto;
        c.market.symbols = ["BTCUSDT", "DOGEUSDT"].iter().map(|s| Symbol::new(s).unwrap()).collect();
        c.agents[1].symbols = Some(vec![Symbol::new("DOGEUSDT").unwrap()]);
        let f = sim_fallback_config(&c).unwrap();
        assert_eq!(f.market.source, SourceKind::Sim);
        assert_eq!(f.market.symbols, vec![Symbol::new("BTCUSDT").unwrap()]);
        assert!(f.agents[0].enabled);
        assert!(!f.agents[1].enabled, "{:?} traded only DOGE", AgentId::new("trend"));
        c.market.symbols = vec![Symbol::new("DOGEUSDT").unwrap()];
        c.agents[1].symbols = None;
        let e = sim_fallback_config(&c).unwrap_err().to_string();
        assert!(e.contains("sim market has none"), "{e}");
    }
}
