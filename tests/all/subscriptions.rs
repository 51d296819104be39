//! Subscriptions that depend on a plugin's config: `describe` runs with the admin's config,
//! so `sigma` subscribes to what its rules can match and `keys-secrets` to its scanners'
//! user agents; a reload with another config describes the plugin again; a fixture with its
//! own config is routed by the patterns of that config; and on the corpus and Panther's
//! test events the narrowed subscriptions raise exactly the findings that subscribing to
//! every event raises.

use std::collections::BTreeSet;

use cloudtrail_normalize::{normalize_value, Item, Options};
use serde_json::{json, Value};
use trailwarden::audit::FindingQuery;
use trailwarden::config::PluginConfig;
use trailwarden::fixture::{self, Fixture};
use trailwarden::runtime::{HostStores, PluginRuntime};

use crate::support::{config, corpus, corpus_records, pipeline, plugin, plugin_config};

/// Every CloudTrail event: what `sigma` subscribed to before its subscription followed its
/// rules.
const EVERYTHING: &str = r#"{"detail-type":[{"suffix":"via CloudTrail"}]}"#;

fn sigma_rule(id: &str, source: &str, name: &str) -> Value {
    json!({"path": format!("{name}.yml"), "text": format!(
        "title: {name} called\nid: {id}\nlogsource:\n  product: aws\n  service: cloudtrail\n\
         detection:\n  selection:\n    eventSource: {source}\n    eventName: {name}\n  \
         condition: selection\nlevel: high\n")})
}

const DELETE_BUCKET_RULE: &str = "0b7c3d0e-1111-4c2a-9d1e-000000000001";
const CREATE_USER_RULE: &str = "0b7c3d0e-1111-4c2a-9d1e-000000000002";

fn sigma_with(rule: Value) -> PluginConfig {
    let mut config = plugin_config(plugin("sigma"));
    config.settings_json = json!({ "rules": [rule] }).to_string();
    config
}

fn delete_bucket() -> Value {
    sigma_rule(DELETE_BUCKET_RULE, "s3.amazonaws.com", "DeleteBucket")
}

fn create_user() -> Value {
    sigma_rule(CREATE_USER_RULE, "iam.amazonaws.com", "CreateUser")
}

fn record(id: &str, source: &str, name: &str) -> Value {
    json!({"eventVersion": "1.08", "eventID": id, "eventTime": "2026-11-20T09:00:00Z",
        "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
        "eventType": "AwsApiCall", "recipientAccountId": "123456789012",
        "sourceIPAddress": "198.51.100.7",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice",
                         "accountId": "123456789012", "userName": "alice"}})
}

#[test]
fn sigma_subscribes_to_its_configured_rules_and_a_reload_describes_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let first = config(dir.path(), vec![sigma_with(delete_bucket())]);
    let mut pipeline = pipeline(&first);
    let patterns = pipeline.plugins()[0].patterns.clone();
    assert_eq!(patterns.len(), 1, "{patterns:?}");
    assert!(patterns[0].contains("deletebucket"), "{patterns:?}");
    assert!(!patterns.iter().any(|p| p == EVERYTHING), "{patterns:?}");

    let ingest = |pipeline: &mut trailwarden::pipeline::Pipeline, records: Vec<Value>| {
        for record in records {
            for item in normalize_value(record, &Options::default()) {
                pipeline.ingest(item, "test").unwrap();
            }
        }
        pipeline.flush().unwrap();
    };
    ingest(
        &mut pipeline,
        vec![
            record("before-1", "s3.amazonaws.com", "DeleteBucket"),
            record("before-2", "iam.amazonaws.com", "CreateUser"),
        ],
    );
    // The CreateUser call is not even routed to sigma: one event went to the plugin.
    assert_eq!(pipeline.stats().matched.get("sigma"), Some(&1));

    let second = config(dir.path(), vec![sigma_with(create_user())]);
    let report = pipeline.reload(&second).unwrap();
    assert_eq!(report.swapped, ["sigma"], "{report:?}");
    let patterns = pipeline.plugins()[0].patterns.clone();
    assert!(patterns[0].contains("createuser"), "{patterns:?}");
    ingest(
        &mut pipeline,
        vec![
            record("after-1", "s3.amazonaws.com", "DeleteBucket"),
            record("after-2", "iam.amazonaws.com", "CreateUser"),
        ],
    );

    let raised: BTreeSet<(String, String)> = pipeline
        .audit()
        .findings(&FindingQuery::default())
        .unwrap()
        .into_iter()
        .map(|f| (f.event_id, f.rule_id))
        .collect();
    assert_eq!(
        raised,
        BTreeSet::from([
            ("before-1".into(), format!("sigma.{DELETE_BUCKET_RULE}")),
            ("after-2".into(), format!("sigma.{CREATE_USER_RULE}")),
        ])
    );
}

