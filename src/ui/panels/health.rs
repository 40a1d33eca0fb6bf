//! The Risk & health screen, one scrollable page: arena state, every limit, usage gauges,
//! circuit breakers and their history, feed health (state, latency, reconnects, message
//! rates), per-market staleness, agent call statistics (latency, errors, tokens, cost),
//! refusals by code and the engine's counters. Data the engine does not report yet is named
//! as such rather than invented.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::block;
use crate::clock::{fmt_time, fmt_ts};
use crate::ui::app::App;
use crate::ui::render::Density;
use crate::ui::rows;
use crate::ui::theme::Role;
use crate::ui::view::Panel;
use crate::ui::widgets::fmt;
use crate::ui::widgets::gauge::gauge_line;

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App, _density: Density) {
    let t = &app.theme;
    let g = app.glyphs;
    let snap = &app.snapshot;
    let dash = g.dash();
    let title = |s: &str| Line::from(Span::styled(s.to_owned(), t.style(Role::Title)));
    let dim = |s: String| Line::from(Span::styled(s, t.style(Role::TextDim)));
    let kv = |k: &str, v: String, role: Role| {
        Line::from(vec![Span::styled(format!("  {k:<22}"), t.style(Role::TextDim)), Span::styled(v, t.style(role))])
    };
    let bar_w = (super::inner_width(area) / 4).clamp(6, 30);
    let mut lines: Vec<Line<'_>> = Vec::new();

    let (state, glyph, role) = rows::global_state(snap, g);
    lines.push(title("Arena"));
    lines.push(kv("state", format!("{glyph} {state}"), role));
    lines.push(kv("reduce-only (all)", if snap.global_reduce_only { "on".into() } else { "off".into() }, Role::Text));
    lines.push(kv(
        "kill switch",
        snap.kill_switch_ms.map_or_else(|| "not engaged".into(), |ts| format!("LATCHED since {} UTC", fmt_ts(ts))),
        if snap.kill_switch_ms.is_some() { Role::Killed } else { Role::Ok },
    ));
    lines.push(kv(
        "run",
        format!(
            "{}{}",
            snap.run_id.map_or_else(|| "not stored".into(), |id| format!("#{id}")),
            if snap.resumed { " (resumed)" } else { "" }
        ),
        Role::Text,
    ));
    lines.push(Line::default());

    lines.push(title("Limits"));
    if snap.risk.limits.is_empty() {
        lines.push(dim("  none reported".into()));
    }
    // Columns as wide as their longest entry (arena.max_gross_exposure_x is 26 characters).
    let name_w = snap.risk.limits.iter().map(|l| l.name.chars().count() + 1).max().unwrap_or(0).max(22);
    let value_w = snap.risk.limits.iter().map(|l| l.value.chars().count() + 1).max().unwrap_or(0).max(10);
    for l in &snap.risk.limits {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<name_w$}", l.name), t.style(Role::TextDim)),
            Span::styled(format!("{:<value_w$}", l.value), t.style(Role::Text)),
            Span::styled(l.description.clone(), t.style(Role::TextDim)),
        ]));
    }
    lines.push(Line::default());
    lines.push(title("Usage"));
    for gauge in &snap.risk.gauges {
        lines.push(gauge_line(
            &format!("  arena {}", gauge.name),
            24,
            gauge.ratio(),
            bar_w,
            format!("{:.2}{u} of {:.2}{u}", gauge.value, gauge.limit, u = gauge.unit),
            t,
            g,
        ));
    }
    for a in &snap.agents {
        for gauge in &a.gauges {
            lines.push(gauge_line(
                &fmt::truncate(&format!("  {} {}", a.id, gauge.name), 24, g.ellipsis()),
                24,
                gauge.ratio(),
                bar_w,
                format!("{:.2}{u} of {:.2}{u}", gauge.value, gauge.limit, u = gauge.unit),
                t,
                g,
            ));
        }
    }
    lines.push(Line::default());

    lines.push(title("Circuit breakers"));
    if snap.risk.breakers.is_empty() {
        lines.push(dim("  none reported by the engine in this build".into()));
    }
    let breaker_label = |b: &crate::engine::snapshot::BreakerView| {
        format!("{} ({})", b.name, b.agent.map_or_else(|| "arena".to_owned(), |a| a.to_string()))
    };
    let label_w = snap.risk.breakers.iter().map(|b| breaker_label(b).chars().count() + 1).max().unwrap_or(0).max(22);
    for b in &snap.risk.breakers {
        let (word, role) = if b.tripped {
            (format!("{} TRIPPED", g.halted()), Role::Halted)
        } else {
            (format!("{} ok", g.ok()), Role::Ok)
        };
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<label_w$}", breaker_label(b)), t.style(Role::TextDim)),
            Span::styled(format!("{word:<12}"), t.style(role)),
            Span::styled(
                format!(" {:.2}{u} / {:.2}{u} → {}", b.value, b.threshold, b.action.as_str(), u = b.unit),
                t.style(Role::Text),
            ),
            Span::styled(
                format!("{}  {}", b.since_ms.map(|s| format!(" since {}", fmt_time(s))).unwrap_or_default(), b.detail),
                t.style(Role::TextDim),
            ),
        ]));
    }
    if !snap.risk.history.is_empty() {
        lines.push(dim("  history (newest first)".into()));
        for h in snap.risk.history.iter().rev().take(20) {
            let who = h.agent.map_or_else(|| "arena".to_owned(), |a| a.to_string());
            let (w, role) = if h.tripped { ("tripped", Role::Halted) } else { ("released", Role::Ok) };
            lines.push(Line::from(vec![
                Span::styled(format!("  {} ", fmt_ts(h.ts_ms)), t.style(Role::TextDim)),
                Span::styled(format!("{} ({who}) ", h.name), t.style(Role::Text)),
                Span::styled(format!("{w} "), t.style(role)),
                Span::styled(h.detail.clone(), t.style(Role::TextDim)),
            ]));
        }
    }
    lines.push(Line::default());

    let s = &snap.source;
    let (feed, fglyph, frole) = rows::feed_state(snap, app.wall_ms, g);
    lines.push(title("Market feed"));
    lines.push(kv("source", format!("{}  {fglyph} {feed}", s.name), frole));
    if !s.detail.is_empty() {
        lines.push(kv("detail", s.detail.clone(), Role::Text));
    }
    lines.push(kv("latency", s.stats.latency_ms.map_or_else(|| dash.to_owned(), |l| format!("{l} ms")), Role::Text));
    lines.push(kv(
        "messages",
        format!("{} total, {:.1}/s, {} bad", s.stats.messages, s.stats.messages_per_sec, s.stats.bad_messages),
        Role::Text,
    ));
    lines.push(kv(
        "reconnects",
        s.stats.reconnects.to_string(),
        if s.stats.reconnects > 0 { Role::Warning } else { Role::Text },
    ));
    lines.push(kv(
        "last message",
        s.stats.last_message_ms.map_or_else(
            || dash.to_owned(),
            |ts| format!("{} ({} ago)", fmt_time(ts), fmt::duration_s((app.wall_ms - ts) / 1000)),
        ),
        Role::Text,
    ));
    for m in &snap.markets {
        let stale =
            m.stale_since_ms.map(|ts| format!("{}STALE {}", g.warn(), fmt::duration_s((snap.now_ms - ts) / 1000)));
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<22}", m.symbol.to_string()), t.style(Role::TextDim)),
            Span::styled(
                format!(
                    "last event {}  rejected {}  ",
                    m.last_event_ms.map_or_else(|| dash.to_owned(), fmt_time),
                    m.rejected_events
                ),
                t.style(Role::Text),
            ),
            Span::styled(
                stale.unwrap_or_else(|| format!("{} fresh", g.ok())),
                t.style(if m.stale_since_ms.is_some() { Role::Stale } else { Role::Ok }),
            ),
        ]));
    }
    lines.push(Line::default());

    lines.push(title("Agents"));
    for a in &snap.agents {
        let (st, sg, sr) = rows::agent_state(a, g);
        let st_ = &a.stats;
        let calls = if st_.calls > 0 {
            format!(
                "calls {} · failures {} · latency avg {} last {} ms · tokens {}/{} · cost ${:.4}",
                st_.calls,
                st_.failures,
                st_.avg_latency_ms().map_or_else(|| dash.to_owned(), |l| format!("{l}")),
                st_.last_latency_ms,
                st_.input_tokens,
                st_.output_tokens,
                st_.cost_usd
            )
        } else {
            "no LLM calls (rule agent)".into()
        };
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<22}", a.id.to_string()), t.style(rows::agent_role(snap, a))),
            Span::styled(format!("{sg} {st}  "), t.style(sr)),
            Span::styled(calls, t.style(Role::Text)),
        ]));
        if let Some(e) = &st_.last_error {
            lines.push(Line::from(Span::styled(
                format!("  {:<22}last error: {}", "", fmt::one_line(e)),
                t.style(Role::Error),
            )));
        }
        if !a.refusals.is_empty() {
            let r: Vec<String> = a.refusals.iter().map(|(c, n)| format!("{c} {n}")).collect();
            lines.push(Line::from(Span::styled(
                format!("  {:<22}refusals: {}", "", r.join(", ")),
                t.style(Role::Warning),
            )));
        }
    }
    lines.push(Line::default());

    let c = &snap.counters;
    lines.push(title("Engine"));
    lines.push(kv("market events", format!("{} ({} rejected)", c.market_events, c.rejected_events), Role::Text));
    lines.push(kv("decisions / orders", format!("{} / {}", c.decisions, c.orders), Role::Text));
    lines.push(kv("fills / refusals", format!("{} / {}", c.fills, c.refusals), Role::Text));
    lines.push(kv("venue rejections", c.venue_rejections.to_string(), Role::Text));
    lines.push(kv(
        "liquidations",
        c.liquidations.to_string(),
        if c.liquidations > 0 { Role::Loss } else { Role::Text },
    ));
    lines.push(kv("funding payments", c.funding_payments.to_string(), Role::Text));
    match &snap.store {
        None => lines.push(kv("ledger", "none: this run keeps its state in memory only".into(), Role::TextDim)),
        Some(st) => {
            let (text, role) = if st.failing {
                (
                    format!(
                        "FAILING: {} — entries stopped, retrying",
                        st.last_error.as_deref().unwrap_or("commit failed")
                    ),
                    Role::Halted,
                )
            } else {
                (format!("ok · {} commits · {} records", st.commits, st.records_committed), Role::Text)
            };
            lines.push(kv("ledger", text, role));
            let lag_role = if st.pending_batches > 100 { Role::Warning } else { Role::Text };
            lines.push(kv(
                "store lag",
                format!(
                    "{} batches waiting · last commit {:.1} ms · longest {:.1} ms",
                    st.pending_batches,
                    st.last_commit_us as f64 / 1000.0,
                    st.max_commit_us as f64 / 1000.0
                ),
                lag_role,
            ));
            if st.failures > 0 {
                lines.push(kv("ledger failures", st.failures.to_string(), Role::Warning));
            }
        }
    }

    let b = block(app, Panel::Health, "Risk & health", Some("j/k scroll".into()));
    let p = Paragraph::new(lines).wrap(Wrap { trim: false });
    let scroll = app.view.scroll_max.clamp(Panel::Health, &p, b.inner(area), app.view.scroll_of(Panel::Health));
    frame.render_widget(p.block(b).scroll((scroll, 0)), area);
}
