//! The many-pattern index behind `PatternSet`.
//!
//! Every branch (one `$or` alternative of one pattern) is filed under one or
//! two *anchor* fields: fields the branch cannot match without, chosen to be
//! the rarest among all patterns. An event is flattened once; each leaf is
//! looked up only in the anchor tables of its own path (hash maps by exact
//! value, by folded value, by prefix/suffix of every indexed length, by IP).
//! A branch whose anchors are all hit is a candidate, and only candidates are
//! evaluated in full. Matching cost therefore follows the number of hits and
//! candidates, not the number of patterns.

use crate::cidr::{parse_ip, Cidr};
use crate::flatten::{FlatEvent, Node, PathTrie};
use crate::hash::FxHashMap;
use crate::matcher::{Branch, Field, Matcher, Scalar};
use crate::value::{fold, NumKey};
use serde_json::Value;
use std::net::IpAddr;

/// How a matcher can be found from an event leaf.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Anchor {
    Str(String),
    Num(NumKey),
    Bool(bool),
    Null,
    Ip(IpAddr),
    Folded(String),
    Prefix(String),
    PrefixFolded(String),
    Suffix(String),
    SuffixFolded(String),
    Cidr,
    /// Cannot be narrowed by value (numeric, exists, anything-but, bare `*`
    /// wildcards): the branch is a candidate whenever the path is present.
    Presence,
}

fn anchor_of(m: &Matcher) -> Anchor {
    match m {
        Matcher::Exact(Scalar::Str(s)) => Anchor::Str(s.clone()),
        Matcher::Exact(Scalar::Num(n)) => Anchor::Num(*n),
        Matcher::Exact(Scalar::Bool(b)) => Anchor::Bool(*b),
        Matcher::Exact(Scalar::Null) => Anchor::Null,
        Matcher::Ip(ip) => Anchor::Ip(*ip),
        Matcher::EqualsIgnoreCase(s) => Anchor::Folded(s.clone()),
        Matcher::Prefix(s) => Anchor::Prefix(s.clone()),
        Matcher::PrefixIgnoreCase(s) => Anchor::PrefixFolded(s.clone()),
        Matcher::Suffix(s) => Anchor::Suffix(s.clone()),
        Matcher::SuffixIgnoreCase(s) => Anchor::SuffixFolded(s.clone()),
        // A wildcard implies its literal head (or tail) as a prefix (suffix).
        Matcher::Wildcard(w) => match (w.literal_prefix(), w.literal_suffix()) {
            (p, _) if !p.is_empty() => Anchor::Prefix(p.to_string()),
            (_, Some(s)) if !s.is_empty() => Anchor::Suffix(s.to_string()),
            (_, None) => Anchor::Str(String::new()), // "" matches only ""
            _ => Anchor::Presence,
        },
        Matcher::Cidr(_) => Anchor::Cidr,
        Matcher::Numeric(_) | Matcher::Exists | Matcher::AnythingBut(_) => Anchor::Presence,
    }
}

/// Weight from which a field is too unselective to serve as second anchor
/// (any boolean, `null` or presence anchor): most events would hit it.
const SECOND_ANCHOR_MAX: u64 = 1_000;

/// Estimated candidates produced by filing one matcher under `anchor`, given
/// how many fields of the whole set share that anchor. Value lookups beat
/// affix lookups, which beat low-cardinality values, which beat presence.
fn weight(anchor: &Anchor, shared: u64) -> u64 {
    match anchor {
        Anchor::Str(_) | Anchor::Num(_) | Anchor::Ip(_) | Anchor::Folded(_) => shared,
        Anchor::Prefix(_)
        | Anchor::PrefixFolded(_)
        | Anchor::Suffix(_)
        | Anchor::SuffixFolded(_)
        | Anchor::Cidr => 2 * shared + 2,
        Anchor::Bool(_) | Anchor::Null => 1_000 + shared,
        Anchor::Presence => 1_000_000 + shared,
    }
}

/// Lookup by prefix or suffix: the operands keyed by text, plus every
/// distinct operand length, so a value is probed once per length.
#[derive(Default, Clone)]
struct Affix {
    by_text: FxHashMap<String, Vec<u32>>,
    lens: Vec<usize>,
}

