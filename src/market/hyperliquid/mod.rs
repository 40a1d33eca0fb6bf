//! Hyperliquid perpetuals market data.
//!
//! One WebSocket connection (`<ws_url>`, e.g. `wss://api.hyperliquid.xyz/ws`) with four
//! subscriptions per coin: `trades`, `l2Book` (top of book), `candle` 1m and `activeAssetCtx`
//! (mark, funding, open interest). Hyperliquid drops connections that send nothing for a
//! minute, so the feed sends `{"method":"ping"}` every 30 s (answered by `{"channel":"pong"}`).
//! Candles carry no "closed" flag: the supervisor takes a candle as final when the next one
//! starts, or a few seconds after its minute ended.
//!
//! REST is `POST <rest_url>/info`: `metaAndAssetCtxs` (universe: size decimals, max leverage;
//! plus mark, funding and open interest, which is also the context poll) and `candleSnapshot`
//! (1m history). Hyperliquid serves only the most recent 5000 candles of an interval, so the
//! warm-up is at most 5000 1m bars (about 83 h): 1m–1h indicators are warm, while EMA50 on 4h
//! (200 h) and daily indicators keep "warming up" until enough live time has passed. Request
//! weights are the documented ones (20 per info request, plus 1 per 60 candles returned) within
//! half of the 1200-per-minute IP budget.
//!
//! Symbols: the configured symbols stay the engine's names (so a config written for Binance,
//! `BTCUSDT`, also works here); each maps to a coin by dropping a quote suffix (`USDT`, `USDC`,
//! `USD`, `-PERP`, `-USD`) and matching the universe case-insensitively (`BTCUSDT` → `BTC`,
//! `KPEPEUSDT` → `kPEPE`); a symbol without a suffix is the coin itself. Instruments are
//! quoted in USDC. Price ticks follow Hyperliquid's rule (at most 5 significant figures and
//! `6 − szDecimals` decimals, integers always allowed), taken at the current mark price.
//! Fees are the public base tier: 0.015 % maker, 0.045 % taker; maintenance margin is half the
//! initial margin at max leverage; funding is hourly.

pub mod decode;

use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{Bar, Instrument, InstrumentKind, MarketEvent, Symbol};
use crate::market::live::rest::RestClient;
use crate::market::live::{DecodeError, HttpSettings, RateLimiter, RestError, Venue, WsItem, closed_in_range};

pub use decode::CoinMap;

const MINUTE_MS: i64 = 60_000;

/// Mainnet endpoints.
pub const DEFAULT_REST_URL: &str = "https://api.hyperliquid.xyz";
pub const DEFAULT_WS_URL: &str = "wss://api.hyperliquid.xyz/ws";
/// Documented info weight budget per minute and IP.
pub const WEIGHT_LIMIT: u32 = 1200;
/// Most candles `candleSnapshot` serves per interval.
pub const MAX_CANDLES: i64 = 5000;

/// `meta` universe entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetMeta {
    pub name: String,
    pub sz_decimals: u32,
    pub max_leverage: u32,
    #[serde(default)]
    pub is_delisted: bool,
}

/// `meta` response.
#[derive(Debug, Clone, Deserialize)]
pub struct Meta {
    pub universe: Vec<AssetMeta>,
}

/// `metaAndAssetCtxs` response: the universe and one context per asset, in the same order.
#[derive(Debug, Clone, Deserialize)]
pub struct MetaAndCtxs(pub Meta, pub Vec<decode::AssetCtx>);

/// The coin name for `symbol` (suffix dropped), as written by the user.
pub fn coin_name(symbol: Symbol) -> String {
    let s = symbol.as_str();
    for suffix in ["-PERP", "-USDC", "-USD", "USDT", "USDC", "USD"] {
        if let Some(c) = s.strip_suffix(suffix)
            && !c.is_empty()
        {
            return c.to_owned();
        }
    }
    s.to_owned()
}

/// Hyperliquid's price tick at `price` for an asset with `sz_decimals`.
pub fn tick_size(price: Decimal, sz_decimals: u32) -> Decimal {
    let decimals = 6u32.saturating_sub(sz_decimals);
    let min_tick = Decimal::new(1, decimals);
    if price <= Decimal::ZERO {
        return min_tick;
    }
    // 5 significant figures: the tick is 10^(digits before the point − 5), but integers are
    // always allowed, so it never exceeds 1.
    let int_digits = i64::try_from(price.trunc().to_string().trim_start_matches('-').len()).unwrap_or(1);
    let exp = if price >= Decimal::ONE { int_digits - 5 } else { leading_zero_exp(price) - 4 };
    let sig_tick = if exp >= 0 {
        Decimal::ONE
    } else {
        u32::try_from(-exp).map_or(min_tick, |e| if e > 28 { min_tick } else { Decimal::new(1, e) })
    };
    sig_tick.max(min_tick)
}

