//! What a plugin's store holds, and the host side of every import of every contract
//! version: `log`, `state`, `config`, the capability interfaces of 0.2.0, 0.4.0's `history`,
//! 0.5.0's `baseline` and 0.6.0's `iam`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_actions::{Action, PrincipalKind};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{v1, v2, v4, v5, v6};
use super::capability::{finding_value, CapabilityCall, CapabilityHandler};
use super::convert;
use crate::limits::{HistoryQuota, QuotaExceeded, StateQuota};
use crate::stores::{HistoryError, PluginStores, RateQuery, SeenQuery};

/// Log lines longer than this are cut, so a plugin cannot flood the host's logs.
const MAX_LOG_LINE: usize = 4096;
/// Log lines per batch beyond which the rest are counted, not written.
const MAX_LOG_LINES_PER_BATCH: u32 = 1000;
/// Capability calls per batch beyond which the plugin is trapped (a runaway loop).
const MAX_CAPABILITY_CALLS_PER_BATCH: u32 = 10_000;

/// The data of one plugin instance's store.
pub struct HostState {
    plugin: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limiter: MemoryLimiter,
    /// The host's state, history and rate stores.
    stores: Arc<dyn PluginStores>,
    /// Seconds since the epoch by event time: the clock of the state TTLs.
    clock: i64,
    log_lines: u32,
    settings_json: Arc<str>,
    capabilities: Box<dyn CapabilityHandler>,
    capability_calls: u32,
    calls_per_event: std::collections::HashMap<String, u32>,
    max_calls_per_event: u32,
    /// When the batch's CPU deadline passes: no blocking WASI wait lasts beyond it.
    wait_deadline: Instant,
    /// A blocking WASI wait was cut at the deadline (the trap that follows is a timeout).
    pub(super) timed_out_waiting: bool,
    state_quota: StateQuota,
    /// A state write was refused at the plugin's quota (the trap that follows says so).
    pub(super) state_quota_exceeded: bool,
    history_quota: HistoryQuota,
}

/// What a store is created with.
pub struct StoreSetup {
    pub plugin: Arc<str>,
    pub memory_limit: usize,
    pub stores: Arc<dyn PluginStores>,
    pub clock: i64,
    pub settings_json: Arc<str>,
    pub capabilities: Box<dyn CapabilityHandler>,
    pub max_calls_per_event: u32,
    /// The batch's deadline, the same as the store's epoch deadline.
    pub deadline: Duration,
    pub state_quota: StateQuota,
    pub history_quota: HistoryQuota,
}

impl HostState {
    pub fn new(setup: StoreSetup) -> Self {
        // Deny by default: no preopened folders, no environment, no arguments, no sockets,
        // stdio closed or discarded.
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        HostState {
            plugin: setup.plugin,
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(setup.memory_limit),
            stores: setup.stores,
            clock: setup.clock,
            log_lines: 0,
            settings_json: setup.settings_json,
            capabilities: setup.capabilities,
            capability_calls: 0,
            calls_per_event: std::collections::HashMap::new(),
            max_calls_per_event: setup.max_calls_per_event,
            wait_deadline: Instant::now() + setup.deadline,
            timed_out_waiting: false,
            state_quota: setup.state_quota,
            state_quota_exceeded: false,
            history_quota: setup.history_quota,
        }
    }

    /// When blocking WASI waits must end.
    pub(super) fn wait_deadline(&self) -> Instant {
        self.wait_deadline
    }

    /// The WASI resource table and the flag a cut wait sets, borrowed together.
    pub(super) fn table_and_timeout_flag(&mut self) -> (&mut ResourceTable, &mut bool) {
        (&mut self.table, &mut self.timed_out_waiting)
    }

    /// Log lines the plugin wrote beyond the per-batch allowance.
    pub fn suppressed_log_lines(&self) -> u32 {
        self.log_lines.saturating_sub(MAX_LOG_LINES_PER_BATCH)
    }

