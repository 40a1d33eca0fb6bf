//! Logging to daily-rolling files in the data directory, never to the terminal, plus an
//! optional in-memory ring ([`LogRing`]) that the TUI's Logs screen reads.
//!
//! The appender is built with `tracing-appender`'s fallible builder (its `rolling::daily`
//! helper panics on I/O errors), the directory is created first (the appender otherwise prints
//! to stderr), the writer is non-lossy, and the returned guard must live until the terminal is
//! restored so buffered lines are flushed on every exit path.
//!
//! The ring keeps the newest lines only (bounded); writers hold its lock for one push and
//! readers copy out under a short lock, so rendering never waits on logging for long.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("cannot create the log directory {path}: {source}")]
    Dir { path: std::path::PathBuf, source: std::io::Error },
    #[error("cannot open a log file in {path}: {message}")]
    Appender { path: std::path::PathBuf, message: String },
    #[error("invalid log level `{0}`")]
    Filter(String),
    #[error("a global logger is already installed")]
    AlreadySet,
}

/// Parses a level or `tracing` filter directive.
pub fn parse_filter(level: &str) -> Result<EnvFilter, LoggingError> {
    let level = level.trim();
    let valid_chars = level.chars().all(|c| c.is_ascii_alphanumeric() || "_=,:.-[]{}\"".contains(c));
    if level.is_empty() || !valid_chars {
        return Err(LoggingError::Filter(level.to_owned()));
    }
    EnvFilter::try_new(level).map_err(|_| LoggingError::Filter(level.to_owned()))
}

/// Installs the global file logger. Keep the guard alive until the program ends.
pub fn init(log_dir: &Path, level: &str, keep_files: usize) -> Result<WorkerGuard, LoggingError> {
    init_with_ring(log_dir, level, keep_files, None)
}

/// Like [`init`], and also copies every line that passes the filter into `ring` (for the TUI).
pub fn init_with_ring(
    log_dir: &Path,
    level: &str,
    keep_files: usize,
    ring: Option<LogRing>,
) -> Result<WorkerGuard, LoggingError> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    std::fs::create_dir_all(log_dir).map_err(|source| LoggingError::Dir { path: log_dir.to_owned(), source })?;
    let appender = tracing_appender::rolling::RollingFileAppender::builder()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("alphatx")
        .filename_suffix("log")
        .max_log_files(keep_files.max(1))
        .build(log_dir)
        .map_err(|e| LoggingError::Appender { path: log_dir.to_owned(), message: e.to_string() })?;
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default().lossy(false).finish(appender);
    let filter = parse_filter(level)?;
    let file = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(false).with_target(true);
    tracing_subscriber::registry()
        .with(filter)
        .with(file)
        .with(ring.map(RingLayer))
        .try_init()
        .map_err(|_| LoggingError::AlreadySet)?;
    Ok(guard)
}

/// Severity of a log line, ordered from most to least verbose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub const ALL: [LogLevel; 5] = [LogLevel::Trace, LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }

    fn from_tracing(level: tracing::Level) -> Self {
        match level {
            tracing::Level::TRACE => LogLevel::Trace,
            tracing::Level::DEBUG => LogLevel::Debug,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::ERROR => LogLevel::Error,
        }
    }
}

/// One captured log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Wall time, epoch milliseconds UTC.
    pub ts_ms: i64,
    pub level: LogLevel,
    pub target: String,
    /// The message followed by the event's other fields as `key=value`.
    pub message: String,
}

#[derive(Debug)]
struct RingInner {
    lines: Mutex<VecDeque<LogLine>>,
    cap: usize,
    /// Lines pushed since start; lets readers skip copying when nothing changed.
    pushed: AtomicU64,
}

/// A bounded, shared ring of the newest log lines. Cloning shares the same ring.
#[derive(Debug, Clone)]
pub struct LogRing(Arc<RingInner>);

impl LogRing {
    /// Keeps at most `cap` lines (at least one).
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        Self(Arc::new(RingInner {
            lines: Mutex::new(VecDeque::with_capacity(cap.min(4096))),
            cap,
            pushed: AtomicU64::new(0),
        }))
    }

    /// Appends a line, dropping the oldest when full.
    pub fn push(&self, line: LogLine) {
        // A poisoned lock only means a writer panicked mid-push; the deque is still valid.
        let mut lines = self.0.lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if lines.len() == self.0.cap {
            lines.pop_front();
        }
        lines.push_back(line);
        drop(lines);
        self.0.pushed.fetch_add(1, Ordering::Release);
    }

    /// Number of lines ever pushed (a change counter for readers).
    pub fn version(&self) -> u64 {
        self.0.pushed.load(Ordering::Acquire)
    }

    /// Copies out the lines at or above `min`, oldest first.
    pub fn copy_lines(&self, min: LogLevel) -> Vec<LogLine> {
        let lines = self.0.lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        lines.iter().filter(|l| l.level >= min).cloned().collect()
    }

    pub fn capacity(&self) -> usize {
        self.0.cap
    }
}

/// The `tracing` layer that fills a [`LogRing`].
struct RingLayer(LogRing);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RingLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: tracing_subscriber::layer::Context<'_, S>) {
        let meta = event.metadata();
        let mut visitor = LineVisitor::default();
        event.record(&mut visitor);
        let mut message = visitor.message;
        if !visitor.fields.is_empty() {
            if !message.is_empty() {
                message.push(' ');
            }
            message.push_str(&visitor.fields);
        }
        self.0.push(LogLine {
            ts_ms: jiff::Timestamp::now().as_millisecond(),
            level: LogLevel::from_tracing(*meta.level()),
            target: meta.target().to_owned(),
            message,
        });
    }
}

#[derive(Default)]
struct LineVisitor {
    message: String,
    fields: String,
}

impl tracing::field::Visit for LineVisitor {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.sep();
            let _ = write!(self.fields, "{}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.sep();
            let _ = write!(self.fields, "{}={:?}", field.name(), value);
        }
    }
}

impl LineVisitor {
    fn sep(&mut self) {
        if !self.fields.is_empty() {
            self.fields.push(' ');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_lines_and_filters_by_level() {
        let ring = LogRing::new(3);
        for (i, level) in [LogLevel::Info, LogLevel::Debug, LogLevel::Warn, LogLevel::Error].into_iter().enumerate() {
            ring.push(LogLine { ts_ms: i as i64, level, target: "t".into(), message: format!("m{i}") });
        }
        assert_eq!(ring.version(), 4);
        let all: Vec<String> = ring.copy_lines(LogLevel::Trace).into_iter().map(|l| l.message).collect();
        assert_eq!(all, ["m1", "m2", "m3"]);
        let warn: Vec<String> = ring.copy_lines(LogLevel::Warn).into_iter().map(|l| l.message).collect();
        assert_eq!(warn, ["m2", "m3"]);
    }

    #[test]
    fn the_layer_captures_message_and_fields() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let ring = LogRing::new(10);
        let subscriber = tracing_subscriber::registry().with(RingLayer(ring.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(agent = "trend", n = 3, "Agent request dropped");
        });
        let lines = ring.copy_lines(LogLevel::Trace);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].level, LogLevel::Warn);
        assert_eq!(lines[0].message, "Agent request dropped agent=trend n=3");
    }

    #[test]
    fn filters() {
        for ok in ["info", "debug", "alphatx=debug,warn", "trace"] {
            assert!(parse_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["", "loud!!", "info; rm -rf"] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }
}
