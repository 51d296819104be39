//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, the
//! Panther comparison and the shared corpus, and checks the plugin against the S3 verdicts
//! of Panther's `AWS.CloudTrail.ResourceMadePublic` (mapped in `resource-exposure`).
#![cfg(not(target_arch = "wasm32"))]

use s3_exposure::{S3Exposure, CAPABILITIES};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{
    testing, Config, Event, MemoryState, RecordingCapabilities, Responder,
};

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<S3Exposure>(DIR);
}

#[test]
fn panther_agreement() {
    testing::assert_responder_panther_agreement::<S3Exposure>("s3-exposure", DIR);
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(|e| s3_exposure::detect(e, &Config::empty()));
    let run = testing::assert_responder_survives_corpus::<S3Exposure>();
    assert!(
        run.findings > 0,
        "the corpus has public buckets and weakened ones"
    );
}

#[test]
fn descriptor_names_the_crate_and_parses() {
    let d = s3_exposure::descriptor();
    assert_eq!(d.name, "s3-exposure");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(CAPABILITIES, ["s3.put-public-access-block", "notify.send"]);
    assert!(!d.self_caused_events);
    for p in &d.patterns {
        let v: Value = trailwarden_plugin_sdk::serde_json::from_str(p).expect("pattern is JSON");
        assert!(v.is_object());
    }
}

/// `AWS.CloudTrail.ResourceMadePublic` is mapped in `resource-exposure`, which leaves bucket
/// policies to this plugin: it agrees with all 6 of the rule's S3 verdicts (`resource-exposure`'s
/// `panther.json` argues its S3 difference on this).
#[test]
fn bucket_policies_agree_with_resource_made_public() {
    let path = testing::corpus_dir().join("panther/panther_cloudtrail_tests.jsonl");
    let text = std::fs::read_to_string(path).expect("Panther tests");
    let mut s3 = 0;
    for line in text.lines() {
        let test: Value = trailwarden_plugin_sdk::serde_json::from_str(line).unwrap();
        let event = &test["event"];
        if test["rule_id"] != "AWS.CloudTrail.ResourceMadePublic"
            || event["eventName"] != "PutBucketPolicy"
        {
            continue;
        }
        let e = testing::event_from_input(event).unwrap();
        let raised = s3_exposure::detect(&e, &Config::empty())
            .iter()
            .any(|f| f.rule_id == s3_exposure::POLICY_PUBLIC);
        assert_eq!(
            raised,
            test["expected"].as_bool().unwrap(),
            "{}",
            test["test_name"]
        );
        s3 += 1;
    }
    assert_eq!(s3, 6);
}

fn put_policy(bucket: &str, policy: Value) -> Event {
    testing::event_from_record(&json!({
        "eventID": "e1", "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy",
        "eventType": "AwsApiCall", "recipientAccountId": "111122223333", "awsRegion": "eu-west-1",
        "userIdentity": {"type": "IAMUser", "userName": "alice",
            "arn": "arn:aws:iam::111122223333:user/alice"},
        "requestParameters": {"bucketName": bucket, "bucketPolicy": policy}
    }))
}

fn handle(events: &[Event], config: &Config) -> (usize, Vec<Value>) {
    let caps = RecordingCapabilities::new();
    let findings = S3Exposure::handle(events, &caps, &MemoryState::new(), config).expect("handle");
    (findings.len(), caps.calls_json())
}

const PUBLIC: &str = r#"{"Statement": [{"Sid": "Web", "Effect": "Allow", "Principal": "*",
    "Action": "s3:GetObject", "Resource": "arn:aws:s3:::www/*"}]}"#;

#[test]
fn public_buckets_in_the_config_are_exempt() {
    let policy: Value = trailwarden_plugin_sdk::serde_json::from_str(PUBLIC).unwrap();
    let events = [
        put_policy("www", policy.clone()),
        put_policy("data", policy),
    ];
    let (findings, calls) = handle(&events, &Config::empty());
    assert_eq!(findings, 2);
    assert_eq!(calls[0]["args"], json!({"bucket": "www"}));
    let config = Config::from_value(json!({"public_buckets": ["www"]})).unwrap();
    let (findings, calls) = handle(&events, &config);
    assert_eq!(findings, 1);
    assert_eq!(
        calls,
        vec![json!({"capability": "s3.put-public-access-block",
        "args": {"bucket": "data"}})]
    );
}

#[test]
fn policy_text_and_url_encoded_policies_are_read() {
    let text = json!(PUBLIC);
    let f = s3_exposure::detect(&put_policy("www", text), &Config::empty());
    assert_eq!(f.len(), 1);
    assert!(f[0]
        .description
        .contains("statement Web grants any principal: s3:GetObject"));
    let ctx: Value = trailwarden_plugin_sdk::serde_json::from_str(&f[0].context).unwrap();
    assert_eq!(ctx["public_statements"][0]["sid"], "Web");
    let encoded =
        "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%22*%22%7D%7D";
    assert_eq!(
        s3_exposure::detect(&put_policy("www", json!(encoded)), &Config::empty()).len(),
        1
    );
}

#[test]
fn self_caused_events_and_unnamed_buckets_cause_no_call() {
    let policy: Value = trailwarden_plugin_sdk::serde_json::from_str(PUBLIC).unwrap();
    let mut own = put_policy("www", policy.clone());
    own.self_caused = true;
    assert_eq!(handle(&[own], &Config::empty()), (1, Vec::new()));
    let unnamed = put_policy("", policy);
    let (findings, calls) = handle(&[unnamed], &Config::empty());
    assert_eq!((findings, calls.len()), (1, 0));
}

#[test]
fn the_notify_target_comes_from_the_config() {
    let event = testing::event_from_record(&json!({
        "eventID": "e2", "eventSource": "s3.amazonaws.com", "eventName": "DeleteBucketEncryption",
        "requestParameters": {"bucketName": "b"}}));
    let config = Config::from_value(json!({"notify_target": "storage-oncall"})).unwrap();
    let (_, calls) = handle(&[event], &config);
    assert_eq!(calls[0]["capability"], "notify.send");
    assert_eq!(calls[0]["args"]["target"], "storage-oncall");
    let rules = s3_exposure::rules(&config);
    assert_eq!(rules.len(), 6);
    assert!(rules[2].description.contains("storage-oncall"));
}
