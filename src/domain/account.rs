//! One account per agent: a cross-margined sub-ledger in the quote asset.
//!
//! `cash` is the wallet balance: starting balance + realised P&L − fees + funding. Equity adds
//! the unrealised P&L of open positions at mark. Initial margin is |cost| / leverage per position;
//! the account is liquidated when equity falls to the maintenance margin (Σ |qty| × mark × mmr).
//! Spot is modelled as a fully collateralised 1× long-only position, so the same arithmetic holds.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{AgentId, Fill, FillEffect, Position, Price, Symbol};

/// Looks up the mark price of a symbol.
pub trait Marks {
    fn mark(&self, symbol: Symbol) -> Option<Price>;
}

impl<F: Fn(Symbol) -> Option<Price>> Marks for F {
    fn mark(&self, symbol: Symbol) -> Option<Price> {
        self(symbol)
    }
}

/// A trading account (sub-ledger) owned by one agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub agent: AgentId,
    pub starting_balance: Decimal,
    /// Wallet balance: starting balance + realised P&L − fees + funding.
    pub cash: Decimal,
    pub realized_pnl: Decimal,
    pub fees_paid: Decimal,
    /// Net funding received (negative when paid).
    pub funding: Decimal,
    /// Traded notional, for turnover statistics.
    pub volume: Decimal,
    pub fill_count: u64,
    /// Open positions only, sorted by symbol (deterministic iteration).
    pub positions: Vec<Position>,
}

impl Account {
    pub fn new(agent: AgentId, starting_balance: Decimal) -> Self {
        Self {
            agent,
            starting_balance,
            cash: starting_balance,
            realized_pnl: Decimal::ZERO,
            fees_paid: Decimal::ZERO,
            funding: Decimal::ZERO,
            volume: Decimal::ZERO,
            fill_count: 0,
            positions: Vec::new(),
        }
    }

    pub fn position(&self, symbol: Symbol) -> Option<&Position> {
        self.positions.iter().find(|p| p.symbol == symbol)
    }

    /// Signed open quantity in `symbol` (zero when flat).
    pub fn qty(&self, symbol: Symbol) -> Decimal {
        self.position(symbol).map_or(Decimal::ZERO, |p| p.qty)
    }

    pub fn is_flat(&self) -> bool {
        self.positions.is_empty()
    }

    /// Books a fill. `leverage` is recorded on the position when the fill opens or adds to it.
    pub fn apply_fill(&mut self, fill: &Fill, leverage: Decimal) -> FillEffect {
        let idx = match self.positions.binary_search_by(|p| p.symbol.cmp(&fill.symbol)) {
            Ok(i) => i,
            Err(i) => {
                self.positions.insert(i, Position::flat(fill.symbol, fill.ts_ms));
                i
            }
        };
        let pos = &mut self.positions[idx];
        let increases = pos.qty.is_zero() || pos.qty.is_sign_positive() == (fill.side.sign().is_sign_positive());
        let effect = pos.apply(fill.side, fill.qty, fill.price, fill.fee, fill.ts_ms);
        if (increases || effect.closed.is_some()) && leverage > Decimal::ZERO && !pos.qty.is_zero() {
            pos.leverage = leverage;
        }
        let now_flat = pos.is_flat();
        self.cash += effect.realized_pnl - fill.fee;
        self.realized_pnl += effect.realized_pnl;
        self.fees_paid += fill.fee;
        self.volume += fill.notional();
        self.fill_count += 1;
        if now_flat {
            self.positions.remove(idx);
        }
        effect
    }

    /// Books a funding payment (positive = received) on the open position in `symbol`.
    pub fn apply_funding(&mut self, symbol: Symbol, amount: Decimal) {
        self.cash += amount;
        self.funding += amount;
        if let Some(p) = self.positions.iter_mut().find(|p| p.symbol == symbol) {
            p.funding += amount;
        }
    }

    fn mark_or_entry(p: &Position, marks: &impl Marks) -> Price {
        marks.mark(p.symbol).unwrap_or_else(|| p.entry_price())
    }

    pub fn unrealized_pnl(&self, marks: &impl Marks) -> Decimal {
        self.positions.iter().map(|p| p.unrealized_pnl(Self::mark_or_entry(p, marks))).sum()
    }

    /// Wallet balance plus unrealised P&L.
    pub fn equity(&self, marks: &impl Marks) -> Decimal {
        self.cash + self.unrealized_pnl(marks)
    }

