//! The known traps of real CloudTrail data: each must yield the event with
//! the field absent, never a reject.

mod common;

use cloudtrail_normalize::{normalize_bytes, Item};
use common::{one_event, opts};
use serde_json::{json, Value};

fn base() -> Value {
    json!({
        "eventVersion": "1.08",
        "eventID": "11111111-2222-3333-4444-555555555555",
        "eventTime": "2024-01-02T03:04:05Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateUser",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2",
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::123456789012:user/alice",
            "accountId": "123456789012",
            "userName": "alice",
            "accessKeyId": "AKIAEXAMPLE"
        }
    })
}

fn with(patch: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut v = base();
    if let Some(m) = v.as_object_mut() {
        patch(m);
    }
    v
}

#[test]
fn event_time_missing() {
    let e = one_event(with(|m| {
        m.remove("eventTime");
    }));
    assert_eq!(e.time, None);
    assert_eq!(e.name.as_deref(), Some("CreateUser"));
    assert!(e.envelope().get("time").is_none());
}

#[test]
fn event_name_missing() {
    let e = one_event(with(|m| {
        m.remove("eventName");
    }));
    assert_eq!(e.name, None);
    assert_eq!(e.source.as_deref(), Some("iam.amazonaws.com"));
}

#[test]
fn event_id_missing_gives_stable_synthetic_id() {
    let v = with(|m| {
        m.remove("eventID");
    });
    let a = one_event(v.clone());
    let b = one_event(v);
    assert!(a.id.starts_with("synthetic-"), "{}", a.id);
    assert_eq!(a.id, b.id);
    // Pinned (and equal to Python's sha256 of json.dumps(sort_keys=True,
    // separators=(",", ":"), ensure_ascii=False)): ids must not change
    // between versions of the crate.
    assert_eq!(a.id, "synthetic-45b1a99046104d06bd58b951882b906e");
    // Key order and logstash fields do not change it.
    let mut reordered: serde_json::Map<String, Value> = serde_json::Map::new();
    if let Value::Object(m) = with(|m| {
        m.remove("eventID");
    }) {
        let mut entries: Vec<_> = m.into_iter().collect();
        entries.reverse();
        reordered.extend(entries);
    }
    reordered.insert("@timestamp".into(), json!("2024-01-02T03:04:05.000Z"));
    assert_eq!(one_event(Value::Object(reordered)).id, a.id);
}

#[test]
fn user_identity_missing() {
    let e = one_event(with(|m| {
        m.remove("userIdentity");
    }));
    assert_eq!(e.principal, Default::default());
    assert_eq!(e.account.as_deref(), Some("123456789012"));
}

#[test]
fn user_identity_type_null() {
    let e = one_event(with(|m| {
        m["userIdentity"]["type"] = Value::Null;
    }));
    assert_eq!(e.principal.kind, None);
    assert_eq!(e.principal.user_name.as_deref(), Some("alice"));
}

#[test]
fn user_identity_not_an_object() {
    let e = one_event(with(|m| {
        m.insert("userIdentity".into(), json!("root"));
    }));
    assert_eq!(e.principal, Default::default());
}

#[test]
fn source_ip_variants() {
    for (ip, want) in [
        (json!("ec2.amazonaws.com"), Some("ec2.amazonaws.com")),
        (json!("AWS Internal"), Some("AWS Internal")),
        (json!(""), None),
        (Value::Null, None),
        (json!("2001:db8::1"), Some("2001:db8::1")),
    ] {
        let e = one_event(with(|m| {
            m.insert("sourceIPAddress".into(), ip.clone());
        }));
        assert_eq!(e.source_ip.as_deref(), want, "{ip}");
    }
    let e = one_event(with(|m| {
        m.remove("sourceIPAddress");
    }));
    assert_eq!(e.source_ip, None);
}

#[test]
fn read_only_as_text() {
    for (v, want) in [
        (json!("true"), Some(true)),
        (json!("True"), Some(true)),
        (json!("false"), Some(false)),
        (json!(true), Some(true)),
        (json!("..."), None),
    ] {
        let e = one_event(with(|m| {
            m.insert("readOnly".into(), v.clone());
        }));
        assert_eq!(e.read_only, want, "{v}");
    }
}

