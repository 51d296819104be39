//! Hostile plugins are stopped and recorded; the well-behaved ones beside them raise the
//! same findings as when they run alone.

use std::collections::BTreeSet;

use cloudtrail_normalize::{normalize_value, Options};
use trailwarden::audit::{AuditTable, FindingQuery};
use trailwarden::config::PluginConfig;
use trailwarden::pipeline::Pipeline;

use crate::support::{config, corpus_records, guest, pipeline, plugin, plugin_config};

const WELL_BEHAVED: [&str; 3] = ["root-usage", "cloudtrail-tampering", "console-no-mfa"];

fn replay_corpus(pipeline: &mut Pipeline) {
    for (_, record) in corpus_records() {
        for item in normalize_value(record, &Options::default()) {
            pipeline.ingest(item, "corpus").unwrap();
        }
    }
    pipeline.flush().unwrap();
}

/// (plugin, rule, event) of every finding recorded, for comparing runs.
fn recorded_findings(pipeline: &Pipeline) -> BTreeSet<(String, String, String)> {
    pipeline
        .audit()
        .findings(&FindingQuery::default())
        .unwrap()
        .into_iter()
        .map(|f| (f.plugin, f.rule_id, f.event_id))
        .collect()
}

fn well_behaved() -> Vec<PluginConfig> {
    WELL_BEHAVED
        .iter()
        .map(|name| plugin_config(plugin(name)))
        .collect()
}

