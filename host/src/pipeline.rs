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

pub struct Pipeline {
    runtime: PluginRuntime,
    plugins: Vec<LoadedPlugin>,
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
        let runtime = PluginRuntime::new(&config.cache_dir, state)?;
        let mut plugins: Vec<LoadedPlugin> = Vec::new();
        for plugin_config in &config.plugins {
            let plugin = runtime.load(plugin_config)?;
            if let Some(other) = plugins.iter().find(|p| p.name == plugin.name) {
                anyhow::bail!(
                    "two plugins are called {:?}: {} and {}",
                    &*plugin.name,
                    other.path.display(),
                    plugin.path.display()
                );
            }
            audit.record_plugin_load(&PluginLoad {
                name: &plugin.name,
                version: &plugin.version,
                sha256: &plugin.sha256,
                path: &plugin.path,
                patterns: &plugin.patterns,
                capabilities: &plugin.capabilities,
            })?;
            tracing::info!(
                plugin = &*plugin.name,
                version = plugin.version,
                sha256 = plugin.sha256,
                source = ?plugin.compile_source,
                "plugin loaded"
            );
            plugins.push(plugin);
        }
        let router = Router::new(plugins.iter().map(|p| p.patterns.as_slice()))?;
        let brokers = plugins
            .iter()
            .map(|p| {
                Arc::new(Broker {
                    plugin: p.name.clone(),
                    version: p.version.clone(),
                    sha256: p.sha256.clone(),
                    grants: p.grants.clone(),
                    outbox: outbox.clone(),
                    settings: settings.clone(),
                })
            })
            .collect();
        Ok(Pipeline {
            runtime,
            brokers,
            outbox,
            settings,
            queues: plugins.iter().map(|_| Vec::new()).collect(),
            plugins,
            router,
            audit,
            batch_size: config.batch_size,
            clock: 0,
            stats: RunStats::default(),
            started: Instant::now(),
            on_finding: Box::new(|_| {}),
            on_batch: Box::new(|_, _, _| {}),
        })
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

    pub fn plugins(&self) -> &[LoadedPlugin] {
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
        let plugin = &self.plugins[index];
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
            }
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
