//! The SQLite ledger: every order, fill, position, funding payment, equity sample, agent
//! decision, risk event and operator command of a run, durably.
//!
//! Shape: one OS thread (the writer) owns the only write connection. Callers hand it
//! [`LedgerBatch`]es with [`Ledger::append`], which never waits on disk; the writer drains
//! everything queued into one `BEGIN IMMEDIATE` transaction (at most
//! [`LedgerOptions::max_tx_records`] records), commits it under WAL with `synchronous=FULL`, and only then sends one [`LedgerAck`] per
//! batch on the channel from [`Ledger::acks`]. Reads (resume, export, backup) use their own
//! read-only connections and never block the writer.
//!
//! Invariants:
//! - **Ack after commit.** An `Ok` ack for a batch is sent only after the transaction holding it
//!   committed, so anything acknowledged is readable from any other connection and survives a
//!   crash (and, with `synchronous=FULL`, a power loss).
//! - **Nothing queued is dropped on a failed commit.** The transaction is rolled back, each batch
//!   in it gets one `Err` ack (the first time it fails), and the batches stay at the head of the
//!   queue, in order, retried with a back-off (50 ms doubling to 2 s). When a retry commits they
//!   get their `Ok` ack. So a batch receives at most one `Err` and at most one `Ok`, always in
//!   that order, and `Ok` acks arrive in `seq` order. Batches queued behind a failing
//!   transaction are not acked until a transaction including them is attempted. The engine
//!   halts new entries on the first `Err` and resumes only on operator action; the ledger
//!   itself catches up on its own once the disk is writable again.
//! - **A fill is stored once**: unique on (venue, trade id). Replaying the same fill is ignored;
//!   a different fill under an id already used is kept in `fill_conflicts` and counted in
//!   [`StoreStats::fill_conflicts`], never applied to an account.
//! - **Positions and accounts equal their fills.** The writer applies each new fill and funding
//!   payment with the same domain code as the engine
//!   ([`crate::domain::Account::apply_fill`]) and writes the
//!   resulting position and account rows in the same transaction as the fill rows.
//! - The queue is bounded ([`LedgerOptions::max_pending_records`]); past it `append` hands the
//!   batch back in [`StoreError::Backlog`] instead of blocking or dropping it.
//! - Only one process writes a ledger: `Ledger::open` takes an advisory lock on
//!   `<ledger>.lock` (released by the OS if the process dies); readers take no lock.
//! - `begin_run`, `retire_run`, `close` and dropping the handle block until the writer answers
//!   (a commit, or the final flush): call them from a blocking context, not inside async code.

mod backup;
mod codec;
mod error;
pub mod export;
pub mod resume;
pub mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rust_decimal::Decimal;
use serde::Serialize;

pub use error::StoreError;
pub use export::{ExportFormat, ExportSummary, ExportWhat, RunSelector, export};
pub use resume::{PositionMismatch, ResumeState, RunSummary, list_runs, verify_positions};

use crate::domain::{AgentId, Symbol};
use crate::engine::journal::JournalRecord;
use crate::execution::ExecEvent;

/// Limits of the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerOptions {
    /// Most records (venue events + journal records) written in one transaction. A single
    /// batch larger than this is still written whole, in a transaction of its own.
    pub max_tx_records: usize,
    /// Most records queued and not yet committed before [`Ledger::append`] refuses more
    /// (a batch is always accepted when nothing else is pending).
    pub max_pending_records: usize,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        Self { max_tx_records: 5_000, max_pending_records: 1_000_000 }
    }
}

/// A new run to register with [`Ledger::begin_run`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// Resumable runs are looked up by profile (e.g. `default`, or a user-named arena).
    pub profile: String,
    /// Market source (`sim`, `replay`, `binance`...).
    pub source: String,
    pub seed: Option<u64>,
    /// The effective configuration, for the record.
    pub config_toml: String,
    /// Wall time the run started.
    pub started_ms: i64,
    /// Market time the simulated market started at (sim runs), so a resumed run can continue it.
    pub sim_start_ms: Option<i64>,
    pub agents: Vec<NewAgent>,
}

/// An agent of a new run, with its account's starting balance.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAgent {
    pub id: AgentId,
    /// Strategy or model kind (`trend`, `llm`...).
    pub kind: String,
    pub benchmark: bool,
    pub symbols: Vec<Symbol>,
    pub balance: Decimal,
}

