//! Agreement with Panther's labelled tests for the Panther rules that detect what a shipped
//! Sigma rule detects (`panther.json`). The Sigma rules run unchanged, so every difference
//! is the upstream rule's (or Panther's test event's): each must be listed and argued in
//! `known_differences`, and a listed one that no longer differs fails as stale.
#![cfg(not(target_arch = "wasm32"))]

use sigma::Sigma;
use trailwarden_plugin_sdk::testing;

#[test]
fn panther_agreement() {
    testing::assert_responder_panther_agreement::<Sigma>("sigma", env!("CARGO_MANIFEST_DIR"));
}
