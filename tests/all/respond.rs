//! Automated response end to end: the real binary, the real component, real SQLite, and the
//! real AWS SDK over HTTP to moto's server. A key created for another user is disabled, and
//! every safety rail (scope, budget, dry-run, approval, idempotency, crash recovery, loop
//! protection, undo) is checked the way a responder would check it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::moto::{Moto, ACCOUNT};
use crate::support::plugin;

pub(crate) struct Setup {
    pub(crate) moto: Moto,
    pub(crate) iam: aws_sdk_iam::Client,
    pub(crate) runtime: tokio::runtime::Runtime,
}

impl Setup {
    pub(crate) fn new() -> Setup {
        Setup::with(Moto::start())
    }

    pub(crate) fn with(moto: Moto) -> Setup {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let iam = runtime.block_on(async { aws_sdk_iam::Client::new(&moto.sdk_config().await) });
        Setup { moto, iam, runtime }
    }

    /// Creates a user with one access key; returns the key id.
    pub(crate) fn user_with_key(&self, user: &str) -> String {
        self.runtime.block_on(async {
            self.iam.create_user().user_name(user).send().await.unwrap();
            let key = self
                .iam
                .create_access_key()
                .user_name(user)
                .send()
                .await
                .unwrap();
            key.access_key().unwrap().access_key_id().to_string()
        })
    }

    pub(crate) fn key_status(&self, user: &str, key: &str) -> String {
        self.runtime.block_on(async {
            let keys = self
                .iam
                .list_access_keys()
                .user_name(user)
                .send()
                .await
                .unwrap();
            keys.access_key_metadata()
                .iter()
                .find(|k| k.access_key_id() == Some(key))
                .and_then(|k| k.status())
                .map(|s| s.as_str().to_string())
                .unwrap()
        })
    }

    /// A config granting access-key-other-user `iam.disable-access-key` with `grant` extras.
    pub(crate) fn config(&self, dir: &Path, plugin_extra: &str, grant_extra: &str) -> PathBuf {
        let text = format!(
            "[audit]\ndatabase = \"{db}\"\n[engine]\ncache_dir = \"{cache}\"\n{aws}\
             [executor]\nbackoff_ms = 100\n\
             [[plugins]]\npath = \"{wasm}\"\nname = \"access-key-other-user\"\n{plugin_extra}\n\
             [[plugins.grants]]\ncapability = \"iam.disable-access-key\"\naccounts = [\"{ACCOUNT}\"]\n\
             resources = [\"arn:aws:iam::*:user/*\"]\n{grant_extra}\n",
            db = dir.join("audit.db").display(),
            cache = dir.join("cache").display(),
            aws = self.moto.aws_toml(),
            wasm = plugin("access-key-other-user").display(),
        );
        let path = dir.join("trailwarden.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_trailwarden"));
        command.args(args).stdin(Stdio::null());
        for (key, value) in self.moto.env() {
            command.env(key, value);
        }
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "trailwarden {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub(crate) fn actions(&self, config: &Path) -> Vec<Value> {
        let out = self.run(&[
            "actions",
            "list",
            "--config",
            config.to_str().unwrap(),
            "--format",
            "json",
        ]);
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// A CloudTrail record: `actor` created access key `key` for `user`.
pub(crate) fn key_created(
    event_id: &str,
    account: &str,
    actor: &str,
    user: &str,
    key: &str,
) -> Value {
    json!({
        "eventVersion": "1.09", "eventID": event_id, "eventTime": "2026-11-20T09:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
        "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15",
        "eventType": "AwsApiCall", "recipientAccountId": account, "readOnly": false,
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
            "arn": format!("arn:aws:iam::{account}:user/{actor}"), "accountId": account,
            "accessKeyId": "AKIAEXAMPLECALLER01", "userName": actor},
        "requestParameters": {"userName": user},
        "responseElements": {"accessKey": {"accessKeyId": key, "status": "Active", "userName": user,
            "createDate": "Nov 20, 2026 9:00:00 AM"}}
    })
}

