//! The writer thread: the only code that writes the ledger.
//!
//! Callers send jobs on a lock-free channel (`append` takes no lock and never touches the disk;
//! the queue bound is an atomic counter). The thread moves everything queued into its backlog,
//! applies control jobs (new runs, faults) first, then writes the backlog in transactions of at
//! most [`LedgerOptions::max_tx_records`] records (a batch is never split). On a failed
//! transaction it rolls back, forgets its cached accounts and order fills (they are reloaded
//! from the committed rows), acks `Err` once per batch, keeps the batches at the head of the
//! backlog and retries after a back-off.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};
use rust_decimal::Decimal;
use tokio::sync::mpsc::UnboundedSender;

use super::codec::{self, Decoder, dec, id};
use super::{Fault, LedgerAck, LedgerBatch, LedgerOptions, NewRun, StoreError, StoreStats};
use crate::domain::{Account, AgentId, Fill, Order, OrderStatus, Position, Symbol};
use crate::engine::journal::JournalRecord;
use crate::execution::ExecEvent;

/// The `INSERT` of one `orders` row; the callers add their `ON CONFLICT` clause.
macro_rules! order_insert {
    () => {
        "INSERT INTO orders (run_id, order_id, agent, symbol, side, qty, kind, price, reduce_only, leverage,
                             purpose, status, filled_qty, reason, created_ms, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
    };
}

const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// Attempts to write what is left when shutting down, before giving up.
const SHUTDOWN_ATTEMPTS: u32 = 4;

/// Jobs that are not data: applied as soon as the writer sees them.
pub(crate) enum Control {
    BeginRun(Box<NewRun>, SyncSender<Result<i64, StoreError>>),
    RetireRun { run_id: i64, ts_ms: i64, reply: SyncSender<Result<(), StoreError>> },
    Fault(Option<Fault>, SyncSender<Result<(), StoreError>>),
}

/// What travels from the handle to the writer thread.
pub(crate) enum Job {
    Batch(LedgerBatch),
    Control(Control),
    Shutdown,
}

/// State shared by the handle and the writer thread. The append path takes no lock: an atomic
/// counter for the bound and a lock-free channel send (plus a wake-up when the writer sleeps).
pub(crate) struct Shared {
    options: LedgerOptions,
    jobs: std::sync::mpsc::Sender<Job>,
    closing: AtomicBool,
    /// The writer thread has exited (normally or not).
    stopped: AtomicBool,
    /// Appended and not yet committed (or dropped).
    pending_batches: AtomicUsize,
    pending_records: AtomicUsize,
    stats: Mutex<StoreStats>,
    unflushed: Mutex<Option<(usize, usize, String)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them inconsistent (plain counters), so a
    // poisoned lock is still used rather than propagating the panic.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub fn new(options: LedgerOptions) -> (Self, Receiver<Job>) {
        let (jobs, rx) = std::sync::mpsc::channel();
        let shared = Self {
            options,
            jobs,
            closing: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            pending_batches: AtomicUsize::new(0),
            pending_records: AtomicUsize::new(0),
            stats: Mutex::new(StoreStats::default()),
            unflushed: Mutex::new(None),
        };
        (shared, rx)
    }

    fn accepting(&self) -> bool {
        !self.closing.load(Ordering::Acquire) && !self.stopped.load(Ordering::Acquire)
    }

    pub fn append(&self, batch: LedgerBatch) -> Result<(), StoreError> {
        if !self.accepting() {
            return Err(StoreError::WriterStopped);
        }
        let records = batch.records();
        let pending = self.pending_records.load(Ordering::Acquire);
        if pending + records > self.options.max_pending_records && self.pending_batches.load(Ordering::Acquire) > 0 {
            let last_error = lock(&self.stats).last_error.clone().unwrap_or_else(|| "none".into());
            return Err(StoreError::Backlog { pending_records: pending, last_error, batch: Box::new(batch) });
        }
        self.pending_batches.fetch_add(1, Ordering::AcqRel);
        self.pending_records.fetch_add(records, Ordering::AcqRel);
        if self.jobs.send(Job::Batch(batch)).is_err() {
            self.settle(1, records);
            return Err(StoreError::WriterStopped);
        }
        Ok(())
    }

    pub fn control(&self, job: Control) -> Result<(), StoreError> {
        if !self.accepting() {
            return Err(StoreError::WriterStopped);
        }
        self.jobs.send(Job::Control(job)).map_err(|_| StoreError::WriterStopped)
    }

    pub fn shutdown(&self) {
        self.closing.store(true, Ordering::Release);
        let _ = self.jobs.send(Job::Shutdown);
    }

    pub fn stats(&self) -> StoreStats {
        let mut s = lock(&self.stats).clone();
        s.pending_batches = self.pending_batches.load(Ordering::Acquire);
        s.pending_records = self.pending_records.load(Ordering::Acquire);
        s
    }

    pub fn unflushed(&self) -> Option<StoreError> {
        lock(&self.unflushed).as_ref().map(|(batches, records, first_error)| StoreError::Unflushed {
            batches: *batches,
            records: *records,
            first_error: first_error.clone(),
        })
    }

    fn settle(&self, batches: usize, records: usize) {
        self.pending_batches.fetch_sub(batches, Ordering::AcqRel);
        self.pending_records.fetch_sub(records, Ordering::AcqRel);
    }
}

/// Marks the writer stopped however its thread ends (a panic included), so appends fail fast.
struct StoppedGuard(Arc<Shared>);

impl Drop for StoppedGuard {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::Release);
    }
}

/// A batch waiting in the writer.
struct Pending {
    batch: LedgerBatch,
    records: usize,
    /// An `Err` ack was already sent for it.
    err_acked: bool,
}

/// What one transaction did, for the statistics.
#[derive(Default)]
struct TxCounts {
    rows: u64,
    fills: u64,
    duplicates: u64,
    conflicts: u64,
}

