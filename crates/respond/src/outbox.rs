//! The action outbox (ARCHITECTURE.md, rule 4): every capability call is decided and committed
//! here *before* the plugin sees its receipt; executors carry accepted actions out later,
//! and record the outcome. The idempotency key makes a redelivered event a no-op.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use trailwarden_store::chain::Chain;

use super::request::{Request, StoredRequest};

/// An action's decision: what was asked, and what was decided. Its later progress (status,
/// attempts, request ids) is in the action log.
pub const ACTIONS_CHAIN: Chain = Chain {
    table: "actions",
    key: "id",
    content: &[
        "id",
        "idempotency_key",
        "created_at",
        "plugin",
        "plugin_version",
        "plugin_sha256",
        "event_id",
        "capability",
        "request",
        "account",
        "region",
        "resource",
        "mode",
        "decided_status",
        "reason",
        "received_us",
        "decided_us",
        "undo_of",
    ],
};

/// What became of an action after its decision: who did what, and when.
pub const ACTION_LOG_CHAIN: Chain = Chain {
    table: "action_log",
    key: "id",
    content: &["action_id", "at", "actor", "what", "detail"],
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS actions (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    plugin TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    plugin_sha256 TEXT NOT NULL,
    event_id TEXT NOT NULL,
    capability TEXT NOT NULL,
    request TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    resource TEXT NOT NULL,
    mode TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    request_id TEXT,
    error TEXT,
    executed_at TEXT,
    inverse TEXT,
    undo_of TEXT,
    -- Microseconds since the epoch: when the event reached the host, and when the action
    -- was decided and committed (event-to-action-request latency).
    received_us INTEGER,
    decided_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_by_status ON actions (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS action_log (
    id INTEGER PRIMARY KEY,
    action_id TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    what TEXT NOT NULL,
    detail TEXT NOT NULL
);
";

/// Where an action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not granted, out of scope, over budget or invalid. Final.
    Denied,
    /// Recorded, never executed. Final.
    DryRun,
    /// Waiting for a person.
    PendingApproval,
    /// Granted (or approved); waiting for an executor.
    Accepted,
    /// Claimed by an executor.
    Running,
    Succeeded,
    Failed,
    /// A person said no. Final.
    Rejected,
    /// Succeeded, then its inverse ran.
    Undone,
    /// Held back by a suppression (`suppress`): recorded, never executed. Final.
    Suppressed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Denied => "denied",
            Status::DryRun => "dry_run",
            Status::PendingApproval => "pending_approval",
            Status::Accepted => "accepted",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Rejected => "rejected",
            Status::Undone => "undone",
            Status::Suppressed => "suppressed",
        }
    }

    /// # Errors
    /// The text is not a status name.
    pub fn parse(text: &str) -> Result<Status> {
        Ok(match text {
            "denied" => Status::Denied,
            "dry_run" | "dry-run" => Status::DryRun,
            "pending_approval" | "pending" => Status::PendingApproval,
            "accepted" => Status::Accepted,
            "running" => Status::Running,
            "succeeded" => Status::Succeeded,
            "failed" => Status::Failed,
            "rejected" => Status::Rejected,
            "undone" => Status::Undone,
            "suppressed" => Status::Suppressed,
            other => anyhow::bail!(
                "unknown status {other:?} (denied, dry_run, pending, accepted, running, succeeded, failed, rejected, undone, suppressed)"
            ),
        })
    }
}

impl std::fmt::Display for Status {
    // `pad`, not `write_str`: tables give a status a width (`{:16}`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A status equals its stored name (`"pending_approval"`), as tests and scripts read it.
impl PartialEq<&str> for Status {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

/// A stored status is one of the names the outbox writes; anything else is a damaged row.
impl rusqlite::types::FromSql for Status {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let text = value.as_str()?;
        Status::parse(text).map_err(|e| rusqlite::types::FromSqlError::Other(e.into()))
    }
}

/// An action to record.
pub struct NewAction<'a> {
    pub idempotency_key: &'a str,
    pub plugin: &'a str,
    pub plugin_version: &'a str,
    pub plugin_sha256: &'a str,
    pub event_id: &'a str,
    pub capability: &'a str,
    pub request: &'a StoredRequest,
    pub account: &'a str,
    pub region: &'a str,
    pub resource: &'a str,
    pub mode: &'a str,
    pub status: Status,
    pub reason: Option<&'a str>,
    pub received_us: Option<i64>,
    pub undo_of: Option<&'a str>,
}

/// An action as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRecord {
    pub id: String,
    pub created_at: String,
    pub plugin: String,
    pub plugin_version: String,
    pub plugin_sha256: String,
    pub event_id: String,
    pub capability: String,
    pub request: StoredRequest,
    pub account: String,
    pub region: String,
    pub resource: String,
    pub mode: String,
    pub status: Status,
    pub reason: Option<String>,
    pub attempts: u32,
    pub request_id: Option<String>,
    pub error: Option<String>,
    pub executed_at: Option<String>,
    /// The request that undoes it, recorded when it succeeded.
    pub inverse: Option<Request>,
    pub undo_of: Option<String>,
    pub received_us: Option<i64>,
    pub decided_us: i64,
}

