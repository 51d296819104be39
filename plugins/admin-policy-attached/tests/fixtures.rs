//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, and the
//! Panther comparison and the shared corpus through `detect` (and `handle`).
#![cfg(not(target_arch = "wasm32"))]

use admin_policy_attached::{AdminPolicyAttached, CAPABILITIES};
use trailwarden_plugin_sdk::testing;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<AdminPolicyAttached>(DIR);
}

#[test]
fn panther_agreement() {
    testing::assert_panther_agreement("admin-policy-attached", DIR, admin_policy_attached::detect);
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(admin_policy_attached::detect);
    testing::assert_responder_survives_corpus::<AdminPolicyAttached>();
}

#[test]
fn descriptor_names_the_crate_and_parses() {
    let d = admin_policy_attached::descriptor();
    assert_eq!(d.name, "admin-policy-attached");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        CAPABILITIES,
        [
            "iam.detach-user-policy",
            "iam.detach-role-policy",
            "iam.detach-group-policy",
            "iam.delete-inline-policy"
        ]
    );
    assert!(!d.self_caused_events);
    for p in &d.patterns {
        let v: trailwarden_plugin_sdk::serde_json::Value =
            trailwarden_plugin_sdk::serde_json::from_str(p).expect("pattern is JSON");
        assert!(v.is_object());
    }
}

#[test]
fn unreadable_raw_gives_nothing() {
    let e = trailwarden_plugin_sdk::Event {
        id: "e1".into(),
        source: Some("iam.amazonaws.com".into()),
        name: Some("AttachRolePolicy".into()),
        raw: "not json".into(),
        ..Default::default()
    };
    assert!(admin_policy_attached::detect(&e).is_empty());
}
