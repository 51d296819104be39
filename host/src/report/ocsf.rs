//! Findings as OCSF 1.3 Detection Findings (class 2004, category 2 Findings).
//!
//! The required attributes of the class (from the base event and the finding category)
//! are always set: `activity_id`, `category_uid`, `class_uid`, `type_uid`, `time`,
//! `severity_id`, `metadata` (`product`, `version`) and `finding_info` (`uid`). The test
//! checks them against the schema excerpt in `docs/ocsf/detection_finding_2004.json`.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::attack;
use super::queries::FindingFacts;

/// The OCSF schema version the output follows.
pub const OCSF_VERSION: &str = "1.3.0";
pub const CLASS_UID: u32 = 2004;
pub const CATEGORY_UID: u32 = 2;
/// Activity 1: Create.
pub const ACTIVITY_CREATE: u32 = 1;

/// A stable id for a finding: the audit store's uniqueness key, hashed.
pub fn finding_uid(facts: &FindingFacts) -> String {
    let f = &facts.finding;
    let mut hasher = Sha256::new();
    for part in [&f.plugin_sha256, &f.rule_id, &f.event_id, &f.dedup_key] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    format!("trailwarden-{}", &hex::encode(hasher.finalize())[..32])
}

/// OCSF `severity_id` and its caption for our severity names.
pub fn severity(severity: &str) -> (u32, &'static str) {
    match severity.to_ascii_lowercase().as_str() {
        "info" | "informational" => (1, "Informational"),
        "low" => (2, "Low"),
        "medium" => (3, "Medium"),
        "high" => (4, "High"),
        "critical" => (5, "Critical"),
        _ => (0, "Unknown"),
    }
}

/// Milliseconds since the epoch of an RFC 3339 time.
pub fn epoch_ms(time: &str) -> Option<i64> {
    let at = humantime::parse_rfc3339_weak(time.trim_end_matches('Z'))
        .or_else(|_| humantime::parse_rfc3339(time))
        .ok()?;
    Some(at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as i64)
}

/// ATT&CK objects for a rule's techniques: one per (technique, tactic).
fn attacks(techniques: &[String]) -> Vec<Value> {
    let mut out = Vec::new();
    for id in techniques {
        match attack::technique(id) {
            Some((name, tactics)) => {
                for short in tactics {
                    let (tactic_uid, tactic_name) = attack::tactic(short).unwrap_or(("", short));
                    let mut tactic = json!({"name": tactic_name});
                    if !tactic_uid.is_empty() {
                        tactic["uid"] = json!(tactic_uid);
                    }
                    out.push(json!({
                        "technique": {"uid": id, "name": name},
                        "tactic": tactic,
                    }));
                }
            }
            None => out.push(json!({"technique": {"uid": id}})),
        }
    }
    out
}

/// `arn:partition:service:region:account:resource` -> its parts, if it is an ARN.
fn arn_parts(arn: &str) -> Option<[&str; 4]> {
    let mut parts = arn.strip_prefix("arn:")?.splitn(5, ':');
    Some([parts.next()?, parts.next()?, parts.next()?, parts.next()?])
}

/// One finding as an OCSF Detection Finding. `techniques` maps rule ids to their ATT&CK
/// technique ids (from the loaded rule catalogs; empty when unknown).
pub fn detection_finding(facts: &FindingFacts, techniques: &HashMap<String, Vec<String>>) -> Value {
    let f = &facts.finding;
    let (severity_id, severity_name) = severity(&f.severity);
    let uid = finding_uid(facts);
    let recorded = epoch_ms(&f.recorded_at).unwrap_or(0);
    let event_time = f.event_time.as_deref().and_then(epoch_ms);
    let mut finding_info = json!({
        "uid": uid,
        "title": f.title,
        "desc": f.description,
        "analytic": {"uid": f.rule_id, "name": f.rule_id, "type_id": 1, "type": "Rule"},
        "created_time": recorded,
        "types": ["AWS CloudTrail"],
        "data_sources": ["AWS CloudTrail"],
        "related_events": [{"uid": f.event_id}],
    });
    if let Some(at) = event_time {
        finding_info["first_seen_time"] = json!(at);
        finding_info["last_seen_time"] = json!(at);
    }
    let rule_attacks = attacks(techniques.get(&f.rule_id).map_or(&[][..], Vec::as_slice));
    if !rule_attacks.is_empty() {
        finding_info["attacks"] = Value::Array(rule_attacks);
    }
    let resources: Vec<Value> = f
        .resources
        .iter()
        .map(|arn| {
            let mut resource = json!({"uid": arn});
            if let Some([partition, service, region, account]) = arn_parts(arn) {
                resource["cloud_partition"] = json!(partition);
                resource["type"] = json!(service);
                if !region.is_empty() {
                    resource["region"] = json!(region);
                }
                if !account.is_empty() {
                    resource["owner"] = json!({"account": {"uid": account}});
                }
            }
            resource
        })
        .collect();
    let mut cloud = json!({"provider": "AWS"});
    if let Some(region) = &facts.region {
        cloud["region"] = json!(region);
    }
    if let Some(account) = &facts.account {
        cloud["account"] = json!({"uid": account, "type": "AWS Account", "type_id": 10});
    }
    let mut evidence = Map::new();
    if let Some(name) = &facts.event_name {
        let mut api = json!({"operation": name});
        if let Some(source) = &facts.event_source {
            api["service"] = json!({"name": source});
        }
        evidence.insert("api".into(), api);
    }
    if let Some(ip) = &facts.source_ip {
        let endpoint = if ip.parse::<IpAddr>().is_ok() {
            json!({"ip": ip})
        } else {
            // `sourceIPAddress` can be a service host name or "AWS Internal".
            json!({"domain": ip})
        };
        evidence.insert("src_endpoint".into(), endpoint);
    }
    if let Some(principal) = &facts.principal {
        evidence.insert("actor".into(), json!({"user": {"uid": principal}}));
    }
    // The event's facts the rule kept: the audit store holds these, not the raw event.
    evidence.insert("data".into(), f.context.value().clone());
    let mut out = json!({
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Detection Finding: Create",
        "time": recorded,
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": 1,
        "status": "New",
        "is_alert": true,
        "message": f.title,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": uid,
            "product": {
                "name": "trailwarden",
                "vendor_name": "trailwarden",
                "version": env!("CARGO_PKG_VERSION"),
                "feature": {"name": f.plugin, "version": f.plugin_version, "uid": f.plugin_sha256},
            },
            "log_name": "findings",
            "log_provider": "trailwarden",
        },
        "finding_info": finding_info,
        "cloud": cloud,
        "evidences": [Value::Object(evidence)],
        "unmapped": {"event_id": f.event_id, "dedup_key": f.dedup_key},
    });
    if !resources.is_empty() {
        out["resources"] = Value::Array(resources);
    }
    if let Some(principal) = &facts.principal {
        out["actor"] = json!({"user": {"uid": principal}});
    }
    if let Some(at) = event_time {
        out["start_time"] = json!(at);
        out["end_time"] = json!(at);
    }
    out
}
