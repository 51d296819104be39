//! Runs the fixtures natively through the plugin's `handle_with_baseline` on a
//! `MemoryHistory` and a `MemoryBaseline`, and the shared corpus through it.
#![cfg(not(target_arch = "wasm32"))]

use anomaly::{network, questions, user_agent_family, Anomaly, Settings};
use trailwarden_plugin_sdk::{testing, Config, Responder};

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<Anomaly>(DIR);
}

#[test]
fn survives_the_corpus() {
    testing::assert_responder_survives_corpus::<Anomaly>();
}

#[test]
fn descriptor_names_the_crate_and_ships_its_fixtures() {
    let d = anomaly::descriptor();
    assert_eq!(d.name, "anomaly");
    assert_eq!(d.capabilities, ["notify.send"]);
    testing::assert_ships_fixtures(DIR, &d);
}

#[test]
fn at_least_twelve_rules_each_with_a_fixture() {
    let rules = Anomaly::rules(&Config::empty());
    assert!(rules.len() >= 12, "{} rules", rules.len());
    let fixtures: String = anomaly::descriptor().fixtures.concat();
    for rule in &rules {
        assert!(
            fixtures.contains(&format!("\"rule_id\": \"{}\"", rule.id)),
            "{} has no fixture that raises it",
            rule.id
        );
    }
}

#[test]
fn every_default_sensitive_api_is_subscribed_and_cites_its_source() {
    let patterns = anomaly::descriptor().patterns.concat();
    for (api, source) in anomaly::DEFAULT_SENSITIVE_APIS {
        let (service, name) = api.split_once(':').unwrap();
        assert!(
            patterns.contains(&format!("{service}.amazonaws.com")) && patterns.contains(name),
            "{api} is not subscribed"
        );
        assert!(
            source.contains("Elastic") || source.contains("Panther"),
            "{api}"
        );
    }
}

#[test]
fn a_role_sessions_ordinary_call_asks_nothing() {
    // The bulk of a trail: a role session's successful read. No rule looks at it, so the
    // patterns do not bring it (the throughput budget).
    let event = testing::event_from_input(&trailwarden_plugin_sdk::serde_json::json!({
        "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
        "awsRegion": "eu-west-1", "sourceIPAddress": "198.51.100.1",
        "userIdentity": {"type": "AssumedRole",
            "arn": "arn:aws:sts::1:assumed-role/app/i-1",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::1:role/app"}}}
    }))
    .unwrap();
    assert!(questions::questions(&event, &Settings::from_config(&Config::empty())).is_empty());
}

#[test]
fn networks_are_slash_24_and_slash_48() {
    assert_eq!(network("192.0.2.77").as_deref(), Some("192.0.2.0/24"));
    assert_eq!(
        network("2001:db8:1234:5::1").as_deref(),
        Some("2001:db8:1234::/48")
    );
    assert_eq!(network("iam.amazonaws.com"), None);
}

#[test]
fn user_agent_families() {
    let family = |a| user_agent_family(a);
    assert_eq!(
        family("aws-cli/2.13.5 Python/3.11.4").as_deref(),
        Some("aws-cli")
    );
    assert_eq!(
        family("Boto3/1.34.0 md/Botocore#1.34").as_deref(),
        Some("boto3")
    );
    assert_eq!(family("[aws-cli/1.18]").as_deref(), Some("aws-cli"));
    assert_eq!(family("Mozilla/5.0 (X11)").as_deref(), Some("browser"));
    assert_eq!(
        family("console.ec2.amazonaws.com").as_deref(),
        Some("console")
    );
    assert_eq!(family("AWS Internal"), None);
    assert_eq!(family("lambda.amazonaws.com"), None);
    assert_eq!(family(&"x".repeat(10_000)).map(|f| f.len()), Some(64));
}
