//! Replay of market data files: readers, validation and repair, and a source that yields
//! [`MarketEvent`]s in time order across files and symbols.
//!
//! Accepted inputs (`--file F`, repeatable; a folder is searched recursively for `.csv`, `.zip`
//! and `.jsonl` files, in path order):
//! * Binance public-data archive klines, `SYMBOL-1m-YYYY-MM-DD.csv` and the `.zip` as downloaded
//!   (spot, USDⓈ-M and COIN-M; with or without a header; millisecond or microsecond timestamps,
//!   read per row), and Binance `aggTrades` / `trades` files (candles are built from the trades);
//! * generic OHLCV CSV with a header (`timestamp,open,high,low,close,volume`; ISO-8601 or epoch
//!   s/ms/µs/ns times) and generic trade CSV with a header (see [`csv`]);
//! * the project's own JSONL recordings ([`crate::market::recording`]).
//!
//! **Symbol**: `replay.symbol` / `--symbol` if given (it applies to every file), else from the
//! file name: the token before the interval or `aggTrades`/`trades` in Binance names
//! (`BTCUSDT-1m-2022-09-05.zip` → BTCUSDT, `um-BTCUSDT-1m-…` → BTCUSDT), freqtrade pair names
//! (`XRP_ETH-1m.csv` → XRPETH), or the recording's events. A generic file whose name does not
//! say it needs `--symbol`.
//!
//! **Market** (spot, USDⓈ-M or COIN-M): `replay.market` if not `auto`; else the name or folders
//! (`spot`, `um`/`usdm`/`futures` → USDⓈ-M, `cm`/`coinm` → COIN-M — Binance's download folders
//! are `data/spot/…` and `data/futures/um|cm/…`), a `_PERP` symbol → COIN-M, else USDⓈ-M.
//! Instrument rules come from [`instruments`].
//!
//! **Validation and repair** (every problem is reported with its file and line, see
//! [`report::IssueKind::action`]): unreadable rows, bad numbers, non-positive prices, OHLC
//! inconsistencies and misaligned bars are dropped; unsorted rows are sorted (stable); exact
//! duplicates are dropped; conflicting duplicates (same bar time or trade id, other values) keep
//! the first row in file order (files in the order given, then line order); gaps between bars
//! stay gaps — no bar is invented. `replay.strict = true` turns every repair into a rejection
//! naming the first offending line, and `replay.gaps = "fail"` rejects data with gaps. Trades
//! without ids are never de-duplicated (equal prints at the same millisecond are normal).
//!
//! **Events**: a 1-minute bar is delivered when its minute ends (`open + 60 s`), as a venue
//! publishes a closed kline; trades at their own time. Symbols are merged by time, ties in
//! symbol order. All symbols of one replay must be bars or all trades (the engine builds candles
//! from one kind of input); a recording may switch from bars to trades once, as live sessions do.

pub mod csv;
pub mod instruments;
pub mod parse;
pub mod report;

use std::io::Read;
use std::path::{Path, PathBuf};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use self::csv::{BarRow, CsvHints, NameKind, Rows, TradeRow, parse_csv};
pub use self::instruments::{MarketKind, RulesSource};
use self::parse::TimeUnit;
pub use self::report::{FileReport, Issue, IssueKind, ReplaySummary, SymbolReport};
use crate::domain::{Bar, Instrument, MarketData, MarketEvent, Symbol};
use crate::market::candles::CandleInput;
use crate::market::recording::{RecordingHeader, RecordingReader};

const MINUTE_MS: i64 = 60_000;
/// Largest decompressed zip entry read (a guard against zip bombs; a day of BTCUSDT trades is
/// far below it).
const MAX_ENTRY_BYTES: u64 = 4 << 30;

/// `[replay]`: where replayed data come from and how problems are handled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplaySettings {
    /// Files or folders; `--file` on the command line replaces them.
    pub files: Vec<PathBuf>,
    /// Symbol of every file (overrides the file names); needed for generic files whose name does
    /// not say it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<Symbol>,
    /// Market of the files when their names and folders do not say it.
    pub market: MarketChoice,
    /// What to do with missing bars.
    pub gaps: GapPolicy,
    /// Reject the data at the first problem instead of repairing it.
    pub strict: bool,
    /// Hours at the start of the data used only to warm indicators (agents do not trade).
    pub warmup_hours: u32,
    /// Fee rates for every replayed instrument instead of the table's (e.g. "0").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maker_fee: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taker_fee: Option<Decimal>,
}

impl Default for ReplaySettings {
    fn default() -> Self {
        Self {
            files: Vec::new(),
            symbol: None,
            market: MarketChoice::Auto,
            gaps: GapPolicy::Keep,
            strict: false,
            warmup_hours: 0,
            maker_fee: None,
            taker_fee: None,
        }
    }
}

impl ReplaySettings {
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Result<(), (String, String)> {
        for (key, fee) in [("replay.maker_fee", self.maker_fee), ("replay.taker_fee", self.taker_fee)] {
            if let Some(f) = fee
                && !(Decimal::ZERO..=Decimal::new(1, 1)).contains(&f)
            {
                return Err((key.into(), "must be a fee rate in [0, 0.1] (0.0005 = 0.05 %)".into()));
            }
        }
        if self.warmup_hours > 24 * 365 {
            return Err(("replay.warmup_hours".into(), "must be at most 8760 (one year)".into()));
        }
        Ok(())
    }
}

