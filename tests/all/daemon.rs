//! `trailwarden run` as it is deployed: the real binary on 127.0.0.1, real HTTP, SQS and S3
//! on moto's server, the real SQLite audit store; then `replay s3://`, `audit rejected` and
//! `setup eventbridge`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use serde_json::{json, Value};
use trailwarden::audit::{AuditStore, FindingQuery};

use crate::moto::{Moto, ACCOUNT};
use crate::support::{guest, plugin};

/// How long a daemon may take to load its plugins and listen.
const START_TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------- the daemon under test

pub(crate) struct Daemon {
    pub(crate) child: Child,
    pub(crate) addr: String,
    pub(crate) token: String,
    /// The token `POST /v1/reload` takes.
    pub(crate) admin_token: String,
    lines: Receiver<String>,
    /// Everything it printed on stdout up to "listening on".
    pub(crate) banner: Vec<String>,
}

impl Daemon {
    pub(crate) fn start(config: &Path, env: &[(&'static str, String)]) -> Daemon {
        let dir = config.parent().unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("daemon.log"))
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_trailwarden"))
            // The default log level, as an operator runs it.
            .args(["run", "--config", config.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0"])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let mut banner = Vec::new();
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    banner.push(line.clone());
                    if let Some(addr) = line.strip_prefix("listening on http://") {
                        break addr.to_string();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    panic!(
                        "the daemon did not listen within {START_TIMEOUT:?}: {}",
                        log_of(dir)
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = child.wait().unwrap();
                    panic!(
                        "the daemon exited ({status}) before listening: {}",
                        log_of(dir)
                    );
                }
            }
        };
        let token = std::fs::read_to_string(dir.join("trailwarden.token"))
            .unwrap()
            .trim()
            .to_string();
        let admin_token = std::fs::read_to_string(dir.join("trailwarden.admin-token"))
            .unwrap()
            .trim()
            .to_string();
        Daemon {
            child,
            addr,
            token,
            admin_token,
            lines,
            banner,
        }
    }

    pub(crate) fn post(&self, body: &[u8], auth: Auth<'_>) -> Response {
        let token = match auth {
            Auth::Bearer(t) | Auth::ApiKey(t) => t.to_string(),
            Auth::Own | Auth::OwnApiKey => self.token.clone(),
            Auth::None => String::new(),
        };
        let header = match auth {
            Auth::Bearer(_) | Auth::Own => Some(("Authorization", format!("Bearer {token}"))),
            Auth::ApiKey(_) | Auth::OwnApiKey => Some(("X-Api-Key", token)),
            Auth::None => None,
        };
        http(&self.addr, "POST", "/v1/events", header.as_ref(), body)
    }

    pub(crate) fn get(&self, path: &str, authorized: bool) -> Response {
        let header = authorized.then(|| ("Authorization", format!("Bearer {}", self.token)));
        http(&self.addr, "GET", path, header.as_ref(), b"")
    }

    pub(crate) fn metrics(&self) -> String {
        let response = self.get("/metrics", true);
        assert_eq!(response.status, 200, "{}", response.body);
        response.body
    }

    /// SIGTERM, then waits (at most 60 s) for the exit.
    pub(crate) fn stop(mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the daemon did not stop within 60 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// stdout printed after "listening on" (it should print nothing more).
    fn later_output(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default()
}

#[derive(Clone, Copy)]
pub(crate) enum Auth<'a> {
    None,
    Own,
    OwnApiKey,
    Bearer(&'a str),
    ApiKey(&'a str),
}

#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Response {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`), read to the end.
pub(crate) fn http(
    addr: &str,
    method: &str,
    path: &str,
    header: Option<&(&str, String)>,
    body: &[u8],
) -> Response {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some((name, value)) = header {
        head += &format!("{name}: {value}\r\n");
    }
    head += "\r\n";
    raw_request(addr, head.as_bytes(), body)
}

pub(crate) fn raw_request(addr: &str, head: &[u8], body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    // One write, so that a server answering before reading the body (401, 413) has it all
    // in hand and closes cleanly.
    let _ = stream.write_all(&[head, body].concat());
    let mut bytes = Vec::new();
    // A reset after the answer (a body the server did not read) keeps what was read.
    let read = stream.read_to_end(&mut bytes);
    assert!(!bytes.is_empty(), "no answer: {read:?}");
    let text = String::from_utf8_lossy(&bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap_or("")
        .split(' ')
        .nth(1)
        .unwrap_or("0")
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_string(),
    }
}

// ---------------------------------------------------------------- configs and events

pub(crate) fn write_config(dir: &Path, extra: &str) -> PathBuf {
    // No response capabilities granted: its notify calls are denied (and recorded).
    let plugins = format!(
        "[[plugins]]\npath = \"{}\"\nname = \"root-usage\"\nungranted_imports = \"deny\"\n",
        plugin("root-usage").display()
    );
    write_config_with(dir, &plugins, extra)
}

pub(crate) fn write_config_with(dir: &Path, plugins: &str, extra: &str) -> PathBuf {
    let mut text = format!(
        "[audit]\ndatabase = \"{}\"\n",
        dir.join("audit.db").display()
    );
    text += &format!(
        "[engine]\ncache_dir = \"{}\"\nbatch_size = 16\n",
        dir.join("cache").display()
    );
    text += plugins;
    text += extra;
    let path = dir.join("trailwarden.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A successful call by the root user: root-usage raises one finding for it.
pub(crate) fn root_record(id: &str) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "Root",
            "principalId": ACCOUNT,
            "arn": format!("arn:aws:iam::{ACCOUNT}:root"),
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLEEXAMPLE01"
        },
        "eventTime": "2024-05-02T10:00:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutBucketVersioning",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15",
        "requestParameters": {"bucketName": "logs"},
        "responseElements": null,
        "eventID": id,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management"
    })
}

/// The record as an EventBridge rule delivers it.
pub(crate) fn envelope(record: &Value) -> Value {
    json!({
        "version": "0",
        "id": format!("eb-{}", record["eventID"].as_str().unwrap()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": record["eventTime"],
        "region": "us-east-1",
        "resources": [],
        "detail": record
    })
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// The event ids root-usage has findings for, each with its count.
pub(crate) fn finding_event_ids(db: &Path) -> std::collections::BTreeMap<String, usize> {
    let audit = AuditStore::open(db).unwrap();
    let mut ids = std::collections::BTreeMap::new();
    for finding in audit.findings(&FindingQuery::default()).unwrap() {
        *ids.entry(finding.event_id).or_insert(0) += 1;
    }
    ids
}

pub(crate) fn metric(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(line_start) && l[line_start.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn trailwarden(args: &[&str], env: &[(&'static str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

// ---------------------------------------------------------------- HTTP

#[test]
fn http_ingest_authenticates_counts_dedups_dead_letters_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[daemon]\nmax_body_bytes = 65536\nsummary_interval_s = 1\n",
    );
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &[]);

    // The token was made on this first start; only its owner can read it, and the banner
    // says where it is without showing it.
    let token_file = dir.path().join("trailwarden.token");
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(daemon.token.len(), 64);
    assert!(
        daemon
            .banner
            .iter()
            .any(|l| l.contains("created the ingest token in")
                && l.contains(token_file.to_str().unwrap())),
        "first start says where the token is: {:?}",
        daemon.banner
    );
    assert!(
        !daemon.banner.iter().any(|l| l.contains(&daemon.token)),
        "the token is not printed: {:?}",
        daemon.banner
    );
    // Start-up says what it is loading, at the default log level.
    let log = log_of(dir.path());
    assert!(log.contains("loading 1 plugins"), "{log}");
    assert!(log.contains("1 plugins loaded in"), "{log}");

    // No token, a wrong one: 401, nothing taken in.
    let first = envelope(&root_record("evt-0001"));
    let body = first.to_string();
    for auth in [
        Auth::None,
        Auth::Bearer("not-the-token"),
        Auth::ApiKey("not-the-token"),
    ] {
        let response = daemon.post(body.as_bytes(), auth);
        assert_eq!(response.status, 401, "{response:?}");
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
    }
    assert!(finding_event_ids(&db).is_empty());
    // On a kept-alive connection a refusal closes it (the unread body is not taken for a
    // request) and says so, so that clients reconnect instead of writing into a dead socket.
    let mut stream = TcpStream::connect(&daemon.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream
        .write_all(&[head.as_bytes(), body.as_bytes()].concat())
        .unwrap();
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("the connection is closed after a refusal");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{answer}"
    );

    // With the token (either header): accepted, then a duplicate.
    let response = daemon.post(body.as_bytes(), Auth::Own);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        response.json(),
        json!({"accepted": 1, "skipped": {}, "rejected": {}})
    );
    // Answered only once recorded: the finding is there already, and in the log, one
    // line naming plugin, rule, severity, principal and event.
    assert_eq!(finding_event_ids(&db).get("evt-0001"), Some(&1));
    let log = log_of(dir.path());
    let finding_line = log
        .lines()
        .find(|l| l.contains(" INFO ") && l.contains("finding: "))
        .unwrap_or_else(|| panic!("no finding in the log:\n{log}"));
    for part in [
        "plugin=\"root-usage\"",
        "rule=",
        "severity=",
        "principal=",
        "event=\"evt-0001\"",
    ] {
        assert!(finding_line.contains(part), "{part}: {finding_line}");
    }
    let response = daemon.post(body.as_bytes(), Auth::OwnApiKey);
    assert_eq!(
        response.json(),
        json!({"accepted": 0, "skipped": {"duplicate": 1}, "rejected": {}})
    );

    // A list of envelopes (as API destinations may send), gzip.
    let list = json!([
        envelope(&root_record("evt-0002")),
        envelope(&root_record("evt-0003"))
    ]);
    let response = daemon.post(&gzip(list.to_string().as_bytes()), Auth::Own);
    assert_eq!(response.json()["accepted"], 2, "{response:?}");

    // Bad input among good: counted, dead-lettered, 200.
    let lines = format!(
        "{}\n{{\"broken\": \n{}\n\"a string\"\n",
        root_record("evt-0004"),
        json!({"hello": "world"})
    );
    let response = daemon.post(lines.as_bytes(), Auth::Own);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        response.json(),
        json!({"accepted": 1, "skipped": {}, "rejected": {"invalid_json": 1, "not_cloudtrail": 1, "not_an_object": 1}})
    );

    // Too large: 413 with a reason, nothing read.
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\nContent-Length: 1000000\r\n\r\n",
        daemon.token
    );
    let response = raw_request(&daemon.addr, head.as_bytes(), b"");
    assert_eq!(response.status, 413, "{response:?}");
    assert_eq!(response.json()["error"], "body_too_large");

    // Every second (summary_interval_s = 1) one line sums up the interval.
    let deadline = Instant::now() + Duration::from_secs(20);
    let summary = loop {
        let log = log_of(dir.path());
        if let Some(line) = log
            .lines()
            .find(|l| l.contains("last 1s: ") && !l.contains("last 1s: 0 events"))
        {
            break line.to_string();
        }
        assert!(Instant::now() < deadline, "no summary line:\n{log}");
        std::thread::sleep(Duration::from_millis(200));
    };
    for part in [
        "events (",
        "accepted",
        "findings",
        "actions (",
        "plugin failures",
    ] {
        assert!(summary.contains(part), "{part}: {summary}");
    }
    assert!(
        !log_of(dir.path()).contains('\u{1b}'),
        "no colour codes in a file"
    );

    // Health needs no token and says nothing; metrics need it.
    let health = daemon.get("/healthz", false);
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );
    assert_eq!(daemon.get("/metrics", false).status, 401);
    let metrics = daemon.metrics();
    for (line, value) in [
        ("trailwarden_events_received_total{source=\"http\"}", 8),
        ("trailwarden_events_accepted_total{source=\"http\"}", 4),
        ("trailwarden_events_skipped_total{reason=\"duplicate\"}", 1),
        (
            "trailwarden_events_rejected_total{reason=\"invalid_json\"}",
            1,
        ),
        ("trailwarden_http_refused_total{reason=\"unauthorized\"}", 4),
        (
            "trailwarden_http_refused_total{reason=\"body_too_large\"}",
            1,
        ),
        ("trailwarden_http_responses_total{code=\"200\"}", 4),
        (
            "trailwarden_plugin_events_matched_total{plugin=\"root-usage\"}",
            4,
        ),
        (
            "trailwarden_plugin_findings_total{plugin=\"root-usage\"}",
            4,
        ),
        ("trailwarden_queue_events", 0),
    ] {
        assert_eq!(metric(&metrics, line), value, "{line}\n{metrics}");
    }
    assert!(
        metric(
            &metrics,
            "trailwarden_plugin_invocations_total{plugin=\"root-usage\"}"
        ) >= 1
    );
    assert_eq!(
        metric(
            &metrics,
            "trailwarden_plugin_batch_seconds_count{plugin=\"root-usage\"}"
        ),
        metric(
            &metrics,
            "trailwarden_plugin_invocations_total{plugin=\"root-usage\"}"
        ),
    );
    assert!(metrics.contains("# TYPE trailwarden_plugin_batch_seconds histogram"));
    assert!(!metrics.contains(&daemon.token));

    // SIGTERM: exit 0; the token was never printed again nor logged.
    assert!(daemon.later_output().is_empty());
    let token = daemon.token.clone();
    let status = daemon.stop();
    assert!(status.success(), "{status}: {}", log_of(dir.path()));
    assert!(
        !log_of(dir.path()).contains(&token),
        "the token reached the log"
    );

    let ids = finding_event_ids(&db);
    assert_eq!(
        ids.keys().map(String::as_str).collect::<Vec<_>>(),
        ["evt-0001", "evt-0002", "evt-0003", "evt-0004"]
    );
    assert!(ids.values().all(|n| *n == 1), "{ids:?}");

    // The dead letters, both forms.
    let out = trailwarden(
        &[
            "audit",
            "rejected",
            "--config",
            config.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rejected: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reasons: Vec<&str> = rejected
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 3, "{rejected}");
    for reason in ["invalid_json", "not_cloudtrail", "not_an_object"] {
        assert!(reasons.contains(&reason), "{reasons:?}");
    }
    assert!(rejected[0]["origin"]
        .as_str()
        .unwrap()
        .starts_with("http:127.0.0.1:"));
    let out = trailwarden(
        &["audit", "rejected", "--config", config.to_str().unwrap()],
        &[],
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.starts_with("ID "), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");

    // A second start keeps the token and does not show it.
    let daemon = Daemon::start(&config, &[]);
    assert_eq!(daemon.token, token);
    assert!(
        !daemon.banner.iter().any(|l| l.contains(&token)),
        "{:?}",
        daemon.banner
    );
    // The dedup window survived the restart.
    let response = daemon.post(body.as_bytes(), Auth::Own);
    assert_eq!(response.json()["skipped"]["duplicate"], 1, "{response:?}");
    // A config whose plugin is missing fails before anything is created or printed.
    let broken_dir = tempfile::tempdir().unwrap();
    let broken = write_config_with(
        broken_dir.path(),
        "[[plugins]]\npath = \"missing.wasm\"\n",
        "",
    );
    let out = trailwarden(
        &[
            "run",
            "--config",
            broken.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.wasm"));
    assert!(!broken_dir.path().join("trailwarden.token").exists());

    // A body with nothing usable in it: 400 (EventBridge drops a 4xx rather than retrying
    // it), with the same accounting, and the items dead-lettered as ever.
    let response = daemon.post(b"{\"broken\": \n\"a string\"\n", Auth::Own);
    assert_eq!(response.status, 400, "{response:?}");
    assert_eq!(
        response.json(),
        json!({"accepted": 0, "skipped": {}, "rejected": {"invalid_json": 1, "not_an_object": 1}})
    );
    assert!(daemon.stop().success());
}

#[test]
fn sigterm_with_requests_in_flight_answers_them_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &[]);
    let addr = daemon.addr.clone();
    let token = daemon.token.clone();
    // Four clients post until the daemon stops answering (bounded: 200 requests each).
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let (addr, token) = (addr.clone(), token.clone());
            std::thread::spawn(move || {
                let mut accepted = Vec::new();
                for n in 0..200 {
                    let ids: Vec<String> = (0..5).map(|i| format!("sig-{client}-{n}-{i}")).collect();
                    let body: Vec<Value> = ids.iter().map(|id| envelope(&root_record(id))).collect();
                    let header = ("Authorization", format!("Bearer {token}"));
                    let Ok(mut stream) = TcpStream::connect(&addr) else { break };
                    let body = serde_json::to_vec(&body).unwrap();
                    let head = format!(
                        "POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{}: {}\r\nContent-Length: {}\r\n\r\n",
                        header.0, header.1, body.len()
                    );
                    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                    if stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body)).is_err() {
                        break;
                    }
                    let mut answer = String::new();
                    if stream.read_to_string(&mut answer).is_err() {
                        break;
                    }
                    if !answer.starts_with("HTTP/1.1 200") {
                        break; // 503 while stopping, or the connection closed
                    }
                    accepted.extend(ids);
                }
                accepted
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let status = daemon.stop();
    assert!(status.success(), "{status}: {}", log_of(dir.path()));
    let accepted: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(!accepted.is_empty());
    let ids = finding_event_ids(&db);
    for id in &accepted {
        assert_eq!(
            ids.get(id),
            Some(&1),
            "{id} was answered 200 but not recorded once"
        );
    }
}

#[test]
fn backpressure_answers_503_with_retry_after_and_records_every_accepted_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[daemon]\nqueue_events = 8\nmax_concurrent_requests = 2\n",
    );
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &[]);
    const CLIENTS: usize = 8;
    const REQUESTS: usize = 25;
    const EVENTS: usize = 8;
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (addr, token) = (daemon.addr.clone(), daemon.token.clone());
            std::thread::spawn(move || {
                let (mut refused, mut retry_after_ok, mut accepted, mut duplicates) =
                    (0, true, 0, 0);
                for n in 0..REQUESTS {
                    let body: Vec<Value> = (0..EVENTS)
                        .map(|i| envelope(&root_record(&format!("bp-{client}-{n}-{i}"))))
                        .collect();
                    let body = serde_json::to_vec(&body).unwrap();
                    let header = ("Authorization", format!("Bearer {token}"));
                    // Retry a refused request (bounded), as EventBridge would.
                    for _attempt in 0..200 {
                        let response = http(&addr, "POST", "/v1/events", Some(&header), &body);
                        match response.status {
                            200 => {
                                let answer = response.json();
                                accepted += answer["accepted"].as_u64().unwrap();
                                duplicates += answer["skipped"]["duplicate"].as_u64().unwrap_or(0);
                                break;
                            }
                            503 => {
                                refused += 1;
                                retry_after_ok &= response.header("retry-after") == Some("1");
                                std::thread::sleep(Duration::from_millis(20));
                            }
                            other => panic!("unexpected {other}: {response:?}"),
                        }
                    }
                }
                (refused, retry_after_ok, accepted, duplicates)
            })
        })
        .collect();
    let results: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let elapsed = started.elapsed();
    let refused: usize = results.iter().map(|r| r.0).sum();
    let accepted: u64 = results.iter().map(|r| r.2).sum();
    let duplicates: u64 = results.iter().map(|r| r.3).sum();
    eprintln!(
        "backpressure: {} events in {elapsed:?} ({:.0} events/s), {refused} answers 503",
        accepted,
        accepted as f64 / elapsed.as_secs_f64()
    );
    assert!(
        refused > 0,
        "no 503 with 8 clients, 2 request slots and an 8-event queue"
    );
    assert!(
        results.iter().all(|r| r.1),
        "every 503 carries Retry-After: 1"
    );
    // A refused request took nothing in: its retry was not a duplicate.
    assert_eq!(duplicates, 0);
    assert_eq!(accepted, (CLIENTS * REQUESTS * EVENTS) as u64);
    let metrics = daemon.metrics();
    assert_eq!(
        metric(&metrics, "trailwarden_http_responses_total{code=\"503\"}"),
        refused as u64
    );
    assert!(daemon.stop().success());
    let ids = finding_event_ids(&db);
    assert_eq!(ids.len(), CLIENTS * REQUESTS * EVENTS);
    assert!(ids.values().all(|n| *n == 1));
}

