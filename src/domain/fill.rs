//! Fills: the only thing that changes a position.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{AgentId, OrderId, OrderPurpose, Price, Qty, Side, Symbol};

/// Whether a fill added or took liquidity; decides the fee rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liquidity {
    Maker,
    Taker,
}

/// One execution. Fills are unique on (venue, `trade_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    /// Venue name, e.g. `paper`.
    pub venue: String,
    /// Venue trade id, unique per venue.
    pub trade_id: u64,
    pub order_id: OrderId,
    pub agent: AgentId,
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Qty,
    pub price: Price,
    /// Fee charged, in the quote asset (always ≥ 0 here; rebates would be negative).
    pub fee: Decimal,
    pub liquidity: Liquidity,
    pub purpose: OrderPurpose,
    /// True for fills forced by the venue's liquidation engine.
    pub liquidation: bool,
    pub ts_ms: i64,
}

impl Fill {
    /// Signed quantity: positive for buys.
    pub fn signed_qty(&self) -> Qty {
        self.side.sign() * self.qty
    }

    pub fn notional(&self) -> Decimal {
        self.qty * self.price
    }
}