/// `replay.market`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketChoice {
    /// From names and folders, else USDⓈ-M.
    Auto,
    Spot,
    Usdm,
    Coinm,
}

/// `replay.gaps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapPolicy {
    /// Report gaps and trade through them (no bars invented).
    Keep,
    /// Refuse data with gaps.
    Fail,
}

/// Why replay data cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no data files given: pass --file FILE (repeatable, or a folder) or set replay.files")]
    NoFiles,
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    #[error(
        "{path}: cannot tell the symbol from the file name; pass --symbol SYMBOL (or set replay.symbol), e.g. --symbol BTCUSDT"
    )]
    NoSymbol { path: String },
    #[error("{0} (replay.strict = true rejects the data at the first problem; set it to false to repair and report)")]
    Strict(Issue),
    #[error("{0} (replay.gaps = \"fail\"; set it to \"keep\" to trade through gaps)")]
    Gap(Issue),
    #[error(
        "cannot replay bars ({bars}) and trades ({trades}) together: the engine builds candles from one kind of input; replay them separately"
    )]
    MixedInput { bars: String, trades: String },
    #[error("{0}")]
    Empty(String),
}

/// What the file name and its folders say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NameInfo {
    pub symbol: Option<Symbol>,
    pub market: Option<MarketKind>,
    pub kind: NameKind,
}

const INTERVALS: &[&str] =
    &["1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1mo"];

fn market_token(t: &str) -> Option<MarketKind> {
    match t.to_ascii_lowercase().as_str() {
        "spot" => Some(MarketKind::Spot),
        "um" | "usdm" | "usd-m" | "usds-m" | "futures" => Some(MarketKind::Usdm),
        "cm" | "coinm" | "coin-m" => Some(MarketKind::Coinm),
        _ => None,
    }
}

/// Symbol, market and content kind from a file name (`entry` for a zip member) and its folders.
pub fn name_info(path: &Path, entry: Option<&str>) -> NameInfo {
    let name = entry
        .and_then(|e| Path::new(e).file_name().and_then(|n| n.to_str()))
        .or_else(|| path.file_name().and_then(|n| n.to_str()))
        .unwrap_or("");
    let stem = name.split('.').next().unwrap_or(name);
    let tokens: Vec<&str> = stem.split('-').collect();
    let mut info = NameInfo::default();
    let pos = tokens.iter().position(|t| INTERVALS.contains(t) || *t == "aggTrades" || *t == "trades");
    if let Some(i) = pos
        && i >= 1
    {
        info.kind = match tokens[i] {
            "aggTrades" => NameKind::AggTrades,
            "trades" => NameKind::Trades,
            iv => NameKind::Klines(iv.to_owned()),
        };
        let raw = tokens[i - 1].to_ascii_uppercase();
        let mut futures_suffix = tokens[i + 1..].iter().any(|t| t.eq_ignore_ascii_case("futures"));
        // freqtrade pair names: BASE_QUOTE[_SETTLE]; Binance COIN-M symbols end in _PERP or a
        // delivery date and keep their underscore.
        let parts: Vec<&str> = raw.split('_').collect();
        let coinm_name = parts.len() == 2 && (parts[1] == "PERP" || parts[1].bytes().all(|b| b.is_ascii_digit()));
        let symbol = if parts.len() >= 2 && !coinm_name {
            futures_suffix |= parts.len() == 3;
            format!("{}{}", parts[0], parts[1])
        } else {
            raw.clone()
        };
        info.symbol = Symbol::new(&symbol).ok();
        info.market = tokens[..i - 1].iter().rev().find_map(|t| market_token(t));
        if info.market.is_none() && coinm_name {
            info.market = Some(MarketKind::Coinm);
        }
        if info.market.is_none() && futures_suffix {
            info.market = Some(MarketKind::Usdm);
        }
        if info.market.is_none() && parts.len() == 2 && !coinm_name {
            info.market = Some(MarketKind::Spot);
        }
    }
    if info.market.is_none() {
        // Binance's download layout: data/spot/..., data/futures/um/..., data/futures/cm/...
        let dirs: Vec<String> = path
            .parent()
            .into_iter()
            .flat_map(|p| p.components())
            .filter_map(|c| c.as_os_str().to_str().map(str::to_ascii_lowercase))
            .collect();
        info.market = if dirs.iter().any(|d| d == "cm" || d == "coinm") {
            Some(MarketKind::Coinm)
        } else if dirs.iter().any(|d| d == "um" || d == "usdm") {
            Some(MarketKind::Usdm)
        } else if dirs.iter().any(|d| d == "spot") {
            Some(MarketKind::Spot)
        } else {
            None
        };
    }
    info
}

/// One text to parse: a file, or a member of a zip archive.
struct Input {
    /// `path` or `archive.zip:member.csv`, as reports show it.
    label: String,
    path: PathBuf,
    entry: Option<String>,
    text: String,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ReplayError + '_ {
    move |source| ReplayError::Io { path: path.display().to_string(), source }
}

