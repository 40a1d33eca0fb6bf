//! A hand-built, fully deterministic engine snapshot for UI tests and benchmarks: a fixed
//! clock (2026-01-01 13:45:30 UTC), four agents (a rule agent in profit with positions and
//! orders, a paused losing one, an LLM agent with prompts and costs, and the buy-and-hold
//! baseline), three markets (SOL stale), risk limits, breakers and a reasoning log.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use alphatx::agents::{Decision, Proposal, Signal};
use alphatx::analytics::Metrics;
use alphatx::domain::{
    AgentId, ClosedTrade, Order, OrderId, OrderKind, OrderPurpose, OrderRequest, OrderStatus, Side, Symbol,
};
use alphatx::engine::event::{FeedState, FeedStats};
use alphatx::engine::journal::{DecisionRecord, ProposalOutcome};
use alphatx::engine::snapshot::{
    AgentSnapshot, BreakerEvent, BreakerView, Counters, Gauge, LimitView, LogEntry, LogKind, MarketSnapshot,
    PositionSnapshot, RiskSnapshot, Snapshot, SourceSnapshot, StoreSnapshot,
};
use alphatx::engine::state::{AgentStats, ExitPlan};
use alphatx::logging::{LogLevel, LogLine};
use alphatx::risk::{RefusalCode, TradingState};
use rust_decimal::Decimal;
use rust_decimal::dec;

/// 2026-01-01 13:45:30 UTC.
pub const NOW: i64 = 1_767_275_130_000;
const MIN: i64 = 60_000;

pub fn id(s: &str) -> AgentId {
    AgentId::new(s).unwrap()
}

pub fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

fn curve(start: f64, drift: f64, wiggle: f64, n: i64) -> Vec<(i64, f64)> {
    (0..n)
        .map(|i| {
            let x = i as f64;
            (NOW - (n - i) * 5 * MIN, start * (1.0 + drift * x / n as f64 + wiggle * (x / 7.0).sin()))
        })
        .collect()
}

fn metrics(start: f64, equity: f64, dd: f64, trades: u64, win: Option<f64>, sharpe: Option<f64>) -> Metrics {
    Metrics {
        start_equity: start,
        equity,
        total_return_pct: (equity / start - 1.0) * 100.0,
        sharpe,
        sortino: sharpe.map(|s| s * 1.3),
        max_drawdown_pct: dd,
        win_rate_pct: win,
        profit_factor: win.map(|w| w / 40.0),
        trades,
        trades_per_day: Some(trades as f64 / 2.0),
        fees: 12.5,
        fees_pct_of_gross: Some(8.0),
        exposure_pct: Some(61.0),
        days: 2.0,
    }
}

fn order(
    idn: u64,
    agent: &str,
    symbol: &str,
    side: Side,
    kind: OrderKind,
    purpose: OrderPurpose,
    qty: Decimal,
) -> Order {
    Order {
        request: OrderRequest {
            id: OrderId(idn),
            agent: id(agent),
            symbol: sym(symbol),
            side,
            qty,
            kind,
            reduce_only: purpose != OrderPurpose::Entry,
            leverage: dec!(3),
            purpose,
            stop_loss: None,
            take_profit: None,
        },
        status: OrderStatus::Open,
        filled_qty: Decimal::ZERO,
        created_ms: NOW - idn as i64 * MIN,
        updated_ms: NOW - idn as i64 * MIN,
    }
}

fn proposal(
    signal: Signal,
    symbol: &str,
    qty: Decimal,
    stop: Option<Decimal>,
    target: Option<Decimal>,
    why: &str,
) -> Proposal {
    Proposal {
        signal,
        symbol: sym(symbol),
        quantity: qty,
        leverage: dec!(3),
        profit_target: target,
        stop_loss: stop,
        invalidation_condition: Some("1h close below EMA50".into()),
        confidence: 0.72,
        risk_usd: Some(dec!(98.5)),
        justification: why.into(),
    }
}

fn decision(
    idn: u64,
    agent: &str,
    ts: i64,
    reasoning: &str,
    proposals: Vec<Proposal>,
    outcomes: Vec<ProposalOutcome>,
) -> Arc<DecisionRecord> {
    Arc::new(DecisionRecord {
        id: idn,
        agent: id(agent),
        ts_ms: ts,
        source: "rule".into(),
        decision: Decision { reasoning: reasoning.into(), proposals },
        outcomes,
        error: None,
        latency_ms: 0,
        prompt: None,
        raw_response: None,
        input_tokens: 0,
        output_tokens: 0,
        cost_usd: 0.0,
        adjustment: None,
    })
}

