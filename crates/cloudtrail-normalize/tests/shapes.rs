//! Each accepted shape, and the ones recognised and skipped.

mod common;

use cloudtrail_normalize::{
    normalize_bytes, normalize_bytes_with_hint, normalize_value, Item, Options, SkipReason,
};
use common::{gzip, one_event, opts, outcomes, tally};
use serde_json::{json, Value};

fn record(id: &str, name: &str) -> Value {
    json!({
        "eventVersion": "1.08",
        "eventID": id,
        "eventTime": "2024-01-02T03:04:05Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "recipientAccountId": "123456789012",
        "userIdentity": {"type": "Root", "accountId": "123456789012"}
    })
}

fn envelope(detail_type: &str, detail: Value) -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "aws.iam",
        "account": "123456789012",
        "time": "2024-01-02T03:04:05Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail
    })
}

fn ids(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| match i {
            Item::Event(e) => e.id.clone(),
            other => other.outcome().to_owned(),
        })
        .collect()
}

#[test]
fn bare_record() {
    let e = one_event(record("a", "CreateUser"));
    assert_eq!(e.id, "a");
    assert_eq!(e.detail_type, "AWS API Call via CloudTrail");
    assert_eq!(e.record, record("a", "CreateUser"));
}

#[test]
fn eventbridge_envelopes_of_every_cloudtrail_detail_type() {
    for dt in [
        "AWS API Call via CloudTrail",
        "AWS Console Sign In via CloudTrail",
        "AWS Service Event via CloudTrail",
        "AWS Console Action via CloudTrail",
    ] {
        let e = one_event(envelope(dt, record("a", "CreateUser")));
        assert_eq!(e.detail_type, dt);
        assert_eq!(e.record, record("a", "CreateUser"), "record unwrapped");
        let env = e.envelope();
        assert_eq!(env["detail-type"], json!(dt));
        assert_eq!(env["source"], json!("aws.iam"));
        assert_eq!(env["id"], json!("a"));
        assert_eq!(env["account"], json!("123456789012"));
        assert_eq!(env["region"], json!("us-east-1"));
        assert_eq!(env["time"], json!("2024-01-02T03:04:05Z"));
        assert_eq!(env["version"], json!("0"));
        assert_eq!(env["resources"], json!([]));
        assert_eq!(env["detail"], record("a", "CreateUser"));
    }
}

#[test]
fn envelope_fills_gaps_of_its_record() {
    let e = one_event(envelope(
        "AWS API Call via CloudTrail",
        json!({"eventVersion": "1.08"}),
    ));
    assert_eq!(e.time.as_deref(), Some("2024-01-02T03:04:05Z"));
    assert_eq!(e.region.as_deref(), Some("us-east-1"));
    assert_eq!(e.account.as_deref(), Some("123456789012"));
}

#[test]
fn envelope_with_detail_as_json_text() {
    let text = serde_json::to_string(&record("a", "X")).unwrap_or_default();
    let e = one_event(envelope("AWS API Call via CloudTrail", Value::String(text)));
    assert_eq!(e.id, "a");
}

#[test]
fn envelope_with_placeholder_detail_type_but_cloudtrail_detail() {
    let mut r = record("a", "X");
    r["eventType"] = json!("AwsConsoleSignIn");
    let e = one_event(envelope("...", r));
    // The placeholder is not kept: the detail-type is derived.
    assert_eq!(e.detail_type, "AWS Console Sign In via CloudTrail");
}

#[test]
fn other_detail_types_are_skipped() {
    let v = envelope(
        "EC2 Instance State-change Notification",
        json!({"instance-id": "i-1", "state": "running"}),
    );
    let items = normalize_value(v, &opts());
    assert_eq!(outcomes(&items), ["not_cloudtrail"]);
    assert!(matches!(
        &items[0],
        Item::Skipped { reason: SkipReason::NotCloudtrail, detail } if detail.contains("EC2 Instance State-change")
    ));
}

