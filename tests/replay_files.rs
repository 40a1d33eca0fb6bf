//! Replaying real market data files: every layout in the shared market data (Binance spot,
//! USDⓈ-M and COIN-M klines with and without a header, microsecond spot files, zip archives as
//! downloaded, folders, generic OHLCV and trade CSVs, freqtrade pair names, our own recordings),
//! with the instruments, symbols and markets each file implies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/market_data.rs"]
mod market_data;

use std::path::{Path, PathBuf};

use alphatx::domain::{InstrumentKind, MarketData, MarketEvent, Symbol, Timeframe};
use alphatx::market::candles::{CandleInput, CandleSeries};
use alphatx::market::recording::{RecordingHeader, RecordingWriter};
use alphatx::market::replay::{self, GapPolicy, IssueKind, MarketKind, ReplayError, ReplaySettings, RulesSource};
use market_data::shared;
use rust_decimal::Decimal;
use rust_decimal::dec;

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alphatx-replay-files-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn load(files: &[PathBuf]) -> replay::ReplayData {
    replay::load(&ReplaySettings::default(), files).unwrap()
}

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

fn bars(events: &[MarketEvent]) -> Vec<alphatx::domain::Bar> {
    events
        .iter()
        .map(|e| match &e.data {
            MarketData::Bar(b) => *b,
            other => panic!("not a bar: {other:?}"),
        })
        .collect()
}

#[test]
fn binance_futures_days_merge_into_one_gapless_series() {
    let data = load(&[
        shared("binance-klines/um-BTCUSDT-1m-2022-09-06.csv"),
        shared("binance-klines/um-BTCUSDT-1m-2022-09-05.csv"),
    ]);
    assert_eq!(data.summary.issues(), 0, "{}", data.summary.render());
    assert_eq!(data.input, CandleInput::Bars);
    assert_eq!(data.symbols(), vec![sym("BTCUSDT")]);
    let events: Vec<MarketEvent> = data.iter().cloned().collect();
    assert_eq!(events.len(), 2880);
    let b = bars(&events);
    assert_eq!(b[0].open_ms, 1_662_336_000_000);
    assert!(b.windows(2).all(|w| w[1].open_ms == w[0].open_ms + 60_000), "consecutive minutes");
    assert!(events.iter().zip(&b).all(|(e, b)| e.ts_ms == b.open_ms + 60_000), "a bar arrives when its minute ends");
    assert_eq!(
        (b[0].open, b[0].high, b[0].low, b[0].close, b[0].volume),
        (dec!(19992.70), dec!(20000.00), dec!(19988.10), dec!(19996.80), dec!(482.638))
    );
    let s = &data.summary.symbols[0];
    assert_eq!((s.market, s.rules, s.gaps), (Some(MarketKind::Usdm), RulesSource::Table, 0));
    let i = &data.instruments()[0];
    assert_eq!(
        (i.kind, i.tick_size, i.lot_size, i.taker_fee),
        (InstrumentKind::Perpetual, dec!(0.1), dec!(0.001), dec!(0.0005))
    );
}

#[test]
fn spot_files_without_a_header_are_spot_instruments() {
    let data = load(&[
        shared("binance-klines/spot-ETHUSDT-1m-2022-08-14.csv"),
        shared("binance-klines/spot-ETHUSDT-1m-2022-08-15.csv"),
    ]);
    assert_eq!(data.len(), 2880);
    assert_eq!(data.summary.files[0].format, "binance klines, no header");
    let i = &data.instruments()[0];
    assert_eq!(
        (i.kind, i.max_leverage, i.lot_size, i.taker_fee),
        (InstrumentKind::Spot, dec!(1), dec!(0.0001), dec!(0.001))
    );
    assert_eq!(data.summary.symbols[0].market, Some(MarketKind::Spot));
}

#[test]
fn the_first_spot_bar_is_read_exactly() {
    // alpaca-bot's own test asserts this bar of the file.
    let data = load(&[shared("binance-klines/spot-BTCUSDT-1m-2024-09-21.csv")]);
    let b = bars(&data.iter().take(1).cloned().collect::<Vec<_>>())[0];
    assert_eq!(b.open_ms, 1_726_876_800_000);
    assert_eq!(
        (b.open, b.high, b.low, b.close, b.volume),
        (dec!(63201.05), dec!(63201.06), dec!(63186.00), dec!(63196.00), dec!(10.91101))
    );
}

