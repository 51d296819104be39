//! Host-side bindings of the WIT world `detector` (`wit/plugin.wit`).

wasmtime::component::bindgen!({
    path: "../wit/plugin.wit",
    world: "detector",
    imports: {
        // A state failure (disk, size limit) traps the plugin: it is recorded as a failed
        // batch rather than answered with a wrong value.
        "trailwarden:plugin/state": trappable,
    },
});

pub use trailwarden::plugin::types::{Principal, Severity};

impl Severity {
    /// The lower-case name used in the audit store and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}
