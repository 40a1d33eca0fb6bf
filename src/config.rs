//! Configuration: one TOML file, every key optional, every default in code.
//!
//! `config.example.toml` documents every key and must parse to exactly [`Config::default`]
//! (a test keeps them equal). Unknown keys are rejected (`deny_unknown_fields`) and values are
//! checked by [`Config::validate`]; every error names the key and says what is expected.

use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::agents::adaptive::AdaptationConfig;
use crate::agents::baseline::BuyAndHoldParams;
use crate::agents::rules::breakout::BreakoutParams;
use crate::agents::rules::ema_cross::EmaCrossParams;
use crate::agents::rules::mean_reversion::MeanReversionParams;
use crate::agents::rules::momentum::MomentumParams;
use crate::agents::rules::trend::TrendParams;
use crate::domain::{AgentId, Symbol};
use crate::execution::paper::PaperConfig;
use crate::market::replay::ReplaySettings;
use crate::risk::{ArenaLimits, RiskLimits};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.into(), message: message.into() }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub market: MarketConfig,
    pub sim: SimSettings,
    pub engine: EngineSettings,
    pub paper: PaperSettings,
    /// Every agent's risk limits (each agent may override them in `[agents.risk]`).
    pub risk: RiskLimits,
    /// Arena-wide limits and breakers.
    pub arena: ArenaLimits,
    pub logging: LoggingConfig,
    /// Files replayed with `--source replay`.
    pub replay: ReplaySettings,
    /// Adaptive sizing and capital re-weighting (both off by default).
    pub adaptation: AdaptationConfig,
    pub agents: Vec<AgentConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            market: MarketConfig::default(),
            sim: SimSettings::default(),
            engine: EngineSettings::default(),
            paper: PaperSettings::default(),
            risk: RiskLimits::default(),
            arena: ArenaLimits::default(),
            logging: LoggingConfig::default(),
            replay: ReplaySettings::default(),
            adaptation: AdaptationConfig::default(),
            agents: default_agents(),
        }
    }
}

/// Where market data comes from and what is traded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketConfig {
    /// `sim` (built-in synthetic market).
    pub source: SourceKind,
    /// Symbols to trade.
    pub symbols: Vec<Symbol>,
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self { source: SourceKind::Sim, symbols: default_symbols() }
    }
}

/// Market data sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// The built-in seeded synthetic market.
    Sim,
    /// Market data files (`[replay]`, `--file`): backtests and scans only.
    Replay,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Sim => "sim",
            SourceKind::Replay => "replay",
        }
    }
}

fn default_symbols() -> Vec<Symbol> {
    ["BTCUSDT", "ETHUSDT", "SOLUSDT"].iter().filter_map(|s| Symbol::new(s).ok()).collect()
}

/// The synthetic market.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimSettings {
    /// Seed of the market and of everything random in a run.
    pub seed: u64,
    /// Clock multiplier for `run` (1 = real time).
    pub speed: f64,
    /// Interval between price updates in `run`, in milliseconds.
    pub step_ms: i64,
    /// Days of history generated before the run starts, so indicators are warm.
    pub warmup_days: u32,
}

impl Default for SimSettings {
    fn default() -> Self {
        Self { seed: 42, speed: 1.0, step_ms: 1000, warmup_days: 10 }
    }
}

/// Engine behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// Equity sampling interval in seconds of market time.
    pub equity_sample_secs: u32,
    /// Closed candles kept per symbol and timeframe.
    pub candle_history: usize,
    /// Lines kept in the reasoning log.
    pub log_lines: usize,
    /// Most snapshots published per second.
    pub snapshot_hz: u32,
    /// Seconds between status lines in `run --headless`.
    pub status_interval_secs: u32,
    /// Failed replies in a row after which a slow (LLM) agent is paused (0 = never).
    pub pause_after_failures: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            equity_sample_secs: 60,
            candle_history: 500,
            log_lines: 500,
            snapshot_hz: 10,
            status_interval_secs: 5,
            pause_after_failures: 5,
        }
    }
}

/// The paper venue and accounts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaperSettings {
    /// Starting balance of every agent account (quote asset), unless the agent sets its own.
    pub starting_balance: Decimal,
    #[serde(flatten)]
    pub venue: PaperConfig,
}

