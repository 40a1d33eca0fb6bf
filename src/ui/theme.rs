//! Themes: semantic roles (profit, loss, warning, halted, agent colours, borders, text...)
//! mapped to styles, loaded from TOML.
//!
//! Built-in themes are the files in `themes/`, embedded with `include_str!`; a file
//! `<config dir>/themes/<name>.toml` overrides or adds one (it may set only some roles and
//! names its base with `extends`). Shipped themes must set every role (a test checks). Colours
//! are written for truecolor and reduced to the terminal's depth ([`ColorDepth`]) at load.
//! The `mono` theme uses only bold, dim, reverse and underline, for `NO_COLOR` and
//! `--color never`. Panels never name colours, only roles.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

macro_rules! roles {
    ($($variant:ident => $name:literal,)*) => {
        /// A semantic role; every panel styles text through these.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Role { $($variant,)* }

        impl Role {
            pub const ALL: &'static [Role] = &[$(Role::$variant,)*];

            /// Name in theme files.
            pub fn name(self) -> &'static str {
                match self { $(Role::$variant => $name,)* }
            }
        }
    };
}

roles! {
    Text => "text",
    TextDim => "text_dim",
    Title => "title",
    Border => "border",
    BorderFocus => "border_focus",
    Header => "header",
    Tab => "tab",
    TabActive => "tab_active",
    KeyHint => "key_hint",
    Selection => "selection",
    Profit => "profit",
    Loss => "loss",
    Neutral => "neutral",
    Ok => "ok",
    Warning => "warning",
    Error => "error",
    Stale => "stale",
    Paused => "paused",
    Halted => "halted",
    Killed => "killed",
    Frozen => "frozen",
    Baseline => "baseline",
    ChartAxis => "chart_axis",
    Agent1 => "agent_1",
    Agent2 => "agent_2",
    Agent3 => "agent_3",
    Agent4 => "agent_4",
    Agent5 => "agent_5",
    Agent6 => "agent_6",
    Dialog => "dialog",
    DialogDanger => "dialog_danger",
    Button => "button",
    ButtonFocus => "button_focus",
    SearchMatch => "search_match",
    BadgePaper => "badge_paper",
    BadgeLive => "badge_live",
    LogTrace => "log_trace",
    LogDebug => "log_debug",
    LogInfo => "log_info",
    LogWarn => "log_warn",
    LogError => "log_error",
}

impl Role {
    /// The colour role of the n-th (non-benchmark) agent.
    pub fn agent(n: usize) -> Role {
        [Role::Agent1, Role::Agent2, Role::Agent3, Role::Agent4, Role::Agent5, Role::Agent6][n % 6]
    }
}

/// Why a theme cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("no theme named `{name}`; built-in themes: {available} (or put {name}.toml in {dir})")]
    Unknown { name: String, available: String, dir: String },
    #[error("theme name `{0}` may only use letters, digits, `-` and `_`")]
    BadName(String),
    #[error("cannot read theme file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("theme {origin} is not valid: {message}")]
    Parse { origin: String, message: String },
    #[error("theme {origin} does not set role(s) {missing}")]
    Missing { origin: String, missing: String },
    #[error("theme {origin} extends `{base}`, which extends something again; a theme may only extend a built-in")]
    NestedExtends { origin: String, base: String },
}

/// How many colours the terminal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorDepth {
    TrueColor,
    Ansi256,
    Ansi16,
    /// No colour at all: the `mono` theme.
    Mono,
}

/// The `--color` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColorChoice {
    /// Detect from NO_COLOR, COLORTERM and TERM.
    #[default]
    Auto,
    /// Colours even if NO_COLOR is set (depth still detected, at least 16 colours).
    Always,
    /// No colours: the modifier-only `mono` theme.
    Never,
}

/// The environment variables colour detection reads, passed in explicitly so tests need no
/// process environment.
#[derive(Debug, Clone, Default)]
pub struct TermEnv {
    pub no_color: Option<String>,
    pub colorterm: Option<String>,
    pub term: Option<String>,
    pub term_program: Option<String>,
}

impl TermEnv {
    /// Reads the process environment.
    pub fn from_process() -> Self {
        Self {
            no_color: std::env::var("NO_COLOR").ok(),
            colorterm: std::env::var("COLORTERM").ok(),
            term: std::env::var("TERM").ok(),
            term_program: std::env::var("TERM_PROGRAM").ok(),
        }
    }
}

