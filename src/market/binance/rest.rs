//! Binance REST: typed responses and the pure functions that turn them into domain values.
//!
//! Endpoints (USDⓈ-M futures / spot): `GET /fapi/v1/exchangeInfo` / `/api/v3/exchangeInfo`
//! (instruments), `GET /fapi/v1/klines` / `/api/v3/klines` (1m history, paged), and for futures
//! the market context `GET /fapi/v1/premiumIndex` (mark, funding), `GET /fapi/v1/openInterest`
//! and `GET /futures/data/globalLongShortAccountRatio`. Request weights are the documented
//! ones; the shared limiter paces them.
//!
//! Fees are Binance's public regular-user (VIP 0) schedule: USDⓈ-M 0.02 % maker / 0.05 %
//! taker, spot 0.1 % / 0.1 %. The real per-symbol leverage brackets need a signed request (an
//! API key), so futures instruments take the margin percentages `exchangeInfo` publishes
//! (`requiredMarginPercent` → max leverage, `maintMarginPercent` → maintenance rate), which are
//! the conservative end of the brackets.

use std::fmt;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};

use crate::domain::{Bar, Instrument, InstrumentKind, MarketData, MarketEvent, Symbol};
use crate::market::live::RestError;

use super::BinanceMarket;

/// `exchangeInfo` response (only what we use).
#[derive(Debug, Deserialize)]
pub struct ExchangeInfo {
    pub symbols: Vec<SymbolInfo>,
}

/// One symbol of `exchangeInfo`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolInfo {
    pub symbol: String,
    pub status: String,
    pub base_asset: String,
    pub quote_asset: String,
    /// Futures only: `PERPETUAL`, `CURRENT_QUARTER`...
    #[serde(default)]
    pub contract_type: Option<String>,
    #[serde(default)]
    pub maint_margin_percent: Option<Decimal>,
    #[serde(default)]
    pub required_margin_percent: Option<Decimal>,
    #[serde(default)]
    pub filters: Vec<Filter>,
}

/// One entry of a symbol's `filters` (keys differ by filter type; unknown ones are ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    pub filter_type: String,
    #[serde(default)]
    pub tick_size: Option<Decimal>,
    #[serde(default)]
    pub step_size: Option<Decimal>,
    /// Spot `NOTIONAL` / `MIN_NOTIONAL`.
    #[serde(default)]
    pub min_notional: Option<Decimal>,
    /// Futures `MIN_NOTIONAL`.
    #[serde(default)]
    pub notional: Option<Decimal>,
}

/// Builds the instrument for `symbol` from `exchangeInfo`.
pub fn instrument(info: &ExchangeInfo, symbol: Symbol, market: BinanceMarket) -> Result<Instrument, RestError> {
    let venue = market.venue_name();
    let Some(s) = info.symbols.iter().find(|s| s.symbol == symbol.as_str()) else {
        let hint = if symbol.as_str().chars().any(|c| c.is_ascii_lowercase()) {
            " (Binance symbols are upper case, e.g. BTCUSDT)".to_owned()
        } else {
            " (check market.symbols; Binance names markets like BTCUSDT)".to_owned()
        };
        return Err(RestError::UnknownSymbol { venue: venue.into(), symbol: symbol.to_string(), hint });
    };
    if s.status != "TRADING" {
        return Err(RestError::Other(format!("{venue}: {symbol} is not trading (status {})", s.status)));
    }
    let filter = |t: &str| s.filters.iter().find(|f| f.filter_type == t);
    let tick_size = filter("PRICE_FILTER").and_then(|f| f.tick_size).filter(|t| *t > Decimal::ZERO);
    let lot_size = filter("LOT_SIZE").and_then(|f| f.step_size).filter(|t| *t > Decimal::ZERO);
    let (Some(tick_size), Some(lot_size)) = (tick_size, lot_size) else {
        return Err(RestError::Other(format!("{venue}: {symbol} has no PRICE_FILTER tickSize or LOT_SIZE stepSize")));
    };
    let min_notional = filter("MIN_NOTIONAL")
        .and_then(|f| f.notional.or(f.min_notional))
        .or_else(|| filter("NOTIONAL").and_then(|f| f.min_notional))
        .unwrap_or(Decimal::ZERO);
    let hundred = Decimal::ONE_HUNDRED;
    let inst = match market {
        BinanceMarket::Usdm => {
            if s.contract_type.as_deref().is_some_and(|c| c != "PERPETUAL") {
                return Err(RestError::Other(format!(
                    "{venue}: {symbol} is a {} contract; only perpetuals are supported",
                    s.contract_type.as_deref().unwrap_or("?")
                )));
            }
            let max_leverage = s
                .required_margin_percent
                .filter(|p| *p > Decimal::ZERO)
                .map_or(Decimal::from(20), |p| (hundred / p).floor())
                .clamp(Decimal::ONE, Decimal::from(125));
            let mmr = s
                .maint_margin_percent
                .filter(|p| *p > Decimal::ZERO && *p < hundred)
                .map_or(Decimal::new(5, 3), |p| p / hundred);
            Instrument {
                symbol,
                base: s.base_asset.clone(),
                quote: s.quote_asset.clone(),
                kind: InstrumentKind::Perpetual,
                tick_size: tick_size.normalize(),
                lot_size: lot_size.normalize(),
                min_notional: min_notional.normalize(),
                max_leverage,
                maker_fee: Decimal::new(2, 4),
                taker_fee: Decimal::new(5, 4),
                maintenance_margin_rate: mmr,
                funding_interval_ms: 8 * 3_600_000,
            }
        }
        BinanceMarket::Spot => Instrument {
            symbol,
            base: s.base_asset.clone(),
            quote: s.quote_asset.clone(),
            kind: InstrumentKind::Spot,
            tick_size: tick_size.normalize(),
            lot_size: lot_size.normalize(),
            min_notional: min_notional.normalize(),
            max_leverage: Decimal::ONE,
            maker_fee: Decimal::new(1, 3),
            taker_fee: Decimal::new(1, 3),
            maintenance_margin_rate: Decimal::ZERO,
            funding_interval_ms: 0,
        },
    };
    Ok(inst)
}

