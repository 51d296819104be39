//! `trailwarden rules list` over the example configuration, as an admin runs it: every
//! shipped plugin's catalog, the paired responses in the modes the config grants, and the
//! Sigma rules loaded or refused with the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{guest, repo};

fn trailwarden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .args(args)
        .output()
        .unwrap()
}

/// The example config, with its relative paths made absolute and its cache in `dir`.
fn example_config(dir: &Path) -> String {
    let text = std::fs::read_to_string(repo().join("examples/trailwarden.toml")).unwrap();
    let examples = repo().join("examples");
    let text = text
        .replace("\"../", &format!("\"{}/../", examples.display()))
        .replace(
            "cache_dir = \".trailwarden/cache\"",
            &format!("cache_dir = \"{}\"", dir.join("cache").display()),
        )
        .replace(
            "database = \"demo.db\"",
            &format!("database = \"{}\"", dir.join("demo.db").display()),
        );
    let path = dir.join("trailwarden.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn configured_plugins(config: &str) -> BTreeSet<String> {
    let table: toml::Table = toml::from_str(&std::fs::read_to_string(config).unwrap()).unwrap();
    table["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.get("enabled").and_then(toml::Value::as_bool) != Some(false))
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn rules_list_shows_every_detection_with_its_response_in_the_granted_mode() {
    let dir = tempfile::tempdir().unwrap();
    let config = example_config(dir.path());
    let out = trailwarden(&["rules", "list", "--config", &config, "--format", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("warning"),
        "every plugin has a catalog: {stderr}"
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();

    let mut ids = BTreeSet::new();
    let mut by_plugin: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for row in &rows {
        for key in [
            "id",
            "plugin",
            "severity",
            "technique",
            "response",
            "title",
            "status",
        ] {
            assert!(row[key].is_string(), "{key} missing in {row}");
        }
        assert!(
            ids.insert(row["id"].as_str().unwrap()),
            "duplicate rule id in {row}"
        );
        by_plugin
            .entry(row["plugin"].as_str().unwrap().to_string())
            .or_default()
            .push(row);
        if row["plugin"] != "sigma" {
            assert!(
                row["technique"].as_str().unwrap().starts_with('T'),
                "an ATT&CK technique: {row}"
            );
            assert_eq!(row["status"], "active", "{row}");
        }
    }
    let plugins: BTreeSet<String> = by_plugin.keys().cloned().collect();
    assert_eq!(
        plugins,
        configured_plugins(&config),
        "every configured plugin lists its rules"
    );

    let rule = |id: &str| {
        rows.iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not listed"))
    };
    assert_eq!(rule("aws.root.usage")["plugin"], "root-usage");
    assert_eq!(rule("aws.root.usage")["response"], "notify.send (dry-run)");
    assert_eq!(
        rule("aws.iam.access-key-created-for-other-user")["response"],
        "iam.disable-access-key (dry-run)"
    );
    assert!(
        rule("aws.iam.admin-policy-attached")["response"]
            .as_str()
            .unwrap()
            .contains("(approve)"),
        "the example asks a person to confirm each detach"
    );

    // The Sigma rules shipped in rules/sigma/cloudtrail: each loaded or refused with a reason.
    let shipped = std::fs::read_dir(repo().join("rules/sigma/cloudtrail"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "yml")
        })
        .count();
    let sigma = &by_plugin["sigma"];
    assert_eq!(
        sigma.len(),
        shipped,
        "one catalog entry per Sigma rule file"
    );
    let refused: Vec<&&Value> = sigma.iter().filter(|r| r["status"] == "refused").collect();
    for r in &refused {
        assert!(
            r["reason"].as_str().is_some_and(|s| !s.is_empty()),
            "a refused rule says why: {r}"
        );
    }
    assert!(
        refused.len() * 4 < sigma.len(),
        "most Sigma rules load ({} of {} refused)",
        refused.len(),
        sigma.len()
    );
    println!(
        "rules list: {} rules in {} plugins; sigma {} loaded, {} refused",
        rows.len(),
        plugins.len(),
        sigma.len() - refused.len(),
        refused.len()
    );

    let table = trailwarden(&["rules", "list", "--config", &config]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(table.status.success());
    assert!(text.starts_with("ID "), "{text}");
    assert!(text.contains("rules active in"), "{text}");
}

#[test]
fn a_component_without_a_catalog_is_named_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trailwarden.toml");
    std::fs::write(
        &config,
        format!(
            "[engine]\ncache_dir = \"{}\"\n[[plugins]]\npath = \"{}\"\n",
            dir.path().join("cache").display(),
            guest("legacy-v010").display()
        ),
    )
    .unwrap();
    let out = trailwarden(&["rules", "list", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("contract 0.1.0 has no rule catalog"),
        "{stderr}"
    );
}
