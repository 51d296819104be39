//! Hot reload and quarantine: versions swap at batch boundaries without losing or doubling
//! an event; a version that fails its checks never serves; a failing plugin is quarantined.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cloudtrail_normalize::{normalize_value, Options};
use serde_json::json;
use trailwarden::audit::FindingQuery;
use trailwarden::config::Config;

use crate::support::{config, guest, pipeline, plugin, plugin_config};

/// A copy of `wasm` with a custom section appended: the same behaviour, another sha256.
fn second_version(wasm: &Path, dir: &Path) -> PathBuf {
    let mut bytes = std::fs::read(wasm).unwrap();
    let name = b"trailwarden-test-version";
    let payload = b"2";
    let size = 1 + name.len() + payload.len();
    assert!(size < 128, "one-byte LEB128 sizes");
    bytes.extend_from_slice(&[0, size as u8, name.len() as u8]);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    let path = dir.join("root-usage-v2.wasm");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn root_event(i: usize) -> serde_json::Value {
    json!({"eventVersion": "1.08", "eventID": format!("reload-{i}"), "eventTime": "2026-11-20T09:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": "ListUsers", "awsRegion": "us-east-1",
        "eventType": "AwsApiCall", "recipientAccountId": "123456789012", "sourceIPAddress": format!("198.51.100.{}", i % 250),
        "userIdentity": {"type": "Root", "arn": "arn:aws:iam::123456789012:root", "accountId": "123456789012"}})
}

fn with_root_usage(dir: &Path, wasm: PathBuf) -> Config {
    let mut plugin = plugin_config(wasm);
    plugin.expected_name = Some("root-usage".into());
    config(dir, vec![plugin])
}

#[test]
fn twenty_reloads_under_load_handle_every_event_exactly_once() {
    const EVENTS: usize = 20_000;
    const RELOADS: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let v1 = plugin("root-usage");
    let v2 = second_version(&v1, dir.path());
    let configs = [
        with_root_usage(dir.path(), v1.clone()),
        with_root_usage(dir.path(), v2.clone()),
    ];
    let mut pipeline = pipeline(&configs[0]);
    let mut swaps = 0;
    for i in 0..EVENTS {
        for item in normalize_value(root_event(i), &Options::default()) {
            pipeline.ingest(item, "load").unwrap();
        }
        if (i + 1) % (EVENTS / (RELOADS + 1)) == 0 && swaps < RELOADS {
            swaps += 1;
            let report = pipeline.reload(&configs[swaps % 2]).unwrap();
            assert_eq!(report.swapped, ["root-usage"], "{report:?}");
            assert!(report.refused.is_empty(), "{report:?}");
        }
    }
    pipeline.flush().unwrap();
    assert_eq!(swaps, RELOADS);

    let findings = pipeline.audit().findings(&FindingQuery::default()).unwrap();
    let mut per_version: BTreeMap<String, usize> = BTreeMap::new();
    for finding in &findings {
        *per_version
            .entry(finding.plugin_sha256.clone())
            .or_default() += 1;
    }
    let events: BTreeSet<&str> = findings.iter().map(|f| f.event_id.as_str()).collect();
    assert_eq!(
        findings.len(),
        EVENTS,
        "one finding per event, none doubled"
    );
    assert_eq!(events.len(), EVENTS, "every event handled");
    assert_eq!(
        per_version.len(),
        2,
        "both versions served: {per_version:?}"
    );
    assert_eq!(per_version.values().sum::<usize>(), EVENTS);
}

#[test]
fn a_version_that_fails_its_checks_never_serves() {
    let dir = tempfile::tempdir().unwrap();
    let good = with_root_usage(dir.path(), plugin("root-usage"));
    let mut pipeline = pipeline(&good);
    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, b"\0asm\x0d\x00\x01\x00garbage").unwrap();
    let report = pipeline
        .reload(&with_root_usage(dir.path(), broken))
        .unwrap();
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert!(report.swapped.is_empty());
    // The old version still serves.
    for item in normalize_value(root_event(1), &Options::default()) {
        pipeline.ingest(item, "after").unwrap();
    }
    pipeline.flush().unwrap();
    assert_eq!(pipeline.stats().findings["root-usage"], 1);
    let lifecycle = pipeline.audit().lifecycle(10).unwrap();
    assert!(
        lifecycle
            .iter()
            .any(|e| e.plugin == "root-usage" && e.event == "reload_refused"),
        "{lifecycle:?}"
    );

    // A version asking for a capability its grants do not cover is refused the same way.
    let mut widening = plugin_config(plugin("access-key-other-user"));
    widening.expected_name = Some("access-key-other-user".into());
    widening.grants.ungranted_imports = trailwarden::respond::grants::UngrantedImports::Refuse;
    let report = pipeline
        .reload(&config(dir.path(), vec![good.plugins[0].clone(), widening]))
        .unwrap();
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert!(
        report.refused[0].1.contains("holds no iam grant"),
        "{report:?}"
    );
    assert_eq!(report.unchanged, ["root-usage"]);
}