/// For 0 < p < 1, the exponent of its first significant digit (0.0123 → −2).
fn leading_zero_exp(price: Decimal) -> i64 {
    let mut p = price;
    let mut e = 0i64;
    while p < Decimal::ONE && e > -28 {
        p *= Decimal::TEN;
        e -= 1;
    }
    e
}

/// Builds instruments for `symbols` from `metaAndAssetCtxs`; returns them with the coin map.
pub fn instruments_from(meta: &MetaAndCtxs, symbols: &[Symbol]) -> Result<(Vec<Instrument>, CoinMap), RestError> {
    let mut instruments = Vec::with_capacity(symbols.len());
    let mut coins = Vec::with_capacity(symbols.len());
    for &symbol in symbols {
        let wanted = coin_name(symbol);
        let Some(idx) = meta.0.universe.iter().position(|a| a.name.eq_ignore_ascii_case(&wanted)) else {
            return Err(RestError::UnknownSymbol {
                venue: "hyperliquid".into(),
                symbol: format!("{symbol} (coin {wanted})"),
                hint: " (Hyperliquid names perpetuals by coin: BTC, ETH, SOL, kPEPE…)".into(),
            });
        };
        let asset = &meta.0.universe[idx];
        if asset.is_delisted {
            return Err(RestError::Other(format!("hyperliquid: {} is delisted", asset.name)));
        }
        let mark = meta.1.get(idx).map_or(Decimal::ZERO, |c| c.mark_px);
        let max_leverage = Decimal::from(asset.max_leverage.max(1));
        instruments.push(Instrument {
            symbol,
            base: asset.name.clone(),
            quote: "USDC".into(),
            kind: InstrumentKind::Perpetual,
            tick_size: tick_size(mark, asset.sz_decimals),
            lot_size: Decimal::new(1, asset.sz_decimals.min(28)),
            min_notional: Decimal::TEN,
            max_leverage,
            maker_fee: Decimal::new(15, 5),
            taker_fee: Decimal::new(45, 5),
            maintenance_margin_rate: Decimal::ONE / (Decimal::TWO * max_leverage),
            funding_interval_ms: 3_600_000,
        });
        coins.push((asset.name.clone(), symbol));
    }
    Ok((instruments, CoinMap::new(coins)))
}

#[derive(Serialize)]
struct InfoRequest<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct CandleRequest<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    req: CandleReq<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CandleReq<'a> {
    coin: &'a str,
    interval: &'a str,
    start_time: i64,
    end_time: i64,
}

/// Owned form of a candle from `candleSnapshot` (the response is read into owned text).
#[derive(Debug, Deserialize)]
struct CandleRow {
    t: i64,
    i: String,
    o: Decimal,
    c: Decimal,
    h: Decimal,
    l: Decimal,
    v: Decimal,
}

/// The Hyperliquid venue for the supervisor.
#[derive(Debug)]
pub struct Hyperliquid {
    rest: RestClient,
    ws_url: String,
    symbols: Vec<Symbol>,
    coins: CoinMap,
    ping_every: Duration,
}

impl Hyperliquid {
    /// Builds the venue; call [`Hyperliquid::load_instruments`] (or `instruments`) before
    /// streaming, which resolves the coins.
    pub fn new(rest_url: &str, ws_url: &str, symbols: Vec<Symbol>, http: &HttpSettings) -> Result<Self, RestError> {
        let limiter = Arc::new(RateLimiter::new(WEIGHT_LIMIT / 2));
        let rest = RestClient::new(rest_url, http, limiter, WEIGHT_LIMIT)?;
        let coins = CoinMap::new(symbols.iter().map(|s| (coin_name(*s), *s)).collect());
        Ok(Self { rest, ws_url: ws_url.to_owned(), symbols, coins, ping_every: Duration::from_secs(30) })
    }

    /// Sends the keep-alive ping at this interval instead of every 30 s.
    pub fn with_ping_interval(mut self, every: Duration) -> Self {
        self.ping_every = every.max(Duration::from_millis(10));
        self
    }

