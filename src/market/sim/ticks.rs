//! Ticks mode: the intra-minute price path, quotes and trade prints of one symbol.
//!
//! Within a minute the log mid follows a Brownian bridge from the previous close to the
//! minute's close (both fixed by the minute model), with the minute's diffusive variance, plus
//! the minute's jump (if any) as a single gap at a random instant. At the minute's end the
//! path is set to the close itself, not recomputed, so the close is bit-identical to bars
//! mode. All draws here come from the symbol's own *tick* stream, which bars mode never
//! touches.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::grid::Grid;
use super::model::{MINUTE_MS, SymDyn};
use crate::domain::{MarketData, MarketEvent, Side, Symbol};

/// Trade prints per minute at average volume (intensity scales with the minute's volume).
pub const TRADES_PER_MIN: f64 = 60.0;
/// Log-sd of trade sizes, and cap on one print relative to the mean size.
const TRADE_SIZE_SD: f64 = 1.0;
const MAX_TRADE_MULT: f64 = 50.0;
/// Mean top-of-book size as a fraction of average minute volume, and its log-sd.
const DEPTH_FRACTION: f64 = 0.02;
const DEPTH_SD: f64 = 0.6;
/// The spread widens in proportion to current/normal volatility, up to this factor.
const MAX_SPREAD_WIDEN: f64 = 20.0;
/// Bound on the expected prints in one segment, so no config can make a step unbounded.
const MAX_TRADES_PER_SEGMENT: f64 = 20_000.0;
/// How strongly the direction of the move tilts aggressors (0.5 ± this).
const AGGRESSOR_TILT: f64 = 0.3;

/// Static per-symbol parameters of the book.
#[derive(Debug, Clone)]
pub struct Book {
    pub symbol: Symbol,
    pub tick: Grid,
    pub lot: Grid,
    /// Calm half-spread as a fraction of the mid.
    pub half_spread: f64,
    pub volume_base: f64,
}

