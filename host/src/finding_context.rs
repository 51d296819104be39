//! A finding's `context`: the JSON a plugin attached to it, kept as the text it wrote and
//! parsed only when something reads it. Most findings are recorded and never read in the
//! same process, and building a `Value` tree only to serialise it again was a large part of
//! recording one.

use std::fmt;
use std::ops::Deref;
use std::sync::OnceLock;

use serde::de::IgnoredAny;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// JSON text and, once read, its value.
#[derive(Debug, Clone)]
pub struct FindingContext {
    text: String,
    parsed: OnceLock<Value>,
}

impl FindingContext {
    /// A plugin's context: kept as written when it is JSON (checked without building it),
    /// otherwise kept as a JSON string of the text, so nothing a plugin sends is lost.
    pub fn from_plugin(text: String) -> Self {
        Self::checked(text).unwrap_or_else(|text| Value::String(text).into())
    }

    /// A context as stored, parsed once here (whoever reads rows back reads their context);
    /// text that is not JSON (a database edited by hand) reads as `null`.
    pub fn from_stored(text: String) -> Self {
        match serde_json::from_str::<Value>(&text) {
            Ok(value) => FindingContext {
                text,
                parsed: OnceLock::from(value),
            },
            Err(_) => Value::Null.into(),
        }
    }

    fn checked(text: String) -> Result<Self, String> {
        match serde_json::from_str::<IgnoredAny>(&text) {
            Ok(_) => Ok(FindingContext {
                text,
                parsed: OnceLock::new(),
            }),
            Err(_) => Err(text),
        }
    }

    /// The text as recorded (and hashed into the findings chain).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The top-level `title` when the context is an object and it is a string, as
    /// `value()["title"]` gives it (and also when another field is a number out of
    /// `Value`'s range), read without building the tree: a replay prints one per Sigma
    /// finding, and the tree was then built only to be dropped.
    pub fn title(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Titled {
            title: Option<Value>,
        }
        let from_value = || self.value().get("title")?.as_str().map(str::to_owned);
        if self.parsed.get().is_some() || !self.text.trim_start().starts_with('{') {
            return from_value();
        }
        // A duplicate key or an unusual shape: read as the value reads it.
        match serde_json::from_str::<Titled>(&self.text) {
            Ok(Titled { title }) => match title {
                Some(Value::String(title)) => Some(title),
                _ => None,
            },
            Err(_) => from_value(),
        }
    }

    /// The parsed value. Text that is valid JSON but out of `Value`'s range (a number like
    /// `1e400`) reads as that text, as a string.
    pub fn value(&self) -> &Value {
        self.parsed.get_or_init(|| {
            serde_json::from_str(&self.text).unwrap_or_else(|_| Value::String(self.text.clone()))
        })
    }
}

impl From<Value> for FindingContext {
    fn from(value: Value) -> Self {
        FindingContext {
            text: value.to_string(),
            parsed: OnceLock::from(value),
        }
    }
}

/// Read as the value it holds (`context["title"]`, `context.get(..)`).
impl Deref for FindingContext {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.value()
    }
}

impl PartialEq for FindingContext {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text || self.value() == other.value()
    }
}

/// The text as recorded.
impl fmt::Display for FindingContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// As the JSON it holds (an object in a finding's JSON, not a string).
impl Serialize for FindingContext {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(value) = self.parsed.get() {
            return value.serialize(serializer);
        }
        // A plugin's text, JSON when it came: written as it is, not parsed into a tree and
        // written again (a replay printing its findings did that for each one), unless it
        // spans lines, which would split a JSON-lines output.
        if !self.text.contains(['\n', '\r']) {
            if let Ok(raw) = serde_json::from_str::<&RawValue>(&self.text) {
                return raw.serialize(serializer);
            }
        }
        self.value().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_plugins_json_is_kept_as_written_and_read_as_its_value() {
        let text = r#"{"b": 1, "a": [true, null], "s": "x\"y"}"#;
        let context = FindingContext::from_plugin(text.to_owned());
        assert_eq!(context.as_str(), text);
        assert_eq!(context["a"], json!([true, null]));
        assert_eq!(
            serde_json::to_value(&context).unwrap(),
            json!({"b": 1, "a": [true, null], "s": "x\"y"})
        );
        assert_eq!(
            context,
            FindingContext::from(json!({"a": [true, null], "b": 1, "s": "x\"y"}))
        );
    }

    #[test]
    fn text_that_is_not_json_is_kept_as_a_string() {
        for text in ["not json", "{\"a\": ", "{} {}", ""] {
            let context = FindingContext::from_plugin(text.to_owned());
            assert_eq!(*context.value(), json!(text), "{text}");
            assert_eq!(context.as_str(), json!(text).to_string());
            assert_eq!(
                *FindingContext::from_stored(text.to_owned()).value(),
                Value::Null
            );
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(
            *FindingContext::from_plugin(deep.clone()).value(),
            json!(deep)
        );
        // JSON, but past the range of a number: read as its text, written as it came.
        let huge = FindingContext::from_plugin(r#"{"n": 1e400}"#.to_owned());
        assert_eq!(serde_json::to_string(&huge).unwrap(), r#"{"n": 1e400}"#);
        assert_eq!(*huge.value(), json!(r#"{"n": 1e400}"#));
    }

    #[test]
    fn the_title_reads_as_the_values_title() {
        for text in [
            r#"{"title": "AWS STS AssumeRole Misuse", "level": "low", "n": 1}"#,
            r#"{"rule": {"title": "nested"}, "tags": ["a"]}"#,
            r#"{"title": 3}"#,
            r#"{"title": null}"#,
            r#"{"title": "first", "title": "last"}"#,
            r#"{"title": "esc\u00e9\"q"}"#,
            r#"["title", "x"]"#,
            r#""a string""#,
            "not json",
            "{}",
        ] {
            let context = FindingContext::from_plugin(text.to_owned());
            let expected = {
                let value = FindingContext::from_plugin(text.to_owned());
                value
                    .get("title")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            assert_eq!(context.title(), expected, "{text}");
        }
        assert_eq!(
            FindingContext::from_plugin(r#"{"title": "esc\u00e9"}"#.to_owned()).title(),
            Some("esc\u{e9}".to_owned())
        );
        // The value of this one is its text (1e400 is past its range); the title is read.
        assert_eq!(
            FindingContext::from_plugin(r#"{"title": "t", "n": 1e400}"#.to_owned()).title(),
            Some("t".to_owned())
        );
        assert_eq!(
            FindingContext::from_stored(r#"{"title": "t"}"#.to_owned()).title(),
            Some("t".to_owned())
        );
    }

    #[test]
    fn a_plugins_json_is_written_out_as_it_came_on_one_line() {
        let one_line = FindingContext::from_plugin(r#"{"b": 1, "a": "x\ny"}"#.to_owned());
        assert_eq!(
            serde_json::to_string(&one_line).unwrap(),
            r#"{"b": 1, "a": "x\ny"}"#
        );
        // Line breaks between its tokens would split a JSON line: written compact instead.
        let pretty = FindingContext::from_plugin("{\n  \"b\": 1,\n  \"a\": 2\n}".to_owned());
        assert_eq!(serde_json::to_string(&pretty).unwrap(), r#"{"a":2,"b":1}"#);
        // Read back from the database (parsed there): written from its value.
        let stored = FindingContext::from_stored(r#"{"b": 1, "a": 2}"#.to_owned());
        assert_eq!(serde_json::to_string(&stored).unwrap(), r#"{"a":2,"b":1}"#);
    }
}
