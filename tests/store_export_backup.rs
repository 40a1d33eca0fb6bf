//! Export (trades, equity, decisions as CSV and JSON) from a stored run, online backups taken
//! while the writer appends, and the `alphatx export` / `alphatx backup` commands.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod store_support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use alphatx::domain::{OrderStatus, Side};
use alphatx::engine::journal::JournalRecord;
use alphatx::store::{ExportFormat, ExportWhat, Ledger, LedgerBatch, RunSelector, StoreError, export};
use rust_decimal::Decimal;
use rust_decimal::dec;
use serde_json::Value;
use store_support::*;

const T0: i64 = 1_735_689_600_000; // 2025-01-01T00:00:00Z

/// A small RFC 4180 reader (quoted fields, doubled quotes, line breaks inside quotes).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && row.is_empty(), "the file must end with a line break");
    rows
}

/// A stored run: two fills, a funding payment, equity samples and two decisions.
fn stored_run(path: &Path) -> i64 {
    let ledger = Ledger::open(path).unwrap();
    let mut acks = ledger.acks().unwrap();
    let run = ledger.begin_run(new_run("default")).unwrap();
    let exec = vec![
        filled(fill(1, 1, alice(), btc(), Side::Buy, dec!(0.250), dec!(100.10), T0), OrderStatus::Filled),
        filled(fill(2, 2, alice(), btc(), Side::Sell, dec!(0.100), dec!(101.00), T0 + 60_000), OrderStatus::Filled),
    ];
    let mut d2 = decision(2, bob(), T0 + 120_000);
    d2.error = Some("-timeout after 20 s".into());
    d2.prompt = None;
    let journal = vec![
        JournalRecord::Equity(equity(alice(), T0, dec!(10000.00))),
        JournalRecord::Equity(equity(alice(), T0 + 60_000, dec!(10000.0900))),
        JournalRecord::Decision(decision(1, alice(), T0 - 1)),
        JournalRecord::Decision(d2),
    ];
    ledger.append(LedgerBatch { seq: 1, run_id: run, exec, journal }).unwrap();
    assert!(wait_acks(&mut acks, 1)[0].result.is_ok());
    ledger.close().unwrap();
    run
}

fn export_str(path: &Path, run: RunSelector, what: ExportWhat, format: ExportFormat) -> String {
    let mut out = Vec::new();
    export(path, run, what, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn trades_export_as_csv_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let run = stored_run(&path);
    let csv = parse_csv(&export_str(&path, RunSelector::Id(run), ExportWhat::Trades, ExportFormat::Csv));
    assert_eq!(
        csv[0],
        [
            "run_id",
            "trade_id",
            "venue",
            "ts_ms",
            "time",
            "agent",
            "symbol",
            "side",
            "qty",
            "price",
            "notional",
            "fee",
            "liquidity",
            "purpose",
            "order_id",
            "liquidation",
            "leverage",
            "realized_pnl"
        ]
    );
    assert_eq!(csv.len(), 3);
    assert_eq!(
        csv[1],
        [
            run.to_string().as_str(),
            "1",
            "paper",
            &T0.to_string(),
            "2025-01-01T00:00:00Z",
            "alice",
            "BTCUSDT",
            "buy",
            "0.250",
            "100.10",
            "25.02500",
            "0.01251250",
            "taker",
            "entry",
            "1",
            "false",
            "3",
            "0"
        ]
    );
    assert_eq!(csv[2][9], "101.00");
    assert_eq!(csv[2][17].parse::<Decimal>().unwrap(), dec!(0.09), "realised on the partial close");

    let json: Value =
        serde_json::from_str(&export_str(&path, RunSelector::Latest, ExportWhat::Trades, ExportFormat::Json)).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["price"], "100.10", "decimals stay exact strings");
    assert_eq!(rows[0]["ts_ms"], T0);
    assert_eq!(rows[1]["side"], "sell");
    assert_eq!(rows[1]["liquidation"], false);
}

