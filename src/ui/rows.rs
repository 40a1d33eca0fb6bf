//! The rows each list panel shows, built from the snapshot in one place so that rendering and
//! key handling (which row is selected, what `d` flattens, what `c` copies) always agree.
//! Also the words for every state: a state is always a word plus a glyph plus a role.

use std::sync::Arc;

use crate::clock::fmt_ts;
use crate::domain::{ClosedTrade, Order};
use crate::engine::event::FeedState;
use crate::engine::journal::DecisionRecord;
use crate::engine::snapshot::{AgentSnapshot, LogEntry, LogKind, PositionSnapshot, Snapshot};
use crate::logging::LogLine;
use crate::risk::TradingState;
use crate::ui::glyphs::Glyphs;
use crate::ui::theme::Role;
use crate::ui::widgets::fmt;

/// Case-insensitive filter match; the row text is only built when a filter is set, because
/// lists are rebuilt every frame.
fn matches(text: impl FnOnce() -> String, filter: Option<&str>) -> bool {
    filter.is_none_or(|f| text().to_lowercase().contains(&f.to_lowercase()))
}

/// Agents ranked by return (benchmarks after the ranked agents), with their rank (`None` for
/// benchmarks).
pub fn leaderboard(snap: &Snapshot) -> Vec<(Option<usize>, &AgentSnapshot)> {
    let mut ranked: Vec<&AgentSnapshot> = snap.agents.iter().filter(|a| !a.benchmark).collect();
    ranked.sort_by(|a, b| {
        b.metrics.total_return_pct.partial_cmp(&a.metrics.total_return_pct).unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut out: Vec<(Option<usize>, &AgentSnapshot)> =
        ranked.into_iter().enumerate().map(|(i, a)| (Some(i + 1), a)).collect();
    out.extend(snap.agents.iter().filter(|a| a.benchmark).map(|a| (None, a)));
    out
}

/// The colour role of an agent: benchmarks use the baseline role, others a stable colour by
/// configuration order.
pub fn agent_role(snap: &Snapshot, agent: &AgentSnapshot) -> Role {
    if agent.benchmark {
        return Role::Baseline;
    }
    let n = snap.agents.iter().filter(|a| !a.benchmark).position(|a| a.id == agent.id).unwrap_or(0);
    Role::agent(n)
}

pub fn position_text(p: &PositionSnapshot) -> String {
    format!("{} {} {} {}", p.agent, p.symbol, p.side.as_str(), p.qty)
}

/// Open positions of every agent (or one), in agent then symbol order.
pub fn positions<'a>(
    snap: &'a Snapshot,
    agent: Option<crate::domain::AgentId>,
    filter: Option<&str>,
) -> Vec<&'a PositionSnapshot> {
    snap.agents
        .iter()
        .filter(|a| agent.is_none_or(|id| a.id == id))
        .flat_map(|a| a.positions.iter())
        .filter(|p| matches(|| position_text(p), filter))
        .collect()
}

pub fn order_text(o: &Order) -> String {
    format!(
        "#{} {} {} {} {} {} {}",
        o.request.id,
        o.request.agent,
        o.request.symbol,
        o.request.side.as_str(),
        o.request.kind.name(),
        o.request.purpose.as_str(),
        o.status.as_str()
    )
}

/// Resting orders of every agent (or one), newest first.
pub fn orders<'a>(snap: &'a Snapshot, agent: Option<crate::domain::AgentId>, filter: Option<&str>) -> Vec<&'a Order> {
    let mut v: Vec<&Order> = snap
        .agents
        .iter()
        .filter(|a| agent.is_none_or(|id| a.id == id))
        .flat_map(|a| a.open_orders.iter())
        .filter(|o| matches(|| order_text(o), filter))
        .collect();
    v.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(b.request.id.cmp(&a.request.id)));
    v
}

