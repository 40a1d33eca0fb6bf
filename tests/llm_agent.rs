//! LLM agents against a loopback fake of an OpenAI-compatible server: well-formed answers turn
//! into fills through a real driver and paper venue; every kind of bad answer, HTTP failure,
//! hang, stream and budget limit ends as the documented reply; the engine pauses an agent
//! after repeated failures; the worker answers every request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod llm_fake;

use std::sync::Arc;

use alphatx::agents::llm::{LlmAgent, LlmParams, LlmSetup, StructuredOutput, run_worker};
use alphatx::clock::ManualClock;
use alphatx::domain::{AgentId, Bar, Instrument, MarketData, MarketEvent, Symbol};
use alphatx::engine::journal::JournalRecord;
use alphatx::engine::request::AgentRequest;
use alphatx::engine::state::AgentDriver;
use alphatx::engine::{AgentReply, AgentSpec, Driver, Durability, Engine, EngineConfig};
use alphatx::execution::ExecutionClient;
use alphatx::execution::paper::{PaperConfig, PaperExchange};
use alphatx::market::candles::CandleInput;
use alphatx::risk::RiskGate;
use llm_fake::{FakeLlm, Reply};
use rust_decimal::Decimal;
use rust_decimal::dec;
use serde_json::Value;

const MIN: i64 = 60_000;

fn btc() -> Symbol {
    Symbol::new("BTCUSDT").unwrap()
}

fn alice() -> AgentId {
    AgentId::new("alice").unwrap()
}

/// An engine with one slow (LLM) agent on BTC, warmed with `minutes` of bars near 60,000.
fn warm_driver(cadence_ms: i64, minutes: i64) -> Driver {
    let inst = Instrument::perp(btc(), "BTC", dec!(0.1), dec!(0.001), 50);
    let clock = ManualClock::new(0);
    let mut paper = PaperExchange::new(
        PaperConfig { synthetic_spread_bps: 0.0, impact_bps: 0.0, max_impact_bps: 0.0 },
        vec![inst.clone()],
        1,
    );
    paper.open_account(alice(), dec!(10000));
    let spec = AgentSpec {
        id: alice(),
        driver: AgentDriver::Remote { kind: "fake-model".into(), cadence_ms, next_due_ms: None, in_flight: None },
        benchmark: false,
        symbols: vec![btc()],
        balance: dec!(10000),
        limits: None,
    };
    let config = EngineConfig { candle_input: CandleInput::Bars, ..EngineConfig::default() };
    let engine = Engine::new(config, vec![inst], vec![spec], RiskGate::default(), Arc::new(clock.clone()));
    let mut d = Driver::new(engine, Box::new(paper), Some(clock), Durability::Direct);
    for m in 0..minutes {
        d.on_market(bar(m));
    }
    d
}

fn bar(minute: i64) -> MarketEvent {
    let p = dec!(60000) + Decimal::from(minute % 7);
    MarketEvent {
        ts_ms: (minute + 1) * MIN,
        symbol: btc(),
        data: MarketData::Bar(Bar {
            open_ms: minute * MIN,
            interval_ms: MIN,
            open: p,
            high: p + dec!(5),
            low: p - dec!(5),
            close: p,
            volume: dec!(50),
        }),
    }
}

fn request(d: &mut Driver) -> AgentRequest {
    d.tick();
    let mut r = d.take_requests();
    assert_eq!(r.len(), 1, "one request for the warm, idle agent");
    r.pop().unwrap()
}

fn no_proxy() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn key_env(var: &str) -> Option<String> {
    (var == "FAKE_LLM_KEY").then(|| "test-key".to_owned())
}

fn agent(fake: &FakeLlm, extra: &str) -> LlmAgent {
    let text = format!(
        "base_url = \"{}\"\nmodel = \"fake-model\"\napi_key_env = \"FAKE_LLM_KEY\"\n\
         input_usd_per_mtok = \"2.5\"\noutput_usd_per_mtok = \"10\"\n{extra}",
        fake.base_url
    );
    let params: LlmParams = toml::from_str(&text).unwrap();
    params.validate().unwrap();
    let setup = LlmSetup {
        config_dir: None,
        budget_dir: None,
        env: &key_env,
        wall_clock: Arc::new(|| 1_735_689_600_000),
        http: Some(no_proxy()),
    };
    let key = params.resolve_key(key_env).unwrap();
    LlmAgent::new(alice(), params, key, dec!(10), &setup).unwrap()
}

