//! Reading a run back: the state a restarted arena resumes from, and consistency checks.
//!
//! Accounts are rebuilt from the stored fills, funding payments and capital transfers (in the order
//! they were stored) with the same domain code the engine uses, so they are exactly what the engine had;
//! the `accounts`/`positions` rows are only compared against them ([`verify_positions`]).
//! Everything here reads committed data through a read-only connection.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use rust_decimal::Decimal;
use serde::Serialize;

use super::codec::{self, Decoder};
use super::schema;
use super::{StoreError, writer};
use crate::agents::{Decision, Proposal};
use crate::analytics::decimal_to_f64;
use crate::domain::{Account, AgentId, ClosedTrade, Fill, Order, OrderId, OrderRequest, Position, Symbol};
use crate::engine::journal::{BreakerRecord, DecisionRecord, ProposalOutcome, StateChangeRecord};
use crate::engine::state::ExitPlan;

/// Equity samples returned per agent.
pub const RESUME_EQUITY_POINTS: usize = 2_000;
/// Decisions returned per agent.
pub const RESUME_DECISIONS: usize = 50;

/// What a restarted arena needs to continue a run.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumeState {
    pub run_id: i64,
    pub profile: String,
    pub started_ms: i64,
    pub sim_start_ms: Option<i64>,
    pub seed: Option<u64>,
    /// Latest event time stored for the run (fills, orders, funding, equity, decisions, risk
    /// events, commands, plans); `started_ms` when nothing was stored yet.
    pub last_ts_ms: i64,
    /// Rebuilt from the stored fills, funding payments and transfers (exact), one per registered agent,
    /// in registration order.
    pub accounts: Vec<Account>,
    /// Every round trip closed in the run and the fees paid, per agent in registration order:
    /// the leaderboard's trades, win rate, profit factor and fee share continue from them.
    pub history: Vec<TradeHistory>,
    /// Orders whose latest status is open or partially filled.
    pub open_orders: Vec<Order>,
    /// The latest plan per (agent, symbol) that is not retired.
    pub plans: Vec<(AgentId, ExitPlan)>,
    /// Latest state record per agent.
    pub agent_states: Vec<StateChangeRecord>,
    /// Latest arena-wide state record.
    pub arena_state: Option<StateChangeRecord>,
    /// Circuit breakers still tripped (tripped and not released since), oldest first.
    pub active_trips: Vec<BreakerRecord>,
    /// The last [`RESUME_EQUITY_POINTS`] samples per agent, oldest first.
    pub equity: Vec<(AgentId, Vec<(i64, f64)>)>,
    /// The last [`RESUME_DECISIONS`] decisions per agent, oldest first.
    pub recent_decisions: Vec<DecisionRecord>,
    /// Order ids continue after every id the run used (orders, fills, refusals).
    pub next_order_id: u64,
    /// Next trade id of the paper venue: trade ids are unique per venue across runs.
    pub next_trade_id: u64,
    pub next_decision_id: u64,
}

/// The closed round trips and fees of one agent, from its fills in ledger order.
#[derive(Debug, Clone, PartialEq)]
pub struct TradeHistory {
    pub agent: AgentId,
    pub closed: Vec<ClosedTrade>,
    pub fees: Decimal,
}

/// One stored run, for listings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub id: i64,
    pub profile: String,
    pub source: String,
    pub started_ms: i64,
    pub retired_ms: Option<i64>,
    pub agents: u64,
    pub fills: u64,
}

/// A stored position that differs from the one rebuilt from fills.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionMismatch {
    pub agent: AgentId,
    pub symbol: Symbol,
    /// From the `positions` table (`None`: no row, or a flat row).
    pub stored: Option<Position>,
    /// Rebuilt from fills and funding (`None`: flat).
    pub rebuilt: Option<Position>,
}

