//! Schema migrations: from an empty file, idempotent re-open, from every previous version,
//! refusal of a newer schema and of files that are not ledgers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod store_support;

use std::path::Path;

use alphatx::store::schema::{self, MIGRATIONS};
use alphatx::store::{Ledger, StoreError};
use store_support::*;

fn user_version(path: &Path) -> i64 {
    reader(path).pragma_query_value(None, "user_version", |r| r.get(0)).unwrap()
}

/// Table and index definitions, to compare schemas built by different paths.
fn schema_sql(path: &Path) -> Vec<(String, String)> {
    let conn = reader(path);
    let mut stmt = conn.prepare("SELECT name, coalesce(sql, '') FROM sqlite_schema ORDER BY name").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
}

#[test]
fn an_empty_file_gets_the_whole_schema_and_durable_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/ledger.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(user_version(&path), schema::current_version());
    assert_eq!(schema::current_version(), MIGRATIONS.len() as i64);
    let conn = reader(&path);
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    for table in [
        "runs",
        "agents",
        "accounts",
        "orders",
        "order_events",
        "fills",
        "fill_conflicts",
        "positions",
        "funding",
        "equity",
        "decisions",
        "risk_events",
        "commands",
        "exit_plans",
    ] {
        let n = count(&conn, &format!("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '{table}'"));
        assert_eq!(n, 1, "table {table} missing");
    }
    let unique = count(
        &conn,
        "SELECT count(*) FROM pragma_index_list('fills') l JOIN pragma_index_info(l.name) i
         WHERE l.\"unique\" = 1 AND i.name IN ('venue', 'trade_id')",
    );
    assert_eq!(unique, 2, "fills must be unique on (venue, trade_id)");
    ledger.close().unwrap();
}

#[test]
fn reopening_is_idempotent_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    let run = ledger.begin_run(new_run("default")).unwrap();
    ledger.close().unwrap();
    let before = schema_sql(&path);
    for _ in 0..3 {
        let ledger = Ledger::open(&path).unwrap();
        assert_eq!(ledger.resume_state("default").unwrap().unwrap().run_id, run);
        ledger.close().unwrap();
    }
    assert_eq!(schema_sql(&path), before);
    assert_eq!(user_version(&path), schema::current_version());
}

#[test]
fn every_previous_version_upgrades_to_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.sqlite");
    Ledger::open(&fresh).unwrap().close().unwrap();
    let expected = schema_sql(&fresh);
    // A fixture of every older version, built from the migration list's prefix.
    for version in 0..MIGRATIONS.len() {
        let path = dir.path().join(format!("v{version}.sqlite"));
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            let v = schema::migrate_with(&mut conn, &path, &MIGRATIONS[..version]).unwrap();
            assert_eq!(v, version as i64);
        }
        assert_eq!(user_version(&path), version as i64);
        let ledger = Ledger::open(&path).unwrap();
        ledger.close().unwrap();
        assert_eq!(user_version(&path), schema::current_version(), "from v{version}");
        assert_eq!(schema_sql(&path), expected, "schema after upgrading from v{version}");
    }
}

#[test]
fn the_migrator_applies_only_missing_steps_and_keeps_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sqlite");
    let steps: &[&str] = &[
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);",
        "ALTER TABLE t ADD COLUMN w TEXT NOT NULL DEFAULT 'x';",
        "CREATE INDEX t_w ON t(w); UPDATE t SET w = 'migrated';",
    ];
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(schema::migrate_with(&mut conn, &path, &steps[..1]).unwrap(), 1);
    conn.execute("INSERT INTO t (v) VALUES ('kept')", []).unwrap();
    assert_eq!(schema::migrate_with(&mut conn, &path, steps).unwrap(), 3);
    // Idempotent: running again applies nothing (an ALTER twice would fail).
    assert_eq!(schema::migrate_with(&mut conn, &path, steps).unwrap(), 3);
    let (v, w): (String, String) = conn.query_row("SELECT v, w FROM t", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((v.as_str(), w.as_str()), ("kept", "migrated"));
}

#[test]
fn a_failing_migration_leaves_the_previous_version_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sqlite");
    let steps: &[&str] = &["CREATE TABLE t (id INTEGER PRIMARY KEY);", "CREATE TABLE u (a); THIS IS NOT SQL;"];
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    schema::migrate_with(&mut conn, &path, &steps[..1]).unwrap();
    let err = schema::migrate_with(&mut conn, &path, steps).unwrap_err();
    assert!(err.to_string().contains("schema migration failed"), "{err}");
    assert_eq!(conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)).unwrap(), 1);
    let u = count(&conn, "SELECT count(*) FROM sqlite_schema WHERE name = 'u'");
    assert_eq!(u, 0, "the half-applied step was rolled back");
}

#[test]
fn a_newer_schema_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    Ledger::open(&path).unwrap().close().unwrap();
    let newer = schema::current_version() + 1;
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", newer).unwrap();
    let err = Ledger::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NewerSchema { found, .. } if found == newer), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("written by a newer alphatx") && msg.contains("Upgrade alphatx"), "{msg}");
    // Readers refuse it too, and the file is left as it was.
    assert!(matches!(alphatx::store::list_runs(&path), Err(StoreError::NewerSchema { .. })));
    assert_eq!(user_version(&path), newer);
}

#[test]
fn files_that_are_not_ledgers_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.sqlite");
    std::fs::write(&text, "these are my trading notes, not a database ".repeat(200)).unwrap();
    let err = Ledger::open(&text).unwrap_err();
    assert!(matches!(err, StoreError::NotALedger { .. }), "{err:?}");
    assert!(err.to_string().contains("not a usable SQLite ledger"), "{err}");
    assert!(std::fs::read_to_string(&text).unwrap().starts_with("these are my trading notes"));

    let other = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other).unwrap().execute_batch("CREATE TABLE mine (x);").unwrap();
    let err = Ledger::open(&other).unwrap_err();
    assert!(err.to_string().contains("no ledger schema version"), "{err}");
}

#[test]
fn another_applications_database_is_not_modified() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE mine (x); INSERT INTO mine VALUES (1);")
        .unwrap();
    let before = std::fs::read(&other).unwrap();
    assert!(Ledger::open(&other).is_err());
    assert_eq!(std::fs::read(&other).unwrap(), before, "not even the journal mode may change");
}

#[test]
fn one_writer_per_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite");
    let first = Ledger::open(&path).unwrap();
    let err = Ledger::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err:?}");
    assert!(err.to_string().contains("another alphatx is already using the ledger"), "{err}");
    // Readers are not blocked by the writer's lock.
    assert!(alphatx::store::list_runs(&path).unwrap().is_empty());
    first.close().unwrap();
    Ledger::open(&path).unwrap().close().unwrap();
}
