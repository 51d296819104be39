//! Behaviour beyond the conformance corpus: AWS rules the corpus does not
//! exercise, and `PatternSet` bookkeeping.

use event_pattern::{Pattern, PatternSet};
use serde_json::{json, Value};

fn p(v: Value) -> Pattern {
    Pattern::from_value(&v).unwrap_or_else(|e| panic!("{v} refused: {e}"))
}

fn refused(v: Value) -> String {
    Pattern::from_value(&v)
        .map(|_| panic!("{v} was accepted"))
        .unwrap_err()
        .to_string()
}

/// Checks naive and indexed matching agree, and returns the answer.
fn hit(pattern: &Pattern, event: &Value) -> bool {
    let mut set = PatternSet::new();
    set.add(1, pattern);
    let naive = pattern.matches(event);
    assert_eq!(
        set.matching_ids(event) == vec![1],
        naive,
        "set vs naive on {event}"
    );
    naive
}

#[test]
fn numbers_compare_by_value() {
    let pat = p(json!({"n": [5]}));
    assert!(hit(&pat, &json!({"n": 5.0})));
    assert!(hit(&pat, &json!({"n": 5e0})));
    assert!(!hit(&pat, &json!({"n": "5"})));
    // Large integers keep their precision.
    let big = p(json!({"n": [9_007_199_254_740_993_u64]}));
    assert!(!hit(&big, &json!({"n": 9_007_199_254_740_992_u64})));
    assert!(hit(&big, &json!({"n": 9_007_199_254_740_993_u64})));
}

#[test]
fn ip_literals_match_other_spellings() {
    let pat = p(json!({"ip": ["2001:db8::1"]}));
    assert!(hit(
        &pat,
        &json!({"ip": "2001:0db8:0000:0000:0000:0000:0000:0001"})
    ));
    assert!(!hit(&pat, &json!({"ip": "2001:db8::2"})));
}

#[test]
fn nested_or_expands() {
    let pat = p(json!({
        "source": ["aws.iam"],
        "$or": [
            {"detail": {"eventName": ["CreateUser"]}},
            {"$or": [{"detail": {"errorCode": [{"exists": true}]}}, {"region": ["eu-west-1"]}]}
        ]
    }));
    assert!(hit(
        &pat,
        &json!({"source": "aws.iam", "detail": {"eventName": "CreateUser"}})
    ));
    assert!(hit(
        &pat,
        &json!({"source": "aws.iam", "detail": {"errorCode": "X"}})
    ));
    assert!(hit(
        &pat,
        &json!({"source": "aws.iam", "region": "eu-west-1"})
    ));
    assert!(!hit(
        &pat,
        &json!({"source": "aws.s3", "region": "eu-west-1"})
    ));
}

#[test]
fn exists_false_is_array_consistent() {
    let pat = p(json!({"d": {"a": [{"exists": true}], "b": [{"exists": false}]}}));
    // The second element has `a` without `b`.
    assert!(hit(&pat, &json!({"d": [{"a": 1, "b": 2}, {"a": 3}]})));
    assert!(!hit(&pat, &json!({"d": [{"a": 1, "b": 2}]})));
    // A `b` outside any array is seen by every element.
    let pat = p(json!({"d": {"a": [{"exists": true}]}, "b": [{"exists": false}]}));
    assert!(!hit(&pat, &json!({"d": [{"a": 1}], "b": 0})));
}

#[test]
fn non_object_events_have_no_fields() {
    let absent = p(json!({"a": [{"exists": false}]}));
    let present = p(json!({"a": [{"exists": true}]}));
    for ev in [json!([{"a": 1}]), json!("a"), json!(null)] {
        assert!(hit(&absent, &ev));
        assert!(!hit(&present, &ev));
    }
}

#[test]
fn refusals_say_why() {
    assert_eq!(refused(json!([])), "Filter is not an object");
    assert_eq!(refused(json!({})), "Empty objects are not allowed");
    assert_eq!(refused(json!({"a": {}})), "Empty objects are not allowed");
    assert_eq!(
        refused(json!({"a": [[1]]})),
        "Match value must be String, number, true, false, or null"
    );
    assert_eq!(
        refused(json!({"a": [{}]})),
        "Match expression name not found"
    );
    assert_eq!(
        refused(json!({"a": [{"prefix": "x", "suffix": "y"}]})),
        "Only one key allowed in match expression"
    );
    assert_eq!(
        refused(json!({"a": [{"exists": "yes"}]})),
        "exists match pattern must be either true or false."
    );
    assert_eq!(
        refused(json!({"$or": [{"a": ["x"]}]})),
        "There must have at least 2 Objects in $or relationship."
    );
    assert_eq!(
        refused(json!({"$or": {"a": ["x"]}})),
        "It must be an Array followed with $or."
    );
    assert_eq!(
        refused(json!({"$or": [{"a": ["x"]}, ["b"]]})),
        "Only JSON object is allowed in array of $or relationship."
    );
    assert_eq!(
        refused(json!({"$or": [{"numeric": ["x"]}, {"b": ["y"]}]})),
        "numeric is Ruler reserved fieldName which cannot be used inside $or."
    );
    assert_eq!(
        refused(json!({"a": [{"numeric": [">", 5, "<", 1]}]})),
        "Bottom must be less than top"
    );
    assert_eq!(
        refused(json!({"a": [{"numeric": ["==", 5]}]})),
        "Unrecognized numeric range operator: =="
    );
    assert_eq!(
        refused(json!({"a": [{"anything-but": ["x", 1]}]})),
        "Inside anything but list, either all values are number or string, mixed type is not supported"
    );
    assert_eq!(
        refused(json!({"a": [{"anything-but": {"exists": true}}]})),
        "Unsupported anything-but pattern: exists"
    );
    assert_eq!(
        refused(json!({"a": [{"prefix": {"suffix": "x"}}]})),
        "Unsupported prefix pattern: suffix"
    );
    assert_eq!(
        refused(json!({"a.b": ["x"], "a": {"b": ["y"]}})),
        "Path `a.b` cannot be allowed multiple times"
    );
    let e = Pattern::parse("{\"a\": [").unwrap_err();
    assert!(e.reason().starts_with("Filter is not valid JSON"), "{e}");
    assert!(e
        .aws_message()
        .starts_with("Event pattern is not valid. Reason: "));
}