    /// Fetches the universe, checks every symbol and fixes the exact coin names.
    pub async fn load_instruments(&mut self) -> Result<Vec<Instrument>, RestError> {
        let meta = self.meta().await?;
        let (instruments, coins) = instruments_from(&meta, &self.symbols)?;
        self.coins = coins;
        Ok(instruments)
    }

    pub fn coins(&self) -> &CoinMap {
        &self.coins
    }

    async fn meta(&self) -> Result<MetaAndCtxs, RestError> {
        self.rest.post("/info", &InfoRequest { kind: "metaAndAssetCtxs" }, 20).await
    }

    fn coin(&self, symbol: Symbol) -> Result<String, RestError> {
        self.coins
            .coin(symbol)
            .map(str::to_owned)
            .ok_or_else(|| RestError::Other(format!("hyperliquid: {symbol} is not a configured symbol")))
    }
}

fn subscription(kind: &str, coin: &str, interval: Option<&str>) -> String {
    let coin = serde_json::to_string(coin).unwrap_or_else(|_| "\"\"".into());
    match interval {
        Some(i) => {
            format!(r#"{{"method":"subscribe","subscription":{{"type":"{kind}","coin":{coin},"interval":"{i}"}}}}"#)
        }
        None => format!(r#"{{"method":"subscribe","subscription":{{"type":"{kind}","coin":{coin}}}}}"#),
    }
}

impl Venue for Hyperliquid {
    fn name(&self) -> &str {
        "hyperliquid"
    }

    fn ws_url(&self) -> String {
        self.ws_url.clone()
    }

    fn subscriptions(&self) -> Vec<String> {
        self.coins
            .coins()
            .flat_map(|c| {
                [
                    subscription("trades", c, None),
                    subscription("l2Book", c, None),
                    subscription("candle", c, Some("1m")),
                    subscription("activeAssetCtx", c, None),
                ]
            })
            .collect()
    }

    fn app_ping(&self) -> Option<(Duration, String)> {
        Some((self.ping_every, r#"{"method":"ping"}"#.to_owned()))
    }

    fn max_connection_age(&self) -> Option<Duration> {
        None
    }

    fn candles_flag_close(&self) -> bool {
        false
    }

    fn decode(&self, text: &str, recv_ms: i64, out: &mut Vec<WsItem>) -> Result<(), DecodeError> {
        decode::decode_frame(text, &self.coins, recv_ms, out)
    }

    async fn instruments(&self) -> Result<Vec<Instrument>, RestError> {
        let meta = self.meta().await?;
        instruments_from(&meta, &self.symbols).map(|(i, _)| i)
    }

    async fn closed_bars(&self, symbol: Symbol, from_ms: i64, until_ms: i64) -> Result<Vec<Bar>, RestError> {
        let coin = self.coin(symbol)?;
        let mut bars = Vec::new();
        let mut start = from_ms.max(until_ms - MAX_CANDLES * MINUTE_MS);
        while start + MINUTE_MS <= until_ms {
            let expected = ((until_ms - start) / MINUTE_MS).min(MAX_CANDLES);
            let weight = 20 + u32::try_from(expected / 60).unwrap_or(u32::MAX);
            let req = CandleRequest {
                kind: "candleSnapshot",
                req: CandleReq { coin: &coin, interval: "1m", start_time: start, end_time: until_ms - 1 },
            };
            let rows: Vec<CandleRow> = self.rest.post("/info", &req, weight).await?;
            let mut page = Vec::with_capacity(rows.len());
            for r in &rows {
                if r.i != "1m" {
                    return Err(RestError::Other(format!("hyperliquid candleSnapshot returned {} candles", r.i)));
                }
                let bar = crate::market::binance::decode::checked_bar(r.t, r.o, r.h, r.l, r.c, r.v)
                    .map_err(|e| RestError::Other(format!("hyperliquid candle: {e}")))?;
                page.push(bar);
            }
            let Some(last) = page.iter().map(|b| b.open_ms).max() else { break };
            let full = i64::try_from(page.len()).unwrap_or(i64::MAX) >= MAX_CANDLES;
            bars.extend(page);
            if !full || last < start {
                break;
            }
            start = last + MINUTE_MS;
        }
        Ok(closed_in_range(bars, from_ms, until_ms))
    }

    async fn context(&self, now_ms: i64) -> Result<Vec<MarketEvent>, RestError> {
        let meta = self.meta().await?;
        let mut events = Vec::new();
        for (idx, asset) in meta.0.universe.iter().enumerate() {
            let (Some(symbol), Some(ctx)) = (self.coins.symbol(&asset.name), meta.1.get(idx)) else { continue };
            match decode::context_events(symbol, ctx, now_ms) {
                Ok(evs) => events.extend(evs),
                Err(e) => tracing::debug!(coin = %asset.name, "hyperliquid context skipped: {e}"),
            }
        }
        Ok(events)
    }

    fn symbols(&self) -> &[Symbol] {
        &self.symbols
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap()
    }

    #[test]
    fn symbols_map_to_coins() {
        assert_eq!(coin_name(sym("BTCUSDT")), "BTC");
        assert_eq!(coin_name(sym("ETHUSDC")), "ETH");
        assert_eq!(coin_name(sym("SOL-PERP")), "SOL");
        assert_eq!(coin_name(sym("BTC")), "BTC");
        assert_eq!(coin_name(sym("kPEPE")), "kPEPE");
        assert_eq!(coin_name(sym("USDT")), "USDT", "a bare suffix is not cut to nothing");
    }

    #[test]
    fn ticks_follow_the_significant_figures_rule() {
        assert_eq!(tick_size(dec!(110427.0), 5), dec!(1), "integers are always allowed");
        assert_eq!(tick_size(dec!(3012.5), 4), dec!(0.1));
        assert_eq!(tick_size(dec!(142.35), 2), dec!(0.01));
        assert_eq!(tick_size(dec!(2.111), 1), dec!(0.0001));
        assert_eq!(tick_size(dec!(0.001604), 0), dec!(0.000001), "capped by 6 − szDecimals decimals");
        assert_eq!(tick_size(dec!(0.1234), 0), dec!(0.00001));
    }

    #[test]
    fn documented_meta_and_contexts_become_instruments() {
        let text = r#"[{"universe":[{"name":"BTC","szDecimals":5,"maxLeverage":40},{"name":"kPEPE","szDecimals":0,"maxLeverage":10,"onlyIsolated":false},{"name":"OLD","szDecimals":1,"maxLeverage":3,"isDelisted":true}]},
          [{"dayNtlVlm":"1","funding":"0.0000125","impactPxs":["110426.0","110428.0"],"markPx":"110427.0","midPx":"110427.5","openInterest":"30000.1","oraclePx":"110400.0","premium":"0.0001","prevDayPx":"109000.0"},
           {"dayNtlVlm":"1","funding":"-0.00002","impactPxs":null,"markPx":"0.011604","midPx":null,"openInterest":"5","oraclePx":"0.0116","premium":null,"prevDayPx":"0.0115"},
           {"dayNtlVlm":"0","funding":"0","markPx":"1.0","openInterest":"0","oraclePx":"1.0","prevDayPx":"1.0"}]]"#;
        let meta: MetaAndCtxs = serde_json::from_str(text).unwrap();
        let (inst, coins) = instruments_from(&meta, &[sym("BTCUSDT"), sym("KPEPEUSDT")]).unwrap();
        assert_eq!(coins.symbol("kPEPE"), Some(sym("KPEPEUSDT")), "the universe's spelling wins");
        let btc = &inst[0];
        assert_eq!((btc.base.as_str(), btc.quote.as_str()), ("BTC", "USDC"));
        assert_eq!((btc.tick_size, btc.lot_size, btc.max_leverage), (dec!(1), dec!(0.00001), dec!(40)));
        assert_eq!(btc.maintenance_margin_rate, dec!(0.0125));
        assert_eq!((inst[1].tick_size, inst[1].lot_size), (dec!(0.000001), dec!(1)));
        let e = instruments_from(&meta, &[sym("DOGEUSDT")]).unwrap_err().to_string();
        assert!(e.contains("DOGE") && e.contains("hyperliquid"), "{e}");
        let e = instruments_from(&meta, &[sym("OLD")]).unwrap_err().to_string();
        assert!(e.contains("delisted"), "{e}");
    }

    #[test]
    fn subscriptions_name_every_channel_per_coin() {
        let hl = Hyperliquid::new(
            "http://127.0.0.1:1",
            "ws://127.0.0.1:2/ws",
            vec![sym("BTCUSDT")],
            &HttpSettings::default(),
        )
        .unwrap();
        let subs = hl.subscriptions();
        assert_eq!(subs.len(), 4);
        assert_eq!(subs[0], r#"{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}"#);
        assert_eq!(subs[2], r#"{"method":"subscribe","subscription":{"type":"candle","coin":"BTC","interval":"1m"}}"#);
        for s in &subs {
            serde_json::from_str::<serde_json::Value>(s).unwrap();
        }
    }
}
