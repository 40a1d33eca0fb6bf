//! `alphatx backtest`: history through the same engine as fast as the CPU allows, on the
//! simulated market or on replayed files.
//!
//! A replay backtest ([`replay_backtest`]) trades the symbols found in the data (restricted to
//! `market.symbols` when those were configured), starts every account at the first event, uses
//! the first `replay.warmup_hours` only to warm indicators, and reports the data checks and a
//! warning for every strategy whose indicators need more history than the data hold.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use super::{BACKTEST_EPOCH_MS, DAY_MS, build_driver, sim_config};
use crate::cli::BacktestArgs;
use crate::clock::ManualClock;
use crate::config::{Config, MarketConfig, SourceKind};
use crate::domain::{MarketData, MarketEvent, Timeframe};
use crate::engine::{AgentReport, Durability};
use crate::market::candles::CandleInput;
use crate::market::replay::{self, ReplayData, ReplaySummary};
use crate::market::sim::{SimMarket, SimMode};

/// A finished backtest.
#[derive(Debug, Serialize)]
pub struct BacktestReport {
    /// `sim` or `replay`.
    pub source: String,
    pub seed: u64,
    pub symbols: Vec<String>,
    pub warmup_days: u32,
    /// Days traded (after the warm-up).
    pub days: f64,
    pub start: String,
    pub end: String,
    /// Market events processed (warm-up included).
    pub events: u64,
    pub fills: u64,
    pub agents: Vec<AgentReport>,
    /// Replay only: what the files held and what the checks found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<ReplaySummary>,
    /// Hours of replayed data used only for warm-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_hours: Option<u32>,
    /// Things the reader of the report must know (e.g. data too short for a strategy's warm-up).
    pub warnings: Vec<String>,
}

/// Wall time of a backtest's parts.
#[derive(Debug, Clone, Copy, Default)]
pub struct BacktestTiming {
    /// Reading, validating and repairing the files (replay only).
    pub parse: Duration,
    /// Replaying the events through the engine.
    pub engine: Duration,
}

/// Runs a backtest on the configured source (`replay` also when `--file` is given). Returns the
/// report and the wall time it took.
pub fn backtest(config: &Config, args: &BacktestArgs) -> anyhow::Result<(BacktestReport, BacktestTiming)> {
    if config.market.source == SourceKind::Replay || !args.data.files.is_empty() {
        let mut settings = config.replay.clone();
        if args.data.symbol.is_some() {
            settings.symbol = args.data.symbol;
        }
        let started = Instant::now();
        let data = replay::load(&settings, &args.data.files)?;
        let parse = started.elapsed();
        let (report, engine) = replay_backtest(config, data)?;
        return Ok((report, BacktestTiming { parse, engine }));
    }
    let (report, engine) = sim_backtest(config, args)?;
    Ok((report, BacktestTiming { parse: Duration::ZERO, engine }))
}

/// Runs a backtest on the simulated market.
pub fn sim_backtest(config: &Config, args: &BacktestArgs) -> anyhow::Result<(BacktestReport, Duration)> {
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
        data: None,
        warmup_hours: None,
        warnings: Vec::new(),
    };
    Ok((report, elapsed))
}

/// The configuration of a replay: the data's symbols (only those of `market.symbols` when that
/// was changed from its default), agents restricted to them. The data keep only those symbols.
pub fn replay_config(config: &Config, data: &mut ReplayData) -> anyhow::Result<Config> {
    let mut c = config.clone();
    let available = data.symbols();
    let wanted: Vec<_> = if c.market.symbols == MarketConfig::default().symbols {
        available.clone()
    } else {
        c.market.symbols.iter().copied().filter(|s| available.contains(s)).collect()
    };
    if wanted.is_empty() {
        let names = |v: &[crate::domain::Symbol]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ");
        bail!(
            "none of market.symbols ({}) is in the data ({}); pass --symbols or set market.symbols",
            names(&c.market.symbols),
            names(&available)
        );
    }
    data.retain_symbols(&wanted);
    c.market.source = SourceKind::Replay;
    c.market.symbols = wanted.clone();
    for a in &mut c.agents {
        if let Some(s) = &mut a.symbols {
            s.retain(|x| wanted.contains(x));
            if s.is_empty() {
                a.enabled = false;
            }
        }
    }
    c.validate().context("the configuration does not fit the replayed data")?;
    Ok(c)
}

