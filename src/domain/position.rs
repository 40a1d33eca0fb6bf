//! Positions, kept exactly as the sum of their fills.
//!
//! A position stores its signed quantity and its signed *cost* (Σ signed qty × price of the
//! quantity still open). The average entry price is derived (`cost / qty`). When a fill reduces
//! the position, the share of cost it removes is booked as realised P&L; whatever rounding that
//! division needs (the share is rounded to 16 decimal places) stays inside the cost that remains,
//! so realised + unrealised P&L always equals the fills' cash flows plus `qty × mark` exactly.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Price, Qty, Side, Symbol};

/// Decimal places of pro-rata shares (cost removed by a partial close, fee split of a flip).
const SHARE_DP: u32 = 16;

/// An open position in one symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub symbol: Symbol,
    /// Signed size: positive long, negative short.
    pub qty: Qty,
    /// Signed cost of the open quantity (Σ signed qty × price).
    pub cost: Decimal,
    /// Leverage chosen for the position (1 for spot).
    pub leverage: Decimal,
    /// Realised P&L booked since the position was opened (before fees).
    pub realized_pnl: Decimal,
    /// Fees paid on this position's fills.
    pub fees: Decimal,
    /// Funding received (positive) or paid (negative) while open.
    pub funding: Decimal,
    /// Largest absolute size reached.
    pub max_qty: Qty,
    /// Σ qty × price of reducing fills, for the average exit price.
    pub exit_notional: Decimal,
    pub exit_qty: Qty,
    pub opened_ms: i64,
    pub updated_ms: i64,
}

/// A round trip: from flat to flat (a flip closes one trade and opens the next).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedTrade {
    pub symbol: Symbol,
    /// Direction of the position that was closed.
    pub side: Side,
    pub max_qty: Qty,
    pub entry_price: Price,
    pub exit_price: Price,
    /// Realised P&L before fees and funding.
    pub gross_pnl: Decimal,
    pub fees: Decimal,
    pub funding: Decimal,
    /// gross − fees + funding.
    pub net_pnl: Decimal,
    pub opened_ms: i64,
    pub closed_ms: i64,
}

/// What one fill did to a position.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FillEffect {
    /// Realised P&L of the reducing part of the fill (before fees).
    pub realized_pnl: Decimal,
    /// Set when the fill brought the position to flat or flipped it.
    pub closed: Option<ClosedTrade>,
}

impl Position {
    pub fn flat(symbol: Symbol, ts_ms: i64) -> Self {
        Self {
            symbol,
            qty: Decimal::ZERO,
            cost: Decimal::ZERO,
            leverage: Decimal::ONE,
            realized_pnl: Decimal::ZERO,
            fees: Decimal::ZERO,
            funding: Decimal::ZERO,
            max_qty: Decimal::ZERO,
            exit_notional: Decimal::ZERO,
            exit_qty: Decimal::ZERO,
            opened_ms: ts_ms,
            updated_ms: ts_ms,
        }
    }

    pub fn is_flat(&self) -> bool {
        self.qty.is_zero()
    }

    pub fn side(&self) -> Option<Side> {
        if self.qty > Decimal::ZERO {
            Some(Side::Buy)
        } else if self.qty < Decimal::ZERO {
            Some(Side::Sell)
        } else {
            None
        }
    }

    /// Average entry price of the open quantity (zero when flat).
    pub fn entry_price(&self) -> Price {
        if self.qty.is_zero() { Decimal::ZERO } else { self.cost / self.qty }
    }

    /// Mark-to-market P&L of the open quantity.
    pub fn unrealized_pnl(&self, mark: Price) -> Decimal {
        self.qty * mark - self.cost
    }

    pub fn notional(&self, mark: Price) -> Decimal {
        (self.qty * mark).abs()
    }

    /// Initial margin the position ties up: |cost| / leverage.
    pub fn initial_margin(&self) -> Decimal {
        if self.leverage <= Decimal::ZERO { self.cost.abs() } else { self.cost.abs() / self.leverage }
    }

