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

/// No state: what a responder that set [`crate::Responder::STATE`] to `false` gets. Any use
/// is a bug in that plugin, so it panics (in a component: the batch fails as a trap, and
/// is counted), rather than quietly forgetting what the plugin meant to keep.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoState;

impl NoState {
    fn refuse(&self) -> ! {
        panic!("this plugin declared `state: false` (Responder::STATE), so it has no state")
    }
}

impl State for NoState {
    fn get(&self, _key: &str) -> Option<String> {
        self.refuse()
    }

    fn set(&self, _key: &str, _value: &str, _ttl_seconds: Option<u32>) {
        self.refuse()
    }

    fn delete(&self, _key: &str) {
        self.refuse()
    }

    fn increment(&self, _key: &str, _delta: i64, _ttl_seconds: Option<u32>) -> i64 {
        self.refuse()
    }
}

/// The state a native test gives responder `R`: a fresh [`MemoryState`], or [`NoState`] if
/// it declared none (so a test fails where the component would).
pub fn for_tests<R: crate::Responder>() -> Box<dyn State> {
    if R::STATE {
        Box::new(MemoryState::new())
    } else {
        Box::new(NoState)
    }
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

/// A [`State`] that remembers, for one batch, what it read through `inner`: a key read
/// again (a notification window checked for every finding with one dedup key, say) is
/// answered without a call to the host. A write of a key (`set`, `delete`, `increment`)
/// goes to `inner` and forgets the key, so the next read asks `inner` again, which
/// applies its TTL and quota rules. Made per batch: within one, the host's clock stands
/// still and no other batch of the plugin runs, so an answer stays true for the batch.
/// Holds at most [`ReadCache::MAX_BYTES`] of keys and values; past that, reads pass through.
pub struct ReadCache<'a> {
    inner: &'a dyn State,
    read: RefCell<HashMap<String, Option<String>>>,
    bytes: Cell<usize>,
}

impl<'a> ReadCache<'a> {
    /// What it keeps at most (keys and values): a plugin's memory is bounded by the host.
    pub const MAX_BYTES: usize = 256 * 1024;

    pub fn new(inner: &'a dyn State) -> Self {
        ReadCache {
            inner,
            read: RefCell::new(HashMap::new()),
            bytes: Cell::new(0),
        }
    }

    fn forget(&self, key: &str) {
        if let Some(value) = self.read.borrow_mut().remove(key) {
            let size = key.len() + value.map_or(0, |v| v.len());
            self.bytes.set(self.bytes.get() - size);
        }
    }
}

impl State for ReadCache<'_> {
    fn get(&self, key: &str) -> Option<String> {
        if let Some(value) = self.read.borrow().get(key) {
            return value.clone();
        }
        let value = self.inner.get(key);
        let size = key.len() + value.as_ref().map_or(0, String::len);
        if self.bytes.get() + size <= Self::MAX_BYTES {
            self.bytes.set(self.bytes.get() + size);
            self.read.borrow_mut().insert(key.to_owned(), value.clone());
        }
        value
    }

    fn set(&self, key: &str, value: &str, ttl_seconds: Option<u32>) {
        self.forget(key);
        self.inner.set(key, value, ttl_seconds);
    }

    fn delete(&self, key: &str) {
        self.forget(key);
        self.inner.delete(key);
    }

    fn increment(&self, key: &str, delta: i64, ttl_seconds: Option<u32>) -> i64 {
        self.forget(key);
        self.inner.increment(key, delta, ttl_seconds)
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

    /// Counts the reads that reach it.
    struct Counted {
        inner: MemoryState,
        reads: Cell<usize>,
    }

    impl State for Counted {
        fn get(&self, key: &str) -> Option<String> {
            self.reads.set(self.reads.get() + 1);
            self.inner.get(key)
        }
        fn set(&self, key: &str, value: &str, ttl_seconds: Option<u32>) {
            self.inner.set(key, value, ttl_seconds);
        }
        fn delete(&self, key: &str) {
            self.inner.delete(key);
        }
        fn increment(&self, key: &str, delta: i64, ttl_seconds: Option<u32>) -> i64 {
            self.inner.increment(key, delta, ttl_seconds)
        }
    }

    fn counted() -> Counted {
        Counted {
            inner: MemoryState::new(),
            reads: Cell::new(0),
        }
    }

    #[test]
    fn a_read_cache_answers_repeated_reads_itself_and_rereads_after_a_write() {
        let host = counted();
        host.inner.set("kept", "1", None);
        let cache = ReadCache::new(&host);
        for _ in 0..3 {
            assert_eq!(cache.get("kept").as_deref(), Some("1"));
            assert_eq!(cache.get("absent"), None);
        }
        assert_eq!(host.reads.get(), 2, "one read per key reaches the host");
        // Every kind of write is read again from the host, which has the last word.
        cache.set("absent", "now", Some(0));
        assert_eq!(
            cache.get("absent").as_deref(),
            host.inner.get("absent").as_deref()
        );
        cache.delete("kept");
        assert_eq!(cache.get("kept"), None);
        assert_eq!(cache.increment("kept", 2, None), 2);
        assert_eq!(cache.get("kept").as_deref(), Some("2"));
        assert_eq!(host.reads.get(), 5);
        assert_eq!(cache.get("kept").as_deref(), Some("2"));
        assert_eq!(host.reads.get(), 5);
    }

    #[test]
    fn a_read_cache_stops_keeping_past_its_bound() {
        let host = counted();
        let big = "x".repeat(ReadCache::MAX_BYTES / 2);
        host.inner.set("a", &big, None);
        host.inner.set("b", &big, None);
        let cache = ReadCache::new(&host);
        for _ in 0..2 {
            assert_eq!(cache.get("a").as_deref(), Some(big.as_str()));
            assert_eq!(cache.get("b").as_deref(), Some(big.as_str()));
        }
        // `a` fits and is kept; `b` would pass the bound, so each read of it reaches the host.
        assert_eq!(host.reads.get(), 3);
        cache.set("a", "small", None);
        assert_eq!(cache.get("b").as_deref(), Some(big.as_str()));
        assert_eq!(cache.get("b").as_deref(), Some(big.as_str()));
        assert_eq!(host.reads.get(), 4, "forgetting `a` made room for `b`");
    }
}
