//! Orders: what an agent or the operator asks for ([`OrderRequest`]) and what the venue holds
//! ([`Order`], with its lifecycle [`OrderStatus`]).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{AgentId, Price, Qty, Symbol};

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    /// +1 for buys, −1 for sells: the sign of the position change.
    pub fn sign(self) -> Decimal {
        match self {
            Side::Buy => Decimal::ONE,
            Side::Sell => Decimal::NEGATIVE_ONE,
        }
    }

    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// Engine-assigned order id, unique within a run; also the client order id sent to venues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(pub u64);

impl std::fmt::Display for OrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The execution style of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderKind {
    /// Fill now at the best available price (taker).
    Market,
    /// Rest at `price`; fill when the market trades through it (maker), or at once if marketable.
    Limit { price: Price },
    /// Becomes a market order when the price reaches `trigger` against the position (stop-loss).
    StopMarket { trigger: Price },
    /// Becomes a market order when the price reaches `trigger` in favour (take-profit).
    TakeProfitMarket { trigger: Price },
}

impl OrderKind {
    pub fn name(&self) -> &'static str {
        match self {
            OrderKind::Market => "market",
            OrderKind::Limit { .. } => "limit",
            OrderKind::StopMarket { .. } => "stop_market",
            OrderKind::TakeProfitMarket { .. } => "take_profit_market",
        }
    }

    /// The limit or trigger price, if the order has one.
    pub fn price(&self) -> Option<Price> {
        match *self {
            OrderKind::Market => None,
            OrderKind::Limit { price } => Some(price),
            OrderKind::StopMarket { trigger } | OrderKind::TakeProfitMarket { trigger } => Some(trigger),
        }
    }
}

/// Why an order exists; drives what the engine does when it fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderPurpose {
    /// Opens or adds to a position.
    Entry,
    /// Closes (part of) a position on an agent's decision.
    Exit,
    /// Protective stop-loss attached to a position.
    StopLoss,
    /// Take-profit attached to a position.
    TakeProfit,
    /// Operator flatten or kill switch.
    Flatten,
}

impl OrderPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderPurpose::Entry => "entry",
            OrderPurpose::Exit => "exit",
            OrderPurpose::StopLoss => "stop_loss",
            OrderPurpose::TakeProfit => "take_profit",
            OrderPurpose::Flatten => "flatten",
        }
    }
}

/// A request to trade, before the risk gate. Execution only accepts it wrapped in
/// [`crate::risk::RiskApproved`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub id: OrderId,
    pub agent: AgentId,
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Qty,
    pub kind: OrderKind,
    pub reduce_only: bool,
    /// Leverage the position may use (1 for spot).
    pub leverage: Decimal,
    pub purpose: OrderPurpose,
    /// For entries: the stop-loss and take-profit the position will carry (judged by the gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss: Option<Price>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_profit: Option<Price>,
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted by the venue and resting (limit, or untriggered stop/take-profit).
    Open,
    PartiallyFilled,
    Filled,
    Cancelled,
    Rejected,
}

impl OrderStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Rejected => "rejected",
        }
    }
}

/// An order as the venue holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub request: OrderRequest,
    pub status: OrderStatus,
    pub filled_qty: Qty,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl Order {
    pub fn remaining(&self) -> Qty {
        self.request.qty - self.filled_qty
    }
}
