//! GuardDuty findings delivered through EventBridge, normalised as events of their own kind,
//! so that plugins subscribe to them (`{"detail-type": ["GuardDuty Finding"]}`) like to any
//! CloudTrail event. (CloudTrail Insights events are CloudTrail records and go through
//! `record.rs`.)

use serde_json::{Map, Value};

use crate::coerce::{self, path};
use crate::event::{NormalizedEvent, Principal, RecordText};
use crate::id;
use crate::shape::GUARDDUTY_DETAIL_TYPE;

/// `eventType` of a normalised GuardDuty finding.
pub(crate) const GUARDDUTY_EVENT_TYPE: &str = "GuardDutyFinding";
/// `eventSource` of a normalised GuardDuty finding.
const GUARDDUTY_SOURCE: &str = "guardduty.amazonaws.com";

/// The finding in `envelope.detail` (an object: checked by the classifier) as an event: id the
/// finding's id, time its `updatedAt` (else the envelope's time), name its type (e.g.
/// `UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS`), the principal
/// from `resource.accessKeyDetails`, the source address from the API-call action's remote
/// IP; the record is the finding itself.
pub(crate) fn guardduty(mut envelope: Map<String, Value>) -> NormalizedEvent {
    let finding = envelope
        .remove("detail")
        .filter(Value::is_object)
        .unwrap_or_else(|| Value::Object(Map::new()));
    let get = |key: &str| finding.get(key);
    let keys = path(&finding, &["resource", "accessKeyDetails"]);
    let key_field = |name: &str| coerce::text(keys.and_then(|k| k.get(name)));
    let account = coerce::account_id(get("accountId"))
        .or_else(|| coerce::account_id(envelope.get("account")));
    let principal = Principal {
        kind: key_field("userType"),
        arn: None,
        account_id: account.clone(),
        user_name: key_field("userName"),
        access_key_id: key_field("accessKeyId"),
        session_issuer_arn: None,
        invoked_by: None,
    };
    let action = path(&finding, &["service", "action"]);
    let source_ip = [
        "awsApiCallAction",
        "networkConnectionAction",
        "portProbeAction",
    ]
    .iter()
    .find_map(|&kind| {
        coerce::text(action.and_then(|a| {
            path(a, &[kind, "remoteIpDetails", "ipAddressV4"])
                .or_else(|| path(a, &[kind, "remoteIpDetails", "ipAddressV6"]))
        }))
    });
    let api_call = action.and_then(|a| a.get("awsApiCallAction"));
    NormalizedEvent {
        id: coerce::text(get("id")).unwrap_or_else(|| id::synthetic(&finding)),
        time: coerce::text(get("updatedAt"))
            .or_else(|| coerce::text(envelope.get("time")))
            .or_else(|| coerce::text(get("createdAt"))),
        source: Some(GUARDDUTY_SOURCE.to_owned()),
        name: coerce::text(get("type")),
        region: coerce::text(get("region")).or_else(|| coerce::text(envelope.get("region"))),
        account,
        principal,
        mfa_authenticated: None,
        source_ip,
        user_agent: coerce::text(api_call.and_then(|a| a.get("userAgent"))),
        error_code: None,
        error_message: None,
        read_only: None,
        event_type: Some(GUARDDUTY_EVENT_TYPE.to_owned()),
        detail_type: GUARDDUTY_DETAIL_TYPE.to_owned(),
        record: finding,
        record_text: RecordText::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_finding_becomes_an_event_of_its_own_kind() {
        let Value::Object(envelope) = json!({
            "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
            "account": "123456789012", "time": "2024-01-01T00:00:00Z", "region": "us-east-1",
            "detail": {
                "id": "f1", "type": "Recon:IAMUser/MaliciousIPCaller", "accountId": "123456789012",
                "region": "us-east-1", "severity": 5, "updatedAt": "2024-01-01T00:01:00.000Z",
                "resource": {"accessKeyDetails": {"accessKeyId": "AKIAEXAMPLE",
                    "userName": "alice", "userType": "IAMUser"}},
                "service": {"action": {"awsApiCallAction": {"api": "ListBuckets",
                    "remoteIpDetails": {"ipAddressV4": "198.51.100.7"}}}}
            }
        }) else {
            unreachable!()
        };
        let event = guardduty(envelope);
        assert_eq!(event.id, "f1");
        assert_eq!(
            event.name.as_deref(),
            Some("Recon:IAMUser/MaliciousIPCaller")
        );
        assert_eq!(event.event_type.as_deref(), Some(GUARDDUTY_EVENT_TYPE));
        assert_eq!(event.detail_type, GUARDDUTY_DETAIL_TYPE);
        assert_eq!(event.principal.user_name.as_deref(), Some("alice"));
        assert_eq!(event.source_ip.as_deref(), Some("198.51.100.7"));
        assert_eq!(event.time.as_deref(), Some("2024-01-01T00:01:00.000Z"));
        assert_eq!(event.record["severity"], 5);
        assert_eq!(event.envelope_source().as_deref(), Some("aws.guardduty"));
    }
}
