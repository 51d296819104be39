//! Small, forgiving accessors over a CloudTrail record as [`serde_json::Value`].
//!
//! CloudTrail data has traps: booleans written as strings, account ids as numbers, `null`
//! where an object is expected. These accessors return `None` instead of failing.

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The top-level fields of a record named in `keys`, parsed into an object; every other
/// field is checked but not built (`userIdentity`, `additionalEventData`, ...), which is
/// most of the cost of parsing a record a plugin reads a few fields of. `None` when
/// `raw` is not a JSON object.
pub fn record_fields<K: AsRef<str>>(raw: &str, keys: &[K]) -> Option<Value> {
    let mut parser = serde_json::Deserializer::from_str(raw);
    let fields = parser.deserialize_map(Fields { keys }).ok()?;
    parser.end().ok()?;
    Some(Value::Object(fields))
}

/// The text of the top-level fields of a record named in `keys` (in `keys`' order; `None`
/// where absent, the last where repeated), as they are in `raw`: nothing is built, so a
/// plugin parses only the field a rule reads, when it reads it, and can hash or copy a
/// field's text as it is. The whole record is still checked as JSON. `None` when `raw` is
/// not a JSON object.
pub fn record_field_texts<'r, const N: usize>(
    raw: &'r str,
    keys: &[&str; N],
) -> Option<[Option<&'r RawValue>; N]> {
    let mut parser = serde_json::Deserializer::from_str(raw);
    let fields = parser.deserialize_map(FieldTexts { keys }).ok()?;
    parser.end().ok()?;
    Some(fields)
}

/// [`record_field_texts`]' visitor.
struct FieldTexts<'k, const N: usize> {
    keys: &'k [&'k str; N],
}

impl<'de, const N: usize> Visitor<'de> for FieldTexts<'_, N> {
    type Value = [Option<&'de RawValue>; N];

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kept = [None; N];
        while let Some(position) = map.next_key_seed(KeyPosition {
            keys: self.keys.as_slice(),
        })? {
            match position {
                Some(i) => kept[i] = Some(map.next_value::<&RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(kept)
    }
}

/// A key of the record: its position in `keys`, or `None`, without allocating.
struct KeyPosition<'k, K> {
    keys: &'k [K],
}

impl<'de, K: AsRef<str>> DeserializeSeed<'de> for KeyPosition<'_, K> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, K: AsRef<str>> Visitor<'de> for KeyPosition<'_, K> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.keys.iter().position(|k| k.as_ref() == key))
    }
}

/// A JSON object written field by field straight into its text, for a finding's `context`:
/// no [`Value`] tree is built and no field is copied into one first. Each field is written
/// as `serde_json` writes it (`None` as `null`); keys should be distinct.
#[derive(Debug)]
pub struct ObjectWriter {
    text: Vec<u8>,
}

impl Default for ObjectWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ObjectWriter {
    pub fn new() -> Self {
        let mut text = Vec::with_capacity(512);
        text.push(b'{');
        ObjectWriter { text }
    }

    /// Adds `"key": value`.
    pub fn field<T: serde::Serialize + ?Sized>(&mut self, key: &str, value: &T) -> &mut Self {
        if self.text.len() > 1 {
            self.text.push(b',');
        }
        // Writing into a Vec cannot fail, and serde_json's own types serialise without error.
        let _ = serde_json::to_writer(&mut self.text, key);
        self.text.push(b':');
        if serde_json::to_writer(&mut self.text, value).is_err() {
            self.text.extend_from_slice(b"null");
        }
        self
    }