/// Formats a duration in minutes as "3.5 days", "7 h" or "45 min".
fn human_minutes(min: f64) -> String {
    if min >= 2.0 * 1440.0 {
        format!("{:.1} days", min / 1440.0)
    } else if min >= 120.0 {
        format!("{:.0} h", min / 60.0)
    } else {
        format!("{min:.0} min")
    }
}

/// Warnings for strategies whose indicators need more history than `span_ms` of data.
pub fn warmup_warnings(config: &Config, span_ms: i64) -> Vec<String> {
    let mut out = Vec::new();
    let span_min = span_ms as f64 / 60_000.0;
    for a in config.agents.iter().filter(|a| a.enabled) {
        let Ok(params) = a.strategy() else { continue };
        for need in crate::agents::rules::warmup_needs(&params) {
            let need_min = need.span_ms() as f64 / 60_000.0;
            if need.span_ms() > span_ms {
                out.push(format!(
                    "{} ({}): needs {} closed {} candles ({}) for {}; the data cover {}: it cannot trade on this data",
                    a.name,
                    a.kind.as_str(),
                    need.candles,
                    need.timeframe,
                    human_minutes(need_min),
                    need.what,
                    human_minutes(span_min)
                ));
            } else if need_min > span_min / 2.0 {
                out.push(format!(
                    "{} ({}): {} of the {} of data go to warming up {} ({} × {}): few decisions to judge it by",
                    a.name,
                    a.kind.as_str(),
                    human_minutes(need_min),
                    human_minutes(span_min),
                    need.what,
                    need.candles,
                    need.timeframe
                ));
            }
        }
    }
    out
}

/// Replays loaded data through the engine with every enabled agent. Returns the report and the
/// wall time of the replay itself (building the arena included, reading the files not).
pub fn replay_backtest(config: &Config, mut data: ReplayData) -> anyhow::Result<(BacktestReport, Duration)> {
    let config = replay_config(config, &mut data)?;
    let (Some(start), Some((_, last))) = (data.start_ms(), data.span_ms()) else {
        bail!("the data hold no events");
    };
    let warm_end = start + i64::from(config.replay.warmup_hours) * 3_600_000;
    if warm_end >= last {
        bail!(
            "replay.warmup_hours ({} h) covers all the data ({} → {}); lower it",
            config.replay.warmup_hours,
            crate::clock::fmt_ts(start),
            crate::clock::fmt_ts(last)
        );
    }
    let mut warnings = warmup_warnings(&config, last - start);
    if last - start < 4 * 3_600_000 {
        warnings.push(
            "less than 4 h of data: the risk gate caps leverage at 1× until 240 one-minute returns are known".into(),
        );
    }
    let input = data.input;
    let clock = ManualClock::new(start);
    let mut driver = build_driver(&config, data.instruments(), clock.clone(), input, Durability::Direct)?;
    let warming = warm_end > start;
    driver.engine.set_warming(warming);
    let mut warming = warming;
    let started = Instant::now();
    let summary = data.summary.clone();
    let symbols: Vec<String> = data.symbols().iter().map(|s| s.to_string()).collect();
    let mut events: u64 = 0;
    let mut minute = Timeframe::M1.bucket_start(start);
    let mut trades_mode = input == CandleInput::Trades;
    for ev in data.iter() {
        if !trades_mode && matches!(ev.data, MarketData::Trade { .. }) {
            // A recording that goes live after a bar back-fill: candles continue from trades.
            trades_mode = true;
            driver.engine.set_candle_input(CandleInput::Trades);
        }
        if trades_mode {
            // The clock closes quiet minutes, as the live runner's ticks do.
            let m = Timeframe::M1.bucket_start(ev.ts_ms);
            if m > minute {
                minute = m;
                clock.advance_to(m);
                driver.tick();
            }
        }
        if warming && ev.ts_ms > warm_end {
            warming = false;
            driver.engine.set_warming(false);
        }
        driver.on_market(ev.clone());
        events += 1;
        // No ledger in a backtest: drop the records as they come (clearing keeps the buffers).
        driver.discard_records();
    }
    driver.finish();
    driver.discard_records();
    let elapsed = started.elapsed();
    let end = driver.engine.now_ms();
    let report = BacktestReport {
        source: "replay".into(),
        seed: config.sim.seed,
        symbols,
        warmup_days: 0,
        days: (end - warm_end).max(0) as f64 / DAY_MS as f64,
        start: crate::clock::fmt_ts(warm_end),
        end: crate::clock::fmt_ts(end),
        events,
        fills: driver.engine.counters().fills,
        agents: driver.engine.reports(),
        data: Some(summary),
        warmup_hours: Some(config.replay.warmup_hours),
        warnings,
    };
    Ok((report, elapsed))
}

