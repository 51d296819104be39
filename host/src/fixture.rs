//! Plugin fixtures: recorded events and the findings a plugin must raise for them, run
//! through the real host (normalise, route by the plugin's patterns, run the component).
//!
//! A fixture file is one JSON object:
//! `{"name": "...", "events": [<records in any shape replay reads>], "findings": [<subsets>]}`.
//! Each expected finding lists a subset of the fields `rule_id`, `severity`, `title`,
//! `description`, `resources`, `dedup_key`, `event_id`, `context`; the plugin must raise
//! exactly as many findings as are listed, each matching one expected entry.
//!
//! An optional `"actions"` list gives the capability calls expected, in order:
//! `{"capability": "iam.disable-access-key", "args": {<subset>}, "receipt": "accepted"}`;
//! capabilities are recorded, never executed, and each call is answered with the receipt
//! the fixture names (default `accepted`).

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use cloudtrail_normalize::{normalize_value, Item, Options};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::pipeline::to_plugin_event;
use crate::router::Router;
use crate::runtime::{
    CapabilityCall, CapabilityHandler, Finding, LoadedPlugin, PluginRuntime, Receipt,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    pub name: String,
    pub events: Vec<Value>,
    pub findings: Vec<serde_json::Map<String, Value>>,
    #[serde(default)]
    pub actions: Option<Vec<ExpectedAction>>,
    /// The plugin config the fixture runs with (a JSON object); see [`run_with_config`].
    #[serde(default)]
    pub config: Option<serde_json::Map<String, Value>>,
}

/// A capability call a fixture expects, and the receipt to answer it with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAction {
    pub capability: String,
    #[serde(default)]
    pub args: serde_json::Map<String, Value>,
    #[serde(default = "accepted")]
    pub receipt: String,
}

fn accepted() -> String {
    "accepted".to_string()
}

/// Records capability calls and answers each with the next scripted receipt.
struct Recorder {
    calls: Arc<Mutex<Vec<Value>>>,
    receipts: Vec<String>,
}

impl CapabilityHandler for Recorder {
    fn call(&mut self, event_id: &str, call: CapabilityCall) -> Result<Receipt> {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let index = calls.len();
        calls.push(json!({"capability": call.capability, "event_id": event_id, "args": call.args}));
        let id = format!("fixture-action-{}", index + 1);
        Ok(
            match self
                .receipts
                .get(index)
                .map(String::as_str)
                .unwrap_or("accepted")
            {
                "dry-run" => Receipt::DryRun(id),
                "pending-approval" => Receipt::PendingApproval(id),
                "denied" => Receipt::Denied("denied by the fixture".into()),
                _ => Receipt::Accepted(id),
            },
        )
    }
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
    pub actions: Vec<Value>,
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
    Ok(run_events(runtime, plugin, events, Vec::new())?.0)
}

/// Runs events through a plugin with capabilities recorded (answered with `receipts` in
/// order); returns the findings and the calls made.
///
/// # Errors
/// As for [`findings_for`].
pub fn run_events(
    runtime: &PluginRuntime,
    plugin: &LoadedPlugin,
    events: &[Value],
    receipts: Vec<String>,
) -> Result<(Vec<Finding>, Vec<Value>)> {
    run_events_with_config(runtime, plugin, events, receipts, plugin.settings_json())
}

