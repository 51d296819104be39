//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, the
//! Panther comparison and the shared corpus, and the config's trusted accounts.
#![cfg(not(target_arch = "wasm32"))]

use storage_exposure::{StorageExposure, CAPABILITIES};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{
    testing, Config, Event, MemoryState, RecordingCapabilities, Responder,
};

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<StorageExposure>(DIR);
}

#[test]
fn panther_agreement() {
    testing::assert_responder_panther_agreement::<StorageExposure>("storage-exposure", DIR);
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(|e| storage_exposure::detect(e, &Config::empty()));
    let run = testing::assert_responder_survives_corpus::<StorageExposure>();
    assert!(
        run.findings > 0,
        "the corpus has public snapshots and images"
    );
}

#[test]
fn descriptor_names_the_crate_and_parses() {
    let d = storage_exposure::descriptor();
    assert_eq!(d.name, "storage-exposure");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(CAPABILITIES, ["notify.send"]);
    assert!(!d.self_caused_events);
    assert_eq!(d.patterns.len(), 2);
    for p in &d.patterns {
        let v: Value = trailwarden_plugin_sdk::serde_json::from_str(p).expect("pattern is JSON");
        assert!(v.is_object());
    }
}

fn share_snapshot(accounts: &[&str]) -> Event {
    let items: Vec<Value> = accounts.iter().map(|a| json!({ "userId": a })).collect();
    testing::event_from_record(&json!({
        "eventID": "e1", "eventSource": "ec2.amazonaws.com", "eventName": "ModifySnapshotAttribute",
        "eventType": "AwsApiCall", "recipientAccountId": "111122223333", "awsRegion": "eu-west-1",
        "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": "111122223333",
            "arn": "arn:aws:iam::111122223333:user/alice"},
        "requestParameters": {"snapshotId": "snap-0abc", "attributeType": "CREATE_VOLUME_PERMISSION",
            "createVolumePermission": {"add": {"items": items}}}
    }))
}

fn handle(events: &[Event], config: &Config) -> Vec<trailwarden_plugin_sdk::Finding> {
    let caps = RecordingCapabilities::new();
    let findings =
        StorageExposure::handle(events, &caps, &MemoryState::new(), config).expect("handle");
    assert_eq!(
        caps.calls().len(),
        findings.len(),
        "one notification per finding"
    );
    findings
}

#[test]
fn trusted_accounts_are_not_reported() {
    let event = share_snapshot(&["444455556666", "777788889999"]);
    let findings = handle(std::slice::from_ref(&event), &Config::empty());
    assert_eq!(
        findings[0].title,
        "EBS snapshot snap-0abc shared with accounts 444455556666, 777788889999"
    );
    let config =
        Config::from_value(json!({"trusted_accounts": ["444455556666", 777788889999u64]})).unwrap();
    assert!(handle(std::slice::from_ref(&event), &config).is_empty());
    let config = Config::from_value(json!({"trusted_accounts": ["444455556666"]})).unwrap();
    let findings = handle(&[event], &config);
    assert_eq!(
        findings[0].title,
        "EBS snapshot snap-0abc shared with account 777788889999"
    );
    let rules = storage_exposure::rules(&config);
    assert_eq!(rules.len(), 10);
    assert!(rules[1].description.contains("The 1 account(s)"));
}

#[test]
fn a_public_grant_raises_only_the_public_rule() {
    let mut event = share_snapshot(&["444455556666"]);
    event.raw = event.raw.replace(
        r#"[{"userId":"444455556666"}]"#,
        r#"[{"userId":"444455556666"},{"group":"all"}]"#,
    );
    let findings = storage_exposure::detect(&event, &Config::empty());
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule_id, storage_exposure::SNAPSHOT_PUBLIC);
    let ctx: Value = trailwarden_plugin_sdk::serde_json::from_str(&findings[0].context).unwrap();
    assert_eq!(ctx["accounts"], json!(["444455556666"]));
}

#[test]
fn self_caused_events_are_not_notified_and_the_target_comes_from_the_config() {
    let caps = RecordingCapabilities::new();
    let config = Config::from_value(json!({"notify_target": "storage-oncall"})).unwrap();
    let mut own = share_snapshot(&["444455556666"]);
    own.self_caused = true;
    let other = share_snapshot(&["444455556666"]);
    let findings =
        StorageExposure::handle(&[own, other], &caps, &MemoryState::new(), &config).unwrap();
    assert_eq!(findings.len(), 2);
    let calls = caps.calls_json();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["args"]["target"], "storage-oncall");
}

#[test]
fn an_rds_modification_can_open_the_database_and_reset_its_password() {
    let event = testing::event_from_record(&json!({
        "eventID": "e3", "eventSource": "rds.amazonaws.com", "eventName": "ModifyDBInstance",
        "recipientAccountId": "111122223333", "awsRegion": "eu-west-1",
        "requestParameters": {"dBInstanceIdentifier": "orders", "publiclyAccessible": "true",
            "masterUserPassword": "****", "applyImmediately": true},
        "responseElements": {"dBInstanceArn": "arn:aws:rds:eu-west-1:111122223333:db:orders"}
    }));
    let findings = storage_exposure::detect(&event, &Config::empty());
    let ids: Vec<&str> = findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert_eq!(
        ids,
        ["aws.rds.instance-public", "aws.rds.master-password-reset"]
    );
    assert_eq!(
        findings[1].resources,
        ["arn:aws:rds:eu-west-1:111122223333:db:orders"]
    );
}
