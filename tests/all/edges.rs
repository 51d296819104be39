//! The daemon's edges under hostile input: decompression bombs, floods of bad lines, slow
//! clients, foreign buckets, the reload endpoint, `config_files` folders. The real binary
//! over HTTP, moto for SQS and S3, the real SQLite audit store.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use serde_json::Value;
use trailwarden::audit::AuditStore;

use crate::daemon::{
    envelope, finding_event_ids, gzip, http, log_of, metric, root_record, wait_until, write_config,
    Auth, Daemon,
};

// ---------------------------------------------------------------- hostile input

/// A nested gzip of 1 GiB of zeros in a few kilobytes: 16384 gzip members of 64 KiB of
/// zeros each (a multi-member stream), gzipped twice more.
fn nested_zero_bomb() -> Vec<u8> {
    let member = gzip(&vec![0u8; 64 * 1024]);
    let mut inner = GzEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..16 * 1024 {
        inner.write_all(&member).unwrap();
    }
    let once = inner.finish().unwrap();
    gzip(&once)
}

/// Millions of one-character lines that do not compress much (so they pass the ratio cap
/// and reach the line splitter): a gzip of `lines` random characters, one per line. The
/// digits among them are JSON (numbers, so `not_an_object`), which makes the input JSON
/// lines, each line an item; the letters are `invalid_json`.
fn gzip_of_short_lines(lines: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut text = Vec::with_capacity(lines * 2);
    for _ in 0..lines {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        text.push(ALPHABET[(state >> 58) as usize]);
        text.push(b'\n');
    }
    gzip(&text)
}

/// Rejects kept one by one (`invalid_json` and `not_an_object`) and summaries.
fn kept_one_by_one(rejected: &Value) -> (u64, u64) {
    let n = |reason: &str| rejected[reason].as_u64().unwrap_or(0);
    (
        n("invalid_json") + n("not_an_object"),
        n("too_many_rejects"),
    )
}

/// The peak resident memory of a process, from /proc, in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024
}

/// Dead letters by reason.
fn rejected_reasons(db: &Path) -> std::collections::BTreeMap<String, u64> {
    AuditStore::open(db)
        .unwrap()
        .count_by(trailwarden::audit::AuditTable::RejectedInputs, "reason")
        .unwrap()
        .into_iter()
        .collect()
}

#[test]
fn decompression_bombs_and_floods_of_bad_lines_are_refused_over_http_in_bounded_memory() {
    let bomb = nested_zero_bomb();
    let flood = gzip_of_short_lines(3_000_000);
    assert!(bomb.len() < 16 * 1024, "a few KB: {}", bomb.len());
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &[]);

    let started = Instant::now();
    let response = daemon.post(&bomb, Auth::Own);
    let bomb_took = started.elapsed();
    // Nothing in it was usable: 400, with the same accounting.
    assert_eq!(response.status, 400, "{response:?}");
    assert_eq!(
        response.json()["rejected"],
        serde_json::json!({"decompression_bomb": 1}),
        "{response:?}"
    );

    let started = Instant::now();
    let response = daemon.post(&flood, Auth::Own);
    let flood_took = started.elapsed();
    assert_eq!(response.status, 400, "{response:?}");
    assert_eq!(
        kept_one_by_one(&response.json()["rejected"]),
        (100, 1),
        "{response:?}"
    );
    eprintln!(
        "bomb of {} bytes answered in {bomb_took:?}; {} bytes of gzip'd lines in {flood_took:?}",
        bomb.len(),
        flood.len()
    );

    // A real event in another request is still detected.
    let real = envelope(&root_record("after-the-bombs"));
    let response = daemon.post(real.to_string().as_bytes(), Auth::Own);
    assert_eq!(response.json()["accepted"], 1, "{response:?}");
    assert_eq!(finding_event_ids(&db).get("after-the-bombs"), Some(&1));

    let peak = peak_rss_mib(daemon.child.id());
    eprintln!("daemon peak RSS: {peak} MiB");
    assert!(peak < 300, "the daemon peaked at {peak} MiB");
    let metrics = daemon.metrics();
    for (line, value) in [
        (
            "trailwarden_events_rejected_total{reason=\"decompression_bomb\"}",
            1,
        ),
        (
            "trailwarden_events_rejected_total{reason=\"too_many_rejects\"}",
            1,
        ),
    ] {
        assert_eq!(metric(&metrics, line), value, "{line}\n{metrics}");
    }
    assert_eq!(
        metric(
            &metrics,
            "trailwarden_events_rejected_total{reason=\"invalid_json\"}"
        ) + metric(
            &metrics,
            "trailwarden_events_rejected_total{reason=\"not_an_object\"}"
        ),
        100
    );
    assert!(daemon.stop().success(), "{}", log_of(dir.path()));
    // Dead-lettered: the bomb with its reason and a truncated raw, the flood as 100 + 1.
    let audit = AuditStore::open(&db).unwrap();
    let dead = audit.rejected_inputs(None).unwrap();
    let bomb_row = dead
        .iter()
        .find(|r| r.reason == "decompression_bomb")
        .unwrap();
    assert!(
        bomb_row.detail.contains("decompression bomb"),
        "{bomb_row:?}"
    );
    assert!(bomb_row.raw.len() <= 256 * 1024);
    let reasons = rejected_reasons(&db);
    let total = |r: &str| reasons.get(r).copied().unwrap_or(0);
    assert_eq!(total("decompression_bomb"), 1, "{reasons:?}");
    assert_eq!(
        total("invalid_json") + total("not_an_object"),
        100,
        "{reasons:?}"
    );
    assert_eq!(total("too_many_rejects"), 1, "{reasons:?}");
    let summary = dead
        .iter()
        .find(|r| r.reason == "too_many_rejects")
        .unwrap();
    assert!(summary.detail.contains("2999900 more"), "{summary:?}");
}

