//! Helpers for native tests of plugin crates (feature `native-testing`, never on wasm):
//!
//! - [`event_from_input`]: a CloudTrail record in any usual shape (bare record, EventBridge
//!   envelope, LookupEvents item) to an [`Event`] with its hot fields extracted. The host has
//!   its own normaliser; this one is deliberately small and only serves the tests.
//! - [`assert_fixtures`]: runs `fixtures/*.json` of a plugin crate through its `detect`.
//! - [`assert_panther_agreement`]: compares `detect` with Panther's labelled tests, as mapped
//!   in the crate's `panther.json`.
//! - [`assert_survives_corpus`]: runs `detect` over every record of the shared corpus.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::json::{at, boolish, str_at, text_at};
use crate::{Event, Finding, Principal};

/// The shared test corpus: `$TRAILWARDEN_CORPUS`, else `shared/corpus` beside the repository.
pub fn corpus_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRAILWARDEN_CORPUS") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

/// An [`Event`] from a JSON input in any of the shapes CloudTrail data arrives in: a bare
/// record (also with logstash fields), an EventBridge envelope (`detail`), or a LookupEvents
/// item (`CloudTrailEvent` as a JSON string). `None` if it is not a JSON object.
pub fn event_from_input(input: &Value) -> Option<Event> {
    let record = unwrap_record(input)?;
    Some(event_from_record(&record))
}

fn unwrap_record(input: &Value) -> Option<Value> {
    let obj = input.as_object()?;
    if let Some(detail @ Value::Object(_)) = obj.get("detail") {
        if obj.contains_key("detail-type") || obj.contains_key("source") {
            return Some(detail.clone());
        }
    }
    if let Some(Value::String(text)) = obj.get("CloudTrailEvent") {
        return serde_json::from_str::<Value>(text)
            .ok()
            .filter(Value::is_object);
    }
    Some(input.clone())
}

/// An [`Event`] from a bare CloudTrail record; `raw` is the record's JSON text.
pub fn event_from_record(record: &Value) -> Event {
    let raw = record.to_string();
    let ui = record.get("userIdentity").unwrap_or(&Value::Null);
    let principal_type = text_at(ui, &["type"]);
    let user_name = text_at(ui, &["userName"]).or_else(|| {
        text_at(ui, &["sessionContext", "sessionIssuer", "userName"])
            .filter(|_| principal_type.as_deref() == Some("AssumedRole"))
    });
    let mfa = at(record, &["additionalEventData", "MFAUsed"])
        .and_then(boolish)
        .or_else(|| {
            at(ui, &["sessionContext", "attributes", "mfaAuthenticated"]).and_then(boolish)
        });
    Event {
        id: text_at(record, &["eventID"])
            .unwrap_or_else(|| format!("synthetic-{:016x}", fnv1a(raw.as_bytes()))),
        time: text_at(record, &["eventTime"]),
        source: text_at(record, &["eventSource"]),
        name: text_at(record, &["eventName"]),
        region: text_at(record, &["awsRegion"]),
        account: text_at(record, &["recipientAccountId"]),
        principal: Principal {
            r#type: principal_type,
            arn: text_at(ui, &["arn"]),
            account_id: text_at(ui, &["accountId"]),
            user_name,
            access_key_id: text_at(ui, &["accessKeyId"]),
            session_issuer_arn: text_at(ui, &["sessionContext", "sessionIssuer", "arn"]),
            invoked_by: text_at(ui, &["invokedBy"]),
        },
        mfa_authenticated: mfa,
        source_ip: text_at(record, &["sourceIPAddress"]),
        user_agent: text_at(record, &["userAgent"]),
        error_code: text_at(record, &["errorCode"]),
        error_message: text_at(record, &["errorMessage"]),
        read_only: at(record, &["readOnly"]).and_then(boolish),
        event_type: text_at(record, &["eventType"]),
        raw,
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One fixture file: `{"name", "events": [...], "findings": [ {subset of finding fields} ]}`.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub path: PathBuf,
    pub name: String,
    pub events: Vec<Value>,
    pub findings: Vec<Value>,
}

/// Keys an expected finding may use.
pub const EXPECTED_KEYS: &[&str] = &[
    "rule_id",
    "severity",
    "title",
    "resources",
    "dedup_key",
    "event_id",
];

/// Reads `dir/*.json`, sorted by file name.
///
/// # Panics
/// If the directory cannot be read or a file is not a fixture.
pub fn load_fixtures(dir: &Path) -> Vec<Fixture> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read fixtures in {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            let list = |key: &str| -> Vec<Value> {
                v.get(key)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_else(|| panic!("{}: `{key}` must be an array", path.display()))
            };
            Fixture {
                name: str_at(&v, &["name"])
                    .unwrap_or_else(|| panic!("{}: `name` missing", path.display()))
                    .to_owned(),
                events: list("events"),
                findings: list("findings"),
                path,
            }
        })
        .collect()
}

