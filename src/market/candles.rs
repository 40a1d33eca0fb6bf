//! Multi-timeframe candles for one symbol, built from trades or from closed 1m bars, with one
//! [`IndicatorSet`] per timeframe.
//!
//! Invariants:
//! * Buckets are UTC-aligned ([`Timeframe::bucket_start`]); a candle's `open_ms` is its bucket
//!   start even when its first trade or bar came later in the bucket.
//! * Time only moves forward. Each timeframe has at most one forming candle; once a bucket is
//!   closed it stays closed, and an event for it is refused without touching any state (and
//!   counted in [`CandleSeries::rejected`]).
//! * No synthetic candles: a bucket in which nothing traded (or whose bars are missing) gets no
//!   candle. Indicators therefore see only real candles; a gap is a gap, not a flat bar.
//! * Indicators advance only on closed candles, and every closed timeframe's indicators have been
//!   advanced before the call that closed it returns.
//! * Every event is O(1): fixed rings of `history` closed candles and values per timeframe,
//!   allocated up front, no growing collections.
//! * Only sane numbers get in: prices finite, positive and at most [`MAX_INPUT`]; quantities and
//!   volumes finite, non-negative and at most [`MAX_INPUT`]; a bar's high >= low with open and
//!   close inside; timestamps between the Unix epoch and [`MAX_TS_MS`]; 1m bars on a minute
//!   boundary. Hence every stored candle is well formed and no bucket arithmetic can overflow.
//!
//! Trades ([`CandleSeries::on_trade`]): a trade in a later 1m bucket closes the forming 1m candle
//! and every higher-timeframe candle whose bucket changed; a trade in the current bucket updates
//! it; a trade in an earlier bucket (closed, or skipped over) is [`CandleError::Late`]. Quiet
//! markets are closed by the clock: [`CandleSeries::on_time`] closes each forming candle whose
//! bucket has ended (`bucket end <= now`), and from then on that minute is closed.
//!
//! Bars ([`CandleSeries::on_bar`]): each 1m bar is a closed 1m candle (its `closed` flag is not
//! consulted: the method says it is closed). It updates every higher timeframe, whose candle
//! closes as soon as the bar ending its bucket arrives (`bar.open_ms + 1m == bucket end`), or,
//! if that bar never comes, when the first bar of a later bucket shows the bucket was left. Bars
//! must come in strictly increasing `open_ms` order ([`CandleError::Duplicate`],
//! [`CandleError::OutOfOrder`]). `on_time` does nothing to bar-built candles: a bar is only
//! published after its minute ends, and the clock must not close the bucket it belongs to first.
//!
//! Input kind: the first accepted event fixes it ([`CandleSeries::input`]). One switch is
//! allowed, bars to trades, which is the usual "back-fill from REST klines, then go live on the
//! trade stream": the forming higher-timeframe candles simply continue, and trades in a minute
//! already covered by a bar are late. Bars after trades are refused
//! ([`CandleError::InputMismatch`]): a bar for a minute partly built from trades cannot be merged
//! without counting those trades twice.

use std::collections::VecDeque;

use crate::domain::{Candle, Timeframe};
use crate::indicators::{IndicatorSet, IndicatorValues};

/// Latest accepted timestamp: 9999-12-31T23:59:59.999Z. With the earliest (the Unix epoch) it
/// keeps every bucket computation far from `i64` overflow.
pub const MAX_TS_MS: i64 = 253_402_300_799_999;

/// Largest accepted price or quantity. Far above anything real, and low enough that no candle
/// volume summed from such inputs can leave the range the indicators accept.
pub const MAX_INPUT: f64 = 1e80;

/// Most closed candles kept per timeframe; larger `history` requests are clamped to it.
pub const MAX_HISTORY: usize = 100_000;

const MINUTE_MS: i64 = Timeframe::M1.ms();

/// How a symbol's candles are built (decided by the source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandleInput {
    Trades,
    Bars,
}