/// The writer's in-memory books: accounts as the committed rows say, plus what the current
/// transaction changed.
#[derive(Default)]
struct Books {
    accounts: HashMap<(i64, AgentId), Account>,
    dirty_accounts: BTreeSet<(i64, AgentId)>,
    dirty_positions: BTreeSet<(i64, AgentId, Symbol)>,
    /// Touched time of each dirty account.
    updated_ms: HashMap<(i64, AgentId), i64>,
    /// Filled quantity of orders that are still working, by (run, order id).
    order_fills: HashMap<(i64, u64), Decimal>,
}

pub(crate) struct Writer {
    jobs: Receiver<Job>,
    conn: Connection,
    path: PathBuf,
    shared: Arc<Shared>,
    acks: UnboundedSender<LedgerAck>,
    backlog: VecDeque<Pending>,
    books: Books,
    known_runs: HashSet<i64>,
    known_agents: HashSet<(i64, AgentId)>,
    /// Next value of the ledger-wide event sequence (fills, funding, order events, transfers).
    next_seq: i64,
    retry_at: Option<Instant>,
    backoff: Duration,
    /// First error of the current failure streak.
    streak_error: Option<String>,
    /// [`Fault::CommitFails`] is active.
    fail_commit: bool,
}

impl Writer {
    pub fn new(
        jobs: Receiver<Job>,
        conn: Connection,
        path: PathBuf,
        shared: Arc<Shared>,
        acks: UnboundedSender<LedgerAck>,
    ) -> Result<Self, StoreError> {
        let err = StoreError::sqlite(&path, "cannot read the ledger state");
        let known_runs = {
            let mut stmt =
                conn.prepare("SELECT id FROM runs").map_err(StoreError::sqlite(&path, "cannot read runs"))?;
            let rows =
                stmt.query_map([], |r| r.get::<_, i64>(0)).and_then(|rows| rows.collect::<Result<HashSet<_>, _>>());
            rows.map_err(StoreError::sqlite(&path, "cannot read runs"))?
        };
        let decoder = Decoder::new(&path, "agents");
        let mut known_agents = HashSet::new();
        {
            let mut stmt = conn
                .prepare("SELECT run_id, agent FROM agents")
                .map_err(StoreError::sqlite(&path, "cannot read agents"))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(StoreError::sqlite(&path, "cannot read agents"))?;
            for (run, agent) in rows {
                known_agents.insert((run, decoder.agent("agent", &agent)?));
            }
        }
        let next_seq: i64 = conn
            .query_row(
                "SELECT max(coalesce((SELECT max(seq) FROM fills), 0), coalesce((SELECT max(seq) FROM funding), 0),
                            coalesce((SELECT max(seq) FROM order_events), 0),
                            coalesce((SELECT max(seq) FROM transfers), 0)) + 1",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        Ok(Self {
            jobs,
            conn,
            path,
            shared,
            acks,
            backlog: VecDeque::new(),
            books: Books::default(),
            known_runs,
            known_agents,
            next_seq,
            retry_at: None,
            backoff: RETRY_FIRST,
            streak_error: None,
            fail_commit: false,
        })
    }

    pub fn run(mut self) {
        let _stopped = StoppedGuard(Arc::clone(&self.shared));
        loop {
            let (batches, controls, shutdown) = self.wait_for_work();
            for c in controls {
                self.control(c);
            }
            self.backlog.extend(batches.into_iter().map(|batch| Pending {
                records: batch.records(),
                batch,
                err_acked: false,
            }));
            if shutdown {
                self.drain_for_shutdown();
                return;
            }
            if self.retry_due() {
                self.write_backlog();
            }
        }
    }

    fn retry_due(&self) -> bool {
        self.retry_at.is_none_or(|at| Instant::now() >= at)
    }

    /// Blocks until there is something to do (or a retry is due); returns everything queued.
    fn wait_for_work(&mut self) -> (Vec<LedgerBatch>, Vec<Control>, bool) {
        let first = if !self.backlog.is_empty() && self.retry_due() {
            self.jobs.try_recv().ok()
        } else {
            match self.retry_at.filter(|_| !self.backlog.is_empty()) {
                Some(at) => match self.jobs.recv_timeout(at.saturating_duration_since(Instant::now())) {
                    Ok(job) => Some(job),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => Some(Job::Shutdown),
                },
                None => Some(self.jobs.recv().unwrap_or(Job::Shutdown)),
            }
        };
        let (mut batches, mut controls, mut shutdown) = (Vec::new(), Vec::new(), false);
        for job in first.into_iter().chain(std::iter::from_fn(|| self.jobs.try_recv().ok())) {
            match job {
                Job::Batch(b) => batches.push(b),
                Job::Control(c) => controls.push(c),
                Job::Shutdown => shutdown = true,
            }
        }
        (batches, controls, shutdown)
    }

    fn control(&mut self, job: Control) {
        match job {
            Control::BeginRun(run, reply) => {
                let result = self.begin_run(&run);
                let _ = reply.send(result);
            }
            Control::RetireRun { run_id, ts_ms, reply } => {
                let result = self
                    .conn
                    .execute(
                        "UPDATE runs SET retired_ms = ?2 WHERE id = ?1 AND retired_ms IS NULL",
                        params![run_id, ts_ms],
                    )
                    .map_err(StoreError::sqlite(&self.path, "cannot retire the run"))
                    .and_then(|n| {
                        if n == 1 || self.known_runs.contains(&run_id) {
                            Ok(())
                        } else {
                            Err(StoreError::UnknownRun { run_id, hint: String::new() })
                        }
                    });
                let _ = reply.send(result);
            }
            Control::Fault(fault, reply) => {
                let result = self.apply_fault(fault).map_err(StoreError::sqlite(&self.path, "cannot inject the fault"));
                let _ = reply.send(result);
            }
        }
    }

    fn apply_fault(&mut self, fault: Option<Fault>) -> rusqlite::Result<()> {
        self.fail_commit = fault == Some(Fault::CommitFails);
        match fault {
            Some(Fault::CommitFails) => Ok(()),
            Some(Fault::ReadOnly) => self.conn.pragma_update(None, "query_only", 1),
            Some(Fault::DiskFull) => {
                let pages: i64 = self.conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
                self.conn.pragma_update_and_check(None, "max_page_count", pages, |_| Ok(()))
            }
            None => {
                self.conn.pragma_update(None, "query_only", 0)?;
                self.conn.pragma_update_and_check(None, "max_page_count", 4_294_967_294_i64, |_| Ok(()))
            }
        }
    }

    fn begin_run(&mut self, run: &NewRun) -> Result<i64, StoreError> {
        let mut seen = HashSet::new();
        for a in &run.agents {
            if !seen.insert(a.id) {
                return Err(StoreError::InvalidRun { reason: format!("agent {} is listed twice", a.id) });
            }
        }
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite(&path, "cannot register the run"))?;
        let write = || -> rusqlite::Result<i64> {
            tx.execute(
                "INSERT INTO runs (profile, source, seed, config_toml, started_ms, sim_start_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![run.profile, run.source, run.seed.map(|s| s.to_string()), run.config_toml, run.started_ms, run.sim_start_ms],
            )?;
            let run_id = tx.last_insert_rowid();
            for a in &run.agents {
                let symbols: Vec<&str> = a.symbols.iter().map(Symbol::as_str).collect();
                tx.execute(
                    "INSERT INTO agents (run_id, agent, kind, benchmark, symbols) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![run_id, a.id.as_str(), a.kind, a.benchmark, symbols.join(",")],
                )?;
                insert_account(&tx, run_id, &Account::new(a.id, a.balance), run.started_ms)?;
            }
            Ok(run_id)
        };
        let run_id = write().map_err(StoreError::sqlite(&path, "cannot register the run"))?;
        tx.commit().map_err(StoreError::sqlite(&path, "cannot commit the new run"))?;
        self.known_runs.insert(run_id);
        for a in &run.agents {
            self.known_agents.insert((run_id, a.id));
        }
        Ok(run_id)
    }

    /// Writes the backlog in transactions until it is empty or a transaction fails.
    fn write_backlog(&mut self) {
        while !self.backlog.is_empty() {
            self.drop_unknown_runs();
            let mut n = 0;
            let mut records = 0;
            for p in &self.backlog {
                if n > 0 && records + p.records > self.shared.options.max_tx_records {
                    break;
                }
                n += 1;
                records += p.records;
            }
            if n == 0 {
                break;
            }
            if !self.write_group(n, records) {
                return;
            }
        }
    }

    /// Batches for runs the ledger does not hold can never be stored: ack `Err` and drop them.
    fn drop_unknown_runs(&mut self) {
        let known = &self.known_runs;
        if self.backlog.iter().all(|p| known.contains(&p.batch.run_id)) {
            return;
        }
        let mut kept = VecDeque::with_capacity(self.backlog.len());
        let (mut batches, mut records) = (0, 0);
        for p in self.backlog.drain(..) {
            if known.contains(&p.batch.run_id) {
                kept.push_back(p);
            } else {
                let msg = format!(
                    "batch {} names run {}, which is not in the ledger (register it with begin_run first); dropped",
                    p.batch.seq, p.batch.run_id
                );
                tracing::error!("{msg}");
                let _ = self.acks.send(LedgerAck { seq: p.batch.seq, result: Err(msg.clone()) });
                batches += 1;
                records += p.records;
                let mut s = lock(&self.shared.stats);
                s.dropped_batches += 1;
                s.last_error = Some(msg);
            }
        }
        self.backlog = kept;
        self.shared.settle(batches, records);
    }

    /// Writes the first `n` backlog batches in one transaction; `false` if it failed.
    fn write_group(&mut self, n: usize, records: usize) -> bool {
        let started = Instant::now();
        let seq_before = self.next_seq;
        let mut new_agents = Vec::new();
        let result = self.transaction(n, &mut new_agents);
        match result {
            Ok(counts) => {
                let latency = super::micros(started.elapsed());
                let group: Vec<Pending> = self.backlog.drain(..n).collect();
                {
                    let mut s = lock(&self.shared.stats);
                    s.commits += 1;
                    s.batches_committed += group.len() as u64;
                    s.records_committed += records as u64;
                    s.rows_written += counts.rows;
                    s.fills_written += counts.fills;
                    s.duplicate_fills += counts.duplicates;
                    s.fill_conflicts += counts.conflicts;
                    s.last_commit_us = latency;
                    s.max_commit_us = s.max_commit_us.max(latency);
                    if s.failing {
                        tracing::info!("ledger writes succeed again");
                    }
                    s.failing = false;
                }
                self.shared.settle(group.len(), records);
                for p in group {
                    let _ = self.acks.send(LedgerAck { seq: p.batch.seq, result: Ok(()) });
                }
                self.retry_at = None;
                self.backoff = RETRY_FIRST;
                self.streak_error = None;
                true
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                // The cached accounts may hold changes that were rolled back: reload on use.
                self.books = Books::default();
                self.next_seq = seq_before;
                for key in new_agents {
                    self.known_agents.remove(&key);
                }
                let msg = format!("ledger commit failed: {e}");
                tracing::error!(batches = n, records, "{msg}; will retry in {:?}", self.backoff);
                for p in self.backlog.iter_mut().take(n).filter(|p| !p.err_acked) {
                    p.err_acked = true;
                    let _ = self.acks.send(LedgerAck { seq: p.batch.seq, result: Err(msg.clone()) });
                }
                {
                    let mut s = lock(&self.shared.stats);
                    s.failures += 1;
                    s.failing = true;
                    s.last_error = Some(msg.clone());
                }
                self.streak_error.get_or_insert(msg);
                self.retry_at = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(RETRY_MAX);
                false
            }
        }
    }

    fn transaction(&mut self, n: usize, new_agents: &mut Vec<(i64, AgentId)>) -> Result<TxCounts, StoreError> {
        let path = self.path.clone();
        let sql = StoreError::sqlite(&path, "write failed");
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(StoreError::sqlite(&path, "cannot begin a transaction"))?;
        let mut counts = TxCounts::default();
        let mut tx = Tx {
            conn: &self.conn,
            path: &path,
            books: &mut self.books,
            known_agents: &mut self.known_agents,
            new_agents,
            next_seq: &mut self.next_seq,
            counts: &mut counts,
        };
        for p in self.backlog.iter().take(n) {
            tx.batch(&p.batch)?;
        }
        tx.flush_books()?;
        if self.fail_commit {
            return Err(StoreError::Sqlite {
                path: self.path.clone(),
                context: "write failed",
                error: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
                    Some("disk I/O error at commit (injected)".into()),
                ),
            });
        }
        self.conn.execute_batch("COMMIT").map_err(sql)?;
        self.books.dirty_accounts.clear();
        self.books.dirty_positions.clear();
        self.books.updated_ms.clear();
        Ok(counts)
    }

    /// Tries a few more times to write what is left, then records what could not be written.
    fn drain_for_shutdown(&mut self) {
        for attempt in 0..SHUTDOWN_ATTEMPTS {
            if self.backlog.is_empty() {
                break;
            }
            if attempt > 0 {
                std::thread::sleep(RETRY_FIRST * 2u32.pow(attempt));
            }
            self.retry_at = None;
            self.write_backlog();
        }
        if !self.backlog.is_empty() {
            let records = self.backlog.iter().map(|p| p.records).sum();
            let first = self.streak_error.clone().unwrap_or_else(|| "unknown error".into());
            tracing::error!(batches = self.backlog.len(), records, "ledger closed with unwritten batches: {first}");
            *lock(&self.shared.unflushed) = Some((self.backlog.len(), records, first));
        }
        if let Err(e) = self.conn.execute_batch("PRAGMA optimize") {
            tracing::debug!("PRAGMA optimize at close failed: {e}");
        }
    }
}

