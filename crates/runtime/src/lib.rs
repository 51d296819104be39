//! The sandbox: wasmtime components with deny-all WASI, per-plugin memory and CPU limits,
//! a compile cache, and every contract version (0.1.0 to 0.6.0).
//!
//! It knows no configuration file, grant or database: a plugin is loaded from a
//! [`PluginSource`] (the host's plugin configuration), its imports reach the host's stores
//! through [`PluginStores`], and its capability calls go to a [`CapabilityHandler`].

mod bindings;
mod cache;
mod capability;
mod convert;
mod engine;
mod event_view;
mod host;
pub mod limits;
mod plugin;
mod source;
mod stores;
mod types;
mod waits;

pub use cache::CompileSource;
pub use capability::{finding_value, ArgsRef, CapabilityCall, CapabilityHandler, DenyAll};
pub use limits::{HistoryQuota, PluginLimits, QuotaExceeded, StateQuota};
pub use plugin::{capability_family, FailureKind, LoadedPlugin, PluginFailure, PluginRuntime};
pub use source::{PluginSource, FAMILIES};
pub use stores::{HistoryError, PluginStores, RateInfo, RateQuery, SeenInfo, SeenQuery};
pub use types::{Descriptor, Event, Finding, Principal, Receipt, RuleInfo, Severity};