    fn write_log(&mut self, level: tracing::Level, message: &str) {
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES_PER_BATCH {
            return;
        }
        let message = truncate(message, MAX_LOG_LINE);
        let plugin = &*self.plugin;
        match level {
            tracing::Level::TRACE => tracing::trace!(plugin, "{message}"),
            tracing::Level::DEBUG => tracing::debug!(plugin, "{message}"),
            tracing::Level::INFO => tracing::info!(plugin, "{message}"),
            tracing::Level::WARN => tracing::warn!(plugin, "{message}"),
            _ => tracing::error!(plugin, "{message}"),
        }
    }

    fn state_get(&mut self, key: &str) -> wasmtime::Result<Option<String>> {
        self.stores
            .state_get(&self.plugin, key, self.clock)
            .map_err(wasmtime::Error::from_anyhow)
    }

    fn state_set(&mut self, key: &str, value: &str, ttl: Option<u32>) -> wasmtime::Result<()> {
        let written =
            self.stores
                .state_set(&self.plugin, key, value, ttl, self.clock, self.state_quota);
        self.state_result(written)
    }

    /// A refused write traps the guest (the contract's `state` has no error to return),
    /// remembered so the failure is named for what it is.
    fn state_result<T>(&mut self, result: anyhow::Result<T>) -> wasmtime::Result<T> {
        if let Err(error) = &result {
            if error.downcast_ref::<QuotaExceeded>().is_some() {
                self.state_quota_exceeded = true;
            }
        }
        result.map_err(wasmtime::Error::from_anyhow)
    }

    fn state_delete(&mut self, key: &str) -> wasmtime::Result<()> {
        self.stores
            .state_delete(&self.plugin, key)
            .map_err(wasmtime::Error::from_anyhow)
    }

    fn state_increment(
        &mut self,
        key: &str,
        delta: i64,
        ttl: Option<u32>,
    ) -> wasmtime::Result<i64> {
        let written = self.stores.state_increment(
            &self.plugin,
            key,
            delta,
            ttl,
            self.clock,
            self.state_quota,
        );
        self.state_result(written)
    }

    /// Records the batch's capability decisions (see [`CapabilityHandler::finish`]).
    ///
    /// # Errors
    /// They could not be recorded.
    pub fn finish_capabilities(&mut self) -> anyhow::Result<()> {
        self.capabilities.finish()
    }