/// Formats a backtest report as a table.
pub fn format_report(report: &BacktestReport) -> String {
    let mut s = String::new();
    let opt = |v: Option<f64>, prec: usize| v.map_or_else(|| "—".to_owned(), |x| format!("{x:.prec$}"));
    match (&report.data, report.warmup_hours) {
        (Some(data), warmup) => {
            s.push_str(&format!(
                "backtest: replay · {} · {} → {} ({:.2} days traded after {} h warm-up)\n",
                report.symbols.join(","),
                report.start,
                report.end,
                report.days,
                warmup.unwrap_or(0)
            ));
            s.push_str(&data.render());
            s.push('\n');
        }
        (None, _) => s.push_str(&format!(
            "backtest: {} seed {} · {} · {} → {} ({} days after {} days warm-up)\n\n",
            report.source,
            report.seed,
            report.symbols.join(","),
            report.start,
            report.end,
            report.days,
            report.warmup_days
        )),
    }
    let baseline = report.agents.iter().find(|a| a.benchmark).map(|a| a.metrics.total_return_pct);
    s.push_str(&format!(
        "{:<16} {:<14} {:>9} {:>8} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>9} {:>7} {:>6}\n",
        "agent",
        "kind",
        "return%",
        "vs B&H",
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
        let vs = match (baseline, a.benchmark) {
            (Some(b), false) => format!("{:+.2}", m.total_return_pct - b),
            _ => "—".to_owned(),
        };
        s.push_str(&format!(
            "{:<16} {:<14} {:>+9.2} {:>8} {:>7} {:>7} {:>7.2} {:>6} {:>6} {:>6} {:>6} {:>9.2} {:>7} {:>6}\n",
            a.agent.as_str(),
            a.kind,
            m.total_return_pct,
            vs,
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
    let trips: Vec<String> = report
        .agents
        .iter()
        .filter(|a| !a.breaker_trips.is_empty())
        .map(|a| {
            let parts: Vec<String> = a.breaker_trips.iter().map(|(k, v)| format!("{}={v}", k.as_str())).collect();
            format!("{}: {}", a.agent, parts.join(" "))
        })
        .collect();
    s.push_str(&format!(
        "\nrefusals: {}\nbreaker trips: {}\nevents: {} · fills: {}\n",
        if refusals.is_empty() { "none".to_owned() } else { refusals.join(" · ") },
        if trips.is_empty() { "none".to_owned() } else { trips.join(" · ") },
        report.events,
        report.fills
    ));
    for w in &report.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    s
}
