//! Fuzzing the normaliser: mutations of real records (the shared corpus, in every shape
//! CloudTrail arrives in), some gzipped, for `FUZZ_SECONDS` (default 10). Nothing may
//! panic or take longer than ten seconds (a hang), and every input is accounted for: non-empty
//! input yields at least one item, at most `max_items` plus one summary, and a reject keeps
//! at most `max_record_bytes` of raw text. See `tests/fuzz/mutate.rs`.

mod common;
#[path = "../../../tests/fuzz/mutate.rs"]
mod mutate;

use cloudtrail_normalize::{normalize_bytes, Item, Options};
use serde_json::{json, Value};

/// Limits small enough that the caps are reached by fuzzed input.
fn options() -> Options {
    Options {
        max_record_bytes: 16 * 1024,
        max_input_bytes: 4 * 1024 * 1024,
        max_expansion_ratio: 100,
        max_items: 500,
        max_rejects_kept: 10,
        skip_insights: false,
    }
}

/// Runs one input through the normaliser and checks what must hold for any input.
fn check(input: &[u8]) {
    let options = options();
    let items = normalize_bytes(input, &options);
    if !input.is_empty() {
        assert!(!items.is_empty(), "no item for {} bytes", input.len());
    }
    assert!(
        items.len() <= options.max_items + 2,
        "{} items",
        items.len()
    );
    for item in &items {
        if let Item::Rejected { raw, .. } = item {
            assert!(
                raw.len() <= options.max_record_bytes,
                "raw of {} bytes",
                raw.len()
            );
        }
    }
}

/// Seeds: corpus records in each shape, plus the shapes' wrappers.
fn seeds() -> Vec<Vec<u8>> {
    let records: Vec<Value> = common::corpus_records()
        .into_iter()
        .map(|r| r.record)
        .filter(|r| r.to_string().len() < 4096)
        .take(24)
        .collect();
    let mut seeds = Vec::new();
    for record in &records {
        seeds.push(record.to_string().into_bytes());
        seeds.push(
            json!({"version": "0", "id": "x", "detail-type": "AWS API Call via CloudTrail",
                   "source": "aws.iam", "account": "111122223333", "time": "2024-01-01T00:00:00Z",
                   "region": "us-east-1", "resources": [], "detail": record})
            .to_string()
            .into_bytes(),
        );
    }
    seeds.push(json!({"Records": records[..4]}).to_string().into_bytes());
    let lines: Vec<String> = records[..4].iter().map(Value::to_string).collect();
    seeds.push(lines.join("\n").into_bytes());
    seeds.push(common::gzip(&seeds[0]));
    seeds
}

const TOKENS: &[&str] = &[
    "\"eventID\"",
    "\"eventTime\"",
    "\"eventName\"",
    "\"userIdentity\"",
    "\"Records\"",
    "\"detail\"",
    "\"detail-type\"",
    "\"recipientAccountId\"",
    "\"accountId\"",
    "\"@timestamp\"",
    "\"readOnly\"",
    "\"mfaAuthenticated\"",
    "\"digestStartTime\"",
    "\"insightDetails\"",
    "\"logEvents\"",
    "\"message\"",
    "\"CloudTrailEvent\"",
    "9999-12-31T23:59:59Z",
];

#[test]
fn fuzzed_input_never_panics_hangs_or_goes_unaccounted() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../fuzz-failures");
    let seeds = seeds();
    let gzipped = std::cell::Cell::new(0u64);
    let report = mutate::fuzz("normalize", &seeds, TOKENS, &dir, |input| {
        check(input);
        // One input in eight again, gzipped: the decompression path sees fuzzed content.
        if input.len() % 8 == 0 {
            gzipped.set(gzipped.get() + 1);
            check(&common::gzip(input));
        }
    });
    mutate::assert_clean(&report);
    assert!(gzipped.get() > 0);
}
