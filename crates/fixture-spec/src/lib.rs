//! A plugin fixture, with one meaning wherever it runs: in `trailwarden test`, in the host's
//! reload canary, and in a plugin crate's native `cargo test` (the SDK's `testing` module).
//!
//! A fixture file is one JSON object:
//! `{"name": "...", "events": [<records in any shape the host reads>], "findings": [<subsets>],
//!   "actions": [<expected calls>], "config": {<plugin config>}}` (`actions` and `config`
//! optional). This crate holds what both runners must agree on:
//! - [`parse`]: the format, unknown keys refused ([`FIXTURE_KEYS`], [`EXPECTED_KEYS`],
//!   [`ACTION_KEYS`]), receipts and capability names checked;
//! - [`fixture_events`]: the events a plugin is handed, normalised by the host's normaliser
//!   (so the same hot fields and the same synthetic ids) and routed by the plugin's patterns;
//! - [`compare_findings`] and [`compare_actions`]: expected findings paired one-to-one with
//!   the raised ones (a perfect matching, in any order), calls checked in order.
//!
//! Running the plugin is each side's own business (a component in the host, a native
//! `handle` in the SDK).

mod events;
mod format;
mod matching;

pub use events::fixture_events;
pub use format::{
    parse, ExpectedAction, Fixture, ReceiptKind, ACTION_KEYS, EXPECTED_KEYS, FIXTURE_KEYS,
};
pub use matching::{compare_actions, compare_findings, finding_matches, finding_value, subset};

/// The id of the `n`th recorded call's receipt (1-based), as both runners answer it.
pub fn receipt_id(n: usize) -> String {
    format!("fixture-action-{n}")
}

/// The reason a fixture's `denied` receipt gives.
pub const DENIED_BY_FIXTURE: &str = "denied by the fixture";

/// The events fixtures hand plugins are the host normaliser's.
pub use cloudtrail_normalize::NormalizedEvent;

/// The synthetic id of a record without an `eventID`, as the host's normaliser makes it.
pub use cloudtrail_normalize::synthetic_event_id;
