//! Whether what a plugin did is what a fixture expects.

use serde_json::{json, Map, Value};

use crate::format::ExpectedAction;

/// A finding as the JSON object fixtures compare against. `context` is parsed when it is
/// JSON, else kept as its text; `severity` is the contract's lower-case name.
#[allow(clippy::too_many_arguments)]
pub fn finding_value(
    rule_id: &str,
    severity: &str,
    title: &str,
    description: &str,
    resources: &[String],
    dedup_key: &str,
    event_id: &str,
    context: &str,
) -> Value {
    json!({
        "rule_id": rule_id,
        "severity": severity,
        "title": title,
        "description": description,
        "resources": resources,
        "dedup_key": dedup_key,
        "event_id": event_id,
        "context": serde_json::from_str::<Value>(context)
            .unwrap_or_else(|_| Value::String(context.to_owned())),
    })
}

/// Whether `actual` (a [`finding_value`]) has every field `expected` lists, with the same
/// value: `severity` compared without regard to case, everything else equal.
pub fn finding_matches(expected: &Map<String, Value>, actual: &Value) -> bool {
    expected
        .iter()
        .all(|(key, want)| match (key.as_str(), actual.get(key)) {
            ("severity", Some(Value::String(have))) => want
                .as_str()
                .is_some_and(|want| want.eq_ignore_ascii_case(have)),
            (_, have) => have == Some(want),
        })
}

/// Pairs the expected findings one-to-one with the raised ones (any order; a perfect
/// matching, so an expectation that fits several findings never takes the one another
/// expectation needs). Empty when they pair exactly; otherwise the unpaired on either side.
pub fn compare_findings(expected: &[Map<String, Value>], actual: &[Value]) -> Vec<String> {
    let fits: Vec<Vec<usize>> = expected
        .iter()
        .map(|want| {
            (0..actual.len())
                .filter(|&i| finding_matches(want, &actual[i]))
                .collect()
        })
        .collect();
    let owner = maximum_matching(&fits, actual.len());
    let mut differences = Vec::new();
    for (row, want) in expected.iter().enumerate() {
        if !owner.contains(&Some(row)) {
            differences.push(format!(
                "- expected, not raised: {}",
                Value::Object(want.clone())
            ));
        }
    }
    for (have, _) in actual.iter().zip(&owner).filter(|(_, o)| o.is_none()) {
        differences.push(format!(
            "+ raised, not expected: {}",
            json!({"rule_id": have["rule_id"], "severity": have["severity"],
                   "event_id": have["event_id"], "title": have["title"]})
        ));
    }
    differences
}

/// A maximum bipartite matching (Kuhn's augmenting paths): for each column (raised
/// finding), the row (expectation) it is paired with.
fn maximum_matching(fits: &[Vec<usize>], columns: usize) -> Vec<Option<usize>> {
    fn augment(
        row: usize,
        fits: &[Vec<usize>],
        seen: &mut [bool],
        owner: &mut [Option<usize>],
    ) -> bool {
        for &col in &fits[row] {
            if seen[col] {
                continue;
            }
            seen[col] = true;
            if owner[col].is_none_or(|other| augment(other, fits, seen, owner)) {
                owner[col] = Some(row);
                return true;
            }
        }
        false
    }
    let mut owner = vec![None; columns];
    for row in 0..fits.len() {
        augment(row, fits, &mut vec![false; columns], &mut owner);
    }
    owner
}

/// Capability calls (`(capability, args)`, in the order made) must match the expected ones
/// in number and order, each by capability and [`subset`] of the arguments.
pub fn compare_actions(expected: &[ExpectedAction], actual: &[(String, Value)]) -> Vec<String> {
    let mut differences = Vec::new();
    for (i, want) in expected.iter().enumerate() {
        let want_args = Value::Object(want.args.clone());
        match actual.get(i) {
            Some((capability, args))
                if *capability == want.capability && subset(&want_args, args) => {}
            Some((capability, args)) => differences.push(format!(
                "- call {} expected {} {want_args}, made {capability} {args}",
                i + 1,
                want.capability,
            )),
            None => differences.push(format!(
                "- call {} expected, not made: {} {want_args}",
                i + 1,
                want.capability,
            )),
        }
    }
    for (i, (capability, args)) in actual.iter().enumerate().skip(expected.len()) {
        differences.push(format!(
            "+ call {} made, not expected: {capability} {args}",
            i + 1
        ));
    }
    differences
}

