//! The audit store: every plugin load, finding, plugin failure and rejected input, in SQLite.
//!
//! The schema is versioned per store (`trailwarden_store`; this store's version is also kept
//! in `PRAGMA user_version`, where it was before); migrations only ever append, so an older
//! database opens with a newer binary.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::chain::Chain;
use crate::finding_context::FindingContext;

/// The findings hash chain: the columns hashed never change after insert.
pub const FINDINGS_CHAIN: Chain = Chain {
    table: "findings",
    key: "id",
    content: &[
        "recorded_at",
        "plugin",
        "plugin_version",
        "plugin_sha256",
        "rule_id",
        "severity",
        "title",
        "description",
        "resources",
        "dedup_key",
        "event_id",
        "event_time",
        "context",
    ],
};

/// Schema migrations, applied in order; index + 1 is the store's version after each.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE plugin_loads (
    id INTEGER PRIMARY KEY,
    loaded_at TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    path TEXT NOT NULL,
    patterns TEXT NOT NULL,
    capabilities TEXT NOT NULL
);
CREATE TABLE findings (
    id INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    plugin TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    plugin_sha256 TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    resources TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_time TEXT,
    context TEXT NOT NULL,
    -- A replay of the same logs by the same plugin version records a finding once.
    UNIQUE (plugin_sha256, rule_id, event_id, dedup_key)
);
CREATE INDEX findings_by_plugin ON findings (plugin, recorded_at);
CREATE INDEX findings_by_event_time ON findings (event_time);
CREATE TABLE plugin_failures (
    id INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    plugin TEXT NOT NULL,
    plugin_sha256 TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    event_ids TEXT NOT NULL
);
CREATE TABLE rejected_inputs (
    id INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    origin TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    raw TEXT NOT NULL
);
"#,
    r#"
-- What happened to each plugin version: loaded, reload refused, quarantined, rolled back.
CREATE TABLE plugin_lifecycle (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    plugin TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX plugin_lifecycle_by_plugin ON plugin_lifecycle (plugin, sha256, id);
"#,
    r#"
-- The suppression (`suppress`) that silenced a finding: recorded and counted, not alerted.
-- Not in the findings hash chain, whose content columns never change (older rows' hashes).
ALTER TABLE findings ADD COLUMN suppressed_by TEXT;
"#,
    r#"
-- The CloudTrail record of each event that raised a finding, written in the transaction that
-- records its findings: once per event id and content (senders choose event ids: a forged
-- copy under a real event's id is kept beside it, never in its place). `record` is the
-- record's compact JSON text, cut to 256 KiB (`truncated`), raw deflate with the preset
-- dictionary numbered `dictionary`; `bytes` is its length as received; `sha256` is of the
-- whole text.
CREATE TABLE event_records (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    sha256 BLOB NOT NULL,
    recorded_at TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    truncated INTEGER NOT NULL,
    dictionary INTEGER NOT NULL,
    record BLOB NOT NULL,
    UNIQUE (event_id, sha256)
);
"#,
    r#"
-- No read of findings by time could use `findings_by_event_time`: each orders by the event
-- time or, without one, the time recorded (an expression over both columns), so the index
-- was only written, a page of it for most findings recorded.
DROP INDEX IF EXISTS findings_by_event_time;
"#,
];

/// The longest record text kept for an event. The normaliser already refuses records over
/// its own 256 KiB limit; this bounds the store whatever an intake lets through.
pub const MAX_STORED_RECORD_BYTES: usize = 256 * 1024;

/// The preset deflate dictionary event records are compressed with: typical CloudTrail
/// records as trailwarden writes them (compact JSON, keys sorted), so that even a 1 KB
/// record finds its field names and common values to refer back to: the shared corpus's 218
/// records (995 bytes on average) take 39% of their size rather than 68% without it. Rows say which dictionary they
/// used: this file never changes; a better one is added as number 2.
const RECORD_DICTIONARY_V1: &[u8] = include_bytes!("event_record_dictionary_v1.jsonl");

/// The CloudTrail record of an event with findings, as stored (see `event_records`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventRecord {
    pub recorded_at: String,
    /// The record's length as received (compact JSON), in bytes.
    pub bytes: u64,
    /// Only its first [`MAX_STORED_RECORD_BYTES`] were kept (cut at a character boundary).
    pub truncated: bool,
    /// The record's text as kept.
    pub text: String,
}

/// A finding as stored, with the plugin version that produced it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoredFinding {
    pub plugin: String,
    pub plugin_version: String,
    pub plugin_sha256: String,
    pub rule_id: String,
    pub severity: String,
    pub title: String,
    pub description: String,
    pub resources: Vec<String>,
    pub dedup_key: String,
    pub event_id: String,
    pub event_time: Option<String>,
    pub context: crate::finding_context::FindingContext,
    pub recorded_at: String,
    /// The suppression that silenced it (`config:N` or a `suppress add` id), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<String>,
}

