//! The console's view of the audit database.
//!
//! Findings keep the facts the console filters and groups by (account, principal, ...)
//! inside their JSON context, which no index can reach. So the console keeps its own
//! tables beside them, filled from `findings` in id order (`catch_up`, before each read):
//! - `console_findings`: one row per finding with those facts as columns, its triage
//!   status, and an index per filter, so a filtered page is an index range at any size;
//! - `console_hourly`: finding counts per hour, dimension (rule, principal, account,
//!   region, source IP, `all`), value and severity, so the overview reads a few thousand
//!   rows for a day however many findings it covers;
//! - `console_daily`: the same counts per day without severity (dimensions but `all`), which
//!   the overview's breakdowns read for spans over 48 hours: at hourly grain a source IP or
//!   principal seen a few times an hour has nearly a row per finding;
//! - `console_text`: an FTS5 trigram index of the searched text (title, rule, principal,
//!   event id), so a text search reads the findings holding its trigrams, not every row;
//! - `finding_triage`: every status change with who, when and the note (never updated);
//! - `console_sessions`: the logged-in sessions ([`SessionStore`]), keyed by the SHA-256 of
//!   their id (the id itself is only ever in the browser's cookie).
//!
//! The three derived tables are written in the catch-up's transaction, so they always cover
//! the same findings; a database made before `console_daily` or `console_text` existed has
//! them filled from `console_hourly` and `console_findings` when first opened.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::{json, Value};

use crate::audit::StoredFinding;
use crate::finding_context::FindingContext;
use crate::report::queries::FindingFacts;
use crate::report::{severity_rank, SEVERITIES};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS console_findings (
    finding_id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    severity TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    rule_id TEXT NOT NULL,
    plugin TEXT NOT NULL,
    account TEXT,
    region TEXT,
    principal TEXT,
    principal_is_service INTEGER NOT NULL,
    source_ip TEXT,
    title TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'new'
);
CREATE INDEX IF NOT EXISTS console_findings_by_time ON console_findings (time);
CREATE INDEX IF NOT EXISTS console_findings_by_severity ON console_findings (severity, time);
CREATE INDEX IF NOT EXISTS console_findings_by_severity_rank
    ON console_findings (severity_rank, time);