/// The same bomb and flood as CloudTrail log files in S3, announced over SQS: each is
/// refused with its reason, its message deleted (not retried forever), the daemon stays in
/// bounded memory, and the log file announced after them is still detected.
#[test]
fn the_same_bombs_as_s3_log_files_over_sqs_are_refused_in_bounded_memory() {
    use crate::daemon::{create_queue, log_key, put_log_file, wait_until_drained};
    let moto = crate::moto::Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s3 = rt.block_on(moto.s3());
    let (sqs, queue_url) = rt.block_on(create_queue(&moto, "bombs"));
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "{}[sqs]\nqueue_url = \"{queue_url}\"\nwait_time_s = 1\nvisibility_timeout_s = 30\n\
         buckets = [\"trail\"]\n",
        moto.aws_toml()
    );
    let config = write_config(dir.path(), &extra);
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &moto.env());
    rt.block_on(async {
        s3.create_bucket().bucket("trail").send().await.unwrap();
        let mut keys = Vec::new();
        for (name, body) in [
            ("bomb", nested_zero_bomb()),
            ("flood", gzip_of_short_lines(3_000_000)),
        ] {
            let key = log_key("2024-05-02", name);
            s3.put_object()
                .bucket("trail")
                .key(&key)
                .body(body.into())
                .send()
                .await
                .unwrap();
            keys.push(key);
        }
        let good = log_key("2024-05-02", "after-the-bombs");
        put_log_file(&s3, "trail", &good, &[root_record("after-the-s3-bombs")]).await;
        keys.push(good);
        for key in keys {
            let notification = serde_json::json!({"s3Bucket": "trail", "s3ObjectKey": [key]});
            sqs.send_message()
                .queue_url(&queue_url)
                .message_body(notification.to_string())
                .send()
                .await
                .unwrap();
        }
        wait_until_drained(&sqs, &queue_url).await;
    });
    assert_eq!(finding_event_ids(&db).get("after-the-s3-bombs"), Some(&1));
    let peak = peak_rss_mib(daemon.child.id());
    eprintln!("daemon peak RSS: {peak} MiB");
    assert!(peak < 300, "the daemon peaked at {peak} MiB");
    let metrics = daemon.metrics();
    for (line, value) in [
        ("trailwarden_s3_objects_total{outcome=\"read\"}", 3),
        ("trailwarden_sqs_messages_total{outcome=\"deleted\"}", 3),
        ("trailwarden_sqs_messages_total{outcome=\"retried\"}", 0),
        (
            "trailwarden_events_rejected_total{reason=\"decompression_bomb\"}",
            1,
        ),
        (
            "trailwarden_events_rejected_total{reason=\"too_many_rejects\"}",
            1,
        ),
    ] {
        assert_eq!(metric(&metrics, line), value, "{line}\n{metrics}");
    }
    assert!(daemon.stop().success(), "{}", log_of(dir.path()));
    let reasons = rejected_reasons(&db);
    assert_eq!(reasons.get("decompression_bomb"), Some(&1), "{reasons:?}");
    let audit = AuditStore::open(&db).unwrap();
    let bomb_row = audit
        .rejected_inputs(None)
        .unwrap()
        .into_iter()
        .find(|r| r.reason == "decompression_bomb")
        .unwrap();
    assert!(bomb_row.origin.starts_with("s3://trail/"), "{bomb_row:?}");
}

