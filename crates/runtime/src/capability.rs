//! The seam between the sandbox and whatever answers capability calls: the broker (decide,
//! record in the outbox) in production, a recorder in the fixture harness.

use aws_actions::Action;
use serde_json::{json, Value};

use super::types::{Finding, Receipt};

/// One capability call as the plugin made it, typed from the WIT import on: the AWS action it
/// asks for, or a finding for a target the admin names in the config (resolved later, by the
/// broker).
#[derive(Debug, Clone, PartialEq)]
pub enum CapabilityCall {
    /// A call that is one AWS action, with the plugin's arguments.
    Aws(Action),
    /// `eventbridge.publish-finding`: the finding (as [`finding_value`]) for the bus the
    /// config names `target`.
    PublishFinding { target: String, finding: Value },
    /// `notify.send`: the finding (as [`finding_value`]) for the notification target `target`.
    NotifySend { target: String, finding: Value },
}

impl CapabilityCall {
    /// The capability's name, e.g. `iam.disable-access-key`.
    pub fn capability(&self) -> &'static str {
        match self {
            CapabilityCall::Aws(action) => action.capability(),
            CapabilityCall::PublishFinding { .. } => "eventbridge.publish-finding",
            CapabilityCall::NotifySend { .. } => "notify.send",
        }
    }

    /// The arguments by their WIT parameter names (kebab-case), without `event-id`: what a
    /// fixture's `actions` match, what a refused call is recorded with, and what the
    /// idempotency key hashes (the object earlier releases built from the WIT arguments, so
    /// a replay after an upgrade finds the earlier decision).
    pub fn args(&self) -> Value {
        match self {
            CapabilityCall::Aws(action) => match serde_json::to_value(action) {
                Ok(Value::Object(fields)) => fields
                    .into_iter()
                    .filter(|(name, _)| name != "action")
                    .map(|(name, value)| (name.replace('_', "-"), value))
                    .collect::<serde_json::Map<_, _>>()
                    .into(),
                _ => Value::Null,
            },
            CapabilityCall::PublishFinding { target, finding }
            | CapabilityCall::NotifySend { target, finding } => {
                json!({"target": target, "finding": finding})
            }
        }
    }

    /// [`CapabilityCall::args`] to write out, without copying a finding into a new tree
    /// (the idempotency key of every notification): it writes the same JSON.
    pub fn args_ref(&self) -> ArgsRef<'_> {
        match self {
            CapabilityCall::Aws(_) => ArgsRef::Built(self.args()),
            CapabilityCall::PublishFinding { target, finding }
            | CapabilityCall::NotifySend { target, finding } => {
                ArgsRef::Finding { finding, target }
            }
        }
    }
}

/// A call's arguments as [`CapabilityCall::args`] writes them.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum ArgsRef<'a> {
    /// A finding call's: fields in the order a JSON object's keys are written (sorted).
    Finding { finding: &'a Value, target: &'a str },
    /// An AWS action's, built.
    Built(Value),
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
            call.capability()
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
