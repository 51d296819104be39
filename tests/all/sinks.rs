//! `[[sinks]]` in the daemon: findings sent to moto's Security Hub and S3 and to a signed
//! webhook, read back from each, through a kill -9 with deliveries outstanding.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::daemon::{envelope, root_record, wait_until, write_config, Auth, Daemon};
use crate::moto::{Moto, ACCOUNT};

const BUCKET: &str = "findings-lake";
const SECRET: &str = "sink-s3cr3t";

/// A webhook receiver on 127.0.0.1 that answers with the status currently in `status` and
/// keeps each request's signature header and body.
struct Receiver {
    url: String,
    status: Arc<AtomicU16>,
    requests: Arc<Mutex<Vec<(String, String)>>>,
}

impl Receiver {
    fn start(status: u16) -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/findings", listener.local_addr().unwrap());
        let answer = Arc::new(AtomicU16::new(status));
        let requests: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let (shared_answer, shared_requests) = (answer.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut length, mut signature) = (0, String::new());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0);
                        } else if k.eq_ignore_ascii_case("x-trailwarden-signature") {
                            signature = v.trim().to_string();
                        }
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let status = shared_answer.load(Ordering::SeqCst);
                if status == 200 {
                    shared_requests
                        .lock()
                        .unwrap()
                        .push((signature, String::from_utf8_lossy(&body).into_owned()));
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Receiver {
            url,
            status: answer,
            requests,
        }
    }
}

/// Every OCSF finding in the bucket, by key.
fn lake(
    runtime: &tokio::runtime::Runtime,
    s3: &aws_sdk_s3::Client,
) -> BTreeMap<String, Vec<Value>> {
    runtime.block_on(async {
        let listed = s3.list_objects_v2().bucket(BUCKET).send().await.unwrap();
        let mut out = BTreeMap::new();
        for object in listed.contents() {
            let key = object.key().unwrap().to_string();
            let body = s3
                .get_object()
                .bucket(BUCKET)
                .key(&key)
                .send()
                .await
                .unwrap();
            let bytes = body.body.collect().await.unwrap().into_bytes();
            let lines = String::from_utf8(bytes.to_vec())
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            out.insert(key, lines);
        }
        out
    })
}

/// Security Hub's findings, by id.
fn hub_ids(runtime: &tokio::runtime::Runtime, hub: &aws_sdk_securityhub::Client) -> Vec<String> {
    runtime.block_on(async {
        let found = hub.get_findings().max_results(100).send().await.unwrap();
        found
            .findings()
            .iter()
            .map(|f| f.id().unwrap().to_string())
            .collect()
    })
}

fn post_root_events(daemon: &Daemon, ids: &[String]) {
    let body: Vec<Value> = ids.iter().map(|id| envelope(&root_record(id))).collect();
    let response = daemon.post(serde_json::to_string(&body).unwrap().as_bytes(), Auth::Own);
    assert_eq!(response.status, 200, "{}", response.body);
}

