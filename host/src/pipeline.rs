//! The way an event travels after normalisation: route to the plugins that asked for it,
//! batch per plugin, run, and record findings and failures in the audit store.
//!
//! `replay` drives it from files; the daemon will drive it from its intake. Both see the
//! same counts, so `events_read = normalised + skipped + rejected` holds for either.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use cloudtrail_normalize::{Item, NormalizedEvent};
use serde::Serialize;

use crate::audit::{now_rfc3339, AuditStore, PluginLoad, StoredFinding};
use crate::config::Config;
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
    /// Failed batches per plugin and kind, e.g. `{"looper": {"timeout": 2}}`.
    pub plugin_failures: BTreeMap<String, BTreeMap<String, u64>>,
    pub elapsed_s: f64,
    pub events_per_s: f64,
}

/// An event waiting in a plugin's batch.
struct Queued {
    event: Event,
    time: Option<String>,
}

pub struct Pipeline {
    runtime: PluginRuntime,
    plugins: Vec<LoadedPlugin>,
    router: Router,
    audit: AuditStore,
    batch_size: usize,
    queues: Vec<Vec<Queued>>,
    /// Seconds since the epoch of the latest event seen: the clock of plugin state TTLs.
    clock: i64,
    stats: RunStats,
    started: Instant,
    on_finding: Box<dyn FnMut(&StoredFinding)>,
}

impl Pipeline {
    /// Loads the configured plugins and records each load in the audit store.
    ///
    /// # Errors
    /// A plugin cannot be loaded (the message says which and why), or the audit write fails.
    pub fn new(config: &Config, audit: AuditStore, state: StateStore) -> Result<Pipeline> {
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
        Ok(Pipeline {
            runtime,
            queues: plugins.iter().map(|_| Vec::new()).collect(),
            plugins,
            router,
            audit,
            batch_size: config.batch_size,
            clock: 0,
            stats: RunStats::default(),
            started: Instant::now(),
            on_finding: Box::new(|_| {}),
        })
    }

    /// Calls `f` with every finding as it is recorded (for printing).
    pub fn on_finding(&mut self, f: impl FnMut(&StoredFinding) + 'static) {
        self.on_finding = Box::new(f);
    }

    pub fn plugins(&self) -> &[LoadedPlugin] {
        &self.plugins
    }

    pub fn audit(&self) -> &AuditStore {
        &self.audit
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
                *self.stats.skipped.entry(reason.as_str().to_string()).or_default() += 1;
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
        let wit_event = to_wit_event(event);
        for plugin in targets {
            *self
                .stats
                .matched
                .entry(self.plugins[plugin].name.to_string())
                .or_default() += 1;
            self.queues[plugin].push(Queued {
                event: wit_event.clone(),
                time: event.time.clone(),
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
        match plugin.handle(&self.runtime, &events, clock) {
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
                *self.stats.findings.entry(plugin.name.to_string()).or_default() +=
                    stored.len() as u64;
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

/// The host's normalised event in the WIT contract's shape.
pub fn to_wit_event(event: &NormalizedEvent) -> Event {
    let p = &event.principal;
    Event {
        id: event.id.clone(),
        time: event.time.clone(),
        source: event.source.clone(),
        name: event.name.clone(),
        region: event.region.clone(),
        account: event.account.clone(),
        principal: Principal {
            type_: p.kind.clone(),
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
        raw: event.raw_json(),
    }
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
