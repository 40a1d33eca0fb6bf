//! `alphatx export`: a stored run's trades (fills), equity samples or decisions as CSV or JSON,
//! streamed row by row so a run of any size exports in constant memory.
//!
//! - Both formats carry the same columns in the same order; CSV has a header row (RFC 4180
//!   quoting), JSON is one array with one object per line.
//! - Money stays exact: decimals are written as stored (strings in JSON), never through `f64`.
//! - Times are given twice: `ts_ms` (epoch milliseconds UTC) and `time` (RFC 3339, UTC).
//! - Free text (reasoning, prompts, model output, errors) that starts with `= + - @` or a tab is
//!   prefixed with `'` in CSV, so a spreadsheet shows it instead of evaluating it as a formula:
//!   model output is untrusted input.

use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use rusqlite::{Connection, params};
use rust_decimal::Decimal;
use serde::Serialize;

use super::codec::{self, Decoder};
use super::resume::{DECISION_COLUMNS, decision_from_row, list_runs_in, require_run};
use super::{StoreError, schema};

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportWhat {
    /// Every fill (execution) of the run.
    Trades,
    /// Equity samples of every agent.
    Equity,
    /// Agent decisions: reasoning, proposals, outcomes, prompts, latency, tokens, cost.
    Decisions,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
}

/// Which run: an id, or the newest one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunSelector {
    Latest,
    Id(i64),
}

impl FromStr for RunSelector {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("latest") {
            return Ok(RunSelector::Latest);
        }
        s.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(RunSelector::Id)
            .ok_or_else(|| format!("`{s}` is not a run id: give a positive number or `latest`"))
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub run_id: i64,
    pub rows: u64,
}

/// A cell of an exported row.
enum Cell {
    Int(i64),
    Real(f64),
    /// An exact decimal, written as text.
    Dec(String),
    Text(String),
    /// Free text from agents or models (guarded against spreadsheet formulas in CSV).
    FreeText(String),
    /// Already-serialised JSON (nested in JSON output, a string in CSV).
    Json(String),
    Bool(bool),
    Null,
}

/// Writes `what` of a run to `out` in `format`.
pub fn export(
    path: &Path,
    run: RunSelector,
    what: ExportWhat,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<ExportSummary, StoreError> {
    let conn = schema::open_reader(path)?;
    conn.execute_batch("BEGIN").map_err(StoreError::sqlite(path, "cannot start a read"))?;
    let run_id = match run {
        RunSelector::Id(id) => {
            require_run(&conn, path, id)?;
            id
        }
        RunSelector::Latest => match list_runs_in(&conn, path)?.first() {
            Some(r) => r.id,
            None => return Err(StoreError::UnknownRun { run_id: 0, hint: " to export: it holds no runs yet".into() }),
        },
    };
    let mut sink = Sink { out, format, rows: 0, columns: &[] };
    let result = match what {
        ExportWhat::Trades => trades(&conn, path, run_id, &mut sink),
        ExportWhat::Equity => equity(&conn, path, run_id, &mut sink),
        ExportWhat::Decisions => decisions(&conn, path, run_id, &mut sink),
    };
    let _ = conn.execute_batch("COMMIT");
    result?;
    sink.finish()?;
    Ok(ExportSummary { run_id, rows: sink.rows })
}

struct Sink<'a> {
    out: &'a mut dyn Write,
    format: ExportFormat,
    rows: u64,
    columns: &'static [&'static str],
}

fn write_err(source: std::io::Error) -> StoreError {
    StoreError::ExportWrite { error: source }
}

