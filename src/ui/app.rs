//! The UI's state machine: key → [`Action`] → view change or engine [`Command`].
//!
//! [`App::handle_key`] never touches the terminal or the engine; it returns [`Effect`]s that the
//! event loop carries out (send a command, copy, quit). That keeps every key testable without
//! a terminal. Dangerous actions only ever open a [`ConfirmState`]; the commands inside it are
//! sent when the popup's `confirm` key (`y`) is pressed, never on the key that opened it.

use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::domain::{AgentId, Symbol};
use crate::engine::Command;
use crate::engine::snapshot::{AgentSnapshot, Snapshot};
use crate::logging::{LogLevel, LogLine};
use crate::ui::action::Action;
use crate::ui::glyphs::Glyphs;
use crate::ui::keymap::Keymap;
use crate::ui::rows;
use crate::ui::theme::{ColorDepth, Theme};
use crate::ui::view::{ConfirmState, Flash, Input, InputKind, Panel, Popup, Screen, ViewState};
use crate::ui::widgets::fmt;

/// What the event loop must do after a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send to the engine.
    Command(Command),
    /// Leave the UI (the engine is then shut down cleanly).
    Quit,
    /// Put text on the clipboard (OSC 52).
    Copy(String),
    /// Clear and repaint the whole terminal.
    Redraw,
}

/// How long flash messages stay, in milliseconds.
const FLASH_MS: i64 = 5_000;

/// The UI state plus what it needs to interpret keys and draw.
#[derive(Debug, Clone)]
pub struct App {
    pub view: ViewState,
    pub keymap: Keymap,
    pub theme: Theme,
    pub glyphs: Glyphs,
    pub depth: ColorDepth,
    pub swap_pnl: bool,
    /// Where user themes live (`<config dir>/themes/`).
    pub config_dir: Option<PathBuf>,
    /// The snapshot on screen (held still while frozen).
    pub snapshot: Arc<Snapshot>,
    /// Captured tracing lines at or above the Logs screen's level, oldest first.
    pub logs: Vec<LogLine>,
    /// Wall clock, epoch ms (set by the event loop; fixed in tests).
    pub wall_ms: i64,
    /// Terminal size, for page moves.
    pub size: (u16, u16),
}

impl App {
    pub fn new(keymap: Keymap, theme: Theme, glyphs: Glyphs, depth: ColorDepth) -> Self {
        Self {
            view: ViewState::default(),
            keymap,
            theme,
            glyphs,
            depth,
            swap_pnl: false,
            config_dir: None,
            snapshot: Arc::new(Snapshot::default()),
            logs: Vec::new(),
            wall_ms: 0,
            size: (80, 24),
        }
    }

    /// Takes a new engine snapshot unless the display is frozen. Returns whether it changed.
    pub fn on_snapshot(&mut self, snap: Arc<Snapshot>) -> bool {
        if self.view.frozen_since_ms.is_some() {
            return false;
        }
        self.snapshot = snap;
        true
    }

    fn flash(&mut self, text: impl Into<String>, error: bool) {
        self.view.flash = Some(Flash { text: text.into(), error, until_ms: self.wall_ms + FLASH_MS });
    }

    /// Drops an expired flash; true when something changed.
    pub fn expire_flash(&mut self) -> bool {
        if self.view.flash.as_ref().is_some_and(|f| f.until_ms <= self.wall_ms) {
            self.view.flash = None;
            return true;
        }
        false
    }

    /// The terminal title: the global state in words.
    pub fn title(&self) -> String {
        let snap = &self.snapshot;
        let (state, _, _) = rows::global_state(snap, Glyphs::ASCII);
        let mode = if snap.mode.is_empty() { "PAPER" } else { snap.mode.as_str() };
        let (_, day, _) = rows::day_pnl(snap);
        let total = fmt::f(snap.total_equity());
        let pct = if total - day > 0.0 { fmt::pct(day / (total - day) * 100.0) } else { fmt::pct(0.0) };
        let frozen = if self.view.frozen_since_ms.is_some() { " FROZEN" } else { "" };
        format!("alphatx {mode} {state} {pct}{frozen}")
    }

    // ------------------------------------------------------------------ selection

    /// The agent the agent keys (`p`, `r`, `D`) act on: the row under the cursor when a
    /// position or order list is focused, otherwise the agent chosen on the leaderboard.
    pub fn selected_agent(&self) -> Option<&AgentSnapshot> {
        let snap = &self.snapshot;
        let focus = self.view.focused();
        let from_row = match focus {
            Panel::Positions | Panel::AgentPositions => self.selected_position().map(|p| p.agent),
            Panel::Orders => self.selected_order().map(|o| o.request.agent),
            _ => None,
        };
        let id = from_row.or(self.view.agent).or_else(|| rows::leaderboard(snap).first().map(|(_, a)| a.id))?;
        snap.agent(id)
    }

