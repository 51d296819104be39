//! Matching one value of a Sigma detection against the values of an event's field: string
//! wildcards (`*`, `?`, with Sigma's `\` escapes), regular expressions, CIDR ranges and
//! numeric comparisons, and the walk over a CloudTrail record by dotted field name.

use std::net::IpAddr;

use serde_json::Value;

/// A Sigma string value with its wildcards: `*` any run of characters, `?` one character.
/// `contains`, `startswith` and `endswith` are `*` added around it.
#[derive(Debug, Clone)]
pub struct Wildcard {
    /// The literal runs and single-character wildcards between the `*`s: the first segment
    /// is anchored at the start of the text, the last at its end, the others float (a
    /// pattern without `*` is one segment anchored at both ends).
    segments: Vec<Vec<Piece>>,
    /// Case-insensitive (Sigma's default): the literals are kept lower-cased.
    fold: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(Vec<u8>),
    /// `?`: exactly one character.
    One,
}

impl Wildcard {
    /// The pattern of a Sigma value: `*` and `?` are wildcards, `\*`, `\?` and `\\` stand
    /// for `*`, `?` and `\`, and any other `\` is itself.
    pub fn new(value: &str, fold: bool) -> Wildcard {
        let mut segments = vec![Vec::new()];
        let mut literal = String::new();
        fn flush(literal: &mut String, segment: &mut Vec<Piece>, fold: bool) {
            if !literal.is_empty() {
                let text = if fold {
                    literal.to_lowercase()
                } else {
                    literal.clone()
                };
                segment.push(Piece::Literal(text.into_bytes()));
                literal.clear();
            }
        }
        let mut chars = value.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&next @ ('*' | '?' | '\\')) => {
                        literal.push(next);
                        chars.next();
                    }
                    _ => literal.push('\\'),
                },
                '*' => {
                    flush(
                        &mut literal,
                        segments.last_mut().expect("one segment"),
                        fold,
                    );
                    segments.push(Vec::new());
                }
                '?' => {
                    let segment = segments.last_mut().expect("one segment");
                    flush(&mut literal, segment, fold);
                    segment.push(Piece::One);
                }
                c => literal.push(c),
            }
        }
        flush(
            &mut literal,
            segments.last_mut().expect("one segment"),
            fold,
        );
        Wildcard { segments, fold }
    }

    /// `*value*`, `value*` or `*value` of [`Wildcard::new`].
    pub fn with_stars(value: &str, leading: bool, trailing: bool, fold: bool) -> Wildcard {
        let mut w = Wildcard::new(value, fold);
        if leading {
            w.segments.insert(0, Vec::new());
        }
        if trailing {
            w.segments.push(Vec::new());
        }
        w
    }

    /// Whether `text` matches the whole pattern.
    pub fn is_match(&self, text: &str) -> bool {
        let lowered;
        let t = if self.fold && !text.is_ascii() {
            lowered = text.to_lowercase();
            lowered.as_bytes()
        } else {
            text.as_bytes()
        };
        let n = self.segments.len();
        if n == 1 {
            return self.match_at(&self.segments[0], t, 0) == Some(t.len());
        }
        let Some(mut pos) = self.match_at(&self.segments[0], t, 0) else {
            return false;
        };
        for segment in &self.segments[1..n - 1] {
            match (pos..=t.len())
                .filter(|&s| is_boundary(t, s))
                .find_map(|s| self.match_at(segment, t, s))
            {
                Some(end) => pos = end,
                None => return false,
            }
        }
        let last = &self.segments[n - 1];
        if last.iter().all(|p| matches!(p, Piece::Literal(_))) {
            // A fixed length: only one place to try.
            let len: usize = last
                .iter()
                .map(|p| match p {
                    Piece::Literal(l) => l.len(),
                    Piece::One => 0,
                })
                .sum();
            return t.len() >= pos + len && self.match_at(last, t, t.len() - len) == Some(t.len());
        }
        (pos..=t.len())
            .filter(|&s| is_boundary(t, s))
            .any(|s| self.match_at(last, t, s) == Some(t.len()))
    }

    /// Where `segment` ends when it starts at `start` of `t`, if it matches there.
    fn match_at(&self, segment: &[Piece], t: &[u8], start: usize) -> Option<usize> {
        let mut pos = start;
        for piece in segment {
            match piece {
                Piece::Literal(lit) => {
                    let window = t.get(pos..pos + lit.len())?;
                    let same = if self.fold {
                        window
                            .iter()
                            .zip(lit)
                            .all(|(a, b)| a.to_ascii_lowercase() == *b)
                    } else {
                        window == lit.as_slice()
                    };
                    if !same {
                        return None;
                    }
                    pos += lit.len();
                }
                Piece::One => {
                    let first = *t.get(pos)?;
                    pos += utf8_len(first);
                    if pos > t.len() {
                        return None;
                    }
                }
            }
        }
        Some(pos)
    }

    /// Whether it compares case-insensitively.
    pub fn folds(&self) -> bool {
        self.fold
    }

    /// The literal text at the start of every match when the pattern has one (`abc*`,
    /// `abc*d`; lower-cased when folding), for patterns with more than one segment.
    pub fn literal_prefix(&self) -> Option<String> {
        match self.segments.as_slice() {
            [first, _, ..] => match first.as_slice() {
                [Piece::Literal(l)] if !l.is_empty() => String::from_utf8(l.clone()).ok(),
                _ => None,
            },
            _ => None,
        }
    }

    /// The literal text when the pattern has no wildcard (lower-cased when folding).
    pub fn literal(&self) -> Option<String> {
        match self.segments.as_slice() {
            [only] => match only.as_slice() {
                [] => Some(String::new()),
                [Piece::Literal(l)] => String::from_utf8(l.clone()).ok(),
                _ => None,
            },
            _ => None,
        }
    }
}

