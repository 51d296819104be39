//! The cost of a first-seen check (WIT 0.4.0 `history`): the host's store alone on a real
//! SQLite file (a new tuple, a known tuple in the cache, a known tuple read back from
//! SQLite), then the shipped `anomaly` plugin through the host, per event (its first-seen IAM rule
//! alone, then all its rules: first-seen and rate questions). Run with
//! `make bench-history` (release). Loops are bounded by fixed counts.

use std::sync::Arc;
use std::time::Instant;

use cloudtrail_normalize::{normalize_value, Options};
use trailwarden::config::PluginConfig;
use trailwarden::history::{HistoryQuota, HistoryStore, SeenQuery};
use trailwarden::pipeline::to_plugin_event;
use trailwarden::rate::{RateQuery, DEFAULT_MAX_KEYS};
use trailwarden::runtime::{DenyAll, HostStores, PluginRuntime};

const TUPLES: usize = 20_000;
const EVENTS: usize = 20_000;
const BATCH: usize = 256;
const NOW: i64 = 1_760_000_000;

fn tuple(n: usize) -> Vec<String> {
    vec![
        format!("arn:aws:iam::123456789012:user/user-{}", n % 500),
        format!("Call{}", n / 500),
    ]
}

/// µs per check of `TUPLES` questions at `now`, committed every `BATCH` (as the runtime
/// commits after each batch).
fn checks(store: &HistoryStore, plugin: &Arc<str>, tuples: &[Vec<String>], now: i64) -> f64 {
    let started = Instant::now();
    let mut new = 0;
    for (n, values) in tuples.iter().enumerate() {
        if n % BATCH == 0 {
            store.commit().unwrap();
        }
        let query = SeenQuery {
            account: "123456789012",
            rule: "aws.iam.first-write-by-principal",
            tuple: values,
            window_seconds: 30 * 86_400,
            learning_seconds: 0,
        };
        new += usize::from(
            store
                .first_seen(plugin, &query, now, HistoryQuota::default())
                .unwrap()
                .new,
        );
    }
    store.commit().unwrap();
    std::hint::black_box(new);
    started.elapsed().as_secs_f64() * 1e6 / tuples.len() as f64
}

