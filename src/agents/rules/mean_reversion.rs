//! Mean reversion: fade a stretched move back to the mean, in a ranging market only.
//!
//! Entry long when a closed candle of `timeframe` closes below the lower Bollinger band (20, 2)
//! with RSI(14) below `rsi_oversold`; short is the mirror image (close above the upper band, RSI
//! above `rsi_overbought`), if allowed. Both need ADX(14) below `max_adx`: a strong trend is not
//! faded. The target is the middle band (the mean the price should revert to) and the stop
//! `stop_atr` × ATR(14) beyond the entry; an entry whose reward/risk to the middle band is below
//! `min_reward_risk` is skipped. A position that has not reverted within `max_hold_bars`
//! candles is closed (the thesis has expired). Size: `risk_per_trade_pct` of equity lost at the
//! stop, capped by allocation and margin. Nothing is done on warm-up values.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use ta::Next;

use super::feed::CandleFeed;
use super::{EntryIdea, Sizing, check_multiple, close, decision, enter, fmt_num, is_my_close};
use crate::agents::{AgentContext, Decision, RuleAgent};
use crate::domain::{Side, Timeframe};
use crate::indicators::Adx;

/// Parameters of the mean-reversion agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeanReversionParams {
    /// Timeframe whose candle closes trigger decisions.
    pub timeframe: Timeframe,
    /// RSI(14) below this (with a close under the lower band) is oversold: buy.
    pub rsi_oversold: f64,
    /// RSI(14) above this (with a close over the upper band) is overbought: sell.
    pub rsi_overbought: f64,
    /// Trade only while ADX(14) is below this (a ranging market); 100 disables the filter.
    pub max_adx: f64,
    /// Stop distance in ATR(14) multiples.
    pub stop_atr: f64,
    /// Smallest reward/risk of the middle-band target.
    pub min_reward_risk: f64,
    /// Close a position that has not reverted after this many candles (0 = never).
    pub max_hold_bars: u32,
    /// Equity lost if the stop is hit, in percent.
    pub risk_per_trade_pct: Decimal,
    pub leverage: Decimal,
    /// Largest notional per symbol as a percentage of equity × leverage.
    pub max_allocation_pct: Decimal,
    pub allow_short: bool,
}

impl Default for MeanReversionParams {
    fn default() -> Self {
        Self {
            timeframe: Timeframe::M15,
            rsi_oversold: 30.0,
            rsi_overbought: 70.0,
            max_adx: 25.0,
            stop_atr: 1.5,
            min_reward_risk: 1.0,
            max_hold_bars: 24,
            risk_per_trade_pct: Decimal::ONE,
            leverage: Decimal::from(2),
            max_allocation_pct: Decimal::from(50),
            allow_short: true,
        }
    }
}

impl MeanReversionParams {
    /// Checks ranges; the message names the parameter.
    pub fn validate(&self) -> Result<(), String> {
        let pct = |x: f64| x.is_finite() && (0.0..=100.0).contains(&x);
        if !(pct(self.rsi_oversold) && pct(self.rsi_overbought) && self.rsi_oversold < self.rsi_overbought) {
            return Err("rsi_oversold and rsi_overbought must be in [0, 100] with rsi_oversold < rsi_overbought".into());
        }
        if !pct(self.max_adx) {
            return Err("max_adx must be in [0, 100]".into());
        }
        check_multiple("stop_atr", self.stop_atr)?;
        if !(self.min_reward_risk.is_finite() && (0.0..=20.0).contains(&self.min_reward_risk)) {
            return Err("min_reward_risk must be in [0, 20]".into());
        }
        if self.max_hold_bars > 100_000 {
            return Err("max_hold_bars must be at most 100000".into());
        }
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

/// The mean-reversion agent.
pub struct MeanReversion {
    params: MeanReversionParams,
    adx: CandleFeed<Adx>,
}

impl MeanReversion {
    /// `params` must have passed [`MeanReversionParams::validate`].
    pub fn new(params: MeanReversionParams) -> Self {
        Self { params, adx: CandleFeed::new() }
    }
}

impl RuleAgent for MeanReversion {
    fn kind(&self) -> &'static str {
        "mean_reversion"
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
        let adx = self.adx.update(
            ctx.symbol,
            &market.series,
            tf,
            || Adx::build(14),
            |a, c| {
                a.next(c);
            },
        );
        let adx = adx.value();
        let sym = ctx.symbol;
        if let Some(pos) = ctx.account.position(sym) {
            let held_ms = ctx.now_ms - pos.opened_ms;
            let limit_ms = i64::from(p.max_hold_bars) * tf.ms();
            if p.max_hold_bars > 0 && held_ms >= limit_ms {
                return Some(close(
                    ctx,
                    format!(
                        "{sym} {tf}: no reversion to the mean within {} candles ({} min held): close the {} {}",
                        p.max_hold_bars,
                        held_ms / 60_000,
                        if pos.qty > Decimal::ZERO { "long" } else { "short" },
                        pos.qty.abs()
                    ),
                ));
            }
            return None;
        }
        let v = market.series.values(tf);
        let (rsi, bb, atr) = (v.rsi14?, v.bb?, v.atr14?);
        let close_px = v.close;
        let side = if close_px < bb.lower && rsi < p.rsi_oversold {
            Side::Buy
        } else if close_px > bb.upper && rsi > p.rsi_overbought && p.allow_short {
            Side::Sell
        } else {
            return None;
        };
        let long = side == Side::Buy;
        let setup = format!(
            "{sym} {tf}: close {} {} the {} band {} with RSI14 {} ({}), mean {}",
            fmt_num(close_px),
            if long { "below" } else { "above" },
            if long { "lower" } else { "upper" },
            fmt_num(if long { bb.lower } else { bb.upper }),
            fmt_num(rsi),
            if long { "oversold" } else { "overbought" },
            fmt_num(bb.middle),
        );
        let Some(adx) = adx else {
            return Some(decision(format!("{setup}; ADX14 still warming up: no entry"), Vec::new()));
        };
        if adx >= p.max_adx {
            return Some(decision(
                format!(
                    "{setup}; ADX14 {} ≥ {}: the market is trending, not fading it: no entry",
                    fmt_num(adx),
                    p.max_adx
                ),
                Vec::new(),
            ));
        }
        let dir = if long { 1.0 } else { -1.0 };
        let dist = p.stop_atr * atr;
        let reward = (bb.middle - close_px) * dir;
        if dist <= 0.0 || reward / dist < p.min_reward_risk {
            return Some(decision(
                format!(
                    "{setup}; reward to the mean {} is under {}× the {}×ATR14 stop distance {}: no entry",
                    fmt_num(reward),
                    p.min_reward_risk,
                    p.stop_atr,
                    fmt_num(dist)
                ),
                Vec::new(),
            ));
        }
        enter(
            ctx,
            EntryIdea {
                side,
                stop: close_px - dir * dist,
                target: bb.middle,
                why: format!(
                    "{setup}, ADX14 {} < {} (ranging); target the mean, stop {}×ATR14 {}",
                    fmt_num(adx),
                    p.max_adx,
                    p.stop_atr,
                    fmt_num(atr)
                ),
                invalidation: format!("no reversion to the {tf} Bollinger middle within {} candles", p.max_hold_bars),
                confidence: 0.55,
            },
            &p.sizing(),
        )
    }
}