    /// The object's text.
    pub fn finish(&mut self) -> String {
        let mut text = std::mem::take(&mut self.text);
        text.push(b'}');
        // serde_json writes UTF-8 only.
        String::from_utf8(text)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// [`record_fields`]' visitor: keeps the named fields of one object.
struct Fields<'k, K> {
    keys: &'k [K],
}

impl<'de, K: AsRef<str>> Visitor<'de> for Fields<'_, K> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kept = Map::new();
        while let Some(position) = map.next_key_seed(KeyPosition { keys: self.keys })? {
            match position {
                Some(i) => {
                    kept.insert(self.keys[i].as_ref().to_owned(), map.next_value()?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(kept)
    }
}

/// The value at `path` (object keys), if every step exists.
pub fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, key| v.as_object()?.get(*key))
}

/// The value at `path`, with keys compared case-insensitively (exact match preferred).
/// Useful for request parameters, which some producers write in PascalCase.
pub fn at_ci<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, key| get_ci(v, key))
}

/// `v[key]`, with the key compared case-insensitively (exact match preferred).
pub fn get_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The string at `path`, if it is a non-empty string.
pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The text at `path`: a non-empty string, or a number or boolean written out.
pub fn text_at(v: &Value, path: &[&str]) -> Option<String> {
    text(at(v, path)?)
}

/// A scalar as text: a non-empty string, or a number or boolean written out.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The boolean at `path`: `true`/`false`, or a string such as `"true"`, `"True"`, `"false"`,
/// `"yes"`, `"no"`, `"1"`, `"0"`.
pub fn bool_at(v: &Value, path: &[&str]) -> Option<bool> {
    boolish(at(v, path)?)
}

/// A boolean written as a JSON boolean, a number 0/1 or a string.
pub fn boolish(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The `ARN`s listed in the record's `resources` array (CloudTrail's own resource list).
pub fn resource_arns(record: &Value) -> Vec<String> {
    record.get("resources").map(arns_of).unwrap_or_default()
}