/// Whether `finding` has every field that `expected` lists, with the same value.
///
/// # Errors
/// If `expected` is not an object or uses a key outside [`EXPECTED_KEYS`].
pub fn finding_matches(finding: &Finding, expected: &Value) -> Result<bool, String> {
    let obj = expected
        .as_object()
        .ok_or_else(|| format!("expected finding is not an object: {expected}"))?;
    for (key, want) in obj {
        let same = match key.as_str() {
            "rule_id" => want.as_str() == Some(finding.rule_id.as_str()),
            "severity" => want
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(finding.severity.as_str())),
            "title" => want.as_str() == Some(finding.title.as_str()),
            "dedup_key" => want.as_str() == Some(finding.dedup_key.as_str()),
            "event_id" => want.as_str() == Some(finding.event_id.as_str()),
            "resources" => {
                want.as_array()
                    .map(|a| a.iter().map(Value::as_str).collect::<Vec<_>>())
                    == Some(finding.resources.iter().map(|s| Some(s.as_str())).collect())
            }
            other => return Err(format!("unknown key `{other}` in expected finding")),
        };
        if !same {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs one fixture: the findings of all its events must pair one-to-one, in any order,
/// with the expected ones.
///
/// # Errors
/// A description of the mismatch, with the findings produced.
pub fn check_fixture(
    fixture: &Fixture,
    detect: impl Fn(&Event) -> Vec<Finding>,
) -> Result<(), String> {
    let mut produced = Vec::new();
    for (i, input) in fixture.events.iter().enumerate() {
        let event = event_from_input(input).ok_or_else(|| format!("event {i} is not an object"))?;
        produced.extend(detect(&event));
    }
    let mut table = Vec::new();
    for want in &fixture.findings {
        let row = produced
            .iter()
            .map(|f| finding_matches(f, want))
            .collect::<Result<Vec<bool>, String>>()?;
        table.push(row);
    }
    let ok = produced.len() == fixture.findings.len() && perfect_matching(&table);
    if ok {
        return Ok(());
    }
    let mut msg = format!(
        "expected {} finding(s), produced {}:",
        fixture.findings.len(),
        produced.len()
    );
    for f in &produced {
        let _ = write!(
            msg,
            "\n  - {} {} event_id={} resources={:?} dedup_key={} title={:?}",
            f.rule_id,
            f.severity.as_str(),
            f.event_id,
            f.resources,
            f.dedup_key,
            f.title
        );
    }
    Err(msg)
}

/// Whether rows (expected) can each take a distinct column (produced) where `table` is true.
fn perfect_matching(table: &[Vec<bool>]) -> bool {
    fn assign(row: usize, table: &[Vec<bool>], used: &mut Vec<bool>) -> bool {
        if row == table.len() {
            return true;
        }
        for col in 0..used.len() {
            if table[row][col] && !used[col] {
                used[col] = true;
                if assign(row + 1, table, used) {
                    return true;
                }
                used[col] = false;
            }
        }
        false
    }
    let cols = table.first().map_or(0, Vec::len);
    assign(0, table, &mut vec![false; cols])
}

/// Runs every fixture in `<crate_dir>/fixtures` and panics listing those that fail.
///
/// # Panics
/// If a fixture fails, or there are none.
pub fn assert_fixtures(crate_dir: &str, detect: impl Fn(&Event) -> Vec<Finding>) {
    let fixtures = load_fixtures(&Path::new(crate_dir).join("fixtures"));
    assert!(!fixtures.is_empty(), "no fixtures in {crate_dir}/fixtures");
    let mut failures = String::new();
    for f in &fixtures {
        if let Err(e) = check_fixture(f, &detect) {
            let _ = write!(failures, "\n{} ({}): {e}", f.name, f.path.display());
        }
    }
    assert!(failures.is_empty(), "fixtures failed:{failures}");
    println!("{} fixtures pass", fixtures.len());
}

/// The result of comparing a plugin with Panther's tests.
#[derive(Debug, Default)]
pub struct Agreement {
    pub total: usize,
    pub agree: usize,
    /// `"<PantherRuleId>/<test_name>"` of each test where we differ.
    pub disagreements: Vec<String>,
    /// Known differences (from `panther.json`) that no longer hold.
    pub stale: Vec<String>,
    /// Disagreements not listed in `known_differences`.
    pub unexplained: Vec<String>,
}

/// Compares `detect` with every Panther test of the rules mapped in `<crate_dir>/panther.json`.
///
/// A test with `expected: true` agrees when `detect` raises a finding with one of the mapped
/// rule ids; `expected: false` agrees when it raises none of them.
///
/// # Panics
/// If `panther.json` or the corpus cannot be read.
pub fn panther_agreement(crate_dir: &str, detect: impl Fn(&Event) -> Vec<Finding>) -> Agreement {
    let path = Path::new(crate_dir).join("panther.json");
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let mut rules: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (panther, ours) in config["rules"]
        .as_object()
        .expect("`rules` must be an object")
    {
        let ours = match ours {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => panic!("rule `{panther}` must map to a string or a list of strings"),
        };
        rules.insert(panther.clone(), ours);
    }
    let known: BTreeMap<String, String> = config
        .get("known_differences")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();

    let tests_path = corpus_dir().join("panther/panther_cloudtrail_tests.jsonl");
    let text = std::fs::read_to_string(&tests_path).unwrap_or_else(|e| {
        panic!(
            "cannot read the Panther tests at {} ({e}); set TRAILWARDEN_CORPUS to the corpus folder",
            tests_path.display()
        )
    });
    let mut report = Agreement::default();
    let mut seen = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let test: Value = serde_json::from_str(line).expect("Panther test line is not JSON");
        let rule = test["rule_id"].as_str().unwrap_or_default();
        let Some(ours) = rules.get(rule) else {
            continue;
        };
        let key = format!("{rule}/{}", test["test_name"].as_str().unwrap_or_default());
        let expected = test["expected"].as_bool().unwrap_or(false);
        let raised = event_from_input(&test["event"])
            .map(|e| detect(&e).iter().any(|f| ours.contains(&f.rule_id)))
            .unwrap_or(false);
        report.total += 1;
        seen.push(key.clone());
        if raised == expected {
            report.agree += 1;
            if known.contains_key(&key) {
                report.stale.push(key);
            }
        } else {
            if !known.contains_key(&key) {
                report.unexplained.push(key.clone());
            }
            report.disagreements.push(key);
        }
    }
    for key in known.keys() {
        if !seen.contains(key) {
            report.stale.push(format!("{key} (no such mapped test)"));
        }
    }
    report
}

/// [`panther_agreement`], printed as `<name>: N/M agree`, failing on an unexplained
/// disagreement or a stale known difference.
///
/// # Panics
/// As said, or if no mapped test was found.
pub fn assert_panther_agreement(
    name: &str,
    crate_dir: &str,
    detect: impl Fn(&Event) -> Vec<Finding>,
) {
    let r = panther_agreement(crate_dir, detect);
    println!(
        "{name}: {}/{} agree ({} known difference(s): {:?})",
        r.agree,
        r.total,
        r.disagreements.len(),
        r.disagreements
    );
    assert!(
        r.total > 0,
        "{name}: no Panther test of the mapped rules was found"
    );
    assert!(
        r.unexplained.is_empty(),
        "{name}: disagreements not listed in known_differences: {:?}",
        r.unexplained
    );
    assert!(
        r.stale.is_empty(),
        "{name}: known_differences that no longer disagree: {:?}",
        r.stale
    );
}

/// Runs `detect` over every record of the shared corpus (all shapes, including the traps)
/// and every Panther test event, and over an event whose `raw` is not JSON; a panic fails.
/// Returns the number of findings raised.
///
/// # Panics
/// If the corpus cannot be read, or `detect` panics.
pub fn assert_survives_corpus(detect: impl Fn(&Event) -> Vec<Finding>) -> usize {
    let mut inputs = Vec::new();
    for (file, field) in [
        ("records/records.jsonl", "record"),
        ("panther/panther_cloudtrail_tests.jsonl", "event"),
    ] {
        let path = corpus_dir().join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).expect("corpus line is not JSON");
            inputs.push(v[field].clone());
        }
    }
    let mut findings = 0;
    for input in &inputs {
        if let Some(mut event) = event_from_input(input) {
            findings += detect(&event).len();
            // The same hot fields with an unreadable `raw`.
            event.raw = "not json {".to_owned();
            findings += detect(&event).len();
        }
    }
    findings += detect(&Event::default()).len();
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unwraps_envelopes_and_lookup_events() {
        let record = json!({"eventID": "e1", "eventName": "X", "recipientAccountId": 123,
            "userIdentity": {"type": "AssumedRole", "sessionContext": {"sessionIssuer": {"userName": "r", "arn": "arn:aws:iam::1:role/r"}, "attributes": {"mfaAuthenticated": "true"}}},
            "readOnly": "false"});
        let envelope = json!({"version": "0", "detail-type": "AWS API Call via CloudTrail", "source": "aws.x", "detail": record});
        let lookup = json!({"EventId": "e1", "CloudTrailEvent": record.to_string()});
        for input in [&record, &envelope, &lookup] {
            let e = event_from_input(input).unwrap();
            assert_eq!(e.id, "e1");
            assert_eq!(e.account.as_deref(), Some("123"));
            assert_eq!(e.principal.user_name.as_deref(), Some("r"));
            assert_eq!(
                e.principal.session_issuer_arn.as_deref(),
                Some("arn:aws:iam::1:role/r")
            );
            assert_eq!(e.mfa_authenticated, Some(true));
            assert_eq!(e.read_only, Some(false));
        }
        let bare = event_from_input(&json!({})).unwrap();
        assert!(bare.id.starts_with("synthetic-"));
    }

    #[test]
    fn matching_is_one_to_one_in_any_order() {
        assert!(perfect_matching(&[vec![true, true], vec![true, false]]));
        assert!(!perfect_matching(&[vec![true, false], vec![true, false]]));
        assert!(perfect_matching(&[]));
    }
}