#[derive(Debug, Clone)]
pub struct Intra {
    rng: ChaCha8Rng,
    x_open: f64,
    /// Diffusive part of the path relative to `x_open`, at `t` ms into the minute.
    d: f64,
    t: i64,
    /// Offset of the jump within the minute (`i64::MAX`: none).
    jump_at: i64,
    /// Current log mid.
    x: f64,
    next_trade_id: u64,
    ts_scratch: Vec<i64>,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

/// Poisson draw: multiplication method for small means, normal approximation beyond.
fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u64 {
    if lambda.is_nan() || lambda <= 0.0 {
        return 0;
    }
    if lambda < 30.0 {
        let limit = (-lambda).exp();
        let mut p = 1.0;
        let mut k = 0;
        loop {
            p *= rng.random::<f64>();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }
    (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as u64
}

impl Intra {
    pub fn new(rng: ChaCha8Rng, x0: f64) -> Self {
        Self {
            rng,
            x_open: x0,
            d: 0.0,
            t: MINUTE_MS,
            jump_at: i64::MAX,
            x: x0,
            next_trade_id: 1,
            ts_scratch: Vec::new(),
        }
    }

    /// Starts the path of the minute `dynm` has just advanced to.
    pub fn begin_minute(&mut self, dynm: &SymDyn) {
        self.x_open = dynm.x_prev;
        self.x = dynm.x_prev;
        self.d = 0.0;
        self.t = 0;
        self.jump_at =
            if dynm.jump != 0.0 { 1 + (self.rng.random::<f64>() * (MINUTE_MS - 1) as f64) as i64 } else { i64::MAX };
    }

    fn half_spread(book: &Book, dynm: &SymDyn) -> f64 {
        book.half_spread * (dynm.sigma / dynm.sig_total).clamp(1.0, MAX_SPREAD_WIDEN)
    }

    /// Moves the path from its current offset to `tb` ms into the minute (`tb` ≤ 60 000),
    /// appending the trade prints of that interval (`minute_open` + offset as timestamps).
    pub fn segment(&mut self, book: &Book, dynm: &SymDyn, minute_open: i64, tb: i64, out: &mut Vec<MarketEvent>) {
        let ta = self.t;
        if tb <= ta {
            return;
        }
        let minute = MINUTE_MS as f64;
        let dt = (tb - ta) as f64;
        let r_diff = (dynm.x - self.x_open) - dynm.jump;
        let d_a = self.d;
        let (d_b, x_b) = if tb >= MINUTE_MS {
            (r_diff, dynm.x)
        } else {
            // Brownian bridge pinned at (60 000 ms, r_diff): conditional mean and variance.
            let rem = (MINUTE_MS - ta) as f64;
            let var = dynm.sigma * dynm.sigma * dt * (MINUTE_MS - tb) as f64 / (rem * minute);
            let d_b = d_a + dt / rem * (r_diff - d_a) + var.sqrt() * normal(&mut self.rng);
            let jump = if tb >= self.jump_at { dynm.jump } else { 0.0 };
            (d_b, self.x_open + d_b + jump)
        };
        let x_a = self.x;

        let lambda = (TRADES_PER_MIN * dynm.volume / book.volume_base * dt / minute).min(MAX_TRADES_PER_SEGMENT);
        let n = poisson(&mut self.rng, lambda);
        if n > 0 {
            self.ts_scratch.clear();
            for _ in 0..n {
                let off = ta + 1 + (self.rng.random::<f64>() * dt) as i64;
                self.ts_scratch.push(off.min(tb));
            }
            self.ts_scratch.sort_unstable();
            let hs = Self::half_spread(book, dynm);
            let sd_seg = dynm.sigma * (dt / minute).sqrt();
            // Prints lean toward the side that moved the price.
            let p_buy = 0.5 + AGGRESSOR_TILT * ((x_b - x_a) / (sd_seg + 1e-12)).tanh();
            let mean_size = book.volume_base / TRADES_PER_MIN;
            for i in 0..self.ts_scratch.len() {
                let off = self.ts_scratch[i];
                let x = if off >= tb {
                    x_b
                } else {
                    let frac = (off - ta) as f64 / dt;
                    let jump = if off >= self.jump_at { dynm.jump } else { 0.0 };
                    self.x_open + d_a + frac * (d_b - d_a) + jump
                };
                let mid = x.exp();
                let buy = self.rng.random::<f64>() < p_buy;
                let units =
                    if buy { book.tick.ceil(mid * (1.0 + hs)) } else { book.tick.floor(mid * (1.0 - hs)) }.max(1);
                let z = normal(&mut self.rng);
                let size = (mean_size * (TRADE_SIZE_SD * z - 0.5 * TRADE_SIZE_SD * TRADE_SIZE_SD).exp())
                    .min(MAX_TRADE_MULT * mean_size);
                let trade_id = self.next_trade_id;
                self.next_trade_id += 1;
                out.push(MarketEvent {
                    ts_ms: minute_open + off,
                    symbol: book.symbol,
                    data: MarketData::Trade {
                        price: book.tick.dec(units),
                        qty: book.lot.dec(book.lot.floor(size).max(1)),
                        aggressor: if buy { Side::Buy } else { Side::Sell },
                        trade_id,
                    },
                });
            }
        }
        self.d = d_b;
        self.t = tb;
        self.x = x_b;
    }

    /// Appends the best bid and offer around the current mid.
    pub fn quote(&mut self, book: &Book, dynm: &SymDyn, ts_ms: i64, out: &mut Vec<MarketEvent>) {
        let mid = self.x.exp();
        let hs = Self::half_spread(book, dynm);
        let bid = book.tick.floor(mid * (1.0 - hs)).max(1);
        let ask = book.tick.ceil(mid * (1.0 + hs)).max(bid + 1);
        let depth = book.volume_base * DEPTH_FRACTION;
        let mut size = || {
            let z = normal(&mut self.rng);
            let q = depth * (DEPTH_SD * z - 0.5 * DEPTH_SD * DEPTH_SD).exp();
            book.lot.dec(book.lot.floor(q).max(1))
        };
        let bid_qty = size();
        let ask_qty = size();
        out.push(MarketEvent {
            ts_ms,
            symbol: book.symbol,
            data: MarketData::Quote { bid: book.tick.dec(bid), ask: book.tick.dec(ask), bid_qty, ask_qty },
        });
    }
}
