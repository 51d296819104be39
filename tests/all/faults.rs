//! Faults around the daemon: a stalled pipeline (the watchdog), a database that cannot be
//! written, is locked or corrupted, a full disk, an AWS endpoint answering 500s and
//! throttling. Each gives a clear error, the daemon keeps or resumes detecting once the
//! fault is gone, and nothing acknowledged (HTTP 2xx) or decided is lost. The real binary
//! over HTTP, the real SQLite audit store, moto for AWS.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use trailwarden::audit::{AuditStore, FindingQuery};

use crate::aws_proxy::{AwsProxy, Fault};
use crate::daemon::{
    create_queue, envelope, log_of, metric, root_record, wait_until_drained, write_config_with,
    Auth, Daemon,
};
use crate::moto::{Moto, ACCOUNT};
use crate::support::{guest, plugin};

/// The watchdog's exit status (`EX_SOFTWARE`).
const STALL_EXIT_CODE: i32 = 70;

pub(crate) fn root_usage_plugin() -> String {
    format!(
        "[[plugins]]\npath = \"{}\"\nname = \"root-usage\"\nungranted_imports = \"deny\"\n",
        plugin("root-usage").display()
    )
}

/// root-usage's findings per event id.
pub(crate) fn root_usage_findings(db: &Path) -> BTreeMap<String, usize> {
    let query = FindingQuery {
        plugin: Some("root-usage".to_string()),
        ..FindingQuery::default()
    };
    let mut ids = BTreeMap::new();
    for finding in AuditStore::open(db).unwrap().findings(&query).unwrap() {
        *ids.entry(finding.event_id).or_insert(0) += 1;
    }
    ids
}

/// Waits (at most `limit`) for the daemon's process to end.
fn wait_exit(daemon: &mut Daemon, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = daemon.child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Sends a request without waiting for its answer; the stream is returned so the
/// connection stays open.
fn send_without_waiting(daemon: &Daemon, body: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(&daemon.addr).unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
        daemon.addr,
        daemon.token,
        body.len()
    );
    stream.write_all(&[head.as_bytes(), body].concat()).unwrap();
    stream
}

// ---------------------------------------------------------------- the watchdog

/// Issue 13: a pipeline stuck on one unit of work (a plugin given a ten-minute deadline,
/// asleep for an hour in WASI: an honest stall, no test hook) past `stall_after_s` plus
/// `stall_exit_grace_s` ends the process with status 70 and one clear log line. The
/// request it held was never acknowledged, so its redelivery to the restarted daemon is
/// processed (not skipped as a duplicate) and detection resumes.
#[test]
fn a_stalled_pipeline_makes_the_process_exit_for_its_supervisor_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = format!(
        "{}[[plugins]]\npath = \"{}\"\nname = \"sleeper\"\ncpu_deadline_ms = 600000\n",
        root_usage_plugin(),
        guest("sleeper").display()
    );
    let config = write_config_with(
        dir.path(),
        &plugins,
        "[daemon]\nstall_after_s = 1\nstall_exit_grace_s = 2\n",
    );
    let mut daemon = Daemon::start(&config, &[]);
    let response = daemon.post(
        envelope(&root_record("before-stall"))
            .to_string()
            .as_bytes(),
        Auth::Own,
    );
    assert_eq!(response.status, 200, "{response:?}");

    let mut marked = root_record("stall-marked");
    marked["eventName"] = json!("TrailwardenTestSleep");
    let body = envelope(&marked).to_string();
    let started = Instant::now();
    let mut held = send_without_waiting(&daemon, body.as_bytes());
    let status = wait_exit(&mut daemon, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("the daemon did not exit: {}", log_of(dir.path())));
    let took = started.elapsed();
    assert_eq!(
        status.code(),
        Some(STALL_EXIT_CODE),
        "{}",
        log_of(dir.path())
    );
    assert!(took >= Duration::from_secs(3), "exited after {took:?}");
    // The held request got no acknowledgement: the connection just closed.
    let mut answer = Vec::new();
    let _ = held.read_to_end(&mut answer);
    assert!(
        !String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 2"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let log = log_of(dir.path());
    let watchdog_lines: Vec<&str> = log.lines().filter(|l| l.contains("watchdog:")).collect();
    assert_eq!(watchdog_lines.len(), 1, "{log}");
    for needle in [
        "stall_after_s = 1",
        "stall_exit_grace_s = 2",
        "status 70",
        "ERROR",
    ] {
        assert!(watchdog_lines[0].contains(needle), "{needle}: {log}");
    }

    // The supervisor restarts it (here without the sleeper, as an operator would after
    // reading the log): the redelivery is processed, and detection goes on.
    let config = write_config_with(dir.path(), &root_usage_plugin(), "");
    let daemon = Daemon::start(&config, &[]);
    let response = daemon.post(body.as_bytes(), Auth::Own);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json()["accepted"], 1, "{response:?}");
    let response = daemon.post(
        envelope(&root_record("after-restart"))
            .to_string()
            .as_bytes(),
        Auth::Own,
    );
    assert_eq!(response.status, 200, "{response:?}");
    let ids = root_usage_findings(&dir.path().join("audit.db"));
    for id in ["before-stall", "stall-marked", "after-restart"] {
        assert_eq!(ids.get(id), Some(&1), "{id}: {ids:?}");
    }
    let status = daemon.stop();
    assert!(status.success(), "{status}: {}", log_of(dir.path()));
}

