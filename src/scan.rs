//! The market scanner: for every symbol and timeframe, the latest closed candle's close and
//! change, EMA trend, MACD, RSI, Bollinger position and ATR, and which strategies signal now.
//!
//! [`scan`] is a pure function of the market views (the engine's own [`MarketView`]s, or ones
//! fed by [`ScanBoard`]) and the strategies to ask, so the CLI, a TUI panel or a test get the
//! same numbers. Definitions (all on closed candles of the row's timeframe):
//! * `change_pct`: close versus the previous candle's close, in percent;
//! * `trend`: `up` when EMA20 > EMA50 × 1.0005, `down` below EMA50 × 0.9995, else `flat` (the
//!   market watch's rule);
//! * `macd`: MACD(12, 26, 9) line, signal and histogram, `bullish` when the histogram is positive;
//! * `bb_position`: %B = (close − lower) / (upper − lower) of Bollinger(20, 2): 0 at the lower
//!   band, 1 at the upper, outside [0, 1] beyond them;
//! * `atr_pct`: ATR(14) / close, in percent.
//!
//! A value still warming up is `None` (shown as `—`), never a number. A strategy *signals* when,
//! asked now with a flat account of the configured starting balance, it would enter: its
//! decision holds a `buy_to_enter` or `sell_to_enter` proposal for the symbol. Each strategy is
//! built fresh for the scan (it reads the candle history it needs), so scanning changes nothing.

use std::fmt::Write as _;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::agents::{AgentContext, MarketView, Signal};
use crate::config::{Config, StrategyParams};
use crate::domain::{Account, AgentId, Candle, MarketData, MarketEvent, Symbol, Timeframe};
use crate::indicators::{BollingerValue, MacdValue};
use crate::market::candles::CandleInput;

/// A strategy the scanner asks.
#[derive(Debug, Clone)]
pub struct ScanStrategy {
    pub agent: AgentId,
    pub params: StrategyParams,
    pub symbols: Vec<Symbol>,
}

impl ScanStrategy {
    /// The enabled, non-benchmark agents of `config`.
    pub fn from_config(config: &Config) -> Vec<Self> {
        config
            .agents
            .iter()
            .filter(|a| a.enabled)
            .filter_map(|a| {
                let params = a.strategy().ok()?;
                if matches!(params, StrategyParams::BuyAndHold(_)) {
                    return None;
                }
                Some(Self { agent: a.name, params, symbols: config.agent_symbols(a) })
            })
            .collect()
    }
}

/// EMA20 versus EMA50.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmaTrend {
    Up,
    Down,
    Flat,
}

impl EmaTrend {
    pub fn as_str(self) -> &'static str {
        match self {
            EmaTrend::Up => "up",
            EmaTrend::Down => "down",
            EmaTrend::Flat => "flat",
        }
    }
}

/// One symbol on one timeframe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanRow {
    pub symbol: Symbol,
    pub timeframe: Timeframe,
    /// Open time of the last closed candle, if any.
    pub candle_open_ms: Option<i64>,
    /// Closed candles seen on this timeframe.
    pub candles: u64,
    pub close: Option<f64>,
    pub change_pct: Option<f64>,
    pub trend: Option<EmaTrend>,
    pub ema20: Option<f64>,
    pub ema50: Option<f64>,
    pub macd: Option<MacdValue>,
    pub macd_bullish: Option<bool>,
    pub rsi14: Option<f64>,
    pub bb: Option<BollingerValue>,
    pub bb_position: Option<f64>,
    pub atr14: Option<f64>,
    pub atr_pct: Option<f64>,
    /// Agents whose strategy, deciding on this timeframe, signals an entry now.
    pub signals: Vec<String>,
}

/// A strategy that would enter now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanSignal {
    pub agent: AgentId,
    pub kind: String,
    pub symbol: Symbol,
    pub timeframe: Timeframe,
    /// `long` or `short`.
    pub direction: String,
    pub reasoning: String,
}

/// The whole scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    pub at_ms: i64,
    pub at: String,
    /// `sim` or `replay` (set by the caller).
    pub source: String,
    pub rows: Vec<ScanRow>,
    pub signals: Vec<ScanSignal>,
    /// Remarks: data checks, timeframes still warming up.
    pub notes: Vec<String>,
}