// ---------------------------------------------------------------- SQS and S3 on moto

pub(crate) async fn create_queue(moto: &Moto, name: &str) -> (aws_sdk_sqs::Client, String) {
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    (sqs, url)
}

pub(crate) async fn put_log_file(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    records: &[Value],
) {
    let body = gzip(json!({ "Records": records }).to_string().as_bytes());
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap();
}

pub(crate) fn log_key(day: &str, name: &str) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{}/{ACCOUNT}_CloudTrail_us-east-1_{name}.json.gz",
        day.replace('-', "/")
    )
}

/// Polls `check` every 200 ms until it holds; fails after 90 s with the daemon's log in
/// `dir`.
pub(crate) fn wait_until(dir: &Path, what: &str, check: &mut dyn FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {}",
            log_of(dir)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits (at most 60 s) until the queue has no message left, visible or in flight.
pub(crate) async fn wait_until_drained(sqs: &aws_sdk_sqs::Client, url: &str) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        let count = |a: A| {
            attrs
                .attributes()
                .and_then(|m| m.get(&a))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        if count(A::ApproximateNumberOfMessages) + count(A::ApproximateNumberOfMessagesNotVisible)
            == 0
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the queue was not drained in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn sqs_and_s3_log_files_end_to_end_with_dedup_across_sources() {
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s3 = rt.block_on(moto.s3());
    let (sqs, queue_url) = rt.block_on(create_queue(&moto, "cloudtrail"));
    rt.block_on(async { s3.create_bucket().bucket("trail").send().await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "{}[sqs]\nqueue_url = \"{queue_url}\"\nwait_time_s = 1\nvisibility_timeout_s = 30\nbuckets = [\"trail\"]\n",
        moto.aws_toml()
    );
    let config = write_config(dir.path(), &extra);
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &moto.env());

    // E1 arrives first through EventBridge -> HTTP.
    let e1 = root_record("s3-evt-1");
    let response = daemon.post(envelope(&e1).to_string().as_bytes(), Auth::Own);
    assert_eq!(response.json()["accepted"], 1, "{response:?}");

    rt.block_on(async {
        // Ten minutes later CloudTrail's log file holds E1 and E2, announced over SNS -> SQS.
        let key = log_key("2024-05-02", "20240502T1005Z_a");
        put_log_file(&s3, "trail", &key, &[e1.clone(), root_record("s3-evt-2")]).await;
        let notification = json!({"s3Bucket": "trail", "s3ObjectKey": [key]});
        let sns = json!({"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:trail",
                         "Message": notification.to_string()});
        // E3 through an EventBridge rule with an SQS target.
        let e3 = envelope(&root_record("s3-evt-3"));
        // An S3 notification of a log file that is gone: dead-lettered, not retried forever.
        let gone = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "trail"}, "object": {"key": "AWSLogs/gone.json.gz"}}}]});
        // And S3's test message.
        let probe = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "trail"});
        for body in [sns, e3, gone, probe] {
            sqs.send_message().queue_url(&queue_url).message_body(body.to_string()).send().await.unwrap();
        }
        wait_until_drained(&sqs, &queue_url).await;
    });

    let metrics = daemon.metrics();
    for (line, value) in [
        ("trailwarden_events_received_total{source=\"http\"}", 1),
        ("trailwarden_events_received_total{source=\"s3\"}", 2),
        ("trailwarden_events_received_total{source=\"sqs\"}", 1),
        ("trailwarden_events_skipped_total{reason=\"duplicate\"}", 1),
        (
            "trailwarden_events_rejected_total{reason=\"s3_object_missing\"}",
            1,
        ),
        ("trailwarden_sqs_messages_total{outcome=\"deleted\"}", 4),
        ("trailwarden_s3_objects_total{outcome=\"read\"}", 1),
    ] {
        assert_eq!(metric(&metrics, line), value, "{line}\n{metrics}");
    }
    assert!(daemon.stop().success(), "{}", log_of(dir.path()));
    let ids = finding_event_ids(&db);
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        [
            ("s3-evt-1".to_string(), 1),
            ("s3-evt-2".to_string(), 1),
            ("s3-evt-3".to_string(), 1)
        ]
    );
    let audit = AuditStore::open(&db).unwrap();
    let dead = audit.rejected_inputs(None).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].origin, "s3://trail/AWSLogs/gone.json.gz");
}