fn plan(symbol: &str, stop: Decimal, target: Decimal, why: &str) -> ExitPlan {
    ExitPlan {
        symbol: sym(symbol),
        stop_loss: Some(stop),
        profit_target: Some(target),
        invalidation: Some("1h close below EMA50".into()),
        invalidation_level: None,
        rationale: why.into(),
        confidence: 0.72,
        stop_order: Some(OrderId(41)),
        target_order: Some(OrderId(42)),
        decision_id: Some(7),
        opened_ms: NOW - 95 * MIN,
    }
}

#[allow(clippy::too_many_arguments)]
fn agent(
    name: &str,
    kind: &str,
    benchmark: bool,
    equity: Decimal,
    m: Metrics,
    curve: Vec<(i64, f64)>,
    positions: Vec<PositionSnapshot>,
    open_orders: Vec<Order>,
    history: Vec<Arc<DecisionRecord>>,
    recent_trades: Vec<ClosedTrade>,
) -> AgentSnapshot {
    AgentSnapshot {
        id: id(name),
        kind: kind.into(),
        benchmark,
        paused: false,
        pause_reason: None,
        state: TradingState::Active,
        reduce_only: false,
        unavailable: None,
        equity,
        cash: equity - dec!(1500),
        unrealized_pnl: positions.iter().map(|p| p.unrealized_pnl).sum(),
        realized_pnl: dec!(142.10),
        fees: dec!(12.50),
        gross_exposure: dec!(6200),
        metrics: m,
        equity_curve: curve,
        positions,
        open_orders,
        decisions: history.len() as u64,
        last_decision_ms: history.last().map(|d| d.ts_ms),
        refusals: BTreeMap::new(),
        gauges: vec![
            Gauge { name: "leverage".into(), value: 0.61, limit: 10.0, unit: "x".into() },
            Gauge { name: "margin used".into(), value: 21.0, limit: 100.0, unit: "%".into() },
        ],
        stats: AgentStats::default(),
        history,
        recent_trades,
    }
}

fn market(
    symbol: &str,
    base: &str,
    last: Decimal,
    change: f64,
    rsi: f64,
    trend: &'static str,
    stale: Option<i64>,
) -> MarketSnapshot {
    let l: f64 = last.to_string().parse().unwrap();
    MarketSnapshot {
        symbol: sym(symbol),
        base: base.into(),
        last: Some(last),
        bid: Some(last - dec!(0.1)),
        ask: Some(last + dec!(0.1)),
        mark: Some(last),
        funding_rate: Some(dec!(0.0001)),
        open_interest: None,
        change_pct: Some(change),
        rsi14: Some(rsi),
        trend: Some(trend),
        sparkline: (0..48)
            .map(|i| l * (1.0 + 0.004 * (f64::from(i) / 5.0).sin() + change / 100.0 * f64::from(i) / 48.0))
            .collect(),
        last_event_ms: Some(NOW - 1000),
        rejected_events: 0,
        long_short_ratio: None,
        stale_since_ms: stale,
    }
}

fn log(
    ts: i64,
    agent: Option<&str>,
    kind: LogKind,
    action: &str,
    text: &str,
    outcome: Option<&str>,
    decision: Option<u64>,
) -> LogEntry {
    LogEntry {
        ts_ms: ts,
        agent: agent.map(id),
        kind,
        action: action.into(),
        text: text.into(),
        outcome: outcome.map(Into::into),
        decision_id: decision,
    }
}

