//! Fuzzing the LLM output path end to end: generated model answers go through the parser, the
//! engine's validation and the risk gate of a real driver with a paper venue.
//!
//! * 1,500 answers that are malformed by construction (each carries at least one defect the
//!   contract forbids) must all be refused and produce no order;
//! * 1,500 mixed answers (valid, malformed, garbage, decorated) must never produce an order
//!   outside the limits: every entry the venue accepts has leverage within the cap, a notional
//!   within equity × cap, a stop and a target on the correct sides;
//! * nothing panics.
//!
//! The generator is seeded, so a failure reproduces exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use alphatx::agents::llm::{ModelOutput, ParseContext, parse_decision};
use alphatx::clock::ManualClock;
use alphatx::domain::{AgentId, Bar, Instrument, MarketData, MarketEvent, OrderPurpose, Symbol};
use alphatx::engine::request::AgentRequest;
use alphatx::engine::state::AgentDriver;
use alphatx::engine::{AgentReply, AgentSpec, Command, Driver, Durability, Engine, EngineConfig, ReplyMeta};
use alphatx::execution::paper::{PaperConfig, PaperExchange};
use alphatx::execution::{ExecEvent, ExecutionClient};
use alphatx::market::candles::CandleInput;
use alphatx::risk::{RiskGate, RiskLimits};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use rust_decimal::dec;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value, json};

const MIN: i64 = 60_000;
const CAP: u32 = 10;

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

fn agent_id() -> AgentId {
    AgentId::new("fuzzy").unwrap()
}

struct Harness {
    driver: Driver,
    request: AgentRequest,
    ctx: ParseContext,
}

fn harness() -> Harness {
    let insts = vec![
        Instrument::perp(sym("BTCUSDT"), "BTC", dec!(0.1), dec!(0.001), 50),
        Instrument::perp(sym("ETHUSDT"), "ETH", dec!(0.01), dec!(0.001), 50),
    ];
    let clock = ManualClock::new(0);
    let mut paper = PaperExchange::new(
        PaperConfig { synthetic_spread_bps: 1.0, impact_bps: 5.0, max_impact_bps: 50.0 },
        insts.clone(),
        1,
    );
    paper.open_account(agent_id(), dec!(10000));
    let spec = AgentSpec {
        id: agent_id(),
        driver: AgentDriver::Remote { kind: "fuzz".into(), cadence_ms: MIN, next_due_ms: None, in_flight: None },
        benchmark: false,
        symbols: vec![sym("BTCUSDT"), sym("ETHUSDT")],
        balance: dec!(10000),
        limits: None,
    };
    // Never pause: every answer must reach the engine's validation and the gate.
    let config = EngineConfig { candle_input: CandleInput::Bars, pause_after_failures: 0, ..EngineConfig::default() };
    // Breakers and re-entry guards off: every answer must be judged by the gate on its own
    // merits, not stopped wholesale by a tripped breaker.
    let gate = RiskGate::new(RiskLimits {
        max_leverage: Decimal::from(CAP),
        stop_out_cooldown_min: 0,
        min_reversal_min: 0,
        max_consecutive_losses: 0,
        max_refusal_rate_pct: 100.0,
        refusal_window: 10_000,
        daily_loss_limit_pct: 100.0,
        max_drawdown_pct: 100.0,
        max_orders_per_minute: 1_000,
        ..RiskLimits::default()
    });
    let engine = Engine::new(config, insts, vec![spec], gate, Arc::new(clock.clone()));
    let mut driver = Driver::new(engine, Box::new(paper), Some(clock), Durability::Direct);
    for m in 0..300 {
        for (s, p) in [("BTCUSDT", dec!(60000)), ("ETHUSDT", dec!(3000))] {
            let p = p + Decimal::from(m % 5);
            driver.on_market(MarketEvent {
                ts_ms: (m + 1) * MIN,
                symbol: sym(s),
                data: MarketData::Bar(Bar {
                    open_ms: m * MIN,
                    interval_ms: MIN,
                    open: p,
                    high: p + dec!(2),
                    low: p - dec!(2),
                    close: p,
                    volume: dec!(100),
                }),
            });
        }
    }
    driver.tick();
    let request = driver.take_requests().pop().expect("a request for the warm agent");
    let ctx = ParseContext::from_request(&request, Decimal::from(CAP));
    driver.take_journal();
    driver.take_venue_log();
    Harness { driver, request, ctx }
}

