//! The Logs screen: the application's own tracing log (the same lines as the log files),
//! newest first, filtered by minimum level (`l`) and text (`/`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

use super::block;
use crate::clock::fmt_time;
use crate::logging::LogLevel;
use crate::ui::app::App;
use crate::ui::render::Density;
use crate::ui::rows;
use crate::ui::theme::Role;
use crate::ui::view::Panel;
use crate::ui::widgets::fmt;

pub fn level_role(l: LogLevel) -> Role {
    match l {
        LogLevel::Trace => Role::LogTrace,
        LogLevel::Debug => Role::LogDebug,
        LogLevel::Info => Role::LogInfo,
        LogLevel::Warn => Role::LogWarn,
        LogLevel::Error => Role::LogError,
    }
}

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App, density: Density) {
    let t = &app.theme;
    let panel = Panel::Logs;
    let list = rows::logs(&app.logs, app.view.filter_of(panel));
    let b = block(
        app,
        panel,
        "Logs",
        Some(format!("{} and above · {} lines · l level", app.view.log_level.as_str(), list.len())),
    );
    if list.is_empty() {
        frame.render_widget(
            super::empty(app, b, "no log lines at this level yet (the log files have everything)"),
            area,
        );
        return;
    }
    let wide = density == Density::Wide;
    let table_rows: Vec<Row<'_>> = list
        .iter()
        .map(|l| {
            let mut cells = vec![
                Cell::from(Span::styled(fmt_time(l.ts_ms), t.style(Role::TextDim))),
                Cell::from(Span::styled(l.level.as_str(), t.style(level_role(l.level)))),
            ];
            if wide {
                cells.push(Cell::from(Span::styled(l.target.clone(), t.style(Role::TextDim))));
            }
            cells.push(Cell::from(fmt::one_line(&l.message)));
            Row::new(cells)
        })
        .collect();
    let (widths, header) = if wide {
        (
            vec![Constraint::Length(8), Constraint::Length(5), Constraint::Length(28), Constraint::Fill(1)],
            vec!["Time", "Level", "Target", "Message"],
        )
    } else {
        (vec![Constraint::Length(8), Constraint::Length(5), Constraint::Fill(1)], vec!["Time", "Level", "Message"])
    };
    let table = Table::new(table_rows, widths).header(Row::new(header).style(t.style(Role::TextDim))).block(b);
    super::render_list(frame, area, app, panel, table, list.len());
}
