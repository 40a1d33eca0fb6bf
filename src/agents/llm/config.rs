//! Settings of one LLM agent (`[[agents]] kind = "llm"`, `[agents.params]`), provider presets,
//! and the resolution of the API key from the environment.
//!
//! Invariants: the API key is never part of the configuration — only the *name* of the
//! environment variable that holds it — and the key itself lives in [`ApiKey`], whose `Debug`
//! and `Display` print a redaction, so it cannot reach a log line by accident. Every preset
//! sets a base URL and says whether a key is needed; an explicit `base_url` or `api_key_env`
//! overrides the preset.

use std::path::PathBuf;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Known OpenAI-compatible providers: base URL, key variable and structured-output support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    OpenAI,
    /// Anthropic's OpenAI-compatible endpoint (ignores `response_format`).
    Anthropic,
    OpenRouter,
    DeepSeek,
    Ollama,
    Vllm,
    #[serde(rename = "llamacpp", alias = "llama.cpp", alias = "llama_cpp")]
    LlamaCpp,
}

impl Provider {
    pub const ALL: [Provider; 7] = [
        Provider::OpenAI,
        Provider::Anthropic,
        Provider::OpenRouter,
        Provider::DeepSeek,
        Provider::Ollama,
        Provider::Vllm,
        Provider::LlamaCpp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAI => "openai",
            Provider::Anthropic => "anthropic",
            Provider::OpenRouter => "openrouter",
            Provider::DeepSeek => "deepseek",
            Provider::Ollama => "ollama",
            Provider::Vllm => "vllm",
            Provider::LlamaCpp => "llamacpp",
        }
    }

    /// The documented chat-completions base URL (the client appends `/chat/completions`).
    pub fn base_url(self) -> &'static str {
        match self {
            Provider::OpenAI => "https://api.openai.com/v1",
            Provider::Anthropic => "https://api.anthropic.com/v1",
            Provider::OpenRouter => "https://openrouter.ai/api/v1",
            Provider::DeepSeek => "https://api.deepseek.com/v1",
            Provider::Ollama => "http://localhost:11434/v1",
            Provider::Vllm => "http://localhost:8000/v1",
            Provider::LlamaCpp => "http://localhost:8080/v1",
        }
    }

    /// The environment variable the key is read from by default (`None`: local servers need
    /// no key).
    pub fn key_env(self) -> Option<&'static str> {
        match self {
            Provider::OpenAI => Some("OPENAI_API_KEY"),
            Provider::Anthropic => Some("ANTHROPIC_API_KEY"),
            Provider::OpenRouter => Some("OPENROUTER_API_KEY"),
            Provider::DeepSeek => Some("DEEPSEEK_API_KEY"),
            Provider::Ollama | Provider::Vllm | Provider::LlamaCpp => None,
        }
    }

    /// What structured output the provider documents for chat completions.
    pub fn structured_output(self) -> StructuredOutput {
        match self {
            Provider::OpenAI => StructuredOutput::JsonSchema,
            // Documented as ignored by the compatibility layer: ask in the prompt only.
            Provider::Anthropic => StructuredOutput::None,
            // JSON Output (`json_object`) only.
            Provider::DeepSeek => StructuredOutput::JsonObject,
            // Depends on the routed model / server version: try the schema, fall back.
            Provider::OpenRouter | Provider::Ollama | Provider::Vllm | Provider::LlamaCpp => StructuredOutput::Auto,
        }
    }
}

/// How the response format is requested. The answer is always validated locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutput {
    /// JSON schema first; when the server rejects the parameter, JSON mode, then prompt only.
    /// The fallback is remembered for the rest of the run.
    #[default]
    Auto,
    /// `response_format: {type: "json_schema", json_schema: {strict: true, ...}}`.
    JsonSchema,
    /// `response_format: {type: "json_object"}` (JSON mode).
    JsonObject,
    /// No `response_format`: the prompt alone asks for JSON.
    None,
}

