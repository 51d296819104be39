//! Dedup by eventID over a window, so that an event delivered twice (EventBridge now, the S3
//! log file ten minutes later, an SQS redelivery) is handled once.
//!
//! An id is remembered with the digest of its content (the SHA-256 of the record's canonical
//! JSON): a second event with a known id and *other* content is not a duplicate but a
//! [`Seen::Conflict`], processed like a new event (and counted). Whoever can send events
//! cannot hide a real event by sending a forged one with its eventID first.
//!
//! Kept in its own table of the audit database (`seen_events`, the `dedup` store's
//! migrations). An id is *marked* when its event is taken in, and only
//! *committed* to the table after the pipeline has flushed: an event that was marked but
//! never run (a crash in between) is not remembered, so its redelivery is handled.
//!
//! The window runs on arrival (wall-clock) time: it is about deliveries, not event times.
//! Entries older than the window are ignored at once and deleted by [`Dedup::prune`].

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS seen_events (
    event_id TEXT NOT NULL,
    digest BLOB NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (event_id, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_events_by_time ON seen_events (seen_at);
";

/// A `seen_events` table of the first version (ids only) becomes the current one; its ids
/// get an empty digest, read as "content unknown": a duplicate whatever the content.
const MIGRATE_IDS_ONLY: &str = "
ALTER TABLE seen_events RENAME TO seen_events_ids_only;
DROP INDEX IF EXISTS seen_events_by_time;
CREATE TABLE seen_events (
    event_id TEXT NOT NULL,
    digest BLOB NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (event_id, digest)
) WITHOUT ROWID;
INSERT INTO seen_events (event_id, digest, seen_at)
    SELECT event_id, X'', seen_at FROM seen_events_ids_only;
DROP TABLE seen_events_ids_only;
CREATE INDEX seen_events_by_time ON seen_events (seen_at);
";

/// The dedup table as a store of the shared database: the `IF NOT EXISTS` schema of earlier
/// releases (their tables kept), then the ids-only upgrade for a table older still.
const STORE_SCHEMA: trailwarden_store::Schema = trailwarden_store::Schema {
    store: "dedup",
    migrations: &[
        trailwarden_store::Migration::Sql(SCHEMA),
        trailwarden_store::Migration::Rust(add_digests_to_an_ids_only_table),
    ],
    synchronous: trailwarden_store::Synchronous::Normal,
    mirrors_user_version: false,
};

fn add_digests_to_an_ids_only_table(conn: &Connection) -> rusqlite::Result<()> {
    let ids_only: Option<String> = conn
        .query_row(
            "SELECT name FROM pragma_table_info('seen_events') WHERE name = 'event_id'
             AND NOT EXISTS (SELECT 1 FROM pragma_table_info('seen_events') WHERE name = 'digest')",
            [],
            |row| row.get(0),
        )
        .optional()?;
    if ids_only.is_some() {
        conn.execute_batch(MIGRATE_IDS_ONLY)?;
    }
    Ok(())
}

/// The SHA-256 of an event's content ([`cloudtrail_normalize::NormalizedEvent::content_digest`]).
pub type Digest = [u8; 32];

/// What [`Dedup::check_and_mark`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not seen within the window: process it.
    New,
    /// The same id with the same content: skip it.
    Duplicate,
    /// The same id with other content: process it too (a forged copy must not hide the
    /// real event), and count it.
    Conflict,
}

/// The dedup window over one database.
pub struct Dedup {
    conn: Connection,
    window: Duration,
    /// Marked since the last commit: each id with the digests of its contents.
    pending: HashMap<String, Vec<Digest>>,
}

impl Dedup {
    /// Opens (creating if needed) the `seen_events` table in the database at `path`.
    ///
    /// # Errors
    /// The database cannot be opened or the table created.
    pub fn open(path: &Path, window: Duration) -> Result<Dedup> {
        let conn = trailwarden_store::open(path, &STORE_SCHEMA)
            .with_context(|| format!("cannot open {} for dedup", path.display()))?;
        Self::init(conn, window)
    }

    /// A window that lives only as long as the process.
    ///
    /// # Errors
    /// The table cannot be created.
    pub fn in_memory(window: Duration) -> Result<Dedup> {
        Self::init(trailwarden_store::open_in_memory(&STORE_SCHEMA)?, window)
    }

    fn init(conn: Connection, window: Duration) -> Result<Dedup> {
        Ok(Dedup {
            conn,
            window,
            pending: HashMap::new(),
        })
    }

    /// Whether `event_id` with content `digest` was seen within the window (committed, or
    /// marked since): [`Seen::Duplicate`] for the same content, [`Seen::Conflict`] for other
    /// content only. Marks the pair unless it is a duplicate.
    ///
    /// # Errors
    /// The table cannot be read.
    pub fn check_and_mark(&mut self, event_id: &str, digest: &Digest) -> Result<Seen> {
        let mut known = false;
        if let Some(digests) = self.pending.get(event_id) {
            if digests.contains(digest) {
                return Ok(Seen::Duplicate);
            }
            known = true;
        }
        {
            let mut query = self.conn.prepare_cached(
                "SELECT digest FROM seen_events WHERE event_id = ?1 AND seen_at >= ?2",
            )?;
            let mut rows = query.query(params![event_id, self.horizon()])?;
            while let Some(row) = rows.next()? {
                let seen: Vec<u8> = row.get(0)?;
                // An empty digest (an id remembered before digests were kept): the
                // content is unknown, so the id alone decides, as it did then.
                if seen.is_empty() || seen == digest {
                    return Ok(Seen::Duplicate);
                }
                known = true;
            }
        }
        self.pending
            .entry(event_id.to_string())
            .or_default()
            .push(*digest);
        Ok(if known { Seen::Conflict } else { Seen::New })
    }

    /// Unmarks every id marked since the last commit: their events were not recorded (the
    /// flush failed), so a redelivery must be processed, not skipped as a duplicate.
    pub fn forget_pending(&mut self) {
        self.pending.clear();
    }

    /// Ids (with a content) marked and not yet committed.
    pub fn pending(&self) -> usize {
        self.pending.values().map(Vec::len).sum()
    }

    /// Remembers every marked id (call after the pipeline has flushed their events).
    ///
    /// # Errors
    /// The write fails; the ids stay marked and are committed by the next call.
    pub fn commit(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let now = now_secs();
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO seen_events (event_id, digest, seen_at) VALUES (?1, ?2, ?3)",
            )?;
            for (id, digests) in &self.pending {
                for digest in digests {
                    insert.execute(params![id, &digest[..], now])?;
                }
            }
        }
        tx.commit()?;
        self.pending.clear();
        Ok(())
    }

    /// Deletes entries older than the window; returns how many.
    ///
    /// # Errors
    /// The write fails.
    pub fn prune(&self) -> Result<usize> {
        Ok(self.conn.execute(
            "DELETE FROM seen_events WHERE seen_at < ?1",
            params![self.horizon()],
        )?)
    }

    /// Committed entries (for tests and metrics).
    ///
    /// # Errors
    /// The read fails.
    pub fn len(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM seen_events", [], |row| row.get(0))?;
        Ok(n as u64)
    }

    /// True when nothing is committed.
    ///
    /// # Errors
    /// The read fails.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    fn horizon(&self) -> i64 {
        now_secs() - self.window.as_secs() as i64
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Digest = [1; 32];
    const B: Digest = [2; 32];

    #[test]
    fn an_id_is_seen_once_marked_and_after_commit() {
        let mut dedup = Dedup::in_memory(Duration::from_secs(3600)).unwrap();
        assert_eq!(dedup.check_and_mark("e1", &A).unwrap(), Seen::New);
        assert_eq!(
            dedup.check_and_mark("e1", &A).unwrap(),
            Seen::Duplicate,
            "marked, not committed"
        );
        dedup.commit().unwrap();
        assert_eq!(dedup.pending(), 0);
        assert_eq!(dedup.check_and_mark("e1", &A).unwrap(), Seen::Duplicate);
        assert_eq!(dedup.check_and_mark("e2", &A).unwrap(), Seen::New);
        assert_eq!(dedup.len().unwrap(), 1);
    }

    /// Issue 13: an attacker sending a forged event with the eventID of a real one first
    /// must not make the real one a duplicate.
    #[test]
    fn the_same_id_with_other_content_is_a_conflict_processed_once_per_content() {
        let mut dedup = Dedup::in_memory(Duration::from_secs(3600)).unwrap();
        assert_eq!(dedup.check_and_mark("e1", &A).unwrap(), Seen::New);
        assert_eq!(
            dedup.check_and_mark("e1", &B).unwrap(),
            Seen::Conflict,
            "pending"
        );
        assert_eq!(dedup.check_and_mark("e1", &B).unwrap(), Seen::Duplicate);
        assert_eq!(dedup.pending(), 2);
        dedup.commit().unwrap();
        assert_eq!(dedup.len().unwrap(), 2);
        assert_eq!(dedup.check_and_mark("e1", &A).unwrap(), Seen::Duplicate);
        assert_eq!(dedup.check_and_mark("e1", &B).unwrap(), Seen::Duplicate);
        assert_eq!(
            dedup.check_and_mark("e1", &[3; 32]).unwrap(),
            Seen::Conflict,
            "committed"
        );
    }

    #[test]
    fn ids_of_a_failed_flush_are_forgotten_so_the_redelivery_runs() {
        let mut dedup = Dedup::in_memory(Duration::from_secs(3600)).unwrap();
        assert_eq!(dedup.check_and_mark("e1", &A).unwrap(), Seen::New);
        dedup.forget_pending();
        assert_eq!(
            dedup.check_and_mark("e1", &A).unwrap(),
            Seen::New,
            "not a duplicate"
        );
        dedup.commit().unwrap();
        assert_eq!(
            dedup.check_and_mark("e1", &A).unwrap(),
            Seen::Duplicate,
            "committed ids stay seen"
        );
    }

    #[test]
    fn entries_older_than_the_window_are_ignored_and_pruned() {
        let mut dedup = Dedup::in_memory(Duration::from_secs(60)).unwrap();
        dedup
            .conn
            .execute(
                "INSERT INTO seen_events VALUES ('old', ?1, ?2)",
                params![&A[..], now_secs() - 3600],
            )
            .unwrap();
        assert_eq!(
            dedup.check_and_mark("old", &A).unwrap(),
            Seen::New,
            "expired"
        );
        dedup.commit().unwrap();
        dedup
            .conn
            .execute(
                "INSERT INTO seen_events VALUES ('older', ?1, ?2)",
                params![&A[..], now_secs() - 7200],
            )
            .unwrap();
        assert_eq!(dedup.prune().unwrap(), 1);
        assert_eq!(dedup.len().unwrap(), 1, "'old' was refreshed by its commit");
    }

    #[test]
    fn the_window_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let mut dedup = Dedup::open(&path, Duration::from_secs(3600)).unwrap();
        dedup.check_and_mark("e1", &A).unwrap();
        dedup.commit().unwrap();
        drop(dedup);
        let mut dedup = Dedup::open(&path, Duration::from_secs(3600)).unwrap();
        assert_eq!(dedup.check_and_mark("e1", &A).unwrap(), Seen::Duplicate);
        assert_eq!(dedup.check_and_mark("e1", &B).unwrap(), Seen::Conflict);
    }

    /// A database of the ids-only version keeps its window: those ids stay duplicates
    /// (their content is unknown), new ids get digests.
    #[test]
    fn an_ids_only_table_is_migrated_and_its_ids_stay_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE seen_events (event_id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL) WITHOUT ROWID;
                 CREATE INDEX seen_events_by_time ON seen_events (seen_at);",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO seen_events VALUES ('legacy', ?1)",
                params![now_secs()],
            )
            .unwrap();
        }
        let mut dedup = Dedup::open(&path, Duration::from_secs(3600)).unwrap();
        assert_eq!(dedup.len().unwrap(), 1);
        assert_eq!(dedup.check_and_mark("legacy", &B).unwrap(), Seen::Duplicate);
        assert_eq!(dedup.check_and_mark("fresh", &A).unwrap(), Seen::New);
        dedup.commit().unwrap();
        drop(dedup);
        // Opening again leaves the migrated table as it is.
        let mut dedup = Dedup::open(&path, Duration::from_secs(3600)).unwrap();
        assert_eq!(dedup.len().unwrap(), 2);
        assert_eq!(dedup.check_and_mark("fresh", &B).unwrap(), Seen::Conflict);
    }
}
