//! Actions: what a key means, independent of which key it is.
//!
//! Every bindable action is listed in [`Action::ALL`] with its config name, description,
//! category and `dangerous` flag; the keymap, the help overlay, the hint bar, the README's key
//! table and `alphatx keys --json` are all generated from this one table. Dangerous actions
//! never act directly: they open a confirmation popup that only the `confirm` key accepts.

use serde::Serialize;

/// Where an action is listed in the help and which key layer it lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    General,
    Screens,
    Navigation,
    Trading,
    /// Keys inside a confirmation popup (their own layer).
    Dialog,
}

impl Category {
    pub const ALL: [Category; 5] =
        [Category::General, Category::Screens, Category::Navigation, Category::Trading, Category::Dialog];

    pub fn title(self) -> &'static str {
        match self {
            Category::General => "General",
            Category::Screens => "Screens",
            Category::Navigation => "Navigation",
            Category::Trading => "Agents & risk",
            Category::Dialog => "Confirmation popup",
        }
    }
}

/// A bindable action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    Help,
    CommandLine,
    Filter,
    NextMatch,
    PrevMatch,
    Freeze,
    Copy,
    NextTheme,
    ChartWindow,
    LogLevel,
    Redraw,
    ScreenArena,
    ScreenAgent,
    ScreenOrders,
    ScreenRisk,
    ScreenLogs,
    PrevScreen,
    NextScreen,
    FocusNext,
    FocusPrev,
    Down,
    Up,
    Top,
    Bottom,
    HalfPageDown,
    HalfPageUp,
    PageDown,
    PageUp,
    Open,
    Back,
    PauseAgent,
    PauseAll,
    ReduceOnly,
    FlattenSelected,
    FlattenAgent,
    KillSwitch,
    Confirm,
    Cancel,
}

/// The static description of an action.
#[derive(Debug, Clone, Copy)]
pub struct ActionInfo {
    pub action: Action,
    /// Name in `[ui.keys]` and `alphatx keys`.
    pub name: &'static str,
    pub description: &'static str,
    pub category: Category,
    /// Opens a confirmation popup instead of acting at once.
    pub dangerous: bool,
    /// Default keys, in the syntax of [`super::keymap::KeyBinding`].
    pub default_keys: &'static [&'static str],
}

const fn info(
    action: Action,
    name: &'static str,
    category: Category,
    dangerous: bool,
    default_keys: &'static [&'static str],
    description: &'static str,
) -> ActionInfo {
    ActionInfo { action, name, description, category, dangerous, default_keys }
}

use Category::{Dialog, General, Navigation, Screens, Trading};

