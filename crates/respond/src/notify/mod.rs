//! Notifications where responders are (issue 21): `[notify.NAME]` targets of six kinds
//! (signed webhook, Slack, Teams, PagerDuty, SNS, email), secrets read from the environment
//! or a file, findings grouped by dedup key and rate-limited per target in SQLite beside
//! the outbox, and PagerDuty incidents resolved when their finding is.
//!
//! - `target`: the validated config of a target, and where its secrets come from (the
//!   crate's `notify_target`, which the response settings hold; so nothing below the
//!   executors imports this module).
//! - `message`: what a message says, rendered for each kind (pure).
//! - `groups`: the grouping and rate-limit tables and their transactions.
//! - `deliver`: sending, and running the outbox's notification actions.
//! - `resolve`: queueing PagerDuty resolves for a finding (the console's hook).
//!
//! The `notify test` and `notify resolve` commands are the host's `notify_cli`.

pub mod deliver;
pub mod groups;
pub mod message;
pub mod resolve;
pub use crate::notify_target as target;

pub use resolve::resolve_finding;
