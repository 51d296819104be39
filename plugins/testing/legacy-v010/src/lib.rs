//! Test guest, not a shipped plugin: a detector of the contract's first version,
//! `trailwarden:plugin/detector@0.1.0` (`wit/plugin.wit`), bound with its own
//! `wit_bindgen::generate!` rather than through the sdk (which binds 0.2.0), so that the host
//! can test that it still loads 0.1.0 components.
//!
//! It raises [`RULE_ID`] (info) for every event whose `eventName` is `ListBuckets`, and
//! imports nothing from the host but what Rust's std needs from WASI.

/// The rule id of its findings.
pub const RULE_ID: &str = "test.legacy";

/// The EventBridge pattern it subscribes to.
pub const PATTERN: &str = r#"{"detail":{"eventName":["ListBuckets"]}}"#;

/// Whether an event with this `eventName` raises a finding.
pub fn raises(event_name: Option<&str>) -> bool {
    event_name == Some("ListBuckets")
}

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        world: "detector",
        path: "../../../wit/plugin.wit",
    });

    use trailwarden::plugin::types::Severity;

    struct Legacy;

    impl Guest for Legacy {
        fn describe() -> Descriptor {
            Descriptor {
                name: env!("CARGO_PKG_NAME").to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                patterns: vec![super::PATTERN.to_owned()],
                capabilities: Vec::new(),
            }
        }

        fn handle(events: Vec<Event>) -> Result<Vec<Finding>, PluginError> {
            Ok(events
                .into_iter()
                .filter(|e| super::raises(e.name.as_deref()))
                .map(|e| {
                    let who = e.principal.arn.unwrap_or_else(|| "an unknown principal".into());
                    Finding {
                        rule_id: super::RULE_ID.to_owned(),
                        severity: Severity::Info,
                        title: format!("ListBuckets by {who}"),
                        description: format!(
                            "{who} listed the S3 buckets (event {}). Raised by the 0.1.0 test guest.",
                            e.id
                        ),
                        resources: Vec::new(),
                        dedup_key: format!("{}:{}", super::RULE_ID, e.id),
                        event_id: e.id,
                        context: "{}".to_owned(),
                    }
                })
                .collect())
        }
    }

    export!(Legacy);
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_list_buckets() {
        assert!(super::raises(Some("ListBuckets")));
        assert!(!super::raises(Some("ListObjects")));
        assert!(!super::raises(None));
    }
}
