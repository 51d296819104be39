//! Per-store schema versions and the migrations that move them.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::{Error, Schema};

/// One version per store, as several stores share one file (and its one `user_version`).
const VERSIONS: &str = "CREATE TABLE IF NOT EXISTS schema_versions (
    store TEXT PRIMARY KEY,
    version INTEGER NOT NULL
) WITHOUT ROWID";

/// One migration: what it does to the database, inside the transaction that records it.
pub trait Step {
    /// # Errors
    /// The change fails; its transaction is then rolled back.
    fn apply(&self, conn: &Connection) -> rusqlite::Result<()>;
}

/// SQL text, run as a batch.
impl Step for &'static str {
    fn apply(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch(self)
    }
}

/// A migration of a store whose steps are not all SQL text.
#[derive(Debug, Clone, Copy)]
pub enum Migration {
    Sql(&'static str),
    /// For changes SQL alone cannot make conditionally, such as adding a column only to a
    /// table made before it existed (`pragma_table_info`).
    Rust(fn(&Connection) -> rusqlite::Result<()>),
}

impl Step for Migration {
    fn apply(&self, conn: &Connection) -> rusqlite::Result<()> {
        match self {
            Migration::Sql(sql) => conn.execute_batch(sql),
            Migration::Rust(change) => change(conn),
        }
    }
}

/// The version of `schema`'s store in the database on `conn` (0: none of its migrations).
///
/// # Errors
/// The database cannot be read.
pub fn version<S>(conn: &Connection, schema: &Schema<S>) -> rusqlite::Result<usize> {
    let version = match recorded(conn, schema.store)? {
        Some(version) => version,
        None if schema.mirrors_user_version => {
            conn.pragma_query_value(None, "user_version", |row| row.get(0))?
        }
        None => 0,
    };
    Ok(usize::try_from(version).unwrap_or(usize::MAX))
}

/// The version row of `store`, if it has one.
fn recorded(conn: &Connection, store: &str) -> rusqlite::Result<Option<i64>> {
    let has_versions: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'",
        [],
        |row| row.get(0),
    )?;
    if !has_versions {
        return Ok(None);
    }
    conn.query_row(
        "SELECT version FROM schema_versions WHERE store = ?1",
        [store],
        |row| row.get(0),
    )
    .optional()
}

/// Applies the migrations of `schema` that the database lacks, in order, one immediate
/// transaction each (the version read again inside it, so a concurrent opener's work is not
/// repeated). An up-to-date store takes no write lock.
pub(crate) fn apply<S: Step>(
    conn: &mut Connection,
    path: &Path,
    schema: &Schema<S>,
) -> Result<(), Error> {
    let known = schema.migrations.len();
    let open_error = |source| Error::Open {
        path: path.to_path_buf(),
        source,
    };
    let too_new = |found| Error::TooNew {
        store: schema.store,
        path: path.to_path_buf(),
        found,
        known,
    };
    let found = version(conn, schema).map_err(open_error)?;
    if found > known {
        return Err(too_new(found));
    }
    if found == known {
        if schema.mirrors_user_version && found > 0 {
            adopt_user_version(conn, path, schema)?;
        }
        return Ok(());
    }
    for (index, step) in schema.migrations.iter().enumerate().skip(found) {
        let target = index + 1;
        let failed = |source| Error::Migration {
            store: schema.store,
            version: target,
            path: path.to_path_buf(),
            source,
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed)?;
        let now = version(&tx, schema).map_err(failed)?;
        if now > known {
            return Err(too_new(now));
        }
        if now >= target {
            continue;
        }
        tx.execute_batch(VERSIONS).map_err(failed)?;
        step.apply(&tx).map_err(failed)?;
        record(&tx, schema, target).map_err(failed)?;
        tx.commit().map_err(failed)?;
    }
    Ok(())
}

fn record<S>(conn: &Connection, schema: &Schema<S>, version: usize) -> rusqlite::Result<()> {
    let version = i64::try_from(version).unwrap_or(i64::MAX);
    conn.execute(
        "INSERT INTO schema_versions (store, version) VALUES (?1, ?2)
         ON CONFLICT (store) DO UPDATE SET version = excluded.version",
        rusqlite::params![schema.store, version],
    )?;
    if schema.mirrors_user_version {
        conn.pragma_update(None, "user_version", version)?;
    }
    Ok(())
}

/// A store versioned by `user_version` before gets its row once, so `schema_versions`
/// names every store; afterwards this reads one row and writes nothing.
fn adopt_user_version<S>(
    conn: &mut Connection,
    path: &Path,
    schema: &Schema<S>,
) -> Result<(), Error> {
    let failed = |source| Error::Open {
        path: path.to_path_buf(),
        source,
    };
    if recorded(conn, schema.store).map_err(failed)?.is_some() {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    if recorded(&tx, schema.store).map_err(failed)?.is_none() {
        let version = version(&tx, schema).map_err(failed)?;
        tx.execute_batch(VERSIONS).map_err(failed)?;
        record(&tx, schema, version).map_err(failed)?;
        tx.commit().map_err(failed)?;
    }
    Ok(())
}
