//! The async shell around the synchronous engine: one task owns the [`Driver`] and serves its
//! inputs with a biased `select!` — shutdown first, then operator commands, venue reports,
//! agent replies, and market data last, so a flood of quotes can never delay a kill switch or a
//! fill. Snapshots go out on a `watch` channel at most `snapshot_hz` times a second and only
//! when something changed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::driver::Driver;
use super::event::{AgentReply, Command, EngineEvent, FeedStatus};
use super::request::AgentRequest;
use super::snapshot::Snapshot;
use crate::domain::MarketEvent;
use crate::execution::ExecEvent;

/// What a market data task sends.
#[derive(Debug, Clone)]
pub enum SourceEvent {
    Market(MarketEvent),
    Feed(FeedStatus),
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
}

/// Timing of the runner.
#[derive(Debug, Clone, Copy)]
pub struct RunnerConfig {
    /// Timer tick (candle closes in quiet markets, agent cadences).
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

/// Runs until shutdown (or until the market data ends) and returns the driver for a final
/// flush by the caller.
pub async fn run(
    mut driver: Driver,
    mut io: RunnerIo,
    config: RunnerConfig,
    shutdown: CancellationToken,
) -> (Driver, StopReason) {
    let mut ticker = tokio::time::interval(config.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let min_gap = Duration::from_millis(1000 / u64::from(config.snapshot_hz.max(1)));
    let mut last_publish = tokio::time::Instant::now() - min_gap;
    let mut dirty = true;
    let reason = loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break StopReason::Shutdown,
            Some(cmd) = io.commands.recv() => {
                driver.command(cmd);
                dirty = true;
            }
            Some(ev) = io.venue.recv() => {
                driver.committed([ev]);
                dirty = true;
            }
            Some(reply) = io.replies.recv() => {
                driver.agent_reply(reply);
                dirty = true;
            }
            msg = io.market.recv() => {
                match msg {
                    Some(SourceEvent::Market(ev)) => driver.on_market(ev),
                    Some(SourceEvent::Feed(status)) => driver.event(EngineEvent::Feed(status)),
                    None => break StopReason::MarketFinished,
                }
                dirty = true;
            }
            _ = ticker.tick() => {
                driver.tick();
                if dirty && last_publish.elapsed() >= min_gap {
                    let _ = io.snapshots.send(Arc::new(driver.engine.snapshot()));
                    last_publish = tokio::time::Instant::now();
                    dirty = false;
                }
            }
        }
        for request in driver.take_requests() {
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
    };
    let _ = io.snapshots.send(Arc::new(driver.engine.snapshot()));
    (driver, reason)
}
