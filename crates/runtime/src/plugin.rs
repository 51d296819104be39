//! One loaded plugin version: its compiled component, what it said in `describe`, and how
//! a batch is run inside its limits.

use std::borrow::Borrow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Store, Trap};

use super::bindings::{
    v1, v2, v3::exports::trailwarden::plugin0_3_0::rules as rules_export, v4, v5, v6,
};
use super::cache::{CompileSource, ComponentCache};
use super::capability::{CapabilityHandler, DenyAll};
use super::convert;
use super::engine::PluginEngine;
use super::event_view::EventView;
use super::host::{HostState, StoreSetup};
use super::types::{Descriptor, Event, Finding, RuleInfo};
use crate::limits::PluginLimits;
use crate::source::{PluginSource, FAMILIES};
use crate::stores::PluginStores;

/// The WIT package every plugin import of ours lives in.
const PACKAGE: &str = "trailwarden:plugin/";

/// Why a batch produced no findings from a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Ran past its CPU deadline.
    Timeout,
    /// Asked for more memory than its limit.
    MemoryExhausted,
    StackOverflow,
    /// Any other trap (a panic, `unreachable`, a failed host call).
    Trap,
    /// Returned `plugin-error`.
    PluginError,
    /// Returned more than its limits allow.
    OutputTooLarge,
    /// Wrote more state than its quota (keys or bytes).
    StateQuotaExceeded,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::MemoryExhausted => "memory_exhausted",
            FailureKind::StackOverflow => "stack_overflow",
            FailureKind::Trap => "trap",
            FailureKind::PluginError => "plugin_error",
            FailureKind::OutputTooLarge => "output_too_large",
            FailureKind::StateQuotaExceeded => "state_quota_exceeded",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PluginFailure {
    pub kind: FailureKind,
    /// At most [`MAX_FAILURE_MESSAGE`] bytes (guests choose `plugin-error` texts).
    pub message: String,
}

/// The longest failure message kept in logs and `plugin_failures`; the rest is cut and
/// the cut is said.
pub const MAX_FAILURE_MESSAGE: usize = 4096;

/// `message` cut to [`MAX_FAILURE_MESSAGE`] bytes (on a character boundary), marked when cut.
pub fn bounded_message(message: String) -> String {
    if message.len() <= MAX_FAILURE_MESSAGE {
        return message;
    }
    let mut end = MAX_FAILURE_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}... [truncated: {} bytes in all]",
        &message[..end],
        message.len()
    )
}

/// The engine, compile cache and linker that every plugin shares, and the host's stores its
/// imports use.
pub struct PluginRuntime<S> {
    engine: Arc<PluginEngine>,
    cache: Arc<ComponentCache>,
    linker: Linker<HostState>,
    stores: Arc<S>,
}