impl Sink<'_> {
    fn start(&mut self, columns: &'static [&'static str]) -> Result<(), StoreError> {
        self.columns = columns;
        match self.format {
            ExportFormat::Csv => {
                let header: Vec<String> = columns.iter().map(|c| csv_field(c)).collect();
                writeln!(self.out, "{}", header.join(",")).map_err(write_err)
            }
            ExportFormat::Json => write!(self.out, "[").map_err(write_err),
        }
    }

    fn row(&mut self, cells: &[Cell]) -> Result<(), StoreError> {
        match self.format {
            ExportFormat::Csv => {
                let fields: Vec<String> = cells.iter().map(cell_csv).collect();
                writeln!(self.out, "{}", fields.join(",")).map_err(write_err)?;
            }
            ExportFormat::Json => {
                let sep = if self.rows == 0 { "\n" } else { ",\n" };
                let mut obj = String::from("{");
                for (i, (name, cell)) in self.columns.iter().zip(cells).enumerate() {
                    if i > 0 {
                        obj.push(',');
                    }
                    obj.push_str(&json_string(name));
                    obj.push(':');
                    obj.push_str(&cell_json(cell));
                }
                obj.push('}');
                write!(self.out, "{sep}{obj}").map_err(write_err)?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), StoreError> {
        if self.format == ExportFormat::Json {
            writeln!(self.out, "{}]", if self.rows == 0 { "" } else { "\n" }).map_err(write_err)?;
        }
        self.out.flush().map_err(write_err)
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn cell_json(c: &Cell) -> String {
    match c {
        Cell::Int(v) => v.to_string(),
        Cell::Real(v) if v.is_finite() => serde_json::to_string(v).unwrap_or_else(|_| "null".into()),
        Cell::Real(_) | Cell::Null => "null".into(),
        Cell::Dec(s) | Cell::Text(s) | Cell::FreeText(s) => json_string(s),
        // Stored JSON that no longer parses is exported as a string rather than breaking the file.
        Cell::Json(s) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(v) => v.to_string(),
            Err(_) => json_string(s),
        },
        Cell::Bool(b) => b.to_string(),
    }
}

fn cell_csv(c: &Cell) -> String {
    match c {
        Cell::Int(v) => v.to_string(),
        Cell::Real(v) => v.to_string(),
        Cell::Dec(s) | Cell::Text(s) | Cell::Json(s) => csv_field(s),
        Cell::FreeText(s) => {
            if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                csv_field(&format!("'{s}"))
            } else {
                csv_field(s)
            }
        }
        Cell::Bool(b) => b.to_string(),
        Cell::Null => String::new(),
    }
}

/// RFC 4180: quote fields holding a comma, quote or line break; double inner quotes.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

fn time(ts_ms: i64) -> Cell {
    match jiff::Timestamp::from_millisecond(ts_ms) {
        Ok(t) => Cell::Text(t.to_string()),
        Err(_) => Cell::Null,
    }
}

fn opt_text(s: Option<String>) -> Cell {
    s.map_or(Cell::Null, Cell::FreeText)
}

const TRADE_COLUMNS: &[&str] = &[
    "run_id",
    "trade_id",
    "venue",
    "ts_ms",
    "time",
    "agent",
    "symbol",
    "side",
    "qty",
    "price",
    "notional",
    "fee",
    "liquidity",
    "purpose",
    "order_id",
    "liquidation",
    "leverage",
    "realized_pnl",
];

fn trades(conn: &Connection, path: &Path, run_id: i64, sink: &mut Sink<'_>) -> Result<(), StoreError> {
    let d = Decoder::new(path, "fills");
    sink.start(TRADE_COLUMNS)?;
    let sql = StoreError::sqlite(path, "cannot read fills");
    let mut stmt = conn
        .prepare(
            "SELECT trade_id, venue, ts_ms, agent, symbol, side, qty, price, fee, liquidity, purpose, order_id,
                    liquidation, leverage, realized_pnl
             FROM fills WHERE run_id = ?1 ORDER BY seq",
        )
        .map_err(sql)?;
    let mut rows = stmt.query(params![run_id]).map_err(StoreError::sqlite(path, "cannot read fills"))?;
    while let Some(r) = rows.next().map_err(StoreError::sqlite(path, "cannot read fills"))? {
        let get = |k| r.get::<_, String>(k).map_err(StoreError::sqlite(path, "cannot read fills"));
        let int = |k| r.get::<_, i64>(k).map_err(StoreError::sqlite(path, "cannot read fills"));
        let qty = get(6)?;
        let price = get(7)?;
        let notional: Decimal = d.dec("qty", &qty)? * d.dec("price", &price)?;
        let ts = int(2)?;
        sink.row(&[
            Cell::Int(run_id),
            Cell::Dec(codec::id_back(int(0)?).to_string()),
            Cell::Text(get(1)?),
            Cell::Int(ts),
            time(ts),
            Cell::Text(get(3)?),
            Cell::Text(get(4)?),
            Cell::Text(get(5)?),
            Cell::Dec(qty),
            Cell::Dec(price),
            Cell::Dec(notional.to_string()),
            Cell::Dec(get(8)?),
            Cell::Text(get(9)?),
            Cell::Text(get(10)?),
            Cell::Dec(codec::id_back(int(11)?).to_string()),
            Cell::Bool(int(12)? != 0),
            Cell::Dec(get(13)?),
            Cell::Dec(get(14)?),
        ])?;
    }
    Ok(())
}

const EQUITY_COLUMNS: &[&str] = &["run_id", "agent", "ts_ms", "time", "equity", "cash", "unrealized_pnl"];

fn equity(conn: &Connection, path: &Path, run_id: i64, sink: &mut Sink<'_>) -> Result<(), StoreError> {
    sink.start(EQUITY_COLUMNS)?;
    let mut stmt = conn
        .prepare("SELECT agent, ts_ms, equity, cash, unrealized_pnl FROM equity WHERE run_id = ?1 ORDER BY ts_ms, id")
        .map_err(StoreError::sqlite(path, "cannot read equity"))?;
    let mut rows = stmt.query(params![run_id]).map_err(StoreError::sqlite(path, "cannot read equity"))?;
    while let Some(r) = rows.next().map_err(StoreError::sqlite(path, "cannot read equity"))? {
        let get = |k| r.get::<_, String>(k).map_err(StoreError::sqlite(path, "cannot read equity"));
        let ts: i64 = r.get(1).map_err(StoreError::sqlite(path, "cannot read equity"))?;
        sink.row(&[
            Cell::Int(run_id),
            Cell::Text(get(0)?),
            Cell::Int(ts),
            time(ts),
            Cell::Dec(get(2)?),
            Cell::Dec(get(3)?),
            Cell::Dec(get(4)?),
        ])?;
    }
    Ok(())
}

const DECISION_EXPORT_COLUMNS: &[&str] = &[
    "run_id",
    "decision_id",
    "agent",
    "ts_ms",
    "time",
    "source",
    "reasoning",
    "proposals",
    "outcomes",
    "error",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "prompt",
    "raw_response",
];

fn decisions(conn: &Connection, path: &Path, run_id: i64, sink: &mut Sink<'_>) -> Result<(), StoreError> {
    sink.start(DECISION_EXPORT_COLUMNS)?;
    let mut stmt = conn
        .prepare(&format!("SELECT {DECISION_COLUMNS} FROM decisions WHERE run_id = ?1 ORDER BY decision_id"))
        .map_err(StoreError::sqlite(path, "cannot read decisions"))?;
    let mut rows = stmt.query(params![run_id]).map_err(StoreError::sqlite(path, "cannot read decisions"))?;
    while let Some(r) = rows.next().map_err(StoreError::sqlite(path, "cannot read decisions"))? {
        // Decoded into the engine's record first: what is exported is what resume would see.
        let rec = decision_from_row(r, path)?;
        let proposals = serde_json::to_string(&rec.decision.proposals).unwrap_or_else(|_| "[]".into());
        let outcomes = serde_json::to_string(&rec.outcomes).unwrap_or_else(|_| "[]".into());
        sink.row(&[
            Cell::Int(run_id),
            Cell::Dec(rec.id.to_string()),
            Cell::Text(rec.agent.to_string()),
            Cell::Int(rec.ts_ms),
            time(rec.ts_ms),
            Cell::Text(rec.source),
            Cell::FreeText(rec.decision.reasoning),
            Cell::Json(proposals),
            Cell::Json(outcomes),
            opt_text(rec.error),
            Cell::Int(codec::count(rec.latency_ms)),
            Cell::Int(codec::count(rec.input_tokens)),
            Cell::Int(codec::count(rec.output_tokens)),
            Cell::Real(rec.cost_usd),
            opt_text(rec.prompt),
            opt_text(rec.raw_response),
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting_follows_rfc_4180() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn free_text_cannot_become_a_spreadsheet_formula() {
        assert_eq!(cell_csv(&Cell::FreeText("=HYPERLINK(\"x\")".into())), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell_csv(&Cell::FreeText("-buy now".into())), "'-buy now");
        // Numbers keep their sign: only free text is guarded.
        assert_eq!(cell_csv(&Cell::Dec("-1.5".into())), "-1.5");
    }

    #[test]
    fn run_selector_parses_ids_and_latest() {
        assert_eq!("latest".parse::<RunSelector>(), Ok(RunSelector::Latest));
        assert_eq!("42".parse::<RunSelector>(), Ok(RunSelector::Id(42)));
        assert!("0".parse::<RunSelector>().is_err());
        assert!("abc".parse::<RunSelector>().unwrap_err().contains("positive number or `latest`"));
    }

    #[test]
    fn json_cells_keep_exact_decimals_and_nest_json() {
        assert_eq!(cell_json(&Cell::Dec("0.1000".into())), "\"0.1000\"");
        assert_eq!(cell_json(&Cell::Json("[{\"a\":1}]".into())), "[{\"a\":1}]");
        assert_eq!(cell_json(&Cell::Json("not json".into())), "\"not json\"");
        assert_eq!(cell_json(&Cell::Real(f64::NAN)), "null");
    }
}
