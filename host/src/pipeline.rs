//! The way an event travels after normalisation: route to the plugins that asked for it,
//! batch per plugin, run, and record findings and failures in the audit store.
//!
//! `replay` drives it from files; the daemon will drive it from its intake. Both see the
//! same counts, so `events_read = normalised + skipped + rejected` holds for either.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use cloudtrail_normalize::{Item, NormalizedEvent};
use serde::Serialize;

use crate::audit::{now_rfc3339, AuditStore, PluginLoad, StoredFinding};
use crate::config::Config;
use crate::config::ResponseSettings;
use crate::respond::broker::{Broker, BrokerSession, EventScope};
use crate::respond::grants::glob_match;
use crate::respond::outbox::{now_us, Outbox};
use crate::router::Router;
use crate::runtime::{Event, LoadedPlugin, PluginRuntime, Principal};
use crate::state::StateStore;

/// Counts for a run, in the shape `--stats-json` writes.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct RunStats {
    pub events_read: u64,
    pub normalised: u64,
    pub skipped: BTreeMap<String, u64>,
    pub rejected: BTreeMap<String, u64>,
    /// Findings produced, per plugin (including ones already in the audit store).
    pub findings: BTreeMap<String, u64>,
    /// Events routed to each plugin by its patterns.
    pub matched: BTreeMap<String, u64>,
    /// Events not handed to a quarantined plugin, per plugin.
    pub skipped_quarantined: BTreeMap<String, u64>,
    /// Self-caused events withheld from response plugins, per plugin.
    pub skipped_self_caused: BTreeMap<String, u64>,
    /// Failed batches per plugin and kind, e.g. `{"looper": {"timeout": 2}}`.
    pub plugin_failures: BTreeMap<String, BTreeMap<String, u64>>,
    pub elapsed_s: f64,
    pub events_per_s: f64,
}

/// Called after every plugin batch with (plugin, events, elapsed).
type BatchHook = Box<dyn FnMut(&str, usize, std::time::Duration)>;

/// An event waiting in a plugin's batch.
struct Queued {
    event: Event,
    time: Option<String>,
    scope: EventScope,
}

/// How one serving plugin is doing, for quarantine and rollback.
#[derive(Default, Clone)]
struct Health {
    consecutive_failures: u32,
    quarantined: bool,
    /// The version this one replaced at the last reload, kept for a rollback.
    previous: Option<Arc<LoadedPlugin>>,
    /// Batches run since this version was swapped in.
    batches_since_swap: u32,
}

/// Batches after a swap during which repeated failures roll the version back.
const ROLLBACK_WINDOW: u32 = 10;

/// What a reload did, plugin by plugin.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ReloadReport {
    pub unchanged: Vec<String>,
    pub swapped: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// (plugin or path, reason): the old version, if any, keeps serving.
    pub refused: Vec<(String, String)>,
}

/// A new plugin set, compiled and checked, ready to swap in.
pub struct PreparedReload {
    plugins: Vec<Arc<LoadedPlugin>>,
    refused: Vec<(String, String)>,
    settings: Arc<ResponseSettings>,
    batch_size: usize,
}

/// Compiles and checks a config's plugins without touching the serving ones; `Send`, so a
/// daemon can run it on another thread while the old versions keep serving.
pub struct ReloadPreparer {
    runtime: Arc<PluginRuntime>,
    current: Vec<Arc<LoadedPlugin>>,
}

