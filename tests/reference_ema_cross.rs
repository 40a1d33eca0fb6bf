//! The reference case every backtester is compared on: an EMA(12)/EMA(26) crossover, long-only,
//! one BTC per trade, no fees, no spread, no impact, on the real month of BTC perpetual 1m bars
//! (`nautilus/btc-perp-20211231-20220201_1m.csv`, 45,031 bars). Everything goes through the
//! real path: file reader and checks, engine, risk gate, paper exchange, metrics.
//!
//! With the EMAs seeded as backtesting.py and vectorbt seed them (pandas `ewm(adjust=False)`:
//! the first close) the strategy completes exactly 832 round trips, their figure. The series has
//! 833 up-crosses when a touch counts as a cross (`<=`), one of them the seeding artefact on the
//! second bar, where both EMAs still equal the first close. With TA-Lib's SMA seed there is no
//! artefact: the first cross is a genuine up-cross on bar 35 and the last a down-cross on the
//! 45,028th bar, so 833 round trips complete — asserted too, so the difference stays explained.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/market_data.rs"]
mod market_data;

use std::path::{Path, PathBuf};

use alphatx::app::replay_backtest;
use alphatx::config::Config;
use alphatx::market::replay;
use market_data::shared;

const BTC_FILE: &str = "nautilus/btc-perp-20211231-20220201_1m.csv";

fn btc_file() -> PathBuf {
    shared(BTC_FILE)
}

/// The shipped reference configuration (also usable from the command line).
fn reference_config() -> Config {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference-ema-cross.toml"));
    Config::load(Some(path)).unwrap()
}

/// Runs the reference; returns (round trips, fills, fees, agent report JSON).
fn run(config: &Config) -> (u64, u64, f64, String) {
    let data = replay::load(&config.replay, &[btc_file()]).unwrap();
    assert_eq!(data.len(), 45_031, "every bar of the file is replayed");
    assert_eq!(data.summary.issues(), 0, "the file is clean: {}", data.summary.render());
    let (report, _) = replay_backtest(config, data).unwrap();
    assert_eq!(report.events, 45_031);
    let agent = report.agents.iter().find(|a| a.agent.as_str() == "ema-cross").unwrap();
    assert!(agent.refusals.is_empty(), "{:?}", agent.refusals);
    assert!(agent.breaker_trips.is_empty(), "{:?}", agent.breaker_trips);
    let json = serde_json::to_string(&report.agents).unwrap();
    (agent.metrics.trades, report.fills, agent.metrics.fees, json)
}

#[test]
fn ema_12_26_long_only_gives_832_round_trips_through_the_engine() {
    let (trips, fills, fees, _) = run(&reference_config());
    assert_eq!(trips, 832, "completed round trips");
    // Every entry was closed by a later down-cross: nothing is left open.
    assert_eq!(fills, 832 * 2);
    assert_eq!(fees, 0.0);
}

#[test]
fn with_talib_seeding_the_same_strategy_completes_833() {
    let mut config = reference_config();
    for a in &mut config.agents {
        a.params.insert("seed".into(), toml::Value::String("sma".into()));
    }
    config.validate().unwrap();
    let (trips, fills, _, _) = run(&config);
    assert_eq!((trips, fills), (833, 833 * 2));
}

#[test]
fn the_reference_is_deterministic() {
    let config = reference_config();
    assert_eq!(run(&config).3, run(&config).3);
}