/// [`run_events`] with the plugin config `settings_json` (JSON object text), routed by the
/// patterns the plugin describes with that config ([`LoadedPlugin::patterns_with_config`]).
///
/// # Errors
/// As for [`findings_for`].
pub fn run_events_with_config(
    runtime: &PluginRuntime,
    plugin: &LoadedPlugin,
    events: &[Value],
    receipts: Vec<String>,
    settings_json: &str,
) -> Result<(Vec<Finding>, Vec<Value>)> {
    // Routed by the patterns the plugin subscribes to with this config, which may differ
    // from those of the admin's config.
    let patterns = plugin
        .patterns_with_config(runtime, settings_json)
        .map_err(|f| {
            anyhow::anyhow!(
                "describe with the fixture's config failed ({}): {}",
                f.kind.as_str(),
                f.message
            )
        })?;
    let router = Router::new([patterns.as_slice()])?;
    let mut batch = Vec::new();
    for event in events {
        for item in normalize_value(event.clone(), &Options::default()) {
            match item {
                Item::Event(event) => {
                    if !router.route_event(&event).is_empty() {
                        batch.push(to_plugin_event(&event, false));
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
        return Ok((Vec::new(), Vec::new()));
    }
    let calls = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder {
        calls: calls.clone(),
        receipts,
    };
    let findings = plugin
        .handle_with_config(
            runtime,
            &batch,
            0,
            Box::new(recorder),
            Arc::from(settings_json),
        )
        .map_err(|f| anyhow::anyhow!("plugin failed ({}): {}", f.kind.as_str(), f.message))?;
    let calls = calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok((findings, calls))
}

/// Runs one fixture and compares what the plugin raised with what the fixture expects, with
/// the fixture's own `config` if it gives one, else the plugin's configured one.
pub fn run(runtime: &PluginRuntime, plugin: &LoadedPlugin, fixture: &Fixture) -> FixtureOutcome {
    run_with_config(runtime, plugin, fixture, plugin.settings_json())
}

/// Runs one fixture with its own `config` if it gives one, else with `default_config` (JSON
/// object text). Shipped fixtures are checked with `{}` at reload: they describe the plugin's
/// defaults, and an admin's thresholds may rightly change what they raise.
pub fn run_with_config(
    runtime: &PluginRuntime,
    plugin: &LoadedPlugin,
    fixture: &Fixture,
    default_config: &str,
) -> FixtureOutcome {
    let config = match &fixture.config {
        Some(config) => Value::Object(config.clone()).to_string(),
        None => default_config.to_string(),
    };
    let receipts = fixture
        .actions
        .iter()
        .flatten()
        .map(|a| a.receipt.clone())
        .collect();
    // Each fixture runs alone, as the reload canary runs it: fresh state and history, so
    // what one fixture saw first is not already seen in the next.
    let alone = match runtime.scratch() {
        Ok(alone) => alone,
        Err(e) => {
            return FixtureOutcome {
                name: fixture.name.clone(),
                findings: Vec::new(),
                actions: Vec::new(),
                differences: vec![format!("{e:#}")],
            }
        }
    };
    let (findings, actions, mut differences) =
        match run_events_with_config(&alone, plugin, &fixture.events, receipts, &config) {
            Ok((findings, actions)) => (
                findings.iter().map(finding_json).collect(),
                actions,
                Vec::new(),
            ),
            Err(e) => (Vec::new(), Vec::new(), vec![format!("{e:#}")]),
        };
    if differences.is_empty() {
        differences = compare(&fixture.findings, &findings);
        if let Some(expected) = &fixture.actions {
            differences.extend(compare_actions(expected, &actions));
        }
    }
    FixtureOutcome {
        name: fixture.name.clone(),
        differences,
        findings,
        actions,
    }
}

/// Capability calls must match in number and order, each by capability and argument subset.
fn compare_actions(expected: &[ExpectedAction], actual: &[Value]) -> Vec<String> {
    let mut differences = Vec::new();
    for (i, want) in expected.iter().enumerate() {
        match actual.get(i) {
            Some(have)
                if have["capability"] == want.capability.as_str()
                    && want.args.iter().all(|(k, v)| subset(v, &have["args"][k])) => {}
            Some(have) => differences.push(format!(
                "- call {} expected {} {}, made {} {}",
                i + 1,
                want.capability,
                Value::Object(want.args.clone()),
                have["capability"],
                have["args"]
            )),
            None => differences.push(format!(
                "- call {} expected, not made: {} {}",
                i + 1,
                want.capability,
                Value::Object(want.args.clone())
            )),
        }
    }
    for (i, have) in actual.iter().enumerate().skip(expected.len()) {
        differences.push(format!(
            "+ call {} made, not expected: {} {}",
            i + 1,
            have["capability"],
            have["args"]
        ));
    }
    differences
}

/// Whether `want` is contained in `have`: objects by key subset, everything else equal.
fn subset(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|hv| subset(v, hv))),
        _ => want == have,
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
            None => differences.push(format!(
                "- expected, not raised: {}",
                Value::Object(want.clone())
            )),
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
        let two = vec![
            subset(json!({"rule_id": "a"})),
            subset(json!({"event_id": "2"})),
        ];
        assert!(compare(&two, &actual).is_empty());
        let wrong = vec![
            subset(json!({"rule_id": "b"})),
            subset(json!({"rule_id": "a"})),
        ];
        let diff = compare(&wrong, &actual);
        assert!(diff[0].starts_with("- expected"), "{diff:?}");
        assert!(diff[1].starts_with("+ raised"), "{diff:?}");
    }
}