/// µs per rate check: keys seen every minute (cached), one key calling in a burst, and the
/// keys read back from SQLite after the cache is emptied.
fn rate_checks(store: &HistoryStore, plugin: &Arc<str>) -> (f64, f64, f64) {
    let rates = store.rates();
    let keys: Vec<Vec<String>> = (0..TUPLES)
        .map(|n| vec![format!("arn:aws:iam::123456789012:user/user-{n}")])
        .collect();
    let ask = |key: &[String], now: i64| {
        let query = RateQuery {
            account: "123456789012",
            rule: "aws.call-rate-burst",
            key,
            history_seconds: 7 * 86_400,
            learning_seconds: 0,
            threshold: 6.0,
            min_count: 20,
        };
        rates
            .rate(plugin, &query, now, DEFAULT_MAX_KEYS)
            .unwrap()
            .anomalous
    };
    let timed = |minute: i64| {
        let started = Instant::now();
        let mut anomalous = 0;
        for (n, key) in keys.iter().enumerate() {
            if n % BATCH == 0 {
                store.commit().unwrap();
            }
            anomalous += usize::from(ask(key, NOW + minute * 60));
        }
        store.commit().unwrap();
        std::hint::black_box(anomalous);
        started.elapsed().as_secs_f64() * 1e6 / keys.len() as f64
    };
    timed(0);
    let steady = timed(1);
    let started = Instant::now();
    let mut anomalous = 0;
    for n in 0..TUPLES {
        if n % BATCH == 0 {
            store.commit().unwrap();
        }
        anomalous += usize::from(ask(&keys[0], NOW + 120 + (n as i64 % 60)));
    }
    store.commit().unwrap();
    std::hint::black_box(anomalous);
    let burst = started.elapsed().as_secs_f64() * 1e6 / TUPLES as f64;
    store.flush().unwrap();
    // The cache emptied: every key read back from SQLite.
    let reread = timed(3);
    (steady, burst, reread)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::open(&dir.path().join("audit.db")).unwrap();
    let plugin: Arc<str> = Arc::from("bench");
    let tuples: Vec<Vec<String>> = (0..TUPLES).map(tuple).collect();

    let new = checks(&store, &plugin, &tuples, NOW);
    let cached = checks(&store, &plugin, &tuples, NOW + 1);
    store.flush().unwrap();
    let uncached = checks(&store, &plugin, &tuples, NOW + 2);
    println!("first-seen check, {TUPLES} tuples, SQLite file in WAL mode:");
    println!("  new tuple (row written)           {new:8.2} µs");
    println!("  known tuple, cached               {cached:8.2} µs");
    println!("  known tuple, read from SQLite     {uncached:8.2} µs");

    let (steady, burst, reread) = rate_checks(&store, &plugin);
    println!("rate check (WIT 0.5.0 baseline), {TUPLES} keys, 7-day history:");
    println!("  steady key, cached                {steady:8.2} µs");
    println!("  key in a burst, cached            {burst:8.2} µs");
    println!("  key read from SQLite              {reread:8.2} µs");

    // The shipped plugin through the host: IAM write calls by 500 principals, each asking
    // its history once (the first-seen IAM rule alone), then every rule (an IAM user's call
    // also asks the service history and counts its call rate).
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let wasm = repo.join("plugins/dist/anomaly.wasm");
    assert!(
        wasm.is_file(),
        "{}: run `make plugins` first",
        wasm.display()
    );
    for (rules, settings) in [
        (
            "first-seen IAM rule",
            r#"{"learning_days": 0, "enabled_rules": ["aws.iam.first-write-by-principal"]}"#,
        ),
        ("all rules", r#"{"learning_days": 0}"#),
    ] {
        let mut config = PluginConfig::new(wasm.clone());
        config.settings_json = settings.to_string();
        // Its notifications denied (no grant): the cost measured is the detection's.
        config.grants.ungranted_imports = trailwarden::respond::grants::UngrantedImports::Deny;
        // Each on a history of its own.
        let db = tempfile::tempdir().unwrap();
        let stores = HostStores::new(
            trailwarden::state::StateStore::in_memory().unwrap(),
            HistoryStore::open(&db.path().join("plugin.db")).unwrap(),
        );
        let runtime = PluginRuntime::new(db.path(), stores).unwrap();
        plugin_through_host(&runtime, &config, rules);
    }
}

/// The plugin `config` over [`EVENTS`] IAM write calls, new then known.
fn plugin_through_host(runtime: &PluginRuntime, config: &PluginConfig, rules: &str) {
    let loaded = runtime.load(config).unwrap();
    let events: Vec<_> = (0..EVENTS)
        .map(|n| {
            let values = tuple(n);
            let record = serde_json::json!({
                "eventVersion": "1.08",
                "userIdentity": {"type": "IAMUser", "arn": values[0], "accountId": "123456789012"},
                "eventTime": "2025-10-09T08:00:00Z",
                "eventSource": "iam.amazonaws.com",
                "eventName": values[1],
                "awsRegion": "us-east-1",
                "sourceIPAddress": "192.0.2.1",
                "readOnly": false,
                "eventID": format!("bench-{n}"),
                "recipientAccountId": "123456789012",
            });
            let item = normalize_value(record, &Options::default()).remove(0);
            to_plugin_event(item.as_event().unwrap(), false)
        })
        .collect();
    for (round, label) in [(0, "every event new"), (1, "every event known")] {
        let started = Instant::now();
        let mut findings = 0;
        for batch in events.chunks(BATCH) {
            findings += loaded
                .handle(runtime, batch, NOW + round, Box::new(DenyAll))
                .unwrap()
                .len();
        }
        let per_event = started.elapsed().as_secs_f64() * 1e6 / EVENTS as f64;
        println!(
            "anomaly plugin ({rules}) through the host, {label}: {per_event:8.2} µs per \
             event ({findings} findings, batches of {BATCH})"
        );
    }
}
