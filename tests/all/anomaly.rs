//! First-seen detection (WIT 0.4.0 `history`) and rate baselines (WIT 0.5.0 `baseline`)
//! through the real host: the shipped `anomaly` plugin over real corpus records re-timed
//! into a week of history, replayed one event per batch so that each is answered at its own
//! event time.

use std::time::{Duration, SystemTime};

use cloudtrail_normalize::{normalize_value, Options};
use serde_json::{json, Value};
use trailwarden::audit::FindingQuery;
use trailwarden::config::PluginConfig;
use trailwarden::pipeline::Pipeline;

use crate::support::{config, corpus_records, pipeline, plugin, plugin_config};

const DAY: u64 = 86_400;
const PLUGIN: &str = "anomaly";
const FIRST_IAM_WRITE: &str = "aws.iam.first-write-by-principal";

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

fn anomaly_plugin(settings: Value) -> PluginConfig {
    let mut config = plugin_config(plugin(PLUGIN));
    config.settings_json = settings.to_string();
    config
}

/// The plugin with only its first-seen IAM rule (Alice's records would also be her first
/// service, user agent...: other rules, other tests).
fn first_iam_write_plugin(mut settings: Value) -> PluginConfig {
    settings["enabled_rules"] = json!([FIRST_IAM_WRITE]);
    anomaly_plugin(settings)
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
        first_iam_write_plugin(json!({"learning_days": 1, "window_days": 30})),
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
        vec![(FIRST_IAM_WRITE.to_string(), "first-create".to_string())]
    );
    let stored = pipeline
        .runtime()
        .stores()
        .history()
        .stored_rows(PLUGIN)
        .unwrap();
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
        let mut first = one_per_batch(dir.path(), first_iam_write_plugin(settings.clone()));
        replay(
            &mut first,
            vec![retimed(&create_user, at, "before-restart")],
        );
        assert_eq!(findings(&first).len(), 1);
    }
    let mut second = one_per_batch(dir.path(), first_iam_write_plugin(settings));
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
        vec![(FIRST_IAM_WRITE.to_string(), "before-restart".to_string())],
        "the same call after a restart is not new"
    );
}

