//! `alphatx backtest`: history through the same engine as fast as the CPU allows, on the
//! simulated market or on replayed files.
//!
//! A replay backtest ([`replay_backtest`]) trades the symbols found in the data (restricted to
//! `market.symbols` when those were configured), starts every account at the first event, uses
//! the first `replay.warmup_hours` only to warm indicators, and reports the data checks and a
//! warning for every strategy whose indicators need more history than the data hold.
//!
//! LLM agents take part too: after every market step the engine's requests are answered
//! synchronously — by the model (a local runtime runs each call to completion, so the run is
//! deterministic given the model's answers) or, with `--replay-decisions`, by the decisions
//! recorded in an earlier run, without calling any model. On the built-in `sim` market the
//! model cannot know the future (it is synthetic); on real history the report warns that it
//! may have seen the period in training.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use super::{BACKTEST_EPOCH_MS, DAY_MS, build_agents_with_env, build_driver_with_agents, sim_config};
use crate::agents::llm::replay::ReplayBook;
use crate::agents::llm::{LlmAgent, LlmSetup, build_llm_agents, failure_code};
use crate::cli::BacktestArgs;
use crate::clock::ManualClock;
use crate::config::{Config, MarketConfig, SourceKind, StrategyParams};
use crate::domain::{AgentId, Instrument, Liquidity, MarketEvent, Timeframe};
use crate::engine::journal::JournalRecord;
use crate::engine::state::AgentDriver;
use crate::engine::{AgentReply, AgentReport, Driver, Durability, ReplyMeta};
use crate::execution::ExecEvent;
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
    /// What the LLM agents cost and how often they failed (empty without LLM agents).
    pub llm: Vec<LlmUsage>,
    /// Caveats the reader must know (data too short for a strategy's warm-up, look-ahead on real
    /// history, replayed decisions...).
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

/// One LLM agent's calls in a backtest.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LlmUsage {
    pub agent: AgentId,
    pub model: String,
    /// `model`, `replay` or `not configured: ...`.
    pub answered_by: String,
    pub calls: u64,
    pub failures: u64,
    /// Failed cycles per reason code (`timeout`, `unknown_coin`, `budget_exhausted`...).
    pub failure_reasons: BTreeMap<String, u64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

/// The caveat for LLM agents backtested on real history: the model may have seen the period.
pub fn lookahead_warning(source: &str, has_llm: bool) -> Option<String> {
    (has_llm && source != "sim").then(|| {
        format!(
            "LLM agents on real history ({source}): the models may have seen this period in training, so their \
             results can be look-ahead biased; trust forward paper runs and the sim market more"
        )
    })
}

/// How LLM agents are answered in a backtest, and the files it writes besides its report.
#[derive(Clone, Copy)]
pub struct BacktestOptions<'a> {
    /// Key lookup, HTTP client and directories of the model clients.
    pub setup: &'a LlmSetup<'a>,
    /// Answer from decisions recorded earlier instead of calling the models.
    pub replay_decisions: Option<&'a Path>,
    /// Write every LLM decision to this file (JSON Lines).
    pub record_decisions: Option<&'a Path>,
    /// Write every fill to this file (CSV).
    pub fills: Option<&'a Path>,
    /// Write every equity sample to this file (CSV).
    pub equity: Option<&'a Path>,
}

impl<'a> BacktestOptions<'a> {
    /// Models answered through `setup`; no decision files, no CSV output.
    pub fn new(setup: &'a LlmSetup<'a>) -> Self {
        Self { setup, replay_decisions: None, record_decisions: None, fills: None, equity: None }
    }
}

/// The model clients' setup of a command-line backtest: keys from the process environment, the
/// user's config and data directories.
pub fn env_llm_setup() -> LlmSetup<'static> {
    LlmSetup {
        config_dir: LlmSetup::default_config_dir(),
        budget_dir: directories::ProjectDirs::from("dev", "AlphaTransformer", "alphatx")
            .map(|d| d.data_dir().join("llm-budget")),
        env: &|var| std::env::var(var).ok(),
        wall_clock: LlmSetup::system_clock(),
        http: None,
    }
}

/// Runs a backtest on the configured source (`replay` also when `--file` is given). Returns the
/// report and the wall time it took.
pub fn backtest(config: &Config, args: &BacktestArgs) -> anyhow::Result<(BacktestReport, BacktestTiming)> {
    backtest_with(config, args, &env_llm_setup())
}

