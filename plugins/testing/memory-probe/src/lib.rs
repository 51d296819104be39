//! Test fixture, not a plugin: every batch checks that it starts on fresh memory, then
//! leaves marks for the next instance to find. The host resets a freed instance's memory
//! before its slot serves another (in place, for the pages kept resident); this guest is how
//! a test sees that it did.
//!
//! One finding [`RULE_ID`] per batch, about its first event, whose `context` holds:
//! - `batches_before`: a counter in zero-initialised memory, incremented by each batch;
//! - `seeded_intact`: whether a value of the data segment still holds its initial value
//!   (each batch overwrites it);
//! - `static_marks`: pages of a 3 MiB zero-initialised static found non-zero (each batch
//!   writes a byte on every page of it);
//! - `heap_marks`: pages of a 3 MiB zeroed heap allocation found non-zero (each batch
//!   writes the same into one and leaks it).
//!
//! On fresh memory: `0`, `true`, `0`, `0`.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

use trailwarden_plugin_sdk::serde_json::json;
use trailwarden_plugin_sdk::{Descriptor, Event, Finding, Plugin, PluginError, Severity};

/// The probing guest.
pub struct MemoryProbe;

/// The rule id of its finding.
pub const RULE_ID: &str = "test.memory-probe";

/// The data segment's value, as it starts.
pub const SEED: u64 = 0x5A5A_5A5A_5A5A_5A5A;

const PAGE: usize = 4096;
const SPAN: usize = 3 << 20;

static BATCHES: AtomicU32 = AtomicU32::new(0);
static SEEDED: AtomicU64 = AtomicU64::new(SEED);
static ZEROED: [AtomicU8; SPAN] = [const { AtomicU8::new(0) }; SPAN];

/// Pages of `bytes` with a non-zero first byte.
fn marked_pages(bytes: impl Iterator<Item = u8>) -> usize {
    bytes.step_by(PAGE).filter(|b| *b != 0).count()
}

impl Plugin for MemoryProbe {
    fn describe() -> Descriptor {
        Descriptor::every_event(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn handle(events: Vec<Event>) -> Result<Vec<Finding>, PluginError> {
        let Some(first) = events.first() else {
            return Ok(Vec::new());
        };
        let batches_before = BATCHES.fetch_add(1, Ordering::Relaxed);
        let seeded_intact = SEEDED.swap(!SEED, Ordering::Relaxed) == SEED;
        let static_marks = marked_pages(ZEROED.iter().map(|b| b.load(Ordering::Relaxed)));
        for page in ZEROED.iter().step_by(PAGE) {
            page.store(0xAB, Ordering::Relaxed);
        }
        let mut heap = vec![0u8; SPAN];
        let heap_marks = marked_pages(heap.iter().copied());
        for byte in heap.iter_mut().step_by(PAGE) {
            *byte = 0xAB;
        }
        std::mem::forget(std::hint::black_box(heap));
        Ok(vec![Finding {
            rule_id: RULE_ID.to_owned(),
            severity: Severity::Info,
            title: "what this batch's memory held at its start".to_owned(),
            description: format!("memory probe over a batch of {} event(s)", events.len()),
            resources: Vec::new(),
            dedup_key: format!("{RULE_ID}:{}", first.id),
            event_id: first.id.clone(),
            context: json!({
                "batches_before": batches_before,
                "seeded_intact": seeded_intact,
                "static_marks": static_marks,
                "heap_marks": heap_marks,
            })
            .to_string(),
        }])
    }
}

trailwarden_plugin_sdk::export_plugin!(MemoryProbe);

#[cfg(test)]
mod tests {
    use super::*;
    use trailwarden_plugin_sdk::serde_json::Value;

    fn probe() -> Value {
        let event = Event {
            id: "e1".into(),
            ..Event::default()
        };
        let findings = MemoryProbe::handle(vec![event]).unwrap();
        trailwarden_plugin_sdk::serde_json::from_str(&findings[0].context).unwrap()
    }

    #[test]
    fn a_second_batch_on_the_same_memory_finds_the_first_ones_marks() {
        // Natively both batches share one process's memory: what a host that failed to
        // reset a slot would hand the second instance.
        let first = probe();
        assert_eq!(first["batches_before"], 0);
        assert_eq!(first["seeded_intact"], true);
        assert_eq!(first["static_marks"], 0);
        let second = probe();
        assert_eq!(second["batches_before"], 1);
        assert_eq!(second["seeded_intact"], false);
        assert_eq!(second["static_marks"], (SPAN / PAGE) as u64);
    }
}
