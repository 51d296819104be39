//! What one plugin may consume: per batch (memory, CPU, output, capability calls) and in the
//! host's stores (state, first-seen history, rate baselines). The config fills these in;
//! the sandbox and the stores enforce them.

/// Defaults chosen to stop a runaway plugin quickly without starving a busy one.
pub const DEFAULT_MEMORY_LIMIT_MB: u64 = 64;
pub const DEFAULT_CPU_DEADLINE_MS: u64 = 2_000;
pub const DEFAULT_MAX_FINDINGS_PER_BATCH: usize = 10_000;

/// Default state quota of one plugin: keys held at once.
pub const DEFAULT_STATE_MAX_KEYS: u64 = 100_000;
/// Default state quota of one plugin: bytes of keys and values held at once.
pub const DEFAULT_STATE_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Default history quota: tuples one plugin may hold.
pub const DEFAULT_HISTORY_MAX_ROWS: u64 = 1_000_000;
/// Default history quota: accounts one plugin may have seen.
pub const DEFAULT_HISTORY_MAX_ACCOUNTS: u64 = 10_000;
/// Default rate quota: keys one plugin's rate baselines may hold.
pub const DEFAULT_RATE_MAX_KEYS: u64 = 200_000;

/// What one plugin may consume per batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginLimits {
    pub memory_bytes: u64,
    pub cpu_deadline_ms: u64,
    pub max_findings_per_batch: usize,
    /// Findings one event may raise; beyond it the batch fails as `output_too_large`.
    pub max_findings_per_event: usize,
    /// Capability calls one event may cause; beyond it they are denied.
    pub max_calls_per_event: u32,
    /// Bytes of text a batch may return in findings.
    pub max_output_bytes: usize,
    /// What the plugin's host state may hold.
    pub state: StateQuota,
    /// What the plugin's first-seen history may hold.
    pub history: HistoryQuota,
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self {
            memory_bytes: DEFAULT_MEMORY_LIMIT_MB * 1024 * 1024,
            cpu_deadline_ms: DEFAULT_CPU_DEADLINE_MS,
            max_findings_per_batch: DEFAULT_MAX_FINDINGS_PER_BATCH,
            max_findings_per_event: 20,
            max_calls_per_event: 10,
            max_output_bytes: 8 * 1024 * 1024,
            state: StateQuota::default(),
            history: HistoryQuota::default(),
        }
    }
}

/// How much state one plugin may hold (expired rows not counted once purged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateQuota {
    pub max_keys: u64,
    pub max_bytes: u64,
}

impl Default for StateQuota {
    fn default() -> Self {
        StateQuota {
            max_keys: DEFAULT_STATE_MAX_KEYS,
            max_bytes: DEFAULT_STATE_MAX_BYTES,
        }
    }
}

impl StateQuota {
    /// Whether a plugin holding `keys` keys of `bytes` bytes is within the quota.
    pub fn allows(self, (keys, bytes): (u64, u64)) -> bool {
        keys <= self.max_keys && bytes <= self.max_bytes
    }
}

/// A write refused because the plugin's state is at its quota (after purging expired rows).
/// The sandbox names the failure that follows `state_quota_exceeded` when a store's error is
/// this one.
#[derive(Debug)]
pub struct QuotaExceeded {
    pub plugin: String,
    pub keys: u64,
    pub bytes: u64,
    pub quota: StateQuota,
}

impl std::fmt::Display for QuotaExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "state quota exceeded: plugin {} holds {} keys and {} bytes; its quota is {} keys \
             and {} bytes (delete keys or give them a TTL)",
            self.plugin, self.keys, self.bytes, self.quota.max_keys, self.quota.max_bytes
        )
    }
}

impl std::error::Error for QuotaExceeded {}

/// How much history one plugin may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuota {
    pub max_rows: u64,
    pub max_accounts: u64,
    /// Keys the plugin's rate baselines may hold (WIT 0.5.0 `baseline`).
    pub max_rate_keys: u64,
}

impl Default for HistoryQuota {
    fn default() -> Self {
        HistoryQuota {
            max_rows: DEFAULT_HISTORY_MAX_ROWS,
            max_accounts: DEFAULT_HISTORY_MAX_ACCOUNTS,
            max_rate_keys: DEFAULT_RATE_MAX_KEYS,
        }
    }
}
