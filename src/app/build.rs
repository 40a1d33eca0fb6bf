//! Building the arena's parts from the configuration.

use std::sync::Arc;

use crate::clock::ManualClock;
use crate::config::{Config, StrategyParams};
use crate::domain::Instrument;
use crate::engine::state::AgentDriver;
use crate::engine::{AgentSpec, Driver, Durability, Engine, EngineConfig};
use crate::execution::ExecutionClient;
use crate::execution::paper::PaperExchange;
use crate::market::candles::CandleInput;
use crate::market::sim::{SimConfig, SimMode};
use crate::risk::RiskGate;

/// The simulated market's settings for `config`.
pub fn sim_config(config: &Config, start_ms: i64, mode: SimMode, step_ms: i64) -> SimConfig {
    let mut sim = SimConfig::default_markets(config.sim.seed, start_ms, mode);
    sim.symbols.retain(|s| config.market.symbols.contains(&s.instrument.symbol));
    sim.step_ms = step_ms;
    sim
}

/// Builds the agents enabled in `config`.
pub fn build_agents(config: &Config) -> anyhow::Result<Vec<AgentSpec>> {
    build_agents_with_env(config, &|var| std::env::var(var).ok())
}

/// Builds the agents enabled in `config`, reading LLM API keys through `env`. An LLM agent
/// whose key is missing is listed as "not configured" and the rest of the arena runs.
pub fn build_agents_with_env(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Vec<AgentSpec>> {
    let mut specs = Vec::new();
    for a in config.agents.iter().filter(|a| a.enabled) {
        let strategy = a.strategy()?;
        let (driver, benchmark) = match &strategy {
            StrategyParams::Llm(p) => {
                let kind = crate::agents::llm::agent_kind(p);
                let driver = match p.resolve_key(env) {
                    Ok(_) => AgentDriver::Remote {
                        kind,
                        cadence_ms: i64::try_from(p.cadence_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
                        next_due_ms: None,
                        in_flight: None,
                    },
                    Err(reason) => {
                        tracing::warn!(agent = %a.name, "LLM agent {reason}; the rest of the arena runs");
                        AgentDriver::Unavailable { kind, reason }
                    }
                };
                (driver, false)
            }
            rule => match crate::agents::rules::build_rule(rule) {
                Some((rule, benchmark)) => (AgentDriver::Rule(rule), benchmark),
                None => anyhow::bail!("agent {}: kind {} is not a rule strategy", a.name, a.kind.as_str()),
            },
        };
        specs.push(AgentSpec {
            id: a.name,
            driver,
            benchmark,
            symbols: config.agent_symbols(a),
            balance: config.agent_balance(a),
            limits: Some(config.agent_limits(a)?),
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
    build_driver_with_agents(config, instruments, clock, candle_input, durability, specs)
}

/// Engine + paper venue for `config` with the given agents (e.g. LLM agents made available
/// without keys because their decisions are replayed).
pub fn build_driver_with_agents(
    config: &Config,
    instruments: Vec<Instrument>,
    clock: ManualClock,
    candle_input: CandleInput,
    durability: Durability,
    specs: Vec<AgentSpec>,
) -> anyhow::Result<Driver> {
    let mut paper = PaperExchange::new(config.paper.venue.clone(), instruments.clone(), 1);
    for s in &specs {
        paper.open_account(s.id, s.balance);
    }
    let engine_config = EngineConfig {
        equity_sample_ms: i64::from(config.engine.equity_sample_secs) * 1000,
        candle_history: config.engine.candle_history,
        log_capacity: config.engine.log_lines,
        candle_input,
        pause_after_failures: config.engine.pause_after_failures,
        mode: "PAPER".into(),
        source: config.market.source.as_str().into(),
    };
    let mut engine = Engine::new(
        engine_config,
        instruments,
        specs,
        RiskGate::with_arena(config.risk.clone(), config.arena.clone()),
        Arc::new(clock.clone()),
    );
    engine.set_adaptation(config.adaptation.clone());
    Ok(Driver::new(engine, Box::new(paper), Some(clock), durability))
}
