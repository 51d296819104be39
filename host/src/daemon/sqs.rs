//! The SQS consumer: long-polls one queue whose messages are EventBridge events (a rule with
//! an SQS target), S3 event notifications of new log files (direct, through SNS, or through
//! EventBridge), or CloudTrail's own SNS notifications (`{"s3Bucket":..,"s3ObjectKey":[..]}`).
//! Log files are fetched from S3, gunzipped and split by `normalize_bytes`.
//!
//! A message is deleted only after every event it carried is flushed through the pipeline
//! and recorded; until then its visibility timeout is extended, so long files are not handed
//! to another consumer. A failure (S3 unreachable, audit write failed) leaves the message to
//! reappear after a backoff (1, 2, 4 ... s, at most the visibility timeout): several daemons
//! on one queue share the work, and dedup makes a redelivery harmless. An S3 object that
//! still fails on the message's `max_object_attempts`-th receive is dead-lettered
//! (`s3_object_failed`) and the message deleted, so a broken object is not retried forever.
//! Log files are fetched only from the buckets `[sqs] buckets` allows (deny by default): a
//! message naming another bucket is dead-lettered (`s3_bucket_not_allowed`) without a fetch,
//! so whoever can write to the queue cannot make the daemon read other buckets with its
//! credentials. Polling pauses while the intake queue is full.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_sqs::types::Message;
use cloudtrail_normalize::{normalize_bytes, normalize_bytes_with_hint, Item, Options};
use serde_json::Value;
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::JoinSet;

use super::worker::{Batch, Work};
use crate::aws::{decode_notification_key, fetch_object, FetchError, S3Url};
use crate::daemon_settings::SqsSettings;
use crate::intake::Outcome;
use crate::metrics::{Metrics, Source};

/// Items per batch sent to the pipeline thread (a log file is split into several).
const CHUNK_ITEMS: usize = 1000;

/// What intake tasks need to hand work to the pipeline thread.
#[derive(Clone)]
pub struct Intake {
    pub work: std::sync::mpsc::Sender<Work>,
    pub queue: Arc<Semaphore>,
    pub queue_capacity: usize,
    pub metrics: Arc<Metrics>,
    pub options: Options,
}

impl Intake {
    /// Hands `items` to the pipeline in chunks, waiting for queue room (this is where SQS
    /// intake slows down), and returns once all are recorded.
    ///
    /// # Errors
    /// The pipeline could not record them, or is gone.
    pub async fn submit(&self, source: Source, origin: &str, items: Vec<Item>) -> Result<Outcome> {
        let mut answers = Vec::new();
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let chunk: Vec<Item> = items.by_ref().take(CHUNK_ITEMS).collect();
            let wanted = chunk.len().clamp(1, self.queue_capacity) as u32;
            let permit = self
                .queue
                .clone()
                .acquire_many_owned(wanted)
                .await
                .context("the intake queue is closed")?;
            let (reply, answer) = oneshot::channel();
            self.work
                .send(Work::Batch(Batch {
                    source,
                    origin: origin.to_string(),
                    items: chunk,
                    permit: Some(permit),
                    reply,
                }))
                .map_err(|_| anyhow::anyhow!("the pipeline has stopped"))?;
            answers.push(answer);
        }
        let mut outcome = Outcome::default();
        for answer in answers {
            let part = answer
                .await
                .map_err(|_| anyhow::anyhow!("the pipeline has stopped"))?
                .map_err(|e| anyhow::anyhow!("not recorded: {e}"))?;
            outcome.add(&part);
        }
        Ok(outcome)
    }

    /// Keeps input that never reached the normaliser as a dead letter.
    ///
    /// # Errors
    /// The audit store could not record it, or the pipeline is gone.
    pub async fn dead_letter(
        &self,
        origin: &str,
        reason: &'static str,
        detail: String,
    ) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.work
            .send(Work::DeadLetter {
                origin: origin.to_string(),
                reason,
                detail,
                raw: origin.to_string(),
                reply,
            })
            .map_err(|_| anyhow::anyhow!("the pipeline has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the pipeline has stopped"))?
            .map_err(|e| anyhow::anyhow!("not recorded: {e}"))?;
        Ok(())
    }
}

