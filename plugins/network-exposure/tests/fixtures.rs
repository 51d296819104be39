//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, and the
//! Panther comparison and the shared corpus through `detect` (and `handle`).
#![cfg(not(target_arch = "wasm32"))]

use network_exposure::{NetworkExposure, CAPABILITIES, NACL_OPEN, USER_DATA_MODIFIED};
use trailwarden_plugin_sdk::serde_json::{self, json, Value};
use trailwarden_plugin_sdk::{
    testing, Config, Event, MemoryState, RecordingCapabilities, Responder, Severity,
};

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<NetworkExposure>(DIR);
}

#[test]
fn panther_agreement() {
    testing::assert_panther_agreement("network-exposure", DIR, network_exposure::detect);
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(network_exposure::detect);
    testing::assert_responder_survives_corpus::<NetworkExposure>();
}

#[test]
fn descriptor_names_the_crate_and_parses() {
    let d = network_exposure::descriptor();
    assert_eq!(d.name, "network-exposure");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(d.capabilities, vec!["notify.send"]);
    assert_eq!(CAPABILITIES, ["notify.send"]);
    assert!(!d.self_caused_events);
    for p in &d.patterns {
        let v: Value = serde_json::from_str(p).expect("pattern is JSON");
        assert_eq!(v["detail"]["eventSource"], json!(["ec2.amazonaws.com"]));
    }
}

#[test]
fn the_catalog_names_every_rule_and_the_target() {
    let config = Config::from_value(json!({"notify_target": "netops"})).unwrap();
    let rules = network_exposure::rules(&config);
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [NACL_OPEN, USER_DATA_MODIFIED]);
    assert!(rules.iter().all(|r| r.description.contains("netops")));
}

fn ec2(name: &str, params: Value) -> Event {
    Event {
        id: "e1".into(),
        source: Some("ec2.amazonaws.com".into()),
        name: Some(name.into()),
        account: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        event_type: Some("AwsApiCall".into()),
        raw: json!({ "requestParameters": params }).to_string(),
        ..Default::default()
    }
}

fn entry(extra: Value) -> Value {
    let mut base = json!({"networkAclId": "acl-1", "ruleNumber": 100, "egress": false,
        "ruleAction": "allow", "aclProtocol": "6", "portRange": {"from": 22, "to": 22},
        "cidrBlock": "0.0.0.0/0"});
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

#[test]
fn network_acl_entries_judged_by_direction_action_source_and_traffic() {
    let one = |params: Value| network_exposure::detect(&ec2("CreateNetworkAclEntry", params));
    let ssh = one(entry(json!({})));
    assert_eq!(ssh.len(), 1);
    assert_eq!(ssh[0].severity, Severity::Medium);
    assert_eq!(
        ssh[0].title,
        "Network ACL acl-1 allows TCP 22 from 0.0.0.0/0 in account 111122223333"
    );
    // Strings for booleans and numbers, as some producers write them; `protocol` for
    // `aclProtocol`.
    let all = one(entry(
        json!({"egress": "false", "aclProtocol": null, "protocol": "-1", "ruleNumber": "7"}),
    ));
    assert_eq!(all[0].severity, Severity::High);
    assert!(all[0].dedup_key.ends_with(":7"));
    assert_eq!(
        one(entry(json!({"portRange": {"from": 0, "to": 65535}})))[0].severity,
        Severity::High
    );
    assert_eq!(
        one(entry(json!({"cidrBlock": null, "ipv6CidrBlock": "::/0"}))).len(),
        1
    );
    for miss in [
        json!({"egress": true}),
        json!({"egress": null}),
        json!({"ruleAction": "deny"}),
        json!({"cidrBlock": "10.0.0.0/8"}),
        json!({"cidrBlock": null, "ipv6CidrBlock": "2001:db8::/32"}),
    ] {
        assert!(one(entry(miss.clone())).is_empty(), "{miss}");
    }
    // Another service's call of the same name, or an unreadable record: nothing.
    let mut other = ec2("CreateNetworkAclEntry", entry(json!({})));
    other.source = Some("vpc-lattice.amazonaws.com".into());
    assert!(network_exposure::detect(&other).is_empty());
    let mut unreadable = ec2("CreateNetworkAclEntry", entry(json!({})));
    unreadable.raw = "not json".into();
    assert!(network_exposure::detect(&unreadable).is_empty());
}

#[test]
fn user_data_needs_a_value_or_the_attribute() {
    let one = |params: Value| network_exposure::detect(&ec2("ModifyInstanceAttribute", params));
    assert_eq!(
        one(json!({"instanceId": "i-1", "userData": {"value": "<sensitiveDataRemoved>"}}))[0]
            .resources,
        ["arn:aws:ec2:us-east-1:111122223333:instance/i-1"]
    );
    assert_eq!(
        one(json!({"instanceId": "i-1", "Attribute": "UserData"})).len(),
        1
    );
    assert!(one(json!({"instanceId": "i-1", "userData": null})).is_empty());
    assert!(one(json!({"instanceId": "i-1", "attribute": "kernel"})).is_empty());
}

#[test]
fn every_finding_notifies_the_configured_target_unless_self_caused() {
    let run = |e: &Event, config: &Config| {
        let caps = RecordingCapabilities::new();
        let findings =
            NetworkExposure::handle(std::slice::from_ref(e), &caps, &MemoryState::new(), config)
                .unwrap();
        (findings.len(), caps.calls_json())
    };
    let e = ec2("ReplaceNetworkAclEntry", entry(json!({})));
    let (n, calls) = run(&e, &Config::empty());
    assert_eq!(n, 1);
    assert_eq!(calls[0]["args"]["target"], "security-team");
    assert_eq!(calls[0]["args"]["finding"]["rule_id"], NACL_OPEN);
    let config = Config::from_value(json!({"notify_target": "netops"})).unwrap();
    assert_eq!(run(&e, &config).1[0]["args"]["target"], "netops");
    let mut own = e.clone();
    own.self_caused = true;
    assert_eq!(run(&own, &config), (1, Vec::new()));
}