#[test]
fn sinks_deliver_each_finding_once_to_securityhub_s3_and_a_webhook_across_a_kill_9() {
    let moto = Moto::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (s3, hub) = runtime.block_on(async {
        let sdk = moto.sdk_config().await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        s3.create_bucket().bucket(BUCKET).send().await.unwrap();
        (s3, aws_sdk_securityhub::Client::new(&sdk))
    });
    let receiver = Receiver::start(503);
    let dir = tempfile::tempdir().unwrap();
    let sinks = format!(
        "{aws}\
         [[sinks]]\nname = \"hub\"\ntype = \"securityhub\"\ninterval_ms = 100\n\
         [[sinks]]\nname = \"lake\"\ntype = \"s3\"\nbucket = \"{BUCKET}\"\nprefix = \"trailwarden/findings\"\n\
         interval_ms = 100\nmax_batch = 4\n\
         [[sinks]]\nname = \"siem\"\ntype = \"webhook\"\nurl = \"{url}\"\nsecret_env = \"SIEM_SECRET\"\n\
         interval_ms = 100\nbackoff_ms = 100\n",
        aws = moto.aws_toml(),
        url = receiver.url,
    );
    let config = write_config(dir.path(), &sinks);
    let mut env = moto.env();
    env.push(("SIEM_SECRET", SECRET.to_string()));

    // Before the restart: six findings; S3 and Security Hub take them, the webhook answers
    // 503 so its deliveries stay outstanding when the daemon is killed.
    let first: Vec<String> = (0..6).map(|i| format!("sink-a-{i}")).collect();
    let mut daemon = Daemon::start(&config, &env);
    post_root_events(&daemon, &first);
    wait_until(dir.path(), "six findings in S3", &mut || {
        lake(&runtime, &s3).values().map(Vec::len).sum::<usize>() == 6
    });
    wait_until(dir.path(), "six findings in Security Hub", &mut || {
        hub_ids(&runtime, &hub).len() == 6
    });
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    assert!(receiver.requests.lock().unwrap().is_empty());

    // After: the receiver is back and four more findings come; each sink holds each of the
    // ten findings exactly once.
    receiver.status.store(200, Ordering::SeqCst);
    let second: Vec<String> = (0..4).map(|i| format!("sink-b-{i}")).collect();
    let daemon = Daemon::start(&config, &env);
    post_root_events(&daemon, &second);
    let every_event: Vec<&String> = first.iter().chain(&second).collect();
    let webhook_event_ids = || -> Vec<String> {
        let requests = receiver.requests.lock().unwrap();
        let mut ids = Vec::new();
        for (_, body) in requests.iter() {
            let body: Value = serde_json::from_str(body).unwrap();
            for finding in body["findings"].as_array().unwrap() {
                ids.push(
                    finding["unmapped"]["event_id"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
            }
        }
        ids
    };
    wait_until(dir.path(), "ten findings at the webhook", &mut || {
        webhook_event_ids().len() >= 10
    });
    wait_until(dir.path(), "ten findings in S3", &mut || {
        lake(&runtime, &s3).values().map(Vec::len).sum::<usize>() >= 10
    });
    wait_until(dir.path(), "ten findings in Security Hub", &mut || {
        hub_ids(&runtime, &hub).len() >= 10
    });
    // A moment more for anything sent twice to show.
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(daemon.stop().code(), Some(0));

    let mut at_webhook = webhook_event_ids();
    at_webhook.sort();
    let mut expected: Vec<String> = every_event.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(
        at_webhook, expected,
        "each finding reached the webhook once"
    );
    for (signature, body) in receiver.requests.lock().unwrap().iter() {
        assert_eq!(
            signature,
            &aws_actions::webhook::signature(SECRET, body.as_bytes()),
            "every delivery is signed with the sink's secret"
        );
        let body: Value = serde_json::from_str(body).unwrap();
        assert!(body["delivery"].as_str().unwrap().starts_with("siem-"));
    }

    let objects = lake(&runtime, &s3);
    let mut in_lake: Vec<String> = Vec::new();
    for (key, findings) in &objects {
        assert!(key.starts_with("trailwarden/findings/dt="), "{key}");
        assert!(key.ends_with(".jsonl"), "{key}");
        assert!(findings.len() <= 4, "batches of at most max_batch: {key}");
        for finding in findings {
            assert_eq!(finding["class_uid"], 2004);
            // Partitioned by the day of the finding's OCSF `time`.
            let time =
                std::time::UNIX_EPOCH + Duration::from_millis(finding["time"].as_u64().unwrap());
            let day = humantime::format_rfc3339(time).to_string();
            assert_eq!(&key[24..34], &day[..10], "{key}");
            in_lake.push(
                finding["unmapped"]["event_id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
    }
    in_lake.sort();
    assert_eq!(in_lake, expected, "each finding in S3 once");

    let mut in_hub = hub_ids(&runtime, &hub);
    in_hub.sort();
    in_hub.dedup();
    assert_eq!(in_hub.len(), 10, "each finding in Security Hub once");
    let detail =
        runtime.block_on(async { hub.get_findings().max_results(100).send().await.unwrap() });
    for finding in detail.findings() {
        assert_eq!(finding.aws_account_id(), Some(ACCOUNT));
        assert_eq!(
            finding.product_arn(),
            Some(
                format!("arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/default")
                    .as_str()
            )
        );
        assert!(finding.title().is_some_and(|t| !t.is_empty()));
    }

    // The outbox says the same: every delivery delivered, none pending.
    let store = trailwarden::sinks::store::SinkStore::open(&dir.path().join("audit.db")).unwrap();
    let deliveries = store.list().unwrap();
    assert!(
        deliveries.iter().all(|d| d.status == "delivered"),
        "{deliveries:?}"
    );
    let webhook_attempts: u32 = deliveries
        .iter()
        .filter(|d| d.sink == "siem")
        .map(|d| d.attempts)
        .sum();
    assert!(
        webhook_attempts > deliveries.iter().filter(|d| d.sink == "siem").count() as u32,
        "the webhook's first delivery was retried after its 503s: {deliveries:?}"
    );
}

#[test]
fn a_sink_with_an_unknown_type_or_a_key_of_another_type_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[[sinks]]\nname = \"lake\"\ntype = \"s3\"\nurl = \"https://example.com\"\n",
    );
    let out = crate::daemon::trailwarden(
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not apply"), "{stderr}");
}
