//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, the
//! Panther comparison through `handle` with `panther.json`'s config, and the shared corpus;
//! then the burst windows and the responses one by one.
#![cfg(not(target_arch = "wasm32"))]

use keys_secrets::{
    KeysSecrets, Settings, ACCESS_DENIED_BURST, CAPABILITIES, KEY_LOSS, SCANNER, SECRET_READ_BURST,
};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::testing::{self, event_from_record};
use trailwarden_plugin_sdk::{Config, Event, MemoryState, RecordingCapabilities, Responder};

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<KeysSecrets>(DIR);
}

#[test]
fn panther_agreement() {
    testing::assert_responder_panther_agreement::<KeysSecrets>("keys-secrets", DIR);
}

#[test]
fn survives_the_corpus() {
    let settings = Settings::default();
    testing::assert_survives_corpus(|e| keys_secrets::detect(e, &settings, &MemoryState::new()));
    testing::assert_responder_survives_corpus::<KeysSecrets>();
}

#[test]
fn descriptor_names_the_crate_and_parses() {
    let d = keys_secrets::descriptor();
    assert_eq!(d.name, "keys-secrets");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        d.capabilities,
        trailwarden_plugin_sdk::strings(CAPABILITIES)
    );
    assert!(!d.self_caused_events);
    for p in &d.patterns {
        let v: Value = trailwarden_plugin_sdk::serde_json::from_str(p).expect("pattern is JSON");
        assert!(v.is_object());
    }
    let ids: Vec<String> = keys_secrets::rules(&Config::empty())
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        ids,
        [KEY_LOSS, SCANNER, ACCESS_DENIED_BURST, SECRET_READ_BURST]
    );
}

/// Runs `handle` over `records` as one batch, with `state` and `config`.
fn run(
    records: &[Value],
    state: &MemoryState,
    config: Value,
) -> (Vec<trailwarden_plugin_sdk::Finding>, RecordingCapabilities) {
    let events: Vec<Event> = records.iter().map(event_from_record).collect();
    let caps = RecordingCapabilities::new();
    let findings =
        KeysSecrets::handle(&events, &caps, state, &Config::from_value(config).unwrap()).unwrap();
    (findings, caps)
}

fn denial(i: usize, user: &str) -> Value {
    json!({
        "eventID": format!("denial-{user}-{i}"),
        "eventTime": "2024-05-01T10:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "ListRoles",
        "eventType": "AwsApiCall",
        "errorCode": "AccessDenied",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-sdk-go-v2/1.24.0",
        "recipientAccountId": "111122223333",
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/{user}"),
            "accountId": "111122223333", "userName": user, "principalId": "AIDAEXAMPLE",
            "accessKeyId": "AKIAEXAMPLEKEY000001"}
    })
}

#[test]
fn a_burst_fires_once_per_window_and_again_in_the_next() {
    let state = MemoryState::new();
    let config = json!({"access_denied_threshold": 3, "window_seconds": 60});
    let batch: Vec<Value> = (0..5).map(|i| denial(i, "alice")).collect();
    let (findings, caps) = run(&batch, &state, config.clone());
    assert_eq!(findings.len(), 1, "once per window");
    assert_eq!(
        findings[0].event_id, "denial-alice-2",
        "at the third denial"
    );
    assert_eq!(
        caps.capabilities_called(),
        ["notify.send", "iam.disable-access-key"]
    );
    // Still the same window: nothing more.
    let (findings, _) = run(&[denial(5, "alice")], &state, config.clone());
    assert!(findings.is_empty());
    // The window closes; a new one counts from zero.
    state.advance(61);
    let batch: Vec<Value> = (10..13).map(|i| denial(i, "alice")).collect();
    let (findings, _) = run(&batch, &state, config);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].event_id, "denial-alice-12");
}

