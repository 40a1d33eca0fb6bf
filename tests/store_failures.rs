//! Failure to persist: when commits fail, every affected batch gets one `Err` ack, nothing
//! panics, nothing is half-written, and the queued batches are committed (then acked `Ok`, in
//! order) as soon as writes succeed again. Closing while writes still fail reports what could
//! not be written.
//!
//! The tests run as root on this machine, where `chmod` cannot make a file read-only, so the
//! failures are injected on the writer's own connection ([`Fault`]): `PRAGMA query_only` gives
//! SQLite's real SQLITE_READONLY error and `PRAGMA max_page_count` its real SQLITE_FULL ("database
//! or disk is full") on the real commit path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod store_support;

use std::time::{Duration, Instant};

use alphatx::domain::{OrderStatus, Side};
use alphatx::engine::journal::JournalRecord;
use alphatx::store::{Fault, Ledger, LedgerAck, LedgerBatch, LedgerOptions, StoreError, verify_positions};
use rust_decimal::dec;
use store_support::*;

const T0: i64 = 1_700_000_000_000;

/// A batch with `n` fills (trade ids seq*1000..) and a decision with a long prompt, so that it
/// needs new database pages.
fn batch(seq: u64, run_id: i64, n: u64) -> LedgerBatch {
    let exec = (0..n)
        .map(|k| {
            let side = if k % 2 == 0 { Side::Buy } else { Side::Sell };
            filled(
                fill(
                    seq * 1000 + k,
                    seq,
                    alice(),
                    btc(),
                    side,
                    dec!(0.01),
                    dec!(100) + rust_decimal::Decimal::from(k),
                    T0,
                ),
                OrderStatus::Filled,
            )
        })
        .collect();
    let mut d = decision(seq, alice(), T0 + seq as i64);
    d.prompt = Some("market data ".repeat(400));
    LedgerBatch { seq, run_id, exec, journal: vec![JournalRecord::Decision(d)] }
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn fills_of(path: &std::path::Path, seq: u64) -> i64 {
    count(&reader(path), &format!("SELECT count(*) FROM fills WHERE trade_id BETWEEN {0}000 AND {0}999", seq))
}

fn failing_writes_are_retried(fault: Fault, expected_error: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    let mut acks = ledger.acks().unwrap();
    let run = ledger.begin_run(new_run("default")).unwrap();
    ledger.append(batch(1, run, 20)).unwrap();
    assert_eq!(wait_acks(&mut acks, 1), vec![LedgerAck { seq: 1, result: Ok(()) }]);

    ledger.inject_fault(Some(fault)).unwrap();
    ledger.append(batch(2, run, 200)).unwrap();
    ledger.append(batch(3, run, 200)).unwrap();
    let errs = wait_acks(&mut acks, 2);
    assert_eq!(errs.iter().map(|a| a.seq).collect::<Vec<_>>(), vec![2, 3]);
    for a in &errs {
        let msg = a.result.as_ref().unwrap_err();
        assert!(msg.contains(expected_error), "{msg}");
    }
    // Retries keep failing without another ack per batch; a batch appended meanwhile gets its own.
    wait_until("three failed attempts", || ledger.stats().failures >= 3);
    ledger.append(batch(4, run, 5)).unwrap();
    assert_eq!(wait_acks(&mut acks, 1)[0].seq, 4);
    wait_until("another failed attempt", || ledger.stats().failures >= 4);
    assert!(acks.try_recv().is_err(), "one Err ack per batch, not one per attempt");
    let stats = ledger.stats();
    assert!(stats.failing);
    assert_eq!((stats.pending_batches, stats.batches_committed), (3, 1));
    assert!(stats.last_error.as_deref().unwrap().contains(expected_error));
    // Nothing of the failed batches is visible, and the committed one is intact.
    assert_eq!((fills_of(&path, 1), fills_of(&path, 2), fills_of(&path, 3)), (20, 0, 0));
    assert!(verify_positions(&path, run).unwrap().is_empty());

    // The disk is writable again: everything queued commits, in order, exactly once.
    ledger.inject_fault(None).unwrap();
    let oks = wait_acks(&mut acks, 3);
    assert_eq!(oks, (2..=4).map(|seq| LedgerAck { seq, result: Ok(()) }).collect::<Vec<_>>());
    assert_eq!((fills_of(&path, 2), fills_of(&path, 3), fills_of(&path, 4)), (200, 200, 5));
    assert!(!ledger.stats().failing);
    assert_eq!(ledger.stats().pending_batches, 0);
    let st = ledger.resume_state("default").unwrap().unwrap();
    assert_eq!(st.accounts[0].fill_count, 425);
    assert_eq!(st.recent_decisions.len(), 4);
    assert!(verify_positions(&path, run).unwrap().is_empty());
    ledger.close().unwrap();
}

#[test]
fn a_read_only_database_fails_commits_then_recovers() {
    failing_writes_are_retried(Fault::ReadOnly, "readonly");
}

#[test]
fn a_full_disk_fails_commits_then_recovers() {
    failing_writes_are_retried(Fault::DiskFull, "full");
}

#[test]
fn closing_while_writes_fail_reports_what_was_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    let mut acks = ledger.acks().unwrap();
    let run = ledger.begin_run(new_run("default")).unwrap();
    ledger.append(batch(1, run, 3)).unwrap();
    wait_acks(&mut acks, 1);
    ledger.inject_fault(Some(Fault::ReadOnly)).unwrap();
    ledger.append(batch(2, run, 3)).unwrap();
    ledger.append(batch(3, run, 4)).unwrap();
    assert!(wait_acks(&mut acks, 2).iter().all(|a| a.result.is_err()));
    // A new run cannot be registered either, and says why.
    assert!(ledger.begin_run(new_run("other")).is_err());
    let err = ledger.close().unwrap_err();
    match &err {
        StoreError::Unflushed { batches, records, first_error } => {
            assert_eq!((*batches, *records), (2, 9));
            assert!(first_error.contains("readonly"), "{first_error}");
        }
        other => panic!("expected Unflushed, got {other:?}"),
    }
    assert!(err.to_string().contains("could not be written before shutdown"));
    // The ledger is intact and usable: the committed batch is there, the others are not.
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!((fills_of(&path, 1), fills_of(&path, 2), fills_of(&path, 3)), (3, 0, 0));
    assert!(verify_positions(&path, run).unwrap().is_empty());
    ledger.close().unwrap();
}

