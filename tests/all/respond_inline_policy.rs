//! `iam.delete-inline-policy` (contract 0.6.0) end to end: the real admin-policy-attached
//! component, the real binary and SQLite, the AWS SDK against moto. An admin inline policy
//! put on a user is held for approval, deleted once approved with its document recorded, and
//! put back by undo; without its grant the call is denied and recorded.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::moto::ACCOUNT;
use crate::respond::{write_events, Setup};
use crate::support::plugin;

const USER: &str = "ci-runner";
const POLICY: &str = "ci-full";
const ADMIN_DOCUMENT: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Everything","Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// Creates `USER` with the admin inline policy `POLICY`.
fn user_with_admin_inline_policy(setup: &Setup) {
    setup.runtime.block_on(async {
        setup
            .iam
            .create_user()
            .user_name(USER)
            .send()
            .await
            .unwrap();
        setup
            .iam
            .put_user_policy()
            .user_name(USER)
            .policy_name(POLICY)
            .policy_document(ADMIN_DOCUMENT)
            .send()
            .await
            .unwrap();
    });
}

/// `USER`'s inline policy `POLICY` as JSON, or `None` when it does not exist.
fn inline_policy(setup: &Setup) -> Option<Value> {
    setup.runtime.block_on(async {
        let names = setup
            .iam
            .list_user_policies()
            .user_name(USER)
            .send()
            .await
            .unwrap();
        if !names.policy_names().iter().any(|name| name == POLICY) {
            return None;
        }
        let policy = setup
            .iam
            .get_user_policy()
            .user_name(USER)
            .policy_name(POLICY)
            .send()
            .await
            .unwrap();
        let document = policy.policy_document();
        // IAM returns documents URL-encoded; moto may return them plain.
        let text = if document.trim_start().starts_with('{') {
            document.to_owned()
        } else {
            percent_decode(document)
        };
        Some(serde_json::from_str(&text).unwrap())
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The CloudTrail record of `PutUserPolicy` putting the admin policy on `USER`.
fn put_user_policy_event(event_id: &str) -> Value {
    json!({
        "eventVersion": "1.09", "eventID": event_id, "eventTime": "2026-11-20T09:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": "PutUserPolicy",
        "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15",
        "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT, "readOnly": false,
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
            "arn": format!("arn:aws:iam::{ACCOUNT}:user/mallory"), "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLECALLER01", "userName": "mallory"},
        "requestParameters": {"userName": USER, "policyName": POLICY,
            "policyDocument": ADMIN_DOCUMENT},
        "responseElements": null
    })
}

/// A config loading admin-policy-attached in approve mode with grants of `capabilities`.
fn config(setup: &Setup, dir: &Path, capabilities: &[&str]) -> PathBuf {
    let mut text = format!(
        "[audit]\ndatabase = \"{db}\"\n[engine]\ncache_dir = \"{cache}\"\n{aws}\
         [executor]\nbackoff_ms = 100\n\
         [[plugins]]\npath = \"{wasm}\"\nname = \"admin-policy-attached\"\nmode = \"approve\"\n",
        db = dir.join("audit.db").display(),
        cache = dir.join("cache").display(),
        aws = setup.moto.aws_toml(),
        wasm = plugin("admin-policy-attached").display(),
    );
    for capability in capabilities {
        text.push_str(&format!(
            "[[plugins.grants]]\ncapability = \"{capability}\"\naccounts = [\"{ACCOUNT}\"]\n\
             resources = [\"arn:aws:iam::*:user/*\"]\n"
        ));
    }
    let path = dir.join("trailwarden.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn an_admin_inline_policy_is_deleted_once_approved_and_undo_puts_the_same_document_back() {
    let setup = Setup::new();
    let dir = tempfile::tempdir().unwrap();
    user_with_admin_inline_policy(&setup);
    let original = inline_policy(&setup).expect("the policy was put");
    let config = config(&setup, dir.path(), &["iam.delete-inline-policy"]);
    let c = config.to_str().unwrap();
    let events = write_events(dir.path(), "e.jsonl", &[put_user_policy_event("inline-1")]);

    setup.run(&["replay", "--config", c, events.to_str().unwrap()]);
    assert_eq!(
        inline_policy(&setup),
        Some(original.clone()),
        "nothing before approval"
    );
    let pending = setup.run(&[
        "actions", "list", "--config", c, "--status", "pending", "--format", "json",
    ]);
    let pending: Vec<Value> = serde_json::from_slice(&pending.stdout).unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    let action = &pending[0];
    assert_eq!(action["capability"], "iam.delete-inline-policy");
    assert_eq!(
        action["resource"],
        format!("arn:aws:iam::{ACCOUNT}:user/{USER}")
    );
    let id = action["id"].as_str().unwrap();

    setup.run(&["actions", "approve", id, "--config", c, "--by", "oncall"]);
    assert_eq!(inline_policy(&setup), None, "the approved delete ran");
    let actions = setup.actions(&config);
    let done = actions.iter().find(|a| a["id"] == id).unwrap();
    assert_eq!(done["status"], "succeeded", "{done}");
    // The document read before the delete is what undo will put back.
    let recorded = &done["inverse"]["action"]["policy_document"];
    let recorded: Value = serde_json::from_str(recorded.as_str().unwrap()).unwrap();
    assert_eq!(recorded, original, "{done}");

    let out = setup.run(&["actions", "undo", id, "--config", c, "--by", "alice"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("succeeded"));
    assert_eq!(
        inline_policy(&setup),
        Some(original),
        "undo put the same document back"
    );
    let actions = setup.actions(&config);
    let undo = actions.iter().find(|a| a["undo_of"] == id).unwrap();
    assert_eq!(undo["capability"], "iam.put-inline-policy");
    assert_eq!(undo["status"], "succeeded", "{undo}");
}

#[test]
fn without_its_grant_the_inline_policy_delete_is_denied_and_recorded() {
    let setup = Setup::new();
    let dir = tempfile::tempdir().unwrap();
    user_with_admin_inline_policy(&setup);
    // Another capability of the family is granted (so the plugin loads); this one is not.
    let config = config(&setup, dir.path(), &["iam.detach-user-policy"]);
    let c = config.to_str().unwrap();
    let events = write_events(dir.path(), "e.jsonl", &[put_user_policy_event("inline-2")]);

    setup.run(&["replay", "--config", c, events.to_str().unwrap()]);
    assert!(inline_policy(&setup).is_some(), "nothing was deleted");
    let actions = setup.actions(&config);
    assert_eq!(actions.len(), 1, "{actions:?}");
    let denied = &actions[0];
    assert_eq!(denied["capability"], "iam.delete-inline-policy");
    assert_eq!(denied["status"], "denied");
    assert_eq!(
        denied["reason"], "capability iam.delete-inline-policy is not granted",
        "{denied}"
    );
}

#[test]
fn a_component_calling_delete_inline_policy_is_0_6_0_and_the_others_load_unchanged() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = trailwarden::runtime::PluginRuntime::new(
        cache.path(),
        trailwarden::runtime::HostStores::in_memory().unwrap(),
    )
    .unwrap();
    let load = |path: PathBuf| {
        let loaded = runtime.load(&crate::support::plugin_config(path)).unwrap();
        (loaded.contract_version(), loaded.imports.clone())
    };
    let (version, imports) = load(plugin("admin-policy-attached"));
    assert_eq!(version, "0.6.0");
    assert!(
        imports.contains(&"trailwarden:plugin/iam@0.6.0".to_string()),
        "{imports:?}"
    );
    // Built with the same SDK, a plugin that never calls it does not import it.
    let (version, imports) = load(plugin("access-key-other-user"));
    assert_eq!(version, "0.3.0");
    assert!(
        !imports.iter().any(|i| i.ends_with("@0.6.0")),
        "{imports:?}"
    );
    let (version, _) = load(plugin("anomaly"));
    assert_eq!(version, "0.5.0");
    let (version, _) = load(crate::support::guest("legacy-v010"));
    assert_eq!(version, "0.1.0");
}