/// The normal running arena.
pub fn snapshot() -> Snapshot {
    let btc_plan = plan("BTCUSDT", dec!(60850), dec!(63900), "15m close above EMA20 with 1h uptrend; RSI 58");
    let trend_positions = vec![
        PositionSnapshot {
            agent: id("trend"),
            symbol: sym("BTCUSDT"),
            side: Side::Buy,
            qty: dec!(0.05),
            entry_price: dec!(61500.0),
            mark: Some(dec!(61890.5)),
            unrealized_pnl: dec!(19.53),
            leverage: dec!(3),
            liquidation_price: Some(dec!(41250.2)),
            plan: Some(btc_plan),
            opened_ms: NOW - 95 * MIN,
        },
        PositionSnapshot {
            agent: id("trend"),
            symbol: sym("ETHUSDT"),
            side: Side::Sell,
            qty: dec!(0.8),
            entry_price: dec!(3290.10),
            mark: Some(dec!(3301.40)),
            unrealized_pnl: dec!(-9.04),
            leverage: dec!(3),
            liquidation_price: Some(dec!(4380.0)),
            plan: Some(plan("ETHUSDT", dec!(3350), dec!(3170), "1h downtrend, lower highs")),
            opened_ms: NOW - 40 * MIN,
        },
    ];
    let trend_orders = vec![
        order(
            41,
            "trend",
            "BTCUSDT",
            Side::Sell,
            OrderKind::StopMarket { trigger: dec!(60850) },
            OrderPurpose::StopLoss,
            dec!(0.05),
        ),
        order(
            42,
            "trend",
            "BTCUSDT",
            Side::Sell,
            OrderKind::TakeProfitMarket { trigger: dec!(63900) },
            OrderPurpose::TakeProfit,
            dec!(0.05),
        ),
        order(
            44,
            "trend",
            "ETHUSDT",
            Side::Buy,
            OrderKind::StopMarket { trigger: dec!(3350) },
            OrderPurpose::StopLoss,
            dec!(0.8),
        ),
    ];
    let trend_history = vec![
        decision(
            5,
            "trend",
            NOW - 130 * MIN,
            "BTCUSDT 15m: close 61,020 below EMA20 61,100; 1h trend up. Holding: no entry without a close above EMA20.",
            vec![proposal(Signal::Hold, "BTCUSDT", Decimal::ZERO, None, None, "wait for confirmation")],
            vec![ProposalOutcome::Hold],
        ),
        decision(
            7,
            "trend",
            NOW - 95 * MIN,
            "BTCUSDT 15m: close 61,480 crossed above EMA20 61,210 with the 1h EMA20 > EMA50 (uptrend).\nATR(14) 410: stop 2 ATR below at 60,850, target 2R at 63,900.\nRisking 1% of equity.",
            vec![proposal(
                Signal::BuyToEnter,
                "BTCUSDT",
                dec!(0.05),
                Some(dec!(60850)),
                Some(dec!(63900)),
                "trend continuation",
            )],
            vec![ProposalOutcome::Submitted { order: OrderId(40) }],
        ),
        decision(
            9,
            "trend",
            NOW - 12 * MIN,
            "SOLUSDT 15m: breakout above 164 but leverage would exceed the limit.",
            vec![proposal(Signal::BuyToEnter, "SOLUSDT", dec!(40), Some(dec!(158)), Some(dec!(176)), "breakout")],
            vec![ProposalOutcome::Refused {
                code: RefusalCode::LeverageAboveMax,
                message: "leverage 12x above 10x".into(),
            }],
        ),
    ];
    let trades = vec![ClosedTrade {
        symbol: sym("SOLUSDT"),
        side: Side::Buy,
        max_qty: dec!(20),
        entry_price: dec!(158.20),
        exit_price: dec!(163.75),
        gross_pnl: dec!(111.0),
        fees: dec!(2.58),
        funding: dec!(-0.40),
        net_pnl: dec!(108.02),
        opened_ms: NOW - 300 * MIN,
        closed_ms: NOW - 200 * MIN,
    }];
    let mut trend = agent(
        "trend",
        "trend",
        false,
        dec!(10184.37),
        metrics(10000.0, 10184.37, 0.84, 6, Some(66.7), Some(1.92)),
        curve(10000.0, 0.018, 0.003, 120),
        trend_positions,
        trend_orders,
        trend_history,
        trades,
    );
    trend.refusals.insert(RefusalCode::LeverageAboveMax, 1);

    let mut meanrev = agent(
        "meanrev",
        "mean_reversion",
        false,
        dec!(9908.12),
        metrics(10000.0, 9908.12, 1.73, 9, Some(33.3), Some(-0.71)),
        curve(10000.0, -0.009, 0.004, 120),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        vec![ClosedTrade {
            symbol: sym("ETHUSDT"),
            side: Side::Sell,
            max_qty: dec!(1.5),
            entry_price: dec!(3310.0),
            exit_price: dec!(3342.5),
            gross_pnl: dec!(-48.75),
            fees: dec!(3.70),
            funding: Decimal::ZERO,
            net_pnl: dec!(-52.45),
            opened_ms: NOW - 180 * MIN,
            closed_ms: NOW - 150 * MIN,
        }],
    );
    meanrev.paused = true;
    meanrev.pause_reason = Some("operator".into());

    let mut llm = agent(
        "gpt-4o",
        "llm:gpt-4o",
        false,
        dec!(10041.00),
        metrics(10000.0, 10041.0, 0.31, 2, Some(50.0), None),
        curve(10000.0, 0.004, 0.002, 120),
        Vec::new(),
        Vec::new(),
        vec![Arc::new(DecisionRecord {
            id: 8,
            agent: id("gpt-4o"),
            ts_ms: NOW - 3 * MIN,
            source: "llm".into(),
            decision: Decision {
                reasoning: "BTC momentum is fading on the 1h chart (RSI 71, above the upper band). I hold rather than chase.".into(),
                proposals: vec![proposal(Signal::Hold, "BTCUSDT", Decimal::ZERO, None, None, "overbought")],
            },
            outcomes: vec![ProposalOutcome::Hold],
            error: None,
            latency_ms: 2340,
            prompt: Some("You are a trading agent. It is 2026-01-01 13:42 UTC.\nBTCUSDT 1h closes (oldest to newest): 61020, 61480, 61890\nYour account: equity 10041.00 USDT, no open positions.".into()),
            raw_response: Some("{\"reasoning\": \"BTC momentum is fading...\", \"decisions\": [{\"signal\": \"hold\", \"coin\": \"BTC\"}]}".into()),
            input_tokens: 1834,
            output_tokens: 212,
            cost_usd: 0.0067,
            adjustment: None,
        })],
        Vec::new(),
    );
    llm.stats = AgentStats {
        calls: 14,
        failures: 1,
        last_latency_ms: 2340,
        total_latency_ms: 30_100,
        input_tokens: 25_676,
        output_tokens: 2_968,
        cost_usd: 0.0938,
        last_error: Some("timeout after 30 s".into()),
    };

    let baseline = agent(
        "buy-and-hold",
        "buy_and_hold",
        true,
        dec!(10050.00),
        metrics(10000.0, 10050.0, 1.10, 0, None, Some(0.80)),
        curve(10000.0, 0.005, 0.006, 120),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );

    let logs = vec![
        log(
            NOW - 130 * MIN,
            Some("trend"),
            LogKind::Decision,
            "hold",
            "BTCUSDT 15m: close 61,020 below EMA20",
            Some("hold"),
            Some(5),
        ),
        log(
            NOW - 95 * MIN,
            Some("trend"),
            LogKind::Decision,
            "long BTCUSDT 0.05",
            "BTCUSDT 15m: close 61,480 crossed above EMA20",
            Some("approved"),
            Some(7),
        ),
        log(
            NOW - 95 * MIN,
            Some("trend"),
            LogKind::Fill,
            "buy BTCUSDT 0.05 @ 61,500.0",
            "entry, taker fee 0.92",
            None,
            None,
        ),
        log(
            NOW - 40 * MIN,
            Some("trend"),
            LogKind::Fill,
            "sell ETHUSDT 0.8 @ 3,290.10",
            "entry, taker fee 0.79",
            None,
            None,
        ),
        log(NOW - 20 * MIN, None, LogKind::Operator, "pause meanrev", "operator: pause meanrev", Some("ok"), None),
        log(
            NOW - 12 * MIN,
            Some("trend"),
            LogKind::Decision,
            "long SOLUSDT 40",
            "SOLUSDT 15m: breakout above 164",
            Some("refused: leverage_above_max"),
            Some(9),
        ),
        log(
            NOW - 12 * MIN,
            Some("trend"),
            LogKind::Refusal,
            "refused",
            "leverage 12x above 10x",
            Some("refused leverage_above_max: leverage 12x above 10x"),
            Some(9),
        ),
        log(
            NOW - 3 * MIN,
            Some("gpt-4o"),
            LogKind::Decision,
            "hold",
            "BTC momentum is fading on the 1h chart",
            Some("hold"),
            Some(8),
        ),
        log(NOW - 12_000, None, LogKind::System, "feed STALE", "sim: SOLUSDT stale", None, None),
    ];

    Snapshot {
        version: 42,
        now_ms: NOW,
        mode: "PAPER".into(),
        source: SourceSnapshot {
            name: "sim".into(),
            state: FeedState::Live,
            detail: "simulated market at 1× real time".into(),
            stats: FeedStats {
                messages: 18_345,
                messages_per_sec: 3.0,
                bad_messages: 0,
                reconnects: 0,
                latency_ms: Some(12),
                last_message_ms: Some(NOW - 400),
                next_retry_ms: None,
            },
        },
        global_state: TradingState::Active,
        global_reason: None,
        global_reduce_only: false,
        kill_switch_ms: None,
        agents: vec![trend, meanrev, llm, baseline],
        markets: vec![
            market("BTCUSDT", "BTC", dec!(61890.5), 1.84, 58.2, "up", None),
            market("ETHUSDT", "ETH", dec!(3301.40), -0.62, 44.9, "down", None),
            market("SOLUSDT", "SOL", dec!(163.91), 3.10, 71.4, "flat", Some(NOW - 12_000)),
        ],
        risk: RiskSnapshot {
            limits: vec![
                LimitView {
                    name: "max_leverage".into(),
                    value: "10".into(),
                    description: "highest leverage any order may use".into(),
                },
                LimitView {
                    name: "daily_loss_pct".into(),
                    value: "3".into(),
                    description: "halt an agent after this daily loss".into(),
                },
            ],
            gauges: vec![Gauge { name: "leverage".into(), value: 0.41, limit: 10.0, unit: "x".into() }],
            breakers: vec![
                BreakerView {
                    name: "daily_loss".into(),
                    agent: None,
                    tripped: false,
                    action: TradingState::Halted,
                    value: 0.4,
                    threshold: 3.0,
                    unit: "%".into(),
                    since_ms: None,
                    detail: "arena loss today".into(),
                },
                BreakerView {
                    name: "drawdown".into(),
                    agent: None,
                    tripped: false,
                    action: TradingState::Reducing,
                    value: 1.73,
                    threshold: 10.0,
                    unit: "%".into(),
                    since_ms: None,
                    detail: "from the high-water mark".into(),
                },
            ],
            history: vec![BreakerEvent {
                ts_ms: NOW - 600 * MIN,
                name: "stale_data".into(),
                agent: Some(id("trend")),
                tripped: false,
                detail: "released after fresh data".into(),
            }],
        },
        log: logs,
        counters: Counters {
            market_events: 18_345,
            rejected_events: 2,
            decisions: 31,
            orders: 17,
            fills: 12,
            refusals: 1,
            venue_rejections: 0,
            liquidations: 0,
            funding_payments: 6,
        },
        resumed: false,
        run_id: Some(3),
        store: Some(StoreSnapshot {
            pending_batches: 0,
            commits: 4_812,
            records_committed: 19_337,
            last_commit_us: 840,
            max_commit_us: 6_150,
            failures: 0,
            failing: false,
            last_error: None,
        }),
    }
}

