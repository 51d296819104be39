//! Per-plugin key-value state with TTL, mirroring the WIT `state` interface.
//!
//! Plugins hold nothing durable in their own memory (an instance can be dropped at any time):
//! counters, windows and dedup marks go through a [`State`]. In a component that is
//! [`crate::component::HostState`], which calls the host; in native tests it is
//! [`MemoryState`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// The host's per-plugin key-value store.
pub trait State {
    /// The value of `key`, if set and not expired.
    fn get(&self, key: &str) -> Option<String>;
    /// Sets `key`; `ttl_seconds` of `None` keeps it until deleted.
    fn set(&self, key: &str, value: &str, ttl_seconds: Option<u32>);
    fn delete(&self, key: &str);
    /// Adds `delta` to the integer at `key` (0 when absent, expired or not an integer) and
    /// returns the sum. A new key gets `ttl_seconds`; an existing key keeps its expiry, so a
    /// window is fixed from its first event.
    fn increment(&self, key: &str, delta: i64, ttl_seconds: Option<u32>) -> i64;
}

/// An in-memory [`State`] for native tests, with a manual clock ([`MemoryState::advance`]).
#[derive(Debug, Default)]
pub struct MemoryState {
    now: Cell<u64>,
    entries: RefCell<HashMap<String, (String, Option<u64>)>>,
}

impl MemoryState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward, expiring keys whose TTL has passed.
    pub fn advance(&self, seconds: u64) {
        self.now.set(self.now.get().saturating_add(seconds));
    }

    /// The number of live (not expired) keys.
    pub fn len(&self) -> usize {
        let now = self.now.get();
        self.entries
            .borrow()
            .values()
            .filter(|(_, exp)| exp.is_none_or(|e| e > now))
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn expiry(&self, ttl: Option<u32>) -> Option<u64> {
        ttl.map(|t| self.now.get().saturating_add(u64::from(t)))
    }

    fn live(&self, key: &str) -> Option<(String, Option<u64>)> {
        let now = self.now.get();
        let mut entries = self.entries.borrow_mut();
        match entries.get(key) {
            Some((_, Some(exp))) if *exp <= now => {
                entries.remove(key);
                None
            }
            other => other.cloned(),
        }
    }
}

impl State for MemoryState {
    fn get(&self, key: &str) -> Option<String> {
        self.live(key).map(|(v, _)| v)
    }

    fn set(&self, key: &str, value: &str, ttl_seconds: Option<u32>) {
        let exp = self.expiry(ttl_seconds);
        self.entries
            .borrow_mut()
            .insert(key.to_owned(), (value.to_owned(), exp));
    }

    fn delete(&self, key: &str) {
        self.entries.borrow_mut().remove(key);
    }

    fn increment(&self, key: &str, delta: i64, ttl_seconds: Option<u32>) -> i64 {
        let (current, exp) = match self.live(key) {
            Some((v, exp)) => (v.parse::<i64>().unwrap_or(0), exp),
            None => (0, self.expiry(ttl_seconds)),
        };
        let sum = current.saturating_add(delta);
        self.entries
            .borrow_mut()
            .insert(key.to_owned(), (sum.to_string(), exp));
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_and_increment_window() {
        let s = MemoryState::new();
        s.set("a", "1", Some(10));
        s.set("b", "2", None);
        assert_eq!(s.get("a").as_deref(), Some("1"));
        assert_eq!(s.increment("n", 2, Some(5)), 2);
        s.advance(3);
        // An existing key keeps its expiry: the window is fixed from the first event.
        assert_eq!(s.increment("n", 3, Some(100)), 5);
        s.advance(2);
        assert_eq!(s.get("n"), None);
        assert_eq!(s.increment("n", 1, None), 1);
        s.advance(5);
        assert_eq!(s.get("a"), None);
        assert_eq!(s.get("b").as_deref(), Some("2"));
        s.delete("b");
        assert_eq!(s.get("b"), None);
        assert_eq!(s.len(), 1);
    }
}
