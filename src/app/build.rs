//! Building the arena's parts from the configuration.

use std::sync::Arc;

use crate::clock::ManualClock;
use crate::config::Config;
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
    let mut specs = Vec::new();
    for a in config.agents.iter().filter(|a| a.enabled) {
        let (rule, benchmark) = crate::agents::rules::build_rule(&a.strategy()?);
        let driver = AgentDriver::Rule(rule);
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
