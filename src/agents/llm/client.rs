//! The chat-completions client: one call to an OpenAI-compatible endpoint through
//! `async-openai` (bring-your-own types), with our own retry layer and lenient response types.
//!
//! Why not the crate's defaults: its typed responses reject what real servers send (an unknown
//! `service_tier`, an empty `finish_reason`, a missing `object`), so answers are read into the
//! lenient structs below; `OpenAIConfig` silently reads `OPENAI_*` environment variables, so
//! [`EndpointConfig`] implements the config trait from the agent's own settings only; its
//! built-in retry layer can sleep past any deadline, so it is replaced by [`RetryService`],
//! which retries HTTP 429/5xx and failed connections with exponential backoff, honours
//! `Retry-After` (seconds, HTTP date, or `retry-after-ms`), and never sleeps past the call's
//! deadline. The caller still wraps the whole call in that deadline.
//!
//! Invariants: the API key only ever goes into the `Authorization` header (it is not in any
//! error message, log line or trace); every non-2xx answer becomes an error carrying its HTTP
//! status and the server's message, whatever JSON shape the server uses for errors; a 5xx
//! that complains about `response_format` is a rejection of the parameter, not an outage, and
//! is not retried.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::Client;
use async_openai::config::Config;
use async_openai::error::{ApiError, ApiErrorResponse, OpenAIError};
use async_openai::middleware::HttpRequestFactory;
use futures_util::StreamExt;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::config::{ApiKey, StructuredOutput};
use super::parse::ModelOutput;

/// Retry settings for one agent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        self.base.saturating_mul(2u32.saturating_pow(attempt)).min(self.max)
    }
}

/// What one call produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatOutcome {
    pub output: ModelOutput,
    /// Token counts the server reported (`None` when it reported none).
    pub usage: Option<TokenUsage>,
    /// Retries the call needed.
    pub retries: u32,
    /// The answer was streamed (SSE).
    pub streamed: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    pub input: u64,
    pub output: u64,
}

/// A failed call. Displays as `<code>: <what happened and what to do>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ChatError {
    pub code: &'static str,
    pub message: String,
    pub status: Option<u16>,
    /// The server refused the `response_format` parameter (try a weaker mode).
    pub rejects_format: bool,
}

/// Settings of one endpoint.
#[derive(Debug, Clone)]
pub struct ChatSettings {
    pub base_url: String,
    pub key: Option<ApiKey>,
    /// Name of the key's environment variable, for error messages (never the key).
    pub key_env: Option<String>,
    pub model: String,
    pub temperature: Option<f64>,
    pub max_tokens: u32,
    /// Send `max_completion_tokens` (OpenAI's current name) instead of `max_tokens`.
    pub max_completion_tokens: bool,
    pub stream: bool,
    pub retry: RetryPolicy,
}

/// A chat-completions client for one agent.
#[derive(Debug, Clone)]
pub struct ChatClient {
    http: reqwest::Client,
    settings: ChatSettings,
}

impl ChatClient {
    /// `http` should have a connect timeout; the per-call deadline bounds the rest.
    pub fn new(http: reqwest::Client, settings: ChatSettings) -> Self {
        Self { http, settings }
    }

    pub fn settings(&self) -> &ChatSettings {
        &self.settings
    }