#[test]
fn a_flood_of_distinct_tuples_stays_within_the_plugins_history_quota() {
    let dir = tempfile::tempdir().unwrap();
    let mut plugin = first_iam_write_plugin(json!({"learning_days": 0}));
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
    let history = pipeline.runtime().stores().history();
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
fn a_component_asking_its_baseline_is_0_5_0_and_older_ones_load_unchanged() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = trailwarden::runtime::PluginRuntime::new(
        cache.path(),
        trailwarden::runtime::HostStores::in_memory().unwrap(),
    )
    .unwrap();
    let version = |name: &str| {
        let loaded = runtime.load(&plugin_config(plugin(name))).unwrap();
        (loaded.contract_version(), loaded.imports.clone())
    };
    let (anomaly, imports) = version(PLUGIN);
    assert_eq!(anomaly, "0.5.0");
    for import in [
        "trailwarden:plugin/history@0.4.0",
        "trailwarden:plugin/baseline@0.5.0",
    ] {
        assert!(imports.contains(&import.to_string()), "{imports:?}");
    }
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

const CALL_BURST: &str = "aws.principal.call-rate-burst";
const SENSITIVE_FIRST_CALL: &str = "aws.api.sensitive-first-call";

/// A console call of IAM user pedro from the corpus (OTRF security datasets), as
/// `event_name` (the record's shape, another API's name).
fn pedro_record(event_name: &str) -> Value {
    let mut record = corpus_records()
        .into_iter()
        .map(|(_, record)| record)
        .find(|r| {
            r["userIdentity"]["userName"] == "pedro"
                && r["eventName"] == "DescribeInstanceStatus"
                && r.get("errorCode").is_none()
        })
        .expect("the corpus has pedro's DescribeInstanceStatus");
    record["eventName"] = json!(event_name);
    record
}

/// `record` as IAM user `user` of the same account.
fn as_user(record: &Value, user: &str) -> Value {
    let mut record = record.clone();
    let arn = record["userIdentity"]["arn"]
        .as_str()
        .unwrap()
        .replace("user/pedro", &format!("user/{user}"));
    record["userIdentity"]["arn"] = json!(arn);
    record["userIdentity"]["userName"] = json!(user);
    record
}

/// `count` calls of `record` within one minute from `at`, one second apart.
fn burst(record: &Value, at: SystemTime, count: u64, label: &str) -> Vec<Value> {
    (0..count)
        .map(|n| retimed(record, at + Duration::from_secs(n), &format!("{label}-{n}")))
        .collect()
}

/// The start of a minute of event time, `days` and `seconds` after `start`.
fn minute_at(start: SystemTime, days: u64, seconds: u64) -> SystemTime {
    let at = start + Duration::from_secs(days * DAY + seconds);
    let since_epoch = at.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    SystemTime::UNIX_EPOCH + Duration::from_secs(since_epoch - since_epoch % 60)
}

#[test]
fn a_call_rate_burst_raises_one_finding_per_incident_and_none_while_learning() {
    let dir = tempfile::tempdir().unwrap();
    let mut pipeline = one_per_batch(
        dir.path(),
        anomaly_plugin(json!({
            "enabled_rules": [CALL_BURST],
            "rate_learning_days": 1,
            "rate_history_days": 7,
            "call_burst_min": 20,
        })),
    );
    let call = pedro_record("DescribeInstanceStatus");
    let start = SystemTime::now() - Duration::from_secs(8 * DAY);
    // Day 0: pedro's key is learning, so even a burst of 30 calls in a minute is not one.
    let mut records = burst(&call, minute_at(start, 0, 600), 30, "learning-burst");
    // Then a week of one call an hour: pedro's baseline is quiet.
    for hour in 2..(7 * 24) {
        records.push(retimed(
            &call,
            start + Duration::from_secs(hour * 3600 + 120),
            &format!("hourly-{hour}"),
        ));
    }
    replay(&mut pipeline, records);
    assert_eq!(findings(&pipeline), Vec::new(), "learning and a quiet week");

    // Day 7: a burst of 30 calls in a minute, quiet, then another burst an hour later.
    let mut records = burst(&call, minute_at(start, 7, 1800), 30, "burst-a");
    records.extend(burst(&call, minute_at(start, 7, 5400), 30, "burst-b"));
    replay(&mut pipeline, records);
    let mut raised = findings(&pipeline);
    raised.sort();
    assert_eq!(
        raised,
        vec![
            (CALL_BURST.to_string(), "burst-a-19".to_string()),
            (CALL_BURST.to_string(), "burst-b-19".to_string()),
        ],
        "one finding per burst, at its 20th call (the minimum count)"
    );
    let finding = &pipeline.audit().findings(&FindingQuery::default()).unwrap()[0];
    let context = &finding.context;
    assert_eq!(context["count_this_minute"], 20);
    assert!(
        context["mean_per_minute"].as_f64().unwrap() < 0.1,
        "{context}"
    );
    assert!(
        pipeline.stats().plugin_failures.is_empty(),
        "{:?}",
        pipeline.stats().plugin_failures
    );
}

#[test]
fn with_every_rule_a_week_of_history_then_a_first_sensitive_call_raises_exactly_one_finding() {
    let dir = tempfile::tempdir().unwrap();
    let mut pipeline = one_per_batch(
        dir.path(),
        anomaly_plugin(json!({"learning_days": 1, "rate_learning_days": 1})),
    );
    let start = SystemTime::now() - Duration::from_secs(8 * DAY);
    // A week of pedro's console calls, among them a sensitive one (DescribeInstanceAttribute,
    // the instance user data) on day 0, the account's learning day: learnt, not new.
    let mut week = vec![retimed(
        &pedro_record("DescribeInstanceAttribute"),
        start + Duration::from_secs(600),
        "learn-user-data",
    )];
    for day in 0..7 {
        for (n, name) in ["DescribeInstanceStatus", "DescribeAddresses"]
            .iter()
            .enumerate()
        {
            week.push(retimed(
                &pedro_record(name),
                start + Duration::from_secs(day * DAY + 3600 + n as u64 * 60),
                &format!("week-{day}-{n}"),
            ));
        }
    }
    replay(&mut pipeline, week);
    assert_eq!(findings(&pipeline), Vec::new(), "learning and history");

    let day7 = start + Duration::from_secs(7 * DAY + 36_000);
    replay(
        &mut pipeline,
        vec![
            retimed(&pedro_record("GetPasswordData"), day7, "first-password"),
            retimed(
                &pedro_record("GetPasswordData"),
                day7 + Duration::from_secs(600),
                "second-password",
            ),
            retimed(
                &pedro_record("DescribeInstanceAttribute"),
                day7 + Duration::from_secs(1200),
                "known-user-data",
            ),
        ],
    );
    assert_eq!(
        findings(&pipeline),
        vec![(
            SENSITIVE_FIRST_CALL.to_string(),
            "first-password".to_string()
        )],
        "the first GetPasswordData, nothing else: same service, region, agent and a quiet rate"
    );
}

#[test]
fn a_flood_of_distinct_principals_stays_within_the_plugins_rate_key_quota() {
    let dir = tempfile::tempdir().unwrap();
    let mut plugin = anomaly_plugin(json!({"enabled_rules": [CALL_BURST]}));
    plugin.limits.history.max_rate_keys = 50;
    let mut config = config(dir.path(), vec![plugin]);
    config.batch_size = 64;
    let mut pipeline = crate::support::pipeline(&config);
    let call = pedro_record("DescribeInstanceStatus");
    let at = SystemTime::now() - Duration::from_secs(DAY);
    let flood: Vec<Value> = (0..2000)
        .map(|n| retimed(&as_user(&call, &format!("u{n}")), at, &format!("flood-{n}")))
        .collect();
    replay(&mut pipeline, flood);
    let rates = pipeline.runtime().stores().history().rates().clone();
    let stored = rates.stored_keys(PLUGIN).unwrap();
    assert!(stored <= 50, "{stored} rate keys held past the quota of 50");
    assert!(
        rates.evicted(PLUGIN) >= 1900,
        "evicted {}",
        rates.evicted(PLUGIN)
    );
    assert!(
        pipeline.stats().plugin_failures.is_empty(),
        "{:?}",
        pipeline.stats().plugin_failures
    );
}

/// A GuardDuty finding as EventBridge delivers it (the shape GuardDuty documents).
fn guardduty_envelope() -> Value {
    json!({
        "version": "0", "id": "gd-envelope-1", "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty", "account": "123456789012", "time": "2024-06-02T20:16:45Z",
        "region": "us-east-1", "resources": [],
        "detail": {
            "schemaVersion": "2.0", "accountId": "123456789012", "region": "us-east-1",
            "partition": "aws", "id": "gd-finding-1",
            "type": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
            "resource": {"resourceType": "AccessKey", "accessKeyDetails": {
                "accessKeyId": "ASIAEXAMPLEEXFILTRATED", "principalId": "AROAEXAMPLE:i-0abc",
                "userType": "AssumedRole", "userName": "app-instance-role"}},
            "service": {"serviceName": "guardduty", "count": 3, "action": {
                "actionType": "AWS_API_CALL", "awsApiCallAction": {"api": "ListBuckets",
                    "serviceName": "s3.amazonaws.com",
                    "remoteIpDetails": {"ipAddressV4": "198.51.100.23"}}}},
            "severity": 8.0, "createdAt": "2024-06-02T20:10:00.000Z",
            "updatedAt": "2024-06-02T20:16:40.000Z",
            "title": "Credentials for instance role app-instance-role used from an external IP address.",
            "description": "Credentials created exclusively for an EC2 instance were used from 198.51.100.23."
        }
    })
}

#[test]
fn insights_and_guardduty_findings_reach_only_the_plugins_that_subscribe_to_them() {
    let dir = tempfile::tempdir().unwrap();
    // sigma subscribes to every detail-type ending in "via CloudTrail", Insights' included
    // by text: the router still keeps signals from it.
    let plugins = vec![
        anomaly_plugin(json!({})),
        plugin_config(plugin("sigma")),
        plugin_config(plugin("root-usage")),
    ];
    let mut pipeline = crate::support::pipeline(&config(dir.path(), plugins));
    let mut inputs: Vec<Value> = corpus_records()
        .into_iter()
        .filter(|(form, _)| form == "insight")
        .map(|(_, record)| record)
        .collect();
    assert_eq!(
        inputs.len(),
        3,
        "the corpus's Insights records: two Start, one End"
    );
    inputs.push(guardduty_envelope());
    replay(&mut pipeline, inputs);
    assert_eq!(pipeline.stats().normalised, 4, "{:?}", pipeline.stats());
    let stored = pipeline.audit().findings(&FindingQuery::default()).unwrap();
    let mut raised: Vec<(String, String, String)> = stored
        .iter()
        .map(|f| (f.plugin.clone(), f.rule_id.clone(), f.event_id.clone()))
        .collect();
    raised.sort();
    assert_eq!(
        raised,
        vec![
            (
                PLUGIN.into(),
                "aws.cloudtrail.insight".into(),
                "EXAMPLE8-9621-4d00-b913-beca2EXAMPLE".into()
            ),
            (
                PLUGIN.into(),
                "aws.cloudtrail.insight".into(),
                "abcd00b0-ccfe-422d-961c-98a2198a408x".into()
            ),
            (
                PLUGIN.into(),
                "aws.guardduty.finding".into(),
                "gd-finding-1".into()
            ),
        ]
    );
    let insight = stored
        .iter()
        .find(|f| f.event_id == "abcd00b0-ccfe-422d-961c-98a2198a408x")
        .unwrap();
    assert_eq!(
        insight.context["top_principals"][0],
        "arn:aws:sts::012345678901:assumed-role/CodeDeployRole1"
    );
    assert_eq!(
        insight.context["top_user_agents"][0],
        "codedeploy.amazonaws.com"
    );
    let guardduty = stored
        .iter()
        .find(|f| f.event_id == "gd-finding-1")
        .unwrap();
    assert_eq!(guardduty.severity, "high");
    assert!(
        pipeline.stats().plugin_failures.is_empty(),
        "{:?}",
        pipeline.stats().plugin_failures
    );
}