/// Records to store together. `seq` is the caller's sequence number, echoed in the ack.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LedgerBatch {
    pub seq: u64,
    pub run_id: i64,
    /// Venue reports, in the order the venue produced them.
    pub exec: Vec<ExecEvent>,
    pub journal: Vec<JournalRecord>,
}

impl LedgerBatch {
    /// Venue events plus journal records.
    pub fn records(&self) -> usize {
        self.exec.len() + self.journal.len()
    }
}

/// The outcome of a commit attempt for one batch (see the module doc for the sequence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerAck {
    pub seq: u64,
    /// `Ok`: committed. `Err`: the commit failed; the batch stays queued and is retried, and an
    /// `Ok` follows if a retry commits.
    pub result: Result<(), String>,
}

/// Counters of the writer, for the health screen.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StoreStats {
    /// Batches appended and not committed yet (queued, in flight or waiting for a retry).
    pub pending_batches: usize,
    pub pending_records: usize,
    /// Transactions committed.
    pub commits: u64,
    pub batches_committed: u64,
    /// Records (venue events + journal records) committed.
    pub records_committed: u64,
    /// Rows inserted or updated, all tables.
    pub rows_written: u64,
    pub fills_written: u64,
    /// Fills ignored because the same fill was already stored.
    pub duplicate_fills: u64,
    /// Fills whose (venue, trade id) was already used by a different fill.
    pub fill_conflicts: u64,
    /// Duration of the last commit (from `BEGIN` to the end of `COMMIT`, fsync included).
    pub last_commit_us: u64,
    pub max_commit_us: u64,
    /// Failed transactions.
    pub failures: u64,
    /// The last commit failed and batches are waiting for a retry.
    pub failing: bool,
    pub last_error: Option<String>,
    /// Batches refused (unknown run) and never stored.
    pub dropped_batches: u64,
}

/// A fault the writer applies to its own connection, to prove failure handling in tests
/// without root tricks: the failures are SQLite's real ones on a real commit.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `PRAGMA query_only = 1`: every write fails with SQLITE_READONLY.
    ReadOnly,
    /// `PRAGMA max_page_count` = current size: any growth fails with SQLITE_FULL (disk full).
    DiskFull,
    /// Every statement succeeds but `COMMIT` is replaced by a rollback reported as an I/O
    /// error: the latest point a transaction can fail, after all its rows were written.
    CommitFails,
}

