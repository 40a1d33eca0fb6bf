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
use crate::agents::llm::LlmParams;
use crate::agents::rules::breakout::BreakoutParams;
use crate::agents::rules::ema_cross::EmaCrossParams;
use crate::agents::rules::mean_reversion::MeanReversionParams;
use crate::agents::rules::momentum::MomentumParams;
use crate::agents::rules::random::RandomParams;
use crate::agents::rules::trend::TrendParams;
use crate::domain::{AgentId, Symbol};
use crate::execution::paper::PaperConfig;
use crate::market::binance::BinanceMarket;
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
    /// Exchange endpoints for live market data.
    pub venues: VenuesConfig,
    /// Connection discipline of live feeds.
    pub live: LiveConfig,
    pub ui: UiConfig,
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
            venues: VenuesConfig::default(),
            live: LiveConfig::default(),
            ui: UiConfig::default(),
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
    /// `sim`, `binance`, `hyperliquid` or `auto` (the live `venue`, else sim).
    pub source: SourceKind,
    /// The live venue `auto` tries.
    pub venue: LiveVenue,
    /// Symbols to trade.
    pub symbols: Vec<Symbol>,
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self { source: SourceKind::Auto, venue: LiveVenue::Binance, symbols: default_symbols() }
    }
}

/// Market data sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// The built-in seeded synthetic market.
    Sim,
    /// Binance live data (`venues.binance`), paper-traded.
    Binance,
    /// Hyperliquid live data (`venues.hyperliquid`), paper-traded.
    Hyperliquid,
    /// The live `market.venue` if it answers within `live.auto_timeout_secs`, else the sim.
    Auto,
    /// Market data files (`[replay]`, `--file`): backtests and scans only.
    Replay,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Sim => "sim",
            SourceKind::Binance => "binance",
            SourceKind::Hyperliquid => "hyperliquid",
            SourceKind::Auto => "auto",
            SourceKind::Replay => "replay",
        }
    }
}

/// Live venues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveVenue {
    Binance,
    Hyperliquid,
}

impl LiveVenue {
    pub fn as_str(self) -> &'static str {
        match self {
            LiveVenue::Binance => "binance",
            LiveVenue::Hyperliquid => "hyperliquid",
        }
    }
}

/// `[venues]`: exchange endpoints.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VenuesConfig {
    pub binance: BinanceVenueConfig,
    pub hyperliquid: HyperliquidVenueConfig,
}

/// `[venues.binance]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BinanceVenueConfig {
    /// `usdm` (USDⓈ-M perpetual futures) or `spot`.
    pub market: BinanceMarket,
    /// REST base URL (default: mainnet for `market`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rest_url: Option<String>,
    /// WebSocket base URL (default: mainnet for `market`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ws_url: Option<String>,
}

impl BinanceVenueConfig {
    pub fn rest_url(&self) -> &str {
        self.rest_url.as_deref().unwrap_or(self.market.default_rest_url())
    }

    pub fn ws_url(&self) -> &str {
        self.ws_url.as_deref().unwrap_or(self.market.default_ws_url())
    }
}

/// `[venues.hyperliquid]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HyperliquidVenueConfig {
    pub rest_url: String,
    pub ws_url: String,
}

impl Default for HyperliquidVenueConfig {
    fn default() -> Self {
        Self {
            rest_url: crate::market::hyperliquid::DEFAULT_REST_URL.into(),
            ws_url: crate::market::hyperliquid::DEFAULT_WS_URL.into(),
        }
    }
}

/// `[live]`: how live feeds watch and recover their connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// Seconds without trades or book updates after which a symbol is stale.
    pub stale_after_secs: f64,
    /// Seconds without any frame after which the connection is dropped and reopened.
    pub idle_reconnect_secs: u32,
    /// Limit on opening a connection, in seconds.
    pub connect_timeout_secs: u32,
    /// First reconnect delay in milliseconds; it doubles per failed attempt (with jitter).
    pub backoff_min_ms: u64,
    /// Largest reconnect delay in seconds.
    pub backoff_max_secs: u32,
    /// Seconds between REST polls of funding, open interest and the long/short ratio.
    pub context_poll_secs: u32,
    /// 1m bars of history fetched per symbol before agents may act.
    pub warmup_bars: u32,
    /// How long `source = "auto"` waits for the live venue before using the sim, in seconds.
    pub auto_timeout_secs: f64,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            stale_after_secs: 5.0,
            idle_reconnect_secs: 30,
            connect_timeout_secs: 10,
            backoff_min_ms: 500,
            backoff_max_secs: 30,
            context_poll_secs: 60,
            warmup_bars: 12_000,
            auto_timeout_secs: 5.0,
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

