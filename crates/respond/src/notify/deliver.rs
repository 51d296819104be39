//! Sends a rendered message to its target, and runs the outbox's notification actions:
//! a plugin's `notify.send` (sent at once, skipped below the severity floor, or absorbed
//! into a group), a group's message, a rate window's digest, a PagerDuty resolve.

use aws_actions::ExecError;
use serde_json::Value;

use super::groups::{self, Decision};
use super::message::{render, HeldBack, Message, Notice, Rendered};
use crate::notify_target::NotifyTarget;
use crate::outbox::{ActionRecord, Outbox};
use crate::request::{Request, StoredRequest};

/// What a target answered.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub request_id: Option<String>,
    /// For people: the HTTP status and an excerpt of the body, or the AWS message id.
    pub answer: String,
}

/// Sends `message` to `target` (`aws` for SNS and email).
///
/// # Errors
/// A secret that cannot be read (final), or the target's refusal or silence, classified as
/// retryable or not.
pub async fn send(
    target: &NotifyTarget,
    aws: &aws_actions::Executor,
    message: &Message,
) -> Result<Delivery, ExecError> {
    let secret = |source: Option<&crate::notify_target::SecretSource>| {
        source
            .ok_or_else(|| ExecError::invalid("no secret configured"))?
            .read()
            .map_err(ExecError::invalid)
    };
    let url = || {
        target
            .url
            .as_ref()
            .ok_or_else(|| ExecError::invalid("no url configured"))?
            .read()
            .map_err(ExecError::invalid)
    };
    let from_http = |answer: aws_actions::Answer| Delivery {
        answer: format!(
            "{} answered {}: {}",
            answer.shown_url,
            answer.status,
            answer.body_excerpt.trim()
        ),
        request_id: answer.request_id,
    };
    let from_aws = |outcome: aws_actions::Outcome| Delivery {
        answer: outcome.detail,
        request_id: outcome.request_id,
    };
    match render(target.kind, message) {
        Rendered::Signed(body) => {
            let outcome =
                aws_actions::post_webhook(&url()?, &secret(target.key.as_ref())?, &body).await?;
            Ok(from_aws(outcome))
        }
        Rendered::Json(mut body) => {
            if target.kind == crate::notify_target::NotifyKind::Pagerduty {
                body["routing_key"] = Value::String(secret(target.key.as_ref())?);
            }
            Ok(from_http(aws_actions::post_json(&url()?, &body).await?))
        }
        Rendered::Sns {
            subject,
            message,
            attributes,
        } => {
            let topic = target.topic_arn.as_deref().unwrap_or_default();
            let attributes: Vec<(&str, &str)> =
                attributes.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Ok(from_aws(
                aws.publish_sns(topic, &subject, &message, &attributes)
                    .await?,
            ))
        }
        Rendered::Email {
            subject,
            text,
            html,
        } => {
            let from = target.from.as_deref().unwrap_or_default();
            Ok(from_aws(
                aws.send_email(from, &target.to, &subject, &text, &html)
                    .await?,
            ))
        }
    }
}

/// How a notification action ended.
pub enum Ran {
    /// Its outcome is already recorded (grouped, held back, below the floor).
    Recorded,
    /// Sent: record success.
    Sent(Delivery),
    /// Record the failure (retried if retryable).
    Failed(ExecError),
}

/// The console link of a finding, when `[console] public_url` is set and it is recorded.
fn link(
    outbox: &Outbox,
    settings: &crate::settings::ResponseSettings,
    plugin: &str,
    finding: &Value,
) -> Option<String> {
    let base = settings.public_url.as_deref()?;
    let id = groups::finding_id(outbox, plugin, finding)?;
    Some(format!("{base}/findings/{id}"))
}

