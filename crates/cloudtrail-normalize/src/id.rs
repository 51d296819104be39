//! Synthetic event ids for records without an `eventID`.
//!
//! The id must be the same on every run and for every shape the same record
//! arrives in (bare, logstash, EventBridge …), so it hashes a canonical JSON
//! form of the unwrapped record: object keys sorted, no whitespace. Sorting
//! here, rather than relying on serde_json's map order, keeps ids stable even
//! if another crate in the build turns on serde_json's `preserve_order`.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Prefix of every synthetic id.
pub(crate) const PREFIX: &str = "synthetic-";

/// `"synthetic-"` + the first 32 hex digits of the SHA-256 of the record's
/// canonical JSON.
pub(crate) fn synthetic(record: &Value) -> String {
    let digest = content_digest(record);
    format!("{PREFIX}{}", hex::encode(&digest[..16]))
}

/// The SHA-256 of the record's canonical JSON: equal for equal content whatever the
/// key order or the shape it arrived in.
pub(crate) fn content_digest(record: &Value) -> [u8; 32] {
    let mut canonical = Vec::new();
    write_canonical(record, &mut canonical);
    Sha256::digest(&canonical).into()
}

/// Compact JSON with object keys in byte order.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_string(s, out),
        // Scalars have a single compact form.
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    // Writing a &str into a Vec cannot fail; serde_json does the escaping.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stable_and_order_independent() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":[1,"x"],"x":null}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":null,"y":[1,"x"]},"b":1}"#).unwrap();
        let id = synthetic(&a);
        assert_eq!(id, synthetic(&b));
        assert_eq!(id.len(), PREFIX.len() + 32);
        assert!(id.starts_with(PREFIX));
        assert_ne!(id, synthetic(&json!({"b": 2})));
    }

    #[test]
    fn canonical_text() {
        let mut out = Vec::new();
        write_canonical(&json!({"b": "é\"", "a": [true, 1.5]}), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":[true,1.5],"b":"é\""}"#
        );
    }
}
