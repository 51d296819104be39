//! Runs fixtures/*.json through `detect`, natively (`cargo test`), and checks the catalog.
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

#[test]
fn catalogues_every_rule_it_raises() {
    let rules = {{crate_name}}::rules();
    for rule in &rules {
        let described = !rule.title.is_empty() && !rule.description.is_empty();
        assert!(described && !rule.runbook.is_empty(), "{}", rule.id);
        // MITRE ATT&CK technique ids.
        assert!(!rule.techniques.is_empty(), "{}: e.g. T1136.003", rule.id);
    }
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    assert!(ids.contains(&{{crate_name}}::RULE_ID), "{ids:?}");
}
