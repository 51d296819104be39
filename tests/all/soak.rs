//! Crash soak: `kill -9` at random points under sustained HTTP and SQS load, with a response
//! plugin in enforce mode acting on moto (through a counting proxy), restarted after each
//! kill. HTTP senders redeliver what was not acknowledged, as EventBridge does; an SQS sender
//! keeps filling moto's queue through the kills with EventBridge events and CloudTrail log
//! files in S3 (announced as CloudTrail's SNS notifications), and a message a kill caught in
//! flight comes back after its visibility timeout. At the end every acknowledged (2xx) or
//! queued event is recorded exactly once, and every decided action ran once (counted at the
//! AWS side: the calls that reached moto). Bounded: 20 kills, about a minute and a half in
//! debug (plus at most a lease period if a kill lands during an AWS call).
//!
//! The RNG seed is printed; `SOAK_SEED=N` replays the kill points.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use trailwarden::respond::outbox::Outbox;

use crate::aws_proxy::AwsProxy;
use crate::daemon::{
    create_queue, envelope, log_key, log_of, put_log_file, root_record, wait_until_drained,
    write_config_with, Daemon,
};
use crate::faults::{key_for_other_user, responding_plugins, root_usage_findings, Iam};
use crate::moto::Moto;

const KILLS: usize = 20;
/// Users with a key each: one key event per this many requests, while users last.
const USERS: usize = 30;
const KEY_EVERY: usize = 3;
const ROOT_EVENTS_PER_REQUEST: usize = 4;
/// The SQS sender's pace: one message per this many milliseconds.
const SQS_EVERY_MS: u64 = 60;
/// Root events in each CloudTrail log file sent through S3.
const ROOT_EVENTS_PER_LOG_FILE: usize = 3;
const BUCKET: &str = "soak-trail";

/// One request body (or SQS message body) and what it carries.
#[derive(Clone)]
struct Delivery {
    roots: Vec<String>,
    /// The key event: (event id, user, key id).
    key: Option<(String, String, String)>,
    body: Vec<u8>,
}

/// What the senders share: new deliveries to make and those to redeliver.
struct Load {
    next: usize,
    users: Vec<(String, String)>,
    redeliver: Vec<Delivery>,
    acknowledged: Vec<Delivery>,
    sent: Vec<Delivery>,
    /// SQS messages made so far, and those the queue accepted.
    next_message: usize,
    queued: Vec<Delivery>,
}

/// An SQS message to send, and the log file it announces (S3 key, records) if any.
struct Message {
    delivery: Delivery,
    log_file: Option<(String, Vec<Value>)>,
}

impl Load {
    /// The next delivery: a redelivery first, else a new one.
    fn take(&mut self) -> Delivery {
        if let Some(delivery) = self.redeliver.pop() {
            return delivery;
        }
        let n = self.next;
        self.next += 1;
        let roots: Vec<String> = (0..ROOT_EVENTS_PER_REQUEST)
            .map(|i| format!("soak-{n}-{i}"))
            .collect();
        let mut records: Vec<Value> = roots.iter().map(|id| envelope(&root_record(id))).collect();
        let key = n
            .is_multiple_of(KEY_EVERY)
            .then(|| self.users.pop())
            .flatten()
            .map(|(user, key)| (format!("soak-key-{n}"), user, key));
        if let Some((id, user, key)) = &key {
            records.push(key_for_other_user(id, user, key));
        }
        let delivery = Delivery {
            roots,
            key,
            body: Value::Array(records).to_string().into_bytes(),
        };
        self.sent.push(delivery.clone());
        delivery
    }

