//! The rendered prompts, pinned with insta snapshots: a request with an open position (with its
//! exit plan and entry rationale), funding and open interest, past decisions and closed trades
//! renders every section, labelled oldest → newest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use alphatx::agents::llm::{Prompts, RulesView};
use alphatx::domain::{
    Account, AgentId, ClosedTrade, Fill, Instrument, Liquidity, OrderId, OrderPurpose, Side, Symbol, Timeframe,
};
use alphatx::engine::request::{AccountBrief, AgentRequest, DecisionBrief, MarketBrief};
use alphatx::engine::state::ExitPlan;
use alphatx::indicators::{IndicatorValues, MacdValue};
use rust_decimal::Decimal;
use rust_decimal::dec;

const T0: i64 = 1_735_689_600_000;
const MIN: i64 = 60_000;

fn values(i: usize, base: f64, step: f64) -> IndicatorValues {
    let x = i as f64;
    IndicatorValues {
        open_ms: T0 + i as i64 * 5 * MIN,
        close: base + step * x,
        volume: 120.0 + x,
        ema12: Some(base + step * (x - 1.0)),
        ema20: Some(base + step * (x - 2.0)),
        ema26: Some(base + step * (x - 3.0)),
        ema50: Some(base + step * (x - 6.0)),
        macd: Some(MacdValue { line: 12.5 + x, signal: 10.0 + x, hist: 2.5 }),
        rsi7: Some(55.0 + x),
        rsi14: Some(52.0 + x / 2.0),
        bb: None,
        atr3: Some(base * 0.004),
        atr14: Some(base * 0.005),
        volume_sma20: Some(110.0),
        bars: 500 + i as u64,
    }
}

fn market(symbol: &str, base: &str, price: f64, step: f64, perp_data: bool) -> MarketBrief {
    let inst = Instrument::perp(Symbol::new(symbol).unwrap(), base, dec!(0.01), dec!(0.001), 100);
    let intraday: Vec<IndicatorValues> = (0..10).map(|i| values(i, price, step)).collect();
    let long_term: Vec<IndicatorValues> = (0..10).map(|i| values(i, price * 0.97, step * 20.0)).collect();
    let last = intraday[9];
    MarketBrief {
        instrument: inst,
        last: Some(Decimal::from_f64_retain(last.close).unwrap().round_dp(2)),
        mark: None,
        funding_rate: perp_data.then(|| dec!(0.0000125)),
        open_interest: perp_data.then(|| dec!(28450.5)),
        long_short_ratio: None,
        values: vec![(Timeframe::M5, last), (Timeframe::H4, long_term[9])],
        intraday_timeframe: Timeframe::M5,
        intraday,
        long_timeframe: Timeframe::H4,
        long_term,
        candles: Vec::new(),
    }
}

fn request() -> AgentRequest {
    let agent = AgentId::new("gpt-4o").unwrap();
    let btc = Symbol::new("BTCUSDT").unwrap();
    let mut account = Account::new(agent, dec!(10000));
    let fill = Fill {
        venue: "paper".into(),
        trade_id: 7,
        order_id: OrderId(3),
        agent,
        symbol: btc,
        side: Side::Buy,
        qty: dec!(0.05),
        price: dec!(60100),
        fee: dec!(1.5025),
        liquidity: Liquidity::Taker,
        purpose: OrderPurpose::Entry,
        liquidation: false,
        ts_ms: T0 + 20 * MIN,
    };
    account.apply_fill(&fill, dec!(3));
    let now = T0 + 95 * MIN;
    AgentRequest {
        agent,
        request_id: 42,
        now_ms: now,
        started_ms: T0,
        invocation: 32,
        markets: vec![market("BTCUSDT", "BTC", 60150.0, 4.25, true), market("ETHUSDT", "ETH", 3020.5, -0.75, false)],
        account: AccountBrief {
            account,
            equity: dec!(10013.72),
            available: dec!(8009.49),
            unrealized_pnl: dec!(15.22),
            return_pct: 0.1372,
            sharpe: Some(1.234),
        },
        plans: vec![ExitPlan {
            symbol: btc,
            stop_loss: Some(dec!(59400)),
            profit_target: Some(dec!(61800)),
            invalidation: Some("BTC closes below 59000 on the 4h chart".into()),
            invalidation_level: None,
            rationale: "4h EMA20 crossed above EMA50 with RSI rising from 48 to 56".into(),
            confidence: 0.65,
            stop_order: Some(OrderId(4)),
            target_order: Some(OrderId(5)),
            decision_id: Some(12),
            opened_ms: T0 + 20 * MIN,
        }],
        recent_decisions: vec![
            DecisionBrief { ts_ms: T0 + 20 * MIN, summary: "long BTCUSDT 0.05: trend continuation".into() },
            DecisionBrief { ts_ms: T0 + 92 * MIN, summary: "hold: plan intact".into() },
        ],
        recent_trades: vec![ClosedTrade {
            symbol: Symbol::new("ETHUSDT").unwrap(),
            side: Side::Sell,
            max_qty: dec!(1.2),
            entry_price: dec!(3050),
            exit_price: dec!(3021.4),
            gross_pnl: dec!(34.32),
            fees: dec!(3.65),
            funding: dec!(-0.12),
            net_pnl: dec!(30.55),
            opened_ms: T0,
            closed_ms: T0 + 15 * MIN,
        }],
    }
}

