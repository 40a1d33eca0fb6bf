//! The async shell around the synchronous engine: one task owns the [`Driver`] and serves its
//! inputs with a biased `select!` — shutdown first, then operator commands, ledger
//! acknowledgements, venue reports, agent replies, and market data last, so a flood of quotes can
//! never delay a kill switch or a fill.
//!
//! With a ledger ([`LedgerLink`]) the runner makes the engine's outputs durable before anything
//! depends on them: after every input it hands the new venue reports and journal records to the
//! ledger as one batch, and gives the venue reports to the engine only when that batch's commit is
//! acknowledged; the next market event is taken only once that happened, so agents always see
//! their own fills before new data. Snapshots (what the screen shows) and requests to agents go
//! out only when no
//! batch is waiting, so nothing is shown, counted by risk or told to an agent before it is
//! durable. A failed commit trips the persistence breaker (no new risk until the operator
//! releases it) and snapshots keep flowing so the screen can say why; the ledger keeps retrying
//! and nothing queued is dropped.
//!
//! Snapshots go out on a `watch` channel at most `snapshot_hz` times a second and only when
//! something changed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::driver::Driver;
use super::event::{AgentReply, Command, EngineEvent, FeedStatus};
use super::request::AgentRequest;
use super::snapshot::{Snapshot, StoreSnapshot};
use crate::domain::MarketEvent;
use crate::execution::ExecEvent;
use crate::store::{Ledger, LedgerAck, LedgerBatch};

/// What a market data task sends.
#[derive(Debug, Clone)]
pub enum SourceEvent {
    Market(MarketEvent),
    Feed(FeedStatus),
}

/// Called with every venue report once it is durable (e.g. to print fills in headless mode).
pub type CommitHook = Box<dyn FnMut(&ExecEvent) + Send>;

/// The runner's connection to the ledger.
pub struct LedgerLink {
    pub ledger: Arc<Ledger>,
    pub acks: mpsc::UnboundedReceiver<LedgerAck>,
    pub run_id: i64,
    next_seq: u64,
    /// Appended batches waiting for their commit: (seq, venue reports to deliver then).
    pending: VecDeque<(u64, Vec<ExecEvent>)>,
    /// A batch the ledger could not take yet (backlog): retried on the next flush.
    unsent: Option<LedgerBatch>,
    failing: bool,
}

impl LedgerLink {
    pub fn new(ledger: Arc<Ledger>, acks: mpsc::UnboundedReceiver<LedgerAck>, run_id: i64) -> Self {
        Self { ledger, acks, run_id, next_seq: 1, pending: VecDeque::new(), unsent: None, failing: false }
    }

    /// Continues the batch sequence after batches the caller already committed itself.
    pub fn skip_seq(&mut self, last_used: u64) {
        self.next_seq = self.next_seq.max(last_used + 1);
    }

    /// True when nothing waits for a commit.
    pub fn settled(&self) -> bool {
        self.pending.is_empty() && self.unsent.is_none()
    }

    fn stats(&self) -> StoreSnapshot {
        let s = self.ledger.stats();
        StoreSnapshot {
            pending_batches: s.pending_batches,
            commits: s.commits,
            records_committed: s.records_committed,
            last_commit_us: s.last_commit_us,
            max_commit_us: s.max_commit_us,
            failures: s.failures,
            failing: s.failing,
            last_error: s.last_error,
        }
    }
}

/// The runner's inputs and outputs.
pub struct RunnerIo {
    pub market: mpsc::Receiver<SourceEvent>,
    pub commands: mpsc::Receiver<Command>,
    /// Reports from live venues (the paper venue reports synchronously through the driver).
    pub venue: mpsc::Receiver<ExecEvent>,
    pub replies: mpsc::Receiver<AgentReply>,
    pub requests: mpsc::Sender<AgentRequest>,
    pub snapshots: watch::Sender<Arc<Snapshot>>,
    /// The ledger (run mode); `None` keeps everything in memory (tests, scratch runs).
    pub ledger: Option<LedgerLink>,
    pub on_commit: Option<CommitHook>,
}

/// Timing of the runner.
#[derive(Debug, Clone, Copy)]
pub struct RunnerConfig {
    /// Timer tick (candle closes in quiet markets, agent cadences, breakers on time).
    pub tick: Duration,
    /// Most snapshots per second.
    pub snapshot_hz: u32,
}

/// Why the runner stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Shutdown,
    MarketFinished,
}

/// Hands everything the driver produced to the ledger as one batch.
fn flush(driver: &mut Driver, link: &mut LedgerLink) {
    if let Some(batch) = link.unsent.take() {
        let seq = batch.seq;
        let exec = batch.exec.clone();
        match link.ledger.append(batch) {
            Ok(()) => link.pending.push_back((seq, exec)),
            Err(crate::store::StoreError::Backlog { batch, .. }) => {
                link.unsent = Some(*batch);
                return;
            }
            Err(e) => {
                tracing::error!("ledger append failed: {e}");
                driver.event(EngineEvent::LedgerFailed(e.to_string()));
                return;
            }
        }
    }
    let exec = driver.take_uncommitted();
    let journal = driver.take_journal();
    if exec.is_empty() && journal.is_empty() {
        return;
    }
    let seq = link.next_seq;
    link.next_seq += 1;
    let batch = LedgerBatch { seq, run_id: link.run_id, exec: exec.clone(), journal };
    match link.ledger.append(batch) {
        Ok(()) => link.pending.push_back((seq, exec)),
        Err(crate::store::StoreError::Backlog { batch, .. }) => {
            tracing::warn!("ledger backlog: batch {seq} waits");
            link.unsent = Some(*batch);
        }
        Err(e) => {
            // The writer is gone: fail closed. The batch stays for the next attempt.
            tracing::error!("ledger append failed: {e}");
            driver.event(EngineEvent::LedgerFailed(e.to_string()));
        }
    }
}

