//! Validation and repair of replayed data: every problem is reported with its file and line and
//! either repaired by the documented rule (sort, drop exact copies, keep the first of conflicting
//! rows, drop bad rows, leave gaps) or, in strict mode, rejected — never silently used.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alphatx::domain::{MarketData, MarketEvent, Symbol};
use alphatx::market::replay::{self, GapPolicy, IssueKind, ReplayData, ReplayError, ReplaySettings};
use rust_decimal::dec;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alphatx-replay-repair-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const HEADER: &str =
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore";
/// 2022-09-05 00:00 UTC.
const T: i64 = 1_662_336_000_000;

/// A Binance kline line for minute `m` closing at `c`.
fn kline(m: i64, o: &str, h: &str, l: &str, c: &str) -> String {
    let open = T + m * 60_000;
    format!("{open},{o},{h},{l},{c},1.5,{},100,10,0.5,50,0", open + 59_999)
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn counts(data: &ReplayData) -> BTreeMap<IssueKind, u64> {
    data.summary.counts.clone()
}

fn closes(data: &ReplayData) -> Vec<(i64, String)> {
    data.iter()
        .map(|e: &MarketEvent| match &e.data {
            MarketData::Bar(b) => ((b.open_ms - T) / 60_000, b.close.to_string()),
            other => panic!("{other:?}"),
        })
        .collect()
}

/// Lines 2.. of a kline file with one of each problem.
fn messy() -> Vec<String> {
    vec![
        HEADER.to_owned(),
        kline(0, "100", "101", "99", "100.5"),    // 2
        kline(2, "100.5", "102", "100", "101"),   // 3: comes before minute 1 — unsorted
        kline(1, "100.5", "101", "100", "100.8"), // 4
        kline(2, "100.5", "102", "100", "101"),   // 5: exact copy of line 3
        kline(3, "101", "102", "100.5", "101.5"), // 6
        kline(3, "101", "102", "100.5", "999"),   // 7: same minute, other values — conflict (and bad OHLC)
        kline(4, "101", "102", "100.5", "101.7"), // 8
        kline(4, "101", "102", "100.5", "101.9"), // 9: same minute, other close — conflict
        kline(5, "101", "x", "100.5", "101"),     // 10: not a number
        kline(6, "0", "102", "100.5", "101"),     // 11: non-positive price
        kline(7, "101", "100", "102", "101"),     // 12: high below low
        format!("{},101,102,100,101,1,{},1,1,1,1,0", T + 8 * 60_000 + 30_000, T + 9 * 60_000 + 29_999), // 13: misaligned
        kline(12, "101", "102", "100", "101.2"), // 14: after a gap of minutes 5..=11
        "1662336780000,101".to_owned(),          // 15: too few columns
    ]
}

#[test]
fn every_problem_is_reported_with_file_and_line_and_repaired_by_its_rule() {
    let dir = scratch("messy");
    let file = write(&dir, "BTCUSDT-1m-2022-09-05.csv", &messy());
    let data = replay::load(&ReplaySettings::default(), std::slice::from_ref(&file)).unwrap();
    let expected: BTreeMap<IssueKind, u64> = [
        (IssueKind::BadRow, 2),
        (IssueKind::NonPositivePrice, 1),
        (IssueKind::Inconsistent, 2),
        (IssueKind::Misaligned, 1),
        (IssueKind::Unsorted, 1),
        (IssueKind::Duplicate, 1),
        (IssueKind::Conflict, 1),
        (IssueKind::Gap, 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts(&data), expected, "{}", data.summary.render());
    let at = |kind: IssueKind| -> Vec<u64> {
        data.summary.examples.iter().filter(|i| i.kind == kind).map(|i| i.line).collect()
    };
    assert_eq!(at(IssueKind::Unsorted), vec![4]);
    assert_eq!(at(IssueKind::Duplicate), vec![5]);
    assert_eq!(at(IssueKind::Conflict), vec![9]);
    assert_eq!(at(IssueKind::BadRow), vec![10, 15]);
    assert_eq!(at(IssueKind::NonPositivePrice), vec![11]);
    assert_eq!(at(IssueKind::Inconsistent), vec![7, 12]);
    assert_eq!(at(IssueKind::Misaligned), vec![13]);
    assert_eq!(at(IssueKind::Gap), vec![14]);
    for issue in &data.summary.examples {
        assert!(issue.file.ends_with("BTCUSDT-1m-2022-09-05.csv"), "{issue}");
        assert!(issue.to_string().contains(&format!(":{}:", issue.line)), "{issue}");
    }
    let gap = data.summary.examples.iter().find(|i| i.kind == IssueKind::Gap).unwrap();
    assert!(gap.detail.contains("7 minute(s) missing"), "{gap}");
    // Sorted, one bar per minute, the first of the conflicting pair kept, the gap left a gap.
    let got = closes(&data);
    let want: Vec<(i64, String)> = [(0, "100.5"), (1, "100.8"), (2, "101"), (3, "101.5"), (4, "101.7"), (12, "101.2")]
        .into_iter()
        .map(|(m, c)| (m, c.to_owned()))
        .collect();
    assert_eq!(got, want);
    assert_eq!((data.summary.symbols[0].gaps, data.summary.symbols[0].missing_minutes), (1, 7));
    assert_eq!((data.summary.files[0].rows, data.summary.files[0].accepted), (14, 8));
    let text = data.summary.render();
    assert!(text.contains("first row kept, this one dropped") && text.contains("left as a gap"), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn strict_mode_rejects_at_the_first_problem_naming_it() {
    let dir = scratch("strict");
    let file = write(&dir, "BTCUSDT-1m-2022-09-05.csv", &messy());
    let strict = ReplaySettings { strict: true, ..ReplaySettings::default() };
    let e = replay::load(&strict, std::slice::from_ref(&file)).unwrap_err();
    assert!(matches!(e, ReplayError::Strict(_)));
    let text = e.to_string();
    assert!(text.contains("BTCUSDT-1m-2022-09-05.csv:4: unsorted") && text.contains("strict"), "{text}");
    // A clean file with a gap passes strict mode, but not `gaps = "fail"`.
    let clean = write(
        &dir,
        "ETHUSDT-1m-2022-09-05.csv",
        &[HEADER.to_owned(), kline(0, "1", "1", "1", "1"), kline(3, "1", "1", "1", "1")],
    );
    let data = replay::load(&strict, std::slice::from_ref(&clean)).unwrap();
    assert_eq!(data.summary.counts.get(&IssueKind::Gap), Some(&1));
    let no_gaps = ReplaySettings { gaps: GapPolicy::Fail, ..ReplaySettings::default() };
    let e = replay::load(&no_gaps, &[clean]).unwrap_err().to_string();
    assert!(e.contains("ETHUSDT-1m-2022-09-05.csv:3: gap") && e.contains("2 minute(s) missing"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn overlapping_files_keep_the_first_files_rows() {
    let dir = scratch("overlap");
    let a = write(
        &dir,
        "BTCUSDT-1m-a.csv",
        &[HEADER.to_owned(), kline(0, "1", "2", "1", "1.5"), kline(1, "1", "2", "1", "1.6")],
    );
    let b = write(
        &dir,
        "BTCUSDT-1m-b.csv",
        &[HEADER.to_owned(), kline(1, "1", "2", "1", "1.7"), kline(2, "1", "2", "1", "1.8")],
    );
    let data = replay::load(&ReplaySettings::default(), &[a, b]).unwrap();
    assert_eq!(closes(&data), vec![(0, "1.5".into()), (1, "1.6".into()), (2, "1.8".into())]);
    let c = data.summary.examples.iter().find(|i| i.kind == IssueKind::Conflict).unwrap();
    assert!(c.file.ends_with("BTCUSDT-1m-b.csv") && c.line == 2 && c.detail.contains("BTCUSDT-1m-a.csv:3"), "{c}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn trades_are_deduplicated_by_id_and_sorted() {
    let dir = scratch("trades");
    let lines: Vec<String> = vec![
        "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker".into(),
        "1,100,1,1,1,1662336000000,false".into(),   // 2
        "3,101,1,3,3,1662336002000,true".into(),    // 3
        "2,100.5,1,2,2,1662336001000,false".into(), // 4: unsorted
        "2,100.5,1,2,2,1662336001000,false".into(), // 5: copy (and also older than line 3)
        "3,999,1,3,3,1662336002000,true".into(),    // 6: conflicting id 3
        "4,-1,1,4,4,1662336003000,true".into(),     // 7: negative price
        "5,101,0,5,5,1662336004000,true".into(),    // 8: zero quantity
        "6,101,1,6,6,1662336005000,maybe".into(),   // 9: bad flag
    ];
    let file = write(&dir, "BTCUSDT-aggTrades-2022-09-05.csv", &lines);
    let data = replay::load(&ReplaySettings::default(), &[file]).unwrap();
    let got: Vec<(i64, String, u64)> = data
        .iter()
        .map(|e| match &e.data {
            MarketData::Trade { price, trade_id, .. } => (e.ts_ms - T, price.to_string(), *trade_id),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, vec![(0, "100".into(), 1), (1000, "100.5".into(), 2), (2000, "101".into(), 3)]);
    let c = counts(&data);
    assert_eq!(
        (c.get(&IssueKind::Unsorted), c.get(&IssueKind::Duplicate), c.get(&IssueKind::Conflict)),
        (Some(&2), Some(&1), Some(&1))
    );
    assert_eq!((c.get(&IssueKind::NonPositivePrice), c.get(&IssueKind::BadRow)), (Some(&1), Some(&2)));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bars_and_trades_cannot_be_mixed_and_markets_must_agree() {
    let dir = scratch("mixed");
    let k = write(&dir, "BTCUSDT-1m-2022-09-05.csv", &[HEADER.to_owned(), kline(0, "1", "2", "1", "1.5")]);
    let t = write(
        &dir,
        "ETHUSDT-aggTrades-2022-09-05.csv",
        &[
            "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker".into(),
            "1,100,1,1,1,1662336000000,false".into(),
        ],
    );
    let e = replay::load(&ReplaySettings::default(), &[k.clone(), t]).unwrap_err().to_string();
    assert!(e.contains("bars (BTCUSDT) and trades (ETHUSDT)"), "{e}");
    std::fs::create_dir_all(dir.join("spot")).unwrap();
    let spot = dir.join("spot/BTCUSDT-1m-2022-09-06.csv");
    std::fs::write(&spot, kline(1440, "1", "2", "1", "1.5") + "\n").unwrap();
    let e = replay::load(&ReplaySettings::default(), &[k, spot]).unwrap_err().to_string();
    assert!(e.contains("BTCUSDT is spot here but USDⓈ-M"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn recordings_report_bad_lines_and_keep_the_rest() {
    use alphatx::domain::{Bar, Instrument};
    use alphatx::market::recording::{RecordingHeader, RecordingWriter};
    let dir = scratch("recording");
    let path = dir.join("rec.jsonl");
    let btc = Symbol::new("BTCUSDT").unwrap();
    let bar = |m: i64, c| MarketEvent {
        ts_ms: T + (m + 1) * 60_000,
        symbol: btc,
        data: MarketData::Bar(Bar {
            open_ms: T + m * 60_000,
            interval_ms: 60_000,
            open: c,
            high: c,
            low: c,
            close: c,
            volume: dec!(1),
        }),
    };
    {
        let inst = Instrument::perp(btc, "BTC", dec!(0.1), dec!(0.001), 125);
        let mut w = RecordingWriter::create(&path, &RecordingHeader::new("sim", T, vec![inst])).unwrap();
        w.write(&bar(0, dec!(100))).unwrap();
        w.write(&bar(1, dec!(0))).unwrap();
        w.flush().unwrap();
    }
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{not json}\n");
    text.push_str(&serde_json::to_string(&bar(2, dec!(101))).unwrap());
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    let data = replay::load(&ReplaySettings::default(), std::slice::from_ref(&path)).unwrap();
    assert_eq!(data.len(), 2);
    let lines: Vec<(IssueKind, u64)> = data.summary.examples.iter().map(|i| (i.kind, i.line)).collect();
    assert_eq!(lines, vec![(IssueKind::NonPositivePrice, 3), (IssueKind::BadRow, 4)]);
    let _ = std::fs::remove_dir_all(dir);
}
