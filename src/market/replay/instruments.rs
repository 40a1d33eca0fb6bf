//! Instrument rules for replayed symbols: a built-in table of common Binance symbols, and a
//! documented inference for everything else.
//!
//! **Table.** Tick size, lot (step) size, minimum notional and maximum leverage as Binance
//! publishes them in `exchangeInfo` (checked in 2025; venues change them rarely, and a backtest
//! only needs them to round orders realistically). Fees are Binance's base tier (VIP 0, no BNB
//! discount): spot 0.10 % maker and taker, USDⓈ-M futures 0.02 % maker / 0.05 % taker, COIN-M
//! 0.02 % / 0.05 %. `replay.maker_fee` / `replay.taker_fee` override the fees of every replayed
//! instrument (e.g. 0 to reproduce a fee-free reference).
//!
//! **Inference** (a symbol not in the table): tick = 10^-d where d is the largest number of
//! decimals any price in the data shows once trailing zeros are removed (at most 8), lot =
//! 10^-d for the quantities (volume) the same way (at most 8, and never coarser than 1), minimum
//! notional 5 in the quote asset, maximum leverage 20 for perpetuals (conservative: most
//! Binance perpetuals allow 50–125) and 1 for spot, the market's base-tier fees, a 0.5 %
//! maintenance margin rate, 8 h funding. The quote asset is the longest known quote suffix of the
//! symbol (USDT, USDC, FDUSD, BUSD, TUSD, USD, BTC, ETH, BNB, EUR, TRY); the rest is the base.
//! The report says which instruments were inferred.
//!
//! **COIN-M** contracts are inverse (margined in the coin). The engine has no inverse contracts,
//! so COIN-M data are traded as a linear perpetual on the same USD prices, with volumes converted
//! from contracts to coin (the report notes it). Signals and indicators are exact; P&L is what a
//! USD-margined account would have made on those prices.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{Instrument, InstrumentKind, Symbol};

/// The Binance market a file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketKind {
    /// Spot: long-only, no leverage.
    Spot,
    /// USDⓈ-M (linear) futures.
    Usdm,
    /// COIN-M (inverse) futures, traded here as linear.
    Coinm,
}

impl MarketKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MarketKind::Spot => "spot",
            MarketKind::Usdm => "USDⓈ-M",
            MarketKind::Coinm => "COIN-M",
        }
    }
}

/// Where an instrument's rules came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RulesSource {
    /// The built-in Binance table.
    Table,
    /// Inferred from the data (see the module documentation).
    Inferred,
    /// The recording's own header.
    Recording,
}

impl RulesSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RulesSource::Table => "built-in table",
            RulesSource::Inferred => "inferred from the data",
            RulesSource::Recording => "recording header",
        }
    }
}

/// One row of the table: symbol, base, quote, tick, lot, min notional, max leverage
/// (perpetuals; spot is always 1).
struct Row {
    symbol: &'static str,
    base: &'static str,
    quote: &'static str,
    tick: (i64, u32),
    lot: (i64, u32),
    min_notional: i64,
    max_leverage: u32,
}

const fn row(
    symbol: &'static str,
    base: &'static str,
    quote: &'static str,
    tick: (i64, u32),
    lot: (i64, u32),
    min_notional: i64,
    max_leverage: u32,
) -> Row {
    Row { symbol, base, quote, tick, lot, min_notional, max_leverage }
}

/// USDⓈ-M perpetuals. Tick and lot are `(mantissa, scale)`: `(1, 1)` = 0.1.
const USDM: &[Row] = &[
    row("BTCUSDT", "BTC", "USDT", (1, 1), (1, 3), 100, 125),
    row("ETHUSDT", "ETH", "USDT", (1, 2), (1, 3), 20, 100),
    row("BNBUSDT", "BNB", "USDT", (1, 2), (1, 2), 5, 75),
    row("SOLUSDT", "SOL", "USDT", (1, 2), (1, 0), 5, 75),
    row("XRPUSDT", "XRP", "USDT", (1, 4), (1, 1), 5, 75),
    row("DOGEUSDT", "DOGE", "USDT", (1, 5), (1, 0), 5, 75),
    row("ADAUSDT", "ADA", "USDT", (1, 4), (1, 0), 5, 75),
    row("AVAXUSDT", "AVAX", "USDT", (1, 3), (1, 0), 5, 75),
    row("LINKUSDT", "LINK", "USDT", (1, 3), (1, 2), 5, 75),
    row("LTCUSDT", "LTC", "USDT", (1, 2), (1, 3), 20, 75),
    row("DOTUSDT", "DOT", "USDT", (1, 3), (1, 1), 5, 75),
    row("TRXUSDT", "TRX", "USDT", (1, 5), (1, 0), 5, 75),
    row("BTCUSDC", "BTC", "USDC", (1, 1), (1, 3), 100, 125),
    row("ETHUSDC", "ETH", "USDC", (1, 2), (1, 3), 20, 100),
];

