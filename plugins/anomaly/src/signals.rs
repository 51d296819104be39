//! Signals about other events, raised as they come (no history asked): CloudTrail Insights
//! events (an API's call or error rate far from its baseline, per account and region, with
//! AWS's attributions: top principals, user agents, error codes) and GuardDuty findings
//! delivered through EventBridge. The host normalises both as events of their own kind and
//! routes them only to plugins whose patterns name their detail-type.

use trailwarden_plugin_sdk::json::{at, str_at};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{non_empty, Event, Finding, Severity};

use crate::catalog::{GUARDDUTY_FINDING, INSIGHT};

/// `eventType` of a CloudTrail Insights event.
pub const INSIGHT_EVENT_TYPE: &str = "AwsCloudTrailInsight";
/// `eventType` the host gives a GuardDuty finding.
pub const GUARDDUTY_EVENT_TYPE: &str = "GuardDutyFinding";
/// Attributions kept per attribute (AWS lists the top ones; a hostile record could list more).
const MAX_ATTRIBUTIONS: usize = 5;
/// Longest attribution value kept.
const MAX_VALUE_CHARS: usize = 256;

/// Whether `event` is a signal (then it asks no first-seen or rate question).
pub fn is_signal(event: &Event) -> bool {
    matches!(
        event.event_type.as_deref(),
        Some(INSIGHT_EVENT_TYPE | GUARDDUTY_EVENT_TYPE)
    )
}

/// The finding a signal raises: an Insights event that starts (its `End` closes the same
/// incident, no finding), or a GuardDuty finding.
pub fn finding(event: &Event) -> Option<Finding> {
    match event.event_type.as_deref() {
        Some(INSIGHT_EVENT_TYPE) => insight(event),
        Some(GUARDDUTY_EVENT_TYPE) => guardduty(event),
        _ => None,
    }
}

fn insight(event: &Event) -> Option<Finding> {
    let raw = event.raw_json()?;
    let details = at(&raw, &["insightDetails"])?;
    if str_at(details, &["state"]) != Some("Start") {
        return None;
    }
    let source = str_at(details, &["eventSource"]).unwrap_or("unknown-service");
    let service = source.strip_suffix(".amazonaws.com").unwrap_or(source);
    let name = str_at(details, &["eventName"]).unwrap_or("unknown-api");
    let insight_type = str_at(details, &["insightType"]).unwrap_or("ApiCallRateInsight");
    let what = if insight_type == "ApiErrorRateInsight" {
        "error rate"
    } else {
        "call rate"
    };
    let statistics = at(details, &["insightContext", "statistics"]);
    let average = |which: &str| {
        statistics
            .and_then(|s| at(s, &[which, "average"]))
            .and_then(Value::as_f64)
    };
    let attributions = attributions(at(details, &["insightContext", "attributions"]));
    let principals: Vec<String> = attributions
        .get("userIdentityArn")
        .cloned()
        .unwrap_or_default();
    let account = event.account_or_unknown();
    let region = event.region.as_deref().unwrap_or("unknown");
    let rate = match (average("insight"), average("baseline")) {
        (Some(now), Some(usual)) => {
            format!(": {now:.2} a minute against a baseline of {usual:.4}")
        }
        _ => String::new(),
    };
    let top = if principals.is_empty() {
        String::new()
    } else {
        format!(" Top principals: {}.", principals.join(", "))
    };
    Some(Finding {
        rule_id: INSIGHT.to_owned(),
        severity: Severity::Medium,
        title: format!("CloudTrail Insights: unusual {what} of {service}:{name} in {account} {region}"),
        description: format!(
            "CloudTrail Insights saw the {what} of {service}:{name} in account {account}, region \
             {region}, far from its baseline{rate}.{top}"
        ),
        resources: if principals.is_empty() {
            vec![format!("{service}:{name}")]
        } else {
            principals
        },
        // The Start and End of one insight share `sharedEventID`.
        dedup_key: format!(
            "{INSIGHT}|{}",
            str_at(&raw, &["sharedEventID"]).unwrap_or(&event.id)
        ),
        event_id: event.id.clone(),
        context: json!({
            "insight_type": insight_type,
            "api": format!("{service}:{name}"),
            "insight_average": average("insight"),
            "baseline_average": average("baseline"),
            "insight_duration_minutes": statistics.and_then(|s| s.get("insightDuration")).and_then(Value::as_u64),
            "top_principals": attributions.get("userIdentityArn"),
            "top_user_agents": attributions.get("userAgent"),
            "top_error_codes": attributions.get("errorCode"),
        })
        .to_string(),
    })
}

