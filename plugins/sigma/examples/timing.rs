//! How long the plugin's per-batch work takes, natively (release build recommended):
//!
//!   cargo run --release -p sigma --example timing
//!
//! - compiling the shipped rule set (embedded JSON), and the same files from YAML text (the
//!   path of rules given in the config), once per batch in the component;
//! - evaluating every rule on one event, over the events of the shared corpus (with and
//!   without parsing the record).

use std::hint::black_box;
use std::time::Instant;

use trailwarden_plugin_sdk::testing;

fn per_iteration(n: u32, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
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
    let embedded = per_iteration(500, || {
        black_box(sigma::RuleSet::embedded());
    });
    let yaml = per_iteration(200, || {
        black_box(sigma::RuleSet::from_texts(
            files.iter().map(|(p, t)| (p.as_str(), t.as_str())),
        ));
    });
    println!("compile {n_rules} rules: {embedded:.0} us from the embedded JSON, {yaml:.0} us from YAML text");

    let events = testing::corpus_events();
    let records: Vec<_> = events.iter().map(|e| e.raw_json()).collect();
    let mut findings = 0;
    let with_parse = per_iteration(50, || {
        findings = 0;
        for e in &events {
            findings += black_box(set.detect(e)).len();
        }
    }) / events.len() as f64;
    let eval_only = per_iteration(50, || {
        for (e, r) in events.iter().zip(&records) {
            if let Some(r) = r {
                black_box(set.detect_record(e, r));
            }
        }
    }) / events.len() as f64;
    let parse_only = per_iteration(50, || {
        for e in &events {
            black_box(e.raw_json());
        }
    }) / events.len() as f64;
    println!(
        "per event ({} corpus events, {findings} findings): {with_parse:.2} us in all = \
         {parse_only:.2} us parsing the record + {eval_only:.2} us evaluating {} rules \
         (and building findings)",
        events.len(),
        set.loaded().count()
    );
}