    /// The next SQS message, in turn: an EventBridge event of root usage, an EventBridge
    /// event of a key made for another user (while users last), a CloudTrail log file.
    fn take_message(&mut self) -> Message {
        let n = self.next_message;
        self.next_message += 1;
        let key = (n % 3 == 1)
            .then(|| self.users.pop())
            .flatten()
            .map(|(user, key)| (format!("soak-sqs-key-{n}"), user, key));
        if let Some((id, user, key_id)) = &key {
            let body = envelope(&key_for_other_user(id, user, key_id)).to_string();
            return Message {
                delivery: Delivery {
                    roots: Vec::new(),
                    key,
                    body: body.into_bytes(),
                },
                log_file: None,
            };
        }
        if n % 3 == 2 {
            let roots: Vec<String> = (0..ROOT_EVENTS_PER_LOG_FILE)
                .map(|i| format!("soak-s3-{n}-{i}"))
                .collect();
            let records = roots.iter().map(|id| root_record(id)).collect();
            let object = log_key("2026-11-20", &format!("20261120T0900Z_soak{n}"));
            let notification = serde_json::json!({"s3Bucket": BUCKET, "s3ObjectKey": [object]});
            return Message {
                delivery: Delivery {
                    roots,
                    key: None,
                    body: notification.to_string().into_bytes(),
                },
                log_file: Some((object, records)),
            };
        }
        let id = format!("soak-sqs-{n}");
        let body = envelope(&root_record(&id)).to_string();
        Message {
            delivery: Delivery {
                roots: vec![id],
                key: None,
                body: body.into_bytes(),
            },
            log_file: None,
        }
    }
}

/// What the SQS sender needs: moto's queue and bucket, through the test's own clients.
struct Queue {
    runtime: Arc<tokio::runtime::Runtime>,
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    url: String,
}

/// Messages of the queue received and not deleted (nor yet visible again).
async fn in_flight(queue: &Queue) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let attributes = queue
        .sqs
        .get_queue_attributes()
        .queue_url(&queue.url)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    attributes
        .attributes()
        .and_then(|m| m.get(&A::ApproximateNumberOfMessagesNotVisible))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Queues messages until `stop`, through kills and restarts alike (SQS does not need the
/// daemon up); each message the queue accepted is remembered.
fn enqueue(load: &Mutex<Load>, queue: &Queue, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let message = load.lock().unwrap().take_message();
        queue.runtime.block_on(async {
            if let Some((object, records)) = &message.log_file {
                put_log_file(&queue.s3, BUCKET, object, records).await;
            }
            queue
                .sqs
                .send_message()
                .queue_url(&queue.url)
                .message_body(String::from_utf8_lossy(&message.delivery.body))
                .send()
                .await
                .unwrap();
        });
        load.lock().unwrap().queued.push(message.delivery);
        std::thread::sleep(Duration::from_millis(SQS_EVERY_MS));
    }
}

/// POST without panicking: the status, or `None` when the daemon went away.
fn try_post(addr: &str, token: &str, body: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(&[head.as_bytes(), body].concat()).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1)?.parse().ok()
}