/// Picks the colour depth: `NO_COLOR` (non-empty) or `never` → mono; `COLORTERM=truecolor|24bit`
/// → RGB; `*256color*` or Apple Terminal → 256; `dumb` → mono; otherwise 16 colours.
pub fn detect_depth(choice: ColorChoice, env: &TermEnv) -> ColorDepth {
    if choice == ColorChoice::Never {
        return ColorDepth::Mono;
    }
    if choice == ColorChoice::Auto && env.no_color.as_deref().is_some_and(|v| !v.is_empty()) {
        return ColorDepth::Mono;
    }
    let term = env.term.as_deref().unwrap_or("");
    if choice == ColorChoice::Auto && term == "dumb" {
        return ColorDepth::Mono;
    }
    let apple = env.term_program.as_deref() == Some("Apple_Terminal");
    if !apple
        && env
            .colorterm
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("truecolor") || c.eq_ignore_ascii_case("24bit"))
    {
        return ColorDepth::TrueColor;
    }
    if apple || term.contains("256color") {
        return ColorDepth::Ansi256;
    }
    ColorDepth::Ansi16
}

/// One role's look as written in a theme file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    dim: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underline: bool,
    #[serde(default)]
    reverse: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    /// Shown in the help and on `t`.
    #[serde(default)]
    description: String,
    /// Base theme for partial user files.
    extends: Option<String>,
    #[serde(default)]
    roles: BTreeMap<String, RoleSpec>,
}

/// Built-in themes, embedded: (name, TOML).
pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
];

/// The default theme.
pub const DEFAULT_THEME: &str = "dark";

/// Resolved styles for every role.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub description: String,
    styles: Vec<Style>,
}

impl Theme {
    /// The style of `role`.
    pub fn style(&self, role: Role) -> Style {
        self.styles.get(role as usize).copied().unwrap_or_default()
    }

    /// Names of the built-in themes.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// A built-in theme by name, every role required.
    pub fn builtin(name: &str) -> Result<Theme, ThemeError> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name).ok_or_else(|| ThemeError::Unknown {
            name: name.to_owned(),
            available: Self::builtin_names().join(", "),
            dir: "<config dir>/themes/".into(),
        })?;
        Self::parse(name, text, &format!("built-in `{name}`"), None)
    }

    /// Parses theme TOML. With `base`, roles the file leaves out come from it; without, every
    /// role must be set.
    pub fn parse(name: &str, text: &str, origin: &str, base: Option<&Theme>) -> Result<Theme, ThemeError> {
        let file: ThemeFile = toml::from_str(text)
            .map_err(|e| ThemeError::Parse { origin: origin.to_owned(), message: e.to_string() })?;
        for key in file.roles.keys() {
            if !Role::ALL.iter().any(|r| r.name() == key) {
                let known: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
                return Err(ThemeError::Parse {
                    origin: origin.to_owned(),
                    message: format!("unknown role `{key}`; roles are {}", known.join(", ")),
                });
            }
        }
        let mut styles = Vec::with_capacity(Role::ALL.len());
        let mut missing = Vec::new();
        for role in Role::ALL {
            match file.roles.get(role.name()) {
                Some(spec) => styles.push(spec_style(spec, role.name(), origin)?),
                None => match base {
                    Some(b) => styles.push(b.style(*role)),
                    None => missing.push(role.name()),
                },
            }
        }
        if !missing.is_empty() {
            return Err(ThemeError::Missing { origin: origin.to_owned(), missing: missing.join(", ") });
        }
        Ok(Theme { name: name.to_owned(), description: file.description, styles })
    }

    /// Loads `name`: a user file in `config_dir/themes/` wins over a built-in of that name.
    pub fn load(name: &str, config_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(ThemeError::BadName(name.to_owned()));
        }
        if let Some(dir) = config_dir {
            let path = dir.join("themes").join(format!("{name}.toml"));
            if path.is_file() {
                let text =
                    std::fs::read_to_string(&path).map_err(|source| ThemeError::Read { path: path.clone(), source })?;
                let origin = path.display().to_string();
                let file: ThemeFile = toml::from_str(&text)
                    .map_err(|e| ThemeError::Parse { origin: origin.clone(), message: e.to_string() })?;
                let base_name =
                    file.extends.as_deref().unwrap_or(if name == DEFAULT_THEME { "" } else { DEFAULT_THEME });
                let base = if base_name.is_empty() || base_name == name {
                    Theme::builtin(name).ok().or_else(|| Theme::builtin(DEFAULT_THEME).ok())
                } else {
                    Some(Theme::builtin(base_name).map_err(|_| ThemeError::NestedExtends {
                        origin: origin.clone(),
                        base: base_name.to_owned(),
                    })?)
                };
                return Self::parse(name, &text, &origin, base.as_ref());
            }
        }
        Theme::builtin(name).map_err(|e| match e {
            ThemeError::Unknown { name, available, .. } => ThemeError::Unknown {
                name,
                available,
                dir: config_dir
                    .map_or_else(|| "<config dir>/themes/".into(), |d| d.join("themes").display().to_string()),
            },
            other => other,
        })
    }

    /// Theme names available: built-ins plus user files, sorted, without duplicates.
    pub fn available(config_dir: Option<&Path>) -> Vec<String> {
        let mut names: Vec<String> = Self::builtin_names().into_iter().map(str::to_owned).collect();
        if let Some(dir) = config_dir
            && let Ok(entries) = std::fs::read_dir(dir.join("themes"))
        {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "toml")
                    && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
                    && !names.iter().any(|n| n == stem)
                {
                    names.push(stem.to_owned());
                }
            }
        }
        names
    }

    /// Swaps the profit and loss roles (markets where red means up).
    pub fn swap_pnl(&mut self) {
        self.styles.swap(Role::Profit as usize, Role::Loss as usize);
    }

    /// Reduces every colour to what the terminal can show.
    pub fn reduce_to(&mut self, depth: ColorDepth) {
        for s in &mut self.styles {
            s.fg = s.fg.map(|c| reduce_color(c, depth));
            s.bg = s.bg.map(|c| reduce_color(c, depth));
            if depth == ColorDepth::Mono {
                s.fg = None;
                s.bg = None;
            }
        }
    }
}

