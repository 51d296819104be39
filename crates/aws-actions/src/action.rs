//! [`Action`]: one response action, as the outbox stores it (JSON, tagged by `action`).

use crate::error::ExecError;

/// Name of the deny-all inline policy that [`Action::QuarantineUser`] and
/// [`Action::QuarantineRole`] put.
pub const QUARANTINE_POLICY: &str = "trailwarden-quarantine";

/// Name of the inline policy that [`Action::RevokeRoleSessions`] puts on a role.
pub const REVOKE_SESSIONS_POLICY: &str = "trailwarden-revoke-sessions";

/// Capability of [`crate::post_webhook`] (the `notify` interface of the plugin contract).
pub const WEBHOOK_CAPABILITY: &str = "notify.send";

/// Every capability name an [`Action`] can have, inverses included, in the order of the enum.
pub const CAPABILITIES: &[&str] = &[
    "iam.disable-access-key",
    "iam.enable-access-key",
    "iam.delete-access-key",
    "iam.delete-login-profile",
    "iam.quarantine-user",
    "iam.quarantine-role",
    "iam.delete-user-inline-policy",
    "iam.delete-role-inline-policy",
    "iam.delete-inline-policy",
    "iam.put-inline-policy",
    "iam.detach-user-policy",
    "iam.attach-user-policy",
    "iam.detach-role-policy",
    "iam.attach-role-policy",
    "iam.detach-group-policy",
    "iam.attach-group-policy",
    "iam.revoke-role-sessions",
    "iam.remove-user-from-group",
    "iam.add-user-to-group",
    "cloudtrail.start-logging",
    "s3.put-public-access-block",
    "s3.restore-public-access-block",
    "eventbridge.publish-finding",
];

