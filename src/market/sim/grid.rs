//! Exact conversion from simulated `f64` levels to `Decimal`s on an instrument's grid.
//!
//! A grid value is an integer count of steps; the `Decimal` is built directly from
//! `units × mantissa` and the step's scale, so it lies on the grid by construction and costs
//! no decimal division (this is the bars hot path). `round_price`/`floor_qty` would give the
//! same values up to the representation of trailing zeros.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// A tick or lot grid.
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    inv: f64,
    mantissa: i128,
    scale: u32,
}

impl Grid {
    /// `step` must be positive with a small normalized mantissa (checked by config validation).
    pub fn new(step: Decimal) -> Self {
        let step = step.normalize();
        let f = step.to_f64().unwrap_or(1.0);
        Self { inv: if f > 0.0 { 1.0 / f } else { 1.0 }, mantissa: step.mantissa(), scale: step.scale() }
    }

    /// Nearest number of steps to `v` (ties away from zero, as `Instrument::round_price`).
    #[inline]
    pub fn round(&self, v: f64) -> i64 {
        // `as` saturates on overflow and maps NaN to 0, so this never panics.
        (v * self.inv).round() as i64
    }

    #[inline]
    pub fn floor(&self, v: f64) -> i64 {
        (v * self.inv).floor() as i64
    }

    #[inline]
    pub fn ceil(&self, v: f64) -> i64 {
        (v * self.inv).ceil() as i64
    }

    /// The `Decimal` of `units` steps.
    #[inline]
    pub fn dec(&self, units: i64) -> Decimal {
        i128::from(units)
            .checked_mul(self.mantissa)
            .and_then(|m| Decimal::try_from_i128_with_scale(m, self.scale).ok())
            // Unreachable after validation (units ≤ ~1e17, mantissa ≤ 1e6, far below 2^96);
            // saturate rather than panic should that ever change.
            .unwrap_or(Decimal::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn decimals_are_exact_multiples_of_the_step() {
        let g = Grid::new(dec!(0.10));
        assert_eq!(g.round(63_201.06), 632_011);
        assert_eq!(g.dec(632_011), dec!(63201.1));
        let g = Grid::new(dec!(0.25));
        assert_eq!(g.dec(g.round(1.13)), dec!(1.25));
        assert_eq!(g.dec(g.floor(1.13)), dec!(1.0));
        assert_eq!(g.dec(g.ceil(1.01)), dec!(1.25));
        let g = Grid::new(dec!(5));
        assert_eq!(g.dec(3), dec!(15));
    }
}
