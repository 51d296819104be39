//! Bad input: each becomes a counted reject with its raw text, never a panic.

mod common;

use cloudtrail_normalize::{normalize_bytes, normalize_value, Item, Options, RejectReason};
use common::{gzip, opts, outcomes, tally};
use serde_json::json;

fn rejected(item: &Item) -> (RejectReason, &str, &str) {
    match item {
        Item::Rejected {
            reason,
            detail,
            raw,
        } => (*reason, detail.as_str(), raw.as_str()),
        other => panic!("expected a reject, got {other:#?}"),
    }
}

#[test]
fn invalid_json() {
    let text = b"{\"eventVersion\": \"1.08\", \"eventName\": ";
    let items = normalize_bytes(text, &opts());
    assert_eq!(items.len(), 1);
    let (reason, detail, raw) = rejected(&items[0]);
    assert_eq!(reason, RejectReason::InvalidJson);
    assert!(detail.contains("line 1"), "{detail}");
    assert_eq!(raw.as_bytes(), text);
}

#[test]
fn broken_pretty_printed_document_is_one_reject() {
    let text = "{\n  \"Records\": [\n    {\n      \"eventName\": \"X\",\n      \"eventID\": \"a\"\n    },\n";
    let items = normalize_bytes(text.as_bytes(), &opts());
    assert_eq!(outcomes(&items), ["invalid_json"]);
}

#[test]
fn not_json_at_all() {
    let items = normalize_bytes(b"hello world\nthis is text", &opts());
    assert_eq!(outcomes(&items), ["invalid_json"]);
    let items = normalize_bytes(&[0xff, 0xfe, 0x00, 0x7b], &opts());
    assert_eq!(outcomes(&items), ["invalid_json"]);
}

