//! What goes into the engine ([`EngineEvent`], [`Command`]) and what comes out ([`Outputs`]).

use serde::{Deserialize, Serialize};

use super::journal::JournalRecord;
use super::request::AgentRequest;
use crate::agents::Decision;
use crate::domain::{AgentId, MarketEvent, OrderId, OrderRequest, Symbol};
use crate::execution::ExecEvent;
use crate::risk::RiskApproved;

/// Everything the engine reacts to.
#[derive(Debug, Clone)]
pub enum EngineEvent {
    /// New market data.
    Market(MarketEvent),
    /// A venue report; in live runs it arrives only after the ledger committed it.
    Exec(ExecEvent),
    /// An operator intent.
    Command(Command),
    /// A slow agent's answer to an [`AgentRequest`].
    AgentReply(AgentReply),
    /// The state of a market data feed changed.
    Feed(FeedStatus),
    /// Time passed (timers: sampling, candle closes in quiet markets, agent cadences).
    Tick,
    /// The ledger could not commit: no new risk until the operator releases the breaker.
    LedgerFailed(String),
}

/// Operator intents from the keyboard, the command line or `ctl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Stop asking the agent for decisions; its positions stay protected.
    Pause {
        agent: AgentId,
    },
    Resume {
        agent: AgentId,
    },
    PauseAll,
    ResumeAll,
    /// Cancel the agent's orders and close its positions at market.
    FlattenAgent {
        agent: AgentId,
    },
    /// Close one agent's position in one symbol and cancel its orders there.
    FlattenPosition {
        agent: AgentId,
        symbol: Symbol,
    },
    /// Close every agent's position in one symbol.
    FlattenSymbol {
        symbol: Symbol,
    },
    /// Cancel everything and close everything.
    FlattenAll,
    /// Only orders that reduce exposure, for one agent or (`None`) the whole arena.
    SetReduceOnly {
        agent: Option<AgentId>,
        on: bool,
    },
    /// Cancel one resting order.
    CancelOrder {
        agent: AgentId,
        order: OrderId,
    },
    /// Cancel every order, close every position at market, and latch the arena in `Halted`.
    KillSwitch,
    /// Unlatch the kill switch; refused until every account is confirmed flat.
    ReleaseKillSwitch,
    /// Release every tripped circuit breaker of one agent or (`None`) of the arena; they re-arm
    /// from the current equity.
    ReleaseBreakers {
        agent: Option<AgentId>,
    },
}

impl Command {
    pub fn describe(&self) -> String {
        match self {
            Command::Pause { agent } => format!("pause {agent}"),
            Command::Resume { agent } => format!("resume {agent}"),
            Command::PauseAll => "pause all agents".into(),
            Command::ResumeAll => "resume all agents".into(),
            Command::FlattenAgent { agent } => format!("flatten {agent}"),
            Command::FlattenPosition { agent, symbol } => format!("flatten {agent} {symbol}"),
            Command::FlattenSymbol { symbol } => format!("flatten {symbol}"),
            Command::FlattenAll => "flatten everything".into(),
            Command::SetReduceOnly { agent: Some(a), on } => format!("reduce-only {} for {a}", on_off(*on)),
            Command::SetReduceOnly { agent: None, on } => format!("reduce-only {} for all agents", on_off(*on)),
            Command::CancelOrder { agent, order } => format!("cancel order #{order} of {agent}"),
            Command::KillSwitch => "KILL SWITCH".into(),
            Command::ReleaseKillSwitch => "release kill switch".into(),
            Command::ReleaseBreakers { agent: Some(a) } => format!("release breakers of {a}"),
            Command::ReleaseBreakers { agent: None } => "release arena breakers".into(),
        }
    }
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// Metadata a slow agent returns with its decision (what it cost, how long it took, what it saw).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReplyMeta {
    pub latency_ms: u64,
    pub prompt: Option<String>,
    pub raw_response: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

/// A slow agent's decision (or its failure).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentReply {
    pub agent: AgentId,
    pub request_id: u64,
    /// `Err` carries a human-readable failure (timeout, invalid output...): it counts as a hold.
    pub decision: Result<Decision, String>,
    pub meta: ReplyMeta,
}

/// Health of a market data feed, reported by the feed task when it changes and periodically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedStatus {
    pub source: String,
    pub state: FeedState,
    pub detail: String,
    /// Symbols whose data is currently stale (agents trading them get no new decisions).
    pub stale: Vec<Symbol>,
    pub stats: FeedStats,
}

impl FeedStatus {
    /// A status with no stale symbols and no statistics.
    pub fn new(source: &str, state: FeedState, detail: impl Into<String>) -> Self {
        Self { source: source.to_owned(), state, detail: detail.into(), stale: Vec::new(), stats: FeedStats::default() }
    }
}

/// Counters a feed keeps about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedStats {
    /// Messages received since start.
    pub messages: u64,
    /// Messages per second over the last reporting interval.
    pub messages_per_sec: f64,
    /// Messages that could not be decoded or were rejected.
    pub bad_messages: u64,
    pub reconnects: u64,
    /// Exchange event time → local receive time of the latest message, in milliseconds.
    pub latency_ms: Option<i64>,
    /// Wall time of the latest message.
    pub last_message_ms: Option<i64>,
    /// When the next reconnect attempt is due, while disconnected.
    pub next_retry_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedState {
    Connecting,
    Live,
    Stale,
    Disconnected,
    Finished,
}

impl FeedState {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedState::Connecting => "CONNECTING",
            FeedState::Live => "LIVE",
            FeedState::Stale => "STALE",
            FeedState::Disconnected => "DISCONNECTED",
            FeedState::Finished => "FINISHED",
        }
    }
}

/// What one `process` call asks the outside world to do.
#[derive(Debug, Default)]
pub struct Outputs {
    /// Approved orders for the execution client.
    pub orders: Vec<RiskApproved<OrderRequest>>,
    /// Cancels for the execution client: (account, order, reason).
    pub cancels: Vec<(AgentId, OrderId, String)>,
    /// Records for the ledger.
    pub journal: Vec<JournalRecord>,
    /// Requests for slow agents.
    pub agent_requests: Vec<AgentRequest>,
}

impl Outputs {
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty() && self.cancels.is_empty() && self.journal.is_empty() && self.agent_requests.is_empty()
    }

    pub fn clear(&mut self) {
        self.orders.clear();
        self.cancels.clear();
        self.journal.clear();
        self.agent_requests.clear();
    }
}
