//! Pure decoders for Hyperliquid WebSocket frames and `info` candle responses.
//!
//! Frames are `{"channel":"<type>","data":…}` with the channel before the data, as Hyperliquid
//! sends them. [`decode_frame`] reads a frame in one pass: a serde visitor reads `channel`, then
//! deserializes `data` straight into the typed payload (borrowed `&str` fields; only the top
//! level of a book is turned into decimals). Channels: `trades`, `l2Book` (top of book),
//! `candle` (1m), `activeAssetCtx` (mark, funding, open interest); `subscriptionResponse` and
//! `pong` are [`WsItem::Control`]; `error` is [`DecodeError::Venue`].
//!
//! Coins (`BTC`, `kPEPE`) are mapped to the configured symbols by a [`CoinMap`]; a coin we did
//! not subscribe to is an error. Values are checked like Binance's (positive prices,
//! consistent candles on minute boundaries); anything else is a [`DecodeError`].

use std::fmt;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::domain::{Bar, MarketData, MarketEvent, Side, Symbol};
use crate::market::binance::decode::checked_bar;
use crate::market::live::{DecodeError, WsItem};

const HOUR_MS: i64 = 3_600_000;

/// Configured symbol of each subscribed coin.
#[derive(Debug, Clone, Default)]
pub struct CoinMap {
    entries: Vec<(String, Symbol)>,
}

impl CoinMap {
    pub fn new(entries: Vec<(String, Symbol)>) -> Self {
        Self { entries }
    }

    pub fn symbol(&self, coin: &str) -> Option<Symbol> {
        self.entries.iter().find(|(c, _)| c == coin).map(|(_, s)| *s)
    }

    pub fn coin(&self, symbol: Symbol) -> Option<&str> {
        self.entries.iter().find(|(_, s)| *s == symbol).map(|(c, _)| c.as_str())
    }

    pub fn coins(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(c, _)| c.as_str())
    }

    fn resolve(&self, coin: &str) -> Result<Symbol, DecodeError> {
        self.symbol(coin)
            .ok_or_else(|| DecodeError::Unexpected(format!("data for coin {coin}, which we did not subscribe to")))
    }
}

/// One trade of a `trades` message.
#[derive(Debug, Deserialize)]
pub struct WsTrade<'a> {
    #[serde(borrow)]
    pub coin: &'a str,
    /// `B`: the buyer took liquidity; `A`: the seller did.
    #[serde(borrow)]
    pub side: &'a str,
    pub px: Decimal,
    pub sz: Decimal,
    pub time: i64,
    pub tid: u64,
}

/// A book level with its decimals left as text until needed.
#[derive(Debug, Deserialize)]
pub struct Level<'a> {
    #[serde(borrow)]
    pub px: &'a str,
    #[serde(borrow)]
    pub sz: &'a str,
}

/// An `l2Book` snapshot: `levels` is `[bids, asks]`, best first.
#[derive(Debug, Deserialize)]
pub struct WsBook<'a> {
    #[serde(borrow)]
    pub coin: &'a str,
    #[serde(borrow)]
    pub levels: Vec<Vec<Level<'a>>>,
    #[serde(default)]
    pub time: Option<i64>,
}

/// A candle, from the `candle` channel or `candleSnapshot`.
#[derive(Debug, Deserialize)]
pub struct Candle<'a> {
    #[serde(rename = "t")]
    pub open_ms: i64,
    #[serde(rename = "T", default)]
    pub close_ms: Option<i64>,
    #[serde(rename = "s", borrow)]
    pub coin: &'a str,
    #[serde(rename = "i", borrow)]
    pub interval: &'a str,
    #[serde(rename = "o")]
    pub open: Decimal,
    #[serde(rename = "c")]
    pub close: Decimal,
    #[serde(rename = "h")]
    pub high: Decimal,
    #[serde(rename = "l")]
    pub low: Decimal,
    #[serde(rename = "v")]
    pub volume: Decimal,
}

/// An `activeAssetCtx` payload.
#[derive(Debug, Deserialize)]
pub struct ActiveAssetCtx<'a> {
    #[serde(borrow)]
    pub coin: &'a str,
    pub ctx: AssetCtx,
}

/// A perpetual's context (also the second half of `metaAndAssetCtxs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetCtx {
    pub funding: Decimal,
    pub open_interest: Decimal,
    pub mark_px: Decimal,
    #[serde(default)]
    pub oracle_px: Option<Decimal>,
    #[serde(default)]
    pub mid_px: Option<Decimal>,
}