fn row(m: &MarketView, tf: Timeframe) -> ScanRow {
    let v = m.series.values(tf);
    let warm = v.bars > 0;
    let mut prev_close = None;
    let mut last_open = None;
    {
        let mut h = m.series.history(tf).rev();
        if let Some(c) = h.next() {
            last_open = Some(c.open_ms);
        }
        if let Some(c) = h.next() {
            prev_close = Some(c.close);
        }
    }
    let close = warm.then_some(v.close);
    let trend = match (v.ema20, v.ema50) {
        (Some(a), Some(b)) if a > b * 1.0005 => Some(EmaTrend::Up),
        (Some(a), Some(b)) if a < b * 0.9995 => Some(EmaTrend::Down),
        (Some(_), Some(_)) => Some(EmaTrend::Flat),
        _ => None,
    };
    let bb_position = match (v.bb, close) {
        (Some(b), Some(c)) if b.upper > b.lower => Some((c - b.lower) / (b.upper - b.lower)),
        _ => None,
    };
    ScanRow {
        symbol: m.symbol(),
        timeframe: tf,
        candle_open_ms: last_open,
        candles: v.bars,
        close,
        change_pct: match (close, prev_close) {
            (Some(c), Some(p)) if p > 0.0 => Some((c / p - 1.0) * 100.0),
            _ => None,
        },
        trend,
        ema20: v.ema20,
        ema50: v.ema50,
        macd: v.macd,
        macd_bullish: v.macd.map(|m| m.hist > 0.0),
        rsi14: v.rsi14,
        bb: v.bb,
        bb_position,
        atr14: v.atr14,
        atr_pct: match (v.atr14, close) {
            (Some(a), Some(c)) if c > 0.0 => Some(a / c * 100.0),
            _ => None,
        },
        signals: Vec::new(),
    }
}

/// Scans `markets` at `now_ms`: one row per symbol and timeframe, and the strategies that would
/// enter now (asked with a flat account of `balance`).
pub fn scan(markets: &[MarketView], strategies: &[ScanStrategy], now_ms: i64, balance: Decimal) -> ScanReport {
    let mut rows: Vec<ScanRow> =
        markets.iter().flat_map(|m| Timeframe::ALL.into_iter().map(move |tf| row(m, tf))).collect();
    let mut signals = Vec::new();
    for s in strategies {
        for symbol in &s.symbols {
            if !markets.iter().any(|m| m.symbol() == *symbol) {
                continue;
            }
            // Only rule strategies can be asked on the spot (an LLM would need a model call).
            let Some((mut rule, _)) = crate::agents::rules::build_rule(&s.params) else { continue };
            let account = Account::new(s.agent, balance);
            let tf = rule.timeframe();
            let symbols = [*symbol];
            let ctx =
                AgentContext { now_ms, symbol: *symbol, timeframe: tf, markets, account: &account, symbols: &symbols };
            let Some(decision) = rule.decide(&ctx) else { continue };
            for p in decision.proposals.iter().filter(|p| p.symbol == *symbol) {
                let direction = match p.signal {
                    Signal::BuyToEnter => "long",
                    Signal::SellToEnter => "short",
                    _ => continue,
                };
                signals.push(ScanSignal {
                    agent: s.agent,
                    kind: rule.kind().to_owned(),
                    symbol: *symbol,
                    timeframe: tf,
                    direction: direction.to_owned(),
                    reasoning: decision.reasoning.clone(),
                });
                if let Some(r) = rows.iter_mut().find(|r| r.symbol == *symbol && r.timeframe == tf) {
                    r.signals.push(format!("{} {direction}", s.agent));
                }
            }
        }
    }
    let mut notes = Vec::new();
    for m in markets {
        let cold: Vec<&str> = Timeframe::ALL
            .into_iter()
            .filter(|tf| {
                let v = m.series.values(*tf);
                v.ema50.is_none() || v.macd.is_none()
            })
            .map(|tf| tf.as_str())
            .collect();
        if !cold.is_empty() {
            notes.push(format!(
                "{}: {} still warming up (EMA50 needs 50 closed candles, MACD 34): their values show as —",
                m.symbol(),
                cold.join(", ")
            ));
        }
    }
    ScanReport { at_ms: now_ms, at: crate::clock::fmt_ts(now_ms), source: String::new(), rows, signals, notes }
}