#[test]
fn bursts_are_counted_per_principal() {
    let state = MemoryState::new();
    let config = json!({"access_denied_threshold": 2});
    let batch = [denial(0, "alice"), denial(0, "bob")];
    assert!(run(&batch, &state, config.clone()).0.is_empty());
    let (findings, _) = run(&[denial(1, "bob")], &state, config);
    assert_eq!(findings.len(), 1);
    assert_eq!(
        findings[0].resources,
        ["arn:aws:iam::111122223333:user/bob"]
    );
}

fn read(i: usize, role_arn: &str, issuer: &str, secret: &str) -> Value {
    json!({
        "eventID": format!("read-{i}"),
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": "GetSecretValue",
        "eventType": "AwsApiCall",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.4",
        "recipientAccountId": "111122223333",
        "requestParameters": {"secretId": secret},
        "userIdentity": {"type": "AssumedRole", "arn": role_arn, "accountId": "111122223333",
            "principalId": "AROAEXAMPLE:s",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": issuer,
                "userName": issuer.rsplit('/').next().unwrap()}}}
    })
}

#[test]
fn a_secret_read_again_in_a_new_window_counts_again() {
    let state = MemoryState::new();
    let config = json!({"secret_read_threshold": 2, "window_seconds": 100});
    let session = "arn:aws:sts::111122223333:assumed-role/app/s";
    let issuer = "arn:aws:iam::111122223333:role/app";
    assert!(
        run(&[read(0, session, issuer, "a")], &state, config.clone())
            .0
            .is_empty()
    );
    state.advance(101);
    // "a" was seen in the old window only: in the new one it counts again, with "b".
    let batch = [read(1, session, issuer, "a"), read(2, session, issuer, "b")];
    let (findings, caps) = run(&batch, &state, config);
    assert_eq!(findings.len(), 1);
    assert_eq!(
        caps.calls_json(),
        [json!({"capability": "iam.revoke-role-sessions", "args": {"role-name": "app"}})]
    );
}

#[test]
fn identity_center_and_service_linked_roles_are_reported_not_revoked() {
    for issuer in [
        "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123",
        "arn:aws:iam::111122223333:role/aws-service-role/ops.example.amazonaws.com/AWSServiceRoleForX",
    ] {
        let session = "arn:aws:sts::111122223333:assumed-role/r/s";
        let (findings, caps) = run(
            &[read(0, session, issuer, "a")],
            &MemoryState::new(),
            json!({"secret_read_threshold": 1, "notify_target": "soc"}),
        );
        assert_eq!(findings.len(), 1);
        assert_eq!(caps.capabilities_called(), ["notify.send"]);
        assert_eq!(caps.calls_json()[0]["args"]["target"], "soc");
    }
}

#[test]
fn self_caused_events_are_counted_but_not_answered() {
    let mut events: Vec<Event> = (0..10)
        .map(|i| event_from_record(&denial(i, "al")))
        .collect();
    for e in &mut events {
        e.self_caused = true;
    }
    let caps = RecordingCapabilities::new();
    let findings =
        KeysSecrets::handle(&events, &caps, &MemoryState::new(), &Config::empty()).unwrap();
    assert_eq!(findings.len(), 1);
    assert!(caps.calls().is_empty());
}

#[test]
fn the_scanner_list_is_the_configs() {
    let call = json!({
        "eventID": "scan-1", "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets",
        "eventType": "AwsApiCall", "sourceIPAddress": "192.0.2.8", "recipientAccountId": "111122223333",
        "userAgent": "Scout Suite/5.12.0 Python/3.9.2 Linux/6.1 Scout Suite/5.12.0",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/audit",
            "userName": "audit", "accessKeyId": "AKIAEXAMPLEAUDIT0001"}
    });
    let (findings, caps) = run(std::slice::from_ref(&call), &MemoryState::new(), json!({}));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule_id, SCANNER);
    assert_eq!(
        caps.calls_json(),
        [json!({"capability": "iam.disable-access-key",
            "args": {"user-name": "audit", "access-key-id": "AKIAEXAMPLEAUDIT0001"}})]
    );
    // The team runs ScoutSuite itself: the admin lists only TruffleHog.
    let own = json!({"scanner_user_agents": [{"name": "TruffleHog", "match": "trufflehog",
        "calls": ["sts:GetCallerIdentity"]}]});
    assert!(run(std::slice::from_ref(&call), &MemoryState::new(), own)
        .0
        .is_empty());
    assert!(run(
        &[call],
        &MemoryState::new(),
        json!({"scanner_user_agents": []})
    )
    .0
    .is_empty());
}

