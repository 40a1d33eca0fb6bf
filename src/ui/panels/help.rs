//! The help overlay, generated from the keymap (the same rows as `alphatx keys` and the
//! README's key table), grouped by category; dangerous actions are marked.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::ui::action::Category;
use crate::ui::app::App;
use crate::ui::render::popup_area;
use crate::ui::theme::Role;

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App, scroll: u16) {
    let t = &app.theme;
    let rows = app.keymap.rows();
    let kw = rows.iter().map(|r| r.keys_label().chars().count()).max().unwrap_or(4).min(18);
    let mut lines = Vec::new();
    for cat in Category::ALL {
        lines.push(Line::from(Span::styled(cat.title().to_owned(), t.style(Role::Title))));
        for r in rows.iter().filter(|r| r.category == cat) {
            let key_role = if r.dangerous { Role::Error } else { Role::KeyHint };
            let mut spans = vec![
                Span::styled(format!("  {:kw$}  ", r.keys_label()), t.style(key_role)),
                Span::styled(r.description.to_owned(), t.style(Role::Text)),
            ];
            if r.dangerous {
                spans.push(Span::styled(" (asks to confirm)", t.style(Role::Warning)));
            }
            lines.push(Line::from(spans));
        }
        lines.push(Line::default());
    }
    lines.push(Line::from(Span::styled(
        "Keys can be changed in [ui.keys] of the config; `alphatx keys` lists them.",
        t.style(Role::TextDim),
    )));
    let w = (area.width.saturating_sub(4)).min(100);
    let h = area.height.saturating_sub(2);
    let r = popup_area(frame, area, w, h);
    let inner_h = usize::from(h.saturating_sub(2));
    let max_scroll = lines.len().saturating_sub(inner_h) as u16;
    let scroll = scroll.min(max_scroll);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_set(app.glyphs.border())
        .border_style(t.style(Role::BorderFocus))
        .title(Span::styled(" Help: keys (j/k scroll, esc close) ", t.style(Role::Title)))
        .style(t.style(Role::Dialog));
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), r);
}
