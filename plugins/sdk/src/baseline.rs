//! Rate baselines kept by the host (WIT 0.5.0 `baseline`): "is this principal calling at a
//! rate it never had?" without holding anything in the plugin. In a component it is
//! `baseline_host::HostBaseline`; in native tests [`MemoryBaseline`], which answers as
//! the host does (the same exponentially weighted mean and deviation per minute of event
//! time).
//!
//! A responder that asks its baselines sets [`crate::Responder::BASELINE`] and implements
//! [`crate::Responder::handle_with_baseline`]; only then does its component import `baseline`
//! (so every other plugin keeps the contract version it had).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::HistoryError;

/// One question: count a call of `key` for `rule` in `account` now, and compare its minute
/// with the key's own past.
#[derive(Debug, Clone, Copy)]
pub struct RateQuery<'a> {
    /// The account the event happened in.
    pub account: &'a str,
    /// The rule asking (keys of different rules never meet).
    pub rule: &'a str,
    /// The key, e.g. `[principal arn]`: 1 to 8 values, 1 KiB with the rule.
    pub key: &'a [&'a str],
    /// The baseline's time constant (1 hour to 400 days, e.g. 7 days).
    pub history_seconds: u32,
    /// How long after its first call a key is never anomalous (at most 400 days).
    pub learning_seconds: u32,
    /// Deviations above the mean that make a minute anomalous (positive).
    pub threshold: f64,
    /// Calls the minute must hold to be anomalous.
    pub min_count: u32,
}

/// The host's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateInfo {
    /// The current minute is anomalous (see [`RateQuery::threshold`]).
    pub anomalous: bool,
    /// The first anomalous answer of this incident: alert on this one, once per burst.
    pub burst_start: bool,
    /// The key is in its learning period (`anomalous` is then false).
    pub learning: bool,
    /// Calls of the key in the current minute, this one included.
    pub count: u64,
    /// The key's mean and deviation of calls per minute before this minute.
    pub mean: f64,
    pub deviation: f64,
    /// `(count - mean) / max(deviation, 1)`.
    pub score: f64,
}

/// The host's rate baselines of this plugin.
pub trait Baseline {
    /// Counts one call of the key now (the host's event clock) and compares its minute with
    /// the key's baseline.
    ///
    /// # Errors
    /// See [`HistoryError`]: input over its limits, or no baselines in this host.
    fn rate(&self, query: &RateQuery<'_>) -> Result<RateInfo, HistoryError>;
}

/// No baselines: every question is refused. What a responder's `handle_with_baseline` gets
/// when its [`crate::Responder::BASELINE`] is false.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBaseline;

impl Baseline for NoBaseline {
    fn rate(&self, _query: &RateQuery<'_>) -> Result<RateInfo, HistoryError> {
        Err(HistoryError::Invalid(
            "this plugin did not set Responder::BASELINE, so it has no rate baselines".into(),
        ))
    }
}

/// The deviation never counts as less than one call a minute (as in the host).
const MIN_DEVIATION: f64 = 1.0;

#[derive(Debug, Clone, Copy)]
struct KeyRate {
    first_seen: i64,
    minute: i64,
    count: u64,
    mean: f64,
    variance: f64,
    weight: f64,
    in_burst: bool,
}

impl KeyRate {
    fn baseline(&self) -> (f64, f64) {
        if self.weight <= 0.0 {
            return (0.0, 0.0);
        }
        (
            self.mean / self.weight,
            (self.variance.max(0.0) / self.weight).sqrt(),
        )
    }

