//! Plugin fixtures: recorded events and the findings a plugin must raise for them, run
//! through the real host (normalise, route by the plugin's patterns, run the component).
//!
//! A fixture file is one JSON object:
//! `{"name": "...", "events": [<records in any shape replay reads>], "findings": [<subsets>]}`.
//! Each expected finding lists a subset of the fields `rule_id`, `severity`, `title`,
//! `description`, `resources`, `dedup_key`, `event_id`, `context`; the plugin must raise
//! exactly as many findings as are listed, each matching one expected entry.

use std::path::Path;

use anyhow::{Context, Result};
use cloudtrail_normalize::{normalize_value, Item, Options};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::pipeline::to_wit_event;
use crate::router::Router;
use crate::runtime::{Finding, LoadedPlugin, PluginRuntime};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    pub name: String,
    pub events: Vec<Value>,
    pub findings: Vec<serde_json::Map<String, Value>>,
}

impl Fixture {
    /// # Errors
    /// The file cannot be read or is not a fixture.
    pub fn load(path: &Path) -> Result<Fixture> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read fixture {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("invalid fixture {}", path.display()))
    }
}

/// What running a fixture showed.
#[derive(Debug)]
pub struct FixtureOutcome {
    pub name: String,
    /// Empty when the fixture passed; otherwise one line per difference.
    pub differences: Vec<String>,
    pub findings: Vec<Value>,
}

impl FixtureOutcome {
    pub fn passed(&self) -> bool {
        self.differences.is_empty()
    }
}

/// A finding as the JSON object fixtures compare against.
pub fn finding_json(finding: &Finding) -> Value {
    json!({
        "rule_id": finding.rule_id,
        "severity": finding.severity.as_str(),
        "title": finding.title,
        "description": finding.description,
        "resources": finding.resources,
        "dedup_key": finding.dedup_key,
        "event_id": finding.event_id,
        "context": serde_json::from_str::<Value>(&finding.context).unwrap_or(Value::Null),
    })
}

/// The findings `plugin` raises for `events`, routed by its patterns as in production.
///
/// # Errors
/// An event is not a CloudTrail event the host can normalise, or the plugin fails.
pub fn findings_for(
    runtime: &PluginRuntime,
    plugin: &LoadedPlugin,
    events: &[Value],
) -> Result<Vec<Finding>> {
    let router = Router::new([plugin.patterns.as_slice()])?;
    let mut batch = Vec::new();
    for event in events {
        for item in normalize_value(event.clone(), &Options::default()) {
            match item {
                Item::Event(event) => {
                    if !router.route(&event.envelope()).is_empty() {
                        batch.push(to_wit_event(&event));
                    }
                }
                Item::Skipped { .. } => {}
                Item::Rejected { reason, detail, .. } => {
                    anyhow::bail!("fixture event rejected ({}): {detail}", reason.as_str())
                }
            }
        }
    }
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    plugin
        .handle(runtime, &batch, 0)
        .map_err(|f| anyhow::anyhow!("plugin failed ({}): {}", f.kind.as_str(), f.message))
}

/// Runs one fixture and compares what the plugin raised with what the fixture expects.
pub fn run(runtime: &PluginRuntime, plugin: &LoadedPlugin, fixture: &Fixture) -> FixtureOutcome {
    let (findings, mut differences) = match findings_for(runtime, plugin, &fixture.events) {
        Ok(findings) => (findings.iter().map(finding_json).collect(), Vec::new()),
        Err(e) => (Vec::new(), vec![format!("{e:#}")]),
    };
    if differences.is_empty() {
        differences = compare(&fixture.findings, &findings);
    }
    FixtureOutcome {
        name: fixture.name.clone(),
        differences,
        findings,
    }
}

/// Pairs each expected subset with one actual finding; lists what is left on either side.
fn compare(expected: &[serde_json::Map<String, Value>], actual: &[Value]) -> Vec<String> {
    let mut used = vec![false; actual.len()];
    let mut differences = Vec::new();
    for want in expected {
        let found = actual.iter().enumerate().position(|(i, have)| {
            !used[i] && want.iter().all(|(key, value)| have.get(key) == Some(value))
        });
        match found {
            Some(i) => used[i] = true,
            None => differences.push(format!("- expected, not raised: {}", Value::Object(want.clone()))),
        }
    }
    for (have, _) in actual.iter().zip(&used).filter(|(_, used)| !**used) {
        differences.push(format!(
            "+ raised, not expected: {}",
            json!({"rule_id": have["rule_id"], "severity": have["severity"],
                   "event_id": have["event_id"], "title": have["title"]})
        ));
    }
    differences
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subset(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn subsets_pair_one_to_one() {
        let actual = vec![
            json!({"rule_id": "a", "severity": "high", "event_id": "1"}),
            json!({"rule_id": "a", "severity": "high", "event_id": "2"}),
        ];
        let one = vec![subset(json!({"rule_id": "a"}))];
        assert_eq!(compare(&one, &actual).len(), 1, "one finding too many");
        let two = vec![subset(json!({"rule_id": "a"})), subset(json!({"event_id": "2"}))];
        assert!(compare(&two, &actual).is_empty());
        let wrong = vec![subset(json!({"rule_id": "b"})), subset(json!({"rule_id": "a"}))];
        let diff = compare(&wrong, &actual);
        assert!(diff[0].starts_with("- expected"), "{diff:?}");
        assert!(diff[1].starts_with("+ raised"), "{diff:?}");
    }
}
