//! Notifications where responders are (issue 21): stand-ins for Slack, Teams and PagerDuty on
//! 127.0.0.1 that check each payload against the service's documented shape, moto's SNS and
//! SES for the AWS kinds, grouping and rate limits over a burst of 500 findings, and a
//! restart of the daemon mid-burst that neither loses nor repeats a message.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::daemon::{envelope, log_of, root_record, trailwarden, write_config_with, Auth, Daemon};
use crate::support::plugin;

/// One request a stand-in received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A stand-in service on 127.0.0.1: records each JSON request and answers `status` with
/// `answer` after `delay`.
struct StandIn {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl StandIn {
    fn start(status: u16, answer: &'static str, delay: Duration) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let mut headers = Vec::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        headers.push((k.trim().to_owned(), v.trim().to_owned()));
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                std::thread::sleep(delay);
                kept.lock().unwrap().push(Received {
                    path: request_line.split(' ').nth(1).unwrap_or("").to_owned(),
                    headers,
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                });
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                        answer.len()
                    )
                    .as_bytes(),
                );
            }
        });
        StandIn { url, received }
    }

    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let all = self.all();
            if all.len() >= n || Instant::now() > deadline {
                return all;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// root-usage in enforce mode, sending every finding to `[notify.oncall]` (described by
/// `target`), with `extra` appended to the config.
fn config(dir: &Path, target: &str, extra: &str) -> PathBuf {
    let plugins = format!(
        "[[plugins]]\npath = \"{}\"\nname = \"root-usage\"\nmode = \"enforce\"\n\
         [plugins.config]\nnotify_target = \"oncall\"\nnotify_window_seconds = 0\n\
         [[plugins.grants]]\ncapability = \"notify.send\"\naccounts = [\"*\"]\nmax_per_hour = 100000\n\
         [executor]\nbackoff_ms = 100\n\
         [notify.oncall]\n{target}\n",
        plugin("root-usage").display()
    );
    write_config_with(dir, &plugins, extra)
}

fn run_ok(args: &[&str], env: &[(&'static str, String)]) -> String {
    let out = trailwarden(args, env);
    assert!(
        out.status.success(),
        "trailwarden {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Replays `events` (root calls) and runs the actions they decided.
fn replay_and_run(dir: &Path, config: &Path, events: &[Value], env: &[(&'static str, String)]) {
    let file = dir.join("events.jsonl");
    let lines: Vec<String> = events.iter().map(Value::to_string).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let c = config.to_str().unwrap();
    run_ok(&["replay", "--config", c, file.to_str().unwrap()], env);
    run_ok(&["actions", "run", "--config", c, "--wait", "20s"], env);
}

fn db_rows(dir: &Path, sql: &str) -> Vec<Vec<Value>> {
    let conn = rusqlite::Connection::open(dir.join("audit.db")).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |row| {
            (0..n)
                .map(|i| {
                    let v: rusqlite::types::Value = row.get(i)?;
                    Ok(match v {
                        rusqlite::types::Value::Integer(i) => json!(i),
                        rusqlite::types::Value::Text(t) => json!(t),
                        _ => Value::Null,
                    })
                })
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn text_len(value: &Value) -> usize {
    value.as_str().map_or(usize::MAX, |s| s.chars().count())
}

#[test]
fn slack_teams_and_pagerduty_get_their_documented_payloads_and_pagerduty_resolves() {
    const ROUTING_KEY: &str = "R0123456789abcdef0123456789abcde";
    for kind in ["slack", "teams", "pagerduty"] {
        let dir = tempfile::tempdir().unwrap();
        let (status, answer) = match kind {
            "pagerduty" => (202, r#"{"status":"success","message":"Event processed"}"#),
            "slack" => (200, "ok"),
            _ => (200, "1"),
        };
        let service = StandIn::start(status, answer, Duration::ZERO);
        let target = if kind == "pagerduty" {
            std::fs::write(dir.path().join("pd.key"), format!("{ROUTING_KEY}\n")).unwrap();
            format!(
                "kind = \"pagerduty\"\nurl = \"{}/v2/enqueue\"\nrouting_key_file = \"pd.key\"",
                service.url
            )
        } else {
            std::fs::write(
                dir.path().join("hook.url"),
                format!("{}/services/T000/B000/XXXX\n", service.url),
            )
            .unwrap();
            format!("kind = \"{kind}\"\nurl_file = \"hook.url\"")
        };
        let config = config(
            dir.path(),
            &target,
            "[console]\npublic_url = \"https://console.example/\"\n",
        );
        replay_and_run(dir.path(), &config, &[root_record("shape-1")], &[]);
        let got = service.wait_for(1, Duration::from_secs(10));
        assert_eq!(got.len(), 1, "{kind}: {got:?}");
        let request = &got[0];
        assert_eq!(request.header("content-type"), Some("application/json"));
        let body = &request.body;
        let finding = db_rows(dir.path(), "SELECT id, dedup_key FROM findings");
        assert_eq!(finding.len(), 1);
        let link = format!("https://console.example/findings/{}", finding[0][0]);
        match kind {
            "slack" => {
                assert_eq!(request.path, "/services/T000/B000/XXXX");
                // Block Kit: a fallback text, at most 50 blocks of known types and sizes.
                assert!((1..=40_000).contains(&text_len(&body["text"])), "{body}");
                let blocks = body["blocks"].as_array().expect("blocks");
                assert!(!blocks.is_empty() && blocks.len() <= 50);
                for block in blocks {
                    let t = block["type"].as_str().unwrap();
                    assert!(
                        ["header", "section", "context", "divider", "actions"].contains(&t),
                        "{block}"
                    );
                    if t == "header" {
                        assert_eq!(block["text"]["type"], "plain_text");
                        assert!(text_len(&block["text"]["text"]) <= 150);
                    }
                    if let Some(fields) = block.get("fields") {
                        let fields = fields.as_array().unwrap();
                        assert!(fields.len() <= 10);
                        assert!(fields
                            .iter()
                            .all(|f| f["type"] == "mrkdwn" && text_len(&f["text"]) <= 2000));
                    }
                    if let Some(text) = block.get("text").filter(|_| t == "section") {
                        assert!(text_len(&text["text"]) <= 3000);
                    }
                }
                let all = body.to_string();
                assert!(all.contains("*Severity*\\nhigh"), "{all}");
                assert!(
                    all.contains("*Principal*\\narn:aws:iam::123456789012:root"),
                    "{all}"
                );
                assert!(all.contains("123456789012 / us-east-1"), "{all}");
                assert!(
                    all.contains("*Runbook*: Ask the owner of the root credentials"),
                    "{all}"
                );
                assert!(all.contains(&format!("<{link}|Open the finding>")), "{all}");
            }
            "teams" => {
                assert_eq!(body["type"], "message");
                let attachments = body["attachments"].as_array().unwrap();
                assert_eq!(attachments.len(), 1);
                assert_eq!(
                    attachments[0]["contentType"],
                    "application/vnd.microsoft.card.adaptive"
                );
                let card = &attachments[0]["content"];
                assert_eq!(card["type"], "AdaptiveCard");
                assert!(card["version"].is_string());
                let items = card["body"].as_array().unwrap();
                assert_eq!(items[0]["type"], "TextBlock");
                let facts = items
                    .iter()
                    .find(|i| i["type"] == "FactSet")
                    .and_then(|f| f["facts"].as_array())
                    .expect("a FactSet");
                assert!(facts
                    .iter()
                    .all(|f| f["title"].is_string() && f["value"].is_string()));
                assert!(facts
                    .iter()
                    .any(|f| f["title"] == "Severity" && f["value"] == "high"));
                assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
                assert_eq!(card["actions"][0]["url"], json!(link));
            }
            _ => {
                assert_eq!(request.path, "/v2/enqueue");
                assert_eq!(body["routing_key"], ROUTING_KEY);
                assert_eq!(body["event_action"], "trigger");
                assert_eq!(body["dedup_key"], finding[0][1]);
                assert!(text_len(&body["dedup_key"]) <= 255);
                let payload = &body["payload"];
                assert!(
                    (1..=1024).contains(&text_len(&payload["summary"])),
                    "{payload}"
                );
                assert!(text_len(&payload["source"]) >= 1);
                assert_eq!(payload["severity"], "error", "high maps to error");
                assert!(payload["custom_details"].is_object());
                assert_eq!(body["links"][0]["href"], json!(link));

                // The finding is resolved (the console's hook, here its command): one
                // resolve with the same dedup key, once however often it is asked.
                let c = config.to_str().unwrap();
                let id = finding[0][0].to_string();
                let out = run_ok(&["notify", "resolve", &id, "--config", c], &[]);
                assert!(out.contains("succeeded"), "{out}");
                run_ok(&["notify", "resolve", &id, "--config", c], &[]);
                let got = service.wait_for(2, Duration::from_secs(10));
                std::thread::sleep(Duration::from_millis(300));
                let got_all = service.all();
                assert_eq!(got_all.len(), 2, "{got:?}");
                let resolve = &got_all[1].body;
                assert_eq!(resolve["event_action"], "resolve");
                assert_eq!(resolve["dedup_key"], finding[0][1]);
                assert_eq!(resolve["routing_key"], ROUTING_KEY);
            }
        }
        // The secret never reached the log or the outbox.
        let dump = db_rows(dir.path(), "SELECT request FROM actions");
        assert!(!format!("{dump:?}").contains(ROUTING_KEY));
        assert!(!format!("{dump:?}").contains("/services/T000"));
    }
}

#[test]
fn notify_test_prints_the_answer_and_literal_secrets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let service = StandIn::start(200, "ok", Duration::ZERO);
    std::fs::write(
        dir.path().join("hook.url"),
        format!("{}/services/T/B/X", service.url),
    )
    .unwrap();
    let config = config(dir.path(), "kind = \"slack\"\nurl_file = \"hook.url\"", "");
    let out = run_ok(
        &[
            "notify",
            "test",
            "oncall",
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.contains("answered 200: ok"), "{out}");
    assert!(
        !out.contains("/services/"),
        "the secret URL was printed: {out}"
    );
    let got = service.wait_for(1, Duration::from_secs(5));
    assert!(got[0].body.to_string().contains("[test]"), "{:?}", got[0]);

    // A refusal is printed with the service's reason, and fails.
    let refusing = StandIn::start(400, "invalid_blocks", Duration::ZERO);
    std::fs::write(
        dir.path().join("hook.url"),
        format!("{}/services/T/B/X", refusing.url),
    )
    .unwrap();
    let out = trailwarden(
        &[
            "notify",
            "test",
            "oncall",
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("invalid_blocks"),
        "{out:?}"
    );

    // A secret written in the config is refused, and not echoed.
    let literal = self::config(
        dir.path(),
        "url = \"http://127.0.0.1:9/hook\"\nsecret = \"hunter2-literal\"",
        "",
    );
    let out = trailwarden(
        &[
            "notify",
            "test",
            "oncall",
            "--config",
            literal.to_str().unwrap(),
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("secret_env"), "{stderr}");
    assert!(!stderr.contains("hunter2-literal"), "{stderr}");
}

/// An unsigned AWS query API call to moto (it does not check signatures; the credential
/// scope names the service).
fn moto_query(moto: &crate::moto::Moto, service: &str, form: &str) -> String {
    let addr = moto.endpoint.trim_start_matches("http://");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\r\n",
        form.len()
    );
    let response = crate::daemon::raw_request(addr, head.as_bytes(), form.as_bytes());
    assert_eq!(response.status, 200, "{}", response.body);
    response.body
}

#[test]
fn sns_and_email_targets_publish_through_aws() {
    let moto = crate::moto::Moto::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sqs = runtime.block_on(async { aws_sdk_sqs::Client::new(&moto.sdk_config().await) });
    let queue_url = runtime.block_on(async {
        let q = sqs
            .create_queue()
            .queue_name("alerts-q")
            .send()
            .await
            .unwrap();
        q.queue_url().unwrap().to_owned()
    });
    let topic = "arn:aws:sns:us-east-1:123456789012:alerts";
    moto_query(
        &moto,
        "sns",
        "Action=CreateTopic&Name=alerts&Version=2010-03-31",
    );
    moto_query(
        &moto,
        "sns",
        &format!(
            "Action=Subscribe&TopicArn={topic}&Protocol=sqs&Endpoint=arn:aws:sqs:us-east-1:123456789012:alerts-q&Version=2010-03-31"
        ),
    );
    moto_query(
        &moto,
        "ses",
        "Action=VerifyEmailIdentity&EmailAddress=alerts%40example.com&Version=2010-12-01",
    );

    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &format!("kind = \"sns\"\ntopic_arn = \"{topic}\""),
        &format!(
            "{}[notify.mail]\nkind = \"email\"\nfrom = \"alerts@example.com\"\nto = [\"soc@example.com\"]\n",
            moto.aws_toml()
        ),
    );
    let env = moto.env();
    replay_and_run(dir.path(), &config, &[root_record("sns-1")], &env);
    let message = runtime.block_on(async {
        let out = sqs
            .receive_message()
            .queue_url(&queue_url)
            .wait_time_seconds(5)
            .send()
            .await
            .unwrap();
        out.messages()
            .first()
            .and_then(|m| m.body())
            .unwrap()
            .to_owned()
    });
    let notification: Value = serde_json::from_str(&message).unwrap();
    assert_eq!(notification["Type"], "Notification");
    assert_eq!(notification["TopicArn"], topic);
    assert!(notification["Subject"]
        .as_str()
        .unwrap()
        .starts_with("[trailwarden] HIGH: Root user"));
    assert!(notification["Message"]
        .as_str()
        .unwrap()
        .contains("Runbook: Ask the owner"));
    let attributes = &notification["MessageAttributes"];
    assert_eq!(attributes["severity"]["Value"], "high", "{attributes}");
    assert_eq!(attributes["rule"]["Value"], "aws.root.usage");
    assert_eq!(attributes["account"]["Value"], "123456789012");

    let out = run_ok(
        &[
            "notify",
            "test",
            "mail",
            "--config",
            config.to_str().unwrap(),
        ],
        &env,
    );
    assert!(out.contains("sent to 1 recipient"), "{out}");
    let addr = moto.endpoint.trim_start_matches("http://");
    let data = crate::daemon::http(addr, "GET", "/moto-api/data.json", None, b"");
    let data: Value = serde_json::from_str(&data.body).unwrap();
    let sent = data["ses"]["Message"].as_array().expect("SES messages");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["source"], "alerts@example.com");
    assert_eq!(
        sent[0]["destinations"]["ToAddresses"],
        json!(["soc@example.com"])
    );
    assert!(sent[0]["subject"].as_str().unwrap().contains("[test]"));
    assert!(
        sent[0]["body"].as_str().unwrap().contains("<html>"),
        "{}",
        sent[0]
    );
}

/// `n` notify.send actions for root-usage findings over `keys` dedup keys, accepted.
fn queue_findings(
    outbox: &trailwarden::respond::outbox::Outbox,
    n: usize,
    keys: usize,
    severity: &str,
) {
    use trailwarden::respond::outbox::{NewAction, Status};
    for i in 0..n {
        let request = json!({"kind": "webhook", "target": "oncall", "finding": {
            "rule_id": "aws.root.usage", "severity": severity, "title": format!("Root call {i}"),
            "dedup_key": format!("key-{}", i % keys), "event_id": format!("{severity}-{i}"),
            "resources": [], "description": "", "context": {}}});
        // The request as the outbox stores it (the JSON a notify.send is recorded as).
        let request: trailwarden::respond::request::StoredRequest =
            serde_json::from_value(request).unwrap();
        outbox
            .insert(&NewAction {
                idempotency_key: &format!("burst-{severity}-{i}"),
                plugin: "root-usage",
                plugin_version: "1",
                plugin_sha256: "x",
                event_id: &format!("{severity}-{i}"),
                capability: "notify.send",
                request: &request,
                account: "123456789012",
                region: "us-east-1",
                resource: "notify:oncall",
                mode: "enforce",
                status: Status::Accepted,
                reason: None,
                received_us: None,
                undo_of: None,
            })
            .unwrap();
    }
}

#[test]
fn a_burst_of_500_findings_is_grouped_by_dedup_key_and_held_back_past_the_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let service = StandIn::start(200, "", Duration::ZERO);
    std::fs::write(dir.path().join("hook.secret"), "s3cr3t").unwrap();
    let config = config(
        dir.path(),
        &format!(
            "url = \"{}/hook\"\nsecret_file = \"hook.secret\"\ngroup_window_s = 5\n\
             max_per_hour = 30\nrate_window_s = 10\nmin_severity = \"medium\"",
            service.url
        ),
        "",
    );
    let config = trailwarden::config::Config::load(&config).unwrap();
    let outbox = trailwarden::respond::outbox::Outbox::open(&config.database).unwrap();
    // 500 findings over 50 dedup keys, and 20 below the target's severity floor.
    queue_findings(&outbox, 500, 50, "high");
    queue_findings(&outbox, 20, 5, "low");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ran = runtime.block_on(async {
        let runner = trailwarden::respond::executor::ActionRunner::new(
            outbox.clone(),
            Arc::new(config.response.clone()),
        )
        .await
        .unwrap();
        runner.drain(Duration::from_secs(40)).await.unwrap()
    });
    let got = service.all();
    let (digests, messages): (Vec<_>, Vec<_>) =
        got.iter().partition(|r| r.body.get("digest").is_some());
    // 50 groups of 10: 30 sent (the limit), 20 held back and told in one digest.
    assert_eq!(messages.len(), 30, "{got:?}");
    assert!(
        messages.iter().all(|m| m.body["count"] == 10),
        "{messages:?}"
    );
    assert!(messages
        .iter()
        .all(|m| m.header("x-trailwarden-signature").is_some()));
    let keys: std::collections::BTreeSet<_> = messages
        .iter()
        .map(|m| m.body["finding"]["dedup_key"].to_string())
        .collect();
    assert_eq!(keys.len(), 30, "one message per dedup key");
    assert_eq!(digests.len(), 1, "{got:?}");
    assert_eq!(digests[0].body["digest"]["held_back_findings"], 200);
    assert_eq!(digests[0].body["digest"]["held_back_messages"], 20);
    // Every action is recorded: 520 sends (20 below the floor), 50 messages, 1 digest.
    assert_eq!(ran, 520 + 50 + 1);
    let by_capability = db_rows(
        dir.path(),
        "SELECT capability, status, COUNT(*) FROM actions GROUP BY capability, status ORDER BY capability",
    );
    assert_eq!(
        by_capability,
        vec![
            vec![json!("notify.digest"), json!("succeeded"), json!(1)],
            vec![json!("notify.message"), json!("succeeded"), json!(50)],
            vec![json!("notify.send"), json!("succeeded"), json!(520)],
        ]
    );
    let skipped = db_rows(
        dir.path(),
        "SELECT COUNT(*) FROM action_log WHERE what = 'below_min_severity'",
    );
    assert_eq!(skipped, vec![vec![json!(20)]]);
}

#[test]
fn a_restart_mid_burst_neither_loses_nor_repeats_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let service = StandIn::start(200, "", Duration::ZERO);
    std::fs::write(dir.path().join("hook.secret"), "s3cr3t").unwrap();
    let config = config(
        dir.path(),
        &format!(
            "url = \"{}/hook\"\nsecret_file = \"hook.secret\"\ngroup_window_s = 20",
            service.url
        ),
        "",
    );
    // 500 root calls from 50 addresses: root-usage's dedup key is (rule, account, address).
    let records: Vec<Value> = (0..500)
        .map(|i| {
            let mut record = root_record(&format!("burst-{i}"));
            record["sourceIPAddress"] = json!(format!("198.51.100.{}", i % 50));
            envelope(&record)
        })
        .collect();
    let daemon = Daemon::start(&config, &[]);
    for chunk in records.chunks(50) {
        let response = daemon.post(
            Value::Array(chunk.to_vec()).to_string().as_bytes(),
            Auth::Own,
        );
        assert_eq!(response.status, 200, "{response:?}");
    }
    // Killed (-9) while the findings are being grouped.
    let absorbed = || {
        db_rows(
            dir.path(),
            "SELECT COUNT(*) FROM actions WHERE capability = 'notify.send' AND status = 'succeeded'",
        )[0][0]
            .as_i64()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while absorbed() < 100 {
        assert!(Instant::now() < deadline, "{}", log_of(dir.path()));
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut daemon = daemon;
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    let at_kill = absorbed();
    drop(daemon);
    let daemon = Daemon::start(&config, &[]);

    // Every finding ends up counted in exactly one message.
    let deadline = Instant::now() + Duration::from_secs(150);
    let counted = |got: &[Received]| {
        let mut by_id = std::collections::BTreeMap::new();
        for r in got {
            let id = r.body["action_id"].as_str().unwrap().to_owned();
            if let Some(previous) = by_id.insert(id, r.body.clone()) {
                assert_eq!(previous, r.body, "a repeated message id with another body");
            }
        }
        (
            by_id
                .values()
                .map(|b| b["count"].as_u64().unwrap())
                .sum::<u64>(),
            by_id,
        )
    };
    loop {
        let (sum, _) = counted(&service.all());
        if sum >= 500 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(daemon.stop().success(), "{}", log_of(dir.path()));
    let got = service.all();
    let (sum, by_id) = counted(&got);
    assert_eq!(
        sum,
        500,
        "killed after {at_kill} absorbed; {} messages",
        by_id.len()
    );
    let groups = db_rows(dir.path(), "SELECT COUNT(*), SUM(count) FROM notify_groups");
    assert_eq!(
        groups[0][0].as_u64().unwrap(),
        by_id.len() as u64,
        "one message per group"
    );
    assert_eq!(groups[0][1], json!(500));
    // Grouping held across the restart: 50 keys, so about 50 messages, not 500.
    assert!(
        by_id.len() >= 50 && by_id.len() <= 60,
        "{} messages",
        by_id.len()
    );
    let sends = db_rows(
        dir.path(),
        "SELECT status, COUNT(*) FROM actions WHERE capability = 'notify.send' GROUP BY status",
    );
    assert_eq!(sends, vec![vec![json!("succeeded"), json!(500)]]);
}