#[test]
fn a_dropped_ledger_still_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let run = {
        let ledger = Ledger::open(&path).unwrap();
        let run = ledger.begin_run(new_run("default")).unwrap();
        for seq in 1..=50 {
            ledger.append(batch(seq, run, 2)).unwrap();
        }
        run
    };
    assert_eq!(count(&reader(&path), "SELECT count(*) FROM fills"), 100);
    assert!(verify_positions(&path, run).unwrap().is_empty());
}

#[test]
fn a_full_queue_hands_the_batch_back_instead_of_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let options = LedgerOptions { max_tx_records: 5_000, max_pending_records: 50 };
    let ledger = Ledger::open_with(&path, options).unwrap();
    let mut acks = ledger.acks().unwrap();
    let run = ledger.begin_run(new_run("default")).unwrap();
    ledger.inject_fault(Some(Fault::ReadOnly)).unwrap();
    // Alone, even a batch above the bound is accepted (1 + 60 records).
    ledger.append(batch(1, run, 60)).unwrap();
    wait_acks(&mut acks, 1);
    let refused = batch(2, run, 5);
    let err = ledger.append(refused.clone()).unwrap_err();
    let StoreError::Backlog { pending_records, last_error, batch: handed_back } = err else {
        panic!("expected Backlog")
    };
    assert_eq!(pending_records, 61);
    assert!(last_error.contains("readonly"), "{last_error}");
    assert_eq!(*handed_back, refused, "the caller gets its batch back to append later");
    assert_eq!(ledger.stats().pending_batches, 1);
    // Once the writer catches up, the same batch is accepted and stored.
    ledger.inject_fault(None).unwrap();
    assert_eq!(wait_acks(&mut acks, 1)[0], LedgerAck { seq: 1, result: Ok(()) });
    ledger.append(*handed_back).unwrap();
    assert_eq!(wait_acks(&mut acks, 1)[0], LedgerAck { seq: 2, result: Ok(()) });
    assert_eq!(fills_of(&path, 2), 5);
    ledger.close().unwrap();
}

#[test]
fn transactions_are_bounded_but_batches_are_never_split() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let options = LedgerOptions { max_tx_records: 10, max_pending_records: 1_000_000 };
    let ledger = Ledger::open_with(&path, options).unwrap();
    let mut acks = ledger.acks().unwrap();
    let run = ledger.begin_run(new_run("default")).unwrap();
    // Queued while the writer cannot commit, so they are all waiting when it can.
    ledger.inject_fault(Some(Fault::CommitFails)).unwrap();
    for seq in 1..=6 {
        ledger.append(batch(seq, run, 4)).unwrap(); // 5 records each
    }
    ledger.append(batch(7, run, 30)).unwrap(); // 31 records: alone, whole
    // Only the batches of the failing transaction (the head of the queue) are acked `Err`; the
    // ones behind it wait their turn without an ack.
    let errs = wait_acks(&mut acks, 2);
    assert_eq!(errs.iter().map(|a| (a.seq, a.result.is_err())).collect::<Vec<_>>(), vec![(1, true), (2, true)]);
    wait_until("a retry", || ledger.stats().failures >= 2);
    assert!(acks.try_recv().is_err());
    let commits_before = ledger.stats().commits;
    ledger.inject_fault(None).unwrap();
    let oks = wait_acks(&mut acks, 7);
    assert_eq!(oks.iter().map(|a| a.seq).collect::<Vec<_>>(), (1..=7).collect::<Vec<_>>());
    // 6 batches of 5 records by twos, then the large one alone: 4 transactions.
    assert_eq!(ledger.stats().commits - commits_before, 4);
    assert_eq!(fills_of(&path, 7), 30);
    ledger.close().unwrap();
}