fn has_ext(path: &Path, exts: &[&str]) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Expands folders (recursively, sorted) into files.
fn expand(paths: &[PathBuf], skipped: &mut Vec<String>) -> Result<Vec<PathBuf>, ReplayError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(io_err(p))?;
        if meta.is_dir() {
            let mut stack = vec![p.clone()];
            let mut found = Vec::new();
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
                    let path = entry.map_err(io_err(&dir))?.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if has_ext(&path, &["csv", "zip", "jsonl"]) {
                        found.push(path);
                    } else {
                        skipped.push(path.display().to_string());
                    }
                }
            }
            if found.is_empty() {
                return Err(ReplayError::Format {
                    path: p.display().to_string(),
                    message: "the folder holds no .csv, .zip or .jsonl files".into(),
                });
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Reads a file, unpacking zip archives (every `.csv` / `.jsonl` member, in archive order).
fn read_inputs(path: &Path, out: &mut Vec<Input>) -> Result<(), ReplayError> {
    let label = path.display().to_string();
    if has_ext(path, &["zip"]) {
        let file = std::fs::File::open(path).map_err(io_err(path))?;
        let zerr = |e: zip::result::ZipError| ReplayError::Format {
            path: label.clone(),
            message: format!("not a readable zip archive: {e}"),
        };
        let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(zerr)?;
        let mut members = 0;
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).map_err(zerr)?;
            let name = entry.name().map_err(zerr)?.into_owned();
            if entry.is_dir() || !has_ext(Path::new(&name), &["csv", "jsonl"]) {
                continue;
            }
            if entry.size() > MAX_ENTRY_BYTES {
                return Err(ReplayError::Format {
                    path: format!("{label}:{name}"),
                    message: format!("{} bytes uncompressed is more than this reader accepts", entry.size()),
                });
            }
            let mut text = String::new();
            entry.by_ref().take(MAX_ENTRY_BYTES).read_to_string(&mut text).map_err(|e| ReplayError::Format {
                path: format!("{label}:{name}"),
                message: format!("cannot decompress it as UTF-8 text: {e}"),
            })?;
            members += 1;
            out.push(Input { label: format!("{label}:{name}"), path: path.to_owned(), entry: Some(name), text });
        }
        if members == 0 {
            return Err(ReplayError::Format {
                path: label,
                message: "the archive holds no .csv or .jsonl file".into(),
            });
        }
        return Ok(());
    }
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let text = String::from_utf8(bytes).map_err(|_| ReplayError::Format {
        path: label.clone(),
        message: "not UTF-8 text (expected CSV, a .zip of CSV, or a JSONL recording)".into(),
    })?;
    out.push(Input { label, path: path.to_owned(), entry: None, text });
    Ok(())
}

/// Where a row came from: index into the file labels, and line.
#[derive(Debug, Clone, Copy)]
struct Origin {
    file: u32,
    line: u64,
}

enum BucketRows {
    Bars(Vec<(BarRow, Origin)>),
    Trades(Vec<(TradeRow, Origin)>),
    Events(Vec<(MarketEvent, Origin)>),
}

impl BucketRows {
    fn kind(&self) -> &'static str {
        match self {
            BucketRows::Bars(_) => "bars",
            BucketRows::Trades(_) => "trades",
            BucketRows::Events(_) => "events",
        }
    }
}

/// Everything read for one symbol.
struct Bucket {
    symbol: Symbol,
    market: Option<MarketKind>,
    rows: BucketRows,
    price_dec: u32,
    qty_dec: u32,
    recorded: Option<Instrument>,
    first_file: String,
}

/// Replay data, validated and repaired, ready to be replayed (any number of times).
#[derive(Debug, Clone)]
pub struct ReplayData {
    pub summary: ReplaySummary,
    /// How the engine must build candles from these events.
    pub input: CandleInput,
    instruments: Vec<Instrument>,
    /// Per symbol, events in time order.
    streams: Vec<Vec<MarketEvent>>,
    /// Per stream, the recorded position of each event (file, line): recordings replay events
    /// of the same millisecond in the order the session received them. Empty for other data.
    keys: Vec<Vec<u64>>,
}

impl ReplayData {
    /// Data built in code (benchmarks, tests): one stream per instrument, each already in time
    /// order; no file checks were run, so the summary only lists the symbols.
    pub fn from_streams(instruments: Vec<Instrument>, mut streams: Vec<Vec<MarketEvent>>, input: CandleInput) -> Self {
        streams.truncate(instruments.len());
        for s in &mut streams {
            s.sort_by_key(|e| e.ts_ms);
        }
        let mut summary = ReplaySummary::default();
        for (i, s) in instruments.iter().zip(&streams) {
            summary.symbols.push(SymbolReport {
                symbol: i.symbol,
                market: None,
                instrument: i.clone(),
                rules: RulesSource::Table,
                data: "events".into(),
                events: s.len() as u64,
                first_ms: s.first().map_or(0, event_start),
                last_ms: s.last().map_or(0, event_start),
                gaps: 0,
                missing_minutes: 0,
            });
        }
        Self { summary, input, instruments, streams, keys: Vec::new() }
    }

    /// Every stream's events, per symbol in time order.
    pub fn streams(&self) -> &[Vec<MarketEvent>] {
        &self.streams
    }

    pub fn instruments(&self) -> Vec<Instrument> {
        self.instruments.clone()
    }

    pub fn symbols(&self) -> Vec<Symbol> {
        self.instruments.iter().map(|i| i.symbol).collect()
    }

