//! Test fixture, not a plugin: `describe` works, `handle` allocates until it is stopped.
//!
//! The host's memory limit must stop it (the allocation fails, which aborts: a trap),
//! record it, and go on.

use trailwarden_plugin_sdk::{Descriptor, Event, Finding, Plugin, PluginError};

/// The hostile guest.
pub struct MemoryHog;

/// The size of each block it keeps.
pub const BLOCK: usize = 1 << 20;

impl Plugin for MemoryHog {
    fn describe() -> Descriptor {
        Descriptor::every_event(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn handle(_events: Vec<Event>) -> Result<Vec<Finding>, PluginError> {
        hog()
    }
}

/// Keeps pushing 1 MiB blocks, each written to on every page, into a vector that stays alive.
pub fn hog() -> ! {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; BLOCK];
        block.iter_mut().step_by(4096).for_each(|b| *b = 0xA5);
        kept.push(core::hint::black_box(block));
        core::hint::black_box(&kept);
    }
}

trailwarden_plugin_sdk::export_plugin!(MemoryHog);
