//! What every source of events shares on its way into the [`Pipeline`]: dedup by eventID,
//! then ingest, with the outcome counted the way `POST /v1/events` answers it.

use std::collections::BTreeMap;

use anyhow::Result;
use cloudtrail_normalize::Item;
use serde::{Deserialize, Serialize};

use crate::dedup::{Dedup, Seen};
use crate::pipeline::Pipeline;

/// The skip reason of an event already seen within the dedup window.
pub const DUPLICATE: &str = "duplicate";

/// What became of a batch of items: `{"accepted": N, "skipped": {reason: n}, "rejected": {reason: n}}`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// Events handed to the pipeline.
    pub accepted: u64,
    /// Understood and not processed: normaliser skips and `duplicate`.
    pub skipped: BTreeMap<String, u64>,
    /// Bad input, dead-lettered in `rejected_inputs`.
    pub rejected: BTreeMap<String, u64>,
    /// Of the accepted events: an id already seen with other content (a dedup conflict),
    /// processed rather than skipped.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dedup_conflicts: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Outcome {
    /// Adds another outcome's counts to this one.
    pub fn add(&mut self, other: &Outcome) {
        self.accepted += other.accepted;
        self.dedup_conflicts += other.dedup_conflicts;
        for (k, v) in &other.skipped {
            *self.skipped.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.rejected {
            *self.rejected.entry(k.clone()).or_default() += v;
        }
    }

    /// Items accounted for.
    pub fn total(&self) -> u64 {
        self.accepted + self.skipped.values().sum::<u64>() + self.rejected.values().sum::<u64>()
    }

    /// Duplicates skipped.
    pub fn duplicates(&self) -> u64 {
        self.skipped.get(DUPLICATE).copied().unwrap_or(0)
    }
}

/// Hands `items` from `origin` to the pipeline, dropping events whose id `dedup` has seen.
///
/// Ids are only marked here; the caller commits them once the pipeline has flushed.
///
/// # Errors
/// The dedup table or the audit store cannot be read or written.
pub fn ingest_items(
    pipeline: &mut Pipeline,
    mut dedup: Option<&mut Dedup>,
    items: impl IntoIterator<Item = Item>,
    origin: &str,
) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    for item in items {
        match &item {
            Item::Event(event) => {
                if let Some(dedup) = dedup.as_deref_mut() {
                    match dedup.check_and_mark(&event.id, &event.content_digest())? {
                        Seen::New => {}
                        Seen::Duplicate => {
                            *outcome.skipped.entry(DUPLICATE.to_string()).or_default() += 1;
                            continue;
                        }
                        Seen::Conflict => {
                            // Debug formatting escapes the id: it is the sender's text.
                            tracing::warn!(
                                event_id = ?event.id,
                                origin,
                                "dedup_conflict: an event id already seen with other content; \
                                 processed, not skipped (a forged copy must not hide the real event)"
                            );
                            outcome.dedup_conflicts += 1;
                        }
                    }
                }
                outcome.accepted += 1;
            }
            Item::Skipped { reason, .. } => {
                *outcome
                    .skipped
                    .entry(reason.as_str().to_string())
                    .or_default() += 1;
            }
            Item::Rejected { reason, .. } => {
                *outcome
                    .rejected
                    .entry(reason.as_str().to_string())
                    .or_default() += 1;
            }
        }
        pipeline.ingest(item, origin)?;
    }
    Ok(outcome)
}

/// [`ingest_items`] for one delivery (a request body, a message, a file), with its rejects
/// recorded in one transaction first rather than one commit each: an input of bad lines
/// costs one commit, not one per line.
///
/// # Errors
/// As [`ingest_items`].
pub fn ingest_delivery(
    pipeline: &mut Pipeline,
    dedup: Option<&mut Dedup>,
    items: Vec<Item>,
    origin: &str,
) -> Result<Outcome> {
    let (rejected, rest): (Vec<Item>, Vec<Item>) = items
        .into_iter()
        .partition(|item| matches!(item, Item::Rejected { .. }));
    let mut outcome = Outcome::default();
    if !rejected.is_empty() {
        // Rejects touch only the audit store (no plugin runs), so nothing else writes
        // while the transaction is open.
        pipeline.audit().begin()?;
        match ingest_items(pipeline, None, rejected, origin) {
            Ok(part) => {
                pipeline.audit().commit()?;
                outcome.add(&part);
            }
            Err(e) => {
                pipeline.audit().rollback();
                return Err(e);
            }
        }
    }
    outcome.add(&ingest_items(pipeline, dedup, rest, origin)?);
    Ok(outcome)
}
