//! Response actions on AWS, carried out with the AWS SDK for Rust, and the webhook
//! notifier: the executors behind trailwarden's outbox.
//!
//! The host decides whether an action is allowed and records it before anything runs
//! (ARCHITECTURE.md, rule 4); this crate executes one action and reports an [`Outcome`] with
//! the action's inverse where one exists (invariant 5), or an [`ExecError`] that says
//! whether a retry can help.
//!
//! - [`action`]: the [`Action`] enum, capability names and resource ARNs.
//! - [`Executor`]: credentials, regions, cross-account roles, dispatch to `iam`,
//!   `cloudtrail`, `s3` and `eventbridge`.
//! - [`post_webhook`]: signed JSON POSTs; [`post_json`]: unsigned ones (Slack, Teams,
//!   PagerDuty); [`Executor::publish_sns`] and [`Executor::send_email`] (SES v2).
//! - [`permissions`]: the IAM actions each capability needs, and its undo.
//! - `moto` (feature `test-support`): a moto server for tests.

pub mod action;
mod clients;
mod cloudtrail;
mod error;
mod eventbridge;
mod executor;
pub mod iam;
#[cfg(feature = "test-support")]
pub mod moto;
mod notify_aws;
pub mod permissions;
mod s3;
pub mod webhook;

pub use action::{Action, PrincipalKind, PublicAccessBlock, CAPABILITIES};
pub use clients::AwsSettings;
pub use error::ExecError;
pub use executor::{Executor, Outcome, Target, NO_CREDENTIALS};
pub use webhook::{post_json, post_webhook, Answer};
