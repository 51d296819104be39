//! First-seen detection kept by the host (WIT 0.4.0 `history`): "has this principal ever
//! called this API, from this network, in this region?" without holding anything in the
//! plugin. In a component it is [`crate::component::HostHistory`]; in native tests
//! [`MemoryHistory`].
//!
//! A responder that asks its history sets [`crate::Responder::HISTORY`] and implements
//! [`crate::Responder::handle_with_history`]; only then does its component import `history`
//! (so every other plugin stays a 0.3.0 component).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// One question: was `values` seen for `rule` in `account` within `window_seconds`?
#[derive(Debug, Clone, Copy)]
pub struct SeenQuery<'a> {
    /// The account the event happened in: its learning period applies.
    pub account: &'a str,
    /// The rule asking (tuples of different rules never meet).
    pub rule: &'a str,
    /// The tuple, e.g. `[principal arn, event name]`: 1 to 8 values, 1 KiB with the rule.
    pub values: &'a [&'a str],
    /// How long a tuple is remembered after it was last seen (at most 400 days).
    pub window_seconds: u32,
    /// How long after the plugin first sees an account nothing there is new (at most 400
    /// days), so a new deployment does not alert on everything.
    pub learning_seconds: u32,
}

/// The host's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenInfo {
    /// Not seen within the window, outside the learning period: alert on this.
    pub new: bool,
    /// The account is in its learning period (`new` is then false).
    pub learning: bool,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Times seen within the window, this one included.
    pub count: u64,
}

/// Why the host did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryError {
    /// Input over its limits, or no history in this host (a plugin run without it).
    Invalid(String),
    /// The plugin's history has seen as many accounts as it may.
    QuotaExceeded(String),
}

impl std::fmt::Display for HistoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HistoryError::Invalid(text) => write!(f, "invalid history question: {text}"),
            HistoryError::QuotaExceeded(text) => f.write_str(text),
        }
    }
}

/// The host's first-seen history of this plugin.
pub trait History {
    /// Records a sighting of the tuple now (the host's event clock) and says whether it is new.
    ///
    /// # Errors
    /// See [`HistoryError`].
    fn first_seen(&self, query: &SeenQuery<'_>) -> Result<SeenInfo, HistoryError>;
}

/// No history: every question is refused. What a responder's `handle` gets when its
/// [`crate::Responder::HISTORY`] is false.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHistory;

impl History for NoHistory {
    fn first_seen(&self, _query: &SeenQuery<'_>) -> Result<SeenInfo, HistoryError> {
        Err(HistoryError::Invalid(
            "this plugin did not set Responder::HISTORY, so it has no history".into(),
        ))
    }
}

/// (rule, values) -> (first seen, last seen, count).
type Sightings = HashMap<(String, Vec<String>), (i64, i64, u64)>;

/// An in-memory [`History`] for native tests, with a manual clock ([`MemoryHistory::advance`]),
/// answering as the host does (window on last sighting, learning period per account from its
/// first question). Unbounded: tests only.
#[derive(Debug, Default)]
pub struct MemoryHistory {
    now: Cell<i64>,
    accounts: RefCell<HashMap<String, i64>>,
    tuples: RefCell<Sightings>,
}

impl MemoryHistory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward.
    pub fn advance(&self, seconds: i64) {
        self.now.set(self.now.get().saturating_add(seconds));
    }
}

impl History for MemoryHistory {
    fn first_seen(&self, query: &SeenQuery<'_>) -> Result<SeenInfo, HistoryError> {
        if query.values.is_empty() || query.window_seconds == 0 {
            return Err(HistoryError::Invalid(
                "a tuple needs a value and a window".into(),
            ));
        }
        let now = self.now.get();
        let since = *self
            .accounts
            .borrow_mut()
            .entry(query.account.to_owned())
            .or_insert(now);
        let learning = now < since + i64::from(query.learning_seconds);
        let key = (
            query.rule.to_owned(),
            query.values.iter().map(|v| (*v).to_owned()).collect(),
        );
        let mut tuples = self.tuples.borrow_mut();
        let known = tuples
            .get(&key)
            .copied()
            .filter(|(_, last, _)| last + i64::from(query.window_seconds) > now);
        Ok(match known {
            Some((first, last, count)) => {
                tuples.insert(key, (first, last.max(now), count + 1));
                SeenInfo {
                    new: false,
                    learning,
                    first_seen: first,
                    last_seen: last,
                    count: count + 1,
                }
            }
            None => {
                tuples.insert(key, (now, now, 1));
                SeenInfo {
                    new: !learning,
                    learning,
                    first_seen: now,
                    last_seen: now,
                    count: 1,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_once_and_not_while_learning() {
        let h = MemoryHistory::new();
        let q = |values: &'static [&'static str], learning| SeenQuery {
            account: "1",
            rule: "r",
            values,
            window_seconds: 100,
            learning_seconds: learning,
        };
        assert!(h.first_seen(&q(&["a"], 10)).unwrap().learning);
        h.advance(10);
        assert!(h.first_seen(&q(&["b"], 10)).unwrap().new);
        assert!(!h.first_seen(&q(&["b"], 10)).unwrap().new);
        assert!(!h.first_seen(&q(&["a"], 10)).unwrap().new);
        h.advance(200);
        assert!(h.first_seen(&q(&["a"], 10)).unwrap().new);
    }
}