/// Sends until `stop`: each delivery acknowledged is remembered, the others redelivered.
fn send(load: &Mutex<Load>, addr: &str, token: &str, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let delivery = load.lock().unwrap().take();
        let status = try_post(addr, token, &delivery.body);
        let mut load = load.lock().unwrap();
        match status {
            Some(200..=299) => load.acknowledged.push(delivery),
            _ => {
                load.redeliver.push(delivery);
                drop(load);
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[test]
fn twenty_kill_9_under_load_lose_no_acknowledged_event_and_run_each_action_once() {
    let seed: u64 = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("soak seed {seed} (SOAK_SEED={seed} replays the kill points)");
    let mut rng = seed | 1;
    let mut below = |n: u64| {
        // xorshift64
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };

    let moto = Moto::start();
    let proxy = AwsProxy::start(&moto.endpoint);
    let iam = Iam::new(&moto);
    let users: Vec<(String, String)> = (0..USERS)
        .map(|i| {
            let user = format!("soak-user-{i}");
            let key = iam.user_with_key(&user);
            (user, key)
        })
        .collect();
    let runtime = Arc::new(tokio::runtime::Runtime::new().unwrap());
    let (sqs, url) = runtime.block_on(create_queue(&moto, "soak"));
    let s3 = runtime.block_on(async {
        let s3 = moto.s3().await;
        s3.create_bucket().bucket(BUCKET).send().await.unwrap();
        s3
    });
    let queue = Arc::new(Queue {
        runtime,
        sqs,
        s3,
        url,
    });
    let dir = tempfile::tempdir().unwrap();
    // A message a kill caught in flight is seen again after 10 s, the shortest allowed.
    let config = write_config_with(
        dir.path(),
        &responding_plugins(),
        &format!(
            "{}[executor]\nbackoff_ms = 100\n[sqs]\nqueue_url = \"{}\"\nwait_time_s = 1\n\
             visibility_timeout_s = 10\nbuckets = [\"{BUCKET}\"]\n",
            proxy.aws_toml(),
            queue.url
        ),
    );
    let db = dir.path().join("audit.db");
    let load = Arc::new(Mutex::new(Load {
        next: 0,
        users,
        redeliver: Vec::new(),
        acknowledged: Vec::new(),
        sent: Vec::new(),
        next_message: 0,
        queued: Vec::new(),
    }));
    let stop_queueing = Arc::new(AtomicBool::new(false));
    let queueing = {
        let (load, queue, stop) = (load.clone(), queue.clone(), stop_queueing.clone());
        std::thread::spawn(move || enqueue(&load, &queue, &stop))
    };
    // Actions a kill left running: their AWS call may have been made, so a second run
    // after the lease runs out is allowed (and only for them).
    let mut interrupted: BTreeSet<String> = BTreeSet::new();
    // SQS messages in flight (received, not deleted) right after each kill, summed over the
    // kills (one still invisible at the next kill counts again): they come back later.
    let mut caught_in_flight = 0;
    let started = Instant::now();

    for round in 0..=KILLS {
        let mut daemon = Daemon::start(&config, &moto.env());
        let stop = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..2)
            .map(|_| {
                let (load, stop) = (load.clone(), stop.clone());
                let (addr, token) = (daemon.addr.clone(), daemon.token.clone());
                std::thread::spawn(move || send(&load, &addr, &token, &stop))
            })
            .collect();
        if round == KILLS {
            std::thread::sleep(Duration::from_millis(500));
            stop_queueing.store(true, Ordering::Relaxed);
            queueing.join().unwrap();
            final_round(&load, &stop, senders, daemon, &queue, &db, &dir);
            break;
        }
        std::thread::sleep(Duration::from_millis(150 + below(1200)));
        daemon.child.kill().unwrap();
        daemon.child.wait().unwrap();
        caught_in_flight += queue.runtime.block_on(in_flight(&queue));
        stop.store(true, Ordering::Relaxed);
        for sender in senders {
            sender.join().unwrap();
        }
        let outbox = Outbox::open(&db).unwrap();
        for action in outbox.list(None, None).unwrap() {
            if action.status == "running" {
                interrupted.insert(action.id);
            }
        }
    }
    println!(
        "soak: {KILLS} kills in {:.1} s; SQS messages in flight at the kills, summed: \
         {caught_in_flight}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        caught_in_flight > 0,
        "no kill caught an SQS message in flight"
    );

    // Every event sent over HTTP was acknowledged in the end (redelivered until it was);
    // with those queued in SQS, each is recorded once: one root-usage finding, one dedup
    // entry.
    let load = load.lock().unwrap();
    assert!(load.redeliver.is_empty());
    let acknowledged: BTreeSet<&String> = load.acknowledged.iter().flat_map(|d| &d.roots).collect();
    let mut sent: BTreeSet<&String> = load.sent.iter().flat_map(|d| &d.roots).collect();
    assert_eq!(acknowledged, sent);
    assert!(
        sent.len() >= 40,
        "too little HTTP load: {} events",
        sent.len()
    );
    let http_events = sent.len();
    let queued: BTreeSet<&String> = load.queued.iter().flat_map(|d| &d.roots).collect();
    let through_s3 = queued
        .iter()
        .filter(|id| id.starts_with("soak-s3-"))
        .count();
    assert!(
        queued.len() >= 40 && through_s3 >= 12,
        "too little SQS load: {} events, {through_s3} of them in log files",
        queued.len()
    );
    let sqs_events = queued.len();
    sent.extend(queued);
    let findings = root_usage_findings(&db);
    for id in &sent {
        assert_eq!(findings.get(*id), Some(&1), "{id}");
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    let seen: BTreeMap<String, i64> = conn
        .prepare("SELECT event_id, COUNT(*) FROM seen_events GROUP BY event_id")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for id in &sent {
        assert_eq!(seen.get(*id), Some(&1), "{id}");
    }

    // Every decided action: one row, succeeded, the key disabled in moto, and one call
    // that reached AWS (two at most for an action a kill interrupted mid-run).
    let outbox = Outbox::open(&db).unwrap();
    let actions = outbox.list(None, None).unwrap();
    let keys: Vec<&(String, String, String)> = load
        .sent
        .iter()
        .chain(&load.queued)
        .filter_map(|d| d.key.as_ref())
        .collect();
    assert!(keys.iter().any(|(id, ..)| id.starts_with("soak-key-")));
    assert!(keys.iter().any(|(id, ..)| id.starts_with("soak-sqs-key-")));
    let keys_len = keys.len();
    let calls = proxy.forwarded("UpdateAccessKey");
    for (event_id, user, key) in keys {
        let of_event: Vec<_> = actions.iter().filter(|a| &a.event_id == event_id).collect();
        assert_eq!(of_event.len(), 1, "{event_id}: {of_event:?}");
        let action = of_event[0];
        assert_eq!(action.status, "succeeded", "{action:?}");
        assert_eq!(iam.key_status(user), "Inactive", "{user}");
        let n = calls.get(key).copied().unwrap_or(0);
        if interrupted.contains(&action.id) {
            assert!((1..=2).contains(&n), "{key}: {n} calls");
        } else {
            assert_eq!(n, 1, "{key}: {n} calls: {}", log_of(dir.path()));
        }
    }
    println!(
        "soak: {} events recorded once ({http_events} over HTTP, {sqs_events} over SQS, \
         {through_s3} of them in S3 log files), {} actions run once ({} interrupted by a kill)",
        sent.len(),
        keys_len,
        interrupted.len()
    );
}

/// The last round: no kill; every unacknowledged delivery is redelivered until it is
/// acknowledged, the queue is drained (messages a kill caught in flight come back after
/// their visibility timeout), every action left waits for an executor (a lease a kill left
/// running runs out first), then a clean stop.
fn final_round(
    load: &Arc<Mutex<Load>>,
    stop: &Arc<AtomicBool>,
    senders: Vec<std::thread::JoinHandle<()>>,
    daemon: Daemon,
    queue: &Queue,
    db: &std::path::Path,
    dir: &tempfile::TempDir,
) {
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        sender.join().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending = std::mem::take(&mut load.lock().unwrap().redeliver);
        if pending.is_empty() {
            break;
        }
        for delivery in pending {
            match try_post(&daemon.addr, &daemon.token, &delivery.body) {
                Some(200..=299) => load.lock().unwrap().acknowledged.push(delivery),
                _ => load.lock().unwrap().redeliver.push(delivery),
            }
        }
        assert!(Instant::now() < deadline, "redeliveries never acknowledged");
    }
    queue
        .runtime
        .block_on(wait_until_drained(&queue.sqs, &queue.url));
    let outbox = Outbox::open(db).unwrap();
    let deadline =
        Instant::now() + Duration::from_secs(trailwarden::respond::outbox::LEASE_S as u64 + 30);
    while outbox.outstanding().unwrap() > 0 {
        assert!(
            Instant::now() < deadline,
            "actions left outstanding: {:?}",
            outbox.status_counts().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = daemon.stop();
    assert!(status.success(), "{status}: {}", log_of(dir.path()));
}
