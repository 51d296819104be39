//! Runs fixtures/*.json through `detect`, natively.
#![cfg(not(target_arch = "wasm32"))]

use trailwarden_plugin_sdk::testing;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_fixtures(DIR, bench_root_usage::detect);
    testing::assert_ships_fixtures(DIR, &bench_root_usage::descriptor());
}