/// Every action, in help order. Ctrl-B, Ctrl-A and Alt-combinations are left free for tmux and
/// zellij, and nothing suspends on Ctrl-Z (a stopped process would stop risk checks too).
pub const ACTIONS: &[ActionInfo] = &[
    info(
        Action::Quit,
        "quit",
        General,
        false,
        &["q", "ctrl+c"],
        "Quit: stop the engine cleanly and restore the terminal",
    ),
    info(Action::Help, "help", General, false, &["?", "f1"], "Show or hide this help"),
    info(
        Action::CommandLine,
        "command_line",
        General,
        false,
        &[":"],
        "Command line (:pause NAME, :flatten BTC, :kill, :theme NAME, :q)",
    ),
    info(Action::Filter, "filter", General, false, &["/"], "Filter the focused list (or search the focused text)"),
    info(Action::NextMatch, "next_match", General, false, &["n"], "Next match of the filter"),
    info(Action::PrevMatch, "prev_match", General, false, &["N"], "Previous match of the filter"),
    info(Action::Freeze, "freeze", General, false, &["f"], "Freeze the display (the engine keeps running)"),
    info(Action::Copy, "copy", General, false, &["c"], "Copy the selected decision or line to the clipboard (OSC 52)"),
    info(Action::NextTheme, "next_theme", General, false, &["t"], "Next colour theme"),
    info(
        Action::ChartWindow,
        "chart_window",
        General,
        false,
        &["w"],
        "Next account-value chart window (1h, 6h, 24h, all)",
    ),
    info(Action::LogLevel, "log_level", General, false, &["l"], "Logs screen: next minimum level"),
    info(Action::Redraw, "redraw", General, false, &["ctrl+l"], "Redraw the whole screen"),
    info(
        Action::ScreenArena,
        "screen_arena",
        Screens,
        false,
        &["1"],
        "Arena: leaderboard, chart, markets, positions, risk, reasoning",
    ),
    info(
        Action::ScreenAgent,
        "screen_agent",
        Screens,
        false,
        &["2"],
        "Agent: decisions, full reasoning, prompt and raw output",
    ),
    info(Action::ScreenOrders, "screen_orders", Screens, false, &["3"], "Orders & trades"),
    info(Action::ScreenRisk, "screen_risk", Screens, false, &["4"], "Risk & health: limits, breakers, feeds, agents"),
    info(Action::ScreenLogs, "screen_logs", Screens, false, &["5"], "Logs (filter by level)"),
    info(Action::PrevScreen, "prev_screen", Screens, false, &["["], "Previous screen"),
    info(Action::NextScreen, "next_screen", Screens, false, &["]"], "Next screen"),
    info(Action::FocusNext, "focus_next", Navigation, false, &["tab"], "Focus the next panel"),
    info(Action::FocusPrev, "focus_prev", Navigation, false, &["shift+tab"], "Focus the previous panel"),
    info(Action::Down, "down", Navigation, false, &["j", "down"], "Move down"),
    info(Action::Up, "up", Navigation, false, &["k", "up"], "Move up"),
    info(Action::Top, "top", Navigation, false, &["g", "home"], "Go to the top (newest)"),
    info(Action::Bottom, "bottom", Navigation, false, &["G", "end"], "Go to the bottom (oldest)"),
    info(Action::HalfPageDown, "half_page_down", Navigation, false, &["ctrl+d"], "Half a page down"),
    info(Action::HalfPageUp, "half_page_up", Navigation, false, &["ctrl+u"], "Half a page up"),
    info(Action::PageDown, "page_down", Navigation, false, &["pagedown"], "Page down"),
    info(Action::PageUp, "page_up", Navigation, false, &["pageup"], "Page up"),
    info(Action::Open, "open", Navigation, false, &["enter"], "Details of the selected row (agent, decision)"),
    info(Action::Back, "back", Navigation, false, &["esc"], "Back: close a popup, clear the filter, leave details"),
    info(
        Action::PauseAgent,
        "pause_agent",
        Trading,
        false,
        &["p"],
        "Pause or resume the selected agent (its positions stay protected)",
    ),
    info(Action::PauseAll, "pause_all", Trading, false, &["P"], "Pause every agent at once"),
    info(Action::ReduceOnly, "reduce_only", Trading, false, &["r"], "Toggle reduce-only for the selected agent"),
    info(
        Action::FlattenSelected,
        "flatten_selected",
        Trading,
        true,
        &["d"],
        "Flatten the selected position, or cancel the selected order",
    ),
    info(
        Action::FlattenAgent,
        "flatten_agent",
        Trading,
        true,
        &["D"],
        "Flatten the selected agent: cancel its orders, close its positions",
    ),
    info(
        Action::KillSwitch,
        "kill_switch",
        Trading,
        true,
        &["!"],
        "KILL SWITCH: cancel everything, close everything, halt (latched)",
    ),
    info(Action::Confirm, "confirm", Dialog, false, &["y"], "Confirm the dangerous action shown"),
    info(Action::Cancel, "cancel", Dialog, false, &["n", "esc", "enter"], "Cancel (the default: Enter cancels too)"),
];

impl Action {
    /// The static description of this action.
    pub fn info(self) -> &'static ActionInfo {
        // Every variant has exactly one row (a unit test checks it); the fallback is never used.
        ACTIONS.iter().find(|i| i.action == self).unwrap_or(&ACTIONS[0])
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn from_name(name: &str) -> Option<Action> {
        ACTIONS.iter().find(|i| i.name == name).map(|i| i.action)
    }

    pub fn is_dangerous(self) -> bool {
        self.info().dangerous
    }

    /// True for actions of the confirmation popup's own key layer.
    pub fn is_dialog(self) -> bool {
        self.info().category == Category::Dialog
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_one_row_and_a_unique_name() {
        for (i, a) in ACTIONS.iter().enumerate() {
            assert_eq!(ACTIONS.iter().filter(|b| b.action == a.action).count(), 1, "{}", a.name);
            assert!(ACTIONS[..i].iter().all(|b| b.name != a.name), "{}", a.name);
            assert_eq!(a.action.info().name, a.name);
            assert_eq!(Action::from_name(a.name), Some(a.action));
        }
        assert_eq!(ACTIONS.len(), 39);
    }
}