#[test]
fn set_bookkeeping() {
    let mut set = PatternSet::new();
    assert!(set.is_empty());
    set.add_json(3, r#"{"a": ["x"]}"#).unwrap();
    set.add_json(1, r#"{"a": [{"prefix": "x"}]}"#).unwrap();
    set.add_json(3, r#"{"b": ["y"]}"#).unwrap(); // same id again: either may match
    assert!(set.add_json(9, r#"{"a": []}"#).is_err());
    assert_eq!(set.len(), 3);
    assert_eq!(set.matching_ids(&json!({"a": "x", "b": "y"})), vec![1, 3]);
    assert_eq!(set.matching_ids(&json!({"b": "y"})), vec![3]);
    assert!(set.remove(3));
    assert!(!set.remove(3));
    assert_eq!(set.matching_ids(&json!({"a": "x", "b": "y"})), vec![1]);
    assert_eq!(set.len(), 1);
}

#[test]
fn case_folding_and_affixes() {
    let pat = p(json!({"f": [
        {"prefix": {"equals-ignore-case": "ÉTÉ"}},
        {"suffix": {"equals-ignore-case": ".PNG"}}
    ]}));
    assert!(hit(&pat, &json!({"f": "été-2024"})));
    assert!(hit(&pat, &json!({"f": "photo.png"})));
    assert!(!hit(&pat, &json!({"f": "photo.jpg"})));
    // Multi-byte values next to ASCII operands must not split characters.
    let pat = p(json!({"f": [{"prefix": "a"}, {"suffix": "b"}]}));
    assert!(!hit(&pat, &json!({"f": "é"})));
}

#[test]
fn set_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<PatternSet>();
    assert_send_sync::<Pattern>();
}

#[test]
fn empty_keys_join_like_aws() {
    // `""` at the top level adds no path segment: `{"": {"q": 1}}` is `q`.
    let pat = p(json!({"q": [1]}));
    assert!(hit(&pat, &json!({"": {"q": 1}})));
    // A pattern on the empty path sees leaves under a top-level `""` key
    // (found by fuzzing: the set and the single pattern disagreed here).
    let pat = p(json!({"": [{"exists": true}]}));
    assert!(hit(&pat, &json!({"": [null, {}]})));
    let mut set = PatternSet::new();
    set.add(0, &p(json!({"a": {"b": [null]}})));
    set.add(1, &pat);
    assert_eq!(set.matching_ids(&json!({"": [null, {}]})), vec![1]);
}

#[test]
fn required_strings_name_one_exact_field_per_branch_or_nothing() {
    let strings = |text: &str| Pattern::parse(text).unwrap().required_strings("detail.");
    assert_eq!(
        strings(r#"{"detail": {"eventName": ["A", "B"], "eventSource": ["s"]}}"#),
        Some(vec!["s".to_string()])
    );
    assert_eq!(
        strings(r#"{"detail": {"$or": [{"eventName": ["A"]}, {"errorCode": ["E"]}]}}"#),
        Some(vec!["A".to_string(), "E".to_string()])
    );
    // A field that another operand (prefix, exists, anything-but, an IP spelling) could
    // satisfy, a field that may be absent, or one outside the prefix: no literal.
    for open in [
        r#"{"detail": {"eventName": ["A", {"prefix": "Get"}]}}"#,
        r#"{"detail": {"eventName": [{"exists": true}]}}"#,
        r#"{"detail": {"eventName": ["A", {"exists": false}]}}"#,
        r#"{"detail": {"sourceIPAddress": ["10.0.0.1"]}}"#,
        r#"{"source": ["aws.signin"]}"#,
        r#"{"detail": {"$or": [{"eventName": ["A"]}, {"eventName": [{"prefix": "B"}]}]}}"#,
    ] {
        assert_eq!(strings(open), None, "{open}");
    }
}
