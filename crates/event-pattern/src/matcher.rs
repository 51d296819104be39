//! Compiled pattern: branches of fields, each field an OR of matchers, and
//! the per-value test of one matcher. Also the naive (one pattern at a time)
//! evaluation used by `Pattern::matches` and to confirm `PatternSet`
//! candidates.

use crate::cidr::{parse_ip, Cidr};
use crate::flatten::{FlatEvent, Node};
use crate::value::{fold, NumKey};
use crate::wildcard::Wildcard;
use aho_corasick::AhoCorasick;
use serde_json::Value;
use std::net::IpAddr;
use std::ops::Range;

/// An exact scalar to compare against.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Num(NumKey),
    Str(String),
}

/// One side of a `numeric` range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bound {
    pub(crate) value: f64,
    pub(crate) inclusive: bool,
}

/// A `numeric` condition; `None` means unbounded on that side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NumRange {
    pub(crate) low: Option<Bound>,
    pub(crate) high: Option<Bound>,
}

impl NumRange {
    fn contains(&self, x: f64) -> bool {
        let above = self
            .low
            .is_none_or(|b| x > b.value || (b.inclusive && x == b.value));
        let below = self
            .high
            .is_none_or(|b| x < b.value || (b.inclusive && x == b.value));
        above && below
    }
}

/// The different `anything-but` forms. A value is *excluded* when it is of
/// the form's type and hits one of the operands; every other present value
/// (including `null`, booleans and the other type) matches.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnythingBut {
    Strings(Vec<String>),
    Numbers(Vec<NumKey>),
    /// Folded operands.
    IgnoreCase(Vec<String>),
    Prefix(Vec<String>),
    Suffix(Vec<String>),
    Wildcard(Vec<Wildcard>),
}

impl AnythingBut {
    fn excludes(&self, v: &Value) -> bool {
        match (self, v) {
            (Self::Numbers(ns), Value::Number(n)) => ns.contains(&NumKey::of(n)),
            (Self::Numbers(_), _) | (_, Value::Number(_)) => false,
            (Self::Strings(ss), Value::String(s)) => ss.iter().any(|x| x == s),
            (Self::IgnoreCase(ss), Value::String(s)) => {
                let f = fold(s);
                ss.contains(&f)
            }
            (Self::Prefix(ps), Value::String(s)) => ps.iter().any(|p| s.starts_with(p.as_str())),
            (Self::Suffix(ps), Value::String(s)) => ps.iter().any(|p| s.ends_with(p.as_str())),
            (Self::Wildcard(ws), Value::String(s)) => ws.iter().any(|w| w.matches(s)),
            _ => false,
        }
    }
}

/// One operand of a field's OR-list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Matcher {
    Exact(Scalar),
    /// A string operand that is an IP literal also matches other spellings
    /// of the same address, as in AWS.
    Ip(IpAddr),
    /// Folded operand.
    EqualsIgnoreCase(String),
    Prefix(String),
    /// Folded operand.
    PrefixIgnoreCase(String),
    Suffix(String),
    /// Folded operand.
    SuffixIgnoreCase(String),
    Wildcard(Wildcard),
    Numeric(NumRange),
    Cidr(Cidr),
    /// `{"exists": true}`: any leaf value, `null` included.
    Exists,
    AnythingBut(AnythingBut),
}

impl Matcher {
    /// Whether this operand accepts one scalar leaf of the event.
    pub(crate) fn accepts(&self, v: &Value) -> bool {
        match self {
            Self::Exists => true,
            Self::AnythingBut(ab) => !ab.excludes(v),
            Self::Exact(sc) => match (sc, v) {
                (Scalar::Null, Value::Null) => true,
                (Scalar::Bool(a), Value::Bool(b)) => a == b,
                (Scalar::Num(a), Value::Number(n)) => *a == NumKey::of(n),
                (Scalar::Str(a), Value::String(s)) => a == s,
                _ => false,
            },
            Self::Numeric(r) => match v {
                Value::Number(n) => n.as_f64().is_some_and(|x| r.contains(x)),
                _ => false,
            },
            _ => {
                let Value::String(s) = v else { return false };
                match self {
                    Self::Ip(ip) => parse_ip(s) == Some(*ip),
                    Self::EqualsIgnoreCase(x) => fold(s) == *x,
                    Self::Prefix(p) => s.starts_with(p.as_str()),
                    Self::PrefixIgnoreCase(p) => fold(s).starts_with(p.as_str()),
                    Self::Suffix(p) => s.ends_with(p.as_str()),
                    Self::SuffixIgnoreCase(p) => fold(s).ends_with(p.as_str()),
                    Self::Wildcard(w) => w.matches(s),
                    Self::Cidr(c) => parse_ip(s).is_some_and(|ip| c.contains(ip)),
                    _ => false,
                }
            }
        }
    }
}