/// Closed round trips of every agent (or one), newest first, with the agent's name.
pub fn trades<'a>(
    snap: &'a Snapshot,
    agent: Option<crate::domain::AgentId>,
    filter: Option<&str>,
) -> Vec<(&'a AgentSnapshot, &'a ClosedTrade)> {
    let mut v: Vec<(&AgentSnapshot, &ClosedTrade)> = snap
        .agents
        .iter()
        .filter(|a| agent.is_none_or(|id| a.id == id))
        .flat_map(|a| a.recent_trades.iter().map(move |t| (a, t)))
        .filter(|(a, t)| matches(|| format!("{} {} {}", a.id, t.symbol, t.side.as_str()), filter))
        .collect();
    v.sort_by_key(|(_, t)| std::cmp::Reverse(t.closed_ms));
    v
}

pub fn log_entry_text(e: &LogEntry) -> String {
    format!(
        "{} {} {} {} {}",
        e.agent.map(|a| a.to_string()).unwrap_or_default(),
        e.action,
        e.text,
        e.outcome.as_deref().unwrap_or(""),
        kind_label(e.kind)
    )
}

/// Reasoning-log lines (decisions, refusals, operator actions, system events), newest first.
pub fn reasoning<'a>(snap: &'a Snapshot, filter: Option<&str>) -> Vec<&'a LogEntry> {
    snap.log.iter().rev().filter(|e| e.kind != LogKind::Fill && matches(|| log_entry_text(e), filter)).collect()
}

/// Fill lines of the engine log, newest first.
pub fn fills<'a>(snap: &'a Snapshot, filter: Option<&str>) -> Vec<&'a LogEntry> {
    snap.log.iter().rev().filter(|e| e.kind == LogKind::Fill && matches(|| log_entry_text(e), filter)).collect()
}

pub fn kind_label(k: LogKind) -> &'static str {
    match k {
        LogKind::Decision => "decision",
        LogKind::Order => "order",
        LogKind::Fill => "fill",
        LogKind::Refusal => "refusal",
        LogKind::Trade => "trade",
        LogKind::Funding => "funding",
        LogKind::Operator => "operator",
        LogKind::System => "system",
    }
}

/// One agent's decisions, newest first.
pub fn decisions<'a>(agent: &'a AgentSnapshot, filter: Option<&str>) -> Vec<&'a Arc<DecisionRecord>> {
    agent
        .history
        .iter()
        .rev()
        .filter(|d| matches(|| format!("{} {}", decision_summary(d), d.decision.reasoning), filter))
        .collect()
}

/// `long BTCUSDT 0.05, close ETHUSDT` or `hold`.
pub fn decision_summary(d: &DecisionRecord) -> String {
    use crate::agents::Signal;
    if d.error.is_some() {
        return "hold (error)".into();
    }
    let parts: Vec<String> = d
        .decision
        .proposals
        .iter()
        .filter(|p| p.signal != Signal::Hold)
        .map(|p| match p.signal {
            Signal::BuyToEnter => format!("long {} {}", p.symbol, fmt::qty(p.quantity)),
            Signal::SellToEnter => format!("short {} {}", p.symbol, fmt::qty(p.quantity)),
            Signal::ClosePosition => format!("close {}", p.symbol),
            Signal::Hold => String::new(),
        })
        .collect();
    if parts.is_empty() { "hold".into() } else { parts.join(", ") }
}

/// The outcome of a decision in a few words: `approved`, `refused: code`, `hold`, `error`.
pub fn decision_outcome(d: &DecisionRecord) -> (String, Role) {
    use crate::engine::journal::ProposalOutcome;
    if let Some(e) = &d.error {
        return (format!("error: {}", fmt::one_line(e)), Role::Error);
    }
    if let Some(ProposalOutcome::Refused { code, .. }) =
        d.outcomes.iter().find(|o| matches!(o, ProposalOutcome::Refused { .. }))
    {
        return (format!("refused: {code}"), Role::Loss);
    }
    if let Some(ProposalOutcome::Invalid { reason }) =
        d.outcomes.iter().find(|o| matches!(o, ProposalOutcome::Invalid { .. }))
    {
        return (format!("invalid: {reason}"), Role::Warning);
    }
    if d.outcomes.iter().any(|o| matches!(o, ProposalOutcome::Submitted { .. })) {
        return ("approved".into(), Role::Profit);
    }
    ("hold".into(), Role::Neutral)
}

