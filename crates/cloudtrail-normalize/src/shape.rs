//! Recognising which of the shapes CloudTrail arrives in a JSON document has.
//!
//! Classification only looks at keys; it never copies the document. The order
//! of the checks matters and is the most specific first: a digest file or a
//! log file is never mistaken for a record, and an envelope is recognised
//! before its `detail` is looked at.

use serde_json::{Map, Value};

/// Keys that only CloudTrail records carry (together or in part).
const RECORD_MARKS: &[&str] = &[
    "eventVersion",
    "eventSource",
    "eventName",
    "eventID",
    "eventTime",
    "eventType",
    "eventCategory",
    "userIdentity",
    "recipientAccountId",
    "awsRegion",
    "sourceIPAddress",
    "requestParameters",
    "responseElements",
    "insightDetails",
];

/// Keys of a CloudTrail digest file (log file integrity validation).
const DIGEST_MARKS: &[&str] = &[
    "digestStartTime",
    "digestEndTime",
    "digestS3Bucket",
    "digestS3Object",
    "digestPublicKeyFingerprint",
    "digestSignatureAlgorithm",
];

/// The EventBridge detail-type of CloudTrail Insights events.
pub(crate) const INSIGHT_DETAIL_TYPE: &str = "AWS Insight via CloudTrail";
/// The EventBridge detail-type of GuardDuty findings.
pub(crate) const GUARDDUTY_DETAIL_TYPE: &str = "GuardDuty Finding";

/// What a JSON document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A JSON array of documents (EventBridge API destinations batch).
    List,
    /// A CloudTrail log file: `{"Records": [...]}`.
    LogFile,
    /// A whole LookupEvents response: `{"Events": [...]}`.
    LookupResponse,
    /// One LookupEvents event, its record in the `CloudTrailEvent` string.
    LookupEvent,
    /// A CloudWatch Logs subscription payload (`logEvents[].message`).
    CloudWatchLogs,
    /// An EventBridge envelope.
    Envelope(EnvelopeKind),
    /// A CloudTrail digest file.
    Digest,
    /// A CloudTrail record (bare, or with logstash `@` fields).
    Record,
    /// An object with no CloudTrail marks.
    Unknown,
    /// A string, number, boolean or null.
    Scalar,
}

/// What an EventBridge envelope carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EnvelopeKind {
    /// A CloudTrail event (API call, console sign-in, service event, …).
    CloudTrail,
    /// A CloudTrail Insights event.
    Insight,
    /// A GuardDuty finding (`detail` is the finding).
    GuardDuty,
    /// Some other AWS or custom event.
    Other,
}

/// Classifies one JSON document.
pub(crate) fn classify(value: &Value) -> Shape {
    let obj = match value {
        Value::Array(_) => return Shape::List,
        Value::Object(obj) => obj,
        _ => return Shape::Scalar,
    };
    if DIGEST_MARKS.iter().any(|k| obj.contains_key(*k)) {
        return Shape::Digest;
    }
    if obj.get("Records").is_some_and(Value::is_array) {
        return Shape::LogFile;
    }
    if obj.contains_key("CloudTrailEvent") {
        return Shape::LookupEvent;
    }
    if obj.get("Events").is_some_and(Value::is_array) {
        return Shape::LookupResponse;
    }
    if (obj.contains_key("messageType") && obj.get("logEvents").is_some_and(Value::is_array))
        || obj.get("messageType").and_then(Value::as_str) == Some("CONTROL_MESSAGE")
    {
        return Shape::CloudWatchLogs;
    }
    if is_envelope(obj) {
        return Shape::Envelope(envelope_kind(obj));
    }
    if mark_count(obj) > 0 {
        return Shape::Record;
    }
    Shape::Unknown
}

/// An EventBridge envelope has a `detail-type`, or at least `detail` with the
/// envelope's `source` and one of `id`/`version`/`account`. CloudTrail records
/// have none of these keys.
fn is_envelope(obj: &Map<String, Value>) -> bool {
    obj.contains_key("detail-type")
        || (obj.contains_key("detail")
            && obj.contains_key("source")
            && ["id", "version", "account"]
                .iter()
                .any(|k| obj.contains_key(*k)))
}