/// How long a claim holds an action: an executor renews it while the action runs, so
/// only a dead executor's claim runs out, and then another executor takes the action over.
pub const LEASE_S: i64 = 60;

/// A shared handle to the outbox tables; cheap to clone into each plugin store.
#[derive(Clone)]
pub struct Outbox {
    conn: Arc<Mutex<Connection>>,
    /// Who this handle claims actions as (process id and a random tag), for the leases.
    owner: Arc<str>,
}

const COLUMNS: &str = "id, created_at, plugin, plugin_version, plugin_sha256, event_id, capability,
    request, account, region, resource, mode, status, reason, attempts, request_id, error,
    executed_at, inverse, undo_of, received_us, decided_us";

impl Outbox {
    /// # Errors
    /// The database cannot be opened or the tables created.
    pub fn open(path: &Path) -> Result<Outbox> {
        let conn = trailwarden_store::open(path, &STORE_SCHEMA)
            .with_context(|| format!("cannot open the outbox in {}", path.display()))?;
        Self::init(conn)
    }

    /// # Errors
    /// The tables cannot be created.
    pub fn in_memory() -> Result<Outbox> {
        Self::init(trailwarden_store::open_in_memory(&STORE_SCHEMA)?)
    }

    /// `conn` comes from [`trailwarden_store`], its tables up to date (NORMAL sync: each
    /// commit is durable against a crash of the process before the receipt is handed out;
    /// see ARCHITECTURE.md on power loss).
    fn init(conn: Connection) -> Result<Outbox> {
        trailwarden_store::chain::prepare(&conn, &ACTIONS_CHAIN)?;
        trailwarden_store::chain::prepare(&conn, &ACTION_LOG_CHAIN)?;
        let mut tag = [0u8; 4];
        getrandom::fill(&mut tag).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        Ok(Outbox {
            conn: Arc::new(Mutex::new(conn)),
            owner: format!("{}-{}", std::process::id(), hex::encode(tag)).into(),
        })
    }

