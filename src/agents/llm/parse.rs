//! The output contract: turns a model's answer into a [`Decision`], or says exactly why not.
//!
//! Model output is untrusted input. The parser accepts what real models write — a list of
//! per-coin decisions, the Alpha-Arena map keyed by coin, a `{"decisions": [...]}` wrapper,
//! JSON inside Markdown fences or after prose, `<think>…</think>` blocks, a provider's separate
//! reasoning field — and rejects everything that is not a well-formed, plausible proposal:
//! unknown coins or signals, wrong JSON types, missing exit plans, non-finite or absurd
//! numbers, stops and targets on the wrong side of the price, leverage above the cap, sizes
//! the account could never carry. One bad proposal voids the whole answer (the agent holds
//! that cycle): acting on half of a confused answer is worse than waiting three minutes.
//!
//! Invariants: never panics on any input; every error carries a stable [`OutputErrorKind`]
//! code (counted per reason by the caller) and a message that says what was wrong; an empty
//! list (or map) is a valid hold; every returned entry has a positive quantity, a leverage in
//! `1..=cap`, a stop and a target on the correct sides of the current price, a notional no
//! larger than equity × cap, and a confidence in `[0, 1]`. The engine validates again and every
//! order still passes the risk gate.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value};

use crate::agents::{Decision, Proposal, Signal};
use crate::domain::{Price, Symbol};
use crate::engine::request::AgentRequest;

/// Largest magnitude accepted for any number in a proposal.
const MAX_ABS: f64 = 1e12;
/// Longest model text examined; beyond it the answer is refused as absurd.
const MAX_TEXT: usize = 512 * 1024;
/// Bound on the JSON scanner's work (character steps), so hostile text cannot stall a worker.
const MAX_SCAN_STEPS: usize = 4_000_000;
/// Longest reasoning kept for display and the ledger.
const MAX_REASONING: usize = 64 * 1024;

/// What the parser needs to know about the world.
#[derive(Debug, Clone)]
pub struct ParseContext {
    pub coins: Vec<CoinRef>,
    /// The agent's equity at request time (quote asset).
    pub equity: Decimal,
}

/// One tradable coin: how the model may name it, its price and its leverage cap.
#[derive(Debug, Clone)]
pub struct CoinRef {
    pub symbol: Symbol,
    pub base: String,
    pub price: Option<Price>,
    pub max_leverage: Decimal,
}

impl ParseContext {
    /// The coins of `request` with their mark (else last) price; the leverage cap is the lower
    /// of `max_leverage` and the venue's.
    pub fn from_request(request: &AgentRequest, max_leverage: Decimal) -> Self {
        let coins = request
            .markets
            .iter()
            .map(|m| CoinRef {
                symbol: m.instrument.symbol,
                base: m.instrument.base.clone(),
                price: m.mark.or(m.last),
                max_leverage: if m.instrument.is_perp() {
                    m.instrument.max_leverage.min(max_leverage).max(Decimal::ONE)
                } else {
                    Decimal::ONE
                },
            })
            .collect();
        Self { coins, equity: request.account.equity }
    }

    fn resolve(&self, name: &str) -> Option<&CoinRef> {
        let norm = normalize_coin(name);
        if norm.is_empty() {
            return None;
        }
        self.coins.iter().find(|c| {
            normalize_coin(&c.base) == norm
                || normalize_coin(c.symbol.as_str()) == norm
                || norm.strip_suffix("PERP").is_some_and(|b| normalize_coin(&c.base) == b)
        })
    }
}

fn normalize_coin(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

/// The assistant's answer as received.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelOutput {
    /// The message text (`choices[0].message.content`).
    pub content: String,
    /// A separate reasoning field (`reasoning_content`, `reasoning`, `reasoning_details`).
    pub reasoning: String,
    /// OpenAI's structured-output refusal.
    pub refusal: Option<String>,
    pub finish_reason: Option<String>,
}

/// Why an answer was not usable: a stable code for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutputErrorKind {
    Empty,
    Refusal,
    Truncated,
    NoJson,
    BadJson,
    BadShape,
    UnknownSignal,
    UnknownCoin,
    DuplicateCoin,
    WrongType,
    MissingField,
    BadNumber,
    AbsurdSize,
    WrongSide,
    LeverageAboveCap,
}

