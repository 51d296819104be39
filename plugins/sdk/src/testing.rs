//! Helpers for native tests of plugin crates (feature `native-testing`, never on wasm):
//!
//! - [`event_from_input`]: a CloudTrail record in any usual shape (bare record, EventBridge
//!   envelope, LookupEvents item) to an [`Event`] with its hot fields extracted, for unit
//!   tests, Panther agreement and the corpus run; records without an `eventID` get the
//!   host's synthetic id.
//! - [`assert_fixtures`]: runs `fixtures/*.json` of a plugin crate through its `detect`;
//!   [`assert_responder_fixtures`] through a [`Responder`]'s `handle`, checking the
//!   capability calls against the fixtures' `actions` with [`RecordingCapabilities`].
//!   Fixtures mean what they mean to the host: the format, the events handed over (the
//!   host's normaliser, routed by the plugin's patterns) and the matching of expected
//!   findings and calls all come from the `fixture-spec` crate the host uses.
//! - [`assert_panther_agreement`]: compares `detect` with Panther's labelled tests, as mapped
//!   in the crate's `panther.json`.
//! - [`assert_survives_corpus`]: runs `detect` over every record of the shared corpus.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::capability::{self, RecordingCapabilities};
use crate::json::{at, boolish, str_at, text_at};
use crate::{
    Capabilities, Config, Descriptor, Event, Finding, MemoryState, PluginError, Principal, Receipt,
    Responder, State,
};

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
    if let Some(event) = guardduty_event(input) {
        return Some(event);
    }
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
            .unwrap_or_else(|| fixture_spec::synthetic_event_id(record)),
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
        self_caused: false,
        raw,
    }
}

/// An [`Event`] from the host's normalised event: the fields the host hands a component.
fn event_from_normalized(event: fixture_spec::NormalizedEvent) -> Event {
    let raw = event.raw_json();
    let p = event.principal;
    Event {
        id: event.id,
        time: event.time,
        source: event.source,
        name: event.name,
        region: event.region,
        account: event.account,
        principal: Principal {
            r#type: p.kind,
            arn: p.arn,
            account_id: p.account_id,
            user_name: p.user_name,
            access_key_id: p.access_key_id,
            session_issuer_arn: p.session_issuer_arn,
            invoked_by: p.invoked_by,
        },
        mfa_authenticated: event.mfa_authenticated,
        source_ip: event.source_ip,
        user_agent: event.user_agent,
        error_code: event.error_code,
        error_message: event.error_message,
        read_only: event.read_only,
        event_type: event.event_type,
        self_caused: false,
        raw,
    }
}

/// A GuardDuty finding in its EventBridge envelope (detail-type `GuardDuty Finding`) as the
/// host normalises it: event type `GuardDutyFinding`, source `guardduty.amazonaws.com`, name
/// the finding type, the principal from `resource.accessKeyDetails`, `raw` the finding.
fn guardduty_event(input: &Value) -> Option<Event> {
    if str_at(input, &["detail-type"]).map(str::trim) != Some("GuardDuty Finding") {
        return None;
    }
    let finding = input.get("detail").filter(|d| d.is_object())?;
    let keys = at(finding, &["resource", "accessKeyDetails"]).unwrap_or(&Value::Null);
    let action = at(finding, &["service", "action"]).unwrap_or(&Value::Null);
    let source_ip = [
        "awsApiCallAction",
        "networkConnectionAction",
        "portProbeAction",
    ]
    .iter()
    .find_map(|kind| text_at(action, &[kind, "remoteIpDetails", "ipAddressV4"]));
    let account = text_at(finding, &["accountId"]).or_else(|| text_at(input, &["account"]));
    Some(Event {
        id: text_at(finding, &["id"]).unwrap_or_else(|| "synthetic-guardduty".to_owned()),
        time: text_at(finding, &["updatedAt"]).or_else(|| text_at(input, &["time"])),
        source: Some("guardduty.amazonaws.com".to_owned()),
        name: text_at(finding, &["type"]),
        region: text_at(finding, &["region"]).or_else(|| text_at(input, &["region"])),
        account: account.clone(),
        principal: Principal {
            r#type: text_at(keys, &["userType"]),
            account_id: account,
            user_name: text_at(keys, &["userName"]),
            access_key_id: text_at(keys, &["accessKeyId"]),
            ..Principal::default()
        },
        source_ip,
        user_agent: text_at(action, &["awsApiCallAction", "userAgent"]),
        event_type: Some("GuardDutyFinding".to_owned()),
        raw: finding.to_string(),
        ..Event::default()
    })
}

