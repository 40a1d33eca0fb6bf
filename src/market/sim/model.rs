//! Minute-level dynamics shared by both output modes.
//!
//! Everything here runs once per simulated minute and draws only from the *minute* streams
//! (one market stream, one per symbol), always the same number of draws in the same order
//! whatever the output mode, so that bars and ticks share their minute closes exactly.
//! See the parent module's documentation for the equations.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};

use super::Regime;

pub const MINUTE_MS: i64 = 60_000;
pub const DAY_MS: i64 = 86_400_000;
const MINUTES_PER_DAY: usize = 1_440;
const MINUTES_PER_WEEK: f64 = 10_080.0;
pub const MINUTES_PER_YEAR: f64 = 365.25 * 1_440.0;
const LN2: f64 = std::f64::consts::LN_2;

// --- common factor -------------------------------------------------------------------------
/// Annual volatility of the common crypto factor; a symbol's `beta` loads on it.
pub const FACTOR_ANNUAL_VOL: f64 = 0.45;
/// Cap on the factor's share of a symbol's variance, so `annual_vol` is always honoured and
/// every symbol keeps some idiosyncratic life.
pub const MAX_FACTOR_SHARE: f64 = 0.95;

// --- regimes --------------------------------------------------------------------------------
/// Mean regime durations in minutes (geometric, so switching is Markov).
pub const TREND_MEAN_MIN: f64 = 480.0;
pub const RANGE_MEAN_MIN: f64 = 720.0;
/// A trend ends in a range with this probability, otherwise it reverses.
pub const TREND_TO_RANGE: f64 = 0.75;
/// Drift of the factor's log level per minute in a trend (±3.6 % a day at beta 1).
pub const TREND_DRIFT: f64 = 2.5e-5;
/// Pull of the factor toward the range anchor per minute (half-life 4 h).
pub const RANGE_REVERT: f64 = LN2 / 240.0;
/// How fast the anchor follows the price during a range (half-life 1 day): ranges can drift.
pub const ANCHOR_FOLLOW: f64 = LN2 / 1_440.0;
/// Always-on pull of the factor toward its starting level (half-life 1 year): keeps multi-year
/// runs within a plausible band without visibly affecting weeks.
pub const GLOBAL_REVERT: f64 = LN2 / MINUTES_PER_YEAR;
/// Relative variance of each regime (TrendUp, TrendDown, Range) before normalisation to a
/// stationary mean of 1: sell-offs are more violent, ranges quieter.
const REGIME_VAR_RAW: [f64; 3] = [1.0, 1.35, 0.85];

// --- volatility -----------------------------------------------------------------------------
/// GARCH(1,1) on standardized shocks, as a variance multiplier with long-run mean 1.
#[derive(Debug, Clone, Copy)]
pub struct Garch {
    pub alpha: f64,
    pub beta: f64,
    /// Feedback of a jump (in sigmas, squared) into next minute's variance.
    pub alpha_jump: f64,
}
pub const FACTOR_GARCH: Garch = Garch { alpha: 0.06, beta: 0.93, alpha_jump: 0.02 };
pub const IDIO_GARCH: Garch = Garch { alpha: 0.05, beta: 0.94, alpha_jump: 0.02 };
const H_MIN: f64 = 0.02;
const H_MAX: f64 = 100.0;
/// Slow log-volatility (market-wide, half-life 3 days, stationary sd 0.25).
pub const SLOW_VOL_SD: f64 = 0.25;
const SLOW_VOL_REVERT: f64 = LN2 / (3.0 * 1_440.0);
/// Intraday seasonality: variance and volume peak at 14:30 UTC (US open), trough 12 h later.
const SEASON_PEAK_MINUTE: f64 = 870.0;
const SEASON_VAR_AMP: f64 = 0.30;
const SEASON_VOLUME_AMP: f64 = 0.40;
/// Weekend variance and volume relative to weekdays (crypto quietens on weekends).
const WEEKEND_VAR: f64 = 0.75;
const WEEKEND_VOLUME: f64 = 0.60;

