//! Failures: final ones say what is missing; network trouble is retryable.

use std::time::{Duration, Instant};

use aws_actions::moto::{dummy_credentials, MOTO_ACCOUNT, MOTO_REGION};
use aws_actions::{Action, AwsSettings, Executor, Target};

use crate::support::{target, Env};

#[tokio::test]
async fn action_on_a_missing_user_is_final_and_says_so() {
    let env = Env::start().await;
    let err = env
        .exec
        .execute(
            &Action::QuarantineUser {
                user_name: "ghost".into(),
            },
            &target(),
            "a1",
        )
        .await
        .unwrap_err();
    assert!(!err.retryable, "{err}");
    assert_eq!(err.code.as_deref(), Some("NoSuchEntity"));
    assert!(err.message.contains("user ghost"), "{err}");
    assert!(err.message.contains("no such user"), "{err}");

    let err = env
        .exec
        .execute(
            &Action::DisableAccessKey {
                user_name: "ghost".into(),
                access_key_id: "AKIAEXAMPLEEXAMPLE12".into(),
            },
            &target(),
            "a2",
        )
        .await
        .unwrap_err();
    assert!(!err.retryable, "{err}");
    assert!(err.to_string().contains("ghost"), "{err}");
}

#[tokio::test]
async fn unreachable_endpoint_is_retryable() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let exec = Executor::new(AwsSettings {
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        region: Some(MOTO_REGION.into()),
        credentials: Some(dummy_credentials()),
        ..AwsSettings::default()
    })
    .await
    .unwrap();
    let started = Instant::now();
    let err = exec
        .execute(
            &Action::QuarantineUser {
                user_name: "alice".into(),
            },
            &target(),
            "a1",
        )
        .await
        .unwrap_err();
    assert!(err.retryable, "{err}");
    assert_eq!(err.request_id, None);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn refusals_before_any_call() {
    let exec = Executor::new(AwsSettings {
        endpoint_url: Some("http://127.0.0.1:9".into()),
        region: Some(MOTO_REGION.into()),
        credentials: Some(dummy_credentials()),
        platform_account: Some(MOTO_ACCOUNT.into()),
        ..AwsSettings::default()
    })
    .await
    .unwrap();

    // Another account with no role configured: refused, not sent with our identity.
    let err = exec
        .execute(
            &Action::StartLogging { trail: "t".into() },
            &Target {
                account: "999999999999".into(),
                region: "eu-west-1".into(),
            },
            "a1",
        )
        .await
        .unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("999999999999"), "{err}");

    // Bad arguments.
    let err = exec
        .execute(
            &Action::DetachRolePolicy {
                role_name: "r".into(),
                policy_arn: "AdministratorAccess".into(),
            },
            &target(),
            "a2",
        )
        .await
        .unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("not an ARN"), "{err}");

    // A role that is not a role ARN.
    let err = Executor::new(AwsSettings {
        assume_role_by_account: [("111111111111".to_owned(), "admin".to_owned())].into(),
        ..AwsSettings::default()
    })
    .await
    .unwrap_err();
    assert!(!err.retryable);
}