fn spec_style(spec: &RoleSpec, role: &str, origin: &str) -> Result<Style, ThemeError> {
    let color = |c: &Option<String>| -> Result<Option<Color>, ThemeError> {
        c.as_deref()
            .map(|s| {
                Color::from_str(s).map_err(|_| ThemeError::Parse {
                    origin: origin.to_owned(),
                    message: format!(
                        "role `{role}`: `{s}` is not a colour (use a name like `light-red`, `#rrggbb` or an index 0-255)"
                    ),
                })
            })
            .transpose()
    };
    let mut style = Style::default();
    if let Some(fg) = color(&spec.fg)? {
        style = style.fg(fg);
    }
    if let Some(bg) = color(&spec.bg)? {
        style = style.bg(bg);
    }
    let mut m = Modifier::empty();
    for (on, flag) in [
        (spec.bold, Modifier::BOLD),
        (spec.dim, Modifier::DIM),
        (spec.italic, Modifier::ITALIC),
        (spec.underline, Modifier::UNDERLINED),
        (spec.reverse, Modifier::REVERSED),
    ] {
        if on {
            m |= flag;
        }
    }
    Ok(style.add_modifier(m))
}

/// xterm's 16 base colours as RGB.
const ANSI16: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

fn index_rgb(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ANSI16[usize::from(i)].1,
        16..=231 => {
            let n = i - 16;
            let lvl = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            (lvl(n / 36), lvl((n / 6) % 6), lvl(n % 6))
        }
        _ => {
            let g = 8 + (i - 232) * 10;
            (g, g, g)
        }
    }
}

fn dist((r1, g1, b1): (u8, u8, u8), (r2, g2, b2): (u8, u8, u8)) -> u32 {
    let d = |a: u8, b: u8| (i32::from(a) - i32::from(b)).unsigned_abs();
    // Weighted for perceived brightness (green counts most).
    3 * d(r1, r2).pow(2) + 4 * d(g1, g2).pow(2) + 2 * d(b1, b2).pow(2)
}

/// Nearest xterm-256 index of an RGB colour (cube or grey ramp).
pub fn rgb_to_256(rgb: (u8, u8, u8)) -> u8 {
    let (mut best, mut best_d) = (16u8, u32::MAX);
    for i in 16..=255u8 {
        let d = dist(rgb, index_rgb(i));
        if d < best_d {
            best = i;
            best_d = d;
        }
    }
    best
}