// --- jumps ----------------------------------------------------------------------------------
/// Market-wide jumps: rate, size `5 + Exp(mean 5)` factor sigmas, 60 % down.
pub const MARKET_JUMPS_PER_MIN: f64 = 3.0 / MINUTES_PER_WEEK;
const MARKET_JUMP_MIN: f64 = 5.0;
const MARKET_JUMP_EXTRA: f64 = 5.0;
const JUMP_DOWN_PROB: f64 = 0.6;
/// Idiosyncratic jumps: rate, size `4 + Exp(mean 3)` symbol sigmas, symmetric.
pub const IDIO_JUMPS_PER_MIN: f64 = 1.0 / MINUTES_PER_WEEK;
const IDIO_JUMP_MIN: f64 = 4.0;
const IDIO_JUMP_EXTRA: f64 = 3.0;
/// Pull of a symbol's idiosyncratic level toward 0 (half-life 60 days): relative value
/// between coins wanders but stays in a band.
const IDIO_REVERT: f64 = LN2 / (60.0 * 1_440.0);
/// Hard bound on a log price around its start, ln(100): a safety net the dynamics above do
/// not reach in practice, which guarantees prices can neither explode nor collapse to a tick.
pub const PRICE_WALL: f64 = 4.605_170_185_988_092;

// --- volume ---------------------------------------------------------------------------------
const VOLUME_VOL_ELASTICITY: f64 = 0.8;
const VOLUME_BASE: f64 = 0.6;
const VOLUME_MOVE: f64 = 0.5;
const VOLUME_NOISE_SD: f64 = 0.3;

// --- funding --------------------------------------------------------------------------------
pub const FUNDING_BASE: f64 = 1e-4;
/// Half-life 4 h.
const FUNDING_REVERT: f64 = LN2 / 240.0;
/// Target shift per regime (TrendUp, TrendDown, Range), times the symbol's beta.
const FUNDING_LEAN: [f64; 3] = [2.5e-4, -2.0e-4, 0.0];
/// Stationary sd of the funding noise for a 50 %-vol symbol (scales with vol).
const FUNDING_SD: f64 = 5e-5;
pub const FUNDING_CAP: f64 = 0.0075;

