//! `[aws] discover_accounts` and `setup accounts` against moto's Organizations: the
//! organisation's accounts become the accounts trailwarden acts in, and only they.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::daemon::{trailwarden, write_config_with, Auth, Daemon};
use crate::moto::{Moto, ACCOUNT};
use crate::support::plugin;

const OUTSIDER: &str = "999988887777";
const PATTERN: &str = "arn:aws:iam::{account}:role/trailwarden-responder";

/// An access key created by one user for another: access-key-other-user asks to disable it.
fn key_created(id: &str, account: &str) -> Value {
    json!({"eventVersion": "1.09", "eventID": id, "eventTime": "2026-11-20T09:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", "awsRegion": "us-east-1",
        "eventType": "AwsApiCall", "recipientAccountId": account, "sourceIPAddress": "203.0.113.7",
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{account}:user/mallory"),
            "accountId": account, "userName": "mallory"},
        "requestParameters": {"userName": "victim"},
        "responseElements": {"accessKey": {"accessKeyId": format!("AKIA{id}"), "status": "Active",
            "userName": "victim"}}})
}

/// The decision recorded for each event: (status, reason).
fn decisions(db: &std::path::Path) -> std::collections::BTreeMap<String, (String, String)> {
    let outbox = trailwarden::respond::outbox::Outbox::open(db).unwrap();
    outbox
        .list(None, None)
        .unwrap()
        .into_iter()
        .map(|a| {
            (
                a.event_id,
                (a.status.to_string(), a.reason.unwrap_or_default()),
            )
        })
        .collect()
}

#[test]
fn discovered_organisation_accounts_are_listed_and_are_the_only_ones_acted_in() {
    let moto = Moto::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let members: Vec<String> = runtime.block_on(async {
        let org = aws_sdk_organizations::Client::new(&moto.sdk_config().await);
        org.create_organization()
            .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
            .send()
            .await
            .unwrap();
        let mut ids = Vec::new();
        for name in ["workloads", "sandbox"] {
            let created = org
                .create_account()
                .account_name(name)
                .email(format!("{name}@example.com"))
                .send()
                .await
                .unwrap();
            ids.push(
                created
                    .create_account_status()
                    .unwrap()
                    .account_id()
                    .unwrap()
                    .to_string(),
            );
        }
        ids
    });
    let dir = tempfile::tempdir().unwrap();
    let plugins = format!(
        "[[plugins]]\npath = \"{}\"\nname = \"access-key-other-user\"\n\
         [[plugins.grants]]\ncapability = \"iam.disable-access-key\"\naccounts = [\"*\"]\n",
        plugin("access-key-other-user").display()
    );
    let aws = |discover: bool| {
        format!(
            "{}discover_accounts = {discover}\n\
             self_principals = [\"arn:aws:iam::*:role/trailwarden-*\"]\n\
             [aws.assume_role]\n\"*\" = \"{PATTERN}\"\n",
            moto.aws_toml()
        )
    };
    let config = write_config_with(dir.path(), &plugins, &aws(true));
    let config_arg = config.to_str().unwrap();

    // The listing: the management account and both members, each with its role.
    let out = trailwarden(
        &[
            "setup", "accounts", "--config", config_arg, "--format", "json",
        ],
        &moto.env(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = listed.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(ids.contains(&ACCOUNT), "{ids:?}");
    for member in &members {
        let row = listed.iter().find(|a| a["id"] == member.as_str()).unwrap();
        assert_eq!(row["status"], "ACTIVE");
        assert_eq!(row["role"], PATTERN.replace("{account}", member));
    }
    let table = trailwarden(&["setup", "accounts", "--config", config_arg], &moto.env());
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("workloads") && table.contains("3 accounts"),
        "{table}"
    );

    // The daemon with discovery: a member account is acted in (here in dry run), an
    // account outside the organisation is refused.
    let daemon = Daemon::start(&config, &moto.env());
    let events = [
        key_created("member-1", &members[0]),
        key_created("outside-1", OUTSIDER),
    ];
    let response = daemon.post(json!({"Records": events}).to_string().as_bytes(), Auth::Own);
    assert_eq!(response.status, 200, "{}", response.body);
    let db = dir.path().join("audit.db");
    let deadline = Instant::now() + Duration::from_secs(60);
    while decisions(&db).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no decisions: {:?}",
            decisions(&db)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(daemon.stop().code(), Some(0));
    let decided = decisions(&db);
    assert_eq!(decided["member-1"].0, "dry_run", "{decided:?}");
    assert_eq!(decided["outside-1"].0, "denied", "{decided:?}");
    assert!(
        decided["outside-1"]
            .1
            .contains("neither [aws] platform_account"),
        "{decided:?}"
    );

    // Without discovery the same member account is not known, so it is refused too.
    write_config_with(dir.path(), &plugins, &aws(false));
    let daemon = Daemon::start(&config, &moto.env());
    let response = daemon.post(
        json!({"Records": [key_created("member-2", &members[1])]})
            .to_string()
            .as_bytes(),
        Auth::Own,
    );
    assert_eq!(response.status, 200, "{}", response.body);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !decisions(&db).contains_key("member-2") {
        assert!(Instant::now() < deadline, "no decision for member-2");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(daemon.stop().code(), Some(0));
    assert_eq!(decisions(&db)["member-2"].0, "denied");
}