/// Whether `want` is contained in `have`: objects by key subset (recursively, so a finding
/// argument can be given in part), everything else equal.
pub fn subset(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|hv| subset(v, hv))),
        _ => want == have,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::ReceiptKind;

    fn expect(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn expectations_pair_one_to_one_whatever_their_order() {
        let actual = vec![
            json!({"rule_id": "a", "severity": "high", "event_id": "2"}),
            json!({"rule_id": "a", "severity": "high", "event_id": "1"}),
        ];
        let one = vec![expect(json!({"rule_id": "a"}))];
        assert_eq!(
            compare_findings(&one, &actual).len(),
            1,
            "one finding too many"
        );
        // A greedy pairing gives `rule_id: a` the finding of event 2, which the second
        // expectation needs: a perfect matching finds the pairing that exists.
        let two = vec![
            expect(json!({"rule_id": "a"})),
            expect(json!({"event_id": "2"})),
        ];
        assert!(compare_findings(&two, &actual).is_empty());
        let wrong = vec![
            expect(json!({"rule_id": "b"})),
            expect(json!({"rule_id": "a"})),
        ];
        let diff = compare_findings(&wrong, &actual);
        assert_eq!(diff.len(), 2, "{diff:?}");
        assert!(diff[0].starts_with("- expected"), "{diff:?}");
        assert!(diff[1].starts_with("+ raised"), "{diff:?}");
        let same_event_twice = vec![
            expect(json!({"event_id": "1"})),
            expect(json!({"event_id": "1"})),
        ];
        assert_eq!(compare_findings(&same_event_twice, &actual).len(), 2);
    }

    #[test]
    fn severity_ignores_case_and_other_fields_must_be_equal() {
        let actual = finding_value(
            "r",
            "high",
            "t",
            "d",
            &["a".into()],
            "k",
            "e",
            r#"{"n": 1}"#,
        );
        assert!(finding_matches(
            &expect(json!({"severity": "HIGH"})),
            &actual
        ));
        assert!(finding_matches(
            &expect(json!({"context": {"n": 1}})),
            &actual
        ));
        assert!(!finding_matches(&expect(json!({"context": {}})), &actual));
        assert!(!finding_matches(
            &expect(json!({"resources": ["a", "b"]})),
            &actual
        ));
        assert!(!finding_matches(&expect(json!({"title": "T"})), &actual));
        let text = finding_value("r", "low", "t", "d", &[], "k", "e", "plain");
        assert_eq!(text["context"], "plain");
    }

    #[test]
    fn calls_match_in_order_by_capability_and_argument_subset() {
        let expected = vec![
            ExpectedAction {
                capability: "a".into(),
                args: expect(json!({"finding": {"rule_id": "r"}})),
                receipt: ReceiptKind::Accepted,
            },
            ExpectedAction {
                capability: "b".into(),
                args: Map::new(),
                receipt: ReceiptKind::Denied,
            },
        ];
        let call = |c: &str, args: Value| (c.to_owned(), args);
        let made = vec![
            call("a", json!({"finding": {"rule_id": "r", "x": 1}, "t": "u"})),
            call("b", json!({})),
        ];
        assert!(compare_actions(&expected, &made).is_empty());
        let swapped = vec![made[1].clone(), made[0].clone()];
        assert_eq!(compare_actions(&expected, &swapped).len(), 2);
        assert_eq!(compare_actions(&expected, &made[..1]).len(), 1);
        let extra = [made.clone(), vec![call("c", json!({}))]].concat();
        assert!(compare_actions(&expected, &extra)[0].starts_with("+ call 3"));
        assert!(!subset(&json!({"missing": null}), &json!({})));
        assert!(!subset(&json!({"l": ["a"]}), &json!({"l": ["a", "b"]})));
    }
}