#[test]
fn hostile_plugins_are_stopped_while_the_others_keep_producing_findings() {
    let alone_dir = tempfile::tempdir().unwrap();
    let mut alone = pipeline(&config(alone_dir.path(), well_behaved()));
    replay_corpus(&mut alone);
    let findings_alone = recorded_findings(&alone);
    assert!(
        findings_alone.iter().any(|(p, _, _)| p == "root-usage"),
        "the corpus has root activity: {findings_alone:?}"
    );

    let mut looper = plugin_config(guest("infinite-loop"));
    looper.limits.cpu_deadline_ms = 200;
    let mut hog = plugin_config(guest("memory-hog"));
    hog.limits.memory_bytes = 16 * 1024 * 1024;
    let trap = plugin_config(guest("trap"));
    let flood = plugin_config(guest("flood"));
    let mut plugins = vec![looper, hog, trap, flood];
    plugins.extend(well_behaved());

    let dir = tempfile::tempdir().unwrap();
    let mut mixed = pipeline(&config(dir.path(), plugins));
    replay_corpus(&mut mixed);

    assert_eq!(recorded_findings(&mixed), findings_alone);
    let failures = &mixed.stats().plugin_failures;
    let kinds = |name: &str| -> Vec<String> {
        failures
            .get(name)
            .map(|k| k.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(kinds("infinite-loop"), ["timeout"]);
    assert_eq!(kinds("memory-hog"), ["memory_exhausted"]);
    assert_eq!(kinds("trap"), ["trap"]);
    let flood_kinds = kinds("flood");
    assert!(
        flood_kinds == ["memory_exhausted"] || flood_kinds == ["output_too_large"],
        "the flood of findings is stopped: {flood_kinds:?}"
    );
    for name in WELL_BEHAVED {
        assert!(failures.get(name).is_none(), "{name} failed: {failures:?}");
    }
    // Every failed batch is in the audit store, with the events it did not handle.
    let recorded: u64 = mixed
        .audit()
        .count_by(AuditTable::PluginFailures, "plugin")
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    let counted: u64 = failures.values().flat_map(|k| k.values()).sum();
    // A failed batch split to find the events it fails on is recorded part by part (each
    // part with its own event ids), and counted once.
    assert!(
        recorded >= counted,
        "{recorded} rows for {counted} failed batches"
    );
    assert!(counted >= 4);
}

/// Runs the corpus through one hostile guest beside root-usage; returns the pipeline.
fn beside_root_usage(guest_config: PluginConfig, dir: &std::path::Path) -> Pipeline {
    let mut pipeline = pipeline(&config(
        dir,
        vec![guest_config, plugin_config(plugin("root-usage"))],
    ));
    replay_corpus(&mut pipeline);
    pipeline
}

fn contexts(pipeline: &Pipeline, plugin: &str) -> Vec<serde_json::Value> {
    pipeline
        .audit()
        .findings(&FindingQuery {
            plugin: Some(plugin.into()),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|f| f.context.value().clone())
        .collect()
}

#[test]
fn deep_recursion_huge_output_and_floods_are_stopped_with_their_reason() {
    let alone_dir = tempfile::tempdir().unwrap();
    let mut alone = pipeline(&config(
        alone_dir.path(),
        vec![plugin_config(plugin("root-usage"))],
    ));
    replay_corpus(&mut alone);
    let root_alone = recorded_findings(&alone);

    for (name, expected) in [
        ("deep-recursion", "stack_overflow"),
        ("huge-strings", "output_too_large"),
        ("flood-per-event", "output_too_large"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        // The deadline is wall time: a generous one, so a loaded machine cannot turn the
        // failure under test into a timeout.
        let mut guest_config = plugin_config(guest(name));
        guest_config.limits.cpu_deadline_ms = 60_000;
        let mixed = beside_root_usage(guest_config, dir.path());
        let kinds: Vec<&String> = mixed.stats().plugin_failures[name].keys().collect();
        assert_eq!(
            kinds,
            [expected],
            "{name}: {:?}",
            mixed.stats().plugin_failures
        );
        assert!(!mixed.stats().findings.contains_key(name));
        assert_eq!(
            recorded_findings(&mixed),
            root_alone,
            "{name} disturbed root-usage"
        );
    }
}

#[test]
fn ungranted_capability_calls_are_denied_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = beside_root_usage(plugin_config(guest("ungranted-calls")), dir.path());
    let contexts = contexts(&pipeline, "ungranted-calls");
    assert!(!contexts.is_empty());
    for context in &contexts {
        for call in ["quarantine", "delete_access_key", "notify"] {
            let receipt = context[call].as_str().unwrap_or_default();
            assert!(receipt.starts_with("denied"), "{call}: {context}");
        }
    }
    // Every denial is in the outbox with its reason; nothing was accepted.
    let actions = pipeline.outbox().list(None, None).unwrap();
    assert!(!actions.is_empty());
    assert!(actions.iter().all(|a| a.status == "denied"
        && a.reason
            .as_deref()
            .is_some_and(|r| r.contains("not granted"))));
}

#[test]
fn a_guest_sees_no_files_environment_or_network() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = beside_root_usage(plugin_config(guest("wasi-probe")), dir.path());
    let contexts = contexts(&pipeline, "wasi-probe");
    assert!(!contexts.is_empty());
    for probe in &contexts {
        assert_eq!(probe["env_count"], 0, "{probe}");
        assert_eq!(probe["args_count"], 0, "{probe}");
        assert!(probe["home"].is_null(), "{probe}");
        for denied in ["passwd", "dot", "root", "tcp"] {
            assert!(
                probe[denied]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("error"),
                "{denied}: {probe}"
            );
        }
    }
}

#[test]
fn every_batch_starts_on_fresh_memory_however_slots_are_reused() {
    // One event per batch: the guest's slot serves a new instance for each, its memory
    // reset in place (the pages kept resident) or given back; with two workers, two slots.
    for workers in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path(), vec![plugin_config(guest("memory-probe"))]);
        config.batch_size = 1;
        config.workers = workers;
        let mut pipeline = pipeline(&config);
        replay_corpus(&mut pipeline);
        let stats = pipeline.stats();
        let batches = stats.matched["memory-probe"];
        assert!(batches > 50, "{batches}");
        assert_eq!(
            stats.findings["memory-probe"], batches,
            "a finding per batch"
        );
        // Recorded once per event id (the corpus holds some records in several shapes).
        let contexts = contexts(&pipeline, "memory-probe");
        assert!(contexts.len() > 50, "{}", contexts.len());
        let fresh = serde_json::json!({"batches_before": 0, "seeded_intact": true,
            "static_marks": 0, "heap_marks": 0});
        for probe in &contexts {
            assert_eq!(probe, &fresh, "with {workers} worker(s)");
        }
    }
}

/// A CloudTrail record whose `eventName` is one of the sleeper guest's markers.
fn marked_record(marker: &str) -> serde_json::Value {
    serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "accountId": "111122223333",
                         "arn": "arn:aws:iam::111122223333:user/alice", "userName": "alice"},
        "eventTime": "2024-05-02T10:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": marker,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "eventID": format!("marked-{marker}"),
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333"
    })
}

