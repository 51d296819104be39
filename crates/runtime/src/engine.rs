//! The wasmtime engine shared by all plugins, and the clock that bounds their CPU time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Result;

/// The largest linear memory a pooled instance can have; a plugin configured with a larger
/// memory limit is held to this one.
pub const MAX_POOLED_MEMORY: usize = 1 << 30;

/// How much of a freed instance's linear memory, and of its tables, stays resident for the
/// next instance of its slot (reset to its initial contents first), where the kernel can
/// say which pages were written (`PAGEMAP_SCAN`).
const KEPT_RESIDENT: usize = 1 << 20;
const KEPT_RESIDENT_TABLE: usize = 64 << 10;

/// How instances get their memory, in the order [`PluginEngine::new`] tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allocation {
    /// Pre-reserved slots whose memory is reset in place ([`KEPT_RESIDENT`]).
    PoolingResident,
    /// Pre-reserved slots, reset with madvise.
    Pooling,
    /// Allocated per instance.
    OnDemand,
}

/// How often the epoch advances; a plugin's CPU deadline is a whole number of ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine plus a thread that advances its epoch, so that a guest running past its
/// deadline traps at the next loop back-edge or function entry.
pub struct PluginEngine {
    engine: wasmtime::Engine,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl PluginEngine {
    /// Creates the engine with component-model support and epoch interruption.
    ///
    /// # Errors
    /// The configuration is refused by wasmtime (e.g. unsupported host).
    pub fn new() -> Result<PluginEngine> {
        let engine = match wasmtime::Engine::new(&Self::config(Allocation::PoolingResident)) {
            Ok(engine) => engine,
            Err(resident) => {
                // No PAGEMAP_SCAN (Linux before 6.7): freed memories are reset by madvise.
                tracing::debug!("plugin memories are not kept resident ({resident})");
                match wasmtime::Engine::new(&Self::config(Allocation::Pooling)) {
                    Ok(engine) => engine,
                    Err(e) => {
                        // The pooling allocator reserves its address space up front; where
                        // the system refuses (a ulimit on virtual memory), allocate on
                        // demand instead.
                        tracing::warn!(
                            "the pooling allocator is unavailable ({e}); plugin instances are allocated on demand"
                        );
                        wasmtime::Engine::new(&Self::config(Allocation::OnDemand))?
                    }
                }
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("trailwarden-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })?
        };
        Ok(PluginEngine {
            engine,
            stop,
            ticker: Some(ticker),
        })
    }

    fn config(allocation: Allocation) -> wasmtime::Config {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // Deep recursion in a guest must trap, not overflow the host's stack.
        config.max_wasm_stack(512 * 1024);
        // `perf` can name guest functions when asked (a profiling aid, off by default).
        if std::env::var_os("TRAILWARDEN_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        if allocation != Allocation::OnDemand {
            // Instances come from pre-reserved slots: a fresh instance per batch costs
            // microseconds. Each slot reserves MAX_POOLED_MEMORY of address space (not
            // memory); a plugin's own limit is enforced below that by the store's limiter.
            let mut pool = wasmtime::PoolingAllocationConfig::new();
            pool.max_memory_size(MAX_POOLED_MEMORY);
            pool.total_memories(256);
            pool.total_tables(256);
            pool.total_core_instances(512);
            pool.total_component_instances(128);
            pool.max_memories_per_component(16);
            pool.max_core_instances_per_component(64);
            if allocation == Allocation::PoolingResident {
                // A freed instance's memory is reset in place, only its dirty pages found by
                // PAGEMAP_SCAN, rather than given back with madvise and faulted in again by
                // the next instance: a one-event batch of the shipped set is about a quarter
                // faster (ARCHITECTURE.md, "Pooling instance allocator").
                pool.linear_memory_keep_resident(KEPT_RESIDENT);
                pool.table_keep_resident(KEPT_RESIDENT_TABLE);
                pool.pagemap_scan(wasmtime::Enabled::Yes);
            }
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        }
        config
    }

    pub fn engine(&self) -> &wasmtime::Engine {
        &self.engine
    }

    /// Ticks that cover `deadline_ms`, at least one.
    pub fn deadline_ticks(deadline_ms: u64) -> u64 {
        (deadline_ms / EPOCH_TICK.as_millis() as u64).max(1)
    }
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
    }
}
