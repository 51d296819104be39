//! The AWS EventBridge event-pattern language, matched against JSON events.
//!
//! * [`Pattern`] is one compiled pattern; [`Pattern::matches`] tests one event.
//! * [`PatternSet`] holds many patterns under caller-chosen ids and finds all
//!   that match an event in one indexed pass ([`PatternSet::matching_ids`]).
//!
//! Supported: exact strings, numbers (compared numerically: `5` equals
//! `5.0`), booleans and `null`; arrays in events (any element may match);
//! `prefix`, `suffix` (both also with `equals-ignore-case`),
//! `equals-ignore-case`, `wildcard`, `anything-but` (value, list, `prefix`,
//! `suffix`, `wildcard`, `equals-ignore-case`), `numeric`, `exists`, `cidr`
//! (IPv4 and IPv6), `$or`, and nested objects (also written as dotted keys).
//! Fields drawn from arrays of objects must come from the same array element
//! (AWS's "array consistency"). Invalid patterns are refused with AWS's reason.
//!
//! ```
//! use event_pattern::{Pattern, PatternSet};
//! use serde_json::json;
//!
//! let p = Pattern::parse(r#"{"source": ["aws.iam"], "detail": {"eventName": [{"prefix": "Create"}]}}"#)?;
//! let event = json!({"source": "aws.iam", "detail": {"eventName": "CreateUser"}});
//! assert!(p.matches(&event));
//!
//! let mut set = PatternSet::new();
//! set.add(7, &p);
//! set.add_json(9, r#"{"detail": {"errorCode": [{"exists": true}]}}"#)?;
//! assert_eq!(set.matching_ids(&event), vec![7]);
//! # Ok::<(), event_pattern::PatternError>(())
//! ```

#![warn(missing_docs)]

mod cidr;
mod error;
mod flatten;
mod hash;
mod index;
mod matcher;
mod parse;
mod value;
mod wildcard;

pub use error::PatternError;

use flatten::{FlatEvent, Node, PathTrie};
use index::Index;
use matcher::Branch;
use serde_json::Value;
use std::str::FromStr;
use std::sync::OnceLock;

/// One compiled event pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// `$or` expanded: the pattern matches when any branch does.
    branches: Vec<Branch>,
    /// The paths the branches look at ...
    trie: PathTrie,
    /// ... and, per branch, the trie node of each field.
    nodes: Vec<Vec<Node>>,
}

impl Pattern {
    /// Parses and validates a pattern from JSON text.
    ///
    /// # Errors
    /// When the text is not JSON, or the pattern is not valid; the error's
    /// `Display` is the reason AWS would give (e.g. `Empty arrays are not allowed`).
    pub fn parse(json: &str) -> Result<Self, PatternError> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| PatternError::new(format!("Filter is not valid JSON: {e}")))?;
        Self::from_value(&value)
    }

    /// Compiles a pattern from an already parsed JSON value.
    ///
    /// # Errors
    /// When the pattern is not valid (see [`Pattern::parse`]).
    pub fn from_value(value: &Value) -> Result<Self, PatternError> {
        let branches = parse::compile(value)?;
        let mut trie = PathTrie::default();
        let nodes = branches
            .iter()
            .map(|b| b.fields.iter().map(|f| trie.insert(&f.path)).collect())
            .collect();
        Ok(Self {
            branches,
            trie,
            nodes,
        })
    }

    /// Whether `event` matches. A non-object event has no fields and so only
    /// matches patterns made solely of `{"exists": false}` conditions.
    #[must_use]
    pub fn matches(&self, event: &Value) -> bool {
        let flat = FlatEvent::new(event, &self.trie);
        self.branches
            .iter()
            .zip(&self.nodes)
            .any(|(b, nodes)| b.matches(&flat, nodes))
    }
}

