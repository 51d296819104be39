//! The daemon's counters, served at `/metrics` in the Prometheus text format (0.0.4).
//!
//! Updated from the intake tasks and the pipeline thread; one mutex, taken for a few
//! map updates at a time (per batch, never per byte). Outside `daemon` because the
//! console, which the daemon starts, reads them too.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use crate::intake::Outcome;

/// Upper bounds (seconds) of the plugin batch latency histogram.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Where events came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Http,
    Sqs,
    S3,
    Replay,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Http => "http",
            Source::Sqs => "sqs",
            Source::S3 => "s3",
            Source::Replay => "replay",
        }
    }
}

#[derive(Default)]
struct Histogram {
    /// Count per bucket (not cumulative); the last is +Inf.
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; LATENCY_BUCKETS.len() + 1];
        }
        let index = LATENCY_BUCKETS
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[index] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Default)]
struct Inner {
    /// Items taken in (events, skips and rejects), by source.
    received: BTreeMap<&'static str, u64>,
    accepted: BTreeMap<&'static str, u64>,
    skipped: BTreeMap<String, u64>,
    rejected: BTreeMap<String, u64>,
    /// Events whose id was seen with other content, processed anyway.
    dedup_conflicts: u64,
    /// HTTP requests answered, by status code.
    http_responses: BTreeMap<u16, u64>,
    /// Requests refused before their events were read, by reason.
    http_refused: BTreeMap<&'static str, u64>,
    sqs_messages: BTreeMap<&'static str, u64>,
    s3_objects: BTreeMap<&'static str, u64>,
    invocations: BTreeMap<String, u64>,
    batch_events: BTreeMap<String, u64>,
    latency: BTreeMap<String, Histogram>,
    matched: BTreeMap<String, u64>,
    findings: BTreeMap<String, u64>,
    failures: BTreeMap<(String, String), u64>,
    flushes: u64,
    /// When each source last brought an item, for the console's health page.
    last_item: BTreeMap<&'static str, std::time::SystemTime>,
}

/// One plugin's activity since the daemon started.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PluginActivity {
    pub matched: u64,
    pub findings: u64,
    pub failures: u64,
    pub batches: u64,
    pub mean_batch_ms: Option<f64>,
}

/// Running totals since start, for the log's summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Items taken in: events, skips and rejects.
    pub received: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub findings: u64,
    pub plugin_failures: u64,
}

/// Every counter the daemon exports.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    /// The plugin versions serving now (set at start and after each reload), for the console.
    serving: Mutex<Vec<std::sync::Arc<crate::runtime::LoadedPlugin>>>,
    /// When the pipeline thread took up the unit of work it is on (ms since the epoch), 0
    /// while it waits for work: `/healthz` reads it to tell a stalled pipeline.
    busy_since_ms: std::sync::atomic::AtomicU64,
    /// Why the last flush could not be recorded, until a flush is: `/healthz` answers 503
    /// meanwhile, since the daemon refuses every batch while its database refuses writes.
    recording_failure: Mutex<Option<String>>,
}