fn is_boundary(t: &[u8], i: usize) -> bool {
    i == t.len() || (t[i] & 0xC0) != 0x80
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// The longest run of plain characters that every match of the regular expression
/// `pattern` contains, for patterns simple enough to tell: no groups, alternation, classes,
/// escapes or repetition counts (`()|[]{}\\` absent), so that the pattern is a sequence of
/// characters, `.`, anchors, each perhaps followed by `*`, `+` or `?`. A character followed
/// by `*` or `?` may be absent and ends a run; one followed by `+` is present and ends it.
/// `None` when the pattern is not that simple or has no run of two characters or more.
pub fn required_literal(pattern: &str) -> Option<String> {
    if pattern.contains(['(', ')', '|', '[', ']', '{', '}', '\\']) {
        return None;
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut best = String::new();
    let mut run = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let plain = !matches!(c, '.' | '^' | '$' | '*' | '+' | '?');
        if plain && !matches!(next, Some('*' | '?')) {
            run.push(c);
            if next != Some('+') {
                continue;
            }
        }
        if run.chars().count() > best.chars().count() {
            best = std::mem::take(&mut run);
        }
        run.clear();
    }
    if run.chars().count() > best.chars().count() {
        best = run;
    }
    (best.chars().count() >= 2).then_some(best)
}

/// An IPv4 or IPv6 network (`cidr` modifier).
#[derive(Debug, Clone)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Parses `192.0.2.0/24`, `2001:db8::/32` or a single address.
    ///
    /// # Errors
    /// The text is not a network.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let bad = || format!("`{text}` is not a CIDR network");
        let (addr, bits) = match text.trim().split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
            None => (text.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        if bits > max {
            return Err(bad());
        }
        Ok(Cidr { net, bits })
    }

    /// Whether `text` is an address in the network.
    pub fn contains(&self, text: &str) -> bool {
        let Ok(ip) = text.trim().parse::<IpAddr>() else {
            return false;
        };
        let (a, b, width) = match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                (u128::from(n.to_bits()), u128::from(i.to_bits()), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => (n.to_bits(), i.to_bits(), 128),
            _ => return false,
        };
        let shift = width - u32::from(self.bits);
        shift >= width || (a >> shift) == (b >> shift)
    }
}

/// A numeric comparison (`gt`, `gte`, `lt`, `lte`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Compare {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Compare {
    pub fn holds(self, field: f64, value: f64) -> bool {
        match self {
            Compare::Gt => field > value,
            Compare::Gte => field >= value,
            Compare::Lt => field < value,
            Compare::Lte => field <= value,
        }
    }
}

/// One value a field is compared with.
#[derive(Debug, Clone)]
pub enum ValueMatcher {
    /// `null`: the field is absent or null.
    Null,
    Wildcard(Wildcard),
    /// With a text every match contains, when [`required_literal`] finds one: looking
    /// for it first is much cheaper than running the regular expression.
    Regex(regex_lite::Regex, Option<String>),
    Cidr(Cidr),
    Number(Compare, f64),
}

impl ValueMatcher {
    /// Whether one scalar of the field (as text; not null) matches.
    pub fn matches_text(&self, text: &str) -> bool {
        match self {
            ValueMatcher::Null => false,
            ValueMatcher::Wildcard(w) => w.is_match(text),
            ValueMatcher::Regex(r, literal) => {
                literal.as_ref().is_none_or(|l| text.contains(l.as_str())) && r.is_match(text)
            }
            ValueMatcher::Cidr(c) => c.contains(text),
            ValueMatcher::Number(cmp, value) => text
                .trim()
                .parse::<f64>()
                .is_ok_and(|field| cmp.holds(field, *value)),
        }
    }

    /// Whether the field, resolved to `values`, matches: `null` when it has no value other
    /// than null, anything else when one scalar of it (arrays and objects searched through)
    /// matches.
    pub fn matches(&self, values: &[&Value]) -> bool {
        match self {
            ValueMatcher::Null => values.iter().all(|v| v.is_null()),
            _ => values
                .iter()
                .any(|v| any_scalar(v, &mut |text| self.matches_text(text))),
        }
    }
}

