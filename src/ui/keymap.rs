//! Keys as data: key syntax, the default bindings, config overrides and the generated help.
//!
//! A binding maps an [`Action`] to a list of keys; `[ui.keys]` in the config replaces an
//! action's list (an empty list unbinds it). Two layers exist: the main layer and the
//! confirmation popup's layer ([`Category::Dialog`]); a key may appear once per layer, and a
//! duplicate is rejected at load with a message naming both actions. The popup's `confirm`
//! key may never be a key that arms a dangerous action, so key repeat cannot confirm.
//!
//! Keys are normalised before lookup: only presses count, a shifted letter is the upper-case
//! letter without the SHIFT flag, and Shift-Tab is `BackTab`.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::Serialize;

use super::action::{ACTIONS, Action, Category};

/// Why a keymap cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeymapError {
    #[error("unknown action `{0}` (run `alphatx keys` for the list of actions)")]
    UnknownAction(String),
    #[error("cannot read key `{key}` for `{action}`: {why}")]
    BadKey { action: String, key: String, why: String },
    #[error("key `{key}` is bound to both `{first}` and `{second}`; unbind one of them (an empty list unbinds)")]
    Duplicate { key: String, first: String, second: String },
    #[error(
        "key `{key}` cannot confirm popups because it also triggers the dangerous action `{action}`; choose another confirm key"
    )]
    ConfirmArms { key: String, action: String },
    #[error("`confirm` has no key: the confirmation popup could never be accepted")]
    NoConfirm,
}

/// One key with its modifiers, normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyBinding {
    code: KeyCodeOrd,
    ctrl: bool,
    alt: bool,
}

/// `KeyCode` is not `Ord`; the subset we bind is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum KeyCodeOrd {
    Char(char),
    F(u8),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Insert,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
}

