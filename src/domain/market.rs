//! Market data events as every source (sim, replay, live venues) delivers them to the engine.
//! Prices are exact decimals, as venues publish them; indicators convert to `f64` themselves.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Price, Qty, Side, Symbol};

/// One market data event for one symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketEvent {
    /// Exchange event time, epoch milliseconds UTC.
    pub ts_ms: i64,
    pub symbol: Symbol,
    pub data: MarketData,
}

/// The payload of a [`MarketEvent`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MarketData {
    /// A trade print. `aggressor` is the taker side.
    Trade { price: Price, qty: Qty, aggressor: Side, trade_id: u64 },
    /// Best bid and offer.
    Quote { bid: Price, ask: Price, bid_qty: Qty, ask_qty: Qty },
    /// A closed 1-minute candle (klines from venues and files).
    Bar(Bar),
    /// Mark price and funding for perpetuals.
    Mark { mark: Price, funding_rate: Option<Decimal>, next_funding_ms: Option<i64> },
    /// Open interest in base units.
    OpenInterest { qty: Qty },
    /// Ratio of long to short accounts (Binance `globalLongShortAccountRatio`).
    LongShortRatio { ratio: Decimal },
}

/// A closed exchange candle with exact prices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub open_ms: i64,
    /// Interval length; the engine aggregates from 1-minute bars.
    pub interval_ms: i64,
    pub open: Price,
    pub high: Price,
    pub low: Price,
    pub close: Price,
    pub volume: Qty,
}

impl MarketData {
    pub fn kind(&self) -> &'static str {
        match self {
            MarketData::Trade { .. } => "trade",
            MarketData::Quote { .. } => "quote",
            MarketData::Bar(_) => "bar",
            MarketData::Mark { .. } => "mark",
            MarketData::OpenInterest { .. } => "open_interest",
            MarketData::LongShortRatio { .. } => "long_short_ratio",
        }
    }
}
