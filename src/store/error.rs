//! Errors of the ledger. Every message says what happened and what the user can do about it.
//! Causes are part of the message (not a `source()` chain), so `{e}` and `{e:#}` both print
//! each cause once.

use std::path::PathBuf;

use super::LedgerBatch;

/// Why a ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation on the ledger file.
    #[error("ledger {path}: {context}: {error}")]
    Sqlite { path: PathBuf, context: &'static str, error: rusqlite::Error },
    /// The file exists but is not a SQLite database (or is damaged beyond opening).
    #[error(
        "{path} is not a usable SQLite ledger ({detail}); point --data-dir at another directory, or restore a copy made with `alphatx backup`"
    )]
    NotALedger { path: PathBuf, detail: String },
    /// The ledger was written by a newer alphatx: using it could silently lose data.
    #[error(
        "ledger {path} has schema version {found}, but this alphatx only knows versions up to {supported}: it was written by a newer alphatx. Upgrade alphatx, or point --data-dir at another directory"
    )]
    NewerSchema { path: PathBuf, found: i64, supported: i64 },
    /// `PRAGMA quick_check` / `integrity_check` reported damage.
    #[error(
        "ledger {path} failed its integrity check: {detail}. Stop alphatx, keep the file for inspection, and restore a copy made with `alphatx backup`"
    )]
    Damaged { path: PathBuf, detail: String },
    /// A stored value could not be decoded (hand-edited or damaged row).
    #[error("ledger {path}: {table}.{column} holds {value:?}, which is not a valid value: {reason}")]
    Corrupt { path: PathBuf, table: &'static str, column: &'static str, value: String, reason: String },
    /// A file system operation around the ledger failed.
    #[error("{context} {path}: {error}")]
    Io { path: PathBuf, context: &'static str, error: std::io::Error },
    /// Another process (or handle) is writing this ledger.
    #[error("another alphatx is already using the ledger {path}: stop it first, or give this one its own --data-dir")]
    InUse { path: PathBuf },
    /// The writer thread is gone (closed, or stopped by a bug); nothing more can be stored.
    #[error("the ledger writer has stopped; nothing more can be stored: restart alphatx")]
    WriterStopped,
    /// Too much is queued: the disk cannot keep up or writes keep failing. The batch is handed
    /// back untouched so the caller can keep it and append it again later.
    #[error(
        "the ledger is {pending_records} records behind (disk too slow or failing): halt trading until it catches up; last error: {last_error}"
    )]
    Backlog { pending_records: usize, last_error: String, batch: Box<LedgerBatch> },
    /// Batches were still unwritten when the writer stopped.
    #[error(
        "{batches} ledger batches ({records} records) could not be written before shutdown: {first_error}. Free disk space or fix the file permissions before the next start"
    )]
    Unflushed { batches: usize, records: usize, first_error: String },
    /// A run id that the ledger does not hold.
    #[error("the ledger has no run {run_id}{hint}")]
    UnknownRun { run_id: i64, hint: String },
    /// A run that cannot be registered as given.
    #[error("cannot register the run: {reason}")]
    InvalidRun { reason: String },
    /// A destination file that must not be overwritten.
    #[error("{path} already exists: choose another file name or remove it first")]
    DestinationExists { path: PathBuf },
    /// Writing exported rows failed (disk full, closed pipe...).
    #[error("cannot write the export: {error}")]
    ExportWrite { error: std::io::Error },
    /// The ledger file does not exist (for commands that only read it).
    #[error("no ledger at {path}: start the arena with `alphatx run` first, or pass the right --data-dir")]
    NoLedger { path: PathBuf },
}

impl StoreError {
    pub(crate) fn sqlite(path: &std::path::Path, context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        let path = path.to_owned();
        move |error| StoreError::Sqlite { path, context, error }
    }
}
