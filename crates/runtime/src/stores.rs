//! What a plugin's imports read and write outside its instance: its key-value state, its
//! first-seen history (WIT 0.4.0 `history`) and its rate baselines (0.5.0 `baseline`). The
//! host keeps them (in SQLite); the sandbox reaches them only through [`PluginStores`], so it
//! knows the questions and their limits but not how the answers are kept.

use std::sync::Arc;

use crate::limits::{HistoryQuota, StateQuota};

/// The host's stores as the sandbox uses them, for every plugin (each call names its plugin).
/// Clocks are the batch's event clock, seconds since the epoch.
pub trait PluginStores: Send + Sync + 'static {
    /// A key's live value.
    ///
    /// # Errors
    /// The read fails.
    fn state_get(&self, plugin: &str, key: &str, now: i64) -> anyhow::Result<Option<String>>;

    /// Writes a key (with a TTL in seconds, if any).
    ///
    /// # Errors
    /// Over a size limit, at the quota ([`crate::QuotaExceeded`]), or the write fails.
    fn state_set(
        &self,
        plugin: &str,
        key: &str,
        value: &str,
        ttl: Option<u32>,
        now: i64,
        quota: StateQuota,
    ) -> anyhow::Result<()>;

    /// Deletes a key.
    ///
    /// # Errors
    /// The write fails.
    fn state_delete(&self, plugin: &str, key: &str) -> anyhow::Result<()>;

    /// Adds `delta` to an integer key and answers its new value.
    ///
    /// # Errors
    /// As for [`PluginStores::state_set`].
    fn state_increment(
        &self,
        plugin: &str,
        key: &str,
        delta: i64,
        ttl: Option<u32>,
        now: i64,
        quota: StateQuota,
    ) -> anyhow::Result<i64>;

    /// Records a sighting and says whether it was new.
    ///
    /// # Errors
    /// [`HistoryError`] for a question the contract refuses; any other error is the store's
    /// (and traps the plugin).
    fn first_seen(
        &self,
        plugin: &Arc<str>,
        query: &SeenQuery<'_>,
        now: i64,
        quota: HistoryQuota,
    ) -> anyhow::Result<SeenInfo>;

    /// Counts a call in its key's current minute and says whether the minute is anomalous.
    ///
    /// # Errors
    /// As for [`PluginStores::first_seen`].
    fn rate(
        &self,
        plugin: &Arc<str>,
        query: &RateQuery<'_>,
        now: i64,
        max_keys: u64,
    ) -> anyhow::Result<RateInfo>;

    /// Makes a batch's sightings and rates durable, once, after the batch.
    ///
    /// # Errors
    /// The write fails.
    fn commit_history(&self) -> anyhow::Result<()>;

    /// Makes a batch's state writes durable, in one transaction, after the batch (until
    /// then they are pending, seen by reads).
    ///
    /// # Errors
    /// The write fails.
    fn commit_state(&self) -> anyhow::Result<()>;

    /// Stores of the same kind that keep nothing: canary runs of a new version's fixtures must
    /// not touch the plugins' real state.
    ///
    /// # Errors
    /// They cannot be created.
    fn scratch(&self) -> anyhow::Result<Self>
    where
        Self: Sized;
}

/// Why a history or rate question was not answered (the WIT `history-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryError {
    Invalid(String),
    QuotaExceeded(String),
}

impl std::fmt::Display for HistoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HistoryError::Invalid(text) | HistoryError::QuotaExceeded(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for HistoryError {}

/// One first-seen question.
#[derive(Debug, Clone, Copy)]
pub struct SeenQuery<'a> {
    pub account: &'a str,
    pub rule: &'a str,
    pub tuple: &'a [String],
    pub window_seconds: u32,
    pub learning_seconds: u32,
}

/// The answer (the WIT `seen-info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenInfo {
    pub new: bool,
    pub learning: bool,
    pub first_seen: i64,
    pub last_seen: i64,
    pub count: u64,
}

/// One rate question.
#[derive(Debug, Clone, Copy)]
pub struct RateQuery<'a> {
    pub account: &'a str,
    pub rule: &'a str,
    pub key: &'a [String],
    /// The baseline's time constant, seconds.
    pub history_seconds: u32,
    /// The key answers `learning` this long after its first sighting.
    pub learning_seconds: u32,
    /// Deviations above the mean that make a minute anomalous.
    pub threshold: f64,
    /// Calls the minute must hold to be anomalous.
    pub min_count: u32,
}

/// The answer (the WIT `rate-info`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateInfo {
    pub anomalous: bool,
    /// First anomalous answer of this incident.
    pub burst_start: bool,
    pub learning: bool,
    /// Calls in the current minute, this one included.
    pub count: u64,
    pub mean: f64,
    pub deviation: f64,
    /// `(count - mean) / max(deviation, MIN_DEVIATION)`.
    pub score: f64,
}
