//! Builders shared by the `store_*` integration tests: runs, orders, fills, journal records,
//! and a bounded wait for commit acknowledgements.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use alphatx::agents::{Decision, Proposal, Signal};
use alphatx::domain::{
    AgentId, Fill, Liquidity, Order, OrderId, OrderKind, OrderPurpose, OrderRequest, OrderStatus, Side, Symbol,
};
use alphatx::engine::journal::{
    CommandRecord, DecisionRecord, EquityRecord, JournalRecord, PlanRecord, ProposalOutcome, RefusalRecord,
    StateChangeRecord,
};
use alphatx::engine::state::ExitPlan;
use alphatx::execution::ExecEvent;
use alphatx::risk::{RefusalCode, TradingState};
use alphatx::store::{LedgerAck, NewAgent, NewRun};
use rust_decimal::Decimal;
use rust_decimal::dec;
use tokio::sync::mpsc::UnboundedReceiver;

pub fn agent(name: &str) -> AgentId {
    AgentId::new(name).unwrap()
}

pub fn sym(name: &str) -> Symbol {
    Symbol::new(name).unwrap()
}

pub fn alice() -> AgentId {
    agent("alice")
}

pub fn bob() -> AgentId {
    agent("bob")
}

pub fn btc() -> Symbol {
    sym("BTCUSDT")
}

pub fn eth() -> Symbol {
    sym("ETHUSDT")
}

pub fn new_run(profile: &str) -> NewRun {
    NewRun {
        profile: profile.into(),
        source: "sim".into(),
        seed: Some(u64::MAX - 7),
        config_toml: "[sim]\nseed = 7\n".into(),
        started_ms: 1_700_000_000_000,
        sim_start_ms: Some(1_699_000_000_000),
        agents: vec![
            NewAgent {
                id: alice(),
                kind: "trend".into(),
                benchmark: false,
                symbols: vec![btc(), eth()],
                balance: dec!(10000),
            },
            NewAgent {
                id: bob(),
                kind: "buy_and_hold".into(),
                benchmark: true,
                symbols: vec![btc()],
                balance: dec!(5000.50),
            },
        ],
    }
}

pub fn request(id: u64, agent: AgentId, symbol: Symbol, side: Side, qty: Decimal, kind: OrderKind) -> OrderRequest {
    OrderRequest {
        id: OrderId(id),
        agent,
        symbol,
        side,
        qty,
        kind,
        reduce_only: false,
        leverage: dec!(3),
        purpose: OrderPurpose::Entry,
        stop_loss: None,
        take_profit: None,
    }
}

pub fn order(req: OrderRequest, ts_ms: i64) -> Order {
    Order { request: req, status: OrderStatus::Open, filled_qty: Decimal::ZERO, created_ms: ts_ms, updated_ms: ts_ms }
}

pub fn accepted(req: OrderRequest, ts_ms: i64) -> ExecEvent {
    ExecEvent::Accepted { order: order(req, ts_ms) }
}

#[allow(clippy::too_many_arguments)]
pub fn fill(
    trade_id: u64,
    order_id: u64,
    agent: AgentId,
    symbol: Symbol,
    side: Side,
    qty: Decimal,
    price: Decimal,
    ts_ms: i64,
) -> Fill {
    Fill {
        venue: "paper".into(),
        trade_id,
        order_id: OrderId(order_id),
        agent,
        symbol,
        side,
        qty,
        price,
        fee: (qty * price * dec!(0.0005)).round_dp(8),
        liquidity: Liquidity::Taker,
        purpose: OrderPurpose::Entry,
        liquidation: false,
        ts_ms,
    }
}

pub fn filled(fill: Fill, status: OrderStatus) -> ExecEvent {
    ExecEvent::Filled { fill, leverage: dec!(3), status }
}

pub fn proposal(symbol: Symbol) -> Proposal {
    Proposal {
        signal: Signal::BuyToEnter,
        symbol,
        quantity: dec!(0.5),
        leverage: dec!(3),
        profit_target: Some(dec!(110)),
        stop_loss: Some(dec!(95.5)),
        invalidation_condition: Some("close below 90".into()),
        confidence: 0.73,
        risk_usd: Some(dec!(2.25)),
        justification: "trend up, RSI 61".into(),
    }
}

pub fn decision(id: u64, agent: AgentId, ts_ms: i64) -> DecisionRecord {
    DecisionRecord {
        id,
        agent,
        ts_ms,
        source: "llm".into(),
        decision: Decision {
            reasoning: format!("=SUM(A1) decision {id}, \"quoted\", multi\nline"),
            proposals: vec![proposal(btc())],
        },
        outcomes: vec![ProposalOutcome::Submitted { order: OrderId(id * 10) }],
        error: None,
        latency_ms: 1234,
        prompt: Some(format!("prompt {id}")),
        raw_response: Some("{\"signal\":\"buy_to_enter\"}".into()),
        input_tokens: 1500,
        output_tokens: 200,
        cost_usd: 0.0125,
        adjustment: None,
    }
}

pub fn refusal(agent: AgentId, ts_ms: i64, order_id: u64) -> RefusalRecord {
    RefusalRecord {
        agent,
        ts_ms,
        decision_id: Some(3),
        code: RefusalCode::InsufficientMargin,
        message: "needs 500, 20 available".into(),
        request: request(order_id, agent, btc(), Side::Buy, dec!(2), OrderKind::Market),
    }
}

pub fn equity(agent: AgentId, ts_ms: i64, equity: Decimal) -> EquityRecord {
    EquityRecord { agent, ts_ms, equity, cash: equity - dec!(1.5), unrealized_pnl: dec!(1.5) }
}

pub fn state(agent: Option<AgentId>, ts_ms: i64, paused: bool, state: TradingState) -> StateChangeRecord {
    StateChangeRecord {
        ts_ms,
        agent,
        paused,
        pause_reason: paused.then(|| "operator".into()),
        reduce_only: !paused,
        breaker_state: state,
        kill_switch_ms: agent.is_none().then_some(ts_ms),
        state,
        reason: format!("changed at {ts_ms}"),
    }
}

pub fn plan(symbol: Symbol, stop: Decimal, ts_ms: i64) -> ExitPlan {
    ExitPlan {
        symbol,
        stop_loss: Some(stop),
        profit_target: Some(stop * dec!(1.2)),
        invalidation: Some("below the 4h low".into()),
        invalidation_level: None,
        rationale: "breakout".into(),
        confidence: 0.61,
        stop_order: Some(OrderId(77)),
        target_order: None,
        decision_id: Some(5),
        opened_ms: ts_ms,
    }
}

pub fn plan_record(agent: AgentId, symbol: Symbol, plan: Option<ExitPlan>, ts_ms: i64) -> JournalRecord {
    JournalRecord::Plan(PlanRecord { ts_ms, agent, symbol, plan })
}

pub fn command(ts_ms: i64, what: &str) -> JournalRecord {
    JournalRecord::Command(CommandRecord { ts_ms, command: what.into(), result: "ok".into() })
}

/// Waits for `n` acks (failing the test, not hanging it, if they do not come).
pub fn wait_acks(rx: &mut UnboundedReceiver<LedgerAck>, n: usize) -> Vec<LedgerAck> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match rx.try_recv() {
            Ok(ack) => out.push(ack),
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                assert!(Instant::now() < deadline, "only {} of {n} acks arrived: {out:?}", out.len());
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("ack channel closed after {} of {n} acks: {e}", out.len()),
        }
    }
    out
}

/// A read-only connection of its own, as another process would open it.
pub fn reader(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

pub fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}
