//! Prompt rendering: the system prompt (rules) and the per-cycle user prompt (market, account,
//! positions, feedback), from Jinja templates.
//!
//! The templates ship in `assets/prompts/` and are embedded with `include_str!`; a user file
//! overrides each one (an agent's `system_prompt_file`/`user_prompt_file`, else
//! `<config dir>/prompts/system.j2` / `user.j2`). Templates see a [`PromptView`]: every number is
//! already formatted as text, every series is labelled and ordered oldest → newest, so a
//! template only arranges words and cannot get numbers wrong.
//!
//! Invariants: rendering is a pure function of the request and the agent's rules (no clock, no
//! I/O), so the same request always gives the same prompt; undefined template variables are
//! errors (a typo in a user template fails at startup with its line, not with an empty value
//! in a live prompt); templates are checked once at load by rendering a sample request.

use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::{Side, Symbol, Timeframe};
use crate::engine::request::{AgentRequest, MarketBrief};
use crate::indicators::IndicatorValues;

/// The shipped system prompt template.
pub const SYSTEM_TEMPLATE: &str = include_str!("../../../assets/prompts/system.j2");
/// The shipped per-cycle user prompt template.
pub const USER_TEMPLATE: &str = include_str!("../../../assets/prompts/user.j2");

/// Why prompts cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("cannot read prompt template {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("prompt template {name}: {message}")]
    Template { name: String, message: String },
}

/// The agent's fixed rules, shown in the system prompt.
#[derive(Debug, Clone, Serialize)]
pub struct RulesView {
    pub agent: String,
    pub model: String,
    pub coins: Vec<String>,
    pub max_leverage: String,
    pub taker_fee_pct: String,
    pub maker_fee_pct: String,
    pub min_notional: String,
    pub cadence_minutes: String,
    pub starting_balance: String,
    pub quote: String,
}

/// Everything a template can use.
#[derive(Debug, Clone, Serialize)]
pub struct PromptView {
    pub rules: RulesView,
    pub minutes_since_start: i64,
    pub now: String,
    pub invocation: u64,
    pub coins: Vec<CoinView>,
    pub account: AccountView,
    pub positions: Vec<PositionView>,
    pub decisions: Vec<DecisionView>,
    pub trades: Vec<TradeView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CoinView {
    pub coin: String,
    pub symbol: String,
    pub price: String,
    pub ema20: String,
    pub macd: String,
    pub rsi7: String,
    pub rsi14: String,
    pub funding_rate: Option<String>,
    pub open_interest: Option<String>,
    pub long_short_ratio: Option<String>,
    pub intraday_timeframe: String,
    pub intraday: SeriesView,
    pub long_timeframe: String,
    pub long: LongView,
}

/// Intraday series, each a list oldest → newest.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesView {
    pub closes: String,
    pub ema20: String,
    pub macd: String,
    pub rsi7: String,
    pub rsi14: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LongView {
    pub ema20: String,
    pub ema50: String,
    pub atr3: String,
    pub atr14: String,
    pub volume: String,
    pub volume_avg: String,
    pub macd: String,
    pub rsi14: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    pub return_pct: String,
    pub available: String,
    pub equity: String,
    pub unrealized_pnl: String,
    pub sharpe: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PositionView {
    pub coin: String,
    pub side: String,
    pub quantity: String,
    pub entry_price: String,
    pub current_price: String,
    pub liquidation_price: String,
    pub unrealized_pnl: String,
    pub leverage: String,
    pub notional: String,
    pub profit_target: String,
    pub stop_loss: String,
    pub invalidation_condition: String,
    pub confidence: String,
    pub rationale: String,
    pub minutes_open: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DecisionView {
    pub minutes_ago: i64,
    pub summary: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TradeView {
    pub coin: String,
    pub side: String,
    pub entry_price: String,
    pub exit_price: String,
    pub net_pnl: String,
    pub return_pct: String,
    pub minutes_held: i64,
    pub closed_minutes_ago: i64,
}

/// The two templates of one agent, compiled.
pub struct Prompts {
    env: Environment<'static>,
}

impl std::fmt::Debug for Prompts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prompts")
    }
}

/// A rendered prompt pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedPrompt {
    pub system: String,
    pub user: String,
}

impl Prompts {
    /// Compiles the two templates and checks them against a sample request.
    pub fn new(system: String, user: String) -> Result<Self, PromptError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| PromptError::Template { name: "syntax".into(), message: e.to_string() })?;
        env.set_syntax(syntax);
        for (name, source) in [("system.j2", system), ("user.j2", user)] {
            env.add_template_owned(name, source)
                .map_err(|e| PromptError::Template { name: name.into(), message: describe(&e) })?;
        }
        let prompts = Self { env };
        let sample = sample_view()
            .map_err(|e| PromptError::Template { name: "sample request".into(), message: e.to_string() })?;
        prompts.render_view(&sample)?;
        Ok(prompts)
    }

    /// The shipped templates, overridden by files: `system_file`/`user_file` when given (relative
    /// to `config_dir`), else `<config_dir>/prompts/system.j2` / `user.j2` when they exist.
    pub fn load(
        system_file: Option<&Path>,
        user_file: Option<&Path>,
        config_dir: Option<&Path>,
    ) -> Result<Self, PromptError> {
        let pick = |explicit: Option<&Path>, default_name: &str, builtin: &str| -> Result<String, PromptError> {
            let path = match explicit {
                Some(p) if p.is_absolute() => Some(p.to_owned()),
                Some(p) => Some(config_dir.map_or_else(|| p.to_owned(), |d| d.join(p))),
                None => config_dir.map(|d| d.join("prompts").join(default_name)).filter(|p| p.is_file()),
            };
            match path {
                Some(path) => std::fs::read_to_string(&path).map_err(|source| PromptError::Read { path, source }),
                None => Ok(builtin.to_owned()),
            }
        };
        let system = pick(system_file, "system.j2", SYSTEM_TEMPLATE)?;
        let user = pick(user_file, "user.j2", USER_TEMPLATE)?;
        Self::new(system, user)
    }

    /// The shipped templates.
    pub fn builtin() -> Result<Self, PromptError> {
        Self::new(SYSTEM_TEMPLATE.to_owned(), USER_TEMPLATE.to_owned())
    }

    /// Renders both prompts for one request.
    pub fn render(&self, request: &AgentRequest, rules: &RulesView) -> Result<RenderedPrompt, PromptError> {
        self.render_view(&build_view(request, rules))
    }

    fn render_view(&self, view: &PromptView) -> Result<RenderedPrompt, PromptError> {
        let render = |name: &str| -> Result<String, PromptError> {
            let t = self
                .env
                .get_template(name)
                .map_err(|e| PromptError::Template { name: name.into(), message: describe(&e) })?;
            t.render(minijinja::value::Serde(view))
                .map_err(|e| PromptError::Template { name: name.into(), message: describe(&e) })
        };
        Ok(RenderedPrompt {
            system: render("system.j2")?.trim().to_owned(),
            user: render("user.j2")?.trim().to_owned(),
        })
    }
}

