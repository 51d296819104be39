//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, and the
//! Panther comparison and the shared corpus through `detect` (and `handle`).
#![cfg(not(target_arch = "wasm32"))]

use monitoring_disabled::{
    MonitoringDisabled, CAPABILITIES, DETECTOR_DISABLED, FLOW_LOGS_DELETED, MEMBER_DISASSOCIATED,
    PROTECTION_DISABLED, RECORDING_STOPPED,
};
use trailwarden_plugin_sdk::serde_json::{self, json, Value};
use trailwarden_plugin_sdk::{
    testing, Config, Event, MemoryState, Principal, RecordingCapabilities, Responder,
};

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<MonitoringDisabled>(DIR);
}

#[test]
fn panther_agreement() {
    testing::assert_panther_agreement("monitoring-disabled", DIR, monitoring_disabled::detect);
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(monitoring_disabled::detect);
    testing::assert_responder_survives_corpus::<MonitoringDisabled>();
}

#[test]
fn descriptor_names_the_crate_and_parses() {
    let d = monitoring_disabled::descriptor();
    assert_eq!(d.name, "monitoring-disabled");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(d.capabilities, vec!["notify.send"]);
    assert_eq!(CAPABILITIES, ["notify.send"]);
    assert!(!d.self_caused_events);
    assert_eq!(d.patterns.len(), 3);
    for p in &d.patterns {
        let v: Value = serde_json::from_str(p).expect("pattern is JSON");
        assert!(v["detail"]["eventName"].is_array());
    }
}

#[test]
fn the_catalog_names_every_rule_and_the_target() {
    let config = Config::from_value(json!({"notify_target": "soc"})).unwrap();
    let rules = monitoring_disabled::rules(&config);
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            DETECTOR_DISABLED,
            PROTECTION_DISABLED,
            MEMBER_DISASSOCIATED,
            RECORDING_STOPPED,
            FLOW_LOGS_DELETED
        ]
    );
    assert!(rules.iter().all(|r| r.description.contains("soc")));
    assert!(rules.iter().all(|r| r.response == ["notify.send"]));
}

fn event(source: &str, name: &str, raw: &str) -> Event {
    Event {
        id: "e1".into(),
        source: Some(source.into()),
        name: Some(name.into()),
        account: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        principal: Principal {
            r#type: Some("IAMUser".into()),
            arn: Some("arn:aws:iam::111122223333:user/alice".into()),
            user_name: Some("alice".into()),
            ..Default::default()
        },
        event_type: Some("AwsApiCall".into()),
        raw: raw.into(),
        ..Default::default()
    }
}

#[test]
fn hot_fields_suffice_where_the_request_does_not_matter() {
    // Without a readable record a deletion is still a deletion, with no resource named.
    let f = monitoring_disabled::detect(&event(
        "guardduty.amazonaws.com",
        "DeleteDetector",
        "not json",
    ));
    assert_eq!(f.len(), 1);
    assert!(f[0].resources.is_empty());
    let ctx: Value = serde_json::from_str(&f[0].context).unwrap();
    assert!(ctx.is_object());
    let f = monitoring_disabled::detect(&event("ec2.amazonaws.com", "DeleteFlowLogs", "not json"));
    assert_eq!(f[0].rule_id, FLOW_LOGS_DELETED);
    assert_eq!(
        f[0].dedup_key,
        "aws.ec2.flow-logs-deleted:111122223333:us-east-1:unnamed"
    );
    // But disabling needs the request: `enable` must say false.
    assert!(
        monitoring_disabled::detect(&event("guardduty.amazonaws.com", "UpdateDetector", "{}"))
            .is_empty()
    );
    let disable = r#"{"requestParameters": {"detectorId": "d1", "enable": "false"}}"#;
    assert_eq!(
        monitoring_disabled::detect(&event("guardduty.amazonaws.com", "UpdateDetector", disable))
            .len(),
        1
    );
}

#[test]
fn other_services_with_the_same_names_are_ignored() {
    // The event names only count from their own service.
    for (source, name) in [
        ("ec2.amazonaws.com", "DeleteDetector"),
        ("config.amazonaws.com", "DeleteFlowLogs"),
        ("guardduty.amazonaws.com", "StopConfigurationRecorder"),
        ("macie2.amazonaws.com", "DeleteMembers"),
    ] {
        assert!(
            monitoring_disabled::detect(&event(source, name, "{}")).is_empty(),
            "{source} {name}"
        );
    }
}

#[test]
fn every_finding_notifies_the_configured_target_unless_self_caused() {
    let run = |e: &Event, config: &Config| {
        let caps = RecordingCapabilities::new();
        let findings =
            MonitoringDisabled::handle(std::slice::from_ref(e), &caps, &MemoryState::new(), config)
                .unwrap();
        (findings.len(), caps.calls_json())
    };
    let stop = event(
        "config.amazonaws.com",
        "StopConfigurationRecorder",
        r#"{"requestParameters": {"configurationRecorderName": "default"}}"#,
    );
    let (n, calls) = run(&stop, &Config::empty());
    assert_eq!(n, 1);
    assert_eq!(calls[0]["capability"], "notify.send");
    assert_eq!(calls[0]["args"]["target"], "security-team");
    assert_eq!(calls[0]["args"]["finding"]["rule_id"], RECORDING_STOPPED);
    let config = Config::from_value(json!({"notify_target": "oncall"})).unwrap();
    assert_eq!(run(&stop, &config).1[0]["args"]["target"], "oncall");
    let mut own = stop.clone();
    own.self_caused = true;
    assert_eq!(run(&own, &config), (1, Vec::new()));
}

#[test]
fn protection_plans_are_read_from_features_and_legacy_data_sources() {
    let off = |params: Value| monitoring_disabled::protections_disabled(&params);
    assert_eq!(
        off(json!({"features": [
            {"name": "S3_DATA_EVENTS", "status": "DISABLED"},
            {"name": "EKS_AUDIT_LOGS", "status": "ENABLED"},
            {"name": "RUNTIME_MONITORING", "status": "enabled",
             "additionalConfiguration": [{"name": "EKS_ADDON_MANAGEMENT", "status": "DISABLED"}]},
            {"status": "Disabled"}]})),
        ["S3_DATA_EVENTS", "(unnamed feature)"]
    );
    assert_eq!(
        off(json!({"dataSources": {"s3Logs": {"enable": false},
            "kubernetes": {"auditLogs": {"enable": "false"}},
            "malwareProtection": {"scanEc2InstanceWithFindings": {"ebsVolumes": false}}}})),
        [
            "kubernetes.auditLogs",
            "malwareProtection.scanEc2InstanceWithFindings.ebsVolumes",
            "s3Logs"
        ]
    );
    assert!(off(json!({"dataSources": {"s3Logs": {"enable": true}}, "enable": true})).is_empty());
    assert!(off(json!({"features": "S3_DATA_EVENTS", "dataSources": [false]})).is_empty());
    // A hostile, deep tree is walked to a bounded depth.
    let mut deep = json!({"enable": false});
    for _ in 0..100 {
        deep = json!({ "x": deep });
    }
    assert!(off(json!({ "dataSources": deep })).is_empty());
}
