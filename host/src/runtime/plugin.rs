//! One loaded plugin version: its compiled component, what it said in `describe`, and how
//! a batch is run inside its limits.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Store, Trap};

use super::bindings::{Descriptor, Detector, DetectorPre, Event, Finding, PluginError};
use super::cache::{CompileSource, ComponentCache};
use super::engine::PluginEngine;
use super::host::HostState;
use crate::config::{PluginConfig, PluginLimits};
use crate::state::StateStore;

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
        }
    }
}

#[derive(Debug, Clone)]
pub struct PluginFailure {
    pub kind: FailureKind,
    pub message: String,
}

/// The engine, compile cache and linker that every plugin shares.
pub struct PluginRuntime {
    engine: PluginEngine,
    cache: ComponentCache,
    linker: Linker<HostState>,
    state: StateStore,
}

impl PluginRuntime {
    /// # Errors
    /// The engine cannot be created, the cache folder cannot be created, or linking fails.
    pub fn new(cache_dir: &Path, state: StateStore) -> Result<PluginRuntime> {
        let engine = PluginEngine::new()?;
        let cache = ComponentCache::open(cache_dir)?;
        let mut linker = Linker::new(engine.engine());
        // Python and JavaScript guests need WASI; it is configured deny-all in HostState.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        Detector::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)?;
        Ok(PluginRuntime {
            engine,
            cache,
            linker,
            state,
        })
    }

    pub fn state(&self) -> &StateStore {
        &self.state
    }

    /// Compiles (or loads from cache), links and describes a plugin.
    ///
    /// # Errors
    /// The file cannot be read; it is not a component; it imports something the host does
    /// not provide; `describe` traps or times out; its name differs from the configured one;
    /// or one of its patterns is invalid.
    pub fn load(&self, config: &PluginConfig) -> Result<LoadedPlugin> {
        let path = &config.path;
        let wasm = std::fs::read(path)
            .with_context(|| format!("cannot read plugin {}", path.display()))?;
        let sha256 = hex::encode(Sha256::digest(&wasm));
        let (component, compile_source) = self
            .cache
            .load(self.engine.engine(), &wasm, &sha256)
            .with_context(|| format!("cannot compile plugin {}", path.display()))?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot link plugin {}", path.display()))?;
        let pre = DetectorPre::new(instance_pre)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "{} does not implement the trailwarden:plugin detector world",
                    path.display()
                )
            })?;
        let mut plugin = LoadedPlugin {
            name: Arc::from(path.display().to_string()),
            version: String::new(),
            sha256,
            path: path.clone(),
            patterns: Vec::new(),
            capabilities: Vec::new(),
            limits: config.limits,
            compile_source,
            pre,
        };
        let descriptor = plugin
            .describe(self)
            .map_err(|f| anyhow::anyhow!("{}: describe failed ({}): {}", path.display(), f.kind.as_str(), f.message))?;
        if let Some(expected) = &config.expected_name {
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
            .patterns_override
            .clone()
            .unwrap_or(descriptor.patterns);
        for pattern in &patterns {
            event_pattern::Pattern::parse(pattern).map_err(|e| {
                anyhow::anyhow!("plugin {}: invalid pattern {pattern}: {e}", descriptor.name)
            })?;
        }
        plugin.name = Arc::from(descriptor.name);
        plugin.version = descriptor.version;
        plugin.patterns = patterns;
        plugin.capabilities = descriptor.capabilities;
        Ok(plugin)
    }
}

/// A plugin version ready to run.
pub struct LoadedPlugin {
    pub name: Arc<str>,
    pub version: String,
    /// sha256 of the wasm file: the exact version, recorded with every finding.
    pub sha256: String,
    pub path: PathBuf,
    /// The patterns in force: the config's override, or the plugin's own.
    pub patterns: Vec<String>,
    pub capabilities: Vec<String>,
    pub limits: PluginLimits,
    pub compile_source: CompileSource,
    pre: DetectorPre<HostState>,
}

impl LoadedPlugin {
    fn new_store(&self, runtime: &PluginRuntime, clock: i64) -> Store<HostState> {
        let state = HostState::new(
            self.name.clone(),
            usize::try_from(self.limits.memory_bytes).unwrap_or(usize::MAX),
            runtime.state.clone(),
            clock,
        );
        let mut store = Store::new(runtime.engine.engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(PluginEngine::deadline_ticks(self.limits.cpu_deadline_ms));
        store.epoch_deadline_trap();
        store
    }

    fn describe(&self, runtime: &PluginRuntime) -> Result<Descriptor, PluginFailure> {
        let mut store = self.new_store(runtime, 0);
        let result = self
            .pre
            .instantiate(&mut store)
            .and_then(|detector| detector.call_describe(&mut store));
        result.map_err(|error| classify(&store, error))
    }

    /// Runs one batch in a fresh instance (nothing survives in guest memory between
    /// batches) within the plugin's memory and CPU limits.
    ///
    /// # Errors
    /// The plugin trapped, ran out of time or memory, returned an error, or returned more
    /// than its limits allow. The host and other plugins are unaffected.
    pub fn handle(
        &self,
        runtime: &PluginRuntime,
        events: &[Event],
        clock: i64,
    ) -> Result<Vec<Finding>, PluginFailure> {
        let mut store = self.new_store(runtime, clock);
        let result = self
            .pre
            .instantiate(&mut store)
            .and_then(|detector| detector.call_handle(&mut store, events));
        let suppressed = store.data().suppressed_log_lines();
        if suppressed > 0 {
            tracing::warn!(plugin = &*self.name, suppressed, "plugin log lines over the per-batch allowance were dropped");
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
            Ok(Ok(findings)) => Ok(findings),
            Ok(Err(PluginError::BadInput(message))) => Err(PluginFailure {
                kind: FailureKind::PluginError,
                message: format!("bad input: {message}"),
            }),
            Ok(Err(PluginError::Internal(message))) => Err(PluginFailure {
                kind: FailureKind::PluginError,
                message: format!("internal: {message}"),
            }),
            Err(error) => Err(classify(&store, error)),
        }
    }
}

/// Names what stopped a guest, so the audit says "timeout" rather than a raw trap text.
fn classify(store: &Store<HostState>, error: wasmtime::Error) -> PluginFailure {
    let trap = error.downcast_ref::<Trap>().copied();
    let kind = if store.data().limiter.denied {
        FailureKind::MemoryExhausted
    } else if trap == Some(Trap::Interrupt) {
        FailureKind::Timeout
    } else if trap == Some(Trap::StackOverflow) {
        FailureKind::StackOverflow
    } else {
        FailureKind::Trap
    };
    PluginFailure {
        kind,
        message: format!("{error:#}"),
    }
}
