//! Wiring: builds the arena (market, venue, agents, engine) from the configuration and runs it
//! as a live paper session (`run`) or as a backtest.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rust_decimal::Decimal;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::agents::baseline::BuyAndHold;
use crate::agents::rules::trend::Trend;
use crate::cli::{BacktestArgs, GlobalArgs, RunArgs};
use crate::clock::{ManualClock, fmt_time};
use crate::config::{Config, StrategyParams};
use crate::domain::{Instrument, MarketEvent};
use crate::engine::runner::{self, RunnerConfig, RunnerIo, SourceEvent};
use crate::engine::state::AgentDriver;
use crate::engine::{
    AgentReport, AgentSpec, Driver, Durability, Engine, EngineConfig, FeedState, FeedStatus, Snapshot,
};
use crate::execution::ExecutionClient;
use crate::execution::paper::PaperExchange;
use crate::market::candles::CandleInput;
use crate::market::sim::{SimConfig, SimMarket, SimMode};
use crate::risk::RiskGate;

const DAY_MS: i64 = 86_400_000;

/// Fixed start of simulated backtests (2025-01-01 00:00 UTC): never the wall clock, so the same
/// seed always gives the same report.
pub const BACKTEST_EPOCH_MS: i64 = 1_735_689_600_000;

/// Where configuration and data live.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The configuration file to read, if any.
    pub config_file: Option<PathBuf>,
    pub data_dir: PathBuf,
}

impl Paths {
    /// Resolves paths from flags/env, falling back to the platform directories.
    pub fn resolve(global: &GlobalArgs) -> anyhow::Result<Self> {
        let dirs = directories::ProjectDirs::from("dev", "AlphaTransformer", "alphatx");
        let config_file = match &global.config {
            Some(p) => Some(p.clone()),
            None => dirs.as_ref().map(|d| d.config_dir().join("config.toml")).filter(|p| p.is_file()),
        };
        let data_dir = match (&global.data_dir, &dirs) {
            (Some(d), _) => d.clone(),
            (None, Some(d)) => d.data_dir().to_owned(),
            (None, None) => bail!(
                "cannot find a home directory for the default data directory; pass --data-dir DIR or set ALPHATX_DATA_DIR"
            ),
        };
        Ok(Self { config_file, data_dir })
    }

    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }
}

/// Loads the configuration and applies command-line overrides.
pub fn load_config(global: &GlobalArgs) -> anyhow::Result<Config> {
    let config_file = match &global.config {
        Some(p) => Some(p.clone()),
        None => directories::ProjectDirs::from("dev", "AlphaTransformer", "alphatx")
            .map(|d| d.config_dir().join("config.toml"))
            .filter(|p| p.is_file()),
    };
    let mut config = Config::load(config_file.as_deref())?;
    if let Some(source) = global.source {
        config.market.source = source;
    }
    if let Some(seed) = global.seed {
        config.sim.seed = seed;
    }
    if let Some(symbols) = &global.symbols {
        config.market.symbols = symbols.clone();
        // Agents that named symbols keep those still traded.
        for a in &mut config.agents {
            if let Some(s) = &mut a.symbols {
                s.retain(|x| symbols.contains(x));
                if s.is_empty() {
                    a.enabled = false;
                }
            }
        }
    }
    if let Some(only) = &global.agents {
        for name in only {
            if !config.agents.iter().any(|a| a.name == *name) {
                let known: Vec<&str> = config.agents.iter().map(|a| a.name.as_str()).collect();
                bail!("--agents: no agent named {name} (configured: {})", known.join(", "));
            }
        }
        for a in &mut config.agents {
            a.enabled = only.contains(&a.name);
        }
    }
    config.validate()?;
    Ok(config)
}

/// The simulated market's settings for `config`.
pub fn sim_config(config: &Config, start_ms: i64, mode: SimMode, step_ms: i64) -> SimConfig {
    let mut sim = SimConfig::default_markets(config.sim.seed, start_ms, mode);
    sim.symbols.retain(|s| config.market.symbols.contains(&s.instrument.symbol));
    sim.step_ms = step_ms;
    sim
}

/// Builds the agents enabled in `config`.
pub fn build_agents(config: &Config) -> anyhow::Result<Vec<AgentSpec>> {
    let mut specs = Vec::new();
    for a in config.agents.iter().filter(|a| a.enabled) {
        let (driver, benchmark) = match a.strategy()? {
            StrategyParams::BuyAndHold(p) => (AgentDriver::Rule(Box::new(BuyAndHold::new(p))), true),
            StrategyParams::Trend(p) => (AgentDriver::Rule(Box::new(Trend::new(p))), false),
        };
        specs.push(AgentSpec {
            id: a.name,
            driver,
            benchmark,
            symbols: config.agent_symbols(a),
            balance: config.agent_balance(a),
        });
    }
    Ok(specs)
}

/// Engine + paper venue for `config`, driven by market time from `clock`.
pub fn build_driver(
    config: &Config,
    instruments: Vec<Instrument>,
    clock: ManualClock,
    candle_input: CandleInput,
    durability: Durability,
) -> anyhow::Result<Driver> {
    let specs = build_agents(config)?;
    let mut paper = PaperExchange::new(config.paper.venue.clone(), instruments.clone(), 1);
    for s in &specs {
        paper.open_account(s.id, s.balance);
    }
    let engine_config = EngineConfig {
        equity_sample_ms: i64::from(config.engine.equity_sample_secs) * 1000,
        candle_history: config.engine.candle_history,
        log_capacity: config.engine.log_lines,
        candle_input,
        mode: "PAPER".into(),
        source: config.market.source.as_str().into(),
    };
    let engine =
        Engine::new(engine_config, instruments, specs, RiskGate::new(config.risk.clone()), Arc::new(clock.clone()));
    Ok(Driver::new(engine, Box::new(paper), Some(clock), durability))
}