/// The terminal UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Theme name: a built-in (`dark`, `light`, `high-contrast`, `mono`) or a file
    /// `<config dir>/themes/NAME.toml`.
    pub theme: String,
    /// Most frames drawn per second (1..=30); frames are drawn only when something changed.
    pub max_fps: u32,
    /// `auto` (ASCII when the locale is not UTF-8), `unicode` or `ascii`.
    pub glyphs: GlyphsSetting,
    /// Sparklines and the account-value chart: `block` or `braille`.
    pub marker: MarkerSetting,
    /// Mouse wheel scrolling (off by default so the terminal's own text selection keeps working).
    pub mouse: bool,
    /// Show profit in the loss colour and loss in the profit colour (markets where red means up).
    pub swap_pnl_colors: bool,
    /// When the terminal goes away (SIGHUP, SSH drop): `shutdown` stops the engine cleanly;
    /// `keep-running` keeps the engine running without a screen until SIGTERM or Ctrl-C.
    pub on_hangup: OnHangup,
    /// Key overrides: action name → list of keys (an empty list unbinds the action).
    pub keys: std::collections::BTreeMap<String, Vec<String>>,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            theme: "dark".into(),
            max_fps: 20,
            glyphs: GlyphsSetting::Auto,
            marker: MarkerSetting::Block,
            mouse: false,
            swap_pnl_colors: false,
            on_hangup: OnHangup::Shutdown,
            keys: std::collections::BTreeMap::new(),
        }
    }
}

/// Which characters the UI may draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GlyphsSetting {
    Auto,
    Unicode,
    Ascii,
}

/// How sparklines and charts are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarkerSetting {
    Block,
    Braille,
}

/// What losing the terminal does to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnHangup {
    Shutdown,
    KeepRunning,
}