impl OutputErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputErrorKind::Empty => "empty",
            OutputErrorKind::Refusal => "refusal",
            OutputErrorKind::Truncated => "truncated",
            OutputErrorKind::NoJson => "no_json",
            OutputErrorKind::BadJson => "bad_json",
            OutputErrorKind::BadShape => "bad_shape",
            OutputErrorKind::UnknownSignal => "unknown_signal",
            OutputErrorKind::UnknownCoin => "unknown_coin",
            OutputErrorKind::DuplicateCoin => "duplicate_coin",
            OutputErrorKind::WrongType => "wrong_type",
            OutputErrorKind::MissingField => "missing_field",
            OutputErrorKind::BadNumber => "bad_number",
            OutputErrorKind::AbsurdSize => "absurd_size",
            OutputErrorKind::WrongSide => "wrong_side",
            OutputErrorKind::LeverageAboveCap => "leverage_above_cap",
        }
    }
}

/// An unusable answer. Displays as `<code>: <what was wrong>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", kind.as_str())]
pub struct OutputError {
    pub kind: OutputErrorKind,
    pub detail: String,
}

fn err(kind: OutputErrorKind, detail: impl Into<String>) -> OutputError {
    OutputError { kind, detail: detail.into() }
}

/// Parses and validates a model answer.
pub fn parse_decision(output: &ModelOutput, ctx: &ParseContext) -> Result<Decision, OutputError> {
    if let Some(r) = output.refusal.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        return Err(err(OutputErrorKind::Refusal, format!("the model refused: {}", clip(&sanitize(r), 300))));
    }
    if output.content.len() > MAX_TEXT {
        return Err(err(
            OutputErrorKind::BadShape,
            format!("the answer is {} bytes long; a decision fits in a few kB", output.content.len()),
        ));
    }
    let truncated_by_length = output.finish_reason.as_deref() == Some("length");
    let (think, rest) = split_think(&output.content);
    if rest.trim().is_empty() {
        return Err(if truncated_by_length {
            err(
                OutputErrorKind::Truncated,
                "the answer was cut off at max_tokens (finish_reason=length) before any JSON: raise max_tokens",
            )
        } else {
            err(OutputErrorKind::Empty, "the model returned no answer text")
        });
    }
    let (value, prose) = match extract_json(&rest) {
        Ok(found) => found,
        Err(e) if truncated_by_length => {
            return Err(err(
                OutputErrorKind::Truncated,
                format!("the answer was cut off at max_tokens (finish_reason=length): raise max_tokens ({})", e.detail),
            ));
        }
        Err(e) if e.kind == OutputErrorKind::NoJson && looks_like_refusal(&rest) => {
            return Err(err(
                OutputErrorKind::Refusal,
                format!("the model declined: {}", clip(&sanitize(rest.trim()), 300)),
            ));
        }
        Err(e) => return Err(e),
    };
    let (items, top_reasoning) = interpret(&value)?;
    let mut proposals = Vec::with_capacity(items.len());
    for item in &items {
        let p = validate_item(item, ctx)?;
        if proposals.iter().any(|q: &Proposal| q.symbol == p.symbol) {
            return Err(err(
                OutputErrorKind::DuplicateCoin,
                format!("{} appears twice: give one decision per coin", p.symbol),
            ));
        }
        proposals.push(p);
    }
    let reasoning = compose_reasoning(&proposals, top_reasoning.as_deref(), &prose, &think, &output.reasoning);
    Ok(Decision { reasoning, proposals })
}

/// A failure code at the start of a reply error (`"unknown_coin: ..."` → `unknown_coin`), for
/// counting failures per reason.
pub fn failure_code(error: &str) -> &str {
    let head = error.split(':').next().unwrap_or("");
    if !head.is_empty() && head.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        head
    } else {
        "other"
    }
}

fn compose_reasoning(proposals: &[Proposal], top: Option<&str>, prose: &str, think: &str, provider: &str) -> String {
    let prose = sanitize(prose.trim());
    let summary = if let Some(t) = top.map(str::trim).filter(|t| !t.is_empty()) {
        sanitize(t)
    } else if !prose.is_empty() {
        prose.split("\n\n").next().unwrap_or("").trim().to_owned()
    } else {
        let parts: Vec<String> = proposals
            .iter()
            .filter(|p| !p.justification.trim().is_empty())
            .map(|p| format!("{} {}: {}", p.signal.as_str(), p.symbol, p.justification.trim()))
            .collect();
        if parts.is_empty() {
            if proposals.iter().all(|p| p.signal == Signal::Hold) {
                "hold: no change".to_owned()
            } else {
                "no reasoning given".to_owned()
            }
        } else {
            parts.join("; ")
        }
    };
    let mut parts = vec![summary.replace('\n', " ")];
    if !prose.is_empty() && !parts[0].contains(prose.as_str()) {
        parts.push(prose.clone());
    }
    if !provider.trim().is_empty() {
        parts.push(format!("Reasoning:\n{}", sanitize(provider.trim())));
    }
    if !think.trim().is_empty() {
        parts.push(format!("Thinking:\n{}", sanitize(think.trim())));
    }
    clip(&parts.join("\n\n"), MAX_REASONING)
}

