//! The cockpit: a keyboard-driven full-screen terminal UI (ratatui + crossterm) that reads
//! engine snapshots and sends operator commands.
//!
//! Data flow: the engine publishes `Arc<Snapshot>` on a `watch` channel; [`run_tui`] keeps the
//! latest one in the [`App`] and draws `render(&App)` — a pure function — only when something
//! changed, at most `ui.max_fps` times a second. Keys become [`Action`]s through the [`Keymap`]
//! and actions become engine [`Command`]s (on a bounded channel) or view changes; panels never
//! see key codes. Logs never reach the terminal while the UI owns it: the Logs screen reads a
//! [`LogRing`]. The terminal is restored on every exit path: quit, Ctrl-C, SIGTERM, SIGHUP,
//! errors and panics.
//!
//! [`Action`]: action::Action
//! [`Command`]: crate::engine::Command

pub mod action;
pub mod app;
pub mod clipboard;
pub mod glyphs;
pub mod keymap;
pub mod panels;
pub mod render;
pub mod rows;
pub mod terminal;
pub mod theme;
pub mod view;
pub mod widgets;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, EventStream, MouseEventKind};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use app::{App, Effect};
pub use keymap::Keymap;
pub use theme::{ColorChoice, Theme};

use crate::config::{GlyphsSetting, MarkerSetting, UiConfig};
use crate::engine::event::FeedState;
use crate::engine::{Command, Snapshot};
use crate::logging::LogRing;
use glyphs::Glyphs;
use theme::{ColorDepth, TermEnv, detect_depth};

/// Why the UI could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("{0}")]
    Theme(#[from] theme::ThemeError),
    #[error("[ui.keys]: {0}")]
    Keymap(#[from] keymap::KeymapError),
    #[error("the terminal cannot be used ({0}); run `alphatx run --headless` where there is no terminal")]
    Terminal(std::io::Error),
}

/// Why the UI stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiExit {
    /// The operator quit (`q`, Ctrl-C, `:q`).
    Quit,
    /// The shutdown token was cancelled elsewhere.
    Shutdown,
    /// SIGTERM or SIGINT.
    Terminated,
    /// The terminal went away (SIGHUP or input error).
    Hangup,
    /// The engine stopped publishing snapshots.
    EngineStopped,
}

/// Everything the UI needs besides the channels.
#[derive(Debug, Clone, Default)]
pub struct UiOptions {
    pub config: UiConfig,
    /// `--theme`, overriding `ui.theme`.
    pub theme: Option<String>,
    /// `--ascii`.
    pub ascii: bool,
    /// `--color`.
    pub color: ColorChoice,
    /// Where user themes live (`<config dir>/themes/`).
    pub config_dir: Option<PathBuf>,
    /// The in-app log for the Logs screen.
    pub logs: Option<LogRing>,
}

/// Builds the [`App`] from options and the terminal's environment (no terminal needed: tests
/// and benchmarks use it too).
pub fn build_app(options: &UiOptions, env: &TermEnv, utf8_locale: bool) -> Result<App, UiError> {
    let cfg = &options.config;
    let keymap = Keymap::with_overrides(&cfg.keys)?;
    let depth = detect_depth(options.color, env);
    let ascii =
        options.ascii || cfg.glyphs == GlyphsSetting::Ascii || (cfg.glyphs == GlyphsSetting::Auto && !utf8_locale);
    let glyphs = Glyphs { ascii, braille: cfg.marker == MarkerSetting::Braille };
    let name = if depth == ColorDepth::Mono {
        "mono".to_owned()
    } else {
        options.theme.clone().unwrap_or_else(|| cfg.theme.clone())
    };
    let mut theme = Theme::load(&name, options.config_dir.as_deref())?;
    if cfg.swap_pnl_colors {
        theme.swap_pnl();
    }
    theme.reduce_to(depth);
    let mut app = App::new(keymap, theme, glyphs, depth);
    app.swap_pnl = cfg.swap_pnl_colors;
    app.config_dir = options.config_dir.clone();
    Ok(app)
}

