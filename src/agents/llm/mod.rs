//! LLM trading agents: any OpenAI-compatible chat model trades through the same engine, the
//! same validation and the same risk gate as every other agent.
//!
//! The engine asks an LLM agent for a decision by emitting an owned [`AgentRequest`]; the
//! [`worker`] hands it to the agent's [`LlmAgent::decide`], which renders the prompts
//! ([`prompt`]), checks the daily budget ([`budget`]), calls the model ([`client`]) under a
//! deadline, validates the answer ([`parse`]) and returns an [`AgentReply`]. The engine never
//! waits: the reply arrives later as an event.
//!
//! Invariants:
//! * every request gets exactly one reply — a decision, or `Err("<code>: <reason>")` that the
//!   engine counts as a hold (timeouts, HTTP failures, invalid output, exhausted budget, even
//!   a crashed worker task), so consecutive failures pause the agent with a reason;
//! * no call is made once the day's token or USD budget is spent (fail closed);
//! * a call never outlives its deadline, retries included;
//! * every reply carries what the cycle cost and saw ([`ReplyMeta`]: prompt, raw answer,
//!   latency, tokens, cost) for the ledger and the UI;
//! * the API key is read from the environment variable the config names, used only in the
//!   `Authorization` header, and never logged.

pub mod budget;
pub mod client;
pub mod config;
pub mod parse;
pub mod prompt;
pub mod replay;
pub mod worker;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

pub use budget::{Budget, BudgetLimits};
pub use client::{ChatClient, ChatError, ChatOutcome, ChatSettings, RetryPolicy};
pub use config::{ApiKey, LlmParams, Provider, StructuredOutput};
pub use parse::{ModelOutput, OutputError, OutputErrorKind, ParseContext, failure_code, parse_decision};
pub use prompt::{Prompts, RenderedPrompt, RulesView};
pub use worker::run_worker;

use crate::config::{Config, StrategyParams};
use crate::domain::AgentId;
use crate::engine::request::AgentRequest;
use crate::engine::{AgentReply, ReplyMeta};

/// Why the LLM agents cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("agent {agent}: {source}")]
    Prompt { agent: AgentId, source: prompt::PromptError },
    #[error("agent {agent}: cannot build the HTTP client: {message}")]
    Http { agent: AgentId, message: String },
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
}

/// Where LLM agents find their files and how they read the environment.
pub struct LlmSetup<'a> {
    /// Directory of user prompt templates (`prompts/system.j2`, `prompts/user.j2`) and base of
    /// relative `*_prompt_file` paths; `None` = shipped templates only.
    pub config_dir: Option<PathBuf>,
    /// Directory of the budget files (one per agent); `None` = budgets are not persisted.
    pub budget_dir: Option<PathBuf>,
    /// Environment lookup for API keys (the process environment in the app).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Wall-clock milliseconds, for the budget's UTC day.
    pub wall_clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// An HTTP client to use instead of building one per agent (tests pass one with `no_proxy`).
    pub http: Option<reqwest::Client>,
}

impl LlmSetup<'_> {
    /// The platform config directory (e.g. `~/.config/alphatx`), if there is a home.
    pub fn default_config_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("dev", "AlphaTransformer", "alphatx").map(|d| d.config_dir().to_owned())
    }

    /// Wall time from the system clock.
    pub fn system_clock() -> Arc<dyn Fn() -> i64 + Send + Sync> {
        Arc::new(|| jiff::Timestamp::now().as_millisecond())
    }
}

/// Builds every enabled LLM agent of `config` whose API key is available (the others run as
/// "not configured" in the engine and get no client).
pub fn build_llm_agents(config: &Config, setup: &LlmSetup<'_>) -> Result<Vec<Arc<LlmAgent>>, LlmError> {
    let mut out = Vec::new();
    for a in config.agents.iter().filter(|a| a.enabled) {
        let StrategyParams::Llm(params) = a.strategy()? else { continue };
        let Ok(key) = params.resolve_key(setup.env) else { continue };
        out.push(Arc::new(LlmAgent::new(a.name, (*params).clone(), key, config.risk.max_leverage, setup)?));
    }
    Ok(out)
}

/// The configured agent kind shown in the arena: the model name.
pub fn agent_kind(params: &LlmParams) -> String {
    params.model.clone()
}