impl ReloadPreparer {
    /// For each configured plugin: an unchanged one (same wasm, same config) is kept; a
    /// changed or new one is loaded (describe, import check against its grants) and its
    /// shipped fixtures must pass; a failure keeps the old version serving.
    pub fn prepare(&self, config: &Config) -> PreparedReload {
        let mut plugins = Vec::new();
        let mut refused = Vec::new();
        for plugin_config in &config.plugins {
            let current = self.current.iter().find(|p| p.config == *plugin_config);
            let wasm_sha = std::fs::read(&plugin_config.path)
                .ok()
                .map(|bytes| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)));
            if let Some(current) = current.filter(|c| Some(&c.sha256) == wasm_sha.as_ref()) {
                plugins.push(current.clone());
                continue;
            }
            let label = plugin_config
                .expected_name
                .clone()
                .unwrap_or_else(|| plugin_config.path.display().to_string());
            let same_plugin = |p: &&Arc<LoadedPlugin>| {
                p.path == plugin_config.path
                    || plugin_config.expected_name.as_deref() == Some(&*p.name)
            };
            match self.load_and_check(plugin_config) {
                Ok(plugin) => plugins.push(Arc::new(plugin)),
                Err(reason) => {
                    refused.push((label, reason));
                    if let Some(old) = self.current.iter().find(same_plugin) {
                        plugins.push(old.clone());
                    }
                }
            }
        }
        PreparedReload {
            plugins,
            refused,
            settings: Arc::new(config.response.clone()),
            batch_size: config.batch_size,
        }
    }

    fn load_and_check(&self, config: &crate::config::PluginConfig) -> Result<LoadedPlugin, String> {
        let plugin = self.runtime.load(config).map_err(|e| format!("{e:#}"))?;
        for (i, text) in plugin.fixtures.iter().enumerate() {
            // Each fixture on its own empty state, as the fixture runners do: a plugin that
            // remembers (a notify window, a burst counter) must not carry one fixture's
            // events into the next.
            let canary = self.runtime.scratch().map_err(|e| format!("{e:#}"))?;
            let fixture: crate::fixture::Fixture = serde_json::from_str(text)
                .map_err(|e| format!("shipped fixture #{i} is invalid: {e}"))?;
            // Shipped fixtures describe the plugin's defaults (or carry their own config):
            // the admin's thresholds may rightly change what they raise.
            let outcome = crate::fixture::run_with_config(&canary, &plugin, &fixture, "{}");
            if !outcome.passed() {
                return Err(format!(
                    "shipped fixture {:?} fails: {}",
                    outcome.name,
                    outcome.differences.join("; ")
                ));
            }
        }
        Ok(plugin)
    }
}

pub struct Pipeline {
    runtime: Arc<PluginRuntime>,
    plugins: Vec<Arc<LoadedPlugin>>,
    health: Vec<Health>,
    lifecycle: crate::config::Lifecycle,
    brokers: Vec<Arc<Broker>>,
    router: Router,
    audit: AuditStore,
    outbox: Outbox,
    settings: Arc<ResponseSettings>,
    batch_size: usize,
    queues: Vec<Vec<Queued>>,
    /// Seconds since the epoch of the latest event seen: the clock of plugin state TTLs.
    clock: i64,
    stats: RunStats,
    started: Instant,
    on_finding: Box<dyn FnMut(&StoredFinding)>,
    on_batch: BatchHook,
    /// Events per day, account, region and source, for reports (`report::volume`).
    volume: crate::report::volume::VolumeRecorder,
}

impl Pipeline {
    /// Loads the configured plugins and records each load in the audit store.
    ///
    /// # Errors
    /// A plugin cannot be loaded (the message says which and why), or the audit write fails.
    pub fn new(config: &Config, audit: AuditStore, state: StateStore) -> Result<Pipeline> {
        let outbox = Outbox::open(&config.database)?;
        Self::with_outbox(config, audit, state, outbox)
    }

    /// As [`Pipeline::new`], with the outbox given (e.g. in memory).
    ///
    /// # Errors
    /// As for [`Pipeline::new`].
    pub fn with_outbox(
        config: &Config,
        audit: AuditStore,
        state: StateStore,
        outbox: Outbox,
    ) -> Result<Pipeline> {
        let settings = Arc::new(config.response.clone());
        let runtime = Arc::new(PluginRuntime::new(&config.cache_dir, state)?);
        let mut plugins: Vec<Arc<LoadedPlugin>> = Vec::new();
        for plugin_config in &config.plugins {
            plugins.push(Arc::new(runtime.load(plugin_config)?));
        }
        let mut pipeline = Pipeline {
            runtime,
            plugins: Vec::new(),
            health: Vec::new(),
            lifecycle: config.lifecycle,
            brokers: Vec::new(),
            outbox,
            settings,
            queues: Vec::new(),
            router: Router::new(std::iter::empty::<&[String]>())?,
            audit,
            batch_size: config.batch_size,
            clock: 0,
            stats: RunStats::default(),
            started: Instant::now(),
            on_finding: Box::new(|_| {}),
            on_batch: Box::new(|_, _, _| {}),
            volume: crate::report::volume::VolumeRecorder::open(&config.database)?,
        };
        let health = plugins.iter().map(|_| Health::default()).collect();
        pipeline.install(plugins, health)?;
        Ok(pipeline)
    }

