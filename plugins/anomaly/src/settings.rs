//! The plugin's config (its `config` table), read once per batch, with the defaults.

use trailwarden_plugin_sdk::Config;

/// Default `window_days`: a tuple not seen for that long is new again.
pub const DEFAULT_WINDOW_DAYS: u64 = 30;
/// Default `learning_days`: for that long after the plugin first sees an account, nothing
/// there is new (its history is being learnt).
pub const DEFAULT_LEARNING_DAYS: u64 = 7;
/// Default `rate_history_days`: the baselines' time constant.
pub const DEFAULT_RATE_HISTORY_DAYS: u64 = 7;
/// Default `rate_learning_days`: a key is never anomalous that long after its first call.
pub const DEFAULT_RATE_LEARNING_DAYS: u64 = 1;
/// Default `rate_threshold`: deviations above the key's mean.
pub const DEFAULT_RATE_THRESHOLD: f64 = 6.0;
/// Default `call_burst_min`: calls a minute before a principal's call rate can be a burst.
pub const DEFAULT_CALL_BURST_MIN: u64 = 100;
/// Default `error_burst_min`: failed calls a minute before an error rate can be a burst.
pub const DEFAULT_ERROR_BURST_MIN: u64 = 20;
/// Default `signin_failure_burst_min`: failed console sign-ins of one user a minute.
pub const DEFAULT_SIGNIN_FAILURE_BURST_MIN: u64 = 5;
/// Default `secrets_burst_min`: secret retrievals a minute by one principal.
pub const DEFAULT_SECRETS_BURST_MIN: u64 = 10;

const DAY: u64 = 86_400;
/// Periods are capped below the host's 400-day limit.
const MAX_DAYS: u64 = 365;

/// The settings of one batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub window_days: u64,
    pub learning_days: u64,
    pub rate_history_days: u64,
    pub rate_learning_days: u64,
    pub rate_threshold: f64,
    pub call_burst_min: u32,
    pub error_burst_min: u32,
    pub signin_failure_burst_min: u32,
    pub secrets_burst_min: u32,
    /// `sensitive_apis`: `service:EventName` entries (e.g. `secretsmanager:GetSecretValue`),
    /// default [`crate::DEFAULT_SENSITIVE_APIS`].
    pub sensitive_apis: Vec<String>,
    /// `enabled_rules`: the rule ids that run (default all).
    pub enabled_rules: Option<Vec<String>>,
}

impl Settings {
    /// The settings in `config`, defaults for what it does not set or sets out of range.
    pub fn from_config(config: &Config) -> Settings {
        let days = |key: &str, default: u64| config.u64(key).unwrap_or(default).min(MAX_DAYS);
        let count = |key: &str, default: u64| {
            u32::try_from(config.u64(key).unwrap_or(default).max(1)).unwrap_or(u32::MAX)
        };
        let strings = |key: &str| {
            config.get(key).and_then(|v| v.as_array()).map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str())
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
        };
        Settings {
            window_days: days("window_days", DEFAULT_WINDOW_DAYS).max(1),
            learning_days: days("learning_days", DEFAULT_LEARNING_DAYS),
            rate_history_days: days("rate_history_days", DEFAULT_RATE_HISTORY_DAYS).max(1),
            rate_learning_days: days("rate_learning_days", DEFAULT_RATE_LEARNING_DAYS),
            rate_threshold: config
                .get("rate_threshold")
                .and_then(|v| v.as_f64())
                .filter(|t| t.is_finite() && *t > 0.0)
                .unwrap_or(DEFAULT_RATE_THRESHOLD),
            call_burst_min: count("call_burst_min", DEFAULT_CALL_BURST_MIN),
            error_burst_min: count("error_burst_min", DEFAULT_ERROR_BURST_MIN),
            signin_failure_burst_min: count(
                "signin_failure_burst_min",
                DEFAULT_SIGNIN_FAILURE_BURST_MIN,
            ),
            secrets_burst_min: count("secrets_burst_min", DEFAULT_SECRETS_BURST_MIN),
            sensitive_apis: strings("sensitive_apis").unwrap_or_else(|| {
                crate::DEFAULT_SENSITIVE_APIS
                    .iter()
                    .map(|(api, _)| (*api).to_owned())
                    .collect()
            }),
            enabled_rules: strings("enabled_rules"),
        }
    }

    /// Whether the rule `id` runs.
    pub fn enabled(&self, id: &str) -> bool {
        self.enabled_rules
            .as_ref()
            .is_none_or(|ids| ids.iter().any(|i| i == id))
    }

    /// Whether `service:name` is on the sensitive list.
    pub fn is_sensitive(&self, service: &str, name: &str) -> bool {
        self.sensitive_apis.iter().any(|api| {
            api.split_once(':')
                .is_some_and(|(s, n)| s == service && n == name)
        })
    }

    pub fn window_seconds(&self) -> u32 {
        seconds(self.window_days)
    }

    pub fn learning_seconds(&self) -> u32 {
        seconds(self.learning_days)
    }

    pub fn rate_history_seconds(&self) -> u32 {
        seconds(self.rate_history_days)
    }

    pub fn rate_learning_seconds(&self) -> u32 {
        seconds(self.rate_learning_days)
    }
}

fn seconds(days: u64) -> u32 {
    u32::try_from(days * DAY).unwrap_or(u32::MAX)
}
