//! CSV layouts: Binance archive klines, aggTrades and trades (with or without a header), and
//! generic OHLCV or trade files with a header.
//!
//! Layout detection, from the first line:
//! * **Header present** (its first field is not a timestamp). Binance's own headers
//!   (`open_time,…,ignore`, `agg_trade_id,…`, `id,price,qty,quote_qty,time,…`) select their
//!   layout; otherwise columns are found by name (case-insensitive): a time column (`timestamp`,
//!   `time`, `date`, `datetime`, `open_time`, `open_time_ms`, `timestamp_ms`, `ts`, `t`) plus
//!   `open`, `high`, `low`, `close` (and optionally `volume`/`vol`/`v`) is OHLCV; a time column
//!   plus `price` and a quantity (`qty`, `quantity`, `amount`, `size`, `volume`) is trades, with
//!   an optional `side` (taker side, `buy`/`sell`) or `buyer_maker`/`is_buyer_maker`, and an
//!   optional `id`/`trade_id`.
//! * **No header** (Binance spot files, older futures files): 12 columns are klines; trades are
//!   told apart by the file name (`…-aggTrades-…`, `…-trades-…`) or else by the columns (8 =
//!   spot aggTrades; 7 with the time in column 5 = spot trades, in column 6 = futures aggTrades;
//!   6 = futures trades). Anything else is refused with a request for a header line.
//!
//! Row checks (each failure is an [`Issue`] with the line, and the row is dropped): every field
//! parses; prices are positive; volumes and quantities are not negative (trade quantities are
//! positive); bars satisfy low ≤ open, close ≤ high; 1-minute bars start on a minute boundary
//! and a kline's close time ends its minute. Klines must be 1-minute klines (the engine builds
//! every timeframe from them): a file of 1h klines is refused, naming the interval.
//!
//! Timestamps are per field (see [`super::parse`]): Binance spot files from 2025 on hold
//! microseconds, earlier ones milliseconds, and both may be replayed together.
//!
//! COIN-M files count volume in contracts: klines use their `quote_volume` column instead (which
//! COIN-M fills with the volume in coin), and trade quantities are converted with the contract
//! size (contracts × USD per contract / price).

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use super::parse::{TimeUnit, decimals, parse_bool, parse_decimal, parse_time, split_fields};
use super::report::{Issue, IssueKind};
use crate::domain::Side;

const MINUTE_MS: i64 = 60_000;
/// Rows whose decimals are sampled to infer tick and lot sizes.
const DECIMAL_SAMPLE: usize = 20_000;

/// One 1-minute bar as read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarRow {
    pub open_ms: i64,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
}

/// One trade as read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TradeRow {
    pub ts_ms: i64,
    pub price: Decimal,
    pub qty: Decimal,
    pub aggressor: Side,
    pub id: Option<u64>,
}

/// The rows of one file, each with its line number.
#[derive(Debug, Clone)]
pub enum Rows {
    Bars(Vec<(BarRow, u64)>),
    Trades(Vec<(TradeRow, u64)>),
}

/// What the file name says about its content.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NameKind {
    /// `SYMBOL-<interval>-…`: klines of that interval.
    Klines(String),
    AggTrades,
    Trades,
    #[default]
    Unknown,
}

/// What the caller knows about the file.
#[derive(Debug, Clone, Default)]
pub struct CsvHints {
    pub name_kind: NameKind,
    /// COIN-M: volumes in contracts; `contract_usd` converts trade quantities.
    pub coinm: bool,
    pub contract_usd: Decimal,
}

/// A parsed CSV file.
#[derive(Debug, Clone)]
pub struct ParsedCsv {
    pub format: String,
    pub rows: Rows,
    /// Data lines read (header and blank lines excluded).
    pub data_lines: u64,
    pub units: BTreeSet<TimeUnit>,
    /// Most decimals seen in prices and in quantities (trailing zeros removed), for inference.
    pub price_decimals: u32,
    pub qty_decimals: u32,
}

/// Which column holds the taker side.
#[derive(Debug, Clone, Copy)]
enum SideCol {
    /// `is_buyer_maker`: true means the seller took liquidity.
    BuyerMaker(usize),
    /// `buy` / `sell`: the taker's side.
    Taker(usize),
    None,
}

