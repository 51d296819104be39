//! The language benchmark's detection, in Rust: the root user was used, and not by an AWS
//! service acting for it (no `invokedBy`, not an `AwsServiceEvent`). The same logic is in
//! `plugins/bench/python/app.py` and `plugins/bench/js/index.js`; `host/benches/languages.rs`
//! measures the three (and this crate natively). Keep the three identical.
//!
//! Like the Python and JavaScript ones (their `world.wit`), it stays a component of the
//! 0.2.0 world `detector`, without a rule catalog: it binds that world itself below, reusing
//! the SDK's 0.2.0 types and conversions, where `export_detector!` would make a 0.3.0 one.

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

/// [`descriptor`] and [`detect`] as an SDK plugin, for the 0.2.0 glue below.
pub struct Bench;

impl trailwarden_plugin_sdk::Plugin for Bench {
    fn describe() -> Descriptor {
        descriptor()
    }

    fn handle(events: Vec<Event>) -> Result<Vec<Finding>, trailwarden_plugin_sdk::PluginError> {
        Ok(trailwarden_plugin_sdk::detect_each(&events, detect))
    }
}

/// The world `trailwarden:plugin/detector@0.2.0`, its imports and types those of the SDK's
/// bindings (which the SDK converts from and to its plain types).
#[cfg(target_arch = "wasm32")]
#[allow(missing_docs, clippy::all)]
mod v020 {
    wit_bindgen::generate!({
        world: "trailwarden:plugin/detector@0.2.0",
        path: "../../../wit/0.2.0",
        with: {
            "trailwarden:plugin/types@0.2.0": trailwarden_plugin_sdk::component::bindings::trailwarden::plugin0_2_0::types,
            "trailwarden:plugin/log@0.2.0": trailwarden_plugin_sdk::component::bindings::trailwarden::plugin0_2_0::log,
            "trailwarden:plugin/state@0.2.0": trailwarden_plugin_sdk::component::bindings::trailwarden::plugin0_2_0::state,
            "trailwarden:plugin/config@0.2.0": trailwarden_plugin_sdk::component::bindings::trailwarden::plugin0_2_0::config,
        },
    });

    use trailwarden_plugin_sdk::component::bindings::trailwarden::plugin0_2_0::types as wit;

    struct Component;

    impl Guest for Component {
        fn describe() -> wit::Descriptor {
            super::descriptor().into()
        }

        fn handle(events: Vec<wit::Event>) -> Result<Vec<wit::Finding>, wit::PluginError> {
            trailwarden_plugin_sdk::component::handle::<super::Bench>(events)
        }
    }

    export!(Component);
}