/// The set of timeframes whose candle an event closed (bit `tf.index()`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Closed(u8);

impl Closed {
    pub fn contains(self, tf: Timeframe) -> bool {
        self.0 & (1 << tf.index()) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The closed timeframes, shortest first.
    pub fn iter(self) -> impl Iterator<Item = Timeframe> {
        Timeframe::ALL.into_iter().filter(move |tf| self.contains(*tf))
    }

    fn insert(&mut self, tf: Timeframe) {
        self.0 |= 1 << tf.index();
    }
}

/// Why an event was refused. Nothing was changed by a refused event.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CandleError {
    #[error("{what} at {} is not a finite number ({value})", utc(*ts_ms))]
    NonFinite { what: &'static str, value: f64, ts_ms: i64 },
    #[error("{what} at {} is beyond {MAX_INPUT:e} ({value})", utc(*ts_ms))]
    OutOfRange { what: &'static str, value: f64, ts_ms: i64 },
    #[error("{what} at {} is not positive ({value})", utc(*ts_ms))]
    NonPositivePrice { what: &'static str, value: f64, ts_ms: i64 },
    #[error("{what} at {} is negative ({value})", utc(*ts_ms))]
    NegativeVolume { what: &'static str, value: f64, ts_ms: i64 },
    #[error(
        "inconsistent 1m bar at {}: {reason} (open {open}, high {high}, low {low}, close {close})",
        utc(*open_ms)
    )]
    Inconsistent { open_ms: i64, reason: &'static str, open: f64, high: f64, low: f64, close: f64 },
    #[error("1m bar open time {} ({open_ms} ms) is not on a minute boundary", utc(*open_ms))]
    Misaligned { open_ms: i64 },
    #[error("timestamp {ts_ms} ms is outside 1970-01-01T00:00:00Z..=9999-12-31T23:59:59.999Z")]
    Timestamp { ts_ms: i64 },
    #[error(
        "1m bar at {} is older than the last accepted bar, at {}",
        utc(*open_ms),
        utc(*last_ms)
    )]
    OutOfOrder { open_ms: i64, last_ms: i64 },
    #[error("duplicate 1m bar at {}", utc(*open_ms))]
    Duplicate { open_ms: i64 },
    #[error(
        "late trade at {}: its 1m bucket {} is already closed (open buckets start at {})",
        utc(*ts_ms),
        utc(*bucket_ms),
        utc(*open_from_ms)
    )]
    Late { ts_ms: i64, bucket_ms: i64, open_from_ms: i64 },
    #[error("{got:?} refused: this series is built from {built_from:?}, and bars cannot follow trades")]
    InputMismatch { built_from: CandleInput, got: CandleInput },
}

/// `ms` as an RFC 3339 UTC instant, for error messages.
fn utc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_else(|_| format!("{ms} ms"))
}

/// A bounded ring of the most recent items, allocated once.
#[derive(Debug, Clone)]
struct Ring<T> {
    items: VecDeque<T>,
    cap: usize,
}

impl<T> Ring<T> {
    fn new(cap: usize) -> Self {
        Self { items: VecDeque::with_capacity(cap), cap }
    }

    fn push(&mut self, item: T) {
        if self.items.len() == self.cap {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }
}

/// One timeframe: its forming candle, its closed history and its indicators.
#[derive(Debug, Clone)]
struct Frame {
    tf: Timeframe,
    forming: Option<Candle>,
    candles: Ring<Candle>,
    values: Ring<IndicatorValues>,
    indicators: IndicatorSet,
}

impl Frame {
    fn new(tf: Timeframe, history: usize) -> Self {
        Self {
            tf,
            forming: None,
            candles: Ring::new(history),
            values: Ring::new(history),
            indicators: IndicatorSet::new(),
        }
    }