#[test]
fn a_message_slower_than_its_visibility_timeout_is_extended_not_redelivered() {
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (sqs, queue_url) = rt.block_on(create_queue(&moto, "slow"));
    let dir = tempfile::tempdir().unwrap();
    // A guest that loops until its 13 s CPU deadline: the message takes longer than its
    // 10 s visibility timeout, so only the heartbeat keeps it from coming back.
    let plugins = format!(
        "[[plugins]]\npath = \"{}\"\ncpu_deadline_ms = 13000\n",
        guest("infinite-loop").display()
    );
    let extra = format!(
        "{}[sqs]\nqueue_url = \"{queue_url}\"\nwait_time_s = 1\nvisibility_timeout_s = 10\n",
        moto.aws_toml()
    );
    let config = write_config_with(dir.path(), &plugins, &extra);
    let daemon = Daemon::start(&config, &moto.env());
    rt.block_on(async {
        let body = envelope(&root_record("slow-1")).to_string();
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(body)
            .send()
            .await
            .unwrap();
        wait_until_drained(&sqs, &queue_url).await;
    });
    let metrics = daemon.metrics();
    for (line, value) in [
        ("trailwarden_events_received_total{source=\"sqs\"}", 1),
        ("trailwarden_events_skipped_total{reason=\"duplicate\"}", 0),
        ("trailwarden_sqs_messages_total{outcome=\"deleted\"}", 1),
        (
            "trailwarden_plugin_failures_total{plugin=\"infinite-loop\",kind=\"timeout\"}",
            1,
        ),
    ] {
        assert_eq!(metric(&metrics, line), value, "{line}\n{metrics}");
    }
    assert!(daemon.stop().success(), "{}", log_of(dir.path()));
}