/// One field of a branch: the event must have a leaf at `path` accepted by
/// one of `matchers`, or, when `absent_ok` (`{"exists": false}` was in the
/// list), may instead lack the field.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) path: String,
    pub(crate) matchers: Vec<Matcher>,
    pub(crate) absent_ok: bool,
    /// The field's `*text*` wildcards, searched in one pass (prepared by [`Field::new`]).
    contains: Option<Contains>,
}

/// A field's `*text*` wildcards searched together: one pass over a value tells whether any
/// of their texts occurs in it. A list of tools' user-agent substrings is dozens of them,
/// each searched on every event with a user agent.
#[derive(Debug, Clone)]
struct Contains {
    texts: AhoCorasick,
    /// The field's other matchers, by index.
    rest: Vec<usize>,
}

impl PartialEq for Field {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
            && self.matchers == other.matchers
            && self.absent_ok == other.absent_ok
    }
}

impl Field {
    /// A field, with its `*text*` wildcards prepared to be searched together when it has
    /// two or more of them.
    pub(crate) fn new(path: String, matchers: Vec<Matcher>, absent_ok: bool) -> Self {
        let texts: Vec<(usize, &str)> = matchers
            .iter()
            .enumerate()
            .filter_map(|(i, m)| match m {
                Matcher::Wildcard(w) => w.contained_text().map(|text| (i, text)),
                _ => None,
            })
            .collect();
        let contains = if texts.len() < 2 {
            None
        } else {
            AhoCorasick::new(texts.iter().map(|(_, text)| text))
                .ok()
                .map(|searcher| Contains {
                    texts: searcher,
                    rest: (0..matchers.len())
                        .filter(|i| !texts.iter().any(|(t, _)| t == i))
                        .collect(),
                })
        };
        Field {
            path,
            matchers,
            absent_ok,
            contains,
        }
    }

    pub(crate) fn accepts(&self, v: &Value) -> bool {
        match (&self.contains, v) {
            (Some(contains), Value::String(s)) => {
                contains.texts.is_match(s)
                    || contains.rest.iter().any(|&i| self.matchers[i].accepts(v))
            }
            _ => self.matchers.iter().any(|m| m.accepts(v)),
        }
    }
}

/// One conjunction of fields; a pattern is an OR of branches (`$or` expanded).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Branch {
    pub(crate) fields: Vec<Field>,
}

/// Upper bound on search steps for one branch against one event. Only
/// adversarial events (many independent arrays, each with many elements)
/// get near it; past it the branch is reported as not matching.
const SEARCH_BUDGET: u32 = 200_000;

struct Choice<'a> {
    field: &'a Field,
    /// Leaves at the path that the field accepts.
    hits: Vec<u32>,
    /// Every leaf at the path (needed to decide absence).
    all: Range<u32>,
}

impl Branch {
    /// Whether the flattened event satisfies every field, with AWS's array
    /// consistency: the leaves chosen for different fields must not come from
    /// different elements of the same array, and a field matched by absence
    /// must have no leaf consistent with the chosen ones.
    ///
    /// `nodes[i]` is the path node of `fields[i]` in the trie `ev` was
    /// flattened with.
    pub(crate) fn matches(&self, ev: &FlatEvent, nodes: &[Node]) -> bool {
        // Fast pass without allocation. It settles every event where no
        // involved leaf sits in an array, and rejects early otherwise.
        let mut any_array = false;
        for (field, &node) in self.fields.iter().zip(nodes) {
            let all = ev.leaves_at(node);
            if all.is_empty() {
                if field.absent_ok {
                    continue;
                }
                return false;
            }
            let arrayed = all
                .clone()
                .filter(|&l| !ev.membership(l).is_empty())
                .count();
            any_array |= arrayed > 0;
            // Absence can only work when every leaf is inside some array
            // (a leaf outside arrays is consistent with any choice).
            let absence_possible = field.absent_ok && arrayed == all.len();
            if !absence_possible && !all.clone().any(|l| field.accepts(ev.value(l))) {
                return false;
            }
        }
        !any_array || self.search(ev, nodes)
    }

