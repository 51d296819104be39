//! A finished batch made durable: its findings (suppressions applied), the records of the
//! events they are about, and its failures, in one transaction.
//!
//! With worker threads and an audit database on disk, the worker that ran the batch records
//! it on its own connection, so the pipeline thread only routes and counts: SQLite
//! serialises the writers (`BEGIN IMMEDIATE`), and the findings chain is appended under
//! that write lock, so any writer chains. Otherwise (one worker, or a store in memory) the
//! pipeline thread records.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Result;

use crate::audit::{now_rfc3339, prepare_event_records, AuditStore, StoredFinding};
use crate::runtime::PluginFailure;
use crate::suppress::Subject;

use super::pool::{Done, Routed};
use super::stored_finding;

/// What was recorded of a batch, for the pipeline's counts and lifecycle rules.
pub struct Recorded {
    pub stored: Vec<StoredFinding>,
    /// The parts of the batch that failed: their events (by index) and why.
    pub failures: Vec<(Range<usize>, PluginFailure)>,
}

/// Commits `done`'s findings, the records of their events and its failures in one
/// transaction; its parts are taken.
///
/// # Errors
/// The audit store cannot be written: nothing of the batch is recorded.
pub fn record_batch(audit: &mut AuditStore, done: &mut Done) -> Result<Recorded> {
    let parts = std::mem::take(&mut done.parts);
    let done = &*done;
    let plugin = done.plugin.clone();
    let recorded_at = now_rfc3339();
    let now = crate::suppress::now_s();
    let mut stored = Vec::new();
    // The events with findings, each once (by pointer: copies under one id stay apart),
    // for their records.
    let mut with_findings: Vec<&Routed> = Vec::new();
    let mut seen = HashSet::new();
    let mut failures = Vec::new();
    let mut forged = Vec::new();
    // Each id's positions in the batch, ascending: a finding finds its event (and the
    // copies under its id) without comparing ids across the whole batch.
    let mut positions: HashMap<&str, Vec<usize>> = HashMap::with_capacity(done.events.len());
    for (i, event) in done.events.iter().enumerate() {
        positions.entry(&event.0.event.id).or_default().push(i);
    }
    for (range, result) in parts {
        let events = &done.events[range.clone()];
        match result {
            Ok(findings) => {
                for finding in findings {
                    let in_part = positions
                        .get(finding.event_id.as_str())
                        .map(|all| {
                            all.iter()
                                .filter(|i| range.contains(i))
                                .map(|i| i - range.start)
                        })
                        .into_iter()
                        .flatten();
                    let mut in_part = in_part.peekable();
                    let Some(&at) = in_part.peek() else {
                        // A finding must name an event of its batch: a plugin cannot
                        // forge findings about events it never saw.
                        forged.push(format!(
                            "finding {:?} names event {:?}, which was not in its batch",
                            finding.rule_id, finding.event_id
                        ));
                        continue;
                    };
                    let event = &events[at];
                    let mut finding =
                        stored_finding(&plugin, finding, &event.0.event, &recorded_at);
                    if !done.suppressions.is_empty() {
                        finding.suppressed_by = done
                            .suppressions
                            .for_finding(&finding.rule_id, &Subject::of(&event.0.event), now)
                            .map(|s| s.id.clone());
                    }
                    // A finding names its event by id alone: when copies with other
                    // content share the id in this batch, any of them may have raised
                    // it, so each is kept (and the console shows them all). The first
                    // is `event`: once it is in, so are its copies.
                    if !seen.contains(&Arc::as_ptr(&event.0)) {
                        for copy in in_part.map(|i| &events[i]) {
                            seen.insert(Arc::as_ptr(&copy.0));
                            with_findings.push(&copy.0);
                        }
                    }
                    stored.push(finding);
                }
            }
            Err(failure) => failures.push((range, failure)),
        }
    }
    if stored.is_empty() && forged.is_empty() && failures.is_empty() {
        // Nothing to record (most small batches, as the daemon runs them): no write
        // transaction, which would take the database's write lock from the other writers.
        return Ok(Recorded { stored, failures });
    }
    // Most events with findings have them from several plugins: keep the record once.
    with_findings.retain(|routed| !routed.record_kept.load(Ordering::Relaxed));
    let records: Vec<(&str, &str)> = with_findings
        .iter()
        .map(|routed| (routed.event.id.as_str(), routed.event.raw.as_str()))
        .collect();
    // Hashed and compressed before the write lock: every other writer of the database
    // (the other workers, the broker's decisions, state) waits only for the inserts.
    let records = prepare_event_records(&records)?;
    audit.in_transaction(|audit| {
        audit.record_findings(&stored)?;
        audit.record_prepared_records(&records)?;
        for message in &forged {
            audit.record_plugin_failure(
                &plugin.name,
                &plugin.sha256,
                "invalid_output",
                message,
                &[],
            )?;
        }
        for (range, failure) in &failures {
            let ids: Vec<&str> = done.events[range.clone()]
                .iter()
                .map(|e| e.0.event.id.as_str())
                .collect();
            audit.record_plugin_failure(
                &plugin.name,
                &plugin.sha256,
                failure.kind.as_str(),
                &failure.message,
                &ids,
            )?;
        }
        Ok(())
    })?;
    for routed in &with_findings {
        routed.record_kept.store(true, Ordering::Relaxed);
    }
    Ok(Recorded { stored, failures })
}