#[test]
fn replay_from_s3_prunes_by_day_and_dedups_only_when_asked() {
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s3 = rt.block_on(moto.s3());
    rt.block_on(async {
        s3.create_bucket().bucket("trail").send().await.unwrap();
        for (day, ids) in [
            ("2024-04-30", ["d0-a", "d0-b"]),
            ("2024-05-01", ["d1-a", "d1-b"]),
            ("2024-05-02", ["d2-a", "d2-b"]),
            ("2024-05-03", ["d3-a", "d3-b"]),
        ] {
            let records: Vec<Value> = ids.iter().map(|id| root_record(id)).collect();
            put_log_file(&s3, "trail", &log_key(day, "x"), &records).await;
        }
        // A digest file and something that is not a log file: never read.
        let digest = format!("AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2024/05/01/d.json.gz");
        s3.put_object()
            .bucket("trail")
            .key(digest)
            .body(b"{}".to_vec().into())
            .send()
            .await
            .unwrap();
        s3.put_object()
            .bucket("trail")
            .key("AWSLogs/README.txt")
            .body(b"hi".to_vec().into())
            .send()
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &moto.aws_toml());
    let config = config.to_str().unwrap();
    let stats_path = dir.path().join("stats.json");
    let stats = stats_path.to_str().unwrap();
    let replay = |extra: &[&str]| -> Value {
        let mut args = vec![
            "replay",
            "--config",
            config,
            "--format",
            "json",
            "--stats-json",
            stats,
        ];
        args.extend_from_slice(extra);
        let out = trailwarden(&args, &moto.env());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&std::fs::read(&stats_path).unwrap()).unwrap()
    };

    let stats = replay(&[
        "--since",
        "2024-05-01",
        "--until",
        "2024-05-02",
        "s3://trail/AWSLogs/",
    ]);
    assert_eq!(stats["events_read"], 4, "{stats}");
    assert_eq!(stats["matched"]["root-usage"], 4, "{stats}");
    let ids = finding_event_ids(&dir.path().join("audit.db"));
    assert_eq!(
        ids.keys().map(String::as_str).collect::<Vec<_>>(),
        ["d1-a", "d1-b", "d2-a", "d2-b"]
    );

    // Without a range: everything under the prefix; without --dedup: seen again.
    let stats = replay(&["s3://trail/AWSLogs"]);
    assert_eq!(stats["events_read"], 8, "{stats}");
    assert_eq!(stats["normalised"], 8, "{stats}");
    // --dedup: the first such run remembers, the second skips them all.
    let stats = replay(&["--dedup", "--since", "2024-05-03", "s3://trail/"]);
    assert_eq!(
        (stats["events_read"].as_u64(), stats["normalised"].as_u64()),
        (Some(2), Some(2)),
        "{stats}"
    );
    let stats = replay(&["--dedup", "--since", "2024-05-03", "s3://trail/"]);
    assert_eq!(stats["skipped"]["duplicate"], 2, "{stats}");
    assert_eq!(stats["normalised"], 0, "{stats}");
}

