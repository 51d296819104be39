//! `service-watch`: changes and misuse across AWS services that the other plugins do not
//! cover: databases (RDS), compute and network (EC2, VPC, Lambda, CodeBuild), S3 data and
//! configuration, identity (IAM, root, STS, sign-in), logging and security services, and
//! reconnaissance, including VPC endpoint records.
//!
//! Each rule is one row of a table (`rules/<domain>.rs`, shape in `spec.rs`): the calls it
//! looks at, whether failed calls count, and a condition on the record. The EventBridge
//! patterns are made from the same rows, so the plugin only receives those calls. Rules are
//! independent: one event can raise several findings (a `DeleteBucketReplication` is both a
//! bucket configuration change and a replication deletion).
//!
//! Response: every finding is sent with `notify.send` to the config's `notify_target`
//! (default `security-team`).

pub mod rules;
pub mod spec;

use trailwarden_plugin_sdk::capability::{log_receipt, NOTIFY_SEND};
use trailwarden_plugin_sdk::{
    Capabilities, Config, Descriptor, Event, Finding, PluginError, Responder, Rule, State,
};

use spec::Facts;

/// The capabilities it calls.
pub const CAPABILITIES: &[&str] = &[NOTIFY_SEND];

/// Name, version, one EventBridge pattern per rule, and the fixtures.
pub fn descriptor() -> Descriptor {
    let mut patterns: Vec<String> = rules::all().map(|r| r.pattern().to_string()).collect();
    patterns.sort();
    patterns.dedup();
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns,
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: fixtures(),
        // It acts: trailwarden's own calls must not come back to it.
        self_caused_events: false,
    }
}

include!("fixture_list.rs");

/// The rule catalog, naming the notify target of `config`.
pub fn catalog(config: &Config) -> Vec<Rule> {
    let target = config.notify_target();
    rules::all().map(|r| r.rule(target, CAPABILITIES)).collect()
}

/// The findings for one event: one per rule that matches it.
pub fn detect(event: &Event) -> Vec<Finding> {
    let raw = event.raw_json();
    let facts = Facts {
        event,
        raw: raw.as_ref(),
    };
    rules::all()
        .filter(|r| r.matches(&facts))
        .map(|r| r.finding(&facts))
        .collect()
}

/// The response to one finding: sent to the notify target.
pub fn respond(event: &Event, finding: &Finding, caps: &dyn Capabilities, config: &Config) {
    let receipt = caps.notify(&event.id, config.notify_target(), finding);
    log_receipt(NOTIFY_SEND, &event.id, receipt);
}

/// The plugin: [`detect`] each event, [`respond`] to each finding.
pub struct ServiceWatch;

impl Responder for ServiceWatch {
    const CAPABILITIES: &'static [&'static str] = CAPABILITIES;

    fn describe() -> Descriptor {
        descriptor()
    }

    fn rules(config: &Config) -> Vec<Rule> {
        catalog(config)
    }

    fn handle(
        events: &[Event],
        caps: &dyn Capabilities,
        _state: &dyn State,
        config: &Config,
    ) -> Result<Vec<Finding>, PluginError> {
        Ok(trailwarden_plugin_sdk::detect_and_respond(
            events,
            detect,
            |event, finding| respond(event, finding, caps, config),
        ))
    }
}

trailwarden_plugin_sdk::export_responder!(ServiceWatch);
