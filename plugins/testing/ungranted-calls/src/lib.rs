//! Test fixture, not a plugin: a responder that, for every event, asks for three actions
//! that a test config does not grant, and reports what the host answered.
//!
//! For each event it calls, in this order:
//!
//! 1. `iam.quarantine-user(event.id, "victim")`
//! 2. `iam.delete-access-key(event.id, "victim", "AKIAEXAMPLE")`
//! 3. `notify.send(event.id, "security-team", finding)` (the finding below, context `{}`)
//!
//! and returns one finding [`RULE_ID`] per event whose `context` is the JSON object
//! `{"quarantine": R1, "delete_access_key": R2, "notify": R3}`, each `R` the receipt as text:
//! `denied: <reason>`, `accepted (action <id>)`, `dry-run (action <id>)` or
//! `pending-approval (action <id>)`. The three capabilities are in `describe().capabilities`
//! and in [`CAPABILITIES`], so the component imports `iam.quarantine-user`,
//! `iam.delete-access-key` and `notify.send`: the calls reach the host, whose grants must
//! deny them.

use trailwarden_plugin_sdk::capability::{IAM_DELETE_ACCESS_KEY, IAM_QUARANTINE_USER, NOTIFY_SEND};
use trailwarden_plugin_sdk::serde_json::json;
use trailwarden_plugin_sdk::{Capabilities, Descriptor, Event, Finding, Severity};

/// The capabilities it calls (and so imports).
pub const CAPABILITIES: &[&str] = &[IAM_QUARANTINE_USER, IAM_DELETE_ACCESS_KEY, NOTIFY_SEND];

/// The rule id of its findings.
pub const RULE_ID: &str = "test.ungranted";
/// The user it tries to act on.
pub const USER: &str = "victim";
/// The access key it tries to delete.
pub const ACCESS_KEY: &str = "AKIAEXAMPLE";
/// The notify target it sends to.
pub const TARGET: &str = "security-team";

/// The descriptor: every event, the three capabilities.
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

/// The three calls for `event`, and the finding that records their receipts.
pub fn probe(event: &Event, caps: &dyn Capabilities) -> Finding {
    let mut finding = Finding {
        rule_id: RULE_ID.to_owned(),
        severity: Severity::Info,
        title: format!("ungranted capability calls for event {}", event.id),
        description: "iam.quarantine-user, iam.delete-access-key and notify.send, none of \
                      which should be granted"
            .to_owned(),
        resources: vec![USER.to_owned()],
        dedup_key: format!("{RULE_ID}:{}", event.id),
        event_id: event.id.clone(),
        context: "{}".to_owned(),
    };
    let quarantine = caps.quarantine_user(&event.id, USER);
    let delete_key = caps.delete_access_key(&event.id, USER, ACCESS_KEY);
    let notify = caps.notify(&event.id, TARGET, &finding);
    finding.context = json!({
        "quarantine": quarantine.to_string(),
        "delete_access_key": delete_key.to_string(),
        "notify": notify.to_string(),
    })
    .to_string();
    finding
}

trailwarden_plugin_sdk::export_responder!(
    /// The hostile guest: [`probe`] each event (its calls are made while detecting).
    UngrantedCalls {
        capabilities: CAPABILITIES,
        describe: descriptor,
        detect_with: |event, batch| vec![probe(event, batch.caps)],
    }
);

#[cfg(test)]
mod tests {
    use trailwarden_plugin_sdk::serde_json::{json, Value};
    use trailwarden_plugin_sdk::{Event, Receipt, RecordingCapabilities};

    #[test]
    fn three_calls_per_event_and_their_receipts() {
        let caps = RecordingCapabilities::with_receipts([
            Receipt::Denied("not granted".into()),
            Receipt::Denied("not granted".into()),
            Receipt::DryRun("a3".into()),
        ]);
        let event = Event {
            id: "e1".into(),
            ..Event::default()
        };
        let finding = super::probe(&event, &caps);
        assert_eq!(
            caps.capabilities_called(),
            vec![
                "iam.quarantine-user",
                "iam.delete-access-key",
                "notify.send"
            ]
        );
        assert!(caps.calls().iter().all(|c| c.event_id == "e1"));
        assert_eq!(
            caps.calls_json()[1]["args"],
            json!({"user-name": "victim", "access-key-id": "AKIAEXAMPLE"})
        );
        let context: Value =
            trailwarden_plugin_sdk::serde_json::from_str(&finding.context).unwrap();
        assert_eq!(
            context,
            json!({"quarantine": "denied: not granted", "delete_access_key": "denied: not granted",
                   "notify": "dry-run (action a3)"})
        );
        assert_eq!(
            super::descriptor().capabilities,
            super::CAPABILITIES.to_vec()
        );
    }
}
