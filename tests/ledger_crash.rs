//! Crash durability of the real binary: run the arena headless on an accelerated sim market with
//! a busy agent, `kill -9` it at random moments, restart it, and check every time that the ledger
//! passes `PRAGMA integrity_check`, that every fill the process had reported (it prints a fill
//! only once it is committed) is stored exactly once, that positions recomputed from fills equal
//! the stored positions, and that the run continues where it stopped.
//!
//! `ALPHATX_CRASH_ITERATIONS` raises the number of kills (default 20; 200+ for a long run).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CONFIG: &str = r#"
[market]
source = "sim"
[sim]
warmup_days = 1
[engine]
status_interval_secs = 3600
[[agents]]
name = "buy-and-hold"
kind = "buy_and_hold"
risk = { require_stop_loss = false }
[[agents]]
name = "random"
kind = "random"
params = { timeframe = "1m", entry_probability = 0.6, max_hold_bars = 2 }
risk = { stop_out_cooldown_min = 0, min_reversal_min = 0, max_refusal_rate_pct = 100.0, max_consecutive_losses = 0, daily_loss_limit_pct = 100.0, max_drawdown_pct = 100.0 }
[arena]
daily_loss_limit_pct = 100.0
max_drawdown_pct = 100.0
"#;

fn spawn(dir: &std::path::Path) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_alphatx"))
        .arg("--config")
        .arg(dir.join("config.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["run", "--headless", "--speed", "3000", "--print-fills"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the alphatx binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Trade ids of the `FILL paper <id> ...` lines.
fn trade_id(line: &str) -> Option<i64> {
    let mut it = line.split_whitespace();
    (it.next()? == "FILL" && it.next()? == "paper").then_some(())?;
    it.next()?.parse().ok()
}

fn check_ledger(path: &std::path::Path, reported: &BTreeSet<i64>) -> (i64, i64) {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    let mut stmt =
        conn.prepare("SELECT trade_id, count(*) FROM fills WHERE venue = 'paper' GROUP BY trade_id").unwrap();
    let stored: Vec<(i64, i64)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    assert!(stored.iter().all(|(_, n)| *n == 1), "a fill is stored twice");
    let ids: BTreeSet<i64> = stored.iter().map(|(id, _)| *id).collect();
    let missing: Vec<&i64> = reported.difference(&ids).collect();
    assert!(missing.is_empty(), "fills reported before the kill are missing: {missing:?}");
    let runs: Vec<i64> = conn
        .prepare("SELECT id FROM runs WHERE retired_ms IS NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(runs.len(), 1, "one run, resumed every time");
    let mismatches = alphatx::store::verify_positions(path, runs[0]).unwrap();
    assert!(mismatches.is_empty(), "positions differ from their fills: {mismatches:?}");
    (runs[0], ids.len() as i64)
}

#[test]
fn kill_9_at_random_moments_loses_nothing() {
    let iterations: usize = std::env::var("ALPHATX_CRASH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let dir = tempfile_dir();
    std::fs::write(dir.join("config.toml"), CONFIG).unwrap();
    let ledger = dir.join("data").join("ledger.sqlite");
    let mut rng = ChaCha8Rng::seed_from_u64(0xC4A5);
    let mut reported: BTreeSet<i64> = BTreeSet::new();
    let mut run_id = None;
    let mut stored_before = 0;
    for i in 0..iterations {
        let (mut child, lines) = spawn(&dir);
        // Kill after a random number of reported fills, or a random time, whichever comes first.
        let target_fills = rng.random_range(1..40);
        let budget = Duration::from_millis(rng.random_range(300..4000));
        let started = std::time::Instant::now();
        let mut seen = 0;
        while started.elapsed() < budget + Duration::from_secs(20) && seen < target_fills {
            match lines.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => {
                    if let Some(id) = trade_id(&line) {
                        reported.insert(id);
                        seen += 1;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if seen > 0 && started.elapsed() > budget {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!("alphatx exited on its own in iteration {i}"),
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Lines already printed before the kill count as reported.
        while let Ok(line) = lines.try_recv() {
            if let Some(id) = trade_id(&line) {
                reported.insert(id);
            }
        }
        assert!(seen > 0, "iteration {i}: no fill was reported before the kill");
        let (run, stored) = check_ledger(&ledger, &reported);
        assert_eq!(*run_id.get_or_insert(run), run, "the run continues after a restart");
        assert!(stored >= stored_before, "fills never disappear");
        stored_before = stored;
    }
    eprintln!("{iterations} kills: {} fills reported, {stored_before} stored, all present once", reported.len());
    assert!(reported.len() >= iterations);
}

fn tempfile_dir() -> std::path::PathBuf {
    let base = std::env::temp_dir().join(format!(
        "alphatx-crash-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_millisecond()
    ));
    std::fs::create_dir_all(&base).unwrap();
    base
}
