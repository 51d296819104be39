//! Runs fixtures/*.json through `detect`, natively (`cargo test`).
#![cfg(not(target_arch = "wasm32"))]

use trailwarden_plugin_sdk::testing;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_fixtures(DIR, {{crate_name}}::detect);
}

#[test]
fn ships_its_fixtures() {
    let d = {{crate_name}}::descriptor();
    assert_eq!(d.name, "{{name}}");
    testing::assert_ships_fixtures(DIR, &d);
}
