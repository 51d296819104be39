//! The sandbox: wasmtime components with deny-all WASI, per-plugin memory and CPU limits,
//! and a compile cache.

mod bindings;
mod cache;
mod engine;
mod host;
mod plugin;

pub use bindings::{Event, Finding, Principal, Severity};
pub use cache::CompileSource;
pub use plugin::{FailureKind, LoadedPlugin, PluginFailure, PluginRuntime};
