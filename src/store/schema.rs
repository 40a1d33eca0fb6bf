//! The ledger schema, its migrations and the connection settings.
//!
//! Invariants:
//! - `PRAGMA user_version` is the number of migrations applied. [`MIGRATIONS`] only ever grows:
//!   a released migration is never edited, a change is a new entry at the end.
//! - Migrations run in one `BEGIN IMMEDIATE` transaction at open: a crash mid-way leaves the
//!   previous version intact. A file with a version above [`MIGRATIONS`]`.len()` was written by
//!   a newer binary and is refused, never used.
//! - The write connection runs WAL, `synchronous=FULL` (a commit survives power loss, not just a
//!   crash), `foreign_keys=ON` and a `busy_timeout`; readers open read-only connections.
//! - Tables are `STRICT` so a wrong type is an error, never a silent coercion.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::StoreError;

/// How long a connection waits for a lock held by another one before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Upper bound of the WAL file kept after checkpoints.
const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// The schema, one entry per version: `MIGRATIONS[i]` takes the file from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[V1, V2];

/// Version 1: the whole ledger.
const V1: &str = r#"
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    profile       TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    seed          TEXT,                 -- u64 in decimal (SQLite integers are signed)
    config_toml   TEXT    NOT NULL,
    started_ms    INTEGER NOT NULL,
    sim_start_ms  INTEGER,
    retired_ms    INTEGER               -- set when the run must no longer be resumed
) STRICT;
CREATE INDEX runs_by_profile ON runs(profile, id);

CREATE TABLE agents (
    run_id     INTEGER NOT NULL REFERENCES runs(id),
    agent      TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    benchmark  INTEGER NOT NULL,
    symbols    TEXT    NOT NULL,        -- comma-separated
    PRIMARY KEY (run_id, agent)
) STRICT;                               -- rowid keeps the registration order

-- One account per agent and run. The money columns are kept equal to the fills and funding
-- payments applied to the starting balance, in the same transaction as those rows.
CREATE TABLE accounts (
    run_id            INTEGER NOT NULL,
    agent             TEXT    NOT NULL,
    starting_balance  TEXT    NOT NULL,
    cash              TEXT    NOT NULL,
    realized_pnl      TEXT    NOT NULL,
    fees_paid         TEXT    NOT NULL,
    funding           TEXT    NOT NULL,
    volume            TEXT    NOT NULL,
    fill_count        INTEGER NOT NULL,
    updated_ms        INTEGER,
    PRIMARY KEY (run_id, agent),
    FOREIGN KEY (run_id, agent) REFERENCES agents(run_id, agent)
) STRICT, WITHOUT ROWID;

-- Current state of every order the venue accepted or rejected; `order_history` has each change.
CREATE TABLE orders (
    run_id       INTEGER NOT NULL,
    order_id     INTEGER NOT NULL,
    agent        TEXT    NOT NULL,
    symbol       TEXT    NOT NULL,
    side         TEXT    NOT NULL,
    qty          TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    price        TEXT,                  -- limit or trigger price
    reduce_only  INTEGER NOT NULL,
    leverage     TEXT    NOT NULL,
    purpose      TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    filled_qty   TEXT    NOT NULL,
    reason       TEXT,                  -- why it was rejected or cancelled
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    PRIMARY KEY (run_id, order_id),
    FOREIGN KEY (run_id, agent) REFERENCES agents(run_id, agent)
) STRICT, WITHOUT ROWID;
CREATE INDEX orders_open ON orders(run_id) WHERE status IN ('open', 'partially_filled');

