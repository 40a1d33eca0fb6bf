//! Glyph sets: Unicode (the default) or plain ASCII (`--ascii`, `ui.glyphs = "ascii"`, or a
//! terminal whose locale is not UTF-8). No icon fonts are ever needed, and no state is shown
//! by a glyph alone: every glyph sits next to a word.

use ratatui::symbols::border;

/// Which characters panels may draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Glyphs {
    pub ascii: bool,
    /// Sparklines and charts in braille (2×4 dots a cell) instead of eighth blocks.
    pub braille: bool,
}

impl Glyphs {
    pub const UNICODE: Glyphs = Glyphs { ascii: false, braille: false };
    pub const ASCII: Glyphs = Glyphs { ascii: true, braille: false };

    fn pick(self, unicode: &'static str, ascii: &'static str) -> &'static str {
        if self.ascii { ascii } else { unicode }
    }

    pub fn up(self) -> &'static str {
        self.pick("▲", "^")
    }
    pub fn down(self) -> &'static str {
        self.pick("▼", "v")
    }
    pub fn flat(self) -> &'static str {
        self.pick("▶", "=")
    }
    pub fn ok(self) -> &'static str {
        self.pick("●", "*")
    }
    pub fn paused(self) -> &'static str {
        self.pick("‖", "||")
    }
    pub fn reducing(self) -> &'static str {
        self.pick("◐", "~")
    }
    pub fn halted(self) -> &'static str {
        self.pick("■", "#")
    }
    pub fn warn(self) -> &'static str {
        self.pick("⚠", "!")
    }
    pub fn cross(self) -> &'static str {
        self.pick("✖", "x")
    }
    pub fn frozen(self) -> &'static str {
        self.pick("◆", "*")
    }
    pub fn selected(self) -> &'static str {
        self.pick("▶ ", "> ")
    }
    pub fn sep(self) -> &'static str {
        self.pick("│", "|")
    }
    pub fn ellipsis(self) -> &'static str {
        self.pick("…", "~")
    }
    pub fn bar_full(self) -> &'static str {
        self.pick("█", "#")
    }
    pub fn bar_empty(self) -> &'static str {
        self.pick("░", ".")
    }
    pub fn dash(self) -> &'static str {
        self.pick("—", "-")
    }

    /// Border characters for blocks.
    pub fn border(self) -> border::Set<'static> {
        if self.ascii {
            border::Set {
                top_left: "+",
                top_right: "+",
                bottom_left: "+",
                bottom_right: "+",
                vertical_left: "|",
                vertical_right: "|",
                horizontal_top: "-",
                horizontal_bottom: "-",
            }
        } else {
            border::ROUNDED
        }
    }
}

/// Reads the locale variables: UTF-8 unless one of them names another charset.
pub fn locale_is_utf8(lc_all: Option<&str>, lc_ctype: Option<&str>, lang: Option<&str>) -> bool {
    // The first non-empty variable decides, as in POSIX.
    match [lc_all, lc_ctype, lang].into_iter().flatten().find(|v| !v.is_empty()) {
        Some(v) => {
            let v = v.to_ascii_lowercase();
            v.contains("utf-8") || v.contains("utf8")
        }
        // No locale at all: modern terminals are UTF-8; ASCII stays one flag away.
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_glyphs_are_ascii() {
        let g = Glyphs::ASCII;
        for s in
            [g.up(), g.down(), g.ok(), g.paused(), g.halted(), g.warn(), g.cross(), g.sep(), g.bar_full(), g.dash()]
        {
            assert!(s.is_ascii(), "{s}");
        }
        let b = g.border();
        assert!([b.top_left, b.horizontal_top, b.vertical_left].iter().all(|s| s.is_ascii()));
    }

    #[test]
    fn locale() {
        assert!(locale_is_utf8(None, None, Some("en_US.UTF-8")));
        assert!(!locale_is_utf8(Some("C"), None, Some("en_US.UTF-8")));
        assert!(locale_is_utf8(Some(""), Some("C.utf8"), None));
        assert!(!locale_is_utf8(None, None, Some("POSIX")));
        assert!(locale_is_utf8(None, None, None));
    }
}
