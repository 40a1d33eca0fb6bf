//! Turns an agent's free-text invalidation condition ("price closes below 59000", "BTC above
//! 61,500 on 4h close") into a numeric level the engine can enforce on every market event.
//!
//! The parser is deliberately conservative: it returns a level only when the sentence names
//! exactly one price level with one direction and nothing else to compare. Anything it cannot
//! read with certainty — indicator thresholds ("RSI below 30"), percentages ("drops 5%"),
//! moving references ("below the 50-period EMA"), compound conditions ("below 59k or RSI
//! above 80") — yields `None`, and the condition stays text that is shown to the model every
//! cycle. A wrong numeric reading would close a position the model meant to keep, so "don't
//! know" is always the answer when in doubt.
//!
//! Invariants: a returned level has a positive finite price below 10¹²; `symbol` is set only
//! when the text names one of the known instruments (by base asset or symbol, any case);
//! `on_close_of` is set when the condition is about a candle close: the named timeframe, or the
//! 5-minute intraday timeframe the LLM prompt shows when the text says "closes" without one.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::domain::{Instrument, Price, Symbol, Timeframe};

/// A price level that voids a position's thesis when crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidationLevel {
    /// The market the level refers to; `None` = the position's own symbol.
    pub symbol: Option<Symbol>,
    /// True when the thesis is void once the price is *below* `price` (false: above).
    pub below: bool,
    pub price: Price,
    /// Evaluate on the close of a candle of this timeframe; `None` = on every price update.
    pub on_close_of: Option<Timeframe>,
}

/// The timeframe a bare "closes below" refers to: the intraday series the prompt shows.
const DEFAULT_CLOSE_TIMEFRAME: Timeframe = Timeframe::M5;

/// Words that mean the number is not a price of the coin itself.
const NON_PRICE_SUBJECTS: &[&str] = &[
    "rsi",
    "macd",
    "ema",
    "sma",
    "ma",
    "atr",
    "volume",
    "vol",
    "funding",
    "oi",
    "interest",
    "ratio",
    "sharpe",
    "drawdown",
    "pnl",
    "equity",
    "account",
    "bollinger",
    "band",
    "bands",
    "stochastic",
    "adx",
    "vwap",
    "period",
    "percent",
    "signal",
    "histogram",
    "dominance",
    "spread",
    "basis",
];

const BELOW_WORDS: &[&str] = &["below", "under", "beneath", "underneath", "<", "<="];
const ABOVE_WORDS: &[&str] = &["above", "over", "exceeds", "exceed", ">", ">="];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Number { value: Decimal, percent: bool },
}

/// Parses `condition` into a numeric level, or `None` when it cannot be read with certainty.
/// `instruments` are the markets the agent may name (by base asset such as `BTC` or by symbol).
pub fn parse_invalidation(condition: &str, instruments: &[Instrument]) -> Option<InvalidationLevel> {
    let tokens = tokenize(condition)?;
    // Exactly one direction.
    let mut direction: Option<(usize, bool)> = None;
    for (i, t) in tokens.iter().enumerate() {
        let below = match t {
            Token::Word(w) if BELOW_WORDS.contains(&w.as_str()) => true,
            Token::Word(w) if ABOVE_WORDS.contains(&w.as_str()) => false,
            Token::Word(w) if w == "less" || w == "lower" || w == "greater" || w == "higher" => {
                // "less than 59000", "greater than 61k"; "lower high" is not a direction.
                if matches!(tokens.get(i + 1), Some(Token::Word(n)) if n == "than") {
                    w == "less" || w == "lower"
                } else {
                    continue;
                }
            }
            _ => continue,
        };
        if direction.is_some() {
            return None;
        }
        direction = Some((i, below));
    }
    let (dir_at, below) = direction?;
    // Exactly one number overall, and it follows the direction.
    let numbers: Vec<(usize, Decimal, bool)> = tokens
        .iter()
        .enumerate()
        .filter_map(|(i, t)| match t {
            Token::Number { value, percent } => Some((i, *value, *percent)),
            Token::Word(_) => None,
        })
        .collect();
    let timeframe_numbers = timeframe_number_positions(&tokens);
    let price_numbers: Vec<&(usize, Decimal, bool)> =
        numbers.iter().filter(|(i, _, _)| !timeframe_numbers.contains(i)).collect();
    let [(num_at, price, percent)] = price_numbers.as_slice() else { return None };
    let (num_at, price, percent) = (*num_at, *price, *percent);
    if percent || num_at < dir_at || price <= Decimal::ZERO || price >= Decimal::from(1_000_000_000_000i64) {
        return None;
    }
    // Nothing but a price may be compared: no indicator names anywhere in the sentence.
    let words = || tokens.iter().filter_map(|t| if let Token::Word(w) = t { Some(w.as_str()) } else { None });
    if words().any(|w| NON_PRICE_SUBJECTS.contains(&w)) {
        return None;
    }
    // One coin at most.
    let mut symbol = None;
    for w in words() {
        if let Some(inst) = instruments.iter().find(|i| names_instrument(w, i)) {
            match symbol {
                None => symbol = Some(inst.symbol),
                Some(s) if s == inst.symbol => {}
                Some(_) => return None,
            }
        }
    }
    let closes = words().any(|w| matches!(w, "close" | "closes" | "closed" | "closing" | "candle" | "bar"));
    let on_close_of = match timeframe_in(&tokens) {
        // A named timeframe ("on the 4h chart", "4h close") is evaluated on that timeframe's closes.
        Some(Some(tf)) => Some(tf),
        // A timeframe the engine does not aggregate (3m, 2h): it cannot be evaluated as meant.
        Some(None) => return None,
        None if closes => Some(DEFAULT_CLOSE_TIMEFRAME),
        None => None,
    };
    Some(InvalidationLevel { symbol, below, price: price.normalize(), on_close_of })
}

