//! Agreement with Panther's labelled tests for the rules that cover the same detections,
//! run through the real host and the real components. Each plugin's `panther.json` maps
//! Panther rule ids to its own rule ids, argues every deliberate difference, and may give
//! the plugin config for the run (`config`: e.g. a burst threshold of 1, since Panther labels
//! a threshold rule's events one by one). `make agreement` prints the table.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Deserialize;
use trailwarden::fixture::findings_for;
use trailwarden::runtime::{HostStores, PluginRuntime};

use crate::support::{corpus, plugin, plugin_config, repo};

#[derive(Deserialize)]
struct PantherMap {
    rules: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    known_differences: BTreeMap<String, String>,
    #[serde(default)]
    config: Option<serde_json::Value>,
    /// Rules run unchanged from upstream (the Sigma rules): their agreement is reported,
    /// and each difference argued, but it is not held to our own detections' bar.
    #[serde(default)]
    upstream: bool,
}

/// The least share of mapped Panther tests the shipped plugins must agree with.
const REQUIRED_AGREEMENT: f64 = 0.98;

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn ids(&self) -> HashSet<&str> {
        match self {
            OneOrMany::One(id) => HashSet::from([id.as_str()]),
            OneOrMany::Many(ids) => ids.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Deserialize)]
struct PantherTest {
    rule_id: String,
    test_name: String,
    expected: bool,
    event: serde_json::Value,
}

#[test]
fn plugins_agree_with_panther_except_where_argued() {
    let tests: Vec<PantherTest> =
        std::fs::read_to_string(corpus("panther/panther_cloudtrail_tests.jsonl"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
    let cache = tempfile::tempdir().unwrap();
    let (mut total, mut agreed) = (0u32, 0u32);
    let (mut upstream_total, mut upstream_agreed) = (0u32, 0u32);
    let mut problems = Vec::new();
    // Plugins in every language: plugins/NAME, plugins/python/NAME, plugins/js/NAME.
    let mut names: Vec<(String, std::path::PathBuf)> = ["", "python", "js"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(repo().join("plugins").join(sub)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("panther.json").is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    names.sort();
    assert!(names.len() >= 3, "plugins with a panther.json: {names:?}");
    for (name, dir) in &names {
        let map_path = dir.join("panther.json");
        let map: PantherMap = serde_json::from_str(&std::fs::read_to_string(&map_path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", map_path.display()));
        let runtime = PluginRuntime::new(cache.path(), HostStores::in_memory().unwrap()).unwrap();
        let mut config = plugin_config(plugin(name));
        if let Some(settings) = &map.config {
            config.settings_json = settings.to_string();
        }
        // Capability calls are recorded by the harness, never executed.
        config.grants.ungranted_imports = trailwarden::respond::grants::UngrantedImports::Deny;
        let loaded = runtime.load(&config).unwrap();
        let mut disagreements = BTreeSet::new();
        let (mut plugin_total, mut plugin_agreed) = (0u32, 0u32);
        for test in tests.iter().filter(|t| map.rules.contains_key(&t.rule_id)) {
            let ours = map.rules[&test.rule_id].ids();
            // Each test alone, on a fresh state, as Panther runs it.
            let scratch = runtime.scratch().unwrap();
            let raised = match findings_for(&scratch, &loaded, std::slice::from_ref(&test.event)) {
                Ok(findings) => findings.iter().any(|f| ours.contains(f.rule_id.as_str())),
                Err(e) => panic!(
                    "{name}: Panther test {} could not run: {e:#}",
                    test.test_name
                ),
            };
            plugin_total += 1;
            if raised == test.expected {
                plugin_agreed += 1;
            } else {
                disagreements.insert(format!("{}/{}", test.rule_id, test.test_name));
            }
        }
        println!("{name}: {plugin_agreed}/{plugin_total} Panther tests agree");
        assert!(plugin_total > 0, "{name}: no Panther test maps to it");
        let argued: BTreeSet<String> = map.known_differences.keys().cloned().collect();
        for unexpected in disagreements.difference(&argued) {
            problems.push(format!(
                "{name}: disagrees with Panther on {unexpected} (not argued in panther.json)"
            ));
        }
        for stale in argued.difference(&disagreements) {
            problems.push(format!(
                "{name}: panther.json argues {stale}, but the plugin agrees now"
            ));
        }
        if map.upstream {
            upstream_total += plugin_total;
            upstream_agreed += plugin_agreed;
        } else {
            total += plugin_total;
            agreed += plugin_agreed;
        }
    }
    if upstream_total > 0 {
        println!(
            "Upstream rules run unchanged (Sigma): {upstream_agreed}/{upstream_total}, each difference argued in its panther.json"
        );
    }
    let share = f64::from(agreed) / f64::from(total);
    println!(
        "Panther agreement of our detections: {agreed}/{total} ({:.1}%)",
        share * 100.0
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        share >= REQUIRED_AGREEMENT,
        "agreement {agreed}/{total} is below {:.0}%",
        REQUIRED_AGREEMENT * 100.0
    );
}