    /// Serves `plugins`: checks names are unique, records new versions, restores persisted
    /// quarantines, and rebuilds the router, brokers and queues. Queues must be empty.
    fn install(&mut self, plugins: Vec<Arc<LoadedPlugin>>, mut health: Vec<Health>) -> Result<()> {
        for (i, plugin) in plugins.iter().enumerate() {
            if let Some(other) = plugins[..i].iter().find(|p| p.name == plugin.name) {
                anyhow::bail!(
                    "two plugins are called {:?}: {} and {}",
                    &*plugin.name,
                    other.path.display(),
                    plugin.path.display()
                );
            }
        }
        for (plugin, health) in plugins.iter().zip(health.iter_mut()) {
            let known = self.plugins.iter().any(|p| Arc::ptr_eq(p, plugin));
            if !known {
                self.audit.record_plugin_load(&PluginLoad {
                    name: &plugin.name,
                    version: &plugin.version,
                    sha256: &plugin.sha256,
                    path: &plugin.path,
                    patterns: &plugin.patterns,
                    capabilities: &plugin.capabilities,
                })?;
                self.audit.record_lifecycle(
                    &plugin.name,
                    &plugin.sha256,
                    "loaded",
                    &plugin.version,
                )?;
                tracing::info!(
                    plugin = &*plugin.name,
                    version = plugin.version,
                    sha256 = plugin.sha256,
                    source = ?plugin.compile_source,
                    "plugin loaded"
                );
            }
            health.quarantined = self.audit.is_quarantined(&plugin.name, &plugin.sha256)?;
        }
        self.router = Router::new(plugins.iter().map(|p| p.patterns.as_slice()))?;
        self.brokers = plugins
            .iter()
            .map(|p| {
                Arc::new(Broker {
                    plugin: p.name.clone(),
                    version: p.version.clone(),
                    sha256: p.sha256.clone(),
                    grants: p.grants.clone(),
                    outbox: self.outbox.clone(),
                    settings: self.settings.clone(),
                })
            })
            .collect();
        self.queues = plugins.iter().map(|_| Vec::new()).collect();
        self.plugins = plugins;
        self.health = health;
        Ok(())
    }

    /// What compiles and checks a new plugin set off the serving path.
    pub fn reload_preparer(&self) -> ReloadPreparer {
        ReloadPreparer {
            runtime: self.runtime.clone(),
            current: self.plugins.clone(),
        }
    }

    /// Swaps a prepared plugin set in at a batch boundary: queued events are first handled
    /// by the versions they were queued for, so no event is lost or handled twice.
    ///
    /// # Errors
    /// The audit store cannot be written, or the new set has two plugins of one name (then
    /// the old set keeps serving).
    pub fn apply_reload(&mut self, prepared: PreparedReload) -> Result<ReloadReport> {
        self.flush()?;
        let mut report = ReloadReport::default();
        let mut health = Vec::new();
        for plugin in &prepared.plugins {
            let old = self.plugins.iter().position(|p| p.name == plugin.name);
            match old {
                Some(i) if Arc::ptr_eq(&self.plugins[i], plugin) => {
                    report.unchanged.push(plugin.name.to_string());
                    health.push(self.health[i].clone());
                }
                Some(i) => {
                    report.swapped.push(plugin.name.to_string());
                    health.push(Health {
                        previous: Some(self.plugins[i].clone()),
                        ..Health::default()
                    });
                }
                None => {
                    report.added.push(plugin.name.to_string());
                    health.push(Health::default());
                }
            }
        }
        for old in &self.plugins {
            if !prepared.plugins.iter().any(|p| p.name == old.name) {
                report.removed.push(old.name.to_string());
                self.audit
                    .record_lifecycle(&old.name, &old.sha256, "removed", "")?;
            }
        }
        for (label, reason) in &prepared.refused {
            tracing::warn!(
                plugin = label,
                "reload refused, the old version keeps serving: {reason}"
            );
            self.audit
                .record_lifecycle(label, "-", "reload_refused", reason)?;
        }
        report.refused = prepared.refused;
        self.settings = prepared.settings;
        self.batch_size = prepared.batch_size;
        self.install(prepared.plugins, health)?;
        Ok(report)
    }

