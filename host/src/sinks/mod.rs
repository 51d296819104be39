//! Findings sent on by the daemon (`[[sinks]]`): Security Hub, S3, webhooks.
//!
//! Each sink reads the findings the pipeline recorded, in row-id order, through its own
//! outbox in the audit database (`store`): a delivery (a range of finding ids) is
//! committed before it is sent and marked delivered after; a failed send is retried with a
//! backoff that doubles up to five minutes. A restart resends the pending delivery with the
//! same findings under the same key, which each destination treats as the same delivery
//! (`deliver`), so a crash neither loses nor duplicates a finding.
//!
//! - [`config`]: the `[[sinks]]` tables.
//! - [`store`]: cursors and deliveries.
//! - [`deliver`]: the three destinations.

pub mod deliver;
pub mod store;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use crate::sink_settings::{SinkConfig, SinkKind};
use deliver::{Destination, Techniques};
use store::{now_ms, SinkStore};

use crate::config::Config;

/// The longest wait between two attempts of a delivery.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Starts one task per configured sink; each ends after its current send once `stop` is
/// set. Sinks are read at start: a change to `[[sinks]]` takes a restart. Call it before
/// intake starts: a new sink's cursor is placed here, so that it covers every finding the
/// daemon records from now on.
///
/// # Errors
/// A sink's outbox cannot be created in the audit database.
pub fn spawn(config: &Config, stop: watch::Receiver<bool>) -> anyhow::Result<Vec<JoinHandle<()>>> {
    if config.sinks.is_empty() {
        return Ok(Vec::new());
    }
    let store = SinkStore::open(&config.database)?;
    for sink in &config.sinks {
        store.start_cursor(&sink.name, sink.backfill)?;
    }
    drop(store);
    let config = Arc::new(config.clone());
    let techniques: Arc<tokio::sync::OnceCell<Arc<Techniques>>> = Arc::default();
    Ok(config
        .sinks
        .iter()
        .map(|sink| {
            let sink = sink.clone();
            let config = config.clone();
            let techniques = techniques.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                // Set up here, not before: the AWS configuration lookups must not hold
                // start-up, nor the catalog load (the plugins, from the compile cache).
                let techniques = techniques
                    .get_or_init(|| rule_techniques(config.clone()))
                    .await
                    .clone();
                let target = crate::aws::AwsTarget::of(&config);
                let sdk = target.sdk_config().await;
                let sdk = sdk
                    .to_builder()
                    .timeout_config(
                        aws_config::timeout::TimeoutConfig::builder()
                            .connect_timeout(Duration::from_secs(5))
                            .operation_attempt_timeout(Duration::from_secs(20))
                            .operation_timeout(Duration::from_secs(60))
                            .build(),
                    )
                    .build();
                let destination = Destination::of(
                    &sink,
                    &sdk,
                    &target,
                    config.response.platform_account.as_deref(),
                );
                let runner = SinkRunner {
                    sink,
                    destination,
                    database: config.database.clone(),
                    techniques,
                };
                runner.run(stop).await;
            })
        })
        .collect())
}

/// The ATT&CK techniques of every loaded rule, or none (with a warning) if the catalogs
/// cannot be read: the findings still go out, without `attacks`.
async fn rule_techniques(config: Arc<Config>) -> Arc<Techniques> {
    let loaded = tokio::task::spawn_blocking(move || crate::rules_cli::catalog(&config)).await;
    let mut techniques = Techniques::new();
    match loaded {
        Ok(Ok((rules, _))) => {
            for rule in &rules {
                techniques.insert(
                    rule.id.clone(),
                    crate::report::coverage::techniques_of(rule),
                );
            }
        }
        Ok(Err(e)) => tracing::warn!("sinks: rule catalogs unreadable, no ATT&CK mapping: {e:#}"),
        Err(e) => tracing::warn!("sinks: rule catalogs unreadable, no ATT&CK mapping: {e}"),
    }
    Arc::new(techniques)
}

struct SinkRunner {
    sink: SinkConfig,
    destination: Destination,
    database: PathBuf,
    techniques: Arc<Techniques>,
}