/// `E[u²]` for `u = a + Exp(mean m)`.
const fn jump_u2(a: f64, m: f64) -> f64 {
    a * a + 2.0 * a * m + 2.0 * m * m
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

fn exp1(rng: &mut ChaCha8Rng) -> f64 {
    Exp1.sample(rng)
}

/// Minutes until the next event of a Poisson process with `rate` per minute (≥ 1).
fn next_arrival(rng: &mut ChaCha8Rng, rate: f64) -> u64 {
    // Saturating float→int cast: a huge draw just means "not in this simulation".
    1 + (exp1(rng) / rate) as u64
}

/// Stationary probabilities of (TrendUp, TrendDown, Range): embedded-chain weights (2/7, 2/7,
/// 3/7 for a 75 % trend→range probability) times mean durations.
pub fn stationary_regimes() -> [f64; 3] {
    // Embedded chain: ν_R = 2·TREND_TO_RANGE·ν_T, ν_U = ν_D = ν_T.
    let nu_t = 1.0 / (2.0 + 2.0 * TREND_TO_RANGE);
    let nu_r = 2.0 * TREND_TO_RANGE * nu_t;
    let w = [nu_t * TREND_MEAN_MIN, nu_t * TREND_MEAN_MIN, nu_r * RANGE_MEAN_MIN];
    let sum = w[0] + w[1] + w[2];
    [w[0] / sum, w[1] / sum, w[2] / sum]
}

/// Market-wide state: regime, common factor, its volatility and the calendar multipliers.
#[derive(Debug, Clone)]
pub struct MarketDyn {
    rng: ChaCha8Rng,
    pub regime: Regime,
    regime_left: u64,
    /// Common factor log level (0 at start) and the range anchor.
    pub factor: f64,
    anchor: f64,
    /// GARCH variance multiplier for the next minute.
    h: f64,
    omega: f64,
    /// Slow log-volatility and its stationary mean (−sd², so `E[exp(2v)] = 1`).
    slow: f64,
    slow_mean: f64,
    jump_in: u64,
    /// Per-minute factor sd: diffusion part, and total (for sizing jumps).
    sig_diff: f64,
    sig_total: f64,
    /// Drift that offsets the mean of the down-skewed jumps, so crashes are sharper than
    /// rallies without the market bleeding over the years.
    jump_comp: f64,
    regime_var: [f64; 3],
    season_var: Vec<f64>,
    season_volume: Vec<f64>,
    /// [weekday, weekend] multipliers, normalised to a weekly mean of 1.
    week_var: [f64; 2],
    week_volume: [f64; 2],
    // Outputs of the last minute.
    /// sqrt of the combined market variance multiplier (calendar × regime × slow vol).
    pub g_sqrt: f64,
    /// Calendar volume multiplier.
    pub volume_mult: f64,
    /// GARCH multiplier used for the last minute.
    pub h_used: f64,
    /// Factor jump of the last minute (log units, 0 if none).
    pub factor_jump: f64,
    /// Market-wide jumps so far.
    pub jumps: u64,
}

fn normalise_week(weekend: f64) -> [f64; 2] {
    let weekday = 7.0 / (5.0 + 2.0 * weekend);
    [weekday, weekend * weekday]
}

impl MarketDyn {
    pub fn new(mut rng: ChaCha8Rng) -> Self {
        let pi = stationary_regimes();
        let mean_var: f64 = (0..3).map(|k| pi[k] * REGIME_VAR_RAW[k]).sum();
        let regime_var = REGIME_VAR_RAW.map(|v| v / mean_var);
        let jump_share = MARKET_JUMPS_PER_MIN * jump_u2(MARKET_JUMP_MIN, MARKET_JUMP_EXTRA);
        let sig_total = FACTOR_ANNUAL_VOL / MINUTES_PER_YEAR.sqrt();
        let g = FACTOR_GARCH;
        let omega =
            1.0 - g.alpha - g.beta - g.alpha_jump * MARKET_JUMPS_PER_MIN * jump_u2(MARKET_JUMP_MIN, MARKET_JUMP_EXTRA);
        let phase =
            |m: usize| (2.0 * std::f64::consts::PI * (m as f64 - SEASON_PEAK_MINUTE) / MINUTES_PER_DAY as f64).cos();
        let season_var = (0..MINUTES_PER_DAY).map(|m| 1.0 + SEASON_VAR_AMP * phase(m)).collect();
        let season_volume = (0..MINUTES_PER_DAY).map(|m| 1.0 + SEASON_VOLUME_AMP * phase(m)).collect();

        // Initial state drawn from (approximately) stationary distributions.
        let u: f64 = rng.random();
        let regime = if u < pi[0] {
            Regime::TrendUp
        } else if u < pi[0] + pi[1] {
            Regime::TrendDown
        } else {
            Regime::Range
        };
        let regime_left = duration(&mut rng, regime);
        let slow_mean = -SLOW_VOL_SD * SLOW_VOL_SD;
        let slow = slow_mean + SLOW_VOL_SD * normal(&mut rng);
        let jump_in = next_arrival(&mut rng, MARKET_JUMPS_PER_MIN);
        Self {
            rng,
            regime,
            regime_left,
            factor: 0.0,
            anchor: 0.0,
            h: 1.0,
            omega,
            slow,
            slow_mean,
            jump_in,
            sig_diff: sig_total * (1.0 - jump_share).sqrt(),
            sig_total,
            jump_comp: MARKET_JUMPS_PER_MIN
                * (2.0 * JUMP_DOWN_PROB - 1.0)
                * (MARKET_JUMP_MIN + MARKET_JUMP_EXTRA)
                * sig_total,
            regime_var,
            season_var,
            season_volume,
            week_var: normalise_week(WEEKEND_VAR),
            week_volume: normalise_week(WEEKEND_VOLUME),
            g_sqrt: 1.0,
            volume_mult: 1.0,
            h_used: 1.0,
            factor_jump: 0.0,
            jumps: 0,
        }
    }

    /// Per-minute factor sd at unit multipliers (diffusion only).
    pub fn factor_sig_diff(&self) -> f64 {
        self.sig_diff
    }

    /// Calendar (variance, volume) multipliers of the minute starting at `open_ms`.
    pub fn calendar(&self, open_ms: i64) -> (f64, f64) {
        let minute = (open_ms.rem_euclid(DAY_MS) / MINUTE_MS) as usize;
        // 1970-01-01 was a Thursday: with Monday = 0 it is day 3; Saturday and Sunday are 5, 6.
        let weekend = usize::from((open_ms.div_euclid(DAY_MS) + 3).rem_euclid(7) >= 5);
        (
            self.season_var.get(minute).copied().unwrap_or(1.0) * self.week_var[weekend],
            self.season_volume.get(minute).copied().unwrap_or(1.0) * self.week_volume[weekend],
        )
    }

    /// Advances the market by the minute starting at `open_ms`.
    pub fn advance(&mut self, open_ms: i64) {
        if self.regime_left == 0 {
            self.switch_regime();
        }
        self.regime_left = self.regime_left.saturating_sub(1);

        let (calendar_var, calendar_volume) = self.calendar(open_ms);
        let g = calendar_var * self.regime_var[self.regime.index()] * (2.0 * self.slow).exp();
        self.g_sqrt = g.sqrt();
        self.volume_mult = calendar_volume;

        let zv = normal(&mut self.rng);
        self.slow += SLOW_VOL_REVERT * (self.slow_mean - self.slow) + SLOW_VOL_SD * (2.0 * SLOW_VOL_REVERT).sqrt() * zv;

        let z = normal(&mut self.rng);
        let h = self.h;
        let shock = self.sig_diff * self.g_sqrt * h.sqrt() * z;
        let mut jump = 0.0;
        let mut u2 = 0.0;
        if self.jump_in > 1 {
            self.jump_in -= 1;
        } else {
            let u = MARKET_JUMP_MIN + MARKET_JUMP_EXTRA * exp1(&mut self.rng);
            let down = self.rng.random::<f64>() < JUMP_DOWN_PROB;
            jump = if down { -u } else { u } * self.sig_total;
            u2 = u * u;
            self.jump_in = next_arrival(&mut self.rng, MARKET_JUMPS_PER_MIN);
            self.jumps += 1;
        }
        let g = FACTOR_GARCH;
        self.h = (self.omega + h * (g.beta + g.alpha * z * z) + g.alpha_jump * u2).clamp(H_MIN, H_MAX);
        self.h_used = h;
        self.factor_jump = jump;

        let drift = match self.regime {
            Regime::TrendUp => TREND_DRIFT,
            Regime::TrendDown => -TREND_DRIFT,
            Regime::Range => RANGE_REVERT * (self.anchor - self.factor),
        };
        self.factor += drift + self.jump_comp - GLOBAL_REVERT * self.factor + shock + jump;
        if self.regime == Regime::Range {
            self.anchor += ANCHOR_FOLLOW * (self.factor - self.anchor);
        }
    }

    fn switch_regime(&mut self) {
        let u: f64 = self.rng.random();
        let next = match self.regime {
            Regime::Range if u < 0.5 => Regime::TrendUp,
            Regime::Range => Regime::TrendDown,
            Regime::TrendUp if u < TREND_TO_RANGE => Regime::Range,
            Regime::TrendUp => Regime::TrendDown,
            Regime::TrendDown if u < TREND_TO_RANGE => Regime::Range,
            Regime::TrendDown => Regime::TrendUp,
        };
        if next == Regime::Range {
            // A range forms around wherever the trend left the price.
            self.anchor = self.factor;
        }
        self.regime = next;
        self.regime_left = duration(&mut self.rng, next);
    }
}

/// A regime's duration in minutes (≥ 1), exponential with the regime's mean.
fn duration(rng: &mut ChaCha8Rng, regime: Regime) -> u64 {
    let mean = match regime {
        Regime::Range => RANGE_MEAN_MIN,
        Regime::TrendUp | Regime::TrendDown => TREND_MEAN_MIN,
    };
    1 + (exp1(rng) * mean) as u64
}

/// One symbol's minute state: idiosyncratic level, volatility, jumps, volume and funding.
#[derive(Debug, Clone)]
pub struct SymDyn {
    rng: ChaCha8Rng,
    /// Effective factor loading (beta, capped).
    pub loading: f64,
    /// `loading² × factor diffusion variance` and idiosyncratic diffusion variance per minute.
    factor_var: f64,
    idio_var: f64,
    /// Total per-minute sd at unit multipliers (reference for jumps, volume and spreads).
    pub sig_total: f64,
    x0: f64,
    idio: f64,
    h: f64,
    omega: f64,
    jump_in: u64,
    volume_base: f64,
    funding_sd: f64,
    // Outputs of the last minute.
    /// Log mid at the previous and at this minute's close.
    pub x_prev: f64,
    pub x: f64,
    /// Jump part of this minute's log return (market and idiosyncratic).
    pub jump: f64,
    /// Diffusive sd of this minute's log return.
    pub sigma: f64,
    /// Traded volume this minute, base units.
    pub volume: f64,
    /// Current funding rate per interval.
    pub funding: f64,
    /// Idiosyncratic jumps so far.
    pub jumps: u64,
}

impl SymDyn {
    /// `start_price` > 0 and the other parameters validated by the config.
    pub fn new(
        mut rng: ChaCha8Rng,
        market: &MarketDyn,
        start_price: f64,
        annual_vol: f64,
        beta: f64,
        volume_per_min: f64,
    ) -> Self {
        let sig_total = annual_vol / MINUTES_PER_YEAR.sqrt();
        let f_sd = FACTOR_ANNUAL_VOL / MINUTES_PER_YEAR.sqrt();
        let max_loading = MAX_FACTOR_SHARE.sqrt() * sig_total / f_sd;
        let loading = beta.clamp(-max_loading, max_loading);
        let factor_share = (loading * f_sd / sig_total).powi(2);
        let idio_jump_share = IDIO_JUMPS_PER_MIN * jump_u2(IDIO_JUMP_MIN, IDIO_JUMP_EXTRA);
        let idio_var = sig_total * sig_total * (1.0 - factor_share - idio_jump_share).max(0.01);
        let g = IDIO_GARCH;
        let omega =
            1.0 - g.alpha - g.beta - g.alpha_jump * IDIO_JUMPS_PER_MIN * jump_u2(IDIO_JUMP_MIN, IDIO_JUMP_EXTRA);
        let jump_in = next_arrival(&mut rng, IDIO_JUMPS_PER_MIN);
        let x0 = start_price.ln();
        Self {
            rng,
            loading,
            factor_var: (loading * market.factor_sig_diff()).powi(2),
            idio_var,
            sig_total,
            x0,
            idio: 0.0,
            h: 1.0,
            omega,
            jump_in,
            volume_base: volume_per_min,
            funding_sd: FUNDING_SD * (annual_vol / 0.5) * (2.0 * FUNDING_REVERT).sqrt(),
            x_prev: x0,
            x: x0,
            jump: 0.0,
            sigma: sig_total,
            volume: volume_per_min,
            funding: FUNDING_BASE,
            jumps: 0,
        }
    }

    /// Advances the symbol by one minute, after `market` has advanced.
    pub fn advance(&mut self, market: &MarketDyn) {
        let z = normal(&mut self.rng);
        let h = self.h;
        let shock = self.idio_var.sqrt() * market.g_sqrt * h.sqrt() * z;
        let mut jump = 0.0;
        let mut u2 = 0.0;
        if self.jump_in > 1 {
            self.jump_in -= 1;
        } else {
            let u = IDIO_JUMP_MIN + IDIO_JUMP_EXTRA * exp1(&mut self.rng);
            let down = self.rng.random::<f64>() < 0.5;
            jump = if down { -u } else { u } * self.sig_total;
            u2 = u * u;
            self.jump_in = next_arrival(&mut self.rng, IDIO_JUMPS_PER_MIN);
            self.jumps += 1;
        }
        let g = IDIO_GARCH;
        self.h = (self.omega + h * (g.beta + g.alpha * z * z) + g.alpha_jump * u2).clamp(H_MIN, H_MAX);
        self.idio += -IDIO_REVERT * self.idio + shock + jump;

        self.x_prev = self.x;
        self.x = (self.x0 + self.loading * market.factor + self.idio).clamp(self.x0 - PRICE_WALL, self.x0 + PRICE_WALL);
        self.jump = self.loading * market.factor_jump + jump;
        self.sigma = market.g_sqrt * (self.factor_var * market.h_used + self.idio_var * h).sqrt();

        // Volume: calendar × activity (vol ratio) × size of the move × lognormal noise; each
        // factor has mean ≈ 1, so the average is ≈ `volume_per_min`.
        let zv = normal(&mut self.rng);
        let ratio = self.sigma / self.sig_total;
        let moved = (self.x - self.x_prev).abs() / self.sig_total;
        self.volume = self.volume_base
            * market.volume_mult
            * ratio.powf(VOLUME_VOL_ELASTICITY)
            * (VOLUME_BASE + VOLUME_MOVE * moved)
            * (VOLUME_NOISE_SD * zv - 0.5 * VOLUME_NOISE_SD * VOLUME_NOISE_SD).exp();

        // Funding: OU toward a base rate that leans with the trend (longs pay more in rallies).
        let zf = normal(&mut self.rng);
        let target = FUNDING_BASE + FUNDING_LEAN[market.regime.index()] * self.loading;
        self.funding = (self.funding + FUNDING_REVERT * (target - self.funding) + self.funding_sd * zf)
            .clamp(-FUNDING_CAP, FUNDING_CAP);
    }
}
