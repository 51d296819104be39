//! Runs the fixtures natively through the plugin's `handle_with_history` on a
//! `MemoryHistory`, and the shared corpus through it.
#![cfg(not(target_arch = "wasm32"))]

use first_seen::{network, FirstSeen};
use trailwarden_plugin_sdk::testing;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<FirstSeen>(DIR);
}

#[test]
fn survives_the_corpus() {
    testing::assert_responder_survives_corpus::<FirstSeen>();
}

#[test]
fn descriptor_names_the_crate_and_ships_its_fixtures() {
    let d = first_seen::descriptor();
    assert_eq!(d.name, "first-seen");
    assert!(d.capabilities.is_empty());
    testing::assert_ships_fixtures(DIR, &d);
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
