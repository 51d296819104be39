//! `wildcard` operands: parsing (with AWS's escape rules), the complexity
//! guard, and matching.

use crate::error::{err, PatternError};
use crate::hash::FxBuild;
use memchr::memmem;
use std::collections::HashSet;

/// AWS refuses wildcards whose automaton can be in too many states at once;
/// it does not publish the limit. We measure the worst-case number of
/// simultaneously active NFA positions and refuse above this bound, which
/// accepts every wildcard AWS accepted in the conformance corpus (max 8) and
/// refuses `*:*:*:*:*:event-bus/*` (13), which AWS refused.
const MAX_ACTIVE_STATES: usize = 10;

/// The longest wildcard operand accepted, in bytes. AWS caps a whole event
/// pattern at 4096 characters (2048 by default), so no operand AWS accepts is
/// longer; the bound keeps the complexity check, whose exploration grows with
/// the operand's length, to milliseconds for any input.
pub(crate) const MAX_WILDCARD_BYTES: usize = 4096;

const TOO_COMPLEX: &str = "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character";

/// A parsed wildcard: literal segments separated by `*` (so `n` segments mean
/// `n - 1` stars). Escapes (`\*`, `\\`) are already resolved in the segments.
#[derive(Debug, Clone)]
pub(crate) struct Wildcard {
    segments: Vec<String>,
    /// A prepared substring search for each segment between two stars: `*x*` wildcards
    /// (a user agent's substrings, say) run against every event with the field, so the
    /// search is set up once, here, not per event.
    middles: Vec<memmem::Finder<'static>>,
}

impl PartialEq for Wildcard {
    fn eq(&self, other: &Self) -> bool {
        self.segments == other.segments
    }
}

impl Eq for Wildcard {}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(u8),
    Star,
}

impl Wildcard {
    /// Parses a wildcard operand.
    ///
    /// # Errors
    /// On `**`, a bad escape, or a pattern deemed too complex, with AWS's
    /// message; on an operand longer than [`MAX_WILDCARD_BYTES`].
    pub(crate) fn parse(src: &str) -> Result<Self, PatternError> {
        let bytes = src.as_bytes();
        if bytes.len() > MAX_WILDCARD_BYTES {
            return err(format!(
                "wildcard match pattern is {} bytes long; at most {MAX_WILDCARD_BYTES} are accepted",
                bytes.len()
            ));
        }
        // AWS counts positions in the operand wrapped in quotes, hence `+ 1`.
        let pos = |i: usize| i + 1;
        let mut toks = Vec::with_capacity(bytes.len());
        let mut segments = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'*' => {
                    if bytes.get(i + 1) == Some(&b'*') {
                        return err(format!("Consecutive wildcard characters at pos {}", pos(i)));
                    }
                    toks.push(Tok::Star);
                    segments.push(std::mem::take(&mut cur));
                }
                b'\\' => match bytes.get(i + 1) {
                    Some(&next @ (b'*' | b'\\')) => {
                        toks.push(Tok::Lit(next));
                        cur.push(next);
                        i += 1;
                    }
                    _ => return err(format!("Invalid escape character at pos {}", pos(i))),
                },
                b => {
                    toks.push(Tok::Lit(b));
                    cur.push(b);
                }
            }
            i += 1;
        }
        segments.push(cur);
        if !complexity_ok(&toks) {
            return err(TOO_COMPLEX);
        }
        // Only ASCII bytes were removed from valid UTF-8, so segments stay valid.
        let segments = segments
            .into_iter()
            .map(|s| String::from_utf8(s).unwrap_or_default())
            .collect::<Vec<_>>();
        let middles = match segments.len() {
            0..=2 => Vec::new(),
            n => segments[1..n - 1]
                .iter()
                .map(|segment| memmem::Finder::new(segment.as_bytes()).into_owned())
                .collect(),
        };
        Ok(Self { segments, middles })
    }

    /// The literal text before the first `*` (the whole literal if there is no star).
    pub(crate) fn literal_prefix(&self) -> &str {
        &self.segments[0]
    }

    /// The literal text after the last `*`, or `None` when there is no star.
    pub(crate) fn literal_suffix(&self) -> Option<&str> {
        (self.segments.len() > 1).then(|| self.segments[self.segments.len() - 1].as_str())
    }

    /// For a `*text*` wildcard (one star first, one last, none between): its text.
    pub(crate) fn contained_text(&self) -> Option<&str> {
        match self.segments.as_slice() {
            [first, text, last] if first.is_empty() && last.is_empty() && !text.is_empty() => {
                Some(text)
            }
            _ => None,
        }
    }

    /// Whole-string glob match; `*` matches any (possibly empty) run.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let t = text.as_bytes();
        let segs = &self.segments;
        let (first, last) = (segs[0].as_bytes(), segs[segs.len() - 1].as_bytes());
        if segs.len() == 1 {
            return t == first;
        }
        if t.len() < first.len() + last.len() || !t.starts_with(first) || !t.ends_with(last) {
            return false;
        }
        let end = t.len() - last.len();
        let mut pos = first.len();
        // Leftmost placement of each middle segment is optimal for `*`-only globs.
        for middle in &self.middles {
            match middle.find(&t[pos..end]) {
                Some(at) => pos += at + middle.needle().len(),
                None => return false,
            }
        }
        true
    }
}