const MODE_AUTO: u8 = 0;

fn mode_code(m: StructuredOutput) -> u8 {
    match m {
        StructuredOutput::Auto => MODE_AUTO,
        StructuredOutput::JsonSchema => 1,
        StructuredOutput::JsonObject => 2,
        StructuredOutput::None => 3,
    }
}

fn mode_of(code: u8) -> StructuredOutput {
    match code {
        1 => StructuredOutput::JsonSchema,
        2 => StructuredOutput::JsonObject,
        3 => StructuredOutput::None,
        _ => StructuredOutput::Auto,
    }
}

/// One LLM agent: its client, prompts, budget and output-format state.
pub struct LlmAgent {
    pub id: AgentId,
    params: LlmParams,
    client: ChatClient,
    prompts: Prompts,
    budget: Budget,
    /// The risk gate's leverage cap combined with the agent's own.
    max_leverage: Decimal,
    /// The structured-output mode in use (`auto` falls back and remembers the fallback here).
    mode: AtomicU8,
    /// Hash of the last system prompt stored in a reply (it is stored once, then referenced).
    system_seen: Mutex<Option<u64>>,
    wall_clock: Arc<dyn Fn() -> i64 + Send + Sync>,
}

impl std::fmt::Debug for LlmAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmAgent").field("id", &self.id).field("model", &self.params.model).finish_non_exhaustive()
    }
}

