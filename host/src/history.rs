//! First-seen detection kept by the host (WIT 0.4.0 `history`): per plugin, a row per
//! (rule, tuple) hash with when it was first and last seen and how often, so a plugin can
//! ask "has this principal ever called this API?" in a few µs, in any language.
//!
//! Time is the pipeline's event clock (as for `state`): a replay of last month's logs
//! learns and forgets as the live stream did. Bounded per plugin: at most `max_rows`
//! tuples (expired rows purged first, then the least recently seen evicted, counted and
//! logged) and `max_accounts` accounts (past it, a clear error). Lookups go through a
//! bounded in-memory cache; sightings are written in one transaction per batch
//! ([`HistoryStore::commit`], called by the runtime after each batch): new tuples, and known
//! ones whose last-seen time moved on by [`LAST_SEEN_GRANULARITY_S`] (all of them when the
//! cache is emptied). A crash mid-batch loses that batch's sightings, as it loses its
//! findings: the redelivered events are then asked again.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS plugin_history (
    plugin TEXT NOT NULL,
    key BLOB NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    count INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (plugin, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS plugin_history_age ON plugin_history (plugin, last_seen);
CREATE INDEX IF NOT EXISTS plugin_history_expiry ON plugin_history (plugin, expires_at);
CREATE TABLE IF NOT EXISTS plugin_history_accounts (
    plugin TEXT NOT NULL,
    account TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (plugin, account)
) WITHOUT ROWID";

/// The history tables as a store of the shared database. Its first migration is the
/// `IF NOT EXISTS` schema of earlier releases, so their tables are kept.
const STORE_SCHEMA: trailwarden_store::Schema<&str> = trailwarden_store::Schema {
    store: "history",
    migrations: &[SCHEMA],
    synchronous: trailwarden_store::Synchronous::Normal,
    mirrors_user_version: false,
};

pub use crate::lookup::{
    HistoryError, MAX_ACCOUNT_BYTES, MAX_PERIOD_SECONDS, MAX_TUPLE_BYTES, MAX_TUPLE_VALUES,
};
/// Default quota: tuples one plugin may hold.
pub const DEFAULT_MAX_ROWS: u64 = trailwarden_runtime::limits::DEFAULT_HISTORY_MAX_ROWS;
/// Default quota: accounts one plugin may have seen.
pub const DEFAULT_MAX_ACCOUNTS: u64 = trailwarden_runtime::limits::DEFAULT_HISTORY_MAX_ACCOUNTS;
/// A stored last-seen time is rewritten only once it is this much behind (the cache keeps
/// the exact value), so a tuple seen constantly costs no write per sighting.
pub const LAST_SEEN_GRANULARITY_S: i64 = 60;
/// Tuples kept in memory across all plugins before the cache is written back and emptied.
const CACHE_ENTRIES: usize = 100_000;
/// Share of a full plugin's rows evicted at once (1/16), so a flood does not evict per call.
const EVICTION_DIVISOR: u64 = 16;

/// The quota and the question belong to the sandbox (WIT 0.4.0 `history`); the store answers.
pub use trailwarden_runtime::{HistoryQuota, SeenInfo, SeenQuery};

/// What is known of one tuple.
#[derive(Debug, Clone, Copy)]
struct Sighting {
    first_seen: i64,
    last_seen: i64,
    count: u64,
    /// The last-seen time stored in SQLite ([`NOT_STORED`] for a tuple not yet written).
    stored_last_seen: i64,
    window: u32,
    /// Changed since it was last written.
    changed: bool,
}

type TupleKey = [u8; 16];

/// `stored_last_seen` of a tuple not yet written to SQLite.
const NOT_STORED: i64 = i64::MIN;

/// Shared handle to the history tables; cheap to clone into each plugin's store.
#[derive(Clone)]
pub struct HistoryStore {
    inner: Arc<Mutex<Inner>>,
    /// The rate baselines (WIT 0.5.0 `baseline`), in the same database.
    rates: crate::rate::RateStore,
}

struct Inner {
    conn: Connection,
    cache: HashMap<(Arc<str>, TupleKey), Sighting>,
    /// Rows per plugin, counted from the table on first use, then kept up to date.
    rows: HashMap<Arc<str>, u64>,
    /// When each (plugin, account) was first seen: the start of its learning period.
    accounts: HashMap<(Arc<str>, String), i64>,
    evicted: HashMap<Arc<str>, u64>,
    /// Cached tuples changed since the last commit.
    dirty: std::collections::HashSet<(Arc<str>, TupleKey)>,
}

impl HistoryStore {
    /// Opens the history tables in the database at `path` (normally the audit database).
    ///
    /// # Errors
    /// The database cannot be opened or the tables created.
    pub fn open(path: &Path) -> Result<HistoryStore> {
        Self::init(
            trailwarden_store::open(path, &STORE_SCHEMA)?,
            crate::rate::RateStore::open(path)?,
        )
    }

    /// A history that lives only as long as the process (fixtures, canaries, CLI checks).
    ///
    /// # Errors
    /// The tables cannot be created.
    pub fn in_memory() -> Result<HistoryStore> {
        Self::init(
            trailwarden_store::open_in_memory(&STORE_SCHEMA)?,
            crate::rate::RateStore::in_memory()?,
        )
    }

    /// `conn` comes from [`trailwarden_store`] (NORMAL sync: one commit per batch without
    /// an fsync), its tables up to date.
    fn init(conn: Connection, rates: crate::rate::RateStore) -> Result<HistoryStore> {
        Ok(HistoryStore {
            inner: Arc::new(Mutex::new(Inner {
                conn,
                cache: HashMap::new(),
                rows: HashMap::new(),
                accounts: HashMap::new(),
                evicted: HashMap::new(),
                dirty: std::collections::HashSet::new(),
            })),
            rates,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave SQLite inconsistent: keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a sighting of `query.tuple` for `query.rule` at `now` (event time, seconds)
    /// and says whether it was new.
    ///
    /// # Errors
    /// [`HistoryError::Invalid`] for input over its limits, [`HistoryError::QuotaExceeded`]
    /// when the plugin has seen as many accounts as it may; any other error is the
    /// database's.
    pub fn first_seen(
        &self,
        plugin: &Arc<str>,
        query: &SeenQuery<'_>,
        now: i64,
        quota: HistoryQuota,
    ) -> Result<SeenInfo> {
        check_query(query)?;
        let key = tuple_key(query.rule, query.tuple);
        let mut inner = self.lock();
        let account_since = inner.account_first_seen(plugin, query.account, now, quota)?;
        let learning = now < account_since.saturating_add(i64::from(query.learning_seconds));
        let window = i64::from(query.window_seconds);
        let existing = inner.sighting(plugin, key)?;
        let is_new_row = existing.is_none();
        let known = existing.filter(|s| s.last_seen.saturating_add(window) > now);
        let (info, sighting) = match known {
            Some(mut s) => {
                let info = SeenInfo {
                    new: false,
                    learning,
                    first_seen: s.first_seen,
                    last_seen: s.last_seen,
                    count: s.count + 1,
                };
                s.last_seen = s.last_seen.max(now);
                s.count += 1;
                s.window = query.window_seconds;
                s.changed = true;
                (info, s)
            }
            None => {
                let s = Sighting {
                    first_seen: now,
                    last_seen: now,
                    count: 1,
                    stored_last_seen: existing.map_or(NOT_STORED, |e| e.stored_last_seen),
                    window: query.window_seconds,
                    changed: true,
                };
                let info = SeenInfo {
                    new: !learning,
                    learning,
                    first_seen: now,
                    last_seen: now,
                    count: 1,
                };
                (info, s)
            }
        };
        if is_new_row {
            inner.make_room(plugin, now, quota)?;
            *inner.rows.entry(plugin.clone()).or_default() += 1;
        }
        inner.remember(plugin, key, sighting)?;
        Ok(info)
    }

    /// Tuples stored for `plugin` (expired or not).
    ///
    /// # Errors
    /// The read fails.
    pub fn stored_rows(&self, plugin: &str) -> Result<u64> {
        let rows: i64 = self.lock().conn.query_row(
            "SELECT COUNT(*) FROM plugin_history WHERE plugin = ?1",
            params![plugin],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(rows).unwrap_or(0))
    }

    /// Tuples evicted from `plugin`'s history at its quota since the process started.
    pub fn evicted(&self, plugin: &str) -> u64 {
        self.lock().evicted.get(plugin).copied().unwrap_or(0)
    }

    /// Writes the sightings of the batch: new tuples, and known ones whose stored last-seen
    /// time is [`LAST_SEEN_GRANULARITY_S`] behind, in one transaction.
    ///
    /// # Errors
    /// The write fails.
    pub fn commit(&self) -> Result<()> {
        self.lock().write_dirty(false)?;
        self.rates.commit()
    }

    /// The rate baselines kept beside the first-seen history.
    pub fn rates(&self) -> &crate::rate::RateStore {
        &self.rates
    }

    /// Writes every cached sighting whose stored copy is behind, then empties the cache.
    ///
    /// # Errors
    /// The write fails.
    pub fn flush(&self) -> Result<()> {
        self.lock().write_back()?;
        self.rates.flush()
    }
}

impl Inner {
    fn account_first_seen(
        &mut self,
        plugin: &Arc<str>,
        account: &str,
        now: i64,
        quota: HistoryQuota,
    ) -> Result<i64> {
        let id = (plugin.clone(), account.to_string());
        if let Some(since) = self.accounts.get(&id) {
            return Ok(*since);
        }
        let stored: Option<i64> = self
            .conn
            .query_row(
                "SELECT first_seen FROM plugin_history_accounts WHERE plugin = ?1 AND account = ?2",
                params![&**plugin, account],
                |row| row.get(0),
            )
            .optional()?;
        let since = match stored {
            Some(since) => since,
            None => {
                let held: i64 = self.conn.query_row(
                    "SELECT COUNT(*) FROM plugin_history_accounts WHERE plugin = ?1",
                    params![&**plugin],
                    |row| row.get(0),
                )?;
                if u64::try_from(held).unwrap_or(0) >= quota.max_accounts {
                    return Err(HistoryError::QuotaExceeded(format!(
                        "history quota exceeded: plugin {plugin} has seen {held} accounts; its \
                         quota is {}",
                        quota.max_accounts
                    ))
                    .into());
                }
                self.conn.execute(
                    "INSERT INTO plugin_history_accounts (plugin, account, first_seen)
                     VALUES (?1, ?2, ?3)",
                    params![&**plugin, account, now],
                )?;
                now
            }
        };
        if self.accounts.len() >= CACHE_ENTRIES {
            self.accounts.clear();
        }
        self.accounts.insert(id, since);
        Ok(since)
    }

    fn sighting(&mut self, plugin: &Arc<str>, key: TupleKey) -> Result<Option<Sighting>> {
        if let Some(s) = self.cache.get(&(plugin.clone(), key)) {
            return Ok(Some(*s));
        }
        let stored = self
            .conn
            .query_row(
                "SELECT first_seen, last_seen, count, expires_at - last_seen FROM plugin_history
                 WHERE plugin = ?1 AND key = ?2",
                params![&**plugin, &key[..]],
                |row| {
                    Ok(Sighting {
                        first_seen: row.get(0)?,
                        last_seen: row.get(1)?,
                        count: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                        stored_last_seen: row.get(1)?,
                        window: u32::try_from(row.get::<_, i64>(3)?).unwrap_or(0),
                        changed: false,
                    })
                },
            )
            .optional()?;
        Ok(stored)
    }

    /// Keeps the sighting in the cache, to be written at the batch's commit.
    fn remember(&mut self, plugin: &Arc<str>, key: TupleKey, sighting: Sighting) -> Result<()> {
        if self.cache.len() >= CACHE_ENTRIES {
            self.write_back()?;
        }
        self.cache.insert((plugin.clone(), key), sighting);
        self.dirty.insert((plugin.clone(), key));
        Ok(())
    }

    /// At the row quota: purge the plugin's expired rows, and if that is not enough, evict
    /// the least recently seen sixteenth (logged and counted: those tuples will look new).
    fn make_room(&mut self, plugin: &Arc<str>, now: i64, quota: HistoryQuota) -> Result<()> {
        let rows = self.rows_of(plugin)?;
        if rows < quota.max_rows {
            return Ok(());
        }
        self.write_back()?;
        self.conn.execute(
            "DELETE FROM plugin_history WHERE plugin = ?1 AND expires_at <= ?2",
            params![&**plugin, now],
        )?;
        let mut rows = self.count_rows(plugin)?;
        if rows >= quota.max_rows {
            let evict = (quota.max_rows / EVICTION_DIVISOR).max(1) + (rows - quota.max_rows);
            let evicted = self.conn.execute(
                "DELETE FROM plugin_history WHERE plugin = ?1 AND key IN (
                     SELECT key FROM plugin_history WHERE plugin = ?1
                     ORDER BY last_seen LIMIT ?2)",
                params![&**plugin, i64::try_from(evict).unwrap_or(i64::MAX)],
            )? as u64;
            *self.evicted.entry(plugin.clone()).or_default() += evicted;
            tracing::warn!(
                plugin = &**plugin,
                evicted,
                quota = quota.max_rows,
                "history quota reached: the least recently seen tuples were evicted (they will \
                 look new when seen again); raise history_max_rows or shorten the windows"
            );
            rows = self.count_rows(plugin)?;
        }
        self.rows.insert(plugin.clone(), rows);
        Ok(())
    }

    fn rows_of(&mut self, plugin: &Arc<str>) -> Result<u64> {
        if let Some(rows) = self.rows.get(plugin) {
            return Ok(*rows);
        }
        let rows = self.count_rows(plugin)?;
        self.rows.insert(plugin.clone(), rows);
        Ok(rows)
    }

    fn count_rows(&self, plugin: &str) -> Result<u64> {
        let rows: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM plugin_history WHERE plugin = ?1",
            params![plugin],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(rows).unwrap_or(0))
    }

    /// Writes the changed sightings in one transaction: with `all`, every one the cache
    /// holds; else those of the batch (the dirty set) that are new or a granularity behind.
    fn write_dirty(&mut self, all: bool) -> Result<()> {
        let ids: Vec<(Arc<str>, TupleKey)> = if all {
            self.dirty.clear();
            self.cache
                .iter()
                .filter(|(_, s)| s.changed)
                .map(|(id, _)| id.clone())
                .collect()
        } else {
            self.dirty.drain().collect()
        };
        if ids.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO plugin_history (plugin, key, first_seen, last_seen, count, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (plugin, key) DO UPDATE SET first_seen = excluded.first_seen,
                     last_seen = excluded.last_seen, count = excluded.count,
                     expires_at = excluded.expires_at",
            )?;
            for id in ids {
                let Some(s) = self.cache.get_mut(&id) else {
                    continue;
                };
                let behind = s.stored_last_seen == NOT_STORED
                    || s.last_seen.saturating_sub(s.stored_last_seen) >= LAST_SEEN_GRANULARITY_S;
                if !(all || behind) {
                    // Kept `changed` in the cache: written when it falls behind or the
                    // cache is emptied.
                    continue;
                }
                upsert.execute(params![
                    &*id.0,
                    &id.1[..],
                    s.first_seen,
                    s.last_seen,
                    i64::try_from(s.count).unwrap_or(i64::MAX),
                    s.last_seen.saturating_add(i64::from(s.window))
                ])?;
                s.stored_last_seen = s.last_seen;
                s.changed = false;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Writes back everything the cache holds ahead of SQLite, and empties the cache.
    fn write_back(&mut self) -> Result<()> {
        self.write_dirty(true)?;
        self.cache.clear();
        Ok(())
    }
}

/// The stored key: the first 16 bytes of sha256 over the rule and values, each
/// length-prefixed so that ("ab","c") and ("a","bc") differ.
fn tuple_key(rule: &str, tuple: &[String]) -> TupleKey {
    let mut hasher = Sha256::new();
    for part in std::iter::once(rule).chain(tuple.iter().map(String::as_str)) {
        hasher.update((part.len() as u32).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

fn check_query(query: &SeenQuery<'_>) -> std::result::Result<(), HistoryError> {
    let invalid = |text: String| Err(HistoryError::Invalid(text));
    if query.rule.is_empty() {
        return invalid("history rule must not be empty".into());
    }
    if query.tuple.is_empty() || query.tuple.len() > MAX_TUPLE_VALUES {
        return invalid(format!(
            "history tuple has {} values; it must have 1 to {MAX_TUPLE_VALUES}",
            query.tuple.len()
        ));
    }
    let bytes = query.rule.len() + query.tuple.iter().map(String::len).sum::<usize>();
    if bytes > MAX_TUPLE_BYTES {
        return invalid(format!(
            "history rule and tuple are {bytes} bytes; the limit is {MAX_TUPLE_BYTES}"
        ));
    }
    if query.account.len() > MAX_ACCOUNT_BYTES {
        return invalid(format!("history account is over {MAX_ACCOUNT_BYTES} bytes"));
    }
    if query.window_seconds == 0 || query.window_seconds > MAX_PERIOD_SECONDS {
        return invalid(format!(
            "history window must be 1 to {MAX_PERIOD_SECONDS} seconds"
        ));
    }
    if query.learning_seconds > MAX_PERIOD_SECONDS {
        return invalid(format!(
            "history learning period must be at most {MAX_PERIOD_SECONDS} seconds"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u32 = 86_400;

    fn ask(
        store: &HistoryStore,
        plugin: &Arc<str>,
        tuple: &[&str],
        now: i64,
        learning: u32,
        quota: HistoryQuota,
    ) -> SeenInfo {
        let tuple: Vec<String> = tuple.iter().map(|s| (*s).to_string()).collect();
        let query = SeenQuery {
            account: "111122223333",
            rule: "r",
            tuple: &tuple,
            window_seconds: 30 * DAY,
            learning_seconds: learning,
        };
        store.first_seen(plugin, &query, now, quota).unwrap()
    }

    #[test]
    fn a_tuple_is_new_once_then_seen_until_its_window_passes() {
        let store = HistoryStore::in_memory().unwrap();
        let p: Arc<str> = Arc::from("p");
        let q = HistoryQuota::default();
        let t0 = 1_700_000_000;
        let first = ask(&store, &p, &["alice", "CreateUser"], t0, 0, q);
        assert!(first.new && !first.learning);
        assert_eq!((first.first_seen, first.count), (t0, 1));
        let again = ask(&store, &p, &["alice", "CreateUser"], t0 + 100, 0, q);
        assert!(!again.new);
        assert_eq!(
            (again.first_seen, again.last_seen, again.count),
            (t0, t0, 2)
        );
        // Another plugin, another value, another order: each its own tuple.
        let other: Arc<str> = Arc::from("other");
        assert!(ask(&store, &other, &["alice", "CreateUser"], t0, 0, q).new);
        assert!(ask(&store, &p, &["CreateUser", "alice"], t0, 0, q).new);
        // Survives the cache: a new handle on the same database would read it back.
        store.flush().unwrap();
        let after = ask(&store, &p, &["alice", "CreateUser"], t0 + 200, 0, q);
        assert_eq!((after.new, after.count), (false, 3));
        // Not seen for longer than the window: new again.
        let later = t0 + 200 + i64::from(30 * DAY);
        assert!(ask(&store, &p, &["alice", "CreateUser"], later, 0, q).new);
    }

    #[test]
    fn nothing_is_new_during_an_accounts_learning_period() {
        let store = HistoryStore::in_memory().unwrap();
        let p: Arc<str> = Arc::from("p");
        let q = HistoryQuota::default();
        let t0 = 1_700_000_000;
        let during = ask(&store, &p, &["a"], t0, DAY, q);
        assert!(!during.new && during.learning);
        assert!(!ask(&store, &p, &["b"], t0 + 3600, DAY, q).new);
        let after = ask(&store, &p, &["c"], t0 + i64::from(DAY), DAY, q);
        assert!(after.new && !after.learning);
        // What was learnt is known afterwards.
        assert!(!ask(&store, &p, &["a"], t0 + i64::from(DAY) + 1, DAY, q).new);
    }

    #[test]
    fn the_row_quota_evicts_the_least_recently_seen_and_the_account_quota_refuses() {
        let store = HistoryStore::in_memory().unwrap();
        let p: Arc<str> = Arc::from("p");
        let q = HistoryQuota {
            max_rows: 64,
            max_accounts: 2,
            ..HistoryQuota::default()
        };
        let t0 = 1_700_000_000;
        for n in 0..1000 {
            ask(&store, &p, &[&format!("v{n}")], t0 + n, 0, q);
            assert!(store.stored_rows("p").unwrap() <= 64);
        }
        assert!(store.evicted("p") >= 1000 - 64);
        // The most recent tuples are kept; the oldest were evicted and look new.
        assert!(!ask(&store, &p, &["v999"], t0 + 1000, 0, q).new);
        assert!(ask(&store, &p, &["v0"], t0 + 1001, 0, q).new);
        let tuple = vec!["x".to_string()];
        let other_account = |account| SeenQuery {
            account,
            rule: "r",
            tuple: &tuple,
            window_seconds: DAY,
            learning_seconds: 0,
        };
        store
            .first_seen(&p, &other_account("444455556666"), t0, q)
            .unwrap();
        let error = store
            .first_seen(&p, &other_account("777788889999"), t0, q)
            .unwrap_err();
        assert!(matches!(
            error.downcast_ref::<HistoryError>(),
            Some(HistoryError::QuotaExceeded(text)) if text.contains("has seen 2 accounts")
        ));
    }

    #[test]
    fn oversized_or_empty_questions_are_refused() {
        let store = HistoryStore::in_memory().unwrap();
        let p: Arc<str> = Arc::from("p");
        let refuse = |tuple: Vec<String>, window: u32| {
            let query = SeenQuery {
                account: "1",
                rule: "r",
                tuple: &tuple,
                window_seconds: window,
                learning_seconds: 0,
            };
            store
                .first_seen(&p, &query, 0, HistoryQuota::default())
                .unwrap_err()
                .downcast::<HistoryError>()
                .unwrap()
        };
        assert!(matches!(refuse(vec![], DAY), HistoryError::Invalid(_)));
        assert!(matches!(
            refuse(vec!["x".repeat(2000)], DAY),
            HistoryError::Invalid(_)
        ));
        assert!(matches!(
            refuse(vec!["a".into(); 9], DAY),
            HistoryError::Invalid(_)
        ));
        assert!(matches!(
            refuse(vec!["a".into()], 0),
            HistoryError::Invalid(_)
        ));
        assert_eq!(store.stored_rows("p").unwrap(), 0);
    }
}