impl KeyBinding {
    /// Parses `q`, `G`, `?`, `ctrl+c`, `shift+tab`, `f1`, `enter`, `esc`, `pagedown`, `space`...
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty key".into());
        }
        let mut ctrl = false;
        let mut alt = false;
        let mut shift = false;
        let mut rest = s;
        // A lone "+" is the plus key, not a separator.
        while let Some((m, tail)) = rest.split_once('+').filter(|(m, t)| !m.is_empty() && !t.is_empty()) {
            match m.to_ascii_lowercase().as_str() {
                "ctrl" | "control" | "c" => ctrl = true,
                "alt" | "meta" | "m" => alt = true,
                "shift" | "s" => shift = true,
                other => return Err(format!("unknown modifier `{other}` (use ctrl, alt or shift)")),
            }
            rest = tail;
        }
        let lower = rest.to_ascii_lowercase();
        let code = match lower.as_str() {
            "enter" | "return" => KeyCodeOrd::Enter,
            "esc" | "escape" => KeyCodeOrd::Esc,
            "tab" if shift => KeyCodeOrd::BackTab,
            "tab" => KeyCodeOrd::Tab,
            "backtab" => KeyCodeOrd::BackTab,
            "backspace" => KeyCodeOrd::Backspace,
            "delete" | "del" => KeyCodeOrd::Delete,
            "insert" | "ins" => KeyCodeOrd::Insert,
            "up" => KeyCodeOrd::Up,
            "down" => KeyCodeOrd::Down,
            "left" => KeyCodeOrd::Left,
            "right" => KeyCodeOrd::Right,
            "home" => KeyCodeOrd::Home,
            "end" => KeyCodeOrd::End,
            "pageup" | "pgup" => KeyCodeOrd::PageUp,
            "pagedown" | "pgdn" | "pgdown" => KeyCodeOrd::PageDown,
            "space" => KeyCodeOrd::Char(' '),
            "plus" => KeyCodeOrd::Char('+'),
            f if f.len() >= 2 && f.starts_with('f') && f[1..].chars().all(|c| c.is_ascii_digit()) => {
                match f[1..].parse::<u8>() {
                    Ok(n @ 1..=12) => KeyCodeOrd::F(n),
                    _ => return Err(format!("no function key `{rest}` (f1..f12)")),
                }
            }
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if !c.is_control() => {
                        let c = if shift && c.is_ascii_alphabetic() { c.to_ascii_uppercase() } else { c };
                        // Ctrl+letter is case-insensitive in terminals.
                        KeyCodeOrd::Char(if ctrl { c.to_ascii_lowercase() } else { c })
                    }
                    _ => return Err(format!("unknown key name `{rest}`")),
                }
            }
        };
        Ok(Self { code, ctrl, alt })
    }

    /// Normalises a terminal key event; `None` for releases, repeats of kitty-protocol
    /// terminals and keys we never bind.
    pub fn from_event(ev: &KeyEvent) -> Option<Self> {
        if ev.kind != KeyEventKind::Press {
            return None;
        }
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let alt = ev.modifiers.contains(KeyModifiers::ALT);
        let code = match ev.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            KeyCode::Enter => KeyCodeOrd::Enter,
            KeyCode::Esc => KeyCodeOrd::Esc,
            KeyCode::Tab if ev.modifiers.contains(KeyModifiers::SHIFT) => KeyCodeOrd::BackTab,
            KeyCode::Tab => KeyCodeOrd::Tab,
            KeyCode::BackTab => KeyCodeOrd::BackTab,
            KeyCode::Backspace => KeyCodeOrd::Backspace,
            KeyCode::Delete => KeyCodeOrd::Delete,
            KeyCode::Insert => KeyCodeOrd::Insert,
            KeyCode::Up => KeyCodeOrd::Up,
            KeyCode::Down => KeyCodeOrd::Down,
            KeyCode::Left => KeyCodeOrd::Left,
            KeyCode::Right => KeyCodeOrd::Right,
            KeyCode::Home => KeyCodeOrd::Home,
            KeyCode::End => KeyCodeOrd::End,
            KeyCode::PageUp => KeyCodeOrd::PageUp,
            KeyCode::PageDown => KeyCodeOrd::PageDown,
            _ => return None,
        };
        Some(Self { code, ctrl, alt })
    }

    /// The key a test or a PTY would send for this binding.
    pub fn to_event(self) -> KeyEvent {
        let mut mods = KeyModifiers::NONE;
        if self.ctrl {
            mods |= KeyModifiers::CONTROL;
        }
        if self.alt {
            mods |= KeyModifiers::ALT;
        }
        let code = match self.code {
            KeyCodeOrd::Char(c) => KeyCode::Char(c),
            KeyCodeOrd::F(n) => KeyCode::F(n),
            KeyCodeOrd::Enter => KeyCode::Enter,
            KeyCodeOrd::Esc => KeyCode::Esc,
            KeyCodeOrd::Tab => KeyCode::Tab,
            KeyCodeOrd::BackTab => {
                mods |= KeyModifiers::SHIFT;
                KeyCode::BackTab
            }
            KeyCodeOrd::Backspace => KeyCode::Backspace,
            KeyCodeOrd::Delete => KeyCode::Delete,
            KeyCodeOrd::Insert => KeyCode::Insert,
            KeyCodeOrd::Up => KeyCode::Up,
            KeyCodeOrd::Down => KeyCode::Down,
            KeyCodeOrd::Left => KeyCode::Left,
            KeyCodeOrd::Right => KeyCode::Right,
            KeyCodeOrd::Home => KeyCode::Home,
            KeyCodeOrd::End => KeyCode::End,
            KeyCodeOrd::PageUp => KeyCode::PageUp,
            KeyCodeOrd::PageDown => KeyCode::PageDown,
        };
        KeyEvent::new(code, mods)
    }
}

impl fmt::Display for KeyBinding {
    /// The canonical form, also used in help: `q`, `G`, `ctrl+c`, `shift+tab`, `f1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl+")?;
        }
        if self.alt {
            f.write_str("alt+")?;
        }
        match self.code {
            KeyCodeOrd::Char(' ') => f.write_str("space"),
            KeyCodeOrd::Char(c) => write!(f, "{c}"),
            KeyCodeOrd::F(n) => write!(f, "f{n}"),
            KeyCodeOrd::Enter => f.write_str("enter"),
            KeyCodeOrd::Esc => f.write_str("esc"),
            KeyCodeOrd::Tab => f.write_str("tab"),
            KeyCodeOrd::BackTab => f.write_str("shift+tab"),
            KeyCodeOrd::Backspace => f.write_str("backspace"),
            KeyCodeOrd::Delete => f.write_str("delete"),
            KeyCodeOrd::Insert => f.write_str("insert"),
            KeyCodeOrd::Up => f.write_str("up"),
            KeyCodeOrd::Down => f.write_str("down"),
            KeyCodeOrd::Left => f.write_str("left"),
            KeyCodeOrd::Right => f.write_str("right"),
            KeyCodeOrd::Home => f.write_str("home"),
            KeyCodeOrd::End => f.write_str("end"),
            KeyCodeOrd::PageUp => f.write_str("pageup"),
            KeyCodeOrd::PageDown => f.write_str("pagedown"),
        }
    }
}