CREATE INDEX IF NOT EXISTS console_findings_by_rule ON console_findings (rule_id, time);
CREATE INDEX IF NOT EXISTS console_findings_by_plugin ON console_findings (plugin, time);
CREATE INDEX IF NOT EXISTS console_findings_by_account ON console_findings (account, time);
CREATE INDEX IF NOT EXISTS console_findings_by_principal ON console_findings (principal, time);
CREATE INDEX IF NOT EXISTS console_findings_by_status ON console_findings (status, time);
CREATE INDEX IF NOT EXISTS console_findings_by_dedup ON console_findings (dedup_key);
CREATE TABLE IF NOT EXISTS console_hourly (
    hour TEXT NOT NULL,
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    severity TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (dimension, hour, value, severity)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS console_daily (
    dimension TEXT NOT NULL,
    day TEXT NOT NULL,
    value TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (dimension, day, value)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS console_text USING fts5(
    title, rule_id, principal, event_id,
    content = '', columnsize = 0, tokenize = 'trigram'
);
CREATE TABLE IF NOT EXISTS finding_triage (
    id INTEGER PRIMARY KEY,
    finding_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS finding_triage_by_finding ON finding_triage (finding_id, id);
CREATE TABLE IF NOT EXISTS console_sessions (
    id_sha256 BLOB PRIMARY KEY,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    credential TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS console_sessions_by_user ON console_sessions (user, created_ms);
"#;

/// Triage states a finding can be in.
pub const STATUSES: [&str; 4] = ["new", "acknowledged", "resolved", "suppressed"];
/// Findings indexed per transaction while catching up.
const CATCH_UP_BATCH: i64 = 10_000;
/// Longest triage note kept.
pub const MAX_NOTE_BYTES: usize = 4096;
/// The most rows a page of findings holds.
pub const MAX_PAGE: usize = 200;
/// A text search counts its matches up to this many; past it the list says "10,000+"
/// (`total_is_lower_bound`), and reading the page stops as soon as it is full.
pub const TEXT_TOTAL_CAP: u64 = 10_000;
/// The most event records a finding's answer holds (more than one only when copies with
/// other content carried its event's id).
const MAX_RECORDS_SHOWN: usize = 5;
/// Rows in each overview breakdown.
const TOP: usize = 10;
/// Dimensions of `console_hourly` besides `all`.
pub const DIMENSIONS: [&str; 5] = ["rule", "principal", "account", "region", "source_ip"];

/// One connection to the audit database for the console (reads are short; writes are
/// the catch-up and triage).
pub struct ConsoleDb {
    conn: Mutex<Connection>,
}

/// The findings list's filters, sort and page (all optional).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct FindingFilter {
    pub severity: Option<String>,
    pub rule: Option<String>,
    pub plugin: Option<String>,
    pub account: Option<String>,
    pub principal: Option<String>,
    pub region: Option<String>,
    pub source_ip: Option<String>,
    pub status: Option<String>,
    /// RFC 3339, on event time (inclusive).
    pub since: Option<String>,
    pub until: Option<String>,
    /// Substring of the title, rule, principal or event id.
    pub text: Option<String>,
    /// `time` (default), `severity`, `rule`.
    pub sort: Option<String>,
    /// `desc` (default) or `asc`.
    pub order: Option<String>,
    pub page: Option<usize>,
    pub per_page: Option<usize>,
}

/// A finding as listed.
#[derive(Debug, Clone, Serialize)]
pub struct FindingRow {
    pub id: i64,
    pub time: String,
    pub severity: String,
    pub rule_id: String,
    pub plugin: String,
    pub account: Option<String>,
    pub region: Option<String>,
    pub principal: Option<String>,
    pub source_ip: Option<String>,
    pub title: String,
    pub event_id: String,
    pub status: String,
}

/// One page of findings.
#[derive(Debug, Serialize)]
pub struct FindingPage {
    /// How many findings match; for a text search, at most [`TEXT_TOTAL_CAP`].
    pub total: u64,
    /// Whether more than `total` match (a text search past the cap: "10,000+").
    pub total_is_lower_bound: bool,
    pub page: usize,
    pub per_page: usize,
    pub findings: Vec<FindingRow>,
}

/// A triage change as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct TriageEntry {
    pub at: String,
    pub actor: String,
    pub status: String,
    pub note: String,
}

impl ConsoleDb {
    /// Opens the audit database at `path` and creates the console's tables if missing.
    ///
    /// # Errors
    /// The database cannot be opened or the tables created.
    pub fn open(path: &Path) -> Result<ConsoleDb> {
        // The findings table is the audit store's; create it (and the rest) if this runs first.
        drop(crate::audit::AuditStore::open(path)?);
        let conn = trailwarden_store::open(path, &STORE_SCHEMA)
            .with_context(|| format!("cannot open {} for the console", path.display()))?;
        let has_actions: i64 = conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'actions'",
            [],
            |r| r.get(0),
        )?;
        if has_actions > 0 {
            conn.execute_batch(
                "CREATE INDEX IF NOT EXISTS report_actions_by_event ON actions (event_id)",
            )?;
        }
        Ok(ConsoleDb {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Indexes the findings recorded since the last call; returns how many.
    ///
    /// # Errors
    /// The read or write fails.
    pub fn catch_up(&self) -> Result<u64> {
        let mut conn = self.conn();
        catch_up(&mut conn)
    }

    /// The highest finding id indexed.
    ///
    /// # Errors
    /// The read fails.
    pub fn last_id(&self) -> Result<i64> {
        let conn = self.conn();
        Ok(conn.query_row(
            "SELECT COALESCE(MAX(finding_id), 0) FROM console_findings",
            [],
            |r| r.get(0),
        )?)
    }

    /// A page of findings matching `filter`.
    ///
    /// # Errors
    /// A filter value is invalid, or the read fails.
    pub fn findings(&self, filter: &FindingFilter) -> Result<FindingPage> {
        let mut conn = self.conn();
        catch_up(&mut conn)?;
        let filters = where_clause(&conn, filter)?;
        let per_page = filter.per_page.unwrap_or(50).clamp(1, MAX_PAGE);
        let page = filter.page.unwrap_or(1).max(1);
        let order = match filter.order.as_deref() {
            None | Some("desc") => "DESC",
            Some("asc") => "ASC",
            Some(other) => bail!("order must be asc or desc (got {other:?})"),
        };
        // Every order ends with the id, so that pages never overlap.
        let sort = match filter.sort.as_deref() {
            None | Some("time") => format!("time {order}, finding_id {order}"),
            // Most severe first when descending.
            Some("severity") => format!(
                "severity_rank {}, time DESC, finding_id DESC",
                if order == "DESC" { "ASC" } else { "DESC" }
            ),
            Some("rule") => format!("rule_id {order}, time DESC, finding_id DESC"),
            Some(other) => bail!("sort must be time, severity or rule (got {other:?})"),
        };
        let by_severity = filter.sort.as_deref() == Some("severity");
        let offset = (page - 1) * per_page;
        let page_of = |clause: &str, args: &[String]| -> Result<Vec<FindingRow>> {
            let mut stmt = conn.prepare(&format!(
                "SELECT {ROW_COLUMNS} FROM console_findings {clause}
                 ORDER BY {sort} LIMIT {per_page} OFFSET {offset}"
            ))?;
            let rows = stmt
                .query_map(params_from_iter(args.iter()), row)?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        };
        // A page of everything `clause` matches, read in the sort's order: time and rule walk
        // their index; severity walks one severity at a time (`page_by_severity`). Only the
        // ids of a text search under the cap (a few thousand at most) are sorted.
        let walked_page_of = |clause: &str, args: &[String]| -> Result<Vec<FindingRow>> {
            if by_severity {
                page_by_severity(&conn, clause, args, order == "DESC", per_page, offset)
            } else {
                page_of(clause, args)
            }
        };
        let scan = filters.clause(false);
        let scan_args = filters.args(false);
        let (total, lower_bound, findings) = match filters.text {
            None => {
                // Filters on indexed columns: the exact count reads an index range.
                let total: i64 = conn.query_row(
                    &format!("SELECT COUNT(*) FROM console_findings {scan}"),
                    params_from_iter(scan_args.iter()),
                    |r| r.get(0),
                )?;
                (total as u64, false, walked_page_of(&scan, scan_args)?)
            }
            Some(TextSearch::Scan) => {
                // No index helps (under three characters): counted up to the cap, so a
                // common text stops early; the page walks the sort's index.
                let n: i64 = conn.query_row(
                    &format!(
                        "SELECT COUNT(*) FROM (SELECT 1 FROM console_findings {scan} LIMIT {})",
                        TEXT_TOTAL_CAP + 1
                    ),
                    params_from_iter(scan_args.iter()),
                    |r| r.get(0),
                )?;
                let (total, capped) = capped(n as u64);
                (total, capped, walked_page_of(&scan, scan_args)?)
            }
            Some(TextSearch::Indexed) => {
                // The matches, up to one past the cap. The text alone: read off the trigram
                // index as it finds them (the LIKE applied on the way), so a common text
                // stops early. With other filters too, SQLite picks which side to walk (an
                // indexed filter may hold far fewer rows than the index's candidates).
                let sql = if filters.conditions.len() == 1 {
                    format!(
                        "SELECT finding_id
                         FROM (SELECT rowid AS hit FROM console_text WHERE console_text MATCH ?{})
                         CROSS JOIN console_findings ON finding_id = hit
                         WHERE 1 {}
                         LIMIT {}",
                        filters.args.len(),
                        filters.and_conditions(),
                        TEXT_TOTAL_CAP + 1
                    )
                } else {
                    format!(
                        "SELECT finding_id FROM console_findings {} LIMIT {}",
                        filters.clause(true),
                        TEXT_TOTAL_CAP + 1
                    )
                };
                let mut stmt = conn.prepare(&sql)?;
                let ids: Vec<i64> = stmt
                    .query_map(params_from_iter(filters.args.iter()), |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                drop(stmt);
                let (total, capped) = capped(ids.len() as u64);
                let findings = if !capped {
                    // All of them in hand: the page is sorted from these ids alone.
                    let ids = serde_json::to_string(&ids)?;
                    page_of(
                        "WHERE finding_id IN (SELECT value FROM json_each(?1))",
                        &[ids],
                    )?
                } else {
                    // Over the cap, matches are dense: the page walks the sort's index, as
                    // a scan does, and stops once it is full.
                    walked_page_of(&scan, scan_args)?
                };
                (total, capped, findings)
            }
        };
        Ok(FindingPage {
            total,
            total_is_lower_bound: lower_bound,
            page,
            per_page,
            findings,
        })
    }

    /// Findings with an id above `after`, oldest first (at most `limit`), for the live stream.
    ///
    /// # Errors
    /// The read fails.
    pub fn findings_after(&self, after: i64, limit: usize) -> Result<Vec<FindingRow>> {
        let mut conn = self.conn();
        catch_up(&mut conn)?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {ROW_COLUMNS} FROM console_findings WHERE finding_id > ?1
             ORDER BY finding_id LIMIT ?2"
        ))?;
        let rows = stmt
            .query_map(params![after, limit as i64], row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// One finding in full: its stored row, the raw record of its event (when kept), facts,
    /// triage history, related findings and the actions its event caused for its plugin.
    /// `None` if there is no such finding.
    ///
    /// # Errors
    /// The read fails.
    pub fn finding(&self, id: i64) -> Result<Option<Value>> {
        let mut conn = self.conn();
        catch_up(&mut conn)?;
        let Some(stored) = stored_finding(&conn, id)? else {
            return Ok(None);
        };
        let facts: FindingRow = conn.query_row(
            &format!("SELECT {ROW_COLUMNS} FROM console_findings WHERE finding_id = ?1"),
            [id],
            row,
        )?;
        let mut related_stmt = conn.prepare(&format!(
            "SELECT {ROW_COLUMNS} FROM console_findings
             WHERE finding_id != ?1 AND ((dedup_key = ?2 AND dedup_key != '') OR principal = ?3)
             ORDER BY time DESC LIMIT 20"
        ))?;
        let related: Vec<FindingRow> = related_stmt
            .query_map(params![id, stored.dedup_key, facts.principal], row)?
            .collect::<Result<_, _>>()?;
        let actions = actions_of(&conn, &stored.plugin, &stored.event_id)?;
        let triage = triage_of(&conn, id)?;
        let (records, records_total) =
            crate::audit::event_records(&conn, &stored.event_id, MAX_RECORDS_SHOWN)?;
        let records: Vec<Value> = records.into_iter().map(record_json).collect();
        Ok(Some(json!({
            "id": id,
            "facts": facts,
            "finding": stored,
            "records": records,
            "records_total": records_total,
            "related": related,
            "actions": actions,
            "triage": triage,
        })))
    }

    /// Sets a finding's triage status, recording who, when and why. Returns the history.
    ///
    /// # Errors
    /// An unknown status, no such finding, a note over 4 KiB, or the write fails.
    pub fn triage(
        &self,
        id: i64,
        status: &str,
        note: &str,
        actor: &str,
    ) -> Result<Option<Vec<TriageEntry>>> {
        if !STATUSES.contains(&status) {
            bail!("status must be one of {}", STATUSES.join(", "));
        }
        if note.len() > MAX_NOTE_BYTES {
            bail!("the note is longer than {MAX_NOTE_BYTES} bytes");
        }
        let mut conn = self.conn();
        catch_up(&mut conn)?;
        let tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE console_findings SET status = ?2 WHERE finding_id = ?1",
            params![id, status],
        )?;
        if changed == 0 {
            return Ok(None);
        }
        tx.execute(
            "INSERT INTO finding_triage (finding_id, at, actor, status, note)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, crate::audit::now_rfc3339(), actor, status, note],
        )?;
        tx.commit()?;
        Ok(Some(triage_of(&conn, id)?))
    }

    /// The overview between `since` and `until` (RFC 3339, on event time): counts per bucket
    /// and severity, and the top values of each dimension (AWS service principals left out).
    /// Up to 48 hours, by the hour (`since` and `until` rounded to theirs); past that, by the
    /// day, over whole UTC days (the answer's `since` and `until` say which): the breakdowns
    /// then read `console_daily`, a row per day and value, rather than a row per hour.
    ///
    /// # Errors
    /// The read fails.
    pub fn overview(&self, since: &str, until: &str) -> Result<Value> {
        let mut conn = self.conn();
        catch_up(&mut conn)?;
        let by_day = hours_between(since, until) > 48;
        let (since, until) = if by_day {
            (
                format!("{}T00:00:00Z", day_of(since)),
                format!("{}T23:59:59Z", day_of(until)),
            )
        } else {
            (since.to_string(), until.to_string())
        };
        let (since, until) = (since.as_str(), until.as_str());
        let (from, to) = (hour_of(since), hour_of(until));
        let bucket = if by_day {
            "substr(hour, 1, 10)"
        } else {
            "hour"
        };
        let mut stmt = conn.prepare(&format!(
            "SELECT {bucket}, severity, SUM(n) FROM console_hourly
             WHERE dimension = 'all' AND hour >= ?1 AND hour <= ?2
             GROUP BY 1, 2 ORDER BY 1"
        ))?;
        let mut buckets: std::collections::BTreeMap<String, serde_json::Map<String, Value>> =
            std::collections::BTreeMap::new();
        for key in bucket_keys(since, until, by_day) {
            buckets.insert(key, serde_json::Map::new());
        }
        let rows = stmt.query_map(params![from, to], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut total = 0i64;
        for row in rows {
            let (key, severity, n) = row?;
            total += n;
            buckets.entry(key).or_default().insert(severity, json!(n));
        }
        let timeline: Vec<Value> = buckets
            .into_iter()
            .map(|(key, counts)| json!({"bucket": key, "counts": counts}))
            .collect();
        let (top_sql, from, to) = if by_day {
            (
                "SELECT value, SUM(n) FROM console_daily
                 WHERE dimension = ?1 AND day >= ?2 AND day <= ?3
                 GROUP BY value ORDER BY 2 DESC, 1 LIMIT ?4",
                day_of(since),
                day_of(until),
            )
        } else {
            (
                "SELECT value, SUM(n) FROM console_hourly
                 WHERE dimension = ?1 AND hour >= ?2 AND hour <= ?3
                 GROUP BY value ORDER BY 2 DESC, 1 LIMIT ?4",
                from,
                to,
            )
        };
        let mut breakdowns = serde_json::Map::new();
        let mut stmt = conn.prepare(top_sql)?;
        for dimension in DIMENSIONS {
            let top: Vec<Value> = stmt
                .query_map(params![dimension, from, to, TOP as i64], |r| {
                    Ok(json!({"value": r.get::<_, String>(0)?, "count": r.get::<_, i64>(1)?}))
                })?
                .collect::<Result<_, _>>()?;
            breakdowns.insert(dimension.to_string(), Value::Array(top));
        }
        Ok(json!({
            "since": since,
            "until": until,
            "bucket": if by_day { "day" } else { "hour" },
            "total": total,
            "timeline": timeline,
            "breakdowns": breakdowns,
        }))
    }

    /// The latest finding time, if any (the overview's default end).
    ///
    /// # Errors
    /// The read fails.
    pub fn latest_time(&self) -> Result<Option<String>> {
        let mut conn = self.conn();
        catch_up(&mut conn)?;
        Ok(conn
            .query_row("SELECT MAX(time) FROM console_findings", [], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// Dead letters per reason (count, latest) and the latest 20 (raw text cut to 300 bytes).
    ///
    /// # Errors
    /// The read fails.
    pub fn dead_letters(&self) -> Result<Value> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT reason, COUNT(*), MAX(recorded_at) FROM rejected_inputs
             GROUP BY reason ORDER BY 2 DESC",
        )?;
        let by_reason: Vec<Value> = stmt
            .query_map([], |r| {
                Ok(
                    json!({"reason": r.get::<_, String>(0)?, "count": r.get::<_, i64>(1)?,
                          "latest": r.get::<_, String>(2)?}),
                )
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = conn.prepare(
            "SELECT recorded_at, origin, reason, detail, substr(raw, 1, 300) FROM rejected_inputs
             ORDER BY id DESC LIMIT 20",
        )?;
        let latest: Vec<Value> = stmt
            .query_map([], |r| {
                Ok(
                    json!({"recorded_at": r.get::<_, String>(0)?, "origin": r.get::<_, String>(1)?,
                          "reason": r.get::<_, String>(2)?, "detail": r.get::<_, String>(3)?,
                          "raw": r.get::<_, String>(4)?}),
                )
            })?
            .collect::<Result<_, _>>()?;
        Ok(json!({"by_reason": by_reason, "latest": latest}))
    }

    /// Lifecycle events of `plugin`, newest first, and its quarantined versions.
    ///
    /// # Errors
    /// The read fails.
    pub fn plugin_history(&self, plugin: &str, limit: usize) -> Result<(Vec<Value>, Vec<String>)> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT at, sha256, event, detail FROM plugin_lifecycle WHERE plugin = ?1
             ORDER BY id DESC LIMIT ?2",
        )?;
        let events: Vec<Value> = stmt
            .query_map(params![plugin, limit as i64], |r| {
                Ok(
                    json!({"at": r.get::<_, String>(0)?, "sha256": r.get::<_, String>(1)?,
                          "event": r.get::<_, String>(2)?, "detail": r.get::<_, String>(3)?}),
                )
            })?
            .collect::<Result<_, _>>()?;
        drop(stmt);
        let audit_quarantined = {
            let mut stmt = conn.prepare(
                "SELECT DISTINCT sha256 FROM plugin_lifecycle WHERE plugin = ?1 AND event = 'quarantined'",
            )?;
            let rows: Vec<String> = stmt
                .query_map([plugin], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            rows
        };
        Ok((events, audit_quarantined))
    }

    /// Findings and failures per plugin, recorded in the database (all time).
    ///
    /// # Errors
    /// The read fails.
    pub fn plugin_counts(&self) -> Result<HashMap<String, (i64, i64)>> {
        let conn = self.conn();
        let mut out: HashMap<String, (i64, i64)> = HashMap::new();
        let mut stmt =
            conn.prepare("SELECT plugin, COUNT(*) FROM console_findings GROUP BY plugin")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (plugin, n) = row?;
            out.entry(plugin).or_default().0 = n;
        }
        let mut stmt =
            conn.prepare("SELECT plugin, COUNT(*) FROM plugin_failures GROUP BY plugin")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (plugin, n) = row?;
            out.entry(plugin).or_default().1 = n;
        }
        Ok(out)
    }
}

const ROW_COLUMNS: &str = "finding_id, time, severity, rule_id, plugin, account, region, principal,
    source_ip, title, event_id, status";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FindingRow> {
    Ok(FindingRow {
        id: r.get(0)?,
        time: r.get(1)?,
        severity: r.get(2)?,
        rule_id: r.get(3)?,
        plugin: r.get(4)?,
        account: r.get(5)?,
        region: r.get(6)?,
        principal: r.get(7)?,
        source_ip: r.get(8)?,
        title: r.get(9)?,
        event_id: r.get(10)?,
        status: r.get(11)?,
    })
}

/// A page of the findings `clause` matches (`WHERE ...` or empty) sorted by severity (most
/// severe first, or least), then newest first, then by id: the order of `severity_rank,
/// time DESC, finding_id DESC`. No index walks that mixed order, so the page is read one
/// severity rank at a time, each newest first along `console_findings_by_severity_rank`:
/// the ranks before the page are only counted (each up to the rows still to skip), and the
/// reading stops once the page is full, so a page costs about its offset, not the matches.
fn page_by_severity(
    conn: &Connection,
    clause: &str,
    args: &[String],
    most_severe_first: bool,
    per_page: usize,
    offset: usize,
) -> Result<Vec<FindingRow>> {
    // Known severities rank 0 (critical) to 4 (info); any other name ranks 5.
    let ranks: Vec<usize> = if most_severe_first {
        (0..=SEVERITIES.len()).collect()
    } else {
        (0..=SEVERITIES.len()).rev().collect()
    };
    let joiner = if clause.is_empty() { "WHERE" } else { "AND" };
    let mut skip = offset;
    let mut rows = Vec::with_capacity(per_page);
    for rank in ranks {
        let need = per_page - rows.len();
        if need == 0 {
            break;
        }
        // `rank` is this loop's own number, never the caller's text.
        let of_rank = format!("{clause} {joiner} severity_rank = {rank}");
        if skip > 0 {
            let n: i64 = conn.query_row(
                &format!(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM console_findings {of_rank} LIMIT {skip})"
                ),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )?;
            let n = n as usize;
            if n < skip {
                // The whole rank comes before the page.
                skip -= n;
                continue;
            }
        }
        let mut stmt = conn.prepare(&format!(
            "SELECT {ROW_COLUMNS} FROM console_findings {of_rank}
             ORDER BY time DESC, finding_id DESC LIMIT {need} OFFSET {skip}"
        ))?;
        for found in stmt.query_map(params_from_iter(args.iter()), row)? {
            rows.push(found?);
        }
        skip = 0;
    }
    Ok(rows)
}

/// How a text search finds its matches.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TextSearch {
    /// The LIKE alone, over every finding (text under three characters).
    Scan,
    /// The trigram index narrows the candidates; its FTS5 query is the last argument.
    Indexed,
}

/// A filter as SQL: conditions on `console_findings` (values always bound, never spliced).
struct Where {
    conditions: Vec<String>,
    /// The conditions' arguments, then (for [`TextSearch::Indexed`]) the FTS5 query.
    args: Vec<String>,
    text: Option<TextSearch>,
}

impl Where {
    /// `WHERE ...`; with `index`, the candidates limited to the trigram index's answer.
    fn clause(&self, index: bool) -> String {
        let mut conditions = self.conditions.clone();
        if index && self.text == Some(TextSearch::Indexed) {
            conditions.push(format!(
                "finding_id IN (SELECT rowid FROM console_text WHERE console_text MATCH ?{})",
                self.args.len()
            ));
        }
        if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        }
    }

    /// The arguments [`Where::clause`] binds.
    fn args(&self, index: bool) -> &[String] {
        match self.text {
            Some(TextSearch::Indexed) if !index => &self.args[..self.args.len() - 1],
            _ => &self.args,
        }
    }

    /// `AND c1 AND c2 ...` (empty without conditions).
    fn and_conditions(&self) -> String {
        self.conditions
            .iter()
            .map(|c| format!("AND {c} "))
            .collect()
    }
}

/// Caps a text search's count: (total, whether more match).
fn capped(n: u64) -> (u64, bool) {
    if n > TEXT_TOTAL_CAP {
        (TEXT_TOTAL_CAP, true)
    } else {
        (n, false)
    }
}

/// The conditions of a filter, with their arguments.
fn where_clause(conn: &Connection, filter: &FindingFilter) -> Result<Where> {
    let mut conditions = Vec::new();
    let mut args: Vec<String> = Vec::new();
    let mut equal = |column: &str, value: &Option<String>, args: &mut Vec<String>| {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            args.push(v.to_string());
            conditions.push(format!("{column} = ?{}", args.len()));
        }
    };
    equal("severity", &filter.severity, &mut args);
    equal("rule_id", &filter.rule, &mut args);
    equal("plugin", &filter.plugin, &mut args);
    equal("account", &filter.account, &mut args);
    equal("principal", &filter.principal, &mut args);
    equal("region", &filter.region, &mut args);
    equal("source_ip", &filter.source_ip, &mut args);
    if let Some(status) = filter.status.as_deref().filter(|s| !s.is_empty()) {
        if !STATUSES.contains(&status) {
            bail!("status must be one of {}", STATUSES.join(", "));
        }
    }
    equal("status", &filter.status, &mut args);
    if let Some(since) = filter.since.as_deref().filter(|s| !s.is_empty()) {
        args.push(normal_time(since)?);
        conditions.push(format!("time >= ?{}", args.len()));
    }
    if let Some(until) = filter.until.as_deref().filter(|s| !s.is_empty()) {
        args.push(normal_time(until)?);
        conditions.push(format!("time <= ?{}", args.len()));
    }
    let mut text_search = None;
    if let Some(text) = filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if text.len() > 256 {
            bail!("text is longer than 256 bytes");
        }
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        args.push(format!("%{escaped}%"));
        let n = args.len();
        conditions.push(format!(
            "(title LIKE ?{n} ESCAPE '\\' OR rule_id LIKE ?{n} ESCAPE '\\' \
             OR principal LIKE ?{n} ESCAPE '\\' OR event_id LIKE ?{n} ESCAPE '\\')"
        ));
        // The trigram index narrows the search to a superset of the matches; the LIKE
        // decides, so the answer is a scan's (super::search says why and how).
        text_search = Some(match super::search::match_expression(conn, text)? {
            Some(expression) => {
                args.push(expression);
                TextSearch::Indexed
            }
            None => TextSearch::Scan,
        });
    }
    Ok(Where {
        conditions,
        args,
        text: text_search,
    })
}