#[derive(Debug, Clone)]
enum Layout {
    Klines { volume: usize },
    Ohlcv { t: usize, o: usize, h: usize, l: usize, c: usize, v: Option<usize> },
    Trades { t: usize, price: usize, qty: usize, side: SideCol, id: Option<usize>, min_cols: usize },
}

impl Layout {
    fn name(&self, header: bool, binance: &str) -> String {
        let h = if header { "" } else { ", no header" };
        match self {
            Layout::Klines { .. } => format!("binance klines{h}"),
            Layout::Ohlcv { .. } => "ohlcv csv".into(),
            Layout::Trades { .. } if !binance.is_empty() => format!("binance {binance}{h}"),
            Layout::Trades { .. } => "trades csv".into(),
        }
    }
}

fn norm(name: &str) -> String {
    name.trim().trim_matches('"').to_ascii_lowercase().replace([' ', '-'], "_")
}

fn find(cols: &[String], names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| cols.iter().position(|c| c == n))
}

const TIME_NAMES: &[&str] =
    &["timestamp", "time", "date", "datetime", "date_time", "open_time", "open_time_ms", "timestamp_ms", "ts", "t"];

/// Detects the layout; returns it, whether line 1 is a header, and the Binance kind name.
fn detect(first: &[&str], hints: &CsvHints) -> Result<(Layout, bool, &'static str), String> {
    let header = first.first().is_some_and(|f| parse_time(f).is_err() && f.bytes().any(|b| b.is_ascii_alphabetic()));
    let n = first.len();
    if header {
        let cols: Vec<String> = first.iter().map(|c| norm(c)).collect();
        if cols.first().is_some_and(|c| c == "open_time") && cols.iter().any(|c| c == "close_time") && n >= 11 {
            let volume = if hints.coinm { find(&cols, &["quote_volume"]).unwrap_or(7) } else { 5 };
            return Ok((Layout::Klines { volume }, true, "klines"));
        }
        if let (Some(price), Some(qty), Some(t)) = (
            find(&cols, &["price"]),
            find(&cols, &["quantity", "qty", "amount", "size", "volume"]),
            find(&cols, &["transact_time", "time", "timestamp", "timestamp_ms", "ts", "date", "datetime"]),
        ) && find(&cols, &["open"]).is_none()
        {
            let side = match (find(&cols, &["is_buyer_maker", "buyer_maker"]), find(&cols, &["side", "taker_side"])) {
                (Some(i), _) => SideCol::BuyerMaker(i),
                (None, Some(i)) => SideCol::Taker(i),
                _ => SideCol::None,
            };
            let id = find(&cols, &["agg_trade_id", "id", "trade_id"]);
            let kind = if cols.iter().any(|c| c == "agg_trade_id") {
                "aggTrades"
            } else if cols.iter().any(|c| c == "quote_qty") {
                "trades"
            } else {
                ""
            };
            let min_cols = [Some(price), Some(qty), Some(t), id].into_iter().flatten().max().unwrap_or(0) + 1;
            return Ok((Layout::Trades { t, price, qty, side, id, min_cols }, true, kind));
        }
        let (t, o, h, l, c) = (
            find(&cols, TIME_NAMES),
            find(&cols, &["open", "o"]),
            find(&cols, &["high", "h"]),
            find(&cols, &["low", "l"]),
            find(&cols, &["close", "c"]),
        );
        if let (Some(t), Some(o), Some(h), Some(l), Some(c)) = (t, o, h, l, c) {
            let v = find(&cols, &["volume", "vol", "v"]);
            return Ok((Layout::Ohlcv { t, o, h, l, c, v }, true, ""));
        }
        return Err(format!(
            "unrecognised header `{}`: expected Binance klines/aggTrades/trades, `timestamp,open,high,low,close,volume`, \
             or a trades header with a time, `price` and `qty` column",
            first.join(",")
        ));
    }
    let agg = Layout::Trades { t: 5, price: 1, qty: 2, side: SideCol::BuyerMaker(6), id: Some(0), min_cols: 7 };
    let trades = Layout::Trades { t: 4, price: 1, qty: 2, side: SideCol::BuyerMaker(5), id: Some(0), min_cols: 6 };
    if n >= 11 {
        let volume = if hints.coinm { 7 } else { 5 };
        return Ok((Layout::Klines { volume }, false, "klines"));
    }
    let is_time = |i: usize| first.get(i).is_some_and(|f| f.len() >= 12 && parse_time(f).is_ok());
    let is_bool =
        |i: usize| first.get(i).is_some_and(|f| parse_bool(f).is_some() && !f.bytes().all(|b| b.is_ascii_digit()));
    match hints.name_kind {
        NameKind::AggTrades if n >= 7 => return Ok((agg, false, "aggTrades")),
        NameKind::Trades if n >= 6 => return Ok((trades, false, "trades")),
        _ => {}
    }
    match n {
        8 if is_time(5) => Ok((agg, false, "aggTrades")),
        7 if is_time(4) && is_bool(5) => Ok((trades, false, "trades")),
        7 if is_time(5) && is_bool(6) => Ok((agg, false, "aggTrades")),
        6 if is_time(4) && is_bool(5) => Ok((trades, false, "trades")),
        _ => Err(format!(
            "cannot tell the layout of a {n}-column file without a header: add a header line such as \
             `timestamp,open,high,low,close,volume` (bars) or `timestamp,price,qty,side` (trades)"
        )),
    }
}