/// One fixture file (the format is `fixture-spec`'s: `{"name", "events": [...], "findings":
/// [ {subset of finding fields} ], "actions": [ {"capability", "args", "receipt"} ],
/// "config": {...}}`), with the path it was read from. Derefs to the parsed fixture.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub path: PathBuf,
    pub spec: fixture_spec::Fixture,
}

impl std::ops::Deref for Fixture {
    type Target = fixture_spec::Fixture;

    fn deref(&self) -> &fixture_spec::Fixture {
        &self.spec
    }
}

pub use fixture_spec::{ExpectedAction, ReceiptKind, ACTION_KEYS, EXPECTED_KEYS, FIXTURE_KEYS};

/// The [`Receipt`] of `kind` the harness answers the `n`th call with (1-based), as the
/// host's fixture runner answers it.
pub fn receipt_for(kind: ReceiptKind, n: usize) -> Receipt {
    let id = fixture_spec::receipt_id(n);
    match kind {
        ReceiptKind::Accepted => Receipt::Accepted(id),
        ReceiptKind::DryRun => Receipt::DryRun(id),
        ReceiptKind::PendingApproval => Receipt::PendingApproval(id),
        ReceiptKind::Denied => Receipt::Denied(fixture_spec::DENIED_BY_FIXTURE.to_owned()),
    }
}

/// A fixture's `receipt` (`accepted`, `dry-run`, `pending-approval`, `denied`) as the
/// [`Receipt`] the harness answers the `n`th call with.
///
/// # Errors
/// An unknown kind.
pub fn receipt_from_kind(kind: &str, n: usize) -> Result<Receipt, String> {
    ReceiptKind::parse(kind).map(|kind| receipt_for(kind, n))
}

/// Parses one fixture from its JSON text (see `fixture-spec`; the capabilities an action may
/// name are [`capability::ALL`]).
///
/// # Errors
/// What is wrong with it: not JSON, a missing or mistyped key, an unknown key.
pub fn parse_fixture(text: &str, path: &Path) -> Result<Fixture, String> {
    Ok(Fixture {
        spec: fixture_spec::parse(text, capability::ALL)?,
        path: path.to_owned(),
    })
}

