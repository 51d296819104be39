//! Conversions between the host's types and each contract version's generated types.

use super::bindings::{v1, v2, v3};
use super::types::{Descriptor, Event, Finding, Receipt, RuleInfo, Severity};

/// A 0.1.0 component's event (0.2.0 and later borrow theirs: `event_view.rs`).
pub fn event_to_v1(e: &Event) -> v1::Event {
    v1::Event {
        id: e.id.clone(),
        time: e.time.clone(),
        source: e.source.clone(),
        name: e.name.clone(),
        region: e.region.clone(),
        account: e.account.clone(),
        principal: v1::trailwarden::plugin::types::Principal {
            type_: e.principal.kind.clone(),
            arn: e.principal.arn.clone(),
            account_id: e.principal.account_id.clone(),
            user_name: e.principal.user_name.clone(),
            access_key_id: e.principal.access_key_id.clone(),
            session_issuer_arn: e.principal.session_issuer_arn.clone(),
            invoked_by: e.principal.invoked_by.clone(),
        },
        mfa_authenticated: e.mfa_authenticated,
        source_ip: e.source_ip.clone(),
        user_agent: e.user_agent.clone(),
        error_code: e.error_code.clone(),
        error_message: e.error_message.clone(),
        read_only: e.read_only,
        event_type: e.event_type.clone(),
        raw: e.raw.clone(),
    }
}

macro_rules! severity_from {
    ($module:ident, $s:expr) => {{
        use $module::trailwarden::plugin::types::Severity as S;
        match $s {
            S::Info => Severity::Info,
            S::Low => Severity::Low,
            S::Medium => Severity::Medium,
            S::High => Severity::High,
            S::Critical => Severity::Critical,
        }
    }};
}

pub fn finding_from_v1(f: v1::Finding) -> Finding {
    Finding {
        rule_id: f.rule_id,
        severity: severity_from!(v1, f.severity),
        title: f.title,
        description: f.description,
        resources: f.resources,
        dedup_key: f.dedup_key,
        event_id: f.event_id,
        context: f.context,
    }
}

pub fn finding_from_v2(f: v2::Finding) -> Finding {
    Finding {
        rule_id: f.rule_id,
        severity: severity_from!(v2, f.severity),
        title: f.title,
        description: f.description,
        resources: f.resources,
        dedup_key: f.dedup_key,
        event_id: f.event_id,
        context: f.context,
    }
}

pub fn descriptor_from_v1(d: v1::Descriptor) -> Descriptor {
    Descriptor {
        name: d.name,
        version: d.version,
        patterns: d.patterns,
        capabilities: d.capabilities,
        fixtures: Vec::new(),
        self_caused_events: false,
    }
}

pub fn descriptor_from_v2(d: v2::Descriptor) -> Descriptor {
    Descriptor {
        name: d.name,
        version: d.version,
        patterns: d.patterns,
        capabilities: d.capabilities,
        fixtures: d.fixtures,
        self_caused_events: d.self_caused_events,
    }
}

pub fn receipt_to_v2(r: Receipt) -> v2::trailwarden::plugin::types::Receipt {
    use v2::trailwarden::plugin::types::Receipt as R;
    match r {
        Receipt::Accepted(id) => R::Accepted(id),
        Receipt::DryRun(id) => R::DryRun(id),
        Receipt::PendingApproval(id) => R::PendingApproval(id),
        Receipt::Denied(reason) => R::Denied(reason),
    }
}

pub fn rule_from_v3(r: v3::exports::trailwarden::plugin0_3_0::rules::RuleInfo) -> RuleInfo {
    RuleInfo {
        id: r.id,
        title: r.title,
        // The catalog uses 0.2.0's severity (0.3.0 includes that package unchanged).
        severity: severity_from!(v2, r.severity),
        techniques: r.techniques,
        description: r.description,
        runbook: r.runbook,
        response: r.response,
        refused: r.refused,
    }
}