impl Default for PaperSettings {
    fn default() -> Self {
        Self { starting_balance: Decimal::from(10_000), venue: PaperConfig::default() }
    }
}

/// Log files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// `error`, `warn`, `info`, `debug` or `trace` (or a `tracing` filter such as `alphatx=debug`).
    pub level: String,
    /// Daily log files kept.
    pub keep_files: usize,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self { level: "info".into(), keep_files: 14 }
    }
}

/// Agent strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    BuyAndHold,
    Trend,
    MeanReversion,
    Breakout,
    Momentum,
    EmaCross,
}

impl AgentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentKind::BuyAndHold => "buy_and_hold",
            AgentKind::Trend => "trend",
            AgentKind::MeanReversion => "mean_reversion",
            AgentKind::Breakout => "breakout",
            AgentKind::Momentum => "momentum",
            AgentKind::EmaCross => "ema_cross",
        }
    }
}

/// One `[[agents]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub name: AgentId,
    pub kind: AgentKind,
    /// Symbols the agent may trade (default: all of `market.symbols`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbols: Option<Vec<Symbol>>,
    /// Starting balance (default: `paper.starting_balance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<Decimal>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Strategy parameters; see the strategy's documentation.
    #[serde(default)]
    pub params: toml::Table,
    /// Overrides of `[risk]` limits for this agent.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub risk: toml::Table,
}

fn yes() -> bool {
    true
}