    fn advance_to(&mut self, minute: i64, alpha: f64, threshold: f64, min_count: u32) {
        if minute <= self.minute {
            return;
        }
        let (mean, deviation) = self.baseline();
        if self.in_burst
            && !(score(self.count, mean, deviation) >= threshold
                && self.count >= u64::from(min_count))
        {
            self.in_burst = false;
        }
        let diff = self.count as f64 - self.mean;
        let increment = alpha * diff;
        self.mean += increment;
        self.variance = (1.0 - alpha) * (self.variance + diff * increment);
        self.weight = (1.0 - alpha) * self.weight + alpha;
        let quiet = minute - self.minute - 1;
        if quiet > 0 {
            let decay = (1.0 - alpha).powf(quiet as f64);
            self.variance = decay * (self.variance + self.mean * self.mean * (1.0 - decay));
            self.mean *= decay;
            self.weight = 1.0 - decay * (1.0 - self.weight);
            self.in_burst = false;
        }
        self.minute = minute;
        self.count = 0;
    }
}

fn score(count: u64, mean: f64, deviation: f64) -> f64 {
    (count as f64 - mean) / deviation.max(MIN_DEVIATION)
}

/// (account, rule, key) -> the key's rate.
type Keys = HashMap<(String, String, Vec<String>), KeyRate>;

/// An in-memory [`Baseline`] for native tests, with a manual clock
/// ([`MemoryBaseline::advance`]), answering as the host does. Unbounded: tests only.
#[derive(Debug, Default)]
pub struct MemoryBaseline {
    now: Cell<i64>,
    keys: RefCell<Keys>,
}

impl MemoryBaseline {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward.
    pub fn advance(&self, seconds: i64) {
        self.now.set(self.now.get().saturating_add(seconds));
    }
}

impl Baseline for MemoryBaseline {
    fn rate(&self, query: &RateQuery<'_>) -> Result<RateInfo, HistoryError> {
        if query.key.is_empty()
            || query.history_seconds < 3_600
            || !(query.threshold.is_finite() && query.threshold > 0.0)
        {
            return Err(HistoryError::Invalid(
                "a rate needs a key, a history of an hour or more and a positive threshold".into(),
            ));
        }
        let now = self.now.get();
        let minute = now.div_euclid(60);
        let alpha = 60.0 / f64::from(query.history_seconds);
        let id = (
            query.account.to_owned(),
            query.rule.to_owned(),
            query.key.iter().map(|v| (*v).to_owned()).collect(),
        );
        let mut keys = self.keys.borrow_mut();
        let rate = keys.entry(id).or_insert(KeyRate {
            first_seen: now,
            minute,
            count: 0,
            mean: 0.0,
            variance: 0.0,
            weight: 0.0,
            in_burst: false,
        });
        rate.advance_to(minute, alpha, query.threshold, query.min_count);
        rate.count += 1;
        let (mean, deviation) = rate.baseline();
        let score = score(rate.count, mean, deviation);
        let learning = now < rate.first_seen + i64::from(query.learning_seconds);
        let anomalous =
            !learning && score >= query.threshold && rate.count >= u64::from(query.min_count);
        let burst_start = anomalous && !rate.in_burst;
        if anomalous {
            rate.in_burst = true;
        }
        Ok(RateInfo {
            anomalous,
            burst_start,
            learning,
            count: rate.count,
            mean,
            deviation,
            score,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(learning_seconds: u32) -> RateQuery<'static> {
        RateQuery {
            account: "1",
            rule: "r",
            key: &["alice"],
            history_seconds: 7 * 86_400,
            learning_seconds,
            threshold: 5.0,
            min_count: 10,
        }
    }

    #[test]
    fn a_burst_starts_once_and_learning_never_alerts() {
        let b = MemoryBaseline::new();
        // A quiet history of one call a minute for a day, learnt.
        for _ in 0..1440 {
            let info = b.rate(&query(3_600)).unwrap();
            assert!(!info.anomalous);
            b.advance(60);
        }
        let starts: usize = (0..50)
            .map(|_| usize::from(b.rate(&query(3_600)).unwrap().burst_start))
            .sum();
        assert_eq!(starts, 1, "one burst, one start");
        // The next quiet minute ends the incident; a new burst starts again.
        b.advance(120);
        assert!(!b.rate(&query(3_600)).unwrap().anomalous);
        b.advance(60);
        let starts: usize = (0..50)
            .map(|_| usize::from(b.rate(&query(3_600)).unwrap().burst_start))
            .sum();
        assert_eq!(starts, 1);

        let fresh = MemoryBaseline::new();
        let any = (0..50).any(|_| fresh.rate(&query(86_400)).unwrap().anomalous);
        assert!(!any, "a key in its learning period is never anomalous");
    }
}
