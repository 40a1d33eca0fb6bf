//! The real binary in a pseudo-terminal, read back through a terminal-screen parser (no tmux
//! needed): `alphatx run` starts the cockpit, `?` shows the help, `p` pauses the selected
//! agent, `!` then `y` latches the kill switch, `q` quits with exit code 0 and the terminal is
//! restored. SIGTERM and SIGHUP also end it cleanly with the terminal restored.
//!
//! Afterwards the ledger holds the operator's actions (the audit trail) and the kill switch's
//! state change.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

const ROWS: u16 = 40;
const COLS: u16 = 120;
/// Generous bound on waits (debug build, two shared cores); the test asserts what appears,
/// never how fast.
const PATIENCE: Duration = Duration::from_secs(120);

struct Cockpit {
    screen: Arc<Mutex<vt100::Parser>>,
    /// Every byte the program wrote, for escape-sequence checks.
    raw: Arc<Mutex<Vec<u8>>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
    dir: PathBuf,
}

impl Cockpit {
    fn start(tag: &str) -> Self {
        Self::start_with(tag, "", &[])
    }

    fn start_with(tag: &str, extra_config: &str, env: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("alphatx-pty-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config.toml");
        std::fs::write(&config, format!("[market]\nsource = \"sim\"\n[sim]\nwarmup_days = 2\n{extra_config}")).unwrap();
        let pty = native_pty_system();
        let pair = pty.openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 }).unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_alphatx"));
        cmd.arg("--config");
        cmd.arg(&config);
        cmd.arg("--data-dir");
        cmd.arg(dir.join("data"));
        cmd.arg("run");
        cmd.env("TERM", "xterm-256color");
        cmd.env("COLORTERM", "truecolor");
        cmd.env("LANG", "C.UTF-8");
        cmd.env_remove("NO_COLOR");
        cmd.env_remove("ALPHATX_CONFIG");
        cmd.env_remove("ALPHATX_DATA_DIR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZeroU16::new(ROWS).unwrap(),
            std::num::NonZeroU16::new(COLS).unwrap(),
            0,
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (sink, raw_sink) = (Arc::clone(&screen), Arc::clone(&raw));
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().process(&buf[..n]);
                raw_sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Self { screen, raw, writer, child, _master: pair.master, dir }
    }

    fn text(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) {
        let start = Instant::now();
        loop {
            let text = self.text();
            if ok(&text) {
                return;
            }
            assert!(start.elapsed() < PATIENCE, "waited for {what}; the screen shows:\n{text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn press(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < PATIENCE, "alphatx did not exit; the screen shows:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.process_id().unwrap();
        let ok = std::process::Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().unwrap();
        assert!(ok.success());
    }

    fn restored(&self) -> bool {
        let p = self.screen.lock().unwrap();
        !p.screen().alternate_screen() && !p.screen().hide_cursor()
    }
}

impl Drop for Cockpit {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn started(c: &Cockpit) {
    c.wait_for("the Arena screen with a live feed", |s| {
        s.contains("Leaderboard") && s.contains("LIVE") && s.contains("ACTIVE")
    });
    assert!(c.screen.lock().unwrap().screen().alternate_screen(), "the cockpit uses the alternate screen");
}

#[test]
fn help_pause_kill_switch_and_quit() {
    let mut c = Cockpit::start("keys");
    started(&c);
    c.press("?");
    c.wait_for("the help overlay", |s| s.contains("Help: keys"));
    assert!(c.text().contains("Show or hide this help"), "the help lists the keymap");
    c.press("?");
    c.wait_for("the help to close", |s| !s.contains("Help: keys"));
    c.press("p");
    c.wait_for("the selected agent paused", |s| s.contains("PAUSED"));
    c.press("!");
    c.wait_for("the kill-switch confirmation", |s| s.contains("KILL SWITCH?") && s.contains("[ Cancel ]"));
    // The arming key again must not confirm.
    c.press("!");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!c.text().contains("KILL SWITCH LATCHED"), "only y confirms");
    c.press("y");
    c.wait_for("the kill switch latched", |s| s.contains("KILL SWITCH LATCHED"));
    c.press("q");
    let status = c.wait_exit();
    assert!(status.success(), "exit status {status}");
    c.wait_for("the terminal restored", |_| c.restored());

    // The ledger audited every operator action, and the kill switch's latch is stored.
    let ledger = rusqlite::Connection::open(c.dir.join("data").join("ledger.sqlite")).unwrap();
    let commands: Vec<String> = ledger
        .prepare("SELECT command FROM commands ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(commands.iter().any(|c| c.starts_with("pause ")), "{commands:?}");
    assert!(commands.iter().any(|c| c == "KILL SWITCH"), "{commands:?}");
    let latched: i64 = ledger
        .query_row(
            "SELECT count(*) FROM risk_events WHERE kind = 'state_change' AND agent IS NULL AND state = 'HALTED'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(latched >= 1, "the arena's halted state is stored");
}

#[test]
fn sigterm_and_sighup_stop_cleanly_and_restore_the_terminal() {
    for sig in ["TERM", "HUP"] {
        let mut c = Cockpit::start(sig);
        started(&c);
        c.signal(sig);
        let status = c.wait_exit();
        assert!(status.success(), "SIG{sig}: exit status {status}");
        c.wait_for("the terminal restored", |_| c.restored());
    }
}

#[test]
fn keep_running_survives_a_hangup_until_sigterm() {
    let mut c = Cockpit::start_with("keep", "[ui]\non_hangup = \"keep-running\"\n", &[]);
    started(&c);
    c.signal("HUP");
    c.wait_for("the terminal restored after the hangup", |_| c.restored());
    // Still trading headless: give it a moment, then it must still be alive.
    std::thread::sleep(Duration::from_secs(1));
    assert!(c.child.try_wait().unwrap().is_none(), "the engine keeps running after SIGHUP");
    c.signal("TERM");
    let status = c.wait_exit();
    assert!(status.success(), "exit status {status}");
}

/// Every SGR sequence (`ESC [ params m`) in `raw`, as its parameter string.
fn sgr_params(raw: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < raw.len() {
        if raw[i] == 0x1b && raw[i + 1] == b'[' {
            let start = i + 2;
            let mut j = start;
            while j < raw.len() && (raw[j].is_ascii_digit() || raw[j] == b';' || raw[j] == b':' || raw[j] == b'?') {
                j += 1;
            }
            if j < raw.len() && raw[j] == b'm' {
                out.push(String::from_utf8_lossy(&raw[start..j]).into_owned());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn no_color_sends_no_colour_and_keeps_reverse_video() {
    let mut c = Cockpit::start_with("nocolor", "", &[("NO_COLOR", "1")]);
    started(&c);
    c.press("!");
    c.wait_for("the kill-switch confirmation", |s| s.contains("KILL SWITCH?"));
    c.press("n");
    c.press("q");
    assert!(c.wait_exit().success());
    let params = sgr_params(&c.raw.lock().unwrap());
    assert!(!params.is_empty());
    // crossterm 0.29 would send a bare `ESC [ m` (a full reset) for every suppressed colour,
    // wiping bold and reverse; we force it to send `39`/`49` (default colour) instead.
    assert!(!params.iter().any(String::is_empty), "a bare reset was sent");
    for p in &params {
        for code in p.split(';') {
            let n: u32 = code.parse().unwrap_or(0);
            assert!(
                !matches!(n, 30..=38 | 40..=48 | 90..=97 | 100..=107),
                "colour code {n} sent under NO_COLOR (sequence {p})"
            );
        }
    }
    assert!(params.iter().any(|p| p.split(';').any(|c| c == "7")), "reverse video is used for selection and tabs");
}
