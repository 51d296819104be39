//! Cross-account: an action for a mapped account runs as the role assumed there.

use aws_actions::moto::MOTO_REGION;
use aws_actions::{Action, Executor, Target};
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::StatusType;

use crate::support::Env;

const OTHER: &str = "222222222222";
const ROLE: &str = "arn:aws:iam::222222222222:role/trailwarden-responder";

#[tokio::test]
async fn action_in_another_account_assumes_its_role() {
    let env = Env::start().await;
    // moto keeps what assumed-role credentials create in the role's account.
    let other = env.moto.clients_in_account(OTHER).await;
    other
        .iam
        .create_user()
        .user_name("mallory")
        .send()
        .await
        .unwrap();
    let key = other
        .iam
        .create_access_key()
        .user_name("mallory")
        .send()
        .await
        .unwrap();
    let key_id = key.access_key().unwrap().access_key_id().to_owned();

    let mut settings = env.moto.settings();
    settings
        .assume_role_by_account
        .insert(OTHER.to_owned(), ROLE.to_owned());
    let exec = Executor::new(settings).await.unwrap();
    let target = Target {
        account: OTHER.into(),
        region: MOTO_REGION.into(),
    };
    let outcome = exec
        .execute(
            &Action::DisableAccessKey {
                user_name: "mallory".into(),
                access_key_id: key_id.clone(),
            },
            &target,
            "01J9ZK/evt:42",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome.assumed_role.as_deref(), Some(ROLE));

    let keys = other
        .iam
        .list_access_keys()
        .user_name("mallory")
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys.access_key_metadata()[0].status(),
        Some(&StatusType::Inactive)
    );
    // The platform account has no such user: the change happened in the other account.
    let err = env
        .aws
        .iam
        .get_user()
        .user_name("mallory")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchEntity"));

    // The inverse runs the same way.
    let undo = exec
        .execute(outcome.inverse.as_ref().unwrap(), &target, "undo-1")
        .await
        .unwrap();
    assert_eq!(undo.assumed_role.as_deref(), Some(ROLE));
    let keys = other
        .iam
        .list_access_keys()
        .user_name("mallory")
        .send()
        .await
        .unwrap();
    assert_eq!(
        keys.access_key_metadata()[0].status(),
        Some(&StatusType::Active)
    );

    // The platform account itself needs no role.
    env.aws
        .iam
        .create_user()
        .user_name("local")
        .send()
        .await
        .unwrap();
    let local = exec
        .execute(
            &Action::QuarantineUser {
                user_name: "local".into(),
            },
            &crate::support::target(),
            "a2",
        )
        .await
        .unwrap();
    assert_eq!(local.assumed_role, None);
}

#[tokio::test]
async fn the_star_pattern_assumes_the_role_of_any_member_account() {
    const MEMBER: &str = "333333333333";
    let env = Env::start().await;
    let member = env.moto.clients_in_account(MEMBER).await;
    member
        .iam
        .create_user()
        .user_name("eve")
        .send()
        .await
        .unwrap();

    let mut settings = env.moto.settings();
    settings.assume_role_by_account.insert(
        "*".to_owned(),
        "arn:aws:iam::{account}:role/trailwarden-responder".to_owned(),
    );
    let exec = Executor::new(settings).await.unwrap();
    let outcome = exec
        .execute(
            &Action::QuarantineUser {
                user_name: "eve".into(),
            },
            &Target {
                account: MEMBER.into(),
                region: MOTO_REGION.into(),
            },
            "star-1",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        outcome.assumed_role.as_deref(),
        Some("arn:aws:iam::333333333333:role/trailwarden-responder")
    );
    let policies = member
        .iam
        .list_user_policies()
        .user_name("eve")
        .send()
        .await
        .unwrap();
    assert_eq!(policies.policy_names(), ["trailwarden-quarantine"]);

    // The platform account keeps its own credentials.
    env.aws
        .iam
        .create_user()
        .user_name("home")
        .send()
        .await
        .unwrap();
    let home = exec
        .execute(
            &Action::QuarantineUser {
                user_name: "home".into(),
            },
            &crate::support::target(),
            "star-2",
        )
        .await
        .unwrap();
    assert_eq!(home.assumed_role, None);

    // A pattern that names no account is refused up front.
    let mut settings = env.moto.settings();
    settings.assume_role_by_account.insert(
        "*".to_owned(),
        "arn:aws:iam::444444444444:role/trailwarden-responder".to_owned(),
    );
    let err = Executor::new(settings).await.unwrap_err();
    assert!(err.message.contains("{account}"), "{}", err.message);
}
