//! Market data: sources (the synthetic market, file replay, recordings) and multi-timeframe
//! candle aggregation.

pub mod binance;
pub mod candles;
pub mod hyperliquid;
pub mod live;
pub mod recording;
pub mod replay;
pub mod sim;

use crate::domain::Instrument;

/// Instruments of the built-in simulated market (what `market.symbols` may name with `sim`).
pub fn builtin_instruments() -> Vec<Instrument> {
    sim::SimConfig::default_markets(0, 0, sim::SimMode::Bars).symbols.into_iter().map(|s| s.instrument).collect()
}