/// [`backtest`] with an explicit LLM setup (key lookup, HTTP client, directories).
pub fn backtest_with(
    config: &Config,
    args: &BacktestArgs,
    setup: &LlmSetup<'_>,
) -> anyhow::Result<(BacktestReport, BacktestTiming)> {
    if args.data.files.is_empty() {
        super::check_history_source(config, "backtest")?;
    }
    let llm = BacktestOptions {
        setup,
        replay_decisions: args.replay_decisions.as_deref(),
        record_decisions: args.record_decisions.as_deref(),
        fills: args.fills.as_deref(),
        equity: args.equity.as_deref(),
    };
    if config.market.source == SourceKind::Replay || !args.data.files.is_empty() {
        let mut settings = config.replay.clone();
        if args.data.symbol.is_some() {
            settings.symbol = args.data.symbol;
        }
        let started = Instant::now();
        let data = replay::load(&settings, &args.data.files)?;
        let parse = started.elapsed();
        let (report, engine) = replay_backtest_with(config, data, llm)?;
        return Ok((report, BacktestTiming { parse, engine }));
    }
    let (report, engine) = sim_backtest(config, args.days, llm)?;
    Ok((report, BacktestTiming { parse: Duration::ZERO, engine }))
}

/// Who answers LLM requests in a backtest.
enum LlmAnswers {
    None,
    Models { runtime: tokio::runtime::Runtime, agents: HashMap<AgentId, Arc<LlmAgent>> },
    Replay(ReplayBook),
}

/// The driver of a backtest and everything that serves its LLM agents between market steps.
struct Arena {
    driver: Driver,
    answers: LlmAnswers,
    /// The arena has agents answered outside the engine (LLM agents).
    remote: bool,
    has_llm: bool,
    recorder: Option<(PathBuf, std::io::BufWriter<std::fs::File>)>,
    fills: Option<CsvFile>,
    equity: Option<CsvFile>,
    failure_reasons: HashMap<AgentId, BTreeMap<String, u64>>,
}

impl Arena {
    fn new(
        config: &Config,
        instruments: Vec<Instrument>,
        clock: ManualClock,
        input: CandleInput,
        llm: BacktestOptions<'_>,
    ) -> anyhow::Result<Self> {
        // Replayed LLM agents need no key: their answers come from the file.
        let replay = match llm.replay_decisions {
            Some(path) => Some(ReplayBook::load(path)?),
            None => None,
        };
        let specs = if replay.is_some() {
            build_agents_with_env(config, &|_| Some("replay".into()))?
        } else {
            build_agents_with_env(config, llm.setup.env)?
        };
        let remote = specs.iter().any(|s| matches!(s.driver, AgentDriver::Remote { .. }));
        let has_llm = config.agents.iter().filter(|a| a.enabled).any(|a| is_llm(config, a.name));
        let answers = match replay {
            Some(book) => LlmAnswers::Replay(book),
            None if remote => {
                let agents = build_llm_agents(config, llm.setup)?.into_iter().map(|a| (a.id, a)).collect();
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot start the runtime for the LLM calls")?;
                LlmAnswers::Models { runtime, agents }
            }
            None => LlmAnswers::None,
        };
        let recorder = match llm.record_decisions {
            Some(path) => Some((
                path.to_path_buf(),
                std::io::BufWriter::new(
                    std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
                ),
            )),
            None => None,
        };
        let driver = build_driver_with_agents(config, instruments, clock, input, Durability::Direct, specs)?;
        let fills = llm.fills.map(|p| CsvFile::create(p, FILL_COLUMNS)).transpose()?;
        let equity = llm.equity.map(|p| CsvFile::create(p, EQUITY_COLUMNS)).transpose()?;
        Ok(Self { driver, answers, remote, has_llm, recorder, fills, equity, failure_reasons: HashMap::new() })
    }

    /// After a market step: answers the LLM requests and drops the records (no ledger in a
    /// backtest; clearing keeps the buffers), keeping the LLM decisions' failure reasons and
    /// writing them to the recording.
    fn after_step(&mut self) -> anyhow::Result<()> {
        if self.remote {
            self.driver.tick();
            serve_llm(&mut self.driver, &mut self.answers);
        }
        self.drain_records()
    }

