//! Every screen and popup of the cockpit rendered from fixed fixture snapshots at 80×24 and
//! 160×48 (plus the narrow and too-small layouts), compared with insta snapshots, and
//! style-aware checks: profit and loss colours, the halted and kill-switch banners, and the
//! mono theme using no colour at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/ui_fixture.rs"]
mod fixture;

use std::sync::Arc;

use alphatx::engine::Snapshot;
use alphatx::ui::action::Action;
use alphatx::ui::theme::{Role, TermEnv};
use alphatx::ui::{App, ColorChoice, UiOptions, build_app};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

fn truecolor() -> TermEnv {
    TermEnv { colorterm: Some("truecolor".into()), term: Some("xterm-256color".into()), ..TermEnv::default() }
}

fn app_with(snap: Snapshot, options: &UiOptions, env: &TermEnv) -> App {
    let mut app = build_app(options, env, true).unwrap();
    app.snapshot = Arc::new(snap);
    app.wall_ms = fixture::NOW + 500;
    app.logs = fixture::log_lines();
    app
}

fn app(snap: Snapshot) -> App {
    app_with(snap, &UiOptions::default(), &truecolor())
}

fn draw(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut app = app.clone();
    app.size = (w, h);
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| alphatx::ui::render::render(f, &app)).unwrap();
    t
}

fn both_sizes(name: &str, app: &App) {
    for (w, h) in [(80, 24), (160, 48)] {
        let t = draw(app, w, h);
        insta::assert_snapshot!(format!("{name}@{w}x{h}"), t.backend());
    }
}

fn actions(app: &mut App, actions: &[Action]) {
    for a in actions {
        app.handle_action(*a);
    }
}

#[test]
fn arena() {
    both_sizes("arena", &app(fixture::snapshot()));
}

#[test]
fn arena_ascii_braille_and_narrow() {
    let options = UiOptions { ascii: true, ..UiOptions::default() };
    let a = app_with(fixture::snapshot(), &options, &truecolor());
    let t = draw(&a, 80, 24);
    let bad: Vec<&str> = t.backend().buffer().content().iter().map(|c| c.symbol()).filter(|s| !s.is_ascii()).collect();
    assert!(bad.is_empty(), "--ascii draws only ASCII, found {bad:?}");
    insta::assert_snapshot!("arena_ascii@80x24", t.backend());

    let mut options = UiOptions::default();
    options.config.marker = alphatx::config::MarkerSetting::Braille;
    let a = app_with(fixture::snapshot(), &options, &truecolor());
    insta::assert_snapshot!("arena_braille@160x48", draw(&a, 160, 48).backend());

    let a = app(fixture::snapshot());
    insta::assert_snapshot!("arena_narrow@50x20", draw(&a, 50, 20).backend());
}

#[test]
fn agent_screen() {
    let mut a = app(fixture::snapshot());
    actions(&mut a, &[Action::ScreenAgent]);
    both_sizes("agent", &a);
    // The LLM agent's decision with prompt and raw output, detail pane focused and scrolled.
    let mut a = app(fixture::snapshot());
    actions(&mut a, &[Action::Down, Action::Open, Action::Open]);
    insta::assert_snapshot!("agent_llm_detail@160x48", draw(&a, 160, 48).backend());
}

#[test]
fn orders_risk_and_logs_screens() {
    for (name, screen) in [("orders", Action::ScreenOrders), ("risk", Action::ScreenRisk), ("logs", Action::ScreenLogs)]
    {
        let mut a = app(fixture::snapshot());
        actions(&mut a, &[screen]);
        both_sizes(name, &a);
    }
}

#[test]
fn popups() {
    let mut a = app(fixture::snapshot());
    actions(&mut a, &[Action::Help]);
    both_sizes("help", &a);
    let mut a = app(fixture::snapshot());
    actions(&mut a, &[Action::KillSwitch]);
    both_sizes("confirm_kill", &a);
    let mut a = app(fixture::snapshot());
    actions(&mut a, &[Action::FocusNext, Action::FlattenSelected]);
    both_sizes("confirm_flatten_position", &a);
    let mut a = app(fixture::snapshot());
    actions(&mut a, &[Action::FlattenAgent]);
    both_sizes("confirm_flatten_agent", &a);
    let mut a = app(fixture::snapshot());
    a.run_command_line("unlatch");
    insta::assert_snapshot!("confirm_unlatch@80x24", draw(&a, 80, 24).backend());
    let mut a = app(fixture::snapshot());
    actions(&mut a, &[Action::CommandLine]);
    for c in "pause tre".chars() {
        a.handle_key(crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(c)));
    }
    insta::assert_snapshot!("command_line@80x24", draw(&a, 80, 24).backend());
}

#[test]
fn states() {
    both_sizes("halted", &app(fixture::halted()));
    both_sizes("kill_switch", &app(fixture::killed()));
    both_sizes("disconnected", &app(fixture::disconnected()));
    let mut a = app(fixture::snapshot());
    a.wall_ms = fixture::NOW;
    actions(&mut a, &[Action::Freeze]);
    a.wall_ms = fixture::NOW + 42_000;
    a.view.flash = None;
    both_sizes("frozen", &a);
    both_sizes("empty", &app(Snapshot::default()));
    let a = app(fixture::killed());
    insta::assert_snapshot!("too_small@40x12", draw(&a, 40, 12).backend());
}