    /// Events in all streams.
    pub fn len(&self) -> usize {
        self.streams.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Time of the first and last event.
    pub fn span_ms(&self) -> Option<(i64, i64)> {
        let first = self.streams.iter().filter_map(|s| s.first()).map(|e| e.ts_ms).min()?;
        let last = self.streams.iter().filter_map(|s| s.last()).map(|e| e.ts_ms).max()?;
        Some((first, last))
    }

    /// Start of the first bar (or the first event, for trades): where the data begin.
    pub fn start_ms(&self) -> Option<i64> {
        self.streams
            .iter()
            .filter_map(|s| s.first())
            .map(|e| match &e.data {
                MarketData::Bar(b) => b.open_ms,
                _ => e.ts_ms,
            })
            .min()
    }

    /// Keeps only `keep` (in their data order); the report keeps every file.
    pub fn retain_symbols(&mut self, keep: &[Symbol]) {
        let mut k = 0;
        let keep_flags: Vec<bool> = self.instruments.iter().map(|i| keep.contains(&i.symbol)).collect();
        self.instruments.retain(|_| {
            k += 1;
            keep_flags[k - 1]
        });
        let mut k = 0;
        self.streams.retain(|_| {
            k += 1;
            keep_flags[k - 1]
        });
        if !self.keys.is_empty() {
            let mut k = 0;
            self.keys.retain(|_| {
                k += 1;
                keep_flags[k - 1]
            });
        }
        self.summary.symbols.retain(|s| keep.contains(&s.symbol));
    }

    /// The events of every symbol merged in time order (ties in recorded order for recordings,
    /// else in symbol order), borrowed.
    pub fn iter(&self) -> ReplayIter<'_> {
        ReplayIter { streams: &self.streams, keys: &self.keys, pos: vec![0; self.streams.len()] }
    }

    /// The same, as an owning source.
    pub fn into_source(self) -> ReplaySource {
        ReplaySource { pos: vec![0; self.streams.len()], data: self }
    }
}

/// Picks the stream whose next event is earliest; on ties the one recorded first, then the
/// lowest index.
fn next_stream(streams: &[Vec<MarketEvent>], keys: &[Vec<u64>], pos: &[usize]) -> Option<usize> {
    let key = |k: usize| keys.get(k).and_then(|v| v.get(pos[k])).copied().unwrap_or(0);
    let mut best: Option<(usize, i64)> = None;
    for (k, s) in streams.iter().enumerate() {
        if let Some(e) = s.get(pos[k])
            && best.is_none_or(|(b, t)| e.ts_ms < t || (e.ts_ms == t && key(k) < key(b)))
        {
            best = Some((k, e.ts_ms));
        }
    }
    best.map(|(k, _)| k)
}

/// Borrowing time-ordered merge of the streams.
#[derive(Debug)]
pub struct ReplayIter<'a> {
    streams: &'a [Vec<MarketEvent>],
    keys: &'a [Vec<u64>],
    pos: Vec<usize>,
}

impl<'a> Iterator for ReplayIter<'a> {
    type Item = &'a MarketEvent;

    fn next(&mut self) -> Option<&'a MarketEvent> {
        let k = next_stream(self.streams, self.keys, &self.pos)?;
        let e = &self.streams[k][self.pos[k]];
        self.pos[k] += 1;
        Some(e)
    }
}

/// Owning time-ordered source of [`MarketEvent`]s across files and symbols.
#[derive(Debug)]
pub struct ReplaySource {
    data: ReplayData,
    pos: Vec<usize>,
}

impl ReplaySource {
    pub fn data(&self) -> &ReplayData {
        &self.data
    }
}

impl Iterator for ReplaySource {
    type Item = MarketEvent;

    fn next(&mut self) -> Option<MarketEvent> {
        let k = next_stream(&self.data.streams, &self.data.keys, &self.pos)?;
        let e = self.data.streams[k][self.pos[k]].clone();
        self.pos[k] += 1;
        Some(e)
    }
}

/// Routes issues: recorded, or (strict mode) returned as the rejection.
struct Sink<'a> {
    summary: &'a mut ReplaySummary,
    strict: bool,
}

impl Sink<'_> {
    fn push(&mut self, issue: Issue) -> Result<(), Issue> {
        if self.strict && issue.kind != IssueKind::Gap {
            return Err(issue);
        }
        self.summary.record(issue);
        Ok(())
    }
}

/// Reads, validates and repairs every file in `settings.files` (or `files`, when not empty).
pub fn load(settings: &ReplaySettings, files: &[PathBuf]) -> Result<ReplayData, ReplayError> {
    let files = if files.is_empty() { &settings.files[..] } else { files };
    if files.is_empty() {
        return Err(ReplayError::NoFiles);
    }
    let mut summary = ReplaySummary::default();
    let paths = expand(files, &mut summary.skipped_files)?;
    let mut labels: Vec<String> = Vec::new();
    let mut buckets: Vec<Bucket> = Vec::new();
    for path in &paths {
        let mut inputs = Vec::new();
        read_inputs(path, &mut inputs)?;
        for input in inputs {
            let file_idx = u32::try_from(labels.len()).unwrap_or(u32::MAX);
            labels.push(input.label.clone());
            read_one(input, file_idx, settings, &mut summary, &mut buckets)?;
        }
    }
    finish(buckets, &labels, settings, summary)
}

