//! Which rules load or are refused, and which rules match given events:
//!
//!   cargo run -p sigma --example explain [events.json|fixture.json|records.jsonl ...]
//!
//! Without files it lists the shipped rule set; with files it prints, per event, the rule
//! ids it raises (for writing fixtures).

use trailwarden_plugin_sdk::serde_json::{self, Value};

fn main() {
    let set = sigma::RuleSet::embedded();
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        for (entry, _) in set.loaded() {
            println!(
                "loaded  {} {} ({})",
                entry.rule_id, entry.rule.meta.title, entry.rule.meta.source
            );
        }
        for (entry, reason) in set.refused() {
            println!(
                "refused {} ({}): {reason}",
                entry.rule_id, entry.rule.meta.source
            );
        }
        println!(
            "{} loaded, {} refused",
            set.loaded().count(),
            set.refused().count()
        );
        return;
    }
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("readable file");
        let inputs: Vec<Value> = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(items)) => items,
            Ok(Value::Object(o)) if o.contains_key("events") => {
                o["events"].as_array().cloned().unwrap_or_default()
            }
            Ok(v) => vec![v],
            Err(_) => text
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .map(|v| v.get("record").or(v.get("event")).cloned().unwrap_or(v))
                .collect(),
        };
        for input in inputs {
            let record = input.get("detail").cloned().unwrap_or(input);
            let event = sigma_event(&record);
            let ids: Vec<String> = set
                .detect(&event)
                .iter()
                .map(|f| format!("{} [{}] {}", f.rule_id, f.severity.as_str(), f.title))
                .collect();
            println!(
                "{} {} {}: {ids:#?}",
                event.id,
                event.source.as_deref().unwrap_or("-"),
                event.name.as_deref().unwrap_or("-")
            );
        }
    }
}

fn sigma_event(record: &Value) -> trailwarden_plugin_sdk::Event {
    let text = |k: &str| record.get(k).and_then(Value::as_str).map(str::to_owned);
    trailwarden_plugin_sdk::Event {
        id: text("eventID").unwrap_or_default(),
        source: text("eventSource"),
        name: text("eventName"),
        raw: record.to_string(),
        ..Default::default()
    }
}
