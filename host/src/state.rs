//! Per-plugin key-value state with TTL, kept by the host (ARCHITECTURE.md, rule 3: a plugin
//! instance can be dropped at any time, so nothing durable lives in its memory).
//!
//! TTLs run on *event time*: the clock is the latest event time the host has dispatched,
//! so replaying last month's logs opens and closes windows as the live stream did.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS plugin_state (
    plugin TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (plugin, key)
);
CREATE INDEX IF NOT EXISTS plugin_state_expiry ON plugin_state (plugin, expires_at)";

/// The state table as a store of the shared database. Its first migration is the
/// `IF NOT EXISTS` schema of earlier releases, so their tables are kept.
const STORE_SCHEMA: trailwarden_store::Schema<&str> = trailwarden_store::Schema {
    store: "state",
    migrations: &[SCHEMA],
    synchronous: trailwarden_store::Synchronous::Normal,
    mirrors_user_version: false,
};

/// Limits that keep one plugin from filling the host's disk through its state.
pub const MAX_KEY_BYTES: usize = 1024;
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Default quota of one plugin: keys held at once.
pub const DEFAULT_MAX_KEYS: u64 = trailwarden_runtime::limits::DEFAULT_STATE_MAX_KEYS;
/// Default quota of one plugin: bytes of keys and values held at once.
pub const DEFAULT_MAX_BYTES: u64 = trailwarden_runtime::limits::DEFAULT_STATE_MAX_BYTES;
/// Event-time seconds between two purges of a plugin's expired rows on write.
const PURGE_INTERVAL_SECONDS: i64 = 300;

/// The quota and its refusal belong to the sandbox's limits; the store enforces them.
pub use trailwarden_runtime::{QuotaExceeded, StateQuota};

/// What one plugin holds, kept in memory so that a write does not count rows.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    keys: u64,
    bytes: u64,
    /// The event time of the last purge of expired rows.
    purged_at: i64,
}

impl Usage {
    /// (keys, bytes) once a row of `new_bytes` replaces one of `old` bytes (or none).
    fn after_write(&self, old: Option<u64>, new_bytes: u64) -> (u64, u64) {
        (
            self.keys + u64::from(old.is_none()),
            self.bytes.saturating_sub(old.unwrap_or(0)) + new_bytes,
        )
    }
}

/// Shared handle to the state database; cheap to clone into each plugin's store.
#[derive(Clone)]
pub struct StateStore {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    conn: Connection,
    /// Per plugin, read from the table on its first write, then kept up to date.
    usage: HashMap<String, Usage>,
    /// Writes not yet in the table, per plugin and key: the row, or `None` once deleted.
    /// Reads see them; [`StateStore::commit`] writes them all in one transaction after each
    /// batch, so a batch's many writes cost one commit (and take the database's write lock
    /// once) instead of one each.
    pending: HashMap<String, HashMap<String, Option<Row>>>,
}

/// A state row: its value and when it expires.
#[derive(Debug, Clone)]
struct Row {
    value: String,
    expires_at: Option<i64>,
}