/// Whether `f` holds for one scalar of `v` as text (strings as they are, numbers and
/// booleans written out), searching arrays and objects; null is never passed.
pub fn any_scalar(v: &Value, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => f(s),
        Value::Bool(b) => f(if *b { "true" } else { "false" }),
        Value::Number(n) => f(&n.to_string()),
        Value::Array(items) => items.iter().any(|i| any_scalar(i, f)),
        Value::Object(map) => map.values().any(|i| any_scalar(i, f)),
    }
}

/// The values of the dotted field `path` in `v`: a key written with dots is found as it is
/// first (`{"a.b": 1}`), else the path descends object by object; an array on the way is
/// descended element by element. Pushes nothing when the field is absent.
pub fn resolve<'a>(v: &'a Value, path: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => {
            for item in items {
                resolve(item, path, out);
            }
        }
        Value::Object(map) => {
            if let Some(found) = map.get(path) {
                out.push(found);
                return;
            }
            for (i, _) in path.match_indices('.') {
                if let Some(child) = map.get(&path[..i]) {
                    resolve(child, &path[i + 1..], out);
                    return;
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards_and_escapes() {
        let m = |p: &str, t: &str| Wildcard::new(p, true).is_match(t);
        assert!(m("CreateUser", "createuser"));
        assert!(!m("CreateUser", "CreateUsers"));
        assert!(m("Create*", "CreateAccessKey"));
        assert!(m("*Key", "CreateAccessKey"));
        assert!(m("*Access*", "CreateAccessKey"));
        assert!(m("C?eate*K?y", "CreateAccessKey"));
        assert!(!m("C?eate", "Ceate"));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "axxbyybc"));
        assert!(!m("a*b*c", "axxbyyb"));
        assert!(m("*", ""));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "x"));
        assert!(m("a\\?", "a?"));
        assert!(m("C:\\Windows", "c:\\windows"));
        assert!(m("C:\\\\*", "c:\\x"));
        assert!(m("?", "é"));
        assert!(m("ÉTÉ*", "étéx"));
        assert!(m("*ab", "aab"));
        assert!(!Wildcard::new("Create*", false).is_match("createuser"));
        assert_eq!(
            Wildcard::new("A\\*b", true).literal().as_deref(),
            Some("a*b")
        );
        assert_eq!(Wildcard::new("A*b", true).literal(), None);
    }

    #[test]
    fn literals_every_match_contains() {
        let lit = |p: &str| required_literal(p);
        assert_eq!(
            lit(".+:assumed-role/aws:.+").as_deref(),
            Some(":assumed-role/aws:")
        );
        assert_eq!(lit("^arn:aws:iam::").as_deref(), Some("arn:aws:iam::"));
        assert_eq!(lit("abcx*yz").as_deref(), Some("abc"), "x may be absent");
        assert_eq!(lit("ab?cdef").as_deref(), Some("cdef"));
        assert_eq!(
            lit("ab+cdef").as_deref(),
            Some("cdef"),
            "a run ends at a repeated b"
        );
        assert_eq!(
            lit("abc+d").as_deref(),
            Some("abc"),
            "the repeated c is there once"
        );
        assert_eq!(lit("a.b"), None);
        assert_eq!(lit("(admin|root)-user"), None);
        assert_eq!(lit("\\d+-backup"), None);
        assert_eq!(lit("[a-z]+prod"), None);
        assert_eq!(lit("x{2}yz"), None);
        // The pre-check never turns a match into a miss.
        for (p, t) in [
            (
                ".+:assumed-role/aws:.+",
                "arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1",
            ),
            ("abcx*yz", "abcyz"),
            ("abc+def", "abcccdef"),
            ("ab?cdef", "acdef"),
        ] {
            let r = regex_lite::Regex::new(p).unwrap();
            assert!(r.is_match(t));
            assert!(t.contains(lit(p).unwrap().as_str()), "{p} on {t}");
        }
    }

    #[test]
    fn networks() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.1.2.3"));
        assert!(!c.contains("11.1.2.3"));
        assert!(!c.contains("AWS Internal"));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8"));
        assert!(Cidr::parse("2001:db8::/32")
            .unwrap()
            .contains("2001:db8::1"));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn dotted_paths_descend_objects_and_arrays() {
        let v = json!({"a": {"b": [{"c": 1}, {"c": "x"}]}, "d.e": true, "n": null});
        let get = |p: &str| {
            let mut out = Vec::new();
            resolve(&v, p, &mut out);
            out.into_iter().cloned().collect::<Vec<_>>()
        };
        assert_eq!(get("a.b.c"), vec![json!(1), json!("x")]);
        assert_eq!(get("d.e"), vec![json!(true)]);
        assert_eq!(get("n"), vec![json!(null)]);
        assert!(get("a.x").is_empty());
        assert!(get("zz").is_empty());
    }
}