/// Replaces control characters (terminal escapes) except newlines and tabs.
pub fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { '\u{fffd}' } else { c }).collect()
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn looks_like_refusal(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["i can't", "i cannot", "i can not", "i'm sorry", "i am sorry", "i'm unable", "i am unable", "as an ai", "i won't"]
        .iter()
        .any(|p| t.contains(p))
}

// ------------------------------------------------------------------ think blocks

const THINK_TAGS: [&str; 3] = ["think", "thinking", "reasoning"];

/// Splits `<think>…</think>` (also `<thinking>`, `<reasoning>`) from the answer. An unclosed
/// opening tag swallows the rest (the model ran out of tokens while thinking); a closing tag
/// without an opening one (some chat templates put the opening tag in the prompt) ends the
/// thinking that started the text.
fn split_think(text: &str) -> (String, String) {
    let mut think = String::new();
    let mut rest = text.to_owned();
    for tag in THINK_TAGS {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        // Bounded: every iteration removes a tag.
        for _ in 0..64 {
            let lower = rest.to_ascii_lowercase();
            let o = lower.find(&open);
            let c = lower.find(&close);
            match (o, c) {
                (Some(o), Some(c)) if c > o => {
                    think.push_str(rest[o + open.len()..c].trim());
                    think.push('\n');
                    rest = format!("{}{}", &rest[..o], &rest[c + close.len()..]);
                }
                (Some(o), None) => {
                    think.push_str(rest[o + open.len()..].trim());
                    think.push('\n');
                    rest.truncate(o);
                }
                (_, Some(c)) => {
                    think.push_str(rest[..c].trim());
                    think.push('\n');
                    rest = rest[c + close.len()..].to_owned();
                }
                (None, None) => break,
            }
        }
    }
    (think.trim().to_owned(), rest)
}

// ------------------------------------------------------------------ JSON extraction

/// Finds the decision JSON in free text: the last top-level JSON object, or array of objects,
/// that parses. Returns it with the surrounding prose (fence markers removed).
fn extract_json(text: &str) -> Result<(Value, String), OutputError> {
    let bytes = text.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    // Brackets still open when the text ended.
    let mut unclosed: Vec<usize> = Vec::new();
    let mut steps = 0usize;
    let mut i = 0;
    while i < bytes.len() && steps < MAX_SCAN_STEPS {
        if bytes[i] == b'{' || bytes[i] == b'[' {
            match scan_balanced(bytes, i, &mut steps) {
                Scan::Closed(end) => {
                    spans.push((i, end));
                    i = end;
                    continue;
                }
                Scan::Unclosed => unclosed.push(i),
                Scan::Mismatched => {}
            }
        }
        i += 1;
        steps += 1;
    }
    let mut last_error: Option<String> = None;
    for &(start, end) in spans.iter().rev() {
        match serde_json::from_str::<Value>(&text[start..end]) {
            Ok(v) if is_decision_shaped(&v) => {
                // A complete value that is an element of a container cut off later (a list whose
                // end is missing) is a truncated answer, not a smaller one.
                if unclosed.iter().any(|&u| u < start && opens_container_of(&text[u + 1..start])) {
                    return Err(err(
                        OutputErrorKind::Truncated,
                        "the JSON is cut off: the list or object around the decisions is never closed",
                    ));
                }
                let prose = format!("{}\n{}", &text[..start], &text[end..]);
                return Ok((v, strip_fences(&prose)));
            }
            Ok(_) => {}
            Err(e) => {
                if last_error.is_none() {
                    last_error = Some(e.to_string());
                }
            }
        }
    }
    let last_span_start = spans.last().map(|s| s.0);
    if unclosed.iter().any(|&u| last_span_start.is_none_or(|s| u > s)) {
        return Err(err(OutputErrorKind::Truncated, "the JSON is cut off (a bracket is never closed)"));
    }
    match last_error {
        Some(e) => Err(err(OutputErrorKind::BadJson, format!("the JSON does not parse: {e}"))),
        None => Err(err(
            OutputErrorKind::NoJson,
            "no JSON decision found in the answer: reply with {\"decisions\": [...]} as the system prompt says",
        )),
    }
}

