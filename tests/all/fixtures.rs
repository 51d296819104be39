//! Every shipped plugin, whatever its language, passes its fixture files and the fixtures it
//! ships inside its component, run through the real host.

use std::path::PathBuf;

use trailwarden::fixture::{self, Fixture};
use trailwarden::runtime::{HostStores, PluginRuntime};

use crate::support::{plugin_config, repo};

/// The components in plugins/dist, each with the folder of its sources.
fn shipped_plugins() -> Vec<(String, PathBuf, PathBuf)> {
    let dist = repo().join("plugins/dist");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dist).expect("plugins/dist: run `make plugins` first") {
        let wasm = entry.unwrap().path();
        let Some(name) = wasm
            .file_stem()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let source = ["", "python/", "js/"]
            .iter()
            .map(|sub| repo().join("plugins").join(format!("{sub}{name}")))
            .find(|dir| dir.join("fixtures").is_dir())
            .unwrap_or_else(|| panic!("{name}: no fixtures folder among its sources"));
        found.push((name, wasm, source));
    }
    found.sort();
    found
}

#[test]
fn every_shipped_plugin_passes_its_fixtures_through_the_real_host() {
    let cache = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let plugins = shipped_plugins();
    for (name, wasm, source) in &plugins {
        let runtime = PluginRuntime::new(cache.path(), HostStores::in_memory().unwrap()).unwrap();
        let mut config = plugin_config(wasm.clone());
        // Capabilities are recorded by the harness, never executed: grants do not matter.
        config.grants.ungranted_imports = trailwarden::respond::grants::UngrantedImports::Deny;
        let loaded = runtime.load(&config).unwrap();
        let mut paths: Vec<_> = std::fs::read_dir(source.join("fixtures"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        let mut fixtures: Vec<(String, Fixture)> = paths
            .iter()
            .map(|p| (p.display().to_string(), fixture::load(p).unwrap()))
            .collect();
        for (i, text) in loaded.fixtures.iter().enumerate() {
            let shipped = fixture::parse(text)
                .unwrap_or_else(|e| panic!("{name}: shipped fixture {i} is invalid: {e}"));
            fixtures.push((format!("shipped #{i}"), shipped));
        }
        // Every rule id its fixtures expect is in the catalog it exports (0.3.0).
        let catalog: std::collections::BTreeSet<&str> = loaded
            .rules
            .as_ref()
            .unwrap_or_else(|| {
                panic!(
                    "{name}: no rule catalog (contract {})",
                    loaded.contract_version()
                )
            })
            .iter()
            .filter(|r| r.refused.is_none())
            .map(|r| r.id.as_str())
            .collect();
        for (origin, fixture) in &fixtures {
            for finding in &fixture.findings {
                if let Some(id) = finding.get("rule_id").and_then(serde_json::Value::as_str) {
                    assert!(
                        catalog.contains(id),
                        "{name}: {origin} expects rule {id}, which its catalog does not list"
                    );
                }
            }
        }
        let (positive, negative) = fixtures.iter().fold((0, 0), |(p, n), (_, f)| {
            if f.findings.is_empty() {
                (p, n + 1)
            } else {
                (p + 1, n)
            }
        });
        assert!(
            positive >= 1 && negative >= 1,
            "{name} needs positive and negative fixtures ({positive} / {negative})"
        );
        for (origin, fixture) in &fixtures {
            // A state-keeping plugin's fixtures must not see each other's state.
            let runtime =
                PluginRuntime::new(cache.path(), HostStores::in_memory().unwrap()).unwrap();
            let loaded = runtime.load(&config).unwrap();
            let outcome = fixture::run(&runtime, &loaded, fixture);
            println!(
                "{name} {}: {}",
                outcome.name,
                if outcome.passed() { "ok" } else { "FAILED" }
            );
            if !outcome.passed() {
                failures.push(format!(
                    "{name} / {} ({origin}):\n  {}",
                    outcome.name,
                    outcome.differences.join("\n  ")
                ));
            }
        }
    }
    for expected in [
        "root-usage",
        "cloudtrail-tampering",
        "console-no-mfa",
        "access-key-other-user",
        "admin-policy-attached",
        "s3-public-access-block",
        "monitoring-disabled",
        "identity-changes",
        "network-exposure",
        "s3-exposure",
        "resource-exposure",
        "storage-exposure",
        "service-watch",
        "keys-secrets",
        "organization-guard",
        "sigma",
        "brute-force",
        "sg-open-world",
    ] {
        assert!(
            plugins.iter().any(|(name, _, _)| name == expected),
            "{expected} is not in plugins/dist"
        );
    }
    assert!(
        failures.is_empty(),
        "fixtures failed:\n{}",
        failures.join("\n")
    );
}

/// The fixtures of `crates/fixture-spec/cases/root-usage` give the verdict their name says
/// (`pass-*`, `fail-*`) through the real host, as they do through the plugin SDK's native
/// runner (`root-usage: the_shared_fixture_cases_give_their_verdict_natively`). Three of them
/// got different verdicts on the two paths before both used `fixture-spec`.
#[test]
fn the_shared_fixture_cases_give_their_verdict_through_the_host() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = PluginRuntime::new(cache.path(), HostStores::in_memory().unwrap()).unwrap();
    let mut config = plugin_config(repo().join("plugins/dist/root-usage.wasm"));
    config.grants.ungranted_imports = trailwarden::respond::grants::UngrantedImports::Deny;
    let loaded = runtime.load(&config).unwrap();
    let dir = repo().join("crates/fixture-spec/cases/root-usage");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 6, "cases in {}", dir.display());
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let verdict = fixture::load(&path)
            .map_err(|e| format!("{e:#}"))
            .and_then(|f| {
                let outcome = fixture::run(&runtime, &loaded, &f);
                if outcome.passed() {
                    Ok(())
                } else {
                    Err(outcome.differences.join("; "))
                }
            });
        assert_eq!(
            verdict.is_ok(),
            name.starts_with("pass-"),
            "{name}: {verdict:?}"
        );
    }
}
