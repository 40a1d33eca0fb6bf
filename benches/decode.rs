//! Decode throughput of live market data frames, per message type (target: ≤ 1 µs per Binance
//! aggTrade or kline frame, text in → validated domain event out). `serde_json::Value` parsing
//! of the same aggTrade frame is measured for comparison: it is what the typed decoders avoid.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use alphatx::domain::Symbol;
use alphatx::market::binance::decode::decode_frame as binance;
use alphatx::market::hyperliquid::decode::{CoinMap, decode_frame as hyperliquid};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const AGG_TRADE: &str = r#"{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1672515782136,"s":"BTCUSDT","a":2163592418,"p":"16612.40","q":"0.015","f":3340232370,"l":3340232370,"T":1672515782136,"m":true}}"#;
const KLINE: &str = r#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1672515782136,"s":"BTCUSDT","k":{"t":1672515780000,"T":1672515839999,"s":"BTCUSDT","i":"1m","f":3340232300,"L":3340232418,"o":"16610.10","c":"16612.40","h":"16613.00","l":"16609.80","v":"88.123","n":119,"x":true,"q":"1463902.43150","V":"40.500","Q":"672791.24500","B":"0"}}}"#;
const BOOK_TICKER: &str = r#"{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":2285372843218,"s":"BTCUSDT","b":"16612.30","B":"12.802","a":"16612.40","A":"3.161","T":1672515782136,"E":1672515782141}}"#;
const MARK_PRICE: &str = r#"{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1672515782000,"s":"BTCUSDT","p":"16611.95000000","P":"16606.31540769","i":"16605.09086957","r":"0.00010000","T":1672531200000}}"#;
const HL_TRADES: &str = r#"{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"110427.0","sz":"0.00123","hash":"0x4a5b1c8f6e2d3a7b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b","time":1761786491067,"tid":912345678901234,"users":["0x1111111111111111111111111111111111111111","0x2222222222222222222222222222222222222222"]}]}"#;
const HL_CANDLE: &str = r#"{"channel":"candle","data":{"t":1761786480000,"T":1761786539999,"s":"BTC","i":"1m","o":"110420.0","c":"110427.0","h":"110431.0","l":"110419.0","v":"12.34567","n":311}}"#;
const HL_CTX: &str = r#"{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"dayNtlVlm":"1169046.29406","prevDayPx":"109000.0","markPx":"110427.0","midPx":"110427.5","funding":"0.0000125","openInterest":"30000.12","oraclePx":"110400.0","premium":"0.00031774","impactPxs":["110426.0","110428.0"],"dayBaseVlm":"10.5"}}}"#;

/// A 20-level Hyperliquid book (the size Hyperliquid sends).
fn hl_book() -> String {
    let side = |start: f64, step: f64| -> String {
        (0..20)
            .map(|i| {
                format!(
                    r#"{{"px":"{:.1}","sz":"{:.5}","n":{}}}"#,
                    start + step * f64::from(i),
                    0.1 + f64::from(i) * 0.37,
                    i + 1
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        r#"{{"channel":"l2Book","data":{{"coin":"BTC","levels":[[{}],[{}]],"time":1761786491067}}}}"#,
        side(110427.0, -1.0),
        side(110428.0, 1.0)
    )
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    let mut out = Vec::with_capacity(4);
    for (name, frame) in [
        ("binance_agg_trade", AGG_TRADE),
        ("binance_kline", KLINE),
        ("binance_book_ticker", BOOK_TICKER),
        ("binance_mark_price", MARK_PRICE),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                binance(black_box(frame), 0, &mut out).unwrap();
                black_box(&out);
            });
        });
    }
    group.bench_function("binance_agg_trade_as_serde_json_value", |b| {
        b.iter(|| black_box(serde_json::from_str::<serde_json::Value>(black_box(AGG_TRADE)).unwrap()));
    });
    let coins = CoinMap::new(vec![("BTC".into(), Symbol::new("BTCUSDT").unwrap())]);
    let book = hl_book();
    for (name, frame) in [
        ("hyperliquid_trades_1", HL_TRADES),
        ("hyperliquid_l2book_20_levels", book.as_str()),
        ("hyperliquid_candle", HL_CANDLE),
        ("hyperliquid_asset_ctx", HL_CTX),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                hyperliquid(black_box(frame), &coins, 0, &mut out).unwrap();
                black_box(&out);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
