//! Throughput of `PatternSet::matching_ids` on CloudTrail events in
//! EventBridge envelope form, against 10 / 100 / 1,000 / 10,000 generated
//! subscriptions. Plain `std::time`, bounded by a time budget per size.
//!
//! Run: `cargo bench -p event-pattern` (or `cargo bench --bench throughput`).

use event_pattern::{Pattern, PatternSet};
use serde_json::{json, Value};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
/// Each size is timed in `ROUNDS` slices of `SLICE`; the best slice counts.
const ROUNDS: usize = 6;
const SLICE: Duration = Duration::from_millis(250);
/// Upper bound on passes over the events within one slice.
const MAX_ROUNDS: usize = 20_000;

fn records_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/records/records.jsonl")
}

/// The CloudTrail record inside one corpus line, whatever its form.
fn cloudtrail_record(line: &Value) -> Option<Value> {
    let record = line.get("record")?;
    let record = match line.get("form").and_then(Value::as_str)? {
        "eventbridge" => record.get("detail")?.clone(),
        "lookup_events" => serde_json::from_str(record.get("CloudTrailEvent")?.as_str()?).ok()?,
        _ => record.clone(),
    };
    (record.get("eventName")?.is_string() && record.get("eventSource")?.is_string())
        .then_some(record)
}

/// Wraps a record the way EventBridge delivers CloudTrail events.
fn envelope(i: usize, record: Value) -> Value {
    let s = |k: &str| {
        record
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let service = s("eventSource");
    let service = service.split('.').next().unwrap_or("unknown");
    let detail_type = if s("eventType") == "AwsConsoleSignIn" {
        "AWS Console Sign In via CloudTrail"
    } else {
        "AWS API Call via CloudTrail"
    };
    let account = record
        .pointer("/userIdentity/accountId")
        .and_then(Value::as_str)
        .unwrap_or("123456789012")
        .to_string();
    json!({
        "version": "0",
        "id": format!("00000000-0000-4000-8000-{i:012}"),
        "detail-type": detail_type,
        "source": format!("aws.{service}"),
        "account": account,
        "time": s("eventTime"),
        "region": s("awsRegion"),
        "resources": [],
        "detail": record,
    })
}

fn load_events() -> Vec<Value> {
    let path = records_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|l| cloudtrail_record(&l))
        .enumerate()
        .map(|(i, r)| envelope(i, r))
        .collect()
}

/// Small deterministic PRNG (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const VERBS: &[&str] = &[
    "Create",
    "Delete",
    "Put",
    "Update",
    "Attach",
    "Detach",
    "Describe",
    "List",
    "Get",
    "Modify",
    "Start",
    "Stop",
    "Enable",
    "Disable",
    "Tag",
    "Untag",
    "Authorize",
    "Revoke",
    "Run",
    "Terminate",
];
const NOUNS: &[&str] = &[
    "User",
    "Role",
    "Policy",
    "Bucket",
    "BucketPolicy",
    "Instance",
    "Key",
    "Trail",
    "AccessKey",
    "LoginProfile",
    "Group",
    "SecurityGroup",
    "Snapshot",
    "Volume",
    "Image",
    "Function",
    "Table",
    "Stream",
    "Queue",
    "Topic",
    "Secret",
    "Parameter",
    "Cluster",
    "Detector",
    "Alias",
    "Grant",
    "Vpc",
    "Subnet",
    "RouteTable",
    "NetworkAcl",
    "FlowLogs",
    "ConfigRule",
    "Certificate",
    "LoadBalancer",
    "Listener",
    "Repository",
    "Stack",
    "Distribution",
    "HostedZone",
    "Organization",
];

/// Vocabulary seen in the corpus, used so many subscriptions can hit.
struct Vocab {
    sources: Vec<String>,
    event_sources: Vec<String>,
    names: Vec<String>,
    identity_types: Vec<String>,
}

