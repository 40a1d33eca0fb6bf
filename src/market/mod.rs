//! Market data: sources behind one trait, and multi-timeframe candle aggregation.

pub mod candles;
pub mod sim;
