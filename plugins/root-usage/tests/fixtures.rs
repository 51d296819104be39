//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, and the
//! Panther comparison and the shared corpus through `detect` (and `handle`).
#![cfg(not(target_arch = "wasm32"))]

use trailwarden_plugin_sdk::testing;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<root_usage::RootUsage>(DIR);
}

/// The fixtures of `crates/fixture-spec/cases/root-usage` give the verdict their name says
/// (`pass-*`, `fail-*`), as they do through the host
/// (`fixtures::the_shared_fixture_cases_give_their_verdict_through_the_host`).
#[test]
fn the_shared_fixture_cases_give_their_verdict_natively() {
    let dir = std::path::Path::new(DIR).join("../../crates/fixture-spec/cases/root-usage");
    let paths = testing::fixture_paths(&dir);
    assert!(paths.len() >= 6, "cases in {}", dir.display());
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let verdict = testing::parse_fixture(&text, &path)
            .and_then(|f| testing::run_responder_fixture::<root_usage::RootUsage>(&f));
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(
            verdict.is_ok(),
            name.starts_with("pass-"),
            "{name}: {verdict:?}"
        );
    }
}

#[test]
fn panther_agreement() {
    testing::assert_panther_agreement("root-usage", DIR, root_usage::detect);
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(root_usage::detect);
    testing::assert_responder_survives_corpus::<root_usage::RootUsage>();
}

#[test]
fn descriptor_names_the_crate_and_parses() {
    let d = root_usage::descriptor();
    assert_eq!(d.name, "root-usage");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        d.capabilities,
        trailwarden_plugin_sdk::strings(root_usage::CAPABILITIES)
    );
    assert!(!d.self_caused_events);
    for p in &d.patterns {
        let v: trailwarden_plugin_sdk::serde_json::Value =
            trailwarden_plugin_sdk::serde_json::from_str(p).expect("pattern is JSON");
        assert!(v.is_object());
    }
}

fn root_event(raw: &str) -> trailwarden_plugin_sdk::Event {
    trailwarden_plugin_sdk::Event {
        id: "e1".into(),
        source: Some("iam.amazonaws.com".into()),
        name: Some("CreateUser".into()),
        account: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        source_ip: Some("192.0.2.1".into()),
        principal: trailwarden_plugin_sdk::Principal {
            r#type: Some("Root".into()),
            ..Default::default()
        },
        event_type: Some("AwsApiCall".into()),
        raw: raw.into(),
        ..Default::default()
    }
}

#[test]
fn hot_fields_suffice_when_raw_is_not_json() {
    let f = root_usage::detect(&root_event("not json"));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].resources, vec!["arn:aws:iam::111122223333:root"]);
    assert_eq!(f[0].dedup_key, "aws.root.usage:111122223333:192.0.2.1");
    let ctx: trailwarden_plugin_sdk::serde_json::Value =
        trailwarden_plugin_sdk::serde_json::from_str(&f[0].context).unwrap();
    assert!(ctx.is_object());
}

#[test]
fn services_errors_and_network_records_are_not_root_use() {
    let mut e = root_event("{}");
    e.principal.invoked_by = Some("cloudformation.amazonaws.com".into());
    assert!(root_usage::detect(&e).is_empty());
    let mut e = root_event("{}");
    e.event_type = Some("AwsVpceEvent".into());
    assert!(root_usage::detect(&e).is_empty());
    let mut e = root_event("{}");
    e.error_code = Some("AccessDenied".into());
    assert!(root_usage::detect(&e).is_empty());
}

