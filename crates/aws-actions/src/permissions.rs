//! The IAM actions each capability's AWS calls need, and the capabilities that undo it:
//! what a least-privilege responder role must allow (`trailwarden setup responder-role`).
//!
//! Kept beside the calls: a capability whose calls change must change here too (the test
//! below checks every capability is listed).

/// The IAM actions the calls of `capability` need; `None` for a capability this crate does
/// not know. `notify.send` (a webhook) needs none.
pub fn iam_actions(capability: &str) -> Option<&'static [&'static str]> {
    Some(match capability {
        "iam.disable-access-key" | "iam.enable-access-key" => &["iam:UpdateAccessKey"],
        "iam.delete-access-key" => &["iam:DeleteAccessKey"],
        "iam.delete-login-profile" => &["iam:DeleteLoginProfile"],
        "iam.quarantine-user" => &["iam:PutUserPolicy"],
        "iam.quarantine-role" | "iam.revoke-role-sessions" => &["iam:PutRolePolicy"],
        "iam.delete-user-inline-policy" => &["iam:DeleteUserPolicy"],
        "iam.delete-role-inline-policy" => &["iam:DeleteRolePolicy"],
        // Reads the document first, to record it for the undo.
        "iam.delete-inline-policy" => &[
            "iam:GetUserPolicy",
            "iam:GetRolePolicy",
            "iam:GetGroupPolicy",
            "iam:DeleteUserPolicy",
            "iam:DeleteRolePolicy",
            "iam:DeleteGroupPolicy",
        ],
        "iam.put-inline-policy" => &[
            "iam:PutUserPolicy",
            "iam:PutRolePolicy",
            "iam:PutGroupPolicy",
        ],
        "iam.detach-user-policy" => &["iam:DetachUserPolicy"],
        "iam.attach-user-policy" => &["iam:AttachUserPolicy"],
        "iam.detach-role-policy" => &["iam:DetachRolePolicy"],
        "iam.attach-role-policy" => &["iam:AttachRolePolicy"],
        "iam.detach-group-policy" => &["iam:DetachGroupPolicy"],
        "iam.attach-group-policy" => &["iam:AttachGroupPolicy"],
        "iam.remove-user-from-group" => &["iam:RemoveUserFromGroup"],
        "iam.add-user-to-group" => &["iam:AddUserToGroup"],
        "cloudtrail.start-logging" => &["cloudtrail:StartLogging"],
        // Reads the configuration first, to record it for the undo.
        "s3.put-public-access-block" => &[
            "s3:GetBucketPublicAccessBlock",
            "s3:PutBucketPublicAccessBlock",
        ],
        // DeletePublicAccessBlock is authorised by s3:PutBucketPublicAccessBlock.
        "s3.restore-public-access-block" => &["s3:PutBucketPublicAccessBlock"],
        "eventbridge.publish-finding" => &["events:PutEvents"],
        crate::action::WEBHOOK_CAPABILITY => &[],
        _ => return None,
    })
}

/// The capability whose action undoes `capability`'s (`trailwarden actions undo`), if any.
pub fn inverse_capability(capability: &str) -> Option<&'static str> {
    Some(match capability {
        "iam.disable-access-key" => "iam.enable-access-key",
        "iam.enable-access-key" => "iam.disable-access-key",
        "iam.quarantine-user" => "iam.delete-user-inline-policy",
        "iam.quarantine-role" | "iam.revoke-role-sessions" => "iam.delete-role-inline-policy",
        "iam.delete-inline-policy" => "iam.put-inline-policy",
        "iam.put-inline-policy" => "iam.delete-inline-policy",
        "iam.detach-user-policy" => "iam.attach-user-policy",
        "iam.attach-user-policy" => "iam.detach-user-policy",
        "iam.detach-role-policy" => "iam.attach-role-policy",
        "iam.attach-role-policy" => "iam.detach-role-policy",
        "iam.detach-group-policy" => "iam.attach-group-policy",
        "iam.attach-group-policy" => "iam.detach-group-policy",
        "iam.remove-user-from-group" => "iam.add-user-to-group",
        "iam.add-user-to-group" => "iam.remove-user-from-group",
        "s3.put-public-access-block" => "s3.restore-public-access-block",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Action, CAPABILITIES, WEBHOOK_CAPABILITY};

    #[test]
    fn every_capability_has_its_iam_actions() {
        for capability in CAPABILITIES.iter().chain([&WEBHOOK_CAPABILITY]) {
            assert!(iam_actions(capability).is_some(), "{capability} not listed");
        }
        assert_eq!(iam_actions("iam.make-coffee"), None);
    }

    #[test]
    fn inverses_agree_with_what_execution_records() {
        // The executor's inverse of a quarantine is deleting the inline policy it put.
        let quarantine = Action::QuarantineRole {
            role_name: "r".into(),
        };
        assert_eq!(
            inverse_capability(quarantine.capability()),
            Some("iam.delete-role-inline-policy")
        );
        for capability in CAPABILITIES {
            if let Some(inverse) = inverse_capability(capability) {
                assert!(CAPABILITIES.contains(&inverse), "{inverse}");
            }
        }
    }
}
