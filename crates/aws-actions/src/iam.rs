//! IAM actions: access keys, login profiles, inline and managed policies, groups.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::operation::RequestId;
use aws_sdk_iam::primitives::{DateTime, DateTimeFormat};
use aws_sdk_iam::types::StatusType;
use aws_sdk_iam::Client;

pub(crate) use crate::action::PrincipalKind as Principal;
use crate::action::{Action, QUARANTINE_POLICY, REVOKE_SESSIONS_POLICY};
use crate::error::ExecError;
use crate::executor::Outcome;

/// The deny-all document of [`QUARANTINE_POLICY`]. An explicit deny beats every allow, so
/// the principal can do nothing until the policy is deleted.
pub const QUARANTINE_DOCUMENT: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"TrailwardenQuarantine","Effect":"Deny","Action":"*","Resource":"*"}]}"#;

/// The document of [`REVOKE_SESSIONS_POLICY`]: deny everything to sessions issued before
/// `issued_before` (ISO 8601), as the console's "Revoke active sessions" does.
pub fn revoke_sessions_document(issued_before: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TrailwardenRevokeOlderSessions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": issued_before}}
        }]
    })
    .to_string()
}

/// Maps an SDK error; on `NoSuchEntity` adds `hint` (what is missing, in plain words).
fn fail<'a, E>(
    context: &'a str,
    hint: &'a str,
) -> impl FnOnce(SdkError<E, HttpResponse>) -> ExecError + 'a
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |err| {
        let mut exec = ExecError::from_sdk(context, &err);
        if exec.code.as_deref() == Some("NoSuchEntity") {
            exec.message = format!("{} ({hint})", exec.message);
        }
        exec
    }
}

fn done(request_id: Option<&str>, inverse: Option<Action>, detail: String) -> Outcome {
    Outcome {
        request_id: request_id.map(str::to_owned),
        inverse,
        detail,
        assumed_role: None,
    }
}

/// UpdateAccessKey to `Active` or `Inactive`; the inverse flips it back.
pub(crate) async fn set_access_key_status(
    iam: &Client,
    user_name: &str,
    access_key_id: &str,
    active: bool,
) -> Result<Outcome, ExecError> {
    let status = if active {
        StatusType::Active
    } else {
        StatusType::Inactive
    };
    let context = format!(
        "iam:UpdateAccessKey {access_key_id} of user {user_name} to {}",
        status.as_str()
    );
    let out = iam
        .update_access_key()
        .user_name(user_name)
        .access_key_id(access_key_id)
        .status(status.clone())
        .send()
        .await
        .map_err(fail(&context, "no such user, or the key is not theirs"))?;
    let (user_name, access_key_id) = (user_name.to_owned(), access_key_id.to_owned());
    let detail = format!(
        "access key {access_key_id} of user {user_name} is {}",
        status.as_str()
    );
    let inverse = if active {
        Action::DisableAccessKey {
            user_name,
            access_key_id,
        }
    } else {
        Action::EnableAccessKey {
            user_name,
            access_key_id,
        }
    };
    Ok(done(out.request_id(), Some(inverse), detail))
}

pub(crate) async fn delete_access_key(
    iam: &Client,
    user_name: &str,
    access_key_id: &str,
) -> Result<Outcome, ExecError> {
    let context = format!("iam:DeleteAccessKey {access_key_id} of user {user_name}");
    let out = iam
        .delete_access_key()
        .user_name(user_name)
        .access_key_id(access_key_id)
        .send()
        .await
        .map_err(fail(&context, "already deleted, or no such user or key"))?;
    let detail = format!("access key {access_key_id} of user {user_name} deleted");
    Ok(done(out.request_id(), None, detail))
}

pub(crate) async fn delete_login_profile(
    iam: &Client,
    user_name: &str,
) -> Result<Outcome, ExecError> {
    let context = format!("iam:DeleteLoginProfile of user {user_name}");
    let out = iam
        .delete_login_profile()
        .user_name(user_name)
        .send()
        .await
        .map_err(fail(
            &context,
            "the user has no console password, or no such user",
        ))?;
    let detail = format!("console password of user {user_name} deleted");
    Ok(done(out.request_id(), None, detail))
}