/// True when `between` (the text from an open bracket to a complete value) is JSON glue: the
/// value is the container's first element or follows a `,` or a `:`, possibly after other
/// complete elements — not prose that happens to contain a bracket.
fn opens_container_of(between: &str) -> bool {
    let t = between.trim_end();
    t.is_empty() || t.ends_with(',') || t.ends_with(':')
}

enum Scan {
    /// End (exclusive) of the balanced value.
    Closed(usize),
    /// The text ended (or the work bound was hit) with brackets still open.
    Unclosed,
    /// A closing bracket of the wrong kind: not JSON here.
    Mismatched,
}

/// Scans the JSON value starting at `start`, honouring strings and escapes.
fn scan_balanced(bytes: &[u8], start: usize, steps: &mut usize) -> Scan {
    let mut stack: Vec<u8> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut i = start;
    while i < bytes.len() {
        *steps += 1;
        if *steps > MAX_SCAN_STEPS {
            return Scan::Unclosed;
        }
        let b = bytes[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' => stack.push(b'}'),
                b'[' => stack.push(b']'),
                b'}' | b']' => {
                    if stack.pop() != Some(b) {
                        return Scan::Mismatched;
                    }
                    if stack.is_empty() {
                        return Scan::Closed(i + 1);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    Scan::Unclosed
}

fn is_decision_shaped(v: &Value) -> bool {
    match v {
        Value::Object(_) => true,
        Value::Array(items) => items.iter().all(Value::is_object),
        _ => false,
    }
}

fn strip_fences(prose: &str) -> String {
    let lines: Vec<&str> = prose.lines().filter(|l| !l.trim_start().starts_with("```")).collect();
    lines.join("\n").trim().to_owned()
}

// ------------------------------------------------------------------ shapes

const WRAPPER_KEYS: [&str; 6] = ["decisions", "actions", "trades", "orders", "positions", "signals"];
const REASONING_KEYS: [&str; 6] = ["reasoning", "summary", "analysis", "thoughts", "rationale", "commentary"];

/// One per-coin decision object, with the map key when the answer was keyed by coin.
struct RawItem<'a> {
    obj: &'a Map<String, Value>,
    key_coin: Option<&'a str>,
}

fn interpret(value: &Value) -> Result<(Vec<RawItem<'_>>, Option<String>), OutputError> {
    match value {
        Value::Array(items) => Ok((list_items(items)?, None)),
        Value::Object(obj) => {
            let reasoning = REASONING_KEYS.iter().find_map(|k| obj.get(*k).and_then(Value::as_str)).map(str::to_owned);
            if obj.contains_key("signal") {
                return Ok((vec![RawItem { obj, key_coin: None }], reasoning));
            }
            if let Some(inner) = WRAPPER_KEYS.iter().find_map(|k| obj.get(*k)) {
                return match inner {
                    Value::Array(items) => Ok((list_items(items)?, reasoning)),
                    Value::Object(map) => Ok((map_items(map)?, reasoning)),
                    Value::Null => Ok((Vec::new(), reasoning)),
                    other => Err(err(
                        OutputErrorKind::WrongType,
                        format!("`decisions` must be a list of objects, got {}", type_name(other)),
                    )),
                };
            }
            Ok((map_items(obj)?, reasoning))
        }
        other => {
            Err(err(OutputErrorKind::BadShape, format!("expected a JSON object or list, got {}", type_name(other))))
        }
    }
}

fn list_items(items: &[Value]) -> Result<Vec<RawItem<'_>>, OutputError> {
    items
        .iter()
        .map(|v| match v {
            Value::Object(obj) => Ok(RawItem { obj, key_coin: None }),
            other => Err(err(
                OutputErrorKind::WrongType,
                format!("each decision must be an object, got {}", type_name(other)),
            )),
        })
        .collect()
}

/// The Alpha-Arena form: `{"BTC": {...}, "ETH": {...}}` (reasoning keys aside).
fn map_items(map: &Map<String, Value>) -> Result<Vec<RawItem<'_>>, OutputError> {
    let mut out = Vec::new();
    for (k, v) in map {
        if REASONING_KEYS.contains(&k.as_str()) {
            continue;
        }
        match v {
            Value::Object(obj) => out.push(RawItem { obj, key_coin: Some(k.as_str()) }),
            other => {
                return Err(err(
                    OutputErrorKind::WrongType,
                    format!("`{}` must map to a decision object, got {}", clip(k, 40), type_name(other)),
                ));
            }
        }
    }
    Ok(out)
}

