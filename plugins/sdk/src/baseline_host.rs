//! The host's rate baselines (WIT 0.5.0 `baseline`) as a [`crate::Baseline`] (wasm32 only).
//! Referenced only when a responder sets [`crate::Responder::BASELINE`], so only then does
//! its component import `baseline`.

use crate::component::bindings::trailwarden::plugin0_4_0::history::HistoryError as WitError;
use crate::component::bindings::trailwarden::plugin0_5_0::baseline as wit_baseline;

/// The host's rate baselines of this plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostBaseline;

impl crate::Baseline for HostBaseline {
    fn rate(&self, query: &crate::RateQuery<'_>) -> Result<crate::RateInfo, crate::HistoryError> {
        let key: Vec<String> = query.key.iter().map(|v| (*v).to_owned()).collect();
        wit_baseline::rate(
            query.account,
            query.rule,
            &key,
            query.history_seconds,
            query.learning_seconds,
            query.threshold,
            query.min_count,
        )
        .map(|info| crate::RateInfo {
            anomalous: info.anomalous,
            burst_start: info.burst_start,
            learning: info.learning,
            count: info.count,
            mean: info.mean,
            deviation: info.deviation,
            score: info.score,
        })
        .map_err(|error| match error {
            WitError::Invalid(text) => crate::HistoryError::Invalid(text),
            WitError::QuotaExceeded(text) => crate::HistoryError::QuotaExceeded(text),
        })
    }
}