/// PutUserPolicy of the deny-all document. Putting it again is a success (same document).
pub(crate) async fn quarantine_user(iam: &Client, user_name: &str) -> Result<Outcome, ExecError> {
    let context = format!("iam:PutUserPolicy {QUARANTINE_POLICY} on user {user_name}");
    let out = iam
        .put_user_policy()
        .user_name(user_name)
        .policy_name(QUARANTINE_POLICY)
        .policy_document(QUARANTINE_DOCUMENT)
        .send()
        .await
        .map_err(fail(&context, "no such user"))?;
    let inverse = Action::DeleteUserInlinePolicy {
        user_name: user_name.to_owned(),
        policy_name: QUARANTINE_POLICY.to_owned(),
    };
    let detail = format!(
        "user {user_name} quarantined: inline policy {QUARANTINE_POLICY} denies every action"
    );
    Ok(done(out.request_id(), Some(inverse), detail))
}

/// PutRolePolicy of the deny-all document. Putting it again is a success.
pub(crate) async fn quarantine_role(iam: &Client, role_name: &str) -> Result<Outcome, ExecError> {
    let context = format!("iam:PutRolePolicy {QUARANTINE_POLICY} on role {role_name}");
    let out = iam
        .put_role_policy()
        .role_name(role_name)
        .policy_name(QUARANTINE_POLICY)
        .policy_document(QUARANTINE_DOCUMENT)
        .send()
        .await
        .map_err(fail(&context, "no such role"))?;
    let inverse = Action::DeleteRoleInlinePolicy {
        role_name: role_name.to_owned(),
        policy_name: QUARANTINE_POLICY.to_owned(),
    };
    let detail = format!(
        "role {role_name} quarantined: inline policy {QUARANTINE_POLICY} denies every action"
    );
    Ok(done(out.request_id(), Some(inverse), detail))
}

/// Denies the role's sessions issued before now. The time is rounded up to the next whole
/// second so that a session issued in this very second is revoked too.
pub(crate) async fn revoke_role_sessions(
    iam: &Client,
    role_name: &str,
) -> Result<Outcome, ExecError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| ExecError::invalid(format!("system clock before 1970: {e}")))?;
    let secs = now.as_secs() + u64::from(now.subsec_nanos() > 0);
    let issued_before = DateTime::from_secs(i64::try_from(secs).unwrap_or(i64::MAX))
        .fmt(DateTimeFormat::DateTime)
        .map_err(|e| ExecError::invalid(format!("formatting the time: {e}")))?;
    let context = format!("iam:PutRolePolicy {REVOKE_SESSIONS_POLICY} on role {role_name}");
    let out = iam
        .put_role_policy()
        .role_name(role_name)
        .policy_name(REVOKE_SESSIONS_POLICY)
        .policy_document(revoke_sessions_document(&issued_before))
        .send()
        .await
        .map_err(fail(&context, "no such role"))?;
    let inverse = Action::DeleteRoleInlinePolicy {
        role_name: role_name.to_owned(),
        policy_name: REVOKE_SESSIONS_POLICY.to_owned(),
    };
    let detail = format!("sessions of role {role_name} issued before {issued_before} are denied");
    Ok(done(out.request_id(), Some(inverse), detail))
}

pub(crate) async fn delete_user_inline_policy(
    iam: &Client,
    user_name: &str,
    policy_name: &str,
) -> Result<Outcome, ExecError> {
    let context = format!("iam:DeleteUserPolicy {policy_name} of user {user_name}");
    let out = iam
        .delete_user_policy()
        .user_name(user_name)
        .policy_name(policy_name)
        .send()
        .await
        .map_err(fail(
            &context,
            "the user has no inline policy of that name, or no such user",
        ))?;
    let detail = format!("inline policy {policy_name} of user {user_name} deleted");
    Ok(done(out.request_id(), None, detail))
}

pub(crate) async fn delete_role_inline_policy(
    iam: &Client,
    role_name: &str,
    policy_name: &str,
) -> Result<Outcome, ExecError> {
    let context = format!("iam:DeleteRolePolicy {policy_name} of role {role_name}");
    let out = iam
        .delete_role_policy()
        .role_name(role_name)
        .policy_name(policy_name)
        .send()
        .await
        .map_err(fail(
            &context,
            "the role has no inline policy of that name, or no such role",
        ))?;
    let detail = format!("inline policy {policy_name} of role {role_name} deleted");
    Ok(done(out.request_id(), None, detail))
}