/// An input that could not be processed (a dead letter), as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RejectedInput {
    pub id: i64,
    pub recorded_at: String,
    /// Where it came from: a file, `stdin`, `http:ADDR`, `sqs:MESSAGE-ID`, `s3://bucket/key`.
    pub origin: String,
    pub reason: String,
    pub detail: String,
    /// The offending text (truncated by the normaliser to its record size limit).
    pub raw: String,
}

/// Something that happened to a plugin version.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LifecycleEvent {
    pub at: String,
    pub plugin: String,
    pub sha256: String,
    /// `loaded`, `reload_refused`, `quarantined`, `rolled_back`, `removed`.
    pub event: String,
    pub detail: String,
}

/// A plugin version as loaded.
pub struct PluginLoad<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub sha256: &'a str,
    pub path: &'a Path,
    pub patterns: &'a [String],
    pub capabilities: &'a [String],
}

/// Which findings to read back.
#[derive(Debug, Default)]
pub struct FindingQuery {
    pub plugin: Option<String>,
    /// RFC 3339; compared with the event time (or, without one, the time recorded).
    pub since: Option<String>,
    /// RFC 3339; compared with the time the finding was recorded.
    pub recorded_since: Option<String>,
    pub limit: Option<usize>,
}

/// The audit tables as a store of the shared database. Its version lived in
/// `user_version` before per-store versions existed, and is still written there.
const STORE_SCHEMA: trailwarden_store::Schema<&str> = trailwarden_store::Schema {
    store: "audit",
    migrations: MIGRATIONS,
    synchronous: trailwarden_store::Synchronous::Normal,
    mirrors_user_version: true,
};

/// A connection to the audit database.
pub struct AuditStore {
    conn: Connection,
}