/// The full text of a decision, in sections: what the detail pane shows and `c` copies.
pub fn decision_text(d: &DecisionRecord) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let (outcome, _) = decision_outcome(d);
    let mut head = vec![
        format!("decision #{} · {} · {} UTC · {}", d.id, d.agent, fmt_ts(d.ts_ms), d.source),
        format!("action: {} · outcome: {}", decision_summary(d), outcome),
    ];
    if d.source != "rule" || d.latency_ms > 0 || d.input_tokens > 0 {
        head.push(format!(
            "latency {} ms · tokens in {} / out {} · cost ${:.4}",
            d.latency_ms, d.input_tokens, d.output_tokens, d.cost_usd
        ));
    }
    out.push(("Summary".to_owned(), head));
    out.push(("Reasoning".to_owned(), fmt::sanitize(&d.decision.reasoning).lines().map(str::to_owned).collect()));
    if let Some(e) = &d.error {
        out.push(("Error".to_owned(), fmt::sanitize(e).lines().map(str::to_owned).collect()));
    }
    let mut props = Vec::new();
    for (i, p) in d.decision.proposals.iter().enumerate() {
        let outcome = d.outcomes.get(i).map_or_else(|| "—".to_owned(), |o| o.label());
        props.push(format!(
            "{}. {} {} qty {} lev {}x · target {} · stop {} · confidence {:.2}{}",
            i + 1,
            p.signal.as_str(),
            p.symbol,
            fmt::qty(p.quantity),
            p.leverage.normalize(),
            p.profit_target.map_or_else(|| "—".into(), fmt::price),
            p.stop_loss.map_or_else(|| "—".into(), fmt::price),
            p.confidence,
            p.risk_usd.map(|r| format!(" · risk ${}", fmt::money(r, 2))).unwrap_or_default(),
        ));
        if let Some(inv) = &p.invalidation_condition {
            props.push(format!("   invalidation: {}", fmt::sanitize(inv)));
        }
        if !p.justification.is_empty() {
            props.push(format!("   why: {}", fmt::one_line(&fmt::sanitize(&p.justification))));
        }
        props.push(format!("   → {outcome}"));
    }
    if props.is_empty() {
        props.push("none (a hold)".into());
    }
    out.push(("Proposals".to_owned(), props));
    out.push((
        "Prompt".to_owned(),
        match &d.prompt {
            Some(p) => fmt::sanitize(p).lines().map(str::to_owned).collect(),
            None => vec!["— none: a rule agent decides from indicators, without a prompt".into()],
        },
    ));
    out.push((
        "Raw output".to_owned(),
        match &d.raw_response {
            Some(p) => fmt::sanitize(p).lines().map(str::to_owned).collect(),
            None => vec!["— none: rule agents produce no raw model output".into()],
        },
    ));
    out
}

/// The decision as plain text (for the clipboard).
pub fn decision_plain(d: &DecisionRecord) -> String {
    let mut s = String::new();
    for (title, lines) in decision_text(d) {
        s.push_str("## ");
        s.push_str(&title);
        s.push('\n');
        for l in lines {
            s.push_str(&l);
            s.push('\n');
        }
        s.push('\n');
    }
    s
}

/// Tracing lines at or above the Logs screen's level, newest first.
pub fn logs<'a>(lines: &'a [LogLine], filter: Option<&str>) -> Vec<&'a LogLine> {
    lines
        .iter()
        .rev()
        .filter(|l| matches(|| format!("{} {} {}", l.level.as_str(), l.target, l.message), filter))
        .collect()
}

