//! Accounting invariants over random fill sequences (partial closes, flips long ↔ short,
//! funding): position = Σ fills exactly; cash = start + realised − fees + funding exactly;
//! realised + unrealised = the fills' cash flows + qty × mark exactly; closed trades sum to the
//! realised P&L.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use alphatx::domain::{Account, AgentId, Fill, Liquidity, OrderId, OrderPurpose, Side, Symbol};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn sym(i: usize) -> Symbol {
    Symbol::new(["BTCUSDT", "ETHUSDT", "SOLUSDT"][i % 3]).unwrap()
}

#[derive(Debug, Clone)]
enum Step {
    Fill { symbol: usize, buy: bool, qty_lots: u32, price_ticks: u32, fee_bp: u32 },
    Funding { symbol: usize, amount_cents: i32 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0usize..3, any::<bool>(), 1u32..5_000, 1u32..2_000_000, 0u32..10)
            .prop_map(|(symbol, buy, qty_lots, price_ticks, fee_bp)| Step::Fill { symbol, buy, qty_lots, price_ticks, fee_bp }),
        1 => (0usize..3, -10_000i32..10_000).prop_map(|(symbol, amount_cents)| Step::Funding { symbol, amount_cents }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn fills_sum_exactly(steps in proptest::collection::vec(step(), 1..80), mark_ticks in 1u32..2_000_000) {
        let start = Decimal::from(10_000);
        let mut acc = Account::new(AgentId::new("p").unwrap(), start);
        let mut qty = [Decimal::ZERO; 3];
        let mut cash_flow = [Decimal::ZERO; 3];
        let mut fees = Decimal::ZERO;
        let mut funding = Decimal::ZERO;
        let mut closed_gross = Decimal::ZERO;
        for (n, s) in steps.iter().enumerate() {
            match *s {
                Step::Fill { symbol, buy, qty_lots, price_ticks, fee_bp } => {
                    let q = Decimal::new(i64::from(qty_lots), 3);
                    let p = Decimal::new(i64::from(price_ticks), 1);
                    let fee = (q * p * Decimal::new(i64::from(fee_bp), 4)).round_dp(8);
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let fill = Fill {
                        venue: "paper".into(), trade_id: n as u64, order_id: OrderId(n as u64), agent: acc.agent,
                        symbol: sym(symbol), side, qty: q, price: p, fee, liquidity: Liquidity::Taker,
                        purpose: OrderPurpose::Entry, liquidation: false, ts_ms: n as i64,
                    };
                    let effect = acc.apply_fill(&fill, Decimal::from(3));
                    if let Some(t) = effect.closed {
                        closed_gross += t.gross_pnl;
                        prop_assert_eq!(t.net_pnl, t.gross_pnl - t.fees + t.funding);
                    }
                    qty[symbol] += side.sign() * q;
                    cash_flow[symbol] -= side.sign() * q * p;
                    fees += fee;
                }
                Step::Funding { symbol, amount_cents } => {
                    if !acc.qty(sym(symbol)).is_zero() {
                        let amount = Decimal::new(i64::from(amount_cents), 2);
                        acc.apply_funding(sym(symbol), amount);
                        funding += amount;
                    }
                }
            }
            for (i, expected) in qty.iter().enumerate() {
                prop_assert_eq!(acc.qty(sym(i)), *expected, "position = Σ fills");
            }
            prop_assert_eq!(acc.cash, start + acc.realized_pnl - fees + funding);
            prop_assert_eq!(acc.fees_paid, fees);
            prop_assert!(acc.positions.iter().all(|p| !p.qty.is_zero()), "flat positions are removed");
        }
        // Total P&L identity at an arbitrary mark, exact.
        let mark = Decimal::new(i64::from(mark_ticks), 1);
        let marks = |_s: Symbol| Some(mark);
        let total_flow: Decimal = (0..3).map(|i| cash_flow[i] + qty[i] * mark).sum();
        prop_assert_eq!(acc.realized_pnl + acc.unrealized_pnl(&marks), total_flow);
        prop_assert_eq!(acc.equity(&marks), start + total_flow - fees + funding);
        // Trades that closed account for all realised P&L except what open positions realised.
        let open_realized: Decimal = acc.positions.iter().map(|p| p.realized_pnl).sum();
        prop_assert_eq!(closed_gross + open_realized, acc.realized_pnl);
    }

    #[test]
    fn flips_open_the_remainder_at_the_fill_price(long_lots in 1u32..1000, extra_lots in 1u32..1000, p1 in 1u32..100_000, p2 in 1u32..100_000) {
        let mut acc = Account::new(AgentId::new("p").unwrap(), Decimal::from(1_000_000));
        let mk = |side, lots: u32, price: u32, n: u64| Fill {
            venue: "paper".into(), trade_id: n, order_id: OrderId(n), agent: AgentId::new("p").unwrap(),
            symbol: sym(0), side, qty: Decimal::new(i64::from(lots), 3), price: Decimal::from(price), fee: Decimal::ZERO,
            liquidity: Liquidity::Maker, purpose: OrderPurpose::Entry, liquidation: false, ts_ms: n as i64,
        };
        acc.apply_fill(&mk(Side::Buy, long_lots, p1, 1), Decimal::ONE);
        let e = acc.apply_fill(&mk(Side::Sell, long_lots + extra_lots, p2, 2), Decimal::ONE);
        let t = e.closed.expect("the flip closes the long");
        prop_assert_eq!(t.gross_pnl, Decimal::new(i64::from(long_lots), 3) * (Decimal::from(p2) - Decimal::from(p1)));
        let pos = acc.position(sym(0)).unwrap();
        prop_assert_eq!(pos.qty, -Decimal::new(i64::from(extra_lots), 3));
        prop_assert_eq!(pos.entry_price(), Decimal::from(p2));
    }
}