impl StructuredOutput {
    pub fn as_str(self) -> &'static str {
        match self {
            StructuredOutput::Auto => "auto",
            StructuredOutput::JsonSchema => "json_schema",
            StructuredOutput::JsonObject => "json_object",
            StructuredOutput::None => "none",
        }
    }

    /// The next weaker mode after a server rejected this one (`None` when nothing is left).
    pub fn weaker(self) -> Option<StructuredOutput> {
        match self {
            StructuredOutput::Auto | StructuredOutput::JsonSchema => Some(StructuredOutput::JsonObject),
            StructuredOutput::JsonObject => Some(StructuredOutput::None),
            StructuredOutput::None => None,
        }
    }
}

/// `[agents.params]` of an LLM agent. Every key but `model` has a default (or a preset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmParams {
    /// A preset: openai, anthropic, openrouter, deepseek, ollama, vllm, llamacpp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    /// Chat-completions base URL (overrides the preset), e.g. `http://127.0.0.1:8080/v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Model name as the provider spells it, e.g. `gpt-4o`, `deepseek-chat`.
    pub model: String,
    /// Name of the environment variable that holds the API key (overrides the preset). The key
    /// itself never goes into the config file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Seconds of market time between decisions.
    #[serde(default = "defaults::cadence_secs")]
    pub cadence_secs: u64,
    /// Sampling temperature (omitted from the request when unset: the provider's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Most tokens the model may produce per call.
    #[serde(default = "defaults::max_tokens")]
    pub max_tokens: u32,
    /// Deadline for a whole call, retries included; past it the agent holds this cycle.
    #[serde(default = "defaults::timeout_secs")]
    pub timeout_secs: u64,
    /// Retries after HTTP 429/5xx or a failed connection, within the deadline.
    #[serde(default = "defaults::max_retries")]
    pub max_retries: u32,
    /// First retry delay in milliseconds; it doubles per retry (a `Retry-After` header wins).
    #[serde(default = "defaults::retry_backoff_ms")]
    pub retry_backoff_ms: u64,
    /// Longest single retry delay in milliseconds.
    #[serde(default = "defaults::retry_backoff_max_ms")]
    pub retry_backoff_max_ms: u64,
    /// `auto`, `json_schema`, `json_object` or `none` (default: the preset's, else `auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured_output: Option<StructuredOutput>,
    /// Ask for a streamed (SSE) answer.
    #[serde(default)]
    pub stream: bool,
    /// USD per million input (prompt) tokens.
    #[serde(default)]
    pub input_usd_per_mtok: Decimal,
    /// USD per million output (completion) tokens.
    #[serde(default)]
    pub output_usd_per_mtok: Decimal,
    /// Tokens (input + output) the agent may use per UTC day; no call once spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens_per_day: Option<u64>,
    /// USD the agent may spend per UTC day (needs the cost table); no call once spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_usd_per_day: Option<Decimal>,
    /// Highest leverage the model may propose (default and ceiling: `risk.max_leverage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_leverage: Option<Decimal>,
    /// System prompt template (absolute, or relative to the config directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt_file: Option<PathBuf>,
    /// Per-cycle user prompt template (absolute, or relative to the config directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_prompt_file: Option<PathBuf>,
}

mod defaults {
    pub fn cadence_secs() -> u64 {
        180
    }
    pub fn max_tokens() -> u32 {
        4096
    }
    pub fn timeout_secs() -> u64 {
        60
    }
    pub fn max_retries() -> u32 {
        3
    }
    pub fn retry_backoff_ms() -> u64 {
        500
    }
    pub fn retry_backoff_max_ms() -> u64 {
        8000
    }
}

