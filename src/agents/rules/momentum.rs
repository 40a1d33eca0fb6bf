//! Multi-timeframe momentum: ride a move only when every timeframe agrees on its direction.
//!
//! On each closed candle of `timeframe`, ROC(`roc_period`) is read on that timeframe and on every
//! `confirm_timeframes` entry (each on its own closed candles). Entry long when all of them are
//! above `min_roc_pct` and RSI(14) of `timeframe` lies in [`rsi_min`, `rsi_max`] (momentum that
//! is not yet exhausted); short when all are below −`min_roc_pct` and RSI(14) lies in
//! [100 − `rsi_max`, 100 − `rsi_min`], if allowed. The stop is `stop_atr` × ATR(14) of
//! `timeframe` from the entry and the target `reward_risk` times that distance. A position is
//! closed when the ROC of `timeframe` or of the first confirming timeframe turns against it
//! (momentum lost). Size: `risk_per_trade_pct` of equity lost at the stop, capped by allocation
//! and margin. Nothing is done on warm-up values.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use ta::Next;

use super::feed::CandleFeed;
use super::{EntryIdea, Sizing, check_multiple, close, decision, enter, fmt_num, is_my_close};
use crate::agents::{AgentContext, Decision, RuleAgent};
use crate::domain::{Side, Timeframe};
use crate::indicators::Roc;

/// Parameters of the momentum agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MomentumParams {
    /// Timeframe whose candle closes trigger decisions.
    pub timeframe: Timeframe,
    /// Longer timeframes that must agree (each longer than `timeframe`).
    pub confirm_timeframes: Vec<Timeframe>,
    /// Candles back for the rate of change on every timeframe.
    pub roc_period: usize,
    /// Smallest |ROC| in percent, on every timeframe, for an entry.
    pub min_roc_pct: f64,
    /// RSI(14) band of `timeframe` for longs (shorts use 100 − this band).
    pub rsi_min: f64,
    pub rsi_max: f64,
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

impl Default for MomentumParams {
    fn default() -> Self {
        Self {
            timeframe: Timeframe::M15,
            confirm_timeframes: vec![Timeframe::H1, Timeframe::H4],
            roc_period: 12,
            min_roc_pct: 0.0,
            rsi_min: 50.0,
            rsi_max: 75.0,
            stop_atr: 2.0,
            reward_risk: 2.0,
            risk_per_trade_pct: Decimal::ONE,
            leverage: Decimal::from(2),
            max_allocation_pct: Decimal::from(50),
            allow_short: true,
        }
    }
}

