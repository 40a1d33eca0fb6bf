//! Command-line interface (`clap`). `--help` is generated from these definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::SourceKind;
use crate::domain::{AgentId, Symbol};
use crate::store::{ExportFormat, ExportWhat, RunSelector};

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
    /// Export a stored run's trades, equity curve or agent decisions as CSV or JSON.
    Export(ExportArgs),
    /// Copy the ledger to FILE with SQLite's online backup API (safe while the arena runs).
    Backup(BackupArgs),
    /// List the cockpit's key bindings (defaults plus `[ui.keys]` overrides).
    Keys(KeysArgs),
    /// Market scanner: indicators and strategy signals for every symbol and timeframe.
    Scan(ScanArgs),
}

#[derive(Debug, Args, Clone, Default)]
pub struct KeysArgs {
    /// Print the keymap as JSON (action, keys, category, dangerous, description).
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print the keymap as the Markdown table used in the README.
    #[arg(long)]
    pub markdown: bool,
}

#[derive(Debug, Args, Clone)]
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
    /// Start a new run instead of resuming the last one (the old run stays in the ledger).
    #[arg(long)]
    pub fresh: bool,
    /// Name of the arena: each profile resumes its own latest run.
    #[arg(long, default_value = "default", value_name = "NAME")]
    pub profile: String,
    /// In headless mode, print one line per fill once it is durable in the ledger.
    #[arg(long)]
    pub print_fills: bool,
    /// Record the warm-up history and every market event of the session to FILE (JSON Lines,
    /// replayable).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Colour theme of the cockpit (overrides `ui.theme`): dark, light, high-contrast, mono or a
    /// file in <config dir>/themes/.
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Draw with ASCII characters only (no Unicode blocks, braille or box drawing).
    #[arg(long)]
    pub ascii: bool,
    /// Colours: auto (NO_COLOR, COLORTERM, TERM), always, or never (bold/reverse only).
    #[arg(long, value_enum, default_value_t = crate::ui::ColorChoice::Auto)]
    pub color: crate::ui::ColorChoice,
}

impl Default for RunArgs {
    fn default() -> Self {
        Self {
            headless: false,
            speed: None,
            duration: None,
            fresh: false,
            profile: "default".to_owned(),
            print_fills: false,
            record: None,
            theme: None,
            ascii: false,
            color: crate::ui::ColorChoice::Auto,
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct BacktestArgs {
    /// Days of simulated market to trade (after the configured warm-up; sim only).
    #[arg(long, default_value_t = 30.0)]
    pub days: f64,
    /// Print the report as JSON on stdout (throughput goes to stderr so stdout is reproducible).
    #[arg(long)]
    pub json: bool,
    /// Answer LLM agents from recorded decisions (JSON Lines of decision records, e.g. written by
    /// --record-decisions or exported from the ledger) instead of calling the models.
    #[arg(long, value_name = "FILE")]
    pub replay_decisions: Option<PathBuf>,
    /// Write every LLM decision of this backtest to FILE (JSON Lines) for a later --replay-decisions.
    #[arg(long, value_name = "FILE")]
    pub record_decisions: Option<PathBuf>,
    /// Write every fill to FILE (CSV with a header: time, agent, symbol, side, qty, price, fee...),
    /// to compare with `alphatx export --what trades` of a live run.
    #[arg(long, value_name = "FILE")]
    pub fills: Option<PathBuf>,
    /// Write every equity sample to FILE (CSV, the columns of `alphatx export --what equity`).
    #[arg(long, value_name = "FILE")]
    pub equity: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
}

impl Default for BacktestArgs {
    fn default() -> Self {
        Self {
            days: 30.0,
            json: false,
            replay_decisions: None,
            record_decisions: None,
            fills: None,
            equity: None,
            data: DataArgs::default(),
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct ExportArgs {
    /// The run to export: its id, or `latest` (the error message lists the stored runs).
    #[arg(long, value_name = "ID|latest")]
    pub run: RunSelector,
    /// What to export.
    #[arg(long, value_enum)]
    pub what: ExportWhat,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
    /// Write to FILE instead of standard output (an existing file is replaced).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct BackupArgs {
    /// The new file to write the copy to (it must not exist yet).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
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