/// RFC 3339 text as findings store it (`YYYY-MM-DDTHH:MM:SSZ`).
///
/// # Errors
/// Not an RFC 3339 time.
pub fn normal_time(text: &str) -> Result<String> {
    let time = humantime::parse_rfc3339_weak(text.trim())
        .map_err(|e| anyhow::anyhow!("{text:?} is not an RFC 3339 time: {e}"))?;
    Ok(humantime::format_rfc3339_seconds(time).to_string())
}

fn hour_of(time: &str) -> String {
    time.chars().take(13).collect()
}

fn day_of(time: &str) -> String {
    time.chars().take(10).collect()
}

fn hours_between(since: &str, until: &str) -> u64 {
    match (
        humantime::parse_rfc3339_weak(since),
        humantime::parse_rfc3339_weak(until),
    ) {
        (Ok(a), Ok(b)) => b.duration_since(a).map_or(0, |d| d.as_secs() / 3600),
        _ => 0,
    }
}

/// Every bucket key from `since` to `until` (at most 400), so empty hours show as gaps.
fn bucket_keys(since: &str, until: &str, by_day: bool) -> Vec<String> {
    let (Ok(mut t), Ok(end)) = (
        humantime::parse_rfc3339_weak(since),
        humantime::parse_rfc3339_weak(until),
    ) else {
        return Vec::new();
    };
    let step = std::time::Duration::from_secs(if by_day { 86_400 } else { 3_600 });
    let mut keys = Vec::new();
    while t <= end && keys.len() < 400 {
        let text = humantime::format_rfc3339_seconds(t).to_string();
        keys.push(text.chars().take(if by_day { 10 } else { 13 }).collect());
        t += step;
    }
    keys.dedup();
    keys
}

