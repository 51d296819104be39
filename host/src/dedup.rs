//! Dedup by eventID over a window, so that an event delivered twice (EventBridge now, the S3
//! log file ten minutes later, an SQS redelivery) is handled once.
//!
//! Kept in its own table of the audit database (`seen_events`, created if missing, outside
//! the audit schema's migrations). An id is *marked* when its event is taken in, and only
//! *committed* to the table after the pipeline has flushed: an event that was marked but
//! never run (a crash in between) is not remembered, so its redelivery is handled.
//!
//! The window runs on arrival (wall-clock) time: it is about deliveries, not event times.
//! Entries older than the window are ignored at once and deleted by [`Dedup::prune`].

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS seen_events (
    event_id TEXT PRIMARY KEY,
    seen_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_events_by_time ON seen_events (seen_at);
";

/// The dedup window over one database.
pub struct Dedup {
    conn: Connection,
    window: Duration,
    /// Marked since the last commit.
    pending: HashSet<String>,
}

impl Dedup {
    /// Opens (creating if needed) the `seen_events` table in the database at `path`.
    ///
    /// # Errors
    /// The database cannot be opened or the table created.
    pub fn open(path: &Path, window: Duration) -> Result<Dedup> {
        let conn = crate::audit::open_private(path)
            .with_context(|| format!("cannot open {} for dedup", path.display()))?;
        Self::init(conn, window)
    }

    /// A window that lives only as long as the process.
    ///
    /// # Errors
    /// The table cannot be created.
    pub fn in_memory(window: Duration) -> Result<Dedup> {
        Self::init(Connection::open_in_memory()?, window)
    }

    fn init(mut conn: Connection, window: Duration) -> Result<Dedup> {
        crate::audit::wait_briefly_when_busy(&mut conn)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Dedup {
            conn,
            window,
            pending: HashSet::new(),
        })
    }

    /// True if `event_id` was seen within the window (committed, or marked since); otherwise
    /// marks it and returns false.
    ///
    /// # Errors
    /// The table cannot be read.
    pub fn check_and_mark(&mut self, event_id: &str) -> Result<bool> {
        if self.pending.contains(event_id) {
            return Ok(true);
        }
        let seen: Option<i64> = self
            .conn
            .prepare_cached("SELECT 1 FROM seen_events WHERE event_id = ?1 AND seen_at >= ?2")?
            .query_row(params![event_id, self.horizon()], |row| row.get(0))
            .optional()?;
        if seen.is_some() {
            return Ok(true);
        }
        self.pending.insert(event_id.to_string());
        Ok(false)
    }

    /// Unmarks every id marked since the last commit: their events were not recorded (the
    /// flush failed), so a redelivery must be processed, not skipped as a duplicate.
    pub fn forget_pending(&mut self) {
        self.pending.clear();
    }

    /// Ids marked and not yet committed.
    pub fn pending(&self) -> usize {
        self.pending.len()
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
                "INSERT OR REPLACE INTO seen_events (event_id, seen_at) VALUES (?1, ?2)",
            )?;
            for id in &self.pending {
                insert.execute(params![id, now])?;
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

    #[test]
    fn an_id_is_seen_once_marked_and_after_commit() {
        let mut dedup = Dedup::in_memory(Duration::from_secs(3600)).unwrap();
        assert!(!dedup.check_and_mark("e1").unwrap());
        assert!(dedup.check_and_mark("e1").unwrap(), "marked, not committed");
        dedup.commit().unwrap();
        assert_eq!(dedup.pending(), 0);
        assert!(dedup.check_and_mark("e1").unwrap(), "committed");
        assert!(!dedup.check_and_mark("e2").unwrap());
        assert_eq!(dedup.len().unwrap(), 1);
    }

    #[test]
    fn ids_of_a_failed_flush_are_forgotten_so_the_redelivery_runs() {
        let mut dedup = Dedup::in_memory(Duration::from_secs(3600)).unwrap();
        assert!(!dedup.check_and_mark("e1").unwrap());
        dedup.forget_pending();
        assert!(!dedup.check_and_mark("e1").unwrap(), "not a duplicate");
        dedup.commit().unwrap();
        assert!(
            dedup.check_and_mark("e1").unwrap(),
            "committed ids stay seen"
        );
    }

    #[test]
    fn entries_older_than_the_window_are_ignored_and_pruned() {
        let mut dedup = Dedup::in_memory(Duration::from_secs(60)).unwrap();
        dedup
            .conn
            .execute(
                "INSERT INTO seen_events VALUES ('old', ?1)",
                params![now_secs() - 3600],
            )
            .unwrap();
        assert!(!dedup.check_and_mark("old").unwrap(), "expired");
        dedup.commit().unwrap();
        dedup
            .conn
            .execute(
                "INSERT INTO seen_events VALUES ('older', ?1)",
                params![now_secs() - 7200],
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
        dedup.check_and_mark("e1").unwrap();
        dedup.commit().unwrap();
        drop(dedup);
        let mut dedup = Dedup::open(&path, Duration::from_secs(3600)).unwrap();
        assert!(dedup.check_and_mark("e1").unwrap());
    }
}