#[test]
fn broken_line_among_good_ones() {
    let text = concat!(
        r#"{"eventVersion":"1.08","eventID":"a","eventName":"X"}"#,
        "\n",
        r#"{"eventVersion":"1.08","eventID":"b","eventName":"#,
        "\n\n",
        r#"{"eventVersion":"1.08","eventID":"c","eventName":"Y"}"#,
        "\n"
    );
    let items = normalize_bytes(text.as_bytes(), &opts());
    assert_eq!(outcomes(&items), ["event", "invalid_json", "event"]);
    let (_, detail, raw) = rejected(&items[1]);
    assert!(detail.starts_with("line 2:"), "{detail}");
    assert_eq!(raw, r#"{"eventVersion":"1.08","eventID":"b","eventName":"#);
    assert_eq!(items[2].as_event().map(|e| e.id.as_str()), Some("c"));

    // The first line broken works the same way.
    let text = "{broken\n{\"eventID\":\"a\"}\n";
    let items = normalize_bytes(text.as_bytes(), &opts());
    assert_eq!(outcomes(&items), ["invalid_json", "event"]);
    assert!(rejected(&items[0]).1.starts_with("line 1:"));
}

#[test]
fn json_lines_reject_details_name_their_line() {
    let text = "{\"eventID\":\"a\"}\n42\n{\"foo\":1}\n";
    let items = normalize_bytes(text.as_bytes(), &opts());
    assert_eq!(
        outcomes(&items),
        ["event", "not_an_object", "not_cloudtrail"]
    );
    assert!(rejected(&items[1]).1.starts_with("line 2:"));
    assert!(rejected(&items[2]).1.starts_with("line 3:"));
}

#[test]
fn a_number() {
    let items = normalize_bytes(b"42", &opts());
    assert_eq!(outcomes(&items), ["not_an_object"]);
    assert_eq!(rejected(&items[0]).2, "42");
    assert_eq!(
        outcomes(&normalize_value(json!(null), &opts())),
        ["not_an_object"]
    );
}

#[test]
fn an_array_of_strings() {
    let items = normalize_bytes(br#"["a", "b", "c"]"#, &opts());
    assert_eq!(items.len(), 3, "one item per element");
    for (item, want) in items.iter().zip(["\"a\"", "\"b\"", "\"c\""]) {
        let (reason, detail, raw) = rejected(item);
        assert_eq!(reason, RejectReason::NotAnObject);
        assert_eq!(raw, want);
        assert!(detail.contains("a string"), "{detail}");
    }
}

#[test]
fn an_object_that_is_not_cloudtrail() {
    let items = normalize_value(json!({"hello": "world"}), &opts());
    assert_eq!(outcomes(&items), ["not_cloudtrail"]);
    assert_eq!(rejected(&items[0]).2, r#"{"hello":"world"}"#);
}

#[test]
fn truncated_gzip() {
    let text = serde_json::to_vec(&json!({"Records": [{"eventID": "a", "eventName": "X"}]}))
        .unwrap_or_default();
    let gz = gzip(&text);
    for cut in [2, 10, gz.len() / 2, gz.len() - 1] {
        let items = normalize_bytes(&gz[..cut], &opts());
        assert_eq!(items.len(), 1, "cut at {cut}: {items:#?}");
        let (reason, detail, _) = rejected(&items[0]);
        assert_eq!(reason, RejectReason::InvalidGzip, "cut at {cut}");
        assert!(detail.contains("gzip"), "{detail}");
    }
    // Garbage after the magic bytes.
    let items = normalize_bytes(&[0x1f, 0x8b, 1, 2, 3], &opts());
    assert_eq!(outcomes(&items), ["invalid_gzip"]);
}

#[test]
fn oversized_record() {
    let options = Options {
        max_record_bytes: 1024,
        ..Options::default()
    };
    let big = json!({"eventVersion": "1.08", "eventID": "big", "requestParameters": {"blob": "x".repeat(2000)}});
    let small = json!({"eventVersion": "1.08", "eventID": "small"});
    let items = normalize_value(json!({"Records": [small, big]}), &options);
    assert_eq!(outcomes(&items), ["event", "oversized"]);
    let (_, detail, raw) = rejected(&items[1]);
    assert!(detail.contains("1024"), "{detail}");
    assert_eq!(raw.len(), 1024, "raw is cut to the limit");
    assert!(raw.starts_with('{'));

    // The default limit is EventBridge's 256 KiB.
    assert_eq!(Options::default().max_record_bytes, 256 * 1024);
    let huge = json!({"eventVersion": "1.08", "eventID": "h", "blob": "y".repeat(300 * 1024)});
    assert_eq!(outcomes(&normalize_value(huge, &opts())), ["oversized"]);
    let fits = json!({"eventVersion": "1.08", "eventID": "f", "blob": "y".repeat(200 * 1024)});
    assert_eq!(outcomes(&normalize_value(fits, &opts())), ["event"]);
}

#[test]
fn rejected_raw_text_is_cut_at_the_limit() {
    let options = Options {
        max_record_bytes: 10,
        ..Options::default()
    };
    let items = normalize_bytes("ééééééééééé not json".as_bytes(), &options);
    let (_, _, raw) = rejected(&items[0]);
    assert!(raw.len() <= 10);
    assert_eq!(raw, "ééééé");
}

#[test]
fn envelope_without_object_detail() {
    for detail in [json!(null), json!(5), json!("not json")] {
        let v = json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.iam", "detail": detail});
        assert_eq!(outcomes(&normalize_value(v, &opts())), ["invalid_envelope"]);
    }
    let v = json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.iam"});
    assert_eq!(outcomes(&normalize_value(v, &opts())), ["invalid_envelope"]);
}

#[test]
fn deeply_nested_lists() {
    let mut v = json!({"eventID": "deep"});
    for _ in 0..100 {
        v = json!([v]);
    }
    let items = normalize_value(v, &opts());
    assert_eq!(outcomes(&items), ["too_deep"]);
    // Within the limit the record is found.
    let mut v = json!({"eventID": "ok"});
    for _ in 0..10 {
        v = json!([v]);
    }
    assert_eq!(tally(&normalize_value(v, &opts())), (1, 0, 0));
}

#[test]
fn nested_gzip_of_zeros_is_one_decompression_bomb() {
    // A few kilobytes that would be 64 MiB: refused past the first MiB.
    let bomb = gzip(&gzip(&vec![0u8; 64 * 1024 * 1024]));
    assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
    let items = normalize_bytes(&bomb, &opts());
    assert_eq!(outcomes(&items), ["decompression_bomb"]);
    let (_, detail, raw) = rejected(&items[0]);
    assert!(detail.contains("100:1"), "{detail}");
    assert!(raw.len() <= opts().max_record_bytes, "raw kept, truncated");
}

#[test]
fn gzip_past_the_absolute_cap_is_too_large() {
    let options = Options {
        max_input_bytes: 4096,
        ..Options::default()
    };
    let line = r#"{"eventVersion":"1.08","eventID":"x","eventName":"X"}"#;
    let text = format!("{line}\n").repeat(100);
    let items = normalize_bytes(&gzip(text.as_bytes()), &options);
    assert_eq!(outcomes(&items), ["too_large"]);
    let (_, detail, _) = rejected(&items[0]);
    assert!(detail.contains("4096"), "{detail}");
    // Under the cap it reads as usual.
    let items = normalize_bytes(&gzip(format!("{line}\n").as_bytes()), &options);
    assert_eq!(outcomes(&items), ["event"]);
}

#[test]
fn millions_of_bad_lines_keep_a_bounded_number_of_rejects_and_one_summary() {
    let text = "x\n".repeat(2_000_000);
    let good = r#"{"eventVersion":"1.08","eventID":"real","eventName":"X"}"#;
    let input = format!("{good}\n{text}");
    let items = normalize_bytes(input.as_bytes(), &opts());
    let mut counts = std::collections::BTreeMap::new();
    for outcome in outcomes(&items) {
        *counts.entry(outcome).or_insert(0) += 1;
    }
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        [("event", 1), ("invalid_json", 100), ("too_many_rejects", 1)]
    );
    let (_, detail, _) = rejected(items.last().unwrap());
    assert!(detail.contains("1999900 more"), "{detail}");
    assert!(detail.contains("invalid_json: 1999900"), "{detail}");
}

#[test]
fn items_past_the_cap_are_one_summary() {
    let options = Options {
        max_items: 3,
        ..Options::default()
    };
    let records: Vec<_> = (0..10)
        .map(|i| json!({"eventVersion": "1.08", "eventID": format!("e{i}"), "eventName": "X"}))
        .collect();
    let items = normalize_value(json!({ "Records": records }), &options);
    assert_eq!(
        outcomes(&items),
        ["event", "event", "event", "too_many_items"]
    );
    let (_, detail, _) = rejected(&items[3]);
    assert!(detail.contains("7 more items"), "{detail}");
}
