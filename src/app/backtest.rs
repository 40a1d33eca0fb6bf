//! `alphatx backtest`: history through the same engine as fast as the CPU allows.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use super::{BACKTEST_EPOCH_MS, DAY_MS, build_driver, sim_config};
use crate::cli::BacktestArgs;
use crate::clock::ManualClock;
use crate::config::Config;
use crate::domain::MarketEvent;
use crate::engine::{AgentReport, Durability};
use crate::market::candles::CandleInput;
use crate::market::sim::{SimMarket, SimMode};

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
    s
}
