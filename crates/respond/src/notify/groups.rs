//! Grouping and rate limits, durable in SQLite beside the outbox.
//!
//! A plugin's `notify.send` to a target that groups is *absorbed* when an executor runs it:
//! in one transaction it joins the open group of its (target, dedup key) or opens one, and
//! a group's opening queues its message action (`notify.message`) due when the window
//! closes; the `notify.send` action is marked succeeded in the same transaction. When the
//! message comes due, the rate limit decides once (the decision is stored, so a retry or a
//! restart never decides again): send, or hold back, counting the group's findings in its
//! rate window and queueing that window's one digest (`notify.digest`) at the window's end.
//! A crash anywhere leaves either the old state or the new, never half of it.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::notify_target::NotifyTarget;
use crate::outbox::{insert_on, log_on, now_us, ActionRecord, NewAction, Outbox, Status};
use crate::request::{Request, StoredRequest, NOTIFY_DIGEST, NOTIFY_MESSAGE};

/// Closed groups and windows are kept this long (for `actions show` and the digest), then
/// deleted.
const KEEP_S: i64 = 7 * 86_400;

/// What absorbing a finding did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absorbed {
    /// The message action of the group the finding joined.
    pub message: String,
    /// The group's count after it joined.
    pub count: u64,
}

/// Ends a running action held by this outbox handle as succeeded, with a log line, in the
/// caller's transaction; false when the action is no longer ours (its lease ran out).
fn finish_on(
    conn: &Connection,
    owner: &str,
    record: &ActionRecord,
    what: &str,
    detail: &str,
) -> Result<bool> {
    let n = conn.execute(
        "UPDATE actions SET status = 'succeeded', attempts = attempts + 1, error = NULL,
             executed_at = ?3, lease_owner = NULL, lease_until = NULL
         WHERE id = ?1 AND status = 'running' AND lease_owner = ?2",
        params![record.id, owner, trailwarden_store::now_rfc3339()],
    )?;
    if n == 1 {
        log_on(conn, &record.id, "executor", what, detail)?;
    }
    Ok(n == 1)
}

/// Marks a running action succeeded without sending anything (e.g. below the target's
/// severity floor), saying why in its log.
///
/// # Errors
/// The outbox cannot be written.
pub fn finish_unsent(
    outbox: &Outbox,
    record: &ActionRecord,
    what: &str,
    detail: &str,
) -> Result<()> {
    let mut conn = outbox.conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    finish_on(&tx, outbox.owner(), record, what, detail)?;
    tx.commit()?;
    Ok(())
}

