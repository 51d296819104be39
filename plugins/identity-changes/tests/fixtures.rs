//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, the
//! Panther comparison, and the shared corpus through `detect` and `handle`; then focused
//! checks of the config, the notification window and the responses.
#![cfg(not(target_arch = "wasm32"))]

use identity_changes::{
    IdentityChanges, Settings, CAPABILITIES, FEDERATION_TOKEN_ISSUED, LOGIN_PROFILE_BY_OTHER,
    MFA_DEVICE_REMOVED, ROLE_TRUST_OPENED, ROOT_SIGNIN_FAILED, RULE_IDS, SAML_PROVIDER_CHANGED,
    USER_CREATED_OR_UPDATED,
};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::testing::{self, event_from_record};
use trailwarden_plugin_sdk::{
    Config, Event, Finding, MemoryState, Receipt, RecordingCapabilities, Responder, State,
};

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<IdentityChanges>(DIR);
}

#[test]
fn panther_agreement() {
    testing::assert_responder_panther_agreement::<IdentityChanges>("identity-changes", DIR);
    // The same through the plain detection, with the default settings.
    testing::assert_panther_agreement("identity-changes (detect)", DIR, identity_changes::detect);
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(identity_changes::detect);
    let run = testing::assert_responder_survives_corpus::<IdentityChanges>();
    assert!(
        run.findings > 0,
        "the Panther tests hold events of these rules"
    );
}

#[test]
fn descriptor_names_the_crate_and_parses() {
    let d = identity_changes::descriptor();
    assert_eq!(d.name, "identity-changes");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        d.capabilities,
        trailwarden_plugin_sdk::strings(CAPABILITIES)
    );
    assert!(!d.self_caused_events);
    assert_eq!(d.patterns.len(), 3);
    for p in &d.patterns {
        let v: Value = trailwarden_plugin_sdk::serde_json::from_str(p).expect("pattern is JSON");
        assert!(v["detail"]["eventSource"].is_array());
        assert!(v["detail"]["eventName"].is_array());
    }
}

#[test]
fn catalog_lists_every_rule_with_the_configured_target_and_accounts() {
    let rules = identity_changes::rules(&Config::empty());
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, RULE_IDS);
    let by_id = |id: &str| rules.iter().find(|r| r.id == id).unwrap().clone();
    assert_eq!(
        by_id(LOGIN_PROFILE_BY_OTHER).response,
        ["iam.delete-login-profile"]
    );
    assert_eq!(
        by_id(ROLE_TRUST_OPENED).response,
        ["iam.revoke-role-sessions"]
    );
    for id in [
        ROOT_SIGNIN_FAILED,
        MFA_DEVICE_REMOVED,
        SAML_PROVIDER_CHANGED,
        FEDERATION_TOKEN_ISSUED,
        USER_CREATED_OR_UPDATED,
    ] {
        assert_eq!(by_id(id).response, ["notify.send"], "{id}");
        assert!(by_id(id).description.contains("security-team"), "{id}");
    }
    let config = Config::from_value(json!({
        "notify_target": "oncall",
        "trusted_accounts": ["444455556666"],
    }))
    .unwrap();
    let rules = identity_changes::rules(&config);
    assert!(rules[0].description.contains("oncall"));
    assert!(rules[3].description.contains("444455556666"));
    assert_eq!(
        by_id(USER_CREATED_OR_UPDATED).techniques,
        ["T1136.003", "T1098"]
    );
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn fixture_event(file: &str, event_id: &str) -> Value {
    let path = format!("{DIR}/fixtures/{file}");
    let fixture: Value =
        trailwarden_plugin_sdk::serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap();
    fixture["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["eventID"] == event_id)
        .unwrap_or_else(|| panic!("{event_id} not in {file}"))
        .clone()
}

fn event(record: &Value) -> Event {
    event_from_record(record)
}

fn handle(
    events: &[Event],
    state: &dyn State,
    config: Value,
) -> (Vec<Finding>, RecordingCapabilities) {
    let caps = RecordingCapabilities::new();
    let config = Config::from_value(config).unwrap();
    let findings = IdentityChanges::handle(events, &caps, state, &config).unwrap();
    (findings, caps)
}

fn with(mut record: Value, path: &[&str], value: Value) -> Value {
    let mut v = &mut record;
    for key in &path[..path.len() - 1] {
        v = &mut v[*key];
    }
    v[path[path.len() - 1]] = value;
    record
}

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

#[test]
fn self_caused_events_are_reported_but_not_acted_on() {
    let record = fixture_event("role-trust-opened.json", "idc-trust-outside-account");
    let mut e = event(&record);
    let (findings, caps) = handle(std::slice::from_ref(&e), &MemoryState::new(), json!({}));
    assert_eq!(findings.len(), 1);
    assert_eq!(caps.capabilities_called(), ["iam.revoke-role-sessions"]);
    e.self_caused = true;
    let (findings, caps) = handle(&[e], &MemoryState::new(), json!({}));
    assert_eq!(findings.len(), 1, "still reported");
    assert!(caps.calls().is_empty(), "but not acted on");
}

#[test]
fn notifications_go_out_once_per_incident_and_window() {
    let first = fixture_event(
        "root-signin-failed.json",
        "a4fbbe77-91a0-4238-804a-64314184edb6",
    );
    let later = with(first.clone(), &["eventID"], json!("idc-later"));
    let state = MemoryState::new();
    let (_, caps) = handle(&[event(&first)], &state, json!({"notify_target": "soc"}));
    assert_eq!(caps.calls_json()[0]["args"]["target"], "soc");
    let (findings, caps) = handle(&[event(&later)], &state, json!({}));
    assert_eq!(findings.len(), 1);
    assert!(caps.calls().is_empty(), "same incident, within the window");
    state.advance(u64::from(identity_changes::DEFAULT_NOTIFY_WINDOW_SECONDS));
    let (_, caps) = handle(&[event(&later)], &state, json!({}));
    assert_eq!(caps.calls().len(), 1, "the window is over");
    // A window of 0 notifies every finding.
    let state = MemoryState::new();
    let both = [event(&first), event(&later)];
    let (_, caps) = handle(&both, &state, json!({"notify_window_seconds": 0}));
    assert_eq!(caps.calls().len(), 2);
    assert!(state.is_empty());
}

#[test]
fn a_denied_notification_is_tried_again() {
    let first = fixture_event("federation-token.json", "idc-federation-token-bob");
    let second = fixture_event("federation-token.json", "idc-federation-token-bob-again");
    let caps = RecordingCapabilities::with_receipts([Receipt::Denied("over budget".into())]);
    let state = MemoryState::new();
    let events = [event(&first), event(&second)];
    IdentityChanges::handle(&events, &caps, &state, &Config::empty()).unwrap();
    assert_eq!(caps.calls().len(), 2);
    assert!(matches!(caps.calls()[1].receipt, Receipt::Accepted(_)));
}

#[test]
fn login_profile_is_deleted_for_the_target_user_only() {
    let record = fixture_event(
        "login-profile-for-other.json",
        "idc-create-login-profile-carol",
    );
    let (_, caps) = handle(&[event(&record)], &MemoryState::new(), json!({}));
    assert_eq!(
        caps.calls_json(),
        [json!({"capability": "iam.delete-login-profile", "args": {"user-name": "Carol"}})]
    );
    // The name from the response when the request lacks it.
    let response_only = with(record.clone(), &["requestParameters"], json!({}));
    let found = identity_changes::detect(&event(&response_only));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].resources, ["arn:aws:iam::111122223333:user/Carol"]);
    // Reset required in the response only still counts as required.
    let reset = with(
        record.clone(),
        &["responseElements", "loginProfile", "passwordResetRequired"],
        json!("true"),
    );
    let reset = with(reset, &["requestParameters"], json!({"userName": "Carol"}));
    assert!(identity_changes::detect(&event(&reset)).is_empty());
    // Unreadable record: no target, no finding.
    let mut unreadable = event(&record);
    unreadable.raw = "not json".into();
    assert!(identity_changes::detect(&unreadable).is_empty());
}