/// The latest resumable run of `profile`, or `None` when there is none (or no ledger file yet).
pub fn load(path: &Path, profile: &str) -> Result<Option<ResumeState>, StoreError> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = schema::open_reader(path)?;
    // One read transaction: every query sees the same committed state.
    conn.execute_batch("BEGIN").map_err(StoreError::sqlite(path, "cannot start a read"))?;
    let result = load_in(&conn, path, profile);
    let _ = conn.execute_batch("COMMIT");
    result
}

fn load_in(conn: &Connection, path: &Path, profile: &str) -> Result<Option<ResumeState>, StoreError> {
    let sql = |context| StoreError::sqlite(path, context);
    let d = Decoder::new(path, "runs");
    let run = conn
        .query_row(
            "SELECT id, started_ms, sim_start_ms, seed FROM runs WHERE profile = ?1 AND retired_ms IS NULL
             ORDER BY id DESC LIMIT 1",
            params![profile],
            |r| <(i64, i64, Option<i64>, Option<String>)>::try_from(r),
        )
        .optional()
        .map_err(sql("cannot read runs"))?;
    let Some((run_id, started_ms, sim_start_ms, seed)) = run else { return Ok(None) };
    let seed = d.seed(seed.as_deref())?;

    let (accounts, history) = rebuild(conn, path, run_id)?;
    let open_orders = open_orders(conn, path, run_id)?;
    let plans = plans(conn, path, run_id)?;
    let (agent_states, arena_state) = states(conn, path, run_id)?;
    let active_trips = active_trips(conn, path, run_id)?;
    let agents: Vec<AgentId> = accounts.iter().map(|a| a.agent).collect();
    let mut equity = Vec::with_capacity(agents.len());
    let mut recent_decisions = Vec::new();
    for agent in &agents {
        equity.push((*agent, equity_tail(conn, path, run_id, *agent, RESUME_EQUITY_POINTS)?));
        recent_decisions.extend(decisions_tail(conn, path, run_id, *agent, RESUME_DECISIONS)?);
    }
    recent_decisions.sort_by_key(|r| (r.ts_ms, r.id));

    let last_ts_ms: Option<i64> = conn
        .query_row(
            "SELECT max(coalesce((SELECT max(ts_ms) FROM fills WHERE run_id = ?1), 0),
                        coalesce((SELECT max(ts_ms) FROM funding WHERE run_id = ?1), 0),
                        coalesce((SELECT max(ts_ms) FROM order_events WHERE run_id = ?1), 0),
                        coalesce((SELECT max(ts_ms) FROM equity WHERE run_id = ?1), 0),
                        coalesce((SELECT max(ts_ms) FROM decisions WHERE run_id = ?1), 0),
                        coalesce((SELECT max(ts_ms) FROM risk_events WHERE run_id = ?1), 0),
                        coalesce((SELECT max(ts_ms) FROM commands WHERE run_id = ?1), 0),
                        coalesce((SELECT max(ts_ms) FROM transfers WHERE run_id = ?1), 0),
                        coalesce((SELECT max(ts_ms) FROM exit_plans WHERE run_id = ?1), 0))",
            params![run_id],
            |r| r.get(0),
        )
        .map_err(sql("cannot read the latest event time"))?;
    let last_ts_ms = last_ts_ms.filter(|t| *t > 0).unwrap_or(started_ms);

    let max_order: i64 = conn
        .query_row(
            "SELECT max(coalesce((SELECT max(order_id) FROM orders WHERE run_id = ?1), 0),
                        coalesce((SELECT max(order_id) FROM fills WHERE run_id = ?1), 0),
                        coalesce((SELECT max(order_id) FROM risk_events WHERE run_id = ?1), 0))",
            params![run_id],
            |r| r.get(0),
        )
        .map_err(sql("cannot read order ids"))?;
    let max_decision: i64 = conn
        .query_row("SELECT coalesce(max(decision_id), 0) FROM decisions WHERE run_id = ?1", params![run_id], |r| {
            r.get(0)
        })
        .map_err(sql("cannot read decision ids"))?;

    Ok(Some(ResumeState {
        run_id,
        profile: profile.to_owned(),
        started_ms,
        sim_start_ms,
        seed,
        last_ts_ms,
        accounts,
        history,
        open_orders,
        plans,
        agent_states,
        arena_state,
        active_trips,
        equity,
        recent_decisions,
        next_order_id: codec::id_back(max_order).saturating_add(1),
        next_trade_id: next_trade_id_in(conn, path, "paper")?,
        next_decision_id: codec::id_back(max_decision).saturating_add(1),
    }))
}