// ---------------------------------------------------------------- the database

/// A tmpfs of `size` mounted on a fresh folder, unmounted on drop: a real file system that
/// can be filled or made read-only. Needs root (CI runs as root).
struct Tmpfs {
    path: std::path::PathBuf,
}

impl Tmpfs {
    fn mount(path: std::path::PathBuf, size: &str) -> Tmpfs {
        std::fs::create_dir_all(&path).unwrap();
        mount_command(
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"],
            &path,
        );
        Tmpfs { path }
    }

    fn read_only(&self, read_only: bool) {
        let options = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        mount_command(&["-o", options], &self.path);
    }
}

fn mount_command(args: &[&str], path: &Path) {
    let out = std::process::Command::new("mount")
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mount {args:?} {} (the fault tests need root): {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// A config whose audit database lives in `db_dir` and everything else (compile cache,
/// tokens, log) in `dir`, so that a fault of the database's file system touches only it.
fn config_with_db_in(dir: &Path, db_dir: &Path, plugins: &str, extra: &str) -> std::path::PathBuf {
    let text = format!(
        "[audit]\ndatabase = \"{db}\"\n[engine]\ncache_dir = \"{cache}\"\nbatch_size = 16\n\
         {plugins}[daemon]\ntoken_file = \"{dir}/trailwarden.token\"\n\
         admin_token_file = \"{dir}/trailwarden.admin-token\"\n{extra}",
        db = db_dir.join("audit.db").display(),
        cache = dir.join("cache").display(),
        dir = dir.display(),
    );
    let path = dir.join("trailwarden.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A body of `n` root events `{prefix}-{i}` (one finding each from root-usage).
fn root_events(prefix: &str, n: usize) -> (Vec<String>, Vec<u8>) {
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    let records: Vec<serde_json::Value> = ids.iter().map(|id| envelope(&root_record(id))).collect();
    (
        ids,
        serde_json::Value::Array(records).to_string().into_bytes(),
    )
}

/// Posts `body` until it is acknowledged (2xx), at most `limit`; returns the refusals
/// seen before (status and body).
fn post_until_acknowledged(daemon: &Daemon, body: &[u8], limit: Duration) -> Vec<(u16, String)> {
    let deadline = Instant::now() + limit;
    let mut refusals = Vec::new();
    loop {
        let response = daemon.post(body, Auth::Own);
        if (200..300).contains(&response.status) {
            return refusals;
        }
        refusals.push((response.status, response.body));
        assert!(
            Instant::now() < deadline,
            "never acknowledged: {refusals:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every id in `ids` has exactly one root-usage finding.
fn assert_recorded_once(db: &Path, ids: &[String]) {
    let found = root_usage_findings(db);
    for id in ids {
        assert_eq!(found.get(id), Some(&1), "{id}: {found:?}");
    }
}

/// `trailwarden run` that is expected to fail at start-up: its exit status and stderr.
fn run_expecting_failure(config: &Path) -> (std::process::ExitStatus, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_trailwarden"))
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return (status, stderr);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the daemon started on a database it cannot use");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A database file with garbage at its start: the daemon refuses to start, saying which
/// file and why, and exits non-zero; it never overwrites the file.
#[test]
fn a_corrupted_database_stops_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_db_in(dir.path(), dir.path(), &root_usage_plugin(), "");
    let db = dir.path().join("audit.db");
    AuditStore::open(&db).unwrap();
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() > 512);
    bytes[..512].copy_from_slice(&[0xA5; 512]);
    std::fs::write(&db, &bytes).unwrap();

    let (status, stderr) = run_expecting_failure(&config);
    assert!(!status.success(), "{status}");
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    assert!(stderr.contains("not a database"), "{stderr}");
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "the file was changed");
}

/// The database's file system is read-only when the daemon starts: it refuses to start,
/// naming the database, and exits non-zero (rather than run without recording). Once the
/// file system is writable again, it starts, the events its sender held back are recorded
/// once, and detection goes on. (A file system cannot be turned read-only under a process
/// holding files open for writing: Linux refuses the remount, EBUSY; and root ignores file
/// modes, so this is the read-only case a running daemon can meet: at its start.)
#[test]
fn a_read_only_database_stops_the_start_clearly_and_detection_resumes_once_writable() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(dir.path().join("db"), "32m");
    let config = config_with_db_in(dir.path(), &fs.path, &root_usage_plugin(), "");
    let db = fs.path.join("audit.db");
    let daemon = Daemon::start(&config, &[]);
    let (before, body) = root_events("before-ro", 3);
    assert!(post_until_acknowledged(&daemon, &body, Duration::from_secs(30)).is_empty());
    let status = daemon.stop();
    assert!(status.success(), "{status}: {}", log_of(dir.path()));

    fs.read_only(true);
    let (status, stderr) = run_expecting_failure(&config);
    assert!(!status.success(), "{status}");
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("cannot be written: Read-only file system"),
        "{stderr}"
    );

    fs.read_only(false);
    let daemon = Daemon::start(&config, &[]);
    let (during, body) = root_events("held-back-ro", 3);
    assert!(post_until_acknowledged(&daemon, &body, Duration::from_secs(30)).is_empty());
    let status = daemon.stop();
    assert!(status.success(), "{status}: {}", log_of(dir.path()));
    assert_recorded_once(&db, &[before, during].concat());
}

/// An ext4 file system in a file, on a loop device, mounted `errors=remount-ro`: the way
/// a database goes read-only under a running process (a disk error makes the kernel remount
/// it read-only, files open or not; a plain `remount,ro` is refused, EBUSY, while files are
/// open for writing). Unmounted and detached on drop. Needs root (CI runs as root).
struct LoopExt4 {
    path: std::path::PathBuf,
    device: String,
}

impl LoopExt4 {
    fn mount(path: std::path::PathBuf, image: &Path) -> LoopExt4 {
        std::fs::create_dir_all(&path).unwrap();
        std::fs::File::create(image)
            .unwrap()
            .set_len(64 << 20)
            .unwrap();
        run_tool("mkfs.ext4", &["-q", "-F", image.to_str().unwrap()]);
        let device = run_tool("losetup", &["-f", "--show", image.to_str().unwrap()]);
        let fs = LoopExt4 { path, device };
        fs.mount_device();
        fs
    }

    fn mount_device(&self) {
        mount_command(
            &["-t", "ext4", "-o", "errors=remount-ro", &self.device],
            &self.path,
        );
    }

    /// Reports an error on the file system, as a failing disk would: ext4 remounts it
    /// read-only at once, under every file open on it.
    fn fail(&self) {
        let name = self.device.trim_start_matches("/dev/");
        std::fs::write(format!("/sys/fs/ext4/{name}/trigger_fs_error"), "1").unwrap();
    }

    /// What an operator does after such an error: unmount (once nothing holds it), check,
    /// mount again.
    fn repair(&self) {
        run_tool("umount", &[self.path.to_str().unwrap()]);
        // e2fsck exits 1 when it corrected something, which is expected here.
        let status = std::process::Command::new("e2fsck")
            .args(["-f", "-y", &self.device])
            .output()
            .unwrap()
            .status;
        assert!(matches!(status.code(), Some(0 | 1)), "e2fsck: {status}");
        self.mount_device();
    }
}

impl Drop for LoopExt4 {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
        let _ = std::process::Command::new("losetup")
            .args(["-d", &self.device])
            .status();
    }
}

/// Runs a system tool that must succeed (these tests need root); its trimmed stdout.
fn run_tool(tool: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(tool)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?} (the fault tests need root): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The database's file system goes read-only under the running daemon (a disk error, ext4
/// `errors=remount-ro`): the daemon keeps running and answering, refuses every request it
/// cannot record (503 `not_recorded`, saying the file system is read-only), leaves the SQS
/// message it cannot record in the queue, acknowledges nothing it did not record, and
/// stops cleanly on SIGTERM. Such a file system stays read-only until it is unmounted,
/// which the daemon's open files prevent, so detection resumes with the restart after the
/// repair: the events held back, over HTTP and SQS, are recorded once.
#[test]
fn a_database_going_read_only_under_the_daemon_refuses_clearly_and_resumes_after_repair() {
    let moto = Moto::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (sqs, queue_url) = runtime.block_on(create_queue(&moto, "read-only"));
    let dir = tempfile::tempdir().unwrap();
    let fs = LoopExt4::mount(dir.path().join("db"), &dir.path().join("db.img"));
    let extra = format!(
        "{}[sqs]\nqueue_url = \"{queue_url}\"\nwait_time_s = 1\nvisibility_timeout_s = 10\n",
        moto.aws_toml()
    );
    let config = config_with_db_in(dir.path(), &fs.path, &root_usage_plugin(), &extra);
    let db = fs.path.join("audit.db");
    let daemon = Daemon::start(&config, &moto.env());
    let (before, body) = root_events("before-error", 3);
    assert!(post_until_acknowledged(&daemon, &body, Duration::from_secs(30)).is_empty());

    fs.fail();
    let (during, during_body) = root_events("during-error", 3);
    for _ in 0..3 {
        let response = daemon.post(&during_body, Auth::Own);
        assert_eq!(response.status, 503, "{response:?}: {}", log_of(dir.path()));
        assert_eq!(response.json()["error"], "not_recorded", "{response:?}");
        assert!(
            response
                .headers
                .iter()
                .any(|(name, _)| name == "retry-after"),
            "{response:?}"
        );
        assert!(
            response.json()["detail"]
                .as_str()
                .is_some_and(|d| d.contains("Read-only file system")),
            "{response:?}"
        );
    }
    let health = daemon.get("/healthz", false);
    assert_eq!(health.status, 503, "{health:?}");
    assert_eq!(health.json()["status"], "not_recording", "{health:?}");
    assert!(
        health.json()["reason"]
            .as_str()
            .is_some_and(|r| r.contains("Read-only file system")),
        "{health:?}"
    );
    // An event over SQS: received, not recorded, so left in the queue (never deleted).
    let queued = "during-error-sqs".to_string();
    runtime.block_on(async {
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(envelope(&root_record(&queued)).to_string())
            .send()
            .await
            .unwrap();
    });
    let retried = "trailwarden_sqs_messages_total{outcome=\"retried\"}";
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(&daemon.metrics(), retried) == 0 {
        assert!(Instant::now() < deadline, "the SQS message was never tried");
        std::thread::sleep(Duration::from_millis(200));
    }
    let metrics = daemon.metrics();
    let deleted = "trailwarden_sqs_messages_total{outcome=\"deleted\"}";
    assert_eq!(metric(&metrics, deleted), 0, "{metrics}");
    let status = daemon.stop();
    assert!(status.code().is_some(), "{status}: {}", log_of(dir.path()));

    fs.repair();
    let daemon = Daemon::start(&config, &moto.env());
    assert!(post_until_acknowledged(&daemon, &during_body, Duration::from_secs(30)).is_empty());
    let (after, body) = root_events("after-repair", 3);
    assert!(post_until_acknowledged(&daemon, &body, Duration::from_secs(30)).is_empty());
    runtime.block_on(wait_until_drained(&sqs, &queue_url));
    let status = daemon.stop();
    assert!(status.success(), "{status}: {}", log_of(dir.path()));
    assert_recorded_once(&db, &[before, during, vec![queued], after].concat());
}

/// Another process holds the database's write lock longer than the busy timeout (5 s):
/// the request is answered 503 `not_recorded` saying the database is locked; once the
/// lock is released, the redelivery is recorded once and detection goes on.
#[test]
fn a_database_locked_past_the_busy_timeout_refuses_then_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_db_in(dir.path(), dir.path(), &root_usage_plugin(), "");
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &[]);
    let (before, body) = root_events("before-lock", 2);
    assert!(post_until_acknowledged(&daemon, &body, Duration::from_secs(30)).is_empty());

    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let (during, body) = root_events("during-lock", 2);
    let started = Instant::now();
    let response = daemon.post(&body, Auth::Own);
    let waited = started.elapsed();
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.json()["error"], "not_recorded", "{response:?}");
    assert!(
        response.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("locked") || d.contains("busy")),
        "{response:?}"
    );
    assert!(waited >= Duration::from_secs(4), "gave up after {waited:?}");
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);

    post_until_acknowledged(&daemon, &body, Duration::from_secs(30));
    let (after, body) = root_events("after-lock", 2);
    assert!(post_until_acknowledged(&daemon, &body, Duration::from_secs(30)).is_empty());
    let status = daemon.stop();
    assert!(status.success(), "{status}: {}", log_of(dir.path()));
    assert_recorded_once(&db, &[before, during, after].concat());
}