#[test]
fn replay_refuses_the_same_bombs_in_bounded_memory_and_reads_the_next_input() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let db = dir.path().join("audit.db");
    let bomb = dir.path().join("bomb.json.gz");
    std::fs::write(&bomb, nested_zero_bomb()).unwrap();
    let flood = dir.path().join("flood.json.gz");
    std::fs::write(&flood, gzip_of_short_lines(3_000_000)).unwrap();
    let stats = dir.path().join("stats.json");
    // The bombs, then stdin: the replay waits there, so its peak memory can be read.
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .args(["replay", "--config", config.to_str().unwrap()])
        .args(["--stats-json", stats.to_str().unwrap()])
        .args([bomb.to_str().unwrap(), flood.to_str().unwrap(), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    // Read-only, so as not to race the replay's own schema set-up.
    let summaries = || -> i64 {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        rusqlite::Connection::open_with_flags(&db, flags)
            .and_then(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM rejected_inputs WHERE reason = 'too_many_rejects'",
                    [],
                    |row| row.get(0),
                )
            })
            .unwrap_or(0)
    };
    while summaries() == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "replay ended early: {:?}",
            child.wait_with_output().unwrap()
        );
        assert!(Instant::now() < deadline, "the bombs were not refused");
        std::thread::sleep(Duration::from_millis(100));
    }
    let peak = peak_rss_mib(child.id());
    eprintln!("replay peak RSS after both bombs: {peak} MiB");
    assert!(peak < 300, "replay peaked at {peak} MiB");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(root_record("replayed-after-bombs").to_string().as_bytes())
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    assert_eq!(stats["rejected"]["decompression_bomb"], 1, "{stats}");
    assert_eq!(kept_one_by_one(&stats["rejected"]), (100, 1), "{stats}");
    assert_eq!(stats["normalised"], 1, "{stats}");
    assert_eq!(finding_event_ids(&db).get("replayed-after-bombs"), Some(&1));
}

// ---------------------------------------------------------------- reload