/// Breakers tripped and not released since, from the breaker events of the run.
fn active_trips(conn: &Connection, path: &Path, run_id: i64) -> Result<Vec<BreakerRecord>, StoreError> {
    let d = Decoder::new(path, "risk_events");
    let mut stmt = conn
        .prepare(
            "SELECT detail FROM risk_events WHERE run_id = ?1 AND kind IN ('breaker_trip', 'breaker_release')
             ORDER BY id",
        )
        .map_err(StoreError::sqlite(path, "cannot read breaker events"))?;
    let rows: Vec<String> = stmt
        .query_map(params![run_id], |r| r.get(0))
        .and_then(Iterator::collect)
        .map_err(StoreError::sqlite(path, "cannot read breaker events"))?;
    let mut active: Vec<BreakerRecord> = Vec::new();
    for row in rows {
        let rec: BreakerRecord = d.json("detail", &row)?;
        active.retain(|b| !(b.agent == rec.agent && b.breaker == rec.breaker));
        if rec.tripped {
            active.push(rec);
        }
    }
    Ok(active)
}

/// 1 + the highest trade id stored for `venue` (1 for an empty ledger).
pub fn next_trade_id(path: &Path, venue: &str) -> Result<u64, StoreError> {
    if !path.exists() {
        return Ok(1);
    }
    let conn = schema::open_reader(path)?;
    next_trade_id_in(&conn, path, venue)
}

fn next_trade_id_in(conn: &Connection, path: &Path, venue: &str) -> Result<u64, StoreError> {
    let max: i64 = conn
        .query_row("SELECT coalesce(max(trade_id), 0) FROM fills WHERE venue = ?1", params![venue], |r| r.get(0))
        .map_err(StoreError::sqlite(path, "cannot read trade ids"))?;
    Ok(codec::id_back(max).saturating_add(1))
}

/// The registered agents of a run with their starting balances, in registration order.
fn starting_accounts(conn: &Connection, path: &Path, run_id: i64) -> Result<Vec<Account>, StoreError> {
    let d = Decoder::new(path, "accounts");
    let mut stmt = conn
        .prepare(
            "SELECT a.agent, c.starting_balance FROM agents a JOIN accounts c ON c.run_id = a.run_id AND c.agent = a.agent
             WHERE a.run_id = ?1 ORDER BY a.rowid",
        )
        .map_err(StoreError::sqlite(path, "cannot read accounts"))?;
    let rows: Vec<(String, String)> = stmt
        .query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(StoreError::sqlite(path, "cannot read accounts"))?;
    rows.into_iter()
        .map(|(agent, balance)| Ok(Account::new(d.agent("agent", &agent)?, d.dec("starting_balance", &balance)?)))
        .collect()
}

/// Every stored fill, funding payment and capital transfer of a run applied in ledger order to
/// the starting balances: the accounts exactly as the engine had them.
pub(crate) fn rebuild_accounts(conn: &Connection, path: &Path, run_id: i64) -> Result<Vec<Account>, StoreError> {
    rebuild(conn, path, run_id).map(|(accounts, _)| accounts)
}

