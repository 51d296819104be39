//! Test fixture, not a plugin: `describe` works, `handle` never returns.
//!
//! The host's CPU limit (epoch deadline) must stop it, record it, and go on.

use trailwarden_plugin_sdk::{Descriptor, Event, Finding, Plugin, PluginError};

/// The hostile guest.
pub struct InfiniteLoop;

impl Plugin for InfiniteLoop {
    fn describe() -> Descriptor {
        Descriptor {
            name: env!("CARGO_PKG_NAME").to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            patterns: vec![r#"{"version":["0"]}"#.to_owned()],
            capabilities: Vec::new(),
            fixtures: Vec::new(),
            self_caused_events: false,
        }
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
