//! `trailwarden replay` and `audit findings` as a user runs them: the real binary.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use flate2::write::GzEncoder;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::{corpus_records, plugin};

fn trailwarden(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn write_config(dir: &Path) -> String {
    let mut text = format!(
        "[audit]\ndatabase = \"{}\"\n",
        dir.join("audit.db").display()
    );
    text += &format!(
        "[engine]\ncache_dir = \"{}\"\n",
        dir.join("cache").display()
    );
    for name in ["root-usage", "cloudtrail-tampering", "console-no-mfa"] {
        text += &format!(
            // Their notify calls are denied: these tests are about detection.
            "[[plugins]]\npath = \"{}\"\nname = \"{name}\"\nungranted_imports = \"deny\"\n",
            plugin(name).display()
        );
    }
    let path = dir.join("trailwarden.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn stats(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn sum(value: &Value) -> u64 {
    value
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum()
}

#[test]
fn the_corpus_in_its_raw_forms_is_accounted_for_and_raises_root_findings() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    // Bare records go into a CloudTrail log file as S3 holds it; the other forms
    // (EventBridge, LookupEvents, Insights) as JSON lines.
    let (mut bare, mut lines) = (Vec::new(), String::new());
    for (form, record) in corpus_records() {
        if form == "record" || form == "logstash_record" {
            bare.push(record);
        } else {
            lines += &format!("{record}\n");
        }
    }
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(logs.join("AWSLogs")).unwrap();
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json!({ "Records": bare }).to_string().as_bytes())
        .unwrap();
    std::fs::write(
        logs.join("AWSLogs/bare_CloudTrail.json.gz"),
        gz.finish().unwrap(),
    )
    .unwrap();
    std::fs::write(logs.join("deliveries.jsonl"), &lines).unwrap();

    let stats_path = dir.path().join("stats.json");
    let out = trailwarden(
        &[
            "replay",
            "--config",
            &config,
            "--format",
            "json",
            "--stats-json",
            stats_path.to_str().unwrap(),
            logs.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = stats(&stats_path);
    assert_eq!(stats["events_read"], 218, "{stats}");
    let accounted =
        stats["normalised"].as_u64().unwrap() + sum(&stats["skipped"]) + sum(&stats["rejected"]);
    assert_eq!(accounted, 218, "{stats}");
    // The corpus's three CloudTrail Insights events are events of their own kind now.
    assert!(stats["skipped"]["insight_event"].is_null(), "{stats}");
    let root_findings = stats["findings"]["root-usage"].as_u64().unwrap_or(0);
    assert!(root_findings > 0, "{stats}");

    // Findings printed as JSON lines, and the same findings read back from the audit store,
    // each naming the exact plugin version that raised it.
    let printed: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(printed.len() as u64, sum(&stats["findings"]));
    let audit = trailwarden(
        &[
            "audit",
            "findings",
            "--config",
            &config,
            "--plugin",
            "root-usage",
            "--format",
            "json",
        ],
        None,
    );
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stderr)
    );
    let stored: Vec<Value> = serde_json::from_slice(&audit.stdout).unwrap();
    // Records that share an eventID are one event: its finding is stored once.
    let distinct: std::collections::BTreeSet<String> = printed
        .iter()
        .filter(|f| f["plugin"] == "root-usage")
        .map(|f| format!("{}|{}|{}", f["rule_id"], f["event_id"], f["dedup_key"]))
        .collect();
    assert_eq!(stored.len(), distinct.len());
    let sha = hex::encode(Sha256::digest(std::fs::read(plugin("root-usage")).unwrap()));
    assert!(stored
        .iter()
        .all(|f| f["plugin"] == "root-usage" && f["plugin_sha256"] == sha.as_str()));
}

#[test]
fn bad_input_is_rejected_counted_and_kept_while_good_events_go_through() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let good = json!({"eventVersion": "1.08", "eventID": "e-good-1", "eventTime": "2024-01-01T00:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": "ListUsers", "awsRegion": "us-east-1",
        "userIdentity": {"type": "Root", "arn": "arn:aws:iam::123456789012:root", "accountId": "123456789012"},
        "sourceIPAddress": "198.51.100.1", "eventType": "AwsApiCall", "recipientAccountId": "123456789012"});
    let input =
        format!("{good}\n{{\"eventVersion\": \"1.08\", \"eventID\": \nnot json at all\n42\n");
    let stats_path = dir.path().join("stats.json");
    let out = trailwarden(
        &[
            "replay",
            "--config",
            &config,
            "--stats-json",
            stats_path.to_str().unwrap(),
            "-",
        ],
        Some(input.as_bytes()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = stats(&stats_path);
    assert_eq!(stats["events_read"], 4, "{stats}");
    assert_eq!(stats["normalised"], 1, "{stats}");
    assert_eq!(sum(&stats["rejected"]), 3, "{stats}");
    assert_eq!(stats["findings"]["root-usage"], 1, "{stats}");
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("rejected         3"), "{summary}");

    // The rejected inputs are kept as dead letters with their reasons.
    let audit = trailwarden::audit::AuditStore::open(&dir.path().join("audit.db")).unwrap();
    let kept: u64 = audit
        .count_by(trailwarden::audit::AuditTable::RejectedInputs, "origin")
        .unwrap()
        .iter()
        .map(|(origin, n)| {
            assert_eq!(origin, "stdin");
            n
        })
        .sum();
    assert_eq!(kept, 3);
}

#[test]
fn a_missing_input_or_config_is_a_clear_error() {
    let out = trailwarden(&["replay", "/no/such/cloudtrail.json.gz"], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/no/such/cloudtrail.json.gz: no such file"),
        "{stderr}"
    );

    let out = trailwarden(
        &["replay", "--config", "/no/such/trailwarden.toml", "-"],
        Some(b""),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config"));
}

#[test]
fn pattern_test_answers_like_aws() {
    let event = r#"{"source":"aws.iam","detail":{"eventName":"CreateUser"}}"#;
    let out = trailwarden(
        &[
            "pattern",
            "test",
            "--pattern",
            r#"{"source":["aws.iam"]}"#,
            "--event",
            event,
        ],
        None,
    );
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"Result": true}"#
    );
    let out = trailwarden(
        &[
            "pattern",
            "test",
            "--pattern",
            r#"{"source":["aws.s3"]}"#,
            "--event",
            event,
        ],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"Result": false}"#
    );
    let out = trailwarden(
        &[
            "pattern",
            "test",
            "--pattern",
            r#"{"source":"aws.iam"}"#,
            "--event",
            event,
        ],
        None,
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid event pattern"));
}

#[test]
fn pattern_check_names_the_plugin_and_the_reason_of_an_invalid_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(dir.path());
    let out = trailwarden(&["pattern", "check", &good], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("all valid"));

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "[[plugins]]\npath = \"{}\"\nname = \"root-usage\"\npatterns = ['{{\"detail\": {{\"eventName\": [{{\"prefix\": 5}}]}}}}']\n",
            plugin("root-usage").display()
        ),
    )
    .unwrap();
    let out = trailwarden(&["pattern", "check", bad.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("root-usage") && stderr.contains("invalid pattern"),
        "{stderr}"
    );
}
