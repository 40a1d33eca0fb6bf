//! The pre-trade risk gate. Every order — from an agent, the keyboard or the CLI — passes
//! [`RiskGate::check`]; only a [`RiskApproved`] order can reach execution, and the type system
//! enforces it: `RiskApproved` can only be built inside this module.

mod gate;
pub mod limits;

pub use gate::{RiskContext, RiskGate, RiskView};
pub use limits::{ArenaLimits, RiskLimits};

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
    /// The symbol is not a configured instrument.
    UnknownSymbol,
    /// The agent has no account.
    UnknownAccount,
    /// Quantity not positive, below one lot, or out of range.
    InvalidQuantity,
    /// A price is not positive or a stop/target is on the wrong side.
    InvalidPrice,
    /// No price for the symbol yet.
    NoMarketPrice,
    /// Below the venue's minimum order notional.
    BelowMinNotional,
    /// Leverage above the (volatility-scaled) cap.
    LeverageAboveMax,
    /// Not enough available margin (or no equity).
    InsufficientMargin,
    /// A reduce-only order would add to or flip the position.
    ReduceOnlyWouldIncrease,
    /// Selling spot without holdings.
    ShortNotAllowed,
    /// The agent or the arena is not allowed to open risk (reduce-only, halted, kill switch).
    TradingState,
    /// An entry while a position in the symbol is open.
    PositionExists,
    /// An entry without a stop-loss.
    MissingStopLoss,
    /// The loss at the stop exceeds the per-trade limit.
    RiskPerTrade,
    /// Reward/risk below the configured minimum.
    RewardRisk,
    /// A limit, trigger, stop or target price too far from the mark.
    PriceBand,
    /// Position notional above the per-symbol limit.
    PositionLimit,
    /// Position notional above the per-symbol share of equity.
    AllocationLimit,
    /// Too many open positions.
    MaxOpenPositions,
    /// Gross exposure above its limit.
    GrossExposure,
    /// Net exposure above its limit.
    NetExposure,
    /// Arena-wide gross or per-symbol exposure above its limit.
    ArenaExposure,
    /// Too many orders in the last minute.
    RateLimited,
    /// Re-entry too soon after a stop-out.
    Cooldown,
    /// Reversal too soon after closing (flip-flop guard).
    Reversal,
}

impl RefusalCode {
    pub const ALL: [RefusalCode; 25] = [
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
        RefusalCode::PositionExists,
        RefusalCode::MissingStopLoss,
        RefusalCode::RiskPerTrade,
        RefusalCode::RewardRisk,
        RefusalCode::PriceBand,
        RefusalCode::PositionLimit,
        RefusalCode::AllocationLimit,
        RefusalCode::MaxOpenPositions,
        RefusalCode::GrossExposure,
        RefusalCode::NetExposure,
        RefusalCode::ArenaExposure,
        RefusalCode::RateLimited,
        RefusalCode::Cooldown,
        RefusalCode::Reversal,
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
            RefusalCode::PositionExists => "position_exists",
            RefusalCode::MissingStopLoss => "missing_stop_loss",
            RefusalCode::RiskPerTrade => "risk_per_trade",
            RefusalCode::RewardRisk => "reward_risk",
            RefusalCode::PriceBand => "price_band",
            RefusalCode::PositionLimit => "position_limit",
            RefusalCode::AllocationLimit => "allocation_limit",
            RefusalCode::MaxOpenPositions => "max_open_positions",
            RefusalCode::GrossExposure => "gross_exposure",
            RefusalCode::NetExposure => "net_exposure",
            RefusalCode::ArenaExposure => "arena_exposure",
            RefusalCode::RateLimited => "rate_limited",
            RefusalCode::Cooldown => "cooldown",
            RefusalCode::Reversal => "reversal",
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
