//! One file per panel or popup. Each draws from `&App` into a given area and never reads key
//! codes: keys reach panels only as actions, through [`crate::ui::app::App`].

pub mod agent;
pub mod arena;
pub mod chart;
pub mod confirm;
pub mod header;
pub mod health;
pub mod help;
pub mod hints;
pub mod leaderboard;
pub mod logs;
pub mod markets;
pub mod orders;
pub mod positions;
pub mod reasoning;
pub mod risk;
pub mod too_small;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Table, TableState};

use crate::ui::app::App;
use crate::ui::theme::Role;
use crate::ui::view::Panel;

/// A panel's frame: title, focus colour, and the filter when one is set.
pub fn block<'a>(app: &App, panel: Panel, title: impl Into<String>, extra: Option<String>) -> Block<'a> {
    let focused = app.view.focused() == panel;
    let t = &app.theme;
    let border = if focused { t.style(Role::BorderFocus) } else { t.style(Role::Border) };
    let mut spans = vec![Span::styled(format!(" {} ", title.into()), t.style(Role::Title))];
    if let Some(f) = app.view.filter_of(panel) {
        spans.push(Span::styled(format!("/{f} "), t.style(Role::SearchMatch)));
    }
    if let Some(e) = extra {
        spans.push(Span::styled(format!("{e} "), t.style(Role::TextDim)));
    }
    Block::default().borders(Borders::ALL).border_set(app.glyphs.border()).border_style(border).title(Line::from(spans))
}

/// The style for a signed amount: profit, loss or neutral.
pub fn pnl_style(app: &App, v: f64) -> Style {
    let role = if v > 0.0 {
        Role::Profit
    } else if v < 0.0 {
        Role::Loss
    } else {
        Role::Neutral
    };
    app.theme.style(role)
}

/// A signed-amount arrow: ▲ for gains, ▼ for losses (ASCII `^`/`v`), so P&L never relies on
/// colour alone.
pub fn pnl_arrow(app: &App, v: f64) -> &'static str {
    if v > 0.0 {
        app.glyphs.up()
    } else if v < 0.0 {
        app.glyphs.down()
    } else {
        " "
    }
}

/// An empty-state message inside a block.
pub fn empty<'a>(app: &App, block: Block<'a>, text: &str) -> Paragraph<'a> {
    Paragraph::new(Line::from(Span::styled(text.to_owned(), app.theme.style(Role::TextDim)))).block(block)
}

/// The selection highlight for a list panel (only while focused, so one cursor shows).
pub fn highlight(app: &App, panel: Panel) -> Style {
    if app.view.focused() == panel { app.theme.style(Role::Selection) } else { Style::default() }
}

/// Draws `table` as the selectable list of `panel` (`len` rows): text style, and the selected
/// row highlighted while the panel has focus.
pub fn render_list(frame: &mut ratatui::Frame<'_>, area: Rect, app: &App, panel: Panel, table: Table<'_>, len: usize) {
    let table = table.row_highlight_style(highlight(app, panel)).style(app.theme.style(Role::Text));
    let mut state = TableState::default().with_selected(Some(app.sel_in(panel, len)));
    frame.render_stateful_widget(table, area, &mut state);
}

/// Inner width of a bordered area.
pub fn inner_width(area: Rect) -> usize {
    usize::from(area.width.saturating_sub(2))
}