    /// Initial margin tied up by open positions.
    pub fn used_margin(&self) -> Decimal {
        self.positions.iter().map(Position::initial_margin).sum()
    }

    /// Equity not tied up as initial margin (what new entries can use).
    pub fn available(&self, marks: &impl Marks) -> Decimal {
        self.equity(marks) - self.used_margin()
    }

    /// Gross notional of open positions at mark.
    pub fn gross_exposure(&self, marks: &impl Marks) -> Decimal {
        self.positions.iter().map(|p| p.notional(Self::mark_or_entry(p, marks))).sum()
    }

    /// Net (signed) notional of open positions at mark.
    pub fn net_exposure(&self, marks: &impl Marks) -> Decimal {
        self.positions.iter().map(|p| p.qty * Self::mark_or_entry(p, marks)).sum()
    }

    /// Maintenance margin: Σ |qty| × mark × mmr(symbol).
    pub fn maintenance_margin(&self, marks: &impl Marks, mmr: impl Fn(Symbol) -> Decimal) -> Decimal {
        self.positions.iter().map(|p| p.notional(Self::mark_or_entry(p, marks)) * mmr(p.symbol)).sum()
    }

    /// Mark price of `symbol` at which the account would be liquidated, other marks unchanged.
    /// `None` when flat or when no positive price liquidates it.
    pub fn liquidation_price(
        &self,
        symbol: Symbol,
        marks: &impl Marks,
        mmr: impl Fn(Symbol) -> Decimal,
    ) -> Option<Price> {
        let pos = self.position(symbol)?;
        let mut others = self.cash;
        for p in self.positions.iter().filter(|p| p.symbol != symbol) {
            let m = Self::mark_or_entry(p, marks);
            others += p.unrealized_pnl(m) - p.notional(m) * mmr(p.symbol);
        }
        // Solve others + qty·P − cost = mmr·|qty|·P for P.
        let denom = pos.qty - mmr(symbol) * pos.qty.abs();
        if denom.is_zero() {
            return None;
        }
        let price = (pos.cost - others) / denom;
        (price > Decimal::ZERO).then_some(price)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Liquidity, OrderId, OrderPurpose, Side};
    use rust_decimal::dec;

    fn fill(side: Side, qty: Decimal, price: Decimal, fee: Decimal) -> Fill {
        Fill {
            venue: "paper".into(),
            trade_id: 1,
            order_id: OrderId(1),
            agent: AgentId::new("a").unwrap(),
            symbol: Symbol::new("BTCUSDT").unwrap(),
            side,
            qty,
            price,
            fee,
            liquidity: Liquidity::Taker,
            purpose: OrderPurpose::Entry,
            liquidation: false,
            ts_ms: 0,
        }
    }

    #[test]
    fn cash_equity_and_margin() {
        let mut a = Account::new(AgentId::new("a").unwrap(), dec!(10000));
        a.apply_fill(&fill(Side::Buy, dec!(1), dec!(1000), dec!(0.5)), dec!(10));
        assert_eq!(a.cash, dec!(9999.5));
        let btc = Symbol::new("BTCUSDT").unwrap();
        let marks = move |s: Symbol| (s == btc).then_some(dec!(1100));
        assert_eq!(a.equity(&marks), dec!(10099.5));
        assert_eq!(a.used_margin(), dec!(100));
        assert_eq!(a.available(&marks), dec!(9999.5));
        a.apply_fill(&fill(Side::Sell, dec!(1), dec!(1100), dec!(0.55)), Decimal::ZERO);
        assert!(a.is_flat());
        assert_eq!(a.cash, dec!(10098.95));
        assert_eq!(a.realized_pnl, dec!(100));
        assert_eq!(a.fees_paid, dec!(1.05));
    }

    #[test]
    fn liquidation_price_of_a_lone_long() {
        let mut a = Account::new(AgentId::new("a").unwrap(), dec!(100));
        // 10 BTC-units at 100 = 1000 notional on 100 equity: 10× leverage.
        a.apply_fill(&fill(Side::Buy, dec!(10), dec!(100), dec!(0)), dec!(10));
        let btc = Symbol::new("BTCUSDT").unwrap();
        let liq = a.liquidation_price(btc, &|_| Some(dec!(100)), |_| dec!(0.005)).unwrap();
        // 100 + 10(P − 100) = 0.05 P  ⇒  P = 900 / 9.95
        assert_eq!(liq.round_dp(6), (dec!(900) / dec!(9.95)).round_dp(6));
    }
}
