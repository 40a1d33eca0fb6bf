//! AlphaTransformer (`alphatx`): a terminal trading cockpit for autonomous trading agents.
//!
//! The engine ([`engine`]) is the single writer of trading state. Market sources ([`market`])
//! feed it events; agents ([`agents`]) propose; the risk gate ([`risk`]) approves or refuses;
//! execution ([`execution`]) fills; analytics ([`analytics`]) score the agents.

pub mod domain;
pub mod indicators;
pub mod market;
