//! Fuzzing the Sigma rule parser (YAML, rule, condition): mutations of the shipped rules
//! for `FUZZ_SECONDS` (default 10). Loading never panics nor takes longer than two
//! seconds; every document is loaded or refused with a reason; the rules that load are run
//! on corpus events without panicking. See `tests/fuzz/mutate.rs` at the repository root.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../../../tests/fuzz/mutate.rs"]
mod mutate;

use sigma::RuleSet;
use trailwarden_plugin_sdk::{testing, Event};

const RULES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/sigma/cloudtrail");

fn seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(RULES_DIR)
        .expect("rules/sigma/cloudtrail")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .map(|p| std::fs::read(p).expect("rule file"))
        .collect();
    seeds.sort();
    seeds
}

const TOKENS: &[&str] = &[
    "detection:",
    "condition:",
    "selection:",
    "filter:",
    "1 of ",
    "all of ",
    " and ",
    " or ",
    " not ",
    "(",
    ")",
    "them",
    "selection*",
    "|contains",
    "|startswith",
    "|endswith",
    "|all",
    "|re",
    "|cidr",
    "|base64offset",
    "|windash",
    "|exists",
    "eventName:",
    "eventSource:",
    "- ",
    "  ",
    "---\n",
    "&a ",
    "*a",
    "!!binary ",
    "? ",
    "{",
    "}",
    "[",
    "]",
    "'",
    "\"",
    "correlation:",
    "timespan: 5m",
    "group-by:",
    "type: event_count",
    "null",
    "~",
];

/// Every input a fuzz run found failing, kept in `tests/fuzz-regressions/`: each loads or is
/// refused with a reason, without crashing.
#[test]
fn regressions() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz-regressions");
    let mut found = 0;
    for entry in std::fs::read_dir(dir).expect("tests/fuzz-regressions") {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let rules = RuleSet::from_texts([("regression.yml", text.as_str())]);
        let reasons: Vec<&str> = rules.refused().map(|(_, reason)| reason).collect();
        assert!(!reasons.is_empty(), "{}: loaded", path.display());
        found += 1;
    }
    // nested-block-sequences.yml: a `- - - ...` line of 1,600 levels overflowed the stack.
    assert!(found >= 2);
    let text = std::fs::read_to_string(format!("{dir}/nested-block-sequences.yml")).unwrap();
    let rules = RuleSet::from_texts([("deep.yml", text.as_str())]);
    let reasons: Vec<&str> = rules.refused().map(|(_, reason)| reason).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("nested deeper than 64 levels")),
        "{reasons:?}"
    );
    // nested-condition-parentheses.yml: a condition of 3,800 `(` overflowed the stack.
    let text = std::fs::read_to_string(format!("{dir}/nested-condition-parentheses.yml")).unwrap();
    let rules = RuleSet::from_texts([("deep.yml", text.as_str())]);
    let reasons: Vec<&str> = rules.refused().map(|(_, reason)| reason).collect();
    assert!(
        reasons.iter().any(|r| r.contains("deeper than 64 levels")),
        "{reasons:?}"
    );
}

#[test]
fn fuzzed_rules_never_panic_or_hang_and_each_is_loaded_or_refused() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../fuzz-failures");
    let seeds = seeds();
    let events: Vec<Event> = testing::corpus_events().into_iter().take(40).collect();
    let loaded = std::cell::Cell::new(0u64);
    let report = mutate::fuzz("sigma", &seeds, TOKENS, &dir, |input| {
        let text = String::from_utf8_lossy(input);
        let rules = RuleSet::from_texts([("fuzzed.yml", text.as_ref())]);
        assert!(!rules.entries.is_empty(), "a file gave no entry");
        for (entry, reason) in rules.refused() {
            assert!(
                !reason.is_empty(),
                "{} refused without a reason",
                entry.rule_id
            );
        }
        if rules.loaded().next().is_some() {
            loaded.set(loaded.get() + 1);
            for event in &events {
                let _ = rules.detect(event);
            }
        }
    });
    mutate::assert_clean(&report);
    assert!(loaded.get() > 0, "no mutated rule loaded");
}