fn describe(e: &minijinja::Error) -> String {
    match e.line() {
        Some(line) => format!("line {line}: {e}"),
        None => e.to_string(),
    }
}

// ------------------------------------------------------------------ the view

/// Builds the template view of a request.
pub fn build_view(request: &AgentRequest, rules: &RulesView) -> PromptView {
    let now = request.now_ms;
    let markets = &request.markets;
    let mark_of = |s: Symbol| markets.iter().find(|m| m.instrument.symbol == s).and_then(|m| m.mark.or(m.last));
    let mmr = |s: Symbol| {
        markets
            .iter()
            .find(|m| m.instrument.symbol == s)
            .map_or(Decimal::ZERO, |m| m.instrument.maintenance_margin_rate)
    };
    let coin_of = |s: Symbol| {
        markets.iter().find(|m| m.instrument.symbol == s).map_or_else(|| s.to_string(), |m| m.instrument.base.clone())
    };
    let account = &request.account.account;
    let positions = account
        .positions
        .iter()
        .map(|p| {
            let mark = mark_of(p.symbol);
            let plan = request.plans.iter().find(|pl| pl.symbol == p.symbol);
            let opt_price = |v: Option<Decimal>| v.map_or_else(|| "none".to_owned(), fmt_dec);
            PositionView {
                coin: coin_of(p.symbol),
                side: if p.qty > Decimal::ZERO { "long".into() } else { "short".into() },
                quantity: fmt_dec(p.qty.abs()),
                entry_price: fmt_dec(p.entry_price()),
                current_price: opt_price(mark),
                liquidation_price: opt_price(account.liquidation_price(p.symbol, &mark_of, mmr)),
                unrealized_pnl: mark.map_or_else(|| "n/a".to_owned(), |m| fmt_money(p.unrealized_pnl(m))),
                leverage: fmt_dec(p.leverage),
                notional: mark.map_or_else(|| "n/a".to_owned(), |m| fmt_money(p.notional(m))),
                profit_target: opt_price(plan.and_then(|pl| pl.profit_target)),
                stop_loss: opt_price(plan.and_then(|pl| pl.stop_loss)),
                invalidation_condition: plan.and_then(|pl| pl.invalidation.clone()).unwrap_or_else(|| "none".into()),
                confidence: plan.map_or_else(|| "n/a".to_owned(), |pl| format!("{:.2}", pl.confidence)),
                rationale: plan
                    .map(|pl| one_line(&pl.rationale))
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| "not recorded".into()),
                minutes_open: (now - p.opened_ms).max(0) / 60_000,
            }
        })
        .collect();
    let ab = &request.account;
    PromptView {
        rules: rules.clone(),
        minutes_since_start: (now - request.started_ms).max(0) / 60_000,
        now: format!("{} UTC", crate::clock::fmt_ts(now)),
        invocation: request.invocation,
        coins: markets.iter().map(coin_view).collect(),
        account: AccountView {
            return_pct: format!("{:.2}", ab.return_pct),
            available: fmt_money(ab.available),
            equity: fmt_money(ab.equity),
            unrealized_pnl: fmt_money(ab.unrealized_pnl),
            sharpe: ab.sharpe.map_or_else(|| "n/a (not enough history)".to_owned(), |s| format!("{s:.3}")),
        },
        positions,
        decisions: request
            .recent_decisions
            .iter()
            .map(|d| DecisionView { minutes_ago: (now - d.ts_ms).max(0) / 60_000, summary: one_line(&d.summary) })
            .collect(),
        trades: request
            .recent_trades
            .iter()
            .map(|t| {
                let pct = if t.entry_price > Decimal::ZERO && t.max_qty > Decimal::ZERO {
                    t.net_pnl / (t.entry_price * t.max_qty) * Decimal::ONE_HUNDRED
                } else {
                    Decimal::ZERO
                };
                TradeView {
                    coin: coin_of(t.symbol),
                    side: if t.side == Side::Buy { "long".into() } else { "short".into() },
                    entry_price: fmt_dec(t.entry_price),
                    exit_price: fmt_dec(t.exit_price),
                    net_pnl: fmt_money(t.net_pnl),
                    return_pct: format!("{:+.2}", super::parse::dec_f64(pct)),
                    minutes_held: (t.closed_ms - t.opened_ms).max(0) / 60_000,
                    closed_minutes_ago: (now - t.closed_ms).max(0) / 60_000,
                }
            })
            .collect(),
    }
}

