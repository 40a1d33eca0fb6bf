//! What the replay found in the data and what it did about it.
//!
//! Every problem is an [`Issue`] with the file and line it came from. Each kind has one fixed
//! action (see [`IssueKind::action`]); with `replay.strict = true` any issue except a gap rejects
//! the data instead (and `replay.gaps = "fail"` rejects gaps). Counts are exact; at most
//! [`EXAMPLES_PER_KIND`] examples of each kind are kept for the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::instruments::{MarketKind, RulesSource};
use super::parse::TimeUnit;
use crate::domain::{Instrument, Symbol};

/// Examples of each issue kind kept for the report (the counts are complete).
pub const EXAMPLES_PER_KIND: usize = 5;

/// A kind of data problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// A row that cannot be read: wrong column count, a field that is not a number or a
    /// timestamp, a negative volume.
    BadRow,
    /// A price of zero or below.
    NonPositivePrice,
    /// A bar whose high is below its low, or whose open or close lies outside [low, high].
    Inconsistent,
    /// A 1-minute bar whose open time is not on a minute boundary, or whose close time does not
    /// end its minute.
    Misaligned,
    /// A row older than the row before it in the same file.
    Unsorted,
    /// An exact copy of an earlier row (same time, or same trade id, and same values).
    Duplicate,
    /// A row with the time (bars) or trade id (trades) of an earlier row but other values.
    Conflict,
    /// Missing 1-minute bars between two bars.
    Gap,
}

impl IssueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueKind::BadRow => "bad row",
            IssueKind::NonPositivePrice => "non-positive price",
            IssueKind::Inconsistent => "inconsistent OHLC",
            IssueKind::Misaligned => "misaligned time",
            IssueKind::Unsorted => "unsorted",
            IssueKind::Duplicate => "duplicate",
            IssueKind::Conflict => "conflicting duplicate",
            IssueKind::Gap => "gap",
        }
    }

    /// The documented repair applied when the data are not rejected.
    pub fn action(self) -> &'static str {
        match self {
            IssueKind::BadRow | IssueKind::NonPositivePrice | IssueKind::Inconsistent | IssueKind::Misaligned => {
                "row dropped"
            }
            IssueKind::Unsorted => "rows sorted by time (stable)",
            IssueKind::Duplicate => "copy dropped",
            IssueKind::Conflict => "first row kept, this one dropped",
            IssueKind::Gap => "left as a gap (no bars invented)",
        }
    }
}

/// One problem, where it was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    pub kind: IssueKind,
    /// The file (for a zip archive: `archive.zip:entry.csv`).
    pub file: String,
    /// 1-based line number in that file.
    pub line: u64,
    pub detail: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}: {} ({})", self.file, self.line, self.kind.as_str(), self.detail, self.kind.action())
    }
}

/// What one file held.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    pub file: String,
    /// `binance klines`, `binance aggTrades`, `ohlcv csv`, `alphatx recording`, ...
    pub format: String,
    pub symbol: Symbol,
    pub market: Option<MarketKind>,
    /// Data lines read (header excluded).
    pub rows: u64,
    /// Rows that passed the row checks (before de-duplication across files).
    pub accepted: u64,
    /// Timestamp encodings seen (e.g. both ms and µs in one Binance spot replay).
    pub time_units: Vec<TimeUnit>,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
}

/// One replayed symbol after repair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SymbolReport {
    pub symbol: Symbol,
    pub market: Option<MarketKind>,
    pub instrument: Instrument,
    pub rules: RulesSource,
    /// `bars`, `trades` or `events` (recordings).
    pub data: String,
    /// Events replayed.
    pub events: u64,
    /// First and last bar open time (events: event time).
    pub first_ms: i64,
    pub last_ms: i64,
    /// Gaps between 1-minute bars, and the minutes they miss.
    pub gaps: u64,
    pub missing_minutes: u64,
}

/// Everything the replay found, for the backtest and scan reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplaySummary {
    pub files: Vec<FileReport>,
    pub symbols: Vec<SymbolReport>,
    /// Issues per kind (complete counts).
    pub counts: BTreeMap<IssueKind, u64>,
    /// Up to [`EXAMPLES_PER_KIND`] issues of each kind.
    pub examples: Vec<Issue>,
    /// Files skipped in folders (not .csv, .zip or .jsonl).
    pub skipped_files: Vec<String>,
    /// Remarks about how the data are used (COIN-M as linear, inferred instruments, ...).
    pub notes: Vec<String>,
    /// Where the recordings' warm-up history ends (the latest, over several recordings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_from_ms: Option<i64>,
}

impl ReplaySummary {
    pub(crate) fn record(&mut self, issue: Issue) {
        let n = self.counts.entry(issue.kind).or_insert(0);
        *n += 1;
        if *n as usize <= EXAMPLES_PER_KIND {
            self.examples.push(issue);
        }
    }

    pub fn issues(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Earliest and latest event time over all symbols.
    pub fn span_ms(&self) -> Option<(i64, i64)> {
        let first = self.symbols.iter().map(|s| s.first_ms).min()?;
        let last = self.symbols.iter().map(|s| s.last_ms).max()?;
        Some((first, last))
    }

    /// A human-readable summary for terminal reports.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let ts = |ms: Option<i64>| ms.map_or_else(|| "—".to_owned(), crate::clock::fmt_ts);
        let _ = writeln!(s, "data: {} file(s)", self.files.len());
        for f in &self.files {
            let units: Vec<&str> = f.time_units.iter().map(|u| u.as_str()).collect();
            let _ = writeln!(
                s,
                "  {} — {} {}{}, {} rows ({} accepted), {} → {}, time in {}",
                f.file,
                f.format,
                f.symbol,
                f.market.map_or(String::new(), |m| format!(" {}", m.as_str())),
                f.rows,
                f.accepted,
                ts(f.first_ms),
                ts(f.last_ms),
                if units.is_empty() { "—".to_owned() } else { units.join("+") },
            );
        }
        if !self.skipped_files.is_empty() {
            let _ = writeln!(s, "  skipped (not .csv, .zip or .jsonl): {}", self.skipped_files.join(", "));
        }
        for sym in &self.symbols {
            let i = &sym.instrument;
            let _ = writeln!(
                s,
                "  {} {}: {} {} from {} to {}; {} gap(s), {} missing minute(s); tick {} lot {} min notional {} max lev {} fees {}/{} ({})",
                sym.symbol,
                sym.market.map_or("—", |m| m.as_str()),
                sym.events,
                sym.data,
                crate::clock::fmt_ts(sym.first_ms),
                crate::clock::fmt_ts(sym.last_ms),
                sym.gaps,
                sym.missing_minutes,
                i.tick_size,
                i.lot_size,
                i.min_notional,
                i.max_leverage,
                i.maker_fee,
                i.taker_fee,
                sym.rules.as_str(),
            );
        }
        if self.counts.is_empty() {
            let _ = writeln!(s, "  data checks: no problems found");
        } else {
            let parts: Vec<String> = self.counts.iter().map(|(k, n)| format!("{} {n}", k.as_str())).collect();
            let _ = writeln!(s, "  data checks: {}", parts.join(", "));
            for e in &self.examples {
                let _ = writeln!(s, "    {e}");
            }
            let shown = self.examples.len() as u64;
            if self.issues() > shown {
                let _ = writeln!(s, "    … and {} more (counts above are complete)", self.issues() - shown);
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "  note: {n}");
        }
        s
    }
}
