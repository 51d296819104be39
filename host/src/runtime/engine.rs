//! The wasmtime engine shared by all plugins, and the clock that bounds their CPU time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Result;

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
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        // Deep recursion in a guest must trap, not overflow the host's stack.
        config.max_wasm_stack(512 * 1024);
        let engine = wasmtime::Engine::new(&config)?;
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