pub(crate) fn write_events(dir: &Path, name: &str, events: &[Value]) -> PathBuf {
    let path = dir.join(name);
    let lines: Vec<String> = events.iter().map(Value::to_string).collect();
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

#[test]
fn a_key_created_for_another_user_is_disabled_once_and_undo_restores_it() {
    let setup = Setup::new();
    let dir = tempfile::tempdir().unwrap();
    let key = setup.user_with_key("bob");
    let config = setup.config(dir.path(), "mode = \"enforce\"", "");
    let c = config.to_str().unwrap();
    let events = write_events(
        dir.path(),
        "e.jsonl",
        &[key_created("ev-1", ACCOUNT, "mallory", "bob", &key)],
    );

    setup.run(&["replay", "--config", c, events.to_str().unwrap()]);
    assert_eq!(setup.key_status("bob", &key), "Inactive");
    let actions = setup.actions(&config);
    assert_eq!(actions.len(), 1, "{actions:?}");
    let action = &actions[0];
    assert_eq!(action["status"], "succeeded", "{action}");
    assert_eq!(action["attempts"], 1);
    assert_eq!(action["capability"], "iam.disable-access-key");
    assert_eq!(
        action["resource"],
        format!("arn:aws:iam::{ACCOUNT}:user/bob")
    );
    assert!(
        action["request_id"].is_string(),
        "the AWS request id is recorded: {action}"
    );

    // The same event delivered again: the action is not run twice.
    setup.run(&["replay", "--config", c, events.to_str().unwrap()]);
    let actions = setup.actions(&config);
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["attempts"], 1);

    // Undo runs the recorded inverse, audited with who did it.
    let id = action["id"].as_str().unwrap();
    let out = setup.run(&["actions", "undo", id, "--config", c, "--by", "alice"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("succeeded"));
    assert_eq!(setup.key_status("bob", &key), "Active");
    let actions = setup.actions(&config);
    let original = actions.iter().find(|a| a["id"] == id).unwrap();
    assert_eq!(original["status"], "undone");
    let undo = actions.iter().find(|a| a["undo_of"] == id).unwrap();
    assert_eq!(undo["capability"], "iam.enable-access-key");
    let outbox = trailwarden::respond::outbox::Outbox::open(&dir.path().join("audit.db")).unwrap();
    let history = outbox.history(id).unwrap();
    assert!(
        history
            .iter()
            .any(|(_, actor, what, _)| actor == "alice" && what == "undone"),
        "{history:?}"
    );
}

#[test]
fn out_of_scope_and_over_budget_calls_are_denied_and_change_nothing() {
    let setup = Setup::new();
    let dir = tempfile::tempdir().unwrap();
    let (k1, k2, k3) = (
        setup.user_with_key("carol"),
        setup.user_with_key("dave"),
        setup.user_with_key("erin"),
    );
    let config = setup.config(dir.path(), "mode = \"enforce\"", "max_per_hour = 1");
    let events = write_events(
        dir.path(),
        "e.jsonl",
        &[
            // Another account: outside the grant.
            key_created("scope-1", "999999999999", "mallory", "carol", &k1),
            key_created("budget-1", ACCOUNT, "mallory", "dave", &k2),
            key_created("budget-2", ACCOUNT, "mallory", "erin", &k3),
        ],
    );
    setup.run(&[
        "replay",
        "--config",
        config.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert_eq!(setup.key_status("carol", &k1), "Active");
    assert_eq!(setup.key_status("dave", &k2), "Inactive");
    assert_eq!(setup.key_status("erin", &k3), "Active", "over budget");
    let actions = setup.actions(&config);
    let by_event = |id: &str| {
        actions
            .iter()
            .find(|a| a["event_id"] == id)
            .unwrap()
            .clone()
    };
    let scope = by_event("scope-1");
    assert_eq!(scope["status"], "denied");
    assert!(
        scope["reason"]
            .as_str()
            .unwrap()
            .contains("account 999999999999"),
        "{scope}"
    );
    let budget = by_event("budget-2");
    assert_eq!(budget["status"], "denied");
    assert!(
        budget["reason"]
            .as_str()
            .unwrap()
            .contains("budget exhausted"),
        "{budget}"
    );
}

#[test]
fn dry_run_records_and_approve_waits_for_a_person() {
    let setup = Setup::new();
    let dir = tempfile::tempdir().unwrap();
    let key = setup.user_with_key("frank");
    // Dry-run (the default mode): recorded, nothing changes.
    let config = setup.config(dir.path(), "", "");
    let events = write_events(
        dir.path(),
        "e.jsonl",
        &[key_created("dry-1", ACCOUNT, "mallory", "frank", &key)],
    );
    setup.run(&[
        "replay",
        "--config",
        config.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert_eq!(setup.key_status("frank", &key), "Active");
    let actions = setup.actions(&config);
    assert_eq!(actions[0]["status"], "dry_run");
    assert_eq!(
        actions[0]["request"]["action"]["access_key_id"],
        key.as_str()
    );

    // Approve mode: nothing until a person approves.
    let dir = tempfile::tempdir().unwrap();
    let config = setup.config(dir.path(), "mode = \"approve\"", "");
    let c = config.to_str().unwrap();
    let events = write_events(
        dir.path(),
        "e.jsonl",
        &[key_created("approve-1", ACCOUNT, "mallory", "frank", &key)],
    );
    setup.run(&["replay", "--config", c, events.to_str().unwrap()]);
    assert_eq!(setup.key_status("frank", &key), "Active");
    let pending = setup.run(&[
        "actions", "list", "--config", c, "--status", "pending", "--format", "json",
    ]);
    let pending: Vec<Value> = serde_json::from_slice(&pending.stdout).unwrap();
    assert_eq!(pending.len(), 1);
    let id = pending[0]["id"].as_str().unwrap();
    setup.run(&["actions", "approve", id, "--config", c, "--by", "oncall"]);
    assert_eq!(setup.key_status("frank", &key), "Inactive");
    // A decided action cannot be approved or rejected again.
    let again = setup
        .command(&["actions", "reject", id, "--config", c])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not pending approval"));
}

#[test]
fn accepted_actions_survive_a_kill_and_run_exactly_once_after_restart() {
    let setup = Setup::new();
    let dir = tempfile::tempdir().unwrap();
    let key = setup.user_with_key("grace");
    let config = setup.config(dir.path(), "mode = \"enforce\"", "");
    // The executors start late, so the process can be killed between decision and execution.
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "backoff_ms = 100",
        "backoff_ms = 100\nstart_delay_ms = 60000",
    );
    std::fs::write(&config, text).unwrap();
    let c = config.to_str().unwrap();
    let events = write_events(
        dir.path(),
        "e.jsonl",
        &[key_created("crash-1", ACCOUNT, "mallory", "grace", &key)],
    );
    let mut child = setup
        .command(&["replay", "--config", c, events.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let db = dir.path().join("audit.db");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let recorded = db.exists()
            && trailwarden::respond::outbox::Outbox::open(&db)
                .and_then(|o| o.outstanding())
                .unwrap_or(0)
                == 1;
        if recorded {
            break;
        }
        assert!(Instant::now() < deadline, "the action was never recorded");
        std::thread::sleep(Duration::from_millis(50));
    }
    // kill -9
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        setup.key_status("grace", &key),
        "Active",
        "killed before executing"
    );

    let out = setup.run(&["actions", "run", "--config", c]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 actions run"));
    assert_eq!(setup.key_status("grace", &key), "Inactive");
    let out = setup.run(&["actions", "run", "--config", c]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 actions run"));
    let actions = setup.actions(&config);
    assert_eq!(actions.len(), 1);
    assert_eq!(
        (
            actions[0]["status"].as_str(),
            actions[0]["attempts"].as_u64()
        ),
        (Some("succeeded"), Some(1))
    );
}

#[test]
fn events_caused_by_trailwarden_itself_do_not_trigger_a_response() {
    let setup = Setup::new();
    let dir = tempfile::tempdir().unwrap();
    let key = setup.user_with_key("heidi");
    let config = setup.config(dir.path(), "mode = \"enforce\"", "");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[executor]",
        &format!("self_principals = [\"arn:aws:iam::{ACCOUNT}:user/trailwarden-*\"]\n[executor]"),
    );
    std::fs::write(&config, text).unwrap();
    let events = write_events(
        dir.path(),
        "e.jsonl",
        &[key_created(
            "self-1",
            ACCOUNT,
            "trailwarden-responder",
            "heidi",
            &key,
        )],
    );
    let stats = dir.path().join("stats.json");
    setup.run(&[
        "replay",
        "--config",
        config.to_str().unwrap(),
        "--stats-json",
        stats.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert_eq!(setup.key_status("heidi", &key), "Active");
    assert!(setup.actions(&config).is_empty());
    let stats: Value = serde_json::from_slice(&std::fs::read(stats).unwrap()).unwrap();
    assert_eq!(
        stats["skipped_self_caused"]["access-key-other-user"], 1,
        "{stats}"
    );
}

/// The environment of a machine with no AWS credentials anywhere: none in the environment,
/// no profile files (`home` is an empty folder), no instance metadata.
fn without_credentials<'c>(command: &'c mut Command, home: &Path) -> &'c mut Command {
    for key in [
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "RUST_LOG",
    ] {
        command.env_remove(key);
    }
    command
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", home)
}

#[test]
fn approve_without_credentials_fails_in_one_line_and_leaves_the_action_pending() {
    let setup = Setup::new();
    let dir = tempfile::tempdir().unwrap();
    let key = setup.user_with_key("ivan");
    let config = setup.config(dir.path(), "mode = \"approve\"", "");
    let c = config.to_str().unwrap();
    let events = write_events(
        dir.path(),
        "e.jsonl",
        &[key_created("nocreds-1", ACCOUNT, "mallory", "ivan", &key)],
    );
    setup.run(&["replay", "--config", c, events.to_str().unwrap()]);
    let id = setup.actions(&config)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut approve = setup.command(&["actions", "approve", &id, "--config", c]);
    let out = without_credentials(&mut approve, &dir.path().join("home"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "approve must fail: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, not a log dump:\n{stderr}");
    assert!(
        lines[0].contains("no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes into a pipe: {stderr}"
    );
    assert_eq!(setup.actions(&config)[0]["status"], "pending_approval");
    assert_eq!(setup.key_status("ivan", &key), "Active");

    // Approved while no daemon runs (as if by an earlier approve), it waits in the outbox:
    // `actions run` without credentials says so in one line and leaves it waiting...
    let outbox = trailwarden::respond::outbox::Outbox::open(&dir.path().join("audit.db")).unwrap();
    use trailwarden::respond::outbox::Status;
    assert!(outbox
        .transition(&id, Status::PendingApproval, Status::Accepted)
        .unwrap());
    let mut run = setup.command(&["actions", "run", "--config", c]);
    let out = without_credentials(&mut run, &dir.path().join("home"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no AWS credentials found"), "{stderr}");
    let action = &setup.actions(&config)[0];
    assert_eq!(
        (action["status"].as_str(), action["attempts"].as_u64()),
        (Some("accepted"), Some(0))
    );
    // ... and with credentials it runs.
    let out = setup.run(&["actions", "run", "--config", c]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 actions run"));
    assert_eq!(setup.key_status("ivan", &key), "Inactive");
}

#[test]
fn a_failed_action_can_be_retried_and_the_retry_is_recorded() {
    let setup = Setup::new();
    let dir = tempfile::tempdir().unwrap();
    let key = setup.user_with_key("judy");
    let config = setup.config(dir.path(), "mode = \"enforce\"", "");
    let c = config.to_str().unwrap();
    let events = write_events(
        dir.path(),
        "e.jsonl",
        &[key_created("retry-1", ACCOUNT, "mallory", "judy", &key)],
    );
    // Enforce mode on a machine without credentials: the action runs and fails.
    let mut replay = setup.command(&["replay", "--config", c, events.to_str().unwrap()]);
    let out = without_credentials(&mut replay, &dir.path().join("home"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let action = setup.actions(&config)[0].clone();
    assert_eq!(action["status"], "failed", "{action}");
    let id = action["id"].as_str().unwrap();

    // approve and run do not touch it; retry does, with credentials now.
    let approve = setup
        .command(&["actions", "approve", id, "--config", c])
        .output()
        .unwrap();
    assert!(!approve.status.success());
    // Retry without credentials: one line, still failed.
    let mut retry = setup.command(&["actions", "retry", id, "--config", c]);
    let out = without_credentials(&mut retry, &dir.path().join("home"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("no AWS credentials found") && stderr.contains("stays failed"),
        "{stderr}"
    );
    assert_eq!(setup.actions(&config)[0]["status"], "failed");

    let out = setup.run(&["actions", "retry", id, "--config", c, "--by", "oncall"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("succeeded"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(setup.key_status("judy", &key), "Inactive");
    let outbox = trailwarden::respond::outbox::Outbox::open(&dir.path().join("audit.db")).unwrap();
    let history = outbox.history(id).unwrap();
    assert!(
        history
            .iter()
            .any(|(at, actor, what, _)| actor == "oncall" && what == "retried" && !at.is_empty()),
        "{history:?}"
    );
    // Only a failed action can be retried.
    let again = setup
        .command(&["actions", "retry", id, "--config", c])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("only a failed action can be retried"));
}
