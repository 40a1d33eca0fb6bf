//! The Orders & trades screen: resting orders of every agent (`d` cancels the selected one after
//! confirmation), recent closed round trips with their net P&L, and the fill log.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

use super::{block, pnl_style};
use crate::clock::fmt_time;
use crate::ui::app::App;
use crate::ui::render::Density;
use crate::ui::rows;
use crate::ui::theme::Role;
use crate::ui::view::Panel;
use crate::ui::widgets::fmt;

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App, density: Density) {
    if density == Density::Narrow {
        match app.view.focused() {
            Panel::Trades => render_trades(frame, area, app),
            Panel::Fills => render_fills(frame, area, app),
            _ => render_orders(frame, area, app),
        }
        return;
    }
    let [o, tr, f] =
        Layout::vertical([Constraint::Percentage(34), Constraint::Percentage(33), Constraint::Fill(1)]).areas(area);
    render_orders(frame, o, app);
    render_trades(frame, tr, app);
    render_fills(frame, f, app);
}

fn render_orders(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let panel = Panel::Orders;
    let list = rows::orders(&app.snapshot, None, app.view.filter_of(panel));
    let b = block(app, panel, "Open orders", Some(format!("{} · d cancels", list.len())));
    if list.is_empty() {
        frame.render_widget(super::empty(app, b, "no resting orders"), area);
        return;
    }
    let full = super::inner_width(area) >= 110;
    let table_rows: Vec<Row<'_>> = list
        .iter()
        .map(|o| {
            let r = &o.request;
            let side_role = if r.side == crate::domain::Side::Buy { Role::Profit } else { Role::Loss };
            let mut cells = vec![
                Cell::from(format!("#{}", r.id)),
                Cell::from(Span::styled(r.agent.to_string(), t.style(Role::Text))),
                Cell::from(r.symbol.to_string()),
                Cell::from(Span::styled(r.side.as_str(), t.style(side_role))),
            ];
            if full {
                cells.push(Cell::from(r.kind.name()));
            }
            cells.push(Cell::from(r.purpose.as_str()));
            cells.push(Cell::from(Line::from(fmt::qty(o.remaining())).right_aligned()));
            cells.push(Cell::from(
                Line::from(r.kind.price().map_or_else(|| "market".into(), fmt::price)).right_aligned(),
            ));
            if full {
                cells.push(Cell::from(if r.reduce_only { "reduce" } else { "" }));
                cells.push(Cell::from(o.status.as_str()));
            }
            cells.push(Cell::from(Span::styled(fmt_time(o.created_ms), t.style(Role::TextDim))));
            Row::new(cells)
        })
        .collect();
    let (widths, header) = if full {
        (
            vec![
                Constraint::Length(6),
                Constraint::Min(8),
                Constraint::Length(8),
                Constraint::Length(4),
                Constraint::Length(18),
                Constraint::Length(11),
                Constraint::Length(8),
                Constraint::Length(10),
                Constraint::Length(6),
                Constraint::Length(9),
                Constraint::Length(8),
            ],
            vec!["Id", "Agent", "Symbol", "Side", "Type", "Purpose", "Qty", "Price", "RO", "Status", "Created"],
        )
    } else {
        (
            vec![
                Constraint::Length(5),
                Constraint::Min(7),
                Constraint::Length(8),
                Constraint::Length(4),
                Constraint::Length(11),
                Constraint::Length(6),
                Constraint::Length(10),
                Constraint::Length(8),
            ],
            vec!["Id", "Agent", "Symbol", "Side", "Purpose", "Qty", "Price", "Created"],
        )
    };
    let table = Table::new(table_rows, widths).header(Row::new(header).style(t.style(Role::TextDim))).block(b);
    super::render_list(frame, area, app, panel, table, list.len());
}

fn render_trades(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let panel = Panel::Trades;
    let list = rows::trades(&app.snapshot, None, app.view.filter_of(panel));
    let b = block(app, panel, "Recent trades", Some("closed round trips, net of fees and funding".into()));
    if list.is_empty() {
        frame.render_widget(super::empty(app, b, "no closed trades yet"), area);
        return;
    }
    let table_rows: Vec<Row<'_>> = list
        .iter()
        .map(|(a, tr)| {
            let pnl = fmt::f(tr.net_pnl);
            Row::new(vec![
                Cell::from(Span::styled(fmt_time(tr.closed_ms), t.style(Role::TextDim))),
                Cell::from(a.id.to_string()),
                Cell::from(tr.symbol.to_string()),
                Cell::from(tr.side.as_str()),
                Cell::from(Line::from(fmt::qty(tr.max_qty)).right_aligned()),
                Cell::from(Line::from(fmt::price(tr.entry_price)).right_aligned()),
                Cell::from(Line::from(fmt::price(tr.exit_price)).right_aligned()),
                Cell::from(Line::from(fmt::money(tr.fees, 2)).right_aligned()),
                Cell::from(
                    Line::from(Span::styled(
                        format!("{}{}", super::pnl_arrow(app, pnl), fmt::signed_money(tr.net_pnl, 2)),
                        pnl_style(app, pnl),
                    ))
                    .right_aligned(),
                ),
                Cell::from(fmt::duration_s((tr.closed_ms - tr.opened_ms) / 1000)),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(8),
        Constraint::Min(7),
        Constraint::Length(8),
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(6),
        Constraint::Length(10),
        Constraint::Length(6),
    ];
    let table = Table::new(table_rows, widths)
        .header(
            Row::new(vec!["Closed", "Agent", "Symbol", "Side", "Size", "Entry", "Exit", "Fees", "Net P&L", "Held"])
                .style(t.style(Role::TextDim)),
        )
        .block(b);
    super::render_list(frame, area, app, panel, table, list.len());
}

fn render_fills(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let panel = Panel::Fills;
    let list = rows::fills(&app.snapshot, app.view.filter_of(panel));
    let b = block(app, panel, "Fills", Some("newest first".into()));
    if list.is_empty() {
        frame.render_widget(super::empty(app, b, "no fills in the log yet"), area);
        return;
    }
    let table_rows: Vec<Row<'_>> = list
        .iter()
        .map(|e| {
            Row::new(vec![
                Cell::from(Span::styled(fmt_time(e.ts_ms), t.style(Role::TextDim))),
                Cell::from(e.agent.map(|a| a.to_string()).unwrap_or_default()),
                Cell::from(fmt::one_line(&e.action)),
                Cell::from(fmt::one_line(&e.text)),
            ])
        })
        .collect();
    let table =
        Table::new(table_rows, [Constraint::Length(8), Constraint::Min(7), Constraint::Fill(1), Constraint::Fill(2)])
            .header(Row::new(vec!["Time", "Agent", "Fill", "Detail"]).style(t.style(Role::TextDim)))
            .block(b);
    super::render_list(frame, area, app, panel, table, list.len());
}
