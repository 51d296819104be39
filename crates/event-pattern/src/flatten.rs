//! Flattening an event into scalar leaves, each filed under a path node and
//! tagged with its array membership.
//!
//! Paths are dotted names (`{"a": {"b": 1}}` and `{"a.b": 1}` both give
//! `a.b`, as in AWS). Rather than building path strings, flattening walks a
//! trie of the paths that patterns reference, so parts of the event no
//! pattern looks at are skipped, and event-chosen keys are only ever looked
//! up, never inserted, in a hash map.

use crate::hash::FxHashMap;
use serde_json::Value;
use std::ops::Range;

/// Joins a field name onto a dotted path (no dot after an empty prefix).
pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Node id in a [`PathTrie`]. The root (id 0) is the empty path.
pub(crate) type Node = u32;

/// The dotted paths referenced by some patterns, split at dots.
#[derive(Debug, Clone)]
pub(crate) struct PathTrie {
    children: Vec<FxHashMap<Box<str>, Node>>,
}

impl Default for PathTrie {
    fn default() -> Self {
        Self {
            children: vec![FxHashMap::default()],
        }
    }
}

impl PathTrie {
    /// Adds a path (if new) and returns its node.
    pub(crate) fn insert(&mut self, path: &str) -> Node {
        if path.is_empty() {
            return 0;
        }
        let mut node = 0;
        for seg in path.split('.') {
            let next = Node::try_from(self.children.len()).expect("path trie too large");
            node = *self.children[node as usize]
                .entry(seg.into())
                .or_insert_with(|| next);
            if node == next {
                self.children.push(FxHashMap::default());
            }
        }
        node
    }

    /// The node reached by appending `key` to the path of `node`, if any
    /// pattern can look there.
    fn step(&self, node: Node, key: &str) -> Option<Node> {
        // Joining onto the empty path adds no dot, so "" stays at the root.
        if node == 0 && key.is_empty() {
            return Some(0);
        }
        let children = &self.children[node as usize];
        // Segments never contain dots, so a direct hit settles it; only a
        // miss on a dotted key (`{"a.b": ..}`) needs the walk.
        if let Some(&n) = children.get(key) {
            return Some(n);
        }
        if !key.as_bytes().contains(&b'.') {
            return None;
        }
        let mut n = node;
        for seg in key.split('.') {
            n = *self.children[n as usize].get(seg)?;
        }
        Some(n)
    }

    /// Whether keys of an object at `node` can lead to a referenced path.
    /// Always true at the root, where a `""` key maps back to the root.
    fn has_children(&self, node: Node) -> bool {
        node == 0 || !self.children[node as usize].is_empty()
    }
}

struct Leaf<'e> {
    node: Node,
    value: &'e Value,
    /// Range into `FlatEvent::arena`.
    mem: (u32, u32),
}

/// An event seen as scalar leaves grouped by path node. Objects and arrays
/// are not leaves; empty arrays and objects contribute nothing. Each leaf
/// remembers which element of which enclosing array it came from, so the
/// matcher can enforce AWS's array consistency.
pub(crate) struct FlatEvent<'e> {
    /// Sorted by node, so each node's leaves are one id range.
    leaves: Vec<Leaf<'e>>,
    arena: Vec<(u32, u32)>,
    /// (node, first leaf, end leaf), sorted by node.
    groups: Vec<(Node, u32, u32)>,
}