/// Per-file parsing state.
struct Reader<'a> {
    file: &'a str,
    units: BTreeSet<TimeUnit>,
    price_dec: u32,
    qty_dec: u32,
    sampled: usize,
    last_ts: Option<i64>,
}

impl Reader<'_> {
    fn issue(&self, kind: IssueKind, line: u64, detail: String) -> Issue {
        Issue { kind, file: self.file.to_owned(), line, detail }
    }

    /// A row with fewer than `need` columns is a bad row ("7 columns, the header has at least 8").
    fn columns(&self, got: usize, need: usize, line: u64, what: &'static str) -> Result<(), Issue> {
        if got < need {
            return Err(self.issue(IssueKind::BadRow, line, format!("{got} columns, {what} {need}")));
        }
        Ok(())
    }

    fn time(&mut self, field: &str, line: u64) -> Result<i64, Issue> {
        match parse_time(field) {
            Ok((ms, unit)) => {
                self.units.insert(unit);
                Ok(ms)
            }
            Err(e) => Err(self.issue(IssueKind::BadRow, line, e)),
        }
    }

    fn num(&self, fields: &[&str], i: usize, what: &str, line: u64) -> Result<Decimal, Issue> {
        let raw = fields.get(i).copied().unwrap_or("");
        parse_decimal(raw).ok_or_else(|| self.issue(IssueKind::BadRow, line, format!("{what} `{raw}` is not a number")))
    }

    fn sample(&mut self, price: Decimal, qty: Decimal) {
        if self.sampled < DECIMAL_SAMPLE {
            self.sampled += 1;
            self.price_dec = self.price_dec.max(decimals(price));
            self.qty_dec = self.qty_dec.max(decimals(qty));
        }
    }

    /// Notes a row older than the previous accepted row (kept: the merge sorts).
    fn order(&mut self, ts: i64, line: u64, issues: &mut dyn FnMut(Issue) -> Result<(), Issue>) -> Result<(), Issue> {
        if let Some(prev) = self.last_ts
            && ts < prev
        {
            issues(self.issue(
                IssueKind::Unsorted,
                line,
                format!("{} comes after {} in the file", crate::clock::fmt_ts(ts), crate::clock::fmt_ts(prev)),
            ))?;
        }
        self.last_ts = Some(self.last_ts.map_or(ts, |p| p.max(ts)));
        Ok(())
    }
}

/// Checks one bar's numbers; `None` when it is sound.
pub(crate) fn bar_problem(b: &BarRow) -> Option<(IssueKind, String)> {
    for (what, p) in [("open", b.open), ("high", b.high), ("low", b.low), ("close", b.close)] {
        if p <= Decimal::ZERO {
            return Some((IssueKind::NonPositivePrice, format!("{what} is {p}")));
        }
    }
    if b.volume < Decimal::ZERO {
        return Some((IssueKind::BadRow, format!("volume is negative ({})", b.volume)));
    }
    let why = if b.high < b.low {
        "high below low"
    } else if b.open < b.low || b.open > b.high {
        "open outside low..high"
    } else if b.close < b.low || b.close > b.high {
        "close outside low..high"
    } else {
        return None;
    };
    Some((
        IssueKind::Inconsistent,
        format!("{why} (open {}, high {}, low {}, close {})", b.open, b.high, b.low, b.close),
    ))
}