    /// Finalises `candle`: indicators first, then both rings.
    fn close(&mut self, mut candle: Candle) {
        candle.closed = true;
        self.indicators.update(&candle);
        self.candles.push(candle);
        self.values.push(self.indicators.values());
    }

    /// Closes the forming candle if it belongs to a bucket other than `bucket` (time only moves
    /// forward, so that bucket is over).
    fn leave_other_bucket(&mut self, bucket: i64, closed: &mut Closed) {
        if let Some(c) = self.forming
            && c.open_ms != bucket
        {
            self.forming = None;
            self.close(c);
            closed.insert(self.tf);
        }
    }

    /// Adds one trade to the forming candle of `bucket`, starting it if needed.
    fn add_trade(&mut self, bucket: i64, price: f64, qty: f64) {
        match &mut self.forming {
            Some(c) => {
                c.high = c.high.max(price);
                c.low = c.low.min(price);
                c.close = price;
                c.volume += qty;
            }
            None => self.forming = Some(Candle::start(bucket, price, qty)),
        }
    }

    /// Adds one 1m bar to the forming candle of `bucket`, starting it if needed.
    fn add_bar(&mut self, bucket: i64, bar: &Candle) {
        match &mut self.forming {
            Some(c) => {
                c.high = c.high.max(bar.high);
                c.low = c.low.min(bar.low);
                c.close = bar.close;
                c.volume += bar.volume;
            }
            None => self.forming = Some(Candle { open_ms: bucket, closed: false, ..*bar }),
        }
    }
}

/// All six timeframes of one symbol, each with its bounded history and its indicators.
#[derive(Debug, Clone)]
pub struct CandleSeries {
    frames: [Frame; 6],
    input: Option<CandleInput>,
    /// Start of the earliest 1m bucket that may still receive trades; everything before it is
    /// closed (by a later trade, a bar or the clock).
    open_from_ms: i64,
    last_bar_ms: Option<i64>,
    last_price: Option<f64>,
    rejected: u64,
}

impl CandleSeries {
    /// Keeps the last `history` closed candles (and their indicator values) per timeframe,
    /// clamped to `1..=MAX_HISTORY`. The rings are allocated here, once.
    pub fn new(history: usize) -> Self {
        let history = history.clamp(1, MAX_HISTORY);
        Self {
            frames: Timeframe::ALL.map(|tf| Frame::new(tf, history)),
            input: None,
            open_from_ms: 0,
            last_bar_ms: None,
            last_price: None,
            rejected: 0,
        }
    }

    /// How the candles are being built, once the first event was accepted.
    pub fn input(&self) -> Option<CandleInput> {
        self.input
    }

    /// Closed candles kept per timeframe.
    pub fn capacity(&self) -> usize {
        self.frames[0].candles.cap
    }

    /// One trade. Returns the timeframes it closed (a trade in a new 1m bucket closes the
    /// previous one and every higher-timeframe candle whose bucket changed).
    pub fn on_trade(&mut self, ts_ms: i64, price: f64, qty: f64) -> Result<Closed, CandleError> {
        let checked = self.check_trade(ts_ms, price, qty);
        let bucket = match checked {
            Ok(bucket) => bucket,
            Err(e) => {
                self.rejected += 1;
                return Err(e);
            }
        };
        self.input = Some(CandleInput::Trades);
        let mut closed = Closed::default();
        for frame in &mut self.frames {
            let b = frame.tf.bucket_start(ts_ms);
            frame.leave_other_bucket(b, &mut closed);
            frame.add_trade(b, price, qty);
        }
        self.open_from_ms = bucket;
        self.last_price = Some(price);
        Ok(closed)
    }

