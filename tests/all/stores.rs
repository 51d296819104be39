//! The stores' shared database across the upgrade to per-store schema versions
//! (`trailwarden-store`): a database of the release before keeps every row.

use std::path::Path;
use std::time::Duration;

use trailwarden::audit::{AuditStore, FindingQuery, StoredFinding};
use trailwarden::console::store::{ConsoleDb, SessionStore};
use trailwarden::dedup::{Dedup, Seen};
use trailwarden::history::HistoryStore;
use trailwarden::respond::outbox::Outbox;
use trailwarden::state::{StateQuota, StateStore};
use trailwarden::suppress::{Conditions, SuppressionStore};

fn finding() -> StoredFinding {
    StoredFinding {
        plugin: "root-usage".into(),
        plugin_version: "1.0.0".into(),
        plugin_sha256: "abc".into(),
        rule_id: "root-usage".into(),
        severity: "high".into(),
        title: "Root account used".into(),
        description: "d".into(),
        resources: vec!["arn:aws:iam::111111111111:root".into()],
        dedup_key: "k".into(),
        event_id: "e1".into(),
        event_time: Some("2024-01-02T03:04:05Z".into()),
        context: serde_json::json!({}).into(),
        recorded_at: trailwarden::audit::now_rfc3339(),
        suppressed_by: None,
    }
}

const DIGEST: [u8; 32] = [7; 32];
const WINDOW: Duration = Duration::from_secs(3600);

/// Every store opened in the order the daemon opens them, as it does at each start.
fn open_every_store(db: &Path) -> (AuditStore, StateStore, Dedup, Outbox, SuppressionStore) {
    let audit = AuditStore::open(db).unwrap();
    let state = StateStore::open(db).unwrap();
    let dedup = Dedup::open(db, WINDOW).unwrap();
    let outbox = Outbox::open(db).unwrap();
    drop(HistoryStore::open(db).unwrap());
    let suppressions = SuppressionStore::open(db).unwrap();
    drop(ConsoleDb::open(db).unwrap());
    drop(SessionStore::open(db).unwrap());
    (audit, state, dedup, outbox, suppressions)
}

fn versions(db: &Path) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT store, version FROM schema_versions ORDER BY store")
        .unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// The release before per-store versions made every table with `CREATE TABLE IF NOT EXISTS`
/// and versioned only the audit tables, in `user_version`. Such a database (made here by
/// removing the versions from a current one) opens with every store, keeps its findings,
/// state, dedup window, action log and suppressions, and then records each store's version;
/// reopening changes none of them.
#[test]
fn a_database_of_the_release_before_store_versions_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let now = 1_700_000_000;
    {
        let (audit, state, mut dedup, outbox, mut suppressions) = open_every_store(&db);
        assert!(audit.record_finding(&finding()).unwrap());
        state
            .set("root-usage", "count", "3", None, now, StateQuota::default())
            .unwrap();
        assert_eq!(dedup.check_and_mark("e1", &DIGEST).unwrap(), Seen::New);
        dedup.commit().unwrap();
        outbox.log("a1", "cli", "approved", "by hand").unwrap();
        let conditions = Conditions {
            rule: Some("root-*".into()),
            principal: None,
            account: None,
            source_ip: None,
            user_agent: None,
            until: None,
        };
        suppressions
            .add(&conditions, "break-glass drill", "alice")
            .unwrap();
    }
    let current = versions(&db);
    let audit_version = AuditStore::open(&db).unwrap().schema_version().unwrap();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("DROP TABLE schema_versions").unwrap();
        let user_version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(
            user_version as usize, audit_version,
            "the audit store's version, where the release kept it"
        );
    }

    for _ in 0..2 {
        let (audit, state, mut dedup, outbox, suppressions) = open_every_store(&db);
        let findings = audit.findings(&FindingQuery::default()).unwrap();
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(
            state.get("root-usage", "count", now).unwrap().as_deref(),
            Some("3")
        );
        assert_eq!(
            dedup.check_and_mark("e1", &DIGEST).unwrap(),
            Seen::Duplicate
        );
        let log = outbox.history("a1").unwrap();
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(suppressions.active().unwrap().len(), 1);
        assert!(matches!(
            audit.verify_chain().unwrap(),
            trailwarden::chain::Verdict::Intact { rows: 1, .. }
        ));
        assert_eq!(
            versions(&db),
            current,
            "each store's version is recorded again"
        );
    }
    let names: Vec<&str> = current.iter().map(|(store, _)| store.as_str()).collect();
    assert_eq!(
        names,
        ["audit", "console", "dedup", "history", "outbox", "rate", "state", "suppress"]
    );
}

/// An outbox made before decisions were chained and actions leased (the first release's
/// `actions` table, no version): its actions keep their status, are claimed like new ones,
/// and join the hash chain in the order they were written.
#[test]
fn an_outbox_of_the_first_release_gets_the_columns_added_since_and_keeps_its_actions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE actions (
                id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL, plugin TEXT NOT NULL, plugin_version TEXT NOT NULL,
                plugin_sha256 TEXT NOT NULL, event_id TEXT NOT NULL, capability TEXT NOT NULL,
                request TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL,
                resource TEXT NOT NULL, mode TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
                attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL DEFAULT 0,
                request_id TEXT, error TEXT, executed_at TEXT, inverse TEXT, undo_of TEXT,
                received_us INTEGER, decided_us INTEGER NOT NULL);
             CREATE INDEX actions_by_status ON actions (status, next_attempt_at);
             CREATE INDEX actions_by_budget ON actions (plugin, capability, decided_us);
             CREATE TABLE action_log (id INTEGER PRIMARY KEY, action_id TEXT NOT NULL,
                at TEXT NOT NULL, actor TEXT NOT NULL, what TEXT NOT NULL, detail TEXT NOT NULL);
             INSERT INTO actions (id, idempotency_key, created_at, plugin, plugin_version,
                plugin_sha256, event_id, capability, request, account, region, resource, mode,
                status, decided_us)
             VALUES
                ('a1', 'k1', '2024-01-01T00:00:00Z', 'p', '1', 'sha', 'e1',
                 'iam.disable-access-key', '{}', '111111111111', 'us-east-1', 'r', 'enforce',
                 'accepted', 1),
                ('a2', 'k2', '2024-01-01T00:00:01Z', 'p', '1', 'sha', 'e2',
                 'iam.disable-access-key', '{}', '111111111111', 'us-east-1', 'r', 'enforce',
                 'denied', 2);
             INSERT INTO action_log (action_id, at, actor, what, detail)
             VALUES ('a1', '2024-01-01T00:00:00Z', 'broker', 'decided', 'accepted');",
        )
        .unwrap();
    }
    let outbox = Outbox::open(&db).unwrap();
    let counts = outbox.status_counts().unwrap();
    assert_eq!(counts.get("accepted"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("denied"), Some(&1), "{counts:?}");
    assert_eq!(outbox.history("a1").unwrap().len(), 1);
    for verdict in outbox.verify_chains().unwrap() {
        assert!(
            matches!(verdict, trailwarden::chain::Verdict::Intact { .. }),
            "{verdict:?}"
        );
    }
    // The accepted action is claimed (leases need the columns added on open).
    assert!(outbox.claim("a1").unwrap());
    assert!(!outbox.claim("a2").unwrap(), "a denied action is final");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let budget_index: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'actions_by_budget'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(budget_index, 0, "the old budget index is replaced");
    let version: i64 = conn
        .query_row(
            "SELECT version FROM schema_versions WHERE store = 'outbox'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(version > 0, "the outbox's version is recorded");
}