/// What a message carries.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Log files to fetch.
    Objects(Vec<S3Url>),
    /// Events (or anything else, which the normaliser will skip or reject) in the text.
    Events(String),
    /// A probe with nothing in it (S3's `s3:TestEvent`, SNS subscription confirmations).
    Nothing(&'static str),
}

/// Recognises the shape of a message body.
pub fn classify(body: &str) -> Delivery {
    classify_depth(body, 0)
}

fn classify_depth(body: &str, depth: u32) -> Delivery {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return Delivery::Events(body.to_string());
    };
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    // SNS envelope: the payload is the JSON text in Message.
    if value.get("Type").and_then(Value::as_str) == Some("Notification") && depth < 2 {
        if let Some(message) = text(&value, "Message") {
            return classify_depth(&message, depth + 1);
        }
    }
    if value.get("Type").and_then(Value::as_str) == Some("SubscriptionConfirmation") {
        return Delivery::Nothing("sns_subscription_confirmation");
    }
    // CloudTrail's SNS notification of delivered log files.
    if let (Some(bucket), Some(keys)) = (
        text(&value, "s3Bucket"),
        value.get("s3ObjectKey").and_then(Value::as_array),
    ) {
        return Delivery::Objects(
            keys.iter()
                .filter_map(Value::as_str)
                .map(|key| S3Url {
                    bucket: bucket.clone(),
                    key: key.to_string(),
                })
                .collect(),
        );
    }
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Delivery::Nothing("s3_test_event");
    }
    // S3 event notification (direct to SQS, or through SNS).
    if let Some(records) = value.get("Records").and_then(Value::as_array) {
        let is_s3 = |r: &Value| r.get("eventSource").and_then(Value::as_str) == Some("aws:s3");
        if !records.is_empty() && records.iter().all(is_s3) {
            let objects: Vec<S3Url> = records
                .iter()
                .filter(|r| {
                    r.get("eventName")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.starts_with("ObjectCreated"))
                })
                .filter_map(|r| {
                    let s3 = r.get("s3")?;
                    Some(S3Url {
                        bucket: s3.get("bucket")?.get("name")?.as_str()?.to_string(),
                        key: decode_notification_key(s3.get("object")?.get("key")?.as_str()?),
                    })
                })
                .collect();
            return if objects.is_empty() {
                Delivery::Nothing("s3_not_object_created")
            } else {
                Delivery::Objects(objects)
            };
        }
    }
    // S3 "Object Created" through EventBridge (keys are not URL-encoded there).
    if value.get("source").and_then(Value::as_str) == Some("aws.s3")
        && value.get("detail-type").and_then(Value::as_str) == Some("Object Created")
    {
        let detail = &value["detail"];
        if let (Some(bucket), Some(key)) = (
            detail["bucket"]["name"].as_str(),
            detail["object"]["key"].as_str(),
        ) {
            return Delivery::Objects(vec![S3Url {
                bucket: bucket.to_string(),
                key: key.to_string(),
            }]);
        }
    }
    Delivery::Events(body.to_string())
}

/// Polls until `shutdown` turns true, then waits for the messages in hand.
pub async fn run(
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    settings: SqsSettings,
    intake: Intake,
    mut shutdown: watch::Receiver<bool>,
) {
    let settings = Arc::new(settings);
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let mut failures: u32 = 0;
    'poll: loop {
        // Backpressure: no new messages while the queue is full or enough are in hand.
        loop {
            while in_flight.try_join_next().is_some() {}
            let room = intake.queue.available_permits() > 0
                && in_flight.len() < settings.max_messages as usize;
            if room {
                break;
            }
            tokio::select! {
                _ = shutdown.changed() => break 'poll,
                _ = in_flight.join_next(), if !in_flight.is_empty() => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
        if *shutdown.borrow() {
            break;
        }
        let wanted = settings.max_messages - in_flight.len() as i32;
        let receive = sqs
            .receive_message()
            .queue_url(&settings.queue_url)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
            )
            .max_number_of_messages(wanted.max(1))
            .wait_time_seconds(settings.wait_time_s)
            .visibility_timeout(settings.visibility_timeout_s)
            .send();
        let received = tokio::select! {
            _ = shutdown.changed() => break 'poll,
            received = receive => received,
        };
        match received {
            Ok(output) => {
                failures = 0;
                for message in output.messages().iter().cloned() {
                    let task = MessageTask {
                        sqs: sqs.clone(),
                        s3: s3.clone(),
                        settings: settings.clone(),
                        intake: intake.clone(),
                    };
                    in_flight.spawn(task.handle(message));
                }
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let backoff = Duration::from_millis(200 * 2u64.pow(failures.min(7)));
                tracing::warn!(
                    "sqs: cannot receive from {} (retrying in {backoff:?}): {}",
                    settings.queue_url,
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                );
                tokio::select! {
                    _ = shutdown.changed() => break 'poll,
                    _ = tokio::time::sleep(backoff) => {}
                }
            }
        }
    }
    // Messages in hand finish (their events are recorded, then they are deleted).
    while in_flight.join_next().await.is_some() {}
}

