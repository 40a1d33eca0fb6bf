//! The textbook moving-average crossover, as every backtester ships it (backtesting.py's
//! `SmaCross`, nautilus' `EMACross`): the reference strategy for comparing engines.
//!
//! Long when EMA(`fast`) crosses above EMA(`slow`) on a closed candle, flat again when it crosses
//! back below; with `allow_short` the mirror image for shorts. A cross is backtesting.py's
//! `crossover`: `prev_fast < prev_slow` and `fast > slow` (down: `>` and `<`) — touching is not
//! crossing — judged only once both EMAs have a value on two consecutive candles. The EMAs are
//! kept by the strategy itself, so any periods work, seeded as `seed` says:
//! * `sma` (default): TA-Lib's EMA, seeded with the mean of the first `n` closes, no value before;
//! * `first_value`: seeded with the first close and defined from the first candle on, which is
//!   pandas' `ewm(adjust=False)` as backtesting.py and vectorbt use it. Only for reproducing
//!   those engines: its early values are seeding artefacts (both EMAs equal the first close, so
//!   the second candle may show a "cross" that is not one; the strict rule above ignores it).
//!
//! On `nautilus/btc-perp-20211231-20220201_1m.csv`, long-only: `first_value` completes 832
//! round trips (backtesting.py and vectorbt: 832), `sma` 833 (the TA-Lib-seeded series starts
//! with an up-cross and ends with a down-cross; `tests/reference_ema_cross.rs` asserts both).
//!
//! Size is either fixed (`quantity`, in base units — what reference backtests use) or risk-based
//! (`risk_per_trade_pct` of equity lost at the stop). The stop is `stop_atr` × ATR(14) of the
//! decision timeframe and the target `reward_risk` times that distance; `stop_atr = 0` sends no
//! stop (the agent then needs `require_stop_loss = false` in its `[agents.risk]`, as a reference
//! run has), and `reward_risk = 0` no target. Nothing is done on warm-up values.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::feed::CandleFeed;
use super::{Sizing, decision, fmt_num, price_from_f64};
use crate::agents::{AgentContext, Decision, Proposal, RuleAgent, Signal};
use crate::domain::{Side, Timeframe};
use crate::indicators::{Atr, Ema};
use ta::Next;

/// Parameters of the EMA crossover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmaCrossParams {
    /// Timeframe whose candle closes trigger decisions.
    pub timeframe: Timeframe,
    /// Fast and slow EMA periods.
    pub fast: usize,
    pub slow: usize,
    /// How the EMAs are seeded.
    pub seed: EmaSeed,
    pub allow_short: bool,
    /// Fixed entry size in base units; unset = risk-based sizing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    /// Equity lost if the stop is hit, in percent (risk-based sizing).
    pub risk_per_trade_pct: Decimal,
    /// Stop distance in ATR(14) multiples; 0 = no stop.
    pub stop_atr: f64,
    /// Target distance as a multiple of the stop distance; 0 = no target.
    pub reward_risk: f64,
    pub leverage: Decimal,
    /// Largest notional per symbol as a percentage of equity × leverage.
    pub max_allocation_pct: Decimal,
}

impl Default for EmaCrossParams {
    fn default() -> Self {
        Self {
            timeframe: Timeframe::H1,
            fast: 12,
            slow: 26,
            seed: EmaSeed::Sma,
            allow_short: false,
            quantity: None,
            risk_per_trade_pct: Decimal::ONE,
            stop_atr: 2.0,
            reward_risk: 2.0,
            leverage: Decimal::ONE,
            max_allocation_pct: Decimal::from(50),
        }
    }
}

impl EmaCrossParams {
    /// Checks ranges; the message names the parameter.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=10_000).contains(&self.fast) || !(2..=10_000).contains(&self.slow) || self.fast >= self.slow {
            return Err("fast and slow must be periods in 1..=10000 with fast < slow".into());
        }
        if let Some(q) = self.quantity
            && q <= Decimal::ZERO
        {
            return Err("quantity must be positive (or left out for risk-based sizing)".into());
        }
        if !(self.stop_atr.is_finite() && (0.0..=20.0).contains(&self.stop_atr)) {
            return Err("stop_atr must be in [0, 20] (0 = no stop)".into());
        }
        if self.quantity.is_none() && self.stop_atr == 0.0 {
            return Err("risk-based sizing needs a stop: set stop_atr > 0, or a fixed quantity".into());
        }
        if !(self.reward_risk.is_finite() && (0.0..=20.0).contains(&self.reward_risk)) {
            return Err("reward_risk must be in [0, 20] (0 = no target)".into());
        }
        Sizing {
            risk_per_trade_pct: self.risk_per_trade_pct,
            leverage: self.leverage,
            max_allocation_pct: self.max_allocation_pct,
        }
        .validate()
    }
}

/// How an EMA gets its first value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmaSeed {
    /// TA-Lib: the mean of the first `n` inputs; nothing before.
    Sma,
    /// pandas `ewm(adjust=False)`: the first input; a value from the first input on.
    FirstValue,
}

/// One EMA line in either seeding.
#[derive(Debug, Clone)]
enum Line {
    Sma(Ema),
    First(ta::indicators::ExponentialMovingAverage),
}

impl Line {
    fn new(seed: EmaSeed, period: usize) -> Self {
        match seed {
            EmaSeed::Sma => Line::Sma(Ema::new(period).unwrap_or_else(|_| Ema::build(1))),
            EmaSeed::FirstValue => {
                Line::First(ta::indicators::ExponentialMovingAverage::new(period.max(1)).unwrap_or_default())
            }
        }
    }