impl ScanReport {
    /// The scan as a terminal table.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "scan: {} at {} UTC", self.source, self.at);
        let _ = writeln!(
            s,
            "{:<12} {:<4} {:>12} {:>7} {:<5} {:>12} {:>6} {:>6} {:>6}  signals",
            "symbol", "tf", "close", "chg%", "trend", "MACD hist", "RSI14", "%B", "ATR%"
        );
        let num =
            |v: Option<f64>, w: usize, p: usize| v.map_or_else(|| format!("{:>w$}", "—"), |x| format!("{x:>w$.p$}"));
        for r in &self.rows {
            let close = r.close.map_or_else(|| "—".to_owned(), crate::agents::rules::fmt_num);
            let macd = r.macd.map_or_else(
                || "—".to_owned(),
                |m| format!("{} {}", crate::agents::rules::fmt_num(m.hist), if m.hist > 0.0 { "▲" } else { "▼" }),
            );
            let _ = writeln!(
                s,
                "{:<12} {:<4} {:>12} {} {:<5} {:>12} {} {} {}  {}",
                r.symbol.as_str(),
                r.timeframe.as_str(),
                close,
                r.change_pct.map_or_else(|| format!("{:>7}", "—"), |c| format!("{c:>+7.2}")),
                r.trend.map_or("—", EmaTrend::as_str),
                macd,
                num(r.rsi14, 6, 1),
                num(r.bb_position, 6, 2),
                num(r.atr_pct, 6, 3),
                r.signals.join(", ")
            );
        }
        if self.signals.is_empty() {
            let _ = writeln!(s, "\nno strategy signals an entry now");
        } else {
            let _ = writeln!(s, "\nsignals:");
            for g in &self.signals {
                let _ = writeln!(
                    s,
                    "  {} ({}) {} {} {}: {}",
                    g.agent, g.kind, g.symbol, g.timeframe, g.direction, g.reasoning
                );
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        s
    }
}

/// Market views fed from market events, for scans outside the engine (CLI, tests).
pub struct ScanBoard {
    pub markets: Vec<MarketView>,
    input: CandleInput,
    /// Events the candle builder refused (out of order, malformed).
    pub rejected: u64,
}

impl ScanBoard {
    pub fn new(instruments: Vec<crate::domain::Instrument>, history: usize, input: CandleInput) -> Self {
        Self { markets: instruments.into_iter().map(|i| MarketView::new(i, history)).collect(), input, rejected: 0 }
    }

    /// Applies one event: bars and trades build candles (as configured), quotes and marks
    /// update prices; events for unknown symbols are ignored.
    pub fn apply(&mut self, ev: &MarketEvent) {
        let Some(m) = self.markets.iter_mut().find(|m| m.symbol() == ev.symbol) else { return };
        let f = crate::analytics::decimal_to_f64;
        let ok = match &ev.data {
            MarketData::Bar(b) if self.input == CandleInput::Bars => {
                let c = Candle {
                    open_ms: b.open_ms,
                    open: f(b.open),
                    high: f(b.high),
                    low: f(b.low),
                    close: f(b.close),
                    volume: f(b.volume),
                    closed: true,
                };
                m.last = Some(b.close);
                m.series.on_bar(&c).is_ok()
            }
            MarketData::Trade { price, qty, .. } => {
                m.last = Some(*price);
                self.input != CandleInput::Trades || m.series.on_trade(ev.ts_ms, f(*price), f(*qty)).is_ok()
            }
            MarketData::Quote { bid, ask, .. } => {
                m.bid = Some(*bid);
                m.ask = Some(*ask);
                true
            }
            MarketData::Mark { mark, .. } => {
                m.mark = Some(*mark);
                true
            }
            _ => true,
        };
        if !ok {
            self.rejected += 1;
        }
        m.last_event_ms = Some(ev.ts_ms);
    }

    /// Closes trade-built candles whose time has ended (bars need nothing).
    pub fn close_until(&mut self, now_ms: i64) {
        for m in &mut self.markets {
            m.series.on_time(now_ms);
        }
    }
}
