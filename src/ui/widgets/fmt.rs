//! Display formatting of money, prices, percentages and durations (pure and tested).
//!
//! Money is `Decimal` and stays exact until it is rounded for display here; `f64` only comes in
//! for statistics and plots.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// Groups the integer digits of a plain decimal string with commas: `-12345.6` → `-12,345.6`.
fn group(s: &str) -> String {
    let (sign, rest) = s.strip_prefix('-').map_or(("", s), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut out = String::with_capacity(s.len() + int.len() / 3);
    out.push_str(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// Money with `dp` decimals and thousands separators: `20,123.45`.
pub fn money(v: Decimal, dp: u32) -> String {
    let r = v.round_dp(dp);
    group(&format!("{r:.prec$}", prec = dp as usize))
}

/// Money with an explicit sign: `+12.30`, `-4.00`.
pub fn signed_money(v: Decimal, dp: u32) -> String {
    let s = money(v, dp);
    if v.round_dp(dp) > Decimal::ZERO { format!("+{s}") } else { s }
}

/// A price with as many decimals as its size needs (5 significant digits, at least 2 dp
/// below 1000): `97,123.4`, `3,456.78`, `182.35`, `0.12345`.
pub fn price(p: Decimal) -> String {
    let a = p.abs();
    let dp = if a >= Decimal::from(10_000) {
        1
    } else if a >= Decimal::ONE {
        2
    } else if a >= Decimal::new(1, 2) {
        4
    } else {
        6
    };
    money(p, dp)
}

/// A quantity without trailing zeros.
pub fn qty(q: Decimal) -> String {
    group(&q.normalize().to_string())
}

/// Compact money for narrow cells: `12.3k`, `1.20M`, `950`.
pub fn compact(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}B", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A signed percentage: `+1.24%`, `-0.30%`, `0.00%`.
pub fn pct(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let r = (v * 100.0).round() / 100.0;
    if r > 0.0 {
        format!("+{r:.2}%")
    } else if r == 0.0 {
        "0.00%".into()
    } else {
        format!("{r:.2}%")
    }
}

/// An optional figure with `dp` decimals, or `—` when undefined (never a made-up number).
pub fn opt(v: Option<f64>, dp: usize, none: &str) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.dp$}"),
        _ => none.to_owned(),
    }
}

/// A duration in whole seconds: `12s`, `4m05s`, `1h02m`, `3d04h`.
pub fn duration_s(secs: i64) -> String {
    let s = secs.max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600)
    }
}

/// `M:SS` for short timers (`FROZEN 0:42`).
pub fn clock_mmss(secs: i64) -> String {
    let s = secs.max(0);
    format!("{}:{:02}", s / 60, s % 60)
}

/// Decimal to f64 for plots and ratios (0 when it cannot be represented).
pub fn f(v: Decimal) -> f64 {
    v.to_f64().unwrap_or(0.0)
}

/// Cuts `s` to `width` characters, ending in `ellipsis` when cut.
pub fn truncate(s: &str, width: usize, ellipsis: &str) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let keep = width.saturating_sub(ellipsis.chars().count());
    let mut out: String = s.chars().take(keep).collect();
    out.push_str(ellipsis);
    out
}

/// The first line of `s`, with tabs and control characters made harmless for a terminal cell.
pub fn one_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Replaces control characters (escape sequences from untrusted LLM output included) so text
/// can never drive the terminal.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '\t' {
                ' '
            } else if c.is_control() && c != '\n' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn money_and_prices() {
        assert_eq!(money(dec!(20123.456), 2), "20,123.46");
        assert_eq!(money(dec!(-1234567.1), 2), "-1,234,567.10");
        assert_eq!(money(dec!(999), 0), "999");
        assert_eq!(signed_money(dec!(12.3), 2), "+12.30");
        assert_eq!(signed_money(dec!(-0.001), 2), "0.00");
        assert_eq!(price(dec!(97123.44)), "97,123.4");
        assert_eq!(price(dec!(182.351)), "182.35");
        assert_eq!(price(dec!(0.123456)), "0.1235");
        assert_eq!(qty(dec!(0.0500)), "0.05");
    }

    #[test]
    fn percentages_durations_and_text() {
        assert_eq!(pct(1.2449), "+1.24%");
        assert_eq!(pct(-0.3), "-0.30%");
        assert_eq!(pct(-0.001), "0.00%");
        assert_eq!(pct(f64::NAN), "n/a");
        assert_eq!(opt(None, 2, "—"), "—");
        assert_eq!(compact(12_345.0), "12.3k");
        assert_eq!(duration_s(42), "42s");
        assert_eq!(duration_s(245), "4m05s");
        assert_eq!(duration_s(3720), "1h02m");
        assert_eq!(clock_mmss(42), "0:42");
        assert_eq!(truncate("abcdef", 4, "…"), "abc…");
        assert_eq!(sanitize("a\x1b[31mb"), "a\u{fffd}[31mb");
        assert_eq!(one_line("x\ny"), "x");
    }
}
