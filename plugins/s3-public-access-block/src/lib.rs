//! `s3-public-access-block`: a bucket's S3 Block Public Access was removed or weakened, and
//! is put back.
//!
//! One finding (`aws.s3.public-access-block-removed`, high) per successful call to
//! `s3.amazonaws.com` that:
//! - deletes a bucket's public access block: `DeleteBucketPublicAccessBlock` (the event name
//!   CloudTrail records for the API's `DeletePublicAccessBlock`, also accepted);
//! - or puts one with any of the four settings (`BlockPublicAcls`, `IgnorePublicAcls`,
//!   `BlockPublicPolicy`, `RestrictPublicBuckets`) false: `PutBucketPublicAccessBlock` (or
//!   `PutPublicAccessBlock`), read from `requestParameters.PublicAccessBlockConfiguration`. A
//!   setting the request leaves out is stored as false by S3, so it counts as false; a
//!   request without the configuration cannot be judged and raises nothing.
//!
//! Account-level blocks (`PutAccountPublicAccessBlock`, `DeleteAccountPublicAccessBlock`
//! through S3 Control) are out of scope: the response capability works on buckets.
//!
//! Response: `s3.put-public-access-block(event, bucket)` (all four settings on); its inverse
//! restores the previous configuration. A record without a bucket name gets the finding only.

use trailwarden_plugin_sdk::capability::{log_receipt, S3_PUT_PUBLIC_ACCESS_BLOCK};
use trailwarden_plugin_sdk::json::{boolish, get_ci};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{
    capitalize, Capabilities, Descriptor, Event, Finding, Rule, Severity,
};

/// The rule id of every finding of this plugin.
pub const RULE_ID: &str = "aws.s3.public-access-block-removed";

/// The capabilities it calls.
pub const CAPABILITIES: &[&str] = &[S3_PUT_PUBLIC_ACCESS_BLOCK];

const S3: &str = "s3.amazonaws.com";
const DELETES: &[&str] = &["DeleteBucketPublicAccessBlock", "DeletePublicAccessBlock"];
const PUTS: &[&str] = &["PutBucketPublicAccessBlock", "PutPublicAccessBlock"];

/// The four settings of a public access block.
pub const SETTINGS: &[&str] = &[
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

/// The rule catalog: `aws.s3.public-access-block-removed`.
pub fn rules() -> Vec<Rule> {
    vec![Rule::new(
        RULE_ID,
        Severity::High,
        "S3 bucket public access block removed",
        &["T1562", "T1530"],
        "A bucket's S3 Block Public Access was deleted (`DeleteBucketPublicAccessBlock`) or \
         put with one of its four settings off (`PutBucketPublicAccessBlock`): its policy or \
         ACLs can now make it public. All four settings are put back on with \
         `s3.put-public-access-block`.",
        "Check the bucket's policy and ACLs for public grants made since, and who read its \
         objects from outside the account.",
        &[S3_PUT_PUBLIC_ACCESS_BLOCK],
    )]
}

/// Name, version and the EventBridge pattern: the bucket-level calls above.
pub fn descriptor() -> Descriptor {
    let names: Vec<&str> = DELETES.iter().chain(PUTS).copied().collect();
    let pattern = json!({"detail": {"eventSource": [S3], "eventName": names}});
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: vec![pattern.to_string()],
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "delete-public-access-block.json",
            "failed-and-other-calls.json",
            "put-all-settings-on.json",
            "put-settings-off.json",
        ],
        // It acts: trailwarden's own PutBucketPublicAccessBlock must not come back to it.
        self_caused_events: false,
    }
}

/// What a call did to a bucket's public access block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// The bucket, when the record names it.
    pub bucket: Option<String>,
    /// `None` when the block was deleted; else the settings the new block turns off.
    pub settings_off: Option<Vec<&'static str>>,
}