/// The database's file system fills up: requests that cannot be recorded are refused
/// (503 `not_recorded`, "full"), never acknowledged; once room is made, the redelivered
/// events are recorded once and detection goes on.
#[test]
fn a_full_disk_refuses_what_it_cannot_record_and_resumes_once_there_is_room() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(dir.path().join("db"), "8m");
    let config = config_with_db_in(dir.path(), &fs.path, &root_usage_plugin(), "");
    let db = fs.path.join("audit.db");
    let daemon = Daemon::start(&config, &[]);
    let (before, body) = root_events("before-full", 3);
    assert!(post_until_acknowledged(&daemon, &body, Duration::from_secs(30)).is_empty());

    // Fill what is left, then post until a request is refused.
    let filler = fs.path.join("filler");
    {
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0x5Au8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
    }
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for round in 0..50 {
        let (ids, body) = root_events(&format!("full-{round}"), 16);
        let response = daemon.post(&body, Auth::Own);
        if (200..300).contains(&response.status) {
            acknowledged.extend(ids);
        } else {
            refused = Some((ids, body, response));
            break;
        }
    }
    let (refused_ids, body, response) = refused.expect("the full disk never refused a request");
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.json()["error"], "not_recorded", "{response:?}");
    assert!(
        response.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("full")),
        "{response:?}: {}",
        log_of(dir.path())
    );

    let health = daemon.get("/healthz", false);
    assert_eq!(health.status, 503, "{health:?}");
    assert_eq!(health.json()["status"], "not_recording", "{health:?}");

    std::fs::remove_file(&filler).unwrap();
    post_until_acknowledged(&daemon, &body, Duration::from_secs(30));
    let health = daemon.get("/healthz", false);
    assert_eq!(health.status, 200, "recording again: {health:?}");
    let (after, after_body) = root_events("after-full", 3);
    assert!(post_until_acknowledged(&daemon, &after_body, Duration::from_secs(30)).is_empty());
    let status = daemon.stop();
    assert!(status.success(), "{status}: {}", log_of(dir.path()));
    assert_recorded_once(&db, &[before, acknowledged, refused_ids, after].concat());
}