fn vocab(events: &[Value]) -> Vocab {
    let collect = |ptr: &str| {
        let mut v: Vec<String> = events
            .iter()
            .filter_map(|e| e.pointer(ptr).and_then(Value::as_str).map(str::to_string))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let mut names = collect("/detail/eventName");
    // Plus plausible API names, so large sets are not mostly duplicates.
    for verb in VERBS {
        for noun in NOUNS {
            names.push(format!("{verb}{noun}"));
        }
    }
    Vocab {
        sources: collect("/source"),
        event_sources: collect("/detail/eventSource"),
        names,
        identity_types: vec![
            "Root".into(),
            "IAMUser".into(),
            "AssumedRole".into(),
            "FederatedUser".into(),
            "AWSService".into(),
        ],
    }
}

/// One subscription, drawn from templates typical of CloudTrail detections.
fn subscription(rng: &mut Rng, v: &Vocab) -> Value {
    let names = |rng: &mut Rng, k: usize| -> Vec<String> {
        (0..1 + rng.below(k))
            .map(|_| rng.pick(&v.names).clone())
            .collect()
    };
    let source = rng.pick(&v.sources).clone();
    match rng.below(10) {
        0 | 1 => json!({"source": [source], "detail": {"eventName": names(rng, 4)}}),
        2 => json!({
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {
                "eventSource": [rng.pick(&v.event_sources)],
                "eventName": [{"prefix": rng.pick(VERBS)}],
            }
        }),
        3 => json!({
            "source": [source],
            "detail": {
                "userIdentity": {"type": [rng.pick(&v.identity_types)]},
                "eventName": [{"anything-but": names(rng, 3)}],
            }
        }),
        4 => json!({
            "detail": {
                "eventSource": [rng.pick(&v.event_sources)],
                "errorCode": [{"exists": true}],
                "eventName": names(rng, 6),
            }
        }),
        5 => json!({
            "detail": {
                "eventName": names(rng, 2),
                "sourceIPAddress": [{"cidr": "10.0.0.0/8"}, {"cidr": "192.0.2.0/24"}],
            }
        }),
        6 => json!({
            "source": [source],
            "detail": {
                "userIdentity": {"arn": [{"wildcard": format!("arn:aws:iam::*:user/{}*", rng.pick(NOUNS).to_lowercase())}]},
                "eventName": names(rng, 3),
            }
        }),
        7 => json!({
            "detail": {
                "eventName": ["AssumeRole", rng.pick(&v.names)],
                "requestParameters": {"durationSeconds": [{"numeric": [">", 100 * (1 + rng.below(60))]}]},
            }
        }),
        8 => json!({
            "source": [source],
            "$or": [
                {"detail": {"eventName": names(rng, 3)}},
                {"detail": {"errorCode": [{"prefix": "AccessDenied"}], "eventName": [{"equals-ignore-case": rng.pick(&v.names).to_lowercase()}]}},
            ]
        }),
        _ => json!({
            "detail": {
                "eventName": names(rng, 3),
                "userIdentity": {"sessionContext": {"mfaAuthenticated": [{"exists": false}]}},
            }
        }),
    }
}

/// Events per second over one timed slice (at least one pass over all events).
fn slice(set: &PatternSet, events: &[Value], budget: Duration) -> f64 {
    let start = Instant::now();
    let mut done = 0usize;
    for _ in 0..MAX_ROUNDS {
        for e in events {
            black_box(set.matching_ids(black_box(e)));
        }
        done += events.len();
        if start.elapsed() >= budget {
            break;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let eps = done as f64 / start.elapsed().as_secs_f64();
    eps
}

fn main() {
    let events = load_events();
    assert!(
        !events.is_empty(),
        "no CloudTrail events found in the corpus"
    );
    let v = vocab(&events);
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let all: Vec<Pattern> = (0..SIZES[SIZES.len() - 1])
        .map(|_| {
            Pattern::from_value(&subscription(&mut rng, &v)).expect("generated pattern is valid")
        })
        .collect();

    println!(
        "{} CloudTrail events (EventBridge envelopes); best of {ROUNDS} interleaved {SLICE:?} slices per size",
        events.len(),
    );
    println!(
        "{:>9} {:>14} {:>12} {:>16} {:>12}",
        "patterns", "events/s", "ns/event", "matches/event", "build ms"
    );
    // `EP_BENCH_SIZES=1000` limits the run to some sizes (handy for profiling).
    let sizes: Vec<usize> = std::env::var("EP_BENCH_SIZES").map_or_else(
        |_| SIZES.to_vec(),
        |v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
    );
    let mut sets = Vec::new();
    for &n in &sizes {
        let t = Instant::now();
        let mut set = PatternSet::new();
        for (i, p) in all.iter().take(n).enumerate() {
            set.add(u32::try_from(i).unwrap_or(u32::MAX), p);
        }
        let _ = set.matching_ids(&events[0]); // builds the index
        let build_ms = t.elapsed().as_secs_f64() * 1e3;
        let matched: usize = events.iter().map(|e| set.matching_ids(e).len()).sum();
        #[allow(clippy::cast_precision_loss)]
        let per_event = matched as f64 / events.len() as f64;
        sets.push((n, set, build_ms, per_event));
    }
    // Interleaved slices, best kept: the machine is shared, and interleaving
    // spreads any interference over every size alike.
    let mut best = vec![0.0f64; sets.len()];
    for _ in 0..ROUNDS {
        for (i, (_, set, _, _)) in sets.iter().enumerate() {
            best[i] = best[i].max(slice(set, &events, SLICE));
        }
    }
    let mut rows = Vec::new();
    for ((n, _, build_ms, per_event), eps) in sets.iter().zip(&best) {
        println!(
            "{:>9} {:>14.0} {:>12.0} {:>16.2} {:>12.1}",
            n,
            eps,
            1e9 / eps,
            per_event,
            build_ms
        );
        rows.push((*n, 1e9 / eps));
    }
    let cost = |n: usize| rows.iter().find(|r| r.0 == n).map_or(f64::NAN, |r| r.1);
    println!(
        "cost ratio 1,000 vs 10 patterns: {:.2}x (goal < 3x); 10,000 vs 10: {:.2}x",
        cost(1_000) / cost(10),
        cost(10_000) / cost(10)
    );

    // For scale: the naive loop over 1,000 patterns, one `Pattern::matches` each.
    if std::env::var("EP_BENCH_NAIVE").is_ok_and(|v| v == "0") {
        return;
    }
    let start = Instant::now();
    let mut done = 0usize;
    while start.elapsed() < SLICE * 2 {
        for e in &events {
            black_box(all.iter().take(1_000).filter(|p| p.matches(e)).count());
        }
        done += events.len();
    }
    #[allow(clippy::cast_precision_loss)]
    let naive = done as f64 / start.elapsed().as_secs_f64();
    println!("naive loop over 1,000 patterns: {naive:.0} events/s");
}