/// A row of `order_events`.
struct OrderEvent<'a> {
    order_id: u64,
    ts_ms: i64,
    event: &'static str,
    status: Option<OrderStatus>,
    price: Option<Decimal>,
    reason: Option<&'a str>,
}

impl OrderEvent<'_> {
    fn new(order_id: u64, ts_ms: i64, event: &'static str, status: Option<OrderStatus>) -> Self {
        Self { order_id, ts_ms, event, status, price: None, reason: None }
    }
}

/// One open transaction's view of the writer.
struct Tx<'a> {
    conn: &'a Connection,
    path: &'a std::path::Path,
    books: &'a mut Books,
    known_agents: &'a mut HashSet<(i64, AgentId)>,
    new_agents: &'a mut Vec<(i64, AgentId)>,
    next_seq: &'a mut i64,
    counts: &'a mut TxCounts,
}

impl Tx<'_> {
    /// Runs one cached statement; the rows it changed count toward the batch's total.
    fn exec_row(
        &mut self,
        sql: &str,
        params: impl rusqlite::Params,
        context: &'static str,
    ) -> Result<usize, StoreError> {
        let n = self.conn.prepare_cached(sql).and_then(|mut s| s.execute(params)).map_err(self.sql(context))?;
        self.counts.rows += n as u64;
        Ok(n)
    }

    fn sql(&self, context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        StoreError::sqlite(self.path, context)
    }

    fn seq(&mut self) -> i64 {
        let s = *self.next_seq;
        *self.next_seq += 1;
        s
    }

    fn batch(&mut self, batch: &LedgerBatch) -> Result<(), StoreError> {
        let run = batch.run_id;
        for ev in &batch.exec {
            self.ensure_agent(run, ev.agent())?;
            self.exec(run, ev)?;
        }
        for rec in &batch.journal {
            self.journal(run, rec)?;
        }
        Ok(())
    }

    /// An agent the run did not register is added (with a zero balance) rather than losing its
    /// records; it is logged because it means the caller forgot to register it.
    fn ensure_agent(&mut self, run: i64, agent: AgentId) -> Result<(), StoreError> {
        if self.known_agents.contains(&(run, agent)) {
            return Ok(());
        }
        tracing::warn!(run, %agent, "records for an agent the run did not register: adding it with a zero balance");
        self.conn
            .execute(
                "INSERT OR IGNORE INTO agents (run_id, agent, kind, benchmark, symbols) VALUES (?1, ?2, 'unregistered', 0, '')",
                params![run, agent.as_str()],
            )
            .map_err(self.sql("cannot add an unregistered agent"))?;
        insert_account(self.conn, run, &Account::new(agent, Decimal::ZERO), 0)
            .map_err(self.sql("cannot add an unregistered agent's account"))?;
        self.known_agents.insert((run, agent));
        self.new_agents.push((run, agent));
        self.counts.rows += 2;
        Ok(())
    }

    fn account(&mut self, run: i64, agent: AgentId) -> Result<&mut Account, StoreError> {
        if !self.books.accounts.contains_key(&(run, agent)) {
            let account = load_account(self.conn, self.path, run, agent)?;
            self.books.accounts.insert((run, agent), account);
        }
        self.books
            .accounts
            .get_mut(&(run, agent))
            .ok_or_else(|| StoreError::UnknownRun { run_id: run, hint: format!(" with agent {agent}") })
    }

    fn order_event(&mut self, run: i64, ev: OrderEvent<'_>) -> Result<(), StoreError> {
        let seq = self.seq();
        self.exec_row(
            "INSERT INTO order_events (run_id, order_id, seq, ts_ms, event, status, price, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                run,
                id(ev.order_id),
                seq,
                ev.ts_ms,
                ev.event,
                ev.status.map(OrderStatus::as_str),
                ev.price.map(dec),
                ev.reason
            ],
            "cannot store an order event",
        )?;
        Ok(())
    }

    /// Inserts an order unless it is already stored; `true` if it was new.
    /// Stores an order the first time it is seen; `false` when it was already there (a replayed
    /// acceptance must not rewind an order that has since filled).
    fn insert_order(&mut self, run: i64, order: &Order) -> Result<bool, StoreError> {
        const SQL: &str = concat!(order_insert!(), " ON CONFLICT (run_id, order_id) DO NOTHING");
        let n = self.write_order(SQL, run, order, None)?;
        Ok(n == 1)
    }

    /// Stores an order or moves a stored one to its new status (a reason is kept once given).
    fn upsert_order(&mut self, run: i64, order: &Order, reason: Option<&str>) -> Result<(), StoreError> {
        const SQL: &str = concat!(
            order_insert!(),
            " ON CONFLICT (run_id, order_id) DO UPDATE SET
                 status = excluded.status, filled_qty = excluded.filled_qty,
                 reason = coalesce(excluded.reason, orders.reason), updated_ms = excluded.updated_ms"
        );
        self.write_order(SQL, run, order, reason).map(|_| ())
    }

    /// Runs `sql` (an [`order_insert!`] statement) for `order`; returns the rows it changed.
    fn write_order(&mut self, sql: &str, run: i64, order: &Order, reason: Option<&str>) -> Result<usize, StoreError> {
        let r = &order.request;
        let params = params![
            run,
            id(r.id.0),
            r.agent.as_str(),
            r.symbol.as_str(),
            r.side.as_str(),
            dec(r.qty),
            r.kind.name(),
            r.kind.price().map(dec),
            r.reduce_only,
            dec(r.leverage),
            r.purpose.as_str(),
            order.status.as_str(),
            dec(order.filled_qty),
            reason,
            order.created_ms,
            order.updated_ms
        ];
        self.exec_row(sql, params, "cannot store an order")
    }

    fn exec(&mut self, run: i64, ev: &ExecEvent) -> Result<(), StoreError> {
        match ev {
            ExecEvent::Accepted { order } => {
                // A replayed acceptance must not rewind an order that has since filled.
                if self.insert_order(run, order)? && !order.status.is_terminal() {
                    self.books.order_fills.insert((run, order.request.id.0), order.filled_qty);
                }
                self.order_event(
                    run,
                    OrderEvent::new(order.request.id.0, order.updated_ms, "accepted", Some(order.status)),
                )
            }
            ExecEvent::Rejected { order, reason } => {
                let mut order = order.clone();
                order.status = OrderStatus::Rejected;
                self.books.order_fills.remove(&(run, order.request.id.0));
                self.upsert_order(run, &order, Some(reason))?;
                let ev = OrderEvent::new(order.request.id.0, order.updated_ms, "rejected", Some(OrderStatus::Rejected));
                self.order_event(run, OrderEvent { reason: Some(reason), ..ev })
            }
            ExecEvent::Filled { fill, leverage, status } => self.fill(run, fill, *leverage, *status),
            ExecEvent::Cancelled { order_id, reason, ts_ms, .. } => {
                self.books.order_fills.remove(&(run, order_id.0));
                let n = self
                    .conn
                    .prepare_cached(
                        "UPDATE orders SET status = 'cancelled', reason = ?3, updated_ms = ?4 WHERE run_id = ?1 AND order_id = ?2",
                    )
                    .and_then(|mut s| s.execute(params![run, id(order_id.0), reason, ts_ms]))
                    .map_err(self.sql("cannot cancel an order"))?;
                self.counts.rows += n as u64;
                let ev = OrderEvent::new(order_id.0, *ts_ms, "cancelled", Some(OrderStatus::Cancelled));
                self.order_event(run, OrderEvent { reason: Some(reason), ..ev })
            }
            ExecEvent::Triggered { order_id, price, ts_ms, .. } => {
                let n = self
                    .conn
                    .prepare_cached("UPDATE orders SET updated_ms = ?3 WHERE run_id = ?1 AND order_id = ?2")
                    .and_then(|mut s| s.execute(params![run, id(order_id.0), ts_ms]))
                    .map_err(self.sql("cannot update a triggered order"))?;
                self.counts.rows += n as u64;
                let ev = OrderEvent::new(order_id.0, *ts_ms, "triggered", None);
                self.order_event(run, OrderEvent { price: Some(*price), ..ev })
            }
            ExecEvent::Funding { agent, symbol, rate, mark, amount, ts_ms } => {
                let seq = self.seq();
                let n = self
                    .conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO funding (run_id, seq, agent, symbol, rate, mark, amount, ts_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            run,
                            seq,
                            agent.as_str(),
                            symbol.as_str(),
                            dec(*rate),
                            dec(*mark),
                            dec(*amount),
                            ts_ms
                        ])
                    })
                    .map_err(self.sql("cannot store a funding payment"))?;
                if n == 1 {
                    self.counts.rows += 1;
                    let account = self.account(run, *agent)?;
                    account.apply_funding(*symbol, *amount);
                    self.touch(run, *agent, Some(*symbol), *ts_ms);
                }
                Ok(())
            }
        }
    }

    fn touch(&mut self, run: i64, agent: AgentId, symbol: Option<Symbol>, ts_ms: i64) {
        self.books.dirty_accounts.insert((run, agent));
        let t = self.books.updated_ms.entry((run, agent)).or_insert(ts_ms);
        *t = (*t).max(ts_ms);
        if let Some(symbol) = symbol {
            self.books.dirty_positions.insert((run, agent, symbol));
        }
    }

    fn fill(&mut self, run: i64, fill: &Fill, leverage: Decimal, status: OrderStatus) -> Result<(), StoreError> {
        // Insert first (one statement for the common case). The realised P&L stored with the
        // row is computed on a copy of the position; the account changes only if the row is new.
        let mut position = self
            .account(run, fill.agent)?
            .position(fill.symbol)
            .cloned()
            .unwrap_or_else(|| Position::flat(fill.symbol, fill.ts_ms));
        let realized = position.apply(fill.side, fill.qty, fill.price, fill.fee, fill.ts_ms).realized_pnl;
        let seq = self.seq();
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO fills (run_id, seq, venue, trade_id, order_id, agent, symbol, side, qty, price, fee, liquidity,
                                    purpose, liquidation, leverage, order_status, realized_pnl, ts_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
                 ON CONFLICT (venue, trade_id) DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    run,
                    seq,
                    fill.venue,
                    id(fill.trade_id),
                    id(fill.order_id.0),
                    fill.agent.as_str(),
                    fill.symbol.as_str(),
                    fill.side.as_str(),
                    dec(fill.qty),
                    dec(fill.price),
                    dec(fill.fee),
                    codec::liquidity_str(fill.liquidity),
                    fill.purpose.as_str(),
                    fill.liquidation,
                    dec(leverage),
                    status.as_str(),
                    dec(realized),
                    fill.ts_ms
                ])
            })
            .map_err(self.sql("cannot store a fill"))?;
        if inserted == 0 {
            return self.duplicate_fill(run, fill);
        }
        let effect = self.account(run, fill.agent)?.apply_fill(fill, leverage);
        debug_assert_eq!(effect.realized_pnl, realized);
        self.counts.rows += 1;
        self.counts.fills += 1;
        self.touch(run, fill.agent, Some(fill.symbol), fill.ts_ms);
        // The order's cumulative fill, as the engine keeps it (cached for orders accepted since
        // the writer's books were last reset; read from the row otherwise).
        let key = (run, fill.order_id.0);
        let filled = match self.books.order_fills.get(&key) {
            Some(q) => Some(*q),
            None => {
                let stored: Option<String> = self
                    .conn
                    .prepare_cached("SELECT filled_qty FROM orders WHERE run_id = ?1 AND order_id = ?2")
                    .and_then(|mut s| s.query_row(params![run, id(fill.order_id.0)], |r| r.get(0)).optional())
                    .map_err(self.sql("cannot read an order"))?;
                stored.map(|q| Decoder::new(self.path, "orders").dec("filled_qty", &q)).transpose()?
            }
        };
        if let Some(filled) = filled {
            let filled = filled + fill.qty;
            if status.is_terminal() {
                self.books.order_fills.remove(&key);
            } else {
                self.books.order_fills.insert(key, filled);
            }
            self.exec_row(
                "UPDATE orders SET status = ?3, filled_qty = ?4, updated_ms = ?5 WHERE run_id = ?1 AND order_id = ?2",
                params![run, id(fill.order_id.0), status.as_str(), dec(filled), fill.ts_ms],
                "cannot update an order",
            )?;
        }
        Ok(())
    }

    /// A fill whose (venue, trade id) is already stored: a replay is ignored; a different fill
    /// under the same id is kept in `fill_conflicts` and never applied.
    fn duplicate_fill(&mut self, run: i64, fill: &Fill) -> Result<(), StoreError> {
        let existing = self
            .conn
            .prepare_cached(
                "SELECT run_id, order_id, agent, symbol, side, qty, price, fee, ts_ms FROM fills WHERE venue = ?1 AND trade_id = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![fill.venue, id(fill.trade_id)], |r| <(i64, i64, String, String, String, String, String, String, i64)>::try_from(r))
            })
            .map_err(self.sql("cannot look up a fill"))?;
        let same = existing
            == (
                run,
                id(fill.order_id.0),
                fill.agent.as_str().to_owned(),
                fill.symbol.as_str().to_owned(),
                fill.side.as_str().to_owned(),
                dec(fill.qty),
                dec(fill.price),
                dec(fill.fee),
                fill.ts_ms,
            );
        if same {
            self.counts.duplicates += 1;
            return Ok(());
        }
        tracing::error!(venue = %fill.venue, trade_id = fill.trade_id, "a different fill reuses a stored trade id: kept in fill_conflicts, not applied");
        let json = serde_json::to_string(fill).unwrap_or_default();
        self.conn
            .execute(
                "INSERT INTO fill_conflicts (run_id, venue, trade_id, ts_ms, fill) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![run, fill.venue, id(fill.trade_id), fill.ts_ms, json],
            )
            .map_err(self.sql("cannot store a conflicting fill"))?;
        self.counts.conflicts += 1;
        self.counts.rows += 1;
        Ok(())
    }

    fn journal(&mut self, run: i64, rec: &JournalRecord) -> Result<(), StoreError> {
        match rec {
            JournalRecord::Decision(d) => {
                self.ensure_agent(run, d.agent)?;
                let proposals = serde_json::to_string(&d.decision.proposals).unwrap_or_else(|_| "[]".into());
                let outcomes = serde_json::to_string(&d.outcomes).unwrap_or_else(|_| "[]".into());
                let adjustment = d.adjustment.as_ref().and_then(|a| serde_json::to_string(a).ok());
                let n = self
                    .conn
                    .prepare_cached(
                        "INSERT INTO decisions (run_id, decision_id, agent, ts_ms, source, reasoning, proposals, outcomes, error,
                                                latency_ms, prompt, raw_response, input_tokens, output_tokens, cost_usd,
                                                adjustment)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                         ON CONFLICT (run_id, decision_id) DO NOTHING",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            run,
                            id(d.id),
                            d.agent.as_str(),
                            d.ts_ms,
                            d.source,
                            d.decision.reasoning,
                            proposals,
                            outcomes,
                            d.error,
                            codec::count(d.latency_ms),
                            d.prompt,
                            d.raw_response,
                            codec::count(d.input_tokens),
                            codec::count(d.output_tokens),
                            if d.cost_usd.is_finite() { d.cost_usd } else { 0.0 },
                            adjustment
                        ])
                    })
                    .map_err(self.sql("cannot store a decision"))?;
                self.counts.rows += n as u64;
            }
            JournalRecord::Refusal(r) => {
                self.ensure_agent(run, r.agent)?;
                let detail = serde_json::to_string(r).unwrap_or_default();
                self.risk_event(
                    run,
                    r.ts_ms,
                    Some(r.agent),
                    "refusal",
                    Some(r.code.as_str()),
                    None,
                    &r.message,
                    r.decision_id,
                    Some(r.request.id.0),
                    &detail,
                )?;
            }
            JournalRecord::Equity(e) => {
                self.ensure_agent(run, e.agent)?;
                self.exec_row(
                    "INSERT INTO equity (run_id, agent, ts_ms, equity, cash, unrealized_pnl) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![run, e.agent.as_str(), e.ts_ms, dec(e.equity), dec(e.cash), dec(e.unrealized_pnl)],
                    "cannot store an equity sample",
                )?;
            }
            JournalRecord::Command(c) => {
                self.exec_row(
                    "INSERT INTO commands (run_id, ts_ms, command, result) VALUES (?1, ?2, ?3, ?4)",
                    params![run, c.ts_ms, c.command, c.result],
                    "cannot store an operator command",
                )?;
            }
            JournalRecord::StateChange(s) => {
                if let Some(agent) = s.agent {
                    self.ensure_agent(run, agent)?;
                }
                let detail = serde_json::to_string(s).unwrap_or_default();
                self.risk_event(
                    run,
                    s.ts_ms,
                    s.agent,
                    "state_change",
                    None,
                    Some(s.state.as_str()),
                    &s.reason,
                    None,
                    None,
                    &detail,
                )?;
            }
            JournalRecord::Plan(p) => {
                self.ensure_agent(run, p.agent)?;
                let plan = p.plan.as_ref().map(|plan| serde_json::to_string(plan).unwrap_or_default());
                let stop = p.plan.as_ref().and_then(|x| x.stop_loss).map(dec);
                let target = p.plan.as_ref().and_then(|x| x.profit_target).map(dec);
                self.exec_row(
                    "INSERT INTO exit_plans (run_id, ts_ms, agent, symbol, stop_loss, profit_target, plan)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![run, p.ts_ms, p.agent.as_str(), p.symbol.as_str(), stop, target, plan],
                    "cannot store an exit plan",
                )?;
            }
            JournalRecord::Breaker(b) => {
                if let Some(agent) = b.agent {
                    self.ensure_agent(run, agent)?;
                }
                let detail = serde_json::to_string(b).unwrap_or_default();
                let kind = if b.tripped { "breaker_trip" } else { "breaker_release" };
                self.risk_event(
                    run,
                    b.ts_ms,
                    b.agent,
                    kind,
                    Some(b.breaker.as_str()),
                    Some(b.action.state().as_str()),
                    &b.detail,
                    None,
                    None,
                    &detail,
                )?;
            }
            JournalRecord::Transfer(t) => self.transfer(run, t)?,
        }
        Ok(())
    }

    /// A capital transfer: stored in ledger order and applied to both accounts' cash.
    fn transfer(&mut self, run: i64, t: &crate::engine::journal::TransferRecord) -> Result<(), StoreError> {
        self.ensure_agent(run, t.from)?;
        self.ensure_agent(run, t.to)?;
        let seq = self.seq();
        self.exec_row(
            "INSERT INTO transfers (run_id, seq, ts_ms, from_agent, to_agent, amount, from_cash, to_cash, reason,
                                        reversal)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                run,
                seq,
                t.ts_ms,
                t.from.as_str(),
                t.to.as_str(),
                dec(t.amount),
                dec(t.from_cash),
                dec(t.to_cash),
                t.reason,
                i64::from(t.reversal)
            ],
            "cannot store a transfer",
        )?;
        self.account(run, t.from)?.cash -= t.amount;
        self.account(run, t.to)?.cash += t.amount;
        self.touch(run, t.from, None, t.ts_ms);
        self.touch(run, t.to, None, t.ts_ms);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn risk_event(
        &mut self,
        run: i64,
        ts_ms: i64,
        agent: Option<AgentId>,
        kind: &str,
        code: Option<&str>,
        state: Option<&str>,
        message: &str,
        decision_id: Option<u64>,
        order_id: Option<u64>,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.exec_row(
            "INSERT INTO risk_events (run_id, ts_ms, agent, kind, code, state, message, decision_id, order_id, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                run,
                ts_ms,
                agent.as_ref().map(AgentId::as_str),
                kind,
                code,
                state,
                message,
                decision_id.map(id),
                order_id.map(id),
                detail
            ],
            "cannot store a risk event",
        )?;
        Ok(())
    }

    /// Writes the accounts and positions the transaction changed.
    fn flush_books(&mut self) -> Result<(), StoreError> {
        let positions = std::mem::take(&mut self.books.dirty_positions);
        for (run, agent, symbol) in &positions {
            let Some(account) = self.books.accounts.get(&(*run, *agent)) else { continue };
            let ts = self.books.updated_ms.get(&(*run, *agent)).copied().unwrap_or(0);
            let flat;
            let p = match account.position(*symbol) {
                Some(p) => p,
                None => {
                    flat = Position::flat(*symbol, ts);
                    &flat
                }
            };
            self.conn
                .prepare_cached(
                    "INSERT INTO positions (run_id, agent, symbol, qty, cost, leverage, realized_pnl, fees, funding, max_qty,
                                            exit_notional, exit_qty, opened_ms, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                     ON CONFLICT (run_id, agent, symbol) DO UPDATE SET
                         qty = excluded.qty, cost = excluded.cost, leverage = excluded.leverage,
                         realized_pnl = excluded.realized_pnl, fees = excluded.fees, funding = excluded.funding,
                         max_qty = excluded.max_qty, exit_notional = excluded.exit_notional,
                         exit_qty = excluded.exit_qty, opened_ms = excluded.opened_ms, updated_ms = excluded.updated_ms",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        run,
                        agent.as_str(),
                        symbol.as_str(),
                        dec(p.qty),
                        dec(p.cost),
                        dec(p.leverage),
                        dec(p.realized_pnl),
                        dec(p.fees),
                        dec(p.funding),
                        dec(p.max_qty),
                        dec(p.exit_notional),
                        dec(p.exit_qty),
                        p.opened_ms,
                        p.updated_ms
                    ])
                })
                .map_err(StoreError::sqlite(self.path, "cannot store a position"))?;
            self.counts.rows += 1;
        }
        let accounts = std::mem::take(&mut self.books.dirty_accounts);
        for (run, agent) in &accounts {
            let Some(a) = self.books.accounts.get(&(*run, *agent)) else { continue };
            let ts = self.books.updated_ms.get(&(*run, *agent)).copied();
            self.conn
                .prepare_cached(
                    "UPDATE accounts SET cash = ?3, realized_pnl = ?4, fees_paid = ?5, funding = ?6, volume = ?7,
                                         fill_count = ?8, updated_ms = coalesce(?9, updated_ms)
                     WHERE run_id = ?1 AND agent = ?2",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        run,
                        agent.as_str(),
                        dec(a.cash),
                        dec(a.realized_pnl),
                        dec(a.fees_paid),
                        dec(a.funding),
                        dec(a.volume),
                        codec::count(a.fill_count),
                        ts
                    ])
                })
                .map_err(StoreError::sqlite(self.path, "cannot store an account"))?;
            self.counts.rows += 1;
        }
        Ok(())
    }
}