impl<S: PluginStores> PluginRuntime<S> {
    /// # Errors
    /// The engine cannot be created, the cache folder cannot be created, or linking fails.
    pub fn new(cache_dir: &Path, stores: S) -> Result<PluginRuntime<S>> {
        let engine = PluginEngine::new()?;
        let cache = ComponentCache::open(cache_dir)?;
        let mut linker = Linker::new(engine.engine());
        // Python and JavaScript guests need WASI; it is configured deny-all in HostState.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        // ...whose blocking waits end at the batch deadline, which epochs cannot enforce.
        super::waits::bound_blocking_waits(&mut linker)?;
        v1::Detector::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)?;
        v2::Responder::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)?;
        // 0.4.0 adds one import to 0.3.0's (which are 0.2.0's): only it is linked here.
        v4::trailwarden::plugin0_4_0::history::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |state| state,
        )?;
        // 0.5.0 adds one import to 0.4.0's.
        v5::trailwarden::plugin0_5_0::baseline::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |state| state,
        )?;
        // 0.6.0 adds its `iam` (more of the family) to 0.5.0's.
        v6::trailwarden::plugin0_6_0::iam::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |state| state,
        )?;
        Ok(PluginRuntime {
            engine: Arc::new(engine),
            cache: Arc::new(cache),
            linker,
            stores: Arc::new(stores),
        })
    }

    /// The host's stores the plugins' imports use.
    pub fn stores(&self) -> &S {
        &self.stores
    }

    /// The same engine, cache and linker with stores that keep nothing (see
    /// [`PluginStores::scratch`]): for canary runs of a new version's fixtures, which must
    /// not touch the plugin's real state.
    ///
    /// # Errors
    /// The scratch stores cannot be created.
    pub fn scratch(&self) -> Result<PluginRuntime<S>> {
        Ok(PluginRuntime {
            engine: self.engine.clone(),
            cache: self.cache.clone(),
            linker: self.linker.clone(),
            stores: Arc::new(self.stores.scratch()?),
        })
    }

    /// Compile cache entries refused (and recompiled) because their MAC did not verify.
    pub fn rejected_cache_entries(&self) -> u64 {
        self.cache.rejected_entries()
    }

    /// Compiles (or loads from cache), links and describes a plugin.
    ///
    /// # Errors
    /// The file cannot be read; it is not a component; it imports something the host does
    /// not provide; `describe` traps or times out; its name differs from the configured one;
    /// or one of its patterns is invalid.
    pub fn load<C: PluginSource>(&self, config: &C) -> Result<LoadedPlugin<C>> {
        let path = config.path();
        let wasm = std::fs::read(path)
            .with_context(|| format!("cannot read plugin {}", path.display()))?;
        let sha256 = hex::encode(Sha256::digest(&wasm));
        let (component, compile_source) = self
            .cache
            .load(self.engine.engine(), &wasm, &sha256)
            .with_context(|| format!("cannot compile plugin {}", path.display()))?;
        let imports = component_imports(self.engine.engine(), &component);
        check_imports(&imports, config)?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot link plugin {}", path.display()))?;
        // The newest contract first; a component exports exactly one world's functions.
        let bound = match v2::ResponderPre::new(instance_pre.clone()) {
            Ok(pre) => Bound::V2(pre),
            Err(_) => Bound::V1(
                v1::DetectorPre::new(instance_pre.clone())
                    .map_err(anyhow::Error::from)
                    .with_context(|| {
                        format!(
                            "{} implements neither trailwarden:plugin@0.2.0 nor @0.1.0",
                            path.display()
                        )
                    })?,
            ),
        };
        // 0.3.0 adds the rule catalog export to the 0.2.0 world; older components lack it.
        let catalog = match &bound {
            Bound::V2(_) => rules_export::GuestIndices::new(&instance_pre).ok(),
            Bound::V1(_) => None,
        };
        let mut plugin = LoadedPlugin {
            name: Arc::from(path.display().to_string()),
            version: String::new(),
            sha256,
            path: path.to_path_buf(),
            patterns: Vec::new(),
            capabilities: Vec::new(),
            limits: config.limits(),
            config: config.clone(),
            compile_source,
            bound,
            imports,
            settings_json: Arc::from(config.settings_json()),
            fixtures: Vec::new(),
            self_caused_events: false,
            rules: None,
            catalog,
        };
        let descriptor = plugin.describe(self).map_err(|f| {
            anyhow::anyhow!(
                "{}: describe failed ({}): {}",
                path.display(),
                f.kind.as_str(),
                f.message
            )
        })?;
        if let Some(expected) = config.expected_name() {
            anyhow::ensure!(
                *expected == descriptor.name,
                "{} calls itself {:?}, but the config expects {expected:?}",
                path.display(),
                descriptor.name
            );
        }
        anyhow::ensure!(
            !descriptor.name.is_empty() && descriptor.name.len() <= 128,
            "{}: plugin name must be 1 to 128 characters",
            path.display()
        );
        let patterns = config
            .patterns_override()
            .map_or(descriptor.patterns, <[String]>::to_vec);
        for pattern in &patterns {
            event_pattern::Pattern::parse(pattern).map_err(|e| {
                anyhow::anyhow!("plugin {}: invalid pattern {pattern}: {e}", descriptor.name)
            })?;
        }
        plugin.name = Arc::from(descriptor.name);
        plugin.version = descriptor.version;
        plugin.patterns = patterns;
        plugin.capabilities = descriptor.capabilities;
        plugin.fixtures = descriptor.fixtures;
        plugin.self_caused_events = descriptor.self_caused_events;
        plugin.rules = plugin.rule_catalog(self).map_err(|f| {
            anyhow::anyhow!(
                "{}: rules failed ({}): {}",
                path.display(),
                f.kind.as_str(),
                f.message
            )
        })?;
        for rule in plugin.rules.iter().flatten() {
            if let Some(reason) = &rule.refused {
                tracing::warn!(plugin = %plugin.name, rule = %rule.id, "rule refused: {reason}");
            }
        }
        Ok(plugin)
    }
}

