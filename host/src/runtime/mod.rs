//! The sandbox: wasmtime components with deny-all WASI, per-plugin memory and CPU limits,
//! a compile cache, and both contract versions (0.1.0 and 0.2.0).

mod bindings;
mod cache;
mod capability;
mod convert;
mod engine;
mod host;
mod plugin;
mod types;
mod waits;

pub use cache::CompileSource;
pub use capability::{finding_value, CapabilityCall, CapabilityHandler, DenyAll};
pub use plugin::{capability_family, FailureKind, LoadedPlugin, PluginFailure, PluginRuntime};
pub use types::{Descriptor, Event, Finding, Principal, Receipt, RuleInfo, Severity};