fn price(coin: &str) -> f64 {
    if coin == "BTC" { 60004.0 } else { 3004.0 }
}

/// A valid entry or hold for a random coin.
fn valid_item(rng: &mut ChaCha8Rng) -> Map<String, Value> {
    let coin = if rng.random::<bool>() { "BTC" } else { "ETH" };
    let p = price(coin);
    let long = rng.random::<bool>();
    let notional = 100.0 + rng.random::<f64>() * 3000.0;
    let qty = ((notional / p) * 1000.0).ceil() / 1000.0;
    let (stop, target) = if long { (p * 0.98, p * 1.03) } else { (p * 1.02, p * 0.97) };
    let item = json!({
        "signal": if long { "buy_to_enter" } else { "sell_to_enter" },
        "coin": coin,
        "quantity": qty,
        "leverage": rng.random_range(1..=CAP),
        "profit_target": (target * 100.0).round() / 100.0,
        "stop_loss": (stop * 100.0).round() / 100.0,
        "invalidation_condition": format!("{coin} closes beyond {:.0}", stop),
        "confidence": rng.random::<f64>(),
        "risk_usd": (qty * (p - stop).abs() * 100.0).round() / 100.0,
        "justification": "fuzz",
    });
    item.as_object().unwrap().clone()
}

const DEFECTS: usize = 17;