-- Order changes other than fills (a fill row carries the order's status after it).
CREATE TABLE order_events (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    order_id    INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    ts_ms       INTEGER NOT NULL,
    event       TEXT    NOT NULL,       -- accepted, rejected, cancelled, triggered
    status      TEXT,                   -- the order's status after the event
    price       TEXT,                   -- trigger price
    reason      TEXT
) STRICT;
CREATE INDEX order_events_by_order ON order_events(run_id, order_id, seq);

-- Every execution, once: unique on (venue, trade id). `seq` orders fills and funding payments
-- of the ledger as they happened, which is the order accounts are rebuilt in.
CREATE TABLE fills (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    venue         TEXT    NOT NULL,
    trade_id      INTEGER NOT NULL,
    order_id      INTEGER NOT NULL,     -- 0 for venue liquidations
    agent         TEXT    NOT NULL,
    symbol        TEXT    NOT NULL,
    side          TEXT    NOT NULL,
    qty           TEXT    NOT NULL,
    price         TEXT    NOT NULL,
    fee           TEXT    NOT NULL,
    liquidity     TEXT    NOT NULL,
    purpose       TEXT    NOT NULL,
    liquidation   INTEGER NOT NULL,
    leverage      TEXT    NOT NULL,
    order_status  TEXT    NOT NULL,
    realized_pnl  TEXT    NOT NULL,     -- realised by this fill, before fees
    ts_ms         INTEGER NOT NULL,
    UNIQUE (venue, trade_id),
    FOREIGN KEY (run_id, agent) REFERENCES agents(run_id, agent)
) STRICT;
CREATE INDEX fills_by_run ON fills(run_id, seq);

-- The full history of every order, in ledger order: its events and its fills.
CREATE VIEW order_history AS
    SELECT run_id, order_id, seq, ts_ms, event, status, NULL AS qty, price, reason FROM order_events
    UNION ALL
    SELECT run_id, order_id, seq, ts_ms, 'filled', order_status, qty, price, NULL FROM fills WHERE order_id != 0;

-- A fill whose (venue, trade id) was already stored with different content: kept for the
-- operator, never applied to an account.
CREATE TABLE fill_conflicts (
    id        INTEGER PRIMARY KEY,
    run_id    INTEGER NOT NULL REFERENCES runs(id),
    venue     TEXT    NOT NULL,
    trade_id  INTEGER NOT NULL,
    ts_ms     INTEGER NOT NULL,
    fill      TEXT    NOT NULL          -- JSON
) STRICT;

-- Current position per run, agent and symbol, written from the fills in the same transaction;
-- a flat position keeps its row with qty 0.
CREATE TABLE positions (
    run_id         INTEGER NOT NULL,
    agent          TEXT    NOT NULL,
    symbol         TEXT    NOT NULL,
    qty            TEXT    NOT NULL,
    cost           TEXT    NOT NULL,
    leverage       TEXT    NOT NULL,
    realized_pnl   TEXT    NOT NULL,
    fees           TEXT    NOT NULL,
    funding        TEXT    NOT NULL,
    max_qty        TEXT    NOT NULL,
    exit_notional  TEXT    NOT NULL,
    exit_qty       TEXT    NOT NULL,
    opened_ms      INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    PRIMARY KEY (run_id, agent, symbol),
    FOREIGN KEY (run_id, agent) REFERENCES agents(run_id, agent)
) STRICT, WITHOUT ROWID;

CREATE TABLE funding (
    id       INTEGER PRIMARY KEY,
    run_id   INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    agent    TEXT    NOT NULL,
    symbol   TEXT    NOT NULL,
    rate     TEXT    NOT NULL,
    mark     TEXT    NOT NULL,
    amount   TEXT    NOT NULL,          -- positive = received
    ts_ms    INTEGER NOT NULL,
    UNIQUE (run_id, agent, symbol, ts_ms),
    FOREIGN KEY (run_id, agent) REFERENCES agents(run_id, agent)
) STRICT;
CREATE INDEX funding_by_run ON funding(run_id, seq);

CREATE TABLE equity (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL,
    agent           TEXT    NOT NULL,
    ts_ms           INTEGER NOT NULL,
    equity          TEXT    NOT NULL,
    cash            TEXT    NOT NULL,
    unrealized_pnl  TEXT    NOT NULL,
    FOREIGN KEY (run_id, agent) REFERENCES agents(run_id, agent)
) STRICT;
CREATE INDEX equity_by_agent ON equity(run_id, agent, ts_ms);

-- One row per decision cycle: what the agent saw (prompt), said (raw output, reasoning),
-- proposed (JSON), what became of each proposal (JSON), failures, latency, tokens and cost.
CREATE TABLE decisions (
    run_id         INTEGER NOT NULL,
    decision_id    INTEGER NOT NULL,
    agent          TEXT    NOT NULL,
    ts_ms          INTEGER NOT NULL,
    source         TEXT    NOT NULL,
    reasoning      TEXT    NOT NULL,
    proposals      TEXT    NOT NULL,    -- JSON array
    outcomes       TEXT    NOT NULL,    -- JSON array, one per proposal
    error          TEXT,
    latency_ms     INTEGER NOT NULL,
    prompt         TEXT,
    raw_response   TEXT,
    input_tokens   INTEGER NOT NULL,
    output_tokens  INTEGER NOT NULL,
    cost_usd       REAL    NOT NULL,
    PRIMARY KEY (run_id, decision_id),
    FOREIGN KEY (run_id, agent) REFERENCES agents(run_id, agent)
) STRICT;
CREATE INDEX decisions_by_agent ON decisions(run_id, agent, decision_id);

-- Risk events: refusals by the gate, trading-state changes, and (later) breaker trips.
-- `agent` is NULL for arena-wide events; `detail` is the full record as JSON.
CREATE TABLE risk_events (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES runs(id),
    ts_ms        INTEGER NOT NULL,
    agent        TEXT,
    kind         TEXT    NOT NULL,      -- refusal, state_change, breaker
    code         TEXT,                  -- refusal code or breaker name
    state        TEXT,                  -- resulting trading state
    message      TEXT    NOT NULL,
    decision_id  INTEGER,
    order_id     INTEGER,
    detail       TEXT    NOT NULL
) STRICT;
CREATE INDEX risk_events_by_kind ON risk_events(run_id, kind, agent, id);

-- Operator actions (pause, flatten, kill switch...), for the audit trail.
CREATE TABLE commands (
    id       INTEGER PRIMARY KEY,
    run_id   INTEGER NOT NULL REFERENCES runs(id),
    ts_ms    INTEGER NOT NULL,
    command  TEXT    NOT NULL,
    result   TEXT    NOT NULL
) STRICT;
CREATE INDEX commands_by_run ON commands(run_id, id);

-- Exit plans installed (plan = JSON) or retired (plan = NULL), newest row wins.
CREATE TABLE exit_plans (
    id             INTEGER PRIMARY KEY,
    run_id         INTEGER NOT NULL,
    ts_ms          INTEGER NOT NULL,
    agent          TEXT    NOT NULL,
    symbol         TEXT    NOT NULL,
    stop_loss      TEXT,
    profit_target  TEXT,
    plan           TEXT,
    FOREIGN KEY (run_id, agent) REFERENCES agents(run_id, agent)
) STRICT;
CREATE INDEX exit_plans_by_symbol ON exit_plans(run_id, agent, symbol, id);
"#;

/// Version 2: capital transfers between agents, and the size adjustment of adaptive decisions.
const V2: &str = r#"
-- Free cash moved between two agents' accounts by the arena's capital re-weighting
-- (`reversal` = 1: moved back because the venue refused). Applied, in `seq` order with fills
-- and funding, when accounts are rebuilt.
CREATE TABLE transfers (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    seq         INTEGER NOT NULL,
    ts_ms       INTEGER NOT NULL,
    from_agent  TEXT    NOT NULL,
    to_agent    TEXT    NOT NULL,
    amount      TEXT    NOT NULL,
    from_cash   TEXT    NOT NULL,       -- both accounts' cash after the transfer
    to_cash     TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    reversal    INTEGER NOT NULL,
    FOREIGN KEY (run_id, from_agent) REFERENCES agents(run_id, agent),
    FOREIGN KEY (run_id, to_agent) REFERENCES agents(run_id, agent)
) STRICT;
CREATE INDEX transfers_by_run ON transfers(run_id, seq);

-- The size adjustment (JSON) an adaptive rule agent applied to the decision's entries.
ALTER TABLE decisions ADD COLUMN adjustment TEXT;
"#;

/// The schema version this binary writes.
pub fn current_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Opens (creating it if needed) the ledger for writing, with the durability settings.
pub fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(StoreError::sqlite(path, "cannot open the ledger for writing"))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(StoreError::sqlite(path, "cannot set busy_timeout"))?;
    // Nothing is written (not even the journal mode) before the file is known to be a ledger
    // this binary can use: another application's database or a newer ledger stays untouched.
    preflight(&conn, path, current_version())?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).map_err(|e| not_a_ledger(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NotALedger {
            path: path.to_owned(),
            detail: format!(
                "SQLite could not switch it to WAL mode (it stays in {mode} mode); keep the ledger on a local disk"
            ),
        });
    }
    conn.pragma_update(None, "synchronous", "FULL").map_err(StoreError::sqlite(path, "cannot set synchronous=FULL"))?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(StoreError::sqlite(path, "cannot enable foreign keys"))?;
    conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)
        .map_err(StoreError::sqlite(path, "cannot set journal_size_limit"))?;
    // 32 MiB of page cache: the indexes the writer updates stay in memory on long runs.
    conn.pragma_update(None, "cache_size", -32_768).map_err(StoreError::sqlite(path, "cannot set cache_size"))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Opens an existing ledger read-only (queries, exports, resume, backups).
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(StoreError::NoLedger { path: path.to_owned() });
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(StoreError::sqlite(path, "cannot open the ledger for reading"))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(StoreError::sqlite(path, "cannot set busy_timeout"))?;
    let version = user_version(&conn).map_err(|e| not_a_ledger(path, e))?;
    if version > current_version() {
        return Err(StoreError::NewerSchema { path: path.to_owned(), found: version, supported: current_version() });
    }
    if version < current_version() {
        return Err(StoreError::NotALedger {
            path: path.to_owned(),
            detail: format!(
                "its schema is version {version}, older than this alphatx's {}: start `alphatx run` once to upgrade it",
                current_version()
            ),
        });
    }
    Ok(conn)
}

