//! Wiring: builds the arena (market, venue, agents, engine) from the configuration and runs it
//! as a live paper session ([`run`]) or as a backtest ([`backtest`]).

mod backtest;
mod build;
mod run;
mod scan;
pub mod sources;

pub use backtest::{
    BacktestOptions, BacktestReport, BacktestTiming, LlmUsage, backtest, backtest_with, env_llm_setup, format_report,
    lookahead_warning, replay_backtest, replay_backtest_with, replay_config, sim_backtest, warmup_warnings,
};
pub use build::{build_agents, build_agents_with_env, build_driver, build_driver_with_agents, sim_config};
pub use run::{run, status_line};
pub use scan::{parse_at, scan};

use std::path::PathBuf;

use anyhow::bail;

use crate::cli::GlobalArgs;
use crate::config::Config;

pub(crate) const DAY_MS: i64 = 86_400_000;

/// Backtests and scans run on history: the sim market or replayed files. `auto` means the sim
/// there; a live venue is refused with the way to get its history.
pub(crate) fn check_history_source(config: &Config, command: &str) -> anyhow::Result<()> {
    use crate::config::SourceKind;
    match config.market.source {
        SourceKind::Binance | SourceKind::Hyperliquid => bail!(
            "`alphatx {command}` runs on the sim market or on files (--source replay --file PATH); for {} history, \
             record a live session with `alphatx --source {} --record FILE` or download Binance public data, then \
             pass the files with --file",
            config.market.source.as_str(),
            config.market.source.as_str()
        ),
        SourceKind::Sim | SourceKind::Auto | SourceKind::Replay => Ok(()),
    }
}

/// Fixed start of simulated backtests (2025-01-01 00:00 UTC): never the wall clock, so the same
/// seed always gives the same report.
pub const BACKTEST_EPOCH_MS: i64 = 1_735_689_600_000;

/// Where configuration and data live.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The configuration file to read, if any.
    pub config_file: Option<PathBuf>,
    pub data_dir: PathBuf,
}

impl Paths {
    /// Resolves paths from flags/env, falling back to the platform directories.
    pub fn resolve(global: &GlobalArgs) -> anyhow::Result<Self> {
        let dirs = directories::ProjectDirs::from("dev", "AlphaTransformer", "alphatx");
        let config_file = match &global.config {
            Some(p) => Some(p.clone()),
            None => dirs.as_ref().map(|d| d.config_dir().join("config.toml")).filter(|p| p.is_file()),
        };
        let data_dir = match (&global.data_dir, &dirs) {
            (Some(d), _) => d.clone(),
            (None, Some(d)) => d.data_dir().to_owned(),
            (None, None) => bail!(
                "cannot find a home directory for the default data directory; pass --data-dir DIR or set ALPHATX_DATA_DIR"
            ),
        };
        Ok(Self { config_file, data_dir })
    }

    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }

    /// The SQLite ledger of every run.
    pub fn ledger(&self) -> PathBuf {
        self.data_dir.join("ledger.sqlite")
    }
}

/// Loads the configuration and applies command-line overrides.
pub fn load_config(global: &GlobalArgs) -> anyhow::Result<Config> {
    let config_file = match &global.config {
        Some(p) => Some(p.clone()),
        None => directories::ProjectDirs::from("dev", "AlphaTransformer", "alphatx")
            .map(|d| d.config_dir().join("config.toml"))
            .filter(|p| p.is_file()),
    };
    let mut config = Config::load(config_file.as_deref())?;
    if let Some(source) = global.source {
        config.market.source = source;
    }
    if let Some(seed) = global.seed {
        config.sim.seed = seed;
    }
    if let Some(symbols) = &global.symbols {
        config.market.symbols = symbols.clone();
        // Agents that named symbols keep those still traded.
        for a in &mut config.agents {
            if let Some(s) = &mut a.symbols {
                s.retain(|x| symbols.contains(x));
                if s.is_empty() {
                    // Disabled: its (now empty) list would not pass validation.
                    a.enabled = false;
                    a.symbols = None;
                }
            }
        }
    }
    if let Some(only) = &global.agents {
        for name in only {
            if !config.agents.iter().any(|a| a.name == *name) {
                let known: Vec<&str> = config.agents.iter().map(|a| a.name.as_str()).collect();
                bail!("--agents: no agent named {name} (configured: {})", known.join(", "));
            }
        }
        for a in &mut config.agents {
            a.enabled = only.contains(&a.name);
        }
    }
    config.validate()?;
    Ok(config)
}
