//! Tradable instruments and the venue rules that apply to them (tick, lot, notional, leverage,
//! fees, funding). Spot and linear (quote-margined) perpetuals are supported.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::name::name_type;
use super::{Price, Qty};

name_type!(
    /// A venue symbol such as `BTCUSDT`.
    Symbol
);

/// What kind of contract an instrument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstrumentKind {
    /// Cash market: no leverage, no shorting, no funding.
    Spot,
    /// Linear perpetual swap margined and settled in the quote asset.
    Perpetual,
}

/// One tradable instrument with its venue filters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instrument {
    pub symbol: Symbol,
    /// Base asset, e.g. `BTC` — the "coin" agents talk about.
    pub base: String,
    /// Quote/settlement asset, e.g. `USDT`.
    pub quote: String,
    pub kind: InstrumentKind,
    /// Price increment.
    pub tick_size: Price,
    /// Quantity increment.
    pub lot_size: Qty,
    /// Smallest accepted order notional (price × quantity) in the quote asset.
    pub min_notional: Decimal,
    /// Largest leverage the venue allows (1 for spot).
    pub max_leverage: Decimal,
    /// Fee rate for liquidity-adding fills, e.g. 0.0002 = 2 bp.
    pub maker_fee: Decimal,
    /// Fee rate for liquidity-taking fills.
    pub taker_fee: Decimal,
    /// Maintenance margin rate used for liquidation (perpetuals).
    pub maintenance_margin_rate: Decimal,
    /// Funding interval in milliseconds (perpetuals; Binance and most venues: 8 h).
    pub funding_interval_ms: i64,
}

impl Instrument {
    pub fn is_perp(&self) -> bool {
        self.kind == InstrumentKind::Perpetual
    }

    /// Rounds a price to the tick grid (nearest, ties away from zero).
    pub fn round_price(&self, price: Price) -> Price {
        round_to_step(price, self.tick_size, RoundingStrategy::MidpointAwayFromZero)
    }

    /// Rounds a quantity *down* to the lot grid, so rounding never increases size past a cap.
    pub fn floor_qty(&self, qty: Qty) -> Qty {
        round_to_step(qty, self.lot_size, RoundingStrategy::ToZero)
    }

    /// True when `price` lies on the tick grid.
    pub fn on_tick(&self, price: Price) -> bool {
        self.tick_size.is_zero() || (price % self.tick_size).is_zero()
    }

    /// True when `qty` lies on the lot grid.
    pub fn on_lot(&self, qty: Qty) -> bool {
        self.lot_size.is_zero() || (qty % self.lot_size).is_zero()
    }

    /// A perpetual with Binance USDⓈ-M-like default rules, for the built-in markets and tests.
    pub fn perp(symbol: Symbol, base: &str, tick: Price, lot: Qty, max_leverage: u32) -> Self {
        Self {
            symbol,
            base: base.to_owned(),
            quote: "USDT".to_owned(),
            kind: InstrumentKind::Perpetual,
            tick_size: tick,
            lot_size: lot,
            min_notional: Decimal::from(5),
            max_leverage: Decimal::from(max_leverage),
            maker_fee: Decimal::new(2, 4),
            taker_fee: Decimal::new(5, 4),
            maintenance_margin_rate: Decimal::new(5, 3),
            funding_interval_ms: 8 * 3_600_000,
        }
    }
}

/// Rounds `value` to a multiple of `step` with the given strategy; a zero step leaves it as is.
///
/// Values too large to divide by the step (absurd, untrusted input) are returned unchanged:
/// callers validate magnitudes, and rounding must never panic or grow a size.
pub fn round_to_step(value: Decimal, step: Decimal, strategy: RoundingStrategy) -> Decimal {
    if step.is_zero() {
        return value;
    }
    let Some(units) = value.checked_div(step) else { return value };
    let units = units.round_dp_with_strategy(0, strategy);
    units.checked_mul(step).map_or(value, |v| v.normalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn rounding_respects_the_grid_and_never_grows_quantity() {
        let btc = Instrument::perp(Symbol::new("BTCUSDT").unwrap(), "BTC", dec!(0.1), dec!(0.001), 125);
        assert_eq!(btc.round_price(dec!(63201.06)), dec!(63201.1));
        assert_eq!(btc.round_price(dec!(63201.04)), dec!(63201.0));
        assert_eq!(btc.floor_qty(dec!(0.0129)), dec!(0.012));
        assert_eq!(btc.floor_qty(dec!(0.0009)), dec!(0));
        assert!(btc.on_tick(dec!(100.3)));
        assert!(!btc.on_tick(dec!(100.35)));
        assert!(btc.on_lot(dec!(1.234)));
        assert!(!btc.on_lot(dec!(1.2345)));
        assert_eq!(btc.floor_qty(Decimal::MAX), Decimal::MAX, "absurd values pass through unchanged, no panic");
    }
}
