//! Tamper evidence: findings, action decisions and the action log are hash chains, and
//! `trailwarden audit verify` names the first row deleted or altered behind the daemon's
//! back. The database is owner-only.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rusqlite::{params, Connection};
use serde_json::Value;

use crate::daemon::{envelope, log_of, root_record, trailwarden, write_config_with, Auth, Daemon};
use crate::support::plugin;

/// root-usage with notify.send granted in approve mode: each finding's notification waits
/// in the outbox for a person (a decision row; approving or rejecting adds a log row).
fn approve_mode_config(dir: &Path) -> std::path::PathBuf {
    let plugins = format!(
        "[notify.security-team]\nurl = \"http://127.0.0.1:9/hook\"\nsecret_env = \"TRAILWARDEN_TEST_HOOK_SECRET\"\n\
         [[plugins]]\npath = \"{}\"\nname = \"root-usage\"\nmode = \"approve\"\n\
         [plugins.config]\nnotify_target = \"security-team\"\n\
         [[plugins.grants]]\ncapability = \"notify.send\"\naccounts = [\"*\"]\n",
        plugin("root-usage").display()
    );
    write_config_with(dir, &plugins, "")
}

/// `audit verify`: (success, stdout).
fn verify(config: &Path) -> (bool, String) {
    let output = trailwarden(
        &["audit", "verify", "--config", config.to_str().unwrap()],
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() || output.status.code() == Some(1),
        "{}: {stderr}",
        output.status
    );
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn rows(db: &Path, sql: &str) -> Vec<(String, String)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

#[test]
fn audit_verify_names_a_finding_altered_and_an_action_deleted_behind_the_daemons_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = approve_mode_config(dir.path());
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &[]);
    // Distinct source addresses: one notification per root session.
    let records: Vec<Value> = (0..3)
        .map(|i| {
            let mut record = root_record(&format!("tamper-{i}"));
            record["sourceIPAddress"] = Value::from(format!("198.51.100.{}", 10 + i));
            envelope(&record)
        })
        .collect();
    let response = daemon.post(Value::Array(records).to_string().as_bytes(), Auth::Own);
    assert_eq!(response.status, 200);

    // The database holds raw events and action arguments: owner-only, WAL files included.
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("audit.db{suffix}"));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "audit.db{suffix}");
    }

    let findings = rows(
        &db,
        "SELECT CAST(id AS TEXT), severity FROM findings ORDER BY id",
    );
    let actions = rows(&db, "SELECT id, status FROM actions ORDER BY chain_seq");
    assert_eq!(findings.len(), 3, "{findings:?}");
    assert_eq!(actions.len(), 3, "{actions:?}");
    assert!(
        actions.iter().all(|(_, s)| s == "pending_approval"),
        "{actions:?}"
    );
    // A person rejects one: a log row.
    let c = config.to_str().unwrap();
    let rejected = trailwarden(
        &[
            "actions",
            "reject",
            &actions[2].0,
            "--config",
            c,
            "--by",
            "oncall",
            "--reason",
            "test",
        ],
        &[],
    );
    assert!(rejected.status.success(), "{rejected:?}");

    let (ok, out) = verify(&config);
    assert!(ok, "{out}");
    // 3 findings, 3 decisions, 1 log row.
    assert!(out.starts_with("ok: 7 rows\n"), "{out}");

    // A finding's severity lowered while the daemon runs.
    let (finding_id, severity) = &findings[1];
    let conn = Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE findings SET severity = 'info' WHERE id = ?1",
        params![finding_id],
    )
    .unwrap();
    let (ok, out) = verify(&config);
    assert!(!ok);
    assert!(
        out.contains(&format!("findings row {finding_id} (link 2) was altered")),
        "{out}"
    );
    conn.execute(
        "UPDATE findings SET severity = ?2 WHERE id = ?1",
        params![finding_id, severity],
    )
    .unwrap();
    assert!(verify(&config).0, "restored, the chain holds again");

    // An action decision deleted; the daemon keeps writing after it.
    let (action_id, _) = &actions[0];
    conn.execute("DELETE FROM actions WHERE id = ?1", params![action_id])
        .unwrap();
    let more = envelope(&root_record("tamper-after"));
    assert_eq!(
        daemon.post(more.to_string().as_bytes(), Auth::Own).status,
        200
    );
    let (ok, out) = verify(&config);
    assert!(!ok);
    assert!(
        out.contains(&format!(
            "actions: link 1 is missing between the start and row {}: deleted",
            actions[1].0
        )),
        "{out}"
    );

    // The action log too: its only row removed.
    conn.execute("DELETE FROM action_log", []).unwrap();
    let (_, out) = verify(&config);
    assert!(
        out.contains("action_log: the newest 1 row(s), after the start, were deleted"),
        "{out}"
    );

    let status = daemon.stop();
    assert!(status.success(), "{status}: {}", log_of(dir.path()));
}

#[test]
fn a_final_decision_turned_into_an_accepted_action_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    // No grant: root-usage's notify calls are denied.
    let config = crate::daemon::write_config(dir.path(), "");
    let db = dir.path().join("audit.db");
    let daemon = Daemon::start(&config, &[]);
    let body = envelope(&root_record("denied-1")).to_string();
    assert_eq!(daemon.post(body.as_bytes(), Auth::Own).status, 200);
    let status = daemon.stop();
    assert!(status.success(), "{status}: {}", log_of(dir.path()));

    let actions = rows(&db, "SELECT id, status FROM actions");
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].1, "denied");
    assert!(verify(&config).0);
    // Flipping the status (which executors move on legitimately) of a denial to accepted
    // would have an executor run it: the chained decision says otherwise.
    Connection::open(&db)
        .unwrap()
        .execute("UPDATE actions SET status = 'accepted'", [])
        .unwrap();
    let (ok, out) = verify(&config);
    assert!(!ok);
    assert!(
        out.contains(&format!(
            "actions row {} was decided denied (final) but now says accepted",
            actions[0].0
        )),
        "{out}"
    );
}