impl SinkRunner {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let name = self.sink.name.clone();
        let store = loop {
            let opened = tokio::task::block_in_place(|| SinkStore::open(&self.database));
            match opened {
                Ok(store) => break store,
                Err(e) => {
                    tracing::error!(sink = name, "cannot open the sink's outbox: {e:#}");
                    if pause(&mut stop, MAX_BACKOFF.min(self.sink.backoff * 8)).await {
                        return;
                    }
                }
            }
        };
        // A connection is not `Sync`: the task holds it behind a lock it takes only inside
        // `block_in_place`, never across an await.
        let store = std::sync::Mutex::new(store);
        tracing::info!(sink = name, "sink started");
        while !*stop.borrow() {
            let next = with_store(&store, |s| s.next_delivery(&name, self.sink.max_batch));
            let delivery = match next {
                Ok(Some(delivery)) => delivery,
                Ok(None) => {
                    if pause(&mut stop, self.sink.interval).await {
                        break;
                    }
                    continue;
                }
                Err(e) => {
                    tracing::error!(sink = name, "the sink's outbox cannot be read: {e:#}");
                    if pause(&mut stop, self.sink.backoff).await {
                        break;
                    }
                    continue;
                }
            };
            let wait = delivery.next_attempt_ms - now_ms();
            if wait > 0 {
                if pause(&mut stop, Duration::from_millis(wait as u64)).await {
                    break;
                }
                continue;
            }
            self.attempt(&store, &delivery).await;
        }
        tracing::info!(sink = name, "sink stopped");
    }

    /// One attempt at a delivery; the outcome is recorded.
    async fn attempt(&self, store: &Mutex<SinkStore>, delivery: &store::Delivery) {
        let name = &self.sink.name;
        let findings = match with_store(store, |s| s.findings(delivery)) {
            Ok(findings) => findings,
            Err(e) => {
                tracing::error!(sink = name, "cannot read the findings to send: {e:#}");
                return;
            }
        };
        let outcome = self
            .destination
            .send(delivery, &findings, &self.techniques)
            .await;
        let recorded = match outcome {
            Ok(sent) => {
                let note = (!sent.refused.is_empty()).then(|| sent.refused.join("; "));
                if let Some(note) = &note {
                    tracing::warn!(
                        sink = name,
                        delivery = delivery.key(),
                        "refused in part: {note}"
                    );
                }
                tracing::info!(
                    sink = name,
                    delivery = delivery.key(),
                    findings = sent.findings,
                    places = ?sent.places,
                    "delivered"
                );
                with_store(store, |s| s.delivered(delivery, note.as_deref()))
            }
            Err(e) => {
                // Every failure is retried, final ones too (a wrong secret, a missing
                // bucket): they are fixed by an administrator, and giving up would lose
                // findings. The error stays on the delivery's row and in the log.
                let delay = backoff(self.sink.backoff, delivery.attempts);
                if e.retryable {
                    tracing::warn!(
                        sink = name,
                        delivery = delivery.key(),
                        ?delay,
                        "send failed: {}",
                        e.message
                    );
                } else {
                    tracing::error!(
                        sink = name,
                        delivery = delivery.key(),
                        ?delay,
                        "send refused: {}",
                        e.message
                    );
                }
                let at = now_ms() + delay.as_millis() as i64;
                with_store(store, |s| s.retry_later(delivery, &e.message, at))
            }
        };
        if let Err(e) = recorded {
            tracing::error!(sink = name, "cannot record the delivery's outcome: {e:#}");
        }
    }
}

/// Runs `work` on the store, off the async threads' hot path (SQLite may wait on a lock).
fn with_store<T>(store: &Mutex<SinkStore>, work: impl FnOnce(&SinkStore) -> T) -> T {
    tokio::task::block_in_place(|| work(&store.lock().unwrap_or_else(|e| e.into_inner())))
}

/// The wait after the `attempts`-th failure: `first` doubled each time, at most five minutes.
fn backoff(first: Duration, attempts: u32) -> Duration {
    first
        .saturating_mul(1u32 << attempts.min(20))
        .min(MAX_BACKOFF)
}

/// Sleeps for `wait` or until `stop` is set; true when stopping.
async fn pause(stop: &mut watch::Receiver<bool>, wait: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(wait) => *stop.borrow(),
        changed = stop.changed() => changed.is_err() || *stop.borrow(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let first = Duration::from_millis(100);
        assert_eq!(backoff(first, 0), first);
        assert_eq!(backoff(first, 3), Duration::from_millis(800));
        assert_eq!(backoff(first, 40), MAX_BACKOFF);
    }
}
