//! The component glue (wasm32 only): wit-bindgen bindings of the world `detector`
//! (`wit/plugin.wit` at the repository root, `trailwarden:plugin@0.1.0`: the contract version
//! these plugins implement),
//! conversions between them and the plain types, and [`HostState`].
//!
//! Plugin crates do not use this module directly: [`crate::export_plugin!`] and
//! [`crate::export_detector!`] do.

use crate::{log::Level, Descriptor, Event, Finding, Plugin, PluginError, Principal, Severity};

/// The generated bindings of `trailwarden:plugin/detector@0.1.0`.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "detector",
        path: "../../wit/plugin.wit",
        pub_export_macro: true,
        export_macro_name: "__export_detector",
        default_bindings_module: "trailwarden_plugin_sdk::component::bindings",
    });
}

use bindings::trailwarden::plugin::{log as wit_log, state as wit_state, types as wit};

/// Runs `P::handle` on a batch of WIT events and converts the result back.
///
/// # Errors
/// Whatever `P::handle` returns, converted to the WIT `plugin-error`.
pub fn handle<P: Plugin>(events: Vec<wit::Event>) -> Result<Vec<wit::Finding>, wit::PluginError> {
    let events = events.into_iter().map(Event::from).collect();
    P::handle(events)
        .map(|findings| findings.into_iter().map(wit::Finding::from).collect())
        .map_err(wit::PluginError::from)
}

pub(crate) fn log(level: Level, message: &str) {
    let level = match level {
        Level::Trace => wit_log::Level::Trace,
        Level::Debug => wit_log::Level::Debug,
        Level::Info => wit_log::Level::Info,
        Level::Warn => wit_log::Level::Warn,
        Level::Error => wit_log::Level::Error,
    };
    wit_log::log(level, message);
}

/// The host's per-plugin key-value state (WIT `state`), as a [`crate::State`].
#[derive(Debug, Clone, Copy, Default)]
pub struct HostState;

impl crate::State for HostState {
    fn get(&self, key: &str) -> Option<String> {
        wit_state::get(key)
    }

    fn set(&self, key: &str, value: &str, ttl_seconds: Option<u32>) {
        wit_state::set(key, value, ttl_seconds);
    }

    fn delete(&self, key: &str) {
        wit_state::delete(key);
    }

    fn increment(&self, key: &str, delta: i64, ttl_seconds: Option<u32>) -> i64 {
        wit_state::increment(key, delta, ttl_seconds)
    }
}

impl From<wit::Principal> for Principal {
    fn from(p: wit::Principal) -> Self {
        Principal {
            r#type: p.type_,
            arn: p.arn,
            account_id: p.account_id,
            user_name: p.user_name,
            access_key_id: p.access_key_id,
            session_issuer_arn: p.session_issuer_arn,
            invoked_by: p.invoked_by,
        }
    }
}

impl From<Principal> for wit::Principal {
    fn from(p: Principal) -> Self {
        wit::Principal {
            type_: p.r#type,
            arn: p.arn,
            account_id: p.account_id,
            user_name: p.user_name,
            access_key_id: p.access_key_id,
            session_issuer_arn: p.session_issuer_arn,
            invoked_by: p.invoked_by,
        }
    }
}

impl From<wit::Event> for Event {
    fn from(e: wit::Event) -> Self {
        Event {
            id: e.id,
            time: e.time,
            source: e.source,
            name: e.name,
            region: e.region,
            account: e.account,
            principal: e.principal.into(),
            mfa_authenticated: e.mfa_authenticated,
            source_ip: e.source_ip,
            user_agent: e.user_agent,
            error_code: e.error_code,
            error_message: e.error_message,
            read_only: e.read_only,
            event_type: e.event_type,
            raw: e.raw,
        }
    }
}

impl From<Event> for wit::Event {
    fn from(e: Event) -> Self {
        wit::Event {
            id: e.id,
            time: e.time,
            source: e.source,
            name: e.name,
            region: e.region,
            account: e.account,
            principal: e.principal.into(),
            mfa_authenticated: e.mfa_authenticated,
            source_ip: e.source_ip,
            user_agent: e.user_agent,
            error_code: e.error_code,
            error_message: e.error_message,
            read_only: e.read_only,
            event_type: e.event_type,
            raw: e.raw,
        }
    }
}

impl From<Severity> for wit::Severity {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Info => wit::Severity::Info,
            Severity::Low => wit::Severity::Low,
            Severity::Medium => wit::Severity::Medium,
            Severity::High => wit::Severity::High,
            Severity::Critical => wit::Severity::Critical,
        }
    }
}

impl From<wit::Severity> for Severity {
    fn from(s: wit::Severity) -> Self {
        match s {
            wit::Severity::Info => Severity::Info,
            wit::Severity::Low => Severity::Low,
            wit::Severity::Medium => Severity::Medium,
            wit::Severity::High => Severity::High,
            wit::Severity::Critical => Severity::Critical,
        }
    }
}

impl From<Finding> for wit::Finding {
    fn from(f: Finding) -> Self {
        wit::Finding {
            rule_id: f.rule_id,
            severity: f.severity.into(),
            title: f.title,
            description: f.description,
            resources: f.resources,
            dedup_key: f.dedup_key,
            event_id: f.event_id,
            context: f.context,
        }
    }
}

impl From<wit::Finding> for Finding {
    fn from(f: wit::Finding) -> Self {
        Finding {
            rule_id: f.rule_id,
            severity: f.severity.into(),
            title: f.title,
            description: f.description,
            resources: f.resources,
            dedup_key: f.dedup_key,
            event_id: f.event_id,
            context: f.context,
        }
    }
}

impl From<Descriptor> for wit::Descriptor {
    fn from(d: Descriptor) -> Self {
        wit::Descriptor {
            name: d.name,
            version: d.version,
            patterns: d.patterns,
            capabilities: d.capabilities,
        }
    }
}

impl From<wit::Descriptor> for Descriptor {
    fn from(d: wit::Descriptor) -> Self {
        Descriptor {
            name: d.name,
            version: d.version,
            patterns: d.patterns,
            capabilities: d.capabilities,
        }
    }
}

impl From<PluginError> for wit::PluginError {
    fn from(e: PluginError) -> Self {
        match e {
            PluginError::BadInput(m) => wit::PluginError::BadInput(m),
            PluginError::Internal(m) => wit::PluginError::Internal(m),
        }
    }
}

impl From<wit::PluginError> for PluginError {
    fn from(e: wit::PluginError) -> Self {
        match e {
            wit::PluginError::BadInput(m) => PluginError::BadInput(m),
            wit::PluginError::Internal(m) => PluginError::Internal(m),
        }
    }
}
