//! Domain types: instruments, orders, fills, positions, accounts, candles and market events.
//!
//! Every amount of money, price and quantity is a [`rust_decimal::Decimal`]; `f64` appears only
//! in [`Candle`] (indicator input) and never in balances.

pub mod account;
pub mod candle;
pub mod fill;
pub mod instrument;
pub mod market;
pub mod name;
pub mod order;
pub mod position;

pub use account::{Account, Marks};
pub use candle::{Candle, Timeframe};
pub use fill::{Fill, Liquidity};
pub use instrument::{Instrument, InstrumentKind, Symbol, round_to_step};
pub use market::{Bar, MarketData, MarketEvent};
pub use name::{Name, NameError};
pub use order::{Order, OrderId, OrderKind, OrderPurpose, OrderRequest, OrderStatus, Side};
pub use position::{ClosedTrade, FillEffect, Position};

/// A price in the quote asset.
pub type Price = rust_decimal::Decimal;
/// A quantity in the base asset.
pub type Qty = rust_decimal::Decimal;

name::name_type!(
    /// The name of an agent, which is also the name of its account.
    AgentId
);
