//! Small inline strings for identifiers that are copied on every event (symbols, agent names).
//!
//! They are `Copy`, hash and compare as plain bytes, and never allocate, so market events and
//! orders can carry them by value on the hot path. Only ASCII letters, digits and `-_.:/` are
//! accepted, which keeps them safe to print in a terminal and to use in file names and SQL.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest accepted identifier, in bytes.
pub const NAME_MAX: usize = 31;

/// Why a string cannot be used as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("an identifier must not be empty")]
    Empty,
    #[error("identifier `{0}` is longer than {NAME_MAX} characters")]
    TooLong(String),
    #[error("identifier `{0}` may only contain ASCII letters, digits and `-_.:/`")]
    BadChar(String),
}

/// An inline ASCII identifier of at most [`NAME_MAX`] bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    len: u8,
    bytes: [u8; NAME_MAX],
}

impl Name {
    /// Checks and copies `s`.
    pub fn new(s: &str) -> Result<Self, NameError> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.len() > NAME_MAX {
            return Err(NameError::TooLong(s.to_owned()));
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/')) {
            return Err(NameError::BadChar(s.to_owned()));
        }
        let mut bytes = [0u8; NAME_MAX];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        // `s.len() <= NAME_MAX < 256` was checked above.
        Ok(Self { len: s.len() as u8, bytes })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored (checked in `new`), so this cannot fail; an empty
        // string is returned rather than panicking should that invariant ever be broken.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Name::new(&s).map_err(serde::de::Error::custom)
    }
}

/// Declares a `Copy` identifier newtype over [`Name`].
macro_rules! name_type {
    ($(#[$meta:meta])* $ty:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $ty(pub $crate::domain::name::Name);

        impl $ty {
            pub fn new(s: &str) -> Result<Self, $crate::domain::name::NameError> {
                $crate::domain::name::Name::new(s).map(Self)
            }
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::domain::name::NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
    };
}
pub(crate) use name_type;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exchange_style_symbols() {
        for s in ["BTCUSDT", "BTC-PERP", "kPEPE", "BTCUSD_PERP", "ETH/USDT:USDT"] {
            assert_eq!(Name::new(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn rejects_bad_identifiers() {
        assert_eq!(Name::new(""), Err(NameError::Empty));
        assert!(matches!(Name::new(&"x".repeat(32)), Err(NameError::TooLong(_))));
        assert!(matches!(Name::new("BTC USDT"), Err(NameError::BadChar(_))));
        assert!(matches!(Name::new("btc\u{1b}[2J"), Err(NameError::BadChar(_))));
    }

    #[test]
    fn serde_round_trip() {
        let n = Name::new("SOLUSDT").unwrap();
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"SOLUSDT\"");
        assert_eq!(serde_json::from_str::<Name>(&json).unwrap(), n);
        assert!(serde_json::from_str::<Name>("\"a b\"").is_err());
    }
}