fn coin_view(m: &MarketBrief) -> CoinView {
    let cur = m.values.iter().find(|(tf, _)| *tf == m.intraday_timeframe).map(|(_, v)| *v).unwrap_or_default();
    let long_now = m.values.iter().find(|(tf, _)| *tf == m.long_timeframe).map(|(_, v)| *v).unwrap_or_default();
    let series = |vals: &[IndicatorValues], f: &dyn Fn(&IndicatorValues) -> Option<f64>, fmt: fn(f64) -> String| {
        let items: Vec<String> = vals.iter().map(|v| f(v).map_or_else(|| "n/a".to_owned(), fmt)).collect();
        format!("[{}]", items.join(", "))
    };
    let opt = |v: Option<f64>, fmt: fn(f64) -> String| v.map_or_else(|| "n/a".to_owned(), fmt);
    let price = m.mark.or(m.last).map_or_else(|| "n/a".to_owned(), fmt_dec);
    CoinView {
        coin: m.instrument.base.clone(),
        symbol: m.instrument.symbol.to_string(),
        price,
        ema20: opt(cur.ema20, fmt_sig),
        macd: opt(cur.macd.map(|x| x.line), fmt_sig),
        rsi7: opt(cur.rsi7, fmt_rsi),
        rsi14: opt(cur.rsi14, fmt_rsi),
        funding_rate: m.funding_rate.map(|f| format!("{}", f.normalize())),
        open_interest: m.open_interest.map(fmt_dec),
        long_short_ratio: m.long_short_ratio.map(fmt_dec),
        intraday_timeframe: timeframe_words(m.intraday_timeframe),
        intraday: SeriesView {
            closes: series(&m.intraday, &|v| Some(v.close), fmt_sig),
            ema20: series(&m.intraday, &|v| v.ema20, fmt_sig),
            macd: series(&m.intraday, &|v| v.macd.map(|x| x.line), fmt_sig),
            rsi7: series(&m.intraday, &|v| v.rsi7, fmt_rsi),
            rsi14: series(&m.intraday, &|v| v.rsi14, fmt_rsi),
        },
        long_timeframe: timeframe_words(m.long_timeframe),
        long: LongView {
            ema20: opt(long_now.ema20, fmt_sig),
            ema50: opt(long_now.ema50, fmt_sig),
            atr3: opt(long_now.atr3, fmt_sig),
            atr14: opt(long_now.atr14, fmt_sig),
            volume: if long_now.bars > 0 { fmt_sig(long_now.volume) } else { "n/a".into() },
            volume_avg: opt(long_now.volume_sma20, fmt_sig),
            macd: series(&m.long_term, &|v| v.macd.map(|x| x.line), fmt_sig),
            rsi14: series(&m.long_term, &|v| v.rsi14, fmt_rsi),
        },
    }
}

