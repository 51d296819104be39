//! Resource policies (S3 bucket, SQS queue) edited without losing what others put there:
//! trailwarden's statements are recognised by their `Sid` and replaced; the rest is kept.

use anyhow::{Context, Result};
use serde_json::{json, Value};

/// `existing` (a policy document, or none) with every statement whose `Sid` is one of
/// `ours` replaced by `ours`, appended after the statements kept.
///
/// # Errors
/// `existing` is not a JSON policy document.
pub fn merge(existing: Option<&str>, ours: &[Value]) -> Result<Value> {
    let mut document = match existing {
        Some(text) if !text.trim().is_empty() => {
            normalise(serde_json::from_str(text).context("the existing policy is not valid JSON")?)?
        }
        _ => json!({"Version": "2012-10-17", "Statement": []}),
    };
    let our_sids: Vec<&Value> = ours.iter().filter_map(|s| s.get("Sid")).collect();
    let statements = document["Statement"]
        .as_array_mut()
        .context("the existing policy has no Statement list")?;
    statements.retain(|s| s.get("Sid").is_none_or(|sid| !our_sids.contains(&sid)));
    statements.extend(ours.iter().cloned());
    Ok(document)
}

/// Whether `existing` already says what `wanted` says (as JSON, not as text).
pub fn same(existing: Option<&str>, wanted: &Value) -> bool {
    existing
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|v| normalise(v).ok())
        .is_some_and(|v| v == *wanted)
}

/// A single `Statement` object becomes a list of one, so documents compare as JSON.
fn normalise(mut document: Value) -> Result<Value> {
    anyhow::ensure!(document.is_object(), "a policy must be a JSON object");
    match document.get_mut("Statement") {
        Some(statement) if statement.is_object() => *statement = json!([statement.take()]),
        Some(statement) if statement.is_array() => {}
        None => document["Statement"] = json!([]),
        Some(_) => anyhow::bail!("a policy's Statement must be an object or a list"),
    }
    Ok(document)
}

/// Whether a policy lets anyone (`"*"` principal) do something without a condition.
pub fn is_public(text: &str) -> bool {
    let Ok(document) = serde_json::from_str::<Value>(text).and_then(|v| {
        normalise(v).map_err(|e| serde_json::Error::io(std::io::Error::other(e.to_string())))
    }) else {
        return false;
    };
    let anyone = |principal: &Value| match principal {
        Value::String(s) => s == "*",
        Value::Object(map) => map.values().any(|v| match v {
            Value::String(s) => s == "*",
            Value::Array(list) => list.iter().any(|s| s == "*"),
            _ => false,
        }),
        _ => false,
    };
    document["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| {
            s["Effect"] == "Allow"
                && s.get("Principal").is_some_and(anyone)
                && s.get("Condition").is_none()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_replaces_ours_and_keeps_theirs() {
        let existing = r#"{"Version":"2012-10-17","Statement":{"Sid":"Theirs","Effect":"Deny"}}"#;
        let ours = [json!({"Sid": "Ours", "Effect": "Allow"})];
        let merged = merge(Some(existing), &ours).unwrap();
        assert_eq!(merged["Statement"].as_array().unwrap().len(), 2);
        let again = merge(Some(&merged.to_string()), &ours).unwrap();
        assert_eq!(again, merged);
        assert!(same(Some(&merged.to_string()), &again));
        assert!(!same(Some(existing), &merged));
        assert!(merge(Some("not json"), &ours).is_err());
    }

    #[test]
    fn public_means_anyone_without_condition() {
        let public =
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}"#;
        let aws_star =
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"s3:*"}]}"#;
        let service = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"}}]}"#;
        let conditioned = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}]}"#;
        assert!(is_public(public));
        assert!(is_public(aws_star));
        assert!(!is_public(service));
        assert!(!is_public(conditioned));
    }
}