#[test]
fn insights_are_events_of_their_own_kind_unless_skipped() {
    let insight = json!({
        "eventVersion": "1.07", "eventTime": "2019-11-14T00:51:00Z", "awsRegion": "us-east-1",
        "eventID": "i1", "eventType": "AwsCloudTrailInsight", "recipientAccountId": "123456789012",
        "insightDetails": {"state": "Start", "insightType": "ApiCallRateInsight"},
        "eventCategory": "Insight"
    });
    for input in [
        envelope("AWS Insight via CloudTrail", insight.clone()),
        insight.clone(),
    ] {
        let items = normalize_value(input, &opts());
        assert_eq!(outcomes(&items), ["event"]);
        let event = items[0].as_event().unwrap();
        assert_eq!(event.id, "i1");
        assert_eq!(event.detail_type, "AWS Insight via CloudTrail");
        assert_eq!(event.account.as_deref(), Some("123456789012"));
        assert!(event.is_signal());
        assert_eq!(
            event.name, None,
            "the API it is about stays in insightDetails"
        );
    }
    // Skipped as before with skip_insights.
    let skip = Options {
        skip_insights: true,
        ..opts()
    };
    let items = normalize_value(
        envelope("AWS Insight via CloudTrail", insight.clone()),
        &skip,
    );
    assert_eq!(outcomes(&items), ["insight_event"]);
    assert_eq!(
        outcomes(&normalize_value(insight, &skip)),
        ["insight_event"]
    );
    // eventCategory alone is enough.
    let mut r = record("a", "X");
    r["eventCategory"] = json!("Insight");
    assert_eq!(outcomes(&normalize_value(r, &skip)), ["insight_event"]);
    // An API call envelope carrying an insight is still an insight.
    let mut r = record("a", "X");
    r["insightDetails"] = json!({});
    let items = normalize_value(envelope("AWS API Call via CloudTrail", r), &skip);
    assert_eq!(outcomes(&items), ["insight_event"]);
}

