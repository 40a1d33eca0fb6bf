//! Reconnect delays: exponential with "equal jitter".
//!
//! Attempt `n` (from 0) waits between half and all of `min · 2ⁿ`, capped at `max`. The random
//! half spreads the reconnects of many clients after an exchange-wide outage (so they do not
//! all hit the venue in the same instant and trip its connection-rate limit), while the fixed
//! half guarantees the delay still grows. The jitter source is seeded, so tests can pin it.

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Exponential backoff with jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
    rng: ChaCha8Rng,
}

impl Backoff {
    /// `min` is clamped to at least 1 ms and `max` to at least `min`.
    pub fn new(min: Duration, max: Duration, seed: u64) -> Self {
        let min = min.max(Duration::from_millis(1));
        Self { min, max: max.max(min), attempt: 0, rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// The delay before the next attempt; each call counts one failed attempt.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32 << self.attempt.min(20);
        let ceiling = self.min.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let extra = if jitter_ms == 0 { 0 } else { self.rng.random_range(0..=jitter_ms) };
        (half + Duration::from_millis(extra)).max(Duration::from_millis(1))
    }

    /// Failed attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Back to `min` (after a connection proved healthy).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_bounds_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), 7);
        let mut ceilings = vec![100u64, 200, 400, 800, 1600, 2000, 2000];
        for ceiling in ceilings.drain(..) {
            let d = b.next_delay().as_millis() as u64;
            assert!(d >= ceiling / 2 && d <= ceiling, "delay {d} outside [{}, {ceiling}]", ceiling / 2);
        }
        b.reset();
        assert_eq!(b.attempts(), 0);
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn jitter_differs_between_seeds() {
        let draw = |seed| {
            let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60), seed);
            (0..6).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_ne!(draw(1), draw(2));
        assert_eq!(draw(3), draw(3));
    }
}
