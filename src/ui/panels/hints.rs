//! The bottom line: key hints generated from the keymap for the current screen, or the
//! command line / filter being typed, with the latest flash message on the right.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::ui::action::Action;
use crate::ui::app::App;
use crate::ui::theme::Role;
use crate::ui::view::{InputKind, Screen};

/// The short label an action gets in the hint bar.
pub fn hint_label(a: Action) -> &'static str {
    match a {
        Action::Quit => "quit",
        Action::Help => "help",
        Action::CommandLine => "cmd",
        Action::Filter => "filter",
        Action::PauseAgent => "pause",
        Action::PauseAll => "pause all",
        Action::ReduceOnly => "reduce-only",
        Action::FlattenSelected => "flatten",
        Action::FlattenAgent => "flatten agent",
        Action::KillSwitch => "KILL",
        Action::Freeze => "freeze",
        Action::Open => "details",
        Action::FocusNext => "panel",
        Action::Copy => "copy",
        Action::Back => "back",
        Action::LogLevel => "level",
        Action::ChartWindow => "window",
        Action::NextTheme => "theme",
        _ => "",
    }
}

/// The actions hinted on each screen, most important first (cut from the end when narrow).
pub fn screen_hints(screen: Screen) -> &'static [Action] {
    match screen {
        Screen::Arena => &[
            Action::Help,
            Action::KillSwitch,
            Action::PauseAll,
            Action::Quit,
            Action::PauseAgent,
            Action::FlattenSelected,
            Action::FlattenAgent,
            Action::Open,
            Action::FocusNext,
            Action::CommandLine,
            Action::Freeze,
            Action::ChartWindow,
        ],
        Screen::Agent => &[
            Action::Help,
            Action::KillSwitch,
            Action::PauseAll,
            Action::Quit,
            Action::PauseAgent,
            Action::FlattenAgent,
            Action::ReduceOnly,
            Action::Copy,
            Action::Filter,
            Action::FocusNext,
            Action::Back,
        ],
        Screen::Orders => &[
            Action::Help,
            Action::KillSwitch,
            Action::PauseAll,
            Action::Quit,
            Action::FlattenSelected,
            Action::Filter,
            Action::FocusNext,
            Action::Back,
        ],
        Screen::Risk => {
            &[Action::Help, Action::KillSwitch, Action::PauseAll, Action::Quit, Action::CommandLine, Action::Back]
        }
        Screen::Logs => &[
            Action::Help,
            Action::KillSwitch,
            Action::PauseAll,
            Action::Quit,
            Action::LogLevel,
            Action::Filter,
            Action::Copy,
            Action::Back,
        ],
    }
}

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    if let Some(input) = &app.view.input {
        let prefix = match input.kind {
            InputKind::Command => ":",
            InputKind::Filter => "/",
        };
        let help = match input.kind {
            InputKind::Command => "  enter run · esc cancel",
            InputKind::Filter => "  enter keep · esc clear",
        };
        let line = Line::from(vec![
            Span::styled(prefix, t.style(Role::KeyHint)),
            Span::styled(input.text.clone(), t.style(Role::Text)),
            Span::styled(if app.glyphs.ascii { "_" } else { "█" }, t.style(Role::KeyHint)),
            Span::styled(help, t.style(Role::TextDim)),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let avail = usize::from(area.width);
    let flash = app.view.flash.as_ref().map(|f| {
        let role = if f.error { Role::Error } else { Role::Ok };
        let text = crate::ui::widgets::fmt::truncate(&f.text, avail.saturating_sub(20).max(10), app.glyphs.ellipsis());
        Span::styled(format!(" {text} "), t.style(role))
    });
    let reserve = flash.as_ref().map_or(0, |s| s.content.chars().count());
    let mut spans = Vec::new();
    let mut used = 0;
    for a in screen_hints(app.view.screen) {
        let Some(key) = app.keymap.key_label(*a) else { continue };
        let label = hint_label(*a);
        let w = key.chars().count() + label.chars().count() + 3;
        if used + w + reserve > avail {
            break;
        }
        let key_role = if a.is_dangerous() { Role::Error } else { Role::KeyHint };
        spans.push(Span::styled(format!(" {key}"), t.style(key_role)));
        spans.push(Span::styled(format!(" {label} "), t.style(Role::TextDim)));
        used += w;
    }
    if let Some(f) = flash {
        spans.push(Span::raw(" ".repeat(avail.saturating_sub(used + reserve))));
        spans.push(f);
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