    fn capability(
        &mut self,
        event_id: String,
        call: CapabilityCall,
    ) -> wasmtime::Result<v2::trailwarden::plugin::types::Receipt> {
        self.capability_calls += 1;
        if self.capability_calls > MAX_CAPABILITY_CALLS_PER_BATCH {
            return Err(wasmtime::format_err!(
                "more than {MAX_CAPABILITY_CALLS_PER_BATCH} capability calls in one batch"
            ));
        }
        let per_event = self.calls_per_event.entry(event_id.clone()).or_default();
        *per_event += 1;
        if *per_event > self.max_calls_per_event {
            return Ok(convert::receipt_to_v2(super::types::Receipt::Denied(
                format!(
                    "more than {} capability calls for event {event_id}",
                    self.max_calls_per_event
                ),
            )));
        }
        let receipt = self
            .capabilities
            .call(&event_id, call)
            .map_err(wasmtime::Error::from_anyhow)?;
        Ok(convert::receipt_to_v2(receipt))
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// `log`, `state` and `types` are the same in every contract version: one implementation,
/// bound to each version's generated traits.
macro_rules! common_imports {
    ($version:ident) => {
        impl $version::trailwarden::plugin::types::Host for HostState {}

        impl $version::trailwarden::plugin::log::Host for HostState {
            fn log(&mut self, level: $version::trailwarden::plugin::log::Level, message: String) {
                use $version::trailwarden::plugin::log::Level;
                let level = match level {
                    Level::Trace => tracing::Level::TRACE,
                    Level::Debug => tracing::Level::DEBUG,
                    Level::Info => tracing::Level::INFO,
                    Level::Warn => tracing::Level::WARN,
                    Level::Error => tracing::Level::ERROR,
                };
                self.write_log(level, &message);
            }
        }

        impl $version::trailwarden::plugin::state::Host for HostState {
            fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
                self.state_get(&key)
            }
            fn set(
                &mut self,
                key: String,
                value: String,
                ttl_seconds: Option<u32>,
            ) -> wasmtime::Result<()> {
                self.state_set(&key, &value, ttl_seconds)
            }
            fn delete(&mut self, key: String) -> wasmtime::Result<()> {
                self.state_delete(&key)
            }
            fn increment(
                &mut self,
                key: String,
                delta: i64,
                ttl_seconds: Option<u32>,
            ) -> wasmtime::Result<i64> {
                self.state_increment(&key, delta, ttl_seconds)
            }
        }
    };
}

common_imports!(v1);
common_imports!(v2);

// --- 0.4.0: history --------------------------------------------------------------------------

type SeenInfo4 = v4::trailwarden::plugin0_4_0::history::SeenInfo;
type HistoryError4 = v4::trailwarden::plugin0_4_0::history::HistoryError;

impl v4::trailwarden::plugin0_4_0::history::Host for HostState {
    /// Answers on the batch's event clock; invalid input and the account quota are the
    /// contract's errors, a database failure traps.
    fn first_seen(
        &mut self,
        account: String,
        rule: String,
        values: Vec<String>,
        window_seconds: u32,
        learning_seconds: u32,
    ) -> wasmtime::Result<Result<SeenInfo4, HistoryError4>> {
        let query = SeenQuery {
            account: &account,
            rule: &rule,
            tuple: &values,
            window_seconds,
            learning_seconds,
        };
        match self
            .stores
            .first_seen(&self.plugin, &query, self.clock, self.history_quota)
        {
            Ok(info) => Ok(Ok(SeenInfo4 {
                new: info.new,
                learning: info.learning,
                first_seen: info.first_seen,
                last_seen: info.last_seen,
                count: info.count,
            })),
            Err(error) => match error.downcast::<HistoryError>() {
                Ok(HistoryError::Invalid(text)) => Ok(Err(HistoryError4::Invalid(text))),
                Ok(HistoryError::QuotaExceeded(text)) => {
                    Ok(Err(HistoryError4::QuotaExceeded(text)))
                }
                Err(error) => Err(wasmtime::Error::from_anyhow(error)),
            },
        }
    }
}

// --- 0.5.0: baseline -------------------------------------------------------------------------

type RateInfo5 = v5::trailwarden::plugin0_5_0::baseline::RateInfo;

impl v5::trailwarden::plugin0_5_0::baseline::Host for HostState {
    /// Answers on the batch's event clock; invalid input is the contract's error, a database
    /// failure traps.
    fn rate(
        &mut self,
        account: String,
        rule: String,
        key: Vec<String>,
        history_seconds: u32,
        learning_seconds: u32,
        threshold: f64,
        min_count: u32,
    ) -> wasmtime::Result<Result<RateInfo5, HistoryError4>> {
        let query = RateQuery {
            account: &account,
            rule: &rule,
            key: &key,
            history_seconds,
            learning_seconds,
            threshold,
            min_count,
        };
        match self.stores.rate(
            &self.plugin,
            &query,
            self.clock,
            self.history_quota.max_rate_keys,
        ) {
            Ok(info) => Ok(Ok(RateInfo5 {
                anomalous: info.anomalous,
                burst_start: info.burst_start,
                learning: info.learning,
                count: info.count,
                mean: info.mean,
                deviation: info.deviation,
                score: info.score,
            })),
            Err(error) => match error.downcast::<HistoryError>() {
                Ok(HistoryError::Invalid(text)) => Ok(Err(HistoryError4::Invalid(text))),
                Ok(HistoryError::QuotaExceeded(text)) => {
                    Ok(Err(HistoryError4::QuotaExceeded(text)))
                }
                Err(error) => Err(wasmtime::Error::from_anyhow(error)),
            },
        }
    }
}

// --- 0.2.0 only: config and the capabilities ----------------------------------------------

type Receipt2 = v2::trailwarden::plugin::types::Receipt;
type Finding2 = v2::trailwarden::plugin::types::Finding;

impl v2::trailwarden::plugin::config::Host for HostState {
    fn get(&mut self) -> String {
        self.settings_json.to_string()
    }
}

impl v2::trailwarden::plugin::iam::Host for HostState {
    fn disable_access_key(
        &mut self,
        event_id: String,
        user_name: String,
        access_key_id: String,
    ) -> wasmtime::Result<Receipt2> {
        self.capability(
            event_id,
            CapabilityCall::Aws(Action::DisableAccessKey {
                user_name,
                access_key_id,
            }),
        )
    }
    fn delete_access_key(
        &mut self,
        event_id: String,
        user_name: String,
        access_key_id: String,
    ) -> wasmtime::Result<Receipt2> {
        self.capability(
            event_id,
            CapabilityCall::Aws(Action::DeleteAccessKey {
                user_name,
                access_key_id,
            }),
        )
    }
    fn delete_login_profile(
        &mut self,
        event_id: String,
        user_name: String,
    ) -> wasmtime::Result<Receipt2> {
        self.capability(
            event_id,
            CapabilityCall::Aws(Action::DeleteLoginProfile { user_name }),
        )
    }
    fn quarantine_user(
        &mut self,
        event_id: String,
        user_name: String,
    ) -> wasmtime::Result<Receipt2> {
        self.capability(
            event_id,
            CapabilityCall::Aws(Action::QuarantineUser { user_name }),
        )
    }
    fn quarantine_role(
        &mut self,
        event_id: String,
        role_name: String,
    ) -> wasmtime::Result<Receipt2> {
        self.capability(
            event_id,
            CapabilityCall::Aws(Action::QuarantineRole { role_name }),
        )
    }
    fn detach_user_policy(
        &mut self,
        event_id: String,
        user_name: String,
        policy_arn: String,
    ) -> wasmtime::Result<Receipt2> {
        self.capability(
            event_id,
            CapabilityCall::Aws(Action::DetachUserPolicy {
                user_name,
                policy_arn,
            }),
        )
    }
    fn detach_role_policy(
        &mut self,
        event_id: String,
        role_name: String,
        policy_arn: String,
    ) -> wasmtime::Result<Receipt2> {
        self.capability(
            event_id,
            CapabilityCall::Aws(Action::DetachRolePolicy {
                role_name,
                policy_arn,
            }),
        )
    }
    fn detach_group_policy(
        &mut self,
        event_id: String,
        group_name: String,
        policy_arn: String,
    ) -> wasmtime::Result<Receipt2> {
        self.capability(
            event_id,
            CapabilityCall::Aws(Action::DetachGroupPolicy {
                group_name,
                policy_arn,
            }),
        )
    }
    fn revoke_role_sessions(
        &mut self,
        event_id: String,
        role_name: String,
    ) -> wasmtime::Result<Receipt2> {
        self.capability(
            event_id,
            CapabilityCall::Aws(Action::RevokeRoleSessions { role_name }),
        )
    }
    fn remove_user_from_group(
        &mut self,
        event_id: String,
        user_name: String,
        group_name: String,
    ) -> wasmtime::Result<Receipt2> {
        self.capability(
            event_id,
            CapabilityCall::Aws(Action::RemoveUserFromGroup {
                user_name,
                group_name,
            }),
        )
    }
}

impl v2::trailwarden::plugin::cloudtrail::Host for HostState {
    fn start_logging(&mut self, event_id: String, trail: String) -> wasmtime::Result<Receipt2> {
        self.capability(
            event_id,
            CapabilityCall::Aws(Action::StartLogging { trail }),
        )
    }
}

impl v2::trailwarden::plugin::s3::Host for HostState {
    fn put_public_access_block(
        &mut self,
        event_id: String,
        bucket: String,
    ) -> wasmtime::Result<Receipt2> {
        self.capability(
            event_id,
            CapabilityCall::Aws(Action::PutPublicAccessBlock { bucket }),
        )
    }
}

impl v2::trailwarden::plugin::eventbridge::Host for HostState {
    fn publish_finding(
        &mut self,
        event_id: String,
        target: String,
        finding: Finding2,
    ) -> wasmtime::Result<Receipt2> {
        let finding = finding_value(&convert::finding_from_v2(finding));
        self.capability(event_id, CapabilityCall::PublishFinding { target, finding })
    }
}

impl v2::trailwarden::plugin::notify::Host for HostState {
    fn send(
        &mut self,
        event_id: String,
        target: String,
        finding: Finding2,
    ) -> wasmtime::Result<Receipt2> {
        let finding = finding_value(&convert::finding_from_v2(finding));
        self.capability(event_id, CapabilityCall::NotifySend { target, finding })
    }
}

// --- 0.6.0: more of the iam family ------------------------------------------------------------

impl v6::trailwarden::plugin0_6_0::iam::Host for HostState {
    fn delete_inline_policy(
        &mut self,
        event_id: String,
        principal_kind: v6::trailwarden::plugin0_6_0::iam::PrincipalKind,
        principal_name: String,
        policy_name: String,
    ) -> wasmtime::Result<Receipt2> {
        use v6::trailwarden::plugin0_6_0::iam::PrincipalKind as Kind;
        let principal_kind = match principal_kind {
            Kind::User => PrincipalKind::User,
            Kind::Role => PrincipalKind::Role,
            Kind::Group => PrincipalKind::Group,
        };
        self.capability(
            event_id,
            CapabilityCall::Aws(Action::DeleteInlinePolicy {
                principal_kind,
                principal_name,
                policy_name,
            }),
        )
    }
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Caps a plugin's linear memories, all of an instance's together, and remembers whether
/// it hit the cap, so that the trap that follows (a guest's allocator aborting) is reported
/// as memory exhaustion.
pub struct MemoryLimiter {
    limit: usize,
    /// Bytes of every linear memory of the store: each memory's creation is a growth from 0,
    /// so the sum of allowed growths is the total.
    total: usize,
    pub(super) denied: bool,
}

impl MemoryLimiter {
    pub(super) fn new(limit: usize) -> Self {
        MemoryLimiter {
            limit,
            total: 0,
            denied: false,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.total.saturating_sub(current).saturating_add(desired);
        let allowed = total <= self.limit;
        if allowed {
            self.total = total;
        } else {
            self.denied = true;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million is far beyond any honest plugin.
        Ok(desired <= 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::{truncate, MemoryLimiter};
    use wasmtime::ResourceLimiter;

    #[test]
    fn the_memory_limit_counts_every_memory_of_an_instance_together() {
        const MIB: usize = 1024 * 1024;
        let mut limiter = MemoryLimiter::new(10 * MIB);
        // Two memories created at 4 MiB each fit; growing one to 7 MiB would make 11.
        assert!(limiter.memory_growing(0, 4 * MIB, None).unwrap());
        assert!(limiter.memory_growing(0, 4 * MIB, None).unwrap());
        assert!(!limiter.memory_growing(4 * MIB, 7 * MIB, None).unwrap());
        assert!(limiter.denied);
        // The refused growth took nothing: the other may still grow to 6 MiB (10 in all).
        assert!(limiter.memory_growing(4 * MIB, 6 * MIB, None).unwrap());
        // A third memory of one page no longer fits.
        assert!(!limiter.memory_growing(0, 64 * 1024, None).unwrap());
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