/// Runs one running notification action.
///
/// # Errors
/// The outbox cannot be read or written.
pub async fn run(
    outbox: &Outbox,
    settings: &crate::settings::ResponseSettings,
    aws: &aws_actions::Executor,
    record: &ActionRecord,
    request: &Request,
) -> anyhow::Result<Ran> {
    let target_of = |name: &str| {
        settings.notify.get(name).ok_or_else(|| {
            ExecError::invalid(format!("notify target {name:?} is no longer configured"))
        })
    };
    let notice = |finding: &Value, runbook: &Option<String>, count: u64, window_s: u64| Notice {
        id: record.id.clone(),
        plugin: record.plugin.clone(),
        event_id: record.event_id.clone(),
        finding: finding.clone(),
        count,
        window_s,
        account: record.account.clone(),
        region: record.region.clone(),
        runbook: runbook.clone(),
        link: link(outbox, settings, &record.plugin, finding),
        sample: false,
    };
    let deliver = |target: &NotifyTarget, message: Message| {
        let target = target.clone();
        async move {
            match send(&target, aws, &message).await {
                Ok(delivery) => Ran::Sent(delivery),
                Err(error) => Ran::Failed(error),
            }
        }
    };
    match request {
        Request::Aws { .. } => Ok(Ran::Failed(ExecError::invalid("not a notification"))),
        Request::Webhook {
            target: name,
            finding,
            runbook,
        } => {
            let target = match target_of(name) {
                Ok(t) => t,
                Err(e) => return Ok(Ran::Failed(e)),
            };
            let severity = finding
                .get("severity")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !target.admits(severity) {
                let floor = target.min_severity.map_or("", |f| f.as_str());
                groups::finish_unsent(
                    outbox,
                    record,
                    "below_min_severity",
                    &format!("severity {severity:?} is below target {name}'s min_severity {floor}"),
                )?;
                return Ok(Ran::Recorded);
            }
            if target.groups() {
                let key = finding
                    .get("dedup_key")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let key = if key.is_empty() {
                    &record.event_id
                } else {
                    key
                };
                groups::absorb(outbox, record, name, target, key, now_s())?;
                return Ok(Ran::Recorded);
            }
            Ok(deliver(target, Message::Finding(notice(finding, runbook, 1, 0))).await)
        }
        Request::NotifyMessage {
            target: name,
            group,
        } => {
            let target = match target_of(name) {
                Ok(t) => t,
                Err(e) => return Ok(Ran::Failed(e)),
            };
            match groups::decide(outbox, record, *group, name, target)? {
                Decision::Held | Decision::Gone => Ok(Ran::Recorded),
                Decision::Send {
                    first_action,
                    count,
                } => {
                    let first = outbox.get(&first_action)?;
                    let Some(StoredRequest::Request(Request::Webhook {
                        finding, runbook, ..
                    })) = first.map(|f| f.request)
                    else {
                        return Ok(Ran::Failed(ExecError::invalid(format!(
                            "the group's first finding (action {first_action}) is unreadable"
                        ))));
                    };
                    let message = notice(&finding, &runbook, count, target.group_window_s);
                    Ok(deliver(target, Message::Finding(message)).await)
                }
            }
        }
        Request::NotifyDigest {
            target: name,
            window_start,
        } => {
            let target = match target_of(name) {
                Ok(t) => t,
                Err(e) => return Ok(Ran::Failed(e)),
            };
            let Some((findings, messages, window_s)) =
                groups::held_back(outbox, name, *window_start)?
            else {
                return Ok(Ran::Failed(ExecError::invalid(
                    "the rate window is unknown",
                )));
            };
            let digest = HeldBack {
                id: record.id.clone(),
                target: name.clone(),
                findings,
                messages,
                max_per_window: target.max_per_hour.unwrap_or(0),
                window_start_s: *window_start,
                window_end_s: window_start + window_s,
            };
            Ok(deliver(target, Message::Digest(digest)).await)
        }
        Request::NotifyResolve {
            target: name,
            dedup_key,
        } => {
            let target = match target_of(name) {
                Ok(t) => t,
                Err(e) => return Ok(Ran::Failed(e)),
            };
            let message = Message::Resolve {
                id: record.id.clone(),
                dedup_key: dedup_key.clone(),
            };
            Ok(deliver(target, message).await)
        }
    }
}

fn now_s() -> i64 {
    crate::outbox::now_us() / 1_000_000
}