/// Agent strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    BuyAndHold,
    Trend,
    Random,
    /// A model behind any OpenAI-compatible chat-completions endpoint.
    Llm,
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
            AgentKind::Random => "random",
            AgentKind::Llm => "llm",
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
    Random(RandomParams),
    Llm(Box<LlmParams>),
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
            AgentKind::Random => {
                let p: RandomParams = table.try_into().map_err(parse_err)?;
                p.validate().map_err(|m| invalid(&key, m))?;
                Ok(StrategyParams::Random(p))
            }
            AgentKind::Llm => {
                let p: LlmParams = table.try_into().map_err(parse_err)?;
                p.validate().map_err(|m| invalid(&key, m))?;
                Ok(StrategyParams::Llm(Box::new(p)))
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
        // Live venues check their symbols against the venue at startup; `auto` may fall back.
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
        let l = &self.live;
        if !(l.stale_after_secs.is_finite() && (0.5..=3600.0).contains(&l.stale_after_secs)) {
            return Err(invalid("live.stale_after_secs", "must be a number of seconds in [0.5, 3600]"));
        }
        if !(1..=3600).contains(&l.idle_reconnect_secs) {
            return Err(invalid("live.idle_reconnect_secs", "must be between 1 and 3600"));
        }
        if !(1..=120).contains(&l.connect_timeout_secs) {
            return Err(invalid("live.connect_timeout_secs", "must be between 1 and 120"));
        }
        if !(10..=60_000).contains(&l.backoff_min_ms) {
            return Err(invalid("live.backoff_min_ms", "must be between 10 and 60000"));
        }
        if !(1..=3600).contains(&l.backoff_max_secs) || u64::from(l.backoff_max_secs) * 1000 < l.backoff_min_ms {
            return Err(invalid("live.backoff_max_secs", "must be between 1 and 3600 and at least backoff_min_ms"));
        }
        if !(5..=86_400).contains(&l.context_poll_secs) {
            return Err(invalid("live.context_poll_secs", "must be between 5 and 86400"));
        }
        if !(300..=100_000).contains(&l.warmup_bars) {
            return Err(invalid("live.warmup_bars", "must be between 300 and 100000"));
        }
        if !(l.auto_timeout_secs.is_finite() && (0.5..=120.0).contains(&l.auto_timeout_secs)) {
            return Err(invalid("live.auto_timeout_secs", "must be a number of seconds in [0.5, 120]"));
        }
        for (key, url, schemes) in [
            ("venues.binance.rest_url", self.venues.binance.rest_url(), ["http://", "https://"]),
            ("venues.binance.ws_url", self.venues.binance.ws_url(), ["ws://", "wss://"]),
            ("venues.hyperliquid.rest_url", self.venues.hyperliquid.rest_url.as_str(), ["http://", "https://"]),
            ("venues.hyperliquid.ws_url", self.venues.hyperliquid.ws_url.as_str(), ["ws://", "wss://"]),
        ] {
            if !schemes.iter().any(|s| url.starts_with(s)) || url.len() <= schemes[0].len() + 1 {
                return Err(invalid(
                    key,
                    format!("`{url}` must be a URL starting with {} or {}", schemes[0], schemes[1]),
                ));
            }
        }
        self.replay.validate().map_err(|(k, m)| invalid(k, m))?;
        self.adaptation.validate().map_err(|(k, m)| invalid(k, m))?;
        if crate::logging::parse_filter(&self.logging.level).is_err() {
            return Err(invalid("logging.level", "expected error, warn, info, debug, trace or a tracing filter"));
        }
        if self.logging.keep_files == 0 {
            return Err(invalid("logging.keep_files", "must be at least 1"));
        }
        if !(1..=30).contains(&self.ui.max_fps) {
            return Err(invalid("ui.max_fps", "must be between 1 and 30 frames per second"));
        }
        if self.ui.theme.is_empty() || !self.ui.theme.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid("ui.theme", "a theme name uses only letters, digits, - and _ (e.g. \"dark\")"));
        }
        crate::ui::keymap::Keymap::with_overrides(&self.ui.keys).map_err(|e| invalid("ui.keys", e.to_string()))?;
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
    fn live_sources_and_endpoints_parse() {
        let c = parse(
            "[market]\nsource = \"auto\"\nvenue = \"hyperliquid\"\nsymbols = [\"DOGEUSDT\"]\n\
             [venues.binance]\nmarket = \"spot\"\n\
             [venues.hyperliquid]\nws_url = \"ws://127.0.0.1:9/ws\"\n",
        )
        .unwrap();
        assert_eq!((c.market.source, c.market.venue), (SourceKind::Auto, LiveVenue::Hyperliquid));
        assert_eq!(c.venues.binance.rest_url(), "https://api.binance.com", "mainnet of the chosen market");
        assert_eq!(c.venues.binance.ws_url(), "wss://stream.binance.com:9443");
        assert_eq!(c.venues.hyperliquid.ws_url, "ws://127.0.0.1:9/ws");
        assert_eq!(Config::default().venues.binance.rest_url(), "https://fapi.binance.com");
        let e = parse("[venues.binance]\nmarket = \"coinm\"\n").unwrap_err();
        assert!(e.contains("coinm"), "{e}");
    }

    #[test]
    fn ui_keys_duplicates_name_both_actions_and_empty_lists_unbind() {
        let e = parse("[ui.keys]\nfreeze = [\"q\"]\n").unwrap_err();
        assert!(e.contains("ui.keys") && e.contains("quit") && e.contains("freeze"), "{e}");
        let c = parse("[ui.keys]\nfreeze = []\nquit = [\"f\", \"ctrl+c\"]\n").unwrap();
        assert_eq!(c.ui.keys["freeze"], Vec::<String>::new());
        let e = parse("[ui.keys]\nexplode = [\"x\"]\n").unwrap_err();
        assert!(e.contains("explode"), "{e}");
        let e = parse("[ui]\non_hangup = \"explode\"\n").unwrap_err();
        assert!(e.contains("keep-running"), "{e}");
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
            ("[market]\nsource = \"sim\"\nsymbols = [\"DOGEUSDT\"]\n", "market.symbols"),
            ("[logging]\nlevel = \"loud!!\"\n", "logging.level"),
            ("[live]\nstale_after_secs = 0.0\n", "live.stale_after_secs"),
            ("[live]\nbackoff_min_ms = 5000\nbackoff_max_secs = 1\n", "live.backoff_max_secs"),
            ("[live]\nwarmup_bars = 10\n", "live.warmup_bars"),
            ("[venues.binance]\nws_url = \"https://x\"\n", "venues.binance.ws_url"),
            ("[venues.hyperliquid]\nrest_url = \"ftp://x\"\n", "venues.hyperliquid.rest_url"),
            ("[ui]\nmax_fps = 120\n", "ui.max_fps"),
            ("[ui]\ntheme = \"../x\"\n", "ui.theme"),
            ("[ui.keys]\nquit = [\"p\"]\n", "ui.keys"),
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
