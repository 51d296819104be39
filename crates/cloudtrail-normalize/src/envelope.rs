//! The EventBridge side of an event: reading what an arriving envelope adds
//! to its record, and rebuilding the envelope that EventBridge would have
//! delivered, so that event patterns written for EventBridge match records
//! that came from S3 log files, LookupEvents or logstash too.

use serde_json::{Map, Value};

use crate::coerce;
use crate::event::NormalizedEvent;
use crate::shape;

/// Detail-type of CloudTrail API calls, the default.
pub(crate) const API_CALL: &str = "AWS API Call via CloudTrail";

/// What an arriving EventBridge envelope says about its record; used only to
/// fill gaps the record leaves.
#[derive(Debug, Default)]
pub(crate) struct EnvelopeInfo {
    /// The envelope's detail-type, kept only when it is a CloudTrail one
    /// (placeholders such as `"..."` fall back to the derived detail-type).
    pub detail_type: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub time: Option<String>,
}

impl EnvelopeInfo {
    /// Reads the envelope fields, leaving `detail` in place.
    pub(crate) fn read(envelope: &Map<String, Value>) -> Self {
        let detail_type = envelope
            .get("detail-type")
            .and_then(Value::as_str)
            .filter(|dt| shape::is_cloudtrail_detail_type(dt))
            .map(|dt| dt.trim().to_owned());
        EnvelopeInfo {
            detail_type,
            account: coerce::account_id(envelope.get("account")),
            region: coerce::text(envelope.get("region")),
            time: coerce::text(envelope.get("time")),
        }
    }
}

/// The detail-type EventBridge gives a CloudTrail record of this `eventType`.
pub(crate) fn detail_type_for(event_type: Option<&str>) -> &'static str {
    match event_type {
        Some("AwsConsoleSignIn") => "AWS Console Sign In via CloudTrail",
        Some("AwsServiceEvent") => "AWS Service Event via CloudTrail",
        Some("AwsConsoleAction") => "AWS Console Action via CloudTrail",
        Some("AwsCloudTrailInsight") => shape::INSIGHT_DETAIL_TYPE,
        _ => API_CALL,
    }
}

/// The EventBridge `source` for a CloudTrail `eventSource`:
/// `iam.amazonaws.com` → `aws.iam`. `None` when the event source is not an
/// AWS service endpoint name.
pub(crate) fn source_for(event_source: &str) -> Option<String> {
    let service = event_source.trim().strip_suffix(".amazonaws.com")?;
    let valid = !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !valid {
        return None;
    }
    // A few services publish under a different EventBridge name than their
    // endpoint: CloudWatch's API endpoint is "monitoring".
    let name = match service {
        "monitoring" => "cloudwatch",
        other => other,
    };
    Some(format!("aws.{name}"))
}

/// Builds `{"version":"0","id":..,"detail-type":..,"source":..,"account":..,
/// "time":..,"region":..,"resources":[],"detail":record}` for `event`,
/// omitting absent fields.
pub(crate) fn build(event: &NormalizedEvent) -> Value {
    let mut env = Map::new();
    env.insert("version".into(), Value::from("0"));
    env.insert("id".into(), Value::from(event.id.as_str()));
    env.insert(
        "detail-type".into(),
        Value::from(event.detail_type.as_str()),
    );
    if let Some(source) = event.envelope_source() {
        env.insert("source".into(), Value::from(source));
    }
    for (key, value) in [
        ("account", &event.account),
        ("time", &event.time),
        ("region", &event.region),
    ] {
        if let Some(v) = value {
            env.insert(key.into(), Value::from(v.as_str()));
        }
    }
    env.insert("resources".into(), Value::Array(Vec::new()));
    env.insert("detail".into(), event.record.clone());
    Value::Object(env)
}

/// The fields [`build`] would put in the envelope, without copying the record.
pub(crate) fn with_fields<R>(event: &NormalizedEvent, f: impl FnOnce(&[(&str, &Value)]) -> R) -> R {
    let text = |v: &Option<String>| v.as_deref().map(Value::from);
    let version = Value::from("0");
    let id = Value::from(event.id.as_str());
    let detail_type = Value::from(event.detail_type.as_str());
    let source = event.envelope_source().map(Value::from);
    let account = text(&event.account);
    let time = text(&event.time);
    let region = text(&event.region);
    let resources = Value::Array(Vec::new());
    let mut fields: Vec<(&str, &Value)> = Vec::with_capacity(9);
    fields.extend([
        ("version", &version),
        ("id", &id),
        ("detail-type", &detail_type),
    ]);
    for (key, value) in [
        ("source", &source),
        ("account", &account),
        ("time", &time),
        ("region", &region),
    ] {
        if let Some(v) = value {
            fields.push((key, v));
        }
    }
    fields.push(("resources", &resources));
    fields.push(("detail", &event.record));
    f(&fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert_eq!(source_for("iam.amazonaws.com").as_deref(), Some("aws.iam"));
        assert_eq!(
            source_for("signin.amazonaws.com").as_deref(),
            Some("aws.signin")
        );
        assert_eq!(
            source_for("monitoring.amazonaws.com").as_deref(),
            Some("aws.cloudwatch")
        );
        assert_eq!(source_for("..."), None);
        assert_eq!(source_for(".amazonaws.com"), None);
        assert_eq!(source_for("a b.amazonaws.com"), None);
    }

    #[test]
    fn detail_types() {
        assert_eq!(detail_type_for(None), API_CALL);
        assert_eq!(detail_type_for(Some("AwsApiCall")), API_CALL);
        assert_eq!(
            detail_type_for(Some("AwsConsoleSignIn")),
            "AWS Console Sign In via CloudTrail"
        );
    }
}
