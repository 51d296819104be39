//! Compiled components are cached on disk, and a damaged cache entry is recompiled.

use trailwarden::runtime::{CompileSource, PluginRuntime};
use trailwarden::state::StateStore;

use crate::support::{plugin, plugin_config};

#[test]
fn a_restart_loads_from_the_cache_and_a_damaged_entry_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let config = plugin_config(plugin("root-usage"));
    let load = || {
        let runtime = PluginRuntime::new(dir.path(), StateStore::in_memory().unwrap()).unwrap();
        let loaded = runtime.load(&config).unwrap();
        (loaded.compile_source, loaded.name.to_string())
    };
    assert_eq!(load(), (CompileSource::Compiled, "root-usage".to_string()));
    assert_eq!(load(), (CompileSource::Cache, "root-usage".to_string()));

    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "one entry per wasm and engine: {entries:?}"
    );
    std::fs::write(&entries[0], b"not a compiled component").unwrap();
    assert_eq!(load(), (CompileSource::Compiled, "root-usage".to_string()));
    assert_eq!(load(), (CompileSource::Cache, "root-usage".to_string()));
}

#[test]
fn a_file_that_is_not_a_component_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.wasm");
    std::fs::write(&bogus, b"\0asm definitely not").unwrap();
    let runtime =
        PluginRuntime::new(&dir.path().join("cache"), StateStore::in_memory().unwrap()).unwrap();
    let error = runtime
        .load(&plugin_config(bogus))
        .err()
        .expect("a bogus file must not load");
    assert!(
        format!("{error:#}").contains("not a valid WebAssembly component"),
        "{error:#}"
    );
}

#[test]
fn a_plugin_whose_name_differs_from_the_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = PluginRuntime::new(dir.path(), StateStore::in_memory().unwrap()).unwrap();
    let mut config = plugin_config(plugin("root-usage"));
    config.expected_name = Some("console-no-mfa".into());
    let error = runtime.load(&config).err().expect("name mismatch");
    assert!(error.to_string().contains("config expects"), "{error}");
}

#[test]
fn a_component_of_the_older_contract_still_loads_and_detects() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = PluginRuntime::new(dir.path(), StateStore::in_memory().unwrap()).unwrap();
    let legacy = runtime
        .load(&plugin_config(crate::support::guest("legacy-v010")))
        .unwrap();
    assert_eq!(legacy.contract_version(), "0.1.0");
    let record = serde_json::json!({"eventVersion": "1.08", "eventID": "legacy-1", "eventSource": "s3.amazonaws.com",
        "eventName": "ListBuckets", "awsRegion": "us-east-1", "eventType": "AwsApiCall",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/a"}});
    let findings = trailwarden::fixture::findings_for(&runtime, &legacy, &[record]).unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule_id, "test.legacy");
}