/// Nearest of the 16 ANSI colours.
pub fn rgb_to_16(rgb: (u8, u8, u8)) -> Color {
    ANSI16.iter().min_by_key(|(_, c)| dist(rgb, *c)).map_or(Color::Reset, |(c, _)| *c)
}

fn reduce_color(c: Color, depth: ColorDepth) -> Color {
    match (depth, c) {
        (ColorDepth::TrueColor, c) => c,
        (ColorDepth::Ansi256, Color::Rgb(r, g, b)) => Color::Indexed(rgb_to_256((r, g, b))),
        (ColorDepth::Ansi16, Color::Rgb(r, g, b)) => rgb_to_16((r, g, b)),
        (ColorDepth::Ansi16, Color::Indexed(i)) if i >= 16 => rgb_to_16(index_rgb(i)),
        (ColorDepth::Ansi16, Color::Indexed(i)) => ANSI16[usize::from(i)].0,
        (ColorDepth::Mono, _) => Color::Reset,
        (_, c) => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_detection() {
        let env = |no: Option<&str>, ct: Option<&str>, term: Option<&str>| TermEnv {
            no_color: no.map(str::to_owned),
            colorterm: ct.map(str::to_owned),
            term: term.map(str::to_owned),
            term_program: None,
        };
        assert_eq!(detect_depth(ColorChoice::Auto, &env(Some("1"), Some("truecolor"), None)), ColorDepth::Mono);
        assert_eq!(detect_depth(ColorChoice::Auto, &env(Some(""), Some("truecolor"), None)), ColorDepth::TrueColor);
        assert_eq!(detect_depth(ColorChoice::Always, &env(Some("1"), None, Some("xterm"))), ColorDepth::Ansi16);
        assert_eq!(detect_depth(ColorChoice::Never, &env(None, Some("24bit"), None)), ColorDepth::Mono);
        assert_eq!(detect_depth(ColorChoice::Auto, &env(None, None, Some("screen-256color"))), ColorDepth::Ansi256);
        assert_eq!(detect_depth(ColorChoice::Auto, &env(None, None, Some("linux"))), ColorDepth::Ansi16);
        let apple = TermEnv {
            term_program: Some("Apple_Terminal".into()),
            colorterm: Some("truecolor".into()),
            ..TermEnv::default()
        };
        assert_eq!(detect_depth(ColorChoice::Auto, &apple), ColorDepth::Ansi256);
    }

    #[test]
    fn colour_reduction_picks_near_colours() {
        assert_eq!(rgb_to_256((255, 0, 0)), 196);
        assert_eq!(rgb_to_256((128, 128, 128)), 244);
        assert_eq!(rgb_to_16((250, 10, 10)), Color::LightRed);
        assert_eq!(rgb_to_16((0, 200, 0)), Color::Green);
        let mut t = Theme::builtin("dark").unwrap();
        t.reduce_to(ColorDepth::Ansi16);
        for r in Role::ALL {
            for c in [t.style(*r).fg, t.style(*r).bg].into_iter().flatten() {
                assert!(!matches!(c, Color::Rgb(..) | Color::Indexed(16..)), "{} kept {c:?}", r.name());
            }
        }
    }

    #[test]
    fn partial_user_theme_extends_a_builtin_and_errors_name_the_problem() {
        let dark = Theme::builtin("dark").unwrap();
        let t = Theme::parse("mine", "[roles]\nprofit = { fg = \"blue\" }\n", "mine.toml", Some(&dark)).unwrap();
        assert_eq!(t.style(Role::Profit).fg, Some(Color::Blue));
        assert_eq!(t.style(Role::Loss), dark.style(Role::Loss));
        let e = Theme::parse("x", "[roles]\nprofitt = { fg = \"blue\" }\n", "x.toml", Some(&dark)).unwrap_err();
        assert!(e.to_string().contains("profitt"), "{e}");
        let e = Theme::parse("x", "[roles]\nprofit = { fg = \"bluish\" }\n", "x.toml", Some(&dark)).unwrap_err();
        assert!(e.to_string().contains("bluish"), "{e}");
        let e = Theme::parse("x", "[roles]\nprofit = { fg = \"blue\" }\n", "x.toml", None).unwrap_err();
        assert!(e.to_string().contains("loss"), "{e}");
        assert!(Theme::load("../etc/passwd", None).is_err());
        let e = Theme::load("nope", None).unwrap_err().to_string();
        assert!(e.contains("dark") && e.contains("high-contrast"), "{e}");
    }
}
