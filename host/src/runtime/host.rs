//! What a plugin's store holds, and the host side of the `log` and `state` imports.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::trailwarden::plugin::{log, state, types};
use crate::state::StateStore;

/// Log lines longer than this are cut, so a plugin cannot flood the host's logs.
const MAX_LOG_LINE: usize = 4096;
/// Log lines per batch beyond which the rest are counted, not written.
const MAX_LOG_LINES_PER_BATCH: u32 = 1000;

/// The data of one plugin instance's store.
pub struct HostState {
    plugin: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limiter: MemoryLimiter,
    state: StateStore,
    /// Seconds since the epoch by event time: the clock of the state TTLs.
    clock: i64,
    log_lines: u32,
}

impl HostState {
    pub fn new(plugin: Arc<str>, memory_limit: usize, state: StateStore, clock: i64) -> Self {
        // Deny by default: no preopened folders, no environment, no arguments, no sockets,
        // stdio closed or discarded.
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        HostState {
            plugin,
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(memory_limit),
            state,
            clock,
            log_lines: 0,
        }
    }

    /// Log lines the plugin wrote beyond the per-batch allowance.
    pub fn suppressed_log_lines(&self) -> u32 {
        self.log_lines.saturating_sub(MAX_LOG_LINES_PER_BATCH)
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

impl types::Host for HostState {}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES_PER_BATCH {
            return;
        }
        let message = truncate(&message, MAX_LOG_LINE);
        let plugin = &*self.plugin;
        match level {
            log::Level::Trace => tracing::trace!(plugin, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, "{message}"),
            log::Level::Info => tracing::info!(plugin, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, "{message}"),
            log::Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

impl state::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.state.get(&self.plugin, &key, self.clock).map_err(wasmtime::Error::from_anyhow)?)
    }

    fn set(&mut self, key: String, value: String, ttl_seconds: Option<u32>) -> wasmtime::Result<()> {
        Ok(self
            .state
            .set(&self.plugin, &key, &value, ttl_seconds, self.clock).map_err(wasmtime::Error::from_anyhow)?)
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        Ok(self.state.delete(&self.plugin, &key).map_err(wasmtime::Error::from_anyhow)?)
    }

    fn increment(
        &mut self,
        key: String,
        delta: i64,
        ttl_seconds: Option<u32>,
    ) -> wasmtime::Result<i64> {
        Ok(self
            .state
            .increment(&self.plugin, &key, delta, ttl_seconds, self.clock).map_err(wasmtime::Error::from_anyhow)?)
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

/// Caps a plugin's linear memory and remembers whether it hit the cap, so that the trap
/// that follows (a guest's allocator aborting) is reported as memory exhaustion.
pub struct MemoryLimiter {
    limit: usize,
    pub(super) denied: bool,
}

impl MemoryLimiter {
    fn new(limit: usize) -> Self {
        MemoryLimiter {
            limit,
            denied: false,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.limit;
        if !allowed {
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
    use super::truncate;

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
