//! The synchronous pipeline around the engine: market data goes to the venue first (resting
//! orders react to the new price), then to the engine; approved orders go to the venue and its
//! reports come back to the engine until nothing is left to do.
//!
//! In [`Durability::Direct`] mode (backtests) venue reports reach the engine at once. In
//! [`Durability::AfterCommit`] mode (live runs) they are held in [`Driver::take_uncommitted`]
//! for the ledger, and the engine sees them only when the runner hands them back through
//! [`Driver::committed`] after the ledger committed them: nothing is shown, counted by risk or
//! told to an agent before it is durable.

use super::core::Engine;
use super::event::{AgentReply, Command, EngineEvent, Outputs};
use super::journal::JournalRecord;
use super::request::AgentRequest;
use crate::clock::ManualClock;
use crate::domain::MarketEvent;
use crate::execution::{ExecEvent, ExecutionClient};

/// When venue reports reach the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// At once (backtests, tests).
    Direct,
    /// After the ledger committed them.
    AfterCommit,
}

/// Engine + execution client + the plumbing between them.
pub struct Driver {
    pub engine: Engine,
    exec: Box<dyn ExecutionClient>,
    /// Advanced to each market event's time when the run is driven by market time.
    market_clock: Option<ManualClock>,
    durability: Durability,
    out: Outputs,
    exec_buf: Vec<ExecEvent>,
    uncommitted: Vec<ExecEvent>,
    journal: Vec<JournalRecord>,
    venue_log: Vec<ExecEvent>,
    requests: Vec<AgentRequest>,
}

impl Driver {
    pub fn new(
        engine: Engine,
        exec: Box<dyn ExecutionClient>,
        market_clock: Option<ManualClock>,
        durability: Durability,
    ) -> Self {
        Self {
            engine,
            exec,
            market_clock,
            durability,
            out: Outputs::default(),
            exec_buf: Vec::new(),
            uncommitted: Vec::new(),
            journal: Vec::new(),
            venue_log: Vec::new(),
            requests: Vec::new(),
        }
    }

    pub fn exec(&self) -> &dyn ExecutionClient {
        self.exec.as_ref()
    }

    pub fn exec_mut(&mut self) -> &mut dyn ExecutionClient {
        self.exec.as_mut()
    }

    /// Feeds one market event through venue and engine.
    pub fn on_market(&mut self, event: MarketEvent) {
        if let Some(clock) = &self.market_clock {
            clock.advance_to(event.ts_ms);
        }
        self.exec.on_market(&event, &mut self.exec_buf);
        self.route_exec();
        self.engine.process(EngineEvent::Market(event), &mut self.out);
        self.dispatch();
    }

    /// Feeds history the venue already saw (a resumed run's market up to where it stopped): the
    /// engine rebuilds candles and indicators; the venue is not asked to match anything.
    pub fn on_market_history(&mut self, event: MarketEvent) {
        if let Some(clock) = &self.market_clock {
            clock.advance_to(event.ts_ms);
        }
        self.engine.process(EngineEvent::Market(event), &mut self.out);
        self.dispatch();
    }

    pub fn command(&mut self, command: Command) {
        self.engine.process(EngineEvent::Command(command), &mut self.out);
        self.dispatch();
    }

    pub fn agent_reply(&mut self, reply: AgentReply) {
        self.engine.process(EngineEvent::AgentReply(reply), &mut self.out);
        self.dispatch();
    }

    pub fn event(&mut self, event: EngineEvent) {
        self.engine.process(event, &mut self.out);
        self.dispatch();
    }

    pub fn tick(&mut self) {
        self.engine.process(EngineEvent::Tick, &mut self.out);
        self.dispatch();
    }

    /// A report from a live venue's own connection: journaled first in AfterCommit mode.
    pub fn external_exec(&mut self, event: ExecEvent) {
        self.exec_buf.push(event);
        self.route_exec();
        self.dispatch();
    }

    /// Drops the Direct-mode venue log (it is only kept for callers that journal it).
    pub fn discard_venue_log(&mut self) {
        self.venue_log.clear();
    }

    /// Venue reports the ledger has committed (AfterCommit mode).
    pub fn committed(&mut self, events: impl IntoIterator<Item = ExecEvent>) {
        for ev in events {
            self.engine.process(EngineEvent::Exec(ev), &mut self.out);
        }
        self.dispatch();
    }

    /// Final equity sample.
    pub fn finish(&mut self) {
        self.engine.finish(&mut self.out);
        self.dispatch();
    }

    /// Venue reports waiting to be committed (AfterCommit mode).
    pub fn take_uncommitted(&mut self) -> Vec<ExecEvent> {
        std::mem::take(&mut self.uncommitted)
    }

    /// True while venue reports wait for the ledger.
    pub fn has_uncommitted(&self) -> bool {
        !self.uncommitted.is_empty()
    }

    /// Engine ledger records produced so far.
    pub fn take_journal(&mut self) -> Vec<JournalRecord> {
        std::mem::take(&mut self.journal)
    }

    /// Venue reports already applied (Direct mode), for the ledger.
    pub fn take_venue_log(&mut self) -> Vec<ExecEvent> {
        std::mem::take(&mut self.venue_log)
    }

    /// Requests for slow agents.
    pub fn take_requests(&mut self) -> Vec<AgentRequest> {
        std::mem::take(&mut self.requests)
    }

    /// Drops accumulated ledger records and venue reports (backtests without a ledger).
    pub fn discard_records(&mut self) {
        self.journal.clear();
        self.venue_log.clear();
    }

    fn route_exec(&mut self) {
        match self.durability {
            Durability::AfterCommit => self.uncommitted.append(&mut self.exec_buf),
            Durability::Direct => {
                for ev in self.exec_buf.drain(..) {
                    self.engine.process(EngineEvent::Exec(ev.clone()), &mut self.out);
                    self.venue_log.push(ev);
                }
            }
        }
    }

    /// Sends orders and cancels to the venue until the engine has nothing more to send.
    fn dispatch(&mut self) {
        // Bounded: each round trip can only create protective orders for new fills.
        for _ in 0..64 {
            if self.out.orders.is_empty() && self.out.cancels.is_empty() {
                break;
            }
            let now = self.engine.now_ms();
            for (agent, id, reason) in std::mem::take(&mut self.out.cancels) {
                self.exec.cancel(agent, id, &reason, now, &mut self.exec_buf);
            }
            for order in std::mem::take(&mut self.out.orders) {
                self.exec.submit(order, now, &mut self.exec_buf);
            }
            self.route_exec();
        }
        // Capital re-weighting: the venue moves the cash too, or the engine takes it back.
        for t in self.engine.take_transfers() {
            if let Err(reason) = self.exec.transfer(t.from, t.to, t.amount, t.ts_ms) {
                self.engine.transfer_failed(&t, &reason, &mut self.out);
            }
        }
        self.journal.append(&mut self.out.journal);
        self.requests.append(&mut self.out.agent_requests);
    }
}
