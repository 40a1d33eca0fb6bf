//! Deterministic replay of recorded LLM decisions: a backtest answers each LLM request with the
//! decision the model gave at the same market time in an earlier run, without calling it.
//!
//! The input is JSON Lines of [`DecisionRecord`]s — one per line, in the serde form the engine
//! journals (a bare record, or a [`JournalRecord`] tagged `"record": "decision"`, which is what
//! the ledger export writes). Only LLM records (`source = "llm"`) are used. A request is matched
//! to the record of the same agent at the same market time (`ts_ms` = the request's `now_ms`);
//! the same seed and config reproduce the same request times, so the replay reproduces the run.
//! A request with no record holds and says so.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use crate::domain::AgentId;
use crate::engine::journal::{DecisionRecord, JournalRecord};
use crate::engine::request::AgentRequest;
use crate::engine::{AgentReply, ReplyMeta};

/// Why a decisions file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read decisions file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("decisions file {path}, line {line}: not a decision record ({message})")]
    Line { path: PathBuf, line: usize, message: String },
}

/// Recorded LLM decisions by (agent, market time).
#[derive(Debug, Default)]
pub struct ReplayBook {
    records: HashMap<(AgentId, i64), VecDeque<DecisionRecord>>,
    total: usize,
    used: usize,
    missing: usize,
}

impl ReplayBook {
    pub fn load(path: &Path) -> Result<Self, ReplayError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ReplayError::Read { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// Parses JSON Lines; blank lines and non-decision journal records are skipped.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ReplayError> {
        let mut book = Self::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let record = match serde_json::from_str::<JournalRecord>(line) {
                Ok(JournalRecord::Decision(d)) => d,
                Ok(_) => continue,
                Err(_) => serde_json::from_str::<DecisionRecord>(line).map_err(|e| ReplayError::Line {
                    path: origin.to_owned(),
                    line: i + 1,
                    message: e.to_string(),
                })?,
            };
            if record.source != "llm" {
                continue;
            }
            book.total += 1;
            book.records.entry((record.agent, record.ts_ms)).or_default().push_back(record);
        }
        Ok(book)
    }

    /// The recorded answer to `request` (or a hold saying none was recorded).
    pub fn reply(&mut self, request: &AgentRequest) -> AgentReply {
        let rec = self.records.get_mut(&(request.agent, request.now_ms)).and_then(VecDeque::pop_front);
        let (decision, meta) = match rec {
            Some(r) => {
                self.used += 1;
                let meta = ReplyMeta {
                    latency_ms: 0,
                    prompt: r.prompt,
                    raw_response: r.raw_response,
                    // Replaying costs nothing: no tokens were used this time.
                    input_tokens: 0,
                    output_tokens: 0,
                    cost_usd: 0.0,
                };
                (r.error.map_or(Ok(r.decision), Err), meta)
            }
            None => {
                self.missing += 1;
                (
                    Err(format!(
                        "replay_missing: no recorded decision of {} at {}; holding (was the file recorded with the \
                         same seed, config and period?)",
                        request.agent,
                        crate::clock::fmt_ts(request.now_ms)
                    )),
                    ReplyMeta::default(),
                )
            }
        };
        AgentReply { agent: request.agent, request_id: request.request_id, decision, meta }
    }

    /// LLM decisions in the file.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Requests answered from the file.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Requests that found no recorded decision.
    pub fn missing(&self) -> usize {
        self.missing
    }
}
