//! Breakout: enter when price leaves its recent range (Donchian channel), turtle style.
//!
//! Entry long when a closed candle of `timeframe` closes above the highest high of the
//! `entry_period` candles before it (short: below their lowest low, if allowed), on volume at
//! least `min_volume_ratio` times its 20-candle average (0 disables the check). The stop is
//! `stop_atr` × ATR(14) from the entry and the target `reward_risk` times that distance. A long
//! is closed when a candle closes below the lowest low of the `exit_period` candles before it
//! (short: above their highest high): the move has failed. Size: `risk_per_trade_pct` of equity
//! lost at the stop, capped by allocation and margin. Nothing is done on warm-up values.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use ta::Next;

use super::feed::CandleFeed;
use super::{EntryIdea, Sizing, check_multiple, close, decision, enter, fmt_num, is_my_close};
use crate::agents::{AgentContext, Decision, RuleAgent};
use crate::domain::{Side, Timeframe};
use crate::indicators::{Donchian, DonchianValue};

/// Parameters of the breakout agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakoutParams {
    /// Timeframe whose candle closes trigger decisions.
    pub timeframe: Timeframe,
    /// Candles whose high/low range a close must leave to enter.
    pub entry_period: usize,
    /// Candles whose opposite extreme a close must cross to exit.
    pub exit_period: usize,
    /// The breakout candle's volume must be at least this multiple of its 20-candle average
    /// (0 disables the check).
    pub min_volume_ratio: f64,
    /// Stop distance in ATR(14) multiples.
    pub stop_atr: f64,
    /// Target distance as a multiple of the stop distance.
    pub reward_risk: f64,
    /// Equity lost if the stop is hit, in percent.
    pub risk_per_trade_pct: Decimal,
    pub leverage: Decimal,
    /// Largest notional per symbol as a percentage of equity × leverage.
    pub max_allocation_pct: Decimal,
    pub allow_short: bool,
}

impl Default for BreakoutParams {
    fn default() -> Self {
        Self {
            timeframe: Timeframe::H1,
            entry_period: 20,
            exit_period: 10,
            min_volume_ratio: 1.0,
            stop_atr: 2.0,
            reward_risk: 3.0,
            risk_per_trade_pct: Decimal::ONE,
            leverage: Decimal::from(2),
            max_allocation_pct: Decimal::from(50),
            allow_short: true,
        }
    }
}

impl BreakoutParams {
    /// Checks ranges; the message names the parameter.
    pub fn validate(&self) -> Result<(), String> {
        if !(2..=10_000).contains(&self.entry_period) {
            return Err("entry_period must be in 2..=10000".into());
        }
        if !(1..=10_000).contains(&self.exit_period) {
            return Err("exit_period must be in 1..=10000".into());
        }
        if !(self.min_volume_ratio.is_finite() && (0.0..=100.0).contains(&self.min_volume_ratio)) {
            return Err("min_volume_ratio must be in [0, 100]".into());
        }
        check_multiple("stop_atr", self.stop_atr)?;
        check_multiple("reward_risk", self.reward_risk)?;
        self.sizing().validate()
    }

    fn sizing(&self) -> Sizing {
        Sizing {
            risk_per_trade_pct: self.risk_per_trade_pct,
            leverage: self.leverage,
            max_allocation_pct: self.max_allocation_pct,
        }
    }
}

/// Channels of one symbol: before the last candle (what a close is compared with) and now.
#[derive(Debug, Clone)]
struct Channels {
    entry: Donchian,
    exit: Donchian,
    entry_before: Option<DonchianValue>,
    exit_before: Option<DonchianValue>,
}

/// The breakout agent.
pub struct Breakout {
    params: BreakoutParams,
    feed: CandleFeed<Channels>,
}

impl Breakout {
    /// `params` must have passed [`BreakoutParams::validate`].
    pub fn new(params: BreakoutParams) -> Self {
        Self { params, feed: CandleFeed::new() }
    }
}