/// One answer with at least one contract violation.
fn malformed(rng: &mut ChaCha8Rng) -> (String, usize) {
    let mut item = valid_item(rng);
    let coin = item["coin"].as_str().unwrap().to_owned();
    let p = price(&coin);
    let long = item["signal"] == "buy_to_enter";
    let defect = rng.random_range(0..DEFECTS);
    let wrong_types = [json!("1.5"), json!(true), json!([1]), json!({"v": 1})];
    match defect {
        0 => {
            let bad = ["DOGE", "", "BTCX", "XBT", "SOL", "btc usdt perp"];
            item.insert("coin".into(), json!(bad[rng.random_range(0..bad.len())]));
        }
        1 => {
            let bad = ["buy", "long", "BUY_TO_ENTER_NOW", "", "sell", "open"];
            item.insert("signal".into(), json!(bad[rng.random_range(0..bad.len())]));
        }
        2 => {
            let key = ["quantity", "leverage", "stop_loss", "profit_target", "confidence"][rng.random_range(0..5)];
            item.insert(key.into(), wrong_types[rng.random_range(0..wrong_types.len())].clone());
        }
        3 => {
            item.insert("quantity".into(), json!(-(rng.random::<f64>() * 10.0)));
        }
        4 => {
            let key = ["quantity", "stop_loss", "profit_target", "leverage"][rng.random_range(0..4)];
            item.insert(key.into(), json!(1e12 * (1.0 + rng.random::<f64>() * 1e6)));
        }
        5 => {
            // More than equity × cap of notional.
            let qty = 10000.0 * f64::from(CAP) / p * (1.05 + rng.random::<f64>() * 100.0);
            item.insert("quantity".into(), json!(qty));
        }
        6 => {
            let lev = if rng.random::<bool>() {
                f64::from(CAP) + 1.0 + rng.random::<f64>() * 100.0
            } else {
                rng.random::<f64>() * 0.99
            };
            item.insert("leverage".into(), json!(lev));
        }
        7 => {
            let wrong =
                if long { p * (1.0 + rng.random::<f64>() * 0.1) } else { p * (1.0 - rng.random::<f64>() * 0.1) };
            item.insert("stop_loss".into(), json!(wrong));
        }
        8 => {
            let wrong =
                if long { p * (1.0 - rng.random::<f64>() * 0.1) } else { p * (1.0 + rng.random::<f64>() * 0.1) };
            item.insert("profit_target".into(), json!(wrong));
        }
        9 => {
            let key = ["stop_loss", "profit_target", "invalidation_condition", "confidence", "quantity", "leverage"]
                [rng.random_range(0..6)];
            if rng.random::<bool>() {
                item.remove(key);
            } else {
                item.insert(key.into(), Value::Null);
            }
        }
        10 => {
            let c = if rng.random::<bool>() { 1.0 + rng.random::<f64>() * 10.0 } else { -rng.random::<f64>() };
            item.insert("confidence".into(), json!(c));
        }
        11 => {
            let text = json!({"decisions": [item]}).to_string();
            let cut = rng.random_range(1..text.len() - 1);
            return (text[..cut].to_owned(), defect);
        }
        12 => {
            let mut twin = item.clone();
            twin.insert("signal".into(), json!("hold"));
            return (json!({"decisions": [item, twin]}).to_string(), defect);
        }
        13 => {
            let shapes =
                [json!(42), json!("buy BTC"), json!([[item]]), json!({"decisions": 5}), json!({"BTC": [item]})];
            return (shapes[rng.random_range(0..shapes.len())].to_string(), defect);
        }
        14 => {
            let text = json!({"decisions": [item]}).to_string();
            let lit = ["NaN", "Infinity", "-Infinity", "1e999", "0x10"][rng.random_range(0..5)];
            let v = item["quantity"].to_string();
            return (text.replacen(&v, lit, 1), defect);
        }
        15 => {
            let len = rng.random_range(0..200);
            let garbage: String = (0..len)
                .map(|_| char::from_u32(rng.random_range(0x20..0x3000)).unwrap_or('?'))
                .filter(|c| !matches!(c, '{' | '['))
                .collect();
            return (garbage, defect);
        }
        _ => {
            // The decision only inside a think block: no answer.
            return (format!("<think>{}</think>", json!({"decisions": [item]})), defect);
        }
    }
    (decorate(rng, json!({"decisions": [item]}).to_string()), defect)
}

/// Wraps an answer the way models do: fences, prose, think blocks, map form.
fn decorate(rng: &mut ChaCha8Rng, json_text: String) -> String {
    match rng.random_range(0..5) {
        0 => json_text,
        1 => format!("```json\n{json_text}\n```"),
        2 => format!("Here is my analysis of the market.\n{json_text}\nLet me know."),
        3 => format!("<think>Considering {{ BTC and [ETH.</think>{json_text}"),
        _ => format!("<thinking>quick</thinking>\n\n```\n{json_text}\n```\n"),
    }
}

/// Anything: valid, malformed, hold-only, empty.
fn mixed(rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..6) {
        0 | 1 => {
            let a = valid_item(rng);
            let mut b = valid_item(rng);
            let items = if a["coin"] != b["coin"] && rng.random::<bool>() {
                vec![Value::Object(a), Value::Object(b)]
            } else {
                b.clear();
                vec![Value::Object(a)]
            };
            decorate(rng, json!({"reasoning": "mixed", "decisions": items}).to_string())
        }
        2 => {
            let a = valid_item(rng);
            let coin = a["coin"].as_str().unwrap().to_owned();
            decorate(rng, json!({ coin: a }).to_string())
        }
        3 => decorate(rng, "[]".into()),
        _ => malformed(rng).0,
    }
}

struct Tally {
    ok: usize,
    refused: usize,
    entries: usize,
}