impl Pattern {
    /// Strings of which every event this pattern matches holds one, as the whole value of
    /// a field whose path starts with `prefix` (e.g. `"detail."`): per `$or` branch, the
    /// exact string operands of its field with the fewest of them, among the fields that
    /// can only be satisfied by one of those strings. `None` when some branch has no such
    /// field: then no text test can rule an event out. Lets a search skip parsing the
    /// records whose raw text contains none of them.
    #[must_use]
    pub fn required_strings(&self, prefix: &str) -> Option<Vec<String>> {
        use matcher::{Matcher, Scalar};
        let mut strings = Vec::new();
        for branch in &self.branches {
            let fewest = branch
                .fields
                .iter()
                .filter(|f| f.path.starts_with(prefix) && !f.absent_ok && !f.matchers.is_empty())
                .filter_map(|f| {
                    f.matchers
                        .iter()
                        .map(|m| match m {
                            Matcher::Exact(Scalar::Str(s)) if !s.is_empty() => Some(s.clone()),
                            _ => None,
                        })
                        .collect::<Option<Vec<String>>>()
                })
                .min_by_key(Vec::len)?;
            strings.extend(fewest);
        }
        Some(strings)
    }
}

/// Patterns are equal when they compiled to the same conditions.
impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.branches == other.branches
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Many patterns, each under a caller-chosen `u32` id, matched together.
///
/// The index is built on the first [`matching_ids`](Self::matching_ids)
/// after a change, so add all patterns first, then match. Adding the same id
/// twice keeps both patterns (the id matches if either does). The set is
/// `Send + Sync`: share it behind an `Arc` to match from many threads.
#[derive(Default, Clone)]
pub struct PatternSet {
    entries: Vec<(u32, Pattern)>,
    index: OnceLock<Index>,
}

impl PatternSet {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a compiled pattern under `id`.
    pub fn add(&mut self, id: u32, pattern: &Pattern) {
        self.entries.push((id, pattern.clone()));
        self.index = OnceLock::new();
    }

    /// Parses a pattern and adds it under `id`.
    ///
    /// # Errors
    /// When the pattern is not valid (see [`Pattern::parse`]); the set is unchanged.
    pub fn add_json(&mut self, id: u32, json: &str) -> Result<(), PatternError> {
        let pattern = Pattern::parse(json)?;
        self.add(id, &pattern);
        Ok(())
    }

    /// Removes every pattern added under `id`; returns whether any was.
    pub fn remove(&mut self, id: u32) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(i, _)| *i != id);
        let removed = self.entries.len() != before;
        if removed {
            self.index = OnceLock::new();
        }
        removed
    }

    /// Number of patterns held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set holds no pattern.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sorted, deduplicated ids of every pattern that matches `event`, found
    /// in one pass: the event is flattened once and only the patterns its
    /// values hit in the index are evaluated.
    #[must_use]
    pub fn matching_ids(&self, event: &Value) -> Vec<u32> {
        let index = self.index();
        self.matching_ids_flat(index, &FlatEvent::new(event, &index.trie))
    }

    /// As [`matching_ids`](Self::matching_ids) for the object whose top-level fields are
    /// `fields` (distinct keys), without building it: an EventBridge envelope can be
    /// matched as its few top-level fields plus the record it already holds as `detail`.
    #[must_use]
    pub fn matching_ids_in_fields(&self, fields: &[(&str, &Value)]) -> Vec<u32> {
        let index = self.index();
        self.matching_ids_flat(index, &FlatEvent::from_fields(fields, &index.trie))
    }

    fn index(&self) -> &Index {
        self.index
            .get_or_init(|| Index::build(self.entries.iter().map(|(_, p)| p.branches.as_slice())))
    }

    fn matching_ids_flat(&self, index: &Index, flat: &FlatEvent<'_>) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        let mut last_entry = usize::MAX;
        // Candidates are sorted, so one pattern's branches are adjacent and
        // the rest of them can be skipped once one matched.
        for branch in index.candidates(flat) {
            let (e, b, nodes) = index.locate(branch);
            if e == last_entry {
                continue;
            }
            let (id, pattern) = &self.entries[e];
            if pattern.branches[b].matches(flat, nodes) {
                out.push(*id);
                last_entry = e;
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

impl std::fmt::Debug for PatternSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatternSet")
            .field("patterns", &self.entries.len())
            .finish_non_exhaustive()
    }
}
