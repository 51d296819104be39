//! `trailwarden setup ...` as a user runs it, against moto's server: each command creates
//! what it says (read back with the SDK), a second run changes nothing, `--dry-run` changes
//! nothing, `--check` fails on drift.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::moto::{Moto, ACCOUNT, REGION};

/// A config with only the audit database and moto's `[aws]` table.
fn write_config(dir: &Path, moto: &Moto, extra: &str) -> PathBuf {
    let text = format!(
        "[audit]\ndatabase = \"{}\"\n{}{extra}",
        dir.join("audit.db").display(),
        moto.aws_toml()
    );
    let path = dir.join("trailwarden.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn trailwarden(moto: &Moto, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .args(args)
        .envs(moto.env())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(out),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(out)
}

struct Aws {
    cloudtrail: aws_sdk_cloudtrail::Client,
    s3: aws_sdk_s3::Client,
}

fn aws(moto: &Moto, rt: &tokio::runtime::Runtime) -> Aws {
    rt.block_on(async {
        let sdk = moto.sdk_config().await;
        Aws {
            cloudtrail: aws_sdk_cloudtrail::Client::new(&sdk),
            s3: moto.s3().await,
        }
    })
}

impl Aws {
    async fn trail(&self, name: &str) -> Option<aws_sdk_cloudtrail::types::Trail> {
        let trails = self
            .cloudtrail
            .describe_trails()
            .trail_name_list(name)
            .send()
            .await
            .unwrap();
        trails.trail_list().first().cloned()
    }

    async fn bucket_exists(&self, bucket: &str) -> bool {
        self.s3.head_bucket().bucket(bucket).send().await.is_ok()
    }

    async fn selectors(&self, trail: &str) -> Value {
        let out = self
            .cloudtrail
            .get_event_selectors()
            .trail_name(trail)
            .send()
            .await
            .unwrap();
        let basic: Vec<Value> = out
            .event_selectors()
            .iter()
            .map(|s| {
                json!({
                    "ReadWriteType": s.read_write_type().map(|t| t.as_str()),
                    "IncludeManagementEvents": s.include_management_events(),
                    "DataResources": s.data_resources().iter()
                        .map(|r| json!({"Type": r.r#type(), "Values": r.values()}))
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        let advanced: Vec<Value> = out
            .advanced_event_selectors()
            .iter()
            .map(|s| {
                json!({
                    "Name": s.name(),
                    "FieldSelectors": s.field_selectors().iter()
                        .map(|f| json!({"Field": f.field(), "Equals": f.equals()}))
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({"basic": basic, "advanced": advanced})
    }

    async fn logging(&self, trail: &str) -> bool {
        self.cloudtrail
            .get_trail_status()
            .name(trail)
            .send()
            .await
            .unwrap()
            .is_logging()
            .unwrap_or(false)
    }
}

#[test]
fn setup_trail_dry_run_changes_nothing_then_creates_everything_once() {
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aws = aws(&moto, &rt);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &moto, "");
    let c = config.to_str().unwrap();
    let args = [
        "setup",
        "trail",
        "--config",
        c,
        "--name",
        "org-main",
        "--bucket",
        "tw-trail-logs",
        "--multi-region",
        "--management",
        "write",
        "--data",
        "s3:payroll/exports",
        "--data",
        "lambda:*",
    ];

    // --dry-run: says what it would do, and AWS is untouched.
    let dry: Vec<&str> = args.iter().copied().chain(["--dry-run"]).collect();
    let plan = succeeded(&trailwarden(&moto, &dry));
    assert!(
        plan.contains("would change bucket tw-trail-logs: create"),
        "{plan}"
    );
    assert!(
        plan.contains("would change trail org-main: create"),
        "{plan}"
    );
    assert!(plan.contains("start logging"), "{plan}");
    rt.block_on(async {
        assert!(!aws.bucket_exists("tw-trail-logs").await);
        assert!(aws.trail("org-main").await.is_none());
    });

    let applied = succeeded(&trailwarden(&moto, &args));
    assert!(
        applied.contains("changed trail org-main: create"),
        "{applied}"
    );
    rt.block_on(async {
        let trail = aws.trail("org-main").await.expect("the trail was created");
        assert_eq!(trail.s3_bucket_name(), Some("tw-trail-logs"));
        assert_eq!(trail.log_file_validation_enabled(), Some(true));
        assert_eq!(trail.is_multi_region_trail(), Some(true));
        assert!(aws.logging("org-main").await);
        assert_eq!(
            aws.selectors("org-main").await["basic"],
            json!([{
                "ReadWriteType": "WriteOnly",
                "IncludeManagementEvents": true,
                "DataResources": [
                    {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::payroll/exports"]},
                    {"Type": "AWS::Lambda::Function", "Values": ["arn:aws:lambda"]},
                ],
            }])
        );
        // The bucket policy lets CloudTrail deliver this trail's logs, and only this trail's.
        let policy = aws
            .s3
            .get_bucket_policy()
            .bucket("tw-trail-logs")
            .send()
            .await
            .unwrap();
        let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        let write = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Action"] == "s3:PutObject")
            .expect("a PutObject statement");
        assert_eq!(write["Principal"]["Service"], "cloudtrail.amazonaws.com");
        assert_eq!(
            write["Resource"][0],
            format!("arn:aws:s3:::tw-trail-logs/AWSLogs/{ACCOUNT}/*")
        );
        assert_eq!(
            write["Condition"]["StringEquals"]["aws:SourceArn"],
            format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/org-main")
        );
        let block = aws
            .s3
            .get_public_access_block()
            .bucket("tw-trail-logs")
            .send()
            .await
            .unwrap();
        let block = block.public_access_block_configuration().unwrap();
        assert_eq!(block.block_public_policy(), Some(true));
        assert_eq!(block.restrict_public_buckets(), Some(true));
    });

    // Again: nothing to change, and it says so; a dry run agrees.
    let again = succeeded(&trailwarden(&moto, &args));
    assert!(again.contains("no changes"), "{again}");
    assert!(!again.contains("changed"), "{again}");
    assert!(succeeded(&trailwarden(&moto, &dry)).contains("no changes"));
}

#[test]
fn setup_trail_takes_advanced_selectors_and_refuses_bad_ones() {
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aws = aws(&moto, &rt);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &moto, "");
    let selectors = json!([
        {"Name": "management", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Management"]}
        ]},
        {"Name": "s3-writes", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]}
        ]}
    ]);
    let file = dir.path().join("selectors.json");
    std::fs::write(&file, selectors.to_string()).unwrap();
    let run = |file: &Path| {
        trailwarden(
            &moto,
            &[
                "setup",
                "trail",
                "--config",
                config.to_str().unwrap(),
                "--name",
                "adv",
                "--bucket",
                "adv-logs",
                "--selectors",
                file.to_str().unwrap(),
            ],
        )
    };

    // A selector with a condition AWS does not know: refused before any change.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"[{"FieldSelectors":[{"Field":"eventCategory","Like":["Data"]}]}]"#,
    )
    .unwrap();
    let refused = run(&bad);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("unknown key \"Like\""), "{stderr}");
    rt.block_on(async {
        assert!(aws.trail("adv").await.is_none());
        assert!(!aws.bucket_exists("adv-logs").await);
    });

    succeeded(&run(&file));
    rt.block_on(async {
        assert_eq!(aws.selectors("adv").await["advanced"], selectors);
    });
    assert!(succeeded(&run(&file)).contains("no changes"));
}

#[test]
fn setup_trail_check_fails_on_drift_and_passes_after_setup() {
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aws = aws(&moto, &rt);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &moto, "");
    let c = config.to_str().unwrap();

    // A trail made by hand the way CIS does not want it: one region, no validation, and
    // a bucket anyone may read.
    rt.block_on(async {
        aws.s3
            .create_bucket()
            .bucket("legacy-logs")
            .send()
            .await
            .unwrap();
        let public = json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::legacy-logs/*"
        }]});
        aws.s3
            .put_bucket_policy()
            .bucket("legacy-logs")
            .policy(public.to_string())
            .send()
            .await
            .unwrap();
        aws.cloudtrail
            .create_trail()
            .name("legacy")
            .s3_bucket_name("legacy-logs")
            .enable_log_file_validation(false)
            .send()
            .await
            .unwrap();
    });

    let check = [
        "setup", "trail", "--check", "--config", c, "--name", "legacy", "--format", "json",
    ];
    let failed = trailwarden(&moto, &check);
    assert_eq!(failed.status.code(), Some(1), "{}", stdout(&failed));
    let report: Value = serde_json::from_slice(&failed.stdout).unwrap();
    assert_eq!(report["passed"], false);
    let status = |report: &Value, id: &str| {
        report["trails"][0]["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no control {id} in {report}"))["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for id in [
        "log_file_validation",
        "multi_region",
        "kms_encryption",
        "cloudwatch_logs",
        "logging",
        "bucket_not_public",
    ] {
        assert_eq!(status(&report, id), "fail", "{id}: {report}");
    }
    assert_eq!(status(&report, "management_events"), "pass", "{report}");

    // The table form names the failing control, for people.
    let table = stdout(&trailwarden(&moto, &check[..7]));
    assert!(
        table
            .lines()
            .any(|l| l.contains("log_file_validation") && l.contains("fail")),
        "{table}"
    );

    // setup trail fixes it in place, and says what it changed.
    let role = format!("arn:aws:iam::{ACCOUNT}:role/CloudTrailToLogs");
    let key = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let fixed = succeeded(&trailwarden(
        &moto,
        &[
            "setup",
            "trail",
            "--config",
            c,
            "--name",
            "legacy",
            "--bucket",
            "legacy-logs",
            "--multi-region",
            "--kms-key",
            &key,
            "--cloudwatch-logs",
            "cloudtrail/legacy",
            "--role-arn",
            &role,
        ],
    ));
    assert!(
        fixed.contains("LogFileValidationEnabled: false -> true"),
        "{fixed}"
    );
    let passed = trailwarden(&moto, &check);
    let report: Value = serde_json::from_slice(&passed.stdout).unwrap();
    assert_eq!(passed.status.code(), Some(0), "{report}");
    assert_eq!(report["passed"], true);
    rt.block_on(async {
        let trail = aws.trail("legacy").await.unwrap();
        assert_eq!(
            trail.cloud_watch_logs_log_group_arn(),
            Some(format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:cloudtrail/legacy:*").as_str())
        );
        assert_eq!(trail.kms_key_id(), Some(key.as_str()));
    });

    // A trail that does not exist is a failure, not an empty pass.
    let missing = trailwarden(
        &moto,
        &["setup", "trail", "--check", "--config", c, "--name", "nope"],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(stdout(&missing).contains("no trail named nope"));
}

#[test]
fn setup_eventbridge_to_sqs_creates_rule_target_and_queue_policy_once() {
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &moto, "");
    let c = config.to_str().unwrap();
    let (events, sqs) = rt.block_on(async {
        let sdk = moto.sdk_config().await;
        (
            aws_sdk_eventbridge::Client::new(&sdk),
            aws_sdk_sqs::Client::new(&sdk),
        )
    });
    // The queue already has someone else's statement, which must survive.
    let theirs = json!({"Sid": "Theirs", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
        "Action": "sqs:ReceiveMessage", "Resource": "*"});
    let queue_url = rt.block_on(async {
        let url = sqs
            .create_queue()
            .queue_name("trail-events")
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        sqs.set_queue_attributes()
            .queue_url(&url)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::Policy,
                json!({"Version": "2012-10-17", "Statement": [theirs]}).to_string(),
            )
            .send()
            .await
            .unwrap();
        url
    });
    let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:trail-events");
    let rule_arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/tw-sqs");
    let args = |queue: &str, dry: bool| {
        let mut args = vec![
            "setup",
            "eventbridge",
            "--config",
            c,
            "--to-sqs",
            queue,
            "--name",
            "tw-sqs",
        ]
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
        if dry {
            args.push("--dry-run".into());
        }
        args
    };
    let run = |args: Vec<String>| {
        trailwarden(&moto, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let policy = || {
        rt.block_on(async {
            let attributes = sqs
                .get_queue_attributes()
                .queue_url(&queue_url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
                .send()
                .await
                .unwrap();
            let text = attributes
                .attributes()
                .unwrap()
                .get(&aws_sdk_sqs::types::QueueAttributeName::Policy)
                .unwrap()
                .clone();
            serde_json::from_str::<Value>(&text).unwrap()
        })
    };

    let plan = succeeded(&run(args("trail-events", true)));
    assert!(
        plan.contains("would change EventBridge rule tw-sqs: create"),
        "{plan}"
    );
    assert!(
        plan.contains(&format!("add target trailwarden -> {queue_arn}")),
        "{plan}"
    );
    assert!(
        plan.contains(&format!("would change SQS queue {queue_arn}")),
        "{plan}"
    );
    rt.block_on(async {
        assert!(events.describe_rule().name("tw-sqs").send().await.is_err());
    });
    assert_eq!(policy()["Statement"], json!([theirs]));

    succeeded(&run(args("trail-events", false)));
    rt.block_on(async {
        let rule = events.describe_rule().name("tw-sqs").send().await.unwrap();
        let pattern: Value = serde_json::from_str(rule.event_pattern().unwrap()).unwrap();
        assert_eq!(
            pattern,
            json!({"detail-type": [{"suffix": "via CloudTrail"}]})
        );
        let targets = events
            .list_targets_by_rule()
            .rule("tw-sqs")
            .send()
            .await
            .unwrap();
        assert_eq!(targets.targets().len(), 1);
        assert_eq!(targets.targets()[0].arn(), queue_arn);
    });
    let statements = policy()["Statement"].as_array().unwrap().clone();
    assert_eq!(statements.len(), 2, "{statements:?}");
    assert_eq!(statements[0], theirs);
    assert_eq!(
        statements[1]["Principal"]["Service"],
        "events.amazonaws.com"
    );
    assert_eq!(statements[1]["Action"], "sqs:SendMessage");
    assert_eq!(statements[1]["Resource"], queue_arn);
    assert_eq!(
        statements[1]["Condition"]["ArnEquals"]["aws:SourceArn"],
        rule_arn
    );

    // Again, by ARN this time: nothing to change.
    let again = succeeded(&run(args(&queue_arn, false)));
    assert!(again.contains("no changes"), "{again}");
    // A queue that does not exist: a clear error.
    let missing = run(args("no-such-queue", false));
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("queue no-such-queue"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

#[test]
fn setup_eventbridge_api_destination_dry_run_changes_nothing() {
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &moto, "");
    let role = format!("arn:aws:iam::{ACCOUNT}:role/trailwarden-invoke");
    let mut args = vec![
        "setup",
        "eventbridge",
        "--config",
        config.to_str().unwrap(),
        "--url",
        "https://tw.example.com",
        "--role-arn",
        &role,
        "--name",
        "tw-api",
        "--dry-run",
    ];
    let plan = succeeded(&trailwarden(&moto, &args));
    for line in [
        "would change EventBridge connection tw-api: create",
        "would change EventBridge API destination tw-api: create: POST https://tw.example.com/v1/events",
        "would change EventBridge rule tw-api: create",
        "would create a new ingest token",
    ] {
        assert!(plan.contains(line), "{line:?} missing from:\n{plan}");
    }
    assert!(!dir.path().join("trailwarden.token").exists());
    let events = rt.block_on(async { aws_sdk_eventbridge::Client::new(&moto.sdk_config().await) });
    rt.block_on(async {
        assert!(events.describe_rule().name("tw-api").send().await.is_err());
        assert!(events
            .describe_connection()
            .name("tw-api")
            .send()
            .await
            .is_err());
    });

    // Applied, then planned again: only the connection's key (unreadable) would be re-sent.
    args.pop();
    succeeded(&trailwarden(&moto, &args));
    args.push("--dry-run");
    let plan = succeeded(&trailwarden(&moto, &args));
    let changes: Vec<&str> = plan
        .lines()
        .filter(|l| l.starts_with("would change"))
        .collect();
    assert_eq!(
        changes,
        ["would change EventBridge connection tw-api: update API key auth (header x-api-key, the ingest token)"],
        "{plan}"
    );
}

/// The IAM actions named anywhere in a template's policy.
fn template_actions(template: &Value) -> std::collections::BTreeSet<String> {
    template["Resources"]["ResponderRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn setup_responder_role_allows_exactly_the_granted_capabilities() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = |name: &str| crate::support::plugin(name).display().to_string();
    let text = format!(
        "[audit]\ndatabase = \"{db}\"\n[aws]\nplatform_account = \"{ACCOUNT}\"\n\
         [[plugins]]\npath = \"{keys}\"\nmode = \"enforce\"\n\
         [[plugins.grants]]\ncapability = \"iam.disable-access-key\"\naccounts = [\"*\"]\n\
         resources = [\"arn:aws:iam::*:user/contractor-*\"]\n\
         [[plugins]]\npath = \"{s3}\"\nmode = \"approve\"\n\
         [[plugins.grants]]\ncapability = \"s3.*\"\naccounts = [\"*\"]\n\
         [[plugins]]\npath = \"{trail}\"\n\
         [[plugins.grants]]\ncapability = \"cloudtrail.start-logging\"\naccounts = [\"*\"]\n\
         [[plugins.grants]]\ncapability = \"notify.send\"\nmode = \"enforce\"\naccounts = [\"*\"]\n",
        db = dir.path().join("audit.db").display(),
        keys = wasm("access-key-other-user"),
        s3 = wasm("s3-public-access-block"),
        trail = wasm("cloudtrail-tampering"),
    );
    let config = dir.path().join("trailwarden.toml");
    std::fs::write(&config, text).unwrap();
    let c = config.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_trailwarden"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        succeeded(&out)
    };

    let json_text = run(&["setup", "responder-role", "--config", c, "--format", "json"]);
    let template: Value = serde_json::from_str(&json_text).expect("the template is JSON");
    // The enforce grant and its undo, the approve family with its undo; not the dry-run
    // grant (it never executes), and nothing for a webhook.
    let expected: std::collections::BTreeSet<String> = [
        "iam:UpdateAccessKey",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(template_actions(&template), expected, "{template}");
    let statements = template["Resources"]["ResponderRole"]["Properties"]["Policies"][0]
        ["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    let disable = statements
        .iter()
        .find(|s| s["Sid"] == "IamDisableAccessKey")
        .unwrap();
    assert_eq!(
        disable["Resource"],
        json!(["arn:aws:iam::*:user/contractor-*"])
    );
    // Only the platform account's principal is trusted by default.
    assert_eq!(
        template["Parameters"]["TrustedPrincipalArn"]["Default"],
        format!("arn:aws:iam::{ACCOUNT}:root")
    );
    assert_eq!(
        template["Resources"]["ResponderRole"]["Properties"]["AssumeRolePolicyDocument"]
            ["Statement"][0]["Action"],
        "sts:AssumeRole"
    );

    let with_dry_run = run(&[
        "setup",
        "responder-role",
        "--config",
        c,
        "--format",
        "json",
        "--include-dry-run",
    ]);
    let with_dry_run: Value = serde_json::from_str(&with_dry_run).unwrap();
    let mut expected_all = expected.clone();
    expected_all.insert("cloudtrail:StartLogging".into());
    assert_eq!(template_actions(&with_dry_run), expected_all);

    // The YAML form is the same document (read back by PyYAML from the test venv), with
    // the StackSet instructions as comments.
    let yaml = run(&["setup", "responder-role", "--config", c]);
    assert!(
        yaml.starts_with("# Deploy to every member account"),
        "{yaml}"
    );
    let python = crate::support::repo().join(".venv/bin/python");
    let mut child = Command::new(&python)
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let parsed = child.wait_with_output().unwrap();
    assert!(parsed.status.success());
    let parsed: Value = serde_json::from_slice(&parsed.stdout).unwrap();
    assert_eq!(parsed, template);
}

#[test]
fn setup_responder_role_refuses_a_config_that_grants_nothing_executable() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[audit]\ndatabase = \"{}\"\n[[plugins]]\npath = \"{}\"\n\
         [[plugins.grants]]\ncapability = \"iam.*\"\naccounts = [\"*\"]\n",
        dir.path().join("audit.db").display(),
        crate::support::plugin("access-key-other-user").display(),
    );
    let config = dir.path().join("trailwarden.toml");
    std::fs::write(&config, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .args([
            "setup",
            "responder-role",
            "--config",
            config.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("would allow nothing"), "{stderr}");
}
