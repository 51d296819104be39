//! Console sessions kept in the audit database, over the real daemon: they outlive a
//! restart; they end at logout, at their absolute or idle expiry, past the per-user cap, and
//! when their user is removed or given another role (after a reload or a restart); and the
//! database holds only the SHA-256 of a session id, never the id.

use std::path::{Path, PathBuf};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::console::Client;
use crate::daemon::{http, write_config, Daemon};

const ALICE: &str = "alice-password-for-session-tests";
const VICTOR: &str = "victor-password-for-session-tests";

/// `[console]` with alice (`alice_role`) and, if `with_victor`, victor (viewer).
fn users(alice_role: &str, with_victor: bool) -> String {
    let mut text = format!(
        "[console]\n[[console.users]]\nname = \"alice\"\nrole = \"{alice_role}\"\n\
         password_env = \"TW_ALICE\"\n"
    );
    if with_victor {
        text += "[[console.users]]\nname = \"victor\"\nrole = \"viewer\"\npassword_env = \"TW_VICTOR\"\n";
    }
    text
}

fn env() -> Vec<(&'static str, String)> {
    vec![("TW_ALICE", ALICE.into()), ("TW_VICTOR", VICTOR.into())]
}

fn database(config: &Path) -> PathBuf {
    config.parent().unwrap().join("audit.db")
}

fn session_id(client: &Client) -> String {
    client.cookie.split_once('=').unwrap().1.to_string()
}

/// The same browser (cookie, CSRF token) talking to a daemon at another address.
fn at(client: &Client, addr: &str) -> Client {
    Client {
        addr: addr.to_string(),
        cookie: client.cookie.clone(),
        csrf: client.csrf.clone(),
        role: client.role.clone(),
    }
}

/// The stored sessions: (hex of the stored hash, user).
fn stored(db: &Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let mut stmt = conn
        .prepare("SELECT hex(id_sha256), user FROM console_sessions ORDER BY created_ms")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    rows
}

fn hash_of(id: &str) -> String {
    hex::encode_upper(Sha256::digest(id.as_bytes()))
}

/// Sets a column of the session stored for `client` (the test's clock: ages it).
fn age(db: &Path, client: &Client, column: &str, value: i64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let changed = conn
        .execute(
            &format!("UPDATE console_sessions SET {column} = ?1 WHERE hex(id_sha256) = ?2"),
            rusqlite::params![value, hash_of(&session_id(client))],
        )
        .unwrap();
    assert_eq!(changed, 1);
}

#[test]
fn a_console_session_survives_a_daemon_restart_and_logout_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &users("approver", true));
    let daemon = Daemon::start(&config, &env());
    let alice = Client::login(&daemon.addr, "alice", ALICE);
    assert_eq!(alice.get_json("/v1/session")["user"], "alice");
    assert!(daemon.stop().success());

    let daemon = Daemon::start(&config, &env());
    let alice = at(&alice, &daemon.addr);
    // Still logged in, with the same role and CSRF token: a change goes through.
    let session = alice.get_json("/v1/session");
    assert_eq!(session["user"], "alice");
    assert_eq!(session["role"], "approver");
    assert_eq!(session["csrf"], alice.csrf.as_str());
    assert_eq!(alice.get("/findings").status, 200, "a page opens too");

    let out = alice.post("/logout", json!({}));
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(alice.get("/v1/session").status, 401);
    assert_eq!(alice.get("/findings").status, 303);
    assert!(
        stored(&database(&config)).is_empty(),
        "logout deletes the row"
    );
    // And a restart does not bring it back.
    assert!(daemon.stop().success());
    let daemon = Daemon::start(&config, &env());
    assert_eq!(at(&alice, &daemon.addr).get("/v1/session").status, 401);
}

#[test]
fn expired_idle_and_surplus_sessions_are_refused_and_the_database_keeps_only_a_hash() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &users("approver", true));
    let db = database(&config);
    let daemon = Daemon::start(&config, &env());
    let expired = Client::login(&daemon.addr, "alice", ALICE);
    let idle = Client::login(&daemon.addr, "alice", ALICE);
    let live = Client::login(&daemon.addr, "victor", VICTOR);
    assert_eq!(live.get("/v1/session").status, 200);

    // The database holds each session's SHA-256, never its id: not in a column, not in
    // the database or its write-ahead log.
    let rows = stored(&db);
    assert_eq!(rows.len(), 3);
    for client in [&expired, &idle, &live] {
        let id = session_id(client);
        assert_eq!(id.len(), 64, "a 256-bit id");
        assert!(rows.iter().any(|(hash, _)| *hash == hash_of(&id)));
        for file in ["audit.db", "audit.db-wal"] {
            let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
            let found = bytes
                .windows(id.len())
                .any(|w| w.eq_ignore_ascii_case(id.as_bytes()));
            assert!(!found, "{file} holds a session id");
        }
    }

    // A cookie naming no stored session (forged, or the stored hash sent back) opens nothing.
    let forged = Client {
        cookie: format!("tw_session={}", "0".repeat(64)),
        ..at(&live, &daemon.addr)
    };
    assert_eq!(forged.get("/v1/session").status, 401);
    let hash_as_id = Client {
        cookie: format!("tw_session={}", hash_of(&session_id(&live)).to_lowercase()),
        ..at(&live, &daemon.addr)
    };
    assert_eq!(hash_as_id.get("/v1/session").status, 401);

    // Past its absolute expiry, or idle longer than `idle_minutes` (60 by default): refused
    // and deleted. The other session is untouched.
    age(&db, &expired, "expires_ms", 1);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    age(&db, &idle, "last_seen_ms", now_ms - 61 * 60 * 1000);
    assert_eq!(expired.get("/v1/session").status, 401);
    assert_eq!(expired.get("/").status, 303);
    assert_eq!(idle.get("/v1/findings").status, 401);
    assert_eq!(live.get("/v1/session").status, 200);
    let users: Vec<String> = stored(&db).into_iter().map(|(_, user)| user).collect();
    assert_eq!(users, ["victor"]);

    // A user holds at most 20 sessions: a 21st login ends their oldest.
    let more: Vec<Client> = (0..20)
        .map(|_| Client::login(&daemon.addr, "victor", VICTOR))
        .collect();
    assert_eq!(live.get("/v1/session").status, 401, "the oldest is dropped");
    for client in &more {
        assert_eq!(client.get("/v1/session").status, 200);
    }
    assert_eq!(stored(&db).len(), 20);
}

