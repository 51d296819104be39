//! Compiled components are cached on disk, and a damaged cache entry is recompiled.

use std::os::unix::fs::PermissionsExt;

use trailwarden::runtime::{CompileSource, HostStores, PluginRuntime};

use crate::support::{plugin, plugin_config};

#[test]
fn a_restart_loads_from_the_cache_and_a_damaged_entry_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let config = plugin_config(plugin("root-usage"));
    let load = || {
        let runtime = PluginRuntime::new(dir.path(), HostStores::in_memory().unwrap()).unwrap();
        let loaded = runtime.load(&config).unwrap();
        (loaded.compile_source, loaded.name.to_string())
    };
    assert_eq!(load(), (CompileSource::Compiled, "root-usage".to_string()));
    assert_eq!(load(), (CompileSource::Cache, "root-usage".to_string()));

    let entries = cache_entries(dir.path());
    assert_eq!(
        entries.len(),
        1,
        "one entry per wasm and engine: {entries:?}"
    );
    std::fs::write(&entries[0], b"not a compiled component").unwrap();
    assert_eq!(load(), (CompileSource::Compiled, "root-usage".to_string()));
    assert_eq!(load(), (CompileSource::Cache, "root-usage".to_string()));
}

/// The compiled entries of a cache folder (not its key).
fn cache_entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect()
}

#[test]
fn a_tampered_cache_entry_is_never_deserialized_but_recompiled_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = || PluginRuntime::new(dir.path(), HostStores::in_memory().unwrap()).unwrap();
    let root_usage = plugin_config(plugin("root-usage"));
    let trap = plugin_config(crate::support::guest("trap"));
    let first = runtime();
    first.load(&root_usage).unwrap();
    let root_entry = cache_entries(dir.path()).pop().unwrap();
    first.load(&trap).unwrap();
    let trap_entry = cache_entries(dir.path())
        .into_iter()
        .find(|p| *p != root_entry)
        .unwrap();
    let key = dir.path().join("cache.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Another plugin's genuine compiled code put in root-usage's place: wasmtime would take
    // it (same engine), and root-usage would run the trap guest's code.
    let trap_bytes = std::fs::read(&trap_entry).unwrap();
    std::fs::write(&root_entry, &trap_bytes).unwrap();
    let second = runtime();
    let loaded = second.load(&root_usage).unwrap();
    assert_eq!(loaded.name.as_ref(), "root-usage");
    assert_eq!(loaded.compile_source, CompileSource::Compiled);
    assert_eq!(second.rejected_cache_entries(), 1);

    // A byte flipped inside the compiled code; then an entry with no MAC at all (raw
    // precompiled bytes, as anyone with write access could make).
    let mut flipped = std::fs::read(&root_entry).unwrap();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    std::fs::write(&root_entry, &flipped).unwrap();
    let third = runtime();
    assert_eq!(
        third.load(&root_usage).unwrap().compile_source,
        CompileSource::Compiled
    );
    assert_eq!(third.rejected_cache_entries(), 1);
    std::fs::write(&root_entry, &trap_bytes[32..]).unwrap();
    let fourth = runtime();
    assert_eq!(
        fourth.load(&root_usage).unwrap().compile_source,
        CompileSource::Compiled
    );
    assert_eq!(fourth.rejected_cache_entries(), 1);

    // The rewritten entry is ours again: loaded from the cache, nothing refused.
    let fifth = runtime();
    assert_eq!(
        fifth.load(&root_usage).unwrap().compile_source,
        CompileSource::Cache
    );
    assert_eq!(fifth.rejected_cache_entries(), 0);
}

#[test]
fn a_file_that_is_not_a_component_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.wasm");
    std::fs::write(&bogus, b"\0asm definitely not").unwrap();
    let runtime =
        PluginRuntime::new(&dir.path().join("cache"), HostStores::in_memory().unwrap()).unwrap();
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
    let runtime = PluginRuntime::new(dir.path(), HostStores::in_memory().unwrap()).unwrap();
    let mut config = plugin_config(plugin("root-usage"));
    config.expected_name = Some("console-no-mfa".into());
    let error = runtime.load(&config).err().expect("name mismatch");
    assert!(error.to_string().contains("config expects"), "{error}");
}

#[test]
fn a_component_of_the_older_contract_still_loads_and_detects() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = PluginRuntime::new(dir.path(), HostStores::in_memory().unwrap()).unwrap();
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
