//! What the response side needs to know that is not per plugin: where and as whom to act on
//! AWS, the notification targets and buses, how executors retry, the config's suppressions.
//! Owned here (the config module builds it from `trailwarden.toml`), so nothing in
//! `respond` imports the config module.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::notify_target::NotifyTarget;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBridgeTarget {
    /// Bus name or ARN.
    pub event_bus: String,
}

/// How the outbox's executors retry.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorSettings {
    pub max_attempts: u32,
    /// First retry delay; doubles on each attempt, capped at five minutes.
    pub backoff_ms: u64,
    /// Delay before the executors start, in milliseconds (lets tests crash a run in between).
    pub start_delay_ms: u64,
}

impl Default for ExecutorSettings {
    fn default() -> Self {
        ExecutorSettings {
            max_attempts: 5,
            backoff_ms: 1_000,
            start_delay_ms: 0,
        }
    }
}

/// Everything about acting on AWS that is not per plugin.
#[derive(Debug, Clone, Default)]
pub struct ResponseSettings {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    /// ARN globs of trailwarden's own principals: their events are marked self-caused.
    pub self_principals: Vec<String>,
    /// Account -> role ARN to assume for actions there.
    pub assume_role: BTreeMap<String, String>,
    pub platform_account: Option<String>,
    pub notify: BTreeMap<String, NotifyTarget>,
    /// `[console] public_url`, without a trailing slash.
    pub public_url: Option<String>,
    pub eventbridge: BTreeMap<String, EventBridgeTarget>,
    pub executor: ExecutorSettings,
    /// `self_principals` as written, before their `*` accounts were expanded (account
    /// discovery expands them again).
    pub self_principal_patterns: Vec<String>,
    /// `[aws] discover_accounts`: see `organizations`.
    pub discover_accounts: bool,
    /// The config's `[[suppressions]]` (the CLI's are in the database).
    pub suppressions: Vec<crate::suppress::Suppression>,
}