fn insert_account(conn: &Connection, run: i64, a: &Account, ts_ms: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT OR IGNORE INTO accounts (run_id, agent, starting_balance, cash, realized_pnl, fees_paid, funding, volume,
                                         fill_count, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            run,
            a.agent.as_str(),
            dec(a.starting_balance),
            dec(a.cash),
            dec(a.realized_pnl),
            dec(a.fees_paid),
            dec(a.funding),
            dec(a.volume),
            codec::count(a.fill_count),
            ts_ms
        ],
    )
}

/// An account as its committed `accounts` and `positions` rows describe it.
pub(crate) fn load_account(
    conn: &Connection,
    path: &std::path::Path,
    run: i64,
    agent: AgentId,
) -> Result<Account, StoreError> {
    let d = Decoder::new(path, "accounts");
    let row = conn
        .prepare_cached(
            "SELECT starting_balance, cash, realized_pnl, fees_paid, funding, volume, fill_count
             FROM accounts WHERE run_id = ?1 AND agent = ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![run, agent.as_str()], |r| {
                <(String, String, String, String, String, String, i64)>::try_from(r)
            })
            .optional()
        })
        .map_err(StoreError::sqlite(path, "cannot read an account"))?;
    let Some((start, cash, realized, fees, funding, volume, fills)) = row else {
        return Err(StoreError::UnknownRun { run_id: run, hint: format!(" with an account for {agent}") });
    };
    let mut account = Account::new(agent, d.dec("starting_balance", &start)?);
    account.cash = d.dec("cash", &cash)?;
    account.realized_pnl = d.dec("realized_pnl", &realized)?;
    account.fees_paid = d.dec("fees_paid", &fees)?;
    account.funding = d.dec("funding", &funding)?;
    account.volume = d.dec("volume", &volume)?;
    account.fill_count = codec::count_back(fills);
    account.positions = load_positions(conn, path, run, agent)?.into_iter().filter(|p| !p.is_flat()).collect();
    Ok(account)
}

