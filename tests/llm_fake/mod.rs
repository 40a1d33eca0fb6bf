//! A loopback fake of an OpenAI-compatible chat-completions server (axum on 127.0.0.1:0) for
//! the LLM tests. It speaks the documented wire format: `POST /v1/chat/completions` with a JSON
//! body, a `chat.completion` JSON answer or, when the request says `"stream": true`,
//! `text/event-stream` with `data: {chat.completion.chunk}` events and `data: [DONE]`; errors
//! as `{"error": {"message", "type", "code"}}` with their HTTP status and headers.
//!
//! Each request pops the next scripted [`Reply`]; when the script is empty the fake answers
//! with [`Reply::Brain`], a tiny rule-based trader that reads the prompt (so a whole arena can
//! run against it). Every request is recorded for assertions.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with this assistant message text (streamed if the request asked for a stream).
    Content(String),
    /// 200 with message text plus a separate reasoning field (`reasoning_content`).
    WithReasoning { content: String, reasoning: String },
    /// 200 with an OpenAI structured-output refusal.
    Refusal(String),
    /// 200 with this exact JSON body.
    Raw(Value),
    /// An HTTP error with a JSON error body and extra headers.
    Status { code: u16, message: String, headers: Vec<(String, String)> },
    /// Never answers within any test deadline.
    Hang,
    /// Answers from the prompt: buy the first coin when flat, hold otherwise.
    Brain,
}

/// What the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: Value,
    pub authorization: Option<String>,
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Reply>,
    received: Vec<Received>,
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Inner>>);

/// A running fake server.
pub struct FakeLlm {
    pub base_url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl FakeLlm {
    /// Starts on 127.0.0.1 with an ephemeral port.
    pub async fn start(script: Vec<Reply>) -> Self {
        Self::start_on("127.0.0.1:0", script).await
    }

    pub async fn start_on(addr: &str, script: Vec<Reply>) -> Self {
        let shared = Shared(Arc::new(Mutex::new(Inner { script: script.into(), received: Vec::new() })));
        let app = Router::new().route("/v1/chat/completions", post(chat)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind the fake LLM server");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base_url: format!("http://{addr}/v1"), shared, task }
    }

    pub fn push(&self, reply: Reply) {
        self.shared.0.lock().unwrap().script.push_back(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.0.lock().unwrap().received.clone()
    }

    pub fn count(&self) -> usize {
        self.shared.0.lock().unwrap().received.len()
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn chat(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(400, &format!("invalid JSON body: {e}"), &[]),
    };
    let reply = {
        let mut inner = shared.0.lock().unwrap();
        inner.received.push(Received {
            body: body.clone(),
            authorization: headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned),
        });
        inner.script.pop_front().unwrap_or(Reply::Brain)
    };
    if body.get("model").and_then(Value::as_str).is_none() || body.get("messages").and_then(Value::as_array).is_none() {
        return error(400, "`model` and `messages` are required", &[]);
    }
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    match reply {
        Reply::Content(c) => answer(stream, &c, None, None),
        Reply::WithReasoning { content, reasoning } => answer(stream, &content, Some(&reasoning), None),
        Reply::Refusal(r) => answer(stream, "", None, Some(&r)),
        Reply::Raw(v) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response(),
        Reply::Status { code, message, headers } => {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            error(code, &message, &h)
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            answer(stream, "[]", None, None)
        }
        Reply::Brain => answer(stream, &brain(&body), None, None),
    }
}

fn error(code: u16, message: &str, headers: &[(&str, &str)]) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}});
    let mut resp = (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    for (k, v) in headers {
        resp.headers_mut()
            .insert(header::HeaderName::from_bytes(k.as_bytes()).unwrap(), header::HeaderValue::from_str(v).unwrap());
    }
    resp
}

const PROMPT_TOKENS: u64 = 1200;
const COMPLETION_TOKENS: u64 = 150;

fn answer(stream: bool, content: &str, reasoning: Option<&str>, refusal: Option<&str>) -> Response {
    if !stream {
        let mut message = json!({"role": "assistant", "content": content});
        if let Some(r) = reasoning {
            message["reasoning_content"] = json!(r);
        }
        if let Some(r) = refusal {
            message["content"] = Value::Null;
            message["refusal"] = json!(r);
        }
        // Fields real servers send that strict clients choke on: an unknown service tier and
        // system fingerprint.
        let body = json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_735_689_600,
            "model": "fake-model",
            "service_tier": "on_demand",
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                      "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS},
        });
        return (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    }
    // SSE: role chunk, reasoning chunks, content in small pieces, finish chunk, usage chunk, DONE.
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_735_689_600,
               "model": "fake-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut events: Vec<String> = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null).to_string()];
    if let Some(r) = reasoning {
        for piece in split(r, 7) {
            events.push(chunk(json!({"reasoning_content": piece}), Value::Null).to_string());
        }
    }
    if let Some(r) = refusal {
        events.push(chunk(json!({"refusal": r}), Value::Null).to_string());
    }
    for piece in split(content, 5) {
        events.push(chunk(json!({"content": piece}), Value::Null).to_string());
    }
    events.push(chunk(json!({}), json!("stop")).to_string());
    events.push(
        json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_735_689_600,
               "model": "fake-model", "choices": [],
               "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                         "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS}})
        .to_string(),
    );
    events.push("[DONE]".to_owned());
    let frames: Vec<Result<Bytes, Infallible>> =
        events.into_iter().map(|e| Ok(Bytes::from(format!("data: {e}\n\n")))).collect();
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(futures_util::stream::iter(frames)))
        .unwrap()
}

fn split(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(n.max(1)).map(|c| c.iter().collect()).collect()
}

/// A rule-based trader reading the user prompt: flat ⇒ long the first coin with a 1.5 % stop and
/// a 2 % target (about 1,000 USDT notional at 2×); otherwise hold.
fn brain(body: &Value) -> String {
    let user = body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("");
    let coin = user.split("### ALL ").nth(1).and_then(|s| s.split(' ').next()).unwrap_or("BTC");
    let price: f64 = user
        .split("current_price = ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0.0);
    if user.contains("none (you are flat)") && price > 0.0 {
        let qty = (1000.0 / price * 1000.0).floor() / 1000.0;
        let stop = (price * 0.985 * 100.0).round() / 100.0;
        let target = (price * 1.02 * 100.0).round() / 100.0;
        json!({
            "reasoning": format!("{coin} at {price}: flat, so I open a small long with a tight stop."),
            "decisions": [{
                "signal": "buy_to_enter", "coin": coin, "quantity": qty.max(0.001), "leverage": 2,
                "profit_target": target, "stop_loss": stop,
                "invalidation_condition": format!("{coin} closes below {stop}"),
                "confidence": 0.6, "risk_usd": (price - stop) * qty,
                "justification": format!("{coin} momentum test entry")
            }]
        })
        .to_string()
    } else {
        json!({"reasoning": "holding: the position's plan is intact", "decisions": []}).to_string()
    }
}
