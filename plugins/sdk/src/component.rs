//! The component glue (wasm32 only): wit-bindgen bindings of the world `responder`
//! (`wit/0.2.0/plugin.wit` at the repository root, `trailwarden:plugin@0.2.0`: the contract
//! version these plugins implement), conversions between them and the plain types,
//! [`HostState`] and [`HostCapabilities`].
//!
//! Plugin crates do not use this module directly: [`crate::export_responder!`],
//! [`crate::export_detector!`] and [`crate::export_plugin!`] do.
//!
//! Every plugin binds the world `responder` (which includes `detector`), but a component
//! imports only the functions its code can reach: a detector imports `log` (and `state` or
//! `config` if it uses them), a responder additionally the capability functions listed in
//! [`Responder::CAPABILITIES`].

use std::marker::PhantomData;

use crate::capability::{self, contains, PrincipalKind};
use crate::{
    log::Level, Capabilities, Config, Descriptor, Event, Finding, Plugin, PluginError, Principal,
    Receipt, Responder, Severity,
};

/// The generated bindings of `trailwarden:plugin/responder@0.6.0` (which includes 0.5.0's
/// world of the same name, itself 0.4.0's plus the `baseline` import, and adds 0.6.0's
/// `iam`). A component imports only what its code reaches, so a plugin that asks neither
/// history nor baseline nor a 0.6.0 capability is still a 0.3.0 component to the host.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "trailwarden:plugin/responder@0.6.0",
        path: "../../wit/0.6.0",
        pub_export_macro: true,
        export_macro_name: "__export_responder",
        default_bindings_module: "trailwarden_plugin_sdk::component::bindings",
        // The 0.2.0 to 0.5.0 interfaces the 0.6.0 world includes are foreign to it:
        // generate them here.
        generate_all,
    });
}

use bindings::trailwarden::plugin0_2_0::{
    cloudtrail as wit_cloudtrail, config as wit_config, eventbridge as wit_eventbridge,
    iam as wit_iam, log as wit_log, notify as wit_notify, s3 as wit_s3, state as wit_state,
    types as wit,
};
use bindings::trailwarden::plugin0_6_0::iam as wit_iam6;

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

/// Runs `R::handle` on a batch of WIT events, with the host's capabilities (those `R`
/// lists), state and config, and converts the result back.
///
/// # Errors
/// The config is not a JSON object, or whatever `R::handle` returns, converted to the WIT
/// `plugin-error`.
pub fn respond<R: Responder>(
    events: Vec<wit::Event>,
) -> Result<Vec<wit::Finding>, wit::PluginError> {
    let events: Vec<Event> = events.into_iter().map(Event::from).collect();
    let config = Config::current().map_err(wit::PluginError::from)?;
    let caps = HostCapabilities::<R>::new();
    // Decided at compile time, like the capabilities: a responder that does not ask its
    // history never references `history`, so its component does not import it.
    let history: &dyn crate::History = if const { R::HISTORY } {
        &HostHistory
    } else {
        &crate::NoHistory
    };
    let baseline: &dyn crate::Baseline = if const { R::BASELINE } {
        &crate::baseline_host::HostBaseline
    } else {
        &crate::NoBaseline
    };
    // Reads of one key within the batch reach the host once (see `ReadCache`). A responder
    // that declared no state never references `state`: its component does not import it,
    // which lets the host run its batches side by side.
    let cached;
    let state: &dyn crate::State = if const { R::STATE } {
        cached = crate::ReadCache::new(&HostState);
        &cached
    } else {
        &crate::NoState
    };
    let result = R::handle_with_baseline(&events, &caps, state, history, baseline, &config)
        .map(|findings| findings.into_iter().map(wit::Finding::from).collect())
        .map_err(wit::PluginError::from);
    crate::end_of_batch((events, config));
    result
}

/// The WIT `rule-info`.
pub type WitRule = bindings::exports::trailwarden::plugin0_3_0::rules::RuleInfo;

/// A rule catalog in its WIT form.
pub fn rules(rules: Vec<crate::Rule>) -> Vec<WitRule> {
    rules
        .into_iter()
        .map(|r| WitRule {
            id: r.id,
            title: r.title,
            severity: r.severity.into(),
            techniques: r.techniques,
            description: r.description,
            runbook: r.runbook,
            response: r.response,
            refused: r.refused,
        })
        .collect()
}

