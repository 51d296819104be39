//! The seam between the sandbox and whatever answers capability calls: the broker (decide,
//! record in the outbox) in production, a recorder in the fixture harness.

use serde_json::{json, Value};

use super::types::{Finding, Receipt};

/// One capability call as the plugin made it: the capability's name and its arguments by
/// their WIT parameter names (kebab-case), without `event-id`.
#[derive(Debug, Clone, PartialEq)]
pub struct CapabilityCall {
    pub capability: &'static str,
    pub args: Value,
}

/// Answers capability calls for one batch.
pub trait CapabilityHandler: Send {
    /// Decides (and records) one call.
    ///
    /// # Errors
    /// The decision could not be recorded: the plugin is trapped rather than answered.
    fn call(&mut self, event_id: &str, call: CapabilityCall) -> anyhow::Result<Receipt>;

    /// Makes the batch's decisions durable, once, when the guest has returned (or failed):
    /// a handler may hold them until then to write them in one transaction.
    ///
    /// # Errors
    /// The decisions could not be recorded.
    fn finish(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// The handler of a plugin without grants: every call is denied.
pub struct DenyAll;

impl CapabilityHandler for DenyAll {
    fn call(&mut self, _event_id: &str, call: CapabilityCall) -> anyhow::Result<Receipt> {
        Ok(Receipt::Denied(format!(
            "capability {} is not granted",
            call.capability
        )))
    }
}

/// A finding argument as JSON, with the same keys as the audit store.
pub fn finding_value(finding: &Finding) -> Value {
    json!({
        "rule_id": finding.rule_id,
        "severity": finding.severity.as_str(),
        "title": finding.title,
        "description": finding.description,
        "resources": finding.resources,
        "dedup_key": finding.dedup_key,
        "event_id": finding.event_id,
        "context": serde_json::from_str::<Value>(&finding.context)
            .unwrap_or(Value::String(finding.context.clone())),
    })
}
