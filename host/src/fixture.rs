//! Plugin fixtures run through the real host (normalise, route by the plugin's patterns, run
//! the component, capabilities recorded, never executed).
//!
//! The format and its meaning (keys, receipts, which events the plugin is handed, how
//! expected findings and calls are matched) are the `fixture-spec` crate's, which the plugin
//! SDK's native tests use too, so a fixture passes `cargo test` exactly when it passes
//! `trailwarden test` and the reload canary. This module only runs the component.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
pub use fixture_spec::Fixture;
use fixture_spec::ReceiptKind;
use serde_json::{json, Value};

use crate::plugin_event::to_plugin_event;
use crate::respond::grants::CAPABILITIES;
use crate::runtime::{
    CapabilityCall, CapabilityHandler, Finding, LoadedPlugin, PluginRuntime, Receipt,
};

/// Parses a fixture's text (see `fixture-spec`): unknown keys, capabilities and receipts
/// are refused.
///
/// # Errors
/// What is wrong with it.
pub fn parse(text: &str) -> Result<Fixture> {
    fixture_spec::parse(text, &CAPABILITIES).map_err(|e| anyhow::anyhow!(e))
}

/// Reads and parses a fixture file.
///
/// # Errors
/// The file cannot be read or is not a fixture.
pub fn load(path: &Path) -> Result<Fixture> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read fixture {}", path.display()))?;
    parse(&text).with_context(|| format!("invalid fixture {}", path.display()))
}

/// Records capability calls and answers each with the next scripted receipt.
struct Recorder {
    calls: Arc<Mutex<Vec<Value>>>,
    receipts: Vec<ReceiptKind>,
}

impl CapabilityHandler for Recorder {
    fn call(&mut self, event_id: &str, call: CapabilityCall) -> Result<Receipt> {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let index = calls.len();
        calls.push(
            json!({"capability": call.capability(), "event_id": event_id, "args": call.args()}),
        );
        let id = fixture_spec::receipt_id(index + 1);
        Ok(
            match self.receipts.get(index).copied().unwrap_or_default() {
                ReceiptKind::Accepted => Receipt::Accepted(id),
                ReceiptKind::DryRun => Receipt::DryRun(id),
                ReceiptKind::PendingApproval => Receipt::PendingApproval(id),
                ReceiptKind::Denied => Receipt::Denied(fixture_spec::DENIED_BY_FIXTURE.into()),
            },
        )
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
    fixture_spec::finding_value(
        &finding.rule_id,
        finding.severity.as_str(),
        &finding.title,
        &finding.description,
        &finding.resources,
        &finding.dedup_key,
        &finding.event_id,
        &finding.context,
    )
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
    receipts: Vec<ReceiptKind>,
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
    receipts: Vec<ReceiptKind>,
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
    let batch: Vec<_> = fixture_spec::fixture_events(events, Some(&patterns))
        .map_err(|e| anyhow::anyhow!(e))?
        .iter()
        .map(|event| to_plugin_event(event, false))
        .collect();
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
    let receipts = fixture.receipts();
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
        differences = fixture_spec::compare_findings(&fixture.findings, &findings);
        if let Some(expected) = &fixture.actions {
            let made: Vec<(String, Value)> = actions
                .iter()
                .map(|call| {
                    let capability = call["capability"].as_str().unwrap_or_default();
                    (capability.to_owned(), call["args"].clone())
                })
                .collect();
            differences.extend(fixture_spec::compare_actions(expected, &made));
        }
    }
    FixtureOutcome {
        name: fixture.name.clone(),
        differences,
        findings,
        actions,
    }
}