impl LlmParams {
    /// Checks values; the message names the parameter and says what is expected.
    pub fn validate(&self) -> Result<(), String> {
        if self.model.trim().is_empty() {
            return Err("`model` must name the provider's model, e.g. \"gpt-4o\"".into());
        }
        match (&self.provider, &self.base_url) {
            (None, None) => {
                let names: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
                return Err(format!(
                    "set `provider` (one of {}) or `base_url` (an OpenAI-compatible endpoint such as \
                     \"http://127.0.0.1:8080/v1\")",
                    names.join(", ")
                ));
            }
            (_, Some(url)) => {
                let url = url.trim();
                if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
                    return Err(format!("`base_url` must be an http:// or https:// URL, got {url:?}"));
                }
            }
            _ => {}
        }
        if let Some(env) = &self.api_key_env
            && (env.is_empty() || !env.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            // The value is not echoed: it may be the key itself, pasted in by mistake.
            return Err("`api_key_env` is the NAME of an environment variable (letters, digits, _), e.g. \
                        \"OPENAI_API_KEY\"; never put the key itself in the config"
                .into());
        }
        if !(10..=86_400).contains(&self.cadence_secs) {
            return Err("`cadence_secs` must be between 10 and 86400".into());
        }
        if let Some(t) = self.temperature
            && !(t.is_finite() && (0.0..=2.0).contains(&t))
        {
            return Err("`temperature` must be a number in [0, 2]".into());
        }
        if !(16..=200_000).contains(&self.max_tokens) {
            return Err("`max_tokens` must be between 16 and 200000".into());
        }
        if !(1..=600).contains(&self.timeout_secs) {
            return Err("`timeout_secs` must be between 1 and 600".into());
        }
        if self.max_retries > 10 {
            return Err("`max_retries` must be at most 10".into());
        }
        if self.retry_backoff_ms > 60_000 || self.retry_backoff_max_ms > 600_000 {
            return Err("`retry_backoff_ms` must be at most 60000 and `retry_backoff_max_ms` at most 600000".into());
        }
        for (key, v) in
            [("input_usd_per_mtok", self.input_usd_per_mtok), ("output_usd_per_mtok", self.output_usd_per_mtok)]
        {
            if v < Decimal::ZERO || v > Decimal::from(10_000) {
                return Err(format!("`{key}` must be between 0 and 10000 USD per million tokens"));
            }
        }
        if self.max_tokens_per_day == Some(0) {
            return Err("`max_tokens_per_day` must be positive (omit it for no limit)".into());
        }
        if let Some(usd) = self.max_usd_per_day {
            if usd <= Decimal::ZERO {
                return Err("`max_usd_per_day` must be positive (omit it for no limit)".into());
            }
            if self.input_usd_per_mtok.is_zero() && self.output_usd_per_mtok.is_zero() {
                return Err("`max_usd_per_day` needs the cost table: set `input_usd_per_mtok` and \
                            `output_usd_per_mtok` (USD per million tokens from the provider's price list)"
                    .into());
            }
        }
        if let Some(l) = self.max_leverage
            && (l < Decimal::ONE || l > Decimal::from(125))
        {
            return Err("`max_leverage` must be between 1 and 125".into());
        }
        Ok(())
    }

    /// The endpoint base URL: explicit, else the preset's.
    pub fn resolved_base_url(&self) -> String {
        let url = match (&self.base_url, self.provider) {
            (Some(u), _) => u.trim().to_owned(),
            (None, Some(p)) => p.base_url().to_owned(),
            (None, None) => String::new(),
        };
        url.trim_end_matches('/').to_owned()
    }

    /// The key variable: explicit, else the preset's (`None`: no key is sent).
    pub fn resolved_key_env(&self) -> Option<String> {
        self.api_key_env.clone().or_else(|| self.provider.and_then(Provider::key_env).map(str::to_owned))
    }

    /// The structured-output mode: explicit, else the preset's, else `auto`.
    pub fn resolved_structured_output(&self) -> StructuredOutput {
        self.structured_output.or_else(|| self.provider.map(Provider::structured_output)).unwrap_or_default()
    }

    /// Looks up the key with `lookup` (the process environment in the app, a map in tests).
    /// `Ok(None)` = no key needed; `Err` = the reason the agent is not configured.
    pub fn resolve_key(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<Option<ApiKey>, String> {
        match self.resolved_key_env() {
            None => Ok(None),
            Some(var) => match lookup(&var) {
                Some(k) if !k.trim().is_empty() => Ok(Some(ApiKey(k.trim().to_owned()))),
                _ => Err(format!("not configured: set {var}")),
            },
        }
    }

    /// Cost in USD of a call.
    pub fn cost_usd(&self, input_tokens: u64, output_tokens: u64) -> Decimal {
        let per = Decimal::from(1_000_000);
        Decimal::from(input_tokens) * self.input_usd_per_mtok / per
            + Decimal::from(output_tokens) * self.output_usd_per_mtok / per
    }
}

