//! Market watch: last price, 24 h change, RSI(14, 15m), 1h trend and a 5-minute sparkline per
//! symbol. A stale symbol keeps its last price and says `STALE 12s` next to it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

use super::{block, pnl_style};
use crate::ui::app::App;
use crate::ui::render::Density;
use crate::ui::theme::Role;
use crate::ui::view::Panel;
use crate::ui::widgets::{fmt, sparkline::sparkline};

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App, density: Density) {
    let t = &app.theme;
    let g = app.glyphs;
    let snap = &app.snapshot;
    let panel = Panel::Markets;
    let b = block(app, panel, "Markets", None);
    if snap.markets.is_empty() {
        frame.render_widget(super::empty(app, b, "no market data yet"), area);
        return;
    }
    let compact = density != Density::Wide;
    let fixed: u16 = if compact { 6 + 10 + 8 + 5 } else { 6 + 11 + 9 + 5 + 8 + 14 };
    let spark_w = usize::from(area.width.saturating_sub(2 + fixed + 6)).clamp(0, 48);
    let rows: Vec<Row<'_>> = snap
        .markets
        .iter()
        .map(|m| {
            let stale = m.stale_since_ms.map(|s| (snap.now_ms - s).max(0) / 1000);
            let last = m.last.map_or_else(|| g.dash().to_owned(), fmt::price);
            let last_cell = match stale {
                Some(s) => Cell::from(Line::from(vec![
                    Span::styled(last, t.style(Role::Stale)),
                    Span::styled(format!(" {}STALE {}", g.warn(), fmt::duration_s(s)), t.style(Role::Warning)),
                ])),
                None => Cell::from(Line::from(last).right_aligned()),
            };
            let chg = m.change_pct.unwrap_or(0.0);
            let chg_cell = match m.change_pct {
                Some(c) => Cell::from(Span::styled(
                    format!("{}{}", super::pnl_arrow(app, c), fmt::pct(c)),
                    pnl_style(app, chg),
                )),
                None => Cell::from(Span::styled(g.dash(), t.style(Role::TextDim))),
            };
            let rsi = match m.rsi14 {
                Some(r) => {
                    let role = if r >= 70.0 || r <= 30.0 { Role::Warning } else { Role::Text };
                    Cell::from(Span::styled(format!("{r:.0}"), t.style(role)))
                }
                None => Cell::from(Span::styled("warm", t.style(Role::TextDim))),
            };
            let trend = match m.trend {
                Some("up") => Span::styled(format!("{} up", g.up()), t.style(Role::Profit)),
                Some("down") => Span::styled(format!("{} down", g.down()), t.style(Role::Loss)),
                Some(other) => Span::styled(format!("{} {other}", g.flat()), t.style(Role::Neutral)),
                None => Span::styled("warm", t.style(Role::TextDim)),
            };
            let spark_role = if chg >= 0.0 { Role::Profit } else { Role::Loss };
            let mut cells =
                vec![Cell::from(Span::styled(m.base.clone(), t.style(Role::Title))), last_cell, chg_cell, rsi];
            cells.push(Cell::from(trend));
            if spark_w > 0 {
                cells.push(Cell::from(Span::styled(sparkline(&m.sparkline, spark_w, g), t.style(spark_role))));
            }
            if !compact {
                let fund = m.funding_rate.map_or_else(|| g.dash().to_owned(), |f| format!("{:.4}%", fmt::f(f) * 100.0));
                cells.push(Cell::from(Span::styled(fund, t.style(Role::TextDim))));
            }
            Row::new(cells)
        })
        .collect();
    let any_stale = snap.markets.iter().any(|m| m.stale_since_ms.is_some());
    let last_w = if any_stale {
        22
    } else if compact {
        10
    } else {
        11
    };
    let mut widths = vec![
        Constraint::Length(5),
        Constraint::Length(last_w),
        Constraint::Length(if compact { 8 } else { 9 }),
        Constraint::Length(4),
        Constraint::Length(6),
    ];
    let mut header = vec!["Sym", "Last", "24h", "RSI", "Trend"];
    if spark_w > 0 {
        widths.push(Constraint::Fill(1));
        header.push("5m");
    }
    if !compact {
        widths.push(Constraint::Length(9));
        header.push("Funding");
    }
    let table = Table::new(rows, widths).header(Row::new(header).style(t.style(Role::TextDim))).block(b);
    super::render_list(frame, area, app, panel, table, snap.markets.len());
}