    /// Clamped selection of a list with `len` rows.
    pub fn sel_in(&self, panel: Panel, len: usize) -> usize {
        self.view.sel(panel).min(len.saturating_sub(1))
    }

    fn position_scope(&self, panel: Panel) -> Option<AgentId> {
        (panel == Panel::AgentPositions).then(|| self.selected_agent_for_screen()).flatten()
    }

    /// The agent the Agent screen shows.
    pub fn selected_agent_for_screen(&self) -> Option<AgentId> {
        self.view.agent.or_else(|| rows::leaderboard(&self.snapshot).first().map(|(_, a)| a.id))
    }

    pub fn selected_position(&self) -> Option<&crate::engine::snapshot::PositionSnapshot> {
        let panel = if self.view.focused() == Panel::AgentPositions { Panel::AgentPositions } else { Panel::Positions };
        let list = rows::positions(&self.snapshot, self.position_scope(panel), self.view.filter_of(panel));
        let i = self.sel_in(panel, list.len());
        list.get(i).copied()
    }

    pub fn selected_order(&self) -> Option<&crate::domain::Order> {
        let list = rows::orders(&self.snapshot, None, self.view.filter_of(Panel::Orders));
        list.get(self.sel_in(Panel::Orders, list.len())).copied()
    }

    pub fn selected_decision(&self) -> Option<&Arc<crate::engine::journal::DecisionRecord>> {
        let id = self.selected_agent_for_screen()?;
        let agent = self.snapshot.agent(id)?;
        let list = rows::decisions(agent, self.view.filter_of(Panel::Decisions));
        list.get(self.sel_in(Panel::Decisions, list.len())).copied()
    }

    /// Rows in a list panel (for moves and clamping).
    fn list_len(&self, panel: Panel) -> usize {
        let snap = &self.snapshot;
        let f = self.view.filter_of(panel);
        match panel {
            Panel::Leaderboard | Panel::Agents => snap.agents.len(),
            Panel::Markets => snap.markets.len(),
            Panel::Positions => rows::positions(snap, None, f).len(),
            Panel::AgentPositions => rows::positions(snap, self.selected_agent_for_screen(), f).len(),
            Panel::Reasoning => rows::reasoning(snap, f).len(),
            Panel::Decisions => self
                .selected_agent_for_screen()
                .and_then(|id| snap.agent(id))
                .map_or(0, |a| rows::decisions(a, f).len()),
            Panel::Orders => rows::orders(snap, None, f).len(),
            Panel::Trades => rows::trades(snap, None, f).len(),
            Panel::Fills => rows::fills(snap, f).len(),
            Panel::Logs => rows::logs(&self.logs, f).len(),
            Panel::Detail | Panel::Health | Panel::Chart | Panel::Risk => 0,
        }
    }

    fn page(&self) -> usize {
        usize::from(self.size.1.saturating_sub(8)).max(4) / 2
    }

    fn move_by(&mut self, delta: isize) {
        let panel = self.view.focused();
        if panel.is_text() {
            // The renderer measured how far this panel can scroll; before its first frame
            // anything goes (the renderer clamps what it draws).
            let max = self.view.scroll_max.get(panel).unwrap_or(u16::MAX);
            let cur = i64::from(self.view.scroll_of(panel).min(max));
            let next = (cur + delta as i64).clamp(0, i64::from(max));
            self.view.scroll.insert(panel, next as u16);
            return;
        }
        let len = self.list_len(panel);
        if len == 0 {
            return;
        }
        let cur = self.sel_in(panel, len) as isize;
        let next = (cur + delta).clamp(0, len as isize - 1) as usize;
        self.set_selection(panel, next);
    }

    fn set_selection(&mut self, panel: Panel, idx: usize) {
        self.view.selected.insert(panel, idx);
        match panel {
            Panel::Leaderboard | Panel::Agents => {
                if let Some((_, a)) = rows::leaderboard(&self.snapshot).get(idx) {
                    if self.view.agent != Some(a.id) {
                        self.view.selected.insert(Panel::Decisions, 0);
                        self.view.scroll.insert(Panel::Detail, 0);
                    }
                    self.view.agent = Some(a.id);
                    let other = if panel == Panel::Leaderboard { Panel::Agents } else { Panel::Leaderboard };
                    self.view.selected.insert(other, idx);
                }
            }
            Panel::Decisions => {
                self.view.scroll.insert(Panel::Detail, 0);
            }
            _ => {}
        }
    }

