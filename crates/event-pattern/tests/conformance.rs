//! Conformance against recorded EventBridge behaviour.
//!
//! Reads the shared corpus (`/work/shared/corpus/patterns`, found relative to
//! this crate) and checks every case three ways: `Pattern::matches`, a
//! `PatternSet` holding only that pattern, and one `PatternSet` holding every
//! valid pattern of the file (the case's id must be present exactly when it
//! should match). For `error` cases the pattern must be refused, with AWS's
//! reason when the corpus recorded it.

use event_pattern::{Pattern, PatternSet};
use serde_json::Value;
use std::path::PathBuf;

struct Case {
    name: String,
    expected: String,
    aws_reason: Option<String>,
    pattern: Value,
    event: Value,
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/patterns")
}

fn load(file: &str, key: &str) -> Vec<Case> {
    let path = corpus_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "conformance corpus missing: cannot read {} ({e}); the shared corpus must be \
             checked out next to the repository",
            path.display()
        )
    });
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("corpus line is JSON");
            let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
            Case {
                name: s("name").expect("case has a name"),
                expected: s(key).unwrap_or_else(|| panic!("case lacks `{key}`")),
                aws_reason: s("aws_error_message").map(|m| {
                    m.split_once("Reason: ")
                        .map_or(m.clone(), |(_, r)| r.to_string())
                }),
                pattern: v["pattern"].clone(),
                event: v["event"].clone(),
            }
        })
        .collect()
}

/// Returns (agreeing cases, descriptions of disagreements).
fn check_file(file: &str, key: &str) -> (usize, usize, Vec<String>) {
    let cases = load(file, key);
    let mut failures = Vec::new();

    let mut whole = PatternSet::new();
    let compiled: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let p = Pattern::from_value(&c.pattern);
            if let Ok(p) = &p {
                whole.add(u32::try_from(i).unwrap(), p);
            }
            p
        })
        .collect();

    let mut ok = 0;
    for (i, (case, compiled)) in cases.iter().zip(&compiled).enumerate() {
        let id = u32::try_from(i).unwrap();
        let problem = match (case.expected.as_str(), compiled) {
            ("error", Ok(_)) => Some("expected error, pattern was accepted".to_string()),
            ("error", Err(e)) => match &case.aws_reason {
                Some(r) if r != e.reason() => {
                    Some(format!("error message differs: AWS `{r}`, ours `{e}`"))
                }
                _ => None,
            },
            (_, Err(e)) => Some(format!("expected {}, got error `{e}`", case.expected)),
            (exp, Ok(p)) => {
                let want = exp == "match";
                let mut single = PatternSet::new();
                single.add(id, p);
                let naive = p.matches(&case.event);
                let one = single.matching_ids(&case.event) == vec![id];
                let all = whole.matching_ids(&case.event).contains(&id);
                (naive != want || one != want || all != want).then(|| {
                    format!(
                        "expected {exp}: Pattern::matches={naive}, single-pattern set={one}, \
                         whole-file set={all}"
                    )
                })
            }
        };
        match problem {
            None => ok += 1,
            Some(p) => failures.push(format!("  [{file}] {}: {p}", case.name)),
        }
    }
    (ok, cases.len(), failures)
}

#[test]
fn conformance_corpus() {
    let files = [
        ("localstack_eventbridge_pattern_cases.jsonl", "expected"),
        (
            "event_ruler_correctness_cases_labeled.jsonl",
            "ruler_result",
        ),
        ("quamina_wildcard_cases.jsonl", "expected"),
    ];
    let mut all_failures = Vec::new();
    let (mut total_ok, mut total) = (0, 0);
    for (file, key) in files {
        let (ok, n, failures) = check_file(file, key);
        println!("{file}: {ok}/{n} agree");
        total_ok += ok;
        total += n;
        all_failures.extend(failures);
    }
    println!("total: {total_ok}/{total} agree");
    assert!(total > 0, "the corpus is empty");
    assert!(
        all_failures.is_empty(),
        "{} disagreeing case(s):\n{}",
        all_failures.len(),
        all_failures.join("\n")
    );
}