/// An organisation trail's key: `AWSLogs/<org-id>/<account>/CloudTrail/<region>/YYYY/MM/DD/`.
fn org_log_key(account: &str, region: &str, day: &str, name: &str) -> String {
    format!(
        "AWSLogs/o-exampleorg1/{account}/CloudTrail/{region}/{}/{account}_CloudTrail_{region}_{name}.json.gz",
        day.replace('-', "/")
    )
}

#[test]
fn organization_trail_layout_is_backfilled_by_day_and_consumed_over_sqs() {
    let moto = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s3 = rt.block_on(moto.s3());
    let (sqs, queue_url) = rt.block_on(create_queue(&moto, "org-trail"));
    rt.block_on(async {
        s3.create_bucket().bucket("org-trail").send().await.unwrap();
        for (account, region, day, id) in [
            ("111111111111", "us-east-1", "2024-04-30", "org-early"),
            ("111111111111", "us-east-1", "2024-05-01", "org-a1"),
            ("222222222222", "eu-west-1", "2024-05-01", "org-b1"),
            ("222222222222", "eu-west-1", "2024-05-02", "org-b2"),
            ("111111111111", "us-east-1", "2024-05-03", "org-late"),
        ] {
            let key = org_log_key(account, region, day, id);
            put_log_file(&s3, "org-trail", &key, &[root_record(id)]).await;
        }
        // The organisation's digests are never read.
        let digest =
            "AWSLogs/o-exampleorg1/111111111111/CloudTrail-Digest/us-east-1/2024/05/01/d.json.gz";
        s3.put_object()
            .bucket("org-trail")
            .key(digest)
            .body(b"{}".to_vec().into())
            .send()
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "{}[sqs]\nqueue_url = \"{queue_url}\"\nbuckets = [\"org-trail\"]\nwait_time_s = 1\nvisibility_timeout_s = 30\n",
        moto.aws_toml()
    );
    let config = write_config(dir.path(), &extra);
    let db = dir.path().join("audit.db");

    // Backfill two days of every member account from the bucket's root.
    let stats_path = dir.path().join("stats.json");
    let out = trailwarden(
        &[
            "replay",
            "--config",
            config.to_str().unwrap(),
            "--stats-json",
            stats_path.to_str().unwrap(),
            "--since",
            "2024-05-01",
            "--until",
            "2024-05-02",
            "s3://org-trail/",
        ],
        &moto.env(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Value = serde_json::from_slice(&std::fs::read(&stats_path).unwrap()).unwrap();
    assert_eq!(stats["events_read"], 3, "{stats}");
    assert_eq!(
        finding_event_ids(&db).into_keys().collect::<Vec<_>>(),
        ["org-a1", "org-b1", "org-b2"]
    );

    // Then live: S3 announces a new organisation log file over SQS; the daemon reads it.
    let daemon = Daemon::start(&config, &moto.env());
    rt.block_on(async {
        let key = org_log_key("333333333333", "ap-southeast-2", "2024-05-04", "org-live");
        put_log_file(&s3, "org-trail", &key, &[root_record("org-live")]).await;
        let notification = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "org-trail"}, "object": {"key": key}}}]});
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(notification.to_string())
            .send()
            .await
            .unwrap();
        wait_until_drained(&sqs, &queue_url).await;
    });
    let metrics = daemon.metrics();
    assert_eq!(
        metric(&metrics, "trailwarden_s3_objects_total{outcome=\"read\"}"),
        1,
        "{metrics}"
    );
    assert!(daemon.stop().success(), "{}", log_of(dir.path()));
    assert!(finding_event_ids(&db).contains_key("org-live"));
}