#[test]
fn the_ingest_token_cannot_reload_only_the_admin_token_can() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let daemon = Daemon::start(&config, &[]);
    // Its own file, owner-only, never shown.
    let admin_file = dir.path().join("trailwarden.admin-token");
    assert_eq!(
        std::fs::metadata(&admin_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_ne!(daemon.admin_token, daemon.token);
    assert!(!daemon
        .banner
        .iter()
        .any(|l| l.contains(&daemon.admin_token)));
    assert!(!log_of(dir.path()).contains(&daemon.admin_token));
    let reload = |header: Option<(&str, String)>| {
        http(&daemon.addr, "POST", "/v1/reload", header.as_ref(), b"")
    };
    let ingest = reload(Some(("Authorization", format!("Bearer {}", daemon.token))));
    assert_eq!(ingest.status, 403, "{ingest:?}");
    assert_eq!(ingest.json()["error"], "forbidden");
    let ingest_key = reload(Some(("X-Api-Key", daemon.token.clone())));
    assert_eq!(ingest_key.status, 403, "{ingest_key:?}");
    assert_eq!(reload(None).status, 401);
    let admin = reload(Some((
        "Authorization",
        format!("Bearer {}", daemon.admin_token),
    )));
    assert_eq!(admin.status, 200, "{admin:?}");
    assert_eq!(admin.json()["unchanged"], serde_json::json!(["root-usage"]));
    // Reload logged only the reload made with the admin token.
    assert!(daemon.stop().success());
    let log = log_of(dir.path());
    assert_eq!(
        log.matches("reloading (POST /v1/reload)").count(),
        1,
        "{log}"
    );
}

// ---------------------------------------------------------------- whose credentials act

/// `who` (an assumed role's session ARN and its role) in `account` created a key for `user`.
fn key_created_by_role(id: &str, account: Option<&str>, role: &str, user: &str) -> Value {
    let acct = account.unwrap_or("");
    let mut identity = serde_json::json!({
        "type": "AssumedRole",
        "arn": format!("arn:aws:sts::{acct}:assumed-role/{role}/session"),
        "sessionContext": {"sessionIssuer": {"type": "Role", "userName": role,
            "arn": format!("arn:aws:iam::{acct}:role/{role}")}}
    });
    let mut record = serde_json::json!({
        "eventVersion": "1.09", "eventID": id, "eventTime": "2026-11-20T09:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
        "awsRegion": "us-east-1", "eventType": "AwsApiCall", "readOnly": false,
        "requestParameters": {"userName": user},
        "responseElements": {"accessKey": {"accessKeyId": format!("AKIA{id}"),
            "status": "Active", "userName": user}}
    });
    if let Some(account) = account {
        identity["accountId"] = account.into();
        record["recipientAccountId"] = account.into();
    }
    record["userIdentity"] = identity;
    record
}

/// access-key-other-user with `grants` (TOML), trailwarden's own account 111122223333.
fn own_account_config(dir: &Path, grants: &str, aws: &str) -> trailwarden::config::Config {
    let text = format!(
        "[audit]\ndatabase = \"{db}\"\n[engine]\ncache_dir = \"{cache}\"\n\
         [aws]\nplatform_account = \"111122223333\"\n{aws}\n\
         [[plugins]]\npath = \"{wasm}\"\nname = \"access-key-other-user\"\nmode = \"enforce\"\n\
         ungranted_imports = \"deny\"\n{grants}",
        db = dir.join("audit.db").display(),
        cache = dir.join("cache").display(),
        wasm = crate::support::plugin("access-key-other-user").display(),
    );
    trailwarden::config::Config::parse(&text, dir).unwrap()
}

fn run_events(pipeline: &mut trailwarden::pipeline::Pipeline, events: &[Value]) {
    let options = cloudtrail_normalize::Options::default();
    for event in events {
        for item in cloudtrail_normalize::normalize_value(event.clone(), &options) {
            pipeline.ingest(item, "test").unwrap();
        }
    }
    pipeline.flush().unwrap();
}

#[test]
fn an_event_without_a_known_account_never_acts_with_our_own_credentials() {
    let dir = tempfile::tempdir().unwrap();
    // Any account, by the grant: still only where trailwarden knows whose credentials act.
    let config = own_account_config(
        dir.path(),
        "[[plugins.grants]]\ncapability = \"iam.disable-access-key\"\naccounts = [\"*\"]\n",
        "",
    );
    let mut pipeline = crate::support::pipeline(&config);
    run_events(
        &mut pipeline,
        &[
            key_created_by_role("no-account", None, "admin", "alice"),
            key_created_by_role("foreign", Some("999988887777"), "admin", "bob"),
            key_created_by_role("own", Some("111122223333"), "admin", "carol"),
        ],
    );
    let actions = pipeline.outbox().list(None, None).unwrap();
    let by_event = |id: &str| actions.iter().find(|a| a.event_id == id).unwrap();
    let none = by_event("no-account");
    assert_eq!(none.status, "denied", "{none:?}");
    assert!(
        none.reason.as_deref().unwrap().contains("names no account"),
        "{none:?}"
    );
    let foreign = by_event("foreign");
    assert_eq!(foreign.status, "denied", "{foreign:?}");
    assert!(
        foreign
            .reason
            .as_deref()
            .unwrap()
            .contains("neither [aws] platform_account nor in [aws.assume_role]"),
        "{foreign:?}"
    );
    assert_eq!(by_event("own").status, "accepted");
    // Detection is unchanged: three findings.
    assert_eq!(pipeline.stats().findings["access-key-other-user"], 3);

    // With a role to assume there, the foreign account is known.
    let dir = tempfile::tempdir().unwrap();
    let config = own_account_config(
        dir.path(),
        "[[plugins.grants]]\ncapability = \"iam.disable-access-key\"\naccounts = [\"*\"]\n",
        "[aws.assume_role]\n\"999988887777\" = \"arn:aws:iam::999988887777:role/tw\"\n",
    );
    let mut pipeline = crate::support::pipeline(&config);
    run_events(
        &mut pipeline,
        &[key_created_by_role(
            "foreign",
            Some("999988887777"),
            "admin",
            "bob",
        )],
    );
    assert_eq!(
        pipeline.outbox().list(None, None).unwrap()[0].status,
        "accepted"
    );
}

#[test]
fn a_wildcard_self_principal_does_not_hide_roles_of_that_name_in_other_accounts() {
    let dir = tempfile::tempdir().unwrap();
    // The example config's pattern, with a notify-only grant: the plugin is a responder, so
    // self-caused events are withheld from it.
    let config = own_account_config(
        dir.path(),
        "[[plugins.grants]]\ncapability = \"notify.send\"\naccounts = [\"*\"]\n",
        "self_principals = [\"arn:aws:iam::*:role/trailwarden-*\"]\n",
    );
    assert_eq!(
        config.response.self_principals,
        ["arn:aws:iam::111122223333:role/trailwarden-*"]
    );
    let mut pipeline = crate::support::pipeline(&config);
    run_events(
        &mut pipeline,
        &[
            key_created_by_role("ours", Some("111122223333"), "trailwarden-responder", "a"),
            key_created_by_role("attacker", Some("999988887777"), "trailwarden-x", "b"),
        ],
    );
    let stats = pipeline.stats();
    assert_eq!(stats.skipped_self_caused["access-key-other-user"], 1);
    let findings = pipeline
        .audit()
        .findings(&trailwarden::audit::FindingQuery::default())
        .unwrap();
    let ids: Vec<&str> = findings.iter().map(|f| f.event_id.as_str()).collect();
    assert_eq!(ids, ["attacker"], "the foreign role's activity is seen");
}

// ---------------------------------------------------------------- executors

/// A webhook receiver on 127.0.0.1: hands each request's path and body on as soon as it is
/// read, and answers 200 after `delay`.
fn webhook_receiver(delay: Duration) -> (String, std::sync::mpsc::Receiver<(String, String)>) {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
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
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
            if tx
                .send((path, String::from_utf8_lossy(&body).into_owned()))
                .is_err()
            {
                return;
            }
            std::thread::sleep(delay);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, rx)
}

