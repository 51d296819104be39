//! Test fixture, not a plugin: for EACH event of a batch, `handle` returns
//! [`FINDINGS_PER_EVENT`] small findings and calls `notify.send` [`CALLS_PER_EVENT`] times,
//! so that the host's per-event limits (findings, capability calls) can be tested.
//!
//! Finding `i` (0-based) of event `E` has rule id [`RULE_ID`], title `flood-per-event <i>`,
//! dedup key `test.flood-per-event:<E>:<i>` and event id `E`. Call `i` (for `i` below
//! [`CALLS_PER_EVENT`]) is `notify.send(E, "security-team", finding i)`: the arguments differ
//! from call to call, so no two share an idempotency key. Finding `i`'s context is
//! `{"i": i, "notify": "<receipt as text>"}` for the findings that were sent, `{"i": i}` for
//! the others.

use trailwarden_plugin_sdk::capability::NOTIFY_SEND;
use trailwarden_plugin_sdk::serde_json::json;
use trailwarden_plugin_sdk::{Capabilities, Descriptor, Event, Finding, Severity};

/// The capabilities it calls (and so imports).
pub const CAPABILITIES: &[&str] = &[NOTIFY_SEND];

/// Findings returned for each event.
pub const FINDINGS_PER_EVENT: usize = 50;
/// `notify.send` calls made for each event.
pub const CALLS_PER_EVENT: usize = 20;
/// The rule id of its findings.
pub const RULE_ID: &str = "test.flood-per-event";
/// The notify target it sends to.
pub const TARGET: &str = "security-team";

/// The descriptor: every event, `notify.send`.
pub fn descriptor() -> Descriptor {
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: vec![r#"{"version":["0"]}"#.to_owned()],
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: Vec::new(),
        self_caused_events: false,
    }
}

/// The findings for one event, after the notify calls.
pub fn flood(event: &Event, caps: &dyn Capabilities) -> Vec<Finding> {
    (0..FINDINGS_PER_EVENT)
        .map(|i| {
            let mut finding = Finding {
                rule_id: RULE_ID.to_owned(),
                severity: Severity::Info,
                title: format!("flood-per-event {i}"),
                description: "one of many".to_owned(),
                resources: Vec::new(),
                dedup_key: format!("{RULE_ID}:{}:{i}", event.id),
                event_id: event.id.clone(),
                context: json!({ "i": i }).to_string(),
            };
            if i < CALLS_PER_EVENT {
                let receipt = caps.notify(&event.id, TARGET, &finding);
                finding.context = json!({"i": i, "notify": receipt.to_string()}).to_string();
            }
            finding
        })
        .collect()
}

trailwarden_plugin_sdk::export_responder!(
    /// The hostile guest: [`flood`] each event (its calls are made while detecting).
    FloodPerEvent {
        capabilities: CAPABILITIES,
        describe: descriptor,
        detect_with: |event, batch| flood(event, batch.caps),
    }
);

#[cfg(test)]
mod tests {
    use trailwarden_plugin_sdk::{Event, RecordingCapabilities};

    #[test]
    fn fifty_findings_and_twenty_calls_per_event() {
        let caps = RecordingCapabilities::new();
        let events: Vec<Event> = ["e1", "e2"]
            .iter()
            .map(|id| Event {
                id: (*id).into(),
                ..Event::default()
            })
            .collect();
        let findings: Vec<_> = events.iter().flat_map(|e| super::flood(e, &caps)).collect();
        assert_eq!(findings.len(), 100);
        assert_eq!(findings.iter().filter(|f| f.event_id == "e2").count(), 50);
        let calls = caps.calls();
        assert_eq!(calls.len(), 40);
        assert!(calls.iter().all(|c| c.capability == "notify.send"));
        assert_eq!(calls.iter().filter(|c| c.event_id == "e1").count(), 20);
        // Distinct arguments: no two calls of an event share an idempotency key.
        let mut args: Vec<String> = calls.iter().map(|c| c.args.to_string()).collect();
        args.sort();
        args.dedup();
        assert_eq!(args.len(), 40);
        assert_eq!(
            findings[0].context,
            r#"{"i":0,"notify":"accepted (action action-1)"}"#
        );
        assert_eq!(findings[49].context, r#"{"i":49}"#);
    }
}