// ---------------------------------------------------------------------------------------
// Detections
// ---------------------------------------------------------------------------------------

#[test]
fn root_sign_in_failure_without_a_readable_record() {
    let record = fixture_event(
        "root-signin-failed.json",
        "a4fbbe77-91a0-4238-804a-64314184edb6",
    );
    let mut e = event(&record);
    e.raw = "not json {".into();
    let found = identity_changes::detect(&e);
    assert_eq!(found.len(), 1, "the error message alone tells the failure");
    assert_eq!(found[0].rule_id, ROOT_SIGNIN_FAILED);
    e.error_message = None;
    assert!(identity_changes::detect(&e).is_empty());
}

#[test]
fn trust_policy_honours_trusted_accounts() {
    let record = fixture_event("role-trust-opened.json", "idc-trust-outside-account");
    let e = event(&record);
    let trusted = Settings {
        trusted_accounts: vec!["999988887777".into()],
        ..Settings::default()
    };
    assert!(identity_changes::detect_with(&e, &trusted).is_empty());
    let (findings, caps) = handle(
        std::slice::from_ref(&e),
        &MemoryState::new(),
        json!({"trusted_accounts": ["999988887777"]}),
    );
    assert!(findings.is_empty() && caps.calls().is_empty());
    let f = &identity_changes::detect(&e)[0];
    let context: Value = trailwarden_plugin_sdk::serde_json::from_str(&f.context).unwrap();
    assert_eq!(context["outside_accounts"], json!(["999988887777"]));
    assert_eq!(context["everyone"], json!(false));
}

#[test]
fn trust_policy_as_an_object_and_in_create_role() {
    let record = fixture_event("role-trust-opened.json", "idc-trust-create-role-everyone");
    let doc = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "123412341234"]}, "Action": "sts:AssumeRole"}]});
    let object = with(
        record,
        &["requestParameters", "assumeRolePolicyDocument"],
        doc,
    );
    let found = identity_changes::detect(&event(&object));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].title.contains("outside account 123412341234"),
        "{}",
        found[0].title
    );
}

