//! The pre-trade risk gate. Every order — from an agent, the keyboard or the CLI — passes
//! [`RiskGate::check`]; only a [`RiskApproved`] order can reach execution, and the type system
//! enforces it: `RiskApproved` can only be built inside this module.

mod gate;

pub use gate::{RiskGate, RiskLimits, RiskView};

use serde::{Deserialize, Serialize};

use crate::domain::OrderRequest;

/// An order that passed the risk gate. The field is private to this module, so code elsewhere
/// cannot fabricate approval.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskApproved<T>(T);

impl<T> RiskApproved<T> {
    pub fn inner(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }

    /// Crate-internal: only the gate (this module tree) approves.
    pub(in crate::risk) fn approve(value: T) -> Self {
        Self(value)
    }
}

/// Why the gate refused an order: a stable machine code plus a message for humans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct RiskRefused {
    pub code: RefusalCode,
    pub message: String,
    pub request: Box<OrderRequest>,
}

/// Stable reason codes for refusals (stored in the ledger, counted in reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    UnknownSymbol,
    UnknownAccount,
    InvalidQuantity,
    InvalidPrice,
    NoMarketPrice,
    BelowMinNotional,
    LeverageAboveMax,
    InsufficientMargin,
    ReduceOnlyWouldIncrease,
    ShortNotAllowed,
    /// The agent or the arena is not allowed to open risk right now (paused, halted, reducing).
    TradingState,
}

impl RefusalCode {
    pub const ALL: [RefusalCode; 11] = [
        RefusalCode::UnknownSymbol,
        RefusalCode::UnknownAccount,
        RefusalCode::InvalidQuantity,
        RefusalCode::InvalidPrice,
        RefusalCode::NoMarketPrice,
        RefusalCode::BelowMinNotional,
        RefusalCode::LeverageAboveMax,
        RefusalCode::InsufficientMargin,
        RefusalCode::ReduceOnlyWouldIncrease,
        RefusalCode::ShortNotAllowed,
        RefusalCode::TradingState,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::UnknownSymbol => "unknown_symbol",
            RefusalCode::UnknownAccount => "unknown_account",
            RefusalCode::InvalidQuantity => "invalid_quantity",
            RefusalCode::InvalidPrice => "invalid_price",
            RefusalCode::NoMarketPrice => "no_market_price",
            RefusalCode::BelowMinNotional => "below_min_notional",
            RefusalCode::LeverageAboveMax => "leverage_above_max",
            RefusalCode::InsufficientMargin => "insufficient_margin",
            RefusalCode::ReduceOnlyWouldIncrease => "reduce_only_would_increase",
            RefusalCode::ShortNotAllowed => "short_not_allowed",
            RefusalCode::TradingState => "trading_state",
        }
    }
}

impl std::fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an agent (or the arena) may open risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TradingState {
    /// Entries and exits allowed.
    #[default]
    Active,
    /// Only orders that reduce exposure.
    Reducing,
    /// Only cancels.
    Halted,
}

impl TradingState {
    pub fn as_str(self) -> &'static str {
        match self {
            TradingState::Active => "ACTIVE",
            TradingState::Reducing => "REDUCING",
            TradingState::Halted => "HALTED",
        }
    }

    /// The stricter of two states.
    pub fn max(self, other: TradingState) -> TradingState {
        fn rank(s: TradingState) -> u8 {
            match s {
                TradingState::Active => 0,
                TradingState::Reducing => 1,
                TradingState::Halted => 2,
            }
        }
        if rank(other) > rank(self) { other } else { self }
    }
}
