//! What responders do to actions: approve, reject, undo, and run what is due. Each change is
//! logged with who and when. (Listing them, which reads the audit store for each action's
//! finding, is the host's `actions_list`.)

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::executor::ActionRunner;
use super::outbox::{ActionRecord, NewAction, Outbox, Status};
use super::request::StoredRequest;
use crate::settings::ResponseSettings;

/// How long a CLI command waits for retries of the action it started.
const CLI_RETRY_WAIT: Duration = Duration::from_secs(30);

fn get(outbox: &Outbox, id: &str) -> Result<ActionRecord> {
    outbox
        .get(id)?
        .with_context(|| format!("no action {id} (see `trailwarden actions list`)"))
}

/// Approves a pending action and runs it.
///
/// # Errors
/// The action is not pending approval, or the outbox cannot be written.
pub async fn approve(
    outbox: &Outbox,
    settings: Arc<ResponseSettings>,
    id: &str,
    actor: &str,
) -> Result<ActionRecord> {
    let record = get(outbox, id)?;
    if record.status != Status::PendingApproval {
        bail!("action {id} is {}, not pending approval", record.status);
    }
    let runner = ActionRunner::new(outbox.clone(), settings).await?;
    // Without credentials the action would only fail: say so and leave it pending.
    runner
        .ensure_credentials_for(&record)
        .await
        .map_err(|e| anyhow::anyhow!("{e}; action {id} stays pending approval"))?;
    if !outbox.transition(id, Status::PendingApproval, Status::Accepted)? {
        bail!(
            "action {id} is {}, not pending approval",
            get(outbox, id)?.status
        );
    }
    outbox.log(id, actor, "approved", "")?;
    run_now(outbox, &runner, id).await
}

/// Runs a failed action again (its retries spent, or its error fixed since, such as
/// missing credentials); recorded with who and when.
///
/// # Errors
/// The action did not fail, AWS credentials are missing, or the outbox cannot be written.
pub async fn retry(
    outbox: &Outbox,
    settings: Arc<ResponseSettings>,
    id: &str,
    actor: &str,
) -> Result<ActionRecord> {
    let record = get(outbox, id)?;
    if record.status != Status::Failed {
        bail!(
            "action {id} is {}: only a failed action can be retried",
            record.status
        );
    }
    let runner = ActionRunner::new(outbox.clone(), settings).await?;
    runner
        .ensure_credentials_for(&record)
        .await
        .map_err(|e| anyhow::anyhow!("{e}; action {id} stays failed"))?;
    if !outbox.retry_failed(id)? {
        bail!("action {id} is {}, not failed", get(outbox, id)?.status);
    }
    outbox.log(id, actor, "retried", record.error.as_deref().unwrap_or(""))?;
    run_now(outbox, &runner, id).await
}

/// Rejects a pending action; it will never run.
///
/// # Errors
/// The action is not pending approval, or the outbox cannot be written.
pub fn reject(outbox: &Outbox, id: &str, actor: &str, reason: &str) -> Result<ActionRecord> {
    let record = get(outbox, id)?;
    if !outbox.transition(id, Status::PendingApproval, Status::Rejected)? {
        bail!("action {id} is {}, not pending approval", record.status);
    }
    outbox.log(id, actor, "rejected", reason)?;
    get(outbox, id)
}

/// Runs the recorded inverse of a succeeded action, as an action of its own.
///
/// # Errors
/// The action did not succeed, has no inverse, or the outbox cannot be written.
pub async fn undo(
    outbox: &Outbox,
    settings: Arc<ResponseSettings>,
    id: &str,
    actor: &str,
) -> Result<ActionRecord> {
    let record = get(outbox, id)?;
    if record.status != Status::Succeeded {
        bail!(
            "action {id} is {}: only a succeeded action can be undone",
            record.status
        );
    }
    let Some(inverse) = record.inverse.clone() else {
        bail!("action {id} ({}) has no inverse", record.capability);
    };
    let capability = inverse.capability();
    let request = StoredRequest::Request(inverse);
    let key = format!("undo:{id}");
    let undo_id = match outbox.by_key(&key)? {
        Some(existing) => existing.id,
        None => outbox.insert(&NewAction {
            idempotency_key: &key,
            plugin: &record.plugin,
            plugin_version: &record.plugin_version,
            plugin_sha256: &record.plugin_sha256,
            event_id: &record.event_id,
            capability,
            request: &request,
            account: &record.account,
            region: &record.region,
            resource: &record.resource,
            mode: "enforce",
            status: Status::Accepted,
            reason: None,
            received_us: None,
            undo_of: Some(id),
        })?,
    };
    let runner = ActionRunner::new(outbox.clone(), settings).await?;
    runner
        .ensure_credentials_for(&get(outbox, &undo_id)?)
        .await?;
    outbox.log(id, actor, "undo requested", &undo_id)?;
    let done = run_now(outbox, &runner, &undo_id).await?;
    if done.status == Status::Succeeded {
        outbox.transition(id, Status::Succeeded, Status::Undone)?;
        outbox.log(id, actor, "undone", &undo_id)?;
    }
    Ok(done)
}

/// Runs one accepted action now (retrying for a while), unless another executor has it.
async fn run_now(outbox: &Outbox, runner: &ActionRunner, id: &str) -> Result<ActionRecord> {
    let deadline = tokio::time::Instant::now() + CLI_RETRY_WAIT;
    loop {
        if outbox.claim(id)? {
            let record = get(outbox, id)?;
            runner.execute_claimed(&record).await?;
        }
        let record = get(outbox, id)?;
        let waiting = record.status == Status::Accepted || record.status == Status::Running;
        if !waiting || tokio::time::Instant::now() >= deadline {
            return Ok(record);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `actions run`: like [`run_due`], but when an action waiting to run needs AWS and no
/// credentials resolve, says so in one line and runs nothing (rather than spending every
/// action's attempts on the same missing credentials).
///
/// # Errors
/// No AWS credentials for an AWS action, or the outbox cannot be read or written.
pub async fn run_due_checked(
    outbox: &Outbox,
    settings: Arc<ResponseSettings>,
    wait: Duration,
) -> Result<usize> {
    outbox.requeue_running()?;
    let runner = ActionRunner::new(outbox.clone(), settings).await?;
    let waiting = outbox.list(Some(Status::Accepted), None)?;
    if let Some(aws) = waiting.iter().find(|a| ActionRunner::needs_aws(a)) {
        runner
            .ensure_credentials_for(aws)
            .await
            .map_err(|e| anyhow::anyhow!("{e}; the actions waiting to run stay as they are"))?;
    }
    runner.drain(wait).await
}

/// Runs every due action (after a crash, or when no daemon is running).
///
/// # Errors
/// The AWS SDK cannot be set up or the outbox cannot be written.
pub async fn run_due(
    outbox: &Outbox,
    settings: Arc<ResponseSettings>,
    wait: Duration,
) -> Result<usize> {
    outbox.requeue_running()?;
    let runner = ActionRunner::new(outbox.clone(), settings).await?;
    runner.drain(wait).await
}

/// The person running a command, for the action log.
pub fn actor(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}