#[test]
fn coin_margined_files_trade_as_linear_with_coin_volume() {
    let data = load(&[shared("binance-klines/cm-BTCUSD_PERP-1m-2022-10-24.csv")]);
    assert_eq!(data.symbols(), vec![sym("BTCUSD_PERP")]);
    assert_eq!(data.summary.symbols[0].market, Some(MarketKind::Coinm));
    // 19431 contracts of 100 USD at ~19,556 USD: the `quote_volume` column holds 99.33 BTC.
    assert_eq!(bars(&data.iter().take(1).cloned().collect::<Vec<_>>())[0].volume, dec!(99.33183109));
    assert!(
        data.summary.notes.iter().any(|n| n.contains("COIN-M") && n.contains("linear")),
        "{:?}",
        data.summary.notes
    );
    assert_eq!(data.instruments()[0].quote, "USD");
}

#[test]
fn microsecond_spot_files_read_like_millisecond_ones() {
    // Binance spot files from 2025 on hold microseconds: rewrite one day that way.
    let dir = scratch("micros");
    let ms = shared("binance-klines/spot-ETHUSDT-1m-2022-08-14.csv");
    let text = std::fs::read_to_string(&ms).unwrap();
    let micros: String = text
        .lines()
        .map(|l| {
            let mut f: Vec<String> = l.split(',').map(str::to_owned).collect();
            f[0].push_str("000");
            f[6].push_str("999");
            f.join(",") + "\n"
        })
        .collect();
    let us = dir.join("spot-ETHUSDT-1m-2022-08-14.csv");
    std::fs::write(&us, micros).unwrap();
    let day2 = shared("binance-klines/spot-ETHUSDT-1m-2022-08-15.csv");
    let mixed = load(&[us.clone(), day2.clone()]);
    let plain = load(&[ms, day2]);
    assert_eq!(mixed.summary.issues(), 0, "{}", mixed.summary.render());
    assert_eq!(mixed.iter().cloned().collect::<Vec<_>>(), plain.iter().cloned().collect::<Vec<_>>());
    let units: Vec<Vec<&str>> =
        mixed.summary.files.iter().map(|f| f.time_units.iter().map(|u| u.as_str()).collect()).collect();
    assert_eq!(units, vec![vec!["µs"], vec!["ms"]]);
    let _ = std::fs::remove_dir_all(dir);
}

/// Zips `src` as `name` (Binance archives hold one CSV of the same stem), deflated.
fn zip_file(src: &Path, zip_path: &Path, name: &str) {
    use std::io::Write;
    std::fs::create_dir_all(zip_path.parent().unwrap()).unwrap();
    let mut w = zip::ZipWriter::new(std::fs::File::create(zip_path).unwrap());
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    w.start_file(name, opts).unwrap();
    w.write_all(&std::fs::read(src).unwrap()).unwrap();
    w.finish().unwrap();
}

