//! Per-symbol indicator state that strategies keep themselves (indicators the engine's
//! [`crate::indicators::IndicatorSet`] does not carry: other periods, Donchian channels, ADX).
//!
//! Invariant: every closed candle of the strategy's timeframe is fed to the state exactly once,
//! in order. A strategy is only asked when a candle closes, and not at all while the engine
//! warms up or the agent is paused, so on each call the feed catches up on every candle closed
//! since the last one it saw, reading the series' history. If candles were dropped from the
//! bounded history before they were seen (a long pause), the state is rebuilt from the whole
//! history instead: indicators then re-seed, exactly as after a fresh start.

use crate::domain::{Candle, Symbol, Timeframe};
use crate::market::candles::CandleSeries;

/// One state per symbol, with the open time of the last candle fed to it.
#[derive(Debug, Clone)]
pub struct CandleFeed<S> {
    states: Vec<(Symbol, S, Option<i64>)>,
}

impl<S> Default for CandleFeed<S> {
    fn default() -> Self {
        Self { states: Vec::new() }
    }
}

impl<S> CandleFeed<S> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds `symbol`'s closed `tf` candles not seen yet to its state (created with `make`) and
    /// returns the state.
    pub fn update(
        &mut self,
        symbol: Symbol,
        series: &CandleSeries,
        tf: Timeframe,
        make: impl Fn() -> S,
        mut step: impl FnMut(&mut S, &Candle),
    ) -> &mut S {
        let k = match self.states.iter().position(|(s, ..)| *s == symbol) {
            Some(k) => k,
            None => {
                self.states.push((symbol, make(), None));
                self.states.len() - 1
            }
        };
        let (_, state, last) = &mut self.states[k];
        let oldest = series.history(tf).next().map(|c| c.open_ms);
        if let (Some(l), Some(o)) = (*last, oldest)
            && l < o
        {
            // Candles between `l` and the oldest kept one may have been evicted unseen.
            *state = make();
            *last = None;
        }
        let fresh = match *last {
            Some(l) => series.history(tf).rev().take_while(|c| c.open_ms > l).count(),
            None => series.history(tf).len(),
        };
        let skip = series.history(tf).len() - fresh;
        for c in series.history(tf).skip(skip) {
            step(state, c);
            *last = Some(c.open_ms);
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(minute: i64, close: f64) -> Candle {
        Candle { open_ms: minute * 60_000, open: close, high: close, low: close, close, volume: 1.0, closed: true }
    }

    #[test]
    fn every_candle_is_fed_once_and_evictions_rebuild() {
        let sym = Symbol::new("BTCUSDT").unwrap();
        let mut series = CandleSeries::new(5);
        let mut feed: CandleFeed<Vec<i64>> = CandleFeed::new();
        let seen = |feed: &mut CandleFeed<Vec<i64>>, series: &CandleSeries| {
            feed.update(sym, series, Timeframe::M1, Vec::new, |s, c| s.push(c.open_ms / 60_000)).clone()
        };
        assert!(seen(&mut feed, &series).is_empty());
        for m in 0..3 {
            series.on_bar(&bar(m, 100.0)).unwrap();
        }
        assert_eq!(seen(&mut feed, &series), vec![0, 1, 2]);
        series.on_bar(&bar(3, 100.0)).unwrap();
        assert_eq!(seen(&mut feed, &series), vec![0, 1, 2, 3]);
        assert_eq!(seen(&mut feed, &series), vec![0, 1, 2, 3], "nothing new, nothing fed");
        // Ten more minutes unseen: the history (5) lost some of them, so the state restarts.
        for m in 4..14 {
            series.on_bar(&bar(m, 100.0)).unwrap();
        }
        assert_eq!(seen(&mut feed, &series), vec![9, 10, 11, 12, 13]);
    }
}
