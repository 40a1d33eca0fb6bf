//! Crash durability of the ledger: a child process appends fill batches as fast as it can and
//! prints each commit acknowledgement; the test `kill -9`s it at random moments, restarts it,
//! and checks every time that the file passes `PRAGMA integrity_check`, that every fill the
//! child reported as acknowledged is stored exactly once, that stored positions equal the
//! positions recomputed from the fills, and that the run continues where it stopped.
//!
//! 20 kills by default; set `ALPHATX_CRASH_ITERATIONS=200` for the long mode (best with
//! `--release`: every check rebuilds all accounts from a ledger that grows by ~5,000 fills per
//! kill). The child is this same test binary running the ignored `crash_child` test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod store_support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use alphatx::domain::{OrderStatus, Side};
use alphatx::engine::journal::JournalRecord;
use alphatx::store::{Ledger, LedgerBatch, verify_positions};
use rust_decimal::{Decimal, dec};
use store_support::*;

const CHILD_ENV: &str = "ALPHATX_STORE_CRASH_CHILD";

/// The child: resumes (or starts) the `crash` run and appends until killed.
#[test]
#[ignore = "run by store_crash::kill_9_never_loses_an_acknowledged_fill as a child process"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
    let path = Path::new(&dir).join("ledger.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    let mut acks = ledger.acks().unwrap();
    let run = match ledger.resume_state("crash").unwrap() {
        Some(st) => st.run_id,
        None => ledger.begin_run(new_run("crash")).unwrap(),
    };
    let mut trade = ledger.next_trade_id("paper").unwrap();
    let mut out = std::io::stdout().lock();
    // On a line of its own: the test harness has just printed "test crash_child ... ".
    writeln!(out, "\nRUN {run} {trade}").unwrap();
    out.flush().unwrap();
    let mut ranges = std::collections::VecDeque::new();
    let mut seq = 0u64;
    loop {
        seq += 1;
        let n = 1 + seq % 40;
        let first = trade;
        let exec = (0..n)
            .map(|k| {
                let side = if (trade + k / 3).is_multiple_of(2) { Side::Buy } else { Side::Sell };
                let who = if k % 3 == 0 { bob() } else { alice() };
                let what = if k % 2 == 0 { btc() } else { eth() };
                let price = dec!(100) + Decimal::new(((trade + k) % 500) as i64, 2);
                filled(
                    fill(
                        trade + k,
                        trade + k,
                        who,
                        what,
                        side,
                        dec!(0.013),
                        price,
                        1_700_000_000_000 + (trade + k) as i64,
                    ),
                    OrderStatus::Filled,
                )
            })
            .collect();
        trade += n;
        let journal = vec![JournalRecord::Equity(equity(alice(), 1_700_000_000_000 + seq as i64, dec!(10000)))];
        ledger.append(LedgerBatch { seq, run_id: run, exec, journal }).unwrap();
        ranges.push_back((seq, first, trade - 1));
        // Report each commit as it is acknowledged; keep a bounded number of batches in flight.
        while let Ok(a) = acks.try_recv() {
            report(&mut out, &mut ranges, a.seq, a.result);
        }
        while ranges.len() > 32 {
            let a = acks.blocking_recv().unwrap();
            report(&mut out, &mut ranges, a.seq, a.result);
        }
    }
}

fn report(
    out: &mut impl Write,
    ranges: &mut std::collections::VecDeque<(u64, u64, u64)>,
    seq: u64,
    result: Result<(), String>,
) {
    result.unwrap();
    let (s, first, last) = ranges.pop_front().unwrap();
    assert_eq!(s, seq, "acks in order");
    writeln!(out, "ACK {first} {last}").unwrap();
    out.flush().unwrap();
}

/// A small deterministic generator for the kill moments.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[test]
fn kill_9_never_loses_an_acknowledged_fill() {
    let iterations: u32 = std::env::var("ALPHATX_CRASH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let exe = std::env::current_exe().unwrap();
    let mut rng = Lcg(0x5eed);
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut run_id = None;
    let mut stored_before = 0;
    for i in 0..iterations {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let lines = std::thread::spawn(move || {
            let mut run = None;
            let mut ranges = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut parts = line.split_whitespace();
                match parts.next() {
                    Some("RUN") => run = parts.next().and_then(|r| r.parse::<i64>().ok()),
                    Some("ACK") => {
                        // A line cut short by the kill is not counted (it only weakens the check).
                        let first = parts.next().and_then(|v| v.parse::<u64>().ok());
                        let last = parts.next().and_then(|v| v.parse::<u64>().ok());
                        if let (Some(first), Some(last)) = (first, last) {
                            ranges.push((first, last));
                            let _ = started_tx.send(());
                        }
                    }
                    _ => {}
                }
            }
            (run, ranges)
        });
        // Let it work until its first commit, then a random while more, then SIGKILL.
        let _ = started_rx.recv_timeout(Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(rng.next(300)));
        child.kill().unwrap();
        child.wait().unwrap();
        let (run, ranges) = lines.join().unwrap();
        let run = run.expect("the child started its run");
        assert_eq!(*run_id.get_or_insert(run), run, "iteration {i}: the same run continues after a restart");
        for (first, last) in ranges {
            acked.extend(first..=last);
        }

        let conn = reader(&path);
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok", "iteration {i}");
        let stored: BTreeSet<u64> = {
            let mut stmt = conn.prepare("SELECT trade_id FROM fills WHERE run_id = ?1").unwrap();
            stmt.query_map([run], |r| r.get::<_, i64>(0)).unwrap().map(|t| t.unwrap() as u64).collect()
        };
        let rows = count(&conn, "SELECT count(*) FROM fills") as usize;
        assert_eq!(rows, stored.len(), "iteration {i}: each fill once");
        let lost: Vec<&u64> = acked.difference(&stored).take(5).collect();
        assert!(lost.is_empty(), "iteration {i}: acknowledged fills missing: {lost:?}");
        assert!(verify_positions(&path, run).unwrap().is_empty(), "iteration {i}: positions differ from fills");
        assert!(stored.len() >= stored_before, "iteration {i}: the ledger never shrinks");
        stored_before = stored.len();
        println!("kill {}: {} fills acknowledged so far, {stored_before} stored, integrity ok", i + 1, acked.len());
    }
    assert!(acked.len() > iterations as usize, "the children made progress: {} fills acknowledged", acked.len());
    println!(
        "{iterations} kill -9s: {} fills acknowledged before the kills, all stored exactly once; {stored_before} fills stored; integrity ok every time",
        acked.len()
    );
}