// ---------------------------------------------------------------- AWS failing

/// A `CreateAccessKey` for someone else's user: access-key-other-user disables the key.
pub(crate) fn key_for_other_user(id: &str, user: &str, key: &str) -> serde_json::Value {
    json!({"eventVersion": "1.09", "eventID": id, "eventTime": "2026-11-20T09:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey", "awsRegion": "us-east-1",
        "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT, "sourceIPAddress": "203.0.113.7",
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/mallory"),
            "accountId": ACCOUNT, "userName": "mallory"},
        "requestParameters": {"userName": user},
        "responseElements": {"accessKey": {"accessKeyId": key, "status": "Active", "userName": user}}})
}

/// The plugins of a responding daemon: root-usage (detection) and access-key-other-user
/// in enforce mode, granted to disable keys in the test account.
pub(crate) fn responding_plugins() -> String {
    format!(
        "{}[[plugins]]\npath = \"{}\"\nname = \"access-key-other-user\"\nmode = \"enforce\"\n\
         [[plugins.grants]]\ncapability = \"iam.disable-access-key\"\naccounts = [\"{ACCOUNT}\"]\n\
         max_per_hour = 1000\n",
        root_usage_plugin(),
        plugin("access-key-other-user").display()
    )
}

/// Test-side IAM on moto: users with keys, and a key's status.
pub(crate) struct Iam {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_iam::Client,
}