/// [`rebuild_accounts`], plus the round trips the fills closed and the fees they paid.
fn rebuild(conn: &Connection, path: &Path, run_id: i64) -> Result<(Vec<Account>, Vec<TradeHistory>), StoreError> {
    let mut accounts = starting_accounts(conn, path, run_id)?;
    let mut history: Vec<TradeHistory> =
        accounts.iter().map(|a| TradeHistory { agent: a.agent, closed: Vec::new(), fees: Decimal::ZERO }).collect();
    let index: BTreeMap<AgentId, usize> = accounts.iter().enumerate().map(|(i, a)| (a.agent, i)).collect();
    let fd = Decoder::new(path, "fills");
    let gd = Decoder::new(path, "funding");
    // Fills and funding payments merged on the ledger-wide sequence.
    let mut stmt = conn
        .prepare(
            "SELECT seq, 0, venue, trade_id, order_id, agent, symbol, side, qty, price, fee, liquidity, purpose,
                    liquidation, leverage, ts_ms
             FROM fills WHERE run_id = ?1
             UNION ALL
             SELECT seq, 1, NULL, NULL, NULL, agent, symbol, NULL, NULL, NULL, amount, NULL, NULL, NULL, NULL, ts_ms
             FROM funding WHERE run_id = ?1
             UNION ALL
             SELECT seq, 2, NULL, NULL, NULL, from_agent, to_agent, NULL, NULL, NULL, amount, NULL, NULL, NULL, NULL, ts_ms
             FROM transfers WHERE run_id = ?1
             ORDER BY 1",
        )
        .map_err(StoreError::sqlite(path, "cannot read fills"))?;
    let mut rows = stmt.query(params![run_id]).map_err(StoreError::sqlite(path, "cannot read fills"))?;
    let sql = |e| StoreError::Sqlite { path: path.to_owned(), context: "cannot read fills", error: e };
    while let Some(r) = rows.next().map_err(sql)? {
        let kind: i64 = r.get(1).map_err(sql)?;
        let agent: String = r.get(5).map_err(sql)?;
        let ts_ms: i64 = r.get(15).map_err(sql)?;
        let agent = fd.agent("agent", &agent)?;
        if kind == 2 {
            let td = Decoder::new(path, "transfers");
            let to: String = r.get(6).map_err(sql)?;
            let to = td.agent("to_agent", &to)?;
            let amount: String = r.get(10).map_err(sql)?;
            let amount = td.dec("amount", &amount)?;
            match (index.get(&agent), index.get(&to)) {
                (Some(&f), Some(&t)) => {
                    accounts[f].cash -= amount;
                    accounts[t].cash += amount;
                }
                _ => tracing::warn!(run_id, from = %agent, %to, "transfer between agents without accounts: skipped"),
            }
            continue;
        }
        let is_funding = kind == 1;
        let symbol: String = r.get(6).map_err(sql)?;
        let symbol = fd.symbol("symbol", &symbol)?;
        let Some(&i) = index.get(&agent) else {
            // Records of an agent without an account row cannot be applied; the writer always
            // creates the account first, so this only happens to a hand-edited file.
            tracing::warn!(run_id, %agent, "fill or funding of an agent with no account: skipped");
            continue;
        };
        if is_funding {
            let amount: String = r.get(10).map_err(sql)?;
            accounts[i].apply_funding(symbol, gd.dec("amount", &amount)?);
            continue;
        }
        let text = |k: usize| -> Result<String, StoreError> { r.get::<_, String>(k).map_err(sql) };
        let fill = Fill {
            venue: text(2)?,
            trade_id: codec::id_back(r.get(3).map_err(sql)?),
            order_id: OrderId(codec::id_back(r.get(4).map_err(sql)?)),
            agent,
            symbol,
            side: fd.side("side", &text(7)?)?,
            qty: fd.dec("qty", &text(8)?)?,
            price: fd.dec("price", &text(9)?)?,
            fee: fd.dec("fee", &text(10)?)?,
            liquidity: fd.liquidity("liquidity", &text(11)?)?,
            purpose: fd.purpose("purpose", &text(12)?)?,
            liquidation: r.get::<_, i64>(13).map_err(sql)? != 0,
            ts_ms,
        };
        let leverage = fd.dec("leverage", &text(14)?)?;
        history[i].fees += fill.fee;
        if let Some(trade) = accounts[i].apply_fill(&fill, leverage).closed {
            history[i].closed.push(trade);
        }
    }
    Ok((accounts, history))
}

