//! Per-agent daily token and USD budgets that fail closed.
//!
//! Before every call the worker *reserves* the most the call could use (an estimate of the
//! prompt's tokens plus `max_tokens` of output, priced with the cost table); the call is refused
//! when the reservation would take the day's usage past a limit. After the call the reservation
//! is replaced by the actual usage the server reported (or by the reservation itself when it
//! reported none), so the overrun is bounded by one call's estimate error and never by a
//! runaway loop. Days are UTC calendar days of the wall clock (real money is spent in real
//! time, also during a backtest), passed in explicitly so tests control them.
//!
//! Usage is persisted to a small JSON file per agent when a path is given, so a restart on the
//! same day does not reset the budget.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Limits per UTC day (`None` = unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BudgetLimits {
    pub max_tokens_per_day: Option<u64>,
    pub max_usd_per_day: Option<Decimal>,
}

/// What one day has used so far.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BudgetUsage {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub tokens: u64,
    pub usd: Decimal,
}

/// A reservation for one call in flight.
#[derive(Debug, Clone, Copy, PartialEq)]
#[must_use = "settle the reservation with the actual usage"]
pub struct Reservation {
    day: i64,
    tokens: u64,
    usd: Decimal,
}

/// The budget of one agent.
#[derive(Debug)]
pub struct Budget {
    agent: String,
    limits: BudgetLimits,
    usage: Mutex<BudgetUsage>,
    path: Option<PathBuf>,
}

const DAY_MS: i64 = 86_400_000;

impl Budget {
    pub fn new(agent: &str, limits: BudgetLimits) -> Self {
        Self { agent: agent.to_owned(), limits, usage: Mutex::new(BudgetUsage::default()), path: None }
    }

    /// A budget whose usage is kept in `path` (read now if it exists and is valid).
    pub fn persistent(agent: &str, limits: BudgetLimits, path: PathBuf) -> Self {
        let usage = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str::<BudgetUsage>(&t).ok())
            .unwrap_or_default();
        Self { agent: agent.to_owned(), limits, usage: Mutex::new(usage), path: Some(path) }
    }

    pub fn limits(&self) -> BudgetLimits {
        self.limits
    }

    /// Usage of the day containing `now_ms`.
    pub fn usage(&self, now_ms: i64) -> BudgetUsage {
        let day = now_ms.div_euclid(DAY_MS);
        let u = self.usage.lock().map(|u| *u).unwrap_or_default();
        if u.day == day { u } else { BudgetUsage { day, ..BudgetUsage::default() } }
    }

    /// Reserves `tokens` and `usd` for a call at wall time `now_ms`, or says why not.
    pub fn reserve(&self, now_ms: i64, tokens: u64, usd: Decimal) -> Result<Reservation, String> {
        let day = now_ms.div_euclid(DAY_MS);
        let Ok(mut u) = self.usage.lock() else {
            return Err("budget_exhausted: the budget ledger is unavailable; holding (fail closed)".into());
        };
        if u.day != day {
            *u = BudgetUsage { day, ..BudgetUsage::default() };
        }
        if let Some(max) = self.limits.max_tokens_per_day
            && u.tokens.saturating_add(tokens) > max
        {
            return Err(format!(
                "budget_exhausted: {} used {} of {max} tokens today (UTC) and the next call may need up to {tokens}; no \
                 calls until 00:00 UTC (raise max_tokens_per_day to continue)",
                self.agent, u.tokens
            ));
        }
        if let Some(max) = self.limits.max_usd_per_day
            && u.usd + usd > max
        {
            return Err(format!(
                "budget_exhausted: {} spent {} of {max} USD today (UTC) and the next call may cost up to {}; no calls \
                 until 00:00 UTC (raise max_usd_per_day to continue)",
                self.agent,
                u.usd.round_dp(4),
                usd.round_dp(4)
            ));
        }
        u.tokens = u.tokens.saturating_add(tokens);
        u.usd += usd;
        Ok(Reservation { day, tokens, usd })
    }

    /// Replaces a reservation with what the call actually used.
    pub fn settle(&self, reservation: Reservation, tokens: u64, usd: Decimal) {
        if let Ok(mut u) = self.usage.lock()
            && u.day == reservation.day
        {
            u.tokens = u.tokens.saturating_sub(reservation.tokens).saturating_add(tokens);
            u.usd = (u.usd - reservation.usd + usd).max(Decimal::ZERO);
        }
    }

    /// Writes the usage to the budget file, if any (atomically: temp file + rename).
    pub async fn persist(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else { return Ok(()) };
        let usage = self.usage.lock().map(|u| *u).unwrap_or_default();
        let text = serde_json::to_string(&usage).map_err(std::io::Error::other)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let tmp = path.with_extension("json.tmp");
        tokio::fs::write(&tmp, text).await?;
        tokio::fs::rename(&tmp, path).await
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

/// A cautious token estimate for a prompt: about three characters per token (numbers and
/// punctuation tokenise worse than English prose), rounded up.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    const DAY: i64 = DAY_MS;

    #[test]
    fn tokens_fail_closed_and_reset_at_midnight_utc() {
        let b = Budget::new("a", BudgetLimits { max_tokens_per_day: Some(1000), max_usd_per_day: None });
        let r = b.reserve(10, 600, Decimal::ZERO).unwrap();
        b.settle(r, 500, Decimal::ZERO);
        assert_eq!(b.usage(10).tokens, 500);
        let e = b.reserve(20, 600, Decimal::ZERO).unwrap_err();
        assert!(e.starts_with("budget_exhausted:") && e.contains("500 of 1000"), "{e}");
        // Nothing was reserved by the refused call.
        assert_eq!(b.usage(20).tokens, 500);
        let r = b.reserve(DAY + 1, 600, Decimal::ZERO).unwrap();
        b.settle(r, 600, Decimal::ZERO);
        assert_eq!(b.usage(DAY + 1).tokens, 600);
    }

    #[test]
    fn usd_limit_counts_reservations_in_flight() {
        let b = Budget::new("a", BudgetLimits { max_tokens_per_day: None, max_usd_per_day: Some(dec!(1)) });
        let _in_flight = b.reserve(0, 0, dec!(0.6)).unwrap();
        assert!(b.reserve(0, 0, dec!(0.6)).is_err(), "two calls in flight may not exceed the day's USD");
    }

    #[tokio::test]
    async fn usage_survives_a_restart_on_the_same_day() {
        let dir = std::env::temp_dir().join(format!("alphatx-budget-{}", std::process::id()));
        let path = dir.join("a.json");
        let limits = BudgetLimits { max_tokens_per_day: Some(100), max_usd_per_day: None };
        let b = Budget::persistent("a", limits, path.clone());
        let r = b.reserve(5, 80, Decimal::ZERO).unwrap();
        b.settle(r, 90, Decimal::ZERO);
        b.persist().await.unwrap();
        let again = Budget::persistent("a", limits, path);
        assert_eq!(again.usage(6).tokens, 90);
        assert!(again.reserve(6, 20, Decimal::ZERO).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
