//! The response capabilities of `trailwarden:plugin@0.2.0`, one interface per family (`iam`,
//! `cloudtrail`, `s3`, `eventbridge`, `notify`), and those 0.6.0 adds (its `iam`), as the
//! [`Capabilities`] trait.
//!
//! Every call names the event that caused it (an event of the batch being handled): the host
//! scopes the action to that event's account and region, and (plugin, event, capability,
//! arguments) is its idempotency key. The answer is a [`Receipt`]; the action itself runs
//! later, if at all.
//!
//! In a component the implementation calls the host
//! ([`crate::component::HostCapabilities`]); natively, [`RecordingCapabilities`] records the
//! calls and answers with scripted receipts, for tests.

use crate::{Finding, Receipt};

/// `iam.disable-access-key`: set an access key Inactive. Inverse: set it Active.
pub const IAM_DISABLE_ACCESS_KEY: &str = "iam.disable-access-key";
/// `iam.delete-access-key`: delete an access key. No inverse.
pub const IAM_DELETE_ACCESS_KEY: &str = "iam.delete-access-key";
/// `iam.delete-login-profile`: delete a user's console password. No inverse.
pub const IAM_DELETE_LOGIN_PROFILE: &str = "iam.delete-login-profile";
/// `iam.quarantine-user`: attach the deny-all inline policy `trailwarden-quarantine`.
pub const IAM_QUARANTINE_USER: &str = "iam.quarantine-user";
/// `iam.quarantine-role`: attach the deny-all inline policy `trailwarden-quarantine`.
pub const IAM_QUARANTINE_ROLE: &str = "iam.quarantine-role";
/// `iam.detach-user-policy`: detach a managed policy from a user. Inverse: attach it.
pub const IAM_DETACH_USER_POLICY: &str = "iam.detach-user-policy";
/// `iam.detach-role-policy`: detach a managed policy from a role. Inverse: attach it.
pub const IAM_DETACH_ROLE_POLICY: &str = "iam.detach-role-policy";
/// `iam.detach-group-policy`: detach a managed policy from a group. Inverse: attach it.
pub const IAM_DETACH_GROUP_POLICY: &str = "iam.detach-group-policy";
/// `iam.revoke-role-sessions`: deny every session of a role issued before now.
pub const IAM_REVOKE_ROLE_SESSIONS: &str = "iam.revoke-role-sessions";
/// `iam.remove-user-from-group`: remove a user from a group. Inverse: add it back.
pub const IAM_REMOVE_USER_FROM_GROUP: &str = "iam.remove-user-from-group";
/// `iam.delete-inline-policy` (0.6.0): delete an inline policy of a user, role or group.
/// Inverse: put the same document back.
pub const IAM_DELETE_INLINE_POLICY: &str = "iam.delete-inline-policy";
/// `cloudtrail.start-logging`: start logging on a trail (name or ARN).
pub const CLOUDTRAIL_START_LOGGING: &str = "cloudtrail.start-logging";
/// `s3.put-public-access-block`: put all four public access block settings on a bucket.
pub const S3_PUT_PUBLIC_ACCESS_BLOCK: &str = "s3.put-public-access-block";
/// `eventbridge.publish-finding`: publish a finding to an event bus the admin named.
pub const EVENTBRIDGE_PUBLISH_FINDING: &str = "eventbridge.publish-finding";
/// `notify.send`: POST a finding to a webhook target the admin named.
pub const NOTIFY_SEND: &str = "notify.send";

/// Every capability, by name.
pub const ALL: &[&str] = &[
    IAM_DISABLE_ACCESS_KEY,
    IAM_DELETE_ACCESS_KEY,
    IAM_DELETE_LOGIN_PROFILE,
    IAM_QUARANTINE_USER,
    IAM_QUARANTINE_ROLE,
    IAM_DETACH_USER_POLICY,
    IAM_DETACH_ROLE_POLICY,
    IAM_DETACH_GROUP_POLICY,
    IAM_REVOKE_ROLE_SESSIONS,
    IAM_REMOVE_USER_FROM_GROUP,
    IAM_DELETE_INLINE_POLICY,
    CLOUDTRAIL_START_LOGGING,
    S3_PUT_PUBLIC_ACCESS_BLOCK,
    EVENTBRIDGE_PUBLISH_FINDING,
    NOTIFY_SEND,
];