    fn next(&mut self, x: f64) -> Option<f64> {
        match self {
            Line::Sma(e) => e.next(x),
            Line::First(e) => Some(e.next(x)),
        }
    }
}

/// EMAs and ATR of one symbol, and the last two (fast, slow) pairs.
#[derive(Debug, Clone)]
struct CrossState {
    fast: Line,
    slow: Line,
    atr: Atr,
    prev: Option<(f64, f64)>,
    cur: Option<(f64, f64)>,
}

/// The EMA crossover agent.
pub struct EmaCross {
    params: EmaCrossParams,
    feed: CandleFeed<CrossState>,
}

impl EmaCross {
    /// `params` must have passed [`EmaCrossParams::validate`].
    pub fn new(params: EmaCrossParams) -> Self {
        Self { params, feed: CandleFeed::new() }
    }
}

impl RuleAgent for EmaCross {
    fn kind(&self) -> &'static str {
        "ema_cross"
    }

    fn timeframe(&self) -> Timeframe {
        self.params.timeframe
    }

    fn decide(&mut self, ctx: &AgentContext<'_>) -> Option<Decision> {
        let p = &self.params;
        if ctx.timeframe != p.timeframe || !ctx.symbols.contains(&ctx.symbol) {
            return None;
        }
        let market = ctx.market(ctx.symbol)?;
        let (fast_n, slow_n, seed) = (p.fast, p.slow, p.seed);
        let state = self.feed.update(
            ctx.symbol,
            &market.series,
            p.timeframe,
            || CrossState {
                fast: Line::new(seed, fast_n),
                slow: Line::new(seed, slow_n),
                atr: Atr::build(14),
                prev: None,
                cur: None,
            },
            |s, c| {
                let f = s.fast.next(c.close);
                let sl = s.slow.next(c.close);
                s.atr.next(c);
                s.prev = s.cur;
                s.cur = f.zip(sl);
            },
        );
        let ((pf, ps), (cf, cs)) = (state.prev?, state.cur?);
        let atr = state.atr.value();
        let cross_up = pf < ps && cf > cs;
        let cross_down = pf > ps && cf < cs;
        if !cross_up && !cross_down {
            return None;
        }
        let sym = ctx.symbol;
        let tf = p.timeframe;
        let inst = &market.instrument;
        let text = format!(
            "{sym} {tf}: EMA{} {} crossed {} EMA{} {}",
            p.fast,
            fmt_num(cf),
            if cross_up { "above" } else { "below" },
            p.slow,
            fmt_num(cs)
        );
        if let Some(pos) = ctx.account.position(sym) {
            let long = pos.qty > Decimal::ZERO;
            if (long && cross_down) || (!long && cross_up) {
                let reasoning = format!(
                    "{text}: close the {} {} {}",
                    if long { "long" } else { "short" },
                    pos.qty.abs(),
                    inst.base
                );
                return Some(decision(reasoning.clone(), vec![Proposal::close(sym, reasoning)]));
            }
            return None;
        }
        let side = if cross_up { Side::Buy } else { Side::Sell };
        if side == Side::Sell && (!p.allow_short || !inst.is_perp()) {
            return None;
        }
        let entry = market.last?;
        let entry_f = crate::analytics::decimal_to_f64(entry);
        let dir = if side == Side::Buy { 1.0 } else { -1.0 };
        let (stop, dist) = if p.stop_atr > 0.0 {
            let atr = atr?;
            let dist = p.stop_atr * atr;
            (Some(price_from_f64(entry_f - dir * dist, inst)?), dist)
        } else {
            (None, 0.0)
        };
        let target = if p.reward_risk > 0.0 && dist > 0.0 {
            Some(price_from_f64(entry_f + dir * dist * p.reward_risk, inst)?)
        } else {
            None
        };
        let leverage = super::capped_leverage(p.leverage, market);
        let sizing =
            Sizing { risk_per_trade_pct: p.risk_per_trade_pct, leverage, max_allocation_pct: p.max_allocation_pct };
        let (qty, how) = match (p.quantity, stop) {
            (Some(q), _) => (inst.floor_qty(q), "fixed size".to_owned()),
            (None, Some(stop)) => {
                (sizing.qty(ctx, inst, entry, stop), format!("{}% of equity at risk", p.risk_per_trade_pct))
            }
            (None, None) => return None,
        };
        if qty.is_zero() {
            return Some(decision(format!("{text}; size rounds to zero lots: no entry"), Vec::new()));
        }
        let risk_usd = stop.map(|s| ((entry - s).abs() * qty).round_dp(2));
        let stop_text = match (stop, atr) {
            (Some(s), Some(a)) => format!("stop {s} ({}×ATR14 {})", p.stop_atr, fmt_num(a)),
            _ => "no stop (reference run)".to_owned(),
        };
        let target_text = target.map_or_else(|| "no target".to_owned(), |t| format!("target {t} ({}R)", p.reward_risk));
        let reasoning = format!(
            "{text}: {} {qty} {} at ~{entry} ({how}), {stop_text}, {target_text}",
            if side == Side::Buy { "long" } else { "short" },
            inst.base,
        );
        Some(decision(
            reasoning.clone(),
            vec![Proposal {
                signal: if side == Side::Buy { Signal::BuyToEnter } else { Signal::SellToEnter },
                symbol: sym,
                quantity: qty,
                leverage,
                profit_target: target,
                stop_loss: stop,
                invalidation_condition: Some(format!(
                    "{tf} EMA{} crosses back {} EMA{}",
                    p.fast,
                    if side == Side::Buy { "below" } else { "above" },
                    p.slow
                )),
                confidence: 0.5,
                risk_usd,
                justification: reasoning,
            }],
        ))
    }
}