/// The removal or weakening `event` made, if it is one.
pub fn removal(event: &Event) -> Option<Removal> {
    let name = event.name.as_deref()?;
    if event.source.as_deref() != Some(S3) || event.failed() {
        return None;
    }
    // VPC endpoint network activity events (`AwsVpceEvent`) repeat a call logged on its own.
    if !matches!(event.event_type.as_deref(), None | Some("AwsApiCall")) {
        return None;
    }
    let raw = event.raw_json();
    let params = raw.as_ref().and_then(|r| r.get("requestParameters"));
    let bucket = params
        .and_then(|p| get_ci(p, "bucketName"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_owned);
    if DELETES.contains(&name) {
        return Some(Removal {
            bucket,
            settings_off: None,
        });
    }
    if !PUTS.contains(&name) {
        return None;
    }
    let config = params.and_then(|p| get_ci(p, "PublicAccessBlockConfiguration"))?;
    if !config.is_object() {
        return None;
    }
    let off: Vec<&'static str> = SETTINGS
        .iter()
        .copied()
        .filter(|s| get_ci(config, s).and_then(boolish) != Some(true))
        .collect();
    (!off.is_empty()).then_some(Removal {
        bucket,
        settings_off: Some(off),
    })
}

/// The findings for one event (none, or one).
pub fn detect(event: &Event) -> Vec<Finding> {
    removal(event)
        .map(|r| finding(event, &r))
        .into_iter()
        .collect()
}

fn finding(event: &Event, removal: &Removal) -> Finding {
    let account = event.account_or_unknown();
    let bucket = removal.bucket.as_deref();
    let label = bucket.unwrap_or("(unnamed)");
    let (title, what) = match &removal.settings_off {
        None => (
            format!("S3 public access block removed from bucket {label}"),
            "deleted the public access block of".to_owned(),
        ),
        Some(off) => (
            format!(
                "S3 public access block of bucket {label} weakened: {} off",
                off.join(", ")
            ),
            format!(
                "put a public access block with {} turned off on",
                off.join(", ")
            ),
        ),
    };
    let description = format!(
        "{} {what} S3 bucket {label} in account {account}, region {}, {}. Without the block, \
         a bucket policy or ACL can make the bucket or its objects public. Check that the \
         bucket is meant to be public; if not, restore the block and review its policy and \
         ACLs.",
        capitalize(&event.actor()),
        event.region_or_unknown(),
        event.origin()
    );
    let context = json!({
        "account": account,
        "region": event.region,
        "bucket": bucket,
        "event_name": event.name,
        "deleted": removal.settings_off.is_none(),
        "settings_off": removal.settings_off,
        "principal_arn": event.principal.arn,
        "source_ip": event.source_ip,
        "user_agent": event.user_agent,
        "event_time": event.time,
    });
    Finding {
        rule_id: RULE_ID.to_owned(),
        severity: Severity::High,
        title,
        description,
        resources: bucket
            .map(|b| format!("arn:{}:s3:::{b}", event.partition()))
            .into_iter()
            .collect(),
        dedup_key: format!("{RULE_ID}:{account}:{label}"),
        event_id: event.id.clone(),
        context: context.to_string(),
    }
}

/// The response to `event`'s finding: put the block back on the bucket.
pub fn respond(event: &Event, finding: &Finding, caps: &dyn Capabilities) {
    if finding.rule_id != RULE_ID {
        return;
    }
    if let Some(bucket) = removal(event).and_then(|r| r.bucket) {
        let receipt = caps.put_public_access_block(&event.id, &bucket);
        log_receipt(S3_PUT_PUBLIC_ACCESS_BLOCK, &event.id, receipt);
    }
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: [`detect`] each event, [`respond`] to each finding.
    S3PublicAccessBlock {
        capabilities: CAPABILITIES,
        describe: descriptor,
        rules: |_| rules(),
        detect: detect,
        respond: |event, finding, batch| respond(event, finding, batch.caps),
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn put(config: Value) -> Event {
        Event {
            id: "e1".into(),
            source: Some(S3.into()),
            name: Some("PutBucketPublicAccessBlock".into()),
            raw: json!({"requestParameters": {"bucketName": "b", "PublicAccessBlockConfiguration": config}})
                .to_string(),
            ..Default::default()
        }
    }

    #[test]
    fn settings_left_out_or_false_are_off() {
        let all = json!({"BlockPublicAcls": true, "IgnorePublicAcls": "true",
            "BlockPublicPolicy": true, "RestrictPublicBuckets": true});
        assert_eq!(removal(&put(all)), None);
        let r = removal(&put(
            json!({"blockPublicAcls": true, "IgnorePublicAcls": "false",
            "BlockPublicPolicy": true}),
        ))
        .unwrap();
        assert_eq!(
            r.settings_off,
            Some(vec!["IgnorePublicAcls", "RestrictPublicBuckets"])
        );
        assert_eq!(r.bucket.as_deref(), Some("b"));
        assert_eq!(removal(&put(json!(""))), None, "unreadable configuration");
    }
}
