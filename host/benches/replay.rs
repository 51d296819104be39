//! The three detection plugins over realistic records: (a) as wasm components through the
//! host, (b) the same detection logic called natively, and the whole replay pipeline; then
//! where the wasm path's time goes (the crossing per event by batch size, and without the
//! raw record).
//! Run with `make bench` (release). Loops are bounded by a fixed event count.

use std::time::Instant;

use cloudtrail_normalize::{normalize_value, Item, NormalizedEvent, Options};
use trailwarden::audit::AuditStore;
use trailwarden::config::{Config, PluginConfig};
use trailwarden::pipeline::{to_plugin_event, Pipeline};
use trailwarden::runtime::{DenyAll, HostStores, PluginRuntime};
use trailwarden::state::StateStore;
use trailwarden_plugin_sdk as sdk;

const EVENTS: usize = 50_000;
const BATCH: usize = 256;
const PLUGINS: [&str; 3] = ["root-usage", "cloudtrail-tampering", "console-no-mfa"];

type Detect = fn(&sdk::Event) -> Vec<sdk::Finding>;
const NATIVE: [Detect; 3] = [
    root_usage::detect,
    cloudtrail_tampering::detect,
    console_no_mfa::detect,
];

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The corpus records, normalised, repeated up to `EVENTS`.
fn events() -> Vec<NormalizedEvent> {
    let path = repo().join("../shared/corpus/records/records.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut base = Vec::new();
    for line in text.lines() {
        let mut entry: serde_json::Value = serde_json::from_str(line).unwrap();
        for item in normalize_value(entry["record"].take(), &Options::default()) {
            if let Item::Event(event) = item {
                base.push(event);
            }
        }
    }
    // Each copy gets its own id, as distinct CloudTrail events have.
    base.iter()
        .cycle()
        .take(EVENTS)
        .enumerate()
        .map(|(i, event)| {
            let mut event = event.clone();
            event.id = format!("{}-{i}", event.id);
            event
        })
        .collect()
}

fn sdk_event(event: &NormalizedEvent) -> sdk::Event {
    let p = &event.principal;
    sdk::Event {
        id: event.id.clone(),
        time: event.time.clone(),
        source: event.source.clone(),
        name: event.name.clone(),
        region: event.region.clone(),
        account: event.account.clone(),
        principal: sdk::Principal {
            r#type: p.kind.clone(),
            arn: p.arn.clone(),
            account_id: p.account_id.clone(),
            user_name: p.user_name.clone(),
            access_key_id: p.access_key_id.clone(),
            session_issuer_arn: p.session_issuer_arn.clone(),
            invoked_by: p.invoked_by.clone(),
        },
        mfa_authenticated: event.mfa_authenticated,
        source_ip: event.source_ip.clone(),
        user_agent: event.user_agent.clone(),
        error_code: event.error_code.clone(),
        error_message: event.error_message.clone(),
        read_only: event.read_only,
        event_type: event.event_type.clone(),
        self_caused: false,
        raw: event.raw_json(),
    }
}

fn plugin_config(name: &str) -> PluginConfig {
    let path = repo().join("plugins/dist").join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} missing: run `make plugins`",
        path.display()
    );
    let mut config = PluginConfig {
        expected_name: Some(name.to_string()),
        ..PluginConfig::new(path)
    };
    // Their notify calls are denied: the benchmark measures detection.
    config.grants.ungranted_imports = trailwarden::respond::grants::UngrantedImports::Deny;
    config
}

fn main() {
    let events = events();
    let cache = tempfile::tempdir().unwrap();

    // (a) wasm: every event to every plugin, in batches, a fresh instance per batch.
    let runtime = PluginRuntime::new(cache.path(), HostStores::in_memory().unwrap()).unwrap();
    let plugins: Vec<_> = PLUGINS
        .iter()
        .map(|n| runtime.load(&plugin_config(n)).unwrap())
        .collect();
    let wit_events: Vec<_> = events.iter().map(|e| to_plugin_event(e, false)).collect();
    let started = Instant::now();
    let mut wasm_findings = 0;
    for plugin in &plugins {
        for batch in wit_events.chunks(BATCH) {
            wasm_findings += plugin
                .handle(&runtime, batch, 0, Box::new(DenyAll))
                .unwrap()
                .len();
        }
    }
    let wasm_s = started.elapsed().as_secs_f64();

    // (b) native: the same logic on the same events.
    let sdk_events: Vec<_> = events.iter().map(sdk_event).collect();
    let started = Instant::now();
    let mut native_findings = 0;
    for detect in NATIVE {
        for event in &sdk_events {
            native_findings += std::hint::black_box(detect(event)).len();
        }
    }
    let native_s = started.elapsed().as_secs_f64();
    assert_eq!(wasm_findings, native_findings, "wasm and native disagree");

    // (c) the whole pipeline: routing by patterns, wasm, audit writes (in-memory SQLite).
    let config = Config {
        database: cache.path().join("unused.db"),
        cache_dir: cache.path().to_path_buf(),
        batch_size: BATCH,
        plugins: PLUGINS.iter().map(|n| plugin_config(n)).collect(),
        ..Config::default_in(cache.path()).unwrap()
    };
    let mut pipeline = Pipeline::new(
        &config,
        AuditStore::in_memory().unwrap(),
        StateStore::in_memory().unwrap(),
    )
    .unwrap();
    let started = Instant::now();
    for event in &events {
        pipeline
            .ingest(Item::Event(event.clone()), "bench")
            .unwrap();
    }
    pipeline.flush().unwrap();
    let pipeline_s = started.elapsed().as_secs_f64();

    // (d) event-to-action-request latency, host side: from the event reaching the pipeline to
    // the action being decided and committed in the outbox (no AWS call: dry-run).
    let (p50, p99, decided) = action_latency(cache.path());

    // (e) where the wasm path's time goes: the crossing alone, per event, for the first
    // plugin at several batch sizes, and at the default size without the raw record (the
    // largest string handed over; the plugin's findings may differ, the cost is the point).
    let crossing = crossing_costs(&runtime, &plugins[0], &wit_events);

    let rate = |seconds: f64| events.len() as f64 / seconds;
    println!(
        "{} events (corpus records repeated), 3 plugins, batches of {BATCH}",
        events.len()
    );
    println!("{:<44} {:>14} {:>10}", "path", "events/s", "findings");
    println!(
        "{:<44} {:>14.0} {:>10}",
        "(a) wasm components via host, 3 plugins",
        rate(wasm_s),
        wasm_findings
    );
    println!(
        "{:<44} {:>14.0} {:>10}",
        "(b) same logic native, 3 plugins",
        rate(native_s),
        native_findings
    );
    println!(
        "{:<44} {:>14.0} {:>10}",
        "(c) replay pipeline (route+wasm+audit)",
        rate(pipeline_s),
        pipeline.stats().findings.values().sum::<u64>()
    );
    println!("wasm / native cost ratio: {:.2}x", wasm_s / native_s);
    println!(
        "event-to-action-request latency over {decided} actions (batches of {BATCH}, dry-run): p50 {p50:.0} us, p99 {p99:.0} us"
    );
    println!("{} through the host, per event, by batch size:", PLUGINS[0]);
    for (label, us) in crossing {
        println!("  {label:<40} {us:>8.2} us");
    }
}

