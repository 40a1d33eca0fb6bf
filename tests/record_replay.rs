//! Record and replay: a paper session on the sim market recorded with `--record`, then replayed
//! with `alphatx backtest --source replay --file`, gives the same fills (time, agent, symbol,
//! side, quantity, price, fee, purpose) and the same equity samples as the ledger of the session.
//! The agents are deterministic (a seeded random trader, the trend agent and buy-and-hold).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const CONFIG: &str = r#"
[market]
source = "sim"
[sim]
warmup_days = 2
[engine]
status_interval_secs = 3600
[[agents]]
name = "buy-and-hold"
kind = "buy_and_hold"
risk = { require_stop_loss = false }
[[agents]]
name = "trend"
kind = "trend"
[[agents]]
name = "random"
kind = "random"
params = { timeframe = "1m", entry_probability = 0.5, max_hold_bars = 3, seed = 11 }
"#;

fn alphatx(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_alphatx"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the alphatx binary runs");
    assert!(
        out.status.success(),
        "alphatx {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// CSV text as rows of column → value.
fn rows(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| header.iter().map(|h| h.to_string()).zip(l.split(',').map(str::to_owned)).collect())
        .collect()
}

fn pick(rows: &[BTreeMap<String, String>], cols: &[&str]) -> Vec<Vec<String>> {
    rows.iter().map(|r| cols.iter().map(|c| r[*c].clone()).collect()).collect()
}

#[test]
fn a_recorded_session_replays_to_the_same_fills_and_equity() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("config.toml"), CONFIG).unwrap();
    alphatx(dir, &["run", "--headless", "--speed", "120", "--duration", "15", "--record", "session.jsonl"]);

    let live_fills = rows(&alphatx(dir, &["export", "--run", "latest", "--what", "trades", "--format", "csv"]));
    let live_equity = rows(&alphatx(dir, &["export", "--run", "latest", "--what", "equity", "--format", "csv"]));
    alphatx(
        dir,
        &[
            "backtest",
            "--source",
            "replay",
            "--file",
            "session.jsonl",
            "--fills",
            "fills.csv",
            "--equity",
            "equity.csv",
        ],
    );
    let replay_fills = rows(&std::fs::read_to_string(dir.join("fills.csv")).unwrap());
    let replay_equity = rows(&std::fs::read_to_string(dir.join("equity.csv")).unwrap());

    // Fills: the same, one for one, in the same order.
    let cols = ["ts_ms", "agent", "symbol", "side", "qty", "price", "fee", "liquidity", "purpose", "leverage"];
    let live = pick(&live_fills, &cols);
    assert!(live.len() >= 4, "the random trader traded in the session: {live:?}");
    let replay = pick(&replay_fills, &cols);
    // The session may have stopped between recording an event and trading on it: compare up to
    // the last fill both saw.
    let n = live.len().min(replay.len());
    assert!(n + 2 >= live.len().max(replay.len()), "live {} fills, replay {}", live.len(), replay.len());
    assert_eq!(live[..n], replay[..n], "fills differ");

    // Equity: every sample both have, at the same times, is exactly equal (cash and equity).
    let key = |r: &BTreeMap<String, String>| (r["ts_ms"].clone(), r["agent"].clone());
    let replayed: BTreeMap<_, _> =
        replay_equity.iter().map(|r| (key(r), (r["equity"].clone(), r["cash"].clone()))).collect();
    let last_replayed = replay_equity.iter().map(|r| r["ts_ms"].parse::<i64>().unwrap()).max().unwrap();
    let mut compared = 0;
    for r in &live_equity {
        let ts: i64 = r["ts_ms"].parse().unwrap();
        if ts >= last_replayed {
            continue;
        }
        let got =
            replayed.get(&key(r)).unwrap_or_else(|| panic!("the replay has no sample at {ts} for {}", r["agent"]));
        assert_eq!(got, &(r["equity"].clone(), r["cash"].clone()), "equity of {} at {ts}", r["agent"]);
        compared += 1;
    }
    assert!(compared >= 3 * 20, "{compared} samples compared");
}