impl Metrics {
    /// The pipeline thread starts (`true`) or ends (`false`) a unit of work.
    pub fn pipeline_busy(&self, busy: bool) {
        let now = if busy {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_millis() as u64)
                .max(1)
        } else {
            0
        };
        self.busy_since_ms
            .store(now, std::sync::atomic::Ordering::Relaxed);
    }

    /// The pipeline thread finished a flush: recorded (`None`) or not, and why.
    pub fn flush_result(&self, failure: Option<&str>) {
        *self
            .recording_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = failure.map(str::to_string);
    }

    /// Why the last flush could not be recorded, if it could not.
    pub fn recording_failure(&self) -> Option<String> {
        self.recording_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How long the pipeline thread has been on its current unit of work, if it is on one.
    pub fn pipeline_busy_for(&self) -> Option<std::time::Duration> {
        let since = self
            .busy_since_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        if since == 0 {
            return None;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Some(std::time::Duration::from_millis(now.saturating_sub(since)))
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn batch_taken(&self, source: Source, outcome: &Outcome) {
        let mut m = self.lock();
        if outcome.total() > 0 {
            m.last_item
                .insert(source.as_str(), std::time::SystemTime::now());
        }
        *m.received.entry(source.as_str()).or_default() += outcome.total();
        *m.accepted.entry(source.as_str()).or_default() += outcome.accepted;
        for (k, v) in &outcome.skipped {
            *m.skipped.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &outcome.rejected {
            *m.rejected.entry(k.clone()).or_default() += v;
        }
        m.dedup_conflicts += outcome.dedup_conflicts;
    }

    /// A rejection that happened outside the normaliser (e.g. a missing S3 object).
    pub fn rejected(&self, reason: &str) {
        *self.lock().rejected.entry(reason.to_string()).or_default() += 1;
    }

    pub fn http_response(&self, status: u16) {
        *self.lock().http_responses.entry(status).or_default() += 1;
    }

    pub fn http_refused(&self, reason: &'static str) {
        *self.lock().http_refused.entry(reason).or_default() += 1;
    }

    pub fn sqs_message(&self, outcome: &'static str) {
        *self.lock().sqs_messages.entry(outcome).or_default() += 1;
    }

    pub fn s3_object(&self, outcome: &'static str) {
        *self.lock().s3_objects.entry(outcome).or_default() += 1;
    }

    /// One plugin batch ran (or failed) in `elapsed`.
    pub fn plugin_batch(&self, plugin: &str, events: usize, elapsed: Duration) {
        let mut m = self.lock();
        *m.invocations.entry(plugin.to_string()).or_default() += 1;
        *m.batch_events.entry(plugin.to_string()).or_default() += events as u64;
        m.latency
            .entry(plugin.to_string())
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// The pipeline's running totals after a flush.
    pub fn pipeline_totals(&self, stats: &crate::pipeline::RunStats) {
        let mut m = self.lock();
        m.flushes += 1;
        m.matched = stats.matched.clone();
        m.findings = stats.findings.clone();
        m.failures = stats
            .plugin_failures
            .iter()
            .flat_map(|(plugin, kinds)| {
                kinds
                    .iter()
                    .map(move |(kind, n)| ((plugin.clone(), kind.clone()), *n))
            })
            .collect();
    }

    /// Records the plugin versions now serving.
    pub fn set_serving(&self, plugins: Vec<std::sync::Arc<crate::runtime::LoadedPlugin>>) {
        *self.serving.lock().unwrap_or_else(|e| e.into_inner()) = plugins;
    }

    /// The plugin versions serving now.
    pub fn serving(&self) -> Vec<std::sync::Arc<crate::runtime::LoadedPlugin>> {
        self.serving
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Per plugin since start: events matched, findings, failures (all kinds), batches run,
    /// and mean batch latency in milliseconds.
    pub fn plugin_activity(&self, plugin: &str) -> PluginActivity {
        let m = self.lock();
        let latency = m.latency.get(plugin);
        PluginActivity {
            matched: m.matched.get(plugin).copied().unwrap_or(0),
            findings: m.findings.get(plugin).copied().unwrap_or(0),
            failures: m
                .failures
                .iter()
                .filter(|((p, _), _)| p == plugin)
                .map(|(_, n)| n)
                .sum(),
            batches: m.invocations.get(plugin).copied().unwrap_or(0),
            mean_batch_ms: latency
                .filter(|h| h.count > 0)
                .map(|h| h.sum * 1000.0 / h.count as f64),
        }
    }

    /// When each source (`http`, `sqs`, `s3`) last brought an item, as RFC 3339.
    pub fn last_items(&self) -> BTreeMap<&'static str, String> {
        self.lock()
            .last_item
            .iter()
            .map(|(k, t)| (*k, humantime::format_rfc3339_seconds(*t).to_string()))
            .collect()
    }

    /// The running totals the log's periodic summary is made of.
    pub fn totals(&self) -> Totals {
        let m = self.lock();
        Totals {
            received: m.received.values().sum(),
            accepted: m.accepted.values().sum(),
            rejected: m.rejected.values().sum(),
            findings: m.findings.values().sum(),
            plugin_failures: m.failures.values().sum(),
        }
    }

    /// The Prometheus text exposition; `queue` is (events waiting, capacity).
    pub fn render(&self, queue: (usize, usize), plugins: &[String]) -> String {
        let m = self.lock();
        let mut out = String::new();
        let mut w = Writer { out: &mut out };
        w.family(
            "trailwarden_events_received_total",
            "counter",
            "Items taken in (events, skipped and rejected), by source.",
        );
        for source in [Source::Http, Source::Sqs, Source::S3, Source::Replay] {
            let n = m.received.get(source.as_str()).copied().unwrap_or(0);
            w.line(
                "trailwarden_events_received_total",
                &[("source", source.as_str())],
                n,
            );
        }
        w.family(
            "trailwarden_events_accepted_total",
            "counter",
            "Events handed to the pipeline (not duplicates), by source.",
        );
        for (source, n) in &m.accepted {
            w.line(
                "trailwarden_events_accepted_total",
                &[("source", source)],
                *n,
            );
        }
        w.family(
            "trailwarden_events_skipped_total",
            "counter",
            "Items understood and not processed, by reason (duplicate, insight_event, ...).",
        );
        for (reason, n) in &m.skipped {
            w.line(
                "trailwarden_events_skipped_total",
                &[("reason", reason)],
                *n,
            );
        }
        w.family(
            "trailwarden_events_rejected_total",
            "counter",
            "Bad input, dead-lettered in rejected_inputs, by reason.",
        );
        for (reason, n) in &m.rejected {
            w.line(
                "trailwarden_events_rejected_total",
                &[("reason", reason)],
                *n,
            );
        }
        w.family(
            "trailwarden_dedup_conflicts_total",
            "counter",
            "Events whose eventID was already seen with other content: processed, not skipped.",
        );
        let _ = writeln!(
            w.out,
            "trailwarden_dedup_conflicts_total {}",
            m.dedup_conflicts
        );
        w.family(
            "trailwarden_http_responses_total",
            "counter",
            "Answers of POST /v1/events, by status code.",
        );
        for (code, n) in &m.http_responses {
            w.line(
                "trailwarden_http_responses_total",
                &[("code", &code.to_string())],
                *n,
            );
        }
        w.family(
            "trailwarden_http_refused_total",
            "counter",
            "Requests refused before their events were taken in, by reason.",
        );
        for (reason, n) in &m.http_refused {
            w.line("trailwarden_http_refused_total", &[("reason", reason)], *n);
        }
        w.family(
            "trailwarden_sqs_messages_total",
            "counter",
            "SQS messages handled, by outcome (deleted, retried).",
        );
        for (outcome, n) in &m.sqs_messages {
            w.line(
                "trailwarden_sqs_messages_total",
                &[("outcome", outcome)],
                *n,
            );
        }
        w.family(
            "trailwarden_s3_objects_total",
            "counter",
            "S3 log files read, by outcome.",
        );
        for (outcome, n) in &m.s3_objects {
            w.line("trailwarden_s3_objects_total", &[("outcome", outcome)], *n);
        }
        w.family(
            "trailwarden_plugin_invocations_total",
            "counter",
            "Plugin batches run, per plugin.",
        );
        for plugin in plugins {
            let n = m.invocations.get(plugin).copied().unwrap_or(0);
            w.line(
                "trailwarden_plugin_invocations_total",
                &[("plugin", plugin)],
                n,
            );
        }
        w.family(
            "trailwarden_plugin_events_matched_total",
            "counter",
            "Events routed to each plugin by its patterns.",
        );
        for plugin in plugins {
            let n = m.matched.get(plugin).copied().unwrap_or(0);
            w.line(
                "trailwarden_plugin_events_matched_total",
                &[("plugin", plugin)],
                n,
            );
        }
        w.family(
            "trailwarden_plugin_findings_total",
            "counter",
            "Findings raised, per plugin (including ones already recorded).",
        );
        for plugin in plugins {
            let n = m.findings.get(plugin).copied().unwrap_or(0);
            w.line(
                "trailwarden_plugin_findings_total",
                &[("plugin", plugin)],
                n,
            );
        }
        w.family(
            "trailwarden_plugin_failures_total",
            "counter",
            "Failed plugin batches, per plugin and kind (timeout, memory_exhausted, trap, ...).",
        );
        for ((plugin, kind), n) in &m.failures {
            w.line(
                "trailwarden_plugin_failures_total",
                &[("plugin", plugin), ("kind", kind)],
                *n,
            );
        }
        w.family(
            "trailwarden_plugin_batch_seconds",
            "histogram",
            "Time to run one plugin batch (fresh instance, handle, findings out).",
        );
        for plugin in plugins {
            let empty = Histogram::default();
            let h = m.latency.get(plugin).unwrap_or(&empty);
            let mut cumulative = 0;
            for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
                cumulative += h.buckets.get(i).copied().unwrap_or(0);
                w.line(
                    "trailwarden_plugin_batch_seconds_bucket",
                    &[("plugin", plugin), ("le", &le.to_string())],
                    cumulative,
                );
            }
            w.line(
                "trailwarden_plugin_batch_seconds_bucket",
                &[("plugin", plugin), ("le", "+Inf")],
                h.count,
            );
            let _ = writeln!(
                w.out,
                "trailwarden_plugin_batch_seconds_sum{{plugin=\"{}\"}} {}",
                escape(plugin),
                h.sum
            );
            w.line(
                "trailwarden_plugin_batch_seconds_count",
                &[("plugin", plugin)],
                h.count,
            );
        }
        w.family(
            "trailwarden_queue_events",
            "gauge",
            "Events waiting between intake and the pipeline.",
        );
        let _ = writeln!(w.out, "trailwarden_queue_events {}", queue.0);
        w.family(
            "trailwarden_queue_capacity_events",
            "gauge",
            "Capacity of that queue; when full, HTTP answers 503 and SQS polling pauses.",
        );
        let _ = writeln!(w.out, "trailwarden_queue_capacity_events {}", queue.1);
        w.family(
            "trailwarden_pipeline_flushes_total",
            "counter",
            "Pipeline flushes (every partly filled plugin batch run).",
        );
        let _ = writeln!(w.out, "trailwarden_pipeline_flushes_total {}", m.flushes);
        out
    }
}

struct Writer<'a> {
    out: &'a mut String,
}

impl Writer<'_> {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn line(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        let _ = writeln!(self.out, "{name}{{{}}} {value}", labels.join(","));
    }
}

