//! First-seen detection (WIT 0.4.0 `history`) through the real host: the shipped
//! `first-seen` plugin over real corpus records re-timed into a week of history, replayed
//! one event per batch so that each is answered at its own event time.

use std::time::{Duration, SystemTime};

use cloudtrail_normalize::{normalize_value, Options};
use serde_json::{json, Value};
use trailwarden::audit::FindingQuery;
use trailwarden::config::PluginConfig;
use trailwarden::pipeline::Pipeline;

use crate::support::{config, corpus_records, pipeline, plugin, plugin_config};

const DAY: u64 = 86_400;
const PLUGIN: &str = "first-seen";

/// The corpus record of the AWS CloudTrail User Guide's `eventName` example by IAM user
/// Alice (awsdocs, via records.jsonl).
fn alice_record(event_name: &str) -> Value {
    corpus_records()
        .into_iter()
        .map(|(_, record)| record)
        .find(|r| r["eventName"] == event_name && r["userIdentity"]["userName"] == "Alice")
        .unwrap_or_else(|| panic!("the corpus has Alice's {event_name}"))
}

/// `record` re-timed to `at` with a fresh event id.
fn retimed(record: &Value, at: SystemTime, id: &str) -> Value {
    let mut record = record.clone();
    record["eventTime"] = json!(humantime::format_rfc3339_seconds(at).to_string());
    record["eventID"] = json!(id);
    record["recipientAccountId"] = json!("123456789012");
    record
}

fn first_seen_plugin(settings: Value) -> PluginConfig {
    let mut config = plugin_config(plugin(PLUGIN));
    config.settings_json = settings.to_string();
    config
}

/// A pipeline running one event per batch (each batch at its own event time).
fn one_per_batch(dir: &std::path::Path, plugin: PluginConfig) -> Pipeline {
    let mut config = config(dir, vec![plugin]);
    config.batch_size = 1;
    pipeline(&config)
}

fn replay(pipeline: &mut Pipeline, records: Vec<Value>) {
    for record in records {
        for item in normalize_value(record, &Options::default()) {
            pipeline.ingest(item, "retimed").unwrap();
        }
    }
    pipeline.flush().unwrap();
}

fn findings(pipeline: &Pipeline) -> Vec<(String, String)> {
    pipeline
        .audit()
        .findings(&FindingQuery::default())
        .unwrap()
        .into_iter()
        .map(|f| (f.rule_id, f.event_id))
        .collect()
}

#[test]
fn after_a_week_of_history_a_first_call_raises_exactly_one_finding_and_learning_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut pipeline = one_per_batch(
        dir.path(),
        first_seen_plugin(json!({"learning_days": 1, "window_days": 30})),
    );
    let add_to_group = alice_record("AddUserToGroup");
    let create_user = alice_record("CreateUser");
    let start = SystemTime::now() - Duration::from_secs(8 * DAY);
    let mut week = Vec::new();
    // Day 0 is the account's learning day: Alice's calls there, even a first DeleteGroup,
    // are learnt, not new.
    let mut delete_group = add_to_group.clone();
    delete_group["eventName"] = json!("DeleteGroup");
    week.push(retimed(
        &delete_group,
        start + Duration::from_secs(3600),
        "learn-delete",
    ));
    // Then a week of daily AddUserToGroup calls.
    for day in 0..7 {
        let at = start + Duration::from_secs(day * DAY + 7200);
        week.push(retimed(&add_to_group, at, &format!("history-{day}")));
    }
    replay(&mut pipeline, week);
    assert_eq!(
        findings(&pipeline),
        Vec::new(),
        "learning and history raise nothing"
    );

    // Day 7: a first CreateUser, then the same call again, and a known call.
    let day7 = start + Duration::from_secs(7 * DAY + 36_000);
    replay(
        &mut pipeline,
        vec![
            retimed(&create_user, day7, "first-create"),
            retimed(
                &create_user,
                day7 + Duration::from_secs(600),
                "second-create",
            ),
            retimed(&add_to_group, day7 + Duration::from_secs(1200), "known-add"),
            retimed(
                &delete_group,
                day7 + Duration::from_secs(1800),
                "known-delete",
            ),
        ],
    );
    assert_eq!(
        findings(&pipeline),
        vec![(
            "aws.iam.first-write-by-principal".to_string(),
            "first-create".to_string()
        )]
    );
    let stored = pipeline.runtime().history().stored_rows(PLUGIN).unwrap();
    assert_eq!(
        stored, 3,
        "three tuples: DeleteGroup, AddUserToGroup, CreateUser"
    );
}