/// Parses `text` (one CSV file). Row problems go to `issues`, which may abort (strict mode) by
/// returning the issue as an error. A file-level problem (layout, interval) is an `Err(String)`.
pub fn parse_csv(
    text: &str,
    file: &str,
    hints: &CsvHints,
    issues: &mut dyn FnMut(Issue) -> Result<(), Issue>,
) -> Result<Result<ParsedCsv, String>, Issue> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i as u64 + 1, l)).filter(|(_, l)| !l.trim().is_empty());
    let mut fields: Vec<&str> = Vec::with_capacity(16);
    let Some((first_no, first)) = lines.next() else {
        return Ok(Err("the file is empty".into()));
    };
    split_fields(first, &mut fields);
    let (layout, header, binance) = match detect(&fields, hints) {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    if let (Layout::Klines { .. }, NameKind::Klines(iv)) = (&layout, &hints.name_kind)
        && iv != "1m"
    {
        return Ok(Err(format!(
            "it holds {iv} klines; the engine builds every timeframe from 1-minute bars: use the 1m files"
        )));
    }
    let mut r = Reader { file, units: BTreeSet::new(), price_dec: 0, qty_dec: 0, sampled: 0, last_ts: None };
    let mut data_lines = 0u64;
    let body: Box<dyn Iterator<Item = (u64, &str)>> =
        if header { Box::new(lines) } else { Box::new(std::iter::once((first_no, first)).chain(lines)) };
    let rows = match layout {
        Layout::Klines { volume } => {
            let mut out = Vec::new();
            let mut interval_checked = false;
            for (line, text) in body {
                data_lines += 1;
                split_fields(text, &mut fields);
                let row = (|| -> Result<Option<BarRow>, Issue> {
                    r.columns(fields.len(), 11, line, "a kline has at least")?;
                    let open_ms = r.time(fields[0], line)?;
                    let close_ms = r.time(fields[6], line)?;
                    if !interval_checked {
                        interval_checked = true;
                        let span = close_ms - open_ms + 1;
                        if span != MINUTE_MS && span > 0 {
                            return Ok(None);
                        }
                    }
                    let bar = BarRow {
                        open_ms,
                        open: r.num(&fields, 1, "open", line)?,
                        high: r.num(&fields, 2, "high", line)?,
                        low: r.num(&fields, 3, "low", line)?,
                        close: r.num(&fields, 4, "close", line)?,
                        volume: r.num(&fields, volume, "volume", line)?,
                    };
                    if open_ms % MINUTE_MS != 0 || close_ms != open_ms + MINUTE_MS - 1 {
                        return Err(r.issue(
                            IssueKind::Misaligned,
                            line,
                            format!(
                                "open {} / close {} is not one whole minute",
                                crate::clock::fmt_ts(open_ms),
                                crate::clock::fmt_ts(close_ms)
                            ),
                        ));
                    }
                    Ok(Some(bar))
                })();
                match row {
                    Ok(Some(bar)) => {
                        if let Some((kind, detail)) = bar_problem(&bar) {
                            issues(r.issue(kind, line, detail))?;
                            continue;
                        }
                        r.order(bar.open_ms, line, issues)?;
                        r.sample(bar.close, bar.volume);
                        out.push((bar, line));
                    }
                    Ok(None) => {
                        let open = fields.first().and_then(|f| parse_time(f).ok()).map_or(0, |x| x.0);
                        let close = fields.get(6).and_then(|f| parse_time(f).ok()).map_or(0, |x| x.0);
                        return Ok(Err(format!(
                            "its klines span {} s, not 60 s; the engine builds every timeframe from 1-minute bars: \
                             use the 1m files",
                            (close - open + 1) / 1000
                        )));
                    }
                    Err(issue) => issues(issue)?,
                }
            }
            Rows::Bars(out)
        }
        Layout::Ohlcv { t, o, h, l, c, v } => {
            let mut out = Vec::new();
            let need = [t, o, h, l, c, v.unwrap_or(0)].into_iter().max().unwrap_or(0) + 1;
            for (line, text) in body {
                data_lines += 1;
                split_fields(text, &mut fields);
                let row = (|| -> Result<BarRow, Issue> {
                    r.columns(fields.len(), need, line, "the header has at least")?;
                    let open_ms = r.time(fields[t], line)?;
                    let bar = BarRow {
                        open_ms,
                        open: r.num(&fields, o, "open", line)?,
                        high: r.num(&fields, h, "high", line)?,
                        low: r.num(&fields, l, "low", line)?,
                        close: r.num(&fields, c, "close", line)?,
                        volume: match v {
                            Some(v) => r.num(&fields, v, "volume", line)?,
                            None => Decimal::ZERO,
                        },
                    };
                    if open_ms % MINUTE_MS != 0 {
                        return Err(r.issue(
                            IssueKind::Misaligned,
                            line,
                            format!("{} is not on a minute boundary", crate::clock::fmt_ts(open_ms)),
                        ));
                    }
                    Ok(bar)
                })();
                match row {
                    Ok(bar) => {
                        if let Some((kind, detail)) = bar_problem(&bar) {
                            issues(r.issue(kind, line, detail))?;
                            continue;
                        }
                        r.order(bar.open_ms, line, issues)?;
                        r.sample(bar.close, bar.volume);
                        out.push((bar, line));
                    }
                    Err(issue) => issues(issue)?,
                }
            }
            if let Some(step) = bar_step(&out)
                && step != MINUTE_MS
            {
                return Ok(Err(format!(
                    "its bars are {} minute(s) apart; the engine builds every timeframe from 1-minute bars",
                    step as f64 / MINUTE_MS as f64
                )));
            }
            Rows::Bars(out)
        }
        Layout::Trades { t, price, qty, side, id, min_cols } => {
            let mut out = Vec::new();
            let mut prev_price: Option<Decimal> = None;
            for (line, text) in body {
                data_lines += 1;
                split_fields(text, &mut fields);
                let row = (|| -> Result<TradeRow, Issue> {
                    r.columns(fields.len(), min_cols, line, "expected at least")?;
                    let ts_ms = r.time(fields[t], line)?;
                    let p = r.num(&fields, price, "price", line)?;
                    let mut q = r.num(&fields, qty, "quantity", line)?;
                    if p <= Decimal::ZERO {
                        return Err(r.issue(IssueKind::NonPositivePrice, line, format!("price is {p}")));
                    }
                    if q <= Decimal::ZERO {
                        return Err(r.issue(IssueKind::BadRow, line, format!("quantity is {q}, not positive")));
                    }
                    if hints.coinm {
                        q = (q * hints.contract_usd / p).round_dp(8);
                    }
                    let aggressor = match side {
                        SideCol::BuyerMaker(i) => match fields.get(i).and_then(|f| parse_bool(f)) {
                            Some(true) => Side::Sell,
                            Some(false) => Side::Buy,
                            None => {
                                return Err(r.issue(
                                    IssueKind::BadRow,
                                    line,
                                    format!("is_buyer_maker `{}` is not true/false", fields.get(i).unwrap_or(&"")),
                                ));
                            }
                        },
                        SideCol::Taker(i) => {
                            let f = fields.get(i).copied().unwrap_or("");
                            if f.eq_ignore_ascii_case("buy") || f.eq_ignore_ascii_case("b") {
                                Side::Buy
                            } else if f.eq_ignore_ascii_case("sell") || f.eq_ignore_ascii_case("s") {
                                Side::Sell
                            } else {
                                return Err(r.issue(IssueKind::BadRow, line, format!("side `{f}` is not buy/sell")));
                            }
                        }
                        // No side column: the tick rule (an uptick was bought).
                        SideCol::None => {
                            if prev_price.is_some_and(|pp| p < pp) {
                                Side::Sell
                            } else {
                                Side::Buy
                            }
                        }
                    };
                    let id = match id {
                        Some(i) => {
                            let f = fields.get(i).copied().unwrap_or("").trim();
                            Some(f.parse::<u64>().map_err(|_| {
                                r.issue(IssueKind::BadRow, line, format!("trade id `{f}` is not a whole number"))
                            })?)
                        }
                        None => None,
                    };
                    Ok(TradeRow { ts_ms, price: p, qty: q, aggressor, id })
                })();
                match row {
                    Ok(trade) => {
                        prev_price = Some(trade.price);
                        r.order(trade.ts_ms, line, issues)?;
                        r.sample(trade.price, trade.qty);
                        out.push((trade, line));
                    }
                    Err(issue) => issues(issue)?,
                }
            }
            Rows::Trades(out)
        }
    };
    let format = layout_name(&rows, header, binance);
    Ok(Ok(ParsedCsv { format, rows, data_lines, units: r.units, price_decimals: r.price_dec, qty_decimals: r.qty_dec }))
}