/// Sends one answer through parser → engine → gate → venue; checks every accepted entry.
fn run_case(h: &mut Harness, text: &str, tally: &mut Tally) -> bool {
    let equity = h.driver.engine.snapshot().agents[0].equity;
    let parsed = parse_decision(&ModelOutput { content: text.to_owned(), ..ModelOutput::default() }, &h.ctx);
    let accepted_by_parser = parsed.is_ok();
    if let Ok(d) = &parsed {
        tally.ok += 1;
        for p in &d.proposals {
            assert!(
                p.quantity >= Decimal::ZERO && p.leverage >= Decimal::ONE && p.leverage <= Decimal::from(CAP),
                "{text}"
            );
            assert!((0.0..=1.0).contains(&p.confidence), "{text}");
        }
    } else {
        tally.refused += 1;
    }
    h.driver.agent_reply(AgentReply {
        agent: agent_id(),
        request_id: h.request.request_id,
        decision: parsed.map_err(|e| e.to_string()),
        meta: ReplyMeta::default(),
    });
    for ev in h.driver.take_venue_log() {
        if let ExecEvent::Accepted { order } = ev
            && order.request.purpose == OrderPurpose::Entry
        {
            tally.entries += 1;
            assert!(accepted_by_parser, "an order from a refused answer: {text}");
            let r = &order.request;
            assert!(
                r.leverage >= Decimal::ONE && r.leverage <= Decimal::from(CAP),
                "leverage {} from {text}",
                r.leverage
            );
            let px = if r.symbol.as_str() == "BTCUSDT" { dec!(60010) } else { dec!(3010) };
            assert!(r.qty > Decimal::ZERO, "{text}");
            assert!(r.qty * px <= equity * Decimal::from(CAP), "notional {} on equity {equity}: {text}", r.qty * px);
        }
    }
    // Check the protective orders of any new position, then reset for the next case.
    let snap = h.driver.engine.snapshot();
    for pos in &snap.agents[0].positions {
        let plan = pos.plan.as_ref().expect("every position has an exit plan");
        let (stop, target) = (plan.stop_loss.unwrap(), plan.profit_target.unwrap());
        let entry = pos.entry_price;
        let long = pos.side == alphatx::domain::Side::Buy;
        let slack = entry * dec!(0.01);
        assert!(
            if long {
                stop < entry + slack && target > entry - slack
            } else {
                stop > entry - slack && target < entry + slack
            },
            "{text}"
        );
    }
    h.driver.command(Command::FlattenAgent { agent: agent_id() });
    h.driver.take_venue_log();
    h.driver.take_journal();
    accepted_by_parser
}

#[test]
fn malformed_answers_are_all_refused_and_never_trade() {
    let mut h = harness();
    let mut rng = ChaCha8Rng::seed_from_u64(0x000A_1FA7);
    let mut tally = Tally { ok: 0, refused: 0, entries: 0 };
    let mut per_defect = [0usize; DEFECTS];
    for _ in 0..1500 {
        let (text, defect) = malformed(&mut rng);
        per_defect[defect] += 1;
        let accepted = run_case(&mut h, &text, &mut tally);
        assert!(!accepted, "defect {defect} was accepted: {text}");
    }
    assert_eq!(tally.refused, 1500);
    assert_eq!(tally.entries, 0);
    assert!(per_defect.iter().all(|n| *n > 40), "every defect is exercised: {per_defect:?}");
    let acc = h.driver.engine.account(agent_id()).unwrap();
    assert!(acc.positions.is_empty() && acc.cash.to_f64().unwrap() == 10000.0, "nothing traded: {acc:?}");
}

#[test]
fn mixed_answers_never_produce_an_order_outside_the_limits() {
    let mut h = harness();
    let mut rng = ChaCha8Rng::seed_from_u64(0xBEEF);
    let mut tally = Tally { ok: 0, refused: 0, entries: 0 };
    for _ in 0..1500 {
        let text = mixed(&mut rng);
        run_case(&mut h, &text, &mut tally);
    }
    // The run must exercise both sides: real entries and real refusals.
    assert!(tally.entries > 200, "entries: {}", tally.entries);
    assert!(tally.refused > 200 && tally.ok > 200, "ok {} refused {}", tally.ok, tally.refused);
}