fn type_name(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {:?}", clip(s, 40)),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

// ------------------------------------------------------------------ one decision

fn validate_item(item: &RawItem<'_>, ctx: &ParseContext) -> Result<Proposal, OutputError> {
    let obj = item.obj;
    let signal = match obj.get("signal") {
        Some(Value::String(s)) => parse_signal(s)?,
        None | Some(Value::Null) => return Err(err(OutputErrorKind::MissingField, "a decision has no `signal`")),
        Some(other) => {
            return Err(err(
                OutputErrorKind::WrongType,
                format!("`signal` must be a string, got {}", type_name(other)),
            ));
        }
    };
    let named = match (item.key_coin, obj.get("coin").or_else(|| obj.get("symbol"))) {
        (_, Some(Value::String(s))) => s.as_str(),
        (Some(k), None | Some(Value::Null)) => k,
        (None, None | Some(Value::Null)) => {
            return Err(err(OutputErrorKind::MissingField, format!("a {} decision has no `coin`", signal.as_str())));
        }
        (_, Some(other)) => {
            return Err(err(OutputErrorKind::WrongType, format!("`coin` must be a string, got {}", type_name(other))));
        }
    };
    let known = || ctx.coins.iter().map(|c| c.base.as_str()).collect::<Vec<_>>().join(", ");
    let Some(coin) = ctx.resolve(named) else {
        return Err(err(
            OutputErrorKind::UnknownCoin,
            format!("unknown coin {:?}: this agent trades {}", clip(&sanitize(named), 40), known()),
        ));
    };
    if let (Some(key), Some(Value::String(inner))) = (item.key_coin, obj.get("coin"))
        && ctx.resolve(key).map(|c| c.symbol) != ctx.resolve(inner).map(|c| c.symbol)
    {
        return Err(err(
            OutputErrorKind::UnknownCoin,
            format!("the decision under {:?} names coin {:?}", clip(key, 40), clip(inner, 40)),
        ));
    }
    let justification = text_field(obj, "justification")?.unwrap_or_default();
    match signal {
        Signal::Hold => Ok(Proposal {
            signal,
            symbol: coin.symbol,
            quantity: Decimal::ZERO,
            leverage: Decimal::ONE,
            profit_target: None,
            stop_loss: None,
            invalidation_condition: None,
            confidence: lenient_confidence(obj),
            risk_usd: None,
            justification,
        }),
        Signal::ClosePosition => {
            let mut p = Proposal::close(coin.symbol, justification);
            p.confidence = lenient_confidence(obj);
            Ok(p)
        }
        Signal::BuyToEnter | Signal::SellToEnter => validate_entry(obj, signal, coin, ctx, justification),
    }
}

fn parse_signal(s: &str) -> Result<Signal, OutputError> {
    let norm = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    match norm.as_str() {
        "buy_to_enter" => Ok(Signal::BuyToEnter),
        "sell_to_enter" => Ok(Signal::SellToEnter),
        "hold" => Ok(Signal::Hold),
        // The Alpha Arena blog calls it `close`; its data says `close_position`.
        "close_position" | "close" => Ok(Signal::ClosePosition),
        _ => Err(err(
            OutputErrorKind::UnknownSignal,
            format!(
                "unknown signal {:?}: use buy_to_enter, sell_to_enter, hold or close_position",
                clip(&sanitize(s), 40)
            ),
        )),
    }
}

fn validate_entry(
    obj: &Map<String, Value>,
    signal: Signal,
    coin: &CoinRef,
    ctx: &ParseContext,
    justification: String,
) -> Result<Proposal, OutputError> {
    let what = format!("{} {}", signal.as_str(), coin.base);
    let quantity = required_number(obj, "quantity", &what)?;
    if quantity <= Decimal::ZERO {
        return Err(err(OutputErrorKind::BadNumber, format!("{what}: `quantity` must be positive, got {quantity}")));
    }
    let leverage = required_number(obj, "leverage", &what)?;
    if leverage < Decimal::ONE {
        return Err(err(OutputErrorKind::BadNumber, format!("{what}: `leverage` must be at least 1, got {leverage}")));
    }
    if leverage > coin.max_leverage {
        return Err(err(
            OutputErrorKind::LeverageAboveCap,
            format!("{what}: leverage {leverage} is above the cap of {}", coin.max_leverage),
        ));
    }
    let stop = required_number(obj, "stop_loss", &what)?;
    let target = required_number(obj, "profit_target", &what)?;
    for (name, v) in [("stop_loss", stop), ("profit_target", target)] {
        if v <= Decimal::ZERO {
            return Err(err(OutputErrorKind::BadNumber, format!("{what}: `{name}` must be a positive price, got {v}")));
        }
    }
    let Some(price) = coin.price else {
        return Err(err(OutputErrorKind::BadShape, format!("{what}: there is no price for {} this cycle", coin.base)));
    };
    let long = signal == Signal::BuyToEnter;
    let sides_ok = if long { stop < price && target > price } else { stop > price && target < price };
    if !sides_ok {
        let (s_side, t_side) = if long { ("below", "above") } else { ("above", "below") };
        return Err(err(
            OutputErrorKind::WrongSide,
            format!(
                "{what}: a {} needs stop_loss {s_side} and profit_target {t_side} the price {price}; got stop \
                 {stop}, target {target}",
                if long { "long" } else { "short" }
            ),
        ));
    }
    let notional = quantity.checked_mul(price).unwrap_or(Decimal::MAX);
    let ceiling = ctx.equity.max(Decimal::ZERO).checked_mul(coin.max_leverage).unwrap_or(Decimal::MAX);
    if notional > ceiling {
        return Err(err(
            OutputErrorKind::AbsurdSize,
            format!(
                "{what}: quantity {quantity} is {} notional, more than equity {} × max leverage {}",
                notional.round_dp(2),
                ctx.equity.round_dp(2),
                coin.max_leverage
            ),
        ));
    }
    let invalidation = match text_field(obj, "invalidation_condition")? {
        Some(t) if !t.trim().is_empty() => t,
        _ => {
            return Err(err(
                OutputErrorKind::MissingField,
                format!("{what}: an entry needs an `invalidation_condition` (the exit plan is mandatory)"),
            ));
        }
    };
    let confidence = match obj.get("confidence") {
        None | Some(Value::Null) => {
            return Err(err(OutputErrorKind::MissingField, format!("{what}: `confidence` (0 to 1) is missing")));
        }
        Some(Value::Number(n)) => match n.as_f64() {
            Some(c) if (0.0..=1.0).contains(&c) => c,
            _ => {
                return Err(err(
                    OutputErrorKind::BadNumber,
                    format!("{what}: `confidence` must be in [0, 1], got {n}"),
                ));
            }
        },
        Some(other) => {
            return Err(err(
                OutputErrorKind::WrongType,
                format!("{what}: `confidence` must be a number, got {}", type_name(other)),
            ));
        }
    };
    let risk_usd = optional_number(obj, "risk_usd", &what)?;
    if risk_usd.is_some_and(|r| r < Decimal::ZERO) {
        return Err(err(OutputErrorKind::BadNumber, format!("{what}: `risk_usd` must not be negative")));
    }
    Ok(Proposal {
        signal,
        symbol: coin.symbol,
        quantity,
        leverage,
        profit_target: Some(target),
        stop_loss: Some(stop),
        invalidation_condition: Some(invalidation),
        confidence,
        risk_usd,
        justification,
    })
}

fn required_number(obj: &Map<String, Value>, key: &str, what: &str) -> Result<Decimal, OutputError> {
    optional_number(obj, key, what)?
        .ok_or_else(|| err(OutputErrorKind::MissingField, format!("{what}: `{key}` is missing")))
}

fn optional_number(obj: &Map<String, Value>, key: &str, what: &str) -> Result<Option<Decimal>, OutputError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => number_to_decimal(n)
            .map(Some)
            .ok_or_else(|| err(OutputErrorKind::BadNumber, format!("{what}: `{key}` = {n} is not a usable number"))),
        Some(other) => {
            Err(err(OutputErrorKind::WrongType, format!("{what}: `{key}` must be a number, got {}", type_name(other))))
        }
    }
}

