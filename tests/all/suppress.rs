//! Suppressions end to end: `[[suppressions]]` and `trailwarden suppress add|list|remove|log`
//! over the real binary, the real `access-key-other-user` and `root-usage` components, real
//! SQLite, and (for the response) the real AWS SDK against moto's server.

use std::path::Path;

use serde_json::{json, Value};
use trailwarden::audit::{AuditStore, FindingQuery, StoredFinding};

use crate::daemon::{envelope, root_record, trailwarden, write_config, Auth, Daemon};
use crate::moto::ACCOUNT;
use crate::respond::{key_created, write_events, Setup};

fn findings(db: &Path) -> Vec<StoredFinding> {
    AuditStore::open(db)
        .unwrap()
        .findings(&FindingQuery::default())
        .unwrap()
}

fn suppressed_by(findings: &[StoredFinding], event_id: &str) -> Option<String> {
    findings
        .iter()
        .find(|f| f.event_id == event_id)
        .unwrap_or_else(|| panic!("a finding on {event_id} is recorded: {findings:?}"))
        .suppressed_by
        .clone()
}

/// `actor` created a key for `user` from `ip`.
fn key_created_from(id: &str, actor: &str, user: &str, key: &str, ip: &str) -> Value {
    let mut record = key_created(id, ACCOUNT, actor, user, key);
    record["sourceIPAddress"] = json!(ip);
    record
}

#[test]
fn a_suppression_silences_exactly_the_findings_it_matches_and_their_actions_never_run() {
    let setup = Setup::new();
    let dir = tempfile::tempdir().unwrap();
    let bob = setup.user_with_key("bob");
    let carol = setup.user_with_key("carol");
    let dave = setup.user_with_key("dave");
    let config = setup.config(dir.path(), "mode = \"enforce\"", "");
    // A config suppression that expired long ago: it must not apply.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text += "[[suppressions]]\nprincipal = \"arn:aws:iam::*:user/mallory\"\n\
             until = \"2020-01-01\"\nreason = \"pen test of 2019\"\n";
    std::fs::write(&config, text).unwrap();
    let c = config.to_str().unwrap();

    setup.run(&[
        "suppress",
        "add",
        "--principal",
        "arn:aws:iam::*:user/ci-*",
        "--source-ip",
        "10.0.0.0/8",
        "--reason",
        "CI rotates keys of service users",
        "--by",
        "alice",
        "--config",
        c,
    ]);
    // Matches mallory, but names a rule this plugin does not have: neither her finding nor
    // her action is touched (the plugin's catalog pairs only its own rule with the call).
    setup.run(&[
        "suppress",
        "add",
        "--rule",
        "aws.other.rule",
        "--principal",
        "*:user/mallory",
        "--reason",
        "another plugin's noise",
        "--config",
        c,
    ]);

    let events = write_events(
        dir.path(),
        "e.jsonl",
        &[
            // CI from its own network: suppressed.
            key_created_from("ev-ci-inside", "ci-deploy", "bob", &bob, "10.0.0.5"),
            // CI from elsewhere: not suppressed (every condition must hold).
            key_created_from(
                "ev-ci-outside",
                "ci-deploy",
                "carol",
                &carol,
                "198.51.100.9",
            ),
            // Someone else from the CI network: not suppressed.
            key_created_from("ev-mallory", "mallory", "dave", &dave, "10.0.0.5"),
        ],
    );
    let stats = dir.path().join("stats.json");
    let out = setup.run(&[
        "replay",
        "--config",
        c,
        "--stats-json",
        stats.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        !printed.contains("ev-ci-inside"),
        "a suppressed finding is not alerted: {printed}"
    );
    assert!(printed.contains("ev-ci-outside"), "{printed}");
    assert!(printed.contains("ev-mallory"), "{printed}");

    // Recorded, marked and counted.
    let db = dir.path().join("audit.db");
    let recorded = findings(&db);
    assert_eq!(recorded.len(), 3, "{recorded:?}");
    assert_eq!(
        suppressed_by(&recorded, "ev-ci-inside").as_deref(),
        Some("1")
    );
    assert_eq!(suppressed_by(&recorded, "ev-ci-outside"), None);
    assert_eq!(suppressed_by(&recorded, "ev-mallory"), None);
    let stats: Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    assert_eq!(stats["findings"]["access-key-other-user"], 3, "{stats}");
    assert_eq!(stats["suppressed"]["access-key-other-user"], 1, "{stats}");

    // The suppressed finding's response request is recorded as suppressed, never executed.
    assert_eq!(setup.key_status("bob", &bob), "Active");
    assert_eq!(setup.key_status("carol", &carol), "Inactive");
    assert_eq!(setup.key_status("dave", &dave), "Inactive");
    let actions = setup.actions(&config);
    let of = |event: &str| {
        actions
            .iter()
            .find(|a| a["event_id"] == event)
            .unwrap_or_else(|| panic!("an action for {event}: {actions:?}"))
            .clone()
    };
    let held = of("ev-ci-inside");
    assert_eq!(held["status"], "suppressed", "{held}");
    assert!(
        held["reason"]
            .as_str()
            .unwrap()
            .contains("suppressed by 1: CI rotates keys"),
        "{held}"
    );
    assert_eq!(of("ev-ci-outside")["status"], "succeeded");
    assert_eq!(of("ev-mallory")["status"], "succeeded");
    // A suppressed decision is final: the chains verify.
    setup.run(&["audit", "verify", "--config", c]);

    // `list` shows both sources, the config one read-only and expired.
    let listed = setup.run(&["suppress", "list", "--config", c, "--format", "json"]);
    let listed: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let ids: Vec<&str> = listed.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["config:1", "1", "2"]);
    assert_eq!(listed[0]["source"], "config");
    assert_eq!(listed[0]["expired"], true);
    assert_eq!(listed[1]["source"], "cli");
    assert_eq!(listed[1]["created_by"], "alice");
    assert_eq!(listed[1]["source_ip"], "10.0.0.0/8");
    assert_eq!(listed[1]["expired"], false);
    // Config ones are changed in the config, not here.
    let refused = setup
        .command(&["suppress", "remove", "config:1", "--config", c])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let missing = setup
        .command(&["suppress", "remove", "99", "--config", c])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no suppression 99"));
    setup.run(&[
        "suppress", "remove", "2", "--config", c, "--by", "bob", "--reason", "done",
    ]);
    let log = setup.run(&["suppress", "log", "--config", c]);
    let log = String::from_utf8_lossy(&log.stdout);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(lines[0].contains("alice  added 1"), "{log}");
    assert!(lines[2].contains("bob  removed 2"), "{log}");
}