/// A plugin version ready to run, with the configuration `C` it was loaded from.
pub struct LoadedPlugin<C> {
    pub name: Arc<str>,
    pub version: String,
    /// sha256 of the wasm file: the exact version, recorded with every finding.
    pub sha256: String,
    pub path: PathBuf,
    /// The patterns in force: the config's override, or the plugin's own.
    pub patterns: Vec<String>,
    pub capabilities: Vec<String>,
    pub limits: PluginLimits,
    /// The configuration it was loaded with (a reload keeps it if neither this nor the
    /// wasm changed).
    pub config: C,
    pub compile_source: CompileSource,
    /// The component's imports, e.g. `trailwarden:plugin/iam@0.2.0`, `wasi:cli/environment@0.2.6`.
    pub imports: Vec<String>,
    /// Fixture JSON texts the plugin ships (0.2.0).
    pub fixtures: Vec<String>,
    /// The plugin asked to receive events caused by trailwarden itself.
    pub self_caused_events: bool,
    /// Its rule catalog (0.3.0 and later; `None` for older components), as it answered
    /// with its configuration at load.
    pub rules: Option<Vec<RuleInfo>>,
    settings_json: Arc<str>,
    bound: Bound,
    catalog: Option<rules_export::GuestIndices>,
}

/// A linked component, by contract version.
enum Bound {
    V1(v1::DetectorPre<HostState>),
    V2(v2::ResponderPre<HostState>),
}