#[test]
fn executors_survive_outbox_errors_and_take_reloaded_settings() {
    let (hooks, received) = webhook_receiver(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let config_with = |path: &str| {
        let plugins = format!(
            "[[plugins]]\npath = \"{}\"\nname = \"root-usage\"\nmode = \"enforce\"\n\
             [plugins.config]\nnotify_target = \"chat\"\nnotify_window_seconds = 0\n\
             [[plugins.grants]]\ncapability = \"notify.send\"\naccounts = [\"*\"]\n\
             [notify.chat]\nurl = \"{hooks}{path}\"\nsecret_file = \"hook.secret\"\n\
             [executor]\nbackoff_ms = 100\n",
            crate::support::plugin("root-usage").display()
        );
        crate::daemon::write_config_with(dir.path(), &plugins, "")
    };
    std::fs::write(dir.path().join("hook.secret"), "s3cr3t\n").unwrap();
    let config = config_with("/first");
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &[]);
    let post = |id: &str| {
        let response = daemon.post(envelope(&root_record(id)).to_string().as_bytes(), Auth::Own);
        assert_eq!(response.json()["accepted"], 1, "{response:?}");
    };
    let next_hook = || {
        received
            .recv_timeout(Duration::from_secs(30))
            .expect("no webhook within 30 s")
    };
    post("exec-1");
    let (path, body) = next_hook();
    assert_eq!(path, "/first");
    assert!(body.contains("exec-1"), "{body}");

    let outbox = trailwarden::respond::outbox::Outbox::open(&db).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while outbox.outstanding().unwrap() > 0 {
        assert!(Instant::now() < deadline, "exec-1 was never recorded");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The outbox fails under the executors (its table gone) for a while.
    let sql = rusqlite::Connection::open(&db).unwrap();
    sql.execute_batch("ALTER TABLE actions RENAME TO actions_away")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !log_of(dir.path()).contains("cannot use the outbox") {
        assert!(Instant::now() < deadline, "{}", log_of(dir.path()));
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    sql.execute_batch("ALTER TABLE actions_away RENAME TO actions")
        .unwrap();
    // The executors are still there.
    post("exec-2");
    let (path, body) = next_hook();
    assert_eq!(path, "/first");
    assert!(body.contains("exec-2"), "{body}");

    // A reload moves the target: the next action goes to the new URL.
    config_with("/second");
    let reload = http(
        &daemon.addr,
        "POST",
        "/v1/reload",
        Some(&("Authorization", format!("Bearer {}", daemon.admin_token))),
        b"",
    );
    assert_eq!(reload.status, 200, "{reload:?}");
    post("exec-3");
    let (path, body) = next_hook();
    assert_eq!(path, "/second", "executors kept the start-up settings");
    assert!(body.contains("exec-3"), "{body}");
    assert!(daemon.stop().success(), "{}", log_of(dir.path()));
    let actions = outbox.list(None, None).unwrap();
    assert_eq!(actions.len(), 3);
    assert!(
        actions
            .iter()
            .all(|a| a.status == "succeeded" && a.attempts == 1),
        "{actions:?}"
    );
}

// ---------------------------------------------------------------- slow clients

/// Sends `head` then one byte of `trickle` every 50 ms until the server closes the
/// connection (or answers); returns how long that took, or `None` if it never did (20 s).
fn trickle(addr: &str, head: &[u8], trickle: u8) -> Option<Duration> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let started = Instant::now();
    if stream.write_all(head).is_err() {
        return Some(started.elapsed());
    }
    let mut buf = [0u8; 512];
    while started.elapsed() < Duration::from_secs(20) {
        match stream.read(&mut buf) {
            Ok(_) => return Some(started.elapsed()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(started.elapsed()),
        }
        if stream.write_all(&[trickle]).is_err() {
            return Some(started.elapsed());
        }
    }
    None
}

/// Whether a request on a new connection gets any answer (a connection past the cap is
/// closed unanswered).
fn answered(addr: &str, request: &[u8]) -> bool {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    stream.write_all(request).is_ok()
        && stream.read_to_end(&mut answer).is_ok()
        && !answer.is_empty()
}

#[test]
fn slow_clients_are_cut_off_and_cannot_hold_request_slots() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[daemon]\nmax_connections = 16\nmax_concurrent_requests = 2\n\
         header_timeout_ms = 3000\nbody_timeout_ms = 1000\n",
    );
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &[]);
    let addr = daemon.addr.clone();
    let post = |id: &str| daemon.post(envelope(&root_record(id)).to_string().as_bytes(), Auth::Own);

    // Slowloris: headers byte by byte on eight connections, which never finish them.
    let header_tricklers: Vec<_> = (0..8)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                trickle(
                    &addr,
                    b"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Slow: ",
                    b'a',
                )
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // Meanwhile a normal client is answered at once.
    let response = post("beside-slowloris");
    assert_eq!(response.status, 200, "{response:?}");
    for trickler in header_tricklers {
        let closed = trickler.join().unwrap();
        let closed = closed.expect("a header trickle was never cut off");
        assert!(closed >= Duration::from_millis(2900), "{closed:?}");
    }

    // Bodies byte by byte take both request slots, but only until the body timeout.
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 100000\r\n\r\n",
        daemon.token
    );
    let body_tricklers: Vec<_> = (0..2)
        .map(|_| {
            let (addr, head) = (addr.clone(), head.clone());
            std::thread::spawn(move || trickle(&addr, head.as_bytes(), b' '))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let busy = post("while-bodies-trickle");
    assert_eq!(busy.status, 503, "both request slots are held: {busy:?}");
    for trickler in body_tricklers {
        assert!(
            trickler.join().unwrap().is_some(),
            "a body trickle was never cut off"
        );
    }
    let response = post("after-the-bodies");
    assert_eq!(response.status, 200, "{response:?}");

    let metrics = daemon.metrics();
    for line in [
        "trailwarden_http_refused_total{reason=\"body_timeout\"}",
        "trailwarden_http_refused_total{reason=\"too_many_requests\"}",
    ] {
        assert!(metric(&metrics, line) >= 1, "{line}\n{metrics}");
    }
    assert!(daemon.stop().success(), "{}", log_of(dir.path()));
    let ids = finding_event_ids(&db);
    for id in ["beside-slowloris", "after-the-bodies"] {
        assert_eq!(ids.get(id), Some(&1), "{id}");
    }
    assert_eq!(ids.get("while-bodies-trickle"), None);
}

#[test]
fn connections_past_the_cap_are_closed_at_once_and_a_freed_slot_serves_again() {
    // Idle connections are held for the whole header timeout (30 s here), so none can
    // time out and free a slot while the test checks the cap, however loaded the machine.
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[daemon]\nmax_connections = 16\nheader_timeout_ms = 30000\n",
    );
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &[]);
    let addr = daemon.addr.clone();

    // Sixteen idle connections fill the cap; the next is closed at once.
    let idle: Vec<_> = (0..16)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let refused = trickle(&addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b'a')
        .expect("the 17th connection was served, not closed");
    assert!(
        refused < Duration::from_secs(10),
        "the 17th connection was held {refused:?}, not closed at once"
    );

    // Closed by their clients, the idle ones free their slots: a client gets in again
    // (bounded wait for the daemon to notice the closes; a refused probe reads nothing).
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !answered(
        &addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ) {
        assert!(
            Instant::now() < deadline,
            "no slot came free after the idle connections closed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let response = daemon.post(
        envelope(&root_record("after-the-idle"))
            .to_string()
            .as_bytes(),
        Auth::Own,
    );
    assert_eq!(response.status, 200, "{response:?}");

    let metrics = daemon.metrics();
    let line = "trailwarden_http_refused_total{reason=\"too_many_connections\"}";
    assert!(metric(&metrics, line) >= 1, "{line}\n{metrics}");
    assert!(daemon.stop().success(), "{}", log_of(dir.path()));
    assert_eq!(finding_event_ids(&db).get("after-the-idle"), Some(&1));
}