#[test]
fn guardduty_findings_are_events_of_their_own_kind() {
    let finding = json!({
        "version": "0", "id": "env-1", "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty", "account": "123456789012", "time": "2024-06-02T20:16:45Z",
        "region": "us-east-1", "resources": [],
        "detail": {"schemaVersion": "2.0", "accountId": "123456789012", "region": "us-east-1",
            "id": "gd-1", "type": "Recon:IAMUser/MaliciousIPCaller", "severity": 5.0,
            "updatedAt": "2024-06-02T20:16:40.000Z",
            "resource": {"resourceType": "AccessKey", "accessKeyDetails": {
                "accessKeyId": "AKIAI44QH8DHBEXAMPLE", "userType": "IAMUser", "userName": "Nikki"}},
            "service": {"action": {"actionType": "AWS_API_CALL", "awsApiCallAction": {
                "api": "ListBuckets", "remoteIpDetails": {"ipAddressV4": "198.51.100.23"}}}}}
    });
    let items = normalize_value(finding, &opts());
    assert_eq!(outcomes(&items), ["event"]);
    let event = items[0].as_event().unwrap();
    assert_eq!(event.id, "gd-1");
    assert_eq!(event.event_type.as_deref(), Some("GuardDutyFinding"));
    assert_eq!(event.detail_type, "GuardDuty Finding");
    assert_eq!(event.source.as_deref(), Some("guardduty.amazonaws.com"));
    assert_eq!(
        event.name.as_deref(),
        Some("Recon:IAMUser/MaliciousIPCaller")
    );
    assert_eq!(
        event.principal.access_key_id.as_deref(),
        Some("AKIAI44QH8DHBEXAMPLE")
    );
    assert_eq!(event.source_ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(event.record["severity"], 5.0);
    assert!(event.is_signal());
    // Another detail-type of GuardDuty's stays not ours.
    let other = json!({"detail-type": "GuardDuty Malware Protection Object Scan Result",
        "source": "aws.guardduty", "detail": {"x": 1}});
    assert_eq!(
        outcomes(&normalize_value(other, &opts())),
        ["not_cloudtrail"]
    );
}

#[test]
fn list_of_mixed_shapes() {
    let lookup = json!({
        "EventId": "c", "EventName": "X",
        "CloudTrailEvent": serde_json::to_string(&record("c", "X")).unwrap_or_default()
    });
    let v = json!([
        record("a", "X"),
        envelope("AWS API Call via CloudTrail", record("b", "X")),
        lookup,
        {"Records": [record("d", "X"), record("e", "X")]},
        [record("f", "X")]
    ]);
    let items = normalize_value(v, &opts());
    assert_eq!(ids(&items), ["a", "b", "c", "d", "e", "f"]);
}

#[test]
fn log_file() {
    let v = json!({"Records": [record("a", "X"), record("b", "Y")]});
    let items = normalize_value(v, &opts());
    assert_eq!(ids(&items), ["a", "b"]);
}

#[test]
fn empty_containers_are_one_skip() {
    for v in [json!([]), json!({"Records": []}), json!({"Events": []})] {
        let items = normalize_value(v.clone(), &opts());
        assert_eq!(outcomes(&items), ["empty_input"], "{v}");
    }
    for bytes in [&b""[..], b"  \n\r\n", b"\xEF\xBB\xBF"] {
        assert_eq!(outcomes(&normalize_bytes(bytes, &opts())), ["empty_input"]);
    }
}

#[test]
fn lookup_events_response_and_single_events() {
    let event = |id: &str| {
        json!({
            "EventId": id, "EventName": "X", "ReadOnly": "false",
            "CloudTrailEvent": serde_json::to_string(&record(id, "X")).unwrap_or_default()
        })
    };
    let v = json!({"Events": [event("a"), event("b")], "NextToken": "t"});
    assert_eq!(ids(&normalize_value(v, &opts())), ["a", "b"]);
    let e = one_event(event("c"));
    assert_eq!(e.record, record("c", "X"));
    // Already parsed into an object by some tool.
    let e = one_event(json!({"EventId": "d", "CloudTrailEvent": record("d", "X")}));
    assert_eq!(e.id, "d");
}

#[test]
fn invalid_lookup_events_are_rejected() {
    for ct in [json!("{not json"), json!("[1,2]"), json!(7), Value::Null] {
        let v = json!({"EventId": "x", "CloudTrailEvent": ct});
        let items = normalize_value(v, &opts());
        assert_eq!(outcomes(&items), ["invalid_lookup_event"], "{ct}");
        let Item::Rejected { raw, .. } = &items[0] else {
            unreachable!()
        };
        assert!(raw.contains("EventId"), "raw keeps the lookup event: {raw}");
    }
}

#[test]
fn logstash_record() {
    let mut r = record("a", "X");
    r["@timestamp"] = json!("2024-01-02T03:04:05.000Z");
    r["@version"] = json!("1");
    let e = one_event(r);
    assert_eq!(e.record, record("a", "X"));
    assert_eq!(e.time.as_deref(), Some("2024-01-02T03:04:05Z"));
}

#[test]
fn digest_files_are_skipped() {
    let digest = json!({
        "awsAccountId": "123456789012",
        "digestStartTime": "2024-01-01T00:00:00Z",
        "digestEndTime": "2024-01-01T01:00:00Z",
        "digestS3Bucket": "b", "digestS3Object": "o",
        "logFiles": []
    });
    assert_eq!(outcomes(&normalize_value(digest, &opts())), ["digest_file"]);
    let items = normalize_bytes_with_hint(
        b"whatever",
        &opts(),
        Some("AWSLogs/1/CloudTrail-Digest/us-east-1/2024/01/01/x.json.gz"),
    );
    assert_eq!(outcomes(&items), ["digest_file"]);
    // Other names do not change anything.
    let items = normalize_bytes_with_hint(
        br#"{"Records":[]}"#,
        &opts(),
        Some("AWSLogs/1/CloudTrail/x.json.gz"),
    );
    assert_eq!(outcomes(&items), ["empty_input"]);
}

#[test]
fn cloudwatch_logs_subscription() {
    let payload = json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012",
        "logGroup": "aws-cloudtrail-logs", "logStream": "s",
        "subscriptionFilters": ["f"],
        "logEvents": [
            {"id": "1", "timestamp": 1, "message": serde_json::to_string(&record("a", "X")).unwrap_or_default()},
            {"id": "2", "timestamp": 2, "message": "{broken"},
            {"id": "3", "timestamp": 3}
        ]
    });
    let bytes = gzip(&serde_json::to_vec(&payload).unwrap_or_default());
    // Firehose compresses the already gzip-compressed payload once more.
    let items = normalize_bytes(&gzip(&bytes), &opts());
    assert_eq!(
        ids(&items),
        ["a", "invalid_json", "not_an_object"],
        "{items:#?}"
    );
    let control = json!({"messageType": "CONTROL_MESSAGE", "logEvents": [{"message": "CWL CONTROL MESSAGE"}]});
    assert_eq!(
        outcomes(&normalize_value(control, &opts())),
        ["control_message"]
    );
}

