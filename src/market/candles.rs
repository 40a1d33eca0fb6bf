//! Multi-timeframe candle aggregation.