// ---------------------------------------------------------------- SQS and S3

#[test]
fn sqs_fetches_only_allowed_buckets_and_gives_up_on_a_failing_object() {
    use crate::daemon::{create_queue, log_key, put_log_file, wait_until_drained};
    let moto = crate::moto::Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s3 = rt.block_on(moto.s3());
    let (sqs, queue_url) = rt.block_on(create_queue(&moto, "edges"));
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "{}[sqs]\nqueue_url = \"{queue_url}\"\nwait_time_s = 1\nvisibility_timeout_s = 30\n\
         buckets = [\"trail\"]\nmax_object_attempts = 3\n",
        moto.aws_toml()
    );
    let config = write_config(dir.path(), &extra);
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &moto.env());
    let notification = |bucket: &str, key: &str| {
        serde_json::json!({"s3Bucket": bucket, "s3ObjectKey": [key]}).to_string()
    };
    rt.block_on(async {
        for bucket in ["trail", "someone-elses"] {
            s3.create_bucket().bucket(bucket).send().await.unwrap();
        }
        // A log file in a bucket the config does not name: never fetched.
        let key = log_key("2024-05-02", "foreign");
        put_log_file(&s3, "someone-elses", &key, &[root_record("foreign-1")]).await;
        // A log file archived to Glacier: every GetObject fails (InvalidObjectState).
        let archived = log_key("2024-05-02", "archived");
        s3.put_object()
            .bucket("trail")
            .key(&archived)
            .storage_class(aws_sdk_s3::types::StorageClass::Glacier)
            .body(gzip(b"{\"Records\":[]}").into())
            .send()
            .await
            .unwrap();
        // And a good one.
        let good = log_key("2024-05-02", "good");
        put_log_file(&s3, "trail", &good, &[root_record("allowed-1")]).await;
        for body in [
            notification("someone-elses", &key),
            notification("trail", &archived),
            notification("trail", &good),
        ] {
            sqs.send_message()
                .queue_url(&queue_url)
                .message_body(body)
                .send()
                .await
                .unwrap();
        }
        wait_until_drained(&sqs, &queue_url).await;
    });
    // The emulator's queue counts can read empty while the archived object's message waits
    // out its back-off (seen once in CI): the daemon's own counts say when it gave up on it
    // and deleted its message.
    let gave_up = "trailwarden_s3_objects_total{outcome=\"failed_for_good\"}";
    let deleted = "trailwarden_sqs_messages_total{outcome=\"deleted\"}";
    wait_until(dir.path(), "the archived object given up", &mut || {
        let metrics = daemon.metrics();
        metric(&metrics, gave_up) > 0 && metric(&metrics, deleted) >= 3
    });
    let metrics = daemon.metrics();
    for (line, value) in [
        ("trailwarden_s3_objects_total{outcome=\"read\"}", 1),
        (
            "trailwarden_s3_objects_total{outcome=\"bucket_not_allowed\"}",
            1,
        ),
        ("trailwarden_s3_objects_total{outcome=\"failed\"}", 2),
        (
            "trailwarden_s3_objects_total{outcome=\"failed_for_good\"}",
            1,
        ),
        ("trailwarden_sqs_messages_total{outcome=\"deleted\"}", 3),
        (
            "trailwarden_events_rejected_total{reason=\"s3_bucket_not_allowed\"}",
            1,
        ),
        (
            "trailwarden_events_rejected_total{reason=\"s3_object_failed\"}",
            1,
        ),
    ] {
        assert_eq!(metric(&metrics, line), value, "{line}\n{metrics}");
    }
    assert!(daemon.stop().success(), "{}", log_of(dir.path()));
    let ids = finding_event_ids(&db);
    assert_eq!(ids.keys().collect::<Vec<_>>(), ["allowed-1"]);
    let dead = AuditStore::open(&db)
        .unwrap()
        .rejected_inputs(None)
        .unwrap();
    let failed = dead
        .iter()
        .find(|d| d.reason == "s3_object_failed")
        .unwrap();
    assert!(
        failed.detail.contains("3 attempts") && failed.detail.contains("InvalidObjectState"),
        "{failed:?}"
    );
    let foreign = dead
        .iter()
        .find(|d| d.reason == "s3_bucket_not_allowed")
        .unwrap();
    assert!(
        foreign.origin.starts_with("s3://someone-elses/"),
        "{foreign:?}"
    );
}

