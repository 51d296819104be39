//! The floor under `make bench-shipped`'s rate: what recording a run's findings costs by
//! itself. Reads every finding of an audit database (the bench's first run) and records them
//! again, through the audit store's own write path (each sealed into the findings chain, the
//! unique key and the indexes), into a fresh database in DIR, in transactions of 256: no
//! normalising, routing, plugin or event record. Grouped by plugin and event, the order that
//! fills the indexes' pages best, so the floor is if anything low; the write-ahead log is
//! checkpointed by a thread of its own every 250 ms, as the pipeline's is. Best of three passes.
//!
//! usage: findings_floor AUDIT_DB DIR  (prints `{"findings": N, "seconds": S}`)

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use trailwarden::audit::{AuditStore, FindingQuery};

/// Findings per transaction: the bench's batch size, a plugin batch's findings at most.
const PER_TRANSACTION: usize = 256;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, dir] = args.as_slice() else {
        eprintln!("usage: findings_floor AUDIT_DB DIR");
        std::process::exit(2);
    };
    let mut findings = AuditStore::open(Path::new(source))?.findings(&FindingQuery::default())?;
    findings.sort_by(|a, b| (&a.plugin, &a.event_id).cmp(&(&b.plugin, &b.event_id)));
    let mut best = f64::MAX;
    for pass in 0..3 {
        let path = Path::new(dir).join(format!("findings-floor-{pass}.db"));
        let mut store = AuditStore::open(&path)?;
        let checkpointer =
            trailwarden_store::Checkpointer::start(&path, Duration::from_millis(250))?;
        let started = Instant::now();
        for chunk in findings.chunks(PER_TRANSACTION) {
            let recorded = store.in_transaction(|s| s.record_findings(chunk))?;
            anyhow::ensure!(
                recorded == chunk.len(),
                "{} findings not recorded",
                chunk.len() - recorded
            );
        }
        best = best.min(started.elapsed().as_secs_f64());
        drop((checkpointer, store));
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", path.display());
            std::fs::remove_file(&file)
                .or_else(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .with_context(|| format!("cannot delete {file}"))?;
        }
    }
    println!(
        "{{\"findings\": {}, \"seconds\": {best:.6}}}",
        findings.len()
    );
    Ok(())
}
