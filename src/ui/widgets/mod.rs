//! Small reusable drawing pieces: number formatting, sparklines, line charts and text gauges.

pub mod fmt;
pub mod gauge;
pub mod plot;
pub mod sparkline;