fn choose_market(settings: &ReplaySettings, from_name: Option<MarketKind>) -> Option<MarketKind> {
    match settings.market {
        MarketChoice::Spot => Some(MarketKind::Spot),
        MarketChoice::Usdm => Some(MarketKind::Usdm),
        MarketChoice::Coinm => Some(MarketKind::Coinm),
        MarketChoice::Auto => from_name,
    }
}

/// Parses one input into the per-symbol buckets.
fn read_one(
    input: Input,
    file_idx: u32,
    settings: &ReplaySettings,
    summary: &mut ReplaySummary,
    buckets: &mut Vec<Bucket>,
) -> Result<(), ReplayError> {
    let strict = settings.strict;
    let info = name_info(&input.path, input.entry.as_deref());
    if input.text.trim_start().starts_with('{') {
        return read_recording(input, file_idx, settings, summary, buckets);
    }
    let symbol = settings.symbol.or(info.symbol).ok_or_else(|| ReplayError::NoSymbol { path: input.label.clone() })?;
    let market = choose_market(settings, info.market).or(if symbol.as_str().ends_with("_PERP") {
        Some(MarketKind::Coinm)
    } else {
        Some(MarketKind::Usdm)
    });
    if settings.market == MarketChoice::Auto && info.market.is_none() && market == Some(MarketKind::Usdm) {
        let note = format!(
            "{symbol}: neither the file names nor the folders say spot or futures; traded as USDⓈ-M \
             (set replay.market = \"spot\" for spot data)"
        );
        if !summary.notes.contains(&note) {
            summary.notes.push(note);
        }
    }
    let coinm = market == Some(MarketKind::Coinm);
    let hints = CsvHints { name_kind: info.kind.clone(), coinm, contract_usd: instruments::coinm_contract_usd(symbol) };
    let mut sink = Sink { summary, strict };
    let parsed = parse_csv(&input.text, &input.label, &hints, &mut |i| sink.push(i)).map_err(ReplayError::Strict)?;
    let parsed = parsed.map_err(|message| ReplayError::Format { path: input.label.clone(), message })?;
    let (first, last, accepted) = match &parsed.rows {
        Rows::Bars(b) => (b.iter().map(|x| x.0.open_ms).min(), b.iter().map(|x| x.0.open_ms).max(), b.len()),
        Rows::Trades(t) => (t.iter().map(|x| x.0.ts_ms).min(), t.iter().map(|x| x.0.ts_ms).max(), t.len()),
    };
    summary.files.push(FileReport {
        file: input.label.clone(),
        format: parsed.format.clone(),
        symbol,
        market,
        rows: parsed.data_lines,
        accepted: accepted as u64,
        time_units: parsed.units.iter().copied().collect(),
        first_ms: first,
        last_ms: last,
    });
    let origin = |line: u64| Origin { file: file_idx, line };
    let bucket = match buckets.iter_mut().position(|b| b.symbol == symbol) {
        Some(k) => &mut buckets[k],
        None => {
            let rows = match parsed.rows {
                Rows::Bars(_) => BucketRows::Bars(Vec::new()),
                Rows::Trades(_) => BucketRows::Trades(Vec::new()),
            };
            buckets.push(Bucket {
                symbol,
                market,
                rows,
                price_dec: 0,
                qty_dec: 0,
                recorded: None,
                first_file: input.label.clone(),
            });
            let n = buckets.len() - 1;
            &mut buckets[n]
        }
    };
    if bucket.market != market {
        return Err(ReplayError::Format {
            path: input.label,
            message: format!(
                "{symbol} is {} here but {} in {}; set replay.market or keep one market per replay",
                market.map_or("unknown", MarketKind::as_str),
                bucket.market.map_or("unknown", MarketKind::as_str),
                bucket.first_file
            ),
        });
    }
    bucket.price_dec = bucket.price_dec.max(parsed.price_decimals);
    bucket.qty_dec = bucket.qty_dec.max(parsed.qty_decimals);
    match (&mut bucket.rows, parsed.rows) {
        (BucketRows::Bars(dst), Rows::Bars(src)) => dst.extend(src.into_iter().map(|(r, l)| (r, origin(l)))),
        (BucketRows::Trades(dst), Rows::Trades(src)) => dst.extend(src.into_iter().map(|(r, l)| (r, origin(l)))),
        (have, _) => {
            return Err(ReplayError::Format {
                path: input.label,
                message: format!(
                    "{symbol} already has {} from {}; one symbol's files must all be klines or all trades",
                    have.kind(),
                    bucket.first_file
                ),
            });
        }
    }
    Ok(())
}