/// An API key. It prints as `ApiKey(***)` so it cannot leak into logs or panics.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The secret, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl std::fmt::Display for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(toml_text: &str) -> Result<LlmParams, String> {
        let p: LlmParams = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        p.validate()?;
        Ok(p)
    }

    #[test]
    fn presets_fill_url_key_and_output_mode() {
        let p = params("provider = \"deepseek\"\nmodel = \"deepseek-chat\"\n").unwrap();
        assert_eq!(p.resolved_base_url(), "https://api.deepseek.com/v1");
        assert_eq!(p.resolved_key_env().as_deref(), Some("DEEPSEEK_API_KEY"));
        assert_eq!(p.resolved_structured_output(), StructuredOutput::JsonObject);
        assert_eq!(p.cadence_secs, 180);
        assert_eq!(p.timeout_secs, 60);
        let p =
            params("provider = \"llama.cpp\"\nmodel = \"qwen\"\nbase_url = \"http://127.0.0.1:9999/v1/\"\n").unwrap();
        assert_eq!(p.resolved_base_url(), "http://127.0.0.1:9999/v1");
        assert_eq!(p.resolved_key_env(), None);
        assert_eq!(p.resolve_key(|_| None), Ok(None));
    }

    #[test]
    fn missing_key_says_which_variable_to_set() {
        let p = params("provider = \"openai\"\nmodel = \"gpt-4o\"\n").unwrap();
        assert_eq!(p.resolve_key(|_| None), Err("not configured: set OPENAI_API_KEY".into()));
        assert_eq!(p.resolve_key(|_| Some("  ".into())), Err("not configured: set OPENAI_API_KEY".into()));
        let key = p.resolve_key(|v| (v == "OPENAI_API_KEY").then(|| "sk-secret".to_owned())).unwrap().unwrap();
        assert_eq!(key.expose(), "sk-secret");
        assert_eq!(format!("{key:?} {key}"), "ApiKey(***) ***");
    }

    #[test]
    fn bad_params_are_explained() {
        for (text, needle) in [
            ("model = \"x\"\n", "provider"),
            ("provider = \"openai\"\nmodel = \"\"\n", "model"),
            ("provider = \"acme\"\nmodel = \"x\"\n", "acme"),
            ("base_url = \"ftp://x\"\nmodel = \"x\"\n", "base_url"),
            ("provider = \"openai\"\nmodel = \"x\"\napi_key_env = \"sk-abc\"\n", "NAME"),
            ("provider = \"openai\"\nmodel = \"x\"\ncadence_secs = 1\n", "cadence_secs"),
            ("provider = \"openai\"\nmodel = \"x\"\ntemperature = 9.0\n", "temperature"),
            ("provider = \"openai\"\nmodel = \"x\"\nmax_usd_per_day = \"5\"\n", "cost table"),
            ("provider = \"openai\"\nmodel = \"x\"\nstructured_output = \"xml\"\n", "xml"),
            ("provider = \"openai\"\nmodel = \"x\"\napi_key = \"sk-1\"\n", "api_key"),
        ] {
            let e = params(text).unwrap_err();
            assert!(e.contains(needle), "{text:?} gave {e}");
        }
    }

    #[test]
    fn cost_is_exact() {
        let p = params(
            "provider = \"openai\"\nmodel = \"x\"\ninput_usd_per_mtok = \"2.5\"\noutput_usd_per_mtok = \"10\"\n",
        )
        .unwrap();
        assert_eq!(p.cost_usd(1_000_000, 500_000), Decimal::new(75, 1));
        assert_eq!(p.cost_usd(0, 0), Decimal::ZERO);
    }
}
