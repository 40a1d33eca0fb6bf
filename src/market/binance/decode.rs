//! Pure decoders for Binance combined-stream frames (spot and USDⓈ-M futures).
//!
//! A combined-stream frame is `{"stream":"<symbol>@<kind>","data":<payload>}` with the stream
//! name before the payload, as Binance sends it. [`decode_frame`] reads it in one pass: a serde
//! visitor looks at `stream` and then deserializes `data` straight into the typed payload for
//! that stream (borrowed `&str` fields, exact decimals), so no `serde_json::Value` is built.
//! Supported streams: `aggTrade`, `kline_1m`, `bookTicker`, `markPrice[@1s]` (futures). Control
//! replies (`{"result":null,"id":1}`) are [`WsItem::Control`]; error replies are
//! [`DecodeError::Venue`]; a `serverShutdown` event is [`WsItem::ServerShutdown`].
//!
//! Every decoded value is checked: prices positive, quantities non-negative, a kline's high at
//! or above its low with open and close inside, only 1m klines. Anything else is a
//! [`DecodeError`], never a panic.

use std::fmt;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::domain::{Bar, MarketData, MarketEvent, Side, Symbol};
use crate::market::live::{DecodeError, WsItem};

const MINUTE_MS: i64 = 60_000;

/// `<symbol>@aggTrade` payload.
#[derive(Debug, Deserialize)]
pub struct AggTrade<'a> {
    #[serde(rename = "s", borrow)]
    pub symbol: &'a str,
    #[serde(rename = "a")]
    pub id: u64,
    #[serde(rename = "p")]
    pub price: Decimal,
    #[serde(rename = "q")]
    pub qty: Decimal,
    /// Trade time.
    #[serde(rename = "T")]
    pub trade_ms: i64,
    /// Buyer is the maker: the seller was the aggressor.
    #[serde(rename = "m")]
    pub buyer_maker: bool,
}

/// `<symbol>@kline_<interval>` payload.
#[derive(Debug, Deserialize)]
pub struct KlineEvent<'a> {
    #[serde(rename = "E")]
    pub event_ms: i64,
    #[serde(rename = "k", borrow)]
    pub k: Kline<'a>,
}

/// The kline inside a [`KlineEvent`].
#[derive(Debug, Deserialize)]
pub struct Kline<'a> {
    #[serde(rename = "t")]
    pub open_ms: i64,
    #[serde(rename = "s", borrow)]
    pub symbol: &'a str,
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
    /// The kline is closed (final).
    #[serde(rename = "x")]
    pub closed: bool,
}

/// `<symbol>@bookTicker` payload (spot has no `E`/`T`).
#[derive(Debug, Deserialize)]
pub struct BookTicker<'a> {
    #[serde(rename = "u")]
    pub update_id: u64,
    #[serde(rename = "s", borrow)]
    pub symbol: &'a str,
    #[serde(rename = "b")]
    pub bid: Decimal,
    #[serde(rename = "B")]
    pub bid_qty: Decimal,
    #[serde(rename = "a")]
    pub ask: Decimal,
    #[serde(rename = "A")]
    pub ask_qty: Decimal,
    #[serde(rename = "T", default)]
    pub transaction_ms: Option<i64>,
    #[serde(rename = "E", default)]
    pub event_ms: Option<i64>,
}

/// `<symbol>@markPrice` payload (USDⓈ-M futures).
#[derive(Debug, Deserialize)]
pub struct MarkPrice<'a> {
    #[serde(rename = "E")]
    pub event_ms: i64,
    #[serde(rename = "s", borrow)]
    pub symbol: &'a str,
    #[serde(rename = "p")]
    pub mark: Decimal,
    /// Funding rate; empty for contracts without funding.
    #[serde(rename = "r", borrow, default)]
    pub funding_rate: Option<&'a str>,
    /// Next funding time (0 when none).
    #[serde(rename = "T", default)]
    pub next_funding_ms: Option<i64>,
}