/// Refuses files that are not ledgers (or are newer than `supported`) without writing to them.
fn preflight(conn: &Connection, path: &Path, supported: i64) -> Result<i64, StoreError> {
    let found = user_version(conn).map_err(|e| not_a_ledger(path, e))?;
    if found > supported {
        return Err(StoreError::NewerSchema { path: path.to_owned(), found, supported });
    }
    if found < 0 {
        return Err(StoreError::NotALedger { path: path.to_owned(), detail: format!("negative user_version {found}") });
    }
    if found == 0 {
        // Version 0 must be an empty file: a non-empty one is some other application's database.
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table'", [], |r| r.get(0))
            .map_err(|e| not_a_ledger(path, e))?;
        if tables > 0 {
            return Err(StoreError::NotALedger {
                path: path.to_owned(),
                detail: format!("it already holds {tables} tables but no ledger schema version"),
            });
        }
    }
    Ok(found)
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

fn not_a_ledger(path: &Path, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            StoreError::NotALedger { path: path.to_owned(), detail: e.to_string() }
        }
        _ => StoreError::Sqlite { path: path.to_owned(), context: "cannot read the ledger", error: e },
    }
}

/// Brings the file to the newest version of `migrations`; refuses a newer file.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<i64, StoreError> {
    migrate_with(conn, path, MIGRATIONS)
}

