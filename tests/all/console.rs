//! The web console's API and its security, over the real daemon: sessions, CSRF, roles,
//! triage recorded with who, and approve/undo through the same outbox as `trailwarden
//! actions`, with the AWS call made to moto.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::daemon::{envelope, raw_request, root_record, Auth, Daemon, Response};
use crate::moto::ACCOUNT;
use crate::respond::{key_created, Setup};
use crate::support::plugin;

pub(crate) const APPROVER_PASSWORD: &str = "approver-password-for-tests";
pub(crate) const VIEWER_PASSWORD: &str = "viewer-password-for-tests";

/// A daemon with two plugins (one in approve mode) and two console users, fed events that
/// raise findings of several severities and two actions waiting for approval.
pub(crate) struct Rig {
    pub(crate) setup: Setup,
    pub(crate) daemon: Daemon,
    pub(crate) config: PathBuf,
    /// (user, access key) whose disabling waits for approval.
    pub(crate) keys: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Rig {
    pub(crate) fn start() -> Rig {
        let setup = Setup::new();
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<(String, String)> = ["bob", "carol"]
            .iter()
            .map(|u| (u.to_string(), setup.user_with_key(u)))
            .collect();
        let config = setup.config(dir.path(), "mode = \"approve\"", "");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text += &format!(
            "[[plugins]]\npath = \"{}\"\nname = \"root-usage\"\nungranted_imports = \"deny\"\n\
             [console]\n\
             [[console.users]]\nname = \"alice\"\nrole = \"approver\"\npassword_env = \"TW_ALICE\"\n\
             [[console.users]]\nname = \"victor\"\nrole = \"viewer\"\npassword_env = \"TW_VICTOR\"\n\
             [notify.pager]\nkind = \"pagerduty\"\nrouting_key_env = \"TW_PAGER_KEY\"\n\
             url = \"http://127.0.0.1:9/v2/enqueue\"\n",
            plugin("root-usage").display()
        );
        std::fs::write(&config, text).unwrap();
        let mut env = setup.moto.env();
        env.push(("TW_ALICE", APPROVER_PASSWORD.to_string()));
        env.push(("TW_VICTOR", VIEWER_PASSWORD.to_string()));
        env.push(("TW_PAGER_KEY", "pager-routing-key".to_string()));
        let daemon = Daemon::start(&config, &env);
        let mut events: Vec<Value> = keys
            .iter()
            .enumerate()
            .map(|(i, (user, key))| {
                envelope(&key_created(
                    &format!("key-{i}"),
                    ACCOUNT,
                    "mallory",
                    user,
                    key,
                ))
            })
            .collect();
        // Root use an hour before the keys, so that one day of the overview holds it all.
        for i in 0..3 {
            let mut write = root_record(&format!("root-write-{i}"));
            write["eventTime"] = json!("2026-11-20T08:00:00Z");
            events.push(envelope(&write));
        }
        let mut read = root_record("root-read-0");
        read["eventTime"] = json!("2026-11-20T08:30:00Z");
        read["readOnly"] = json!(true);
        read["eventName"] = json!("ListBuckets");
        events.push(envelope(&read));
        let body = serde_json::to_vec(&events).unwrap();
        let answer = daemon.post(&body, Auth::Own);
        assert_eq!(answer.status, 200, "{}", answer.body);
        Rig {
            setup,
            daemon,
            config,
            keys,
            _dir: dir,
        }
    }
}

/// A request with any headers, on its own connection.
pub(crate) fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    head += "\r\n";
    raw_request(addr, head.as_bytes(), body.as_bytes())
}

/// A logged-in API client.
pub(crate) struct Client {
    pub(crate) addr: String,
    /// `tw_session=ID`, as the browser sends it back.
    pub(crate) cookie: String,
    pub(crate) csrf: String,
    pub(crate) role: String,
}