/// Absorbs the running `notify.send` action `record` into the open group of
/// (`target_name`, `dedup_key`), or opens one whose message is due in the target's
/// window. `None` when the action is no longer this handle's to finish.
///
/// # Errors
/// The outbox cannot be read or written.
pub fn absorb(
    outbox: &Outbox,
    record: &ActionRecord,
    target_name: &str,
    target: &NotifyTarget,
    dedup_key: &str,
    now_s: i64,
) -> Result<Option<Absorbed>> {
    let mut conn = outbox.conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let open: Option<(i64, i64, String)> = tx
        .query_row(
            "SELECT id, count, COALESCE(message_action, '') FROM notify_groups
             WHERE target = ?1 AND dedup_key = ?2 AND closes_at > ?3 AND decision IS NULL
             ORDER BY id DESC LIMIT 1",
            params![target_name, dedup_key, now_s],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let (group, count, message) = match open {
        Some((group, count, message)) => {
            tx.execute(
                "UPDATE notify_groups SET count = count + 1 WHERE id = ?1",
                [group],
            )?;
            (group, count as u64 + 1, message)
        }
        None => {
            let closes_at = now_s + target.group_window_s as i64;
            tx.execute(
                "INSERT INTO notify_groups (target, dedup_key, opened_at, closes_at, count, first_action)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5)",
                params![target_name, dedup_key, now_s, closes_at, record.id],
            )?;
            let group = tx.last_insert_rowid();
            let request = StoredRequest::Request(Request::NotifyMessage {
                target: target_name.to_owned(),
                group,
            });
            let message = queue_on(
                &tx,
                &NewAction {
                    idempotency_key: &format!("notify-message:{}", record.id),
                    plugin: &record.plugin,
                    plugin_version: &record.plugin_version,
                    plugin_sha256: &record.plugin_sha256,
                    event_id: &record.event_id,
                    capability: NOTIFY_MESSAGE,
                    request: &request,
                    account: &record.account,
                    region: &record.region,
                    resource: &format!("notify:{target_name}"),
                    mode: "enforce",
                    status: Status::Accepted,
                    reason: Some("the message of a group of findings with one dedup key"),
                    received_us: record.received_us,
                    undo_of: None,
                },
                closes_at,
            )?;
            tx.execute(
                "UPDATE notify_groups SET message_action = ?2 WHERE id = ?1",
                params![group, message],
            )?;
            (group, 1, message)
        }
    };
    tx.execute(
        "INSERT OR IGNORE INTO notify_members (action_id, group_id) VALUES (?1, ?2)",
        params![record.id, group],
    )?;
    let detail = format!("grouped into message {message} ({count} so far)");
    if !finish_on(&tx, outbox.owner(), record, "grouped", &detail)? {
        return Ok(None); // dropped: rolled back
    }
    purge_old(&tx, now_s)?;
    tx.commit()?;
    Ok(Some(Absorbed { message, count }))
}

/// Inserts an accepted action due at `due_s`.
fn queue_on(conn: &Connection, action: &NewAction<'_>, due_s: i64) -> Result<String> {
    let id = insert_on(conn, action)?;
    conn.execute(
        "UPDATE actions SET next_attempt_at = ?2 WHERE id = ?1",
        params![id, due_s],
    )?;
    Ok(id)
}

fn purge_old(conn: &Connection, now_s: i64) -> Result<()> {
    let before = now_s - KEEP_S;
    conn.execute(
        "DELETE FROM notify_members WHERE group_id IN
           (SELECT id FROM notify_groups WHERE closes_at < ?1 AND decision IS NOT NULL)",
        [before],
    )?;
    conn.execute(
        "DELETE FROM notify_groups WHERE closes_at < ?1 AND decision IS NOT NULL",
        [before],
    )?;
    conn.execute(
        "DELETE FROM notify_windows WHERE window_start + window_s < ?1",
        [before],
    )?;
    Ok(())
}

/// What the rate limit decided for a group's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send it: the group's first `notify.send` action and how many findings it stands for.
    Send { first_action: String, count: u64 },
    /// Held back (and the message action already recorded as such).
    Held,
    /// The group is unknown, or the action is no longer this handle's.
    Gone,
}