impl<C: PluginSource> LoadedPlugin<C> {
    /// The contract version the component implements (a 0.4.0 or 0.5.0 component is told by
    /// its import of `history` or `baseline`: one that never calls it looks like the one before).
    pub fn contract_version(&self) -> &'static str {
        if self.imports.iter().any(|i| i.ends_with("@0.6.0")) {
            return "0.6.0";
        }
        if self.imports.iter().any(|i| i.ends_with("@0.5.0")) {
            return "0.5.0";
        }
        if self.imports.iter().any(|i| i.ends_with("@0.4.0")) {
            return "0.4.0";
        }
        match (&self.bound, &self.catalog) {
            (Bound::V1(_), _) => "0.1.0",
            (Bound::V2(_), None) => "0.2.0",
            (Bound::V2(_), Some(_)) => "0.3.0",
        }
    }

    /// Calls the component's `rules` export (0.3.0) in a fresh instance with no capability.
    fn rule_catalog<S: PluginStores>(
        &self,
        runtime: &PluginRuntime<S>,
    ) -> Result<Option<Vec<RuleInfo>>, PluginFailure> {
        let (Some(catalog), Bound::V2(pre)) = (&self.catalog, &self.bound) else {
            return Ok(None);
        };
        let mut store = self.new_store(runtime, 0, Box::new(DenyAll));
        let result = pre
            .instance_pre()
            .instantiate(&mut store)
            .and_then(|instance| catalog.load(&mut store, &instance))
            .and_then(|guest| guest.call_rules(&mut store));
        match result {
            Ok(rules) => Ok(Some(rules.into_iter().map(convert::rule_from_v3).collect())),
            Err(error) => Err(classify(&store, error)),
        }
    }

    /// Whether nothing one batch of this plugin does can change another's outcome: every
    /// batch runs in a fresh instance, and it imports none of the host's interfaces but its
    /// config, log and types (no state, history, baseline or capability). The pipeline may
    /// run several of its batches at once.
    pub fn batches_independent(&self) -> bool {
        batch_local(&self.imports)
    }

    /// Whether the plugin holds any response grant (so self-caused events are withheld
    /// from it unless it opted in).
    pub fn responds(&self) -> bool {
        self.config.responds()
    }

    fn new_store<S: PluginStores>(
        &self,
        runtime: &PluginRuntime<S>,
        clock: i64,
        capabilities: Box<dyn CapabilityHandler>,
    ) -> Store<HostState> {
        self.new_store_with(runtime, clock, capabilities, self.settings_json.clone())
    }

    fn new_store_with<S: PluginStores>(
        &self,
        runtime: &PluginRuntime<S>,
        clock: i64,
        capabilities: Box<dyn CapabilityHandler>,
        settings_json: Arc<str>,
    ) -> Store<HostState> {
        let state = HostState::new(StoreSetup {
            plugin: self.name.clone(),
            memory_limit: usize::try_from(self.limits.memory_bytes).unwrap_or(usize::MAX),
            stores: runtime.stores.clone(),
            clock,
            settings_json,
            capabilities,
            max_calls_per_event: self.limits.max_calls_per_event,
            deadline: std::time::Duration::from_millis(self.limits.cpu_deadline_ms),
            state_quota: self.limits.state,
            history_quota: self.limits.history,
        });
        let mut store = Store::new(runtime.engine.engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(PluginEngine::deadline_ticks(self.limits.cpu_deadline_ms));
        store.epoch_deadline_trap();
        store
    }

    fn describe<S: PluginStores>(
        &self,
        runtime: &PluginRuntime<S>,
    ) -> Result<Descriptor, PluginFailure> {
        self.describe_with(runtime, self.settings_json.clone())
    }

    /// `describe` in a fresh instance that reads `settings_json` as its config.
    fn describe_with<S: PluginStores>(
        &self,
        runtime: &PluginRuntime<S>,
        settings_json: Arc<str>,
    ) -> Result<Descriptor, PluginFailure> {
        let mut attempt = 1;
        loop {
            let mut store =
                self.new_store_with(runtime, 0, Box::new(DenyAll), settings_json.clone());
            let result = match &self.bound {
                Bound::V1(pre) => pre
                    .instantiate(&mut store)
                    .and_then(|p| p.call_describe(&mut store))
                    .map(convert::descriptor_from_v1),
                Bound::V2(pre) => pre
                    .instantiate(&mut store)
                    .and_then(|p| p.call_describe(&mut store))
                    .map(convert::descriptor_from_v2),
            };
            match result {
                Err(error) if attempt < IMAGE_ATTEMPTS && memory_image_refused(&error) => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                result => return result.map_err(|error| classify(&store, error)),
            }
        }
    }

    /// Runs one batch in a fresh instance (nothing survives in guest memory between
    /// batches) within the plugin's memory and CPU limits.
    ///
    /// # Errors
    /// The plugin trapped, ran out of time or memory, returned an error, or returned more
    /// than its limits allow. The host and other plugins are unaffected.
    pub fn handle<E: Borrow<Event>>(
        &self,
        runtime: &PluginRuntime<impl PluginStores>,
        events: &[E],
        clock: i64,
        capabilities: Box<dyn CapabilityHandler>,
    ) -> Result<Vec<Finding>, PluginFailure> {
        self.handle_with_config(
            runtime,
            events,
            clock,
            capabilities,
            self.settings_json.clone(),
        )
    }

    /// The patterns that route events to this plugin when it runs with `settings_json`
    /// (JSON object text) as its config: those in force for the admin's config (or the
    /// config's `patterns` override, whatever the plugin config), else what `describe`
    /// answers with that config, since a plugin may subscribe according to its config (a
    /// fixture with its own config is routed as a plugin loaded with it would be).
    ///
    /// # Errors
    /// `describe` fails with that config.
    pub fn patterns_with_config<S: PluginStores>(
        &self,
        runtime: &PluginRuntime<S>,
        settings_json: &str,
    ) -> Result<Vec<String>, PluginFailure> {
        if self.config.patterns_override().is_some() || settings_json == &*self.settings_json {
            return Ok(self.patterns.clone());
        }
        Ok(self
            .describe_with(runtime, Arc::from(settings_json))?
            .patterns)
    }

    /// The plugin's config (JSON object text) as the admin gave it.
    pub fn settings_json(&self) -> &str {
        &self.settings_json
    }

    /// [`LoadedPlugin::handle`] with another config than the admin's (JSON object text):
    /// shipped fixtures run with their own.
    ///
    /// # Errors
    /// As for [`LoadedPlugin::handle`].
    pub fn handle_with_config<E: Borrow<Event>>(
        &self,
        runtime: &PluginRuntime<impl PluginStores>,
        events: &[E],
        clock: i64,
        capabilities: Box<dyn CapabilityHandler>,
        settings_json: Arc<str>,
    ) -> Result<Vec<Finding>, PluginFailure> {
        let mut store = self.new_store_with(runtime, clock, capabilities, settings_json);
        let result: wasmtime::Result<Result<Vec<Finding>, (&str, String)>> = match &self.bound {
            Bound::V1(pre) => {
                let events: Vec<v1::Event> = events
                    .iter()
                    .map(|e| convert::event_to_v1(e.borrow()))
                    .collect();
                pre.instantiate(&mut store)
                    .and_then(|p| p.call_handle(&mut store, &events))
                    .map(|r| {
                        r.map(|f| f.into_iter().map(convert::finding_from_v1).collect())
                            .map_err(|e| match e {
                                v1::PluginError::BadInput(m) => ("bad input", m),
                                v1::PluginError::Internal(m) => ("internal", m),
                            })
                    })
            }
            Bound::V2(pre) => {
                let events: Vec<EventView<'_>> =
                    events.iter().map(|e| EventView::of(e.borrow())).collect();
                pre.instance_pre()
                    .instantiate(&mut store)
                    .and_then(|instance| {
                        let handle = instance.get_typed_func::<
                            (&[EventView<'_>],),
                            (Result<Vec<v2::Finding>, v2::PluginError>,),
                        >(&mut store, "handle")?;
                        Ok(handle.call(&mut store, (&events,))?.0)
                    })
                    .map(|r| {
                        r.map(|f| f.into_iter().map(convert::finding_from_v2).collect())
                            .map_err(|e| match e {
                                v2::PluginError::BadInput(m) => ("bad input", m),
                                v2::PluginError::Internal(m) => ("internal", m),
                            })
                    })
            }
        };
        // The batch's decisions, in one transaction, whatever became of the batch: a re-run
        // of a failed batch's halves finds them by idempotency key, as it would have had each
        // been committed when made. Unrecordable, the batch fails (as a failed call would
        // have trapped it).
        if let Err(error) = store.data_mut().finish_capabilities() {
            return Err(PluginFailure {
                kind: FailureKind::Trap,
                message: bounded_message(format!(
                    "cannot record the batch's capability decisions: {error:#}"
                )),
            });
        }
        // The batch's state writes, in one transaction: unrecordable, the batch fails, as a
        // failed write would have trapped it (they stay pending, for the next commit).
        if let Err(error) = runtime.stores.commit_state() {
            return Err(PluginFailure {
                kind: FailureKind::Trap,
                message: bounded_message(format!("cannot record the batch's state: {error:#}")),
            });
        }
        // The batch's first-seen sightings and rates, in one transaction each (a no-op when
        // it asked none).
        if let Err(error) = runtime.stores.commit_history() {
            tracing::error!(
                plugin = &*self.name,
                "cannot record first-seen history: {error:#}"
            );
        }
        let suppressed = store.data().suppressed_log_lines();
        if suppressed > 0 {
            tracing::warn!(
                plugin = &*self.name,
                suppressed,
                "plugin log lines over the per-batch allowance were dropped"
            );
        }
        match result {
            Ok(Ok(findings)) if findings.len() > self.limits.max_findings_per_batch => {
                Err(PluginFailure {
                    kind: FailureKind::OutputTooLarge,
                    message: format!(
                        "returned {} findings for {} events; the limit is {} per batch",
                        findings.len(),
                        events.len(),
                        self.limits.max_findings_per_batch
                    ),
                })
            }
            Ok(Ok(findings)) => self.check_output(findings, events),
            Ok(Err((what, message))) => Err(PluginFailure {
                kind: FailureKind::PluginError,
                message: bounded_message(format!("{what}: {message}")),
            }),
            Err(error) => Err(classify(&store, error)),
        }
    }
}

impl<C> LoadedPlugin<C> {
    /// Enforces the per-event and size limits on what a batch returned. The per-event limit
    /// is per event of the batch: events that share an id (CloudTrail's are unique, but a
    /// sender chooses them) each allow their own share, so copies of one id cannot push a
    /// plugin over its limit and fail the batch that holds a real event.
    fn check_output<E: Borrow<Event>>(
        &self,
        findings: Vec<Finding>,
        batch: &[E],
    ) -> Result<Vec<Finding>, PluginFailure> {
        let events = batch.len();
        let too_large = |message: String| PluginFailure {
            kind: FailureKind::OutputTooLarge,
            message,
        };
        let bytes: usize = findings
            .iter()
            .map(|f| {
                f.rule_id.len()
                    + f.title.len()
                    + f.description.len()
                    + f.dedup_key.len()
                    + f.event_id.len()
                    + f.context.len()
                    + f.resources.iter().map(String::len).sum::<usize>()
            })
            .sum();
        if bytes > self.limits.max_output_bytes {
            return Err(too_large(format!(
                "returned {bytes} bytes of findings for {events} events; the limit is {} per batch",
                self.limits.max_output_bytes
            )));
        }
        let mut per_event: std::collections::HashMap<&str, usize> =
            std::collections::HashMap::new();
        for finding in &findings {
            *per_event.entry(finding.event_id.as_str()).or_default() += 1;
        }
        let limit = self.limits.max_findings_per_event;
        let sharing_id = |id: &str| {
            batch
                .iter()
                .filter(|e| Borrow::<Event>::borrow(*e).id == id)
                .count()
        };
        if let Some((event, n)) = per_event
            .iter()
            .find(|(event, n)| **n > limit && **n > limit.saturating_mul(sharing_id(event)))
        {
            return Err(too_large(format!(
                "returned {n} findings for event {event}; the limit is {} per event",
                self.limits.max_findings_per_event
            )));
        }
        Ok(findings)
    }
}

/// Names what stopped a guest, so the audit says "timeout" rather than a raw trap text.
fn classify(store: &Store<HostState>, error: wasmtime::Error) -> PluginFailure {
    let trap = error.downcast_ref::<Trap>().copied();
    let kind = if store.data().limiter.denied {
        FailureKind::MemoryExhausted
    } else if store.data().state_quota_exceeded {
        FailureKind::StateQuotaExceeded
    } else if trap == Some(Trap::Interrupt) || store.data().timed_out_waiting {
        FailureKind::Timeout
    } else if trap == Some(Trap::StackOverflow) {
        FailureKind::StackOverflow
    } else {
        FailureKind::Trap
    };
    PluginFailure {
        kind,
        message: bounded_message(format!("{error:#}")),
    }
}

/// Attempts at a load's first instance when Linux refuses to seal a memory image.
const IMAGE_ATTEMPTS: usize = 3;

/// Whether instantiating failed because Linux refused to seal the new memory image (the
/// memfd every instance of a core module starts from, made by its first instance): EBUSY
/// while the pages just written into it are still held by another CPU's page batch, seen
/// under load. Transient, and not the component's doing: the image is made afresh on the
/// next attempt. Once made, it serves every later instance, so only a load can meet this.
fn memory_image_refused(error: &wasmtime::Error) -> bool {
    format!("{error:#}").contains("seals to the memfd")
}

/// The names of a component's imports.
fn component_imports(engine: &wasmtime::Engine, component: &Component) -> Vec<String> {
    let mut names: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    names.sort();
    names
}

/// The host interfaces through which a batch reaches nothing beyond itself: the plugin's
/// config (read-only), its log lines, the shared types.
const BATCH_LOCAL_INTERFACES: [&str; 3] = ["config", "log", "types"];

/// Whether a component with these imports keeps nothing between batches: of the host's
/// interfaces only [`BATCH_LOCAL_INTERFACES`]; WASI's as the host links them hold nothing
/// past the instance (no files, no sockets).
fn batch_local(imports: &[String]) -> bool {
    imports.iter().all(|import| {
        host_interface(import).is_none_or(|name| BATCH_LOCAL_INTERFACES.contains(&name))
    })
}

/// The host interface an import names, e.g. `iam` for `trailwarden:plugin/iam@0.2.0`;
/// `None` for an import of another package (WASI's).
fn host_interface(import: &str) -> Option<&str> {
    let interface = import.strip_prefix(PACKAGE)?;
    interface.split('@').next()
}

/// The capability family of an import, e.g. `iam` for `trailwarden:plugin/iam@0.2.0`.
pub fn capability_family(import: &str) -> Option<&str> {
    host_interface(import).filter(|family| FAMILIES.contains(family))
}

/// Grants are checked at load: the source refuses a capability interface its grants do not
/// allow (see [`PluginSource::check_import`]).
fn check_imports<C: PluginSource>(imports: &[String], config: &C) -> Result<()> {
    for import in imports {
        if let Some(family) = capability_family(import) {
            config.check_import(import, family)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{batch_local, bounded_message, memory_image_refused, MAX_FAILURE_MESSAGE};

    #[test]
    fn only_a_refused_memory_image_seal_is_retried() {
        // As wasmtime reports it: the memfd crate's error under wasmtime's context.
        let refused = wasmtime::Error::msg("cannot add seals to the memfd")
            .context("failed to create a memory image");
        assert!(memory_image_refused(&refused));
        for other in [
            wasmtime::Error::msg("wasm trap: unreachable"),
            wasmtime::Error::msg("failed to create a memory image")
                .context("Cannot allocate memory"),
        ] {
            assert!(!memory_image_refused(&other), "{other:#}");
        }
    }

    fn imports(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn only_a_plugin_that_reaches_nothing_past_its_batch_is_batch_local() {
        let local = [
            "trailwarden:plugin/config@0.2.0",
            "trailwarden:plugin/log@0.2.0",
            "trailwarden:plugin/types@0.2.0",
            "wasi:cli/environment@0.2.6",
            "wasi:random/insecure-seed@0.2.6",
        ];
        assert!(batch_local(&imports(&local)));
        assert!(batch_local(&[]));
        for reaching in [
            "trailwarden:plugin/state@0.2.0",
            "trailwarden:plugin/state@0.1.0",
            "trailwarden:plugin/history@0.4.0",
            "trailwarden:plugin/baseline@0.5.0",
            "trailwarden:plugin/notify@0.2.0",
            "trailwarden:plugin/iam@0.2.0",
            "trailwarden:plugin/lookup@0.6.0",
            "trailwarden:plugin/configx@0.2.0",
        ] {
            let mut with = imports(&local);
            with.push(reaching.to_string());
            assert!(!batch_local(&with), "{reaching}");
        }
    }

    #[test]
    fn long_failure_messages_are_cut_and_marked() {
        assert_eq!(bounded_message("short".into()), "short");
        let long = "é".repeat(MAX_FAILURE_MESSAGE);
        let cut = bounded_message(long.clone());
        assert!(cut.len() < MAX_FAILURE_MESSAGE + 64, "{}", cut.len());
        assert!(cut.ends_with(&format!("... [truncated: {} bytes in all]", long.len())));
        assert!(long.starts_with(cut.split("...").next().unwrap()));
    }
}
