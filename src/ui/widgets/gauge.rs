//! A one-line text gauge: `name ▕████░░░░▏ 42% value/limit`, coloured by how close the value is
//! to its limit (ok below 60 %, warning up to 100 %, error beyond), with the numbers always
//! written out so the colour is never the only signal.

use ratatui::text::{Line, Span};

use crate::ui::glyphs::Glyphs;
use crate::ui::theme::{Role, Theme};

/// The role for a usage ratio.
pub fn ratio_role(ratio: f64) -> Role {
    if !ratio.is_finite() || ratio >= 1.0 {
        Role::Error
    } else if ratio >= 0.6 {
        Role::Warning
    } else {
        Role::Ok
    }
}

/// The bar part: `bar_width` cells filled in proportion to `ratio` (capped at full).
pub fn bar(ratio: f64, bar_width: usize, glyphs: Glyphs) -> String {
    let r = if ratio.is_finite() { ratio.clamp(0.0, 1.0) } else { 1.0 };
    let filled = (r * bar_width as f64).round() as usize;
    let mut s = String::with_capacity(bar_width * 3);
    for i in 0..bar_width {
        s.push_str(if i < filled { glyphs.bar_full() } else { glyphs.bar_empty() });
    }
    s
}

/// A labelled gauge line.
pub fn gauge_line<'a>(
    label: &str,
    label_width: usize,
    ratio: f64,
    bar_width: usize,
    detail: String,
    theme: &Theme,
    glyphs: Glyphs,
) -> Line<'a> {
    let role = ratio_role(ratio);
    let pct = if ratio.is_finite() { format!("{:>4.0}%", ratio * 100.0) } else { " n/a".into() };
    let word = match role {
        Role::Error => " BREACH",
        Role::Warning => " near limit",
        _ => "",
    };
    Line::from(vec![
        Span::styled(format!("{label:label_width$} "), theme.style(Role::Text)),
        Span::styled(bar(ratio, bar_width, glyphs), theme.style(role)),
        Span::styled(pct, theme.style(role)),
        Span::styled(format!(" {detail}"), theme.style(Role::TextDim)),
        Span::styled(word, theme.style(role)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_roles() {
        assert_eq!(bar(0.5, 4, Glyphs::ASCII), "##..");
        assert_eq!(bar(3.0, 4, Glyphs::ASCII), "####");
        assert_eq!(bar(f64::NAN, 2, Glyphs::ASCII), "##");
        assert_eq!(ratio_role(0.1), Role::Ok);
        assert_eq!(ratio_role(0.7), Role::Warning);
        assert_eq!(ratio_role(1.2), Role::Error);
    }
}