    /// One decision call. `mode` must not be `Auto` (the caller picks the concrete mode).
    pub async fn complete(
        &self,
        system: &str,
        user: &str,
        mode: StructuredOutput,
        schema: &Value,
        deadline: Instant,
    ) -> Result<ChatOutcome, ChatError> {
        let s = &self.settings;
        let mut body = json!({
            "model": s.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "stream": s.stream,
        });
        let token_key = if s.max_completion_tokens { "max_completion_tokens" } else { "max_tokens" };
        body[token_key] = json!(s.max_tokens);
        if let Some(t) = s.temperature {
            body["temperature"] = json!(t);
        }
        if s.stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        match mode {
            StructuredOutput::JsonSchema | StructuredOutput::Auto => {
                body["response_format"] = json!({
                    "type": "json_schema",
                    "json_schema": {"name": "trading_decisions", "strict": true, "schema": schema},
                });
            }
            StructuredOutput::JsonObject => body["response_format"] = json!({"type": "json_object"}),
            StructuredOutput::None => {}
        }
        let trace = Arc::new(Mutex::new(RetryTrace::default()));
        let service = RetryService {
            http: self.http.clone(),
            policy: s.retry,
            deadline,
            trace: trace.clone(),
            format_requested: mode != StructuredOutput::None,
        };
        let config = EndpointConfig::new(&s.base_url, s.key.as_ref());
        let client = Client::build(self.http.clone(), config).with_http_service(service);
        let result = if s.stream {
            self.streamed(&client, body).await
        } else {
            client.chat().create_byot::<Value, ChatResponse>(body).await.map_err(|e| self.map_error(e)).and_then(|r| {
                if let Some(e) = r.error.as_ref().filter(|e| !e.is_null()) {
                    return Err(bad_response(format!("the server answered with an error object: {}", clip_value(e))));
                }
                let choice = r.choices.into_iter().next().ok_or_else(|| {
                    bad_response("the answer has no `choices`: is base_url an OpenAI-compatible /v1 endpoint?")
                })?;
                let msg = choice.message.unwrap_or_default();
                Ok(ChatOutcome {
                    output: ModelOutput {
                        content: msg.content_text(),
                        reasoning: msg.reasoning_text(),
                        refusal: msg.refusal.filter(|r| !r.trim().is_empty()),
                        finish_reason: choice.finish_reason.filter(|f| !f.is_empty()),
                    },
                    usage: r.usage.and_then(|u| u.tokens()),
                    retries: 0,
                    streamed: false,
                })
            })
        };
        let t = trace.lock().map(|t| t.clone()).unwrap_or_default();
        match result {
            Ok(mut outcome) => {
                outcome.retries = t.retries;
                Ok(outcome)
            }
            Err(mut e) => {
                if t.retries > 0 {
                    e.message = format!("{} (after {} retries)", e.message, t.retries);
                }
                if let Some(note) = t.gave_up {
                    e.message = format!("{}; {note}", e.message);
                }
                Err(e)
            }
        }
    }

    async fn streamed(&self, client: &Client<EndpointConfig>, body: Value) -> Result<ChatOutcome, ChatError> {
        let mut stream =
            client.chat().create_stream_byot::<Value, ChatResponse>(body).await.map_err(|e| self.map_error(e))?;
        let mut content = String::new();
        let mut reasoning = String::new();
        let mut refusal = String::new();
        let mut finish_reason = None;
        let mut usage = None;
        let mut chunks = 0usize;
        while let Some(item) = stream.next().await {
            let chunk = item.map_err(|e| self.map_error(e))?;
            chunks += 1;
            if let Some(e) = chunk.error.as_ref().filter(|e| !e.is_null()) {
                return Err(bad_response(format!("the stream carried an error: {}", clip_value(e))));
            }
            if let Some(u) = chunk.usage.and_then(|u| u.tokens()) {
                usage = Some(u);
            }
            for choice in chunk.choices {
                if let Some(d) = choice.delta.or(choice.message) {
                    content.push_str(&d.content_text());
                    reasoning.push_str(&d.reasoning_text());
                    if let Some(r) = d.refusal {
                        refusal.push_str(&r);
                    }
                }
                if let Some(f) = choice.finish_reason.filter(|f| !f.is_empty()) {
                    finish_reason = Some(f);
                }
            }
        }
        if chunks == 0 {
            return Err(bad_response(
                "the server sent no stream events: it may not support streaming (set stream = false)",
            ));
        }
        Ok(ChatOutcome {
            output: ModelOutput {
                content,
                reasoning,
                refusal: (!refusal.trim().is_empty()).then_some(refusal),
                finish_reason,
            },
            usage,
            retries: 0,
            streamed: true,
        })
    }

