//! The events a fixture hands a plugin: what the host's pipeline would hand it.

use cloudtrail_normalize::{normalize_value, Item, NormalizedEvent, Options};
use event_pattern::{Pattern, PatternSet};
use serde_json::Value;

/// Normalises each input of a fixture as the host does (any shape it reads, the same hot
/// fields and synthetic ids), skips what the host skips (Insights, digests), and keeps the
/// events the plugin's `patterns` route to it, in order (with `None`, every event: for
/// a bare detection function that has no patterns).
///
/// # Errors
/// An input the host rejects (with its reason), or a pattern that does not parse.
pub fn fixture_events(
    inputs: &[Value],
    patterns: Option<&[String]>,
) -> Result<Vec<NormalizedEvent>, String> {
    let mut set = PatternSet::new();
    for (id, text) in patterns.unwrap_or_default().iter().enumerate() {
        let pattern = Pattern::parse(text).map_err(|e| format!("invalid pattern {text}: {e}"))?;
        set.add(id as u32, &pattern);
    }
    let mut events = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        for item in normalize_value(input.clone(), &Options::default()) {
            match item {
                Item::Event(event) => {
                    let routed = patterns.is_none()
                        || event.with_envelope_fields(|fields| {
                            !set.matching_ids_in_fields(fields).is_empty()
                        });
                    if routed {
                        events.push(event);
                    }
                }
                Item::Skipped { .. } => {}
                Item::Rejected { reason, detail, .. } => {
                    return Err(format!(
                        "fixture event {} rejected ({}): {detail}",
                        i + 1,
                        reason.as_str()
                    ))
                }
            }
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_are_normalised_and_routed_as_the_host_does() {
        let root = json!({"eventID": "r", "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin", "userIdentity": {"type": "Root"}});
        let user = json!({"eventID": "u", "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin", "userIdentity": {"type": "IAMUser"}});
        let envelope = json!({"version": "0", "detail-type": "AWS Console Sign In via CloudTrail",
            "source": "aws.signin", "detail": {"eventName": "ConsoleLogin", "userIdentity": {"type": "Root"}}});
        let patterns = vec![r#"{"detail":{"userIdentity":{"type":["Root"]}}}"#.to_owned()];
        let events =
            fixture_events(&[root.clone(), user, envelope.clone()], Some(&patterns)).unwrap();
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids[0], "r");
        assert_eq!(ids.len(), 2, "the IAM user's login is not routed: {ids:?}");
        assert_eq!(ids[1], crate::synthetic_event_id(&envelope["detail"]));
        assert!(fixture_events(&[json!("not a record")], Some(&patterns)).is_err());
        assert_eq!(fixture_events(&[root], None).unwrap().len(), 1);
        assert!(fixture_events(&[], Some(&["{".to_owned()])).is_err());
    }
}