#[test]
fn mfa_device_of_root_by_name_or_serial() {
    let record = fixture_event("mfa-removed.json", "idc-user-mfa-deactivated");
    let root_by_name = with(
        record.clone(),
        &["requestParameters", "userName"],
        json!("AWS ROOT USER"),
    );
    let f = &identity_changes::detect(&event(&root_by_name))[0];
    assert_eq!(f.severity, trailwarden_plugin_sdk::Severity::High);
    assert_eq!(f.resources[0], "arn:aws:iam::111122223333:root");
    let f = &identity_changes::detect(&event(&record))[0];
    assert_eq!(f.severity, trailwarden_plugin_sdk::Severity::Medium);
    // The streamalert records: no user, no serial: still a deactivation.
    let bare = json!({"eventID": "x", "eventSource": "iam.amazonaws.com", "eventName": "DeactivateMFADevice",
        "eventType": "AwsApiCall", "recipientAccountId": "123456789123", "requestParameters": {"subnetId": "..."}});
    let f = &identity_changes::detect(&event(&bare))[0];
    assert_eq!(
        f.dedup_key,
        "aws.iam.mfa-device-removed:123456789123:unknown-device"
    );
}

#[test]
fn service_events_and_vpc_endpoint_copies_are_not_calls() {
    for file_id in [
        ("federation-token.json", "idc-federation-token-bob"),
        ("saml-provider-changed.json", "idc-saml-update-panther"),
        ("mfa-removed.json", "idc-user-mfa-deactivated"),
    ] {
        let record = fixture_event(file_id.0, file_id.1);
        assert_eq!(identity_changes::detect(&event(&record)).len(), 1);
        let copy = with(record, &["eventType"], json!("AwsVpceEvent"));
        assert!(
            identity_changes::detect(&event(&copy)).is_empty(),
            "{file_id:?}"
        );
    }
}

#[test]
fn user_created_or_updated_by_people_only() {
    let created = fixture_event("user-created-or-updated.json", "idc-create-user-bob-docs");
    let f = &identity_changes::detect(&event(&created))[0];
    assert_eq!(f.rule_id, USER_CREATED_OR_UPDATED);
    assert_eq!(
        f.dedup_key,
        "aws.iam.user-created-or-updated:123456789012:Bob"
    );
    // Any AWS service acting is left out: invokedBy, or an AWSService principal.
    let invoked = with(
        created.clone(),
        &["userIdentity", "invokedBy"],
        json!("cloudformation.amazonaws.com"),
    );
    assert!(identity_changes::detect(&event(&invoked)).is_empty());
    let service = with(
        created.clone(),
        &["userIdentity"],
        json!({"type": "AWSService", "invokedBy": "sso.amazonaws.com"}),
    );
    assert!(identity_changes::detect(&event(&service)).is_empty());
    // The name from the response when the request lacks it; the ARN keeps the path.
    let response_only = with(
        with(created, &["requestParameters"], json!({})),
        &["responseElements", "user", "arn"],
        json!(null),
    );
    let response_only = with(
        response_only,
        &["responseElements", "user", "path"],
        json!("/ops/"),
    );
    let f = &identity_changes::detect(&event(&response_only))[0];
    assert_eq!(f.resources, ["arn:aws:iam::123456789012:user/ops/Bob"]);
}

#[test]
fn user_update_needs_a_change_to_another_user() {
    let update = fixture_event("user-created-or-updated.json", "idc-update-user-carol");
    // A rename alone: the old and the new ARN.
    let rename = with(
        update.clone(),
        &["requestParameters"],
        json!({"userName": "carol", "newUserName": "carol2"}),
    );
    let f = &identity_changes::detect(&event(&rename))[0];
    assert_eq!(
        f.resources,
        [
            "arn:aws:iam::111122223333:user/carol",
            "arn:aws:iam::111122223333:user/carol2"
        ]
    );
    // Neither a new name nor a new path: nothing changed.
    let no_op = with(
        update.clone(),
        &["requestParameters"],
        json!({"userName": "carol"}),
    );
    assert!(identity_changes::detect(&event(&no_op)).is_empty());
    // A session named after the user counts as the user.
    let own = with(
        update,
        &["userIdentity", "arn"],
        json!("arn:aws:sts::111122223333:assumed-role/Ops/Carol"),
    );
    assert!(identity_changes::detect(&event(&own)).is_empty());
}

#[test]
fn user_creation_and_update_are_one_incident() {
    let created = fixture_event("user-created-or-updated.json", "idc-create-user-bob-docs");
    let renamed = with(
        with(created.clone(), &["eventName"], json!("UpdateUser")),
        &["requestParameters"],
        json!({"userName": "Bob", "newUserName": "Robert"}),
    );
    let renamed = with(renamed, &["eventID"], json!("idc-rename-bob"));
    let (findings, caps) = handle(
        &[event(&created), event(&renamed)],
        &MemoryState::new(),
        json!({}),
    );
    assert_eq!(findings.len(), 2);
    assert_eq!(findings[0].dedup_key, findings[1].dedup_key);
    assert_eq!(caps.calls().len(), 1, "notified once");
}