/// Reads an inline policy's document, then deletes the policy; the inverse puts the same
/// document back. Deleting a policy that is gone is a final error that says so (nothing to
/// record for the undo).
pub(crate) async fn delete_inline_policy(
    iam: &Client,
    kind: Principal,
    name: &str,
    policy_name: &str,
) -> Result<Outcome, ExecError> {
    let word = kind.word();
    let noun = capitalized(word);
    let hint = format!("the {word} has no inline policy of that name, or no such {word}");
    let get_context = format!("iam:Get{noun}Policy {policy_name} of {word} {name}");
    let encoded = match kind {
        Principal::User => {
            iam.get_user_policy()
                .user_name(name)
                .policy_name(policy_name)
                .send()
                .await
                .map_err(fail(&get_context, &hint))?
                .policy_document
        }
        Principal::Role => {
            iam.get_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .send()
                .await
                .map_err(fail(&get_context, &hint))?
                .policy_document
        }
        Principal::Group => {
            iam.get_group_policy()
                .group_name(name)
                .policy_name(policy_name)
                .send()
                .await
                .map_err(fail(&get_context, &hint))?
                .policy_document
        }
    };
    let policy_document = decoded_document(&encoded);
    let context = format!("iam:Delete{noun}Policy {policy_name} of {word} {name}");
    let request_id = match kind {
        Principal::User => iam
            .delete_user_policy()
            .user_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map_err(fail(&context, &hint))?
            .request_id()
            .map(str::to_owned),
        Principal::Role => iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map_err(fail(&context, &hint))?
            .request_id()
            .map(str::to_owned),
        Principal::Group => iam
            .delete_group_policy()
            .group_name(name)
            .policy_name(policy_name)
            .send()
            .await
            .map_err(fail(&context, &hint))?
            .request_id()
            .map(str::to_owned),
    };
    let inverse = Action::PutInlinePolicy {
        principal_kind: kind,
        principal_name: name.to_owned(),
        policy_name: policy_name.to_owned(),
        policy_document,
    };
    Ok(done(
        request_id.as_deref(),
        Some(inverse),
        format!(
            "inline policy {policy_name} of {word} {name} deleted (its document is kept for undo)"
        ),
    ))
}

/// Puts an inline policy document (the undo of [`delete_inline_policy`]). Putting the same
/// document again is a success.
pub(crate) async fn put_inline_policy(
    iam: &Client,
    kind: Principal,
    name: &str,
    policy_name: &str,
    document: &str,
) -> Result<Outcome, ExecError> {
    let word = kind.word();
    let context = format!(
        "iam:Put{}Policy {policy_name} on {word} {name}",
        capitalized(word)
    );
    let hint = format!("no such {word}");
    let request_id = match kind {
        Principal::User => iam
            .put_user_policy()
            .user_name(name)
            .policy_name(policy_name)
            .policy_document(document)
            .send()
            .await
            .map_err(fail(&context, &hint))?
            .request_id()
            .map(str::to_owned),
        Principal::Role => iam
            .put_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .policy_document(document)
            .send()
            .await
            .map_err(fail(&context, &hint))?
            .request_id()
            .map(str::to_owned),
        Principal::Group => iam
            .put_group_policy()
            .group_name(name)
            .policy_name(policy_name)
            .policy_document(document)
            .send()
            .await
            .map_err(fail(&context, &hint))?
            .request_id()
            .map(str::to_owned),
    };
    let inverse = Action::DeleteInlinePolicy {
        principal_kind: kind,
        principal_name: name.to_owned(),
        policy_name: policy_name.to_owned(),
    };
    Ok(done(
        request_id.as_deref(),
        Some(inverse),
        format!("inline policy {policy_name} put back on {word} {name}"),
    ))
}

/// IAM returns policy documents URL-encoded (RFC 3986); some endpoints return them plain.
/// A document is JSON, so one that does not start with `{` is decoded.
fn decoded_document(document: &str) -> String {
    let trimmed = document.trim_start();
    if trimmed.starts_with('{') {
        return document.to_owned();
    }
    percent_encoding::percent_decode_str(document)
        .decode_utf8_lossy()
        .into_owned()
}

impl Principal {
    fn word(self) -> &'static str {
        self.as_str()
    }

    /// The action that attaches (`attach`) or detaches the policy, for inverses.
    fn action(self, attach: bool, name: &str, policy_arn: &str) -> Action {
        let (name, policy_arn) = (name.to_owned(), policy_arn.to_owned());
        match (self, attach) {
            (Principal::User, true) => Action::AttachUserPolicy {
                user_name: name,
                policy_arn,
            },
            (Principal::User, false) => Action::DetachUserPolicy {
                user_name: name,
                policy_arn,
            },
            (Principal::Role, true) => Action::AttachRolePolicy {
                role_name: name,
                policy_arn,
            },
            (Principal::Role, false) => Action::DetachRolePolicy {
                role_name: name,
                policy_arn,
            },
            (Principal::Group, true) => Action::AttachGroupPolicy {
                group_name: name,
                policy_arn,
            },
            (Principal::Group, false) => Action::DetachGroupPolicy {
                group_name: name,
                policy_arn,
            },
        }
    }
}