/// A circuit breaker halted the arena.
pub fn halted() -> Snapshot {
    let mut s = snapshot();
    s.global_state = TradingState::Halted;
    s.global_reason = Some("daily loss limit".into());
    for a in &mut s.agents {
        a.state = TradingState::Halted;
    }
    s.risk.breakers[0].tripped = true;
    s.risk.breakers[0].value = 3.2;
    s.risk.breakers[0].since_ms = Some(NOW - 5 * MIN);
    s
}

/// The kill switch is latched and positions are being closed.
pub fn killed() -> Snapshot {
    let mut s = halted();
    s.global_reason = None;
    s.kill_switch_ms = Some(NOW - 42_000);
    s.risk.breakers[0].tripped = false;
    s
}

/// The market feed dropped and is retrying.
pub fn disconnected() -> Snapshot {
    let mut s = snapshot();
    s.source.state = FeedState::Disconnected;
    s.source.stats.reconnects = 2;
    s.source.stats.next_retry_ms = Some(NOW + 4_000);
    s.source.stats.last_message_ms = Some(NOW - 9_000);
    s
}

/// Tracing lines for the Logs screen.
pub fn log_lines() -> Vec<LogLine> {
    vec![
        LogLine {
            ts_ms: NOW - 60_000,
            level: LogLevel::Info,
            target: "alphatx::app::run".into(),
            message: "sim history generated; going live warmup_days=10".into(),
        },
        LogLine {
            ts_ms: NOW - 30_000,
            level: LogLevel::Debug,
            target: "alphatx::engine".into(),
            message: "snapshot published version=41".into(),
        },
        LogLine {
            ts_ms: NOW - 12_000,
            level: LogLevel::Warn,
            target: "alphatx::engine::runner".into(),
            message: "Agent request dropped: the agent workers are busy or gone agent=gpt-4o".into(),
        },
        LogLine {
            ts_ms: NOW - 5_000,
            level: LogLevel::Error,
            target: "alphatx::store".into(),
            message: "Ledger write slow: 820 ms".into(),
        },
    ]
}
