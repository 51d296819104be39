//! The language benchmark's detection, in Rust: the root user was used, and not by an AWS
//! service acting for it (no `invokedBy`, not an `AwsServiceEvent`). The same logic is in
//! `plugins/bench/python/app.py` and `plugins/bench/js/index.js`; `host/benches/languages.rs`
//! measures the three (and this crate natively). Keep the three identical.

use trailwarden_plugin_sdk::serde_json::json;
use trailwarden_plugin_sdk::{Descriptor, Event, Finding, Severity};

pub const RULE_ID: &str = "bench.root-usage";

pub fn descriptor() -> Descriptor {
    Descriptor {
        name: "bench-root-usage".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: vec![r#"{"detail":{"userIdentity":{"type":["Root"]}}}"#.to_owned()],
        capabilities: Vec::new(),
        fixtures: trailwarden_plugin_sdk::fixtures!["not-root-usage.json", "root-sign-in.json"],
        self_caused_events: false,
    }
}

pub fn detect(event: &Event) -> Vec<Finding> {
    let principal = &event.principal;
    if principal.r#type.as_deref() != Some("Root")
        || principal.invoked_by.is_some()
        || event.event_type.as_deref() == Some("AwsServiceEvent")
    {
        return Vec::new();
    }
    let account = event
        .account
        .as_deref()
        .or(principal.account_id.as_deref())
        .unwrap_or("unknown");
    let ip = event.source_ip.as_deref().unwrap_or("unknown");
    let source = event.source.as_deref().unwrap_or("unknown");
    let name = event.name.as_deref().unwrap_or("unknown");
    vec![Finding {
        rule_id: RULE_ID.to_owned(),
        severity: Severity::High,
        title: format!("Root user used in account {account}"),
        description: format!(
            "The root user of account {account} called {source} {name} from {ip}."
        ),
        resources: vec![format!("arn:aws:iam::{account}:root")],
        dedup_key: format!("{RULE_ID}:{account}:{ip}"),
        event_id: event.id.clone(),
        context: json!({"account": account, "event_name": name, "source_ip": ip}).to_string(),
    }]
}

trailwarden_plugin_sdk::export_detector!(describe: descriptor, detect: detect);
