//! The shared market-data files some tests and benchmarks read: `$ALPHATX_MARKET_DATA`, else
//! `<manifest>/../shared/market-data`. They are not in this repository (their licences differ
//! from ours); a missing file fails loudly, naming the path and the fix.
#![allow(dead_code)]

use std::path::PathBuf;

/// The market-data directory.
pub fn market_data_dir() -> PathBuf {
    match std::env::var_os("ALPHATX_MARKET_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/market-data")),
    }
}

/// The path of `rel` in the market-data directory; panics naming it when the file is missing.
pub fn shared(rel: &str) -> PathBuf {
    let path = market_data_dir().join(rel);
    assert!(
        path.is_file(),
        "missing market data file {}; set ALPHATX_MARKET_DATA to the market-data directory, \
         e.g. ALPHATX_MARKET_DATA=/work/shared/market-data",
        path.display()
    );
    path
}

/// The text of `rel` in the market-data directory; panics naming the path when unreadable.
pub fn read_shared(rel: &str) -> String {
    let path = shared(rel);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the market data file {}: {e}", path.display()))
}