    // ------------------------------------------------------------------ keys

    /// Handles one terminal key event.
    pub fn handle_key(&mut self, ev: KeyEvent) -> Vec<Effect> {
        if ev.kind != KeyEventKind::Press {
            return Vec::new();
        }
        if self.view.input.is_some() {
            return self.handle_input_key(ev);
        }
        match &self.view.popup {
            Some(Popup::Confirm(_)) => {
                return match self.keymap.lookup_dialog(&ev) {
                    Some(Action::Confirm) => {
                        let Some(Popup::Confirm(c)) = self.view.popup.take() else { return Vec::new() };
                        let what: Vec<String> = c.commands.iter().map(Command::describe).collect();
                        self.flash(format!("sent: {}", what.join(", ")), false);
                        c.commands.into_iter().map(Effect::Command).collect()
                    }
                    Some(Action::Cancel) => {
                        self.view.popup = None;
                        self.flash("cancelled: nothing was sent", false);
                        Vec::new()
                    }
                    // Every other key is ignored, so a stray or repeated key cannot confirm.
                    _ => Vec::new(),
                };
            }
            Some(Popup::Help { scroll }) => {
                let scroll = *scroll;
                let action = self.keymap.lookup(&ev);
                let new_scroll = match action {
                    Some(Action::Help | Action::Back | Action::Quit) => {
                        self.view.popup = None;
                        return Vec::new();
                    }
                    Some(Action::Down) => scroll.saturating_add(1),
                    Some(Action::Up) => scroll.saturating_sub(1),
                    Some(Action::PageDown | Action::HalfPageDown) => scroll.saturating_add(10),
                    Some(Action::PageUp | Action::HalfPageUp) => scroll.saturating_sub(10),
                    Some(Action::Top) => 0,
                    // Risk-reducing keys keep working over the help.
                    Some(a @ (Action::KillSwitch | Action::PauseAll)) => {
                        self.view.popup = None;
                        return self.handle_action(a);
                    }
                    _ => scroll,
                };
                self.view.popup = Some(Popup::Help { scroll: new_scroll });
                return Vec::new();
            }
            None => {}
        }
        match self.keymap.lookup(&ev) {
            Some(a) => self.handle_action(a),
            None => Vec::new(),
        }
    }

    fn handle_input_key(&mut self, ev: KeyEvent) -> Vec<Effect> {
        let Some(input) = self.view.input.as_mut() else { return Vec::new() };
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        match ev.code {
            KeyCode::Esc => {
                let kind = input.kind;
                self.view.input = None;
                if kind == InputKind::Filter {
                    let panel = self.view.focused();
                    self.view.filter.remove(&panel);
                }
            }
            KeyCode::Char('c') if ctrl => {
                self.view.input = None;
            }
            KeyCode::Char('u') if ctrl => input.text.clear(),
            KeyCode::Enter => {
                let Some(input) = self.view.input.take() else { return Vec::new() };
                return match input.kind {
                    InputKind::Command => self.run_command_line(&input.text),
                    InputKind::Filter => {
                        let panel = self.view.focused();
                        if input.text.is_empty() {
                            self.view.filter.remove(&panel);
                        }
                        Vec::new()
                    }
                };
            }
            KeyCode::Backspace if input.text.is_empty() => self.view.input = None,
            KeyCode::Backspace => {
                input.text.pop();
            }
            KeyCode::Char(c) if !ctrl && !c.is_control() && input.text.chars().count() < 200 => input.text.push(c),
            _ => {}
        }
        // The filter applies while typing.
        if let Some(Input { kind: InputKind::Filter, text }) = &self.view.input {
            let panel = self.view.focused();
            let text = text.clone();
            self.view.filter.insert(panel, text);
            self.view.selected.insert(panel, 0);
        }
        Vec::new()
    }

