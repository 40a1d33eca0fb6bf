//! Key handling without a terminal: key → action → engine command. Dangerous actions only open
//! a confirmation popup that `y` alone accepts; risk-reducing keys act at once; keys the
//! multiplexers use stay free; overrides from the config apply, duplicates are rejected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/ui_fixture.rs"]
mod fixture;

use std::collections::BTreeMap;
use std::sync::Arc;

use alphatx::engine::Command;
use alphatx::ui::theme::TermEnv;
use alphatx::ui::view::{Panel, Popup, Screen};
use alphatx::ui::{App, Effect, Keymap, UiOptions, build_app};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

fn app() -> App {
    app_with(UiOptions::default())
}

fn app_with(options: UiOptions) -> App {
    let mut a = build_app(&options, &TermEnv::default(), true).unwrap();
    a.snapshot = Arc::new(fixture::snapshot());
    a.wall_ms = fixture::NOW;
    a
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn press(app: &mut App, keys: &[KeyEvent]) -> Vec<Effect> {
    keys.iter().flat_map(|k| app.handle_key(*k)).collect()
}

fn typed(app: &mut App, text: &str) -> Vec<Effect> {
    let mut keys: Vec<KeyEvent> = text.chars().map(key).collect();
    keys.push(code(KeyCode::Enter));
    press(app, &keys)
}

fn cmd(c: Command) -> Vec<Effect> {
    vec![Effect::Command(c)]
}

#[test]
fn pause_is_instant_and_toggles_to_resume() {
    let mut a = app();
    // The leaderboard's first row is the best agent: trend.
    assert_eq!(press(&mut a, &[key('p')]), cmd(Command::Pause { agent: fixture::id("trend") }));
    // meanrev is paused in the fixture: p on it resumes.
    assert_eq!(press(&mut a, &[key('j'), key('j'), key('p')]), cmd(Command::Resume { agent: fixture::id("meanrev") }));
    assert_eq!(press(&mut a, &[key('P')]), cmd(Command::PauseAll));
    assert_eq!(
        press(&mut a, &[key('r')]),
        cmd(Command::SetReduceOnly { agent: Some(fixture::id("meanrev")), on: true })
    );
}

#[test]
fn kill_switch_needs_y_and_nothing_else() {
    let mut a = app();
    assert!(press(&mut a, &[key('!')]).is_empty(), "the arming key sends nothing");
    assert!(matches!(a.view.popup, Some(Popup::Confirm(_))));
    // Key repeat of the arming key, a reflexive Enter's neighbours, and random keys do nothing.
    assert!(press(&mut a, &[key('!'), key('!'), key('q'), key('p'), key('Y'), code(KeyCode::Tab)]).is_empty());
    assert!(matches!(a.view.popup, Some(Popup::Confirm(_))), "still waiting");
    assert_eq!(press(&mut a, &[key('y')]), cmd(Command::KillSwitch));
    assert!(a.view.popup.is_none());

    // Enter cancels (Cancel is the selected button), and so do n and Esc.
    for cancel in [code(KeyCode::Enter), key('n'), code(KeyCode::Esc)] {
        let mut a = app();
        assert!(press(&mut a, &[key('!'), cancel]).is_empty());
        assert!(a.view.popup.is_none());
        assert!(press(&mut a, &[key('y')]).is_empty(), "y after a cancel does nothing");
    }
}

#[test]
fn flatten_keys_confirm_what_they_name() {
    let mut a = app();
    assert!(press(&mut a, &[key('D')]).is_empty());
    assert_eq!(press(&mut a, &[key('y')]), cmd(Command::FlattenAgent { agent: fixture::id("trend") }));

    // d on the Positions panel flattens the selected position: that agent, that symbol only.
    let mut a = app();
    press(&mut a, &[code(KeyCode::Tab)]);
    assert_eq!(a.view.focused(), Panel::Positions);
    assert!(press(&mut a, &[key('j'), key('d')]).is_empty());
    let Some(Popup::Confirm(c)) = &a.view.popup else { panic!("confirm popup expected") };
    assert_eq!(c.title, "Flatten trend ETHUSDT?");
    assert!(c.lines.iter().any(|l| l.starts_with("close ETHUSDT")), "{:?}", c.lines);
    assert!(c.lines.iter().any(|l| l.contains("other agents keep theirs")), "{:?}", c.lines);
    assert_eq!(
        press(&mut a, &[key('y')]),
        cmd(Command::FlattenPosition { agent: fixture::id("trend"), symbol: fixture::sym("ETHUSDT") })
    );

    // d on the Orders screen cancels the selected (newest) order.
    let mut a = app();
    press(&mut a, &[key('3'), key('d')]);
    assert_eq!(
        press(&mut a, &[key('y')]),
        cmd(Command::CancelOrder { agent: fixture::id("trend"), order: alphatx::domain::OrderId(41) })
    );

    // d where there is nothing to flatten explains itself and sends nothing.
    let mut a = app();
    assert!(press(&mut a, &[key('d')]).is_empty());
    assert!(a.view.popup.is_none());
    assert!(a.view.flash.as_ref().is_some_and(|f| f.error));
}

#[test]
fn quit_keys_and_free_keys() {
    let mut a = app();
    assert_eq!(press(&mut a, &[key('q')]), vec![Effect::Quit]);
    assert_eq!(press(&mut a, &[ctrl('c')]), vec![Effect::Quit]);
    for free in [ctrl('z'), ctrl('b'), ctrl('a'), KeyEvent::new(KeyCode::Char('x'), KeyModifiers::ALT)] {
        assert!(press(&mut a, &[free]).is_empty(), "{free:?} must do nothing");
    }
    // Only presses count (Windows and kitty-protocol terminals also report releases).
    let mut release = key('q');
    release.kind = KeyEventKind::Release;
    assert!(press(&mut a, &[release]).is_empty());
    // q over the help closes the help rather than quitting.
    press(&mut a, &[key('?')]);
    assert!(matches!(a.view.popup, Some(Popup::Help { .. })));
    assert!(press(&mut a, &[key('q')]).is_empty());
    assert!(a.view.popup.is_none());
    // The kill switch still works over the help.
    press(&mut a, &[code(KeyCode::F(1)), key('!')]);
    assert!(matches!(a.view.popup, Some(Popup::Confirm(_))));
}

#[test]
fn command_line() {
    let mut a = app();
    press(&mut a, &[key(':')]);
    assert_eq!(typed(&mut a, "pause meanrev"), cmd(Command::Pause { agent: fixture::id("meanrev") }));
    press(&mut a, &[key(':')]);
    assert_eq!(typed(&mut a, "resume all"), cmd(Command::ResumeAll));
    press(&mut a, &[key(':')]);
    assert!(typed(&mut a, "flatten BTC").is_empty(), ":flatten confirms first");
    assert_eq!(press(&mut a, &[key('y')]), cmd(Command::FlattenSymbol { symbol: fixture::sym("BTCUSDT") }));
    press(&mut a, &[key(':')]);
    typed(&mut a, "flatten gpt-4o");
    assert_eq!(press(&mut a, &[key('y')]), cmd(Command::FlattenAgent { agent: fixture::id("gpt-4o") }));
    press(&mut a, &[key(':')]);
    typed(&mut a, "flatten trend eth");
    assert_eq!(
        press(&mut a, &[key('y')]),
        cmd(Command::FlattenPosition { agent: fixture::id("trend"), symbol: fixture::sym("ETHUSDT") })
    );
    press(&mut a, &[key(':')]);
    assert!(typed(&mut a, "flatten trend DOGE").is_empty());
    assert!(a.view.popup.is_none(), "an unknown symbol sends nothing");
    press(&mut a, &[key(':')]);
    typed(&mut a, "flatten all");
    assert_eq!(press(&mut a, &[key('y')]), cmd(Command::FlattenAll));
    press(&mut a, &[key(':')]);
    typed(&mut a, "kill");
    assert_eq!(press(&mut a, &[key('y')]), cmd(Command::KillSwitch));
    press(&mut a, &[key(':')]);
    typed(&mut a, "unlatch");
    assert_eq!(press(&mut a, &[key('y')]), cmd(Command::ReleaseKillSwitch));
    press(&mut a, &[key(':')]);
    assert!(typed(&mut a, "theme light").is_empty());
    assert_eq!(a.theme.name, "light");
    press(&mut a, &[key(':')]);
    assert_eq!(typed(&mut a, "q"), vec![Effect::Quit]);
    for bad in ["pause nobody", "frobnicate", "flatten DOGE", "theme nope", "screen 9"] {
        press(&mut a, &[key(':')]);
        assert!(typed(&mut a, bad).is_empty(), "{bad}");
        let f = a.view.flash.clone().expect("an error message");
        assert!(f.error, "{bad}: {}", f.text);
    }
    // Esc abandons the line; backspace on an empty line closes it.
    press(&mut a, &[key(':'), key('k'), code(KeyCode::Esc)]);
    assert!(a.view.input.is_none());
    assert!(press(&mut a, &[key('y')]).is_empty());
}

#[test]
fn navigation_filter_freeze_copy_and_theme() {
    let mut a = app();
    press(&mut a, &[key('2')]);
    assert_eq!(a.view.screen, Screen::Agent);
    press(&mut a, &[key(']'), key(']')]);
    assert_eq!(a.view.screen, Screen::Risk);
    press(&mut a, &[key('['), key('['), key('['), code(KeyCode::Esc)]);
    assert_eq!(a.view.screen, Screen::Arena);
    // Tab through the panels and back.
    press(&mut a, &[code(KeyCode::Tab), code(KeyCode::Tab)]);
    assert_eq!(a.view.focused(), Panel::Reasoning);
    press(&mut a, &[KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)]);
    assert_eq!(a.view.focused(), Panel::Positions);
    // / filters the reasoning log; n moves between matches; Esc clears.
    press(&mut a, &[code(KeyCode::Tab), key('/')]);
    typed(&mut a, "refused");
    assert_eq!(a.view.filter_of(Panel::Reasoning), Some("refused"));
    let rows = alphatx::ui::rows::reasoning(&a.snapshot, a.view.filter_of(Panel::Reasoning));
    assert_eq!(rows.len(), 2);
    press(&mut a, &[key('n')]);
    assert_eq!(a.view.sel(Panel::Reasoning), 1);
    press(&mut a, &[key('n')]);
    assert_eq!(a.view.sel(Panel::Reasoning), 0, "wraps");
    // Enter on a decision line opens it on the Agent screen with its detail.
    press(&mut a, &[code(KeyCode::Enter)]);
    assert_eq!(a.view.screen, Screen::Agent);
    assert_eq!(a.view.focused(), Panel::Detail);
    assert_eq!(a.selected_decision().map(|d| d.id), Some(9));
    // c copies the full decision (reasoning, proposals, prompt...).
    let fx = press(&mut a, &[key('c')]);
    let [Effect::Copy(text)] = fx.as_slice() else { panic!("copy expected, got {fx:?}") };
    assert!(text.contains("## Reasoning") && text.contains("leverage"), "{text}");
    // f freezes: new snapshots are ignored until unfrozen, and the engine still gets commands.
    press(&mut a, &[key('f')]);
    assert!(!a.on_snapshot(Arc::new(fixture::halted())));
    assert_eq!(press(&mut a, &[key('P')]), cmd(Command::PauseAll));
    press(&mut a, &[key('f')]);
    assert!(a.on_snapshot(Arc::new(fixture::halted())));
    // t cycles themes.
    let before = a.theme.name.clone();
    press(&mut a, &[key('t')]);
    assert_ne!(a.theme.name, before);
}