    fn drain_records(&mut self) -> anyhow::Result<()> {
        if let Some(out) = self.fills.as_mut() {
            for ev in self.driver.take_venue_log() {
                if let ExecEvent::Filled { fill: f, leverage, .. } = &ev {
                    out.row(&[
                        &f.ts_ms.to_string(),
                        &time_text(f.ts_ms),
                        f.agent.as_str(),
                        f.symbol.as_str(),
                        f.side.as_str(),
                        &f.qty.to_string(),
                        &f.price.to_string(),
                        &(f.qty * f.price).to_string(),
                        &f.fee.to_string(),
                        match f.liquidity {
                            Liquidity::Maker => "maker",
                            Liquidity::Taker => "taker",
                        },
                        f.purpose.as_str(),
                        if f.liquidation { "true" } else { "false" },
                        &leverage.to_string(),
                        &f.trade_id.to_string(),
                        &f.order_id.0.to_string(),
                    ])?;
                }
            }
        }
        if self.has_llm || self.recorder.is_some() || self.equity.is_some() {
            for record in self.driver.take_journal() {
                if let (JournalRecord::Equity(e), Some(out)) = (&record, self.equity.as_mut()) {
                    out.row(&[
                        &e.ts_ms.to_string(),
                        &time_text(e.ts_ms),
                        e.agent.as_str(),
                        &e.equity.to_string(),
                        &e.cash.to_string(),
                        &e.unrealized_pnl.to_string(),
                    ])?;
                }
                if let JournalRecord::Decision(d) = &record
                    && d.source == "llm"
                {
                    if let Some(e) = &d.error {
                        *self
                            .failure_reasons
                            .entry(d.agent)
                            .or_default()
                            .entry(failure_code(e).to_owned())
                            .or_insert(0) += 1;
                    }
                    if let Some((path, w)) = self.recorder.as_mut() {
                        serde_json::to_writer(&mut *w, &record)
                            .and_then(|()| writeln!(w).map_err(serde_json::Error::io))
                            .with_context(|| format!("cannot write a decision record to {}", path.display()))?;
                    }
                }
            }
        }
        self.driver.discard_records();
        Ok(())
    }

    /// Ends the run: flushes the recording and returns the LLM agents' usage and the warnings
    /// about their answers.
    fn finish(&mut self, config: &Config, source: &str) -> anyhow::Result<(Vec<LlmUsage>, Vec<String>)> {
        self.driver.finish();
        self.drain_records()?;
        if let Some((path, w)) = self.recorder.as_mut() {
            w.flush().with_context(|| format!("cannot write the decisions file {}", path.display()))?;
        }
        for out in [self.fills.as_mut(), self.equity.as_mut()].into_iter().flatten() {
            out.flush()?;
        }
        let mut warnings: Vec<String> = lookahead_warning(source, self.has_llm).into_iter().collect();
        let answered_by = match &self.answers {
            LlmAnswers::Replay(book) => {
                warnings.push(format!(
                    "LLM decisions replayed from the file: {} of {} recorded decisions used, {} requests had none (held)",
                    book.used(),
                    book.total(),
                    book.missing()
                ));
                "replay"
            }
            _ => "model",
        };
        let snapshot = self.driver.engine.snapshot();
        let llm = snapshot
            .agents
            .iter()
            .filter(|a| is_llm(config, a.id))
            .map(|a| LlmUsage {
                agent: a.id,
                model: a.kind.clone(),
                answered_by: a.unavailable.clone().unwrap_or_else(|| answered_by.to_owned()),
                calls: a.stats.calls,
                failures: a.stats.failures,
                failure_reasons: self.failure_reasons.remove(&a.id).unwrap_or_default(),
                input_tokens: a.stats.input_tokens,
                output_tokens: a.stats.output_tokens,
                cost_usd: a.stats.cost_usd,
            })
            .collect();
        Ok((llm, warnings))
    }
}

/// Columns of `--fills`: those of `alphatx export --what trades` without the ledger's run id
/// and realised P&L.
const FILL_COLUMNS: &[&str] = &[
    "ts_ms",
    "time",
    "agent",
    "symbol",
    "side",
    "qty",
    "price",
    "notional",
    "fee",
    "liquidity",
    "purpose",
    "liquidation",
    "leverage",
    "trade_id",
    "order_id",
];

