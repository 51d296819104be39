//! Notifications where responders are (issue 21): `[notify.NAME]` targets of six kinds
//! (signed webhook, Slack, Teams, PagerDuty, SNS, email), secrets read from the environment
//! or a file, findings grouped by dedup key and rate-limited per target in SQLite beside
//! the outbox, and PagerDuty incidents resolved when their finding is.
//!
//! - `target`: the validated config of a target, and where its secrets come from.
//! - `message`: what a message says, rendered for each kind (pure).
//! - `groups`: the grouping and rate-limit tables and their transactions.
//! - `deliver`: sending, and running the outbox's notification actions.
//! - `resolve`: queueing PagerDuty resolves for a finding (the console's hook).
//!
//! The `notify test` and `notify resolve` commands are `crate::notify_cli`, outside this
//! module, so that notification delivery does not import the config loader.

pub mod deliver;
pub mod groups;
pub mod message;
pub mod resolve;
pub mod target;

pub use resolve::resolve_finding;
