//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, and the
//! Panther comparison and the shared corpus through `detect` (and `handle`).
#![cfg(not(target_arch = "wasm32"))]

use access_key_other_user::{AccessKeyOtherUser, CAPABILITIES, RULE_ID};
use trailwarden_plugin_sdk::testing;
use trailwarden_plugin_sdk::{Event, MemoryState, Principal, RecordingCapabilities, Responder};

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<AccessKeyOtherUser>(DIR);
}

#[test]
fn panther_agreement() {
    testing::assert_panther_agreement("access-key-other-user", DIR, access_key_other_user::detect);
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(access_key_other_user::detect);
    testing::assert_responder_survives_corpus::<AccessKeyOtherUser>();
}

#[test]
fn descriptor_names_the_crate_and_parses() {
    let d = access_key_other_user::descriptor();
    assert_eq!(d.name, "access-key-other-user");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(d.capabilities, vec!["iam.disable-access-key"]);
    assert_eq!(CAPABILITIES, ["iam.disable-access-key"]);
    assert!(!d.self_caused_events);
    for p in &d.patterns {
        let v: trailwarden_plugin_sdk::serde_json::Value =
            trailwarden_plugin_sdk::serde_json::from_str(p).expect("pattern is JSON");
        assert!(v.is_object());
    }
}

fn create_key(caller: Principal, raw: &str) -> Event {
    Event {
        id: "e1".into(),
        source: Some("iam.amazonaws.com".into()),
        name: Some("CreateAccessKey".into()),
        account: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        principal: caller,
        event_type: Some("AwsApiCall".into()),
        raw: raw.into(),
        ..Default::default()
    }
}

fn user(name: &str) -> Principal {
    Principal {
        r#type: Some("IAMUser".into()),
        arn: Some(format!("arn:aws:iam::111122223333:user/team/{name}")),
        user_name: Some(name.into()),
        ..Default::default()
    }
}

const FOR_BOB: &str = r#"{"requestParameters": {"userName": "bob"},
    "responseElements": {"accessKey": {"accessKeyId": "AKIAEXAMPLEBOB", "userName": "bob"}}}"#;

#[test]
fn the_key_is_disabled_unless_the_event_is_self_caused() {
    let caps = RecordingCapabilities::new();
    let mut event = create_key(user("alice"), FOR_BOB);
    let run = |e: &Event| {
        AccessKeyOtherUser::handle(
            std::slice::from_ref(e),
            &caps,
            &MemoryState::new(),
            &Default::default(),
        )
        .unwrap()
    };
    let findings = run(&event);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule_id, RULE_ID);
    assert_eq!(
        caps.calls_json(),
        vec![trailwarden_plugin_sdk::serde_json::json!({
            "capability": "iam.disable-access-key",
            "args": {"user-name": "bob", "access-key-id": "AKIAEXAMPLEBOB"}
        })]
    );
    caps.clear();
    event.self_caused = true;
    assert_eq!(run(&event).len(), 1, "still reported");
    assert!(caps.calls().is_empty(), "but not acted on");
}

#[test]
fn unreadable_or_nameless_records_give_nothing() {
    assert!(access_key_other_user::detect(&create_key(user("alice"), "not json")).is_empty());
    // A user whose own name is unknown cannot be compared.
    let nameless = Principal {
        r#type: Some("IAMUser".into()),
        ..Default::default()
    };
    assert!(access_key_other_user::detect(&create_key(nameless, FOR_BOB)).is_empty());
    // The user's own name from the ARN when `userName` is missing, paths skipped.
    let mut bob = user("bob");
    bob.user_name = None;
    assert!(access_key_other_user::detect(&create_key(bob, FOR_BOB)).is_empty());
}