/// Microseconds per event of `plugin` over `events` at batch sizes 1, 16, `BATCH` and
/// 1,024 (a fresh instance per batch, as the pipeline runs them), then at `BATCH` with each
/// event's raw record left out.
fn crossing_costs(
    runtime: &PluginRuntime,
    plugin: &trailwarden::runtime::LoadedPlugin,
    events: &[trailwarden::runtime::Event],
) -> Vec<(String, f64)> {
    let per_event = |events: &[trailwarden::runtime::Event], batch: usize| {
        let started = Instant::now();
        for chunk in events.chunks(batch) {
            std::hint::black_box(plugin.handle(runtime, chunk, 0, Box::new(DenyAll)).unwrap());
        }
        started.elapsed().as_secs_f64() * 1e6 / events.len() as f64
    };
    let mut costs: Vec<(String, f64)> = [1, 16, BATCH, 1024]
        .into_iter()
        .map(|batch| (format!("batches of {batch}"), per_event(events, batch)))
        .collect();
    let without_raw: Vec<_> = events
        .iter()
        .map(|e| trailwarden::runtime::Event {
            raw: String::new(),
            ..e.clone()
        })
        .collect();
    costs.push((
        format!("batches of {BATCH}, raw record left out"),
        per_event(&without_raw, BATCH),
    ));
    costs
}

/// Replays `ACTIONS` CreateAccessKey-for-another-user events through access-key-other-user
/// with `iam.disable-access-key` granted in dry-run; returns p50 and p99 of the time from
/// an event entering the pipeline to its action being committed, and the action count.
fn action_latency(dir: &std::path::Path) -> (f64, f64, usize) {
    const ACTIONS: usize = 2_000;
    let config_text = format!(
        "[[plugins]]\npath = \"{}\"\n[[plugins.grants]]\ncapability = \"iam.disable-access-key\"\naccounts = [\"*\"]\nmax_per_hour = 1000000\n",
        repo().join("plugins/dist/access-key-other-user.wasm").display()
    );
    let mut config = Config::parse(&config_text, dir).unwrap();
    config.database = dir.join("latency.db");
    config.cache_dir = dir.to_path_buf();
    config.batch_size = BATCH;
    let mut pipeline = Pipeline::new(
        &config,
        AuditStore::in_memory().unwrap(),
        StateStore::in_memory().unwrap(),
    )
    .unwrap();
    for i in 0..ACTIONS {
        let record = serde_json::json!({
            "eventVersion": "1.09", "eventID": format!("latency-{i}"), "eventTime": "2026-11-20T09:00:00Z",
            "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", "awsRegion": "us-east-1",
            "eventType": "AwsApiCall", "recipientAccountId": "111122223333", "sourceIPAddress": "203.0.113.7",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory",
                "accountId": "111122223333", "userName": "mallory"},
            "requestParameters": {"userName": format!("user{i}")},
            "responseElements": {"accessKey": {"accessKeyId": format!("AKIAEXAMPLE{i:09}"), "status": "Active", "userName": format!("user{i}")}}
        });
        for item in normalize_value(record, &Options::default()) {
            pipeline.ingest(item, "bench").unwrap();
        }
    }
    pipeline.flush().unwrap();
    let mut latencies: Vec<f64> = pipeline
        .outbox()
        .list(None, None)
        .unwrap()
        .iter()
        .filter_map(|a| a.received_us.map(|r| (a.decided_us - r) as f64))
        .collect();
    latencies.sort_by(f64::total_cmp);
    assert_eq!(latencies.len(), ACTIONS, "every event raised one action");
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    (at(0.50), at(0.99), latencies.len())
}