impl Row {
    fn is_live(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

impl StateStore {
    /// Opens the state table in the database at `path` (normally the audit database).
    ///
    /// # Errors
    /// The database cannot be opened or the table created.
    pub fn open(path: &Path) -> Result<StateStore> {
        Self::init(trailwarden_store::open(path, &STORE_SCHEMA)?)
    }

    /// A state store that lives only as long as the process.
    ///
    /// # Errors
    /// The table cannot be created.
    pub fn in_memory() -> Result<StateStore> {
        Self::init(trailwarden_store::open_in_memory(&STORE_SCHEMA)?)
    }

    fn init(conn: Connection) -> Result<StateStore> {
        Ok(StateStore {
            inner: Arc::new(Mutex::new(Inner {
                conn,
                usage: HashMap::new(),
                pending: HashMap::new(),
            })),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave SQLite inconsistent: keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of a key, if set and not expired at `now` (seconds since the epoch).
    ///
    /// # Errors
    /// The read fails.
    pub fn get(&self, plugin: &str, key: &str, now: i64) -> Result<Option<String>> {
        Ok(self.lock().live_row(plugin, key, now)?.map(|row| row.value))
    }

    /// Ends the batch's read transaction and writes the batches' pending writes to the
    /// table, in one transaction; kept pending (and tried again at the next commit) if that
    /// fails.
    ///
    /// # Errors
    /// The write fails.
    pub fn commit(&self) -> Result<()> {
        self.lock().write_pending()
    }

    /// Sets a key, expiring `ttl` seconds after `now`.
    ///
    /// # Errors
    /// The key or value is over its size limit, the plugin's state is at its quota
    /// ([`QuotaExceeded`]), or the write fails.
    pub fn set(
        &self,
        plugin: &str,
        key: &str,
        value: &str,
        ttl: Option<u32>,
        now: i64,
        quota: StateQuota,
    ) -> Result<()> {
        check_sizes(key, value)?;
        self.lock().write(
            plugin,
            key,
            value,
            ttl.map(|t| now + i64::from(t)),
            now,
            quota,
        )
    }

    /// Deletes a key.
    ///
    /// # Errors
    /// The write fails.
    pub fn delete(&self, plugin: &str, key: &str) -> Result<()> {
        let mut inner = self.lock();
        let freed = inner.row_bytes(plugin, key)?;
        inner.set_pending(plugin, key, None);
        if let (Some(freed), Some(usage)) = (freed, inner.usage.get_mut(plugin)) {
            usage.keys = usage.keys.saturating_sub(1);
            usage.bytes = usage.bytes.saturating_sub(freed);
        }
        Ok(())
    }

    /// Adds `delta` to an integer key. An expired or absent key starts from 0 with a new TTL;
    /// a live key keeps its expiry, so a window is fixed from its first event.
    ///
    /// # Errors
    /// The key is over its size limit, or the read or write fails.
    pub fn increment(
        &self,
        plugin: &str,
        key: &str,
        delta: i64,
        ttl: Option<u32>,
        now: i64,
        quota: StateQuota,
    ) -> Result<i64> {
        check_sizes(key, "")?;
        let mut inner = self.lock();
        let (value, expires_at) = match inner.live_row(plugin, key, now)? {
            Some(row) => (
                row.value.parse::<i64>().unwrap_or(0).saturating_add(delta),
                row.expires_at,
            ),
            None => (delta, ttl.map(|t| now + i64::from(t))),
        };
        inner.write(plugin, key, &value.to_string(), expires_at, now, quota)?;
        Ok(value)
    }

    /// Rows stored for `plugin`, expired or not (for tests and `audit` summaries).
    ///
    /// # Errors
    /// The read fails.
    pub fn stored_rows(&self, plugin: &str) -> Result<u64> {
        let mut inner = self.lock();
        inner.write_pending()?;
        let rows: i64 = inner.conn.query_row(
            "SELECT COUNT(*) FROM plugin_state WHERE plugin = ?1",
            params![plugin],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(rows).unwrap_or(0))
    }
}

impl Drop for Inner {
    /// The last handle gone (the process ending, a test's store dropped): pending writes
    /// are written, not lost.
    fn drop(&mut self) {
        if let Err(e) = self.write_pending() {
            tracing::error!("cannot write the plugins' pending state: {e:#}");
        }
    }
}

impl Inner {
    /// Upserts one row within the plugin's quota. Expired rows are purged first when the
    /// plugin's event clock has moved on enough since the last purge, or when the write
    /// would pass the quota, so that only live state counts against it.
    fn write(
        &mut self,
        plugin: &str,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
        now: i64,
        quota: StateQuota,
    ) -> Result<()> {
        let mut usage = self.usage_of(plugin, now)?;
        if now.saturating_sub(usage.purged_at) >= PURGE_INTERVAL_SECONDS {
            usage = self.purge_plugin(plugin, now)?;
        }
        let new_bytes = (key.len() + value.len()) as u64;
        let mut old = self.row_bytes(plugin, key)?;
        let mut after = usage.after_write(old, new_bytes);
        if !quota.allows(after) {
            usage = self.purge_plugin(plugin, now)?;
            old = self.row_bytes(plugin, key)?;
            after = usage.after_write(old, new_bytes);
            if !quota.allows(after) {
                return Err(QuotaExceeded {
                    plugin: plugin.to_string(),
                    keys: usage.keys,
                    bytes: usage.bytes,
                    quota,
                }
                .into());
            }
        }
        self.set_pending(
            plugin,
            key,
            Some(Row {
                value: value.to_owned(),
                expires_at,
            }),
        );
        let stored = self.usage.entry(plugin.to_string()).or_default();
        (stored.keys, stored.bytes) = after;
        Ok(())
    }

    /// A key's row if it is live at `now`: the pending write if there is one, else the
    /// table's.
    fn live_row(&self, plugin: &str, key: &str, now: i64) -> Result<Option<Row>> {
        if let Some(pending) = self.pending_row(plugin, key) {
            return Ok(pending.clone().filter(|row| row.is_live(now)));
        }
        self.read_snapshot()?;
        Ok(self
            .conn
            .prepare_cached(
                "SELECT value, expires_at FROM plugin_state
                 WHERE plugin = ?1 AND key = ?2 AND (expires_at IS NULL OR expires_at > ?3)",
            )?
            .query_row(params![plugin, key, now], |row| {
                Ok(Row {
                    value: row.get(0)?,
                    expires_at: row.get(1)?,
                })
            })
            .optional()?)
    }

    /// Opens a read transaction unless one is open: the batch's reads share it until the
    /// commit after the batch ends it. A read in a transaction of its own would, after any
    /// other connection's commit (the audit store's, after every batch), drop the
    /// connection's page cache and read the pages again: two lock calls and a disk read or
    /// two per `get`, which a plugin asking state for each finding pays thousands of times.
    /// Within a batch the reads see the table as it was at its first read (and the pending
    /// writes over it), as a transaction per batch would.
    fn read_snapshot(&self) -> Result<()> {
        if self.conn.is_autocommit() {
            self.conn.execute_batch("BEGIN DEFERRED")?;
        }
        Ok(())
    }

    /// Ends the read transaction, if open, before a write (which must see the latest
    /// table) or at the commit after a batch (so no snapshot outlives it).
    fn end_read(&mut self) -> Result<()> {
        if !self.conn.is_autocommit() {
            self.conn.execute_batch("COMMIT")?;
        }
        Ok(())
    }

    /// The pending write of a key, if there is one (`Some(None)`: deleted).
    fn pending_row(&self, plugin: &str, key: &str) -> Option<&Option<Row>> {
        self.pending.get(plugin).and_then(|keys| keys.get(key))
    }

    fn set_pending(&mut self, plugin: &str, key: &str, row: Option<Row>) {
        match self.pending.get_mut(plugin) {
            Some(keys) => {
                keys.insert(key.to_owned(), row);
            }
            None => {
                self.pending
                    .insert(plugin.to_owned(), HashMap::from([(key.to_owned(), row)]));
            }
        }
    }

    /// Writes every pending write in one transaction, then forgets them; on failure they
    /// stay pending.
    fn write_pending(&mut self) -> Result<()> {
        self.end_read()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO plugin_state (plugin, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value,
                     expires_at = excluded.expires_at",
            )?;
            let mut delete =
                tx.prepare_cached("DELETE FROM plugin_state WHERE plugin = ?1 AND key = ?2")?;
            for (plugin, keys) in &self.pending {
                for (key, row) in keys {
                    match row {
                        Some(row) => {
                            upsert.execute(params![plugin, key, row.value, row.expires_at])?
                        }
                        None => delete.execute(params![plugin, key])?,
                    };
                }
            }
        }
        tx.commit()?;
        self.pending.clear();
        Ok(())
    }

    /// The plugin's usage, counted from the table the first time.
    fn usage_of(&mut self, plugin: &str, now: i64) -> Result<Usage> {
        if let Some(usage) = self.usage.get(plugin) {
            return Ok(*usage);
        }
        let (keys, bytes) = self.count(plugin)?;
        let usage = Usage {
            keys,
            bytes,
            // Counted as just purged: the first write purges only at the quota.
            purged_at: now,
        };
        self.usage.insert(plugin.to_string(), usage);
        Ok(usage)
    }

    /// Writes the pending writes if `plugin` has some, so the table has all of its state.
    fn write_pending_of(&mut self, plugin: &str) -> Result<()> {
        if self.pending.contains_key(plugin) {
            self.write_pending()?;
        }
        Ok(())
    }

    /// What the plugin holds in the table, its pending writes written first.
    fn count(&mut self, plugin: &str) -> Result<(u64, u64)> {
        self.write_pending_of(plugin)?;
        let (keys, bytes): (i64, i64) = self.conn.prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0)
             FROM plugin_state WHERE plugin = ?1",
        )?
        .query_row(params![plugin], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok((
            u64::try_from(keys).unwrap_or(0),
            u64::try_from(bytes).unwrap_or(0),
        ))
    }

    /// Deletes the plugin's expired rows and recounts what it holds.
    fn purge_plugin(&mut self, plugin: &str, now: i64) -> Result<Usage> {
        self.write_pending_of(plugin)?;
        self.end_read()?;
        self.conn.prepare_cached("DELETE FROM plugin_state WHERE plugin = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2")?
            .execute(params![plugin, now])?;
        let (keys, bytes) = self.count(plugin)?;
        let usage = Usage {
            keys,
            bytes,
            purged_at: now,
        };
        self.usage.insert(plugin.to_string(), usage);
        Ok(usage)
    }

    /// The stored size (key + value bytes) of a row, expired or not, if it exists (pending
    /// writes included).
    fn row_bytes(&self, plugin: &str, key: &str) -> Result<Option<u64>> {
        if let Some(pending) = self.pending_row(plugin, key) {
            return Ok(pending
                .as_ref()
                .map(|row| (key.len() + row.value.len()) as u64));
        }
        self.read_snapshot()?;
        let bytes: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT length(CAST(key AS BLOB)) + length(CAST(value AS BLOB)) FROM plugin_state
                 WHERE plugin = ?1 AND key = ?2",
            )?
            .query_row(params![plugin, key], |row| row.get(0))
            .optional()?;
        Ok(bytes.map(|b| u64::try_from(b).unwrap_or(0)))
    }
}

fn check_sizes(key: &str, value: &str) -> Result<()> {
    anyhow::ensure!(
        key.len() <= MAX_KEY_BYTES,
        "state key over {MAX_KEY_BYTES} bytes"
    );
    anyhow::ensure!(
        value.len() <= MAX_VALUE_BYTES,
        "state value over {MAX_VALUE_BYTES} bytes"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: StateQuota = StateQuota {
        max_keys: DEFAULT_MAX_KEYS,
        max_bytes: DEFAULT_MAX_BYTES,
    };

    #[test]
    fn state_expires_and_windows_are_fixed_from_the_first_increment() {
        let store = StateStore::in_memory().unwrap();
        assert_eq!(store.increment("p", "k", 1, Some(60), 1000, Q).unwrap(), 1);
        assert_eq!(store.increment("p", "k", 1, Some(60), 1050, Q).unwrap(), 2);
        // The window opened at 1000 closes at 1060, whatever the later increments said.
        assert_eq!(store.increment("p", "k", 1, Some(60), 1061, Q).unwrap(), 1);
        store.set("p", "s", "v", Some(10), 0, Q).unwrap();
        assert_eq!(store.get("p", "s", 5).unwrap().as_deref(), Some("v"));
        assert_eq!(store.get("p", "s", 10).unwrap(), None);
        assert_eq!(
            store.get("other", "k", 1000).unwrap(),
            None,
            "state is per plugin"
        );
        store.delete("p", "k").unwrap();
        assert_eq!(store.get("p", "k", 1061).unwrap(), None);
    }

    /// A batch's writes are read back at once but reach the table in one commit after the
    /// batch (or when the store is dropped); the same sequence committed after each write
    /// gives the same table.
    #[test]
    fn writes_are_seen_at_once_and_reach_the_table_at_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let table = |path: &Path| -> Vec<(String, String, String, Option<i64>)> {
            let conn = Connection::open(path).unwrap();
            let mut stmt = conn
                .prepare("SELECT plugin, key, value, expires_at FROM plugin_state ORDER BY 1, 2")
                .unwrap();
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap();
            rows.collect::<rusqlite::Result<_>>().unwrap()
        };
        let batch = |store: &StateStore, commit_each: bool| {
            let commit = || {
                if commit_each {
                    store.commit().unwrap();
                }
            };
            store.set("p", "gone", "x", None, 1000, Q).unwrap();
            commit();
            assert_eq!(store.increment("p", "n", 2, Some(60), 1000, Q).unwrap(), 2);
            commit();
            assert_eq!(store.increment("p", "n", 3, Some(60), 1010, Q).unwrap(), 5);
            commit();
            store.delete("p", "gone").unwrap();
            commit();
            assert_eq!(store.get("p", "gone", 1010).unwrap(), None);
            store.set("q", "k", "v", Some(5), 1010, Q).unwrap();
            commit();
            assert_eq!(store.get("q", "k", 1014).unwrap().as_deref(), Some("v"));
            assert_eq!(
                store.get("q", "k", 1015).unwrap(),
                None,
                "expired while pending"
            );
        };

        let store = StateStore::open(&path).unwrap();
        batch(&store, false);
        assert!(
            table(&path).is_empty(),
            "nothing is written before the commit"
        );
        store.commit().unwrap();
        let committed_once = table(&path);
        assert_eq!(
            committed_once,
            vec![
                ("p".into(), "n".into(), "5".into(), Some(1060)),
                ("q".into(), "k".into(), "v".into(), Some(1015)),
            ]
        );
        assert_eq!(store.stored_rows("p").unwrap(), 1);
        drop(store);

        let other = dir.path().join("each.db");
        let store = StateStore::open(&other).unwrap();
        batch(&store, true);
        assert_eq!(
            table(&other),
            committed_once,
            "as if committed after each write"
        );
        drop(store);

        let dropped = dir.path().join("dropped.db");
        let store = StateStore::open(&dropped).unwrap();
        store.set("p", "k", "v", None, 0, Q).unwrap();
        drop(store);
        assert_eq!(
            table(&dropped).len(),
            1,
            "dropping the store writes what is pending"
        );
    }

    /// A batch's reads share one read transaction: they see the table as at the batch's
    /// first read (another process's write lands after it), the commit after the batch
    /// writes even so, and ends the snapshot, so the next batch sees that write and a
    /// checkpoint then moves the whole log into the database (no reader holds it back).
    #[test]
    fn a_batch_reads_one_snapshot_that_ends_at_its_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let store = StateStore::open(&path).unwrap();
        store.set("p", "k", "1", None, 0, Q).unwrap();
        store.commit().unwrap();
        let other_process = StateStore::open(&path).unwrap();

        assert_eq!(store.get("p", "k", 0).unwrap().as_deref(), Some("1"));
        other_process.set("p", "k", "2", None, 0, Q).unwrap();
        other_process.set("p", "new", "x", None, 0, Q).unwrap();
        other_process.commit().unwrap();
        assert_eq!(store.get("p", "k", 0).unwrap().as_deref(), Some("1"));
        assert_eq!(store.get("p", "new", 0).unwrap(), None);
        store.set("p", "mine", "y", None, 0, Q).unwrap();
        store
            .commit()
            .expect("the commit writes though the snapshot is stale");

        assert_eq!(store.get("p", "k", 0).unwrap().as_deref(), Some("2"));
        assert_eq!(store.get("p", "new", 0).unwrap().as_deref(), Some("x"));
        store.commit().unwrap();
        let conn = Connection::open(&path).unwrap();
        let (busy, log, moved): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(
            (busy, log, moved),
            (0, 0, 0),
            "no snapshot outlives a commit"
        );
        assert_eq!(other_process.stored_rows("p").unwrap(), 3);
    }

    #[test]
    fn oversized_keys_and_values_are_refused() {
        let store = StateStore::in_memory().unwrap();
        let big = "x".repeat(MAX_VALUE_BYTES + 1);
        assert!(store.set("p", "k", &big, None, 0, Q).is_err());
        assert!(store.set("p", &big, "v", None, 0, Q).is_err());
        assert_eq!(store.get("p", "k", 0).unwrap(), None);
    }

    #[test]
    fn a_plugin_at_its_key_quota_is_refused_with_a_clear_error_and_others_are_not() {
        let store = StateStore::in_memory().unwrap();
        let quota = StateQuota {
            max_keys: 3,
            max_bytes: 1024,
        };
        for key in ["a", "b", "c"] {
            store.set("p", key, "v", None, 0, quota).unwrap();
        }
        // Overwriting a held key is fine; a fourth key is not.
        store.set("p", "a", "w", None, 0, quota).unwrap();
        let error = store.set("p", "d", "v", None, 0, quota).unwrap_err();
        let refused = error
            .downcast_ref::<QuotaExceeded>()
            .expect("a quota error");
        assert_eq!((refused.keys, refused.quota.max_keys), (3, 3));
        assert!(error
            .to_string()
            .contains("state quota exceeded: plugin p holds 3 keys"));
        assert!(store.increment("p", "d", 1, None, 0, quota).is_err());
        assert_eq!(store.get("p", "d", 0).unwrap(), None);
        // Another plugin has its own quota; a deleted key frees its slot.
        store.set("q", "d", "v", None, 0, quota).unwrap();
        store.delete("p", "b").unwrap();
        store.set("p", "d", "v", None, 0, quota).unwrap();
    }

    #[test]
    fn the_byte_quota_counts_keys_and_values() {
        let store = StateStore::in_memory().unwrap();
        let quota = StateQuota {
            max_keys: 100,
            max_bytes: 100,
        };
        store
            .set("p", "k1", &"x".repeat(60), None, 0, quota)
            .unwrap();
        assert!(store
            .set("p", "k2", &"x".repeat(60), None, 0, quota)
            .is_err());
        // Shrinking the held value makes room.
        store.set("p", "k1", "x", None, 0, quota).unwrap();
        store
            .set("p", "k2", &"x".repeat(60), None, 0, quota)
            .unwrap();
    }

    #[test]
    fn expired_rows_are_deleted_and_stop_counting_against_the_quota() {
        let store = StateStore::in_memory().unwrap();
        let quota = StateQuota {
            max_keys: 2,
            max_bytes: 1024,
        };
        store.set("p", "a", "v", Some(10), 1000, quota).unwrap();
        store.set("p", "b", "v", Some(10), 1000, quota).unwrap();
        // At the quota while both live; once expired they are purged on write, not counted.
        assert!(store.set("p", "c", "v", None, 1005, quota).is_err());
        store.set("p", "c", "v", None, 1011, quota).unwrap();
        assert_eq!(store.stored_rows("p").unwrap(), 1);
        // Periodic purge on write: a plugin far below its quota still sheds expired rows.
        let roomy = StateQuota::default();
        for n in 0..50 {
            store
                .set("r", &format!("k{n}"), "v", Some(60), 2000, roomy)
                .unwrap();
        }
        assert_eq!(store.stored_rows("r").unwrap(), 50);
        store
            .set("r", "late", "v", None, 2000 + PURGE_INTERVAL_SECONDS, roomy)
            .unwrap();
        assert_eq!(store.stored_rows("r").unwrap(), 1);
    }
}
