//! No configuration can make the synthetic market panic: it is either rejected with a
//! `SimError` or it simulates, in both modes, with every invariant intact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use alphatx::domain::{Instrument, InstrumentKind, MarketData, Symbol};
use alphatx::market::sim::{SimConfig, SimMarket, SimMode, SimSymbol};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// Any decimal a user could type for a price, tick or lot: mostly sane, sometimes zero,
/// negative, huge or with many digits.
fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        4 => (1_i64..10_000, 0_u32..8).prop_map(|(m, s)| Decimal::new(m, s)),
        1 => (any::<i64>(), 0_u32..28).prop_map(|(m, s)| Decimal::new(m, s)),
        1 => Just(Decimal::ZERO),
        1 => Just(Decimal::MAX),
    ]
}

/// Any float a user could put in a parameter, including the non-finite ones.
fn float(sane: std::ops::Range<f64>) -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => sane,
        1 => any::<f64>(),
        1 => prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            Just(-1.0),
            Just(f64::MIN_POSITIVE),
        ],
    ]
}

fn sim_symbol(i: usize) -> impl Strategy<Value = SimSymbol> {
    (
        decimal(),
        decimal(),
        decimal(),
        float(0.05..5.0),
        float(-3.0..3.0),
        float(0.0..50.0),
        float(0.1..1e7),
        prop_oneof![Just(8 * 3_600_000_i64), Just(3_600_000), any::<i64>()],
    )
        .prop_map(move |(tick, lot, price, vol, beta, spread, volume, funding_iv)| {
            let mut instrument = Instrument::perp(Symbol::new(&format!("SYM{i}")).unwrap(), "X", tick, lot, 20);
            instrument.funding_interval_ms = funding_iv;
            SimSymbol {
                instrument,
                start_price: price,
                annual_vol: vol,
                beta,
                spread_bps: spread,
                volume_per_min: volume,
            }
        })
}

fn wild_config() -> impl Strategy<Value = SimConfig> {
    (
        any::<u64>(),
        prop_oneof![3 => 0_i64..4_000_000_000_000, 1 => any::<i64>()],
        prop_oneof![3 => 10_i64..=60_000, 1 => any::<i64>()],
        mode(),
        (0_usize..4).prop_flat_map(|n| (0..n).map(sim_symbol).collect::<Vec<_>>()),
    )
        .prop_map(|(seed, start_ms, step_ms, mode, symbols)| SimConfig { seed, start_ms, step_ms, mode, symbols })
}

fn mode() -> impl Strategy<Value = SimMode> {
    prop_oneof![Just(SimMode::Bars), Just(SimMode::Ticks)]
}

/// A "round" grid step such as 0.001, 0.5 or 25.
fn step() -> impl Strategy<Value = Decimal> {
    (prop_oneof![Just(1_i64), Just(5), Just(25)], 0_u32..6).prop_map(|(m, s)| Decimal::new(m, s))
}

/// A symbol inside every documented limit, spot or perpetual, at any scale.
fn valid_symbol(i: usize) -> impl Strategy<Value = SimSymbol> {
    (
        (step(), step(), 100_i64..1_000_000_000, any::<bool>()),
        (0.001..=5.0_f64, -3.0..=3.0_f64, 0.0..=1_000.0_f64, 1.0..1e9_f64),
        prop_oneof![Just(3_600_000_i64), Just(4 * 3_600_000), Just(8 * 3_600_000)],
    )
        .prop_map(move |((tick, lot, ticks, spot), (vol, beta, spread, lots), funding_iv)| {
            let mut instrument = Instrument::perp(Symbol::new(&format!("V{i}")).unwrap(), "V", tick, lot, 10);
            instrument.funding_interval_ms = funding_iv;
            if spot {
                instrument.kind = InstrumentKind::Spot;
            }
            SimSymbol {
                instrument,
                start_price: tick * Decimal::from(ticks),
                annual_vol: vol,
                beta,
                spread_bps: spread,
                volume_per_min: lots * lot.to_f64().unwrap(),
            }
        })
}

fn valid_config() -> impl Strategy<Value = SimConfig> {
    (
        any::<u64>(),
        0_i64..=253_402_300_799_999 - 400 * 86_400_000,
        10_i64..=60_000,
        mode(),
        (1_usize..4).prop_flat_map(|n| (0..n).map(valid_symbol).collect::<Vec<_>>()),
    )
        .prop_map(|(seed, start_ms, step_ms, mode, symbols)| SimConfig { seed, start_ms, step_ms, mode, symbols })
}

/// Steps `sim` and checks the invariants every batch must hold.
fn check_steps(sim: &mut SimMarket, instruments: &[Instrument]) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    let mut prev = sim.now_ms();
    for _ in 0..20 {
        out.clear();
        sim.step(&mut out);
        prop_assert!(!out.is_empty() && sim.now_ms() > prev);
        prop_assert!(out.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms));
        for e in &out {
            prop_assert!(e.ts_ms > prev && e.ts_ms <= sim.now_ms());
            let inst = instruments.iter().find(|i| i.symbol == e.symbol).unwrap();
            let prices: Vec<Decimal> = match e.data {
                MarketData::Bar(b) => {
                    prop_assert!(b.low <= b.open.min(b.close));
                    prop_assert!(b.high >= b.open.max(b.close));
                    // A ticks-mode minute may pass without a print: a flat bar with no volume.
                    let traded =
                        b.volume > Decimal::ZERO || (b.volume.is_zero() && b.open == b.close && b.high == b.low);
                    prop_assert!(traded && inst.on_lot(b.volume));
                    vec![b.open, b.high, b.low, b.close]
                }
                MarketData::Quote { bid, ask, bid_qty, ask_qty } => {
                    prop_assert!(bid < ask);
                    prop_assert!(bid_qty > Decimal::ZERO && inst.on_lot(bid_qty));
                    prop_assert!(ask_qty > Decimal::ZERO && inst.on_lot(ask_qty));
                    vec![bid, ask]
                }
                MarketData::Trade { price, qty, .. } => {
                    prop_assert!(qty > Decimal::ZERO && inst.on_lot(qty));
                    vec![price]
                }
                MarketData::Mark { mark, funding_rate, next_funding_ms } => {
                    prop_assert_eq!(funding_rate.is_some(), inst.is_perp());
                    prop_assert_eq!(next_funding_ms.is_some(), inst.is_perp());
                    vec![mark]
                }
                MarketData::OpenInterest { .. } | MarketData::LongShortRatio { .. } => vec![],
            };
            for p in prices {
                prop_assert!(p > Decimal::ZERO && inst.on_tick(p), "{} off grid", p);
            }
        }
        prev = sim.now_ms();
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn valid_configs_are_accepted_and_simulate_cleanly(cfg in valid_config()) {
        let instruments: Vec<Instrument> =
            cfg.symbols.iter().map(|s| s.instrument.clone()).collect();
        let mut sim = SimMarket::new(cfg).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_steps(&mut sim, &instruments)?;
    }

    #[test]
    fn any_config_is_rejected_or_simulates_cleanly(cfg in wild_config()) {
        let instruments: Vec<Instrument> =
            cfg.symbols.iter().map(|s| s.instrument.clone()).collect();
        match SimMarket::new(cfg) {
            Err(e) => prop_assert!(e.to_string().starts_with("invalid sim config: `")),
            Ok(mut sim) => check_steps(&mut sim, &instruments)?,
        }
    }
}
