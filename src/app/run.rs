//! `alphatx run`: the arena live on the configured market with the cockpit TUI (or, with
//! `--headless`, status lines on stdout), until the operator quits, Ctrl-C, SIGTERM or SIGHUP.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rust_decimal::Decimal;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{Paths, build_agents, build_driver};
use crate::cli::RunArgs;
use crate::clock::{ManualClock, fmt_time};
use crate::config::{Config, OnHangup};
use crate::engine::runner::{self, CommitHook, LedgerLink, RunnerConfig, RunnerIo, SourceEvent};
use crate::engine::{Driver, Durability, FeedState, FeedStatus, RestoreData, Snapshot};
use crate::execution::ExecEvent;
use crate::market::candles::CandleInput;
use crate::market::recording::RecordingHeader;
use crate::market::sim::SimMarket;
use crate::store::{Ledger, LedgerAck, LedgerBatch, NewAgent, NewRun, ResumeState};
use crate::ui::{UiExit, UiOptions};

/// Runs the arena live on the simulated market until Ctrl-C, SIGTERM, SIGHUP or `--duration`.
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
    let result = runtime.block_on(run_async(config.clone(), paths.clone(), args.clone(), ui));
    if let Err(e) = &result {
        tracing::error!("run failed: {e:#}");
    }
    tracing::info!("alphatx stopped");
    result
}

/// Everything a run continues from: the ledger's rebuilt state, as the engine takes it.
fn restore_data(state: &ResumeState) -> RestoreData {
    RestoreData {
        run_id: state.run_id,
        accounts: state.accounts.clone(),
        history: state.history.iter().map(|h| (h.agent, h.closed.clone(), h.fees)).collect(),
        open_orders: state.open_orders.clone(),
        plans: state.plans.clone(),
        agent_states: state.agent_states.clone(),
        arena_state: state.arena_state.clone(),
        trips: state.active_trips.iter().map(|b| (b.agent, b.breaker, b.ts_ms, b.detail.clone())).collect(),
        equity: state.equity.clone(),
        decisions: state.recent_decisions.clone(),
        next_order_id: state.next_order_id,
        next_decision_id: state.next_decision_id,
        last_ts_ms: state.last_ts_ms,
    }
}

/// Makes everything the driver produced durable before going on (start-up catch-up, before the
/// runner takes over).
async fn commit_now(
    driver: &mut Driver,
    ledger: &Ledger,
    acks: &mut mpsc::UnboundedReceiver<LedgerAck>,
    run_id: i64,
    seq: &mut u64,
) -> anyhow::Result<()> {
    loop {
        let exec = driver.take_uncommitted();
        let journal = driver.take_journal();
        if exec.is_empty() && journal.is_empty() {
            return Ok(());
        }
        *seq += 1;
        ledger
            .append(LedgerBatch { seq: *seq, run_id, exec: exec.clone(), journal })
            .map_err(|e| anyhow::anyhow!("cannot write the ledger: {e}"))?;
        loop {
            let ack = tokio::time::timeout(Duration::from_secs(30), acks.recv())
                .await
                .context("the ledger did not commit within 30 s")?
                .context("the ledger writer stopped")?;
            if ack.seq == *seq {
                match ack.result {
                    Ok(()) => break,
                    Err(e) => bail!("cannot commit to the ledger: {e}"),
                }
            }
        }
        driver.committed(exec);
    }
}

/// Where user themes are looked for: next to the config file in use, else the platform dir.
fn config_dir(paths: &Paths) -> Option<std::path::PathBuf> {
    match paths.config_file.as_deref().and_then(std::path::Path::parent) {
        Some(dir) if !dir.as_os_str().is_empty() => Some(dir.to_owned()),
        _ => directories::ProjectDirs::from("dev", "AlphaTransformer", "alphatx").map(|d| d.config_dir().to_owned()),
    }
}

