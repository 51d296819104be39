//! The console in a real browser: Debian's chromium driven by chromedriver over the W3C
//! WebDriver protocol (plain HTTP and JSON, spoken here directly). `.ci/run` installs
//! `chromium` and `chromium-driver`; without them this test fails and says so.
//!
//! A responder logs in, sees the findings, filters by severity, opens one, approves a
//! pending action and undoes another (the AWS calls go to moto); then `trailwarden actions
//! list` shows what the browser did. Each page is saved to `target/console-shots/`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::console::{Rig, APPROVER_PASSWORD};
use crate::support::repo;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key WebDriver names an element by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const WAIT: Duration = Duration::from_secs(30);

struct Driver {
    child: Child,
    addr: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Driver {
    fn start() -> Driver {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).is_file(),
                "{tool} is missing: the console's browser test needs Debian's chromium and \
                 chromium-driver (`apt-get install -y chromium chromium-driver`, as .ci/run does)"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen in {WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1400,1000",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let mut driver = Driver {
            child,
            addr,
            session: String::new(),
            _profile: profile,
        };
        let created = driver.call(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": args}
            }}}),
        );
        driver.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        driver
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let body = if method == "GET" || method == "DELETE" {
            String::new()
        } else {
            body.to_string()
        };
        let (status, text) = webdriver_http(&self.addr, method, path, &body);
        let value: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"));
        assert_eq!(status, 200, "{method} {path}: {value}");
        value["value"].clone()
    }

    fn at(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    fn go(&self, url: &str) {
        self.call("POST", &self.at("/url"), json!({"url": url}));
    }

    fn url(&self) -> String {
        self.call("GET", &self.at("/url"), Value::Null)
            .as_str()
            .unwrap()
            .to_string()
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        let found = self.call(
            "POST",
            &self.at("/elements"),
            json!({"using": "css selector", "value": css}),
        );
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e[ELEMENT]
                    .as_str()
                    .unwrap_or_else(|| panic!("{css}: not an element: {found}"))
                    .to_string()
            })
            .collect()
    }

    /// The first element matching `css`, waiting for it to appear.
    fn wait_for(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(first) = self.find_all(css).into_iter().next() {
                return first;
            }
            assert!(
                Instant::now() < deadline,
                "no {css} within {WAIT:?} at {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn click(&self, element: &str) {
        self.call(
            "POST",
            &self.at(&format!("/element/{element}/click")),
            json!({}),
        );
    }

    fn type_into(&self, element: &str, text: &str) {
        self.call(
            "POST",
            &self.at(&format!("/element/{element}/value")),
            json!({"text": text}),
        );
    }

    fn text(&self, element: &str) -> String {
        self.call(
            "GET",
            &self.at(&format!("/element/{element}/text")),
            Value::Null,
        )
        .as_str()
        .unwrap_or("")
        .to_string()
    }

    /// Waits for the page's script to have drawn it.
    fn ready(&self) {
        self.wait_for("body[data-ready]");
    }

    fn shot(&self, name: &str) -> PathBuf {
        let encoded = self.call("GET", &self.at("/screenshot"), Value::Null);
        let dir = repo().join("target/console-shots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, base64_decode(encoded.as_str().unwrap())).unwrap();
        path
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = webdriver_http(
                &self.addr,
                "DELETE",
                &format!("/session/{}", self.session),
                "",
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request to chromedriver, read up to its `Content-Length`: chromedriver keeps the
/// connection open whatever the request says, so reading to the end would wait for its
/// idle timeout.
fn webdriver_http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream
        .write_all(&[head.as_bytes(), body.as_bytes()].concat())
        .unwrap();
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 65536];
    loop {
        let n = stream.read(&mut buffer).unwrap();
        bytes.extend_from_slice(&buffer[..n]);
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_string();
            let length = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok());
            if let Some(length) = length {
                if bytes.len() >= end + 4 + length {
                    let status = head.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
                    let text = String::from_utf8_lossy(&bytes[end + 4..end + 4 + length]);
                    return (status, text.to_string());
                }
            }
        }
        assert!(
            n > 0,
            "chromedriver closed the connection: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

#[test]
fn a_responder_logs_in_filters_opens_approves_and_undoes_in_a_real_browser() {
    let driver = Driver::start();
    let rig = Rig::start();
    let base = format!("http://{}", rig.daemon.addr);
    let config = rig.config.to_str().unwrap().to_string();
    // One action approved beforehand from the CLI, to be undone from the browser.
    let before: Vec<Value> = rig
        .setup
        .actions(&rig.config)
        .into_iter()
        .filter(|a| a["status"] == "pending_approval")
        .collect();
    assert_eq!(before.len(), 2, "{before:?}");
    let to_undo = before[1]["id"].as_str().unwrap().to_string();
    let to_approve = before[0]["id"].as_str().unwrap().to_string();
    rig.setup
        .run(&["actions", "approve", &to_undo, "--config", &config]);

    // Anonymous: sent to the login page.
    driver.go(&format!("{base}/findings"));
    driver.wait_for("#login-form");
    assert!(driver.url().ends_with("/login"), "{}", driver.url());
    driver.shot("login");
    driver.type_into(&driver.wait_for("#login-name"), "alice");
    driver.type_into(&driver.wait_for("#login-password"), APPROVER_PASSWORD);
    driver.click(&driver.wait_for("#login-submit"));

    // The overview: a timeline and breakdowns.
    driver.ready();
    driver.wait_for("#timeline rect.seg");
    driver.wait_for("#breakdown-rule .bar-row");
    driver.shot("overview");

    // The findings, then only the high ones.
    driver.go(&format!("{base}/findings"));
    driver.ready();
    let all = driver.find_all("#findings-table tbody tr").len();
    assert!(all >= 6, "{all} rows");
    driver.shot("findings");
    driver.click(&driver.wait_for("#filter-severity option[value=\"high\"]"));
    driver.click(&driver.wait_for("#filter-apply"));
    let deadline = Instant::now() + WAIT;
    while !driver.url().contains("severity=high") {
        assert!(
            Instant::now() < deadline,
            "the filter did not apply: {}",
            driver.url()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    driver.ready();
    let rows = driver.find_all("#findings-table tbody tr .sev");
    assert!(
        !rows.is_empty() && rows.len() < all,
        "{} of {all}",
        rows.len()
    );
    for row in &rows {
        assert_eq!(driver.text(row), "high");
    }
    driver.shot("findings-high");

    // One finding: its rule and the action it caused.
    driver.click(&driver.wait_for("#findings-table tbody tr a"));
    driver.wait_for("#finding-title");
    driver.ready();
    driver.wait_for("#rule-info");
    driver.shot("finding");

    // Approve the pending action, with its confirmation step.
    driver.go(&format!("{base}/actions"));
    driver.ready();
    driver.shot("actions");
    driver.click(&driver.wait_for(&format!("button.approve[data-id=\"{to_approve}\"]")));
    driver.wait_for("#confirm-box");
    driver.shot("actions-confirm");
    driver.click(&driver.wait_for("#confirm-yes"));
    // The page draws the actions again once the call is done.
    driver.wait_for(&format!("#action-{to_approve}[data-status=\"succeeded\"]"));

    // Undo the action approved from the CLI.
    driver.go(&format!("{base}/actions"));
    driver.ready();
    driver.click(&driver.wait_for(&format!("button.undo[data-id=\"{to_undo}\"]")));
    driver.click(&driver.wait_for("#confirm-yes"));
    driver.wait_for(&format!("#action-{to_undo}[data-status=\"undone\"]"));
    driver.shot("actions-after");

    driver.go(&format!("{base}/plugins"));
    driver.ready();
    driver.wait_for("#plugins-table tbody tr");
    driver.shot("plugins");

    // The CLI sees what the browser did.
    let after = rig.setup.actions(&rig.config);
    let status_of = |id: &str| after.iter().find(|a| a["id"] == id).unwrap()["status"].clone();
    assert_eq!(status_of(&to_approve), "succeeded");
    assert_eq!(status_of(&to_undo), "undone");
    let table = rig.setup.run(&["actions", "list", "--config", &config]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("succeeded") && table.contains("undone"),
        "{table}"
    );
    let statuses: Vec<String> = rig
        .keys
        .iter()
        .map(|(user, key)| rig.setup.key_status(user, key))
        .collect();
    assert!(
        statuses.contains(&"Inactive".to_string()) && statuses.contains(&"Active".to_string()),
        "{statuses:?}"
    );
}

/// The example config (`examples/trailwarden.toml`, as `make console` serves it) with only
/// what a test needs changed, each change checked to apply: its files in `dir`, AWS calls
/// to moto, and the organisation guard's quarantine waiting for approval (the demo already
/// asks approval for detaching an admin policy).
fn demo_config(dir: &Path, moto: &crate::moto::Moto) -> PathBuf {
    let example = repo().join("examples/trailwarden.toml");
    let mut text = std::fs::read_to_string(&example).unwrap();
    let dist = repo().join("plugins/dist");
    let mut replace = |from: &str, to: &str| {
        assert!(
            text.contains(from),
            "{} no longer has {from:?}",
            example.display()
        );
        text = text.replacen(from, to, 1);
    };
    replace(
        "database = \"demo.db\"",
        &format!("database = \"{}\"", dir.join("demo.db").display()),
    );
    replace(
        "cache_dir = \".trailwarden/cache\"",
        &format!("cache_dir = \"{}\"", dir.join("cache").display()),
    );
    replace(
        "[aws]\n",
        &format!(
            "[aws]\nendpoint_url = \"{}\"\nregion = \"us-east-1\"\n",
            moto.endpoint
        ),
    );
    replace(
        "capability = \"iam.quarantine-user\"\n# Quarantine stops everything the caller does: when acting for real, \"approve\".\nmode = \"dry-run\"",
        "capability = \"iam.quarantine-user\"\nmode = \"approve\"",
    );
    let text = text.replace("\"../plugins/dist/", &format!("\"{}/", dist.display()));
    let path = dir.join("trailwarden.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_demo_findings_in_a_browser_filtered_opened_approved_and_undone() {
    use crate::daemon::Daemon;
    use crate::respond::Setup;

    let driver = Driver::start();
    let setup = Setup::with(crate::moto::Moto::start_with(&[(
        "MOTO_IAM_LOAD_MANAGED_POLICIES",
        "true",
    )]));
    // The demo's users in moto: alice with the admin policy the demo saw attached, and
    // mallory, whom the organisation guard quarantines.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let iam = runtime.block_on(async {
        let iam = aws_sdk_iam::Client::new(&setup.moto.sdk_config().await);
        for user in ["alice", "mallory"] {
            iam.create_user().user_name(user).send().await.unwrap();
        }
        iam.attach_user_policy()
            .user_name("alice")
            .policy_arn(ADMIN_POLICY)
            .send()
            .await
            .unwrap();
        iam
    });
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), &setup.moto);
    let config_arg = config.to_str().unwrap().to_string();
    // What `make console` does: replay the demo's logs, then serve them.
    setup.run(&[
        "replay",
        "--config",
        &config_arg,
        "--summary-only",
        repo().join("examples/logs").to_str().unwrap(),
    ]);
    let pending: Vec<Value> = setup
        .actions(&config)
        .into_iter()
        .filter(|a| a["status"] == "pending_approval")
        .collect();
    let id_of = |capability: &str| {
        pending
            .iter()
            .find(|a| a["capability"] == capability)
            .unwrap_or_else(|| panic!("no pending {capability}: {pending:?}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (to_approve, to_undo) = (
        id_of("iam.detach-user-policy"),
        id_of("iam.quarantine-user"),
    );
    let daemon = Daemon::start(&config, &setup.moto.env());
    let base = format!("http://{}", daemon.addr);
    // The quarantine approved from the CLI, to be undone from the browser.
    setup.run(&["actions", "approve", &to_undo, "--config", &config_arg]);
    let deadline = Instant::now() + WAIT;
    while !setup
        .actions(&config)
        .iter()
        .any(|a| a["id"] == to_undo.as_str() && a["status"] == "succeeded")
    {
        assert!(Instant::now() < deadline, "the quarantine did not run");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Logged in as the demo says: no name, the admin token (an approver).
    driver.go(&format!("{base}/"));
    driver.type_into(&driver.wait_for("#login-password"), &daemon.admin_token);
    driver.click(&driver.wait_for("#login-submit"));
    driver.ready();
    driver.go(&format!("{base}/?range=30d"));
    driver.ready();
    driver.wait_for("#timeline rect.seg");
    driver.wait_for("#breakdown-rule .bar-row");
    driver.shot("demo-overview");

    // The demo's findings, then the high ones only.
    driver.go(&format!("{base}/findings"));
    driver.ready();
    let all = driver.find_all("#findings-table tbody tr").len();
    assert!(all >= 25, "{all} demo findings listed");
    driver.shot("demo-findings");
    driver.click(&driver.wait_for("#filter-severity option[value=\"high\"]"));
    driver.click(&driver.wait_for("#filter-apply"));
    let deadline = Instant::now() + WAIT;
    while !driver.url().contains("severity=high") {
        assert!(Instant::now() < deadline, "no filter: {}", driver.url());
        std::thread::sleep(Duration::from_millis(100));
    }
    driver.ready();
    let high = driver.find_all("#findings-table tbody tr .sev");
    assert!(
        !high.is_empty() && high.len() < all,
        "{} of {all}",
        high.len()
    );
    for row in &high {
        assert_eq!(driver.text(row), "high");
    }
    driver.shot("demo-findings-high");

    // One finding with its rule, and its event's CloudTrail record pretty-printed: the
    // record of that id in the demo's logs, as replayed.
    driver.click(&driver.wait_for("#findings-table tbody tr a"));
    driver.wait_for("#finding-title");
    driver.ready();
    driver.wait_for("#rule-info");
    let shown = driver.text(&driver.wait_for("#finding-record"));
    assert!(shown.contains("\n  \""), "not pretty-printed: {shown}");
    let shown: Value = serde_json::from_str(&shown).unwrap();
    let event_id = shown["eventID"].as_str().unwrap();
    assert_eq!(shown, demo_records()[event_id]);
    assert!(driver.find_all("#finding-record-copies").is_empty());
    driver.shot("demo-finding");
    // Clicking the record scrolls it into view, for its own screenshot.
    driver.click(&driver.wait_for("#finding-record"));
    driver.shot("demo-finding-record");

    // Approve the admin policy's detachment, confirmed; undo the quarantine.
    driver.go(&format!("{base}/actions"));
    driver.ready();
    driver.shot("demo-actions");
    driver.click(&driver.wait_for(&format!("button.approve[data-id=\"{to_approve}\"]")));
    driver.click(&driver.wait_for("#confirm-yes"));
    driver.wait_for(&format!("#action-{to_approve}[data-status=\"succeeded\"]"));
    driver.go(&format!("{base}/actions"));
    driver.ready();
    driver.click(&driver.wait_for(&format!("button.undo[data-id=\"{to_undo}\"]")));
    driver.click(&driver.wait_for("#confirm-yes"));
    driver.wait_for(&format!("#action-{to_undo}[data-status=\"undone\"]"));
    driver.shot("demo-actions-after");

    // `trailwarden actions list` shows what the browser did, and so does AWS.
    let after = setup.actions(&config);
    let status_of = |id: &str| after.iter().find(|a| a["id"] == id).unwrap()["status"].clone();
    assert_eq!(status_of(&to_approve), "succeeded");
    assert_eq!(status_of(&to_undo), "undone");
    let table = setup.run(&["actions", "list", "--config", &config_arg]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table
            .lines()
            .any(|l| l.contains(&to_approve) && l.contains("succeeded"))
            && table
                .lines()
                .any(|l| l.contains(&to_undo) && l.contains("undone")),
        "{table}"
    );
    runtime.block_on(async {
        let attached = iam
            .list_attached_user_policies()
            .user_name("alice")
            .send()
            .await
            .unwrap();
        assert!(
            attached.attached_policies().is_empty(),
            "{:?}",
            attached.attached_policies()
        );
        let inline = iam
            .list_user_policies()
            .user_name("mallory")
            .send()
            .await
            .unwrap();
        assert!(
            inline.policy_names().is_empty(),
            "{:?}",
            inline.policy_names()
        );
    });
}

const ADMIN_POLICY: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

/// The demo's CloudTrail records by event id, as `examples/logs` holds them: log files
/// (`{"Records": [...]}`, gzipped), EventBridge deliveries (the record is the `detail`) and
/// bare records, one a line.
fn demo_records() -> std::collections::HashMap<String, Value> {
    use std::io::Read;
    let mut records = std::collections::HashMap::new();
    let mut keep = |record: Value| {
        let id = record["eventID"].as_str().unwrap().to_string();
        records.insert(id, record);
    };
    for entry in std::fs::read_dir(repo().join("examples/logs")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.ends_with(".json.gz") {
            let mut text = String::new();
            flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
                .read_to_string(&mut text)
                .unwrap();
            let mut file: Value = serde_json::from_str(&text).unwrap();
            for record in file["Records"].as_array_mut().unwrap().drain(..) {
                keep(record);
            }
        } else if name.ends_with(".jsonl") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                // The demo holds a broken line on purpose (a dead letter): no record.
                let Ok(mut value) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                match value.get_mut("detail") {
                    Some(detail) => keep(detail.take()),
                    None => keep(value),
                }
            }
        }
    }
    records
}

#[test]
fn a_text_in_over_ten_thousand_findings_is_counted_as_ten_thousand_plus_in_a_real_browser() {
    use crate::daemon::{write_config, Daemon};
    use trailwarden::audit::{AuditStore, StoredFinding};

    let driver = Driver::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    // 12,000 findings holding "bulk finding", and one that does not, recorded as the
    // pipeline records a batch (one transaction, sealed into the findings chain).
    let finding = |i: usize, title: String| StoredFinding {
        plugin: "bulk".into(),
        plugin_version: "1.0.0".into(),
        plugin_sha256: "0".repeat(64),
        rule_id: "bulk.rule".into(),
        severity: ["critical", "high", "medium", "low", "info"][i % 5].into(),
        title,
        description: String::new(),
        resources: vec![],
        dedup_key: format!("bulk-{i}"),
        event_id: format!("bulk-event-{i}"),
        event_time: Some(format!(
            "2026-11-20T{:02}:{:02}:{:02}Z",
            i / 3600,
            i / 60 % 60,
            i % 60
        )),
        context: json!({"account": "111122223333", "region": "us-east-1"}).into(),
        recorded_at: "2026-11-20T12:00:00Z".into(),
        suppressed_by: None,
    };
    let mut findings: Vec<StoredFinding> = (0..12_000)
        .map(|i| finding(i, format!("Bulk finding number {i}")))
        .collect();
    findings.push(finding(12_000, "Something else".into()));
    let mut audit = AuditStore::open(&dir.path().join("audit.db")).unwrap();
    let recorded = audit
        .in_transaction(|audit| audit.record_findings(&findings))
        .unwrap();
    assert_eq!(recorded, 12_001);
    drop(audit);
    let daemon = Daemon::start(&config, &[]);
    let base = format!("http://{}", daemon.addr);

    driver.go(&format!("{base}/findings"));
    driver.type_into(&driver.wait_for("#login-password"), &daemon.admin_token);
    driver.click(&driver.wait_for("#login-submit"));
    driver.ready();
    driver.go(&format!("{base}/findings"));
    driver.ready();
    driver.type_into(&driver.wait_for("#filter-text"), "BULK FINDING");
    driver.click(&driver.wait_for("#filter-apply"));
    let deadline = Instant::now() + WAIT;
    while !driver.url().contains("text=") {
        assert!(Instant::now() < deadline, "no search: {}", driver.url());
        std::thread::sleep(Duration::from_millis(100));
    }
    driver.ready();
    // The count stops at the cap and says so; the first page is the newest 50 matches.
    let count = driver.text(&driver.wait_for("#findings-count"));
    assert_eq!(count, "10,000+ findings · page 1");
    let titles: Vec<String> = driver
        .find_all("#findings-table tbody tr td a")
        .iter()
        .map(|title| driver.text(title))
        .collect();
    let newest: Vec<String> = (11_950..12_000)
        .rev()
        .map(|i| format!("Bulk finding number {i}"))
        .collect();
    assert_eq!(titles, newest);
    // More pages follow.
    let next = driver.wait_for("#page-next");
    let disabled = driver.call(
        "GET",
        &driver.at(&format!("/element/{next}/property/disabled")),
        Value::Null,
    );
    assert_eq!(disabled, false);
    driver.shot("findings-ten-thousand-plus");

    // Sorted by severity: still "10,000+", the newest critical ones first.
    driver.click(&driver.wait_for("#findings-table th:nth-child(2)"));
    let deadline = Instant::now() + WAIT;
    while !driver.url().contains("sort=severity") {
        assert!(Instant::now() < deadline, "no sort: {}", driver.url());
        std::thread::sleep(Duration::from_millis(100));
    }
    driver.ready();
    let count = driver.text(&driver.wait_for("#findings-count"));
    assert_eq!(count, "10,000+ findings · page 1");
    let titles: Vec<String> = driver
        .find_all("#findings-table tbody tr td a")
        .iter()
        .map(|title| driver.text(title))
        .collect();
    let critical: Vec<String> = (0..12_000)
        .rev()
        .filter(|i| i % 5 == 0)
        .take(50)
        .map(|i| format!("Bulk finding number {i}"))
        .collect();
    assert_eq!(titles, critical);
    driver.shot("findings-ten-thousand-plus-by-severity");
}
