//! UI-only state: which screen and panel is focused, selections, scroll offsets, popups, the
//! command line, filters, the freeze timer and flash messages. Nothing here is trading state;
//! the engine's picture comes from the snapshot.

use std::collections::BTreeMap;

use ratatui::layout::Rect;

use crate::domain::AgentId;
use crate::engine::Command;
use crate::logging::LogLevel;

/// The five screens, in `1`–`5` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Screen {
    Arena,
    Agent,
    Orders,
    Risk,
    Logs,
}

impl Screen {
    pub const ALL: [Screen; 5] = [Screen::Arena, Screen::Agent, Screen::Orders, Screen::Risk, Screen::Logs];

    pub fn title(self) -> &'static str {
        match self {
            Screen::Arena => "Arena",
            Screen::Agent => "Agent",
            Screen::Orders => "Orders",
            Screen::Risk => "Risk",
            Screen::Logs => "Logs",
        }
    }

    pub fn index(self) -> usize {
        Screen::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// Panels that take focus, in Tab order.
    pub fn panels(self) -> &'static [Panel] {
        match self {
            Screen::Arena => {
                &[Panel::Leaderboard, Panel::Positions, Panel::Reasoning, Panel::Markets, Panel::Chart, Panel::Risk]
            }
            Screen::Agent => &[Panel::Agents, Panel::Decisions, Panel::Detail, Panel::AgentPositions],
            Screen::Orders => &[Panel::Orders, Panel::Trades, Panel::Fills],
            Screen::Risk => &[Panel::Health],
            Screen::Logs => &[Panel::Logs],
        }
    }
}

/// A focusable panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Panel {
    Leaderboard,
    Chart,
    Markets,
    Positions,
    Risk,
    Reasoning,
    Agents,
    Decisions,
    Detail,
    AgentPositions,
    Orders,
    Trades,
    Fills,
    Health,
    Logs,
}

impl Panel {
    /// Panels whose rows the `/` filter narrows.
    pub fn filterable(self) -> bool {
        matches!(
            self,
            Panel::Reasoning
                | Panel::Decisions
                | Panel::Orders
                | Panel::Trades
                | Panel::Fills
                | Panel::Logs
                | Panel::Positions
        )
    }

    /// Panels that scroll text rather than select rows.
    pub fn is_text(self) -> bool {
        matches!(self, Panel::Detail | Panel::Health | Panel::Chart | Panel::Risk)
    }
}

/// The account-value chart's time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartWindow {
    H1,
    H6,
    H24,
    All,
}

impl ChartWindow {
    pub fn label(self) -> &'static str {
        match self {
            ChartWindow::H1 => "1h",
            ChartWindow::H6 => "6h",
            ChartWindow::H24 => "24h",
            ChartWindow::All => "all",
        }
    }

    pub fn span_ms(self) -> Option<i64> {
        match self {
            ChartWindow::H1 => Some(3_600_000),
            ChartWindow::H6 => Some(6 * 3_600_000),
            ChartWindow::H24 => Some(24 * 3_600_000),
            ChartWindow::All => None,
        }
    }

    pub fn next(self) -> Self {
        match self {
            ChartWindow::H1 => ChartWindow::H6,
            ChartWindow::H6 => ChartWindow::H24,
            ChartWindow::H24 => ChartWindow::All,
            ChartWindow::All => ChartWindow::H1,
        }
    }
}

/// A dangerous action waiting for `y`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmState {
    pub title: String,
    /// What exactly will happen, one line each.
    pub lines: Vec<String>,
    pub commands: Vec<Command>,
}

/// An overlay on top of the screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Help { scroll: u16 },
    Confirm(ConfirmState),
}

/// What the one-line input is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Command,
    Filter,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub kind: InputKind,
    pub text: String,
}

/// A short message in the hint bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
    /// Wall time after which it disappears.
    pub until_ms: i64,
}

/// The largest scroll offset of each text panel (its wrapped height minus what fits), written
/// by the renderer, which is the only place that knows the width, and read by the keys, so `G`
/// shows the last page and `k` moves from there at once.
#[derive(Debug, Clone, Default)]
pub struct ScrollMax(std::cell::RefCell<BTreeMap<Panel, u16>>);

impl ScrollMax {
    pub fn get(&self, panel: Panel) -> Option<u16> {
        self.0.borrow().get(&panel).copied()
    }

    /// Records `panel`'s limit for `paragraph` (without its block: ratatui would wrap it at the
    /// outer width) drawn in `area` (the block's inner area) and returns the offset to draw with:
    /// `wanted`, clamped to it.
    pub fn clamp(&self, panel: Panel, paragraph: &ratatui::widgets::Paragraph<'_>, area: Rect, wanted: u16) -> u16 {
        let max = paragraph.line_count(area.width).saturating_sub(usize::from(area.height));
        let max = u16::try_from(max).unwrap_or(u16::MAX);
        self.0.borrow_mut().insert(panel, max);
        wanted.min(max)
    }
}

/// Everything the UI remembers between frames.
#[derive(Debug, Clone)]
pub struct ViewState {
    pub screen: Screen,
    /// Focused panel index per screen.
    pub focus: [usize; 5],
    /// Selected row per list panel.
    pub selected: BTreeMap<Panel, usize>,
    /// Scroll offset per text panel.
    pub scroll: BTreeMap<Panel, u16>,
    /// Largest useful scroll offset per text panel, measured when it was last drawn.
    pub scroll_max: ScrollMax,
    /// The agent the Agent screen shows and agent keys act on.
    pub agent: Option<AgentId>,
    pub popup: Option<Popup>,
    pub input: Option<Input>,
    /// Filter text per panel.
    pub filter: BTreeMap<Panel, String>,
    /// Wall time the display was frozen at.
    pub frozen_since_ms: Option<i64>,
    pub chart_window: ChartWindow,
    pub log_level: LogLevel,
    pub flash: Option<Flash>,
}

impl Default for ViewState {
    fn default() -> Self {
        Self {
            screen: Screen::Arena,
            focus: [0; 5],
            selected: BTreeMap::new(),
            scroll: BTreeMap::new(),
            scroll_max: ScrollMax::default(),
            agent: None,
            popup: None,
            input: None,
            filter: BTreeMap::new(),
            frozen_since_ms: None,
            chart_window: ChartWindow::All,
            log_level: LogLevel::Info,
            flash: None,
        }
    }
}

impl ViewState {
    pub fn focused(&self) -> Panel {
        let panels = self.screen.panels();
        panels[self.focus[self.screen.index()] % panels.len()]
    }

    pub fn focus_panel(&mut self, panel: Panel) {
        for s in Screen::ALL {
            if let Some(i) = s.panels().iter().position(|p| *p == panel) {
                self.screen = s;
                self.focus[s.index()] = i;
                return;
            }
        }
    }

    pub fn sel(&self, panel: Panel) -> usize {
        self.selected.get(&panel).copied().unwrap_or(0)
    }

    pub fn scroll_of(&self, panel: Panel) -> u16 {
        self.scroll.get(&panel).copied().unwrap_or(0)
    }

    pub fn filter_of(&self, panel: Panel) -> Option<&str> {
        self.filter.get(&panel).map(String::as_str).filter(|f| !f.is_empty())
    }
}