fn names_instrument(word: &str, inst: &Instrument) -> bool {
    let w = word.to_ascii_uppercase();
    let w = w.trim_end_matches("-PERP").replace(['/', '-', ':', '_'], "");
    w == inst.base.to_ascii_uppercase() || w == inst.symbol.as_str().to_ascii_uppercase()
}

/// Splits the text into lower-case words and numbers (`61,500`, `61.5k`, `$59000`, `5%`).
/// Returns `None` for text that is absurdly long to be a condition.
fn tokenize(text: &str) -> Option<Vec<Token>> {
    if text.len() > 1000 {
        return None;
    }
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == ',') {
                // A comma is a thousands separator only when three digits follow.
                if chars[i] == ',' && !(i + 4 <= chars.len() && chars[i + 1..i + 4].iter().all(char::is_ascii_digit)) {
                    break;
                }
                i += 1;
            }
            let raw: String = chars[start..i].iter().filter(|c| **c != ',').collect();
            let raw = raw.trim_end_matches('.');
            let mut value = raw.parse::<Decimal>().ok()?;
            // Unit suffixes glued to the number: 61.5k, 1.2m, 4h (a timeframe, kept as a word).
            let suffix: String = chars[i..].iter().take_while(|c| c.is_ascii_alphabetic()).collect();
            let suffix_l = suffix.to_ascii_lowercase();
            let mut percent = false;
            match suffix_l.as_str() {
                "k" => {
                    value = value.checked_mul(Decimal::from(1000))?;
                    i += suffix.len();
                }
                "" => {}
                _ => {
                    // `4h`, `15m`, `1d`: a number with a timeframe unit; keep both parts.
                    tokens.push(Token::Number { value, percent: false });
                    tokens.push(Token::Word(suffix_l));
                    i += suffix.len();
                    continue;
                }
            }
            if chars.get(i) == Some(&'%') {
                percent = true;
                i += 1;
            }
            tokens.push(Token::Number { value, percent });
            continue;
        }
        if c.is_alphanumeric() {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '/' | '_' | ':')) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect::<String>().to_lowercase();
            tokens.push(Token::Word(word));
            continue;
        }
        if c == '<' || c == '>' {
            let mut op = c.to_string();
            if chars.get(i + 1) == Some(&'=') {
                op.push('=');
                i += 1;
            }
            tokens.push(Token::Word(op));
        }
        i += 1;
    }
    Some(tokens)
}

/// Parses a timeframe unit word (`h`, `hour`, `hr`, `m`, `min`, `minute`, `d`, `day`).
fn unit_ms(word: &str) -> Option<i64> {
    let w = word.trim_end_matches('s');
    match w {
        "m" | "min" | "minute" => Some(60_000),
        "h" | "hr" | "hour" => Some(3_600_000),
        "d" | "day" => Some(86_400_000),
        _ => None,
    }
}

fn timeframe_of_ms(ms: i64) -> Option<Timeframe> {
    Timeframe::ALL.into_iter().find(|tf| tf.ms() == ms)
}

/// Positions of numbers that are part of a timeframe (`4h`, `4-hour`, `15 minute`).
fn timeframe_number_positions(tokens: &[Token]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if let Token::Number { value, percent: false } = t
            && value.fract().is_zero()
            && let Some(Token::Word(w)) = tokens.get(i + 1)
            && unit_ms(w).is_some()
        {
            out.push(i);
        }
    }
    out
}