    /// The array-consistent search, once the fast pass found arrays involved.
    fn search(&self, ev: &FlatEvent, nodes: &[Node]) -> bool {
        let mut required: Vec<Choice> = Vec::with_capacity(self.fields.len());
        let mut optional: Vec<Choice> = Vec::new();
        for (field, &node) in self.fields.iter().zip(nodes) {
            let all = ev.leaves_at(node);
            if field.absent_ok && all.is_empty() {
                continue; // absent outright: satisfied whatever else is chosen
            }
            let hits: Vec<u32> = all
                .clone()
                .filter(|&l| field.accepts(ev.value(l)))
                .collect();
            let choice = Choice { field, hits, all };
            if field.absent_ok {
                optional.push(choice);
            } else {
                required.push(choice);
            }
        }
        // Most constrained first keeps the search small.
        required.sort_by_key(|c| c.hits.len());
        optional.sort_by_key(|c| c.hits.len());
        required.extend(optional);
        let mut search = Search {
            ev,
            choices: &required,
            membership: Vec::new(),
            absent: Vec::new(),
            budget: SEARCH_BUDGET,
        };
        search.run(0)
    }
}

struct Search<'a, 'e> {
    ev: &'a FlatEvent<'e>,
    choices: &'a [Choice<'a>],
    /// (array id, element index) pairs fixed by the leaves chosen so far.
    membership: Vec<(u32, u32)>,
    /// Choices satisfied by absence, checked once everything is chosen.
    absent: Vec<usize>,
    budget: u32,
}

impl Search<'_, '_> {
    fn consistent(&self, leaf: u32) -> bool {
        self.ev
            .membership(leaf)
            .iter()
            .all(|&(arr, idx)| self.membership.iter().all(|&(a, i)| a != arr || i == idx))
    }

    fn run(&mut self, k: usize) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        let Some(choice) = self.choices.get(k) else {
            return self.absent.iter().all(|&c| {
                self.choices[c]
                    .all
                    .clone()
                    .all(|leaf| !self.consistent(leaf))
            });
        };
        for &leaf in &choice.hits {
            if !self.consistent(leaf) {
                continue;
            }
            let mark = self.membership.len();
            for &(arr, idx) in self.ev.membership(leaf) {
                if !self.membership.iter().any(|&(a, _)| a == arr) {
                    self.membership.push((arr, idx));
                }
            }
            let ok = self.run(k + 1);
            self.membership.truncate(mark);
            if ok {
                return true;
            }
        }
        if choice.field.absent_ok {
            self.absent.push(k);
            let ok = self.run(k + 1);
            self.absent.pop();
            return ok;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wildcard(text: &str) -> Matcher {
        Matcher::Wildcard(Wildcard::parse(text).unwrap())
    }

    /// A field's `*text*` wildcards searched together accept exactly the values the
    /// operands accept one by one, with the field's other operands still applied.
    #[test]
    fn wildcards_searched_together_accept_what_each_accepts() {
        let matchers = vec![
            wildcard("*kali*"),
            wildcard("*Kali*"),
            wildcard("*trufflehog*"),
            wildcard("*a\\*b*"),
            wildcard("pre*fix*"),
            wildcard("*end"),
            Matcher::Prefix("Boto3/".into()),
            Matcher::Exact(Scalar::Str("exact".into())),
            Matcher::Exact(Scalar::Num(NumKey::of(&serde_json::Number::from(7)))),
        ];
        let field = Field::new("detail.userAgent".into(), matchers.clone(), false);
        assert!(field.contains.is_some());
        assert_eq!(field.contains.as_ref().unwrap().rest, vec![4, 5, 6, 7, 8]);
        let values = [
            json!("Mozilla kali-linux"),
            json!("KALI"),
            json!("x Kali y"),
            json!("trufflehog/3.0"),
            json!("a*b"),
            json!("ab"),
            json!("prefix"),
            json!("pre-fi"),
            json!("the end"),
            json!("Boto3/1.2"),
            json!("exact"),
            json!("exactly"),
            json!(""),
            json!(7),
            json!(8),
            json!(null),
            json!(true),
        ];
        for v in &values {
            let one_by_one = matchers.iter().any(|m| m.accepts(v));
            assert_eq!(field.accepts(v), one_by_one, "{v}");
        }
        // One such wildcard alone is searched as before.
        let single = Field::new("p".into(), vec![wildcard("*kali*")], false);
        assert!(single.contains.is_none());
        assert!(single.accepts(&json!("a kali b")));
    }
}
