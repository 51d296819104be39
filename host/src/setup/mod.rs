//! `trailwarden setup ...`: the AWS resources trailwarden reads from and acts through.
//!
//! - [`trail`]: the CloudTrail trail, its bucket (policy, public access block) and event
//!   selectors, converged idempotently; [`check`]: drift against it and the CIS controls.
//! - [`eventbridge`]: a rule sending CloudTrail events to the daemon (API destination) or to
//!   an SQS queue the daemon consumes.
//! - [`responder_role`]: the CloudFormation template of the least-privilege responder role.
//! - [`cli`]: the subcommands.

pub mod check;
pub mod cli;
pub mod eventbridge;
pub mod policy;
pub mod responder_role;
pub mod trail;

pub use eventbridge::{eventbridge, Created, EventBridgeSetup, CLOUDTRAIL_PATTERN};

/// One change that setup made, or would make with `--dry-run`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// What it touches, e.g. `bucket my-logs` or `trail main`.
    pub resource: String,
    /// What changes, e.g. `create` or `LogFileValidationEnabled: false -> true`.
    pub change: String,
}

impl Change {
    pub fn new(resource: impl Into<String>, change: impl Into<String>) -> Change {
        Change {
            resource: resource.into(),
            change: change.into(),
        }
    }
}

/// Prints what was (or would be) changed, or that nothing needed to change.
pub fn print_changes(changes: &[Change], dry_run: bool, what: &str) {
    if changes.is_empty() {
        println!("no changes: {what} is already as configured");
        return;
    }
    let verb = if dry_run { "would change" } else { "changed" };
    for change in changes {
        println!("{verb} {}: {}", change.resource, change.change);
    }
    if dry_run {
        println!(
            "dry run: {} change(s) not applied; run again without --dry-run to apply",
            changes.len()
        );
    } else {
        println!("{} change(s) applied", changes.len());
    }
}

/// The AWS partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

pub(crate) use crate::aws::sdk_error;