/// One response action on AWS. Serialized as `{"action": "disable-access-key", ...}`.
///
/// Where an action can be undone, executing it yields the inverse in
/// [`Outcome::inverse`](crate::Outcome::inverse).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Sets an access key `Inactive`. Inverse: [`Action::EnableAccessKey`].
    DisableAccessKey {
        user_name: String,
        access_key_id: String,
    },
    /// Sets an access key `Active`. Inverse: [`Action::DisableAccessKey`].
    EnableAccessKey {
        user_name: String,
        access_key_id: String,
    },
    /// Deletes an access key. No inverse.
    DeleteAccessKey {
        user_name: String,
        access_key_id: String,
    },
    /// Deletes a user's console password. No inverse.
    DeleteLoginProfile { user_name: String },
    /// Puts the deny-all inline policy [`QUARANTINE_POLICY`] on a user.
    /// Inverse: [`Action::DeleteUserInlinePolicy`].
    QuarantineUser { user_name: String },
    /// Puts the deny-all inline policy [`QUARANTINE_POLICY`] on a role.
    /// Inverse: [`Action::DeleteRoleInlinePolicy`].
    QuarantineRole { role_name: String },
    /// Deletes an inline policy of a user. No inverse.
    DeleteUserInlinePolicy {
        user_name: String,
        policy_name: String,
    },
    /// Deletes an inline policy of a role. No inverse.
    DeleteRoleInlinePolicy {
        role_name: String,
        policy_name: String,
    },
    /// Deletes an inline policy of a user, role or group, reading its document first.
    /// Inverse: [`Action::PutInlinePolicy`] of that document.
    DeleteInlinePolicy {
        principal_kind: PrincipalKind,
        principal_name: String,
        policy_name: String,
    },
    /// Puts an inline policy document on a user, role or group (the undo of
    /// [`Action::DeleteInlinePolicy`]). Inverse: [`Action::DeleteInlinePolicy`].
    PutInlinePolicy {
        principal_kind: PrincipalKind,
        principal_name: String,
        policy_name: String,
        policy_document: String,
    },
    /// Detaches a managed policy from a user. Inverse: [`Action::AttachUserPolicy`].
    DetachUserPolicy {
        user_name: String,
        policy_arn: String,
    },
    /// Attaches a managed policy to a user. Inverse: [`Action::DetachUserPolicy`].
    AttachUserPolicy {
        user_name: String,
        policy_arn: String,
    },
    /// Detaches a managed policy from a role. Inverse: [`Action::AttachRolePolicy`].
    DetachRolePolicy {
        role_name: String,
        policy_arn: String,
    },
    /// Attaches a managed policy to a role. Inverse: [`Action::DetachRolePolicy`].
    AttachRolePolicy {
        role_name: String,
        policy_arn: String,
    },
    /// Detaches a managed policy from a group. Inverse: [`Action::AttachGroupPolicy`].
    DetachGroupPolicy {
        group_name: String,
        policy_arn: String,
    },
    /// Attaches a managed policy to a group. Inverse: [`Action::DetachGroupPolicy`].
    AttachGroupPolicy {
        group_name: String,
        policy_arn: String,
    },
    /// Denies every session of the role issued before the time of execution (inline policy
    /// [`REVOKE_SESSIONS_POLICY`] on `aws:TokenIssueTime`).
    /// Inverse: [`Action::DeleteRoleInlinePolicy`].
    RevokeRoleSessions { role_name: String },
    /// Removes a user from a group. Inverse: [`Action::AddUserToGroup`].
    RemoveUserFromGroup {
        user_name: String,
        group_name: String,
    },
    /// Adds a user to a group. Inverse: [`Action::RemoveUserFromGroup`].
    AddUserToGroup {
        user_name: String,
        group_name: String,
    },
    /// Starts logging on a trail (name or ARN). No inverse: stopping is the attack.
    StartLogging { trail: String },
    /// Turns on all four S3 public access block settings of a bucket.
    /// Inverse: [`Action::RestorePublicAccessBlock`] with the configuration found before.
    PutPublicAccessBlock { bucket: String },
    /// Puts back a bucket's public access block as it was; `None` deletes it (there was
    /// none). No inverse.
    RestorePublicAccessBlock {
        bucket: String,
        previous: Option<PublicAccessBlock>,
    },
    /// Publishes a finding to an EventBridge bus (name or ARN) with `PutEvents`. `detail`
    /// must be a JSON object. No inverse.
    PublishFinding {
        event_bus: String,
        detail_type: String,
        source: String,
        detail: serde_json::Value,
    },
}

/// The kind of IAM identity a policy belongs to, as in IAM ARNs (`user`, `role`, `group`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    User,
    Role,
    Group,
}

impl PrincipalKind {
    /// `user`, `role` or `group`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
            PrincipalKind::Group => "group",
        }
    }
}

/// A bucket's S3 public access block configuration (a setting AWS left out counts as
/// `false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// All four settings on.
    pub const ALL: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
}

