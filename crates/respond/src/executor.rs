//! The outbox's executors: carry accepted actions out on AWS (or a webhook), retry with
//! backoff, and record each outcome with its AWS request id and its inverse.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use tokio::sync::watch;

use super::outbox::{ActionRecord, Outbox, LEASE_S};
use super::request::{Request, StoredRequest};
use crate::notify::deliver::Ran;
use crate::settings::ResponseSettings;

const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// First pause after the outbox itself fails (locked, unreadable); doubles, capped.
const OUTBOX_ERROR_PAUSE: Duration = Duration::from_millis(100);
const MAX_OUTBOX_ERROR_PAUSE: Duration = Duration::from_secs(30);

/// Runs actions from the outbox.
pub struct ActionRunner {
    outbox: Outbox,
    aws: aws_actions::Executor,
    settings: Arc<ResponseSettings>,
}

impl ActionRunner {
    /// # Errors
    /// The AWS SDK configuration cannot be loaded.
    pub async fn new(outbox: Outbox, settings: Arc<ResponseSettings>) -> Result<ActionRunner> {
        let aws = aws_executor(&settings).await?;
        Ok(ActionRunner {
            outbox,
            aws,
            settings,
        })
    }

    /// Whether carrying out `record` calls AWS (rather than a webhook).
    pub fn needs_aws(record: &ActionRecord) -> bool {
        matches!(record.request, StoredRequest::Request(Request::Aws { .. }))
    }