fn rules() -> RulesView {
    RulesView {
        agent: "gpt-4o".into(),
        model: "gpt-4o".into(),
        coins: vec!["BTC".into(), "ETH".into()],
        max_leverage: "10".into(),
        taker_fee_pct: "0.05".into(),
        maker_fee_pct: "0.02".into(),
        min_notional: "5".into(),
        cadence_minutes: "3".into(),
        starting_balance: "10000.00".into(),
        quote: "USDT".into(),
    }
}

#[test]
fn the_user_prompt_renders_every_section() {
    let r = Prompts::builtin().unwrap().render(&request(), &rules()).unwrap();
    insta::assert_snapshot!("user_prompt", r.user);
    // The parts the issue names, independent of the snapshot.
    for needle in [
        "It has been 95 minutes since you started trading",
        "invoked 32 times",
        "OLDEST → NEWEST",
        "### ALL BTC DATA",
        "### ALL ETH DATA",
        "Open Interest: 28450.5",
        "Funding Rate: 0.0000125",
        "Longer-term context (4-hour timeframe)",
        "20-period EMA:",
        "3-period ATR:",
        "Current volume:",
        "Current Total Return (percent): 0.14%",
        "Sharpe Ratio: 1.234",
        "stop_loss 59400",
        "because: 4h EMA20 crossed above EMA50",
        "hold: plan intact",
        "ETH short 3050 → 3021.4: net 30.55",
    ] {
        assert!(r.user.contains(needle), "missing {needle:?}");
    }
    assert!(!r.user.contains("Perpetual data for ETH"), "no funding/OI section when the source has none");
}

#[test]
fn the_system_prompt_states_the_rules() {
    let r = Prompts::builtin().unwrap().render(&request(), &rules()).unwrap();
    insta::assert_snapshot!("system_prompt", r.system);
    for needle in [
        "buy_to_enter",
        "close_position",
        "Leverage: 1 to 10",
        "0.05%",
        "stop_loss",
        "invalidation_condition",
        "OLDEST → NEWEST",
    ] {
        assert!(r.system.contains(needle), "missing {needle:?}");
    }
}

#[test]
fn rendering_is_deterministic() {
    let p = Prompts::builtin().unwrap();
    assert_eq!(p.render(&request(), &rules()).unwrap(), p.render(&request(), &rules()).unwrap());
}

#[test]
fn user_templates_in_the_config_dir_override_the_shipped_ones() {
    let dir = std::env::temp_dir().join(format!("alphatx-prompts-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("prompts")).unwrap();
    std::fs::write(dir.join("prompts/user.j2"), "equity={{ account.equity }} coins={{ coins | length }}").unwrap();
    let p = Prompts::load(None, None, Some(&dir)).unwrap();
    let r = p.render(&request(), &rules()).unwrap();
    assert_eq!(r.user, "equity=10013.72 coins=2");
    assert!(r.system.contains("buy_to_enter"), "the system prompt stays the shipped one");
    std::fs::write(dir.join("custom.j2"), "{{ no_such_variable }}").unwrap();
    let e = Prompts::load(Some(Path::new("custom.j2")), None, Some(&dir)).unwrap_err().to_string();
    assert!(e.contains("system.j2") && e.contains("no_such_variable") || e.contains("undefined"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

use std::path::Path;
