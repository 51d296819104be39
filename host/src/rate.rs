//! Rate baselines kept by the host (WIT 0.5.0 `baseline`): per plugin and (rule, key), how
//! many calls a key makes per minute against its own history, so a plugin can ask "is this
//! principal calling at a rate it never had?" in a few µs, in any language.
//!
//! Per key the host keeps the current minute and its count, and an exponentially weighted
//! mean and variance of the per-minute counts of the minutes before it, quiet minutes (zero)
//! included, with a time constant of the query's history (e.g. 7 days = 10,080 minutes).
//! That is a rolling mean and deviation in O(1) memory per key: a run of quiet minutes is
//! folded in closed form, so a key seen once a week costs the same as one seen every second.
//! Both start at zero, so they are divided by the weight folded so far (bias correction):
//! a key with a day of history has a baseline of that day, not a seventh of it.
//! Time is the pipeline's event clock (minutes of event time), as for `state` and `history`.
//!
//! The answer compares the current minute's count, this call included, with the baseline:
//! `score` is how many deviations above the mean it is (the deviation floored at 1 call a
//! minute, so a key that was always quiet needs a real burst), `anomalous` when the score
//! reaches the plugin's threshold, the count its minimum, and the key is past its learning
//! period (its first sighting `learning-seconds` ago). `burst-start` is true on the first
//! anomalous answer of an incident only: an incident ends with the first minute that closes
//! below the threshold, so one burst is one finding however many calls it holds.
//!
//! Bounded per plugin: at most `max_keys` keys (the least recently seen sixteenth evicted at
//! the quota, logged and counted: those keys start learning again). Writes: one transaction
//! per batch ([`RateStore::commit`], called by the runtime after each batch).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::lookup::{
    HistoryError, MAX_ACCOUNT_BYTES, MAX_PERIOD_SECONDS, MAX_TUPLE_BYTES, MAX_TUPLE_VALUES,
};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS plugin_rates (
    plugin TEXT NOT NULL,
    key BLOB NOT NULL,
    first_seen INTEGER NOT NULL,
    minute INTEGER NOT NULL,
    count INTEGER NOT NULL,
    mean REAL NOT NULL,
    variance REAL NOT NULL,
    weight REAL NOT NULL,
    in_burst INTEGER NOT NULL,
    PRIMARY KEY (plugin, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS plugin_rates_age ON plugin_rates (plugin, minute)";

/// The rate table as a store of the shared database. Its first migration is the
/// `IF NOT EXISTS` schema of earlier releases, so their tables are kept.
const STORE_SCHEMA: trailwarden_store::Schema<&str> = trailwarden_store::Schema {
    store: "rate",
    migrations: &[SCHEMA],
    synchronous: trailwarden_store::Synchronous::Normal,
    mirrors_user_version: false,
};

/// Default quota: keys one plugin may hold.
pub const DEFAULT_MAX_KEYS: u64 = trailwarden_runtime::limits::DEFAULT_RATE_MAX_KEYS;
/// Keys kept in memory across all plugins before the cache is written back and emptied.
const CACHE_ENTRIES: usize = 100_000;
/// Share of a full plugin's keys evicted at once (1/16), so a flood does not evict per call.
const EVICTION_DIVISOR: u64 = 16;
/// The deviation never counts as less than this many calls a minute, so a key that was
/// always quiet (deviation 0) is not anomalous at its second call.
pub const MIN_DEVIATION: f64 = 1.0;
/// The shortest history: an hour.
pub const MIN_HISTORY_SECONDS: u32 = 3_600;

/// The question and its answer belong to the sandbox (WIT 0.5.0 `baseline`); the store answers.
pub use trailwarden_runtime::{RateInfo, RateQuery};

#[derive(Debug, Clone, Copy, PartialEq)]
struct KeyRate {
    first_seen: i64,
    minute: i64,
    count: u64,
    mean: f64,
    variance: f64,
    /// 1 - (1-alpha)^minutes folded: mean and variance start at 0, so they are divided by
    /// it (bias correction) until the history is long enough to fill the average.
    weight: f64,
    in_burst: bool,
}

impl KeyRate {
    /// The bias-corrected mean and deviation of the minutes folded so far (0 before any).
    fn baseline(&self) -> (f64, f64) {
        if self.weight <= 0.0 {
            return (0.0, 0.0);
        }
        (
            self.mean / self.weight,
            (self.variance.max(0.0) / self.weight).sqrt(),
        )
    }

    /// Folds the minutes from `self.minute` up to (not including) `minute` into the baseline:
    /// the current one with its count, then the quiet ones in closed form.
    fn advance_to(&mut self, minute: i64, alpha: f64, threshold: f64, min_count: u32) {
        if minute <= self.minute {
            return;
        }
        // The minute that closes: did it end the incident?
        let (mean, deviation) = self.baseline();
        let closed_score = score(self.count, mean, deviation);
        if self.in_burst && !(closed_score >= threshold && self.count >= u64::from(min_count)) {
            self.in_burst = false;
        }
        fold(&mut self.mean, &mut self.variance, self.count as f64, alpha);
        self.weight = (1.0 - alpha) * self.weight + alpha;
        let quiet = minute - self.minute - 1;
        if quiet > 0 {
            // k zero minutes: mean' = m (1-a)^k, var' = (1-a)^k (v + m^2 (1 - (1-a)^k)).
            let decay = (1.0 - alpha).powf(quiet as f64);
            self.variance = decay * (self.variance + self.mean * self.mean * (1.0 - decay));
            self.mean *= decay;
            self.weight = 1.0 - decay * (1.0 - self.weight);
            // A quiet minute ends any incident.
            self.in_burst = false;
        }
        self.minute = minute;
        self.count = 0;
    }
}

/// One exponentially weighted update of mean and variance with observation `x`.
fn fold(mean: &mut f64, variance: &mut f64, x: f64, alpha: f64) {
    let diff = x - *mean;
    let increment = alpha * diff;
    *mean += increment;
    *variance = (1.0 - alpha) * (*variance + diff * increment);
}

fn score(count: u64, mean: f64, deviation: f64) -> f64 {
    (count as f64 - mean) / deviation.max(MIN_DEVIATION)
}

type Key = [u8; 16];

/// Shared handle to the rate table; cheap to clone into each plugin's store.
#[derive(Clone)]
pub struct RateStore {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    conn: Connection,
    cache: HashMap<(Arc<str>, Key), KeyRate>,
    dirty: HashSet<(Arc<str>, Key)>,
    /// Keys per plugin, counted from the table on first use, then kept up to date.
    keys: HashMap<Arc<str>, u64>,
    evicted: HashMap<Arc<str>, u64>,
}

impl RateStore {
    /// Opens the rate table in the database at `path` (normally the audit database).
    ///
    /// # Errors
    /// The database cannot be opened or the table created.
    pub fn open(path: &Path) -> Result<RateStore> {
        Self::init(trailwarden_store::open(path, &STORE_SCHEMA)?)
    }

    /// A rate store that lives only as long as the process (fixtures, canaries).
    ///
    /// # Errors
    /// The table cannot be created.
    pub fn in_memory() -> Result<RateStore> {
        Self::init(trailwarden_store::open_in_memory(&STORE_SCHEMA)?)
    }

    fn init(conn: Connection) -> Result<RateStore> {
        Ok(RateStore {
            inner: Arc::new(Mutex::new(Inner {
                conn,
                cache: HashMap::new(),
                dirty: HashSet::new(),
                keys: HashMap::new(),
                evicted: HashMap::new(),
            })),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one call of `query.key` at `now` (event time, seconds) and compares its
    /// minute with the key's baseline.
    ///
    /// # Errors
    /// [`HistoryError::Invalid`] for input over its limits; any other error is the database's.
    pub fn rate(
        &self,
        plugin: &Arc<str>,
        query: &RateQuery<'_>,
        now: i64,
        max_keys: u64,
    ) -> Result<RateInfo> {
        check_query(query)?;
        let key = rate_key(query.account, query.rule, query.key);
        let minute = now.div_euclid(60);
        let alpha = 60.0 / f64::from(query.history_seconds);
        let mut inner = self.lock();
        let existing = inner.key_rate(plugin, key)?;
        let mut rate = match existing {
            Some(mut rate) => {
                rate.advance_to(minute, alpha, query.threshold, query.min_count);
                rate
            }
            None => {
                inner.make_room(plugin, max_keys)?;
                *inner.keys.entry(plugin.clone()).or_default() += 1;
                KeyRate {
                    first_seen: now,
                    minute,
                    count: 0,
                    mean: 0.0,
                    variance: 0.0,
                    weight: 0.0,
                    in_burst: false,
                }
            }
        };
        // An event older than the key's minute counts in the current one.
        rate.count += 1;
        let (mean, deviation) = rate.baseline();
        let score = score(rate.count, mean, deviation);
        let learning = now
            < rate
                .first_seen
                .saturating_add(i64::from(query.learning_seconds));
        let anomalous =
            !learning && score >= query.threshold && rate.count >= u64::from(query.min_count);
        let burst_start = anomalous && !rate.in_burst;
        if anomalous {
            rate.in_burst = true;
        }
        inner.remember(plugin, key, rate)?;
        Ok(RateInfo {
            anomalous,
            burst_start,
            learning,
            count: rate.count,
            mean,
            deviation,
            score,
        })
    }

    /// Keys stored for `plugin`.
    ///
    /// # Errors
    /// The read fails.
    pub fn stored_keys(&self, plugin: &str) -> Result<u64> {
        let mut inner = self.lock();
        inner.write_back()?;
        let rows: i64 = inner.conn.query_row(
            "SELECT COUNT(*) FROM plugin_rates WHERE plugin = ?1",
            params![plugin],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(rows).unwrap_or(0))
    }

    /// Keys evicted from `plugin`'s rates at its quota since the process started.
    pub fn evicted(&self, plugin: &str) -> u64 {
        self.lock().evicted.get(plugin).copied().unwrap_or(0)
    }

    /// Writes the keys the batch changed, in one transaction.
    ///
    /// # Errors
    /// The write fails.
    pub fn commit(&self) -> Result<()> {
        self.lock().write_dirty()
    }

    /// Writes every changed key, then empties the cache.
    ///
    /// # Errors
    /// The write fails.
    pub fn flush(&self) -> Result<()> {
        self.lock().write_back()
    }
}

impl Inner {
    fn key_rate(&mut self, plugin: &Arc<str>, key: Key) -> Result<Option<KeyRate>> {
        if let Some(rate) = self.cache.get(&(plugin.clone(), key)) {
            return Ok(Some(*rate));
        }
        Ok(self
            .conn
            .prepare_cached(
                "SELECT first_seen, minute, count, mean, variance, weight, in_burst FROM plugin_rates
                 WHERE plugin = ?1 AND key = ?2",
            )?
            .query_row(params![&**plugin, &key[..]], |row| {
                Ok(KeyRate {
                    first_seen: row.get(0)?,
                    minute: row.get(1)?,
                    count: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                    mean: row.get(3)?,
                    variance: row.get(4)?,
                    weight: row.get(5)?,
                    in_burst: row.get(6)?,
                })
            })
            .optional()?)
    }

    fn remember(&mut self, plugin: &Arc<str>, key: Key, rate: KeyRate) -> Result<()> {
        if self.cache.len() >= CACHE_ENTRIES {
            self.write_back()?;
        }
        self.cache.insert((plugin.clone(), key), rate);
        self.dirty.insert((plugin.clone(), key));
        Ok(())
    }

    fn write_dirty(&mut self) -> Result<()> {
        if self.dirty.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO plugin_rates
                    (plugin, key, first_seen, minute, count, mean, variance, weight, in_burst)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for id in &self.dirty {
                if let Some(rate) = self.cache.get(id) {
                    insert.execute(params![
                        &*id.0,
                        &id.1[..],
                        rate.first_seen,
                        rate.minute,
                        i64::try_from(rate.count).unwrap_or(i64::MAX),
                        rate.mean,
                        rate.variance,
                        rate.weight,
                        rate.in_burst,
                    ])?;
                }
            }
        }
        tx.commit()?;
        self.dirty.clear();
        Ok(())
    }

    fn write_back(&mut self) -> Result<()> {
        self.write_dirty()?;
        self.cache.clear();
        Ok(())
    }

    /// At the key quota: evict the least recently seen sixteenth (logged and counted).
    fn make_room(&mut self, plugin: &Arc<str>, max_keys: u64) -> Result<()> {
        let keys = match self.keys.get(plugin) {
            Some(keys) => *keys,
            None => {
                let keys = self.count_keys(plugin)?;
                self.keys.insert(plugin.clone(), keys);
                keys
            }
        };
        if keys < max_keys {
            return Ok(());
        }
        self.write_back()?;
        let evict = (max_keys / EVICTION_DIVISOR).max(1) + keys.saturating_sub(max_keys);
        let evicted = self.conn.execute(
            "DELETE FROM plugin_rates WHERE plugin = ?1 AND key IN (
                 SELECT key FROM plugin_rates WHERE plugin = ?1 ORDER BY minute LIMIT ?2)",
            params![&**plugin, i64::try_from(evict).unwrap_or(i64::MAX)],
        )? as u64;
        *self.evicted.entry(plugin.clone()).or_default() += evicted;
        tracing::warn!(
            plugin = &**plugin,
            evicted,
            quota = max_keys,
            "rate quota reached: the least recently seen keys were evicted (they learn again); \
             raise rate_max_keys"
        );
        let keys = self.count_keys(plugin)?;
        self.keys.insert(plugin.clone(), keys);
        Ok(())
    }

    fn count_keys(&self, plugin: &Arc<str>) -> Result<u64> {
        let rows: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM plugin_rates WHERE plugin = ?1",
            params![&**plugin],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(rows).unwrap_or(0))
    }
}

fn check_query(query: &RateQuery<'_>) -> Result<(), HistoryError> {
    let invalid = |text: String| Err(HistoryError::Invalid(text));
    if query.account.len() > MAX_ACCOUNT_BYTES {
        return invalid(format!("account is over {MAX_ACCOUNT_BYTES} bytes"));
    }
    if query.key.is_empty() || query.key.len() > MAX_TUPLE_VALUES {
        return invalid(format!("a key has 1 to {MAX_TUPLE_VALUES} values"));
    }
    let bytes = query.rule.len() + query.key.iter().map(String::len).sum::<usize>();
    if bytes > MAX_TUPLE_BYTES {
        return invalid(format!("rule and key are over {MAX_TUPLE_BYTES} bytes"));
    }
    if !(MIN_HISTORY_SECONDS..=MAX_PERIOD_SECONDS).contains(&query.history_seconds) {
        return invalid(format!(
            "history-seconds must be {MIN_HISTORY_SECONDS} to {MAX_PERIOD_SECONDS}"
        ));
    }
    if query.learning_seconds > MAX_PERIOD_SECONDS {
        return invalid(format!(
            "learning-seconds must be at most {MAX_PERIOD_SECONDS}"
        ));
    }
    if !query.threshold.is_finite() || query.threshold <= 0.0 {
        return invalid("threshold must be a positive number".into());
    }
    Ok(())
}

/// 16 bytes of sha256 over (account, rule, values), each length-prefixed.
fn rate_key(account: &str, rule: &str, values: &[String]) -> Key {
    let mut hash = Sha256::new();
    for part in std::iter::once(account)
        .chain(std::iter::once(rule))
        .chain(values.iter().map(String::as_str))
    {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn query<'a>(key: &'a [String], learning_seconds: u32) -> RateQuery<'a> {
        RateQuery {
            account: "111122223333",
            rule: "call-rate",
            key,
            history_seconds: 7 * 86_400,
            learning_seconds,
            threshold: 6.0,
            min_count: 20,
        }
    }

    /// A week of 2 calls every minute, then `burst` calls in one minute.
    fn week_then_burst(store: &RateStore, plugin: &Arc<str>, burst: u64) -> Vec<RateInfo> {
        let key = vec!["arn:aws:iam::111122223333:user/alice".to_string()];
        let start = 1_700_000_000 - 1_700_000_000 % 60;
        for minute in 0..(7 * DAY / 60) {
            for _ in 0..2 {
                let info = store
                    .rate(plugin, &query(&key, 86_400), start + minute * 60, 1000)
                    .unwrap();
                assert!(
                    !info.anomalous,
                    "steady traffic at minute {minute}: {info:?}"
                );
            }
        }
        let at = start + 7 * DAY + 600;
        (0..burst)
            .map(|i| {
                store
                    .rate(plugin, &query(&key, 86_400), at + (i as i64 % 60), 1000)
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn a_burst_against_a_steady_week_is_anomalous_once_per_incident() {
        let store = RateStore::in_memory().unwrap();
        let plugin: Arc<str> = Arc::from("p");
        let answers = week_then_burst(&store, &plugin, 60);
        let starts = answers.iter().filter(|a| a.burst_start).count();
        assert_eq!(starts, 1, "one incident, one start: {:?}", answers.last());
        let first = answers.iter().position(|a| a.anomalous).unwrap();
        // The baseline is ~2/minute with a deviation under 1: floor 1, threshold 6, min 20.
        assert_eq!(answers[first].count, 20);
        assert!(
            (answers[first].mean - 2.0).abs() < 0.1,
            "{:?}",
            answers[first]
        );
        assert!(answers[first].score >= 6.0);
    }

    #[test]
    fn steady_rates_after_learning_are_not_anomalous_and_learning_never_is() {
        let store = RateStore::in_memory().unwrap();
        let plugin: Arc<str> = Arc::from("p");
        let key = vec!["bob".to_string()];
        // A burst on the key's first day: learning, not anomalous.
        for i in 0..100 {
            let info = store
                .rate(&plugin, &query(&key, 86_400), 1_000_000 + i, 1000)
                .unwrap();
            assert!(info.learning && !info.anomalous, "{info:?}");
        }
        // Two minutes later, the key has no baseline of its own yet but is still learning.
        let info = store
            .rate(&plugin, &query(&key, 86_400), 1_000_200, 1000)
            .unwrap();
        assert!(info.learning);
    }

    #[test]
    fn a_new_incident_after_a_quiet_minute_starts_again() {
        let store = RateStore::in_memory().unwrap();
        let plugin: Arc<str> = Arc::from("p");
        let key = vec!["carol".to_string()];
        let q = query(&key, 0);
        let start = 60 * 1_000_000;
        let mut starts = 0;
        for burst in 0..2 {
            let at = start + burst * 3600;
            for i in 0..30 {
                let info = store.rate(&plugin, &q, at + i, 1000).unwrap();
                starts += usize::from(info.burst_start);
            }
        }
        assert_eq!(starts, 2, "two bursts an hour apart are two incidents");
    }

    #[test]
    fn quiet_minutes_fold_in_closed_form_as_one_by_one() {
        let alpha = 60.0 / (7.0 * 86_400.0);
        let (mut m1, mut v1) = (3.0, 2.0);
        for _ in 0..500 {
            fold(&mut m1, &mut v1, 0.0, alpha);
        }
        let mut rate = KeyRate {
            first_seen: 0,
            minute: 0,
            count: 3,
            mean: 3.0,
            variance: 2.0,
            weight: 1.0,
            in_burst: false,
        };
        // Folding minute 0 (count 3 = the mean) then 500 quiet minutes.
        rate.advance_to(501, alpha, 6.0, 20);
        let (mut m2, mut v2) = (3.0, 2.0);
        fold(&mut m2, &mut v2, 3.0, alpha);
        for _ in 0..500 {
            fold(&mut m2, &mut v2, 0.0, alpha);
        }
        assert!((rate.mean - m2).abs() < 1e-9, "{} vs {m2}", rate.mean);
        assert!(
            (rate.variance - v2).abs() < 1e-9,
            "{} vs {v2}",
            rate.variance
        );
        let _ = (m1, v1);
    }

    #[test]
    fn keys_are_bounded_with_eviction_of_the_least_recent_and_bad_input_refused() {
        let store = RateStore::in_memory().unwrap();
        let plugin: Arc<str> = Arc::from("hostile");
        for i in 0..200 {
            let key = vec![format!("k{i}")];
            store
                .rate(&plugin, &query(&key, 0), 60 * (1000 + i), 64)
                .unwrap();
        }
        store.commit().unwrap();
        assert!(store.stored_keys("hostile").unwrap() <= 64);
        assert!(store.evicted("hostile") > 0);
        let key = vec!["x".to_string()];
        let mut bad = query(&key, 0);
        bad.history_seconds = 10;
        let error = store.rate(&plugin, &bad, 0, 64).unwrap_err();
        assert!(error.to_string().contains("history-seconds"), "{error}");
        let empty: Vec<String> = Vec::new();
        assert!(store.rate(&plugin, &query(&empty, 0), 0, 64).is_err());
    }
}
