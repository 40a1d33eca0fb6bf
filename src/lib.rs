//! AlphaTransformer (`alphatx`): a terminal trading cockpit for autonomous trading agents.
//!
//! The engine ([`engine`]) is the single writer of trading state. Market sources ([`market`])
//! feed it events; agents ([`agents`]) propose; the risk gate ([`risk`]) approves or refuses;
//! execution ([`execution`]) fills; analytics ([`analytics`]) score the agents.

pub mod agents;
pub mod analytics;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod engine;
pub mod execution;
pub mod indicators;
pub mod logging;
pub mod market;
pub mod risk;
pub mod scan;
pub mod store;
pub mod ui;