/// Attaches or detaches a managed policy. Attaching an attached policy succeeds (IAM
/// allows it); detaching one that is not attached is a final error that says so.
pub(crate) async fn set_managed_policy(
    iam: &Client,
    principal: Principal,
    name: &str,
    policy_arn: &str,
    attach: bool,
) -> Result<Outcome, ExecError> {
    let word = principal.word();
    let (verb, prep) = if attach {
        ("Attach", "to")
    } else {
        ("Detach", "from")
    };
    let operation = format!("iam:{verb}{}Policy", capitalized(word));
    let context = format!("{operation} {policy_arn} {prep} {word} {name}");
    let hint = if attach {
        format!("no such {word} or policy")
    } else {
        format!("the policy is not attached to {word} {name}, or no such {word} or policy")
    };
    let request_id = match (principal, attach) {
        (Principal::User, true) => iam
            .attach_user_policy()
            .user_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(fail(&context, &hint))?
            .request_id()
            .map(str::to_owned),
        (Principal::User, false) => iam
            .detach_user_policy()
            .user_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(fail(&context, &hint))?
            .request_id()
            .map(str::to_owned),
        (Principal::Role, true) => iam
            .attach_role_policy()
            .role_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(fail(&context, &hint))?
            .request_id()
            .map(str::to_owned),
        (Principal::Role, false) => iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(fail(&context, &hint))?
            .request_id()
            .map(str::to_owned),
        (Principal::Group, true) => iam
            .attach_group_policy()
            .group_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(fail(&context, &hint))?
            .request_id()
            .map(str::to_owned),
        (Principal::Group, false) => iam
            .detach_group_policy()
            .group_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(fail(&context, &hint))?
            .request_id()
            .map(str::to_owned),
    };
    let detail = if attach {
        format!("policy {policy_arn} attached to {word} {name}")
    } else {
        format!("policy {policy_arn} detached from {word} {name}")
    };
    let inverse = principal.action(!attach, name, policy_arn);
    Ok(Outcome {
        request_id,
        inverse: Some(inverse),
        detail,
        assumed_role: None,
    })
}

/// Adds a user to a group (`add`) or removes them. Adding a member again succeeds;
/// removing a non-member is a final error that says so.
pub(crate) async fn set_group_membership(
    iam: &Client,
    user_name: &str,
    group_name: &str,
    add: bool,
) -> Result<Outcome, ExecError> {
    let (user, group) = (user_name.to_owned(), group_name.to_owned());
    if add {
        let context = format!("iam:AddUserToGroup user {user_name} to group {group_name}");
        let out = iam
            .add_user_to_group()
            .user_name(user_name)
            .group_name(group_name)
            .send()
            .await
            .map_err(fail(&context, "no such user or group"))?;
        let detail = format!("user {user_name} added to group {group_name}");
        let inverse = Action::RemoveUserFromGroup {
            user_name: user,
            group_name: group,
        };
        Ok(done(out.request_id(), Some(inverse), detail))
    } else {
        let context = format!("iam:RemoveUserFromGroup user {user_name} from group {group_name}");
        let out = iam
            .remove_user_from_group()
            .user_name(user_name)
            .group_name(group_name)
            .send()
            .await
            .map_err(fail(
                &context,
                "the user is not in the group, or no such user or group",
            ))?;
        let detail = format!("user {user_name} removed from group {group_name}");
        let inverse = Action::AddUserToGroup {
            user_name: user,
            group_name: group,
        };
        Ok(done(out.request_id(), Some(inverse), detail))
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_valid_json_with_the_expected_shape() {
        let quarantine: serde_json::Value = serde_json::from_str(QUARANTINE_DOCUMENT).unwrap();
        assert_eq!(quarantine["Statement"][0]["Effect"], "Deny");
        assert_eq!(quarantine["Statement"][0]["Action"], "*");
        let revoke: serde_json::Value =
            serde_json::from_str(&revoke_sessions_document("2026-01-02T03:04:05Z")).unwrap();
        assert_eq!(
            revoke["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
            "2026-01-02T03:04:05Z"
        );
    }

    #[test]
    fn url_encoded_documents_are_decoded_and_plain_ones_kept() {
        let plain = r#"{"Version":"2012-10-17","Statement":[]}"#;
        assert_eq!(decoded_document(plain), plain);
        assert_eq!(
            decoded_document("%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"),
            plain
        );
    }

    #[test]
    fn operation_names() {
        assert_eq!(capitalized("group"), "Group");
        assert_eq!(
            Principal::Role.action(true, "r", "arn:p"),
            Action::AttachRolePolicy {
                role_name: "r".into(),
                policy_arn: "arn:p".into()
            }
        );
    }
}