#[test]
fn mfa_authenticated_as_text() {
    for (v, want) in [
        (json!("true"), Some(true)),
        (json!("True"), Some(true)),
        (json!("false"), Some(false)),
        (json!(false), Some(false)),
    ] {
        let e = one_event(with(|m| {
            m["userIdentity"]["sessionContext"] = json!({"attributes": {"mfaAuthenticated": v}});
        }));
        assert_eq!(e.mfa_authenticated, want);
    }
}

#[test]
fn mfa_used_yes_no() {
    for (v, want) in [
        ("Yes", Some(true)),
        ("No", Some(false)),
        ("YES", Some(true)),
        ("...", None),
    ] {
        let e = one_event(with(|m| {
            m.insert("eventName".into(), json!("ConsoleLogin"));
            m.insert("eventType".into(), json!("AwsConsoleSignIn"));
            m.insert("additionalEventData".into(), json!({"MFAUsed": v}));
        }));
        assert_eq!(e.mfa_authenticated, want, "{v}");
        assert_eq!(e.detail_type, "AWS Console Sign In via CloudTrail");
    }
    // mfaAuthenticated wins over MFAUsed.
    let e = one_event(with(|m| {
        m["userIdentity"]["sessionContext"] = json!({"attributes": {"mfaAuthenticated": "false"}});
        m.insert("additionalEventData".into(), json!({"MFAUsed": "Yes"}));
    }));
    assert_eq!(e.mfa_authenticated, Some(false));
}

#[test]
fn account_ids_as_numbers() {
    let e = one_event(with(|m| {
        m.insert("recipientAccountId".into(), json!(12345678901u64));
        m["userIdentity"]["accountId"] = json!(111122223333u64);
    }));
    assert_eq!(e.account.as_deref(), Some("012345678901"));
    assert_eq!(e.principal.account_id.as_deref(), Some("111122223333"));
    assert_eq!(e.envelope()["account"], json!("012345678901"));

    // Falls back to userIdentity.accountId, then the envelope's account.
    let e = one_event(with(|m| {
        m.remove("recipientAccountId");
        m["userIdentity"]["accountId"] = json!(42);
    }));
    assert_eq!(e.account.as_deref(), Some("000000000042"));
    let mut record = base();
    if let Some(m) = record.as_object_mut() {
        m.remove("recipientAccountId");
        m.remove("userIdentity");
    }
    let e = one_event(json!({
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam",
        "account": 9,
        "detail": record
    }));
    assert_eq!(e.account.as_deref(), Some("000000000009"));
}

#[test]
fn non_bmp_unicode_as_surrogate_pairs() {
    let text = r#"{"eventVersion":"1.08","eventName":"PutObject","userAgent":"agent \ud83d\ude00 \u00e9"}"#;
    let items = normalize_bytes(text.as_bytes(), &opts());
    let [Item::Event(e)] = items.as_slice() else {
        panic!("{items:#?}")
    };
    assert_eq!(e.user_agent.as_deref(), Some("agent 😀 é"));
    assert!(e.raw_json().contains('😀'));
}

#[test]
fn lone_surrogate_is_an_invalid_json_reject() {
    for text in [
        r#"{"eventVersion":"1.08","eventName":"X","userAgent":"bad \ud800 here"}"#,
        r#"{"eventVersion":"1.08","eventName":"X","userAgent":"bad \udc00"}"#,
        r#"{"eventVersion":"1.08","eventName":"X","userAgent":"bad \ud83d\u0041"}"#,
    ] {
        let items = normalize_bytes(text.as_bytes(), &opts());
        assert_eq!(items.len(), 1, "{items:#?}");
        match &items[0] {
            Item::Rejected { reason, raw, .. } => {
                assert_eq!(reason.as_str(), "invalid_json");
                assert_eq!(raw, text);
            }
            other => panic!("{other:#?}"),
        }
    }
}

#[test]
fn lone_surrogate_inside_lookup_event_string() {
    let v = json!({"EventId": "x", "CloudTrailEvent": r#"{"eventVersion":"1.08","eventName":"\ud800"}"#});
    let items = cloudtrail_normalize::normalize_value(v, &opts());
    assert_eq!(common::outcomes(&items), ["invalid_lookup_event"]);
}