fn sign_in() -> trailwarden_plugin_sdk::Event {
    let mut e = root_event(r#"{"responseElements": {"ConsoleLogin": "Success"}}"#);
    e.source = Some("signin.amazonaws.com".into());
    e.name = Some("ConsoleLogin".into());
    e.event_type = Some("AwsConsoleSignIn".into());
    e
}

fn handle(
    events: &[trailwarden_plugin_sdk::Event],
    config: &trailwarden_plugin_sdk::Config,
) -> (usize, Vec<trailwarden_plugin_sdk::serde_json::Value>) {
    use trailwarden_plugin_sdk::Responder;
    let caps = trailwarden_plugin_sdk::RecordingCapabilities::new();
    let findings = root_usage::RootUsage::handle(
        events,
        &caps,
        &trailwarden_plugin_sdk::MemoryState::new(),
        config,
    )
    .unwrap();
    (findings.len(), caps.calls_json())
}

#[test]
fn sign_ins_notify_the_configured_target() {
    use trailwarden_plugin_sdk::{serde_json::json, Config};
    let (findings, calls) = handle(&[sign_in(), root_event("{}")], &Config::empty());
    assert_eq!(findings, 2, "both are root use");
    assert_eq!(
        calls.len(),
        1,
        "the sign-in is sent, the session's next call is not"
    );
    assert_eq!(calls[0]["capability"], "notify.send");
    assert_eq!(calls[0]["args"]["target"], "security-team");
    assert_eq!(calls[0]["args"]["finding"]["rule_id"], "aws.root.usage");
    let config = Config::from_value(json!({"notify_target": "oncall"})).unwrap();
    let (_, calls) = handle(&[sign_in()], &config);
    assert_eq!(calls[0]["args"]["target"], "oncall");
    let mut own = sign_in();
    own.self_caused = true;
    assert_eq!(handle(&[own], &config), (1, Vec::new()));
}

#[test]
fn catalog_names_the_configured_target() {
    use trailwarden_plugin_sdk::{serde_json::json, Config};
    let rules = root_usage::rules(&Config::empty());
    assert_eq!(rules.len(), 2);
    let usage = rules.iter().find(|r| r.id == root_usage::RULE_ID).unwrap();
    assert_eq!(usage.techniques, vec!["T1078.004"]);
    assert_eq!(usage.response, vec!["notify.send"]);
    assert!(usage.description.contains("security-team"));
    assert!(usage.description.contains("per 3600 seconds"));
    let reads = rules
        .iter()
        .find(|r| r.id == root_usage::READ_ONLY_RULE_ID)
        .unwrap();
    assert_eq!(reads.response, vec!["notify.send"]);
    assert!(reads
        .description
        .contains("once per session per 3600 seconds"));
    let config =
        Config::from_value(json!({"notify_target": "oncall", "notify_window_seconds": 0})).unwrap();
    let rules = root_usage::rules(&config);
    assert!(rules.iter().all(|r| r.description.contains("oncall")));
    assert!(rules.iter().all(|r| !r.description.contains("seconds")));
}

/// A read-only root call (`iam:ListAccessKeys`) from `ip` at `id`.
fn read(id: &str, ip: &str) -> trailwarden_plugin_sdk::Event {
    let mut e = root_event("{}");
    e.id = id.into();
    e.name = Some("ListAccessKeys".into());
    e.read_only = Some(true);
    e.source_ip = Some(ip.into());
    e
}

/// A root call that changes something (`iam:CreateUser`) from `ip` at `id`.
fn change(id: &str, ip: &str) -> trailwarden_plugin_sdk::Event {
    let mut e = root_event("{}");
    e.id = id.into();
    e.source_ip = Some(ip.into());
    e
}

/// Runs batches one after another on one state, the clock moved by `gap` seconds before
/// each; returns the (event id, rule id) of every notification.
fn sent(
    batches: &[Vec<trailwarden_plugin_sdk::Event>],
    gap: u64,
    config: &trailwarden_plugin_sdk::Config,
    caps: &trailwarden_plugin_sdk::RecordingCapabilities,
) -> Vec<(String, String)> {
    use trailwarden_plugin_sdk::Responder;
    let state = trailwarden_plugin_sdk::MemoryState::new();
    for batch in batches {
        state.advance(gap);
        root_usage::RootUsage::handle(batch, caps, &state, config).unwrap();
    }
    caps.calls()
        .iter()
        .map(|c| {
            assert_eq!(c.capability, "notify.send");
            (
                c.event_id.clone(),
                c.args["finding"]["rule_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn ids(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(e, r)| ((*e).to_owned(), (*r).to_owned()))
        .collect()
}

const READS: &str = "aws.root.read-only-usage";
const USAGE: &str = "aws.root.usage";

#[test]
fn reads_are_sent_once_per_session_and_window() {
    use trailwarden_plugin_sdk::Config;
    let caps = trailwarden_plugin_sdk::RecordingCapabilities::new();
    let a = "192.0.2.1";
    let b = "198.51.100.7";
    let got = sent(
        &[
            vec![read("r1", a), read("r2", a), read("r3", b)],
            vec![read("r4", a), read("r5", b)],
        ],
        60,
        &Config::empty(),
        &caps,
    );
    // One per address (the dedup key is account and source IP), across batches.
    assert_eq!(got, ids(&[("r1", READS), ("r3", READS)]));
    // Once the window (an hour by default) has passed, the next read is sent again.
    let caps = trailwarden_plugin_sdk::RecordingCapabilities::new();
    let got = sent(
        &[
            vec![read("r1", a)],
            vec![read("r2", a)],
            vec![read("r3", a)],
        ],
        1800,
        &Config::empty(),
        &caps,
    );
    assert_eq!(got, ids(&[("r1", READS), ("r3", READS)]));
}

#[test]
fn a_change_after_reads_is_sent_once_more_and_then_silences_the_session() {
    use trailwarden_plugin_sdk::Config;
    let caps = trailwarden_plugin_sdk::RecordingCapabilities::new();
    let a = "192.0.2.1";
    let got = sent(
        &[vec![
            read("r1", a),
            change("c1", a),
            read("r2", a),
            change("c2", a),
        ]],
        0,
        &Config::empty(),
        &caps,
    );
    assert_eq!(got, ids(&[("r1", READS), ("c1", USAGE)]));
    // A change first: the reads of that session are not sent.
    let caps = trailwarden_plugin_sdk::RecordingCapabilities::new();
    let got = sent(
        &[vec![change("c1", a), read("r1", a), change("c2", a)]],
        0,
        &Config::empty(),
        &caps,
    );
    assert_eq!(got, ids(&[("c1", USAGE)]));
}

#[test]
fn sign_ins_are_always_sent_and_silence_the_session() {
    use trailwarden_plugin_sdk::Config;
    let caps = trailwarden_plugin_sdk::RecordingCapabilities::new();
    let mut s1 = sign_in();
    s1.id = "s1".into();
    let mut s2 = sign_in();
    s2.id = "s2".into();
    let ip = s1.source_ip.clone().unwrap();
    let got = sent(
        &[vec![
            read("r1", &ip),
            s1,
            read("r2", &ip),
            change("c1", &ip),
            s2,
        ]],
        0,
        &Config::empty(),
        &caps,
    );
    assert_eq!(got, ids(&[("r1", READS), ("s1", USAGE), ("s2", USAGE)]));
}

#[test]
fn a_denied_notification_is_tried_again_and_a_zero_window_sends_every_finding() {
    use trailwarden_plugin_sdk::{serde_json::json, Config, Receipt, RecordingCapabilities};
    let a = "192.0.2.1";
    let caps = RecordingCapabilities::with_receipts([Receipt::Denied("over budget".into())]);
    let got = sent(
        &[vec![read("r1", a), read("r2", a), read("r3", a)]],
        0,
        &Config::empty(),
        &caps,
    );
    assert_eq!(got, ids(&[("r1", READS), ("r2", READS)]));
    // Dry-run is granted: it sets the mark like an accepted call.
    let caps = RecordingCapabilities::with_receipts([Receipt::DryRun("a1".into())]);
    let got = sent(
        &[vec![read("r1", a), read("r2", a)]],
        0,
        &Config::empty(),
        &caps,
    );
    assert_eq!(got, ids(&[("r1", READS)]));
    let every = Config::from_value(json!({"notify_window_seconds": 0})).unwrap();
    let caps = RecordingCapabilities::new();
    let got = sent(
        &[vec![read("r1", a), read("r2", a), change("c1", a)]],
        0,
        &every,
        &caps,
    );
    assert_eq!(got, ids(&[("r1", READS), ("r2", READS), ("c1", USAGE)]));
}

#[test]
fn settings_fall_back_to_the_default_window_on_a_bad_value() {
    use root_usage::{Settings, DEFAULT_NOTIFY_WINDOW_SECONDS};
    use trailwarden_plugin_sdk::{serde_json::json, Config};
    let s = Settings::from_config(&Config::empty());
    assert_eq!(s.notify_target, "security-team");
    assert_eq!(s.notify_window_seconds, DEFAULT_NOTIFY_WINDOW_SECONDS);
    for bad in [json!(-5), json!("1h"), json!(1.5), json!(u64::MAX)] {
        let config = Config::from_value(json!({ "notify_window_seconds": bad })).unwrap();
        assert_eq!(
            Settings::from_config(&config).notify_window_seconds,
            DEFAULT_NOTIFY_WINDOW_SECONDS
        );
    }
    let config = Config::from_value(json!({"notify_window_seconds": 600})).unwrap();
    assert_eq!(Settings::from_config(&config).notify_window_seconds, 600);
}

#[test]
fn self_caused_root_use_is_never_sent() {
    use trailwarden_plugin_sdk::Config;
    let caps = trailwarden_plugin_sdk::RecordingCapabilities::new();
    let mut own = read("r1", "192.0.2.1");
    own.self_caused = true;
    let mut own_change = change("c1", "192.0.2.1");
    own_change.self_caused = true;
    assert!(sent(&[vec![own, own_change]], 0, &Config::empty(), &caps).is_empty());
}
