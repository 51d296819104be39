//! `anomaly`: what a principal never did before and rates it never had, on the host's
//! first-seen history (WIT 0.4.0 `history`, Elastic's `new_terms`) and rate baselines (WIT
//! 0.5.0 `baseline`, CloudTrail Insights' idea per principal).
//!
//! The rules, their tuples or keys, and their windows are in [`catalog`] (and
//! `docs/plugins.md`); what each event asks is in [`questions`]. CloudTrail Insights events
//! and GuardDuty findings raise findings of their own ([`signals`]). Time is the host's event
//! clock, so a replay of old logs learns as the live stream did.

pub mod catalog;
pub mod questions;
pub mod settings;
pub mod signals;

use trailwarden_plugin_sdk::capability::NOTIFY_SEND;
use trailwarden_plugin_sdk::serde_json::json;
use trailwarden_plugin_sdk::{
    log, strings, Baseline, Batch, Descriptor, Event, Finding, History, RateQuery, SeenQuery,
    Severity,
};

pub use catalog::*;
pub use questions::{network, user_agent_family, Ask, Question};
pub use settings::Settings;

/// The capabilities it may call.
pub const CAPABILITIES: &[&str] = &[NOTIFY_SEND];

/// Name, version, patterns (narrow: see [`questions::PATTERNS`]) and fixtures.
pub fn descriptor() -> Descriptor {
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: questions::patterns(),
        capabilities: strings(CAPABILITIES),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "first-iam-write.json",
            "console-signin-networks.json",
            "learning-period.json",
            "sensitive-first-call.json",
            "access-key-new-network.json",
            "new-user-agent-family.json",
            "new-region.json",
            "new-service.json",
            "role-chain.json",
            "call-burst.json",
            "error-burst.json",
            "signin-failure-burst.json",
            "secrets-burst.json",
            "insights.json",
            "guardduty.json",
        ],
        self_caused_events: false,
    }
}

/// The findings for one event: a CloudTrail Insights event or GuardDuty finding raises its
/// own ([`signals`]); any other asks its [`questions`] of the history and the baselines.
pub fn detect(event: &Event, batch: &Batch<Settings>) -> Vec<Finding> {
    let settings = &batch.settings;
    if signals::is_signal(event) {
        return signals::finding(event)
            .filter(|f| settings.enabled(&f.rule_id))
            .into_iter()
            .collect();
    }
    questions::questions(event, settings)
        .iter()
        .filter_map(|question| ask(event, question, settings, batch.history, batch.baseline))
        .collect()
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: asks its history and its baselines, and notifies each finding (its paired
    /// response: first-seen findings come once per tuple and window, bursts once per incident,
    /// so no notify window is needed).
    Anomaly {
        capabilities: CAPABILITIES,
        history: true,
        baseline: true,
        describe: descriptor,
        rules: |config| catalog::rules(&Settings::from_config(config)),
        settings: Settings::from_config,
        detect_with: detect,
        respond: trailwarden_plugin_sdk::notify,
    }
);

/// Asks the host one question; the finding when the answer is new (first-seen) or the start
/// of a burst (rate). One unanswerable question (over the limits, the account quota) costs
/// only its own detection, and is logged.
fn ask(
    event: &Event,
    question: &Question,
    settings: &Settings,
    history: &dyn History,
    baseline: &dyn Baseline,
) -> Option<Finding> {
    let account = event.account_or_principal_account().unwrap_or("");
    let values: Vec<&str> = question.values.iter().map(String::as_str).collect();
    let context = match question.ask {
        Ask::Seen => {
            let seen = history.first_seen(&SeenQuery {
                account,
                rule: question.rule,
                values: &values,
                window_seconds: settings.window_seconds(),
                learning_seconds: settings.learning_seconds(),
            });
            match seen {
                Ok(seen) if seen.new => json!({
                    "tuple": question.values,
                    "window_days": settings.window_days,
                    "learning_days": settings.learning_days,
                }),
                Ok(_) => return None,
                Err(error) => {
                    log::warn(&format!("event {}: {error}", event.id));
                    return None;
                }
            }
        }
        Ask::Rate { min_count } => {
            let rate = baseline.rate(&RateQuery {
                account,
                rule: question.rule,
                key: &values,
                history_seconds: settings.rate_history_seconds(),
                learning_seconds: settings.rate_learning_seconds(),
                threshold: settings.rate_threshold,
                min_count,
            });
            match rate {
                Ok(rate) if rate.burst_start => json!({
                    "key": question.values,
                    "count_this_minute": rate.count,
                    "mean_per_minute": rate.mean,
                    "deviation": rate.deviation,
                    "score": rate.score,
                    "threshold": settings.rate_threshold,
                    "min_count": min_count,
                    "history_days": settings.rate_history_days,
                }),
                Ok(_) => return None,
                Err(error) => {
                    log::warn(&format!("event {}: {error}", event.id));
                    return None;
                }
            }
        }
    };
    Some(finding(event, question, context))
}

fn finding(
    event: &Event,
    question: &Question,
    context: trailwarden_plugin_sdk::serde_json::Value,
) -> Finding {
    let principal = &question.values[0];
    let (severity, title, what) = catalog::describe_finding(question.rule, &question.values);
    let description = format!("{} {what} ({}).", event.actor(), event.origin());
    // A first-seen tuple is one incident for good; a burst is one per minute it started in.
    let dedup_key = match question.ask {
        Ask::Seen => format!("{}|{}", question.rule, question.values.join("|")),
        Ask::Rate { .. } => format!(
            "{}|{}|{}",
            question.rule,
            question.values.join("|"),
            event
                .time
                .as_deref()
                .map_or("", |t| t.get(..16).unwrap_or(t))
        ),
    };
    Finding {
        rule_id: question.rule.to_owned(),
        severity: severity.unwrap_or(Severity::Medium),
        title: format!("{principal}: {title}"),
        description,
        resources: vec![principal.clone()],
        dedup_key,
        event_id: event.id.clone(),
        context: context.to_string(),
    }
}