    /// Carries out an action (also used by the command line and tests).
    pub fn handle_action(&mut self, action: Action) -> Vec<Effect> {
        let focus = self.view.focused();
        match action {
            Action::Quit => return vec![Effect::Quit],
            Action::Help => self.view.popup = Some(Popup::Help { scroll: 0 }),
            Action::CommandLine => self.view.input = Some(Input { kind: InputKind::Command, text: String::new() }),
            Action::Filter => {
                let target = if focus == Panel::Detail || focus.filterable() { focus } else { self.first_filterable() };
                self.view.focus_panel(target);
                let text = self.view.filter.get(&target).cloned().unwrap_or_default();
                self.view.input = Some(Input { kind: InputKind::Filter, text });
            }
            Action::NextMatch | Action::PrevMatch => {
                let forward = action == Action::NextMatch;
                if focus == Panel::Detail {
                    self.jump_to_match(forward);
                } else {
                    let len = self.list_len(focus);
                    if len > 0 {
                        let cur = self.sel_in(focus, len);
                        let next = if forward { (cur + 1) % len } else { (cur + len - 1) % len };
                        self.set_selection(focus, next);
                    }
                }
            }
            Action::Freeze => match self.view.frozen_since_ms.take() {
                Some(_) => self.flash("display live again", false),
                None => {
                    self.view.frozen_since_ms = Some(self.wall_ms);
                    self.flash("display frozen: the engine keeps trading; press f to unfreeze", false);
                }
            },
            Action::Copy => return self.copy_selection(),
            Action::NextTheme => self.next_theme(),
            Action::ChartWindow => {
                self.view.chart_window = self.view.chart_window.next();
                self.flash(format!("chart window: {}", self.view.chart_window.label()), false);
            }
            Action::LogLevel => {
                let i = LogLevel::ALL.iter().position(|l| *l == self.view.log_level).unwrap_or(2);
                self.view.log_level = LogLevel::ALL[(i + 1) % LogLevel::ALL.len()];
                self.view.selected.insert(Panel::Logs, 0);
                self.flash(format!("logs: {} and above", self.view.log_level.as_str()), false);
            }
            Action::Redraw => return vec![Effect::Redraw],
            Action::ScreenArena => self.view.screen = Screen::Arena,
            Action::ScreenAgent => self.view.screen = Screen::Agent,
            Action::ScreenOrders => self.view.screen = Screen::Orders,
            Action::ScreenRisk => self.view.screen = Screen::Risk,
            Action::ScreenLogs => self.view.screen = Screen::Logs,
            Action::PrevScreen | Action::NextScreen => {
                let i = self.view.screen.index();
                let n = Screen::ALL.len();
                let j = if action == Action::NextScreen { (i + 1) % n } else { (i + n - 1) % n };
                self.view.screen = Screen::ALL[j];
            }
            Action::FocusNext | Action::FocusPrev => {
                let n = self.view.screen.panels().len();
                let i = self.view.screen.index();
                let cur = self.view.focus[i] % n;
                self.view.focus[i] = if action == Action::FocusNext { (cur + 1) % n } else { (cur + n - 1) % n };
            }
            Action::Down => self.move_by(1),
            Action::Up => self.move_by(-1),
            Action::Top => self.move_by(-(u16::MAX as isize)),
            Action::Bottom => self.move_by(u16::MAX as isize),
            Action::HalfPageDown => self.move_by(self.page() as isize / 2 + 1),
            Action::HalfPageUp => self.move_by(-(self.page() as isize / 2 + 1)),
            Action::PageDown => self.move_by(self.page() as isize),
            Action::PageUp => self.move_by(-(self.page() as isize)),
            Action::Open => self.open(),
            Action::Back => self.back(),
            Action::PauseAgent => {
                let Some(a) = self.selected_agent() else {
                    self.flash("no agent selected", true);
                    return Vec::new();
                };
                let (id, paused) = (a.id, a.paused);
                let cmd = if paused { Command::Resume { agent: id } } else { Command::Pause { agent: id } };
                self.flash(format!("sent: {}", cmd.describe()), false);
                return vec![Effect::Command(cmd)];
            }
            Action::PauseAll => {
                self.flash("sent: pause all agents (resume with :resume all)", false);
                return vec![Effect::Command(Command::PauseAll)];
            }
            Action::ReduceOnly => {
                let Some(a) = self.selected_agent() else {
                    self.flash("no agent selected", true);
                    return Vec::new();
                };
                let cmd = Command::SetReduceOnly { agent: Some(a.id), on: !a.reduce_only };
                self.flash(format!("sent: {}", cmd.describe()), false);
                return vec![Effect::Command(cmd)];
            }
            Action::FlattenSelected => self.confirm_flatten_selected(),
            Action::FlattenAgent => match self.selected_agent() {
                Some(a) => {
                    let c = confirm_flatten_agent(a);
                    self.view.popup = Some(Popup::Confirm(c));
                }
                None => self.flash("no agent selected", true),
            },
            Action::KillSwitch => {
                let c = confirm_kill(&self.snapshot);
                self.view.popup = Some(Popup::Confirm(c));
            }
            Action::Confirm | Action::Cancel => {}
        }
        Vec::new()
    }

