//! Routing: which plugins an event goes to, decided by one pass over all subscriptions.

use anyhow::Result;
use cloudtrail_normalize::NormalizedEvent;
use event_pattern::{Pattern, PatternSet};

/// Every plugin's EventBridge patterns in one [`PatternSet`].
pub struct Router {
    set: PatternSet,
    /// Pattern id -> index of the plugin that owns it.
    owner: Vec<usize>,
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
        let mut plugin_count = 0;
        for (plugin, patterns) in plugins.into_iter().enumerate() {
            plugin_count += 1;
            for text in patterns {
                let pattern = Pattern::parse(text).map_err(|e| {
                    anyhow::anyhow!("plugin #{plugin}: invalid pattern {text}: {e}")
                })?;
                set.add(owner.len() as u32, &pattern);
                owner.push(plugin);
            }
        }
        Ok(Router {
            set,
            owner,
            plugin_count,
        })
    }

    /// The indices of the plugins whose patterns match `envelope`, ascending, each once.
    pub fn route(&self, envelope: &serde_json::Value) -> Vec<usize> {
        self.owners(self.set.matching_ids(envelope))
    }

    /// [`Router::route`] for a normalised event's envelope, matched as a view (the record
    /// stands in for `detail`) rather than a rebuilt copy.
    pub fn route_event(&self, event: &NormalizedEvent) -> Vec<usize> {
        self.owners(event.with_envelope_fields(|fields| self.set.matching_ids_in_fields(fields)))
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
    fn an_invalid_pattern_is_refused() {
        let bad = vec![r#"{"detail":"not-an-array"}"#.to_string()];
        assert!(Router::new([bad.as_slice()]).is_err());
    }
}