/// Decides, once, whether the running message action `record` of `group` is sent or held
/// back under the target's `max_per_hour`; holding back counts the group in its rate
/// window and queues the window's digest. A decision already taken is returned as it was.
///
/// # Errors
/// The outbox cannot be read or written.
pub fn decide(
    outbox: &Outbox,
    record: &ActionRecord,
    group: i64,
    target_name: &str,
    target: &NotifyTarget,
) -> Result<Decision> {
    let mut conn = outbox.conn();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row: Option<(String, i64, i64, Option<String>)> = tx
        .query_row(
            "SELECT first_action, count, closes_at, decision FROM notify_groups WHERE id = ?1",
            [group],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()?;
    let Some((first_action, count, closes_at, decision)) = row else {
        return Ok(Decision::Gone);
    };
    let count = count as u64;
    let decision = match decision {
        Some(decision) => decision,
        None => {
            let decision = match target.max_per_hour {
                None => "send",
                Some(max) => {
                    // Windows start with the first message that needs one, so a burst is
                    // counted in one window rather than split at a clock boundary.
                    let window_s = target.rate_window_s as i64;
                    let window_start: i64 = tx
                        .query_row(
                            "SELECT window_start FROM notify_windows
                             WHERE target = ?1 AND window_start <= ?2 AND ?2 < window_start + window_s
                             ORDER BY window_start DESC LIMIT 1",
                            params![target_name, closes_at],
                            |row| row.get(0),
                        )
                        .optional()?
                        .unwrap_or(closes_at);
                    tx.execute(
                        "INSERT OR IGNORE INTO notify_windows (target, window_start, window_s)
                         VALUES (?1, ?2, ?3)",
                        params![target_name, window_start, window_s],
                    )?;
                    let sent: i64 = tx.query_row(
                        "SELECT sent FROM notify_windows WHERE target = ?1 AND window_start = ?2",
                        params![target_name, window_start],
                        |row| row.get(0),
                    )?;
                    if sent < i64::from(max) {
                        tx.execute(
                            "UPDATE notify_windows SET sent = sent + 1
                             WHERE target = ?1 AND window_start = ?2",
                            params![target_name, window_start],
                        )?;
                        "send"
                    } else {
                        hold_on(&tx, record, target_name, window_start, window_s, count)?;
                        "held"
                    }
                }
            };
            tx.execute(
                "UPDATE notify_groups SET decision = ?2 WHERE id = ?1",
                params![group, decision],
            )?;
            decision.to_owned()
        }
    };
    let result = if decision == "held" {
        let detail = format!("held back: {count} finding(s), over the target's max_per_hour");
        if !finish_on(&tx, outbox.owner(), record, "held_back", &detail)? {
            return Ok(Decision::Gone);
        }
        Decision::Held
    } else {
        Decision::Send {
            first_action,
            count,
        }
    };
    tx.commit()?;
    Ok(result)
}

/// Counts a held-back group in its rate window and queues the window's digest once.
fn hold_on(
    conn: &Connection,
    record: &ActionRecord,
    target_name: &str,
    window_start: i64,
    window_s: i64,
    count: u64,
) -> Result<()> {
    conn.execute(
        "UPDATE notify_windows SET held_findings = held_findings + ?3,
             held_messages = held_messages + 1
         WHERE target = ?1 AND window_start = ?2",
        params![target_name, window_start, count as i64],
    )?;
    let digest: Option<String> = conn.query_row(
        "SELECT digest_action FROM notify_windows WHERE target = ?1 AND window_start = ?2",
        params![target_name, window_start],
        |row| row.get(0),
    )?;
    if digest.is_none() {
        let request = StoredRequest::Request(Request::NotifyDigest {
            target: target_name.to_owned(),
            window_start,
        });
        let id = queue_on(
            conn,
            &NewAction {
                idempotency_key: &format!("notify-digest:{target_name}:{window_start}"),
                plugin: "trailwarden",
                plugin_version: env!("CARGO_PKG_VERSION"),
                plugin_sha256: "",
                event_id: "",
                capability: NOTIFY_DIGEST,
                request: &request,
                account: &record.account,
                region: &record.region,
                resource: &format!("notify:{target_name}"),
                mode: "enforce",
                status: Status::Accepted,
                reason: Some("the digest of the findings a rate limit held back"),
                received_us: Some(now_us()),
                undo_of: None,
            },
            window_start + window_s,
        )?;
        conn.execute(
            "UPDATE notify_windows SET digest_action = ?3 WHERE target = ?1 AND window_start = ?2",
            params![target_name, window_start, id],
        )?;
    }
    Ok(())
}

/// What one rate window held back: (findings, messages, window length in seconds).
///
/// # Errors
/// The read fails.
pub fn held_back(
    outbox: &Outbox,
    target_name: &str,
    window_start: i64,
) -> Result<Option<(u64, u64, i64)>> {
    let conn = outbox.conn();
    let row: Option<(i64, i64, i64)> = conn
        .query_row(
            "SELECT held_findings, held_messages, window_s FROM notify_windows
             WHERE target = ?1 AND window_start = ?2",
            params![target_name, window_start],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    Ok(row.map(|(f, m, w)| (f as u64, m as u64, w)))
}

/// The id of the recorded finding a notification is about, for the console link: the
/// audit store's `findings` row of (plugin, event, rule, dedup key), if recorded yet.
pub fn finding_id(outbox: &Outbox, plugin: &str, finding: &serde_json::Value) -> Option<i64> {
    let text = |key: &str| {
        finding
            .get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
    };
    let conn = outbox.conn();
    conn.query_row(
        "SELECT id FROM findings WHERE plugin = ?1 AND event_id = ?2 AND rule_id = ?3
           AND dedup_key = ?4 ORDER BY id LIMIT 1",
        params![plugin, text("event_id"), text("rule_id"), text("dedup_key")],
        |row| row.get(0),
    )
    .optional()
    .ok()
    .flatten()
}

/// A recorded finding by id: (plugin, rule id, dedup key), for `notify resolve`.
///
/// # Errors
/// The read fails (no `findings` table: not an audit database).
pub fn finding_by_id(outbox: &Outbox, id: i64) -> Result<Option<(String, String, String)>> {
    let conn = outbox.conn();
    Ok(conn
        .query_row(
            "SELECT plugin, rule_id, dedup_key FROM findings WHERE id = ?1",
            [id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?)
}