impl Iam {
    pub(crate) fn new(moto: &Moto) -> Iam {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let client = runtime.block_on(async { aws_sdk_iam::Client::new(&moto.sdk_config().await) });
        Iam { runtime, client }
    }

    /// Creates `user` with one access key; returns the key id.
    pub(crate) fn user_with_key(&self, user: &str) -> String {
        self.runtime.block_on(async {
            self.client
                .create_user()
                .user_name(user)
                .send()
                .await
                .unwrap();
            let key = self
                .client
                .create_access_key()
                .user_name(user)
                .send()
                .await
                .unwrap();
            key.access_key().unwrap().access_key_id().to_string()
        })
    }

    pub(crate) fn key_status(&self, user: &str) -> String {
        self.runtime.block_on(async {
            let keys = self
                .client
                .list_access_keys()
                .user_name(user)
                .send()
                .await
                .unwrap();
            keys.access_key_metadata()[0]
                .status()
                .unwrap()
                .as_str()
                .to_string()
        })
    }
}

/// AWS answers the executor's calls with 500s and throttling for a while: the action
/// is retried with backoff (each failure in its log, named), succeeds once AWS answers,
/// and reaches AWS exactly once; detection goes on meanwhile.
#[test]
fn aws_answering_500s_and_throttling_delays_an_action_which_then_runs_exactly_once() {
    let moto = Moto::start();
    let proxy = AwsProxy::start(&moto.endpoint);
    let iam = Iam::new(&moto);
    let key = iam.user_with_key("victim");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(
        dir.path(),
        &responding_plugins(),
        &format!(
            "{}[executor]\nbackoff_ms = 100\nmax_attempts = 10\n",
            proxy.aws_toml()
        ),
    );
    let faults: Vec<Fault> = (0..8)
        .map(|i| {
            if i % 2 == 0 {
                Fault::ServerError
            } else {
                Fault::Throttling
            }
        })
        .collect();
    proxy.inject(&faults);
    let daemon = Daemon::start(&config, &moto.env());
    let response = daemon.post(
        key_for_other_user("aws-fault-1", "victim", &key)
            .to_string()
            .as_bytes(),
        Auth::Own,
    );
    assert_eq!(response.status, 200, "{response:?}");
    // Detection goes on while the action waits for AWS.
    let response = daemon.post(
        envelope(&root_record("during-aws-faults"))
            .to_string()
            .as_bytes(),
        Auth::Own,
    );
    assert_eq!(response.status, 200, "{response:?}");

    let deadline = Instant::now() + Duration::from_secs(90);
    while iam.key_status("victim") != "Inactive" {
        assert!(
            Instant::now() < deadline,
            "the action never ran: {}",
            log_of(dir.path())
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(proxy.faults_left(), 0);
    assert_eq!(proxy.refused("UpdateAccessKey"), 8);
    assert_eq!(
        proxy.forwarded("UpdateAccessKey"),
        BTreeMap::from([(key.clone(), 1)]),
        "the key was disabled once"
    );
    let db = dir.path().join("audit.db");
    let outbox = trailwarden::respond::outbox::Outbox::open(&db).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let action = loop {
        // root-usage's notify calls are denied (not granted) and recorded too.
        let actions: Vec<_> = outbox
            .list(None, None)
            .unwrap()
            .into_iter()
            .filter(|a| a.capability == "iam.disable-access-key")
            .collect();
        assert_eq!(actions.len(), 1, "{actions:?}");
        if actions[0].status == "succeeded" || Instant::now() > deadline {
            break actions.into_iter().next().unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(action.status, "succeeded", "{action:?}");
    assert!(action.attempts >= 2, "{action:?}");
    // Each failed attempt is logged, naming AWS's error.
    let log = log_of(dir.path());
    for code in ["Throttling", "ServiceFailure"] {
        assert!(log.contains(code), "{code}: {log}");
    }
    assert_eq!(root_usage_findings(&db).get("during-aws-faults"), Some(&1));
    let status = daemon.stop();
    assert!(status.success(), "{status}: {}", log_of(dir.path()));
}
