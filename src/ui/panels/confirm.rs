//! The confirmation popup for dangerous actions: it says exactly what will be sent, Cancel is
//! the selected button, and only the `confirm` key (`y`) accepts — never the key that opened
//! it, so key repeat or a reflexive Enter cannot fire it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::ui::action::Action;
use crate::ui::app::App;
use crate::ui::render::popup_area;
use crate::ui::theme::Role;
use crate::ui::view::ConfirmState;

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App, c: &ConfirmState) {
    let t = &app.theme;
    let confirm = app.keymap.keys_label(Action::Confirm);
    let cancel = app.keymap.key_label(Action::Cancel).unwrap_or_else(|| "esc".into());
    let mut lines: Vec<Line<'_>> = Vec::new();
    for l in &c.lines {
        lines.push(Line::from(Span::styled(
            format!("{} {l}", if app.glyphs.ascii { "-" } else { "•" }),
            t.style(Role::Text),
        )));
    }
    lines.push(Line::default());
    lines.push(Line::from(vec![
        Span::styled(" [ Cancel ] ", t.style(Role::ButtonFocus)),
        Span::raw("   "),
        Span::styled(format!(" {confirm} = Confirm "), t.style(Role::Button)),
    ]));
    lines.push(Line::from(Span::styled(
        format!("Press {confirm} to confirm; {cancel}, esc or enter cancel."),
        t.style(Role::TextDim),
    )));
    let w = area.width.saturating_sub(2).min(64);
    let inner_w = usize::from(w.saturating_sub(2)).max(1);
    let wrapped: usize = lines.iter().map(|l| l.width().div_ceil(inner_w).max(1)).sum();
    let h = (wrapped as u16 + 2).min(area.height);
    let r = popup_area(frame, area, w, h);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_set(app.glyphs.border())
        .border_style(t.style(Role::DialogDanger))
        .title(Span::styled(format!(" {} {} ", app.glyphs.warn(), c.title), t.style(Role::DialogDanger)))
        .style(t.style(Role::Dialog));
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), r);
}