    /// One closed 1m bar. Returns the timeframes it closed: always 1m, plus every higher
    /// timeframe whose bucket this bar ends or that a gap left behind.
    pub fn on_bar(&mut self, bar: &Candle) -> Result<Closed, CandleError> {
        if let Err(e) = self.check_bar(bar) {
            self.rejected += 1;
            return Err(e);
        }
        self.input = Some(CandleInput::Bars);
        self.last_bar_ms = Some(bar.open_ms);
        let bar_end = bar.open_ms + MINUTE_MS;
        let mut closed = Closed::default();
        let [minute, higher @ ..] = &mut self.frames;
        minute.close(*bar);
        closed.insert(Timeframe::M1);
        for frame in higher {
            let b = frame.tf.bucket_start(bar.open_ms);
            frame.leave_other_bucket(b, &mut closed);
            frame.add_bar(b, bar);
            if bar_end == b + frame.tf.ms()
                && let Some(c) = frame.forming.take()
            {
                frame.close(c);
                closed.insert(frame.tf);
            }
        }
        self.open_from_ms = bar_end;
        self.last_price = Some(bar.close);
        Ok(closed)
    }

    /// The clock: closes every forming candle whose bucket has ended (`end <= now_ms`) and
    /// marks every minute before `now_ms`'s as closed. Only trade-built candles are closed this
    /// way; for bars (or before any event) this does nothing. A `now_ms` outside the supported
    /// range is ignored.
    pub fn on_time(&mut self, now_ms: i64) -> Closed {
        let mut closed = Closed::default();
        if self.input != Some(CandleInput::Trades) || !(0..=MAX_TS_MS).contains(&now_ms) {
            return closed;
        }
        for frame in &mut self.frames {
            if let Some(c) = frame.forming
                && c.open_ms + frame.tf.ms() <= now_ms
            {
                frame.forming = None;
                frame.close(c);
                closed.insert(frame.tf);
            }
        }
        self.open_from_ms = self.open_from_ms.max(Timeframe::M1.bucket_start(now_ms));
        closed
    }

    /// The candle still forming on `tf` (never one for 1m when built from bars).
    pub fn forming(&self, tf: Timeframe) -> Option<&Candle> {
        self.frames[tf.index()].forming.as_ref()
    }

    pub fn last_closed(&self, tf: Timeframe) -> Option<&Candle> {
        self.frames[tf.index()].candles.items.back()
    }

    /// Closed candles of `tf`, oldest to newest, at most `capacity()` of them.
    pub fn history(&self, tf: Timeframe) -> impl DoubleEndedIterator<Item = &Candle> + ExactSizeIterator {
        self.frames[tf.index()].candles.items.iter()
    }

    /// The indicator values after the last closed candle of `tf`.
    pub fn values(&self, tf: Timeframe) -> IndicatorValues {
        self.frames[tf.index()].indicators.values()
    }

    /// The indicator values after each closed candle of `tf`, oldest to newest, aligned with
    /// [`Self::history`].
    pub fn value_history(
        &self,
        tf: Timeframe,
    ) -> impl DoubleEndedIterator<Item = &IndicatorValues> + ExactSizeIterator {
        self.frames[tf.index()].values.items.iter()
    }

    /// Price of the last accepted trade, or close of the last accepted bar.
    pub fn last_price(&self) -> Option<f64> {
        self.last_price
    }

    /// Events refused since creation.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Validates a trade; returns its 1m bucket.
    fn check_trade(&self, ts_ms: i64, price: f64, qty: f64) -> Result<i64, CandleError> {
        check_ts(ts_ms)?;
        check_number("trade price", price, ts_ms)?;
        check_number("trade quantity", qty, ts_ms)?;
        if price <= 0.0 {
            return Err(CandleError::NonPositivePrice { what: "trade price", value: price, ts_ms });
        }
        if qty < 0.0 {
            return Err(CandleError::NegativeVolume { what: "trade quantity", value: qty, ts_ms });
        }
        let bucket = Timeframe::M1.bucket_start(ts_ms);
        if bucket < self.open_from_ms {
            return Err(CandleError::Late { ts_ms, bucket_ms: bucket, open_from_ms: self.open_from_ms });
        }
        Ok(bucket)
    }

