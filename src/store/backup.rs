//! `alphatx backup`: a consistent copy of a live ledger with SQLite's online backup API.
//!
//! The copy is made in one backup step from a read-only connection, which holds one WAL read
//! snapshot for its duration: the writer keeps committing meanwhile, and the copy is exactly
//! the ledger as of one commit (a consistent prefix of everything appended). It is written to a
//! temporary file next to the destination, switched to a single-file journal mode, checked with
//! `PRAGMA integrity_check`, synced, and only then linked into place, so `dest` never exists
//! half-written and an existing file is never overwritten.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::backup::{Backup, StepResult};

use super::{StoreError, schema};

/// How many times a busy or locked step is retried before giving up.
const BUSY_RETRIES: u32 = 200;

pub fn backup(src: &Path, dest: &Path) -> Result<(), StoreError> {
    if dest.exists() {
        return Err(StoreError::DestinationExists { path: dest.to_owned() });
    }
    let source = schema::open_reader(src)?;
    let tmp = partial_path(dest);
    let result = copy_to(&source, src, &tmp).and_then(|()| publish(&tmp, dest));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn partial_path(dest: &Path) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "ledger".into());
    dest.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

fn copy_to(source: &Connection, src: &Path, tmp: &Path) -> Result<(), StoreError> {
    let _ = std::fs::remove_file(tmp);
    let mut dst = Connection::open(tmp).map_err(StoreError::sqlite(tmp, "cannot create the backup file"))?;
    {
        let backup = Backup::new(source, &mut dst).map_err(StoreError::sqlite(src, "cannot start the backup"))?;
        let mut retries = 0;
        loop {
            // -1: every page in one step, under one read snapshot of the source.
            match backup.step(-1).map_err(StoreError::sqlite(src, "backup step failed"))? {
                StepResult::Done => break,
                StepResult::More => {}
                // Busy, Locked (and any future transient result): wait and step again.
                _ => {
                    retries += 1;
                    if retries > BUSY_RETRIES {
                        return Err(StoreError::Sqlite {
                            path: src.to_owned(),
                            context: "the ledger stayed locked during the backup",
                            error: rusqlite::Error::SqliteFailure(
                                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                                None,
                            ),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
    // A standalone copy: one file, no -wal beside it.
    dst.pragma_update_and_check(None, "journal_mode", "DELETE", |_| Ok(()))
        .map_err(StoreError::sqlite(tmp, "cannot finish the backup file"))?;
    schema::check(&dst, tmp, true)?;
    dst.close().map_err(|(_, e)| StoreError::Sqlite {
        path: tmp.to_owned(),
        context: "cannot close the backup",
        error: e,
    })?;
    let file = std::fs::File::open(tmp).map_err(|source| StoreError::Io {
        path: tmp.to_owned(),
        context: "cannot open the backup to sync it:",
        error: source,
    })?;
    file.sync_all().map_err(|source| StoreError::Io {
        path: tmp.to_owned(),
        context: "cannot sync the backup",
        error: source,
    })
}

/// Moves the finished copy to `dest` without ever replacing an existing file.
fn publish(tmp: &Path, dest: &Path) -> Result<(), StoreError> {
    match std::fs::hard_link(tmp, dest) {
        Ok(()) => {
            let _ = std::fs::remove_file(tmp);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StoreError::DestinationExists { path: dest.to_owned() });
        }
        // File systems without hard links: a rename (the existence check above still holds
        // unless another process creates `dest` in between).
        Err(_) => std::fs::rename(tmp, dest).map_err(|source| StoreError::Io {
            path: dest.to_owned(),
            context: "cannot move the backup into place at",
            error: source,
        })?,
    }
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}