impl Action {
    /// The capability an admin grants for this action, e.g. `iam.disable-access-key`.
    pub fn capability(&self) -> &'static str {
        match self {
            Action::DisableAccessKey { .. } => "iam.disable-access-key",
            Action::EnableAccessKey { .. } => "iam.enable-access-key",
            Action::DeleteAccessKey { .. } => "iam.delete-access-key",
            Action::DeleteLoginProfile { .. } => "iam.delete-login-profile",
            Action::QuarantineUser { .. } => "iam.quarantine-user",
            Action::QuarantineRole { .. } => "iam.quarantine-role",
            Action::DeleteUserInlinePolicy { .. } => "iam.delete-user-inline-policy",
            Action::DeleteRoleInlinePolicy { .. } => "iam.delete-role-inline-policy",
            Action::DeleteInlinePolicy { .. } => "iam.delete-inline-policy",
            Action::PutInlinePolicy { .. } => "iam.put-inline-policy",
            Action::DetachUserPolicy { .. } => "iam.detach-user-policy",
            Action::AttachUserPolicy { .. } => "iam.attach-user-policy",
            Action::DetachRolePolicy { .. } => "iam.detach-role-policy",
            Action::AttachRolePolicy { .. } => "iam.attach-role-policy",
            Action::DetachGroupPolicy { .. } => "iam.detach-group-policy",
            Action::AttachGroupPolicy { .. } => "iam.attach-group-policy",
            Action::RevokeRoleSessions { .. } => "iam.revoke-role-sessions",
            Action::RemoveUserFromGroup { .. } => "iam.remove-user-from-group",
            Action::AddUserToGroup { .. } => "iam.add-user-to-group",
            Action::StartLogging { .. } => "cloudtrail.start-logging",
            Action::PutPublicAccessBlock { .. } => "s3.put-public-access-block",
            Action::RestorePublicAccessBlock { .. } => "s3.restore-public-access-block",
            Action::PublishFinding { .. } => "eventbridge.publish-finding",
        }
    }

    /// The ARN of the resource the action touches, for scope checks: the IAM user, role or
    /// group (`arn:aws:iam::ACCOUNT:user/NAME`), the trail, the bucket
    /// (`arn:aws:s3:::BUCKET`) or the event bus. An ARN given as the action's argument
    /// passes through unchanged.
    ///
    /// Regional resources (trails and buses named without an ARN) get an empty region
    /// field here; [`Action::resource_arn_in`] fills it in.
    pub fn resource_arn(&self, account: &str, partition: &str) -> String {
        self.resource_arn_in(account, "", partition)
    }

    /// [`Action::resource_arn`] with the region of the target, for trails and event buses
    /// named without an ARN.
    pub fn resource_arn_in(&self, account: &str, region: &str, partition: &str) -> String {
        let iam = |kind: &str, name: &str| format!("arn:{partition}:iam::{account}:{kind}/{name}");
        match self {
            Action::DisableAccessKey { user_name, .. }
            | Action::EnableAccessKey { user_name, .. }
            | Action::DeleteAccessKey { user_name, .. }
            | Action::DeleteLoginProfile { user_name }
            | Action::QuarantineUser { user_name }
            | Action::DeleteUserInlinePolicy { user_name, .. }
            | Action::DetachUserPolicy { user_name, .. }
            | Action::AttachUserPolicy { user_name, .. }
            | Action::RemoveUserFromGroup { user_name, .. }
            | Action::AddUserToGroup { user_name, .. } => iam("user", user_name),
            Action::QuarantineRole { role_name }
            | Action::DeleteRoleInlinePolicy { role_name, .. }
            | Action::DetachRolePolicy { role_name, .. }
            | Action::AttachRolePolicy { role_name, .. }
            | Action::RevokeRoleSessions { role_name } => iam("role", role_name),
            Action::DetachGroupPolicy { group_name, .. }
            | Action::AttachGroupPolicy { group_name, .. } => iam("group", group_name),
            Action::DeleteInlinePolicy {
                principal_kind,
                principal_name,
                ..
            }
            | Action::PutInlinePolicy {
                principal_kind,
                principal_name,
                ..
            } => iam(principal_kind.as_str(), principal_name),
            Action::StartLogging { trail } if trail.starts_with("arn:") => trail.clone(),
            Action::StartLogging { trail } => {
                format!("arn:{partition}:cloudtrail:{region}:{account}:trail/{trail}")
            }
            Action::PutPublicAccessBlock { bucket }
            | Action::RestorePublicAccessBlock { bucket, .. } => {
                format!("arn:{partition}:s3:::{bucket}")
            }
            Action::PublishFinding { event_bus, .. } if event_bus.starts_with("arn:") => {
                event_bus.clone()
            }
            Action::PublishFinding { event_bus, .. } => {
                format!("arn:{partition}:events:{region}:{account}:event-bus/{event_bus}")
            }
        }
    }

    /// Whether the action changes the state of an AWS resource. Publishing a finding only
    /// sends an event, so it is the one that does not.
    pub fn is_mutating(&self) -> bool {
        !matches!(self, Action::PublishFinding { .. })
    }

    /// Checks the arguments before anything is sent: names present, policy ARNs that look
    /// like ARNs, a finding's detail an object.
    ///
    /// # Errors
    /// A non-retryable [`ExecError`] naming the first bad argument.
    pub fn validate(&self) -> Result<(), ExecError> {
        let mut fields: Vec<(&str, &str)> = Vec::with_capacity(4);
        match self {
            Action::DisableAccessKey {
                user_name,
                access_key_id,
            }
            | Action::EnableAccessKey {
                user_name,
                access_key_id,
            }
            | Action::DeleteAccessKey {
                user_name,
                access_key_id,
            } => fields.extend([
                ("user_name", &**user_name),
                ("access_key_id", access_key_id),
            ]),
            Action::DeleteLoginProfile { user_name } | Action::QuarantineUser { user_name } => {
                fields.push(("user_name", user_name));
            }
            Action::QuarantineRole { role_name } | Action::RevokeRoleSessions { role_name } => {
                fields.push(("role_name", role_name));
            }
            Action::DeleteUserInlinePolicy {
                user_name,
                policy_name,
            } => fields.extend([("user_name", &**user_name), ("policy_name", policy_name)]),
            Action::DeleteRoleInlinePolicy {
                role_name,
                policy_name,
            } => fields.extend([("role_name", &**role_name), ("policy_name", policy_name)]),
            Action::DeleteInlinePolicy {
                principal_name,
                policy_name,
                ..
            } => fields.extend([
                ("principal_name", &**principal_name),
                ("policy_name", policy_name),
            ]),
            Action::PutInlinePolicy {
                principal_name,
                policy_name,
                policy_document,
                ..
            } => fields.extend([
                ("principal_name", &**principal_name),
                ("policy_name", policy_name),
                ("policy_document", policy_document),
            ]),
            Action::DetachUserPolicy {
                user_name,
                policy_arn,
            }
            | Action::AttachUserPolicy {
                user_name,
                policy_arn,
            } => {
                check_arn("policy_arn", policy_arn)?;
                fields.push(("user_name", user_name));
            }
            Action::DetachRolePolicy {
                role_name,
                policy_arn,
            }
            | Action::AttachRolePolicy {
                role_name,
                policy_arn,
            } => {
                check_arn("policy_arn", policy_arn)?;
                fields.push(("role_name", role_name));
            }
            Action::DetachGroupPolicy {
                group_name,
                policy_arn,
            }
            | Action::AttachGroupPolicy {
                group_name,
                policy_arn,
            } => {
                check_arn("policy_arn", policy_arn)?;
                fields.push(("group_name", group_name));
            }
            Action::RemoveUserFromGroup {
                user_name,
                group_name,
            }
            | Action::AddUserToGroup {
                user_name,
                group_name,
            } => fields.extend([("user_name", &**user_name), ("group_name", group_name)]),
            Action::StartLogging { trail } => fields.push(("trail", trail)),
            Action::PutPublicAccessBlock { bucket }
            | Action::RestorePublicAccessBlock { bucket, .. } => fields.push(("bucket", bucket)),
            Action::PublishFinding {
                event_bus,
                detail_type,
                source,
                detail,
            } => {
                if !detail.is_object() {
                    return Err(ExecError::invalid(
                        "eventbridge.publish-finding: detail must be a JSON object",
                    ));
                }
                fields.extend([
                    ("event_bus", &**event_bus),
                    ("detail_type", detail_type),
                    ("source", source),
                ]);
            }
        }
        for (name, value) in fields {
            if value.trim().is_empty() {
                return Err(ExecError::invalid(format!(
                    "{}: {name} is empty",
                    self.capability()
                )));
            }
        }
        Ok(())
    }
}

