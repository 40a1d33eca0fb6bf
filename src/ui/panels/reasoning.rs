//! The agents' reasoning log, newest first: time, agent, decision, the first line of its
//! reasoning, and how it ended (approved / refused + reason). Enter opens the decision on the
//! Agent screen with its full reasoning, prompt and raw output.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

use super::block;
use crate::clock::fmt_time;
use crate::engine::snapshot::{LogEntry, LogKind};
use crate::ui::app::App;
use crate::ui::render::Density;
use crate::ui::rows;
use crate::ui::theme::Role;
use crate::ui::view::Panel;
use crate::ui::widgets::fmt;

pub fn outcome_role(outcome: &str) -> Role {
    let o = outcome.to_lowercase();
    if o.starts_with("refused") || o.contains("rejected") || o.starts_with("invalid") || o.starts_with("error") {
        Role::Loss
    } else if o.starts_with("approved") || o.starts_with("sent") || o == "ok" || o.starts_with("filled") {
        Role::Profit
    } else {
        Role::Neutral
    }
}

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App, density: Density) {
    let t = &app.theme;
    let snap = &app.snapshot;
    let panel = Panel::Reasoning;
    let list = rows::reasoning(snap, app.view.filter_of(panel));
    let b = block(app, panel, "Reasoning log", Some("newest first".into()));
    if list.is_empty() {
        let msg = if app.view.filter_of(panel).is_some() {
            "nothing matches the filter (esc clears it)"
        } else {
            "no decisions yet: rule agents decide when their candle closes"
        };
        frame.render_widget(super::empty(app, b, msg), area);
        return;
    }
    let wide = density == Density::Wide;
    let table_rows: Vec<Row<'_>> = list
        .iter()
        .map(|e| {
            let agent = e.agent.and_then(|id| snap.agent(id));
            let arole = agent.map_or(Role::TextDim, |a| rows::agent_role(snap, a));
            let who = e.agent.map_or_else(|| rows::kind_label(e.kind).to_owned(), |a| a.to_string());
            let outcome = e.outcome.clone().unwrap_or_default();
            let kind_role = match e.kind {
                LogKind::Operator => Role::Warning,
                LogKind::Refusal => Role::Loss,
                LogKind::System => Role::TextDim,
                _ => Role::Text,
            };
            let time = if wide { fmt_time(e.ts_ms) } else { fmt_time(e.ts_ms)[..5].to_owned() };
            let mut cells = vec![
                Cell::from(Span::styled(time, t.style(Role::TextDim))),
                Cell::from(Span::styled(who, t.style(arole))),
            ];
            if wide {
                cells.push(Cell::from(Span::styled(fmt::one_line(&e.action), t.style(kind_role))));
                cells.push(Cell::from(Span::styled(fmt::one_line(&e.text), t.style(Role::Text))));
            } else {
                // Small screens: the decision and the start of its reasoning share one cell.
                cells.push(Cell::from(ratatui::text::Line::from(vec![
                    Span::styled(fmt::one_line(&e.action), t.style(kind_role)),
                    Span::styled(format!(" {} {}", app.glyphs.sep(), fmt::one_line(&e.text)), t.style(Role::TextDim)),
                ])));
            }
            cells.push(Cell::from(Span::styled(fmt::one_line(&outcome), t.style(outcome_role(&outcome)))));
            Row::new(cells)
        })
        .collect();
    let (widths, header) = if wide {
        // Agent and outcome columns as wide as their longest entry (within bounds): the
        // reasoning gets the rest, not a fixed share that stays empty for most rows.
        let longest = |f: &dyn Fn(&LogEntry) -> usize, min: usize, max: usize| {
            let n = list.iter().map(|e| f(e)).max().unwrap_or(0).clamp(min, max);
            u16::try_from(n).unwrap_or(u16::MAX)
        };
        let agent_w = longest(
            &|e| e.agent.map_or_else(|| rows::kind_label(e.kind).chars().count(), |a| a.as_str().chars().count()),
            6,
            16,
        );
        let outcome_w = longest(&|e| e.outcome.as_deref().map_or(0, |o| o.chars().count()), 7, 16);
        (
            vec![
                Constraint::Length(8),
                Constraint::Length(agent_w),
                // "closed short BTCUSDT", "take-profit ETHUSDT".
                Constraint::Length(20),
                Constraint::Fill(1),
                Constraint::Length(outcome_w),
            ],
            vec!["Time", "Agent", "Decision", "Reasoning", "Outcome"],
        )
    } else {
        (
            vec![Constraint::Length(5), Constraint::Length(8), Constraint::Fill(1), Constraint::Length(9)],
            vec!["Time", "Agent", "Decision · reasoning", "Outcome"],
        )
    };
    let table = Table::new(table_rows, widths).header(Row::new(header).style(t.style(Role::TextDim))).block(b);
    super::render_list(frame, area, app, panel, table, list.len());
}