/// Explores the subset automaton of the wildcard's NFA and checks the largest
/// set of simultaneously active positions. The exploration is capped so the
/// check itself stays cheap; running past the cap also counts as too complex.
fn complexity_ok(toks: &[Tok]) -> bool {
    let n = toks.len();
    let closure = |set: &mut Vec<usize>| {
        let mut i = 0;
        while i < set.len() {
            let s = set[i];
            if s < n && toks[s] == Tok::Star && !set.contains(&(s + 1)) {
                set.push(s + 1);
            }
            i += 1;
        }
        set.sort_unstable();
        set.dedup();
    };
    let mut alphabet: Vec<u8> = toks
        .iter()
        .filter_map(|t| match t {
            Tok::Lit(b) => Some(*b),
            Tok::Star => None,
        })
        .collect();
    alphabet.sort_unstable();
    alphabet.dedup();
    // One byte outside the literal alphabet stands for "anything else".
    if let Some(other) = (0..=255u8).find(|b| !alphabet.contains(b)) {
        alphabet.push(other);
    }
    let cap = 64 + 4 * n;
    let mut start = vec![0];
    closure(&mut start);
    if start.len() > MAX_ACTIVE_STATES {
        return false;
    }
    let mut seen: HashSet<Vec<usize>, FxBuild> = HashSet::default();
    seen.insert(start.clone());
    let mut queue = vec![start];
    while let Some(set) = queue.pop() {
        for &c in &alphabet {
            let mut next = Vec::new();
            for &s in &set {
                match toks.get(s) {
                    Some(Tok::Star) => next.push(s),
                    Some(Tok::Lit(b)) if *b == c => next.push(s + 1),
                    _ => {}
                }
            }
            closure(&mut next);
            if next.is_empty() || seen.contains(&next) {
                continue;
            }
            if next.len() > MAX_ACTIVE_STATES || seen.len() >= cap {
                return false;
            }
            seen.insert(next.clone());
            queue.push(next);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: &str) -> bool {
        Wildcard::parse(p).is_ok()
    }

    #[test]
    fn glob_basics() {
        let w = Wildcard::parse("he*l*o").unwrap();
        assert!(w.matches("hello") && w.matches("helo") && w.matches("heXlYo"));
        assert!(!w.matches("heo") && !w.matches("hell"));
        assert!(Wildcard::parse("").unwrap().matches(""));
        assert!(!Wildcard::parse("").unwrap().matches("x"));
        assert!(Wildcard::parse("hel\\*o").unwrap().matches("hel*o"));
        assert!(!Wildcard::parse("hel\\*o").unwrap().matches("hello"));
        // Middle segments are found in order, each after the one before, and never in
        // the text the prefix or suffix took.
        let w = Wildcard::parse("*kali*amd64*").unwrap();
        assert!(w.matches("Boto3/1.9 (kali-linux-amd64)") && w.matches("kaliamd64"));
        assert!(!w.matches("amd64 kali") && !w.matches("kal-amd64"));
        let w = Wildcard::parse("ab*b*ba").unwrap();
        assert!(w.matches("abbba") && !w.matches("abba") && !w.matches("aba"));
        assert_eq!(w, Wildcard::parse("ab*b*ba").unwrap());
        assert_ne!(w, Wildcard::parse("ab*c*ba").unwrap());
    }

    #[test]
    fn errors() {
        let e = Wildcard::parse("a**").unwrap_err();
        assert_eq!(e.reason(), "Consecutive wildcard characters at pos 2");
        let e = Wildcard::parse("a\\b").unwrap_err();
        assert_eq!(e.reason(), "Invalid escape character at pos 2");
        assert!(Wildcard::parse("a\\").is_err());
    }

    #[test]
    fn complexity_threshold() {
        assert!(!ok("*:*:*:*:*:event-bus/*"));
        assert!(ok("/Users/*/dir/dir/dir/dir/dir/doc.txt"));
        assert!(ok("arn:aws:events:us-east-1:*:event-bus/*"));
        // Everyday shapes stay accepted.
        for p in [
            "*.png",
            "*Title*",
            "arn:aws:s3:::my-bucket/*/logs/*.gz",
            "*/secret/*",
            "arn:aws:iam::*:role/*",
            "arn:aws:sts::*:assumed-role/*/*",
        ] {
            assert!(ok(p), "{p} should be accepted");
        }
        // A long literal after a star is fine; a long repeating one is not.
        assert!(ok(&format!("*a{}", "b".repeat(2000))));
        assert!(!ok(&format!("*{}", "ab".repeat(50))));
    }

    #[test]
    fn operand_length_is_bounded() {
        let longest = format!("Put*Po{}", "[".repeat(MAX_WILDCARD_BYTES - 6));
        assert!(ok(&longest), "an operand of exactly the bound is accepted");
        let e = Wildcard::parse(&format!("{longest}[")).unwrap_err();
        assert_eq!(
            e.reason(),
            "wildcard match pattern is 4097 bytes long; at most 4096 are accepted"
        );
    }
}