/// Every stored position row of an agent (flat ones included), sorted like `Account::positions`.
pub(crate) fn load_positions(
    conn: &Connection,
    path: &std::path::Path,
    run: i64,
    agent: AgentId,
) -> Result<Vec<Position>, StoreError> {
    let d = Decoder::new(path, "positions");
    let mut stmt = conn
        .prepare_cached(
            "SELECT symbol, qty, cost, leverage, realized_pnl, fees, funding, max_qty, exit_notional, exit_qty,
                    opened_ms, updated_ms
             FROM positions WHERE run_id = ?1 AND agent = ?2",
        )
        .map_err(StoreError::sqlite(path, "cannot read positions"))?;
    type Row = (String, String, String, String, String, String, String, String, String, String, i64, i64);
    let rows: Vec<Row> = stmt
        .query_map(params![run, agent.as_str()], |r| r.try_into())
        .and_then(|rows| rows.collect())
        .map_err(StoreError::sqlite(path, "cannot read positions"))?;
    let mut out = Vec::with_capacity(rows.len());
    for (symbol, qty, cost, leverage, realized, fees, funding, max_qty, exit_notional, exit_qty, opened, updated) in
        rows
    {
        out.push(Position {
            symbol: d.symbol("symbol", &symbol)?,
            qty: d.dec("qty", &qty)?,
            cost: d.dec("cost", &cost)?,
            leverage: d.dec("leverage", &leverage)?,
            realized_pnl: d.dec("realized_pnl", &realized)?,
            fees: d.dec("fees", &fees)?,
            funding: d.dec("funding", &funding)?,
            max_qty: d.dec("max_qty", &max_qty)?,
            exit_notional: d.dec("exit_notional", &exit_notional)?,
            exit_qty: d.dec("exit_qty", &exit_qty)?,
            opened_ms: opened,
            updated_ms: updated,
        });
    }
    // `Account` keeps positions in `Symbol` order (which is not the text order of the column).
    out.sort_by_key(|p| p.symbol);
    Ok(out)
}