/// Reads a JSONL recording: the header (format and version checked), then one event per line.
fn read_recording(
    input: Input,
    file_idx: u32,
    settings: &ReplaySettings,
    summary: &mut ReplaySummary,
    buckets: &mut Vec<Bucket>,
) -> Result<(), ReplayError> {
    let mut lines = input.text.lines().enumerate().map(|(i, l)| (i as u64 + 1, l));
    let first = lines.next().map(|(_, l)| l).unwrap_or("");
    let header: RecordingHeader = RecordingReader::new(first.as_bytes(), &input.path)
        .map_err(|e| ReplayError::Format { path: input.label.clone(), message: e.to_string() })?
        .header()
        .clone();
    if let Some(t) = header.live_from_ms {
        summary.live_from_ms = Some(summary.live_from_ms.map_or(t, |u| u.max(t)));
    }
    let mut sink = Sink { summary, strict: settings.strict };
    let mut rows = 0u64;
    let mut accepted: Vec<(MarketEvent, u64)> = Vec::new();
    let mut last_ts: Vec<(Symbol, i64)> = Vec::new();
    for (line, text) in lines {
        if text.trim().is_empty() {
            continue;
        }
        rows += 1;
        let issue = |kind, detail: String| Issue { kind, file: input.label.clone(), line, detail };
        let mut ev: MarketEvent = match serde_json::from_str(text) {
            Ok(e) => e,
            Err(e) => {
                sink.push(issue(IssueKind::BadRow, format!("not a market event: {e}"))).map_err(ReplayError::Strict)?;
                continue;
            }
        };
        if let Some(s) = settings.symbol {
            ev.symbol = s;
        }
        if let Some((kind, detail)) = event_problem(&ev) {
            sink.push(issue(kind, detail)).map_err(ReplayError::Strict)?;
            continue;
        }
        match last_ts.iter_mut().find(|(s, _)| *s == ev.symbol) {
            Some((_, t)) => {
                if ev.ts_ms < *t {
                    sink.push(issue(
                        IssueKind::Unsorted,
                        format!("{} comes after {}", crate::clock::fmt_ts(ev.ts_ms), crate::clock::fmt_ts(*t)),
                    ))
                    .map_err(ReplayError::Strict)?;
                }
                *t = (*t).max(ev.ts_ms);
            }
            None => last_ts.push((ev.symbol, ev.ts_ms)),
        }
        accepted.push((ev, line));
    }
    let mut symbols: Vec<Symbol> = Vec::new();
    for (e, _) in &accepted {
        if !symbols.contains(&e.symbol) {
            symbols.push(e.symbol);
        }
    }
    if symbols.is_empty() {
        return Err(ReplayError::Format { path: input.label, message: "the recording holds no usable events".into() });
    }
    for symbol in symbols {
        let events: Vec<(MarketEvent, Origin)> = accepted
            .iter()
            .filter(|(e, _)| e.symbol == symbol)
            .map(|(e, l)| (e.clone(), Origin { file: file_idx, line: *l }))
            .collect();
        let recorded = header.instruments.iter().find(|i| i.symbol == symbol).cloned();
        let market = recorded.as_ref().map(|i| if i.is_perp() { MarketKind::Usdm } else { MarketKind::Spot });
        let market = choose_market(settings, market);
        summary.files.push(FileReport {
            file: input.label.clone(),
            format: format!("alphatx recording v{} ({})", header.version, header.source),
            symbol,
            market,
            rows,
            accepted: events.len() as u64,
            time_units: vec![TimeUnit::Millis],
            first_ms: events.first().map(|(e, _)| e.ts_ms),
            last_ms: events.iter().map(|(e, _)| e.ts_ms).max(),
        });
        match buckets.iter_mut().find(|b| b.symbol == symbol) {
            Some(b) => match &mut b.rows {
                BucketRows::Events(dst) => dst.extend(events),
                have => {
                    return Err(ReplayError::Format {
                        path: input.label,
                        message: format!(
                            "{symbol} already has {} from {}; replay recordings and CSV files separately",
                            have.kind(),
                            b.first_file
                        ),
                    });
                }
            },
            None => buckets.push(Bucket {
                symbol,
                market,
                rows: BucketRows::Events(events),
                price_dec: 0,
                qty_dec: 0,
                recorded,
                first_file: input.label.clone(),
            }),
        }
    }
    Ok(())
}

/// What is wrong with a recorded event, if anything.
fn event_problem(e: &MarketEvent) -> Option<(IssueKind, String)> {
    let nonpos =
        |what: &str, p: Decimal| (p <= Decimal::ZERO).then(|| (IssueKind::NonPositivePrice, format!("{what} is {p}")));
    if !(0..=crate::market::candles::MAX_TS_MS).contains(&e.ts_ms) {
        return Some((IssueKind::BadRow, format!("timestamp {} ms is out of range", e.ts_ms)));
    }
    match &e.data {
        MarketData::Trade { price, qty, .. } => nonpos("trade price", *price)
            .or_else(|| (*qty < Decimal::ZERO).then(|| (IssueKind::BadRow, format!("quantity is {qty}")))),
        MarketData::Quote { bid, ask, .. } => nonpos("bid", *bid)
            .or_else(|| (ask < bid).then(|| (IssueKind::Inconsistent, format!("ask {ask} is below bid {bid}")))),
        MarketData::Bar(b) => {
            let row =
                BarRow { open_ms: b.open_ms, open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume };
            if b.open_ms % MINUTE_MS != 0 {
                return Some((IssueKind::Misaligned, format!("bar open {} ms is not on a minute", b.open_ms)));
            }
            csv::bar_problem(&row)
        }
        MarketData::Mark { mark, .. } => nonpos("mark", *mark),
        MarketData::OpenInterest { qty } => {
            (*qty < Decimal::ZERO).then(|| (IssueKind::BadRow, format!("open interest is {qty}")))
        }
        MarketData::LongShortRatio { ratio } => nonpos("long/short ratio", *ratio),
    }
}