/// Columns of `--equity`.
const EQUITY_COLUMNS: &[&str] = &["ts_ms", "time", "agent", "equity", "cash", "unrealized_pnl"];

/// A CSV file written row by row (fields are names, numbers and times: nothing to quote).
struct CsvFile {
    path: PathBuf,
    w: std::io::BufWriter<std::fs::File>,
}

impl CsvFile {
    fn create(path: &Path, columns: &[&str]) -> anyhow::Result<Self> {
        let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut out = Self { path: path.to_owned(), w: std::io::BufWriter::new(file) };
        out.row(columns)?;
        Ok(out)
    }

    fn row(&mut self, fields: &[&str]) -> anyhow::Result<()> {
        writeln!(self.w, "{}", fields.join(",")).with_context(|| format!("cannot write {}", self.path.display()))
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        self.w.flush().with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// RFC 3339 UTC time of an epoch-ms timestamp, as `alphatx export` writes it.
fn time_text(ts_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ts_ms).map(|t| t.to_string()).unwrap_or_default()
}

/// Whether the configured agent `name` is an LLM agent.
fn is_llm(config: &Config, name: AgentId) -> bool {
    config.agents.iter().any(|c| c.name == name && matches!(c.strategy(), Ok(StrategyParams::Llm(_))))
}

/// Runs a backtest of `days` days (after the warm-up) on the simulated market.
pub fn sim_backtest(
    config: &Config,
    days: f64,
    llm: BacktestOptions<'_>,
) -> anyhow::Result<(BacktestReport, Duration)> {
    if !(days.is_finite() && days > 0.0 && days <= 3650.0) {
        bail!("--days must be in (0, 3650], got {days}");
    }
    let start_ms = BACKTEST_EPOCH_MS;
    let sim_cfg = sim_config(config, start_ms, SimMode::Bars, 60_000);
    let mut sim = SimMarket::new(sim_cfg).context("cannot build the simulated market")?;
    let clock = ManualClock::new(start_ms);
    let mut arena = Arena::new(config, sim.instruments(), clock, CandleInput::Bars, llm)?;
    let warm_end = start_ms + i64::from(config.sim.warmup_days) * DAY_MS;
    let end = warm_end + (days * DAY_MS as f64) as i64;
    arena.driver.engine.set_warming(true);
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
            arena.driver.engine.set_warming(false);
            arena.driver.tick();
            arena.after_step()?;
        }
        for ev in buf.drain(..) {
            arena.driver.on_market(ev);
            events += 1;
        }
        arena.after_step()?;
    }
    let (llm, warnings) = arena.finish(config, "sim")?;
    let elapsed = started.elapsed();
    let driver = &arena.driver;
    let report = BacktestReport {
        source: "sim".into(),
        seed: config.sim.seed,
        symbols: config.market.symbols.iter().map(|s| s.to_string()).collect(),
        warmup_days: config.sim.warmup_days,
        days,
        start: crate::clock::fmt_ts(warm_end),
        end: crate::clock::fmt_ts(driver.engine.now_ms()),
        events,
        fills: driver.engine.counters().fills,
        agents: driver.engine.reports(),
        data: None,
        warmup_hours: None,
        llm,
        warnings,
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

/// Replays loaded data through the engine with every enabled agent (LLM agents answered with
/// [`env_llm_setup`]). Returns the report and the wall time of the replay itself
/// (building the arena included, reading the files not).
pub fn replay_backtest(config: &Config, data: ReplayData) -> anyhow::Result<(BacktestReport, Duration)> {
    let setup = env_llm_setup();
    replay_backtest_with(config, data, BacktestOptions::new(&setup))
}

/// [`replay_backtest`] with explicit LLM options.
pub fn replay_backtest_with(
    config: &Config,
    mut data: ReplayData,
    llm: BacktestOptions<'_>,
) -> anyhow::Result<(BacktestReport, Duration)> {
    let config = replay_config(config, &mut data)?;
    let (Some(start), Some((_, last))) = (data.start_ms(), data.span_ms()) else {
        bail!("the data hold no events");
    };
    // A recording says where its session went live: the history before that warms up, as it
    // did in the session, unless replay.warmup_hours asks for something else.
    let recorded_warmup = data.summary.live_from_ms.filter(|t| *t > start && config.replay.warmup_hours == 0);
    let warm_end = recorded_warmup.unwrap_or(start + i64::from(config.replay.warmup_hours) * 3_600_000);
    if warm_end >= last {
        match recorded_warmup {
            Some(t) => bail!(
                "the recording ends ({}) before its session went live ({}): it holds only warm-up history",
                crate::clock::fmt_ts(last),
                crate::clock::fmt_ts(t)
            ),
            None => bail!(
                "replay.warmup_hours ({} h) covers all the data ({} → {}); lower it",
                config.replay.warmup_hours,
                crate::clock::fmt_ts(start),
                crate::clock::fmt_ts(last)
            ),
        }
    }
    if let Some(t) = recorded_warmup {
        data.summary.notes.push(format!(
            "warm-up: the recording's history until {} (where its session went live); agents trade after it",
            crate::clock::fmt_ts(t)
        ));
    }
    let mut warnings = warmup_warnings(&config, last - start);
    if last - start < 4 * 3_600_000 {
        warnings.push(
            "less than 4 h of data: the risk gate caps leverage at 1× until 240 one-minute returns are known".into(),
        );
    }
    let input = data.input;
    let clock = ManualClock::new(start);
    let mut arena = Arena::new(&config, data.instruments(), clock.clone(), input, llm)?;
    let warming = warm_end > start;
    arena.driver.engine.set_warming(warming);
    let mut warming = warming;
    let started = Instant::now();
    let summary = data.summary.clone();
    let symbols: Vec<String> = data.symbols().iter().map(|s| s.to_string()).collect();
    let mut events: u64 = 0;
    let mut minute = Timeframe::M1.bucket_start(start);
    // Candles come from bars whenever the data have them (as in live sessions, whose feeds
    // deliver closed 1m bars); trade-only data build them from trades.
    let trades_mode = input == CandleInput::Trades;
    for ev in data.iter() {
        if trades_mode {
            // The clock closes quiet minutes, as the live runner's ticks do.
            let m = Timeframe::M1.bucket_start(ev.ts_ms);
            if m > minute {
                minute = m;
                clock.advance_to(m);
                arena.driver.tick();
            }
        }
        if warming && ev.ts_ms > warm_end {
            warming = false;
            arena.driver.engine.set_warming(false);
            // The curves start where the warm-up ended, as a live session's do; LLM requests
            // made there are answered at that time.
            arena.driver.tick();
            arena.after_step()?;
        }
        arena.driver.on_market(ev.clone());
        events += 1;
        arena.after_step()?;
    }
    let (llm_usage, llm_warnings) = arena.finish(&config, "replay")?;
    warnings.extend(llm_warnings);
    let elapsed = started.elapsed();
    let driver = &arena.driver;
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
        warmup_hours: Some(((warm_end - start) as f64 / 3_600_000.0).ceil() as u32),
        llm: llm_usage,
        warnings,
    };
    Ok((report, elapsed))
}

