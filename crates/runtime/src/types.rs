//! The host's own view of what crosses the boundary, independent of the contract version.

use serde::Serialize;

/// Who made the call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    pub kind: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
    pub user_name: Option<String>,
    pub access_key_id: Option<String>,
    pub session_issuer_arn: Option<String>,
    pub invoked_by: Option<String>,
}

/// One event as handed to a plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub time: Option<String>,
    pub source: Option<String>,
    pub name: Option<String>,
    pub region: Option<String>,
    pub account: Option<String>,
    pub principal: Principal,
    pub mfa_authenticated: Option<bool>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub read_only: Option<bool>,
    pub event_type: Option<String>,
    /// Caused by one of trailwarden's own principals.
    pub self_caused: bool,
    pub raw: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule_id: String,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    pub resources: Vec<String>,
    pub dedup_key: String,
    pub event_id: String,
    pub context: String,
}

/// What a plugin said about itself in `describe`.
#[derive(Debug, Clone, Default)]
pub struct Descriptor {
    pub name: String,
    pub version: String,
    pub patterns: Vec<String>,
    pub capabilities: Vec<String>,
    /// Fixture JSON texts shipped inside the component (0.2.0 and later).
    pub fixtures: Vec<String>,
    pub self_caused_events: bool,
}

/// The host's answer to a capability call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    Accepted(String),
    DryRun(String),
    PendingApproval(String),
    Denied(String),
}

impl Receipt {
    /// The name fixtures use: accepted, dry-run, pending-approval, denied.
    pub fn kind(&self) -> &'static str {
        match self {
            Receipt::Accepted(_) => "accepted",
            Receipt::DryRun(_) => "dry-run",
            Receipt::PendingApproval(_) => "pending-approval",
            Receipt::Denied(_) => "denied",
        }
    }
}

/// One detection a plugin holds (0.3.0 `rule-info`): what `trailwarden rules list` prints.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    /// MITRE ATT&CK technique ids.
    pub techniques: Vec<String>,
    pub description: String,
    pub runbook: String,
    /// The capabilities it calls when it fires.
    pub response: Vec<String>,
    /// Why the plugin cannot run it, when it cannot.
    pub refused: Option<String>,
}