#[test]
fn setup_eventbridge_creates_connection_destination_and_rule_idempotently() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &moto.aws_toml());
    let role = format!("arn:aws:iam::{ACCOUNT}:role/trailwarden-invoke");
    let args = [
        "setup",
        "eventbridge",
        "--config",
        config.to_str().unwrap(),
        "--url",
        "https://trailwarden.example.com/",
        "--role-arn",
        &role,
        "--name",
        "tw",
    ];
    let out = trailwarden(&args, &moto.env());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        created["endpoint"],
        "https://trailwarden.example.com/v1/events"
    );
    // The token was created for the daemon, and is not printed.
    let token = std::fs::read_to_string(dir.path().join("trailwarden.token")).unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(token.trim()));
    // Again: updates, does not fail.
    let again = trailwarden(&args, &moto.env());
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let eb = aws_sdk_eventbridge::Client::new(&moto.sdk_config().await);
        let connection = eb.describe_connection().name("tw").send().await.unwrap();
        assert_eq!(
            connection.authorization_type().map(|t| t.as_str()),
            Some("API_KEY")
        );
        let destination = eb
            .describe_api_destination()
            .name("tw")
            .send()
            .await
            .unwrap();
        assert_eq!(
            destination.invocation_endpoint(),
            Some("https://trailwarden.example.com/v1/events")
        );
        assert_eq!(destination.connection_arn(), connection.connection_arn());
        let rule = eb.describe_rule().name("tw").send().await.unwrap();
        let pattern: Value = serde_json::from_str(rule.event_pattern().unwrap()).unwrap();
        assert_eq!(
            pattern,
            json!({"detail-type": [{"suffix": "via CloudTrail"}]})
        );
        let targets = eb.list_targets_by_rule().rule("tw").send().await.unwrap();
        let target = &targets.targets()[0];
        assert_eq!(Some(target.arn()), destination.api_destination_arn());
        assert_eq!(target.role_arn(), Some(role.as_str()));
    });
}

// ---------------------------------------------------------------- hot reload

/// Findings per plugin version (sha256).
fn findings_per_version(db: &Path) -> std::collections::BTreeMap<String, usize> {
    let audit = AuditStore::open(db).unwrap();
    let mut per = std::collections::BTreeMap::new();
    for finding in audit.findings(&FindingQuery::default()).unwrap() {
        *per.entry(finding.plugin_sha256).or_insert(0) += 1;
    }
    per
}

