//! What an accepted capability call asks to be done, as stored in the outbox.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::runtime::CapabilityCall;

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

fn text<'a>(args: &'a Value, key: &str) -> Result<&'a str, String> {
    match args.get(key).and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(format!("argument {key} is missing or empty")),
    }
}

/// Turns a plugin's call into a request, resolving target names from the config.
///
/// # Errors
/// An argument is missing or empty, or a target is not configured: the call is denied with
/// this reason.
pub fn from_call(
    call: &CapabilityCall,
    event_bus_for: impl Fn(&str) -> Option<String>,
    notify_target_exists: impl Fn(&str) -> bool,
) -> Result<Request, String> {
    use aws_actions::Action;
    let a = &call.args;
    let aws = |action| Ok(Request::Aws { action });
    match call.capability {
        "iam.disable-access-key" => aws(Action::DisableAccessKey {
            user_name: text(a, "user-name")?.into(),
            access_key_id: text(a, "access-key-id")?.into(),
        }),
        "iam.delete-access-key" => aws(Action::DeleteAccessKey {
            user_name: text(a, "user-name")?.into(),
            access_key_id: text(a, "access-key-id")?.into(),
        }),
        "iam.delete-login-profile" => aws(Action::DeleteLoginProfile {
            user_name: text(a, "user-name")?.into(),
        }),
        "iam.quarantine-user" => aws(Action::QuarantineUser {
            user_name: text(a, "user-name")?.into(),
        }),
        "iam.quarantine-role" => aws(Action::QuarantineRole {
            role_name: text(a, "role-name")?.into(),
        }),
        "iam.delete-inline-policy" => aws(Action::DeleteInlinePolicy {
            principal_kind: serde_json::from_value(Value::from(text(a, "principal-kind")?))
                .map_err(|_| "argument principal-kind is not user, role or group".to_string())?,
            principal_name: text(a, "principal-name")?.into(),
            policy_name: text(a, "policy-name")?.into(),
        }),
        "iam.detach-user-policy" => aws(Action::DetachUserPolicy {
            user_name: text(a, "user-name")?.into(),
            policy_arn: text(a, "policy-arn")?.into(),
        }),
        "iam.detach-role-policy" => aws(Action::DetachRolePolicy {
            role_name: text(a, "role-name")?.into(),
            policy_arn: text(a, "policy-arn")?.into(),
        }),
        "iam.detach-group-policy" => aws(Action::DetachGroupPolicy {
            group_name: text(a, "group-name")?.into(),
            policy_arn: text(a, "policy-arn")?.into(),
        }),
        "iam.revoke-role-sessions" => aws(Action::RevokeRoleSessions {
            role_name: text(a, "role-name")?.into(),
        }),
        "iam.remove-user-from-group" => aws(Action::RemoveUserFromGroup {
            user_name: text(a, "user-name")?.into(),
            group_name: text(a, "group-name")?.into(),
        }),
        "cloudtrail.start-logging" => aws(Action::StartLogging {
            trail: text(a, "trail")?.into(),
        }),
        "s3.put-public-access-block" => aws(Action::PutPublicAccessBlock {
            bucket: text(a, "bucket")?.into(),
        }),
        "eventbridge.publish-finding" => {
            let target = text(a, "target")?;
            let event_bus = event_bus_for(target)
                .ok_or_else(|| format!("eventbridge target {target:?} is not configured"))?;
            aws(Action::PublishFinding {
                event_bus,
                detail_type: "trailwarden finding".into(),
                source: "trailwarden".into(),
                detail: a.get("finding").cloned().unwrap_or(Value::Null),
            })
        }
        "notify.send" => {
            let target = text(a, "target")?;
            if !notify_target_exists(target) {
                return Err(format!("notify target {target:?} is not configured"));
            }
            Ok(Request::Webhook {
                target: target.into(),
                finding: a.get("finding").cloned().unwrap_or(Value::Null),
                runbook: None,
            })
        }
        other => Err(format!("unknown capability {other}")),
    }
}