    fn first_filterable(&self) -> Panel {
        self.view.screen.panels().iter().copied().find(|p| p.filterable()).unwrap_or(Panel::Reasoning)
    }

    fn open(&mut self) {
        let focus = self.view.focused();
        match focus {
            Panel::Leaderboard | Panel::Positions => {
                if let Some(a) = self.selected_agent() {
                    let id = a.id;
                    self.select_agent(id);
                }
                self.view.focus_panel(Panel::Decisions);
            }
            Panel::Reasoning => {
                let list = rows::reasoning(&self.snapshot, self.view.filter_of(Panel::Reasoning));
                let Some(entry) = list.get(self.sel_in(Panel::Reasoning, list.len())) else { return };
                let (agent, decision) = (entry.agent, entry.decision_id);
                if let Some(agent) = agent {
                    self.select_agent(agent);
                    let idx = decision.and_then(|id| {
                        self.snapshot
                            .agent(agent)
                            .and_then(|a| rows::decisions(a, None).iter().position(|d| d.id == id))
                    });
                    self.view.filter.remove(&Panel::Decisions);
                    self.view.selected.insert(Panel::Decisions, idx.unwrap_or(0));
                    self.view.focus_panel(if idx.is_some() { Panel::Detail } else { Panel::Decisions });
                    if decision.is_some() && idx.is_none() {
                        self.flash("that decision is older than the history kept in memory", true);
                    }
                }
            }
            Panel::Agents => self.view.focus_panel(Panel::Decisions),
            Panel::Decisions => self.view.focus_panel(Panel::Detail),
            Panel::Chart => {
                self.view.chart_window = self.view.chart_window.next();
            }
            _ => {}
        }
    }

    fn select_agent(&mut self, id: AgentId) {
        if let Some(i) = rows::leaderboard(&self.snapshot).iter().position(|(_, a)| a.id == id) {
            self.set_selection(Panel::Leaderboard, i);
        }
    }

    fn back(&mut self) {
        let focus = self.view.focused();
        if self.view.filter.remove(&focus).is_some() {
            return;
        }
        if self.view.flash.take().is_some() {
            return;
        }
        match focus {
            Panel::Detail => self.view.focus_panel(Panel::Decisions),
            _ if self.view.screen != Screen::Arena => self.view.screen = Screen::Arena,
            _ => {}
        }
    }

    fn jump_to_match(&mut self, forward: bool) {
        let Some(needle) = self.view.filter_of(Panel::Detail).map(str::to_lowercase) else {
            self.flash("no search: press / to search the decision text", true);
            return;
        };
        let Some(d) = self.selected_decision() else { return };
        let lines = detail_lines(d);
        let cur = usize::from(self.view.scroll_of(Panel::Detail));
        let hits: Vec<usize> =
            lines.iter().enumerate().filter(|(_, l)| l.to_lowercase().contains(&needle)).map(|(i, _)| i).collect();
        let next = if forward {
            hits.iter().find(|&&i| i > cur).or(hits.first())
        } else {
            hits.iter().rev().find(|&&i| i < cur).or(hits.last())
        };
        match next {
            Some(&i) => {
                self.view.scroll.insert(Panel::Detail, u16::try_from(i).unwrap_or(u16::MAX));
            }
            None => self.flash(format!("no match for `{needle}`"), true),
        }
    }

    fn copy_selection(&mut self) -> Vec<Effect> {
        let focus = self.view.focused();
        let text = match focus {
            Panel::Decisions | Panel::Detail | Panel::Agents => {
                self.selected_decision().map(|d| rows::decision_plain(d))
            }
            Panel::Reasoning => {
                let list = rows::reasoning(&self.snapshot, self.view.filter_of(Panel::Reasoning));
                list.get(self.sel_in(Panel::Reasoning, list.len())).map(|e| {
                    let full = e
                        .agent
                        .zip(e.decision_id)
                        .and_then(|(a, id)| self.snapshot.agent(a).and_then(|a| a.history.iter().find(|d| d.id == id)));
                    match full {
                        Some(d) => rows::decision_plain(d),
                        None => format!(
                            "{} {} {} {}",
                            crate::clock::fmt_ts(e.ts_ms),
                            e.action,
                            e.text,
                            e.outcome.as_deref().unwrap_or("")
                        ),
                    }
                })
            }
            Panel::Logs => {
                let list = rows::logs(&self.logs, self.view.filter_of(Panel::Logs));
                list.get(self.sel_in(Panel::Logs, list.len())).map(|l| {
                    format!("{} {} {} {}", crate::clock::fmt_ts(l.ts_ms), l.level.as_str(), l.target, l.message)
                })
            }
            _ => self.selected_decision().map(|d| rows::decision_plain(d)),
        };
        match text {
            Some(t) => {
                let n = t.len().min(crate::ui::clipboard::MAX_COPY_BYTES);
                let cut = if t.len() > n { " (cut to the terminal's limit)" } else { "" };
                self.flash(format!("copied {n} bytes via OSC 52{cut}"), false);
                vec![Effect::Copy(t)]
            }
            None => {
                self.flash("nothing to copy here: select a decision or a log line", true);
                Vec::new()
            }
        }
    }