/// A finished backtest.
#[derive(Debug, Serialize)]
pub struct BacktestReport {
    pub source: String,
    pub seed: u64,
    pub symbols: Vec<String>,
    pub warmup_days: u32,
    pub days: f64,
    pub start: String,
    pub end: String,
    /// Market events processed (warm-up included).
    pub events: u64,
    pub fills: u64,
    pub agents: Vec<AgentReport>,
}

/// Runs a backtest on the simulated market. Returns the report and the wall time it took.
pub fn backtest(config: &Config, args: &BacktestArgs) -> anyhow::Result<(BacktestReport, Duration)> {
    if !(args.days.is_finite() && args.days > 0.0 && args.days <= 3650.0) {
        bail!("--days must be in (0, 3650], got {}", args.days);
    }
    let start_ms = BACKTEST_EPOCH_MS;
    let sim_cfg = sim_config(config, start_ms, SimMode::Bars, 60_000);
    let mut sim = SimMarket::new(sim_cfg).context("cannot build the simulated market")?;
    let instruments = sim.instruments();
    let clock = ManualClock::new(start_ms);
    let mut driver = build_driver(config, instruments, clock, CandleInput::Bars, Durability::Direct)?;
    let warm_end = start_ms + i64::from(config.sim.warmup_days) * DAY_MS;
    let end = warm_end + (args.days * DAY_MS as f64) as i64;
    driver.engine.set_warming(true);
    let mut warming = true;
    let started = Instant::now();
    let mut events: u64 = 0;
    let mut buf: Vec<MarketEvent> = Vec::with_capacity(16);
    loop {
        buf.clear();
        sim.step(&mut buf);
        if buf.first().is_none_or(|e| e.ts_ms > end) {
            break;
        }
        if warming && buf[0].ts_ms > warm_end {
            warming = false;
            driver.engine.set_warming(false);
        }
        for ev in buf.drain(..) {
            driver.on_market(ev);
            events += 1;
        }
        driver.discard_records();
    }
    driver.finish();
    driver.discard_records();
    let elapsed = started.elapsed();
    let report = BacktestReport {
        source: "sim".into(),
        seed: config.sim.seed,
        symbols: config.market.symbols.iter().map(|s| s.to_string()).collect(),
        warmup_days: config.sim.warmup_days,
        days: args.days,
        start: crate::clock::fmt_ts(warm_end),
        end: crate::clock::fmt_ts(driver.engine.now_ms()),
        events,
        fills: driver.engine.counters().fills,
        agents: driver.engine.reports(),
    };
    Ok((report, elapsed))
}

/// Formats a backtest report as a table.
pub fn format_report(report: &BacktestReport) -> String {
    let mut s = String::new();
    let opt = |v: Option<f64>, prec: usize| v.map_or_else(|| "—".to_owned(), |x| format!("{x:.prec$}"));
    s.push_str(&format!(
        "backtest: {} seed {} · {} · {} → {} ({} days after {} days warm-up)\n\n",
        report.source,
        report.seed,
        report.symbols.join(","),
        report.start,
        report.end,
        report.days,
        report.warmup_days
    ));
    s.push_str(&format!(
        "{:<16} {:<13} {:>9} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>9} {:>7} {:>6}\n",
        "agent",
        "kind",
        "return%",
        "sharpe",
        "sortino",
        "maxDD%",
        "win%",
        "PF",
        "trades",
        "/day",
        "fees",
        "fees%",
        "expo%"
    ));
    for a in &report.agents {
        let m = &a.metrics;
        s.push_str(&format!(
            "{:<16} {:<13} {:>+9.2} {:>7} {:>7} {:>7.2} {:>6} {:>6} {:>6} {:>6} {:>9.2} {:>7} {:>6}\n",
            a.agent.as_str(),
            a.kind,
            m.total_return_pct,
            opt(m.sharpe, 2),
            opt(m.sortino, 2),
            m.max_drawdown_pct,
            opt(m.win_rate_pct, 1),
            opt(m.profit_factor, 2),
            m.trades,
            opt(m.trades_per_day, 2),
            m.fees,
            opt(m.fees_pct_of_gross, 1),
            opt(m.exposure_pct, 1),
        ));
    }
    let refusals: Vec<String> = report
        .agents
        .iter()
        .filter(|a| !a.refusals.is_empty())
        .map(|a| {
            let parts: Vec<String> = a.refusals.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{}: {}", a.agent, parts.join(" "))
        })
        .collect();
    s.push_str(&format!(
        "\nrefusals: {}\nevents: {} · fills: {}\n",
        if refusals.is_empty() { "none".to_owned() } else { refusals.join(" · ") },
        report.events,
        report.fills
    ));
    s
}

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
    let feed = tokio::spawn(sim_feed(sim, speed, market_tx, shutdown.clone()));
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
    let status = |state, detail: String| SourceEvent::Feed(FeedStatus { source: "sim".into(), state, detail });
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
