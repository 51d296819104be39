//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, and the
//! Panther comparison and the shared corpus through `detect` (and `handle`).
#![cfg(not(target_arch = "wasm32"))]

use console_no_mfa::ConsoleNoMfa;
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::testing;
use trailwarden_plugin_sdk::{Config, Event, MemoryState, RecordingCapabilities, Responder};

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<ConsoleNoMfa>(DIR);
}

#[test]
fn panther_agreement() {
    testing::assert_panther_agreement("console-no-mfa", DIR, console_no_mfa::detect);
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(console_no_mfa::detect);
    testing::assert_responder_survives_corpus::<ConsoleNoMfa>();
}

#[test]
fn descriptor_names_the_crate_and_parses() {
    let d = console_no_mfa::descriptor();
    assert_eq!(d.name, "console-no-mfa");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(d.capabilities, vec!["notify.send"]);
    assert_eq!(console_no_mfa::CAPABILITIES, ["notify.send"]);
    assert!(!d.self_caused_events);
    testing::assert_ships_fixtures(DIR, &d);
    for p in &d.patterns {
        let v: trailwarden_plugin_sdk::serde_json::Value =
            trailwarden_plugin_sdk::serde_json::from_str(p).expect("pattern is JSON");
        assert!(v.is_object());
    }
}

#[test]
fn unreadable_raw_gives_no_finding() {
    let e = trailwarden_plugin_sdk::Event {
        id: "e1".into(),
        source: Some("signin.amazonaws.com".into()),
        name: Some("ConsoleLogin".into()),
        principal: trailwarden_plugin_sdk::Principal {
            r#type: Some("IAMUser".into()),
            ..Default::default()
        },
        mfa_authenticated: Some(false),
        raw: "{\"truncated".into(),
        ..Default::default()
    };
    assert!(console_no_mfa::detect(&e).is_empty());
}

fn password_sign_in() -> Event {
    Event {
        id: "e1".into(),
        source: Some("signin.amazonaws.com".into()),
        name: Some("ConsoleLogin".into()),
        account: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        principal: trailwarden_plugin_sdk::Principal {
            r#type: Some("IAMUser".into()),
            arn: Some("arn:aws:iam::111122223333:user/anaya".into()),
            user_name: Some("anaya".into()),
            ..Default::default()
        },
        event_type: Some("AwsConsoleSignIn".into()),
        raw: json!({
            "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin",
            "userIdentity": {"type": "IAMUser", "userName": "anaya"},
            "responseElements": {"ConsoleLogin": "Success"},
            "additionalEventData": {"MFAUsed": "No"}
        })
        .to_string(),
        ..Default::default()
    }
}

fn handle(events: &[Event], config: &Config) -> (usize, Vec<Value>) {
    let caps = RecordingCapabilities::new();
    let findings = ConsoleNoMfa::handle(events, &caps, &MemoryState::new(), config).unwrap();
    (findings.len(), caps.calls_json())
}

#[test]
fn each_finding_is_sent_to_the_configured_target_unless_self_caused() {
    let mut with_mfa = password_sign_in();
    with_mfa.id = "e2".into();
    with_mfa.raw = with_mfa
        .raw
        .replace(r#""MFAUsed":"No""#, r#""MFAUsed":"Yes""#);
    let (findings, calls) = handle(&[password_sign_in(), with_mfa], &Config::empty());
    assert_eq!(findings, 1);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["capability"], "notify.send");
    assert_eq!(calls[0]["args"]["finding"]["event_id"], "e1");
    assert_eq!(calls[0]["args"]["target"], "security-team");
    assert_eq!(
        calls[0]["args"]["finding"]["rule_id"],
        "aws.console.signin-without-mfa"
    );
    let config = Config::from_value(json!({"notify_target": "oncall"})).unwrap();
    let (_, calls) = handle(&[password_sign_in()], &config);
    assert_eq!(calls[0]["args"]["target"], "oncall");
    let mut own = password_sign_in();
    own.self_caused = true;
    assert_eq!(handle(&[own], &config), (1, Vec::new()));
}

#[test]
fn catalog_names_the_response_and_the_configured_target() {
    let rules = ConsoleNoMfa::rules(&Config::empty());
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].id, console_no_mfa::RULE_ID);
    assert_eq!(rules[0].response, vec!["notify.send"]);
    assert!(rules[0].description.contains("security-team"));
    let config = Config::from_value(json!({"notify_target": "oncall"})).unwrap();
    assert!(console_no_mfa::rules(&config)[0]
        .description
        .contains("oncall"));
}