#[test]
fn equity_exports_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let run = stored_run(&path);
    let csv = parse_csv(&export_str(&path, RunSelector::Id(run), ExportWhat::Equity, ExportFormat::Csv));
    assert_eq!(csv[0], ["run_id", "agent", "ts_ms", "time", "equity", "cash", "unrealized_pnl"]);
    assert_eq!(csv.len(), 3);
    assert_eq!(csv[1][4], "10000.00");
    assert_eq!(csv[2][3], "2025-01-01T00:01:00Z");
    assert_eq!(csv[2][4], "10000.0900");
    let json: Value =
        serde_json::from_str(&export_str(&path, RunSelector::Id(run), ExportWhat::Equity, ExportFormat::Json)).unwrap();
    assert_eq!(json[1]["cash"], "9998.5900");
}

#[test]
fn decisions_export_with_reasoning_proposals_and_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let run = stored_run(&path);
    let csv = parse_csv(&export_str(&path, RunSelector::Id(run), ExportWhat::Decisions, ExportFormat::Csv));
    let header = &csv[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(csv.len(), 3);
    // Multi-line, quoted free text survives; a leading `=` is neutralised for spreadsheets.
    assert_eq!(csv[1][col("reasoning")], "'=SUM(A1) decision 1, \"quoted\", multi\nline");
    assert_eq!(csv[2][col("error")], "'-timeout after 20 s");
    assert_eq!(csv[2][col("prompt")], "");
    let proposals: Value = serde_json::from_str(&csv[1][col("proposals")]).unwrap();
    assert_eq!(proposals[0]["signal"], "buy_to_enter");
    assert_eq!(proposals[0]["stop_loss"], "95.5");
    assert_eq!(csv[1][col("latency_ms")], "1234");
    assert_eq!(csv[1][col("cost_usd")], "0.0125");

    let json: Value =
        serde_json::from_str(&export_str(&path, RunSelector::Id(run), ExportWhat::Decisions, ExportFormat::Json))
            .unwrap();
    let d = &json[0];
    assert_eq!(d["reasoning"], "=SUM(A1) decision 1, \"quoted\", multi\nline", "JSON keeps text as it is");
    assert_eq!(d["proposals"][0]["confidence"], 0.73);
    assert_eq!(d["outcomes"][0]["outcome"], "submitted");
    assert_eq!(d["input_tokens"], 1500);
    assert_eq!(json[1]["prompt"], Value::Null);
}

#[test]
fn unknown_runs_and_empty_ledgers_say_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let mut sink = Vec::new();
    let err = export(&path, RunSelector::Latest, ExportWhat::Trades, ExportFormat::Csv, &mut sink).unwrap_err();
    assert!(matches!(err, StoreError::NoLedger { .. }), "{err:?}");
    Ledger::open(&path).unwrap().close().unwrap();
    let err = export(&path, RunSelector::Latest, ExportWhat::Trades, ExportFormat::Csv, &mut sink).unwrap_err();
    assert!(err.to_string().contains("holds no runs yet"), "{err}");
    let run = stored_run(&path);
    let err = export(&path, RunSelector::Id(run + 5), ExportWhat::Trades, ExportFormat::Csv, &mut sink).unwrap_err();
    assert!(err.to_string().contains(&format!("stored runs, newest first: {run} (default)")), "{err}");
    // A run without rows exports a header (CSV) or an empty array (JSON).
    let ledger = Ledger::open(&path).unwrap();
    let empty = ledger.begin_run(new_run("x")).unwrap();
    ledger.close().unwrap();
    assert_eq!(export_str(&path, RunSelector::Id(empty), ExportWhat::Equity, ExportFormat::Csv).lines().count(), 1);
    let json: Value =
        serde_json::from_str(&export_str(&path, RunSelector::Id(empty), ExportWhat::Decisions, ExportFormat::Json))
            .unwrap();
    assert_eq!(json, Value::Array(vec![]));
}

/// Fills per appended batch in the backup test; each batch also carries one equity sample.
const FILLS_PER_BATCH: u64 = 25;