    /// Applies a fill of `side`/`qty` at `price`, with `fee` paid.
    pub fn apply(&mut self, side: Side, qty: Qty, price: Price, fee: Decimal, ts_ms: i64) -> FillEffect {
        let delta = side.sign() * qty;
        let mut effect = FillEffect::default();
        self.updated_ms = ts_ms;
        if self.qty.is_zero() {
            self.opened_ms = ts_ms;
        }
        let same_direction = self.qty.is_zero() || (self.qty.is_sign_positive() == delta.is_sign_positive());
        if same_direction {
            self.qty += delta;
            self.cost += delta * price;
            self.fees += fee;
            self.max_qty = self.max_qty.max(self.qty.abs());
            return effect;
        }
        // Reducing, closing or flipping.
        let open = self.qty.abs();
        let closing = qty.min(open);
        let closing_delta = side.sign() * closing;
        // The share of cost a partial close removes is rounded to a fixed scale, so every later
        // addition stays exact (an unrounded 28-digit quotient would be rounded again, silently,
        // when added to numbers of another magnitude).
        let cost_removed = if closing == open { self.cost } else { (self.cost * closing / open).round_dp(SHARE_DP) };
        let realized = -(closing_delta * price) - cost_removed;
        // Split the fee between the closing and the opening part of a flip by quantity.
        let close_fee = if closing == qty { fee } else { (fee * closing / qty).round_dp(SHARE_DP) };
        self.qty += closing_delta;
        self.cost -= cost_removed;
        self.realized_pnl += realized;
        self.fees += close_fee;
        self.exit_notional += closing * price;
        self.exit_qty += closing;
        effect.realized_pnl = realized;
        if self.qty.is_zero() {
            let side = if closing_delta.is_sign_negative() { Side::Buy } else { Side::Sell };
            let exit_price = if self.exit_qty.is_zero() { price } else { self.exit_notional / self.exit_qty };
            let entry_price = self.entry_of_closed_trade(exit_price, side);
            effect.closed = Some(ClosedTrade {
                symbol: self.symbol,
                side,
                max_qty: self.max_qty,
                entry_price,
                exit_price,
                gross_pnl: self.realized_pnl,
                fees: self.fees,
                funding: self.funding,
                net_pnl: self.realized_pnl - self.fees + self.funding,
                opened_ms: self.opened_ms,
                closed_ms: ts_ms,
            });
            let leverage = self.leverage;
            *self = Position::flat(self.symbol, ts_ms);
            self.leverage = leverage;
            let rest = qty - closing;
            if rest > Decimal::ZERO {
                // The flip opens a new position with the remainder.
                let rest_delta = side_of(closing_delta) * rest;
                self.qty = rest_delta;
                self.cost = rest_delta * price;
                self.fees = fee - close_fee;
                self.max_qty = rest;
            }
        }
        effect
    }

    /// Average entry of a trade that just closed, recovered from its gross P&L and exit.
    fn entry_of_closed_trade(&self, exit_price: Price, side: Side) -> Price {
        if self.exit_qty.is_zero() {
            return exit_price;
        }
        // gross = Σ exit qty × (exit − entry) × direction  ⇒  entry = exit − gross / (qty × dir)
        exit_price - self.realized_pnl / (self.exit_qty * side.sign())
    }
}

fn side_of(delta: Decimal) -> Decimal {
    if delta.is_sign_negative() { Decimal::NEGATIVE_ONE } else { Decimal::ONE }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn pos() -> Position {
        Position::flat(Symbol::new("BTCUSDT").unwrap(), 0)
    }

    #[test]
    fn long_round_trip_books_pnl() {
        let mut p = pos();
        p.apply(Side::Buy, dec!(1), dec!(100), dec!(0.05), 1);
        p.apply(Side::Buy, dec!(1), dec!(110), dec!(0.055), 2);
        assert_eq!(p.entry_price(), dec!(105));
        assert_eq!(p.unrealized_pnl(dec!(120)), dec!(30));
        let e = p.apply(Side::Sell, dec!(0.5), dec!(120), dec!(0.03), 3);
        assert_eq!(e.realized_pnl, dec!(7.5));
        assert!(e.closed.is_none());
        let e = p.apply(Side::Sell, dec!(1.5), dec!(90), dec!(0.0675), 4);
        assert_eq!(e.realized_pnl, dec!(-22.5));
        let t = e.closed.unwrap();
        assert_eq!(t.side, Side::Buy);
        assert_eq!(t.gross_pnl, dec!(-15));
        assert_eq!(t.entry_price, dec!(105));
        assert_eq!(t.exit_price, dec!(97.5));
        assert_eq!(t.fees, dec!(0.2025));
        assert!(p.is_flat());
    }

    #[test]
    fn short_profits_when_price_falls() {
        let mut p = pos();
        p.apply(Side::Sell, dec!(2), dec!(50), dec!(0), 1);
        assert_eq!(p.entry_price(), dec!(50));
        assert_eq!(p.unrealized_pnl(dec!(40)), dec!(20));
        let e = p.apply(Side::Buy, dec!(2), dec!(40), dec!(0), 2);
        assert_eq!(e.realized_pnl, dec!(20));
        assert_eq!(e.closed.unwrap().side, Side::Sell);
    }

    #[test]
    fn flip_closes_and_reopens_with_the_remainder() {
        let mut p = pos();
        p.apply(Side::Buy, dec!(1), dec!(100), dec!(1), 1);
        let e = p.apply(Side::Sell, dec!(3), dec!(110), dec!(3), 2);
        let t = e.closed.unwrap();
        assert_eq!(t.gross_pnl, dec!(10));
        assert_eq!(t.fees, dec!(2)); // 1 on entry + 1/3 of the flip's fee
        assert_eq!(p.qty, dec!(-2));
        assert_eq!(p.entry_price(), dec!(110));
        assert_eq!(p.fees, dec!(2));
        assert_eq!(p.opened_ms, 2);
    }
}