#[test]
fn actions_run_does_not_take_over_an_action_another_process_is_running() {
    // The webhook answers slowly: `actions approve` holds the action for three seconds.
    let (hooks, received) = webhook_receiver(Duration::from_secs(3));
    let dir = tempfile::tempdir().unwrap();
    let plugins = format!(
        "[[plugins]]\npath = \"{}\"\nname = \"root-usage\"\nmode = \"approve\"\n\
         [plugins.config]\nnotify_target = \"chat\"\n\
         [[plugins.grants]]\ncapability = \"notify.send\"\naccounts = [\"*\"]\n\
         [notify.chat]\nurl = \"{hooks}/hook\"\nsecret_file = \"hook.secret\"\n",
        crate::support::plugin("root-usage").display()
    );
    std::fs::write(dir.path().join("hook.secret"), "s3cr3t\n").unwrap();
    let config = crate::daemon::write_config_with(dir.path(), &plugins, "");
    let c = config.to_str().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, root_record("held-1").to_string()).unwrap();
    let out = crate::daemon::trailwarden(&["replay", "--config", c, events.to_str().unwrap()], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outbox = trailwarden::respond::outbox::Outbox::open(&dir.path().join("audit.db")).unwrap();
    let pending = outbox.list(None, None).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].status, "pending_approval");
    let id = pending[0].id.clone();

    let approve = Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .args(["actions", "approve", &id, "--config", c, "--by", "alice"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The approval's webhook call is in flight ...
    let (path, body) = received
        .recv_timeout(Duration::from_secs(60))
        .expect("the approved action never ran");
    assert_eq!(path, "/hook");
    assert!(body.contains("held-1"), "{body}");
    assert_eq!(outbox.get(&id).unwrap().unwrap().status, "running");
    // ... when another `actions run` starts: it must leave the held action alone.
    let out = crate::daemon::trailwarden(&["actions", "run", "--config", c, "--wait", "0s"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 actions run"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let approved = approve.wait_with_output().unwrap();
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    assert!(
        received.recv_timeout(Duration::from_secs(2)).is_err(),
        "the action ran twice"
    );
    let action = outbox.get(&id).unwrap().unwrap();
    assert_eq!((action.status.as_str(), action.attempts), ("succeeded", 1));
}

// ---------------------------------------------------------------- dedup by content

/// Issue 13: dedup was first-arrival-wins by eventID, so whoever can send events could hide
/// a real event by sending a harmless one with its id first. Now the id is kept with a digest
/// of the content: the real event is processed (a `dedup_conflict`, counted in the answer,
/// the metrics and the log), while the same content again, in any shape, stays a duplicate.
#[test]
fn a_forged_copy_of_an_event_id_sent_first_does_not_hide_the_real_event() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &[]);

    // The forgery: the real event's id on a harmless call by an ordinary user.
    let real = root_record("real-root-call");
    let mut forged = real.clone();
    forged["userIdentity"] = serde_json::json!({
        "type": "IAMUser",
        "arn": format!("arn:aws:iam::{}:user/alice", crate::moto::ACCOUNT),
        "accountId": crate::moto::ACCOUNT,
        "userName": "alice"
    });
    forged["eventName"] = serde_json::json!("ListBuckets");
    let answer = daemon.post(envelope(&forged).to_string().as_bytes(), Auth::Own);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["accepted"], 1, "{answer:?}");
    assert_eq!(finding_event_ids(&db).get("real-root-call"), None);

    // The real one is processed, and said to conflict.
    let answer = daemon.post(envelope(&real).to_string().as_bytes(), Auth::Own);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["accepted"], 1, "{answer:?}");
    assert_eq!(answer.json()["dedup_conflicts"], 1, "{answer:?}");
    assert_eq!(finding_event_ids(&db).get("real-root-call"), Some(&1));

    // The real one again, bare this time (the S3 log file's shape), and the forgery again:
    // duplicates, nothing processed twice.
    for body in [real.to_string(), envelope(&forged).to_string()] {
        let answer = daemon.post(body.as_bytes(), Auth::Own);
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json()["accepted"], 0, "{answer:?}");
        assert_eq!(answer.json()["skipped"]["duplicate"], 1, "{answer:?}");
        assert!(answer.json().get("dedup_conflicts").is_none(), "{answer:?}");
    }
    assert_eq!(finding_event_ids(&db).get("real-root-call"), Some(&1));
    let text = daemon.metrics();
    assert_eq!(
        metric(&text, "trailwarden_dedup_conflicts_total"),
        1,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "trailwarden_events_skipped_total{reason=\"duplicate\"}"
        ),
        2,
        "{text}"
    );
    let status = daemon.stop();
    assert!(status.success(), "{status}");
    let log = log_of(dir.path());
    let conflicts: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("dedup_conflict"))
        .collect();
    assert_eq!(conflicts.len(), 1, "{log}");
    assert!(conflicts[0].contains("real-root-call"), "{log}");
}