#[test]
fn bad_suppressions_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let c = config.to_str().unwrap();
    let refused = |args: &[&str], expected: &str| {
        let mut all = vec!["suppress", "add", "--config", c];
        all.extend_from_slice(args);
        let out = trailwarden(&all, &[]);
        assert!(!out.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    };
    refused(&["--reason", "everything"], "at least one of");
    refused(&["--account", ACCOUNT, "--reason", "  "], "--reason");
    refused(&["--source-ip", "10.0.0.0/40", "--reason", "x"], "prefix");
    refused(&["--source-ip", "ten", "--reason", "x"], "not an IP");
    refused(
        &[
            "--account",
            ACCOUNT,
            "--until",
            "2020-01-01",
            "--reason",
            "x",
        ],
        "in the past",
    );
    refused(
        &["--account", ACCOUNT, "--until", "someday", "--reason", "x"],
        "until",
    );
    // And in the config, where a bad one stops the load rather than silencing everything.
    let bad = write_config(dir.path(), "[[suppressions]]\nreason = \"all of it\"\n");
    let out = trailwarden(
        &["suppress", "list", "--config", bad.to_str().unwrap()],
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least one of"));
}

#[test]
fn a_suppression_added_while_the_daemon_runs_applies_to_the_next_batch_without_reload() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let c = config.to_str().unwrap();
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &[]);
    let post = |record: &Value| {
        let body = serde_json::to_vec(&envelope(record)).unwrap();
        let response = daemon.post(&body, Auth::Own);
        assert_eq!(response.status, 200, "{}", response.body);
    };

    post(&root_record("before"));
    assert_eq!(suppressed_by(&findings(&db), "before"), None);

    let added = trailwarden(
        &[
            "suppress",
            "add",
            "--principal",
            "arn:aws:iam::*:root",
            "--source-ip",
            "198.51.100.0/24",
            "--until",
            "1d",
            "--reason",
            "break-glass drill",
            "--config",
            c,
        ],
        &[],
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    post(&root_record("during"));
    let mut elsewhere = root_record("elsewhere");
    elsewhere["sourceIPAddress"] = json!("192.0.2.10");
    post(&elsewhere);
    let recorded = findings(&db);
    assert_eq!(suppressed_by(&recorded, "during").as_deref(), Some("1"));
    assert_eq!(suppressed_by(&recorded, "elsewhere"), None);

    let removed = trailwarden(&["suppress", "remove", "1", "--config", c], &[]);
    assert!(removed.status.success());
    post(&root_record("after"));
    assert_eq!(suppressed_by(&findings(&db), "after"), None);

    assert!(daemon.stop().success());
    // Alerted findings are logged; the suppressed one is not.
    let log = crate::daemon::log_of(dir.path());
    assert!(
        log.contains("event=before") || log.contains("event=\"before\""),
        "{log}"
    );
    assert!(
        !log.contains("event=during") && !log.contains("event=\"during\""),
        "{log}"
    );
}
