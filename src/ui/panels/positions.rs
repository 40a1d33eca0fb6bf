//! Open positions with their exit plans: side, size, entry, mark, unrealised P&L, leverage,
//! stop, target and liquidation price. Used on the Arena (all agents) and the Agent screen
//! (one agent). `d` flattens the selected position's symbol after confirmation.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

use super::{block, pnl_style};
use crate::domain::Side;
use crate::ui::app::App;
use crate::ui::render::Density;
use crate::ui::rows;
use crate::ui::theme::Role;
use crate::ui::view::Panel;
use crate::ui::widgets::fmt;

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App, panel: Panel, density: Density) {
    let t = &app.theme;
    let g = app.glyphs;
    let snap = &app.snapshot;
    let scope = if panel == Panel::AgentPositions { app.selected_agent_for_screen() } else { None };
    let list = rows::positions(snap, scope, app.view.filter_of(panel));
    let b = block(app, panel, "Positions", Some(format!("{}", list.len())));
    if list.is_empty() {
        let msg = if app.view.filter_of(panel).is_some() {
            "no position matches the filter"
        } else {
            "flat: no open positions"
        };
        frame.render_widget(super::empty(app, b, msg), area);
        return;
    }
    let inner = super::inner_width(area);
    // Column sets by room: full (wide screens), standard, and minimal (half of 80 columns).
    let wide = density == Density::Wide && inner >= 100;
    let minimal = inner < 56;
    let dash = g.dash();
    let opt_price = |p: Option<rust_decimal::Decimal>| p.map_or_else(|| dash.to_owned(), fmt::price);
    let table_rows: Vec<Row<'_>> = list
        .iter()
        .map(|p| {
            let agent = snap.agent(p.agent);
            let arole = agent.map_or(Role::Text, |a| rows::agent_role(snap, a));
            let (side, srole) = match p.side {
                Side::Buy => (format!("{} long", g.up()), Role::Profit),
                Side::Sell => (format!("{} short", g.down()), Role::Loss),
            };
            let upnl = fmt::f(p.unrealized_pnl);
            let plan = p.plan.as_ref();
            let symbol = if minimal { base_of(p.symbol.as_str()).to_owned() } else { p.symbol.to_string() };
            let mut cells = vec![
                Cell::from(Span::styled(p.agent.to_string(), t.style(arole))),
                Cell::from(symbol),
                Cell::from(Span::styled(side, t.style(srole))),
                Cell::from(Line::from(fmt::qty(p.qty)).right_aligned()),
            ];
            if !minimal {
                cells.push(Cell::from(Line::from(fmt::price(p.entry_price)).right_aligned()));
            }
            if wide {
                cells.push(Cell::from(Line::from(opt_price(p.mark)).right_aligned()));
            }
            cells.push(Cell::from(
                Line::from(Span::styled(fmt::signed_money(p.unrealized_pnl, 2), pnl_style(app, upnl))).right_aligned(),
            ));
            if wide {
                cells.push(Cell::from(format!("{}x", p.leverage.normalize())));
            }
            if !minimal {
                cells.push(Cell::from(Line::from(opt_price(plan.and_then(|pl| pl.stop_loss))).right_aligned()));
            }
            if wide {
                cells.push(Cell::from(Line::from(opt_price(plan.and_then(|pl| pl.profit_target))).right_aligned()));
                cells.push(Cell::from(Line::from(opt_price(p.liquidation_price)).right_aligned()));
            }
            Row::new(cells)
        })
        .collect();
    let (header, widths) = if wide {
        (
            vec!["Agent", "Symbol", "Side", "Size", "Entry", "Mark", "uPnL", "Lev", "Stop", "Target", "Liq"],
            vec![
                Constraint::Min(8),
                Constraint::Length(8),
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(4),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(10),
            ],
        )
    } else if minimal {
        (
            vec!["Agent", "Sym", "Side", "Size", "uPnL"],
            vec![
                Constraint::Min(7),
                Constraint::Length(4),
                Constraint::Length(7),
                Constraint::Length(6),
                Constraint::Length(9),
            ],
        )
    } else {
        (
            vec!["Agent", "Symbol", "Side", "Size", "Entry", "uPnL", "Stop"],
            vec![
                Constraint::Min(7),
                Constraint::Length(8),
                Constraint::Length(7),
                Constraint::Length(6),
                Constraint::Length(10),
                Constraint::Length(9),
                Constraint::Length(10),
            ],
        )
    };
    let table = Table::new(table_rows, widths).header(Row::new(header).style(t.style(Role::TextDim))).block(b);
    super::render_list(frame, area, app, panel, table, list.len());
}

/// `BTCUSDT` → `BTC` for narrow columns.
pub fn base_of(symbol: &str) -> &str {
    for quote in ["USDT", "USDC", "USD", "BUSD"] {
        if let Some(b) = symbol.strip_suffix(quote).filter(|b| !b.is_empty()) {
            return b;
        }
    }
    symbol
}
