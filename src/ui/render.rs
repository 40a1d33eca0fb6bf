//! Drawing: a pure function of the [`App`] (view state, snapshot, theme, keymap). No I/O, no
//! locks, no awaiting.
//!
//! Layouts by terminal size:
//!
//! ```text
//! wide (≥ 120×36)                         compact (≥ 80×24)            narrow (≥ 50×20)
//! ┌ header: mode, feed, clock, state, equity, day P&L, tabs ┐   same, fewer items      badges only
//! │ banner (only for kill switch / halted / frozen ...)     │
//! ├ leaderboard ────────────┬ market watch ──┤               leaderboard                leaderboard
//! ├ account-value chart ────┼ risk ──────────┤               chart   │ markets          + the focused
//! ├ positions ──────────────┼ reasoning log ─┤               positions │ reasoning        panel
//! └ key hints / command line / flash ────────┘               risk strip, hints          hints
//! ```
//! Below 50×20 only the size needed, the global state and the keys that still work are shown.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Clear;

use crate::ui::app::App;
use crate::ui::panels;
use crate::ui::view::{Popup, Screen};

/// Smallest usable terminal.
pub const MIN_WIDTH: u16 = 50;
pub const MIN_HEIGHT: u16 = 20;

/// How much room there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Density {
    Wide,
    Compact,
    Narrow,
}

impl Density {
    pub fn of(area: Rect) -> Option<Density> {
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            None
        } else if area.width >= 120 && area.height >= 36 {
            Some(Density::Wide)
        } else if area.width >= 80 && area.height >= 24 {
            Some(Density::Compact)
        } else {
            Some(Density::Narrow)
        }
    }
}

/// Draws one frame.
pub fn render(frame: &mut Frame<'_>, app: &App) {
    let area = frame.area();
    let Some(density) = Density::of(area) else {
        panels::too_small::render(frame, area, app);
        return;
    };
    let banner = panels::header::banner_lines(app);
    let [header, banner_area, body, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner.len() as u16),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    panels::header::render(frame, header, app, density);
    panels::header::render_banner(frame, banner_area, app, banner);
    match app.view.screen {
        Screen::Arena => panels::arena::render(frame, body, app, density),
        Screen::Agent => panels::agent::render(frame, body, app, density),
        Screen::Orders => panels::orders::render(frame, body, app, density),
        Screen::Risk => panels::health::render(frame, body, app, density),
        Screen::Logs => panels::logs::render(frame, body, app, density),
    }
    panels::hints::render(frame, hints, app);
    match &app.view.popup {
        Some(Popup::Help { scroll }) => panels::help::render(frame, area, app, *scroll),
        Some(Popup::Confirm(c)) => panels::confirm::render(frame, area, app, c),
        None => {}
    }
    if app.glyphs.ascii {
        asciify(frame.buffer_mut());
    }
}

/// `--ascii` is a promise: whatever text got in (agent names, LLM output, punctuation), only
/// ASCII reaches the terminal.
fn asciify(buf: &mut ratatui::buffer::Buffer) {
    for cell in &mut buf.content {
        let sym = cell.symbol();
        if sym.is_ascii() && !sym.is_empty() {
            continue;
        }
        let rep = match sym {
            "" => " ",
            "·" | "—" | "–" | "─" => "-",
            "→" => ">",
            "…" => "~",
            "×" => "x",
            "▲" => "^",
            "▼" => "v",
            "“" | "”" => "\"",
            "‘" | "’" => "'",
            _ => "?",
        };
        cell.set_symbol(rep);
    }
}

/// A centred rectangle of at most `w`×`h` inside `area`, cleared.
pub fn popup_area(frame: &mut Frame<'_>, area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    let r = Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h };
    frame.render_widget(Clear, r);
    r
}