#[test]
fn unreadable_records_still_get_what_the_hot_fields_say() {
    let mut e = event_from_record(&json!({
        "eventID": "k1", "eventSource": "kms.amazonaws.com", "eventName": "DisableKey",
        "eventType": "AwsApiCall", "awsRegion": "us-east-1", "recipientAccountId": "111122223333"
    }));
    e.raw = "not json {".into();
    let findings = keys_secrets::detect(&e, &Settings::default(), &MemoryState::new());
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule_id, KEY_LOSS);
    assert!(
        findings[0].resources.is_empty(),
        "no key ARN without the record"
    );
}

#[test]
fn a_key_id_alone_gives_the_key_arn() {
    let e = event_from_record(&json!({
        "eventID": "k2", "eventSource": "kms.amazonaws.com", "eventName": "DisableKey",
        "eventType": "AwsApiCall", "awsRegion": "eu-central-1", "recipientAccountId": "111122223333",
        "requestParameters": {"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab"},
        "userIdentity": {"type": "AssumedRole",
            "arn": "arn:aws-cn:sts::111122223333:assumed-role/ops/x"}
    }));
    let findings = keys_secrets::detect(&e, &Settings::default(), &MemoryState::new());
    assert_eq!(
        findings[0].resources,
        ["arn:aws-cn:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
    );
}

/// `describe` with the config in force: the scanners' user agents (and calls), not every
/// call with a user agent.
#[test]
fn the_subscription_follows_the_configured_scanners() {
    let of = |config: Value| {
        KeysSecrets::describe_with_config(&Config::from_value(config).unwrap()).patterns
    };
    let defaults = of(json!({}));
    assert_eq!(defaults, keys_secrets::descriptor().patterns);
    assert!(
        !defaults
            .iter()
            .any(|p| p == r#"{"detail":{"userAgent":[{"exists":true}]}}"#),
        "no longer every call with a user agent: {defaults:#?}"
    );
    // TruffleHog counts on sts:GetCallerIdentity only: subscribed by that call, exactly.
    let calls = defaults
        .iter()
        .find(|p| p.contains("GetCallerIdentity"))
        .expect("the scanners' calls");
    let v: Value = trailwarden_plugin_sdk::serde_json::from_str(calls).unwrap();
    assert_eq!(v["detail"]["eventName"], json!(["GetCallerIdentity"]));
    assert!(!calls.contains("trufflehog"), "{calls}");
    // Kali counts on every call: subscribed by its user agent, in the usual spellings.
    let kali = defaults
        .iter()
        .find(|p| p.contains("kali-amd64"))
        .expect("Kali's pattern");
    for spelling in [
        "*kali-amd64*",
        "*KALI-AMD64*",
        "*Kali-amd64*",
        "*Kali-Amd64*",
    ] {
        assert!(kali.contains(spelling), "{spelling} in {kali}");
    }
    // Four patterns for the other rules; none for scanners when the list is empty.
    assert_eq!(of(json!({"scanner_user_agents": []})).len(), 4);
    let custom = of(json!({"scanner_user_agents": ["Evil*Tool"]}));
    assert_eq!(custom.len(), 5);
    assert!(custom[4].contains(r#"*evil\\*tool*"#), "{}", custom[4]);
    assert!(custom[4].contains(r#"*Evil\\*Tool*"#), "{}", custom[4]);
    assert_eq!(
        keys_secrets::scanner::spellings("scout suite"),
        ["scout suite", "SCOUT SUITE", "Scout suite", "Scout Suite"]
    );
}
