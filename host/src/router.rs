//! Routing: which plugins an event goes to, decided by one pass over all subscriptions.

use anyhow::Result;
use cloudtrail_normalize::NormalizedEvent;
use event_pattern::{Pattern, PatternSet};

/// Every plugin's EventBridge patterns in one [`PatternSet`].
pub struct Router {
    set: PatternSet,
    /// Pattern id -> index of the plugin that owns it.
    owner: Vec<usize>,
    /// Pattern id -> the detail-types it requires by name, if it does: a signal (an
    /// Insights event, a GuardDuty finding) is matched only by patterns that name its
    /// detail-type, so a plugin written for API calls (`{"detail": {"eventName": ...}}`, or
    /// every event) never receives one by accident.
    detail_types: Vec<Option<Vec<String>>>,
    plugin_count: usize,
}

impl Router {
    /// Builds the router from each plugin's pattern texts, in plugin order.
    ///
    /// # Errors
    /// A pattern is invalid (it names the plugin index and the reason).
    pub fn new<'a>(plugins: impl IntoIterator<Item = &'a [String]>) -> Result<Router> {
        let mut set = PatternSet::new();
        let mut owner = Vec::new();
        let mut detail_types = Vec::new();
        let mut plugin_count = 0;
        for (plugin, patterns) in plugins.into_iter().enumerate() {
            plugin_count += 1;
            for text in patterns {
                let pattern = Pattern::parse(text).map_err(|e| {
                    anyhow::anyhow!("plugin #{plugin}: invalid pattern {text}: {e}")
                })?;
                set.add(owner.len() as u32, &pattern);
                owner.push(plugin);
                detail_types.push(pattern.required_strings("detail-type"));
            }
        }
        Ok(Router {
            set,
            owner,
            detail_types,
            plugin_count,
        })
    }

    /// The indices of the plugins whose patterns match `envelope`, ascending, each once.
    pub fn route(&self, envelope: &serde_json::Value) -> Vec<usize> {
        self.owners(self.set.matching_ids(envelope))
    }

    /// [`Router::route`] for a normalised event's envelope, matched as a view (the record
    /// stands in for `detail`) rather than a rebuilt copy.
    /// A signal ([`NormalizedEvent::is_signal`]) goes only to plugins with a matching pattern
    /// that names its detail-type.
    pub fn route_event(&self, event: &NormalizedEvent) -> Vec<usize> {
        let mut ids = event.with_envelope_fields(|fields| self.set.matching_ids_in_fields(fields));
        if event.is_signal() {
            ids.retain(|&id| {
                self.detail_types[id as usize]
                    .as_ref()
                    .is_some_and(|types| types.contains(&event.detail_type))
            });
        }
        self.owners(ids)
    }

    fn owners(&self, pattern_ids: Vec<u32>) -> Vec<usize> {
        let mut hit = vec![false; self.plugin_count];
        for id in pattern_ids {
            hit[self.owner[id as usize]] = true;
        }
        hit.iter()
            .enumerate()
            .filter_map(|(plugin, &matched)| matched.then_some(plugin))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_go_only_to_the_plugins_whose_patterns_match() {
        let root = vec![r#"{"detail":{"userIdentity":{"type":["Root"]}}}"#.to_string()];
        let trail = vec![
            r#"{"source":["aws.cloudtrail"]}"#.to_string(),
            r#"{"detail":{"eventName":["StopLogging"]}}"#.to_string(),
        ];
        let router = Router::new([root.as_slice(), trail.as_slice()]).unwrap();
        let event = json!({"source": "aws.cloudtrail",
            "detail": {"eventName": "StopLogging", "userIdentity": {"type": "Root"}}});
        assert_eq!(router.route(&event), vec![0, 1]);
        let event = json!({"source": "aws.iam", "detail": {"userIdentity": {"type": "IAMUser"}}});
        assert!(router.route(&event).is_empty());
    }

    #[test]
    fn signals_go_only_to_plugins_that_name_their_detail_type() {
        let everything = vec![r#"{"detail":{"eventVersion":[{"exists":true}]}}"#.to_string()];
        let insights = vec![r#"{"detail-type":["AWS Insight via CloudTrail"]}"#.to_string()];
        let router = Router::new([everything.as_slice(), insights.as_slice()]).unwrap();
        let insight = cloudtrail_normalize::normalize_value(
            json!({"eventVersion": "1.07", "eventType": "AwsCloudTrailInsight",
                "eventCategory": "Insight", "insightDetails": {"state": "Start"}}),
            &cloudtrail_normalize::Options::default(),
        );
        let insight = insight[0]
            .as_event()
            .expect("an Insights event is an event");
        assert!(insight.is_signal());
        assert_eq!(router.route_event(insight), vec![1]);
        let call = cloudtrail_normalize::normalize_value(
            json!({"eventVersion": "1.08", "eventName": "ListUsers"}),
            &cloudtrail_normalize::Options::default(),
        );
        assert_eq!(router.route_event(call[0].as_event().unwrap()), vec![0]);
    }

    #[test]
    fn an_invalid_pattern_is_refused() {
        let bad = vec![r#"{"detail":"not-an-array"}"#.to_string()];
        assert!(Router::new([bad.as_slice()]).is_err());
    }
}