struct Item<'e> {
    value: &'e Value,
    node: Node,
    mem_len: usize,
    elem: Option<(u32, u32)>,
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'e> FlatEvent<'e> {
    /// Flattens the parts of `event` on paths in `trie`. A non-object top
    /// level has no named fields and so flattens to nothing. Iterative, so
    /// deep events cannot overflow the stack.
    pub(crate) fn new(event: &'e Value, trie: &PathTrie) -> Self {
        if !event.is_object() {
            return Self::from_stack(Vec::new(), trie);
        }
        let stack = vec![Item {
            value: event,
            node: 0,
            mem_len: 0,
            elem: None,
        }];
        Self::from_stack(stack, trie)
    }

    /// Flattens an object given as its top-level fields, without building it: the same
    /// leaves as [`FlatEvent::new`] on `{k1: v1, k2: v2, ...}` with distinct keys.
    pub(crate) fn from_fields(fields: &[(&str, &'e Value)], trie: &PathTrie) -> Self {
        let stack = fields
            .iter()
            .filter_map(|&(key, value)| {
                trie.step(0, key).map(|node| Item {
                    value,
                    node,
                    mem_len: 0,
                    elem: None,
                })
            })
            .collect();
        Self::from_stack(stack, trie)
    }

    fn from_stack(mut stack: Vec<Item<'e>>, trie: &PathTrie) -> Self {
        let mut flat = FlatEvent {
            leaves: Vec::new(),
            arena: Vec::new(),
            groups: Vec::new(),
        };
        let mut membership: Vec<(u32, u32)> = Vec::new();
        let mut next_array: u32 = 0;
        while let Some(item) = stack.pop() {
            // Restore the parent's membership, then step into this item.
            membership.truncate(item.mem_len);
            if let Some(e) = item.elem {
                membership.push(e);
            }
            match item.value {
                // No referenced path goes below this node: skip the keys.
                Value::Object(_) if !trie.has_children(item.node) => {}
                Value::Object(map) => {
                    for (k, v) in map {
                        if let Some(node) = trie.step(item.node, k) {
                            stack.push(Item {
                                value: v,
                                node,
                                mem_len: membership.len(),
                                elem: None,
                            });
                        }
                    }
                }
                Value::Array(items) => {
                    let id = next_array;
                    next_array += 1;
                    for (i, v) in items.iter().enumerate() {
                        stack.push(Item {
                            value: v,
                            node: item.node,
                            mem_len: membership.len(),
                            elem: Some((id, to_u32(i))),
                        });
                    }
                }
                scalar => {
                    let start = to_u32(flat.arena.len());
                    flat.arena.extend_from_slice(&membership);
                    flat.leaves.push(Leaf {
                        node: item.node,
                        value: scalar,
                        mem: (start, to_u32(flat.arena.len())),
                    });
                }
            }
        }
        flat.leaves.sort_by_key(|l| l.node);
        let mut start = 0;
        for i in 1..=flat.leaves.len() {
            if i == flat.leaves.len() || flat.leaves[i].node != flat.leaves[start].node {
                flat.groups
                    .push((flat.leaves[start].node, to_u32(start), to_u32(i)));
                start = i;
            }
        }
        flat
    }

    /// Leaf ids at a path node (empty when the field is absent).
    pub(crate) fn leaves_at(&self, node: Node) -> Range<u32> {
        match self.groups.binary_search_by_key(&node, |g| g.0) {
            Ok(i) => self.groups[i].1..self.groups[i].2,
            Err(_) => 0..0,
        }
    }

    /// The scalar value of a leaf.
    pub(crate) fn value(&self, leaf: u32) -> &'e Value {
        self.leaves[leaf as usize].value
    }

    /// (array id, element index) for every array enclosing the leaf.
    pub(crate) fn membership(&self, leaf: u32) -> &[(u32, u32)] {
        let (s, e) = self.leaves[leaf as usize].mem;
        &self.arena[s as usize..e as usize]
    }

    /// Every (node, leaf ids) group present in the event.
    pub(crate) fn groups(&self) -> impl Iterator<Item = (Node, Range<u32>)> + '_ {
        self.groups.iter().map(|&(n, s, e)| (n, s..e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattens_with_membership() {
        let ev =
            json!({"a": {"b": 1, "c.d": [2, {"e": 3}]}, "x": [], "y": {}, "z": 1, "": {"q": 4}});
        let mut trie = PathTrie::default();
        let [ab, acd, acde, x, q] = ["a.b", "a.c.d", "a.c.d.e", "x", "q"].map(|p| trie.insert(p));
        let f = FlatEvent::new(&ev, &trie);
        assert_eq!(f.leaves_at(ab).len(), 1);
        assert_eq!(f.leaves_at(acd).len(), 1);
        let e = f.leaves_at(acde).start;
        assert_eq!(f.membership(e).len(), 1);
        assert!(f.leaves_at(x).is_empty());
        // `{"": {"q": 4}}` joins to the path "q".
        assert_eq!(f.leaves_at(q).len(), 1);
        assert_eq!(f.groups().count(), 4, "z is not referenced, so skipped");
    }
}