fn check_arn(name: &str, value: &str) -> Result<(), ExecError> {
    if value.starts_with("arn:") {
        Ok(())
    } else {
        Err(ExecError::invalid(format!(
            "{name} {value:?} is not an ARN (arn:PARTITION:iam::ACCOUNT:policy/NAME)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(user_name: &str) -> String {
        user_name.to_owned()
    }

    #[test]
    fn serializes_tagged_kebab_case() {
        let action = Action::DisableAccessKey {
            user_name: user("alice"),
            access_key_id: "AKIAEXAMPLE".into(),
        };
        let value = serde_json::to_value(&action).unwrap();
        assert_eq!(
            value,
            json!({"action": "disable-access-key", "user_name": "alice", "access_key_id": "AKIAEXAMPLE"})
        );
        assert_eq!(serde_json::from_value::<Action>(value).unwrap(), action);

        let restore = Action::RestorePublicAccessBlock {
            bucket: "b".into(),
            previous: Some(PublicAccessBlock::ALL),
        };
        let text = serde_json::to_string(&restore).unwrap();
        assert!(
            text.starts_with(r#"{"action":"restore-public-access-block""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Action>(&text).unwrap(), restore);
    }

    #[test]
    fn capability_names_are_listed_and_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for name in CAPABILITIES {
            assert!(seen.insert(*name), "{name} twice");
        }
        let publish = Action::PublishFinding {
            event_bus: "default".into(),
            detail_type: "t".into(),
            source: "s".into(),
            detail: json!({}),
        };
        assert!(CAPABILITIES.contains(&publish.capability()));
        assert!(!publish.is_mutating());
        assert!(Action::StartLogging { trail: "t".into() }.is_mutating());
    }

    #[test]
    fn resource_arns() {
        let a = "111122223333";
        let arn = |action: Action| action.resource_arn_in(a, "eu-west-1", "aws");
        assert_eq!(
            arn(Action::QuarantineUser {
                user_name: user("bob")
            }),
            "arn:aws:iam::111122223333:user/bob"
        );
        assert_eq!(
            arn(Action::RevokeRoleSessions {
                role_name: "r".into()
            }),
            "arn:aws:iam::111122223333:role/r"
        );
        assert_eq!(
            arn(Action::DetachGroupPolicy {
                group_name: "g".into(),
                policy_arn: "arn:aws:iam::aws:policy/X".into()
            }),
            "arn:aws:iam::111122223333:group/g"
        );
        assert_eq!(
            arn(Action::StartLogging { trail: "t".into() }),
            "arn:aws:cloudtrail:eu-west-1:111122223333:trail/t"
        );
        let trail_arn = "arn:aws:cloudtrail:us-east-1:444455556666:trail/org";
        assert_eq!(
            arn(Action::StartLogging {
                trail: trail_arn.into()
            }),
            trail_arn
        );
        assert_eq!(
            Action::PutPublicAccessBlock { bucket: "b".into() }.resource_arn(a, "aws-cn"),
            "arn:aws-cn:s3:::b"
        );
        let publish = |bus: &str| Action::PublishFinding {
            event_bus: bus.into(),
            detail_type: "t".into(),
            source: "s".into(),
            detail: json!({}),
        };
        assert_eq!(
            arn(publish("sec")),
            "arn:aws:events:eu-west-1:111122223333:event-bus/sec"
        );
        assert_eq!(
            publish("sec").resource_arn(a, "aws"),
            "arn:aws:events::111122223333:event-bus/sec"
        );
    }

    #[test]
    fn validate_rejects_empty_names_bad_arns_and_non_object_detail() {
        let err = Action::QuarantineUser {
            user_name: " ".into(),
        }
        .validate()
        .unwrap_err();
        assert!(!err.retryable);
        assert_eq!(err.message, "iam.quarantine-user: user_name is empty");
        assert!(Action::DetachUserPolicy {
            user_name: user("u"),
            policy_arn: "ReadOnlyAccess".into()
        }
        .validate()
        .is_err());
        assert!(Action::PublishFinding {
            event_bus: "b".into(),
            detail_type: "t".into(),
            source: "s".into(),
            detail: json!([1]),
        }
        .validate()
        .is_err());
        assert!(Action::AddUserToGroup {
            user_name: user("u"),
            group_name: "g".into()
        }
        .validate()
        .is_ok());
    }
}