#[test]
fn a_fixture_with_its_own_config_is_routed_by_the_patterns_of_that_config() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = PluginRuntime::new(cache.path(), HostStores::in_memory().unwrap()).unwrap();
    // The admin's sigma runs the DeleteBucket rule; the fixture brings the CreateUser one.
    let loaded = runtime.load(&sigma_with(delete_bucket())).unwrap();
    let fixture: Fixture = fixture::parse(
        &json!({
            "name": "create user, with the fixture's own rule",
            "config": {"rules": [create_user()]},
            "events": [record("fixture-1", "iam.amazonaws.com", "CreateUser")],
            "findings": [{"rule_id": format!("sigma.{CREATE_USER_RULE}"), "event_id": "fixture-1"}],
        })
        .to_string(),
    )
    .unwrap();
    let outcome = fixture::run(&runtime, &loaded, &fixture);
    assert!(outcome.passed(), "{:?}", outcome.differences);
    // With the admin's config the same event is not routed at all.
    let admins = fixture::findings_for(
        &runtime,
        &loaded,
        &[record("fixture-1", "iam.amazonaws.com", "CreateUser")],
    )
    .unwrap();
    assert!(admins.is_empty(), "{admins:?}");
    // A config whose patterns the admin overrode keeps the override for fixtures too.
    let mut overridden = sigma_with(delete_bucket());
    overridden.patterns_override = Some(vec![EVERYTHING.to_owned()]);
    let loaded = runtime.load(&overridden).unwrap();
    let patterns = loaded
        .patterns_with_config(&runtime, &json!({"rules": [create_user()]}).to_string())
        .unwrap();
    assert_eq!(patterns, [EVERYTHING]);
}

/// The corpus's records and Panther's test events, as bare records with distinct ids (each
/// normalised once, so the runs below never meet a shape they would refuse).
fn every_test_record() -> Vec<Value> {
    let panther = std::fs::read_to_string(corpus("panther/panther_cloudtrail_tests.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["event"].take())
        .collect::<Vec<_>>();
    let mut records = Vec::new();
    for input in corpus_records().into_iter().map(|(_, r)| r).chain(panther) {
        for item in normalize_value(input, &Options::default()) {
            if let Item::Event(event) = item {
                // Panther's tests reuse ids: each record gets its own.
                let mut record: Value = serde_json::from_str(&event.raw_json()).unwrap();
                record["eventID"] = json!(format!("test-record-{}", records.len()));
                records.push(record);
            }
        }
    }
    records
}

/// (rule, event, dedup key) of what `config` raises over `records`, in batches of 64 on
/// one fresh state.
fn finding_set(
    runtime: &PluginRuntime,
    config: &PluginConfig,
    records: &[Value],
) -> BTreeSet<(String, String, String)> {
    let loaded = runtime.load(config).unwrap();
    let alone = runtime.scratch().unwrap();
    let mut set = BTreeSet::new();
    for batch in records.chunks(64) {
        for f in fixture::findings_for(&alone, &loaded, batch).unwrap() {
            set.insert((f.rule_id, f.event_id, f.dedup_key));
        }
    }
    set
}

#[test]
fn narrowed_subscriptions_raise_what_subscribing_to_everything_raises() {
    let records = every_test_record();
    assert!(records.len() > 600, "{}", records.len());
    let cache = tempfile::tempdir().unwrap();
    let runtime = PluginRuntime::new(cache.path(), HostStores::in_memory().unwrap()).unwrap();
    for name in ["sigma", "keys-secrets", "service-watch"] {
        let mut config = plugin_config(plugin(name));
        // keys-secrets' bursts at 1, so every counted call shows in the comparison.
        if name == "keys-secrets" {
            config.settings_json =
                json!({"access_denied_threshold": 1, "secret_read_threshold": 1}).to_string();
        }
        let narrowed = finding_set(&runtime, &config, &records);
        let own = runtime.load(&config).unwrap().patterns;
        assert!(!own.iter().any(|p| p == EVERYTHING), "{name}: {own:?}");
        config.patterns_override = Some(vec![EVERYTHING.to_owned()]);
        let everything = finding_set(&runtime, &config, &records);
        println!(
            "{name}: {} findings over {} records, {} patterns",
            narrowed.len(),
            records.len(),
            own.len()
        );
        assert!(!narrowed.is_empty(), "{name} raised nothing");
        assert_eq!(
            narrowed
                .symmetric_difference(&everything)
                .collect::<Vec<_>>(),
            Vec::<&(String, String, String)>::new(),
            "{name}: the narrowed subscription changes the findings"
        );
    }
}

#[test]
fn service_watch_is_routed_failed_calls_only_where_attempts_count() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = PluginRuntime::new(cache.path(), HostStores::in_memory().unwrap()).unwrap();
    let patterns = runtime
        .load(&plugin_config(plugin("service-watch")))
        .unwrap()
        .patterns;
    let mut set = event_pattern::PatternSet::new();
    for (id, pattern) in (0..).zip(&patterns) {
        set.add_json(id, pattern).unwrap();
    }
    let routed = |record: Value| {
        let mut items = normalize_value(record, &Options::default());
        let Some(Item::Event(event)) = items.pop() else {
            panic!("not an event: {items:?}");
        };
        !set.matching_ids(&event.envelope()).is_empty()
    };
    let policy_attached = |error_code: Option<Value>| {
        let mut call = record("e1", "iam.amazonaws.com", "AttachUserPolicy");
        if let Some(code) = error_code {
            call["errorCode"] = code;
        }
        call
    };
    // A change without an error code, or with a null or empty one, succeeded.
    assert!(routed(policy_attached(None)));
    assert!(routed(policy_attached(Some(Value::Null))));
    assert!(routed(policy_attached(Some(json!("")))));
    // A failed change counts for none of its rules: it is not routed at all.
    assert!(!routed(policy_attached(Some(json!("AccessDenied")))));
    // Password data reads count failed or not: a burst of attempts is the signal.
    let mut read = record("e2", "ec2.amazonaws.com", "GetPasswordData");
    read["errorCode"] = json!("Client.UnauthorizedOperation");
    assert!(routed(read));
}
