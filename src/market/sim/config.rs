//! Configuration of the synthetic market and its validation.
//!
//! Validation is the only gate between user input and the dynamics: once a [`SimConfig`] has
//! passed [`validate`], every number the model derives from it is finite and every price and
//! quantity it can produce fits the instrument's grid without overflow. A bad config is a
//! [`SimError`] naming the offending field, never a panic.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::domain::{Instrument, Symbol};

/// What one [`super::SimMarket::step`] produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimMode {
    /// Quotes, trade prints and per-minute marks, advancing `step_ms` per step (live view).
    Ticks,
    /// One closed 1-minute bar and one mark per symbol per step (backtests).
    Bars,
}

/// One simulated instrument and the parameters of its price, spread and volume processes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimSymbol {
    pub instrument: Instrument,
    /// First price; rounded to the tick grid.
    pub start_price: Decimal,
    /// Long-run annualised volatility of log returns (0.5 = 50 %).
    pub annual_vol: f64,
    /// Regression beta of the symbol's log returns on the common crypto factor, whose own
    /// annual volatility is 45 %. The factor's share of the symbol's variance is capped at 95 %
    /// so that `annual_vol` is always honoured; the rest is idiosyncratic.
    pub beta: f64,
    /// Quoted bid–ask spread in basis points of the mid in calm markets (at least one tick).
    pub spread_bps: f64,
    /// Average traded volume per minute, in base units.
    pub volume_per_min: f64,
}

/// The whole synthetic market: seed, clock, output mode and symbols.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    pub seed: u64,
    /// Epoch milliseconds UTC; the simulation starts at the next whole minute.
    pub start_ms: i64,
    /// Clock advance per step in [`SimMode::Ticks`] (10 ms ..= 60 s). Validated in both modes so
    /// that a config stays valid when the mode is switched.
    pub step_ms: i64,
    pub mode: SimMode,
    pub symbols: Vec<SimSymbol>,
}

impl SimConfig {
    /// BTCUSDT, ETHUSDT and SOLUSDT perpetuals with realistic parameters.
    pub fn default_markets(seed: u64, start_ms: i64, mode: SimMode) -> Self {
        // (symbol, base, tick, lot, leverage, price, vol, beta, spread bps, volume per minute)
        let specs = [
            (
                "BTCUSDT",
                "BTC",
                Decimal::new(1, 1),
                Decimal::new(1, 3),
                125,
                Decimal::from(60_000),
                0.50,
                1.00,
                0.1,
                150.0,
            ),
            (
                "ETHUSDT",
                "ETH",
                Decimal::new(1, 2),
                Decimal::new(1, 2),
                100,
                Decimal::from(3_000),
                0.65,
                1.25,
                0.2,
                2_000.0,
            ),
            (
                "SOLUSDT",
                "SOL",
                Decimal::new(1, 2),
                Decimal::new(1, 1),
                50,
                Decimal::from(150),
                0.85,
                1.50,
                0.5,
                20_000.0,
            ),
        ];
        let symbols = specs
            .into_iter()
            // The literals above are valid identifiers; `filter_map` only avoids an `unwrap`.
            .filter_map(|(name, base, tick, lot, lev, price, vol, beta, spread, volume)| {
                let symbol = Symbol::new(name).ok()?;
                Some(SimSymbol {
                    instrument: Instrument::perp(symbol, base, tick, lot, lev),
                    start_price: price,
                    annual_vol: vol,
                    beta,
                    spread_bps: spread,
                    volume_per_min: volume,
                })
            })
            .collect();
        Self { seed, start_ms, step_ms: 1_000, mode, symbols }
    }
}

/// Why a [`SimConfig`] cannot be simulated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// A field is out of range; `field` is its path in the config, e.g. `symbols[1].annual_vol`.
    #[error("invalid sim config: `{field}` {reason}")]
    InvalidConfig { field: String, reason: String },
    /// Two entries of `symbols` share a symbol.
    #[error("invalid sim config: `symbols[{index}].instrument.symbol` repeats `{symbol}`")]
    DuplicateSymbol { index: usize, symbol: Symbol },
}

impl SimError {
    fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SimError::InvalidConfig { field: field.into(), reason: reason.into() }
    }
}

/// Shortest and longest clock step in ticks mode.
pub const MIN_STEP_MS: i64 = 10;
pub const MAX_STEP_MS: i64 = 60_000;
/// Latest accepted start (9999-12-31T23:59:59.999Z): keeps all clock arithmetic far from overflow.
pub const MAX_START_MS: i64 = 253_402_300_799_999;
/// Largest accepted `|beta|`.
pub const MAX_ABS_BETA: f64 = 3.0;
/// Smallest accepted `annual_vol` (0.1 %): below it the per-minute scales underflow usefulness.
pub const MIN_ANNUAL_VOL: f64 = 0.001;
/// Largest accepted `annual_vol` (500 %).
pub const MAX_ANNUAL_VOL: f64 = 5.0;
/// Largest accepted `spread_bps` (10 %).
pub const MAX_SPREAD_BPS: f64 = 1_000.0;
/// A start price must span at least this many ticks, so that rounding does not dominate the
/// path, and at most [`MAX_GRID_UNITS`], so that every price fits an `i64` count of ticks
/// with room for the model's widest excursion.
pub const MIN_PRICE_TICKS: f64 = 100.0;
pub const MAX_GRID_UNITS: f64 = 1e12;
/// Ticks and lots must be "round" numbers (at most this many significant digits), which keeps
/// `units × step` exactly representable as a `Decimal`.
const MAX_STEP_MANTISSA: i128 = 1_000_000;
const DAY_MS: i64 = 86_400_000;

