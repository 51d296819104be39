//! Every trailwarden SQLite store opens its database here, one way: the file owner-only
//! (`0600`, with its `-wal` and `-shm`), write-ahead logging, the store's `synchronous`
//! level, short busy waits, then the store's migrations.
//!
//! Several stores share one file (the audit database holds the audit, state, dedup, outbox,
//! history, rate, suppression and console tables), and `PRAGMA user_version` is one number
//! per file, so each store's version is a row of `schema_versions (store, version)`. A
//! store's migrations only ever append; each runs in its own immediate transaction that also
//! records the version, so two processes opening an older database together apply it once.
//! A database whose store is newer than this binary is refused, naming store and versions.

mod busy;
pub mod chain;
mod checkpoint;
mod migrate;
mod private;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use busy::wait_briefly_when_busy;
pub use checkpoint::{Checkpointer, AUTOCHECKPOINT_PAGES};
pub use migrate::{version, Migration, Step};
pub use private::why_not_writable;

/// How hard a store's commits wait for the disk (`PRAGMA synchronous`, per connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// A commit survives a crash of the process; the write-ahead log is synced at
    /// checkpoints (and by whoever asks, e.g. before acknowledging input).
    Normal,
    /// A commit also survives a power loss: one fsync per commit.
    Full,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// A store's tables: its name in `schema_versions`, its migrations (index + 1 is the
/// version after each) and how its connection syncs.
#[derive(Debug)]
pub struct Schema<S: 'static = Migration> {
    pub store: &'static str,
    pub migrations: &'static [S],
    pub synchronous: Synchronous,
    /// The store kept its version in `PRAGMA user_version` before `schema_versions` existed
    /// (the audit store): with no row of its own, that number is its version, and every
    /// migration also writes it there, so an older binary still refuses a newer database.
    pub mirrors_user_version: bool,
}

/// Why a database could not be opened or brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create {}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make {} owner-only", path.display())]
    Private {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// SQLite says "unable to open database file" (or "disk I/O error") whatever the cause;
    /// the file system's own answer to opening the file for writing says why.
    #[error("{} cannot be written: {reason}", path.display())]
    NotWritable {
        path: PathBuf,
        reason: std::io::Error,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the {store} tables of {} are at schema version {found}, newer than this binary \
         knows ({known}): use the trailwarden release that wrote them, or a newer one",
        path.display()
    )]
    TooNew {
        store: &'static str,
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error("the {store} schema migration {version} of {} failed", path.display())]
    Migration {
        store: &'static str,
        version: usize,
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

/// Opens (creating if needed) the database at `path` for `schema`'s store and brings the
/// store's tables up to date.
///
/// # Errors
/// The file cannot be created, narrowed or opened, its store is newer than `schema`, or a
/// migration fails (that migration is rolled back; earlier ones stay).
pub fn open<S: Step>(path: &Path, schema: &Schema<S>) -> Result<Connection, Error> {
    private::create_owner_only(path)?;
    let opened = Connection::open(path).and_then(|mut conn| {
        configure(&mut conn, schema.synchronous)?;
        Ok(conn)
    });
    let mut conn = opened.map_err(|source| match why_not_writable(path) {
        Some(reason) => Error::NotWritable {
            path: path.to_path_buf(),
            reason,
            source,
        },
        None => Error::Open {
            path: path.to_path_buf(),
            source,
        },
    })?;
    migrate::apply(&mut conn, path, schema)?;
    Ok(conn)
}

/// Brings `schema`'s store up to date on a connection opened elsewhere: a reader of an
/// existing database (reports, which refuse to create one) that keeps tables of its own.
/// The connection keeps the settings its opener gave it (`schema.synchronous` is not applied).
///
/// # Errors
/// The store is newer than `schema`, or a migration fails.
pub fn migrate<S: Step>(
    conn: &mut Connection,
    path: &Path,
    schema: &Schema<S>,
) -> Result<(), Error> {
    migrate::apply(conn, path, schema)
}

/// A database that lives as long as the connection, with `schema`'s tables (tests, dry runs).
///
/// # Errors
/// A migration fails.
pub fn open_in_memory<S: Step>(schema: &Schema<S>) -> Result<Connection, Error> {
    let memory = Path::new(":memory:");
    let mut conn = Connection::open_in_memory().map_err(|source| Error::Open {
        path: memory.to_path_buf(),
        source,
    })?;
    migrate::apply(&mut conn, memory, schema)?;
    Ok(conn)
}

/// WAL, so readers (`audit findings`, the console) run while the daemon writes; the store's
/// sync level; temporary files (statement journals) in memory; commits checkpoint only a
/// log past [`AUTOCHECKPOINT_PAGES`] (a long-running writer runs a [`Checkpointer`]
/// instead); short busy waits, as every store is its own connection to one file.
fn configure(conn: &mut Connection, synchronous: Synchronous) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", synchronous.pragma())?;
    conn.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)?;
    // The statement journal of a savepoint (every chained insert takes one) in memory: on
    // disk it spilled to a temporary file past 64 KiB: 28% of a replay's write calls.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    wait_briefly_when_busy(conn)
}

#[cfg(test)]
mod tests;

/// Now as RFC 3339 in whole seconds (UTC): the time column the stores write.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
