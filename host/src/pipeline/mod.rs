//! The way an event travels after normalisation: route to the plugins that asked for it,
//! batch per plugin, run (here or on worker threads), and record findings (with the raw
//! record of each event that has any) and failures in the audit store.
//!
//! `replay` drives it from files; the daemon drives it from its intake. Both see the
//! same counts, so `events_read = normalised + skipped + rejected` holds for either.
//!
//! Each event is converted once into the shape plugins get and shared by pointer between
//! the plugins it is routed to; routing matches the EventBridge envelope as a view over the
//! record, never a copy. A batch's results are committed in one transaction, by the worker
//! that ran it or by this thread ([`recording`]).

mod lifecycle;
mod pool;
mod recording;
mod reload;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use cloudtrail_normalize::{Item, NormalizedEvent};
use serde::Serialize;

use crate::audit::{AuditStore, PluginLoad, StoredFinding};
use crate::config::{Config, Lifecycle, PluginConfig, ResponseSettings};
use crate::finding_context::FindingContext;
use crate::respond::broker::{Broker, EventScope};
use crate::respond::grants::glob_match;
use crate::respond::outbox::{now_us, Outbox};
use crate::router::Router;
use crate::runtime::{Event, LoadedPlugin, PluginFailure, PluginRuntime};
use crate::state::StateStore;
use crate::suppress::LiveSuppressions;

pub use crate::plugin_event::{into_plugin_event, to_plugin_event};
use lifecycle::{Health, Verdict};
use pool::{Done, Job, Pool, Routed, SharedEvent};
pub use reload::{passes_own_fixtures, PreparedReload, ReloadPreparer, ReloadReport};

/// How far ahead of the wall clock an event's time may move the state clock: an event
/// dated 9999 must not freeze every plugin's windows.
pub const MAX_CLOCK_SKEW_S: i64 = 300;

/// Counts for a run, in the shape `--stats-json` writes.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct RunStats {
    pub events_read: u64,
    pub normalised: u64,
    pub skipped: BTreeMap<String, u64>,
    pub rejected: BTreeMap<String, u64>,
    /// Findings produced, per plugin (including ones already in the audit store).
    pub findings: BTreeMap<String, u64>,
    /// Of those, the ones a suppression silenced (recorded, not alerted), per plugin.
    pub suppressed: BTreeMap<String, u64>,
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
    /// Seconds spent running each plugin's batches (instantiation, the guest, host calls).
    pub plugin_busy_s: BTreeMap<String, f64>,
    /// The most batches of each plugin handed to workers at once: 1, or up to the workers
    /// for a plugin whose batches are independent (none without workers).
    pub batches_at_once: BTreeMap<String, u64>,
}

/// Called after every plugin batch with (plugin, events, elapsed).
type BatchHook = Box<dyn FnMut(&str, usize, std::time::Duration)>;

/// One serving plugin with everything the pipeline keeps for it.
struct Slot {
    plugin: Arc<LoadedPlugin>,
    broker: Arc<Broker>,
    health: Health,
    queue: Vec<SharedEvent>,
    /// Record text queued, for the per-batch byte bound.
    queued_bytes: usize,
    /// Batches of this plugin running on workers.
    running: usize,
    /// How many may run at once: one (its events in order, its state and budgets as with
    /// one worker), or every worker for a plugin whose batches are independent
    /// ([`LoadedPlugin::batches_independent`]).
    max_running: usize,
    /// Batches ready while `max_running` run, started in order as those finish (at most
    /// [`MAX_WAITING_BATCHES`]).
    waiting: VecDeque<Job>,
}

impl Slot {
    /// Whether another batch of this plugin may start now: below [`Slot::max_running`],
    /// and below one while its last batch failed, so a failing plugin is quarantined or
    /// rolled back after exactly as many failed batches as with one worker.
    fn may_start(&self) -> bool {
        let limit = if self.health.consecutive_failures > 0 {
            1
        } else {
            self.max_running
        };
        self.running < limit
    }
}

