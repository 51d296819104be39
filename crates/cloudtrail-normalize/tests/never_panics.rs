//! Property tests: arbitrary bytes and arbitrary JSON never panic and always
//! yield at least one item.

use cloudtrail_normalize::{normalize_bytes, normalize_value, Item, Options};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn small_options() -> impl Strategy<Value = Options> {
    prop_oneof![
        Just(Options::default()),
        (0usize..300).prop_map(|max_record_bytes| Options {
            max_record_bytes,
            ..Options::default()
        }),
    ]
}

/// Keys that steer shape detection, mixed with random ones, so generated
/// objects hit every branch.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "eventVersion", "eventID", "eventName", "eventSource", "eventTime", "eventType",
            "userIdentity", "type", "accountId", "recipientAccountId", "readOnly",
            "sessionContext", "attributes", "mfaAuthenticated", "sessionIssuer", "userName",
            "additionalEventData", "MFAUsed", "sourceIPAddress", "Records", "Events",
            "CloudTrailEvent", "detail-type", "detail", "source", "account", "id", "version",
            "eventCategory", "insightDetails", "digestStartTime", "@timestamp", "@version",
            "messageType", "logEvents", "message",
        ])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z@_-]{0,8}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "AWS API Call via CloudTrail",
            "AWS Insight via CloudTrail",
            "Insight",
            "AwsConsoleSignIn",
            "true",
            "True",
            "Yes",
            "No",
            "CONTROL_MESSAGE",
            "iam.amazonaws.com",
            "{\"eventVersion\":\"1\"}",
            "{",
            "",
        ])
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn check(items: &[Item], options: &Options) {
    assert!(!items.is_empty());
    for item in items {
        if let Item::Rejected { raw, .. } = item {
            assert!(raw.len() <= options.max_record_bytes);
        }
        if let Item::Event(e) = item {
            // The accessors must not panic either.
            let _ = e.raw_json();
            let _ = e.envelope();
            assert!(!e.id.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512), options in small_options()) {
        let items = normalize_bytes(&bytes, &options);
        check(&items, &options);
    }

    #[test]
    fn arbitrary_gzip_looking_bytes(tail in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = vec![0x1f, 0x8b];
        bytes.extend(tail);
        let options = Options::default();
        check(&normalize_bytes(&bytes, &options), &options);
    }

    #[test]
    fn arbitrary_json_values(value in json_value(), options in small_options()) {
        let text = serde_json::to_vec(&value).unwrap_or_default();
        check(&normalize_bytes(&text, &options), &options);
        check(&normalize_value(value, &options), &options);
    }

    #[test]
    fn arbitrary_json_lines(values in prop::collection::vec(json_value(), 1..6), junk in ".{0,20}") {
        let mut text = String::new();
        for v in &values {
            text.push_str(&serde_json::to_string(v).unwrap_or_default());
            text.push('\n');
        }
        text.push_str(&junk);
        let options = Options::default();
        check(&normalize_bytes(text.as_bytes(), &options), &options);
    }

    #[test]
    fn arbitrary_text_with_escapes(s in r#"[{}\[\]":,\\u0-9a-fA-FdD ]{0,64}"#) {
        let options = Options::default();
        check(&normalize_bytes(s.as_bytes(), &options), &options);
    }
}

/// Events found in a list are all accounted for: one item per element.
#[test]
fn one_item_per_list_element() {
    let v: Value = serde_json::json!([
        {"eventID": "a"}, 1, "x", null, {"foo": 1}, [], {"Records": []},
        {"detail-type": "Other", "detail": {}}, {"eventCategory": "Insight"}
    ]);
    let options = Options::default();
    assert_eq!(normalize_value(v, &options).len(), 9);
}
