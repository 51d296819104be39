//! The floor under `make bench-shipped`'s rate: what recording a run's findings costs by
//! itself. Reads every finding of an audit database (the bench's first run) and records them
//! again, through the audit store's own write path (each sealed into the findings chain, the
//! unique key and the indexes), into a fresh database in DIR, in transactions of 256: no
//! normalising, routing, plugin or event record. Grouped by plugin and event, the order that
//! fills the indexes' pages best, so the floor is if anything low; the write-ahead log is
//! checkpointed by a thread of its own every 250 ms, as the pipeline's is. Then the same
//! rows as plain inserts into the same schema, without the chain: what the tamper evidence
//! adds. Best of three passes each.
//!
//! usage: findings_floor AUDIT_DB DIR
//! (prints `{"findings": N, "seconds": S, "plain_seconds": P}`)

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rusqlite::params;
use trailwarden::audit::{AuditStore, FindingQuery, StoredFinding};

/// Findings per transaction: the bench's batch size, a plugin batch's findings at most.
const PER_TRANSACTION: usize = 256;

/// A connection to the floor's database with no tables of its own.
const PLAIN_CONNECTION: trailwarden_store::Schema = trailwarden_store::Schema {
    store: "findings-floor",
    migrations: &[],
    synchronous: trailwarden_store::Synchronous::Normal,
    mirrors_user_version: false,
};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, dir] = args.as_slice() else {
        eprintln!("usage: findings_floor AUDIT_DB DIR");
        std::process::exit(2);
    };
    let mut findings = AuditStore::open(Path::new(source))?.findings(&FindingQuery::default())?;
    findings.sort_by(|a, b| (&a.plugin, &a.event_id).cmp(&(&b.plugin, &b.event_id)));
    let chained = best_of_three(Path::new(dir), |path| {
        let mut store = AuditStore::open(path)?;
        time_with_checkpointer(path, || {
            for chunk in findings.chunks(PER_TRANSACTION) {
                let recorded = store.in_transaction(|s| s.record_findings(chunk))?;
                anyhow::ensure!(recorded == chunk.len(), "findings not recorded");
            }
            Ok(())
        })
    })?;
    let plain = best_of_three(Path::new(dir), |path| {
        // The audit store makes the schema; the rows go in over a connection configured as
        // every store's is (log mode, sync level, checkpoint threshold, temporary files).
        drop(AuditStore::open(path)?);
        let mut conn = trailwarden_store::open(path, &PLAIN_CONNECTION)?;
        time_with_checkpointer(path, || {
            for chunk in findings.chunks(PER_TRANSACTION) {
                let transaction = conn.transaction()?;
                insert_plain(&transaction, chunk)?;
                transaction.commit()?;
            }
            Ok(())
        })
    })?;
    println!(
        "{{\"findings\": {}, \"seconds\": {chained:.6}, \"plain_seconds\": {plain:.6}}}",
        findings.len()
    );
    Ok(())
}

/// The least seconds of three passes of `pass`, each on a fresh database in a folder of its
/// own under `dir`, deleted with the folder after the pass.
fn best_of_three(dir: &Path, mut pass: impl FnMut(&Path) -> Result<f64>) -> Result<f64> {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let folder = tempfile::tempdir_in(dir).context("cannot make a folder for the floor")?;
        best = best.min(pass(&folder.path().join("findings-floor.db"))?);
    }
    Ok(best)
}

/// Seconds `writes` takes while the log is checkpointed off the writing thread.
fn time_with_checkpointer(path: &Path, writes: impl FnOnce() -> Result<()>) -> Result<f64> {
    let checkpointer = trailwarden_store::Checkpointer::start(path, Duration::from_millis(250))?;
    let started = Instant::now();
    writes()?;
    let seconds = started.elapsed().as_secs_f64();
    drop(checkpointer);
    Ok(seconds)
}

/// The findings' rows with their unique key and indexes, no chain columns.
fn insert_plain(conn: &rusqlite::Connection, findings: &[StoredFinding]) -> Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO findings (recorded_at, plugin, plugin_version, plugin_sha256, rule_id,
            severity, title, description, resources, dedup_key, event_id, event_time, context,
            suppressed_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    for f in findings {
        insert.execute(params![
            f.recorded_at,
            f.plugin,
            f.plugin_version,
            f.plugin_sha256,
            f.rule_id,
            f.severity,
            f.title,
            f.description,
            serde_json::to_string(&f.resources)?,
            f.dedup_key,
            f.event_id,
            f.event_time,
            f.context.as_str(),
            f.suppressed_by,
        ])?;
    }
    Ok(())
}