impl RuleAgent for Breakout {
    fn kind(&self) -> &'static str {
        "breakout"
    }

    fn timeframe(&self) -> Timeframe {
        self.params.timeframe
    }

    fn decide(&mut self, ctx: &AgentContext<'_>) -> Option<Decision> {
        let p = &self.params;
        let tf = p.timeframe;
        if !is_my_close(ctx, tf) {
            return None;
        }
        let market = ctx.market(ctx.symbol)?;
        let (entry_n, exit_n) = (p.entry_period, p.exit_period);
        let ch = self.feed.update(
            ctx.symbol,
            &market.series,
            tf,
            || Channels {
                entry: Donchian::build(entry_n),
                exit: Donchian::build(exit_n),
                entry_before: None,
                exit_before: None,
            },
            |s, c| {
                s.entry_before = s.entry.value();
                s.exit_before = s.exit.value();
                s.entry.next(c);
                s.exit.next(c);
            },
        );
        let (entry_ch, exit_ch) = (ch.entry_before, ch.exit_before);
        let v = market.series.values(tf);
        let close_px = v.close;
        let sym = ctx.symbol;
        if let Some(pos) = ctx.account.position(sym) {
            let exit_ch = exit_ch?;
            let long = pos.qty > Decimal::ZERO;
            let failed = if long { close_px < exit_ch.lower } else { close_px > exit_ch.upper };
            if failed {
                return Some(close(
                    ctx,
                    format!(
                        "{sym} {tf}: close {} {} the {}-candle {} {}: the breakout has failed, close the {} {}",
                        fmt_num(close_px),
                        if long { "below" } else { "above" },
                        p.exit_period,
                        if long { "low" } else { "high" },
                        fmt_num(if long { exit_ch.lower } else { exit_ch.upper }),
                        if long { "long" } else { "short" },
                        pos.qty.abs()
                    ),
                ));
            }
            return None;
        }
        let entry_ch = entry_ch?;
        let side = if close_px > entry_ch.upper {
            Side::Buy
        } else if close_px < entry_ch.lower && p.allow_short {
            Side::Sell
        } else {
            return None;
        };
        let long = side == Side::Buy;
        let atr = v.atr14?;
        let setup = format!(
            "{sym} {tf}: close {} broke {} the {}-candle {} {}",
            fmt_num(close_px),
            if long { "above" } else { "below" },
            p.entry_period,
            if long { "high" } else { "low" },
            fmt_num(if long { entry_ch.upper } else { entry_ch.lower }),
        );
        let volume_text = if p.min_volume_ratio > 0.0 {
            let Some(avg) = v.volume_sma20 else {
                return Some(decision(format!("{setup}; volume average still warming up: no entry"), Vec::new()));
            };
            if v.volume < p.min_volume_ratio * avg {
                return Some(decision(
                    format!(
                        "{setup}; volume {} is under {}× its 20-candle average {}: no conviction, no entry",
                        fmt_num(v.volume),
                        p.min_volume_ratio,
                        fmt_num(avg)
                    ),
                    Vec::new(),
                ));
            }
            format!(" on volume {} ({:.1}× average)", fmt_num(v.volume), if avg > 0.0 { v.volume / avg } else { 0.0 })
        } else {
            String::new()
        };
        let dir = if long { 1.0 } else { -1.0 };
        let dist = p.stop_atr * atr;
        enter(
            ctx,
            EntryIdea {
                side,
                stop: close_px - dir * dist,
                target: close_px + dir * dist * p.reward_risk,
                why: format!("{setup}{volume_text}; stop {}×ATR14 {}", p.stop_atr, fmt_num(atr)),
                invalidation: format!(
                    "{tf} close back {} the {}-candle {}",
                    if long { "below" } else { "above" },
                    p.exit_period,
                    if long { "low" } else { "high" }
                ),
                confidence: 0.5,
            },
            &p.sizing(),
        )
    }
}
