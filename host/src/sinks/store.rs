//! The sinks' outbox in the audit database: per sink, a cursor (the last finding id put
//! into a delivery) and the deliveries themselves (a range of finding ids, planned once,
//! then retried until sent).
//!
//! A delivery's range is committed before anything is sent, so a restart resends exactly
//! the same findings under the same delivery id (and S3 key, Security Hub finding ids):
//! nothing is lost, and a resend replaces what the crashed attempt may have written.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use crate::audit::now_rfc3339;
use crate::report::queries::{FindingFacts, ReportDb};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sink_cursors (
    sink TEXT PRIMARY KEY,
    last_planned INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sink_deliveries (
    id INTEGER PRIMARY KEY,
    sink TEXT NOT NULL,
    first_id INTEGER NOT NULL,
    last_id INTEGER NOT NULL,
    findings INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    UNIQUE (sink, first_id)
);
CREATE INDEX IF NOT EXISTS sink_deliveries_pending ON sink_deliveries (sink, status, id);
";

/// The sinks' tables as a store of the shared database. Its first migration is the
/// `IF NOT EXISTS` schema of earlier releases, so their tables are kept.
const STORE_SCHEMA: trailwarden_store::Schema<&str> = trailwarden_store::Schema {
    store: "sinks",
    migrations: &[SCHEMA],
    synchronous: trailwarden_store::Synchronous::Normal,
    mirrors_user_version: false,
};

/// One planned delivery: the findings with ids `first_id..=last_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub sink: String,
    pub first_id: i64,
    pub last_id: i64,
    pub attempts: u32,
    /// Not to be tried before this time (Unix milliseconds).
    pub next_attempt_ms: i64,
}

impl Delivery {
    /// A name for this delivery that is the same on every attempt: receivers deduplicate by
    /// it, and the S3 sink names its objects with it.
    pub fn key(&self) -> String {
        format!("{}-{:012}-{:012}", self.sink, self.first_id, self.last_id)
    }
}

/// A delivery as listed (for status and tests).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryRow {
    pub sink: String,
    pub first_id: i64,
    pub last_id: i64,
    pub findings: i64,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The sinks' tables, over a connection to the audit database.
pub struct SinkStore {
    db: ReportDb,
}

impl SinkStore {
    /// Opens the audit database at `path` (it must exist) and creates the sink tables if
    /// missing.
    ///
    /// # Errors
    /// No database there, or it cannot be opened or written.
    pub fn open(path: &Path) -> Result<SinkStore> {
        let mut db = ReportDb::open(path)?;
        trailwarden_store::migrate(db.connection_mut(), path, &STORE_SCHEMA)?;
        Ok(SinkStore { db })
    }

    /// Starts `sink`'s cursor if it has none: after the findings already recorded, or
    /// before all of them with `backfill`.
    ///
    /// # Errors
    /// The write fails.
    pub fn start_cursor(&self, sink: &str, backfill: bool) -> Result<()> {
        let start = if backfill {
            0
        } else {
            self.db.last_finding_id()?
        };
        self.db.connection().execute(
            "INSERT OR IGNORE INTO sink_cursors (sink, last_planned) VALUES (?1, ?2)",
            params![sink, start],
        )?;
        Ok(())
    }

    /// The sink's oldest pending delivery; if none, a new one of at most `max_batch`
    /// findings recorded after its cursor (the range and the cursor committed together);
    /// `None` when there is nothing to send.
    ///
    /// # Errors
    /// The read or write fails.
    pub fn next_delivery(&self, sink: &str, max_batch: usize) -> Result<Option<Delivery>> {
        if let Some(pending) = self.pending(sink)? {
            return Ok(Some(pending));
        }
        let conn = self.db.connection();
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        let cursor: i64 = tx
            .query_row(
                "SELECT last_planned FROM sink_cursors WHERE sink = ?1",
                [sink],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let ids = self.db.finding_ids_after(cursor, max_batch)?;
        let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
            return Ok(None);
        };
        tx.execute(
            "INSERT INTO sink_deliveries (sink, first_id, last_id, findings, status, created_at)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
            params![sink, first, last, ids.len() as i64, now_rfc3339()],
        )?;
        tx.execute(
            "INSERT INTO sink_cursors (sink, last_planned) VALUES (?1, ?2)
             ON CONFLICT (sink) DO UPDATE SET last_planned = excluded.last_planned",
            params![sink, last],
        )?;
        tx.commit()?;
        self.pending(sink)
    }

    fn pending(&self, sink: &str) -> Result<Option<Delivery>> {
        Ok(self
            .db
            .connection()
            .query_row(
                "SELECT id, sink, first_id, last_id, attempts, next_attempt_ms
                 FROM sink_deliveries WHERE sink = ?1 AND status = 'pending'
                 ORDER BY id LIMIT 1",
                [sink],
                |row| {
                    Ok(Delivery {
                        id: row.get(0)?,
                        sink: row.get(1)?,
                        first_id: row.get(2)?,
                        last_id: row.get(3)?,
                        attempts: row.get(4)?,
                        next_attempt_ms: row.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// The findings of a delivery, in id order.
    ///
    /// # Errors
    /// The read fails.
    pub fn findings(&self, delivery: &Delivery) -> Result<Vec<FindingFacts>> {
        self.db.findings_by_id(delivery.first_id, delivery.last_id)
    }

    /// Records a delivery as sent; `note` keeps what the destination refused in part.
    ///
    /// # Errors
    /// The write fails.
    pub fn delivered(&self, delivery: &Delivery, note: Option<&str>) -> Result<()> {
        self.db.connection().execute(
            "UPDATE sink_deliveries SET status = 'delivered', attempts = attempts + 1,
                    delivered_at = ?2, last_error = ?3 WHERE id = ?1",
            params![delivery.id, now_rfc3339(), note],
        )?;
        Ok(())
    }

    /// Records a failed attempt and when to try again.
    ///
    /// # Errors
    /// The write fails.
    pub fn retry_later(&self, delivery: &Delivery, error: &str, at_ms: i64) -> Result<()> {
        self.db.connection().execute(
            "UPDATE sink_deliveries SET attempts = attempts + 1, last_error = ?2,
                    next_attempt_ms = ?3 WHERE id = ?1",
            params![delivery.id, error, at_ms],
        )?;
        Ok(())
    }

    /// Every delivery, oldest first.
    ///
    /// # Errors
    /// The read fails.
    pub fn list(&self) -> Result<Vec<DeliveryRow>> {
        let mut stmt = self.db.connection().prepare(
            "SELECT sink, first_id, last_id, findings, status, attempts, last_error
             FROM sink_deliveries ORDER BY id",
        )?;
        let rows = stmt
            .query_map([], |row| {
                Ok(DeliveryRow {
                    sink: row.get(0)?,
                    first_id: row.get(1)?,
                    last_id: row.get(2)?,
                    findings: row.get(3)?,
                    status: row.get(4)?,
                    attempts: row.get(5)?,
                    last_error: row.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}
