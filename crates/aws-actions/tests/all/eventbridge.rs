//! EventBridge: a finding lands on the bus (seen through an archive on it).

use aws_actions::Action;
use serde_json::json;

use crate::support::{target, Env};

#[tokio::test]
async fn publish_finding_reaches_the_bus() {
    let env = Env::start().await;
    let bus_arn = env
        .aws
        .events
        .create_event_bus()
        .name("security")
        .send()
        .await
        .unwrap()
        .event_bus_arn()
        .unwrap()
        .to_owned();
    // An archive on the bus keeps every event that matches its pattern: a way to see
    // that PutEvents delivered, without another service.
    env.aws
        .events
        .create_archive()
        .archive_name("findings")
        .event_source_arn(&bus_arn)
        .event_pattern(r#"{"source":["trailwarden"]}"#)
        .send()
        .await
        .unwrap();

    let publish = Action::PublishFinding {
        event_bus: "security".into(),
        detail_type: "Trailwarden Finding".into(),
        source: "trailwarden".into(),
        detail: json!({"rule": "root-usage", "severity": "high"}),
    };
    let outcome = env.run(&publish).await;
    assert_eq!(outcome.inverse, None);
    assert!(outcome.detail.starts_with("event "), "{}", outcome.detail);
    // By ARN too.
    env.run(&Action::PublishFinding {
        event_bus: bus_arn,
        detail_type: "Trailwarden Finding".into(),
        source: "trailwarden".into(),
        detail: json!({"rule": "root-usage"}),
    })
    .await;

    let archive = env
        .aws
        .events
        .describe_archive()
        .archive_name("findings")
        .send()
        .await
        .unwrap();
    assert_eq!(archive.event_count(), 2, "{archive:?}");
}

#[tokio::test]
async fn publish_to_a_missing_bus_is_a_final_error() {
    let env = Env::start().await;
    let err = env
        .exec
        .execute(
            &Action::PublishFinding {
                event_bus: "nowhere".into(),
                detail_type: "Trailwarden Finding".into(),
                source: "trailwarden".into(),
                detail: json!({}),
            },
            &target(),
            "a1",
        )
        .await
        .unwrap_err();
    assert!(!err.retryable, "{err}");
    assert!(err.message.contains("nowhere"), "{err}");
}
