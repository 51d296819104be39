//! Test fixture, not a plugin: `handle` blocks inside WASI host calls when a batch holds a
//! marked event, where the epoch deadline alone cannot reach it (the guest is not running
//! wasm code while the host waits on its behalf).
//!
//! The marker is the event's `eventName`:
//!
//! | `eventName` | what `handle` does |
//! |---|---|
//! | [`SLEEP`] | `std::thread::sleep` for an hour: one `wasi:clocks` subscription, one blocking wait |
//! | [`NAP`] | sleeps 5 ms at a time, forever: many short waits |
//! | [`READ_STDIN`] | reads stdin in a loop, forever |
//!
//! A batch without a marked event gets one `test.sleeper-awake` finding (on its first event), so a test
//! can tell that the plugin still runs once the marked batch is over.

use std::io::Read;
use std::time::Duration;

use trailwarden_plugin_sdk::{Descriptor, Event, Finding, Plugin, PluginError, Severity};

/// `eventName` that makes `handle` sleep for an hour.
pub const SLEEP: &str = "TrailwardenTestSleep";
/// `eventName` that makes `handle` sleep in 5 ms naps, forever.
pub const NAP: &str = "TrailwardenTestNap";
/// `eventName` that makes `handle` read stdin forever.
pub const READ_STDIN: &str = "TrailwardenTestReadStdin";
/// The rule id of the findings of an unmarked batch.
pub const RULE_ID: &str = "test.sleeper-awake";

/// The hostile guest.
pub struct Sleeper;

impl Plugin for Sleeper {
    fn describe() -> Descriptor {
        Descriptor::every_event(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn handle(events: Vec<Event>) -> Result<Vec<Finding>, PluginError> {
        for event in &events {
            match event.name.as_deref() {
                Some(SLEEP) => std::thread::sleep(Duration::from_secs(3600)),
                Some(NAP) => loop {
                    std::thread::sleep(Duration::from_millis(5));
                },
                Some(READ_STDIN) => {
                    let mut buffer = [0u8; 64];
                    loop {
                        let _ = std::io::stdin().read(&mut buffer);
                    }
                }
                _ => {}
            }
        }
        Ok(events
            .first()
            .map(|event| Finding {
                rule_id: RULE_ID.to_owned(),
                severity: Severity::Info,
                title: "the sleeper handled an unmarked batch".to_owned(),
                description: format!("{} event(s)", events.len()),
                resources: Vec::new(),
                dedup_key: format!("{RULE_ID}:{}", event.id),
                event_id: event.id.clone(),
                context: "{}".to_owned(),
            })
            .into_iter()
            .collect())
    }
}

trailwarden_plugin_sdk::export_plugin!(Sleeper);
