//! Time, injected. The engine never reads the system clock itself: live runs use
//! [`WallClock`]; backtests, the simulated market and tests use [`ManualClock`], which the
//! driver advances to each event's timestamp, so the same inputs give the same outputs.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of "now" in epoch milliseconds UTC.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct WallClock;

impl Clock for WallClock {
    fn now_ms(&self) -> i64 {
        jiff::Timestamp::now().as_millisecond()
    }
}

/// A clock that only moves when told to; shared between the driver and the engine.
#[derive(Debug, Default, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start_ms: i64) -> Self {
        Self(Arc::new(AtomicI64::new(start_ms)))
    }

    /// Moves the clock forward to `ts_ms`; it never goes back.
    pub fn advance_to(&self, ts_ms: i64) {
        self.0.fetch_max(ts_ms, Ordering::Relaxed);
    }

    pub fn set(&self, ts_ms: i64) {
        self.0.store(ts_ms, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Formats epoch milliseconds as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn fmt_ts(ts_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ts_ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| format!("@{ts_ms}"))
}

/// Formats epoch milliseconds as `HH:MM:SS` UTC.
pub fn fmt_time(ts_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ts_ms)
        .map(|t| t.strftime("%H:%M:%S").to_string())
        .unwrap_or_else(|_| format!("@{ts_ms}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_only_moves_forward() {
        let c = ManualClock::new(1_000);
        c.advance_to(5_000);
        c.advance_to(2_000);
        assert_eq!(c.now_ms(), 5_000);
        assert_eq!(fmt_ts(0), "1970-01-01 00:00:00");
        assert_eq!(fmt_time(3_723_000), "01:02:03");
    }
}
