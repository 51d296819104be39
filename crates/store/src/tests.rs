use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::Connection;

use super::*;

/// Each step appends its number to `applied`, so the table says what ran and in which order.
const THREE_STEPS: &[&str] = &[
    "CREATE TABLE applied (step INTEGER NOT NULL); INSERT INTO applied VALUES (1);",
    "INSERT INTO applied VALUES (2);",
    "INSERT INTO applied VALUES (3);",
];

fn schema(store: &'static str, migrations: &'static [&'static str]) -> Schema<&'static str> {
    Schema {
        store,
        migrations,
        synchronous: Synchronous::Normal,
        mirrors_user_version: false,
    }
}

fn applied(conn: &Connection) -> Vec<i64> {
    let mut stmt = conn
        .prepare("SELECT step FROM applied ORDER BY rowid")
        .unwrap();
    let rows = stmt.query_map([], |row| row.get(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

#[test]
fn migrations_apply_once_each_in_order_and_record_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let conn = open(&path, &schema("audit", &THREE_STEPS[..2])).unwrap();
    assert_eq!(applied(&conn), [1, 2]);
    drop(conn);
    // A newer binary applies only what the database lacks.
    let schema = schema("audit", THREE_STEPS);
    let conn = open(&path, &schema).unwrap();
    assert_eq!(applied(&conn), [1, 2, 3]);
    assert_eq!(version(&conn, &schema).unwrap(), 3);
}

static RUST_STEP_RUNS: AtomicUsize = AtomicUsize::new(0);

fn counted_step(conn: &Connection) -> rusqlite::Result<()> {
    RUST_STEP_RUNS.fetch_add(1, Ordering::SeqCst);
    conn.execute_batch("CREATE TABLE counted (x)")
}

#[test]
fn reopening_an_up_to_date_database_applies_nothing() {
    static STEPS: &[Migration] = &[
        Migration::Sql("CREATE TABLE t (x)"),
        Migration::Rust(counted_step),
    ];
    let schema = Schema {
        store: "state",
        migrations: STEPS,
        synchronous: Synchronous::Normal,
        mirrors_user_version: false,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    drop(open(&path, &schema).unwrap());
    assert_eq!(RUST_STEP_RUNS.load(Ordering::SeqCst), 1);
    let before = std::fs::read(&path).unwrap();
    for _ in 0..3 {
        let conn = open(&path, &schema).unwrap();
        assert_eq!(version(&conn, &schema).unwrap(), 2);
    }
    assert_eq!(RUST_STEP_RUNS.load(Ordering::SeqCst), 1, "a step ran again");
    assert_eq!(std::fs::read(&path).unwrap(), before, "reopening wrote");
}

#[test]
fn a_database_newer_than_the_binary_is_refused_naming_the_store_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    drop(open(&path, &schema("outbox", THREE_STEPS)).unwrap());
    let error = open(&path, &schema("outbox", &THREE_STEPS[..2])).unwrap_err();
    assert!(
        matches!(
            error,
            Error::TooNew {
                found: 3,
                known: 2,
                ..
            }
        ),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("outbox") && text.contains("version 3") && text.contains("knows (2)"),
        "{text}"
    );
    assert!(text.contains(&path.display().to_string()), "{text}");
    // Nothing was changed by the refusal.
    let conn = open(&path, &schema("outbox", THREE_STEPS)).unwrap();
    assert_eq!(applied(&conn), [1, 2, 3]);
}

#[cfg(unix)]
#[test]
fn the_database_and_its_wal_and_shm_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let mode = |suffix: &str| {
        let file = dir.path().join(format!("audit.db{suffix}"));
        std::fs::metadata(file).unwrap().permissions().mode() & 0o777
    };
    let conn = open(&path, &schema("audit", THREE_STEPS)).unwrap();
    conn.execute("INSERT INTO applied VALUES (4)", []).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        assert_eq!(mode(suffix), 0o600, "audit.db{suffix}");
    }
    drop(conn);
    // A database made world-readable earlier is narrowed when opened.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _conn = open(&path, &schema("audit", THREE_STEPS)).unwrap();
    assert_eq!(mode(""), 0o600);
}

#[test]
fn each_store_gets_write_ahead_logging_its_own_sync_level_and_temporaries_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let full = Schema {
        synchronous: Synchronous::Full,
        ..schema("suppress", &[])
    };
    let pragma = |conn: &Connection, name: &str| -> String {
        conn.pragma_query_value(None, name, |row| row.get::<_, rusqlite::types::Value>(0))
            .map(|v| match v {
                rusqlite::types::Value::Integer(n) => n.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
            .unwrap()
    };
    let normal = open(&path, &schema("state", &[])).unwrap();
    let full = open(&path, &full).unwrap();
    assert_eq!(pragma(&normal, "journal_mode"), "wal");
    assert_eq!(pragma(&normal, "synchronous"), "1", "NORMAL");
    assert_eq!(pragma(&full, "synchronous"), "2", "FULL");
    for conn in [&normal, &full] {
        assert_eq!(
            pragma(conn, "temp_store"),
            "2",
            "statement journals in memory"
        );
    }
}

/// The previous release created its tables with `CREATE TABLE IF NOT EXISTS` and recorded
/// no version. Its rows survive: the first migration is that same SQL, and a later change
/// of a table made before it existed is a Rust step that checks first.
#[test]
fn a_database_of_the_previous_release_upgrades_without_losing_rows() {
    const SCHEMA_OF_THE_RELEASE: &str =
        "CREATE TABLE IF NOT EXISTS actions (id TEXT PRIMARY KEY, status TEXT NOT NULL);";
    fn add_lease_column(conn: &Connection) -> rusqlite::Result<()> {
        let has: bool = conn.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('actions') WHERE name = 'lease_owner'",
            [],
            |row| row.get(0),
        )?;
        if !has {
            conn.execute_batch("ALTER TABLE actions ADD COLUMN lease_owner TEXT")?;
        }
        Ok(())
    }
    static STEPS: &[Migration] = &[
        Migration::Sql(SCHEMA_OF_THE_RELEASE),
        Migration::Rust(add_lease_column),
        Migration::Sql("CREATE INDEX actions_by_status ON actions (status)"),
    ];
    let schema = Schema {
        store: "outbox",
        migrations: STEPS,
        synchronous: Synchronous::Normal,
        mirrors_user_version: false,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA_OF_THE_RELEASE).unwrap();
        conn.execute_batch(
            "ALTER TABLE actions ADD COLUMN lease_owner TEXT;
             INSERT INTO actions VALUES ('a1', 'accepted', NULL), ('a2', 'succeeded', 'me');",
        )
        .unwrap();
    }
    let conn = open(&path, &schema).unwrap();
    assert_eq!(version(&conn, &schema).unwrap(), 3);
    let rows: Vec<(String, String, Option<String>)> = conn
        .prepare("SELECT id, status, lease_owner FROM actions ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        [
            ("a1".into(), "accepted".into(), None),
            ("a2".into(), "succeeded".into(), Some("me".into()))
        ]
    );
    // A database of a release older still (no lease column) gets it.
    let older = dir.path().join("older.db");
    {
        let conn = Connection::open(&older).unwrap();
        conn.execute_batch(SCHEMA_OF_THE_RELEASE).unwrap();
        conn.execute("INSERT INTO actions VALUES ('a0', 'failed')", [])
            .unwrap();
    }
    let conn = open(&older, &schema).unwrap();
    let row: (String, Option<String>) = conn
        .query_row("SELECT status, lease_owner FROM actions", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(row, ("failed".into(), None));
}

#[test]
fn two_stores_in_one_file_keep_separate_versions() {
    const STATE: &[&str] = &["CREATE TABLE IF NOT EXISTS plugin_state (k, v)"];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let audit = schema("audit", &THREE_STEPS[..1]);
    let state = schema("state", STATE);
    let conn = open(&path, &audit).unwrap();
    drop(open(&path, &state).unwrap());
    assert_eq!(version(&conn, &audit).unwrap(), 1);
    assert_eq!(version(&conn, &state).unwrap(), 1);
    drop(conn);
    // The audit store moves on; the state store's version does not follow it.
    let audit = schema("audit", THREE_STEPS);
    let conn = open(&path, &audit).unwrap();
    assert_eq!(version(&conn, &audit).unwrap(), 3);
    assert_eq!(version(&conn, &state).unwrap(), 1);
    drop(open(&path, &state).unwrap());
    // And a state store from a newer binary is refused as the state store's.
    let error = open(&path, &schema("state", &[])).unwrap_err();
    assert!(error.to_string().contains("the state tables"), "{error}");
}

/// The audit store kept its version in `PRAGMA user_version` before `schema_versions`: that
/// number is its version (its first migrations are not run again), and it is kept up to date
/// there, so an older binary still refuses a database it does not know.
#[test]
fn a_store_versioned_by_user_version_before_continues_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(THREE_STEPS[0]).unwrap();
        conn.execute_batch(THREE_STEPS[1]).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
    }
    let audit = Schema {
        mirrors_user_version: true,
        ..schema("audit", THREE_STEPS)
    };
    let conn = open(&path, &audit).unwrap();
    assert_eq!(applied(&conn), [1, 2, 3]);
    assert_eq!(version(&conn, &audit).unwrap(), 3);
    let user_version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(user_version, 3);
    // Other stores in the file ignore it.
    assert_eq!(version(&conn, &schema("state", &[])).unwrap(), 0);

    // Already up to date in `user_version`: nothing runs again, and the version gets its row.
    let current = dir.path().join("current.db");
    {
        let conn = Connection::open(&current).unwrap();
        for step in THREE_STEPS {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
    }
    let conn = open(&current, &audit).unwrap();
    assert_eq!(applied(&conn), [1, 2, 3]);
    let row: i64 = conn
        .query_row(
            "SELECT version FROM schema_versions WHERE store = 'audit'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(row, 3);
}

#[test]
fn a_failing_migration_is_rolled_back_and_named_and_earlier_ones_stay() {
    const BROKEN: &[&str] = &[
        "CREATE TABLE applied (step INTEGER NOT NULL); INSERT INTO applied VALUES (1);",
        "INSERT INTO applied VALUES (2); INSERT INTO no_such_table VALUES (1);",
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let error = open(&path, &schema("dedup", BROKEN)).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Migration {
                store: "dedup",
                version: 2,
                ..
            }
        ),
        "{error:?}"
    );
    let conn = Connection::open(&path).unwrap();
    assert_eq!(applied(&conn), [1], "step 2's first insert was rolled back");
    assert_eq!(version(&conn, &schema("dedup", BROKEN)).unwrap(), 1);
}

#[test]
fn a_file_that_is_not_a_database_is_refused_with_its_path_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let garbage = vec![0xA5u8; 4096];
    std::fs::write(&path, &garbage).unwrap();
    let error = open(&path, &schema("audit", THREE_STEPS)).unwrap_err();
    let text = format!("{error}: {}", std::error::Error::source(&error).unwrap());
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("not a database"), "{text}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}

#[test]
fn an_in_memory_database_gets_the_same_tables() {
    let conn = open_in_memory(&schema("audit", THREE_STEPS)).unwrap();
    assert_eq!(applied(&conn), [1, 2, 3]);
}