/// One row of a klines response: `[openTime, open, high, low, close, volume, closeTime, …]`
/// (prices as strings; later columns ignored, so added columns do not break us).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KlineRow {
    pub open_ms: i64,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
    pub close_ms: i64,
}

impl<'de> Deserialize<'de> for KlineRow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = KlineRow;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a kline row [openTime, open, high, low, close, volume, closeTime, ...]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KlineRow, A::Error> {
                use serde::de::Error;
                let open_ms: i64 = seq.next_element()?.ok_or_else(|| A::Error::custom("missing open time"))?;
                let open: Decimal = seq.next_element()?.ok_or_else(|| A::Error::custom("missing open"))?;
                let high: Decimal = seq.next_element()?.ok_or_else(|| A::Error::custom("missing high"))?;
                let low: Decimal = seq.next_element()?.ok_or_else(|| A::Error::custom("missing low"))?;
                let close: Decimal = seq.next_element()?.ok_or_else(|| A::Error::custom("missing close"))?;
                let volume: Decimal = seq.next_element()?.ok_or_else(|| A::Error::custom("missing volume"))?;
                let close_ms: i64 = seq.next_element()?.ok_or_else(|| A::Error::custom("missing close time"))?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(KlineRow { open_ms, open, high, low, close, volume, close_ms })
            }
        }
        d.deserialize_seq(RowVisitor)
    }
}

/// Checked 1m bars from kline rows; a bad row is an error naming it.
pub fn bars_from_rows(rows: &[KlineRow]) -> Result<Vec<Bar>, RestError> {
    rows.iter()
        .map(|r| {
            super::decode::checked_bar(r.open_ms, r.open, r.high, r.low, r.close, r.volume)
                .map_err(|e| RestError::Other(format!("binance kline row: {e}")))
        })
        .collect()
}

/// `GET /fapi/v1/premiumIndex?symbol=` response.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PremiumIndex {
    pub symbol: String,
    pub mark_price: Decimal,
    #[serde(default)]
    pub last_funding_rate: Option<Decimal>,
    #[serde(default)]
    pub next_funding_time: Option<i64>,
    pub time: i64,
}

/// `GET /fapi/v1/openInterest?symbol=` response.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenInterest {
    pub open_interest: Decimal,
    pub symbol: String,
    pub time: i64,
}

/// One element of `GET /futures/data/globalLongShortAccountRatio`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LongShortRatio {
    pub symbol: String,
    pub long_short_ratio: Decimal,
    /// A number in current responses, a string in older documentation.
    #[serde(deserialize_with = "int_or_string")]
    pub timestamp: i64,
}

fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrString {
        Int(i64),
        Str(String),
    }
    match IntOrString::deserialize(d)? {
        IntOrString::Int(i) => Ok(i),
        IntOrString::Str(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

/// Context events from the three futures context responses.
pub fn mark_event(symbol: Symbol, p: &PremiumIndex) -> Option<MarketEvent> {
    (p.mark_price > Decimal::ZERO).then(|| MarketEvent {
        ts_ms: p.time,
        symbol,
        data: MarketData::Mark {
            mark: p.mark_price,
            funding_rate: p.last_funding_rate,
            next_funding_ms: p.next_funding_time.filter(|t| *t > 0),
        },
    })
}

pub fn open_interest_event(symbol: Symbol, oi: &OpenInterest) -> Option<MarketEvent> {
    (oi.open_interest >= Decimal::ZERO).then_some(MarketEvent {
        ts_ms: oi.time,
        symbol,
        data: MarketData::OpenInterest { qty: oi.open_interest },
    })
}

pub fn long_short_event(symbol: Symbol, r: &LongShortRatio) -> Option<MarketEvent> {
    (r.long_short_ratio > Decimal::ZERO).then_some(MarketEvent {
        ts_ms: r.timestamp,
        symbol,
        data: MarketData::LongShortRatio { ratio: r.long_short_ratio },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn btc() -> Symbol {
        Symbol::new("BTCUSDT").unwrap()
    }

    /// Abridged from the documented USDⓈ-M `exchangeInfo` example.
    const FUTURES_INFO: &str = r#"{"timezone":"UTC","serverTime":1565246363776,"rateLimits":[{"interval":"MINUTE","intervalNum":1,"limit":2400,"rateLimitType":"REQUEST_WEIGHT"}],
      "symbols":[{"symbol":"BLZUSDT","pair":"BLZUSDT","contractType":"PERPETUAL","deliveryDate":4133404800000,"onboardDate":1598252400000,
      "status":"TRADING","maintMarginPercent":"2.5000","requiredMarginPercent":"5.0000","baseAsset":"BLZ","quoteAsset":"USDT","marginAsset":"USDT",
      "pricePrecision":5,"quantityPrecision":0,"baseAssetPrecision":8,"quotePrecision":8,"underlyingType":"COIN","underlyingSubType":["STORAGE"],
      "settlePlan":0,"triggerProtect":"0.15","filters":[{"filterType":"PRICE_FILTER","maxPrice":"300","minPrice":"0.0001","tickSize":"0.0001"},
      {"filterType":"LOT_SIZE","maxQty":"10000000","minQty":"1","stepSize":"1"},{"filterType":"MARKET_LOT_SIZE","maxQty":"590119","minQty":"1","stepSize":"1"},
      {"filterType":"MAX_NUM_ORDERS","limit":200},{"filterType":"MAX_NUM_ALGO_ORDERS","limit":10},{"filterType":"MIN_NOTIONAL","notional":"5.0"},
      {"filterType":"PERCENT_PRICE","multiplierUp":"1.1500","multiplierDown":"0.8500","multiplierDecimal":4}],
      "OrderType":["LIMIT","MARKET","STOP"],"timeInForce":["GTC","IOC","FOK","GTX"],"liquidationFee":"0.010000","marketTakeBound":"0.30"}]}"#;

    #[test]
    fn futures_exchange_info_becomes_an_instrument() {
        let info: ExchangeInfo = serde_json::from_str(FUTURES_INFO).unwrap();
        let blz = Symbol::new("BLZUSDT").unwrap();
        let i = instrument(&info, blz, BinanceMarket::Usdm).unwrap();
        assert_eq!(i.kind, InstrumentKind::Perpetual);
        assert_eq!((i.base.as_str(), i.quote.as_str()), ("BLZ", "USDT"));
        assert_eq!((i.tick_size, i.lot_size, i.min_notional), (dec!(0.0001), dec!(1), dec!(5)));
        assert_eq!(i.max_leverage, dec!(20));
        assert_eq!(i.maintenance_margin_rate, dec!(0.025));
        assert_eq!((i.maker_fee, i.taker_fee), (dec!(0.0002), dec!(0.0005)));
        let e = instrument(&info, btc(), BinanceMarket::Usdm).unwrap_err().to_string();
        assert!(e.contains("BTCUSDT") && e.contains("binance"), "{e}");
    }

    #[test]
    fn spot_exchange_info_uses_the_notional_filter() {
        let text = r#"{"symbols":[{"symbol":"ETHBTC","status":"TRADING","baseAsset":"ETH","quoteAsset":"BTC",
          "filters":[{"filterType":"PRICE_FILTER","minPrice":"0.00000100","maxPrice":"100000.00000000","tickSize":"0.00000100"},
          {"filterType":"LOT_SIZE","minQty":"0.00100000","maxQty":"100000.00000000","stepSize":"0.00100000"},
          {"filterType":"NOTIONAL","minNotional":"0.00010000","applyMinToMarket":false,"maxNotional":"9000000.00000000","avgPriceMins":5}]}]}"#;
        let info: ExchangeInfo = serde_json::from_str(text).unwrap();
        let i = instrument(&info, Symbol::new("ETHBTC").unwrap(), BinanceMarket::Spot).unwrap();
        assert_eq!(i.kind, InstrumentKind::Spot);
        assert_eq!(
            (i.tick_size, i.lot_size, i.min_notional, i.max_leverage),
            (dec!(0.000001), dec!(0.001), dec!(0.0001), dec!(1))
        );
    }

    #[test]
    fn halted_symbols_are_refused() {
        let text = FUTURES_INFO.replace(r#""status":"TRADING""#, r#""status":"SETTLING""#);
        let info: ExchangeInfo = serde_json::from_str(&text).unwrap();
        let e = instrument(&info, Symbol::new("BLZUSDT").unwrap(), BinanceMarket::Usdm).unwrap_err();
        assert!(e.to_string().contains("SETTLING"), "{e}");
    }

    #[test]
    fn documented_kline_rows_parse_and_real_rows_round_trip() {
        // The documented GET /api/v3/klines example row.
        let text = r#"[[1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",1499644799999,"2434.19055334",308,"1756.87402397","28.46694368","17928899.62484339"]]"#;
        let rows: Vec<KlineRow> = serde_json::from_str(text).unwrap();
        assert_eq!(rows[0].open_ms, 1499040000000);
        assert_eq!(rows[0].close_ms, 1499644799999);
        assert_eq!(
            (rows[0].open, rows[0].high, rows[0].low, rows[0].close),
            (dec!(0.01634790), dec!(0.80000000), dec!(0.01575800), dec!(0.01577100))
        );
        assert!(serde_json::from_str::<Vec<KlineRow>>(r#"[[1,"1","1"]]"#).is_err());
        assert!(serde_json::from_str::<Vec<KlineRow>>(r#"[[1,"x","1","1","1","1",2]]"#).is_err());
    }

    #[test]
    fn documented_context_responses() {
        let p: PremiumIndex = serde_json::from_str(r#"{"symbol":"BTCUSDT","markPrice":"11793.63104562","indexPrice":"11781.80495970","estimatedSettlePrice":"11781.16138815","lastFundingRate":"0.00038246","interestRate":"0.00010000","nextFundingTime":1597392000000,"time":1597370495002}"#).unwrap();
        assert_eq!(
            mark_event(btc(), &p).unwrap().data,
            MarketData::Mark {
                mark: dec!(11793.63104562),
                funding_rate: Some(dec!(0.00038246)),
                next_funding_ms: Some(1597392000000)
            }
        );
        let oi: OpenInterest =
            serde_json::from_str(r#"{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}"#).unwrap();
        assert_eq!(open_interest_event(btc(), &oi).unwrap().data, MarketData::OpenInterest { qty: dec!(10659.509) });
        let r: Vec<LongShortRatio> = serde_json::from_str(r#"[{"symbol":"BTCUSDT","longShortRatio":"0.1960","longAccount":"0.6622","shortAccount":"0.3378","timestamp":"1583139600000"}]"#).unwrap();
        let ev = long_short_event(btc(), &r[0]).unwrap();
        assert_eq!((ev.ts_ms, ev.data), (1583139600000, MarketData::LongShortRatio { ratio: dec!(0.1960) }));
        let r: Vec<LongShortRatio> =
            serde_json::from_str(r#"[{"symbol":"BTCUSDT","longShortRatio":"1.5","timestamp":1583139600000}]"#).unwrap();
        assert_eq!(r[0].timestamp, 1583139600000);
    }
}
