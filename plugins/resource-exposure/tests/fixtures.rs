//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, the
//! Panther comparison and the shared corpus, and checks the SDK's policy judgment against
//! every verdict of Panther's `AWS.CloudTrail.ResourceMadePublic`.
#![cfg(not(target_arch = "wasm32"))]

use resource_exposure::{ResourceExposure, CAPABILITIES, SERVICES};
use trailwarden_plugin_sdk::json::get_ci;
use trailwarden_plugin_sdk::policy;
use trailwarden_plugin_sdk::serde_json::{self, json, Value};
use trailwarden_plugin_sdk::{testing, Config, MemoryState, RecordingCapabilities, Responder};

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<ResourceExposure>(DIR);
}

#[test]
fn panther_agreement() {
    testing::assert_responder_panther_agreement::<ResourceExposure>("resource-exposure", DIR);
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(resource_exposure::detect);
    let run = testing::assert_responder_survives_corpus::<ResourceExposure>();
    assert!(
        run.findings > 0,
        "the corpus has public queues, topics, keys and secrets"
    );
}

#[test]
fn descriptor_names_the_crate_and_subscribes_narrowly() {
    let d = resource_exposure::descriptor();
    assert_eq!(d.name, "resource-exposure");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(CAPABILITIES, ["notify.send"]);
    assert!(!d.self_caused_events);
    for (pattern, service) in d.patterns.iter().zip(SERVICES) {
        let v: Value = serde_json::from_str(pattern).expect("pattern is JSON");
        assert_eq!(v["detail"]["eventSource"], json!([service.source]));
        assert!(!v["detail"]["eventName"].as_array().unwrap().is_empty());
    }
}

/// The policy document a resource-policy call of `AWS.CloudTrail.ResourceMadePublic`'s tests
/// carries, whatever the service.
fn any_policy(event: &Value) -> Option<&Value> {
    let p = event.get("requestParameters")?;
    let attributes = get_ci(p, "attributes");
    [
        get_ci(p, "bucketPolicy"),
        get_ci(p, "policyText"),
        get_ci(p, "policy"),
        get_ci(p, "resourcePolicy"),
        get_ci(p, "accessPolicies"),
        attributes.and_then(|a| get_ci(a, "Policy")),
    ]
    .into_iter()
    .flatten()
    .next()
}

/// The SDK's judgment of a policy agrees with all 14 verdicts of Panther's rule (S3's
/// included), and the plugin with all its verdicts but the S3 one it leaves to s3-exposure.
#[test]
fn policy_judgment_agrees_with_resource_made_public() {
    let path = testing::corpus_dir().join("panther/panther_cloudtrail_tests.jsonl");
    let text = std::fs::read_to_string(path).expect("Panther tests");
    let (mut judged, mut raised_by_plugin) = (0, 0);
    for line in text.lines() {
        let test: Value = serde_json::from_str(line).unwrap();
        if test["rule_id"] != "AWS.CloudTrail.ResourceMadePublic" {
            continue;
        }
        let event = &test["event"];
        let expected = test["expected"].as_bool().unwrap();
        let failed = event.get("errorCode").is_some_and(|c| !c.is_null());
        let public = !failed
            && any_policy(event).is_some_and(|p| !policy::public_statements_in(p).is_empty());
        assert_eq!(public, expected, "{}", test["test_name"]);
        judged += 1;
        let e = testing::event_from_input(event).unwrap();
        if !resource_exposure::detect(&e).is_empty() {
            assert!(expected, "{}", test["test_name"]);
            raised_by_plugin += 1;
        }
    }
    assert_eq!((judged, raised_by_plugin), (14, 4));
}

#[test]
fn every_finding_is_notified_to_the_configured_target() {
    let event = testing::event_from_record(&json!({
        "eventID": "e1", "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "PutResourcePolicy", "recipientAccountId": "111122223333",
        "awsRegion": "eu-west-1",
        "requestParameters": {"secretId": "db-password",
            "resourcePolicy": {"Statement": {"Effect": "Allow", "Principal": "*",
                "Action": "secretsmanager:GetSecretValue"}}}
    }));
    let config = Config::from_value(json!({"notify_target": "secrets-oncall"})).unwrap();
    let caps = RecordingCapabilities::new();
    let findings = ResourceExposure::handle(
        std::slice::from_ref(&event),
        &caps,
        &MemoryState::new(),
        &config,
    )
    .unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(
        findings[0].resources,
        ["arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-password"]
    );
    let calls = caps.calls_json();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["capability"], "notify.send");
    assert_eq!(calls[0]["args"]["target"], "secrets-oncall");
    let rules = resource_exposure::rules(&config);
    assert!(rules
        .iter()
        .all(|r| r.description.contains("secrets-oncall")));
    // Its own calls are reported but not acted on.
    let mut own = event;
    own.self_caused = true;
    let caps = RecordingCapabilities::new();
    let findings = ResourceExposure::handle(&[own], &caps, &MemoryState::new(), &config).unwrap();
    assert_eq!((findings.len(), caps.calls_json().len()), (1, 0));
}

#[test]
fn unreadable_or_oversized_records_raise_nothing() {
    for raw in ["", "not json", "{\"requestParameters\": 3}", "[1,2]"] {
        let mut e = testing::event_from_record(&json!({
            "eventID": "e1", "eventSource": "sqs.amazonaws.com",
            "eventName": "SetQueueAttributes"}));
        e.raw = raw.to_owned();
        assert!(resource_exposure::detect(&e).is_empty(), "{raw}");
    }
    let policy = json!({"Statement": [{"Effect": "Allow", "Principal": "*"}]}).to_string();
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let e = testing::event_from_record(&json!({
        "eventID": "e1", "eventSource": "sqs.amazonaws.com", "eventName": "SetQueueAttributes",
        "requestParameters": {"attributes": {"Policy": format!("{policy}{deep}")}}}));
    assert!(resource_exposure::detect(&e).is_empty());
}
