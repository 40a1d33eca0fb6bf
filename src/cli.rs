//! Command-line interface (`clap`). `--help` is generated from these definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::SourceKind;
use crate::domain::{AgentId, Symbol};

/// AlphaTransformer — a terminal trading cockpit for autonomous trading agents.
///
/// With no arguments it starts a paper-trading arena on the built-in simulated market: no
/// config, no API keys and no network needed.
#[derive(Debug, Parser)]
#[command(name = "alphatx", version, about, long_about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<CliCommand>,
}

/// Options every subcommand understands.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Configuration file (default: the platform config dir, e.g. ~/.config/alphatx/config.toml,
    /// used only if it exists).
    #[arg(long, global = true, env = "ALPHATX_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory for the ledger and logs (default: e.g. ~/.local/share/alphatx).
    #[arg(long, global = true, env = "ALPHATX_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Market data source (overrides `market.source`).
    #[arg(long, global = true, value_enum)]
    pub source: Option<SourceKind>,
    /// Seed of the simulated market (overrides `sim.seed`).
    #[arg(long, global = true)]
    pub seed: Option<u64>,
    /// Comma-separated symbols to trade (overrides `market.symbols`), e.g. BTCUSDT,ETHUSDT.
    #[arg(long, global = true, value_delimiter = ',')]
    pub symbols: Option<Vec<Symbol>>,
    /// Comma-separated agent names to run (default: every enabled agent in the config).
    #[arg(long, global = true, value_delimiter = ',')]
    pub agents: Option<Vec<AgentId>>,
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run the arena live on the configured market (paper trading).
    Run(RunArgs),
    /// Replay history through the same engine as fast as possible and report per-agent metrics.
    Backtest(BacktestArgs),
    /// Market scanner: indicators and strategy signals for every symbol and timeframe.
    Scan(ScanArgs),
}

#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// Run without a terminal UI: log to file and print a one-line status periodically.
    #[arg(long)]
    pub headless: bool,
    /// Clock multiplier of the simulated market (overrides `sim.speed`; 60 = one minute per second).
    #[arg(long)]
    pub speed: Option<f64>,
    /// Stop after this many seconds of wall time (useful for scripts and tests).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
}

#[derive(Debug, Args, Clone)]
pub struct BacktestArgs {
    /// Days of simulated market to trade (after the configured warm-up; sim only).
    #[arg(long, default_value_t = 30.0)]
    pub days: f64,
    /// Print the report as JSON on stdout (throughput goes to stderr so stdout is reproducible).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataArgs,
}

/// Market data files for `--source replay`.
#[derive(Debug, Args, Clone, Default)]
pub struct DataArgs {
    /// Market data to replay: a Binance kline/aggTrades/trades CSV or .zip, an OHLCV CSV, an
    /// alphatx recording, or a folder of them. Repeatable. Implies --source replay.
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Symbol of every replayed file (for files whose name does not say it), e.g. BTCUSDT.
    #[arg(long)]
    pub symbol: Option<Symbol>,
}

#[derive(Debug, Args, Clone)]
pub struct ScanArgs {
    /// Show the values at this point in history instead of the end of the data: ISO-8601
    /// (2022-09-05T12:00:00Z, or without Z for UTC) or epoch seconds/milliseconds.
    #[arg(long, value_name = "TIMESTAMP")]
    pub at: Option<String>,
    /// Print the scan as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataArgs,
}