impl AuditStore {
    /// Opens (creating if needed) the database and brings its schema up to date.
    ///
    /// # Errors
    /// The file cannot be opened or created, or a migration fails.
    pub fn open(path: &Path) -> Result<AuditStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let conn = trailwarden_store::open(path, &STORE_SCHEMA)
            .with_context(|| format!("cannot open audit database {}", path.display()))?;
        Self::init(conn)
    }

    /// An in-memory store, for tests and dry runs.
    ///
    /// # Errors
    /// A migration fails.
    pub fn in_memory() -> Result<AuditStore> {
        Self::init(trailwarden_store::open_in_memory(&STORE_SCHEMA)?)
    }

    /// `conn` comes from [`trailwarden_store`], its tables up to date.
    fn init(conn: Connection) -> Result<AuditStore> {
        let store = AuditStore { conn };
        crate::chain::prepare(&store.conn, &FINDINGS_CHAIN)?;
        Ok(store)
    }

    /// The database's file; `None` for a store in memory.
    pub fn file(&self) -> Option<PathBuf> {
        self.conn
            .path()
            .filter(|path| !path.is_empty())
            .map(PathBuf::from)
    }

    /// The schema version in force.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn schema_version(&self) -> Result<usize> {
        Ok(trailwarden_store::version(&self.conn, &STORE_SCHEMA)?)
    }

    /// Opens a write transaction on this store's connection, for a run of writes that must
    /// not each commit alone (an input's rejects); [`AuditStore::commit`] ends it.
    ///
    /// # Errors
    /// A transaction is already open, or the database is locked past the busy timeout.
    pub fn begin(&self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    /// Commits the transaction [`AuditStore::begin`] opened.
    ///
    /// # Errors
    /// The commit fails (the transaction is then rolled back).
    pub fn commit(&self) -> Result<()> {
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            self.rollback();
            return Err(e.into());
        }
        Ok(())
    }

    /// Abandons the transaction [`AuditStore::begin`] opened, if any.
    pub fn rollback(&self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    /// Runs `f` in one transaction: batches of findings commit together.
    ///
    /// # Errors
    /// `f` fails, or the commit does.
    pub fn in_transaction<T>(&mut self, f: impl FnOnce(&AuditStore) -> Result<T>) -> Result<T> {
        // IMMEDIATE: the write lock from the start, so the findings chain's head read inside
        // is the one this transaction extends, whoever else writes the database.
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        match f(self) {
            Ok(value) => {
                // A failed commit (disk full) leaves the transaction open, holding the
                // write lock: end it, so the next batch (and every other writer) can write.
                if let Err(e) = self.conn.execute_batch("COMMIT") {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err(e.into());
                }
                Ok(value)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Records that a plugin version was loaded.
    ///
    /// # Errors
    /// The write fails.
    pub fn record_plugin_load(&self, load: &PluginLoad<'_>) -> Result<()> {
        self.conn.prepare_cached("INSERT INTO plugin_loads (loaded_at, name, version, sha256, path, patterns, capabilities)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
            .execute(params![
                now_rfc3339(),
                load.name,
                load.version,
                load.sha256,
                load.path.display().to_string(),
                serde_json::to_string(load.patterns)?,
                serde_json::to_string(load.capabilities)?,
            ])?;
        Ok(())
    }

    /// Records a finding; returns false when the same finding was already recorded.
    ///
    /// # Errors
    /// The write fails.
    pub fn record_finding(&self, finding: &StoredFinding) -> Result<bool> {
        Ok(self.record_findings(std::slice::from_ref(finding))? == 1)
    }

    /// Records findings, each sealed into the findings chain, as one unit (inside the
    /// caller's transaction if there is one, see [`AuditStore::in_transaction`]); a finding
    /// already recorded is skipped. The chain's head is read once and written once, and each
    /// link is hashed from the values bound, not read back. Returns how many were new.
    ///
    /// # Errors
    /// A write fails: none of them is recorded.
    pub fn record_findings(&self, findings: &[StoredFinding]) -> Result<usize> {
        crate::chain::atomically(&self.conn, || {
            let mut links = crate::chain::Links::start(&self.conn, &FINDINGS_CHAIN)?;
            // ON CONFLICT names the dedup key alone: a clash on `chain_seq` (a head out of
            // step with the table) is an error, never a finding silently dropped.
            let mut insert = self.conn.prepare_cached(
                "INSERT INTO findings (recorded_at, plugin, plugin_version, plugin_sha256,
                    rule_id, severity, title, description, resources, dedup_key, event_id,
                    event_time, context, suppressed_by, chain_seq, chain_prev, chain_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
                 ON CONFLICT (plugin_sha256, rule_id, event_id, dedup_key) DO NOTHING",
            )?;
            let mut inserted = 0;
            for finding in findings {
                let resources = serde_json::to_string(&finding.resources)?;
                let context = finding.context.as_str();
                // In `FINDINGS_CHAIN.content` order.
                let content = [
                    Some(finding.recorded_at.as_str()),
                    Some(finding.plugin.as_str()),
                    Some(finding.plugin_version.as_str()),
                    Some(finding.plugin_sha256.as_str()),
                    Some(finding.rule_id.as_str()),
                    Some(finding.severity.as_str()),
                    Some(finding.title.as_str()),
                    Some(finding.description.as_str()),
                    Some(resources.as_str()),
                    Some(finding.dedup_key.as_str()),
                    Some(finding.event_id.as_str()),
                    finding.event_time.as_deref(),
                    Some(context),
                ];
                let (seq, hash) = links.next(&content);
                let rows = insert.execute(params![
                    finding.recorded_at,
                    finding.plugin,
                    finding.plugin_version,
                    finding.plugin_sha256,
                    finding.rule_id,
                    finding.severity,
                    finding.title,
                    finding.description,
                    resources,
                    finding.dedup_key,
                    finding.event_id,
                    finding.event_time,
                    context,
                    finding.suppressed_by,
                    seq,
                    links.head_hash(),
                    hash,
                ])?;
                if rows == 1 {
                    links.advance(seq, hash);
                    inserted += 1;
                }
            }
            links.finish(&self.conn)?;
            Ok(inserted)
        })
    }

    /// Keeps the record of each event given as (event id, record text): the events whose
    /// findings this transaction records. An event already kept with the same content is
    /// skipped (`INSERT OR IGNORE`), so an event with several findings, or seen by several
    /// plugins, is kept once. Returns how many were new.
    ///
    /// # Errors
    /// A write fails.
    pub fn record_event_records(&self, records: &[(&str, &str)]) -> Result<usize> {
        self.record_prepared_records(&prepare_event_records(records)?)
    }

    /// [`AuditStore::record_event_records`] of records already hashed and compressed
    /// ([`prepare_event_records`]), so a writer does that work before taking the write lock.
    ///
    /// # Errors
    /// A write fails.
    pub fn record_prepared_records(&self, records: &[PreparedRecord<'_>]) -> Result<usize> {
        if records.is_empty() {
            return Ok(0);
        }
        let recorded_at = now_rfc3339();
        let mut insert = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO event_records (event_id, sha256, recorded_at, bytes,
                truncated, dictionary, record)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
        )?;
        let mut inserted = 0;
        for record in records {
            inserted += insert.execute(params![
                record.event_id,
                &record.sha256[..],
                recorded_at,
                record.bytes as i64,
                record.truncated,
                record.deflated,
            ])?;
        }
        Ok(inserted)
    }

    /// Walks the findings chain (see [`crate::chain`]).
    ///
    /// # Errors
    /// The table cannot be read.
    pub fn verify_chain(&self) -> Result<crate::chain::Verdict> {
        crate::chain::verify(&self.conn, &FINDINGS_CHAIN)
    }

    /// Records that a plugin failed on a batch, with the events it did not handle.
    ///
    /// # Errors
    /// The write fails.
    pub fn record_plugin_failure(
        &self,
        plugin: &str,
        sha256: &str,
        kind: &str,
        message: &str,
        event_ids: &[&str],
    ) -> Result<()> {
        self.conn.prepare_cached("INSERT INTO plugin_failures (recorded_at, plugin, plugin_sha256, kind, message, event_ids)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
            .execute(params![
                now_rfc3339(),
                plugin,
                sha256,
                kind,
                message,
                serde_json::to_string(event_ids)?
            ])?;
        Ok(())
    }

    /// Keeps an input that could not be processed (a dead letter), with its reason.
    ///
    /// # Errors
    /// The write fails.
    pub fn record_rejected(
        &self,
        origin: &str,
        reason: &str,
        detail: &str,
        raw: &str,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO rejected_inputs (recorded_at, origin, reason, detail, raw)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![now_rfc3339(), origin, reason, detail, raw])?;
        Ok(())
    }

    /// Records a lifecycle event of a plugin version (`loaded`, `reload_refused`,
    /// `quarantined`, `rolled_back`, `removed`).
    ///
    /// # Errors
    /// The write fails.
    pub fn record_lifecycle(
        &self,
        plugin: &str,
        sha256: &str,
        event: &str,
        detail: &str,
    ) -> Result<()> {
        self.conn.prepare_cached("INSERT INTO plugin_lifecycle (at, plugin, sha256, event, detail) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![now_rfc3339(), plugin, sha256, event, detail])?;
        Ok(())
    }

    /// Whether this exact plugin version was quarantined (and not loaded again since).
    ///
    /// # Errors
    /// The read fails.
    pub fn is_quarantined(&self, plugin: &str, sha256: &str) -> Result<bool> {
        let last: Option<String> = self
            .conn
            .query_row(
                "SELECT event FROM plugin_lifecycle WHERE plugin = ?1 AND sha256 = ?2
                   AND event IN ('quarantined', 'released') ORDER BY id DESC LIMIT 1",
                params![plugin, sha256],
                |row| row.get(0),
            )
            .ok();
        Ok(last.as_deref() == Some("quarantined"))
    }

    /// The versions (sha256) of `plugin` that are quarantined now.
    ///
    /// # Errors
    /// The read fails.
    pub fn quarantined_versions(&self, plugin: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT sha256 FROM plugin_lifecycle WHERE plugin = ?1 AND event = 'quarantined'",
        )?;
        let shas: Vec<String> = stmt
            .query_map(params![plugin], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut quarantined = Vec::new();
        for sha in shas {
            if self.is_quarantined(plugin, &sha)? {
                quarantined.push(sha);
            }
        }
        Ok(quarantined)
    }

    /// Lifecycle events, newest first.
    ///
    /// # Errors
    /// The read fails.
    pub fn lifecycle(&self, limit: usize) -> Result<Vec<LifecycleEvent>> {
        let mut stmt = self.conn.prepare(
            "SELECT at, plugin, sha256, event, detail FROM plugin_lifecycle ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(LifecycleEvent {
                at: r.get(0)?,
                plugin: r.get(1)?,
                sha256: r.get(2)?,
                event: r.get(3)?,
                detail: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The title of a plugin's (first) finding on an event: why an action of that plugin on
    /// that event was asked for.
    ///
    /// # Errors
    /// The read fails.
    pub fn finding_title(&self, plugin: &str, event_id: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT title FROM findings WHERE plugin = ?1 AND event_id = ?2
                 ORDER BY id LIMIT 1",
                params![plugin, event_id],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Reads findings, newest first.
    ///
    /// # Errors
    /// The read fails.
    pub fn findings(&self, query: &FindingQuery) -> Result<Vec<StoredFinding>> {
        let mut stmt = self.conn.prepare(
            "SELECT plugin, plugin_version, plugin_sha256, rule_id, severity, title, description,
                    resources, dedup_key, event_id, event_time, context, recorded_at, suppressed_by
             FROM findings
             WHERE (?1 IS NULL OR plugin = ?1)
               AND (?2 IS NULL OR COALESCE(event_time, recorded_at) >= ?2)
               AND (?4 IS NULL OR recorded_at >= ?4)
             ORDER BY COALESCE(event_time, recorded_at) DESC, id DESC
             LIMIT ?3",
        )?;
        let limit = query.limit.map_or(-1, |l| l as i64);
        let args = params![query.plugin, query.since, limit, query.recorded_since];
        let rows = stmt.query_map(args, |row| {
            let resources: String = row.get(7)?;
            let context: String = row.get(11)?;
            Ok(StoredFinding {
                plugin: row.get(0)?,
                plugin_version: row.get(1)?,
                plugin_sha256: row.get(2)?,
                rule_id: row.get(3)?,
                severity: row.get(4)?,
                title: row.get(5)?,
                description: row.get(6)?,
                resources: serde_json::from_str(&resources).unwrap_or_default(),
                dedup_key: row.get(8)?,
                event_id: row.get(9)?,
                event_time: row.get(10)?,
                context: FindingContext::from_stored(context),
                recorded_at: row.get(12)?,
                suppressed_by: row.get(13)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Reads dead letters (rejected inputs), newest first.
    ///
    /// # Errors
    /// The read fails.
    pub fn rejected_inputs(&self, limit: Option<usize>) -> Result<Vec<RejectedInput>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, recorded_at, origin, reason, detail, raw FROM rejected_inputs
             ORDER BY id DESC LIMIT ?1",
        )?;
        let limit = limit.map_or(-1, |l| l as i64);
        let rows = stmt.query_map(params![limit], |row| {
            Ok(RejectedInput {
                id: row.get(0)?,
                recorded_at: row.get(1)?,
                origin: row.get(2)?,
                reason: row.get(3)?,
                detail: row.get(4)?,
                raw: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Counts rows of a table by one of its columns (for summaries and tests).
    ///
    /// # Errors
    /// The read fails.
    pub fn count_by(&self, table: AuditTable, column: &str) -> Result<Vec<(String, u64)>> {
        let table = table.name();
        anyhow::ensure!(
            column
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad column name"
        );
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {column}, COUNT(*) FROM {table} GROUP BY {column} ORDER BY {column}"
        ))?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The records kept for `event_id` (normally one; more when copies with other content
/// carried the same id), oldest first, at most `limit`, and how many are kept in all.
///
/// # Errors
/// The read fails, or a stored record does not inflate.
pub fn event_records(
    conn: &Connection,
    event_id: &str,
    limit: usize,
) -> Result<(Vec<EventRecord>, u64)> {
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM event_records WHERE event_id = ?1",
        [event_id],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT recorded_at, bytes, truncated, dictionary, record FROM event_records
         WHERE event_id = ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![event_id, limit as i64], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, bool>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Vec<u8>>(4)?,
        ))
    })?;
    let mut records = Vec::new();
    for row in rows {
        let (recorded_at, bytes, truncated, dictionary, compressed) = row?;
        anyhow::ensure!(
            dictionary == 1,
            "the stored record of event {event_id:?} uses dictionary {dictionary}, which a \
             newer trailwarden wrote"
        );
        let inflated = inflate_record(&compressed)
            .with_context(|| format!("the stored record of event {event_id:?} is damaged"))?;
        records.push(EventRecord {
            recorded_at,
            bytes: u64::try_from(bytes).unwrap_or(0),
            truncated,
            text: String::from_utf8_lossy(&inflated).into_owned(),
        });
    }
    Ok((records, u64::try_from(total).unwrap_or(0)))
}

/// An event's record as `event_records` keeps it: hashed whole, cut to
/// [`MAX_STORED_RECORD_BYTES`] and deflated.
pub struct PreparedRecord<'a> {
    pub event_id: &'a str,
    sha256: [u8; 32],
    bytes: usize,
    truncated: bool,
    deflated: Vec<u8>,
}

/// Hashes and compresses (event id, record text) pairs for
/// [`AuditStore::record_prepared_records`]: CPU work, done outside any transaction.
///
/// # Errors
/// The compressor fails.
pub fn prepare_event_records<'a>(records: &[(&'a str, &str)]) -> Result<Vec<PreparedRecord<'a>>> {
    use sha2::{Digest, Sha256};
    records
        .iter()
        .map(|(event_id, text)| {
            let kept = cut_at_char_boundary(text, MAX_STORED_RECORD_BYTES);
            Ok(PreparedRecord {
                event_id,
                sha256: Sha256::digest(text.as_bytes()).into(),
                bytes: text.len(),
                truncated: kept.len() < text.len(),
                deflated: deflate_record(kept.as_bytes())?,
            })
        })
        .collect()
}

/// `text` as raw deflate at the fast level (this runs on the findings' write path) with
/// [`RECORD_DICTIONARY_V1`].
fn deflate_record(text: &[u8]) -> Result<Vec<u8>> {
    use flate2::{Compress, Compression, FlushCompress, Status};
    thread_local! {
        // A compressor's state is a few hundred KiB, zeroed when made: made once per thread
        // and reset per record, it costs what compressing the record costs.
        static DEFLATE: std::cell::RefCell<Compress> =
            std::cell::RefCell::new(Compress::new(Compression::fast(), false));
    }
    DEFLATE.with_borrow_mut(|deflate| {
        deflate.reset();
        deflate.set_dictionary(RECORD_DICTIONARY_V1)?;
        let mut out = Vec::with_capacity(text.len() / 2 + 64);
        loop {
            let consumed = usize::try_from(deflate.total_in())?;
            match deflate.compress_vec(&text[consumed..], &mut out, FlushCompress::Finish)? {
                Status::StreamEnd => return Ok(out),
                // Out of room: `compress_vec` writes only into spare capacity.
                Status::Ok | Status::BufError => out.reserve(out.capacity().max(1024)),
            }
        }
    })
}

/// [`deflate_record`] undone, stopping at [`MAX_STORED_RECORD_BYTES`] (a database edited by
/// hand must not inflate without end).
fn inflate_record(compressed: &[u8]) -> Result<Vec<u8>> {
    use flate2::{Decompress, FlushDecompress, Status};
    let mut inflate = Decompress::new(false);
    inflate.set_dictionary(RECORD_DICTIONARY_V1)?;
    let mut out = Vec::with_capacity(compressed.len() * 3);
    while out.len() < MAX_STORED_RECORD_BYTES {
        let (consumed, produced) = (usize::try_from(inflate.total_in())?, out.len());
        out.reserve((MAX_STORED_RECORD_BYTES - out.len()).min(64 * 1024));
        let status =
            inflate.decompress_vec(&compressed[consumed..], &mut out, FlushDecompress::Finish)?;
        if status == Status::StreamEnd {
            break;
        }
        if usize::try_from(inflate.total_in())? == consumed && out.len() == produced {
            anyhow::bail!("the compressed record ends early");
        }
    }
    out.truncate(MAX_STORED_RECORD_BYTES);
    Ok(out)
}

/// `text` cut to at most `limit` bytes, at a character boundary.
fn cut_at_char_boundary(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Tables that [`AuditStore::count_by`] may read.
#[derive(Debug, Clone, Copy)]
pub enum AuditTable {
    Findings,
    PluginFailures,
    PluginLoads,
    RejectedInputs,
}

impl AuditTable {
    fn name(self) -> &'static str {
        match self {
            AuditTable::Findings => "findings",
            AuditTable::PluginFailures => "plugin_failures",
            AuditTable::PluginLoads => "plugin_loads",
            AuditTable::RejectedInputs => "rejected_inputs",
        }
    }
}

/// A write to the database at `path` failed. SQLite reports a file system that turned
/// read-only under it (ext4 remounts itself read-only after a disk error) as a bare
/// "disk I/O error"; for such an I/O, read-only or cannot-open failure, the file system's
/// own answer to opening the file for writing is added, which says why. Other errors
/// (locked, full, a plugin's) are returned as they are, without touching the file.
#[must_use]
pub fn explain_write_failure(path: &Path, error: anyhow::Error) -> anyhow::Error {
    use rusqlite::ErrorCode;
    let storage = error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(failure, _))
                if matches!(
                    failure.code,
                    ErrorCode::SystemIoFailure | ErrorCode::ReadOnly | ErrorCode::CannotOpen
                )
        )
    });
    if storage {
        with_os_reason(path, error)
    } else {
        error
    }
}

/// SQLite says "disk I/O error" whatever the cause; the file system's own answer to opening
/// the file for writing (read-only file system, permission denied) says why.
fn with_os_reason(path: &Path, error: anyhow::Error) -> anyhow::Error {
    match trailwarden_store::why_not_writable(path) {
        Some(os) => error.context(format!("{} cannot be written: {os}", path.display())),
        None => error,
    }
}

/// The current time as RFC 3339 UTC with seconds, the format CloudTrail uses.
pub use trailwarden_store::now_rfc3339;

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(event_id: &str) -> StoredFinding {
        StoredFinding {
            plugin: "p".into(),
            plugin_version: "1.0.0".into(),
            plugin_sha256: "abc".into(),
            rule_id: "r".into(),
            severity: "high".into(),
            title: "t".into(),
            description: "d".into(),
            resources: vec!["arn:aws:iam::1:root".into()],
            dedup_key: "k".into(),
            event_id: event_id.into(),
            event_time: Some("2024-01-02T03:04:05Z".into()),
            context: serde_json::json!({"a": 1}).into(),
            recorded_at: now_rfc3339(),
            suppressed_by: None,
        }
    }

    #[test]
    fn only_storage_failures_get_the_file_systems_reason() {
        let dir = tempfile::tempdir().unwrap();
        let io = |code| {
            anyhow::Error::new(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ))
            .context("flush")
        };
        // A storage failure on a file that cannot be opened for writing: the reason is added.
        let missing = dir.path().join("gone").join("audit.db");
        let explained = explain_write_failure(&missing, io(rusqlite::ffi::SQLITE_IOERR_WRITE));
        let text = format!("{explained:#}");
        assert!(text.contains("cannot be written: No such file"), "{text}");
        assert!(text.contains("disk I/O error"), "{text}");
        // Busy or full: returned as it was, the file not probed.
        for code in [rusqlite::ffi::SQLITE_BUSY, rusqlite::ffi::SQLITE_FULL] {
            let text = format!("{:#}", explain_write_failure(&missing, io(code)));
            assert!(!text.contains("cannot be written"), "{text}");
        }
        // A writable file adds nothing.
        let db = dir.path().join("audit.db");
        AuditStore::open(&db).unwrap();
        let text = format!(
            "{:#}",
            explain_write_failure(&db, io(rusqlite::ffi::SQLITE_IOERR_WRITE))
        );
        assert!(!text.contains("cannot be written"), "{text}");
    }

    #[test]
    fn migrations_are_idempotent_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let store = AuditStore::open(&path).unwrap();
        store.record_finding(&finding("e1")).unwrap();
        drop(store);
        let store = AuditStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len());
        assert_eq!(
            store.findings(&FindingQuery::default()).unwrap(),
            vec![finding("e1")]
                .into_iter()
                .map(|mut f| {
                    f.recorded_at = store.findings(&FindingQuery::default()).unwrap()[0]
                        .recorded_at
                        .clone();
                    f
                })
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_database_and_its_wal_and_shm_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let mode = |suffix: &str| {
            let file = dir.path().join(format!("audit.db{suffix}"));
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777
        };
        let store = AuditStore::open(&path).unwrap();
        store.record_finding(&finding("e1")).unwrap();
        for suffix in ["", "-wal", "-shm"] {
            assert_eq!(mode(suffix), 0o600, "audit.db{suffix}");
        }
        drop(store);
        // A database made world-readable earlier is narrowed when opened.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _store = AuditStore::open(&path).unwrap();
        assert_eq!(mode(""), 0o600);
    }

    #[test]
    fn an_older_database_upgrades_keeping_its_findings_and_reads_them_by_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        // A database as the release before this migration left it, with a finding in it.
        let previous = trailwarden_store::Schema {
            migrations: &MIGRATIONS[..4],
            ..STORE_SCHEMA
        };
        let conn = trailwarden_store::open(&path, &previous).unwrap();
        AuditStore::init(conn)
            .unwrap()
            .record_finding(&finding("old"))
            .unwrap();
        let indexes = |store: &AuditStore| -> Vec<String> {
            let mut stmt = store
                .conn
                .prepare(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'findings'
                     ORDER BY name",
                )
                .unwrap();
            let names = stmt.query_map([], |row| row.get(0)).unwrap();
            names.collect::<Result<_, _>>().unwrap()
        };
        let store = AuditStore::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len());
        // The indexes each finding is written into: the unique key, the chain's order, and
        // the plugin's findings (per-plugin reads); nothing only written.
        assert_eq!(
            indexes(&store),
            [
                "findings_by_plugin",
                "findings_chain",
                "sqlite_autoindex_findings_1"
            ]
        );
        let mut newer = finding("new");
        newer.event_time = Some("2025-06-01T00:00:00Z".into());
        store.record_finding(&newer).unwrap();
        let ids = |since: Option<&str>| -> Vec<String> {
            let query = FindingQuery {
                since: since.map(str::to_owned),
                ..FindingQuery::default()
            };
            let found = store.findings(&query).unwrap();
            found.into_iter().map(|f| f.event_id).collect()
        };
        assert_eq!(ids(None), ["new", "old"]);
        assert_eq!(ids(Some("2025-01-01T00:00:00Z")), ["new"]);
        assert!(
            matches!(
                store.verify_chain().unwrap(),
                crate::chain::Verdict::Intact { rows: 2, .. }
            ),
            "{:?}",
            store.verify_chain()
        );
    }

    #[test]
    fn the_same_finding_is_recorded_once() {
        let store = AuditStore::in_memory().unwrap();
        assert!(store.record_finding(&finding("e1")).unwrap());
        assert!(!store.record_finding(&finding("e1")).unwrap());
        assert!(store.record_finding(&finding("e2")).unwrap());
        assert_eq!(store.findings(&FindingQuery::default()).unwrap().len(), 2);
    }

    #[test]
    fn a_batch_of_findings_chains_like_findings_recorded_one_by_one() {
        let mut store = AuditStore::in_memory().unwrap();
        store.record_finding(&finding("e0")).unwrap();
        let mut no_time = finding("e3");
        no_time.event_time = None;
        // A repeat within the batch and of an earlier finding: skipped, the chain unbroken.
        let batch = [
            finding("e1"),
            finding("e2"),
            finding("e1"),
            finding("e0"),
            no_time,
        ];
        let new = store
            .in_transaction(|audit| audit.record_findings(&batch))
            .unwrap();
        assert_eq!(new, 3);
        store.record_finding(&finding("e4")).unwrap();
        // `audit verify` recomputes every link from the stored columns.
        match store.verify_chain().unwrap() {
            crate::chain::Verdict::Intact { rows, .. } => assert_eq!(rows, 5),
            broken => panic!("{broken:?}"),
        }
    }

    #[test]
    fn a_chain_head_out_of_step_with_the_table_fails_the_batch_rather_than_drop_findings() {
        let mut store = AuditStore::in_memory().unwrap();
        store.record_finding(&finding("e1")).unwrap();
        store
            .conn
            .execute(
                "UPDATE chain_heads SET seq = 0 WHERE chain = 'findings'",
                [],
            )
            .unwrap();
        let result = store.in_transaction(|audit| audit.record_findings(&[finding("e2")]));
        assert!(result.is_err(), "{result:?}");
        assert_eq!(store.findings(&FindingQuery::default()).unwrap().len(), 1);
    }

    #[test]
    fn an_event_record_is_kept_once_per_content_and_cut_when_oversized() {
        let store = AuditStore::in_memory().unwrap();
        let record = r#"{"eventID":"e1","eventName":"ConsoleLogin","note":"café"}"#;
        // Two findings of one event, in one batch and again in a later one: kept once.
        assert_eq!(
            store
                .record_event_records(&[("e1", record), ("e1", record)])
                .unwrap(),
            1
        );
        assert_eq!(store.record_event_records(&[("e1", record)]).unwrap(), 0);
        let (kept, total) = event_records(&store.conn, "e1", 5).unwrap();
        assert_eq!(total, 1);
        assert_eq!(kept[0].text, record);
        assert_eq!(
            (kept[0].bytes, kept[0].truncated),
            (record.len() as u64, false)
        );
        // Another content under the same id (a forged copy) is kept beside it.
        let copy = r#"{"eventID":"e1","eventName":"DeleteTrail"}"#;
        assert_eq!(store.record_event_records(&[("e1", copy)]).unwrap(), 1);
        let (kept, total) = event_records(&store.conn, "e1", 5).unwrap();
        assert_eq!(total, 2);
        assert_eq!(
            [kept[0].text.as_str(), kept[1].text.as_str()],
            [record, copy]
        );
        // Over the cap: the first 256 KiB kept (not splitting the two-byte "é"), marked cut.
        // (23 bytes before the first "é": the cap falls inside one.)
        let big = format!("{{\"eventID\":\"big1\",\"x\":\"{}\"}}", "é".repeat(200_000));
        store.record_event_records(&[("big1", &big)]).unwrap();
        let (kept, _) = event_records(&store.conn, "big1", 5).unwrap();
        assert!(kept[0].truncated);
        assert_eq!(kept[0].bytes, big.len() as u64);
        assert_eq!(kept[0].text.len(), MAX_STORED_RECORD_BYTES - 1);
        assert!(big.starts_with(&kept[0].text));
        assert!(event_records(&store.conn, "none", 5).unwrap().0.is_empty());
    }

    #[test]
    fn the_first_record_dictionary_never_changes() {
        use sha2::{Digest, Sha256};
        // Stored records name dictionary 1 and inflate only with it, byte for byte: a
        // better dictionary is added as number 2, never written over this one.
        assert_eq!(
            hex::encode(Sha256::digest(RECORD_DICTIONARY_V1)),
            "69c69665d5bf8dde7a226224e2239d206fa9f6fac714d41dc56ed3c7ba8de0ac"
        );
    }

    #[test]
    fn findings_filter_by_plugin_and_time() {
        let store = AuditStore::in_memory().unwrap();
        store.record_finding(&finding("e1")).unwrap();
        let since_later = FindingQuery {
            since: Some("2025-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        assert!(store.findings(&since_later).unwrap().is_empty());
        let other_plugin = FindingQuery {
            plugin: Some("q".into()),
            ..Default::default()
        };
        assert!(store.findings(&other_plugin).unwrap().is_empty());
    }
}
