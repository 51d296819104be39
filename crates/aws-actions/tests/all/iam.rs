//! IAM actions: each one's effect as a user would see it, then its inverse.

use aws_actions::action::{QUARANTINE_POLICY, REVOKE_SESSIONS_POLICY};
use aws_actions::Action;
use aws_sdk_iam::types::StatusType;

use crate::support::{policy_json, Env};

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

async fn key_status(env: &Env, user: &str) -> Vec<(String, StatusType)> {
    let keys = env
        .aws
        .iam
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .unwrap();
    keys.access_key_metadata()
        .iter()
        .map(|k| {
            (
                k.access_key_id().unwrap().to_owned(),
                k.status().unwrap().clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn access_keys_disable_enable_delete() {
    let env = Env::start().await;
    env.aws
        .iam
        .create_user()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    let key = env
        .aws
        .iam
        .create_access_key()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    let key_id = key.access_key().unwrap().access_key_id().to_owned();

    let disable = Action::DisableAccessKey {
        user_name: "alice".into(),
        access_key_id: key_id.clone(),
    };
    let outcome = env.run(&disable).await;
    assert_eq!(
        key_status(&env, "alice").await,
        [(key_id.clone(), StatusType::Inactive)]
    );
    assert!(outcome.request_id.is_some(), "{outcome:?}");
    assert_eq!(outcome.assumed_role, None);
    assert_eq!(
        outcome.inverse,
        Some(Action::EnableAccessKey {
            user_name: "alice".into(),
            access_key_id: key_id.clone()
        })
    );
    // Again: still Inactive, still a success.
    env.run(&disable).await;

    let enabled = env.undo(&outcome).await;
    assert_eq!(
        key_status(&env, "alice").await,
        [(key_id.clone(), StatusType::Active)]
    );
    assert_eq!(enabled.inverse, Some(disable));

    let delete = Action::DeleteAccessKey {
        user_name: "alice".into(),
        access_key_id: key_id.clone(),
    };
    let deleted = env.run(&delete).await;
    assert_eq!(deleted.inverse, None);
    assert!(key_status(&env, "alice").await.is_empty());
    let again = env
        .exec
        .execute(&delete, &crate::support::target(), "x")
        .await
        .unwrap_err();
    assert!(!again.retryable, "{again}");
    assert_eq!(again.code.as_deref(), Some("NoSuchEntity"), "{again}");
    assert!(again.message.contains("already deleted"), "{again}");
}

#[tokio::test]
async fn login_profile_and_inline_policy_deletion() {
    let env = Env::start().await;
    let iam = &env.aws.iam;
    iam.create_user().user_name("bob").send().await.unwrap();
    iam.create_login_profile()
        .user_name("bob")
        .password("Correct-horse-battery-9")
        .send()
        .await
        .unwrap();
    let outcome = env
        .run(&Action::DeleteLoginProfile {
            user_name: "bob".into(),
        })
        .await;
    assert_eq!(outcome.inverse, None);
    let err = iam
        .get_login_profile()
        .user_name("bob")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
        Some("NoSuchEntity")
    );

    iam.put_user_policy()
        .user_name("bob")
        .policy_name("too-broad")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let outcome = env
        .run(&Action::DeleteUserInlinePolicy {
            user_name: "bob".into(),
            policy_name: "too-broad".into(),
        })
        .await;
    assert_eq!(outcome.inverse, None);
    let names = iam
        .list_user_policies()
        .user_name("bob")
        .send()
        .await
        .unwrap();
    assert!(names.policy_names().is_empty(), "{names:?}");
}

#[tokio::test]
async fn quarantine_user_and_role_then_lift_it() {
    let env = Env::start().await;
    let iam = &env.aws.iam;
    iam.create_user().user_name("carol").send().await.unwrap();
    iam.create_role()
        .role_name("ci-deployer")
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .unwrap();

    let quarantine = Action::QuarantineUser {
        user_name: "carol".into(),
    };
    let outcome = env.run(&quarantine).await;
    // Already quarantined: success again (idempotent).
    env.run(&quarantine).await;
    let policy = iam
        .get_user_policy()
        .user_name("carol")
        .policy_name(QUARANTINE_POLICY)
        .send()
        .await
        .unwrap();
    let doc = policy_json(policy.policy_document());
    assert_eq!(doc["Statement"][0]["Effect"], "Deny");
    assert_eq!(doc["Statement"][0]["Action"], "*");
    assert_eq!(doc["Statement"][0]["Resource"], "*");
    env.undo(&outcome).await;
    let names = iam
        .list_user_policies()
        .user_name("carol")
        .send()
        .await
        .unwrap();
    assert!(names.policy_names().is_empty(), "{names:?}");

    let outcome = env
        .run(&Action::QuarantineRole {
            role_name: "ci-deployer".into(),
        })
        .await;
    let policy = iam
        .get_role_policy()
        .role_name("ci-deployer")
        .policy_name(QUARANTINE_POLICY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        policy_json(policy.policy_document())["Statement"][0]["Effect"],
        "Deny"
    );
    assert_eq!(
        outcome.inverse,
        Some(Action::DeleteRoleInlinePolicy {
            role_name: "ci-deployer".into(),
            policy_name: QUARANTINE_POLICY.into()
        })
    );
    env.undo(&outcome).await;
    let names = iam
        .list_role_policies()
        .role_name("ci-deployer")
        .send()
        .await
        .unwrap();
    assert!(names.policy_names().is_empty(), "{names:?}");
}

#[tokio::test]
async fn revoke_role_sessions_denies_older_tokens() {
    let env = Env::start().await;
    let iam = &env.aws.iam;
    iam.create_role()
        .role_name("web")
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .unwrap();
    let before = std::time::SystemTime::now();
    let outcome = env
        .run(&Action::RevokeRoleSessions {
            role_name: "web".into(),
        })
        .await;
    let policy = iam
        .get_role_policy()
        .role_name("web")
        .policy_name(REVOKE_SESSIONS_POLICY)
        .send()
        .await
        .unwrap();
    let doc = policy_json(policy.policy_document());
    let statement = &doc["Statement"][0];
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(statement["Action"], "*");
    let issued = statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .expect("aws:TokenIssueTime");
    let issued = aws_sdk_iam::primitives::DateTime::from_str(
        issued,
        aws_sdk_iam::primitives::DateTimeFormat::DateTime,
    )
    .unwrap_or_else(|e| panic!("{issued}: {e}"));
    let issued = std::time::SystemTime::try_from(issued).unwrap();
    // Now, rounded up to the second.
    assert!(issued >= before, "{issued:?} < {before:?}");
    assert!(issued.duration_since(before).unwrap().as_secs() <= 5);
    assert!(
        outcome.detail.contains("issued before"),
        "{}",
        outcome.detail
    );

    env.undo(&outcome).await;
    let names = iam
        .list_role_policies()
        .role_name("web")
        .send()
        .await
        .unwrap();
    assert!(names.policy_names().is_empty(), "{names:?}");
}

#[tokio::test]
async fn managed_policies_detach_and_reattach() {
    let env = Env::start().await;
    let iam = &env.aws.iam;
    let policy_arn = iam
        .create_policy()
        .policy_name("admin-ish")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    iam.create_user().user_name("dave").send().await.unwrap();
    iam.create_role()
        .role_name("ops")
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .unwrap();
    iam.create_group()
        .group_name("admins")
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name("dave")
        .policy_arn(&policy_arn)
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name("ops")
        .policy_arn(&policy_arn)
        .send()
        .await
        .unwrap();
    iam.attach_group_policy()
        .group_name("admins")
        .policy_arn(&policy_arn)
        .send()
        .await
        .unwrap();

    // User.
    let detach = Action::DetachUserPolicy {
        user_name: "dave".into(),
        policy_arn: policy_arn.clone(),
    };
    let outcome = env.run(&detach).await;
    let attached = iam
        .list_attached_user_policies()
        .user_name("dave")
        .send()
        .await
        .unwrap();
    assert!(attached.attached_policies().is_empty(), "{attached:?}");
    let err = env
        .exec
        .execute(&detach, &crate::support::target(), "x")
        .await
        .unwrap_err();
    assert!(!err.retryable, "{err}");
    assert!(err.message.contains("not attached"), "{err}");
    let back = env.undo(&outcome).await;
    assert_eq!(back.inverse, Some(detach));
    let attached = iam
        .list_attached_user_policies()
        .user_name("dave")
        .send()
        .await
        .unwrap();
    assert_eq!(attached.attached_policies().len(), 1);

    // Role.
    let outcome = env
        .run(&Action::DetachRolePolicy {
            role_name: "ops".into(),
            policy_arn: policy_arn.clone(),
        })
        .await;
    let attached = iam
        .list_attached_role_policies()
        .role_name("ops")
        .send()
        .await
        .unwrap();
    assert!(attached.attached_policies().is_empty(), "{attached:?}");
    env.undo(&outcome).await;
    let attached = iam
        .list_attached_role_policies()
        .role_name("ops")
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached.attached_policies()[0].policy_arn(),
        Some(&*policy_arn)
    );

    // Group.
    let outcome = env
        .run(&Action::DetachGroupPolicy {
            group_name: "admins".into(),
            policy_arn: policy_arn.clone(),
        })
        .await;
    let attached = iam
        .list_attached_group_policies()
        .group_name("admins")
        .send()
        .await
        .unwrap();
    assert!(attached.attached_policies().is_empty(), "{attached:?}");
    env.undo(&outcome).await;
    let attached = iam
        .list_attached_group_policies()
        .group_name("admins")
        .send()
        .await
        .unwrap();
    assert_eq!(attached.attached_policies().len(), 1);
}

#[tokio::test]
async fn remove_user_from_group_and_add_back() {
    let env = Env::start().await;
    let iam = &env.aws.iam;
    iam.create_user().user_name("erin").send().await.unwrap();
    iam.create_group()
        .group_name("admins")
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .user_name("erin")
        .group_name("admins")
        .send()
        .await
        .unwrap();
    let members = |out: aws_sdk_iam::operation::get_group::GetGroupOutput| -> Vec<String> {
        out.users()
            .iter()
            .map(|u| u.user_name().to_owned())
            .collect()
    };

    let remove = Action::RemoveUserFromGroup {
        user_name: "erin".into(),
        group_name: "admins".into(),
    };
    let outcome = env.run(&remove).await;
    let group = iam.get_group().group_name("admins").send().await.unwrap();
    assert!(members(group).is_empty());
    let err = env
        .exec
        .execute(&remove, &crate::support::target(), "x")
        .await
        .unwrap_err();
    assert!(!err.retryable, "{err}");

    let back = env.undo(&outcome).await;
    assert_eq!(back.inverse, Some(remove));
    let group = iam.get_group().group_name("admins").send().await.unwrap();
    assert_eq!(members(group), ["erin"]);
}

#[tokio::test]
async fn an_inline_policy_of_a_role_or_group_is_deleted_and_undo_puts_its_document_back() {
    use aws_actions::PrincipalKind;
    const ADMIN: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let env = Env::start().await;
    let iam = &env.aws.iam;
    iam.create_role()
        .role_name("break-glass")
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name("break-glass")
        .policy_name("office-admin")
        .policy_document(ADMIN)
        .send()
        .await
        .unwrap();
    iam.create_group().group_name("devs").send().await.unwrap();
    iam.put_group_policy()
        .group_name("devs")
        .policy_name("all")
        .policy_document(ADMIN)
        .send()
        .await
        .unwrap();

    let outcome = env
        .run(&Action::DeleteInlinePolicy {
            principal_kind: PrincipalKind::Role,
            principal_name: "break-glass".into(),
            policy_name: "office-admin".into(),
        })
        .await;
    let names = iam
        .list_role_policies()
        .role_name("break-glass")
        .send()
        .await
        .unwrap();
    assert!(names.policy_names().is_empty(), "{names:?}");
    let Some(Action::PutInlinePolicy {
        policy_document, ..
    }) = &outcome.inverse
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(policy_json(policy_document), policy_json(ADMIN));
    env.undo(&outcome).await;
    let back = iam
        .get_role_policy()
        .role_name("break-glass")
        .policy_name("office-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(policy_json(back.policy_document()), policy_json(ADMIN));

    let group = Action::DeleteInlinePolicy {
        principal_kind: PrincipalKind::Group,
        principal_name: "devs".into(),
        policy_name: "all".into(),
    };
    let outcome = env.run(&group).await;
    let names = iam
        .list_group_policies()
        .group_name("devs")
        .send()
        .await
        .unwrap();
    assert!(names.policy_names().is_empty(), "{names:?}");
    // Again, once gone: a final error that says what is missing (nothing to record for undo).
    let again = env
        .exec
        .execute(&group, &crate::support::target(), "test-action-2")
        .await
        .unwrap_err();
    assert!(!again.retryable, "{again:?}");
    assert!(
        again.message.contains("no inline policy of that name"),
        "{}",
        again.message
    );
    env.undo(&outcome).await;
    let back = iam
        .get_group_policy()
        .group_name("devs")
        .policy_name("all")
        .send()
        .await
        .unwrap();
    assert_eq!(policy_json(back.policy_document()), policy_json(ADMIN));
}
