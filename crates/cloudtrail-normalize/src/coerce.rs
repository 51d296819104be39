//! Lenient readers for scalar fields: real CloudTrail (and the tools that
//! re-ship it) writes booleans as strings, account ids as numbers and empty
//! strings for "no value". None of these may cost the event, so each reader
//! returns `None` for what it cannot interpret instead of failing.

use serde_json::Value;

/// A text field: strings as-is (empty means absent), numbers and booleans
/// rendered as text, anything else (null, object, array) absent.
pub(crate) fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An AWS account id. JSON numbers lose leading zeros, so numeric ids are
/// zero-padded back to the 12 digits account ids always have; strings are
/// kept as written (they still carry their own zeros).
pub(crate) fn account_id(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Some(format!("{u:012}"))
            } else {
                // Negative or fractional: not an account id, but keep what
                // was there rather than dropping it.
                Some(n.to_string())
            }
        }
        other => text(Some(other)),
    }
}

/// A boolean written as a JSON boolean or as text: `true`/`True`/`"TRUE"`,
/// `"yes"`/`"Yes"` (as in `additionalEventData.MFAUsed`), `"1"`, and their
/// negatives. Anything else (`"..."`, null, objects) is unknown.
pub(crate) fn boolean(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => {
            let s = s.trim();
            if ["true", "yes", "1"]
                .iter()
                .any(|t| s.eq_ignore_ascii_case(t))
            {
                Some(true)
            } else if ["false", "no", "0"]
                .iter()
                .any(|t| s.eq_ignore_ascii_case(t))
            {
                Some(false)
            } else {
                None
            }
        }
        Value::Number(n) => match n.as_u64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// `value[a][b]...` for object keys, `None` as soon as a step is missing or
/// not an object.
pub(crate) fn path<'v>(value: &'v Value, keys: &[&str]) -> Option<&'v Value> {
    keys.iter().try_fold(value, |v, k| v.as_object()?.get(*k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn booleans_as_text() {
        for (v, want) in [
            (json!(true), Some(true)),
            (json!("true"), Some(true)),
            (json!("True"), Some(true)),
            (json!(" TRUE "), Some(true)),
            (json!("Yes"), Some(true)),
            (json!("YES"), Some(true)),
            (json!("false"), Some(false)),
            (json!("No"), Some(false)),
            (json!(0), Some(false)),
            (json!("..."), None),
            (json!(null), None),
            (json!({}), None),
        ] {
            assert_eq!(boolean(Some(&v)), want, "{v}");
        }
        assert_eq!(boolean(None), None);
    }

    #[test]
    fn account_ids() {
        assert_eq!(
            account_id(Some(&json!(12345678901u64))).as_deref(),
            Some("012345678901")
        );
        assert_eq!(
            account_id(Some(&json!(12345))).as_deref(),
            Some("000000012345")
        );
        assert_eq!(
            account_id(Some(&json!("012345678901"))).as_deref(),
            Some("012345678901")
        );
        assert_eq!(account_id(Some(&json!(""))), None);
        assert_eq!(account_id(Some(&json!(-1))).as_deref(), Some("-1"));
        assert_eq!(account_id(Some(&json!(null))), None);
    }

    #[test]
    fn paths() {
        let v = json!({"a": {"b": {"c": 1}}, "x": 2});
        assert_eq!(path(&v, &["a", "b", "c"]), Some(&json!(1)));
        assert_eq!(path(&v, &["x", "y"]), None);
        assert_eq!(path(&v, &[]), Some(&v));
    }
}
