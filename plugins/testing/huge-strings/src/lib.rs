//! Test fixture, not a plugin: `describe` works, `handle` returns one finding per batch
//! whose `description` is [`DESCRIPTION_BYTES`] (48 MiB) long, built in guest memory.
//!
//! The host's limit on the size of what a plugin returns must refuse it (or, if the host's
//! memory limit is below about 50 MiB, the allocation fails first: a trap).

use trailwarden_plugin_sdk::{Descriptor, Event, Finding, Plugin, PluginError, Severity};

/// The hostile guest.
pub struct HugeStrings;

/// Bytes of the one description: 48 MiB.
pub const DESCRIPTION_BYTES: usize = 48 << 20;

/// The rule id of its finding.
pub const RULE_ID: &str = "test.huge-strings";

impl Plugin for HugeStrings {
    fn describe() -> Descriptor {
        Descriptor::every_event(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn handle(events: Vec<Event>) -> Result<Vec<Finding>, PluginError> {
        let event_id = events.first().map_or("none", |e| e.id.as_str());
        Ok(vec![huge(DESCRIPTION_BYTES, event_id)])
    }
}

/// One finding whose description is `description_bytes` bytes of `x`.
pub fn huge(description_bytes: usize, event_id: &str) -> Finding {
    Finding {
        rule_id: RULE_ID.to_owned(),
        severity: Severity::Info,
        title: format!("a {description_bytes}-byte description"),
        description: "x".repeat(description_bytes),
        resources: Vec::new(),
        dedup_key: format!("{RULE_ID}:{event_id}"),
        event_id: event_id.to_owned(),
        context: String::new(),
    }
}

trailwarden_plugin_sdk::export_plugin!(HugeStrings);

#[cfg(test)]
mod tests {
    #[test]
    fn size() {
        let f = super::huge(1000, "e");
        assert_eq!(f.description.len(), 1000);
        assert_eq!(f.event_id, "e");
    }
}