/// Compares the `positions` rows of a run with positions rebuilt from its fills; empty when
/// they agree (flat rows and absent rows count as flat).
pub fn verify_positions(path: &Path, run_id: i64) -> Result<Vec<PositionMismatch>, StoreError> {
    let conn = schema::open_reader(path)?;
    conn.execute_batch("BEGIN").map_err(StoreError::sqlite(path, "cannot start a read"))?;
    let result = verify_in(&conn, path, run_id);
    let _ = conn.execute_batch("COMMIT");
    result
}

fn verify_in(conn: &Connection, path: &Path, run_id: i64) -> Result<Vec<PositionMismatch>, StoreError> {
    let mut out = Vec::new();
    for account in rebuild_accounts(conn, path, run_id)? {
        let stored = writer::load_positions(conn, path, run_id, account.agent)?;
        let mut symbols: Vec<Symbol> = stored.iter().map(|p| p.symbol).collect();
        symbols.extend(account.positions.iter().map(|p| p.symbol));
        symbols.sort();
        symbols.dedup();
        for symbol in symbols {
            let s = stored.iter().find(|p| p.symbol == symbol && !p.is_flat()).cloned();
            let r = account.position(symbol).cloned();
            if s != r {
                out.push(PositionMismatch { agent: account.agent, symbol, stored: s, rebuilt: r });
            }
        }
        let row = writer::load_account(conn, path, run_id, account.agent)?;
        if row.cash != account.cash || row.fill_count != account.fill_count || row.funding != account.funding {
            tracing::warn!(run_id, agent = %account.agent, "accounts row differs from the fills");
        }
    }
    Ok(out)
}

fn open_orders(conn: &Connection, path: &Path, run_id: i64) -> Result<Vec<Order>, StoreError> {
    let d = Decoder::new(path, "orders");
    let mut stmt = conn
        .prepare(
            "SELECT order_id, agent, symbol, side, qty, kind, price, reduce_only, leverage, purpose, status, filled_qty,
                    created_ms, updated_ms
             FROM orders WHERE run_id = ?1 AND status IN ('open', 'partially_filled') ORDER BY order_id",
        )
        .map_err(StoreError::sqlite(path, "cannot read orders"))?;
    type Row =
        (i64, String, String, String, String, String, Option<String>, bool, String, String, String, String, i64, i64);
    let rows: Vec<Row> = stmt
        .query_map(params![run_id], |r| r.try_into())
        .and_then(|rows| rows.collect())
        .map_err(StoreError::sqlite(path, "cannot read orders"))?;
    rows.into_iter()
        .map(
            |(
                oid,
                agent,
                symbol,
                side,
                qty,
                kind,
                price,
                reduce_only,
                leverage,
                purpose,
                status,
                filled,
                created,
                updated,
            )| {
                Ok(Order {
                    request: OrderRequest {
                        id: OrderId(codec::id_back(oid)),
                        agent: d.agent("agent", &agent)?,
                        symbol: d.symbol("symbol", &symbol)?,
                        side: d.side("side", &side)?,
                        qty: d.dec("qty", &qty)?,
                        kind: d.kind(&kind, price.as_deref())?,
                        reduce_only,
                        leverage: d.dec("leverage", &leverage)?,
                        purpose: d.purpose("purpose", &purpose)?,
                        // Resting orders are protective brackets or limits: no attached plan.
                        stop_loss: None,
                        take_profit: None,
                    },
                    status: d.status("status", &status)?,
                    filled_qty: d.dec("filled_qty", &filled)?,
                    created_ms: created,
                    updated_ms: updated,
                })
            },
        )
        .collect()
}

