//! How long the plugin's per-batch work takes, natively (release build recommended):
//!
//!   cargo run --release -p sigma --example timing
//!
//! - compiling the shipped rule set (embedded JSON; each rule on first use, so also what a
//!   one-event batch compiles), and the same files from YAML text (the path of rules given
//!   in the config), once per batch in the component;
//! - evaluating every rule on one event, over the events of the shared corpus (with and
//!   without parsing the record).

use std::hint::black_box;
use std::time::Instant;

use trailwarden_plugin_sdk::serde_json::json;
use trailwarden_plugin_sdk::{testing, Config};

/// Microseconds per call of `f`: the best of 5 rounds of `n` calls (the machine is shared).
fn per_iteration(n: u32, mut f: impl FnMut()) -> f64 {
    f();
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/sigma/cloudtrail");
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("rules dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("rule file");
            (p.file_name().unwrap().to_string_lossy().into_owned(), text)
        })
        .collect();
    files.sort();
    let set = sigma::RuleSet::embedded();
    let n_rules = set.entries.len();
    // The shipped set compiles a rule on first use: every rule (as a batch whose events
    // touch every source would), and what one IAM call's batch compiles.
    let embedded = per_iteration(500, || {
        black_box(sigma::RuleSet::embedded().loaded().count());
    });
    let iam_call = testing::event_from_record(&json!({
        "eventVersion": "1.08", "eventTime": "2024-05-01T12:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
        "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.20",
        "userIdentity": {"type": "IAMUser", "accountId": "111122223333",
            "arn": "arn:aws:iam::111122223333:user/alice", "userName": "alice"},
        "requestParameters": {"userName": "bob"}, "eventID": "k1", "eventType": "AwsApiCall"
    }));
    let one_event = per_iteration(500, || {
        black_box(sigma::RuleSet::embedded().detect(&iam_call));
    });
    let yaml = per_iteration(200, || {
        black_box(sigma::RuleSet::from_texts(
            files.iter().map(|(p, t)| (p.as_str(), t.as_str())),
        ));
    });
    // The config as the host hands it over (`config.get`, JSON text), parsed and compiled.
    let texts: Vec<_> = files
        .iter()
        .map(|(p, t)| json!({"path": p, "text": t}))
        .collect();
    let as_text = json!({ "rules": texts }).to_string();
    let docs: Vec<_> = files
        .iter()
        .map(|(p, t)| json!({"path": p, "docs": sigma::yaml::documents(t).unwrap()}))
        .collect();
    let as_docs = json!({ "rules": docs }).to_string();
    let config = |text: &str| {
        let config = Config::parse(text).expect("config");
        black_box(sigma::RuleSet::from_config(&config).expect("rules"));
    };
    let config_text = per_iteration(100, || config(&as_text));
    let config_docs = per_iteration(100, || config(&as_docs));
    println!(
        "compile {n_rules} rules per batch: {embedded:.0} us the shipped set (embedded), of \
         which a one-event batch (an IAM call) compiles what it needs in {one_event:.0} us; \
         from the config: {config_text:.0} us as YAML texts ({} KiB), {config_docs:.0} us as \
         JSON `docs` ({} KiB); YAML alone {yaml:.0} us",
        as_text.len() / 1024,
        as_docs.len() / 1024
    );

    // An everyday call that no rule matches: most of the traffic.
    let quiet = testing::event_from_record(&json!({
        "eventVersion": "1.08", "eventTime": "2024-05-01T12:00:00Z",
        "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
        "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.20",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/5.10.0 exe/x86_64",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "accountId": "111122223333",
            "arn": "arn:aws:iam::111122223333:user/alice", "userName": "alice"},
        "requestParameters": {"instancesSet": {}, "filterSet": {}, "maxResults": 100},
        "responseElements": null, "requestID": "r1", "eventID": "q1", "eventType": "AwsApiCall",
        "readOnly": true, "recipientAccountId": "111122223333", "managementEvent": true
    }));
    let quiet_all = per_iteration(20_000, || {
        black_box(set.detect(&quiet));
    });
    let quiet_record = quiet.raw_json().expect("JSON");
    let quiet_eval = per_iteration(20_000, || {
        black_box(set.detect_record(&quiet, &quiet_record));
    });
    println!(
        "per event, an everyday call no rule matches: {quiet_all:.2} us in all, of which \
         {quiet_eval:.2} us evaluating the rules"
    );

    let events = testing::corpus_events();
    let mut findings = 0;
    let with_parse = per_iteration(50, || {
        findings = 0;
        for e in &events {
            findings += black_box(set.detect(e)).len();
        }
    }) / events.len() as f64;
    let parse_only = per_iteration(50, || {
        for e in &events {
            black_box(e.raw_json());
        }
    }) / events.len() as f64;
    println!(
        "per event, the {} corpus events ({findings} findings): {with_parse:.2} us in all, of \
         which {parse_only:.2} us parsing the record",
        events.len()
    );
}
