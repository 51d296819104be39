//! Test fixture, not a plugin: `describe` works, `handle` panics.
//!
//! On wasm a panic aborts, which the host sees as a trap: it must drop the instance, record
//! it, and go on.

use trailwarden_plugin_sdk::{Descriptor, Event, Finding, Plugin, PluginError};

/// The hostile guest.
pub struct Trap;

impl Plugin for Trap {
    fn describe() -> Descriptor {
        Descriptor::every_event(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn handle(events: Vec<Event>) -> Result<Vec<Finding>, PluginError> {
        panic!(
            "trap test guest: deliberate panic on a batch of {} event(s)",
            events.len()
        )
    }
}

trailwarden_plugin_sdk::export_plugin!(Trap);