fn plans(conn: &Connection, path: &Path, run_id: i64) -> Result<Vec<(AgentId, ExitPlan)>, StoreError> {
    let d = Decoder::new(path, "exit_plans");
    let mut stmt = conn
        .prepare(
            "SELECT p.agent, p.plan FROM exit_plans p
             JOIN (SELECT max(id) AS id FROM exit_plans WHERE run_id = ?1 GROUP BY agent, symbol) latest ON latest.id = p.id
             WHERE p.plan IS NOT NULL ORDER BY p.id",
        )
        .map_err(StoreError::sqlite(path, "cannot read exit plans"))?;
    let rows: Vec<(String, String)> = stmt
        .query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(StoreError::sqlite(path, "cannot read exit plans"))?;
    rows.into_iter().map(|(agent, plan)| Ok((d.agent("agent", &agent)?, d.json("plan", &plan)?))).collect()
}

type States = (Vec<StateChangeRecord>, Option<StateChangeRecord>);

fn states(conn: &Connection, path: &Path, run_id: i64) -> Result<States, StoreError> {
    let d = Decoder::new(path, "risk_events");
    let mut stmt = conn
        .prepare(
            "SELECT e.detail FROM risk_events e
             JOIN (SELECT max(id) AS id FROM risk_events WHERE run_id = ?1 AND kind = 'state_change' GROUP BY agent) latest
               ON latest.id = e.id
             ORDER BY e.id",
        )
        .map_err(StoreError::sqlite(path, "cannot read trading states"))?;
    let rows: Vec<String> = stmt
        .query_map(params![run_id], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(StoreError::sqlite(path, "cannot read trading states"))?;
    let mut agents = Vec::new();
    let mut arena = None;
    for detail in rows {
        let rec: StateChangeRecord = d.json("detail", &detail)?;
        if rec.agent.is_some() {
            agents.push(rec);
        } else {
            arena = Some(rec);
        }
    }
    Ok((agents, arena))
}

fn equity_tail(
    conn: &Connection,
    path: &Path,
    run_id: i64,
    agent: AgentId,
    limit: usize,
) -> Result<Vec<(i64, f64)>, StoreError> {
    let d = Decoder::new(path, "equity");
    let mut stmt = conn
        .prepare_cached(
            "SELECT ts_ms, equity FROM equity WHERE run_id = ?1 AND agent = ?2 ORDER BY ts_ms DESC, id DESC LIMIT ?3",
        )
        .map_err(StoreError::sqlite(path, "cannot read equity"))?;
    let rows: Vec<(i64, String)> = stmt
        .query_map(params![run_id, agent.as_str(), i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .and_then(|rows| rows.collect())
        .map_err(StoreError::sqlite(path, "cannot read equity"))?;
    let mut out = rows
        .into_iter()
        .map(|(ts, e)| Ok((ts, decimal_to_f64(d.dec("equity", &e)?))))
        .collect::<Result<Vec<_>, StoreError>>()?;
    out.reverse();
    Ok(out)
}

/// Decisions of an agent, newest `limit`, oldest first.
pub(crate) fn decisions_tail(
    conn: &Connection,
    path: &Path,
    run_id: i64,
    agent: AgentId,
    limit: usize,
) -> Result<Vec<DecisionRecord>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {DECISION_COLUMNS} FROM decisions WHERE run_id = ?1 AND agent = ?2 ORDER BY decision_id DESC LIMIT ?3"
        ))
        .map_err(StoreError::sqlite(path, "cannot read decisions"))?;
    let mut rows = stmt
        .query(params![run_id, agent.as_str(), i64::try_from(limit).unwrap_or(i64::MAX)])
        .map_err(StoreError::sqlite(path, "cannot read decisions"))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(StoreError::sqlite(path, "cannot read decisions"))? {
        out.push(decision_from_row(r, path)?);
    }
    out.reverse();
    Ok(out)
}

