//! Below the minimum size: say what size is needed, keep the global state visible, and list
//! the keys that still work (every key does; the risk-reducing ones are named).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::ui::action::Action;
use crate::ui::app::App;
use crate::ui::render::{MIN_HEIGHT, MIN_WIDTH};
use crate::ui::rows;
use crate::ui::theme::Role;

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let (state, glyph, role) = rows::global_state(&app.snapshot, app.glyphs);
    let key = |a: Action| app.keymap.key_label(a).unwrap_or_else(|| "unbound".into());
    let mut lines = vec![
        Line::from(Span::styled(format!("{glyph} {state}"), t.style(role))),
        Line::from(Span::styled(
            format!("alphatx needs at least {MIN_WIDTH}x{MIN_HEIGHT} (now {}x{})", area.width, area.height),
            t.style(Role::Warning),
        )),
        Line::from(vec![
            Span::styled(format!("{} ", key(Action::KillSwitch)), t.style(Role::Error)),
            Span::styled("kill switch  ", t.style(Role::Text)),
            Span::styled(format!("{} ", key(Action::PauseAll)), t.style(Role::KeyHint)),
            Span::styled("pause all  ", t.style(Role::Text)),
            Span::styled(format!("{} ", key(Action::Quit)), t.style(Role::KeyHint)),
            Span::styled("quit", t.style(Role::Text)),
        ]),
    ];
    if let Some(f) = &app.view.flash {
        lines.push(Line::from(Span::styled(f.text.clone(), t.style(if f.error { Role::Error } else { Role::Ok }))));
    }
    if let Some(crate::ui::view::Popup::Confirm(c)) = &app.view.popup {
        lines.push(Line::from(Span::styled(
            format!(
                "{} {} {} confirm, {} cancel",
                c.title,
                app.glyphs.dash(),
                key(Action::Confirm),
                key(Action::Cancel)
            ),
            t.style(Role::DialogDanger),
        )));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
}