/// The effective bindings: defaults with the config's overrides applied.
#[derive(Debug, Clone)]
pub struct Keymap {
    /// Action → keys, in [`ACTIONS`] order.
    bindings: Vec<(Action, Vec<KeyBinding>)>,
    main: BTreeMap<KeyBinding, Action>,
    dialog: BTreeMap<KeyBinding, Action>,
}

impl Default for Keymap {
    fn default() -> Self {
        // The defaults are checked by a unit test; an empty override map cannot fail otherwise.
        Self::with_overrides(&BTreeMap::new()).unwrap_or_else(|_| Self {
            bindings: Vec::new(),
            main: BTreeMap::new(),
            dialog: BTreeMap::new(),
        })
    }
}

impl Keymap {
    /// Applies `[ui.keys]` (action name → key strings) over the defaults.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> Result<Self, KeymapError> {
        for name in overrides.keys() {
            if Action::from_name(name).is_none() {
                return Err(KeymapError::UnknownAction(name.clone()));
            }
        }
        let mut bindings = Vec::with_capacity(ACTIONS.len());
        for info in ACTIONS {
            let keys: Vec<String> = match overrides.get(info.name) {
                Some(list) => list.clone(),
                None => info.default_keys.iter().map(|k| (*k).to_owned()).collect(),
            };
            let mut parsed = Vec::with_capacity(keys.len());
            for k in &keys {
                let kb = KeyBinding::parse(k).map_err(|why| KeymapError::BadKey {
                    action: info.name.into(),
                    key: k.clone(),
                    why,
                })?;
                if !parsed.contains(&kb) {
                    parsed.push(kb);
                }
            }
            bindings.push((info.action, parsed));
        }
        let mut main = BTreeMap::new();
        let mut dialog = BTreeMap::new();
        for (action, keys) in &bindings {
            let layer = if action.is_dialog() { &mut dialog } else { &mut main };
            for k in keys {
                if let Some(first) = layer.insert(*k, *action) {
                    return Err(KeymapError::Duplicate {
                        key: k.to_string(),
                        first: first.name().into(),
                        second: action.name().into(),
                    });
                }
            }
        }
        let confirm_keys: Vec<KeyBinding> =
            bindings.iter().filter(|(a, _)| *a == Action::Confirm).flat_map(|(_, k)| k.clone()).collect();
        if confirm_keys.is_empty() {
            return Err(KeymapError::NoConfirm);
        }
        for k in &confirm_keys {
            if let Some(a) = main.get(k).filter(|a| a.is_dangerous()) {
                return Err(KeymapError::ConfirmArms { key: k.to_string(), action: a.name().into() });
            }
        }
        Ok(Self { bindings, main, dialog })
    }

    /// The main-layer action for a key event.
    pub fn lookup(&self, ev: &KeyEvent) -> Option<Action> {
        KeyBinding::from_event(ev).and_then(|k| self.main.get(&k).copied())
    }

    /// The confirmation popup's action for a key event.
    pub fn lookup_dialog(&self, ev: &KeyEvent) -> Option<Action> {
        KeyBinding::from_event(ev).and_then(|k| self.dialog.get(&k).copied())
    }

    /// Keys bound to `action` (empty when unbound).
    pub fn keys(&self, action: Action) -> &[KeyBinding] {
        self.bindings.iter().find(|(a, _)| *a == action).map_or(&[], |(_, k)| k.as_slice())
    }

    /// The first key of `action`, for hints (`None` when unbound).
    pub fn key_label(&self, action: Action) -> Option<String> {
        self.keys(action).first().map(ToString::to_string)
    }

    /// All keys of `action` joined with `/`, or `unbound`.
    pub fn keys_label(&self, action: Action) -> String {
        let keys = self.keys(action);
        if keys.is_empty() {
            "unbound".into()
        } else {
            keys.iter().map(ToString::to_string).collect::<Vec<_>>().join("/")
        }
    }

    /// Rows for the help overlay and docs, in help order.
    pub fn rows(&self) -> Vec<KeyRow> {
        ACTIONS
            .iter()
            .map(|info| KeyRow {
                action: info.name,
                keys: self.keys(info.action).iter().map(ToString::to_string).collect(),
                category: info.category,
                dangerous: info.dangerous,
                description: info.description,
            })
            .collect()
    }

    /// The keymap as pretty JSON (`alphatx keys --json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.rows()).unwrap_or_else(|_| "[]".into())
    }

    /// A plain-text table (`alphatx keys`).
    pub fn to_text(&self) -> String {
        let rows = self.rows();
        let kw = rows.iter().map(|r| r.keys_label().len()).max().unwrap_or(4).max(4);
        let aw = rows.iter().map(|r| r.action.len()).max().unwrap_or(6).max(6);
        let mut out = String::new();
        for cat in Category::ALL {
            out.push_str(cat.title());
            out.push('\n');
            for r in rows.iter().filter(|r| r.category == cat) {
                let danger = if r.dangerous { " (asks to confirm with y)" } else { "" };
                out.push_str(&format!("  {:kw$}  {:aw$}  {}{}\n", r.keys_label(), r.action, r.description, danger));
            }
        }
        out
    }

    /// The Markdown table in the README's `## Keys` section.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("| keys | action | group | what it does |\n|---|---|---|---|\n");
        for cat in Category::ALL {
            for r in self.rows().iter().filter(|r| r.category == cat) {
                let keys = if r.keys.is_empty() {
                    "unbound".to_owned()
                } else {
                    r.keys.iter().map(|k| format!("`{}`", k.replace('|', "\\|"))).collect::<Vec<_>>().join(" ")
                };
                let danger = if r.dangerous { " **Asks to confirm with `y`.**" } else { "" };
                out.push_str(&format!("| {keys} | `{}` | {} | {}{danger} |\n", r.action, cat.title(), r.description));
            }
        }
        out
    }
}