/// `R::rules` with the host's config, in its WIT form. A config that is not a JSON object
/// gives the catalog of the empty config (the host refuses such a config anyway).
pub fn responder_rules<R: Responder>() -> Vec<WitRule> {
    let config = Config::current().unwrap_or_else(|_| Config::empty());
    rules(R::rules(&config))
}

/// `R::describe_with_config` with the host's config, in its WIT form. A config that is not
/// a JSON object describes the plugin as the empty config does (the host refuses such a
/// config anyway).
pub fn responder_describe<R: Responder>() -> bindings::Descriptor {
    let config = Config::current().unwrap_or_else(|_| Config::empty());
    R::describe_with_config(&config).into()
}

/// The plugin's config as the host gives it (`config.get`).
pub(crate) fn config_text() -> String {
    wit_config::get()
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

/// The host's first-seen history of this plugin (WIT 0.4.0 `history`), as a
/// [`crate::History`].
#[derive(Debug, Clone, Copy, Default)]
pub struct HostHistory;

impl crate::History for HostHistory {
    fn first_seen(
        &self,
        query: &crate::SeenQuery<'_>,
    ) -> Result<crate::SeenInfo, crate::HistoryError> {
        use bindings::trailwarden::plugin0_4_0::history as wit_history;
        let values: Vec<String> = query.values.iter().map(|v| (*v).to_owned()).collect();
        wit_history::first_seen(
            query.account,
            query.rule,
            &values,
            query.window_seconds,
            query.learning_seconds,
        )
        .map(|info| crate::SeenInfo {
            new: info.new,
            learning: info.learning,
            first_seen: info.first_seen,
            last_seen: info.last_seen,
            count: info.count,
        })
        .map_err(|error| match error {
            wit_history::HistoryError::Invalid(text) => crate::HistoryError::Invalid(text),
            wit_history::HistoryError::QuotaExceeded(text) => {
                crate::HistoryError::QuotaExceeded(text)
            }
        })
    }
}

/// The host's capabilities (WIT `iam`, `cloudtrail`, `s3`, `eventbridge`, `notify`) for the
/// responder `R`.
///
/// Each method calls the host only if its capability is in `R::CAPABILITIES`; otherwise it
/// answers [`Receipt::Denied`] itself. The test is a constant, so the import of a capability
/// that `R` does not list is unreachable code, never referenced, and the component does not
/// import it: the host sees exactly what the plugin may ask for.
pub struct HostCapabilities<R: ?Sized>(PhantomData<fn() -> R>);

impl<R: Responder + ?Sized> HostCapabilities<R> {
    pub fn new() -> Self {
        HostCapabilities(PhantomData)
    }
}

impl<R: Responder + ?Sized> Default for HostCapabilities<R> {
    fn default() -> Self {
        Self::new()
    }
}

fn undeclared(name: &str) -> Receipt {
    Receipt::Denied(format!(
        "capability {name} is not in the plugin's CAPABILITIES, so the component does not import it"
    ))
}

/// `if R lists $name { $call } else { denied }`, decided at compile time.
macro_rules! gated {
    ($name:expr, $call:expr) => {
        if const { contains(R::CAPABILITIES, $name) } {
            Receipt::from($call)
        } else {
            undeclared($name)
        }
    };
}

impl<R: Responder + ?Sized> Capabilities for HostCapabilities<R> {
    fn disable_access_key(&self, event_id: &str, user_name: &str, key: &str) -> Receipt {
        gated!(
            capability::IAM_DISABLE_ACCESS_KEY,
            wit_iam::disable_access_key(event_id, user_name, key)
        )
    }

    fn delete_access_key(&self, event_id: &str, user_name: &str, key: &str) -> Receipt {
        gated!(
            capability::IAM_DELETE_ACCESS_KEY,
            wit_iam::delete_access_key(event_id, user_name, key)
        )
    }

    fn delete_login_profile(&self, event_id: &str, user_name: &str) -> Receipt {
        gated!(
            capability::IAM_DELETE_LOGIN_PROFILE,
            wit_iam::delete_login_profile(event_id, user_name)
        )
    }

    fn quarantine_user(&self, event_id: &str, user_name: &str) -> Receipt {
        gated!(
            capability::IAM_QUARANTINE_USER,
            wit_iam::quarantine_user(event_id, user_name)
        )
    }

    fn quarantine_role(&self, event_id: &str, role_name: &str) -> Receipt {
        gated!(
            capability::IAM_QUARANTINE_ROLE,
            wit_iam::quarantine_role(event_id, role_name)
        )
    }

    fn detach_user_policy(&self, event_id: &str, user_name: &str, policy_arn: &str) -> Receipt {
        gated!(
            capability::IAM_DETACH_USER_POLICY,
            wit_iam::detach_user_policy(event_id, user_name, policy_arn)
        )
    }

    fn detach_role_policy(&self, event_id: &str, role_name: &str, policy_arn: &str) -> Receipt {
        gated!(
            capability::IAM_DETACH_ROLE_POLICY,
            wit_iam::detach_role_policy(event_id, role_name, policy_arn)
        )
    }

    fn detach_group_policy(&self, event_id: &str, group: &str, policy_arn: &str) -> Receipt {
        gated!(
            capability::IAM_DETACH_GROUP_POLICY,
            wit_iam::detach_group_policy(event_id, group, policy_arn)
        )
    }

    fn revoke_role_sessions(&self, event_id: &str, role_name: &str) -> Receipt {
        gated!(
            capability::IAM_REVOKE_ROLE_SESSIONS,
            wit_iam::revoke_role_sessions(event_id, role_name)
        )
    }

    fn remove_user_from_group(&self, event_id: &str, user_name: &str, group: &str) -> Receipt {
        gated!(
            capability::IAM_REMOVE_USER_FROM_GROUP,
            wit_iam::remove_user_from_group(event_id, user_name, group)
        )
    }

    fn delete_inline_policy(
        &self,
        event_id: &str,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
    ) -> Receipt {
        let kind = match kind {
            PrincipalKind::User => wit_iam6::PrincipalKind::User,
            PrincipalKind::Role => wit_iam6::PrincipalKind::Role,
            PrincipalKind::Group => wit_iam6::PrincipalKind::Group,
        };
        gated!(
            capability::IAM_DELETE_INLINE_POLICY,
            wit_iam6::delete_inline_policy(event_id, kind, name, policy_name)
        )
    }

    fn start_logging(&self, event_id: &str, trail: &str) -> Receipt {
        gated!(
            capability::CLOUDTRAIL_START_LOGGING,
            wit_cloudtrail::start_logging(event_id, trail)
        )
    }

    fn put_public_access_block(&self, event_id: &str, bucket: &str) -> Receipt {
        gated!(
            capability::S3_PUT_PUBLIC_ACCESS_BLOCK,
            wit_s3::put_public_access_block(event_id, bucket)
        )
    }

    fn publish_finding(&self, event_id: &str, target: &str, finding: &Finding) -> Receipt {
        gated!(
            capability::EVENTBRIDGE_PUBLISH_FINDING,
            wit_eventbridge::publish_finding(event_id, target, &finding.clone().into())
        )
    }

    fn notify(&self, event_id: &str, target: &str, finding: &Finding) -> Receipt {
        gated!(
            capability::NOTIFY_SEND,
            wit_notify::send(event_id, target, &finding.clone().into())
        )
    }
}

impl From<wit::Receipt> for Receipt {
    fn from(r: wit::Receipt) -> Self {
        match r {
            wit::Receipt::Accepted(id) => Receipt::Accepted(id),
            wit::Receipt::DryRun(id) => Receipt::DryRun(id),
            wit::Receipt::PendingApproval(id) => Receipt::PendingApproval(id),
            wit::Receipt::Denied(reason) => Receipt::Denied(reason),
        }
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
            self_caused: e.self_caused,
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
            self_caused: e.self_caused,
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
            fixtures: d.fixtures,
            self_caused_events: d.self_caused_events,
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
            fixtures: d.fixtures,
            self_caused_events: d.self_caused_events,
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