/// Spot pairs (leverage 1).
const SPOT: &[Row] = &[
    row("BTCUSDT", "BTC", "USDT", (1, 2), (1, 5), 5, 1),
    row("ETHUSDT", "ETH", "USDT", (1, 2), (1, 4), 5, 1),
    row("BNBUSDT", "BNB", "USDT", (1, 2), (1, 3), 5, 1),
    row("SOLUSDT", "SOL", "USDT", (1, 2), (1, 3), 5, 1),
    row("XRPUSDT", "XRP", "USDT", (1, 4), (1, 1), 5, 1),
    row("DOGEUSDT", "DOGE", "USDT", (1, 5), (1, 0), 5, 1),
    row("ADAUSDT", "ADA", "USDT", (1, 4), (1, 1), 5, 1),
    row("AVAXUSDT", "AVAX", "USDT", (1, 2), (1, 2), 5, 1),
    row("LINKUSDT", "LINK", "USDT", (1, 2), (1, 2), 5, 1),
    row("LTCUSDT", "LTC", "USDT", (1, 2), (1, 3), 5, 1),
    row("BTCUSDC", "BTC", "USDC", (1, 2), (1, 5), 5, 1),
    row("ETHUSDC", "ETH", "USDC", (1, 2), (1, 4), 5, 1),
    row("ETHBTC", "ETH", "BTC", (1, 5), (1, 4), 0, 1),
];

/// COIN-M perpetuals (traded as linear; lot in coin).
const COINM: &[Row] = &[
    row("BTCUSD_PERP", "BTC", "USD", (1, 1), (1, 3), 5, 125),
    row("ETHUSD_PERP", "ETH", "USD", (1, 2), (1, 3), 5, 100),
    row("SOLUSD_PERP", "SOL", "USD", (1, 2), (1, 2), 5, 50),
    row("XRPUSD_PERP", "XRP", "USD", (1, 4), (1, 1), 5, 50),
    row("BNBUSD_PERP", "BNB", "USD", (1, 3), (1, 2), 5, 50),
];

/// Contract size in USD of a COIN-M symbol (Binance: 100 for BTC, 10 for the others).
pub fn coinm_contract_usd(symbol: Symbol) -> Decimal {
    if symbol.as_str().starts_with("BTCUSD") { Decimal::from(100) } else { Decimal::from(10) }
}

fn fees(market: MarketKind) -> (Decimal, Decimal) {
    match market {
        MarketKind::Spot => (Decimal::new(1, 3), Decimal::new(1, 3)),
        MarketKind::Usdm | MarketKind::Coinm => (Decimal::new(2, 4), Decimal::new(5, 4)),
    }
}

/// Venue filters of one instrument: tick, lot, minimum notional, maximum leverage.
struct Filters {
    tick: Decimal,
    lot: Decimal,
    min_notional: Decimal,
    max_leverage: u32,
}

fn build(symbol: Symbol, market: MarketKind, base: &str, quote: &str, f: Filters) -> Instrument {
    let Filters { tick, lot, min_notional, max_leverage } = f;
    let (maker, taker) = fees(market);
    let spot = market == MarketKind::Spot;
    Instrument {
        symbol,
        base: base.to_owned(),
        quote: quote.to_owned(),
        kind: if spot { InstrumentKind::Spot } else { InstrumentKind::Perpetual },
        tick_size: tick,
        lot_size: lot,
        min_notional,
        max_leverage: Decimal::from(if spot { 1 } else { max_leverage }),
        maker_fee: maker,
        taker_fee: taker,
        maintenance_margin_rate: Decimal::new(5, 3),
        funding_interval_ms: 8 * 3_600_000,
    }
}

/// The table's rules for `symbol` on `market`, if it has them.
pub fn table_instrument(symbol: Symbol, market: MarketKind) -> Option<Instrument> {
    let rows = match market {
        MarketKind::Spot => SPOT,
        MarketKind::Usdm => USDM,
        MarketKind::Coinm => COINM,
    };
    let r = rows.iter().find(|r| r.symbol == symbol.as_str())?;
    let filters = Filters {
        tick: Decimal::new(r.tick.0, r.tick.1),
        lot: Decimal::new(r.lot.0, r.lot.1),
        min_notional: Decimal::from(r.min_notional),
        max_leverage: r.max_leverage,
    };
    Some(build(symbol, market, r.base, r.quote, filters))
}