pub(crate) const DECISION_COLUMNS: &str = "decision_id, agent, ts_ms, source, reasoning, proposals, outcomes, error, \
     latency_ms, prompt, raw_response, input_tokens, output_tokens, cost_usd, adjustment";

/// A decision row (selected with [`DECISION_COLUMNS`]) back into the engine's record.
pub(crate) fn decision_from_row(r: &rusqlite::Row<'_>, path: &Path) -> Result<DecisionRecord, StoreError> {
    let d = Decoder::new(path, "decisions");
    let sql = |e| StoreError::Sqlite { path: path.to_owned(), context: "cannot read a decision", error: e };
    let agent: String = r.get(1).map_err(sql)?;
    let proposals: String = r.get(5).map_err(sql)?;
    let outcomes: String = r.get(6).map_err(sql)?;
    let proposals: Vec<Proposal> = d.json("proposals", &proposals)?;
    let outcomes: Vec<ProposalOutcome> = d.json("outcomes", &outcomes)?;
    Ok(DecisionRecord {
        id: codec::id_back(r.get(0).map_err(sql)?),
        agent: d.agent("agent", &agent)?,
        ts_ms: r.get(2).map_err(sql)?,
        source: r.get(3).map_err(sql)?,
        decision: Decision { reasoning: r.get(4).map_err(sql)?, proposals },
        outcomes,
        error: r.get(7).map_err(sql)?,
        latency_ms: codec::count_back(r.get(8).map_err(sql)?),
        prompt: r.get(9).map_err(sql)?,
        raw_response: r.get(10).map_err(sql)?,
        input_tokens: codec::count_back(r.get(11).map_err(sql)?),
        output_tokens: codec::count_back(r.get(12).map_err(sql)?),
        cost_usd: r.get(13).map_err(sql)?,
        adjustment: match r.get::<_, Option<String>>(14).map_err(sql)? {
            Some(text) => Some(d.json("adjustment", &text)?),
            None => None,
        },
    })
}

/// Every run in the ledger, newest first.
pub fn list_runs(path: &Path) -> Result<Vec<RunSummary>, StoreError> {
    let conn = schema::open_reader(path)?;
    list_runs_in(&conn, path)
}

pub(crate) fn list_runs_in(conn: &Connection, path: &Path) -> Result<Vec<RunSummary>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT r.id, r.profile, r.source, r.started_ms, r.retired_ms,
                    (SELECT count(*) FROM agents a WHERE a.run_id = r.id),
                    (SELECT count(*) FROM fills f WHERE f.run_id = r.id)
             FROM runs r ORDER BY r.id DESC",
        )
        .map_err(StoreError::sqlite(path, "cannot list runs"))?;
    stmt.query_map([], |r| {
        Ok(RunSummary {
            id: r.get(0)?,
            profile: r.get(1)?,
            source: r.get(2)?,
            started_ms: r.get(3)?,
            retired_ms: r.get(4)?,
            agents: codec::count_back(r.get(5)?),
            fills: codec::count_back(r.get(6)?),
        })
    })
    .and_then(|rows| rows.collect())
    .map_err(StoreError::sqlite(path, "cannot list runs"))
}

/// Whether `run_id` exists; the error names the runs that do.
pub(crate) fn require_run(conn: &Connection, path: &Path, run_id: i64) -> Result<(), StoreError> {
    let exists = conn
        .query_row("SELECT 1 FROM runs WHERE id = ?1", params![run_id], |_| Ok(()))
        .optional()
        .map_err(StoreError::sqlite(path, "cannot read runs"))?
        .is_some();
    if exists {
        return Ok(());
    }
    let runs = list_runs_in(conn, path)?;
    let hint = if runs.is_empty() {
        " (it holds no runs yet)".to_owned()
    } else {
        let ids: Vec<String> = runs.iter().take(10).map(|r| format!("{} ({})", r.id, r.profile)).collect();
        format!("; stored runs, newest first: {}", ids.join(", "))
    };
    Err(StoreError::UnknownRun { run_id, hint })
}
