//! Test fixture, not a plugin: `describe` works, `handle` returns [`FINDINGS`] findings with
//! [`DESCRIPTION_BYTES`]-byte descriptions for any batch (about 1 GB), so that the host's
//! limits on what a plugin returns can be tested.

use trailwarden_plugin_sdk::{Descriptor, Event, Finding, Plugin, PluginError, Severity};

/// The hostile guest.
pub struct Flood;

/// Findings per batch.
pub const FINDINGS: usize = 100_000;
/// Bytes of each description.
pub const DESCRIPTION_BYTES: usize = 10 * 1024;

impl Plugin for Flood {
    fn describe() -> Descriptor {
        Descriptor::every_event(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn handle(events: Vec<Event>) -> Result<Vec<Finding>, PluginError> {
        let event_id = events.first().map_or("none", |e| e.id.as_str());
        Ok(flood(FINDINGS, DESCRIPTION_BYTES, event_id))
    }
}

/// `count` findings, each with a description of `description_bytes` bytes.
pub fn flood(count: usize, description_bytes: usize, event_id: &str) -> Vec<Finding> {
    let description = "x".repeat(description_bytes);
    (0..count)
        .map(|i| Finding {
            rule_id: "testing.flood".to_owned(),
            severity: Severity::Info,
            title: format!("flood finding {i}"),
            description: description.clone(),
            resources: Vec::new(),
            dedup_key: format!("testing.flood:{i}"),
            event_id: event_id.to_owned(),
            context: String::new(),
        })
        .collect()
}

trailwarden_plugin_sdk::export_plugin!(Flood);

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        let f = super::flood(3, 10, "e");
        assert_eq!(f.len(), 3);
        assert!(f
            .iter()
            .all(|f| f.description.len() == 10 && f.event_id == "e"));
    }
}
