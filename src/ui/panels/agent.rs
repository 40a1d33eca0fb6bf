//! The Agent screen: the agents list, the selected agent's metrics and LLM statistics, its
//! decision history (newest first), the full text of the selected decision (summary,
//! reasoning, proposals with their outcomes, prompt, raw output) in a scrollable pane with
//! `/` search, and its positions, orders and recent trades. `p`, `r`, `D` act on this agent.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use super::{block, pnl_style};
use crate::clock::fmt_time;
use crate::engine::snapshot::AgentSnapshot;
use crate::ui::app::{App, detail_lines};
use crate::ui::render::Density;
use crate::ui::rows;
use crate::ui::theme::Role;
use crate::ui::view::Panel;
use crate::ui::widgets::fmt;

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App, density: Density) {
    let snap = &app.snapshot;
    let Some(agent) = app.selected_agent_for_screen().and_then(|id| snap.agent(id)) else {
        let b = block(app, Panel::Agents, "Agent", None);
        frame.render_widget(super::empty(app, b, "no agents yet"), area);
        return;
    };
    match density {
        Density::Narrow => {
            let [metrics, rest] = Layout::vertical([Constraint::Length(5), Constraint::Fill(1)]).areas(area);
            render_metrics(frame, metrics, app, agent, density);
            match app.view.focused() {
                Panel::Detail => render_detail(frame, rest, app),
                Panel::AgentPositions => super::positions::render(frame, rest, app, Panel::AgentPositions, density),
                Panel::Agents => render_agents(frame, rest, app),
                _ => render_decisions(frame, rest, app, agent),
            }
        }
        _ => {
            let top_h = if density == Density::Wide { 8 } else { 6 };
            let bottom_h = if density == Density::Wide { 9 } else { 6 };
            let [top, mid, bottom] =
                Layout::vertical([Constraint::Length(top_h), Constraint::Fill(1), Constraint::Length(bottom_h)])
                    .areas(area);
            let [agents, metrics] = Layout::horizontal([Constraint::Length(24), Constraint::Fill(1)]).areas(top);
            let [list, detail] =
                Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)]).areas(mid);
            render_agents(frame, agents, app);
            render_metrics(frame, metrics, app, agent, density);
            render_decisions(frame, list, app, agent);
            render_detail(frame, detail, app);
            let [pos, trades] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);
            super::positions::render(frame, pos, app, Panel::AgentPositions, density);
            render_trades(frame, trades, app, agent);
        }
    }
}

fn render_agents(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let snap = &app.snapshot;
    let list = rows::leaderboard(snap);
    let rows_: Vec<Row<'_>> = list
        .iter()
        .map(|(_, a)| {
            let (_, glyph, role) = rows::agent_state(a, app.glyphs);
            Row::new(vec![
                Cell::from(Span::styled(glyph, t.style(role))),
                Cell::from(Span::styled(a.id.to_string(), t.style(rows::agent_role(snap, a)))),
            ])
        })
        .collect();
    let table = Table::new(rows_, [Constraint::Length(2), Constraint::Fill(1)]).block(block(
        app,
        Panel::Agents,
        "Agents",
        None,
    ));
    super::render_list(frame, area, app, Panel::Agents, table, list.len());
}

