//! `alphatx run`: the arena live on the configured market with the cockpit TUI (or, with
//! `--headless`, status lines on stdout), until the operator quits, Ctrl-C, SIGTERM or SIGHUP.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rust_decimal::Decimal;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{DAY_MS, Paths, build_driver, sim_config};
use crate::cli::RunArgs;
use crate::clock::{ManualClock, fmt_time};
use crate::config::{Config, OnHangup};
use crate::engine::runner::{self, RunnerConfig, RunnerIo, SourceEvent};
use crate::engine::{Durability, FeedState, FeedStatus, Snapshot};
use crate::market::candles::CandleInput;
use crate::market::sim::{SimMarket, SimMode};
use crate::ui::{UiExit, UiOptions};

/// Runs the arena live on the simulated market until Ctrl-C, SIGTERM or `--duration`.
pub fn run(config: &Config, paths: &Paths, args: &RunArgs) -> anyhow::Result<()> {
    // The cockpit shows the log in-app; nothing may be written to the terminal it owns.
    let log_ring = (!args.headless).then(|| crate::logging::LogRing::new(2_000));
    let _log_guard = crate::logging::init_with_ring(
        &paths.log_dir(),
        &config.logging.level,
        config.logging.keep_files,
        log_ring.clone(),
    )?;
    let ui = log_ring.map(|logs| UiOptions {
        config: config.ui.clone(),
        theme: args.theme.clone(),
        ascii: args.ascii,
        color: args.color,
        config_dir: config_dir(paths),
        logs: Some(logs),
    });
    tracing::info!(data_dir = %paths.data_dir.display(), "alphatx starting");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(run_async(config.clone(), args.clone(), ui));
    if let Err(e) = &result {
        tracing::error!("run failed: {e:#}");
    }
    tracing::info!("alphatx stopped");
    result
}

/// Where user themes are looked for: next to the config file in use, else the platform dir.
fn config_dir(paths: &Paths) -> Option<std::path::PathBuf> {
    match paths.config_file.as_deref().and_then(std::path::Path::parent) {
        Some(dir) if !dir.as_os_str().is_empty() => Some(dir.to_owned()),
        _ => directories::ProjectDirs::from("dev", "AlphaTransformer", "alphatx").map(|d| d.config_dir().to_owned()),
    }
}

async fn run_async(config: Config, args: RunArgs, ui: Option<UiOptions>) -> anyhow::Result<()> {
    let speed = args.speed.unwrap_or(config.sim.speed);
    if !(speed.is_finite() && speed > 0.0 && speed <= 100_000.0) {
        bail!("--speed must be in (0, 100000], got {speed}");
    }
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let warmup_ms = i64::from(config.sim.warmup_days) * DAY_MS;
    // History up to now (bars, instantly), then live ticks paced by the clock.
    let start_ms = crate::domain::Timeframe::M1.bucket_start(now_ms - warmup_ms);
    let mut sim = SimMarket::new(sim_config(&config, start_ms, SimMode::Bars, config.sim.step_ms))
        .context("cannot build the simulated market")?;
    let clock = ManualClock::new(start_ms);
    let mut driver = build_driver(&config, sim.instruments(), clock, CandleInput::Bars, Durability::Direct)?;
    driver.engine.set_warming(true);
    let mut buf = Vec::new();
    let live_from = crate::domain::Timeframe::M1.bucket_start(now_ms);
    while sim.now_ms() < live_from {
        buf.clear();
        sim.step(&mut buf);
        for ev in buf.drain(..) {
            driver.on_market(ev);
        }
        driver.discard_records();
    }
    driver.engine.set_warming(false);
    driver.engine.set_candle_input(CandleInput::Trades);
    tracing::info!(warmup_days = config.sim.warmup_days, "sim history generated; going live");
    sim.set_mode(SimMode::Ticks);

    let shutdown = CancellationToken::new();
    let (market_tx, market_rx) = mpsc::channel(4096);
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
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
    let feed = tokio::spawn(sim_feed(sim, speed, market_tx, shutdown.clone()));
    let runner_cfg = RunnerConfig { tick: Duration::from_millis(100), snapshot_hz: config.engine.snapshot_hz };
    let engine_task = tokio::spawn(runner::run(driver, io, runner_cfg, shutdown.clone()));
    let deadline = args.duration.map(Duration::from_secs_f64);
    let mut status = None;
    match ui {
        Some(options) => run_cockpit(snap_rx, cmd_tx.clone(), options, shutdown.clone(), deadline).await?,
        None => {
            status = Some(tokio::spawn(status_lines(
                snap_rx,
                Duration::from_secs(u64::from(config.engine.status_interval_secs)),
                shutdown.clone(),
            )));
            wait_for_stop(deadline).await;
        }
    }
    tracing::info!("shutting down");
    shutdown.cancel();
    let _ = feed.await;
    let (_driver, _reason) = engine_task.await.context("the engine task failed")?;
    if let Some(status) = status {
        let _ = status.await;
    }
    // Held to the end so the engine's command channel stays open in headless runs too.
    drop(cmd_tx);
    Ok(())
}

/// Runs the cockpit until it closes (or the deadline passes). After a hangup with
/// `ui.on_hangup = "keep-running"` the engine keeps trading headless until a stop signal.
async fn run_cockpit(
    snapshots: watch::Receiver<Arc<Snapshot>>,
    commands: mpsc::Sender<crate::engine::Command>,
    options: UiOptions,
    shutdown: CancellationToken,
    deadline: Option<Duration>,
) -> anyhow::Result<()> {
    let keep_running = options.config.on_hangup == OnHangup::KeepRunning;
    let started = tokio::time::Instant::now();
    let cockpit = crate::ui::run_tui(snapshots, commands, options, shutdown);
    let exit = match deadline {
        Some(d) => tokio::select! {
            r = cockpit => r?,
            _ = tokio::time::sleep(d) => UiExit::Shutdown,
        },
        None => cockpit.await?,
    };
    tracing::info!(?exit, "Cockpit closed");
    if exit == UiExit::Hangup && keep_running {
        tracing::warn!("Terminal lost; the engine keeps running headless (ui.on_hangup = keep-running) until SIGTERM");
        wait_for_stop(deadline.map(|d| d.saturating_sub(started.elapsed()))).await;
    }
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