/// [`migrate`] with an explicit migration list (tests build older files from a prefix).
pub fn migrate_with(conn: &mut Connection, path: &Path, migrations: &[&str]) -> Result<i64, StoreError> {
    let supported = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StoreError::sqlite(path, "cannot start the schema migration"))?;
    // Checked again inside the transaction: another process may have migrated meanwhile.
    let found = preflight(&tx, path, supported)?;
    let start = usize::try_from(found).unwrap_or(0);
    for (i, sql) in migrations.iter().enumerate().skip(start) {
        tx.execute_batch(sql).map_err(StoreError::sqlite(path, "schema migration failed"))?;
        tx.pragma_update(None, "user_version", i64::try_from(i + 1).unwrap_or(i64::MAX))
            .map_err(StoreError::sqlite(path, "cannot record the schema version"))?;
    }
    tx.commit().map_err(StoreError::sqlite(path, "cannot commit the schema migration"))?;
    if found < supported {
        tracing::info!(path = %path.display(), from = found, to = supported, "ledger schema migrated");
    }
    Ok(supported)
}

/// `PRAGMA quick_check` (fast) or `integrity_check` (thorough): `Ok` when the file is sound.
pub fn check(conn: &Connection, path: &Path, thorough: bool) -> Result<(), StoreError> {
    let pragma = if thorough { "integrity_check" } else { "quick_check" };
    let mut stmt = conn.prepare(&format!("PRAGMA {pragma}")).map_err(|e| not_a_ledger(path, e))?;
    let lines: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| not_a_ledger(path, e))?;
    if lines.len() == 1 && lines[0] == "ok" {
        Ok(())
    } else {
        let detail = lines.iter().take(5).cloned().collect::<Vec<_>>().join("; ");
        Err(StoreError::Damaged { path: path.to_owned(), detail })
    }
}
