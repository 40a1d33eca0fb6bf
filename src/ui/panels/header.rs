//! The header line (mode, feed, clock, global state, equity and day P&L, screen tabs) and the
//! banner line that appears only for arena-wide states (kill switch, halt, reduce-only, all
//! paused, frozen display, feed down). Items are dropped by priority as the width shrinks; the
//! global state is never dropped.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::pnl_style;
use crate::clock::fmt_ts;
use crate::engine::event::FeedState;
use crate::ui::app::App;
use crate::ui::render::Density;
use crate::ui::rows;
use crate::ui::theme::Role;
use crate::ui::view::Screen;
use crate::ui::widgets::fmt;

fn width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|s| s.content.chars().count()).sum()
}

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App, density: Density) {
    let t = &app.theme;
    let g = app.glyphs;
    let snap = &app.snapshot;
    let sep = || Span::styled(format!(" {} ", g.sep()), t.style(Role::Border));
    let mode = if snap.mode.is_empty() { "PAPER".to_owned() } else { snap.mode.clone() };
    let badge = if mode == "LIVE" { Role::BadgeLive } else { Role::BadgePaper };
    let (state, sg, srole) = rows::global_state(snap, g);
    let (feed, fg, frole) = rows::feed_state(snap, app.wall_ms, g);
    let (total, day, full_day) = rows::day_pnl(snap);
    let base = total - day;
    let day_pct = if base > 0.0 { day / base * 100.0 } else { 0.0 };

    // Mandatory: name, mode, state.
    let mut left = vec![
        Span::styled(" alphatx ", t.style(Role::Title)),
        Span::styled(format!(" {mode} "), t.style(badge)),
        Span::raw(" "),
        Span::styled(format!("{sg} {state}"), t.style(srole)),
    ];
    // Optional items in priority order.
    let equity = vec![
        sep(),
        Span::styled("equity ", t.style(Role::TextDim)),
        Span::styled(fmt::money(snap.total_equity(), 2), t.style(Role::Text)),
        Span::raw(" "),
        Span::styled(
            format!(
                "{}{} {}",
                super::pnl_arrow(app, day),
                fmt::pct(day_pct),
                if full_day { "today" } else { "since start" }
            ),
            pnl_style(app, day),
        ),
    ];
    let feed_spans = vec![
        sep(),
        Span::styled(
            format!("{} ", if snap.source.name.is_empty() { "feed" } else { &snap.source.name }),
            t.style(Role::TextDim),
        ),
        Span::styled(format!("{fg} {feed}"), t.style(frole)),
    ];
    let clock = vec![sep(), Span::styled(format!("{} UTC", fmt_ts(snap.now_ms)), t.style(Role::Text))];
    let rate = if snap.source.state == FeedState::Live && snap.source.stats.messages_per_sec > 0.0 {
        vec![Span::styled(format!(" {:.0} msg/s", snap.source.stats.messages_per_sec), t.style(Role::TextDim))]
    } else {
        Vec::new()
    };
    let mut tabs = vec![Span::raw(" ")];
    for (i, s) in Screen::ALL.iter().enumerate() {
        let role = if *s == app.view.screen { Role::TabActive } else { Role::Tab };
        let label = if density == Density::Narrow { format!("{}", i + 1) } else { format!("{} {}", i + 1, s.title()) };
        tabs.push(Span::styled(format!(" {label} "), t.style(role)));
    }
    let avail = usize::from(area.width);
    for group in [equity, feed_spans, clock, rate] {
        if width(&left) + width(&group) + width(&tabs) <= avail
            || (width(&left) + width(&group) <= avail && group.len() > 1)
        {
            left.extend(group);
        }
    }
    let used = width(&left);
    if used + width(&tabs) <= avail {
        let pad = avail - used - width(&tabs);
        left.push(Span::raw(" ".repeat(pad)));
        left.extend(tabs);
    }
    frame.render_widget(Paragraph::new(Line::from(left)).style(t.style(Role::Header)), area);
}

/// The banner lines to show (kill switch, halted, reduce-only, all paused, frozen, feed down).
pub fn banner_lines(app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    let g = app.glyphs;
    let snap = &app.snapshot;
    let mut out = Vec::new();
    if let Some(since) = app.view.frozen_since_ms {
        let secs = (app.wall_ms - since) / 1000;
        let key = app.keymap.key_label(crate::ui::action::Action::Freeze).unwrap_or_else(|| ":freeze".into());
        out.push(Line::from(Span::styled(
            format!(
                " {} FROZEN {} {} display only, the engine keeps running {} {key} to unfreeze ",
                g.frozen(),
                fmt::clock_mmss(secs),
                g.dash(),
                g.dash()
            ),
            t.style(crate::ui::theme::Role::Frozen),
        )));
    }
    let (state, glyph, role) = rows::global_state(snap, g);
    let show_state = snap.kill_switch_ms.is_some() || state != "ACTIVE";
    if show_state {
        let positions: usize = snap.agents.iter().map(|a| a.positions.len()).sum();
        let orders: usize = snap.agents.iter().map(|a| a.open_orders.len()).sum();
        let tail = if snap.kill_switch_ms.is_some() {
            format!(" {} {positions} positions, {orders} orders open {} :unlatch once flat", g.dash(), g.dash())
        } else if state == "ALL PAUSED" {
            format!(" {} exits still managed {} :resume all", g.dash(), g.dash())
        } else {
            String::new()
        };
        out.push(Line::from(Span::styled(format!(" {glyph} {state}{tail} "), t.style(role))));
    }
    if matches!(snap.source.state, FeedState::Disconnected | FeedState::Stale) {
        let (feed, glyph, role) = rows::feed_state(snap, app.wall_ms, g);
        let last = snap
            .source
            .stats
            .last_message_ms
            .map(|ts| format!(", last data {}", crate::clock::fmt_time(ts)))
            .unwrap_or_default();
        out.push(Line::from(Span::styled(
            format!(
                " {glyph} {} {feed}{last} {} agents get no new decisions on stale data ",
                snap.source.name,
                g.dash()
            ),
            t.style(role),
        )));
    }
    out
}

pub fn render_banner(frame: &mut Frame<'_>, area: Rect, _app: &App, lines: Vec<Line<'static>>) {
    if area.height > 0 {
        frame.render_widget(Paragraph::new(lines), area);
    }
}
