//! Per-plugin key-value state with TTL, kept by the host (DESIGN invariant 3: a plugin
//! instance can be dropped at any time, so nothing durable lives in its memory).
//!
//! TTLs run on *event time*: the clock is the latest event time the host has dispatched,
//! so replaying last month's logs opens and closes windows as the live stream did.

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
)";

/// Limits that keep one plugin from filling the host's disk through its state.
pub const MAX_KEY_BYTES: usize = 1024;
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Shared handle to the state database; cheap to clone into each plugin's store.
#[derive(Clone)]
pub struct StateStore {
    conn: Arc<Mutex<Connection>>,
}

impl StateStore {
    /// Opens the state table in the database at `path` (normally the audit database).
    ///
    /// # Errors
    /// The database cannot be opened or the table created.
    pub fn open(path: &Path) -> Result<StateStore> {
        Self::init(Connection::open(path)?)
    }

    /// A state store that lives only as long as the process.
    ///
    /// # Errors
    /// The table cannot be created.
    pub fn in_memory() -> Result<StateStore> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<StateStore> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(StateStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent: keep going.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of a key, if set and not expired at `now` (seconds since the epoch).
    ///
    /// # Errors
    /// The read fails.
    pub fn get(&self, plugin: &str, key: &str, now: i64) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT value FROM plugin_state
                 WHERE plugin = ?1 AND key = ?2 AND (expires_at IS NULL OR expires_at > ?3)",
                params![plugin, key, now],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Sets a key, expiring `ttl` seconds after `now`.
    ///
    /// # Errors
    /// The key or value is over its size limit, or the write fails.
    pub fn set(
        &self,
        plugin: &str,
        key: &str,
        value: &str,
        ttl: Option<u32>,
        now: i64,
    ) -> Result<()> {
        check_sizes(key, value)?;
        self.conn().execute(
            "INSERT INTO plugin_state (plugin, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value,
                 expires_at = excluded.expires_at",
            params![plugin, key, value, ttl.map(|t| now + i64::from(t))],
        )?;
        Ok(())
    }

    /// Deletes a key.
    ///
    /// # Errors
    /// The write fails.
    pub fn delete(&self, plugin: &str, key: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM plugin_state WHERE plugin = ?1 AND key = ?2",
            params![plugin, key],
        )?;
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
    ) -> Result<i64> {
        check_sizes(key, "")?;
        let conn = self.conn();
        let current: Option<(String, Option<i64>)> = conn
            .query_row(
                "SELECT value, expires_at FROM plugin_state
                 WHERE plugin = ?1 AND key = ?2 AND (expires_at IS NULL OR expires_at > ?3)",
                params![plugin, key, now],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let (value, expires_at) = match current {
            Some((text, expires_at)) => (
                text.parse::<i64>().unwrap_or(0).saturating_add(delta),
                expires_at,
            ),
            None => (delta, ttl.map(|t| now + i64::from(t))),
        };
        conn.execute(
            "INSERT INTO plugin_state (plugin, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value,
                 expires_at = excluded.expires_at",
            params![plugin, key, value.to_string(), expires_at],
        )?;
        Ok(value)
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

    #[test]
    fn state_expires_and_windows_are_fixed_from_the_first_increment() {
        let store = StateStore::in_memory().unwrap();
        assert_eq!(store.increment("p", "k", 1, Some(60), 1000).unwrap(), 1);
        assert_eq!(store.increment("p", "k", 1, Some(60), 1050).unwrap(), 2);
        // The window opened at 1000 closes at 1060, whatever the later increments said.
        assert_eq!(store.increment("p", "k", 1, Some(60), 1061).unwrap(), 1);
        store.set("p", "s", "v", Some(10), 0).unwrap();
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

    #[test]
    fn oversized_keys_and_values_are_refused() {
        let store = StateStore::in_memory().unwrap();
        let big = "x".repeat(MAX_VALUE_BYTES + 1);
        assert!(store.set("p", "k", &big, None, 0).is_err());
        assert!(store.set("p", &big, "v", None, 0).is_err());
        assert_eq!(store.get("p", "k", 0).unwrap(), None);
    }
}