async fn run_async(config: Config, paths: Paths, args: RunArgs, ui: Option<UiOptions>) -> anyhow::Result<()> {
    let speed = args.speed.unwrap_or(config.sim.speed);
    if !(speed.is_finite() && speed > 0.0 && speed <= 100_000.0) {
        bail!("--speed must be in (0, 100000], got {speed}");
    }
    let ledger_path = paths.ledger();
    let ledger = Arc::new(
        Ledger::open(&ledger_path).with_context(|| format!("cannot open the ledger {}", ledger_path.display()))?,
    );
    let mut acks = ledger.acks().context("the ledger's acknowledgements are already taken")?;
    let resume = if args.fresh {
        if let Some(old) = ledger.resume_state(&args.profile)? {
            ledger.retire_run(old.run_id, jiff::Timestamp::now().as_millisecond())?;
            tracing::info!(run = old.run_id, "--fresh: run {} kept in the ledger, not resumed", old.run_id);
        }
        None
    } else {
        ledger.resume_state(&args.profile)?
    };

    let now_ms = jiff::Timestamp::now().as_millisecond();
    let specs = build_agents(&config)?;
    if let Some(state) = &resume {
        let mut stored: Vec<&str> = state.accounts.iter().map(|a| a.agent.as_str()).collect();
        let mut configured: Vec<&str> = specs.iter().map(|s| s.id.as_str()).collect();
        stored.sort_unstable();
        configured.sort_unstable();
        if stored != configured {
            bail!(
                "run {} of profile `{}` has agents [{}] but the configuration has [{}]: run with --fresh to start a new run, or --profile NAME for a separate arena",
                state.run_id,
                args.profile,
                stored.join(", "),
                configured.join(", ")
            );
        }
        if state.sim_start_ms.is_some() && state.seed.is_some_and(|s| s != config.sim.seed) {
            bail!(
                "run {} used sim seed {} but the configuration says {}: pass --seed {} to resume it, or --fresh",
                state.run_id,
                state.seed.unwrap_or_default(),
                config.sim.seed,
                state.seed.unwrap_or_default()
            );
        }
    }
    // History up to now (instantly), then live data: sim ticks paced by the clock, or a venue.
    // A resumed sim run is anchored where it started, so it continues the same market.
    let mut source = super::sources::prepare(&config, now_ms, resume.as_ref().and_then(|r| r.sim_start_ms)).await?;
    let config = source.config.clone();
    if let Some(state) = &resume {
        let stored = crate::store::list_runs(&ledger_path)?
            .into_iter()
            .find(|r| r.id == state.run_id)
            .map(|r| r.source)
            .unwrap_or_default();
        if stored != source.name() {
            let flag = stored.split('-').next().unwrap_or("sim");
            bail!(
                "run {} of profile `{}` traded on `{stored}` but this start would use `{}`: resume it with --source {flag}, start a new run with --fresh, or use --profile NAME for a separate arena",
                state.run_id,
                args.profile,
                source.name()
            );
        }
    }
    let clock = ManualClock::new(source.start_ms);
    let mut driver =
        build_driver(&config, source.instruments.clone(), clock, CandleInput::Bars, Durability::AfterCommit)?;
    let next_trade_id = ledger.next_trade_id("paper")?;
    let run_id = match &resume {
        Some(state) => {
            let report = driver.engine.restore(&restore_data(state));
            driver.exec_mut().restore_state(&state.accounts, &state.open_orders, next_trade_id);
            tracing::info!(?report, "resuming run {}", state.run_id);
            if args.headless {
                // The cockpit says it in its Risk & health screen; a headless run says it here.
                println!(
                    "resumed run {} (profile {}): {} agents, {} open positions, {} resting orders; --fresh starts a new run",
                    state.run_id, state.profile, report.agents_restored, report.positions, report.open_orders
                );
            }
            state.run_id
        }
        None => {
            driver.exec_mut().restore_state(&[], &[], next_trade_id);
            let config_toml = toml::to_string(&config).unwrap_or_default();
            let agents = specs
                .iter()
                .map(|s| NewAgent {
                    id: s.id,
                    kind: s.driver.kind(),
                    benchmark: s.benchmark,
                    symbols: s.symbols.clone(),
                    balance: s.balance,
                })
                .collect();
            let sim = source.is_sim();
            let run = NewRun {
                profile: args.profile.clone(),
                source: source.name().to_owned(),
                seed: sim.then_some(config.sim.seed),
                config_toml,
                started_ms: now_ms,
                sim_start_ms: sim.then_some(source.start_ms),
                agents,
            };
            let id = ledger.begin_run(run)?;
            driver.engine.set_run_id(id);
            id
        }
    };
    // History the run already saw builds candles and indicators only; the time the program was
    // down (resumed runs) also reaches the venue, whose resting stops and targets fire as a real
    // exchange's would, durably; then the arena goes live.
    // A fresh run's venue sees the warm-up history too (it holds no orders yet, so nothing
    // matches): its volume estimates are then warm when agents start, exactly as in a replay of
    // the same data. A resumed venue must not see again what it already matched.
    driver.engine.set_warming(true);
    let seen_until = resume.as_ref().map_or(i64::MIN, |r| r.last_ts_ms);
    // Market time never goes back: an accelerated run that got ahead of the wall clock resumes
    // where its market was, not at "now".
    let m1 = crate::domain::Timeframe::M1;
    let live_from =
        m1.bucket_start(now_ms).max(resume.as_ref().map_or(i64::MIN, |r| m1.bucket_start(r.last_ts_ms) + 60_000));
    let recorder = match &args.record {
        Some(path) => {
            let mut header = RecordingHeader::new(source.name(), now_ms, source.instruments.clone());
            header.live_from_ms = Some(live_from);
            Some(super::sources::Recorder::start(path, header).await?)
        }
        None => None,
    };
    let mut seq = 0;
    let mut buf = Vec::new();
    while source.warmup_batch(live_from, &mut buf) {
        for ev in buf.drain(..) {
            if let Some(r) = &recorder {
                r.record(&ev).await;
            }
            if ev.ts_ms <= seen_until {
                driver.on_market_history(ev);
            } else {
                driver.on_market(ev);
            }
        }
        if driver.has_uncommitted() {
            commit_now(&mut driver, &ledger, &mut acks, run_id, &mut seq).await?;
        } else {
            driver.discard_records();
        }
    }
    driver.engine.set_warming(false);
    // The equity curves start here, where the warm-up ended (a replay of a recording does the same).
    driver.tick();
    commit_now(&mut driver, &ledger, &mut acks, run_id, &mut seq).await?;
    source.go_live();
    tracing::info!(source = source.name(), run = run_id, "warm-up history applied; going live");

    let shutdown = CancellationToken::new();
    let (market_tx, market_rx) = mpsc::channel(4096);
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let (_venue_tx, venue_rx) = mpsc::channel(64);
    let (reply_tx, reply_rx) = mpsc::channel(64);
    let (req_tx, req_rx) = mpsc::channel(64);
    // LLM agents: one worker answers the engine's requests, each call on its own task.
    let llm_setup = crate::agents::llm::LlmSetup {
        config_dir: crate::agents::llm::LlmSetup::default_config_dir(),
        budget_dir: Some(paths.data_dir.join("llm-budget")),
        env: &|var| std::env::var(var).ok(),
        wall_clock: crate::agents::llm::LlmSetup::system_clock(),
        http: None,
    };
    let llm_agents = crate::agents::llm::build_llm_agents(&config, &llm_setup)?;
    let llm_worker = tokio::spawn(crate::agents::llm::run_worker(llm_agents, req_rx, reply_tx, shutdown.clone()));
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::default()));
    let mut link = LedgerLink::new(Arc::clone(&ledger), acks, run_id);
    link.skip_seq(seq);
    let on_commit: Option<CommitHook> = (args.headless && args.print_fills).then(|| Box::new(print_fill) as CommitHook);
    let io = RunnerIo {
        market: market_rx,
        commands: cmd_rx,
        venue: venue_rx,
        replies: reply_rx,
        requests: req_tx,
        snapshots: snap_tx,
        ledger: Some(link),
        on_commit,
    };
    let feed = source
        .spawn(market_tx, recorder, shutdown.clone(), |sim, tx, stop| tokio::spawn(sim_feed(sim, speed, tx, stop)));
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
    let (_driver, link, _reason) = engine_task.await.context("the engine task failed")?;
    if let Some(status) = status {
        let _ = status.await;
    }
    let _ = llm_worker.await;
    // Held to the end so the engine's command channel stays open in headless runs too.
    drop(cmd_tx);
    drop(link);
    match Arc::try_unwrap(ledger) {
        Ok(ledger) => ledger.close().context("the ledger could not be flushed")?,
        Err(_) => tracing::warn!("the ledger is still shared at shutdown; it flushes when the last handle drops"),
    }
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

/// One line per durable fill (headless `--print-fills`), for scripts.
fn print_fill(ev: &ExecEvent) {
    if let ExecEvent::Filled { fill, .. } = ev {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "FILL {} {} {} {} {} {} @ {} fee {} {}",
            fill.venue,
            fill.trade_id,
            fill.agent,
            fill.side.as_str(),
            fill.qty,
            fill.symbol,
            fill.price,
            fill.fee,
            if fill.liquidation { "liquidation" } else { fill.purpose.as_str() }
        );
        let _ = out.flush();
    }
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
            let state = if let Some(why) = &a.unavailable {
                format!(" ({why})")
            } else if a.paused {
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
