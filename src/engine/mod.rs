//! The engine: the single writer of trading state, its inputs, outputs and snapshots.

pub mod allocation;
mod breakers;
mod core;
pub mod driver;
pub mod event;
pub mod guard;
pub mod journal;
pub mod request;
mod restore;
pub mod runner;
pub mod snapshot;
pub mod state;

pub use self::allocation::CapitalTransfer;
pub use self::core::{AgentReport, AgentSpec, Engine, EngineConfig};
pub use driver::{Driver, Durability};
pub use event::{AgentReply, Command, EngineEvent, FeedState, FeedStatus, Outputs, ReplyMeta};
pub use restore::{RestoreData, RestoreReport};
pub use snapshot::Snapshot;