#[test]
fn zip_archives_are_read_as_downloaded_and_their_folders_name_the_market() {
    let dir = scratch("zip");
    let csv = shared("binance-klines/um-BTCUSDT-1m-2022-09-05.csv");
    let um = dir.join("data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2022-09-05.zip");
    zip_file(&csv, &um, "BTCUSDT-1m-2022-09-05.csv");
    let zipped = load(std::slice::from_ref(&um));
    let plain = load(&[csv]);
    assert_eq!(zipped.iter().cloned().collect::<Vec<_>>(), plain.iter().cloned().collect::<Vec<_>>());
    assert!(
        zipped.summary.files[0].file.ends_with(".zip:BTCUSDT-1m-2022-09-05.csv"),
        "{}",
        zipped.summary.files[0].file
    );
    assert_eq!(zipped.summary.symbols[0].market, Some(MarketKind::Usdm));
    let spot = dir.join("data/spot/daily/klines/ETHUSDT/1m/ETHUSDT-1m-2022-08-14.zip");
    zip_file(&shared("binance-klines/spot-ETHUSDT-1m-2022-08-14.csv"), &spot, "ETHUSDT-1m-2022-08-14.csv");
    let data = load(&[spot]);
    assert_eq!(data.summary.symbols[0].market, Some(MarketKind::Spot));
    assert_eq!(data.instruments()[0].kind, InstrumentKind::Spot);
    // Not a zip at all.
    let fake = dir.join("BTCUSDT-1m-2022-09-07.zip");
    std::fs::write(&fake, "not a zip").unwrap();
    let e = replay::load(&ReplaySettings::default(), &[fake]).unwrap_err().to_string();
    assert!(e.contains("not a readable zip archive"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_folder_is_read_recursively_in_path_order_and_other_files_are_listed() {
    let dir = scratch("folder");
    std::fs::create_dir_all(dir.join("b")).unwrap();
    std::fs::copy(shared("binance-klines/um-BTCUSDT-1m-2022-09-06.csv"), dir.join("b/um-BTCUSDT-1m-2022-09-06.csv"))
        .unwrap();
    std::fs::copy(shared("binance-klines/um-BTCUSDT-1m-2022-09-05.csv"), dir.join("um-BTCUSDT-1m-2022-09-05.csv"))
        .unwrap();
    std::fs::write(dir.join("README.txt"), "notes").unwrap();
    let data = load(std::slice::from_ref(&dir));
    assert_eq!(data.len(), 2880);
    assert_eq!(data.summary.files.len(), 2);
    assert!(data.summary.files[0].file.ends_with("b/um-BTCUSDT-1m-2022-09-06.csv"), "path order");
    assert_eq!(data.summary.skipped_files.len(), 1);
    assert!(data.summary.skipped_files[0].ends_with("README.txt"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn hourly_klines_are_refused_with_the_reason() {
    let e = replay::load(&ReplaySettings::default(), &[shared("binance-klines/spot-BTCUSDT-1h-2024-08.csv")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("spot-BTCUSDT-1h-2024-08.csv") && e.contains("1h klines") && e.contains("1m"), "{e}");
}

#[test]
fn a_generic_file_needs_a_symbol_and_gets_it_from_the_override() {
    let file = shared("nautilus/btc-perp-20211231-20220201_1m.csv");
    let e = replay::load(&ReplaySettings::default(), std::slice::from_ref(&file)).unwrap_err();
    assert!(matches!(e, ReplayError::NoSymbol { .. }));
    assert!(e.to_string().contains("--symbol"), "{e}");
    let settings = ReplaySettings { symbol: Some(sym("BTCUSDT")), ..ReplaySettings::default() };
    let data = replay::load(&settings, &[file]).unwrap();
    assert_eq!(data.len(), 45_031);
    assert_eq!(data.summary.files[0].format, "ohlcv csv");
    assert_eq!(data.summary.files[0].time_units.iter().map(|u| u.as_str()).collect::<Vec<_>>(), vec!["ISO-8601"]);
}

#[test]
fn freqtrade_pairs_and_their_gaps() {
    let file = shared("freqtrade/XRP_ETH-1m.csv");
    let data = load(std::slice::from_ref(&file));
    assert_eq!(data.symbols(), vec![sym("XRPETH")]);
    let s = &data.summary.symbols[0];
    assert_eq!((s.market, s.rules), (Some(MarketKind::Spot), RulesSource::Inferred));
    assert!(s.gaps > 0 && s.missing_minutes >= s.gaps, "{s:?}");
    assert_eq!(data.summary.counts.get(&IssueKind::Gap), Some(&s.gaps));
    // The first gap: 00:02 is followed by 00:04 (line 5 of the file).
    let first = data.summary.examples.iter().find(|i| i.kind == IssueKind::Gap).unwrap();
    assert_eq!(first.line, 5, "{first}");
    assert!(first.detail.contains("2019-10-11 00:03:00") && first.detail.contains("1 minute(s) missing"), "{first}");
    // Inferred rules: 8 price decimals, whole-unit volumes.
    assert_eq!(data.instruments()[0].tick_size, dec!(0.00000001));
    assert_eq!(data.instruments()[0].quote, "ETH");
    let strict_gaps = ReplaySettings { gaps: GapPolicy::Fail, ..ReplaySettings::default() };
    let e = replay::load(&strict_gaps, &[file]).unwrap_err().to_string();
    assert!(e.contains("XRP_ETH-1m.csv:5") && e.contains("gap"), "{e}");
    // Five-minute futures candles cannot feed a 1m engine.
    let e = replay::load(&ReplaySettings::default(), &[shared("freqtrade/XRP_USDT_USDT-5m-futures.csv")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("5 minute(s) apart"), "{e}");
}

#[test]
fn trades_build_exactly_the_exchange_candles() {
    // freqtrade's trades and 1m candles cover the same window: aggregating the trades must give
    // the candles, price for price.
    let trades = load(&[shared("freqtrade/XRP_ETH-trades.csv")]);
    assert_eq!(trades.input, CandleInput::Trades);
    assert_eq!(trades.len(), 12_477);
    assert_eq!(trades.summary.issues(), 0, "{}", trades.summary.render());
    let candles = load(&[shared("freqtrade/XRP_ETH-1m.csv")]);
    let mut series = CandleSeries::new(5_000);
    let f = |d: Decimal| -> f64 { d.to_string().parse().unwrap() };
    for e in trades.iter() {
        if let MarketData::Trade { price, qty, .. } = &e.data {
            series.on_trade(e.ts_ms, f(*price), f(*qty)).unwrap();
        }
    }
    // The clock closes the last minute.
    let (_, last) = trades.span_ms().unwrap();
    series.on_time(Timeframe::M1.bucket_start(last) + 60_000);
    let built: Vec<_> = series.history(Timeframe::M1).copied().collect();
    let bars = bars(&candles.iter().cloned().collect::<Vec<_>>());
    assert_eq!(built.len(), bars.len());
    for (c, b) in built.iter().zip(&bars) {
        assert_eq!(c.open_ms, b.open_ms);
        assert_eq!((c.open, c.high, c.low, c.close), (f(b.open), f(b.high), f(b.low), f(b.close)), "{}", b.open_ms);
        assert!((c.volume - f(b.volume)).abs() <= 1e-9 * f(b.volume).max(1.0), "{}", b.open_ms);
    }
}

#[test]
fn binance_trade_ticks_are_replayed_as_trades() {
    let data = load(&[shared("nautilus/binance_btcusdt-trades.csv")]);
    assert_eq!(data.input, CandleInput::Trades);
    assert_eq!(data.len(), 2_001);
    let first = data.iter().next().unwrap();
    match &first.data {
        MarketData::Trade { price, qty, trade_id, .. } => {
            assert_eq!((*price, *qty, *trade_id), (dec!(39432.48), dec!(0.000263), 553_287_559));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn our_recordings_replay_exactly() {
    use alphatx::market::sim::{SimConfig, SimMarket, SimMode};
    let dir = scratch("recording");
    let mut sim = SimMarket::new(SimConfig::default_markets(7, 1_735_689_600_000, SimMode::Bars)).unwrap();
    let path = dir.join("session.jsonl");
    let mut events = Vec::new();
    {
        let mut w =
            RecordingWriter::create(&path, &RecordingHeader::new("sim", 1_735_689_600_000, sim.instruments())).unwrap();
        let mut buf = Vec::new();
        for _ in 0..120 {
            buf.clear();
            sim.step(&mut buf);
            for e in &buf {
                w.write(e).unwrap();
                events.push(e.clone());
            }
        }
        w.flush().unwrap();
    }
    let data = load(&[path]);
    assert_eq!(data.summary.issues(), 0, "{}", data.summary.render());
    assert_eq!(data.input, CandleInput::Bars);
    let mut replayed: Vec<MarketEvent> = data.iter().cloned().collect();
    let mut expected = events;
    let key = |e: &MarketEvent| (e.ts_ms, e.symbol);
    replayed.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(replayed, expected);
    assert_eq!(data.instruments(), sim.instruments());
    assert!(data.summary.symbols.iter().all(|s| s.rules == RulesSource::Recording));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_backtest_on_a_binance_day_reports_every_agent_the_baseline_and_the_warmup_warnings() {
    use alphatx::cli::{BacktestArgs, DataArgs};
    let args = BacktestArgs {
        days: 30.0,
        json: false,
        replay_decisions: None,
        record_decisions: None,
        data: DataArgs { files: vec![shared("binance-klines/um-BTCUSDT-1m-2022-09-05.csv")], symbol: None },
        ..Default::default()
    };
    let (report, _) = alphatx::app::backtest(&alphatx::config::Config::default(), &args).unwrap();
    assert_eq!(report.source, "replay");
    assert_eq!(report.events, 1440);
    let kinds: Vec<&str> = report.agents.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, vec!["buy_and_hold", "trend", "mean_reversion", "breakout", "momentum"]);
    assert!(report.agents[0].benchmark && report.agents[0].metrics.exposure_pct.unwrap() > 99.0);
    // One day cannot warm the trend agent's 4h EMA50 filter: the report says so.
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.starts_with("trend (trend)") && w.contains("4h") && w.contains("cannot trade")),
        "{:?}",
        report.warnings
    );
    let text = alphatx::app::format_report(&report);
    assert!(
        text.contains("data checks: no problems found") && text.contains("vs B&H") && text.contains("warning: trend"),
        "{text}"
    );
}
