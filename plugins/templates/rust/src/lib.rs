//! `{{name}}`: a trailwarden plugin. Replace the example rule (an IAM user was created) with
//! your own; see docs/plugins.md.
//!
//! `descriptor()`, `rules()` and `detect()` are plain Rust over the SDK's types, so `cargo
//! test` runs them natively; the last line exports them as the component's `describe`,
//! `rules` (the rule catalog) and `handle` (world `trailwarden:plugin/responder@0.3.0`,
//! importing only what the code uses).
//! A plugin that keeps state, reads its config or calls capabilities declares itself with
//! `trailwarden_plugin_sdk::export_responder!(Name { capabilities, describe, rules, detect,
//! respond })` instead (see plugins/root-usage and plugins/README.md).

use trailwarden_plugin_sdk::json::str_at;
use trailwarden_plugin_sdk::serde_json::json;
use trailwarden_plugin_sdk::{non_empty, Descriptor, Event, Finding, Rule, Severity};

/// The rule id of every finding of this plugin.
pub const RULE_ID: &str = "custom.{{name}}";

/// Name, version, the EventBridge patterns the host routes by, and the shipped fixtures.
pub fn descriptor() -> Descriptor {
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: vec![
            r#"{"detail":{"eventSource":["iam.amazonaws.com"],"eventName":["CreateUser"]}}"#
                .to_owned(),
        ],
        capabilities: Vec::new(),
        // Every file in fixtures/, embedded: the host runs them before this version serves.
        fixtures: trailwarden_plugin_sdk::fixtures!["create-user.json"],
        self_caused_events: false,
    }
}

/// The rule catalog (`trailwarden rules list` prints it): one entry per rule id `detect`
/// can raise, with its severity, MITRE ATT&CK technique ids, a runbook line and the
/// capabilities it calls (none here).
pub fn rules() -> Vec<Rule> {
    vec![Rule::new(
        RULE_ID,
        Severity::Low,
        "IAM user created",
        // Create Account: Cloud Account.
        &["T1136.003"],
        "A successful `iam:CreateUser`. Only reported.",
        "Ask the creator whether the user is expected and who will use it.",
        &[],
    )]
}

/// The findings for one event. Check everything yourself: any event may be handed over.
pub fn detect(event: &Event) -> Vec<Finding> {
    if !event.is("iam.amazonaws.com", "CreateUser") || event.failed() {
        return Vec::new();
    }
    // `raw` is the whole record; when it is not JSON, checks that need it do not fire.
    let Some(raw) = event.raw_json() else {
        return Vec::new();
    };
    let Some(user) = str_at(&raw, &["requestParameters", "userName"]) else {
        return Vec::new();
    };
    let account = event.account_or_principal_account().unwrap_or("unknown");
    let arn = str_at(&raw, &["responseElements", "user", "arn"])
        .map(str::to_owned)
        .unwrap_or_else(|| format!("arn:{}:iam::{account}:user/{user}", event.partition()));
    vec![Finding {
        rule_id: RULE_ID.to_owned(),
        severity: Severity::Low,
        title: format!("IAM user {user} created in account {account}"),
        description: format!(
            "{} created the IAM user {user} in account {account} {}.",
            event.actor(),
            event.origin()
        ),
        resources: vec![arn],
        dedup_key: format!("{RULE_ID}:{account}:{user}"),
        event_id: event.id.clone(),
        context: json!({
            "account": account,
            "user": user,
            "actor": non_empty(event.principal.arn.as_deref()),
            "source_ip": event.source_ip,
        })
        .to_string(),
    }]
}

trailwarden_plugin_sdk::export_detector!(describe: descriptor, detect: detect, rules: rules);