/// Checks every field; the first problem found is returned.
pub fn validate(cfg: &SimConfig) -> Result<(), SimError> {
    if !(0..=MAX_START_MS).contains(&cfg.start_ms) {
        return Err(SimError::invalid(
            "start_ms",
            format!("must be an epoch-millisecond time in 0..={MAX_START_MS}, got {}", cfg.start_ms),
        ));
    }
    if !(MIN_STEP_MS..=MAX_STEP_MS).contains(&cfg.step_ms) {
        return Err(SimError::invalid(
            "step_ms",
            format!("must be between {MIN_STEP_MS} and {MAX_STEP_MS} ms, got {}", cfg.step_ms),
        ));
    }
    if cfg.symbols.is_empty() {
        return Err(SimError::invalid("symbols", "must list at least one symbol"));
    }
    let mut seen = BTreeSet::new();
    for (i, s) in cfg.symbols.iter().enumerate() {
        if !seen.insert(s.instrument.symbol) {
            return Err(SimError::DuplicateSymbol { index: i, symbol: s.instrument.symbol });
        }
        validate_symbol(i, s)?;
    }
    Ok(())
}

fn validate_symbol(i: usize, s: &SimSymbol) -> Result<(), SimError> {
    let field = |name: &str| format!("symbols[{i}].{name}");
    let inst = &s.instrument;
    check_step(&field("instrument.tick_size"), inst.tick_size)?;
    check_step(&field("instrument.lot_size"), inst.lot_size)?;
    if inst.is_perp() && (inst.funding_interval_ms <= 0 || DAY_MS % inst.funding_interval_ms != 0) {
        return Err(SimError::invalid(
            field("instrument.funding_interval_ms"),
            format!("must be positive and divide a day (e.g. 28800000 for 8 h), got {}", inst.funding_interval_ms),
        ));
    }
    if s.start_price <= Decimal::ZERO {
        return Err(SimError::invalid(field("start_price"), format!("must be positive, got {}", s.start_price)));
    }
    let ticks = s.start_price.checked_div(inst.tick_size).and_then(|t| t.to_f64()).unwrap_or(f64::INFINITY);
    if !(MIN_PRICE_TICKS..=MAX_GRID_UNITS).contains(&ticks) {
        return Err(SimError::invalid(
            field("start_price"),
            format!(
                "must span between {MIN_PRICE_TICKS} and {MAX_GRID_UNITS} ticks of {}, got {} \
                 ({ticks:.3e} ticks)",
                inst.tick_size, s.start_price
            ),
        ));
    }
    check_range(
        &field("annual_vol"),
        s.annual_vol,
        MIN_ANNUAL_VOL,
        MAX_ANNUAL_VOL,
        "an annualised volatility (0.5 = 50 %)",
    )?;
    check_range(&field("beta"), s.beta, -MAX_ABS_BETA, MAX_ABS_BETA, "a beta to the common crypto factor")?;
    check_range(&field("spread_bps"), s.spread_bps, 0.0, MAX_SPREAD_BPS, "a spread in basis points")?;
    if !s.volume_per_min.is_finite() || s.volume_per_min <= 0.0 {
        return Err(SimError::invalid(
            field("volume_per_min"),
            format!("must be a positive number, got {}", s.volume_per_min),
        ));
    }
    let lots = s.volume_per_min / inst.lot_size.to_f64().unwrap_or(f64::NAN);
    if !(1.0..=MAX_GRID_UNITS).contains(&lots) {
        return Err(SimError::invalid(
            field("volume_per_min"),
            format!("must be between 1 and {MAX_GRID_UNITS} lots of {}, got {}", inst.lot_size, s.volume_per_min),
        ));
    }
    Ok(())
}

fn check_step(field: &str, step: Decimal) -> Result<(), SimError> {
    if step <= Decimal::ZERO {
        return Err(SimError::invalid(field, format!("must be positive, got {step}")));
    }
    if step.normalize().mantissa() > MAX_STEP_MANTISSA {
        return Err(SimError::invalid(field, format!("must have at most 6 significant digits, got {step}")));
    }
    Ok(())
}

fn check_range(field: &str, v: f64, lo: f64, hi: f64, what: &str) -> Result<(), SimError> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(SimError::invalid(field, format!("must be {what} in [{lo}, {hi}], got {v}")))
    }
}