/// The detail-type decides; when it is not a CloudTrail one (test fixtures
/// and hand-made events often carry placeholders such as `"..."`), a detail
/// that clearly is a CloudTrail record still counts as CloudTrail, so the
/// event is not lost.
fn envelope_kind(obj: &Map<String, Value>) -> EnvelopeKind {
    let detail_type = obj.get("detail-type").and_then(Value::as_str);
    if let Some(dt) = detail_type {
        if dt.trim().eq_ignore_ascii_case(INSIGHT_DETAIL_TYPE) {
            return EnvelopeKind::Insight;
        }
        if dt.trim().eq_ignore_ascii_case(GUARDDUTY_DETAIL_TYPE)
            && obj.get("detail").is_some_and(Value::is_object)
        {
            return EnvelopeKind::GuardDuty;
        }
        if is_cloudtrail_detail_type(dt) {
            return EnvelopeKind::CloudTrail;
        }
    }
    match obj.get("detail") {
        Some(Value::Object(detail)) if mark_count(detail) >= 2 => EnvelopeKind::CloudTrail,
        _ => EnvelopeKind::Other,
    }
}

/// Every CloudTrail detail-type ends in "via CloudTrail".
pub(crate) fn is_cloudtrail_detail_type(detail_type: &str) -> bool {
    let dt = detail_type.trim();
    dt.len() >= "via CloudTrail".len()
        && dt
            .get(dt.len() - "via CloudTrail".len()..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case("via CloudTrail"))
}

/// How many CloudTrail record keys the object has.
pub(crate) fn mark_count(obj: &Map<String, Value>) -> usize {
    RECORD_MARKS
        .iter()
        .filter(|k| obj.contains_key(**k))
        .count()
}

/// Whether a record is a CloudTrail Insights event rather than an API call.
pub(crate) fn is_insight(obj: &Map<String, Value>) -> bool {
    let category = obj.get("eventCategory").and_then(Value::as_str);
    let event_type = obj.get("eventType").and_then(Value::as_str);
    category.is_some_and(|c| c.eq_ignore_ascii_case("insight"))
        || event_type.is_some_and(|t| t.eq_ignore_ascii_case("AwsCloudTrailInsight"))
        || obj.contains_key("insightDetails")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes() {
        let cases = [
            (json!([]), Shape::List),
            (json!(1), Shape::Scalar),
            (json!(null), Shape::Scalar),
            (json!({"Records": []}), Shape::LogFile),
            (json!({"Records": 1}), Shape::Unknown),
            (
                json!({"Events": [], "NextToken": "x"}),
                Shape::LookupResponse,
            ),
            (
                json!({"EventId": "x", "CloudTrailEvent": "{}"}),
                Shape::LookupEvent,
            ),
            (
                json!({"messageType": "DATA_MESSAGE", "logEvents": []}),
                Shape::CloudWatchLogs,
            ),
            (
                json!({"messageType": "CONTROL_MESSAGE"}),
                Shape::CloudWatchLogs,
            ),
            (
                json!({"detail-type": "AWS API Call via CloudTrail", "detail": {}}),
                Shape::Envelope(EnvelopeKind::CloudTrail),
            ),
            (
                json!({"detail-type": "AWS Console Sign In via CloudTrail", "detail": {}}),
                Shape::Envelope(EnvelopeKind::CloudTrail),
            ),
            (
                json!({"detail-type": "AWS Insight via CloudTrail", "detail": {}}),
                Shape::Envelope(EnvelopeKind::Insight),
            ),
            (
                json!({"detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": {"id": "x"}}),
                Shape::Envelope(EnvelopeKind::GuardDuty),
            ),
            (
                json!({"detail-type": "GuardDuty Finding", "detail": "not an object"}),
                Shape::Envelope(EnvelopeKind::Other),
            ),
            (
                json!({"detail-type": "EC2 Instance State-change Notification", "detail": {"state": "x"}}),
                Shape::Envelope(EnvelopeKind::Other),
            ),
            (
                json!({"detail-type": "...", "detail": {"eventVersion": "1", "eventName": "x"}}),
                Shape::Envelope(EnvelopeKind::CloudTrail),
            ),
            (
                json!({"digestStartTime": "x", "digestEndTime": "y"}),
                Shape::Digest,
            ),
            (json!({"eventVersion": "1.08"}), Shape::Record),
            (json!({"foo": 1}), Shape::Unknown),
        ];
        for (v, want) in cases {
            assert_eq!(classify(&v), want, "{v}");
        }
    }

    #[test]
    fn detail_types() {
        assert!(is_cloudtrail_detail_type("AWS API Call via CloudTrail"));
        assert!(is_cloudtrail_detail_type(
            "AWS Service Event via CloudTrail"
        ));
        assert!(!is_cloudtrail_detail_type("Object Created"));
        assert!(!is_cloudtrail_detail_type("é"));
        assert!(!is_cloudtrail_detail_type("ééééééééé"));
    }
}