fn render_metrics(frame: &mut Frame<'_>, area: Rect, app: &App, a: &AgentSnapshot, density: Density) {
    let t = &app.theme;
    let g = app.glyphs;
    let m = &a.metrics;
    let (state, glyph, srole) = rows::agent_state(a, g);
    let dash = g.dash();
    let kv = |k: &str, v: String, role: Role| {
        vec![Span::styled(format!("{k} "), t.style(Role::TextDim)), Span::styled(format!("{v}  "), t.style(role))]
    };
    let mut l1 = vec![Span::styled(format!("{glyph} {state}  "), t.style(srole))];
    if let Some(r) = &a.pause_reason {
        l1.push(Span::styled(format!("({r})  "), t.style(Role::Paused)));
    }
    if a.reduce_only {
        l1.push(Span::styled("reduce-only  ", t.style(Role::Warning)));
    }
    l1.extend(kv("kind", a.kind.clone(), Role::Text));
    l1.extend(kv("decisions", a.decisions.to_string(), Role::Text));
    l1.extend(kv("last", a.last_decision_ms.map_or_else(|| dash.to_owned(), fmt_time), Role::Text));
    let ret = m.total_return_pct;
    let mut l2 = kv("equity", fmt::money(a.equity, 2), Role::Text);
    l2.push(Span::styled(format!("{}{}  ", super::pnl_arrow(app, ret), fmt::pct(ret)), pnl_style(app, ret)));
    l2.extend(kv("cash", fmt::money(a.cash, 2), Role::Text));
    l2.extend(kv(
        "uPnL",
        fmt::signed_money(a.unrealized_pnl, 2),
        if a.unrealized_pnl.is_sign_negative() { Role::Loss } else { Role::Profit },
    ));
    l2.extend(kv("realised", fmt::signed_money(a.realized_pnl, 2), Role::Text));
    l2.extend(kv("fees", fmt::money(a.fees, 2), Role::Text));
    let mut l3 = kv("Sharpe", fmt::opt(m.sharpe, 2, dash), Role::Text);
    l3.extend(kv("Sortino", fmt::opt(m.sortino, 2, dash), Role::Text));
    l3.extend(kv("max DD", format!("{:.2}%", m.max_drawdown_pct), Role::Text));
    let opt_pct = |v: Option<f64>| v.filter(|x| x.is_finite()).map_or_else(|| dash.to_owned(), |x| format!("{x:.0}%"));
    l3.extend(kv("win", opt_pct(m.win_rate_pct), Role::Text));
    l3.extend(kv("PF", fmt::opt(m.profit_factor, 2, dash), Role::Text));
    l3.extend(kv("trades", m.trades.to_string(), Role::Text));
    l3.extend(kv("exposure", opt_pct(m.exposure_pct), Role::Text));
    let s = &a.stats;
    let mut l4 = if s.calls > 0 {
        let mut v = kv("LLM calls", s.calls.to_string(), Role::Text);
        v.extend(kv("failures", s.failures.to_string(), if s.failures > 0 { Role::Warning } else { Role::Text }));
        v.extend(kv(
            "latency avg",
            s.avg_latency_ms().map_or_else(|| dash.to_owned(), |l| format!("{l}ms")),
            Role::Text,
        ));
        v.extend(kv("tokens", format!("{}/{}", s.input_tokens, s.output_tokens), Role::Text));
        v.extend(kv("cost", format!("${:.4}", s.cost_usd), Role::Text));
        v
    } else {
        vec![Span::styled("rule agent: no LLM calls, no cost", t.style(Role::TextDim))]
    };
    if let Some(e) = &s.last_error {
        l4.push(Span::styled(format!("  last error: {}", fmt::one_line(e)), t.style(Role::Error)));
    }
    let refusals: u64 = a.refusals.values().sum();
    let mut l5 = kv("refusals", refusals.to_string(), if refusals > 0 { Role::Warning } else { Role::Text });
    for (code, n) in &a.refusals {
        l5.push(Span::styled(format!("{code} {n}  "), t.style(Role::TextDim)));
    }
    let mut lines = vec![Line::from(l1), Line::from(l2), Line::from(l3)];
    if density == Density::Wide {
        lines.push(Line::from(l4));
        lines.push(Line::from(l5));
        if let Some(u) = &a.unavailable {
            lines.push(Line::from(Span::styled(format!("{} unavailable: {u}", g.cross()), t.style(Role::Error))));
        }
    }
    let b = block(app, Panel::Agents, format!("{} · metrics", a.id), None).border_style(t.style(Role::Border));
    frame.render_widget(Paragraph::new(lines).block(b).wrap(Wrap { trim: true }), area);
}