/// `wasm` with a custom section appended: same behaviour, another version (sha256).
fn another_version(wasm: &[u8], tag: u8) -> Vec<u8> {
    let mut bytes = wasm.to_vec();
    bytes.extend_from_slice(&[0, 6, 4, b't', b'e', b's', b't', tag]);
    bytes
}

#[test]
fn reload_by_http_sighup_and_file_change_swaps_versions_without_losing_events() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(plugin("root-usage")).unwrap();
    let wasm = dir.path().join("root-usage.wasm");
    std::fs::write(&wasm, &original).unwrap();
    let plugins = format!(
        "[[plugins]]\npath = \"{}\"\nname = \"root-usage\"\nungranted_imports = \"deny\"\n",
        wasm.display()
    );
    let config = write_config_with(dir.path(), &plugins, "");
    let daemon = Daemon::start(&config, &[]);
    let reload = |auth: bool| {
        let header = auth.then(|| ("Authorization", format!("Bearer {}", daemon.admin_token)));
        http(&daemon.addr, "POST", "/v1/reload", header.as_ref(), b"")
    };
    let mut sent = 0;
    let mut send = |n: usize| {
        let lines: Vec<String> = (0..n)
            .map(|i| root_record(&format!("reload-{}", sent + i)).to_string())
            .collect();
        sent += n;
        let response = daemon.post(lines.join("\n").as_bytes(), Auth::Own);
        assert_eq!(response.status, 200, "{}", response.body);
    };

    send(50);
    assert_eq!(reload(false).status, 401, "reload needs the admin token");
    // Nothing changed: nothing swapped.
    let report = reload(true).json();
    assert_eq!(report["unchanged"], json!(["root-usage"]), "{report}");

    // A new version by HTTP.
    std::fs::write(&wasm, another_version(&original, b'2')).unwrap();
    let report = reload(true).json();
    assert_eq!(report["swapped"], json!(["root-usage"]), "{report}");
    send(50);

    // A broken version is refused; the current one keeps serving.
    std::fs::write(&wasm, b"\0asm\x0d\x00\x01\x00not a component").unwrap();
    let report = reload(true).json();
    assert_eq!(report["refused"].as_array().unwrap().len(), 1, "{report}");
    send(50);

    // SIGHUP, then a file change picked up by the watcher: two more versions.
    std::fs::write(&wasm, another_version(&original, b'3')).unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &daemon.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let db = dir.path().join("audit.db");
    let wait_for_versions = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let loads = AuditStore::open(&db)
                .unwrap()
                .count_by(trailwarden::audit::AuditTable::PluginLoads, "sha256")
                .unwrap()
                .len();
            if loads >= n {
                return;
            }
            assert!(Instant::now() < deadline, "version {n} never loaded");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for_versions(3);
    send(50);
    std::fs::write(&wasm, another_version(&original, b'4')).unwrap();
    wait_for_versions(4);
    send(50);

    assert_eq!(daemon.stop().code(), Some(0));
    let per_version = findings_per_version(&db);
    assert_eq!(per_version.values().sum::<usize>(), 250, "{per_version:?}");
    assert_eq!(
        finding_event_ids(&db).len(),
        250,
        "every event exactly once"
    );
    assert_eq!(
        per_version.len(),
        4,
        "four versions served: {per_version:?}"
    );
}

// ---------------------------------------------------------------- responses in the daemon

#[test]
fn the_daemon_executes_accepted_actions_and_resumes_them_after_kill_9() {
    let moto = Moto::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let iam = runtime.block_on(async { aws_sdk_iam::Client::new(&moto.sdk_config().await) });
    let new_key = |user: &str| -> String {
        runtime.block_on(async {
            iam.create_user().user_name(user).send().await.unwrap();
            let key = iam
                .create_access_key()
                .user_name(user)
                .send()
                .await
                .unwrap();
            key.access_key().unwrap().access_key_id().to_string()
        })
    };
    let status = |user: &str| -> String {
        runtime.block_on(async {
            let keys = iam.list_access_keys().user_name(user).send().await.unwrap();
            keys.access_key_metadata()[0]
                .status()
                .unwrap()
                .as_str()
                .to_string()
        })
    };
    let event = |id: &str, user: &str, key: &str| {
        json!({"eventVersion": "1.09", "eventID": id, "eventTime": "2026-11-20T09:00:00Z",
            "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", "awsRegion": "us-east-1",
            "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT, "sourceIPAddress": "203.0.113.7",
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/mallory"),
                "accountId": ACCOUNT, "userName": "mallory"},
            "requestParameters": {"userName": user},
            "responseElements": {"accessKey": {"accessKeyId": key, "status": "Active", "userName": user}}})
    };
    let dir = tempfile::tempdir().unwrap();
    let plugins = format!(
        "[[plugins]]\npath = \"{}\"\nname = \"access-key-other-user\"\nmode = \"enforce\"\n\
         [[plugins.grants]]\ncapability = \"iam.disable-access-key\"\naccounts = [\"{ACCOUNT}\"]\n",
        plugin("access-key-other-user").display()
    );
    let config = write_config_with(
        dir.path(),
        &plugins,
        &format!("{}[executor]\nbackoff_ms = 100\n", moto.aws_toml()),
    );
    let wait_until = |what: &str, check: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };

    // Live: the event arrives over HTTP and the key is disabled by the daemon's executors.
    let key = new_key("ivan");
    let daemon = Daemon::start(&config, &moto.env());
    let response = daemon.post(
        event("live-1", "ivan", &key).to_string().as_bytes(),
        Auth::Own,
    );
    assert_eq!(response.status, 200, "{}", response.body);
    wait_until("the key to be disabled", &|| status("ivan") == "Inactive");
    assert_eq!(daemon.stop().code(), Some(0));

    // kill -9 between decision and execution, then a restart runs the action exactly once.
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "backoff_ms = 100",
        "backoff_ms = 100\nstart_delay_ms = 600000",
    );
    std::fs::write(&config, &text).unwrap();
    let key = new_key("judy");
    let mut daemon = Daemon::start(&config, &moto.env());
    let response = daemon.post(
        event("crash-1", "judy", &key).to_string().as_bytes(),
        Auth::Own,
    );
    assert_eq!(response.status, 200, "{}", response.body);
    let db = dir.path().join("audit.db");
    let outbox = trailwarden::respond::outbox::Outbox::open(&db).unwrap();
    assert_eq!(
        outbox.outstanding().unwrap(),
        1,
        "the action is recorded before the answer"
    );
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    assert_eq!(status("judy"), "Active");
    std::fs::write(
        &config,
        text.replace("start_delay_ms = 600000", "start_delay_ms = 0"),
    )
    .unwrap();
    let daemon = Daemon::start(&config, &moto.env());
    wait_until("the resumed action", &|| status("judy") == "Inactive");
    assert_eq!(daemon.stop().code(), Some(0));
    let actions = outbox.list(None, None).unwrap();
    assert_eq!(actions.len(), 2);
    assert!(
        actions
            .iter()
            .all(|a| a.status == "succeeded" && a.attempts == 1),
        "{actions:?}"
    );
}

