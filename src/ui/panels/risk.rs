//! The Arena's risk panel: exposure and leverage gauges against their limits, daily P&L and
//! drawdown against their breakers (or a plain "no breaker configured"), tripped breakers, and
//! the latest refusals with their reason codes. `render_strip` is the one-line form used when
//! the terminal is small.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::block;
use crate::engine::snapshot::{LogKind, Snapshot};
use crate::ui::app::App;
use crate::ui::rows;
use crate::ui::theme::Role;
use crate::ui::view::Panel;
use crate::ui::widgets::fmt;
use crate::ui::widgets::gauge::{gauge_line, ratio_role};

/// Worst drawdown among trading agents, in percent.
fn worst_drawdown(snap: &Snapshot) -> f64 {
    snap.agents.iter().filter(|a| !a.benchmark).map(|a| a.metrics.max_drawdown_pct).fold(0.0, f64::max)
}

/// Width of the label column ("arena gross exposure").
const LABEL_W: usize = 20;

fn breaker_named<'a>(snap: &'a Snapshot, needle: &str) -> Option<&'a crate::engine::snapshot::BreakerView> {
    snap.risk.breakers.iter().filter(|b| b.agent.is_none()).find(|b| b.name.to_lowercase().contains(needle))
}

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let g = app.glyphs;
    let snap = &app.snapshot;
    let b = block(app, Panel::Risk, "Risk", None);
    let inner_w = super::inner_width(area);
    let bar_w = inner_w.saturating_sub(LABEL_W + 5 + 16).clamp(4, 24);
    let mut lines: Vec<Line<'_>> = Vec::new();
    for gauge in &snap.risk.gauges {
        let detail = format!("{:.2}{u}/{:.2}{u}", gauge.value, gauge.limit, u = gauge.unit);
        lines.push(gauge_line(&format!("arena {}", gauge.name), LABEL_W, gauge.ratio(), bar_w, detail, t, g));
    }
    for a in snap.agents.iter().filter(|a| !a.benchmark) {
        if let Some(gauge) = a.gauges.iter().find(|x| x.name == "margin used") {
            // The percentage already is the margin in use (its limit is 100 %).
            let detail = String::new();
            lines.push(gauge_line(
                &fmt::truncate(&format!("{} margin", a.id), LABEL_W, g.ellipsis()),
                LABEL_W,
                gauge.ratio(),
                bar_w,
                detail,
                t,
                g,
            ));
        }
    }
    let (total, day, _) = rows::day_pnl(snap);
    let day_pct = if total - day > 0.0 { day / (total - day) * 100.0 } else { 0.0 };
    // Day P&L and drawdown: the arena's gauges above show them against their breakers; without
    // those gauges, the arena breaker's own figures, or the plain number.
    let dd = worst_drawdown(snap);
    let rows = [
        ("daily loss", "daily", "day P&L", Span::styled(fmt::pct(day_pct), super::pnl_style(app, day)), "daily-loss"),
        (
            "drawdown",
            "drawdown",
            "max drawdown",
            Span::styled(format!("{dd:.2}%"), t.style(if dd > 0.0 { Role::Loss } else { Role::Neutral })),
            "drawdown",
        ),
    ];
    for (gauge, needle, label, value, breaker) in rows {
        if snap.risk.gauges.iter().any(|x| x.name == gauge) {
            continue;
        }
        lines.push(match breaker_named(snap, needle) {
            Some(br) => gauge_line(
                gauge,
                LABEL_W,
                ratio(br.value, br.threshold),
                bar_w,
                format!("{:.2}{u}/{:.2}{u}", br.value, br.threshold, u = br.unit),
                t,
                g,
            ),
            None => Line::from(vec![
                Span::styled(format!("{label:LABEL_W$} "), t.style(Role::Text)),
                value,
                Span::styled(format!("  no {breaker} breaker configured"), t.style(Role::TextDim)),
            ]),
        });
    }
    let tripped: Vec<_> = snap.risk.breakers.iter().filter(|b| b.tripped).collect();
    if snap.risk.breakers.is_empty() {
        lines.push(Line::from(Span::styled("breakers: none reported by the engine", t.style(Role::TextDim))));
    } else if tripped.is_empty() {
        lines.push(Line::from(Span::styled(
            format!("{} breakers: {} none tripped", snap.risk.breakers.len(), g.ok()),
            t.style(Role::Ok),
        )));
    } else {
        for br in tripped {
            let who = br.agent.map(|a| format!(" ({a})")).unwrap_or_default();
            lines.push(Line::from(Span::styled(
                format!("{} TRIPPED {}{who}: {} {}", g.halted(), br.name, br.action.as_str(), br.detail),
                t.style(Role::Halted),
            )));
        }
    }
    lines.push(Line::from(Span::styled("latest refusals", t.style(Role::Title))));
    let refusals: Vec<_> = snap.log.iter().rev().filter(|e| e.kind == LogKind::Refusal).take(4).collect();
    if refusals.is_empty() {
        lines.push(Line::from(Span::styled("none", t.style(Role::TextDim))));
    }
    for e in refusals {
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", crate::clock::fmt_time(e.ts_ms)), t.style(Role::TextDim)),
            Span::styled(format!("{} ", e.agent.map(|a| a.to_string()).unwrap_or_default()), t.style(Role::Text)),
            Span::styled(fmt::one_line(e.outcome.as_deref().unwrap_or(&e.text)), t.style(Role::Loss)),
        ]));
    }
    let p = Paragraph::new(lines);
    let scroll = app.view.scroll_max.clamp(Panel::Risk, &p, b.inner(area), app.view.scroll_of(Panel::Risk));
    frame.render_widget(p.block(b).scroll((scroll, 0)), area);
}

fn ratio(v: f64, limit: f64) -> f64 {
    if limit.abs() > 0.0 { (v / limit).abs() } else { 0.0 }
}

/// One line: arena leverage, day P&L, worst drawdown, tripped breakers and refusals.
pub fn render_strip(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let g = app.glyphs;
    let snap = &app.snapshot;
    let mut spans = vec![Span::styled(" risk ", t.style(Role::Title))];
    for gauge in &snap.risk.gauges {
        spans.push(Span::styled(
            format!("{} {:.2}{u}/{:.0}{u} ", gauge.name, gauge.value, gauge.limit, u = gauge.unit),
            t.style(ratio_role(gauge.ratio())),
        ));
    }
    let (total, day, _) = rows::day_pnl(snap);
    let day_pct = if total - day > 0.0 { day / (total - day) * 100.0 } else { 0.0 };
    spans.push(Span::styled("day ", t.style(Role::TextDim)));
    spans.push(Span::styled(format!("{} ", fmt::pct(day_pct)), super::pnl_style(app, day)));
    spans.push(Span::styled(format!("dd {:.2}% ", worst_drawdown(snap)), t.style(Role::TextDim)));
    let tripped = snap.risk.breakers.iter().filter(|b| b.tripped).count();
    if tripped > 0 {
        spans.push(Span::styled(format!("{} {tripped} breaker(s) TRIPPED ", g.halted()), t.style(Role::Halted)));
    }
    spans.push(Span::styled(format!("refusals {}", snap.counters.refusals), t.style(Role::TextDim)));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