    fn next_theme(&mut self) {
        let names = Theme::available(self.config_dir.as_deref());
        let i = names.iter().position(|n| *n == self.theme.name).map_or(0, |i| i + 1);
        // Skip themes that fail to load, and say so.
        for k in 0..names.len() {
            let name = &names[(i + k) % names.len()];
            match self.set_theme(name) {
                Ok(()) => return,
                Err(e) => self.flash(e, true),
            }
        }
    }

    /// Switches to theme `name` (reduced to the terminal's colour depth).
    pub fn set_theme(&mut self, name: &str) -> Result<(), String> {
        let mut t = Theme::load(name, self.config_dir.as_deref()).map_err(|e| e.to_string())?;
        if self.swap_pnl {
            t.swap_pnl();
        }
        t.reduce_to(self.depth);
        let note = if self.depth == ColorDepth::Mono && name != "mono" {
            " (no colours: NO_COLOR or --color never)"
        } else {
            ""
        };
        self.flash(format!("theme: {name}{note}"), false);
        self.theme = t;
        Ok(())
    }

    fn confirm_flatten_selected(&mut self) {
        let focus = self.view.focused();
        match focus {
            Panel::Positions | Panel::AgentPositions => match self.selected_position() {
                Some(p) => {
                    let c = confirm_flatten_position(&self.snapshot, p.agent, p.symbol);
                    self.view.popup = Some(Popup::Confirm(c));
                }
                None => self.flash("no open position to flatten", true),
            },
            Panel::Orders => match self.selected_order() {
                Some(o) => {
                    let (agent, order) = (o.request.agent, o.request.id);
                    self.view.popup = Some(Popup::Confirm(ConfirmState {
                        title: format!("Cancel order #{order} of {agent}?"),
                        lines: vec![format!(
                            "{} {} {} {} ({})",
                            o.request.symbol,
                            o.request.side.as_str(),
                            fmt::qty(o.remaining()),
                            o.request.kind.name(),
                            o.request.purpose.as_str()
                        )],
                        commands: vec![Command::CancelOrder { agent, order }],
                    }));
                }
                None => self.flash("no open order to cancel", true),
            },
            _ => self.flash("d acts on a position or an order: Tab to Positions (or open screen 3 for orders)", true),
        }
    }

    // ------------------------------------------------------------------ command line