fn default_agents() -> Vec<AgentConfig> {
    let mk = |name: &str, kind, risk: toml::Table| {
        AgentId::new(name).map(|name| AgentConfig {
            name,
            kind,
            symbols: None,
            balance: None,
            enabled: true,
            params: toml::Table::new(),
            risk,
        })
    };
    // The baseline is a measurement, not a strategy: it holds without a stop.
    let mut no_stop = toml::Table::new();
    no_stop.insert("require_stop_loss".into(), toml::Value::Boolean(false));
    [
        mk("buy-and-hold", AgentKind::BuyAndHold, no_stop),
        mk("trend", AgentKind::Trend, toml::Table::new()),
        mk("mean-reversion", AgentKind::MeanReversion, toml::Table::new()),
        mk("breakout", AgentKind::Breakout, toml::Table::new()),
        mk("momentum", AgentKind::Momentum, toml::Table::new()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Parsed strategy parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum StrategyParams {
    BuyAndHold(BuyAndHoldParams),
    Trend(TrendParams),
    MeanReversion(MeanReversionParams),
    Breakout(BreakoutParams),
    Momentum(MomentumParams),
    EmaCross(EmaCrossParams),
}

impl AgentConfig {
    /// Parses `params` for the agent's kind; errors name `agents.<name>.params`.
    pub fn strategy(&self) -> Result<StrategyParams, ConfigError> {
        let key = format!("agents.{}.params", self.name);
        let table = toml::Value::Table(self.params.clone());
        let parse_err = |e: toml::de::Error| invalid(&key, e.message().to_owned());
        match self.kind {
            AgentKind::BuyAndHold => {
                let p: BuyAndHoldParams = table.try_into().map_err(parse_err)?;
                if p.invest_fraction <= Decimal::ZERO || p.invest_fraction > Decimal::ONE {
                    return Err(invalid(format!("{key}.invest_fraction"), "must be in (0, 1]"));
                }
                Ok(StrategyParams::BuyAndHold(p))
            }
            AgentKind::Trend => {
                let p: TrendParams = table.try_into().map_err(parse_err)?;
                p.validate().map_err(|m| invalid(&key, m))?;
                Ok(StrategyParams::Trend(p))
            }
            AgentKind::MeanReversion => {
                let p: MeanReversionParams = table.try_into().map_err(parse_err)?;
                p.validate().map_err(|m| invalid(&key, m))?;
                Ok(StrategyParams::MeanReversion(p))
            }
            AgentKind::Breakout => {
                let p: BreakoutParams = table.try_into().map_err(parse_err)?;
                p.validate().map_err(|m| invalid(&key, m))?;
                Ok(StrategyParams::Breakout(p))
            }
            AgentKind::Momentum => {
                let p: MomentumParams = table.try_into().map_err(parse_err)?;
                p.validate().map_err(|m| invalid(&key, m))?;
                Ok(StrategyParams::Momentum(p))
            }
            AgentKind::EmaCross => {
                let p: EmaCrossParams = table.try_into().map_err(parse_err)?;
                p.validate().map_err(|m| invalid(&key, m))?;
                Ok(StrategyParams::EmaCross(p))
            }
        }
    }
}

impl Config {
    /// Parses TOML text; `origin` names the file in messages.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Parse { path: origin.to_owned(), message: e.to_string() })?;
        config.validate()?;
        Ok(config)
    }

    /// Loads `path`; `None` means "use the defaults".
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        match path {
            None => Ok(Self::default()),
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|source| ConfigError::Read { path: p.to_owned(), source })?;
                Self::from_toml(&text, p)
            }
        }
    }

    /// Checks every value; the first problem is returned with its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.market.symbols.is_empty() {
            return Err(invalid("market.symbols", "list at least one symbol, e.g. [\"BTCUSDT\"]"));
        }
        for (i, s) in self.market.symbols.iter().enumerate() {
            if self.market.symbols[..i].contains(s) {
                return Err(invalid("market.symbols", format!("{s} is listed twice")));
            }
        }
        let known = crate::market::builtin_instruments();
        if self.market.source == SourceKind::Sim {
            for s in &self.market.symbols {
                if !known.iter().any(|i| i.symbol == *s) {
                    let names: Vec<&str> = known.iter().map(|i| i.symbol.as_str()).collect();
                    return Err(invalid(
                        "market.symbols",
                        format!("the sim market has no {s}; it has {}", names.join(", ")),
                    ));
                }
            }
        }
        let s = &self.sim;
        if !(s.speed.is_finite() && s.speed > 0.0 && s.speed <= 100_000.0) {
            return Err(invalid("sim.speed", "must be a number in (0, 100000]"));
        }
        if !(10..=60_000).contains(&s.step_ms) {
            return Err(invalid("sim.step_ms", "must be between 10 and 60000 milliseconds"));
        }
        if s.warmup_days > 365 {
            return Err(invalid("sim.warmup_days", "must be at most 365"));
        }
        let e = &self.engine;
        if !(1..=86_400).contains(&e.equity_sample_secs) {
            return Err(invalid("engine.equity_sample_secs", "must be between 1 and 86400"));
        }
        if !(60..=100_000).contains(&e.candle_history) {
            return Err(invalid("engine.candle_history", "must be between 60 and 100000"));
        }
        if !(10..=100_000).contains(&e.log_lines) {
            return Err(invalid("engine.log_lines", "must be between 10 and 100000"));
        }
        if !(1..=60).contains(&e.snapshot_hz) {
            return Err(invalid("engine.snapshot_hz", "must be between 1 and 60"));
        }
        if !(1..=3600).contains(&e.status_interval_secs) {
            return Err(invalid("engine.status_interval_secs", "must be between 1 and 3600"));
        }
        let p = &self.paper;
        if p.starting_balance <= Decimal::ZERO {
            return Err(invalid("paper.starting_balance", "must be positive"));
        }
        for (key, v) in [
            ("paper.synthetic_spread_bps", p.venue.synthetic_spread_bps),
            ("paper.impact_bps", p.venue.impact_bps),
            ("paper.max_impact_bps", p.venue.max_impact_bps),
        ] {
            if !(v.is_finite() && (0.0..=1000.0).contains(&v)) {
                return Err(invalid(key, "must be a number of basis points in [0, 1000]"));
            }
        }
        self.risk.validate("risk").map_err(|(k, m)| invalid(k, m))?;
        self.arena.validate().map_err(|(k, m)| invalid(k, m))?;
        self.replay.validate().map_err(|(k, m)| invalid(k, m))?;
        self.adaptation.validate().map_err(|(k, m)| invalid(k, m))?;
        if crate::logging::parse_filter(&self.logging.level).is_err() {
            return Err(invalid("logging.level", "expected error, warn, info, debug, trace or a tracing filter"));
        }
        if self.logging.keep_files == 0 {
            return Err(invalid("logging.keep_files", "must be at least 1"));
        }
        if !self.agents.iter().any(|a| a.enabled) {
            return Err(invalid("agents", "enable at least one agent"));
        }
        for (i, a) in self.agents.iter().enumerate() {
            if self.agents[..i].iter().any(|b| b.name == a.name) {
                return Err(invalid("agents", format!("two agents are named {}", a.name)));
            }
            if let Some(syms) = &a.symbols {
                if syms.is_empty() {
                    return Err(invalid(
                        format!("agents.{}.symbols", a.name),
                        "must not be empty (omit it to trade every symbol)",
                    ));
                }
                if let Some(s) = syms.iter().find(|s| !self.market.symbols.contains(s)) {
                    return Err(invalid(format!("agents.{}.symbols", a.name), format!("{s} is not in market.symbols")));
                }
            }
            if let Some(b) = a.balance
                && b <= Decimal::ZERO
            {
                return Err(invalid(format!("agents.{}.balance", a.name), "must be positive"));
            }
            a.strategy()?;
            self.agent_limits(a)?;
        }
        Ok(())
    }

    /// An agent's effective risk limits: `[risk]` with its `[agents.risk]` overrides.
    pub fn agent_limits(&self, agent: &AgentConfig) -> Result<RiskLimits, ConfigError> {
        if agent.risk.is_empty() {
            return Ok(self.risk.clone());
        }
        let key = format!("agents.{}.risk", agent.name);
        let base = toml::Table::try_from(&self.risk).map_err(|e| invalid(&key, e.to_string()))?;
        let mut merged = base;
        for (k, v) in &agent.risk {
            merged.insert(k.clone(), v.clone());
        }
        let limits: RiskLimits = toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| invalid(&key, e.message().to_owned()))?;
        limits.validate(&key).map_err(|(k, m)| invalid(k, m))?;
        Ok(limits)
    }

    /// Symbols an agent trades.
    pub fn agent_symbols(&self, agent: &AgentConfig) -> Vec<Symbol> {
        agent.symbols.clone().unwrap_or_else(|| self.market.symbols.clone())
    }

    /// Starting balance of an agent.
    pub fn agent_balance(&self, agent: &AgentConfig) -> Decimal {
        agent.balance.unwrap_or(self.paper.starting_balance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::from_toml(text, Path::new("test.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = parse("[sim]\nsede = 1\n").unwrap_err();
        assert!(e.contains("sede"), "{e}");
        let e = parse("[[agents]]\nname = \"t\"\nkind = \"trend\"\n[agents.params]\nstop_atrr = 2.0\n").unwrap_err();
        assert!(e.contains("agents.t.params") && e.contains("stop_atrr"), "{e}");
    }

    #[test]
    fn bad_values_say_what_is_expected() {
        for (text, key) in [
            ("[sim]\nspeed = -1.0\n", "sim.speed"),
            ("[sim]\nstep_ms = 1\n", "sim.step_ms"),
            ("[paper]\nstarting_balance = \"0\"\n", "paper.starting_balance"),
            ("[risk]\nmax_leverage = 500\n", "risk.max_leverage"),
            ("[market]\nsymbols = []\n", "market.symbols"),
            ("[market]\nsymbols = [\"DOGEUSDT\"]\n", "market.symbols"),
            ("[logging]\nlevel = \"loud!!\"\n", "logging.level"),
            ("[[agents]]\nname = \"a\"\nkind = \"trend\"\n[[agents]]\nname = \"a\"\nkind = \"trend\"\n", "agents"),
            ("[[agents]]\nname = \"a\"\nkind = \"trend\"\nsymbols = [\"XRPUSDT\"]\n", "agents.a.symbols"),
            ("[[agents]]\nname = \"a\"\nkind = \"trend\"\n[agents.params]\nleverage = 0\n", "agents.a.params"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(key), "{text:?} gave {e}");
        }
        let e = parse("[[agents]]\nname = \"a\"\nkind = \"martingale\"\n").unwrap_err();
        assert!(e.contains("martingale") && e.contains("trend"), "{e}");
        let e = parse("[sim]\nseed = \"x\"\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }
}
