//! Execution: where approved orders go and where fills come from.
//!
//! An [`ExecutionClient`] accepts only [`RiskApproved`] orders and reports everything that
//! happens to them as [`ExecEvent`]s. The paper exchange ([`paper`]) is a venue simulator that
//! runs in-process and synchronously, so backtests stay deterministic; live venues implement the
//! same trait and deliver their events later through the engine's channel.

pub mod paper;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{Account, AgentId, Fill, MarketEvent, Order, OrderId, OrderRequest, OrderStatus, Price, Symbol};
use crate::risk::RiskApproved;

/// What a venue reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExecEvent {
    /// The venue accepted the order (it may fill at once; a `Filled` follows then).
    Accepted { order: Order },
    /// The venue refused the order.
    Rejected { order: Order, reason: String },
    /// A (partial) execution; `status` is the order's status after it.
    Filled { fill: Fill, leverage: Decimal, status: OrderStatus },
    /// A resting order was removed.
    Cancelled { order_id: OrderId, agent: AgentId, symbol: Symbol, reason: String, ts_ms: i64 },
    /// A stop or take-profit reached its trigger and became a market order.
    Triggered { order_id: OrderId, agent: AgentId, symbol: Symbol, price: Price, ts_ms: i64 },
    /// A funding payment: positive `amount` is received by the account.
    Funding { agent: AgentId, symbol: Symbol, rate: Decimal, mark: Price, amount: Decimal, ts_ms: i64 },
}

impl ExecEvent {
    pub fn agent(&self) -> AgentId {
        match self {
            ExecEvent::Accepted { order } | ExecEvent::Rejected { order, .. } => order.request.agent,
            ExecEvent::Filled { fill, .. } => fill.agent,
            ExecEvent::Cancelled { agent, .. }
            | ExecEvent::Triggered { agent, .. }
            | ExecEvent::Funding { agent, .. } => *agent,
        }
    }
}

/// A venue connection (paper or real).
pub trait ExecutionClient: Send {
    /// Venue name stored with every fill (`paper`, `binance`, ...).
    fn venue(&self) -> &str;
    /// Opens a (sub-)account for `agent` with `balance` in the quote asset.
    fn open_account(&mut self, agent: AgentId, balance: Decimal);
    /// Places an approved order. Events are appended to `out` (or delivered later by live venues).
    fn submit(&mut self, order: RiskApproved<OrderRequest>, now_ms: i64, out: &mut Vec<ExecEvent>);
    /// Cancels a resting order; unknown ids are ignored (they may have filled meanwhile).
    fn cancel(&mut self, agent: AgentId, order_id: OrderId, reason: &str, now_ms: i64, out: &mut Vec<ExecEvent>);
    /// Lets a simulated venue match resting orders against new market data.
    fn on_market(&mut self, event: &MarketEvent, out: &mut Vec<ExecEvent>);
    /// The venue's own view of an account, for reconciliation and "confirmed flat" checks.
    fn venue_account(&self, agent: AgentId) -> Option<Account>;
    /// Orders resting at the venue (all accounts).
    fn venue_open_orders(&self) -> Vec<Order>;
    /// Takes back the state of a resumed run and continues the venue's trade-id sequence (the
    /// paper venue's own books are in-process; a live venue reconciles against the exchange).
    fn restore_state(&mut self, accounts: &[Account], open_orders: &[Order], next_trade_id: u64);
    /// Moves `amount` of free cash (not backing open positions) from one account to another
    /// (capital re-weighting). Venues that cannot do it refuse, and the engine reverses it.
    fn transfer(&mut self, from: AgentId, to: AgentId, amount: Decimal, _now_ms: i64) -> Result<(), String> {
        let _ = (from, to, amount);
        Err(format!("{} cannot move capital between accounts", self.venue()))
    }
}