    /// Who this handle claims actions as.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The connection, for modules keeping tables beside the outbox (notification groups)
    /// that must change them and an action in one transaction.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The action already recorded under an idempotency key, if any.
    ///
    /// # Errors
    /// The read fails.
    pub fn by_key(&self, key: &str) -> Result<Option<ActionRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM actions WHERE idempotency_key = ?1"
        ))?;
        Ok(stmt.query_row([key], read_record).optional()?)
    }

    /// # Errors
    /// The read fails.
    pub fn get(&self, id: &str) -> Result<Option<ActionRecord>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM actions WHERE id = ?1"))?;
        Ok(stmt.query_row([id], read_record).optional()?)
    }

    /// Non-denied decisions of a plugin for a capability since `since_us` (undos aside), counted
    /// up to `cap`: its budget use. Reads only the spent-budget index, so the cost stays a few
    /// µs however many denied calls the hour holds (a plugin past its budget keeps calling).
    ///
    /// # Errors
    /// The read fails.
    pub fn budget_used(
        &self,
        plugin: &str,
        capability: &str,
        since_us: i64,
        cap: u32,
    ) -> Result<u32> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT COUNT(*) FROM (SELECT 1 FROM actions WHERE plugin = ?1 AND capability = ?2
               AND decided_us >= ?3 AND decided_status != 'denied' AND undo_of IS NULL LIMIT ?4)",
        )?;
        let n: i64 =
            stmt.query_row(params![plugin, capability, since_us, cap], |row| row.get(0))?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Records a decided action and commits it; returns its id.
    ///
    /// # Errors
    /// The write fails.
    pub fn insert(&self, action: &NewAction<'_>) -> Result<String> {
        insert_on(&self.conn(), action)
    }

    /// Records a batch's decisions, made by the plugin version (`plugin`, `version`,
    /// `sha256`) whose batch it was, and commits them in one transaction (all or none).
    ///
    /// # Errors
    /// The write fails; nothing is recorded.
    pub fn insert_decided(
        &self,
        plugin: &str,
        version: &str,
        sha256: &str,
        actions: &[DecidedAction],
    ) -> Result<()> {
        if actions.is_empty() {
            return Ok(());
        }
        let conn = self.conn();
        let created_at = trailwarden_store::now_rfc3339();
        // Each row is hashed from the values it binds and the head written once, rather
        // than each row read back, hashed and its link and the head updated (a batch's
        // denied notifications are hundreds of rows).
        trailwarden_store::chain::appending(&conn, &ACTIONS_CHAIN, |links| {
            for action in actions {
                let action_row = action.as_new(plugin, version, sha256);
                insert_linked(
                    &conn,
                    &action_row,
                    (&action.id, action.decided_us, &created_at),
                    links,
                )?;
            }
            Ok(())
        })
    }

    /// Lists actions, newest first, optionally of one status.
    ///
    /// # Errors
    /// The read fails.
    pub fn list(&self, status: Option<Status>, limit: Option<usize>) -> Result<Vec<ActionRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM actions WHERE (?1 IS NULL OR status = ?1)
             ORDER BY decided_us DESC, id DESC LIMIT ?2"
        ))?;
        let limit = limit.map_or(-1, |l| l as i64);
        let rows = stmt.query_map(params![status.map(Status::as_str), limit], read_record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Claims the next action due for execution (accepted with its next attempt due, or
    /// running under a lease that ran out: its executor died), marking it running under
    /// this handle's lease, so that two executors (or a CLI and a daemon) never run it both.
    ///
    /// # Errors
    /// The read or write fails.
    pub fn claim_due(&self, now_s: i64) -> Result<Option<ActionRecord>> {
        let conn = self.conn();
        let id: Option<String> = conn
            .query_row(
                "UPDATE actions SET status = 'running', lease_owner = ?2, lease_until = ?3
                 WHERE id = (SELECT id FROM actions
                             WHERE (status = 'accepted' AND next_attempt_at <= ?1)
                                OR (status = 'running' AND COALESCE(lease_until, 0) < ?1)
                             ORDER BY decided_us LIMIT 1)
                 RETURNING id",
                params![now_s, &*self.owner, now_s + LEASE_S],
                |row| row.get(0),
            )
            .optional()?;
        drop(conn);
        match id {
            Some(id) => self.get(&id),
            None => Ok(None),
        }
    }

    /// Claims one given action if it is accepted.
    ///
    /// # Errors
    /// The write fails.
    pub fn claim(&self, id: &str) -> Result<bool> {
        let now = now_us() / 1_000_000;
        let n = self.conn().execute(
            "UPDATE actions SET status = 'running', lease_owner = ?2, lease_until = ?3
             WHERE id = ?1 AND (status = 'accepted'
                   OR (status = 'running' AND COALESCE(lease_until, 0) < ?4))",
            params![id, &*self.owner, now + LEASE_S, now],
        )?;
        Ok(n == 1)
    }

    /// Extends this handle's lease on a running action; false if it holds none there.
    ///
    /// # Errors
    /// The write fails.
    pub fn renew_lease(&self, id: &str) -> Result<bool> {
        let until = now_us() / 1_000_000 + LEASE_S;
        let n = self.conn().execute(
            "UPDATE actions SET lease_until = ?3
             WHERE id = ?1 AND status = 'running' AND lease_owner = ?2",
            params![id, &*self.owner, until],
        )?;
        Ok(n == 1)
    }

    /// Actions waiting for an executor now or later (accepted or running).
    ///
    /// # Errors
    /// The read fails.
    pub fn outstanding(&self) -> Result<u64> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM actions WHERE status IN ('accepted', 'running')",
            [],
            |row| row.get(0),
        )?;
        Ok(n as u64)
    }

    /// How many actions there are in each status (for the daemon's summary line).
    ///
    /// # Errors
    /// The read fails.
    pub fn status_counts(&self) -> Result<std::collections::BTreeMap<String, u64>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT status, COUNT(*) FROM actions GROUP BY status")?;
        let rows = stmt.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// After a crash, actions left running go back to accepted once their lease has run
    /// out (their executor died); an action another live executor holds (a concurrent
    /// `actions run`, the daemon) keeps running there. Executions are idempotent where AWS
    /// allows, so a rare second run is harmless.
    ///
    /// # Errors
    /// The write fails.
    pub fn requeue_running(&self) -> Result<usize> {
        self.requeue_expired(now_us() / 1_000_000)
    }

    /// [`Outbox::requeue_running`] as of `now_s`.
    ///
    /// # Errors
    /// The write fails.
    pub fn requeue_expired(&self, now_s: i64) -> Result<usize> {
        Ok(self.conn().execute(
            "UPDATE actions SET status = 'accepted', next_attempt_at = 0,
                 lease_owner = NULL, lease_until = NULL
             WHERE status = 'running' AND COALESCE(lease_until, 0) < ?1",
            [now_s],
        )?)
    }

    /// Records a successful execution.
    ///
    /// # Errors
    /// The write fails.
    pub fn succeeded(
        &self,
        id: &str,
        request_id: Option<&str>,
        inverse: Option<&Request>,
    ) -> Result<()> {
        let inverse = inverse.map(serde_json::to_string).transpose()?;
        self.conn().execute(
            "UPDATE actions SET status = 'succeeded', attempts = attempts + 1, request_id = ?2,
                 inverse = ?3, executed_at = ?4, error = NULL,
                 lease_owner = NULL, lease_until = NULL WHERE id = ?1",
            params![id, request_id, inverse, trailwarden_store::now_rfc3339()],
        )?;
        Ok(())
    }

    /// Records a failed attempt: retried at `retry_at_s`, or final when `None`.
    ///
    /// # Errors
    /// The write fails.
    pub fn attempt_failed(
        &self,
        id: &str,
        error: &str,
        request_id: Option<&str>,
        retry_at_s: Option<i64>,
    ) -> Result<()> {
        match retry_at_s {
            Some(at) => self.conn().execute(
                "UPDATE actions SET status = 'accepted', attempts = attempts + 1, error = ?2,
                     request_id = ?3, next_attempt_at = ?4,
                     lease_owner = NULL, lease_until = NULL WHERE id = ?1",
                params![id, error, request_id, at],
            )?,
            None => self.conn().execute(
                "UPDATE actions SET status = 'failed', attempts = attempts + 1, error = ?2,
                     request_id = ?3, executed_at = ?4,
                     lease_owner = NULL, lease_until = NULL WHERE id = ?1",
                params![id, error, request_id, trailwarden_store::now_rfc3339()],
            )?,
        };
        Ok(())
    }

    /// A failed action goes back to accepted, due now; false if it was not failed. Its
    /// attempts keep counting, so a retry gets one attempt more than the executor gave it.
    ///
    /// # Errors
    /// The write fails.
    pub fn retry_failed(&self, id: &str) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE actions SET status = 'accepted', next_attempt_at = 0, executed_at = NULL
             WHERE id = ?1 AND status = 'failed'",
            [id],
        )?;
        Ok(n == 1)
    }

    /// Moves an action from one status to another; false if it was not in `from`.
    ///
    /// # Errors
    /// The write fails.
    pub fn transition(&self, id: &str, from: Status, to: Status) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE actions SET status = ?3 WHERE id = ?1 AND status = ?2",
            params![id, from.as_str(), to.as_str()],
        )?;
        Ok(n == 1)
    }

    /// Records who did what to an action, and when.
    ///
    /// # Errors
    /// The write fails.
    pub fn log(&self, action_id: &str, actor: &str, what: &str, detail: &str) -> Result<()> {
        let conn = self.conn();
        trailwarden_store::chain::atomically(&conn, || {
            conn.execute(
                "INSERT INTO action_log (action_id, at, actor, what, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![action_id, trailwarden_store::now_rfc3339(), actor, what, detail],
            )?;
            trailwarden_store::chain::seal(&conn, &ACTION_LOG_CHAIN, conn.last_insert_rowid())
        })
    }

    /// Walks the decisions chain and the action log chain (see [`trailwarden_store::chain`]), then checks
    /// that no final decision (denied, dry run) has since changed its status.
    ///
    /// # Errors
    /// The tables cannot be read.
    pub fn verify_chains(&self) -> Result<Vec<trailwarden_store::chain::Verdict>> {
        let conn = self.conn();
        let mut verdicts = vec![
            trailwarden_store::chain::verify(&conn, &ACTIONS_CHAIN)?,
            trailwarden_store::chain::verify(&conn, &ACTION_LOG_CHAIN)?,
        ];
        let reopened: Option<(String, String, String)> = conn
            .query_row(
                "SELECT id, decided_status, status FROM actions
                 WHERE decided_status IN ('denied', 'dry_run', 'suppressed') AND status != decided_status
                 ORDER BY chain_seq LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        if let Some((id, decided, status)) = reopened {
            verdicts[0] = trailwarden_store::chain::Verdict::Broken(format!(
                "actions row {id} was decided {decided} (final) but now says {status}"
            ));
        }
        Ok(verdicts)
    }

    /// The log of one action: (at, actor, what, detail).
    ///
    /// # Errors
    /// The read fails.
    pub fn history(&self, action_id: &str) -> Result<Vec<(String, String, String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT at, actor, what, detail FROM action_log WHERE action_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([action_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Records a decided action on `conn` (inside the caller's transaction, if any); returns
/// its id.
///
/// # Errors
/// The write fails.
pub(crate) fn insert_on(conn: &Connection, action: &NewAction<'_>) -> Result<String> {
    let id = new_action_id(action.idempotency_key);
    trailwarden_store::chain::atomically(conn, || insert_row(conn, action, &id, now_us()))?;
    Ok(id)
}

/// A decided action's columns as inserted, in [`ACTIONS_CHAIN`]'s content order (the
/// status is also the decision's `decided_status`).
struct ActionRow<'a> {
    action: &'a NewAction<'a>,
    id: &'a str,
    created_at: &'a str,
    request: String,
    status: &'static str,
    decided_us: i64,
}

/// The columns a decided action is inserted with, and their values (`?14`, the status, is
/// also `decided_status`).
macro_rules! action_columns {
    () => {
        "id, idempotency_key, created_at, plugin, plugin_version, plugin_sha256, event_id,
         capability, request, account, region, resource, mode, status, decided_status, reason,
         received_us, decided_us, undo_of"
    };
}
macro_rules! action_values {
    () => {
        "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?15, ?16, ?17, ?18"
    };
}
/// An action sealed after its insert ([`insert_row`]).
const INSERT_ACTION: &str = concat!(
    "INSERT INTO actions (",
    action_columns!(),
    ") VALUES (",
    action_values!(),
    ")"
);
/// An action inserted with its link ([`insert_linked`]).
const INSERT_LINKED_ACTION: &str = concat!(
    "INSERT INTO actions (",
    action_columns!(),
    ", chain_seq, chain_prev, chain_hash) VALUES (",
    action_values!(),
    ", ?19, ?20, ?21)"
);

impl<'a> ActionRow<'a> {
    fn new(
        action: &'a NewAction<'a>,
        id: &'a str,
        created_at: &'a str,
        decided_us: i64,
    ) -> Result<Self> {
        Ok(ActionRow {
            action,
            id,
            created_at,
            request: serde_json::to_string(action.request)?,
            status: action.status.as_str(),
            decided_us,
        })
    }

    /// The values bound, `?1` to `?18`.
    fn values(&self) -> [&dyn rusqlite::ToSql; 18] {
        let a = self.action;
        [
            &self.id,
            &a.idempotency_key,
            &self.created_at,
            &a.plugin,
            &a.plugin_version,
            &a.plugin_sha256,
            &a.event_id,
            &a.capability,
            &self.request,
            &a.account,
            &a.region,
            &a.resource,
            &a.mode,
            &self.status,
            &a.reason,
            &a.received_us,
            &self.decided_us,
            &a.undo_of,
        ]
    }

    /// The chain's content, as [`Self::values`] binds it (`decided_status` in the status's
    /// place).
    fn content(&self) -> [trailwarden_store::chain::Cell<'_>; 18] {
        use trailwarden_store::chain::Cell::{Integer, Text};
        let a = self.action;
        [
            Text(Some(self.id)),
            Text(Some(a.idempotency_key)),
            Text(Some(self.created_at)),
            Text(Some(a.plugin)),
            Text(Some(a.plugin_version)),
            Text(Some(a.plugin_sha256)),
            Text(Some(a.event_id)),
            Text(Some(a.capability)),
            Text(Some(&self.request)),
            Text(Some(a.account)),
            Text(Some(a.region)),
            Text(Some(a.resource)),
            Text(Some(a.mode)),
            Text(Some(self.status)),
            Text(a.reason),
            Integer(a.received_us),
            Integer(Some(self.decided_us)),
            Text(a.undo_of),
        ]
    }
}

/// Inserts one decided action and seals it into the chain (inside the caller's transaction).
fn insert_row(conn: &Connection, action: &NewAction<'_>, id: &str, decided_us: i64) -> Result<()> {
    let created_at = trailwarden_store::now_rfc3339();
    let row = ActionRow::new(action, id, &created_at, decided_us)?;
    conn.prepare_cached(INSERT_ACTION)?
        .execute(&row.values()[..])?;
    trailwarden_store::chain::seal(conn, &ACTIONS_CHAIN, conn.last_insert_rowid())
}

/// [`insert_row`] with the row's link computed from the values bound (never read back):
/// (`id`, `decided_us`, `created_at`) are the row's own; `links` is the actions chain's,
/// under the write lock.
fn insert_linked(
    conn: &Connection,
    action: &NewAction<'_>,
    (id, decided_us, created_at): (&str, i64, &str),
    links: &mut trailwarden_store::chain::Links,
) -> Result<()> {
    let row = ActionRow::new(action, id, created_at, decided_us)?;
    let (seq, hash) = links.next_cells(&row.content());
    let prev = links.head_hash();
    let mut values = row.values().to_vec();
    values.extend([&seq as &dyn rusqlite::ToSql, &prev, &hash]);
    conn.prepare_cached(INSERT_LINKED_ACTION)?
        .execute(&values[..])?;
    links.advance(seq, hash);
    Ok(())
}

/// A decision made during a batch and not yet recorded: the broker keeps a batch's
/// decisions and records them together ([`Outbox::insert_decided`]), under the plugin
/// version whose batch it is.
#[derive(Debug, Clone)]
pub struct DecidedAction {
    pub id: String,
    pub idempotency_key: String,
    pub event_id: String,
    pub capability: &'static str,
    pub request: StoredRequest,
    pub account: String,
    pub region: String,
    pub resource: String,
    pub mode: &'static str,
    pub status: Status,
    pub reason: Option<String>,
    pub received_us: Option<i64>,
    /// When it was decided (its budget hour counts from then, not from the commit).
    pub decided_us: i64,
}

impl DecidedAction {
    /// A fresh action id for a decision under `idempotency_key`, made now.
    pub fn new_id(idempotency_key: &str) -> String {
        new_action_id(idempotency_key)
    }

    fn as_new<'a>(&'a self, plugin: &'a str, version: &'a str, sha256: &'a str) -> NewAction<'a> {
        NewAction {
            idempotency_key: &self.idempotency_key,
            plugin,
            plugin_version: version,
            plugin_sha256: sha256,
            event_id: &self.event_id,
            capability: self.capability,
            request: &self.request,
            account: &self.account,
            region: &self.region,
            resource: &self.resource,
            mode: self.mode,
            status: self.status,
            reason: self.reason.as_deref(),
            received_us: self.received_us,
            undo_of: None,
        }
    }
}

/// Appends to the action log on `conn` (inside the caller's transaction, if any).
///
/// # Errors
/// The write fails.
pub(crate) fn log_on(
    conn: &Connection,
    action_id: &str,
    actor: &str,
    what: &str,
    detail: &str,
) -> Result<()> {
    trailwarden_store::chain::atomically(conn, || {
        conn.execute(
            "INSERT INTO action_log (action_id, at, actor, what, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![action_id, trailwarden_store::now_rfc3339(), actor, what, detail],
        )?;
        trailwarden_store::chain::seal(conn, &ACTION_LOG_CHAIN, conn.last_insert_rowid())
    })
}

/// The notification groups' tables (`notify::groups`), created with the outbox's: a group
/// changes in the transactions that change its actions.
const NOTIFY_GROUPS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notify_groups (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    -- Seconds since the epoch: the group takes findings until then; its message is due then.
    closes_at INTEGER NOT NULL,
    count INTEGER NOT NULL,
    first_action TEXT NOT NULL,
    message_action TEXT,
    -- NULL until the message is due, then 'send' or 'held' (decided once).
    decision TEXT
);
CREATE INDEX IF NOT EXISTS notify_groups_open ON notify_groups (target, dedup_key, closes_at);
CREATE TABLE IF NOT EXISTS notify_members (
    action_id TEXT PRIMARY KEY,
    group_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS notify_windows (
    target TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    window_s INTEGER NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    held_findings INTEGER NOT NULL DEFAULT 0,
    held_messages INTEGER NOT NULL DEFAULT 0,
    digest_action TEXT,
    PRIMARY KEY (target, window_start)
);
";
/// The outbox's tables (and the notification groups kept beside them) as a store of the
/// shared database: the `IF NOT EXISTS` schema of earlier releases (their tables kept), then
/// the columns and index added since, each checking what a table made before it lacks.
const STORE_SCHEMA: trailwarden_store::Schema = trailwarden_store::Schema {
    store: "outbox",
    migrations: &[
        trailwarden_store::Migration::Sql(SCHEMA),
        trailwarden_store::Migration::Sql(NOTIFY_GROUPS_SCHEMA),
        trailwarden_store::Migration::Rust(add_decided_status),
        trailwarden_store::Migration::Rust(add_lease_columns),
        trailwarden_store::Migration::Rust(add_budget_index),
    ],
    synchronous: trailwarden_store::Synchronous::Normal,
    mirrors_user_version: false,
};

/// `decided_status`: the status an action was decided with (chained; `status` moves on).
/// Rows from before the column existed take their status as it stands.
fn add_decided_status(conn: &Connection) -> rusqlite::Result<()> {
    let present: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM pragma_table_info('actions') WHERE name = 'decided_status'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    if present.is_none() {
        conn.execute_batch(
            "ALTER TABLE actions ADD COLUMN decided_status TEXT;
             UPDATE actions SET decided_status = status;",
        )?;
    }
    Ok(())
}

/// The budget check's index holds only the decisions that spend budget, so counting them
/// does not walk the denied calls of the hour (a plugin past its budget keeps calling). It
/// replaces the index over every decision of earlier versions.
fn add_budget_index(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "DROP INDEX IF EXISTS actions_by_budget;
         CREATE INDEX IF NOT EXISTS actions_spending_budget
           ON actions (plugin, capability, decided_us)
           WHERE decided_status != 'denied' AND undo_of IS NULL;",
    )?;
    Ok(())
}

/// Adds the lease columns to an outbox made before leases existed.
fn add_lease_columns(conn: &Connection) -> rusqlite::Result<()> {
    let has_lease: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('actions') WHERE name = 'lease_owner'",
        [],
        |row| row.get(0),
    )?;
    if !has_lease {
        conn.execute_batch(
            "ALTER TABLE actions ADD COLUMN lease_owner TEXT;
             ALTER TABLE actions ADD COLUMN lease_until INTEGER;",
        )?;
    }
    Ok(())
}

fn read_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<ActionRecord> {
    let request: String = row.get(7)?;
    let inverse: Option<String> = row.get(18)?;
    Ok(ActionRecord {
        id: row.get(0)?,
        created_at: row.get(1)?,
        plugin: row.get(2)?,
        plugin_version: row.get(3)?,
        plugin_sha256: row.get(4)?,
        event_id: row.get(5)?,
        capability: row.get(6)?,
        // Rows of earlier releases read the same (the serialisation has not changed); a
        // text that is not JSON at all is kept as null, never executed.
        request: serde_json::from_str(&request)
            .unwrap_or(StoredRequest::Other(serde_json::Value::Null)),
        account: row.get(8)?,
        region: row.get(9)?,
        resource: row.get(10)?,
        mode: row.get(11)?,
        status: row.get(12)?,
        reason: row.get(13)?,
        attempts: row.get::<_, i64>(14)? as u32,
        request_id: row.get(15)?,
        error: row.get(16)?,
        executed_at: row.get(17)?,
        inverse: inverse.and_then(|t| serde_json::from_str(&t).ok()),
        undo_of: row.get(19)?,
        received_us: row.get(20)?,
        decided_us: row.get(21)?,
    })
}

/// Action ids are short, readable, and derived from the idempotency key plus time, so two
/// decisions never collide even for the same key (the key column is unique anyway).
fn new_action_id(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{key}:{}", now_us()));
    format!("act-{}", &hex::encode(digest)[..12])
}

/// Microseconds since the epoch.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action<'a>(key: &'a str, request: &'a StoredRequest, status: Status) -> NewAction<'a> {
        NewAction {
            idempotency_key: key,
            plugin: "p",
            plugin_version: "1",
            plugin_sha256: "sha",
            event_id: "e1",
            capability: "iam.disable-access-key",
            request,
            account: "111122223333",
            region: "us-east-1",
            resource: "arn:aws:iam::111122223333:user/bob",
            mode: "enforce",
            status,
            reason: None,
            received_us: Some(1),
            undo_of: None,
        }
    }

    #[test]
    fn a_batchs_decisions_are_links_of_the_actions_chain_as_single_inserts_are() {
        use trailwarden_store::chain::Verdict;
        let outbox = Outbox::in_memory().unwrap();
        let placeholder = StoredRequest::Other(serde_json::json!({"to": "team", "n": 1}));
        let decided = |n: u32, reason: Option<&str>, received_us: Option<i64>| {
            let key = format!("batch-{n}");
            DecidedAction {
                id: DecidedAction::new_id(&key),
                idempotency_key: key,
                event_id: format!("event \"{n}\" \u{e9}"),
                capability: "notify.send",
                request: placeholder.clone(),
                account: "111122223333".into(),
                region: "us-east-1".into(),
                resource: "team".into(),
                mode: "dry-run",
                status: Status::Denied,
                reason: reason.map(str::to_owned),
                received_us,
                decided_us: 1_700_000_000_000_000 + i64::from(n),
            }
        };
        outbox
            .insert(&action("single-1", &placeholder, Status::Succeeded))
            .unwrap();
        let batch = [
            decided(1, Some("over budget"), Some(5)),
            decided(2, None, None),
            decided(3, Some("line\nbreak"), Some(-1)),
        ];
        outbox.insert_decided("p", "1", "sha", &batch).unwrap();
        outbox
            .insert(&action("single-2", &placeholder, Status::Denied))
            .unwrap();
        outbox
            .insert_decided("p", "1", "sha", &[decided(4, None, Some(7))])
            .unwrap();
        let actions = &outbox.verify_chains().unwrap()[0];
        assert!(
            matches!(actions, Verdict::Intact { rows: 6, .. }),
            "{actions:?}"
        );
        // A decision altered afterwards shows.
        outbox
            .conn()
            .execute(
                "UPDATE actions SET reason = 'fine' WHERE idempotency_key = 'batch-2'",
                [],
            )
            .unwrap();
        let actions = &outbox.verify_chains().unwrap()[0];
        assert!(matches!(actions, Verdict::Broken(_)), "{actions:?}");
    }

    #[test]
    fn a_row_an_earlier_release_wrote_reads_back_as_its_typed_request() {
        let outbox = Outbox::in_memory().unwrap();
        let placeholder = StoredRequest::Other(serde_json::Value::Null);
        let granted = outbox
            .insert(&action("old-1", &placeholder, Status::Succeeded))
            .unwrap();
        let refused = outbox
            .insert(&action("old-2", &placeholder, Status::Denied))
            .unwrap();
        // The text earlier releases wrote, put in place as they did.
        let rewrite = |id: &str, request: &str, inverse: Option<&str>| {
            outbox
                .conn()
                .execute(
                    "UPDATE actions SET request = ?2, inverse = ?3 WHERE id = ?1",
                    params![id, request, inverse],
                )
                .unwrap();
        };
        rewrite(
            &granted,
            r#"{"kind":"aws","action":{"action":"disable-access-key","user_name":"bob","access_key_id":"AKIAEXAMPLE"}}"#,
            Some(
                r#"{"kind":"aws","action":{"action":"enable-access-key","user_name":"bob","access_key_id":"AKIAEXAMPLE"}}"#,
            ),
        );
        rewrite(
            &refused,
            r#"{"kind":"ungranted","args":{"user-name":"bob","access-key-id":"AKIAEXAMPLE"}}"#,
            None,
        );
        let record = outbox.get(&granted).unwrap().unwrap();
        let bob = |enable: bool| {
            let (user_name, access_key_id) = ("bob".to_owned(), "AKIAEXAMPLE".to_owned());
            let action = if enable {
                aws_actions::Action::EnableAccessKey {
                    user_name,
                    access_key_id,
                }
            } else {
                aws_actions::Action::DisableAccessKey {
                    user_name,
                    access_key_id,
                }
            };
            Request::Aws { action }
        };
        assert_eq!(record.request, StoredRequest::Request(bob(false)));
        assert_eq!(record.inverse, Some(bob(true)));
        let record = outbox.get(&refused).unwrap().unwrap();
        assert_eq!(
            record.request,
            StoredRequest::Refused {
                kind: super::super::request::Refusal::Ungranted,
                args: serde_json::json!({"user-name": "bob", "access-key-id": "AKIAEXAMPLE"}),
            }
        );
        assert_eq!(record.request.request(), None);
    }

    #[test]
    fn an_idempotency_key_is_recorded_once() {
        let outbox = Outbox::in_memory().unwrap();
        let request = StoredRequest::Other(serde_json::json!({"x": 1}));
        let id = outbox
            .insert(&action("k1", &request, Status::Accepted))
            .unwrap();
        assert!(outbox
            .insert(&action("k1", &request, Status::Accepted))
            .is_err());
        assert_eq!(outbox.by_key("k1").unwrap().unwrap().id, id);
    }

    #[test]
    fn claiming_is_exclusive_and_failures_retry_then_stop() {
        let outbox = Outbox::in_memory().unwrap();
        let request = StoredRequest::Other(serde_json::json!({}));
        let id = outbox
            .insert(&action("k", &request, Status::Accepted))
            .unwrap();
        let claimed = outbox.claim_due(0).unwrap().unwrap();
        assert_eq!(claimed.id, id);
        assert!(outbox.claim_due(0).unwrap().is_none(), "already running");
        outbox
            .attempt_failed(&id, "throttled", None, Some(100))
            .unwrap();
        assert!(outbox.claim_due(99).unwrap().is_none(), "not due yet");
        assert!(outbox.claim_due(100).unwrap().is_some());
        outbox
            .attempt_failed(&id, "AccessDenied", Some("req-1"), None)
            .unwrap();
        let record = outbox.get(&id).unwrap().unwrap();
        assert_eq!((record.status.as_str(), record.attempts), ("failed", 2));
        assert_eq!(record.request_id.as_deref(), Some("req-1"));
    }

    #[test]
    fn budget_counts_granted_decisions_only() {
        let outbox = Outbox::in_memory().unwrap();
        let request = StoredRequest::Other(serde_json::json!({}));
        outbox
            .insert(&action("a", &request, Status::Accepted))
            .unwrap();
        outbox
            .insert(&action("b", &request, Status::DryRun))
            .unwrap();
        outbox
            .insert(&action("c", &request, Status::Denied))
            .unwrap();
        let used = |since, cap| {
            outbox
                .budget_used("p", "iam.disable-access-key", since, cap)
                .unwrap()
        };
        assert_eq!(used(0, 10), 2);
        assert_eq!(used(now_us() + 1, 10), 0);
        // Counting stops at the budget: past it, the answer is "spent" whatever the count.
        assert_eq!(used(0, 1), 1);
    }

    #[test]
    fn the_budget_index_leaves_out_denied_calls() {
        let outbox = Outbox::in_memory().unwrap();
        let conn = outbox.conn();
        let mut explain = conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM (SELECT 1 FROM actions
                   WHERE plugin = 'p' AND capability = 'c' AND decided_us >= 0
                   AND decided_status != 'denied' AND undo_of IS NULL LIMIT 5)",
            )
            .unwrap();
        let plan: Vec<String> = explain
            .query_map([], |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("actions_spending_budget"), "{plan}");
    }

    #[test]
    fn a_held_action_is_not_requeued_until_its_lease_runs_out() {
        // Two handles on one database file: a CLI's `actions run` and a starting daemon.
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("audit.db");
        let (cli, daemon) = (Outbox::open(&db).unwrap(), Outbox::open(&db).unwrap());
        assert_ne!(cli.owner(), daemon.owner());
        let request = StoredRequest::Other(serde_json::json!({}));
        let id = cli
            .insert(&action("k", &request, Status::Accepted))
            .unwrap();
        assert!(cli.claim(&id).unwrap());
        // The daemon starts meanwhile: the action stays with the CLI.
        assert_eq!(daemon.requeue_running().unwrap(), 0);
        assert_eq!(daemon.get(&id).unwrap().unwrap().status, Status::Running);
        let now = now_us() / 1_000_000;
        assert!(daemon.claim_due(now).unwrap().is_none());
        assert!(!daemon.claim(&id).unwrap());
        // The holder renews; another handle cannot.
        assert!(cli.renew_lease(&id).unwrap());
        assert!(!daemon.renew_lease(&id).unwrap());
        // The CLI dies: once the lease has run out the action is the daemon's to run.
        let later = now + LEASE_S + 1;
        assert_eq!(daemon.claim_due(later).unwrap().unwrap().id, id);
        assert!(!cli.renew_lease(&id).unwrap(), "the lease moved on");
        // And a restart finds an expired claim to requeue.
        assert_eq!(daemon.requeue_expired(later + LEASE_S + 1).unwrap(), 1);
        assert_eq!(daemon.get(&id).unwrap().unwrap().status, Status::Accepted);
    }
}