/// One frame, parsed but not yet validated.
#[derive(Debug)]
pub enum Parsed<'a> {
    AggTrade(AggTrade<'a>),
    Kline(KlineEvent<'a>),
    BookTicker(BookTicker<'a>),
    MarkPrice(MarkPrice<'a>),
    Control,
    Shutdown,
    Error(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    AggTrade,
    Kline,
    BookTicker,
    MarkPrice,
    Other,
}

impl Stream {
    fn of(name: &str) -> Stream {
        let kind = name.split_once('@').map_or(name, |(_, k)| k);
        if kind == "aggTrade" {
            Stream::AggTrade
        } else if kind.starts_with("kline_") {
            Stream::Kline
        } else if kind == "bookTicker" {
            Stream::BookTicker
        } else if kind.starts_with("markPrice") {
            Stream::MarkPrice
        } else {
            Stream::Other
        }
    }
}

/// Reads the envelope and dispatches `data` by the stream name read before it.
struct FrameVisitor;

impl<'de> DeserializeSeed<'de> for FrameVisitor {
    type Value = Parsed<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

#[derive(Deserialize)]
struct VenueError<'a> {
    #[serde(default)]
    code: Option<i64>,
    #[serde(borrow, default)]
    msg: Option<&'a str>,
}

impl<'de> Visitor<'de> for FrameVisitor {
    type Value = Parsed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Binance combined-stream frame")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let mut stream = None;
        let mut parsed = None;
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "stream" => stream = Some(Stream::of(map.next_value::<&'de str>()?)),
                "data" => {
                    let p = match stream {
                        Some(Stream::AggTrade) => Parsed::AggTrade(map.next_value()?),
                        Some(Stream::Kline) => Parsed::Kline(map.next_value()?),
                        Some(Stream::BookTicker) => Parsed::BookTicker(map.next_value()?),
                        Some(Stream::MarkPrice) => Parsed::MarkPrice(map.next_value()?),
                        Some(Stream::Other) => {
                            let d: EventType = map.next_value()?;
                            if d.e == Some("serverShutdown") {
                                Parsed::Shutdown
                            } else {
                                return Err(A::Error::custom("a stream we did not subscribe to"));
                            }
                        }
                        None => return Err(A::Error::custom("`data` before `stream`")),
                    };
                    parsed = Some(p);
                }
                "result" | "id" => {
                    map.next_value::<IgnoredAny>()?;
                    parsed.get_or_insert(Parsed::Control);
                }
                "error" => {
                    let e: VenueError = map.next_value()?;
                    parsed = Some(Parsed::Error(format!(
                        "code {}: {}",
                        e.code.unwrap_or_default(),
                        e.msg.unwrap_or("(no message)")
                    )));
                }
                "e" => {
                    if map.next_value::<&'de str>()? == "serverShutdown" {
                        parsed = Some(Parsed::Shutdown);
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        parsed.ok_or_else(|| A::Error::custom("neither stream data nor a control reply"))
    }
}

#[derive(Deserialize)]
struct EventType<'a> {
    #[serde(borrow, default)]
    e: Option<&'a str>,
}

/// Parses one frame without validating values (for benchmarks and tests of the parser alone).
pub fn parse_frame(text: &str) -> Result<Parsed<'_>, DecodeError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = FrameVisitor.deserialize(&mut de)?;
    de.end()?;
    Ok(parsed)
}

/// Decodes one combined-stream frame received at `recv_ms` into `out`.
pub fn decode_frame(text: &str, recv_ms: i64, out: &mut Vec<WsItem>) -> Result<(), DecodeError> {
    let item = match parse_frame(text)? {
        Parsed::AggTrade(t) => agg_trade(&t)?,
        Parsed::Kline(k) => kline(&k)?,
        Parsed::BookTicker(b) => book_ticker(&b, recv_ms)?,
        Parsed::MarkPrice(m) => mark_price(&m)?,
        Parsed::Control => WsItem::Control,
        Parsed::Shutdown => WsItem::ServerShutdown,
        Parsed::Error(e) => return Err(DecodeError::Venue(e)),
    };
    out.push(item);
    Ok(())
}

fn symbol(s: &str) -> Result<Symbol, DecodeError> {
    Symbol::new(s).map_err(|e| DecodeError::Value(format!("symbol: {e}")))
}

fn positive(what: &str, v: Decimal) -> Result<Decimal, DecodeError> {
    if v > Decimal::ZERO { Ok(v) } else { Err(DecodeError::Value(format!("{what} {v} is not positive"))) }
}

fn non_negative(what: &str, v: Decimal) -> Result<Decimal, DecodeError> {
    if v >= Decimal::ZERO { Ok(v) } else { Err(DecodeError::Value(format!("{what} {v} is negative"))) }
}

/// An aggregate trade as a [`MarketData::Trade`] with the aggregate id as its sequence.
pub fn agg_trade(t: &AggTrade<'_>) -> Result<WsItem, DecodeError> {
    let event = MarketEvent {
        ts_ms: t.trade_ms,
        symbol: symbol(t.symbol)?,
        data: MarketData::Trade {
            price: positive("price", t.price)?,
            qty: non_negative("quantity", t.qty)?,
            aggressor: if t.buyer_maker { Side::Sell } else { Side::Buy },
            trade_id: t.id,
        },
    };
    Ok(WsItem::Market { event, seq: Some(t.id) })
}

/// A 1m kline as a [`WsItem::Candle`].
pub fn kline(k: &KlineEvent<'_>) -> Result<WsItem, DecodeError> {
    let bar = bar_of(&k.k)?;
    Ok(WsItem::Candle { symbol: symbol(k.k.symbol)?, bar, closed: k.k.closed, event_ms: Some(k.event_ms) })
}

fn bar_of(k: &Kline<'_>) -> Result<Bar, DecodeError> {
    if k.interval != "1m" {
        return Err(DecodeError::Unexpected(format!("kline interval {} (only 1m is subscribed)", k.interval)));
    }
    checked_bar(k.open_ms, k.open, k.high, k.low, k.close, k.volume)
}

/// A 1m bar after the checks every venue's candles get.
pub fn checked_bar(
    open_ms: i64,
    open: Decimal,
    high: Decimal,
    low: Decimal,
    close: Decimal,
    volume: Decimal,
) -> Result<Bar, DecodeError> {
    if open_ms.rem_euclid(MINUTE_MS) != 0 || open_ms < 0 {
        return Err(DecodeError::Value(format!("candle open time {open_ms} is not on a minute boundary")));
    }
    positive("low", low)?;
    non_negative("volume", volume)?;
    if high < low || !(low..=high).contains(&open) || !(low..=high).contains(&close) {
        return Err(DecodeError::Value(format!(
            "inconsistent candle at {open_ms}: open {open} high {high} low {low} close {close}"
        )));
    }
    Ok(Bar { open_ms, interval_ms: MINUTE_MS, open, high, low, close, volume })
}

/// Best bid/offer as a [`MarketData::Quote`] with the update id as its sequence.
pub fn book_ticker(b: &BookTicker<'_>, recv_ms: i64) -> Result<WsItem, DecodeError> {
    let bid = positive("bid", b.bid)?;
    let ask = positive("ask", b.ask)?;
    if ask < bid {
        return Err(DecodeError::Value(format!("crossed book: bid {bid} above ask {ask}")));
    }
    let event = MarketEvent {
        ts_ms: b.transaction_ms.or(b.event_ms).unwrap_or(recv_ms),
        symbol: symbol(b.symbol)?,
        data: MarketData::Quote {
            bid,
            ask,
            bid_qty: non_negative("bid quantity", b.bid_qty)?,
            ask_qty: non_negative("ask quantity", b.ask_qty)?,
        },
    };
    Ok(WsItem::Market { event, seq: Some(b.update_id) })
}

/// Mark price and funding as a [`MarketData::Mark`].
pub fn mark_price(m: &MarkPrice<'_>) -> Result<WsItem, DecodeError> {
    let funding_rate = match m.funding_rate {
        None | Some("") => None,
        Some(r) => Some(r.parse::<Decimal>().map_err(|e| DecodeError::Value(format!("funding rate {r}: {e}")))?),
    };
    let event = MarketEvent {
        ts_ms: m.event_ms,
        symbol: symbol(m.symbol)?,
        data: MarketData::Mark {
            mark: positive("mark price", m.mark)?,
            funding_rate,
            next_funding_ms: m.next_funding_ms.filter(|t| *t > 0),
        },
    };
    Ok(WsItem::Market { event, seq: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn one(text: &str) -> Result<WsItem, DecodeError> {
        let mut out = Vec::new();
        decode_frame(text, 42, &mut out)?;
        assert_eq!(out.len(), 1);
        Ok(out.remove(0))
    }

    fn wrap(stream: &str, data: &str) -> String {
        format!(r#"{{"stream":"{stream}","data":{data}}}"#)
    }

    #[test]
    fn documented_agg_trade() {
        // Binance spot docs, <symbol>@aggTrade.
        let data = r#"{"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,"T":1672515782136,"m":true,"M":true}"#;
        let item = one(&wrap("bnbbtc@aggTrade", data)).unwrap();
        let WsItem::Market { event, seq } = item else { panic!("{item:?}") };
        assert_eq!(seq, Some(12345));
        assert_eq!(event.ts_ms, 1672515782136);
        assert_eq!(event.symbol.as_str(), "BNBBTC");
        assert_eq!(
            event.data,
            MarketData::Trade { price: dec!(0.001), qty: dec!(100), aggressor: Side::Sell, trade_id: 12345 }
        );
    }

    #[test]
    fn documented_kline() {
        let data = r#"{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,"T":1672515839999,"s":"BNBBTC","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}"#;
        // Every documented field parses to its documented value...
        let frame = wrap("bnbbtc@kline_1m", data);
        let Parsed::Kline(k) = parse_frame(&frame).unwrap() else { panic!() };
        assert_eq!((k.k.open_ms, k.k.symbol, k.k.interval, k.k.closed), (1672515780000, "BNBBTC", "1m", false));
        assert_eq!(
            (k.k.open, k.k.close, k.k.high, k.k.low, k.k.volume),
            (dec!(0.0010), dec!(0.0020), dec!(0.0025), dec!(0.0015), dec!(1000))
        );
        // ...but the example's open is below its low. It is illustrative; a real kline can
        // never look like that, so the decoder refuses it rather than feed it to indicators.
        let e = one(&frame).unwrap_err();
        assert!(e.to_string().contains("inconsistent"), "{e}");
        let fixed = data.replace(r#""o":"0.0010""#, r#""o":"0.0016""#);
        let item = one(&wrap("bnbbtc@kline_1m", &fixed)).unwrap();
        let WsItem::Candle { symbol, bar, closed, event_ms } = item else { panic!("{item:?}") };
        assert_eq!((symbol.as_str(), closed, event_ms), ("BNBBTC", false, Some(1672515782136)));
        assert_eq!(bar.open_ms, 1672515780000);
        assert_eq!(
            (bar.open, bar.high, bar.low, bar.close, bar.volume),
            (dec!(0.0016), dec!(0.0025), dec!(0.0015), dec!(0.0020), dec!(1000))
        );
    }

    #[test]
    fn documented_book_tickers_spot_and_futures() {
        let spot =
            r#"{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#;
        let WsItem::Market { event, seq } = one(&wrap("bnbusdt@bookTicker", spot)).unwrap() else { panic!() };
        assert_eq!((event.ts_ms, seq), (42, Some(400900217)), "spot has no time: the receive time is used");
        assert_eq!(
            event.data,
            MarketData::Quote {
                bid: dec!(25.35190000),
                ask: dec!(25.36520000),
                bid_qty: dec!(31.21000000),
                ask_qty: dec!(40.66000000)
            }
        );
        let fut = r#"{"e":"bookTicker","u":400900217,"E":1568014460893,"T":1568014460891,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#;
        let WsItem::Market { event, .. } = one(&wrap("bnbusdt@bookTicker", fut)).unwrap() else { panic!() };
        assert_eq!(event.ts_ms, 1568014460891, "futures: the transaction time");
    }

    #[test]
    fn documented_mark_price() {
        let data = r#"{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}"#;
        let WsItem::Market { event, .. } = one(&wrap("btcusdt@markPrice@1s", data)).unwrap() else { panic!() };
        assert_eq!(event.ts_ms, 1562305380000);
        assert_eq!(
            event.data,
            MarketData::Mark {
                mark: dec!(11794.15000000),
                funding_rate: Some(dec!(0.00038167)),
                next_funding_ms: Some(1562306400000)
            }
        );
    }

    #[test]
    fn control_error_and_shutdown_frames() {
        assert_eq!(one(r#"{"result":null,"id":1}"#).unwrap(), WsItem::Control);
        let e = one(r#"{"error":{"code":2,"msg":"Invalid request"},"id":1}"#).unwrap_err();
        assert!(matches!(&e, DecodeError::Venue(m) if m.contains("Invalid request")), "{e}");
        assert_eq!(one(r#"{"e":"serverShutdown","E":1}"#).unwrap(), WsItem::ServerShutdown);
        assert_eq!(one(&wrap("!serverShutdown", r#"{"e":"serverShutdown","E":1}"#)).unwrap(), WsItem::ServerShutdown);
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        for bad in [
            "",
            "not json",
            "[]",
            "{}",
            r#"{"stream":"btcusdt@aggTrade"}"#,
            r#"{"data":{},"stream":"btcusdt@aggTrade"}"#,
            r#"{"stream":"btcusdt@aggTrade","data":{"s":"BTCUSDT"}}"#,
            r#"{"stream":"btcusdt@aggTrade","data":{"s":"BTCUSDT","a":1,"p":"abc","q":"1","T":1,"m":true}}"#,
            r#"{"stream":"btcusdt@aggTrade","data":{"s":"BTCUSDT","a":1,"p":"-5","q":"1","T":1,"m":true}}"#,
            r#"{"stream":"btcusdt@aggTrade","data":{"s":"BTC USDT","a":1,"p":"5","q":"1","T":1,"m":true}}"#,
            r#"{"stream":"btcusdt@depth","data":{"e":"depthUpdate"}}"#,
            r#"{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":"10","B":"1","a":"9","A":"1"}}"#,
            r#"{"stream":"btcusdt@kline_1m","data":{"E":1,"k":{"t":60000,"s":"BTCUSDT","i":"5m","o":"1","c":"1","h":"1","l":"1","v":"1","x":true}}}"#,
            r#"{"stream":"btcusdt@kline_1m","data":{"E":1,"k":{"t":61000,"s":"BTCUSDT","i":"1m","o":"1","c":"1","h":"1","l":"1","v":"1","x":true}}}"#,
            r#"{"result":null,"id":1} trailing"#,
        ] {
            assert!(one(bad).is_err(), "{bad:?} should not decode");
        }
    }
}
