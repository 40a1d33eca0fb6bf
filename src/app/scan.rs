//! `alphatx scan`: the market scanner on the simulated market (after its warm-up history) or on
//! replayed files, at the end of the data or at `--at TIMESTAMP`.

use anyhow::{Context, bail};

use super::{BACKTEST_EPOCH_MS, DAY_MS, sim_config};
use crate::cli::ScanArgs;
use crate::config::{Config, SourceKind};
use crate::market::candles::CandleInput;
use crate::market::replay::{self, parse::parse_time};
use crate::market::sim::{SimMarket, SimMode};
use crate::scan::{ScanBoard, ScanReport, ScanStrategy, scan as scan_markets};

/// Parses `--at`: ISO-8601 (UTC unless an offset is given) or epoch seconds/milliseconds.
pub fn parse_at(text: &str) -> anyhow::Result<i64> {
    parse_time(text).map(|(ms, _)| ms).map_err(|e| anyhow::anyhow!("--at: {e}"))
}

/// Runs the scan the command line asks for.
pub fn scan(config: &Config, args: &ScanArgs) -> anyhow::Result<ScanReport> {
    let at = args.at.as_deref().map(parse_at).transpose()?;
    if args.data.files.is_empty() {
        super::check_history_source(config, "scan")?;
    }
    if config.market.source == SourceKind::Replay || !args.data.files.is_empty() {
        return scan_replay(config, args, at);
    }
    scan_sim(config, at)
}

fn scan_sim(config: &Config, at: Option<i64>) -> anyhow::Result<ScanReport> {
    let start = BACKTEST_EPOCH_MS;
    let end = start + i64::from(config.sim.warmup_days.max(1)) * DAY_MS;
    let until = match at {
        Some(t) if t <= start => bail!(
            "--at {} is before the simulated market starts ({}); the sim scan covers {} → {}",
            crate::clock::fmt_ts(t),
            crate::clock::fmt_ts(start),
            crate::clock::fmt_ts(start),
            crate::clock::fmt_ts(end)
        ),
        Some(t) if t > start + 365 * DAY_MS => bail!("--at is more than a year after the simulated market starts"),
        Some(t) => t,
        None => end,
    };
    let mut sim = SimMarket::new(sim_config(config, start, SimMode::Bars, 60_000))
        .context("cannot build the simulated market")?;
    let mut board = ScanBoard::new(sim.instruments(), config.engine.candle_history, CandleInput::Bars);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        sim.step(&mut buf);
        if buf.first().is_none_or(|e| e.ts_ms > until) {
            break;
        }
        for ev in &buf {
            board.apply(ev);
        }
    }
    let strategies = ScanStrategy::from_config(config);
    let mut report = scan_markets(&board.markets, &strategies, until, config.paper.starting_balance);
    report.source = format!("sim seed {} ({} days of history)", config.sim.seed, (until - start) / DAY_MS);
    Ok(report)
}

fn scan_replay(config: &Config, args: &ScanArgs, at: Option<i64>) -> anyhow::Result<ScanReport> {
    let mut settings = config.replay.clone();
    if args.data.symbol.is_some() {
        settings.symbol = args.data.symbol;
    }
    let mut data = replay::load(&settings, &args.data.files)?;
    let config = super::replay_config(config, &mut data)?;
    let (Some(first), Some((_, last))) = (data.start_ms(), data.span_ms()) else {
        bail!("the data hold no events");
    };
    let until = match at {
        Some(t) if t <= first => bail!(
            "--at {} is before the data begin ({}); the data cover {} → {}",
            crate::clock::fmt_ts(t),
            crate::clock::fmt_ts(first),
            crate::clock::fmt_ts(first),
            crate::clock::fmt_ts(last)
        ),
        Some(t) => t,
        None => last,
    };
    let mut board = ScanBoard::new(data.instruments(), config.engine.candle_history, data.input);
    for ev in data.iter().take_while(|e| e.ts_ms <= until) {
        board.apply(ev);
    }
    board.close_until(until);
    let strategies = ScanStrategy::from_config(&config);
    let mut report = scan_markets(&board.markets, &strategies, until, config.paper.starting_balance);
    report.source = format!(
        "replay of {} file(s){}",
        data.summary.files.len(),
        if at.is_some_and(|t| t > last) { " (--at is after the data end: the last values are shown)" } else { "" }
    );
    let issues = data.summary.issues();
    if issues > 0 {
        let parts: Vec<String> = data.summary.counts.iter().map(|(k, n)| format!("{} {n}", k.as_str())).collect();
        report.notes.insert(
            0,
            format!("data checks: {} (run `alphatx backtest` with the same files for details)", parts.join(", ")),
        );
    }
    for n in &data.summary.notes {
        report.notes.push(n.clone());
    }
    Ok(report)
}
