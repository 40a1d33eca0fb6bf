//! `alphatx run`: the arena live on the configured market, until Ctrl-C, SIGTERM or SIGHUP.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rust_decimal::Decimal;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{Paths, build_driver};
use crate::cli::RunArgs;
use crate::clock::{ManualClock, fmt_time};
use crate::config::Config;
use crate::engine::runner::{self, RunnerConfig, RunnerIo, SourceEvent};
use crate::engine::{Durability, FeedState, FeedStatus, Snapshot};
use crate::market::candles::CandleInput;
use crate::market::recording::RecordingHeader;
use crate::market::sim::SimMarket;

/// Runs the arena live on the simulated market until Ctrl-C, SIGTERM or `--duration`.
pub fn run(config: &Config, paths: &Paths, args: &RunArgs) -> anyhow::Result<()> {
    let _log_guard = crate::logging::init(&paths.log_dir(), &config.logging.level, config.logging.keep_files)?;
    tracing::info!(data_dir = %paths.data_dir.display(), "alphatx starting");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(run_async(config.clone(), args.clone()));
    if let Err(e) = &result {
        tracing::error!("run failed: {e:#}");
    }
    tracing::info!("alphatx stopped");
    result
}

async fn run_async(config: Config, args: RunArgs) -> anyhow::Result<()> {
    let speed = args.speed.unwrap_or(config.sim.speed);
    if !(speed.is_finite() && speed > 0.0 && speed <= 100_000.0) {
        bail!("--speed must be in (0, 100000], got {speed}");
    }
    let now_ms = jiff::Timestamp::now().as_millisecond();
    // History up to now (instantly), then live data: sim ticks paced by the clock, or a venue.
    let mut source = super::sources::prepare(&config, now_ms).await?;
    let config = source.config.clone();
    let clock = ManualClock::new(source.start_ms);
    let mut driver = build_driver(&config, source.instruments.clone(), clock, CandleInput::Bars, Durability::Direct)?;
    let recorder = match &args.record {
        Some(path) => {
            let header = RecordingHeader::new(source.name(), now_ms, source.instruments.clone());
            Some(super::sources::Recorder::start(path, header).await?)
        }
        None => None,
    };
    source.warm_up(&mut driver, now_ms, recorder.as_ref()).await;

    let shutdown = CancellationToken::new();
    let (market_tx, market_rx) = mpsc::channel(4096);
    let (_cmd_tx, cmd_rx) = mpsc::channel(64);
    let (_venue_tx, venue_rx) = mpsc::channel(64);
    let (_reply_tx, reply_rx) = mpsc::channel(64);
    let (req_tx, _req_rx) = mpsc::channel(64);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::default()));
    let io = RunnerIo {
        market: market_rx,
        commands: cmd_rx,
        venue: venue_rx,
        replies: reply_rx,
        requests: req_tx,
        snapshots: snap_tx,
    };
    let feed = source
        .spawn(market_tx, recorder, shutdown.clone(), |sim, tx, stop| tokio::spawn(sim_feed(sim, speed, tx, stop)));
    let runner_cfg = RunnerConfig { tick: Duration::from_millis(100), snapshot_hz: config.engine.snapshot_hz };
    let engine_task = tokio::spawn(runner::run(driver, io, runner_cfg, shutdown.clone()));
    let status = tokio::spawn(status_lines(
        snap_rx,
        Duration::from_secs(u64::from(config.engine.status_interval_secs)),
        shutdown.clone(),
    ));

    let deadline = args.duration.map(Duration::from_secs_f64);
    wait_for_stop(deadline).await;
    tracing::info!("shutting down");
    shutdown.cancel();
    let _ = feed.await;
    let (_driver, _reason) = engine_task.await.context("the engine task failed")?;
    let _ = status.await;
    Ok(())
}

/// Resolves on Ctrl-C, SIGTERM, SIGHUP or the optional deadline.
async fn wait_for_stop(deadline: Option<Duration>) {
    let timer = async {
        match deadline {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).ok();
        let mut hup = signal(SignalKind::hangup()).ok();
        let term_fut = async {
            match term.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        let hup_fut = async {
            match hup.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted (Ctrl-C)"),
            _ = term_fut => tracing::info!("SIGTERM"),
            _ = hup_fut => tracing::info!("SIGHUP"),
            _ = timer => tracing::info!("duration reached"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted (Ctrl-C)"),
            _ = timer => tracing::info!("duration reached"),
        }
    }
}

/// Paces the simulated market against the wall clock (`speed` × real time).
async fn sim_feed(mut sim: SimMarket, speed: f64, tx: mpsc::Sender<SourceEvent>, shutdown: CancellationToken) {
    let status = |state, detail: String| SourceEvent::Feed(FeedStatus::new("sim", state, detail));
    if tx.send(status(FeedState::Live, format!("simulated market at {speed}× real time"))).await.is_err() {
        return;
    }
    let wall_start = tokio::time::Instant::now();
    let sim_start = sim.now_ms();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        sim.step(&mut buf);
        let due_ms = (sim.now_ms() - sim_start) as f64 / speed;
        let due = wall_start + Duration::from_secs_f64(due_ms.max(0.0) / 1000.0);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep_until(due) => {}
        }
        for ev in buf.drain(..) {
            if tx.send(SourceEvent::Market(ev)).await.is_err() {
                return;
            }
        }
    }
}

/// Prints a one-line status every `every` until shutdown.
async fn status_lines(mut rx: watch::Receiver<Arc<Snapshot>>, every: Duration, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let snap = rx.borrow_and_update().clone();
        if snap.version == 0 {
            continue;
        }
        let line = status_line(&snap);
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            break;
        }
    }
}

/// One line: time, feed, prices, each agent's equity and return, activity counters.
pub fn status_line(snap: &Snapshot) -> String {
    let prices: Vec<String> = snap
        .markets
        .iter()
        .map(|m| format!("{} {}", m.base, m.last.map_or_else(|| "—".to_owned(), |p| p.normalize().to_string())))
        .collect();
    let agents: Vec<String> = snap
        .agents
        .iter()
        .map(|a| {
            let state = if a.paused {
                " PAUSED".to_owned()
            } else if a.state != crate::risk::TradingState::Active {
                format!(" {}", a.state.as_str())
            } else {
                String::new()
            };
            format!(
                "{} {} ({:+.2}%) {}pos{}",
                a.id,
                a.equity.round_dp(2),
                a.metrics.total_return_pct,
                a.positions.len(),
                state
            )
        })
        .collect();
    let total: Decimal = snap.total_equity();
    format!(
        "{} {} {} | {} | {} | arena {} | fills {} refusals {}",
        fmt_time(snap.now_ms),
        snap.source.name,
        snap.source.state.as_str(),
        prices.join(" "),
        agents.join(" | "),
        total.round_dp(2),
        snap.counters.fills,
        snap.counters.refusals
    )
}