/// Label values escape backslash, double quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_every_family_and_cumulative_buckets() {
        let metrics = Metrics::default();
        let mut outcome = Outcome {
            accepted: 2,
            ..Default::default()
        };
        outcome.rejected.insert("invalid_json".into(), 1);
        metrics.batch_taken(Source::Http, &outcome);
        metrics.plugin_batch("root-usage", 2, Duration::from_millis(3));
        metrics.plugin_batch("root-usage", 1, Duration::from_millis(30));
        let text = metrics.render((1, 10), &["root-usage".to_string()]);
        for line in [
            "trailwarden_events_received_total{source=\"http\"} 3",
            "trailwarden_events_received_total{source=\"s3\"} 0",
            "trailwarden_events_rejected_total{reason=\"invalid_json\"} 1",
            "trailwarden_plugin_invocations_total{plugin=\"root-usage\"} 2",
            "trailwarden_plugin_batch_seconds_bucket{plugin=\"root-usage\",le=\"0.005\"} 1",
            "trailwarden_plugin_batch_seconds_bucket{plugin=\"root-usage\",le=\"0.05\"} 2",
            "trailwarden_plugin_batch_seconds_bucket{plugin=\"root-usage\",le=\"+Inf\"} 2",
            "trailwarden_plugin_batch_seconds_count{plugin=\"root-usage\"} 2",
            "trailwarden_queue_events 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
        }
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