impl Client {
    pub(crate) fn login(addr: &str, name: &str, password: &str) -> Client {
        let body = json!({"name": name, "password": password}).to_string();
        let answer = request(
            addr,
            "POST",
            "/login",
            &[("Content-Type", "application/json")],
            &body,
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
        let set_cookie = answer.header("set-cookie").unwrap().to_string();
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set_cookie.contains(attribute), "{set_cookie}");
        }
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let session = answer.json();
        Client {
            addr: addr.to_string(),
            cookie,
            csrf: session["csrf"].as_str().unwrap().to_string(),
            role: session["role"].as_str().unwrap().to_string(),
        }
    }

    pub(crate) fn get(&self, path: &str) -> Response {
        request(&self.addr, "GET", path, &[("Cookie", &self.cookie)], "")
    }

    pub(crate) fn get_json(&self, path: &str) -> Value {
        let answer = self.get(path);
        assert_eq!(answer.status, 200, "GET {path}: {}", answer.body);
        answer.json()
    }

    /// A POST as the console's pages send it: cookie, CSRF token, same origin.
    pub(crate) fn post(&self, path: &str, body: Value) -> Response {
        let origin = format!("http://{}", self.addr);
        request(
            &self.addr,
            "POST",
            path,
            &[
                ("Cookie", &self.cookie),
                ("x-csrf-token", &self.csrf),
                ("Origin", &origin),
                ("Content-Type", "application/json"),
            ],
            &body.to_string(),
        )
    }

    pub(crate) fn post_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut all = vec![
            ("Cookie", self.cookie.as_str()),
            ("Content-Type", "application/json"),
        ];
        all.extend_from_slice(headers);
        request(&self.addr, "POST", path, &all, "{}")
    }
}