/// Batches of one plugin that may wait behind its running ones. A plugin runs one batch at a
/// time (its events stay in order) unless its batches are independent; without a backlog,
/// the pipeline would stop feeding every other plugin whenever a busy plugin's next batch
/// filled up, idling the other workers.
const MAX_WAITING_BATCHES: usize = 3;

/// Events a slot's next queue is made with room for (its batch size, up to this): a large
/// configured batch size does not reserve that much for every plugin.
const MAX_QUEUE_RESERVED: usize = 1024;

/// How often the write-ahead log is moved into the database file: often enough that the log
/// stays a few MiB under a full replay, so checkpoints stay short and no commit pays one.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

pub struct Pipeline {
    runtime: Arc<PluginRuntime>,
    slots: Vec<Slot>,
    lifecycle: Lifecycle,
    router: Router,
    audit: AuditStore,
    outbox: Outbox,
    settings: Arc<ResponseSettings>,
    batch_size: usize,
    max_batch_bytes: usize,
    /// Worker threads; `None` runs batches on this thread.
    pool: Option<Pool>,
    /// The pool's threads (1 without one).
    workers: usize,
    in_flight: usize,
    /// Seconds since the epoch of the latest event seen (at most [`MAX_CLOCK_SKEW_S`]
    /// past the wall clock): the clock of plugin state TTLs.
    clock: i64,
    stats: RunStats,
    started: Instant,
    on_finding: Box<dyn FnMut(&StoredFinding)>,
    on_batch: BatchHook,
    /// Events per day, account, region and source, for reports (`report::volume`).
    volume: crate::report::volume::VolumeRecorder,
    /// The config's and the database's suppressions, read again when the database's change.
    suppressions: LiveSuppressions,
    /// Moves the write-ahead log into the database file off the batches' commits (a file
    /// database only); stopped with the pipeline.
    _checkpointer: Option<trailwarden_store::Checkpointer>,
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
        let stores = crate::runtime::HostStores::new(
            state,
            crate::history::HistoryStore::open(&config.database)?,
        );
        let runtime = Arc::new(PluginRuntime::new(&config.cache_dir, stores)?);
        let plugins = load_all(&runtime, &config.plugins, config.workers)?;
        let pool = if config.workers > 1 {
            Some(Pool::start(config.workers, runtime.clone(), audit.file())?)
        } else {
            None
        };
        let checkpointer = match audit.file() {
            Some(path) => Some(
                trailwarden_store::Checkpointer::start(&path, CHECKPOINT_INTERVAL)
                    .with_context(|| format!("cannot checkpoint {}", path.display()))?,
            ),
            None => None,
        };
        let mut pipeline = Pipeline {
            runtime,
            slots: Vec::new(),
            lifecycle: config.lifecycle,
            router: Router::new(std::iter::empty::<&[String]>())?,
            audit,
            outbox,
            settings: Arc::new(config.response.clone()),
            batch_size: config.batch_size,
            max_batch_bytes: config.max_batch_bytes,
            pool,
            workers: config.workers.max(1),
            in_flight: 0,
            clock: 0,
            stats: RunStats::default(),
            started: Instant::now(),
            on_finding: Box::new(|_| {}),
            on_batch: Box::new(|_, _, _| {}),
            volume: crate::report::volume::VolumeRecorder::open(&config.database)?,
            suppressions: LiveSuppressions::open(
                Some(&config.database),
                config.response.suppressions.clone(),
            )?,
            _checkpointer: checkpointer,
        };
        let serving = plugins
            .into_iter()
            .map(|p| (p, Health::default()))
            .collect();
        pipeline.install(serving)?;
        Ok(pipeline)
    }

    /// Serves `plugins`: checks names are unique, records new versions, restores persisted
    /// quarantines, and rebuilds the router and slots. No batch may be queued or running.
    fn install(&mut self, plugins: Vec<(Arc<LoadedPlugin>, Health)>) -> Result<()> {
        for (i, (plugin, _)) in plugins.iter().enumerate() {
            if let Some((other, _)) = plugins[..i].iter().find(|(p, _)| p.name == plugin.name) {
                anyhow::bail!(
                    "two plugins are called {:?}: {} and {}",
                    &*plugin.name,
                    other.path.display(),
                    plugin.path.display()
                );
            }
        }
        let mut slots = Vec::with_capacity(plugins.len());
        for (plugin, mut health) in plugins {
            let known = self.slots.iter().any(|s| Arc::ptr_eq(&s.plugin, &plugin));
            if !known {
                self.record_load(&plugin)?;
            }
            health.quarantined = self.audit.is_quarantined(&plugin.name, &plugin.sha256)?;
            slots.push(Slot {
                broker: self.broker_for(&plugin),
                max_running: self.max_running(&plugin),
                plugin,
                health,
                queue: Vec::new(),
                queued_bytes: 0,
                running: 0,
                waiting: VecDeque::new(),
            });
        }
        self.router = Router::new(slots.iter().map(|s| s.plugin.patterns.as_slice()))?;
        self.slots = slots;
        Ok(())
    }

    fn record_load(&self, plugin: &LoadedPlugin) -> Result<()> {
        self.audit.record_plugin_load(&PluginLoad {
            name: &plugin.name,
            version: &plugin.version,
            sha256: &plugin.sha256,
            path: &plugin.path,
            patterns: &plugin.patterns,
            capabilities: &plugin.capabilities,
        })?;
        self.audit
            .record_lifecycle(&plugin.name, &plugin.sha256, "loaded", &plugin.version)?;
        tracing::info!(
            plugin = &*plugin.name,
            version = plugin.version,
            sha256 = plugin.sha256,
            source = ?plugin.compile_source,
            "plugin loaded"
        );
        Ok(())
    }

    /// How many batches of `plugin` may run at once (see [`Slot::max_running`]).
    fn max_running(&self, plugin: &LoadedPlugin) -> usize {
        if plugin.batches_independent() {
            self.workers
        } else {
            1
        }
    }

    fn broker_for(&self, plugin: &LoadedPlugin) -> Arc<Broker> {
        Arc::new(Broker {
            plugin: plugin.name.clone(),
            version: plugin.version.clone(),
            sha256: plugin.sha256.clone(),
            grants: plugin.config.grants.clone(),
            outbox: self.outbox.clone(),
            settings: self.settings.clone(),
            runbooks: Arc::new(
                plugin
                    .rules
                    .iter()
                    .flatten()
                    .map(|rule| (rule.id.clone(), rule.runbook.clone()))
                    .collect(),
            ),
        })
    }

    /// What compiles and checks a new plugin set off the serving path.
    pub fn reload_preparer(&self) -> ReloadPreparer {
        ReloadPreparer {
            runtime: self.runtime.clone(),
            current: self.slots.iter().map(|s| s.plugin.clone()).collect(),
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
        let mut serving = Vec::new();
        for plugin in &prepared.plugins {
            let health = match self.slots.iter().find(|s| s.plugin.name == plugin.name) {
                Some(slot) if Arc::ptr_eq(&slot.plugin, plugin) => {
                    report.unchanged.push(plugin.name.to_string());
                    slot.health.clone()
                }
                Some(slot) => {
                    report.swapped.push(plugin.name.to_string());
                    Health::swapped_in(slot.plugin.clone())
                }
                None => {
                    report.added.push(plugin.name.to_string());
                    Health::default()
                }
            };
            serving.push((plugin.clone(), health));
        }
        for slot in &self.slots {
            if !prepared.plugins.iter().any(|p| p.name == slot.plugin.name) {
                report.removed.push(slot.plugin.name.to_string());
                self.audit.record_lifecycle(
                    &slot.plugin.name,
                    &slot.plugin.sha256,
                    "removed",
                    "",
                )?;
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
        self.suppressions
            .set_config(prepared.settings.suppressions.clone());
        self.settings = prepared.settings;
        self.batch_size = prepared.batch_size;
        self.max_batch_bytes = prepared.max_batch_bytes;
        self.install(serving)?;
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
        self.slots
            .iter()
            .map(|s| (s.plugin.clone(), s.health.quarantined))
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

    /// The serving plugins, in configuration order.
    pub fn plugins(&self) -> Vec<Arc<LoadedPlugin>> {
        self.slots.iter().map(|s| s.plugin.clone()).collect()
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
                self.dispatch(event)?;
            }
            Item::Skipped { reason, .. } => bump(&mut self.stats.skipped, reason.as_str(), 1),
            Item::Rejected {
                reason,
                detail,
                raw,
            } => {
                bump(&mut self.stats.rejected, reason.as_str(), 1);
                self.audit
                    .record_rejected(origin, reason.as_str(), &detail, &raw)?;
            }
        }
        Ok(())
    }

    fn dispatch(&mut self, event: NormalizedEvent) -> Result<()> {
        if let Some(seconds) = event.time.as_deref().and_then(epoch_seconds) {
            self.clock = advance_clock(self.clock, seconds, wall_clock());
        }
        let targets = self.router.route_event(&event);
        if targets.is_empty() {
            return Ok(());
        }
        let self_caused = is_self_caused(&event, &self.settings.self_principals);
        let scope = EventScope {
            account: event.account.clone().unwrap_or_default(),
            region: event.region.clone().unwrap_or_default(),
            received_us: now_us(),
        };
        let routed = Arc::new(Routed {
            event: into_plugin_event(event, self_caused),
            scope,
            record_kept: AtomicBool::new(false),
        });
        let bytes = routed.event.raw.len();
        for index in targets {
            let slot = &mut self.slots[index];
            let name = &*slot.plugin.name;
            if slot.health.quarantined {
                bump(&mut self.stats.skipped_quarantined, name, 1);
                continue;
            }
            // Loop protection: trailwarden's own actions are not fed back into response
            // plugins unless they asked for them.
            if self_caused && slot.plugin.responds() && !slot.plugin.self_caused_events {
                bump(&mut self.stats.skipped_self_caused, name, 1);
                continue;
            }
            bump(&mut self.stats.matched, name, 1);
            slot.queue.push(SharedEvent(routed.clone()));
            slot.queued_bytes += bytes;
            if slot.queue.len() >= self.batch_size || slot.queued_bytes >= self.max_batch_bytes {
                self.run_slot(index)?;
            }
        }
        Ok(())
    }

    /// Runs every partly filled batch and waits for every running one.
    ///
    /// # Errors
    /// The audit store cannot be written.
    pub fn flush(&mut self) -> Result<()> {
        for index in 0..self.slots.len() {
            self.run_slot(index)?;
        }
        while self.in_flight > 0 {
            self.collect_one()?;
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

    /// Starts the slot's queued batch: here, or on a worker; while the slot's previous batch
    /// runs, the new one waits behind it (one batch per plugin at a time keeps each plugin's
    /// events in order).
    fn run_slot(&mut self, index: usize) -> Result<()> {
        if self.slots[index].queue.is_empty() {
            return Ok(());
        }
        while self.slots[index].waiting.len() >= MAX_WAITING_BATCHES {
            self.collect_one()?;
        }
        if self.slots[index].health.quarantined {
            // Quarantined by a batch that finished: these events are withheld, as later
            // ones are at dispatch.
            let slot = &mut self.slots[index];
            let withheld = std::mem::take(&mut slot.queue).len() as u64;
            slot.queued_bytes = 0;
            self.withhold(index, withheld);
            return Ok(());
        }
        let clock = if self.clock > 0 {
            self.clock
        } else {
            wall_clock()
        };
        // One indexed read: a `suppress add` takes effect on the next batch.
        let suppressions = self.suppressions.refresh()?;
        let slot = &mut self.slots[index];
        slot.queued_bytes = 0;
        let job = Job {
            slot: index,
            plugin: slot.plugin.clone(),
            broker: slot.broker.clone(),
            // The next batch's room made now: grown from empty, a queue of hundreds was
            // reallocated about ten times per batch.
            events: std::mem::replace(
                &mut slot.queue,
                Vec::with_capacity(self.batch_size.min(MAX_QUEUE_RESERVED)),
            ),
            clock,
            suppressions,
        };
        match &self.pool {
            None => {
                let done = pool::run(&self.runtime, job);
                self.record(done)
            }
            Some(_) => {
                slot.waiting.push_back(job);
                self.start_waiting(index);
                Ok(())
            }
        }
    }

    /// Waits for one running batch, records it, and starts the batch waiting behind it.
    fn collect_one(&mut self) -> Result<()> {
        let Some(done) = self.pool.as_ref().and_then(Pool::next_done) else {
            anyhow::bail!("the plugin worker threads stopped");
        };
        self.in_flight -= 1;
        let index = done.slot;
        self.slots[index].running -= 1;
        self.record(done)?;
        self.start_waiting(index);
        Ok(())
    }

    /// Submits the slot's waiting batches, in order, while it may run more
    /// ([`Slot::may_start`]), unless the batch just recorded quarantined the plugin (then
    /// every waiting event is withheld).
    fn start_waiting(&mut self, index: usize) {
        let Some(pool) = &self.pool else {
            return;
        };
        let slot = &mut self.slots[index];
        if slot.health.quarantined {
            let withheld = slot
                .waiting
                .drain(..)
                .map(|job| job.events.len() as u64)
                .sum();
            self.withhold(index, withheld);
            return;
        }
        while slot.may_start() {
            let Some(mut job) = slot.waiting.pop_front() else {
                return;
            };
            // Rolled back while it waited: the batch runs on the version serving now.
            job.plugin = slot.plugin.clone();
            job.broker = slot.broker.clone();
            slot.running += 1;
            note_at_once(&mut self.stats.batches_at_once, slot);
            self.in_flight += 1;
            pool.submit(job);
        }
    }

    /// Counts `withheld` events routed to a quarantined plugin as skipped, not matched.
    fn withhold(&mut self, index: usize, withheld: u64) {
        let name = &self.slots[index].plugin.name;
        bump(&mut self.stats.skipped_quarantined, name, withheld);
        if let Some(matched) = self.stats.matched.get_mut(&**name) {
            *matched -= withheld;
        }
    }

    /// Commits a batch's findings, the records of the events they are about, and its
    /// failures in one transaction, then applies the lifecycle rules.
    fn record(&mut self, mut done: Done) -> Result<()> {
        let plugin = done.plugin.clone();
        (self.on_batch)(&plugin.name, done.events.len(), done.elapsed);
        match self.stats.plugin_busy_s.get_mut(&*plugin.name) {
            Some(busy) => *busy += done.elapsed.as_secs_f64(),
            None => {
                self.stats
                    .plugin_busy_s
                    .insert(plugin.name.to_string(), done.elapsed.as_secs_f64());
            }
        }
        let recorded = match done.recorded.take() {
            Some(recorded) => recorded?,
            None => recording::record_batch(&mut self.audit, &mut done)?,
        };
        let stored = recorded.stored;
        let failures: Vec<(&[SharedEvent], PluginFailure)> = recorded
            .failures
            .into_iter()
            .map(|(range, failure)| (&done.events[range], failure))
            .collect();
        let failed_events: usize = failures.iter().map(|(events, _)| events.len()).sum();
        if failed_events < done.events.len() {
            // Some part of the batch ran: the plugin answered, if only with nothing.
            bump(&mut self.stats.findings, &plugin.name, stored.len() as u64);
        }
        let mut suppressed = 0;
        for finding in &stored {
            match &finding.suppressed_by {
                // Recorded and counted, never alerted.
                Some(by) => {
                    suppressed += 1;
                    tracing::debug!(
                        plugin = &*plugin.name,
                        rule = finding.rule_id,
                        event = finding.event_id,
                        suppressed_by = by,
                        "finding suppressed"
                    );
                }
                None => (self.on_finding)(finding),
            }
        }
        if suppressed > 0 {
            bump(&mut self.stats.suppressed, &plugin.name, suppressed);
        }
        let mut kinds_counted: Vec<&str> = Vec::new();
        for (events, failure) in &failures {
            tracing::warn!(
                plugin = &*plugin.name,
                kind = failure.kind.as_str(),
                events = events.len(),
                "plugin failed on a batch: {}",
                failure.message
            );
            // Counted per batch, however many parts it was split into.
            if !kinds_counted.contains(&failure.kind.as_str()) {
                kinds_counted.push(failure.kind.as_str());
                let kinds = self
                    .stats
                    .plugin_failures
                    .entry(plugin.name.to_string())
                    .or_default();
                bump(kinds, failure.kind.as_str(), 1);
            }
        }
        let Some(slot) = self.slots.get_mut(done.slot) else {
            return Ok(());
        };
        if !Arc::ptr_eq(&slot.plugin, &plugin) {
            // Rolled back while this batch ran: its health is the old version's business.
            return Ok(());
        }
        if failures.is_empty() || failed_events < done.events.len() {
            // Parts of the batch ran: the failures were particular events' doing.
            slot.health.after_success();
            return Ok(());
        }
        let last = failures
            .last()
            .map(|(_, f)| f.message.clone())
            .unwrap_or_default();
        self.after_failure(done.slot, &last)
    }

    /// A new version that keeps failing right after a reload is rolled back; any version
    /// that keeps failing on everything is quarantined, unless it still passes its own
    /// shipped fixtures (then its input is to blame, and input must not be able to switch
    /// a detection off).
    fn after_failure(&mut self, index: usize, message: &str) -> Result<()> {
        let lifecycle = self.lifecycle;
        let slot = &mut self.slots[index];
        let plugin = slot.plugin.clone();
        let failures = slot.health.consecutive_failures + 1;
        match slot.health.after_failure(&lifecycle) {
            Verdict::Continue => Ok(()),
            Verdict::RollBack(previous) => {
                let detail = format!(
                    "{failures} consecutive failures after the swap (last: {message}); back to {}",
                    previous.sha256
                );
                tracing::warn!(plugin = &*plugin.name, "rolling back: {detail}");
                self.audit.record_lifecycle(
                    &plugin.name,
                    &plugin.sha256,
                    "rolled_back",
                    &detail,
                )?;
                self.serve_in_slot(index, previous)
            }
            Verdict::Quarantine => {
                if !plugin.fixtures.is_empty() {
                    if let Ok(()) = passes_own_fixtures(&self.runtime, &plugin) {
                        self.slots[index].health.forgive();
                        let detail = format!(
                            "{failures} consecutive failed batches (last: {message}), but the \
                             plugin passes its own fixtures: its input is to blame"
                        );
                        tracing::warn!(plugin = &*plugin.name, "not quarantined: {detail}");
                        return self.audit.record_lifecycle(
                            &plugin.name,
                            &plugin.sha256,
                            "quarantine_withheld",
                            &detail,
                        );
                    }
                }
                self.slots[index].health.quarantined = true;
                let detail = format!("{failures} consecutive failed batches (last: {message})");
                tracing::warn!(plugin = &*plugin.name, "quarantined: {detail}");
                self.audit
                    .record_lifecycle(&plugin.name, &plugin.sha256, "quarantined", &detail)
            }
        }
    }

    /// Puts `plugin` in the slot at `index` with a fresh health record; the other slots,
    /// their queues and running batches are untouched.
    fn serve_in_slot(&mut self, index: usize, plugin: Arc<LoadedPlugin>) -> Result<()> {
        self.record_load(&plugin)?;
        let quarantined = self.audit.is_quarantined(&plugin.name, &plugin.sha256)?;
        let broker = self.broker_for(&plugin);
        let max_running = self.max_running(&plugin);
        let slot = &mut self.slots[index];
        slot.broker = broker;
        slot.max_running = max_running;
        slot.plugin = plugin;
        slot.health = Health {
            quarantined,
            ..Health::default()
        };
        self.router = Router::new(self.slots.iter().map(|s| s.plugin.patterns.as_slice()))?;
        Ok(())
    }
}

/// Raises the slot's plugin's [`RunStats::batches_at_once`] to its batches running now.
fn note_at_once(at_once: &mut BTreeMap<String, u64>, slot: &Slot) {
    let running = slot.running as u64;
    match at_once.get_mut(&*slot.plugin.name) {
        Some(most) => *most = (*most).max(running),
        None => {
            at_once.insert(slot.plugin.name.to_string(), running);
        }
    }
}

fn stored_finding(
    plugin: &LoadedPlugin,
    finding: crate::runtime::Finding,
    event: &Event,
    recorded_at: &str,
) -> StoredFinding {
    StoredFinding {
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
        event_time: event.time.clone(),
        context: FindingContext::from_plugin(finding.context),
        recorded_at: recorded_at.to_string(),
        suppressed_by: None,
    }
}

/// Loads `configs` on up to `threads` threads (reading, checking the cached compile's MAC
/// and linking a component are each milliseconds, a Python one's tens), in config order.
///
/// # Errors
/// The first plugin, in config order, that cannot be loaded.
fn load_all(
    runtime: &PluginRuntime,
    configs: &[PluginConfig],
    threads: usize,
) -> Result<Vec<Arc<LoadedPlugin>>> {
    let threads = threads.clamp(1, configs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut loaded: Vec<(usize, Result<LoadedPlugin>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(config) = configs.get(i) else {
                            return mine;
                        };
                        mine.push((i, runtime.load(config)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    loaded.sort_by_key(|(i, _)| *i);
    loaded
        .into_iter()
        .map(|(_, plugin)| plugin.map(Arc::new))
        .collect()
}

/// Adds `n` to a per-name count without allocating the name when it is already there.
fn bump(counts: &mut BTreeMap<String, u64>, name: &str, n: u64) {
    match counts.get_mut(name) {
        Some(count) => *count += n,
        None => {
            counts.insert(name.to_string(), n);
        }
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

/// The state clock after an event at `event_s`: the latest event time seen, but never more
/// than [`MAX_CLOCK_SKEW_S`] past the wall clock.
fn advance_clock(clock: i64, event_s: i64, wall_s: i64) -> i64 {
    clock.max(event_s.min(wall_s + MAX_CLOCK_SKEW_S))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_load_on_several_threads_and_the_first_failure_in_config_order_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let runtime =
            PluginRuntime::new(dir.path(), crate::runtime::HostStores::in_memory().unwrap())
                .unwrap();
        std::fs::write(dir.path().join("not-wasm.wasm"), "hello").unwrap();
        let configs: Vec<PluginConfig> =
            ["missing-first.wasm", "not-wasm.wasm", "missing-last.wasm"]
                .iter()
                .map(|name| PluginConfig::new(dir.path().join(name)))
                .collect();
        for threads in [1, 2, 8] {
            let error = format!("{:#}", load_all(&runtime, &configs, threads).err().unwrap());
            assert!(error.contains("missing-first.wasm"), "{threads}: {error}");
            let error = format!(
                "{:#}",
                load_all(&runtime, &configs[1..], threads).err().unwrap()
            );
            assert!(
                error.contains("not a WebAssembly file"),
                "{threads}: {error}"
            );
        }
        assert!(load_all(&runtime, &[], 2).unwrap().is_empty());
    }

    #[test]
    fn the_state_clock_follows_event_time_but_not_into_the_future() {
        let wall = 1_800_000_000;
        // Old logs replayed: their own time.
        assert_eq!(advance_clock(0, wall - 86_400, wall), wall - 86_400);
        // Never backwards.
        assert_eq!(advance_clock(wall - 10, wall - 100, wall), wall - 10);
        // An event dated 9999 moves it at most the allowed skew past the wall clock.
        let year_9999 = epoch_seconds("9999-12-31T23:59:59Z").unwrap();
        assert_eq!(
            advance_clock(wall, year_9999, wall),
            wall + MAX_CLOCK_SKEW_S
        );
    }
}