impl Affix {
    fn insert(&mut self, text: &str, branch: u32) {
        self.by_text
            .entry(text.to_string())
            .or_default()
            .push(branch);
        if let Err(at) = self.lens.binary_search(&text.len()) {
            self.lens.insert(at, text.len());
        }
    }

    fn probe(&self, s: &str, prefix: bool, out: &mut Vec<u32>) {
        for &len in &self.lens {
            if len > s.len() {
                break;
            }
            let start = if prefix { 0 } else { s.len() - len };
            // `None` off a char boundary: such a slice cannot equal an operand.
            let Some(piece) = s.get(start..start + len) else {
                continue;
            };
            if let Some(hits) = self.by_text.get(piece) {
                out.extend_from_slice(hits);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }
}

/// Anchor tables for one path.
#[derive(Default, Clone)]
struct PathIndex {
    strings: FxHashMap<String, Vec<u32>>,
    numbers: FxHashMap<NumKey, Vec<u32>>,
    trues: Vec<u32>,
    falses: Vec<u32>,
    nulls: Vec<u32>,
    ips: FxHashMap<IpAddr, Vec<u32>>,
    folded: FxHashMap<String, Vec<u32>>,
    prefix: Affix,
    prefix_folded: Affix,
    suffix: Affix,
    suffix_folded: Affix,
    cidrs: Vec<(Cidr, u32)>,
    presence: Vec<u32>,
}

impl PathIndex {
    fn insert(&mut self, m: &Matcher, branch: u32) {
        match anchor_of(m) {
            Anchor::Str(s) => self.strings.entry(s).or_default().push(branch),
            Anchor::Num(n) => self.numbers.entry(n).or_default().push(branch),
            Anchor::Bool(true) => self.trues.push(branch),
            Anchor::Bool(false) => self.falses.push(branch),
            Anchor::Null => self.nulls.push(branch),
            Anchor::Ip(ip) => self.ips.entry(ip).or_default().push(branch),
            Anchor::Folded(s) => self.folded.entry(s).or_default().push(branch),
            Anchor::Prefix(s) => self.prefix.insert(&s, branch),
            Anchor::PrefixFolded(s) => self.prefix_folded.insert(&s, branch),
            Anchor::Suffix(s) => self.suffix.insert(&s, branch),
            Anchor::SuffixFolded(s) => self.suffix_folded.insert(&s, branch),
            Anchor::Cidr => {
                if let Matcher::Cidr(c) = m {
                    self.cidrs.push((*c, branch));
                }
            }
            Anchor::Presence => self.presence.push(branch),
        }
    }

    /// Appends every branch whose anchor this leaf value may satisfy.
    fn probe(&self, v: &Value, out: &mut Vec<u32>) {
        match v {
            Value::String(s) => self.probe_str(s, out),
            Value::Number(n) => {
                if let Some(hits) = self.numbers.get(&NumKey::of(n)) {
                    out.extend_from_slice(hits);
                }
            }
            Value::Bool(true) => out.extend_from_slice(&self.trues),
            Value::Bool(false) => out.extend_from_slice(&self.falses),
            Value::Null => out.extend_from_slice(&self.nulls),
            Value::Array(_) | Value::Object(_) => {}
        }
    }

    fn probe_str(&self, s: &str, out: &mut Vec<u32>) {
        if let Some(hits) = self.strings.get(s) {
            out.extend_from_slice(hits);
        }
        self.prefix.probe(s, true, out);
        self.suffix.probe(s, false, out);
        if !self.ips.is_empty() || !self.cidrs.is_empty() {
            if let Some(ip) = parse_ip(s) {
                if let Some(hits) = self.ips.get(&ip) {
                    out.extend_from_slice(hits);
                }
                out.extend(
                    self.cidrs
                        .iter()
                        .filter(|(c, _)| c.contains(ip))
                        .map(|&(_, b)| b),
                );
            }
        }
        if !self.folded.is_empty()
            || !self.prefix_folded.is_empty()
            || !self.suffix_folded.is_empty()
        {
            let f = fold(s);
            if let Some(hits) = self.folded.get(&f) {
                out.extend_from_slice(hits);
            }
            self.prefix_folded.probe(&f, true, out);
            self.suffix_folded.probe(&f, false, out);
        }
    }
}

/// The compiled index over a list of `(id, branches)` entries.
#[derive(Clone)]
pub(crate) struct Index {
    /// Global branch number -> (entry position, branch position).
    branches: Vec<(u32, u32)>,
    /// Global branch number -> path node of each of its fields.
    nodes: Vec<Box<[Node]>>,
    /// Global branch number -> how many anchors it has (1 or 2); postings
    /// hold `branch << 1 | anchor slot`.
    anchors: Vec<u8>,
    paths: FxHashMap<Node, PathIndex>,
    /// Branches with no field that must be present (only `exists: false`
    /// style fields): they are evaluated for every event.
    always: Vec<u32>,
    /// Every referenced path: what flattening must keep.
    pub(crate) trie: PathTrie,
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("more than u32::MAX patterns or branches")
}

impl Index {
    pub(crate) fn build<'a, I>(entries: I) -> Self
    where
        I: Iterator<Item = &'a [Branch]> + Clone,
    {
        // Pass 1: how many fields of the whole set share each (path, anchor).
        let mut shared: FxHashMap<(&str, Anchor), u64> = FxHashMap::default();
        for branches in entries.clone() {
            for field in branches.iter().flat_map(|b| &b.fields) {
                if field.absent_ok {
                    continue;
                }
                for m in &field.matchers {
                    *shared.entry((&field.path, anchor_of(m))).or_default() += 1;
                }
            }
        }
        let cost = |f: &Field| -> u64 {
            f.matchers
                .iter()
                .map(|m| {
                    let a = anchor_of(m);
                    let n = shared
                        .get(&(f.path.as_str(), a.clone()))
                        .copied()
                        .unwrap_or(0);
                    weight(&a, n)
                })
                .sum()
        };

        // Pass 2: file each branch under its cheapest required field, and its
        // second cheapest too when that one is selective.
        let mut index = Index {
            branches: Vec::new(),
            nodes: Vec::new(),
            anchors: Vec::new(),
            paths: FxHashMap::default(),
            always: Vec::new(),
            trie: PathTrie::default(),
        };
        for (e, branches) in entries.enumerate() {
            for (b, branch) in branches.iter().enumerate() {
                let id = to_u32(index.branches.len());
                index.branches.push((to_u32(e), to_u32(b)));
                let nodes: Box<[Node]> = branch
                    .fields
                    .iter()
                    .map(|f| index.trie.insert(&f.path))
                    .collect();
                let mut eligible: Vec<(u64, &Field, Node)> = branch
                    .fields
                    .iter()
                    .zip(nodes.iter())
                    .filter(|(f, _)| !f.absent_ok)
                    .map(|(f, &n)| (cost(f), f, n))
                    .collect();
                eligible.sort_by_key(|e| e.0);
                let second = eligible.get(1).is_some_and(|e| e.0 < SECOND_ANCHOR_MAX);
                let chosen = &eligible[..eligible.len().min(1 + usize::from(second))];
                if chosen.is_empty() {
                    index.always.push(id);
                }
                for (slot, &(_, field, node)) in (0u32..).zip(chosen) {
                    let pi = index.paths.entry(node).or_default();
                    for m in &field.matchers {
                        pi.insert(m, id << 1 | slot);
                    }
                }
                index.anchors.push(u8::try_from(chosen.len()).unwrap_or(0));
                index.nodes.push(nodes);
            }
        }
        index
    }

    /// Candidate branches for an event (every anchor hit): sorted,
    /// deduplicated global numbers.
    pub(crate) fn candidates(&self, flat: &FlatEvent) -> Vec<u32> {
        let mut hits = Vec::new();
        for (node, leaves) in flat.groups() {
            let Some(pi) = self.paths.get(&node) else {
                continue;
            };
            hits.extend_from_slice(&pi.presence);
            for leaf in leaves {
                pi.probe(flat.value(leaf), &mut hits);
            }
        }
        // After sort + dedup, a branch appears once per distinct anchor hit.
        hits.sort_unstable();
        hits.dedup();
        let mut out = self.always.clone();
        for run in hits.chunk_by(|a, b| a >> 1 == b >> 1) {
            let branch = run[0] >> 1;
            if run.len() == usize::from(self.anchors[branch as usize]) {
                out.push(branch);
            }
        }
        out.sort_unstable();
        out
    }

    /// (entry position, branch position, field nodes) of a global branch number.
    pub(crate) fn locate(&self, branch: u32) -> (usize, usize, &[Node]) {
        let (e, b) = self.branches[branch as usize];
        (e as usize, b as usize, &self.nodes[branch as usize])
    }
}
