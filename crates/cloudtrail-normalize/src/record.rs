//! Extracting the hot fields of one CloudTrail record into a
//! [`NormalizedEvent`]. Every field is optional here: a record missing
//! `eventTime`, `eventName` or `userIdentity` is still an event.

use serde_json::{Map, Value};

use crate::coerce::{self, path};
use crate::envelope::{self, EnvelopeInfo};
use crate::event::{NormalizedEvent, Principal, RecordText};
use crate::id;

/// Normalises one record that has already been recognised as a CloudTrail
/// event (not an Insight, not a digest). `envelope` carries the fields of the
/// EventBridge envelope it arrived in, if any; `text`, the record as compact JSON
/// when it was written already (kept if nothing is taken out of the record here).
pub(crate) fn normalize(
    mut record: Map<String, Value>,
    envelope: Option<EnvelopeInfo>,
    text: Option<String>,
) -> NormalizedEvent {
    let fields = record.len();
    let logstash_time = strip_logstash(&mut record);
    let record_text = RecordText(text.filter(|_| record.len() == fields));
    let envelope = envelope.unwrap_or_default();
    let record = Value::Object(record);

    let principal = principal(record.get("userIdentity"));
    let get = |key: &str| record.get(key);

    let id = coerce::text(get("eventID")).unwrap_or_else(|| id::synthetic(&record));
    let time = coerce::text(get("eventTime"))
        .or(logstash_time)
        .or(envelope.time);
    let account = coerce::account_id(get("recipientAccountId"))
        .or_else(|| principal.account_id.clone())
        .or(envelope.account);
    let mfa_authenticated = coerce::boolean(path(
        &record,
        &[
            "userIdentity",
            "sessionContext",
            "attributes",
            "mfaAuthenticated",
        ],
    ))
    .or_else(|| coerce::boolean(path(&record, &["additionalEventData", "MFAUsed"])));
    let event_type = coerce::text(get("eventType"));
    let detail_type = envelope
        .detail_type
        .unwrap_or_else(|| envelope::detail_type_for(event_type.as_deref()).to_owned());

    NormalizedEvent {
        id,
        time,
        source: coerce::text(get("eventSource")),
        name: coerce::text(get("eventName")),
        region: coerce::text(get("awsRegion")).or(envelope.region),
        account,
        principal,
        mfa_authenticated,
        source_ip: coerce::text(get("sourceIPAddress")),
        user_agent: coerce::text(get("userAgent")),
        error_code: coerce::text(get("errorCode")),
        error_message: coerce::text(get("errorMessage")),
        read_only: coerce::boolean(get("readOnly")),
        event_type,
        detail_type,
        record,
        record_text,
    }
}

/// Removes logstash's top-level `@` fields (`@timestamp`, `@version`, …) and
/// returns `@timestamp`, the event time when logstash's date filter has
/// consumed `eventTime`.
fn strip_logstash(record: &mut Map<String, Value>) -> Option<String> {
    if !record.keys().any(|k| k.starts_with('@')) {
        return None;
    }
    let timestamp = coerce::text(record.get("@timestamp"));
    record.retain(|k, _| !k.starts_with('@'));
    timestamp
}

/// The hot fields of `userIdentity`; all `None` when it is missing or not an
/// object.
fn principal(identity: Option<&Value>) -> Principal {
    let Some(identity) = identity.filter(|v| v.is_object()) else {
        return Principal::default();
    };
    let issuer = path(identity, &["sessionContext", "sessionIssuer"]);
    Principal {
        kind: coerce::text(identity.get("type")),
        arn: coerce::text(identity.get("arn")),
        account_id: coerce::account_id(identity.get("accountId")),
        user_name: coerce::text(identity.get("userName"))
            .or_else(|| coerce::text(issuer.and_then(|i| i.get("userName")))),
        access_key_id: coerce::text(identity.get("accessKeyId")),
        session_issuer_arn: coerce::text(issuer.and_then(|i| i.get("arn"))),
        invoked_by: coerce::text(identity.get("invokedBy")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test input is an object"),
        }
    }

    #[test]
    fn assumed_role_uses_issuer_name() {
        let ev = normalize(
            map(json!({
                "eventID": "e1",
                "userIdentity": {
                    "type": "AssumedRole",
                    "accountId": 123,
                    "sessionContext": {
                        "attributes": {"mfaAuthenticated": "True"},
                        "sessionIssuer": {"userName": "Admin", "arn": "arn:aws:iam::1:role/Admin"}
                    }
                }
            })),
            None,
            None,
        );
        assert_eq!(ev.principal.user_name.as_deref(), Some("Admin"));
        assert_eq!(
            ev.principal.session_issuer_arn.as_deref(),
            Some("arn:aws:iam::1:role/Admin")
        );
        assert_eq!(ev.account.as_deref(), Some("000000000123"));
        assert_eq!(ev.mfa_authenticated, Some(true));
        assert_eq!(ev.detail_type, envelope::API_CALL);
    }

    #[test]
    fn logstash_fields_removed_and_timestamp_used() {
        let ev = normalize(
            map(
                json!({"eventName": "X", "@timestamp": "2020-01-01T00:00:00.000Z", "@version": "1"}),
            ),
            None,
            Some(
                r#"{"@timestamp":"2020-01-01T00:00:00.000Z","@version":"1","eventName":"X"}"#
                    .to_owned(),
            ),
        );
        assert_eq!(ev.record, json!({"eventName": "X"}));
        // The text written before the fields were taken out is not the record's any more.
        assert_eq!(ev.raw_json(), r#"{"eventName":"X"}"#);
        assert_eq!(ev.time.as_deref(), Some("2020-01-01T00:00:00.000Z"));
        assert!(ev.id.starts_with(id::PREFIX));
    }
}
