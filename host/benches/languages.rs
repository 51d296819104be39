//! The same detection (`plugins/bench/`: root used, not by an AWS service) written in Rust,
//! Python and JavaScript, each built into a component, and the Rust logic called natively.
//! For each language, in one run: the component's size; its first load (compiling it into
//! a fresh cache folder, `PluginRuntime::load`); a cached load (a second runtime on the same
//! cache folder); one fresh instance (`handle` of an empty batch); and the per-event cost of
//! `LoadedPlugin::handle` over the same corpus records in batches of 256, capabilities
//! answered by `DenyAll`. Each component's shipped fixtures must pass and all of them must
//! raise the same findings as the native logic, or the run fails.
//!
//! `make bench-languages` builds the components into target/bench-plugins/ and runs this in
//! release. Every loop runs a fixed number of times.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cloudtrail_normalize::{normalize_value, Item, NormalizedEvent, Options};
use trailwarden::config::PluginConfig;
use trailwarden::fixture::{self, Fixture};
use trailwarden::pipeline::to_plugin_event;
use trailwarden::runtime::{CompileSource, DenyAll, HostStores, LoadedPlugin, PluginRuntime};
use trailwarden_plugin_sdk as sdk;

/// Events per language: the corpus records, repeated.
const EVENTS: usize = 20_000;
const BATCH: usize = 256;
/// Cached loads and empty batches per language; the median is reported.
const REPEATS: usize = 7;
/// Rounds of the native loop (it is too quick to time once).
const NATIVE_ROUNDS: usize = 20;
const LANGUAGES: [(&str, &str); 3] = [
    ("Rust", "rust.wasm"),
    ("Python (componentize-py)", "python.wasm"),
    ("JavaScript (jco, QuickJS)", "js.wasm"),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Where `make bench-languages` puts the three components.
fn components() -> PathBuf {
    std::env::var_os("TRAILWARDEN_BENCH_PLUGINS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/bench-plugins"))
}

/// The corpus records, normalised, repeated up to `EVENTS`, each with its own id.
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
    // Each its own eventID (the Panther records all say "1", and a repeated record would
    // repeat its id): the host limits findings per event id in a batch.
    base.iter()
        .cycle()
        .take(EVENTS)
        .enumerate()
        .map(|(i, event)| NormalizedEvent {
            id: format!("{}-{i}", event.id),
            ..event.clone()
        })
        .collect()
}

/// The host's event as the SDK's plain Rust type (what the component's glue produces).
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

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn runtime(cache: &Path) -> PluginRuntime {
    PluginRuntime::new(cache, HostStores::in_memory().unwrap()).unwrap()
}

/// What one language measured.
struct Row {
    label: &'static str,
    bytes: u64,
    compile: Duration,
    cached_load: Duration,
    instance: Duration,
    per_event: Duration,
    findings: usize,
}

/// The shipped fixtures pass through the real host; one positive and one negative at least.
fn check_fixtures(label: &str, runtime: &PluginRuntime, plugin: &LoadedPlugin) {
    let fixtures: Vec<Fixture> = plugin
        .fixtures
        .iter()
        .map(|t| fixture::parse(t).unwrap())
        .collect();
    assert!(
        fixtures.iter().any(|f| f.findings.is_empty())
            && fixtures.iter().any(|f| !f.findings.is_empty()),
        "{label}: ships no positive or no negative fixture"
    );
    for f in &fixtures {
        let outcome = fixture::run(runtime, plugin, f);
        assert!(
            outcome.passed(),
            "{label}: fixture {:?} fails: {:#?}",
            f.name,
            outcome.differences
        );
    }
}