/// The paths of `dir/*.json`, sorted by file name.
///
/// # Panics
/// If the directory cannot be read.
pub fn fixture_paths(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read fixtures in {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
}

/// Reads `dir/*.json`, sorted by file name.
///
/// # Panics
/// If the directory cannot be read or a file is not a fixture.
pub fn load_fixtures(dir: &Path) -> Vec<Fixture> {
    fixture_paths(dir)
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            parse_fixture(&text, &path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

/// Whether `finding` has every field that `expected` lists, with the same value (as the
/// host compares: `severity` without regard to case).
///
/// # Errors
/// If `expected` is not an object or uses a key outside [`EXPECTED_KEYS`].
pub fn finding_matches(finding: &Finding, expected: &Value) -> Result<bool, String> {
    let obj = expected
        .as_object()
        .ok_or_else(|| format!("expected finding is not an object: {expected}"))?;
    if let Some(key) = obj.keys().find(|k| !EXPECTED_KEYS.contains(&k.as_str())) {
        return Err(format!("unknown key `{key}` in expected finding"));
    }
    Ok(fixture_spec::finding_matches(obj, &finding.to_json()))
}

/// Whether `actual` matches the subset `expected`: an object matches when every key of
/// `expected` is in `actual` with a matching value (recursively, so a finding argument can be
/// given in part, e.g. `{"rule_id": "..."}`); anything else must be equal.
pub fn subset_matches(expected: &Value, actual: &Value) -> bool {
    fixture_spec::subset(expected, actual)
}

/// What a plugin's `handle` is to the fixture runner: the batch, capabilities, state and
/// config in, findings out.
pub type Handler<'a> = dyn Fn(&[Event], &dyn Capabilities, &dyn State, &Config) -> Result<Vec<Finding>, PluginError>
    + 'a;

/// Runs one fixture through `handle`, all its events as one batch (as the host does), with
/// a fresh [`MemoryState`], [`Config::current`], and a [`RecordingCapabilities`] that answers
/// with the fixture's receipts. The events are every input the host's normaliser makes an
/// event of (not routed: see [`run_routed_fixture`]). The findings must pair one-to-one, in
/// any order, with the expected ones; when the fixture lists `actions`, the calls must match
/// them in number and, in order, by capability and [`subset_matches`] of the arguments.
/// Every call must be to a capability in `allowed`.
///
/// # Errors
/// A description of the mismatch, with the findings and calls produced.
pub fn run_fixture(
    fixture: &Fixture,
    handle: &Handler<'_>,
    allowed: &[&str],
) -> Result<(), String> {
    run_fixture_events(fixture, None, handle, allowed)
}

/// [`run_fixture`] with only the events the plugin's `patterns` route to it, as the host
/// hands them: a fixture gives the same verdict here as in `trailwarden test`.
///
/// # Errors
/// As [`run_fixture`].
pub fn run_routed_fixture(
    fixture: &Fixture,
    patterns: &[String],
    handle: &Handler<'_>,
    allowed: &[&str],
) -> Result<(), String> {
    run_fixture_events(fixture, Some(patterns), handle, allowed)
}

fn run_fixture_events(
    fixture: &Fixture,
    patterns: Option<&[String]>,
    handle: &Handler<'_>,
    allowed: &[&str],
) -> Result<(), String> {
    let events: Vec<Event> = fixture_spec::fixture_events(&fixture.events, patterns)?
        .into_iter()
        .map(event_from_normalized)
        .collect();
    let caps = RecordingCapabilities::with_receipts(
        fixture
            .receipts()
            .into_iter()
            .enumerate()
            .map(|(i, kind)| receipt_for(kind, i + 1)),
    );
    let config = match &fixture.config {
        Some(value) => {
            Config::from_value(Value::Object(value.clone())).map_err(|e| format!("config: {e}"))?
        }
        None => Config::current().map_err(|e| format!("config: {e}"))?,
    };
    // No event for the plugin: the host does not call it.
    let produced = if events.is_empty() {
        Vec::new()
    } else {
        handle(&events, &caps, &MemoryState::new(), &config)
            .map_err(|e| format!("handle failed: {e}"))?
    };
    let calls = caps.calls();

    let mut problems = Vec::new();
    let raised: Vec<Value> = produced.iter().map(Finding::to_json).collect();
    problems.extend(fixture_spec::compare_findings(&fixture.findings, &raised));
    for call in calls.iter().filter(|c| !allowed.contains(&c.capability)) {
        problems.push(format!(
            "called {}, which the plugin does not declare (a component would be denied)",
            call.capability
        ));
    }
    if let Some(actions) = &fixture.actions {
        let made: Vec<(String, Value)> = calls
            .iter()
            .map(|c| (c.capability.to_owned(), c.args.clone()))
            .collect();
        problems.extend(fixture_spec::compare_actions(actions, &made));
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut msg = problems.join("; ");
    msg.push_str("\n  findings:");
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
    msg.push_str("\n  calls:");
    for c in &calls {
        let _ = write!(
            msg,
            "\n  - {} {} (event {})",
            c.capability, c.args, c.event_id
        );
    }
    Err(msg)
}

/// Runs one fixture through a per-event detection (no capability, state or config).
///
/// # Errors
/// As [`run_fixture`].
pub fn check_fixture(
    fixture: &Fixture,
    detect: impl Fn(&Event) -> Vec<Finding>,
) -> Result<(), String> {
    run_fixture(
        fixture,
        &|events: &[Event], _: &dyn Capabilities, _: &dyn State, _: &Config| {
            Ok(crate::detect_each(events, &detect))
        },
        &[],
    )
}

fn run_all(
    crate_dir: &str,
    patterns: Option<&[String]>,
    handle: &Handler<'_>,
    allowed: &[&str],
) -> usize {
    let fixtures = load_fixtures(&Path::new(crate_dir).join("fixtures"));
    assert!(!fixtures.is_empty(), "no fixtures in {crate_dir}/fixtures");
    let mut failures = String::new();
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for f in &fixtures {
        if let Err(e) = run_fixture_events(f, patterns, handle, allowed) {
            let _ = write!(failures, "\n{} ({}): {e}", f.name, f.path.display());
        }
        for input in &f.events {
            let Some(id) = unwrap_record(input).and_then(|r| text_at(&r, &["eventID"])) else {
                continue;
            };
            if let Some(other) = ids.insert(id.clone(), f.name.clone()) {
                let _ = write!(
                    failures,
                    "\n{}: eventID {id} is also used in `{other}` (the host deduplicates by it)",
                    f.name
                );
            }
        }
    }
    assert!(failures.is_empty(), "fixtures failed:{failures}");
    let actions: usize = fixtures
        .iter()
        .filter_map(|f| f.actions.as_ref())
        .map(Vec::len)
        .sum();
    println!(
        "{} fixtures pass ({actions} expected actions)",
        fixtures.len()
    );
    fixtures.len()
}

/// Runs every fixture in `<crate_dir>/fixtures` through a per-event detection (every event,
/// not routed: a bare detection has no patterns) and panics
/// listing those that fail. A detection calls no capability, so `actions`, if given, must be
/// empty. Returns the number of fixtures.
///
/// # Panics
/// If a fixture fails, there are none, or two use the same `eventID`.
pub fn assert_fixtures(crate_dir: &str, detect: impl Fn(&Event) -> Vec<Finding>) -> usize {
    run_all(
        crate_dir,
        None,
        &|events: &[Event], _: &dyn Capabilities, _: &dyn State, _: &Config| {
            Ok(crate::detect_each(events, &detect))
        },
        &[],
    )
}

/// Runs every fixture in `<crate_dir>/fixtures` through `R::handle`, routed by the
/// plugin's patterns as the host routes (see [`run_routed_fixture`]),
/// and checks the descriptor: [`assert_describes`]. Returns the number of fixtures.
///
/// # Panics
/// If a fixture fails, there are none, two use the same `eventID`, or the descriptor is off.
pub fn assert_responder_fixtures<R: Responder>(crate_dir: &str) -> usize {
    assert_describes::<R>(crate_dir);
    let raised = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let recording =
        |events: &[Event], caps: &dyn Capabilities, state: &dyn State, config: &Config| {
            // A fresh history per fixture (as the host runs each alone), at clock 0.
            let history = crate::MemoryHistory::new();
            let baseline = crate::MemoryBaseline::new();
            let findings =
                R::handle_with_baseline(events, caps, state, &history, &baseline, config)?;
            raised
                .borrow_mut()
                .extend(findings.iter().map(|f| f.rule_id.clone()));
            Ok(findings)
        };
    let patterns = R::describe().patterns;
    let n = run_all(crate_dir, Some(&patterns), &recording, R::CAPABILITIES);
    assert_catalog::<R>(&raised.into_inner());
    n
}

/// Runs one fixture through `R::handle` as [`assert_responder_fixtures`] runs each: routed
/// by `R`'s patterns, with a fresh state and history.
///
/// # Errors
/// As [`run_fixture`].
pub fn run_responder_fixture<R: Responder>(fixture: &Fixture) -> Result<(), String> {
    let handle = |events: &[Event], caps: &dyn Capabilities, state: &dyn State, config: &Config| {
        R::handle_with_history(events, caps, state, &crate::MemoryHistory::new(), config)
    };
    run_routed_fixture(fixture, &R::describe().patterns, &handle, R::CAPABILITIES)
}

/// Checks a responder's rule catalog (`R::rules` with the current config): ids unique and
/// non-empty, each with a title, description, runbook and ATT&CK technique, each response
/// one of `R::CAPABILITIES`, and every id in `raised` (the rule ids its fixtures produced)
/// catalogued.
///
/// # Panics
/// On the first problem.
pub fn assert_catalog<R: Responder>(raised: &std::collections::BTreeSet<String>) {
    let config = Config::current().expect("config");
    let rules = R::rules(&config);
    let mut ids = std::collections::BTreeSet::new();
    for rule in &rules {
        assert!(!rule.id.is_empty(), "a rule without an id: {rule:?}");
        assert!(
            ids.insert(rule.id.clone()),
            "rule id {} is catalogued twice",
            rule.id
        );
        assert!(
            !rule.title.is_empty() && !rule.description.is_empty() && !rule.runbook.is_empty(),
            "{}: title, description and runbook must be given",
            rule.id
        );
        assert!(
            !rule.techniques.is_empty()
                && rule.techniques.iter().all(|t| t.starts_with('T')
                    && t[1..]
                        .split('.')
                        .all(|p| p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty())),
            "{}: ATT&CK technique ids like T1562.008 expected, got {:?}",
            rule.id,
            rule.techniques
        );
        for response in &rule.response {
            assert!(
                R::CAPABILITIES.contains(&response.as_str()),
                "{}: response {response} is not in CAPABILITIES",
                rule.id
            );
        }
    }
    let missing: Vec<&String> = raised.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "rule ids raised by the fixtures but missing from rules(): {missing:?}"
    );
}

/// Checks a responder's descriptor: `describe().capabilities` are the names in
/// `R::CAPABILITIES` (each a capability of the contract), `self_caused_events` is off, and
/// it ships its fixtures ([`assert_ships_fixtures`]), and, described with the empty config,
/// the current one or any fixture's, only its patterns change.
///
/// # Panics
/// On the first difference.
pub fn assert_describes<R: Responder>(crate_dir: &str) {
    let d = R::describe();
    let mut configs = vec![Config::empty(), Config::current().expect("config")];
    for fixture in load_fixtures(&Path::new(crate_dir).join("fixtures")) {
        if let Some(config) = &fixture.config {
            configs
                .push(Config::from_value(Value::Object(config.clone())).expect("fixture config"));
        }
    }
    for config in &configs {
        let with = R::describe_with_config(config);
        assert!(
            with.name == d.name
                && with.version == d.version
                && with.capabilities == d.capabilities
                && with.fixtures == d.fixtures
                && with.self_caused_events == d.self_caused_events,
            "describe_with_config may change the patterns only (config {config:?})"
        );
    }
    for name in R::CAPABILITIES {
        assert!(
            capability::ALL.contains(name),
            "unknown capability `{name}` in CAPABILITIES"
        );
    }
    let mut declared: Vec<&str> = R::CAPABILITIES.to_vec();
    let mut described: Vec<&str> = d.capabilities.iter().map(String::as_str).collect();
    declared.sort_unstable();
    described.sort_unstable();
    assert_eq!(
        described, declared,
        "describe().capabilities must list exactly the CAPABILITIES the component imports"
    );
    assert!(
        !d.self_caused_events || R::CAPABILITIES.is_empty(),
        "a plugin that acts must not receive the events its own actions cause"
    );
    assert_ships_fixtures(crate_dir, &d);
}

/// Checks that `descriptor.fixtures` holds the text of every `<crate_dir>/fixtures/*.json`,
/// each once, and nothing else (see [`crate::fixtures!`]).
///
/// # Panics
/// On a file that is not shipped, or a shipped text that is not a file.
pub fn assert_ships_fixtures(crate_dir: &str, descriptor: &Descriptor) {
    let mut shipped: Vec<&str> = descriptor.fixtures.iter().map(String::as_str).collect();
    let mut missing = Vec::new();
    for path in fixture_paths(&Path::new(crate_dir).join("fixtures")) {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        match shipped.iter().position(|s| *s == text) {
            Some(i) => {
                shipped.remove(i);
            }
            None => missing.push(path.display().to_string()),
        }
    }
    assert!(
        missing.is_empty(),
        "fixtures not shipped in describe().fixtures (add them to fixtures![...]): {missing:?}"
    );
    assert!(
        shipped.is_empty(),
        "describe().fixtures has {} text(s) that are not (or no longer) files in fixtures/",
        shipped.len()
    );
    println!(
        "{}: ships {} fixture(s), {} bytes",
        descriptor.name,
        descriptor.fixtures.len(),
        descriptor.fixtures.iter().map(String::len).sum::<usize>()
    );
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

/// [`assert_panther_agreement`] through `R::handle`, for plugins that keep state or read
/// their config: each Panther test event is handled alone, as a batch of one, with a fresh
/// [`MemoryState`] and the `config` object of `panther.json` (default `{}`), e.g. a burst
/// threshold of 1, since Panther labels a threshold rule's single events by its `rule()`
/// alone and applies the threshold elsewhere.
///
/// # Panics
/// As [`assert_panther_agreement`].
pub fn assert_responder_panther_agreement<R: Responder>(name: &str, crate_dir: &str) {
    let path = Path::new(crate_dir).join("panther.json");
    let map: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("panther.json"))
        .expect("panther.json is JSON");
    let config = Config::from_value(
        map.get("config")
            .cloned()
            .unwrap_or(Value::Object(Default::default())),
    )
    .expect("panther.json `config` must be an object");
    assert_panther_agreement(name, crate_dir, |event| {
        let caps = RecordingCapabilities::new();
        R::handle_with_baseline(
            std::slice::from_ref(event),
            &caps,
            &*crate::state::for_tests::<R>(),
            &crate::MemoryHistory::new(),
            &crate::MemoryBaseline::new(),
            &config,
        )
        .unwrap_or_default()
    });
}

/// Every event of the shared corpus: each record of `records/records.jsonl` (all shapes,
/// including the traps) and each Panther test event.
///
/// # Panics
/// If the corpus cannot be read.
pub fn corpus_events() -> Vec<Event> {
    let mut events = Vec::new();
    for (file, field) in [
        ("records/records.jsonl", "record"),
        ("panther/panther_cloudtrail_tests.jsonl", "event"),
    ] {
        let path = corpus_dir().join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).expect("corpus line is not JSON");
            events.extend(event_from_input(&v[field]));
        }
    }
    events
}

/// Runs `detect` over every event of [`corpus_events`], each also with a `raw` that is not
/// JSON, and over an empty event; a panic fails. Returns the number of findings raised.
///
/// # Panics
/// If the corpus cannot be read, or `detect` panics.
pub fn assert_survives_corpus(detect: impl Fn(&Event) -> Vec<Finding>) -> usize {
    let mut findings = 0;
    for mut event in corpus_events() {
        findings += detect(&event).len();
        // The same hot fields with an unreadable `raw`.
        event.raw = "not json {".to_owned();
        findings += detect(&event).len();
    }
    findings += detect(&Event::default()).len();
    findings
}

/// What [`assert_responder_survives_corpus`] saw.
#[derive(Debug, Default)]
pub struct CorpusRun {
    pub events: usize,
    pub findings: usize,
    /// Capability calls, by capability name.
    pub calls: BTreeMap<&'static str, usize>,
}

/// Runs `R::handle` on every event of [`corpus_events`] (one batch each, also with a `raw`
/// that is not JSON, and marked self-caused) and on an empty event. It must not fail or
/// panic; every call must name the event being handled, be to a capability in
/// `R::CAPABILITIES`, and have no blank argument; a self-caused event must cause no call.
///
/// # Panics
/// On the first violation.
pub fn assert_responder_survives_corpus<R: Responder>() -> CorpusRun {
    let mut run = CorpusRun::default();
    let config = Config::current().expect("config");
    let mut events = corpus_events();
    events.push(Event::default());
    for event in events {
        let mut unreadable = event.clone();
        unreadable.raw = "not json {".to_owned();
        let mut self_caused = event.clone();
        self_caused.self_caused = true;
        for (variant, e) in [("", event), (" (raw not JSON)", unreadable)] {
            let caps = RecordingCapabilities::new();
            let findings = R::handle_with_baseline(
                std::slice::from_ref(&e),
                &caps,
                &*crate::state::for_tests::<R>(),
                &crate::MemoryHistory::new(),
                &crate::MemoryBaseline::new(),
                &config,
            )
            .unwrap_or_else(|err| panic!("handle failed on event {}{variant}: {err}", e.id));
            run.events += 1;
            run.findings += findings.len();
            for call in caps.calls() {
                let where_ = format!("event {}{variant}: {} {}", e.id, call.capability, call.args);
                assert_eq!(call.event_id, e.id, "{where_}: names another event");
                assert!(
                    R::CAPABILITIES.contains(&call.capability),
                    "{where_}: capability not declared"
                );
                assert!(!has_blank_string(&call.args), "{where_}: blank argument");
                *run.calls.entry(call.capability).or_default() += 1;
            }
        }
        let caps = RecordingCapabilities::new();
        let _ = R::handle_with_baseline(
            std::slice::from_ref(&self_caused),
            &caps,
            &*crate::state::for_tests::<R>(),
            &crate::MemoryHistory::new(),
            &crate::MemoryBaseline::new(),
            &config,
        );
        assert!(
            caps.calls().is_empty(),
            "self-caused event {} caused {:?}",
            self_caused.id,
            caps.capabilities_called()
        );
    }
    println!(
        "corpus: {} events, {} findings, calls {:?}",
        run.events, run.findings, run.calls
    );
    run
}

fn has_blank_string(v: &Value) -> bool {
    match v {
        Value::String(s) => s.trim().is_empty(),
        Value::Object(o) => o.iter().any(|(k, v)| k != "finding" && has_blank_string(v)),
        _ => false,
    }
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
    fn subsets_recurse_into_objects_only() {
        let call = json!({"target": "t", "finding": {"rule_id": "r", "resources": ["a", "b"]}});
        assert!(subset_matches(&json!({}), &call));
        assert!(subset_matches(&json!({"finding": {"rule_id": "r"}}), &call));
        assert!(!subset_matches(
            &json!({"finding": {"rule_id": "x"}}),
            &call
        ));
        assert!(!subset_matches(
            &json!({"finding": {"resources": ["a"]}}),
            &call
        ));
        assert!(!subset_matches(&json!({"missing": null}), &call));
    }

    #[test]
    fn fixtures_parse_actions_and_reject_unknown_keys() {
        let p = Path::new("x.json");
        let f = parse_fixture(
            r#"{"name": "n", "events": [], "findings": [], "actions": [
                {"capability": "notify.send"},
                {"capability": "iam.disable-access-key", "args": {"user-name": "u"}, "receipt": "denied"}]}"#,
            p,
        )
        .unwrap();
        let actions = f.actions.clone().unwrap();
        assert_eq!(
            receipt_for(actions[0].receipt, 1),
            Receipt::Accepted("fixture-action-1".into())
        );
        assert!(actions[0].args.is_empty());
        assert!(matches!(
            receipt_for(actions[1].receipt, 2),
            Receipt::Denied(_)
        ));
        let no_actions = parse_fixture(r#"{"name": "n", "events": [], "findings": []}"#, p);
        assert!(no_actions.unwrap().actions.is_none());
        for bad in [
            r#"{"name": "n", "events": [], "findings": [], "action": []}"#,
            r#"{"name": "n", "events": [], "findings": [], "actions": [{"capability": "iam.nope"}]}"#,
            r#"{"name": "n", "events": [], "findings": [], "actions": [{"capability": "notify.send", "receipt": "ok"}]}"#,
            r#"{"name": "n", "events": [], "findings": [], "actions": [{"capability": "notify.send", "arg": {}}]}"#,
        ] {
            assert!(parse_fixture(bad, p).is_err(), "{bad}");
        }
    }

    #[test]
    fn run_fixture_checks_actions_in_order() {
        let p = Path::new("x.json");
        let fixture = |actions: &str| {
            parse_fixture(
                &format!(
                    r#"{{"name": "n", "events": [{{"eventID": "e1"}}], "findings": [], "actions": {actions}}}"#
                ),
                p,
            )
            .unwrap()
        };
        let handle = |events: &[Event], caps: &dyn Capabilities, _: &dyn State, config: &Config| {
            let target = config.str_or("notify_target", "security-team");
            for e in events {
                if caps.start_logging(&e.id, "trail").is_granted() {
                    caps.quarantine_user(&e.id, target);
                }
            }
            Ok(Vec::new())
        };
        let allowed = [
            capability::CLOUDTRAIL_START_LOGGING,
            capability::IAM_QUARANTINE_USER,
        ];
        let both = r#"[{"capability": "cloudtrail.start-logging", "args": {"trail": "trail"}},
                      {"capability": "iam.quarantine-user", "args": {"user-name": "security-team"}}]"#;
        assert_eq!(run_fixture(&fixture(both), &handle, &allowed), Ok(()));
        // The scripted receipt reaches the plugin: denied, so no second call.
        let denied = r#"[{"capability": "cloudtrail.start-logging", "receipt": "denied"}]"#;
        assert_eq!(run_fixture(&fixture(denied), &handle, &allowed), Ok(()));
        let swapped = r#"[{"capability": "iam.quarantine-user"}, {"capability": "cloudtrail.start-logging"}]"#;
        assert!(run_fixture(&fixture(swapped), &handle, &allowed).is_err());
        assert!(run_fixture(&fixture("[]"), &handle, &allowed).is_err());
        // Undeclared capabilities fail even without `actions`.
        let unchecked = parse_fixture(
            r#"{"name": "n", "events": [{"eventID": "e2"}], "findings": []}"#,
            p,
        )
        .unwrap();
        assert!(run_fixture(&unchecked, &handle, &allowed).is_ok());
        assert!(run_fixture(&unchecked, &handle, &allowed[..1]).is_err());
    }
}