struct MessageTask {
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    settings: Arc<SqsSettings>,
    intake: Intake,
}

impl MessageTask {
    async fn handle(self, message: Message) {
        let Some(receipt) = message.receipt_handle().map(str::to_string) else {
            return;
        };
        let id = message.message_id().unwrap_or("?").to_string();
        // 1 on the first delivery; moto and SQS both count.
        let receives: u32 = message
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let work = self.process(&id, message.body().unwrap_or(""), receives);
        tokio::pin!(work);
        // Extend the visibility while the message is being worked on.
        let period = Duration::from_secs((self.settings.visibility_timeout_s as u64 / 2).max(1));
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let result = loop {
            tokio::select! {
                result = &mut work => break result,
                _ = heartbeat.tick() => {
                    if let Err(e) = self
                        .sqs
                        .change_message_visibility()
                        .queue_url(&self.settings.queue_url)
                        .receipt_handle(&receipt)
                        .visibility_timeout(self.settings.visibility_timeout_s)
                        .send()
                        .await
                    {
                        tracing::warn!("sqs: cannot extend message {id}: {}",
                            aws_sdk_sqs::error::DisplayErrorContext(&e));
                    }
                }
            }
        };
        match result {
            Ok(outcome) => {
                tracing::debug!(message = id, ?outcome, "sqs message recorded");
                match self
                    .sqs
                    .delete_message()
                    .queue_url(&self.settings.queue_url)
                    .receipt_handle(&receipt)
                    .send()
                    .await
                {
                    Ok(_) => self.intake.metrics.sqs_message("deleted"),
                    Err(e) => {
                        // It comes back; dedup makes that harmless.
                        self.intake.metrics.sqs_message("delete_failed");
                        tracing::warn!(
                            "sqs: cannot delete message {id}: {}",
                            aws_sdk_sqs::error::DisplayErrorContext(&e)
                        );
                    }
                }
            }
            Err(e) => {
                self.intake.metrics.sqs_message("retried");
                // Back off: seen again after 1, 2, 4 ... s rather than a whole visibility
                // timeout, and never sooner (a failing object is not hammered).
                let delay = 2i32
                    .saturating_pow(receives.saturating_sub(1).min(30))
                    .min(self.settings.visibility_timeout_s);
                tracing::warn!(
                    "sqs: message {id} left for redelivery in {delay} s (receive {receives}): {e:#}"
                );
                if let Err(e) = self
                    .sqs
                    .change_message_visibility()
                    .queue_url(&self.settings.queue_url)
                    .receipt_handle(&receipt)
                    .visibility_timeout(delay)
                    .send()
                    .await
                {
                    tracing::warn!(
                        "sqs: cannot set message {id}'s retry delay: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(&e)
                    );
                }
            }
        }
    }

    async fn process(&self, id: &str, body: &str, receives: u32) -> Result<Outcome> {
        match classify(body) {
            Delivery::Nothing(what) => {
                self.intake.metrics.sqs_message(what);
                Ok(Outcome::default())
            }
            Delivery::Events(text) => {
                let options = self.intake.options.clone();
                let items =
                    tokio::task::spawn_blocking(move || normalize_bytes(text.as_bytes(), &options))
                        .await?;
                self.intake
                    .submit(Source::Sqs, &format!("sqs:{id}"), items)
                    .await
            }
            Delivery::Objects(objects) => {
                let mut outcome = Outcome::default();
                for url in objects {
                    outcome.add(&self.object(&url, receives).await?);
                }
                Ok(outcome)
            }
        }
    }