/// A finding's time: its event time when that is a time, else when it was recorded.
fn finding_time(finding: &StoredFinding) -> String {
    match finding.event_time.as_deref() {
        Some(t)
            if t.len() >= 10
                && t.as_bytes()[4] == b'-'
                && t.as_bytes()[..4].iter().all(u8::is_ascii_digit) =>
        {
            t.to_string()
        }
        _ => finding.recorded_at.clone(),
    }
}

fn stored_finding(conn: &Connection, id: i64) -> Result<Option<StoredFinding>> {
    Ok(conn
        .query_row(
            "SELECT plugin, plugin_version, plugin_sha256, rule_id, severity, title, description,
                    resources, dedup_key, event_id, event_time, context, recorded_at, suppressed_by
             FROM findings WHERE id = ?1",
            [id],
            |r| {
                let resources: String = r.get(7)?;
                let context: String = r.get(11)?;
                Ok(StoredFinding {
                    plugin: r.get(0)?,
                    plugin_version: r.get(1)?,
                    plugin_sha256: r.get(2)?,
                    rule_id: r.get(3)?,
                    severity: r.get(4)?,
                    title: r.get(5)?,
                    description: r.get(6)?,
                    resources: serde_json::from_str(&resources).unwrap_or_default(),
                    dedup_key: r.get(8)?,
                    event_id: r.get(9)?,
                    event_time: r.get(10)?,
                    context: FindingContext::from_stored(context),
                    recorded_at: r.get(12)?,
                    suppressed_by: r.get(13)?,
                })
            },
        )
        .optional()?)
}