/// Delivers the venue reports of a committed batch to the engine.
fn on_ack(driver: &mut Driver, link: &mut LedgerLink, ack: LedgerAck, hook: &mut Option<CommitHook>) {
    match ack.result {
        Ok(()) => {
            link.failing = false;
            while link.pending.front().is_some_and(|(seq, _)| *seq <= ack.seq) {
                if let Some((_, exec)) = link.pending.pop_front() {
                    if let Some(h) = hook.as_mut() {
                        exec.iter().for_each(&mut *h);
                    }
                    driver.committed(exec);
                }
            }
        }
        Err(e) => {
            tracing::error!(seq = ack.seq, "ledger commit failed: {e}");
            if !link.failing {
                link.failing = true;
                driver.event(EngineEvent::LedgerFailed(e));
            }
        }
    }
}

/// Runs until shutdown (or until the market data ends) and returns the driver for a final
/// flush by the caller.
pub async fn run(
    mut driver: Driver,
    mut io: RunnerIo,
    config: RunnerConfig,
    shutdown: CancellationToken,
) -> (Driver, Option<LedgerLink>, StopReason) {
    let mut ticker = tokio::time::interval(config.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let min_gap = Duration::from_millis(1000 / u64::from(config.snapshot_hz.max(1)));
    let mut last_publish = tokio::time::Instant::now() - min_gap;
    let mut dirty = true;
    let mut held_requests: Vec<AgentRequest> = Vec::new();
    let mut ledger = io.ledger.take();
    let mut hook = io.on_commit.take();
    let reason = loop {
        // While the ledger fails, market data keeps flowing: stops and targets must still work
        // (their fills wait in the ledger's queue until the disk recovers).
        let settled = ledger.as_ref().is_none_or(|l| l.settled() || l.failing);
        let acks = async {
            match ledger.as_mut() {
                Some(l) => l.acks.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break StopReason::Shutdown,
            Some(cmd) = io.commands.recv() => {
                driver.command(cmd);
                dirty = true;
            }
            Some(ack) = acks => {
                if let Some(link) = ledger.as_mut() {
                    on_ack(&mut driver, link, ack, &mut hook);
                }
                dirty = true;
            }
            Some(ev) = io.venue.recv() => {
                driver.external_exec(ev);
                dirty = true;
            }
            Some(reply) = io.replies.recv() => {
                driver.agent_reply(reply);
                dirty = true;
            }
            // The next market event waits until every venue report so far is committed and
            // delivered: agents always see their own fills before new data, and a live session
            // replays identically from its recording.
            msg = io.market.recv(), if settled => {
                match msg {
                    Some(SourceEvent::Market(ev)) => driver.on_market(ev),
                    Some(SourceEvent::Feed(status)) => driver.event(EngineEvent::Feed(status)),
                    None => break StopReason::MarketFinished,
                }
                dirty = true;
            }
            _ = ticker.tick() => {
                driver.tick();
                // While the ledger fails, keep publishing so the screen says why trading stopped.
                let settled = ledger.as_ref().is_none_or(|l| l.settled() || l.failing);
                if dirty && settled && last_publish.elapsed() >= min_gap {
                    let mut snap = driver.engine.snapshot();
                    snap.store = ledger.as_ref().map(LedgerLink::stats);
                    let _ = io.snapshots.send(Arc::new(snap));
                    last_publish = tokio::time::Instant::now();
                    dirty = false;
                }
            }
        }
        match ledger.as_mut() {
            Some(link) => {
                flush(&mut driver, link);
                driver.discard_venue_log();
            }
            None => driver.discard_records(),
        }
        held_requests.extend(driver.take_requests());
        if ledger.as_ref().is_none_or(LedgerLink::settled) {
            for request in held_requests.drain(..) {
                let (agent, request_id) = (request.agent, request.request_id);
                if io.requests.try_send(request).is_err() {
                    // Never leave the agent waiting for a reply that cannot come: it holds this cycle.
                    tracing::warn!(%agent, "agent request dropped: the agent workers are busy or gone");
                    driver.agent_reply(AgentReply {
                        agent,
                        request_id,
                        decision: Err("agent worker unavailable: request dropped".into()),
                        meta: Default::default(),
                    });
                }
            }
        }
    };
    // Final flush: everything produced so far goes to the ledger, and what commits in time is
    // delivered, so the last snapshot shows only durable state.
    if let Some(link) = ledger.as_mut() {
        flush(&mut driver, link);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !link.settled() {
            match tokio::time::timeout_at(deadline, link.acks.recv()).await {
                Ok(Some(ack)) => on_ack(&mut driver, link, ack, &mut hook),
                _ => break,
            }
            flush(&mut driver, link);
        }
        if !link.settled() {
            tracing::error!("{} ledger batches still unacknowledged at shutdown", link.pending.len());
        }
    }
    let mut snap = driver.engine.snapshot();
    snap.store = ledger.as_ref().map(LedgerLink::stats);
    let _ = io.snapshots.send(Arc::new(snap));
    (driver, ledger, reason)
}