    async fn object(&self, url: &S3Url, receives: u32) -> Result<Outcome> {
        let origin = url.to_string();
        if !self.settings.allows_bucket(&url.bucket) {
            self.intake.metrics.s3_object("bucket_not_allowed");
            tracing::warn!("sqs: {origin} is in a bucket [sqs] buckets does not allow; not read");
            self.intake
                .dead_letter(
                    &origin,
                    "s3_bucket_not_allowed",
                    format!(
                        "bucket {:?} is not in [sqs] buckets; the object was not fetched",
                        url.bucket
                    ),
                )
                .await?;
            return Ok(Outcome::default());
        }
        match fetch_object(&self.s3, url, self.settings.max_object_bytes).await {
            Ok(bytes) => {
                self.intake.metrics.s3_object("read");
                let options = self.intake.options.clone();
                let hint = url.key.clone();
                let items = tokio::task::spawn_blocking(move || {
                    normalize_bytes_with_hint(&bytes, &options, Some(&hint))
                })
                .await?;
                self.intake.submit(Source::S3, &origin, items).await
            }
            Err(FetchError::Missing) => {
                self.intake.metrics.s3_object("missing");
                self.intake
                    .dead_letter(
                        &origin,
                        "s3_object_missing",
                        format!("{origin} does not exist"),
                    )
                    .await?;
                Ok(Outcome::default())
            }
            Err(FetchError::TooLarge(size)) => {
                self.intake.metrics.s3_object("too_large");
                self.intake
                    .dead_letter(
                        &origin,
                        "s3_object_too_large",
                        format!(
                            "{origin} is {size} bytes, over sqs.max_object_bytes ({})",
                            self.settings.max_object_bytes
                        ),
                    )
                    .await?;
                Ok(Outcome::default())
            }
            Err(FetchError::Other(e)) if receives >= self.settings.max_object_attempts => {
                self.intake.metrics.s3_object("failed_for_good");
                tracing::error!("sqs: {origin} failed {receives} times, dead-lettered: {e:#}");
                self.intake
                    .dead_letter(
                        &origin,
                        "s3_object_failed",
                        format!("{origin} could not be read in {receives} attempts: {e:#}"),
                    )
                    .await?;
                Ok(Outcome::default())
            }
            Err(FetchError::Other(e)) => {
                self.intake.metrics.s3_object("failed");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url(bucket: &str, key: &str) -> S3Url {
        S3Url {
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    #[test]
    fn cloudtrail_sns_notifications_name_log_files() {
        let inner = json!({"s3Bucket": "trail", "s3ObjectKey": ["AWSLogs/1/a.json.gz", "AWSLogs/1/b.json.gz"]});
        let body = json!({"Type": "Notification", "MessageId": "m", "Message": inner.to_string()});
        assert_eq!(
            classify(&body.to_string()),
            Delivery::Objects(vec![
                url("trail", "AWSLogs/1/a.json.gz"),
                url("trail", "AWSLogs/1/b.json.gz")
            ])
        );
    }

    #[test]
    fn s3_notifications_direct_and_through_eventbridge() {
        let body = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "trail"}, "object": {"key": "AWSLogs/1/my+file%3D.json.gz"}}}]});
        assert_eq!(
            classify(&body.to_string()),
            Delivery::Objects(vec![url("trail", "AWSLogs/1/my file=.json.gz")])
        );
        let eb = json!({"source": "aws.s3", "detail-type": "Object Created",
            "detail": {"bucket": {"name": "trail"}, "object": {"key": "k 1.json.gz"}}});
        assert_eq!(
            classify(&eb.to_string()),
            Delivery::Objects(vec![url("trail", "k 1.json.gz")])
        );
        let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "trail"});
        assert_eq!(
            classify(&test.to_string()),
            Delivery::Nothing("s3_test_event")
        );
    }

    #[test]
    fn anything_else_goes_to_the_normaliser() {
        let event =
            json!({"detail-type": "AWS API Call via CloudTrail", "detail": {"eventID": "e"}});
        assert!(matches!(classify(&event.to_string()), Delivery::Events(_)));
        assert_eq!(classify("not json"), Delivery::Events("not json".into()));
        // A CloudTrail log file's Records are events, not S3 notifications.
        let log =
            json!({"Records": [{"eventSource": "iam.amazonaws.com", "eventName": "CreateUser"}]});
        assert!(matches!(classify(&log.to_string()), Delivery::Events(_)));
    }
}