    fn map_error(&self, e: OpenAIError) -> ChatError {
        let s = &self.settings;
        match e {
            OpenAIError::ApiError(ApiErrorResponse { status_code, api_error }) => {
                let status = status_code.as_u16();
                let msg = clip(&api_error.message, 300);
                let rejects_format = matches!(status, 400 | 422 | 500 | 501) && mentions_format(&api_error.message)
                    || matches!(status, 400 | 422) && !mentions_other_param(&api_error.message);
                let (code, advice) = match status {
                    429 => {
                        ("rate_limited", "the provider rate-limits this key; a later cycle will try again".to_owned())
                    }
                    401 | 403 => (
                        "http_error",
                        match &s.key_env {
                            Some(v) => format!("check the API key in ${v}"),
                            None => "this endpoint wants an API key: set `api_key_env`".to_owned(),
                        },
                    ),
                    404 => ("http_error", format!("check base_url ({}) and model ({})", s.base_url, s.model)),
                    500..=599 => ("server_error", "the provider failed; a later cycle will try again".to_owned()),
                    _ => ("http_error", "the request was refused".to_owned()),
                };
                ChatError {
                    code,
                    message: format!("HTTP {status} from {}: {msg} ({advice})", s.base_url),
                    status: Some(status),
                    rejects_format,
                }
            }
            OpenAIError::Reqwest(e) => {
                let what = if e.is_timeout() {
                    "timed out"
                } else if e.is_connect() {
                    "cannot connect"
                } else {
                    "transport error"
                };
                ChatError {
                    code: if e.is_timeout() { "timeout" } else { "connection" },
                    message: format!("{what} to {}: {} (is the server running and base_url right?)", s.base_url, e),
                    status: None,
                    rejects_format: false,
                }
            }
            OpenAIError::JSONDeserialize(e, body) => bad_response(format!(
                "the answer is not chat-completions JSON ({e}); it starts with: {}",
                clip(&body, 200)
            )),
            OpenAIError::StreamError(e) => bad_response(format!("the stream broke: {e}")),
            other => bad_response(other.to_string()),
        }
    }
}

fn bad_response(message: impl Into<String>) -> ChatError {
    ChatError { code: "bad_response", message: message.into(), status: None, rejects_format: false }
}

fn mentions_format(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["response_format", "json_schema", "json_object", "structured", "grammar", "guided"].iter().any(|k| m.contains(k))
}

/// A 400 that names another parameter (model, messages, max_tokens...) is not about the format.
fn mentions_other_param(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["model", "max_tokens", "max_completion_tokens", "temperature", "messages", "context length", "api key"]
        .iter()
        .any(|k| m.contains(k))
        && !mentions_format(message)
}

fn clip(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max { format!("{}…", flat.chars().take(max).collect::<String>()) } else { flat }
}

fn clip_value(v: &Value) -> String {
    clip(&v.to_string(), 300)
}

// ------------------------------------------------------------------ config

/// The endpoint and key of one agent, and nothing from the environment.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    base_url: String,
    key: SecretString,
    has_key: bool,
}

impl EndpointConfig {
    pub fn new(base_url: &str, key: Option<&ApiKey>) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            key: SecretString::from(key.map(|k| k.expose().to_owned()).unwrap_or_default()),
            has_key: key.is_some(),
        }
    }
}

impl Config for EndpointConfig {
    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if self.has_key {
            use secrecy::ExposeSecret;
            // A key with characters a header cannot carry is sent as no key (the server then
            // answers 401, which names the variable to check).
            if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {}", self.key.expose_secret())) {
                v.set_sensitive(true);
                headers.insert(AUTHORIZATION, v);
            }
        }
        headers
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    fn query(&self) -> Vec<(&str, &str)> {
        Vec::new()
    }

    fn api_base(&self) -> &str {
        &self.base_url
    }

    fn api_key(&self) -> &SecretString {
        &self.key
    }
}

// ------------------------------------------------------------------ retries

#[derive(Debug, Clone, Default)]
struct RetryTrace {
    retries: u32,
    gave_up: Option<String>,
}

