//! The worker pool: with two workers, batches of a busy plugin wait behind its running one
//! while the other plugins keep being fed (a plugin whose batches are independent, such as
//! sigma, runs two at once), and each worker records the batches it ran; what is recorded
//! is what one worker records.

use std::collections::BTreeSet;

use cloudtrail_normalize::{normalize_value, Options};
use serde_json::json;
use trailwarden::audit::FindingQuery;
use trailwarden::chain::Verdict;
use trailwarden::config::Config;

use crate::support::{config, corpus_records, guest, pipeline, plugin, plugin_config};

const PLUGINS: [&str; 7] = [
    "root-usage",
    "sigma",
    "service-watch",
    "identity-changes",
    "keys-secrets",
    "cloudtrail-tampering",
    "network-exposure",
];

/// (plugin, rule, event, dedup key) of every finding, and the per-plugin counts.
type Outcome = (
    BTreeSet<(String, String, String, String)>,
    std::collections::BTreeMap<String, u64>,
    std::collections::BTreeMap<String, u64>,
    std::collections::BTreeMap<String, u64>,
);

fn replay_corpus(config: &Config) -> Outcome {
    let mut pipeline = pipeline(config);
    for (_, record) in corpus_records() {
        for item in normalize_value(record, &Options::default()) {
            pipeline.ingest(item, "corpus").unwrap();
        }
    }
    pipeline.flush().unwrap();
    let findings: BTreeSet<_> = pipeline
        .audit()
        .findings(&FindingQuery::default())
        .unwrap()
        .into_iter()
        .map(|f| (f.plugin, f.rule_id, f.event_id, f.dedup_key))
        .collect();
    // With two workers each records its batches on its own connection: the findings chain
    // must still be one unbroken chain of every finding.
    match pipeline.audit().verify_chain().unwrap() {
        Verdict::Intact { rows, .. } => {
            assert_eq!(rows as usize, findings.len(), "every finding is a link")
        }
        Verdict::Broken(why) => panic!("the findings chain is broken: {why}"),
    }
    let stats = pipeline.stats();
    (
        findings,
        stats.matched.clone(),
        stats.findings.clone(),
        stats.batches_at_once.clone(),
    )
}

#[test]
fn two_workers_with_batches_waiting_record_what_one_worker_records() {
    let mut outcomes = Vec::new();
    for workers in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let plugins = PLUGINS.iter().map(|p| plugin_config(plugin(p))).collect();
        let mut config = config(dir.path(), plugins);
        // Batches of two: a plugin's next batch is often ready while its last one runs.
        config.batch_size = 2;
        config.workers = workers;
        outcomes.push(replay_corpus(&config));
    }
    let (one, two) = (&outcomes[0], &outcomes[1]);
    assert!(
        one.0.len() > 20,
        "the corpus raises findings in these plugins: {:?}",
        one.2
    );
    assert_eq!(one.0, two.0, "the same findings with one and two workers");
    assert_eq!(one.1, two.1, "the same events routed to each plugin");
    assert_eq!(one.2, two.2, "the same findings counted per plugin");
    assert!(one.2["sigma"] > 0, "sigma finds something: {:?}", one.2);
    // Sigma keeps nothing between batches: two of its batches ran at once; every other
    // plugin here keeps state or calls capabilities, so its batches ran one at a time.
    assert!(
        one.3.is_empty(),
        "one worker hands nothing out: {:?}",
        one.3
    );
    for (plugin, _) in two.1.iter().filter(|(_, matched)| **matched > 0) {
        let expected = if plugin == "sigma" { 2 } else { 1 };
        assert_eq!(two.3.get(plugin), Some(&expected), "{plugin}: {:?}", two.3);
    }
    assert!(
        two.1.len() >= 5,
        "most plugins here get events: {:?}",
        two.1
    );
}

fn root_event(i: usize) -> serde_json::Value {
    json!({"eventVersion": "1.08", "eventID": format!("waiting-{i}"), "eventTime": "2026-11-20T09:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": "ListUsers", "awsRegion": "us-east-1",
        "eventType": "AwsApiCall", "recipientAccountId": "123456789012",
        "userIdentity": {"type": "Root", "arn": "arn:aws:iam::123456789012:root", "accountId": "123456789012"}})
}

#[test]
fn batches_waiting_behind_the_batch_that_quarantines_their_plugin_are_withheld() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), vec![plugin_config(guest("trap"))]);
    config.batch_size = 1;
    config.workers = 2;
    config.lifecycle.quarantine_after = 3;
    let mut pipeline = pipeline(&config);
    for i in 0..12 {
        for item in normalize_value(root_event(i), &Options::default()) {
            pipeline.ingest(item, "q").unwrap();
        }
    }
    pipeline.flush().unwrap();
    let stats = pipeline.stats();
    // The trap guest keeps nothing between batches, so its first two batches run at once;
    // once one has failed, it runs one at a time, and the third failure quarantines it as
    // with one worker: no fourth batch runs.
    assert_eq!(stats.batches_at_once["trap"], 2, "{stats:?}");
    assert_eq!(stats.plugin_failures["trap"]["trap"], 3, "{stats:?}");
    assert_eq!(stats.skipped_quarantined["trap"], 9, "{stats:?}");
    assert_eq!(
        stats.matched["trap"], 3,
        "only the batches that ran count as matched"
    );
    assert!(pipeline.plugin_states()[0].1, "quarantined");
}
