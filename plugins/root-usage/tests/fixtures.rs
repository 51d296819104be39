//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, and the
//! Panther comparison and the shared corpus through `detect` (and `handle`).
#![cfg(not(target_arch = "wasm32"))]

use trailwarden_plugin_sdk::testing;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<root_usage::RootUsage>(DIR);
}

#[test]
fn panther_agreement() {
    testing::assert_panther_agreement("root-usage", DIR, root_usage::detect);
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(root_usage::detect);
    testing::assert_responder_survives_corpus::<root_usage::RootUsage>();
}

#[test]
fn descriptor_names_the_crate_and_parses() {
    let d = root_usage::descriptor();
    assert_eq!(d.name, "root-usage");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        d.capabilities,
        trailwarden_plugin_sdk::strings(root_usage::CAPABILITIES)
    );
    assert!(!d.self_caused_events);
    for p in &d.patterns {
        let v: trailwarden_plugin_sdk::serde_json::Value =
            trailwarden_plugin_sdk::serde_json::from_str(p).expect("pattern is JSON");
        assert!(v.is_object());
    }
}

fn root_event(raw: &str) -> trailwarden_plugin_sdk::Event {
    trailwarden_plugin_sdk::Event {
        id: "e1".into(),
        source: Some("iam.amazonaws.com".into()),
        name: Some("CreateUser".into()),
        account: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        source_ip: Some("192.0.2.1".into()),
        principal: trailwarden_plugin_sdk::Principal {
            r#type: Some("Root".into()),
            ..Default::default()
        },
        event_type: Some("AwsApiCall".into()),
        raw: raw.into(),
        ..Default::default()
    }
}

#[test]
fn hot_fields_suffice_when_raw_is_not_json() {
    let f = root_usage::detect(&root_event("not json"));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].resources, vec!["arn:aws:iam::111122223333:root"]);
    assert_eq!(f[0].dedup_key, "aws.root.usage:111122223333:192.0.2.1");
    let ctx: trailwarden_plugin_sdk::serde_json::Value =
        trailwarden_plugin_sdk::serde_json::from_str(&f[0].context).unwrap();
    assert!(ctx.is_object());
}

#[test]
fn services_errors_and_network_records_are_not_root_use() {
    let mut e = root_event("{}");
    e.principal.invoked_by = Some("cloudformation.amazonaws.com".into());
    assert!(root_usage::detect(&e).is_empty());
    let mut e = root_event("{}");
    e.event_type = Some("AwsVpceEvent".into());
    assert!(root_usage::detect(&e).is_empty());
    let mut e = root_event("{}");
    e.error_code = Some("AccessDenied".into());
    assert!(root_usage::detect(&e).is_empty());
}

fn sign_in() -> trailwarden_plugin_sdk::Event {
    let mut e = root_event(r#"{"responseElements": {"ConsoleLogin": "Success"}}"#);
    e.source = Some("signin.amazonaws.com".into());
    e.name = Some("ConsoleLogin".into());
    e.event_type = Some("AwsConsoleSignIn".into());
    e
}

fn handle(
    events: &[trailwarden_plugin_sdk::Event],
    config: &trailwarden_plugin_sdk::Config,
) -> (usize, Vec<trailwarden_plugin_sdk::serde_json::Value>) {
    use trailwarden_plugin_sdk::Responder;
    let caps = trailwarden_plugin_sdk::RecordingCapabilities::new();
    let findings = root_usage::RootUsage::handle(
        events,
        &caps,
        &trailwarden_plugin_sdk::MemoryState::new(),
        config,
    )
    .unwrap();
    (findings.len(), caps.calls_json())
}

#[test]
fn sign_ins_notify_the_configured_target() {
    use trailwarden_plugin_sdk::{serde_json::json, Config};
    let (findings, calls) = handle(&[sign_in(), root_event("{}")], &Config::empty());
    assert_eq!(findings, 2, "both are root use");
    assert_eq!(calls.len(), 1, "only the sign-in is sent");
    assert_eq!(calls[0]["capability"], "notify.send");
    assert_eq!(calls[0]["args"]["target"], "security-team");
    assert_eq!(calls[0]["args"]["finding"]["rule_id"], "aws.root.usage");
    let config = Config::from_value(json!({"notify_target": "oncall"})).unwrap();
    let (_, calls) = handle(&[sign_in()], &config);
    assert_eq!(calls[0]["args"]["target"], "oncall");
    let mut own = sign_in();
    own.self_caused = true;
    assert_eq!(handle(&[own], &config), (1, Vec::new()));
}

#[test]
fn catalog_names_the_configured_target() {
    use trailwarden_plugin_sdk::{serde_json::json, Config};
    let rules = root_usage::rules(&Config::empty());
    assert_eq!(rules.len(), 2);
    let usage = rules.iter().find(|r| r.id == root_usage::RULE_ID).unwrap();
    assert_eq!(usage.techniques, vec!["T1078.004"]);
    assert_eq!(usage.response, vec!["notify.send"]);
    assert!(usage.description.contains("security-team"));
    let reads = rules.iter().find(|r| r.id == root_usage::READ_ONLY_RULE_ID).unwrap();
    assert!(reads.response.is_empty(), "reads are reported, not sent");
    let config = Config::from_value(json!({"notify_target": "oncall"})).unwrap();
    assert!(root_usage::rules(&config)
        .iter()
        .any(|r| r.id == root_usage::RULE_ID && r.description.contains("oncall")));
}
