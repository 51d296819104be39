//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, and the
//! Panther comparison and the shared corpus through `detect` (and `handle`).
#![cfg(not(target_arch = "wasm32"))]

use s3_public_access_block::{S3PublicAccessBlock, CAPABILITIES};
use trailwarden_plugin_sdk::testing;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<S3PublicAccessBlock>(DIR);
}

#[test]
fn panther_agreement() {
    testing::assert_panther_agreement(
        "s3-public-access-block",
        DIR,
        s3_public_access_block::detect,
    );
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(s3_public_access_block::detect);
    testing::assert_responder_survives_corpus::<S3PublicAccessBlock>();
}

#[test]
fn descriptor_names_the_crate_and_parses() {
    let d = s3_public_access_block::descriptor();
    assert_eq!(d.name, "s3-public-access-block");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(CAPABILITIES, ["s3.put-public-access-block"]);
    assert!(!d.self_caused_events);
    for p in &d.patterns {
        let v: trailwarden_plugin_sdk::serde_json::Value =
            trailwarden_plugin_sdk::serde_json::from_str(p).expect("pattern is JSON");
        assert!(v.is_object());
    }
}

#[test]
fn a_delete_without_a_readable_record_is_reported_without_action() {
    let event = trailwarden_plugin_sdk::Event {
        id: "e1".into(),
        source: Some("s3.amazonaws.com".into()),
        name: Some("DeleteBucketPublicAccessBlock".into()),
        account: Some("111122223333".into()),
        raw: "not json".into(),
        ..Default::default()
    };
    let findings = s3_public_access_block::detect(&event);
    assert_eq!(findings.len(), 1);
    assert!(findings[0].resources.is_empty());
    let caps = trailwarden_plugin_sdk::RecordingCapabilities::new();
    s3_public_access_block::respond(&event, &findings[0], &caps);
    assert!(caps.calls().is_empty());
}