// ---------------------------------------------------------------- hostile plugins

#[test]
fn a_plugin_sleeping_inside_wasi_does_not_hang_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = format!(
        "[[plugins]]\npath = \"{}\"\nname = \"sleeper\"\ncpu_deadline_ms = 300\n\
         [[plugins]]\npath = \"{}\"\nname = \"root-usage\"\nungranted_imports = \"deny\"\n",
        guest("sleeper").display(),
        plugin("root-usage").display()
    );
    let config = write_config_with(dir.path(), &plugins, "");
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &[]);

    // The sleeper asks for an hour's sleep on this event; root-usage's event rides along.
    let mut marked = root_record("sleep-marked");
    marked["eventName"] = json!("TrailwardenTestSleep");
    let body = json!([envelope(&marked), envelope(&root_record("sleep-beside"))]).to_string();
    let response = daemon.post(body.as_bytes(), Auth::Own);
    assert_eq!(response.status, 200, "{response:?}");
    let ids = finding_event_ids(&db);
    assert_eq!(ids.get("sleep-beside"), Some(&1), "{ids:?}");
    let audit = AuditStore::open(&db).unwrap();
    assert_eq!(
        audit
            .count_by(trailwarden::audit::AuditTable::PluginFailures, "kind")
            .unwrap(),
        [("timeout".to_string(), 1)]
    );

    // The next request is answered, health and metrics too, and SIGTERM still stops it.
    let response = daemon.post(
        envelope(&root_record("after-sleep")).to_string().as_bytes(),
        Auth::Own,
    );
    assert_eq!(response.status, 200, "{response:?}");
    let plugins_of = |event: &str| -> Vec<String> {
        let mut plugins: Vec<String> = AuditStore::open(&db)
            .unwrap()
            .findings(&FindingQuery::default())
            .unwrap()
            .into_iter()
            .filter(|f| f.event_id == event)
            .map(|f| f.plugin)
            .collect();
        plugins.sort();
        plugins
    };
    // Both plugins ran on it: the sleeper is awake for an unmarked batch.
    assert_eq!(plugins_of("after-sleep"), ["root-usage", "sleeper"]);
    assert_eq!(daemon.get("/healthz", false).status, 200);
    let status = daemon.stop();
    assert!(status.success(), "{status}: {}", log_of(dir.path()));
}

/// Issue 13: a pipeline stuck on one unit of work (here a plugin with a long deadline,
/// asleep) makes `/healthz` answer 503 with the reason, and ok again once it moves on.
#[test]
fn healthz_reports_a_stalled_pipeline_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = format!(
        "[[plugins]]\npath = \"{}\"\nname = \"sleeper\"\ncpu_deadline_ms = 8000\n",
        guest("sleeper").display()
    );
    let config = write_config_with(dir.path(), &plugins, "[daemon]\nstall_after_s = 1\n");
    let daemon = Daemon::start(&config, &[]);
    assert_eq!(daemon.get("/healthz", false).status, 200);

    let mut marked = root_record("stall-marked");
    marked["eventName"] = json!("TrailwardenTestSleep");
    let body = envelope(&marked).to_string();
    let (addr, auth) = (
        daemon.addr.clone(),
        ("Authorization", format!("Bearer {}", daemon.token)),
    );
    let stuck = std::thread::scope(|scope| {
        let sender =
            scope.spawn(|| http(&addr, "POST", "/v1/events", Some(&auth), body.as_bytes()));
        let started = Instant::now();
        let mut stalled = None;
        while started.elapsed() < Duration::from_secs(7) {
            let health = daemon.get("/healthz", false);
            if health.status == 503 {
                stalled = Some(health);
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let answered = sender.join().unwrap();
        (stalled, answered)
    });
    let (stalled, answered) = stuck;
    let stalled = stalled.expect("/healthz never said the pipeline was stalled");
    assert_eq!(stalled.json()["status"], "stalled", "{stalled:?}");
    assert!(
        stalled.json()["reason"]
            .as_str()
            .is_some_and(|r| r.contains("one unit of work")),
        "{stalled:?}"
    );
    // The sleeper is stopped at its deadline; the request is answered and health is back.
    assert_eq!(answered.status, 200, "{answered:?}");
    // The answer leaves as the batch is recorded; the pipeline marks itself idle just after.
    let recovered = Instant::now();
    let mut health = daemon.get("/healthz", false);
    while health.status != 200 && recovered.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
        health = daemon.get("/healthz", false);
    }
    assert_eq!(health.status, 200, "{health:?}");
    let status = daemon.stop();
    assert!(status.success(), "{status}: {}", log_of(dir.path()));
}
