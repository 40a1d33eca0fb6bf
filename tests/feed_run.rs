//! The real `alphatx` binary on live sources, pointed at loopback fakes through its config:
//! `--source binance` warms up over REST, streams over WebSocket, shows LIVE prices in its
//! status lines and records the session; `source = "auto"` with an unreachable venue falls
//! back to the simulated market and says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod feed_support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::dec;

use alphatx::domain::MarketData;
use alphatx::market::recording::RecordingReader;
use feed_support::*;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alphatx-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn alphatx(config: &std::path::Path, data: &std::path::Path, extra: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_alphatx"))
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .arg("run")
        .arg("--headless")
        .args(extra)
        .env_remove("ALPHATX_CONFIG")
        .env_remove("ALPHATX_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_streams_binance_from_the_fakes_and_records_the_session() {
    let ex = Arc::new(Exchange::default());
    let now = jiff::Timestamp::now().as_millisecond();
    ex.close_until(now - now.rem_euclid(MIN));
    let rest = binance_rest(ex.clone()).await;
    let mut ws = WsFake::start().await;
    let dir = scratch("run-binance");
    let config = dir.join("config.toml");
    let record = dir.join("session.jsonl");
    std::fs::write(
        &config,
        format!(
            "[market]\nsource = \"binance\"\nsymbols = [\"BTCUSDT\", \"ETHUSDT\"]\n\
             [venues.binance]\nrest_url = \"{rest}\"\nws_url = \"{}\"\n\
             [live]\nwarmup_bars = 2000\ncontext_poll_secs = 5\n\
             [engine]\nstatus_interval_secs = 1\n",
            ws.url
        ),
    )
    .unwrap();
    let child = alphatx(&config, &dir.join("data"), &["--duration", "6", "--record", record.to_str().unwrap()]);
    let (mut conn, path) = ws.next_conn(Duration::from_secs(30)).await;
    assert!(path.starts_with("/stream?streams=btcusdt@aggTrade/"), "{path}");
    // About five seconds of live trading at changing prices.
    for i in 0..25u64 {
        let ts = jiff::Timestamp::now().as_millisecond();
        let btc = dec!(61000) + rust_decimal::Decimal::from(i);
        send(&mut conn, agg_trade("BTCUSDT", 100 + i, btc, ts)).await;
        send(&mut conn, book_ticker("BTCUSDT", 100 + i, btc - dec!(0.1), btc + dec!(0.1), ts)).await;
        send(&mut conn, agg_trade("ETHUSDT", 100 + i, dec!(3100.5), ts)).await;
        send(&mut conn, book_ticker("ETHUSDT", 100 + i, dec!(3100.4), dec!(3100.6), ts)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", output.status);
    println!("{stdout}");
    let live: Vec<&str> = stdout.lines().filter(|l| l.contains("binance-usdm LIVE")).collect();
    assert!(!live.is_empty(), "no LIVE status line:\n{stdout}");
    assert!(stdout.contains("BTC 6102") && stdout.contains("ETH 3100.5"), "live prices in the status:\n{stdout}");

    let mut reader = RecordingReader::open(&record).unwrap();
    let header = reader.header().clone();
    assert_eq!(header.source, "binance-usdm");
    assert_eq!(header.instruments.len(), 2);
    assert_eq!(header.instruments[0].tick_size, dec!(0.1), "instruments come from exchangeInfo");
    let events: Vec<_> = std::iter::from_fn(|| reader.next_event()).map(Result::unwrap).collect();
    // Warm-up history ends at `live_from_ms`. (Not at `started_ms`: when a minute closes between
    // the warm-up fetch and the start, the connect-time backfill adds that bar, stamped before
    // the start but live.)
    let live_from = header.live_from_ms.expect("a live recording says where live data begins");
    assert!(live_from <= header.started_ms);
    let warm = events.iter().filter(|e| e.ts_ms <= live_from && matches!(e.data, MarketData::Bar(_))).count();
    assert_eq!(warm, 4000, "the warm-up history is recorded (2 symbols × 2000 bars)");
    let trades = events.iter().filter(|e| matches!(e.data, MarketData::Trade { .. })).count();
    assert!(trades >= 40, "live trades recorded: {trades}");
    assert!(events.iter().any(|e| matches!(e.data, MarketData::OpenInterest { .. })), "context recorded");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn auto_falls_back_to_the_sim_when_the_venue_is_unreachable_and_says_so() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let dir = scratch("run-auto");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[market]\nsource = \"auto\"\nvenue = \"hyperliquid\"\n\
             [venues.hyperliquid]\nrest_url = \"http://127.0.0.1:{port}\"\nws_url = \"ws://127.0.0.1:{port}/ws\"\n\
             [live]\nauto_timeout_secs = 3.0\n[engine]\nstatus_interval_secs = 1\n"
        ),
    )
    .unwrap();
    let output = alphatx(&config, &dir.join("data"), &["--duration", "2.5"]).wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("hyperliquid unreachable") && stderr.contains("using the simulated market"),
        "stderr: {stderr}"
    );
    assert!(
        stdout.contains(" sim (fallback) LIVE"),
        "the arena runs on the sim and the status line says why:\n{stdout}"
    );
    let logs = std::fs::read_dir(dir.join("data/logs")).unwrap();
    let log: String = logs.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect();
    assert!(log.contains("source auto: hyperliquid unreachable"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_explicit_live_source_that_is_unreachable_fails_clearly() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let dir = scratch("run-down");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!("[market]\nsource = \"binance\"\n[venues.binance]\nrest_url = \"http://127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let output = alphatx(&config, &dir.join("data"), &["--duration", "1"]).wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("cannot start the binance feed") && stderr.contains("--source sim"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