#[test]
fn copies_of_one_event_id_cannot_fail_the_batch_that_holds_a_real_event() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    // One batch takes the whole request.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("batch_size = 16", "batch_size = 64");
    std::fs::write(&config, text).unwrap();
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &[]);

    // 30 root calls under one id the sender chose (each with its own content, so none is a
    // duplicate), around a real one: 30 findings for one event id, over the plugin's limit
    // of 20 per event, if the limit were per id rather than per event.
    let mut records: Vec<Value> = (0..30)
        .map(|i| {
            let mut record = root_record("chosen-id");
            record["sourceIPAddress"] = serde_json::json!(format!("203.0.113.{i}"));
            record
        })
        .collect();
    records.insert(15, root_record("real-root-call"));
    let body = serde_json::json!({ "Records": records }).to_string();
    let answer = daemon.post(body.as_bytes(), Auth::Own);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["accepted"], 31, "{answer:?}");

    let ids = finding_event_ids(&db);
    assert_eq!(ids.get("real-root-call"), Some(&1), "{ids:?}");
    assert!(ids.contains_key("chosen-id"), "{ids:?}");
    let status = daemon.stop();
    assert!(status.success(), "{status}");
    let failures: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM plugin_failures", [], |row| row.get(0))
        .unwrap();
    assert_eq!(failures, 0, "no batch failed");
}