/// The ledger handle: owns the writer thread. `Send + Sync`; share it behind an `Arc`.
pub struct Ledger {
    path: PathBuf,
    /// Exclusive lock on `<ledger>.lock` for the handle's life: one writing process per ledger.
    _lock: std::fs::File,
    shared: Arc<writer::Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    acks: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<LedgerAck>>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Ledger {
    /// Opens/creates the file, applies migrations (refuses a newer schema with a clear message),
    /// checks it (`quick_check`), sets WAL, synchronous=FULL, busy_timeout, foreign_keys, and
    /// starts the writer thread.
    pub fn open(path: &Path) -> Result<Ledger, StoreError> {
        Self::open_with(path, LedgerOptions::default())
    }

    /// [`Ledger::open`] with explicit writer limits.
    pub fn open_with(path: &Path, options: LedgerOptions) -> Result<Ledger, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_owned(),
                context: "cannot create the data directory",
                error: source,
            })?;
        }
        let lock = lock_ledger(path)?;
        let mut conn = schema::open_writer(path)?;
        schema::migrate(&mut conn, path)?;
        schema::check(&conn, path, false)?;
        let (ack_tx, ack_rx) = tokio::sync::mpsc::unbounded_channel();
        let (shared, jobs) = writer::Shared::new(options);
        let shared = Arc::new(shared);
        let writer = writer::Writer::new(jobs, conn, path.to_owned(), Arc::clone(&shared), ack_tx)?;
        let thread = std::thread::Builder::new().name("alphatx-ledger".into()).spawn(move || writer.run()).map_err(
            |source| StoreError::Io {
                path: path.to_owned(),
                context: "cannot start the ledger writer for",
                error: source,
            },
        )?;
        tracing::info!(path = %path.display(), version = schema::current_version(), "ledger open");
        Ok(Ledger {
            path: path.to_owned(),
            _lock: lock,
            shared,
            thread: Mutex::new(Some(thread)),
            acks: Mutex::new(Some(ack_rx)),
        })
    }

    /// The ledger file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Registers a new run (and its agents and their accounts) and returns its id, durably
    /// (blocks until committed).
    pub fn begin_run(&self, run: NewRun) -> Result<i64, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.shared.control(writer::Control::BeginRun(Box::new(run), tx))?;
        rx.recv().map_err(|_| StoreError::WriterStopped)?
    }

    /// Marks a run as finished: [`Ledger::resume_state`] no longer offers it (history is kept).
    /// Blocks until committed.
    pub fn retire_run(&self, run_id: i64, ts_ms: i64) -> Result<(), StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.shared.control(writer::Control::RetireRun { run_id, ts_ms, reply: tx })?;
        rx.recv().map_err(|_| StoreError::WriterStopped)?
    }

    /// The latest run of `profile` that can be resumed (not retired), rebuilt from the committed
    /// ledger. Data still queued in the writer is not seen: call it before appending.
    pub fn resume_state(&self, profile: &str) -> Result<Option<ResumeState>, StoreError> {
        resume::load(&self.path, profile)
    }

    /// The next trade id a paper-style venue should assign: fills are unique on
    /// (venue, trade id) across runs, so a fresh run continues the venue's sequence.
    pub fn next_trade_id(&self, venue: &str) -> Result<u64, StoreError> {
        resume::next_trade_id(&self.path, venue)
    }

    /// Queues a batch without blocking the caller (never waits on disk).
    pub fn append(&self, batch: LedgerBatch) -> Result<(), StoreError> {
        self.shared.append(batch)
    }

    /// Commit acknowledgements (see the module doc): `Ok` acks in seq order, one per batch, sent
    /// only after the transaction containing it committed; an `Err` ack precedes it if a commit
    /// attempt failed. Acks are buffered from [`Ledger::open`] on, so none is missed; the first
    /// call takes the receiver, later calls return `None`.
    pub fn acks(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<LedgerAck>> {
        self.acks.lock().ok()?.take()
    }

    /// Pending batches, commits, rows, last commit latency, failures, last error.
    pub fn stats(&self) -> StoreStats {
        self.shared.stats()
    }

    /// Applies (or with `None` clears) a [`Fault`] on the writer's connection before its next
    /// transaction. For tests of failure handling.
    #[doc(hidden)]
    pub fn inject_fault(&self, fault: Option<Fault>) -> Result<(), StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.shared.control(writer::Control::Fault(fault, tx))?;
        rx.recv().map_err(|_| StoreError::WriterStopped)?
    }

    /// Flushes everything queued, stops the writer and returns [`StoreError::Unflushed`] if
    /// batches could still not be written after a few final attempts (transient failures that
    /// a retry overcame are only in [`Ledger::stats`]).
    pub fn close(self) -> Result<(), StoreError> {
        self.stop()
    }

    fn stop(&self) -> Result<(), StoreError> {
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        let Some(handle) = handle else { return Ok(()) };
        self.shared.shutdown();
        if handle.join().is_err() {
            return Err(StoreError::WriterStopped);
        }
        self.shared.unflushed().map_or(Ok(()), Err)
    }

    /// Consistent online copy of the ledger at `path_of_ledger` into the new file `dest`, with
    /// SQLite's backup API, while the writer keeps running. The copy is checked with
    /// `PRAGMA integrity_check` before it is moved into place.
    pub fn backup_to(path_of_ledger: &Path, dest: &Path) -> Result<(), StoreError> {
        backup::backup(path_of_ledger, dest)
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!("ledger closed with an error: {e}");
        }
    }
}

/// Takes the advisory lock that keeps a second alphatx from writing the same ledger (readers
/// such as `export` and `backup` do not take it). The OS releases it if the process dies.
fn lock_ledger(path: &Path) -> Result<std::fs::File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|source| {
            StoreError::Io { path: lock_path.clone(), context: "cannot create the ledger lock file", error: source }
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse { path: path.to_owned() }),
        Err(std::fs::TryLockError::Error(source)) => {
            Err(StoreError::Io { path: lock_path, context: "cannot lock the ledger lock file", error: source })
        }
    }
}

/// A duration in microseconds, saturating.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