/// Runs the cockpit until the operator quits, the terminal goes away, a signal arrives or
/// `shutdown` is cancelled. The caller stops the engine afterwards (or keeps it running
/// headless after a hangup when configured).
pub async fn run_tui(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    commands: mpsc::Sender<Command>,
    options: UiOptions,
    shutdown: CancellationToken,
) -> Result<UiExit, UiError> {
    let env = TermEnv::from_process();
    let utf8 = glyphs::locale_is_utf8(
        std::env::var("LC_ALL").ok().as_deref(),
        std::env::var("LC_CTYPE").ok().as_deref(),
        std::env::var("LANG").ok().as_deref(),
    );
    let mut app = build_app(&options, &env, utf8)?;
    // We chose the colours ourselves (mono has none): stop crossterm from honouring NO_COLOR
    // again, because in 0.29 a suppressed colour still writes `CSI m`, which also wipes bold
    // and reverse video (crossterm PR #1069, unreleased).
    crossterm::style::force_color_output(true);
    app.snapshot = snapshots.borrow_and_update().clone();
    app.wall_ms = jiff::Timestamp::now().as_millisecond();

    let _guard = TerminalGuard::enter(options.config.mouse).map_err(UiError::Terminal)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout())).map_err(UiError::Terminal)?;
    if let Ok(size) = terminal.size() {
        app.size = (size.width, size.height);
    }
    let mut events = EventStream::new();
    let mut signals = Signals::new();
    let frame_gap = Duration::from_millis(1000 / u64::from(options.config.max_fps.clamp(1, 30)));
    let mut next_frame = Instant::now();
    let mut dirty = true;
    let mut title = String::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut log_seen = u64::MAX;
    let mut log_level = app.view.log_level;

    let exit = loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break UiExit::Shutdown,
            sig = signals.next() => break sig,
            ev = events.next() => {
                match ev {
                    Some(Ok(Event::Key(key))) => {
                        app.wall_ms = jiff::Timestamp::now().as_millisecond();
                        let effects = app.handle_key(key);
                        if let Some(exit) = apply(&mut app, &mut terminal, &commands, effects) {
                            break exit;
                        }
                        dirty = true;
                    }
                    Some(Ok(Event::Resize(w, h))) => {
                        app.size = (w, h);
                        let _ = terminal.autoresize();
                        dirty = true;
                    }
                    Some(Ok(Event::Mouse(m))) => {
                        let action = match m.kind {
                            MouseEventKind::ScrollDown => Some(action::Action::Down),
                            MouseEventKind::ScrollUp => Some(action::Action::Up),
                            _ => None,
                        };
                        if let Some(a) = action {
                            app.handle_action(a);
                            dirty = true;
                        }
                    }
                    Some(Ok(_)) => {}
                    // The terminal is gone (EIO on a dead tty) or input closed: a hangup.
                    Some(Err(_)) | None => break UiExit::Hangup,
                }
            }
            changed = snapshots.changed() => {
                if changed.is_err() {
                    break UiExit::EngineStopped;
                }
                let snap = snapshots.borrow_and_update().clone();
                if app.on_snapshot(snap) {
                    dirty = true;
                }
            }
            _ = tick.tick() => {
                let before = app.wall_ms / 1000;
                app.wall_ms = jiff::Timestamp::now().as_millisecond();
                if app.expire_flash() {
                    dirty = true;
                }
                let ticking = app.view.frozen_since_ms.is_some()
                    || matches!(app.snapshot.source.state, FeedState::Disconnected | FeedState::Stale);
                if ticking && app.wall_ms / 1000 != before {
                    dirty = true;
                }
                if let Some(ring) = &options.logs
                    && app.view.screen == view::Screen::Logs
                    && (ring.version() != log_seen || app.view.log_level != log_level)
                {
                    log_seen = ring.version();
                    log_level = app.view.log_level;
                    app.logs = ring.copy_lines(log_level);
                    dirty = true;
                }
            }
            _ = tokio::time::sleep_until(next_frame), if dirty => {
                // Logs are copied when the screen is opened, not only on the next tick.
                if let Some(ring) = &options.logs
                    && app.view.screen == view::Screen::Logs
                    && (ring.version() != log_seen || app.view.log_level != log_level)
                {
                    log_seen = ring.version();
                    log_level = app.view.log_level;
                    app.logs = ring.copy_lines(log_level);
                }
                let t = app.title();
                if t != title {
                    let _ = terminal::set_title(terminal.backend_mut(), &t);
                    title = t;
                }
                if terminal::draw(&mut terminal, &app).is_err() {
                    break UiExit::Hangup;
                }
                dirty = false;
                next_frame = Instant::now() + frame_gap;
            }
        }
    };
    drop(terminal);
    Ok(exit)
}

/// Carries out key effects; returns an exit when one was asked for.
fn apply<W: Write>(
    app: &mut App,
    terminal: &mut Terminal<CrosstermBackend<W>>,
    commands: &mpsc::Sender<Command>,
    effects: Vec<Effect>,
) -> Option<UiExit> {
    for e in effects {
        match e {
            Effect::Quit => return Some(UiExit::Quit),
            Effect::Command(cmd) => {
                let what = cmd.describe();
                match commands.try_send(cmd) {
                    Ok(()) => tracing::info!(command = %what, "Operator command sent from the terminal UI"),
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::warn!(command = %what, "Command channel full; command not sent");
                        app.view.flash = Some(view::Flash {
                            text: format!("engine busy: `{what}` was NOT sent, press the key again"),
                            error: true,
                            until_ms: app.wall_ms + 10_000,
                        });
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return Some(UiExit::EngineStopped),
                }
            }
            Effect::Copy(text) => {
                let (seq, _) = clipboard::osc52(&text);
                let w = terminal.backend_mut();
                let _ = w.write_all(seq.as_bytes()).and_then(|_| w.flush());
            }
            Effect::Redraw => {
                let _ = terminal.clear();
            }
        }
    }
    None
}

use terminal::TerminalGuard;

/// SIGTERM, SIGINT and SIGHUP as one stream of exits.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
                hup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    async fn next(&mut self) -> UiExit {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = recv(&mut self.term) => UiExit::Terminated,
                _ = recv(&mut self.int) => UiExit::Terminated,
                _ = recv(&mut self.hup) => UiExit::Hangup,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            UiExit::Terminated
        }
    }
}