/// An agent's state as word, glyph and role.
pub fn agent_state(a: &AgentSnapshot, g: Glyphs) -> (String, &'static str, Role) {
    if let Some(why) = &a.unavailable {
        return (format!("UNAVAILABLE: {why}"), g.cross(), Role::Error);
    }
    match a.state {
        TradingState::Halted => ("HALTED".into(), g.halted(), Role::Halted),
        _ if a.paused => ("PAUSED".into(), g.paused(), Role::Paused),
        TradingState::Reducing if a.reduce_only => ("REDUCE-ONLY".into(), g.reducing(), Role::Warning),
        TradingState::Reducing => ("REDUCING".into(), g.reducing(), Role::Warning),
        TradingState::Active => ("ACTIVE".into(), g.ok(), Role::Ok),
    }
}

/// The arena's state: `KILL SWITCH LATCHED`, `HALTED: reason`, `REDUCING`, `ALL PAUSED`, `ACTIVE`.
pub fn global_state(snap: &Snapshot, g: Glyphs) -> (String, &'static str, Role) {
    if let Some(ts) = snap.kill_switch_ms {
        return (format!("KILL SWITCH LATCHED since {}", crate::clock::fmt_time(ts)), g.halted(), Role::Killed);
    }
    let reason = snap.global_reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
    match snap.global_state {
        TradingState::Halted => (format!("HALTED{reason}"), g.halted(), Role::Halted),
        TradingState::Reducing if snap.global_reduce_only => {
            ("REDUCE-ONLY (all agents)".into(), g.reducing(), Role::Warning)
        }
        TradingState::Reducing => (format!("REDUCING{reason}"), g.reducing(), Role::Warning),
        TradingState::Active => {
            let trading: Vec<&AgentSnapshot> = snap.agents.iter().filter(|a| !a.benchmark).collect();
            if !trading.is_empty() && trading.iter().all(|a| a.paused) {
                ("ALL PAUSED".into(), g.paused(), Role::Paused)
            } else {
                ("ACTIVE".into(), g.ok(), Role::Ok)
            }
        }
    }
}

/// The market feed's state: `LIVE 12ms`, `STALE 12s`, `DISCONNECTED retry 3 in 4s`.
pub fn feed_state(snap: &Snapshot, wall_ms: i64, g: Glyphs) -> (String, &'static str, Role) {
    let s = &snap.source;
    let age = |ts: Option<i64>| ts.map(|t| fmt::duration_s((wall_ms - t) / 1000));
    match s.state {
        FeedState::Live => {
            let lat = s.stats.latency_ms.map(|l| format!(" {l}ms")).unwrap_or_default();
            (format!("LIVE{lat}"), g.ok(), Role::Ok)
        }
        FeedState::Connecting => ("CONNECTING".into(), g.reducing(), Role::Warning),
        FeedState::Stale => {
            let a = age(s.stats.last_message_ms).map(|a| format!(" {a}")).unwrap_or_default();
            (format!("STALE{a}"), g.warn(), Role::Stale)
        }
        FeedState::Disconnected => {
            let retry = match s.stats.next_retry_ms {
                Some(t) => {
                    format!(" retry {} in {}", s.stats.reconnects + 1, fmt::duration_s(((t - wall_ms) / 1000).max(0)))
                }
                None => String::new(),
            };
            (format!("DISCONNECTED{retry}"), g.cross(), Role::Error)
        }
        FeedState::Finished => ("FINISHED".into(), g.halted(), Role::Neutral),
    }
}

/// Total equity of the arena now and at the start of the current UTC day of market time (or
/// the earliest sample, when the run is younger than that); benchmarks excluded.
pub fn day_pnl(snap: &Snapshot) -> (f64, f64, bool) {
    const DAY: i64 = 86_400_000;
    let day_start = snap.now_ms - snap.now_ms.rem_euclid(DAY);
    let mut now = 0.0;
    let mut start = 0.0;
    let mut full_day = true;
    for a in snap.agents.iter().filter(|a| !a.benchmark) {
        now += fmt::f(a.equity);
        let before = a.equity_curve.iter().rev().find(|(t, _)| *t <= day_start);
        match before {
            Some((_, v)) => start += v,
            None => {
                full_day = false;
                start += a.equity_curve.first().map_or(a.metrics.start_equity, |(_, v)| *v);
            }
        }
    }
    (now, now - start, full_day)
}