fn measure(label: &'static str, file: &Path, events: &[trailwarden::runtime::Event]) -> Row {
    let bytes = std::fs::metadata(file)
        .unwrap_or_else(|_| {
            panic!(
                "{} is missing: run `make bench-languages` (it builds plugins/bench/*)",
                file.display()
            )
        })
        .len();
    let config = PluginConfig {
        expected_name: Some("bench-root-usage".to_string()),
        ..PluginConfig::new(file.to_path_buf())
    };
    let cache = tempfile::tempdir().unwrap();

    // First load: nothing cached, so the component is compiled.
    let first = runtime(cache.path());
    let started = Instant::now();
    let plugin = first.load(&config).unwrap();
    let compile = started.elapsed();
    assert!(matches!(plugin.compile_source, CompileSource::Compiled));
    check_fixtures(label, &first, &plugin);

    // Cached loads: another runtime (as after a restart) over the same cache folder.
    let cached_load = median(
        (0..REPEATS)
            .map(|_| {
                let again = runtime(cache.path());
                let started = Instant::now();
                let loaded = again.load(&config).unwrap();
                let took = started.elapsed();
                assert!(matches!(loaded.compile_source, CompileSource::Cache));
                took
            })
            .collect(),
    );

    // A fresh instance: every batch gets one, so this is the floor of a batch's cost.
    let instance = median(
        (0..REPEATS)
            .map(|_| {
                let started = Instant::now();
                let found = plugin
                    .handle::<trailwarden::runtime::Event>(&first, &[], 0, Box::new(DenyAll))
                    .unwrap();
                let took = started.elapsed();
                assert!(found.is_empty());
                took
            })
            .collect(),
    );

    // Per event: all events, in batches, a fresh instance per batch (as the pipeline runs).
    let _warm = plugin
        .handle(&first, &events[..BATCH], 0, Box::new(DenyAll))
        .unwrap();
    let started = Instant::now();
    let mut findings = 0;
    for batch in events.chunks(BATCH) {
        findings += plugin
            .handle(&first, batch, 0, Box::new(DenyAll))
            .unwrap()
            .len();
    }
    let per_event = started.elapsed() / u32::try_from(events.len()).unwrap();
    Row {
        label,
        bytes,
        compile,
        cached_load,
        instance,
        per_event,
        findings,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 10.0 {
        format!("{us:.2}")
    } else {
        format!("{us:.0}")
    }
}

fn per_second(d: Duration) -> String {
    let rate = (1.0 / d.as_secs_f64()).round() as u64;
    let digits = rate.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    let normalized = events();
    let events: Vec<_> = normalized
        .iter()
        .map(|e| to_plugin_event(e, false))
        .collect();
    let dir = components();
    let rows: Vec<Row> = LANGUAGES
        .iter()
        .map(|(label, file)| measure(label, &dir.join(file), &events))
        .collect();

    // The same logic natively: the reference, and the findings every component must match.
    let sdk_events: Vec<_> = normalized.iter().map(sdk_event).collect();
    let mut native_findings = 0;
    let started = Instant::now();
    for _ in 0..NATIVE_ROUNDS {
        native_findings = 0;
        for event in &sdk_events {
            native_findings += black_box(bench_root_usage::detect(black_box(event))).len();
        }
    }
    let native = started.elapsed() / u32::try_from(NATIVE_ROUNDS * sdk_events.len()).unwrap();
    for row in &rows {
        assert_eq!(
            row.findings, native_findings,
            "{} raised {} findings, the native logic {native_findings}",
            row.label, row.findings
        );
    }

    println!(
        "{} events (the corpus records repeated), batches of {BATCH}, {native_findings} findings each; medians of {REPEATS} for loads and instances",
        events.len()
    );
    println!();
    println!("| language | component (bytes) | first load = compile (ms) | cached load (ms) | fresh instance (µs) | per event (µs) | events/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.label,
            row.bytes,
            ms(row.compile),
            ms(row.cached_load),
            us(row.instance),
            us(row.per_event),
            per_second(row.per_event)
        );
    }
    println!(
        "| Rust, native (no wasm, no host) | - | - | - | - | {} | {} |",
        us(native),
        per_second(native)
    );
}