#[test]
fn json_lines_of_any_shape_plain_and_gzip() {
    let lines = [
        record("a", "X"),
        envelope("AWS API Call via CloudTrail", record("b", "X")),
        json!({"Records": [record("c", "X"), record("d", "X")]}),
        json!([record("e", "X")]),
    ]
    .iter()
    .map(|v| serde_json::to_string(v).unwrap_or_default())
    .collect::<Vec<_>>()
    .join("\r\n");
    for bytes in [lines.clone().into_bytes(), gzip(lines.as_bytes())] {
        let items = normalize_bytes(&bytes, &opts());
        assert_eq!(ids(&items), ["a", "b", "c", "d", "e"]);
    }
}

#[test]
fn concatenated_json_without_newlines() {
    let text = format!("{}{}", record("a", "X"), record("b", "X"));
    assert_eq!(ids(&normalize_bytes(text.as_bytes(), &opts())), ["a", "b"]);
}

#[test]
fn pretty_printed_log_file() {
    let text =
        serde_json::to_string_pretty(&json!({"Records": [record("a", "X")]})).unwrap_or_default();
    assert_eq!(tally(&normalize_bytes(text.as_bytes(), &opts())), (1, 0, 0));
}

#[test]
fn envelope_sources() {
    for (event_source, want) in [
        ("iam.amazonaws.com", Some("aws.iam")),
        ("signin.amazonaws.com", Some("aws.signin")),
        ("s3.amazonaws.com", Some("aws.s3")),
        ("sts.amazonaws.com", Some("aws.sts")),
        ("monitoring.amazonaws.com", Some("aws.cloudwatch")),
        ("...", None),
    ] {
        let mut r = record("a", "X");
        r["eventSource"] = json!(event_source);
        let e = one_event(r);
        assert_eq!(e.envelope_source().as_deref(), want, "{event_source}");
        assert_eq!(
            e.envelope().get("source").and_then(Value::as_str),
            want,
            "{event_source}"
        );
    }
    let mut r = record("a", "X");
    if let Some(m) = r.as_object_mut() {
        m.remove("eventSource");
        m.remove("eventTime");
        m.remove("awsRegion");
        m.remove("recipientAccountId");
        m.remove("userIdentity");
    }
    let env = one_event(r).envelope();
    for absent in ["source", "time", "region", "account"] {
        assert!(
            env.get(absent).is_none(),
            "{absent} should be omitted: {env}"
        );
    }
}

#[test]
fn reasons_have_stable_names() {
    use cloudtrail_normalize::RejectReason;
    assert_eq!(SkipReason::InsightEvent.to_string(), "insight_event");
    assert_eq!(SkipReason::DigestFile.as_str(), "digest_file");
    assert_eq!(SkipReason::NotCloudtrail.as_str(), "not_cloudtrail");
    assert_eq!(RejectReason::InvalidJson.to_string(), "invalid_json");
    assert_eq!(RejectReason::NotAnObject.as_str(), "not_an_object");
    assert_eq!(RejectReason::NotCloudtrail.as_str(), "not_cloudtrail");
    assert_eq!(
        RejectReason::InvalidLookupEvent.as_str(),
        "invalid_lookup_event"
    );
    assert_eq!(RejectReason::Oversized.as_str(), "oversized");
    assert_eq!(
        serde_json::to_value(RejectReason::InvalidGzip).ok(),
        Some(json!("invalid_gzip"))
    );
}