    fn check_bar(&self, bar: &Candle) -> Result<(), CandleError> {
        let Candle { open_ms, open, high, low, close, volume, .. } = *bar;
        check_ts(open_ms)?;
        if open_ms.rem_euclid(MINUTE_MS) != 0 {
            return Err(CandleError::Misaligned { open_ms });
        }
        for (what, value) in
            [("bar open", open), ("bar high", high), ("bar low", low), ("bar close", close), ("bar volume", volume)]
        {
            check_number(what, value, open_ms)?;
        }
        for (what, value) in [("bar open", open), ("bar high", high), ("bar low", low), ("bar close", close)] {
            if value <= 0.0 {
                return Err(CandleError::NonPositivePrice { what, value, ts_ms: open_ms });
            }
        }
        if volume < 0.0 {
            return Err(CandleError::NegativeVolume { what: "bar volume", value: volume, ts_ms: open_ms });
        }
        let reason = if high < low {
            Some("high below low")
        } else if !(low..=high).contains(&open) {
            Some("open outside low..=high")
        } else if !(low..=high).contains(&close) {
            Some("close outside low..=high")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(CandleError::Inconsistent { open_ms, reason, open, high, low, close });
        }
        if self.input == Some(CandleInput::Trades) {
            return Err(CandleError::InputMismatch { built_from: CandleInput::Trades, got: CandleInput::Bars });
        }
        match self.last_bar_ms {
            Some(last) if open_ms == last => Err(CandleError::Duplicate { open_ms }),
            Some(last) if open_ms < last => Err(CandleError::OutOfOrder { open_ms, last_ms: last }),
            _ => Ok(()),
        }
    }
}

fn check_ts(ts_ms: i64) -> Result<(), CandleError> {
    if (0..=MAX_TS_MS).contains(&ts_ms) { Ok(()) } else { Err(CandleError::Timestamp { ts_ms }) }
}

fn check_number(what: &'static str, value: f64, ts_ms: i64) -> Result<(), CandleError> {
    if !value.is_finite() {
        Err(CandleError::NonFinite { what, value, ts_ms })
    } else if value.abs() > MAX_INPUT {
        Err(CandleError::OutOfRange { what, value, ts_ms })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_is_a_bit_set_of_timeframes() {
        let mut c = Closed::default();
        assert!(c.is_empty());
        assert_eq!(c.iter().count(), 0);
        c.insert(Timeframe::H1);
        c.insert(Timeframe::M1);
        c.insert(Timeframe::H1);
        assert!(!c.is_empty());
        assert_eq!(c.len(), 2);
        assert!(c.contains(Timeframe::M1) && c.contains(Timeframe::H1));
        assert!(!c.contains(Timeframe::M5) && !c.contains(Timeframe::D1));
        assert_eq!(c.iter().collect::<Vec<_>>(), vec![Timeframe::M1, Timeframe::H1]);
    }

    #[test]
    fn ring_keeps_the_newest_without_growing() {
        let mut r = Ring::new(3);
        let cap = r.items.capacity();
        for i in 0..10 {
            r.push(i);
        }
        assert_eq!(r.items.iter().copied().collect::<Vec<_>>(), vec![7, 8, 9]);
        assert_eq!(r.items.capacity(), cap);
    }

    #[test]
    fn history_is_clamped() {
        assert_eq!(CandleSeries::new(0).capacity(), 1);
        assert_eq!(CandleSeries::new(500).capacity(), 500);
        assert_eq!(CandleSeries::new(usize::MAX).capacity(), MAX_HISTORY);
    }

    #[test]
    fn utc_formats_instants_and_survives_nonsense() {
        assert_eq!(utc(1_640_995_259_900), "2022-01-01T00:00:59.9Z");
        assert_eq!(utc(i64::MAX), format!("{} ms", i64::MAX));
    }
}
