//! Records the engine hands to the ledger (besides venue reports, which the runner journals
//! before the engine sees them).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::agents::{Decision, Proposal};
use crate::domain::{AgentId, OrderId, OrderRequest, Symbol};
use crate::engine::guard::{BreakerAction, BreakerKind};
use crate::engine::state::ExitPlan;
use crate::risk::{RefusalCode, TradingState};

/// One ledger record produced by the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum JournalRecord {
    Decision(DecisionRecord),
    Refusal(RefusalRecord),
    Equity(EquityRecord),
    Command(CommandRecord),
    StateChange(StateChangeRecord),
    Plan(PlanRecord),
    Breaker(BreakerRecord),
    /// Capital moved between two agents' accounts (`[adaptation] reallocate`).
    Transfer(TransferRecord),
}

/// Free cash moved from one agent's account to another's by the arena's capital re-weighting
/// (or moved back, `reversal`, when the venue refused it). Cash outside fills: a resumed run
/// must replay these to reconcile accounts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferRecord {
    pub ts_ms: i64,
    pub from: AgentId,
    pub to: AgentId,
    pub amount: Decimal,
    /// Both accounts' cash after the transfer.
    pub from_cash: Decimal,
    pub to_cash: Decimal,
    pub reason: String,
    pub reversal: bool,
}

/// A circuit breaker tripped or released.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerRecord {
    pub ts_ms: i64,
    /// `None` for arena-wide breakers.
    pub agent: Option<AgentId>,
    pub breaker: BreakerKind,
    pub tripped: bool,
    pub action: BreakerAction,
    pub detail: String,
}

/// An exit plan installed (`plan` set) or retired (`plan` empty) for an agent's position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanRecord {
    pub ts_ms: i64,
    pub agent: AgentId,
    pub symbol: Symbol,
    pub plan: Option<ExitPlan>,
}

/// How one proposal of a decision ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ProposalOutcome {
    Hold,
    /// Orders were sent (ids of the entry/exit order).
    Submitted {
        order: OrderId,
    },
    /// The proposal was malformed or not applicable (e.g. close without a position).
    Invalid {
        reason: String,
    },
    Refused {
        code: RefusalCode,
        message: String,
    },
}

impl ProposalOutcome {
    pub fn label(&self) -> String {
        match self {
            ProposalOutcome::Hold => "hold".into(),
            ProposalOutcome::Submitted { order } => format!("sent #{order}"),
            ProposalOutcome::Invalid { reason } => format!("invalid: {reason}"),
            ProposalOutcome::Refused { code, message } => format!("refused {code}: {message}"),
        }
    }
}

/// A stored decision cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub id: u64,
    pub agent: AgentId,
    pub ts_ms: i64,
    /// `rule` or `llm`.
    pub source: String,
    pub decision: Decision,
    pub outcomes: Vec<ProposalOutcome>,
    /// Failure text when the agent produced no valid decision (counts as hold).
    pub error: Option<String>,
    pub latency_ms: u64,
    pub prompt: Option<String>,
    pub raw_response: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    /// The adaptive size factor applied to the decision's entries, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjustment: Option<crate::agents::adaptive::SizeAdjustment>,
}

impl DecisionRecord {
    pub fn proposals(&self) -> &[Proposal] {
        &self.decision.proposals
    }
}

/// A refused order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusalRecord {
    pub agent: AgentId,
    pub ts_ms: i64,
    pub decision_id: Option<u64>,
    pub code: RefusalCode,
    pub message: String,
    pub request: OrderRequest,
}

/// An equity sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquityRecord {
    pub agent: AgentId,
    pub ts_ms: i64,
    pub equity: Decimal,
    pub cash: Decimal,
    pub unrealized_pnl: Decimal,
}

/// An operator action, for the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRecord {
    pub ts_ms: i64,
    pub command: String,
    pub result: String,
}

/// The full state flags of one agent (or, with `agent` empty, of the arena) after a change, so a
/// resumed run can restore them exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateChangeRecord {
    pub ts_ms: i64,
    /// `None` for the arena.
    pub agent: Option<AgentId>,
    /// Agent: no new decisions are asked for (always false for the arena).
    pub paused: bool,
    /// Why it is paused (operator, consecutive failures...), if it is.
    pub pause_reason: Option<String>,
    /// The operator's reduce-only switch.
    pub reduce_only: bool,
    /// State set by circuit breakers.
    pub breaker_state: TradingState,
    /// Arena: when the kill switch was latched, if it is.
    pub kill_switch_ms: Option<i64>,
    /// The resulting effective state.
    pub state: TradingState,
    pub reason: String,
}
