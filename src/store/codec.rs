//! How domain values are written to and read from ledger columns.
//!
//! - Decimals are TEXT in plain decimal notation as `Decimal`'s `Display` writes it (scale kept:
//!   `"0.0100"` stays `"0.0100"`), so a value read back is bit-for-bit the value written and
//!   anything rebuilt from stored rows is identical to what the engine computed.
//! - Times are epoch milliseconds UTC as INTEGER.
//! - `u64` ids (orders, trades, decisions) are stored as the `i64` with the same bits: every id
//!   a venue or the engine produces is far below 2^63, where both read the same, and the
//!   mapping is lossless for the rest. Counters (tokens, latency) saturate at `i64::MAX`.
//! - Enums are their `snake_case` names, the same strings as their serde form.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use rust_decimal::Decimal;

use super::StoreError;
use crate::domain::{AgentId, Liquidity, OrderKind, OrderPurpose, OrderStatus, Side, Symbol};

pub(crate) fn dec(d: Decimal) -> String {
    d.to_string()
}

pub(crate) fn id(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

pub(crate) fn id_back(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

pub(crate) fn count(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn count_back(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn liquidity_str(l: Liquidity) -> &'static str {
    match l {
        Liquidity::Maker => "maker",
        Liquidity::Taker => "taker",
    }
}

/// Decodes stored values, naming the file, table and column of anything that does not parse.
pub(crate) struct Decoder {
    pub path: PathBuf,
    pub table: &'static str,
}

impl Decoder {
    pub fn new(path: &Path, table: &'static str) -> Self {
        Self { path: path.to_owned(), table }
    }

    fn corrupt(&self, column: &'static str, value: &str, reason: impl ToString) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            table: self.table,
            column,
            value: value.chars().take(80).collect(),
            reason: reason.to_string(),
        }
    }

    pub fn dec(&self, column: &'static str, s: &str) -> Result<Decimal, StoreError> {
        Decimal::from_str_exact(s).map_err(|e| self.corrupt(column, s, e))
    }

    pub fn agent(&self, column: &'static str, s: &str) -> Result<AgentId, StoreError> {
        AgentId::new(s).map_err(|e| self.corrupt(column, s, e))
    }

    pub fn symbol(&self, column: &'static str, s: &str) -> Result<Symbol, StoreError> {
        Symbol::new(s).map_err(|e| self.corrupt(column, s, e))
    }

    pub fn side(&self, column: &'static str, s: &str) -> Result<Side, StoreError> {
        match s {
            "buy" => Ok(Side::Buy),
            "sell" => Ok(Side::Sell),
            _ => Err(self.corrupt(column, s, "expected buy or sell")),
        }
    }

    pub fn status(&self, column: &'static str, s: &str) -> Result<OrderStatus, StoreError> {
        match s {
            "open" => Ok(OrderStatus::Open),
            "partially_filled" => Ok(OrderStatus::PartiallyFilled),
            "filled" => Ok(OrderStatus::Filled),
            "cancelled" => Ok(OrderStatus::Cancelled),
            "rejected" => Ok(OrderStatus::Rejected),
            _ => Err(self.corrupt(column, s, "unknown order status")),
        }
    }

    pub fn purpose(&self, column: &'static str, s: &str) -> Result<OrderPurpose, StoreError> {
        match s {
            "entry" => Ok(OrderPurpose::Entry),
            "exit" => Ok(OrderPurpose::Exit),
            "stop_loss" => Ok(OrderPurpose::StopLoss),
            "take_profit" => Ok(OrderPurpose::TakeProfit),
            "flatten" => Ok(OrderPurpose::Flatten),
            _ => Err(self.corrupt(column, s, "unknown order purpose")),
        }
    }

    pub fn liquidity(&self, column: &'static str, s: &str) -> Result<Liquidity, StoreError> {
        match s {
            "maker" => Ok(Liquidity::Maker),
            "taker" => Ok(Liquidity::Taker),
            _ => Err(self.corrupt(column, s, "expected maker or taker")),
        }
    }

    /// Rebuilds an order kind from its name and its (limit or trigger) price.
    pub fn kind(&self, name: &str, price: Option<&str>) -> Result<OrderKind, StoreError> {
        let price = || -> Result<Decimal, StoreError> {
            let p = price.ok_or_else(|| self.corrupt("price", "NULL", format!("a {name} order needs a price")))?;
            self.dec("price", p)
        };
        match name {
            "market" => Ok(OrderKind::Market),
            "limit" => Ok(OrderKind::Limit { price: price()? }),
            "stop_market" => Ok(OrderKind::StopMarket { trigger: price()? }),
            "take_profit_market" => Ok(OrderKind::TakeProfitMarket { trigger: price()? }),
            _ => Err(self.corrupt("kind", name, "unknown order kind")),
        }
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self, column: &'static str, s: &str) -> Result<T, StoreError> {
        serde_json::from_str(s).map_err(|e| self.corrupt(column, s, e))
    }

    pub fn seed(&self, s: Option<&str>) -> Result<Option<u64>, StoreError> {
        s.map(|s| u64::from_str(s).map_err(|e| self.corrupt("seed", s, e))).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn decimals_round_trip_bit_for_bit() {
        let d = Decoder::new(Path::new("x"), "t");
        for v in [dec!(0.0100), dec!(-3), dec!(123456789.123456789012345678), Decimal::MAX, Decimal::MIN, dec!(0)] {
            let back = d.dec("c", &dec(v)).unwrap();
            assert_eq!(back, v);
            assert_eq!(back.serialize(), v.serialize(), "scale and bits kept for {v}");
        }
        assert!(matches!(d.dec("c", "abc"), Err(StoreError::Corrupt { column: "c", .. })));
    }

    #[test]
    fn ids_round_trip_losslessly() {
        for v in [0, 1, i64::MAX as u64, u64::MAX] {
            assert_eq!(id_back(id(v)), v);
        }
        assert_eq!(id(42), 42);
        assert_eq!(count(u64::MAX), i64::MAX);
    }
}