fn find(buf: &Buffer, text: &str) -> Option<(u16, u16)> {
    let area = buf.area;
    for y in 0..area.height {
        let row: String = (0..area.width).map(|x| buf[(x, y)].symbol().to_owned()).collect();
        if let Some(byte) = row.find(text) {
            let x = row[..byte].chars().count() as u16;
            return Some((x, y));
        }
    }
    None
}

#[test]
fn profit_and_loss_use_their_roles_and_can_be_swapped() {
    let a = app(fixture::snapshot());
    let t = draw(&a, 160, 48);
    let buf = t.backend().buffer();
    let profit = a.theme.style(Role::Profit).fg.unwrap();
    let loss = a.theme.style(Role::Loss).fg.unwrap();
    assert_ne!(profit, loss);
    let (x, y) = find(buf, "+1.84%").expect("trend's return is shown");
    assert_eq!(buf[(x, y)].fg, profit);
    let (x, y) = find(buf, "-0.92%").expect("meanrev's return is shown");
    assert_eq!(buf[(x, y)].fg, loss);
    let (x, y) = find(buf, "-9.04").expect("the ETH short's unrealised loss is shown");
    assert_eq!(buf[(x, y)].fg, loss);

    let mut options = UiOptions::default();
    options.config.swap_pnl_colors = true;
    let a = app_with(fixture::snapshot(), &options, &truecolor());
    let t = draw(&a, 160, 48);
    let (x, y) = find(t.backend().buffer(), "+1.84%").unwrap();
    assert_eq!(t.backend().buffer()[(x, y)].fg, loss, "swapped: gains in the loss colour");
}

#[test]
fn halted_and_kill_switch_banners_are_word_glyph_and_colour() {
    let a = app(fixture::halted());
    let t = draw(&a, 80, 24);
    let buf = t.backend().buffer();
    let (x, y) = find(buf, "HALTED: daily loss limit").expect("the halt reason is spelled out");
    assert_eq!(buf[(x, y)].bg, a.theme.style(Role::Halted).bg.unwrap());
    assert_eq!(buf[(x.saturating_sub(2), y)].symbol(), "■");

    let a = app(fixture::killed());
    let t = draw(&a, 160, 48);
    let buf = t.backend().buffer();
    let (x, y) = find(buf, "KILL SWITCH LATCHED").expect("latched kill switch is spelled out");
    assert_eq!(buf[(x, y)].bg, a.theme.style(Role::Killed).bg.unwrap());
    assert!(find(buf, ":unlatch").is_some(), "the way out is named");
}

#[test]
fn no_color_gives_mono_with_modifiers_only() {
    let env = TermEnv { no_color: Some("1".into()), colorterm: Some("truecolor".into()), ..TermEnv::default() };
    let a = app_with(fixture::halted(), &UiOptions::default(), &env);
    assert_eq!(a.theme.name, "mono");
    let t = draw(&a, 160, 48);
    let buf = t.backend().buffer();
    for c in buf.content() {
        assert!(matches!(c.fg, Color::Reset) && matches!(c.bg, Color::Reset), "mono must not colour {:?}", c);
    }
    let (x, y) = find(buf, "HALTED").unwrap();
    assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED), "halted is reverse video in mono");
    // --color never does the same even without NO_COLOR.
    let options = UiOptions { color: ColorChoice::Never, ..UiOptions::default() };
    assert_eq!(app_with(fixture::snapshot(), &options, &truecolor()).theme.name, "mono");
}

#[test]
fn sixteen_colour_terminals_get_only_ansi_colours() {
    let env = TermEnv { term: Some("xterm".into()), ..TermEnv::default() };
    let a = app_with(fixture::snapshot(), &UiOptions::default(), &env);
    let t = draw(&a, 160, 48);
    for c in t.backend().buffer().content() {
        for col in [c.fg, c.bg] {
            assert!(!matches!(col, Color::Rgb(..) | Color::Indexed(_)), "{col:?} is not one of the 16 ANSI colours");
        }
    }
}

/// The rows of the screen as text.
fn rows_of(t: &Terminal<TestBackend>) -> Vec<String> {
    let buf = t.backend().buffer();
    let w = usize::from(buf.area.width);
    buf.content().chunks(w).map(|row| row.iter().map(|c| c.symbol()).collect()).collect()
}

#[test]
fn text_panes_stop_at_their_last_line() {
    let mut a = app(fixture::snapshot());
    a.size = (80, 24);
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let mut draw_now = |a: &App| {
        t.draw(|f| alphatx::ui::render::render(f, a)).unwrap();
        rows_of(&t)
    };
    actions(&mut a, &[Action::ScreenRisk]);
    let top = draw_now(&a);
    actions(&mut a, &[Action::Bottom]);
    let bottom = draw_now(&a);
    assert_ne!(top, bottom, "the Risk & health page is longer than 24 rows");
    // The last page is full: the row above the pane's bottom border has text, so `G` shows the
    // end of the page instead of scrolling it out of sight.
    let border = bottom.iter().rposition(|r| r.contains('╰')).unwrap();
    let last = bottom[border - 1].trim_matches(|c: char| c == '│' || c.is_whitespace());
    assert!(!last.is_empty(), "{}", bottom.join("\n"));
    // Scrolling further down changes nothing; one step up moves at once.
    actions(&mut a, &[Action::Down, Action::Down, Action::PageDown]);
    assert_eq!(draw_now(&a), bottom);
    actions(&mut a, &[Action::Up]);
    let up = draw_now(&a);
    assert_ne!(up, bottom);
    assert_eq!(up[border], bottom[border]);
}