/// The non-empty `ARN`s of a record's `resources` list (the field itself).
pub fn arns_of(resources: &Value) -> Vec<String> {
    resources
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|r| get_ci(r, "ARN").and_then(Value::as_str))
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Decodes `%XX` escapes (UTF-8); `+` stays as it is. `None` if an escape is malformed or
/// the result is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// An IAM policy document as CloudTrail records it (`requestParameters.policyDocument`):
/// JSON text, URL-encoded JSON text (`%7B%22Version%22...`, sometimes with `+` for spaces),
/// or already an object. `None` when it is none of these.
pub fn policy_document(v: &Value) -> Option<Value> {
    let text = match v {
        Value::Object(_) => return Some(v.clone()),
        Value::String(text) => text.trim(),
        _ => return None,
    };
    let parse = |t: &str| {
        serde_json::from_str::<Value>(t)
            .ok()
            .filter(Value::is_object)
    };
    parse(text)
        .or_else(|| parse(&percent_decode(text)?))
        .or_else(|| parse(&percent_decode(&text.replace('+', " "))?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accessors_forgive_cloudtrail_quirks() {
        let v = json!({"a": {"b": "True", "n": 12345, "e": "", "B": "x"}, "resources": [{"ARN": "arn:1"}, {"arn": "arn:2"}, {}]});
        assert_eq!(bool_at(&v, &["a", "b"]), Some(true));
        assert_eq!(text_at(&v, &["a", "n"]).as_deref(), Some("12345"));
        assert_eq!(str_at(&v, &["a", "e"]), None);
        assert_eq!(str_at(&v, &["a", "missing"]), None);
        assert_eq!(at_ci(&v, &["A", "b"]).and_then(Value::as_str), Some("True"));
        assert_eq!(resource_arns(&v), vec!["arn:1", "arn:2"]);
        assert_eq!(at(&json!(null), &["x"]), None);
    }

    #[test]
    fn record_fields_keeps_the_named_fields_as_a_full_parse_has_them() {
        let raw = r#"{"userIdentity": {"type": "Root", "sessionContext": {"a": [1, {"b": null}]}},
            "requestParameters": {"bucketName": "b\u00e9", "n": 1.5e3, "list": [true, "x"]},
            "resources": [{"ARN": "arn:aws:s3:::b"}], "eventName": "PutObject",
            "requestParameters": {"bucketName": "last"}}"#;
        let keys = ["requestParameters", "resources", "responseElements"];
        let kept = record_fields(raw, &keys).unwrap();
        let full: Value = serde_json::from_str(raw).unwrap();
        for key in keys {
            assert_eq!(kept.get(key), full.get(key), "{key}");
        }
        // The last of a repeated key, as a full parse keeps it; the rest is not built.
        assert_eq!(kept["requestParameters"]["bucketName"], "last");
        assert_eq!(kept.as_object().unwrap().len(), 2);
        // Not an object, broken, or trailing text: none.
        for bad in ["[1]", "\"x\"", "{\"a\": ", "{} {}", "{\"a\": tru}"] {
            assert_eq!(record_fields(bad, &keys), None, "{bad}");
        }
        assert_eq!(record_fields("{}", &keys), Some(json!({})));
    }

    #[test]
    fn record_field_texts_are_the_fields_as_written_and_parse_as_a_full_parse_has_them() {
        let raw = r#"{"userIdentity": {"type": "Root", "sessionContext": {"a": [1, {"b": null}]}},
            "requestParameters": {"bucketName": "b\u00e9", "n": 1.5e3},
            "resources": [{"ARN": "arn:aws:s3:::b"}], "eventName": "PutObject",
            "requestParameters": {"bucketName":  "last"}}"#;
        let keys = ["requestParameters", "resources", "responseElements"];
        let texts = record_field_texts(raw, &keys).unwrap();
        let full: Value = serde_json::from_str(raw).unwrap();
        // The last of a repeated key, as a full parse keeps it, with its spacing and escapes.
        assert_eq!(texts[0].unwrap().get(), r#"{"bucketName":  "last"}"#);
        assert_eq!(texts[1].unwrap().get(), r#"[{"ARN": "arn:aws:s3:::b"}]"#);
        assert!(texts[2].is_none(), "absent");
        for (key, text) in keys.iter().zip(texts) {
            let parsed = text.map(|t| serde_json::from_str::<Value>(t.get()).unwrap());
            assert_eq!(parsed.as_ref(), full.get(*key), "{key}");
        }
        // Not an object, broken (in a field that is not kept too), or trailing text: none.
        for bad in [
            "[1]",
            "\"x\"",
            "{\"a\": ",
            "{} {}",
            "{\"a\": tru}",
            "{\"resources\": [}",
        ] {
            assert!(record_field_texts(bad, &keys).is_none(), "{bad}");
        }
        let empty = record_field_texts("{}", &keys).unwrap();
        assert!(empty.iter().all(Option::is_none));
    }

    #[test]
    fn an_object_written_field_by_field_is_the_object_json_builds() {
        let tags = vec!["attack.t1078".to_owned(), "quote \" and \\".to_owned()];
        let none: Option<&str> = None;
        let text = ObjectWriter::new()
            .field("title", "Root \u{1} used")
            .field("tags", &tags)
            .field("error_code", &none)
            .field("count", &3)
            .field("matched", &["a", "b"])
            .finish();
        let expected = json!({
            "title": "Root \u{1} used", "tags": tags, "error_code": null, "count": 3,
            "matched": ["a", "b"],
        });
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), expected);
        assert_eq!(ObjectWriter::new().finish(), "{}");
    }

    #[test]
    fn policy_documents_in_every_encoding() {
        let doc = json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}});
        let text = doc.to_string();
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%7D";
        assert_eq!(policy_document(&json!(text)), Some(doc.clone()));
        assert_eq!(policy_document(&json!(encoded)), Some(doc.clone()));
        assert_eq!(policy_document(&doc), Some(doc.clone()));
        let plus = "%7B%22Statement%22%3A+%5B%5D%7D";
        assert_eq!(
            policy_document(&json!(plus)),
            Some(json!({"Statement": []}))
        );
        assert_eq!(policy_document(&json!("%7B%ZZ")), None);
        assert_eq!(policy_document(&json!(3)), None);
        assert_eq!(percent_decode("a%C3%A9b").as_deref(), Some("a\u{e9}b"));
    }
}
