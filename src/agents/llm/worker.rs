//! The LLM worker task: receives the engine's [`AgentRequest`]s and answers each one on its own
//! task, so a slow model never delays another agent (and never the engine, which does not wait
//! for replies at all).
//!
//! Invariant: every request gets exactly one reply. A request for an agent without a client,
//! or whose task crashed, is answered with an `Err` reply (a counted hold) instead of leaving
//! the engine's in-flight marker set for ever.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::LlmAgent;
use crate::domain::AgentId;
use crate::engine::request::AgentRequest;
use crate::engine::{AgentReply, ReplyMeta};

/// Serves requests until shutdown or until the engine drops its sender. Calls in flight at
/// shutdown are abandoned (the engine is stopping; their replies would not be read).
pub async fn run_worker(
    agents: Vec<Arc<LlmAgent>>,
    mut requests: mpsc::Receiver<AgentRequest>,
    replies: mpsc::Sender<AgentReply>,
    shutdown: CancellationToken,
) {
    let by_id: HashMap<AgentId, Arc<LlmAgent>> = agents.into_iter().map(|a| (a.id, a)).collect();
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, (AgentId, u64)> = HashMap::new();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            Some(joined) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let (id, failed) = match joined {
                    Ok((id, ())) => (id, false),
                    Err(e) => (e.id(), e.is_panic()),
                };
                if let Some((agent, request_id)) = in_flight.remove(&id)
                    && failed
                {
                    tracing::error!(%agent, "the LLM worker task crashed; answering with a hold");
                    let reply = AgentReply {
                        agent,
                        request_id,
                        decision: Err("internal_error: the LLM worker crashed on this request (see the log)".into()),
                        meta: ReplyMeta::default(),
                    };
                    if replies.send(reply).await.is_err() {
                        break;
                    }
                }
            }
            request = requests.recv() => {
                let Some(request) = request else { break };
                let (agent_id, request_id) = (request.agent, request.request_id);
                match by_id.get(&agent_id) {
                    Some(agent) => {
                        let agent = agent.clone();
                        let tx = replies.clone();
                        let handle = tasks.spawn(async move {
                            let reply = agent.decide(request).await;
                            // The engine may be shutting down; nothing else to do then.
                            let _ = tx.send(reply).await;
                        });
                        in_flight.insert(handle.id(), (agent_id, request_id));
                    }
                    None => {
                        let reply = AgentReply {
                            agent: agent_id,
                            request_id,
                            decision: Err(format!("not_configured: no LLM client for agent {agent_id}")),
                            meta: ReplyMeta::default(),
                        };
                        if replies.send(reply).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    }
    tasks.abort_all();
}
