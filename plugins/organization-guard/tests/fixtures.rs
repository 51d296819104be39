//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, and the
//! Panther comparison and the shared corpus through `detect` (and `handle`).
#![cfg(not(target_arch = "wasm32"))]

use organization_guard::{quarantine_target, OrganizationGuard, Quarantine, CAPABILITIES, RULE_ID};
use trailwarden_plugin_sdk::serde_json::{self, json, Value};
use trailwarden_plugin_sdk::{
    testing, Config, Event, MemoryState, Principal, RecordingCapabilities, Responder, Severity,
};

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<OrganizationGuard>(DIR);
}

#[test]
fn panther_agreement() {
    testing::assert_panther_agreement("organization-guard", DIR, organization_guard::detect);
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(organization_guard::detect);
    testing::assert_responder_survives_corpus::<OrganizationGuard>();
}

#[test]
fn descriptor_names_the_crate_and_parses() {
    let d = organization_guard::descriptor();
    assert_eq!(d.name, "organization-guard");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        CAPABILITIES,
        ["notify.send", "iam.quarantine-user", "iam.quarantine-role"]
    );
    assert_eq!(
        d.capabilities,
        trailwarden_plugin_sdk::strings(CAPABILITIES)
    );
    assert!(!d.self_caused_events);
    for p in &d.patterns {
        let v: Value = serde_json::from_str(p).expect("pattern is JSON");
        assert_eq!(
            v["detail"]["eventSource"],
            json!(["organizations.amazonaws.com"])
        );
    }
}

#[test]
fn the_catalog_names_the_rule_its_responses_and_the_target() {
    let config = Config::from_value(json!({"notify_target": "cloud-governance"})).unwrap();
    let rules = organization_guard::rules(&config);
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].id, RULE_ID);
    assert_eq!(rules[0].techniques, ["T1666"]);
    assert!(rules[0].description.contains("cloud-governance"));
    assert_eq!(
        rules[0].response,
        trailwarden_plugin_sdk::strings(CAPABILITIES)
    );
}

fn leave(principal: Principal, raw: &str) -> Event {
    Event {
        id: "e1".into(),
        source: Some("organizations.amazonaws.com".into()),
        name: Some("LeaveOrganization".into()),
        account: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        principal,
        event_type: Some("AwsApiCall".into()),
        raw: raw.into(),
        ..Default::default()
    }
}

fn iam_user(name: Option<&str>, account: &str) -> Principal {
    Principal {
        r#type: Some("IAMUser".into()),
        arn: Some(format!(
            "arn:aws:iam::{account}:user/team/{}",
            name.unwrap_or("carol")
        )),
        account_id: Some(account.into()),
        user_name: name.map(str::to_owned),
        ..Default::default()
    }
}

fn session(issuer_arn: &str) -> Principal {
    Principal {
        r#type: Some("AssumedRole".into()),
        arn: Some("arn:aws:sts::111122223333:assumed-role/r/s".into()),
        account_id: Some("111122223333".into()),
        session_issuer_arn: Some(issuer_arn.into()),
        ..Default::default()
    }
}

#[test]
fn quarantine_only_principals_of_the_same_account_that_iam_can_change() {
    let q = |p: Principal| quarantine_target(&leave(p, "{}"));
    assert_eq!(
        q(iam_user(Some("mallory"), "111122223333")),
        Some(Quarantine::User("mallory".into()))
    );
    // The name from the ARN when userName is missing; the path is not part of it.
    assert_eq!(
        q(iam_user(None, "111122223333")),
        Some(Quarantine::User("carol".into()))
    );
    assert_eq!(q(iam_user(Some("mallory"), "999988887777")), None);
    assert_eq!(
        q(session("arn:aws:iam::111122223333:role/ops/OrgAdmin")),
        Some(Quarantine::Role("OrgAdmin".into()))
    );
    for issuer in [
        "arn:aws:iam::999988887777:role/OrgAdmin",
        "arn:aws:iam::111122223333:role/aws-service-role/organizations.amazonaws.com/AWSServiceRoleForOrganizations",
        "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1",
        "arn:aws:iam::111122223333:user/broker",
    ] {
        assert_eq!(q(session(issuer)), None, "{issuer}");
    }
    let root = Principal {
        r#type: Some("Root".into()),
        arn: Some("arn:aws:iam::111122223333:root".into()),
        ..Default::default()
    };
    assert_eq!(q(root), None);
}

fn handle(event: &Event) -> (Vec<trailwarden_plugin_sdk::Finding>, Vec<Value>) {
    let caps = RecordingCapabilities::new();
    let findings = OrganizationGuard::handle(
        std::slice::from_ref(event),
        &caps,
        &MemoryState::new(),
        &Config::empty(),
    )
    .unwrap();
    (findings, caps.calls_json())
}

#[test]
fn attempts_notify_successes_also_quarantine_self_caused_nothing() {
    let mut denied = leave(iam_user(Some("mallory"), "111122223333"), "not json");
    denied.error_code = Some("AccessDenied".into());
    let (findings, calls) = handle(&denied);
    assert_eq!(findings[0].severity, Severity::Medium);
    assert_eq!(findings[0].resources, ["111122223333"]);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["capability"], "notify.send");
    assert_eq!(calls[0]["args"]["target"], "security-team");

    let done = leave(iam_user(Some("mallory"), "111122223333"), "not json");
    let (findings, calls) = handle(&done);
    assert_eq!(findings[0].severity, Severity::High);
    assert_eq!(
        calls[1],
        json!({"capability": "iam.quarantine-user", "args": {"user-name": "mallory"}})
    );

    let mut own = done.clone();
    own.self_caused = true;
    let (findings, calls) = handle(&own);
    assert_eq!(findings.len(), 1);
    assert!(calls.is_empty());
}

#[test]
fn a_removal_without_the_account_named_still_reports() {
    let mut e = leave(
        iam_user(Some("eve"), "111122223333"),
        r#"{"requestParameters": {}}"#,
    );
    e.name = Some("RemoveAccountFromOrganization".into());
    let f = organization_guard::detect(&e);
    assert!(f[0].resources.is_empty());
    assert_eq!(
        f[0].dedup_key,
        "aws.organizations.account-left:111122223333:unnamed"
    );
    assert!(f[0].title.contains("(not named in the record)"));
}
