//! `aws.kms.key-loss`: a KMS key disabled or scheduled for deletion.

use trailwarden_plugin_sdk::json::{at, resource_arns, str_at, text_at};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{capitalize, non_empty, Event, Finding, Severity};

use crate::{api_call, KEY_LOSS};

pub(crate) const KMS: &str = "kms.amazonaws.com";

/// The KMS calls that make a key unusable.
pub const KEY_LOSS_EVENTS: &[&str] = &["DisableKey", "ScheduleKeyDeletion"];

/// What a successful `DisableKey` or `ScheduleKeyDeletion` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLoss {
    /// True for `ScheduleKeyDeletion`, false for `DisableKey`.
    pub deletion: bool,
    /// The key's ARN, when the record names it or it can be built from the key id.
    pub key_arn: Option<String>,
    /// The key as the request named it (key id or ARN).
    pub key_id: Option<String>,
    /// `ScheduleKeyDeletion`: the waiting period in days, and the date of deletion.
    pub pending_days: Option<String>,
    pub deletion_date: Option<String>,
}

/// The facts when `event` is a successful `kms:DisableKey` or `kms:ScheduleKeyDeletion`.
pub fn key_loss(event: &Event, raw: Option<&Value>) -> Option<KeyLoss> {
    let name = event.name.as_deref()?;
    if event.source.as_deref() != Some(KMS)
        || !KEY_LOSS_EVENTS.contains(&name)
        || event.failed()
        || !api_call(event)
    {
        return None;
    }
    let key_id = raw
        .and_then(|r| str_at(r, &["requestParameters", "keyId"]))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let key_arn = raw.and_then(|r| key_arn(event, r, key_id.as_deref()));
    Some(KeyLoss {
        deletion: name == "ScheduleKeyDeletion",
        key_arn,
        key_id,
        pending_days: raw.and_then(|r| text_at(r, &["requestParameters", "pendingWindowInDays"])),
        deletion_date: raw.and_then(|r| text_at(r, &["responseElements", "deletionDate"])),
    })
}

/// The key's ARN: CloudTrail's `resources` entry of type `AWS::KMS::Key`, else the
/// response's `keyId` (an ARN for `ScheduleKeyDeletion`), else the request's key if it is
/// an ARN, else one built from the key id, the region and the account.
fn key_arn(event: &Event, raw: &Value, key_id: Option<&str>) -> Option<String> {
    let typed = raw
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| at(r, &["type"]).and_then(Value::as_str) == Some("AWS::KMS::Key"))
        .and_then(|r| r.get("ARN").or_else(|| r.get("arn")))
        .and_then(Value::as_str)
        .filter(|s| s.starts_with("arn:"));
    let is_key_arn = |s: &&str| s.starts_with("arn:") && s.contains(":key/");
    let response = str_at(raw, &["responseElements", "keyId"]).filter(is_key_arn);
    if let Some(arn) = typed.or(response).or(key_id.filter(is_key_arn)) {
        return Some(arn.to_owned());
    }
    if let Some(arn) = resource_arns(raw)
        .into_iter()
        .find(|s| is_key_arn(&s.as_str()))
    {
        return Some(arn);
    }
    let id = key_id.filter(|k| !k.starts_with("arn:") && !k.starts_with("alias/"))?;
    let account = event.account_or_principal_account()?;
    let region = non_empty(event.region.as_deref())?;
    Some(format!(
        "arn:{}:kms:{region}:{account}:key/{id}",
        event.partition()
    ))
}

/// The finding for a key loss.
pub fn finding(event: &Event, loss: &KeyLoss) -> Finding {
    let account = event.account_or_unknown();
    let region = non_empty(event.region.as_deref()).unwrap_or("an unknown region");
    let key = loss
        .key_arn
        .as_deref()
        .or(loss.key_id.as_deref())
        .unwrap_or("(key not recorded)");
    let short = loss
        .key_id
        .as_deref()
        .map(|k| k.rsplit('/').next().unwrap_or(k))
        .unwrap_or(key);
    let actor = event.actor();
    let (title, what, advice) = if loss.deletion {
        let when = match (&loss.pending_days, &loss.deletion_date) {
            (Some(days), Some(date)) => format!(" in {days} days ({date})"),
            (Some(days), None) => format!(" in {days} days"),
            (None, Some(date)) => format!(" on {date}"),
            (None, None) => String::new(),
        };
        (
            format!("KMS key {short} scheduled for deletion by {actor} in account {account}"),
            format!("scheduled KMS key {key} for deletion{when}"),
            format!(
                "Once the key is deleted, everything encrypted under it (EBS volumes, S3 \
                 objects, RDS snapshots, secrets) can never be decrypted again. Until then the \
                 deletion can be cancelled: aws kms cancel-key-deletion --key-id {key}, then \
                 aws kms enable-key."
            ),
        )
    } else {
        (
            format!("KMS key {short} disabled by {actor} in account {account}"),
            format!("disabled KMS key {key}"),
            format!(
                "Nothing encrypted under the key can be decrypted while it is disabled, which \
                 stops every service that depends on it. Re-enable it with aws kms enable-key \
                 --key-id {key} if the change was not planned."
            ),
        )
    };
    let description = format!(
        "{} {what} in {region}, {}. {advice} Disabling or deleting keys is how an intruder \
         destroys data or holds it to ransom without touching it.",
        capitalize(&actor),
        event.origin(),
    );
    let context = json!({
        "account": account,
        "region": event.region,
        "event_name": event.name,
        "key_arn": loss.key_arn,
        "key_id": loss.key_id,
        "pending_window_days": loss.pending_days,
        "deletion_date": loss.deletion_date,
        "caller_arn": event.principal.arn,
        "caller_type": event.principal.r#type,
        "source_ip": event.source_ip,
        "user_agent": event.user_agent,
        "event_time": event.time,
    });
    Finding {
        rule_id: KEY_LOSS.to_owned(),
        severity: Severity::High,
        title,
        description,
        resources: loss.key_arn.iter().cloned().collect(),
        dedup_key: format!("{KEY_LOSS}:{account}:{key}"),
        event_id: event.id.clone(),
        context: context.to_string(),
    }
}