fn render_decisions(frame: &mut Frame<'_>, area: Rect, app: &App, a: &AgentSnapshot) {
    let t = &app.theme;
    let panel = Panel::Decisions;
    let list = rows::decisions(a, app.view.filter_of(panel));
    let b = block(app, panel, "Decisions", Some(format!("{} kept, newest first", a.history.len())));
    if list.is_empty() {
        let msg = if app.view.filter_of(panel).is_some() { "nothing matches the filter" } else { "no decisions yet" };
        frame.render_widget(super::empty(app, b, msg), area);
        return;
    }
    let table_rows: Vec<Row<'_>> = list
        .iter()
        .map(|d| {
            let (outcome, role) = rows::decision_outcome(d);
            Row::new(vec![
                Cell::from(Span::styled(fmt_time(d.ts_ms), t.style(Role::TextDim))),
                Cell::from(rows::decision_summary(d)),
                Cell::from(Span::styled(outcome, t.style(role))),
            ])
        })
        .collect();
    let table = Table::new(table_rows, [Constraint::Length(8), Constraint::Fill(2), Constraint::Fill(1)])
        .header(Row::new(vec!["Time", "Action", "Outcome"]).style(t.style(Role::TextDim)))
        .block(b);
    super::render_list(frame, area, app, panel, table, list.len());
}

fn render_detail(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let panel = Panel::Detail;
    let Some(d) = app.selected_decision() else {
        frame.render_widget(super::empty(app, block(app, panel, "Decision", None), "select a decision"), area);
        return;
    };
    let needle = app.view.filter_of(panel).map(str::to_lowercase);
    let lines: Vec<Line<'_>> = detail_lines(d)
        .into_iter()
        .map(|l| {
            let role = if l.starts_with("── ") { Role::Title } else { Role::Text };
            let hit = needle.as_ref().is_some_and(|n| l.to_lowercase().contains(n));
            let style = if hit { t.style(Role::SearchMatch) } else { t.style(role) };
            let l = if app.glyphs.ascii { l.replacen("── ", "-- ", 1) } else { l };
            Line::from(Span::styled(l, style))
        })
        .collect();
    let total = lines.len();
    let p = Paragraph::new(lines).wrap(Wrap { trim: false });
    let inner = block(app, panel, "", None).inner(area);
    let scroll = app.view.scroll_max.clamp(panel, &p, inner, app.view.scroll_of(panel));
    let b = block(app, panel, format!("Decision #{}", d.id), Some(format!("line {}/{total} · c copies", scroll + 1)));
    frame.render_widget(p.block(b).scroll((scroll, 0)), area);
}

fn render_trades(frame: &mut Frame<'_>, area: Rect, app: &App, a: &AgentSnapshot) {
    let t = &app.theme;
    let mut lines: Vec<Line<'_>> = Vec::new();
    for o in &a.open_orders {
        lines.push(Line::from(Span::styled(
            format!(
                "order #{} {} {} {} {} @ {}",
                o.request.id,
                o.request.symbol,
                o.request.side.as_str(),
                fmt::qty(o.remaining()),
                o.request.purpose.as_str(),
                o.request.kind.price().map_or_else(|| "market".into(), fmt::price)
            ),
            t.style(Role::TextDim),
        )));
    }
    for tr in a.recent_trades.iter().rev() {
        let pnl = fmt::f(tr.net_pnl);
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", fmt_time(tr.closed_ms)), t.style(Role::TextDim)),
            Span::styled(format!("{} {} ", tr.symbol, tr.side.as_str()), t.style(Role::Text)),
            Span::styled(
                format!("{} → {} ", fmt::price(tr.entry_price), fmt::price(tr.exit_price)),
                t.style(Role::Text),
            ),
            Span::styled(
                format!("{}{}", super::pnl_arrow(app, pnl), fmt::signed_money(tr.net_pnl, 2)),
                pnl_style(app, pnl),
            ),
        ]));
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled("no open orders and no closed trades yet", t.style(Role::TextDim))));
    }
    let b = block(app, Panel::Trades, "Orders & recent trades", None).border_style(t.style(Role::Border));
    frame.render_widget(Paragraph::new(lines).block(b), area);
}