/// A JSON number as an exact decimal, if it is finite and of sane magnitude.
fn number_to_decimal(n: &serde_json::Number) -> Option<Decimal> {
    let f = n.as_f64()?;
    if !f.is_finite() || f.abs() >= MAX_ABS {
        return None;
    }
    let text = n.to_string();
    let d = if text.contains(['e', 'E']) { Decimal::from_scientific(&text).ok()? } else { text.parse().ok()? };
    Some(d.normalize())
}

fn text_field(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, OutputError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(clip(&sanitize(s.trim()), 4000))),
        Some(other) => {
            Err(err(OutputErrorKind::WrongType, format!("`{key}` must be a string, got {}", type_name(other))))
        }
    }
}

/// Holds and closes carry no risk: a malformed confidence there is ignored (shown as 0).
fn lenient_confidence(obj: &Map<String, Value>) -> f64 {
    obj.get("confidence").and_then(Value::as_f64).filter(|c| (0.0..=1.0).contains(c)).unwrap_or(0.0)
}

/// A JSON schema for `response_format` (OpenAI strict mode: every property required, nulls
/// allowed where the value is optional, no extra keys).
pub fn decision_schema(coins: &[String]) -> Value {
    let num_or_null = serde_json::json!({"type": ["number", "null"]});
    serde_json::json!({
        "type": "object",
        "properties": {
            "reasoning": {"type": "string", "description": "short analysis behind the decisions"},
            "decisions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "signal": {"type": "string", "enum": ["buy_to_enter", "sell_to_enter", "hold", "close_position"]},
                        "coin": {"type": "string", "enum": coins},
                        "quantity": {"type": "number"},
                        "leverage": {"type": "number"},
                        "profit_target": num_or_null,
                        "stop_loss": num_or_null,
                        "invalidation_condition": {"type": ["string", "null"]},
                        "confidence": {"type": "number"},
                        "risk_usd": num_or_null,
                        "justification": {"type": "string"}
                    },
                    "required": ["signal", "coin", "quantity", "leverage", "profit_target", "stop_loss",
                                 "invalidation_condition", "confidence", "risk_usd", "justification"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["reasoning", "decisions"],
        "additionalProperties": false
    })
}

/// Price as f64 for display helpers.
pub(crate) fn dec_f64(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn ctx() -> ParseContext {
        ParseContext {
            coins: vec![
                CoinRef {
                    symbol: Symbol::new("BTCUSDT").unwrap(),
                    base: "BTC".into(),
                    price: Some(dec!(60000)),
                    max_leverage: dec!(10),
                },
                CoinRef {
                    symbol: Symbol::new("ETHUSDT").unwrap(),
                    base: "ETH".into(),
                    price: Some(dec!(3000)),
                    max_leverage: dec!(10),
                },
            ],
            equity: dec!(10000),
        }
    }

    fn parse(content: &str) -> Result<Decision, OutputError> {
        parse_decision(&ModelOutput { content: content.into(), ..ModelOutput::default() }, &ctx())
    }

    const ENTRY: &str = r#"{"signal":"buy_to_enter","coin":"BTC","quantity":0.1,"leverage":5,"profit_target":62000,
        "stop_loss":59000,"invalidation_condition":"price closes below 58500","confidence":0.7,"risk_usd":100,
        "justification":"trend up"}"#;

    #[test]
    fn list_map_wrapper_and_single_forms() {
        let list = parse(&format!("[{ENTRY}]")).unwrap();
        assert_eq!(list.proposals.len(), 1);
        assert_eq!(list.proposals[0].quantity, dec!(0.1));
        assert_eq!(list.proposals[0].stop_loss, Some(dec!(59000)));
        let wrapped = parse(&format!("{{\"reasoning\":\"momentum\",\"decisions\":[{ENTRY}]}}")).unwrap();
        assert_eq!(wrapped.proposals, list.proposals);
        assert!(wrapped.reasoning.starts_with("momentum"));
        let map = parse(&format!("{{\"BTC\": {ENTRY}, \"ETH\": {{\"signal\":\"hold\"}}}}")).unwrap();
        assert_eq!(map.proposals.len(), 2);
        let single = parse(ENTRY).unwrap();
        assert_eq!(single.proposals, list.proposals);
    }

    #[test]
    fn empty_is_a_valid_hold() {
        for text in ["[]", "{}", "{\"decisions\": []}", "{\"decisions\": null, \"reasoning\": \"wait\"}"] {
            let d = parse(text).unwrap();
            assert!(d.proposals.is_empty(), "{text}");
        }
    }

    #[test]
    fn think_fences_and_prose_are_stripped_and_kept_as_reasoning() {
        let text =
            format!("<think>BTC looks strong {{not json</think>\nHere is my call:\n```json\n[{ENTRY}]\n```\nGood luck");
        let d = parse(&text).unwrap();
        assert_eq!(d.proposals.len(), 1);
        assert!(d.reasoning.starts_with("Here is my call:"), "{}", d.reasoning);
        assert!(d.reasoning.contains("Thinking:\nBTC looks strong"));
        assert!(!d.reasoning.contains("```"));
        // An orphan closing tag: everything before it was thinking.
        let d = parse(&format!("weighing options...</think>[{ENTRY}]")).unwrap();
        assert!(d.reasoning.contains("weighing options"));
    }

    #[test]
    fn each_rejection_has_its_code() {
        let entry = |patch: &str| ENTRY.replace("\"quantity\":0.1", patch);
        for (text, kind) in [
            (String::new(), OutputErrorKind::Empty),
            ("I'm sorry, I can't help with trading.".to_owned(), OutputErrorKind::Refusal),
            ("Let me think about it".to_owned(), OutputErrorKind::NoJson),
            (r#"[{"signal":"buy_to_enter","coin":"BTC","quantity":0.1"#.to_owned(), OutputErrorKind::Truncated),
            ("{\"decisions\": [1, 2]}".to_owned(), OutputErrorKind::WrongType),
            (ENTRY.replace("\"BTC\"", "\"DOGE\""), OutputErrorKind::UnknownCoin),
            (ENTRY.replace("buy_to_enter", "yolo"), OutputErrorKind::UnknownSignal),
            (entry("\"quantity\":\"0.1\""), OutputErrorKind::WrongType),
            (entry("\"quantity\":-1"), OutputErrorKind::BadNumber),
            (entry("\"quantity\":1e15"), OutputErrorKind::BadNumber),
            (entry("\"quantity\":1000"), OutputErrorKind::AbsurdSize),
            (ENTRY.replace("\"leverage\":5", "\"leverage\":50"), OutputErrorKind::LeverageAboveCap),
            (ENTRY.replace("59000", "61000"), OutputErrorKind::WrongSide),
            (ENTRY.replace("buy_to_enter", "sell_to_enter"), OutputErrorKind::WrongSide),
            (ENTRY.replace("\"stop_loss\":59000,", ""), OutputErrorKind::MissingField),
            (ENTRY.replace("\"price closes below 58500\"", "null"), OutputErrorKind::MissingField),
            (ENTRY.replace("0.7", "7"), OutputErrorKind::BadNumber),
            (format!("[{ENTRY},{ENTRY}]"), OutputErrorKind::DuplicateCoin),
            ("[{\"signal\": \"hold\"}]".to_owned(), OutputErrorKind::MissingField),
            ("42".to_owned(), OutputErrorKind::NoJson),
        ] {
            let e = parse(&text).unwrap_err();
            assert_eq!(e.kind, kind, "{text:?} gave {e}");
            assert!(e.to_string().starts_with(kind.as_str()), "{e}");
        }
    }

    #[test]
    fn a_cut_off_list_is_truncated_even_when_its_first_item_is_complete() {
        let e = parse(&format!("[{ENTRY}, {}", &ENTRY[..40])).unwrap_err();
        assert_eq!(e.kind, OutputErrorKind::Truncated);
        let e = parse(&format!("{{\"decisions\": [{ENTRY}")).unwrap_err();
        assert_eq!(e.kind, OutputErrorKind::Truncated);
        // A stray bracket in prose is not a container.
        let d = parse(&format!("RSI is in [30, 70) so I wait. {{\"decisions\": [{ENTRY}]}}")).unwrap();
        assert_eq!(d.proposals.len(), 1);
    }

    #[test]
    fn refusal_field_and_truncation_by_length() {
        let out = ModelOutput { refusal: Some("I can't assist".into()), ..ModelOutput::default() };
        assert_eq!(parse_decision(&out, &ctx()).unwrap_err().kind, OutputErrorKind::Refusal);
        let out = ModelOutput {
            content: "Thinking about BTC".into(),
            finish_reason: Some("length".into()),
            ..ModelOutput::default()
        };
        let e = parse_decision(&out, &ctx()).unwrap_err();
        assert_eq!(e.kind, OutputErrorKind::Truncated);
        assert!(e.detail.contains("max_tokens"));
    }

    #[test]
    fn provider_reasoning_is_kept() {
        let out = ModelOutput { content: "[]".into(), reasoning: "RSI is flat".into(), ..ModelOutput::default() };
        let d = parse_decision(&out, &ctx()).unwrap();
        assert!(d.reasoning.contains("RSI is flat"));
    }

    #[test]
    fn coin_names_resolve_loosely_but_exactly() {
        for name in ["BTC", "btc", "BTCUSDT", "BTC-PERP", "BTC/USDT"] {
            let d = parse(&ENTRY.replace("\"BTC\"", &format!("{name:?}"))).unwrap();
            assert_eq!(d.proposals[0].symbol.as_str(), "BTCUSDT", "{name}");
        }
        assert_eq!(parse(&ENTRY.replace("\"BTC\"", "\"BT\"")).unwrap_err().kind, OutputErrorKind::UnknownCoin);
    }

    #[test]
    fn failure_codes_are_read_back() {
        assert_eq!(failure_code("unknown_coin: DOGE"), "unknown_coin");
        assert_eq!(failure_code("timeout: no answer within 60 s"), "timeout");
        assert_eq!(failure_code("Something else: x"), "other");
    }
}
