//! A scripted agent for tests and reproducible demos: it returns pre-programmed decisions at
//! given engine times, on a chosen timeframe.

use super::{AgentContext, Decision, RuleAgent};
use crate::domain::Timeframe;

/// Plays back `(at_ms, decision)` pairs: each decision is returned at the first candle close at
/// or after its time.
pub struct Scripted {
    timeframe: Timeframe,
    script: Vec<(i64, Decision)>,
    next: usize,
}

impl Scripted {
    pub fn new(timeframe: Timeframe, mut script: Vec<(i64, Decision)>) -> Self {
        script.sort_by_key(|(t, _)| *t);
        Self { timeframe, script, next: 0 }
    }
}

impl RuleAgent for Scripted {
    fn kind(&self) -> &'static str {
        "scripted"
    }

    fn timeframe(&self) -> Timeframe {
        self.timeframe
    }

    fn decide(&mut self, ctx: &AgentContext<'_>) -> Option<Decision> {
        let (at, decision) = self.script.get(self.next)?;
        if ctx.now_ms < *at {
            return None;
        }
        self.next += 1;
        Some(decision.clone())
    }
}
