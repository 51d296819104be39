//! The sandbox (crate `trailwarden-runtime`) bound to the host: plugins are loaded from a
//! [`PluginConfig`], and their imports use the host's SQLite stores ([`HostStores`]). The
//! crate's own types are re-exported, so the rest of the host names them from here.

use std::sync::Arc;

use anyhow::Result;

pub use trailwarden_runtime::{
    capability_family, finding_value, CapabilityCall, CapabilityHandler, CompileSource, DenyAll,
    Descriptor, Event, FailureKind, Finding, PluginFailure, Principal, Receipt, RuleInfo, Severity,
};
use trailwarden_runtime::{
    HistoryQuota, PluginStores, RateInfo, RateQuery, SeenInfo, SeenQuery, StateQuota,
};

use crate::history::HistoryStore;
use crate::plugin_config::PluginConfig;
use crate::state::StateStore;

/// The engine, compile cache and linker, with the host's stores.
pub type PluginRuntime = trailwarden_runtime::PluginRuntime<HostStores>;
/// A plugin version ready to run, with the configuration it was loaded from.
pub type LoadedPlugin = trailwarden_runtime::LoadedPlugin<PluginConfig>;

/// The stores plugins' imports use: their state, and the first-seen history beside which
/// the rate baselines are kept.
#[derive(Clone)]
pub struct HostStores {
    state: StateStore,
    history: HistoryStore,
}

impl HostStores {
    /// Plugins' state in `state` and their first-seen history in `history` (the pipeline
    /// gives the audit database's).
    pub fn new(state: StateStore, history: HistoryStore) -> HostStores {
        HostStores { state, history }
    }

    /// Both in memory (lost at exit): what commands that run plugins once (tests, fixtures)
    /// use.
    ///
    /// # Errors
    /// The in-memory stores cannot be created.
    pub fn in_memory() -> Result<HostStores> {
        Ok(HostStores::new(
            StateStore::in_memory()?,
            HistoryStore::in_memory()?,
        ))
    }

    pub fn state(&self) -> &StateStore {
        &self.state
    }

    pub fn history(&self) -> &HistoryStore {
        &self.history
    }
}

impl PluginStores for HostStores {
    fn state_get(&self, plugin: &str, key: &str, now: i64) -> Result<Option<String>> {
        self.state.get(plugin, key, now)
    }

    fn state_set(
        &self,
        plugin: &str,
        key: &str,
        value: &str,
        ttl: Option<u32>,
        now: i64,
        quota: StateQuota,
    ) -> Result<()> {
        self.state.set(plugin, key, value, ttl, now, quota)
    }

    fn state_delete(&self, plugin: &str, key: &str) -> Result<()> {
        self.state.delete(plugin, key)
    }

    fn state_increment(
        &self,
        plugin: &str,
        key: &str,
        delta: i64,
        ttl: Option<u32>,
        now: i64,
        quota: StateQuota,
    ) -> Result<i64> {
        self.state.increment(plugin, key, delta, ttl, now, quota)
    }

    fn first_seen(
        &self,
        plugin: &Arc<str>,
        query: &SeenQuery<'_>,
        now: i64,
        quota: HistoryQuota,
    ) -> Result<SeenInfo> {
        self.history.first_seen(plugin, query, now, quota)
    }

    fn rate(
        &self,
        plugin: &Arc<str>,
        query: &RateQuery<'_>,
        now: i64,
        max_keys: u64,
    ) -> Result<RateInfo> {
        self.history.rates().rate(plugin, query, now, max_keys)
    }

    fn commit_history(&self) -> Result<()> {
        self.history.commit()
    }

    fn commit_state(&self) -> Result<()> {
        self.state.commit()
    }

    /// A throwaway in-memory state and history.
    fn scratch(&self) -> Result<HostStores> {
        HostStores::in_memory()
    }
}
