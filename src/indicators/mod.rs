//! Streaming indicators.
