//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::Write;
use std::path::PathBuf;

use cloudtrail_normalize::{normalize_value, Item, NormalizedEvent, Options};
use flate2::{write::GzEncoder, Compression};
use serde_json::Value;

/// A file of the shared corpus (`../shared/corpus` beside the repository).
/// Panics with a clear message when it is missing: corpus tests must fail,
/// not pass vacuously.
pub fn corpus_path(relative: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(relative);
    assert!(
        path.exists(),
        "corpus file {} is missing: these tests need the shared corpus checked out \
         beside the repository (as ../shared/corpus)",
        path.display()
    );
    path
}

/// One line of records.jsonl.
pub struct CorpusRecord {
    pub line: usize,
    pub source: String,
    pub form: String,
    pub record: Value,
}

/// All of records/records.jsonl.
pub fn corpus_records() -> Vec<CorpusRecord> {
    let path = corpus_path("records/records.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let records: Vec<CorpusRecord> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let mut v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("records.jsonl line {}: {e}", i + 1));
            let field = |v: &Value, k: &str| {
                v[k].as_str()
                    .unwrap_or_else(|| panic!("records.jsonl line {}: no {k}", i + 1))
                    .to_owned()
            };
            CorpusRecord {
                line: i + 1,
                source: field(&v, "source"),
                form: field(&v, "form"),
                record: v["record"].take(),
            }
        })
        .collect();
    assert_eq!(
        records.len(),
        218,
        "records.jsonl should hold 218 records, found {}",
        records.len()
    );
    records
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

pub fn opts() -> Options {
    Options::default()
}

/// Normalises a value that must yield exactly one event.
pub fn one_event(value: Value) -> NormalizedEvent {
    let mut items = normalize_value(value, &opts());
    assert_eq!(items.len(), 1, "expected one item, got {items:#?}");
    match items.remove(0) {
        Item::Event(e) => e,
        other => panic!("expected an event, got {other:#?}"),
    }
}

/// (events, skipped, rejected)
pub fn tally(items: &[Item]) -> (usize, usize, usize) {
    items.iter().fold((0, 0, 0), |(e, s, r), item| match item {
        Item::Event(_) => (e + 1, s, r),
        Item::Skipped { .. } => (e, s + 1, r),
        Item::Rejected { .. } => (e, s, r + 1),
    })
}

/// The outcome names of the items, in order.
pub fn outcomes(items: &[Item]) -> Vec<&'static str> {
    items.iter().map(Item::outcome).collect()
}
