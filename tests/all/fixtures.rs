//! Every shipped plugin passes its own fixtures, run through the real host.

use trailwarden::fixture::{self, Fixture};
use trailwarden::runtime::PluginRuntime;
use trailwarden::state::StateStore;

use crate::support::{plugin, plugin_config, repo};

#[test]
fn every_plugin_passes_its_fixtures_through_the_real_host() {
    let cache = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut plugins_checked = 0;
    for name in ["root-usage", "cloudtrail-tampering", "console-no-mfa"] {
        let runtime = PluginRuntime::new(cache.path(), StateStore::in_memory().unwrap()).unwrap();
        let loaded = runtime.load(&plugin_config(plugin(name))).unwrap();
        let dir = repo().join("plugins").join(name).join("fixtures");
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        let (mut positive, mut negative) = (0, 0);
        for path in &paths {
            let fixture = Fixture::load(path).unwrap();
            if fixture.findings.is_empty() {
                negative += 1;
            } else {
                positive += 1;
            }
            let outcome = fixture::run(&runtime, &loaded, &fixture);
            println!(
                "{name} {}: {}",
                outcome.name,
                if outcome.passed() { "ok" } else { "FAILED" }
            );
            if !outcome.passed() {
                failures.push(format!(
                    "{name} / {} ({}):\n  {}",
                    outcome.name,
                    path.display(),
                    outcome.differences.join("\n  ")
                ));
            }
        }
        assert!(
            positive >= 1 && negative >= 1,
            "{name} needs positive and negative fixtures ({positive} / {negative})"
        );
        plugins_checked += 1;
    }
    assert_eq!(plugins_checked, 3);
    assert!(
        failures.is_empty(),
        "fixtures failed:\n{}",
        failures.join("\n")
    );
}
