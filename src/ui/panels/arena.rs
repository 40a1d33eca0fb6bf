//! The Arena screen's layout: leaderboard, account-value chart, market watch, positions, risk
//! and the reasoning log, arranged by terminal size (see [`crate::ui::render`]).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use super::{chart, leaderboard, markets, positions, reasoning, risk};
use crate::ui::app::App;
use crate::ui::render::Density;
use crate::ui::view::Panel;

pub fn render(frame: &mut Frame<'_>, area: Rect, app: &App, density: Density) {
    let snap = &app.snapshot;
    let lb_rows = (snap.agents.len().max(1) as u16 + 3).min(10);
    match density {
        Density::Wide => {
            let mk_rows = (snap.markets.len().max(1) as u16 + 3).min(10);
            let [top, mid, bottom] =
                Layout::vertical([Constraint::Length(lb_rows), Constraint::Percentage(45), Constraint::Fill(1)])
                    .areas(area);
            let cols = [Constraint::Percentage(55), Constraint::Percentage(45)];
            let [ml, mr] = Layout::horizontal(cols).areas(mid);
            let [mrt, mrb] = Layout::vertical([Constraint::Length(mk_rows), Constraint::Fill(1)]).areas(mr);
            // The reasoning log gets the wider half: its text is what people read.
            let [bl, br] = Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(bottom);
            leaderboard::render(frame, top, app, density);
            chart::render(frame, ml, app);
            markets::render(frame, mrt, app, density);
            risk::render(frame, mrb, app);
            positions::render(frame, bl, app, Panel::Positions, density);
            reasoning::render(frame, br, app, density);
        }
        Density::Compact => {
            let [top, mid, bottom, strip] = Layout::vertical([
                // Five agents (the default arena, baseline included) fit the leaderboard; the
                // chart and markets keep six rows (three symbols and a header).
                Constraint::Length(lb_rows.min(8)),
                Constraint::Length(6),
                Constraint::Fill(1),
                Constraint::Length(1),
            ])
            .areas(area);
            let [ml, mr] = Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(mid);
            let [bl, br] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(bottom);
            leaderboard::render(frame, top, app, density);
            chart::render(frame, ml, app);
            markets::render(frame, mr, app, density);
            positions::render(frame, bl, app, Panel::Positions, density);
            reasoning::render(frame, br, app, density);
            risk::render_strip(frame, strip, app);
        }
        Density::Narrow => {
            // One panel at a time under the leaderboard; Tab steps through them.
            let focus = app.view.focused();
            let [top, rest, strip] =
                Layout::vertical([Constraint::Length(lb_rows.min(6)), Constraint::Fill(1), Constraint::Length(1)])
                    .areas(area);
            leaderboard::render(frame, top, app, density);
            match focus {
                Panel::Chart => chart::render(frame, rest, app),
                Panel::Markets => markets::render(frame, rest, app, density),
                Panel::Positions => positions::render(frame, rest, app, Panel::Positions, density),
                Panel::Risk => risk::render(frame, rest, app),
                _ => reasoning::render(frame, rest, app, density),
            }
            risk::render_strip(frame, strip, app);
        }
    }
}