/// Attribute -> its values during the insight, highest average first, bounded.
fn attributions(list: Option<&Value>) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out = std::collections::BTreeMap::new();
    for attribution in list.and_then(Value::as_array).into_iter().flatten() {
        let Some(attribute) = str_at(attribution, &["attribute"]) else {
            continue;
        };
        let mut values: Vec<(f64, String)> = attribution
            .get("insight")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| {
                let value = non_empty(str_at(v, &["value"]))?;
                let average = v.get("average").and_then(Value::as_f64).unwrap_or(0.0);
                Some((average, value.chars().take(MAX_VALUE_CHARS).collect()))
            })
            .collect();
        values.sort_by(|a, b| b.0.total_cmp(&a.0));
        values.truncate(MAX_ATTRIBUTIONS);
        out.insert(
            attribute.chars().take(64).collect(),
            values.into_iter().map(|(_, v)| v).collect(),
        );
    }
    out
}

/// GuardDuty's severity (1.0 to 10.0) on our scale: 7-8.9 high, 9 and over critical, as
/// GuardDuty names them.
fn guardduty_severity(score: Option<f64>) -> Severity {
    match score {
        Some(s) if s >= 9.0 => Severity::Critical,
        Some(s) if s >= 7.0 => Severity::High,
        Some(s) if s >= 4.0 => Severity::Medium,
        Some(_) => Severity::Low,
        None => Severity::Medium,
    }
}

fn guardduty(event: &Event) -> Option<Finding> {
    let raw = event.raw_json()?;
    let kind = non_empty(event.name.as_deref()).unwrap_or("unknown finding type");
    let title = str_at(&raw, &["title"]).unwrap_or(kind);
    let account = event.account_or_unknown();
    let region = event.region.as_deref().unwrap_or("unknown");
    let mut resources = Vec::new();
    if let Some(user) = non_empty(event.principal.user_name.as_deref()) {
        resources.push(format!("{account}:{user}"));
    }
    if let Some(key) = non_empty(event.principal.access_key_id.as_deref()) {
        resources.push(key.to_owned());
    }
    if let Some(instance) = str_at(&raw, &["resource", "instanceDetails", "instanceId"]) {
        resources.push(instance.to_owned());
    }
    let count = at(&raw, &["service", "count"]).and_then(Value::as_u64);
    Some(Finding {
        rule_id: GUARDDUTY_FINDING.to_owned(),
        severity: guardduty_severity(raw.get("severity").and_then(Value::as_f64)),
        title: format!("GuardDuty: {title}"),
        description: format!(
            "GuardDuty reported {kind} in account {account}, region {region}: {}",
            str_at(&raw, &["description"]).unwrap_or(title)
        ),
        resources,
        // GuardDuty sends the same finding again as it recurs (its count grows).
        dedup_key: format!("{GUARDDUTY_FINDING}|{}", event.id),
        event_id: event.id.clone(),
        context: json!({
            "type": kind,
            "severity": raw.get("severity"),
            "count": count,
            "source_ip": event.source_ip,
            "api": str_at(&raw, &["service", "action", "awsApiCallAction", "api"]),
        })
        .to_string(),
    })
}