    /// Fails with one clear line when `record` needs AWS and no credentials resolve, so a
    /// command can refuse before changing the action's state.
    ///
    /// # Errors
    /// No AWS credentials could be found.
    pub async fn ensure_credentials_for(&self, record: &ActionRecord) -> Result<()> {
        if Self::needs_aws(record) {
            self.aws
                .check_credentials()
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
        }
        Ok(())
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Runs every action that is due, until none is; returns how many ran. Actions waiting
    /// for a retry later than `wait_for_retries` from now are left for later.
    ///
    /// # Errors
    /// The outbox cannot be read or written.
    pub async fn drain(&self, wait_for_retries: Duration) -> Result<usize> {
        let deadline = tokio::time::Instant::now() + wait_for_retries;
        let mut ran = 0;
        loop {
            match self.outbox.claim_due(now_s())? {
                Some(record) => {
                    self.execute_claimed(&record).await?;
                    ran += 1;
                }
                None if self.outbox.outstanding()? > 0
                    && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                None => return Ok(ran),
            }
        }
    }

    /// Runs actions as they become due until `shutdown` turns true, with the settings
    /// `updates` carries (a reload's notify targets, retry policy, AWS endpoint and roles).
    /// An outbox error (database locked, disk full) is logged and retried after a pause
    /// that grows while it lasts: it never ends the executor for the life of the process.
    pub async fn run(
        &mut self,
        mut shutdown: watch::Receiver<bool>,
        mut updates: watch::Receiver<Arc<ResponseSettings>>,
    ) {
        let delay = Duration::from_millis(self.settings.executor.start_delay_ms);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let mut failures: u32 = 0;
        loop {
            if *shutdown.borrow() {
                return;
            }
            if updates.has_changed().unwrap_or(false) {
                let settings = updates.borrow_and_update().clone();
                self.apply(settings).await;
            }
            let pause = match self.run_next().await {
                Ok(true) => {
                    failures = 0;
                    continue;
                }
                Ok(false) => {
                    failures = 0;
                    Duration::from_millis(200)
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let pause = OUTBOX_ERROR_PAUSE
                        .saturating_mul(2u32.saturating_pow(failures.min(16) - 1))
                        .min(MAX_OUTBOX_ERROR_PAUSE);
                    tracing::error!(
                        failures,
                        "the action executor cannot use the outbox (retrying in {pause:?}): {e:#}"
                    );
                    pause
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Claims and runs the next due action; false when none is due.
    async fn run_next(&self) -> Result<bool> {
        match self.outbox.claim_due(now_s())? {
            Some(record) => {
                self.execute_claimed(&record).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Takes a reload's settings; the AWS clients are rebuilt only if what they are built
    /// from changed (a bad endpoint keeps the old ones, and says so).
    async fn apply(&mut self, settings: Arc<ResponseSettings>) {
        let aws_changed = (
            &settings.endpoint_url,
            &settings.region,
            &settings.assume_role,
            &settings.platform_account,
        ) != (
            &self.settings.endpoint_url,
            &self.settings.region,
            &self.settings.assume_role,
            &self.settings.platform_account,
        );
        if aws_changed {
            match aws_executor(&settings).await {
                Ok(aws) => self.aws = aws,
                Err(e) => tracing::error!("reload: the AWS settings are kept as they were: {e:#}"),
            }
        }
        self.settings = settings;
        tracing::info!("the action executors took the reloaded settings");
    }

    /// Executes one action already claimed (status running) and records the outcome,
    /// renewing the claim's lease meanwhile so no other executor takes it over.
    ///
    /// # Errors
    /// The outbox cannot be written.
    pub async fn execute_claimed(&self, record: &ActionRecord) -> Result<()> {
        let every = Duration::from_secs((LEASE_S / 4).max(1) as u64);
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let work = self.execute(record);
        tokio::pin!(work);
        loop {
            tokio::select! {
                result = &mut work => return result,
                _ = renew.tick() => {
                    if let Err(e) = self.outbox.renew_lease(&record.id) {
                        tracing::warn!(action = record.id, "cannot renew the action's lease: {e:#}");
                    }
                }
            }
        }
    }

    async fn execute(&self, record: &ActionRecord) -> Result<()> {
        let Some(request) = record.request.request() else {
            self.outbox.attempt_failed(
                &record.id,
                "unreadable request: not one this release can execute",
                None,
                None,
            )?;
            return Ok(());
        };
        let result = match request {
            Request::Aws { action } => {
                let target = aws_actions::Target {
                    account: record.account.clone(),
                    region: record.region.clone(),
                };
                self.aws
                    .execute(action, &target, &record.id)
                    .await
                    .map(|o| {
                        let inverse = o.inverse.map(|action| Request::Aws { action });
                        (o.request_id, inverse)
                    })
            }
            notification => match crate::notify::deliver::run(
                &self.outbox,
                &self.settings,
                &self.aws,
                record,
                notification,
            )
            .await?
            {
                Ran::Recorded => return Ok(()),
                Ran::Sent(delivery) => {
                    tracing::info!(action = record.id, answer = %delivery.answer, "notification sent");
                    Ok((delivery.request_id, None))
                }
                Ran::Failed(error) => Err(error),
            },
        };
        match result {
            Ok((request_id, inverse)) => {
                self.outbox
                    .succeeded(&record.id, request_id.as_deref(), inverse.as_ref())?;
                tracing::info!(
                    action = record.id,
                    capability = record.capability,
                    "action succeeded"
                );
            }
            Err(error) => {
                let attempts = record.attempts + 1;
                let retry_at = (error.retryable && attempts < self.settings.executor.max_attempts)
                    .then(|| {
                        now_s()
                            + backoff(self.settings.executor.backoff_ms, attempts)
                                .as_secs()
                                .max(1) as i64
                    });
                tracing::warn!(
                    action = record.id,
                    capability = record.capability,
                    attempts,
                    retry = retry_at.is_some(),
                    "action failed: {}",
                    error.message
                );
                self.outbox.attempt_failed(
                    &record.id,
                    &error.message,
                    error.request_id.as_deref(),
                    retry_at,
                )?;
            }
        }
        Ok(())
    }
}

/// The AWS side of the executors, from the settings.
///
/// # Errors
/// The AWS SDK configuration cannot be set up (an invalid endpoint or role).
pub async fn aws_executor(settings: &ResponseSettings) -> Result<aws_actions::Executor> {
    aws_actions::Executor::new(aws_actions::AwsSettings {
        endpoint_url: settings.endpoint_url.clone(),
        region: settings.region.clone(),
        assume_role_by_account: settings.assume_role.clone(),
        platform_account: settings.platform_account.clone(),
        // The standard chain: env, profile, SSO, IMDS.
        credentials: None,
    })
    .await
    .map_err(|e| anyhow::anyhow!("cannot set up the AWS SDK: {e}"))
}

/// Exponential backoff from `base_ms`, doubling per attempt, capped at five minutes.
fn backoff(base_ms: u64, attempts: u32) -> Duration {
    let factor = 2u64.saturating_pow(attempts.saturating_sub(1));
    Duration::from_millis(base_ms.saturating_mul(factor)).min(MAX_BACKOFF)
}

fn now_s() -> i64 {
    super::outbox::now_us() / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1000, 1), Duration::from_secs(1));
        assert_eq!(backoff(1000, 3), Duration::from_secs(4));
        assert_eq!(backoff(1000, 30), Duration::from_secs(300));
    }
}