/// One documented binding.
#[derive(Debug, Clone, Serialize)]
pub struct KeyRow {
    pub action: &'static str,
    pub keys: Vec<String>,
    pub category: Category,
    pub dangerous: bool,
    pub description: &'static str,
}

impl KeyRow {
    pub fn keys_label(&self) -> String {
        if self.keys.is_empty() { "unbound".into() } else { self.keys.join(" ") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn defaults_load_and_cover_the_issue_keys() {
        let km = Keymap::with_overrides(&BTreeMap::new()).unwrap();
        let cases = [
            (ev(KeyCode::Char('q'), KeyModifiers::NONE), Action::Quit),
            (ev(KeyCode::Char('c'), KeyModifiers::CONTROL), Action::Quit),
            (ev(KeyCode::F(1), KeyModifiers::NONE), Action::Help),
            (ev(KeyCode::Char('G'), KeyModifiers::SHIFT), Action::Bottom),
            (ev(KeyCode::BackTab, KeyModifiers::SHIFT), Action::FocusPrev),
            (ev(KeyCode::Char('!'), KeyModifiers::SHIFT), Action::KillSwitch),
            (ev(KeyCode::Char('u'), KeyModifiers::CONTROL), Action::HalfPageUp),
            (ev(KeyCode::PageDown, KeyModifiers::NONE), Action::PageDown),
        ];
        for (e, a) in cases {
            assert_eq!(km.lookup(&e), Some(a), "{e:?}");
        }
        for free in [
            ev(KeyCode::Char('b'), KeyModifiers::CONTROL),
            ev(KeyCode::Char('a'), KeyModifiers::CONTROL),
            ev(KeyCode::Char('z'), KeyModifiers::CONTROL),
            ev(KeyCode::Char('x'), KeyModifiers::ALT),
        ] {
            assert_eq!(km.lookup(&free), None, "{free:?} must stay free");
        }
        let mut release = ev(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(km.lookup(&release), None);
    }

    #[test]
    fn parse_and_display_round_trip() {
        for s in ["q", "G", "?", "ctrl+c", "shift+tab", "f1", "enter", "esc", "pagedown", "space", "+", "alt+x"] {
            let k = KeyBinding::parse(s).unwrap();
            assert_eq!(KeyBinding::parse(&k.to_string()).unwrap(), k, "{s}");
            assert_eq!(KeyBinding::from_event(&k.to_event()), Some(k), "{s}");
        }
        assert_eq!(KeyBinding::parse("shift+g").unwrap(), KeyBinding::parse("G").unwrap());
        assert_eq!(KeyBinding::parse("ctrl+C").unwrap(), KeyBinding::parse("ctrl+c").unwrap());
        assert!(KeyBinding::parse("hyper+x").is_err());
        assert!(KeyBinding::parse("f13").is_err());
        assert!(KeyBinding::parse("").is_err());
        assert!(KeyBinding::parse("banana").is_err());
    }
}