/// The kind of IAM identity an inline policy belongs to (`iam.delete-inline-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    Role,
    Group,
}

impl PrincipalKind {
    /// `user`, `role` or `group`, as in IAM ARNs and the WIT enum.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
            PrincipalKind::Group => "group",
        }
    }
}

/// Whether `list` contains `name` (a `const fn`, so that the component glue can decide at
/// compile time which capability imports a plugin references).
pub const fn contains(list: &[&str], name: &str) -> bool {
    let mut i = 0;
    while i < list.len() {
        if const_eq(list[i], name) {
            return true;
        }
        i += 1;
    }
    false
}

const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Logs what the host answered to a call: `info` when granted (accepted, dry-run, pending
/// approval), `warn` when denied. Returns the receipt, for chaining.
pub fn log_receipt(capability: &str, event_id: &str, receipt: Receipt) -> Receipt {
    let message = format!("{capability} for event {event_id}: {receipt}");
    if receipt.is_granted() {
        crate::log::info(&message);
    } else {
        crate::log::warn(&message);
    }
    receipt
}

/// The response capabilities, one method per function of the WIT interfaces `iam`,
/// `cloudtrail`, `s3`, `eventbridge` and `notify`. Each takes the id of the event that caused
/// the call first and returns the host's [`Receipt`].
///
/// A plugin receives `&dyn Capabilities` in [`crate::Responder::handle`]. In a component, a
/// call to a capability that the plugin did not list in [`crate::Responder::CAPABILITIES`] is
/// answered [`Receipt::Denied`] without reaching the host (the component does not even import
/// it).
pub trait Capabilities {
    /// `iam.disable-access-key`: sets an access key Inactive. Inverse: set it Active.
    fn disable_access_key(&self, event_id: &str, user_name: &str, access_key_id: &str) -> Receipt;
    /// `iam.delete-access-key`: deletes an access key. No inverse.
    fn delete_access_key(&self, event_id: &str, user_name: &str, access_key_id: &str) -> Receipt;
    /// `iam.delete-login-profile`: deletes a user's console password. No inverse.
    fn delete_login_profile(&self, event_id: &str, user_name: &str) -> Receipt;
    /// `iam.quarantine-user`: attaches the deny-all inline policy `trailwarden-quarantine`.
    fn quarantine_user(&self, event_id: &str, user_name: &str) -> Receipt;
    /// `iam.quarantine-role`: attaches the deny-all inline policy `trailwarden-quarantine`.
    fn quarantine_role(&self, event_id: &str, role_name: &str) -> Receipt;
    /// `iam.detach-user-policy`: detaches a managed policy. Inverse: attach it again.
    fn detach_user_policy(&self, event_id: &str, user_name: &str, policy_arn: &str) -> Receipt;
    /// `iam.detach-role-policy`: detaches a managed policy. Inverse: attach it again.
    fn detach_role_policy(&self, event_id: &str, role_name: &str, policy_arn: &str) -> Receipt;
    /// `iam.detach-group-policy`: detaches a managed policy. Inverse: attach it again.
    fn detach_group_policy(&self, event_id: &str, group_name: &str, policy_arn: &str) -> Receipt;
    /// `iam.revoke-role-sessions`: denies every session of the role issued before now.
    fn revoke_role_sessions(&self, event_id: &str, role_name: &str) -> Receipt;
    /// `iam.remove-user-from-group`: removes a user from a group. Inverse: add it back.
    fn remove_user_from_group(&self, event_id: &str, user_name: &str, group_name: &str) -> Receipt;
    /// `iam.delete-inline-policy` (contract 0.6.0): deletes an inline policy of a user, role
    /// or group; the host records its document first. Inverse: put it back.
    fn delete_inline_policy(
        &self,
        event_id: &str,
        kind: PrincipalKind,
        name: &str,
        policy_name: &str,
    ) -> Receipt;
    /// `cloudtrail.start-logging`: starts logging on a trail (name or ARN).
    fn start_logging(&self, event_id: &str, trail: &str) -> Receipt;
    /// `s3.put-public-access-block`: puts all four public access block settings on a bucket.
    fn put_public_access_block(&self, event_id: &str, bucket: &str) -> Receipt;
    /// `eventbridge.publish-finding`: publishes a finding to the event bus the admin named
    /// `target`.
    fn publish_finding(&self, event_id: &str, target: &str, finding: &Finding) -> Receipt;
    /// `notify.send`: POSTs a finding to the webhook the admin named `target` (its URL and
    /// secret never reach the plugin).
    fn notify(&self, event_id: &str, target: &str, finding: &Finding) -> Receipt;
}

#[cfg(not(target_arch = "wasm32"))]
pub use recording::{RecordedCall, RecordingCapabilities};

#[cfg(not(target_arch = "wasm32"))]
mod recording {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use serde_json::{json, Value};

    use super::*;

    /// One capability call: `{"capability": "iam.disable-access-key", "args": {"user-name":
    /// ..., "access-key-id": ...}}` in [`RecordedCall::to_json`].
    #[derive(Debug, Clone, PartialEq)]
    pub struct RecordedCall {
        pub event_id: String,
        /// The capability's name, e.g. `iam.disable-access-key`.
        pub capability: &'static str,
        /// The arguments by their WIT parameter names (kebab-case), without `event-id`; a
        /// finding as [`Finding::to_json`].
        pub args: Value,
        /// What the call was answered.
        pub receipt: Receipt,
    }

    impl RecordedCall {
        /// `{"capability": ..., "args": {...}}`, the form fixtures' `actions` match.
        pub fn to_json(&self) -> Value {
            json!({"capability": self.capability, "args": self.args})
        }
    }

    /// A [`Capabilities`] for native tests: records every call and answers with the receipts
    /// it was given, in order, then [`Receipt::Accepted`] with ids `action-1`, `action-2`, ...
    #[derive(Debug, Default)]
    pub struct RecordingCapabilities {
        calls: RefCell<Vec<RecordedCall>>,
        script: RefCell<VecDeque<Receipt>>,
    }

    impl RecordingCapabilities {
        /// Answers every call [`Receipt::Accepted`].
        pub fn new() -> Self {
            Self::default()
        }

        /// Answers the first calls with `receipts`, in order, and later ones `Accepted`.
        pub fn with_receipts(receipts: impl IntoIterator<Item = Receipt>) -> Self {
            let caps = Self::default();
            caps.script.borrow_mut().extend(receipts);
            caps
        }

        /// Queues the answer to a later call.
        pub fn push_receipt(&self, receipt: Receipt) {
            self.script.borrow_mut().push_back(receipt);
        }

        /// The calls so far, in order.
        pub fn calls(&self) -> Vec<RecordedCall> {
            self.calls.borrow().clone()
        }

        /// The calls so far as `{"capability", "args"}` objects.
        pub fn calls_json(&self) -> Vec<Value> {
            self.calls
                .borrow()
                .iter()
                .map(RecordedCall::to_json)
                .collect()
        }

        /// The names of the capabilities called so far, in order.
        pub fn capabilities_called(&self) -> Vec<&'static str> {
            self.calls.borrow().iter().map(|c| c.capability).collect()
        }

        /// Forgets the calls so far (the script of receipts is kept).
        pub fn clear(&self) {
            self.calls.borrow_mut().clear();
        }

        fn record(&self, event_id: &str, capability: &'static str, args: Value) -> Receipt {
            let n = self.calls.borrow().len() + 1;
            let receipt = self
                .script
                .borrow_mut()
                .pop_front()
                .unwrap_or_else(|| Receipt::Accepted(format!("action-{n}")));
            self.calls.borrow_mut().push(RecordedCall {
                event_id: event_id.to_owned(),
                capability,
                args,
                receipt: receipt.clone(),
            });
            receipt
        }
    }

    impl Capabilities for RecordingCapabilities {
        fn disable_access_key(&self, event_id: &str, user: &str, key: &str) -> Receipt {
            let args = json!({"user-name": user, "access-key-id": key});
            self.record(event_id, IAM_DISABLE_ACCESS_KEY, args)
        }

        fn delete_access_key(&self, event_id: &str, user: &str, key: &str) -> Receipt {
            let args = json!({"user-name": user, "access-key-id": key});
            self.record(event_id, IAM_DELETE_ACCESS_KEY, args)
        }

        fn delete_login_profile(&self, event_id: &str, user: &str) -> Receipt {
            let args = json!({ "user-name": user });
            self.record(event_id, IAM_DELETE_LOGIN_PROFILE, args)
        }

        fn quarantine_user(&self, event_id: &str, user: &str) -> Receipt {
            let args = json!({ "user-name": user });
            self.record(event_id, IAM_QUARANTINE_USER, args)
        }

        fn quarantine_role(&self, event_id: &str, role: &str) -> Receipt {
            let args = json!({ "role-name": role });
            self.record(event_id, IAM_QUARANTINE_ROLE, args)
        }

        fn detach_user_policy(&self, event_id: &str, user: &str, policy: &str) -> Receipt {
            let args = json!({"user-name": user, "policy-arn": policy});
            self.record(event_id, IAM_DETACH_USER_POLICY, args)
        }

        fn detach_role_policy(&self, event_id: &str, role: &str, policy: &str) -> Receipt {
            let args = json!({"role-name": role, "policy-arn": policy});
            self.record(event_id, IAM_DETACH_ROLE_POLICY, args)
        }

        fn detach_group_policy(&self, event_id: &str, group: &str, policy: &str) -> Receipt {
            let args = json!({"group-name": group, "policy-arn": policy});
            self.record(event_id, IAM_DETACH_GROUP_POLICY, args)
        }

        fn revoke_role_sessions(&self, event_id: &str, role: &str) -> Receipt {
            let args = json!({ "role-name": role });
            self.record(event_id, IAM_REVOKE_ROLE_SESSIONS, args)
        }

        fn remove_user_from_group(&self, event_id: &str, user: &str, group: &str) -> Receipt {
            let args = json!({"user-name": user, "group-name": group});
            self.record(event_id, IAM_REMOVE_USER_FROM_GROUP, args)
        }

        fn delete_inline_policy(
            &self,
            event_id: &str,
            kind: PrincipalKind,
            name: &str,
            policy_name: &str,
        ) -> Receipt {
            let args = json!({"principal-kind": kind.as_str(), "principal-name": name,
                "policy-name": policy_name});
            self.record(event_id, IAM_DELETE_INLINE_POLICY, args)
        }

        fn start_logging(&self, event_id: &str, trail: &str) -> Receipt {
            let args = json!({ "trail": trail });
            self.record(event_id, CLOUDTRAIL_START_LOGGING, args)
        }

        fn put_public_access_block(&self, event_id: &str, bucket: &str) -> Receipt {
            let args = json!({ "bucket": bucket });
            self.record(event_id, S3_PUT_PUBLIC_ACCESS_BLOCK, args)
        }

        fn publish_finding(&self, event_id: &str, target: &str, finding: &Finding) -> Receipt {
            let args = json!({"target": target, "finding": finding.to_json()});
            self.record(event_id, EVENTBRIDGE_PUBLISH_FINDING, args)
        }

        fn notify(&self, event_id: &str, target: &str, finding: &Finding) -> Receipt {
            let args = json!({"target": target, "finding": finding.to_json()});
            self.record(event_id, NOTIFY_SEND, args)
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn const_lookup() {
        const { assert!(contains(ALL, "notify.send")) };
        const { assert!(!contains(ALL, "notify.sen")) };
        assert!(!contains(&[], NOTIFY_SEND));
    }

    #[test]
    fn records_calls_and_answers_with_the_script() {
        let caps = RecordingCapabilities::with_receipts([Receipt::Denied("no".into())]);
        assert_eq!(
            caps.disable_access_key("e1", "bob", "AKIA1"),
            Receipt::Denied("no".into())
        );
        assert_eq!(
            caps.start_logging("e2", "trail"),
            Receipt::Accepted("action-2".into())
        );
        assert_eq!(
            caps.calls_json(),
            vec![
                json!({"capability": "iam.disable-access-key",
                       "args": {"user-name": "bob", "access-key-id": "AKIA1"}}),
                json!({"capability": "cloudtrail.start-logging", "args": {"trail": "trail"}}),
            ]
        );
        assert_eq!(caps.calls()[1].event_id, "e2");
        let finding = Finding {
            rule_id: "r".into(),
            severity: crate::Severity::High,
            title: "t".into(),
            description: "d".into(),
            resources: vec!["arn".into()],
            dedup_key: "k".into(),
            event_id: "e3".into(),
            context: r#"{"a":1}"#.into(),
        };
        caps.notify("e3", "security-team", &finding);
        assert_eq!(
            caps.calls_json()[2]["args"],
            json!({"target": "security-team", "finding": {"rule_id": "r", "severity": "high",
                "title": "t", "description": "d", "resources": ["arn"], "dedup_key": "k",
                "event_id": "e3", "context": {"a": 1}}})
        );
    }
}