fn pending(client: &Client) -> Vec<Value> {
    client.get_json("/v1/actions?status=pending_approval")["actions"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn every_console_route_refuses_an_anonymous_caller() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::daemon::write_config(dir.path(), "");
    let daemon = Daemon::start(&config, &[]);
    let mut walked = 0;
    for route in trailwarden::console::ROUTES {
        let path = route.path.replace("{id}", "1");
        // The ingest token is no session: it opens nothing in the console.
        let bearer = format!("Bearer {}", daemon.token);
        let answer = request(
            &daemon.addr,
            route.method,
            &path,
            &[
                ("Authorization", &bearer),
                ("Content-Type", "application/json"),
            ],
            if route.method == "POST" { "{}" } else { "" },
        );
        if route.public {
            assert!(
                answer.status < 500 && answer.status != 404,
                "{} {path}: {}",
                route.method,
                answer.status
            );
            continue;
        }
        walked += 1;
        let is_page =
            route.method == "GET" && !path.starts_with("/v1/") && !path.starts_with("/assets/");
        if is_page {
            assert_eq!(answer.status, 303, "{} {path}", route.method);
            assert_eq!(answer.header("location"), Some("/login"), "{path}");
        } else {
            assert_eq!(
                answer.status, 401,
                "{} {path}: {}",
                route.method, answer.body
            );
        }
        // Every answer carries the policy that forbids inline script and style.
        let csp = answer.header("content-security-policy").unwrap_or("");
        assert!(
            csp.contains("default-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
    }
    assert!(walked >= 15, "only {walked} routes walked");
    // A wrong password is refused and says nothing more; the login page still loads.
    let wrong = request(
        &daemon.addr,
        "POST",
        "/login",
        &[("Content-Type", "application/json")],
        &json!({"name": "", "password": "not-the-token"}).to_string(),
    );
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("set-cookie").is_none());
    // The ingest token logs in read-only; the admin token as an approver.
    assert_eq!(
        Client::login(&daemon.addr, "", &daemon.token).role,
        "viewer"
    );
    assert_eq!(
        Client::login(&daemon.addr, "", &daemon.admin_token).role,
        "approver"
    );
}

#[test]
fn roles_csrf_and_triage_are_enforced_and_recorded_and_approve_and_undo_use_the_outbox() {
    let rig = Rig::start();
    let addr = &rig.daemon.addr;
    let viewer = Client::login(addr, "victor", VIEWER_PASSWORD);
    assert_eq!(viewer.role, "viewer");
    let approver = Client::login(addr, "alice", APPROVER_PASSWORD);
    assert_eq!(approver.role, "approver");

    // Findings are listed, filtered and paged.
    let all = approver.get_json("/v1/findings");
    let total = all["total"].as_u64().unwrap();
    assert!(total >= 6, "{all}");
    let high = approver.get_json("/v1/findings?severity=high&per_page=1");
    assert_eq!(high["findings"].as_array().unwrap().len(), 1);
    assert!(high["total"].as_u64().unwrap() < total, "{high}");
    for row in approver.get_json("/v1/findings?severity=high")["findings"]
        .as_array()
        .unwrap()
    {
        assert_eq!(row["severity"], "high");
    }
    let by_text = approver.get_json("/v1/findings?text=bob");
    assert!(by_text["total"].as_u64().unwrap() >= 1, "{by_text}");
    let bad = approver.get("/v1/findings?since=yesterday");
    assert_eq!(bad.status, 400, "{}", bad.body);

    // A finding's page: the record, its rule from the catalog, the action it caused.
    let key_finding = by_text["findings"][0]["id"].as_i64().unwrap();
    let detail = approver.get_json(&format!("/v1/findings/{key_finding}"));
    assert_eq!(detail["finding"]["plugin"], "access-key-other-user");
    assert!(
        detail["rule"]["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{detail}"
    );
    assert_eq!(
        detail["actions"][0]["status"], "pending_approval",
        "{detail}"
    );
    // ... and its event's CloudTrail record exactly as it was sent (the envelope's detail).
    let event_id = detail["finding"]["event_id"].as_str().unwrap();
    let sent = event_id
        .strip_prefix("key-")
        .unwrap()
        .parse::<usize>()
        .unwrap();
    let (user, key) = &rig.keys[sent];
    assert_eq!(
        detail["records"][0]["record"],
        key_created(event_id, ACCOUNT, "mallory", user, key),
        "{detail}"
    );
    assert_eq!(detail["records_total"], 1, "{detail}");
    assert_eq!(detail["records"][0]["truncated"], false, "{detail}");

    // Cross-site and token-less changes are refused; a viewer cannot approve.
    let action = pending(&approver)[0]["id"].as_str().unwrap().to_string();
    let approve = format!("/v1/actions/{action}/approve");
    let evil = approver.post_with(
        &approve,
        &[
            ("Origin", "https://evil.example"),
            ("x-csrf-token", &approver.csrf),
        ],
    );
    assert_eq!(evil.status, 403, "{}", evil.body);
    let no_csrf = approver.post_with(&approve, &[]);
    assert_eq!(no_csrf.status, 403, "{}", no_csrf.body);
    let wrong_csrf = approver.post_with(&approve, &[("x-csrf-token", &viewer.csrf)]);
    assert_eq!(wrong_csrf.status, 403, "{}", wrong_csrf.body);
    let as_viewer = viewer.post(&approve, json!({}));
    assert_eq!(as_viewer.status, 403, "{}", as_viewer.body);
    assert_eq!(pending(&approver).len(), 2, "nothing was approved");

    // Triage: every change kept, with who and when.
    let triage = format!("/v1/findings/{key_finding}/triage");
    let first = viewer.post(
        &triage,
        json!({"status": "acknowledged", "note": "looking"}),
    );
    assert_eq!(first.status, 200, "{}", first.body);
    let second = approver.post(
        &triage,
        json!({"status": "resolved", "note": "key disabled"}),
    );
    assert_eq!(second.status, 200, "{}", second.body);
    // Resolving it resolves its PagerDuty incident: one resolve queued in the outbox.
    assert_eq!(first.json()["resolve_actions"], json!([]), "{}", first.body);
    let paged = second.json()["resolve_actions"].clone();
    assert_eq!(paged.as_array().map(Vec::len), Some(1), "{}", second.body);
    let queued = approver.get_json("/v1/actions?limit=100");
    assert!(
        queued["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == paged[0] && a["capability"] == "notify.resolve"),
        "{queued}"
    );
    let refused = approver.post(&triage, json!({"status": "ignored"}));
    assert_eq!(refused.status, 400);
    let history = approver.get_json(&format!("/v1/findings/{key_finding}"))["triage"].clone();
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
    assert_eq!(history[0]["actor"], "victor");
    assert_eq!(history[0]["status"], "acknowledged");
    assert_eq!(history[1]["actor"], "alice");
    assert_eq!(history[1]["note"], "key disabled");
    let resolved = approver.get_json("/v1/findings?status=resolved");
    assert_eq!(resolved["total"], 1);
    assert_eq!(resolved["findings"][0]["id"], key_finding);

    // Approve runs the call on moto; undo restores it. The CLI sees both, by alice.
    let approved = approver.post(&approve, json!({}));
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(
        approved.json()["action"]["status"],
        "succeeded",
        "{}",
        approved.body
    );
    let disabled: Vec<&(String, String)> = rig
        .keys
        .iter()
        .filter(|(user, key)| rig.setup.key_status(user, key) == "Inactive")
        .collect();
    assert_eq!(
        disabled.len(),
        1,
        "exactly the approved action's key is disabled"
    );
    let (user, key) = disabled[0].clone();
    let again = approver.post(&approve, json!({}));
    assert_eq!(
        again.status, 409,
        "an action is approved once: {}",
        again.body
    );
    let undone = approver.post(&format!("/v1/actions/{action}/undo"), json!({}));
    assert_eq!(undone.status, 200, "{}", undone.body);
    assert_eq!(rig.setup.key_status(&user, &key), "Active");
    let other = pending(&approver)[0]["id"].as_str().unwrap().to_string();
    let rejected = approver.post(
        &format!("/v1/actions/{other}/reject"),
        json!({"reason": "expected"}),
    );
    assert_eq!(rejected.status, 200, "{}", rejected.body);

    let listed = rig.setup.actions(&rig.config);
    let status_of = |id: &str| listed.iter().find(|a| a["id"] == id).unwrap()["status"].clone();
    assert_eq!(status_of(&action), "undone");
    assert_eq!(status_of(&other), "rejected");
    let log = approver.get_json("/v1/actions")["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == action.as_str())
        .unwrap()["log"]
        .clone();
    let whats: Vec<(&str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["actor"].as_str().unwrap(), l["what"].as_str().unwrap()))
        .collect();
    assert!(whats.contains(&("console:alice", "approved")), "{whats:?}");
    assert!(whats.contains(&("console:alice", "undone")), "{whats:?}");

    // Overview, plugins, health answer with what was recorded.
    let overview = approver.get_json("/v1/overview?range=7d");
    assert_eq!(overview["total"].as_u64().unwrap(), total, "{overview}");
    let principals = overview["breakdowns"]["principal"].as_array().unwrap();
    assert!(
        principals
            .iter()
            .any(|p| p["value"].as_str().unwrap().ends_with(":root")),
        "{overview}"
    );
    let plugins = approver.get_json("/v1/plugins")["plugins"].clone();
    let names: Vec<&str> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["access-key-other-user", "root-usage"]);
    assert_eq!(plugins[0]["grants"][0]["mode"], "approve", "{plugins}");
    assert!(
        plugins[0]["since_start"]["matched"].as_u64().unwrap() >= 2,
        "{plugins}"
    );
    let health = approver.get_json("/v1/health");
    assert!(health["last_item"]["http"].is_string(), "{health}");
    assert_eq!(health["queue"]["depth"], 0);

    // Logging out ends the session.
    assert_eq!(approver.post("/logout", json!({})).status, 200);
    assert_eq!(approver.get("/v1/findings").status, 401);
}
