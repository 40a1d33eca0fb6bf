//! The strategy library: rule agents, one file each, plus the sizing arithmetic they share.

pub mod random;
pub mod trend;

use rust_decimal::Decimal;

use crate::domain::{Instrument, Price, Qty};

/// Quantity that loses `risk` (quote asset) if the price moves from `entry` to `stop`, capped so
/// the notional stays within `max_notional`, floored to the lot grid. Zero when nothing fits.
pub fn risk_sized_qty(risk: Decimal, entry: Price, stop: Price, max_notional: Decimal, instrument: &Instrument) -> Qty {
    let distance = (entry - stop).abs();
    if distance.is_zero() || entry <= Decimal::ZERO || risk <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    let by_risk = risk / distance;
    let by_notional = (max_notional / entry).max(Decimal::ZERO);
    instrument.floor_qty(by_risk.min(by_notional))
}

/// Formats an indicator value for explanations with a precision suited to its magnitude.
pub fn fmt_num(x: f64) -> String {
    let a = x.abs();
    if a >= 1000.0 {
        format!("{x:.1}")
    } else if a >= 10.0 {
        format!("{x:.2}")
    } else if a >= 0.1 {
        format!("{x:.3}")
    } else {
        format!("{x:.5}")
    }
}

/// Converts an `f64` price (from indicators) to a decimal on the instrument's tick grid.
pub fn price_from_f64(x: f64, instrument: &Instrument) -> Option<Price> {
    if !x.is_finite() || x <= 0.0 {
        return None;
    }
    let d = Decimal::from_f64_retain(x)?;
    let p = instrument.round_price(d);
    (p > Decimal::ZERO).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Symbol;
    use rust_decimal::dec;

    #[test]
    fn sizing_by_risk_and_by_notional_cap() {
        let inst = Instrument::perp(Symbol::new("BTCUSDT").unwrap(), "BTC", dec!(0.1), dec!(0.001), 50);
        // $100 risk over a $500 stop distance = 0.2 BTC.
        assert_eq!(risk_sized_qty(dec!(100), dec!(60000), dec!(59500), dec!(1000000), &inst), dec!(0.2));
        // Capped by notional: 6000 / 60000 = 0.1.
        assert_eq!(risk_sized_qty(dec!(100), dec!(60000), dec!(59500), dec!(6000), &inst), dec!(0.1));
        assert_eq!(risk_sized_qty(dec!(100), dec!(60000), dec!(60000), dec!(6000), &inst), dec!(0));
    }
}
