//! The leaderboard: every agent ranked by return, the buy-and-hold baseline listed after them,
//! with equity, return, Sharpe, drawdown, win rate, trades, fees, state and an equity sparkline.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

use super::{block, pnl_style};
use crate::ui::app::App;
use crate::ui::render::Density;
use crate::ui::rows;
use crate::ui::theme::Role;
use crate::ui::view::Panel;
use crate::ui::widgets::{fmt, sparkline::sparkline};

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App, density: Density) {
    let t = &app.theme;
    let g = app.glyphs;
    let snap = &app.snapshot;
    let list = rows::leaderboard(snap);
    let panel = Panel::Leaderboard;
    let b = block(app, panel, "Leaderboard", Some(format!("{} agents", list.len())));
    if list.is_empty() {
        frame.render_widget(super::empty(app, b, "no agents yet: waiting for the engine's first snapshot"), area);
        return;
    }
    let wide = density == Density::Wide;
    let narrow = density == Density::Narrow;
    let fixed: u16 = if wide {
        5 + 23 + 13 + 10 + 7 + 8 + 6 + 7 + 10 + 13 + 1
    } else if narrow {
        5 + 12 + 9 + 10
    } else {
        5 + 13 + 11 + 9 + 7 + 5 + 11 + 1
    };
    let spark_w = usize::from(area.width.saturating_sub(2).saturating_sub(fixed)).clamp(4, 40);
    let table_rows: Vec<Row<'_>> = list
        .iter()
        .map(|(rank, a)| {
            let (state, glyph, srole) = rows::agent_state(a, g);
            let ret = a.metrics.total_return_pct;
            let name_role = rows::agent_role(snap, a);
            let rank = rank.map_or_else(|| "base".to_owned(), |r| r.to_string());
            let name = a.id.to_string();
            let curve: Vec<f64> = a.equity_curve.iter().map(|(_, v)| *v).chain([fmt::f(a.equity)]).collect();
            let spark = Span::styled(sparkline(&curve, spark_w, g), t.style(name_role));
            let ret_cell = Cell::from(Span::styled(
                format!("{}{}", super::pnl_arrow(app, ret), fmt::pct(ret)),
                pnl_style(app, ret),
            ));
            let state_cell = Cell::from(Span::styled(format!("{glyph} {}", state_word(&state)), t.style(srole)));
            let dd = Cell::from(Span::styled(
                format!("{:.2}%", a.metrics.max_drawdown_pct),
                if a.metrics.max_drawdown_pct > 0.0 { t.style(Role::Loss) } else { t.style(Role::Neutral) },
            ));
            let mut cells = vec![
                Cell::from(Span::styled(rank, t.style(Role::TextDim))),
                Cell::from(Span::styled(name, t.style(name_role))),
            ];
            if narrow {
                cells.extend([ret_cell, state_cell]);
            } else {
                cells.push(Cell::from(Line::from(fmt::money(a.equity, 2)).right_aligned()));
                cells.push(ret_cell);
                if wide {
                    cells.push(Cell::from(fmt::opt(a.metrics.sharpe, 2, g.dash())));
                }
                cells.push(dd);
                if wide {
                    cells.push(Cell::from(fmt::opt(a.metrics.win_rate_pct.map(|w| w.round()), 0, g.dash())));
                }
                cells.push(Cell::from(a.metrics.trades.to_string()));
                if wide {
                    cells.push(Cell::from(fmt::money(a.fees, 2)));
                }
                cells.push(state_cell);
                cells.push(Cell::from(Line::from(spark)));
            }
            Row::new(cells)
        })
        .collect();
    let (header, widths): (Vec<&str>, Vec<Constraint>) = if wide {
        (
            vec![
                "#",
                "Agent",
                "Equity",
                "Return",
                "Sharpe",
                "MaxDD",
                "Win%",
                "Trades",
                "Fees",
                "State",
                "Equity curve",
            ],
            vec![
                Constraint::Length(4),
                Constraint::Length(22),
                Constraint::Length(12),
                Constraint::Length(9),
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Length(5),
                Constraint::Length(6),
                Constraint::Length(9),
                // "✖ UNAVAILABLE" and "◐ REDUCE-ONLY" are 13 wide.
                Constraint::Length(14),
                Constraint::Fill(1),
            ],
        )
    } else if narrow {
        (
            vec!["#", "Agent", "Return", "State"],
            vec![Constraint::Length(4), Constraint::Fill(1), Constraint::Length(9), Constraint::Length(10)],
        )
    } else {
        (
            vec!["#", "Agent", "Equity", "Return", "MaxDD", "Trd", "State", "Curve"],
            vec![
                Constraint::Length(4),
                Constraint::Length(12),
                Constraint::Length(10),
                Constraint::Length(8),
                Constraint::Length(6),
                Constraint::Length(4),
                Constraint::Length(10),
                Constraint::Fill(1),
            ],
        )
    };
    let table = Table::new(table_rows, widths)
        .header(Row::new(header).style(t.style(Role::TextDim)))
        .block(b)
        .column_spacing(1);
    super::render_list(frame, area, app, panel, table, list.len());
}

/// The state word fits the column: `UNAVAILABLE: no key` becomes `UNAVAILABLE`.
fn state_word(s: &str) -> &str {
    s.split(':').next().unwrap_or(s)
}