/// Executes requests with retries on 429/5xx/connection failures, within a deadline.
#[derive(Clone)]
struct RetryService {
    http: reqwest::Client,
    policy: RetryPolicy,
    deadline: Instant,
    trace: Arc<Mutex<RetryTrace>>,
    format_requested: bool,
}

type ServiceFuture = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

impl tower::Service<HttpRequestFactory> for RetryService {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = ServiceFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.run(factory).await })
    }
}

/// Longest error body read (error messages are short; a proxy's HTML page is not).
const MAX_ERROR_BODY: usize = 16 * 1024;

impl RetryService {
    async fn run(self, factory: HttpRequestFactory) -> Result<reqwest::Response, OpenAIError> {
        let mut attempt: u32 = 0;
        loop {
            let request = factory.build().await?;
            let failure = match self.http.execute(request).await {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status();
                    let hint = retry_after(resp.headers());
                    let body = read_limited(resp).await;
                    let error = api_error(status, &body);
                    let retryable = status.as_u16() == 429 || status.is_server_error();
                    let format_rejection = self.format_requested && mentions_format(&body);
                    if !retryable || format_rejection {
                        return Err(error);
                    }
                    (error, hint)
                }
                Err(e) if e.is_connect() => (OpenAIError::Reqwest(e), None),
                Err(e) => return Err(OpenAIError::Reqwest(e)),
            };
            let (error, hint) = failure;
            if attempt >= self.policy.max_retries {
                return Err(error);
            }
            let delay = hint.unwrap_or_else(|| self.policy.backoff(attempt));
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            if delay >= remaining {
                if let Ok(mut t) = self.trace.lock() {
                    t.gave_up = Some(format!(
                        "not retried: waiting {:.1} s{} would pass the deadline ({:.1} s left)",
                        delay.as_secs_f64(),
                        if hint.is_some() { " as Retry-After asks" } else { "" },
                        remaining.as_secs_f64()
                    ));
                }
                return Err(error);
            }
            tokio::time::sleep(delay).await;
            attempt += 1;
            if let Ok(mut t) = self.trace.lock() {
                t.retries = attempt;
            }
        }
    }
}

async fn read_limited(resp: reqwest::Response) -> String {
    let mut resp = resp;
    let mut buf: Vec<u8> = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_ERROR_BODY.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buf.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// An error with the server's message, whichever JSON shape it uses: OpenAI's
/// `{"error": {"message"}}`, vLLM's `{"message"}`, `{"error": "text"}`, `{"detail"}`, or text.
fn api_error(status: reqwest::StatusCode, body: &str) -> OpenAIError {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let pick = |v: &Value| -> Option<String> {
        let e = v.get("error");
        e.and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| e.and_then(Value::as_str).map(str::to_owned))
            .or_else(|| v.get("message").and_then(Value::as_str).map(str::to_owned))
            .or_else(|| v.get("detail").map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_owned)))
    };
    let message = parsed.as_ref().and_then(pick).unwrap_or_else(|| {
        let t = body.trim();
        if t.is_empty() { status.canonical_reason().unwrap_or("no message").to_owned() } else { clip(t, 300) }
    });
    OpenAIError::ApiError(ApiErrorResponse {
        status_code: status,
        api_error: ApiError { message, ..ApiError::default() },
    })
}

/// `Retry-After` (seconds or HTTP date) or `retry-after-ms`, capped at one hour.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let cap = Duration::from_secs(3600);
    if let Some(ms) =
        headers.get("retry-after-ms").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64((ms / 1000.0).min(3600.0)));
    }
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(v).ok()?;
    let ms = at.as_millisecond() - jiff::Timestamp::now().as_millisecond();
    Some(Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(0)).min(cap))
}

// ------------------------------------------------------------------ lenient answers

