//! Ruling records out before parsing them. Parsing and normalising is most of a search's
//! cost, and most records of a log file cannot match: when every pattern of the search
//! requires one of a few exact strings in the record ([`Pattern::required_strings`]), a
//! record whose raw text contains none of them is counted and skipped unparsed.
//!
//! Only the shape CloudTrail writes to S3 (`{"Records":[...]}`) is split here, by a scanner
//! that gives up (and lets the normaliser read the whole input) at anything unexpected.

use event_pattern::Pattern;
use memchr::memmem;

/// Texts of which every record a search keeps contains one.
pub struct Literals {
    /// Each required string as JSON writes it, quotes included.
    needles: Vec<memmem::Finder<'static>>,
}

impl Literals {
    /// The literals of a search's patterns: those of `all_of` (every one must hold) when it
    /// has some, else those of every alternative of `any_of` together. `None` when no text
    /// test can rule a record out.
    pub fn of(all_of: Option<&Pattern>, any_of: &[Pattern]) -> Option<Literals> {
        let strings = all_of
            .and_then(|p| p.required_strings("detail."))
            .or_else(|| {
                if any_of.is_empty() {
                    return None;
                }
                any_of
                    .iter()
                    .map(|p| p.required_strings("detail."))
                    .collect::<Option<Vec<_>>>()
                    .map(|lists| lists.concat())
            })?;
        let needles = strings
            .iter()
            .map(|s| {
                let quoted = serde_json::to_string(s).unwrap_or_default();
                memmem::Finder::new(quoted.as_bytes()).into_owned()
            })
            .collect();
        Some(Literals { needles })
    }

    /// Whether a record with this raw text may be kept. A record writing a string with
    /// `\u` or `\/` escapes may spell a literal otherwise, so it is never ruled out.
    pub fn may_hold(&self, raw: &[u8]) -> bool {
        self.needles.iter().any(|n| n.find(raw).is_some())
            || memmem::find(raw, b"\\u").is_some()
            || memmem::find(raw, b"\\/").is_some()
    }
}

/// The records of a CloudTrail log file (`{"Records":[{...},...]}`, whitespace allowed,
/// nothing else in the object) as raw slices; `None` for any other shape or anything the
/// scanner does not expect, so that the caller reads the input the normal way.
pub fn log_file_records(text: &[u8]) -> Option<Vec<&[u8]>> {
    let mut at = skip_space(text, 0);
    at = expect(text, at, b"{")?;
    at = expect(text, skip_space(text, at), b"\"Records\"")?;
    at = expect(text, skip_space(text, at), b":")?;
    at = expect(text, skip_space(text, at), b"[")?;
    let mut records = Vec::new();
    at = skip_space(text, at);
    if text.get(at) == Some(&b']') {
        at += 1;
    } else {
        loop {
            let end = object_end(text, at)?;
            records.push(&text[at..end]);
            at = skip_space(text, end);
            match text.get(at)? {
                b',' => at = skip_space(text, at + 1),
                b']' => {
                    at += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    at = expect(text, skip_space(text, at), b"}")?;
    (skip_space(text, at) == text.len()).then_some(records)
}

fn skip_space(text: &[u8], mut at: usize) -> usize {
    while text.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

fn expect(text: &[u8], at: usize, token: &[u8]) -> Option<usize> {
    text.get(at..)?
        .starts_with(token)
        .then_some(at + token.len())
}

/// The end (exclusive) of the JSON object starting at `at`: brackets counted outside
/// strings, escapes inside them skipped. Validity is the parser's job, later.
fn object_end(text: &[u8], at: usize) -> Option<usize> {
    if text.get(at) != Some(&b'{') {
        return None;
    }
    let mut depth = 0usize;
    let mut i = at;
    while i < text.len() {
        match text[i] {
            b'"' => {
                i += 1;
                loop {
                    let offset = memchr::memchr2(b'"', b'\\', text.get(i..)?)?;
                    i += offset;
                    if text[i] == b'\\' {
                        i += 2;
                    } else {
                        break;
                    }
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_files_split_into_their_records_and_other_shapes_are_left_alone() {
        let text = br#" {"Records": [ {"a": "}]\"{", "b": [1, {"c": 2}]} ,{"d":"x"} ] }
"#;
        let records = log_file_records(text).unwrap();
        assert_eq!(
            records,
            vec![
                &br#"{"a": "}]\"{", "b": [1, {"c": 2}]}"#[..],
                br#"{"d":"x"}"#
            ]
        );
        assert_eq!(log_file_records(br#"{"Records":[]}"#).unwrap().len(), 0);
        for other in [
            &br#"{"Records":[{"a":1}], "more": 1}"#[..],
            br#"{"other":[{"a":1}]}"#,
            br#"{"Records":[{"a":1}"#,
            br#"{"Records":[1,2]}"#,
            br#"{"eventName":"x"}"#,
            b"",
        ] {
            assert!(log_file_records(other).is_none(), "{other:?}");
        }
    }

    #[test]
    fn a_record_is_ruled_out_only_without_any_literal_or_escape_that_could_spell_one() {
        let pattern = Pattern::parse(r#"{"detail": {"eventName": ["ConsoleLogin"]}}"#).unwrap();
        let literals = Literals::of(None, &[pattern]).unwrap();
        assert!(literals.may_hold(br#"{"eventName":"ConsoleLogin"}"#));
        assert!(!literals.may_hold(br#"{"eventName":"GetObject"}"#));
        assert!(!literals.may_hold(br#"{"eventName":"ConsoleLoginX"}"#));
        assert!(literals.may_hold(br#"{"eventName":"Console\u004cogin"}"#));
        let open = Pattern::parse(r#"{"detail": {"eventName": [{"prefix": "Get"}]}}"#).unwrap();
        assert!(Literals::of(None, &[open]).is_none());
        assert!(Literals::of(None, &[]).is_none());
    }
}