const ENTRY: &str = r#"{"signal":"buy_to_enter","coin":"BTC","quantity":0.05,"leverage":3,"profit_target":62000,"stop_loss":59000,"invalidation_condition":"BTC closes below 58500 on 4h close","confidence":0.7,"risk_usd":50,"justification":"breakout above the range"}"#;

fn wrapped(items: &str) -> String {
    format!(r#"{{"reasoning":"BTC is coiling under resistance","decisions":[{items}]}}"#)
}

async fn ask(fake: &FakeLlm, extra: &str, reply: Reply) -> AgentReply {
    fake.push(reply);
    let mut d = warm_driver(3 * MIN, 300);
    let req = request(&mut d);
    agent(fake, extra).decide(req).await
}

fn error_of(reply: &AgentReply) -> String {
    reply.decision.clone().expect_err("the answer must be refused")
}

#[tokio::test]
async fn a_well_formed_decision_becomes_a_fill_with_its_exit_plan() {
    let fake = FakeLlm::start(vec![Reply::Content(wrapped(ENTRY))]).await;
    let mut d = warm_driver(3 * MIN, 300);
    let req = request(&mut d);
    let reply = agent(&fake, "").decide(req).await;
    let decision = reply.decision.clone().unwrap();
    assert!(decision.reasoning.starts_with("BTC is coiling"), "{}", decision.reasoning);
    // What went over the wire is a real chat-completions request.
    let sent = &fake.received()[0];
    assert_eq!(sent.authorization.as_deref(), Some("Bearer test-key"));
    assert_eq!(sent.body["model"], "fake-model");
    assert_eq!(sent.body["response_format"]["type"], "json_schema");
    assert_eq!(sent.body["response_format"]["json_schema"]["strict"], true);
    assert_eq!(sent.body["stream"], false);
    let system = sent.body["messages"][0]["content"].as_str().unwrap();
    let user = sent.body["messages"][1]["content"].as_str().unwrap();
    assert!(system.contains("buy_to_enter") && system.contains("BTC"));
    assert!(user.contains("OLDEST → NEWEST") && user.contains("### ALL BTC DATA"));
    // What the engine stores about the cycle.
    let meta = &reply.meta;
    assert_eq!((meta.input_tokens, meta.output_tokens), (1200, 150));
    assert!((meta.cost_usd - 0.0045).abs() < 1e-12, "{}", meta.cost_usd);
    assert!(
        meta.prompt.as_deref().unwrap().contains("### system") && meta.prompt.as_deref().unwrap().contains("### user")
    );
    assert!(meta.raw_response.as_deref().unwrap().contains("buy_to_enter"));
    // The engine turns it into an order, a fill and a protected position.
    d.agent_reply(reply);
    let account = d.engine.account(alice()).unwrap();
    assert_eq!(account.qty(btc()), dec!(0.05));
    let resting = d.exec().venue_open_orders();
    assert_eq!(resting.len(), 2, "stop-loss and take-profit rest at the venue");
    let snap = d.engine.snapshot();
    let plan = snap.agents[0].positions[0].plan.clone().unwrap();
    assert_eq!((plan.stop_loss, plan.profit_target), (Some(dec!(59000)), Some(dec!(62000))));
    assert_eq!(plan.rationale, "breakout above the range");
    let record = d
        .take_journal()
        .into_iter()
        .find_map(|r| match r {
            JournalRecord::Decision(d) => Some(d),
            _ => None,
        })
        .unwrap();
    assert_eq!(record.source, "llm");
    assert!(record.prompt.is_some() && record.raw_response.is_some());
    assert_eq!(record.input_tokens, 1200);
}

#[tokio::test]
async fn the_next_request_shows_the_position_with_its_exit_plan_and_rationale() {
    let fake = FakeLlm::start(vec![Reply::Content(wrapped(ENTRY)), Reply::Content("[]".into())]).await;
    let mut d = warm_driver(3 * MIN, 300);
    let a = agent(&fake, "");
    let reply = a.decide(request(&mut d)).await;
    d.agent_reply(reply);
    for m in 300..304 {
        d.on_market(bar(m));
    }
    let reply = a.decide(request(&mut d)).await;
    assert!(reply.decision.unwrap().proposals.is_empty(), "an empty list is a valid hold");
    let user = fake.received()[1].body["messages"][1]["content"].as_str().unwrap().to_owned();
    assert!(user.contains("BTC long: quantity 0.05"), "{user}");
    assert!(user.contains("stop_loss 59000") && user.contains("profit_target 62000"), "{user}");
    assert!(user.contains("invalidation_condition: BTC closes below 58500 on 4h close"), "{user}");
    assert!(user.contains("because: breakout above the range"), "{user}");
    assert!(user.contains("buy_to_enter") || user.contains("long BTCUSDT"), "recent decisions: {user}");
    // The system prompt is stored in full once, then by hash.
    let second = reply.meta.prompt.unwrap();
    assert!(second.contains("unchanged") && !second.contains("# ACTION SPACE"), "{second}");
}

#[tokio::test]
async fn fenced_json_think_blocks_prose_and_both_shapes_are_accepted() {
    let fake = FakeLlm::start(Vec::new()).await;
    let map = format!("{{\"BTC\": {ENTRY}}}");
    for content in [
        format!("```json\n{}\n```", wrapped(ENTRY)),
        format!("<think>RSI is rising; the range top is 60010.</think>\n{}", wrapped(ENTRY)),
        format!("Looking at the data, BTC is about to break out.\n\n{}\n\nThat is my decision.", wrapped(ENTRY)),
        format!("[{ENTRY}]"),
        map,
    ] {
        let reply = ask(&fake, "", Reply::Content(content.clone())).await;
        let d = reply.decision.unwrap_or_else(|e| panic!("{content}: {e}"));
        assert_eq!(d.proposals.len(), 1, "{content}");
        assert_eq!(d.proposals[0].quantity, dec!(0.05));
        if content.starts_with("<think>") {
            assert!(d.reasoning.contains("RSI is rising"), "{}", d.reasoning);
        }
        if content.starts_with("Looking") {
            assert!(d.reasoning.starts_with("BTC is coiling"), "{}", d.reasoning);
            assert!(d.reasoning.contains("about to break out"), "{}", d.reasoning);
        }
    }
}

#[tokio::test]
async fn bad_answers_hold_with_their_reason() {
    let fake = FakeLlm::start(Vec::new()).await;
    let truncated = wrapped(ENTRY);
    let truncated = &truncated[..truncated.len() / 2];
    for (reply, code) in [
        (Reply::Content(truncated.to_owned()), "truncated"),
        (Reply::Refusal("I can't help with trading decisions.".into()), "refusal"),
        (Reply::Content("I'm sorry, but I cannot provide financial advice.".into()), "refusal"),
        (Reply::Content(wrapped(&ENTRY.replace("\"BTC\"", "\"DOGE\""))), "unknown_coin"),
        (Reply::Content(wrapped(&ENTRY.replace("0.05", "500"))), "absurd_size"),
        (Reply::Content(wrapped(&ENTRY.replace("0.05", "1e20"))), "bad_number"),
        (Reply::Content(wrapped(&ENTRY.replace("59000", "61000"))), "wrong_side"),
        (Reply::Content(wrapped(&ENTRY.replace("\"leverage\":3", "\"leverage\":40"))), "leverage_above_cap"),
        (Reply::Content(wrapped(&ENTRY.replace("0.05", "\"0.05\""))), "wrong_type"),
        (Reply::Content(String::new()), "empty"),
        (Reply::Raw(serde_json::json!({"choices": []})), "bad_response"),
    ] {
        let what = format!("{reply:?}");
        let r = ask(&fake, "", reply).await;
        let e = error_of(&r);
        assert!(e.starts_with(code), "{what} gave {e}");
        if code != "bad_response" {
            assert!(r.meta.raw_response.is_some(), "the raw answer is kept for the ledger: {what}");
        }
    }
}

#[tokio::test]
async fn http_429_is_retried_after_retry_after() {
    let fake = FakeLlm::start(vec![
        Reply::Status { code: 429, message: "slow down".into(), headers: vec![("retry-after".into(), "1".into())] },
        Reply::Content(wrapped(ENTRY)),
    ])
    .await;
    let mut d = warm_driver(3 * MIN, 300);
    let reply = agent(&fake, "").decide(request(&mut d)).await;
    assert!(reply.decision.is_ok(), "{:?}", reply.decision);
    assert_eq!(fake.count(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_is_not_waited_for() {
    let fake = FakeLlm::start(vec![Reply::Status {
        code: 429,
        message: "rate limit".into(),
        headers: vec![("retry-after".into(), "120".into())],
    }])
    .await;
    let mut d = warm_driver(3 * MIN, 300);
    let reply = agent(&fake, "timeout_secs = 5").decide(request(&mut d)).await;
    let e = error_of(&reply);
    assert!(e.starts_with("rate_limited: HTTP 429") && e.contains("Retry-After") && e.contains("deadline"), "{e}");
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_hold() {
    let err = || Reply::Status { code: 500, message: "upstream exploded".into(), headers: Vec::new() };
    let fake = FakeLlm::start(vec![err(), err(), err()]).await;
    let mut d = warm_driver(3 * MIN, 300);
    let reply = agent(&fake, "max_retries = 2\nretry_backoff_ms = 10").decide(request(&mut d)).await;
    let e = error_of(&reply);
    assert!(
        e.starts_with("server_error: HTTP 500") && e.contains("upstream exploded") && e.contains("after 2 retries"),
        "{e}"
    );
    assert_eq!(fake.count(), 3);
}

#[tokio::test]
async fn a_hang_past_the_deadline_is_a_timeout_hold() {
    let reply = ask(&FakeLlm::start(Vec::new()).await, "timeout_secs = 1", Reply::Hang).await;
    let e = error_of(&reply);
    assert!(e.starts_with("timeout:") && e.contains("1 s"), "{e}");
}

#[tokio::test]
async fn a_streamed_answer_is_assembled_with_its_reasoning_and_usage() {
    let fake = FakeLlm::start(vec![Reply::WithReasoning {
        content: format!("```json\n{}\n```", wrapped(ENTRY)),
        reasoning: "The 4h EMA20 is above the EMA50.".into(),
    }])
    .await;
    let mut d = warm_driver(3 * MIN, 300);
    let reply = agent(&fake, "stream = true").decide(request(&mut d)).await;
    let body = &fake.received()[0].body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    let decision = reply.decision.clone().unwrap();
    assert_eq!(decision.proposals.len(), 1);
    assert!(decision.reasoning.contains("The 4h EMA20 is above the EMA50."), "{}", decision.reasoning);
    assert_eq!((reply.meta.input_tokens, reply.meta.output_tokens), (1200, 150));
    assert!(reply.meta.raw_response.unwrap().contains("<reasoning>"));
}

#[tokio::test]
async fn the_daily_token_budget_fails_closed() {
    let fake = FakeLlm::start(vec![Reply::Content("[]".into()), Reply::Content("[]".into())]).await;
    let mut d = warm_driver(3 * MIN, 300);
    let req = request(&mut d);
    let probe = agent(&fake, "max_tokens = 200");
    let rendered = probe.render(&req).unwrap();
    let estimate =
        (rendered.system.chars().count() as u64).div_ceil(3) + (rendered.user.chars().count() as u64).div_ceil(3);
    // Room for the first call (estimate + 200 output) but not for a second after it used 1,350.
    let limit = estimate + 200 + 100;
    let a = agent(&fake, &format!("max_tokens = 200\nmax_tokens_per_day = {limit}"));
    assert!(a.decide(req.clone()).await.decision.is_ok());
    let second = a.decide(req).await;
    let e = error_of(&second);
    assert!(e.starts_with("budget_exhausted:") && e.contains("max_tokens_per_day"), "{e}");
    assert_eq!(fake.count(), 1, "no call is made once the budget is spent");
    assert_eq!(a.budget().usage(1_735_689_600_000).tokens, 1350);
}

#[tokio::test]
async fn the_usd_budget_fails_closed_too() {
    let fake = FakeLlm::start(Vec::new()).await;
    let mut d = warm_driver(3 * MIN, 300);
    let a = agent(&fake, "max_usd_per_day = \"0.0001\"");
    let e = error_of(&a.decide(request(&mut d)).await);
    assert!(e.starts_with("budget_exhausted:") && e.contains("USD"), "{e}");
    assert_eq!(fake.count(), 0);
}

#[tokio::test]
async fn auto_structured_output_falls_back_when_the_server_rejects_it_and_remembers() {
    let fake = FakeLlm::start(vec![
        Reply::Status {
            code: 400,
            message: "response_format type must be one of \"text\" or \"json_object\"".into(),
            headers: Vec::new(),
        },
        Reply::Content(wrapped(ENTRY)),
        Reply::Content("[]".into()),
    ])
    .await;
    let mut d = warm_driver(3 * MIN, 300);
    let a = agent(&fake, "");
    let req = request(&mut d);
    assert!(a.decide(req.clone()).await.decision.is_ok());
    assert_eq!(a.structured_output(), StructuredOutput::JsonObject);
    assert!(a.decide(req).await.decision.is_ok());
    let types: Vec<Value> = fake.received().iter().map(|r| r.body["response_format"]["type"].clone()).collect();
    assert_eq!(types, vec![Value::from("json_schema"), Value::from("json_object"), Value::from("json_object")]);
}

#[tokio::test]
async fn an_explicit_mode_is_not_changed_and_prompt_only_sends_no_format() {
    let reject = || Reply::Status { code: 400, message: "json_schema is not supported".into(), headers: Vec::new() };
    let fake = FakeLlm::start(vec![reject()]).await;
    let mut d = warm_driver(3 * MIN, 300);
    let e = error_of(&agent(&fake, "structured_output = \"json_schema\"").decide(request(&mut d)).await);
    assert!(e.starts_with("http_error: HTTP 400") && e.contains("try \"auto\""), "{e}");
    fake.push(Reply::Content("[]".into()));
    let mut d = warm_driver(3 * MIN, 300);
    assert!(agent(&fake, "structured_output = \"none\"").decide(request(&mut d)).await.decision.is_ok());
    assert!(fake.received()[1].body.get("response_format").is_none());
}

#[tokio::test]
async fn repeated_failures_pause_the_agent_with_the_reason() {
    let fake = FakeLlm::start(Vec::new()).await;
    let a = agent(&fake, "max_retries = 0");
    let mut d = warm_driver(MIN, 300);
    for i in 0..5 {
        fake.push(Reply::Status { code: 503, message: "overloaded".into(), headers: Vec::new() });
        let req = request(&mut d);
        let reply = a.decide(req).await;
        d.agent_reply(reply);
        d.on_market(bar(300 + i));
    }
    let snap = d.engine.snapshot();
    let agent = &snap.agents[0];
    assert!(agent.paused);
    let why = agent.pause_reason.clone().unwrap();
    assert!(why.contains("5 failed replies") && why.contains("server_error: HTTP 503"), "{why}");
    assert_eq!(agent.stats.failures, 5);
    d.tick();
    assert!(d.take_requests().is_empty(), "a paused agent is not asked again");
}

#[tokio::test]
async fn the_worker_answers_every_request_concurrently() {
    let fake = FakeLlm::start(vec![Reply::Content("[]".into())]).await;
    let a = Arc::new(agent(&fake, ""));
    let (req_tx, req_rx) = tokio::sync::mpsc::channel(8);
    let (reply_tx, mut reply_rx) = tokio::sync::mpsc::channel(8);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(run_worker(vec![a], req_rx, reply_tx, shutdown.clone()));
    let mut d = warm_driver(3 * MIN, 300);
    let req = request(&mut d);
    let mut stranger = req.clone();
    stranger.agent = AgentId::new("bob").unwrap();
    stranger.request_id = 99;
    req_tx.send(stranger).await.unwrap();
    req_tx.send(req.clone()).await.unwrap();
    let mut replies = [reply_rx.recv().await.unwrap(), reply_rx.recv().await.unwrap()];
    replies.sort_by_key(|r| r.request_id);
    assert_eq!(replies[0].request_id, req.request_id);
    assert!(replies[0].decision.is_ok());
    assert_eq!(replies[1].agent.as_str(), "bob");
    assert!(replies[1].decision.clone().unwrap_err().starts_with("not_configured"));
    shutdown.cancel();
    worker.await.unwrap();
}