/// The first timeframe named in the text (`4h`, `4-hour`, `15 minute`, `daily`, `hourly`):
/// `Some(Some(tf))` when the engine aggregates it, `Some(None)` when it does not (`3m`), `None`
/// when no timeframe is named.
fn timeframe_in(tokens: &[Token]) -> Option<Option<Timeframe>> {
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::Number { value, percent: false } => {
                if let Some(Token::Word(w)) = tokens.get(i + 1)
                    && let Some(unit) = unit_ms(w)
                {
                    let tf = value.to_i64().filter(|_| value.fract().is_zero()).and_then(|n| n.checked_mul(unit));
                    return Some(tf.and_then(timeframe_of_ms));
                }
            }
            Token::Word(w) => match w.as_str() {
                "daily" => return Some(Some(Timeframe::D1)),
                "hourly" => return Some(Some(Timeframe::H1)),
                _ => {}
            },
            Token::Number { .. } => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn insts() -> Vec<Instrument> {
        vec![
            Instrument::perp(Symbol::new("BTCUSDT").unwrap(), "BTC", dec!(0.1), dec!(0.001), 125),
            Instrument::perp(Symbol::new("ETHUSDT").unwrap(), "ETH", dec!(0.01), dec!(0.001), 100),
        ]
    }

    fn p(s: &str) -> Option<InvalidationLevel> {
        parse_invalidation(s, &insts())
    }

    fn btc() -> Option<Symbol> {
        Some(Symbol::new("BTCUSDT").unwrap())
    }

    #[test]
    fn reads_the_documented_examples() {
        assert_eq!(
            p("price closes below 59000"),
            Some(InvalidationLevel { symbol: None, below: true, price: dec!(59000), on_close_of: Some(Timeframe::M5) })
        );
        assert_eq!(
            p("BTC above 61,500 on 4h close"),
            Some(InvalidationLevel {
                symbol: btc(),
                below: false,
                price: dec!(61500),
                on_close_of: Some(Timeframe::H4)
            })
        );
    }

    #[test]
    fn reads_common_phrasings() {
        let l = p("If BTC breaks below $58,250.5 the long thesis is void").unwrap();
        assert_eq!((l.symbol, l.below, l.price, l.on_close_of), (btc(), true, dec!(58250.5), None));
        let l = p("4-hour candle closes under 3,120 for ETH").unwrap();
        assert_eq!(l.symbol, Some(Symbol::new("ETHUSDT").unwrap()));
        assert_eq!((l.below, l.price, l.on_close_of), (true, dec!(3120), Some(Timeframe::H4)));
        let l = p("daily close above 61.5k").unwrap();
        assert_eq!((l.below, l.price, l.on_close_of), (false, dec!(61500), Some(Timeframe::D1)));
        let l = p("btcusdt trades over 70000").unwrap();
        assert_eq!((l.symbol, l.below, l.price, l.on_close_of), (btc(), false, dec!(70000), None));
        let l = p("price < 59000 on the 15 minute close").unwrap();
        assert_eq!((l.below, l.price, l.on_close_of), (true, dec!(59000), Some(Timeframe::M15)));
        let l = p("price falls to less than 100.25").unwrap();
        assert_eq!((l.below, l.price), (true, dec!(100.25)));
    }

    #[test]
    fn refuses_what_it_cannot_read_with_certainty() {
        for text in [
            "4-hour price closes below the 50-period EMA",
            "RSI(14) below 30",
            "RSI below 30",
            "price drops 5% below entry",
            "below 59000 or above 65000",
            "BTC below 59000 and ETH below 3000",
            "funding rate above 0.01",
            "MACD histogram turns negative",
            "volume above 2x average",
            "",
            "momentum fades",
            "price below 0",
            "price above 59000 59500",
            "BTC below 59000 while ETH holds",
        ] {
            assert_eq!(p(text), None, "{text:?}");
        }
    }

    #[test]
    fn timeframes_that_do_not_exist_are_not_invented() {
        // 3m is not a timeframe the engine aggregates: the close cannot be evaluated.
        assert_eq!(p("3m close below 59000"), None);
        assert_eq!(p("2-hour close below 59000"), None);
    }

    #[test]
    fn garbage_never_panics() {
        for text in
            ["....", ",,,1", "1,2,3", "k%", "999999999999999999999999999999 below", "below 1e400", "<=>", "٣ below ٤"]
        {
            let _ = p(text);
        }
        let long = "below 1 ".repeat(500);
        assert_eq!(p(&long), None);
    }
}