fn timeframe_words(tf: Timeframe) -> String {
    match tf {
        Timeframe::M1 => "1-minute".into(),
        Timeframe::M5 => "5-minute".into(),
        Timeframe::M15 => "15-minute".into(),
        Timeframe::H1 => "1-hour".into(),
        Timeframe::H4 => "4-hour".into(),
        Timeframe::D1 => "1-day".into(),
    }
}

fn one_line(s: &str) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = super::parse::sanitize(&flat);
    if flat.chars().count() > 300 { format!("{}…", flat.chars().take(300).collect::<String>()) } else { flat }
}

/// A decimal as plain text without trailing zeros.
pub fn fmt_dec(d: Decimal) -> String {
    d.normalize().to_string()
}

/// Money to cents.
pub fn fmt_money(d: Decimal) -> String {
    format!("{:.2}", d.round_dp(2))
}

/// Seven significant digits, no exponent, no trailing zeros (prices and indicator values of any
/// magnitude: 60123.46, 0.001234568).
pub fn fmt_sig(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (6 - magnitude).clamp(0, 12) as usize;
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s };
    if s == "-0" { "0".into() } else { s }
}

fn fmt_rsi(x: f64) -> String {
    if x.is_finite() { format!("{x:.2}") } else { "n/a".into() }
}

/// A request with every section filled, used to check templates at load time (and in tests).
pub fn sample_request() -> Result<AgentRequest, crate::domain::NameError> {
    use crate::domain::{Account, AgentId, Instrument};
    use crate::engine::request::{AccountBrief, DecisionBrief};
    let inst = Instrument::perp(Symbol::new("BTCUSDT")?, "BTC", Decimal::new(1, 1), Decimal::new(1, 3), 125);
    let agent = AgentId::new("sample")?;
    let v = IndicatorValues { close: 60000.0, ema20: Some(59900.0), bars: 100, ..IndicatorValues::default() };
    Ok(AgentRequest {
        agent,
        request_id: 1,
        now_ms: 3_600_000,
        started_ms: 0,
        invocation: 3,
        markets: vec![MarketBrief {
            instrument: inst,
            last: Some(Decimal::from(60000)),
            mark: None,
            funding_rate: Some(Decimal::new(1, 4)),
            open_interest: Some(Decimal::from(1000)),
            long_short_ratio: None,
            values: vec![(Timeframe::M5, v), (Timeframe::H4, v)],
            intraday_timeframe: Timeframe::M5,
            intraday: vec![v; 3],
            long_timeframe: Timeframe::H4,
            long_term: vec![v; 3],
            candles: Vec::new(),
        }],
        account: AccountBrief {
            account: Account::new(agent, Decimal::from(10_000)),
            equity: Decimal::from(10_000),
            available: Decimal::from(10_000),
            unrealized_pnl: Decimal::ZERO,
            return_pct: 0.0,
            sharpe: None,
        },
        plans: Vec::new(),
        recent_decisions: vec![DecisionBrief { ts_ms: 0, summary: "hold: waiting".into() }],
        recent_trades: Vec::new(),
    })
}

fn sample_view() -> Result<PromptView, crate::domain::NameError> {
    let rules = RulesView {
        agent: "sample".into(),
        model: "model".into(),
        coins: vec!["BTC".into()],
        max_leverage: "10".into(),
        taker_fee_pct: "0.05".into(),
        maker_fee_pct: "0.02".into(),
        min_notional: "5".into(),
        cadence_minutes: "3".into(),
        starting_balance: "10000".into(),
        quote: "USDT".into(),
    };
    Ok(build_view(&sample_request()?, &rules))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_templates_compile_and_render() {
        let p = Prompts::builtin().unwrap();
        let r = p.render_view(&sample_view().unwrap()).unwrap();
        assert!(r.system.contains("buy_to_enter"));
        assert!(r.user.contains("OLDEST → NEWEST"));
    }

    #[test]
    fn bad_user_templates_fail_at_load_with_the_line() {
        let e = Prompts::new("ok".into(), "line one\n{{ acount.equity }}".into()).unwrap_err().to_string();
        assert!(e.contains("user.j2") && e.contains("line 2"), "{e}");
        let e = Prompts::new("{% for x in %}".into(), "ok".into()).unwrap_err().to_string();
        assert!(e.contains("system.j2"), "{e}");
    }

    #[test]
    fn significant_digit_formatting() {
        assert_eq!(fmt_sig(60123.456), "60123.46");
        assert_eq!(fmt_sig(0.00123456789), "0.001234568");
        assert_eq!(fmt_sig(-12.5), "-12.5");
        assert_eq!(fmt_sig(3000.0), "3000");
        assert_eq!(fmt_sig(f64::NAN), "n/a");
        assert_eq!(fmt_sig(-0.0000001), "-0.0000001");
    }
}
