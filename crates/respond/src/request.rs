//! What an accepted capability call asks to be done, as stored in the outbox: typed from the
//! plugin's call ([`CapabilityCall`]) to the executor.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use trailwarden_runtime::CapabilityCall;

/// A request the executors can carry out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Request {
    /// An AWS API call through the AWS SDK.
    Aws { action: aws_actions::Action },
    /// A plugin's `notify.send` of a finding to a target named in the config: sent at
    /// once, or merged into a [`Request::NotifyMessage`] when the target groups or limits.
    Webhook {
        target: String,
        finding: Value,
        /// The rule's runbook from the plugin's catalog, when it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        runbook: Option<String>,
    },
    /// The message of one group of findings (`notify_groups` row `group`), due when the
    /// group's window closes.
    NotifyMessage { target: String, group: i64 },
    /// The digest of the findings a target's rate limit held back in one window.
    NotifyDigest { target: String, window_start: i64 },
    /// PagerDuty: resolve the incident of a finding dedup key.
    NotifyResolve { target: String, dedup_key: String },
}

/// The capability names of the notification messages trailwarden itself queues (not a
/// plugin's call, so they count against no plugin's budget).
pub const NOTIFY_MESSAGE: &str = "notify.message";
pub const NOTIFY_DIGEST: &str = "notify.digest";
pub const NOTIFY_RESOLVE: &str = "notify.resolve";

impl Request {
    /// The ARN or name an action touches, for scope checks.
    pub fn resource(&self, account: &str) -> String {
        match self {
            Request::Aws { action } => action.resource_arn(account, "aws"),
            Request::Webhook { target, .. }
            | Request::NotifyMessage { target, .. }
            | Request::NotifyDigest { target, .. }
            | Request::NotifyResolve { target, .. } => format!("notify:{target}"),
        }
    }

    /// The capability an action of this request is recorded under.
    pub fn capability(&self) -> &'static str {
        match self {
            Request::Aws { action } => action.capability(),
            Request::Webhook { .. } => aws_actions::action::WEBHOOK_CAPABILITY,
            Request::NotifyMessage { .. } => NOTIFY_MESSAGE,
            Request::NotifyDigest { .. } => NOTIFY_DIGEST,
            Request::NotifyResolve { .. } => NOTIFY_RESOLVE,
        }
    }
}

/// What the outbox's `request` column holds, typed: the request of a granted call, or the
/// arguments of a call refused before it became one. Serialised as earlier releases wrote it
/// (a [`Request`] tagged by `kind`, or `{"kind": "ungranted"|"invalid", "args": ...}`), so
/// their rows read back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StoredRequest {
    Request(Request),
    /// A call denied before it was a request: not granted, or invalid.
    Refused {
        kind: Refusal,
        args: Value,
    },
    /// Anything else (not written by this release): kept as it is, never executed.
    Other(Value),
}

/// Why a call never became a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Refusal {
    /// Its capability is not granted to the plugin at all.
    Ungranted,
    /// An argument is missing, a target is not configured, or the event is not the batch's.
    Invalid,
}

impl StoredRequest {
    /// The executable request, when this is one.
    pub fn request(&self) -> Option<&Request> {
        match self {
            StoredRequest::Request(request) => Some(request),
            _ => None,
        }
    }
}

impl From<Request> for StoredRequest {
    fn from(request: Request) -> Self {
        StoredRequest::Request(request)
    }
}

/// The first empty text argument of a call, as the denial names it.
fn check_arguments(call: &CapabilityCall) -> Result<(), String> {
    if let Value::Object(args) = call.args() {
        for (name, value) in args {
            if value.as_str().is_some_and(|text| text.trim().is_empty()) {
                return Err(format!("argument {name} is missing or empty"));
            }
        }
    }
    Ok(())
}

/// Turns a plugin's call into a request, resolving target names from the config.
///
/// # Errors
/// An argument is empty, or a target is not configured: the call is denied with this
/// reason.
pub fn from_call(
    call: &CapabilityCall,
    event_bus_for: impl Fn(&str) -> Option<String>,
    notify_target_exists: impl Fn(&str) -> bool,
) -> Result<Request, String> {
    check_arguments(call)?;
    match call {
        CapabilityCall::Aws(action) => Ok(Request::Aws {
            action: action.clone(),
        }),
        CapabilityCall::PublishFinding { target, finding } => {
            let event_bus = event_bus_for(target)
                .ok_or_else(|| format!("eventbridge target {target:?} is not configured"))?;
            Ok(Request::Aws {
                action: aws_actions::Action::PublishFinding {
                    event_bus,
                    detail_type: "trailwarden finding".into(),
                    source: "trailwarden".into(),
                    detail: finding.clone(),
                },
            })
        }
        CapabilityCall::NotifySend { target, finding } => {
            if !notify_target_exists(target) {
                return Err(format!("notify target {target:?} is not configured"));
            }
            Ok(Request::Webhook {
                target: target.clone(),
                finding: finding.clone(),
                runbook: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_in_the_shapes_earlier_releases_wrote_read_back_typed() {
        let granted = json!({"kind": "aws", "action": {"action": "disable-access-key",
            "user_name": "bob", "access_key_id": "AKIAEXAMPLE"}});
        let read: StoredRequest = serde_json::from_value(granted.clone()).unwrap();
        assert_eq!(
            read,
            StoredRequest::Request(Request::Aws {
                action: aws_actions::Action::DisableAccessKey {
                    user_name: "bob".into(),
                    access_key_id: "AKIAEXAMPLE".into(),
                }
            })
        );
        assert_eq!(serde_json::to_value(&read).unwrap(), granted);
        let webhook = json!({"kind": "webhook", "target": "sec", "finding": {"rule_id": "r"}});
        let read: StoredRequest = serde_json::from_value(webhook.clone()).unwrap();
        assert!(matches!(
            read.request(),
            Some(Request::Webhook { runbook: None, .. })
        ));
        assert_eq!(serde_json::to_value(&read).unwrap(), webhook);
        let refused = json!({"kind": "ungranted", "args": {"user-name": "bob"}});
        let read: StoredRequest = serde_json::from_value(refused.clone()).unwrap();
        assert_eq!(
            read,
            StoredRequest::Refused {
                kind: Refusal::Ungranted,
                args: json!({"user-name": "bob"})
            }
        );
        assert_eq!(serde_json::to_value(&read).unwrap(), refused);
        let unknown = json!({"kind": "from-the-future", "x": 1});
        let read: StoredRequest = serde_json::from_value(unknown.clone()).unwrap();
        assert_eq!(read, StoredRequest::Other(unknown));
        assert_eq!(read.request(), None);
    }

    #[test]
    fn an_empty_argument_is_named() {
        let call = CapabilityCall::Aws(aws_actions::Action::QuarantineUser {
            user_name: " ".into(),
        });
        assert_eq!(
            from_call(&call, |_| None, |_| false),
            Err("argument user-name is missing or empty".into())
        );
    }
}