#[test]
fn the_history_survives_a_restart_on_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    let create_user = alice_record("CreateUser");
    let at = SystemTime::now() - Duration::from_secs(DAY);
    let settings = json!({"learning_days": 0});
    {
        let mut first = one_per_batch(dir.path(), first_seen_plugin(settings.clone()));
        replay(
            &mut first,
            vec![retimed(&create_user, at, "before-restart")],
        );
        assert_eq!(findings(&first).len(), 1);
    }
    let mut second = one_per_batch(dir.path(), first_seen_plugin(settings));
    replay(
        &mut second,
        vec![retimed(
            &create_user,
            at + Duration::from_secs(60),
            "after-restart",
        )],
    );
    assert_eq!(
        findings(&second),
        vec![(
            "aws.iam.first-write-by-principal".to_string(),
            "before-restart".to_string()
        )],
        "the same call after a restart is not new"
    );
}

#[test]
fn a_flood_of_distinct_tuples_stays_within_the_plugins_history_quota() {
    let dir = tempfile::tempdir().unwrap();
    let mut plugin = first_seen_plugin(json!({"learning_days": 0}));
    plugin.limits.history.max_rows = 100;
    let mut config = config(dir.path(), vec![plugin]);
    config.batch_size = 64;
    let mut pipeline = crate::support::pipeline(&config);
    let create_user = alice_record("CreateUser");
    let at = SystemTime::now() - Duration::from_secs(DAY);
    let flood: Vec<Value> = (0..2000)
        .map(|n| {
            let mut record = retimed(&create_user, at, &format!("flood-{n}"));
            record["userIdentity"]["arn"] = json!(format!("arn:aws:iam::123456789012:user/u{n}"));
            record["userIdentity"]["userName"] = json!(format!("u{n}"));
            record
        })
        .collect();
    replay(&mut pipeline, flood);
    let history = pipeline.runtime().history();
    let stored = history.stored_rows(PLUGIN).unwrap();
    assert!(stored <= 100, "{stored} rows held past the quota of 100");
    assert!(
        history.evicted(PLUGIN) >= 1900,
        "evicted {}",
        history.evicted(PLUGIN)
    );
    // The plugin kept working: every distinct tuple was new, none failed.
    assert_eq!(findings(&pipeline).len(), 2000);
    assert!(
        pipeline.stats().plugin_failures.is_empty(),
        "{:?}",
        pipeline.stats().plugin_failures
    );
}

#[test]
fn a_component_asking_its_history_is_0_4_0_and_older_ones_load_unchanged() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = trailwarden::runtime::PluginRuntime::new(
        cache.path(),
        trailwarden::state::StateStore::in_memory().unwrap(),
    )
    .unwrap();
    let version = |name: &str| {
        let loaded = runtime.load(&plugin_config(plugin(name))).unwrap();
        (loaded.contract_version(), loaded.imports.clone())
    };
    let (first_seen, imports) = version(PLUGIN);
    assert_eq!(first_seen, "0.4.0");
    assert!(
        imports.contains(&"trailwarden:plugin/history@0.4.0".to_string()),
        "{imports:?}"
    );
    let (root_usage, imports) = version("root-usage");
    assert_eq!(root_usage, "0.3.0");
    assert!(
        !imports.iter().any(|i| i.contains("history")),
        "{imports:?}"
    );
    let legacy = runtime
        .load(&plugin_config(crate::support::guest("legacy-v010")))
        .unwrap();
    assert_eq!(legacy.contract_version(), "0.1.0");
}
