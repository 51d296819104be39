//! The log's periodic one-line summary: what the daemon took in, found and did in the last
//! interval, so an operator tailing the log sees it is alive and what it is doing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::metrics::{Metrics, Totals};
use crate::respond::outbox::Outbox;

/// What the summary compares from one interval to the next.
#[derive(Default)]
struct Snapshot {
    totals: Totals,
    actions: u64,
    actions_failed: u64,
}

fn snapshot(metrics: &Metrics, outbox: &Outbox) -> Snapshot {
    let counts: BTreeMap<String, u64> = outbox.status_counts().unwrap_or_else(|e| {
        tracing::debug!("summary: cannot count actions: {e:#}");
        BTreeMap::new()
    });
    Snapshot {
        totals: metrics.totals(),
        actions: counts.values().sum(),
        actions_failed: counts.get("failed").copied().unwrap_or(0),
    }
}

/// The summary line of one interval.
fn line(interval: Duration, before: &Snapshot, now: &Snapshot) -> String {
    let d = |a: u64, b: u64| a.saturating_sub(b);
    format!(
        "last {}: {} events ({} accepted, {} rejected), {} findings, {} actions ({} failed), {} plugin failures",
        humantime::format_duration(interval),
        d(now.totals.received, before.totals.received),
        d(now.totals.accepted, before.totals.accepted),
        d(now.totals.rejected, before.totals.rejected),
        d(now.totals.findings, before.totals.findings),
        d(now.actions, before.actions),
        d(now.actions_failed, before.actions_failed),
        d(now.totals.plugin_failures, before.totals.plugin_failures),
    )
}

/// Logs a summary line every `interval` until `stop` turns true.
pub async fn run(
    interval: Duration,
    metrics: Arc<Metrics>,
    outbox: Outbox,
    mut stop: watch::Receiver<bool>,
) {
    let mut before = snapshot(&metrics, &outbox);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let now = snapshot(&metrics, &outbox);
        tracing::info!("{}", line(interval, &before, &now));
        before = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_the_interval_not_the_totals() {
        let before = Snapshot {
            totals: Totals {
                received: 10,
                accepted: 8,
                rejected: 2,
                findings: 3,
                plugin_failures: 0,
            },
            actions: 1,
            actions_failed: 0,
        };
        let now = Snapshot {
            totals: Totals {
                received: 15,
                accepted: 12,
                rejected: 3,
                findings: 5,
                plugin_failures: 1,
            },
            actions: 3,
            actions_failed: 1,
        };
        assert_eq!(
            line(Duration::from_secs(60), &before, &now),
            "last 1m: 5 events (4 accepted, 1 rejected), 2 findings, 2 actions (1 failed), 1 plugin failures"
        );
    }
}