impl LlmAgent {
    pub fn new(
        id: AgentId,
        params: LlmParams,
        key: Option<ApiKey>,
        risk_max_leverage: Decimal,
        setup: &LlmSetup<'_>,
    ) -> Result<Self, LlmError> {
        let prompts = Prompts::load(
            params.system_prompt_file.as_deref(),
            params.user_prompt_file.as_deref(),
            setup.config_dir.as_deref(),
        )
        .map_err(|source| LlmError::Prompt { agent: id, source })?;
        let base_url = params.resolved_base_url();
        let http = match &setup.http {
            Some(c) => c.clone(),
            None => {
                let mut b = reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(10).min(Duration::from_secs(params.timeout_secs)))
                    // A backstop only: the per-call deadline is enforced around the whole call.
                    .timeout(Duration::from_secs(params.timeout_secs.saturating_add(5)));
                if is_loopback(&base_url) {
                    // A local server is never behind the HTTP(S)_PROXY meant for the internet.
                    b = b.no_proxy();
                }
                b.build().map_err(|e| LlmError::Http { agent: id, message: e.to_string() })?
            }
        };
        let limits =
            BudgetLimits { max_tokens_per_day: params.max_tokens_per_day, max_usd_per_day: params.max_usd_per_day };
        let budget = match &setup.budget_dir {
            Some(dir) => Budget::persistent(id.as_str(), limits, dir.join(format!("{}.json", file_safe(id.as_str())))),
            None => Budget::new(id.as_str(), limits),
        };
        let settings = ChatSettings {
            base_url,
            key,
            key_env: params.resolved_key_env(),
            model: params.model.clone(),
            temperature: params.temperature,
            max_tokens: params.max_tokens,
            max_completion_tokens: params.provider == Some(Provider::OpenAI),
            stream: params.stream,
            retry: RetryPolicy {
                max_retries: params.max_retries,
                base: Duration::from_millis(params.retry_backoff_ms),
                max: Duration::from_millis(params.retry_backoff_max_ms.max(params.retry_backoff_ms)),
            },
        };
        let max_leverage = params.max_leverage.map_or(risk_max_leverage, |l| l.min(risk_max_leverage));
        let mode = mode_code(params.resolved_structured_output());
        Ok(Self {
            id,
            client: ChatClient::new(http, settings),
            prompts,
            budget,
            max_leverage,
            mode: AtomicU8::new(mode),
            system_seen: Mutex::new(None),
            wall_clock: setup.wall_clock.clone(),
            params,
        })
    }

    pub fn params(&self) -> &LlmParams {
        &self.params
    }

    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The structured-output mode currently used (after any fallback).
    pub fn structured_output(&self) -> StructuredOutput {
        mode_of(self.mode.load(Ordering::Relaxed))
    }

    /// The fixed rules shown in the system prompt, from the request's instruments.
    pub fn rules(&self, request: &AgentRequest) -> RulesView {
        let insts = request.markets.iter().map(|m| &m.instrument);
        let pct = |d: Decimal| (d * Decimal::ONE_HUNDRED).normalize().to_string();
        let taker = insts.clone().map(|i| i.taker_fee).max().unwrap_or_default();
        let maker = insts.clone().map(|i| i.maker_fee).max().unwrap_or_default();
        let venue_max = insts.clone().map(|i| if i.is_perp() { i.max_leverage } else { Decimal::ONE }).max();
        let cap = venue_max.map_or(self.max_leverage, |v| v.min(self.max_leverage)).max(Decimal::ONE);
        RulesView {
            agent: self.id.to_string(),
            model: self.params.model.clone(),
            coins: request.markets.iter().map(|m| m.instrument.base.clone()).collect(),
            max_leverage: cap.normalize().to_string(),
            taker_fee_pct: pct(taker),
            maker_fee_pct: pct(maker),
            min_notional: insts.clone().map(|i| i.min_notional).max().unwrap_or_default().normalize().to_string(),
            cadence_minutes: prompt::fmt_sig(self.params.cadence_secs as f64 / 60.0),
            starting_balance: prompt::fmt_money(request.account.account.starting_balance),
            quote: request.markets.first().map_or_else(|| "USDT".to_owned(), |m| m.instrument.quote.clone()),
        }
    }

    /// Renders the prompts for a request (what the model would see).
    pub fn render(&self, request: &AgentRequest) -> Result<RenderedPrompt, prompt::PromptError> {
        self.prompts.render(request, &self.rules(request))
    }

    /// One decision cycle: always returns a reply (a failure is an `Err` decision = hold).
    pub async fn decide(&self, request: AgentRequest) -> AgentReply {
        let started = std::time::Instant::now();
        let mut meta = ReplyMeta::default();
        let decision = self.decide_inner(&request, &mut meta).await;
        meta.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &decision {
            Ok(d) => tracing::info!(
                agent = %self.id, model = %self.params.model, latency_ms = meta.latency_ms,
                tokens_in = meta.input_tokens, tokens_out = meta.output_tokens,
                "decision: {}", d.reasoning.lines().next().unwrap_or("")
            ),
            Err(e) => tracing::warn!(agent = %self.id, model = %self.params.model, "holding this cycle: {e}"),
        }
        AgentReply { agent: request.agent, request_id: request.request_id, decision, meta }
    }

    async fn decide_inner(
        &self,
        request: &AgentRequest,
        meta: &mut ReplyMeta,
    ) -> Result<crate::agents::Decision, String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(self.params.timeout_secs);
        let rendered = self.render(request).map_err(|e| format!("prompt_error: {e} (fix the template)"))?;
        meta.prompt = Some(self.prompt_record(&rendered));
        let estimate_in = budget::estimate_tokens(&rendered.system) + budget::estimate_tokens(&rendered.user);
        let estimate_out = u64::from(self.params.max_tokens);
        let reservation = self.budget.reserve(
            (self.wall_clock)(),
            estimate_in + estimate_out,
            self.params.cost_usd(estimate_in, estimate_out),
        )?;
        let coins: Vec<String> = request.markets.iter().map(|m| m.instrument.base.clone()).collect();
        let schema = parse::decision_schema(&coins);
        let configured = self.params.resolved_structured_output();
        let mut mode = match self.structured_output() {
            StructuredOutput::Auto => StructuredOutput::JsonSchema,
            m => m,
        };
        let call = loop {
            let attempt = tokio::time::timeout_at(
                deadline,
                self.client.complete(&rendered.system, &rendered.user, mode, &schema, deadline),
            )
            .await;
            match attempt {
                Err(_) => {
                    break Err(format!(
                        "timeout: no complete answer from {} within {} s; holding this cycle (raise timeout_secs if \
                         the model is slow)",
                        self.client.settings().base_url,
                        self.params.timeout_secs
                    ));
                }
                Ok(Err(e)) if e.rejects_format && configured == StructuredOutput::Auto => match mode.weaker() {
                    Some(weaker) => {
                        tracing::warn!(
                            agent = %self.id,
                            "the server rejected response_format {} ({}); falling back to {}",
                            mode.as_str(), e.message, weaker.as_str()
                        );
                        mode = weaker;
                    }
                    None => break Err(e.to_string()),
                },
                Ok(Err(e)) if e.rejects_format && mode != StructuredOutput::None => {
                    break Err(format!(
                        "{e} [structured_output = \"{}\" may be unsupported here: try \"auto\"]",
                        mode.as_str()
                    ));
                }
                Ok(Err(e)) => break Err(e.to_string()),
                Ok(Ok(outcome)) => {
                    if configured == StructuredOutput::Auto {
                        self.mode.store(mode_code(mode), Ordering::Relaxed);
                    }
                    break Ok(outcome);
                }
            }
        };
        let outcome = match call {
            Ok(o) => o,
            Err(e) => {
                // Nothing reported: charge the reservation's input estimate (the request was
                // probably processed) but no output.
                self.budget.settle(reservation, estimate_in, self.params.cost_usd(estimate_in, 0));
                self.persist_budget().await;
                return Err(e);
            }
        };
        let (tokens_in, tokens_out) = match outcome.usage {
            Some(u) => (u.input, u.output),
            None => (
                estimate_in,
                budget::estimate_tokens(&outcome.output.content) + budget::estimate_tokens(&outcome.output.reasoning),
            ),
        };
        let cost = self.params.cost_usd(tokens_in, tokens_out);
        self.budget.settle(reservation, tokens_in + tokens_out, cost);
        self.persist_budget().await;
        meta.input_tokens = tokens_in;
        meta.output_tokens = tokens_out;
        meta.cost_usd = cost.to_f64().unwrap_or(0.0);
        meta.raw_response = Some(raw_record(&outcome));
        let ctx = ParseContext::from_request(request, self.max_leverage);
        parse_decision(&outcome.output, &ctx).map_err(|e| e.to_string())
    }

    async fn persist_budget(&self) {
        if let Err(e) = self.budget.persist().await {
            tracing::warn!(agent = %self.id, "cannot save the LLM budget file: {e}");
        }
    }

    /// The prompt as stored: the system prompt in full the first time (and whenever it
    /// changes), then by hash; the user prompt always in full.
    fn prompt_record(&self, r: &RenderedPrompt) -> String {
        let h = fnv1a64(r.system.as_bytes());
        let first = match self.system_seen.lock() {
            Ok(mut seen) => {
                let first = *seen != Some(h);
                *seen = Some(h);
                first
            }
            Err(_) => true,
        };
        if first {
            format!("### system (fnv1a64 {h:016x})\n{}\n\n### user\n{}", r.system, r.user)
        } else {
            format!(
                "### system (fnv1a64 {h:016x}, unchanged: stored in full with an earlier decision)\n\n### user\n{}",
                r.user
            )
        }
    }
}