fn actions_of(conn: &Connection, plugin: &str, event_id: &str) -> Result<Vec<Value>> {
    let has_actions: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'actions'",
        [],
        |r| r.get(0),
    )?;
    if has_actions == 0 {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare(
        "SELECT id, capability, status, mode, resource, account, region, created_at FROM actions
         WHERE event_id = ?1 AND plugin = ?2 ORDER BY created_at",
    )?;
    let rows = stmt
        .query_map(params![event_id, plugin], |r| {
            Ok(json!({
                "id": r.get::<_, String>(0)?, "capability": r.get::<_, String>(1)?,
                "status": r.get::<_, String>(2)?, "mode": r.get::<_, String>(3)?,
                "resource": r.get::<_, String>(4)?, "account": r.get::<_, String>(5)?,
                "region": r.get::<_, String>(6)?, "created_at": r.get::<_, String>(7)?,
            }))
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A kept event record as a finding's answer shows it: whole, as JSON under `record`; cut
/// (or, against all odds, not JSON), as text under `text`.
fn record_json(kept: crate::audit::EventRecord) -> Value {
    let parsed = if kept.truncated {
        None
    } else {
        serde_json::from_str::<Value>(&kept.text).ok()
    };
    let mut answer = json!({
        "recorded_at": kept.recorded_at,
        "bytes": kept.bytes,
        "truncated": kept.truncated,
    });
    match parsed {
        Some(record) => answer["record"] = record,
        None => answer["text"] = Value::String(kept.text),
    }
    answer
}

fn triage_of(conn: &Connection, id: i64) -> Result<Vec<TriageEntry>> {
    let mut stmt = conn.prepare(
        "SELECT at, actor, status, note FROM finding_triage WHERE finding_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([id], |r| {
            Ok(TriageEntry {
                at: r.get(0)?,
                actor: r.get(1)?,
                status: r.get(2)?,
                note: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The console's tables as a store of the shared database: its first migration creates
/// what earlier releases made with `IF NOT EXISTS` (their tables kept) and fills tables
/// added since from the ones they derive from.
const STORE_SCHEMA: trailwarden_store::Schema = trailwarden_store::Schema {
    store: "console",
    migrations: &[trailwarden_store::Migration::Rust(create_tables)],
    synchronous: trailwarden_store::Synchronous::Normal,
    mirrors_user_version: false,
};

/// Creates the console's tables; fills `console_daily` and `console_text` for the findings
/// already indexed when they are new (a database from before they existed), in the same
/// transaction, so they cover exactly what `console_findings` does.
fn create_tables(tx: &Connection) -> rusqlite::Result<()> {
    let exists = |name: &str| -> rusqlite::Result<bool> {
        tx.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
    };
    let (had_daily, had_text) = (exists("console_daily")?, exists("console_text")?);
    tx.execute_batch(SCHEMA)?;
    if !had_daily {
        tx.execute(
            "INSERT INTO console_daily (dimension, day, value, n)
             SELECT dimension, substr(hour, 1, 10), value, SUM(n) FROM console_hourly
             WHERE dimension != 'all' GROUP BY 1, 2, 3",
            [],
        )?;
    }
    if !had_text {
        tx.execute(
            "INSERT INTO console_text (rowid, title, rule_id, principal, event_id)
             SELECT finding_id, title, rule_id, principal, event_id FROM console_findings",
            [],
        )?;
    }
    Ok(())
}

/// Indexes findings past the last one indexed, in batches of one transaction each.
fn catch_up(conn: &mut Connection) -> Result<u64> {
    let mut done = 0u64;
    loop {
        let watermark = "SELECT COALESCE(MAX(finding_id), 0) FROM console_findings";
        let last: i64 = conn.query_row(watermark, [], |r| r.get(0))?;
        let newest: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM findings", [], |r| {
            r.get(0)
        })?;
        if newest <= last {
            return Ok(done);
        }
        // Immediate, with the watermark read again inside: two catch-ups (the daemon's and
        // a command's) never index the same findings twice. Only taken when there is work,
        // so a read does not take the write lock.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let last: i64 = tx.query_row(watermark, [], |r| r.get(0))?;
        let mut batch = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "SELECT id, plugin, plugin_version, plugin_sha256, rule_id, severity, title,
                        description, resources, dedup_key, event_id, event_time, context, recorded_at,
                        suppressed_by
                 FROM findings WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![last, CATCH_UP_BATCH], |r| {
                let resources: String = r.get(8)?;
                let context: String = r.get(12)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    StoredFinding {
                        plugin: r.get(1)?,
                        plugin_version: r.get(2)?,
                        plugin_sha256: r.get(3)?,
                        rule_id: r.get(4)?,
                        severity: r.get(5)?,
                        title: r.get(6)?,
                        description: String::new(),
                        resources: serde_json::from_str(&resources).unwrap_or_default(),
                        dedup_key: r.get(9)?,
                        event_id: r.get(10)?,
                        event_time: r.get(11)?,
                        context: FindingContext::from_stored(context),
                        recorded_at: r.get(13)?,
                        suppressed_by: r.get(14)?,
                    },
                ))
            })?;
            for r in rows {
                batch.push(r?);
            }
        }
        if batch.is_empty() {
            return Ok(done);
        }
        let mut hourly: HashMap<(String, &'static str, String, String), i64> = HashMap::new();
        let mut daily: HashMap<(String, &'static str, String), i64> = HashMap::new();
        {
            let mut index_text = tx.prepare_cached(
                "INSERT INTO console_text (rowid, title, rule_id, principal, event_id)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO console_findings (finding_id, time, severity, severity_rank,
                    rule_id, plugin, account, region, principal, principal_is_service, source_ip,
                    title, dedup_key, event_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?;
            for (id, finding) in batch {
                let time = finding_time(&finding);
                let facts = FindingFacts::of(id, finding);
                let f = &facts.finding;
                let severity = f.severity.to_ascii_lowercase();
                insert.execute(params![
                    id,
                    time,
                    severity,
                    severity_rank(&severity) as i64,
                    f.rule_id,
                    f.plugin,
                    facts.account,
                    facts.region,
                    facts.principal,
                    facts.principal_is_service,
                    facts.source_ip,
                    f.title,
                    f.dedup_key,
                    f.event_id,
                ])?;
                index_text.execute(params![id, f.title, f.rule_id, facts.principal, f.event_id])?;
                let hour = hour_of(&time);
                let day = day_of(&time);
                let mut count = |dimension: &'static str, value: Option<&str>| {
                    if let Some(value) = value.filter(|v| !v.is_empty()) {
                        *hourly
                            .entry((hour.clone(), dimension, value.to_string(), severity.clone()))
                            .or_default() += 1;
                        if dimension != "all" {
                            *daily
                                .entry((day.clone(), dimension, value.to_string()))
                                .or_default() += 1;
                        }
                    }
                };
                count("all", Some("all"));
                count("rule", Some(&f.rule_id));
                if !facts.principal_is_service {
                    count("principal", facts.principal.as_deref());
                }
                count("account", facts.account.as_deref());
                count("region", facts.region.as_deref());
                count("source_ip", facts.source_ip.as_deref());
                done += 1;
            }
            let mut upsert = tx.prepare_cached(
                "INSERT INTO console_hourly (hour, dimension, value, severity, n)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (dimension, hour, value, severity) DO UPDATE SET n = n + excluded.n",
            )?;
            for ((hour, dimension, value, severity), n) in hourly {
                upsert.execute(params![hour, dimension, value, severity, n])?;
            }
            let mut upsert_daily = tx.prepare_cached(
                "INSERT INTO console_daily (dimension, day, value, n) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (dimension, day, value) DO UPDATE SET n = n + excluded.n",
            )?;
            for ((day, dimension, value), n) in daily {
                upsert_daily.execute(params![dimension, day, value, n])?;
            }
        }
        tx.commit()?;
    }
}

/// A stored session, as [`SessionStore::get`] reads it (times in Unix milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub user: String,
    pub role: String,
    /// A tag of the credential the session logged in with (see `auth::credential_tag`).
    pub credential: String,
    pub csrf: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub last_seen_ms: i64,
}

/// The console's sessions in `console_sessions`, on a connection of their own: checking a
/// session (every request) never waits behind a long list query on [`ConsoleDb`]'s.
pub struct SessionStore {
    conn: Mutex<Connection>,
}

impl SessionStore {
    /// Opens the sessions table of the audit database at `path` (the console's store).
    ///
    /// # Errors
    /// The database cannot be opened or the console's tables created.
    pub fn open(path: &Path) -> Result<SessionStore> {
        let conn = trailwarden_store::open(path, &STORE_SCHEMA)
            .with_context(|| format!("cannot open {} for console sessions", path.display()))?;
        Ok(SessionStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a new session; in the same transaction deletes every expired one (past
    /// `expires_ms`, or last seen before `idle_before_ms`) and, past `per_user` sessions of
    /// this user, the oldest of theirs.
    ///
    /// # Errors
    /// The write fails.
    pub fn insert(
        &self,
        id_sha256: &[u8; 32],
        row: &SessionRow,
        idle_before_ms: i64,
        per_user: usize,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM console_sessions WHERE expires_ms <= ?1 OR last_seen_ms < ?2",
            params![row.created_ms, idle_before_ms],
        )?;
        tx.execute(
            "INSERT INTO console_sessions (id_sha256, user, role, credential, csrf, created_ms,
                expires_ms, last_seen_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                &id_sha256[..],
                row.user,
                row.role,
                row.credential,
                row.csrf,
                row.created_ms,
                row.expires_ms,
                row.last_seen_ms
            ],
        )?;
        // The newest `per_user` are kept, this one first whatever the clock says.
        tx.execute(
            "DELETE FROM console_sessions WHERE user = ?1 AND id_sha256 NOT IN (
                 SELECT id_sha256 FROM console_sessions WHERE user = ?1
                 ORDER BY id_sha256 = ?2 DESC, created_ms DESC LIMIT ?3)",
            params![row.user, &id_sha256[..], per_user as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The session whose id hashes to `id_sha256`, if stored.
    ///
    /// # Errors
    /// The read fails.
    pub fn get(&self, id_sha256: &[u8; 32]) -> Result<Option<SessionRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT user, role, credential, csrf, created_ms, expires_ms, last_seen_ms
             FROM console_sessions WHERE id_sha256 = ?1",
        )?;
        Ok(stmt
            .query_row([&id_sha256[..]], |r| {
                Ok(SessionRow {
                    user: r.get(0)?,
                    role: r.get(1)?,
                    credential: r.get(2)?,
                    csrf: r.get(3)?,
                    created_ms: r.get(4)?,
                    expires_ms: r.get(5)?,
                    last_seen_ms: r.get(6)?,
                })
            })
            .optional()?)
    }

    /// Records a request on the session at `now_ms`.
    ///
    /// # Errors
    /// The write fails.
    pub fn touch(&self, id_sha256: &[u8; 32], now_ms: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE console_sessions SET last_seen_ms = ?2 WHERE id_sha256 = ?1",
            params![&id_sha256[..], now_ms],
        )?;
        Ok(())
    }

    /// Deletes one session (logout, or found expired).
    ///
    /// # Errors
    /// The write fails.
    pub fn delete(&self, id_sha256: &[u8; 32]) -> Result<bool> {
        Ok(self.conn().execute(
            "DELETE FROM console_sessions WHERE id_sha256 = ?1",
            [&id_sha256[..]],
        )? > 0)
    }

    /// Deletes the sessions `keep` refuses (given user, role and credential tag) and those
    /// expired at `now_ms` (or idle since before `idle_before_ms`); returns how many.
    ///
    /// # Errors
    /// The read or write fails.
    pub fn retain(
        &self,
        now_ms: i64,
        idle_before_ms: i64,
        keep: impl Fn(&str, &str, &str) -> bool,
    ) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut deleted = tx.execute(
            "DELETE FROM console_sessions WHERE expires_ms <= ?1 OR last_seen_ms < ?2",
            params![now_ms, idle_before_ms],
        )?;
        let groups: Vec<(String, String, String)> = {
            let mut stmt =
                tx.prepare("SELECT DISTINCT user, role, credential FROM console_sessions")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            rows
        };
        for (user, role, credential) in groups {
            if !keep(&user, &role, &credential) {
                deleted += tx.execute(
                    "DELETE FROM console_sessions WHERE user = ?1 AND role = ?2 AND credential = ?3",
                    params![user, role, credential],
                )?;
            }
        }
        tx.commit()?;
        Ok(deleted)
    }
}