    /// Compiles, checks and swaps in `config`'s plugins on this thread.
    ///
    /// # Errors
    /// As for [`Pipeline::apply_reload`].
    pub fn reload(&mut self, config: &Config) -> Result<ReloadReport> {
        let prepared = self.reload_preparer().prepare(config);
        self.apply_reload(prepared)
    }

    /// Each serving plugin and whether it is quarantined.
    pub fn plugin_states(&self) -> Vec<(Arc<LoadedPlugin>, bool)> {
        self.plugins
            .iter()
            .zip(&self.health)
            .map(|(p, h)| (p.clone(), h.quarantined))
            .collect()
    }

    /// Calls `f` with every finding as it is recorded (for printing).
    pub fn on_finding(&mut self, f: impl FnMut(&StoredFinding) + 'static) {
        self.on_finding = Box::new(f);
    }

    /// Calls `f(plugin, events, elapsed)` after every plugin batch, run or failed (for the
    /// daemon's metrics).
    pub fn on_batch(&mut self, f: impl FnMut(&str, usize, std::time::Duration) + 'static) {
        self.on_batch = Box::new(f);
    }

    pub fn plugins(&self) -> &[Arc<LoadedPlugin>] {
        &self.plugins
    }

    pub fn audit(&self) -> &AuditStore {
        &self.audit
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    pub fn runtime(&self) -> &PluginRuntime {
        &self.runtime
    }

    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// Takes one normalised item from `origin` (a file name, "stdin", ...).
    ///
    /// # Errors
    /// The audit store cannot be written.
    pub fn ingest(&mut self, item: Item, origin: &str) -> Result<()> {
        self.stats.events_read += 1;
        match item {
            Item::Event(event) => {
                self.stats.normalised += 1;
                self.volume.count(
                    event.time.as_deref(),
                    event.account.as_deref(),
                    event.region.as_deref(),
                    origin,
                );
                self.dispatch(&event)?;
            }
            Item::Skipped { reason, .. } => {
                *self
                    .stats
                    .skipped
                    .entry(reason.as_str().to_string())
                    .or_default() += 1;
            }
            Item::Rejected {
                reason,
                detail,
                raw,
            } => {
                *self
                    .stats
                    .rejected
                    .entry(reason.as_str().to_string())
                    .or_default() += 1;
                self.audit
                    .record_rejected(origin, reason.as_str(), &detail, &raw)?;
            }
        }
        Ok(())
    }

    fn dispatch(&mut self, event: &NormalizedEvent) -> Result<()> {
        if let Some(seconds) = event.time.as_deref().and_then(epoch_seconds) {
            self.clock = self.clock.max(seconds);
        }
        let targets = self.router.route(&event.envelope());
        if targets.is_empty() {
            return Ok(());
        }
        let received_us = now_us();
        let self_caused = is_self_caused(event, &self.settings.self_principals);
        let plugin_event = to_plugin_event(event, self_caused);
        let scope = EventScope {
            account: event.account.clone().unwrap_or_default(),
            region: event.region.clone().unwrap_or_default(),
            received_us,
        };
        for plugin in targets {
            if self.health[plugin].quarantined {
                *self
                    .stats
                    .skipped_quarantined
                    .entry(self.plugins[plugin].name.to_string())
                    .or_default() += 1;
                continue;
            }
            // Loop protection: trailwarden's own actions are not fed back into response
            // plugins unless they asked for them.
            if self_caused
                && self.plugins[plugin].responds()
                && !self.plugins[plugin].self_caused_events
            {
                *self
                    .stats
                    .skipped_self_caused
                    .entry(self.plugins[plugin].name.to_string())
                    .or_default() += 1;
                continue;
            }
            *self
                .stats
                .matched
                .entry(self.plugins[plugin].name.to_string())
                .or_default() += 1;
            self.queues[plugin].push(Queued {
                event: plugin_event.clone(),
                time: event.time.clone(),
                scope: scope.clone(),
            });
            if self.queues[plugin].len() >= self.batch_size {
                self.flush_plugin(plugin)?;
            }
        }
        Ok(())
    }

    /// Runs every partly filled batch.
    ///
    /// # Errors
    /// The audit store cannot be written.
    pub fn flush(&mut self) -> Result<()> {
        for plugin in 0..self.plugins.len() {
            self.flush_plugin(plugin)?;
        }
        self.volume.commit()?;
        self.stats.elapsed_s = self.started.elapsed().as_secs_f64();
        self.stats.events_per_s = if self.stats.elapsed_s > 0.0 {
            self.stats.events_read as f64 / self.stats.elapsed_s
        } else {
            0.0
        };
        Ok(())
    }

    fn flush_plugin(&mut self, index: usize) -> Result<()> {
        let batch = std::mem::take(&mut self.queues[index]);
        if batch.is_empty() {
            return Ok(());
        }
        let clock = if self.clock > 0 {
            self.clock
        } else {
            wall_clock()
        };
        let plugin = self.plugins[index].clone();
        let events: Vec<Event> = batch.iter().map(|q| q.event.clone()).collect();
        let scopes: HashMap<String, EventScope> = batch
            .iter()
            .map(|q| (q.event.id.clone(), q.scope.clone()))
            .collect();
        let session = BrokerSession::new(self.brokers[index].clone(), scopes);
        let batch_started = Instant::now();
        let result = plugin.handle(&self.runtime, &events, clock, Box::new(session));
        (self.on_batch)(&plugin.name, events.len(), batch_started.elapsed());
        match result {
            Ok(findings) => {
                let recorded_at = now_rfc3339();
                let mut stored = Vec::with_capacity(findings.len());
                for finding in findings {
                    let Some(queued) = batch.iter().find(|q| q.event.id == finding.event_id) else {
                        // A finding must name an event of its batch: a plugin cannot forge
                        // findings about events it never saw.
                        self.audit.record_plugin_failure(
                            &plugin.name,
                            &plugin.sha256,
                            "invalid_output",
                            &format!(
                                "finding {:?} names event {:?}, which was not in its batch",
                                finding.rule_id, finding.event_id
                            ),
                            &[],
                        )?;
                        continue;
                    };
                    stored.push(StoredFinding {
                        plugin: plugin.name.to_string(),
                        plugin_version: plugin.version.clone(),
                        plugin_sha256: plugin.sha256.clone(),
                        rule_id: finding.rule_id,
                        severity: finding.severity.as_str().to_string(),
                        title: finding.title,
                        description: finding.description,
                        resources: finding.resources,
                        dedup_key: finding.dedup_key,
                        event_id: finding.event_id,
                        event_time: queued.time.clone(),
                        context: serde_json::from_str(&finding.context)
                            .unwrap_or(serde_json::Value::String(finding.context)),
                        recorded_at: recorded_at.clone(),
                    });
                }
                self.audit.in_transaction(|audit| {
                    for finding in &stored {
                        audit.record_finding(finding)?;
                    }
                    Ok(())
                })?;
                *self
                    .stats
                    .findings
                    .entry(plugin.name.to_string())
                    .or_default() += stored.len() as u64;
                for finding in &stored {
                    (self.on_finding)(finding);
                }
                let health = &mut self.health[index];
                health.consecutive_failures = 0;
                health.batches_since_swap = health.batches_since_swap.saturating_add(1);
            }
            Err(failure) => {
                tracing::warn!(
                    plugin = &*plugin.name,
                    kind = failure.kind.as_str(),
                    events = events.len(),
                    "plugin failed on a batch: {}",
                    failure.message
                );
                let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
                self.audit.record_plugin_failure(
                    &plugin.name,
                    &plugin.sha256,
                    failure.kind.as_str(),
                    &failure.message,
                    &ids,
                )?;
                *self
                    .stats
                    .plugin_failures
                    .entry(plugin.name.to_string())
                    .or_default()
                    .entry(failure.kind.as_str().to_string())
                    .or_default() += 1;
                self.after_failure(index, &failure.message)?;
            }
        }
        Ok(())
    }

    /// A new version that keeps failing right after a reload is rolled back; any version
    /// that keeps failing is quarantined until a different version is loaded.
    fn after_failure(&mut self, index: usize, message: &str) -> Result<()> {
        let health = &mut self.health[index];
        health.consecutive_failures += 1;
        health.batches_since_swap = health.batches_since_swap.saturating_add(1);
        let plugin = self.plugins[index].clone();
        if health.batches_since_swap <= ROLLBACK_WINDOW
            && health.consecutive_failures >= self.lifecycle.rollback_after
        {
            if let Some(previous) = health.previous.take() {
                let detail = format!(
                    "{} consecutive failures after the swap (last: {message}); back to {}",
                    health.consecutive_failures, previous.sha256
                );
                tracing::warn!(plugin = &*plugin.name, "rolling back: {detail}");
                self.audit.record_lifecycle(
                    &plugin.name,
                    &plugin.sha256,
                    "rolled_back",
                    &detail,
                )?;
                let mut plugins = self.plugins.clone();
                plugins[index] = previous;
                let mut health = self.health.clone();
                health[index] = Health::default();
                // Other plugins' queued events stay where they are: only this plugin's
                // (empty) queue is rebuilt.
                let queues = std::mem::take(&mut self.queues);
                self.install(plugins, health)?;
                self.queues = queues;
                return Ok(());
            }
        }
        if !health.quarantined && health.consecutive_failures >= self.lifecycle.quarantine_after {
            health.quarantined = true;
            let detail = format!(
                "{} consecutive failed batches (last: {message})",
                health.consecutive_failures
            );
            tracing::warn!(plugin = &*plugin.name, "quarantined: {detail}");
            self.audit
                .record_lifecycle(&plugin.name, &plugin.sha256, "quarantined", &detail)?;
        }
        Ok(())
    }
}

/// The host's normalised event as handed to plugins.
pub fn to_plugin_event(event: &NormalizedEvent, self_caused: bool) -> Event {
    let p = &event.principal;
    Event {
        id: event.id.clone(),
        time: event.time.clone(),
        source: event.source.clone(),
        name: event.name.clone(),
        region: event.region.clone(),
        account: event.account.clone(),
        principal: Principal {
            kind: p.kind.clone(),
            arn: p.arn.clone(),
            account_id: p.account_id.clone(),
            user_name: p.user_name.clone(),
            access_key_id: p.access_key_id.clone(),
            session_issuer_arn: p.session_issuer_arn.clone(),
            invoked_by: p.invoked_by.clone(),
        },
        mfa_authenticated: event.mfa_authenticated,
        source_ip: event.source_ip.clone(),
        user_agent: event.user_agent.clone(),
        error_code: event.error_code.clone(),
        error_message: event.error_message.clone(),
        read_only: event.read_only,
        event_type: event.event_type.clone(),
        self_caused,
        raw: event.raw_json(),
    }
}

/// Whether an event was made by one of trailwarden's own principals (by the caller's ARN
/// or, for role sessions, the issuing role's ARN).
pub fn is_self_caused(event: &NormalizedEvent, self_principals: &[String]) -> bool {
    let p = &event.principal;
    [p.arn.as_deref(), p.session_issuer_arn.as_deref()]
        .into_iter()
        .flatten()
        .any(|arn| {
            self_principals
                .iter()
                .any(|pattern| glob_match(pattern, arn))
        })
}

fn epoch_seconds(time: &str) -> Option<i64> {
    let at = humantime::parse_rfc3339_weak(time).ok()?;
    Some(at.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64)
}

fn wall_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