#[test]
fn a_user_removed_or_given_another_role_is_logged_out_by_a_reload_or_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &users("approver", true));
    let db = database(&config);
    let daemon = Daemon::start(&config, &env());
    let alice = Client::login(&daemon.addr, "alice", ALICE);
    let victor = Client::login(&daemon.addr, "victor", VICTOR);
    let admin = Client::login(&daemon.addr, "", &daemon.admin_token);

    // A reload that makes alice a viewer: her approver session ends; she logs in again as
    // a viewer. The others are untouched.
    write_config(dir.path(), &users("viewer", true));
    let bearer = ("Authorization", format!("Bearer {}", daemon.admin_token));
    let reloaded = http(&daemon.addr, "POST", "/v1/reload", Some(&bearer), b"");
    assert_eq!(reloaded.status, 200, "{}", reloaded.body);
    assert_eq!(alice.get("/v1/session").status, 401);
    assert_eq!(victor.get("/v1/session").status, 200);
    assert_eq!(admin.get("/v1/session").status, 200);
    let alice = Client::login(&daemon.addr, "alice", ALICE);
    assert_eq!(alice.role, "viewer");
    let approve = alice.post("/v1/actions/nope/approve", json!({}));
    assert_eq!(approve.status, 403, "{}", approve.body);

    // A restart without victor in the config: alice's session survives; victor's row is
    // deleted when the console starts (before he asks), and he is refused.
    assert!(daemon.stop().success());
    write_config(dir.path(), &users("viewer", false));
    let daemon = Daemon::start(&config, &env());
    assert_eq!(at(&alice, &daemon.addr).get("/v1/session").status, 200);
    let users: Vec<String> = stored(&db).into_iter().map(|(_, user)| user).collect();
    assert!(!users.contains(&"victor".to_string()), "{users:?}");
    assert_eq!(at(&victor, &daemon.addr).get("/v1/session").status, 401);
    // The admin token's session lasts while the token does: the daemon keeps its token
    // file, so it survives; a rotated token would end it.
    assert_eq!(at(&admin, &daemon.addr).get("/v1/session").status, 200);
    assert!(daemon.stop().success());
    std::fs::remove_file(dir.path().join("trailwarden.admin-token")).unwrap();
    let daemon = Daemon::start(&config, &env());
    assert_eq!(
        at(&admin, &daemon.addr).get("/v1/session").status,
        401,
        "a session opened with a rotated admin token"
    );
}

/// Opens `/v1/stream` with `client`'s cookie on a connection of its own; returns it once the
/// response head has been read (the stream is open).
fn open_stream(client: &Client) -> std::net::TcpStream {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::net::TcpStream::connect(&client.addr).unwrap();
    write!(
        stream,
        "GET /v1/stream HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nConnection: close\r\n\r\n",
        client.addr, client.cookie
    )
    .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.contains(" 200 "), "{status}");
    stream
}

/// Reads `stream` to its end; how long that took, or `None` if it was still open after
/// `within`.
fn ends_within(
    mut stream: std::net::TcpStream,
    within: std::time::Duration,
) -> Option<std::time::Duration> {
    use std::io::Read;
    let started = std::time::Instant::now();
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) if started.elapsed() < within => {}
            Ok(_) => return None,
            Err(_) => return None,
        }
    }
}

#[test]
fn a_live_stream_ends_with_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &users("approver", true));
    let daemon = Daemon::start(&config, &env());
    let alice = Client::login(&daemon.addr, "alice", ALICE);
    let victor = Client::login(&daemon.addr, "victor", VICTOR);
    let alices = open_stream(&alice);
    let victors = open_stream(&victor);

    // Alice logs out: her open stream ends within the session check (5 s), not at the
    // stream's one-hour lifetime; victor's stays open.
    assert_eq!(alice.post("/logout", json!({})).status, 200);
    let ended = ends_within(alices, std::time::Duration::from_secs(20));
    assert!(
        ended.is_some(),
        "the logged-out session's stream is still open"
    );
    let victors_read = victors.try_clone().unwrap();
    assert_eq!(
        ends_within(victors_read, std::time::Duration::from_secs(7)),
        None,
        "a live session's stream stays open"
    );
    assert!(daemon.stop().success());
}