/// Known quote assets, longest first so `FDUSD` wins over `USD`.
const QUOTES: &[&str] = &["FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "BTC", "ETH", "BNB", "EUR", "TRY"];

/// Splits a symbol into (base, quote) by its quote suffix; unknown quotes give `USDT` and the
/// whole symbol as base.
pub fn split_symbol(symbol: &str) -> (String, String) {
    let core = symbol.split('_').next().unwrap_or(symbol);
    for q in QUOTES {
        if let Some(base) = core.strip_suffix(q)
            && !base.is_empty()
        {
            return (base.to_owned(), (*q).to_owned());
        }
    }
    (core.to_owned(), "USDT".to_owned())
}

/// Rules inferred from the data: `price_decimals` / `qty_decimals` are the most decimals seen
/// (trailing zeros removed).
pub fn infer_instrument(symbol: Symbol, market: MarketKind, price_decimals: u32, qty_decimals: u32) -> Instrument {
    let (base, quote) = split_symbol(symbol.as_str());
    let tick = Decimal::new(1, price_decimals.min(8));
    let lot = Decimal::new(1, qty_decimals.min(8));
    build(symbol, market, &base, &quote, Filters { tick, lot, min_notional: Decimal::from(5), max_leverage: 20 })
}

/// Table rules if known, else inferred; fee overrides applied.
pub fn instrument_for(
    symbol: Symbol,
    market: MarketKind,
    price_decimals: u32,
    qty_decimals: u32,
    maker_fee: Option<Decimal>,
    taker_fee: Option<Decimal>,
) -> (Instrument, RulesSource) {
    let (mut inst, source) = match table_instrument(symbol, market) {
        Some(i) => (i, RulesSource::Table),
        None => (infer_instrument(symbol, market, price_decimals, qty_decimals), RulesSource::Inferred),
    };
    if let Some(f) = maker_fee {
        inst.maker_fee = f;
    }
    if let Some(f) = taker_fee {
        inst.taker_fee = f;
    }
    (inst, source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap()
    }

    #[test]
    fn table_knows_the_common_symbols() {
        let btc = table_instrument(sym("BTCUSDT"), MarketKind::Usdm).unwrap();
        assert_eq!((btc.tick_size, btc.lot_size, btc.min_notional), (dec!(0.1), dec!(0.001), dec!(100)));
        assert_eq!((btc.maker_fee, btc.taker_fee, btc.max_leverage), (dec!(0.0002), dec!(0.0005), dec!(125)));
        assert!(btc.is_perp());
        let spot = table_instrument(sym("BTCUSDT"), MarketKind::Spot).unwrap();
        assert_eq!((spot.tick_size, spot.lot_size), (dec!(0.01), dec!(0.00001)));
        assert_eq!((spot.kind, spot.max_leverage, spot.taker_fee), (InstrumentKind::Spot, dec!(1), dec!(0.001)));
        let cm = table_instrument(sym("BTCUSD_PERP"), MarketKind::Coinm).unwrap();
        assert_eq!((cm.base.as_str(), cm.quote.as_str()), ("BTC", "USD"));
        assert!(table_instrument(sym("PEPEUSDT"), MarketKind::Usdm).is_none());
    }

    #[test]
    fn inference_follows_the_documented_rule() {
        let i = infer_instrument(sym("PEPEUSDT"), MarketKind::Usdm, 9, 0);
        assert_eq!((i.base.as_str(), i.quote.as_str()), ("PEPE", "USDT"));
        assert_eq!(
            (i.tick_size, i.lot_size, i.min_notional, i.max_leverage),
            (dec!(0.00000001), dec!(1), dec!(5), dec!(20))
        );
        let i = infer_instrument(sym("XRPETH"), MarketKind::Spot, 8, 1);
        assert_eq!((i.base.as_str(), i.quote.as_str(), i.max_leverage), ("XRP", "ETH", dec!(1)));
        assert_eq!(split_symbol("ETHFDUSD"), ("ETH".into(), "FDUSD".into()));
        assert_eq!(split_symbol("BTCUSD_PERP"), ("BTC".into(), "USD".into()));
        assert_eq!(split_symbol("WEIRD"), ("WEIRD".into(), "USDT".into()));
    }

    #[test]
    fn fee_overrides_apply_to_table_and_inferred_rules() {
        let (i, src) = instrument_for(sym("BTCUSDT"), MarketKind::Usdm, 1, 3, Some(dec!(0)), Some(dec!(0)));
        assert_eq!((i.maker_fee, i.taker_fee, src), (dec!(0), dec!(0), RulesSource::Table));
        let (i, src) = instrument_for(sym("ABCUSDT"), MarketKind::Spot, 3, 2, None, Some(dec!(0.002)));
        assert_eq!((i.maker_fee, i.taker_fee, src), (dec!(0.001), dec!(0.002), RulesSource::Inferred));
    }
}
