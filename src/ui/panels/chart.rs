//! The account-value chart: one line per agent plus the buy-and-hold baseline, over a
//! selectable window (`w`). Bounds come from the data (ratatui's `Chart` would not autoscale).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::clock::{fmt_time, fmt_ts};
use crate::ui::app::App;
use crate::ui::rows;
use crate::ui::theme::Role;
use crate::ui::view::Panel;
use crate::ui::widgets::fmt;
use crate::ui::widgets::plot::{self, Labels, Series};

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let t = &app.theme;
    let snap = &app.snapshot;
    let window = app.view.chart_window;
    let from = window.span_ms().map(|s| snap.now_ms - s);
    // Baselines first so agents are drawn over them; each series ends at the current equity.
    let mut ordered: Vec<&crate::engine::snapshot::AgentSnapshot> =
        snap.agents.iter().filter(|a| a.benchmark).collect();
    ordered.extend(snap.agents.iter().filter(|a| !a.benchmark));
    let data: Vec<Vec<(f64, f64)>> = ordered
        .iter()
        .map(|a| {
            a.equity_curve
                .iter()
                .filter(|(ts, _)| from.is_none_or(|f| *ts >= f))
                .map(|(ts, v)| (*ts as f64, *v))
                .chain([(snap.now_ms as f64, fmt::f(a.equity))])
                .collect()
        })
        .collect();
    let series: Vec<Series<'_>> = ordered
        .iter()
        .zip(&data)
        .map(|(a, d)| Series { points: d, style: t.style(rows::agent_role(snap, a)), faint: a.benchmark })
        .collect();
    let mut legend: Vec<Span<'_>> =
        vec![Span::styled(format!(" Account value · {} ", window.label()), t.style(Role::Title))];
    for a in ordered.iter().rev() {
        legend.push(Span::styled(format!("{} ", a.id), t.style(rows::agent_role(snap, a))));
    }
    let focused = app.view.focused() == Panel::Chart;
    let b = ratatui::widgets::Block::bordered()
        .border_set(app.glyphs.border())
        .border_style(if focused { t.style(Role::BorderFocus) } else { t.style(Role::Border) })
        .title(Line::from(legend));
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let Some((xb, yb)) = plot::bounds(&series) else {
        frame.render_widget(
            Line::from(Span::styled("no equity samples yet (one a minute of market time)", t.style(Role::TextDim))),
            inner,
        );
        return;
    };
    let span = xb[1] - xb[0];
    let tl = |ms: f64| {
        if span > 86_400_000.0 { fmt_ts(ms as i64)[5..16].to_owned() } else { fmt_time(ms as i64)[..5].to_owned() }
    };
    let labels = Labels {
        y: vec![fmt::compact(yb[1]), fmt::compact((yb[0] + yb[1]) / 2.0), fmt::compact(yb[0])],
        x_left: tl(xb[0]),
        x_right: tl(xb[1]),
        style: t.style(Role::ChartAxis),
    };
    plot::draw(frame.buffer_mut(), inner, &series, xb, yb, &labels, app.glyphs);
}
