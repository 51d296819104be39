//! Test fixture, not a plugin: `handle` sets one new state key per event (`hog:<event id>`, a
//! 1 KiB value, no TTL), so its state grows without bound until the host's quota stops it.
//! A batch holding an event named [`LONG_ERROR`] returns instead a `plugin-error` of 1 MiB.
//! Every other batch returns no finding.

use trailwarden_plugin_sdk::{Descriptor, Event, Finding, Plugin, PluginError};

/// `eventName` that makes `handle` return a 1 MiB `internal` error.
pub const LONG_ERROR: &str = "TrailwardenTestLongError";

/// The hostile guest.
pub struct StateHog;

impl Plugin for StateHog {
    fn describe() -> Descriptor {
        Descriptor::every_event(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn handle(events: Vec<Event>) -> Result<Vec<Finding>, PluginError> {
        if events.iter().any(|e| e.name.as_deref() == Some(LONG_ERROR)) {
            return Err(PluginError::Internal("E".repeat(1 << 20)));
        }
        let value = "v".repeat(1024);
        for event in &events {
            set(&format!("hog:{}", event.id), &value);
        }
        Ok(Vec::new())
    }
}

#[cfg(target_arch = "wasm32")]
fn set(key: &str, value: &str) {
    use trailwarden_plugin_sdk::State;
    trailwarden_plugin_sdk::component::HostState.set(key, value, None);
}

#[cfg(not(target_arch = "wasm32"))]
fn set(_key: &str, _value: &str) {}

trailwarden_plugin_sdk::export_plugin!(StateHog);