/// A chat completion or a stream chunk, read leniently: every field optional, unknown fields
/// ignored, enums as plain strings.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ChatResponse {
    choices: Vec<ChoiceBody>,
    usage: Option<UsageBody>,
    error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ChoiceBody {
    message: Option<MessageBody>,
    delta: Option<MessageBody>,
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MessageBody {
    /// A string, or a list of content parts (`[{"type": "text", "text": ...}]`).
    content: Option<Value>,
    /// DeepSeek, vLLM, llama.cpp.
    reasoning_content: Option<Value>,
    /// OpenRouter, Ollama, newer vLLM.
    reasoning: Option<Value>,
    /// OpenRouter's structured reasoning blocks.
    reasoning_details: Option<Value>,
    refusal: Option<String>,
}

impl MessageBody {
    fn content_text(&self) -> String {
        self.content.as_ref().map(value_text).unwrap_or_default()
    }

    fn reasoning_text(&self) -> String {
        let mut out = String::new();
        for v in [&self.reasoning_content, &self.reasoning].into_iter().flatten() {
            let t = value_text(v);
            if !t.is_empty() && !out.contains(&t) {
                out.push_str(&t);
            }
        }
        if out.is_empty()
            && let Some(d) = &self.reasoning_details
        {
            out = value_text(d);
        }
        out
    }
}

/// Text of a content value: a string, or the `text`/`summary`/`content` of each part.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().map(value_text).collect::<Vec<_>>().join(""),
        Value::Object(o) => ["text", "summary", "content", "reasoning"]
            .iter()
            .find_map(|k| o.get(*k).filter(|x| !x.is_null()))
            .map(value_text)
            .unwrap_or_default(),
        _ => String::new(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UsageBody {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

impl UsageBody {
    fn tokens(&self) -> Option<TokenUsage> {
        let input = self.prompt_tokens.or(self.input_tokens);
        let output = self.completion_tokens.or(self.output_tokens);
        (input.is_some() || output.is_some())
            .then(|| TokenUsage { input: input.unwrap_or(0), output: output.unwrap_or(0) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_answers_read_what_real_servers_send() {
        let body = r#"{"id":"x","object":null,"service_tier":"on_demand","choices":[{"index":0,"finish_reason":"",
            "message":{"role":"assistant","content":[{"type":"text","text":"[]"}],"reasoning_content":"hmm"}}],
            "usage":{"prompt_tokens":10,"completion_tokens":5}}"#;
        let r: ChatResponse = serde_json::from_str(body).unwrap();
        let m = r.choices[0].message.as_ref().unwrap();
        assert_eq!(m.content_text(), "[]");
        assert_eq!(m.reasoning_text(), "hmm");
        assert_eq!(r.usage.unwrap().tokens(), Some(TokenUsage { input: 10, output: 5 }));
    }

    #[test]
    fn error_bodies_of_every_shape_keep_status_and_message() {
        for body in [
            r#"{"error":{"message":"bad response_format","type":"invalid_request_error"}}"#,
            r#"{"object":"error","message":"bad response_format","code":400}"#,
            r#"{"error":"bad response_format"}"#,
            r#"{"detail":"bad response_format"}"#,
            "bad response_format",
        ] {
            match api_error(reqwest::StatusCode::BAD_REQUEST, body) {
                OpenAIError::ApiError(e) => {
                    assert_eq!(e.status_code.as_u16(), 400);
                    assert_eq!(e.api_error.message, "bad response_format", "{body}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "a date in the past means now");
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
        assert_eq!(
            RetryPolicy { max_retries: 9, base: Duration::from_millis(500), max: Duration::from_secs(8) }.backoff(10),
            Duration::from_secs(8)
        );
    }

    #[test]
    fn the_key_is_only_in_the_header() {
        let key = ApiKey::new("sk-very-secret");
        let c = EndpointConfig::new("http://x/v1/", Some(&key));
        assert_eq!(c.url("/chat/completions"), "http://x/v1/chat/completions");
        assert!(c.headers()[AUTHORIZATION].is_sensitive());
        assert!(!format!("{c:?}").contains("very-secret"));
        assert!(EndpointConfig::new("http://x/v1", None).headers().is_empty());
    }
}
