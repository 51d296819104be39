//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, and the
//! Panther comparison and the shared corpus through `detect` (and `handle`).
#![cfg(not(target_arch = "wasm32"))]

use trailwarden_plugin_sdk::testing;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<cloudtrail_tampering::CloudTrailTampering>(DIR);
}

#[test]
fn panther_agreement() {
    testing::assert_panther_agreement("cloudtrail-tampering", DIR, cloudtrail_tampering::detect);
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(cloudtrail_tampering::detect);
    testing::assert_responder_survives_corpus::<cloudtrail_tampering::CloudTrailTampering>();
}

#[test]
fn descriptor_names_the_crate_and_parses() {
    let d = cloudtrail_tampering::descriptor();
    assert_eq!(d.name, "cloudtrail-tampering");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        d.capabilities,
        trailwarden_plugin_sdk::strings(cloudtrail_tampering::CAPABILITIES)
    );
    assert!(!d.self_caused_events);
    for p in &d.patterns {
        let v: trailwarden_plugin_sdk::serde_json::Value =
            trailwarden_plugin_sdk::serde_json::from_str(p).expect("pattern is JSON");
        assert!(v.is_object());
    }
}

fn cloudtrail_event(name: &str, raw: &str) -> trailwarden_plugin_sdk::Event {
    trailwarden_plugin_sdk::Event {
        id: "e1".into(),
        source: Some("cloudtrail.amazonaws.com".into()),
        name: Some(name.into()),
        account: Some("111122223333".into()),
        region: Some("eu-west-1".into()),
        event_type: Some("AwsApiCall".into()),
        raw: raw.into(),
        ..Default::default()
    }
}

#[test]
fn unreadable_raw_still_reports_stop_but_not_selectors() {
    let f = cloudtrail_tampering::detect(&cloudtrail_event("StopLogging", "not json"));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule_id, "aws.cloudtrail.stopped");
    assert!(f[0].resources.is_empty());
    assert_eq!(
        f[0].dedup_key,
        "aws.cloudtrail.stopped:111122223333:eu-west-1:unnamed"
    );
    assert!(
        cloudtrail_tampering::detect(&cloudtrail_event("PutEventSelectors", "not json")).is_empty()
    );
    let f = cloudtrail_tampering::detect(&cloudtrail_event("UpdateTrail", "not json"));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, trailwarden_plugin_sdk::Severity::Medium);
}

#[test]
fn responses_follow_the_config_and_the_record() {
    use trailwarden_plugin_sdk::{serde_json::json, Config, MemoryState, RecordingCapabilities};
    use trailwarden_plugin_sdk::{Receipt, Responder};
    let run =
        |event: trailwarden_plugin_sdk::Event, config: &Config, caps: &RecordingCapabilities| {
            cloudtrail_tampering::CloudTrailTampering::handle(
                &[event],
                caps,
                &MemoryState::new(),
                config,
            )
            .unwrap()
        };
    let config = Config::from_value(json!({"notify_target": "soc"})).unwrap();
    // StopLogging by name: restart it, then notify the configured target, even when the
    // restart is denied.
    let caps = RecordingCapabilities::with_receipts([Receipt::Denied("not granted".into())]);
    run(
        cloudtrail_event("StopLogging", r#"{"requestParameters": {"name": "t1"}}"#),
        &config,
        &caps,
    );
    let calls = caps.calls_json();
    assert_eq!(
        calls[0],
        json!({"capability": "cloudtrail.start-logging", "args": {"trail": "t1"}})
    );
    assert_eq!(calls[1]["capability"], "notify.send");
    assert_eq!(calls[1]["args"]["target"], "soc");
    // Without a readable trail name there is nothing to restart: notify only.
    let caps = RecordingCapabilities::new();
    run(
        cloudtrail_event("StopLogging", "not json"),
        &Config::empty(),
        &caps,
    );
    assert_eq!(caps.capabilities_called(), ["notify.send"]);
    assert_eq!(caps.calls_json()[0]["args"]["target"], "security-team");
    // DeleteTrail, UpdateTrail, narrowed selectors: notify only; a data store: report only.
    let caps = RecordingCapabilities::new();
    run(
        cloudtrail_event("DeleteTrail", r#"{"requestParameters": {"name": "t1"}}"#),
        &config,
        &caps,
    );
    run(cloudtrail_event("UpdateTrail", "{}"), &config, &caps);
    let data_events_only = r#"{"requestParameters": {"trailName": "t1", "eventSelectors":
        [{"readWriteType": "All", "includeManagementEvents": false}]}}"#;
    run(
        cloudtrail_event("PutEventSelectors", data_events_only),
        &config,
        &caps,
    );
    run(
        cloudtrail_event("DeleteEventDataStore", "{}"),
        &config,
        &caps,
    );
    assert_eq!(
        caps.capabilities_called(),
        ["notify.send", "notify.send", "notify.send"]
    );
    let rules: Vec<_> = caps
        .calls_json()
        .iter()
        .map(|c| c["args"]["finding"]["rule_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        rules,
        [
            "aws.cloudtrail.deleted",
            "aws.cloudtrail.updated",
            "aws.cloudtrail.selectors-narrowed"
        ]
    );
    assert!(caps
        .calls_json()
        .iter()
        .all(|c| c["args"]["target"] == "soc"));
    // Never for trailwarden's own calls.
    let caps = RecordingCapabilities::new();
    let mut own = cloudtrail_event("UpdateTrail", "{}");
    own.self_caused = true;
    assert_eq!(run(own, &config, &caps).len(), 1);
    assert!(caps.calls().is_empty());
}

#[test]
fn every_rule_names_notify_as_its_response() {
    use trailwarden_plugin_sdk::{serde_json::json, Config};
    let config = Config::from_value(json!({"notify_target": "soc"})).unwrap();
    for rule in cloudtrail_tampering::rules(&config) {
        assert!(
            rule.response.iter().any(|r| r == "notify.send"),
            "{}",
            rule.id
        );
        assert!(rule.description.contains("soc"), "{}", rule.id);
    }
}
