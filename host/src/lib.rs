//! trailwarden: CloudTrail threat detection and response with sandboxed WebAssembly plugins.
//!
//! The stages, in the order an event travels: normalisation (`cloudtrail-normalize`),
//! routing ([`router`]), the sandbox ([`runtime`]), and the audit store ([`audit`]), tied
//! together by [`pipeline`]. See ARCHITECTURE.md for the map.

pub mod actions_cli;
pub mod actions_list;
pub mod audit;
pub mod aws;
pub mod cli;
pub mod config;
pub mod console;
pub mod console_settings;
pub mod daemon;
pub mod daemon_settings;
pub mod dedup;
pub mod finding_context;
pub mod fixture;
pub mod history;
pub mod intake;
pub mod lookup;
pub mod metrics;
pub mod notify_cli;
pub mod organizations;
pub mod output;
pub mod pipeline;
pub mod plugin_cli;
pub mod plugin_config;
pub mod plugin_event;
pub mod rate;
pub mod replay;
pub mod report;
pub mod report_cli;
pub mod router;
pub mod rule_refs;
pub mod rule_row;
pub mod rules_cli;
pub mod runtime;
pub mod scaffold;
pub mod search;
pub mod setup;
pub mod sink_settings;
pub mod sinks;
pub mod state;
pub mod suppress_cli;
pub mod table;
pub mod token;
pub mod toolkit;

// Crates of the workspace, under the names the host's modules have always used for them.
pub use trailwarden_respond as respond;
pub use trailwarden_respond::{glob, notify, suppress};
pub use trailwarden_store::chain;