    /// Runs a `:` command line.
    pub fn run_command_line(&mut self, line: &str) -> Vec<Effect> {
        let mut words = line.split_whitespace();
        let Some(cmd) = words.next() else { return Vec::new() };
        let args: Vec<&str> = words.collect();
        let arg = args.first().copied();
        let snap = Arc::clone(&self.snapshot);
        let send = |app: &mut App, c: Command| {
            app.flash(format!("sent: {}", c.describe()), false);
            vec![Effect::Command(c)]
        };
        match (cmd, arg) {
            ("q" | "q!" | "quit" | "qa" | "wq", _) => vec![Effect::Quit],
            ("help" | "h", _) => {
                self.view.popup = Some(Popup::Help { scroll: 0 });
                Vec::new()
            }
            ("pause", Some("all")) => send(self, Command::PauseAll),
            ("resume", Some("all")) => send(self, Command::ResumeAll),
            ("pause" | "resume", Some(name)) => match find_agent(&snap, name) {
                Some(agent) => {
                    let c = if cmd == "pause" { Command::Pause { agent } } else { Command::Resume { agent } };
                    send(self, c)
                }
                None => self.error(format!("no agent named `{name}` (agents: {})", agent_names(&snap))),
            },
            ("flatten", Some("all")) => {
                let mut c = confirm_kill(&snap);
                c.title = "Flatten everything?".into();
                c.lines.retain(|l| !l.contains("halt"));
                c.commands = vec![Command::FlattenAll];
                self.view.popup = Some(Popup::Confirm(c));
                Vec::new()
            }
            ("flatten", Some(name)) if args.len() == 2 => {
                // `:flatten AGENT SYMBOL`: one position of one agent.
                let Some(agent) = find_agent(&snap, name) else {
                    return self.error(format!("no agent named `{name}` (agents: {})", agent_names(&snap)));
                };
                let Some(symbol) = find_symbol(&snap, args[1]) else {
                    return self.error(format!(
                        "no symbol `{}` (symbols: {})",
                        args[1],
                        snap.markets.iter().map(|m| m.base.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                };
                self.view.popup = Some(Popup::Confirm(confirm_flatten_position(&snap, agent, symbol)));
                Vec::new()
            }
            ("flatten", Some(name)) => {
                if let Some(agent) = find_agent(&snap, name).and_then(|id| snap.agent(id)) {
                    self.view.popup = Some(Popup::Confirm(confirm_flatten_agent(agent)));
                } else if let Some(symbol) = find_symbol(&snap, name) {
                    self.view.popup = Some(Popup::Confirm(confirm_flatten_symbol(&snap, symbol)));
                } else {
                    return self.error(format!(
                        "`{name}` is neither an agent ({}) nor a symbol ({})",
                        agent_names(&snap),
                        snap.markets.iter().map(|m| m.base.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                }
                Vec::new()
            }
            ("reduce" | "reduce-only" | "ro", Some(target)) => {
                let on = match args.get(1).copied() {
                    Some("on") | None => true,
                    Some("off") => false,
                    Some(other) => return self.error(format!("reduce-only takes on or off, not `{other}`")),
                };
                if target == "all" {
                    return send(self, Command::SetReduceOnly { agent: None, on });
                }
                match find_agent(&snap, target) {
                    Some(agent) => send(self, Command::SetReduceOnly { agent: Some(agent), on }),
                    None => self.error(format!("no agent named `{target}` (agents: {})", agent_names(&snap))),
                }
            }
            ("kill" | "killswitch" | "kill-switch", _) => {
                self.view.popup = Some(Popup::Confirm(confirm_kill(&snap)));
                Vec::new()
            }
            ("unlatch" | "release", _) => {
                let mut lines = vec!["Agents may open new positions again.".to_owned()];
                if snap.kill_switch_ms.is_none() {
                    lines.insert(0, "The kill switch is not latched now.".to_owned());
                }
                lines.push("The engine refuses unless every account is flat.".to_owned());
                self.view.popup = Some(Popup::Confirm(ConfirmState {
                    title: "Release the kill switch?".into(),
                    lines,
                    commands: vec![Command::ReleaseKillSwitch],
                }));
                Vec::new()
            }
            ("cancel", Some(agent_name)) => {
                let Some(agent) = find_agent(&snap, agent_name) else {
                    return self.error(format!("no agent named `{agent_name}`"));
                };
                let Some(order) = args.get(1).and_then(|s| s.trim_start_matches('#').parse::<u64>().ok()) else {
                    return self.error("usage: :cancel AGENT ORDER_ID");
                };
                self.view.popup = Some(Popup::Confirm(ConfirmState {
                    title: format!("Cancel order #{order} of {agent}?"),
                    lines: vec!["The resting order is cancelled at the venue.".into()],
                    commands: vec![Command::CancelOrder { agent, order: crate::domain::OrderId(order) }],
                }));
                Vec::new()
            }
            ("theme", Some(name)) => {
                if let Err(e) = self.set_theme(name) {
                    return self.error(e);
                }
                Vec::new()
            }
            ("theme", None) => {
                let names = Theme::available(self.config_dir.as_deref());
                self.flash(format!("themes: {} (now {})", names.join(", "), self.theme.name), false);
                Vec::new()
            }
            ("freeze", _) => self.handle_action(Action::Freeze),
            ("screen", Some(n)) | ("s", Some(n)) => match n.parse::<usize>().ok().and_then(|n| Screen::ALL.get(n.wrapping_sub(1))) {
                Some(s) => {
                    self.view.screen = *s;
                    Vec::new()
                }
                None => self.error("screens are 1 to 5"),
            },
            (c, _) if c.parse::<usize>().is_ok_and(|n| (1..=5).contains(&n)) => {
                self.view.screen = Screen::ALL[c.parse::<usize>().unwrap_or(1) - 1];
                Vec::new()
            }
            ("redraw", _) => vec![Effect::Redraw],
            ("pause" | "resume" | "flatten" | "reduce", None) => {
                self.error(format!("`:{cmd}` needs an argument, e.g. :{cmd} {}", example_arg(cmd)))
            }
            _ => self.error(format!(
                "unknown command `:{cmd}`; try :pause NAME, :resume NAME|all, :flatten BTC|NAME|NAME BTC|all, :kill, :unlatch, :theme NAME, :q"
            )),
        }
    }

    fn error(&mut self, msg: impl Into<String>) -> Vec<Effect> {
        self.flash(msg, true);
        Vec::new()
    }
}

fn example_arg(cmd: &str) -> &'static str {
    match cmd {
        "theme" => "light",
        "flatten" => "BTC",
        "reduce" => "NAME on",
        _ => "NAME",
    }
}

/// The lines of the decision detail pane (section titles included).
pub fn detail_lines(d: &crate::engine::journal::DecisionRecord) -> Vec<String> {
    let mut out = Vec::new();
    for (title, lines) in rows::decision_text(d) {
        out.push(format!("── {title}"));
        out.extend(lines);
        out.push(String::new());
    }
    out
}

/// A position's direction in words (`Side::Buy` is a long position).
fn side_word(side: crate::domain::Side) -> &'static str {
    match side {
        crate::domain::Side::Buy => "long",
        crate::domain::Side::Sell => "short",
    }
}

fn agent_names(snap: &Snapshot) -> String {
    snap.agents.iter().map(|a| a.id.to_string()).collect::<Vec<_>>().join(", ")
}

fn find_agent(snap: &Snapshot, name: &str) -> Option<AgentId> {
    snap.agents.iter().find(|a| a.id.as_str().eq_ignore_ascii_case(name)).map(|a| a.id)
}

fn find_symbol(snap: &Snapshot, name: &str) -> Option<Symbol> {
    snap.markets
        .iter()
        .find(|m| m.symbol.as_str().eq_ignore_ascii_case(name) || m.base.eq_ignore_ascii_case(name))
        .map(|m| m.symbol)
}

fn confirm_flatten_agent(a: &AgentSnapshot) -> ConfirmState {
    let mut lines: Vec<String> = a
        .positions
        .iter()
        .map(|p| format!("close {} {} {} at market", p.symbol, side_word(p.side), fmt::qty(p.qty)))
        .collect();
    lines.push(format!("cancel {} resting order(s)", a.open_orders.len()));
    if a.positions.is_empty() {
        lines.insert(0, "no open positions".into());
    }
    ConfirmState { title: format!("Flatten {}?", a.id), lines, commands: vec![Command::FlattenAgent { agent: a.id }] }
}

fn confirm_flatten_position(snap: &Snapshot, agent: AgentId, symbol: Symbol) -> ConfirmState {
    let mut lines: Vec<String> = snap
        .agent(agent)
        .into_iter()
        .flat_map(|a| a.positions.iter())
        .filter(|p| p.symbol == symbol)
        .map(|p| format!("close {} {} {} at market", p.symbol, side_word(p.side), fmt::qty(p.qty)))
        .collect();
    if lines.is_empty() {
        lines.push(format!("{agent} holds no {symbol} now"));
    }
    let orders = snap.agent(agent).map_or(0, |a| a.open_orders.iter().filter(|o| o.request.symbol == symbol).count());
    lines.push(format!("cancel {orders} resting {symbol} order(s) of {agent}; other agents keep theirs"));
    ConfirmState {
        title: format!("Flatten {agent} {symbol}?"),
        lines,
        commands: vec![Command::FlattenPosition { agent, symbol }],
    }
}

fn confirm_flatten_symbol(snap: &Snapshot, symbol: Symbol) -> ConfirmState {
    let mut lines: Vec<String> = snap
        .agents
        .iter()
        .flat_map(|a| a.positions.iter())
        .filter(|p| p.symbol == symbol)
        .map(|p| format!("close {} {} {} of {} at market", p.symbol, side_word(p.side), fmt::qty(p.qty), p.agent))
        .collect();
    if lines.is_empty() {
        lines.push(format!("no agent holds {symbol} now"));
    }
    lines.push(format!("and cancel every resting {symbol} order; this closes {symbol} for all agents"));
    ConfirmState { title: format!("Flatten {symbol}?"), lines, commands: vec![Command::FlattenSymbol { symbol }] }
}

fn confirm_kill(snap: &Snapshot) -> ConfirmState {
    let positions: usize = snap.agents.iter().map(|a| a.positions.len()).sum();
    let orders: usize = snap.agents.iter().map(|a| a.open_orders.len()).sum();
    ConfirmState {
        title: "KILL SWITCH?".into(),
        lines: vec![
            format!("cancel all {orders} resting order(s)"),
            format!("close all {positions} position(s) at market"),
            "halt the arena: latched until :unlatch once flat".into(),
        ],
        commands: vec![Command::KillSwitch],
    }
}