/// The raw answer as stored: the reasoning field and refusal (when present) and the message
/// text exactly as received, control characters made harmless for terminals.
fn raw_record(outcome: &ChatOutcome) -> String {
    let o = &outcome.output;
    let mut s = String::new();
    if !o.reasoning.trim().is_empty() {
        s.push_str(&format!("<reasoning>\n{}\n</reasoning>\n", o.reasoning.trim()));
    }
    if let Some(r) = &o.refusal {
        s.push_str(&format!("<refusal>{r}</refusal>\n"));
    }
    s.push_str(&o.content);
    if let Some(f) = &o.finish_reason
        && f != "stop"
    {
        s.push_str(&format!("\n<finish_reason>{f}</finish_reason>"));
    }
    parse::sanitize(&s)
}

/// FNV-1a, 64 bit: a stable hash for the stored prompt (not security relevant).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn is_loopback(url: &str) -> bool {
    let rest = url.split("://").nth(1).unwrap_or("");
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost") || host.starts_with("127.") || host == "::1"
}

fn file_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("http://127.0.0.1:8080/v1"));
        assert!(is_loopback("http://localhost:11434/v1"));
        assert!(is_loopback("http://[::1]:8000/v1"));
        assert!(!is_loopback("https://api.openai.com/v1"));
        assert!(!is_loopback("http://10.0.0.5:8000/v1"));
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