/// Answers every pending LLM request before the next market step (a reply can only produce
/// orders, never new requests, so one pass empties the queue).
fn serve_llm(driver: &mut Driver, answers: &mut LlmAnswers) {
    for request in driver.take_requests() {
        let reply = match answers {
            LlmAnswers::Replay(book) => book.reply(&request),
            LlmAnswers::Models { runtime, agents } => match agents.get(&request.agent) {
                Some(agent) => runtime.block_on(agent.decide(request)),
                None => AgentReply {
                    agent: request.agent,
                    request_id: request.request_id,
                    decision: Err(format!("not_configured: no LLM client for agent {}", request.agent)),
                    meta: ReplyMeta::default(),
                },
            },
            LlmAnswers::None => AgentReply {
                agent: request.agent,
                request_id: request.request_id,
                decision: Err("not_configured: no LLM answers in this backtest".into()),
                meta: ReplyMeta::default(),
            },
        };
        driver.agent_reply(reply);
    }
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
    for u in &report.llm {
        let reasons: Vec<String> = u.failure_reasons.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.push_str(&format!(
            "LLM {} ({}, {}): {} calls, {} failed{}, {} in / {} out tokens, {:.4} USD",
            u.agent,
            u.model,
            u.answered_by,
            u.calls,
            u.failures,
            if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(" ")) },
            u.input_tokens,
            u.output_tokens,
            u.cost_usd
        ));
        s.push('\n');
    }
    for w in &report.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    s
}
