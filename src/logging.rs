//! Logging to daily-rolling files in the data directory, never to the terminal.
//!
//! The appender is built with `tracing-appender`'s fallible builder (its `rolling::daily`
//! helper panics on I/O errors), the directory is created first (the appender otherwise prints
//! to stderr), the writer is non-lossy, and the returned guard must live until the terminal is
//! restored so buffered lines are flushed on every exit path.

use std::path::Path;

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
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .with_target(true)
        .try_init()
        .map_err(|_| LoggingError::AlreadySet)?;
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::*;

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
