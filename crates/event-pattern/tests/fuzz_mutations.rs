//! Fuzzing the pattern parser: mutations of real patterns (every shipped plugin's and the
//! conformance set's operators) for `FUZZ_SECONDS` (default 10). Parsing never panics nor
//! takes longer than ten seconds (a hang); a pattern that parses is matched against events without
//! panicking, and the index agrees with the naive matcher. See `tests/fuzz/mutate.rs`
//! (`fuzz.rs` beside this file holds the generator-based property tests).

#[path = "../../../tests/fuzz/mutate.rs"]
mod mutate;

use event_pattern::{Pattern, PatternSet};
use serde_json::{json, Value};

const SEEDS: &[&str] = &[
    r#"{"source":["aws.iam"],"detail-type":["AWS API Call via CloudTrail"]}"#,
    r#"{"detail":{"eventName":["CreateAccessKey"],"userIdentity":{"type":["Root"]}}}"#,
    r#"{"detail":{"eventName":[{"prefix":"Delete"}],"errorCode":[{"exists":false}]}}"#,
    r#"{"detail":{"eventSource":[{"suffix":".amazonaws.com"}],"awsRegion":[{"anything-but":["us-east-1","eu-west-1"]}]}}"#,
    r#"{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/8"}],"eventName":[{"equals-ignore-case":"consolelogin"}]}}"#,
    r#"{"detail":{"requestParameters":{"maxResults":[{"numeric":[">",0,"<=",100]}]}}}"#,
    r#"{"detail":{"eventName":[{"wildcard":"Put*Policy"}],"userAgent":[{"anything-but":{"prefix":"aws-internal"}}]}}"#,
    r#"{"$or":[{"detail":{"eventName":["StopLogging"]}},{"detail":{"eventName":["DeleteTrail"]}}]}"#,
    r#"{"version":["0"]}"#,
];

const TOKENS: &[&str] = &[
    "\"prefix\"",
    "\"suffix\"",
    "\"anything-but\"",
    "\"numeric\"",
    "\"exists\"",
    "\"cidr\"",
    "\"wildcard\"",
    "\"equals-ignore-case\"",
    "\"$or\"",
    "\">=\"",
    "\"<\"",
    "\"=\"",
    "\"::/0\"",
    "\"255.255.255.255/33\"",
    "\"*\"",
    "\"**\"",
    "\"\\\\*\"",
    "1e308",
];

fn events() -> Vec<Value> {
    vec![
        json!({"version": "0", "source": "aws.iam", "detail-type": "AWS API Call via CloudTrail",
               "detail": {"eventName": "CreateAccessKey", "eventSource": "iam.amazonaws.com",
                          "userIdentity": {"type": "Root"}, "awsRegion": "us-east-1",
                          "sourceIPAddress": "10.1.2.3", "userAgent": "aws-cli/2",
                          "requestParameters": {"maxResults": 50}}}),
        json!({"version": "0", "detail": {"eventName": "PutUserPolicy", "errorCode": null,
               "sourceIPAddress": "2001:db8::1", "awsRegion": "ap-south-1"}}),
        json!({"detail": [1, "x", {"eventName": ["StopLogging"]}]}),
    ]
}

/// Inputs a long fuzz run reported as slow (about a second each in debug: the
/// wildcard complexity check's exploration grows with the wildcard's length):
/// kept, parsed and matched on every run, their time printed. Both hold a
/// wildcard operand of about 50 KB, so both are now refused by its length bound.
#[test]
fn regressions() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz-regressions");
    let events = events();
    for entry in std::fs::read_dir(dir).expect("tests/fuzz-regressions") {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let started = std::time::Instant::now();
        let parsed = Pattern::parse(&text);
        let parsing = started.elapsed();
        if let Ok(pattern) = &parsed {
            for event in &events {
                let _ = pattern.matches(event);
            }
        }
        println!(
            "{}: parsed ({}) in {parsing:?}, matched in {:?}",
            path.display(),
            if parsed.is_ok() { "valid" } else { "refused" },
            started.elapsed() - parsing
        );
        let reason = parsed.as_ref().map_err(|e| e.reason().to_string());
        assert!(
            reason
                .as_ref()
                .is_err_and(|r| r.starts_with("wildcard match pattern is ")
                    && r.ends_with("bytes long; at most 4096 are accepted")),
            "{}: {reason:?}",
            path.display()
        );
    }
}

#[test]
fn fuzzed_patterns_never_panic_or_hang_and_the_index_agrees() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../fuzz-failures");
    let seeds: Vec<Vec<u8>> = SEEDS.iter().map(|s| s.as_bytes().to_vec()).collect();
    let events = events();
    let parsed = std::cell::Cell::new(0u64);
    let report = mutate::fuzz("event-pattern", &seeds, TOKENS, &dir, |input| {
        let Ok(text) = std::str::from_utf8(input) else {
            return;
        };
        let Ok(pattern) = Pattern::parse(text) else {
            return;
        };
        parsed.set(parsed.get() + 1);
        let mut set = PatternSet::new();
        set.add(7, &pattern);
        for event in &events {
            let naive = pattern.matches(event);
            let indexed = set.matching_ids(event) == [7];
            assert_eq!(naive, indexed, "pattern {text} on {event}");
        }
    });
    mutate::assert_clean(&report);
    assert!(parsed.get() > 0, "no mutated pattern parsed");
}
