//! Test fixture, not a plugin: `describe` works, `handle` never returns.
//!
//! The host's CPU limit (epoch deadline) must stop it, record it, and go on.

use trailwarden_plugin_sdk::{Descriptor, Event, Finding, Plugin, PluginError};

/// The hostile guest.
pub struct InfiniteLoop;

impl Plugin for InfiniteLoop {
    fn describe() -> Descriptor {
        Descriptor::every_event(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn handle(_events: Vec<Event>) -> Result<Vec<Finding>, PluginError> {
        spin()
    }
}

/// Loops forever. `black_box` keeps the optimiser from proving the loop has no effect.
pub fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = core::hint::black_box(n.wrapping_add(1));
    }
}

trailwarden_plugin_sdk::export_plugin!(InfiniteLoop);
