//! `alphatx backtest`: history through the same engine as fast as the CPU allows.
//!
//! LLM agents take part too: after every market step the engine's requests are answered
//! synchronously — by the model (a local runtime runs each call to completion, so the run is
//! deterministic given the model's answers) or, with `--replay-decisions`, by the decisions
//! recorded in an earlier run, without calling any model. On the built-in `sim` market the
//! model cannot know the future (it is synthetic); on real history the report warns that it
//! may have seen the period in training.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use super::{BACKTEST_EPOCH_MS, DAY_MS, build_agents_with_env, build_driver_with_agents, sim_config};
use crate::agents::llm::replay::ReplayBook;
use crate::agents::llm::{LlmAgent, LlmSetup, build_llm_agents, failure_code};
use crate::cli::BacktestArgs;
use crate::clock::ManualClock;
use crate::config::{Config, StrategyParams};
use crate::domain::{AgentId, MarketEvent};
use crate::engine::journal::JournalRecord;
use crate::engine::state::AgentDriver;
use crate::engine::{AgentReply, AgentReport, Driver, Durability, ReplyMeta};
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
    /// What the LLM agents cost and how often they failed (empty without LLM agents).
    pub llm: Vec<LlmUsage>,
    /// Caveats the reader must know (look-ahead on real history, replay coverage...).
    pub warnings: Vec<String>,
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

/// Who answers LLM requests in a backtest.
enum LlmAnswers {
    None,
    Models { runtime: tokio::runtime::Runtime, agents: HashMap<AgentId, Arc<LlmAgent>> },
    Replay(ReplayBook),
}

/// Runs a backtest on the simulated market. Returns the report and the wall time it took.
pub fn backtest(config: &Config, args: &BacktestArgs) -> anyhow::Result<(BacktestReport, Duration)> {
    let setup = LlmSetup {
        config_dir: LlmSetup::default_config_dir(),
        budget_dir: directories::ProjectDirs::from("dev", "AlphaTransformer", "alphatx")
            .map(|d| d.data_dir().join("llm-budget")),
        env: &|var| std::env::var(var).ok(),
        wall_clock: LlmSetup::system_clock(),
        http: None,
    };
    backtest_with(config, args, &setup)
}

/// [`backtest`] with an explicit LLM setup (key lookup, HTTP client, directories).
pub fn backtest_with(
    config: &Config,
    args: &BacktestArgs,
    setup: &LlmSetup<'_>,
) -> anyhow::Result<(BacktestReport, Duration)> {
    if !(args.days.is_finite() && args.days > 0.0 && args.days <= 3650.0) {
        bail!("--days must be in (0, 3650], got {}", args.days);
    }
    let start_ms = BACKTEST_EPOCH_MS;
    let sim_cfg = sim_config(config, start_ms, SimMode::Bars, 60_000);
    let mut sim = SimMarket::new(sim_cfg).context("cannot build the simulated market")?;
    let instruments = sim.instruments();
    let clock = ManualClock::new(start_ms);
    // Replayed LLM agents need no key: their answers come from the file.
    let replay = match &args.replay_decisions {
        Some(path) => Some(ReplayBook::load(path)?),
        None => None,
    };
    let specs = if replay.is_some() {
        build_agents_with_env(config, &|_| Some("replay".into()))?
    } else {
        build_agents_with_env(config, setup.env)?
    };
    let remote: Vec<AgentId> =
        specs.iter().filter(|s| matches!(s.driver, AgentDriver::Remote { .. })).map(|s| s.id).collect();
    let has_llm =
        config.agents.iter().filter(|a| a.enabled).any(|a| matches!(a.strategy(), Ok(StrategyParams::Llm(_))));
    let mut answers = match replay {
        Some(book) => LlmAnswers::Replay(book),
        None if !remote.is_empty() => {
            let agents = build_llm_agents(config, setup)?.into_iter().map(|a| (a.id, a)).collect();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the runtime for the LLM calls")?;
            LlmAnswers::Models { runtime, agents }
        }
        None => LlmAnswers::None,
    };
    let mut recorder = match &args.record_decisions {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => None,
    };
    let mut driver =
        build_driver_with_agents(config, instruments, clock, CandleInput::Bars, Durability::Direct, specs)?;
    let warm_end = start_ms + i64::from(config.sim.warmup_days) * DAY_MS;
    let end = warm_end + (args.days * DAY_MS as f64) as i64;
    driver.engine.set_warming(true);
    let mut warming = true;
    let started = Instant::now();
    let mut events: u64 = 0;
    let mut buf: Vec<MarketEvent> = Vec::with_capacity(16);
    let mut failure_reasons: HashMap<AgentId, BTreeMap<String, u64>> = HashMap::new();
    let watch_journal = has_llm || recorder.is_some();
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
        if !remote.is_empty() {
            driver.tick();
            serve_llm(&mut driver, &mut answers);
        }
        if watch_journal {
            for record in driver.take_journal() {
                if let JournalRecord::Decision(d) = &record
                    && d.source == "llm"
                {
                    if let Some(e) = &d.error {
                        *failure_reasons.entry(d.agent).or_default().entry(failure_code(e).to_owned()).or_insert(0) +=
                            1;
                    }
                    if let Some(w) = recorder.as_mut() {
                        serde_json::to_writer(&mut *w, &record).context("cannot write a decision record")?;
                        writeln!(w).context("cannot write a decision record")?;
                    }
                }
            }
        }
        driver.discard_records();
    }
    driver.finish();
    driver.discard_records();
    if let Some(mut w) = recorder {
        w.flush().context("cannot write the decisions file")?;
    }
    let elapsed = started.elapsed();
    let mut warnings: Vec<String> = lookahead_warning("sim", has_llm).into_iter().collect();
    let answered_by = match &answers {
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
    let snapshot = driver.engine.snapshot();
    let llm = snapshot
        .agents
        .iter()
        .filter(|a| config.agents.iter().any(|c| c.name == a.id && matches!(c.strategy(), Ok(StrategyParams::Llm(_)))))
        .map(|a| LlmUsage {
            agent: a.id,
            model: a.kind.clone(),
            answered_by: a.unavailable.clone().unwrap_or_else(|| answered_by.to_owned()),
            calls: a.stats.calls,
            failures: a.stats.failures,
            failure_reasons: failure_reasons.remove(&a.id).unwrap_or_default(),
            input_tokens: a.stats.input_tokens,
            output_tokens: a.stats.output_tokens,
            cost_usd: a.stats.cost_usd,
        })
        .collect();
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
        llm,
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
    for u in &report.llm {
        let reasons: Vec<String> = u.failure_reasons.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.push_str(&format!(
            "\nLLM {} ({}, {}): {} calls, {} failed{}, {} in / {} out tokens, {:.4} USD",
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
    }
    if !report.llm.is_empty() {
        s.push('\n');
    }
    for w in &report.warnings {
        s.push_str(&format!("\nwarning: {w}"));
    }
    if !report.warnings.is_empty() {
        s.push('\n');
    }
    s.push_str(&format!(
        "\nrefusals: {}\nbreaker trips: {}\nevents: {} · fills: {}\n",
        if refusals.is_empty() { "none".to_owned() } else { refusals.join(" · ") },
        if trips.is_empty() { "none".to_owned() } else { trips.join(" · ") },
        report.events,
        report.fills
    ));
    s
}