fn event_start(e: &MarketEvent) -> i64 {
    match &e.data {
        MarketData::Bar(b) => b.open_ms,
        _ => e.ts_ms,
    }
}

/// Sorts, de-duplicates and gap-checks each symbol, then builds the event streams.
fn finish(
    buckets: Vec<Bucket>,
    labels: &[String],
    settings: &ReplaySettings,
    mut summary: ReplaySummary,
) -> Result<ReplayData, ReplayError> {
    let label = |o: Origin| labels.get(o.file as usize).cloned().unwrap_or_default();
    let mut instruments = Vec::new();
    let mut streams = Vec::new();
    let mut keys: Vec<Vec<u64>> = Vec::new();
    let (mut bar_syms, mut trade_syms) = (Vec::new(), Vec::new());
    let mut any_bars = false;
    for b in buckets {
        let symbol = b.symbol;
        let data_kind = b.rows.kind();
        let mut sink = Sink { summary: &mut summary, strict: settings.strict };
        let mut gaps = 0u64;
        let mut missing = 0u64;
        let mut order: Vec<u64> = Vec::new();
        let events: Vec<MarketEvent> = match b.rows {
            BucketRows::Bars(mut rows) => {
                rows.sort_by_key(|(r, _)| r.open_ms);
                let mut kept: Vec<(BarRow, Origin)> = Vec::with_capacity(rows.len());
                for (row, o) in rows {
                    if let Some((prev, po)) = kept.last() {
                        if prev.open_ms == row.open_ms {
                            let (kind, detail) = if *prev == row {
                                (IssueKind::Duplicate, format!("same bar as {}:{}", label(*po), po.line))
                            } else {
                                (
                                    IssueKind::Conflict,
                                    format!(
                                        "{} differs from {}:{} (close {} vs {})",
                                        crate::clock::fmt_ts(row.open_ms),
                                        label(*po),
                                        po.line,
                                        row.close,
                                        prev.close
                                    ),
                                )
                            };
                            sink.push(Issue { kind, file: label(o), line: o.line, detail })
                                .map_err(ReplayError::Strict)?;
                            continue;
                        }
                        let step = row.open_ms - prev.open_ms;
                        if step > MINUTE_MS {
                            gaps += 1;
                            let n = (step / MINUTE_MS - 1) as u64;
                            missing += n;
                            let issue = Issue {
                                kind: IssueKind::Gap,
                                file: label(o),
                                line: o.line,
                                detail: format!(
                                    "{symbol}: no bars from {} to {} ({n} minute(s) missing)",
                                    crate::clock::fmt_ts(prev.open_ms + MINUTE_MS),
                                    crate::clock::fmt_ts(row.open_ms - MINUTE_MS)
                                ),
                            };
                            if settings.gaps == GapPolicy::Fail {
                                return Err(ReplayError::Gap(issue));
                            }
                            sink.push(issue).map_err(ReplayError::Strict)?;
                        }
                    }
                    kept.push((row, o));
                }
                bar_syms.push(symbol.to_string());
                any_bars = true;
                kept.into_iter()
                    .map(|(r, _)| MarketEvent {
                        ts_ms: r.open_ms + MINUTE_MS,
                        symbol,
                        data: MarketData::Bar(Bar {
                            open_ms: r.open_ms,
                            interval_ms: MINUTE_MS,
                            open: r.open,
                            high: r.high,
                            low: r.low,
                            close: r.close,
                            volume: r.volume,
                        }),
                    })
                    .collect()
            }
            BucketRows::Trades(mut rows) => {
                let with_ids = rows.iter().all(|(t, _)| t.id.is_some());
                if with_ids {
                    rows.sort_by_key(|(t, _)| t.id);
                    let mut kept: Vec<(TradeRow, Origin)> = Vec::with_capacity(rows.len());
                    for (row, o) in rows {
                        if let Some((prev, po)) = kept.last()
                            && prev.id == row.id
                        {
                            let kind = if *prev == row { IssueKind::Duplicate } else { IssueKind::Conflict };
                            let detail =
                                format!("trade id {} already read at {}:{}", row.id.unwrap_or(0), label(*po), po.line);
                            sink.push(Issue { kind, file: label(o), line: o.line, detail })
                                .map_err(ReplayError::Strict)?;
                            continue;
                        }
                        kept.push((row, o));
                    }
                    rows = kept;
                }
                rows.sort_by_key(|(t, _)| t.ts_ms);
                trade_syms.push(symbol.to_string());
                rows.into_iter()
                    .enumerate()
                    .map(|(k, (t, _))| MarketEvent {
                        ts_ms: t.ts_ms,
                        symbol,
                        data: MarketData::Trade {
                            price: t.price,
                            qty: t.qty,
                            aggressor: t.aggressor,
                            trade_id: t.id.unwrap_or(k as u64 + 1),
                        },
                    })
                    .collect()
            }
            BucketRows::Events(mut rows) => {
                rows.sort_by_key(|(e, _)| e.ts_ms);
                let mut kept: Vec<(MarketEvent, Origin)> = Vec::with_capacity(rows.len());
                for (ev, o) in rows {
                    if let Some((prev, po)) = kept.last()
                        && *prev == ev
                    {
                        let detail = format!("same event as {}:{}", label(*po), po.line);
                        sink.push(Issue { kind: IssueKind::Duplicate, file: label(o), line: o.line, detail })
                            .map_err(ReplayError::Strict)?;
                        continue;
                    }
                    kept.push((ev, o));
                }
                let has_bars = kept.iter().any(|(e, _)| matches!(e.data, MarketData::Bar(_)));
                if has_bars {
                    any_bars = true;
                }
                order = kept.iter().map(|(_, o)| (u64::from(o.file) << 40) | o.line.min((1 << 40) - 1)).collect();
                kept.into_iter().map(|(e, _)| e).collect()
            }
        };
        if events.is_empty() {
            summary.notes.push(format!("{symbol}: no usable rows; the symbol is left out"));
            continue;
        }
        let (instrument, rules) = match b.recorded {
            Some(mut i) => {
                if let Some(f) = settings.maker_fee {
                    i.maker_fee = f;
                }
                if let Some(f) = settings.taker_fee {
                    i.taker_fee = f;
                }
                (i, RulesSource::Recording)
            }
            None => instruments::instrument_for(
                symbol,
                b.market.unwrap_or(MarketKind::Usdm),
                b.price_dec,
                b.qty_dec,
                settings.maker_fee,
                settings.taker_fee,
            ),
        };
        if rules == RulesSource::Inferred {
            summary.notes.push(format!(
                "{symbol} is not in the built-in table: tick {} and lot {} inferred from the data's decimals, min notional {}, max leverage {}",
                instrument.tick_size, instrument.lot_size, instrument.min_notional, instrument.max_leverage
            ));
        }
        if b.market == Some(MarketKind::Coinm) {
            summary.notes.push(format!(
                "{symbol} is a COIN-M (inverse) contract: traded as a linear perpetual on the same USD prices, volumes in coin"
            ));
        }
        summary.symbols.push(SymbolReport {
            symbol,
            market: b.market,
            instrument: instrument.clone(),
            rules,
            data: data_kind.to_owned(),
            events: events.len() as u64,
            // Bars by their open time (as the files list them), other events by their own.
            first_ms: events.first().map_or(0, event_start),
            last_ms: events.last().map_or(0, event_start),
            gaps,
            missing_minutes: missing,
        });
        instruments.push(instrument);
        streams.push(events);
        keys.push(order);
    }
    if !bar_syms.is_empty() && !trade_syms.is_empty() {
        return Err(ReplayError::MixedInput { bars: bar_syms.join(", "), trades: trade_syms.join(", ") });
    }
    if streams.is_empty() {
        return Err(ReplayError::Empty(format!("no usable market data in the given files\n{}", summary.render())));
    }
    let input = if any_bars { CandleInput::Bars } else { CandleInput::Trades };
    if keys.iter().all(Vec::is_empty) {
        keys.clear();
    }
    Ok(ReplayData { summary, input, instruments, streams, keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(path: &str) -> (Option<String>, Option<MarketKind>, NameKind) {
        let i = name_info(Path::new(path), None);
        (i.symbol.map(|s| s.to_string()), i.market, i.kind)
    }

    #[test]
    fn names_and_folders_say_symbol_market_and_content() {
        let k = |s: &str| NameKind::Klines(s.to_owned());
        assert_eq!(info("BTCUSDT-1m-2022-09-05.zip"), (Some("BTCUSDT".into()), None, k("1m")));
        assert_eq!(info("data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-01-01.zip").1, Some(MarketKind::Spot));
        assert_eq!(info("data/futures/um/monthly/klines/ETHUSDT/1m/ETHUSDT-1m-2024-08.zip").1, Some(MarketKind::Usdm));
        assert_eq!(
            info("data/futures/cm/daily/klines/BTCUSD_PERP/1m/BTCUSD_PERP-1m-2022-10-24.zip").1,
            Some(MarketKind::Coinm)
        );
        assert_eq!(info("um-BTCUSDT-1m-2022-09-05.csv"), (Some("BTCUSDT".into()), Some(MarketKind::Usdm), k("1m")));
        assert_eq!(
            info("cm-BTCUSD_PERP-1m-2022-10-24.csv"),
            (Some("BTCUSD_PERP".into()), Some(MarketKind::Coinm), k("1m"))
        );
        assert_eq!(info("BTCUSD_PERP-1m-2022-10-24.csv").1, Some(MarketKind::Coinm));
        assert_eq!(info("BTCUSDT-aggTrades-2022-09-05.zip"), (Some("BTCUSDT".into()), None, NameKind::AggTrades));
        assert_eq!(
            info("spot-ETHUSDT-trades-2022-09-05.csv"),
            (Some("ETHUSDT".into()), Some(MarketKind::Spot), NameKind::Trades)
        );
        assert_eq!(info("XRP_ETH-1m.csv"), (Some("XRPETH".into()), Some(MarketKind::Spot), k("1m")));
        assert_eq!(info("XRP_USDT_USDT-5m-futures.csv"), (Some("XRPUSDT".into()), Some(MarketKind::Usdm), k("5m")));
        assert_eq!(info("btc-perp-20211231-20220201_1m.csv"), (None, None, NameKind::Unknown));
        let zipped = name_info(Path::new("x/archive.zip"), Some("SOLUSDT-1m-2024-01-01.csv"));
        assert_eq!(zipped.symbol.map(|s| s.to_string()), Some("SOLUSDT".into()));
    }
}