impl MomentumParams {
    /// Checks ranges; the message names the parameter.
    pub fn validate(&self) -> Result<(), String> {
        for (i, tf) in self.confirm_timeframes.iter().enumerate() {
            if *tf <= self.timeframe {
                return Err(format!("confirm_timeframes: {tf} is not longer than timeframe {}", self.timeframe));
            }
            if self.confirm_timeframes[..i].contains(tf) {
                return Err(format!("confirm_timeframes: {tf} is listed twice"));
            }
        }
        if !(1..=10_000).contains(&self.roc_period) {
            return Err("roc_period must be in 1..=10000".into());
        }
        if !(self.min_roc_pct.is_finite() && (0.0..=100.0).contains(&self.min_roc_pct)) {
            return Err("min_roc_pct must be in [0, 100]".into());
        }
        let pct = |x: f64| x.is_finite() && (0.0..=100.0).contains(&x);
        if !(pct(self.rsi_min) && pct(self.rsi_max) && self.rsi_min <= self.rsi_max) {
            return Err("rsi_min and rsi_max must be in [0, 100] with rsi_min <= rsi_max".into());
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

    /// Every timeframe read: the decision timeframe first.
    fn timeframes(&self) -> Vec<Timeframe> {
        std::iter::once(self.timeframe).chain(self.confirm_timeframes.iter().copied()).collect()
    }
}

/// The multi-timeframe momentum agent.
pub struct Momentum {
    params: MomentumParams,
    /// One ROC feed per timeframe, in [`MomentumParams::timeframes`] order.
    feeds: Vec<(Timeframe, CandleFeed<Roc>)>,
}

impl Momentum {
    /// `params` must have passed [`MomentumParams::validate`].
    pub fn new(params: MomentumParams) -> Self {
        let feeds = params.timeframes().into_iter().map(|tf| (tf, CandleFeed::new())).collect();
        Self { params, feeds }
    }
}

impl RuleAgent for Momentum {
    fn kind(&self) -> &'static str {
        "momentum"
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
        let n = p.roc_period;
        let mut rocs: Vec<(Timeframe, Option<f64>)> = Vec::with_capacity(self.feeds.len());
        for (ftf, feed) in &mut self.feeds {
            let roc = feed.update(
                ctx.symbol,
                &market.series,
                *ftf,
                || Roc::build(n),
                |r, c| {
                    r.next(c.close);
                },
            );
            rocs.push((*ftf, roc.value()));
        }
        let sym = ctx.symbol;
        let roc_text = |rocs: &[(Timeframe, Option<f64>)]| {
            rocs.iter()
                .map(|(t, r)| format!("{t} {}", r.map_or_else(|| "warming".to_owned(), |r| format!("{r:+.2}%"))))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(pos) = ctx.account.position(sym) {
            let long = pos.qty > Decimal::ZERO;
            // The decision timeframe and the first confirming one decide the exit.
            let against = rocs.iter().take(2).find(|(_, r)| r.is_some_and(|r| if long { r < 0.0 } else { r > 0.0 }));
            if let Some((t, _)) = against {
                return Some(close(
                    ctx,
                    format!(
                        "{sym} {tf}: ROC{n} {} turned {} on {t}: momentum lost, close the {} {}",
                        roc_text(&rocs),
                        if long { "negative" } else { "positive" },
                        if long { "long" } else { "short" },
                        pos.qty.abs()
                    ),
                ));
            }
            return None;
        }
        let values: Option<Vec<f64>> = rocs.iter().map(|(_, r)| *r).collect();
        let values = values?;
        let v = market.series.values(tf);
        let (rsi, atr) = (v.rsi14?, v.atr14?);
        let up = values.iter().all(|r| *r > p.min_roc_pct);
        let down = values.iter().all(|r| *r < -p.min_roc_pct);
        let side = if up {
            Side::Buy
        } else if down && p.allow_short {
            Side::Sell
        } else {
            return None;
        };
        let long = side == Side::Buy;
        let (lo, hi) = if long { (p.rsi_min, p.rsi_max) } else { (100.0 - p.rsi_max, 100.0 - p.rsi_min) };
        let setup = format!(
            "{sym}: ROC{n} {} all {} (threshold {}%), {tf} RSI14 {}",
            roc_text(&rocs),
            if long { "up" } else { "down" },
            p.min_roc_pct,
            fmt_num(rsi)
        );
        if !(lo..=hi).contains(&rsi) {
            return Some(decision(
                format!("{setup} outside [{lo}, {hi}]: momentum exhausted or not confirmed, no entry"),
                Vec::new(),
            ));
        }
        let dir = if long { 1.0 } else { -1.0 };
        let dist = p.stop_atr * atr;
        let close_px = v.close;
        enter(
            ctx,
            EntryIdea {
                side,
                stop: close_px - dir * dist,
                target: close_px + dir * dist * p.reward_risk,
                why: format!("{setup} in [{lo}, {hi}]; stop {}×ATR14 {}", p.stop_atr, fmt_num(atr)),
                invalidation: format!("{tf} ROC{n} turns {}", if long { "negative" } else { "positive" }),
                confidence: 0.55,
            },
            &p.sizing(),
        )
    }
}