/// One frame, parsed but not yet validated.
#[derive(Debug)]
pub enum Parsed<'a> {
    Trades(Vec<WsTrade<'a>>),
    Book(WsBook<'a>),
    Candle(Candle<'a>),
    AssetCtx(ActiveAssetCtx<'a>),
    Control,
    Error(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Trades,
    Book,
    Candle,
    AssetCtx,
    Control,
    Error,
    Other,
}

impl Channel {
    fn of(name: &str) -> Channel {
        match name {
            "trades" => Channel::Trades,
            "l2Book" => Channel::Book,
            "candle" => Channel::Candle,
            "activeAssetCtx" => Channel::AssetCtx,
            "subscriptionResponse" | "pong" | "post" => Channel::Control,
            "error" => Channel::Error,
            _ => Channel::Other,
        }
    }
}

struct FrameVisitor;

impl<'de> DeserializeSeed<'de> for FrameVisitor {
    type Value = Parsed<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FrameVisitor {
    type Value = Parsed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Hyperliquid WebSocket frame")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let mut channel = None;
        let mut parsed = None;
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "channel" => {
                    let c = Channel::of(map.next_value::<&'de str>()?);
                    if c == Channel::Control {
                        parsed = Some(Parsed::Control);
                    } else if c == Channel::Other {
                        return Err(A::Error::custom("a channel we did not subscribe to"));
                    }
                    channel = Some(c);
                }
                "data" => {
                    let p = match channel {
                        Some(Channel::Trades) => Parsed::Trades(map.next_value()?),
                        Some(Channel::Book) => Parsed::Book(map.next_value()?),
                        Some(Channel::Candle) => Parsed::Candle(map.next_value()?),
                        Some(Channel::AssetCtx) => Parsed::AssetCtx(map.next_value()?),
                        Some(Channel::Control) => {
                            map.next_value::<IgnoredAny>()?;
                            Parsed::Control
                        }
                        Some(Channel::Error) => Parsed::Error(map.next_value::<String>()?),
                        Some(Channel::Other) | None => return Err(A::Error::custom("`data` before `channel`")),
                    };
                    parsed = Some(p);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        parsed.ok_or_else(|| A::Error::custom("a frame without data"))
    }
}

/// Parses one frame without validating values.
pub fn parse_frame(text: &str) -> Result<Parsed<'_>, DecodeError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = FrameVisitor.deserialize(&mut de)?;
    de.end()?;
    Ok(parsed)
}

/// Decodes one frame received at `recv_ms` into `out`.
pub fn decode_frame(text: &str, coins: &CoinMap, recv_ms: i64, out: &mut Vec<WsItem>) -> Result<(), DecodeError> {
    match parse_frame(text)? {
        Parsed::Trades(trades) => {
            for t in &trades {
                out.push(trade(t, coins)?);
            }
        }
        Parsed::Book(b) => out.extend(top_of_book(&b, coins, recv_ms)?),
        Parsed::Candle(c) => {
            let bar = minute_bar(&c)?;
            out.push(WsItem::Candle { symbol: coins.resolve(c.coin)?, bar, closed: false, event_ms: None });
        }
        Parsed::AssetCtx(a) => {
            let symbol = coins.resolve(a.coin)?;
            out.extend(
                context_events(symbol, &a.ctx, recv_ms)?.into_iter().map(|event| WsItem::Market { event, seq: None }),
            );
        }
        Parsed::Control => out.push(WsItem::Control),
        Parsed::Error(e) => return Err(DecodeError::Venue(e)),
    }
    Ok(())
}

fn positive(what: &str, v: Decimal) -> Result<Decimal, DecodeError> {
    if v > Decimal::ZERO { Ok(v) } else { Err(DecodeError::Value(format!("{what} {v} is not positive"))) }
}

fn decimal(what: &str, s: &str) -> Result<Decimal, DecodeError> {
    s.parse::<Decimal>().map_err(|e| DecodeError::Value(format!("{what} `{s}`: {e}")))
}

/// A trade as [`MarketData::Trade`]. Trade ids are not ordered, so there is no sequence.
pub fn trade(t: &WsTrade<'_>, coins: &CoinMap) -> Result<WsItem, DecodeError> {
    let aggressor = match t.side {
        "B" => Side::Buy,
        "A" => Side::Sell,
        other => return Err(DecodeError::Value(format!("trade side `{other}` (expected A or B)"))),
    };
    if t.sz < Decimal::ZERO {
        return Err(DecodeError::Value(format!("trade size {} is negative", t.sz)));
    }
    let event = MarketEvent {
        ts_ms: t.time,
        symbol: coins.resolve(t.coin)?,
        data: MarketData::Trade { price: positive("price", t.px)?, qty: t.sz, aggressor, trade_id: t.tid },
    };
    Ok(WsItem::Market { event, seq: None })
}

/// The best bid and ask of a book as a [`MarketData::Quote`]; `None` when a side is empty.
pub fn top_of_book(b: &WsBook<'_>, coins: &CoinMap, recv_ms: i64) -> Result<Option<WsItem>, DecodeError> {
    let symbol = coins.resolve(b.coin)?;
    if b.levels.len() != 2 {
        return Err(DecodeError::Value(format!("book with {} sides (expected bids and asks)", b.levels.len())));
    }
    let (Some(bid), Some(ask)) = (b.levels[0].first(), b.levels[1].first()) else { return Ok(None) };
    let (bid_px, ask_px) = (positive("bid", decimal("bid", bid.px)?)?, positive("ask", decimal("ask", ask.px)?)?);
    if ask_px < bid_px {
        return Err(DecodeError::Value(format!("crossed book: bid {bid_px} above ask {ask_px}")));
    }
    let event = MarketEvent {
        ts_ms: b.time.unwrap_or(recv_ms),
        symbol,
        data: MarketData::Quote {
            bid: bid_px,
            ask: ask_px,
            bid_qty: decimal("bid size", bid.sz)?,
            ask_qty: decimal("ask size", ask.sz)?,
        },
    };
    Ok(Some(WsItem::Market { event, seq: None }))
}

/// A 1m candle as a checked [`Bar`].
pub fn minute_bar(c: &Candle<'_>) -> Result<Bar, DecodeError> {
    if c.interval != "1m" {
        return Err(DecodeError::Unexpected(format!("candle interval {} (only 1m is subscribed)", c.interval)));
    }
    checked_bar(c.open_ms, c.open, c.high, c.low, c.close, c.volume)
}

/// Mark/funding and open interest from an asset context seen at `now_ms`. Hyperliquid funds
/// every hour, on the hour.
pub fn context_events(symbol: Symbol, ctx: &AssetCtx, now_ms: i64) -> Result<Vec<MarketEvent>, DecodeError> {
    let next_funding_ms = (now_ms.div_euclid(HOUR_MS) + 1) * HOUR_MS;
    let mark = MarketEvent {
        ts_ms: now_ms,
        symbol,
        data: MarketData::Mark {
            mark: positive("mark price", ctx.mark_px)?,
            funding_rate: Some(ctx.funding),
            next_funding_ms: Some(next_funding_ms),
        },
    };
    let mut v = vec![mark];
    if ctx.open_interest >= Decimal::ZERO {
        v.push(MarketEvent { ts_ms: now_ms, symbol, data: MarketData::OpenInterest { qty: ctx.open_interest } });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn coins() -> CoinMap {
        CoinMap::new(vec![
            ("BTC".into(), Symbol::new("BTCUSDT").unwrap()),
            ("SOL".into(), Symbol::new("SOLUSDT").unwrap()),
            ("kPEPE".into(), Symbol::new("kPEPE").unwrap()),
        ])
    }

    fn decode(text: &str) -> Result<Vec<WsItem>, DecodeError> {
        let mut out = Vec::new();
        decode_frame(text, &coins(), 1_700_000_000_123, &mut out)?;
        Ok(out)
    }

    #[test]
    fn documented_subscription_ack_and_pong_are_control() {
        let ack = r#"{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"trades","coin":"SOL"}}}"#;
        assert_eq!(decode(ack).unwrap(), vec![WsItem::Control]);
        assert_eq!(decode(r#"{"channel":"pong"}"#).unwrap(), vec![WsItem::Control]);
        let e = decode(r#"{"channel":"error","data":"Invalid subscription"}"#).unwrap_err();
        assert!(matches!(e, DecodeError::Venue(ref m) if m.contains("Invalid")), "{e}");
    }

    #[test]
    fn documented_trades() {
        let text = r#"{"channel":"trades","data":[{"coin":"SOL","side":"B","px":"142.35","sz":"3.5","hash":"0xabc","time":1700000000000,"tid":901,"users":["0x1","0x2"]},{"coin":"SOL","side":"A","px":"142.34","sz":"1","hash":"0xdef","time":1700000000001,"tid":77,"users":["0x3","0x4"]}]}"#;
        let items = decode(text).unwrap();
        assert_eq!(items.len(), 2);
        let WsItem::Market { event, seq } = &items[0] else { panic!() };
        assert_eq!((event.ts_ms, event.symbol.as_str(), *seq), (1700000000000, "SOLUSDT", None));
        assert_eq!(
            event.data,
            MarketData::Trade { price: dec!(142.35), qty: dec!(3.5), aggressor: Side::Buy, trade_id: 901 }
        );
        let WsItem::Market { event, .. } = &items[1] else { panic!() };
        assert!(matches!(event.data, MarketData::Trade { aggressor: Side::Sell, .. }));
    }

    #[test]
    fn documented_book_gives_the_top_level() {
        let text = r#"{"channel":"l2Book","data":{"coin":"BTC","levels":[[{"px":"98450.50","sz":"2.5","n":3},{"px":"98450.00","sz":"1","n":1}],[{"px":"98451.00","sz":"0.7","n":2}]],"time":1700000000500}}"#;
        let items = decode(text).unwrap();
        let WsItem::Market { event, .. } = &items[0] else { panic!() };
        assert_eq!(event.ts_ms, 1700000000500);
        assert_eq!(
            event.data,
            MarketData::Quote { bid: dec!(98450.50), ask: dec!(98451.00), bid_qty: dec!(2.5), ask_qty: dec!(0.7) }
        );
        let empty = r#"{"channel":"l2Book","data":{"coin":"BTC","levels":[[],[]],"time":1}}"#;
        assert!(decode(empty).unwrap().is_empty(), "an empty side gives no quote");
    }

    #[test]
    fn candles_and_asset_context() {
        let text = r#"{"channel":"candle","data":{"t":1700000040000,"T":1700000099999,"s":"BTC","i":"1m","o":"100","c":"101","h":"102","l":"99","v":"5.5","n":12}}"#;
        let items = decode(text).unwrap();
        let WsItem::Candle { symbol, bar, closed, .. } = &items[0] else { panic!() };
        assert_eq!((symbol.as_str(), *closed, bar.open_ms), ("BTCUSDT", false, 1700000040000));
        assert_eq!(
            (bar.open, bar.high, bar.low, bar.close, bar.volume),
            (dec!(100), dec!(102), dec!(99), dec!(101), dec!(5.5))
        );
        let ctx = r#"{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"dayNtlVlm":"1169046.29406","prevDayPx":"15.322","markPx":"14.3161","midPx":"14.314","funding":"0.0000125","openInterest":"688.11","oraclePx":"14.32","premium":"0.00031774","impactPxs":["14.3","14.32"],"dayBaseVlm":"1"}}}"#;
        let items = decode(ctx).unwrap();
        let [WsItem::Market { event: mark, .. }, WsItem::Market { event: oi, .. }] = items.as_slice() else {
            panic!("{items:?}")
        };
        assert_eq!(
            mark.data,
            MarketData::Mark {
                mark: dec!(14.3161),
                funding_rate: Some(dec!(0.0000125)),
                next_funding_ms: Some(1_700_002_800_000)
            }
        );
        assert_eq!(oi.data, MarketData::OpenInterest { qty: dec!(688.11) });
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        for bad in [
            "",
            "{",
            "[]",
            r#"{"channel":"trades"}"#,
            r#"{"data":[],"channel":"trades"}"#,
            r#"{"channel":"allMids","data":{}}"#,
            r#"{"channel":"trades","data":[{"coin":"DOGE","side":"B","px":"1","sz":"1","time":1,"tid":1}]}"#,
            r#"{"channel":"trades","data":[{"coin":"BTC","side":"X","px":"1","sz":"1","time":1,"tid":1}]}"#,
            r#"{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"0","sz":"1","time":1,"tid":1}]}"#,
            r#"{"channel":"l2Book","data":{"coin":"BTC","levels":[[{"px":"2","sz":"1"}],[{"px":"1","sz":"1"}]],"time":1}}"#,
            r#"{"channel":"l2Book","data":{"coin":"BTC","levels":[[{"px":"x","sz":"1"}],[{"px":"1","sz":"1"}]],"time":1}}"#,
            r#"{"channel":"candle","data":{"t":1700000040000,"s":"BTC","i":"1h","o":"1","c":"1","h":"1","l":"1","v":"1"}}"#,
            r#"{"channel":"candle","data":{"t":1700000040000,"s":"BTC","i":"1m","o":"5","c":"1","h":"2","l":"1","v":"1"}}"#,
        ] {
            assert!(decode(bad).is_err(), "{bad:?} should not decode");
        }
    }
}
