//! Dotted field paths over an event's EventBridge envelope (`account`, `region`,
//! `detail.userIdentity.arn`, `detail.resources.0.ARN`), and `--where FIELD=VALUE` turned
//! into an event pattern.

use anyhow::{Context, Result};
use cloudtrail_normalize::NormalizedEvent;
use serde_json::{Map, Value};

/// The envelope's top-level keys; a path starting with anything else is read under `detail`
/// (so `eventName` is `detail.eventName`).
const ENVELOPE_KEYS: [&str; 9] = [
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
];

/// A parsed dotted path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    /// As the user wrote it: the column name.
    pub name: String,
    segments: Vec<String>,
}

impl FieldPath {
    /// Parses `a.b.c`; a first segment that is not an envelope key is read under `detail`.
    ///
    /// # Errors
    /// An empty path or an empty segment (`a..b`).
    pub fn parse(text: &str) -> Result<FieldPath> {
        let text = text.trim();
        let mut segments: Vec<String> = text.split('.').map(str::to_string).collect();
        anyhow::ensure!(
            !text.is_empty() && segments.iter().all(|s| !s.is_empty()),
            "{text:?}: expected a dotted field path like detail.userIdentity.arn"
        );
        if !ENVELOPE_KEYS.contains(&segments[0].as_str()) {
            segments.insert(0, "detail".to_string());
        }
        Ok(FieldPath {
            name: text.to_string(),
            segments,
        })
    }

    /// Parses a comma-separated list.
    ///
    /// # Errors
    /// One of them is not a path.
    pub fn parse_list(text: &str) -> Result<Vec<FieldPath>> {
        text.split(',').map(FieldPath::parse).collect()
    }

    /// The value at this path in `event`'s envelope, if any (a copy: values are small next
    /// to the record, and only the addressed ones are copied).
    pub fn value_in(&self, event: &NormalizedEvent) -> Option<Value> {
        event.with_envelope_fields(|fields| {
            let (_, top) = fields.iter().find(|(key, _)| *key == self.segments[0])?;
            let mut at: &Value = top;
            for segment in &self.segments[1..] {
                at = match at {
                    Value::Object(map) => map.get(segment)?,
                    Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                    _ => return None,
                };
            }
            Some(at.clone())
        })
    }

    /// The value as text: strings bare, `-` when absent or null, anything else as JSON.
    pub fn text_in(&self, event: &NormalizedEvent) -> String {
        value_text(self.value_in(event).as_ref())
    }
}

/// A value as one cell: strings bare, `-` for absent or null, the rest as compact JSON.
pub fn value_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// `--where FIELD=VALUE ...` as one event pattern (all conditions must hold). VALUE
/// matches the string; when it also reads as a JSON number, boolean or null
/// (`readOnly=false`), that value matches too.
///
/// # Errors
/// A condition without `=`, or with a bad path, or two conditions where one path is
/// inside the other.
pub fn where_pattern(conditions: &[String]) -> Result<String> {
    let mut pattern = Map::new();
    for condition in conditions {
        let (field, value) = condition
            .split_once('=')
            .with_context(|| format!("--where {condition:?}: expected FIELD=VALUE"))?;
        let path = FieldPath::parse(field).with_context(|| format!("--where {condition:?}"))?;
        let mut allowed = vec![Value::String(value.to_string())];
        if let Ok(scalar @ (Value::Number(_) | Value::Bool(_) | Value::Null)) =
            serde_json::from_str::<Value>(value)
        {
            allowed.push(scalar);
        }
        insert_condition(&mut pattern, &path.segments, allowed)
            .with_context(|| format!("--where {condition:?}"))?;
    }
    Ok(Value::Object(pattern).to_string())
}

fn insert_condition(
    map: &mut Map<String, Value>,
    path: &[String],
    allowed: Vec<Value>,
) -> Result<()> {
    let (first, rest) = path.split_first().context("empty path")?;
    if rest.is_empty() {
        match map.get_mut(first) {
            // Two conditions on one field: either value (EventBridge has no AND on a field).
            Some(Value::Array(existing)) => existing.extend(allowed),
            Some(_) => anyhow::bail!("{first} is both a field and an object"),
            None => {
                map.insert(first.clone(), Value::Array(allowed));
            }
        }
        return Ok(());
    }
    let entry = map
        .entry(first.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    match entry {
        Value::Object(inner) => insert_condition(inner, rest, allowed),
        _ => anyhow::bail!("{first} is both a field and an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudtrail_normalize::{normalize_bytes, Item, Options};

    fn event() -> NormalizedEvent {
        let line = br#"{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":"eu-west-1","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice"},"resources":[{"ARN":"arn:x"}],"readOnly":false}"#;
        match normalize_bytes(line, &Options::default()).remove(0) {
            Item::Event(event) => event,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn paths_address_the_envelope_and_default_to_detail() {
        let event = event();
        let text = |p: &str| FieldPath::parse(p).unwrap().text_in(&event);
        assert_eq!(text("account"), "111122223333");
        assert_eq!(text("region"), "eu-west-1");
        assert_eq!(text("source"), "aws.iam");
        assert_eq!(
            text("detail.userIdentity.arn"),
            "arn:aws:iam::111122223333:user/alice"
        );
        assert_eq!(text("eventName"), "CreateUser");
        assert_eq!(text("detail.resources.0.ARN"), "arn:x");
        assert_eq!(text("readOnly"), "false");
        assert_eq!(text("detail.nothing.here"), "-");
        assert!(FieldPath::parse("a..b").is_err());
        assert!(FieldPath::parse("").is_err());
    }

    #[test]
    fn where_conditions_become_one_pattern() {
        let pattern = where_pattern(&[
            "detail.eventName=DeleteTrail".into(),
            "account=111122223333".into(),
            "eventName=StopLogging".into(),
        ])
        .unwrap();
        let value: Value = serde_json::from_str(&pattern).unwrap();
        assert_eq!(
            value["detail"]["eventName"],
            serde_json::json!(["DeleteTrail", "StopLogging"])
        );
        assert_eq!(
            value["account"],
            serde_json::json!(["111122223333", 111122223333u64])
        );
        assert!(where_pattern(&["no-equals".into()]).is_err());
        assert!(where_pattern(&["a=1".into(), "a.b=2".into()]).is_err());
    }
}