#[test]
fn a_plugin_that_keeps_failing_is_quarantined_until_a_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), vec![plugin_config(guest("trap"))]);
    config.batch_size = 1;
    config.lifecycle.quarantine_after = 3;
    let mut pipeline = pipeline(&config);
    for i in 0..10 {
        for item in normalize_value(root_event(i), &Options::default()) {
            pipeline.ingest(item, "q").unwrap();
        }
    }
    pipeline.flush().unwrap();
    assert_eq!(
        pipeline.stats().plugin_failures["trap"]["trap"],
        3,
        "{:?}",
        pipeline.stats()
    );
    assert_eq!(pipeline.stats().skipped_quarantined["trap"], 7);
    assert!(pipeline.plugin_states()[0].1, "quarantined");
    // The quarantine outlives a restart of the same version.
    drop(pipeline);
    let pipeline = crate::support::pipeline(&config);
    assert!(
        pipeline.plugin_states()[0].1,
        "still quarantined after a restart"
    );
    drop(pipeline);
    // An admin lifts it: recorded, and the next start (or reload) serves it again.
    let toml = dir.path().join("release.toml");
    std::fs::write(
        &toml,
        format!(
            "[audit]\ndatabase = {:?}\n",
            config.database.display().to_string()
        ),
    )
    .unwrap();
    let release = |name: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_trailwarden"))
            .args([
                "plugin", "release", name, "--by", "alice", "--reason", "fixed",
            ])
            .arg("--config")
            .arg(&toml)
            .output()
            .unwrap()
    };
    let out = release("trap");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("released trap"), "{stdout}");
    let pipeline = crate::support::pipeline(&config);
    assert!(!pipeline.plugin_states()[0].1, "served again after release");
    let lifecycle = pipeline.audit().lifecycle(5).unwrap();
    assert!(
        lifecycle
            .iter()
            .any(|e| e.event == "released" && e.detail.contains("alice")),
        "{lifecycle:?}"
    );
    // Nothing to release: a clear answer and a non-zero exit.
    let out = release("trap");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not quarantined"));
}

#[test]
fn a_new_version_that_keeps_failing_after_the_swap_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let good = with_root_usage(dir.path(), plugin("root-usage"));
    let mut pipeline = pipeline(&good);
    // The same component with a memory limit too small for real events: its shipped
    // fixtures (a few small events each) pass the canary; production events, each with
    // thousands of fields, fail even one at a time, so splitting the batch cannot help.
    let mut starved = good.clone();
    starved.plugins[0].limits.memory_bytes = 2 * 1024 * 1024;
    // Batches of 64 whatever their bytes, so the count below is exact.
    starved.max_batch_bytes = 64 << 20;
    let report = pipeline.reload(&starved).unwrap();
    assert_eq!(report.swapped, ["root-usage"], "{report:?}");
    let big = |i: usize| {
        let mut event = root_event(i);
        let fields: serde_json::Map<String, serde_json::Value> =
            (0..20_000).map(|k| (format!("k{k}"), json!(0))).collect();
        event["requestParameters"] = serde_json::Value::Object(fields);
        event
    };
    // Two batches of heavy events (both fail: rolled back), then ordinary ones for the
    // restored version.
    for i in 0..200 {
        let event = if i < 2 * 64 { big(i) } else { root_event(i) };
        for item in normalize_value(event, &Options::default()) {
            pipeline.ingest(item, "after-swap").unwrap();
        }
    }
    pipeline.flush().unwrap();
    let failures = pipeline.stats().plugin_failures["root-usage"]["memory_exhausted"];
    assert_eq!(
        failures,
        2,
        "rolled back after two failures: {:?}",
        pipeline.stats()
    );
    let lifecycle = pipeline.audit().lifecycle(20).unwrap();
    assert!(
        lifecycle.iter().any(|e| e.event == "rolled_back"),
        "{lifecycle:?}"
    );
    assert!(
        !pipeline.plugin_states()[0].1,
        "the restored version serves"
    );
    assert_eq!(pipeline.plugins()[0].limits, good.plugins[0].limits);
    // Everything after the rollback was handled by the restored version.
    assert_eq!(
        pipeline.stats().findings["root-usage"] as usize,
        200 - 2 * 64
    );
}

/// Issue 13: events padded so that a whole batch overflows the plugin's memory must not
/// hide the real events among them, nor count against the plugin.
#[test]
fn padded_events_neither_hide_their_neighbours_nor_quarantine_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = with_root_usage(dir.path(), plugin("root-usage"));
    // Enough for any one event, not for a batch of 64 padded ones.
    config.plugins[0].limits.memory_bytes = 4 * 1024 * 1024;
    config.lifecycle.quarantine_after = 2;
    let mut pipeline = pipeline(&config);
    let padded = |i: usize| {
        let mut event = root_event(i);
        event["requestParameters"] = json!({"padding": "x".repeat(100 * 1024)});
        event
    };
    for i in 0..640 {
        for item in normalize_value(padded(i), &Options::default()) {
            pipeline.ingest(item, "padding").unwrap();
        }
    }
    pipeline.flush().unwrap();
    let stats = pipeline.stats();
    assert_eq!(
        stats.findings["root-usage"], 640,
        "every event detected: {stats:?}"
    );
    assert!(!pipeline.plugin_states()[0].1, "not quarantined");
    let lifecycle = pipeline.audit().lifecycle(50).unwrap();
    assert!(
        !lifecycle.iter().any(|e| e.event == "quarantined"),
        "{lifecycle:?}"
    );
}