#[test]
fn a_guest_blocking_inside_wasi_is_stopped_at_its_deadline_as_a_timeout() {
    let alone_dir = tempfile::tempdir().unwrap();
    let mut alone = pipeline(&config(
        alone_dir.path(),
        vec![plugin_config(plugin("root-usage"))],
    ));
    replay_corpus(&mut alone);
    let root_alone = recorded_findings(&alone);
    assert!(!root_alone.is_empty());

    // An hour's sleep, endless 5 ms naps, endless reads of stdin: each in the first batch.
    for marker in [
        "TrailwardenTestSleep",
        "TrailwardenTestNap",
        "TrailwardenTestReadStdin",
    ] {
        let mut sleeper = plugin_config(guest("sleeper"));
        sleeper.limits.cpu_deadline_ms = 300;
        let dir = tempfile::tempdir().unwrap();
        let mut mixed = pipeline(&config(
            dir.path(),
            vec![sleeper, plugin_config(plugin("root-usage"))],
        ));
        let started = std::time::Instant::now();
        for item in normalize_value(marked_record(marker), &Options::default()) {
            mixed.ingest(item, "marked").unwrap();
        }
        replay_corpus(&mut mixed);
        // Not a performance bound: the guest asked to block for an hour (or forever).
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(60),
            "{marker}: {took:?}"
        );

        let failures = &mixed.stats().plugin_failures;
        assert_eq!(
            failures
                .get("sleeper")
                .map(|k| k.keys().collect::<Vec<_>>()),
            Some(vec![&"timeout".to_string()]),
            "{marker}: {failures:?}"
        );
        assert_eq!(
            failures["sleeper"]["timeout"], 1,
            "{marker}: only the marked batch"
        );
        assert!(
            failures.get("root-usage").is_none(),
            "{marker}: {failures:?}"
        );
        // The sleeper's other batches ran; root-usage's findings are those it makes alone.
        let mut root_mixed = recorded_findings(&mixed);
        let awake = root_mixed.iter().filter(|(p, _, _)| p == "sleeper").count();
        assert!(awake > 0, "{marker}: the sleeper's unmarked batches ran");
        root_mixed.retain(|(p, _, _)| p != "sleeper");
        assert_eq!(root_mixed, root_alone, "{marker} disturbed root-usage");
        assert_eq!(
            mixed
                .audit()
                .count_by(AuditTable::PluginFailures, "kind")
                .unwrap(),
            [("timeout".to_string(), 1)]
        );
    }
}

#[test]
fn a_guest_filling_its_state_is_stopped_at_its_quota_and_long_errors_are_cut() {
    let alone_dir = tempfile::tempdir().unwrap();
    let mut alone = pipeline(&config(
        alone_dir.path(),
        vec![plugin_config(plugin("root-usage"))],
    ));
    replay_corpus(&mut alone);
    let root_alone = recorded_findings(&alone);

    // One new 1 KiB key per event, against a quota of 100 keys.
    let mut hog = plugin_config(guest("state-hog"));
    hog.limits.state.max_keys = 100;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let mut mixed = pipeline(&config(
        dir.path(),
        vec![hog, plugin_config(plugin("root-usage"))],
    ));
    replay_corpus(&mut mixed);
    let failures = &mixed.stats().plugin_failures;
    assert_eq!(
        failures["state-hog"].keys().collect::<Vec<_>>(),
        ["state_quota_exceeded"],
        "{failures:?}"
    );
    assert!(failures.get("root-usage").is_none(), "{failures:?}");
    assert_eq!(recorded_findings(&mixed), root_alone);
    let state = trailwarden::state::StateStore::open(&db).unwrap();
    assert_eq!(state.stored_rows("state-hog").unwrap(), 100);
    let messages = failure_messages(&db, "state-hog");
    assert!(
        messages[0].contains("state quota exceeded: plugin state-hog holds 100 keys"),
        "{messages:?}"
    );

    // A 1 MiB plugin-error is kept to 4 KiB, marked.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let mut long = pipeline(&config(dir.path(), vec![plugin_config(guest("state-hog"))]));
    for item in normalize_value(
        marked_record("TrailwardenTestLongError"),
        &Options::default(),
    ) {
        long.ingest(item, "marked").unwrap();
    }
    long.flush().unwrap();
    let messages = failure_messages(&db, "state-hog");
    assert_eq!(messages.len(), 1);
    let full = "internal: ".len() + (1 << 20);
    assert!(messages[0].len() < 4096 + 64, "{}", messages[0].len());
    assert!(
        messages[0].ends_with(&format!("... [truncated: {full} bytes in all]")),
        "{}",
        &messages[0][messages[0].len() - 60..]
    );
}

/// The messages of a plugin's recorded failures, oldest first.
fn failure_messages(db: &std::path::Path, plugin: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT message FROM plugin_failures WHERE plugin = ?1 ORDER BY id")
        .unwrap();
    let rows = stmt.query_map([plugin], |row| row.get(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}