#[test]
fn config_overrides_rebind_unbind_and_reject_duplicates() {
    let mut options = UiOptions::default();
    options.config.keys.insert("kill_switch".into(), vec!["K".into()]);
    options.config.keys.insert("freeze".into(), vec![]);
    let mut a = app_with(options);
    assert!(press(&mut a, &[key('!')]).is_empty());
    assert!(a.view.popup.is_none(), "! is unbound now");
    press(&mut a, &[key('f')]);
    assert!(a.view.frozen_since_ms.is_none(), "freeze was unbound");
    press(&mut a, &[key('K')]);
    assert!(matches!(a.view.popup, Some(Popup::Confirm(_))));
    assert_eq!(press(&mut a, &[key('y')]), cmd(Command::KillSwitch));

    let mut dup = BTreeMap::new();
    dup.insert("help".to_owned(), vec!["p".to_owned()]);
    let e = Keymap::with_overrides(&dup).unwrap_err().to_string();
    assert!(e.contains("help") && e.contains("pause_agent") && e.contains("`p`"), "{e}");
    let mut arms = BTreeMap::new();
    arms.insert("confirm".to_owned(), vec!["!".to_owned()]);
    let e = Keymap::with_overrides(&arms).unwrap_err().to_string();
    assert!(e.contains("kill_switch"), "{e}");
    let mut none = BTreeMap::new();
    none.insert("confirm".to_owned(), vec![]);
    assert!(Keymap::with_overrides(&none).is_err(), "a popup that can never be confirmed is refused");
}