fn layout_name(rows: &Rows, header: bool, binance: &str) -> String {
    let layout = match rows {
        Rows::Bars(_) if binance == "klines" => Layout::Klines { volume: 0 },
        Rows::Bars(_) => Layout::Ohlcv { t: 0, o: 0, h: 0, l: 0, c: 0, v: None },
        Rows::Trades(_) => Layout::Trades { t: 0, price: 0, qty: 0, side: SideCol::None, id: None, min_cols: 0 },
    };
    layout.name(header, binance)
}

/// The most common distance between consecutive bars (sorted copy of the first rows).
fn bar_step(rows: &[(BarRow, u64)]) -> Option<i64> {
    let mut ts: Vec<i64> = rows.iter().take(5_000).map(|(b, _)| b.open_ms).collect();
    ts.sort_unstable();
    ts.dedup();
    let mut diffs: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
    if diffs.is_empty() {
        return None;
    }
    diffs.sort_unstable();
    let mut best = (diffs[0], 0usize);
    let mut run = (diffs[0], 0usize);
    for d in diffs {
        if d == run.0 {
            run.1 += 1;
        } else {
            run = (d, 1);
        }
        if run.1 > best.1 {
            best = run;
        }
    }
    Some(best.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn parse(text: &str, hints: &CsvHints) -> (Result<ParsedCsv, String>, Vec<Issue>) {
        let mut found = Vec::new();
        let r = parse_csv(text, "f.csv", hints, &mut |i| {
            found.push(i);
            Ok(())
        })
        .unwrap();
        (r, found)
    }

    fn bars(p: &ParsedCsv) -> Vec<BarRow> {
        match &p.rows {
            Rows::Bars(b) => b.iter().map(|x| x.0).collect(),
            Rows::Trades(_) => panic!("trades"),
        }
    }

    fn trades(p: &ParsedCsv) -> Vec<TradeRow> {
        match &p.rows {
            Rows::Trades(t) => t.iter().map(|x| x.0).collect(),
            Rows::Bars(_) => panic!("bars"),
        }
    }

    #[test]
    fn binance_klines_with_and_without_header_and_in_microseconds() {
        let h = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n\
                 1662336000000,19992.70,20000.00,19988.10,19996.80,482.638,1662336059999,9650791.43440,4263,302.950,6057727.57980,0\n";
        let (p, issues) = parse(h, &CsvHints::default());
        let p = p.unwrap();
        assert!(issues.is_empty());
        assert_eq!(p.format, "binance klines");
        assert_eq!(bars(&p)[0].close, dec!(19996.80));
        let us = "1735689600000000,93576.00,93610.93,93537.50,93610.93,8.21827,1735689659999999,768978.1,1313,3.1,290000.2,0\n";
        let (p, _) = parse(us, &CsvHints::default());
        let p = p.unwrap();
        assert_eq!(p.format, "binance klines, no header");
        assert_eq!(bars(&p)[0].open_ms, 1_735_689_600_000);
        assert_eq!(p.units.iter().copied().collect::<Vec<_>>(), vec![TimeUnit::Micros]);
    }

    #[test]
    fn hourly_klines_are_refused_with_the_reason() {
        let t = "1722470400000,64628.01,64841.29,64316.55,64645.90,1271.2,1722473999999,82114039.5,97642,522.3,33757519.4,0\n";
        let e = parse(t, &CsvHints::default()).0.unwrap_err();
        assert!(e.contains("3600 s") && e.contains("1m"), "{e}");
        let e = parse(t, &CsvHints { name_kind: NameKind::Klines("1h".into()), ..CsvHints::default() }).0.unwrap_err();
        assert!(e.contains("1h klines"), "{e}");
    }

    #[test]
    fn coinm_klines_use_the_coin_volume() {
        let t = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n\
                 1666569600000,19560.7,19566.7,19555.5,19556.2,19431,1666569659999,99.33183109,425,9916,50.69336469,0\n";
        let (p, _) = parse(t, &CsvHints { coinm: true, ..CsvHints::default() });
        assert_eq!(bars(&p.unwrap())[0].volume, dec!(99.33183109));
    }

    #[test]
    fn bad_rows_are_reported_with_their_line() {
        let t = "timestamp,open,high,low,close,volume\n\
                 2021-12-31 23:01:00,10,11,9,10.5,1\n\
                 2021-12-31 23:02:00,10,x,9,10.5,1\n\
                 2021-12-31 23:03:00,0,11,9,10.5,1\n\
                 2021-12-31 23:04:00,10,9,11,10.5,1\n\
                 2021-12-31 23:05:30,10,11,9,10.5,1\n\
                 2021-12-31 23:06:00,10,11,9,10.5,-1\n\
                 2021-12-31 23:07:00,10,11,9\n\
                 2021-12-31 23:00:00,10,11,9,10.5,1\n";
        let (p, issues) = parse(t, &CsvHints::default());
        let p = p.unwrap();
        let got: Vec<(IssueKind, u64)> = issues.iter().map(|i| (i.kind, i.line)).collect();
        assert_eq!(
            got,
            vec![
                (IssueKind::BadRow, 3),
                (IssueKind::NonPositivePrice, 4),
                (IssueKind::Inconsistent, 5),
                (IssueKind::Misaligned, 6),
                (IssueKind::BadRow, 7),
                (IssueKind::BadRow, 8),
                (IssueKind::Unsorted, 9),
            ]
        );
        assert_eq!(bars(&p).len(), 2);
        assert_eq!(p.data_lines, 8);
        assert!(issues[0].to_string().starts_with("f.csv:3: bad row: high `x` is not a number"), "{}", issues[0]);
    }

    #[test]
    fn five_minute_ohlcv_is_refused() {
        let t = "open_time_ms,open,high,low,close,volume\n1636934400000,1,1,1,1,1\n1636934700000,1,1,1,1,1\n1636935000000,1,1,1,1,1\n";
        let e = parse(t, &CsvHints::default()).0.unwrap_err();
        assert!(e.contains("5 minute"), "{e}");
    }

    #[test]
    fn trade_layouts() {
        // Spot aggTrades: no header, 8 columns.
        let t = "26129,0.01633102,4.70443515,27781,27781,1498793709153,True,True\n";
        let (p, _) = parse(t, &CsvHints::default());
        let p = p.unwrap();
        assert_eq!(p.format, "binance aggTrades, no header");
        assert_eq!(
            trades(&p)[0],
            TradeRow {
                ts_ms: 1_498_793_709_153,
                price: dec!(0.01633102),
                qty: dec!(4.70443515),
                aggressor: Side::Sell,
                id: Some(26129)
            }
        );
        // Futures trades with a header.
        let t = "id,price,qty,quote_qty,time,is_buyer_maker\n2656,19992.7,0.005,99.9635,1662336000064,false\n";
        let p = parse(t, &CsvHints::default()).0.unwrap();
        assert_eq!(p.format, "binance trades");
        assert_eq!(trades(&p)[0].aggressor, Side::Buy);
        // Generic (nautilus, freqtrade).
        let t = "timestamp_ms,trade_id,price,quantity,buyer_maker\n1610064000278,553287559,39432.48,0.000263,True\n";
        let p = parse(t, &CsvHints::default()).0.unwrap();
        assert_eq!(
            (p.format.as_str(), trades(&p)[0].id, trades(&p)[0].aggressor),
            ("trades csv", Some(553287559), Side::Sell)
        );
        let t = "timestamp,id,type,side,price,amount,cost\n1570752011620,13519807,,sell,0.00141342,23.0,0.03250866\n";
        let p = parse(t, &CsvHints::default()).0.unwrap();
        assert_eq!((trades(&p)[0].aggressor, trades(&p)[0].qty), (Side::Sell, dec!(23.0)));
        // COIN-M quantities are contracts.
        let t = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n1,20000,2,1,1,1666569600000,false\n";
        let p = parse(t, &CsvHints { coinm: true, contract_usd: dec!(100), ..CsvHints::default() }).0.unwrap();
        assert_eq!(trades(&p)[0].qty, dec!(0.01));
    }

    #[test]
    fn unknown_layouts_ask_for_a_header() {
        let e = parse("1,2,3\n", &CsvHints::default()).0.unwrap_err();
        assert!(e.contains("header"), "{e}");
        let e = parse("foo,bar\n1,2\n", &CsvHints::default()).0.unwrap_err();
        assert!(e.contains("unrecognised header"), "{e}");
        assert_eq!(parse("", &CsvHints::default()).0.unwrap_err(), "the file is empty");
    }
}