#[test]
fn a_backup_taken_while_the_writer_appends_is_a_consistent_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let ledger = Arc::new(Ledger::open(&path).unwrap());
    let mut acks = ledger.acks().unwrap();
    let run = ledger.begin_run(new_run("default")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (ledger, stop) = (Arc::clone(&ledger), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) || seq < 40 {
                seq += 1;
                let exec = (0..FILLS_PER_BATCH)
                    .map(|k| {
                        let trade = (seq - 1) * FILLS_PER_BATCH + k + 1;
                        let side = if trade.is_multiple_of(3) { Side::Sell } else { Side::Buy };
                        filled(
                            fill(trade, trade, alice(), btc(), side, dec!(0.01), dec!(100), T0 + trade as i64),
                            OrderStatus::Filled,
                        )
                    })
                    .collect();
                let journal = vec![JournalRecord::Equity(equity(bob(), T0 + seq as i64, Decimal::from(seq)))];
                ledger.append(LedgerBatch { seq, run_id: run, exec, journal }).unwrap();
                if seq.is_multiple_of(8) {
                    // Let the writer commit in between, so backups see many different prefixes.
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            }
            seq
        })
    };
    while ledger.stats().batches_committed < 5 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let mut copies = Vec::new();
    for i in 0..4 {
        let dest = dir.path().join(format!("backup-{i}.sqlite"));
        Ledger::backup_to(&path, &dest).unwrap();
        copies.push(dest);
    }
    stop.store(true, Ordering::Relaxed);
    let appended = writer.join().unwrap();
    wait_acks(&mut acks, appended as usize);
    let mut sizes = Vec::new();
    for dest in &copies {
        let conn = reader(dest);
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "delete", "the copy is one standalone file");
        assert!(!Path::new(&format!("{}-wal", dest.display())).exists());
        // A prefix: fills 1..=n with no gap, and whole batches only (each batch's equity sample
        // is there exactly when all its fills are).
        let (n, max): (i64, i64) = conn
            .query_row("SELECT count(*), coalesce(max(trade_id), 0) FROM fills", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!(n, max, "fills form a prefix without gaps");
        let batches = count(&conn, "SELECT count(*) FROM equity");
        assert_eq!(n as u64, batches as u64 * FILLS_PER_BATCH, "only whole batches");
        drop(conn);
        // The copy is a working ledger: positions agree with its fills.
        assert!(alphatx::store::verify_positions(dest, run).unwrap().is_empty());
        assert!(n > 0, "the copy holds the batches committed before it started");
        sizes.push(n);
    }
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "later copies hold at least as much: {sizes:?}");
    let err = Ledger::backup_to(&path, &copies[0]).unwrap_err();
    assert!(matches!(err, StoreError::DestinationExists { .. }), "{err:?}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains(".partial-"))
    );
    Arc::try_unwrap(ledger).unwrap().close().unwrap();
}

fn alphatx(data_dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_alphatx"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("ALPHATX_CONFIG")
        .env_remove("ALPHATX_DATA_DIR")
        .output()
        .unwrap()
}

#[test]
fn export_and_backup_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = alphatx(&data, &["export", "--run", "latest", "--what", "trades"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no ledger at"), "{out:?}");

    let run = stored_run(&data.join("ledger.sqlite"));
    let out = alphatx(&data, &["export", "--run", &run.to_string(), "--what", "trades", "--format", "csv"]);
    assert!(out.status.success(), "{out:?}");
    let csv = parse_csv(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(csv.len(), 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("exported 2 trades rows of run {run}")));

    let file = dir.path().join("decisions.json");
    let out = alphatx(
        &data,
        &["export", "--run", "latest", "--what", "decisions", "--format", "json", "--out", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{out:?}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);

    let out = alphatx(&data, &["export", "--run", "99", "--what", "equity"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no run 99"), "{out:?}");
    let out = alphatx(&data, &["export", "--run", "first", "--what", "equity"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("positive number or `latest`"), "{out:?}");

    let copy = dir.path().join("copy.sqlite");
    let out = alphatx(&data, &["backup", copy.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("integrity check ok"));
    assert_eq!(count(&reader(&copy), "SELECT count(*) FROM fills"), 2);
    let out = alphatx(&data, &["backup", copy.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"), "{out:?}");
}
