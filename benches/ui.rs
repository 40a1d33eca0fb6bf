//! Cockpit drawing cost: a full Arena frame at 160×48 (target < 1 ms), and the bytes written
//! to the terminal per second in steady state at 10 engine updates a second (what an SSH link
//! carries), measured through the real crossterm backend into a counting writer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/ui_fixture.rs"]
mod fixture;

use std::hint::black_box;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use alphatx::engine::Snapshot;
use alphatx::engine::snapshot::{LogEntry, LogKind};
use alphatx::ui::theme::TermEnv;
use alphatx::ui::{App, UiOptions, build_app};
use criterion::{Criterion, criterion_group};
use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use rust_decimal::Decimal;

fn app() -> App {
    let env = TermEnv { colorterm: Some("truecolor".into()), ..TermEnv::default() };
    let mut app = build_app(&UiOptions::default(), &env, true).unwrap();
    app.snapshot = Arc::new(fixture::snapshot());
    app.wall_ms = fixture::NOW;
    app.size = (160, 48);
    app
}

fn render(c: &mut Criterion) {
    let app = app();
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    c.bench_function("ui/arena_full_frame_160x48", |b| {
        b.iter(|| {
            terminal.draw(|f| alphatx::ui::render::render(f, black_box(&app))).unwrap();
        });
    });
    let mut small = Terminal::new(TestBackend::new(80, 24)).unwrap();
    c.bench_function("ui/arena_full_frame_80x24", |b| {
        b.iter(|| {
            small.draw(|f| alphatx::ui::render::render(f, black_box(&app))).unwrap();
        });
    });
}

/// Counts what would go to the terminal (shared, because the backend owns its writer).
#[derive(Default, Clone)]
struct Counter(Arc<AtomicU64>);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One engine update 100 ms later: prices tick, equity moves, and every second a new
/// reasoning-log line arrives.
fn step(s: &mut Snapshot, i: u32) {
    s.version += 1;
    s.now_ms += 100;
    let wiggle = |k: u32| Decimal::new(i64::from((i * 7 + k * 13) % 11) - 5, 1);
    for (k, m) in s.markets.iter_mut().enumerate() {
        m.last = m.last.map(|p| p + wiggle(k as u32));
        if i.is_multiple_of(50) {
            m.sparkline.rotate_left(1);
        }
    }
    for (k, a) in s.agents.iter_mut().enumerate() {
        a.equity += wiggle(k as u32 + 5);
        for p in &mut a.positions {
            p.unrealized_pnl += wiggle(k as u32 + 9);
        }
    }
    if i.is_multiple_of(10) {
        s.log.push(LogEntry {
            ts_ms: s.now_ms,
            agent: Some(fixture::id("trend")),
            kind: LogKind::Decision,
            action: "hold".into(),
            text: format!("BTCUSDT 15m: no setup at update {i}"),
            outcome: Some("hold".into()),
            decision_id: None,
        });
    }
}

fn steady_state_bytes() {
    let mut app = app();
    let counter = Counter::default();
    let bytes = Arc::clone(&counter.0);
    let backend = CrosstermBackend::new(counter);
    let mut terminal =
        Terminal::with_options(backend, TerminalOptions { viewport: Viewport::Fixed(Rect::new(0, 0, 160, 48)) })
            .unwrap();
    alphatx::ui::terminal::draw(&mut terminal, &app).unwrap();
    let first = bytes.load(Ordering::Relaxed);
    let mut snap = (*app.snapshot).clone();
    let updates = 600; // one minute at 10 updates a second
    for i in 0..updates {
        step(&mut snap, i);
        app.snapshot = Arc::new(snap.clone());
        alphatx::ui::terminal::draw(&mut terminal, &app).unwrap();
    }
    let total = bytes.load(Ordering::Relaxed) - first;
    let secs = f64::from(updates) / 10.0;
    println!(
        "ui/steady_state_160x48: first frame {first} bytes; then {:.0} bytes/s at 10 updates/s ({:.0} bytes per update, {updates} updates)",
        total as f64 / secs,
        total as f64 / f64::from(updates)
    );
}

criterion_group!(benches, render);

fn main() {
    benches();
    steady_state_bytes();
    Criterion::default().configure_from_args().final_summary();
}
